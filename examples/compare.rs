//! The four push techniques compared on the same topic, in numbers.
//!
//! ```sh
//! cargo run --release --example compare                 # the full matrix, a few minutes
//! cargo run --release --example compare -- --quick      # N = 1 and 100, rates 10 and 100
//! ```
//!
//! The program runs the ready hub server in a child process (itself, with `--serve`), then for
//! each technique (short polling at 1 s and 100 ms, long-polling, SSE, WebSocket), each publish
//! rate and each number of clients, connects N clients written on pushwire's own client machines,
//! publishes at the fixed rate for a while, and measures on the client sockets and on the
//! server process:
//!
//! - HTTP requests per delivered event, bytes on the wire per delivered event (both directions,
//!   heads and framing included: counted at the sockets), empty responses;
//! - latency from publish (`ts` in the event) to delivery: p50, p99, max;
//! - server CPU seconds per 1,000 delivered events, server memory per client (RSS growth).
//!
//! It writes `target/compare/compare.md` (a Markdown table) and `target/compare/compare.svg`
//! (bytes and requests per delivered event, drawn by this program: no plotting dependency).

use mio::{Events, Poll};
use pushwire::Limits;
use pushwire::http::client;
use std::fmt::Write as _;
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
        "compare: the four techniques side by side, measured\n\nUsage: compare [OPTIONS]",
        &[
            args::switch("--quick", "fewer and shorter runs"),
            args::value(
                "--seconds",
                "S",
                "seconds per run (default 5, 3 with --quick)",
            ),
            args::switch(
                "--serve",
                "run the server only (what compare starts itself)",
            ),
            args::value(
                "--port",
                "N",
                "the server's port, with --serve (default: any free)",
            ),
        ],
    );
    if args.switch("--serve") {
        return serve(args.port("--port", 0, true));
    }
    let quick = args.switch("--quick");
    let seconds: u64 = args.get("--seconds", if quick { 3 } else { 5 });
    let counts: &[usize] = if quick { &[1, 100] } else { &[1, 100, 1000] };
    let rates: &[u64] = if quick { &[10, 100] } else { &[1, 10, 100] };
    let techniques = [
        Technique::ShortPoll(1000),
        Technique::ShortPoll(100),
        Technique::LongPoll,
        Technique::Sse,
        Technique::WebSocket,
    ];

    let (mut server, addr) = push_client::spawn_server()?;

    let mut rows = Vec::new();
    for &rate in rates {
        for &n in counts {
            for &t in &techniques {
                let row = run(addr, server.id(), t, n, rate, Duration::from_secs(seconds))?;
                eprintln!("{}", row.line());
                rows.push(row);
            }
        }
    }
    let _ = server.kill();
    let _ = server.wait();

    std::fs::create_dir_all("target/compare")?;
    let md = markdown(&rows, seconds);
    std::fs::write("target/compare/compare.md", &md)?;
    std::fs::write("target/compare/compare.svg", svg(&rows))?;
    println!("{md}");
    println!("wrote target/compare/compare.md and target/compare/compare.svg");
    Ok(())
}

struct Row {
    technique: Technique,
    clients: usize,
    rate: u64,
    published: u64,
    delivered: u64,
    requests: u64,
    empty: u64,
    bytes: u64,
    latencies_us: Vec<u64>,
    server_cpu_s: f64,
    server_bytes_per_client: i64,
}

impl Row {
    fn per_event(&self, x: u64) -> f64 {
        if self.delivered == 0 {
            f64::NAN
        } else {
            x as f64 / self.delivered as f64
        }
    }
    fn pct(&self, p: f64) -> u64 {
        let mut v = self.latencies_us.clone();
        v.sort_unstable();
        if v.is_empty() {
            return 0;
        }
        v[((v.len() - 1) as f64 * p).round() as usize]
    }
    fn line(&self) -> String {
        format!(
            "{:<18} n={:<5} rate={:<4} delivered={:<7} req/event={:.2} bytes/event={:.0} empty={} p50={}us p99={}us cpu/1k={:.3}s mem/client={}B",
            self.technique.name(),
            self.clients,
            self.rate,
            self.delivered,
            self.per_event(self.requests),
            self.per_event(self.bytes),
            self.empty,
            self.pct(0.5),
            self.pct(0.99),
            self.server_cpu_s * 1000.0 / self.delivered.max(1) as f64,
            self.server_bytes_per_client
        )
    }
}

/// Runs one scenario: `n` clients of `technique`, publishing at `rate` for `time`.
fn run(
    addr: SocketAddr,
    server: u32,
    technique: Technique,
    n: usize,
    rate: u64,
    time: Duration,
) -> io::Result<Row> {
    let topic = format!("t{}", unix_ns());
    let (base_cpu, base_rss) = server_usage(server);
    let mut poll = Poll::new()?;
    let mut clients = push_client::connect_all(&poll, addr, technique, &topic, n, false)?;
    let mut events = Events::with_capacity(1024);
    let warmup = Instant::now() + Duration::from_millis(500);
    let end = warmup + time;
    let mut published = 0u64;
    let mut rss_connected = None;
    let mut publisher = std::net::TcpStream::connect(addr)?;
    publisher.set_nodelay(true)?;
    let mut pub_http = client::Connection::new(&Limits::default());
    let mut buf = [0u8; 65536];
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        // Publish on schedule (after the warm-up that lets every client connect).
        if now >= warmup {
            rss_connected.get_or_insert_with(|| server_usage(server).1);
            let due = ((now - warmup).as_secs_f64() * rate as f64) as u64 + 1;
            while published < due.min(rate * time.as_secs()) {
                let body = b"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl";
                push_client::publish(&mut publisher, &mut pub_http, &topic, body)?;
                published += 1;
            }
        }
        let wait = clients
            .iter()
            .filter_map(|c| c.next_poll)
            .min()
            .map_or(Duration::from_millis(5), |t| {
                t.saturating_duration_since(now)
            })
            .min(Duration::from_millis(5));
        push_client::pump(&mut poll, &mut events, &mut clients, &mut buf, wait)?;
    }
    let (cpu, _) = server_usage(server);
    let rss = rss_connected.unwrap_or(base_rss);
    let mut row = Row {
        technique,
        clients: n,
        rate,
        published,
        delivered: 0,
        requests: 0,
        empty: 0,
        bytes: 0,
        latencies_us: Vec::new(),
        server_cpu_s: cpu - base_cpu,
        server_bytes_per_client: (rss - base_rss) / n as i64,
    };
    for c in clients {
        row.delivered += c.stats.delivered;
        row.requests += c.stats.requests;
        row.empty += c.stats.empty;
        row.bytes += c.stats.bytes;
        row.latencies_us.extend(c.stats.latencies_us);
    }
    std::thread::sleep(Duration::from_millis(300));
    Ok(row)
}

fn markdown(rows: &[Row], seconds: u64) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Each scenario: N clients of one technique on one topic, a 64-byte body published at the given rate for {seconds} s after a 0.5 s warm-up; counts at the client sockets (both directions, heads and framing included), latency from the publish timestamp to delivery, CPU and RSS of the server process.\n"
    );
    let _ = writeln!(
        md,
        "| rate/s | clients | technique | delivered | requests / event | bytes / event | empty responses | latency p50 / p99 / max (ms) | server CPU s / 1k events | server memory / client |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let max = r.latencies_us.iter().max().copied().unwrap_or(0);
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} / {} | {:.2} | {:.0} | {} | {:.1} / {:.1} / {:.1} | {:.3} | {} B |",
            r.rate,
            r.clients,
            r.technique.name(),
            r.delivered,
            r.published * r.clients as u64,
            r.per_event(r.requests),
            r.per_event(r.bytes),
            r.empty,
            r.pct(0.5) as f64 / 1000.0,
            r.pct(0.99) as f64 / 1000.0,
            max as f64 / 1000.0,
            r.server_cpu_s * 1000.0 / r.delivered.max(1) as f64,
            r.server_bytes_per_client
        );
    }
    md
}

/// Bytes per delivered event by technique, one group of bars per rate (100 clients where
/// measured, else the largest count), on a log scale.
fn svg(rows: &[Row]) -> String {
    let names: Vec<String> = {
        let mut v: Vec<String> = rows.iter().map(|r| r.technique.name()).collect();
        v.dedup();
        v.truncate(5);
        v
    };
    let mut rates: Vec<u64> = rows.iter().map(|r| r.rate).collect();
    rates.sort_unstable();
    rates.dedup();
    let clients = if rows.iter().any(|r| r.clients == 100) {
        100
    } else {
        rows.iter().map(|r| r.clients).max().unwrap_or(1)
    };
    let colors = ["#c0392b", "#e67e22", "#2a6f97", "#2b8a3e", "#6c3483"];
    let (w, h, left, bottom, top) = (760.0, 380.0, 70.0, 60.0, 40.0);
    let plot_h = h - bottom - top;
    let (lo, hi) = (10f64.log10(), 1_000_000f64.log10());
    let y = |v: f64| top + plot_h - (v.max(10.0).log10() - lo) / (hi - lo) * plot_h;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n"
    );
    let _ = writeln!(s, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    let _ = writeln!(
        s,
        "<text x=\"{left}\" y=\"22\" font-size=\"14\">Bytes on the wire per delivered event ({clients} clients, log scale)</text>"
    );
    for exp in 1..=6 {
        let v = 10f64.powi(exp);
        let yy = y(v);
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            w - 20.0,
            left - 6.0,
            yy + 4.0,
            v as u64
        );
    }
    let group_w = (w - left - 20.0) / rates.len().max(1) as f64;
    let bar_w = group_w * 0.8 / names.len().max(1) as f64;
    for (gi, rate) in rates.iter().enumerate() {
        let gx = left + gi as f64 * group_w + group_w * 0.1;
        for (ti, name) in names.iter().enumerate() {
            let Some(r) = rows
                .iter()
                .find(|r| r.rate == *rate && r.clients == clients && r.technique.name() == *name)
            else {
                continue;
            };
            let v = r.per_event(r.bytes);
            if !v.is_finite() {
                continue;
            }
            let x = gx + ti as f64 * bar_w;
            let yy = y(v);
            let _ = writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{yy:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{name}: {v:.0} B/event</title></rect>",
                bar_w - 2.0,
                top + plot_h - yy,
                colors[ti % colors.len()]
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{rate} events/s</text>",
            gx + group_w * 0.4,
            h - bottom + 18.0
        );
    }
    for (ti, name) in names.iter().enumerate() {
        let x = left + ti as f64 * 135.0;
        let _ = writeln!(
            s,
            "<rect x=\"{x}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{name}</text>",
            h - 22.0,
            colors[ti % colors.len()],
            x + 14.0,
            h - 13.0
        );
    }
    s.push_str("</svg>\n");
    s
}
