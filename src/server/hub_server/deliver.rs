//! A publish reaches this worker's followers: one lock of the hub reads what every distinct
//! cursor is owed, then each technique hands it over its own way ([`Followers`]).

use super::event::event_ts;
use super::owed::{self, Chunk};
use super::{HubServer, Local, Notice};
use crate::reactor::{ConnId, Ctx};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A follower a publish on a topic is due to: its cursor there, and its cursors in the other
/// topics it follows (for the position its answer carries; none for a follower of one topic).
pub(super) struct Due {
    pub conn: ConnId,
    pub cursor: u64,
    pub others: Vec<(Arc<str>, u64)>,
}

impl Due {
    /// The follower's other cursors as the encoders take them.
    pub fn others(&self) -> Vec<(&str, u64)> {
        self.others.iter().map(|(t, c)| (&**t, *c)).collect()
    }
}

/// What each distinct cursor of a topic is owed.
pub(super) type Owed = BTreeMap<u64, Vec<Chunk>>;

/// How one technique hands a topic's events to its followers on this worker.
pub(super) trait Followers {
    /// The followers of `topic` this technique serves that a publish is due to (a parked poll
    /// is unparked here), given the topic's newest number.
    fn due(&self, server: &HubServer, local: &mut Local, topic: &str, last_seq: u64) -> Vec<Due>;

    /// Hands each of `due` what `owed` holds for its cursor.
    fn deliver(
        &self,
        server: &HubServer,
        local: &mut Local,
        topic: &str,
        due: &[Due],
        owed: &Owed,
        cx: &mut Ctx<'_, Notice>,
    );
}

/// Every technique that follows topics.
const TECHNIQUES: [&dyn Followers; 3] = [
    &super::events::Streams,
    &super::ws::Sockets,
    &super::poll::Polls,
];

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

/// `conn`'s cursors in the topics of `follows` other than `topic` (none when it follows only
/// `topic`).
pub(super) fn others(
    follows: &crate::hub::Subscribers<ConnId>,
    conn: ConnId,
    topic: &str,
) -> Vec<(Arc<str>, u64)> {
    if follows.count_of(conn) < 2 {
        return Vec::new();
    }
    follows
        .cursors(conn)
        .into_iter()
        .filter(|(t, _)| *t != topic)
        .map(|(t, c)| (Arc::from(t), c))
        .collect()
}
