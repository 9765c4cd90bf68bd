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
