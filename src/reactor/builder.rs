//! [`Builder`] and [`Server`]: binding the listeners, preparing one worker per thread, running
//! them.

use super::app::{App, NoApp};
use super::clock::{Clock, SystemClock};
use super::core::Core;
use super::env::Setup;
use super::handle::{Handle, Shared, WAKER};
use super::io_driver::IoDriver;
use super::io_stats::IoCounters;
use super::memory::Memory;
use super::per_address::PerAddress;
use super::worker::{Listener, Worker, listener_token};
use crate::http::forwarded::Cidr;
use crate::limits::Limits;
use mio::{Interest, Poll, Waker};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};

/// One address to listen on, and whether it speaks TLS.
#[derive(Debug, Clone)]
struct Bind {
    addrs: Vec<SocketAddr>,
    /// `None` for the [`Builder::bind`] address: TLS when [`Builder::tls`] is given and no
    /// other address speaks it.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    tls: Option<bool>,
}

/// Builds a [`Server`].
#[derive(Debug)]
pub struct Builder {
    binds: Vec<Bind>,
    threads: usize,
    limits: Limits,
    tick: Option<std::time::Duration>,
    clock: Option<Arc<dyn Clock>>,
    record: bool,
    trusted: Vec<Cidr>,
    shutdown_timeout: Option<std::time::Duration>,
    /// [`bind_tls`](Builder::bind_tls) was called: the `bind` address stays plaintext.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    bind_plain: bool,
    /// Set only with the `deflate` feature.
    deflate: Option<crate::ws::deflate::ServerConfig>,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::ServerTls>,
    /// `None`: as `PUSHWIRE_DRIVER` says, else epoll.
    driver: Option<IoDriver>,
}

impl Builder {
    /// The address to listen on (default `127.0.0.1:8080`).
    pub fn bind(mut self, addr: impl ToSocketAddrs) -> Self {
        self.binds[0].addrs = addresses(addr);
        self
    }

    /// Another plaintext address to listen on, besides [`bind`](Builder::bind)'s.
    pub fn listen(mut self, addr: impl ToSocketAddrs) -> Self {
        self.binds.push(Bind {
            addrs: addresses(addr),
            tls: Some(false),
        });
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

    /// An address that speaks TLS, beside the plaintext [`bind`](Builder::bind) one (e.g. 8080
    /// and 8443); may be given several times. Needs [`tls`](Builder::tls).
    #[cfg(feature = "tls")]
    pub fn bind_tls(mut self, addr: impl ToSocketAddrs) -> Self {
        self.bind_plain = true;
        self.listen_tls(addr)
    }

    /// Another address that speaks TLS, leaving the [`bind`](Builder::bind) address as it is
    /// (TLS too, unless [`bind_tls`](Builder::bind_tls) made it plaintext): a TLS-only server
    /// on several addresses is `bind(a).tls(config).listen_tls(b)`.
    #[cfg(feature = "tls")]
    pub fn listen_tls(mut self, addr: impl ToSocketAddrs) -> Self {
        self.binds.push(Bind {
            addrs: addresses(addr),
            tls: Some(true),
        });
        self
    }

    /// Where the workers read the time (default: [`SystemClock`]). A
    /// [`ManualClock`](super::ManualClock) lets a test move time itself.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Keep, for every connection, its client's address, when it opened, and the bytes and
    /// requests it carried: reported in [`Ended::record`](super::Ended::record) when it ends
    /// (one log line per connection) and by [`Ctx::peer`](super::Ctx::peer). About 80 bytes per
    /// connection; off by default (on anyway with a per-address limit or trusted proxies).
    pub fn record_connections(mut self, on: bool) -> Self {
        self.record = on;
        self
    }

    /// Peers whose `Forwarded` (RFC 7239) and `X-Forwarded-For` fields are believed: a
    /// connection from one of them counts (for `Limits::max_connections_per_address`, and in
    /// [`Ctx::peer`](super::Ctx::peer)) under the client address they vouch for. From any other
    /// peer those fields are ignored.
    pub fn trusted_proxies(mut self, proxies: impl IntoIterator<Item = Cidr>) -> Self {
        self.trusted = proxies.into_iter().collect();
        self
    }

    /// How long a graceful shutdown ([`Handle::shutdown`]) waits for connections to end before
    /// the workers stop anyway (default `Limits::linger_timeout`).
    pub fn shutdown_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.shutdown_timeout = Some(timeout);
        self
    }

    /// The limits every connection is held to.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// How the workers do their I/O: readiness on epoll (the default) or completions on
    /// io_uring (feature `uring`, Linux). Without this call, the environment variable
    /// `PUSHWIRE_DRIVER` (`epoll` or `uring`) chooses, so that a whole test suite or an
    /// unchanged program can run on either.
    pub fn driver(mut self, driver: IoDriver) -> Self {
        self.driver = Some(driver);
        self
    }

    /// Binds the listening sockets and prepares the workers.
    ///
    /// # Errors
    /// A bind or the poll setup failed.
    pub fn build<A: App>(self, app: A) -> io::Result<Server<A>> {
        if self.binds.len() > usize::from(u8::MAX) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "at most 255 listening addresses",
            ));
        }
        let driver = match self.driver {
            Some(driver) => driver,
            None => IoDriver::from_env()?,
        };
        let bound = self.listeners()?;
        driver.available()?;
        let addrs: Vec<(SocketAddr, bool)> = bound
            .iter()
            .map(|(l, tls)| Ok((l.local_addr()?, tls.is_some())))
            .collect::<io::Result<_>>()?;
        let mut polls = Vec::new();
        let mut wakers = Vec::new();
        let mut listeners = Vec::new();
        for _ in 0..self.threads {
            let poll = Poll::new()?;
            listeners.push(worker_listeners(&poll, &bound, driver)?);
            wakers.push(Waker::new(poll.registry(), WAKER)?);
            polls.push(poll);
        }
        let open = Arc::new(AtomicUsize::new(0));
        let trusted: Arc<[Cidr]> = self.trusted.clone().into();
        let per_address = (self.limits.max_connections_per_address != usize::MAX)
            .then(|| Arc::new(PerAddress::new(self.limits.max_connections_per_address)));
        let io: Vec<Arc<IoCounters>> = (0..self.threads).map(|_| Arc::default()).collect();
        let memory = Arc::new(Memory::new(self.limits.memory_budget, io.clone()));
        let shared = Arc::new(Shared {
            memory: memory.clone(),
            queues: (0..self.threads).map(|_| Mutex::new(Vec::new())).collect(),
            wakers,
            shutdown: AtomicBool::new(false),
            io: io.clone(),
            open: open.clone(),
        });
        let handle = Handle {
            shared,
            local_addr: addrs[0].0,
            tls_addr: addrs.iter().find(|(_, tls)| *tls).map(|(a, _)| *a),
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
                driver,
                app: app.clone(),
                poll,
                listeners,
                core: Core::new(Setup {
                    limits: self.limits.clone(),
                    open: open.clone(),
                    deflate: self.deflate,
                    io: io[index].clone(),
                    memory: memory.clone(),
                    per_address: per_address.clone(),
                    // The per-address limit counts by the address a record keeps.
                    record: self.record || per_address.is_some() || !trusted.is_empty(),
                    trusted: trusted.clone(),
                }),
                handle: handle.clone(),
                index,
                clock: clock.clone(),
                tick: self.tick,
                shutdown_timeout: self.shutdown_timeout.unwrap_or(self.limits.linger_timeout),
            })
            .collect();
        Ok(Server {
            workers,
            handle,
            addrs,
        })
    }

    /// The listening sockets, each with the TLS configuration it speaks.
    #[cfg(feature = "tls")]
    fn listeners(
        &self,
    ) -> io::Result<Vec<(std::net::TcpListener, Option<Arc<rustls::ServerConfig>>)>> {
        let config = match &self.tls {
            Some(tls) => Some(tls.rustls_config().map_err(io::Error::other)?),
            None => None,
        };
        let other_tls = self.binds.iter().any(|b| b.tls == Some(true));
        let bind_plain = self.bind_plain;
        if config.is_none() && other_tls {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bind_tls without tls: no certificate to serve",
            ));
        }
        self.binds
            .iter()
            .map(|bind| {
                let tls = bind.tls.unwrap_or(!bind_plain);
                Ok((listen(&bind.addrs)?, config.clone().filter(|_| tls)))
            })
            .collect()
    }

    #[cfg(not(feature = "tls"))]
    fn listeners(&self) -> io::Result<Vec<(std::net::TcpListener, Option<()>)>> {
        self.binds
            .iter()
            .map(|bind| Ok((listen(&bind.addrs)?, None)))
            .collect()
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
        if addr.is_ipv6() {
            // An IPv6 address listens on IPv6 alone, so that `[::]` and `0.0.0.0` may both be
            // bound.
            socket.set_only_v6(true)?;
        }
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

/// One worker's own descriptors of the bound listeners, registered with its `poll` on the
/// readiness driver (on io_uring, the worker's accepts take the connections).
fn worker_listeners<T: ListenerTls>(
    poll: &Poll,
    bound: &[(std::net::TcpListener, T)],
    driver: IoDriver,
) -> io::Result<Vec<Listener>> {
    let mut mine = Vec::new();
    for (index, (listener, tls)) in bound.iter().enumerate() {
        let mut socket = mio::net::TcpListener::from_std(listener.try_clone()?);
        if driver == IoDriver::Epoll {
            poll.registry()
                .register(&mut socket, listener_token(index), Interest::READABLE)?;
        }
        mine.push(tls.listener(socket));
    }
    Ok(mine)
}

/// What a bound listener speaks, as [`Builder::listeners`] returns it.
trait ListenerTls {
    fn listener(&self, socket: mio::net::TcpListener) -> Listener;
}

#[cfg(feature = "tls")]
impl ListenerTls for Option<Arc<rustls::ServerConfig>> {
    fn listener(&self, socket: mio::net::TcpListener) -> Listener {
        Listener {
            socket,
            tls: self.clone(),
        }
    }
}

#[cfg(not(feature = "tls"))]
impl ListenerTls for Option<()> {
    fn listener(&self, socket: mio::net::TcpListener) -> Listener {
        Listener { socket }
    }
}

/// The listen backlog (the kernel caps it at `net.core.somaxconn`).
const LISTEN_BACKLOG: i32 = 4096;

/// A bound server, ready to run.
pub struct Server<A: App> {
    workers: Vec<Worker<A>>,
    handle: Handle<A::Notice>,
    addrs: Vec<(SocketAddr, bool)>,
}

impl Server<NoApp> {
    /// A builder with the defaults.
    pub fn builder() -> Builder {
        Builder {
            binds: vec![Bind {
                addrs: vec![SocketAddr::from(([127, 0, 0, 1], 8080))],
                tls: None,
            }],
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            limits: Limits::default(),
            deflate: None,
            tick: None,
            clock: None,
            record: false,
            trusted: Vec::new(),
            shutdown_timeout: None,
            bind_plain: false,
            driver: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl<A: App> Server<A> {
    /// A handle for other threads: notices, shutdown, the bound address.
    pub fn handle(&self) -> Handle<A::Notice> {
        self.handle.clone()
    }

    /// The address the server listens on (useful after binding port 0): the
    /// [`bind`](Builder::bind) one.
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local_addr
    }

    /// The first address that speaks TLS, if any (see [`Handle::tls_addr`]).
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.handle.tls_addr
    }

    /// Every listening address in the order given (`bind`, then `bind_tls` and `listen` as
    /// called), each with whether it speaks TLS. A connection's
    /// [`Ctx::listener`](super::Ctx::listener) is its index here.
    pub fn listeners(&self) -> &[(SocketAddr, bool)] {
        &self.addrs
    }

    /// Runs every worker until a graceful shutdown completes.
    ///
    /// # Errors
    /// A worker's poll failed.
    pub fn run(self) -> io::Result<()> {
        self.start()?.join()
    }

    /// Starts every worker on a thread of its own and returns at once; [`Running::join`] waits
    /// for them (after [`Handle::shutdown`]).
    ///
    /// # Errors
    /// A thread could not be started.
    pub fn start(self) -> io::Result<Running> {
        let threads = self
            .workers
            .into_iter()
            .enumerate()
            .map(|(i, w)| {
                std::thread::Builder::new()
                    .name(format!("pushwire-{i}"))
                    .spawn(move || w.run())
            })
            .collect::<io::Result<_>>()?;
        Ok(Running { threads })
    }
}

/// A server whose workers run on their threads ([`Server::start`]).
#[derive(Debug)]
pub struct Running {
    threads: Vec<std::thread::JoinHandle<io::Result<()>>>,
}

impl Running {
    /// Waits until every worker has stopped.
    ///
    /// # Errors
    /// A worker's poll failed, or a worker panicked.
    pub fn join(self) -> io::Result<()> {
        let mut result = Ok(());
        for t in self.threads {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(e),
                Err(_) => result = Err(io::Error::other("a worker panicked")),
            }
        }
        result
    }

    /// Whether every worker has stopped.
    pub fn is_finished(&self) -> bool {
        self.threads
            .iter()
            .all(std::thread::JoinHandle::is_finished)
    }
}
