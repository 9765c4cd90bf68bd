//! A news feed over long-polling, through a proxy that breaks streaming.
//!
//! The ready hub server serves the page and the topic `news`; beside it this program runs a
//! small HTTP/1.0 proxy of the kind still found in corporate networks and old middleboxes: it
//! speaks HTTP/1.0 upstream (no keep-alive, no upgrade) and buffers each response until the
//! server closes it. Through it a long-poll works — every answer is a complete response — while
//! an event stream delivers nothing (the proxy waits for an end that never comes) and a
//! WebSocket cannot start. The page shows the three side by side — that is why long-polling is
//! the way to push through anything — and a fourth panel follows the topic with `pushwire.js`,
//! which finds that out by itself: it falls back to long-polling and delivers every headline
//! once.
//!
//! ```sh
//! cargo run --release --example feed     # then open http://127.0.0.1:8084/ (through the proxy)
//! curl -d "breaking news" 'http://127.0.0.1:8084/publish?topic=news'
//! ```
//!
//! `--port` is the server (default 8083), `--proxy-port` the proxy (default 8084).

use pushwire::Limits;
use pushwire::reactor::Server;
use pushwire::server::HubServer;
use pushwire::server::hub_server::tick_interval;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

#[path = "../common/args.rs"]
mod args;

const PAGE: &[u8] = include_bytes!("page.html");
/// The most a proxied request or response may hold.
const MAX_BYTES: usize = 8 << 20;
/// How long the proxy waits for a response to end.
const UPSTREAM_WAIT: Duration = Duration::from_secs(60);

/// Reads a request (head and `Content-Length` body) from `client`.
fn read_request(client: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                buf.truncate(end + 4 + length);
                return Ok(buf);
            }
        }
        let n = client.read(&mut chunk)?;
        if n == 0 || buf.len() > MAX_BYTES {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The request as an HTTP/1.0 proxy sends it on: version 1.0, no hop-by-hop fields (so no
/// keep-alive and no upgrade), `Connection: close`.
fn downgrade(request: &[u8]) -> Vec<u8> {
    let end = request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(request.len());
    let head = String::from_utf8_lossy(&request[..end]);
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let first = first
        .rsplit_once(' ')
        .map_or(first.to_string(), |(rest, _)| format!("{rest} HTTP/1.0"));
    let mut out = format!("{first}\r\n");
    for line in lines {
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if [
            "connection",
            "keep-alive",
            "upgrade",
            "te",
            "proxy-connection",
        ]
        .contains(&name.as_str())
        {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Via: 1.0 feed-proxy\r\nConnection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(request.get(end + 4..).unwrap_or_default());
    bytes
}

/// One client: its request, sent on as HTTP/1.0; the whole response, buffered until the server
/// closes it, then passed back.
fn proxy_one(mut client: TcpStream, upstream: SocketAddr) -> io::Result<()> {
    let request = read_request(&mut client)?;
    let mut server = TcpStream::connect(upstream)?;
    server.set_read_timeout(Some(UPSTREAM_WAIT))?;
    server.write_all(&downgrade(&request))?;
    let mut response = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        match server.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) if response.len() + n <= MAX_BYTES => response.extend_from_slice(&chunk[..n]),
            Ok(_) => break,
            // A response that never ends (an event stream): the proxy gives up on it.
            Err(_) => {
                let _ = client.write_all(b"HTTP/1.0 504 Gateway Timeout\r\nContent-Type: text/plain\r\n\r\nthe upstream response did not end\n");
                return Ok(());
            }
        }
    }
    client.write_all(&response)
}

fn proxy(listener: TcpListener, upstream: SocketAddr) {
    for client in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let _ = proxy_one(client, upstream);
        });
    }
}

fn main() -> io::Result<()> {
    let args = args::Args::parse(
        "feed: a news feed over long-polling, through an HTTP/1.0 buffering proxy\n\nUsage: feed [OPTIONS]",
        &[
            args::value(
                "--port",
                "N",
                "the server's port on 127.0.0.1, 1-65535 (default 8083)",
            ),
            args::value(
                "--proxy-port",
                "N",
                "the proxy's port on 127.0.0.1, 1-65535 (default 8084)",
            ),
        ],
    );
    let port = args.port("--port", 8083, false);
    let proxy_port = args.port("--proxy-port", 8084, false);
    let limits = Limits {
        longpoll_timeout: Duration::from_secs(25),
        ..Limits::default()
    };
    let server = args::listening(
        format!("127.0.0.1:{port}"),
        Server::builder()
            .bind(("127.0.0.1", port))
            .limits(limits.clone())
            .tick(tick_interval(&limits))
            .build(HubServer::new(limits, PAGE)),
    );
    let upstream = server.local_addr();
    let listener = args::listening(
        format!("127.0.0.1:{proxy_port}"),
        TcpListener::bind(("127.0.0.1", proxy_port)),
    );
    let proxied = listener.local_addr()?;
    std::thread::Builder::new()
        .name("proxy".into())
        .spawn(move || proxy(listener, upstream))?;
    println!(
        "feed: open http://{proxied}/ (through the HTTP/1.0 proxy), or http://{upstream}/ (direct)"
    );
    server.run()
}
