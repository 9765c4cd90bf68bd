//! The worker's tools, which every connection's turn borrows ([`Env`]): the scratch buffer
//! machines write into, the timer heap, the clock read once per iteration, the limits, the
//! follow-ups a turn leaves for the loop, and the counters.
//!
//! Invariant: `Env::scratch` is empty between operations. A machine writes into it and the same
//! operation sends it to that connection before returning.

use super::conn::Conn;
use super::gather::Pool;
use super::io_stats::IoCounters;
use super::memory::Memory;
use super::per_address::PerAddress;
use super::record::{End, Ended};
use super::reply::ConnId;
use super::timers::Timers;
use crate::http::HttpDate;
use crate::http::forwarded::Cidr;
use crate::limits::Limits;
use crate::time::Instant;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What the loop must do after turns, besides reading.
#[derive(Debug, Default)]
pub(crate) struct FollowUps {
    /// Connections the application held that ended: `App::closed` is due.
    pub dead: Vec<u64>,
    /// Connections whose buffered input should be offered to their machine again.
    pub resume: Vec<u64>,
    /// Connections with a deadline that has already passed.
    pub due: Vec<u64>,
    /// Connections that left the worker: `App::ended` is due.
    pub ended: Vec<Ended>,
}

impl FollowUps {
    pub fn is_idle(&self) -> bool {
        self.resume.is_empty() && self.due.is_empty() && self.ended.is_empty()
    }
}

/// The worker's tools, borrowed by each turn.
#[derive(Debug)]
pub(crate) struct Env {
    /// Where machines write what goes to the current connection (empty between operations).
    pub scratch: Vec<u8>,
    pub timers: Timers,
    /// The clock, read once per loop iteration.
    pub now: Instant,
    /// The wall clock in seconds since the Unix epoch, read with `now`.
    pub unix_secs: u64,
    date: HttpDate,
    pub limits: Limits,
    pub follow: FollowUps,
    /// Open connections on every worker (for `Limits::max_connections`).
    pub open: Arc<AtomicUsize>,
    /// This worker's system-call counters.
    pub io: Arc<IoCounters>,
    /// The server's memory budget and what counts against it.
    pub memory: Arc<Memory>,
    /// Connections per client address, when limited (shared by the workers).
    pub per_address: Option<Arc<PerAddress>>,
    /// permessage-deflate configuration for upgrades, if enabled (`deflate` feature).
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    pub deflate: Option<crate::ws::deflate::ServerConfig>,
    /// Whether each connection keeps a [`Record`](super::record::Record).
    pub record: bool,
    /// Peers whose forwarding fields are believed.
    pub trusted: Arc<[Cidr]>,
    /// Messages compressed once for every connection that compresses the same way.
    #[cfg(feature = "deflate")]
    pub memo: super::deflate_memo::Memo,
    /// Buffers kept for large frames read whole.
    pub pool: Pool,
    /// What each WebSocket holds for its messages — one being assembled, the compression
    /// state kept between them — as counted in `IoCounters::assembling` (only connections
    /// holding something are here).
    pub assembling: BTreeMap<u64, usize>,
}

impl Env {
    /// The `Date` field's value now (RFC 9110 §6.6.1).
    pub fn date(&mut self) -> [u8; 29] {
        *self.date.at(self.unix_secs)
    }

    /// Whether a connection with `queued` bytes of output waiting may be given no more: over
    /// twice `Limits::write_queue_bytes`, or behind at all while the write queues take more
    /// than their share of the memory budget (the consumers that keep up have nothing queued,
    /// and keep going).
    pub fn is_full(&self, queued: usize) -> bool {
        queued > self.limits.write_queue_bytes.saturating_mul(2)
            || (queued > 0 && self.memory.queues_over())
    }

    /// A connection left the slab: it no longer counts, and its application hears of it.
    pub fn forget(&mut self, key: u64, conn: &mut Conn) {
        conn.release_output(&self.io);
        if let Some(held) = self.assembling.remove(&key) {
            self.io.assemble(held, 0);
        }
        self.open.fetch_sub(1, Ordering::Relaxed);
        self.follow.ended.push(Ended {
            conn: ConnId(key),
            listener: usize::from(conn.listener()),
            tag: conn.tag(),
            end: conn.end().unwrap_or(End::Server),
            record: conn.record().map(|r| r.summary(self.now)),
        });
        if let (Some(table), Some(ip)) = (&self.per_address, conn.counted()) {
            table.release(ip);
        }
        if conn.is_held() {
            conn.set_held(false);
            self.follow.dead.push(key);
        }
    }
}

/// What a worker's [`Core`] is made from.
pub(crate) struct Setup {
    pub limits: Limits,
    pub open: Arc<AtomicUsize>,
    pub deflate: Option<crate::ws::deflate::ServerConfig>,
    pub io: Arc<IoCounters>,
    pub memory: Arc<Memory>,
    pub per_address: Option<Arc<PerAddress>>,
    pub record: bool,
    pub trusted: Arc<[Cidr]>,
}

impl Env {
    pub fn new(setup: Setup) -> Self {
        let Setup {
            limits,
            open,
            deflate,
            io,
            memory,
            per_address,
            record,
            trusted,
        } = setup;
        Env {
            scratch: Vec::with_capacity(64 * 1024),
            timers: Timers::default(),
            now: Instant::ZERO,
            unix_secs: 0,
            date: HttpDate::new(),
            limits,
            follow: FollowUps::default(),
            open,
            io,
            memory,
            per_address,
            deflate,
            record,
            trusted,
            #[cfg(feature = "deflate")]
            memo: super::deflate_memo::Memo::default(),
            pool: Pool::default(),
            assembling: BTreeMap::new(),
        }
    }
}
