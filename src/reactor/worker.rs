//! One worker: a `mio::Poll`, its connections, its timers, and the application's local state.
//!
//! Each loop iteration reads the clock once, handles readiness (accept, read, write), the
//! waker (notices and shutdown), then due timers, then the follow-ups that turns queued
//! (connections to resume, connections whose end the application must hear about). Reading is
//! `read.rs`, what the machines report goes to the application in `dispatch.rs`.

use super::app::App;
use super::clock::Clock;
use super::conn::{Conn, Pending, Proto};
use super::core::Core;
use super::dispatch::Driver;
use super::handle::{Handle, WAKER};
use super::io_driver::IoDriver;
use super::pipe::MemSocket;
use super::plain::Plain;
use super::reply::ConnId;
use super::socket::Socket;
use super::turn::Turn;
use crate::time::Instant;
use crate::ws;
use mio::net::TcpListener;
use mio::{Events, Poll, Token};
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The token of a worker's listener number `index` (just below the waker's).
pub(crate) fn listener_token(index: usize) -> Token {
    Token(WAKER.0 - 1 - index)
}

/// The listener a token names, if it names one.
fn listener_of(token: Token) -> Option<usize> {
    WAKER
        .0
        .checked_sub(token.0 + 1)
        .filter(|&i| i < MAX_LISTENERS)
}

/// Listeners a server may have (their tokens lie between connection keys and the waker's).
const MAX_LISTENERS: usize = 1024;

/// A listening socket, and the TLS configuration its connections speak, if any.
pub(crate) struct Listener {
    pub socket: TcpListener,
    #[cfg(feature = "tls")]
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Listener {
    /// The socket a new connection is read and written through; a TLS handshake must be done
    /// by `handshake_deadline`.
    pub(super) fn wrap(&self, plain: Plain, handshake_deadline: Instant) -> io::Result<Socket> {
        #[cfg(feature = "tls")]
        if let Some(config) = &self.tls {
            let tls = super::tls::TlsSocket::new(plain, config.clone(), handshake_deadline)?;
            return Ok(Socket::Tls(Box::new(tls)));
        }
        let _ = handshake_deadline;
        Ok(Socket::Plain(plain))
    }
}

pub(crate) struct Worker<A: App> {
    pub driver: IoDriver,
    pub app: Arc<A>,
    pub poll: Poll,
    pub listeners: Vec<Listener>,
    pub core: Core,
    pub handle: Handle<A::Notice>,
    pub index: usize,
    pub clock: Arc<dyn Clock>,
    pub tick: Option<Duration>,
    pub shutdown_timeout: Duration,
}

pub(crate) struct Running<A: App> {
    pub(super) driver: IoDriver,
    app: Arc<A>,
    local: A::Local,
    /// The readiness driver's poll; on the io_uring driver, only the waker's.
    pub(super) poll: Poll,
    pub(super) listeners: Vec<Listener>,
    /// Which listeners have a multishot accept armed (the io_uring driver).
    #[cfg(all(feature = "uring", target_os = "linux"))]
    pub(super) accept_armed: Vec<bool>,
    pub(super) core: Core,
    pub(super) handle: Handle<A::Notice>,
    index: usize,
    clock: Arc<dyn Clock>,
    rbuf: Vec<u8>,
    pub(super) accept_paused_until: Option<Instant>,
    shutdown_deadline: Option<Instant>,
    tick_every: Option<Duration>,
    next_tick: Option<Instant>,
    /// How long a graceful shutdown waits for connections to end.
    shutdown_timeout: Duration,
    /// When to check whether the buffers kept for large frames are still of use.
    pool_check: Option<Instant>,
}

impl<A: App> Worker<A> {
    pub fn run(self) -> io::Result<()> {
        let mut running = Running::new(self);
        running.tick();
        running.next_tick = running.tick_every.map(|t| running.core.env().now + t);
        match running.driver {
            IoDriver::Epoll => running.run(),
            #[cfg(all(feature = "uring", target_os = "linux"))]
            IoDriver::Uring => super::uring::run(running),
            #[cfg(not(all(feature = "uring", target_os = "linux")))]
            IoDriver::Uring => unreachable!("refused by Builder::build where it is not built"),
        }
    }
}

impl<A: App> Running<A> {
    fn new(w: Worker<A>) -> Self {
        let local = w.app.local();
        Running {
            driver: w.driver,
            app: w.app,
            local,
            poll: w.poll,
            listeners: w.listeners,
            #[cfg(all(feature = "uring", target_os = "linux"))]
            accept_armed: Vec::new(),
            core: w.core,
            handle: w.handle,
            index: w.index,
            clock: w.clock,
            rbuf: vec![0; super::READ_CHUNK],
            accept_paused_until: None,
            shutdown_deadline: None,
            tick_every: w.tick,
            next_tick: None,
            shutdown_timeout: w.shutdown_timeout,
            pool_check: None,
        }
    }

    /// A worker with no listening socket, on `clock`, for in-memory connections
    /// ([`super::testing::Harness`]).
    pub(super) fn in_memory(
        app: A,
        limits: super::Limits,
        clock: Arc<dyn Clock>,
    ) -> io::Result<Self> {
        let poll = Poll::new()?;
        let (handle, io) = Handle::single(&poll, limits.memory_budget)?;
        let shutdown_timeout = limits.linger_timeout;
        let core = Core::new(super::env::Setup {
            limits,
            open: handle.shared.open.clone(),
            deflate: None,
            io,
            memory: handle.shared.memory.clone(),
            per_address: None,
            record: false,
            trusted: Arc::from([]),
        });
        let mut running = Running::new(Worker {
            driver: IoDriver::Epoll,
            app: Arc::new(app),
            poll,
            listeners: Vec::new(),
            core,
            handle,
            index: 0,
            tick: None,
            shutdown_timeout,
            clock,
        });
        running.tick();
        Ok(running)
    }

    /// Calls `App::tick` every `every`.
    pub(super) fn set_tick(&mut self, every: Duration) {
        self.tick_every = Some(every);
        self.next_tick = Some(self.core.env().now + every);
    }

    /// Takes an in-memory connection as `accept` takes a socket; its key.
    pub(super) fn admit_memory(&mut self, socket: MemSocket) -> u64 {
        self.tick();
        let env = self.core.env();
        env.open.fetch_add(1, Ordering::Relaxed);
        let conn = Conn::new(Socket::Memory(socket), env.now, &env.limits);
        self.core.insert(conn)
    }

    /// The dispatcher over this worker's parts, and its read buffer.
    fn driver(&mut self) -> (Driver<'_, A>, &mut [u8]) {
        let (slab, env) = self.core.parts();
        let driver = Driver {
            app: &*self.app,
            local: &mut self.local,
            handle: &self.handle,
            slab,
            env,
        };
        (driver, &mut self.rbuf)
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
                match (event.token(), listener_of(event.token())) {
                    (WAKER, _) => self.on_wake(),
                    (_, Some(which)) => self.accept(which),
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
        let now = self.core.env().now;
        if self.accept_paused_until.is_some_and(|t| now >= t) {
            self.accept_paused_until = None;
            for which in 0..self.listeners.len() {
                self.accept(which);
            }
        }
        self.run_timers();
        self.follow_up();
        if self.app.poll_timeout(&self.local).is_some_and(|t| now >= t) {
            self.driver()
                .0
                .call_worker(|app, local, cx| app.handle_timeout(local, cx));
            self.follow_up();
        }
        if let (Some(every), Some(due)) = (self.tick_every, self.next_tick) {
            if now >= due {
                // A fixed rate: the next tick is due one interval after this one was due, not
                // after it ran (late ticks do not push the rest back); one that fell a whole
                // interval behind starts again from now.
                let next = due + every;
                self.next_tick = Some(if next > now { next } else { now + every });
                self.driver()
                    .0
                    .call_worker(|app, local, cx| app.tick(local, cx));
                self.follow_up();
            }
        }
        self.check_pool(now);
        match self.shutdown_deadline {
            Some(_) if self.core.len() == 0 => true,
            Some(deadline) if now >= deadline => {
                // Deferred requests still waiting are told the server is going away rather
                // than dropped (RFC 9110 §15.6.4).
                for key in self.core.keys() {
                    self.core.with(key, |turn| {
                        if turn.is_deferred() {
                            let going = super::reply::Response::new(503).header("Retry-After", "1");
                            let _ = turn.respond(&going);
                        }
                    });
                }
                true
            }
            _ => false,
        }
    }

    /// Buffers kept for large frames go back to the allocator once a whole interval passed
    /// without a large frame.
    fn check_pool(&mut self, now: Instant) {
        let pool = &mut self.core.env_mut().pool;
        match self.pool_check {
            None if !pool.is_empty() => self.pool_check = Some(now + super::gather::POOL_IDLE),
            Some(at) if now >= at => {
                pool.trim_if_idle();
                self.pool_check = (!pool.is_empty()).then_some(now + super::gather::POOL_IDLE);
            }
            _ => {}
        }
    }

    /// Reads the clocks, once per iteration.
    pub(super) fn tick(&mut self) {
        let env = self.core.env_mut();
        env.now = self.clock.now();
        env.unix_secs = self.clock.unix_secs();
    }

    /// How long to sleep: until the earliest deadline, or indefinitely (an idle server uses no
    /// CPU).
    pub(super) fn poll_timeout(&mut self) -> Option<Duration> {
        self.tick();
        let env = self.core.env();
        if !env.follow.is_idle() {
            return Some(Duration::ZERO);
        }
        let next = [
            env.timers.next_deadline(),
            self.accept_paused_until,
            self.shutdown_deadline,
            self.next_tick,
            self.pool_check,
            self.app.poll_timeout(&self.local),
        ]
        .into_iter()
        .flatten()
        .min();
        self.clock.wait(env.now, next)
    }

    pub(super) fn on_writable(&mut self, key: u64) {
        self.core.with(key, |turn| {
            let was_behind = turn.conn().is_behind();
            turn.write_queued();
            turn.settle();
            if was_behind || turn.conn().read_pending() {
                let key = turn.key();
                turn.parts().1.follow.resume.push(key);
            }
        });
    }

    pub(super) fn on_readable(&mut self, key: u64, to_eof: bool) {
        let (mut driver, rbuf) = self.driver();
        driver.on_readable(rbuf, key, to_eof);
    }

    /// Notices from other threads, and the shutdown request.
    pub(super) fn on_wake(&mut self) {
        // Read the shutdown flag first: every notice sent before `shutdown()` is then already
        // in the queue, and is delivered below before the connections start closing.
        let shutting_down = self.handle.shared.shutdown.load(Ordering::Acquire);
        loop {
            let notices = {
                let mut queue = super::handle::lock(&self.handle.shared.queues[self.index]);
                std::mem::take(&mut *queue)
            };
            if notices.is_empty() {
                break;
            }
            for notice in notices {
                self.driver()
                    .0
                    .call_worker(|app, local, cx| app.notice(local, &notice, cx));
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
        let now = self.core.env().now;
        self.shutdown_deadline = Some(now + self.shutdown_timeout);
        for mut listener in std::mem::take(&mut self.listeners) {
            let _ = self.poll.registry().deregister(&mut listener.socket);
        }
        let keys = self.core.keys();
        for &key in &keys {
            self.core.with(key, |turn| {
                turn.note_end(super::record::End::Shutdown);
                close_after_response(turn);
            });
        }
        self.driver()
            .0
            .call_worker(|app, local, cx| app.draining(local, cx));
        self.follow_up();
        for key in keys {
            self.core.with(key, wind_down);
        }
        self.follow_up();
    }

    fn run_timers(&mut self) {
        let mut due = std::mem::take(&mut self.core.env_mut().follow.due);
        due.sort_unstable();
        due.dedup();
        for key in due {
            self.driver().0.on_timer(key, None);
            self.follow_up();
        }
        loop {
            let env = self.core.env_mut();
            let Some((at, key)) = env.timers.pop_due(env.now) else {
                break;
            };
            self.driver().0.on_timer(key, Some(at));
            self.follow_up();
        }
    }

    /// Runs what turns queued: `App::closed` for ended connections, and input for connections
    /// that may read again.
    pub(super) fn follow_up(&mut self) {
        loop {
            let follow = &mut self.core.env_mut().follow;
            if let Some(key) = follow.dead.pop() {
                self.driver()
                    .0
                    .call_worker(|app, local, cx| app.closed(local, ConnId(key), cx));
                continue;
            }
            if let Some(ended) = follow.ended.pop() {
                self.app.ended(&mut self.local, &ended);
                continue;
            }
            if let Some(key) = follow.resume.pop() {
                let (mut driver, rbuf) = self.driver();
                driver.on_resume(rbuf, key);
                continue;
            }
            break;
        }
    }
}

/// A graceful shutdown began: every HTTP exchange closes its connection after its response
/// (an idle keep-alive connection closes now).
fn close_after_response(turn: &mut Turn<'_>) {
    let (conn, _) = turn.parts();
    if let Proto::Http(h) = conn.proto_mut() {
        h.http.close_after_response();
    }
}

/// What the application left open when a graceful shutdown began: a WebSocket is closed
/// `1001`, a stream ends. A deferred request stays for its answer (or its own timeout, or the
/// `503` at the shutdown deadline). An HTTP connection closes after its response — also one
/// whose event stream the application just ended, which would otherwise wait idle for another
/// request.
fn wind_down(turn: &mut Turn<'_>) {
    let (conn, _) = turn.parts();
    match conn.proto_mut() {
        Proto::Ws(w) if !w.is_closing() => {
            let _ = turn.ws_close(ws::CloseCode::GOING_AWAY, "server shutting down");
        }
        Proto::Stream(_) => {
            let _ = turn.stream_end();
        }
        Proto::Http(h) if matches!(h.pending, Pending::Stream) => {
            let _ = turn.stream_end();
        }
        _ => {}
    }
    close_after_response(turn);
}
