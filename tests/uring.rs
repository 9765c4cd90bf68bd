//! The io_uring driver under churn: connections that come and go every way a client can leave
//! (mid-stream, mid-request, reset, parked, too slow to read, closing properly) leave nothing
//! behind in the ring — no socket, no submission in flight — and the server goes on serving.
//!
//! The rest of the behavioural suite runs on this driver as on the default one
//! (`PUSHWIRE_DRIVER=uring cargo test`, in CI).

#![cfg(all(feature = "uring", target_os = "linux"))]

mod common;

use common::{Client, Sse, TestServer, WsClient, WsEv, connect, publish, stat, wait_for};
use pushwire::Limits;
use pushwire::reactor::{IoDriver, Server};
use pushwire::server::HubServer;
use pushwire::server::hub_server::Notice as Published;
use std::io::Write;
use std::time::Duration;

/// Whether this kernel runs io_uring; the reason is printed when it does not (CI runs where
/// it does, and says so).
fn uring_runs() -> bool {
    match IoDriver::Uring.available() {
        Ok(()) => true,
        Err(why) => {
            eprintln!("NOT RUN on this machine: {why}");
            false
        }
    }
}

fn hub(limits: Limits) -> TestServer<Published> {
    let builder = Server::builder()
        .threads(2)
        .limits(limits.clone())
        .driver(IoDriver::Uring);
    TestServer::start_built(builder, HubServer::new(limits, b"<!doctype html>"))
}

/// (sockets the rings hold, submissions in flight)
fn ring(s: &TestServer<Published>) -> (u64, u64) {
    let io = s.handle.io_stats();
    (io.ring_sockets, io.ring_in_flight)
}

/// One round of clients leaving in every way, `n` of each.
fn churn(s: &TestServer<Published>, round: usize, n: usize) {
    let topic = format!("churn{round}");
    let mut left = Vec::new();
    for _ in 0..n {
        // An event stream, dropped mid-stream.
        let mut sse = Sse::open(s.addr, &format!("/events?topic={topic}"), None);
        left.push(sse.stream.try_clone().unwrap());
        // A WebSocket dropped without a close, one closed properly, one echoing first.
        let ws = WsClient::connect(s.addr, &format!("/ws?topic={topic}"));
        left.push(ws.stream.try_clone().unwrap());
        let mut polite = WsClient::connect(s.addr, "/echo");
        polite.send_text("bye");
        assert_eq!(polite.recv(), Some(WsEv::Text("bye".into())));
        polite.close(1000);
        polite.expect_close(1000);
        // A parked long-poll, left.
        let mut parked = Client::new(s.addr);
        parked.send("GET", &format!("/poll?topic={topic}&timeout=30"), None);
        left.push(parked.stream);
        // Half a request head, left.
        let mut half = connect(s.addr);
        half.write_all(b"GET /stats HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        left.push(half);
        // A reset (RST instead of FIN) after a whole request.
        let reset = connect(s.addr);
        (&reset)
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        socket2::SockRef::from(&reset)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(reset);
        publish(s.addr, &topic, "an event every follower had");
        assert!(sse.next().is_some(), "the stream works before it is left");
    }
    // The rings hold every socket still open (the figures are live, so that the zero at the
    // end means something).
    let open = left.len() as u64;
    wait_for(|| ring(s).0 >= open);
    // A follower that never reads while large events arrive: cut as a slow consumer, or left.
    let slow = Sse::open(s.addr, &format!("/events?topic={topic}"), None);
    let big = "x".repeat(60_000);
    for _ in 0..20 {
        publish(s.addr, &topic, &big);
    }
    drop(slow);
    drop(left);
}

#[test]
fn churn_leaves_no_socket_and_no_submission_in_the_ring() {
    if !uring_runs() {
        return;
    }
    let s = hub(Limits {
        write_queue_bytes: 64 * 1024,
        slow_consumer_timeout: Duration::from_millis(200),
        ..Limits::default()
    });
    for round in 0..5 {
        churn(&s, round, 20);
    }
    // Everything left ends; the rings let go of every socket, and nothing stays in flight or
    // counted against the memory budget (inboxes count with frames, send buffers with queues).
    wait_for(|| ring(&s) == (0, 0));
    wait_for(|| {
        stat(s.addr, "memory", "write_queues") == 0 && stat(s.addr, "memory", "frames") == 0
    });
    // And the server goes on: a new follower gets what is published after it came.
    let mut sse = Sse::open(s.addr, "/events?topic=after", None);
    publish(s.addr, "after", "still here");
    let event = sse.next().expect("an event after the churn");
    assert!(format!("{event:?}").contains("still here"), "{event:?}");
    drop(sse);
    wait_for(|| ring(&s) == (0, 0));
    s.stop().expect("a clean stop");
}

#[test]
fn a_drain_on_io_uring_closes_websockets_1001_and_stops() {
    if !uring_runs() {
        return;
    }
    let s = hub(Limits::default());
    let mut ws = WsClient::connect(s.addr, "/ws?topic=d");
    publish(s.addr, "d", "before the drain");
    assert!(matches!(ws.recv(), Some(WsEv::Text(t)) if t.contains("before the drain")));
    let stopper = std::thread::spawn(move || s.stop());
    match ws.recv() {
        Some(WsEv::Close(Some(1001), _)) => {}
        other => panic!("expected close 1001, got {other:?}"),
    }
    drop(ws);
    stopper.join().unwrap().expect("the server stops cleanly");
}

#[test]
fn the_driver_is_named_and_a_wrong_name_is_refused() {
    assert_eq!("uring".parse::<IoDriver>().unwrap(), IoDriver::Uring);
    assert_eq!("epoll".parse::<IoDriver>().unwrap(), IoDriver::Epoll);
    let err = "kqueue".parse::<IoDriver>().unwrap_err();
    assert!(err.to_string().contains("epoll or uring"), "{err}");
    assert_eq!(IoDriver::default(), IoDriver::Epoll);
}
