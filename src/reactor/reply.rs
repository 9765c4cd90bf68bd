//! What an application answers and how it names connections: [`ConnId`], [`Response`],
//! [`Reply`] and the WebSocket [`Message`] it receives.

use std::borrow::Cow;
use std::time::Duration;

/// A connection, as the application names it. Valid on the worker that reported it; a stale
/// id (its connection closed) is refused by every [`Ctx`](super::Ctx) method rather than reaching a new
/// connection that reused the slot.
///
/// Ids order in a fixed but scattered way, not by age: sets of connections keyed by id fill
/// their B-tree nodes as keys inserted at random do (about two thirds full), not half full as
/// keys that only ever grow leave them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnId(pub(crate) u64);

impl ConnId {
    /// The key ids order by: a bijection of the id (an odd multiplier, then the halves
    /// swapped), so no two ids compare equal.
    fn scattered(self) -> u64 {
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(32)
    }
}

impl Ord for ConnId {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.scattered().cmp(&other.scattered())
    }
}

impl PartialOrd for ConnId {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A response with its whole body.
#[derive(Clone, Debug)]
pub struct Response {
    /// The status code (RFC 9110 §15).
    pub status: u16,
    /// Header fields. Content-Length, Transfer-Encoding and Connection are written by the
    /// connection; Date is added by the reactor.
    pub headers: Vec<(Cow<'static, str>, Cow<'static, [u8]>)>,
    /// The body.
    pub body: Cow<'static, [u8]>,
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Cow::Borrowed(&[]),
        }
    }

    /// `200` with a `text/plain` body.
    pub fn text(body: impl Into<Cow<'static, str>>) -> Self {
        let body = match body.into() {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        };
        Response::new(200)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(body)
    }

    /// Adds a header field.
    pub fn header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Self {
        let value = match value.into() {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        };
        self.headers.push((name.into(), value));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Cow<'static, [u8]>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the status.
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }
}

/// How the application answers a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum Reply {
    /// Answer now.
    Response(Response),
    /// Accept a WebSocket upgrade (RFC 6455 §4.2.2), choosing a subprotocol the client offered.
    /// If the request is not a valid upgrade, the client gets `400`/`426` instead. Messages then
    /// arrive at [`App::ws_message`](super::App::ws_message).
    WebSocket {
        /// The chosen subprotocol, if any.
        protocol: Option<Cow<'static, str>>,
    },
    /// Start a response whose body is streamed with [`Ctx::stream_write`](super::Ctx::stream_write) (chunked in HTTP/1.1,
    /// until close in HTTP/1.0) until [`Ctx::stream_end`](super::Ctx::stream_end). `first` is sent at once, so that
    /// clients and proxies see the stream open.
    Stream {
        /// The status code.
        status: u16,
        /// Header fields.
        headers: Vec<(Cow<'static, str>, Cow<'static, [u8]>)>,
        /// The first body bytes.
        first: Cow<'static, [u8]>,
    },
    /// Answer later with [`Ctx::respond`](super::Ctx::respond); after `timeout`, [`App::deferred_timeout`](super::App::deferred_timeout) answers.
    Defer {
        /// How long the request may wait.
        timeout: Option<Duration>,
    },
}

impl From<Response> for Reply {
    fn from(r: Response) -> Reply {
        Reply::Response(r)
    }
}

/// A WebSocket message from a client.
#[derive(Debug)]
pub enum Message<'a> {
    /// A text message.
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}
