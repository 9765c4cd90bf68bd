//! Several nodes over a real Redis Cluster that the test starts: six `redis-server`s (three
//! primaries, three replicas, `redis-cli --cluster create`), topics spread over every shard,
//! followers on every node; a primary killed and its replica promoted.
//!
//! `cargo test --features redis-tests --test redis_cluster`

mod common;

use common::redis::{Node, seq_of, ws_text};
use common::{Client, Sse, WsClient, stat, wait_for, wait_for_within};
use pushwire::hub::redis::topic_slot;
use pushwire::resp::Value;
use pushwire::server::redis::RedisUrl;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One `redis-server` in cluster mode.
struct Server {
    port: u16,
    child: Option<Child>,
}

/// Six servers made one cluster: three primaries, each with a replica.
struct Cluster {
    servers: Vec<Server>,
    dir: PathBuf,
}

/// A `redis-server` in cluster mode on `port`, its state in `dir` (a restarted one rejoins).
fn spawn(dir: &std::path::Path, port: u16) -> Child {
    Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"])
        // Slots whose primary is down do not stop the others (Redis stops every slot by
        // default until the failover is over).
        .args(["--cluster-require-full-coverage", "no"])
        .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
        .args(["--save", "", "--appendonly", "no", "--dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server must be installed (apt-get install redis-server)")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One command to `port`, its reply.
fn command(port: u16, args: &[&str]) -> Option<Value> {
    common::redis::command_at(port, args)
}

impl Cluster {
    fn start() -> Cluster {
        let dir = std::env::temp_dir().join(format!("pushwire-cluster-{}", free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        let servers: Vec<Server> = (0..6)
            .map(|_| {
                let port = free_port();
                Server {
                    port,
                    child: Some(spawn(&dir, port)),
                }
            })
            .collect();
        for s in &servers {
            wait_for(|| command(s.port, &["PING"]).is_some());
        }
        let addrs: Vec<String> = servers
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli must be installed (apt-get install redis-tools)");
        assert!(created.success(), "redis-cli --cluster create");
        let cluster = Cluster { servers, dir };
        // Forming the cluster and the replicas' first sync (a fork and a snapshot each) are
        // Redis's own pace: three clusters start at once on a busy two-core machine.
        let formed = Duration::from_secs(60);
        for s in &cluster.servers {
            wait_for_within(formed, || {
                cluster.info(s.port, "cluster_state").as_deref() == Some("ok")
            });
        }
        // A replica can take over only once it has its primary's data.
        wait_for_within(formed, || {
            let synced = cluster.servers.iter().filter(|s| replica_synced(s.port));
            synced.count() == 3
        });
        cluster
    }

    /// A field of `CLUSTER INFO` on `port`.
    fn info(&self, port: u16, field: &str) -> Option<String> {
        let reply = command(port, &["CLUSTER", "INFO"])?;
        let text = String::from_utf8_lossy(reply.as_bytes()?).into_owned();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .map(|v| v.trim().to_string())
    }

    fn url(&self) -> RedisUrl {
        // Two seeds: either can tell the map.
        format!(
            "redis+cluster://127.0.0.1:{},127.0.0.1:{}",
            self.servers[0].port, self.servers[1].port
        )
        .parse()
        .unwrap()
    }

    /// The port of the primary that serves `slot` now, as a live node says.
    fn primary_of(&self, slot: u16) -> u16 {
        let live = self
            .servers
            .iter()
            .find(|s| s.child.is_some())
            .expect("a live node");
        let Some(Value::Array(ranges)) = command(live.port, &["CLUSTER", "SLOTS"]) else {
            panic!("CLUSTER SLOTS")
        };
        for range in ranges {
            let items = range.as_list().unwrap();
            let (first, last) = (
                items[0].as_integer().unwrap(),
                items[1].as_integer().unwrap(),
            );
            if (first..=last).contains(&i64::from(slot)) {
                return items[2].as_list().unwrap()[1].as_integer().unwrap() as u16;
            }
        }
        panic!("no primary for slot {slot}")
    }

    /// Starts the server on `port` again: it rejoins the cluster, as a replica if its slots
    /// went to another.
    fn restart(&mut self, port: u16) {
        let dir = self.dir.clone();
        let server = self.servers.iter_mut().find(|s| s.port == port).unwrap();
        server.child = Some(spawn(&dir, port));
        wait_for(|| command(port, &["PING"]).is_some());
    }

    /// Kills the server on `port` (SIGKILL: a crash).
    fn kill(&mut self, port: u16) {
        let server = self.servers.iter_mut().find(|s| s.port == port).unwrap();
        if let Some(mut child) = server.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether the server on `port` is a replica whose link to its primary is up (`ROLE`).
fn replica_synced(port: u16) -> bool {
    let Some(Value::Array(role)) = command(port, &["ROLE"]) else {
        return false;
    };
    let word = |i: usize| role.get(i).and_then(Value::as_bytes).map(|b| b.to_vec());
    word(0).as_deref() == Some(b"slave") && word(3).as_deref() == Some(b"connected")
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for s in &mut self.servers {
            if let Some(mut child) = s.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `n` topic names whose slots fall on `n` different primaries of `cluster`.
fn topics_on_every_primary(cluster: &Cluster) -> Vec<(String, u16)> {
    let mut found: Vec<(String, u16)> = Vec::new();
    for i in 0.. {
        let topic = format!("topic-{i}");
        let primary = cluster.primary_of(topic_slot("pushwire:", &topic));
        if !found.iter().any(|(_, p)| *p == primary) {
            found.push((topic, primary));
        }
        if found.len() == 3 {
            return found;
        }
    }
    unreachable!()
}

#[test]
fn topics_on_every_shard_are_numbered_once_and_delivered_in_order_on_every_node() {
    let cluster = Cluster::start();
    let nodes: Vec<Node> = (0..3).map(|_| Node::start_url(cluster.url())).collect();
    let topics = topics_on_every_primary(&cluster);
    // On every node, an event stream and a WebSocket per topic.
    let mut followers = Vec::new();
    for node in &nodes {
        for (topic, _) in &topics {
            let sse = Sse::open(node.addr(), &format!("/events?topic={topic}"), None);
            let ws = WsClient::connect(node.addr(), &format!("/ws?topic={topic}"));
            followers.push((topic.clone(), sse, ws));
        }
        wait_for(|| stat(node.addr(), "websocket", "connections") == 3);
    }
    // Publishes from every node, to every topic.
    let mut published: Vec<(String, Vec<u64>)> = topics
        .iter()
        .map(|(t, _)| (t.clone(), Vec::new()))
        .collect();
    for round in 0..10 {
        for (topic, seqs) in &mut published {
            let node = &nodes[round % nodes.len()];
            seqs.push(node.published(topic, &format!("{round}")));
        }
    }
    for (topic, seqs) in &published {
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "one numbering per topic across nodes: {topic} {seqs:?}"
        );
    }
    for (topic, sse, ws) in &mut followers {
        let want = &published.iter().find(|(t, _)| t == topic).unwrap().1;
        let from_sse: Vec<u64> = (0..want.len())
            .map(|_| seq_of(&sse.next().expect("an event").1))
            .collect();
        let from_ws: Vec<u64> = (0..want.len()).map(|_| seq_of(&ws_text(ws))).collect();
        assert_eq!((&from_sse, &from_ws), (want, want), "{topic}");
    }
    // Polls on every node, for every topic: a short poll from the start has the whole
    // history; a client resumes on another node with its cursor and gets exactly what followed
    // it; a long-poll parked at the newest is answered by the next publish, from another node.
    for (i, node) in nodes.iter().enumerate() {
        for (topic, seqs) in &mut published {
            let mut poll = Client::new(node.addr());
            let r = poll.get(&format!(
                "/poll?topic={topic}&cursor={}&wait=0",
                seqs[0] - 1
            ));
            let got: Vec<u64> = String::from_utf8_lossy(&r.body)
                .lines()
                .map(seq_of)
                .collect();
            assert_eq!(&got, seqs, "node {i}, {topic}");
            let r = poll.get(&format!("/poll?topic={topic}&cursor={}&wait=0", seqs[4]));
            let got: Vec<u64> = String::from_utf8_lossy(&r.body)
                .lines()
                .map(seq_of)
                .collect();
            assert_eq!(got, seqs[5..], "node {i}, {topic}");
            let last = *seqs.last().unwrap();
            poll.send(
                "GET",
                &format!("/poll?topic={topic}&cursor={last}&wait=10"),
                None,
            );
            wait_for(|| stat(node.addr(), "long_poll", "connections") == 1);
            let next = nodes[(i + 1) % nodes.len()].published(topic, "after");
            let r = poll.recv().expect("the parked poll's answer");
            let got: Vec<u64> = String::from_utf8_lossy(&r.body)
                .lines()
                .map(seq_of)
                .collect();
            assert_eq!(got, [next], "node {i}, {topic}");
            assert_eq!(next, last + 1);
            seqs.push(next);
        }
    }
}

#[test]
fn a_killed_primary_is_replaced_by_its_replica_and_only_its_slots_wait() {
    let mut cluster = Cluster::start();
    // Publishes are acknowledged once a replica has them (`redis_wait_replicas = 1`): the
    // failover loses none of them.
    let mut url = cluster.url();
    url.config.wait_replicas = 1;
    let nodes: Vec<Node> = (0..2).map(|_| Node::start_url(url.clone())).collect();
    let topics = topics_on_every_primary(&cluster);
    let (victim_topic, victim) = topics[0].clone();
    let (other_topic, _) = topics[1].clone();
    let mut sse = Sse::open(
        nodes[1].addr(),
        &format!("/events?topic={victim_topic}"),
        None,
    );
    let mut other = WsClient::connect(nodes[1].addr(), &format!("/ws?topic={other_topic}"));
    wait_for(|| stat(nodes[1].addr(), "websocket", "connections") == 1);
    let mut acked = vec![nodes[0].published(&victim_topic, "before")];
    assert_eq!(seq_of(&sse.next().unwrap().1), acked[0]);
    cluster.kill(victim);
    // Until the replica is promoted the victim's slots are refused at once; other slots go on.
    let started = Instant::now();
    let slot = topic_slot("pushwire:", &victim_topic);
    let mut refused = 0;
    let mut other_seqs = Vec::new();
    let mut restarted = false;
    loop {
        // Once its replica took over, the old primary comes back as the new one's replica
        // (until then `WAIT 1` cannot be satisfied).
        if !restarted && cluster.primary_of(slot) != victim {
            cluster.restart(victim);
            restarted = true;
        }
        let r = nodes[0].publish(&victim_topic, "during");
        if r.status == 200 {
            acked.push(String::from_utf8(r.body).unwrap().parse().unwrap());
            break;
        }
        assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
        refused += 1;
        other_seqs.push(nodes[0].published(&other_topic, "elsewhere"));
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the replica was never promoted"
        );
    }
    assert!(refused > 0, "the primary's loss was seen");
    // The other topic's follower got every event meanwhile, in order.
    let got: Vec<u64> = (0..other_seqs.len())
        .map(|_| seq_of(&ws_text(&mut other)))
        .collect();
    assert_eq!(got, other_seqs);
    // The victim topic's follower stayed connected and gets what follows: every acknowledged
    // event, in order, none twice. (A publish answered 503 because no replica confirmed it
    // in time may still have been stored on the primary, and delivered.)
    acked.push(nodes[0].published(&victim_topic, "after"));
    let last = *acked.last().unwrap();
    let mut seen = vec![acked[0]];
    while *seen.last().unwrap() < last {
        let (kind, data, _) = sse.next().expect("an event after the failover");
        assert_eq!(
            kind, "message",
            "no gap: nothing acknowledged was lost ({data})"
        );
        seen.push(seq_of(&data));
    }
    assert!(
        seen.windows(2).all(|w| w[1] > w[0]),
        "in order, once: {seen:?}"
    );
    for seq in &acked {
        assert!(seen.contains(seq), "acknowledged {seq} delivered: {seen:?}");
    }
}

/// The node id of the server on `port` (`CLUSTER MYID`).
fn node_id(port: u16) -> String {
    let reply = command(port, &["CLUSTER", "MYID"]).expect("CLUSTER MYID");
    String::from_utf8_lossy(reply.as_bytes().unwrap()).into_owned()
}

/// Moves `slot` from the primary on `from` to the one on `to`, as `redis-cli --cluster
/// reshard` does, calling `between` at each step (the ASK window is open in the middle).
fn migrate(cluster: &Cluster, slot: u16, from: u16, to: u16, mut between: impl FnMut()) {
    let slot_text = slot.to_string();
    let (from_id, to_id) = (node_id(from), node_id(to));
    let ok = |port: u16, args: &[&str]| {
        let reply = command(port, args).expect("an answer");
        assert!(!matches!(reply, Value::Error(_)), "{args:?}: {reply:?}");
    };
    ok(
        to,
        &["CLUSTER", "SETSLOT", &slot_text, "IMPORTING", &from_id],
    );
    ok(
        from,
        &["CLUSTER", "SETSLOT", &slot_text, "MIGRATING", &to_id],
    );
    between();
    loop {
        let Some(Value::Array(keys)) =
            command(from, &["CLUSTER", "GETKEYSINSLOT", &slot_text, "1"])
        else {
            panic!("GETKEYSINSLOT")
        };
        let Some(key) = keys.first().and_then(Value::as_bytes) else {
            break;
        };
        let key = String::from_utf8_lossy(key).into_owned();
        let port = to.to_string();
        ok(from, &["MIGRATE", "127.0.0.1", &port, &key, "0", "5000"]);
        // Keys of one topic on both sides: its commands are answered ASK or TRYAGAIN now.
        between();
    }
    for server in cluster.servers.iter().filter(|s| s.child.is_some()) {
        let _ = command(
            server.port,
            &["CLUSTER", "SETSLOT", &slot_text, "NODE", &to_id],
        );
    }
    between();
}

#[test]
fn a_slot_migrated_under_load_loses_and_repeats_nothing() {
    let cluster = Cluster::start();
    let nodes: Vec<Node> = (0..2).map(|_| Node::start_url(cluster.url())).collect();
    let topic = "moving";
    let slot = topic_slot("pushwire:", topic);
    let from = cluster.primary_of(slot);
    let to = [0, 6000, 12000]
        .map(|slot| cluster.primary_of(slot))
        .into_iter()
        .find(|&p| p != from)
        .expect("another primary");
    let mut sse = Sse::open(nodes[1].addr(), &format!("/events?topic={topic}"), None);
    let mut ws = WsClient::connect(nodes[0].addr(), &format!("/ws?topic={topic}"));
    wait_for(|| stat(nodes[0].addr(), "websocket", "connections") == 1);
    // Publishes go on through the migration, from both nodes; a refused one (503: the slot
    // is moving) is sent again, as a client would.
    let attempts = Arc::new(AtomicUsize::new(0));
    let addrs = [nodes[0].addr(), nodes[1].addr()];
    let publisher = {
        let attempts = attempts.clone();
        std::thread::spawn(move || {
            let (mut acked, mut refused) = (Vec::<u64>::new(), 0);
            let started = Instant::now();
            while acked.len() < 60 {
                attempts.fetch_add(1, Ordering::Relaxed);
                let mut c = Client::new(addrs[acked.len() % 2]);
                c.send("POST", &format!("/publish?topic={topic}"), Some(b"x"));
                let r = c.recv().expect("an answer");
                match r.status {
                    200 => acked.push(String::from_utf8(r.body).unwrap().parse().unwrap()),
                    503 => {
                        refused += 1;
                        assert!(
                            started.elapsed() < Duration::from_secs(60),
                            "never accepted"
                        );
                    }
                    other => panic!("{other}"),
                }
            }
            (acked, refused)
        })
    };
    // Each step of the migration waits for a few publishes to be tried in it.
    migrate(&cluster, slot, from, to, || {
        let seen = attempts.load(Ordering::Relaxed);
        wait_for(|| attempts.load(Ordering::Relaxed) >= seen + 3);
    });
    assert_eq!(cluster.primary_of(slot), to);
    let (acked, refused) = publisher.join().unwrap();
    assert!(refused > 0, "publishes met the migration (ASK / TRYAGAIN)");
    assert!(
        acked.windows(2).all(|w| w[1] == w[0] + 1),
        "one numbering: {acked:?}"
    );
    let from_sse: Vec<u64> = (0..acked.len())
        .map(|_| seq_of(&sse.next().expect("an event").1))
        .collect();
    let from_ws: Vec<u64> = (0..acked.len())
        .map(|_| seq_of(&ws_text(&mut ws)))
        .collect();
    assert_eq!((&from_sse, &from_ws), (&acked, &acked));
}
