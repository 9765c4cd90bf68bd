//! The hub server as an application of the reactor: its callbacks (the routing table is
//! `routes.rs`, the access checks `guard.rs`).

use super::stats::Counters;
use super::{HubServer, Local, Notice};
use crate::http::Request;
use crate::longpoll::Parking;
use crate::reactor::{App, ConnId, Ctx, Ended, Message, Reply, Response};
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl App for HubServer {
    type Local = Local;
    type Notice = Notice;

    fn local(&self) -> Local {
        Local {
            worker: self.workers.fetch_add(1, Ordering::Relaxed),
            ..Local::default()
        }
    }

    fn request(
        &self,
        local: &mut Local,
        req: &Request<'_>,
        body: &[u8],
        cx: &mut Ctx<'_, Notice>,
    ) -> Reply {
        // The policy first (`401`, `403`, CORS preflights), then the route.
        let pass = match self.guard(req, cx) {
            Ok(pass) => pass,
            Err(response) => return response.into(),
        };
        let mut reply = self.route(local, req, body, &pass, cx);
        self.admit(local, req, pass, &mut reply, cx);
        reply
    }

    fn ws_open(&self, local: &mut Local, cx: &mut Ctx<'_, Notice>) {
        self.ws_opened(local, cx);
    }

    fn ws_message(&self, local: &mut Local, message: Message<'_>, cx: &mut Ctx<'_, Notice>) {
        self.ws_received(local, message, cx);
    }

    fn notice(&self, local: &mut Local, notice: &Notice, cx: &mut Ctx<'_, Notice>) {
        match notice {
            Notice::Published(topic) => self.deliver(local, topic, cx),
            Notice::Synced(topic) => self.on_synced(local, topic, cx),
            Notice::Acked => self.on_acked(local, cx),
            Notice::DropStreams => {
                let streams: Vec<ConnId> = local
                    .sse
                    .ids()
                    .filter(|&c| !local.wire.contains(&c))
                    .collect();
                for conn in streams {
                    cx.close(conn);
                }
            }
        }
    }

    fn tick(&self, local: &mut Local, cx: &mut Ctx<'_, Notice>) {
        let now = cx.now();
        self.keep_followed(local, now);
        self.fit_memory(cx);
        // Keep-alive comments on the streams of topics quiet for the interval: one
        // `sse::EventStream` clock per topic, its comment written to every stream of the topic.
        local
            .sse_clocks
            .retain(|topic, _| local.sse.of_topic(topic).next().is_some());
        let mut comments: Vec<(Arc<str>, Vec<u8>)> = Vec::new();
        for (topic, clock) in &mut local.sse_clocks {
            let mut comment = Vec::new();
            clock.handle_timeout(now, &mut comment);
            if !comment.is_empty() {
                comments.push((topic.clone(), comment));
            }
        }
        for (topic, comment) in comments {
            let followers: Vec<ConnId> = local.sse.of_topic(&topic).map(|(c, _)| c).collect();
            for conn in followers {
                if let Ok(written) = cx.stream_write(conn, &comment) {
                    Counters::add(&self.stats.sse.bytes_out, written as u64);
                }
            }
        }
    }

    fn poll_timeout(&self, local: &Local) -> Option<crate::Instant> {
        let parked = local.parking.as_ref().and_then(Parking::poll_timeout);
        crate::time::earliest(parked, Self::next_expiry(local))
    }

    /// Parked polls whose deadline passed are answered `204`, with `X-Cursor` saying where to
    /// ask from next (what the request asked from: the newest event then, without a cursor).
    fn handle_timeout(&self, local: &mut Local, cx: &mut Ctx<'_, Notice>) {
        self.expire_tokens(local, cx);
        let now = cx.now();
        let expired = self.expire_parked(local, now);
        for (conn, parked) in expired {
            let response = self.parked_expired(local, conn, &parked);
            let _ = cx.respond(conn, &response);
        }
    }

    fn closed(&self, local: &mut Local, conn: ConnId, _: &mut Ctx<'_, Notice>) {
        self.forget(local, conn);
    }

    fn ended(&self, local: &mut Local, ended: &Ended) {
        self.log_ended(local, ended);
    }

    /// A graceful shutdown: every client is told where to resume — an event stream gets a
    /// `retry:` and ends (EventSource reconnects with its `Last-Event-ID`, to another node),
    /// a WebSocket is closed `1001` with its cursor, a parked poll is answered now with its
    /// `X-Cursor`. A publish waiting for the broker keeps waiting for its answer.
    fn draining(&self, local: &mut Local, cx: &mut Ctx<'_, Notice>) {
        self.drain(local, cx);
    }

    fn deferred_timeout(
        &self,
        local: &mut Local,
        conn: ConnId,
        _: &mut Ctx<'_, Notice>,
    ) -> Response {
        self.deferred_expired(local, conn)
    }
}
