//! Access control on the hub's routes (the [`Policy`]): origins, tokens, publish rates, the
//! CORS answers for listed origins, and the end of long-lived connections when their token
//! expires. An open policy (the default) lets everything through as before.

use super::answers::refusal;
use super::stats::{Counters, Fields};
use super::{HubServer, Local, Notice};
use crate::http::Request;
use crate::reactor::{ConnId, Ctx, Reply, Response};
use crate::server::auth::origin::same_origin;
use crate::server::auth::rate::Bucket;
use crate::server::auth::scope::{Action, Grants};
use crate::server::metrics::Refusal;
use crate::time::Instant;
use crate::ws::CloseCode;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

/// The fields a CORS answer carries besides `Access-Control-Allow-Origin` (Fetch standard,
/// §3.2.3): credentials are allowed only because the origin is named, never with `*`.
const CORS_FIELDS: [(&str, &[u8]); 3] = [
    ("Access-Control-Allow-Credentials", b"true"),
    (
        "Access-Control-Expose-Headers",
        b"X-Cursor, Retry-After, WWW-Authenticate",
    ),
    ("Vary", b"Origin"),
];

/// What the guard learned about a request it let through.
#[derive(Default)]
pub(super) struct Pass {
    /// A listed cross-origin page: the answer carries CORS fields naming it.
    pub cors: Option<Arc<[u8]>>,
    /// When the token stops being valid (Unix seconds), if a token was needed.
    pub expires: Option<u64>,
    /// What the token grants, if a token was needed.
    pub grants: Option<Arc<Grants>>,
    /// Who holds the token (its `sub`, else the token), for per-holder limits.
    pub holder: Option<Arc<str>>,
}

/// What a route needs from the asker.
#[cfg_attr(not(feature = "auth"), allow(dead_code))]
enum Need<'a> {
    Nothing,
    /// A valid token, whatever it grants.
    Token,
    One(Action, Cow<'a, str>),
    /// The action on each of these topics.
    Topics(Action, Vec<Cow<'a, str>>),
    Every(Action),
    /// The right to read the server's figures.
    Admin,
}

/// A token-holder's state on one WebSocket.
pub(super) struct WsAccess {
    grants: Option<Arc<Grants>>,
    holder: Option<Arc<str>>,
    bucket: Option<Bucket>,
}

impl HubServer {
    /// Checks `req` against the policy: `Err` is the answer (`401`, `403`, `400`, or the
    /// answer to a CORS preflight).
    pub(super) fn guard(&self, req: &Request<'_>, cx: &Ctx<'_, Notice>) -> Result<Pass, Response> {
        let mut pass = Pass::default();
        if self.policy.is_open() {
            return Ok(pass);
        }
        let need = self.need(req, cx)?;
        let preflight =
            req.method == "OPTIONS" && req.header("access-control-request-method").is_some();
        let checked = !matches!(need, Need::Nothing) || req.is_upgrade() || preflight;
        if let Some(origin) = req.header("origin") {
            if checked && !same_origin(origin, req.header("host")) {
                if !self.policy.origins.lists(origin) {
                    self.refuse(Refusal::Origin, req, cx, "origin not on the allow-list");
                    return Err(refusal(
                        403,
                        &format!(
                            "origin {} may not use this server (not on its allow-list)",
                            String::from_utf8_lossy(origin)
                        ),
                    ));
                }
                pass.cors = Some(origin.into());
            }
        }
        if preflight {
            return Err(self.preflight(req, pass.cors.as_deref(), cx));
        }
        // A listed page can read why it was refused.
        let cors = pass.cors.clone();
        self.check_token(req, need, cx, &mut pass)
            .map_err(|refusal| match &cors {
                Some(origin) => with_cors(refusal, origin),
                None => refusal,
            })?;
        Ok(pass)
    }

    /// What a route needs (`400` for a malformed topic).
    fn need<'a>(&self, req: &Request<'a>, cx: &Ctx<'_, Notice>) -> Result<Need<'a>, Response> {
        let operator = self
            .admin_listener
            .is_some_and(|l| cx.conn().and_then(|c| cx.listener(c)) == Some(l));
        Ok(match (req.method, req.path()) {
            // The operator's own listener needs no token (and serves nothing else); elsewhere,
            // the figures need the right to read them.
            _ if operator => Need::Nothing,
            // With an operator listener they are not served here at all (`404` from the route).
            ("GET" | "HEAD", "/metrics" | "/stats") if self.admin_listener.is_some() => {
                Need::Nothing
            }
            ("GET" | "HEAD", "/metrics" | "/stats") => Need::Admin,
            ("POST", "/publish") => Need::One(Action::Publish, self.topic(req)?),
            ("GET", "/cursor") => Need::One(Action::Subscribe, self.topic(req)?),
            // A `pushwire.v1` socket that names no topic subscribes by commands, each checked
            // against the token's grants as it comes.
            ("GET", "/ws") if commands_only(req) => Need::Token,
            ("GET", "/events" | "/poll" | "/ws") => {
                Need::Topics(Action::Subscribe, self.topics(req)?)
            }
            // Samples of every topic's traffic; closing every stream.
            ("GET", "/wire") => Need::Every(Action::Subscribe),
            ("POST", "/drop-streams") => Need::Every(Action::Publish),
            ("POST", "/session") => Need::Token,
            _ => Need::Nothing,
        })
    }

    /// With tokens required and a route that needs one: the token, verified and in scope.
    fn check_token(
        &self,
        req: &Request<'_>,
        need: Need<'_>,
        cx: &Ctx<'_, Notice>,
        pass: &mut Pass,
    ) -> Result<(), Response> {
        #[cfg(feature = "auth")]
        if let (Some(verifier), false) = (&self.policy.verifier, matches!(need, Need::Nothing)) {
            use crate::server::auth::source;
            let token = source::token(req, self.policy.cookie_name())
                .map_err(super::answers::bad_request)?;
            // RFC 6750 §3.1: no credentials, no error code.
            let Some(token) = token else {
                self.refuse(Refusal::Unauthorized, req, cx, "no token");
                return Err(unauthorized(None));
            };
            let verified = verifier.verify(&token, cx.unix_secs());
            let claims = verified.map_err(|e| {
                self.refuse(Refusal::Unauthorized, req, cx, &e.to_string());
                unauthorized(Some(&e.to_string()))
            })?;
            let allowed = match &need {
                Need::One(action, topic) => claims.grants.allow(*action, topic),
                Need::Topics(action, topics) => {
                    topics.iter().all(|t| claims.grants.allow(*action, t))
                }
                Need::Every(action) => claims.grants.allow_all(*action),
                Need::Admin => claims.grants.admin,
                Need::Token | Need::Nothing => true,
            };
            if !allowed {
                let (action, what) = match &need {
                    Need::One(action, topic) => (*action, format!("topic {topic}")),
                    Need::Topics(action, topics) => {
                        let denied = topics
                            .iter()
                            .find(|t| !claims.grants.allow(*action, t))
                            .map_or("", |t| &**t);
                        (*action, format!("topic {denied}"))
                    }
                    Need::Every(action) => (*action, "every topic".into()),
                    Need::Admin => (Action::Subscribe, "the server's figures".into()),
                    Need::Token | Need::Nothing => (Action::Subscribe, String::new()),
                };
                self.refuse(Refusal::Forbidden, req, cx, &format!("scope: {what}"));
                return Err(forbidden(action, &what));
            }
            pass.expires = Some(claims.exp);
            pass.holder = Some(match claims.sub {
                Some(sub) => sub.into(),
                None => token.into(),
            });
            pass.grants = Some(Arc::new(claims.grants));
        }
        #[cfg(not(feature = "auth"))]
        let _ = (req, need, cx, pass);
        Ok(())
    }

    /// `POST /session` (with a valid token): the token as an `HttpOnly`, `SameSite=Strict`
    /// cookie for as long as it is valid, so a page's `EventSource` and `WebSocket` carry it
    /// without putting it in URLs (which proxies log). `DELETE /session` clears it. `404` on a
    /// server without tokens.
    pub(super) fn session(&self, req: &Request<'_>, pass: &Pass, cx: &Ctx<'_, Notice>) -> Response {
        let name = self.policy.cookie_name();
        if !self.policy.requires_tokens() {
            return refusal(
                404,
                "this server asks for no tokens: there is no session to set",
            );
        }
        // Over https the cookie is marked `Secure` (RFC 6265 §4.1.2.5): never sent over plain
        // http.
        let secure = if cx.conn().is_some_and(|c| cx.is_tls(c)) {
            "; Secure"
        } else {
            ""
        };
        if req.method == "DELETE" {
            return Response::new(204).header(
                "Set-Cookie",
                format!("{name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}"),
            );
        }
        // The guard verified it; read it again from where it came.
        let token = crate::server::auth::source::token(req, name)
            .ok()
            .flatten()
            .expect("the guard let the request through with this token");
        let max_age = pass.expires.unwrap_or(0).saturating_sub(cx.unix_secs());
        Response::new(204).header(
            "Set-Cookie",
            format!("{name}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"),
        )
    }

    /// Takes a publish from the holder's bucket (shared by all its connections).
    pub(super) fn holder_may_publish(
        &self,
        pass_holder: Option<&Arc<str>>,
        now: Instant,
    ) -> Result<(), Duration> {
        let (Some(rate), Some(holder)) = (self.policy.publish_rate, pass_holder) else {
            return Ok(());
        };
        let mut buckets = crate::reactor::lock(&self.buckets);
        if buckets.len() >= MAX_HOLDERS {
            // Holders whose bucket refilled have nothing to remember.
            buckets.retain(|_, b| !b.is_full(rate, now));
        }
        buckets
            .entry(holder.clone())
            .or_insert_with(|| Bucket::full(rate, now))
            .take(rate, now)
    }

    /// After routing: the CORS fields, and what long-lived connections must remember (when
    /// the token expires; what a WebSocket may publish).
    pub(super) fn admit(
        &self,
        local: &mut Local,
        req: &Request<'_>,
        pass: Pass,
        reply: &mut Reply,
        cx: &Ctx<'_, Notice>,
    ) {
        if let Some(origin) = &pass.cors {
            let added = cors_fields(origin);
            let bytes: usize = added.iter().map(|(n, v)| n.len() + 2 + v.len() + 2).sum();
            let counters = match req.path() {
                "/events" => Some(&self.stats.sse),
                "/poll"
                    if crate::server::query::param(req, "wait")
                        .is_ok_and(|w| w.as_deref() == Some("0")) =>
                {
                    Some(&self.stats.short_poll)
                }
                "/poll" => Some(&self.stats.long_poll),
                _ => None,
            };
            match reply {
                Reply::Response(response) => {
                    response.headers.extend(added);
                    if let Some(counters) = counters {
                        Counters::add(&counters.bytes_out, bytes as u64);
                    }
                }
                Reply::Stream { headers, .. } => {
                    headers.extend(added);
                    if let Some(counters) = counters {
                        Counters::add(&counters.bytes_out, bytes as u64);
                    }
                }
                Reply::Defer { .. } => {
                    if let Some(conn) = cx.conn() {
                        local.cors.insert(conn, origin.clone());
                    }
                }
                _ => {}
            }
        }
        let Some(conn) = cx.conn() else { return };
        let long_lived = matches!(
            reply,
            Reply::Stream { .. } | Reply::WebSocket { .. } | Reply::Defer { .. }
        );
        if let (true, Some(expires)) = (long_lived, pass.expires) {
            let left = expires.saturating_sub(cx.unix_secs());
            let at = cx.now().saturating_add(Duration::from_secs(left));
            local.expiry.insert((at, conn));
            local.expires.insert(conn, at);
        }
        if matches!(reply, Reply::WebSocket { .. })
            && (pass.grants.is_some() || self.policy.publish_rate.is_some())
        {
            let bucket = self.policy.publish_rate.map(|r| Bucket::full(r, cx.now()));
            local.ws_access.insert(
                conn,
                WsAccess {
                    grants: pass.grants,
                    holder: pass.holder,
                    bucket,
                },
            );
        }
    }

    /// Whether WebSocket `conn`'s token allows `action` on `topic` (always, without a token).
    pub(super) fn ws_grants(
        &self,
        local: &Local,
        conn: ConnId,
        action: Action,
        topic: &str,
    ) -> bool {
        local
            .ws_access
            .get(&conn)
            .and_then(|a| a.grants.as_ref())
            .is_none_or(|g| g.allow(action, topic))
    }

    /// Whether WebSocket `conn` may publish to `topic` now; `Err` is the reason to close with
    /// `1008` (or, with `pushwire.v1`, to answer).
    pub(super) fn ws_may_publish(
        &self,
        local: &mut Local,
        conn: ConnId,
        topic: &str,
        now: Instant,
    ) -> Result<(), String> {
        let Some(access) = local.ws_access.get_mut(&conn) else {
            return Ok(());
        };
        if let Some(grants) = &access.grants {
            if !grants.allow(Action::Publish, topic) {
                return Err(format!("this token may not publish to topic {topic}"));
            }
        }
        if let (Some(rate), Some(bucket)) = (self.policy.publish_rate, &mut access.bucket) {
            bucket.take(rate, now).map_err(|_| {
                self.metrics.refused(Refusal::RateLimited);
                "publish rate exceeded on this connection".to_string()
            })?;
        }
        self.holder_may_publish(access.holder.as_ref(), now)
            .map_err(|_| {
                self.metrics.refused(Refusal::RateLimited);
                "publish rate exceeded for this token".to_string()
            })
    }

    /// A parked poll is being answered: the CORS fields its answer is owed, and its token's
    /// expiry forgotten (the connection may carry another request next).
    pub(super) fn unpark_access(local: &mut Local, conn: ConnId, response: &mut Response) {
        if let Some(origin) = local.cors.get(&conn) {
            response.headers.extend(cors_fields(origin));
        }
        Self::forget_access(local, conn);
    }

    /// The earliest token expiry among this worker's long-lived connections.
    pub(super) fn next_expiry(local: &Local) -> Option<Instant> {
        local.expiry.first().map(|(at, _)| *at)
    }

    /// Ends the long-lived connections whose token expired by `now`: an event stream gets a
    /// `retry:` and ends (EventSource comes back with a fresh token and its `Last-Event-ID`), a
    /// WebSocket is closed `1008` with its cursor, a parked poll is answered `401`. The client
    /// resumes from its cursor: nothing is lost.
    pub(super) fn expire_tokens(&self, local: &mut Local, cx: &mut Ctx<'_, Notice>) {
        let now = cx.now();
        while let Some(&(at, conn)) = local.expiry.first() {
            if at > now {
                break;
            }
            local.expiry.remove(&(at, conn));
            local.expires.remove(&conn);
            if local.sse.follows(conn) {
                let ending = b"retry: 1000\n: the access token expired\n\n";
                if let Ok(written) = cx.stream_write(conn, ending) {
                    Counters::add(&self.stats.sse.bytes_out, written as u64);
                }
                let _ = cx.stream_end(conn);
                // The server ended it: the reactor will not report it as closed.
                self.forget(local, conn);
            } else if local.ws.follows(conn) || local.commands.contains(&conn) {
                let reason = format!("token expired; {}", self.resume_hint(local, conn));
                let _ = cx.close_ws(conn, CloseCode::POLICY_VIOLATION, &reason);
            } else if self.unpark(local, conn).is_some() {
                Counters::sub_connection(&self.stats.long_poll);
                local.unusual.remove(&conn);
                let mut response = unauthorized(Some("the token expired"));
                Self::unpark_access(local, conn, &mut response);
                let _ = cx.respond(conn, &response);
            }
        }
    }

    /// Forgets what the guard kept about `conn`.
    pub(super) fn forget_access(local: &mut Local, conn: ConnId) {
        if let Some(at) = local.expires.remove(&conn) {
            local.expiry.remove(&(at, conn));
        }
        local.ws_access.remove(&conn);
        local.cors.remove(&conn);
    }
}

/// Holders remembered for publish rates before the full buckets are dropped.
const MAX_HOLDERS: usize = 10_000;

fn cors_fields(origin: &[u8]) -> Fields {
    let mut fields: Fields = vec![(
        Cow::Borrowed("Access-Control-Allow-Origin"),
        Cow::Owned(origin.to_vec()),
    )];
    fields.extend(
        CORS_FIELDS
            .iter()
            .map(|(n, v)| (Cow::Borrowed(*n), Cow::Borrowed(*v))),
    );
    fields
}

pub(super) fn with_cors(mut response: Response, origin: &[u8]) -> Response {
    response.headers.extend(cors_fields(origin));
    response
}

/// `s` as an RFC 6750 §3 `error_description`: printable ASCII without `"` and `\\`.
fn description(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' ' | '!' | '#'..='[' | ']'..='~' => c,
            _ => '?',
        })
        .collect()
}

/// `401` (RFC 6750 §3): without a token, a bare challenge (§3.1: no error code); with a bad
/// one, `error="invalid_token"` and why (never the token).
pub(super) fn unauthorized(why: Option<&str>) -> Response {
    let challenge = match why {
        None => "Bearer realm=\"pushwire\"".to_string(),
        Some(why) => format!(
            "Bearer realm=\"pushwire\", error=\"invalid_token\", error_description=\"{}\"",
            description(why)
        ),
    };
    refusal(401, why.unwrap_or("an access token is required")).header("WWW-Authenticate", challenge)
}

/// `403` with `error="insufficient_scope"` (RFC 6750 §3.1).
#[cfg_attr(not(feature = "auth"), allow(dead_code))]
fn forbidden(action: Action, what: &str) -> Response {
    let verb = match action {
        Action::Subscribe => "subscribe to",
        Action::Publish => "publish to",
    };
    let why = format!("the token does not allow to {verb} {what}");
    refusal(403, &why).header(
        "WWW-Authenticate",
        format!(
            "Bearer realm=\"pushwire\", error=\"insufficient_scope\", error_description=\"{}\"",
            description(&why)
        ),
    )
}

/// A `pushwire.v1` WebSocket upgrade that names no topic: it subscribes by commands.
fn commands_only(req: &Request<'_>) -> bool {
    let offered = req.headers().get_all("sec-websocket-protocol").any(|v| {
        v.split(|&b| b == b',')
            .any(|p| p.trim_ascii() == super::ws::PROTOCOL.as_bytes())
    });
    offered && crate::server::query::params(req, "topic").is_ok_and(|t| t.is_empty())
}
