//! HTTP/1.1 (RFC 9110 semantics, RFC 9112 message syntax), sans-IO.
//!
//! [`Connection`] is the server side of one connection: it turns request bytes into
//! [`Event`]s and writes responses. [`client::Connection`] is the small client side used by the
//! WebSocket client handshake, the SSE client and the tests. Neither touches a socket or a clock.
//!
//! What this module owns: finding and parsing message heads (httparse does the grammar), the
//! framing rules of RFC 9112 §6 (Content-Length, chunked, close-delimited), persistence and
//! pipelining (§9), `Expect: 100-continue` (RFC 9110 §10.1.1), and the upgrade hand-off
//! (RFC 9110 §7.8). What it leaves to others: routing, content, compression, and time itself
//! (deadlines are computed here, but the caller passes `now`).
//!
//! Replies follow the crate's rule ([crate#what-the-peer-is-owed-goes-out-with-the-input-that-owed-it]):
//! an error response is written by the `feed` call that read the bad input.
//!
//! Where we are stricter than the RFC allows: a bare LF is not accepted as a line terminator
//! (RFC 9112 §2.2 permits either), and a request with both Transfer-Encoding and Content-Length
//! is refused rather than read by Transfer-Encoding (§6.3 allows either; refusing closes a
//! request-smuggling door).

mod body;
pub mod client;
#[cfg(feature = "std")]
mod date;
mod error;
pub mod forwarded;
mod head;
mod server;
#[cfg(test)]
mod tests;

pub use body::{encode_chunk, encode_last_chunk};
#[cfg(feature = "std")]
pub(crate) use date::HttpDate;
#[cfg(feature = "std")]
pub use date::civil_date;
pub use error::{PeerError, UsageError};
pub use head::{BodyKind, Fields, HeadParser, OwnedRequest, Request, Version, reason_phrase};
pub use server::{BodyStream, Connection, Event, ResponseBody, Step};

pub(crate) use head::{is_token, list_contains, list_elements, push_decimal, trim_ows};
