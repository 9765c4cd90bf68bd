//! What a turn sends on a WebSocket: messages framed by the connection's machine (compressed
//! once per worker when permessage-deflate lets connections share the bytes), a large payload
//! written straight from the caller's slice, and the closing handshake.

use super::conn::Proto;
use super::turn::{SendError, Turn};
use crate::ws;

/// A message to send on a WebSocket.
#[derive(Clone, Copy, Debug)]
pub(crate) enum WsMessage<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

impl Turn<'_> {
    /// Sends WebSocket messages in one write; the bytes they take on the wire (frames, after
    /// compression).
    pub fn ws_send<'m>(
        &mut self,
        messages: impl IntoIterator<Item = WsMessage<'m>>,
    ) -> Result<usize, SendError> {
        let (conn, env) = self.parts();
        if conn.is_closed() {
            return Err(SendError::Gone);
        }
        if env.is_full(conn.queued()) {
            return Err(SendError::Full);
        }
        if !matches!(conn.proto(), Proto::Ws(_)) {
            return Err(SendError::WrongState);
        }
        // Every frame goes into one buffer and out in one write; a large message with nothing
        // before it goes straight from the caller's slice instead.
        let mut direct = 0;
        for message in messages {
            if self.conn().is_closed() {
                self.parts().1.scratch.clear();
                return Err(SendError::Gone);
            }
            let (kind, payload) = match message {
                WsMessage::Text(t) => (ws::MessageKind::Text, t.as_bytes()),
                WsMessage::Binary(b) => (ws::MessageKind::Binary, b),
            };
            if payload.len() >= super::READ_CHUNK && self.parts().1.scratch.is_empty() {
                if let Some(sent) = self.ws_send_direct(kind, payload)? {
                    direct += sent;
                    continue;
                }
            }
            let (conn, env) = self.parts();
            let Proto::Ws(w) = conn.proto_mut() else {
                env.scratch.clear();
                return Err(SendError::Gone);
            };
            #[cfg(feature = "deflate")]
            let sent = frame_shared(w, &mut env.memo, kind, payload, &mut env.scratch);
            #[cfg(not(feature = "deflate"))]
            let sent = frame(w, kind, payload, &mut env.scratch);
            if sent.is_err() {
                env.scratch.clear();
                return Err(SendError::WrongState);
            }
        }
        let framed = self.parts().1.scratch.len();
        self.flush();
        Ok(direct + framed)
    }

    /// Sends one data frame with a vectored write of its header and the caller's payload, and
    /// queues only what the socket does not take: a large payload is not copied into `scratch`
    /// first (one copy of 1 MiB per message saved). The frame's bytes; `Ok(None)`: not
    /// applicable (output already queued, the connection not open, or a payload the machine
    /// must transform).
    fn ws_send_direct(
        &mut self,
        kind: ws::MessageKind,
        payload: &[u8],
    ) -> Result<Option<usize>, SendError> {
        let (conn, env) = self.parts();
        if conn.queued() != 0 || !conn.is_open() {
            return Ok(None);
        }
        let Proto::Ws(w) = conn.proto_mut() else {
            return Err(SendError::WrongState);
        };
        let header = match w.data_frame_header(kind, payload.len() as u64) {
            Ok(Some(header)) => header,
            Ok(None) => return Ok(None),
            Err(_) => return Err(SendError::WrongState),
        };
        let (bytes, len) = header;
        let header = bytes
            .get(..len)
            .expect("a frame header's length is within its array");
        match conn.send_direct(header, payload, &env.io) {
            Ok(true) => Ok(Some(header.len() + payload.len())),
            Ok(false) => Ok(None),
            Err(_) => {
                self.close(super::record::End::Reset);
                Ok(Some(0))
            }
        }
    }

    /// Starts the WebSocket closing handshake.
    pub fn ws_close(&mut self, code: ws::CloseCode, reason: &str) -> Result<(), SendError> {
        let (conn, env) = self.parts();
        if conn.is_closed() {
            return Err(SendError::Gone);
        }
        let Proto::Ws(w) = conn.proto_mut() else {
            return Err(SendError::WrongState);
        };
        w.send_close(Some(code), reason, &mut env.scratch)
            .map_err(|_| SendError::WrongState)?;
        conn.note_end(super::record::End::Server);
        conn.note_close_code(code.0);
        self.flush();
        Ok(())
    }
}

/// Frames one message the connection's own way (compressing it if permessage-deflate was
/// agreed) onto `out`.
fn frame(
    w: &mut ws::Connection,
    kind: ws::MessageKind,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), ws::UsageError> {
    match kind {
        ws::MessageKind::Text => {
            let text = std::str::from_utf8(payload)
                .expect("a text message's payload comes from a &str (WsMessage::Text)");
            w.send_text(text, out)
        }
        ws::MessageKind::Binary => w.send_binary(payload, out),
    }
}

/// As [`frame`], but a connection that compresses every message afresh gets the bytes the
/// worker's memo compressed once for all such connections.
#[cfg(feature = "deflate")]
fn frame_shared(
    w: &mut ws::Connection,
    memo: &mut super::deflate_memo::Memo,
    kind: ws::MessageKind,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), ws::UsageError> {
    let Some(key) = w.shared_deflate() else {
        return frame(w, kind, payload, out);
    };
    match memo.get(key, payload) {
        Some(Some(compressed)) => w.send_precompressed(kind, key, compressed, out),
        Some(None) => w.send_uncompressed(kind, payload, out),
        None => frame(w, kind, payload, out),
    }
}
