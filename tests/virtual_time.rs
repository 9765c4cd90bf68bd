//! The reactor and the hub server in virtual time: a `ManualClock` moves only when the test moves
//! it, so timeouts of seconds pass in no time and nothing sleeps.

mod common;

use common::{Client, Sse, TestServer, connect, stat, wait_for};
use pushwire::Limits;
use pushwire::reactor::ManualClock;
use pushwire::server::HubServer;
use pushwire::server::hub_server::{Notice, tick_interval};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

/// The hub server on one worker, with the default limits and a clock the test moves.
fn hub() -> (TestServer<Notice>, Arc<ManualClock>) {
    hub_with(Limits::default())
}

fn hub_with(limits: Limits) -> (TestServer<Notice>, Arc<ManualClock>) {
    let tick = tick_interval(&limits);
    TestServer::start_virtual(HubServer::new(limits.clone(), b"page"), limits, tick)
}

/// Moves time by `by` and lets the workers see it.
fn advance(s: &TestServer<Notice>, clock: &ManualClock, by: Duration) {
    clock.advance(by);
    s.handle.wake();
}

#[test]
fn a_long_poll_is_answered_204_when_its_30_seconds_have_passed_not_before() {
    let (s, clock) = hub();
    let mut c = Client::new(s.addr);
    c.send("GET", "/poll?topic=v&cursor=0", None);
    wait_for(|| stat(s.addr, "long_poll", "connections") == 1);
    advance(&s, &clock, Duration::from_secs(29));
    // Still parked after 29 s (the stats request is served after the worker saw the time).
    assert_eq!(stat(s.addr, "long_poll", "connections"), 1);
    advance(&s, &clock, Duration::from_secs(1));
    let r = c.recv().expect("the deadline's answer");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("x-cursor"), Some(&b"0"[..]));
}

#[test]
fn wait_is_counted_in_seconds_of_the_servers_clock() {
    let (s, clock) = hub();
    let mut c = Client::new(s.addr);
    c.send("GET", "/poll?topic=w&cursor=0&wait=5", None);
    wait_for(|| stat(s.addr, "long_poll", "connections") == 1);
    advance(&s, &clock, Duration::from_millis(4_999));
    assert_eq!(stat(s.addr, "long_poll", "connections"), 1);
    advance(&s, &clock, Duration::from_millis(1));
    assert_eq!(c.recv().expect("answered at 5 s").status, 204);
}

#[test]
fn wait_is_bounded_by_the_servers_maximum() {
    let (s, clock) = hub_with(Limits {
        longpoll_timeout: Duration::from_secs(2),
        ..Limits::default()
    });
    let mut c = Client::new(s.addr);
    c.send("GET", "/poll?topic=m&cursor=0&wait=3600", None);
    wait_for(|| stat(s.addr, "long_poll", "connections") == 1);
    advance(&s, &clock, Duration::from_millis(1_999));
    assert_eq!(stat(s.addr, "long_poll", "connections"), 1);
    advance(&s, &clock, Duration::from_millis(1));
    assert_eq!(c.recv().expect("answered at the maximum").status, 204);
}

#[test]
fn a_request_head_not_finished_in_20_seconds_gets_408() {
    let (s, clock) = hub();
    let mut slow = connect(s.addr);
    slow.write_all(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n")
        .unwrap();
    // The head has begun once the server has read it; a second connection's request, served
    // after it on the one worker, shows that.
    assert_eq!(Client::new(s.addr).get("/plaintext").status, 200);
    advance(&s, &clock, Duration::from_secs(19));
    assert_eq!(Client::new(s.addr).get("/plaintext").status, 200);
    advance(&s, &clock, Duration::from_secs(2));
    let mut answer = Vec::new();
    let _ = slow.read_to_end(&mut answer);
    assert!(
        answer.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

#[test]
fn a_quiet_event_stream_gets_a_keepalive_comment_after_15_seconds() {
    let (s, clock) = hub();
    let mut sse = Sse::open(s.addr, "/events?topic=k", None);
    // Time moves in steps of the tick (5 s), as it would: each wake runs the tick that is due.
    for _ in 0..3 {
        advance(&s, &clock, Duration::from_secs(5));
    }
    let mut got = Vec::new();
    let mut chunk = [0u8; 256];
    while !String::from_utf8_lossy(&got).contains(":\n\n") {
        let n = sse.stream.read(&mut chunk).expect("a keep-alive comment");
        assert!(n > 0, "the stream ended");
        got.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(stat(s.addr, "sse", "connections"), 1);
}

/// Publishes one event to `topic`; the sequence number it got.
fn publish(s: &TestServer<Notice>, topic: &str) -> u64 {
    let mut c = Client::new(s.addr);
    c.send("POST", &format!("/publish?topic={topic}"), Some(b"x"));
    let r = c.recv().expect("publish answered");
    assert_eq!(r.status, 200);
    String::from_utf8(r.body).unwrap().parse().unwrap()
}

/// Moves time by `total` in steps of the tick (5 s), each one run by the worker before the
/// next (a request served after the step shows it ran).
fn pass(s: &TestServer<Notice>, clock: &ManualClock, total: Duration) {
    let step = Duration::from_secs(5);
    for _ in 0..total.as_secs() / 5 {
        advance(s, clock, step);
        assert_eq!(Client::new(s.addr).get("/plaintext").status, 200);
    }
}

#[test]
fn a_topic_nobody_follows_or_publishes_to_is_dropped_after_its_idle_time() {
    let (s, clock) = hub_with(Limits {
        topic_idle_ttl: Some(Duration::from_secs(60)),
        ..Limits::default()
    });
    assert_eq!((publish(&s, "idle"), publish(&s, "idle")), (1, 2));
    assert_eq!(publish(&s, "kept"), 1);
    let mut follower = Sse::open(s.addr, "/events?topic=kept", None);
    // Within the first period (the clock starts it at the first tick) nothing goes.
    pass(&s, &clock, Duration::from_secs(60));
    assert_eq!(stat(s.addr, "memory", "dropped_idle_topics"), 0);
    // Unused for a whole period: dropped, with its history; the followed one stays.
    pass(&s, &clock, Duration::from_secs(65));
    wait_for(|| stat(s.addr, "memory", "dropped_idle_topics") == 1);
    let mut c = Client::new(s.addr);
    let metrics = String::from_utf8(c.get("/metrics").body).unwrap();
    assert!(metrics.contains("\npushwire_topics 1\n"), "{metrics}");
    assert!(metrics.contains("\npushwire_topics_dropped_idle_total 1\n"));
    // A reader coming back to the dropped topic is told its numbering began again.
    let r = c.get("/poll?topic=idle&cursor=2&wait=0");
    assert_eq!(r.status, 200);
    let body = String::from_utf8(r.body).unwrap();
    assert!(body.contains("\"reset\""), "{body}");
    assert_eq!(publish(&s, "idle"), 1);
    // The followed topic kept its numbering, and its follower gets the next event.
    assert_eq!(publish(&s, "kept"), 2);
    let (_, _, id) = follower.next().expect("the next event");
    assert_eq!(id, "2");
}

#[test]
fn without_an_idle_time_topics_stay() {
    let (s, clock) = hub_with(Limits {
        topic_idle_ttl: None,
        ..Limits::default()
    });
    publish(&s, "idle");
    pass(&s, &clock, Duration::from_secs(600));
    assert_eq!(stat(s.addr, "memory", "dropped_idle_topics"), 0);
    assert_eq!(publish(&s, "idle"), 2);
}
