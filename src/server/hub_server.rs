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
//! Every transport carries the same event text, one line of JSON:
//! `{"seq":N,"ts":<unix ns at publish>,"data":<body as a JSON string>}`. A reader that fell out
//! of history gets an explicit gap first: the SSE event `gap`, or the NDJSON line
//! `{"gap":{"from":A,"to":B}}` (or `{"gap":{"reset":N}}`), or that line as a WebSocket text
//! message.

use super::query::{self, BadParam};
use super::{App, ConnId, Ctx, Message, Reply, Response, json};
use crate::http::Request;
use crate::hub::{Gap, Hub, Since, Subscribers};
use crate::limits::Limits;
use crate::longpoll::Parking;
use crate::sse;
use crate::time::Instant;
use crate::ws::CloseCode;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
}

/// The topic that carries wire samples for `GET /wire`.
pub const WIRE_TOPIC: &str = "_wire";

/// Counters of one push technique.
#[derive(Debug, Default)]
pub struct Counters {
    /// Open connections (streams, sockets, parked requests).
    pub connections: AtomicU64,
    /// Requests served.
    pub requests: AtomicU64,
    /// Requests answered with no event.
    pub empty: AtomicU64,
    /// Events delivered.
    pub events: AtomicU64,
    /// Body and payload bytes received.
    pub bytes_in: AtomicU64,
    /// Bytes sent on the wire: response heads, HTTP chunk and WebSocket frame framing, and
    /// payloads.
    pub bytes_out: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn json(&self, out: &mut String) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let _ = write!(
            out,
            "{{\"connections\":{},\"requests\":{},\"empty\":{},\"events\":{},\"bytes_in\":{},\"bytes_out\":{}}}",
            get(&self.connections),
            get(&self.requests),
            get(&self.empty),
            get(&self.events),
            get(&self.bytes_in),
            get(&self.bytes_out)
        );
    }
}

/// Counters for every technique.
#[derive(Debug, Default)]
pub struct Stats {
    /// `GET /poll?wait=0`.
    pub short_poll: Counters,
    /// `GET /poll`.
    pub long_poll: Counters,
    /// `GET /events`.
    pub sse: Counters,
    /// `GET /ws`.
    pub websocket: Counters,
    /// `POST /publish` and WebSocket publishes.
    pub published: AtomicU64,
}

/// The hub server application.
pub struct HubServer {
    hub: Mutex<Hub>,
    limits: Limits,
    stats: Stats,
    streams: AtomicUsize,
    page: &'static [u8],
    /// Open `GET /wire` streams: samples are taken only while someone watches.
    wire_watchers: AtomicUsize,
    /// When each technique was last sampled (ns since the Unix epoch), to keep the wire panel
    /// readable: at most one sample per technique every `WIRE_SAMPLE_NS`.
    wire_last: [AtomicU64; 4],
}

/// The least time between two wire samples of one technique.
const WIRE_SAMPLE_NS: u64 = 300_000_000;

/// The techniques, as the wire panel names them.
#[derive(Clone, Copy, Debug)]
enum Technique {
    ShortPoll,
    LongPoll,
    Sse,
    WebSocket,
}

impl Technique {
    fn name(self) -> &'static str {
        match self {
            Technique::ShortPoll => "short-poll",
            Technique::LongPoll => "long-poll",
            Technique::Sse => "sse",
            Technique::WebSocket => "websocket",
        }
    }
}

/// One worker's followers.
#[derive(Default)]
pub struct Local {
    sse: Subscribers<ConnId>,
    /// Streams of `GET /wire`.
    wire: BTreeSet<ConnId>,
    /// When each topic's event streams last got something (keep-alive comments go to a
    /// topic's streams together: one clock per topic, not per connection).
    sse_last: BTreeMap<Arc<str>, Instant>,
    ws: Subscribers<ConnId>,
    echo: BTreeSet<ConnId>,
    parking: Option<Parking<ConnId>>,
    /// Parked polls whose request was not a keep-alive HTTP/1.1 GET, for counting the bytes
    /// of their answer.
    unusual: BTreeMap<ConnId, Shape>,
}

impl HubServer {
    /// A hub server with `limits`, serving `page` at `GET /`.
    pub fn new(limits: Limits, page: &'static [u8]) -> Self {
        HubServer {
            hub: Mutex::new(Hub::new(&limits)),
            limits,
            stats: Stats::default(),
            streams: AtomicUsize::new(0),
            page,
            wire_watchers: AtomicUsize::new(0),
            wire_last: Default::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    fn hub(&self) -> MutexGuard<'_, Hub> {
        self.hub.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes `body` to `topic`; returns the sequence number.
    /// Publishes `body` (UTF-8 text, carried unchanged as the event's `data`) to `topic`.
    fn publish(&self, topic: &str, body: &[u8], cx: &mut Ctx<'_, Notice>) -> Result<u64, Response> {
        let text = std::str::from_utf8(body).map_err(|e| {
            // RFC 9110 §15.5.16: the content is in a form this resource does not take.
            refusal(
                415,
                &format!(
                    "the body must be UTF-8 text: invalid byte at offset {}",
                    e.valid_up_to()
                ),
            )
        })?;
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
    fn topic<'a>(&self, req: &Request<'a>) -> Result<Cow<'a, str>, Response> {
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

    /// Publishes a sample of raw protocol text to the wire topic, if anyone watches and the
    /// technique was not sampled just now.
    fn wire(&self, technique: Technique, cx: &mut Ctx<'_, Notice>, text: impl FnOnce() -> String) {
        if self.wire_watchers.load(Ordering::Relaxed) == 0 {
            return;
        }
        let now = unix_nanos();
        let last = &self.wire_last[technique as usize];
        let prev = last.load(Ordering::Relaxed);
        if now < prev + WIRE_SAMPLE_NS
            || last
                .compare_exchange(prev, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let mut event = Vec::from(&b"{\"technique\":\""[..]);
        event.extend_from_slice(technique.name().as_bytes());
        event.extend_from_slice(b"\",\"text\":");
        json::push_string(&text(), &mut event);
        event.push(b'}');
        let _ = self.hub().publish(WIRE_TOPIC, |_| event.into());
        cx.handle().notify(Notice::Published(WIRE_TOPIC.into()));
    }

    fn parking<'a>(&self, local: &'a mut Local) -> &'a mut Parking<ConnId> {
        local
            .parking
            .get_or_insert_with(|| Parking::new(&self.limits))
    }

    /// `GET /poll`: answer now if anything is new (or when `wait=0`), else park for `wait`
    /// seconds (at most `Limits::longpoll_timeout`, which is also the default).
    fn poll(&self, local: &mut Local, req: &Request<'_>, cx: &mut Ctx<'_, Notice>) -> Reply {
        let params = self.topic(req).and_then(|topic| {
            let cursor = cursor_param(req, "cursor").map_err(bad_request)?;
            let wait = query::param(req, "wait")
                .and_then(|w| w.map(|w| query::decimal("wait", &w)).transpose())
                .map_err(bad_request)?;
            Ok((topic, cursor, wait))
        });
        let (topic, cursor, wait) = match params {
            Ok(params) => params,
            Err(response) => return response.into(),
        };
        let topic = &*topic;
        let short = wait == Some(0);
        let timeout = wait.map_or(self.limits.longpoll_timeout, |secs| {
            Duration::from_secs(secs).min(self.limits.longpoll_timeout)
        });
        let counters = if short {
            &self.stats.short_poll
        } else {
            &self.stats.long_poll
        };
        Counters::add(&counters.requests, 1);
        // No cursor: from now on (see the README's "One rule for a missing cursor").
        let cursor = cursor.unwrap_or_else(|| self.hub().last_seq(topic));
        let technique = if short {
            Technique::ShortPoll
        } else {
            Technique::LongPoll
        };
        let shape = Shape::of(req);
        if let Some(response) = self.poll_response(topic, cursor, counters) {
            let bytes = response_bytes(shape, 200, &response.headers, Some(&response.body));
            Counters::add(&counters.bytes_out, bytes);
            self.wire(technique, cx, || {
                request_text(req) + &head_text(&response) + &preview(&response.body)
            });
            return response.into();
        }
        if short {
            Counters::add(&counters.empty, 1);
            let response = Response::new(204).header("X-Cursor", cursor.to_string());
            let bytes = response_bytes(shape, 204, &response.headers, Some(&[]));
            Counters::add(&counters.bytes_out, bytes);
            self.wire(technique, cx, || request_text(req) + &head_text(&response));
            return response.into();
        }
        let Some(conn) = cx.conn() else {
            return Response::new(500).into();
        };
        match self
            .parking(local)
            .park(conn, topic, cursor, cx.now() + timeout)
        {
            Ok(()) => {
                Counters::add(&counters.connections, 1);
                if shape != Shape::USUAL {
                    local.unusual.insert(conn, shape);
                }
                Reply::Defer {
                    timeout: Some(timeout),
                }
            }
            Err(_) => Response::new(503).header("Retry-After", "1").into(),
        }
    }

    /// The NDJSON answer for a poll from `cursor`, if there is anything to say.
    fn poll_response(&self, topic: &str, cursor: u64, counters: &Counters) -> Option<Response> {
        let hub = self.hub();
        let since = hub.since(topic, cursor, self.limits.max_events_per_response);
        if since.gap.is_none() && since.events.len() == 0 {
            return None;
        }
        let mut body = Vec::new();
        if let Some(gap) = since.gap {
            body.extend_from_slice(gap_json(gap).as_bytes());
            body.push(b'\n');
        }
        let count = since.events.len() as u64;
        for e in since.events.clone() {
            body.extend_from_slice(&e.data);
            body.push(b'\n');
        }
        let next = since.next;
        drop(hub);
        Counters::add(&counters.events, count);
        Some(
            Response::new(200)
                .header("Content-Type", "application/x-ndjson")
                .header("Cache-Control", "no-store")
                .header("X-Cursor", next.to_string())
                .body(body),
        )
    }

    /// `GET /events`: an event stream, replaying history after `Last-Event-ID`.
    fn events(&self, local: &mut Local, req: &Request<'_>, cx: &mut Ctx<'_, Notice>) -> Reply {
        match self.topic(req) {
            Ok(topic) => self.events_on(local, req, &topic, Some(&self.stats.sse), cx),
            Err(response) => response.into(),
        }
    }

    /// An event stream of `topic`, counted in `counters` (`None`: the demo page's own streams,
    /// which are not what clients did).
    fn events_on(
        &self,
        local: &mut Local,
        req: &Request<'_>,
        topic: &str,
        counters: Option<&Counters>,
        cx: &mut Ctx<'_, Notice>,
    ) -> Reply {
        // `Last-Event-ID` (what EventSource sends when it reconnects) wins over the
        // `lastEventId` parameter (what a page puts in the first URL, and which stays in it).
        let resume = match req.header("last-event-id") {
            Some(value) => std::str::from_utf8(value)
                .map_err(|_| BadParam::NotUtf8("Last-Event-ID"))
                .and_then(|v| query::decimal("Last-Event-ID", v))
                .map(Some),
            None => cursor_param(req, "lastEventId"),
        };
        let resume = match resume {
            Ok(resume) => resume,
            Err(e) => return bad_request(e).into(),
        };
        let none = Counters::default();
        let counters = counters.unwrap_or(&none);
        Counters::add(&counters.requests, 1);
        let Some(conn) = cx.conn() else {
            return Response::new(500).into();
        };
        let headers: Vec<(Cow<'static, str>, Cow<'static, [u8]>)> = sse::RESPONSE_HEADERS
            .iter()
            .map(|(n, v)| (Cow::Borrowed(*n), Cow::Borrowed(*v)))
            .collect();
        if self.streams.load(Ordering::Relaxed) >= self.limits.max_streams {
            // Load shedding: a retry hint and close (503 would end EventSource for good).
            let mut body = Vec::new();
            sse::shed(5000, &mut body);
            let bytes = response_bytes(Shape::of(req), 200, &headers, Some(&body));
            Counters::add(&counters.bytes_out, bytes);
            let mut response = Response::new(200).body(body);
            response.headers = headers;
            return response.into();
        }
        let mut first = Vec::new();
        sse::encode_comment("ok", &mut first);
        // Reconnect after 1 s rather than the browser's default 3 s.
        first.extend_from_slice(b"retry: 1000\n\n");
        let cursor = match resume {
            Some(cursor) => {
                let (next, count) = self.sse_catch_up(topic, cursor, &mut first);
                Counters::add(&counters.events, count);
                next
            }
            None => self.hub().last_seq(topic),
        };
        self.streams.fetch_add(1, Ordering::Relaxed);
        Counters::add(&counters.connections, 1);
        let shape = Shape::of(req);
        let bytes = response_bytes(shape, 200, &headers, None) + shape.streamed(first.len());
        Counters::add(&counters.bytes_out, bytes);
        local.sse.subscribe(conn, topic, cursor);
        if !local.sse_last.contains_key(topic) {
            local.sse_last.insert(topic.into(), cx.now());
        }
        Reply::Stream {
            status: 200,
            headers,
            first: first.into(),
        }
    }

    /// Encodes everything after `cursor` as SSE (a `gap` event first if needed); returns the
    /// new cursor and the number of events.
    fn sse_catch_up(&self, topic: &str, mut cursor: u64, out: &mut Vec<u8>) -> (u64, u64) {
        let hub = self.hub();
        let mut total = 0;
        loop {
            let since = hub.since(topic, cursor, self.limits.max_events_per_response);
            let more = since.more;
            let (next, count) = encode_sse(&since, out);
            total += count;
            cursor = next;
            if !more {
                return (cursor, total);
            }
        }
    }

    /// A publish on `topic`: deliver to this worker's followers.
    fn deliver(&self, local: &mut Local, topic: &str, cx: &mut Ctx<'_, Notice>) {
        self.deliver_sse(local, topic, cx);
        self.deliver_ws(local, topic, cx);
        self.deliver_polls(local, topic, cx);
    }

    fn deliver_sse(&self, local: &mut Local, topic: &str, cx: &mut Ctx<'_, Notice>) {
        let followers: Vec<(ConnId, u64)> = local.sse.of_topic(topic).collect();
        if followers.is_empty() {
            return;
        }
        if let Some(last) = local.sse_last.get_mut(topic) {
            *last = cx.now();
        }
        // Followers at the same cursor (nearly all of them) share one encoding.
        let mut encoded: BTreeMap<u64, (Vec<u8>, u64, u64)> = BTreeMap::new();
        for (conn, cursor) in followers {
            let (bytes, next, count) = encoded.entry(cursor).or_insert_with(|| {
                let mut out = Vec::new();
                let (next, count) = self.sse_catch_up(topic, cursor, &mut out);
                (out, next, count)
            });
            if bytes.is_empty() {
                continue;
            }
            match cx.stream_write(conn, bytes) {
                Ok(written) => {
                    Counters::add(&self.stats.sse.events, *count);
                    local.sse.advance(conn, *next);
                    Counters::add(&self.stats.sse.bytes_out, written as u64);
                    if topic != WIRE_TOPIC {
                        self.wire(Technique::Sse, cx, || {
                            format!("{:x}\r\n{}\r\n", bytes.len(), preview(bytes))
                        });
                    }
                }
                // A consumer that cannot keep up is cut off; it resumes with Last-Event-ID.
                Err(_) => cx.close(conn),
            }
        }
    }

    fn deliver_ws(&self, local: &mut Local, topic: &str, cx: &mut Ctx<'_, Notice>) {
        let followers: Vec<(ConnId, u64)> = local.ws.of_topic(topic).collect();
        // Followers at the same cursor share one read of the history.
        let mut batches: BTreeMap<u64, WsBatch> = BTreeMap::new();
        for (conn, cursor) in followers {
            let batch = batches
                .entry(cursor)
                .or_insert_with(|| self.ws_batch(topic, cursor));
            self.ws_send_batch(local, conn, topic, cursor, batch, cx);
        }
    }

    /// The messages a WebSocket follower at `cursor` is owed (a gap notice first if needed),
    /// at most `max_events_per_response` of them.
    fn ws_batch(&self, topic: &str, cursor: u64) -> WsBatch {
        let hub = self.hub();
        let since = hub.since(topic, cursor, self.limits.max_events_per_response);
        let mut messages: Vec<Arc<[u8]>> = Vec::with_capacity(since.events.len() + 1);
        if let Some(gap) = since.gap {
            messages.push(gap_json(gap).into_bytes().into());
        }
        messages.extend(since.events.clone().map(|e| e.data.clone()));
        WsBatch {
            messages,
            next: since.next,
            more: since.more,
        }
    }

    /// Sends a batch in one write; a follower that cannot take it is closed with 1013 and
    /// told where to resume.
    fn ws_send_batch(
        &self,
        local: &mut Local,
        conn: ConnId,
        topic: &str,
        cursor: u64,
        batch: &WsBatch,
        cx: &mut Ctx<'_, Notice>,
    ) {
        if batch.messages.is_empty() {
            return;
        }
        // Event text is ASCII JSON.
        let texts = batch
            .messages
            .iter()
            .map(|m| std::str::from_utf8(m).unwrap_or_default());
        if cx.send_texts(conn, texts).is_err() {
            let reason = format!("cursor={cursor}");
            let _ = cx.close_ws(conn, CloseCode::TRY_AGAIN_LATER, &reason);
            local.ws.unsubscribe(conn);
            return;
        }
        let bytes: usize = batch.messages.iter().map(|m| ws_frame_len(m.len())).sum();
        Counters::add(&self.stats.websocket.events, batch.messages.len() as u64);
        Counters::add(&self.stats.websocket.bytes_out, bytes as u64);
        if topic != WIRE_TOPIC {
            if let Some(last) = batch.messages.last() {
                let text = std::str::from_utf8(last).unwrap_or_default();
                self.wire(Technique::WebSocket, cx, || {
                    frame_text("server → client", false, text)
                });
            }
        }
        local.ws.advance(conn, batch.next);
        if batch.more {
            self.ws_catch_up(local, conn, topic, batch.next, cx);
        }
    }

    /// Sends a WebSocket follower everything after its cursor.
    fn ws_catch_up(
        &self,
        local: &mut Local,
        conn: ConnId,
        topic: &str,
        mut cursor: u64,
        cx: &mut Ctx<'_, Notice>,
    ) {
        loop {
            let batch = self.ws_batch(topic, cursor);
            if batch.messages.is_empty() {
                return;
            }
            let (more, next) = (batch.more, batch.next);
            self.ws_send_batch(
                local,
                conn,
                topic,
                cursor,
                &WsBatch {
                    more: false,
                    ..batch
                },
                cx,
            );
            if local.ws.topic(conn).is_none() {
                return; // cut off as too slow
            }
            cursor = next;
            if !more {
                return;
            }
        }
    }

    fn deliver_polls(&self, local: &mut Local, topic: &str, cx: &mut Ctx<'_, Notice>) {
        let last = self.hub().last_seq(topic);
        let woken = self.parking(local).wake(topic, last);
        let counters = &self.stats.long_poll;
        for (conn, cursor) in woken {
            if let Some(response) = self.poll_response(topic, cursor, counters) {
                Counters::sub_connection(counters);
                let shape = local.unusual.remove(&conn).unwrap_or(Shape::USUAL);
                let bytes = response_bytes(shape, 200, &response.headers, Some(&response.body));
                Counters::add(&counters.bytes_out, bytes);
                let _ = cx.respond(conn, &response);
                self.wire(Technique::LongPoll, cx, || {
                    format!("GET /poll?topic={topic}&cursor={cursor} HTTP/1.1  (parked until this publish)\r\n…\r\n\r\n")
                        + &head_text(&response)
                        + &preview(&response.body)
                });
            }
        }
    }
}

impl Counters {
    fn sub_connection(counters: &Counters) {
        let _ = counters
            .connections
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_sub(1));
    }
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// A response head as it goes on the wire (Date abbreviated), for the wire panel.
fn head_text(response: &Response) -> String {
    let mut text = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        crate::http::reason_phrase(response.status)
    );
    for (name, value) in &response.headers {
        let _ = write!(text, "{name}: {}\r\n", String::from_utf8_lossy(value));
    }
    if response.status != 204 {
        let _ = write!(text, "Content-Length: {}\r\n", response.body.len());
    }
    text.push_str("Date: …\r\n\r\n");
    text
}

/// A request head reconstructed from the parsed request, for the wire panel.
fn request_text(req: &Request<'_>) -> String {
    let mut text = format!(
        "{} {} HTTP/1.{}\r\n",
        req.method,
        req.target,
        u8::from(req.version == crate::http::Version::Http11)
    );
    for (name, value) in req.headers() {
        let _ = write!(text, "{name}: {}\r\n", String::from_utf8_lossy(value));
    }
    text.push_str("\r\n");
    text
}

/// A text frame's header decoded field by field (RFC 6455 §5.2), then its payload.
fn frame_text(direction: &str, masked: bool, payload: &str) -> String {
    let len = payload.len();
    let length_form = match len {
        0..=125 => format!("len={len}"),
        126..=65535 => format!("len=126 → 16-bit length {len}"),
        _ => format!("len=127 → 64-bit length {len}"),
    };
    let mask = if masked {
        "MASK=1 + 4-byte masking key (the payload is XORed with it)"
    } else {
        "MASK=0"
    };
    format!(
        "{direction} frame: FIN=1 RSV1-3=000 opcode=0x1 (text) {mask} {length_form}\n{}",
        preview(payload.as_bytes())
    )
}

/// Text shortened for display.
fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.into_owned(),
    }
}

/// What a WebSocket follower at one cursor is owed.
struct WsBatch {
    messages: Vec<Arc<[u8]>>,
    next: u64,
    more: bool,
}

/// `{"seq":N,"ts":T,"data":<body>}`, the body as a JSON string (RFC 8259 §7), so that
/// `JSON.parse(line).data` is the published text, byte for byte.
fn event_text(seq: u64, ts: u64, body: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 48);
    let _ = write!(Bytes(&mut out), "{{\"seq\":{seq},\"ts\":{ts},\"data\":");
    json::push_string(body, &mut out);
    out.push(b'}');
    out
}

struct Bytes<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn gap_json(gap: Gap) -> String {
    match gap {
        Gap::Lost { from, to } => format!("{{\"gap\":{{\"from\":{from},\"to\":{to}}}}}"),
        Gap::Reset { cursor } => format!("{{\"gap\":{{\"reset\":{cursor}}}}}"),
    }
}

/// Encodes a `since` answer as SSE; returns the next cursor and the number of events.
fn encode_sse(since: &Since<'_>, out: &mut Vec<u8>) -> (u64, u64) {
    if let Some(gap) = since.gap {
        let data = gap_json(gap);
        let _ = sse::encode(
            &sse::Event {
                event: Some("gap"),
                data: &data,
                ..Default::default()
            },
            out,
        );
    }
    let mut count = 0;
    for e in since.events.clone() {
        // `id: N\ndata: <text>\n\n`, written directly: the text is one line of JSON.
        out.extend_from_slice(b"id: ");
        let _ = write!(Bytes(out), "{}", e.seq);
        out.extend_from_slice(b"\ndata: ");
        out.extend_from_slice(&e.data);
        out.extend_from_slice(b"\n\n");
        count += 1;
    }
    (since.next, count)
}

/// A server's (unmasked) WebSocket frame carrying `len` payload bytes: header and payload
/// (RFC 6455 §5.2: 2 header bytes, plus 2 or 8 for the extended length).
fn ws_frame_len(len: usize) -> usize {
    let header = match len {
        0..=125 => 2,
        126..=65535 => 4,
        _ => 10,
    };
    header + len
}

/// The bytes of a response to `req` on the wire, as the HTTP machine and the reactor write it:
/// status line, the response's fields, `Date` (the reactor's), `Content-Length` (RFC 9110
/// §8.6: none for 204, and none for an empty body that is not sent), the `Connection` field
/// the request calls for (RFC 9112 §9.3), the blank line, and the body unless the request was
/// HEAD (RFC 9110 §9.3.2) or the status has none. `body` is `None` for a streamed body, whose
/// head says `Transfer-Encoding: chunked` in HTTP/1.1 and ends at close in HTTP/1.0.
fn response_bytes(req: Shape, status: u16, fields: &Fields, body: Option<&[u8]>) -> u64 {
    const DATE: usize = "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n".len();
    let http11 = req.http11;
    let no_body = req.head || status == 204 || status == 304;
    let mut n = "HTTP/1.1 200 \r\n".len() + crate::http::reason_phrase(status).len() + DATE + 2;
    n += fields
        .iter()
        .map(|(name, value)| name.len() + 2 + value.len() + 2)
        .sum::<usize>();
    let mut keep_alive = req.keep_alive;
    match body {
        Some(body) if status != 204 && !(body.is_empty() && no_body) => {
            n += "Content-Length: \r\n".len() + body.len().to_string().len();
        }
        None if http11 && !no_body => n += "Transfer-Encoding: chunked\r\n".len(),
        None if !no_body => keep_alive = false,
        _ => {}
    }
    if !keep_alive {
        n += "Connection: close\r\n".len();
    } else if !http11 {
        n += "Connection: keep-alive\r\n".len();
    }
    if !no_body {
        n += body.map_or(0, <[u8]>::len);
    }
    n as u64
}

/// A response's header fields.
type Fields = Vec<(Cow<'static, str>, Cow<'static, [u8]>)>;

/// What of a request decides how its response is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shape {
    http11: bool,
    keep_alive: bool,
    head: bool,
}

impl Shape {
    /// A keep-alive HTTP/1.1 GET: nearly every request.
    const USUAL: Shape = Shape {
        http11: true,
        keep_alive: true,
        head: false,
    };

    fn of(req: &Request<'_>) -> Shape {
        Shape {
            http11: req.version == crate::http::Version::Http11,
            keep_alive: req.keep_alive,
            head: req.method == "HEAD",
        }
    }

    /// The bytes of body piece `len` as the HTTP machine streams it: a chunk in HTTP/1.1
    /// (RFC 9112 §7.1: size in hex, CRLF, data, CRLF), as it is in HTTP/1.0.
    fn streamed(self, len: usize) -> u64 {
        match (self.head, self.http11) {
            (true, _) => 0,
            (false, true) if len > 0 => (format!("{len:x}").len() + 4 + len) as u64,
            (false, true) => 0,
            (false, false) => len as u64,
        }
    }
}

/// The `101` answering a WebSocket upgrade without subprotocol or extension (RFC 6455 §4.2.2).
const WS_101_BYTES: u64 = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n".len()
    + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nConnection: Upgrade\r\n\r\n".len())
    as u64;

/// A cursor parameter: a decimal `u64`, or absent.
fn cursor_param(req: &Request<'_>, name: &'static str) -> Result<Option<u64>, BadParam> {
    query::param(req, name)?
        .map(|c| query::decimal(name, &c))
        .transpose()
}

/// A refusal with a one-line reason as its body.
fn refusal(status: u16, reason: &str) -> Response {
    Response::new(status)
        .header("Content-Type", "text/plain; charset=utf-8")
        .body(format!("{reason}\n").into_bytes())
}

/// `400 Bad Request` naming the parameter and what was wrong with it.
fn bad_request(e: BadParam) -> Response {
    refusal(400, &e.to_string())
}

/// The methods each path answers (RFC 9110 §10.2.1 `Allow`), `None` for an unknown path.
/// HEAD is answered wherever GET is (by the server layer).
fn allowed_methods(path: &str) -> Option<&'static str> {
    Some(match path {
        "/publish" | "/drop-streams" => "POST, OPTIONS",
        "/echo" => "GET, HEAD, POST, OPTIONS",
        "/events" | "/poll" | "/ws" | "/plaintext" | "/stats" | "/cursor" | "/wire" | "/"
        | "/favicon.ico" => "GET, HEAD, OPTIONS",
        _ => return None,
    })
}

impl App for HubServer {
    type Local = Local;
    type Notice = Notice;

    fn local(&self) -> Local {
        Local::default()
    }

    fn request(
        &self,
        local: &mut Local,
        req: &Request<'_>,
        body: &[u8],
        cx: &mut Ctx<'_, Notice>,
    ) -> Reply {
        match (req.method, req.path()) {
            ("POST", "/publish") => {
                let published = self
                    .topic(req)
                    .and_then(|topic| self.publish(&topic, body, cx));
                match published {
                    Ok(seq) => Response::text(seq.to_string()).into(),
                    Err(response) => response.into(),
                }
            }
            ("GET", "/events") => self.events(local, req, cx),
            ("GET", "/poll") => self.poll(local, req, cx),
            ("GET", "/ws") if req.is_upgrade() => {
                let Some(conn) = cx.conn() else {
                    return Response::new(500).into();
                };
                let params = self.topic(req).and_then(|topic| {
                    Ok((topic, cursor_param(req, "cursor").map_err(bad_request)?))
                });
                let (topic, cursor) = match params {
                    Ok(params) => params,
                    Err(response) => return response.into(),
                };
                // No cursor: from now on, as on every technique.
                let cursor = cursor.unwrap_or_else(|| self.hub().last_seq(&topic));
                Counters::add(&self.stats.websocket.requests, 1);
                // Follow the topic only if the handshake will succeed: a refused upgrade never
                // becomes a socket, and would leave a subscription behind.
                if crate::ws::check_request(req).is_ok() {
                    local.ws.subscribe(conn, &topic, cursor);
                }
                Reply::WebSocket { protocol: None }
            }
            ("GET", "/echo") if req.is_upgrade() => {
                if let (Some(conn), true) = (cx.conn(), crate::ws::check_request(req).is_ok()) {
                    local.echo.insert(conn);
                }
                Reply::WebSocket { protocol: None }
            }
            // RFC 9110 §15.5.22: a WebSocket endpoint asked without an upgrade.
            ("GET", "/ws" | "/echo") => refusal(
                426,
                "this endpoint speaks WebSocket: send an upgrade request (RFC 6455 §4.1)",
            )
            .header("Upgrade", "websocket")
            .into(),
            ("POST", "/echo") => Response::new(200).body(body.to_vec()).into(),
            ("GET", "/cursor") => match self.topic(req) {
                Ok(topic) => Response::text(self.hub().last_seq(&topic).to_string())
                    .header("Cache-Control", "no-store")
                    .into(),
                Err(response) => response.into(),
            },
            ("POST", "/drop-streams") => {
                cx.handle().notify(Notice::DropStreams);
                Response::new(204).into()
            }
            ("GET", "/wire") => {
                let reply = self.events_on(local, req, WIRE_TOPIC, None, cx);
                if let (Reply::Stream { .. }, Some(conn)) = (&reply, cx.conn()) {
                    local.wire.insert(conn);
                    self.wire_watchers.fetch_add(1, Ordering::Relaxed);
                }
                reply
            }
            ("GET", "/plaintext") => Response::text("Hello, World!").into(),
            ("GET", "/stats") => {
                let mut json = String::from("{\"short_poll\":");
                self.stats.short_poll.json(&mut json);
                json.push_str(",\"long_poll\":");
                self.stats.long_poll.json(&mut json);
                json.push_str(",\"sse\":");
                self.stats.sse.json(&mut json);
                json.push_str(",\"websocket\":");
                self.stats.websocket.json(&mut json);
                let _ = write!(
                    json,
                    ",\"published\":{}}}",
                    self.stats.published.load(Ordering::Relaxed)
                );
                Response::new(200)
                    .header("Content-Type", "application/json")
                    .header("Cache-Control", "no-store")
                    .body(json.into_bytes())
                    .into()
            }
            ("GET", "/") => Response::new(200)
                .header("Content-Type", "text/html; charset=utf-8")
                .body(self.page)
                .into(),
            // Browsers ask for it on every page load; there is no icon.
            ("GET", "/favicon.ico") => Response::new(204).into(),
            (method, path) => match allowed_methods(path) {
                // RFC 9110 §9.3.7: OPTIONS names what the resource answers.
                Some(allow) if method == "OPTIONS" => {
                    Response::new(204).header("Allow", allow).into()
                }
                // RFC 9110 §15.5.6: 405 carries Allow.
                Some(allow) => refusal(
                    405,
                    &format!("{method} is not allowed here; allowed: {allow}"),
                )
                .header("Allow", allow)
                .into(),
                None => refusal(404, &format!("no such endpoint: {path}")).into(),
            },
        }
    }

    fn ws_open(&self, local: &mut Local, cx: &mut Ctx<'_, Notice>) {
        let Some(conn) = cx.conn() else { return };
        if let (Some(topic), Some(cursor)) = (
            local.ws.topic(conn).map(String::from),
            local.ws.cursor(conn),
        ) {
            Counters::add(&self.stats.websocket.connections, 1);
            Counters::add(&self.stats.websocket.bytes_out, WS_101_BYTES);
            // A client that named a cursor gets what it missed at once.
            self.ws_catch_up(local, conn, &topic, cursor, cx);
        }
    }

    fn ws_message(&self, local: &mut Local, message: Message<'_>, cx: &mut Ctx<'_, Notice>) {
        let Some(conn) = cx.conn() else { return };
        if local.echo.contains(&conn) {
            let _ = match message {
                Message::Text(t) => cx.send_text(conn, t),
                Message::Binary(b) => cx.send_binary(conn, b),
            };
            return;
        }
        let Message::Text(text) = message else {
            // RFC 6455 §7.4.1: 1003, data of a type this endpoint does not accept. Events are
            // text (one line of JSON each); a binary message could not be carried unchanged.
            let _ = cx.close_ws(
                conn,
                CloseCode::UNSUPPORTED_DATA,
                "binary messages are not accepted: publish text",
            );
            return;
        };
        if let Some(topic) = local.ws.topic(conn).map(String::from) {
            self.wire(Technique::WebSocket, cx, || {
                frame_text("client → server", true, text)
            });
            Counters::add(&self.stats.websocket.bytes_in, text.len() as u64);
            if self.publish(&topic, text.as_bytes(), cx).is_err() {
                let _ = cx.close_ws(conn, CloseCode::POLICY_VIOLATION, "publish refused");
            }
        }
    }

    fn notice(&self, local: &mut Local, notice: &Notice, cx: &mut Ctx<'_, Notice>) {
        match notice {
            Notice::Published(topic) => self.deliver(local, topic, cx),
            Notice::DropStreams => {
                let streams: Vec<ConnId> = local
                    .sse
                    .topics()
                    .filter(|t| *t != WIRE_TOPIC)
                    .flat_map(|t| local.sse.of_topic(t).map(|(c, _)| c).collect::<Vec<_>>())
                    .collect();
                for conn in streams {
                    cx.close(conn);
                }
            }
        }
    }

    fn tick(&self, local: &mut Local, cx: &mut Ctx<'_, Notice>) {
        // Keep-alive comments on the streams of topics quiet for the interval.
        let now = cx.now();
        local
            .sse_last
            .retain(|topic, _| local.sse.of_topic(topic).next().is_some());
        let quiet: Vec<Arc<str>> = local
            .sse_last
            .iter()
            .filter(|(_, last)| now >= **last + self.limits.sse_keepalive)
            .map(|(t, _)| t.clone())
            .collect();
        for topic in quiet {
            let followers: Vec<ConnId> = local.sse.of_topic(&topic).map(|(c, _)| c).collect();
            for conn in followers {
                if let Ok(written) = cx.stream_write(conn, b":\n\n") {
                    Counters::add(&self.stats.sse.bytes_out, written as u64);
                }
            }
            local.sse_last.insert(topic, now);
        }
    }

    fn deferred_timeout(
        &self,
        local: &mut Local,
        conn: ConnId,
        _: &mut Ctx<'_, Notice>,
    ) -> Response {
        let parked = self.parking(local).unpark(conn);
        let counters = &self.stats.long_poll;
        Counters::sub_connection(counters);
        Counters::add(&counters.empty, 1);
        // Where to ask from next: what the request asked from (the newest event then, when
        // it named no cursor).
        let response = match parked {
            Some(parked) => Response::new(204).header("X-Cursor", parked.cursor.to_string()),
            None => Response::new(204),
        };
        let shape = local.unusual.remove(&conn).unwrap_or(Shape::USUAL);
        let bytes = response_bytes(shape, 204, &response.headers, Some(&[]));
        Counters::add(&counters.bytes_out, bytes);
        response
    }

    fn closed(&self, local: &mut Local, conn: ConnId, _: &mut Ctx<'_, Notice>) {
        let wire = local.wire.remove(&conn);
        if wire {
            self.wire_watchers.fetch_sub(1, Ordering::Relaxed);
        }
        if local.sse.unsubscribe(conn).is_some() {
            self.streams.fetch_sub(1, Ordering::Relaxed);
            if !wire {
                Counters::sub_connection(&self.stats.sse);
            }
        }
        if local.ws.unsubscribe(conn).is_some() {
            Counters::sub_connection(&self.stats.websocket);
        }
        local.echo.remove(&conn);
        local.unusual.remove(&conn);
        if self.parking(local).unpark(conn).is_some() {
            Counters::sub_connection(&self.stats.long_poll);
        }
    }
}

/// The default tick for [`HubServer`]: a third of the keep-alive interval.
pub fn tick_interval(limits: &Limits) -> Duration {
    (limits.sse_keepalive / 3).max(Duration::from_millis(100))
}
