//! The sending half of a WebSocket connection: messages, fragments, control frames and the
//! close frame the application starts, encoded (masked for a client, RFC 6455 §5.3;
//! compressed with permessage-deflate, RFC 7692 §7.2.1) into the caller's `out`.

#[cfg(feature = "deflate")]
use super::RSV1;
use super::{Connection, MessageKind};
use crate::ws::close_code::CloseCode;
use crate::ws::closing::{Close, CloseInput};
use crate::ws::error::UsageError;
use crate::ws::frame::{Header, OpCode};
use crate::ws::handshake::Role;
use crate::ws::mask::apply_mask;
use alloc::vec::Vec;

impl Connection {
    /// Sends a text message as one frame.
    ///
    /// # Errors
    /// [`UsageError::Closing`] after a close; [`UsageError::FragmentOrder`] while a fragmented
    /// message is being sent.
    pub fn send_text(&mut self, text: &str, out: &mut Vec<u8>) -> Result<(), UsageError> {
        self.send_message(MessageKind::Text, text.as_bytes(), out)
    }

    /// Sends a binary message as one frame.
    ///
    /// # Errors
    /// As [`Connection::send_text`].
    pub fn send_binary(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), UsageError> {
        self.send_message(MessageKind::Binary, data, out)
    }

    /// The header of a one-frame data message of `len` payload bytes that the caller sends
    /// itself right after it, unchanged (for example with a vectored write, which saves copying
    /// a large payload into `out`). `None` when the payload must be transformed on the way —
    /// a client masks it (§5.3), permessage-deflate compresses it — so use
    /// [`Connection::send_binary`] / [`Connection::send_text`] then. Text must be UTF-8.
    ///
    /// # Errors
    /// As [`Connection::send_text`].
    pub fn data_frame_header(
        &mut self,
        kind: MessageKind,
        len: u64,
    ) -> Result<Option<([u8; crate::ws::frame::MAX_HEADER_LEN], usize)>, UsageError> {
        let opcode = self.start_message(kind)?;
        #[cfg(feature = "deflate")]
        if self.deflate().is_some() {
            return Ok(None);
        }
        if self.role == Role::Client {
            return Ok(None);
        }
        let header = Header {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            len,
        };
        Ok(Some(header.to_bytes()))
    }

    /// Sends a message as one frame without compression even when permessage-deflate was
    /// agreed (RSV1 clear, RFC 7692 §6): for secrets that should not be compressed together
    /// with data an attacker influences (RFC 7692 §8). The same as [`Connection::send_text`] /
    /// [`Connection::send_binary`] otherwise.
    ///
    /// # Errors
    /// As [`Connection::send_text`].
    pub fn send_uncompressed(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), UsageError> {
        let opcode = self.start_message(kind)?;
        self.write_frame(opcode, true, data, out);
        Ok(())
    }

    /// How this connection compresses its next message, when every message is compressed
    /// afresh (a server that agreed `server_no_context_takeover`, RFC 7692 §7.1.1.1): messages
    /// compressed once with [`compress_shared`](crate::ws::deflate::compress_shared) for this
    /// key may go to every connection with the same key ([`Connection::send_precompressed`]).
    /// `None` without compression, for a client (its frames are masked), or when context is
    /// kept between messages.
    #[cfg(feature = "deflate")]
    pub fn shared_deflate(&self) -> Option<crate::ws::deflate::SharedKey> {
        if self.role != Role::Server || self.sending.is_some() {
            return None;
        }
        self.deflate().and_then(|pmd| pmd.tx.shared_key())
    }

    /// Sends a message that [`compress_shared`](crate::ws::deflate::compress_shared) compressed
    /// for `key`: one frame with RSV1 set (RFC 7692 §6), the bytes as given — the frame this
    /// connection's [`send_text`](Connection::send_text) would have written for the message.
    ///
    /// # Errors
    /// As [`Connection::send_text`]; [`UsageError::NotShared`] when `key` is not
    /// [`Connection::shared_deflate`].
    #[cfg(feature = "deflate")]
    pub fn send_precompressed(
        &mut self,
        kind: MessageKind,
        key: crate::ws::deflate::SharedKey,
        compressed: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), UsageError> {
        let opcode = self.start_message(kind)?;
        if self.shared_deflate() != Some(key) {
            return Err(UsageError::NotShared);
        }
        out.reserve(compressed.len() + crate::ws::frame::MAX_HEADER_LEN);
        Header {
            fin: true,
            rsv: RSV1,
            opcode,
            mask: None,
            len: compressed.len() as u64,
        }
        .encode(out);
        out.extend_from_slice(compressed);
        Ok(())
    }

    /// The opcode of a one-frame message of `kind`, if one may be sent now.
    pub(super) fn start_message(&self, kind: MessageKind) -> Result<OpCode, UsageError> {
        self.check_can_send()?;
        if self.sending.is_some() {
            return Err(UsageError::FragmentOrder);
        }
        Ok(match kind {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        })
    }

    pub(super) fn send_message(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), UsageError> {
        let opcode = self.start_message(kind)?;
        self.write_data_frame(opcode, true, data, out);
        Ok(())
    }

    /// Sends one fragment of a message (§5.4): the first call picks the opcode from `kind`,
    /// later ones are continuations; `last` ends the message. Control frames may be sent
    /// between fragments. A text message's fragments must together be UTF-8.
    ///
    /// # Errors
    /// [`UsageError::FragmentOrder`] if `kind` differs from the message in progress.
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), UsageError> {
        self.check_can_send()?;
        let opcode = match self.sending {
            None => {
                if kind == MessageKind::Text {
                    OpCode::Text
                } else {
                    OpCode::Binary
                }
            }
            Some(k) if k == kind => OpCode::Continuation,
            Some(_) => return Err(UsageError::FragmentOrder),
        };
        self.sending = if last { None } else { Some(kind) };
        self.write_data_frame(opcode, last, data, out);
        Ok(())
    }

    /// Sends a ping (§5.5.2).
    ///
    /// # Errors
    /// [`UsageError::ControlTooLong`] over 125 bytes; [`UsageError::Closing`] after a close.
    pub fn send_ping(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), UsageError> {
        self.send_control(OpCode::Ping, data, out)
    }

    /// Sends an unsolicited pong, a one-way heartbeat (§5.5.3).
    ///
    /// # Errors
    /// As [`Connection::send_ping`].
    pub fn send_pong(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), UsageError> {
        self.send_control(OpCode::Pong, data, out)
    }

    /// A ping or pong the application sends: control payloads are at most 125 bytes (§5.5).
    fn send_control(
        &mut self,
        opcode: OpCode,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), UsageError> {
        self.check_can_send()?;
        if data.len() > 125 {
            return Err(UsageError::ControlTooLong);
        }
        self.write_frame(opcode, true, data, out);
        Ok(())
    }

    /// Starts the closing handshake (§7.1.2). `code` `None` sends an empty close frame (then
    /// `reason` must be empty).
    ///
    /// # Errors
    /// [`UsageError::InvalidCloseCode`], [`UsageError::ControlTooLong`] for a reason over 123
    /// bytes, [`UsageError::Closing`] if a close was already sent or received.
    pub fn send_close(
        &mut self,
        code: Option<CloseCode>,
        reason: &str,
        out: &mut Vec<u8>,
    ) -> Result<(), UsageError> {
        self.check_can_send()?;
        match code {
            Some(c) if !c.is_valid_on_wire() => return Err(UsageError::InvalidCloseCode),
            None if !reason.is_empty() => return Err(UsageError::InvalidCloseCode),
            _ => {}
        }
        if reason.len() > 123 {
            return Err(UsageError::ControlTooLong);
        }
        match code {
            Some(c) => self.write_close(c, reason, out),
            None => self.write_frame(OpCode::Close, true, b"", out),
        }
        self.step_close(CloseInput::Sent);
        Ok(())
    }

    pub(super) fn check_can_send(&self) -> Result<(), UsageError> {
        if self.close() == Close::Open {
            Ok(())
        } else {
            Err(UsageError::Closing)
        }
    }

    pub(super) fn write_close(&mut self, code: CloseCode, reason: &str, out: &mut Vec<u8>) {
        let mut body = [0u8; 125];
        body[..2].copy_from_slice(&code.0.to_be_bytes());
        let reason = truncate_utf8(reason, 123);
        body[2..2 + reason.len()].copy_from_slice(reason.as_bytes());
        self.write_frame(OpCode::Close, true, &body[..2 + reason.len()], out);
    }

    /// Appends a data frame: compressed when permessage-deflate was agreed (RFC 7692 §7.2.1,
    /// RSV1 on the message's first frame only), as it is otherwise.
    #[cfg(feature = "deflate")]
    pub(super) fn write_data_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) {
        use crate::ws::frame::MAX_HEADER_LEN;
        let Some(pmd) = self.deflate_mut() else {
            self.write_frame(opcode, fin, payload, out);
            return;
        };
        let first = opcode != OpCode::Continuation;
        // Compress behind room for the longest header, then put the header right before it.
        let start = out.len();
        out.resize(start + MAX_HEADER_LEN, 0);
        pmd.tx.compress(payload, fin, out);
        let body = start + MAX_HEADER_LEN;
        let len = out.len() - body;
        if first && fin && !payload.is_empty() && len >= payload.len() && pmd.tx.is_stateless() {
            // Compression did not help, and no context links messages: send it as it is
            // (§6: RSV1 clear means uncompressed).
            out.truncate(start);
            self.write_frame(opcode, fin, payload, out);
            return;
        }
        let mask = match self.role {
            Role::Client => Some(self.next_mask()),
            Role::Server => None,
        };
        let header = Header {
            fin,
            rsv: if first { RSV1 } else { 0 },
            opcode,
            mask,
            len: len as u64,
        };
        let (bytes, n) = header.to_bytes();
        let at = body - n;
        if let (Some(slot), Some(bytes)) = (out.get_mut(at..body), bytes.get(..n)) {
            slot.copy_from_slice(bytes);
        }
        out.drain(start..at);
        if let (Some(key), Some(data)) = (mask, out.get_mut(start + n..)) {
            apply_mask(data, key, 0);
        }
    }

    #[cfg(not(feature = "deflate"))]
    pub(super) fn write_data_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) {
        self.write_frame(opcode, fin, payload, out);
    }

    /// Appends one frame; a client masks it with a fresh key (§5.3).
    pub(super) fn write_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) {
        let mask = match self.role {
            Role::Client => Some(self.next_mask()),
            Role::Server => None,
        };
        out.reserve(payload.len() + crate::ws::frame::MAX_HEADER_LEN);
        Header {
            fin,
            rsv: 0,
            opcode,
            mask,
            len: payload.len() as u64,
        }
        .encode(out);
        let start = out.len();
        out.extend_from_slice(payload);
        if let (Some(key), Some(body)) = (mask, out.get_mut(start..)) {
            apply_mask(body, key, 0);
        }
    }

    /// A fresh masking key from the client's entropy (§5.3). Only a client masks, and a
    /// client connection always holds the source its handshake gave it.
    pub(super) fn next_mask(&mut self) -> [u8; 4] {
        let mut key = [0u8; 4];
        if let Some(source) = self.extras.as_mut().and_then(|e| e.masks.as_mut()) {
            source.fill(&mut key);
        }
        key
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate_utf8(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).expect("end is a character boundary")
}
