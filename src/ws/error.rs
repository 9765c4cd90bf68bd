//! What can go wrong on a WebSocket, and the close code each failure sends.

use super::close_code::CloseCode;

/// The peer broke a rule of RFC 6455. Each variant knows its close code
/// ([`PeerError::close_code`]); the connection has already sent that close frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// RFC 6455 §5.2: an RSV bit set without an extension that defines it.
    #[error("reserved bit set without a negotiated extension")]
    ReservedBits,
    /// RFC 6455 §5.2: opcode 0x3–0x7 or 0xB–0xF.
    #[error("reserved opcode")]
    ReservedOpcode,
    /// RFC 6455 §5.2: the 64-bit payload length has its most significant bit set.
    #[error("payload length has its top bit set")]
    LengthTopBit,
    /// RFC 6455 §5.5: a control frame that is fragmented.
    #[error("fragmented control frame")]
    FragmentedControl,
    /// RFC 6455 §5.5: a control frame with more than 125 bytes of payload.
    #[error("control frame payload over 125 bytes")]
    ControlTooLong,
    /// RFC 6455 §5.1: a client frame without a mask.
    #[error("client frame not masked")]
    UnmaskedFrame,
    /// RFC 6455 §5.1: a server frame with a mask.
    #[error("server frame masked")]
    MaskedFrame,
    /// RFC 6455 §5.4: a continuation frame with no message in progress.
    #[error("continuation without a message in progress")]
    UnexpectedContinuation,
    /// RFC 6455 §5.4: a new text or binary frame in the middle of a fragmented message.
    #[error("new message before the previous one ended")]
    ExpectedContinuation,
    /// RFC 6455 §8.1: a text message, or a close reason, that is not UTF-8.
    #[error("invalid UTF-8 in text")]
    InvalidUtf8,
    /// RFC 7692 §7.2.2: a compressed message that is not valid DEFLATE data (RFC 1951).
    #[error("invalid compressed data")]
    InvalidCompressedData,
    /// RFC 6455 §5.5.1: a close payload of one byte (a code needs two).
    #[error("close payload of one byte")]
    CloseTooShort,
    /// RFC 6455 §7.4: a close code that may not be sent on the wire.
    #[error("invalid close code")]
    InvalidCloseCode,
    /// RFC 6455 §10.4: a frame over `Limits::max_frame_bytes`.
    #[error("frame too large")]
    FrameTooLarge,
    /// RFC 6455 §10.4: a message over `Limits::max_message_bytes`.
    #[error("message too large")]
    MessageTooLarge,
    /// RFC 6455 §5.5.2: no frame arrived within the keep-alive interval after our ping.
    #[error("peer stopped answering pings")]
    KeepaliveTimeout,
    /// RFC 6455 §7.1.5: the TCP connection closed without a closing handshake.
    #[error("connection closed without a close frame")]
    AbnormalClosure,
}

impl PeerError {
    /// The close code this failure sends (RFC 6455 §7.4.1).
    pub fn close_code(self) -> CloseCode {
        use PeerError::*;
        CloseCode(match self {
            InvalidUtf8 | InvalidCompressedData => 1007,
            FrameTooLarge | MessageTooLarge => 1009,
            KeepaliveTimeout => 1001,
            AbnormalClosure => 1006,
            ReservedBits
            | ReservedOpcode
            | LengthTopBit
            | FragmentedControl
            | ControlTooLong
            | UnmaskedFrame
            | MaskedFrame
            | UnexpectedContinuation
            | ExpectedContinuation
            | CloseTooShort
            | InvalidCloseCode => 1002,
        })
    }
}

/// The caller asked for something the connection cannot do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// RFC 6455 §5.5: ping, pong and close payloads are at most 125 bytes (a close reason 123).
    #[error("control payload over 125 bytes")]
    ControlTooLong,
    /// RFC 6455 §7.4: the close code may not be sent (1005, 1006, 1015, or unassigned).
    #[error("close code may not be sent")]
    InvalidCloseCode,
    /// RFC 6455 §5.5.1: no data may be sent after a close frame.
    #[error("a close frame was already sent")]
    Closing,
    /// A fragment continued no message, or a message began inside another.
    #[error("fragment out of order")]
    FragmentOrder,
    /// A message compressed for another [`SharedKey`](crate::ws::deflate::SharedKey), or a
    /// connection that does not compress each message afresh (RFC 7692 §7.1.1.1).
    #[error("the message was not compressed the way this connection compresses")]
    NotShared,
}

/// Why an opening handshake failed (RFC 6455 §4.2.1 for a server, §4.1 for a client).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// §4.2.1 item 1: the method is not GET, or the version is not HTTP/1.1 or later.
    #[error("an upgrade must be an HTTP/1.1 GET")]
    NotGet,
    /// §4.2.1 items 3-4: no `Upgrade: websocket` or no `Connection: upgrade`.
    #[error("not a WebSocket upgrade request")]
    NotUpgrade,
    /// §4.2.1 item 5: Sec-WebSocket-Key missing, repeated, or not 16 bytes in base64.
    #[error("invalid Sec-WebSocket-Key")]
    InvalidKey,
    /// §4.2.1 item 6 / §4.4: a version other than 13 (answered 426 with the version we speak).
    #[error("unsupported Sec-WebSocket-Version")]
    UnsupportedVersion,
    /// §4.1: the server answered with a status other than 101.
    #[error("server did not switch protocols")]
    NotSwitching,
    /// §4.1 item 4: Sec-WebSocket-Accept missing or wrong.
    #[error("wrong Sec-WebSocket-Accept")]
    WrongAccept,
    /// §4.1 item 6: the server chose a subprotocol the client did not offer.
    #[error("unrequested subprotocol")]
    UnrequestedProtocol,
    /// §4.1 item 5: the server chose an extension the client did not offer.
    #[error("unrequested extension")]
    UnrequestedExtension,
    /// RFC 7692 §7.1: the server's permessage-deflate parameters are invalid or beyond what
    /// the client offered.
    #[error("invalid extension parameters")]
    InvalidExtension,
}

impl HandshakeError {
    /// The status a server answers with (RFC 6455 §4.2.2, §4.4).
    pub fn status(self) -> u16 {
        match self {
            HandshakeError::UnsupportedVersion => 426,
            _ => 400,
        }
    }
}
