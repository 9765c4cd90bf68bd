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
