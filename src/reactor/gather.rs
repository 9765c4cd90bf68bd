//! A large WebSocket frame read straight into one buffer of its own.
//!
//! Read in 64 KiB pieces into the worker's shared buffer, a 1 MiB message would be copied
//! piece by piece into the message the machine assembles. Instead, once the machine says the
//! input begins a frame it would hand out in place ([`ws::Connection::unfinished_frame`]), the
//! worker reads the rest of that frame into a buffer holding exactly that frame, then feeds it
//! whole: the message reaches the application borrowed from the bytes the kernel wrote, and
//! nothing is copied in user space.
//!
//! Safe Rust reads only into initialized memory, so a fresh buffer is zeroed as it grows; a
//! worker keeps a few finished buffers ([`Pool`]) so that the next large message reuses one
//! without zeroing it again.
//!
//! [`ws::Connection::unfinished_frame`]: crate::ws::Connection::unfinished_frame

use super::READ_CHUNK;
use super::io_stats::IoCounters;
use crate::time::Instant;

/// Frames shorter than this are read in the usual pieces: they fit in one read anyway.
pub(crate) const MIN_FRAME: usize = READ_CHUNK;

/// How many finished buffers a worker keeps, and how large each may be.
const POOL_BUFFERS: usize = 8;
const POOL_BUFFER_BYTES: usize = 2 << 20;

/// Finished buffers a worker keeps for the next large frames (at most `POOL_BUFFERS` ×
/// 2 MiB). A frame being gathered owns its buffer (`Life::Gathering`); it comes back here when
/// the frame is delivered or the connection ends mid-frame.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    free: Vec<Vec<u8>>,
    /// A buffer was taken or given back since the last [`Pool::trim_if_idle`].
    used: bool,
}

/// How often a worker checks whether its kept buffers are still of use: kept buffers that
/// saw no large frame for this long go back to the allocator.
pub(crate) const POOL_IDLE: core::time::Duration = core::time::Duration::from_secs(10);

impl Pool {
    /// A buffer for a new frame: a kept one, or a new empty one.
    fn take(&mut self) -> Vec<u8> {
        self.used = true;
        self.free.pop().unwrap_or_default()
    }

    /// Keeps `buf` for another frame, if there is room and it is not oversized.
    pub fn give(&mut self, buf: Vec<u8>) {
        self.used = true;
        if self.free.len() < POOL_BUFFERS && buf.len() <= POOL_BUFFER_BYTES {
            self.free.push(buf);
        }
    }

    /// Called every [`POOL_IDLE`] while buffers are kept: if none was used since the last
    /// call, they go back to the allocator (after a burst of large messages, a worker does not
    /// keep up to 16 MiB for ever).
    pub fn trim_if_idle(&mut self) {
        if !std::mem::take(&mut self.used) {
            self.free = Vec::new();
        }
    }

    /// Whether buffers are kept.
    pub fn is_empty(&self) -> bool {
        self.free.is_empty()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.free.len()
    }
}

/// One frame being gathered: `buf[..filled]` has arrived, `total` bytes make it whole.
#[derive(Debug)]
pub(crate) struct Gather {
    buf: Vec<u8>,
    filled: usize,
    total: usize,
    /// The buffer's size as counted in the worker's `IoCounters::gathering`.
    counted: usize,
    /// Since when the connection's output has been over its bound, while it gathers: the
    /// `behind` of `Life::Gathering`, kept in this box so that every connection's `Life` is
    /// sixteen bytes.
    pub behind: Option<Instant>,
}

impl Gather {
    /// Starts a frame of `total` bytes with its first bytes `first` (`first.len() < total`).
    pub fn start(pool: &mut Pool, first: &[u8], total: usize) -> Gather {
        let mut buf = pool.take();
        if buf.len() < first.len() {
            buf.resize(first.len(), 0);
        }
        if let Some(start) = buf.get_mut(..first.len()) {
            start.copy_from_slice(first);
        }
        Gather {
            buf,
            filled: first.len(),
            total,
            counted: 0,
            behind: None,
        }
    }

    /// Where the next read goes: the frame's missing bytes (never beyond the frame, so the
    /// next frame's bytes stay in the socket). A buffer grows as the frame arrives — doubling,
    /// zeroed as it grows — so a peer that announces a large frame and stalls holds little.
    pub fn space(&mut self) -> &mut [u8] {
        if self.buf.len() < self.total && self.buf.len() - self.filled < READ_CHUNK {
            let grown = (self.buf.len() * 2).max(self.filled + READ_CHUNK);
            self.buf.resize(grown.min(self.total), 0);
        }
        let end = self.buf.len().min(self.total);
        self.buf
            .get_mut(self.filled..end)
            .expect("what is filled never passes the buffer or the frame")
    }

    /// How many bytes of the frame have not arrived.
    pub fn missing(&self) -> usize {
        self.total.saturating_sub(self.filled)
    }

    /// `n` bytes were read into [`space`](Self::space).
    pub fn filled(&mut self, n: usize) {
        self.filled = (self.filled + n).min(self.total);
    }

    pub fn is_whole(&self) -> bool {
        self.filled == self.total
    }

    /// The whole frame, and the buffer it lives in (to go back to the pool).
    /// Counts the buffer's present size in `io` (it grows as the frame arrives).
    pub fn count(&mut self, io: &IoCounters) {
        io.gather(self.counted, self.buf.len());
        self.counted = self.buf.len();
    }

    /// The buffer and the frame's length; the buffer no longer counts in `io`.
    pub fn into_frame(self, io: &IoCounters) -> (Vec<u8>, usize) {
        io.gather(self.counted, 0);
        (self.buf, self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `frame` into a gather in pieces of at most `piece` bytes, as a socket would.
    fn gather(pool: &mut Pool, frame: &[u8], first: usize, piece: usize) -> (Vec<u8>, usize) {
        let mut g = Gather::start(pool, &frame[..first], frame.len());
        let mut most = 0;
        while !g.is_whole() {
            let at = g.filled;
            let space = g.space();
            assert!(!space.is_empty());
            let n = space.len().min(piece);
            space[..n].copy_from_slice(&frame[at..at + n]);
            g.filled(n);
            most = most.max(g.buf.len());
        }
        let (buf, total) = g.into_frame(&IoCounters::default());
        assert_eq!(&buf[..total], frame);
        (buf, most)
    }

    #[test]
    fn a_frame_is_gathered_whole_and_never_past_its_end() {
        let frame: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let mut pool = Pool::default();
        for piece in [1_000, 65_536, 1 << 20] {
            let (buf, _) = gather(&mut pool, &frame, 14, piece);
            assert_eq!(
                buf.len(),
                frame.len(),
                "the buffer ends where the frame does"
            );
        }
    }

    #[test]
    fn a_buffer_grows_with_what_arrived_not_with_what_was_announced() {
        // A header announcing 64 MiB followed by 100 bytes holds one read's worth, not 64 MiB.
        let mut pool = Pool::default();
        let mut g = Gather::start(&mut pool, &[0; 100], 64 << 20);
        assert_eq!(g.space().len(), READ_CHUNK);
        assert_eq!(g.buf.len(), 100 + READ_CHUNK);
        // And as bytes come, it at most doubles what it holds.
        let frame = vec![7u8; 1 << 20];
        let (_, most) = gather(&mut pool, &frame, 100, 4096);
        assert_eq!(most, 1 << 20);
    }

    #[test]
    fn the_pool_reuses_buffers_and_is_bounded() {
        let mut pool = Pool::default();
        let frame = vec![1u8; 200_000];
        let (buf, _) = gather(&mut pool, &frame, 10, 65_536);
        let first = buf.as_ptr();
        pool.give(buf);
        // The next frame gets the same memory back, already as large as it needs.
        let mut g = Gather::start(&mut pool, &frame[..10], frame.len());
        assert_eq!(g.buf.as_ptr(), first);
        assert_eq!(g.space().len(), frame.len() - 10);
        for _ in 0..POOL_BUFFERS + 3 {
            pool.give(vec![0; 100]);
        }
        assert_eq!(pool.len(), POOL_BUFFERS);
        let mut other = Pool::default();
        other.give(vec![0; POOL_BUFFER_BYTES + 1]);
        assert_eq!(other.len(), 0, "an oversized buffer is freed, not kept");
    }

    #[test]
    fn kept_buffers_go_back_to_the_allocator_after_an_idle_interval() {
        let mut pool = Pool::default();
        pool.give(vec![0; 1000]);
        pool.trim_if_idle();
        assert_eq!(pool.len(), 1, "used since the last check: kept");
        pool.trim_if_idle();
        assert!(pool.is_empty(), "a whole interval unused: freed");
        pool.give(vec![0; 1000]);
        let g = Gather::start(&mut pool, &[1; 10], 100_000);
        pool.trim_if_idle();
        pool.give(g.into_frame(&IoCounters::default()).0);
        pool.trim_if_idle();
        assert_eq!(
            pool.len(),
            1,
            "taken and given back within the interval: kept"
        );
    }
}
