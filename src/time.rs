//! Time as the caller sees it.
//!
//! Nothing below the reactor reads a clock. Every machine takes `now` as an argument and answers
//! deadlines as absolute [`Instant`]s, so tests run in virtual time and a driver on any platform
//! (an RTOS tick counter, `std::time::Instant`, a simulation) can supply it.

use core::cmp::Ordering;
use core::fmt;
use core::num::NonZeroU64;
use core::time::Duration;

/// A point on a monotonic clock, in microseconds since an origin the caller chooses.
///
/// Only differences between two `Instant`s from the same clock mean anything. The reactor builds
/// them from `std::time::Instant` measured against its start; tests build them with
/// [`Instant::from_micros`]. The clock ends at [`Instant::END`], 2^64 − 2 µs (half a million
/// years) after its origin.
///
/// Eight bytes, and so is an `Option<Instant>` (the microseconds are kept inverted in a
/// non-zero integer): every connection keeps a few optional deadlines.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Instant(NonZeroU64);

impl Instant {
    /// The origin of the clock.
    pub const ZERO: Instant = Instant::from_micros(0);

    /// The far end of the clock: a deadline there is never reached.
    pub const END: Instant = Instant::from_micros(u64::MAX - 1);

    /// The instant `micros` microseconds after the origin (at most [`Instant::END`]).
    pub const fn from_micros(micros: u64) -> Self {
        match NonZeroU64::new(!micros) {
            Some(inverted) => Instant(inverted),
            None => Instant(NonZeroU64::MIN),
        }
    }

    /// Microseconds since the origin.
    pub const fn as_micros(self) -> u64 {
        !self.0.get()
    }

    /// `self + duration`, saturating at the far end of the clock instead of wrapping.
    pub fn saturating_add(self, duration: Duration) -> Self {
        Instant::from_micros(self.as_micros().saturating_add(duration_micros(duration)))
    }

    /// How long after `earlier` this instant is; zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.as_micros().saturating_sub(earlier.as_micros()))
    }
}

impl Default for Instant {
    fn default() -> Self {
        Instant::ZERO
    }
}

impl Ord for Instant {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_micros().cmp(&other.as_micros())
    }
}

impl PartialOrd for Instant {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Instant").field(&self.as_micros()).finish()
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
        let t = Instant::from_micros(u64::MAX - 10) + Duration::from_secs(1);
        assert_eq!(t, Instant::END);
        assert_eq!(Instant::from_micros(u64::MAX), Instant::END);
        assert_eq!(Instant::END.as_micros(), u64::MAX - 1);
    }

    #[test]
    fn instants_order_by_time_and_an_optional_one_is_eight_bytes() {
        let times = [0, 1, 2, 1 << 32, u64::MAX - 2, u64::MAX - 1];
        for pair in times.windows(2) {
            let (a, b) = (Instant::from_micros(pair[0]), Instant::from_micros(pair[1]));
            assert!(a < b, "{a:?} < {b:?}");
            assert_eq!(a.as_micros(), pair[0]);
        }
        assert_eq!(Instant::default(), Instant::ZERO);
        assert_eq!(core::mem::size_of::<Option<Instant>>(), 8);
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
