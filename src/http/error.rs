//! What can go wrong in an HTTP/1.1 exchange, and the status code each answer carries.

/// The peer broke a rule of RFC 9110 / RFC 9112.
///
/// Each variant knows the response a server owes for it ([`PeerError::status`]). After a peer
/// error the connection writes that response (if nothing else was in flight), stops reading and
/// must be closed: a server never parses a second request out of a rejected one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// RFC 9112 §2.2: a CR not immediately followed by LF.
    #[error("bare CR in the message head or framing")]
    BareCr,
    /// RFC 9112 §2.2 / §7.1: a line ended by LF alone (we do not accept bare LF as a terminator).
    #[error("line ended by LF without CR")]
    BareLf,
    /// RFC 9112 §3: the request line is longer than `Limits::max_request_line_bytes`.
    #[error("request line too long")]
    RequestLineTooLong,
    /// RFC 6585 §5: the head is longer than `Limits::max_head_bytes`.
    #[error("message head too large")]
    HeadTooLarge,
    /// RFC 6585 §5: more header fields than `Limits::max_headers`.
    #[error("too many header fields")]
    TooManyHeaders,
    /// RFC 9112 §3 / §5: the start line or a field line does not follow the grammar.
    #[error("malformed message head")]
    MalformedHead,
    /// RFC 9112 §5.1: whitespace between a field name and its colon.
    #[error("whitespace before the colon of a field")]
    WhitespaceBeforeColon,
    /// RFC 9112 §5.2: a field line folded onto the next line (obs-fold).
    #[error("obsolete line folding")]
    ObsoleteFold,
    /// RFC 9110 §6.2: a well-formed version we do not implement (only HTTP/1.0 and 1.1).
    #[error("unsupported HTTP version")]
    UnsupportedVersion,
    /// RFC 9112 §3.2: an HTTP/1.1 request without a Host field.
    #[error("missing Host field")]
    MissingHost,
    /// RFC 9112 §3.2: more than one Host field.
    #[error("more than one Host field")]
    DuplicateHost,
    /// RFC 9112 §3.2 / RFC 3986 §3.2.2: a Host value that is not `uri-host [ ":" port ]`.
    #[error("invalid Host field")]
    InvalidHost,
    /// RFC 9112 §3.2.2 / RFC 9110 §4.2.1: an absolute-form target whose authority is empty or
    /// not `uri-host [ ":" port ]`.
    #[error("invalid authority in the request target")]
    InvalidTarget,
    /// RFC 9110 §8.6: Content-Length is not a string of digits, or does not fit in 64 bits.
    #[error("invalid Content-Length")]
    InvalidContentLength,
    /// RFC 9110 §8.6 / RFC 9112 §6.3: several Content-Length values that differ.
    #[error("conflicting Content-Length values")]
    ConflictingContentLength,
    /// RFC 9112 §6.3: both Transfer-Encoding and Content-Length (a smuggling vector).
    #[error("both Transfer-Encoding and Content-Length")]
    ContentLengthWithTransferEncoding,
    /// RFC 9112 §6.3: a request whose final transfer coding is not chunked, or that applies
    /// chunked twice: its length cannot be determined.
    #[error("final transfer coding is not chunked")]
    ChunkedNotFinal,
    /// RFC 9112 §6.1: a transfer coding other than chunked (501 Not Implemented).
    #[error("unsupported transfer coding")]
    UnsupportedTransferCoding,
    /// RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message, whose framing is then unreliable.
    #[error("Transfer-Encoding in an HTTP/1.0 message")]
    TransferEncodingInHttp10,
    /// RFC 9110 §15.5.14: the body (declared or counted) is over `Limits::max_body_bytes`.
    #[error("body too large")]
    BodyTooLarge,
    /// RFC 9110 §10.1.1: an Expect value other than `100-continue` (417 Expectation Failed).
    #[error("unsupported expectation")]
    UnsupportedExpectation,
    /// RFC 9112 §7.1: a chunk size that is empty or not hexadecimal.
    #[error("invalid chunk size")]
    InvalidChunkSize,
    /// RFC 9112 §7.1: a chunk size that does not fit in 64 bits.
    #[error("chunk size overflows")]
    ChunkSizeOverflow,
    /// RFC 9112 §7.1.1: a chunk-size line (with extensions) longer than
    /// `Limits::max_chunk_line_bytes`.
    #[error("chunk line too long")]
    ChunkLineTooLong,
    /// RFC 9112 §7.1.1: the chunk extensions of one body, together, over
    /// `Limits::max_chunk_extension_bytes`.
    #[error("chunk extensions too large")]
    ChunkExtensionsTooLarge,
    /// RFC 9112 §7.1: chunk data not followed by CRLF.
    #[error("chunk data not followed by CRLF")]
    MissingChunkCrlf,
    /// RFC 9112 §7.1.2: a malformed trailer field line.
    #[error("malformed trailer field")]
    InvalidTrailer,
    /// RFC 9112 §7.1.2: a trailer section over `Limits::max_trailer_bytes`.
    #[error("trailer section too large")]
    TrailerTooLarge,
    /// RFC 9110 §15.5.9: the head was not complete by `Limits::header_timeout`.
    #[error("request head not received in time")]
    HeadTimeout,
    /// RFC 9110 §15.5.9: the body arrived slower than `Limits::min_body_bytes_per_window`.
    #[error("request body too slow")]
    BodyTooSlow,
    /// RFC 9112 §8: the peer closed the connection in the middle of a message.
    #[error("connection closed in the middle of a message")]
    IncompleteMessage,
    /// RFC 9112 §4: a response status line that is not `HTTP-version SP 3DIGIT SP reason`.
    #[error("invalid status line")]
    InvalidStatusLine,
    /// RFC 9110 §15.2: a response arrived without a request to answer.
    #[error("response without a request")]
    UnexpectedResponse,
}

impl PeerError {
    /// The status code a server answers this error with (RFC 9110 §15).
    pub fn status(self) -> u16 {
        use PeerError::*;
        match self {
            RequestLineTooLong => 414,
            HeadTooLarge | TooManyHeaders | TrailerTooLarge => 431,
            UnsupportedVersion => 505,
            BodyTooLarge | ChunkExtensionsTooLarge => 413,
            UnsupportedExpectation => 417,
            UnsupportedTransferCoding => 501,
            HeadTimeout | BodyTooSlow => 408,
            BareCr
            | BareLf
            | MalformedHead
            | WhitespaceBeforeColon
            | ObsoleteFold
            | MissingHost
            | DuplicateHost
            | InvalidHost
            | InvalidTarget
            | InvalidContentLength
            | ConflictingContentLength
            | ContentLengthWithTransferEncoding
            | ChunkedNotFinal
            | TransferEncodingInHttp10
            | InvalidChunkSize
            | ChunkSizeOverflow
            | ChunkLineTooLong
            | MissingChunkCrlf
            | InvalidTrailer
            | IncompleteMessage
            | InvalidStatusLine
            | UnexpectedResponse => 400,
        }
    }
}

/// The caller used a connection out of turn or asked for something HTTP cannot say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// A response was sent with no request waiting for one (RFC 9112 §9.3: responses answer
    /// requests in order).
    #[error("no request is waiting for a response")]
    NoRequestPending,
    /// A response head was sent twice for one request.
    #[error("the response head was already sent")]
    HeadAlreadySent,
    /// Body bytes or an end were sent with no response body in progress.
    #[error("no message body is in progress")]
    NoBodyInProgress,
    /// More body bytes than the declared Content-Length.
    #[error("body longer than its declared length")]
    BodyTooLong,
    /// The body ended before its declared Content-Length.
    #[error("body shorter than its declared length")]
    BodyTooShort,
    /// RFC 9110 §15.3.5 / §15.4.5: a body on a 204 or 1xx response.
    #[error("this status does not allow a body")]
    BodyNotAllowed,
    /// Content-Length, Transfer-Encoding and Connection are written by the connection itself,
    /// from the framing the caller chose; a caller-supplied one could contradict it.
    #[error("framing fields are set by the connection")]
    FramingHeader,
    /// A field name that is not a token, or a value with CR, LF or NUL (RFC 9110 §5.5).
    #[error("invalid header field")]
    InvalidHeader,
    /// A status outside 100..=599, or a request line with invalid characters.
    #[error("invalid start line")]
    InvalidStartLine,
    /// A 101 response to a request that did not ask to upgrade, or over HTTP/1.0.
    #[error("the request did not ask for an upgrade")]
    NotUpgradable,
    /// The connection is closed or upgraded; it takes no more commands.
    #[error("the connection is closed")]
    Closed,
}
