//! Random publish / park / timeout / disconnect sequences against a model: every parked
//! request is answered exactly once, with the events after its cursor (or a gap) and nothing
//! skipped silently.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushwire::hub::{Gap, Hub};
use pushwire::longpoll::Parking;
use pushwire::{Instant, Limits};
use std::collections::BTreeMap;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let limits = Limits { history_events: 5, max_parked_per_topic: 4, max_parked: 6, ..Limits::default() };
    let mut hub = Hub::new(&limits);
    let mut parking: Parking<u8> = Parking::new(&limits);
    let topics = ["a", "b"];
    let mut now = Instant::ZERO;
    let mut cursor: BTreeMap<u8, (usize, u64)> = BTreeMap::new();
    let mut parked: BTreeMap<u8, bool> = BTreeMap::new();
    let check = |hub: &Hub, topic: &str, c: u64| -> u64 {
        let since = hub.since(topic, c, 3);
        let mut expect = c + 1;
        match since.gap {
            Some(Gap::Lost { from, to }) => {
                assert_eq!(from, c + 1);
                expect = to + 1;
            }
            Some(Gap::Reset { .. }) => panic!("cursor ahead"),
            None => {}
        }
        for e in since.events.clone() {
            assert_eq!(e.seq, expect);
            expect += 1;
        }
        assert!(since.more || since.next == hub.last_seq(topic));
        since.next
    };
    for pair in data.chunks(2) {
        let (op, arg) = (pair[0] % 4, pair.get(1).copied().unwrap_or(0));
        let key = arg % 8;
        match op {
            0 => {
                let t = usize::from(arg % 2);
                let last = hub.publish(topics[t], |s| s.to_string().into_bytes().into()).unwrap();
                for (k, woken) in parking.wake(topics[t], last) {
                    let c = woken.cursor(topics[t]).expect("woken by a topic it waits on");
                    assert_eq!(parked.insert(k, false), Some(true), "woken but not parked");
                    let next = check(&hub, topics[t], c);
                    cursor.insert(k, (t, next));
                }
            }
            1 => {
                if parked.get(&key) == Some(&true) {
                    continue;
                }
                let (t, c) = *cursor.entry(key).or_insert((usize::from(arg / 8 % 2), 0));
                if hub.since(topics[t], c, 3).events.len() > 0 || c < hub.last_seq(topics[t]) {
                    let next = check(&hub, topics[t], c);
                    cursor.insert(key, (t, next));
                } else if parking.park(key, topics[t], c, now + Duration::from_millis(u64::from(arg))).is_ok() {
                    parked.insert(key, true);
                }
            }
            2 => {
                now = now + Duration::from_millis(u64::from(arg));
                for (k, expired) in parking.expire(now) {
                    assert!(expired.deadline <= now, "expired before its deadline");
                    assert_eq!(parked.insert(k, false), Some(true), "expired but not parked");
                }
            }
            _ => {
                let was = parking.unpark(key).is_some();
                assert_eq!(was, parked.get(&key) == Some(&true));
                parked.insert(key, false);
            }
        }
        assert_eq!(parking.len(), parked.values().filter(|p| **p).count());
        assert!(parking.len() <= 6);
    }
});
