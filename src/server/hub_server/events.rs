//! Server-Sent Events (`GET /events`): a stream per client, resumed after `Last-Event-ID`.

use super::*;

impl HubServer {
    /// `GET /events`: an event stream, replaying history after `Last-Event-ID`.
    pub(super) fn events(
        &self,
        local: &mut Local,
        req: &Request<'_>,
        cx: &mut Ctx<'_, Notice>,
    ) -> Reply {
        match self.topic(req) {
            Ok(topic) => self.events_on(local, req, &topic, Some(&self.stats.sse), cx),
            Err(response) => response.into(),
        }
    }

    /// An event stream of `topic`, counted in `counters` (`None`: the demo page's own streams,
    /// which are not what clients did).
    pub(super) fn events_on(
        &self,
        local: &mut Local,
        req: &Request<'_>,
        topic: &str,
        counters: Option<&Counters>,
        cx: &mut Ctx<'_, Notice>,
    ) -> Reply {
        // `Last-Event-ID` (what EventSource sends when it reconnects) wins over the
        // `lastEventId` parameter (what a page puts in the first URL, and which stays in it).
        let resume = match req.header("last-event-id") {
            Some(value) => std::str::from_utf8(value)
                .map_err(|_| BadParam::NotUtf8("Last-Event-ID"))
                .and_then(|v| query::decimal("Last-Event-ID", v))
                .map(Some),
            None => cursor_param(req, "lastEventId"),
        };
        let resume = match resume {
            Ok(resume) => resume,
            Err(e) => return bad_request(e).into(),
        };
        let none = Counters::default();
        let counters = counters.unwrap_or(&none);
        Counters::add(&counters.requests, 1);
        let Some(conn) = cx.conn() else {
            return Response::new(500).into();
        };
        let headers: Vec<(Cow<'static, str>, Cow<'static, [u8]>)> = sse::RESPONSE_HEADERS
            .iter()
            .map(|(n, v)| (Cow::Borrowed(*n), Cow::Borrowed(*v)))
            .collect();
        if self.streams.load(Ordering::Relaxed) >= self.limits.max_streams {
            // Load shedding: a retry hint and close (503 would end EventSource for good).
            let mut body = Vec::new();
            sse::shed(5000, &mut body);
            let bytes = response_bytes(Shape::of(req), 200, &headers, Some(&body));
            Counters::add(&counters.bytes_out, bytes);
            let mut response = Response::new(200).body(body);
            response.headers = headers;
            return response.into();
        }
        let mut first = Vec::new();
        // The opening comment, and the clock of the topic's keep-alive comments.
        let now = cx.now();
        let clock = sse::EventStream::open(now, self.limits.sse_keepalive, &mut first);
        // Reconnect after 1 s rather than the browser's default 3 s.
        sse::encode_retry(1000, &mut first);
        let live = self.live(topic);
        if !live {
            // Over a broker: what this stream is owed is sent once the topic's cache is live.
            self.follow(topic);
        }
        let cursor = match (resume, live) {
            (Some(cursor), true) => {
                let (next, count) = self.sse_catch_up(topic, cursor, &mut first);
                Counters::add(&counters.events, count);
                if count > 0 && topic != WIRE_TOPIC {
                    // A resumed stream: the wire view shows what it was sent.
                    self.wire(Technique::Sse, cx, &Wire::SseChunk { bytes: &first });
                }
                next
            }
            (Some(cursor), false) => cursor,
            (None, true) => self.hub().last_seq(topic),
            (None, false) => broker::PENDING,
        };
        self.streams.fetch_add(1, Ordering::Relaxed);
        Counters::add(&counters.connections, 1);
        let shape = Shape::of(req);
        let bytes = response_bytes(shape, 200, &headers, None) + shape.streamed(first.len());
        Counters::add(&counters.bytes_out, bytes);
        local.sse.subscribe(conn, topic, cursor);
        if cursor == broker::PENDING {
            Self::pend(local, conn);
        }
        if !local.sse_clocks.contains_key(topic) {
            local.sse_clocks.insert(topic.into(), clock);
        }
        Reply::Stream {
            status: 200,
            headers,
            first: first.into(),
        }
    }

    /// Encodes everything after `cursor` as SSE (a `gap` event first if needed); returns the
    /// new cursor and the number of events.
    /// Encodes everything after `cursor` as SSE (a `gap` event first if needed); returns the
    /// new cursor and the number of events.
    pub(super) fn sse_catch_up(&self, topic: &str, cursor: u64, out: &mut Vec<u8>) -> (u64, u64) {
        let max = self.limits.max_events_per_response;
        let chunks = owed::read(&self.hub(), topic, cursor, max, usize::MAX);
        let count = owed::encode_sse(&chunks, out);
        (owed::next(&chunks, cursor), count)
    }

    pub(super) fn deliver_sse(
        &self,
        local: &mut Local,
        topic: &str,
        followers: &[(ConnId, u64)],
        owed: &BTreeMap<u64, Vec<owed::Chunk>>,
        cx: &mut Ctx<'_, Notice>,
    ) {
        if followers.is_empty() {
            return;
        }
        if let Some(clock) = local.sse_clocks.get_mut(topic) {
            clock.touch(cx.now());
        }
        // Followers at the same cursor (nearly all of them) share one encoding.
        let mut encoded: BTreeMap<u64, (Vec<u8>, u64, u64)> = BTreeMap::new();
        for &(conn, cursor) in followers {
            let (bytes, next, count) = encoded.entry(cursor).or_insert_with(|| {
                let chunks = owed.get(&cursor).map_or(&[][..], Vec::as_slice);
                let mut out = Vec::new();
                let count = owed::encode_sse(chunks, &mut out);
                (out, owed::next(chunks, cursor), count)
            });
            if bytes.is_empty() {
                continue;
            }
            match cx.stream_write(conn, bytes) {
                Ok(written) => {
                    Counters::add(&self.stats.sse.events, *count);
                    local.sse.advance(conn, *next);
                    Counters::add(&self.stats.sse.bytes_out, written as u64);
                    if topic != WIRE_TOPIC {
                        self.wire(Technique::Sse, cx, &Wire::SseChunk { bytes });
                    }
                }
                // A consumer that cannot keep up is cut off; it resumes with Last-Event-ID.
                Err(_) => {
                    cx.note_end(conn, crate::reactor::End::SlowConsumer);
                    cx.close(conn);
                }
            }
        }
    }
}
