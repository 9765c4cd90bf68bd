//! The ready hub server: one topic model served by short polling, long-polling, Server-Sent
//! Events and WebSocket at once, written on the public [`App`] API as any user would write it.
//!
//! Endpoints (`topic` defaults to `default` everywhere):
//!
//! | request | answer |
//! |---|---|
//! | `POST /publish?topic=T` | publishes the body; `200` with the sequence number |
//! | `GET /events?topic=T` | Server-Sent Events; resumes from `Last-Event-ID` (or `?lastEventId=`) |
//! | `GET /poll?topic=T&cursor=N` | long-poll: events after N as NDJSON, or `204` after the deadline |
//! | `GET /poll?...&wait=0` | short poll: answered at once (`204` if nothing is new) |
//! | `GET /ws?topic=T[&cursor=N]` | WebSocket: every event as a text message; text sent is published |
//! | `GET /echo` (upgrade) / `POST /echo` | WebSocket echo / body echo |
//! | `GET /plaintext` | `Hello, World!` |
//! | `GET /stats` | counters per technique, JSON |
//! | `GET /` | the demo page |
//!
//! Every transport carries the same event text, one line of JSON:
//! `{"seq":N,"ts":<unix ns at publish>,"data":"<body>"}`. A reader that fell out of history
//! gets an explicit gap first: the SSE event `gap`, or the NDJSON line `{"gap":{"from":A,"to":B}}`,
//! or that line as a WebSocket text message.

use super::{App, ConnId, Ctx, Message, Reply, Response};
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

/// What one publish tells every worker.
#[derive(Debug)]
pub struct Published {
    /// The topic published to.
    pub topic: Arc<str>,
}

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
    /// Body and payload bytes sent (after framing by SSE / WebSocket, before HTTP framing).
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
}

/// One worker's followers.
#[derive(Default)]
pub struct Local {
    sse: Subscribers<ConnId>,
    /// When each topic's event streams last got something (keep-alive comments go to a
    /// topic's streams together: one clock per topic, not per connection).
    sse_last: BTreeMap<Arc<str>, Instant>,
    ws: Subscribers<ConnId>,
    echo: BTreeSet<ConnId>,
    parking: Option<Parking<ConnId>>,
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
    fn publish(
        &self,
        topic: &str,
        body: &[u8],
        cx: &mut Ctx<'_, Published>,
    ) -> Result<u64, Response> {
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let seq = self
            .hub()
            .publish(topic, |seq| event_text(seq, ts, body).into());
        match seq {
            Ok(seq) => {
                self.stats.published.fetch_add(1, Ordering::Relaxed);
                cx.handle().notify(Published {
                    topic: topic.into(),
                });
                Ok(seq)
            }
            Err(crate::hub::UsageError::TooManyTopics) => Err(Response::new(409)),
            Err(crate::hub::UsageError::InvalidTopic) => Err(Response::new(400)),
            Err(_) => Err(Response::new(413)),
        }
    }

    fn parking<'a>(&self, local: &'a mut Local) -> &'a mut Parking<ConnId> {
        local
            .parking
            .get_or_insert_with(|| Parking::new(&self.limits))
    }

    /// `GET /poll`: answer now if anything is new (or when `wait=0`), else park.
    fn poll(&self, local: &mut Local, req: &Request<'_>, cx: &mut Ctx<'_, Published>) -> Reply {
        let topic = topic_of(req);
        let short = req.query_param("wait") == Some("0");
        let counters = if short {
            &self.stats.short_poll
        } else {
            &self.stats.long_poll
        };
        Counters::add(&counters.requests, 1);
        let cursor = req
            .query_param("cursor")
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        if let Some(response) = self.poll_response(topic, cursor, counters) {
            return response.into();
        }
        if short {
            Counters::add(&counters.empty, 1);
            return Response::new(204).into();
        }
        let Some(conn) = cx.conn() else {
            return Response::new(500).into();
        };
        let timeout = self.limits.longpoll_timeout;
        match self
            .parking(local)
            .park(conn, topic, cursor, cx.now() + timeout)
        {
            Ok(()) => {
                Counters::add(&counters.connections, 1);
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
        Counters::add(&counters.bytes_out, body.len() as u64);
        Some(
            Response::new(200)
                .header("Content-Type", "application/x-ndjson")
                .header("Cache-Control", "no-store")
                .header("X-Cursor", next.to_string())
                .body(body),
        )
    }

    /// `GET /events`: an event stream, replaying history after `Last-Event-ID`.
    fn events(&self, local: &mut Local, req: &Request<'_>, cx: &mut Ctx<'_, Published>) -> Reply {
        Counters::add(&self.stats.sse.requests, 1);
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
            let mut response = Response::new(200).body(body);
            response.headers = headers;
            return response.into();
        }
        let topic = topic_of(req);
        let mut first = Vec::new();
        sse::encode_comment("ok", &mut first);
        let cursor = match sse::resume_cursor(req) {
            Some(cursor) => {
                let (next, count) = self.sse_catch_up(topic, cursor, &mut first);
                Counters::add(&self.stats.sse.events, count);
                next
            }
            None => self.hub().last_seq(topic),
        };
        self.streams.fetch_add(1, Ordering::Relaxed);
        Counters::add(&self.stats.sse.connections, 1);
        Counters::add(&self.stats.sse.bytes_out, first.len() as u64);
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
    fn deliver(&self, local: &mut Local, topic: &str, cx: &mut Ctx<'_, Published>) {
        self.deliver_sse(local, topic, cx);
        self.deliver_ws(local, topic, cx);
        self.deliver_polls(local, topic, cx);
    }

    fn deliver_sse(&self, local: &mut Local, topic: &str, cx: &mut Ctx<'_, Published>) {
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
                Ok(()) => {
                    Counters::add(&self.stats.sse.events, *count);
                    local.sse.advance(conn, *next);
                    Counters::add(&self.stats.sse.bytes_out, bytes.len() as u64);
                }
                // A consumer that cannot keep up is cut off; it resumes with Last-Event-ID.
                Err(_) => cx.close(conn),
            }
        }
    }

    fn deliver_ws(&self, local: &mut Local, topic: &str, cx: &mut Ctx<'_, Published>) {
        let followers: Vec<(ConnId, u64)> = local.ws.of_topic(topic).collect();
        for (conn, cursor) in followers {
            self.ws_catch_up(local, conn, topic, cursor, cx);
        }
    }

    /// Sends a WebSocket follower everything after its cursor.
    fn ws_catch_up(
        &self,
        local: &mut Local,
        conn: ConnId,
        topic: &str,
        mut cursor: u64,
        cx: &mut Ctx<'_, Published>,
    ) {
        loop {
            let (messages, next, more) = {
                let hub = self.hub();
                let since = hub.since(topic, cursor, self.limits.max_events_per_response);
                let mut messages: Vec<Arc<[u8]>> = Vec::with_capacity(since.events.len() + 1);
                if let Some(gap) = since.gap {
                    messages.push(gap_json(gap).into_bytes().into());
                }
                messages.extend(since.events.clone().map(|e| e.data.clone()));
                (messages, since.next, since.more)
            };
            for m in &messages {
                // Event text is ASCII JSON.
                let text = std::str::from_utf8(m).unwrap_or_default();
                if cx.send_text(conn, text).is_err() {
                    // Too far behind: close with 1013 and say where to resume.
                    let reason = format!("cursor={cursor}");
                    let _ = cx.close_ws(conn, CloseCode::TRY_AGAIN_LATER, &reason);
                    local.ws.unsubscribe(conn);
                    return;
                }
                Counters::add(&self.stats.websocket.events, 1);
                Counters::add(&self.stats.websocket.bytes_out, m.len() as u64 + 2);
            }
            cursor = next;
            local.ws.advance(conn, cursor);
            if !more {
                return;
            }
        }
    }

    fn deliver_polls(&self, local: &mut Local, topic: &str, cx: &mut Ctx<'_, Published>) {
        let last = self.hub().last_seq(topic);
        let woken = self.parking(local).wake(topic, last);
        let counters = &self.stats.long_poll;
        for (conn, cursor) in woken {
            if let Some(response) = self.poll_response(topic, cursor, counters) {
                Counters::sub_connection(counters);
                let _ = cx.respond(conn, &response);
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

/// `{"seq":N,"ts":T,"data":"..."}` with `"`, `\` and control bytes in the body replaced by `_`
/// (the body is published as text; non-ASCII UTF-8 is kept).
fn event_text(seq: u64, ts: u64, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 48);
    let _ = write!(Bytes(&mut out), "{{\"seq\":{seq},\"ts\":{ts},\"data\":\"");
    let text = String::from_utf8_lossy(body);
    for c in text.chars() {
        if c == '"' || c == '\\' || c.is_control() {
            out.push(b'_');
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    out.extend_from_slice(b"\"}");
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

fn topic_of<'a>(req: &Request<'a>) -> &'a str {
    req.query_param("topic")
        .filter(|t| !t.is_empty())
        .unwrap_or(DEFAULT_TOPIC)
}

impl App for HubServer {
    type Local = Local;
    type Notice = Published;

    fn local(&self) -> Local {
        Local::default()
    }

    fn request(
        &self,
        local: &mut Local,
        req: &Request<'_>,
        body: &[u8],
        cx: &mut Ctx<'_, Published>,
    ) -> Reply {
        match (req.method, req.path()) {
            ("POST", "/publish") => match self.publish(topic_of(req), body, cx) {
                Ok(seq) => Response::text(seq.to_string()).into(),
                Err(response) => response.into(),
            },
            ("GET", "/events") => self.events(local, req, cx),
            ("GET", "/poll") => self.poll(local, req, cx),
            ("GET", "/ws") if req.is_upgrade() => {
                let Some(conn) = cx.conn() else {
                    return Response::new(500).into();
                };
                let topic = topic_of(req);
                let cursor = req
                    .query_param("cursor")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or_else(|| self.hub().last_seq(topic));
                local.ws.subscribe(conn, topic, cursor);
                Counters::add(&self.stats.websocket.requests, 1);
                Reply::WebSocket { protocol: None }
            }
            ("GET", "/echo") if req.is_upgrade() => {
                if let Some(conn) = cx.conn() {
                    local.echo.insert(conn);
                }
                Reply::WebSocket { protocol: None }
            }
            ("POST", "/echo") => Response::new(200).body(body.to_vec()).into(),
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
            (
                _,
                "/publish" | "/events" | "/poll" | "/ws" | "/echo" | "/plaintext" | "/stats" | "/",
            ) => Response::new(405).into(),
            _ => Response::new(404).into(),
        }
    }

    fn ws_open(&self, local: &mut Local, cx: &mut Ctx<'_, Published>) {
        let Some(conn) = cx.conn() else { return };
        if let (Some(topic), Some(cursor)) = (
            local.ws.topic(conn).map(String::from),
            local.ws.cursor(conn),
        ) {
            Counters::add(&self.stats.websocket.connections, 1);
            // A client that named a cursor gets what it missed at once.
            self.ws_catch_up(local, conn, &topic, cursor, cx);
        }
    }

    fn ws_message(&self, local: &mut Local, message: Message<'_>, cx: &mut Ctx<'_, Published>) {
        let Some(conn) = cx.conn() else { return };
        if local.echo.contains(&conn) {
            let _ = match message {
                Message::Text(t) => cx.send_text(conn, t),
                Message::Binary(b) => cx.send_binary(conn, b),
            };
            return;
        }
        if let (Message::Text(text), Some(topic)) =
            (message, local.ws.topic(conn).map(String::from))
        {
            Counters::add(&self.stats.websocket.bytes_in, text.len() as u64);
            if self.publish(&topic, text.as_bytes(), cx).is_err() {
                let _ = cx.close_ws(conn, CloseCode::POLICY_VIOLATION, "publish refused");
            }
        }
    }

    fn notice(&self, local: &mut Local, notice: &Published, cx: &mut Ctx<'_, Published>) {
        self.deliver(local, &notice.topic, cx);
    }

    fn tick(&self, local: &mut Local, cx: &mut Ctx<'_, Published>) {
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
                let _ = cx.stream_write(conn, b":\n\n");
            }
            local.sse_last.insert(topic, now);
        }
    }

    fn deferred_timeout(
        &self,
        local: &mut Local,
        conn: ConnId,
        _: &mut Ctx<'_, Published>,
    ) -> Response {
        self.parking(local).unpark(conn);
        let counters = &self.stats.long_poll;
        Counters::sub_connection(counters);
        Counters::add(&counters.empty, 1);
        Response::new(204)
    }

    fn closed(&self, local: &mut Local, conn: ConnId, _: &mut Ctx<'_, Published>) {
        if local.sse.unsubscribe(conn).is_some() {
            self.streams.fetch_sub(1, Ordering::Relaxed);
            Counters::sub_connection(&self.stats.sse);
        }
        if local.ws.unsubscribe(conn).is_some() {
            Counters::sub_connection(&self.stats.websocket);
        }
        local.echo.remove(&conn);
        if self.parking(local).unpark(conn).is_some() {
            Counters::sub_connection(&self.stats.long_poll);
        }
    }
}

/// The default tick for [`HubServer`]: a third of the keep-alive interval.
pub fn tick_interval(limits: &Limits) -> Duration {
    (limits.sse_keepalive / 3).max(Duration::from_millis(100))
}
