//! What operators read: `GET /stats` (JSON), `GET /metrics` (Prometheus), `GET /ready`; and
//! the line logged for every connection that ends.

use super::stats::Counters;
use super::{HubServer, Local, Notice};
use crate::reactor::Ended;
use crate::server::metrics::{self, Kind, Refusal};
use crate::server::{ConnId, Ctx, Response};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Where the server stands in its life, shared with whoever runs it: `/ready` answers `503`
/// once draining has begun (load balancers stop sending new clients while the connections
/// still open are ended, each told where to resume).
#[derive(Debug, Default)]
pub struct Lifecycle {
    draining: AtomicBool,
}

impl Lifecycle {
    /// Starts draining: `/ready` answers `503` from now on.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Whether draining has begun.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }
}

impl HubServer {
    /// The flag that makes `/ready` answer `503` ([`Lifecycle::drain`]).
    pub fn lifecycle(&self) -> Arc<Lifecycle> {
        self.lifecycle.clone()
    }

    /// Serves `/metrics` and `/stats` without a token on listener number `listener` (its
    /// index in [`Server::listeners`](crate::reactor::Server::listeners)) — an address only
    /// operators reach — and only there; that listener serves nothing else but `/health` and
    /// `/ready`.
    pub fn with_admin_listener(mut self, listener: usize) -> Self {
        self.admin_listener = Some(listener);
        self
    }

    /// `GET /ready`: `200` while this node takes new clients (not draining, and its broker, if
    /// any, is up), else `503` saying why.
    pub(super) fn ready(&self) -> Response {
        let draining = self.lifecycle.is_draining();
        let broker_up = self.broker_up();
        let ready = !draining && broker_up;
        let body =
            format!("{{\"ready\":{ready},\"draining\":{draining},\"broker_up\":{broker_up}}}");
        Response::new(if ready { 200 } else { 503 })
            .header("Content-Type", "application/json")
            .header("Cache-Control", "no-store")
            .body(body.into_bytes())
    }

    /// `GET /stats`: counters per technique, as JSON.
    pub(super) fn stats_answer(&self, cx: &Ctx<'_, Notice>) -> Response {
        let mut json = String::from("{\"short_poll\":");
        self.stats.short_poll.json(&mut json);
        json.push_str(",\"long_poll\":");
        self.stats.long_poll.json(&mut json);
        json.push_str(",\"sse\":");
        self.stats.sse.json(&mut json);
        json.push_str(",\"websocket\":");
        self.stats.websocket.json(&mut json);
        let io = cx.handle().io_stats();
        let memory = cx.handle().memory().usage();
        let _ = write!(
            json,
            ",\"published\":{},\"io\":{},",
            self.stats.published.load(Ordering::Relaxed),
            io.json(),
        );
        let _ = write!(
            json,
            "\"memory\":{{\"budget\":{},\"history\":{},\"broker\":{},\"parked\":{},\"write_queues\":{},\"frames\":{},",
            memory.budget,
            self.history_bytes(&memory),
            self.broker_buffered(),
            self.parked_bytes(),
            memory.queues,
            memory.frames,
        );
        let (evicted, dropped) = {
            let hub = self.hub();
            (hub.evicted(), hub.dropped())
        };
        let _ = write!(
            json,
            "\"evicted_events\":{evicted},\"dropped_idle_topics\":{dropped}}},\"broker\":{}}}",
            String::from_utf8_lossy(&self.health().body),
        );
        Response::new(200)
            .header("Content-Type", "application/json")
            .header("Cache-Control", "no-store")
            .body(json.into_bytes())
    }

    /// `GET /metrics`: the Prometheus text exposition format, version 0.0.4.
    pub(super) fn metrics_answer(&self, cx: &Ctx<'_, Notice>) -> Response {
        let mut out = String::with_capacity(16 * 1024);
        self.technique_metrics(&mut out);
        self.metrics.write(&mut out);
        let statuses = cx.handle().statuses();
        metrics::header(
            &mut out,
            "pushwire_http_responses_total",
            "HTTP responses sent, by status code.",
            "counter",
        );
        for (code, n) in statuses {
            let _ = writeln!(out, "pushwire_http_responses_total{{code=\"{code}\"}} {n}");
        }
        let io = cx.handle().io_stats();
        metrics::single(
            &mut out,
            "pushwire_socket_reads_total",
            "read system calls on connection sockets.",
            "counter",
            io.reads,
        );
        metrics::single(
            &mut out,
            "pushwire_socket_writes_total",
            "write system calls on connection sockets.",
            "counter",
            io.writes,
        );
        self.hub_metrics(&mut out, cx.handle().memory().usage());
        super::process::write(&mut out);
        Response::new(200)
            .header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            .header("Cache-Control", "no-store")
            .body(out.into_bytes())
    }

    /// The per-technique counters of `/stats`, as metrics.
    fn technique_metrics(&self, out: &mut String) {
        let techniques: [(&str, &Counters); 4] = [
            ("short_poll", &self.stats.short_poll),
            ("long_poll", &self.stats.long_poll),
            ("sse", &self.stats.sse),
            ("websocket", &self.stats.websocket),
        ];
        let load = |f: fn(&Counters) -> &std::sync::atomic::AtomicU64| {
            techniques.map(|(name, c)| (name, f(c).load(Ordering::Relaxed)))
        };
        metrics::labelled(
            out,
            "pushwire_connections_open",
            "Open event streams, WebSockets and parked long-polls, by technique.",
            "gauge",
            "technique",
            load(|c| &c.connections),
        );
        metrics::labelled(
            out,
            "pushwire_requests_total",
            "Push requests served, by technique.",
            "counter",
            "technique",
            load(|c| &c.requests),
        );
        metrics::labelled(
            out,
            "pushwire_events_delivered_total",
            "Events delivered to followers, by technique.",
            "counter",
            "technique",
            load(|c| &c.events),
        );
        metrics::labelled(
            out,
            "pushwire_received_bytes_total",
            "Body and message bytes received, by technique.",
            "counter",
            "technique",
            load(|c| &c.bytes_in),
        );
        metrics::labelled(
            out,
            "pushwire_sent_bytes_total",
            "Bytes sent on the wire (heads, framing and payloads), by technique.",
            "counter",
            "technique",
            load(|c| &c.bytes_out),
        );
        metrics::single(
            out,
            "pushwire_events_published_total",
            "Events published (over HTTP and WebSocket).",
            "counter",
            self.stats.published.load(Ordering::Relaxed),
        );
        metrics::single(
            out,
            "pushwire_parked_polls",
            "Long-poll requests parked, waiting for an event.",
            "gauge",
            self.stats.long_poll.connections.load(Ordering::Relaxed),
        );
    }

    /// Topics, history and the broker.
    fn hub_metrics(&self, out: &mut String, memory: crate::reactor::MemoryUse) {
        let (topics, history, evicted, dropped) = {
            let hub = self.hub();
            let figures = (hub.topic_count(), hub.history_bytes());
            (figures.0, figures.1, hub.evicted(), hub.dropped())
        };
        metrics::single(
            out,
            "pushwire_memory_budget_bytes",
            "The most the server holds for its clients (memory_budget).",
            "gauge",
            memory.budget,
        );
        metrics::labelled(
            out,
            "pushwire_memory_used_bytes",
            "What counts against the memory budget, by kind.",
            "gauge",
            "kind",
            [
                ("history", self.history_bytes(&memory)),
                ("broker", self.broker_buffered()),
                ("parked_polls", self.parked_bytes()),
                ("write_queues", memory.queues),
                ("frames", memory.frames),
            ],
        );
        metrics::single(
            out,
            "pushwire_history_evicted_events_total",
            "Events evicted from history, oldest first over all topics, to stay within the memory budget.",
            "counter",
            evicted,
        );
        metrics::single(
            out,
            "pushwire_topics_dropped_idle_total",
            "Topics dropped with their history: nobody followed or published to them for topic_idle_ttl.",
            "counter",
            dropped,
        );
        metrics::single(
            out,
            "pushwire_topics",
            "Topics this node holds.",
            "gauge",
            topics,
        );
        metrics::single(
            out,
            "pushwire_history_bytes",
            "Bytes of event history held, over all topics.",
            "gauge",
            history,
        );
        metrics::single(
            out,
            "pushwire_broker_up",
            "1 while publishes can be stored (always, with the embedded broker).",
            "gauge",
            u8::from(self.broker_up()),
        );
        metrics::single(
            out,
            "pushwire_broker_reconnects_total",
            "Times the connection to the shared broker (Redis) was made again.",
            "counter",
            self.broker_reconnects(),
        );
        metrics::single(
            out,
            "pushwire_draining",
            "1 once a graceful shutdown has begun.",
            "gauge",
            u8::from(self.lifecycle.is_draining()),
        );
    }

    /// A request refused for `why`: counted, and logged (without the token).
    pub(super) fn refuse(
        &self,
        why: Refusal,
        req: &crate::http::Request<'_>,
        cx: &Ctx<'_, Notice>,
        detail: &str,
    ) {
        self.metrics.refused(why);
        if log::log_enabled!(log::Level::Warn) {
            let peer = cx
                .conn()
                .and_then(|c| cx.peer(c))
                .map_or_else(|| "-".to_string(), |p| p.ip().to_string());
            log::warn!(
                target: "pushwire::access",
                "refused reason={} peer={peer} method={} path={} detail={detail:?}",
                why.name(),
                req.method,
                req.path(),
            );
        }
    }

    /// A connection ended: counted by technique and reason, and one line at `info` (who, what,
    /// how long, how many bytes, how it ended).
    pub(super) fn log_ended(&self, local: &mut Local, ended: &Ended) {
        let kind = Kind::of_tag(ended.tag);
        if ended.tag == 0 {
            self.metrics.opened(kind);
        }
        self.metrics.closed(kind, ended.end);
        let topic = local.ending.remove(&ended.conn);
        if !log::log_enabled!(target: "pushwire::conn", log::Level::Info) {
            return;
        }
        let mut line = format!(
            "ended technique={} reason={}",
            kind.name(),
            ended.end.as_str()
        );
        if let Some(topic) = topic {
            let _ = write!(line, " topic={topic:?}");
        }
        if let Some(r) = &ended.record {
            let _ = write!(
                line,
                " peer={} duration_ms={} bytes_in={} bytes_out={} requests={}",
                r.peer,
                r.duration.as_millis(),
                r.bytes_in,
                r.bytes_out,
                r.requests
            );
            if let Some(status) = r.status {
                let _ = write!(line, " status={status}");
            }
            if let Some(code) = r.close_code {
                let _ = write!(line, " close_code={code}");
            }
        }
        log::info!(target: "pushwire::conn", "{line}");
    }

    /// What history holds of what the application reports to the budget: the rest is the
    /// broker link's buffers and parked polls.
    fn history_bytes(&self, memory: &crate::reactor::MemoryUse) -> usize {
        memory
            .held
            .saturating_sub(self.broker_buffered() + self.parked_bytes())
    }

    /// Remembers what `conn` followed (its topics, separated by spaces), for the line logged
    /// when it ends.
    pub(super) fn remember_topics(&self, local: &mut Local, conn: ConnId) {
        if !log::log_enabled!(target: "pushwire::conn", log::Level::Info) {
            return;
        }
        let mut topics: Vec<&str> = local.sse.topics_of(conn).collect();
        if topics.is_empty() {
            topics = local.ws.topics_of(conn).collect();
        }
        if topics.is_empty() {
            if let Some(parked) = local.parking.as_ref().and_then(|p| p.get(conn)) {
                topics = parked.cursors.iter().map(|(t, _)| &**t).collect();
            }
        }
        if !topics.is_empty() {
            let joined: Arc<str> = topics.join(" ").into();
            local.ending.insert(conn, joined);
        }
    }
}

impl HubServer {
    /// Ends every follower of this worker, each told where to resume (see `App::draining`).
    pub(super) fn drain(&self, local: &mut Local, cx: &mut Ctx<'_, Notice>) {
        let streams: Vec<ConnId> = local
            .sse
            .ids()
            .filter(|c| !local.wire.contains(c))
            .collect();
        for conn in streams {
            let cursors: Vec<(&str, u64)> = local
                .sse
                .cursors(conn)
                .into_iter()
                .filter(|&(_, c)| c != super::follow::PENDING)
                .collect();
            // WHATWG HTML §9.2: `retry:` sets the reconnection time; the comment says why the
            // stream ends. EventSource comes back with its Last-Event-ID.
            let mut ending = b"retry: 1000\n: going away; ".to_vec();
            if cursors.is_empty() {
                ending.extend_from_slice(b"resume from now");
            } else {
                let mut at = String::new();
                crate::hub::position::encode(cursors, &mut at);
                let _ = write!(super::event::Bytes(&mut ending), "resume from {at}");
            }
            ending.extend_from_slice(b"\n\n");
            if let Ok(written) = cx.stream_write(conn, &ending) {
                Counters::add(&self.stats.sse.bytes_out, written as u64);
            }
            let _ = cx.stream_end(conn);
            // The server ended it: the reactor will not report it as closed.
            self.forget(local, conn);
        }
        let sockets: Vec<ConnId> = local
            .ws
            .ids()
            .chain(local.commands.iter().copied())
            .collect();
        for conn in sockets {
            // RFC 6455 §7.4.1: 1001, going away.
            let reason = format!("going away; {}", self.resume_hint(local, conn));
            let _ = cx.close_ws(conn, crate::ws::CloseCode::GOING_AWAY, &reason);
        }
        // Parked polls are answered now, with where to ask from next.
        let far = crate::Instant::from_micros(u64::MAX);
        for (conn, parked) in self.expire_parked(local, far) {
            let response = self.parked_expired(local, conn, &parked);
            let _ = cx.respond(conn, &response);
        }
        // Requests that waited for a topic's sync are told to come back.
        let waiting: Vec<ConnId> = local
            .awaiting
            .values()
            .flatten()
            .map(|(conn, _)| *conn)
            .collect();
        local.awaiting.clear();
        for conn in waiting {
            let going = super::answers::refusal(503, "the server is going away; ask again")
                .header("Retry-After", "1");
            let _ = cx.respond(conn, &going);
        }
    }
}
