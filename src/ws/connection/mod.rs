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

mod receive;
mod send;

use super::close_code::CloseCode;
use super::closing::{Close, CloseInput};
use super::error::PeerError;
use super::frame::OpCode;
use super::handshake::{MaskSource, Role, ValidatedUpgrade};
use super::utf8::Utf8Validator;
use crate::limits::Limits;
use crate::time::Instant;
use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::time::Duration;

#[cfg(feature = "deflate")]
use super::deflate::message::PerMessage;

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
#[must_use = "a step says how much input was consumed and what it produced"]
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
    /// `Limits::close_timeout`, in whole milliseconds (rounded up; four bytes, as every idle
    /// connection holds it).
    close_timeout_ms: u32,
    /// `Limits::ping_interval` in whole milliseconds (rounded up); 0 for none.
    ping_interval_ms: u32,
    fragments: bool,
    /// RSV bits an extension has claimed (none without one).
    allowed_rsv: u8,
    read: Read,
    /// Where the closing handshake stands (with `clock`, the [`Close`] state).
    stage: Stage,
    /// Kind of the outgoing fragmented message in progress.
    sending: Option<MessageKind>,
    now: Instant,
    /// While open: when the peer was last heard (the keep-alive clock). While closing: the
    /// closing deadline. One field for both, as every idle connection holds it.
    clock: Instant,
    ping_outstanding: bool,
    /// What only some connections need, behind one pointer that an idle server connection
    /// without compression leaves empty.
    extras: Option<Box<Extras>>,
}

/// [`Close`] without its deadline (kept in `Connection::clock`): one byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Open,
    Sent,
    AwaitingEof,
    Closed,
}

/// The parts of a connection that most idle connections do not have.
#[derive(Default)]
struct Extras {
    /// The message being received, until it is whole.
    incoming: Option<Incoming>,
    /// A client's source of masking keys (§5.3), from its handshake; `None` for a server.
    masks: Option<MaskSource>,
    /// permessage-deflate codecs, when the handshake agreed to it.
    #[cfg(feature = "deflate")]
    deflate: Option<PerMessage>,
}

impl Extras {
    fn is_empty(&self) -> bool {
        #[cfg(feature = "deflate")]
        if self.deflate.is_some() {
            return false;
        }
        self.incoming.is_none() && self.masks.is_none()
    }
}

impl Connection {
    /// A connection for the role the handshake established.
    pub fn new(upgrade: ValidatedUpgrade, limits: &Limits) -> Self {
        let extras = Extras {
            incoming: None,
            masks: upgrade.masks,
            #[cfg(feature = "deflate")]
            deflate: upgrade
                .deflate
                .map(|(agreed, level)| PerMessage::new(&agreed, upgrade.role, level)),
        };
        #[cfg(feature = "deflate")]
        let allowed_rsv = if extras.deflate.is_some() { RSV1 } else { 0 };
        #[cfg(not(feature = "deflate"))]
        let allowed_rsv = 0;
        Connection {
            role: upgrade.role,
            max_frame: limits.max_frame_bytes,
            max_message: limits.max_message_bytes,
            close_timeout_ms: millis(limits.close_timeout),
            ping_interval_ms: limits.ping_interval.map_or(0, |i| millis(i).max(1)),
            fragments: false,
            allowed_rsv,
            read: Read::Header,
            stage: Stage::Open,
            sending: None,
            now: Instant::ZERO,
            clock: Instant::ZERO,
            ping_outstanding: false,
            extras: (!extras.is_empty()).then(|| Box::new(extras)),
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
        self.heard(now);
    }

    fn ping_interval(&self) -> Option<Duration> {
        (self.ping_interval_ms > 0).then(|| Duration::from_millis(self.ping_interval_ms.into()))
    }

    /// Which end we are.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether (compressor, inflater) are allocated: for tests of the memory rules.
    #[cfg(all(test, feature = "deflate"))]
    pub(crate) fn codecs_held(&self) -> (bool, bool) {
        self.deflate().map_or((false, false), |p| {
            (p.tx.is_allocated(), p.rx.is_allocated())
        })
    }

    /// The message being received, if one is unfinished.
    fn incoming(&self) -> Option<&Incoming> {
        self.extras.as_ref()?.incoming.as_ref()
    }

    fn incoming_mut(&mut self) -> Option<&mut Incoming> {
        self.extras.as_mut()?.incoming.as_mut()
    }

    /// Ends the message being received (the extras go when nothing else is in them).
    fn take_incoming(&mut self) -> Option<Incoming> {
        let extras = self.extras.as_mut()?;
        let taken = extras.incoming.take();
        if extras.is_empty() {
            self.extras = None;
        }
        taken
    }

    /// The message being received, begun with `start` if there is none.
    fn incoming_or_begin(&mut self, start: impl FnOnce() -> Incoming) -> &mut Incoming {
        self.extras
            .get_or_insert_with(Box::default)
            .incoming
            .get_or_insert_with(start)
    }

    #[cfg(feature = "deflate")]
    fn deflate(&self) -> Option<&PerMessage> {
        self.extras.as_ref()?.deflate.as_ref()
    }

    #[cfg(feature = "deflate")]
    fn deflate_mut(&mut self) -> Option<&mut PerMessage> {
        self.extras.as_mut()?.deflate.as_mut()
    }

    /// Where the closing handshake stands.
    fn close(&self) -> Close {
        match self.stage {
            Stage::Open => Close::Open,
            Stage::Sent => Close::Sent {
                deadline: self.clock,
            },
            Stage::AwaitingEof => Close::AwaitingEof {
                deadline: self.clock,
            },
            Stage::Closed => Close::Closed,
        }
    }

    /// The peer was heard from at `now` (the keep-alive clock runs only while open).
    fn heard(&mut self, now: Instant) {
        if self.stage == Stage::Open {
            self.clock = now;
        }
    }

    /// Moves the closing handshake (the only place the close state changes).
    fn step_close(&mut self, input: CloseInput) {
        let deadline = self.now + Duration::from_millis(self.close_timeout_ms.into());
        match self.close().next(input, self.role, self.now, deadline) {
            Close::Open => self.stage = Stage::Open,
            Close::Sent { deadline } => (self.stage, self.clock) = (Stage::Sent, deadline),
            Close::AwaitingEof { deadline } => {
                (self.stage, self.clock) = (Stage::AwaitingEof, deadline)
            }
            Close::Closed => self.stage = Stage::Closed,
        }
    }

    /// §7.1.7 "Fail the WebSocket Connection": send a close frame with the error's code (once)
    /// and stop processing input.
    fn fail(&mut self, error: PeerError, out: &mut Vec<u8>) {
        if self.close() == Close::Open {
            self.write_close(error.close_code(), error_reason(error), out);
        }
        self.read = Read::Broken;
        self.take_incoming();
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
        let was = self.close();
        self.step_close(CloseInput::TransportEnded);
        self.take_incoming();
        match was {
            Close::Open | Close::Sent { .. } => Err(PeerError::AbnormalClosure),
            Close::AwaitingEof { .. } | Close::Closed => Ok(()),
        }
    }

    /// Enforces the closing-handshake timeout and the keep-alive pings.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<u8>) {
        self.now = now;
        match self.close() {
            Close::Sent { .. } | Close::AwaitingEof { .. } => self.step_close(CloseInput::Timer),
            Close::Open => {
                let Some(interval) = self.ping_interval() else {
                    return;
                };
                if self.ping_outstanding {
                    if now >= self.clock + interval + interval {
                        self.fail(PeerError::KeepaliveTimeout, out);
                    }
                } else if now >= self.clock + interval {
                    self.write_frame(OpCode::Ping, true, b"", out);
                    self.ping_outstanding = true;
                }
            }
            _ => {}
        }
    }

    /// The next deadline: closing-handshake timeout or keep-alive.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.close() {
            Close::Sent { deadline } | Close::AwaitingEof { deadline } => Some(deadline),
            Close::Open => self.ping_interval().map(|i| {
                if self.ping_outstanding {
                    self.clock + i + i
                } else {
                    self.clock + i
                }
            }),
            Close::Closed => None,
        }
    }

    /// Whether the transport should be closed once `out` is flushed.
    pub fn is_closed(&self) -> bool {
        self.close() == Close::Closed
    }

    /// Whether a close frame has been sent or received: no more data messages will flow.
    pub fn is_closing(&self) -> bool {
        self.close() != Close::Open
    }

    /// Bytes held for a message being assembled from its fragments (or inflated): what the
    /// peer makes this side keep between frames, at most `Limits::max_message_bytes`.
    pub fn assembling(&self) -> usize {
        self.incoming().map_or(0, |m| m.buf.capacity())
    }

    /// Bytes of permessage-deflate state allocated now (RFC 7692 §7.2.3): the inflater and
    /// compressor a side keeps between messages under context takeover (about 43 KiB and
    /// 300 KiB), or for the message under way. Zero without compression.
    pub fn codec_bytes(&self) -> usize {
        #[cfg(feature = "deflate")]
        if let Some(p) = self.deflate() {
            return p.tx.held_bytes() + p.rx.held_bytes();
        }
        0
    }
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("read", &self.read)
            .field("close", &self.close())
            .field("sending", &self.sending)
            .finish_non_exhaustive()
    }
}

/// A duration in whole milliseconds, rounded up, saturating at `u32::MAX` (49 days).
fn millis(d: Duration) -> u32 {
    let ms = d.as_millis() + u128::from(d.subsec_nanos() % 1_000_000 != 0);
    u32::try_from(ms).unwrap_or(u32::MAX)
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

#[cfg(test)]
mod tests {
    use super::millis;
    use core::time::Duration;

    #[test]
    fn timeouts_are_kept_in_whole_milliseconds_rounded_up() {
        assert_eq!(millis(Duration::ZERO), 0);
        assert_eq!(millis(Duration::from_micros(1)), 1);
        assert_eq!(millis(Duration::from_millis(1500)), 1500);
        assert_eq!(millis(Duration::from_micros(1_500_001)), 1501);
        assert_eq!(millis(Duration::from_secs(u64::MAX)), u32::MAX);
    }
}
