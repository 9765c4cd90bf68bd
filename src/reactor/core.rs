//! A worker's connections, and the turn each one is changed in.
//!
//! [`Core`] holds the connections in a generation-checked slab and the [`Env`] every turn
//! borrows. Everything done to one
//! connection happens in its [`Turn`]: the key is resolved once, and the turn flushes and
//! settles when it ends, so no path can forget either. A connection that closed during its turn
//! leaves the slab when the turn ends.
//!
//! Invariant: `Env::scratch` is empty between operations. A machine writes into it and the same
//! operation sends it to that connection before returning.

use super::conn::Conn;
use super::env::{Env, Setup};
use super::slab::Slab;
use super::turn::Turn;

/// A worker's connections and tools.
#[derive(Debug)]
pub(crate) struct Core {
    slab: Slab<Conn>,
    env: Env,
}

impl Core {
    pub fn new(setup: Setup) -> Self {
        Core {
            slab: Slab::with_capacity(setup.limits.max_connections.min(1 << 16)),
            env: Env::new(setup),
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
