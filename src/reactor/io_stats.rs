//! System calls on connection sockets and the statuses of the responses sent, counted by each
//! worker on its own cache lines, and summed when asked ([`super::Handle::io_stats`],
//! [`super::Handle::statuses`]): what a server spends per message, and what it answered.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The status codes counted one by one (RFC 9110 §15: 100–599).
const STATUSES: core::ops::Range<u16> = 100..600;

/// One worker's counters.
#[derive(Debug)]
#[repr(align(64))]
pub(crate) struct IoCounters {
    reads: AtomicU64,
    empty_reads: AtomicU64,
    writes: AtomicU64,
    /// Responses sent, by status code (index: code − 100).
    statuses: Box<[AtomicU64]>,
    /// Bytes in this worker's write queues (`super::memory`).
    queued: AtomicUsize,
    /// Bytes of the buffers large frames are being read into (`super::gather`).
    gathering: AtomicUsize,
    /// Bytes of WebSocket messages being assembled from fragments.
    assembling: AtomicUsize,
    /// The io_uring driver: bytes received into its sockets' inboxes and not yet read by
    /// their connections (counted with the frames being read).
    ring_in: AtomicUsize,
    /// The io_uring driver: bytes written into its sockets' send buffers and not yet sent
    /// (counted with the write queues).
    ring_out: AtomicUsize,
    /// The io_uring driver: connection submissions whose last completion has not arrived.
    ring_in_flight: AtomicUsize,
    /// The io_uring driver: sockets in the ring's table (open, or closing with an operation
    /// in flight).
    ring_sockets: AtomicUsize,
}

impl Default for IoCounters {
    fn default() -> Self {
        IoCounters {
            reads: AtomicU64::new(0),
            empty_reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            statuses: STATUSES.map(|_| AtomicU64::new(0)).collect(),
            queued: AtomicUsize::new(0),
            gathering: AtomicUsize::new(0),
            assembling: AtomicUsize::new(0),
            ring_in: AtomicUsize::new(0),
            ring_out: AtomicUsize::new(0),
            ring_in_flight: AtomicUsize::new(0),
            ring_sockets: AtomicUsize::new(0),
        }
    }
}

impl IoCounters {
    /// A response with `status` went out (a code outside 100–599 is not counted).
    pub fn status(&self, status: u16) {
        if let Some(c) = self
            .statuses
            .get(usize::from(status.wrapping_sub(STATUSES.start)))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A `read` on a connection; `empty` when it found nothing (`WouldBlock`).
    pub fn read(&self, empty: bool) {
        self.reads.fetch_add(1, Ordering::Relaxed);
        if empty {
            self.empty_reads.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A `write` or `writev` on a connection.
    pub fn write(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection's write queue went from `before` to `after` bytes.
    pub fn queue(&self, before: usize, after: usize) {
        adjust(&self.queued, before, after);
    }

    /// Bytes in this worker's write queues (and, on io_uring, its sockets' send buffers).
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed) + self.ring_out.load(Ordering::Relaxed)
    }

    /// A ring socket's inbox went from `before` to `after` bytes.
    #[cfg(all(feature = "uring", target_os = "linux"))]
    pub fn ring_in(&self, before: usize, after: usize) {
        adjust(&self.ring_in, before, after);
    }

    /// A ring socket's send buffer went from `before` to `after` bytes.
    #[cfg(all(feature = "uring", target_os = "linux"))]
    pub fn ring_out(&self, before: usize, after: usize) {
        adjust(&self.ring_out, before, after);
    }

    /// A buffer a large frame is read into went from `before` to `after` bytes.
    pub fn gather(&self, before: usize, after: usize) {
        adjust(&self.gathering, before, after);
    }

    /// Bytes of the buffers this worker's large frames are being read into.
    pub fn gathering(&self) -> usize {
        self.gathering.load(Ordering::Relaxed)
    }

    /// A message being assembled went from `before` to `after` bytes.
    pub fn assemble(&self, before: usize, after: usize) {
        adjust(&self.assembling, before, after);
    }

    /// The io_uring driver's figures after a loop turn.
    #[cfg(all(feature = "uring", target_os = "linux"))]
    pub fn ring(&self, in_flight: usize, sockets: usize) {
        self.ring_in_flight.store(in_flight, Ordering::Relaxed);
        self.ring_sockets.store(sockets, Ordering::Relaxed);
    }

    /// Bytes of this worker's messages being assembled (and, on io_uring, of input its
    /// sockets received that their connections have not read).
    pub fn assembling(&self) -> usize {
        self.assembling.load(Ordering::Relaxed) + self.ring_in.load(Ordering::Relaxed)
    }
}

/// Moves `counter` by the change from `before` to `after`.
fn adjust(counter: &AtomicUsize, before: usize, after: usize) {
    if after > before {
        counter.fetch_add(after - before, Ordering::Relaxed);
    } else if after < before {
        counter.fetch_sub(before - after, Ordering::Relaxed);
    }
}

/// System calls on connection sockets since the server started, over all workers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IoStats {
    /// `read` calls.
    pub reads: u64,
    /// Of those, the ones that found nothing (`WouldBlock`): the cost of asking once too often.
    pub reads_would_block: u64,
    /// `write` and `writev` calls (on the io_uring driver: writes into the socket's send
    /// buffer, several of which one send carries).
    pub writes: u64,
    /// The io_uring driver: connection operations submitted whose last completion has not
    /// arrived (receives armed, sends, cancellations); 0 on the epoll driver.
    pub ring_in_flight: u64,
    /// The io_uring driver: sockets its rings hold, those of connections closing with an
    /// operation in flight included.
    pub ring_sockets: u64,
}

impl IoStats {
    /// The counters as a JSON object, `{"reads":…,"reads_would_block":…,"writes":…}` (what
    /// the ready server's `/stats` shows as `io`).
    pub fn json(&self) -> String {
        format!(
            "{{\"reads\":{},\"reads_would_block\":{},\"writes\":{}}}",
            self.reads, self.reads_would_block, self.writes
        )
    }

    /// The sum of `workers`' counters.
    /// Responses sent by status code, over `workers`: the codes sent at least once.
    pub(crate) fn statuses<'a>(
        workers: impl IntoIterator<Item = &'a IoCounters>,
    ) -> Vec<(u16, u64)> {
        let mut total = vec![0u64; STATUSES.len()];
        for w in workers {
            for (sum, c) in total.iter_mut().zip(w.statuses.iter()) {
                *sum += c.load(Ordering::Relaxed);
            }
        }
        STATUSES.zip(total).filter(|&(_, n)| n > 0).collect()
    }

    pub(crate) fn sum<'a>(workers: impl IntoIterator<Item = &'a IoCounters>) -> IoStats {
        let mut total = IoStats::default();
        for w in workers {
            total.reads += w.reads.load(Ordering::Relaxed);
            total.reads_would_block += w.empty_reads.load(Ordering::Relaxed);
            total.writes += w.writes.load(Ordering::Relaxed);
            total.ring_in_flight += w.ring_in_flight.load(Ordering::Relaxed) as u64;
            total.ring_sockets += w.ring_sockets.load(Ordering::Relaxed) as u64;
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum_over_workers_and_read_as_json() {
        let workers = [IoCounters::default(), IoCounters::default()];
        workers[0].read(false);
        workers[0].read(true);
        workers[1].read(false);
        workers[1].write();
        let total = IoStats::sum(&workers);
        assert_eq!(
            (total.reads, total.reads_would_block, total.writes),
            (3, 1, 1)
        );
        assert_eq!(
            total.json(),
            r#"{"reads":3,"reads_would_block":1,"writes":1}"#
        );
        workers[0].status(200);
        workers[1].status(200);
        workers[1].status(503);
        workers[1].status(99);
        workers[1].status(600);
        assert_eq!(IoStats::statuses(&workers), [(200, 2), (503, 1)]);
    }
}
