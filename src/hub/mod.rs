//! Topics, sequence numbers and bounded history: the one cursor model every push technique
//! shares.
//!
//! Each topic has a monotonic `u64` sequence (the first event is 1) and a history ring bounded
//! by event count and by bytes. A reader names a *cursor*, the last sequence number it has
//! seen (0 for none), and [`Hub::since`] returns every event after it in order — or says
//! explicitly, with a [`Gap`], which events have fallen out of history. Nothing is ever skipped
//! silently, so a client can switch technique or reconnect and miss nothing it could still get.
//!
//! The hub speaks to no peer: it produces no wire bytes (see the crate's rule for the
//! machines that do, [crate#what-the-peer-is-owed-goes-out-with-the-input-that-owed-it]).
//!
//! Besides each topic's bounds, the whole history has a budget ([`Hub::set_budget`]): past it,
//! the oldest events of all topics go first, whatever their topic (readers get the usual
//! [`Gap`]), and an event that cannot fit even then is refused.
//!
//! A topic nobody publishes to or follows can be dropped with its history
//! ([`Hub::drop_idle`]): the hub reads no clock, so the caller calls it once per idle period and
//! reports in between which topics are followed ([`Hub::touch`]).
//!
//! [`Subscribers`] keeps, per topic, who follows it and how far each has read; the server keeps
//! one per worker, beside the shared `Hub`.

pub mod position;
pub mod redis;
mod subscribers;
#[cfg(test)]
mod tests;

pub use subscribers::Subscribers;

use alloc::collections::{BTreeMap, VecDeque};
/// How the hub shares event bytes and topic names: `Arc` where the target has atomic pointers,
/// and `Rc` on the few that have none (single-core microcontrollers such as RV32IMC), where
/// nothing is shared between threads anyway.
#[cfg(not(target_has_atomic = "ptr"))]
pub(crate) use alloc::rc::Rc as Arc;
#[cfg(target_has_atomic = "ptr")]
pub(crate) use alloc::sync::Arc;

/// One published event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Its sequence number in its topic.
    pub seq: u64,
    /// The bytes every transport carries (the server formats them once, at publish).
    pub data: Arc<[u8]>,
}

/// Events a cursor can no longer get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gap {
    /// Events `from..=to` were trimmed from history before this reader got them.
    Lost {
        /// The first missing sequence number.
        from: u64,
        /// The last missing sequence number.
        to: u64,
    },
    /// The cursor is ahead of the topic (the server restarted and numbering began again):
    /// everything in history follows.
    Reset {
        /// The cursor the reader gave.
        cursor: u64,
    },
}

/// The answer to [`Hub::since`].
#[derive(Clone, Debug)]
pub struct Since<'a> {
    /// Events the reader missed, reported before `events`.
    pub gap: Option<Gap>,
    /// The events after the cursor, in order, at most the number asked for.
    pub events: alloc::collections::vec_deque::Iter<'a, Event>,
    /// Whether more events follow the ones returned (ask again from the last one's seq).
    pub more: bool,
    /// The cursor to use next: the last sequence number returned, or the one given.
    pub next: u64,
}

/// Why a publish was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// `Limits::max_topics` topics exist already.
    #[error("too many topics")]
    TooManyTopics,
    /// A topic name over `Limits::max_topic_name_bytes`, or empty.
    #[error("invalid topic name")]
    InvalidTopic,
    /// One event larger than the whole history budget (`Limits::history_bytes`).
    #[error("event larger than the history")]
    EventTooLarge,
    /// The event does not fit in what the hub may hold in all ([`Hub::set_budget`]), even with
    /// every other event evicted.
    #[error("no memory left for the event")]
    OverBudget,
}

/// What the hub keeps per event besides its bytes: the event in its topic's history, and its
/// place in the order of publication. Counted against the budget with the bytes.
pub const EVENT_OVERHEAD: usize =
    core::mem::size_of::<Event>() + core::mem::size_of::<(Arc<str>, u64)>();

#[derive(Clone, Debug, Default)]
struct Topic {
    last_seq: u64,
    /// The number before this topic's first event: 0 when numbering starts at 1, higher when
    /// a broker numbers it (see [`Hub::insert`]). A reader that has seen nothing (cursor 0)
    /// starts here.
    base: u64,
    /// Events in increasing `seq`; numbers a broker skipped or this hub never received are
    /// holes, reported to a reader as a [`Gap::Lost`].
    history: VecDeque<Event>,
    bytes: usize,
    /// Published to, or reported followed, since the last [`Hub::drop_idle`].
    touched: bool,
}

/// Topics with their sequence numbers and history.
#[derive(Clone, Debug)]
pub struct Hub {
    topics: BTreeMap<Arc<str>, Topic>,
    /// Every event in history, in the order it was published (entries for events a topic's
    /// own bounds trimmed are skipped, and swept out when they are half of it).
    order: VecDeque<(Arc<str>, u64)>,
    /// Events in history, all topics.
    events: usize,
    /// Bytes held for history: event bytes plus [`EVENT_OVERHEAD`] each.
    held: usize,
    /// The most `held` may be ([`Hub::set_budget`]).
    budget: usize,
    /// Events evicted to stay within the budget, since the start.
    evicted: u64,
    /// Topics dropped for being idle ([`Hub::drop_idle`]), since the start.
    dropped: u64,
    /// Always empty: what `since` iterates for a topic with nothing (a `static` would need the
    /// events to be `Sync`, which they are not where the hub shares with `Rc`).
    empty: VecDeque<Event>,
    /// Numbers come from elsewhere and never restart: a cursor ahead of this hub means the
    /// hub is behind, not that the topic began again.
    shared_numbering: bool,
    max_events: usize,
    max_bytes: usize,
    max_topics: usize,
    max_name: usize,
}

impl Hub {
    /// An empty hub with the history bounds of `limits`.
    pub fn new(limits: &crate::Limits) -> Self {
        Hub {
            topics: BTreeMap::new(),
            order: VecDeque::new(),
            events: 0,
            held: 0,
            budget: usize::MAX,
            evicted: 0,
            dropped: 0,
            empty: VecDeque::new(),
            shared_numbering: false,
            max_events: limits.history_events.max(1),
            max_bytes: limits.history_bytes.max(1),
            max_topics: limits.max_topics,
            max_name: limits.max_topic_name_bytes,
        }
    }

    /// Publishes to `topic` (created on first use). `make` receives the new sequence number and
    /// returns the event's bytes (so a server can put the number inside them). Returns the
    /// sequence number.
    ///
    /// # Errors
    /// [`UsageError`] for a bad topic name, too many topics, or an event over the history
    /// budget; nothing is published then.
    pub fn publish(
        &mut self,
        topic: &str,
        make: impl FnOnce(u64) -> Arc<[u8]>,
    ) -> Result<u64, UsageError> {
        self.check_topic(topic)?;
        let seq = self.topics.get(topic).map_or(0, |t| t.last_seq) + 1;
        let data = make(seq);
        if data.len() > self.max_bytes {
            return Err(UsageError::EventTooLarge);
        }
        if data.len() + EVENT_OVERHEAD > self.budget {
            return Err(UsageError::OverBudget);
        }
        self.append(topic, Event { seq, data });
        Ok(seq)
    }

    /// Sets the most the history may hold, all topics together (event bytes plus
    /// [`EVENT_OVERHEAD`] each): the oldest events go at once if it holds more. Unbounded
    /// until set.
    pub fn set_budget(&mut self, bytes: usize) {
        self.budget = bytes;
        self.fit();
    }

    /// Bytes held for history, per the budget's count.
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    /// Events evicted to stay within the budget since the start.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Makes this hub a cache of numbers issued elsewhere (a broker every node shares), which
    /// never restart: a reader whose cursor is ahead of the hub waits for the hub to catch up
    /// instead of getting [`Gap::Reset`].
    pub fn share_numbering(&mut self) {
        self.shared_numbering = true;
    }

    /// Adds to history an event numbered elsewhere (by a broker every node shares). An event
    /// at or below the topic's last number is already known: `Ok(false)`, nothing changes.
    /// One above `last + 1` leaves a hole, which readers get as a [`Gap::Lost`].
    ///
    /// # Errors
    /// [`UsageError`] as for [`Hub::publish`].
    pub fn insert(&mut self, topic: &str, seq: u64, data: Arc<[u8]>) -> Result<bool, UsageError> {
        self.check_topic(topic)?;
        if data.len() > self.max_bytes {
            return Err(UsageError::EventTooLarge);
        }
        if seq <= self.last_seq(topic) {
            return Ok(false);
        }
        // Numbered elsewhere, it cannot be refused: the oldest events make room for it.
        self.append(topic, Event { seq, data });
        Ok(true)
    }

    /// Tells the hub where `topic`'s numbering stands elsewhere: it began after `base` (a reader
    /// with cursor 0 starts there) and has reached `last` (events up to it that this hub does
    /// not hold are holes).
    ///
    /// # Errors
    /// [`UsageError`] for a bad topic name or too many topics.
    pub fn align(&mut self, topic: &str, base: u64, last: u64) -> Result<(), UsageError> {
        self.check_topic(topic)?;
        let t = self.topic_mut(topic);
        t.touched = true;
        t.base = base;
        t.last_seq = t.last_seq.max(last).max(base);
        Ok(())
    }

    /// `topic`'s state, created empty if it is new (the caller checked the name and count).
    fn topic_mut(&mut self, topic: &str) -> &mut Topic {
        if !self.topics.contains_key(topic) {
            self.topics.insert(Arc::from(topic), Topic::default());
        }
        self.topics
            .get_mut(topic)
            .expect("the topic exists: it was just inserted if it did not")
    }

    /// Adds `event` to `topic`'s history: the topic's own bounds trim its oldest, then the
    /// budget the oldest of all topics.
    fn append(&mut self, topic: &str, event: Event) {
        let (max_events, max_bytes) = (self.max_events, self.max_bytes);
        let (seq, size) = (event.seq, event.data.len());
        let t = self.topic_mut(topic);
        t.touched = true;
        t.last_seq = seq;
        t.bytes += size;
        t.history.push_back(event);
        let mut trimmed = (0, 0);
        // Trim the oldest until both bounds hold (the newest always stays).
        while t.history.len() > max_events || t.bytes > max_bytes {
            match t.history.pop_front() {
                Some(old) => {
                    t.bytes -= old.data.len();
                    trimmed = (trimmed.0 + 1, trimmed.1 + old.data.len());
                }
                None => break,
            }
        }
        let name = self
            .topics
            .get_key_value(topic)
            .map(|(name, _)| name.clone())
            .expect("the topic was just appended to");
        self.order.push_back((name, seq));
        self.events = self.events + 1 - trimmed.0;
        self.held = self.held + size + EVENT_OVERHEAD - trimmed.1 - trimmed.0 * EVENT_OVERHEAD;
        self.fit();
        if self.order.len() > 2 * self.events + 64 {
            self.sweep();
        }
    }

    /// Evicts the oldest events, whatever their topic, until the history is within budget.
    fn fit(&mut self) {
        while self.held > self.budget {
            let Some((topic, seq)) = self.order.pop_front() else {
                break;
            };
            let Some(t) = self.topics.get_mut(&topic) else {
                continue;
            };
            // An entry for an event the topic's own bounds trimmed already: nothing to do.
            if t.history.front().is_none_or(|e| e.seq != seq) {
                continue;
            }
            let old = t.history.pop_front().expect("the front was just looked at");
            t.bytes -= old.data.len();
            self.events -= 1;
            self.held -= old.data.len() + EVENT_OVERHEAD;
            self.evicted += 1;
        }
    }

    /// Marks `topic` as in use (someone follows it): the next [`Hub::drop_idle`] keeps it. An
    /// unknown topic is ignored.
    pub fn touch(&mut self, topic: &str) {
        if let Some(t) = self.topics.get_mut(topic) {
            t.touched = true;
        }
    }

    /// Drops every topic neither published to nor touched since the previous call, with its
    /// history, and starts a new period. Called once per idle period, a topic goes between one
    /// and two periods after its last use. Returns the number of topics dropped.
    ///
    /// A reader that comes back to a dropped topic with a cursor gets [`Gap::Reset`], as after
    /// a restart: its numbering begins again (without a shared numbering).
    pub fn drop_idle(&mut self) -> usize {
        let before = self.topics.len();
        let (mut events, mut bytes) = (0, 0);
        self.topics.retain(|_, t| {
            if !core::mem::take(&mut t.touched) {
                events += t.history.len();
                bytes += t.bytes;
                return false;
            }
            true
        });
        self.events -= events;
        self.held -= bytes + events * EVENT_OVERHEAD;
        if events > 0 {
            self.sweep();
        }
        let dropped = before - self.topics.len();
        self.dropped += dropped as u64;
        dropped
    }

    /// Topics dropped for being idle since the start.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Drops the order's entries for events no longer in history.
    fn sweep(&mut self) {
        let topics = &self.topics;
        self.order.retain(|(topic, seq)| {
            topics
                .get(topic)
                .and_then(|t| t.history.front())
                .is_some_and(|first| *seq >= first.seq)
        });
    }

    fn check_topic(&self, topic: &str) -> Result<(), UsageError> {
        if topic.is_empty() || topic.len() > self.max_name {
            return Err(UsageError::InvalidTopic);
        }
        if !self.topics.contains_key(topic) && self.topics.len() >= self.max_topics {
            return Err(UsageError::TooManyTopics);
        }
        Ok(())
    }

    /// The last sequence number published to `topic` (0 if none).
    pub fn last_seq(&self, topic: &str) -> u64 {
        self.topics.get(topic).map_or(0, |t| t.last_seq)
    }

    /// Every event of `topic` after `cursor`, at most `max`, in order; with a [`Gap`] first if
    /// some of them are no longer in history.
    pub fn since(&self, topic: &str, cursor: u64, max: usize) -> Since<'_> {
        let Some(t) = self.topics.get(topic) else {
            let gap = (cursor > 0 && !self.shared_numbering).then_some(Gap::Reset { cursor });
            return Since {
                gap,
                events: self.empty.iter(),
                more: false,
                next: if self.shared_numbering { cursor } else { 0 },
            };
        };
        // A reader that has seen nothing starts where the numbering began.
        let from = if cursor == 0 { t.base } else { cursor };
        if from > t.last_seq && self.shared_numbering {
            // This hub has not heard of the reader's cursor yet: nothing new for it.
            return Since {
                gap: None,
                events: self.empty.iter(),
                more: false,
                next: cursor,
            };
        }
        if from > t.last_seq {
            return Since {
                gap: Some(Gap::Reset { cursor }),
                events: t.history.range(0..t.history.len().min(max)),
                more: t.history.len() > max,
                next: t
                    .history
                    .get(t.history.len().min(max).wrapping_sub(1))
                    .map_or(t.last_seq, |e| e.seq),
            };
        }
        let start = t.history.partition_point(|e| e.seq <= from);
        let next_seq = t.history.get(start).map_or(t.last_seq + 1, |e| e.seq);
        let gap = (next_seq > from + 1).then_some(Gap::Lost {
            from: from + 1,
            to: next_seq - 1,
        });
        // Events up to `max`, and only while the numbers follow each other: the next call
        // reports a hole as a gap.
        let mut take = 0;
        let mut expect = next_seq;
        for event in t.history.range(start..) {
            if take == max || event.seq != expect {
                break;
            }
            take += 1;
            expect += 1;
        }
        let next = match (take, gap) {
            (0, Some(Gap::Lost { to, .. })) => to,
            (0, _) => from,
            _ => expect - 1,
        };
        Since {
            gap,
            events: t.history.range(start..start + take),
            more: start + take < t.history.len(),
            next,
        }
    }

    /// The number of topics.
    pub fn topic_count(&self) -> usize {
        self.topics.len()
    }

    /// Bytes of event data held in history, over all topics.
    pub fn history_bytes(&self) -> usize {
        self.held - self.events * EVENT_OVERHEAD
    }
}
