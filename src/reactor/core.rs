//! A worker's connections and the tools a connection's turn borrows.
//!
//! [`Core`] holds the connections in a generation-checked slab and an [`Env`]: the scratch
//! buffer machines write into, the timer heap, the clock read once per iteration, the limits,
//! the follow-ups a turn leaves for the loop, and the counters. Everything done to one
//! connection happens in its [`Turn`]: the key is resolved once, and the turn flushes and
//! settles when it ends, so no path can forget either. A connection that closed during its turn
//! leaves the slab when the turn ends.
//!
//! Invariant: `Env::scratch` is empty between operations. A machine writes into it and the same
//! operation sends it to that connection before returning.

use super::app::ConnId;
use super::conn::Conn;
use super::gather::Pool;
use super::io_stats::IoCounters;
use super::per_address::PerAddress;
use super::record::{End, Ended};
use super::slab::Slab;
use super::timers::Timers;
use super::turn::Turn;
use crate::http::HttpDate;
use crate::http::forwarded::Cidr;
use crate::limits::Limits;
use crate::time::Instant;
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
}

impl Env {
    /// The `Date` field's value now (RFC 9110 §6.6.1).
    pub fn date(&mut self) -> [u8; 29] {
        *self.date.at(self.unix_secs)
    }

    /// A connection left the slab: it no longer counts, and its application hears of it.
    fn forget(&mut self, key: u64, conn: &mut Conn) {
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

/// A worker's connections and tools.
#[derive(Debug)]
pub(crate) struct Core {
    slab: Slab<Conn>,
    env: Env,
}

/// What a worker's [`Core`] is made from.
pub(crate) struct Setup {
    pub limits: Limits,
    pub open: Arc<AtomicUsize>,
    pub deflate: Option<crate::ws::deflate::ServerConfig>,
    pub io: Arc<IoCounters>,
    pub per_address: Option<Arc<PerAddress>>,
    pub record: bool,
    pub trusted: Arc<[Cidr]>,
}

impl Core {
    pub fn new(setup: Setup) -> Self {
        let Setup {
            limits,
            open,
            deflate,
            io,
            per_address,
            record,
            trusted,
        } = setup;
        Core {
            slab: Slab::new(),
            env: Env {
                scratch: Vec::with_capacity(64 * 1024),
                timers: Timers::default(),
                now: Instant::ZERO,
                unix_secs: 0,
                date: HttpDate::new(),
                limits,
                follow: FollowUps::default(),
                open,
                io,
                per_address,
                deflate,
                record,
                trusted,
                #[cfg(feature = "deflate")]
                memo: super::deflate_memo::Memo::default(),
                pool: Pool::default(),
            },
        }
    }

    pub fn env(&self) -> &Env {
        &self.env
    }

    pub fn env_mut(&mut self) -> &mut Env {
        &mut self.env
    }

    /// Both halves at once, for a turn taken out of the slab that lets the application reach
    /// the other connections.
    pub fn parts(&mut self) -> (&mut Slab<Conn>, &mut Env) {
        (&mut self.slab, &mut self.env)
    }

    /// Open connections on this worker.
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Every connection's key.
    pub fn keys(&self) -> Vec<u64> {
        self.slab.keys()
    }

    pub fn get(&self, key: u64) -> Option<&Conn> {
        self.slab.get(key)
    }

    /// Admits a new connection (already counted in `Env::open`) and schedules it.
    pub fn insert(&mut self, conn: Conn) -> u64 {
        let key = self.slab.insert(conn);
        self.with(key, |turn| turn.rearm());
        key
    }

    /// Runs `f` in connection `key`'s turn; `None` if there is no such connection. The turn
    /// flushes and settles when `f` returns; a connection that closed leaves the slab.
    pub fn with<R>(&mut self, key: u64, f: impl FnOnce(&mut Turn<'_>) -> R) -> Option<R> {
        turn_on(&mut self.slab, &mut self.env, key, f)
    }
}

/// [`Core::with`] over the two halves (a [`super::Ctx`] holds them apart).
pub(crate) fn turn_on<R>(
    slab: &mut Slab<Conn>,
    env: &mut Env,
    key: u64,
    f: impl FnOnce(&mut Turn<'_>) -> R,
) -> Option<R> {
    let conn = slab.get_mut(key)?;
    let result = {
        let mut turn = Turn::new(key, conn, env);
        let result = f(&mut turn);
        turn.settle();
        result
    };
    if slab.get(key).is_some_and(Conn::is_closed) {
        if let Some(mut conn) = slab.remove(key) {
            env.forget(key, &mut conn);
        }
    }
    Some(result)
}

/// [`Core::restore`] over the two halves.
pub(crate) fn end_turn(slab: &mut Slab<Conn>, env: &mut Env, key: u64, mut conn: Conn) {
    Turn::new(key, &mut conn, env).settle();
    if conn.is_closed() {
        slab.release(key);
        env.forget(key, &mut conn);
    } else {
        slab.put_back(key, conn);
    }
}
