//! One connection of the broker thread: to the one Redis, or to one primary of a cluster. It
//! connects (and reconnects with capped exponential backoff and jitter), pings, gives up a
//! connection that stops answering or taking what is sent, and runs its own [`Mirror`] over
//! the topics routed to it.

use super::Attached;
use crate::entropy::{Entropy, OsEntropy};
use crate::hub::Hub;
use crate::hub::redis::{Mirror, MirrorConfig, NotSent, Outcome};
use crate::reactor::lock;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use std::io::{self, Read, Write};
use std::net::ToSocketAddrs;
use std::time::{Duration, Instant};

/// The first wait before reconnecting, doubled per failure up to `MAX_BACKOFF`.
pub(super) const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often an idle connection is asked `PING`.
pub(super) const PING_EVERY: Duration = Duration::from_secs(1);
/// A connection with replies outstanding for this long is given up.
const STALL: Duration = Duration::from_secs(5);
/// The most bytes queued for Redis before the connection is given up (a stalled Redis).
const MAX_OUT: usize = 64 << 20;
/// A buffer emptied after a burst is given back to the allocator past this size.
const KEEP: usize = 64 << 10;

enum Conn {
    Down { retry_at: Instant },
    Connecting(TcpStream),
    Up(TcpStream),
}

/// One connection and the machine that runs over it.
pub(super) struct Shard {
    /// `host:port`.
    pub addr: String,
    token: Token,
    conn: Conn,
    pub mirror: Mirror,
    out: Vec<u8>,
    inbuf: Vec<u8>,
    backoff: Duration,
    last_ping: Instant,
    last_progress: Instant,
    /// Whether the handshake is done ([`Outcome::Ready`]) on the present connection.
    pub ready: bool,
    /// Connections lost after being ready.
    pub losses: u64,
}

impl Shard {
    /// A shard not connected yet (it connects at its first timer).
    pub fn new(addr: String, token: Token, config: MirrorConfig) -> Shard {
        let now = Instant::now();
        Shard {
            addr,
            token,
            conn: Conn::Down { retry_at: now },
            mirror: Mirror::new(config),
            out: Vec::new(),
            inbuf: Vec::new(),
            backoff: MIN_BACKOFF,
            last_ping: now,
            last_progress: now,
            ready: false,
            losses: 0,
        }
    }

    pub fn is_connecting(&self) -> bool {
        matches!(self.conn, Conn::Connecting(_))
    }

    pub fn is_connected(&self) -> bool {
        matches!(self.conn, Conn::Up(_))
    }

    /// Until when the thread may sleep for this shard's sake.
    pub fn next_timer(&self) -> Instant {
        match &self.conn {
            Conn::Down { retry_at } => *retry_at,
            _ => self.last_ping + PING_EVERY,
        }
    }

    /// Connects when due, pings when idle, gives up a connection that stopped answering.
    /// What was lost, if it was.
    pub fn timers(&mut self, registry: &Registry) -> Option<Vec<Outcome>> {
        let now = Instant::now();
        match &self.conn {
            Conn::Down { retry_at } if now >= *retry_at => return self.connect(registry),
            Conn::Up(_) => {
                if self.mirror.in_flight() > 0 && now.duration_since(self.last_progress) > STALL {
                    return Some(self.lost(registry));
                }
                if now.duration_since(self.last_ping) >= PING_EVERY {
                    self.last_ping = now;
                    if self.mirror.in_flight() == 0 {
                        self.last_progress = now;
                    }
                    self.mirror.ping(&mut self.out);
                }
            }
            Conn::Connecting(_) if now.duration_since(self.last_progress) > STALL => {
                return Some(self.lost(registry));
            }
            _ => {}
        }
        None
    }

    fn connect(&mut self, registry: &Registry) -> Option<Vec<Outcome>> {
        self.last_progress = Instant::now();
        let addr = self.addr.to_socket_addrs().ok().and_then(|mut a| a.next());
        if let Some(Ok(mut stream)) = addr.map(TcpStream::connect) {
            let interest = Interest::READABLE | Interest::WRITABLE;
            if registry.register(&mut stream, self.token, interest).is_ok() {
                self.conn = Conn::Connecting(stream);
                return None;
            }
        }
        Some(self.lost(registry))
    }

    /// The socket is writable while connecting: the connection is made, or refused.
    pub fn finish_connect(&mut self, registry: &Registry) -> Option<Vec<Outcome>> {
        let Conn::Connecting(stream) = &self.conn else {
            return None;
        };
        let connected = matches!(stream.take_error(), Ok(None)) && stream.peer_addr().is_ok();
        if !connected {
            return Some(self.lost(registry));
        }
        let _ = stream.set_nodelay(true);
        let down = Conn::Down {
            retry_at: Instant::now(),
        };
        if let Conn::Connecting(stream) = std::mem::replace(&mut self.conn, down) {
            self.conn = Conn::Up(stream);
        }
        self.inbuf.clear();
        self.last_progress = Instant::now();
        self.mirror.connected(&mut self.out);
        None
    }

    /// The connection is gone: what was in flight fails, every topic will sync again, the
    /// next attempt waits a backoff. The outcomes of the publishes that failed.
    pub fn lost(&mut self, registry: &Registry) -> Vec<Outcome> {
        log::debug!(target: "pushwire::redis", "lost the connection to Redis at {}", self.addr);
        self.close(registry);
        if std::mem::take(&mut self.ready) {
            self.losses += 1;
        }
        self.out.clear();
        self.inbuf.clear();
        // Capped exponential backoff with jitter: wait between half and all of it.
        let mut random = [0u8; 2];
        OsEntropy.fill(&mut random);
        let fraction = 0.5 + f64::from(u16::from_le_bytes(random)) / f64::from(u16::MAX) / 2.0;
        let wait = self.backoff.mul_f64(fraction);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        self.conn = Conn::Down {
            retry_at: Instant::now() + wait,
        };
        self.mirror.disconnected()
    }

    /// Closes the socket (for good: the thread stops, or the shard left the cluster).
    pub fn close(&mut self, registry: &Registry) {
        let down = Conn::Down {
            retry_at: Instant::now(),
        };
        if let Conn::Up(mut s) | Conn::Connecting(mut s) = std::mem::replace(&mut self.conn, down) {
            let _ = registry.deregister(&mut s);
        }
    }

    /// Reads what Redis sent and feeds the machine. `Err` when the connection is lost (with
    /// the outcomes so far and those of the publishes that failed).
    pub fn read(
        &mut self,
        attached: &Attached,
        registry: &Registry,
    ) -> Result<Vec<Outcome>, Vec<Outcome>> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            let Conn::Up(stream) = &mut self.conn else {
                return Ok(Vec::new());
            };
            match stream.read(&mut chunk) {
                Ok(0) => return Err(self.lost(registry)),
                Ok(n) => self.inbuf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(self.lost(registry)),
            }
        }
        let mut outcomes = Vec::new();
        if self.inbuf.is_empty() {
            return Ok(outcomes);
        }
        self.last_progress = Instant::now();
        let fed = {
            let mut hub = lock(&attached.hub);
            let (inbuf, out) = (&self.inbuf, &mut self.out);
            self.mirror
                .feed(inbuf, &mut hub, &attached.event, out, &mut outcomes)
        };
        if outcomes.contains(&Outcome::Ready) {
            log::debug!(target: "pushwire::redis", "connected to Redis at {}", self.addr);
            self.ready = true;
            self.backoff = MIN_BACKOFF;
        }
        match fed {
            Ok(consumed) => {
                self.inbuf.drain(..consumed);
                if self.inbuf.is_empty() {
                    self.inbuf.shrink_to(KEEP);
                }
                Ok(outcomes)
            }
            Err(_) => {
                outcomes.extend(self.lost(registry));
                Err(outcomes)
            }
        }
    }

    /// Writes what is queued for Redis. `Err` when the connection is lost.
    pub fn flush(&mut self, registry: &Registry) -> Result<(), Vec<Outcome>> {
        if self.out.len() > MAX_OUT {
            return Err(self.lost(registry));
        }
        let Conn::Up(stream) = &mut self.conn else {
            return Ok(());
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
                    return Err(self.lost(registry));
                }
            }
        }
        self.out.drain(..written);
        if self.out.is_empty() {
            self.out.shrink_to(KEEP);
        }
        Ok(())
    }

    /// Bytes held: queued for Redis, and read but not yet taken by the machine.
    pub fn buffered(&self) -> usize {
        self.out.capacity() + self.inbuf.capacity()
    }

    /// Publishes through this shard ([`Mirror::publish`]).
    pub fn publish(
        &mut self,
        ticket: u64,
        topic: &str,
        ts: u64,
        text: &str,
    ) -> Result<(), NotSent> {
        self.mirror.publish(ticket, topic, ts, text, &mut self.out)
    }

    /// Follows `topic` on this shard ([`Mirror::follow`]).
    pub fn follow(&mut self, topic: &str, hub: &Hub) {
        self.mirror.follow(topic, hub, &mut self.out);
    }

    /// Stops following `topic` here ([`Mirror::unfollow`]).
    pub fn unfollow(&mut self, topic: &str) {
        self.mirror.unfollow(topic, &mut self.out);
    }

    /// Asks this shard's node for the cluster's slot map.
    pub fn ask_slots(&mut self) {
        self.mirror.ask_slots(&mut self.out);
    }
}
