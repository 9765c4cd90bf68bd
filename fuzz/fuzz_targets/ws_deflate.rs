//! permessage-deflate on a connection pair whose parameters the first byte chooses (windows
//! 8..15 each way, context takeover or not).
//!
//! 1. Round trip: the rest of the input, cut into messages at 0xff bytes, is sent compressed by
//!    the client (fragmented at a point the input picks), inflated by the server, echoed back
//!    compressed and inflated by the client; every message must come back unchanged.
//! 2. Hostile input: the same bytes fed to a fresh server as client frames: no panic, consumed ≤
//!    given, inflated messages within the limit, one close at most, bounded output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushwire::ws::MessageKind;
use pushwire::ws::deflate::{ClientConfig, ServerConfig};

include!("ws_common.rs");

fn configs(flags: u8) -> (ServerConfig, ClientConfig) {
    let server = ServerConfig {
        server_no_context_takeover: flags & 1 != 0,
        client_no_context_takeover: flags & 2 != 0,
        server_max_window_bits: 15,
        client_max_window_bits: 8 + (flags >> 2 & 7),
        ..ServerConfig::default()
    };
    let client = ClientConfig {
        client_no_context_takeover: flags & 2 != 0,
        server_max_window_bits: Some(8 + (flags >> 5 & 7)),
        ..ClientConfig::default()
    };
    (server, client)
}

/// Feeds `wire` whole; the messages it carried.
fn receive(conn: &mut ws::Connection, wire: &[u8]) -> Vec<Vec<u8>> {
    let mut buf = wire.to_vec();
    let mut out = Vec::new();
    let mut at = 0;
    let mut got = Vec::new();
    loop {
        let step = conn.feed(Instant::ZERO, &mut buf[at..], &mut out).expect("valid stream");
        at += step.consumed;
        match step.event {
            Some(Event::Text(t)) => got.push(t.as_bytes().to_vec()),
            Some(Event::Binary(b)) => got.push(b.into_owned()),
            Some(_) => {}
            None if step.consumed == 0 => break,
            None => {}
        }
    }
    assert_eq!(at, buf.len(), "stream left unread");
    got
}

fn send(conn: &mut ws::Connection, messages: &[&[u8]], cut: usize) -> Vec<u8> {
    let mut wire = Vec::new();
    for m in messages {
        let kind = if std::str::from_utf8(m).is_ok() { MessageKind::Text } else { MessageKind::Binary };
        let at = cut.min(m.len());
        conn.send_fragment(kind, &m[..at], false, &mut wire).unwrap();
        conn.send_fragment(kind, &m[at..], true, &mut wire).unwrap();
    }
    wire
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let Some((&cut, rest)) = rest.split_first() else { return };
    let limits = Limits { max_frame_bytes: 1 << 16, max_message_bytes: 1 << 16, ..Limits::default() };
    let (server_config, client_config) = configs(flags);

    let (mut server, mut client) = pair_with(&limits, Some(server_config), Some(client_config));
    let messages: Vec<&[u8]> = rest.split(|&b| b == 0xff).collect();
    let wire = send(&mut client, &messages, usize::from(cut));
    assert_eq!(receive(&mut server, &wire), messages, "client → server");
    let wire = send(&mut server, &messages, usize::from(cut) / 2);
    assert_eq!(receive(&mut client, &wire), messages, "server → client");

    let (mut server, _) = pair_with(&limits, Some(server_config), Some(client_config));
    check(&mut server, data, 1 << 16);
});
