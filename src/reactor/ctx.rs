//! [`Ctx`]: what an application callback can do to connections on its worker.

use super::conn::{Conn, Proto};
use super::core::turn_on;
use super::env::Env;
use super::handle::Handle;
use super::record::End;
use super::reply::{ConnId, Response};
use super::send::WsMessage;
use super::slab::Slab;
use super::turn::{SendError, Turn};
use crate::time::Instant;
use crate::ws::CloseCode;

/// The application's view of its worker during a callback.
///
/// Every method takes a [`ConnId`]; an id whose connection has closed gets
/// [`SendError::Gone`], never another connection.
pub struct Ctx<'w, N: Send + Sync + 'static> {
    slab: &'w mut Slab<Conn>,
    env: &'w mut Env,
    /// The connection whose turn this callback is part of: out of the slab while its turn lasts.
    current: Option<(u64, &'w mut Conn)>,
    handle: &'w Handle<N>,
}

impl<'w, N: Send + Sync + 'static> Ctx<'w, N> {
    /// A context for a callback about no connection in particular (a notice, a tick).
    pub(crate) fn new(slab: &'w mut Slab<Conn>, env: &'w mut Env, handle: &'w Handle<N>) -> Self {
        Ctx {
            slab,
            env,
            current: None,
            handle,
        }
    }

    /// A context for a callback within connection `key`'s turn (taken out of `slab`).
    pub(crate) fn within(
        slab: &'w mut Slab<Conn>,
        env: &'w mut Env,
        key: u64,
        conn: &'w mut Conn,
        handle: &'w Handle<N>,
    ) -> Self {
        Ctx {
            slab,
            env,
            current: Some((key, conn)),
            handle,
        }
    }

    /// Runs `f` in `conn`'s turn: the current connection's own, or another's, which settles
    /// (and leaves the worker, if it closed) when `f` returns.
    fn with<R>(
        &mut self,
        conn: ConnId,
        f: impl FnOnce(&mut Turn<'_>) -> Result<R, SendError>,
    ) -> Result<R, SendError> {
        if let Some((key, current)) = &mut self.current {
            if *key == conn.0 {
                return f(&mut Turn::new(*key, current, self.env));
            }
        }
        turn_on(self.slab, self.env, conn.0, f).unwrap_or(Err(SendError::Gone))
    }

    /// The connection `conn` names, wherever it is.
    fn get(&self, conn: ConnId) -> Option<&Conn> {
        match &self.current {
            Some((key, current)) if *key == conn.0 => Some(&**current),
            _ => self.slab.get(conn.0),
        }
        .filter(|c| !c.is_closed())
    }
}

impl<N: Send + Sync + 'static> Ctx<'_, N> {
    /// The connection this callback is about, if any (none for notices).
    pub fn conn(&self) -> Option<ConnId> {
        self.current.as_ref().map(|(key, _)| ConnId(*key))
    }

    /// The worker's clock, read once per loop iteration.
    pub fn now(&self) -> Instant {
        self.env.now
    }

    /// The worker's wall clock, in seconds since the Unix epoch (the `Date` field's time, and
    /// the time access tokens are checked against), read with [`Ctx::now`].
    pub fn unix_secs(&self) -> u64 {
        self.env.unix_secs
    }

    /// The server's handle: broadcast notices, shut down.
    pub fn handle(&self) -> &Handle<N> {
        self.handle
    }

    /// Sends a text message on a WebSocket connection.
    ///
    /// # Errors
    /// [`SendError`] if the connection is gone, not a WebSocket, or not keeping up.
    pub fn send_text(&mut self, conn: ConnId, text: &str) -> Result<(), SendError> {
        self.with(conn, |t| t.ws_send([WsMessage::Text(text)]).map(drop))
    }

    /// Sends several text messages on a WebSocket connection in one write. Returns the bytes
    /// they take on the wire: frame headers and payloads, compressed when permessage-deflate
    /// was agreed (RFC 7692) — a message compressed once for every connection of this worker
    /// that compresses the same way.
    ///
    /// # Errors
    /// As [`Ctx::send_text`]; nothing is sent then.
    pub fn send_texts<'t>(
        &mut self,
        conn: ConnId,
        texts: impl IntoIterator<Item = &'t str>,
    ) -> Result<usize, SendError> {
        self.with(conn, |t| t.ws_send(texts.into_iter().map(WsMessage::Text)))
    }

    /// Sends a binary message on a WebSocket connection.
    ///
    /// # Errors
    /// As [`Ctx::send_text`].
    pub fn send_binary(&mut self, conn: ConnId, data: &[u8]) -> Result<(), SendError> {
        self.with(conn, |t| t.ws_send([WsMessage::Binary(data)]).map(drop))
    }

    /// Starts the closing handshake on a WebSocket (RFC 6455 §7.1.2).
    ///
    /// # Errors
    /// As [`Ctx::send_text`].
    pub fn close_ws(
        &mut self,
        conn: ConnId,
        code: CloseCode,
        reason: &str,
    ) -> Result<(), SendError> {
        self.with(conn, |t| t.ws_close(code, reason))
    }

    /// Writes body bytes of a streaming response ([`super::Reply::Stream`]). Returns
    /// the bytes it put on the wire: `data` with its chunk framing in HTTP/1.1 (RFC 9112 §7.1).
    ///
    /// # Errors
    /// As [`Ctx::send_text`].
    pub fn stream_write(&mut self, conn: ConnId, data: &[u8]) -> Result<usize, SendError> {
        self.with(conn, |t| t.stream_write(data))
    }

    /// Ends a streaming response.
    ///
    /// # Errors
    /// As [`Ctx::send_text`].
    pub fn stream_end(&mut self, conn: ConnId) -> Result<(), SendError> {
        self.with(conn, |t| t.stream_end())
    }

    /// Answers a deferred request ([`super::Reply::Defer`]).
    ///
    /// # Errors
    /// As [`Ctx::send_text`].
    pub fn respond(&mut self, conn: ConnId, response: &Response) -> Result<(), SendError> {
        self.with(conn, |t| t.respond_deferred(response))
    }

    /// Bytes queued for the connection and not yet taken by its socket.
    pub fn queued_bytes(&self, conn: ConnId) -> Option<usize> {
        self.get(conn).map(Conn::queued)
    }

    /// Whether the connection is open and is a WebSocket.
    pub fn is_websocket(&self, conn: ConnId) -> bool {
        self.get(conn)
            .is_some_and(|c| matches!(c.proto(), Proto::Ws(_)))
    }

    /// Whether the connection came over TLS (a listener given
    /// [`Builder::tls`](super::Builder::tls)): https, wss. A cookie set on it can carry
    /// `Secure` (RFC 6265 §4.1.2.5).
    pub fn is_tls(&self, conn: ConnId) -> bool {
        self.get(conn).is_some_and(|c| c.socket().is_tls())
    }

    /// Drops the connection at once (no closing handshake).
    pub fn close(&mut self, conn: ConnId) {
        let _ = self.with(conn, |t| {
            t.close(End::Server);
            Ok(())
        });
    }

    /// Says why `conn` is ending, for [`App::ended`](super::App::ended) (say it before
    /// closing it; the first cause said or seen is kept). A consumer cut off for not keeping up
    /// is [`End::SlowConsumer`].
    pub fn note_end(&mut self, conn: ConnId, end: End) {
        let _ = self.with(conn, |t| {
            t.note_end(end);
            Ok(())
        });
    }

    /// Marks `conn` with a number of the application's choosing, reported back in
    /// [`Ended::tag`](super::Ended::tag) (for example, which technique it used).
    pub fn set_tag(&mut self, conn: ConnId, tag: u8) {
        let _ = self.with(conn, |t| {
            t.set_tag(tag);
            Ok(())
        });
    }

    /// What `conn` was marked with ([`Ctx::set_tag`]; 0 if never).
    pub fn tag(&self, conn: ConnId) -> Option<u8> {
        self.get(conn).map(Conn::tag)
    }

    /// The listener `conn` came through: its index in
    /// [`Server::listeners`](super::Server::listeners).
    pub fn listener(&self, conn: ConnId) -> Option<usize> {
        self.get(conn).map(|c| usize::from(c.listener()))
    }

    /// The client's address, on a server that records connections
    /// ([`Builder::record_connections`](super::Builder::record_connections)): the socket's peer,
    /// or the address trusted proxies vouch for ([`Builder::trusted_proxies`](super::Builder::trusted_proxies)).
    pub fn peer(&self, conn: ConnId) -> Option<std::net::SocketAddr> {
        self.get(conn).and_then(|c| c.record()).map(|r| r.peer)
    }
}
