//! One WebSocket connection after the handshake (RFC 6455 §5, §7), for either role.
//!
//! Read this before editing: input arrives as `&mut [u8]` because payloads are unmasked in
//! place and handed out as slices of it. A frame header (at most 14 bytes) and a control frame
//! (at most 131) are only consumed once they are complete, so the machine never stores them; a
//! data payload is consumed as it arrives, which is what lets text fail fast at the first
//! invalid UTF-8 byte. Every transition of the closing handshake is one arm of
//! `Close::next` (`closing.rs`), reached through `step_close`.
//!
//! What the peer is owed goes out with the input that owed it (the crate's driver contract):
//! the pong for a ping, the close frame answering a close, the close frame that fails the
//! connection are all written to `out` by the `feed` call that read the input, in input order.
//! There is no queue of replies for the driver to poll, so how often a driver flushes cannot
//! change what goes on the wire.

mod send;

use super::close_code::CloseCode;
use super::closing::{Close, CloseInput};
use super::error::{PeerError, UsageError};
use super::frame::{Header, OpCode};
use super::handshake::{MaskSource, Role, ValidatedUpgrade};
use super::mask::apply_mask;
use super::utf8::Utf8Validator;
use crate::limits::Limits;
use crate::time::Instant;
use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

#[cfg(feature = "deflate")]
use super::deflate::message::{InflateError, PerMessage};

/// RSV1, the bit permessage-deflate claims (RFC 7692 §6), as [`Header::rsv`] holds it.
const RSV1: u8 = 0b100;

/// What the peer sent.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A whole text message, validated as UTF-8. Borrowed from the input when it arrived in one
    /// frame and one read; assembled otherwise.
    Text(Cow<'a, str>),
    /// A whole binary message.
    Binary(Cow<'a, [u8]>),
    /// Part of a message, as it arrived (only with [`Connection::set_fragment_delivery`]).
    /// Text fragments are validated so far, but may end inside a character. Borrowed from the
    /// input, or owned when inflated from a compressed message (RFC 7692).
    Fragment {
        /// Whether the message is text.
        text: bool,
        /// Whether this is the first piece of its message.
        first: bool,
        /// The bytes.
        data: Cow<'a, [u8]>,
        /// Whether this piece ends the message.
        last: bool,
    },
    /// A ping (§5.5.2). Its pong, with the same payload, has already been written to `out` by
    /// the `feed` call that returned this event (§5.5.3), so every ping gets its own pong, in
    /// input order, whatever the driver does.
    Ping(&'a [u8]),
    /// A pong (§5.5.3).
    Pong(&'a [u8]),
    /// The peer's close frame (§5.5.1). Our answering close has been written if we had not sent
    /// one. `code` is `None` when the frame had no payload (the API's 1005).
    Close {
        /// The status code, if any.
        code: Option<CloseCode>,
        /// The reason, possibly empty.
        reason: &'a str,
    },
}

/// The result of one [`Connection::feed`] call.
#[derive(Debug)]
pub struct Step<'a> {
    /// Bytes of input used; the caller keeps the rest.
    pub consumed: usize,
    /// What they produced.
    pub event: Option<Event<'a>>,
}

/// The kind of a data message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// UTF-8 text (opcode 0x1).
    Text,
    /// Binary data (opcode 0x2).
    Binary,
}

/// An incoming message being assembled.
#[derive(Clone, Debug)]
struct Incoming {
    text: bool,
    /// RSV1 was set on its first frame: the payload is compressed (RFC 7692 §6).
    compressed: bool,
    /// Payload bytes announced so far, over all fragments.
    total: u64,
    /// Bytes inflated so far (compressed messages).
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    inflated: u64,
    /// Whether no payload of it has been delivered yet (fragment mode).
    first: bool,
    utf8: Utf8Validator,
    /// Assembled payload (message mode only).
    buf: Vec<u8>,
}

/// §8.1: text must be UTF-8; fail fast, at the first byte that cannot be, and at the end of a
/// message that stops inside a character. Binary (`text` false) passes.
fn check_text(
    text: bool,
    utf8: &mut Utf8Validator,
    piece: &[u8],
    last: bool,
) -> Result<(), PeerError> {
    if text {
        utf8.feed(piece).map_err(|_| PeerError::InvalidUtf8)?;
        if last && !utf8.is_complete() {
            return Err(PeerError::InvalidUtf8);
        }
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Read {
    /// At a frame boundary.
    Header,
    /// Inside a data frame's payload.
    Payload {
        fin: bool,
        mask: Option<[u8; 4]>,
        remaining: u64,
        /// Where the payload stands in the 4-byte masking cycle.
        offset: u8,
        discard: bool,
    },
    /// After a framing error: nothing more can be parsed.
    Broken,
}

/// A WebSocket connection (RFC 6455), server or client, after a successful handshake.
///
/// ```
/// use pushwire::ws::{self, Event};
/// # use pushwire::{http, Instant, Limits};
/// # let limits = Limits::default();
/// # let mut http = http::Connection::new(Instant::ZERO, &limits);
/// # let mut out = Vec::new();
/// # let req = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
/// # let step = http.feed(Instant::ZERO, req, &mut out).unwrap();
/// # let Some(http::Event::Request(r)) = step.event else { panic!() };
/// let proof = ws::check_request(&r).unwrap().accept(None, &[], &mut http, &mut out).unwrap();
/// let mut conn = ws::Connection::new(proof, &limits);
/// // RFC 6455 §5.7: a masked "Hello" from a client.
/// let mut input = *b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
/// let step = conn.feed(Instant::ZERO, &mut input, &mut out).unwrap();
/// assert_eq!(step.event, Some(Event::Text("Hello".into())));
/// ```
pub struct Connection {
    role: Role,
    max_frame: u64,
    max_message: u64,
    /// `Limits::close_timeout`, in microseconds (kept small: every idle connection holds it).
    close_timeout_us: u64,
    /// `Limits::ping_interval` in microseconds; 0 for none.
    ping_interval_us: u64,
    fragments: bool,
    /// RSV bits an extension has claimed (none without one).
    allowed_rsv: u8,
    read: Read,
    /// Boxed: an idle connection pays one pointer for it.
    incoming: Option<Box<Incoming>>,
    close: Close,
    /// Kind of the outgoing fragmented message in progress.
    sending: Option<MessageKind>,
    now: Instant,
    last_heard: Instant,
    ping_outstanding: bool,
    /// A client's source of masking keys (§5.3), from its handshake; `None` for a server.
    masks: Option<MaskSource>,
    /// permessage-deflate codecs, when the handshake agreed to it (boxed: one pointer otherwise).
    #[cfg(feature = "deflate")]
    deflate: Option<Box<PerMessage>>,
}

impl Connection {
    /// A connection for the role the handshake established.
    pub fn new(upgrade: ValidatedUpgrade, limits: &Limits) -> Self {
        #[cfg(feature = "deflate")]
        let deflate = upgrade
            .deflate
            .map(|(agreed, level)| Box::new(PerMessage::new(&agreed, upgrade.role, level)));
        #[cfg(feature = "deflate")]
        let allowed_rsv = if deflate.is_some() { RSV1 } else { 0 };
        #[cfg(not(feature = "deflate"))]
        let allowed_rsv = 0;
        Connection {
            role: upgrade.role,
            max_frame: limits.max_frame_bytes,
            max_message: limits.max_message_bytes,
            close_timeout_us: micros(limits.close_timeout),
            ping_interval_us: limits.ping_interval.map_or(0, |i| micros(i).max(1)),
            fragments: false,
            allowed_rsv,
            read: Read::Header,
            incoming: None,
            close: Close::Open,
            sending: None,
            now: Instant::ZERO,
            last_heard: Instant::ZERO,
            ping_outstanding: false,
            masks: upgrade.masks,
            #[cfg(feature = "deflate")]
            deflate,
        }
    }

    /// Deliver messages piece by piece as [`Event::Fragment`] instead of whole: nothing is
    /// buffered, so large messages cost no memory. Limits still apply to whole messages.
    pub fn set_fragment_delivery(&mut self, on: bool) {
        self.fragments = on;
    }

    /// Sets the starting time, for the keep-alive clock (call once, before feeding).
    pub fn start(&mut self, now: Instant) {
        self.now = now;
        self.last_heard = now;
    }

    fn ping_interval(&self) -> Option<Duration> {
        (self.ping_interval_us > 0).then(|| Duration::from_micros(self.ping_interval_us))
    }

    /// Which end we are.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether (compressor, inflater) are allocated: for tests of the memory rules.
    #[cfg(all(test, feature = "deflate"))]
    pub(crate) fn codecs_held(&self) -> (bool, bool) {
        self.deflate.as_ref().map_or((false, false), |p| {
            (p.tx.is_allocated(), p.rx.is_allocated())
        })
    }

    /// Reads a prefix of `input`, unmasking payloads in place.
    ///
    /// # Errors
    /// A [`PeerError`] when the peer broke a rule: the close frame with its code has been
    /// written to `out`, and all further input is ignored.
    pub fn feed<'a>(
        &mut self,
        now: Instant,
        input: &'a mut [u8],
        out: &mut Vec<u8>,
    ) -> Result<Step<'a>, PeerError> {
        self.now = now;
        if !input.is_empty() {
            self.last_heard = now;
            self.ping_outstanding = false;
        }
        match self.feed_inner(input, out) {
            Ok(step) => Ok(step),
            Err(e) => {
                self.fail(e, out);
                Err(e)
            }
        }
    }

    /// Whether `input` begins a frame that [`feed`](Self::feed) would hand out in place — a
    /// whole, uncompressed, unfragmented data message within the limits (RFC 6455 §5.2, §10.4)
    /// — but that is not all here yet: then its full length on the wire, header included.
    ///
    /// A caller that reads from a socket can gather those bytes in one buffer of its own and
    /// feed them whole: the message is then delivered from that buffer with no copy, instead of
    /// being assembled from the pieces as they arrive. Feeding the pieces works too.
    /// Meanwhile, call [`input_pending`](Self::input_pending) as bytes arrive, so that the
    /// keep-alive clock knows the peer is talking.
    #[must_use]
    pub fn unfinished_frame(&self, input: &[u8]) -> Option<usize> {
        if self.read != Read::Header || self.fragments || !matches!(self.close, Close::Open) {
            return None;
        }
        let (header, header_len) = Header::decode(input).ok().flatten()?;
        let total = usize::try_from(header.len).ok()?.checked_add(header_len)?;
        let whole_message = header.fin
            && matches!(header.opcode, OpCode::Text | OpCode::Binary)
            && header.rsv & RSV1 == 0;
        (total > input.len() && whole_message && self.check_header(&header).is_ok())
            .then_some(total)
    }

    /// The caller holds input it has not fed yet (a frame it gathers whole, see
    /// [`unfinished_frame`](Self::unfinished_frame)): the peer counts as heard at `now`.
    pub fn input_pending(&mut self, now: Instant) {
        self.now = now;
        self.last_heard = now;
        self.ping_outstanding = false;
    }

    fn feed_inner<'a>(
        &mut self,
        input: &'a mut [u8],
        out: &mut Vec<u8>,
    ) -> Result<Step<'a>, PeerError> {
        let idle = Step {
            consumed: 0,
            event: None,
        };
        if matches!(self.close, Close::Closed | Close::AwaitingEof { .. })
            || self.read == Read::Broken
        {
            // RFC 6455 §5.5.1: nothing after the closing handshake is processed.
            return Ok(Step {
                consumed: input.len(),
                event: None,
            });
        }
        match self.read {
            Read::Broken => Ok(idle),
            Read::Header => {
                let Some((header, header_len)) = Header::decode(input)? else {
                    return Ok(idle);
                };
                self.check_header(&header)?;
                if header.opcode.is_control() {
                    // ≤ 125 bytes (checked above): wait until the whole frame is here.
                    let total = header_len + header.len as usize;
                    let Some(frame) = input.get_mut(..total) else {
                        return Ok(idle);
                    };
                    let payload = frame.get_mut(header_len..).unwrap_or_default();
                    if let Some(key) = header.mask {
                        apply_mask(payload, key, 0);
                    }
                    let event = self.on_control(header.opcode, payload, out)?;
                    return Ok(Step {
                        consumed: total,
                        event,
                    });
                }
                self.on_data_header(&header, header_len, input)
            }
            Read::Payload {
                fin,
                mask,
                remaining,
                offset,
                discard,
            } => {
                let take = crate::clamp_len(remaining, input.len());
                if take == 0 {
                    return Ok(idle);
                }
                let data = input.get_mut(..take).unwrap_or_default();
                if let Some(key) = mask {
                    apply_mask(data, key, usize::from(offset));
                }
                let remaining = remaining - take as u64;
                self.read = if remaining == 0 {
                    Read::Header
                } else {
                    Read::Payload {
                        fin,
                        mask,
                        remaining,
                        offset: ((usize::from(offset) + take) % 4) as u8,
                        discard,
                    }
                };
                if discard {
                    return Ok(Step {
                        consumed: take,
                        event: None,
                    });
                }
                let event = self.on_payload(data, remaining == 0 && fin)?;
                Ok(Step {
                    consumed: take,
                    event,
                })
            }
        }
    }

    /// RFC 6455 §5.1-§5.5: the rules a header must meet on this connection.
    fn check_header(&self, h: &Header) -> Result<(), PeerError> {
        // An extension's bits belong to a message's first frame only (RFC 7692 §6.1): never on
        // a continuation or a control frame.
        let allowed = match h.opcode {
            OpCode::Text | OpCode::Binary => self.allowed_rsv,
            _ => 0,
        };
        if h.rsv & !allowed != 0 {
            return Err(PeerError::ReservedBits);
        }
        match (self.role, h.mask) {
            (Role::Server, None) => return Err(PeerError::UnmaskedFrame),
            (Role::Client, Some(_)) => return Err(PeerError::MaskedFrame),
            _ => {}
        }
        if h.opcode.is_control() {
            if !h.fin {
                return Err(PeerError::FragmentedControl);
            }
            if h.len > 125 {
                return Err(PeerError::ControlTooLong);
            }
            return Ok(());
        }
        let closing = !matches!(self.close, Close::Open);
        match (h.opcode, &self.incoming) {
            (OpCode::Continuation, None) if !closing => {
                return Err(PeerError::UnexpectedContinuation);
            }
            (OpCode::Text | OpCode::Binary, Some(_)) if !closing => {
                return Err(PeerError::ExpectedContinuation);
            }
            _ => {}
        }
        // §10.4: sizes are decided from the header, before any payload is held.
        if h.len > self.max_frame {
            return Err(PeerError::FrameTooLarge);
        }
        let so_far = self.incoming.as_ref().map_or(0, |m| m.total);
        if so_far.saturating_add(h.len) > self.max_message {
            return Err(PeerError::MessageTooLarge);
        }
        Ok(())
    }

    /// A data frame's header was read: start or continue the message.
    fn on_data_header<'a>(
        &mut self,
        h: &Header,
        header_len: usize,
        input: &'a mut [u8],
    ) -> Result<Step<'a>, PeerError> {
        if !matches!(self.close, Close::Open) {
            // §5.5.1: after sending a close frame we read on only to find the peer's close.
            self.read = Read::Payload {
                fin: h.fin,
                mask: h.mask,
                remaining: h.len,
                offset: 0,
                discard: true,
            };
            if h.len == 0 {
                self.read = Read::Header;
            }
            return Ok(Step {
                consumed: header_len,
                event: None,
            });
        }
        let text = h.opcode == OpCode::Text;
        let compressed = h.rsv & RSV1 != 0;
        // Fast path: a whole single-frame message in this read is handed out in place, with no
        // message state created at all.
        let whole = header_len.saturating_add(crate::clamp_len(h.len, usize::MAX));
        if !self.fragments && h.fin && h.opcode != OpCode::Continuation && !compressed {
            if let Some(frame) = input.get_mut(..whole) {
                let payload = frame.get_mut(header_len..).unwrap_or_default();
                if let Some(key) = h.mask {
                    apply_mask(payload, key, 0);
                }
                let payload: &'a [u8] = payload;
                let event = if text {
                    let text = core::str::from_utf8(payload).map_err(|_| PeerError::InvalidUtf8)?;
                    Event::Text(Cow::Borrowed(text))
                } else {
                    Event::Binary(Cow::Borrowed(payload))
                };
                return Ok(Step {
                    consumed: whole,
                    event: Some(event),
                });
            }
        }
        let incoming = self.incoming.get_or_insert_with(|| {
            Box::new(Incoming {
                text,
                compressed,
                total: 0,
                inflated: 0,
                first: true,
                utf8: Utf8Validator::default(),
                buf: Vec::new(),
            })
        });
        incoming.total += h.len;

        if h.len == 0 {
            // Nothing to wait for: finish the frame here.
            let event = self.on_payload(&[], h.fin)?;
            return Ok(Step {
                consumed: header_len,
                event,
            });
        }
        if !self.fragments {
            if let Some(m) = self.incoming.as_mut().filter(|m| !m.compressed) {
                // Reserve what the header announced, within the checked limits, capped so a
                // lying header costs little.
                m.buf.reserve(crate::clamp_len(h.len, 1 << 20));
            }
        }
        self.read = Read::Payload {
            fin: h.fin,
            mask: h.mask,
            remaining: h.len,
            offset: 0,
            discard: false,
        };
        Ok(Step {
            consumed: header_len,
            event: None,
        })
    }

    /// Unmasked payload bytes of the current message; `last` ends the message.
    fn on_payload<'a>(
        &mut self,
        data: &'a [u8],
        last: bool,
    ) -> Result<Option<Event<'a>>, PeerError> {
        let Some(m) = self.incoming.as_mut() else {
            return Ok(None);
        };
        if m.compressed {
            return self.on_compressed_payload(data, last);
        }
        check_text(m.text, &mut m.utf8, data, last)?;
        if self.fragments {
            return Ok(self.fragment(Cow::Borrowed(data), last));
        }
        m.buf.extend_from_slice(data);
        self.finish_message(last)
    }

    /// A piece of the current message as an [`Event::Fragment`] (fragment delivery mode).
    fn fragment<'a>(&mut self, data: Cow<'a, [u8]>, last: bool) -> Option<Event<'a>> {
        let m = self.incoming.as_mut()?;
        let first = core::mem::replace(&mut m.first, false);
        let text = m.text;
        if last {
            self.incoming = None;
        }
        Some(Event::Fragment {
            text,
            first,
            data,
            last,
        })
    }

    /// The payload of the current message is complete (if `last`): hand it out.
    fn finish_message<'a>(&mut self, last: bool) -> Result<Option<Event<'a>>, PeerError> {
        if !last {
            return Ok(None);
        }
        let Some(m) = self.incoming.take() else {
            return Ok(None);
        };
        let m = *m;
        Ok(Some(if m.text {
            Event::Text(Cow::Owned(
                String::from_utf8(m.buf).map_err(|_| PeerError::InvalidUtf8)?,
            ))
        } else {
            Event::Binary(Cow::Owned(m.buf))
        }))
    }

    /// Payload bytes of a compressed message (RFC 7692 §7.2.2): inflated as they arrive, the
    /// message limit counted on inflated bytes inside the inflate loop (1009), invalid DEFLATE
    /// data failing with 1007, text validated on the inflated bytes, failing fast.
    #[cfg(feature = "deflate")]
    fn on_compressed_payload<'a>(
        &mut self,
        data: &[u8],
        last: bool,
    ) -> Result<Option<Event<'a>>, PeerError> {
        let (Some(m), Some(pmd)) = (self.incoming.as_mut(), self.deflate.as_mut()) else {
            return Err(PeerError::ReservedBits);
        };
        let mut budget = self.max_message.saturating_sub(m.inflated);
        let mut piece = Vec::new();
        let out = if self.fragments {
            &mut piece
        } else {
            &mut m.buf
        };
        let start = out.len();
        pmd.rx
            .inflate(data, last, out, &mut budget)
            .map_err(|e| match e {
                InflateError::TooLarge => PeerError::MessageTooLarge,
                InflateError::Corrupt => PeerError::InvalidCompressedData,
            })?;
        m.inflated = self.max_message - budget;
        let fresh = out.get(start..).unwrap_or_default();
        check_text(m.text, &mut m.utf8, fresh, last)?;
        if self.fragments {
            return Ok(self.fragment(Cow::Owned(piece), last));
        }
        self.finish_message(last)
    }

    /// Without the `deflate` feature no handshake agrees to compression, so RSV1 never passes
    /// the header check; this is unreachable and answers as if it had not passed.
    #[cfg(not(feature = "deflate"))]
    fn on_compressed_payload<'a>(
        &mut self,
        _data: &[u8],
        _last: bool,
    ) -> Result<Option<Event<'a>>, PeerError> {
        Err(PeerError::ReservedBits)
    }

    /// A complete, unmasked control frame.
    fn on_control<'a>(
        &mut self,
        opcode: OpCode,
        payload: &'a [u8],
        out: &mut Vec<u8>,
    ) -> Result<Option<Event<'a>>, PeerError> {
        match opcode {
            OpCode::Ping => {
                // §5.5.2: the pong goes out with the input that owed it — here, in input order,
                // so two pings get two pongs and a ping between fragments is answered before the
                // message it interrupts is echoed. After a close frame was sent, no more frames.
                if self.close == Close::Open {
                    self.write_frame(OpCode::Pong, true, payload, out);
                }
                Ok(Some(Event::Ping(payload)))
            }
            OpCode::Pong => Ok(Some(Event::Pong(payload))),
            _ => self.on_close(payload, out),
        }
    }

    /// RFC 6455 §5.5.1, §7.1.2-§7.1.3: the peer's close frame.
    fn on_close<'a>(
        &mut self,
        payload: &'a [u8],
        out: &mut Vec<u8>,
    ) -> Result<Option<Event<'a>>, PeerError> {
        let (code, reason) = match payload {
            [] => (None, ""),
            [_] => return Err(PeerError::CloseTooShort),
            [hi, lo, reason @ ..] => {
                let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
                if !code.is_valid_on_wire() {
                    return Err(PeerError::InvalidCloseCode);
                }
                let reason = core::str::from_utf8(reason).map_err(|_| PeerError::InvalidUtf8)?;
                (Some(code), reason)
            }
        };
        if self.close == Close::Open {
            // §5.5.1: answer with a close frame, echoing the code.
            let echo = code.map(|c| c.0.to_be_bytes());
            let body: &[u8] = echo.as_ref().map_or(&[], |e| &e[..]);
            self.write_frame(OpCode::Close, true, body, out);
        }
        self.step_close(CloseInput::Received);
        Ok(Some(Event::Close { code, reason }))
    }

    /// Moves the closing handshake (the only place the close state changes).
    fn step_close(&mut self, input: CloseInput) {
        let deadline = self.now + Duration::from_micros(self.close_timeout_us);
        self.close = self.close.next(input, self.role, self.now, deadline);
    }

    /// §7.1.7 "Fail the WebSocket Connection": send a close frame with the error's code (once)
    /// and stop processing input.
    fn fail(&mut self, error: PeerError, out: &mut Vec<u8>) {
        if self.close == Close::Open {
            self.write_close(error.close_code(), error_reason(error), out);
        }
        self.read = Read::Broken;
        self.incoming = None;
        self.step_close(CloseInput::Failed);
    }

    /// The transport ended: the peer closed TCP, or reset it. Call it for a reset
    /// (`ECONNRESET`) too: once both close frames have crossed, the server ends TCP first
    /// (§7.1.1), and whether its end arrives as a FIN or as a reset (it may close with unread
    /// bytes of ours) does not change that the WebSocket closed cleanly.
    ///
    /// # Errors
    /// [`PeerError::AbnormalClosure`] (code 1006, never sent) if the transport ended before the
    /// peer's close frame arrived (§7.1.5), whether or not we had sent ours.
    pub fn feed_eof(&mut self, now: Instant) -> Result<(), PeerError> {
        self.now = now;
        let was = self.close;
        self.step_close(CloseInput::TransportEnded);
        self.incoming = None;
        match was {
            Close::Open | Close::Sent { .. } => Err(PeerError::AbnormalClosure),
            Close::AwaitingEof { .. } | Close::Closed => Ok(()),
        }
    }

    /// Enforces the closing-handshake timeout and the keep-alive pings.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<u8>) {
        self.now = now;
        match self.close {
            Close::Sent { .. } | Close::AwaitingEof { .. } => self.step_close(CloseInput::Timer),
            Close::Open => {
                let Some(interval) = self.ping_interval() else {
                    return;
                };
                if self.ping_outstanding {
                    if now >= self.last_heard + interval + interval {
                        self.fail(PeerError::KeepaliveTimeout, out);
                    }
                } else if now >= self.last_heard + interval {
                    self.write_frame(OpCode::Ping, true, b"", out);
                    self.ping_outstanding = true;
                }
            }
            _ => {}
        }
    }

    /// The next deadline: closing-handshake timeout or keep-alive.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.close {
            Close::Sent { deadline } | Close::AwaitingEof { deadline } => Some(deadline),
            Close::Open => self.ping_interval().map(|i| {
                if self.ping_outstanding {
                    self.last_heard + i + i
                } else {
                    self.last_heard + i
                }
            }),
            Close::Closed => None,
        }
    }

    /// Whether the transport should be closed once `out` is flushed.
    pub fn is_closed(&self) -> bool {
        self.close == Close::Closed
    }

    /// Whether a close frame has been sent or received: no more data messages will flow.
    pub fn is_closing(&self) -> bool {
        self.close != Close::Open
    }
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("read", &self.read)
            .field("close", &self.close)
            .field("sending", &self.sending)
            .finish_non_exhaustive()
    }
}

/// A duration in whole microseconds, saturating.
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The close reason sent for a failure: the error's description.
fn error_reason(error: PeerError) -> &'static str {
    match error {
        PeerError::InvalidUtf8 => "invalid UTF-8",
        PeerError::InvalidCompressedData => "invalid compressed data",
        PeerError::FrameTooLarge | PeerError::MessageTooLarge => "message too big",
        PeerError::KeepaliveTimeout => "timeout",
        _ => "protocol error",
    }
}
