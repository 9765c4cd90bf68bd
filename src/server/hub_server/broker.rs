//! The hub server over a broker (`HubServer::with_redis`): publishes numbered by Redis,
//! followers served from this node's live cache of each topic, requests that wait for a
//! topic's cache to be live. Without a broker every topic is live and nothing here runs.

use super::answers::{refusal, text_of};
use super::commands::{Ref, ok};
use super::event::event_ts;
use super::follow::{Awaiting, PENDING};
use super::{HubServer, Local, Notice};
use crate::reactor::{ConnId, Ctx, Reply, Response};
use crate::ws::CloseCode;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// How long an HTTP publish waits for the broker's answer.
const PUBLISH_WAIT: Duration = Duration::from_secs(5);

impl HubServer {
    /// Whether `topic` can be served from this node's hub now.
    pub(super) fn live(&self, topic: &str) -> bool {
        #[cfg(feature = "redis")]
        if let Some(link) = &self.broker {
            return link.is_synced(topic);
        }
        let _ = topic;
        true
    }

    /// Whether a broker numbers the events.
    pub(super) fn brokered(&self) -> bool {
        #[cfg(feature = "redis")]
        {
            self.broker.is_some()
        }
        #[cfg(not(feature = "redis"))]
        {
            false
        }
    }

    /// Asks the broker to follow `topic` (nothing when it does, or without a broker).
    pub(super) fn follow(&self, topic: &str) {
        #[cfg(feature = "redis")]
        if let Some(link) = &self.broker {
            link.follow(topic);
        }
        let _ = topic;
    }

    /// "Now" for a reader that arrived at `arrived` (ns since the Unix epoch) while `topic` was
    /// not live: the last event published before then, by the publish times the events carry
    /// (so an event published after the reader's request is delivered, even if the broker's
    /// sync took longer).
    pub(super) fn now_at(&self, topic: &str, arrived: u64) -> u64 {
        let hub = self.hub();
        let mut now = hub.last_seq(topic);
        let mut cursor = 0;
        loop {
            let since = hub.since(topic, cursor, usize::MAX);
            for event in since.events.clone() {
                if event_ts(&event.data).is_some_and(|ts| ts > arrived) {
                    return now.min(event.seq - 1);
                }
            }
            if !since.more || since.next == cursor {
                return now;
            }
            cursor = since.next;
            now = hub.last_seq(topic);
        }
    }

    /// Defers the current request until `topic` is live (at most the long-poll timeout; then
    /// `503`).
    pub(super) fn await_sync(
        &self,
        local: &mut Local,
        topic: &str,
        awaiting: Awaiting,
        cx: &mut Ctx<'_, Notice>,
    ) -> Reply {
        let Some(conn) = cx.conn() else {
            return Response::new(500).into();
        };
        self.follow(topic);
        local
            .awaiting
            .entry(topic.into())
            .or_default()
            .push((conn, awaiting));
        Reply::Defer {
            timeout: Some(self.limits.longpoll_timeout),
        }
    }

    /// `POST /publish` over the broker: answered when Redis stored the event (`200` and its
    /// number) or could not (`503`).
    pub(super) fn publish_remote(
        &self,
        local: &mut Local,
        topic: &str,
        body: &[u8],
        cx: &mut Ctx<'_, Notice>,
    ) -> Reply {
        let text = match self.publishable(body) {
            Ok(text) => text,
            Err(response) => return response.into(),
        };
        let Some(conn) = cx.conn() else {
            return Response::new(500).into();
        };
        if !self.send_to_broker(local, conn, topic, text) {
            self.metrics
                .refused(crate::server::metrics::Refusal::BrokerDown);
            return unavailable().into();
        }
        local.publishing.insert(conn, std::time::Instant::now());
        Reply::Defer {
            timeout: Some(PUBLISH_WAIT),
        }
    }

    /// A publish from a WebSocket over the broker; a socket that cannot publish now is closed
    /// `1013` (try again later), or, with `pushwire.v1` (`reference` given), told so.
    pub(super) fn ws_publish_remote(
        &self,
        local: &mut Local,
        conn: ConnId,
        topic: &str,
        text: &str,
        reference: Option<Ref>,
        cx: &mut Ctx<'_, Notice>,
    ) {
        let sent = self.publishable(text.as_bytes()).is_ok()
            && self.send_to_broker(local, conn, topic, text);
        match (sent, reference) {
            (true, reference) => {
                let pending = (reference.unwrap_or(Ref::None), Arc::from(topic));
                local.ws_refs.entry(conn).or_default().push_back(pending);
            }
            (false, None) => {
                let _ = cx.close_ws(
                    conn,
                    CloseCode::TRY_AGAIN_LATER,
                    "the broker is unavailable: publish again later",
                );
            }
            (false, Some(reference)) => {
                let why = "the broker is unavailable: publish again later";
                let _ = cx.send_text(conn, &super::commands::error(why, &reference));
            }
        }
    }

    /// The body as text, within what a topic's history can hold.
    pub(super) fn publishable<'b>(&self, body: &'b [u8]) -> Result<&'b str, Response> {
        let text = text_of(body)?;
        if text.len() + 64 > self.limits.history_bytes {
            return Err(refusal(
                413,
                &format!(
                    "the event is larger than a topic's history of {} bytes",
                    self.limits.history_bytes
                ),
            ));
        }
        Ok(text)
    }

    fn send_to_broker(&self, local: &Local, conn: ConnId, topic: &str, text: &str) -> bool {
        #[cfg(feature = "redis")]
        if let Some(link) = &self.broker {
            return link.publish(local.worker, conn, topic, super::wire::unix_nanos(), text);
        }
        let _ = (local, conn, topic, text);
        false
    }

    /// `Notice::Synced`: the topic's cache is live. Followers that asked for "from now" start
    /// at its newest number, waiting requests are answered (or parked, or wait for their next
    /// topic), and everyone gets what they are owed.
    pub(super) fn on_synced(&self, local: &mut Local, topic: &str, cx: &mut Ctx<'_, Notice>) {
        for sockets in [false, true] {
            let followers = if sockets { &local.ws } else { &local.sse };
            let pending: Vec<ConnId> = followers
                .of_topic(topic)
                .filter(|&(_, c)| c == PENDING)
                .map(|(conn, _)| conn)
                .collect();
            for conn in pending {
                let now = self.pending_now(local, conn, topic);
                let followers = if sockets {
                    &mut local.ws
                } else {
                    &mut local.sse
                };
                followers.set(conn, topic, now);
            }
        }
        for (conn, awaiting) in local.awaiting.remove(topic).unwrap_or_default() {
            match awaiting {
                Awaiting::Poll(ask) => {
                    if let Some(next) = ask.topics.iter().find(|t| !self.live(t)).cloned() {
                        local
                            .awaiting
                            .entry(next)
                            .or_default()
                            .push((conn, Awaiting::Poll(ask)));
                        continue;
                    }
                    if let Reply::Response(response) =
                        self.serve_poll(local, ask, None, Some(conn), cx)
                    {
                        let _ = cx.respond(conn, &response);
                    }
                }
                Awaiting::Cursor { arrived } => {
                    let _ = cx.respond(conn, &cursor_answer(self.now_at(topic, arrived)));
                }
            }
        }
        self.deliver(local, topic, cx);
    }

    /// `Notice::Acked`: answers for this worker's publishes.
    pub(super) fn on_acked(&self, local: &mut Local, cx: &mut Ctx<'_, Notice>) {
        #[cfg(feature = "redis")]
        if let Some(link) = &self.broker {
            for ack in link.take_acks(local.worker) {
                if cx.is_websocket(ack.conn) {
                    self.ws_acked(local, ack.conn, ack.result, cx);
                    continue;
                }
                let Some(since) = local.publishing.remove(&ack.conn) else {
                    continue;
                };
                let took = u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX);
                self.metrics.publish.observe(took, 1);
                let response = match ack.result {
                    Ok(seq) => {
                        self.stats
                            .published
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        Response::text(seq.to_string())
                    }
                    Err(_) => unavailable(),
                };
                let _ = cx.respond(ack.conn, &response);
            }
        }
        let _ = (local, cx);
    }

    /// The broker's answer to a WebSocket's publish: with `pushwire.v1`, the command's answer;
    /// else nothing on success, and `1013` when the event was not stored.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    fn ws_acked<E>(
        &self,
        local: &mut Local,
        conn: ConnId,
        result: Result<u64, E>,
        cx: &mut Ctx<'_, Notice>,
    ) {
        let pending = local.ws_refs.get_mut(&conn).and_then(|q| q.pop_front());
        if result.is_ok() {
            self.stats
                .published
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        match (pending, result) {
            (Some((reference, topic)), Ok(seq)) if local.commands.contains(&conn) => {
                let _ = cx.send_text(
                    conn,
                    &ok(&reference, "publish", &topic, &format!(",\"seq\":{seq}")),
                );
            }
            (Some((reference, _)), Err(_)) if local.commands.contains(&conn) => {
                let why = "the broker did not store the event: publish again";
                let _ = cx.send_text(conn, &super::commands::error(why, &reference));
            }
            (_, Ok(_)) => {}
            (_, Err(_)) => {
                let _ = cx.close_ws(
                    conn,
                    CloseCode::TRY_AGAIN_LATER,
                    "the broker did not store the event: publish again",
                );
            }
        }
    }

    /// A deferred request's own timeout: a publish or a request that waited for a sync gets
    /// `503`; a poll parked after the sync its deadline's `204`.
    pub(super) fn deferred_expired(&self, local: &mut Local, conn: ConnId) -> Response {
        if local.publishing.remove(&conn).is_some() {
            return unavailable();
        }
        let mut waited = false;
        local.awaiting.retain(|_, list| {
            let before = list.len();
            list.retain(|(c, _)| *c != conn);
            waited |= list.len() != before;
            !list.is_empty()
        });
        if waited {
            return unavailable();
        }
        match self.unpark(local, conn) {
            Some(parked) => self.parked_expired(local, conn, &parked),
            None => Response::new(204),
        }
    }

    /// A follower registered "from now" before its topic was live: remembers when.
    pub(super) fn pend(local: &mut Local, conn: ConnId) {
        local.pending_since.insert(conn, super::wire::unix_nanos());
    }

    /// Where a pending follower starts, now that its topic is live.
    pub(super) fn pending_now(&self, local: &mut Local, conn: ConnId, topic: &str) -> u64 {
        match local.pending_since.get(&conn).copied() {
            Some(arrived) => self.now_at(topic, arrived),
            None => self.hub().last_seq(topic),
        }
    }

    /// Forgets `conn`'s waiting requests.
    pub(super) fn forget_waiting(local: &mut Local, conn: ConnId) {
        local.pending_since.remove(&conn);
        local.publishing.remove(&conn);
        local.ws_refs.remove(&conn);
        local.awaiting.retain(|_, list| {
            list.retain(|(c, _)| *c != conn);
            !list.is_empty()
        });
    }

    /// Tells the broker which topics this worker follows (it unfollows the rest).
    pub(super) fn report_followed(&self, local: &Local, topics: BTreeSet<Arc<str>>) {
        #[cfg(feature = "redis")]
        if let Some(link) = &self.broker {
            link.report(local.worker, topics);
            return;
        }
        let _ = (local, topics);
    }

    /// Whether publishes can be stored now (always, without a broker).
    pub(super) fn broker_up(&self) -> bool {
        #[cfg(feature = "redis")]
        if let Some(link) = &self.broker {
            return link.is_up();
        }
        true
    }

    /// Bytes the broker link holds: what waits to be sent to Redis and what was read from it
    /// and not yet taken (0 without a broker).
    pub(super) fn broker_buffered(&self) -> usize {
        #[cfg(feature = "redis")]
        if let Some(link) = &self.broker {
            return link.buffered();
        }
        0
    }

    /// Times the broker's connection was made again (0 without a broker).
    pub(super) fn broker_reconnects(&self) -> u64 {
        #[cfg(feature = "redis")]
        if let Some(link) = &self.broker {
            return link.reconnects();
        }
        0
    }

    /// `GET /health`: `200` while the node can publish, `503` when its broker is down.
    pub(super) fn health(&self) -> Response {
        #[cfg(feature = "redis")]
        if let Some(link) = &self.broker {
            let up = link.is_up();
            let body = format!(
                "{{\"broker\":\"redis\",\"up\":{up},\"reconnects\":{}}}",
                link.reconnects()
            );
            return Response::new(if up { 200 } else { 503 })
                .header("Content-Type", "application/json")
                .header("Cache-Control", "no-store")
                .body(body.into_bytes());
        }
        Response::new(200)
            .header("Content-Type", "application/json")
            .header("Cache-Control", "no-store")
            .body(&b"{\"broker\":\"embedded\",\"up\":true}"[..])
    }
}

/// `503` with `Retry-After` (RFC 9110 §15.6.4, §10.2.3): nothing was stored.
fn unavailable() -> Response {
    refusal(
        503,
        "the broker (Redis) is unavailable: nothing was published; try again",
    )
    .header("Retry-After", "1")
}

/// The answer to `GET /cursor`.
pub(super) fn cursor_answer(seq: u64) -> Response {
    Response::text(seq.to_string()).header("Cache-Control", "no-store")
}
