//! permessage-deflate against plain frames: an echo of a 16 KiB JSON-like text message between
//! a client and a server machine in memory, side by side in one run.
//!
//! ```sh
//! cargo bench --features deflate --bench deflate
//! ```
//!
//! Each row: bytes on the wire per echo (both directions), time per echo (both ends' work: the
//! client compresses and inflates too), and the server's share (inflate the request, compress
//! the answer) measured alone on a prepared request. Single-threaded, so time is CPU time.

use pushwire::ws::deflate::{ClientConfig, ServerConfig};
use pushwire::ws::{self, Event};
use pushwire::{Instant, Limits, http};
use std::hint::black_box;

#[path = "common/mod.rs"]
mod common;
use common::measure;

/// A server and a client connection after a handshake in memory.
fn pair(
    server: Option<ServerConfig>,
    client: Option<ClientConfig>,
) -> (ws::Connection, ws::Connection) {
    let limits = Limits::default();
    let mut hs = ws::ClientHandshake::new(pushwire::entropy::OsEntropy);
    if let Some(c) = client {
        hs = hs.with_deflate(c);
    }
    let mut client_http = http::client::Connection::new(&limits);
    let mut request = Vec::new();
    hs.send_request("a", "/", &[], &[], &mut client_http, &mut request)
        .unwrap();
    let mut server_http = http::Connection::new(Instant::ZERO, &limits);
    let mut response = Vec::new();
    let step = server_http
        .feed(Instant::ZERO, &request, &mut response)
        .unwrap();
    let Some(http::Event::Request(req)) = step.event else {
        panic!()
    };
    let mut offer = ws::check_request(&req).unwrap();
    if let Some(c) = server {
        offer = offer.with_deflate(c);
    }
    let proof = offer
        .accept(None, &[], &mut server_http, &mut response)
        .unwrap();
    let step = client_http.feed(&response).unwrap();
    let Some(http::client::Event::Response(resp)) = step.event else {
        panic!()
    };
    let (client_proof, _) = hs.verify(&resp, &[]).unwrap();
    (
        ws::Connection::new(proof, &limits),
        ws::Connection::new(client_proof, &limits),
    )
}

/// About 16 KiB of JSON with varying numbers, like a batch of price updates.
fn json_message() -> String {
    let mut x = 0x2545_f491u32;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let symbols = [
        "AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "ORCL",
    ];
    let mut s = String::from("[");
    while s.len() < 16 * 1024 - 120 {
        let r = next();
        s.push_str(&format!(
            "{{\"id\":{},\"symbol\":\"{}\",\"price\":{}.{:02},\"volume\":{},\"ts\":{}}},",
            r % 1_000_000,
            symbols[(r >> 20) as usize % symbols.len()],
            100 + r % 900,
            r % 100,
            next() % 100_000,
            1_764_300_000_000u64 + u64::from(next() % 1_000_000)
        ));
    }
    s.pop();
    s.push(']');
    s
}

/// Feeds `wire` and returns the text message it carries.
fn receive(conn: &mut ws::Connection, wire: &mut [u8], out: &mut Vec<u8>) -> String {
    let mut at = 0;
    loop {
        let step = conn.feed(Instant::ZERO, &mut wire[at..], out).unwrap();
        at += step.consumed;
        if let Some(Event::Text(t)) = step.event {
            return t.into_owned();
        }
        assert!(step.consumed > 0, "stuck");
    }
}

fn main() {
    let message = json_message();
    let plain_ns = run("plain frames", None, None, &message, None);
    let server_default = ServerConfig::default();
    let client_default = ClientConfig::default();
    run(
        "deflate, defaults (no context takeover), level 1",
        Some(server_default),
        Some(client_default),
        &message,
        Some(plain_ns),
    );
    let takeover_server = ServerConfig {
        server_no_context_takeover: false,
        ..server_default
    };
    let takeover_client = ClientConfig {
        client_no_context_takeover: false,
        ..client_default
    };
    run(
        "deflate, context takeover both ways, level 1",
        Some(takeover_server),
        Some(takeover_client),
        &message,
        Some(plain_ns),
    );
    let level6_server = ServerConfig {
        level: 6,
        ..server_default
    };
    let level6_client = ClientConfig {
        level: 6,
        ..client_default
    };
    run(
        "deflate, defaults, level 6",
        Some(level6_server),
        Some(level6_client),
        &message,
        Some(plain_ns),
    );
    let window9 = ServerConfig {
        server_max_window_bits: 9,
        ..server_default
    };
    let window9_client = ClientConfig {
        server_max_window_bits: Some(9),
        ..client_default
    };
    run(
        "deflate, server window 9 bits, level 1",
        Some(window9),
        Some(window9_client),
        &message,
        Some(plain_ns),
    );
}

/// One row; returns the time per echo.
fn run(
    name: &str,
    server: Option<ServerConfig>,
    client: Option<ClientConfig>,
    message: &str,
    plain: Option<f64>,
) -> f64 {
    let (mut srv, mut cli) = pair(server, client);
    let mut wire_bytes = 0;
    let mut scratch = Vec::new();
    let mut echo = |wire_bytes: &mut usize| {
        let mut up = Vec::new();
        cli.send_text(message, &mut up).unwrap();
        let got = receive(&mut srv, &mut up, &mut scratch);
        let mut down = Vec::new();
        srv.send_text(&got, &mut down).unwrap();
        let back = receive(&mut cli, &mut down, &mut scratch);
        *wire_bytes = up.len() + down.len();
        black_box(back);
    };
    echo(&mut wire_bytes);
    let echo_ns = measure(|| echo(&mut wire_bytes));

    // The server's share on its own: a prepared request (a fresh client each time would be
    // needed with client context takeover, so the request is taken from a no-takeover client).
    let (mut srv, mut cli) = pair(
        server,
        client.map(|c| ClientConfig {
            client_no_context_takeover: true,
            ..c
        }),
    );
    let mut request = Vec::new();
    cli.send_text(message, &mut request).unwrap();
    let mut input = request.clone();
    let server_ns = measure(|| {
        input.copy_from_slice(&request);
        let got = receive(&mut srv, &mut input, &mut scratch);
        let mut down = Vec::new();
        srv.send_text(&got, &mut down).unwrap();
        black_box(down);
    });
    let ratio = plain.map_or(String::new(), |p| format!("{:.1}×", echo_ns / p));
    println!(
        "| {name} | {wire_bytes} B ({:.1}% of {}) | {:.1} µs {ratio} | {:.1} µs |",
        100.0 * wire_bytes as f64 / (2 * message.len()) as f64,
        2 * message.len(),
        echo_ns / 1000.0,
        server_ns / 1000.0
    );
    echo_ns
}
