//! Time as the caller sees it.
//!
//! Nothing below the reactor reads a clock. Every machine takes `now` as an argument and answers
//! deadlines as absolute [`Instant`]s, so tests run in virtual time and a driver on any platform
//! (an RTOS tick counter, `std::time::Instant`, a simulation) can supply it.

use core::time::Duration;

/// A point on a monotonic clock, in microseconds since an origin the caller chooses.
///
/// Only differences between two `Instant`s from the same clock mean anything. The reactor builds
/// them from `std::time::Instant` measured against its start; tests build them with
/// [`Instant::from_micros`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The origin of the clock.
    pub const ZERO: Instant = Instant(0);

    /// The instant `micros` microseconds after the origin.
    pub const fn from_micros(micros: u64) -> Self {
        Instant(micros)
    }

    /// Microseconds since the origin.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// `self + duration`, saturating at the far end of the clock instead of wrapping.
    pub fn saturating_add(self, duration: Duration) -> Self {
        Instant(self.0.saturating_add(duration_micros(duration)))
    }

    /// How long after `earlier` this instant is; zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl core::ops::Add<Duration> for Instant {
    type Output = Instant;

    /// Saturating: a deadline that far away is never reached, which is what a caller means.
    fn add(self, rhs: Duration) -> Instant {
        self.saturating_add(rhs)
    }
}

/// A duration in whole microseconds, saturating at `u64::MAX`.
fn duration_micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// The earlier of two optional deadlines; `None` means "no deadline".
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_add_far_future_saturates() {
        let t = Instant::from_micros(u64::MAX - 1) + Duration::from_secs(1);
        assert_eq!(t.as_micros(), u64::MAX);
    }

    #[test]
    fn instant_since_later_is_zero() {
        let a = Instant::from_micros(10);
        let b = Instant::from_micros(5);
        assert_eq!(b.saturating_duration_since(a), Duration::ZERO);
        assert_eq!(a.saturating_duration_since(b), Duration::from_micros(5));
    }

    #[test]
    fn earliest_ignores_missing_deadlines() {
        let a = Some(Instant::from_micros(3));
        let b = Some(Instant::from_micros(7));
        assert_eq!(earliest(a, b), a);
        assert_eq!(earliest(None, b), b);
        assert_eq!(earliest(a, None), a);
        assert_eq!(earliest(None, None), None);
    }
}
