//! Soak and churn: thousands of clients over all four techniques connect, receive, drop their
//! connections abruptly and reconnect from their cursor, while events are published — for a
//! bounded time. It then checks what a long-running server must keep true.
//!
//! ```sh
//! cargo run --release --example soak                          # 3 minutes, 2,000 clients
//! cargo run --release --example soak -- --minutes 10 --clients 500 --rate 20
//! ```
//!
//! Checked at the end (the exit status is non-zero if any fails):
//! - every client received every sequence number in order, exactly once, across all its
//!   reconnects — or an explicit gap notice where history was trimmed;
//! - the server's resident memory after warm-up stayed within 10 % (sampled every 10 s);
//! - no descriptor leaked: once every client is gone, the server holds as many descriptors as
//!   before the first one came.
//!
//! The server runs in a child process (this program with `--serve`), one worker thread.

use mio::{Events, Interest, Poll, Token};
use pushwire::Limits;
use pushwire::http::client;
use std::io;
use std::time::{Duration, Instant};

#[path = "common/push_client.rs"]
mod push_client;
use push_client::{Client, Stats, Technique, serve, server_usage};

#[path = "common/args.rs"]
mod args;

/// Descriptors the server process holds.
fn server_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// A small deterministic generator for connection lifetimes.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// One simulated user: a client, when it will drop its connection, and its totals so far.
struct User {
    client: Client,
    drop_at: Instant,
    totals: Stats,
    reconnects: u64,
}

fn main() -> io::Result<()> {
    let args = args::Args::parse(
        "soak: clients of every technique against the ready server, counting every event\n\nUsage: soak [OPTIONS]",
        &[
            args::value("--minutes", "M", "how long to run (default 3)"),
            args::value("--clients", "N", "clients per technique (default 500)"),
            args::value("--rate", "N", "events published per second (default 20)"),
            args::switch("--serve", "run the server only (what soak starts itself)"),
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
    let minutes: f64 = args.get("--minutes", 3.0);
    let per_technique: usize = args.get("--clients", 500);
    let rate: u64 = args.get("--rate", 20);
    let (mut server, addr) = push_client::spawn_server()?;
    let pid = server.id();
    let fds_before = server_fds(pid);
    let topic = format!("soak{}", push_client::unix_ns());
    let techniques = [
        Technique::ShortPoll(500),
        Technique::LongPoll,
        Technique::Sse,
        Technique::WebSocket,
    ];

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut poll = Poll::new()?;
    let mut users: Vec<User> = Vec::new();
    for (t, &technique) in techniques.iter().enumerate() {
        for i in 0..per_technique {
            let id = t * per_technique + i;
            let mut client = Client::new(addr, technique, &topic, 0)?;
            poll.registry().register(
                &mut client.socket,
                Token(id),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            client.ask();
            let life = Duration::from_millis(500 + rng.below(9_500));
            users.push(User {
                client,
                drop_at: Instant::now() + life,
                totals: Stats::default(),
                reconnects: 0,
            });
        }
    }
    println!(
        "soak: {} clients ({per_technique} per technique), {rate} events/s, {minutes} min",
        users.len()
    );

    let start = Instant::now();
    let end = start + Duration::from_secs_f64(minutes * 60.0);
    let mut publisher = std::net::TcpStream::connect(addr)?;
    let mut pub_http = client::Connection::new(&Limits::default());
    let mut published = 0u64;
    let mut rss_samples: Vec<(f64, i64)> = Vec::new();
    let mut next_sample = start + Duration::from_secs(10);
    let mut events = Events::with_capacity(4096);
    let mut buf = vec![0u8; 65536];
    let mut publishing = true;
    let drain_until = end + Duration::from_secs(3);
    loop {
        let now = Instant::now();
        if now >= drain_until {
            break;
        }
        if now >= end {
            publishing = false;
        }
        // Publish on schedule.
        let due = ((now - start).as_secs_f64() * rate as f64) as u64;
        while publishing && published < due {
            push_client::publish(&mut publisher, &mut pub_http, &topic, b"soak test event.")?;
            published += 1;
        }
        if now >= next_sample {
            let (cpu, rss) = server_usage(pid);
            println!(
                "t={:>4.0}s published={published} server rss={} KiB fds={} cpu={cpu:.1}s",
                (now - start).as_secs_f64(),
                rss / 1024,
                server_fds(pid)
            );
            rss_samples.push(((now - start).as_secs_f64(), rss));
            next_sample += Duration::from_secs(10);
        }
        poll.poll(&mut events, Some(Duration::from_millis(5)))?;
        for event in events.iter() {
            users[event.token().0]
                .client
                .on_ready(event.is_readable(), &mut buf);
        }
        let now = Instant::now();
        for (id, user) in users.iter_mut().enumerate() {
            let c = &mut user.client;
            c.tick(now);
            // Churn: drop the connection abruptly (a reset, half of the time) and come back
            // from the last sequence number received.
            if publishing && now >= user.drop_at {
                if id % 2 == 0 {
                    let _ = socket2::SockRef::from(&c.socket).set_linger(Some(Duration::ZERO));
                }
                let cursor = c.cursor;
                let technique = c.technique;
                let old = std::mem::replace(c, Client::new(addr, technique, &topic, cursor)?);
                add(&mut user.totals, old.stats);
                poll.registry().register(
                    &mut user.client.socket,
                    Token(id),
                    Interest::READABLE | Interest::WRITABLE,
                )?;
                user.client.ask();
                user.reconnects += 1;
                user.drop_at = now + Duration::from_millis(500 + rng.below(9_500));
            }
        }
    }

    // Everyone leaves; the server must give back every descriptor.
    let mut missed = 0;
    let mut repeated = 0;
    let mut gaps = 0;
    let mut behind = 0;
    let mut reconnects = 0;
    let mut delivered = 0;
    for user in users.drain(..) {
        let cursor = user.client.cursor;
        let mut totals = user.totals;
        add(&mut totals, user.client.stats);
        missed += totals.missed;
        repeated += totals.repeated;
        gaps += totals.gaps;
        delivered += totals.delivered;
        reconnects += user.reconnects;
        if cursor != published {
            behind += 1;
        }
    }
    drop(publisher);
    std::thread::sleep(Duration::from_secs(3));
    let fds_after = server_fds(pid);
    let (cpu, rss_end) = server_usage(pid);
    let _ = server.kill();
    let _ = server.wait();

    // Memory after warm-up (the first third of the run) against the rest.
    let warm = rss_samples
        .iter()
        .skip(rss_samples.len() / 3)
        .map(|s| s.1)
        .collect::<Vec<_>>();
    let (lo, hi) = (
        warm.iter().min().copied().unwrap_or(0),
        warm.iter().max().copied().unwrap_or(0),
    );
    let flat = lo > 0 && (hi - lo) as f64 <= 0.10 * lo as f64;
    println!(
        "published {published}, delivered {delivered}, reconnects {reconnects}, server CPU {cpu:.1} s"
    );
    println!(
        "missed without notice: {missed}; repeated: {repeated}; gap notices: {gaps}; clients not caught up: {behind}"
    );
    println!(
        "server RSS after warm-up: {} .. {} KiB ({}), at the end {} KiB",
        lo / 1024,
        hi / 1024,
        if flat { "flat within 10 %" } else { "NOT flat" },
        rss_end / 1024
    );
    println!("server descriptors: {fds_before} before, {fds_after} after every client left");
    let ok = missed == 0 && repeated == 0 && behind == 0 && flat && fds_after <= fds_before;
    println!("soak: {}", if ok { "passed" } else { "FAILED" });
    if ok {
        Ok(())
    } else {
        Err(io::Error::other("soak failed"))
    }
}

fn add(total: &mut Stats, more: Stats) {
    total.delivered += more.delivered;
    total.requests += more.requests;
    total.empty += more.empty;
    total.bytes += more.bytes;
    total.missed += more.missed;
    total.repeated += more.repeated;
    total.gaps += more.gaps;
}
