//! The reactor's `Io` contract on a ring socket ([`super::RingSocket`] calls these): reading
//! what its receives delivered, writing into its send buffer, and letting go of it.

use super::ring::{Completion, Op, Ring, Sending};
use std::io;
use std::net::Shutdown;

/// Bytes a socket takes into one send; past them, `write` says `WouldBlock`.
const OUT_LIMIT: usize = 256 * 1024;

impl Ring {
    pub fn read(&mut self, id: u32, buf: &mut [u8]) -> io::Result<usize> {
        let sock = &mut self.socks[id as usize];
        if let Some(seg) = &mut sock.segment {
            let data = &self.buffers.data(seg.bid, seg.len as usize)[seg.at as usize..];
            let n = data.len().min(buf.len());
            buf[..n].copy_from_slice(&data[..n]);
            seg.at += u32::try_from(n).expect("at most one buffer");
            if seg.at == seg.len {
                let bid = seg.bid;
                sock.segment = None;
                self.buffers.give_back(bid);
            }
            return Ok(n);
        }
        if let Some(inbox) = &mut sock.inbox {
            let held = inbox
                .data
                .get(inbox.read_from..)
                .expect("what was read never passes what the inbox holds");
            let n = held.len().min(buf.len());
            buf[..n].copy_from_slice(&held[..n]);
            inbox.read_from += n;
            if inbox.read_from == inbox.data.len() {
                let len = inbox.data.len();
                sock.inbox = None;
                self.io.ring_in(len, 0);
                if std::mem::take(&mut sock.recv_stopped) && !sock.recv_armed {
                    self.arm_recv(id);
                }
            }
            return Ok(n);
        }
        match (sock.error, sock.eof) {
            (Some(errno), _) => Err(io::Error::from_raw_os_error(errno)),
            (None, true) => Ok(0),
            (None, false) => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    /// What the connection left of a receive is copied to its inbox, and the buffer goes back
    /// to the kernel (after the connection's turn on a completion, so no buffer stays out).
    pub fn spill(&mut self, id: u32) {
        let sock = &mut self.socks[id as usize];
        let Some(seg) = sock.segment.take() else {
            return;
        };
        let rest = &self.buffers.data(seg.bid, seg.len as usize)[seg.at as usize..];
        debug_assert!(
            sock.inbox.is_none(),
            "a segment is held only with an empty inbox"
        );
        if rest.is_empty() {
            self.buffers.give_back(seg.bid);
            return;
        }
        sock.inbox = Some(Box::new(super::ring::Inbox {
            data: rest.to_vec(),
            read_from: 0,
        }));
        self.io.ring_in(0, rest.len());
        self.buffers.give_back(seg.bid);
    }

    /// [`Ring::spill`] for the socket a completion was for, if it is still that socket.
    pub fn spill_after(&mut self, c: &Completion) {
        if self.current(c) {
            self.spill(c.id);
        }
    }

    pub fn write(&mut self, id: u32, parts: &[&[u8]]) -> io::Result<usize> {
        let sock = &mut self.socks[id as usize];
        if let Some(errno) = sock.error {
            return Err(io::Error::from_raw_os_error(errno));
        }
        if sock.sending == Sending::InFlight || sock.out.len() >= OUT_LIMIT {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if sock.out.capacity() == 0 {
            sock.out = self.spare.pop().unwrap_or_default();
        }
        let before = sock.out.len();
        let mut taken = 0;
        for part in parts {
            let room = OUT_LIMIT - sock.out.len();
            let part = &part[..part.len().min(room)];
            sock.out.extend_from_slice(part);
            taken += part.len();
        }
        self.io.ring_out(before, sock.out.len());
        if taken > 0 && sock.sending == Sending::Idle {
            sock.sending = Sending::Queued;
            self.to_send.push(id);
        }
        Ok(taken)
    }

    /// Whether bytes written are still on their way to the kernel.
    pub fn holds_output(&self, id: u32) -> bool {
        self.sock(id).sending != Sending::Idle
    }

    pub fn flush_held(&self, id: u32) -> io::Result<bool> {
        let sock = self.sock(id);
        match sock.error {
            Some(errno) => Err(io::Error::from_raw_os_error(errno)),
            None => Ok(sock.sending == Sending::Idle),
        }
    }

    pub fn shutdown_write(&mut self, id: u32) {
        let sock = &mut self.socks[id as usize];
        if sock.sending == Sending::Idle {
            if let Some(stream) = &sock.stream {
                let _ = stream.shutdown(Shutdown::Write);
            }
        } else {
            sock.shutdown_after_send = true;
        }
    }

    /// The connection let go of socket `id`: its receive is cancelled, a send in flight may
    /// finish (for at most `LINGER`), and the descriptor closes when nothing is in flight.
    pub fn release(&mut self, id: u32) {
        let now = self.now;
        let sock = &mut self.socks[id as usize];
        sock.released_at = Some(now);
        if let Some(seg) = sock.segment.take() {
            self.buffers.give_back(seg.bid);
        }
        let sock = &mut self.socks[id as usize];
        self.io.ring_in(sock.inbox_len(), 0);
        sock.inbox = None;
        let recv = sock.recv_armed;
        if recv {
            self.cancel(Op::Recv, id);
        }
        if !self.free_if_done(id) {
            self.lingering.push(id);
        }
    }

    /// Frees a released socket with nothing in flight; whether it did.
    pub(super) fn free_if_done(&mut self, id: u32) -> bool {
        let sock = &mut self.socks[id as usize];
        let done = sock.released_at.is_some() && !sock.recv_armed && sock.sending == Sending::Idle;
        if done {
            sock.stream = None;
            sock.out = Vec::new();
            sock.generation = sock.generation.wrapping_add(1);
            self.free.push(id);
        }
        done
    }
}
