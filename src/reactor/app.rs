//! The application interface: what a handler sees and what it answers.
//!
//! An [`App`] answers each request with a [`Reply`]: a plain [`Response`], a WebSocket session,
//! a long-lived streaming response (Server-Sent Events ride on this), or a deferred answer (a
//! parked long-poll). It keeps per-worker state in [`App::Local`] and acts on connections
//! through [`Ctx`]. Any thread can broadcast an [`App::Notice`] to every worker with
//! [`Handle::notify`](super::Handle::notify): that is how a publish on one connection reaches
//! subscribers held by other workers.
//!
//! The reactor runs it; nothing here names a socket.

use super::Ctx;
use super::record::Ended;
use crate::http;
use std::borrow::Cow;
use std::time::Duration;

/// A connection, as the application names it. Valid on the worker that reported it; a stale
/// id (its connection closed) is refused by every [`Ctx`] method rather than reaching a new
/// connection that reused the slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub(crate) u64);

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
    /// arrive at [`App::ws_message`].
    WebSocket {
        /// The chosen subprotocol, if any.
        protocol: Option<Cow<'static, str>>,
    },
    /// Start a response whose body is streamed with [`Ctx::stream_write`] (chunked in HTTP/1.1,
    /// until close in HTTP/1.0) until [`Ctx::stream_end`]. `first` is sent at once, so that
    /// clients and proxies see the stream open.
    Stream {
        /// The status code.
        status: u16,
        /// Header fields.
        headers: Vec<(Cow<'static, str>, Cow<'static, [u8]>)>,
        /// The first body bytes.
        first: Cow<'static, [u8]>,
    },
    /// Answer later with [`Ctx::respond`]; after `timeout`, [`App::deferred_timeout`] answers.
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

/// An application served by the reactor. One value is shared by all workers; per-worker state
/// lives in [`App::Local`].
pub trait App: Send + Sync + 'static {
    /// State owned by one worker (for example, which of its connections follow which topic).
    type Local: 'static;
    /// A message broadcast to every worker by [`super::Handle::notify`].
    type Notice: Send + Sync + 'static;

    /// Makes a worker's local state (called once on each worker thread).
    fn local(&self) -> Self::Local;

    /// Answers a request. `body` is the whole request body (within `Limits::max_body_bytes`).
    fn request(
        &self,
        local: &mut Self::Local,
        request: &http::Request<'_>,
        body: &[u8],
        cx: &mut Ctx<'_, Self::Notice>,
    ) -> Reply;

    /// A message arrived on a WebSocket this app accepted ([`Ctx::conn`] says which).
    fn ws_message(
        &self,
        local: &mut Self::Local,
        message: Message<'_>,
        cx: &mut Ctx<'_, Self::Notice>,
    ) {
        let _ = (local, message, cx);
    }

    /// A WebSocket this app accepted is open: messages may be sent on it now.
    fn ws_open(&self, local: &mut Self::Local, cx: &mut Ctx<'_, Self::Notice>) {
        let _ = (local, cx);
    }

    /// The application's own next deadline on this worker, if any (for example the earliest
    /// parked long-poll's, from [`crate::longpoll::Parking::poll_timeout`]): the worker wakes
    /// for it and calls [`App::handle_timeout`]. Asked once per loop iteration.
    fn poll_timeout(&self, local: &Self::Local) -> Option<crate::Instant> {
        let _ = local;
        None
    }

    /// Acts on the application's deadlines that have passed ([`Ctx::now`] is the time); safe
    /// to call early, late or twice.
    fn handle_timeout(&self, local: &mut Self::Local, cx: &mut Ctx<'_, Self::Notice>) {
        let _ = (local, cx);
    }

    /// Called every `Builder::tick` interval on each worker (never, without one): for work
    /// on many connections at once, such as keep-alive comments on quiet event streams.
    fn tick(&self, local: &mut Self::Local, cx: &mut Ctx<'_, Self::Notice>) {
        let _ = (local, cx);
    }

    /// A connection that got a WebSocket, Stream or Defer reply closed, or such a stream ended
    /// without the application ending it (the stream answering a HEAD request is its head
    /// alone): forget it.
    fn closed(&self, local: &mut Self::Local, conn: ConnId, cx: &mut Ctx<'_, Self::Notice>) {
        let _ = (local, conn, cx);
    }

    /// A connection left the server — every connection, whatever it spoke, once, after
    /// [`App::closed`] for one the application held: why it ended, and (on a server that
    /// records connections) who it was and what it carried. For metrics and logs.
    fn ended(&self, local: &mut Self::Local, ended: &Ended) {
        let _ = (local, ended);
    }

    /// A graceful shutdown began ([`super::Handle::shutdown`]): the listeners are closed and
    /// every HTTP exchange will close its connection after its response. End what the
    /// application holds, telling each client where to resume. Afterwards the reactor closes
    /// what is left: a WebSocket with `1001`, an open stream ends; a deferred request is
    /// answered by the application or its own timeout, or dropped at the shutdown deadline
    /// ([`super::Builder::shutdown_timeout`]).
    fn draining(&self, local: &mut Self::Local, cx: &mut Ctx<'_, Self::Notice>) {
        let _ = (local, cx);
    }

    /// A notice arrived from [`super::Handle::notify`].
    fn notice(
        &self,
        local: &mut Self::Local,
        notice: &Self::Notice,
        cx: &mut Ctx<'_, Self::Notice>,
    ) {
        let _ = (local, notice, cx);
    }

    /// A deferred request reached its timeout: the response to send (default `204`).
    fn deferred_timeout(
        &self,
        local: &mut Self::Local,
        conn: ConnId,
        cx: &mut Ctx<'_, Self::Notice>,
    ) -> Response {
        let _ = (local, conn, cx);
        Response::new(204)
    }
}

/// The type parameter of [`super::Server::builder`] before an application is given.
#[doc(hidden)]
pub struct NoApp;

impl App for NoApp {
    type Local = ();
    type Notice = ();
    fn local(&self) {}
    fn request(&self, _: &mut (), _: &http::Request<'_>, _: &[u8], _: &mut Ctx<'_, ()>) -> Reply {
        Reply::Response(Response::new(404))
    }
}
