//! permessage-deflate (RFC 7692) over real sockets, against the reactor: agreement, messages
//! both ways, and the failures a hostile client can cause (built with `--features deflate`).
#![cfg(feature = "deflate")]

mod common;

use common::{TestServer, WsClient, WsEcho, WsEv, masked_frame};
use pushwire::Limits;
use pushwire::reactor::Server;
use pushwire::ws::deflate::{ClientConfig, ServerConfig};
use pushwire::ws::{ClientHandshake, OpCode};
use std::io::Write;
use std::time::Duration;

fn server(config: Option<ServerConfig>) -> TestServer<()> {
    let limits = Limits {
        max_message_bytes: 1 << 20,
        write_queue_bytes: 64 << 20,
        ..Limits::default()
    };
    let mut builder = Server::builder().threads(1).limits(limits);
    if let Some(config) = config {
        builder = builder.ws_deflate(config);
    }
    TestServer::start_built(builder, WsEcho)
}

fn client(addr: std::net::SocketAddr) -> WsClient {
    let handshake =
        ClientHandshake::new(pushwire::entropy::OsEntropy).with_deflate(ClientConfig::default());
    WsClient::connect_with(addr, "/", handshake)
}

#[test]
fn messages_round_trip_compressed_both_ways() {
    let server = server(Some(ServerConfig::default()));
    let mut ws = client(server.addr);
    let agreed = ws.deflate.expect("agreed");
    assert!(agreed.server_no_context_takeover && agreed.client_no_context_takeover);
    let json = "{\"id\":12345,\"topic\":\"prices\",\"values\":[1.5,2.25,3.125]},".repeat(300);
    for text in ["", "Hello", "héllo wörld ✓", json.as_str()] {
        ws.send_text(text);
        assert_eq!(ws.recv(), Some(WsEv::Text(text.to_string())));
    }
    let binary: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
    ws.send_binary(&binary);
    assert_eq!(ws.recv(), Some(WsEv::Binary(binary)));
    ws.close(1000);
    assert_eq!(ws.recv(), Some(WsEv::Close(Some(1000), String::new())));
}

#[test]
fn server_without_config_declines_and_plain_messages_flow() {
    let server = server(None);
    let mut ws = client(server.addr);
    assert_eq!(ws.deflate, None);
    ws.send_text("plain");
    assert_eq!(ws.recv(), Some(WsEv::Text("plain".into())));
}

/// A masked client frame with the given first byte (FIN, RSV, opcode).
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let opcode = OpCode::from_bits(first & 0xf).unwrap();
    masked_frame(first & 0x80 != 0, (first >> 4) & 7, opcode, payload)
}

/// Sends what `wire` makes on a fresh compressing connection and asserts the server's close
/// code.
fn closes_with(code: u16, wire: impl FnOnce(&mut WsClient) -> Vec<u8>) {
    let server = server(Some(ServerConfig::default()));
    let mut ws = client(server.addr);
    let wire = wire(&mut ws);
    ws.stream.write_all(&wire).unwrap();
    ws.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    ws.expect_close(code);
}

const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

#[test]
fn rsv1_on_a_continuation_closes_1002() {
    let wire = [frame(0x41, &HELLO[..3]), frame(0xc0, &HELLO[3..])].concat();
    closes_with(1002, |_| wire);
}

#[test]
fn rsv1_on_a_ping_closes_1002() {
    closes_with(1002, |_| frame(0xc9, b""));
}

#[test]
fn invalid_deflate_closes_1007() {
    closes_with(1007, |_| frame(0xc2, &[0x07, 0x00]));
}

#[test]
fn decompression_bomb_closes_1009() {
    // 16 MiB of zeros compress to well under 1% of that; the server's limit is 1 MiB.
    closes_with(1009, |ws| {
        let mut bomb = Vec::new();
        ws.conn
            .send_binary(&vec![0u8; 16 << 20], &mut bomb)
            .unwrap();
        assert!(bomb.len() < 128 * 1024, "{}", bomb.len());
        bomb
    });
}

/// The ready server agrees to compression; an event to many followers is compressed once per
/// worker and each follower decodes it exactly, whatever window it asked for, beside one that
/// did not offer compression. `/stats` counts the compressed bytes actually sent.
#[test]
fn the_hub_compresses_an_event_once_for_all_its_followers() {
    use pushwire::server::HubServer;
    use pushwire::server::hub_server::tick_interval;
    let limits = Limits::default();
    let builder = Server::builder()
        .threads(1)
        .limits(limits.clone())
        .tick(tick_interval(&limits))
        .ws_deflate(ServerConfig::default());
    let server = TestServer::start_built(builder, HubServer::new(limits, b"page"));
    let offer = |window: Option<u8>| {
        ClientHandshake::new(pushwire::entropy::OsEntropy).with_deflate(ClientConfig {
            server_max_window_bits: window,
            ..ClientConfig::default()
        })
    };
    let target = "/ws?topic=prices&cursor=0";
    let mut compressed: Vec<WsClient> = [None, None, Some(10), Some(8)]
        .into_iter()
        .map(|w| WsClient::connect_with(server.addr, target, offer(w)))
        .collect();
    for ws in &compressed {
        assert!(ws.deflate.is_some_and(|a| a.server_no_context_takeover));
    }
    let mut plain = WsClient::connect(server.addr, target);
    assert!(plain.deflate.is_none());
    common::wait_for(|| common::stat(server.addr, "websocket", "connections") == 5);

    let body = "{\"sym\":\"ABC\",\"bid\":101.25,\"ask\":101.5,\"size\":300}".repeat(20);
    let mut publisher = common::Client::new(server.addr);
    publisher.send("POST", "/publish?topic=prices", Some(body.as_bytes()));
    assert_eq!(publisher.recv().unwrap().status, 200);
    let Some(WsEv::Text(event)) = plain.recv() else {
        panic!("the plain follower got no event")
    };
    assert!(event.contains(&body.replace('"', "\\\"")), "{event}");
    for ws in &mut compressed {
        assert_eq!(ws.recv(), Some(WsEv::Text(event.clone())));
    }
    // The plain frame is 4 header bytes + the event; the four compressed ones average under
    // 40 % of it.
    let plain_frame = 4 + event.len() as u64;
    let sent = common::stat(server.addr, "websocket", "bytes_out");
    assert!(
        sent > plain_frame && (sent - plain_frame) * 10 < 4 * plain_frame * 4,
        "{sent} bytes for a {plain_frame}-byte frame sent once plain and four times compressed"
    );
}

/// The inflaters that connections keep between messages (the client keeps its compression
/// context) count against the memory budget: once they fill what is in flight may take, a new
/// WebSocket is not agreed compression and goes on uncompressed; when kept ones go, compression
/// is agreed again. None of them is cut off.
#[test]
fn kept_compression_state_counts_against_the_budget_and_past_it_compression_is_declined() {
    const BUDGET: usize = 2 << 20;
    let limits = Limits {
        memory_budget: BUDGET,
        ..Limits::default()
    };
    let builder = Server::builder()
        .threads(1)
        .limits(limits)
        .ws_deflate(ServerConfig::default());
    let server = TestServer::start_built(builder, WsEcho);
    let keeping = ClientConfig {
        client_no_context_takeover: false,
        ..ClientConfig::default()
    };
    let connect = || {
        let handshake = ClientHandshake::new(pushwire::entropy::OsEntropy).with_deflate(keeping);
        WsClient::connect_with(server.addr, "/", handshake)
    };
    let mut kept = Vec::new();
    let declined = loop {
        let mut ws = connect();
        let agreed = ws.deflate;
        ws.send_text("a message, compressed by a client that keeps its context");
        assert_eq!(
            ws.recv(),
            Some(WsEv::Text(
                "a message, compressed by a client that keeps its context".into()
            ))
        );
        match agreed {
            Some(a) => assert!(
                !a.client_no_context_takeover,
                "the client keeps its context"
            ),
            None => break ws,
        }
        kept.push(ws);
        assert!(kept.len() < 200, "compression was never declined");
    };
    // Each kept inflater is counted (at least its 32 KiB window), and together they stay
    // within what is in flight may take.
    let frames = server.handle.memory().usage().frames;
    assert!(
        frames >= kept.len() * (32 << 10),
        "{frames} for {}",
        kept.len()
    );
    assert!(frames <= BUDGET / 2, "{frames}");
    assert!(kept.len() >= 10, "{} kept", kept.len());
    // The declined one works uncompressed; the kept ones are still served.
    drop(declined);
    for ws in kept.iter_mut().take(3) {
        ws.send_text("still here");
        assert_eq!(ws.recv(), Some(WsEv::Text("still here".into())));
    }
    // Kept ones leave: their inflaters go, and compression is agreed again.
    for mut ws in kept.drain(..5) {
        ws.close(1000);
        assert_eq!(ws.recv(), Some(WsEv::Close(Some(1000), String::new())));
    }
    common::wait_for(|| server.handle.memory().usage().frames <= frames - 4 * (32 << 10));
    assert!(
        connect().deflate.is_some(),
        "agreed again once there is room"
    );
}
