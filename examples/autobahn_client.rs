//! A WebSocket client on `std::net` that speaks the Autobahn|Testsuite client protocol:
//! `GET /getCaseCount`, then `GET /runCase?case=N&agent=pushwire` for every case (echoing each
//! message back), then `GET /updateReports?agent=pushwire`.
//!
//! ```sh
//! cargo run --release --example autobahn_client -- --url ws://127.0.0.1:9001
//! # over TLS, trusting a CA of your own (Mozilla's roots without --ca):
//! cargo run --release --example autobahn_client -- --url wss://localhost:9001 --ca ca.pem
//! ```

use pushwire::http::client;
use pushwire::{Instant, Limits, ws};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[path = "common/args.rs"]
mod args;

fn main() -> io::Result<()> {
    let args = args::Args::parse(
        "autobahn_client: the Autobahn|Testsuite client testee\n\nUsage: autobahn_client [--url ws://HOST:PORT]",
        &[
            args::value(
                "--url",
                "URL",
                "the fuzzing server: ws://HOST:PORT or wss://HOST:PORT (default ws://127.0.0.1:9001)",
            ),
            args::value(
                "--ca",
                "PATH",
                "for wss: trust this PEM CA instead of Mozilla's roots",
            ),
        ],
    );
    let url = args.text("--url").unwrap_or("ws://127.0.0.1:9001");
    let target = Target::from_url(url, args.text("--ca"))
        .unwrap_or_else(|e| args::bad(format!("--url {url}: {e}")));
    let authority = &target;
    let agent = "pushwire";

    let mut count = None;
    session(authority, "/getCaseCount", |msg| {
        count = msg.text().and_then(|text| text.trim().parse::<u32>().ok());
        None
    })?;
    let count = count.ok_or_else(|| io::Error::other("no case count from /getCaseCount"))?;
    println!("{count} cases");
    // One case's failure never ends the run: the suite judges each case from what it saw, and
    // a case that ends the connection abruptly is one of them.
    let mut ended_abnormally = 0;
    for case in 1..=count {
        let target = format!("/runCase?case={case}&agent={agent}");
        if let Err(e) = session(authority, &target, Some) {
            ended_abnormally += 1;
            eprintln!("case {case}: {e}");
        }
    }
    session(authority, &format!("/updateReports?agent={agent}"), |_| {
        None
    })?;
    println!("{count} cases run ({ended_abnormally} ended without a clean close); reports updated");
    Ok(())
}

/// Where the fuzzing server is, and how to reach it.
struct Target {
    authority: String,
    /// For `wss://`: whom to trust.
    #[cfg(feature = "tls")]
    tls: Option<pushwire::tls::ClientTls>,
}

impl Target {
    fn from_url(url: &str, ca: Option<&str>) -> Result<Target, String> {
        if let Some(authority) = url.strip_prefix("ws://") {
            if ca.is_some() {
                return Err("--ca is for wss:// URLs".into());
            }
            return Ok(Target {
                authority: authority.trim_end_matches('/').to_string(),
                #[cfg(feature = "tls")]
                tls: None,
            });
        }
        #[cfg(feature = "tls")]
        if let Some(authority) = url.strip_prefix("wss://") {
            let tls = match ca {
                Some(path) => {
                    pushwire::tls::ClientTls::with_ca_file(path).map_err(|e| e.to_string())?
                }
                None => pushwire::tls::ClientTls::webpki_roots(),
            };
            return Ok(Target {
                authority: authority.trim_end_matches('/').to_string(),
                tls: Some(tls),
            });
        }
        Err("expected ws://HOST:PORT or wss://HOST:PORT".into())
    }

    /// The host, for SNI and certificate checks: the authority without its port.
    #[cfg(feature = "tls")]
    fn host(&self) -> &str {
        match self.authority.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => &self.authority,
        }
    }

    fn connect(&self) -> io::Result<Transport> {
        let tcp = TcpStream::connect(&self.authority)?;
        tcp.set_nodelay(true)?;
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return Ok(Transport::Tls(Box::new(tls.connect(self.host(), tcp)?)));
        }
        Ok(Transport::Plain(tcp))
    }
}

/// The connection under the WebSocket: TCP, or TLS over it.
enum Transport {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<pushwire::tls::TlsStream>),
}

impl Transport {
    fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(tcp) => tcp,
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.get_ref(),
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(tcp) => tcp.read(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(tcp) => tcp.write(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(tcp) => tcp.flush(),
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.flush(),
        }
    }
}

/// A received message, owned, so the handler can give it back for echoing.
enum Message {
    Text(String),
    Binary(Vec<u8>),
}

impl Message {
    fn text(&self) -> Option<&str> {
        match self {
            Message::Text(t) => Some(t),
            Message::Binary(_) => None,
        }
    }
}

fn now() -> Instant {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    Instant::from_micros(start.elapsed().as_micros() as u64)
}

/// Opens a WebSocket to `target`, passes every message to `on_message` (sending back what it
/// returns), and runs until the connection is closed.
fn session(
    target_server: &Target,
    target: &str,
    mut on_message: impl FnMut(Message) -> Option<Message>,
) -> io::Result<()> {
    let limits = Limits {
        max_frame_bytes: 64 << 20,
        max_message_bytes: 64 << 20,
        ..Limits::default()
    };
    let authority = target_server.authority.as_str();
    let mut stream = target_server.connect()?;
    let mut buf = Vec::new();
    let mut out = Vec::new();

    // Opening handshake over the HTTP client machine.
    // The nonce and every masking key come from the operating system's random source.
    let handshake = ws::ClientHandshake::new(pushwire::entropy::OsEntropy);
    // With the `deflate` feature: offer permessage-deflate (Autobahn sections 12 and 13).
    #[cfg(feature = "deflate")]
    let handshake = handshake.with_deflate(ws::deflate::ClientConfig::default());
    let mut http = client::Connection::new(&limits);
    handshake
        .send_request(authority, target, &[], &[], &mut http, &mut out)
        .map_err(io::Error::other)?;
    stream.write_all(&out)?;
    out.clear();
    let mut proof = None;
    let mut pending = Some(handshake);
    let leftover = 'handshake: loop {
        if !read_more(&mut stream, &mut buf, None)? {
            return Err(io::Error::other("closed during the handshake"));
        }
        loop {
            let step = http.feed(&buf).map_err(io::Error::other)?;
            let progressed = step.consumed > 0 || step.event.is_some();
            match step.event {
                Some(client::Event::Response(resp)) => {
                    let handshake = pending
                        .take()
                        .ok_or_else(|| io::Error::other("two answers"))?;
                    let (p, _) = handshake.verify(&resp, &[]).map_err(io::Error::other)?;
                    proof = Some(p);
                }
                Some(client::Event::Upgraded { leftover }) => break 'handshake leftover.to_vec(),
                _ => {}
            }
            let consumed = step.consumed;
            buf.drain(..consumed);
            if !progressed {
                break;
            }
        }
    };

    let mut conn = ws::Connection::new(proof.expect("verified"), &limits);
    conn.start(now());
    buf = leftover;
    loop {
        while let Ok(step) = conn.feed(now(), &mut buf, &mut out) {
            let progressed = step.consumed > 0 || step.event.is_some();
            let reply = match step.event {
                Some(ws::Event::Text(t)) => on_message(Message::Text(t.into_owned())),
                Some(ws::Event::Binary(b)) => on_message(Message::Binary(b.into_owned())),
                _ => None,
            };
            let _ = match reply {
                Some(Message::Text(t)) => conn.send_text(&t, &mut out),
                Some(Message::Binary(b)) => conn.send_binary(&b, &mut out),
                None => Ok(()),
            };
            let consumed = step.consumed;
            buf.drain(..consumed);
            if !progressed {
                break;
            }
        }
        if let Err(e) = stream.write_all(&out) {
            // The server may already have ended TCP after the closing handshake.
            return transport_ended(&mut conn, e);
        }
        out.clear();
        if conn.is_closed() {
            return Ok(());
        }
        match read_more(&mut stream, &mut buf, conn.poll_timeout()) {
            Ok(true) => {}
            Ok(false) => return conn.feed_eof(now()).map_err(io::Error::other),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                conn.handle_timeout(now(), &mut out);
            }
            Err(e) => return transport_ended(&mut conn, e),
        }
    }
}

/// The transport failed. A reset or broken pipe is the end of TCP like a FIN is: after the
/// closing handshake the server closes first (RFC 6455 §7.1.1), so it is a clean end then;
/// the machine decides ([`ws::Connection::feed_eof`]).
fn transport_ended(conn: &mut ws::Connection, e: io::Error) -> io::Result<()> {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => conn
            .feed_eof(now())
            .map_err(|closure| io::Error::new(e.kind(), format!("{e} ({closure})"))),
        _ => Err(e),
    }
}

/// Reads into `buf`, waiting at most until `deadline`; `Ok(false)` on EOF.
fn read_more(
    stream: &mut Transport,
    buf: &mut Vec<u8>,
    deadline: Option<Instant>,
) -> io::Result<bool> {
    let wait = deadline.map(|d| {
        d.saturating_duration_since(now())
            .max(Duration::from_millis(1))
    });
    stream.tcp().set_read_timeout(wait)?;
    let mut chunk = [0u8; 64 * 1024];
    let n = stream.read(&mut chunk)?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}
