//! Push clients for the benchmark and soak programs: one per technique, written on pushwire's
//! own client machines, driven by a caller's mio loop. Included by `compare` and `soak` with
//! `#[path]` (this folder is not an example of its own).
#![allow(dead_code)]

use mio::net::TcpStream;
use pushwire::http::client;
use pushwire::reactor::Server;
use pushwire::server::HubServer;
use pushwire::server::hub_server::tick_interval;
use pushwire::{Instant as At, Limits, sse, ws};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Technique {
    ShortPoll(u64),
    LongPoll,
    Sse,
    WebSocket,
}

impl Technique {
    pub fn name(self) -> String {
        match self {
            Technique::ShortPoll(ms) => format!("short poll {ms} ms"),
            Technique::LongPoll => "long-poll".into(),
            Technique::Sse => "SSE".into(),
            Technique::WebSocket => "WebSocket".into(),
        }
    }
}

pub fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

pub fn read_response(
    s: &mut std::net::TcpStream,
    conn: &mut client::Connection,
) -> io::Result<(u16, Vec<u8>)> {
    let mut buf = Vec::new();
    let (mut status, mut body) = (0, Vec::new());
    loop {
        loop {
            let step = conn.feed(&buf).map_err(io::Error::other)?;
            let used = step.consumed;
            let progressed = used > 0 || step.event.is_some();
            let end = matches!(step.event, Some(client::Event::End));
            match step.event {
                Some(client::Event::Response(r)) => status = r.status,
                Some(client::Event::Data(d)) => body.extend_from_slice(d),
                _ => {}
            }
            buf.drain(..used);
            if end {
                return Ok((status, body));
            }
            if !progressed {
                break;
            }
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::other("closed"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A client of one technique, driven by the event loop.
pub struct Client {
    pub socket: TcpStream,
    pub technique: Technique,
    pub http: client::Connection,
    pub parser: sse::Parser,
    pub handshake: Option<ws::ClientHandshake>,
    pub ws: Option<ws::Connection>,
    pub inbuf: Vec<u8>,
    pub out: Vec<u8>,
    pub cursor: u64,
    pub topic: String,
    /// A short poll waits for this moment to ask again.
    pub next_poll: Option<Instant>,
    pub connected: bool,
    pub stats: Stats,
    /// A WebSocket client offers permessage-deflate (RFC 7692) with the defaults.
    pub deflate: bool,
}

#[derive(Default)]
pub struct Stats {
    pub delivered: u64,
    pub requests: u64,
    pub empty: u64,
    pub bytes: u64,
    pub latencies_us: Vec<u64>,
    /// Events skipped without a gap notice (must stay 0).
    pub missed: u64,
    /// Events received twice (must stay 0).
    pub repeated: u64,
    /// Explicit gap notices received.
    pub gaps: u64,
}

impl Client {
    pub fn new(
        addr: SocketAddr,
        technique: Technique,
        topic: &str,
        cursor: u64,
    ) -> io::Result<Client> {
        Ok(Client {
            socket: TcpStream::connect(addr)?,
            technique,
            http: client::Connection::new(&Limits::default()),
            // A reconnecting client carries its last event id over (WHATWG §9.2.4).
            parser: sse::Parser::resuming(&cursor.to_string(), 1 << 16, 1 << 20),
            handshake: None,
            ws: None,
            inbuf: Vec::new(),
            out: Vec::new(),
            cursor,
            topic: topic.into(),
            next_poll: None,
            connected: false,
            stats: Stats::default(),
            deflate: false,
        })
    }

    /// Queues the next request (or the opening request of a stream).
    pub fn ask(&mut self) {
        let target = match self.technique {
            Technique::ShortPoll(_) => {
                format!("/poll?topic={}&cursor={}&wait=0", self.topic, self.cursor)
            }
            Technique::LongPoll => format!("/poll?topic={}&cursor={}", self.topic, self.cursor),
            Technique::Sse => format!("/events?topic={}&lastEventId={}", self.topic, self.cursor),
            Technique::WebSocket => format!("/ws?topic={}&cursor={}", self.topic, self.cursor),
        };
        self.stats.requests += 1;
        let result = match self.technique {
            // A fresh handshake (nonce and key source) for every connection.
            Technique::WebSocket => {
                let h = ws::ClientHandshake::new(pushwire::entropy::OsEntropy);
                #[cfg(feature = "deflate")]
                let h = if self.deflate {
                    h.with_deflate(ws::deflate::ClientConfig::default())
                } else {
                    h
                };
                let sent =
                    h.send_request("bench", &target, &[], &[], &mut self.http, &mut self.out);
                self.handshake = Some(h);
                sent
            }
            _ => self.http.send_request(
                "GET",
                &target,
                &[("Host", b"bench")],
                client::RequestBody::Empty,
                &mut self.out,
            ),
        };
        result.expect("a valid request");
    }

    pub fn event(&mut self, text: &[u8]) {
        let text = String::from_utf8_lossy(text);
        let field = |name: &str| -> Option<u64> {
            let rest = &text[text.find(name)? + name.len()..];
            rest[..rest.find(|c: char| !c.is_ascii_digit())?]
                .parse()
                .ok()
        };
        if text.contains("\"gap\"") {
            // Events that fell out of history: an explicit notice, not a loss.
            self.stats.gaps += 1;
            if let Some(to) = field("\"to\":") {
                self.cursor = self.cursor.max(to);
            }
            return;
        }
        if let (Some(seq), Some(ts)) = (field("\"seq\":"), field("\"ts\":")) {
            if seq <= self.cursor {
                self.stats.repeated += 1;
                return;
            }
            self.stats.missed += seq - self.cursor - 1;
            self.cursor = seq;
            self.stats.delivered += 1;
            self.stats
                .latencies_us
                .push(unix_ns().saturating_sub(ts) / 1000);
        }
    }

    /// Offers buffered input to the machines.
    pub fn process(&mut self) {
        let mut body = Vec::new();
        loop {
            if let Some(conn) = self.ws.as_mut() {
                let mut out = Vec::new();
                let Ok(step) = conn.feed(At::ZERO, &mut self.inbuf, &mut out) else {
                    return;
                };
                let used = step.consumed;
                let text = match step.event {
                    Some(ws::Event::Text(t)) => Some(t.into_owned()),
                    _ => None,
                };
                self.inbuf.drain(..used);
                self.out.extend_from_slice(&out);
                if let Some(t) = text {
                    self.event(t.as_bytes());
                } else if used == 0 {
                    return;
                }
                continue;
            }
            let Ok(step) = self.http.feed(&self.inbuf) else {
                return;
            };
            let used = step.consumed;
            let progressed = used > 0 || step.event.is_some();
            let mut ended = false;
            let mut upgraded = false;
            match step.event {
                Some(client::Event::Response(r)) => {
                    if r.status == 204 {
                        self.stats.empty += 1;
                    }
                    if let (Some(h), 101) = (self.handshake.take(), r.status) {
                        let (proof, _) = h.verify(&r, &[]).expect("101");
                        self.ws = Some(ws::Connection::new(proof, &Limits::default()));
                    }
                }
                Some(client::Event::Data(d)) => body.extend_from_slice(d),
                Some(client::Event::End) => ended = true,
                Some(client::Event::Upgraded { .. }) => upgraded = true,
                _ => {}
            }
            // For an upgrade, the leftover stays in `inbuf` for the WebSocket machine.
            if !upgraded {
                self.inbuf.drain(..used);
            }
            if self.technique == Technique::Sse && !body.is_empty() {
                let mut rest = &body[..];
                while !rest.is_empty() {
                    let Ok(s) = self.parser.feed(rest) else { break };
                    rest = &rest[s.consumed..];
                    if let Some(sse::Item::Event(e)) = s.item {
                        self.event(e.data.as_bytes());
                    }
                }
                body.clear();
            }
            if ended {
                for line in body
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(|l| l.to_vec())
                    .collect::<Vec<_>>()
                {
                    self.event(&line);
                }
                body.clear();
                match self.technique {
                    Technique::ShortPoll(ms) => {
                        self.next_poll = Some(Instant::now() + Duration::from_millis(ms))
                    }
                    _ => self.ask(),
                }
            }
            if !progressed && !upgraded {
                return;
            }
        }
    }
}

/// The child process: the ready server on one worker thread.
pub fn serve(port: u16) -> io::Result<()> {
    serve_with(port, None)
}

/// The child process, sharing its topics through the Redis at `redis` if given.
pub fn serve_with(port: u16, redis: Option<&str>) -> io::Result<()> {
    let limits = Limits {
        longpoll_timeout: Duration::from_secs(30),
        ..Limits::default()
    };
    let builder = Server::builder()
        .bind(("127.0.0.1", port))
        .threads(1)
        .limits(limits.clone())
        .tick(tick_interval(&limits));
    // As the demo: WebSocket clients that offer compression get it.
    #[cfg(feature = "deflate")]
    let builder = builder.ws_deflate(ws::deflate::ServerConfig::default());
    let hub = HubServer::new(limits.clone(), b"compare");
    let Some(url) = redis else {
        return builder.build(hub)?.run();
    };
    #[cfg(feature = "redis")]
    {
        let url: pushwire::server::redis::RedisUrl = url.parse().map_err(io::Error::other)?;
        let link = pushwire::server::redis::Link::new(url, limits.history_events);
        let server = builder.build(hub.with_redis(link.clone()))?;
        link.start(server.handle())?;
        server.run()
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = url;
        Err(io::Error::other(
            "--redis: this build has no `redis` feature",
        ))
    }
}

/// Server CPU time (s) and RSS (bytes) from /proc.
pub fn server_usage(pid: u32) -> (f64, i64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let cpu = stat.rfind(')').and_then(|i| {
        let f: Vec<&str> = stat[i + 2..].split(' ').collect();
        Some((f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?) as f64 / 100.0)
    });
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<i64>().ok())
        });
    (cpu.unwrap_or(0.0), rss.unwrap_or(0) * 1024)
}

/// Starts this program again as the server (`--serve --port P`) and waits until it listens.
pub fn spawn_server() -> io::Result<(std::process::Child, SocketAddr)> {
    spawn_server_on(21000 + (std::process::id() % 1000) as u16, &[])
}

/// Starts this program with `--serve --port <port>` and `extra` arguments; waits until it
/// listens.
pub fn spawn_server_on(port: u16, extra: &[&str]) -> io::Result<(std::process::Child, SocketAddr)> {
    let addr: SocketAddr = format!("127.0.0.1:{port}")
        .parse()
        .map_err(io::Error::other)?;
    let server = std::process::Command::new(std::env::current_exe()?)
        .args(["--serve", "--port", &port.to_string()])
        .args(extra)
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let started = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        if started.elapsed() > Duration::from_secs(10) {
            return Err(io::Error::other("the server did not start"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((server, addr))
}

/// Publishes `body` to `topic` over a kept-alive connection and waits for the answer.
pub fn publish(
    publisher: &mut std::net::TcpStream,
    http: &mut client::Connection,
    topic: &str,
    body: &[u8],
) -> io::Result<()> {
    publish_acked(publisher, http, topic, body).map(|_| ())
}

/// Publishes like [`publish`]; the sequence number, or `None` when the server did not store
/// the event (a `503` while its broker is down).
pub fn publish_acked(
    publisher: &mut std::net::TcpStream,
    http: &mut client::Connection,
    topic: &str,
    body: &[u8],
) -> io::Result<Option<u64>> {
    let mut out = Vec::new();
    let target = format!("/publish?topic={topic}");
    let framing = client::RequestBody::Length(body.len() as u64);
    http.send_request("POST", &target, &[("Host", b"bench")], framing, &mut out)
        .map_err(io::Error::other)?;
    http.send_body(body, &mut out).map_err(io::Error::other)?;
    publisher.write_all(&out)?;
    let (status, body) = read_response(publisher, http)?;
    Ok((status == 200)
        .then(|| std::str::from_utf8(&body).ok()?.trim().parse().ok())
        .flatten())
}

/// `n` clients of `technique` on `topic` from its start, registered with `poll` (tokens 0..n)
/// and asking; WebSocket clients offer compression when `deflate`.
pub fn connect_all(
    poll: &mio::Poll,
    addr: SocketAddr,
    technique: Technique,
    topic: &str,
    n: usize,
    deflate: bool,
) -> io::Result<Vec<Client>> {
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        let mut c = Client::new(addr, technique, topic, 0)?;
        c.deflate = deflate;
        poll.registry().register(
            &mut c.socket,
            mio::Token(i),
            mio::Interest::READABLE | mio::Interest::WRITABLE,
        )?;
        c.ask();
        clients.push(c);
    }
    Ok(clients)
}

/// One turn of a benchmark's event loop: waits up to `wait` for readiness, lets the ready
/// clients read, then lets every client act on the time (polls due, output to write).
pub fn pump(
    poll: &mut mio::Poll,
    events: &mut mio::Events,
    clients: &mut [Client],
    buf: &mut [u8],
    wait: Duration,
) -> io::Result<()> {
    poll.poll(events, Some(wait))?;
    for event in events.iter() {
        if let Some(c) = clients.get_mut(event.token().0) {
            c.on_ready(event.is_readable(), buf);
        }
    }
    let now = Instant::now();
    for c in clients {
        c.tick(now);
    }
    Ok(())
}

impl Client {
    /// The socket is ready: read what is there and hand it to the machines.
    pub fn on_ready(&mut self, readable: bool, buf: &mut [u8]) {
        self.connected = true;
        if !readable {
            return;
        }
        loop {
            match self.socket.read(buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => {
                    self.stats.bytes += k as u64;
                    self.inbuf.extend_from_slice(&buf[..k]);
                }
            }
        }
        self.process();
    }

    /// Time passes: a short poll that is due asks again; queued output goes out.
    pub fn tick(&mut self, now: Instant) {
        if self.next_poll.is_some_and(|t| now >= t) {
            self.next_poll = None;
            self.ask();
        }
        if !self.out.is_empty() && self.connected {
            match self.socket.write(&self.out) {
                Ok(k) => {
                    self.stats.bytes += k as u64;
                    self.out.drain(..k);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => self.out.clear(),
            }
        }
    }
}
