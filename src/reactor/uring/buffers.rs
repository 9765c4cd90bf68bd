//! The provided-buffer ring a worker's multishot receives read into (`IORING_REGISTER_PBUF_RING`,
//! kernel 5.19): `COUNT` buffers of `SIZE` bytes the kernel picks from, one per completion, and
//! that the worker gives back as soon as it has copied what arrived.

use io_uring::IoUring;
use io_uring::types::BufRingEntry;
use std::alloc::{Layout, dealloc};
use std::io;
use std::sync::atomic::{AtomicU16, Ordering};

/// The buffer group the receives select from.
pub(super) const GROUP: u16 = 0;
/// Buffers in the ring (a power of two, as the kernel requires).
const COUNT: u16 = 128;
/// Bytes per buffer: one completion carries at most this much.
const SIZE: usize = 32 * 1024;
/// The ring's alignment: the kernel maps it, so it starts on a page.
const PAGE: usize = 4096;

/// The ring of buffer descriptors and the memory they point into, both owned here and alive as
/// long as the `IoUring` they are registered with (the owner drops that first).
pub(super) struct Buffers {
    entries: *mut BufRingEntry,
    memory: *mut u8,
    /// The next tail to publish (the kernel reads `tail` and takes from its own head).
    tail: u16,
}

impl Buffers {
    /// Allocates the ring and the buffers, registers them, and gives every buffer to the kernel.
    pub fn register(uring: &IoUring) -> io::Result<Self> {
        let entries = alloc_zeroed(ring_layout()).cast::<BufRingEntry>();
        let memory = alloc_zeroed(memory_layout());
        if entries.is_null() || memory.is_null() {
            return Err(io::Error::from(io::ErrorKind::OutOfMemory));
        }
        let mut buffers = Buffers {
            entries,
            memory,
            tail: 0,
        };
        // SAFETY: `entries` holds `COUNT` descriptors, page-aligned, and stays allocated until
        // `Drop`, which the owner runs only after the ring is gone (`Ring` drops its `IoUring`
        // first).
        unsafe {
            uring
                .submitter()
                .register_buf_ring_with_flags(entries as u64, COUNT, GROUP, 0)?;
        }
        for bid in 0..COUNT {
            buffers.push(bid);
        }
        buffers.publish();
        Ok(buffers)
    }

    /// The `len` bytes the kernel wrote into buffer `bid`.
    pub fn data(&self, bid: u16, len: usize) -> &[u8] {
        assert!(
            bid < COUNT && len <= SIZE,
            "the kernel names a buffer it was given"
        );
        // SAFETY: buffer `bid` lies inside `memory` (checked above); the kernel handed it back
        // with this completion and will not write it again until `give_back`.
        unsafe { std::slice::from_raw_parts(self.memory.add(usize::from(bid) * SIZE), len) }
    }

    /// Returns buffer `bid` to the kernel.
    pub fn give_back(&mut self, bid: u16) {
        self.push(bid);
        self.publish();
    }

    fn push(&mut self, bid: u16) {
        let slot = usize::from(self.tail & (COUNT - 1));
        // SAFETY: `slot < COUNT`, inside the ring; the kernel reads descriptors only up to the
        // published tail, and this one lies past it until `publish`.
        let entry = unsafe { &mut *self.entries.add(slot) };
        entry.set_addr(self.memory as u64 + u64::from(bid) * SIZE as u64);
        entry.set_len(SIZE as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&self) {
        // SAFETY: the tail field overlays the first descriptor's reserved field, which the
        // kernel reads; it is a properly aligned u16 inside the ring.
        let tail = unsafe { &*BufRingEntry::tail(self.entries).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }
}

impl Drop for Buffers {
    fn drop(&mut self) {
        // SAFETY: both blocks were allocated in `register` with these layouts.
        unsafe {
            dealloc(self.entries.cast(), ring_layout());
            dealloc(self.memory, memory_layout());
        }
    }
}

fn ring_layout() -> Layout {
    Layout::from_size_align(usize::from(COUNT) * size_of::<BufRingEntry>(), PAGE)
        .expect("a small power-of-two layout")
}

fn memory_layout() -> Layout {
    Layout::from_size_align(usize::from(COUNT) * SIZE, PAGE).expect("a small layout")
}

fn alloc_zeroed(layout: Layout) -> *mut u8 {
    // SAFETY: both layouts have a non-zero size.
    unsafe { std::alloc::alloc_zeroed(layout) }
}
