//! Where unpredictable bytes come from: WebSocket client masking keys and handshake nonces.
//!
//! RFC 6455 §5.3 asks a client to pick every masking key "from a strong source of entropy", so
//! that a script choosing a payload cannot predict the bytes that go on the wire (an attack on
//! proxies that cache by what they read, §10.3); §4.1 asks the same of the handshake nonce. The
//! sans-IO machines read no operating-system source themselves: the caller hands them an
//! [`Entropy`].
//!
//! - With `std`, [`OsEntropy`] draws from the operating system (`getrandom`), a block at a time.
//! - An embedder without an operating system provides its own: a hardware random number
//!   generator, or a cryptographically secure generator seeded from one. A closure
//!   `FnMut(&mut [u8])` is an `Entropy`. Do not use a counter, a clock or a generator whose
//!   state can be computed from its output (xorshift, an LCG): an observer of a few masked
//!   frames could then predict every later key.

/// A source of unpredictable bytes.
pub trait Entropy {
    /// Fills `dest` with bytes nobody can predict.
    fn fill(&mut self, dest: &mut [u8]);
}

impl<F: FnMut(&mut [u8])> Entropy for F {
    fn fill(&mut self, dest: &mut [u8]) {
        self(dest);
    }
}

/// The operating system's random source (`getrandom(2)` on Linux), through a per-thread block
/// of 256 bytes, so a client masking many small frames makes one system call per 64 keys.
/// A zero-sized value: boxing it allocates nothing.
///
/// # Panics
/// [`Entropy::fill`] panics if the operating system has no random source to give, which
/// leaves nothing safe to mask with.
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug, Default)]
pub struct OsEntropy;

#[cfg(feature = "std")]
impl Entropy for OsEntropy {
    fn fill(&mut self, dest: &mut [u8]) {
        use std::cell::RefCell;
        const BLOCK: usize = 256;
        std::thread_local! {
            /// Random bytes not handed out yet, and how many of them are used.
            static POOL: RefCell<([u8; BLOCK], usize)> = const { RefCell::new(([0; BLOCK], BLOCK)) };
        }
        if dest.len() > BLOCK / 4 {
            // Large requests go straight to the source.
            getrandom::fill(dest).expect("the operating system's random source failed");
            return;
        }
        POOL.with_borrow_mut(|(block, used)| {
            for byte in dest.iter_mut() {
                if *used == BLOCK {
                    getrandom::fill(block).expect("the operating system's random source failed");
                    *used = 0;
                }
                *byte = block[*used];
                // The byte is handed out once: wipe it so the pool never holds a used key.
                block[*used] = 0;
                *used += 1;
            }
        });
    }
}

/// A reproducible stand-in for tests only (splitmix64): predictable by design, never for a
/// real connection.
#[cfg(test)]
pub(crate) fn seeded(mut state: u64) -> impl FnMut(&mut [u8]) + Send {
    move |dest: &mut [u8]| {
        for chunk in dest.chunks_mut(8) {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            let bytes = z.to_le_bytes();
            chunk.copy_from_slice(bytes.get(..chunk.len()).expect("chunks of at most 8 bytes"));
        }
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn os_entropy_gives_different_blocks() {
        let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
        OsEntropy.fill(&mut a);
        OsEntropy.fill(&mut b);
        // Two 128-bit draws agree with probability 2^-128; all zero is what an unfilled
        // buffer would be.
        assert_ne!(a, b);
        assert_ne!(a, [0; 16]);
        let mut big = [0u8; 1000];
        OsEntropy.fill(&mut big);
        assert!(big.iter().filter(|&&x| x == 0).count() < 30);
    }

    #[test]
    fn a_closure_is_a_source() {
        let mut n = 0u8;
        let mut counter = |dest: &mut [u8]| {
            for b in dest {
                n = n.wrapping_add(1);
                *b = n;
            }
        };
        let mut key = [0u8; 4];
        counter.fill(&mut key);
        assert_eq!(key, [1, 2, 3, 4]);
    }
}
