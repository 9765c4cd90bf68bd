//! Where the reactor's workers read the time. The system clock by default; a [`ManualClock`]
//! lets a test move time itself, so that timeouts of seconds or minutes are tested in no time
//! and without sleeping (the sans-IO machines take time as an argument; this is how the reactor
//! gets it).

use crate::time::Instant;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of time for the reactor.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Monotonic time.
    fn now(&self) -> Instant;
    /// Seconds since the Unix epoch (for the `Date` field).
    fn unix_secs(&self) -> u64;
    /// How long a worker may block waiting for I/O when its next deadline is `deadline` (at
    /// `now`): `None` blocks until I/O or a wake-up.
    fn wait(&self, now: Instant, deadline: Option<Instant>) -> Option<Duration>;
}

/// The operating system's clocks (the default).
#[derive(Debug)]
pub struct SystemClock {
    start: std::time::Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock {
            start: std::time::Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as u64)
    }

    fn unix_secs(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    fn wait(&self, now: Instant, deadline: Option<Instant>) -> Option<Duration> {
        deadline.map(|t| {
            // Round up to whole milliseconds so an almost-due timer does not spin.
            let ms = t.saturating_duration_since(now).as_micros().div_ceil(1000);
            Duration::from_millis(ms as u64)
        })
    }
}

/// Time that moves only when told to ([`ManualClock::advance`]), for tests. After moving it,
/// wake the workers ([`super::Handle::wake`]) so they act on what became due.
#[derive(Debug, Default)]
pub struct ManualClock {
    micros: AtomicU64,
}

impl ManualClock {
    /// A clock at `Instant::ZERO` (the Unix time it reports is 2026-01-01 plus that).
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_micros()).unwrap_or(u64::MAX);
        self.micros.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        Instant::from_micros(self.micros.load(Ordering::SeqCst))
    }

    fn unix_secs(&self) -> u64 {
        1_767_225_600 + self.micros.load(Ordering::SeqCst) / 1_000_000
    }

    fn wait(&self, now: Instant, deadline: Option<Instant>) -> Option<Duration> {
        // Due now: look again at once; later: only when someone moves time and wakes us.
        match deadline {
            Some(t) if t <= now => Some(Duration::ZERO),
            _ => None,
        }
    }
}
