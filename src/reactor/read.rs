//! Reading: a readable connection is one turn — its key resolved once, its socket read into
//! the worker's buffer (or a large frame into its own), what arrived offered to its machine,
//! what the machine left kept, and the peer's end of the stream.

use super::app::App;
use super::conn::{Conn, Proto};
use super::core::end_turn;
use super::dispatch::{Driver, gather_len};
use super::life::Change;
use super::record::End;
use crate::time::Instant;
use std::io;

/// Reads per readiness event before other connections get a turn.
const READS_PER_TURN: usize = 8;

impl<A: App> Driver<'_, A> {
    /// The socket of connection `key` is readable. Readiness is edge-triggered: a read that
    /// returns less than the buffer has drained a stream socket, and new data will raise a new
    /// event, so the worker does not read again to hear `WouldBlock` (one system call fewer per
    /// message) — unless `to_eof`, when the peer's end may already be waiting behind the data.
    pub fn on_readable(&mut self, rbuf: &mut [u8], key: u64, to_eof: bool) {
        let Some(mut conn) = self.slab.take(key) else {
            return;
        };
        self.read(rbuf, key, &mut conn, to_eof);
        end_turn(self.slab, self.env, key, conn);
    }

    /// Reading may resume for connection `key`: input it holds is offered again, and the
    /// socket is read if readiness fired while reading was paused.
    pub fn on_resume(&mut self, rbuf: &mut [u8], key: u64) {
        let Some(mut conn) = self.slab.take(key) else {
            return;
        };
        if !conn.read_paused(&self.env.limits) {
            let missed = conn.read_pending();
            let data = conn.take_input();
            if !data.is_empty() {
                self.reprocess(key, &mut conn, data);
                self.turn(key, &mut conn).settle();
            }
            // Edge-triggered readiness fired while we were not reading: read now. (Not
            // otherwise: the socket was drained, and a read would only find `WouldBlock`.)
            if missed {
                self.read(rbuf, key, &mut conn, true);
            }
        }
        end_turn(self.slab, self.env, key, conn);
    }

    fn read(&mut self, rbuf: &mut [u8], key: u64, conn: &mut Conn, to_eof: bool) {
        for _ in 0..READS_PER_TURN {
            if conn.is_closed() {
                return;
            }
            if conn.is_lingering() {
                return self.discard(rbuf, key, conn);
            }
            if conn.read_paused(&self.env.limits) {
                conn.set_read_pending(true);
                return;
            }
            conn.set_read_pending(false);
            // A large frame being gathered is read into its own buffer and whatever follows
            // into the worker's, in one system call; other input into the worker's.
            let (read, frame_part, asked) = conn.read_into(rbuf);
            self.env
                .io
                .read(matches!(&read, Err(e) if e.kind() == io::ErrorKind::WouldBlock));
            match read {
                Ok(0) => return self.on_eof(key, conn),
                Ok(n) => {
                    conn.note_read(n);
                    if frame_part > 0 {
                        self.gathered(key, conn, n.min(frame_part));
                    }
                    if n > frame_part {
                        self.feed_input(rbuf, key, conn, n - frame_part);
                    }
                    if n < asked && !to_eof {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return self.turn(key, conn).close(End::Reset),
            }
        }
        // Still readable: give others a turn, come back next iteration.
        conn.set_read_pending(true);
        self.env.follow.resume.push(key);
    }

    /// Closing: reads and discards until the peer's EOF.
    fn discard(&mut self, rbuf: &mut [u8], key: u64, conn: &mut Conn) {
        loop {
            let read = conn.socket_mut().io().read(rbuf);
            self.env
                .io
                .read(matches!(&read, Err(e) if e.kind() == io::ErrorKind::WouldBlock));
            match read {
                Ok(0) => return self.turn(key, conn).close(End::PeerClosed),
                Ok(n) => conn.note_read(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return self.turn(key, conn).close(End::Reset),
            }
        }
    }

    /// `n` new bytes are at the start of the read buffer.
    fn feed_input(&mut self, rbuf: &mut [u8], key: u64, conn: &mut Conn, n: usize) {
        if conn.input_len() == 0 {
            // The common case: parse straight from the shared buffer, keep only the rest.
            let consumed = self.process(key, conn, &mut rbuf[..n]);
            if consumed < n {
                self.keep_input(conn, &rbuf[consumed..n]);
            }
        } else {
            let mut data = conn.take_input();
            data.extend_from_slice(&rbuf[..n]);
            self.reprocess(key, conn, data);
        }
        self.turn(key, conn).settle();
    }

    /// Offers buffered input to the machine again and keeps what it leaves.
    fn reprocess(&mut self, key: u64, conn: &mut Conn, mut data: Vec<u8>) {
        let consumed = self.process(key, conn, &mut data);
        let rest = &data[consumed..];
        if gather_len(conn, rest).is_some() {
            self.keep_input(conn, rest);
        } else if conn.is_open() && !rest.is_empty() {
            conn.keep_input_vec(data, consumed);
        }
    }

    /// `n` more bytes of the frame being gathered arrived; once it is whole, it is fed to the
    /// machine in one piece and its buffer goes back to the pool.
    fn gathered(&mut self, key: u64, conn: &mut Conn, n: usize) {
        let now = self.env.now;
        let Some(gather) = conn.gather_mut() else {
            return;
        };
        gather.filled(n);
        gather.count(&self.env.io);
        let whole = gather.is_whole();
        if let Proto::Ws(w) = conn.proto_mut() {
            w.input_pending(now);
        }
        if !whole {
            if self.env.memory.queues_over() {
                self.turn(key, conn).refuse_frame();
            }
            return;
        }
        let Some(gather) = conn.change(Change::Gathered) else {
            return;
        };
        let (mut buf, total) = gather.into_frame(&self.env.io);
        let consumed = self.process(key, conn, &mut buf[..total]);
        if consumed < total && conn.is_open() {
            // Not taken yet (a full write queue holds input back): it waits like any input.
            buf.truncate(total);
            conn.keep_input_vec(buf, consumed);
        } else {
            self.env.pool.give(buf);
        }
        self.turn(key, conn).settle();
    }

    /// The peer closed its sending side.
    fn on_eof(&mut self, key: u64, conn: &mut Conn) {
        let now: Instant = self.env.now;
        if !conn.is_open() {
            // The protocol is over already: nothing more is owed to this peer.
            return self.turn(key, conn).close(End::PeerClosed);
        }
        match conn.proto_mut() {
            Proto::Http(h) => {
                let _ = h.http.feed_eof(now, &mut self.env.scratch);
                // A client that leaves a stream or a parked request is gone.
                let holds = matches!(
                    h.pending,
                    super::conn::Pending::Stream | super::conn::Pending::Deferred { .. }
                );
                if holds || h.http.is_closed() || conn.queued() == 0 {
                    return self.turn(key, conn).close(End::PeerClosed);
                }
            }
            Proto::Ws(w) => {
                let _ = w.feed_eof(now);
                return self.turn(key, conn).close(End::PeerClosed);
            }
            // A client that leaves an event stream is gone.
            Proto::Stream(_) => return self.turn(key, conn).close(End::PeerClosed),
        }
        self.turn(key, conn).flush();
    }
}
