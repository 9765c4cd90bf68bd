//! Access control of the ready server over real sockets: signed tokens (forged, confused,
//! expired, out of scope), where a token may come from, origins and CORS, publish rates, and
//! the end of live streams when their token expires — with resume by cursor losing nothing.
//! Time is a `ManualClock`: tokens expire without waiting.
#![cfg(feature = "auth")]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Client, Resp, Sse, TestServer, WsClient, WsEv, connect, stat_as, wait_for};
use pushwire::Limits;
use pushwire::reactor::ManualClock;
use pushwire::server::HubServer;
use pushwire::server::auth::Policy;
use pushwire::server::auth::jwt::{NewToken, Verifier};
use pushwire::server::auth::rate::Rate;
use pushwire::server::hub_server::{Notice, tick_interval};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

const SECRET: &[u8] = b"a shared secret of at least 32 bytes, for tests";
/// What a `ManualClock` reports as Unix time at its start.
const T0: u64 = 1_767_225_600;

struct Hub {
    server: TestServer<Notice>,
    clock: Arc<ManualClock>,
}

impl Hub {
    fn start(policy: Policy) -> Hub {
        let limits = Limits::default();
        let tick = tick_interval(&limits);
        let hub = HubServer::new(limits.clone(), b"page").with_policy(policy);
        let (server, clock) = TestServer::start_virtual(hub, limits, tick);
        Hub { server, clock }
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.server.handle.wake();
    }
}

fn verifier() -> Verifier {
    Verifier::new(SECRET).unwrap().leeway(0)
}

/// A figure of `/stats`, read with a token that has the `admin` right.
fn stat(addr: SocketAddr, technique: &str, field: &str) -> u64 {
    let admin = verifier().mint(&NewToken {
        exp: T0 + 1_000_000,
        admin: true,
        ..Default::default()
    });
    stat_as(addr, Some(&admin), technique, field)
}

fn tokens() -> Policy {
    Policy::open().tokens(verifier())
}

/// A token for `sub` valid `ttl` seconds from the clock's start.
fn token(subscribe: &[&str], publish: &[&str], ttl: u64) -> String {
    verifier().mint(&NewToken {
        sub: Some("ada"),
        exp: T0 + ttl,
        aud: None,
        subscribe,
        publish,
        admin: false,
    })
}

fn request(addr: SocketAddr, method: &str, target: &str, fields: &[(&str, &[u8])]) -> Resp {
    let mut c = Client::new(addr);
    let body = (method == "POST").then_some(&b"hello"[..]);
    c.send_with(method, target, fields, body);
    c.recv().expect("an answer")
}

fn bearer(token: &str) -> Vec<u8> {
    format!("Bearer {token}").into_bytes()
}

fn challenge(r: &Resp) -> String {
    String::from_utf8_lossy(r.header("www-authenticate").unwrap_or_default()).into_owned()
}

/// A token signed with `key` under any `header`: what a forger can make.
fn forge(key: &[u8], header: &str, claims: &str) -> String {
    Verifier::new(key).unwrap().sign(header, claims)
}

#[test]
fn no_token_is_401_with_a_bare_challenge() {
    let hub = Hub::start(tokens());
    for (method, target) in [
        ("POST", "/publish?topic=a"),
        ("GET", "/poll?topic=a&wait=0"),
        ("GET", "/cursor?topic=a"),
        ("GET", "/wire"),
        ("POST", "/drop-streams"),
    ] {
        let r = request(hub.addr(), method, target, &[]);
        assert_eq!(r.status, 401, "{method} {target}");
        // RFC 6750 §3.1: no error code when the request had no credentials.
        assert_eq!(challenge(&r), "Bearer realm=\"pushwire\"");
    }
    // What needs no token stays open.
    assert_eq!(request(hub.addr(), "GET", "/plaintext", &[]).status, 200);
    assert_eq!(stat(hub.addr(), "websocket", "connections"), 0);
}

#[test]
fn forged_confused_and_malformed_tokens_are_401_invalid_token() {
    let hub = Hub::start(tokens());
    let claims = format!(r#"{{"exp":{},"pushwire":{{"publish":["*"]}}}}"#, T0 + 60);
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(&claims)
    );
    let public_key = b"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n";
    let cases = [
        (
            "another secret",
            forge(
                b"another secret, just as long as ours is",
                r#"{"alg":"HS256"}"#,
                &claims,
            ),
        ),
        ("alg none", none),
        ("HS512", forge(SECRET, r#"{"alg":"HS512"}"#, &claims)),
        (
            "RS256 with the public key as secret",
            forge(public_key, r#"{"alg":"RS256"}"#, &claims),
        ),
        (
            "RS256 with our secret",
            forge(SECRET, r#"{"alg":"RS256"}"#, &claims),
        ),
        (
            "crit",
            forge(SECRET, r#"{"alg":"HS256","crit":["x"]}"#, &claims),
        ),
        ("garbage", "not.a.token".into()),
        ("too large", token(&[], &["*"], 60) + &"A".repeat(5000)),
    ];
    for (what, t) in cases {
        let r = request(
            hub.addr(),
            "POST",
            "/publish?topic=a",
            &[("Authorization", &bearer(&t))],
        );
        assert_eq!(r.status, 401, "{what}");
        assert!(
            challenge(&r).contains("error=\"invalid_token\""),
            "{what}: {}",
            challenge(&r)
        );
        assert!(!challenge(&r).contains(&t), "the token is never echoed");
    }
    assert_eq!(stat(hub.addr(), "websocket", "connections"), 0);
    // Nothing was published by any of them.
    let r = request(
        hub.addr(),
        "GET",
        "/cursor?topic=a",
        &[("Authorization", &bearer(&token(&["a"], &[], 60)))],
    );
    assert_eq!(r.body, b"0");
}

#[test]
fn time_and_audience_are_checked() {
    let hub = Hub::start(Policy::open().tokens(verifier().audience("push")));
    let at = |exp: u64, nbf: Option<u64>, aud: &str| {
        let nbf = nbf.map(|n| format!(",\"nbf\":{n}")).unwrap_or_default();
        let claims =
            format!(r#"{{"exp":{exp}{nbf},"aud":"{aud}","pushwire":{{"subscribe":["a"]}}}}"#);
        verifier().sign(r#"{"alg":"HS256","typ":"JWT"}"#, &claims)
    };
    let get = |t: &str| {
        request(
            hub.addr(),
            "GET",
            "/poll?topic=a&wait=0",
            &[("Authorization", &bearer(t))],
        )
    };
    assert_eq!(get(&at(T0 + 60, None, "push")).status, 204);
    let expired = get(&at(T0, None, "push"));
    assert_eq!(expired.status, 401);
    assert!(challenge(&expired).contains("expired"));
    assert_eq!(get(&at(T0 + 60, Some(T0 + 30), "push")).status, 401);
    assert_eq!(get(&at(T0 + 60, None, "elsewhere")).status, 401);
    // The clock moves: the early token becomes valid, the good one expires.
    hub.advance(Duration::from_secs(30));
    wait_for(|| get(&at(T0 + 60, Some(T0 + 30), "push")).status == 204);
    hub.advance(Duration::from_secs(30));
    wait_for(|| get(&at(T0 + 60, None, "push")).status == 401);
}

#[test]
fn a_token_reaches_only_its_topics() {
    let hub = Hub::start(tokens());
    let t = token(&["a", "user.ada.*"], &["a"], 60);
    let auth = bearer(&t);
    let with = [("Authorization", &auth[..])];
    assert_eq!(
        request(hub.addr(), "POST", "/publish?topic=a", &with).status,
        200
    );
    for target in [
        "/publish?topic=ab",
        "/publish?topic=b",
        "/publish?topic=user.ada.x",
    ] {
        let r = request(hub.addr(), "POST", target, &with);
        assert_eq!(r.status, 403, "{target}");
        assert!(challenge(&r).contains("error=\"insufficient_scope\""));
    }
    for (target, status) in [
        ("/poll?topic=a&cursor=0&wait=0", 200),
        ("/poll?topic=user.ada.inbox&wait=0", 204),
        ("/poll?topic=user.bob.inbox&wait=0", 403),
        ("/poll?topic=ab&wait=0", 403),
        ("/poll?topic=b&wait=0", 403),
        ("/poll?topic=user.ada&wait=0", 403),
        // Every topic is asked of `/wire` and `/drop-streams`.
        ("/wire", 403),
    ] {
        assert_eq!(
            request(hub.addr(), "GET", target, &with).status,
            status,
            "{target}"
        );
    }
    assert_eq!(
        request(hub.addr(), "POST", "/drop-streams", &with).status,
        403
    );
    let admin = bearer(&token(&["*"], &["*"], 60));
    let r = request(
        hub.addr(),
        "POST",
        "/drop-streams",
        &[("Authorization", &admin)],
    );
    assert_eq!(r.status, 204);
}

#[test]
fn the_token_may_come_in_the_header_a_cookie_or_the_query() {
    let hub = Hub::start(tokens().cookie("session_token"));
    let t = token(&["a"], &[], 60);
    let target = "/poll?topic=a&wait=0";
    assert_eq!(
        request(hub.addr(), "GET", target, &[("Authorization", &bearer(&t))]).status,
        204
    );
    let cookie = format!("theme=dark; session_token={t}");
    assert_eq!(
        request(hub.addr(), "GET", target, &[("Cookie", cookie.as_bytes())]).status,
        204
    );
    // The default cookie name is not this server's.
    let other = format!("pushwire_token={t}");
    assert_eq!(
        request(hub.addr(), "GET", target, &[("Cookie", other.as_bytes())]).status,
        401
    );
    let query = format!("{target}&access_token={t}");
    assert_eq!(request(hub.addr(), "GET", &query, &[]).status, 204);
    // A WebSocket and an event stream, with the token in the query.
    let mut ws = WsClient::connect(hub.addr(), &format!("/ws?topic=a&access_token={t}"));
    wait_for(|| stat(hub.addr(), "websocket", "connections") == 1);
    let _sse = Sse::open(
        hub.addr(),
        &format!("/events?topic=a&access_token={t}"),
        None,
    );
    ws.close(1000);
}

/// The status line of a raw upgrade request with `fields`.
fn upgrade_status(addr: SocketAddr, target: &str, fields: &str) -> u16 {
    let mut s = connect(addr);
    let head = format!(
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{fields}\r\n",
        addr.port()
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).unwrap();
    std::str::from_utf8(&buf[9..12]).unwrap().parse().unwrap()
}

#[test]
fn websocket_upgrades_are_taken_only_from_allowed_origins() {
    let hub = Hub::start(tokens().allow_origin("https://app.example").unwrap());
    let t = token(&["a"], &["a"], 60);
    let target = format!("/ws?topic=a&access_token={t}");
    let same = format!("Origin: http://127.0.0.1:{}\r\n", hub.addr().port());
    assert_eq!(
        upgrade_status(hub.addr(), &target, "Origin: https://evil.example\r\n"),
        403
    );
    // Cookies ride along with any page's request: the origin check is what stops hijacking.
    let cookie = format!("Origin: https://evil.example\r\nCookie: pushwire_token={t}\r\n");
    assert_eq!(upgrade_status(hub.addr(), "/ws?topic=a", &cookie), 403);
    assert_eq!(
        upgrade_status(hub.addr(), "/echo", "Origin: https://evil.example\r\n"),
        403
    );
    assert_eq!(
        upgrade_status(hub.addr(), &target, "Origin: https://app.example\r\n"),
        101
    );
    assert_eq!(upgrade_status(hub.addr(), &target, &same), 101);
    // No Origin: not a browser page.
    assert_eq!(upgrade_status(hub.addr(), &target, ""), 101);
}

#[test]
fn cors_answers_listed_origins_and_refuses_others() {
    let hub = Hub::start(tokens().allow_origin("https://app.example").unwrap());
    let preflight = |origin: &str| {
        request(
            hub.addr(),
            "OPTIONS",
            "/publish?topic=a",
            &[
                ("Origin", origin.as_bytes()),
                ("Access-Control-Request-Method", b"POST"),
                ("Access-Control-Request-Headers", b"authorization"),
            ],
        )
    };
    let ok = preflight("https://app.example");
    assert_eq!(ok.status, 204);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some(&b"https://app.example"[..])
    );
    assert_eq!(
        ok.header("access-control-allow-credentials"),
        Some(&b"true"[..])
    );
    assert!(
        String::from_utf8_lossy(ok.header("access-control-allow-headers").unwrap())
            .contains("Authorization")
    );
    let refused = preflight("https://evil.example");
    assert_eq!(refused.status, 403);
    assert_eq!(refused.header("access-control-allow-origin"), None);
    // The request itself: CORS fields for the listed page, never `*`, also on a refusal.
    let t = bearer(&token(&["a"], &["a"], 60));
    let r = request(
        hub.addr(),
        "POST",
        "/publish?topic=a",
        &[("Origin", b"https://app.example"), ("Authorization", &t)],
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some(&b"https://app.example"[..])
    );
    assert_eq!(r.header("vary"), Some(&b"Origin"[..]));
    let r = request(
        hub.addr(),
        "POST",
        "/publish?topic=a",
        &[("Origin", b"https://app.example")],
    );
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some(&b"https://app.example"[..])
    );
    // A page of another origin cannot publish with a cookie it did not see (no CSRF).
    let cookie = format!("pushwire_token={}", token(&["a"], &["a"], 60));
    let r = request(
        hub.addr(),
        "POST",
        "/publish?topic=a",
        &[
            ("Origin", b"https://evil.example"),
            ("Cookie", cookie.as_bytes()),
        ],
    );
    assert_eq!(r.status, 403);
}

#[test]
fn publish_rates_answer_429_then_allow_again() {
    let rate = Rate {
        per_second: 2,
        burst: 2,
    };
    let hub = Hub::start(tokens().publish_rate(rate));
    let t = bearer(&token(&["a"], &["a"], 600));
    let publish = || {
        request(
            hub.addr(),
            "POST",
            "/publish?topic=a",
            &[("Authorization", &t)],
        )
    };
    assert_eq!(publish().status, 200);
    assert_eq!(publish().status, 200);
    let limited = publish();
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some(&b"1"[..]));
    hub.advance(Duration::from_secs(1));
    wait_for(|| publish().status == 200);
    // On a WebSocket: the connection's own bucket, then close 1008.
    let ws_token = token(&["w"], &["w"], 600);
    let mut ws = WsClient::connect(hub.addr(), &format!("/ws?topic=w&access_token={ws_token}"));
    for text in ["1", "2", "3"] {
        ws.send_text(text);
    }
    let mut seen = Vec::new();
    loop {
        match ws.recv() {
            Some(WsEv::Text(t)) => seen.push(t),
            Some(WsEv::Close(code, reason)) => {
                assert_eq!(code, Some(1008));
                assert!(reason.contains("rate"), "{reason}");
                break;
            }
            Some(_) => {}
            None => panic!("ended without a close frame"),
        }
    }
    assert!(seen.len() <= 2, "{seen:?}");
}

#[test]
fn a_websocket_publish_outside_the_token_is_closed_1008() {
    let hub = Hub::start(tokens());
    let t = token(&["news"], &[], 60);
    let mut ws = WsClient::connect(hub.addr(), &format!("/ws?topic=news&access_token={t}"));
    ws.send_text("not allowed");
    ws.expect_close(1008);
    let cursor = request(
        hub.addr(),
        "GET",
        "/cursor?topic=news",
        &[("Authorization", &bearer(&t))],
    );
    assert_eq!(cursor.body, b"0");
}

#[test]
fn an_expiring_event_stream_ends_with_retry_and_resumes_without_loss() {
    let hub = Hub::start(tokens());
    let publisher = bearer(&token(&[], &["a"], 3600));
    let publish = |n: u32| {
        let mut c = Client::new(hub.addr());
        c.send_with(
            "POST",
            "/publish?topic=a",
            &[("Authorization", &publisher)],
            Some(n.to_string().as_bytes()),
        );
        assert_eq!(c.recv().unwrap().status, 200);
    };
    let short = token(&["a"], &[], 60);
    let mut sse = Sse::open(
        hub.addr(),
        &format!("/events?topic=a&access_token={short}"),
        None,
    );
    publish(1);
    let (_, data, id) = sse.next().expect("event 1");
    assert!(data.contains("\"data\":\"1\""), "{data}");
    hub.advance(Duration::from_secs(60));
    // The stream ends (EOF after a retry hint), and nothing more comes on it.
    assert_eq!(sse.next(), None);
    publish(2);
    let fresh = token(&["a"], &[], 3600);
    let id: u64 = id.parse().unwrap();
    let mut again = Sse::open(
        hub.addr(),
        &format!("/events?topic=a&access_token={fresh}"),
        Some(id),
    );
    let (_, data, id) = again.next().expect("event 2 after resuming");
    assert!(data.contains("\"data\":\"2\""), "{data}");
    assert_eq!(id, "2");
}

#[test]
fn an_expiring_websocket_is_closed_1008_with_its_cursor_and_resumes() {
    let hub = Hub::start(tokens());
    let short = token(&["a"], &["a"], 60);
    let mut ws = WsClient::connect(hub.addr(), &format!("/ws?topic=a&access_token={short}"));
    ws.send_text("one");
    let first = loop {
        if let Some(WsEv::Text(t)) = ws.recv() {
            break t;
        }
    };
    assert!(first.contains("\"seq\":1"), "{first}");
    hub.advance(Duration::from_secs(61));
    let reason = loop {
        match ws.recv() {
            Some(WsEv::Close(code, reason)) => {
                assert_eq!(code, Some(1008));
                break reason;
            }
            Some(_) => {}
            None => panic!("ended without a close frame"),
        }
    };
    assert!(
        reason.contains("expired") && reason.ends_with("cursor 1"),
        "{reason}"
    );
    let fresh = token(&["a"], &["a"], 3600);
    let publisher = bearer(&fresh);
    let mut c = Client::new(hub.addr());
    c.send_with(
        "POST",
        "/publish?topic=a",
        &[("Authorization", &publisher)],
        Some(b"two"),
    );
    assert_eq!(c.recv().unwrap().status, 200);
    let mut again = WsClient::connect(
        hub.addr(),
        &format!("/ws?topic=a&cursor=1&access_token={fresh}"),
    );
    let next = loop {
        if let Some(WsEv::Text(t)) = again.recv() {
            break t;
        }
    };
    assert!(next.contains("\"seq\":2") && next.contains("two"), "{next}");
}

#[test]
fn a_parked_poll_whose_token_expires_is_answered_401() {
    let hub = Hub::start(tokens());
    let t = token(&["a"], &[], 10);
    let mut c = Client::new(hub.addr());
    c.send_with(
        "GET",
        "/poll?topic=a&cursor=0",
        &[("Authorization", &bearer(&t))],
        None,
    );
    wait_for(|| stat(hub.addr(), "long_poll", "connections") == 1);
    hub.advance(Duration::from_secs(10));
    let r = c.recv().expect("an answer at expiry");
    assert_eq!(r.status, 401);
    assert!(challenge(&r).contains("invalid_token"));
    assert_eq!(stat(hub.addr(), "long_poll", "connections"), 0);
    // The connection carries the next request with a fresh token: it waits its 30 s.
    let fresh = token(&["a"], &[], 3600);
    c.send_with(
        "GET",
        "/poll?topic=a&cursor=0",
        &[("Authorization", &bearer(&fresh))],
        None,
    );
    wait_for(|| stat(hub.addr(), "long_poll", "connections") == 1);
    hub.advance(Duration::from_secs(29));
    assert_eq!(stat(hub.addr(), "long_poll", "connections"), 1);
    hub.advance(Duration::from_secs(1));
    let r = c.recv().expect("the long-poll deadline's answer");
    assert_eq!(r.status, 204);
}

#[test]
fn a_session_cookie_carries_the_token_for_pages() {
    let hub = Hub::start(tokens());
    let t = token(&["a"], &[], 60);
    assert_eq!(request(hub.addr(), "POST", "/session", &[]).status, 401);
    let r = request(
        hub.addr(),
        "POST",
        "/session",
        &[("Authorization", &bearer(&t))],
    );
    assert_eq!(r.status, 204);
    let cookie = String::from_utf8(r.header("set-cookie").unwrap().to_vec()).unwrap();
    assert_eq!(
        cookie,
        format!("pushwire_token={t}; Path=/; Max-Age=60; HttpOnly; SameSite=Strict")
    );
    // What the browser would send back.
    let sent = cookie.split(';').next().unwrap();
    let poll = request(
        hub.addr(),
        "GET",
        "/poll?topic=a&wait=0",
        &[("Cookie", sent.as_bytes())],
    );
    assert_eq!(poll.status, 204);
    let cleared = request(hub.addr(), "DELETE", "/session", &[]);
    assert!(String::from_utf8_lossy(cleared.header("set-cookie").unwrap()).contains("Max-Age=0"));
    // An open server has no sessions.
    let open = Hub::start(Policy::open());
    assert_eq!(request(open.addr(), "POST", "/session", &[]).status, 404);
}
