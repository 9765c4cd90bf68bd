//! [`Handle`]: what other threads hold of a running server — notices for its workers, the
//! graceful shutdown, its addresses and counters.

use super::io_stats::{IoCounters, IoStats};
use super::memory::Memory;
use mio::{Poll, Token, Waker};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Locks `m`; a panic elsewhere while it was held does not make its contents unusable (each
/// holder leaves them consistent between statements).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The token of each worker's waker. (Listeners take the tokens just below it, connections
/// their slab keys, which never reach these.)
pub(crate) const WAKER: Token = Token(u32::MAX as usize);

pub(crate) struct Shared<N> {
    pub queues: Vec<Mutex<Vec<Arc<N>>>>,
    pub(crate) wakers: Vec<Waker>,
    pub shutdown: AtomicBool,
    /// Each worker's system-call counters.
    pub(crate) io: Vec<Arc<IoCounters>>,
    /// Open connections over all workers.
    pub(crate) open: Arc<std::sync::atomic::AtomicUsize>,
    /// The memory budget and what counts against it.
    pub(crate) memory: Arc<Memory>,
}

impl<N> Handle<N> {
    /// The handle of one worker with `poll`'s waker and no listening socket (the testing
    /// harness), and that worker's counters.
    pub(crate) fn single(poll: &Poll, budget: usize) -> io::Result<(Handle<N>, Arc<IoCounters>)> {
        let io: Arc<IoCounters> = Arc::default();
        let shared = Arc::new(Shared {
            memory: Arc::new(Memory::new(budget, vec![io.clone()])),
            queues: vec![Mutex::new(Vec::new())],
            wakers: vec![Waker::new(poll.registry(), WAKER)?],
            shutdown: AtomicBool::new(false),
            io: vec![io.clone()],
            open: Arc::default(),
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
    pub(crate) local_addr: SocketAddr,
    pub(crate) tls_addr: Option<SocketAddr>,
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
    /// Delivers `notice` to [`App::notice`](super::App::notice) on every worker (including the caller's).
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

    /// The memory budget and what counts against it (`Limits::memory_budget`).
    pub fn memory(&self) -> &Memory {
        &self.shared.memory
    }

    /// Starts a graceful shutdown: stop accepting, finish in-flight responses, close
    /// WebSockets with 1001, drain writes; [`Server::run`](super::Server::run) then returns.
    pub fn shutdown(&self) {
        self.shared.shutdown.store(true, Ordering::Release);
        for waker in &self.shared.wakers {
            let _ = waker.wake();
        }
    }

    /// Wakes every worker to read the time and act on what became due: after moving a
    /// [`ManualClock`](super::ManualClock). (With the system clock, workers wake by themselves.)
    pub fn wake(&self) {
        for waker in &self.shared.wakers {
            let _ = waker.wake();
        }
    }

    /// System calls on connection sockets so far, over all workers.
    pub fn io_stats(&self) -> IoStats {
        IoStats::sum(self.shared.io.iter().map(|c| &**c))
    }

    /// Connections open now, over all workers.
    pub fn open_connections(&self) -> usize {
        self.shared.open.load(Ordering::Relaxed)
    }

    /// Responses sent so far by status code, over all workers (codes never sent left out).
    pub fn statuses(&self) -> Vec<(u16, u64)> {
        IoStats::statuses(self.shared.io.iter().map(|c| &**c))
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
