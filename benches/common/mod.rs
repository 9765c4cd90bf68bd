//! Shared by the benchmarks.

use std::time::{Duration, Instant};

/// Nanoseconds per call of `f`: best of five rounds of ~200 ms.
pub fn measure(mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let mut iters = 1u64;
        loop {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            let elapsed = start.elapsed();
            if elapsed > Duration::from_millis(200) {
                best = best.min(elapsed.as_nanos() as f64 / iters as f64);
                break;
            }
            iters *= 2;
        }
    }
    best
}
