//! System calls on connection sockets, counted by each worker on its own cache line, and
//! summed when asked ([`super::Handle::io_stats`]): what a server spends per message.

use std::sync::atomic::{AtomicU64, Ordering};

/// One worker's counters.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(crate) struct IoCounters {
    reads: AtomicU64,
    empty_reads: AtomicU64,
    writes: AtomicU64,
}

impl IoCounters {
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
}

/// System calls on connection sockets since the server started, over all workers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IoStats {
    /// `read` calls.
    pub reads: u64,
    /// Of those, the ones that found nothing (`WouldBlock`): the cost of asking once too often.
    pub reads_would_block: u64,
    /// `write` and `writev` calls.
    pub writes: u64,
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
    pub(crate) fn sum<'a>(workers: impl IntoIterator<Item = &'a IoCounters>) -> IoStats {
        let mut total = IoStats::default();
        for w in workers {
            total.reads += w.reads.load(Ordering::Relaxed);
            total.reads_would_block += w.empty_reads.load(Ordering::Relaxed);
            total.writes += w.writes.load(Ordering::Relaxed);
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
    }
}
