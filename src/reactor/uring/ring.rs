//! A worker's io_uring and the state of every socket it drives.
//!
//! Each connection's socket lives here, in a table indexed by the id its [`super::RingSocket`]
//! holds: what its multishot receive delivered and the connection has not read yet (`inbox`),
//! the bytes it wrote that a send carries (`out`), and which operations are in flight. A socket
//! the connection lets go of stays in the table, its descriptor open, until its last operation
//! completes, so no submission can reach a descriptor number the kernel has given to another
//! connection since.
//!
//! The table is the worker thread's own (`RING`): the reactor's `Io` contract — read what is
//! there, write what the socket takes, `WouldBlock` otherwise — is kept by copying between these
//! buffers and the connection's, while the kernel fills and drains them in the background.
//! A receive is one completion into a provided buffer, which the connection reads from directly
//! (`segment`) in the same loop turn; what it leaves is copied to the inbox and the buffer given
//! back before the next completion is handled, so no buffer stays out of the ring; a write is appended to the socket's `out` until the loop submits one send for all of
//! it; while that send is in flight, the socket takes nothing more (the connection's write queue
//! holds the rest, with its usual bound and slow-consumer rules).

use super::super::io_stats::IoCounters;
use super::buffers::{Buffers, GROUP};
use crate::time::Instant;
use io_uring::{IoUring, cqueue, opcode, squeue, types};
use std::io;
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

/// Submission-queue entries (the completion queue is twice as large, and the kernel keeps
/// what overflows it).
const ENTRIES: u32 = 4096;
/// Input held for a connection that is not reading (its write queue is full) before its
/// receive is cancelled; it is armed again once the connection has read what it holds.
const INBOX_LIMIT: usize = super::super::READ_CHUNK;
/// Send buffers kept for reuse, and the largest kept (a fan-out allocates none per event).
const SPARE_COUNT: usize = 64;
const SPARE_BYTES: usize = 32 * 1024;
/// How long a closed connection's last send may wait for a peer that does not read.
const LINGER: Duration = Duration::from_secs(5);

/// What a submission was for (the top byte of its user data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Accept = 1,
    Recv = 2,
    Send = 3,
    Cancel = 4,
    Wake = 5,
}

/// One completion, as the loop dispatches it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Completion {
    pub op: Option<Op>,
    /// The socket's id, or the listener's index for an accept.
    pub id: u32,
    generation: u32,
    pub result: i32,
    pub flags: u32,
}

/// Where a socket's output is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Sending {
    Idle,
    /// In `out`, waiting for the loop to submit its send.
    Queued,
    /// A send of `out[sent..]` is in the kernel.
    InFlight,
}

/// Input still in a provided buffer: `len` bytes of buffer `bid`, read up to `at`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Segment {
    pub(super) bid: u16,
    pub(super) at: u32,
    pub(super) len: u32,
}

/// Unread input: `data[read_from..]`, never empty while it exists.
#[derive(Debug, Default)]
pub(super) struct Inbox {
    pub(super) data: Vec<u8>,
    pub(super) read_from: usize,
}

impl Sock {
    /// Bytes the inbox holds (counted against the memory budget).
    pub(super) fn inbox_len(&self) -> usize {
        self.inbox.as_ref().map_or(0, |i| i.data.len())
    }
}

#[derive(Debug)]
pub(super) struct Sock {
    /// `None` while the slot is free.
    pub(super) stream: Option<TcpStream>,
    pub(super) generation: u32,
    pub(super) key: u64,
    /// Input in a provided buffer (only while `inbox` is empty).
    pub(super) segment: Option<Segment>,
    /// Input copied out of the provided buffers and not yet read (boxed: most sockets have
    /// none, and an idle one should cost little).
    pub(super) inbox: Option<Box<Inbox>>,
    pub(super) out: Vec<u8>,
    pub(super) sent: usize,
    pub(super) sending: Sending,
    pub(super) recv_armed: bool,
    /// The receive was cancelled because the inbox is full.
    pub(super) recv_stopped: bool,
    pub(super) eof: bool,
    pub(super) error: Option<i32>,
    pub(super) shutdown_after_send: bool,
    pub(super) released_at: Option<Instant>,
    pub(super) send_cancelled: bool,
}

/// A worker's ring, its buffers and its sockets.
pub(super) struct Ring {
    // Dropped first: the kernel lets go of the buffers below before they are freed.
    pub(super) uring: IoUring,
    pub(super) buffers: Buffers,
    pub(super) socks: Vec<Sock>,
    pub(super) free: Vec<u32>,
    /// Sockets whose output waits for its send to be submitted.
    pub(super) to_send: Vec<u32>,
    /// Sockets whose receive ended and is armed again after this batch.
    pub(super) rearm: Vec<u32>,
    /// Sockets let go of while an operation of theirs was in flight.
    pub(super) lingering: Vec<u32>,
    /// Connection submissions whose last completion has not arrived.
    pub(super) in_flight: usize,
    /// Send buffers of completed sends, for the next ones.
    pub(super) spare: Vec<Vec<u8>>,
    pub(super) now: Instant,
    /// The worker's counters: inboxes and send buffers count against the memory budget.
    pub(super) io: Arc<IoCounters>,
}

fn user_data(op: Op, generation: u32, id: u32) -> u64 {
    (op as u64) << 56 | u64::from(generation & 0xFF_FFFF) << 32 | u64::from(id)
}

impl Ring {
    /// A ring for one worker thread of at most `connections` sockets at once, counting what
    /// they hold in `io`; fails where the kernel refuses io_uring.
    pub fn new(io: Arc<IoCounters>, connections: usize) -> io::Result<Ring> {
        // One thread submits and reaps, and completions are run when it asks for them: no
        // interrupts of the worker for work it will collect at its next wait anyway.
        let uring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .build(ENTRIES)
            .or_else(|_| IoUring::new(ENTRIES))?;
        let buffers = Buffers::register(&uring)?;
        Ok(Ring {
            uring,
            buffers,
            // Address space only until used (as the connection slab): no doubling, whose
            // slack would be most of an idle connection's cost.
            socks: Vec::with_capacity(connections.min(1 << 16)),
            free: Vec::new(),
            to_send: Vec::new(),
            rearm: Vec::new(),
            lingering: Vec::new(),
            in_flight: 0,
            spare: Vec::new(),
            now: Instant::ZERO,
            io,
        })
    }

    /// Sockets in the table (open, or closed with an operation still in flight).
    pub fn sockets(&self) -> usize {
        self.socks.len() - self.free.len()
    }

    /// Connection submissions whose last completion has not arrived.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    fn push(&mut self, entry: &squeue::Entry) {
        loop {
            // SAFETY: every submission refers to memory that outlives it: a send to its
            // socket's `out`, which is not touched until the send completes and which a socket
            // let go of keeps (`release`); receives to the registered buffers; accepts and
            // polls to nothing.
            if unsafe { self.uring.submission().push(entry) }.is_ok() {
                return;
            }
            // Full: hand the kernel what is there, then queue.
            if let Err(e) = self.uring.submit() {
                debug_assert!(e.kind() == io::ErrorKind::Interrupted, "submit: {e}");
            }
        }
    }

    // ----- sockets -----

    /// Takes an accepted connection's socket; its id.
    pub fn open(&mut self, stream: TcpStream) -> u32 {
        let fresh = Sock {
            stream: Some(stream),
            generation: 0,
            key: 0,
            segment: None,
            inbox: None,
            out: Vec::new(),
            sent: 0,
            sending: Sending::Idle,
            recv_armed: false,
            recv_stopped: false,
            eof: false,
            error: None,
            shutdown_after_send: false,
            released_at: None,
            send_cancelled: false,
        };
        if let Some(id) = self.free.pop() {
            let sock = &mut self.socks[id as usize];
            let generation = sock.generation.wrapping_add(1);
            *sock = Sock {
                generation,
                ..fresh
            };
            return id;
        }
        self.socks.push(fresh);
        u32::try_from(self.socks.len() - 1).expect("fewer sockets than descriptors")
    }

    /// Socket `id` belongs to connection `key`: its receive starts.
    pub fn attach(&mut self, id: u32, key: u64) {
        self.socks[id as usize].key = key;
        self.arm_recv(id);
    }

    pub(super) fn sock(&self, id: u32) -> &Sock {
        let sock = &self.socks[id as usize];
        debug_assert!(sock.stream.is_some(), "a socket in use");
        sock
    }

    pub(super) fn sock_mut(&mut self, id: u32) -> &mut Sock {
        &mut self.socks[id as usize]
    }

    pub(super) fn fd(&self, id: u32) -> RawFd {
        self.sock(id)
            .stream
            .as_ref()
            .expect("a socket with operations keeps its descriptor")
            .as_raw_fd()
    }

    pub(super) fn arm_recv(&mut self, id: u32) {
        let fd = self.fd(id);
        let sock = &mut self.socks[id as usize];
        sock.recv_armed = true;
        let ud = user_data(Op::Recv, sock.generation, id);
        self.in_flight += 1;
        self.push(
            &opcode::RecvMulti::new(types::Fd(fd), GROUP)
                .build()
                .user_data(ud),
        );
    }

    pub(super) fn cancel(&mut self, op: Op, id: u32) {
        let ud = user_data(op, self.sock(id).generation, id);
        self.in_flight += 1;
        let cancel = opcode::AsyncCancel::new(ud).build();
        self.push(&cancel.user_data(user_data(Op::Cancel, 0, id)));
    }

    // ----- listeners and the waker -----

    pub fn arm_accept(&mut self, which: usize, fd: RawFd) {
        let index = u32::try_from(which).expect("at most 255 listeners");
        let accept = opcode::AcceptMulti::new(types::Fd(fd)).flags(libc::SOCK_CLOEXEC);
        self.push(&accept.build().user_data(user_data(Op::Accept, 0, index)));
    }

    pub fn cancel_accept(&mut self, which: usize) {
        let index = u32::try_from(which).expect("at most 255 listeners");
        let cancel = opcode::AsyncCancel::new(user_data(Op::Accept, 0, index)).build();
        self.in_flight += 1;
        self.push(&cancel.user_data(user_data(Op::Cancel, 0, index)));
    }

    /// Asks to hear when `fd` (the worker's `mio::Poll`, where its waker is registered)
    /// becomes readable.
    pub fn arm_wake(&mut self, fd: RawFd) {
        let poll = opcode::PollAdd::new(types::Fd(fd), libc::POLLIN as u32);
        self.push(&poll.build().user_data(user_data(Op::Wake, 0, 0)));
    }

    // ----- the loop's side -----

    /// Submits what is queued and waits for a completion, `timeout` at most (`None`: until one
    /// comes): one system call.
    pub fn submit_and_wait(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.submit_sends();
        let result = match timeout {
            None => self.uring.submit_and_wait(1),
            Some(t) => {
                let ts = types::Timespec::from(t);
                let args = types::SubmitArgs::new().timespec(&ts);
                self.uring.submitter().submit_with_args(1, &args)
            }
        };
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// One send for each socket's queued output.
    fn submit_sends(&mut self) {
        for id in std::mem::take(&mut self.to_send) {
            self.sock_mut(id).sending = Sending::InFlight;
            self.send(id);
        }
    }

    fn send(&mut self, id: u32) {
        let fd = self.fd(id);
        let sock = self.sock(id);
        let rest = &sock.out[sock.sent..];
        let len = u32::try_from(rest.len()).expect("at most OUT_LIMIT bytes");
        let send = opcode::Send::new(types::Fd(fd), rest.as_ptr(), len).flags(libc::MSG_NOSIGNAL);
        let ud = user_data(Op::Send, sock.generation, id);
        self.in_flight += 1;
        self.push(&send.build().user_data(ud));
    }

    /// Moves every completion into `into`.
    pub fn completions(&mut self, into: &mut Vec<Completion>) {
        for cqe in self.uring.completion() {
            let ud = cqe.user_data();
            let op = match ud >> 56 {
                1 => Some(Op::Accept),
                2 => Some(Op::Recv),
                3 => Some(Op::Send),
                4 => Some(Op::Cancel),
                5 => Some(Op::Wake),
                _ => None,
            };
            into.push(Completion {
                op,
                id: ud as u32,
                generation: (ud >> 32) as u32 & 0xFF_FFFF,
                result: cqe.result(),
                flags: cqe.flags(),
            });
        }
    }

    /// The socket a completion is for, unless it has since been freed and reused.
    pub(super) fn current(&self, c: &Completion) -> bool {
        self.socks
            .get(c.id as usize)
            .is_some_and(|s| s.stream.is_some() && s.generation & 0xFF_FFFF == c.generation)
    }

    pub fn on_cancel(&mut self) {
        self.in_flight -= 1;
    }

    /// A receive completed: the connection to read, and whether to read it to its end.
    pub fn on_recv(&mut self, c: &Completion) -> Option<(u64, bool)> {
        let last = !cqueue::more(c.flags);
        if !self.current(c) {
            debug_assert!(false, "a receive outlives its socket's release");
            return None;
        }
        let id = c.id;
        if last {
            self.in_flight -= 1;
            self.sock_mut(id).recv_armed = false;
        }
        if c.result > 0 {
            let bid = cqueue::buffer_select(c.flags).expect("a receive with data names its buffer");
            let len = usize::try_from(c.result).expect("positive");
            let sock = &mut self.socks[id as usize];
            if sock.released_at.is_some() {
                self.buffers.give_back(bid);
            } else if sock.segment.is_none() && sock.inbox.is_none() {
                // Read from where the kernel put it, this loop turn.
                let len = u32::try_from(len).expect("a completion fills one buffer at most");
                sock.segment = Some(Segment { bid, at: 0, len });
            } else {
                self.spill(id);
                let sock = &mut self.socks[id as usize];
                let inbox = sock.inbox.get_or_insert_with(Box::default);
                inbox.data.extend_from_slice(self.buffers.data(bid, len));
                self.io.ring_in(0, len);
                self.buffers.give_back(bid);
            }
        } else if c.result == 0 {
            self.sock_mut(id).eof = true;
        } else if !matches!(-c.result, libc::ENOBUFS | libc::ECANCELED) {
            self.sock_mut(id).error = Some(-c.result);
        }
        let sock = &mut self.socks[id as usize];
        if sock.released_at.is_some() {
            self.free_if_done(id);
            return None;
        }
        let ended = sock.eof || sock.error.is_some();
        if last && !ended && !sock.recv_stopped {
            self.rearm.push(id);
        }
        let key = sock.key;
        if sock.recv_armed && !sock.recv_stopped && sock.inbox_len() > INBOX_LIMIT {
            sock.recv_stopped = true;
            self.cancel(Op::Recv, id);
        }
        Some((key, ended))
    }

    /// A send completed: the connection that may write again.
    pub fn on_send(&mut self, c: &Completion) -> Option<u64> {
        self.in_flight -= 1;
        if !self.current(c) {
            debug_assert!(false, "a send outlives its socket");
            return None;
        }
        let id = c.id;
        let sock = &mut self.socks[id as usize];
        match usize::try_from(c.result) {
            Ok(n) if n > 0 => {
                sock.sent += n;
                if sock.sent < sock.out.len() {
                    self.send(id);
                    return None;
                }
            }
            // A send that takes nothing from a stream socket will not take more later.
            Ok(_) => sock.error = Some(libc::EPIPE),
            Err(_) => sock.error = Some(-c.result),
        }
        self.io.ring_out(sock.out.len(), 0);
        let mut done = std::mem::take(&mut sock.out);
        sock.sent = 0;
        sock.sending = Sending::Idle;
        if done.capacity() <= SPARE_BYTES && self.spare.len() < SPARE_COUNT {
            done.clear();
            self.spare.push(done);
        }
        let sock = &mut self.socks[id as usize];
        if std::mem::take(&mut sock.shutdown_after_send) {
            if let Some(stream) = &sock.stream {
                let _ = stream.shutdown(Shutdown::Write);
            }
        }
        if sock.released_at.is_some() {
            self.free_if_done(id);
            return None;
        }
        Some(sock.key)
    }

    /// After a batch of completions, at `now`: receives that ended are armed again (their
    /// buffers are back), and a closed connection's send that waited past `LINGER` is
    /// cancelled.
    pub fn after_batch(&mut self, now: Instant) {
        self.now = now;
        for id in std::mem::take(&mut self.rearm) {
            let s = &self.socks[id as usize];
            let wanted = s.stream.is_some()
                && s.released_at.is_none()
                && !s.recv_armed
                && !s.recv_stopped
                && !s.eof
                && s.error.is_none();
            if wanted {
                self.arm_recv(id);
            }
        }
        let mut lingering = std::mem::take(&mut self.lingering);
        lingering.retain(|&id| {
            let s = &self.socks[id as usize];
            if s.stream.is_none() || s.released_at.is_none() {
                return false;
            }
            let overdue = s.released_at.is_some_and(|t| now >= t + LINGER);
            if overdue && s.sending == Sending::InFlight && !s.send_cancelled {
                self.socks[id as usize].send_cancelled = true;
                self.cancel(Op::Send, id);
            }
            true
        });
        self.lingering = lingering;
    }

    /// The worker is done: everything in flight is cancelled and waited for (a second at
    /// most), so that no operation outlives the memory it uses.
    pub fn close(mut self) {
        self.submit_sends();
        let any = opcode::AsyncCancel2::new(types::CancelBuilder::any()).build();
        self.push(&any.user_data(user_data(Op::Cancel, 0, u32::MAX)));
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        let mut batch = Vec::new();
        while std::time::Instant::now() < deadline {
            let _ = self.submit_and_wait(Some(Duration::from_millis(10)));
            self.completions(&mut batch);
            for c in batch.drain(..) {
                self.close_one(&c);
            }
            if self.in_flight == 0 {
                break;
            }
        }
    }

    fn close_one(&mut self, c: &Completion) {
        match c.op {
            Some(Op::Recv) if !cqueue::more(c.flags) => self.in_flight -= 1,
            Some(Op::Send) => self.in_flight -= 1,
            Some(Op::Cancel) if c.id != u32::MAX => self.in_flight -= 1,
            Some(Op::Accept) if c.result >= 0 => drop(super::accepted(c.result)),
            _ => {}
        }
    }
}
