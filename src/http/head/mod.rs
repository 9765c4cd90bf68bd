//! Message heads: finding the end of one in caller-owned input, reading a request head into a
//! borrowed view, checking the fields that decide framing, and writing heads out.
//!
//! RFC 9112 §2 (message format), §3 (request line), §4 (status line), §5 (field lines),
//! §6 (message body length); RFC 9110 §5 (fields), §7.2 (Host).
//!
//! Parsing is done once, by httparse, when the whole head is present. Until then [`HeadScan`]
//! remembers how far it has looked, so a head that arrives a byte at a time costs linear time
//! (re-parsing the buffer on every read is the quadratic pattern behind CVE-2023-43669).

mod encode;
mod framing;
mod grammar;
mod parser;
mod request;
mod scan;

pub use encode::reason_phrase;
pub(crate) use encode::{check_outgoing_fields, push_decimal, push_fields, push_hex};
pub(crate) use framing::check_fields;
pub(crate) use grammar::{is_tchar, is_token, list_contains, list_elements, trim_ows};
pub use parser::HeadParser;
pub use request::{Fields, OwnedRequest, Request};
pub(crate) use request::{classify, parse_request, parse_request_whole};
pub(crate) use scan::{HeadScan, HeadSpan, find_byte};

use crate::limits::Limits;
use core::time::Duration;

/// The bounds an HTTP machine keeps from [`Limits`]: only its own, so a connection does not
/// carry the WebSocket, push and reactor bounds (every idle keep-alive connection holds one).
#[derive(Clone, Debug)]
pub(crate) struct HttpLimits {
    pub max_request_line_bytes: usize,
    pub max_head_bytes: usize,
    pub max_headers: usize,
    pub max_body_bytes: u64,
    pub max_chunk_line_bytes: usize,
    pub max_trailer_bytes: usize,
    pub max_chunk_extension_bytes: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_rate_window: Duration,
    pub min_body_bytes_per_window: u64,
}

impl From<&Limits> for HttpLimits {
    fn from(l: &Limits) -> Self {
        HttpLimits {
            max_request_line_bytes: l.max_request_line_bytes,
            max_head_bytes: l.max_head_bytes,
            max_headers: l.max_headers,
            max_body_bytes: l.max_body_bytes,
            max_chunk_line_bytes: l.max_chunk_line_bytes,
            max_trailer_bytes: l.max_trailer_bytes,
            max_chunk_extension_bytes: l.max_chunk_extension_bytes,
            header_timeout: l.header_timeout,
            idle_timeout: l.idle_timeout,
            body_rate_window: l.body_rate_window,
            min_body_bytes_per_window: l.min_body_bytes_per_window,
        }
    }
}

/// Header slots httparse may fill: `Limits::max_headers` is clamped to this many.
pub(crate) const MAX_HEADER_SLOTS: usize = 128;

/// The protocol version of a message (RFC 9110 §6.2). Only 1.0 and 1.1 are spoken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: no Host required, connection closes unless `Connection: keep-alive`.
    Http10,
    /// HTTP/1.1: persistent by default (RFC 9112 §9.3).
    Http11,
}

/// How a message body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// No body.
    None,
    /// Exactly this many bytes (Content-Length).
    Length(u64),
    /// Chunked transfer coding (RFC 9112 §7.1).
    Chunked,
    /// Until the connection closes (responses only).
    CloseDelimited,
}
