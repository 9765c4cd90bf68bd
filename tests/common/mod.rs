//! Helpers shared by the integration tests.
#![allow(dead_code)]

#[cfg(feature = "cli")]
pub mod binary;
pub mod proxy;
#[cfg(feature = "redis-tests")]
pub mod redis;

use pushwire::http::{self, BodyKind, Event, Version};
use pushwire::{Instant, Limits};

/// An owned copy of a server event, with data merged across splits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    Request {
        method: String,
        target: String,
        version: Version,
        body: BodyKind,
    },
    Data(Vec<u8>),
    End,
    Upgraded(Vec<u8>),
}

#[derive(Debug, PartialEq, Eq)]
pub struct Run {
    pub events: Vec<Ev>,
    pub out: Vec<u8>,
    pub consumed: usize,
    pub error: Option<http::PeerError>,
}

/// Drives an HTTP server connection, offering `input` in the pieces given by `cuts` (sorted
/// offsets); each complete request is answered with its body echoed back.
pub fn drive_http(limits: &Limits, input: &[u8], cuts: &[usize]) -> Run {
    let mut conn = http::Connection::new(Instant::ZERO, limits);
    let mut run = Run {
        events: Vec::new(),
        out: Vec::new(),
        consumed: 0,
        error: None,
    };
    let mut ends: Vec<usize> = cuts
        .iter()
        .copied()
        .filter(|&c| c > 0 && c < input.len())
        .collect();
    ends.push(input.len());
    let mut body = Vec::new();
    for &offered in &ends {
        loop {
            let avail = &input[run.consumed..offered];
            match conn.feed(Instant::ZERO, avail, &mut run.out) {
                Err(e) => {
                    run.error = Some(e);
                    return run;
                }
                Ok(step) => {
                    assert!(step.consumed <= avail.len());
                    run.consumed += step.consumed;
                    let progressed = step.consumed > 0 || step.event.is_some();
                    match step.event {
                        Some(Event::Request(r)) => {
                            body.clear();
                            run.events.push(Ev::Request {
                                method: r.method.into(),
                                target: r.target.into(),
                                version: r.version,
                                body: r.body,
                            });
                        }
                        Some(Event::Data(d)) => {
                            body.extend_from_slice(d);
                            match run.events.last_mut() {
                                Some(Ev::Data(prev)) => prev.extend_from_slice(d),
                                _ => run.events.push(Ev::Data(d.to_vec())),
                            }
                        }
                        Some(Event::End) => {
                            run.events.push(Ev::End);
                            conn.respond(200, &[], &body, &mut run.out).unwrap();
                        }
                        Some(Event::Upgraded { leftover }) => {
                            run.events.push(Ev::Upgraded(leftover.to_vec()))
                        }
                        Some(_) => {}
                        None => {}
                    }
                    if !progressed {
                        break;
                    }
                }
            }
        }
    }
    run
}

/// A server and a client WebSocket machine that completed the handshake with each other.
pub fn ws_pair(limits: &Limits) -> (pushwire::ws::Connection, pushwire::ws::Connection) {
    ws_pair_with(
        limits,
        pushwire::ws::ClientHandshake::new(pushwire::entropy::OsEntropy),
    )
}

/// As [`ws_pair`], the client from `handshake` (a chosen nonce and key source).
pub fn ws_pair_with(
    limits: &Limits,
    handshake: pushwire::ws::ClientHandshake,
) -> (pushwire::ws::Connection, pushwire::ws::Connection) {
    use pushwire::ws;
    let mut client_http = http::client::Connection::new(limits);
    let mut request = Vec::new();
    handshake
        .send_request(
            "example.com",
            "/ws",
            &[],
            &[],
            &mut client_http,
            &mut request,
        )
        .unwrap();
    let mut server_http = http::Connection::new(Instant::ZERO, limits);
    let mut response = Vec::new();
    let step = server_http
        .feed(Instant::ZERO, &request, &mut response)
        .unwrap();
    let Some(Event::Request(req)) = step.event else {
        panic!("request")
    };
    let proof = ws::check_request(&req)
        .unwrap()
        .accept(None, &[], &mut server_http, &mut response)
        .unwrap();
    let step = client_http.feed(&response).unwrap();
    let Some(http::client::Event::Response(resp)) = step.event else {
        panic!("response")
    };
    let (client_proof, _) = handshake.verify(&resp, &[]).unwrap();
    (
        ws::Connection::new(proof, limits),
        ws::Connection::new(client_proof, limits),
    )
}

/// An owned WebSocket event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsEv {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
    Other,
}

/// Feeds `input` to `conn` in pieces ending at `cuts`; returns events, output and any error.
pub fn drive_ws(
    conn: &mut pushwire::ws::Connection,
    input: &[u8],
    cuts: &[usize],
) -> (Vec<WsEv>, Vec<u8>, Option<pushwire::ws::PeerError>, usize) {
    use pushwire::ws::Event as E;
    let mut buf = input.to_vec();
    let mut events = Vec::new();
    let mut out = Vec::new();
    let mut consumed = 0;
    let mut ends: Vec<usize> = cuts
        .iter()
        .copied()
        .filter(|&c| c > 0 && c < buf.len())
        .collect();
    ends.push(buf.len());
    for &offered in &ends {
        loop {
            let avail = &mut buf[consumed..offered];
            let len = avail.len();
            match conn.feed(Instant::ZERO, avail, &mut out) {
                Err(e) => return (events, out, Some(e), consumed),
                Ok(step) => {
                    assert!(step.consumed <= len);
                    consumed += step.consumed;
                    let progressed = step.consumed > 0 || step.event.is_some();
                    if let Some(e) = step.event {
                        events.push(match e {
                            E::Text(t) => WsEv::Text(t.into_owned()),
                            E::Binary(b) => WsEv::Binary(b.into_owned()),
                            E::Ping(p) => WsEv::Ping(p.to_vec()),
                            E::Pong(p) => WsEv::Pong(p.to_vec()),
                            E::Close { code, reason } => {
                                WsEv::Close(code.map(|c| c.0), reason.into())
                            }
                            _ => WsEv::Other,
                        });
                    }
                    if !progressed {
                        break;
                    }
                }
            }
        }
    }
    (events, out, None, consumed)
}

// ----- loopback helpers -----

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A server running on its own threads for one test; shut down gracefully on drop.
pub struct TestServer<N: Send + Sync + 'static> {
    pub addr: SocketAddr,
    pub handle: pushwire::reactor::Handle<N>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl<N: Send + Sync + 'static> TestServer<N> {
    pub fn start<A: pushwire::server::App<Notice = N>>(
        app: A,
        limits: Limits,
        threads: usize,
    ) -> Self {
        let builder = pushwire::reactor::Server::builder()
            .bind("127.0.0.1:0")
            .threads(threads)
            .limits(limits);
        Self::run(builder.build(app).expect("bind"))
    }

    /// One worker, with `App::tick` every `tick`.
    pub fn start_with_tick<A: pushwire::server::App<Notice = N>>(
        app: A,
        limits: Limits,
        tick: Duration,
    ) -> Self {
        let builder = pushwire::reactor::Server::builder()
            .bind("127.0.0.1:0")
            .threads(1)
            .limits(limits)
            .tick(tick);
        Self::run(builder.build(app).expect("bind"))
    }

    /// One worker with `App::tick` every `tick`, on a clock only the test moves (move it,
    /// then `handle.wake()`).
    #[allow(dead_code)]
    pub fn start_virtual<A: pushwire::server::App<Notice = N>>(
        app: A,
        limits: Limits,
        tick: Duration,
    ) -> (Self, std::sync::Arc<pushwire::reactor::ManualClock>) {
        let clock = std::sync::Arc::new(pushwire::reactor::ManualClock::new());
        let builder = pushwire::reactor::Server::builder()
            .threads(1)
            .limits(limits)
            .tick(tick)
            .clock(clock.clone());
        (Self::start_built(builder, app), clock)
    }

    /// Binds `builder` (its address is replaced by an ephemeral loopback port) and runs `app`.
    #[allow(dead_code)]
    pub fn start_built<A: pushwire::server::App<Notice = N>>(
        builder: pushwire::reactor::Builder,
        app: A,
    ) -> Self {
        Self::run(builder.bind("127.0.0.1:0").build(app).expect("bind"))
    }

    fn run<A: pushwire::server::App<Notice = N>>(server: pushwire::reactor::Server<A>) -> Self {
        let addr = server.local_addr();
        let handle = server.handle();
        let thread = Some(std::thread::spawn(move || server.run()));
        TestServer {
            addr,
            handle,
            thread,
        }
    }

    /// Shuts down and waits for `run` to return.
    pub fn stop(mut self) -> std::io::Result<()> {
        self.handle.shutdown();
        self.thread.take().unwrap().join().unwrap()
    }
}

impl<N: Send + Sync + 'static> Drop for TestServer<N> {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.handle.shutdown();
            let _ = t.join();
        }
    }
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| &v[..])
    }
}

/// An HTTP client over a blocking socket, built on the crate's client machine.
pub struct Client {
    pub stream: TcpStream,
    pub http: http::client::Connection,
    pub buf: Vec<u8>,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Self {
        Client {
            stream: connect(addr),
            http: http::client::Connection::new(&Limits::default()),
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, method: &str, target: &str, body: Option<&[u8]>) {
        self.send_with(method, target, &[], body);
    }

    /// Sends a request with header fields besides `Host`.
    pub fn send_with(
        &mut self,
        method: &str,
        target: &str,
        fields: &[(&str, &[u8])],
        body: Option<&[u8]>,
    ) {
        let mut headers: Vec<(&str, &[u8])> = vec![("Host", b"test")];
        headers.extend_from_slice(fields);
        let mut out = Vec::new();
        let framing = match body {
            Some(b) => http::client::RequestBody::Length(b.len() as u64),
            None => http::client::RequestBody::Empty,
        };
        self.http
            .send_request(method, target, &headers, framing, &mut out)
            .unwrap();
        if let Some(b) = body {
            if !b.is_empty() {
                self.http.send_body(b, &mut out).unwrap();
            }
        }
        self.stream.write_all(&out).unwrap();
    }

    /// Reads one complete response (1xx interim heads are skipped).
    pub fn recv(&mut self) -> Option<Resp> {
        let mut resp: Option<Resp> = None;
        loop {
            loop {
                let step = self.http.feed(&self.buf).ok()?;
                let consumed = step.consumed;
                let progressed = consumed > 0 || step.event.is_some();
                let mut done = false;
                match step.event {
                    Some(http::client::Event::Response(r)) if r.status >= 200 => {
                        resp = Some(Resp {
                            status: r.status,
                            headers: r
                                .headers()
                                .map(|(n, v)| (n.to_string(), v.to_vec()))
                                .collect(),
                            body: Vec::new(),
                        });
                    }
                    Some(http::client::Event::Data(d)) => resp.as_mut()?.body.extend_from_slice(d),
                    Some(http::client::Event::End) => done = true,
                    _ => {}
                }
                self.buf.drain(..consumed);
                if done {
                    return resp;
                }
                if !progressed {
                    break;
                }
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => {
                    let _ = self.http.feed_eof();
                    return if matches!(self.http.poll_event(), Some(http::client::Event::End)) {
                        resp
                    } else {
                        None
                    };
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    pub fn get(&mut self, target: &str) -> Resp {
        self.send("GET", target, None);
        self.recv().expect("a response")
    }
}

/// Publishes `body` to `topic` on the hub server at `addr`; the sequence number it got.
pub fn publish(addr: SocketAddr, topic: &str, body: &str) -> u64 {
    let mut c = Client::new(addr);
    c.send(
        "POST",
        &format!("/publish?topic={topic}"),
        Some(body.as_bytes()),
    );
    let r = c.recv().expect("publish answered");
    assert_eq!(r.status, 200);
    String::from_utf8(r.body).unwrap().parse().unwrap()
}

/// Whether the peer closed the connection (EOF or reset) within the read timeout.
pub fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut chunk = [0u8; 65536];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// A WebSocket client over a blocking socket, built on the crate's client machines.
pub struct WsClient {
    pub stream: TcpStream,
    pub conn: pushwire::ws::Connection,
    pub buf: Vec<u8>,
    /// permessage-deflate as agreed in the handshake.
    #[allow(dead_code)]
    pub deflate: Option<pushwire::ws::deflate::Agreement>,
}

impl WsClient {
    pub fn connect(addr: SocketAddr, target: &str) -> Self {
        Self::connect_with(
            addr,
            target,
            pushwire::ws::ClientHandshake::new(pushwire::entropy::OsEntropy),
        )
    }

    /// Connects with a prepared handshake (for example one offering permessage-deflate).
    pub fn connect_with(
        addr: SocketAddr,
        target: &str,
        handshake: pushwire::ws::ClientHandshake,
    ) -> Self {
        Self::try_connect_with(addr, target, handshake).expect("a WebSocket handshake")
    }

    /// [`WsClient::connect`], or `None` if the connection fails before the handshake ends.
    pub fn try_connect(addr: SocketAddr, target: &str) -> Option<Self> {
        let handshake = pushwire::ws::ClientHandshake::new(pushwire::entropy::OsEntropy);
        Self::try_connect_with(addr, target, handshake)
    }

    fn try_connect_with(
        addr: SocketAddr,
        target: &str,
        handshake: pushwire::ws::ClientHandshake,
    ) -> Option<Self> {
        use pushwire::ws;
        let mut stream = connect(addr);
        let mut http = http::client::Connection::new(&Limits::default());
        let mut out = Vec::new();
        handshake
            .send_request("test", target, &[], &[], &mut http, &mut out)
            .unwrap();
        stream.write_all(&out).ok()?;
        let mut buf = Vec::new();
        let proof = loop {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).ok().filter(|&n| n > 0)?;
            buf.extend_from_slice(&chunk[..n]);
            let step = http.feed(&buf).ok()?;
            if let Some(http::client::Event::Response(r)) = step.event {
                let (proof, _) = handshake.verify(&r, &[]).expect("101");
                buf.drain(..step.consumed);
                break proof;
            }
        };
        let deflate = proof.deflate();
        let conn = ws::Connection::new(
            proof,
            &Limits {
                max_message_bytes: 64 << 20,
                max_frame_bytes: 64 << 20,
                ..Limits::default()
            },
        );
        Some(WsClient {
            stream,
            conn,
            buf,
            deflate,
        })
    }

    pub fn send_text(&mut self, text: &str) {
        let mut out = Vec::new();
        self.conn.send_text(text, &mut out).unwrap();
        self.stream.write_all(&out).unwrap();
    }

    pub fn send_binary(&mut self, data: &[u8]) {
        let mut out = Vec::new();
        self.conn.send_binary(data, &mut out).unwrap();
        self.stream.write_all(&out).unwrap();
    }

    pub fn close(&mut self, code: u16) {
        let mut out = Vec::new();
        self.conn
            .send_close(Some(pushwire::ws::CloseCode(code)), "", &mut out)
            .unwrap();
        self.stream.write_all(&out).unwrap();
    }

    /// Reads on until the peer's close frame and asserts its code (RFC 6455 §5.5.1).
    #[allow(dead_code)]
    pub fn expect_close(&mut self, code: u16) {
        loop {
            match self.recv() {
                Some(WsEv::Close(c, _)) => {
                    assert_eq!(c, Some(code));
                    return;
                }
                Some(_) => continue,
                None => panic!("connection ended without a close frame (wanted {code})"),
            }
        }
    }

    /// The next event (pongs are sent automatically); `None` when the connection ended.
    pub fn recv(&mut self) -> Option<WsEv> {
        use pushwire::ws::Event as E;
        loop {
            let mut out = Vec::new();
            let step = match self.conn.feed(Instant::ZERO, &mut self.buf, &mut out) {
                Ok(s) => s,
                Err(_) => return None,
            };
            let consumed = step.consumed;
            let ev = step.event.map(|e| match e {
                E::Text(t) => WsEv::Text(t.into_owned()),
                E::Binary(b) => WsEv::Binary(b.into_owned()),
                E::Ping(p) => WsEv::Ping(p.to_vec()),
                E::Pong(p) => WsEv::Pong(p.to_vec()),
                E::Close { code, reason } => WsEv::Close(code.map(|c| c.0), reason.into()),
                _ => WsEv::Other,
            });
            self.buf.drain(..consumed);
            if !out.is_empty() {
                let _ = self.stream.write_all(&out);
            }
            if let Some(ev) = ev {
                return Some(ev);
            }
            if consumed > 0 {
                continue;
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// A WebSocket echo application: every text or binary message back to its sender; other
/// requests get 404.
#[allow(dead_code)]
pub struct WsEcho;

impl pushwire::server::App for WsEcho {
    type Local = ();
    type Notice = ();
    fn local(&self) {}
    fn request(
        &self,
        _: &mut (),
        req: &http::Request<'_>,
        _: &[u8],
        _: &mut pushwire::server::Ctx<'_, ()>,
    ) -> pushwire::server::Reply {
        if req.is_upgrade() {
            pushwire::server::Reply::WebSocket { protocol: None }
        } else {
            pushwire::server::Response::new(404).into()
        }
    }
    fn ws_message(
        &self,
        _: &mut (),
        message: pushwire::server::Message<'_>,
        cx: &mut pushwire::server::Ctx<'_, ()>,
    ) {
        use pushwire::server::Message;
        let conn = cx.conn().unwrap();
        let _ = match message {
            Message::Text(t) => cx.send_text(conn, t),
            Message::Binary(b) => cx.send_binary(conn, b),
        };
    }
}

/// A masked frame, as a client sends it.
#[allow(dead_code)]
pub fn masked_frame(fin: bool, rsv: u8, opcode: pushwire::ws::OpCode, payload: &[u8]) -> Vec<u8> {
    let key = [0x11, 0x22, 0x33, 0x44];
    let mut out = Vec::new();
    pushwire::ws::Header {
        fin,
        rsv,
        opcode,
        mask: Some(key),
        len: payload.len() as u64,
    }
    .encode(&mut out);
    let start = out.len();
    out.extend_from_slice(payload);
    pushwire::ws::apply_mask(&mut out[start..], key, 0);
    out
}

/// An SSE client reading parsed events.
pub struct Sse {
    pub stream: std::net::TcpStream,
    parser: pushwire::sse::Parser,
    head_done: bool,
    buf: Vec<u8>,
}

impl Sse {
    pub fn open(addr: std::net::SocketAddr, target: &str, last_event_id: Option<u64>) -> Sse {
        let mut stream = connect(addr);
        let id = last_event_id
            .map(|i| format!("Last-Event-ID: {i}\r\n"))
            .unwrap_or_default();
        stream
            .write_all(
                format!("GET {target} HTTP/1.0\r\nAccept: text/event-stream\r\n{id}\r\n")
                    .as_bytes(),
            )
            .unwrap();
        let mut sse = Sse {
            stream,
            parser: pushwire::sse::Parser::new(1 << 21, 1 << 22),
            head_done: false,
            buf: Vec::new(),
        };
        // Once the response head is here the stream is subscribed: events published from then
        // on reach it (no sleeping and hoping).
        while !sse.take_head() && sse.read_more() {}
        sse
    }

    /// Takes the response head from `buf` once it is complete, checking it.
    fn take_head(&mut self) -> bool {
        let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            return false;
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).to_string();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("Content-Type: text/event-stream"), "{head}");
        assert!(head.contains("Cache-Control: no-store"), "{head}");
        self.buf.drain(..end + 4);
        self.head_done = true;
        true
    }

    /// Reads more bytes; false at EOF or timeout.
    fn read_more(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// The next event (type, data, last event id), or None at EOF / timeout.
    pub fn next(&mut self) -> Option<(String, String, String)> {
        loop {
            while self.head_done && !self.buf.is_empty() {
                let step = self.parser.feed(&self.buf).ok()?;
                self.buf.drain(..step.consumed);
                if let Some(pushwire::sse::Item::Event(e)) = step.item {
                    return Some((e.event_type, e.data, e.last_event_id));
                }
            }
            if !self.head_done && self.take_head() {
                continue;
            }
            if !self.read_more() {
                return None;
            }
        }
    }
}

/// Waits (at most 10 s) until `condition` holds: tests wait for a state, never sleep and hope.
pub fn wait_for(condition: impl Fn() -> bool) {
    wait_for_within(Duration::from_secs(10), condition);
}

/// [`wait_for`] with another bound: for what other programs do at their own pace (a Redis
/// cluster forming and its replicas syncing, on a machine busy with other tests).
pub fn wait_for_within(limit: Duration, condition: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "condition not met in {limit:?}"
        );
        std::thread::yield_now();
    }
}

/// `technique`'s `field` in the hub server's `/stats`.
pub fn stat(addr: SocketAddr, technique: &str, field: &str) -> u64 {
    stat_as(addr, None, technique, field)
}

/// [`stat`] on a server with tokens: with `token` (one with the `admin` right).
pub fn stat_as(addr: SocketAddr, token: Option<&str>, technique: &str, field: &str) -> u64 {
    let mut c = Client::new(addr);
    let bearer = token.map(|t| format!("Bearer {t}"));
    let fields: Vec<(&str, &[u8])> = bearer
        .iter()
        .map(|b| ("Authorization", b.as_bytes()))
        .collect();
    c.send_with("GET", "/stats", &fields, None);
    let json = String::from_utf8(c.recv().expect("a response").body).unwrap();
    let rest = &json[json.find(&format!("\"{technique}\":")).unwrap()..];
    let at = rest.find(&format!("\"{field}\":")).unwrap() + field.len() + 3;
    rest[at..]
        .split([',', '}'])
        .next()
        .unwrap()
        .parse()
        .unwrap()
}
