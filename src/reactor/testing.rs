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
use super::handle::{Handle, lock};
use super::pipe::MemSocket;
use super::worker::Running;
use crate::limits::Limits;
use std::sync::Arc;
use std::time::Duration;

pub use super::pipe::MemClient;

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
        let (socket, pipe) = MemSocket::pair();
        let key = self.running.admit_memory(socket);
        let client = MemClient { pipe, key };
        self.clients.push(client.clone());
        client
    }

    /// Runs the worker until it has nothing more to do now: input is read, answers written,
    /// notices and due timers handled. Readiness is edge-triggered, as the reactor gets it
    /// from epoll: a connection hears it is readable once per arrival of input (or of the
    /// client's FIN), writable once per time room appears after a write found its pipe full.
    pub fn turn(&mut self) {
        for _ in 0..64 {
            self.running.tick();
            let mut busy = false;
            self.clients
                .retain(|c| self.running.core.get(c.key).is_some());
            for client in &self.clients {
                let (readable, eof, writable) = {
                    let mut pipe = lock(&client.pipe);
                    (
                        std::mem::take(&mut pipe.readable_edge),
                        pipe.client_closed,
                        std::mem::take(&mut pipe.writable_edge),
                    )
                };
                if writable && self.running.core.get(client.key).is_some() {
                    self.running.on_writable(client.key);
                    busy = true;
                }
                if readable {
                    self.running.on_readable(client.key, eof);
                    busy = true;
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
        self.running.core.len()
    }
}
