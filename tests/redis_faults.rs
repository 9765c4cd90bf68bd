//! The Redis link under faults: a fault-injecting proxy (`common::proxy`) between a node and a
//! real `redis-server` that resets the link in the middle of replies, passes it one byte at a
//! time, or holds it; and a `redis-server` stopped with `SIGSTOP`. Followers stay connected and
//! get every event once, in order; publishes fail fast with `503` while the link is down.
//!
//! `cargo test --features redis-tests --test redis_faults`

mod common;

use common::proxy::{Dir, Fault, Proxy};
use common::redis::{Node, Redis, seq_of, ws_text};
use common::{Sse, WsClient, stat, wait_for};
use pushwire::server::redis::RedisUrl;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A proxy in front of `redis`, and a node whose link goes through it.
fn node_through_proxy(redis: &Redis) -> (Proxy, Node) {
    let proxy = Proxy::start(SocketAddr::from(([127, 0, 0, 1], redis.port)));
    let url: RedisUrl = format!("redis://{}", proxy.addr).parse().unwrap();
    (proxy, Node::start_url(url))
}

/// Reads `n` events from an event stream and a WebSocket; their numbers, each in order.
fn read_both(sse: &mut Sse, ws: &mut WsClient, n: usize) -> (Vec<u64>, Vec<u64>) {
    let from_sse = (0..n)
        .map(|_| seq_of(&sse.next().expect("an event on the stream").1))
        .collect();
    let from_ws = (0..n).map(|_| seq_of(&ws_text(ws))).collect();
    (from_sse, from_ws)
}

#[test]
fn a_link_reset_in_the_middle_of_replies_reconnects_and_followers_miss_nothing() {
    let redis = Redis::start(false);
    let a = Node::start(&redis);
    let (proxy, b) = node_through_proxy(&redis);
    let mut sse = Sse::open(b.addr(), "/events?topic=r", None);
    let mut ws = WsClient::connect(b.addr(), "/ws?topic=r");
    wait_for(|| stat(b.addr(), "websocket", "connections") == 1);
    let first = a.published("r", "0");
    assert_eq!(read_both(&mut sse, &mut ws, 1), (vec![first], vec![first]));
    // From now, each new link is cut a little further into what Redis sends it (inside the
    // handshake's replies, a stream read, a pushed message), eight times.
    proxy.set(
        Dir::Down,
        Fault::ResetAfter {
            bytes: 40,
            step: 150,
            times: 8,
        },
    );
    let mut published = Vec::new();
    for i in 0..60 {
        published.push(a.published("r", &i.to_string()));
        if i % 8 == 0 {
            // Make the current link read something, so that the cut lands.
            let _ = b.publish("r-side", "x");
        }
    }
    let (from_sse, from_ws) = read_both(&mut sse, &mut ws, published.len());
    assert_eq!(from_sse, published, "{proxy:?}");
    assert_eq!(from_ws, published);
    assert!(proxy.resets() >= 2, "the link was cut: {proxy:?}");
    assert!(b.link.reconnects() >= 2);
    // Both followers stayed connected throughout.
    assert_eq!(stat(b.addr(), "sse", "connections"), 1);
    assert_eq!(stat(b.addr(), "websocket", "connections"), 1);
}

#[test]
fn a_link_that_trickles_one_byte_at_a_time_still_carries_everything() {
    let redis = Redis::start(false);
    let a = Node::start(&redis);
    let (proxy, b) = node_through_proxy(&redis);
    proxy.set(Dir::Up, Fault::Trickle);
    proxy.set(Dir::Down, Fault::Trickle);
    let mut sse = Sse::open(b.addr(), "/events?topic=slow", None);
    let mut ws = WsClient::connect(b.addr(), "/ws?topic=slow");
    wait_for(|| stat(b.addr(), "websocket", "connections") == 1);
    let mut published = vec![a.published("slow", "from a")];
    published.push(b.published("slow", "from b, one byte at a time"));
    published.push(a.published("slow", "from a again"));
    assert_eq!(
        read_both(&mut sse, &mut ws, 3),
        (published.clone(), published)
    );
}

#[test]
fn a_held_link_is_given_up_publishes_fail_fast_and_followers_catch_up() {
    let redis = Redis::start(false);
    let a = Node::start(&redis);
    let (proxy, b) = node_through_proxy(&redis);
    let mut sse = Sse::open(b.addr(), "/events?topic=h", None);
    let mut ws = WsClient::connect(b.addr(), "/ws?topic=h");
    wait_for(|| stat(b.addr(), "websocket", "connections") == 1);
    let mut published = vec![a.published("h", "before")];
    assert_eq!(read_both(&mut sse, &mut ws, 1).0, published);
    // Redis's replies to B are held: B's link sees no progress and gives the connection up.
    proxy.set(Dir::Down, Fault::Stall);
    wait_for(|| !b.link.is_up());
    let asked = Instant::now();
    let refused = b.publish("h", "while held");
    assert_eq!(refused.status, 503);
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "refused at once, not after a wait: {:?}",
        asked.elapsed()
    );
    // Meanwhile events go on elsewhere.
    for i in 0..5 {
        published.push(a.published("h", &format!("elsewhere {i}")));
    }
    assert_eq!(stat(b.addr(), "sse", "connections"), 1);
    assert_eq!(stat(b.addr(), "websocket", "connections"), 1);
    proxy.set(Dir::Down, Fault::Pass);
    wait_for(|| b.link.is_up());
    published.push(b.published("h", "after"));
    let (from_sse, from_ws) = read_both(&mut sse, &mut ws, published.len() - 1);
    assert_eq!(from_sse, published[1..]);
    assert_eq!(from_ws, published[1..]);
}

#[test]
fn a_stopped_redis_means_503_at_once_and_sigcont_resumes_without_loss() {
    let redis = Redis::start(false);
    let (a, b) = (Node::start(&redis), Node::start(&redis));
    let mut sse = Sse::open(b.addr(), "/events?topic=s", None);
    let mut ws = WsClient::connect(b.addr(), "/ws?topic=s");
    wait_for(|| stat(b.addr(), "websocket", "connections") == 1);
    let mut published = vec![a.published("s", "before")];
    assert_eq!(read_both(&mut sse, &mut ws, 1).0, published);
    redis.signal("STOP");
    wait_for(|| !a.link.is_up() && !b.link.is_up());
    let asked = Instant::now();
    assert_eq!(a.publish("s", "while stopped").status, 503);
    assert_eq!(b.publish("s", "while stopped").status, 503);
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    assert_eq!(
        common::Client::new(a.addr()).get("/health").status,
        503,
        "the node says it cannot publish"
    );
    assert_eq!(stat(b.addr(), "sse", "connections"), 1);
    assert_eq!(stat(b.addr(), "websocket", "connections"), 1);
    redis.signal("CONT");
    wait_for(|| a.link.is_up() && b.link.is_up());
    for i in 0..5 {
        published.push(a.published("s", &format!("after {i}")));
    }
    let (from_sse, from_ws) = read_both(&mut sse, &mut ws, published.len() - 1);
    assert_eq!(from_sse, published[1..]);
    assert_eq!(from_ws, published[1..]);
}
