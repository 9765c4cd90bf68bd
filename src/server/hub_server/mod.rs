//! The ready hub server: one topic model served by short polling, long-polling, Server-Sent
//! Events and WebSocket at once, written on the public [`App`](crate::reactor::App) API as any
//! user would write it.
//!
//! Endpoints (parameters are percent-decoded and checked, a bad one is `400` with a one-line
//! reason; `topic` may be given several times on the three that follow topics, up to
//! `Limits::max_topics_per_connection`, and defaults to `default`):
//!
//! | request | answer |
//! |---|---|
//! | `POST /publish?topic=T` | publishes the body (UTF-8, else `415`); `200` with the sequence number |
//! | `GET /events?topic=T…` | Server-Sent Events; resumes after `Last-Event-ID` (or `?lastEventId=`, or `?cursor=`) |
//! | `GET /poll?topic=T…&cursor=P` | long-poll: events after P as NDJSON, or `204` after the deadline |
//! | `GET /poll?...&wait=S` | waits at most S seconds; `wait=0` is the short poll, answered at once |
//! | `GET /ws?topic=T…[&cursor=P]` | WebSocket: every event as a text message; with the subprotocol `pushwire.v1`, JSON commands |
//! | `GET /cursor?topic=T` | the newest sequence number |
//! | `GET /echo` (upgrade) / `POST /echo` | WebSocket echo / body echo |
//! | `GET /plaintext` | `Hello, World!` |
//! | `GET /health`, `GET /ready` | liveness; readiness (`503` while draining or without a broker) |
//! | `GET /stats`, `GET /metrics` | counters as JSON; Prometheus metrics |
//! | `GET /wire`, `POST /drop-streams`, `GET /`, `GET /pushwire.js` | the demo page's wire view, its reconnect button, the page, the client |
//!
//! Without a cursor every technique starts from now (the next event published); `cursor=0` asks
//! for the history kept. A client's place in several topics is one *position*
//! ([`crate::hub::position`]): the decimal sequence number for one topic.
//!
//! Who may do what is the [`Policy`] given with [`HubServer::with_policy`] (open by default):
//! with tokens, every subscription and publish needs one naming each topic (`401`, `403`, close
//! `1008`); cross-origin browser requests pass only from listed origins; publish rates are
//! token buckets. `guard.rs` checks a request before `routes.rs` sees it.
//!
//! Every transport carries the same event text, one line of JSON:
//! `{"topic":T,"seq":N,"ts":<unix ns at publish>,"data":<body as a JSON string>}`. A reader that
//! fell out of history gets an explicit gap first: the SSE event `gap`, or the NDJSON line
//! `{"topic":T,"gap":{"from":A,"to":B}}` (or `{"topic":T,"gap":{"reset":N}}`), or that line as a
//! WebSocket text message.

use super::auth::Policy;
use crate::hub::Hub;
use crate::limits::Limits;
use crate::longpoll::{Parked, Parking};
use crate::reactor::{ConnId, Ctx};
use crate::sse;
use answers::{refusal, text_of};
use event::event_text;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

mod answers;
mod app;
mod broker;
mod client;
mod commands;
mod deliver;
mod event;
mod events;
mod follow;
mod guard;
mod idle;
mod operator;
mod owed;
mod poll;
mod process;
mod request;
mod routes;
mod stats;
mod wire;
mod ws;

pub use event::event_bytes;
pub use operator::Lifecycle;
pub use stats::{Counters, Stats};
pub use wire::{Technique, Wire, WireView};

/// The topic a request names, or this.
pub const DEFAULT_TOPIC: &str = "default";

/// What the hub server tells every worker.
#[derive(Debug)]
#[non_exhaustive]
pub enum Notice {
    /// Something was published to this topic.
    Published(Arc<str>),
    /// Close every event stream (`POST /drop-streams`): browsers reconnect with
    /// `Last-Event-ID`, which the demo page uses to show resuming.
    DropStreams,
    /// Over a broker: this node's cache of the topic is live (requests that waited for it
    /// are served).
    Synced(Arc<str>),
    /// Over a broker: answers to publishes are waiting for their workers.
    Acked,
}

#[cfg(feature = "redis")]
impl From<super::redis::Update> for Notice {
    fn from(update: super::redis::Update) -> Notice {
        use super::redis::Update;
        match update {
            Update::Published(topic) => Notice::Published(topic),
            Update::Synced(topic) => Notice::Synced(topic),
            Update::Acked => Notice::Acked,
        }
    }
}

/// The topic that carries wire samples for `GET /wire`.
pub const WIRE_TOPIC: &str = "_wire";

/// The hub server application.
pub struct HubServer {
    /// The topics: the only copy, or (over a broker) this node's cache.
    hub: Arc<Mutex<Hub>>,
    limits: Limits,
    stats: Stats,
    streams: AtomicUsize,
    page: &'static [u8],
    /// Open `GET /wire` streams: samples are taken only while someone watches.
    wire_watchers: AtomicUsize,
    /// When each technique was last sampled (ns since the Unix epoch), to keep the wire panel
    /// readable: at most one sample per technique every `WIRE_SAMPLE_NS`.
    wire_last: [AtomicU64; 4],
    /// What describes traffic for `GET /wire`, if anything.
    wire_view: Option<Box<dyn WireView>>,
    /// Who may do what.
    policy: Policy,
    /// Each token holder's publish bucket (with a publish rate).
    buckets: Mutex<BTreeMap<Arc<str>, super::auth::rate::Bucket>>,
    /// The broker every node shares, if any.
    #[cfg(feature = "redis")]
    broker: Option<Arc<super::redis::Link>>,
    /// Workers so far (each `Local` gets its index).
    workers: AtomicUsize,
    /// The figures `/metrics` adds to `stats`.
    metrics: super::metrics::Metrics,
    /// Whether a graceful shutdown has begun.
    lifecycle: Arc<Lifecycle>,
    /// When the current idle period ends (µs of the reactor's clock; 0 before the first
    /// tick): see `Limits::topic_idle_ttl`.
    idle_sweep: AtomicU64,
    /// The listener that serves `/metrics` and `/stats` to operators, if they have their own.
    admin_listener: Option<usize>,
    /// What parked polls hold, over all workers (each adds what its own hold changed by):
    /// counted against the memory budget with history.
    parked_bytes: AtomicUsize,
}

/// One worker's followers.
#[derive(Default)]
pub struct Local {
    /// Event streams, by topic, each with its cursor there.
    sse: crate::hub::Subscribers<ConnId>,
    /// Streams of `GET /wire`.
    wire: BTreeSet<ConnId>,
    /// Each topic's keep-alive clock (keep-alive comments go to a
    /// topic's streams together: one clock per topic, not per connection).
    sse_clocks: BTreeMap<Arc<str>, sse::EventStream>,
    /// WebSockets following topics, each with its cursor there.
    ws: crate::hub::Subscribers<ConnId>,
    /// WebSockets that speak the `pushwire.v1` subprotocol (JSON commands).
    commands: BTreeSet<ConnId>,
    echo: BTreeSet<ConnId>,
    parking: Option<Parking<ConnId>>,
    /// Parked polls whose request was not a keep-alive HTTP/1.1 GET, for counting the bytes
    /// of their answer.
    unusual: BTreeMap<ConnId, stats::Shape>,
    /// Parked polls from a listed cross-origin page: their answer carries CORS fields.
    cors: BTreeMap<ConnId, Arc<[u8]>>,
    /// Long-lived connections by the time their token expires.
    expiry: BTreeSet<(crate::Instant, ConnId)>,
    expires: BTreeMap<ConnId, crate::Instant>,
    /// What each WebSocket's token lets it do, and its publish bucket.
    ws_access: BTreeMap<ConnId, guard::WsAccess>,
    /// This worker's index (for the broker's answers).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    worker: usize,
    /// Requests waiting for their topic's cache to be live (over a broker).
    awaiting: BTreeMap<Arc<str>, Vec<(ConnId, follow::Awaiting)>>,
    /// HTTP publishes waiting for the broker's answer, since when they arrived.
    publishing: BTreeMap<ConnId, std::time::Instant>,
    /// WebSocket publishes (`pushwire.v1`) waiting for the broker's answer: their `ref`s, in
    /// the order sent.
    ws_refs: BTreeMap<ConnId, std::collections::VecDeque<(commands::Ref, Arc<str>)>>,
    /// When followers that asked "from now" of a topic not yet live arrived (ns).
    pending_since: BTreeMap<ConnId, u64>,
    /// What connections that ended followed, for the line logged when they end (only while
    /// that line is logged).
    ending: BTreeMap<ConnId, Arc<str>>,
    /// What this worker's parked polls held when it last added it to `parked_bytes`.
    parked_reported: usize,
}

impl HubServer {
    /// A hub server with `limits`, serving `page` at `GET /` (an empty page: no `/`).
    pub fn new(limits: Limits, page: &'static [u8]) -> Self {
        HubServer {
            hub: Arc::new(Mutex::new(Hub::new(&limits))),
            limits,
            stats: Stats::default(),
            streams: AtomicUsize::new(0),
            page,
            wire_watchers: AtomicUsize::new(0),
            wire_last: Default::default(),
            wire_view: None,
            policy: Policy::default(),
            buckets: Mutex::default(),
            #[cfg(feature = "redis")]
            broker: None,
            workers: AtomicUsize::new(0),
            metrics: super::metrics::Metrics::default(),
            lifecycle: Arc::default(),
            idle_sweep: AtomicU64::new(0),
            admin_listener: None,
            parked_bytes: AtomicUsize::new(0),
        }
    }

    /// Serves over `link`: several nodes share every topic through Redis (see
    /// [`super::redis`]). Start the link with the server's handle once it is built.
    #[cfg(feature = "redis")]
    pub fn with_redis(mut self, link: Arc<super::redis::Link>) -> Self {
        self.hub().share_numbering();
        link.attach_hub(self.hub.clone(), event_bytes);
        self.broker = Some(link);
        self
    }

    /// Serves under `policy`: tokens, allowed origins, publish rates (open by default).
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub(super) fn hub(&self) -> MutexGuard<'_, Hub> {
        crate::reactor::lock(&self.hub)
    }

    /// Publishes `body` (UTF-8 text, carried unchanged as the event's `data`) to `topic`;
    /// returns the sequence number.
    pub(super) fn publish(
        &self,
        topic: &str,
        body: &[u8],
        cx: &mut Ctx<'_, Notice>,
    ) -> Result<u64, crate::reactor::Response> {
        let text = text_of(body)?;
        let memory = cx.handle().memory();
        let seq = {
            let mut hub = self.hub();
            // History may hold what the budget leaves beside the write queues: past it, the
            // oldest events of all topics go first.
            hub.set_budget(memory.room_for_held());
            // The time is read under the hub's lock, so that publish times follow the
            // numbering across topics (readers of several topics are served in publish order).
            let seq = hub.publish(topic, |seq| {
                event_text(topic, seq, wire::unix_nanos(), text).into()
            });
            memory.set_held(hub.held_bytes());
            seq
        };
        match seq {
            Ok(seq) => {
                self.stats.published.fetch_add(1, Ordering::Relaxed);
                cx.handle().notify(Notice::Published(topic.into()));
                Ok(seq)
            }
            Err(crate::hub::UsageError::TooManyTopics) => Err(refusal(
                409,
                &format!("too many topics: the limit is {}", self.limits.max_topics),
            )),
            Err(crate::hub::UsageError::OverBudget) => Err(refusal(
                507,
                &format!(
                    "no memory left for the event: the server's budget is {} bytes, and write \
                     queues hold {} of it",
                    self.limits.memory_budget,
                    cx.handle().memory().usage().queues
                ),
            )),
            Err(crate::hub::UsageError::InvalidTopic) => Err(refusal(
                400,
                &format!(
                    "topic: longer than the limit of {} bytes",
                    self.limits.max_topic_name_bytes
                ),
            )),
            Err(_) => Err(refusal(
                413,
                &format!(
                    "the event is larger than a topic's history of {} bytes",
                    self.limits.history_bytes
                ),
            )),
        }
    }

    /// Keeps history within what the memory budget leaves beside what is in flight, the
    /// broker link's buffers (events a broker brought count too) and parked polls, and reports
    /// what it holds.
    pub(super) fn fit_memory(&self, cx: &Ctx<'_, Notice>) {
        let memory = cx.handle().memory();
        let others = self.broker_buffered() + self.parked_bytes.load(Ordering::Relaxed);
        let mut hub = self.hub();
        hub.set_budget(memory.room_for_held().saturating_sub(others));
        memory.set_held(hub.held_bytes() + others);
    }

    /// Adds what this worker's parked polls hold now, less what it added before, to the
    /// server's count: after every change of the worker's parking.
    pub(super) fn report_parked(&self, local: &mut Local) {
        let now = local.parking.as_ref().map_or(0, Parking::held_bytes);
        let before = std::mem::replace(&mut local.parked_reported, now);
        if now > before {
            self.parked_bytes.fetch_add(now - before, Ordering::Relaxed);
        } else if now < before {
            self.parked_bytes.fetch_sub(before - now, Ordering::Relaxed);
        }
    }

    /// What parked polls hold, over all workers.
    pub(super) fn parked_bytes(&self) -> usize {
        self.parked_bytes.load(Ordering::Relaxed)
    }

    pub(super) fn parking<'a>(&self, local: &'a mut Local) -> &'a mut Parking<ConnId> {
        local
            .parking
            .get_or_insert_with(|| Parking::new(&self.limits))
    }

    /// Unparks `conn` (what it waited with, if it was parked); its memory is given back.
    pub(super) fn unpark(&self, local: &mut Local, conn: ConnId) -> Option<Parked> {
        let parked = self.parking(local).unpark(conn);
        self.report_parked(local);
        parked
    }

    /// The parked polls whose deadline is `now` or before, unparked.
    pub(super) fn expire_parked(
        &self,
        local: &mut Local,
        now: crate::Instant,
    ) -> Vec<(ConnId, Parked)> {
        let expired = self.parking(local).expire(now);
        self.report_parked(local);
        expired
    }

    /// Forgets everything this worker kept about `conn`: it ended, or the server ended what
    /// it held (an event stream it closed, a socket it cut off).
    pub(super) fn forget(&self, local: &mut Local, conn: ConnId) {
        self.remember_topics(local, conn);
        Self::forget_access(local, conn);
        Self::forget_waiting(local, conn);
        let wire = local.wire.remove(&conn);
        if wire {
            self.wire_watchers.fetch_sub(1, Ordering::Relaxed);
        }
        if local.sse.unsubscribe(conn) {
            self.streams.fetch_sub(1, Ordering::Relaxed);
            if !wire {
                Counters::sub_connection(&self.stats.sse);
            }
        }
        if local.ws.unsubscribe(conn) {
            Counters::sub_connection(&self.stats.websocket);
        }
        local.commands.remove(&conn);
        local.echo.remove(&conn);
        local.unusual.remove(&conn);
        if self.unpark(local, conn).is_some() {
            Counters::sub_connection(&self.stats.long_poll);
        }
    }
}

/// The default tick for [`HubServer`]: a third of the keep-alive interval.
pub fn tick_interval(limits: &Limits) -> Duration {
    (limits.sse_keepalive / 3).max(Duration::from_millis(100))
}
