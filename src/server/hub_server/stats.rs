//! What `/stats` counts: per technique, connections, requests, events, and the bytes on the
//! wire (heads and framing included, by the rules the HTTP machine follows).

use crate::http::Request;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one push technique.
#[derive(Debug, Default)]
pub struct Counters {
    /// Open connections (streams, sockets, parked requests).
    pub connections: AtomicU64,
    /// Requests served.
    pub requests: AtomicU64,
    /// Requests answered with no event.
    pub empty: AtomicU64,
    /// Events delivered.
    pub events: AtomicU64,
    /// Body and payload bytes received.
    pub bytes_in: AtomicU64,
    /// Bytes sent on the wire: response heads, HTTP chunk and WebSocket frame framing, and
    /// payloads.
    pub bytes_out: AtomicU64,
}

impl Counters {
    pub(super) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn json(&self, out: &mut String) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let _ = write!(
            out,
            "{{\"connections\":{},\"requests\":{},\"empty\":{},\"events\":{},\"bytes_in\":{},\"bytes_out\":{}}}",
            get(&self.connections),
            get(&self.requests),
            get(&self.empty),
            get(&self.events),
            get(&self.bytes_in),
            get(&self.bytes_out)
        );
    }
}

/// Counters for every technique.
#[derive(Debug, Default)]
pub struct Stats {
    /// `GET /poll?wait=0`.
    pub short_poll: Counters,
    /// `GET /poll`.
    pub long_poll: Counters,
    /// `GET /events`.
    pub sse: Counters,
    /// `GET /ws`.
    pub websocket: Counters,
    /// `POST /publish` and WebSocket publishes.
    pub published: AtomicU64,
}

impl Counters {
    pub(super) fn sub_connection(counters: &Counters) {
        let _ = counters
            .connections
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_sub(1));
    }
}

/// The bytes of a response to `req` on the wire, as the HTTP machine and the reactor write it:
/// status line, the response's fields, `Date` (the reactor's), `Content-Length` (RFC 9110
/// §8.6: none for 204, and none for an empty body that is not sent), the `Connection` field
/// the request calls for (RFC 9112 §9.3), the blank line, and the body unless the request was
/// HEAD (RFC 9110 §9.3.2) or the status has none. `body` is `None` for a streamed body, whose
/// head says `Transfer-Encoding: chunked` in HTTP/1.1 and ends at close in HTTP/1.0.
pub(super) fn response_bytes(req: Shape, status: u16, fields: &Fields, body: Option<&[u8]>) -> u64 {
    const DATE: usize = "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n".len();
    let http11 = req.http11;
    let no_body = req.head || status == 204 || status == 304;
    let mut n = "HTTP/1.1 200 \r\n".len() + crate::http::reason_phrase(status).len() + DATE + 2;
    n += fields
        .iter()
        .map(|(name, value)| name.len() + 2 + value.len() + 2)
        .sum::<usize>();
    let mut keep_alive = req.keep_alive;
    match body {
        Some(body) if status != 204 && !(body.is_empty() && no_body) => {
            n += "Content-Length: \r\n".len() + body.len().to_string().len();
        }
        None if http11 && !no_body => n += "Transfer-Encoding: chunked\r\n".len(),
        None if !no_body => keep_alive = false,
        _ => {}
    }
    if !keep_alive {
        n += "Connection: close\r\n".len();
    } else if !http11 {
        n += "Connection: keep-alive\r\n".len();
    }
    if !no_body {
        n += body.map_or(0, <[u8]>::len);
    }
    n as u64
}

/// A response's header fields.
pub(super) type Fields = Vec<(Cow<'static, str>, Cow<'static, [u8]>)>;

/// What of a request decides how its response is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Shape {
    http11: bool,
    keep_alive: bool,
    head: bool,
}

impl Shape {
    /// A keep-alive HTTP/1.1 GET: nearly every request.
    pub(super) const USUAL: Shape = Shape {
        http11: true,
        keep_alive: true,
        head: false,
    };

    pub(super) fn of(req: &Request<'_>) -> Shape {
        Shape {
            http11: req.version == crate::http::Version::Http11,
            keep_alive: req.keep_alive,
            head: req.method == "HEAD",
        }
    }

    /// The bytes of body piece `len` as the HTTP machine streams it: a chunk in HTTP/1.1
    /// (RFC 9112 §7.1: size in hex, CRLF, data, CRLF), as it is in HTTP/1.0.
    pub(super) fn streamed(self, len: usize) -> u64 {
        match (self.head, self.http11) {
            (true, _) => 0,
            (false, true) if len > 0 => (format!("{len:x}").len() + 4 + len) as u64,
            (false, true) => 0,
            (false, false) => len as u64,
        }
    }
}

/// The `101` answering a WebSocket upgrade without subprotocol or extension (RFC 6455 §4.2.2).
pub(super) const WS_101_BYTES: u64 = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
    .len()
    + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nConnection: Upgrade\r\n\r\n".len())
    as u64;
