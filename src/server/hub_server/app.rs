//! The hub server as an application of the reactor: the routing table and the callbacks.

use super::*;

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
            ("GET", "/wire") if self.has_wire_view() => {
                let reply = self.events_on(local, req, WIRE_TOPIC, None, cx);
                if let (Reply::Stream { .. }, Some(conn)) = (&reply, cx.conn()) {
                    local.wire.insert(conn);
                    self.wire_watchers.fetch_add(1, Ordering::Relaxed);
                }
                reply
            }
            (_, "/wire") if !self.has_wire_view() => refusal(
                404,
                "no such endpoint: /wire (this server has no wire view)",
            )
            .into(),
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
                let io = cx.handle().io_stats();
                let _ = write!(
                    json,
                    ",\"published\":{},\"io\":{{\"reads\":{},\"reads_would_block\":{},\"writes\":{}}}}}",
                    self.stats.published.load(Ordering::Relaxed),
                    io.reads,
                    io.reads_would_block,
                    io.writes
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
            // RFC 9110 §9.3.7: `OPTIONS *` asks about the server as a whole.
            ("OPTIONS", "*") => Response::new(204)
                .header("Allow", "GET, HEAD, POST, OPTIONS")
                .into(),
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
            let wire = Wire::WsText {
                from_client: true,
                payload: text,
            };
            self.wire(Technique::WebSocket, cx, &wire);
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
        local.parking.as_ref()?.poll_timeout()
    }

    /// Parked polls whose deadline passed are answered `204`, with `X-Cursor` saying where to
    /// ask from next (what the request asked from: the newest event then, without a cursor).
    fn handle_timeout(&self, local: &mut Local, cx: &mut Ctx<'_, Notice>) {
        let now = cx.now();
        let expired = self.parking(local).expire(now);
        let counters = &self.stats.long_poll;
        for (conn, parked) in expired {
            Counters::sub_connection(counters);
            Counters::add(&counters.empty, 1);
            let response = Response::new(204).header("X-Cursor", parked.cursor.to_string());
            let shape = local.unusual.remove(&conn).unwrap_or(Shape::USUAL);
            let bytes = response_bytes(shape, 204, &response.headers, Some(&[]));
            Counters::add(&counters.bytes_out, bytes);
            let _ = cx.respond(conn, &response);
        }
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
