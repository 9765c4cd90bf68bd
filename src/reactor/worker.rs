//! One worker: a `mio::Poll`, its connections, its timers, and the application's local state.
//!
//! Each loop iteration reads the clock once, handles readiness (accept, read, write), the
//! waker (notices and shutdown), then due timers, then the follow-ups that callbacks queued
//! (connections to resume, connections whose end the application must hear about).

use super::app::{App, ConnId, Message, Response};
use super::core::{Conn, Core, Pending, Proto};
use super::gather;
use super::socket::io_of;
use super::upgrade;
use super::{Clock, Ctx, Handle, READ_CHUNK};
use crate::http;
use crate::time::Instant;
use crate::ws;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub(crate) const WAKER: Token = Token(1);

/// The tokens of a worker's listening sockets (the `bind` one, then the TLS one if separate);
/// connection keys start above them.
pub(crate) const LISTENERS: [Token; 2] = [Token(0), Token(2)];

/// A listening socket, and the TLS configuration its connections speak, if any.
pub(crate) struct Listener {
    pub socket: TcpListener,
    #[cfg(feature = "tls")]
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Listener {
    /// The socket a new connection is read and written through; a TLS handshake must be done
    /// by `handshake_deadline`.
    fn wrap(
        &self,
        tcp: mio::net::TcpStream,
        handshake_deadline: Instant,
    ) -> io::Result<super::socket::Socket> {
        #[cfg(feature = "tls")]
        if let Some(config) = &self.tls {
            let tls = super::tls::TlsSocket::new(tcp, config.clone(), handshake_deadline)?;
            return Ok(super::socket::Socket::Tls(Box::new(tls)));
        }
        let _ = handshake_deadline;
        Ok(super::socket::Socket::Tcp(tcp))
    }
}

/// Reads per readiness event before other connections get a turn.
const READS_PER_TURN: usize = 8;

pub(crate) struct Worker<A: App> {
    pub app: Arc<A>,
    pub poll: Poll,
    pub listeners: Vec<Listener>,
    pub core: Core,
    pub handle: Handle<A::Notice>,
    pub index: usize,
    pub clock: Arc<dyn Clock>,
    pub tick: Option<Duration>,
}

pub(crate) struct Running<A: App> {
    app: Arc<A>,
    local: A::Local,
    poll: Poll,
    listeners: Vec<Listener>,
    pub(super) core: Core,
    pub(super) handle: Handle<A::Notice>,
    index: usize,
    clock: Arc<dyn Clock>,
    rbuf: Vec<u8>,
    accept_paused_until: Option<Instant>,
    shutdown_deadline: Option<Instant>,
    tick_every: Option<Duration>,
    next_tick: Option<Instant>,
}

impl<A: App> Worker<A> {
    pub fn run(self) -> io::Result<()> {
        let local = self.app.local();
        let mut running = Running {
            app: self.app,
            local,
            poll: self.poll,
            listeners: self.listeners,
            core: self.core,
            handle: self.handle,
            index: self.index,
            clock: self.clock,
            rbuf: vec![0; READ_CHUNK],
            accept_paused_until: None,
            shutdown_deadline: None,
            tick_every: self.tick,
            next_tick: None,
        };
        running.tick();
        running.next_tick = running.tick_every.map(|t| running.core.now + t);
        running.run()
    }
}

impl<A: App> Running<A> {
    /// A worker with no listening socket, on `clock`, for in-memory connections
    /// ([`super::testing::Harness`]).
    pub(super) fn in_memory(
        app: A,
        limits: super::Limits,
        clock: Arc<dyn Clock>,
    ) -> io::Result<Self> {
        let poll = Poll::new()?;
        let (handle, io) = Handle::single(&poll)?;
        let core = Core::new(
            limits,
            Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            None,
            io,
            None,
        );
        let app = Arc::new(app);
        let local = app.local();
        let mut running = Running {
            app,
            local,
            poll,
            listeners: Vec::new(),
            core,
            handle,
            index: 0,
            clock,
            rbuf: vec![0; READ_CHUNK],
            accept_paused_until: None,
            shutdown_deadline: None,
            tick_every: None,
            next_tick: None,
        };
        running.tick();
        Ok(running)
    }

    /// Calls `App::tick` every `every`.
    pub(super) fn set_tick(&mut self, every: Duration) {
        self.tick_every = Some(every);
        self.next_tick = Some(self.core.now + every);
    }

    /// Takes an in-memory connection as `accept` takes a socket; its key.
    pub(super) fn admit_memory(&mut self, socket: super::testing::MemSocket) -> u64 {
        self.tick();
        self.core.open_connections.fetch_add(1, Ordering::Relaxed);
        let key = self
            .core
            .slab
            .insert(Conn::new(None, self.core.now, &self.core.limits));
        self.core.memory.insert(key, socket);
        self.core.rearm(key);
        key
    }

    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.poll_timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            self.tick();
            for event in events.iter() {
                let listener = LISTENERS.iter().position(|&l| l == event.token());
                match (event.token(), listener) {
                    (_, Some(which)) => self.accept(which),
                    (WAKER, None) => self.on_wake(),
                    (Token(key), None) => {
                        let key = key as u64;
                        if event.is_writable() {
                            self.on_writable(key);
                        }
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            // A peer that also closed (or failed) is read until EOF; otherwise
                            // a short read means the socket is drained.
                            let to_eof = event.is_read_closed() || event.is_error();
                            self.on_readable(key, to_eof);
                        }
                    }
                }
                self.follow_up();
            }
            if self.after_events() {
                return Ok(());
            }
        }
    }

    /// After readiness: accepting again, timers, the application's deadlines and tick, and
    /// the end of a shutdown. Whether the worker is done.
    pub(super) fn after_events(&mut self) -> bool {
        {
            if self.accept_paused_until.is_some_and(|t| self.core.now >= t) {
                self.accept_paused_until = None;
                for which in 0..self.listeners.len() {
                    self.accept(which);
                }
            }
            self.run_timers();
            self.follow_up();
            if self
                .app
                .poll_timeout(&self.local)
                .is_some_and(|t| self.core.now >= t)
            {
                let (app, local, mut cx) = self.ctx(None);
                app.handle_timeout(local, &mut cx);
                self.follow_up();
            }
            if let (Some(every), Some(due)) = (self.tick_every, self.next_tick) {
                if self.core.now >= due {
                    // A fixed rate: the next tick is due one interval after this one was
                    // due, not after it ran (late ticks do not push the rest back); one that
                    // fell a whole interval behind starts again from now.
                    let next = due + every;
                    self.next_tick = Some(if next > self.core.now {
                        next
                    } else {
                        self.core.now + every
                    });
                    let (app, local, mut cx) = self.ctx(None);
                    app.tick(local, &mut cx);
                    self.follow_up();
                }
            }
            if let Some(deadline) = self.shutdown_deadline {
                if self.core.slab.len() == 0 || self.core.now >= deadline {
                    return true;
                }
            }
        }
        false
    }

    /// Reads the clocks, once per iteration.
    pub(super) fn tick(&mut self) {
        self.core.now = self.clock.now();
        self.core.unix_secs = self.clock.unix_secs();
    }

    /// How long to sleep: until the earliest deadline, or indefinitely (an idle server uses no
    /// CPU).
    fn poll_timeout(&mut self) -> Option<Duration> {
        self.tick();
        let mut next = self.core.timers.next_deadline();
        for t in [
            self.accept_paused_until,
            self.shutdown_deadline,
            self.next_tick,
            self.app.poll_timeout(&self.local),
        ]
        .into_iter()
        .flatten()
        {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        if !self.core.resume.is_empty() || !self.core.due.is_empty() {
            return Some(Duration::ZERO);
        }
        self.clock.wait(self.core.now, next)
    }

    fn ctx(&mut self, current: Option<ConnId>) -> (&A, &mut A::Local, Ctx<'_, A::Notice>) {
        (
            &self.app,
            &mut self.local,
            Ctx {
                core: &mut self.core,
                handle: &self.handle,
                current,
            },
        )
    }

    fn accept(&mut self, which: usize) {
        let Some(listener) = self.listeners.get(which) else {
            return;
        };
        loop {
            match listener.socket.accept() {
                Ok((socket, peer)) => {
                    let open = self.core.open_connections.fetch_add(1, Ordering::Relaxed) + 1;
                    if open > self.core.limits.max_connections {
                        self.core.open_connections.fetch_sub(1, Ordering::Relaxed);
                        drop(socket);
                        continue;
                    }
                    let _ = socket.set_nodelay(true);
                    let deadline = self.core.now + self.core.limits.header_timeout;
                    let Ok(socket) = listener.wrap(socket, deadline) else {
                        self.core.open_connections.fetch_sub(1, Ordering::Relaxed);
                        continue;
                    };
                    let conn = Conn::new(Some(socket), self.core.now, &self.core.limits);
                    let key = self.core.slab.insert(conn);
                    let registered = match self.core.slab.get_mut(key) {
                        Some(Conn {
                            socket: Some(socket),
                            ..
                        }) => self.poll.registry().register(
                            socket.tcp(),
                            Token(key as usize),
                            Interest::READABLE | Interest::WRITABLE,
                        ),
                        _ => Ok(()),
                    };
                    if registered.is_err() {
                        self.core.close_now(key);
                        continue;
                    }
                    if let Some(table) = self.core.per_address.clone() {
                        if !table.admit(peer.ip()) {
                            self.core.refuse_over_limit(key, table.limit());
                            continue;
                        }
                        self.core.addresses.insert(key, peer.ip());
                    }
                    self.core.rearm(key);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) =>
                {
                    continue;
                }
                Err(e) => {
                    // EMFILE / ENFILE / ENOBUFS: no descriptor or memory for a new connection.
                    // The connection stays in the backlog; try again shortly instead of
                    // spinning on an accept that keeps failing.
                    let _ = e;
                    self.accept_paused_until = Some(self.core.now + Duration::from_millis(100));
                    break;
                }
            }
        }
    }

    pub(super) fn on_writable(&mut self, key: u64) {
        let was_behind = self
            .core
            .slab
            .get(key)
            .is_some_and(|c| c.behind_since.is_some());
        self.core.write_queued(key);
        self.core.settle(key);
        if was_behind || self.core.slab.get(key).is_some_and(|c| c.read_pending) {
            self.core.resume.push(key);
        }
    }

    /// Reads what the socket holds. Readiness is edge-triggered: a read that returns less than
    /// the buffer has drained a stream socket, and new data will raise a new event, so the
    /// worker does not read again to hear `WouldBlock` (one system call fewer per message) —
    /// unless `to_eof`, when the peer's end may already be waiting behind the data.
    pub(super) fn on_readable(&mut self, key: u64, to_eof: bool) {
        for _ in 0..READS_PER_TURN {
            let Some(conn) = self.core.slab.get_mut(key) else {
                return;
            };
            if conn.lingering.is_some() {
                // Closing: read and discard until the peer's EOF.
                loop {
                    let read = io_of(&mut conn.socket, &mut self.core.memory, key)
                        .map_or(Ok(0), |io| io.read(&mut self.rbuf));
                    self.core
                        .io
                        .read(matches!(&read, Err(e) if e.kind() == io::ErrorKind::WouldBlock));
                    match read {
                        Ok(0) => return self.core.close_now(key),
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                        Err(_) => return self.core.close_now(key),
                    }
                }
            }
            if conn.read_paused(&self.core.limits) {
                conn.read_pending = true;
                return;
            }
            conn.read_pending = false;
            // A large frame being gathered is read into its own buffer and whatever follows
            // into the worker's, in one system call; other input into the worker's.
            let Some(io) = io_of(&mut conn.socket, &mut self.core.memory, key) else {
                return self.on_eof(key);
            };
            let gather = self.core.gathers.get_mut(key).filter(|_| conn.gathering);
            let (read, frame_part, asked) = match gather {
                Some(g) => {
                    let missing = g.missing();
                    let space = g.space();
                    let part = space.len();
                    if part == missing {
                        let asked = part + self.rbuf.len();
                        (io.read_two(space, &mut self.rbuf), part, asked)
                    } else {
                        // The buffer is still growing: nothing past its end is the next frame's.
                        (io.read(space), part, part)
                    }
                }
                None => (io.read(&mut self.rbuf), 0, self.rbuf.len()),
            };
            self.core
                .io
                .read(matches!(&read, Err(e) if e.kind() == io::ErrorKind::WouldBlock));
            match read {
                Ok(0) => return self.on_eof(key),
                Ok(n) => {
                    if frame_part > 0 {
                        self.gathered(key, n.min(frame_part));
                    }
                    if n > frame_part {
                        self.feed_input(key, n - frame_part);
                    }
                    if n < asked && !to_eof {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return self.core.close_now(key),
            }
        }
        // Still readable: give others a turn, come back next iteration.
        if let Some(conn) = self.core.slab.get_mut(key) {
            conn.read_pending = true;
            self.core.resume.push(key);
        }
    }

    /// `n` new bytes are at the start of the read buffer.
    fn feed_input(&mut self, key: u64, n: usize) {
        let Some(conn) = self.core.slab.get_mut(key) else {
            return;
        };
        if conn.inbuf.is_empty() {
            // The common case: parse straight from the shared buffer, keep only the rest.
            let consumed = process(
                &*self.app,
                &mut self.local,
                &mut self.core,
                &self.handle,
                key,
                &mut self.rbuf[..n],
            );
            if consumed < n {
                let rest = self.rbuf.get(consumed..n).unwrap_or_default();
                keep_input(&mut self.core, key, rest);
            }
        } else {
            let mut data = conn.inbuf.take();
            data.extend_from_slice(&self.rbuf[..n]);
            self.reprocess(key, data);
        }
        self.core.settle(key);
    }

    /// Offers input held outside the worker's read buffer to connection `key`'s machine; how
    /// many bytes it took.
    fn offer(&mut self, key: u64, input: &mut [u8]) -> usize {
        process(
            &*self.app,
            &mut self.local,
            &mut self.core,
            &self.handle,
            key,
            input,
        )
    }

    /// Offers buffered input to the machine again and keeps what it leaves.
    fn reprocess(&mut self, key: u64, mut data: Vec<u8>) {
        let consumed = self.offer(key, &mut data);
        let Some(conn) = self.core.slab.get_mut(key) else {
            return;
        };
        let rest = data.get(consumed..).unwrap_or_default();
        if gather_len(conn, rest).is_some() {
            keep_input(&mut self.core, key, rest);
        } else if conn.lingering.is_none() && !rest.is_empty() {
            data.drain(..consumed.min(data.len()));
            conn.inbuf.set(data);
        }
    }

    /// `n` more bytes of the frame being gathered arrived; once it is whole, it is fed to the
    /// machine in one piece and its buffer goes back to the pool.
    fn gathered(&mut self, key: u64, n: usize) {
        let now = self.core.now;
        let Some(conn) = self.core.slab.get_mut(key) else {
            return;
        };
        let Some(g) = self.core.gathers.get_mut(key).filter(|_| conn.gathering) else {
            return;
        };
        g.filled(n);
        if let Proto::Ws(w) = &mut conn.proto {
            w.input_pending(now);
        }
        if !g.is_whole() {
            return;
        }
        conn.gathering = false;
        let Some((mut buf, total)) = self.core.gathers.finish(key) else {
            return;
        };
        let frame = buf.get_mut(..total).unwrap_or_default();
        let consumed = self.offer(key, frame);
        match self.core.slab.get_mut(key) {
            // Not taken yet (a full write queue holds input back): it waits like any input.
            Some(conn) if consumed < total && conn.lingering.is_none() => {
                buf.truncate(total);
                conn.inbuf.set_at(buf, consumed);
            }
            _ => self.core.gathers.give(buf),
        }
        self.core.settle(key);
    }

    fn on_eof(&mut self, key: u64) {
        let now = self.core.now;
        let Some(conn) = self.core.slab.get_mut(key) else {
            return;
        };
        match &mut conn.proto {
            Proto::Http(h) => {
                let _ = h.http.feed_eof(now, &mut self.core.scratch);
                // A client that leaves a stream or a parked request is gone.
                let holds = matches!(h.pending, Pending::Stream | Pending::Deferred { .. });
                if holds || h.http.is_closed() || conn.queued() == 0 {
                    self.core.scratch.clear();
                    return self.core.close_now(key);
                }
            }
            Proto::Ws(w) => {
                let _ = w.feed_eof(now);
                return self.core.close_now(key);
            }
            // A client that leaves an event stream is gone.
            Proto::Stream(_) | Proto::Finished => return self.core.close_now(key),
        }
        self.core.flush(key);
        self.core.settle(key);
    }

    /// Notices from other threads, and the shutdown request.
    pub(super) fn on_wake(&mut self) {
        // Read the shutdown flag first: every notice sent before `shutdown()` is then already
        // in the queue, and is delivered below before the connections start closing.
        let shutting_down = self.handle.shared.shutdown.load(Ordering::Acquire);
        loop {
            let notices = {
                let mut queue = super::lock(&self.handle.shared.queues[self.index]);
                std::mem::take(&mut *queue)
            };
            if notices.is_empty() {
                break;
            }
            for notice in notices {
                let (app, local, mut cx) = self.ctx(None);
                app.notice(local, &notice, &mut cx);
                self.follow_up();
            }
        }
        if shutting_down && self.shutdown_deadline.is_none() {
            self.begin_shutdown();
        }
    }

    /// Graceful shutdown: stop accepting, close WebSockets with 1001, end streams, answer
    /// parked requests, let in-flight responses finish, and wait for writes to drain.
    fn begin_shutdown(&mut self) {
        self.shutdown_deadline = Some(self.core.now + self.core.limits.linger_timeout);
        for mut listener in std::mem::take(&mut self.listeners) {
            let _ = self.poll.registry().deregister(&mut listener.socket);
        }
        for key in self.core.slab.keys() {
            let Some(conn) = self.core.slab.get_mut(key) else {
                continue;
            };
            match &mut conn.proto {
                Proto::Ws(_) => {
                    let _ =
                        self.core
                            .ws_close(key, ws::CloseCode::GOING_AWAY, "server shutting down");
                }
                Proto::Stream(_) => {
                    let _ = self.core.stream_end(key);
                    if let Some(Conn {
                        proto: Proto::Http(h),
                        ..
                    }) = self.core.slab.get_mut(key)
                    {
                        h.http.close_after_response();
                    }
                }
                Proto::Finished => {}
                Proto::Http(h) => {
                    h.http.close_after_response();
                    match h.pending {
                        Pending::Stream => {
                            let _ = self.core.stream_end(key);
                        }
                        Pending::Deferred { .. } => {
                            let _ = self.core.respond(key, &Response::new(503));
                        }
                        _ => {}
                    }
                }
            }
            self.core.settle(key);
        }
    }

    fn run_timers(&mut self) {
        let mut due = std::mem::take(&mut self.core.due);
        due.sort_unstable();
        due.dedup();
        for key in due {
            if self.core.slab.get(key).is_some() {
                self.on_timer(key);
                self.core.settle(key);
                self.follow_up();
            }
        }
        while let Some((at, key)) = self.core.timers.pop_due(self.core.now) {
            let Some(conn) = self.core.slab.get_mut(key) else {
                continue;
            };
            if conn.scheduled != Some(at) {
                continue; // superseded by an earlier entry
            }
            conn.scheduled = None;
            self.on_timer(key);
            self.core.settle(key);
            self.follow_up();
        }
    }

    fn on_timer(&mut self, key: u64) {
        let now = self.core.now;
        let limits = &self.core.limits;
        let Some(conn) = self.core.slab.get_mut(key) else {
            return;
        };
        if conn.lingering.is_some_and(|t| now >= t) {
            return self.core.close_now(key);
        }
        let handshake_over = conn
            .socket
            .as_ref()
            .and_then(|s| s.handshake_deadline())
            .is_some_and(|t| now >= t);
        if handshake_over
            || conn
                .behind_since
                .is_some_and(|t| now >= t + limits.slow_consumer_timeout)
        {
            // A TLS handshake not finished by the header deadline is cut off like a slow head
            // (there is no channel yet to send a 408 on).
            // A consumer that stayed behind too long: drop it (an SSE client resumes with
            // Last-Event-ID).
            return self.core.close_now(key);
        }
        let mut deferred_due = false;
        match &mut conn.proto {
            Proto::Http(h) => {
                h.http.handle_timeout(now, &mut self.core.scratch);
                if let Pending::Deferred { deadline: Some(d) } = h.pending {
                    deferred_due = now >= d;
                }
            }
            Proto::Ws(w) => w.handle_timeout(now, &mut self.core.scratch),
            Proto::Stream(_) | Proto::Finished => {}
        }
        self.core.flush(key);
        if deferred_due {
            let (app, local, mut cx) = self.ctx(Some(ConnId(key)));
            let response = app.deferred_timeout(local, ConnId(key), &mut cx);
            let _ = self.core.respond(key, &response);
        }
    }

    /// Runs what callbacks queued: `App::closed` for ended connections, and input for
    /// connections that may read again.
    fn follow_up(&mut self) {
        loop {
            if let Some(key) = self.core.dead.pop() {
                let (app, local, mut cx) = self.ctx(None);
                app.closed(local, ConnId(key), &mut cx);
                continue;
            }
            if let Some(key) = self.core.resume.pop() {
                let Some(conn) = self.core.slab.get_mut(key) else {
                    continue;
                };
                if conn.read_paused(&self.core.limits) {
                    continue;
                }
                let missed = conn.read_pending;
                let data = conn.inbuf.take();
                if !data.is_empty() {
                    self.reprocess(key, data);
                    self.core.settle(key);
                }
                // Edge-triggered readiness fired while we were not reading: read now. (Not
                // otherwise: the socket was drained, and a read would only find `WouldBlock`.)
                if missed {
                    self.on_readable(key, true);
                }
                continue;
            }
            break;
        }
    }
}

/// What one step of driving a connection's machine left the loop to do.
enum Flow {
    /// `bytes` were consumed; go on if `more`.
    Consumed { bytes: usize, more: bool },
    /// Input waits (the connection is streaming a response).
    Pause,
    /// The connection is done with input: the rest is discarded.
    Ended,
}

/// Offers `input` to connection `key`'s machine until it stops, calling the application for
/// each request and message. Returns how many bytes were consumed.
fn process<A: App>(
    app: &A,
    local: &mut A::Local,
    core: &mut Core,
    handle: &Handle<A::Notice>,
    key: u64,
    input: &mut [u8],
) -> usize {
    let mut pos = 0;
    loop {
        let Some(conn) = core.slab.get_mut(key) else {
            return input.len();
        };
        if conn.lingering.is_some() {
            return input.len();
        }
        // A slow reader gets no new work: pipelined requests wait until its queue drains.
        if conn.queued() > core.limits.write_queue_bytes {
            return pos;
        }
        let rest = input.get_mut(pos..).unwrap_or_default();
        let flow = match &conn.proto {
            // A large frame that is not all here is read whole into a buffer of its own first.
            Proto::Ws(_) if gather_len(conn, rest).is_some() => Flow::Pause,
            // Bytes sent during an event stream wait (a pipelined request is read after it).
            Proto::Stream(_) => Flow::Pause,
            Proto::Finished => Flow::Ended,
            Proto::Http(_) => drive_http(app, local, core, handle, key, rest),
            Proto::Ws(_) => drive_ws(app, local, core, handle, key, rest),
        };
        match flow {
            Flow::Consumed { bytes, more } => {
                pos += bytes;
                if !more {
                    break;
                }
            }
            Flow::Pause => break,
            Flow::Ended => return input.len(),
        }
    }
    core.settle(key);
    pos
}

/// The length of the large frame `input` begins, when the WebSocket machine would hand it out
/// in place once whole but it is not all here: worth reading into a buffer of its own.
fn gather_len(conn: &Conn, input: &[u8]) -> Option<usize> {
    match &conn.proto {
        Proto::Ws(w) if conn.lingering.is_none() && !conn.gathering => w
            .unfinished_frame(input)
            .filter(|&total| total >= gather::MIN_FRAME),
        _ => None,
    }
}

/// Keeps input the machine did not take: the start of a large frame begins gathering it, the
/// rest waits in the connection's input queue.
fn keep_input(core: &mut Core, key: u64, rest: &[u8]) {
    let Some(conn) = core.slab.get_mut(key) else {
        return;
    };
    if conn.lingering.is_some() || rest.is_empty() {
        return;
    }
    match gather_len(conn, rest) {
        Some(total) => {
            core.gathers.start(key, rest, total);
            conn.gathering = true;
            if let Proto::Ws(w) = &mut conn.proto {
                w.input_pending(core.now);
            }
        }
        None => conn.inbuf.push(rest),
    }
}

/// One step of the HTTP machine: a request goes to the application (once its body is in), an
/// upgrade hands the connection to the WebSocket machine.
fn drive_http<A: App>(
    app: &A,
    local: &mut A::Local,
    core: &mut Core,
    handle: &Handle<A::Notice>,
    key: u64,
    input: &[u8],
) -> Flow {
    let now = core.now;
    let Some(Conn {
        proto: Proto::Http(h),
        ..
    }) = core.slab.get_mut(key)
    else {
        return Flow::Ended;
    };
    let step = match h.http.feed(now, input, &mut core.scratch) {
        Ok(step) => step,
        Err(_) => {
            // The machine wrote the error response and ignores the rest.
            core.flush(key);
            core.settle(key);
            return Flow::Ended;
        }
    };
    let consumed = step.consumed;
    let more = consumed > 0 || step.event.is_some();
    let cx = |core| Ctx {
        core,
        handle,
        current: Some(ConnId(key)),
    };
    match step.event {
        Some(http::Event::Request(request)) => {
            if request.expect_continue {
                // Within the limits (the machine refused larger bodies with 413): ask for it.
                let _ = h.http.accept_body(&mut core.scratch);
            }
            let has_body = !matches!(
                request.body,
                http::BodyKind::None | http::BodyKind::Length(0)
            );
            if has_body {
                let capacity = match request.body {
                    http::BodyKind::Length(n) => n.min(64 * 1024) as usize,
                    _ => 0,
                };
                h.pending = Pending::Body {
                    head: request.to_owned_request(),
                    body: Vec::with_capacity(capacity),
                };
            }
            core.flush(key);
            if !has_body {
                let reply = app.request(local, &as_get(&request), &[], &mut cx(&mut *core));
                core.apply_reply(key, reply, &request);
            }
        }
        Some(http::Event::Data(data)) => {
            if let Pending::Body { body, .. } = &mut h.pending {
                body.extend_from_slice(data);
            }
        }
        Some(http::Event::End) => {
            let collected = match h.pending {
                Pending::Body { .. } => std::mem::replace(&mut h.pending, Pending::None),
                _ => Pending::None,
            };
            if let Pending::Body { head, body } = collected {
                let request = head.as_request();
                let reply = app.request(local, &as_get(&request), &body, &mut cx(&mut *core));
                core.apply_reply(key, reply, &request);
            }
        }
        Some(http::Event::Upgraded { .. }) => {
            // The leftover is the rest of `input`: the WebSocket machine reads it next.
            if !upgrade::take_over(core, key) {
                core.close_now(key);
                return Flow::Ended;
            }
            app.ws_open(local, &mut cx(&mut *core));
            return Flow::Consumed {
                bytes: 0,
                more: true,
            };
        }
        _ => {}
    }
    core.flush(key);
    Flow::Consumed {
        bytes: consumed,
        more,
    }
}

/// One step of the WebSocket machine: a message goes to the application.
fn drive_ws<A: App>(
    app: &A,
    local: &mut A::Local,
    core: &mut Core,
    handle: &Handle<A::Notice>,
    key: u64,
    input: &mut [u8],
) -> Flow {
    let now = core.now;
    let Some(Conn {
        proto: Proto::Ws(w),
        ..
    }) = core.slab.get_mut(key)
    else {
        return Flow::Ended;
    };
    let step = match w.feed(now, input, &mut core.scratch) {
        Ok(step) => step,
        Err(_) => {
            // The machine wrote the close frame and ignores the rest.
            core.flush(key);
            core.settle(key);
            return Flow::Ended;
        }
    };
    let consumed = step.consumed;
    let more = consumed > 0 || step.event.is_some();
    let mut cx = Ctx {
        core: &mut *core,
        handle,
        current: Some(ConnId(key)),
    };
    match step.event {
        Some(ws::Event::Text(text)) => app.ws_message(local, Message::Text(&text), &mut cx),
        Some(ws::Event::Binary(data)) => app.ws_message(local, Message::Binary(&data), &mut cx),
        _ => {}
    }
    core.flush(key);
    Flow::Consumed {
        bytes: consumed,
        more,
    }
}

/// The request as the application sees it. RFC 9110 §9.3.2: HEAD is answered wherever GET is,
/// with the same status and fields and no body. So the application is shown a GET, and the
/// HTTP machine, which read the request as HEAD, sends the head of whatever it answers alone;
/// no application has to remember HEAD.
fn as_get<'a>(request: &http::Request<'a>) -> http::Request<'a> {
    let mut seen = request.clone();
    if seen.method == "HEAD" {
        seen.method = "GET";
    }
    seen
}
