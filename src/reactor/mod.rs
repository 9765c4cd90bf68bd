//! The reactor: a thin mio event loop that drives the sans-IO machines. It is the only place
//! that names sockets or a clock.
//!
//! Each worker thread owns a `mio::Poll`, a slab of connections and one timer heap. All
//! workers share the listening socket (each through its own descriptor) and take connections
//! as they come. A connection owns no read buffer while idle: input is read into the worker's
//! buffer and only an unconsumed tail (a split frame header, a partial request head) is kept.
//! Output goes straight to the socket; only what the socket does not take is queued.
//!
//! Defences, all from [`Limits`]: the header deadline and idle timeout and slow-body rate (in
//! the HTTP machine, driven by the timers here), slow readers (stop reading while the write
//! queue is over `write_queue_bytes`; drop after `slow_consumer_timeout`), `max_connections`,
//! and accept back-off when the process is out of descriptors.
//!
//! ```no_run
//! use pushwire::reactor::Server;
//! use pushwire::reactor::{App, Ctx, Reply, Response};
//! use pushwire::http::Request;
//!
//! struct Hello;
//! impl App for Hello {
//!     type Local = ();
//!     type Notice = ();
//!     fn local(&self) {}
//!     fn request(&self, _: &mut (), _: &Request<'_>, _: &[u8], _: &mut Ctx<'_, ()>) -> Reply {
//!         Response::text("Hello, World!").into()
//!     }
//! }
//!
//! let server = Server::builder().bind("127.0.0.1:8080").threads(2).build(Hello)?;
//! server.run()?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod app;
mod clock;
mod core;
mod ctx;
#[cfg(feature = "deflate")]
mod deflate_memo;
mod gather;
mod io_stats;
mod per_address;
mod slab;
mod socket;
mod spill;
pub mod testing;
mod timers;
#[cfg(feature = "tls")]
mod tls;
mod upgrade;
mod worker;

pub use self::core::SendError;
pub use app::{App, ConnId, Message, NoApp, Reply, Response};
pub use clock::{Clock, ManualClock, SystemClock};
pub use ctx::Ctx;
pub use io_stats::IoStats;

use self::core::Core;
use crate::limits::Limits;
use mio::{Interest, Poll, Waker};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use worker::{LISTENERS, Listener, WAKER, Worker};

/// The size of each worker's read buffer, and how much unconsumed input a connection may hold
/// before reading from it pauses.
pub(crate) const READ_CHUNK: usize = 64 * 1024;

/// Builds a [`Server`].
#[derive(Debug)]
pub struct Builder {
    addr: Vec<SocketAddr>,
    threads: usize,
    limits: Limits,
    tick: Option<std::time::Duration>,
    clock: Option<Arc<dyn Clock>>,
    /// Set only with the `deflate` feature.
    deflate: Option<crate::ws::deflate::ServerConfig>,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::ServerTls>,
    #[cfg(feature = "tls")]
    tls_addr: Vec<SocketAddr>,
}

impl Builder {
    /// The address to listen on (default `127.0.0.1:8080`).
    pub fn bind(mut self, addr: impl ToSocketAddrs) -> Self {
        self.addr = addresses(addr);
        self
    }

    /// Worker threads (default: the available cores).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Calls [`App::tick`] on every worker this often.
    pub fn tick(mut self, every: std::time::Duration) -> Self {
        self.tick = Some(every);
        self
    }

    /// Agree to permessage-deflate (RFC 7692) on WebSocket upgrades whose client offers it,
    /// within `config`. Off unless called.
    #[cfg(feature = "deflate")]
    pub fn ws_deflate(mut self, config: crate::ws::deflate::ServerConfig) -> Self {
        self.deflate = Some(config);
        self
    }

    /// Serve TLS (https, wss) with `config`: on the [`bind`](Builder::bind) address, or, if
    /// [`bind_tls`](Builder::bind_tls) is given too, on that one while `bind` stays plaintext.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: crate::tls::ServerTls) -> Self {
        self.tls = Some(config);
        self
    }

    /// A second listening address, for TLS, beside the plaintext [`bind`](Builder::bind) one
    /// (e.g. 8080 and 8443). Needs [`tls`](Builder::tls).
    #[cfg(feature = "tls")]
    pub fn bind_tls(mut self, addr: impl ToSocketAddrs) -> Self {
        self.tls_addr = addresses(addr);
        self
    }

    /// Where the workers read the time (default: [`SystemClock`]). A [`ManualClock`] lets a
    /// test move time itself.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The limits every connection is held to.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Binds the listening socket and prepares the workers.
    ///
    /// # Errors
    /// The bind or poll setup failed.
    pub fn build<A: App>(self, app: A) -> io::Result<Server<A>> {
        let bound = self.listeners()?;
        let local_addr = bound[0].0.local_addr()?;
        let tls_addr = bound
            .iter()
            .find(|(_, tls)| tls.is_some())
            .map(|(l, _)| l.local_addr())
            .transpose()?;
        let mut polls = Vec::new();
        let mut wakers = Vec::new();
        let mut listeners = Vec::new();
        for _ in 0..self.threads {
            let poll = Poll::new()?;
            let mut mine = Vec::new();
            for ((listener, tls), token) in bound.iter().zip(LISTENERS) {
                let mut socket = mio::net::TcpListener::from_std(listener.try_clone()?);
                poll.registry()
                    .register(&mut socket, token, Interest::READABLE)?;
                #[cfg(not(feature = "tls"))]
                let _: &Option<()> = tls;
                mine.push(Listener {
                    socket,
                    #[cfg(feature = "tls")]
                    tls: tls.clone(),
                });
            }
            wakers.push(Waker::new(poll.registry(), WAKER)?);
            polls.push(poll);
            listeners.push(mine);
        }
        let open = Arc::new(AtomicUsize::new(0));
        let per_address = (self.limits.max_connections_per_address != usize::MAX).then(|| {
            Arc::new(per_address::PerAddress::new(
                self.limits.max_connections_per_address,
            ))
        });
        let io: Vec<Arc<io_stats::IoCounters>> =
            (0..self.threads).map(|_| Arc::default()).collect();
        let shared = Arc::new(Shared {
            queues: (0..self.threads).map(|_| Mutex::new(Vec::new())).collect(),
            wakers,
            shutdown: AtomicBool::new(false),
            io: io.clone(),
        });
        let handle = Handle {
            shared,
            local_addr,
            tls_addr,
        };
        let app = Arc::new(app);
        let clock: Arc<dyn Clock> = self
            .clock
            .unwrap_or_else(|| Arc::new(SystemClock::default()));
        let workers = polls
            .into_iter()
            .zip(listeners)
            .enumerate()
            .map(|(index, (poll, listeners))| Worker {
                app: app.clone(),
                poll,
                listeners,
                core: Core::new(
                    self.limits.clone(),
                    open.clone(),
                    self.deflate,
                    io[index].clone(),
                    per_address.clone(),
                ),
                handle: handle.clone(),
                index,
                clock: clock.clone(),
                tick: self.tick,
            })
            .collect();
        Ok(Server { workers, handle })
    }

    /// The listening sockets, each with the TLS configuration it speaks.
    #[cfg(feature = "tls")]
    fn listeners(
        &self,
    ) -> io::Result<Vec<(std::net::TcpListener, Option<Arc<rustls::ServerConfig>>)>> {
        let config = match &self.tls {
            Some(tls) => Some(tls.rustls_config().map_err(io::Error::other)?),
            None if !self.tls_addr.is_empty() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "bind_tls without tls: no certificate to serve",
                ));
            }
            None => None,
        };
        if self.tls_addr.is_empty() {
            return Ok(vec![(listen(&self.addr)?, config)]);
        }
        Ok(vec![
            (listen(&self.addr)?, None),
            (listen(&self.tls_addr)?, config),
        ])
    }

    #[cfg(not(feature = "tls"))]
    fn listeners(&self) -> io::Result<Vec<(std::net::TcpListener, Option<()>)>> {
        Ok(vec![(listen(&self.addr)?, None)])
    }
}

/// What `addr` resolves to; none when it does not resolve (`build` then fails to bind).
fn addresses(addr: impl ToSocketAddrs) -> Vec<SocketAddr> {
    addr.to_socket_addrs()
        .map(|a| a.collect())
        .unwrap_or_default()
}

/// Binds a listening socket with a backlog large enough for connection bursts (std and mio
/// fix it at 128; SYNs past the backlog are dropped and retried a second later).
fn listen(addrs: &[SocketAddr]) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to bind");
    for addr in addrs {
        let socket = Socket::new(
            Domain::for_address(*addr),
            Type::STREAM,
            Some(Protocol::TCP),
        )?;
        socket.set_reuse_address(true)?;
        match socket
            .bind(&(*addr).into())
            .and_then(|()| socket.listen(LISTEN_BACKLOG))
        {
            Ok(()) => {
                socket.set_nonblocking(true)?;
                return Ok(socket.into());
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The listen backlog (the kernel caps it at `net.core.somaxconn`).
const LISTEN_BACKLOG: i32 = 4096;

/// A bound server, ready to run.
pub struct Server<A: App> {
    workers: Vec<Worker<A>>,
    handle: Handle<A::Notice>,
}

impl Server<NoApp> {
    /// A builder with the defaults.
    pub fn builder() -> Builder {
        Builder {
            addr: vec![SocketAddr::from(([127, 0, 0, 1], 8080))],
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            limits: Limits::default(),
            deflate: None,
            tick: None,
            clock: None,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            tls_addr: Vec::new(),
        }
    }
}

impl<A: App> Server<A> {
    /// A handle for other threads: notices, shutdown, the bound address.
    pub fn handle(&self) -> Handle<A::Notice> {
        self.handle.clone()
    }

    /// The address the server listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local_addr
    }

    /// The address that speaks TLS, if any (see [`Handle::tls_addr`]).
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.handle.tls_addr
    }

    /// Runs every worker until a graceful shutdown completes.
    ///
    /// # Errors
    /// A worker's poll failed.
    pub fn run(self) -> io::Result<()> {
        let threads: Vec<_> = self
            .workers
            .into_iter()
            .enumerate()
            .map(|(i, w)| {
                std::thread::Builder::new()
                    .name(format!("pushwire-{i}"))
                    .spawn(move || w.run())
            })
            .collect::<io::Result<_>>()?;
        let mut result = Ok(());
        for t in threads {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(e),
                Err(_) => result = Err(io::Error::other("a worker panicked")),
            }
        }
        result
    }
}

/// Locks `m`; a panic elsewhere while it was held does not make its contents unusable (each
/// holder leaves them consistent between statements).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) struct Shared<N> {
    pub queues: Vec<Mutex<Vec<Arc<N>>>>,
    wakers: Vec<Waker>,
    pub shutdown: AtomicBool,
    /// Each worker's system-call counters.
    io: Vec<Arc<io_stats::IoCounters>>,
}

impl<N> Handle<N> {
    /// The handle of one worker with `poll`'s waker and no listening socket (the testing
    /// harness), and that worker's counters.
    pub(crate) fn single(poll: &Poll) -> io::Result<(Handle<N>, Arc<io_stats::IoCounters>)> {
        let io: Arc<io_stats::IoCounters> = Arc::default();
        let shared = Arc::new(Shared {
            queues: vec![Mutex::new(Vec::new())],
            wakers: vec![Waker::new(poll.registry(), WAKER)?],
            shutdown: AtomicBool::new(false),
            io: vec![io.clone()],
        });
        let local_addr = SocketAddr::from(([0, 0, 0, 0], 0));
        let handle = Handle {
            shared,
            local_addr,
            tls_addr: None,
        };
        Ok((handle, io))
    }
}

/// A cloneable, `Send` handle to a running server.
pub struct Handle<N> {
    pub(crate) shared: Arc<Shared<N>>,
    local_addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
}

impl<N> Clone for Handle<N> {
    fn clone(&self) -> Self {
        Handle {
            shared: self.shared.clone(),
            local_addr: self.local_addr,
            tls_addr: self.tls_addr,
        }
    }
}

impl<N: Send + Sync + 'static> Handle<N> {
    /// Delivers `notice` to [`App::notice`] on every worker (including the caller's).
    pub fn notify(&self, notice: N) {
        let notice = Arc::new(notice);
        for (queue, waker) in self.shared.queues.iter().zip(&self.shared.wakers) {
            let mut q = lock(queue);
            let was_empty = q.is_empty();
            q.push(notice.clone());
            drop(q);
            if was_empty {
                let _ = waker.wake();
            }
        }
    }

    /// Starts a graceful shutdown: stop accepting, finish in-flight responses, close
    /// WebSockets with 1001, drain writes; [`Server::run`] then returns.
    pub fn shutdown(&self) {
        self.shared.shutdown.store(true, Ordering::Release);
        for waker in &self.shared.wakers {
            let _ = waker.wake();
        }
    }

    /// Wakes every worker to read the time and act on what became due: after moving a
    /// [`ManualClock`]. (With the system clock, workers wake by themselves.)
    pub fn wake(&self) {
        for waker in &self.shared.wakers {
            let _ = waker.wake();
        }
    }

    /// System calls on connection sockets so far, over all workers.
    pub fn io_stats(&self) -> IoStats {
        IoStats::sum(self.shared.io.iter().map(|c| &**c))
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address that speaks TLS, if any: the [`local_addr`](Handle::local_addr) itself when
    /// TLS has no address of its own.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }
}
