//! The dispatcher: a connection's machine is fed, and what it reports goes to the application
//! — a request (once its body is in), a WebSocket message, an upgrade, a deadline — and the
//! application's [`Reply`] is carried out. [`Driver`] holds what every step needs: the
//! application, its per-worker state, the worker's connections and tools, and the handle.

use super::app::App;
use super::conn::{Conn, Pending, Proto};
use super::core::end_turn;
use super::ctx::Ctx;
use super::env::Env;
use super::gather::{self, Gather};
use super::handle::Handle;
use super::life::{Change, Life};
use super::record::End;
use super::reply::{ConnId, Message, Reply};
use super::slab::Slab;
use super::turn::Turn;
use super::upgrade;
use crate::http;
use crate::ws;

/// Everything a connection's turn may need besides the connection.
pub(crate) struct Driver<'w, A: App> {
    pub app: &'w A,
    pub local: &'w mut A::Local,
    pub handle: &'w Handle<A::Notice>,
    pub slab: &'w mut Slab<Conn>,
    pub env: &'w mut Env,
}

/// What one step of a connection's machine left the loop to do.
pub(crate) enum Flow {
    /// `bytes` were consumed; go on if `more`.
    Consumed { bytes: usize, more: bool },
    /// Input waits (the connection is streaming a response, or a large frame is to be read
    /// whole first).
    Pause,
    /// The connection is done with input: the rest is discarded.
    Ended,
}

impl<'w, A: App> Driver<'w, A> {
    /// The turn of `conn` (taken out of the slab) with the worker's tools.
    pub fn turn<'t>(&'t mut self, key: u64, conn: &'t mut Conn) -> Turn<'t> {
        Turn::new(key, conn, self.env)
    }

    /// Calls the application about `conn` (taken out of the slab): its [`Ctx`] reaches `conn`
    /// and every other connection of the worker.
    pub fn call<R>(
        &mut self,
        key: u64,
        conn: &mut Conn,
        f: impl FnOnce(&A, &mut A::Local, &mut Ctx<'_, A::Notice>) -> R,
    ) -> R {
        let mut cx = Ctx::within(self.slab, self.env, key, conn, self.handle);
        f(self.app, self.local, &mut cx)
    }

    /// Calls the application about no connection in particular (a notice, a tick).
    pub fn call_worker<R>(
        &mut self,
        f: impl FnOnce(&A, &mut A::Local, &mut Ctx<'_, A::Notice>) -> R,
    ) -> R {
        let mut cx = Ctx::new(self.slab, self.env, self.handle);
        f(self.app, self.local, &mut cx)
    }

    /// Offers `input` to `conn`'s machine until it stops, calling the application for each
    /// request and message. Returns how many bytes were consumed.
    pub fn process(&mut self, key: u64, conn: &mut Conn, input: &mut [u8]) -> usize {
        let mut pos = 0;
        loop {
            if !conn.is_open() {
                // Finishing, lingering or closed: nothing more is read from this input.
                return input.len();
            }
            // A slow reader gets no new work: pipelined requests wait until its queue drains.
            if conn.queued() > self.env.limits.write_queue_bytes {
                return pos;
            }
            let rest = &mut input[pos..];
            let flow = match conn.proto() {
                // A large frame that is not all here is read whole into a buffer of its own.
                Proto::Ws(_) if gather_len(conn, rest).is_some() => Flow::Pause,
                // Bytes sent during an event stream wait (a pipelined request is read after it).
                Proto::Stream(_) => Flow::Pause,
                Proto::Http(_) => self.drive_http(key, conn, rest),
                Proto::Ws(_) => self.drive_ws(key, conn, rest),
            };
            match flow {
                Flow::Consumed { bytes, more } => {
                    pos += bytes;
                    if !more {
                        return pos;
                    }
                }
                Flow::Pause => return pos,
                Flow::Ended => return input.len(),
            }
        }
    }

    /// Keeps input the machine did not take: the start of a large frame begins gathering it,
    /// the rest waits in the connection's input queue.
    pub fn keep_input(&mut self, conn: &mut Conn, rest: &[u8]) {
        if !conn.is_open() || rest.is_empty() {
            return;
        }
        match gather_len(conn, rest) {
            Some(total) => {
                let gather = Gather::start(&mut self.env.pool, rest, total);
                let _ = conn.change(Change::Gather(Box::new(gather)));
                if let Proto::Ws(w) = conn.proto_mut() {
                    w.input_pending(self.env.now);
                }
            }
            None => conn.keep_input(rest),
        }
    }

    /// One step of the HTTP machine: a request goes to the application (once its body is
    /// in), an upgrade hands the connection to the WebSocket machine.
    fn drive_http(&mut self, key: u64, conn: &mut Conn, input: &[u8]) -> Flow {
        let now = self.env.now;
        let Proto::Http(h) = conn.proto_mut() else {
            return Flow::Ended;
        };
        let step = match h.http.feed(now, input, &mut self.env.scratch) {
            Ok(step) => step,
            Err(e) => {
                // The machine wrote the error response (if one was due) and ignores the rest.
                let answered = !self.env.scratch.is_empty();
                let mut turn = self.turn(key, conn);
                turn.note_end(End::ProtocolError);
                if answered {
                    turn.note_status(e.status());
                }
                turn.flush();
                return Flow::Ended;
            }
        };
        let consumed = step.consumed;
        let more = consumed > 0 || step.event.is_some();
        match step.event {
            Some(http::Event::Request(request)) => self.on_request(key, conn, &request),
            Some(http::Event::Data(data)) => {
                if let Proto::Http(h) = conn.proto_mut() {
                    if let Pending::Body { body, .. } = &mut h.pending {
                        body.extend_from_slice(data);
                    }
                }
            }
            Some(http::Event::End) => self.on_body_end(key, conn),
            Some(http::Event::Upgraded { .. }) => {
                // The leftover is the rest of `input`: the WebSocket machine reads it next.
                if !upgrade::take_over(&mut self.turn(key, conn)) {
                    self.turn(key, conn).close(End::Server);
                    return Flow::Ended;
                }
                self.call(key, conn, |app, local, cx| app.ws_open(local, cx));
                return Flow::Consumed {
                    bytes: 0,
                    more: true,
                };
            }
            _ => {}
        }
        self.turn(key, conn).flush();
        Flow::Consumed {
            bytes: consumed,
            more,
        }
    }

    /// A request head arrived: one without a body goes to the application now; a body is
    /// collected first (asked for, if the client expects `100 Continue`).
    fn on_request(&mut self, key: u64, conn: &mut Conn, request: &http::Request<'_>) {
        conn.note_request();
        if !self.env.trusted.is_empty() && !self.admit_forwarded(key, conn, request) {
            return;
        }
        let Proto::Http(h) = conn.proto_mut() else {
            return;
        };
        if request.expect_continue {
            // Within the limits (the machine refused larger bodies with 413): ask for it.
            let _ = h.http.accept_body(&mut self.env.scratch);
        }
        let has_body = !matches!(
            request.body,
            http::BodyKind::None | http::BodyKind::Length(0)
        );
        if has_body {
            let capacity = match request.body {
                http::BodyKind::Length(n) => n.min(64 * 1024) as usize,
                _ => 0,
            };
            h.pending = Pending::Body {
                head: request.to_owned_request(),
                body: Vec::with_capacity(capacity),
            };
        }
        self.turn(key, conn).flush();
        if !has_body {
            let reply = self.call(key, conn, |app, local, cx| {
                app.request(local, &as_get(request), &[], cx)
            });
            self.apply_reply(key, conn, reply, request);
        }
    }

    /// A request from a trusted proxy: the client is whom the proxies name, and is counted for
    /// the per-address limit at its first request. Over the limit, it is answered `429` (RFC
    /// 6585 §4) and the connection closes; false then.
    fn admit_forwarded(&mut self, key: u64, conn: &mut Conn, request: &http::Request<'_>) -> bool {
        let Some(record) = conn.record_mut() else {
            return true;
        };
        let Some(proxy) = record.via else {
            return true;
        };
        let fields = request.headers();
        let client = http::forwarded::client_address(
            proxy,
            &self.env.trusted,
            fields.get_all("forwarded"),
            fields.get_all("x-forwarded-for"),
        );
        if client != record.peer.ip() {
            record.peer = std::net::SocketAddr::new(client, 0);
        }
        let Some(table) = self.env.per_address.clone() else {
            return true;
        };
        if record.counted.is_some() {
            return true;
        }
        if table.admit(client) {
            record.counted = Some(client);
            return true;
        }
        if let Proto::Http(h) = conn.proto_mut() {
            h.http.close_after_response();
        }
        let body = format!(
            "too many connections from this address (the limit is {})\n",
            table.limit()
        );
        let refusal = super::reply::Response::new(429)
            .header("Retry-After", "1")
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(body.into_bytes());
        let mut turn = self.turn(key, conn);
        turn.note_end(End::Refused);
        let _ = turn.respond(&refusal);
        false
    }

    /// A request body is complete: the request goes to the application with it.
    fn on_body_end(&mut self, key: u64, conn: &mut Conn) {
        let Proto::Http(h) = conn.proto_mut() else {
            return;
        };
        let collected = match h.pending {
            Pending::Body { .. } => std::mem::replace(&mut h.pending, Pending::None),
            _ => return,
        };
        let Pending::Body { head, body } = collected else {
            return;
        };
        let request = head.as_request();
        let reply = self.call(key, conn, |app, local, cx| {
            app.request(local, &as_get(&request), &body, cx)
        });
        self.apply_reply(key, conn, reply, &request);
    }

    /// Carries out the application's reply to `request`.
    fn apply_reply(
        &mut self,
        key: u64,
        conn: &mut Conn,
        reply: Reply,
        request: &http::Request<'_>,
    ) {
        let mut turn = self.turn(key, conn);
        match reply {
            Reply::Response(response) => {
                let _ = turn.respond(&response);
            }
            Reply::WebSocket { protocol } => upgrade::accept(&mut turn, protocol, request),
            Reply::Stream {
                status,
                headers,
                first,
            } => turn.start_stream(status, &headers, &first, request.method == "HEAD"),
            Reply::Defer { timeout } => turn.defer(timeout),
        }
    }

    /// One step of the WebSocket machine: what the peer is owed goes out, a message goes to
    /// the application.
    fn drive_ws(&mut self, key: u64, conn: &mut Conn, input: &mut [u8]) -> Flow {
        let now = self.env.now;
        let Proto::Ws(w) = conn.proto_mut() else {
            return Flow::Ended;
        };
        let step = match w.feed(now, input, &mut self.env.scratch) {
            Ok(step) => step,
            Err(e) => {
                // The machine wrote the close frame and ignores the rest.
                conn.note_end(End::ProtocolError);
                conn.note_close_code(e.close_code().0);
                self.turn(key, conn).flush();
                return Flow::Ended;
            }
        };
        let consumed = step.consumed;
        let more = consumed > 0 || step.event.is_some();
        self.turn(key, conn).flush();
        match step.event {
            Some(ws::Event::Close { code, .. }) => {
                conn.note_end(End::PeerClosed);
                // RFC 6455 §7.1.5: a close frame without a code is reported as 1005.
                conn.note_close_code(code.map_or(1005, |c| c.0));
            }
            Some(ws::Event::Text(text)) => self.call(key, conn, |app, local, cx| {
                app.ws_message(local, Message::Text(&text), cx);
            }),
            Some(ws::Event::Binary(data)) => self.call(key, conn, |app, local, cx| {
                app.ws_message(local, Message::Binary(&data), cx);
            }),
            _ => {}
        }
        self.turn(key, conn).flush();
        Flow::Consumed {
            bytes: consumed,
            more,
        }
    }

    /// A timer fired for connection `key` (`at`: the heap entry's time, `None` for one that
    /// was due at once): the machine's deadlines, a deferred answer's, a slow consumer's, the
    /// end of lingering.
    pub fn on_timer(&mut self, key: u64, at: Option<crate::Instant>) {
        let Some(mut conn) = self.slab.take(key) else {
            return;
        };
        if at.is_none_or(|at| conn.scheduled() == Some(at)) {
            if at.is_some() {
                conn.set_scheduled(None);
            }
            self.timer(key, &mut conn);
        }
        end_turn(self.slab, self.env, key, conn);
    }

    fn timer(&mut self, key: u64, conn: &mut Conn) {
        let now = self.env.now;
        let limits = &self.env.limits;
        let lingered = matches!(conn.life(), Life::Lingering { until } if now >= *until);
        let handshake_over = conn.socket().handshake_deadline().is_some_and(|t| now >= t);
        // A TLS handshake not finished by the header deadline is cut off like a slow head
        // (there is no channel yet to send a 408 on); a consumer that stayed behind too long
        // is dropped (an SSE client resumes with Last-Event-ID).
        if conn.too_slow(now, limits.slow_consumer_timeout) {
            return self.turn(key, conn).close(End::SlowConsumer);
        }
        if lingered || handshake_over {
            return self.turn(key, conn).close(End::Timeout);
        }
        let closing = match conn.proto_mut() {
            Proto::Http(h) => {
                h.http.handle_timeout(now, &mut self.env.scratch);
                h.http.is_closed()
            }
            Proto::Ws(w) => {
                w.handle_timeout(now, &mut self.env.scratch);
                w.is_closing()
            }
            Proto::Stream(_) => false,
        };
        if closing {
            // A deadline of the machine ended it: a request head too slow (408), an idle
            // keep-alive connection, a silent WebSocket peer (1001), a close never answered.
            conn.note_end(End::Timeout);
            if let Some(status) = status_of(&self.env.scratch) {
                self.turn(key, conn).note_status(status);
            }
        }
        self.turn(key, conn).flush();
        if self.turn(key, conn).deferred_due() {
            let response = self.call(key, conn, |app, local, cx| {
                app.deferred_timeout(local, ConnId(key), cx)
            });
            let _ = self.turn(key, conn).respond(&response);
        }
    }
}

/// The status of the response `out` begins with, if it begins with one (`HTTP/1.1 408 …`):
/// what a machine wrote on its own when a deadline passed.
fn status_of(out: &[u8]) -> Option<u16> {
    let code = out.strip_prefix(b"HTTP/1.1 ")?.get(..3)?;
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// The length of the large frame `input` begins, when the WebSocket machine would hand it out
/// in place once whole but it is not all here: worth reading into a buffer of its own.
pub(crate) fn gather_len(conn: &Conn, input: &[u8]) -> Option<usize> {
    match (conn.life(), conn.proto()) {
        (Life::Open { .. }, Proto::Ws(w)) => w
            .unfinished_frame(input)
            .filter(|&total| total >= gather::MIN_FRAME),
        _ => None,
    }
}

/// The request as the application sees it. RFC 9110 §9.3.2: HEAD is answered wherever GET is,
/// with the same status and fields and no body. So the application is shown a GET, and the
/// HTTP machine, which read the request as HEAD, sends the head of whatever it answers alone;
/// no application has to remember HEAD.
fn as_get<'a>(request: &http::Request<'a>) -> http::Request<'a> {
    let mut seen = request.clone();
    if seen.method == "HEAD" {
        seen.method = "GET";
    }
    seen
}
