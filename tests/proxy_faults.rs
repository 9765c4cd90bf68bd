//! Every technique through a fault-injecting proxy (`common::proxy`): delayed links, one byte at
//! a time, a stalled link, resets in the middle of a request head, a response head or a frame,
//! half-closes and a burst of pipelined input. A follower that resumes with its cursor gets every
//! event published exactly once, in order, whatever the link did.

mod common;

use common::proxy::{Dir, Fault, Proxy};
use common::{Client, TestServer, WsClient, WsEv, stat, wait_for};
use pushwire::Limits;
use pushwire::server::HubServer;
use pushwire::server::hub_server::Notice;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

fn server() -> TestServer<Notice> {
    let limits = Limits::default();
    TestServer::start(HubServer::new(limits.clone(), b""), limits, 2)
}

/// Publishes events `from..=to` to `topic` (a topic that has `from - 1`), straight to the
/// server, one after the other.
fn publish_all(addr: SocketAddr, topic: &str, from: u64, to: u64) -> std::thread::JoinHandle<()> {
    let topic = topic.to_string();
    std::thread::spawn(move || {
        let mut c = Client::new(addr);
        for i in from..=to {
            c.send("POST", &format!("/publish?topic={topic}"), Some(b"event"));
            let r = c.recv().expect("publish answered");
            assert_eq!(String::from_utf8(r.body).unwrap(), i.to_string());
        }
    })
}

/// Every `"seq":N` in `text`, in order.
fn seqs_in(text: &str) -> Vec<u64> {
    text.split("\"seq\":")
        .skip(1)
        .filter_map(|rest| rest.split([',', '}']).next()?.parse().ok())
        .collect()
}

/// The four techniques, as a client that resumes with its cursor.
#[derive(Clone, Copy, Debug)]
enum Technique {
    Sse,
    WebSocket,
    LongPoll,
    ShortPoll,
}

impl Technique {
    const ALL: [Technique; 4] = [
        Technique::Sse,
        Technique::WebSocket,
        Technique::LongPoll,
        Technique::ShortPoll,
    ];

    /// Follows `topic` over `addr` from `got`'s last event until `n` events are there or the
    /// connection fails (what arrived whole is kept).
    fn session(self, addr: SocketAddr, topic: &str, got: &mut Vec<u64>, n: u64) {
        let cursor = got.last().copied().unwrap_or(0);
        match self {
            Technique::Sse => sse_session(addr, topic, cursor, got, n),
            Technique::WebSocket => {
                let target = format!("/ws?topic={topic}&cursor={cursor}");
                let Some(mut ws) = WsClient::try_connect(addr, &target) else {
                    return;
                };
                while (got.len() as u64) < n {
                    match ws.recv() {
                        Some(WsEv::Text(t)) => got.extend(seqs_in(&t)),
                        Some(_) => {}
                        None => return,
                    }
                }
            }
            Technique::LongPoll | Technique::ShortPoll => {
                let wait = if matches!(self, Technique::LongPoll) {
                    5
                } else {
                    0
                };
                let mut c = Client::new(addr);
                while (got.len() as u64) < n {
                    let cursor = got.last().copied().unwrap_or(0);
                    let target = format!("/poll?topic={topic}&cursor={cursor}&wait={wait}");
                    let mut request = Vec::new();
                    let empty = pushwire::http::client::RequestBody::Empty;
                    let host: (&str, &[u8]) = ("Host", b"t");
                    c.http
                        .send_request("GET", &target, &[host], empty, &mut request)
                        .expect("a request the client machine can send");
                    if c.stream.write_all(&request).is_err() {
                        return;
                    }
                    let Some(r) = c.recv() else { return };
                    if r.status == 200 {
                        got.extend(seqs_in(&String::from_utf8_lossy(&r.body)));
                    }
                }
            }
        }
    }
}

/// An event stream from `cursor`, parsed with the crate's own SSE parser (a partly received
/// event is never dispatched: the resumed stream sends it again, whole).
fn sse_session(addr: SocketAddr, topic: &str, cursor: u64, got: &mut Vec<u64>, n: u64) {
    let mut stream = common::connect(addr);
    let request = format!(
        "GET /events?topic={topic}&lastEventId={cursor} HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return;
    }
    let mut parser = pushwire::sse::Parser::new(1 << 20, 1 << 20);
    let (mut buf, mut head_done) = (Vec::new(), false);
    let mut chunk = [0u8; 4096];
    while (got.len() as u64) < n {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
        if !head_done {
            let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            assert!(buf.starts_with(b"HTTP/1.1 200"));
            buf.drain(..end + 4);
            head_done = true;
        }
        while !buf.is_empty() {
            let step = parser.feed(&buf).expect("a well-formed stream");
            buf.drain(..step.consumed);
            if let Some(pushwire::sse::Item::Event(e)) = step.item {
                got.push(e.last_event_id.parse().expect("an id on every event"));
            } else if step.consumed == 0 {
                break;
            }
        }
    }
}

/// Follows `topic` through `proxy` until `n` events arrived, resuming after every failure;
/// asserts that they are 1..=n, each once, in order.
fn follow_through(technique: Technique, proxy: &Proxy, topic: &str, n: u64) {
    let mut got = Vec::new();
    for _ in 0..200 {
        technique.session(proxy.addr, topic, &mut got, n);
        if got.len() as u64 >= n {
            break;
        }
    }
    let want: Vec<u64> = (1..=n).collect();
    assert_eq!(got, want, "{technique:?} through {proxy:?}");
}

#[test]
fn resets_in_the_middle_of_responses_lose_and_repeat_nothing() {
    let s = server();
    for (i, technique) in Technique::ALL.into_iter().enumerate() {
        let proxy = Proxy::start(s.addr);
        // The first connection is cut 60 bytes into what the server sends (inside the response
        // head), each later one 97 bytes further (inside an event, a frame, a body), 12 times.
        proxy.set(
            Dir::Down,
            Fault::ResetAfter {
                bytes: 60,
                step: 97,
                times: 12,
            },
        );
        let topic = format!("reset-down-{i}");
        let publisher = publish_all(s.addr, &topic, 1, 40);
        follow_through(technique, &proxy, &topic, 40);
        publisher.join().unwrap();
        assert!(proxy.resets() >= 1, "{technique:?}: {proxy:?}");
    }
}

#[test]
fn resets_in_the_middle_of_requests_lose_and_repeat_nothing() {
    let s = server();
    for (i, technique) in Technique::ALL.into_iter().enumerate() {
        let proxy = Proxy::start(s.addr);
        // Cut inside the request head (12 bytes in), then later and later.
        proxy.set(
            Dir::Up,
            Fault::ResetAfter {
                bytes: 12,
                step: 9,
                times: 6,
            },
        );
        let topic = format!("reset-up-{i}");
        let publisher = publish_all(s.addr, &topic, 1, 20);
        follow_through(technique, &proxy, &topic, 20);
        publisher.join().unwrap();
        assert!(proxy.resets() >= 1, "{technique:?}: {proxy:?}");
    }
    // The server is still whole: every cut connection was let go.
    wait_for(|| stat(s.addr, "websocket", "connections") == 0);
    wait_for(|| stat(s.addr, "sse", "connections") == 0);
}

#[test]
fn one_byte_at_a_time_both_ways_and_delayed_links_deliver_everything() {
    let s = server();
    for fault in [Fault::Trickle, Fault::Delay(Duration::from_millis(20))] {
        for (i, technique) in Technique::ALL.into_iter().enumerate() {
            let proxy = Proxy::start(s.addr);
            proxy.set(Dir::Up, fault);
            proxy.set(Dir::Down, fault);
            let topic = format!("slow-{i}-{fault:?}").replace([' ', '(', ')', '{', '}', ':'], "");
            let publisher = publish_all(s.addr, &topic, 1, 5);
            follow_through(technique, &proxy, &topic, 5);
            publisher.join().unwrap();
        }
    }
}

#[test]
fn a_stalled_link_catches_up_when_it_resumes() {
    let s = server();
    for (i, technique) in Technique::ALL.into_iter().enumerate() {
        let proxy = Proxy::start(s.addr);
        let topic = format!("stall-{i}");
        publish_all(s.addr, &topic, 1, 3).join().unwrap();
        // Held from the start: the request (or its answer) waits in the proxy while more
        // events are published.
        proxy.set(Dir::Down, Fault::Stall);
        let follower = {
            let (addr, topic) = (proxy.addr, topic.clone());
            std::thread::spawn(move || {
                let mut got = Vec::new();
                for _ in 0..50 {
                    technique.session(addr, &topic, &mut got, 30);
                    if got.len() >= 30 {
                        break;
                    }
                }
                got
            })
        };
        wait_for(|| proxy.accepted() >= 1);
        publish_all(s.addr, &topic, 4, 30).join().unwrap();
        proxy.set(Dir::Down, Fault::Pass);
        let got = follower.join().unwrap();
        assert_eq!(got, (1..=30).collect::<Vec<u64>>(), "{technique:?}");
    }
}

#[test]
fn a_request_then_a_half_close_is_answered_in_full() {
    let s = server();
    let proxy = Proxy::start(s.addr);
    let mut stream = common::connect(proxy.addr);
    stream
        .write_all(b"POST /publish?topic=half HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi")
        .unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("\r\n\r\n1"), "{answer}");
    // A request cut short by the half-close (its body promised 10 bytes, 2 came) is not
    // published: the next one is number 2.
    proxy.set(Dir::Up, Fault::HalfCloseAfter(66));
    let mut cut = TcpStream::connect(proxy.addr).unwrap();
    cut.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let request = b"POST /publish?topic=half HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhi";
    assert_eq!(request.len(), 68);
    cut.write_all(request).unwrap();
    let mut rest = Vec::new();
    let _ = cut.read_to_end(&mut rest);
    let rest = String::from_utf8_lossy(&rest);
    assert!(
        rest.is_empty() || rest.starts_with("HTTP/1.1 400"),
        "{rest}"
    );
    proxy.set(Dir::Up, Fault::Pass);
    let mut c = Client::new(s.addr);
    c.send("POST", "/publish?topic=half", Some(b"next"));
    assert_eq!(c.recv().unwrap().body, b"2");
}

#[test]
fn a_burst_of_pipelined_requests_through_a_trickling_link_is_answered_in_order() {
    let s = server();
    let proxy = Proxy::start(s.addr);
    // The answers come back a byte at a time, so the server's output backs up while the whole
    // burst is already read.
    proxy.set(Dir::Down, Fault::Delay(Duration::from_millis(5)));
    let mut stream = common::connect(proxy.addr);
    let mut burst = Vec::new();
    for _ in 0..100 {
        burst.extend_from_slice(
            b"POST /publish?topic=burst HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx",
        );
    }
    burst.extend_from_slice(
        b"GET /poll?topic=burst&cursor=0&wait=0 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    stream.write_all(&burst).unwrap();
    let mut answers = String::new();
    stream.read_to_string(&mut answers).unwrap();
    let bodies: Vec<u64> = answers
        .split("HTTP/1.1 200 OK\r\n")
        .skip(1)
        .take(100)
        .map(|a| a.rsplit("\r\n\r\n").next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(bodies, (1..=100).collect::<Vec<u64>>());
    assert_eq!(seqs_in(&answers), (1..=100).collect::<Vec<u64>>());
}
