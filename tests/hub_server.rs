//! The ready hub server over loopback: every endpoint, one cursor model across techniques,
//! resume without loss, explicit gaps, timeouts, limits, slow consumers.

mod common;

use common::{Client, Sse, TestServer, WsClient, WsEv, connect, publish, stat, wait_for};
use pushwire::Limits;
use pushwire::server::HubServer;
use pushwire::server::hub_server::Notice as Published;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn server(limits: Limits) -> TestServer<Published> {
    TestServer::start(
        HubServer::new(limits.clone(), b"<!doctype html><title>demo</title>"),
        limits,
        2,
    )
}

fn seq_of(text: &str) -> u64 {
    let rest = &text[text.find("\"seq\":").expect("a seq") + 6..];
    rest[..rest.find(',').unwrap()].parse().unwrap()
}

#[test]
fn publish_answers_sequence_numbers_per_topic() {
    let s = server(Limits::default());
    assert_eq!(publish(s.addr, "a", "x"), 1);
    assert_eq!(publish(s.addr, "a", "y"), 2);
    assert_eq!(publish(s.addr, "b", "z"), 1);
}

#[test]
fn same_events_on_every_transport() {
    let s = server(Limits::default());
    let mut sse = Sse::open(s.addr, "/events?topic=t", None);
    let mut ws = WsClient::connect(s.addr, "/ws?topic=t");
    let mut lp = Client::new(s.addr);
    lp.send("GET", "/poll?topic=t&cursor=0", None);
    // The SSE stream and the WebSocket follow the topic once their answer heads arrived; the
    // long-poll once it is parked.
    wait_for(|| stat(s.addr, "long_poll", "connections") == 1);
    publish(s.addr, "t", "first");
    publish(s.addr, "t", "second \"quoted\"");

    let (_, a, id) = sse.next().unwrap();
    let (_, b, _) = sse.next().unwrap();
    assert_eq!(id, "1");
    let WsEv::Text(wa) = ws.recv().unwrap() else {
        panic!()
    };
    let WsEv::Text(wb) = ws.recv().unwrap() else {
        panic!()
    };
    assert_eq!(
        (&a, &b),
        (&wa, &wb),
        "SSE and WebSocket carry the same event text"
    );
    assert!(a.contains("\"data\":\"first\""));
    assert!(b.contains(r#""data":"second \"quoted\"""#), "{b}");
    // The parked long-poll is answered by the first publish — with the second too, if both
    // were published before the answer was written; polling on from its cursor gives the rest.
    let r = lp.recv().unwrap();
    assert_eq!(r.header("content-type"), Some(&b"application/x-ndjson"[..]));
    let first_poll = String::from_utf8(r.body).unwrap();
    let mut lines: Vec<String> = first_poll.lines().map(String::from).collect();
    assert_eq!(lines.first(), Some(&a));
    if lines.len() == 1 {
        let r = lp.get(&format!("/poll?topic=t&cursor={}", seq_of(&a)));
        lines.extend(String::from_utf8(r.body).unwrap().lines().map(String::from));
    }
    assert_eq!(lines, [a.clone(), b.clone()]);
    // Short polling sees the same.
    let r = lp.get("/poll?topic=t&cursor=0&wait=0");
    assert_eq!(String::from_utf8(r.body).unwrap(), format!("{a}\n{b}\n"));
}

#[test]
fn head_is_answered_wherever_get_is_with_the_same_head_and_no_body() {
    // RFC 9110 §9.3.2, in the server layer: the hub server itself knows only GET.
    let s = server(Limits::default());
    let seq = publish(s.addr, "h", "x");
    let mut c = Client::new(s.addr);
    for target in [
        "/",
        "/plaintext",
        "/stats",
        &format!("/poll?topic=h&cursor={}&wait=0", seq - 1),
    ] {
        let get = c.get(target);
        c.send("HEAD", target, None);
        let head = c.recv().expect("a HEAD response");
        assert_eq!(head.status, get.status, "{target}");
        assert!(head.body.is_empty(), "{target}");
        let names = |r: &common::Resp| -> Vec<String> {
            r.headers
                .iter()
                .map(|(n, _)| n.to_ascii_lowercase())
                .collect()
        };
        assert_eq!(names(&head), names(&get), "{target}");
        if target != "/stats" {
            // The same length is announced (stats change between the two requests).
            assert_eq!(
                head.header("content-length"),
                get.header("content-length"),
                "{target}"
            );
        }
    }
    // An event stream: the head alone, and the connection goes on with the next request.
    c.send("HEAD", "/events?topic=h", None);
    let head = c.recv().expect("a HEAD response to /events");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some(&b"text/event-stream"[..]));
    assert!(head.body.is_empty());
    assert_eq!(c.get("/plaintext").body, b"Hello, World!");
}

#[test]
fn absolute_form_target_is_routed_by_its_path() {
    // RFC 9112 §3.2.2: a server accepts the absolute form; its authority stands for Host.
    let s = server(Limits::default());
    let mut c = Client::new(s.addr);
    let r = c.get("http://pushwire.test/plaintext");
    assert_eq!((r.status, &r.body[..]), (200, &b"Hello, World!"[..]));
}

#[test]
fn short_poll_with_nothing_new_is_204_at_once() {
    let s = server(Limits::default());
    publish(s.addr, "t", "x");
    let mut c = Client::new(s.addr);
    let started = Instant::now();
    let r = c.get("/poll?topic=t&cursor=1&wait=0");
    assert_eq!(r.status, 204);
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[test]
fn long_poll_times_out_with_204() {
    let limits = Limits {
        longpoll_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let s = server(limits);
    let mut c = Client::new(s.addr);
    let started = Instant::now();
    let r = c.get("/poll?topic=t&cursor=0");
    assert_eq!(r.status, 204);
    assert!(started.elapsed() >= Duration::from_millis(250));
    // The connection is kept alive.
    assert_eq!(c.get("/plaintext").body, b"Hello, World!");
}

#[test]
fn sse_resume_with_last_event_id_misses_nothing() {
    let s = server(Limits::default());
    let mut sse = Sse::open(s.addr, "/events?topic=r", None);
    for i in 0..3 {
        publish(s.addr, "r", &format!("e{i}"));
    }
    let mut last = String::new();
    for _ in 0..3 {
        last = sse.next().unwrap().2;
    }
    assert_eq!(last, "3");
    drop(sse);
    // While the client is away, more events.
    for i in 3..6 {
        publish(s.addr, "r", &format!("e{i}"));
    }
    let mut sse = Sse::open(s.addr, "/events?topic=r", Some(3));
    let ids: Vec<String> = (0..3).map(|_| sse.next().unwrap().2).collect();
    assert_eq!(ids, ["4", "5", "6"]);
    // The query parameter works too, for clients that cannot set headers.
    let mut sse = Sse::open(s.addr, "/events?topic=r&lastEventId=5", None);
    assert_eq!(sse.next().unwrap().2, "6");
}

#[test]
fn fallen_out_of_history_gets_explicit_gap_everywhere() {
    let limits = Limits {
        history_events: 3,
        ..Limits::default()
    };
    let s = server(limits);
    for i in 0..6 {
        publish(s.addr, "g", &format!("e{i}"));
    }
    let mut sse = Sse::open(s.addr, "/events?topic=g", Some(1));
    let (kind, data, _) = sse.next().unwrap();
    assert_eq!(
        (kind.as_str(), data.as_str()),
        ("gap", "{\"topic\":\"g\",\"gap\":{\"from\":2,\"to\":3}}")
    );
    assert_eq!(sse.next().unwrap().2, "4");

    let mut c = Client::new(s.addr);
    let body = String::from_utf8(c.get("/poll?topic=g&cursor=1").body).unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], "{\"topic\":\"g\",\"gap\":{\"from\":2,\"to\":3}}");
    assert_eq!(seq_of(lines[1]), 4);

    let mut ws = WsClient::connect(s.addr, "/ws?topic=g&cursor=1");
    assert_eq!(
        ws.recv(),
        Some(WsEv::Text(
            "{\"topic\":\"g\",\"gap\":{\"from\":2,\"to\":3}}".into()
        ))
    );
    let WsEv::Text(t) = ws.recv().unwrap() else {
        panic!()
    };
    assert_eq!(seq_of(&t), 4);
}

#[test]
fn websocket_text_is_published_to_its_topic() {
    let s = server(Limits::default());
    let mut a = WsClient::connect(s.addr, "/ws?topic=chat");
    let mut b = WsClient::connect(s.addr, "/ws?topic=chat");
    a.send_text("hi from a");
    for c in [&mut a, &mut b] {
        let WsEv::Text(t) = c.recv().unwrap() else {
            panic!()
        };
        assert!(t.contains("\"data\":\"hi from a\""), "{t}");
    }
}

#[test]
fn echo_endpoints() {
    let s = server(Limits::default());
    let mut ws = WsClient::connect(s.addr, "/echo");
    ws.send_binary(b"\x00\x01");
    assert_eq!(ws.recv(), Some(WsEv::Binary(vec![0, 1])));
    let mut c = Client::new(s.addr);
    c.send("POST", "/echo", Some(b"body"));
    assert_eq!(c.recv().unwrap().body, b"body");
    assert_eq!(c.get("/plaintext").body, b"Hello, World!");
    assert_eq!(c.get("/").status, 200);
    assert_eq!(c.get("/nope").status, 404);
}

#[test]
fn stats_count_per_technique() {
    let s = server(Limits::default());
    publish(s.addr, "s", "x");
    let mut c = Client::new(s.addr);
    c.get("/poll?topic=s&cursor=0&wait=0");
    c.get("/poll?topic=s&cursor=1&wait=0");
    let stats = String::from_utf8(c.get("/stats").body).unwrap();
    assert!(
        stats.contains("\"short_poll\":{\"connections\":0,\"requests\":2,\"empty\":1,\"events\":1"),
        "{stats}"
    );
    assert!(stats.contains("\"published\":1"), "{stats}");
}

#[test]
fn parking_limit_answers_503() {
    let limits = Limits {
        max_parked_per_topic: 2,
        ..Limits::default()
    };
    let s = server(limits);
    // One worker thread per connection is not guaranteed: limits apply per worker, so use
    // enough requests to exceed them on every worker.
    let mut clients: Vec<Client> = (0..6).map(|_| Client::new(s.addr)).collect();
    for c in &mut clients {
        c.send("GET", "/poll?topic=p&cursor=0", None);
    }
    // Every request was seen (parked or refused) before the publish.
    wait_for(|| stat(s.addr, "long_poll", "requests") == 6);
    publish(s.addr, "p", "wake");
    let statuses: Vec<u16> = clients
        .iter_mut()
        .map(|c| c.recv().unwrap().status)
        .collect();
    assert!(statuses.contains(&503), "{statuses:?}");
    assert!(statuses.contains(&200), "{statuses:?}");
}

#[test]
fn slow_websocket_consumer_is_cut_off() {
    let limits = Limits {
        write_queue_bytes: 32 * 1024,
        slow_consumer_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let s = server(limits);
    let mut slow = WsClient::connect(s.addr, "/ws?topic=f");
    let mut fast = WsClient::connect(s.addr, "/ws?topic=f");
    // Enough bytes to fill the kernel's socket buffers (several MiB on loopback) and then
    // the write queue.
    let body = "x".repeat(64 * 1024);
    let mut c = Client::new(s.addr);
    // The slow client never reads; the fast one does. Publish until the slow one is dropped.
    let mut fast_got = 0;
    for _ in 0..300 {
        c.send("POST", "/publish?topic=f", Some(body.as_bytes()));
        assert_eq!(c.recv().unwrap().status, 200);
        if let Some(WsEv::Text(_)) = fast.recv() {
            fast_got += 1;
        }
    }
    assert_eq!(fast_got, 300, "the fast consumer got every event");
    // The slow one, which has not read, is cut off once it stayed behind for the timeout.
    wait_for(|| stat(s.addr, "websocket", "connections") == 1);
    // The slow one sees a close (1013, with where to resume) or a dropped connection.
    slow.stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut events = Vec::new();
    while let Some(e) = slow.recv() {
        events.push(e);
        if events.len() > 1000 {
            break;
        }
    }
    assert!(events.len() < 300, "the slow consumer was not cut off");
    if let Some(WsEv::Close(code, reason)) = events.last() {
        assert_eq!(*code, Some(1013));
        assert!(reason.starts_with("cursor="));
    }
}

#[test]
fn refused_upgrade_is_400_and_counts_no_socket() {
    let s = server(Limits::default());
    let mut c = Client::new(s.addr);
    let mut stream = connect(s.addr);
    // Upgrade asked, but no Sec-WebSocket-Key: refused with 400.
    stream
        .write_all(b"GET /ws?topic=r HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 256];
    let n = stream.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 400 "));
    let stats = String::from_utf8(c.get("/stats").body).unwrap();
    assert!(
        stats.contains("\"websocket\":{\"connections\":0"),
        "{stats}"
    );
    // A publish finds no follower to send to (and nothing to clean up).
    publish(s.addr, "r", "x");
    let stats = String::from_utf8(c.get("/stats").body).unwrap();
    assert!(
        stats.contains("\"websocket\":{\"connections\":0,\"requests\":1,\"empty\":0,\"events\":0"),
        "{stats}"
    );
}

#[test]
fn limit_max_streams_sheds_load_with_a_retry_hint() {
    let limits = Limits {
        max_streams: 1,
        ..Limits::default()
    };
    let s = server(limits);
    let mut first = Sse::open(s.addr, "/events?topic=l", None);
    // The second stream gets 200 with only a retry hint, and the response ends.
    let mut second = connect(s.addr);
    second
        .write_all(b"GET /events?topic=l HTTP/1.0\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    second.read_to_end(&mut got).unwrap();
    let text = String::from_utf8(got).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Content-Type: text/event-stream"), "{text}");
    assert!(text.ends_with("\r\n\r\nretry: 5000\n\n"), "{text}");
    // The first stream still works.
    publish(s.addr, "l", "still served");
    assert!(first.next().unwrap().1.contains("still served"));
}

#[test]
fn limit_sse_keepalive_sends_a_comment_on_a_quiet_stream() {
    let limits = Limits {
        sse_keepalive: Duration::from_millis(300),
        ..Limits::default()
    };
    let hub = HubServer::new(limits.clone(), b"page");
    let s = TestServer::start_with_tick(
        hub,
        limits.clone(),
        pushwire::server::hub_server::tick_interval(&limits),
    );
    let mut stream = connect(s.addr);
    stream
        .write_all(b"GET /events?topic=k HTTP/1.0\r\n\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    while started.elapsed() < Duration::from_secs(3) && !got.ends_with(b":\n\n") {
        let mut buf = [0u8; 512];
        if let Ok(n) = stream.read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
    }
    assert!(
        got.ends_with(b"\n\n:\n\n"),
        "no keep-alive comment: {}",
        String::from_utf8_lossy(&got)
    );
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[test]
fn limit_max_events_per_response_says_where_to_continue() {
    let limits = Limits {
        max_events_per_response: 2,
        ..Limits::default()
    };
    let s = server(limits);
    for i in 0..5 {
        publish(s.addr, "c", &format!("e{i}"));
    }
    let mut c = Client::new(s.addr);
    let r = c.get("/poll?topic=c&cursor=0");
    let body = String::from_utf8(r.body.clone()).unwrap();
    assert_eq!(body.lines().count(), 2, "{body}");
    assert_eq!(r.header("x-cursor"), Some(&b"2"[..]));
    let r = c.get("/poll?topic=c&cursor=2");
    assert_eq!(r.header("x-cursor"), Some(&b"4"[..]));
}

#[test]
fn a_follower_ahead_of_a_restarted_topic_gets_the_reset_and_then_every_event() {
    // A client that saw up to 5 before the server restarted (numbering began again).
    let s = server(Limits::default());
    let mut ws = WsClient::connect(s.addr, "/ws?topic=again&cursor=5");
    assert_eq!(
        ws.recv(),
        Some(WsEv::Text(
            "{\"topic\":\"again\",\"gap\":{\"reset\":5}}".into()
        ))
    );
    let mut sse = Sse::open(s.addr, "/events?topic=again", Some(5));
    assert_eq!(sse.next().unwrap().0, "gap");
    // The new numbering's first events reach both, although they are below the old cursor.
    for i in 1..=2 {
        assert_eq!(publish(s.addr, "again", &format!("new {i}")), i);
        let Some(WsEv::Text(t)) = ws.recv() else {
            panic!()
        };
        assert_eq!(seq_of(&t), i);
        assert_eq!(seq_of(&sse.next().unwrap().1), i);
    }
}
