//! Several nodes over a real Redis (`redis-server` must be installed; CI installs Debian's):
//! one numbering per topic across nodes, delivery on every technique, resume on another node,
//! Redis restarted (AOF) and flushed, Redis down and back.
//!
//! `cargo test --features redis-tests --test redis`

mod common;

use common::redis::{Node, Redis, seq_of, ws_text};
use common::{Client, Sse, TestServer, WsClient, WsEv, stat, wait_for};
use pushwire::Limits;
use pushwire::resp::Value;
use pushwire::server::HubServer;
use pushwire::server::redis::{Link, RedisUrl};
use std::net::SocketAddr;
#[cfg(feature = "cli")]
use std::process::{Command, Stdio};
#[cfg(feature = "cli")]
use std::time::Duration;

#[test]
fn a_publish_on_one_node_reaches_every_technique_on_the_others() {
    let redis = Redis::start(false);
    let (a, b, c) = (
        Node::start(&redis),
        Node::start(&redis),
        Node::start(&redis),
    );
    let mut sse = Sse::open(b.addr(), "/events?topic=room", None);
    let mut ws = WsClient::connect(c.addr(), "/ws?topic=room");
    let mut poll = Client::new(c.addr());
    poll.send("GET", "/poll?topic=room", None);
    // Each is following from now once its node's cache of the topic is live.
    wait_for(|| stat(c.addr(), "long_poll", "connections") == 1);
    wait_for(|| b.link.is_up() && c.link.is_up());
    let first = a.published("room", "hello");
    let second = a.published("room", "again");
    assert_eq!(second, first + 1, "one numbering across nodes");
    let (_, data, id) = sse.next().expect("an event on B");
    assert_eq!((seq_of(&data), id), (first, first.to_string()));
    assert!(data.contains("\"data\":\"hello\""));
    assert_eq!(seq_of(&ws_text(&mut ws)), first);
    assert_eq!(seq_of(&ws_text(&mut ws)), second);
    let r = poll.recv().expect("the parked poll's answer");
    assert_eq!(r.status, 200);
    assert_eq!(
        seq_of(String::from_utf8_lossy(&r.body).lines().next().unwrap()),
        first
    );
    // A publish from a WebSocket on C is numbered by Redis too, and reaches B.
    ws.send_text("from a socket");
    let (_, data, _) = sse.next().expect("the second event");
    assert_eq!(seq_of(&data), second);
    let (_, data, _) = sse.next().expect("the socket's event");
    assert_eq!(seq_of(&data), second + 1);
    assert!(data.contains("from a socket"));
}

#[test]
fn a_client_resumes_on_another_node_with_its_cursor() {
    let redis = Redis::start(false);
    let (a, b, c) = (
        Node::start(&redis),
        Node::start(&redis),
        Node::start(&redis),
    );
    let s1 = a.published("news", "one");
    let s2 = a.published("news", "two");
    let mut on_b = Sse::open(b.addr(), "/events?topic=news&lastEventId=0", None);
    assert_eq!(seq_of(&on_b.next().unwrap().1), s1);
    assert_eq!(seq_of(&on_b.next().unwrap().1), s2);
    drop(on_b);
    let s3 = a.published("news", "three");
    // The same cursor on C: exactly what came after it, once.
    let mut on_c = Sse::open(c.addr(), "/events?topic=news", Some(s2));
    let (_, data, id) = on_c.next().unwrap();
    assert_eq!((seq_of(&data), id), (s3, s3.to_string()));
    let mut poll = Client::new(c.addr());
    let r = poll.get(&format!("/poll?topic=news&cursor={s1}&wait=0"));
    let seqs: Vec<u64> = String::from_utf8_lossy(&r.body)
        .lines()
        .map(seq_of)
        .collect();
    assert_eq!(seqs, [s2, s3]);
    // And on a third node, a cursor of 0 asks for the whole history, without a gap.
    let all = Client::new(b.addr()).get("/poll?topic=news&cursor=0&wait=0");
    let body = String::from_utf8_lossy(&all.body).into_owned();
    assert!(!body.contains("gap"), "{body}");
    assert_eq!(body.lines().map(seq_of).collect::<Vec<_>>(), [s1, s2, s3]);
}

#[test]
fn a_restart_with_aof_loses_nothing_acknowledged_and_down_means_503() {
    let mut redis = Redis::start(true);
    let (a, b) = (Node::start(&redis), Node::start(&redis));
    let mut sse = Sse::open(b.addr(), "/events?topic=t", None);
    wait_for(|| b.link.is_up());
    let mut acked = vec![a.published("t", "before")];
    assert_eq!(seq_of(&sse.next().unwrap().1), acked[0]);
    redis.kill();
    wait_for(|| !a.link.is_up());
    let refused = a.publish("t", "while down");
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("retry-after"), Some(&b"1"[..]));
    let health = Client::new(a.addr()).get("/health");
    assert_eq!(health.status, 503);
    redis.run();
    wait_for(|| a.link.is_up() && b.link.is_up());
    assert_eq!(Client::new(a.addr()).get("/health").status, 200);
    acked.push(a.published("t", "after"));
    assert!(acked[1] > acked[0], "numbers go on from the AOF: {acked:?}");
    // The subscriber stayed connected and gets the next event, nothing twice.
    let (_, data, _) = sse.next().expect("the event after the restart");
    assert_eq!(seq_of(&data), acked[1]);
    // Every acknowledged number is in the stream.
    let Some(Value::Array(entries)) = redis.command(&["XRANGE", "pushwire:{t}:log", "-", "+"])
    else {
        panic!("the stream")
    };
    let ids: Vec<String> = entries
        .iter()
        .map(|e| String::from_utf8_lossy(e.as_list().unwrap()[0].as_bytes().unwrap()).into_owned())
        .collect();
    for seq in &acked {
        assert!(ids.contains(&format!("{seq}-0")), "{seq} in {ids:?}");
    }
}

#[test]
fn a_flushed_redis_gives_old_cursors_an_explicit_gap_and_never_reuses_numbers() {
    let redis = Redis::start(false);
    let (a, b) = (Node::start(&redis), Node::start(&redis));
    let old = a.published("f", "old life");
    let mut sse = Sse::open(b.addr(), "/events?topic=f", Some(old));
    // `/cursor` answers once B's cache of the topic is live: B holds the old event now.
    let cursor = Client::new(b.addr()).get("/cursor?topic=f");
    assert_eq!(cursor.body, old.to_string().as_bytes());
    assert!(matches!(
        redis.command(&["FLUSHALL"]),
        Some(Value::Simple(_))
    ));
    let new = a.published("f", "new life");
    assert!(
        new > old + 1,
        "a number above every number issued before: {old} then {new}"
    );
    // Whatever Redis lost after this reader's cursor cannot be known: the explicit gap up to
    // the new numbering, then the new event. The same event is never under an old number.
    let gap = format!(
        "{{\"topic\":\"f\",\"gap\":{{\"from\":{},\"to\":{}}}}}",
        old + 1,
        new - 1
    );
    let (kind, data, _) = sse.next().unwrap();
    assert_eq!((kind.as_str(), data.as_str()), ("gap", gap.as_str()));
    let (kind, data, _) = sse.next().unwrap();
    assert_eq!((kind.as_str(), seq_of(&data)), ("message", new));
    // A poll from before the old event gets it, and asking on from there, the gap and the
    // new one.
    let mut c = Client::new(b.addr());
    let r = c.get(&format!("/poll?topic=f&cursor={}&wait=0", old - 1));
    let body = String::from_utf8_lossy(&r.body).into_owned();
    assert_eq!(
        body.lines().map(seq_of).collect::<Vec<_>>(),
        [old],
        "{body}"
    );
    let r = c.get(&format!("/poll?topic=f&cursor={old}&wait=0"));
    let body = String::from_utf8_lossy(&r.body).into_owned();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines, [gap.as_str(), lines[1]], "{body}");
    assert_eq!(seq_of(lines[1]), new);
}

#[test]
fn subscribers_stay_connected_while_redis_is_down_and_get_what_follows() {
    let mut redis = Redis::start(true);
    let (a, b) = (Node::start(&redis), Node::start(&redis));
    let mut ws = WsClient::connect(b.addr(), "/ws?topic=d");
    let mut sse = Sse::open(b.addr(), "/events?topic=d", None);
    let first = a.published("d", "1");
    assert_eq!(seq_of(&ws_text(&mut ws)), first);
    assert_eq!(seq_of(&sse.next().unwrap().1), first);
    redis.kill();
    wait_for(|| !b.link.is_up());
    redis.run();
    wait_for(|| a.link.is_up() && b.link.is_up());
    let second = a.published("d", "2");
    assert_eq!(seq_of(&ws_text(&mut ws)), second);
    assert_eq!(seq_of(&sse.next().unwrap().1), second);
    assert!(b.link.reconnects() >= 1);
}

/// Subscribers of a channel, as Redis counts them.
fn numsub(redis: &Redis, channel: &str) -> i64 {
    match redis.command(&["PUBSUB", "NUMSUB", channel]) {
        Some(Value::Array(v)) => v.get(1).and_then(Value::as_integer).unwrap_or(-1),
        other => panic!("PUBSUB NUMSUB: {other:?}"),
    }
}

#[test]
fn a_node_follows_only_the_topics_its_clients_follow() {
    let redis = Redis::start(false);
    let b = Node::start(&redis);
    assert_eq!(numsub(&redis, "pushwire:{only}"), 0);
    let sse = Sse::open(b.addr(), "/events?topic=only", None);
    wait_for(|| numsub(&redis, "pushwire:{only}") == 1);
    // Nobody else's topic is followed.
    assert_eq!(numsub(&redis, "pushwire:{other}"), 0);
    drop(sse);
    // The last follower left: the node unsubscribes (at its next report, a tick later).
    wait_for(|| numsub(&redis, "pushwire:{only}") == 0);
    let stats = String::from_utf8(Client::new(b.addr()).get("/stats").body).unwrap();
    assert!(
        stats.contains("\"broker\":{\"broker\":\"redis\",\"up\":true"),
        "{stats}"
    );
}

#[test]
fn a_password_protected_redis_is_logged_into() {
    let mut redis = Redis::start(false);
    assert!(
        redis
            .command(&["CONFIG", "SET", "requirepass", "s3cret pass"])
            .is_some()
    );
    let url: RedisUrl = format!("redis://:s3cret%20pass@127.0.0.1:{}", redis.port)
        .parse()
        .unwrap();
    let limits = Limits::default();
    let link = Link::new(url, limits.history_events);
    let hub = HubServer::new(limits.clone(), b"page").with_redis(link.clone());
    let builder = pushwire::reactor::Server::builder()
        .threads(1)
        .limits(limits);
    let server = TestServer::start_built(builder, hub);
    link.start(server.handle.clone()).unwrap();
    wait_for(|| link.is_up());
    let mut c = Client::new(server.addr);
    c.send("POST", "/publish?topic=p", Some(b"x"));
    assert_eq!(c.recv().unwrap().status, 200);
    link.stop();
    // A wrong password: never up, publishes refused.
    let bad: RedisUrl = format!("redis://:wrong@127.0.0.1:{}", redis.port)
        .parse()
        .unwrap();
    let link = Link::new(bad, limits_history());
    let hub = HubServer::new(Limits::default(), b"page").with_redis(link.clone());
    let builder = pushwire::reactor::Server::builder().threads(1);
    let server = TestServer::start_built(builder, hub);
    link.start(server.handle.clone()).unwrap();
    let mut c = Client::new(server.addr);
    c.send("POST", "/publish?topic=p", Some(b"x"));
    assert_eq!(c.recv().unwrap().status, 503);
    assert!(!link.is_up());
    link.stop();
    redis.kill();
}

fn limits_history() -> usize {
    Limits::default().history_events
}

/// A client of a draining node: its events so far, and where it resumes.
#[cfg(feature = "cli")]
#[derive(Debug)]
struct Follower {
    seqs: Vec<u64>,
    resume: Option<String>,
}

#[cfg(feature = "cli")]
#[test]
fn a_drained_binary_node_tells_every_client_where_to_resume_on_another_missing_nothing() {
    use common::binary::Node as Binary;
    let redis = Redis::start(false);
    let dir = std::env::temp_dir().join(format!("pushwire-redis-drain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let args = ["--redis", url.as_str(), "--drain-delay", "0s"];
    let mut a = Binary::start(&dir, &args);
    let b = Binary::start(&dir, &args);
    wait_ready(&[a.addr, b.addr]);
    let publish = |addr: SocketAddr, text: &str| -> u64 {
        let mut c = Client::new(addr);
        c.send("POST", "/publish?topic=d", Some(text.as_bytes()));
        let r = c.recv().unwrap();
        assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
        String::from_utf8(r.body).unwrap().parse().unwrap()
    };
    let first = publish(b.addr, "first");
    let start = first - 1;
    let mut sse = Sse::open(a.addr, "/events?topic=d", Some(start));
    let mut ws = WsClient::connect(a.addr, &format!("/ws?topic=d&cursor={start}"));
    let mut poll = Client::new(a.addr);
    // Events published on B reach A's clients.
    let second = publish(b.addr, "second");
    let mut followers: Vec<Follower> = (0..3)
        .map(|_| Follower {
            seqs: Vec::new(),
            resume: None,
        })
        .collect();
    for _ in 0..2 {
        let (_, data, id) = sse.next().unwrap();
        followers[0].seqs.push(seq_of(&data));
        followers[0].resume = Some(id);
        let Some(WsEv::Text(t)) = ws.recv() else {
            panic!()
        };
        followers[1].seqs.push(seq_of(&t));
    }
    let r = poll.get(&format!("/poll?topic=d&cursor={start}"));
    for line in String::from_utf8(r.body).unwrap().lines() {
        followers[2].seqs.push(seq_of(line));
    }
    poll.send("GET", &format!("/poll?topic=d&cursor={second}"), None);
    wait_for(|| stat(a.addr, "long_poll", "connections") == 1);
    // A publisher on B goes on while A drains.
    let publisher = std::thread::spawn(move || {
        let mut last = None;
        for i in 0..30 {
            last = Some(publish(b.addr, &format!("during {i}")));
        }
        last
    });
    a.signal("TERM");
    // The stream: what came before its end, then the end (EventSource resumes from its last id).
    while let Some((kind, data, id)) = sse.next() {
        if kind == "message" {
            followers[0].seqs.push(seq_of(&data));
            followers[0].resume = Some(id);
        }
    }
    // The socket: what came before its close, then the close naming the cursor.
    loop {
        match ws.recv() {
            Some(WsEv::Text(t)) => followers[1].seqs.push(seq_of(&t)),
            Some(WsEv::Close(Some(1001), reason)) => {
                assert!(
                    reason.starts_with("going away; resume from cursor "),
                    "{reason}"
                );
                followers[1].resume = Some(reason.rsplit(' ').next().unwrap().to_string());
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    let answered = poll.recv().unwrap();
    for line in String::from_utf8(answered.body.clone()).unwrap().lines() {
        followers[2].seqs.push(seq_of(line));
    }
    followers[2].resume =
        Some(String::from_utf8(answered.header("x-cursor").unwrap().to_vec()).unwrap());
    assert_eq!(
        a.exit_within(Duration::from_secs(15)),
        Some(0),
        "the drained node exits 0"
    );
    let last = publisher.join().unwrap().unwrap();
    // Each resumes on B from what A told it, and gets the rest exactly once, in order.
    for (i, f) in followers.iter_mut().enumerate() {
        let resume = f.resume.clone().unwrap();
        let mut c = Client::new(b.addr);
        loop {
            let r = c.get(&format!(
                "/poll?topic=d&wait=0&cursor={}",
                f.seqs
                    .last()
                    .copied()
                    .map_or(resume.clone(), |s| s.to_string())
            ));
            if r.status == 204 {
                break;
            }
            for line in String::from_utf8(r.body).unwrap().lines() {
                f.seqs.push(seq_of(line));
            }
        }
        let expected: Vec<u64> = (first..=last).collect();
        assert_eq!(f.seqs, expected, "follower {i} resumed from {resume}");
    }
}

/// `pushwire sub` following two topics over two nodes, the first killed (`SIGKILL`, no drain)
/// while events go on being published on the second: it reconnects to the second and resumes
/// from its position there, so each topic's events are printed once each and in order.
#[test]
fn pushwire_sub_over_two_nodes_one_killed_misses_and_repeats_nothing() {
    use common::binary::{BIN, Node as Binary};
    use std::io::BufRead as _;
    let redis = Redis::start(false);
    let dir = std::env::temp_dir().join(format!("pushwire-redis-sub-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("redis://127.0.0.1:{}", redis.port);
    for transport in ["ws", "sse", "poll"] {
        let mut a = Binary::start(&dir, &["--redis", url.as_str()]);
        let b = Binary::start(&dir, &["--redis", url.as_str()]);
        wait_ready(&[a.addr, b.addr]);
        let publish = move |topic: &str, text: &str| -> u64 {
            let mut c = Client::new(b.addr);
            c.send(
                "POST",
                &format!("/publish?topic={topic}"),
                Some(text.as_bytes()),
            );
            let r = c.recv().unwrap();
            assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
            String::from_utf8(r.body).unwrap().parse().unwrap()
        };
        // Where both topics stand now: the subscriber starts there, on the node that dies.
        let start = [publish("x", "start"), publish("y", "start")];
        let mut position = String::new();
        pushwire::hub::position::encode([("x", start[0]), ("y", start[1])], &mut position);
        const EACH: u64 = 40;
        let mut sub = Command::new(BIN)
            .args([
                "sub",
                &format!("http://{}", a.addr),
                &format!("http://{}", b.addr),
            ])
            .args(["--topic", "x", "--topic", "y", "--transport", transport])
            .args(["--cursor", &position, "--count", &(2 * EACH).to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = std::io::BufReader::new(sub.stdout.take().unwrap()).lines();
        let mut seen: Vec<(String, u64)> = Vec::new();
        let mut lines = lines.map_while(Result::ok);
        for i in 0..EACH {
            publish("x", &format!("x{i}"));
            publish("y", &format!("y{i}"));
            if i == EACH / 2 {
                // What was published so far reached the subscriber on A; then A dies.
                while seen.len() < (2 * (i + 1)) as usize {
                    seen.push(topic_seq(&lines.next().expect("sub prints on")));
                }
                a.child.kill().unwrap();
                let _ = a.child.wait();
            }
        }
        seen.extend(lines.map(|l| topic_seq(&l)));
        assert!(
            sub.wait().unwrap().success(),
            "{transport}: sub exits after --count"
        );
        for (topic, first) in [("x", start[0]), ("y", start[1])] {
            let got: Vec<u64> = seen
                .iter()
                .filter(|(t, _)| t == topic)
                .map(|(_, s)| *s)
                .collect();
            let want: Vec<u64> = (first + 1..=first + EACH).collect();
            assert_eq!(
                got, want,
                "{transport}: topic {topic}, each once and in order"
            );
        }
    }
}

/// Waits until each node answers `/ready` with 200: its link to Redis is up.
fn wait_ready(nodes: &[SocketAddr]) {
    for &node in nodes {
        wait_for(|| Client::new(node).get("/ready").status == 200);
    }
}

/// The topic and number of one NDJSON event line.
fn topic_seq(line: &str) -> (String, u64) {
    let topic = line
        .split("\"topic\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no topic in {line}"));
    (topic.to_string(), seq_of(line))
}
