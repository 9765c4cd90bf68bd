//! Several nodes over Redis: the link between a node's workers and its broker connection.
//!
//! One thread per node (`bridge.rs`) owns the connection to Redis, driven by its own
//! `mio::Poll` like the reactor's workers, and runs the sans-IO [`Mirror`] machine over it; it
//! keeps the node's [`Hub`] a live cache of the topics the node's clients follow. Workers talk
//! to it through the [`Link`]: publishes and follows go in a queue (and wake the thread);
//! answers come back as [`Update`]s, which the server that started the link receives as its
//! own notices: `Published(topic)` for new events in the hub, `Synced(topic)` when a followed
//! topic's cache is live, `Acked` when publishes were answered.
//!
//! Against a Redis Cluster (`redis+cluster://`), the thread keeps one connection per primary,
//! each with its own `Mirror` over the topics whose slot that primary serves (`routing.rs`):
//! the slot map is read with `CLUSTER SLOTS` and read again whenever a command is redirected
//! (`MOVED`, `ASK`), a connection is lost or a primary does not answer; a topic whose slot
//! moved is followed again where the map now says, and reads what it missed from its stream.
//! A publish whose slot's primary is unreachable is refused at once (`503`); other slots go on.
//!
//! Why a thread of its own rather than a socket in every worker: one connection per node
//! means one subscription per topic per node (Redis sends each event to a node once) and one
//! cache that every worker reads; the workers' loops never wait on Redis.
//!
//! [`Mirror`]: crate::hub::redis::Mirror

mod bridge;
mod routing;
mod shard;
mod url;

pub use url::{BadUrl, RedisUrl};

use super::ConnId;
use crate::hub::Hub;
use crate::hub::redis::cluster::SlotMap;
use crate::hub::redis::topic_slot;
use crate::reactor::Handle;
pub(crate) use crate::reactor::lock;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// What the link tells the workers of the server it serves (through
/// [`Handle::notify`], as the server's own notice type: see [`Link::start`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// New events of this topic are in the hub.
    Published(Arc<str>),
    /// This node's cache of the topic is live: requests that waited for it can be served.
    Synced(Arc<str>),
    /// Answers to publishes are waiting for their workers.
    Acked,
}

/// How the hub stores an event it did not publish itself: the bytes for (topic, number,
/// publish time in ns, text).
pub type EventBytes = fn(&str, u64, u64, &str) -> Arc<[u8]>;

/// The hub a link keeps live, and how its events are stored.
#[derive(Debug)]
pub(crate) struct Attached {
    pub hub: Arc<Mutex<Hub>>,
    pub event: EventBytes,
}

/// A publish answered by Redis (or not).
#[derive(Debug, Clone)]
pub(crate) struct Ack {
    pub conn: ConnId,
    /// The sequence number, or why there is none.
    pub result: Result<u64, String>,
}

#[derive(Debug)]
pub(crate) enum Request {
    Publish {
        worker: usize,
        conn: ConnId,
        topic: Arc<str>,
        ts: u64,
        text: String,
    },
    Follow(Arc<str>),
}

/// What one worker follows, as it last said.
#[derive(Debug, Default)]
struct Report {
    at: Option<Instant>,
    topics: BTreeSet<Arc<str>>,
}

/// The node's side of the broker connection (see the [module docs](self)).
#[derive(Debug)]
pub struct Link {
    url: RedisUrl,
    hub: OnceLock<Attached>,
    requests: Mutex<Vec<Request>>,
    waker: OnceLock<mio::Waker>,
    acks: Mutex<BTreeMap<usize, Vec<Ack>>>,
    synced: Mutex<BTreeSet<Arc<str>>>,
    reports: Mutex<BTreeMap<usize, Report>>,
    /// On a cluster: the slot map and the primaries that are up.
    cluster: Mutex<Option<(SlotMap, BTreeSet<String>)>>,
    up: AtomicBool,
    /// Bytes the connections hold: queued for Redis and read but not yet taken.
    buffered: AtomicUsize,
    stop: AtomicBool,
    reconnects: AtomicU64,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Link {
    /// A link to the Redis at `url`; streams keep `history_events` entries per topic.
    pub fn new(mut url: RedisUrl, history_events: usize) -> Arc<Link> {
        url.config.history_events = history_events.max(1);
        Arc::new(Link {
            url,
            hub: OnceLock::new(),
            requests: Mutex::default(),
            waker: OnceLock::new(),
            acks: Mutex::default(),
            synced: Mutex::default(),
            reports: Mutex::default(),
            cluster: Mutex::default(),
            up: AtomicBool::new(false),
            buffered: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            reconnects: AtomicU64::new(0),
            thread: Mutex::new(None),
        })
    }

    /// Starts the broker thread, which connects (and reconnects) and notifies the workers
    /// through `handle`, each [`Update`] as the server's notice. Call once, after the server
    /// is built.
    ///
    /// # Errors
    /// The thread or its poll could not be created, or the link has no hub server yet.
    pub fn start<N>(self: &Arc<Self>, handle: Handle<N>) -> std::io::Result<()>
    where
        N: From<Update> + Send + Sync + 'static,
    {
        let notify = Box::new(move |update: Update| handle.notify(N::from(update)));
        let bridge = bridge::Bridge::new(self.clone(), notify)?;
        let thread = std::thread::Builder::new()
            .name("pushwire-redis".into())
            .spawn(move || bridge.run())?;
        *lock(&self.thread) = Some(thread);
        Ok(())
    }

    /// Stops the broker thread and waits for it.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake();
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
    }

    /// Whether the connection to Redis is up and past its handshake (on a cluster: every
    /// slot has a primary, and every primary's connection is up).
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Bytes the connections to Redis hold (queued for it, read and not yet taken): counted
    /// against the server's memory budget.
    pub fn buffered(&self) -> usize {
        self.buffered.load(Ordering::Relaxed)
    }

    /// Connections to Redis lost so far.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    /// Where Redis is.
    pub fn addr(&self) -> &str {
        &self.url.addr
    }

    /// The hub this link keeps live, and how it stores the events it learns from Redis.
    pub(crate) fn attach_hub(&self, hub: Arc<Mutex<Hub>>, event: EventBytes) {
        let _ = self.hub.set(Attached { hub, event });
    }

    /// Whether `topic`'s cache is live on this node.
    pub(crate) fn is_synced(&self, topic: &str) -> bool {
        lock(&self.synced).contains(topic)
    }

    /// Whether a publish to `topic` can be sent now: Redis is up (on a cluster: the primary of
    /// the topic's slot).
    fn can_publish(&self, topic: &str) -> bool {
        if self.url.seeds.is_empty() {
            return self.is_up();
        }
        let slot = topic_slot(&self.url.config.prefix, topic);
        lock(&self.cluster)
            .as_ref()
            .is_some_and(|(map, up)| map.owner(slot).is_some_and(|p| up.contains(p)))
    }

    /// Queues a publish; `false` when Redis is down (answer `503` at once).
    pub(crate) fn publish(
        &self,
        worker: usize,
        conn: ConnId,
        topic: &str,
        ts: u64,
        text: &str,
    ) -> bool {
        if !self.can_publish(topic) {
            return false;
        }
        self.request(Request::Publish {
            worker,
            conn,
            topic: topic.into(),
            ts,
            text: text.into(),
        });
        true
    }

    /// Asks for `topic` to be followed (nothing if it is).
    pub(crate) fn follow(&self, topic: &str) {
        self.request(Request::Follow(topic.into()));
    }

    /// What `worker` follows now (topics nobody follows are unfollowed).
    pub(crate) fn report(&self, worker: usize, topics: BTreeSet<Arc<str>>) {
        lock(&self.reports).insert(
            worker,
            Report {
                at: Some(Instant::now()),
                topics,
            },
        );
    }

    /// The answers for `worker`'s publishes.
    pub(crate) fn take_acks(&self, worker: usize) -> Vec<Ack> {
        lock(&self.acks).remove(&worker).unwrap_or_default()
    }

    fn request(&self, request: Request) {
        let mut queue = lock(&self.requests);
        let was_empty = queue.is_empty();
        queue.push(request);
        drop(queue);
        if was_empty {
            self.wake();
        }
    }

    fn wake(&self) {
        if let Some(waker) = self.waker.get() {
            let _ = waker.wake();
        }
    }
}
