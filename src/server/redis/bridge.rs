//! The broker thread: one connection to Redis, reconnected with capped exponential backoff and
//! jitter, driven by a `mio::Poll`.

use super::{Ack, Link, Request, Update, lock};
use crate::entropy::{Entropy, OsEntropy};
use crate::hub::redis::{Mirror, NotSent, Outcome};
use crate::server::ConnId;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const WAKE: Token = Token(0);
const SOCKET: Token = Token(1);
/// The first wait before reconnecting, doubled per failure up to `MAX_BACKOFF`.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often an idle connection is asked `PING`.
const PING_EVERY: Duration = Duration::from_secs(1);
/// A connection with replies outstanding for this long is given up.
const STALL: Duration = Duration::from_secs(5);
/// Unfollowing waits for every worker's report after the follow.
const RECONCILE_EVERY: Duration = Duration::from_secs(1);
/// The most bytes queued for Redis before the connection is given up (a stalled Redis).
const MAX_OUT: usize = 64 << 20;

enum Conn {
    Down { retry_at: Instant },
    Connecting(TcpStream),
    Up(TcpStream),
}

/// How the bridge tells the server's workers of an [`Update`].
pub(super) type Notify = Box<dyn Fn(Update) + Send>;

pub(super) struct Bridge {
    link: Arc<Link>,
    notify: Notify,
    poll: Poll,
    mirror: Mirror,
    conn: Conn,
    out: Vec<u8>,
    inbuf: Vec<u8>,
    tickets: BTreeMap<u64, (usize, ConnId)>,
    next_ticket: u64,
    backoff: Duration,
    last_ping: Instant,
    last_progress: Instant,
    last_reconcile: Instant,
    followed_at: BTreeMap<Arc<str>, Instant>,
    entropy: OsEntropy,
}

impl Bridge {
    pub(super) fn new(link: Arc<Link>, notify: Notify) -> io::Result<Bridge> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKE)?;
        link.waker
            .set(waker)
            .map_err(|_| io::Error::other("the broker link was started twice"))?;
        if link.hub.get().is_none() {
            return Err(io::Error::other("the broker link has no hub server"));
        }
        let now = Instant::now();
        Ok(Bridge {
            mirror: Mirror::new(link.url.config.clone()),
            link,
            notify,
            poll,
            conn: Conn::Down { retry_at: now },
            out: Vec::new(),
            inbuf: Vec::new(),
            tickets: BTreeMap::new(),
            next_ticket: 1,
            backoff: MIN_BACKOFF,
            last_ping: now,
            last_progress: now,
            last_reconcile: now,
            followed_at: BTreeMap::new(),
            entropy: OsEntropy,
        })
    }

    pub(super) fn run(mut self) {
        let mut events = Events::with_capacity(16);
        while !self.link.stop.load(Ordering::SeqCst) {
            let timeout = self.timeout();
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return;
                }
            }
            for event in events.iter() {
                if event.token() != SOCKET {
                    continue;
                }
                if matches!(self.conn, Conn::Connecting(_))
                    && (event.is_writable() || event.is_error())
                {
                    self.finish_connect();
                }
                if matches!(self.conn, Conn::Up(_))
                    && (event.is_readable() || event.is_read_closed() || event.is_error())
                {
                    self.read();
                }
            }
            self.take_requests();
            self.timers();
            self.flush();
        }
        if let Conn::Up(mut s) | Conn::Connecting(mut s) = std::mem::replace(
            &mut self.conn,
            Conn::Down {
                retry_at: Instant::now(),
            },
        ) {
            let _ = self.poll.registry().deregister(&mut s);
        }
    }

    fn timeout(&self) -> Duration {
        let now = Instant::now();
        let next = match &self.conn {
            Conn::Down { retry_at } => *retry_at,
            _ => self.last_ping + PING_EVERY,
        };
        next.saturating_duration_since(now).min(RECONCILE_EVERY)
    }

    fn timers(&mut self) {
        let now = Instant::now();
        match &self.conn {
            Conn::Down { retry_at } if now >= *retry_at => self.connect(),
            Conn::Up(_) => {
                if self.mirror.in_flight() > 0 && now.duration_since(self.last_progress) > STALL {
                    self.lost("Redis stopped answering");
                } else if now.duration_since(self.last_ping) >= PING_EVERY {
                    self.last_ping = now;
                    if self.mirror.in_flight() == 0 {
                        self.last_progress = now;
                    }
                    self.mirror.ping(&mut self.out);
                }
            }
            Conn::Connecting(_) if now.duration_since(self.last_progress) > STALL => {
                self.lost("connecting to Redis timed out");
            }
            _ => {}
        }
        if now.duration_since(self.last_reconcile) >= RECONCILE_EVERY {
            self.last_reconcile = now;
            self.reconcile();
        }
    }

    fn connect(&mut self) {
        self.last_progress = Instant::now();
        let addr = self
            .link
            .url
            .addr
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next());
        let stream = addr.map(TcpStream::connect);
        match stream {
            Some(Ok(mut stream)) => {
                let registered = self.poll.registry().register(
                    &mut stream,
                    SOCKET,
                    Interest::READABLE | Interest::WRITABLE,
                );
                if registered.is_ok() {
                    self.conn = Conn::Connecting(stream);
                    return;
                }
                self.lost("could not watch the socket");
            }
            _ => self.lost("could not connect"),
        }
    }

    fn finish_connect(&mut self) {
        let Conn::Connecting(stream) = &self.conn else {
            return;
        };
        let connected = matches!(stream.take_error(), Ok(None)) && stream.peer_addr().is_ok();
        if !connected {
            self.lost("connection refused");
            return;
        }
        let _ = stream.set_nodelay(true);
        if let Conn::Connecting(stream) = std::mem::replace(
            &mut self.conn,
            Conn::Down {
                retry_at: Instant::now(),
            },
        ) {
            self.conn = Conn::Up(stream);
        }
        self.inbuf.clear();
        self.last_progress = Instant::now();
        self.mirror.connected(&mut self.out);
    }

    /// The connection is gone: fail what was in flight, mark every topic stale, retry later.
    fn lost(&mut self, _why: &str) {
        if let Conn::Up(mut s) | Conn::Connecting(mut s) = std::mem::replace(
            &mut self.conn,
            Conn::Down {
                retry_at: Instant::now(),
            },
        ) {
            let _ = self.poll.registry().deregister(&mut s);
        }
        let was_up = self.link.up.swap(false, Ordering::SeqCst);
        if was_up {
            self.link.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        lock(&self.link.synced).clear();
        self.out.clear();
        self.inbuf.clear();
        let outcomes = self.mirror.disconnected();
        self.dispatch(outcomes);
        // Capped exponential backoff with jitter: wait between half and all of it.
        let mut random = [0u8; 2];
        self.entropy.fill(&mut random);
        let fraction = 0.5 + f64::from(u16::from_le_bytes(random)) / f64::from(u16::MAX) / 2.0;
        let wait = self.backoff.mul_f64(fraction);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        self.conn = Conn::Down {
            retry_at: Instant::now() + wait,
        };
    }

    fn read(&mut self) {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            let Conn::Up(stream) = &mut self.conn else {
                return;
            };
            match stream.read(&mut chunk) {
                Ok(0) => return self.lost("Redis closed the connection"),
                Ok(n) => self.inbuf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return self.lost("reading from Redis failed"),
            }
        }
        if self.inbuf.is_empty() {
            return;
        }
        self.last_progress = Instant::now();
        let mut outcomes = Vec::new();
        let fed = {
            let Some(attached) = self.link.hub.get() else {
                return;
            };
            let mut hub = lock(&attached.hub);
            self.mirror.feed(
                &self.inbuf,
                &mut hub,
                &attached.event,
                &mut self.out,
                &mut outcomes,
            )
        };
        match fed {
            Ok(consumed) => {
                self.inbuf.drain(..consumed);
                self.dispatch(outcomes);
            }
            Err(_) => {
                self.dispatch(outcomes);
                self.lost("Redis sent something that is not RESP3");
            }
        }
    }

    fn dispatch(&mut self, outcomes: Vec<Outcome>) {
        let mut acked = false;
        for outcome in outcomes {
            match outcome {
                Outcome::Ready => {
                    self.link.up.store(true, Ordering::SeqCst);
                    self.backoff = MIN_BACKOFF;
                }
                Outcome::Refused(why) => {
                    eprintln!(
                        "pushwire: Redis at {} refused the handshake: {why}",
                        self.link.url.addr
                    );
                    self.lost("refused");
                    return;
                }
                Outcome::Published { ticket, seq } => {
                    acked |= self.ack(ticket, Ok(seq));
                }
                Outcome::NotPublished { ticket, reason } => {
                    acked |= self.ack(ticket, Err(reason));
                }
                Outcome::Synced(topic) => {
                    lock(&self.link.synced).insert(topic.clone());
                    (self.notify)(Update::Synced(topic));
                }
                Outcome::Events(topic) => (self.notify)(Update::Published(topic)),
            }
        }
        if acked {
            (self.notify)(Update::Acked);
        }
    }

    fn ack(&mut self, ticket: u64, result: Result<u64, String>) -> bool {
        let Some((worker, conn)) = self.tickets.remove(&ticket) else {
            return false;
        };
        lock(&self.link.acks)
            .entry(worker)
            .or_default()
            .push(Ack { conn, result });
        true
    }

    fn take_requests(&mut self) {
        let requests = std::mem::take(&mut *lock(&self.link.requests));
        for request in requests {
            match request {
                Request::Publish {
                    worker,
                    conn,
                    topic,
                    ts,
                    text,
                } => {
                    let ticket = self.next_ticket;
                    self.next_ticket += 1;
                    self.tickets.insert(ticket, (worker, conn));
                    if let Err(e) = self
                        .mirror
                        .publish(ticket, &topic, ts, &text, &mut self.out)
                    {
                        let reason = match e {
                            NotSent::Down => "the broker is not connected",
                            NotSent::Busy => "too many publishes awaiting the broker",
                        };
                        if self.ack(ticket, Err(reason.into())) {
                            (self.notify)(Update::Acked);
                        }
                    }
                }
                Request::Follow(topic) => {
                    self.followed_at.insert(topic.clone(), Instant::now());
                    if let Some(attached) = self.link.hub.get() {
                        let hub = lock(&attached.hub);
                        self.mirror.follow(&topic, &hub, &mut self.out);
                    }
                }
            }
        }
    }

    /// Unfollows topics no worker has followed since they were last asked for.
    fn reconcile(&mut self) {
        let reports = lock(&self.link.reports);
        if reports.is_empty() {
            return;
        }
        let stale: Vec<Arc<str>> = self
            .followed_at
            .iter()
            .filter(|(topic, since)| {
                reports
                    .values()
                    .all(|r| r.at.is_some_and(|at| at > **since) && !r.topics.contains(*topic))
            })
            .map(|(t, _)| t.clone())
            .collect();
        drop(reports);
        for topic in stale {
            self.followed_at.remove(&topic);
            lock(&self.link.synced).remove(&topic);
            self.mirror.unfollow(&topic, &mut self.out);
        }
    }

    fn flush(&mut self) {
        if self.out.len() > MAX_OUT {
            return self.lost("Redis does not take what is sent");
        }
        let Conn::Up(stream) = &mut self.conn else {
            return;
        };
        let mut written = 0;
        while written < self.out.len() {
            match stream.write(&self.out[written..]) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.out.drain(..written);
                    return self.lost("writing to Redis failed");
                }
            }
        }
        self.out.drain(..written);
    }
}
