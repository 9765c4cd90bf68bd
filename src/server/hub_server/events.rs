//! Server-Sent Events (`GET /events`): a stream per client over one or more topics, resumed
//! after `Last-Event-ID` (a cursor for one topic, a position for several).

use super::follow::PENDING;
use super::follow::{Due, Followers, Owed, others};
use super::owed::{self, Place};
use super::request::Ask;
use super::stats::{Counters, Shape, response_bytes};
use super::wire::{Technique, Wire};
use super::{HubServer, Local, Notice, WIRE_TOPIC};
use crate::http::Request;
use crate::reactor::End;
use crate::server::{Ctx, Reply, Response};
use crate::sse;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

impl HubServer {
    /// `GET /events`: an event stream of the request's topics, replaying history after
    /// `Last-Event-ID` (what EventSource sends when it reconnects; it wins over the
    /// `lastEventId` parameter, which a page puts in the first URL and which stays in it).
    pub(super) fn events(
        &self,
        local: &mut Local,
        req: &Request<'_>,
        cx: &mut Ctx<'_, Notice>,
    ) -> Reply {
        match self.ask(req, Some("Last-Event-ID"), &["lastEventId", "cursor"]) {
            Ok(ask) => self.stream(local, req, ask, Some(&self.stats.sse), cx),
            Err(response) => response.into(),
        }
    }

    /// `GET /wire`: the demo page's view of the wire, an event stream of its own topic, from
    /// now.
    pub(super) fn events_on_wire(
        &self,
        local: &mut Local,
        req: &Request<'_>,
        cx: &mut Ctx<'_, Notice>,
    ) -> Reply {
        let ask = Ask {
            topics: vec![Cow::Borrowed(WIRE_TOPIC)],
            cursors: vec![None],
        };
        self.stream(local, req, ask, None, cx)
    }

    /// An event stream of `ask`, counted in `counters` (`None`: the demo page's own streams,
    /// which are not what clients did).
    fn stream(
        &self,
        local: &mut Local,
        req: &Request<'_>,
        ask: Ask<'_>,
        counters: Option<&super::stats::Counters>,
        cx: &mut Ctx<'_, Notice>,
    ) -> Reply {
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
            self.metrics
                .refused(crate::server::metrics::Refusal::Overloaded);
            let mut body = Vec::new();
            sse::shed(5000, &mut body);
            let bytes = response_bytes(Shape::of(req), 200, &headers, Some(&body));
            Counters::add(&counters.bytes_out, bytes);
            let mut response = Response::new(200).body(body);
            response.headers = headers;
            return response.into();
        }
        let mut first = Vec::new();
        // The opening comment, and the clock of the topics' keep-alive comments.
        let now = cx.now();
        let clock = sse::EventStream::open(now, self.limits.sse_keepalive, &mut first);
        // Reconnect after 1 s rather than the browser's default 3 s.
        sse::encode_retry(1000, &mut first);
        let cursors = self.starts(&ask);
        let (cursors, count) = self.catch_up_sse(&ask, cursors, &mut first);
        Counters::add(&counters.events, count);
        if count > 0 && !ask.topics.iter().any(|t| t == WIRE_TOPIC) {
            // A resumed stream: the wire view shows what it was sent.
            self.wire(Technique::Sse, cx, &Wire::SseChunk { bytes: &first });
        }
        self.streams.fetch_add(1, Ordering::Relaxed);
        Counters::add(&counters.connections, 1);
        let shape = Shape::of(req);
        let bytes = response_bytes(shape, 200, &headers, None) + shape.streamed(first.len());
        Counters::add(&counters.bytes_out, bytes);
        for (topic, &cursor) in ask.topics.iter().zip(&cursors) {
            local.sse.subscribe(conn, topic, cursor);
            if !local.sse_clocks.contains_key(&**topic) {
                local.sse_clocks.insert((&**topic).into(), clock.clone());
            }
        }
        if cursors.contains(&PENDING) {
            Self::pend(local, conn);
        }
        Reply::Stream {
            status: 200,
            headers,
            first: first.into(),
        }
    }

    /// Where a follower of `ask` starts in each topic: its cursor, or now — the newest number,
    /// or [`PENDING`] over a broker until the topic's cache is live (which it is asked to
    /// become).
    pub(super) fn starts(&self, ask: &Ask<'_>) -> Vec<u64> {
        ask.pairs()
            .map(|(topic, cursor)| {
                let live = self.live(topic);
                if !live {
                    self.follow(topic);
                }
                match (cursor, live) {
                    (Some(cursor), _) => cursor,
                    (None, true) => self.hub().last_seq(topic),
                    (None, false) => PENDING,
                }
            })
            .collect()
    }

    /// Encodes what a new stream is owed in every live topic after its cursor, in the order
    /// the events were published across topics; the cursors after it, and the number of
    /// events.
    fn catch_up_sse(
        &self,
        ask: &Ask<'_>,
        mut cursors: Vec<u64>,
        out: &mut Vec<u8>,
    ) -> (Vec<u64>, u64) {
        let names = ask.names();
        let live: Vec<bool> = names.iter().map(|t| self.live(t)).collect();
        let count = self.encode_merged(&names, &mut cursors, &live, out);
        (cursors, count)
    }

    /// Encodes what a reader of `names` at `cursors` is owed in the topics `take` marks (and
    /// whose cursor is not [`PENDING`]), in the order the events were published across them,
    /// each event's id the position after it; moves `cursors` past it; the number of events.
    fn encode_merged(
        &self,
        names: &[&str],
        cursors: &mut [u64],
        take: &[bool],
        out: &mut Vec<u8>,
    ) -> u64 {
        let owed: Vec<usize> = (0..names.len())
            .filter(|&i| take[i] && cursors[i] != PENDING)
            .collect();
        let asked: Vec<(&str, u64)> = owed.iter().map(|&i| (names[i], cursors[i])).collect();
        let max = self.limits.max_events_per_response;
        let merged = owed::read_merged(&self.hub(), &asked, max, usize::MAX);
        let mut count = 0;
        for (k, chunk) in merged {
            let i = owed[k];
            // Each event's id is the position after it: every topic's cursor as it stands.
            let known: Vec<(&str, u64)> = names
                .iter()
                .zip(cursors.iter())
                .enumerate()
                .filter(|&(j, (_, &c))| j != i && c != PENDING)
                .map(|(_, (t, &c))| (*t, c))
                .collect();
            let place = Place {
                others: &known,
                topic: names[i],
            };
            count += owed::encode_sse(&place, std::slice::from_ref(&chunk), out);
            cursors[i] = chunk.next;
        }
        count
    }

    /// A follower of several topics, due an event of one: everything it is owed in all of them,
    /// in publish order (a worker behind on its notices would otherwise send a topic's newer
    /// events before another's older ones), in one write.
    fn deliver_merged_sse(
        &self,
        local: &mut Local,
        d: &Due,
        topic: &str,
        cx: &mut Ctx<'_, Notice>,
    ) {
        let mut names: Vec<&str> = vec![topic];
        let mut cursors = vec![d.cursor];
        for (t, c) in &d.others {
            names.push(t);
            cursors.push(*c);
        }
        let take = vec![true; names.len()];
        let before = cursors.clone();
        let mut out = Vec::new();
        let count = self.encode_merged(&names, &mut cursors, &take, &mut out);
        if out.is_empty() {
            return;
        }
        match cx.stream_write(d.conn, &out) {
            Ok(written) => {
                Counters::add(&self.stats.sse.events, count);
                Counters::add(&self.stats.sse.bytes_out, written as u64);
                for ((t, was), now) in names.iter().zip(before).zip(cursors) {
                    if now != was {
                        local.sse.set(d.conn, t, now);
                    }
                }
            }
            Err(_) => {
                cx.note_end(d.conn, End::SlowConsumer);
                cx.close(d.conn);
            }
        }
    }
}

/// Event streams as followers of topics.
pub(super) struct Streams;

impl Followers for Streams {
    fn due(&self, _: &HubServer, local: &mut Local, topic: &str, last_seq: u64) -> Vec<Due> {
        local
            .sse
            .of_topic(topic)
            .filter(|&(_, c)| c != PENDING && c < last_seq)
            .map(|(conn, cursor)| Due {
                conn,
                cursor,
                others: others(&local.sse, conn, topic),
            })
            .collect()
    }

    fn deliver(
        &self,
        server: &HubServer,
        local: &mut Local,
        topic: &str,
        due: &[Due],
        owed: &Owed,
        cx: &mut Ctx<'_, Notice>,
    ) {
        if let Some(clock) = local.sse_clocks.get_mut(topic) {
            clock.touch(cx.now());
        }
        // Followers of this topic alone at the same cursor (nearly all of them) share one
        // encoding; a follower of several topics gets its own, of all its topics in publish
        // order (its ids name all its cursors).
        let mut shared: BTreeMap<u64, (Vec<u8>, u64, u64)> = BTreeMap::new();
        for d in due {
            if !d.others.is_empty() {
                server.deliver_merged_sse(local, d, topic, cx);
                continue;
            }
            let chunks = owed.get(&d.cursor).map_or(&[][..], Vec::as_slice);
            let encode = || {
                let place = Place { others: &[], topic };
                let mut out = Vec::new();
                let count = owed::encode_sse(&place, chunks, &mut out);
                (out, owed::next(chunks, d.cursor), count)
            };
            let (bytes, next, count) = &*shared.entry(d.cursor).or_insert_with(encode);
            if bytes.is_empty() {
                continue;
            }
            match cx.stream_write(d.conn, bytes) {
                Ok(written) => {
                    Counters::add(&server.stats.sse.events, *count);
                    let reset = chunks
                        .iter()
                        .any(|c| matches!(c.gap, Some(crate::hub::Gap::Reset { .. })));
                    if reset {
                        // The topic began again below the follower's cursor: it goes back.
                        local.sse.set(d.conn, topic, *next);
                    } else {
                        local.sse.advance(d.conn, topic, *next);
                    }
                    Counters::add(&server.stats.sse.bytes_out, written as u64);
                    if topic != WIRE_TOPIC {
                        server.wire(Technique::Sse, cx, &Wire::SseChunk { bytes });
                    }
                }
                // A consumer that cannot keep up is cut off; it resumes with Last-Event-ID.
                Err(_) => {
                    cx.note_end(d.conn, End::SlowConsumer);
                    cx.close(d.conn);
                }
            }
        }
    }
}
