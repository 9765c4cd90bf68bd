//! A publish reaches this worker's followers: one lock of the hub reads what every distinct
//! cursor is owed, then each technique hands it over its own way ([`Followers`]).

use super::event::event_ts;
use super::events::Streams;
use super::follow::{Due, Followers, Owed};
use super::owed;
use super::poll::Polls;
use super::ws::Sockets;
use super::{HubServer, Local, Notice};
use crate::reactor::Ctx;

/// Every technique that follows topics.
const TECHNIQUES: [&dyn Followers; 3] = [&Streams, &Sockets, &Polls];

impl HubServer {
    /// A publish on `topic`: deliver to this worker's followers.
    pub(super) fn deliver(&self, local: &mut Local, topic: &str, cx: &mut Ctx<'_, Notice>) {
        if !self.live(topic) {
            // Over a broker, a topic being synced is delivered once it is live.
            return;
        }
        let last_seq = self.hub().last_seq(topic);
        let due: Vec<Vec<Due>> = TECHNIQUES
            .iter()
            .map(|t| t.due(self, local, topic, last_seq))
            .collect();
        // One lock per publish: what every distinct cursor of this worker is owed. Encoding
        // happens after the lock, once per cursor and transport.
        let owed: Owed = {
            let hub = self.hub();
            let mut owed = Owed::new();
            for d in due.iter().flatten() {
                owed.entry(d.cursor).or_insert_with(|| {
                    let max = self.limits.max_events_per_response;
                    owed::read(&hub, topic, d.cursor, max, usize::MAX)
                });
            }
            owed
        };
        for (technique, due) in TECHNIQUES.iter().zip(&due) {
            if !due.is_empty() {
                technique.deliver(self, local, topic, due, &owed, cx);
            }
        }
        self.observe_delivery(&owed, &due);
    }

    /// Publish-to-delivery latency of every event delivered: each event's own, counted once
    /// per follower that got it (one clock read per publish, not per follower).
    fn observe_delivery(&self, owed: &Owed, due: &[Vec<Due>]) {
        let now = super::wire::unix_nanos();
        for (cursor, chunks) in owed {
            let followers = due.iter().flatten().filter(|d| d.cursor == *cursor).count() as u64;
            for (_, data) in chunks.iter().flat_map(|c| &c.events) {
                if let Some(ts) = event_ts(data) {
                    let micros = now.saturating_sub(ts) / 1000;
                    self.metrics.delivery.observe(micros, followers);
                }
            }
        }
    }
}
