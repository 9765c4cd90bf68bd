//! Server-Sent Events (WHATWG HTML "Server-sent events"), sans-IO.
//!
//! - [`encode`] / [`encode_comment`]: events and comments as field lines (§9.2.5).
//! - [`EventStream`]: one stream's keep-alive clock: a comment when it has been quiet for an
//!   interval, through `poll_timeout` / `handle_timeout`.
//! - [`Parser`]: the client side, exact to the standard's processing model (§9.2.6).
//! - [`RESPONSE_HEADERS`], [`resume_cursor`], [`shed`]: what a server's SSE response needs.
//!
//! A stream owes its client nothing in answer to input (the client sends nothing after the
//! request); what it writes comes from the application (`send`) or from time (`handle_timeout`),
//! as the crate's rule says ([crate#what-the-peer-is-owed-goes-out-with-the-input-that-owed-it]).
//!
//! The stream is a response body: the HTTP layer frames it (chunked in HTTP/1.1, until close
//! in HTTP/1.0). It is never compressed: a compressor would hold events back.

mod event;
mod parser;
#[cfg(test)]
mod tests;

pub use event::{Event, UsageError, encode, encode_comment, encode_into};
pub use parser::{Event as ParsedEvent, Item, Parser, Step, TooLarge};

use crate::http;
use crate::time::Instant;
use alloc::vec::Vec;
use core::time::Duration;

/// Response fields of an event stream: the type, no caching (the stream is live), and no
/// buffering by nginx-style proxies.
pub const RESPONSE_HEADERS: [(&str, &[u8]); 3] = [
    ("Content-Type", b"text/event-stream"),
    ("Cache-Control", b"no-store"),
    ("X-Accel-Buffering", b"no"),
];

/// One open event stream's clock.
#[derive(Clone, Debug)]
pub struct EventStream {
    keepalive: Duration,
    last_sent: Instant,
}

impl EventStream {
    /// A stream opened at `now`. Writes the opening comment, so that clients and proxies see
    /// the stream start before the first event.
    pub fn open(now: Instant, keepalive: Duration, out: &mut Vec<u8>) -> Self {
        encode_comment("ok", out);
        EventStream {
            keepalive,
            last_sent: now,
        }
    }

    /// Writes an event.
    ///
    /// # Errors
    /// As [`encode`].
    pub fn send(
        &mut self,
        now: Instant,
        event: &Event<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), UsageError> {
        encode(event, out)?;
        self.last_sent = now;
        Ok(())
    }

    /// Records that bytes were written at `now` by other means (resets the keep-alive clock).
    pub fn touch(&mut self, now: Instant) {
        self.last_sent = now;
    }

    /// When the next keep-alive comment is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(self.last_sent + self.keepalive)
    }

    /// Writes a keep-alive comment if the stream has been quiet for the interval.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<u8>) {
        if now >= self.last_sent + self.keepalive {
            out.extend_from_slice(b":\n\n");
            self.last_sent = now;
        }
    }
}

/// Where a reconnecting client wants to resume: the `Last-Event-ID` header, or for clients
/// that cannot set headers a `lastEventId` query parameter. `None` if absent or not a number.
pub fn resume_cursor(request: &http::Request<'_>) -> Option<u64> {
    let header = request
        .header("last-event-id")
        .and_then(|v| core::str::from_utf8(v).ok());
    header
        .or_else(|| request.query_param("lastEventId"))?
        .trim()
        .parse()
        .ok()
}

/// The body of a load-shedding answer: a `retry:` hint and nothing else. Answer it with status
/// `200` and close: a browser's `EventSource` reconnects after `retry_ms`, whereas a 503 or 204
/// would make it give up for good.
pub fn shed(retry_ms: u64, out: &mut Vec<u8>) {
    encode_retry(retry_ms, out);
}

/// Appends a `retry:` field on its own (WHATWG HTML §9.2.6: it sets the reconnection time and
/// dispatches nothing): a client that loses the stream reconnects after `retry_ms`.
pub fn encode_retry(retry_ms: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(b"retry: ");
    http::push_decimal(out, retry_ms);
    out.extend_from_slice(b"\n\n");
}
