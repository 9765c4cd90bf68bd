//! WebSocket behaviour over real sockets, in the manner of the Autobahn|Testsuite cases that
//! depend on how bytes arrive: frames chopped into single bytes with control frames in between,
//! fail-fast UTF-8 before the rest of a frame is sent, payload length forms, large messages.

mod common;

use common::{TestServer, WsClient, WsEcho, WsEv, masked_frame};
use pushwire::Limits;
use pushwire::ws::OpCode;
use std::io::Write;
use std::time::{Duration, Instant};

fn server() -> TestServer<()> {
    let limits = Limits {
        write_queue_bytes: 64 << 20,
        ..Limits::default()
    };
    TestServer::start(WsEcho, limits, 1)
}

#[test]
fn case_1_payload_length_forms_are_echoed() {
    let s = server();
    let mut ws = WsClient::connect(s.addr, "/");
    for len in [0usize, 125, 126, 127, 128, 65535, 65536] {
        let text = "*".repeat(len);
        ws.send_text(&text);
        assert_eq!(ws.recv(), Some(WsEv::Text(text)), "length {len}");
        let bin = vec![0xfeu8; len];
        ws.send_binary(&bin);
        assert_eq!(ws.recv(), Some(WsEv::Binary(bin)), "length {len}");
    }
}

#[test]
fn case_5_chopped_fragments_with_pings_between() {
    let s = server();
    let mut ws = WsClient::connect(s.addr, "/");
    let mut wire = masked_frame(false, 0, OpCode::Text, b"fragment1");
    wire.extend(masked_frame(true, 0, OpCode::Ping, b"ping between"));
    wire.extend(masked_frame(false, 0, OpCode::Continuation, b"fragment2"));
    wire.extend(masked_frame(true, 0, OpCode::Continuation, b"fragment3"));
    // One byte at a time, each read by the server before the next is sent.
    for byte in wire {
        let io = s.handle.io_stats();
        let before = io.reads - io.reads_would_block;
        ws.stream.write_all(&[byte]).unwrap();
        common::wait_for(|| {
            let io = s.handle.io_stats();
            io.reads - io.reads_would_block > before
        });
    }
    assert_eq!(ws.recv(), Some(WsEv::Pong(b"ping between".to_vec())));
    assert_eq!(
        ws.recv(),
        Some(WsEv::Text("fragment1fragment2fragment3".into()))
    );
}

#[test]
fn case_6_invalid_utf8_fails_fast_before_the_frame_ends() {
    let s = server();
    let mut ws = WsClient::connect(s.addr, "/");
    // A 30-byte text frame whose 5th byte can never be UTF-8; only 12 payload bytes are sent.
    let payload = b"abcd\xf5\x80\x80\x80efghijklmnopqrstuvwxyz";
    let full = masked_frame(true, 0, OpCode::Text, payload);
    ws.stream.write_all(&full[..6 + 12]).unwrap();
    let started = Instant::now();
    ws.expect_close(1007);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the server waited for the rest"
    );
}

#[test]
fn case_2_ping_over_125_bytes_closes_1002() {
    let s = server();
    let mut ws = WsClient::connect(s.addr, "/");
    ws.stream
        .write_all(&masked_frame(true, 0, OpCode::Ping, &[0; 126]))
        .unwrap();
    ws.expect_close(1002);
}

#[test]
fn case_3_reserved_bits_close_1002() {
    for rsv in 1..8u8 {
        let s = server();
        let mut ws = WsClient::connect(s.addr, "/");
        ws.stream
            .write_all(&masked_frame(true, rsv, OpCode::Text, b"rsv"))
            .unwrap();
        ws.expect_close(1002);
    }
}

#[test]
fn case_7_close_with_invalid_code_closes_1002_and_valid_is_echoed() {
    let s = server();
    let mut ws = WsClient::connect(s.addr, "/");
    ws.stream
        .write_all(&masked_frame(
            true,
            0,
            OpCode::Close,
            &1005u16.to_be_bytes(),
        ))
        .unwrap();
    ws.expect_close(1002);
    let mut ws = WsClient::connect(s.addr, "/");
    ws.stream
        .write_all(&masked_frame(
            true,
            0,
            OpCode::Close,
            &3999u16.to_be_bytes(),
        ))
        .unwrap();
    ws.expect_close(3999);
    assert_eq!(
        ws.recv(),
        None,
        "the server closes TCP after the closing handshake"
    );
}

#[test]
fn case_9_sixteen_mebibyte_text_message_is_echoed() {
    let s = server();
    let mut ws = WsClient::connect(s.addr, "/");
    let text = "x".repeat(16 * 1024 * 1024);
    ws.send_text(&text);
    assert_eq!(ws.recv(), Some(WsEv::Text(text)));
}

/// Answers every message with a burst mixing small messages and large ones (which leave the
/// server as header + payload in one vectored write, the rest queued) to check their order.
struct Burst;

impl pushwire::server::App for Burst {
    type Local = ();
    type Notice = ();
    fn local(&self) {}
    fn request(
        &self,
        _: &mut (),
        _: &pushwire::http::Request<'_>,
        _: &[u8],
        _: &mut pushwire::server::Ctx<'_, ()>,
    ) -> pushwire::server::Reply {
        pushwire::server::Reply::WebSocket { protocol: None }
    }
    fn ws_message(
        &self,
        _: &mut (),
        _: pushwire::server::Message<'_>,
        cx: &mut pushwire::server::Ctx<'_, ()>,
    ) {
        let conn = cx.conn().unwrap();
        let texts = burst();
        cx.send_texts(conn, texts.iter().map(String::as_str))
            .unwrap();
        // A large one while the previous output may still be queued.
        cx.send_binary(conn, &vec![7u8; 300_000]).unwrap();
    }
}

fn burst() -> Vec<String> {
    vec![
        "small 1".into(),
        "a".repeat(200_000),
        "small 2".into(),
        "b".repeat(70_000),
        "c".repeat(1 << 20),
        "small 3".into(),
    ]
}

#[test]
fn large_and_small_messages_keep_their_order() {
    let s = TestServer::start(
        Burst,
        Limits {
            write_queue_bytes: 64 << 20,
            ..Limits::default()
        },
        1,
    );
    let mut ws = WsClient::connect(s.addr, "/");
    ws.send_text("go");
    // Read slowly at first, so that the socket fills and output queues.
    std::thread::sleep(Duration::from_millis(100));
    for expected in burst() {
        assert_eq!(ws.recv(), Some(WsEv::Text(expected)));
    }
    assert_eq!(ws.recv(), Some(WsEv::Binary(vec![7u8; 300_000])));
}

#[test]
fn every_ping_is_answered_in_order_and_a_ping_flood_is_bounded_by_the_write_queue() {
    // RFC 6455 §5.5.2: each ping gets its pong, in order.
    let s = server();
    let mut ws = WsClient::connect(s.addr, "/");
    let mut wire = Vec::new();
    for i in 0..50u32 {
        wire.extend(masked_frame(true, 0, OpCode::Ping, &i.to_be_bytes()));
    }
    ws.stream.write_all(&wire).unwrap();
    for i in 0..50u32 {
        assert_eq!(
            ws.recv(),
            Some(WsEv::Pong(i.to_be_bytes().to_vec())),
            "pong {i}"
        );
    }

    // A client that sends pings and never reads: the pongs queue until the write queue is
    // over its limit, then the server stops reading, and drops the connection once it has
    // stayed behind for the slow-consumer timeout. Memory stays bounded; no pong is dropped
    // while the connection lives.
    let limits = Limits {
        write_queue_bytes: 16 * 1024,
        slow_consumer_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let s = TestServer::start(WsEcho, limits, 1);
    let ws = WsClient::connect(s.addr, "/");
    let mut stream = ws.stream;
    stream.set_nonblocking(true).unwrap();
    let ping = masked_frame(true, 0, OpCode::Ping, &[7; 125]);
    let started = Instant::now();
    let ended = loop {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the flood was never cut off"
        );
        match stream.write(&ping) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::yield_now(),
            Err(e) => break e.kind(),
        }
    };
    // The server dropped the connection (its unread input makes that a reset).
    assert!(
        matches!(
            ended,
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        ),
        "{ended:?}"
    );
}

#[test]
fn an_echoed_message_costs_one_read_and_one_write() {
    // Edge-triggered readiness: a read that returns less than the buffer drained the socket,
    // so the worker does not read again only to hear WouldBlock.
    let s = server();
    let mut ws = WsClient::connect(s.addr, "/");
    ws.send_text("warm up");
    assert_eq!(ws.recv(), Some(WsEv::Text("warm up".into())));
    let before = s.handle.io_stats();
    let n = 200;
    for i in 0..n {
        let text = format!("message {i}");
        ws.send_text(&text);
        assert_eq!(ws.recv(), Some(WsEv::Text(text)));
    }
    let after = s.handle.io_stats();
    let reads = after.reads - before.reads;
    let empty = after.reads_would_block - before.reads_would_block;
    let writes = after.writes - before.writes;
    // One of each per message, with a little room for a message the kernel split.
    assert!(
        (n..=n + n / 20).contains(&reads),
        "{reads} reads for {n} messages"
    );
    assert!(empty <= n / 20, "{empty} reads found nothing");
    assert_eq!(writes, n, "{writes} writes for {n} messages");
}
