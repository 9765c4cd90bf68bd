//! The Redis mirror machine against scripted Redis replies.

use super::*;
use crate::Limits;
use crate::resp::Value;
use alloc::vec;

fn make(_topic: &str, seq: u64, ts: u64, text: &str) -> Arc<[u8]> {
    format!("{seq}@{ts}:{text}").into_bytes().into()
}

fn hub() -> Hub {
    Hub::new(&Limits {
        history_events: 100,
        ..Limits::default()
    })
}

struct Rig {
    broker: Mirror,
    hub: Hub,
    out: Vec<u8>,
}

impl Rig {
    fn ready() -> Rig {
        Rig::ready_with(MirrorConfig::default())
    }

    fn ready_with(config: MirrorConfig) -> Rig {
        let mut rig = Rig {
            broker: Mirror::new(config),
            hub: hub(),
            out: Vec::new(),
        };
        rig.broker.connected(&mut rig.out);
        assert_eq!(
            rig.feed(b"%1\r\n+server\r\n+redis\r\n"),
            vec![Outcome::Ready]
        );
        rig.feed(&script_loaded());
        rig.out.clear();
        rig
    }

    fn feed(&mut self, input: &[u8]) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        let used = self
            .broker
            .feed(input, &mut self.hub, &make, &mut self.out, &mut outcomes)
            .unwrap();
        assert_eq!(used, input.len());
        outcomes
    }

    fn sent(&mut self) -> Vec<Value> {
        let mut parser = resp::Parser::new(RespLimits::default());
        let mut rest = &self.out[..];
        let mut commands = Vec::new();
        while let Ok(step) = parser.feed(rest) {
            rest = &rest[step.consumed..];
            match step.value {
                Some(v) => commands.push(v),
                None => break,
            }
        }
        self.out.clear();
        commands
    }

    fn seqs(&self, topic: &str, cursor: u64) -> (Option<crate::hub::Gap>, Vec<u64>) {
        let since = self.hub.since(topic, cursor, 1000);
        (since.gap, since.events.map(|e| e.seq).collect())
    }
}

fn words(v: &Value) -> Vec<String> {
    v.as_list()
        .unwrap()
        .iter()
        .map(|a| String::from_utf8_lossy(a.as_bytes().unwrap()).into_owned())
        .collect()
}

fn sha() -> String {
    use sha1::Digest as _;
    sha1::Sha1::digest(PUBLISH_SCRIPT.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Redis's answer to `SCRIPT LOAD`.
fn script_loaded() -> Vec<u8> {
    bulk(&sha()).into_bytes()
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

fn message(topic: &str, payload: &str) -> Vec<u8> {
    format!(
        ">3\r\n{}{}{}",
        bulk("message"),
        bulk(&format!("pushwire:{{{topic}}}")),
        bulk(payload)
    )
    .into_bytes()
}

fn entries(items: &[(u64, &str)]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len());
    for (seq, text) in items {
        out += &format!(
            "*2\r\n{}*4\r\n{}{}{}{}",
            bulk(&format!("{seq}-0")),
            bulk("t"),
            bulk("7"),
            bulk("d"),
            bulk(text)
        );
    }
    out.into_bytes()
}

#[test]
fn the_handshake_asks_for_resp3_with_credentials_and_a_database() {
    let mut broker = Mirror::new(MirrorConfig {
        user: Some("app".into()),
        password: Some("s3cret".into()),
        db: 2,
        ..MirrorConfig::default()
    });
    let mut out = Vec::new();
    broker.connected(&mut out);
    let mut rig = Rig {
        broker,
        hub: hub(),
        out,
    };
    let sent = rig.sent();
    assert_eq!(
        words(&sent[0]),
        ["HELLO", "3", "AUTH", "app", "s3cret", "SETNAME", "pushwire"]
    );
    assert_eq!(words(&sent[1]), ["SELECT", "2"]);
    assert_eq!(words(&sent[2]), ["SCRIPT", "LOAD", PUBLISH_SCRIPT]);
    assert!(!rig.broker.is_ready());
    assert_eq!(rig.feed(b"%0\r\n"), vec![]);
    assert_eq!(rig.feed(b"+OK\r\n"), vec![Outcome::Ready]);
    assert!(rig.broker.is_ready());
    assert_eq!(rig.feed(&script_loaded()), vec![]);
    // A wrong password is a refusal, not readiness.
    let mut refused = Rig {
        broker: Mirror::new(MirrorConfig::default()),
        hub: hub(),
        out: Vec::new(),
    };
    refused.broker.connected(&mut refused.out);
    let outcomes = refused.feed(b"-WRONGPASS invalid username-password pair\r\n");
    assert!(matches!(&outcomes[..], [Outcome::Refused(r)] if r.starts_with("WRONGPASS")));
    assert!(!refused.broker.is_ready());
}

#[test]
fn following_subscribes_then_reads_the_counters_and_the_stream() {
    let mut rig = Rig::ready();
    let h = rig.hub.clone();
    rig.broker.follow("news", &h, &mut rig.out);
    let sent = rig.sent();
    assert_eq!(words(&sent[0]), ["SUBSCRIBE", "pushwire:{news}"]);
    assert_eq!(
        words(&sent[1]),
        ["MGET", "pushwire:{news}:seq", "pushwire:{news}:base"]
    );
    assert_eq!(
        words(&sent[2]),
        [
            "XREVRANGE",
            "pushwire:{news}:log",
            "+",
            "-",
            "COUNT",
            "4096"
        ]
    );
    // The confirmation, then a message published meanwhile, then the replies.
    let mut input = format!(
        ">3\r\n{}{}:1\r\n",
        bulk("subscribe"),
        bulk("pushwire:{news}")
    )
    .into_bytes();
    input.extend(message("news", "1003 0 9 late"));
    assert_eq!(rig.feed(&input), vec![]);
    assert!(!rig.broker.is_live("news"));
    assert_eq!(
        rig.feed(format!("*2\r\n{}{}", bulk("1002"), bulk("1000")).as_bytes()),
        vec![]
    );
    let outcomes = rig.feed(&entries(&[(1002, "b"), (1001, "a")]));
    assert_eq!(
        outcomes,
        vec![
            Outcome::Synced("news".into()),
            Outcome::Events("news".into())
        ]
    );
    assert!(rig.broker.is_live("news"));
    assert_eq!(rig.seqs("news", 0), (None, vec![1001, 1002, 1003]));
    assert_eq!(
        &*rig.hub.since("news", 1002, 9).events.next().unwrap().data,
        b"1003@9:late"
    );
}

#[test]
fn a_publish_is_acknowledged_with_the_number_redis_gave() {
    let mut rig = Rig::ready();
    rig.broker
        .publish(7, "news", 123, "hello world", &mut rig.out)
        .unwrap();
    let sent = rig.sent();
    let args = words(&sent[0]);
    assert_eq!(args[0], "EVALSHA");
    assert_eq!(args[1], sha());
    assert_eq!(
        &args[2..],
        [
            "3",
            "pushwire:{news}:seq",
            "pushwire:{news}:base",
            "pushwire:{news}:log",
            "123",
            "hello world",
            "4096",
            "pushwire:{news}"
        ]
    );
    assert_eq!(
        rig.feed(b":1796000000000001\r\n"),
        vec![Outcome::Published {
            ticket: 7,
            seq: 1_796_000_000_000_001
        }]
    );
    rig.broker.publish(8, "news", 1, "x", &mut rig.out).unwrap();
    let outcomes = rig.feed(b"-OOM command not allowed\r\n");
    assert!(matches!(
        &outcomes[..],
        [Outcome::NotPublished { ticket: 8, .. }]
    ));
    // A flushed script cache: that publish fails, and the script is loaded again.
    rig.sent();
    rig.broker.publish(9, "news", 1, "x", &mut rig.out).unwrap();
    rig.sent();
    let outcomes = rig.feed(b"-NOSCRIPT No matching script. Please use EVAL.\r\n");
    assert!(matches!(
        &outcomes[..],
        [Outcome::NotPublished { ticket: 9, .. }]
    ));
    assert_eq!(words(&rig.sent()[0])[..2], ["SCRIPT", "LOAD"]);
    assert_eq!(rig.feed(&script_loaded()), vec![]);
}

#[test]
fn nothing_is_sent_when_down_or_busy_and_in_flight_publishes_fail_on_disconnect() {
    let mut broker = Mirror::new(MirrorConfig {
        max_in_flight: 1,
        ..MirrorConfig::default()
    });
    let mut out = Vec::new();
    assert_eq!(broker.publish(1, "t", 0, "x", &mut out), Err(NotSent::Down));
    assert!(out.is_empty());
    let mut rig = Rig {
        broker,
        hub: hub(),
        out,
    };
    rig.broker.connected(&mut rig.out);
    rig.feed(b"%0\r\n");
    rig.feed(&script_loaded());
    rig.broker.publish(1, "t", 0, "x", &mut rig.out).unwrap();
    assert_eq!(
        rig.broker.publish(2, "t", 0, "y", &mut rig.out),
        Err(NotSent::Busy)
    );
    let failed = rig.broker.disconnected();
    assert!(matches!(
        &failed[..],
        [Outcome::NotPublished { ticket: 1, .. }]
    ));
    assert_eq!(
        rig.broker.publish(3, "t", 0, "z", &mut rig.out),
        Err(NotSent::Down)
    );
}

#[test]
fn a_hole_is_filled_from_the_stream_before_delivery() {
    let mut rig = Rig::ready();
    let h = rig.hub.clone();
    rig.broker.follow("t", &h, &mut rig.out);
    rig.sent();
    rig.feed(format!("*2\r\n{}{}", bulk("5"), bulk("0")).as_bytes());
    rig.feed(&entries(&[(5, "e"), (4, "d")]));
    assert_eq!(rig.seqs("t", 3), (None, vec![4, 5]));
    // 6 and 7 went by while this node was not listening.
    assert_eq!(rig.feed(&message("t", "8 0 1 h")), vec![]);
    let sent = rig.sent();
    assert_eq!(
        words(&sent[0]),
        ["XREVRANGE", "pushwire:{t}:log", "+", "6", "COUNT", "4096"]
    );
    // 9 arrives during the fill, and waits.
    assert_eq!(rig.feed(&message("t", "9 0 1 i")), vec![]);
    assert_eq!(
        rig.feed(&entries(&[(8, "h"), (7, "g"), (6, "f")])),
        vec![Outcome::Events("t".into())]
    );
    assert_eq!(rig.seqs("t", 5), (None, vec![6, 7, 8, 9]));
    // Duplicates change nothing.
    assert_eq!(rig.feed(&message("t", "9 0 1 i")), vec![]);
}

#[test]
fn what_the_stream_lost_is_a_gap_and_a_new_numbering_is_taken_as_such() {
    let mut rig = Rig::ready();
    let h = rig.hub.clone();
    rig.broker.follow("t", &h, &mut rig.out);
    rig.sent();
    rig.feed(format!("*2\r\n{}{}", bulk("5"), bulk("0")).as_bytes());
    rig.feed(&entries(&[(5, "e")]));
    // 6..8 were trimmed from the stream: the fill brings only 9.
    rig.feed(&message("t", "9 0 1 i"));
    rig.sent();
    rig.feed(&entries(&[(9, "i")]));
    assert_eq!(
        rig.seqs("t", 5),
        (Some(crate::hub::Gap::Lost { from: 6, to: 8 }), vec![9])
    );
    // Redis lost its data: the next number is far above, with its base. No fill is asked.
    assert_eq!(
        rig.feed(&message("t", "1796000000000000 1795999999999999 1 new")),
        vec![Outcome::Events("t".into())]
    );
    assert!(rig.sent().is_empty());
    // An old cursor gets the explicit gap; a reader with no cursor starts at the new base.
    assert_eq!(
        rig.seqs("t", 9),
        (
            Some(crate::hub::Gap::Lost {
                from: 10,
                to: 1_795_999_999_999_999
            }),
            vec![1_796_000_000_000_000]
        )
    );
    assert_eq!(rig.seqs("t", 0), (None, vec![1_796_000_000_000_000]));
}

#[test]
fn a_reconnect_syncs_every_followed_topic_again_from_the_cache() {
    let mut rig = Rig::ready();
    let h = rig.hub.clone();
    rig.broker.follow("t", &h, &mut rig.out);
    rig.sent();
    rig.feed(format!("*2\r\n{}{}", bulk("2"), bulk("0")).as_bytes());
    rig.feed(&entries(&[(2, "b"), (1, "a")]));
    assert!(rig.broker.disconnected().is_empty());
    assert!(!rig.broker.is_live("t"));
    rig.broker.connected(&mut rig.out);
    rig.sent();
    assert_eq!(rig.feed(b"%0\r\n"), vec![Outcome::Ready]);
    assert_eq!(rig.feed(&script_loaded()), vec![]);
    let sent = rig.sent();
    assert_eq!(words(&sent[0]), ["SUBSCRIBE", "pushwire:{t}"]);
    assert_eq!(
        words(&sent[2]),
        ["XREVRANGE", "pushwire:{t}:log", "+", "3", "COUNT", "4096"]
    );
    rig.feed(format!("*2\r\n{}{}", bulk("4"), bulk("0")).as_bytes());
    let outcomes = rig.feed(&entries(&[(4, "d"), (3, "c")]));
    assert_eq!(outcomes[0], Outcome::Synced("t".into()));
    assert_eq!(rig.seqs("t", 0), (None, vec![1, 2, 3, 4]));
    // Unfollowing unsubscribes.
    rig.broker.unfollow("t", &mut rig.out);
    assert_eq!(words(&rig.sent()[0]), ["UNSUBSCRIBE", "pushwire:{t}"]);
}

#[test]
fn pushes_waiting_for_a_sync_are_bounded_by_the_history_length() {
    let mut rig = Rig {
        broker: Mirror::new(MirrorConfig {
            history_events: 2,
            ..MirrorConfig::default()
        }),
        hub: hub(),
        out: Vec::new(),
    };
    rig.broker.connected(&mut rig.out);
    rig.feed(b"%0\r\n");
    rig.feed(&script_loaded());
    let h = rig.hub.clone();
    rig.broker.follow("t", &h, &mut rig.out);
    rig.sent();
    // Three messages arrive before the sync's replies: only the newest two are kept.
    for payload in ["1 0 1 a", "2 0 1 b", "3 0 1 c"] {
        assert_eq!(rig.feed(&message("t", payload)), vec![]);
    }
    rig.feed(format!("*2\r\n{}{}", bulk("3"), bulk("0")).as_bytes());
    rig.feed(b"*0\r\n");
    // The one dropped is a gap, not a silent loss (here the stream had nothing to fill it).
    assert_eq!(
        rig.seqs("t", 0),
        (Some(crate::hub::Gap::Lost { from: 1, to: 1 }), vec![2, 3])
    );
}

fn sharded() -> Rig {
    Rig::ready_with(MirrorConfig {
        sharded: true,
        ..MirrorConfig::default()
    })
}

#[test]
fn on_a_cluster_channels_are_sharded_and_a_moved_slot_gives_the_topic_up() {
    let mut rig = sharded();
    let h = rig.hub.clone();
    rig.broker.follow("room", &h, &mut rig.out);
    let sent = rig.sent();
    assert_eq!(words(&sent[0]), ["SSUBSCRIBE", "pushwire:{room}"]);
    // The confirmation (a push, in its place among the replies), the counters, the stream.
    let mut input = format!(
        ">3\r\n{}{}:1\r\n",
        bulk("ssubscribe"),
        bulk("pushwire:{room}")
    )
    .into_bytes();
    input.extend(format!("*2\r\n{}{}", bulk("5"), bulk("0")).into_bytes());
    input.extend(entries(&[(5, "e")]));
    let outcomes = rig.feed(&input);
    assert!(
        outcomes.contains(&Outcome::Synced("room".into())),
        "{outcomes:?}"
    );
    // A sharded message is delivered; a plain one is not this connection's.
    let smessage = format!(
        ">3\r\n{}{}{}",
        bulk("smessage"),
        bulk("pushwire:{room}"),
        bulk("6 0 9 six")
    );
    assert_eq!(
        rig.feed(smessage.as_bytes()),
        vec![Outcome::Events("room".into())]
    );
    assert_eq!(rig.feed(&message("room", "7 0 9 seven")), vec![]);
    assert_eq!(rig.seqs("room", 0).1, [5, 6]);
    // Redis says the slot is no longer served here: the topic is given up, to be followed
    // where the new map says.
    let gone = format!(">2\r\n{}{}", bulk("sunsubscribe"), bulk("pushwire:{room}"));
    assert_eq!(
        rig.feed(gone.as_bytes()),
        vec![Outcome::MapStale, Outcome::Moved("room".into())]
    );
    assert!(rig.broker.followed().next().is_none());
    // The publish script publishes to the shard's channel.
    assert!(rig.broker.script.contains("redis.call('SPUBLISH'"));
}

#[test]
fn a_redirected_sync_gives_the_topic_up_and_a_redirected_publish_fails() {
    let mut rig = sharded();
    let h = rig.hub.clone();
    rig.broker.follow("t", &h, &mut rig.out);
    rig.sent();
    let moved = b"-MOVED 3999 127.0.0.1:7002\r\n";
    let mut input = moved.to_vec();
    input.extend_from_slice(moved);
    input.extend_from_slice(moved);
    let outcomes = rig.feed(&input);
    assert_eq!(
        outcomes,
        vec![Outcome::MapStale, Outcome::Moved("t".into())]
    );
    assert_eq!(
        rig.broker.in_flight(),
        0,
        "every reply of the sync was taken"
    );
    rig.broker.publish(1, "t", 9, "x", &mut rig.out).unwrap();
    let outcomes = rig.feed(b"-ASK 3999 127.0.0.1:7002\r\n");
    assert!(matches!(
        &outcomes[..],
        [Outcome::MapStale, Outcome::NotPublished { ticket: 1, .. }]
    ));
}

#[test]
fn with_wait_a_publish_is_acknowledged_once_the_replicas_have_it() {
    let mut rig = Rig::ready_with(MirrorConfig {
        wait_replicas: 1,
        wait_timeout_ms: 500,
        ..MirrorConfig::default()
    });
    rig.broker.publish(1, "w", 9, "x", &mut rig.out).unwrap();
    rig.broker.publish(2, "w", 9, "y", &mut rig.out).unwrap();
    let sent = rig.sent();
    assert_eq!(words(&sent[1]), ["WAIT", "1", "500"]);
    assert_eq!(words(&sent[3]), ["WAIT", "1", "500"]);
    // Stored, not yet acknowledged; then one replica has it; the second none in time.
    assert_eq!(rig.feed(b":41\r\n"), vec![]);
    assert_eq!(
        rig.feed(b":1\r\n"),
        vec![Outcome::Published { ticket: 1, seq: 41 }]
    );
    assert_eq!(rig.feed(b":42\r\n"), vec![]);
    let outcomes = rig.feed(b":0\r\n");
    assert!(
        matches!(&outcomes[..], [Outcome::NotPublished { ticket: 2, reason }]
        if reason.contains("0 of 1 replicas"))
    );
}

#[test]
fn a_counter_behind_what_readers_saw_is_raised() {
    let mut rig = Rig::ready();
    rig.hub.insert("c", 10, make("c", 10, 0, "seen")).unwrap();
    let h = rig.hub.clone();
    rig.broker.follow("c", &h, &mut rig.out);
    rig.sent();
    // A failover lost number 10: the counter says 9.
    assert_eq!(
        rig.feed(format!("*2\r\n{}{}", bulk("9"), bulk("0")).as_bytes()),
        vec![]
    );
    let sent = rig.sent();
    let bump = words(&sent[0]);
    assert_eq!(
        (bump[0].as_str(), &bump[2..]),
        (
            "EVAL",
            &["1".to_string(), "pushwire:{c}:seq".into(), "10".into()][..]
        )
    );
}
