//! [`Ctx`]: what an application callback can do to connections on its worker.

use super::Handle;
use super::app::{ConnId, Response};
use super::core::{Core, Proto, SendError, WsMessage};
use crate::time::Instant;
use crate::ws::CloseCode;

/// The application's view of its worker during a callback.
///
/// Every method takes a [`ConnId`]; an id whose connection has closed gets
/// [`SendError::Gone`], never another connection.
pub struct Ctx<'w, N: Send + Sync + 'static> {
    pub(crate) core: &'w mut Core,
    pub(crate) handle: &'w Handle<N>,
    pub(crate) current: Option<ConnId>,
}

impl<N: Send + Sync + 'static> Ctx<'_, N> {
    /// The connection this callback is about, if any (none for notices).
    pub fn conn(&self) -> Option<ConnId> {
        self.current
    }

    /// The worker's clock, read once per loop iteration.
    pub fn now(&self) -> Instant {
        self.core.now
    }

    /// The worker's wall clock, in seconds since the Unix epoch (the `Date` field's time, and
    /// the time access tokens are checked against), read with [`Ctx::now`].
    pub fn unix_secs(&self) -> u64 {
        self.core.unix_secs
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
        self.core.ws_send(conn.0, [WsMessage::Text(text)]).map(drop)
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
        self.core
            .ws_send(conn.0, texts.into_iter().map(WsMessage::Text))
    }

    /// Sends a binary message on a WebSocket connection.
    ///
    /// # Errors
    /// As [`Ctx::send_text`].
    pub fn send_binary(&mut self, conn: ConnId, data: &[u8]) -> Result<(), SendError> {
        self.core
            .ws_send(conn.0, [WsMessage::Binary(data)])
            .map(drop)
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
        self.core.ws_close(conn.0, code, reason)
    }

    /// Writes body bytes of a streaming response ([`super::Reply::Stream`]). Returns
    /// the bytes it put on the wire: `data` with its chunk framing in HTTP/1.1 (RFC 9112 §7.1).
    ///
    /// # Errors
    /// As [`Ctx::send_text`].
    pub fn stream_write(&mut self, conn: ConnId, data: &[u8]) -> Result<usize, SendError> {
        self.core.stream_write(conn.0, data)
    }

    /// Ends a streaming response.
    ///
    /// # Errors
    /// As [`Ctx::send_text`].
    pub fn stream_end(&mut self, conn: ConnId) -> Result<(), SendError> {
        self.core.stream_end(conn.0)
    }

    /// Answers a deferred request ([`super::Reply::Defer`]).
    ///
    /// # Errors
    /// As [`Ctx::send_text`].
    pub fn respond(&mut self, conn: ConnId, response: &Response) -> Result<(), SendError> {
        self.core.respond_deferred(conn.0, response)
    }

    /// Bytes queued for the connection and not yet taken by its socket.
    pub fn queued_bytes(&self, conn: ConnId) -> Option<usize> {
        self.core.slab.get(conn.0).map(|c| c.queued())
    }

    /// Whether the connection is open and is a WebSocket.
    pub fn is_websocket(&self, conn: ConnId) -> bool {
        self.core
            .slab
            .get(conn.0)
            .is_some_and(|c| matches!(c.proto, Proto::Ws(_)))
    }

    /// Whether the connection came over TLS (a listener given
    /// [`Builder::tls`](super::Builder::tls)): https, wss. A cookie set on it can carry
    /// `Secure` (RFC 6265 §4.1.2.5).
    pub fn is_tls(&self, conn: ConnId) -> bool {
        self.core
            .slab
            .get(conn.0)
            .and_then(|c| c.socket.as_ref())
            .is_some_and(super::socket::Socket::is_tls)
    }

    /// Drops the connection at once (no closing handshake).
    pub fn close(&mut self, conn: ConnId) {
        self.core.close_now(conn.0);
    }
}
