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

mod accept;
mod app;
mod builder;
mod clock;
mod conn;
mod core;
mod ctx;
#[cfg(feature = "deflate")]
mod deflate_memo;
mod dispatch;
mod env;
mod gather;
mod handle;
mod io;
mod io_driver;
mod io_stats;
mod life;
mod memory;
mod per_address;
mod pipe;
mod plain;
mod read;
mod record;
mod reply;
mod send;
mod slab;
mod socket;
mod spill;
pub mod testing;
mod timers;
#[cfg(feature = "tls")]
mod tls;
mod turn;
mod upgrade;
#[cfg(all(feature = "uring", target_os = "linux"))]
#[allow(unsafe_code)]
mod uring;
mod worker;

pub use app::{App, NoApp};
pub use builder::{Builder, Running, Server};
pub use clock::{Clock, ManualClock, SystemClock};
pub use ctx::Ctx;
pub use handle::Handle;
pub use io_driver::IoDriver;
pub use io_stats::IoStats;
pub use memory::{Memory, MemoryUse};
pub use record::{End, Ended, Summary};
pub use reply::{ConnId, Message, Reply, Response};
pub use turn::SendError;

pub(crate) use handle::lock;

use crate::limits::Limits;

/// The size of each worker's read buffer, and how much unconsumed input a connection may hold
/// before reading from it pauses.
pub(crate) const READ_CHUNK: usize = 64 * 1024;
