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
//! - the server's resident memory after warm-up stayed within 10 % (sampled every 10 s; with
//!   several nodes, from 10 s after the last node was killed or Redis restarted);
//! - no descriptor leaked: once every client is gone, the server holds as many descriptors as
//!   before the first one came.
//!
//! The server runs in a child process (this program with `--serve`), one worker thread.
//!
//! Several nodes over Redis: `--nodes 3 --redis redis://127.0.0.1:6379` (or `--spawn-redis`,
//! which starts a `redis-server` with an append-only file and restarts it once, two thirds
//! into the run). Clients reconnect to a random node with their cursor; half-way one node is
//! killed and its clients go on elsewhere. Publishes the broker did not store (`503` while
//! Redis restarts) are not counted: every acknowledged event must arrive, once, in order.
//!
//! ```sh
//! cargo run --release --example soak -- --minutes 3 --nodes 3 --spawn-redis
//! ```

use mio::{Events, Interest, Poll, Token};
use pushwire::Limits;
use pushwire::http::client;
use std::io;
use std::time::{Duration, Instant};

#[path = "common/push_client.rs"]
mod push_client;
use push_client::{Client, Stats, Technique, serve_with, server_usage};

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
                "--nodes",
                "N",
                "server processes (default 1; more need Redis)",
            ),
            args::value("--redis", "URL", "the Redis the nodes share"),
            args::switch(
                "--spawn-redis",
                "start a redis-server (AOF) for the run and restart it once",
            ),
            args::value(
                "--port",
                "N",
                "the server's port, with --serve (default: any free)",
            ),
        ],
    );
    if args.switch("--serve") {
        return serve_with(args.port("--port", 0, true), args.text("--redis"));
    }
    let minutes: f64 = args.get("--minutes", 3.0);
    let per_technique: usize = args.get("--clients", 500);
    let rate: u64 = args.get("--rate", 20);
    let node_count = args.count("--nodes").unwrap_or(1);
    let mut redis = if args.switch("--spawn-redis") {
        Some(SpawnedRedis::start()?)
    } else {
        None
    };
    let url = redis
        .as_ref()
        .map(SpawnedRedis::url)
        .or(args.text("--redis").map(String::from));
    if node_count > 1 && url.is_none() {
        return Err(io::Error::other(
            "--nodes above 1 needs --redis or --spawn-redis",
        ));
    }
    let base_port = 21000 + (std::process::id() % 500) as u16 * 8;
    let mut nodes = Vec::new();
    for i in 0..node_count {
        let extra: Vec<&str> = url.iter().flat_map(|u| ["--redis", u.as_str()]).collect();
        nodes.push(push_client::spawn_server_on(base_port + i as u16, &extra)?);
    }
    let addrs: Vec<std::net::SocketAddr> = nodes.iter().map(|n| n.1).collect();
    let mut live: Vec<usize> = (0..node_count).collect();
    let (ref server, addr) = nodes[0];
    let pid = server.id();
    let fds_before: Vec<usize> = nodes.iter().map(|n| server_fds(n.0.id())).collect();
    let topic = format!("soak{}", push_client::unix_ns());
    // One event before the clients come: every client starts from its number, so that what
    // follows is numbered without a break on any broker.
    let mut publisher = std::net::TcpStream::connect(addr)?;
    let mut pub_http = client::Connection::new(&Limits::default());
    let mut last_acked = loop {
        if let Some(seq) =
            push_client::publish_acked(&mut publisher, &mut pub_http, &topic, b"primer")?
        {
            break seq;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let first = last_acked;
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
            let node = addrs[id % addrs.len()];
            let mut client = Client::new(node, technique, &topic, first)?;
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
    let kill_node_at = (node_count > 1).then(|| start + (end - start) / 2);
    let restart_redis_at = redis.as_ref().map(|_| start + (end - start) * 2 / 3);
    let mut published = 0u64;
    let mut refused = 0u64;
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
        // Publish on schedule; what the server did not store is not counted.
        let due = ((now - start).as_secs_f64() * rate as f64) as u64;
        while publishing && published + refused < due {
            match push_client::publish_acked(
                &mut publisher,
                &mut pub_http,
                &topic,
                b"soak test event.",
            )? {
                Some(seq) => {
                    last_acked = seq;
                    published += 1;
                }
                None => refused += 1,
            }
        }
        if kill_node_at.is_some_and(|t| now >= t) && live.len() == node_count {
            let victim = node_count - 1;
            let _ = nodes[victim].0.kill();
            let _ = nodes[victim].0.wait();
            live.retain(|&n| n != victim);
            println!(
                "t={:>4.0}s killed node {victim}",
                (now - start).as_secs_f64()
            );
        }
        if let (Some(t), Some(r)) = (restart_redis_at, redis.as_mut()) {
            if now >= t && !r.restarted {
                r.restart()?;
                println!("t={:>4.0}s restarted Redis", (now - start).as_secs_f64());
            }
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
                let node = addrs[live[rng.below(live.len() as u64) as usize]];
                let old = std::mem::replace(c, Client::new(node, technique, &topic, cursor)?);
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
        if cursor != last_acked {
            behind += 1;
        }
    }
    drop(publisher);
    std::thread::sleep(Duration::from_secs(3));
    let fds_after: Vec<usize> = nodes.iter().map(|n| server_fds(n.0.id())).collect();
    let (cpu, rss_end) = server_usage(pid);
    for node in &mut nodes {
        let _ = node.0.kill();
        let _ = node.0.wait();
    }
    let fds_kept = live.iter().all(|&n| fds_after[n] <= fds_before[n]);
    drop(redis);

    // Memory after warm-up (the first third of the run) against the rest. Killing a node
    // moves its clients to the others, so with several nodes the window starts 10 s after the
    // last disruption (when at least three samples remain).
    let disrupted = [kill_node_at, restart_redis_at]
        .into_iter()
        .flatten()
        .max()
        .map(|t| (t - start).as_secs_f64() + 10.0);
    let after = |from: f64| rss_samples.iter().filter(move |s| s.0 >= from).count();
    let warm = match disrupted {
        Some(from) if after(from) >= 3 => rss_samples
            .iter()
            .filter(|s| s.0 >= from)
            .map(|s| s.1)
            .collect::<Vec<_>>(),
        _ => rss_samples
            .iter()
            .skip(rss_samples.len() / 3)
            .map(|s| s.1)
            .collect::<Vec<_>>(),
    };
    let (lo, hi) = (
        warm.iter().min().copied().unwrap_or(0),
        warm.iter().max().copied().unwrap_or(0),
    );
    let flat = lo > 0 && (hi - lo) as f64 <= 0.10 * lo as f64;
    println!(
        "published {published} (acknowledged; {refused} refused while the broker was away), delivered {delivered}, reconnects {reconnects}, node 0 CPU {cpu:.1} s"
    );
    let _ = first;
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
    println!(
        "server descriptors: {fds_before:?} before, {fds_after:?} after every client left (nodes still running: {live:?})"
    );
    let ok = missed == 0 && repeated == 0 && behind == 0 && flat && fds_kept;
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

/// A `redis-server` started for the run (append-only file on), restarted once.
struct SpawnedRedis {
    port: u16,
    dir: std::path::PathBuf,
    child: std::process::Child,
    restarted: bool,
}

impl SpawnedRedis {
    fn start() -> io::Result<SpawnedRedis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = std::env::temp_dir().join(format!("pushwire-soak-redis-{port}"));
        std::fs::create_dir_all(&dir)?;
        let child = Self::spawn(port, &dir)?;
        Ok(SpawnedRedis {
            port,
            dir,
            child,
            restarted: false,
        })
    }

    fn spawn(port: u16, dir: &std::path::Path) -> io::Result<std::process::Child> {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--appendfsync", "always", "--dir"])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .spawn()?;
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(10) {
                return Err(io::Error::other("redis-server did not start"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(child)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it (a crash, not a shutdown) and starts it again on its file.
    fn restart(&mut self) -> io::Result<()> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = Self::spawn(self.port, &self.dir)?;
        self.restarted = true;
        Ok(())
    }
}

impl Drop for SpawnedRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
