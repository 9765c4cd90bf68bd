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

use super::ctx::Ctx;
use super::record::Ended;
use super::reply::{ConnId, Message, Reply, Response};
use crate::http;

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
