//! The broker thread: its connections to Redis ([`Shard`]s: one for one Redis, one per primary
//! of a cluster), driven by a `mio::Poll`; workers' requests routed to the shard of their
//! topic; answers and new events passed back to the workers.

use super::shard::Shard;
use super::{Ack, Link, Request, Update, lock};
use crate::hub::redis::cluster::SlotMap;
use crate::hub::redis::{NotSent, Outcome};
use crate::server::ConnId;
use mio::{Events, Poll, Token, Waker};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const WAKE: Token = Token(0);
/// Unfollowing waits for every worker's report after the follow.
const RECONCILE_EVERY: Duration = Duration::from_secs(1);

/// How the bridge tells the server's workers of an [`Update`].
pub(super) type Notify = Box<dyn Fn(Update) + Send>;

pub(super) struct Bridge {
    pub(super) link: Arc<Link>,
    notify: Notify,
    pub(super) poll: Poll,
    /// Shard `i` has the token `i + 1`; a shard that left the cluster leaves `None`.
    pub(super) shards: Vec<Option<Shard>>,
    /// The cluster's map and seeds (`None`: one Redis, shard 0).
    pub(super) cluster: Option<Cluster>,
    /// Which shard each followed topic is followed on.
    pub(super) routes: BTreeMap<Arc<str>, usize>,
    /// Topics to follow once their slot has a reachable owner.
    pub(super) pending: BTreeSet<Arc<str>>,
    tickets: BTreeMap<u64, (usize, ConnId)>,
    next_ticket: u64,
    last_reconcile: Instant,
    followed_at: BTreeMap<Arc<str>, Instant>,
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
        let cluster = (!link.url.seeds.is_empty()).then(|| Cluster::new(link.url.seeds.clone()));
        let mut bridge = Bridge {
            link,
            notify,
            poll,
            shards: Vec::new(),
            cluster,
            routes: BTreeMap::new(),
            pending: BTreeSet::new(),
            tickets: BTreeMap::new(),
            next_ticket: 1,
            last_reconcile: Instant::now(),
            followed_at: BTreeMap::new(),
        };
        if bridge.cluster.is_none() {
            bridge.add_shard(bridge.link.url.addr.clone());
        }
        Ok(bridge)
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
                let Some(i) = event.token().0.checked_sub(1) else {
                    continue;
                };
                let (readable, writable) = (
                    event.is_readable() || event.is_read_closed() || event.is_error(),
                    event.is_writable() || event.is_error(),
                );
                self.on_ready(i, readable, writable);
            }
            self.take_requests();
            self.timers();
            self.flush();
            self.show_state();
        }
        let registry = self.poll.registry();
        for shard in self.shards.iter_mut().flatten() {
            shard.close(registry);
        }
    }

    fn timeout(&self) -> Duration {
        let now = Instant::now();
        let mut next = now + RECONCILE_EVERY;
        for shard in self.shards.iter().flatten() {
            next = next.min(shard.next_timer());
        }
        if self.cluster.as_ref().is_some_and(Cluster::wants_map) {
            next = next.min(now + Duration::from_millis(50));
        }
        next.saturating_duration_since(now)
    }

    /// Shard `i`'s socket is ready.
    fn on_ready(&mut self, i: usize, readable: bool, writable: bool) {
        let registry = self.poll.registry();
        let Some(Some(shard)) = self.shards.get_mut(i) else {
            return;
        };
        if shard.is_connecting() && writable {
            if let Some(failed) = shard.finish_connect(registry) {
                return self.on_lost(i, failed);
            }
        }
        if !(shard.is_connected() && readable) {
            return;
        }
        let attached = self
            .link
            .hub
            .get()
            .expect("the bridge is built only with a hub attached");
        match shard.read(attached, registry) {
            Ok(outcomes) => self.dispatch(i, outcomes),
            Err(outcomes) => self.on_lost(i, outcomes),
        }
    }

    fn timers(&mut self) {
        for i in 0..self.shards.len() {
            let registry = self.poll.registry();
            let Some(Some(shard)) = self.shards.get_mut(i) else {
                continue;
            };
            if let Some(failed) = shard.timers(registry) {
                self.on_lost(i, failed);
            }
        }
        let now = Instant::now();
        if now.duration_since(self.last_reconcile) >= RECONCILE_EVERY {
            self.last_reconcile = now;
            self.reconcile();
        }
        self.ask_for_map();
    }

    fn flush(&mut self) {
        for i in 0..self.shards.len() {
            let registry = self.poll.registry();
            let Some(Some(shard)) = self.shards.get_mut(i) else {
                continue;
            };
            if let Err(failed) = shard.flush(registry) {
                self.on_lost(i, failed);
            }
        }
    }

    /// Shard `i`'s connection is gone: its publishes failed, its topics are not live until it
    /// is back (or, on a cluster, until the map names where their slots went).
    fn on_lost(&mut self, i: usize, outcomes: Vec<Outcome>) {
        {
            let mut synced = lock(&self.link.synced);
            for (topic, _) in self.routes.iter().filter(|(_, s)| **s == i) {
                synced.remove(topic);
            }
        }
        if let Some(cluster) = &mut self.cluster {
            cluster.stale = true;
        }
        self.dispatch(i, outcomes);
    }

    pub(super) fn dispatch(&mut self, i: usize, outcomes: Vec<Outcome>) {
        let mut acked = false;
        for outcome in outcomes {
            match outcome {
                Outcome::Ready => {
                    if let Some(cluster) = &mut self.cluster {
                        cluster.stale |= cluster.map.is_none();
                    }
                }
                Outcome::Refused(why) => {
                    let registry = self.poll.registry();
                    if let Some(Some(shard)) = self.shards.get_mut(i) {
                        log::warn!(target: "pushwire::redis", "Redis at {} refused the handshake: {why}", shard.addr);
                        let failed = shard.lost(registry);
                        self.on_lost(i, failed);
                    }
                    return;
                }
                Outcome::Published { ticket, seq } => acked |= self.ack(ticket, Ok(seq)),
                Outcome::NotPublished { ticket, reason } => acked |= self.ack(ticket, Err(reason)),
                Outcome::Synced(topic) => {
                    lock(&self.link.synced).insert(topic.clone());
                    (self.notify)(Update::Synced(topic));
                }
                Outcome::Events(topic) => (self.notify)(Update::Published(topic)),
                Outcome::Moved(topic) => self.moved(&topic),
                Outcome::Slots(map) => self.apply_map(map),
                Outcome::MapStale => {
                    if let Some(cluster) = &mut self.cluster {
                        cluster.stale = true;
                    }
                }
            }
        }
        if acked {
            (self.notify)(Update::Acked);
        }
    }

    /// `topic` is not served where it was followed: follow it where the next map says.
    fn moved(&mut self, topic: &Arc<str>) {
        self.routes.remove(topic);
        lock(&self.link.synced).remove(topic);
        self.pending.insert(topic.clone());
    }

    pub(super) fn ack(&mut self, ticket: u64, result: Result<u64, String>) -> bool {
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
                } => self.publish(worker, conn, &topic, ts, &text),
                Request::Follow(topic) => {
                    self.followed_at.insert(topic.clone(), Instant::now());
                    self.follow(topic);
                }
            }
        }
    }

    fn publish(&mut self, worker: usize, conn: ConnId, topic: &str, ts: u64, text: &str) {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.tickets.insert(ticket, (worker, conn));
        let sent = match self.shard_for(topic) {
            Some(i) => match self.shards.get_mut(i) {
                Some(Some(shard)) => shard.publish(ticket, topic, ts, text),
                _ => Err(NotSent::Down),
            },
            None => Err(NotSent::Down),
        };
        if let Err(e) = sent {
            let reason = match e {
                NotSent::Down => "the broker is not connected",
                NotSent::Busy => "too many publishes awaiting the broker",
            };
            if self.ack(ticket, Err(reason.into())) {
                (self.notify)(Update::Acked);
            }
        }
    }

    /// Follows `topic` on the shard of its slot, or once there is one.
    pub(super) fn follow(&mut self, topic: Arc<str>) {
        if self.routes.contains_key(&topic) {
            return;
        }
        let Some(i) = self.shard_for(&topic) else {
            self.pending.insert(topic);
            return;
        };
        self.pending.remove(&topic);
        let attached = self
            .link
            .hub
            .get()
            .expect("the bridge is built only with a hub attached");
        let hub = lock(&attached.hub);
        if let Some(Some(shard)) = self.shards.get_mut(i) {
            shard.follow(&topic, &hub);
        }
        drop(hub);
        self.routes.insert(topic, i);
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
            self.pending.remove(&topic);
            lock(&self.link.synced).remove(&topic);
            if let Some(i) = self.routes.remove(&topic) {
                if let Some(Some(shard)) = self.shards.get_mut(i) {
                    shard.unfollow(&topic);
                }
            }
        }
    }

    /// Adds a shard for `addr` (reusing a free place); its index.
    pub(super) fn add_shard(&mut self, addr: String) -> usize {
        let i = self
            .shards
            .iter()
            .position(Option::is_none)
            .unwrap_or(self.shards.len());
        let shard = Shard::new(addr, Token(i + 1), self.link.url.config.clone());
        if i == self.shards.len() {
            self.shards.push(Some(shard));
        } else {
            self.shards[i] = Some(shard);
        }
        i
    }

    /// What the workers read of the link: whether it is up, and the reconnections.
    fn show_state(&mut self) {
        let losses: u64 = self.shards.iter().flatten().map(|s| s.losses).sum();
        let buffered = self.shards.iter().flatten().map(Shard::buffered).sum();
        self.link.buffered.store(buffered, Ordering::Relaxed);
        let retired = self.cluster.as_ref().map_or(0, |c| c.retired_losses);
        self.link
            .reconnects
            .store(losses + retired, Ordering::Relaxed);
        let up = match &self.cluster {
            None => self.shards.iter().flatten().all(|s| s.ready),
            Some(_) => {
                let whole = self.cluster_view();
                if let Some(cluster) = self.cluster.as_mut().filter(|_| !whole) {
                    // A primary is unreachable: the map is asked again until it names one
                    // that answers (its replica, once promoted).
                    cluster.stale = true;
                }
                whole
            }
        };
        self.link.up.store(up, Ordering::SeqCst);
    }
}

/// How often the map may be asked for while it is stale.
pub(super) const ASK_EVERY: Duration = Duration::from_millis(200);

/// What the thread knows of the cluster.
#[derive(Debug)]
pub(super) struct Cluster {
    pub seeds: Vec<String>,
    /// The last map, once one came.
    pub map: Option<SlotMap>,
    /// The map must be asked for again.
    pub stale: bool,
    pub asked: Option<Instant>,
    pub next_seed: usize,
    /// Connections lost by shards that left the cluster (for the link's count).
    pub retired_losses: u64,
}

impl Cluster {
    pub fn new(seeds: Vec<String>) -> Cluster {
        Cluster {
            seeds,
            map: None,
            stale: true,
            asked: None,
            next_seed: 0,
            retired_losses: 0,
        }
    }

    pub fn wants_map(&self) -> bool {
        self.stale
    }
}
