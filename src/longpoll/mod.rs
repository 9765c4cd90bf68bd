//! Long-polling ("hanging GET"), sans-IO: parked requests that wait for data or a deadline.
//!
//! [`Parking`] holds requests, each with a topic, the cursor it asked from and a deadline. A
//! publish on a topic wakes every request parked on it; the deadline expires the rest; a
//! client that disconnects is unparked. What is answered (the events after the cursor, capped
//! per response, from [`crate::hub::Hub::since`]) is the caller's business; this module only
//! decides *who* is answered *when*: its answers are caused by a publish or a deadline, never
//! owed to input, so it writes no bytes at all (the crate's rule,
//! [crate#what-the-peer-is-owed-goes-out-with-the-input-that-owed-it]). Short polling is the same request that is never parked.

#[cfg(test)]
mod tests;

use crate::time::Instant;
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

/// A parked request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parked {
    /// The topics it waits on, each with the last sequence number the client had there.
    pub cursors: Vec<(Box<str>, u64)>,
    /// When it is answered with no events.
    pub deadline: Instant,
}

impl Parked {
    /// The client's cursor in `topic`.
    pub fn cursor(&self, topic: &str) -> Option<u64> {
        self.cursors
            .iter()
            .find(|(t, _)| **t == *topic)
            .map(|&(_, c)| c)
    }
}

/// Why a request could not be parked (answer `503` with `Retry-After`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParkError {
    /// `Limits::max_parked_per_topic` requests already wait on this topic.
    #[error("too many requests parked on this topic")]
    TopicFull,
    /// `Limits::max_parked` requests already wait.
    #[error("too many parked requests")]
    Full,
}

/// Requests waiting for events, keyed by `K` (a connection id).
#[derive(Clone, Debug)]
pub struct Parking<K: Ord + Copy> {
    parked: BTreeMap<K, Parked>,
    by_topic: BTreeMap<Box<str>, BTreeSet<K>>,
    by_deadline: BTreeSet<(Instant, K)>,
    max_per_topic: usize,
    max_total: usize,
    /// What the parked requests hold, as [`Parking::cost`] estimates it.
    held: usize,
}

/// [`Parking::cost`] of a request waiting on `topics`.
fn cost_of<'a>(topics: impl Iterator<Item = &'a str>) -> usize {
    topics.fold(PARKED_BYTES, |sum, topic| {
        sum + 2 * topic.len() + CURSOR_BYTES
    })
}

/// Estimated bytes of one parked request's entries besides its topics: its place in the
/// three maps and its cursor list.
const PARKED_BYTES: usize = 160;

/// Estimated bytes per topic a request waits on besides its name's two copies: the cursor, the
/// boxed name, its place in the topic's set.
const CURSOR_BYTES: usize = 96;

impl<K: Ord + Copy> Parking<K> {
    /// Empty, with the bounds of `limits`.
    pub fn new(limits: &crate::Limits) -> Self {
        Parking {
            parked: BTreeMap::new(),
            by_topic: BTreeMap::new(),
            by_deadline: BTreeSet::new(),
            max_per_topic: limits.max_parked_per_topic,
            max_total: limits.max_parked,
            held: 0,
        }
    }

    /// What parking a request on `cursors` holds, in bytes (an estimate from the sizes of
    /// its entries; each topic's name counted twice, in the request and in the topic's
    /// index): what a server counts against its memory budget.
    pub fn cost(cursors: &[(&str, u64)]) -> usize {
        cost_of(cursors.iter().map(|(topic, _)| *topic))
    }

    /// What the parked requests hold now, the sum of their [`Parking::cost`].
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    /// Parks `key` on `topic` from `cursor` until `deadline` (replacing an earlier parking of
    /// the same key).
    ///
    /// # Errors
    /// [`ParkError`] when a bound is reached; nothing is parked then.
    pub fn park(
        &mut self,
        key: K,
        topic: &str,
        cursor: u64,
        deadline: Instant,
    ) -> Result<(), ParkError> {
        self.park_many(key, &[(topic, cursor)], deadline)
    }

    /// Parks `key` on several topics, each from its cursor, until `deadline`: a publish on any
    /// of them past its cursor wakes it.
    ///
    /// # Errors
    /// [`ParkError`] when a bound is reached on any of them; nothing is parked then.
    pub fn park_many(
        &mut self,
        key: K,
        cursors: &[(&str, u64)],
        deadline: Instant,
    ) -> Result<(), ParkError> {
        self.unpark(key);
        if self.parked.len() >= self.max_total {
            return Err(ParkError::Full);
        }
        for (topic, _) in cursors {
            if self.by_topic.get(*topic).map_or(0, BTreeSet::len) >= self.max_per_topic {
                return Err(ParkError::TopicFull);
            }
        }
        for (topic, _) in cursors {
            self.by_topic
                .entry((*topic).into())
                .or_default()
                .insert(key);
        }
        self.by_deadline.insert((deadline, key));
        self.held += Self::cost(cursors);
        let cursors = cursors.iter().map(|&(t, c)| (t.into(), c)).collect();
        self.parked.insert(key, Parked { cursors, deadline });
        Ok(())
    }

    /// What `key` is parked with, if it is.
    pub fn get(&self, key: K) -> Option<&Parked> {
        self.parked.get(&key)
    }

    /// Removes `key` (its client disconnected, or it was answered another way).
    pub fn unpark(&mut self, key: K) -> Option<Parked> {
        let p = self.parked.remove(&key)?;
        self.by_deadline.remove(&(p.deadline, key));
        self.held = self
            .held
            .checked_sub(cost_of(p.cursors.iter().map(|(topic, _)| &**topic)))
            .expect("a parked request's cost was added when it parked");
        for (topic, _) in &p.cursors {
            if let Some(set) = self.by_topic.get_mut(topic) {
                set.remove(&key);
                if set.is_empty() {
                    self.by_topic.remove(topic);
                }
            }
        }
        Some(p)
    }

    /// A publish on `topic` with last sequence number `last_seq`: unparks and returns every
    /// request on it whose cursor there is behind, to be answered now.
    pub fn wake(&mut self, topic: &str, last_seq: u64) -> Vec<(K, Parked)> {
        let keys: Vec<K> = match self.by_topic.get(topic) {
            Some(set) => set.iter().copied().collect(),
            None => return Vec::new(),
        };
        let mut woken = Vec::new();
        for key in keys {
            let behind = self
                .parked
                .get(&key)
                .and_then(|p| p.cursor(topic))
                .is_some_and(|c| c < last_seq);
            if behind {
                if let Some(p) = self.unpark(key) {
                    woken.push((key, p));
                }
            }
        }
        woken
    }

    /// Unparks and returns the requests whose deadline is at or before `now`, to be answered
    /// with no events.
    pub fn expire(&mut self, now: Instant) -> Vec<(K, Parked)> {
        let mut expired = Vec::new();
        while let Some(&(deadline, key)) = self.by_deadline.first() {
            if deadline > now {
                break;
            }
            match self.unpark(key) {
                Some(parked) => expired.push((key, parked)),
                // Not parked any more: a stale deadline entry.
                None => {
                    self.by_deadline.remove(&(deadline, key));
                }
            }
        }
        expired
    }

    /// The earliest deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.by_deadline.first().map(|(d, _)| *d)
    }

    /// The topics requests wait on.
    pub fn topics(&self) -> impl Iterator<Item = &str> {
        self.by_topic.keys().map(|t| &**t)
    }

    /// Whether `key` is parked.
    pub fn is_parked(&self, key: K) -> bool {
        self.parked.contains_key(&key)
    }

    /// The number parked.
    pub fn len(&self) -> usize {
        self.parked.len()
    }

    /// Whether none are parked.
    pub fn is_empty(&self) -> bool {
        self.parked.is_empty()
    }
}
