//! The ready hub server: one topic model served by short polling, long-polling, Server-Sent
//! Events and WebSocket at once, written on the public [`App`] API as any user would write it.
//!
//! Endpoints (`topic` defaults to `default` everywhere; parameters are percent-decoded and
//! checked, a bad one is `400` with a one-line reason):
//!
//! | request | answer |
//! |---|---|
//! | `POST /publish?topic=T` | publishes the body (UTF-8, else `415`); `200` with the sequence number |
//! | `GET /events?topic=T` | Server-Sent Events; resumes after `Last-Event-ID` (or `?lastEventId=`) |
//! | `GET /poll?topic=T&cursor=N` | long-poll: events after N as NDJSON, or `204` after the deadline |
//! | `GET /poll?...&wait=S` | waits at most S seconds; `wait=0` is the short poll, answered at once |
//! | `GET /ws?topic=T[&cursor=N]` | WebSocket: every event as a text message; text sent is published |
//! | `GET /cursor?topic=T` | the newest sequence number |
//! | `GET /echo` (upgrade) / `POST /echo` | WebSocket echo / body echo |
//! | `GET /plaintext` | `Hello, World!` |
//! | `GET /stats` | counters per technique, JSON |
//! | `GET /wire`, `POST /drop-streams`, `GET /` | the demo page's wire view, its reconnect button, the page |
//!
//! Without a cursor every technique starts from now (the next event published); `cursor=0` asks
//! for the history kept. Known paths answer other methods with `405` and `Allow`, `OPTIONS` with
//! `Allow`; `/ws` and `/echo` without an upgrade with `426`.
//!
//! Who may do what is the [`Policy`] given with [`HubServer::with_policy`] (open by default):
//! with tokens, every subscription and publish needs one naming the topic (`401`, `403`, close
//! `1008`); cross-origin browser requests pass only from listed origins; publish rates are
//! token buckets. `guard.rs` checks a request before `routes.rs` sees it.
//!
//! Every transport carries the same event text, one line of JSON:
//! `{"seq":N,"ts":<unix ns at publish>,"data":<body as a JSON string>}`. A reader that fell out
//! of history gets an explicit gap first: the SSE event `gap`, or the NDJSON line
//! `{"gap":{"from":A,"to":B}}` (or `{"gap":{"reset":N}}`), or that line as a WebSocket text
//! message.

use super::auth::Policy;
use super::query::{self, BadParam};
use super::{App, ConnId, Ctx, Message, Reply, Response, json};
use crate::http::Request;
use crate::hub::{Gap, Hub, Subscribers};
use crate::limits::Limits;
use crate::longpoll::Parking;
use crate::sse;
use crate::ws::CloseCode;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod answers;
mod app;
mod broker;
mod event;
mod events;
mod guard;
mod operator;
mod owed;
mod poll;
mod process;
mod routes;
mod stats;
mod wire;
mod ws;

use answers::*;
use event::*;
use stats::*;

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
    /// The listener that serves `/metrics` and `/stats` to operators, if they have their own.
    admin_listener: Option<usize>,
}

/// One worker's followers.
#[derive(Default)]
pub struct Local {
    sse: Subscribers<ConnId>,
    /// Streams of `GET /wire`.
    wire: BTreeSet<ConnId>,
    /// Each topic's keep-alive clock (keep-alive comments go to a
    /// topic's streams together: one clock per topic, not per connection).
    sse_clocks: BTreeMap<Arc<str>, sse::EventStream>,
    ws: Subscribers<ConnId>,
    echo: BTreeSet<ConnId>,
    parking: Option<Parking<ConnId>>,
    /// Parked polls whose request was not a keep-alive HTTP/1.1 GET, for counting the bytes
    /// of their answer.
    unusual: BTreeMap<ConnId, Shape>,
    /// Parked polls from a listed cross-origin page: their answer carries CORS fields.
    cors: BTreeMap<ConnId, Arc<[u8]>>,
    /// Long-lived connections by the time their token expires.
    expiry: BTreeSet<(crate::Instant, ConnId)>,
    expires: BTreeMap<ConnId, crate::Instant>,
    /// What each WebSocket's token lets it publish, and its publish bucket.
    ws_access: BTreeMap<ConnId, guard::WsAccess>,
    /// This worker's index (for the broker's answers).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    worker: usize,
    /// Requests waiting for their topic's cache to be live (over a broker).
    awaiting: BTreeMap<Arc<str>, Vec<(ConnId, broker::Awaiting)>>,
    /// HTTP publishes waiting for the broker's answer.
    publishing: BTreeSet<ConnId>,
    /// When followers that asked "from now" of a topic not yet live arrived (ns).
    pending_since: BTreeMap<ConnId, u64>,
    /// What connections that ended followed, for the line logged when they end (only while
    /// that line is logged).
    ending: BTreeMap<ConnId, Arc<str>>,
}

impl HubServer {
    /// A hub server with `limits`, serving `page` at `GET /`.
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
            admin_listener: None,
        }
    }

    /// Serves over `link`: several nodes share every topic through Redis (see
    /// [`super::redis`]). Start the link with the server's handle once it is built.
    #[cfg(feature = "redis")]
    pub fn with_redis(mut self, link: Arc<super::redis::Link>) -> Self {
        self.hub().share_numbering();
        link.attach_hub(self.hub.clone());
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

    /// Publishes `body` to `topic`; returns the sequence number.
    /// Publishes `body` (UTF-8 text, carried unchanged as the event's `data`) to `topic`.
    pub(super) fn publish(
        &self,
        topic: &str,
        body: &[u8],
        cx: &mut Ctx<'_, Notice>,
    ) -> Result<u64, Response> {
        let text = text_of(body)?;
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let seq = self
            .hub()
            .publish(topic, |seq| event_text(seq, ts, text).into());
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
            Err(crate::hub::UsageError::InvalidTopic) => Err(refusal(
                400,
                &BadParam::TooLong {
                    name: "topic",
                    limit: self.limits.max_topic_name_bytes,
                }
                .to_string(),
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

    /// The topic a request names (`topic`, percent-decoded), or [`DEFAULT_TOPIC`] when it names
    /// none.
    pub(super) fn topic<'a>(&self, req: &Request<'a>) -> Result<Cow<'a, str>, Response> {
        let topic = query::param(req, "topic").map_err(bad_request)?;
        let topic = topic
            .filter(|t| !t.is_empty())
            .unwrap_or(Cow::Borrowed(DEFAULT_TOPIC));
        if topic.len() > self.limits.max_topic_name_bytes {
            return Err(bad_request(BadParam::TooLong {
                name: "topic",
                limit: self.limits.max_topic_name_bytes,
            }));
        }
        Ok(topic)
    }

    pub(super) fn parking<'a>(&self, local: &'a mut Local) -> &'a mut Parking<ConnId> {
        local
            .parking
            .get_or_insert_with(|| Parking::new(&self.limits))
    }

    /// A publish on `topic`: deliver to this worker's followers.
    pub(super) fn deliver(&self, local: &mut Local, topic: &str, cx: &mut Ctx<'_, Notice>) {
        if !self.live(topic) {
            // Over a broker, a topic being synced is delivered once it is live.
            return;
        }
        let sse: Vec<(ConnId, u64)> = local
            .sse
            .of_topic(topic)
            .filter(|&(_, c)| c != broker::PENDING)
            .collect();
        let ws: Vec<(ConnId, u64)> = local
            .ws
            .of_topic(topic)
            .filter(|&(_, c)| c != broker::PENDING)
            .collect();
        // One lock per publish: what every distinct cursor of this worker is owed, and which
        // parked polls wake. Encoding happens after the lock, once per cursor and transport.
        let (owed, woken) = {
            let hub = self.hub();
            let woken = self.parking(local).wake(topic, hub.last_seq(topic));
            let mut owed: BTreeMap<u64, Vec<owed::Chunk>> = BTreeMap::new();
            for &(_, cursor) in sse.iter().chain(&ws).chain(&woken) {
                owed.entry(cursor).or_insert_with(|| {
                    let max = self.limits.max_events_per_response;
                    owed::read(&hub, topic, cursor, max, usize::MAX)
                });
            }
            (owed, woken)
        };
        self.deliver_sse(local, topic, &sse, &owed, cx);
        self.deliver_ws(local, topic, &ws, &owed, cx);
        self.deliver_polls(local, topic, &woken, &owed, cx);
        self.observe_delivery(&owed, sse.len() + ws.len() + woken.len());
    }

    /// Publish-to-delivery latency for `followers` deliveries of what `owed` holds, measured
    /// once (from the newest event's publish time) rather than per follower.
    fn observe_delivery(&self, owed: &BTreeMap<u64, Vec<owed::Chunk>>, followers: usize) {
        let newest = owed
            .values()
            .filter_map(|chunks| chunks.last()?.events.last())
            .map(|(seq, data)| (*seq, data))
            .max_by_key(|(seq, _)| *seq);
        let Some(ts) = newest.and_then(|(_, data)| event_ts(data)) else {
            return;
        };
        let micros = wire::unix_nanos().saturating_sub(ts) / 1000;
        self.metrics.delivery.observe(micros, followers as u64);
    }
}

/// The default tick for [`HubServer`]: a third of the keep-alive interval.
pub fn tick_interval(limits: &Limits) -> Duration {
    (limits.sse_keepalive / 3).max(Duration::from_millis(100))
}
