//! One connection's turn: the connection, resolved once from its key, with the worker's tools
//! ([`Env`]). Everything done to a connection — answering, streaming, sending messages,
//! closing — is a method here; each sends what it wrote before it returns, and the turn's owner
//! ([`super::core::Core::with`], or the end of a read) settles it once at the end: lingering,
//! slow consumers, the timer.

use super::conn::{Conn, HttpConn, Pending, Proto};
use super::env::Env;
use super::life::{Change, Life};
use super::record::End;
use super::reply::Response;
use crate::http::{self, ResponseBody};
use std::borrow::Cow;

/// Why something the application asked of a connection did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The connection is gone (or the id is stale).
    #[error("connection gone")]
    Gone,
    /// The connection is not in a state for this (not a WebSocket, no stream open, nothing
    /// deferred, or closing).
    #[error("connection not in a state for this")]
    WrongState,
    /// Its write queue is over twice `Limits::write_queue_bytes`: the consumer is not keeping up.
    #[error("write queue full")]
    Full,
}

/// One connection's turn.
pub(crate) struct Turn<'a> {
    key: u64,
    conn: &'a mut Conn,
    env: &'a mut Env,
}

impl<'a> Turn<'a> {
    pub fn new(key: u64, conn: &'a mut Conn, env: &'a mut Env) -> Self {
        Turn { key, conn, env }
    }

    pub fn key(&self) -> u64 {
        self.key
    }

    pub fn conn(&self) -> &Conn {
        self.conn
    }

    /// The connection and the worker's tools, borrowed apart.
    pub fn parts(&mut self) -> (&mut Conn, &mut Env) {
        (self.conn, self.env)
    }

    /// Sends what `Env::scratch` holds to this connection; a broken socket closes it.
    pub fn flush(&mut self) {
        if self.conn.send(&mut self.env.scratch, &self.env.io).is_err() {
            self.close(End::Reset);
        }
    }

    /// Writes queued output (the socket is writable).
    pub fn write_queued(&mut self) {
        if self.conn.write_queued(&self.env.io).is_err() {
            self.close(End::Reset);
        }
    }

    /// Closes the connection at once (for `why`, unless its end was decided before); it
    /// leaves the slab when the turn ends.
    pub fn close(&mut self, why: End) {
        self.conn.note_end(why);
        self.env.scratch.clear();
        if let Some(gather) = self.conn.change(Change::Close) {
            self.env.pool.give(gather.into_frame(&self.env.io).0);
        }
    }

    /// Refuses the large WebSocket frame being read: what is in flight is over its share of
    /// the memory budget. The peer is told (close `1013`), the frame's buffer is freed, and
    /// the rest of its input is read and discarded until it closes.
    pub fn refuse_frame(&mut self) {
        let _ = self.ws_close(
            crate::ws::CloseCode::TRY_AGAIN_LATER,
            "no memory for this frame now; try again later",
        );
        self.change(Change::Finished);
        self.settle();
    }

    /// After any activity: a finished protocol whose output is out shuts our side and
    /// lingers, a slow consumer is noted (or noted to have caught up), and the timer is
    /// re-armed.
    pub fn settle(&mut self) {
        if self.conn.is_closed() {
            return;
        }
        let now = self.env.now;
        if self.conn.is_open() && self.conn.machine_closed() {
            self.change(Change::Finished);
        }
        if self.count_assembly() && self.env.memory.queues_over() {
            // A message still arriving grew while what is in flight is over its share of the
            // memory budget: refused, the connection closed with what it held.
            let _ = self.ws_close(
                crate::ws::CloseCode::TRY_AGAIN_LATER,
                "no memory for this message now; try again later",
            );
            self.close(End::Server);
            return;
        }
        if self.conn.end() == Some(End::SlowConsumer)
            && self.conn.queued() > 0
            && self.env.memory.queues_over()
        {
            // A consumer cut off for falling behind does not keep its backlog while the write
            // queues are over their share of the memory budget: it closes now (without the
            // close frame queued behind that backlog), and its queue goes with it.
            self.close(End::SlowConsumer);
            return;
        }
        if matches!(self.conn.life(), Life::Finishing { .. }) && self.conn.queued() == 0 {
            // Our side is done: send FIN, and keep reading (and discarding) for a moment so the
            // peer gets everything we sent rather than a reset.
            self.conn.socket_mut().io().shutdown_write();
            self.change(Change::Drained(now + self.env.limits.linger_timeout));
            self.conn.drop_input();
            if self.conn.is_held() {
                self.conn.set_held(false);
                self.env.follow.dead.push(self.key);
            }
        }
        if self.conn.queued() > self.env.limits.write_queue_bytes {
            self.change(Change::Behind(now));
        } else if self.conn.is_behind() {
            // Caught up: reading may resume.
            self.change(Change::CaughtUp);
            self.env.follow.resume.push(self.key);
        }
        self.rearm();
    }

    /// Why the connection ends, unless a cause was noted before.
    pub fn note_end(&mut self, end: End) {
        self.conn.note_end(end);
    }

    pub fn set_tag(&mut self, tag: u8) {
        self.conn.set_tag(tag);
    }

    /// A response with `status` went out on this connection.
    pub fn note_status(&mut self, status: u16) {
        self.conn.note_status(status);
        self.env.io.status(status);
    }

    fn change(&mut self, change: Change) {
        if let Some(gather) = self.conn.change(change) {
            self.env.pool.give(gather.into_frame(&self.env.io).0);
        }
    }

    /// Counts what the connection's WebSocket machine holds for its messages — the one being
    /// assembled, and the compression state it keeps between them; whether that grew.
    fn count_assembly(&mut self) -> bool {
        let held = match self.conn.proto() {
            Proto::Ws(w) => w.assembling() + w.codec_bytes(),
            _ => 0,
        };
        let assembling = &mut self.env.assembling;
        let before = if held == 0 {
            if assembling.is_empty() {
                return false;
            }
            assembling.remove(&self.key).unwrap_or(0)
        } else {
            assembling.insert(self.key, held).unwrap_or(0)
        };
        self.env.io.assemble(before, held);
        held > before
    }

    /// Makes sure the timer fires by the connection's deadline.
    pub fn rearm(&mut self) {
        let Some(deadline) = self.conn.deadline(&self.env.limits) else {
            return;
        };
        if deadline <= self.env.now {
            // Due already (a machine asking to be told the time): run it this iteration
            // without a heap entry, so per-request clock stamps do not pile up in the heap.
            self.env.follow.due.push(self.key);
            return;
        }
        if self.conn.scheduled().is_none_or(|s| deadline < s) {
            self.env.timers.push(deadline, self.key);
            self.conn.set_scheduled(Some(deadline));
        }
    }

    /// Answers a new connection refused at accept with `bytes` (a response with `status`: `429`
    /// over its address's limit, `503` over the server's) and closes it once the answer is
    /// out, reading and discarding meanwhile so that the client gets it rather than a reset.
    pub fn refuse(&mut self, status: u16, bytes: &[u8]) {
        self.conn.note_end(End::Refused);
        self.note_status(status);
        self.change(Change::Finished);
        self.env.scratch.extend_from_slice(bytes);
        self.flush();
    }

    /// The HTTP machine of a connection that speaks HTTP and is open.
    fn http(&mut self) -> Result<&mut HttpConn, SendError> {
        if self.conn.is_closed() {
            return Err(SendError::Gone);
        }
        match self.conn.proto_mut() {
            Proto::Http(h) => Ok(h),
            _ => Err(SendError::WrongState),
        }
    }

    /// Sends a complete response on an HTTP connection waiting for one.
    pub fn respond(&mut self, response: &Response) -> Result<(), SendError> {
        let date = self.env.date();
        let scratch = &mut self.env.scratch;
        let conn = &mut *self.conn;
        if conn.is_closed() {
            return Err(SendError::Gone);
        }
        let Proto::Http(h) = conn.proto_mut() else {
            return Err(SendError::WrongState);
        };
        let result = with_fields(&response.headers, &date, |fields| {
            h.http
                .respond(response.status, fields, &response.body, scratch)
        });
        let status = if result.is_err() {
            // An application mistake (a reserved header): answer 500 rather than nothing.
            scratch.clear();
            let _ = h.http.respond(500, &[], b"invalid response\n", scratch);
            500
        } else {
            response.status
        };
        // The exchange is answered: the application no longer holds the connection.
        h.pending = Pending::None;
        conn.set_held(false);
        self.note_status(status);
        self.flush();
        self.env.follow.resume.push(self.key);
        Ok(())
    }

    /// Starts a streamed response: its head and `first` body bytes now, more with
    /// [`Turn::stream_write`]. To a HEAD request the head alone is the whole answer.
    pub fn start_stream(
        &mut self,
        status: u16,
        headers: &[(Cow<'static, str>, Cow<'static, [u8]>)],
        first: &[u8],
        head_only: bool,
    ) {
        let date = self.env.date();
        let key = self.key;
        let (conn, env) = self.parts();
        let Proto::Http(h) = conn.proto_mut() else {
            return;
        };
        let started = with_fields(headers, &date, |fields| {
            h.http
                .send_response(status, fields, ResponseBody::Stream, &mut env.scratch)
        });
        if started.is_ok() && head_only {
            // The head alone (the machine omits the body of a HEAD response): the stream ends
            // here, and the application hears of it as of any ended stream.
            let _ = h.http.send_end(&[], &mut env.scratch);
            env.follow.dead.push(key);
            env.follow.resume.push(key);
        } else if started.is_ok() {
            let _ = h.http.send_body(first, &mut env.scratch);
            h.pending = Pending::Stream;
            let stream = h.http.body_stream();
            conn.set_held(true);
            // Keep only the stream's two bytes of state while it lasts.
            if let Some(stream) = stream {
                conn.set_proto(Proto::Stream(stream));
            }
        } else {
            env.scratch.clear();
            let _ = h
                .http
                .respond(500, &[], b"invalid response\n", &mut env.scratch);
        }
        self.note_status(if started.is_ok() { status } else { 500 });
        self.flush();
    }

    /// Holds the request for an answer later ([`super::Ctx::respond`]), at most until
    /// `timeout`.
    pub fn defer(&mut self, timeout: Option<core::time::Duration>) {
        let now = self.env.now;
        let (conn, _) = self.parts();
        let Proto::Http(h) = conn.proto_mut() else {
            return;
        };
        h.pending = Pending::Deferred {
            deadline: timeout.map(|t| now + t),
        };
        conn.set_held(true);
    }

    /// Writes a chunk of an open streaming response; the bytes it put on the wire.
    pub fn stream_write(&mut self, data: &[u8]) -> Result<usize, SendError> {
        if self.conn.is_closed() {
            return Err(SendError::Gone);
        }
        if self.env.is_full(self.conn.queued()) {
            return Err(SendError::Full);
        }
        if !self.conn.is_open() {
            return Err(SendError::WrongState);
        }
        let (conn, env) = self.parts();
        let before = env.scratch.len();
        match conn.proto_mut() {
            Proto::Stream(stream) => stream.send(data, &mut env.scratch),
            Proto::Http(h) if matches!(h.pending, Pending::Stream) => {
                h.http
                    .send_body(data, &mut env.scratch)
                    .map_err(|_| SendError::WrongState)?;
            }
            _ => return Err(SendError::WrongState),
        }
        let written = env.scratch.len() - before;
        self.flush();
        Ok(written)
    }

    /// Ends an open streaming response; the connection then reads its next request (or
    /// closes, for HTTP/1.0).
    pub fn stream_end(&mut self) -> Result<(), SendError> {
        if self.conn.is_closed() {
            return Err(SendError::Gone);
        }
        let now = self.env.now;
        let (conn, env) = self.parts();
        match conn.proto_mut() {
            Proto::Stream(stream) => {
                stream.end(&mut env.scratch);
                if stream.keeps_alive() {
                    conn.set_proto(Proto::Http(Box::new(HttpConn {
                        http: http::Connection::new(now, &env.limits),
                        pending: Pending::None,
                    })));
                } else {
                    // HTTP/1.0: the body ended with the connection.
                    conn.change(Change::Finished);
                }
            }
            Proto::Http(h) if matches!(h.pending, Pending::Stream) => {
                h.http
                    .send_end(&[], &mut env.scratch)
                    .map_err(|_| SendError::WrongState)?;
                h.pending = Pending::None;
            }
            _ => return Err(SendError::WrongState),
        }
        conn.set_held(false);
        self.flush();
        self.env.follow.resume.push(self.key);
        Ok(())
    }

    /// Answers a deferred request.
    pub fn respond_deferred(&mut self, response: &Response) -> Result<(), SendError> {
        if !matches!(self.http()?.pending, Pending::Deferred { .. }) {
            return Err(SendError::WrongState);
        }
        self.respond(response)
    }

    /// Whether the application holds a request to answer later.
    pub fn is_deferred(&self) -> bool {
        matches!(self.conn.proto(), Proto::Http(h) if matches!(h.pending, Pending::Deferred { .. }))
    }

    /// The deadline of a deferred answer, if it has passed.
    pub fn deferred_due(&self) -> bool {
        match self.conn.proto() {
            Proto::Http(h) => match h.pending {
                Pending::Deferred { deadline } => deadline.is_some_and(|d| self.env.now >= d),
                _ => false,
            },
            _ => false,
        }
    }
}

/// Calls `f` with the response fields plus `Date` (unless the application set one), without
/// allocating for up to 15 fields.
fn with_fields<R>(
    headers: &[(Cow<'static, str>, Cow<'static, [u8]>)],
    date: &[u8],
    f: impl FnOnce(&[(&str, &[u8])]) -> R,
) -> R {
    const STACK: usize = 16;
    let has_date = headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("date"));
    if headers.len() < STACK {
        let mut fields: [(&str, &[u8]); STACK] = [("", &[]); STACK];
        for (slot, (n, v)) in fields.iter_mut().zip(headers) {
            *slot = (n, v);
        }
        let mut n = headers.len();
        if !has_date {
            fields[n] = ("Date", date);
            n += 1;
        }
        f(&fields[..n])
    } else {
        let mut fields: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (&**n, &**v)).collect();
        if !has_date {
            fields.push(("Date", date));
        }
        f(&fields)
    }
}
