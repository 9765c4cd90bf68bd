//! Who follows which topics, and how far each has read in each.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// The topics one subscriber follows: nearly always one, so that is kept without a `Vec`.
#[derive(Clone, Debug)]
enum Follows {
    One(Arc<str>),
    Many(Vec<Arc<str>>),
}

impl Follows {
    fn as_slice(&self) -> &[Arc<str>] {
        match self {
            Follows::One(topic) => core::slice::from_ref(topic),
            Follows::Many(topics) => topics,
        }
    }
}

/// Subscriber sets for fan-out: each subscriber `S` follows one or more topics, with a cursor
/// in each.
#[derive(Clone, Debug)]
pub struct Subscribers<S: Ord + Copy> {
    by_topic: BTreeMap<Arc<str>, BTreeMap<S, u64>>,
    /// Each subscriber's topics, sharing the names with `by_topic` (no allocation per
    /// subscriber of a topic that exists).
    follows: BTreeMap<S, Follows>,
}

impl<S: Ord + Copy> Default for Subscribers<S> {
    fn default() -> Self {
        Subscribers {
            by_topic: BTreeMap::new(),
            follows: BTreeMap::new(),
        }
    }
}

impl<S: Ord + Copy> Subscribers<S> {
    /// `id` follows `topic` from `cursor` (besides what it follows already; a topic it follows
    /// gets the new cursor).
    pub fn subscribe(&mut self, id: S, topic: &str, cursor: u64) {
        let name: Arc<str> = match self.by_topic.get_key_value(topic) {
            Some((name, _)) => name.clone(),
            None => topic.into(),
        };
        self.by_topic
            .entry(name.clone())
            .or_default()
            .insert(id, cursor);
        match self.follows.get_mut(&id) {
            None => {
                self.follows.insert(id, Follows::One(name));
            }
            Some(follows) if follows.as_slice().iter().any(|t| **t == *topic) => {}
            Some(Follows::One(first)) => {
                let first = first.clone();
                self.follows
                    .insert(id, Follows::Many(alloc::vec![first, name]));
            }
            Some(Follows::Many(topics)) => topics.push(name),
        }
    }

    /// `id` stops following `topic`; its cursor there.
    pub fn unsubscribe_topic(&mut self, id: S, topic: &str) -> Option<u64> {
        let cursor = self.remove_from(topic, id)?;
        let follows = self.follows.get_mut(&id)?;
        match follows {
            Follows::One(_) => {
                self.follows.remove(&id);
            }
            Follows::Many(topics) => {
                topics.retain(|t| **t != *topic);
                if let [only] = topics.as_slice() {
                    *follows = Follows::One(only.clone());
                }
            }
        }
        Some(cursor)
    }

    /// `id` stops following everything; whether it followed anything.
    pub fn unsubscribe(&mut self, id: S) -> bool {
        let Some(follows) = self.follows.remove(&id) else {
            return false;
        };
        for topic in follows.as_slice() {
            self.remove_from(topic, id);
        }
        true
    }

    fn remove_from(&mut self, topic: &str, id: S) -> Option<u64> {
        let set = self.by_topic.get_mut(topic)?;
        let cursor = set.remove(&id);
        if set.is_empty() {
            self.by_topic.remove(topic);
        }
        cursor
    }

    /// Whether `id` follows anything.
    pub fn follows(&self, id: S) -> bool {
        self.follows.contains_key(&id)
    }

    /// The topics `id` follows, in the order it subscribed.
    pub fn topics_of(&self, id: S) -> impl Iterator<Item = &str> + '_ {
        self.follows
            .get(&id)
            .map_or(&[][..], Follows::as_slice)
            .iter()
            .map(|t| &**t)
    }

    /// How many topics `id` follows.
    pub fn count_of(&self, id: S) -> usize {
        self.follows.get(&id).map_or(0, |f| f.as_slice().len())
    }

    /// `id`'s cursor in `topic`.
    pub fn cursor(&self, id: S, topic: &str) -> Option<u64> {
        self.by_topic.get(topic)?.get(&id).copied()
    }

    /// `id`'s cursors, topic by topic in the order it subscribed.
    pub fn cursors(&self, id: S) -> Vec<(&str, u64)> {
        self.topics_of(id)
            .filter_map(|t| Some((t, self.cursor(id, t)?)))
            .collect()
    }

    /// Moves `id`'s cursor in `topic` forward (never back).
    pub fn advance(&mut self, id: S, topic: &str, cursor: u64) {
        if let Some(c) = self.by_topic.get_mut(topic).and_then(|s| s.get_mut(&id)) {
            *c = (*c).max(cursor);
        }
    }

    /// Sets `id`'s cursor in `topic` (a follower that asked for "from now" learns where now
    /// is).
    pub fn set(&mut self, id: S, topic: &str, cursor: u64) {
        if let Some(c) = self.by_topic.get_mut(topic).and_then(|s| s.get_mut(&id)) {
            *c = cursor;
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

    /// Every subscriber.
    pub fn ids(&self) -> impl Iterator<Item = S> + '_ {
        self.follows.keys().copied()
    }

    /// Number of subscribers.
    pub fn len(&self) -> usize {
        self.follows.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.follows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn a_subscriber_follows_several_topics_with_a_cursor_in_each() {
        let mut s: Subscribers<u8> = Subscribers::default();
        s.subscribe(1, "a", 5);
        s.subscribe(1, "b", 7);
        s.subscribe(2, "a", 3);
        s.subscribe(1, "a", 6);
        assert_eq!(s.topics_of(1).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(s.cursors(1), vec![("a", 6), ("b", 7)]);
        assert_eq!(s.of_topic("a").collect::<Vec<_>>(), [(1, 6), (2, 3)]);
        s.advance(1, "b", 4);
        assert_eq!(s.cursor(1, "b"), Some(7), "never back");
        s.advance(1, "b", 9);
        assert_eq!(s.cursor(1, "b"), Some(9));
        assert_eq!(s.unsubscribe_topic(1, "a"), Some(6));
        assert_eq!(s.topics_of(1).collect::<Vec<_>>(), ["b"]);
        assert_eq!(s.of_topic("a").collect::<Vec<_>>(), [(2, 3)]);
        assert!(s.unsubscribe(1));
        assert!(!s.unsubscribe(1));
        assert!(!s.follows(1));
        assert_eq!(s.topics().collect::<Vec<_>>(), ["a"]);
        assert_eq!(s.len(), 1);
        assert_eq!(s.unsubscribe_topic(2, "a"), Some(3));
        assert!(s.is_empty() && s.topics().next().is_none());
    }
}
