//! One worker of the reactor driven by a test, in virtual time, over in-memory connections:
//! the worker's decisions (what it reads, answers, queues, times out and closes) without
//! sockets, threads or waiting.
//!
//! ```
//! use pushwire::Limits;
//! use pushwire::reactor::testing::Harness;
//! use pushwire::reactor::{App, Ctx, Reply, Response};
//! use std::time::Duration;
//!
//! struct Hello;
//! impl App for Hello {
//!     type Local = ();
//!     type Notice = ();
//!     fn local(&self) {}
//!     fn request(&self, _: &mut (), _: &pushwire::http::Request<'_>, _: &[u8], _: &mut Ctx<'_, ()>) -> Reply {
//!         Response::text("hi").into()
//!     }
//! }
//!
//! let mut h = Harness::new(Hello, Limits::default());
//! let client = h.connect();
//! client.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
//! h.turn();
//! assert!(client.received().starts_with(b"HTTP/1.1 200 OK\r\n"));
//! // An idle keep-alive connection is closed after `idle_timeout` (10 s), in no time.
//! h.advance(Duration::from_secs(10));
//! assert!(client.is_closed());
//! ```

use super::app::App;
use super::clock::{Clock, ManualClock};
use super::lock;
use super::socket::Io;
use super::worker::Running;
use super::{Handle, Limits};
use std::io::{self, IoSlice};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Bytes a pipe holds towards the client before writes would block (the kernel's socket buffer).
const PIPE_CAPACITY: usize = 256 * 1024;

#[derive(Debug, Default)]
struct Pipe {
    to_server: Vec<u8>,
    to_client: Vec<u8>,
    /// The client sent FIN (no more input after `to_server`).
    client_closed: bool,
    /// The server shut down its side, or dropped the connection.
    server_closed: bool,
    /// How many bytes the client reads at most (`None`: everything).
    client_window: Option<usize>,
}

/// The server's end of an in-memory connection.
#[derive(Debug)]
pub(crate) struct MemSocket(Arc<Mutex<Pipe>>);

impl Io for MemSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut pipe = lock(&self.0);
        if pipe.to_server.is_empty() {
            return if pipe.client_closed {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = buf.len().min(pipe.to_server.len());
        buf[..n].copy_from_slice(&pipe.to_server[..n]);
        pipe.to_server.drain(..n);
        Ok(n)
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut pipe = lock(&self.0);
        if pipe.server_closed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let mut room = PIPE_CAPACITY.saturating_sub(pipe.to_client.len());
        if room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut written = 0;
        for buf in bufs {
            let n = buf.len().min(room);
            pipe.to_client.extend_from_slice(&buf[..n]);
            written += n;
            room -= n;
        }
        Ok(written)
    }

    fn shutdown_write(&mut self) {
        lock(&self.0).server_closed = true;
    }
}

impl Drop for MemSocket {
    fn drop(&mut self) {
        lock(&self.0).server_closed = true;
    }
}

/// The client's end of an in-memory connection.
#[derive(Debug, Clone)]
pub struct MemClient {
    pipe: Arc<Mutex<Pipe>>,
    key: u64,
}

impl MemClient {
    /// Sends bytes to the server (read at the next [`Harness::turn`]).
    pub fn send(&self, bytes: &[u8]) {
        lock(&self.pipe).to_server.extend_from_slice(bytes);
    }

    /// Takes what the server wrote so far.
    pub fn received(&self) -> Vec<u8> {
        let mut pipe = lock(&self.pipe);
        let take = pipe
            .client_window
            .unwrap_or(usize::MAX)
            .min(pipe.to_client.len());
        pipe.to_client.drain(..take).collect()
    }

    /// Bytes written by the server and not yet taken.
    pub fn pending(&self) -> usize {
        lock(&self.pipe).to_client.len()
    }

    /// Stops taking what the server writes (a client that does not read): its pipe fills and
    /// the server's writes would block.
    pub fn stop_reading(&self) {
        lock(&self.pipe).client_window = Some(0);
    }

    /// Sends FIN.
    pub fn close(&self) {
        lock(&self.pipe).client_closed = true;
    }

    /// Whether the server shut down its side or dropped the connection.
    pub fn is_closed(&self) -> bool {
        lock(&self.pipe).server_closed
    }
}

/// One worker of the reactor serving `A` over in-memory connections, on a [`ManualClock`].
pub struct Harness<A: App> {
    running: Running<A>,
    clock: Arc<ManualClock>,
    clients: Vec<MemClient>,
}

impl<A: App> Harness<A> {
    /// A worker for `app` with `limits`, its clock at zero, no connections.
    pub fn new(app: A, limits: Limits) -> Self {
        let clock = Arc::new(ManualClock::new());
        let running = Running::in_memory(app, limits, clock.clone() as Arc<dyn Clock>)
            .expect("a poll for the worker's waker");
        Harness {
            running,
            clock,
            clients: Vec::new(),
        }
    }

    /// Calls [`App::tick`] every `every` of virtual time.
    pub fn tick(mut self, every: Duration) -> Self {
        self.running.set_tick(every);
        self
    }

    /// A new connection, accepted as the listener would.
    pub fn connect(&mut self) -> MemClient {
        let pipe = Arc::new(Mutex::new(Pipe::default()));
        let key = self.running.admit_memory(MemSocket(pipe.clone()));
        let client = MemClient { pipe, key };
        self.clients.push(client.clone());
        client
    }

    /// Runs the worker until it has nothing more to do now: input is read, answers written,
    /// notices and due timers handled.
    pub fn turn(&mut self) {
        for _ in 0..64 {
            self.running.tick();
            let mut busy = false;
            self.clients
                .retain(|c| self.running.core.slab.get(c.key).is_some());
            for client in &self.clients {
                let (input, eof, room) = {
                    let pipe = lock(&client.pipe);
                    (
                        !pipe.to_server.is_empty(),
                        pipe.client_closed,
                        pipe.to_client.len() < PIPE_CAPACITY,
                    )
                };
                if room
                    && self
                        .running
                        .core
                        .slab
                        .get(client.key)
                        .is_some_and(|c| c.queued() > 0)
                {
                    self.running.on_writable(client.key);
                    busy = true;
                }
                if input || eof {
                    let before = self.running.core.slab.get(client.key).is_some();
                    self.running.on_readable(client.key, eof);
                    busy |= input || before != self.running.core.slab.get(client.key).is_some();
                }
            }
            self.running.on_wake();
            let done = self.running.after_events();
            if done || !busy {
                return;
            }
        }
    }

    /// Moves time forward by `by`, then [`Harness::turn`]s.
    pub fn advance(&mut self, by: Duration) {
        self.clock.advance(by);
        self.turn();
    }

    /// The server's handle (notices, shutdown).
    pub fn handle(&self) -> Handle<A::Notice> {
        self.running.handle.clone()
    }

    /// Open connections.
    pub fn connections(&self) -> usize {
        self.running.core.slab.len()
    }
}
