//! The routing table: every endpoint with the methods it answers, in one place that both
//! routing and the `Allow` field (RFC 9110 §10.2.1) read.

use super::answers::refusal;
use super::broker;
use super::guard::{Pass, with_cors};
use super::{HubServer, Local, Notice};
use crate::http::Request;
use crate::server::metrics::Kind;
use crate::server::{ConnId, Ctx, Reply, Response};
use std::sync::atomic::Ordering;

/// Who answers an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Route {
    Publish,
    Events,
    Poll,
    Ws,
    Echo,
    Cursor,
    Plaintext,
    Health,
    Ready,
    Stats,
    Metrics,
    Wire,
    DropStreams,
    Session,
    Page,
    Favicon,
    Client,
    ClientTypes,
}

/// One endpoint: its path, the methods it answers (HEAD is answered wherever GET is, and
/// OPTIONS everywhere), and who answers.
struct Endpoint {
    path: &'static str,
    methods: &'static [&'static str],
    route: Route,
}

const fn at(path: &'static str, methods: &'static [&'static str], route: Route) -> Endpoint {
    Endpoint {
        path,
        methods,
        route,
    }
}

const GET: &[&str] = &["GET"];
const POST: &[&str] = &["POST"];

/// Every endpoint of the hub server.
const ENDPOINTS: [Endpoint; 18] = [
    at("/publish", POST, Route::Publish),
    at("/events", GET, Route::Events),
    at("/poll", GET, Route::Poll),
    at("/ws", GET, Route::Ws),
    at("/echo", &["GET", "POST"], Route::Echo),
    at("/cursor", GET, Route::Cursor),
    at("/plaintext", GET, Route::Plaintext),
    at("/health", GET, Route::Health),
    at("/ready", GET, Route::Ready),
    at("/stats", GET, Route::Stats),
    at("/metrics", GET, Route::Metrics),
    at("/wire", GET, Route::Wire),
    at("/drop-streams", POST, Route::DropStreams),
    at("/session", &["POST", "DELETE"], Route::Session),
    at("/", GET, Route::Page),
    at("/favicon.ico", GET, Route::Favicon),
    at("/pushwire.js", GET, Route::Client),
    at("/pushwire.d.ts", GET, Route::ClientTypes),
];

/// The routes a separate metrics listener serves (and the only ones it serves).
const OPERATOR_ROUTES: [Route; 4] = [Route::Health, Route::Ready, Route::Stats, Route::Metrics];

impl HubServer {
    /// The answer to a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`).
    pub(super) fn preflight(
        &self,
        req: &Request<'_>,
        cors: Option<&[u8]>,
        cx: &Ctx<'_, Notice>,
    ) -> Response {
        let Some(route) = self.endpoint(req.path(), cx.conn(), cx) else {
            return refusal(404, &format!("no such endpoint: {}", req.path()));
        };
        let allow = allowed_methods(route);
        let mut response = Response::new(204).header("Allow", allow.clone());
        if let Some(origin) = cors {
            response = with_cors(response, origin)
                .header("Access-Control-Allow-Methods", allow.clone())
                .header(
                    "Access-Control-Allow-Headers",
                    "Authorization, Content-Type, Last-Event-ID",
                )
                .header("Access-Control-Max-Age", "600");
        }
        response
    }

    /// The endpoint at `path` as this server and this connection see it: `None` for an unknown
    /// path, and for one this server does not serve here (no wire view, no page, the
    /// operator's figures on a public listener when they have one of their own).
    pub(super) fn endpoint(
        &self,
        path: &str,
        conn: Option<ConnId>,
        cx: &Ctx<'_, Notice>,
    ) -> Option<Route> {
        let route = ENDPOINTS.iter().find(|e| e.path == path)?.route;
        let operator = self
            .admin_listener
            .is_some_and(|l| conn.and_then(|c| cx.listener(c)) == Some(l));
        let served = match route {
            Route::Wire => self.has_wire_view(),
            Route::Page => !self.page.is_empty(),
            _ if operator => OPERATOR_ROUTES.contains(&route),
            Route::Stats | Route::Metrics => self.admin_listener.is_none(),
            _ => true,
        };
        served.then_some(route)
    }

    /// Answers a request the guard let through.
    pub(super) fn route(
        &self,
        local: &mut Local,
        req: &Request<'_>,
        body: &[u8],
        pass: &Pass,
        cx: &mut Ctx<'_, Notice>,
    ) -> Reply {
        let Some(route) = self.endpoint(req.path(), cx.conn(), cx) else {
            // RFC 9110 §9.3.7: `OPTIONS *` asks about the server as a whole.
            if (req.method, req.target) == ("OPTIONS", "*") {
                return Response::new(204)
                    .header("Allow", "GET, HEAD, POST, OPTIONS")
                    .into();
            }
            return refusal(404, &format!("no such endpoint: {}", req.path())).into();
        };
        let allow = allowed_methods(route);
        if !allows(route, req.method) {
            // RFC 9110 §9.3.7: OPTIONS names what the resource answers; §15.5.6: 405 carries
            // Allow.
            if req.method == "OPTIONS" {
                return Response::new(204).header("Allow", allow).into();
            }
            let why = format!("{} is not allowed here; allowed: {allow}", req.method);
            return refusal(405, &why).header("Allow", allow).into();
        }
        if let Some(conn) = cx.conn() {
            self.mark(conn, route, req, cx);
        }
        match route {
            Route::Publish => self.publish_route(local, req, body, pass, cx),
            Route::Events => self.events(local, req, cx),
            Route::Poll => self.poll(local, req, cx),
            Route::Ws | Route::Echo if req.method == "GET" && !req.is_upgrade() => {
                // RFC 9110 §15.5.22: a WebSocket endpoint asked without an upgrade.
                refusal(
                    426,
                    "this endpoint speaks WebSocket: send an upgrade request (RFC 6455 §4.1)",
                )
                .header("Upgrade", "websocket")
                .into()
            }
            Route::Ws => self.ws_route(local, req, cx),
            Route::Echo => self.echo_route(local, req, body, cx),
            Route::Cursor => self.cursor_route(local, req, cx),
            Route::Plaintext => Response::text("Hello, World!").into(),
            Route::Health => self.health().into(),
            Route::Ready => self.ready().into(),
            Route::Stats => self.stats_answer(cx).into(),
            Route::Metrics => self.metrics_answer(cx).into(),
            Route::Wire => {
                let reply = self.events_on_wire(local, req, cx);
                if let (Reply::Stream { .. }, Some(conn)) = (&reply, cx.conn()) {
                    local.wire.insert(conn);
                    self.wire_watchers.fetch_add(1, Ordering::Relaxed);
                }
                reply
            }
            Route::DropStreams => {
                cx.handle().notify(Notice::DropStreams);
                Response::new(204).into()
            }
            Route::Session => self.session(req, pass, cx).into(),
            Route::Page => Response::new(200)
                .header("Content-Type", "text/html; charset=utf-8")
                .body(self.page)
                .into(),
            // Browsers ask for it on every page load; there is no icon.
            Route::Favicon => Response::new(204).into(),
            Route::Client => super::client::script().into(),
            Route::ClientTypes => super::client::types().into(),
        }
    }

    /// Marks the connection with the technique of its request, for the metrics and the line
    /// logged when it ends; a connection's first request counts it as opened.
    fn mark(&self, conn: ConnId, route: Route, req: &Request<'_>, cx: &mut Ctx<'_, Notice>) {
        let kind = match route {
            Route::Events => Kind::Sse,
            Route::Poll if req.query_param("wait") == Some("0") => Kind::ShortPoll,
            Route::Poll => Kind::LongPoll,
            Route::Ws if req.is_upgrade() => Kind::WebSocket,
            Route::Echo if req.is_upgrade() => Kind::Echo,
            _ => Kind::Http,
        };
        if cx.tag(conn) == Some(0) {
            self.metrics.opened(kind);
        }
        cx.set_tag(conn, kind.tag());
    }

    /// `POST /publish`: the body becomes the topic's next event.
    fn publish_route(
        &self,
        local: &mut Local,
        req: &Request<'_>,
        body: &[u8],
        pass: &Pass,
        cx: &mut Ctx<'_, Notice>,
    ) -> Reply {
        if let Err(wait) = self.holder_may_publish(pass.holder.as_ref(), cx.now()) {
            self.refuse(
                crate::server::metrics::Refusal::RateLimited,
                req,
                cx,
                "publish rate exceeded",
            );
            // RFC 6585 §4.
            return refusal(429, "publish rate exceeded for this token")
                .header("Retry-After", wait.as_secs().to_string())
                .into();
        }
        let topic = match self.topic(req) {
            Ok(topic) => topic,
            Err(response) => return response.into(),
        };
        if self.brokered() {
            return self.publish_remote(local, &topic, body, cx);
        }
        let started = std::time::Instant::now();
        let reply = match self.publish(&topic, body, cx) {
            Ok(seq) => Response::text(seq.to_string()).into(),
            Err(response) => response.into(),
        };
        let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.metrics.publish.observe(took, 1);
        reply
    }

    /// `GET /echo` (upgrade): every message comes back; `POST /echo`: the body comes back.
    fn echo_route(
        &self,
        local: &mut Local,
        req: &Request<'_>,
        body: &[u8],
        cx: &mut Ctx<'_, Notice>,
    ) -> Reply {
        if req.method == "POST" {
            return Response::new(200).body(body.to_vec()).into();
        }
        if let (Some(conn), true) = (cx.conn(), crate::ws::check_request(req).is_ok()) {
            local.echo.insert(conn);
        }
        Reply::WebSocket { protocol: None }
    }

    /// `GET /cursor`: the topic's newest sequence number.
    fn cursor_route(
        &self,
        local: &mut Local,
        req: &Request<'_>,
        cx: &mut Ctx<'_, Notice>,
    ) -> Reply {
        match self.topic(req) {
            Ok(topic) if !self.live(&topic) => {
                let arrived = super::wire::unix_nanos();
                self.await_sync(
                    local,
                    &topic,
                    super::follow::Awaiting::Cursor { arrived },
                    cx,
                )
            }
            Ok(topic) => broker::cursor_answer(self.hub().last_seq(&topic)).into(),
            Err(response) => response.into(),
        }
    }
}

/// Whether `route` answers `method` (HEAD wherever GET is).
fn allows(route: Route, method: &str) -> bool {
    let methods = ENDPOINTS
        .iter()
        .find(|e| e.route == route)
        .map_or(&[][..], |e| e.methods);
    methods.contains(&method) || (method == "HEAD" && methods.contains(&"GET"))
}

/// The `Allow` field of `route` (RFC 9110 §10.2.1).
pub(super) fn allowed_methods(route: Route) -> String {
    let methods = ENDPOINTS
        .iter()
        .find(|e| e.route == route)
        .map_or(&[][..], |e| e.methods);
    let mut allow = Vec::new();
    for &method in methods {
        allow.push(method);
        if method == "GET" {
            allow.push("HEAD");
        }
    }
    allow.push("OPTIONS");
    allow.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_names_its_methods_in_allow() {
        assert_eq!(allowed_methods(Route::Publish), "POST, OPTIONS");
        assert_eq!(allowed_methods(Route::Echo), "GET, HEAD, POST, OPTIONS");
        assert_eq!(allowed_methods(Route::Session), "POST, DELETE, OPTIONS");
        assert_eq!(allowed_methods(Route::Events), "GET, HEAD, OPTIONS");
        assert!(allows(Route::Events, "HEAD"));
        assert!(!allows(Route::Publish, "GET"));
        for (i, e) in ENDPOINTS.iter().enumerate() {
            assert!(
                ENDPOINTS[..i]
                    .iter()
                    .all(|o| o.path != e.path && o.route != e.route),
                "{} is in the table once",
                e.path
            );
        }
    }
}
