//! What following topics means to every technique: the cursor of a follower still waiting for
//! a topic's cache ([`PENDING`]), a request that waits for it ([`Awaiting`]), and how a
//! publish reaches followers ([`Followers`], [`Due`], [`Owed`]).

use super::owed::Chunk;
use super::stats::Shape;
use super::{HubServer, Local, Notice};
use crate::hub::Subscribers;
use crate::reactor::{ConnId, Ctx};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The cursor of a follower that asked for "from now" before the topic's cache was live: set
/// to the newest number when it is.
pub(super) const PENDING: u64 = u64::MAX;

/// A request waiting for its topics' cache.
#[derive(Clone, Debug)]
pub(super) enum Awaiting {
    Poll(PollAsk),
    /// `GET /cursor`, asked at this time (ns since the Unix epoch).
    Cursor {
        arrived: u64,
    },
}

/// A poll's question, kept while it waits for a topic's sync.
#[derive(Clone, Debug)]
pub(super) struct PollAsk {
    pub topics: Vec<Arc<str>>,
    pub cursors: Vec<Option<u64>>,
    pub wait: Option<u64>,
    pub shape: Shape,
    /// When it arrived (ns since the Unix epoch): "now" for a poll without a cursor.
    pub arrived: u64,
}

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

/// `conn`'s cursors in the topics of `follows` other than `topic` (none when it follows only
/// `topic`).
pub(super) fn others(
    follows: &Subscribers<ConnId>,
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
