//! TLS over real sockets, with certificates made for each test: https, event streams and
//! long-polls over https, `wss://` echo of large messages, plaintext and TLS listeners on one
//! server, certificates chosen by SNI, and the hostile cases (a handshake that stalls, garbage
//! instead of a ClientHello, a certificate the client does not trust).
#![cfg(feature = "tls")]

mod common;

use common::TestServer;
use pushwire::http::client;
use pushwire::reactor::{ManualClock, Server};
use pushwire::server::HubServer;
use pushwire::server::hub_server::{Notice, tick_interval};
use pushwire::tls::{ClientTls, ServerTls, TlsError, TlsStream};
use pushwire::{Instant, Limits, ws};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// A CA and a certificate it signed for `names`, as PEM: (CA, chain, key).
fn certificate(names: &[&str]) -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "pushwire test CA");
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let leaf = rcgen::CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    (ca.pem(), leaf.pem(), key.serialize_pem())
}

struct Tls {
    server: TestServer<Notice>,
    client: ClientTls,
}

impl Tls {
    /// The ready server on one TLS port.
    fn hub() -> Tls {
        Self::hub_with(Limits::default(), None).0
    }

    fn hub_with(
        limits: Limits,
        clock: Option<Arc<ManualClock>>,
    ) -> (Tls, Option<Arc<ManualClock>>) {
        let (ca, chain, key) = certificate(&["localhost", "127.0.0.1"]);
        let tick = tick_interval(&limits);
        let hub = HubServer::new(limits.clone(), b"<html>page</html>");
        let mut builder = Server::builder()
            .threads(1)
            .limits(limits)
            .tick(tick)
            .tls(ServerTls::from_pem(chain.as_bytes(), key.as_bytes()).unwrap());
        if let Some(clock) = &clock {
            builder = builder.clock(clock.clone());
        }
        let server = TestServer::start_built(builder, hub);
        let client = ClientTls::with_ca_pem(ca.as_bytes()).unwrap();
        (Tls { server, client }, clock)
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    fn connect(&self) -> TlsStream {
        let tcp = common::connect(self.addr());
        self.client.connect("localhost", tcp).expect("handshake")
    }
}

/// One HTTP exchange per call over a TLS stream, read with the crate's client machine.
struct Https {
    stream: TlsStream,
    http: client::Connection,
    buf: Vec<u8>,
}

struct Answer {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Https {
    fn new(stream: TlsStream) -> Self {
        Https {
            stream,
            http: client::Connection::new(&Limits::default()),
            buf: Vec::new(),
        }
    }

    fn send(&mut self, method: &str, target: &str, body: &[u8]) {
        let mut out = Vec::new();
        let framing = if method == "POST" {
            client::RequestBody::Length(body.len() as u64)
        } else {
            client::RequestBody::Empty
        };
        self.http
            .send_request(method, target, &[("Host", b"localhost")], framing, &mut out)
            .unwrap();
        if !body.is_empty() {
            self.http.send_body(body, &mut out).unwrap();
        }
        self.stream.write_all(&out).unwrap();
    }

    /// The next response in full.
    fn recv(&mut self) -> Answer {
        let mut answer: Option<Answer> = None;
        loop {
            loop {
                let step = self.http.feed(&self.buf).expect("a valid response");
                let consumed = step.consumed;
                let progressed = consumed > 0 || step.event.is_some();
                let mut done = false;
                match step.event {
                    Some(client::Event::Response(r)) => {
                        answer = Some(Answer {
                            status: r.status,
                            headers: r
                                .headers()
                                .map(|(n, v)| (n.to_ascii_lowercase(), v.to_vec()))
                                .collect(),
                            body: Vec::new(),
                        });
                    }
                    Some(client::Event::Data(d)) => {
                        answer.as_mut().unwrap().body.extend_from_slice(d)
                    }
                    Some(client::Event::End) => done = true,
                    _ => {}
                }
                self.buf.drain(..consumed);
                if done {
                    return answer.unwrap();
                }
                if !progressed {
                    break;
                }
            }
            let mut chunk = [0u8; 16384];
            let n = self.stream.read(&mut chunk).expect("read");
            assert!(n > 0, "connection ended before the response did");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn request(&mut self, method: &str, target: &str, body: &[u8]) -> Answer {
        self.send(method, target, body);
        self.recv()
    }

    /// Reads until `needle` has arrived (a streamed body); what came so far.
    fn read_until(&mut self, needle: &str) -> String {
        loop {
            let text = String::from_utf8_lossy(&self.buf).to_string();
            if text.contains(needle) {
                return text;
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).unwrap_or(0);
            assert!(n > 0, "stream ended before {needle:?}; got {text:?}");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn publish(tls: &Tls, topic: &str, body: &str) -> u64 {
    let mut c = Https::new(tls.connect());
    let r = c.request("POST", &format!("/publish?topic={topic}"), body.as_bytes());
    assert_eq!(r.status, 200);
    String::from_utf8(r.body).unwrap().trim().parse().unwrap()
}

#[test]
fn https_get_over_keep_alive() {
    let tls = Tls::hub();
    let mut c = Https::new(tls.connect());
    for _ in 0..3 {
        let page = c.request("GET", "/", b"");
        assert_eq!(page.status, 200);
        assert_eq!(page.body, b"<html>page</html>");
    }
    let text = c.request("GET", "/plaintext", b"");
    assert_eq!(text.body, b"Hello, World!");
    let length = text.headers.iter().find(|(n, _)| n == "content-length");
    assert_eq!(length.map(|(_, v)| &v[..]), Some(&b"13"[..]));
    // POST bodies arrive whole through the record layer.
    let body = vec![b'x'; 200_000];
    let echoed = c.request("POST", "/echo", &body);
    assert_eq!(echoed.status, 200);
    assert_eq!(echoed.body, body);
}

#[test]
fn event_stream_over_https() {
    let tls = Tls::hub();
    let mut sse = Https::new(tls.connect());
    sse.send("GET", "/events?topic=news", b"");
    let head = sse.read_until("\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/event-stream"), "{head}");
    let seq = publish(&tls, "news", "over https");
    let got = sse.read_until("\"over https\"}\n\n");
    assert!(
        got.contains(&format!(
            "id: {seq}\ndata: {{\"topic\":\"news\",\"seq\":{seq},"
        )),
        "{got}"
    );
}

#[test]
fn long_poll_over_https() {
    let tls = Tls::hub();
    let mut poll = Https::new(tls.connect());
    poll.send("GET", "/poll?topic=jobs&cursor=0", b"");
    // The poll is parked once the hub counts it.
    let mut stats = Https::new(tls.connect());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = stats.request("GET", "/stats", b"");
        let json = String::from_utf8_lossy(&r.body).to_string();
        let long_poll = &json[json.find("\"long_poll\":").unwrap()..];
        if long_poll.contains("\"connections\":1,") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the poll was not parked: {json}"
        );
    }
    let seq = publish(&tls, "jobs", "done");
    let answer = poll.recv();
    assert_eq!(answer.status, 200);
    let body = String::from_utf8(answer.body).unwrap();
    assert!(
        body.contains("done") && body.contains(&seq.to_string()),
        "{body}"
    );
}

/// A WebSocket over TLS, on the crate's client machine.
struct Wss {
    stream: TlsStream,
    conn: ws::Connection,
    buf: Vec<u8>,
}

impl Wss {
    fn open(stream: TlsStream, target: &str) -> Wss {
        let mut stream = stream;
        let limits = Limits {
            max_message_bytes: 64 << 20,
            max_frame_bytes: 64 << 20,
            ..Limits::default()
        };
        let handshake = ws::ClientHandshake::new(pushwire::entropy::OsEntropy);
        let mut http = client::Connection::new(&limits);
        let mut out = Vec::new();
        handshake
            .send_request("localhost", target, &[], &[], &mut http, &mut out)
            .unwrap();
        stream.write_all(&out).unwrap();
        let mut buf = Vec::new();
        let proof = loop {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).unwrap();
            assert!(n > 0, "closed during the WebSocket handshake");
            buf.extend_from_slice(&chunk[..n]);
            let step = http.feed(&buf).unwrap();
            if let Some(client::Event::Response(r)) = step.event {
                let (proof, _) = handshake.verify(&r, &[]).expect("101");
                buf.drain(..step.consumed);
                break proof;
            }
        };
        Wss {
            stream,
            conn: ws::Connection::new(proof, &limits),
            buf,
        }
    }

    fn send_binary(&mut self, data: &[u8]) {
        let mut out = Vec::new();
        self.conn.send_binary(data, &mut out).unwrap();
        self.stream.write_all(&out).unwrap();
    }

    fn send_text(&mut self, text: &str) {
        let mut out = Vec::new();
        self.conn.send_text(text, &mut out).unwrap();
        self.stream.write_all(&out).unwrap();
    }

    /// The next data message, or the close code.
    fn recv(&mut self) -> Result<Vec<u8>, Option<u16>> {
        loop {
            let mut out = Vec::new();
            let step = self
                .conn
                .feed(Instant::ZERO, &mut self.buf, &mut out)
                .map_err(|_| None)?;
            let consumed = step.consumed;
            let got = match step.event {
                Some(ws::Event::Binary(b)) => Some(Ok(b.into_owned())),
                Some(ws::Event::Text(t)) => Some(Ok(t.into_owned().into_bytes())),
                Some(ws::Event::Close { code, .. }) => Some(Err(code.map(|c| c.0))),
                _ => None,
            };
            self.buf.drain(..consumed);
            if !out.is_empty() {
                let _ = self.stream.write_all(&out);
            }
            if let Some(got) = got {
                return got;
            }
            if consumed > 0 {
                continue;
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return Err(None),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

#[test]
fn wss_echo_of_small_and_large_messages() {
    let tls = Tls::hub();
    let mut ws = Wss::open(tls.connect(), "/echo");
    ws.send_text("hello over wss");
    assert_eq!(ws.recv().unwrap(), b"hello over wss");
    // 4 MiB each way: more than rustls buffers and more than the socket takes at once, so the
    // records wait for writability in both directions.
    let big: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
    ws.send_binary(&big);
    assert!(
        ws.recv().unwrap() == big,
        "the 4 MiB message came back changed"
    );
    ws.send_text("after");
    assert_eq!(ws.recv().unwrap(), b"after");
}

#[test]
fn wss_subscription_gets_published_events() {
    let tls = Tls::hub();
    let mut ws = Wss::open(tls.connect(), "/ws?topic=scores");
    let seq = publish(&tls, "scores", "3-1");
    let frame = String::from_utf8(ws.recv().unwrap()).unwrap();
    assert!(
        frame.contains("3-1") && frame.contains(&seq.to_string()),
        "{frame}"
    );
}

#[test]
fn plaintext_and_tls_listeners_on_one_server() {
    let (ca, chain, key) = certificate(&["localhost"]);
    let limits = Limits::default();
    let server = Server::builder()
        .bind("127.0.0.1:0")
        .tls(ServerTls::from_pem(chain.as_bytes(), key.as_bytes()).unwrap())
        .bind_tls("127.0.0.1:0")
        .threads(2)
        .limits(limits.clone())
        .build(HubServer::new(limits, b"page"))
        .unwrap();
    let plain = server.local_addr();
    let secure = server.tls_addr().expect("a TLS address");
    assert_ne!(plain, secure);
    let handle = server.handle();
    let thread = std::thread::spawn(move || server.run());

    let mut c = common::Client::new(plain);
    assert_eq!(c.get("/plaintext").body, b"Hello, World!");
    let client = ClientTls::with_ca_pem(ca.as_bytes()).unwrap();
    let mut s = Https::new(
        client
            .connect("localhost", common::connect(secure))
            .unwrap(),
    );
    assert_eq!(s.request("GET", "/plaintext", b"").body, b"Hello, World!");
    // A TLS client on the plaintext port fails its handshake, without harm to the server.
    assert!(client.connect("localhost", common::connect(plain)).is_err());
    assert_eq!(c.get("/plaintext").status, 200);

    handle.shutdown();
    thread.join().unwrap().unwrap();
}

#[test]
fn garbage_instead_of_a_client_hello_closes_the_connection() {
    let tls = Tls::hub();
    for garbage in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        &[0x16, 0x03, 0x01, 0xff, 0xff, 0x01][..],
        &[0x16, 0x03, 0x03, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00][..],
        &[0u8; 64][..],
    ] {
        let mut tcp = common::connect(tls.addr());
        tcp.write_all(garbage).unwrap();
        // The server answers with at most an alert record and closes.
        let mut got = Vec::new();
        let _ = tcp.read_to_end(&mut got);
        assert!(got.len() < 64, "{} bytes came back", got.len());
        if let Some(first) = got.first() {
            assert_eq!(*first, 0x15, "an alert record, or nothing: {got:?}");
        }
    }
    // The server still serves.
    let mut c = Https::new(tls.connect());
    assert_eq!(c.request("GET", "/plaintext", b"").status, 200);
}

#[test]
fn a_stalled_handshake_is_cut_at_the_header_deadline() {
    let limits = Limits {
        header_timeout: Duration::from_secs(5),
        ..Limits::default()
    };
    let clock = Arc::new(ManualClock::new());
    let (tls, clock) = Tls::hub_with(limits, Some(clock));
    let clock = clock.unwrap();
    // Half a ClientHello from a real client: the first 40 bytes of what rustls sends.
    let mut hello = Vec::new();
    {
        let config = tls.client.rustls_config();
        let name = "localhost".try_into().unwrap();
        let mut conn = rustls::ClientConnection::new(config, name).unwrap();
        conn.write_tls(&mut hello).unwrap();
    }
    let mut stalled = common::connect(tls.addr());
    stalled.write_all(&hello[..40]).unwrap();
    let mut silent = common::connect(tls.addr());
    // Before the deadline both are open: a completed connection opened after them still works.
    let mut c = Https::new(tls.connect());
    assert_eq!(c.request("GET", "/plaintext", b"").status, 200);
    clock.advance(Duration::from_secs(6));
    tls.server.handle.wake();
    for s in [&mut stalled, &mut silent] {
        let mut rest = Vec::new();
        // EOF (or a reset) within the read timeout: the server closed it.
        let ended = match s.read_to_end(&mut rest) {
            Ok(_) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        };
        assert!(ended, "the connection is still open");
    }
}

#[test]
fn an_untrusted_certificate_or_wrong_name_fails_the_handshake() {
    let tls = Tls::hub();
    let (other_ca, _, _) = certificate(&["localhost"]);
    let stranger = ClientTls::with_ca_pem(other_ca.as_bytes()).unwrap();
    let err = stranger
        .connect("localhost", common::connect(tls.addr()))
        .unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
    let err = tls
        .client
        .connect("elsewhere.example", common::connect(tls.addr()))
        .unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
    // Mozilla's roots do not include a test CA either.
    assert!(
        ClientTls::webpki_roots()
            .connect("localhost", common::connect(tls.addr()))
            .is_err()
    );
}

#[test]
fn certificates_chosen_by_server_name() {
    let (ca_a, chain_a, key_a) = certificate(&["a.test"]);
    let (ca_b, chain_b, key_b) = certificate(&["b.test"]);
    let config = ServerTls::from_pem(chain_a.as_bytes(), key_a.as_bytes())
        .unwrap()
        .with_server_name("B.test", chain_b.as_bytes(), key_b.as_bytes())
        .unwrap();
    let limits = Limits::default();
    let builder = Server::builder()
        .threads(1)
        .limits(limits.clone())
        .tls(config);
    let server = TestServer::start_built(builder, HubServer::new(limits, b"page"));
    let trust_a = ClientTls::with_ca_pem(ca_a.as_bytes()).unwrap();
    let trust_b = ClientTls::with_ca_pem(ca_b.as_bytes()).unwrap();
    let tcp = || TcpStream::connect(server.addr).unwrap();
    assert!(trust_b.connect("b.test", tcp()).is_ok());
    assert!(trust_a.connect("a.test", tcp()).is_ok());
    // An unknown name gets the default certificate.
    assert!(trust_a.connect("c.test", tcp()).is_err());
    assert!(trust_b.connect("a.test", tcp()).is_err());
}

#[test]
fn a_reloaded_certificate_serves_new_handshakes_and_open_connections_go_on() {
    let (ca_a, chain_a, key_a) = certificate(&["localhost"]);
    let (ca_b, chain_b, key_b) = certificate(&["localhost"]);
    let dir = std::env::temp_dir().join(format!("pushwire-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &chain_a).unwrap();
    std::fs::write(&key, &key_a).unwrap();
    let config = ServerTls::from_pem_files(&cert, &key).unwrap();
    let limits = Limits::default();
    let builder = Server::builder()
        .threads(1)
        .limits(limits.clone())
        .tls(config.clone());
    let server = TestServer::start_built(builder, HubServer::new(limits, b"page"));
    // Full handshakes each time: a resumed session would not show the certificate again.
    let trust_a = ClientTls::with_ca_pem(ca_a.as_bytes())
        .unwrap()
        .without_resumption();
    let trust_b = ClientTls::with_ca_pem(ca_b.as_bytes())
        .unwrap()
        .without_resumption();
    let tcp = || TcpStream::connect(server.addr).unwrap();
    let mut open = Wss::open(trust_a.connect("localhost", tcp()).unwrap(), "/echo");
    open.send_text("before");
    assert_eq!(open.recv().unwrap(), b"before");
    // A file that does not parse changes nothing.
    std::fs::write(&cert, "not a certificate").unwrap();
    assert!(config.reload_pem_files(&cert, &key).is_err());
    assert!(trust_a.connect("localhost", tcp()).is_ok());
    // The renewed certificate: new handshakes get it; the open connection goes on.
    std::fs::write(&cert, &chain_b).unwrap();
    std::fs::write(&key, &key_b).unwrap();
    config.reload_pem_files(&cert, &key).unwrap();
    assert!(trust_b.connect("localhost", tcp()).is_ok());
    assert!(trust_a.connect("localhost", tcp()).is_err());
    open.send_text("after");
    assert_eq!(open.recv().unwrap(), b"after");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pem_errors_say_what_is_wrong() {
    let (_, chain, key) = certificate(&["localhost"]);
    let (_, _, other_key) = certificate(&["localhost"]);
    assert!(matches!(
        ServerTls::from_pem(b"", key.as_bytes()),
        Err(TlsError::NoCertificate(_))
    ));
    assert!(matches!(
        ServerTls::from_pem(chain.as_bytes(), chain.as_bytes()),
        Err(TlsError::NoPrivateKey(_))
    ));
    assert!(matches!(
        ServerTls::from_pem(chain.as_bytes(), other_key.as_bytes()),
        Err(TlsError::Rustls(_))
    ));
    let missing = ServerTls::from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem");
    assert!(
        matches!(&missing, Err(TlsError::File { path, .. }) if path == "/nonexistent/cert.pem"),
        "{missing:?}"
    );
    assert!(matches!(
        ServerTls::from_pem(chain.as_bytes(), key.as_bytes())
            .unwrap()
            .with_server_name("not a name", chain.as_bytes(), key.as_bytes()),
        Err(TlsError::ServerName(_))
    ));
}

/// Over https the session cookie is `Secure`, so a browser never sends it over plain http.
#[cfg(feature = "auth")]
#[test]
fn the_session_cookie_set_over_https_is_secure() {
    use pushwire::server::auth::Policy;
    use pushwire::server::auth::jwt::{NewToken, Verifier};
    let secret = b"a shared secret of at least 32 bytes, for tests";
    let verifier = || Verifier::new(secret).unwrap();
    let (ca, chain, key) = certificate(&["localhost"]);
    let limits = Limits::default();
    let hub =
        HubServer::new(limits.clone(), b"page").with_policy(Policy::open().tokens(verifier()));
    let server = Server::builder()
        .bind("127.0.0.1:0")
        .tls(ServerTls::from_pem(chain.as_bytes(), key.as_bytes()).unwrap())
        .bind_tls("127.0.0.1:0")
        .threads(1)
        .limits(limits)
        .build(hub)
        .unwrap();
    let (plain, secure) = (server.local_addr(), server.tls_addr().unwrap());
    let handle = server.handle();
    let thread = std::thread::spawn(move || server.run());
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let token = verifier().mint(&NewToken {
        sub: Some("ada"),
        exp,
        aud: None,
        subscribe: &["*"],
        publish: &[],
        admin: false,
    });
    let bearer = format!("Bearer {token}");
    let cookie_of = |headers: &[(String, Vec<u8>)]| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .expect("a Set-Cookie field")
    };

    let client = ClientTls::with_ca_pem(ca.as_bytes()).unwrap();
    let mut s = Https::new(
        client
            .connect("localhost", common::connect(secure))
            .unwrap(),
    );
    let mut out = Vec::new();
    s.http
        .send_request(
            "POST",
            "/session",
            &[("Host", b"localhost"), ("Authorization", bearer.as_bytes())],
            client::RequestBody::Length(0),
            &mut out,
        )
        .unwrap();
    s.stream.write_all(&out).unwrap();
    let over_tls = s.recv();
    assert_eq!(over_tls.status, 204);
    let cookie = cookie_of(&over_tls.headers);
    assert!(
        cookie.ends_with("; HttpOnly; SameSite=Strict; Secure"),
        "{cookie}"
    );

    let mut c = common::Client::new(plain);
    c.send_with(
        "POST",
        "/session",
        &[("Authorization", bearer.as_bytes())],
        Some(b""),
    );
    let over_plain = c.recv().unwrap();
    assert_eq!(over_plain.status, 204);
    let cookie = cookie_of(&over_plain.headers);
    assert!(!cookie.contains("Secure"), "{cookie}");

    handle.shutdown();
    thread.join().unwrap().unwrap();
}

/// The write-queue bound holds through the TLS layer: records rustls holds count as queued
/// output, so everything after them waits in the connection's write queue, and an https event
/// stream that stops reading is dropped when that queue is full (`Limits::write_queue_bytes`)
/// while the server goes on serving. (With neither that count nor rustls's own buffer limit,
/// this stream would grow without bound and the test fails.)
#[test]
fn an_event_stream_over_https_that_stops_reading_is_dropped() {
    let limits = Limits {
        write_queue_bytes: 256 * 1024,
        ..Limits::default()
    };
    let (tls, _) = Tls::hub_with(limits, None);
    let mut stalled = Https::new(tls.connect());
    stalled.send("GET", "/events?topic=flood", b"");
    stalled.read_until("retry:");
    let sse_connections = |tls: &Tls| {
        let mut c = Https::new(tls.connect());
        let json = String::from_utf8(c.request("GET", "/stats", b"").body).unwrap();
        let sse = &json[json.find("\"sse\":").unwrap()..];
        sse.contains("\"connections\":1,")
    };
    assert!(sse_connections(&tls));
    // 60 KB events until the stalled stream is dropped; kernel buffers on loopback hold a few
    // MB, so 400 events (24 MB) are far more than enough.
    let body = "x".repeat(60_000);
    let mut publisher = Https::new(tls.connect());
    let mut published = 0;
    while sse_connections(&tls) {
        assert!(
            published < 400,
            "a stream that never reads was still open after 24 MB"
        );
        let r = publisher.request("POST", "/publish?topic=flood", body.as_bytes());
        assert_eq!(r.status, 200);
        published += 1;
    }
    assert!(
        published > 4,
        "dropped after {published} events: before its queue could fill"
    );
    // The stalled client, reading at last, finds its stream ended.
    let mut rest = Vec::new();
    let ended = match stalled.stream.read_to_end(&mut rest) {
        Ok(_) => true,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
        ),
    };
    assert!(ended, "the dropped stream is still open");
}
