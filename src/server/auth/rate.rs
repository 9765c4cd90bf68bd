//! Token buckets: at most `rate` actions per second on average, `burst` at once.
//!
//! Sans-IO like the machines: the caller passes the time. A bucket holds up to `burst`
//! tokens, refills at `rate` per second, and each action takes one; an empty bucket says how
//! long until the next token (the `Retry-After` of a `429`, RFC 6585 §4).

use crate::time::Instant;
use core::time::Duration;

/// A rate: `per_second` on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Tokens added per second.
    pub per_second: u32,
    /// The most tokens held.
    pub burst: u32,
}

/// One client's bucket.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    /// Tokens, in millionths (integer arithmetic: no drift).
    micros: u64,
    last: Instant,
}

const ONE: u64 = 1_000_000;

impl Bucket {
    /// A full bucket at `now`.
    pub fn full(rate: Rate, now: Instant) -> Bucket {
        Bucket {
            micros: u64::from(rate.burst) * ONE,
            last: now,
        }
    }

    /// Takes one token at `now`, or says how long until one is there.
    ///
    /// # Errors
    /// The wait until the next token, rounded up to whole seconds (at least one).
    pub fn take(&mut self, rate: Rate, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = self.last.max(now);
        let added = elapsed
            .as_micros()
            .saturating_mul(u128::from(rate.per_second));
        let cap = u64::from(rate.burst) * ONE;
        self.micros = u128::from(self.micros)
            .saturating_add(added)
            .min(u128::from(cap)) as u64;
        if self.micros >= ONE {
            self.micros -= ONE;
            return Ok(());
        }
        let missing = ONE - self.micros;
        let secs = match rate.per_second {
            0 => u64::MAX,
            r => missing.div_ceil(u64::from(r) * ONE).max(1),
        };
        Err(Duration::from_secs(secs))
    }

    /// Whether the bucket is full again at `now` (nothing to remember about this client).
    pub fn is_full(&self, rate: Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        let added = elapsed
            .as_micros()
            .saturating_mul(u128::from(rate.per_second));
        u128::from(self.micros) + added >= u128::from(rate.burst) * u128::from(ONE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let rate = Rate {
            per_second: 2,
            burst: 3,
        };
        let t0 = Instant::ZERO + Duration::from_secs(10);
        let mut bucket = Bucket::full(rate, t0);
        for _ in 0..3 {
            assert_eq!(bucket.take(rate, t0), Ok(()));
        }
        assert_eq!(bucket.take(rate, t0), Err(Duration::from_secs(1)));
        assert!(!bucket.is_full(rate, t0));
        // Half a second gives one token back at 2/s.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(bucket.take(rate, t1), Ok(()));
        assert!(bucket.take(rate, t1).is_err());
        // After long enough it is full, never fuller.
        let t2 = t1 + Duration::from_secs(60);
        assert!(bucket.is_full(rate, t2));
        for _ in 0..3 {
            assert_eq!(bucket.take(rate, t2), Ok(()));
        }
        assert!(bucket.take(rate, t2).is_err());
        // A clock read out of order does not give tokens.
        assert!(bucket.take(rate, t0).is_err());
    }

    #[test]
    fn a_zero_rate_never_refills() {
        let rate = Rate {
            per_second: 0,
            burst: 1,
        };
        let mut bucket = Bucket::full(rate, Instant::ZERO);
        assert!(bucket.take(rate, Instant::ZERO).is_ok());
        assert!(
            bucket
                .take(rate, Instant::ZERO + Duration::from_secs(1000))
                .is_err()
        );
    }
}
