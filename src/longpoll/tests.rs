//! Parking against a model: every parked request is answered exactly once — woken by a
//! publish after its cursor, expired at its deadline, or unparked by a disconnect.

use super::*;
use crate::Limits;
use crate::hub::Hub;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use core::time::Duration;
use proptest::prelude::*;

fn at(ms: u64) -> Instant {
    Instant::ZERO + Duration::from_millis(ms)
}

#[test]
fn publish_wakes_every_request_on_the_topic() {
    let mut p = Parking::new(&Limits::default());
    p.park(1u32, "a", 0, at(100)).unwrap();
    p.park(2, "a", 0, at(100)).unwrap();
    p.park(3, "b", 0, at(100)).unwrap();
    let woken = |v: Vec<(u32, Parked)>| -> Vec<(u32, u64)> {
        v.into_iter()
            .map(|(k, p)| (k, p.cursor("a").unwrap()))
            .collect()
    };
    assert_eq!(woken(p.wake("a", 1)), vec![(1, 0), (2, 0)]);
    assert_eq!(p.len(), 1);
    assert!(p.wake("a", 2).is_empty());
}

#[test]
fn deadline_expires_in_order() {
    let mut p = Parking::new(&Limits::default());
    p.park(1u32, "a", 0, at(300)).unwrap();
    p.park(2, "a", 0, at(100)).unwrap();
    assert_eq!(p.poll_timeout(), Some(at(100)));
    assert!(p.expire(at(99)).is_empty());
    let keys = |v: Vec<(u32, Parked)>| v.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    assert_eq!(keys(p.expire(at(100))), vec![2]);
    let later = p.expire(at(1000));
    assert_eq!(later.len(), 1);
    assert_eq!((later[0].0, later[0].1.cursor("a")), (1, Some(0)));
    assert_eq!(p.poll_timeout(), None);
}

#[test]
fn disconnect_unparks() {
    let mut p = Parking::new(&Limits::default());
    p.park(1u32, "a", 4, at(100)).unwrap();
    assert_eq!(p.unpark(1).map(|x| x.cursor("a")), Some(Some(4)));
    assert!(p.wake("a", 9).is_empty());
    assert!(p.expire(at(1000)).is_empty());
}

#[test]
fn parking_limits_per_topic_and_total() {
    let limits = Limits {
        max_parked_per_topic: 2,
        max_parked: 3,
        ..Limits::default()
    };
    let mut p = Parking::new(&limits);
    p.park(1u32, "a", 0, at(1)).unwrap();
    p.park(2, "a", 0, at(1)).unwrap();
    assert_eq!(p.park(3, "a", 0, at(1)), Err(ParkError::TopicFull));
    p.park(3, "b", 0, at(1)).unwrap();
    assert_eq!(p.park(4, "c", 0, at(1)), Err(ParkError::Full));
    assert_eq!(
        p.park(1, "a", 0, at(5)),
        Ok(()),
        "re-parking the same key replaces it"
    );
}

#[test]
fn a_request_parked_on_several_topics_wakes_on_any_of_them_once() {
    let limits = Limits {
        max_parked_per_topic: 1,
        ..Limits::default()
    };
    let mut p = Parking::new(&limits);
    p.park_many(1u32, &[("a", 3), ("b", 7)], at(100)).unwrap();
    assert_eq!(
        p.park_many(2, &[("c", 0), ("b", 0)], at(100)),
        Err(ParkError::TopicFull),
        "b is full"
    );
    assert!(
        p.topics().eq(["a", "b"]),
        "nothing of the refused one was parked"
    );
    assert!(p.wake("b", 7).is_empty(), "not past its cursor there");
    let woken = p.wake("b", 8);
    assert_eq!(woken.len(), 1);
    assert_eq!(
        (woken[0].1.cursor("a"), woken[0].1.cursor("b")),
        (Some(3), Some(7))
    );
    assert!(p.wake("a", 9).is_empty(), "answered once");
    assert!(p.is_empty() && p.topics().next().is_none());
}

#[derive(Clone, Debug)]
enum Op {
    Park(u8),
    Publish,
    Advance(u8),
    Disconnect(u8),
}

proptest! {
    #[test]
    fn every_parked_request_answered_exactly_once_with_no_event_lost(
        ops in proptest::collection::vec(prop_oneof![
            3 => (0u8..6).prop_map(Op::Park),
            2 => Just(Op::Publish),
            2 => (1u8..50).prop_map(Op::Advance),
            1 => (0u8..6).prop_map(Op::Disconnect),
        ], 1..100)
    ) {
        let limits = Limits { history_events: 1000, ..Limits::default() };
        let mut hub = Hub::new(&limits);
        let mut parking = Parking::new(&limits);
        let mut now = at(0);
        // Each client's cursor (what it has received), and whether it is waiting.
        let mut cursor: BTreeMap<u8, u64> = BTreeMap::new();
        let mut waiting: BTreeMap<u8, bool> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Park(k) => {
                    if waiting.get(&k) == Some(&true) { continue; }
                    let c = *cursor.entry(k).or_insert(0);
                    // Answered at once when events exist (the server's rule), else parked.
                    let since = hub.since("t", c, 1000);
                    if since.events.len() > 0 {
                        cursor.insert(k, since.next);
                    } else {
                        parking.park(k, "t", c, now + Duration::from_millis(30)).unwrap();
                        waiting.insert(k, true);
                    }
                }
                Op::Publish => {
                    let last = hub.publish("t", |s| Arc::from(alloc::format!("{s}").into_bytes())).unwrap();
                    for (k, parked) in parking.wake("t", last) {
                        let c = parked.cursor("t").unwrap();
                        prop_assert_eq!(waiting.insert(k, false), Some(true), "woken twice or never parked");
                        let since = hub.since("t", c, 1000);
                        let first = since.events.clone().next().map(|e| e.seq);
                        prop_assert_eq!(first, Some(c + 1), "events after the cursor, none skipped");
                        cursor.insert(k, since.next);
                    }
                }
                Op::Advance(ms) => {
                    now = now + Duration::from_millis(u64::from(ms));
                    for (k, parked) in parking.expire(now) {
                        prop_assert!(parked.deadline <= now);
                        prop_assert_eq!(waiting.insert(k, false), Some(true));
                    }
                }
                Op::Disconnect(k) => {
                    let was = parking.unpark(k).is_some();
                    prop_assert_eq!(was, waiting.get(&k) == Some(&true));
                    waiting.insert(k, false);
                }
            }
            // Nobody waits while events after its cursor exist.
            for (k, w) in &waiting {
                if *w {
                    prop_assert!(parking.is_parked(*k));
                    prop_assert_eq!(cursor[k], hub.last_seq("t"));
                }
            }
            // What the parked hold is what those waiting cost, however they left.
            let waiting_now = waiting.values().filter(|w| **w).count();
            prop_assert_eq!(parking.held_bytes(), waiting_now * Parking::<u32>::cost(&[("t", 0)]));
        }
    }
}

#[test]
fn what_parked_requests_hold_is_counted_and_given_back() {
    let mut p = Parking::new(&Limits::default());
    assert_eq!(p.held_bytes(), 0);
    let one = Parking::<u32>::cost(&[("a", 0)]);
    let three = Parking::<u32>::cost(&[("a", 0), ("bb", 0), ("a-much-longer-topic-name", 0)]);
    assert!(three > 3 * (one - 160), "each topic and its name count");
    p.park(1u32, "a", 0, at(100)).unwrap();
    p.park_many(
        2,
        &[("a", 0), ("bb", 0), ("a-much-longer-topic-name", 0)],
        at(200),
    )
    .unwrap();
    assert_eq!(p.held_bytes(), one + three);
    // Parking again replaces: counted once.
    p.park(1, "a", 3, at(300)).unwrap();
    assert_eq!(p.held_bytes(), one + three);
    assert_eq!(p.wake("bb", 1).len(), 1);
    assert_eq!(p.held_bytes(), one);
    assert_eq!(p.expire(at(300)).len(), 1);
    assert_eq!(p.held_bytes(), 0);
}
