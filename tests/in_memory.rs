//! The worker's decisions over in-memory connections in virtual time (`reactor::testing`):
//! deadlines of seconds pass in no time, a client that stops reading is modelled exactly, and
//! nothing sleeps or depends on the machine's speed.

use pushwire::Limits;
use pushwire::reactor::testing::{Harness, MemClient};
use pushwire::server::HubServer;
use pushwire::server::hub_server::tick_interval;
use std::time::Duration;

fn hub(limits: Limits) -> Harness<HubServer> {
    let tick = tick_interval(&limits);
    Harness::new(HubServer::new(limits.clone(), b"page"), limits).tick(tick)
}

fn text(client: &MemClient) -> String {
    String::from_utf8_lossy(&client.received()).into_owned()
}

fn publish(h: &mut Harness<HubServer>, topic: &str, body: &str) -> String {
    let c = h.connect();
    c.send(
        format!(
            "POST /publish?topic={topic} HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    h.turn();
    text(&c)
}

#[test]
fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let mut h = hub(Limits::default());
    let c = h.connect();
    c.send(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\nGET /cursor?topic=x HTTP/1.1\r\nHost: a\r\n\r\nGET /nope HTTP/1.1\r\nHost: a\r\n\r\n");
    h.turn();
    let answers = text(&c);
    let statuses: Vec<&str> = answers
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &answers[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["200", "200", "404"], "{answers}");
    assert!(!c.is_closed());
}

#[test]
fn a_head_that_never_ends_gets_408_at_the_header_deadline() {
    let limits = Limits::default();
    let deadline = limits.header_timeout;
    let mut h = hub(limits);
    let c = h.connect();
    c.send(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n");
    h.turn();
    h.advance(deadline - Duration::from_millis(1));
    assert!(c.received().is_empty());
    h.advance(Duration::from_millis(1));
    assert!(text(&c).starts_with("HTTP/1.1 408 "));
    assert!(c.is_closed());
}

#[test]
fn a_parked_poll_is_answered_by_a_publish_or_its_deadline() {
    let mut h = hub(Limits::default());
    let c = h.connect();
    c.send(b"GET /poll?topic=t&cursor=0 HTTP/1.1\r\nHost: a\r\n\r\n");
    h.turn();
    assert!(c.received().is_empty());
    assert!(publish(&mut h, "t", "news").contains("\r\n\r\n1"));
    let answer = text(&c);
    assert!(
        answer.starts_with("HTTP/1.1 200 ") && answer.contains("\"data\":\"news\""),
        "{answer}"
    );
    // The next poll waits its 30 s, and not a moment less.
    c.send(b"GET /poll?topic=t&cursor=1 HTTP/1.1\r\nHost: a\r\n\r\n");
    h.turn();
    h.advance(Duration::from_millis(29_999));
    assert!(c.received().is_empty());
    h.advance(Duration::from_millis(1));
    let answer = text(&c);
    assert!(
        answer.starts_with("HTTP/1.1 204 ") && answer.contains("X-Cursor: 1"),
        "{answer}"
    );
}

#[test]
fn a_stream_consumer_that_stops_reading_is_cut_off_when_its_queue_is_full() {
    let limits = Limits {
        write_queue_bytes: 64 * 1024,
        ..Limits::default()
    };
    let mut h = hub(limits);
    let reader = h.connect();
    reader.send(b"GET /events?topic=s HTTP/1.1\r\nHost: a\r\n\r\n");
    h.turn();
    assert!(text(&reader).starts_with("HTTP/1.1 200 "));
    reader.stop_reading();
    let big = "x".repeat(60_000);
    // The pipe (256 KiB, the kernel's buffer) takes four; the write queue the fifth.
    for _ in 0..5 {
        publish(&mut h, "s", &big);
    }
    assert!(!reader.is_closed());
    // One more would pass the queue's limit: the stream is cut (it resumes with
    // Last-Event-ID), rather than queue without bound.
    for _ in 0..3 {
        publish(&mut h, "s", &big);
    }
    assert!(reader.is_closed());
}

#[test]
fn a_response_its_client_does_not_read_is_dropped_after_the_slow_consumer_timeout() {
    let limits = Limits {
        write_queue_bytes: 64 * 1024,
        slow_consumer_timeout: Duration::from_secs(30),
        ..Limits::default()
    };
    let mut h = hub(limits);
    let big = "y".repeat(60_000);
    for _ in 0..10 {
        publish(&mut h, "r", &big);
    }
    let reader = h.connect();
    reader.stop_reading();
    reader.send(b"GET /poll?topic=r&cursor=0 HTTP/1.1\r\nHost: a\r\n\r\n");
    h.turn();
    // 600 kB answered: 256 KiB in the pipe, the rest queued, over the limit.
    h.advance(Duration::from_secs(29));
    assert!(!reader.is_closed(), "dropped before slow_consumer_timeout");
    h.advance(Duration::from_secs(2));
    assert!(reader.is_closed(), "a client behind for 30 s is dropped");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_at_the_idle_deadline_and_eof_is_honoured() {
    let limits = Limits::default();
    let idle = limits.idle_timeout;
    let mut h = hub(limits);
    let c = h.connect();
    c.send(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n");
    h.turn();
    assert!(text(&c).starts_with("HTTP/1.1 200 "));
    h.advance(idle - Duration::from_millis(1));
    assert!(!c.is_closed());
    h.advance(Duration::from_millis(1));
    assert!(c.is_closed());
    // A client that closes its side after a request still gets the answer, then the end.
    let d = h.connect();
    d.send(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n");
    d.close();
    h.turn();
    assert!(text(&d).ends_with("Hello, World!"));
    assert!(d.is_closed());
    h.advance(Duration::from_secs(5));
    assert_eq!(h.connections(), 0);
}

#[test]
fn a_shutdown_closes_websockets_with_1001() {
    let mut h = hub(Limits::default());
    let ws = h.connect();
    ws.send(b"GET /ws?topic=w HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    h.turn();
    let head = ws.received();
    assert!(
        head.starts_with(b"HTTP/1.1 101 "),
        "{}",
        String::from_utf8_lossy(&head)
    );
    h.handle().shutdown();
    h.turn();
    let frame = ws.received();
    // A close frame (0x88) with 1001 (0x03e9) first in its payload.
    assert_eq!(frame.first(), Some(&0x88));
    assert_eq!(frame.get(2..4), Some(&[0x03, 0xe9][..]), "{frame:?}");
}
