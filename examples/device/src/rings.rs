//! The network link of the device builds: what a server needs from the network stack — one
//! TCP connection and a clock — and a stand-in for a driver, a receive ring and a transmit
//! ring in RAM (read and written volatile, so that the whole server stays in the image). The
//! pushwire firmware and the embedded peers' firmwares (`peers/`) include this same file.

use core::ptr::{addr_of_mut, read_volatile, write_volatile};

/// What the server needs from the network stack: one TCP connection and a clock.
pub trait Link {
    /// Bytes received into `buf`; `None` once the peer has closed.
    fn recv(&mut self, buf: &mut [u8]) -> Option<usize>;
    /// Queues `bytes` for sending.
    fn send(&mut self, bytes: &[u8]);
    /// The time now, in microseconds since start.
    fn micros(&self) -> u64;
}

const RING: usize = 2048;
static mut RX: [u8; RING] = [0; RING];
static mut RX_LEN: usize = 0;
static mut TX: [u8; RING] = [0; RING];
static mut TICKS: u64 = 0;

/// The driver's rings (a stand-in for a real one).
pub struct Rings;

impl Link for Rings {
    fn recv(&mut self, buf: &mut [u8]) -> Option<usize> {
        // SAFETY: single-threaded firmware; the "driver" writes these between calls.
        let len = unsafe { read_volatile(addr_of_mut!(RX_LEN)) };
        if len == usize::MAX {
            return None;
        }
        let n = len.min(RING).min(buf.len());
        for (i, b) in buf.iter_mut().take(n).enumerate() {
            // SAFETY: `i < n <= RING`.
            *b = unsafe { read_volatile(addr_of_mut!(RX).cast::<u8>().add(i)) };
        }
        Some(n)
    }

    fn send(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(RING) {
            for (i, b) in chunk.iter().enumerate() {
                // SAFETY: `i < RING`.
                unsafe { write_volatile(addr_of_mut!(TX).cast::<u8>().add(i), *b) };
            }
        }
    }

    fn micros(&self) -> u64 {
        // SAFETY: a timer interrupt would advance it.
        unsafe { read_volatile(addr_of_mut!(TICKS)) }
    }
}
