//! One connection as the reactor holds it: its socket, the machine it speaks, the input it has
//! not consumed and the output the socket has not taken, and where it stands in its life.
//!
//! A connection's life is one enum ([`Life`], `life.rs`); which *machine* the connection speaks
//! ([`Proto`]) is the other axis: HTTP becomes WebSocket at an upgrade, or a bare stream of body
//! bytes while an event stream lasts.

use super::gather::Gather;
use super::io::Io;
use super::io_stats::IoCounters;
use super::life::{Change, Life};
use super::record::{End, Record};
use super::socket::Socket;
use super::spill::{Side, Spills};
use crate::http;
use crate::limits::Limits;
use crate::time::{Instant, earliest};
use crate::ws;
use std::io;
use std::net::IpAddr;

/// What a connection speaks now.
#[derive(Debug)]
pub(crate) enum Proto {
    /// Boxed, like `Ws`: an idle connection pays for a pointer, not for the largest machine.
    Http(Box<HttpConn>),
    Ws(Box<ws::Connection>),
    /// A streamed response body (an event stream): two bytes instead of the HTTP machine.
    Stream(http::BodyStream),
}

#[derive(Debug)]
pub(crate) struct HttpConn {
    pub http: http::Connection,
    pub pending: Pending,
}

/// The application's side of the current HTTP exchange.
#[derive(Debug)]
pub(crate) enum Pending {
    /// Nothing outstanding (or a plain response already sent).
    None,
    /// Collecting a request body before calling the application.
    Body {
        head: http::OwnedRequest,
        body: Vec<u8>,
    },
    /// `101` sent; the WebSocket machine takes over at the `Upgraded` event.
    Upgrading(ws::ValidatedUpgrade),
    /// A streaming response is open.
    Stream,
    /// The application will answer later.
    Deferred { deadline: Option<Instant> },
}

/// One connection.
#[derive(Debug)]
pub(crate) struct Conn {
    socket: Socket,
    proto: Proto,
    life: Life,
    /// Input received and not yet consumed, and output not yet written (both empty for an
    /// idle connection).
    spills: Spills,
    /// The deadline of this connection's live timer entry.
    scheduled: Option<Instant>,
    /// The application holds this connection (WebSocket, stream, deferred answer): it is told
    /// when the connection ends. Not a stage of its life: any stage before lingering may be
    /// held or not.
    held: bool,
    /// Input arrived while reading was paused: read again when it resumes.
    read_pending: bool,

    /// The listener it came through.
    listener: u8,
    /// What the application marked it as (`Ctx::set_tag`).
    tag: u8,
    /// Why it ends, once that is decided (the first cause wins).
    end: Option<End>,
    /// Its address, times and byte counts, when the server records connections.
    record: Option<Box<Record>>,
}

/// The socket failed: the connection is broken.
#[derive(Debug)]
pub(crate) struct Broken;

impl Conn {
    pub fn new(socket: Socket, now: Instant, limits: &Limits) -> Self {
        Conn {
            socket,
            proto: Proto::Http(Box::new(HttpConn {
                http: http::Connection::new(now, limits),
                pending: Pending::None,
            })),
            life: Life::Open { behind: None },
            spills: Spills::default(),
            scheduled: None,
            held: false,
            read_pending: false,
            listener: 0,
            tag: 0,
            end: None,
            record: None,
        }
    }

    /// Came through listener number `listener`.
    pub fn set_listener(&mut self, listener: u8) {
        self.listener = listener;
    }

    pub fn listener(&self) -> u8 {
        self.listener
    }

    pub fn tag(&self) -> u8 {
        self.tag
    }

    pub fn set_tag(&mut self, tag: u8) {
        self.tag = tag;
    }

    // ----- what is remembered of it -----

    /// Starts remembering its address, times and byte counts.
    pub fn set_record(&mut self, record: Record) {
        self.record = Some(Box::new(record));
    }

    pub fn record(&self) -> Option<&Record> {
        self.record.as_deref()
    }

    pub fn record_mut(&mut self) -> Option<&mut Record> {
        self.record.as_deref_mut()
    }

    /// Why it ends: `end`, unless a cause was noted before.
    pub fn note_end(&mut self, end: End) {
        self.end.get_or_insert(end);
    }

    pub fn end(&self) -> Option<End> {
        self.end
    }

    /// A response with `status` went out.
    pub fn note_status(&mut self, status: u16) {
        if let Some(r) = &mut self.record {
            r.status = status;
        }
    }

    /// A request arrived.
    pub fn note_request(&mut self) {
        if let Some(r) = &mut self.record {
            r.requests = r.requests.saturating_add(1);
        }
    }

    /// A WebSocket close code was sent or received (the first one is kept).
    pub fn note_close_code(&mut self, code: u16) {
        if let Some(r) = self.record.as_mut().filter(|r| r.close_code == 0) {
            r.close_code = code;
        }
    }

    /// `n` bytes were read.
    pub fn note_read(&mut self, n: usize) {
        if let Some(r) = &mut self.record {
            r.bytes_in += n as u64;
        }
    }

    fn note_written(&mut self, n: usize) {
        if let Some(r) = &mut self.record {
            r.bytes_out += n as u64;
        }
    }

    // ----- what it speaks -----

    pub fn proto(&self) -> &Proto {
        &self.proto
    }

    pub fn proto_mut(&mut self) -> &mut Proto {
        &mut self.proto
    }

    pub fn set_proto(&mut self, proto: Proto) {
        self.proto = proto;
    }

    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    pub fn socket_mut(&mut self) -> &mut Socket {
        &mut self.socket
    }

    /// Whether the machine is finished with the connection.
    pub fn machine_closed(&self) -> bool {
        match &self.proto {
            Proto::Http(h) => h.http.is_closed(),
            Proto::Ws(w) => w.is_closed(),
            Proto::Stream(_) => false,
        }
    }

    // ----- its life -----

    pub fn life(&self) -> &Life {
        &self.life
    }

    /// Moves its life on (see [`Life::next`]).
    pub fn change(&mut self, change: Change) -> Option<Box<Gather>> {
        self.life.next(change)
    }

    pub fn is_lingering(&self) -> bool {
        matches!(self.life, Life::Lingering { .. })
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.life, Life::Closed)
    }

    /// Whether it still reads and answers (not finishing, lingering or closed).
    pub fn is_open(&self) -> bool {
        matches!(self.life, Life::Open { .. } | Life::Gathering { .. })
    }

    /// The frame being gathered, if any.
    pub fn gather_mut(&mut self) -> Option<&mut Gather> {
        match &mut self.life {
            Life::Gathering { gather, .. } => Some(gather),
            _ => None,
        }
    }

    pub fn is_held(&self) -> bool {
        self.held
    }

    /// The application holds (or stops holding) the connection.
    pub fn set_held(&mut self, held: bool) {
        self.held = held;
    }

    pub fn read_pending(&self) -> bool {
        self.read_pending
    }

    pub fn set_read_pending(&mut self, pending: bool) {
        self.read_pending = pending;
    }

    /// The address it is counted under for the per-address limit, if it is.
    pub fn counted(&self) -> Option<IpAddr> {
        self.record.as_ref().and_then(|r| r.counted)
    }

    pub fn scheduled(&self) -> Option<Instant> {
        self.scheduled
    }

    pub fn set_scheduled(&mut self, at: Option<Instant>) {
        self.scheduled = at;
    }

    /// Whether input should not be read now: the write queue is full, or unconsumed input is
    /// waiting for the machine. (A lingering connection always reads, to find EOF.)
    pub fn read_paused(&self, limits: &Limits) -> bool {
        !self.is_lingering()
            && (self.queued() > limits.write_queue_bytes
                || self.spills.len(Side::In) >= super::READ_CHUNK)
    }

    /// The earliest of its deadlines: the machine's, a deferred answer's, the TLS handshake's,
    /// a slow consumer's cut-off, the end of lingering.
    pub fn deadline(&self, limits: &Limits) -> Option<Instant> {
        if let Life::Lingering { until } = self.life {
            return Some(until);
        }
        let behind = self.life.behind().map(|t| t + limits.slow_consumer_timeout);
        let machine = match &self.proto {
            Proto::Http(h) => {
                let deferred = match h.pending {
                    Pending::Deferred { deadline } => deadline,
                    _ => None,
                };
                earliest(h.http.poll_timeout(), deferred)
            }
            Proto::Ws(w) => w.poll_timeout(),
            Proto::Stream(_) => None,
        };
        earliest(earliest(machine, behind), self.socket.handshake_deadline())
    }

    /// Whether its output is over its bound.
    pub fn is_behind(&self) -> bool {
        self.life.behind().is_some()
    }

    /// Whether it has been over its output bound since before `now - timeout`.
    pub fn too_slow(&self, now: Instant, timeout: core::time::Duration) -> bool {
        self.life.behind().is_some_and(|t| now >= t + timeout)
    }

    // ----- input -----

    /// Reads from the socket: the rest of a frame being gathered into its own buffer (and,
    /// once that buffer holds all the frame lacks, what follows into `rbuf` in the same system
    /// call), else into `rbuf`. Returns the result, how many of the bytes read are the frame's,
    /// and how many were asked for.
    pub fn read_into(&mut self, rbuf: &mut [u8]) -> (io::Result<usize>, usize, usize) {
        let io = self.socket.io();
        match &mut self.life {
            Life::Gathering { gather, .. } => {
                let missing = gather.missing();
                let space = gather.space();
                let part = space.len();
                if part == missing {
                    let asked = part + rbuf.len();
                    (io.read_two(space, rbuf), part, asked)
                } else {
                    // The buffer is still growing: nothing past its end is the next frame's.
                    (io.read(space), part, part)
                }
            }
            _ => (io.read(rbuf), 0, rbuf.len()),
        }
    }

    pub fn input_len(&self) -> usize {
        self.spills.len(Side::In)
    }

    /// Takes the unconsumed input out (to offer it again with what arrives next).
    pub fn take_input(&mut self) -> Vec<u8> {
        self.spills.take(Side::In)
    }

    /// Keeps input the machine did not take.
    pub fn keep_input(&mut self, rest: &[u8]) {
        self.spills.push(Side::In, rest);
    }

    /// Keeps `bytes[pos..]` as the unconsumed input, taking the vector as it is.
    pub fn keep_input_vec(&mut self, bytes: Vec<u8>, pos: usize) {
        self.spills.set_at(Side::In, bytes, pos);
    }

    pub fn drop_input(&mut self) {
        self.spills.clear(Side::In);
    }

    // ----- output -----

    /// Output not yet taken by the socket: the write queue, plus one for records a TLS layer
    /// still holds (bounded by rustls; counted so that closing waits for them).
    pub fn queued(&self) -> usize {
        self.spills.len(Side::Out) + usize::from(self.socket.holds_output())
    }

    /// Sends `bytes` (and empties it): straight to the socket when nothing is queued, the rest
    /// (or all) to the write queue. A lingering connection sends nothing more.
    pub fn send(&mut self, bytes: &mut Vec<u8>, counters: &IoCounters) -> Result<(), Broken> {
        let before = self.spills.len(Side::Out);
        let sent = self.send_now(bytes, counters);
        counters.queue(before, self.spills.len(Side::Out));
        sent
    }

    fn send_now(&mut self, bytes: &mut Vec<u8>, counters: &IoCounters) -> Result<(), Broken> {
        if bytes.is_empty() {
            return Ok(());
        }
        if self.is_lingering() || self.is_closed() {
            bytes.clear();
            return Ok(());
        }
        if self.queued() > 0 {
            self.spills.push(Side::Out, bytes);
            bytes.clear();
            return Ok(());
        }
        let written = match write_now(self.socket.io(), [bytes, &[]], counters) {
            Ok(written) => written,
            Err(_) => {
                bytes.clear();
                return Err(Broken);
            }
        };
        self.note_written(written);
        let rest = bytes.len() - written;
        if rest >= super::READ_CHUNK {
            // A large remainder (a big message): hand the buffer over instead of copying.
            let full = std::mem::replace(bytes, Vec::with_capacity(super::READ_CHUNK));
            self.spills.set_at(Side::Out, full, written);
            return Ok(());
        } else if rest > 0 {
            self.spills.push(Side::Out, &bytes[written..]);
        }
        bytes.clear();
        Ok(())
    }

    /// Sends `header` and then `payload` with one vectored write when nothing is queued,
    /// queuing what the socket does not take: a large payload goes straight from the caller's
    /// slice. `Ok(false)`: not applicable now (output queued, or not open).
    pub fn send_direct(
        &mut self,
        header: &[u8],
        payload: &[u8],
        counters: &IoCounters,
    ) -> Result<bool, Broken> {
        let before = self.spills.len(Side::Out);
        let sent = self.send_direct_now(header, payload, counters);
        counters.queue(before, self.spills.len(Side::Out));
        sent
    }

    fn send_direct_now(
        &mut self,
        header: &[u8],
        payload: &[u8],
        counters: &IoCounters,
    ) -> Result<bool, Broken> {
        if self.queued() != 0 || !self.is_open() {
            return Ok(false);
        }
        let written =
            write_now(self.socket.io(), [header, payload], counters).map_err(|_| Broken)?;
        if written < header.len() {
            self.spills.push(Side::Out, &header[written..]);
            self.spills.push(Side::Out, payload);
        } else {
            self.spills
                .push(Side::Out, &payload[written - header.len()..]);
        }
        Ok(true)
    }

    /// Writes queued output (the socket is writable).
    pub fn write_queued(&mut self, counters: &IoCounters) -> Result<(), Broken> {
        let before = self.spills.len(Side::Out);
        let written = self.write_queued_now(counters);
        counters.queue(before, self.spills.len(Side::Out));
        written
    }

    /// The connection leaves: its write queue no longer counts.
    pub fn release_output(&mut self, counters: &IoCounters) {
        counters.queue(self.spills.len(Side::Out), 0);
        self.spills.clear(Side::Out);
    }

    fn write_queued_now(&mut self, counters: &IoCounters) -> Result<(), Broken> {
        match self.socket.io().flush_held() {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(_) => return Err(Broken),
        }
        while !self.spills.is_empty(Side::Out) {
            counters.write();
            match self.socket.io().write(self.spills.front(Side::Out)) {
                Ok(0) => break,
                Ok(n) => {
                    self.spills.advance(Side::Out, n);
                    self.note_written(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return Err(Broken),
            }
        }
        Ok(())
    }
}

/// Writes `parts`, in order, until the socket would block (one vectored write while the first
/// part lasts): how many bytes went. An error other than `WouldBlock`/`Interrupted` means the
/// connection is broken.
fn write_now(socket: &mut dyn Io, parts: [&[u8]; 2], counters: &IoCounters) -> io::Result<usize> {
    let [first, second] = parts;
    let total = first.len() + second.len();
    let mut written = 0;
    while written < total {
        counters.write();
        let result = match first.get(written..) {
            // One slice: a plain write (`writev` only for two).
            Some(rest) if !rest.is_empty() && second.is_empty() => socket.write(rest),
            Some(rest) if !rest.is_empty() => {
                socket.write_vectored(&[io::IoSlice::new(rest), io::IoSlice::new(second)])
            }
            _ => socket.write(&second[written - first.len()..]),
        };
        match result {
            Ok(0) => break,
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

#[cfg(test)]
mod size {
    /// An idle connection is a slab slot holding a `Conn` plus its protocol state: keep both
    /// small.
    #[test]
    fn idle_connection_state_stays_small() {
        let conn = core::mem::size_of::<super::Conn>();
        eprintln!(
            "Conn {conn} Life {} Socket {} Proto {} ws {} Record {} slot {}",
            core::mem::size_of::<super::Life>(),
            core::mem::size_of::<super::Socket>(),
            core::mem::size_of::<super::Proto>(),
            core::mem::size_of::<crate::ws::Connection>(),
            core::mem::size_of::<super::Record>(),
            core::mem::size_of::<Option<super::Conn>>(),
        );
        // 80 in a release build (mio's socket carries a selector id in debug builds).
        assert!(conn <= 88, "Conn is {conn} bytes");
        // An allocation of 80 bytes with the allocator's header.
        let ws = core::mem::size_of::<crate::ws::Connection>();
        assert!(ws <= 72, "ws::Connection is {ws} bytes");
        assert_eq!(core::mem::size_of::<super::Life>(), 16);
        assert!(core::mem::size_of::<crate::http::BodyStream>() <= 2);
        // An idle keep-alive or parked HTTP connection boxes this (it held a whole `Limits`, 336 B).
        let http = core::mem::size_of::<crate::http::Connection>();
        assert!(http <= 256, "http::Connection is {http} bytes");
    }
}
