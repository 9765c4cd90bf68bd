//! Who follows which topics, and how far each has read in each.

use crate::hub::Arc;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::borrow::Borrow;
use core::cmp::Ordering;

/// A topic's name as the subscribers of it share it: one thin pointer (eight bytes, where an
/// `Arc<str>` is sixteen), as every subscriber keeps one.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Name(Arc<Box<str>>);

impl Name {
    fn new(topic: &str) -> Self {
        Name(Arc::new(topic.into()))
    }

    fn as_str(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Subscriber sets for fan-out: each subscriber `S` follows one or more topics, with a cursor
/// in each.
///
/// A subscriber of one topic (nearly every one) costs an entry in that topic's set (its
/// cursor) and one in `first` (the topic's name, shared); one of several topics also has its
/// list in `many`.
#[derive(Clone, Debug)]
pub struct Subscribers<S: Ord + Copy> {
    by_topic: BTreeMap<Name, BTreeMap<S, u64>>,
    /// Each subscriber's first topic.
    first: BTreeMap<S, Name>,
    /// The topics of each subscriber that follows more than one, in the order it subscribed.
    many: BTreeMap<S, Vec<Name>>,
}

impl<S: Ord + Copy> Default for Subscribers<S> {
    fn default() -> Self {
        Subscribers {
            by_topic: BTreeMap::new(),
            first: BTreeMap::new(),
            many: BTreeMap::new(),
        }
    }
}

impl<S: Ord + Copy> Subscribers<S> {
    /// `id` follows `topic` from `cursor` (besides what it follows already; a topic it follows
    /// gets the new cursor).
    pub fn subscribe(&mut self, id: S, topic: &str, cursor: u64) {
        let name = match self.by_topic.get_key_value(topic) {
            Some((name, _)) => name.clone(),
            None => Name::new(topic),
        };
        self.by_topic
            .entry(name.clone())
            .or_default()
            .insert(id, cursor);
        if self.names(id).iter().any(|t| t.as_str() == topic) {
            return;
        }
        match self.first.get(&id) {
            None => {
                self.first.insert(id, name);
            }
            Some(first) => {
                let first = first.clone();
                self.many
                    .entry(id)
                    .or_insert_with(|| alloc::vec![first])
                    .push(name);
            }
        }
    }

    /// The names of `id`'s topics, in the order it subscribed.
    fn names(&self, id: S) -> &[Name] {
        match self.many.get(&id) {
            Some(all) => all,
            None => self.first.get(&id).map_or(&[], core::slice::from_ref),
        }
    }

    /// `id` stops following `topic`; its cursor there.
    pub fn unsubscribe_topic(&mut self, id: S, topic: &str) -> Option<u64> {
        let cursor = self.remove_from(topic, id)?;
        match self.many.get_mut(&id) {
            None => {
                self.first.remove(&id);
            }
            Some(all) => {
                all.retain(|t| t.as_str() != topic);
                let first = all
                    .first()
                    .expect("a subscriber in `many` followed two topics or more")
                    .clone();
                if all.len() == 1 {
                    self.many.remove(&id);
                }
                self.first.insert(id, first);
            }
        }
        Some(cursor)
    }

    /// `id` stops following everything; whether it followed anything.
    pub fn unsubscribe(&mut self, id: S) -> bool {
        let Some(first) = self.first.remove(&id) else {
            return false;
        };
        match self.many.remove(&id) {
            Some(all) => all.iter().for_each(|t| {
                self.remove_from(t.as_str(), id);
            }),
            None => {
                self.remove_from(first.as_str(), id);
            }
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
        self.first.contains_key(&id)
    }

    /// The topics `id` follows, in the order it subscribed.
    pub fn topics_of(&self, id: S) -> impl Iterator<Item = &str> + '_ {
        self.names(id).iter().map(Name::as_str)
    }

    /// How many topics `id` follows.
    pub fn count_of(&self, id: S) -> usize {
        self.names(id).len()
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
        self.by_topic.keys().map(Name::as_str)
    }

    /// Every subscriber.
    pub fn ids(&self) -> impl Iterator<Item = S> + '_ {
        self.first.keys().copied()
    }

    /// Number of subscribers.
    pub fn len(&self) -> usize {
        self.first.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.first.is_empty()
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

    #[test]
    fn the_first_topic_moves_on_when_it_is_left_and_names_are_shared() {
        let mut s: Subscribers<u8> = Subscribers::default();
        s.subscribe(1, "a", 1);
        s.subscribe(1, "b", 2);
        s.subscribe(1, "c", 3);
        s.subscribe(1, "b", 4);
        assert_eq!(s.topics_of(1).collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(s.unsubscribe_topic(1, "a"), Some(1));
        assert_eq!(s.topics_of(1).collect::<Vec<_>>(), ["b", "c"]);
        assert_eq!(s.unsubscribe_topic(1, "c"), Some(3));
        assert_eq!(s.topics_of(1).collect::<Vec<_>>(), ["b"]);
        assert_eq!(s.count_of(1), 1);
        assert_eq!(s.cursor(1, "b"), Some(4));
        assert_eq!(s.unsubscribe_topic(1, "x"), None);
        assert!(s.unsubscribe(1));
        assert!(s.is_empty() && s.many.is_empty() && s.by_topic.is_empty());
        s.subscribe(2, "t", 0);
        s.subscribe(3, "t", 0);
        let (a, b) = (&s.first[&2], &s.first[&3]);
        assert!(
            Arc::ptr_eq(&a.0, &b.0),
            "one name for every subscriber of a topic"
        );
        assert_eq!(core::mem::size_of::<Name>(), 8);
    }
}
