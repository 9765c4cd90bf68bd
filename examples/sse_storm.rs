//! A reconnect storm: opens `--count` event streams one after another on `--parallel`
//! threads (connect, `GET /events`, read the response head and the opening bytes, close), as
//! browsers do when a server restarts. With `--token`, each request carries it in the query
//! (`access_token`, as an `EventSource` would). Used by `benches/token_storm.sh`.
//!
//! ```sh
//! cargo run --release --example sse_storm -- --addr 127.0.0.1:8080 --count 5000
//! ```

#[path = "common/args.rs"]
mod args;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

fn main() {
    let args = args::Args::parse(
        "sse_storm: open and close many event streams\n\nUsage: sse_storm [OPTIONS]",
        &[
            args::value("--addr", "HOST:PORT", "the server (default 127.0.0.1:8080)"),
            args::value("--count", "N", "streams to open (default 5000)"),
            args::value("--parallel", "N", "threads (default 50)"),
            args::value("--token", "TOKEN", "an access token to send"),
        ],
    );
    let addr = args.text("--addr").unwrap_or("127.0.0.1:8080").to_string();
    let count = args.count("--count").unwrap_or(5000);
    let parallel = args.count("--parallel").unwrap_or(50);
    let query = args
        .text("--token")
        .map(|t| format!("&access_token={t}"))
        .unwrap_or_default();
    let request = format!(
        "GET /events?topic=storm{query} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    );
    let next = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..parallel {
            s.spawn(|| {
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    if !open_one(&addr, request.as_bytes()) {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let failed = failed.into_inner();
    println!(
        "{count} streams in {:.2} s, {failed} not opened",
        start.elapsed().as_secs_f64()
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

/// One stream: true once the `200` head and the stream's first bytes arrived.
fn open_one(addr: &str, request: &[u8]) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    if stream.write_all(request).is_err() {
        return false;
    }
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            if seen.len() > end + 4 {
                return seen.starts_with(b"HTTP/1.1 200");
            }
        }
    }
    false
}
