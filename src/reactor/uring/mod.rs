//! The completion-based driver, on Linux io_uring ([`super::IoDriver::Uring`]).
//!
//! The same worker, the same machines and the same turns as the readiness driver; only where
//! bytes come from and go to differs. Each listener has a multishot accept armed, each
//! connection a multishot receive into the worker's provided-buffer ring
//! ([`buffers`]); what a turn writes is gathered per connection and sent with one submission
//! each, all of a loop turn's sends (a fan-out's whole batch) handed to the kernel with the wait
//! for the next completions: one system call per loop turn. Timers stay in the worker's heap
//! (the wait's timeout is the earliest deadline), and the waker stays the `mio::Poll` one,
//! watched through a poll submission on its descriptor, so [`super::Handle`] is the same for
//! both drivers.
//!
//! A completion becomes what readiness would have said: data arrived (the connection reads it
//! as from a socket), a send finished (the connection may write again), a connection came in.
//! The defences follow unchanged: the header deadline and idle timers, the write-queue bound
//! and slow consumers (a socket takes one send's worth, the connection's queue holds the rest),
//! the memory budget, the graceful drain. TLS runs over a ring socket as over a TCP one.
//!
//! This is the one module of the crate with `unsafe` code: submissions point the kernel at
//! memory it reads or writes later, and the ring's shared memory is the kernel's interface.
//! Every such point says why the memory outlives the operation.

mod buffers;
mod contract;
mod ring;

use super::app::App;
use super::io::Io;
use super::worker::Running;
use ring::{Completion, Op};
use std::io;
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd};
use std::time::Duration;

use ring::Ring;

mod ring_local {
    use super::Ring;
    use std::cell::RefCell;

    thread_local! {
        /// The ring of the worker running on this thread (`run` installs it).
        static RING: RefCell<Option<Ring>> = const { RefCell::new(None) };
    }

    pub(super) fn install(ring: Ring) {
        RING.with(|cell| *cell.borrow_mut() = Some(ring));
    }

    pub(super) fn uninstall() -> Option<Ring> {
        RING.with(|cell| cell.borrow_mut().take())
    }

    /// Runs `f` on this thread's ring.
    pub(super) fn with<R>(f: impl FnOnce(&mut Ring) -> R) -> R {
        RING.with(|cell| {
            let mut ring = cell.borrow_mut();
            f(ring
                .as_mut()
                .expect("ring sockets live only on a worker running the io_uring driver"))
        })
    }

    /// Runs `f` on this thread's ring, if it still has one.
    pub(super) fn try_with<R>(f: impl FnOnce(&mut Ring) -> R) -> Option<R> {
        RING.with(|cell| cell.borrow_mut().as_mut().map(f))
    }
}

/// Arms listener `which`'s multishot accept on this thread's ring.
pub(crate) fn arm_accept(which: usize, fd: std::os::fd::RawFd) {
    ring_local::with(|r| r.arm_accept(which, fd));
}

/// A connection's socket on the io_uring driver: an id in its worker's ring, which holds the
/// descriptor and its buffers (see `ring`).
#[derive(Debug)]
pub(crate) struct RingSocket {
    id: u32,
}

impl RingSocket {
    fn open(stream: TcpStream) -> Self {
        RingSocket {
            id: ring_local::with(|r| r.open(stream)),
        }
    }

    /// Sends FIN once what was written is out.
    pub fn shutdown_write(&mut self) {
        ring_local::with(|r| r.shutdown_write(self.id));
    }

    /// Whether bytes written are still on their way to the kernel.
    pub fn holds_output(&self) -> bool {
        ring_local::with(|r| r.holds_output(self.id))
    }
}

impl Io for RingSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        ring_local::with(|r| r.read(self.id, buf))
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        ring_local::with(|r| r.write(self.id, &[buf]))
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let parts: [&[u8]; 2] = match bufs {
            [] => [&[], &[]],
            [one] => [one, &[]],
            [one, two, ..] => [one, two],
        };
        ring_local::with(|r| r.write(self.id, &parts))
    }

    fn shutdown_write(&mut self) {
        RingSocket::shutdown_write(self);
    }

    fn flush_held(&mut self) -> io::Result<bool> {
        ring_local::with(|r| r.flush_held(self.id))
    }
}

impl Drop for RingSocket {
    fn drop(&mut self) {
        ring_local::try_with(|r| r.release(self.id));
    }
}

/// The socket an accept completion returned.
fn accepted(fd: i32) -> TcpStream {
    // SAFETY: a successful accept completion's result is a new descriptor of a connected TCP
    // socket that nothing else owns.
    unsafe { TcpStream::from_raw_fd(fd) }
}

/// Runs `running` on a ring of this thread's own until its shutdown completes.
pub(crate) fn run<A: App>(mut running: Running<A>) -> io::Result<()> {
    let env = running.core.env();
    ring_local::install(Ring::new(env.io.clone(), env.limits.max_connections)?);
    let result = running.run_ring();
    // The connections let go of their sockets before the ring waits for what is in flight.
    drop(running);
    if let Some(ring) = ring_local::uninstall() {
        ring.close();
    }
    result
}

/// Whether this kernel lets a process set up io_uring (it may be built out, or refused by
/// `kernel.io_uring_disabled` or a seccomp filter); the reason when it does not.
///
/// Asked once per process, on a thread of its own: a ring's teardown queues work for the thread
/// that set it up, which interrupts that thread's next blocking call (a socket read with a
/// timeout fails with `EINTR`), and that must not be the application's thread.
pub fn available() -> Result<(), String> {
    static ANSWER: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    ANSWER
        .get_or_init(|| {
            let probe = std::thread::spawn(|| Ring::new(Default::default(), 0).map(Ring::close));
            match probe.join() {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(format!("io_uring is not available: {e}")),
                Err(_) => Err("io_uring is not available: the probe failed".into()),
            }
        })
        .clone()
}

impl<A: App> Running<A> {
    fn run_ring(&mut self) -> io::Result<()> {
        let wake_fd = self.poll.as_raw_fd();
        ring_local::with(|r| r.arm_wake(wake_fd));
        for which in 0..self.listeners.len() {
            self.accept(which);
        }
        let listeners = self.listeners.len();
        let mut accepting = listeners > 0;
        let mut batch: Vec<Completion> = Vec::with_capacity(1024);
        let mut events = mio::Events::with_capacity(64);
        loop {
            let timeout = self.poll_timeout();
            ring_local::with(|r| r.submit_and_wait(timeout))?;
            self.tick();
            ring_local::with(|r| r.completions(&mut batch));
            for c in batch.drain(..) {
                self.complete(&c, &mut events, wake_fd)?;
                self.follow_up();
            }
            let now = self.core.env().now;
            let (in_flight, sockets) = ring_local::with(|r| {
                r.after_batch(now);
                (r.in_flight(), r.sockets())
            });
            self.core.env().io.ring(in_flight, sockets);
            if accepting && self.listeners.is_empty() {
                // A graceful shutdown let go of the listeners; their accepts hold them open.
                accepting = false;
                for which in 0..listeners {
                    ring_local::with(|r| r.cancel_accept(which));
                }
            }
            if self.after_events() {
                return Ok(());
            }
        }
    }

    fn complete(
        &mut self,
        c: &Completion,
        events: &mut mio::Events,
        wake_fd: i32,
    ) -> io::Result<()> {
        match c.op {
            Some(Op::Recv) => {
                if let Some((key, to_eof)) = ring_local::with(|r| r.on_recv(c)) {
                    self.on_readable(key, to_eof);
                    ring_local::with(|r| r.spill_after(c));
                }
            }
            Some(Op::Send) => {
                if let Some(key) = ring_local::with(|r| r.on_send(c)) {
                    self.on_writable(key);
                }
            }
            Some(Op::Accept) => self.on_accept(c),
            Some(Op::Cancel) => ring_local::with(Ring::on_cancel),
            Some(Op::Wake) => {
                // Empty the poll (the waker's readiness) before arming again, so the next
                // wake raises a new completion.
                self.poll.poll(events, Some(Duration::ZERO))?;
                ring_local::with(|r| r.arm_wake(wake_fd));
                self.on_wake();
            }
            None => debug_assert!(false, "a completion this driver did not submit"),
        }
        Ok(())
    }

    fn on_accept(&mut self, c: &Completion) {
        let which = c.id as usize;
        let last = !io_uring::cqueue::more(c.flags);
        if last {
            self.accept_ended(which);
        }
        if c.result >= 0 {
            let stream = accepted(c.result);
            if which >= self.listeners.len() {
                return; // accepted while the listeners were let go of: closed at once
            }
            let Ok(peer) = stream.peer_addr() else {
                return; // reset before it could be admitted
            };
            let _ = stream.set_nodelay(true);
            let socket = RingSocket::open(stream);
            let id = socket.id;
            let env = self.core.env();
            let deadline = env.now + env.limits.header_timeout;
            let plain = super::plain::Plain::Ring(socket);
            let Ok(socket) = self.listeners[which].wrap(plain, deadline) else {
                return;
            };
            self.take(which, socket, peer, |key| {
                ring_local::with(|r| r.attach(id, key));
            });
        } else if matches!(
            -c.result,
            libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM
        ) {
            // Out of descriptors or memory: the connection stays in the backlog; accepting
            // again shortly (`Running::accept` arms it when the pause ends).
            self.pause_accepting();
            return;
        }
        if last && which < self.listeners.len() {
            self.accept(which);
        }
    }
}
