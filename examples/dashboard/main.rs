//! A live dashboard over Server-Sent Events: the ready hub server, and a publisher that once a
//! second measures this very process — requests per second, open connections per technique,
//! events delivered per second, CPU, resident memory (from `/proc`) — and publishes the figures
//! to the topic `metrics` through the server's own API (`POST /publish`, `GET /stats`). The page
//! draws them as moving charts (SVG, drawn by hand), following the topic with `pushwire.js` (an
//! event stream first): it asks for the last minute on opening and, after a drop, resumes from
//! its position, so the gap in the chart is filled from the topic's history.
//!
//! ```sh
//! cargo run --release --example dashboard   # then open http://127.0.0.1:8082
//! curl -N 'http://127.0.0.1:8082/events?topic=metrics'    # or watch the raw stream
//! ```

use pushwire::Limits;
use pushwire::http::client;
use pushwire::reactor::Server;
use pushwire::server::HubServer;
use pushwire::server::hub_server::tick_interval;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[path = "../common/args.rs"]
mod args;
#[path = "../common/push_client.rs"]
mod push_client;

const PAGE: &[u8] = include_bytes!("page.html");

/// The counters of `/stats` the dashboard draws, summed or per technique.
#[derive(Default, Clone, Copy)]
struct Sample {
    requests: u64,
    events: u64,
    connections: [u64; 4],
    cpu_ticks: u64,
}

const TECHNIQUES: [&str; 4] = ["short_poll", "long_poll", "sse", "websocket"];

/// `"<field>":<number>` inside the object of `technique` in `/stats`.
fn stat(json: &str, technique: &str, field: &str) -> u64 {
    let Some(at) = json.find(&format!("\"{technique}\":{{")) else {
        return 0;
    };
    let rest = &json[at..];
    let Some(f) = rest.find(&format!("\"{field}\":")) else {
        return 0;
    };
    rest[f + field.len() + 3..]
        .split([',', '}'])
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Resident memory (KiB) and CPU time (clock ticks) of this process.
fn process_numbers() -> (u64, u64) {
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0);
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let f: Vec<&str> = s.get(s.rfind(')')? + 2..)?.split(' ').collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    (rss, cpu)
}

fn get(stream: &mut TcpStream, http: &mut client::Connection, target: &str) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    http.send_request(
        "GET",
        target,
        &[("Host", b"dashboard")],
        client::RequestBody::Empty,
        &mut out,
    )
    .map_err(io::Error::other)?;
    stream.write_all(&out)?;
    push_client::read_response(stream, http).map(|(_, body)| body)
}

/// Once a second: measure, publish to `metrics`. Reconnects if the server drops it.
fn publisher(addr: SocketAddr) {
    let mut before: Option<(Instant, Sample)> = None;
    let mut next = Instant::now();
    loop {
        next += Duration::from_secs(1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let Ok(mut stream) = TcpStream::connect(addr) else {
            continue;
        };
        let mut http = client::Connection::new(&Limits::default());
        while let Ok(stats) = get(&mut stream, &mut http, "/stats") {
            let stats = String::from_utf8_lossy(&stats);
            let (rss_kib, cpu_ticks) = process_numbers();
            let mut now = Sample {
                cpu_ticks,
                ..Sample::default()
            };
            for (i, t) in TECHNIQUES.iter().enumerate() {
                now.requests += stat(&stats, t, "requests");
                now.events += stat(&stats, t, "events");
                now.connections[i] = stat(&stats, t, "connections");
            }
            let at = Instant::now();
            if let Some((then, was)) = before {
                let secs = at.duration_since(then).as_secs_f64().max(0.001);
                let per_s = |a: u64, b: u64| a.saturating_sub(b) as f64 / secs;
                let unix_ms = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                let body = format!(
                    "{{\"t\":{unix_ms},\"requests_per_s\":{:.1},\"events_per_s\":{:.1},\"cpu_percent\":{:.1},\"rss_mb\":{:.2},\"connections\":{{\"short_poll\":{},\"long_poll\":{},\"sse\":{},\"websocket\":{}}}}}",
                    per_s(now.requests, was.requests),
                    per_s(now.events, was.events),
                    // Clock ticks are 1/100 s.
                    per_s(now.cpu_ticks, was.cpu_ticks),
                    rss_kib as f64 / 1024.0,
                    now.connections[0],
                    now.connections[1],
                    now.connections[2],
                    now.connections[3],
                );
                let published =
                    push_client::publish_acked(&mut stream, &mut http, "metrics", body.as_bytes());
                if published.is_err() {
                    break;
                }
            }
            before = Some((at, now));
            next += Duration::from_secs(1);
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
    }
}

fn main() -> io::Result<()> {
    let args = args::Args::parse(
        "dashboard: live metrics of this server over Server-Sent Events\n\nUsage: dashboard [OPTIONS]",
        &[
            args::value("--port", "N", "port on 127.0.0.1, 1-65535 (default 8082)"),
            args::value("--threads", "N", "worker threads (default: one per core)"),
        ],
    );
    let port = args.port("--port", 8082, false);
    let limits = Limits::default();
    let mut builder = Server::builder()
        .bind(("127.0.0.1", port))
        .limits(limits.clone())
        .tick(tick_interval(&limits));
    if let Some(threads) = args.count("--threads") {
        builder = builder.threads(threads);
    }
    let server = args::listening(
        format!("127.0.0.1:{port}"),
        builder.build(HubServer::new(limits, PAGE)),
    );
    let addr = server.local_addr();
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || publisher(addr))?;
    println!("dashboard: open http://{addr}/");
    server.run()
}
