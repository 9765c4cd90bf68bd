//! One memory budget for what a server holds on behalf of its clients
//! (`Limits::memory_budget`): the output its connections have not taken, the buffers large
//! WebSocket frames are being read into and messages assembled in, and the compression state
//! WebSockets keep between messages (each worker counts its own, on its own cache line),
//! and what the application reports it holds for them (the hub server's history). Read with
//! [`Handle::memory`](super::Handle::memory).
//!
//! Under pressure, in this order: the application makes room in what it holds (the hub server
//! evicts the oldest history of all topics); what is in flight — write queues and frames being
//! read — may take half the budget, and past that a connection that already has output waiting
//! is refused more (`SendError::Full`: the hub server closes a WebSocket with `1013` and where
//! to resume, ends an event stream), a frame or message still arriving — or compression state
//! newly kept — is refused (close `1013`, its memory freed), and a new WebSocket is not agreed
//! compression; an event that cannot fit even so is refused (`507`); and while more is
//! counted than the budget, a new connection is answered `503` with `Retry-After` and closed.

use super::io_stats::IoCounters;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The budget and what counts against it, shared by the workers.
#[derive(Debug)]
pub struct Memory {
    budget: usize,
    /// Each worker's counters, whose `queued` are the write queues.
    workers: Vec<Arc<IoCounters>>,
    /// What the application holds for its clients ([`Memory::set_held`]).
    held: AtomicUsize,
}

/// What counts against the budget now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryUse {
    /// `Limits::memory_budget`.
    pub budget: usize,
    /// Output written by the application and not yet taken by the sockets.
    pub queues: usize,
    /// Buffers large WebSocket frames are being read into, WebSocket messages being
    /// assembled from their fragments, and the compression state (permessage-deflate) that
    /// WebSockets keep between messages.
    pub frames: usize,
    /// What the application reports it holds (the hub server's history).
    pub held: usize,
}

impl MemoryUse {
    /// Everything counted.
    pub fn used(&self) -> usize {
        self.in_flight().saturating_add(self.held)
    }

    /// What is in flight: write queues and frames being read.
    pub fn in_flight(&self) -> usize {
        self.queues.saturating_add(self.frames)
    }
}

impl Memory {
    pub(crate) fn new(budget: usize, workers: Vec<Arc<IoCounters>>) -> Self {
        Memory {
            budget,
            workers,
            held: AtomicUsize::new(0),
        }
    }

    /// The budget and what counts against it.
    pub fn usage(&self) -> MemoryUse {
        MemoryUse {
            budget: self.budget,
            queues: self.workers.iter().map(|w| w.queued()).sum(),
            frames: self
                .workers
                .iter()
                .map(|w| w.gathering() + w.assembling())
                .sum(),
            held: self.held.load(Ordering::Relaxed),
        }
    }

    /// Whether more is counted than the budget allows.
    pub fn is_over(&self) -> bool {
        self.usage().used() > self.budget
    }

    /// Whether what is in flight (write queues, frames being read) takes more than its share,
    /// half the budget: consumers that are behind are then given no more, and frames still
    /// arriving are refused.
    pub fn queues_over(&self) -> bool {
        self.usage().in_flight() > self.budget / 2
    }

    /// What more may be in flight before it passes its share, half the budget.
    pub fn room_in_flight(&self) -> usize {
        (self.budget / 2).saturating_sub(self.usage().in_flight())
    }

    /// What the application may hold now: the budget less what is in flight.
    pub fn room_for_held(&self) -> usize {
        self.budget.saturating_sub(self.usage().in_flight())
    }

    /// Reports what the application holds on behalf of its clients.
    pub fn set_held(&self, bytes: usize) {
        self.held.store(bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_and_what_the_application_holds_count_against_one_budget() {
        let workers: Vec<Arc<IoCounters>> = (0..2).map(|_| Arc::default()).collect();
        let memory = Memory::new(1000, workers.clone());
        workers[0].queue(0, 300);
        workers[1].queue(0, 200);
        memory.set_held(400);
        let usage = memory.usage();
        assert_eq!((usage.queues, usage.held, usage.used()), (500, 400, 900));
        assert!(!memory.is_over());
        assert_eq!(memory.room_for_held(), 500);
        assert!(!memory.queues_over());
        workers[1].queue(200, 350);
        assert!(memory.is_over());
        assert!(memory.queues_over(), "650 queued of a 1000 budget");
        workers[1].queue(350, 0);
        workers[0].queue(300, 0);
        assert_eq!(memory.usage().queues, 0);
        // Frames being read count with the queues.
        workers[0].gather(0, 450);
        assert_eq!(memory.usage().frames, 450);
        assert_eq!(memory.room_for_held(), 550);
        assert!(!memory.queues_over());
        workers[1].gather(0, 100);
        assert!(memory.queues_over(), "550 in flight of a 1000 budget");
        workers[1].gather(100, 0);
        workers[0].gather(450, 0);
        assert_eq!(memory.usage().in_flight(), 0);
    }
}
