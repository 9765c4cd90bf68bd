//! The worker's decisions over in-memory connections in virtual time (`reactor::testing`):
//! deadlines of seconds pass in no time, a client that stops reading is modelled exactly, and
//! nothing sleeps or depends on the machine's speed.

mod common;

use common::WsEcho;
use pushwire::Limits;
use pushwire::reactor::testing::{Harness, MemClient};
use pushwire::server::HubServer;
use pushwire::server::hub_server::tick_interval;
use std::time::Duration;

fn hub(limits: Limits) -> Harness<HubServer> {
    let tick = tick_interval(&limits);
    Harness::new(HubServer::new(limits.clone(), b"page"), limits).tick(tick)
}

fn text(client: &MemClient) -> String {
    String::from_utf8_lossy(&client.received()).into_owned()
}

fn publish(h: &mut Harness<HubServer>, topic: &str, body: &str) -> String {
    let c = h.connect();
    c.send(
        format!(
            "POST /publish?topic={topic} HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    h.turn();
    text(&c)
}

#[test]
fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let mut h = hub(Limits::default());
    let c = h.connect();
    c.send(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\nGET /cursor?topic=x HTTP/1.1\r\nHost: a\r\n\r\nGET /nope HTTP/1.1\r\nHost: a\r\n\r\n");
    h.turn();
    let answers = text(&c);
    let statuses: Vec<&str> = answers
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &answers[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["200", "200", "404"], "{answers}");
    assert!(!c.is_closed());
}

#[test]
fn a_head_that_never_ends_gets_408_at_the_header_deadline() {
    let limits = Limits::default();
    let deadline = limits.header_timeout;
    let mut h = hub(limits);
    let c = h.connect();
    c.send(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n");
    h.turn();
    h.advance(deadline - Duration::from_millis(1));
    assert!(c.received().is_empty());
    h.advance(Duration::from_millis(1));
    assert!(text(&c).starts_with("HTTP/1.1 408 "));
    assert!(c.is_closed());
}

#[test]
fn a_parked_poll_is_answered_by_a_publish_or_its_deadline() {
    let mut h = hub(Limits::default());
    let c = h.connect();
    c.send(b"GET /poll?topic=t&cursor=0 HTTP/1.1\r\nHost: a\r\n\r\n");
    h.turn();
    assert!(c.received().is_empty());
    assert!(publish(&mut h, "t", "news").contains("\r\n\r\n1"));
    let answer = text(&c);
    assert!(
        answer.starts_with("HTTP/1.1 200 ") && answer.contains("\"data\":\"news\""),
        "{answer}"
    );
    // The next poll waits its 30 s, and not a moment less.
    c.send(b"GET /poll?topic=t&cursor=1 HTTP/1.1\r\nHost: a\r\n\r\n");
    h.turn();
    h.advance(Duration::from_millis(29_999));
    assert!(c.received().is_empty());
    h.advance(Duration::from_millis(1));
    let answer = text(&c);
    assert!(
        answer.starts_with("HTTP/1.1 204 ") && answer.contains("X-Cursor: 1"),
        "{answer}"
    );
}

#[test]
fn a_stream_consumer_that_stops_reading_is_cut_off_when_its_queue_is_full() {
    let limits = Limits {
        write_queue_bytes: 64 * 1024,
        ..Limits::default()
    };
    let mut h = hub(limits);
    let reader = h.connect();
    reader.send(b"GET /events?topic=s HTTP/1.1\r\nHost: a\r\n\r\n");
    h.turn();
    assert!(text(&reader).starts_with("HTTP/1.1 200 "));
    reader.stop_reading();
    let big = "x".repeat(60_000);
    // The pipe (256 KiB, the kernel's buffer) takes four; the write queue the fifth.
    for _ in 0..5 {
        publish(&mut h, "s", &big);
    }
    assert!(!reader.is_closed());
    // One more would pass the queue's limit: the stream is cut (it resumes with
    // Last-Event-ID), rather than queue without bound.
    for _ in 0..3 {
        publish(&mut h, "s", &big);
    }
    assert!(reader.is_closed());
}

#[test]
fn a_response_its_client_does_not_read_is_dropped_after_the_slow_consumer_timeout() {
    let limits = Limits {
        write_queue_bytes: 64 * 1024,
        slow_consumer_timeout: Duration::from_secs(30),
        ..Limits::default()
    };
    let mut h = hub(limits);
    let big = "y".repeat(60_000);
    for _ in 0..10 {
        publish(&mut h, "r", &big);
    }
    let reader = h.connect();
    reader.stop_reading();
    reader.send(b"GET /poll?topic=r&cursor=0 HTTP/1.1\r\nHost: a\r\n\r\n");
    h.turn();
    // 600 kB answered: 256 KiB in the pipe, the rest queued, over the limit.
    h.advance(Duration::from_secs(29));
    assert!(!reader.is_closed(), "dropped before slow_consumer_timeout");
    h.advance(Duration::from_secs(2));
    assert!(reader.is_closed(), "a client behind for 30 s is dropped");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_at_the_idle_deadline_and_eof_is_honoured() {
    let limits = Limits::default();
    let idle = limits.idle_timeout;
    let mut h = hub(limits);
    let c = h.connect();
    c.send(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n");
    h.turn();
    assert!(text(&c).starts_with("HTTP/1.1 200 "));
    h.advance(idle - Duration::from_millis(1));
    assert!(!c.is_closed());
    h.advance(Duration::from_millis(1));
    assert!(c.is_closed());
    // A client that closes its side after a request still gets the answer, then the end.
    let d = h.connect();
    d.send(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n");
    d.close();
    h.turn();
    assert!(text(&d).ends_with("Hello, World!"));
    assert!(d.is_closed());
    h.advance(Duration::from_secs(5));
    assert_eq!(h.connections(), 0);
}

#[test]
fn a_shutdown_closes_websockets_with_1001() {
    let mut h = hub(Limits::default());
    let ws = h.connect();
    ws.send(b"GET /ws?topic=w HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    h.turn();
    let head = ws.received();
    assert!(
        head.starts_with(b"HTTP/1.1 101 "),
        "{}",
        String::from_utf8_lossy(&head)
    );
    h.handle().shutdown();
    h.turn();
    let frame = ws.received();
    // A close frame (0x88) with 1001 (0x03e9) first in its payload.
    assert_eq!(frame.first(), Some(&0x88));
    assert_eq!(frame.get(2..4), Some(&[0x03, 0xe9][..]), "{frame:?}");
}

// ----- large WebSocket frames, read whole into a buffer of their own -----

fn echo_server(limits: Limits) -> (Harness<WsEcho>, MemClient) {
    let mut h = Harness::new(WsEcho, limits);
    let c = h.connect();
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    h.turn();
    let head = c.received();
    assert!(head.starts_with(b"HTTP/1.1 101 "), "{head:?}");
    (h, c)
}

fn big_limits() -> Limits {
    Limits {
        max_frame_bytes: 4 << 20,
        max_message_bytes: 4 << 20,
        ..Limits::default()
    }
}

/// Sends `wire` in pieces of `piece` bytes, a worker turn after each, and takes the output.
fn send_in_pieces(h: &mut Harness<WsEcho>, c: &MemClient, wire: &[u8], piece: usize) -> Vec<u8> {
    let mut got = Vec::new();
    for chunk in wire.chunks(piece) {
        c.send(chunk);
        h.turn();
        got.extend(c.received());
    }
    for _ in 0..64 {
        h.turn();
        got.extend(c.received());
    }
    got
}

/// The server's frames in `wire`: (opcode, payload).
fn server_frames(mut wire: &[u8]) -> Vec<(pushwire::ws::OpCode, Vec<u8>)> {
    let mut frames = Vec::new();
    while let Ok(Some((h, n))) = pushwire::ws::Header::decode(wire) {
        assert!(h.mask.is_none() && h.fin);
        let end = n + h.len as usize;
        assert!(wire.len() >= end, "a frame cut short");
        frames.push((h.opcode, wire[n..end].to_vec()));
        wire = &wire[end..];
    }
    assert!(wire.is_empty(), "{} bytes after the last frame", wire.len());
    frames
}

#[test]
fn large_messages_arriving_in_any_pieces_are_echoed_whole_with_their_neighbours() {
    use pushwire::ws::OpCode;
    let big: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
    let text = "ü€ pushwire ".repeat(20_000); // 300 KB of UTF-8, characters across reads
    let messages = [
        (OpCode::Text, b"before".to_vec()),
        (OpCode::Binary, big.clone()),
        (OpCode::Text, b"between".to_vec()),
        (OpCode::Text, text.as_bytes().to_vec()),
        (OpCode::Binary, vec![9; 70_000]),
        (OpCode::Text, b"after".to_vec()),
    ];
    let wire: Vec<u8> = messages
        .iter()
        .flat_map(|(op, p)| common::masked_frame(true, 0, *op, p))
        .collect();
    for piece in [1, 13, 7_919, 65_536, 100_000, wire.len()] {
        if piece == 1 {
            // Byte by byte through the first large frame's header and a little of it.
            let (mut h, c) = echo_server(big_limits());
            let got = send_in_pieces(&mut h, &c, &wire[..40], 1);
            let rest = send_in_pieces(&mut h, &c, &wire[40..], 65_536);
            assert_eq!(server_frames(&[got, rest].concat()), messages);
            continue;
        }
        let (mut h, c) = echo_server(big_limits());
        let got = send_in_pieces(&mut h, &c, &wire, piece);
        assert_eq!(server_frames(&got), messages, "pieces of {piece}");
        assert!(!c.is_closed());
    }
}

#[test]
fn a_large_text_message_that_is_not_utf8_is_refused_with_1007_once_whole() {
    use pushwire::ws::OpCode;
    let mut bad = "a".repeat(200_000).into_bytes();
    bad[150_000] = 0xff;
    let (mut h, c) = echo_server(big_limits());
    let got = send_in_pieces(
        &mut h,
        &c,
        &common::masked_frame(true, 0, OpCode::Text, &bad),
        30_000,
    );
    let frames = server_frames(&got);
    assert_eq!(frames.len(), 1, "only the close frame");
    assert_eq!(frames[0].0, OpCode::Close);
    assert_eq!(frames[0].1[..2], 1007u16.to_be_bytes());
}

#[test]
fn a_frame_over_the_limit_is_refused_from_its_header_without_waiting_for_it() {
    use pushwire::ws::OpCode;
    let limits = Limits {
        max_frame_bytes: 100_000,
        max_message_bytes: 100_000,
        ..Limits::default()
    };
    let (mut h, c) = echo_server(limits);
    let wire = common::masked_frame(true, 0, OpCode::Binary, &vec![1; 100_001]);
    c.send(&wire[..1000]);
    h.turn();
    let frames = server_frames(&c.received());
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].0, OpCode::Close);
    assert_eq!(frames[0].1[..2], 1009u16.to_be_bytes());
}

#[test]
fn a_peer_sending_a_large_frame_slowly_is_not_taken_for_a_silent_one() {
    use pushwire::ws::OpCode;
    let limits = Limits {
        ping_interval: Some(Duration::from_secs(10)),
        ..big_limits()
    };
    let (mut h, c) = echo_server(limits);
    let payload = vec![5u8; 400_000];
    let wire = common::masked_frame(true, 0, OpCode::Binary, &payload);
    // 40 pieces, one every 4 s: 160 s in all, far past twice the ping interval.
    let mut got = Vec::new();
    for chunk in wire.chunks(wire.len().div_ceil(40)) {
        c.send(chunk);
        h.advance(Duration::from_secs(4));
        got.extend(c.received());
        assert!(!c.is_closed());
    }
    for _ in 0..8 {
        h.turn();
        got.extend(c.received());
    }
    assert_eq!(server_frames(&got), [(OpCode::Binary, payload)]);
    // And once it falls silent, the keep-alive still works: a ping, then 1001.
    h.advance(Duration::from_secs(10));
    let ping = server_frames(&c.received());
    assert_eq!(ping, [(OpCode::Ping, vec![])]);
    h.advance(Duration::from_secs(10));
    let frames = server_frames(&c.received());
    assert_eq!(frames.last().map(|f| f.0), Some(OpCode::Close));
}

#[test]
fn a_connection_that_ends_mid_frame_is_closed_and_the_next_one_is_served() {
    use pushwire::ws::OpCode;
    let payload = vec![3u8; 500_000];
    let wire = common::masked_frame(true, 0, OpCode::Binary, &payload);
    let (mut h, c) = echo_server(big_limits());
    c.send(&wire[..300_000]);
    h.turn();
    c.close();
    h.turn();
    assert!(c.is_closed());
    assert_eq!(h.connections(), 0);
    // A new connection's frame of the same size is read whole and echoed.
    let d = h.connect();
    d.send(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    h.turn();
    let head = d.received();
    assert!(head.starts_with(b"HTTP/1.1 101 "));
    let got = send_in_pieces(&mut h, &d, &wire, 50_000);
    assert_eq!(server_frames(&got), [(OpCode::Binary, payload)]);
}

#[test]
fn a_request_answered_at_once_costs_one_read_and_one_write() {
    // A read that returns less than the buffer drained the socket: the worker does not read
    // again to hear `WouldBlock`, not even after answering (nothing was held back).
    let mut h = hub(Limits::default());
    let c = h.connect();
    for round in 1..=3u64 {
        c.send(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n");
        h.turn();
        assert!(text(&c).starts_with("HTTP/1.1 200 "));
        let io = h.handle().io_stats();
        assert_eq!(
            (io.reads, io.reads_would_block, io.writes),
            (round, 0, round),
            "round {round}"
        );
    }
    // `/stats` shows the same counters (its own request read, its answer not yet written).
    c.send(b"GET /stats HTTP/1.1\r\nHost: a\r\n\r\n");
    h.turn();
    let stats = text(&c);
    assert!(
        stats.contains(r#""io":{"reads":4,"reads_would_block":0,"writes":3}"#),
        "{stats}"
    );
}
