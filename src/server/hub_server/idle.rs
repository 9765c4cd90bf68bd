//! Topics nobody uses (`Limits::topic_idle_ttl`): each worker's tick marks in the hub the
//! topics its clients follow; the first tick after each idle period drops the topics nobody
//! published to or marked during it, with their history.

use super::follow::Awaiting;
use super::{HubServer, Local, tick_interval};
use crate::Instant;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl HubServer {
    /// Marks what this worker follows, drops idle topics when a period has ended, and tells
    /// the broker (if any) what this worker follows.
    pub(super) fn keep_followed(&self, local: &Local, now: Instant) {
        let followed = Self::followed(local);
        if let Some(ttl) = self.limits.topic_idle_ttl {
            let mut hub = self.hub();
            for topic in &followed {
                hub.touch(topic);
            }
            // Every worker ticks at least twice in a period, so each marks what it follows
            // before the period ends.
            let period = ttl.max(2 * tick_interval(&self.limits));
            let next = now.saturating_add(period).as_micros();
            let due = self.idle_sweep.load(Ordering::Relaxed);
            if due == 0 {
                self.idle_sweep.store(next, Ordering::Relaxed);
            } else if now.as_micros() >= due
                && self
                    .idle_sweep
                    .compare_exchange(due, next, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                let dropped = hub.drop_idle();
                drop(hub);
                if dropped > 0 {
                    log::debug!(target: "pushwire::hub", "dropped {dropped} idle topics");
                }
            }
        }
        self.report_followed(local, followed);
    }

    /// Every topic this worker's clients follow, are parked on, or wait to follow.
    fn followed(local: &Local) -> BTreeSet<Arc<str>> {
        let mut topics = BTreeSet::<Arc<str>>::new();
        topics.extend(local.sse.topics().map(Arc::from));
        topics.extend(local.ws.topics().map(Arc::from));
        if let Some(parking) = &local.parking {
            topics.extend(parking.topics().map(Arc::from));
        }
        for (topic, waiting) in &local.awaiting {
            topics.insert(topic.clone());
            for (_, awaiting) in waiting {
                if let Awaiting::Poll(ask) = awaiting {
                    topics.extend(ask.topics.iter().cloned());
                }
            }
        }
        topics
    }
}
