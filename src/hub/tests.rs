//! The hub against its promise: every reader sees every sequence number in order exactly
//! once, or an explicit gap.

use super::*;
use crate::Limits;
use alloc::vec::Vec;
use proptest::prelude::*;

fn hub(events: usize, bytes: usize) -> Hub {
    Hub::new(&Limits {
        history_events: events,
        history_bytes: bytes,
        ..Limits::default()
    })
}

fn text(seq: u64) -> Arc<[u8]> {
    alloc::format!("event {seq}").into_bytes().into()
}

fn seqs(s: &Since<'_>) -> Vec<u64> {
    s.events.clone().map(|e| e.seq).collect()
}

#[test]
fn publish_numbers_from_one_per_topic() {
    let mut h = hub(10, 1000);
    assert_eq!(h.publish("a", text), Ok(1));
    assert_eq!(h.publish("a", text), Ok(2));
    assert_eq!(h.publish("b", text), Ok(1));
    assert_eq!(h.last_seq("a"), 2);
    assert_eq!(h.last_seq("nope"), 0);
}

#[test]
fn since_returns_events_after_cursor_in_order() {
    let mut h = hub(10, 1000);
    for _ in 0..5 {
        h.publish("t", text).unwrap();
    }
    let s = h.since("t", 2, 100);
    assert_eq!(
        (s.gap, seqs(&s), s.more, s.next),
        (None, vec![3, 4, 5], false, 5)
    );
    let s = h.since("t", 5, 100);
    assert_eq!((seqs(&s), s.next), (vec![], 5));
}

#[test]
fn since_caps_and_says_where_to_continue() {
    let mut h = hub(10, 1000);
    for _ in 0..5 {
        h.publish("t", text).unwrap();
    }
    let s = h.since("t", 0, 2);
    assert_eq!((seqs(&s), s.more, s.next), (vec![1, 2], true, 2));
}

#[test]
fn since_trimmed_cursor_reports_lost_gap() {
    let mut h = hub(3, 1000);
    for _ in 0..6 {
        h.publish("t", text).unwrap();
    }
    let s = h.since("t", 1, 100);
    assert_eq!(s.gap, Some(Gap::Lost { from: 2, to: 3 }));
    assert_eq!(seqs(&s), vec![4, 5, 6]);
}

#[test]
fn since_cursor_ahead_reports_reset() {
    let mut h = hub(3, 1000);
    h.publish("t", text).unwrap();
    let s = h.since("t", 9, 100);
    assert_eq!(s.gap, Some(Gap::Reset { cursor: 9 }));
    assert_eq!(seqs(&s), vec![1]);
    assert_eq!(
        h.since("unknown", 4, 10).gap,
        Some(Gap::Reset { cursor: 4 })
    );
}

#[test]
fn history_bounded_by_bytes() {
    let mut h = hub(100, 20);
    for _ in 0..5 {
        h.publish("t", text).unwrap(); // 7 bytes each
    }
    let s = h.since("t", 0, 100);
    assert_eq!(seqs(&s), vec![4, 5]);
    assert_eq!(
        h.publish("t", |_| vec![0u8; 21].into()),
        Err(UsageError::EventTooLarge)
    );
    assert_eq!(h.last_seq("t"), 5, "a refused event takes no number");
}

#[test]
fn topic_limits_enforced() {
    let mut h = Hub::new(&Limits {
        max_topics: 2,
        max_topic_name_bytes: 4,
        ..Limits::default()
    });
    h.publish("a", text).unwrap();
    h.publish("b", text).unwrap();
    assert_eq!(h.publish("c", text), Err(UsageError::TooManyTopics));
    assert_eq!(
        h.publish("a", text),
        Ok(2),
        "existing topics still take events"
    );
    assert_eq!(h.publish("toolong", text), Err(UsageError::InvalidTopic));
    assert_eq!(h.publish("", text), Err(UsageError::InvalidTopic));
}

#[test]
fn subscribers_follow_topics_with_a_cursor_each() {
    let mut s = Subscribers::default();
    s.subscribe(1u32, "a", 5);
    s.subscribe(2, "a", 7);
    s.subscribe(3, "b", 0);
    assert_eq!(s.of_topic("a").collect::<Vec<_>>(), vec![(1, 5), (2, 7)]);
    s.advance(1, "a", 9);
    s.advance(1, "a", 3);
    assert_eq!(s.cursor(1, "a"), Some(9), "cursors never move back");
    s.subscribe(1, "b", 0);
    assert_eq!(s.topics_of(1).collect::<Vec<_>>(), vec!["a", "b"]);
    assert!(s.unsubscribe(2));
    assert_eq!(s.of_topic("a").count(), 1);
    assert_eq!(s.len(), 2);
}

#[derive(Clone, Debug)]
enum Op {
    Publish(u8),
    Subscribe(u8, u8),
    Poll(u8, u8),
    Disconnect(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..2).prop_map(Op::Publish),
        1 => (0u8..4, 0u8..2).prop_map(|(s, t)| Op::Subscribe(s, t)),
        3 => (0u8..4, 1u8..4).prop_map(|(s, m)| Op::Poll(s, m)),
        1 => (0u8..4).prop_map(Op::Disconnect),
    ]
}

proptest! {
    /// Random publish / subscribe / poll / disconnect with a tiny history: each subscriber
    /// sees strictly consecutive sequence numbers, with every jump covered by a Lost gap that
    /// starts right after what it saw.
    #[test]
    fn every_reader_sees_each_seq_once_in_order_or_a_gap(ops in proptest::collection::vec(op(), 1..120)) {
        let mut h = hub(4, 1 << 20);
        let mut subs: Subscribers<u8> = Subscribers::default();
        let topics = ["x", "y"];
        let mut published = [0u64; 2];
        for op in ops {
            match op {
                Op::Publish(t) => {
                    let seq = h.publish(topics[t as usize], text).unwrap();
                    published[t as usize] += 1;
                    prop_assert_eq!(seq, published[t as usize]);
                }
                Op::Subscribe(s, t) => {
                    let topic = topics[t as usize];
                    // One topic per reader in this model: a new subscription replaces the old.
                    subs.unsubscribe(s);
                    subs.subscribe(s, topic, h.last_seq(topic));
                }
                Op::Poll(s, max) => {
                    let Some(topic) = subs.topics_of(s).next().map(alloc::string::String::from) else { continue };
                    let Some(cursor) = subs.cursor(s, &topic) else { continue };
                    let since = h.since(&topic, cursor, max as usize);
                    let mut expect = cursor + 1;
                    match since.gap {
                        Some(Gap::Lost { from, to }) => {
                            prop_assert_eq!(from, cursor + 1);
                            prop_assert!(to >= from);
                            expect = to + 1;
                        }
                        Some(Gap::Reset { .. }) => prop_assert!(false, "cursor ahead of the topic"),
                        None => {}
                    }
                    for e in since.events.clone() {
                        prop_assert_eq!(e.seq, expect);
                        prop_assert_eq!(&*e.data, &*text(e.seq));
                        expect += 1;
                    }
                    prop_assert_eq!(since.next, expect - 1);
                    if !since.more {
                        prop_assert_eq!(since.next, h.last_seq(&topic));
                    }
                    subs.advance(s, &topic, since.next);
                }
                Op::Disconnect(s) => {
                    subs.unsubscribe(s);
                }
            }
        }
    }
}

#[test]
fn events_numbered_elsewhere_keep_their_numbers_and_holes_are_gaps() {
    let mut h = hub(10, 1000);
    // A broker began this topic's numbering after 1000.
    h.align("t", 1000, 1000).unwrap();
    assert_eq!(h.insert("t", 1001, text(1001)), Ok(true));
    assert_eq!(h.insert("t", 1002, text(1002)), Ok(true));
    // Known already: nothing changes.
    assert_eq!(h.insert("t", 1002, text(1002)), Ok(false));
    assert_eq!(h.insert("t", 7, text(7)), Ok(false));
    // A reader that has seen nothing starts at the base: no gap for numbers never issued.
    let s = h.since("t", 0, 100);
    assert_eq!((s.gap, seqs(&s), s.next), (None, vec![1001, 1002], 1002));
    // 1003 and 1004 never reached this hub.
    assert_eq!(h.insert("t", 1005, text(1005)), Ok(true));
    let s = h.since("t", 1002, 100);
    assert_eq!(
        (s.gap, seqs(&s), s.next),
        (
            Some(Gap::Lost {
                from: 1003,
                to: 1004
            }),
            vec![1005],
            1005
        )
    );
    // Reading across the hole stops before it; the next read reports it.
    let s = h.since("t", 1000, 100);
    assert_eq!(
        (s.gap, seqs(&s), s.more, s.next),
        (None, vec![1001, 1002], true, 1002)
    );
    // A cursor from before the base (another life of the topic) gets the explicit gap.
    let s = h.since("t", 3, 100);
    assert_eq!(
        (s.gap, seqs(&s)),
        (Some(Gap::Lost { from: 4, to: 1000 }), vec![1001, 1002])
    );
    // A cursor ahead of everything: the topic was reset.
    let s = h.since("t", 5000, 100);
    assert_eq!(s.gap, Some(Gap::Reset { cursor: 5000 }));
}

#[test]
fn alignment_without_events_makes_the_missing_ones_a_gap() {
    let mut h = hub(10, 1000);
    h.align("t", 100, 105).unwrap();
    let s = h.since("t", 0, 100);
    assert_eq!(
        (s.gap, seqs(&s), s.next),
        (Some(Gap::Lost { from: 101, to: 105 }), vec![], 105)
    );
    let s = h.since("t", 105, 100);
    assert_eq!((s.gap, seqs(&s), s.next), (None, vec![], 105));
    assert_eq!(h.last_seq("t"), 105);
}

#[test]
fn a_cursor_ahead_of_a_shared_numbering_waits_instead_of_resetting() {
    let mut h = hub(10, 1000);
    h.share_numbering();
    h.align("t", 100, 100).unwrap();
    h.insert("t", 101, text(101)).unwrap();
    // Another node already delivered 102 to this reader; this hub has not heard of it.
    let s = h.since("t", 102, 10);
    assert_eq!(
        (s.gap, seqs(&s), s.more, s.next),
        (None, vec![], false, 102)
    );
    h.insert("t", 102, text(102)).unwrap();
    h.insert("t", 103, text(103)).unwrap();
    let s = h.since("t", 102, 10);
    assert_eq!((s.gap, seqs(&s)), (None, vec![103]));
    // A topic this hub has never heard of: also nothing yet, no reset.
    let s = h.since("u", 7, 10);
    assert_eq!((s.gap, seqs(&s), s.next), (None, vec![], 7));
}

fn sized(n: usize) -> impl FnOnce(u64) -> Arc<[u8]> {
    move |_| alloc::vec![b'x'; n].into()
}

#[test]
fn over_budget_the_oldest_events_of_all_topics_go_first() {
    let mut h = hub(100, 100_000);
    let each = 100 + EVENT_OVERHEAD;
    h.set_budget(4 * each);
    // a1 b1 a2 c1: four events fit.
    for topic in ["a", "b", "a", "c"] {
        h.publish(topic, sized(100)).unwrap();
    }
    assert_eq!((h.held_bytes(), h.evicted()), (4 * each, 0));
    // b2 and c2 push out the two oldest, a1 and b1, whatever their topic.
    h.publish("b", sized(100)).unwrap();
    h.publish("c", sized(100)).unwrap();
    assert_eq!((h.held_bytes(), h.evicted()), (4 * each, 2));
    assert_eq!(h.history_bytes(), 400);
    // A reader of `a` from the start learns of the loss; of `b`, too; `c` lost nothing.
    let a = h.since("a", 0, 10);
    assert_eq!(a.gap, Some(Gap::Lost { from: 1, to: 1 }));
    assert_eq!(seqs(&a), [2]);
    let b = h.since("b", 0, 10);
    assert_eq!(b.gap, Some(Gap::Lost { from: 1, to: 1 }));
    assert_eq!(seqs(&b), [2]);
    assert_eq!(seqs(&h.since("c", 0, 10)), [1, 2]);
    // Numbering goes on: nothing is reused.
    assert_eq!(h.publish("a", sized(100)), Ok(3));
}

#[test]
fn an_event_that_cannot_fit_is_refused_and_a_smaller_budget_evicts_at_once() {
    let mut h = hub(100, 100_000);
    h.publish("a", sized(500)).unwrap();
    h.publish("b", sized(500)).unwrap();
    h.set_budget(600 + EVENT_OVERHEAD);
    assert_eq!(h.evicted(), 1, "the budget shrank below what was held");
    assert_eq!(seqs(&h.since("b", 0, 10)), [1]);
    assert_eq!(h.publish("c", sized(700)), Err(UsageError::OverBudget));
    assert_eq!(h.last_seq("c"), 0, "nothing of a refused event stays");
    // One that fits only without the others: they go.
    assert_eq!(h.publish("c", sized(600)), Ok(1));
    assert_eq!(seqs(&h.since("b", 0, 10)), [] as [u64; 0]);
}

#[test]
fn the_order_of_publication_is_swept_of_what_topics_trimmed_themselves() {
    // Two events per topic at most: the topics trim themselves, and the order's entries for
    // what they trimmed must not pile up.
    let mut h = hub(2, 100_000);
    for i in 0..10_000u64 {
        h.publish(if i % 2 == 0 { "a" } else { "b" }, text).unwrap();
    }
    assert_eq!(h.events, 4);
    assert!(
        h.order.len() <= 2 * 4 + 64 + 1,
        "order holds {}",
        h.order.len()
    );
    assert_eq!(h.held_bytes(), h.history_bytes() + 4 * EVENT_OVERHEAD);
}

proptest! {
    /// Whatever is published where, under whatever budget: the count of what is held is the
    /// sum of what the topics hold, within the budget, and every reader still sees its topic's
    /// numbers in order with explicit gaps.
    #[test]
    fn the_budget_holds_and_readers_see_gaps_not_disorder(
        ops in proptest::collection::vec((0u8..4, 1usize..300), 1..200),
        budget in 200usize..5_000,
    ) {
        let mut h = hub(8, 2_000);
        h.set_budget(budget);
        for (topic, size) in ops {
            let name = ["a", "b", "c", "d"][usize::from(topic)];
            let _ = h.publish(name, sized(size));
            prop_assert!(h.held_bytes() <= budget);
            let total: usize = h.topics.values().map(|t| t.bytes + t.history.len() * EVENT_OVERHEAD).sum();
            prop_assert_eq!(total, h.held_bytes());
        }
        for name in ["a", "b", "c", "d"] {
            let mut cursor = 0;
            loop {
                let s = h.since(name, cursor, 3);
                let got = seqs(&s);
                if let Some(Gap::Lost { from, to }) = s.gap {
                    prop_assert_eq!(from, cursor + 1);
                    prop_assert!(to >= from);
                }
                for pair in got.windows(2) {
                    prop_assert_eq!(pair[1], pair[0] + 1);
                }
                if s.next == cursor { break; }
                cursor = s.next;
            }
            prop_assert_eq!(cursor, h.last_seq(name));
        }
    }
}

#[test]
fn idle_topics_go_after_one_full_period_with_their_history() {
    let mut h = hub(100, 100_000);
    h.publish("quiet", sized(10)).unwrap();
    h.publish("busy", sized(10)).unwrap();
    h.publish("followed", sized(10)).unwrap();
    // Everything was published in this period: nothing goes.
    assert_eq!(h.drop_idle(), 0);
    assert_eq!(h.topic_count(), 3);
    // Next period: one topic is published to, one is followed, one is left alone.
    h.publish("busy", sized(10)).unwrap();
    h.touch("followed");
    h.touch("never-created");
    assert_eq!(h.drop_idle(), 1);
    assert_eq!(h.topic_count(), 2);
    assert_eq!(h.last_seq("quiet"), 0);
    assert_eq!(h.held_bytes(), 3 * (10 + EVENT_OVERHEAD));
    // A reader coming back to the dropped topic is told its numbering began again.
    assert_eq!(h.since("quiet", 1, 10).gap, Some(Gap::Reset { cursor: 1 }));
    // The order of publication forgot the dropped events: the budget evicts only live ones.
    h.set_budget(10 + EVENT_OVERHEAD);
    assert_eq!(h.evicted(), 2);
    assert_eq!(seqs(&h.since("busy", 0, 10)), [2]);
    // A period with no use at all drops the rest.
    assert_eq!(h.drop_idle(), 2);
    assert_eq!((h.topic_count(), h.held_bytes()), (0, 0));
}
