//! The hub server as an application of the reactor: its callbacks (the routing table is
//! `routes.rs`, the access checks `guard.rs`).

use super::*;

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
        let Some(conn) = cx.conn() else { return };
        if let (Some(topic), Some(cursor)) = (
            local.ws.topic(conn).map(String::from),
            local.ws.cursor(conn),
        ) {
            Counters::add(&self.stats.websocket.connections, 1);
            Counters::add(&self.stats.websocket.bytes_out, WS_101_BYTES);
            // A client that named a cursor gets what it missed at once (over a broker, once
            // the topic's cache is live: `Notice::Synced` delivers it).
            match (self.live(&topic), cursor) {
                (false, _) => {}
                // Asked "from now" before the topic was live, which it became since.
                (true, broker::PENDING) => {
                    let now = self.pending_now(local, conn, &topic);
                    local.ws.subscribe(conn, &topic, now);
                }
                (true, cursor) => self.ws_catch_up(local, conn, &topic, cursor, cx),
            }
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
            let wire = Wire::WsText {
                from_client: true,
                payload: text,
            };
            self.wire(Technique::WebSocket, cx, &wire);
            Counters::add(&self.stats.websocket.bytes_in, text.len() as u64);
            if let Err(reason) = self.ws_may_publish(local, conn, &topic, cx.now()) {
                // RFC 6455 §7.4.1: 1008, a message that violates the server's policy.
                let _ = cx.close_ws(conn, CloseCode::POLICY_VIOLATION, &reason);
                return;
            }
            if self.brokered() {
                self.ws_publish_remote(local, conn, &topic, text, cx);
                return;
            }
            if self.publish(&topic, text.as_bytes(), cx).is_err() {
                let _ = cx.close_ws(conn, CloseCode::POLICY_VIOLATION, "publish refused");
            }
        }
    }

    fn notice(&self, local: &mut Local, notice: &Notice, cx: &mut Ctx<'_, Notice>) {
        match notice {
            Notice::Published(topic) => self.deliver(local, topic, cx),
            Notice::Synced(topic) => self.on_synced(local, topic, cx),
            Notice::Acked => self.on_acked(local, cx),
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
        self.report_followed(local);
        // Keep-alive comments on the streams of topics quiet for the interval: one
        // `sse::EventStream` clock per topic, its comment written to every stream of the topic.
        let now = cx.now();
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
        let expired = self.parking(local).expire(now);
        for (conn, parked) in expired {
            let response = self.parked_expired(local, conn, parked.cursor);
            let _ = cx.respond(conn, &response);
        }
    }

    fn closed(&self, local: &mut Local, conn: ConnId, _: &mut Ctx<'_, Notice>) {
        let topic = local
            .sse
            .topic(conn)
            .or_else(|| local.ws.topic(conn))
            .map(Arc::<str>::from);
        let topic = topic.or_else(|| {
            let parked = local.parking.as_ref()?.get(conn)?;
            Some(Arc::from(&*parked.topic))
        });
        self.remember_topic(local, conn, topic.as_deref());
        Self::forget_access(local, conn);
        Self::forget_waiting(local, conn);
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

    fn ended(&self, local: &mut Local, ended: &crate::reactor::Ended) {
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
