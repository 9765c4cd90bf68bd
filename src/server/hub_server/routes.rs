//! The routing table: which handler answers which method and path.

use super::guard::Pass;
use super::*;

impl HubServer {
    /// Answers a request the guard let through.
    pub(super) fn route(
        &self,
        local: &mut Local,
        req: &Request<'_>,
        body: &[u8],
        pass: &Pass,
        cx: &mut Ctx<'_, Notice>,
    ) -> Reply {
        match (req.method, req.path()) {
            ("POST", "/publish") => {
                if let Err(wait) = self.holder_may_publish(pass.holder.as_ref(), cx.now()) {
                    // RFC 6585 §4.
                    return refusal(429, "publish rate exceeded for this token")
                        .header("Retry-After", wait.as_secs().to_string())
                        .into();
                }
                if self.brokered() {
                    return match self.topic(req) {
                        Ok(topic) => self.publish_remote(local, &topic, body, cx),
                        Err(response) => response.into(),
                    };
                }
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
                // No cursor: from now on, as on every technique (over a broker, "now" is
                // known once this node's cache of the topic is live).
                let live = self.live(&topic);
                if !live {
                    self.follow(&topic);
                }
                let cursor = match (cursor, live) {
                    (Some(cursor), _) => cursor,
                    (None, true) => self.hub().last_seq(&topic),
                    (None, false) => broker::PENDING,
                };
                Counters::add(&self.stats.websocket.requests, 1);
                // Follow the topic only if the handshake will succeed: a refused upgrade never
                // becomes a socket, and would leave a subscription behind.
                if crate::ws::check_request(req).is_ok() {
                    local.ws.subscribe(conn, &topic, cursor);
                    if cursor == broker::PENDING {
                        Self::pend(local, conn);
                    }
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
                Ok(topic) if !self.live(&topic) => {
                    let arrived = super::wire::unix_nanos();
                    self.await_sync(local, &topic, broker::Awaiting::Cursor { arrived }, cx)
                }
                Ok(topic) => broker::cursor_answer(self.hub().last_seq(&topic)).into(),
                Err(response) => response.into(),
            },
            ("GET", "/health") => self.health().into(),
            ("POST", "/drop-streams") => {
                cx.handle().notify(Notice::DropStreams);
                Response::new(204).into()
            }
            ("POST" | "DELETE", "/session") => self.session(req, pass, cx).into(),
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
                    ",\"published\":{},\"io\":{},\"broker\":{}}}",
                    self.stats.published.load(Ordering::Relaxed),
                    io.json(),
                    String::from_utf8_lossy(&self.health().body),
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
}
