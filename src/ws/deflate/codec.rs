//! The raw DEFLATE codec (RFC 1951) under permessage-deflate, behind two small traits.
//!
//! permessage-deflate needs very little from a DEFLATE library: inflate a stream in pieces with
//! the output capped per call, start a new stream that keeps the window, and compress with
//! three kinds of flush. [`RawInflate`] and [`RawDeflate`] are exactly that, so another backend
//! could replace miniz_oxide by implementing them; nothing else in the crate names miniz_oxide.

use alloc::boxed::Box;
use miniz_oxide::deflate::core::{CompressorOxide, create_comp_flags_from_zip_params};
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZFlush, MZStatus};

/// How a compression call ends (RFC 1951 has no names for these; zlib's are used).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flush {
    /// Keep input for better matches; output may lag behind.
    None,
    /// Emit everything so far, ending on a byte boundary with an empty stored block
    /// (`00 00 ff ff`); later data may still refer back.
    Sync,
    /// As `Sync`, and forget the window: nothing after it refers back past it.
    Full,
}

/// What one codec call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Input bytes used.
    pub consumed: usize,
    /// Output bytes written.
    pub written: usize,
    /// Inflating: the stream's final block (BFINAL) has been read and all its output handed over.
    pub ended: bool,
}

/// The input is not a valid DEFLATE stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Corrupt;

/// A raw DEFLATE decompressor with a 32 KiB window, fed in pieces.
pub(crate) trait RawInflate {
    /// A fresh decompressor on the heap.
    fn new_boxed() -> Box<Self>;
    /// Inflates from `input` into `out`, writing at most `out.len()` bytes. Input is taken
    /// whole unless output is pending; output held back by a full `out` comes on the next call.
    fn inflate(&mut self, input: &[u8], out: &mut [u8]) -> Result<Progress, Corrupt>;
    /// After a final block: read what follows as a new stream that keeps the window.
    fn restart(&mut self);
}

/// A raw DEFLATE compressor (32 KiB window).
pub(crate) trait RawDeflate {
    /// A fresh compressor on the heap at `level` (1 fastest .. 9 smallest).
    fn new_boxed(level: u8) -> Box<Self>;
    /// Compresses `input` into `out`. With a flush, the flush is complete once a call takes all
    /// input and leaves room in `out`.
    fn deflate(&mut self, input: &[u8], out: &mut [u8], flush: Flush) -> Progress;
    /// Forget everything, as if new, at `level` (reusing the memory).
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    fn restart(&mut self, level: u8);
}

impl RawInflate for InflateState {
    fn new_boxed() -> Box<Self> {
        InflateState::new_boxed(DataFormat::Raw)
    }

    fn inflate(&mut self, input: &[u8], out: &mut [u8]) -> Result<Progress, Corrupt> {
        let r = miniz_oxide::inflate::stream::inflate(self, input, out, MZFlush::None);
        let ended = match r.status {
            Ok(MZStatus::StreamEnd) => true,
            Ok(_) => false,
            // No progress possible: all input taken, nothing to write.
            Err(miniz_oxide::MZError::Buf) => false,
            Err(_) => return Err(Corrupt),
        };
        Ok(Progress {
            consumed: r.bytes_consumed,
            written: r.bytes_written,
            ended,
        })
    }

    fn restart(&mut self) {
        // Re-initialises block parsing only; the window and its position stay, so a stream
        // that follows may refer back into the one that ended.
        self.decompressor().init();
    }
}

impl RawDeflate for CompressorOxide {
    fn new_boxed(level: u8) -> Box<Self> {
        // Negative window bits: raw DEFLATE, no zlib header or checksum.
        let flags = create_comp_flags_from_zip_params(i32::from(level.clamp(1, 9)), -15, 0);
        Box::new(CompressorOxide::new(flags))
    }

    fn restart(&mut self, level: u8) {
        self.reset();
        self.set_compression_level_raw(level.clamp(1, 9));
    }

    fn deflate(&mut self, input: &[u8], out: &mut [u8], flush: Flush) -> Progress {
        let flush = match flush {
            Flush::None => MZFlush::None,
            Flush::Sync => MZFlush::Sync,
            Flush::Full => MZFlush::Full,
        };
        let r = miniz_oxide::deflate::stream::deflate(self, input, out, flush);
        // Errors here mean "no progress" (an empty `out`, or nothing to do); the caller's loop
        // stops on a call that neither takes nor gives.
        Progress {
            consumed: r.bytes_consumed,
            written: r.bytes_written,
            ended: false,
        }
    }
}

/// The backend in use.
pub(crate) type Inflater = InflateState;
/// The backend in use.
pub(crate) type Deflater = CompressorOxide;
