//! The ready server's API over real sockets: what is published arrives unchanged on every
//! transport, every parameter has one meaning, and every bad request gets a clear answer.

mod common;

use common::{Client, Sse, TestServer, WsClient, WsEv, stat, wait_for};
use pushwire::Limits;
use pushwire::server::HubServer;
use pushwire::server::hub_server::Notice as Published;
use pushwire::server::hub_server::{Technique, Wire};
use std::net::SocketAddr;

fn server(limits: Limits) -> TestServer<Published> {
    TestServer::start(
        HubServer::new(limits.clone(), b"<!doctype html><title>demo</title>"),
        limits,
        1,
    )
}

fn publish(addr: SocketAddr, target: &str, body: &[u8]) -> common::Resp {
    let mut c = Client::new(addr);
    c.send("POST", target, Some(body));
    c.recv().expect("publish answered")
}

fn body_text(r: &common::Resp) -> String {
    String::from_utf8(r.body.clone()).expect("a UTF-8 body")
}

/// The `data` string of one event line, decoded by a JSON string reader written here from
/// RFC 8259 §7 (sharing no code with the server's writer).
fn data_of(line: &str) -> String {
    let start = line.find("\"data\":\"").expect("a data field") + 8;
    let mut out = String::new();
    let mut chars = line[start..].chars();
    loop {
        match chars.next().expect("an unterminated string") {
            '"' => break,
            '\\' => match chars.next().unwrap() {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let unit = u32::from_str_radix(&hex, 16).unwrap();
                    out.push(char::from_u32(unit).expect("no surrogates are written"));
                }
                c => out.push(c),
            },
            c => {
                assert!(u32::from(c) >= 0x20, "raw control character in {line:?}");
                out.push(c);
            }
        }
    }
    assert_eq!(&line[line.len() - 1..], "}", "{line}");
    out
}

#[test]
fn published_text_arrives_unchanged_on_all_four_transports() {
    let s = server(Limits::default());
    let bodies: Vec<String> = vec![
        r#"{"temp":21.5,"unit":"C"}"#.into(),
        "quote \" backslash \\ slash / tab \t newline \n cr \r".into(),
        (0u8..0x20).map(char::from).collect::<String>() + "\u{7f}",
        "line\u{2028}para\u{2029}end".into(),
        "astral 𝄞 😀 and BMP é €".into(),
        String::new(),
        "x".repeat(100_000),
    ];
    let mut sse = Sse::open(s.addr, "/events?topic=j", None);
    let mut ws = WsClient::connect(s.addr, "/ws?topic=j");
    let first = publish(s.addr, "/publish?topic=j", b"start");
    let cursor: u64 = body_text(&first).parse().unwrap();
    let _ = sse.next();
    let _ = ws.recv();
    for body in &bodies {
        let r = publish(s.addr, "/publish?topic=j", body.as_bytes());
        assert_eq!(r.status, 200, "{}", body_text(&r));
    }
    let mut poll = Client::new(s.addr);
    let long = poll.get(&format!("/poll?topic=j&cursor={cursor}"));
    let short = poll.get(&format!("/poll?topic=j&cursor={cursor}&wait=0"));
    for (i, body) in bodies.iter().enumerate() {
        let (_, sse_line, _) = sse.next().expect("an SSE event");
        let Some(WsEv::Text(ws_line)) = ws.recv() else {
            panic!("a WebSocket text message")
        };
        let long_line = body_text(&long).lines().nth(i).unwrap().to_string();
        let short_line = body_text(&short).lines().nth(i).unwrap().to_string();
        for line in [&sse_line, &ws_line, &long_line, &short_line] {
            assert_eq!(&data_of(line), body, "event {i}: {line:?}");
        }
    }
}

#[test]
fn a_body_that_is_not_utf8_is_refused_with_415() {
    let s = server(Limits::default());
    let r = publish(s.addr, "/publish?topic=b", b"ok \xff\xfe not text");
    assert_eq!(r.status, 415);
    assert_eq!(
        body_text(&r),
        "the body must be UTF-8 text: invalid byte at offset 3\n"
    );
    // Nothing was published.
    assert_eq!(Client::new(s.addr).get("/cursor?topic=b").body, b"0");
}

#[test]
fn bodies_up_to_the_limit_arrive_whole_and_over_it_get_413_naming_it() {
    let limits = Limits {
        max_body_bytes: 4096,
        ..Limits::default()
    };
    let s = server(limits);
    let at_limit = "é".repeat(2048);
    assert_eq!(
        publish(s.addr, "/publish?topic=s", at_limit.as_bytes()).status,
        200
    );
    let r = Client::new(s.addr).get("/poll?topic=s&cursor=0&wait=0");
    assert_eq!(data_of(body_text(&r).lines().next().unwrap()), at_limit);
    let r = publish(s.addr, "/publish?topic=s", &[b'a'; 4097]);
    assert_eq!(r.status, 413);
    assert!(
        body_text(&r).contains("the limit is 4096 bytes"),
        "{}",
        body_text(&r)
    );
}

#[test]
fn a_binary_message_on_ws_is_answered_with_close_1003() {
    let s = server(Limits::default());
    let mut ws = WsClient::connect(s.addr, "/ws?topic=bin");
    ws.send_binary(b"\x00\x01");
    ws.expect_close(1003);
    assert_eq!(Client::new(s.addr).get("/cursor?topic=bin").body, b"0");
}

#[test]
fn a_cursor_that_is_not_a_decimal_u64_is_400_on_every_technique() {
    let s = server(Limits::default());
    let mut c = Client::new(s.addr);
    for bad in ["abc", "-1", "1e3", "", "18446744073709551616", "%201"] {
        for target in [
            format!("/poll?topic=t&cursor={bad}"),
            format!("/poll?topic=t&cursor={bad}&wait=0"),
            format!("/ws?topic=t&cursor={bad}"),
            format!("/events?topic=t&lastEventId={bad}"),
        ] {
            // The WebSocket endpoint refuses before upgrading, so a plain GET with the upgrade
            // fields is not needed to see the 400 (without them it would be 426).
            let r = if target.starts_with("/ws") {
                ws_attempt(s.addr, &target)
            } else {
                c.get(&target)
            };
            assert_eq!(r.status, 400, "{target}");
            let reason = body_text(&r);
            assert!(
                reason.ends_with('\n') && reason.lines().count() == 1,
                "{reason:?}"
            );
            assert!(
                reason.contains("expected a decimal number"),
                "{target}: {reason}"
            );
        }
    }
    // The Last-Event-ID header too.
    c.stream.set_nodelay(true).unwrap();
    let mut raw = Client::new(s.addr);
    let mut out = Vec::new();
    raw.http
        .send_request(
            "GET",
            "/events?topic=t",
            &[("Host", b"t"), ("Last-Event-ID", b"x1")],
            pushwire::http::client::RequestBody::Empty,
            &mut out,
        )
        .unwrap();
    std::io::Write::write_all(&mut raw.stream, &out).unwrap();
    let r = raw.recv().unwrap();
    assert_eq!(r.status, 400);
    assert!(body_text(&r).starts_with("Last-Event-ID: expected a decimal number"));
}

/// A WebSocket upgrade request answered without switching: its response.
fn ws_attempt(addr: SocketAddr, target: &str) -> common::Resp {
    let mut c = Client::new(addr);
    let mut out = Vec::new();
    c.http
        .send_request(
            "GET",
            target,
            &[
                ("Host", b"t"),
                ("Upgrade", b"websocket"),
                ("Connection", b"Upgrade"),
                ("Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
                ("Sec-WebSocket-Version", b"13"),
            ],
            pushwire::http::client::RequestBody::Empty,
            &mut out,
        )
        .unwrap();
    std::io::Write::write_all(&mut c.stream, &out).unwrap();
    c.recv().expect("an answer")
}

#[test]
fn a_missing_cursor_means_from_now_on_every_technique() {
    let s = server(Limits::default());
    for body in ["old-1", "old-2"] {
        publish(s.addr, "/publish?topic=m", body.as_bytes());
    }
    let mut short = Client::new(s.addr);
    let r = short.get("/poll?topic=m&wait=0");
    assert_eq!(r.status, 204, "no history without a cursor");
    assert_eq!(
        r.header("x-cursor"),
        Some(&b"2"[..]),
        "but where to go on from"
    );
    let mut long = Client::new(s.addr);
    long.send("GET", "/poll?topic=m&wait=30", None);
    let mut sse = Sse::open(s.addr, "/events?topic=m", None);
    let mut ws = WsClient::connect(s.addr, "/ws?topic=m");
    // The parked poll is parked once its technique counts it.
    wait_for(|| stats(s.addr).contains("\"long_poll\":{\"connections\":1"));
    publish(s.addr, "/publish?topic=m", b"new");
    let long_line = body_text(&long.recv().unwrap());
    let (_, sse_line, id) = sse.next().unwrap();
    let Some(WsEv::Text(ws_line)) = ws.recv() else {
        panic!()
    };
    assert_eq!(id, "3");
    for line in [long_line.trim_end(), &sse_line, &ws_line] {
        assert_eq!(data_of(line), "new", "{line}");
    }
    // And cursor=0 is the whole history kept.
    let r = short.get("/poll?topic=m&cursor=0&wait=0");
    assert_eq!(body_text(&r).lines().count(), 3);
}

fn stats(addr: SocketAddr) -> String {
    body_text(&Client::new(addr).get("/stats"))
}

#[test]
fn wait_must_be_a_number_of_seconds() {
    // What it means in time is tested in virtual time (tests/virtual_time.rs).
    let s = server(Limits::default());
    let mut c = Client::new(s.addr);
    for bad in ["x", "-1", "1.5", ""] {
        let r = c.get(&format!("/poll?topic=w&wait={bad}"));
        assert_eq!(r.status, 400, "wait={bad}");
        assert!(body_text(&r).starts_with("wait: expected a decimal number"));
    }
}

#[test]
fn topics_are_percent_decoded_and_bounded() {
    let s = server(Limits::default());
    publish(s.addr, "/publish?topic=a%20b", b"1");
    publish(s.addr, "/publish?topic=a+b", b"2");
    let mut c = Client::new(s.addr);
    assert_eq!(c.get("/cursor?topic=a%20b").body, b"2");
    assert_eq!(c.get("/cursor?topic=%61+%62").body, b"2");
    // No topic: the default one.
    publish(s.addr, "/publish", b"d");
    assert_eq!(c.get("/cursor?topic=default").body, b"1");
    for bad in ["%", "%zz", "a%2", "%ff"] {
        let r = c.get(&format!("/cursor?topic={bad}"));
        assert_eq!(r.status, 400, "topic={bad}");
    }
    // Several topics are followed on one connection; a publish names one.
    let r = c.get("/poll?topic=a&topic=b&wait=0");
    assert_eq!(r.status, 204);
    let r = publish(s.addr, "/publish?topic=a&topic=b", b"x");
    assert_eq!(
        (r.status, body_text(&r).as_str()),
        (400, "topic: given more than once\n")
    );
    let long = "t".repeat(129);
    let r = publish(s.addr, &format!("/publish?topic={long}"), b"x");
    assert_eq!(r.status, 400);
    assert_eq!(body_text(&r), "topic: longer than the limit of 128 bytes\n");
    assert_eq!(c.get(&format!("/events?topic={long}")).status, 400);
    assert_eq!(
        publish(s.addr, &format!("/publish?topic={}", &long[1..]), b"x").status,
        200
    );
}

#[test]
fn methods_and_endpoints_get_the_answers_rfc_9110_names() {
    let s = server(Limits::default());
    let mut c = Client::new(s.addr);
    // 405 with Allow and a one-line reason.
    c.send("GET", "/publish", None);
    let r = c.recv().unwrap();
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some(&b"POST, OPTIONS"[..]));
    assert_eq!(
        body_text(&r),
        "GET is not allowed here; allowed: POST, OPTIONS\n"
    );
    c.send("DELETE", "/events", None);
    let r = c.recv().unwrap();
    assert_eq!(
        (r.status, r.header("allow")),
        (405, Some(&b"GET, HEAD, OPTIONS"[..]))
    );
    // OPTIONS names the methods.
    c.send("OPTIONS", "/echo", None);
    let r = c.recv().unwrap();
    assert_eq!(
        (r.status, r.header("allow")),
        (204, Some(&b"GET, HEAD, POST, OPTIONS"[..]))
    );
    // A WebSocket endpoint without an upgrade: 426 with Upgrade.
    for target in ["/ws", "/echo"] {
        let r = c.get(target);
        assert_eq!(r.status, 426, "{target}");
        assert_eq!(r.header("upgrade"), Some(&b"websocket"[..]));
    }
    assert_eq!(c.get("/favicon.ico").status, 204);
    c.send("OPTIONS", "*", None);
    let r = c.recv().unwrap();
    assert_eq!(
        (r.status, r.header("allow")),
        (204, Some(&b"GET, HEAD, POST, OPTIONS"[..]))
    );
    let r = c.get("/nope");
    assert_eq!(
        (r.status, body_text(&r).as_str()),
        (404, "no such endpoint: /nope\n")
    );
}

#[test]
fn stats_count_what_clients_did_not_the_demo_pages_wire_view() {
    let limits = Limits::default();
    let view = |t: Technique, _: &Wire<'_>| t.name().to_string();
    let s = TestServer::start(
        HubServer::new(limits.clone(), b"page").with_wire_view(view),
        limits,
        1,
    );
    let before = stats(s.addr);
    let _wire = Sse::open(s.addr, "/wire", None);
    let _events = Sse::open(s.addr, "/events?topic=st", None);
    let after = stats(s.addr);
    let sse_requests = |json: &str| -> u64 {
        let at = json.find("\"sse\":").unwrap();
        let rest = &json[at..];
        let r = rest.find("\"requests\":").unwrap() + 11;
        rest[r..].split([',', '}']).next().unwrap().parse().unwrap()
    };
    assert_eq!(sse_requests(&after), sse_requests(&before) + 1, "{after}");
}

/// Sends `request` on a fresh connection and reads until `done` says the bytes so far are a
/// whole answer; returns how many bytes arrived.
fn raw_bytes(
    addr: SocketAddr,
    request: &str,
    before_reading: impl FnOnce(),
    done: impl Fn(&[u8]) -> bool,
) -> usize {
    use std::io::{Read, Write};
    let mut stream = common::connect(addr);
    stream.write_all(request.as_bytes()).unwrap();
    before_reading();
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while !done(&got) {
        let n = stream.read(&mut chunk).expect("more of the answer");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&chunk[..n]);
    }
    got.len()
}

/// A whole response with a Content-Length (or none, for 204).
fn whole_response(got: &[u8]) -> bool {
    let text = String::from_utf8_lossy(got);
    let Some(end) = text.find("\r\n\r\n") else {
        return false;
    };
    let length = text[..end]
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map_or(0, |n| n.parse::<usize>().unwrap());
    got.len() >= end + 4 + length
}

#[test]
fn stats_bytes_out_count_heads_and_framing_as_sent() {
    let s = server(Limits::default());
    publish(s.addr, "/publish?topic=by", b"payload");
    let get11 = |target: &str| format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n");
    let get10 = |target: &str| format!("GET {target} HTTP/1.0\r\n\r\n");

    let before = stat(s.addr, "short_poll", "bytes_out");
    let mut read = raw_bytes(
        s.addr,
        &get11("/poll?topic=by&cursor=0&wait=0"),
        || {},
        whole_response,
    );
    // A 204 is not 0 bytes.
    read += raw_bytes(
        s.addr,
        &get11("/poll?topic=by&cursor=1&wait=0"),
        || {},
        whole_response,
    );
    read += raw_bytes(
        s.addr,
        &get10("/poll?topic=by&cursor=0&wait=0"),
        || {},
        whole_response,
    );
    assert_eq!(
        stat(s.addr, "short_poll", "bytes_out") - before,
        read as u64
    );

    let before = stat(s.addr, "long_poll", "bytes_out");
    let publish_when_parked = || {
        wait_for(|| stat(s.addr, "long_poll", "connections") == 1);
        publish(s.addr, "/publish?topic=by", b"second");
    };
    let read = raw_bytes(
        s.addr,
        &get10("/poll?topic=by&cursor=1"),
        publish_when_parked,
        whole_response,
    );
    assert_eq!(stat(s.addr, "long_poll", "bytes_out") - before, read as u64);

    let before = stat(s.addr, "sse", "bytes_out");
    let publish_when_streaming = || {
        wait_for(|| stat(s.addr, "sse", "connections") == 1);
        publish(s.addr, "/publish?topic=by", b"third");
    };
    // The stream's head and first chunk, then the event's chunk (ends in "\n\n" + CRLF).
    let read = raw_bytes(
        s.addr,
        &get11("/events?topic=by"),
        publish_when_streaming,
        |got| String::from_utf8_lossy(got).contains("\"data\":\"third\"}\n\n\r\n"),
    );
    assert_eq!(stat(s.addr, "sse", "bytes_out") - before, read as u64);
}

#[test]
fn without_a_wire_view_there_is_no_wire_endpoint() {
    let s = server(Limits::default());
    assert_eq!(Client::new(s.addr).get("/wire").status, 404);
}
