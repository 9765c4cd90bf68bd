//! Who follows which topic, and how far each has read.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;

/// Subscriber sets for fan-out: each subscriber `S` follows one topic with a cursor.
#[derive(Clone, Debug)]
pub struct Subscribers<S: Ord + Copy> {
    by_topic: BTreeMap<Arc<str>, BTreeMap<S, u64>>,
    /// Each subscriber's topic, sharing the name with `by_topic` (no allocation per
    /// subscriber).
    topic_of: BTreeMap<S, Arc<str>>,
}

impl<S: Ord + Copy> Default for Subscribers<S> {
    fn default() -> Self {
        Subscribers {
            by_topic: BTreeMap::new(),
            topic_of: BTreeMap::new(),
        }
    }
}

impl<S: Ord + Copy> Subscribers<S> {
    /// `id` follows `topic` from `cursor` (replacing any earlier subscription of `id`).
    pub fn subscribe(&mut self, id: S, topic: &str, cursor: u64) {
        self.unsubscribe(id);
        self.by_topic
            .entry(topic.into())
            .or_default()
            .insert(id, cursor);
        self.topic_of.insert(id, topic.into());
    }

    /// `id` stops following; returns its cursor.
    pub fn unsubscribe(&mut self, id: S) -> Option<u64> {
        let topic = self.topic_of.remove(&id)?;
        let set = self.by_topic.get_mut(&topic)?;
        let cursor = set.remove(&id);
        if set.is_empty() {
            self.by_topic.remove(&topic);
        }
        cursor
    }

    /// The topic `id` follows.
    pub fn topic(&self, id: S) -> Option<&str> {
        self.topic_of.get(&id).map(|t| &**t)
    }

    /// `id`'s cursor.
    pub fn cursor(&self, id: S) -> Option<u64> {
        let topic = self.topic_of.get(&id)?;
        self.by_topic.get(topic)?.get(&id).copied()
    }

    /// Moves `id`'s cursor forward (never back).
    pub fn advance(&mut self, id: S, cursor: u64) {
        if let Some(topic) = self.topic_of.get(&id) {
            if let Some(c) = self.by_topic.get_mut(topic).and_then(|s| s.get_mut(&id)) {
                *c = (*c).max(cursor);
            }
        }
    }

    /// The subscribers of `topic` with their cursors.
    pub fn of_topic(&self, topic: &str) -> impl Iterator<Item = (S, u64)> + '_ {
        self.by_topic
            .get(topic)
            .into_iter()
            .flat_map(|s| s.iter().map(|(&id, &c)| (id, c)))
    }

    /// The topics with at least one subscriber.
    pub fn topics(&self) -> impl Iterator<Item = &str> + '_ {
        self.by_topic.keys().map(|t| &**t)
    }

    /// Number of subscribers.
    pub fn len(&self) -> usize {
        self.topic_of.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.topic_of.is_empty()
    }
}
