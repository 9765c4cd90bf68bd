//! Short polling and long-polling (`GET /poll`): answered at once when there is news or when
//! asked not to wait, otherwise parked until a publish or the deadline.

use super::*;

/// A poll's question, kept while it waits for a topic's sync.
#[derive(Clone, Copy, Debug)]
pub(super) struct PollAsk {
    pub cursor: Option<u64>,
    pub wait: Option<u64>,
    pub shape: Shape,
    /// When it arrived (ns since the Unix epoch): "now" for a poll without a cursor.
    pub arrived: u64,
}

impl HubServer {
    /// `GET /poll`: answer now if anything is new (or when `wait=0`), else park for `wait`
    /// seconds (at most `Limits::longpoll_timeout`, which is also the default).
    pub(super) fn poll(
        &self,
        local: &mut Local,
        req: &Request<'_>,
        cx: &mut Ctx<'_, Notice>,
    ) -> Reply {
        let params = self.topic(req).and_then(|topic| {
            let cursor = cursor_param(req, "cursor").map_err(bad_request)?;
            let wait = query::param(req, "wait")
                .and_then(|w| w.map(|w| query::decimal("wait", &w)).transpose())
                .map_err(bad_request)?;
            Ok((topic, cursor, wait))
        });
        let (topic, cursor, wait) = match params {
            Ok(params) => params,
            Err(response) => return response.into(),
        };
        let ask = PollAsk {
            cursor,
            wait,
            shape: Shape::of(req),
            arrived: super::wire::unix_nanos(),
        };
        let counters = self.poll_counters(&ask);
        Counters::add(&counters.requests, 1);
        if !self.live(&topic) {
            // Over a broker: wait until this node's cache of the topic is live.
            return self.await_sync(local, &topic, broker::Awaiting::Poll(ask), cx);
        }
        let conn = cx.conn();
        self.serve_poll(local, &topic, ask, Some(req), conn, cx)
    }

    fn poll_counters(&self, ask: &PollAsk) -> &Counters {
        if ask.wait == Some(0) {
            &self.stats.short_poll
        } else {
            &self.stats.long_poll
        }
    }

    /// Answers a poll from the topic's (live) history, or parks it. `req` is there when the
    /// poll is answered as it arrives (for the wire view).
    pub(super) fn serve_poll(
        &self,
        local: &mut Local,
        topic: &str,
        ask: PollAsk,
        req: Option<&Request<'_>>,
        conn: Option<ConnId>,
        cx: &mut Ctx<'_, Notice>,
    ) -> Reply {
        let short = ask.wait == Some(0);
        let timeout = ask.wait.map_or(self.limits.longpoll_timeout, |secs| {
            Duration::from_secs(secs).min(self.limits.longpoll_timeout)
        });
        let counters = self.poll_counters(&ask);
        // No cursor: from now on (see the README's "One rule for a missing cursor"); for a
        // poll that waited for its topic's sync, from when it arrived.
        let cursor = match (ask.cursor, req) {
            (Some(cursor), _) => cursor,
            (None, Some(_)) => self.hub().last_seq(topic),
            (None, None) => self.now_at(topic, ask.arrived),
        };
        let technique = if short {
            Technique::ShortPoll
        } else {
            Technique::LongPoll
        };
        let shape = ask.shape;
        if let Some(response) = self.poll_response(topic, cursor, counters) {
            let bytes = response_bytes(shape, 200, &response.headers, Some(&response.body));
            Counters::add(&counters.bytes_out, bytes);
            if let Some(request) = req {
                let wire = Wire::Answered {
                    request,
                    response: &response,
                };
                self.wire(technique, cx, &wire);
            }
            return response.into();
        }
        if short {
            Counters::add(&counters.empty, 1);
            let response = Response::new(204).header("X-Cursor", cursor.to_string());
            let bytes = response_bytes(shape, 204, &response.headers, Some(&[]));
            Counters::add(&counters.bytes_out, bytes);
            if let Some(request) = req {
                let wire = Wire::Answered {
                    request,
                    response: &response,
                };
                self.wire(technique, cx, &wire);
            }
            return response.into();
        }
        let Some(conn) = conn else {
            return Response::new(500).into();
        };
        match self
            .parking(local)
            .park(conn, topic, cursor, cx.now() + timeout)
        {
            Ok(()) => {
                Counters::add(&counters.connections, 1);
                if shape != Shape::USUAL {
                    local.unusual.insert(conn, shape);
                }
                // The deadline is `Parking`'s, driven through `App::poll_timeout` /
                // `handle_timeout`; the reactor keeps none of its own.
                Reply::Defer { timeout: None }
            }
            Err(_) => Response::new(503).header("Retry-After", "1").into(),
        }
    }

    /// The NDJSON answer for a poll from `cursor`, if there is anything to say.
    pub(super) fn poll_response(
        &self,
        topic: &str,
        cursor: u64,
        counters: &Counters,
    ) -> Option<Response> {
        let max = self.limits.max_events_per_response;
        let chunks = owed::read(&self.hub(), topic, cursor, max, 1);
        let (response, count) = owed::ndjson(&chunks)?;
        Counters::add(&counters.events, count);
        Some(response)
    }

    /// The `204` for a parked poll whose deadline passed (already unparked), with `X-Cursor`
    /// saying where to ask from next, counted like every long-poll answer.
    pub(super) fn parked_expired(&self, local: &mut Local, conn: ConnId, cursor: u64) -> Response {
        let counters = &self.stats.long_poll;
        Counters::sub_connection(counters);
        Counters::add(&counters.empty, 1);
        let mut response = Response::new(204).header("X-Cursor", cursor.to_string());
        Self::unpark_access(local, conn, &mut response);
        let shape = local.unusual.remove(&conn).unwrap_or(Shape::USUAL);
        let bytes = response_bytes(shape, 204, &response.headers, Some(&[]));
        Counters::add(&counters.bytes_out, bytes);
        response
    }

    pub(super) fn deliver_polls(
        &self,
        local: &mut Local,
        topic: &str,
        woken: &[(ConnId, u64)],
        owed: &BTreeMap<u64, Vec<owed::Chunk>>,
        cx: &mut Ctx<'_, Notice>,
    ) {
        let counters = &self.stats.long_poll;
        for &(conn, cursor) in woken {
            let chunks = owed.get(&cursor).map_or(&[][..], Vec::as_slice);
            let Some((mut response, count)) = owed::ndjson(chunks) else {
                continue;
            };
            Self::unpark_access(local, conn, &mut response);
            Counters::add(&counters.events, count);
            Counters::sub_connection(counters);
            let shape = local.unusual.remove(&conn).unwrap_or(Shape::USUAL);
            let bytes = response_bytes(shape, 200, &response.headers, Some(&response.body));
            Counters::add(&counters.bytes_out, bytes);
            let _ = cx.respond(conn, &response);
            let wire = Wire::Woken {
                topic,
                cursor,
                response: &response,
            };
            self.wire(Technique::LongPoll, cx, &wire);
        }
    }
}
