//! Several topics on one connection, over real sockets: every technique with several topics,
//! one position for the set that round-trips and resumes exactly, bad positions refused, the
//! limit, scope per topic, the `pushwire.v1` commands, and the Rust subscriber switching
//! transports and reconnecting without losing or repeating an event.

mod common;

use common::{Client, Sse, TestServer, WsClient, WsEv, stat, wait_for};
use proptest::prelude::*;
use pushwire::Limits;
use pushwire::client::{self, Item, Received, Subscriber, Transport};
use pushwire::hub::position;
use pushwire::server::HubServer;
use pushwire::server::hub_server::Notice;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

fn server(limits: Limits) -> TestServer<Notice> {
    TestServer::start(HubServer::new(limits.clone(), b""), limits, 2)
}

fn publish(addr: SocketAddr, topic: &str, body: &str) -> u64 {
    client::publish(
        &format!("http://{addr}"),
        topic,
        body.as_bytes(),
        None,
        None,
    )
    .unwrap()
}

/// `(topic, seq)` of an event's line.
fn event(line: &str) -> (String, u64) {
    let topic = line
        .split("\"topic\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let seq = line
        .split("\"seq\":")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    (topic.to_string(), seq.parse().unwrap())
}

#[test]
fn an_event_stream_of_several_topics_names_each_and_resumes_from_any_id() {
    let s = server(Limits::default());
    let mut sse = Sse::open(s.addr, "/events?topic=a&topic=b&topic=c", None);
    publish(s.addr, "a", "a1");
    publish(s.addr, "b", "b1");
    publish(s.addr, "a", "a2");
    publish(s.addr, "c", "c1");
    let mut ids = Vec::new();
    for expected in [("a", 1), ("b", 1), ("a", 2), ("c", 1)] {
        let (kind, data, id) = sse.next().unwrap();
        assert_eq!(kind, "message");
        assert_eq!(event(&data), (expected.0.to_string(), expected.1));
        ids.push(id);
    }
    // Every id is a position naming every topic's cursor after that event.
    let names = ["a", "b", "c"];
    assert_eq!(
        position::parse(&ids[1], &names, 4096),
        Ok(vec![Some(1), Some(1), Some(0)])
    );
    assert_eq!(
        position::parse(&ids[3], &names, 4096),
        Ok(vec![Some(2), Some(1), Some(1)])
    );
    // Resuming from any of them delivers exactly what followed it.
    for (i, id) in ids.iter().enumerate() {
        let mut c = Client::new(s.addr);
        let target = format!("/poll?topic=a&topic=b&topic=c&wait=0&cursor={id}");
        let r = c.get(&target);
        if i == 3 {
            assert_eq!(r.status, 204, "nothing after the last");
            assert_eq!(r.header("x-cursor"), Some(id.as_bytes()));
            continue;
        }
        let body = String::from_utf8(r.body).unwrap();
        let got: Vec<(String, u64)> = body.lines().map(event).collect();
        let expected: Vec<(String, u64)> = [("a", 1), ("b", 1), ("a", 2), ("c", 1)][i + 1..]
            .iter()
            .map(|(t, n)| (t.to_string(), *n))
            .collect();
        assert_eq!(got, expected, "after id {i}");
    }
    // And an event stream resumed from one goes on from there.
    let mut resumed = Sse::open(
        s.addr,
        &format!("/events?topic=a&topic=b&topic=c&lastEventId={}", ids[1]),
        None,
    );
    assert_eq!(event(&resumed.next().unwrap().1), ("a".to_string(), 2));
    assert_eq!(event(&resumed.next().unwrap().1), ("c".to_string(), 1));
}

#[test]
fn an_event_stream_takes_its_position_as_cursor_too_and_the_header_wins() {
    let s = server(Limits::default());
    for body in ["a1", "a2", "a3"] {
        publish(s.addr, "a", body);
    }
    publish(s.addr, "b", "b1");
    let mut at = String::new();
    position::encode_set([("a", 1), ("b", 1)], &mut at);
    // `cursor`, as the other techniques take it.
    let mut sse = Sse::open(
        s.addr,
        &format!("/events?topic=a&topic=b&cursor={at}"),
        None,
    );
    assert_eq!(event(&sse.next().unwrap().1), ("a".to_string(), 2));
    assert_eq!(event(&sse.next().unwrap().1), ("a".to_string(), 3));
    // A single topic's position is its decimal sequence number; `Last-Event-ID` (what
    // EventSource sends when it reconnects) wins over the query's.
    let mut sse = Sse::open(s.addr, "/events?topic=a&cursor=0", Some(2));
    assert_eq!(event(&sse.next().unwrap().1), ("a".to_string(), 3));
    // A bad one is refused as on the other techniques.
    let r = Client::new(s.addr).get("/events?topic=a&topic=b&cursor=x");
    assert_eq!(r.status, 400);
}

#[test]
fn a_topic_the_position_does_not_name_starts_from_now_and_0_asks_for_all_history() {
    let s = server(Limits::default());
    publish(s.addr, "a", "old a");
    publish(s.addr, "b", "old b");
    let at = {
        let mut out = String::new();
        position::encode_set([("a", 0)], &mut out);
        out
    };
    // One topic named (decimal, as a single-topic position is): a from 0, b from now.
    let mut c = Client::new(s.addr);
    let r = c.get(&format!("/poll?topic=a&topic=b&wait=0&cursor={at}"));
    let body = String::from_utf8(r.body).unwrap();
    assert_eq!(
        body.lines().map(event).collect::<Vec<_>>(),
        [("a".to_string(), 1)]
    );
    let r = c.get("/poll?topic=a&topic=b&wait=0&cursor=0");
    let got: Vec<_> = String::from_utf8(r.body)
        .unwrap()
        .lines()
        .map(event)
        .collect();
    assert_eq!(got.len(), 2, "{got:?}");
}

#[test]
fn a_parked_poll_on_several_topics_wakes_on_any_and_says_where_to_go_on() {
    let s = server(Limits::default());
    let mut c = Client::new(s.addr);
    let first = c.get("/poll?topic=x&topic=y&wait=0");
    let at = String::from_utf8(first.header("x-cursor").unwrap().to_vec()).unwrap();
    c.send("GET", &format!("/poll?topic=x&topic=y&cursor={at}"), None);
    wait_for(|| stat(s.addr, "long_poll", "connections") == 1);
    publish(s.addr, "y", "wake");
    let r = c.recv().unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        event(std::str::from_utf8(&r.body).unwrap().trim()),
        ("y".to_string(), 1)
    );
    let next = String::from_utf8(r.header("x-cursor").unwrap().to_vec()).unwrap();
    assert_eq!(
        position::parse(&next, &["x", "y"], 4096),
        Ok(vec![Some(0), Some(1)])
    );
}

#[test]
fn a_websocket_of_several_topics_gets_each_with_its_topic_and_resumes_from_a_position() {
    let s = server(Limits::default());
    let mut ws = WsClient::connect(s.addr, "/ws?topic=a&topic=b");
    publish(s.addr, "b", "b1");
    publish(s.addr, "a", "a1");
    let mut got = Vec::new();
    for _ in 0..2 {
        let Some(WsEv::Text(t)) = ws.recv() else {
            panic!()
        };
        got.push(event(&t));
    }
    assert_eq!(got, [("b".to_string(), 1), ("a".to_string(), 1)]);
    publish(s.addr, "a", "a2");
    let mut at = String::new();
    position::encode([("a", 1), ("b", 1)], &mut at);
    let mut resumed = WsClient::connect(s.addr, &format!("/ws?topic=a&topic=b&cursor={at}"));
    let Some(WsEv::Text(t)) = resumed.recv() else {
        panic!()
    };
    assert_eq!(event(&t), ("a".to_string(), 2));
    // Text sent on a socket of several topics has no one topic to go to.
    resumed.send_text("hello");
    assert_eq!(
        resumed.recv(),
        Some(WsEv::Close(
            Some(1008),
            "publishing needs one topic, or the pushwire.v1 subprotocol".into()
        ))
    );
}

#[test]
fn bad_positions_and_too_many_topics_are_400_naming_why() {
    let limits = Limits {
        max_topics_per_connection: 3,
        ..Limits::default()
    };
    let s = server(limits);
    let mut other = String::new();
    position::encode([("a", 1), ("z", 2)], &mut other);
    let huge = format!("1.{}", "A".repeat(5000));
    for (target, why) in [
        (
            format!("/poll?topic=a&topic=b&cursor={other}"),
            "names topic \"z\"",
        ),
        (
            "/poll?topic=a&topic=b&cursor=7".to_string(),
            "a decimal cursor names one topic",
        ),
        (
            "/poll?topic=a&topic=b&cursor=1.%21%21".to_string(),
            "expected a decimal number",
        ),
        (
            format!("/events?topic=a&topic=b&lastEventId={huge}"),
            "longer than",
        ),
        (
            "/poll?topic=a&topic=b&topic=c&topic=d".to_string(),
            "max_topics_per_connection (3)",
        ),
    ] {
        let r = Client::new(s.addr).get(&target);
        assert_eq!(r.status, 400, "{target}");
        let body = String::from_utf8(r.body).unwrap();
        assert!(body.contains(why), "{target}: {body}");
    }
}

/// A `pushwire.v1` socket.
fn commands(addr: SocketAddr, query: &str) -> client::WebSocket {
    let target: client::Target = format!("http://{addr}").parse().unwrap();
    let (socket, protocol) = client::WebSocket::connect(
        &target,
        &format!("/ws{query}"),
        &["pushwire.v1"],
        &[],
        None,
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(protocol.as_deref(), Some("pushwire.v1"));
    socket
}

fn text(socket: &mut client::WebSocket) -> String {
    match socket.recv().unwrap() {
        Received::Text(t) => t,
        other => panic!("{other:?}"),
    }
}

#[test]
fn pushwire_v1_subscribes_unsubscribes_and_publishes_with_refs() {
    let limits = Limits {
        max_topics_per_connection: 2,
        ..Limits::default()
    };
    let s = server(limits);
    publish(s.addr, "news", "old");
    let mut ws = commands(s.addr, "");
    ws.send_text(r#"{"subscribe":"news","cursor":0,"ref":"r1"}"#)
        .unwrap();
    assert_eq!(
        text(&mut ws),
        r#"{"ok":"r1","subscribe":"news","cursor":0}"#
    );
    assert_eq!(event(&text(&mut ws)), ("news".to_string(), 1));
    ws.send_text(r#"{"subscribe":"chat","ref":2}"#).unwrap();
    assert_eq!(text(&mut ws), r#"{"ok":2,"subscribe":"chat","cursor":0}"#);
    ws.send_text(r#"{"subscribe":"third","ref":3}"#).unwrap();
    assert_eq!(
        text(&mut ws),
        r#"{"error":"over max_topics_per_connection (2)","ref":3}"#
    );
    ws.send_text(r#"{"publish":"chat","data":"hi \"there\"","ref":"p"}"#)
        .unwrap();
    // The answer and the event it published, in either order: both arrive.
    let mut got = [text(&mut ws), text(&mut ws)];
    got.sort();
    assert_eq!(got[0], r#"{"ok":"p","publish":"chat","seq":1}"#);
    assert!(got[1].contains(r#""data":"hi \"there\"""#), "{}", got[1]);
    ws.send_text(r#"{"unsubscribe":"news"}"#).unwrap();
    assert_eq!(text(&mut ws), r#"{"ok":true,"unsubscribe":"news"}"#);
    publish(s.addr, "news", "not for it");
    publish(s.addr, "chat", "for it");
    assert_eq!(event(&text(&mut ws)), ("chat".to_string(), 2));
    for (bad, why) in [
        (r#"{"jump":"x"}"#, "unknown command"),
        (r#"[1,2]"#, "a command is a JSON object"),
        (r#"{"subscribe":7}"#, "a topic is a string"),
        (r#"{"publish":"chat"}"#, "data must be a string"),
        (r#"{"unsubscribe":"never"}"#, "not subscribed"),
        (
            r#"{"subscribe":"x","cursor":-1}"#,
            "cursor: a decimal number",
        ),
        (
            r#"{"subscribe":"x","ref":{"o":1}}"#,
            "ref must be a string or a number",
        ),
    ] {
        ws.send_text(bad).unwrap();
        let answer = text(&mut ws);
        assert!(
            answer.starts_with("{\"error\":") && answer.contains(why),
            "{bad}: {answer}"
        );
    }
    // Not JSON at all: the connection is closed 1007.
    ws.send_text("subscribe news").unwrap();
    assert!(matches!(ws.recv().unwrap(), Received::Closed(1007, _)));
}

#[test]
fn without_the_subprotocol_ws_behaves_as_before() {
    let s = server(Limits::default());
    let mut ws = WsClient::connect(s.addr, "/ws?topic=t");
    ws.send_text("published as is");
    let Some(WsEv::Text(t)) = ws.recv() else {
        panic!()
    };
    assert!(t.contains("\"data\":\"published as is\""), "{t}");
}

#[derive(Clone, Debug)]
enum Op {
    Publish(usize),
    Switch(u8),
    Disconnect,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..3).prop_map(Op::Publish),
        2 => (0u8..3).prop_map(Op::Switch),
        1 => Just(Op::Disconnect),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Any interleaving of publishes to three topics with disconnects and switches between
    /// WebSocket, SSE and long-polling: the subscriber sees each event exactly once, in order
    /// per topic.
    #[test]
    fn the_subscriber_sees_each_event_once_in_order_across_switches(ops in proptest::collection::vec(op(), 1..30)) {
        let s = server(Limits::default());
        let topics = ["p", "q", "r"];
        let mut sub = Subscriber::new(&[format!("http://{}", s.addr)], &topics).unwrap();
        let mut published: BTreeMap<&str, u64> = BTreeMap::new();
        let mut seen: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        // Connected before the first publish: "now" is before it.
        while !matches!(sub.wait(), Item::Connected { .. }) {}
        for op in ops {
            match op {
                Op::Publish(t) => {
                    let seq = publish(s.addr, topics[t], "e");
                    published.insert(topics[t], seq);
                }
                Op::Switch(n) => sub.switch([Transport::WebSocket, Transport::Sse, Transport::LongPoll][n as usize]),
                Op::Disconnect => sub.disconnect(),
            }
        }
        let total: u64 = published.values().sum();
        let mut got = 0;
        while got < total {
            if let Item::Event(e) = sub.wait() {
                seen.entry(e.topic).or_default().push(e.seq);
                got += 1;
            }
        }
        for (topic, last) in published {
            prop_assert_eq!(&seen[topic], &(1..=last).collect::<Vec<_>>());
        }
    }
}
