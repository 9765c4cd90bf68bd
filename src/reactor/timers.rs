//! One timer structure per worker: a min-heap of (deadline, connection).
//!
//! Each connection has at most one live entry, its earliest deadline (`Conn::scheduled`). A
//! later deadline replaces nothing: when the early entry fires and the machine's real deadline
//! is later, the connection is simply scheduled again. Entries for closed connections or
//! superseded deadlines are skipped when they surface, so the heap holds about one entry per
//! connection however often deadlines move.

use crate::time::Instant;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
}

impl Timers {
    /// Schedules `key` at `at`.
    pub fn push(&mut self, at: Instant, key: u64) {
        self.heap.push(Reverse((at, key)));
    }

    /// The earliest entry's deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Removes and returns an entry due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, u64)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_pop_in_deadline_order_only_when_due() {
        let mut t = Timers::default();
        t.push(Instant::from_micros(30), 3);
        t.push(Instant::from_micros(10), 1);
        t.push(Instant::from_micros(20), 2);
        assert_eq!(t.next_deadline(), Some(Instant::from_micros(10)));
        assert_eq!(t.pop_due(Instant::from_micros(5)), None);
        assert_eq!(t.pop_due(Instant::from_micros(25)).map(|e| e.1), Some(1));
        assert_eq!(t.pop_due(Instant::from_micros(25)).map(|e| e.1), Some(2));
        assert_eq!(t.pop_due(Instant::from_micros(25)), None);
        assert_eq!(t.len(), 1);
    }
}
