//! WebSocket fan-out with and without permessage-deflate, side by side: the ready server in a
//! child process (one worker, as the demo), N followers of one topic, ~1 KiB JSON events
//! published at a fixed rate. Rounds alternate plain and compressed; each prints server CPU
//! per delivered event and bytes received per event (frames, at the client sockets).
//!
//! ```sh
//! taskset -c 1 cargo run --release --example deflate_fanout -- --subs 1000 --rate 100 --rounds 3
//! ```
//!
//! (The server is this program with `--serve`, started on the same CPU set unless pinned with
//! `--server-cpu`.)

use mio::{Events, Poll};
use pushwire::Limits;
use pushwire::http::client;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

#[path = "common/push_client.rs"]
mod push_client;
use push_client::{Technique, serve, server_usage, unix_ns};

#[path = "common/args.rs"]
mod args;

fn main() -> io::Result<()> {
    let args = args::Args::parse(
        "deflate_fanout: WebSocket fan-out with and without compression\n\nUsage: deflate_fanout [OPTIONS]",
        &[
            args::value("--subs", "N", "followers (default 1000)"),
            args::value("--rate", "N", "events published per second (default 100)"),
            args::value("--seconds", "S", "seconds per round (default 5)"),
            args::value("--rounds", "N", "rounds of each kind (default 3)"),
            args::value(
                "--server-cpu",
                "CPU",
                "pin the server to this CPU (taskset)",
            ),
            args::switch(
                "--serve",
                "run the server only (what this program starts itself)",
            ),
            args::value("--port", "N", "the server's port, with --serve"),
        ],
    );
    if args.switch("--serve") {
        return serve(args.port("--port", 0, true));
    }
    let subs: usize = args.get("--subs", 1000);
    let rate: u64 = args.get("--rate", 100);
    let seconds: u64 = args.get("--seconds", 5);
    let rounds: usize = args.get("--rounds", 3);
    let (mut server, addr) = push_client::spawn_server()?;
    if let Some(cpu) = args.text("--server-cpu") {
        std::process::Command::new("taskset")
            .args(["-a", "-p", "-c", cpu, &server.id().to_string()])
            .stdout(std::process::Stdio::null())
            .status()?;
    }
    println!(
        "| round | compression | delivered / expected | server CPU µs per delivered event | bytes per event (frames) | p50 / p99 latency (ms) |"
    );
    println!("|---|---|---|---|---|---|");
    for round in 1..=rounds {
        for deflate in [false, true] {
            let r = run(
                addr,
                server.id(),
                subs,
                rate,
                deflate,
                Duration::from_secs(seconds),
            )?;
            println!(
                "| {round} | {} | {} / {} | {:.3} | {:.0} | {:.1} / {:.1} |",
                if deflate {
                    "permessage-deflate"
                } else {
                    "none"
                },
                r.delivered,
                r.expected,
                r.cpu_s * 1e6 / r.delivered.max(1) as f64,
                r.bytes as f64 / r.delivered.max(1) as f64,
                r.p50_us as f64 / 1000.0,
                r.p99_us as f64 / 1000.0,
            );
        }
    }
    server.kill()?;
    Ok(())
}

struct Round {
    delivered: u64,
    expected: u64,
    bytes: u64,
    cpu_s: f64,
    p50_us: u64,
    p99_us: u64,
}

/// A JSON event of about 1 KiB, varying with `i` (quotes, numbers, repeated keys: real data).
fn event_body(i: u64) -> Vec<u8> {
    let mut body = String::from("{\"type\":\"quotes\",\"rows\":[");
    for k in 0..15 {
        if k > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            "{{\"sym\":\"S{:03}\",\"bid\":{}.{:02},\"ask\":{}.{:02},\"size\":{}}}",
            (i * 7 + k) % 500,
            100 + (i + k) % 50,
            (i * 13 + k) % 100,
            101 + (i + k) % 50,
            (i * 17 + k) % 100,
            (i * 31 + k * 7) % 1000
        ));
    }
    body.push_str("]}");
    body.into_bytes()
}

fn run(
    addr: SocketAddr,
    server: u32,
    subs: usize,
    rate: u64,
    deflate: bool,
    time: Duration,
) -> io::Result<Round> {
    let topic = format!("t{}", unix_ns());
    let mut poll = Poll::new()?;
    let mut clients =
        push_client::connect_all(&poll, addr, Technique::WebSocket, &topic, subs, deflate)?;
    let mut events = Events::with_capacity(1024);
    let mut publisher = std::net::TcpStream::connect(addr)?;
    publisher.set_nodelay(true)?;
    let mut pub_http = client::Connection::new(&Limits::default());
    let mut buf = vec![0u8; 65536];
    // Connect everyone (the handshakes are not part of the measurement).
    let connected_by = Instant::now() + Duration::from_secs(10);
    while clients.iter().any(|c| c.ws.is_none()) && Instant::now() < connected_by {
        let wait = Duration::from_millis(5);
        push_client::pump(&mut poll, &mut events, &mut clients, &mut buf, wait)?;
    }
    for c in &mut clients {
        c.stats.bytes = 0;
    }
    let total = rate * time.as_secs();
    let (cpu0, _) = server_usage(server);
    let start = Instant::now();
    let mut published = 0u64;
    let end = start + time + Duration::from_secs(1);
    loop {
        let now = Instant::now();
        let due = (((now - start).as_secs_f64() * rate as f64) as u64 + 1).min(total);
        while published < due {
            push_client::publish(
                &mut publisher,
                &mut pub_http,
                &topic,
                &event_body(published),
            )?;
            published += 1;
        }
        let delivered: u64 = clients.iter().map(|c| c.stats.delivered).sum();
        if (published == total && delivered == total * subs as u64) || now >= end {
            break;
        }
        let wait = Duration::from_millis(2);
        push_client::pump(&mut poll, &mut events, &mut clients, &mut buf, wait)?;
    }
    let (cpu1, _) = server_usage(server);
    let mut latencies: Vec<u64> = clients
        .iter()
        .flat_map(|c| c.stats.latencies_us.iter().copied())
        .collect();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * p) as usize)
            .copied()
            .unwrap_or(0)
    };
    let round = Round {
        delivered: clients.iter().map(|c| c.stats.delivered).sum(),
        expected: total * subs as u64,
        bytes: clients.iter().map(|c| c.stats.bytes).sum(),
        cpu_s: cpu1 - cpu0,
        p50_us: pct(0.5),
        p99_us: pct(0.99),
    };
    drop(clients);
    std::thread::sleep(Duration::from_millis(300));
    Ok(round)
}
