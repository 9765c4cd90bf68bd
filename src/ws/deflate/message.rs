//! Compressing and decompressing messages (RFC 7692 §7.2) on top of a raw DEFLATE codec.
//!
//! Receiving (§7.2.2): the payloads of a message's frames are inflated as they arrive, then the
//! four bytes `00 00 ff ff` the sender stripped are inflated after the last one. Output is
//! produced at most [`STEP`] bytes per codec call and counted against the message limit inside
//! the loop, so a small payload that inflates to gigabytes (a "bomb") costs one step past the
//! limit, never the whole. A final block (BFINAL, §7.2.3.5) ends a DEFLATE stream; whatever
//! follows is read as a new stream with the same window.
//!
//! Sending (§7.2.1): a message is compressed and ended with a flush whose `00 00 ff ff` tail is
//! stripped. An empty message comes out as the single byte `0x00` (§7.2.3.6). When the peer
//! limited our window to 2^W bytes with W < 15 (§7.1.2.1), input is fed in chunks of 2^W bytes
//! with a full flush after each: the compressor then never refers further back than the
//! chunk it is in, whatever its own window size.
//!
//! Memory: both sides create their codec on first use and drop it as soon as no context has to
//! be kept (`*_no_context_takeover`, or a window below 15 for our own side): an idle connection
//! without context takeover holds no codec at all.

use super::codec::{Corrupt, Deflater, Flush, Inflater, RawDeflate, RawInflate};
use super::negotiate::Agreement;
use crate::ws::handshake::Role;
use alloc::boxed::Box;
use alloc::vec::Vec;

/// The most output one inflate call may produce.
pub(crate) const STEP: usize = 16 * 1024;

/// The empty stored block a flush ends with; stripped on send, appended on receive.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Why a compressed message could not be inflated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// Inflated past the message limit (close 1009).
    TooLarge,
    /// Not valid DEFLATE data (close 1007).
    Corrupt,
}

impl From<Corrupt> for InflateError {
    fn from(_: Corrupt) -> Self {
        InflateError::Corrupt
    }
}

/// Bytes of an inflater (its 32 KiB window and state), what a connection keeps between
/// messages while the peer keeps its compression context.
pub(crate) const INFLATER_BYTES: usize = core::mem::size_of::<Inflater>();

/// Bytes of a compressor, what a connection keeps between messages under its own context
/// takeover.
pub(crate) const DEFLATER_BYTES: usize = core::mem::size_of::<Deflater>();

/// Both halves for one connection, set up from what the handshake agreed.
#[derive(Clone, Debug)]
pub(crate) struct PerMessage {
    /// What we send.
    pub tx: Compressor,
    /// What the peer sends.
    pub rx: Decompressor,
}

impl PerMessage {
    pub(crate) fn new(agreed: &Agreement, role: Role, level: u8) -> Self {
        let (ours, theirs) = match role {
            Role::Server => (
                (
                    agreed.server_no_context_takeover,
                    agreed.server_max_window_bits,
                ),
                agreed.client_no_context_takeover,
            ),
            Role::Client => (
                (
                    agreed.client_no_context_takeover,
                    agreed.client_max_window_bits,
                ),
                agreed.server_no_context_takeover,
            ),
        };
        PerMessage {
            tx: Compressor::new(ours.0, ours.1, level),
            rx: Decompressor::new(theirs),
        }
    }
}

/// The receiving half: inflates the peer's compressed messages.
#[derive(Clone, Default)]
pub(crate) struct Decompressor {
    inflater: Option<Box<Inflater>>,
    /// The peer starts every message with an empty window (its `no_context_takeover`).
    reset_each_message: bool,
}

impl core::fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Decompressor")
            .field("allocated", &self.inflater.is_some())
            .field("reset_each_message", &self.reset_each_message)
            .finish()
    }
}

impl Decompressor {
    pub(crate) fn new(reset_each_message: bool) -> Self {
        Decompressor {
            inflater: None,
            reset_each_message,
        }
    }

    /// Inflates one piece of a message's payload onto `out`; `last` adds the tail and ends the
    /// message. `budget` is how many more inflated bytes the message may have; it shrinks.
    pub(crate) fn inflate(
        &mut self,
        data: &[u8],
        last: bool,
        out: &mut Vec<u8>,
        budget: &mut u64,
    ) -> Result<(), InflateError> {
        let inflater = self
            .inflater
            .get_or_insert_with(<Inflater as RawInflate>::new_boxed);
        let result = inflate_all(inflater, data, out, budget).and_then(|()| {
            if last {
                inflate_all(inflater, &TAIL, out, budget)
            } else {
                Ok(())
            }
        });
        if result.is_err() || (last && self.reset_each_message) {
            // A failed stream is useless; a reset one is not worth its memory.
            self.inflater = None;
        }
        result
    }

    /// Whether an inflater is allocated (for tests of the memory rule).
    #[cfg(test)]
    pub(crate) fn is_allocated(&self) -> bool {
        self.inflater.is_some()
    }

    /// Bytes of the inflater allocated now (its 32 KiB window and state; kept between
    /// messages while the peer keeps its context).
    pub(crate) fn held_bytes(&self) -> usize {
        self.inflater.as_ref().map_or(0, |_| INFLATER_BYTES)
    }
}

fn inflate_all(
    inflater: &mut Inflater,
    mut input: &[u8],
    out: &mut Vec<u8>,
    budget: &mut u64,
) -> Result<(), InflateError> {
    loop {
        // One byte over the budget is enough to know it was exceeded.
        let room = usize::try_from(budget.saturating_add(1))
            .unwrap_or(usize::MAX)
            .min(STEP);
        let start = out.len();
        out.resize(start + room, 0);
        let step = inflater.inflate(input, &mut out[start..]);
        let p = match step {
            Ok(p) => p,
            Err(e) => {
                out.truncate(start);
                return Err(e.into());
            }
        };
        out.truncate(start + p.written);
        input = input
            .get(p.consumed..)
            .expect("a codec consumes at most its input");
        *budget = budget
            .checked_sub(p.written as u64)
            .ok_or(InflateError::TooLarge)?;
        if p.ended {
            inflater.restart();
        }
        let output_pending = p.written == room;
        if (input.is_empty() && !output_pending) || (p.consumed == 0 && p.written == 0 && !p.ended)
        {
            return Ok(());
        }
    }
}

/// The sending half: compresses our messages.
#[derive(Clone)]
pub(crate) struct Compressor {
    deflater: Option<Box<Deflater>>,
    /// Keep the window from one message to the next (context takeover agreed, window 15).
    keep_context: bool,
    /// Bytes per chunk between full flushes: 2^W, or unlimited for W = 15.
    chunk: usize,
    /// Bytes fed since the last full flush.
    since_full: usize,
    /// Bytes fed in the current message.
    fed: usize,
    level: u8,
    /// The agreed window, 8..=15 (what `chunk` is made from).
    window_bits: u8,
}

impl core::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Compressor")
            .field("allocated", &self.deflater.is_some())
            .field("keep_context", &self.keep_context)
            .field("chunk", &self.chunk)
            .finish()
    }
}

impl Compressor {
    /// `no_context_takeover`: we promised to start every message afresh. `window_bits`: the
    /// most the peer lets us refer back, 8..=15.
    pub(crate) fn new(no_context_takeover: bool, window_bits: u8, level: u8) -> Self {
        let chunk = if window_bits >= 15 {
            usize::MAX
        } else {
            1usize << window_bits.max(8)
        };
        Compressor {
            deflater: None,
            keep_context: !no_context_takeover && chunk == usize::MAX,
            chunk,
            since_full: 0,
            fed: 0,
            level,
            window_bits: window_bits.clamp(8, 15),
        }
    }

    /// How this compressor's next message would be compressed, if that depends on the message
    /// alone: no context is kept between messages and none is under way. Every compressor
    /// with the same key turns the same message into the same bytes.
    pub(crate) fn shared_key(&self) -> Option<SharedKey> {
        (!self.keep_context && self.fed == 0 && self.since_full == 0).then_some(SharedKey {
            window_bits: self.window_bits,
            level: self.level,
        })
    }

    /// Compresses a piece of a message onto `out`; `last` ends the message with a flush whose
    /// tail is stripped. The pieces of a message, concatenated, are its payload.
    pub(crate) fn compress(&mut self, mut data: &[u8], last: bool, out: &mut Vec<u8>) {
        if last && data.is_empty() && self.fed == 0 {
            // §7.2.3.6: an empty message is one empty stored block, tail stripped. Every earlier
            // message ended byte-aligned, so this needs no compressor at all.
            out.push(0x00);
            return;
        }
        self.fed = if last { 0 } else { self.fed + data.len() };
        let level = self.level;
        let deflater = self.deflater.get_or_insert_with(|| spare::take(level));
        loop {
            let room = self.chunk - self.since_full;
            let (piece, rest) = data.split_at(data.len().min(room));
            let flush = if piece.len() == room {
                // The chunk is full: nothing later may refer into it.
                Flush::Full
            } else if rest.is_empty() && last {
                if self.keep_context {
                    Flush::Sync
                } else {
                    Flush::Full
                }
            } else {
                Flush::None
            };
            if !piece.is_empty() || flush != Flush::None {
                deflate_all(deflater, piece, flush, out);
            }
            self.since_full = if flush == Flush::Full {
                0
            } else {
                self.since_full + piece.len()
            };
            data = rest;
            if data.is_empty() && (!last || flush != Flush::None) {
                break;
            }
        }
        if last {
            if out.ends_with(&TAIL) {
                out.truncate(out.len() - TAIL.len());
            }
            if !self.keep_context {
                if let Some(deflater) = self.deflater.take() {
                    spare::give_back(deflater);
                }
                self.since_full = 0;
            }
        }
    }

    /// Whether a compressor is allocated (for tests of the memory rule).
    #[cfg(test)]
    pub(crate) fn is_allocated(&self) -> bool {
        self.deflater.is_some()
    }

    /// Bytes of the compressor allocated now (kept between messages only under context
    /// takeover; otherwise it exists only while a message is being sent).
    pub(crate) fn held_bytes(&self) -> usize {
        self.deflater.as_ref().map_or(0, |_| DEFLATER_BYTES)
    }

    /// Whether the next message may be sent uncompressed without confusing the peer: true when
    /// no context is carried from one message to the next.
    pub(crate) fn is_stateless(&self) -> bool {
        !self.keep_context
    }
}

/// How a message is compressed when the sender keeps no context between messages (RFC 7692
/// §7.1.1.1, `server_no_context_takeover`): every message starts from an empty window, so its
/// compressed bytes depend only on the message, the window (§7.1.2.1) and the level. A server
/// with many such connections compresses a message once per key and sends the same bytes to
/// all of them ([`compress_shared`], then
/// [`Connection::send_precompressed`](crate::ws::Connection::send_precompressed)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SharedKey {
    /// The largest window the sender may use, base-2 logarithm, 8..=15.
    pub window_bits: u8,
    /// The DEFLATE level, 1..=9.
    pub level: u8,
}

/// Compresses a whole message the way every connection with `key` would (RFC 7692 §7.2.1: the
/// final empty block's tail `00 00 ff ff` removed) onto `out`. `false` when the result is not
/// smaller than `payload`: send the message uncompressed then (§6, RSV1 clear), as a connection
/// compressing it itself does.
pub fn compress_shared(key: SharedKey, payload: &[u8], out: &mut Vec<u8>) -> bool {
    let start = out.len();
    Compressor::new(true, key.window_bits, key.level).compress(payload, true, out);
    if payload.is_empty() || out.len() - start >= payload.len() {
        out.truncate(start);
        return false;
    }
    true
}

fn deflate_all(deflater: &mut Deflater, mut input: &[u8], flush: Flush, out: &mut Vec<u8>) {
    loop {
        let room = (input.len() + input.len() / 8 + 64).max(256);
        let start = out.len();
        out.resize(start + room, 0);
        let p = deflater.deflate(input, &mut out[start..], flush);
        out.truncate(start + p.written);
        input = input
            .get(p.consumed..)
            .expect("a codec consumes at most its input");
        if (input.is_empty() && p.written < room) || (p.consumed == 0 && p.written == 0) {
            return;
        }
    }
}

/// One spare compressor per thread, so that connections without context takeover do not pay
/// for allocating and zeroing ~300 KiB of tables on every message (about 40 µs, more than
/// compressing 16 KiB at level 1). A connection holds a compressor only while it sends; the
/// thread keeps at most one between sends. Without `std` (no thread-locals) every message
/// allocates its own.
mod spare {
    use super::super::codec::{Deflater, RawDeflate};
    use alloc::boxed::Box;

    #[cfg(feature = "std")]
    std::thread_local! {
        static SPARE: core::cell::Cell<Option<Box<Deflater>>> = const { core::cell::Cell::new(None) };
    }

    /// A compressor at `level` with an empty context.
    pub(super) fn take(level: u8) -> Box<Deflater> {
        #[cfg(feature = "std")]
        if let Some(mut deflater) = SPARE.take() {
            deflater.restart(level);
            return deflater;
        }
        <Deflater as RawDeflate>::new_boxed(level)
    }

    /// A compressor no longer needed.
    pub(super) fn give_back(deflater: Box<Deflater>) {
        #[cfg(feature = "std")]
        SPARE.set(Some(deflater));
        #[cfg(not(feature = "std"))]
        drop(deflater);
    }
}
