//! The receiving half of a WebSocket connection: frames read from the peer's bytes (RFC 6455
//! §5.2), checked (§5.1 masking, §5.4 fragmentation, §5.5 control frames, §8.1 UTF-8), unmasked
//! in place, inflated when permessage-deflate is on (RFC 7692 §6.2), and handed out as events;
//! control frames answered (§5.5.2 Ping, §5.5.1 Close).

use super::{Connection, Event, Incoming, RSV1, Read, Step};
use crate::time::Instant;
use crate::ws::close_code::CloseCode;
use crate::ws::closing::{Close, CloseInput};
#[cfg(feature = "deflate")]
use crate::ws::deflate::message::InflateError;
use crate::ws::error::PeerError;
use crate::ws::frame::{Header, OpCode};
use crate::ws::handshake::Role;
use crate::ws::mask::apply_mask;
use crate::ws::utf8::Utf8Validator;
use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

impl Connection {
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
            self.heard(now);
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
        if self.read != Read::Header || self.fragments || !matches!(self.close(), Close::Open) {
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
        self.heard(now);
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
        if matches!(self.close(), Close::Closed | Close::AwaitingEof { .. })
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
                    let payload = frame
                        .get_mut(header_len..)
                        .expect("a frame holds its header");
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
                let data = input.get_mut(..take).expect("take is clamped to input");
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
        let closing = !matches!(self.close(), Close::Open);
        match (h.opcode, self.incoming()) {
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
        let so_far = self.incoming().map_or(0, |m| m.total);
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
        if !matches!(self.close(), Close::Open) {
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
                let payload = frame
                    .get_mut(header_len..)
                    .expect("a frame holds its header");
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
        let incoming = self.incoming_or_begin(|| Incoming {
            text,
            compressed,
            total: 0,
            inflated: 0,
            first: true,
            utf8: Utf8Validator::default(),
            buf: Vec::new(),
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
            if let Some(m) = self.incoming_mut().filter(|m| !m.compressed) {
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
        let fragments = self.fragments;
        let Some(m) = self.incoming_mut() else {
            return Ok(None);
        };
        if m.compressed {
            return self.on_compressed_payload(data, last);
        }
        check_text(m.text, &mut m.utf8, data, last)?;
        if fragments {
            return Ok(self.fragment(Cow::Borrowed(data), last));
        }
        m.buf.extend_from_slice(data);
        self.finish_message(last)
    }

    /// A piece of the current message as an [`Event::Fragment`] (fragment delivery mode).
    fn fragment<'a>(&mut self, data: Cow<'a, [u8]>, last: bool) -> Option<Event<'a>> {
        let m = self.incoming_mut()?;
        let first = core::mem::replace(&mut m.first, false);
        let text = m.text;
        if last {
            self.take_incoming();
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
        let Some(m) = self.take_incoming() else {
            return Ok(None);
        };
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
        let (fragments, max_message) = (self.fragments, self.max_message);
        let Some(extras) = self.extras.as_deref_mut() else {
            return Err(PeerError::ReservedBits);
        };
        let (Some(m), Some(pmd)) = (extras.incoming.as_mut(), extras.deflate.as_mut()) else {
            return Err(PeerError::ReservedBits);
        };
        let mut budget = max_message.saturating_sub(m.inflated);
        let mut piece = Vec::new();
        let out = if fragments { &mut piece } else { &mut m.buf };
        let start = out.len();
        pmd.rx
            .inflate(data, last, out, &mut budget)
            .map_err(|e| match e {
                InflateError::TooLarge => PeerError::MessageTooLarge,
                InflateError::Corrupt => PeerError::InvalidCompressedData,
            })?;
        m.inflated = max_message - budget;
        let fresh = out.get(start..).expect("inflating only appends");
        check_text(m.text, &mut m.utf8, fresh, last)?;
        if fragments {
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
                if self.close() == Close::Open {
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
        if self.close() == Close::Open {
            // §5.5.1: answer with a close frame, echoing the code.
            let echo = code.map(|c| c.0.to_be_bytes());
            let body: &[u8] = echo.as_ref().map_or(&[], |e| &e[..]);
            self.write_frame(OpCode::Close, true, body, out);
        }
        self.step_close(CloseInput::Received);
        Ok(Some(Event::Close { code, reason }))
    }
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
