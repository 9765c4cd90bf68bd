//! Short polling and long-polling (`GET /poll`): answered at once when there is news in any of
//! the request's topics or when asked not to wait, otherwise parked until a publish or the
//! deadline. Every answer's `X-Cursor` is where to ask from next: the decimal cursor for one
//! topic, a position for several.

use super::follow::{Awaiting, PENDING, PollAsk};
use super::follow::{Due, Followers, Owed};
use super::owed::{self, Place};
use super::stats::{Counters, Shape, response_bytes};
use super::wire::{Technique, Wire, unix_nanos};
use super::{HubServer, Local, Notice};
use crate::http::Request;
use crate::hub::position;
use crate::longpoll::Parking;
use crate::reactor::{ConnId, Ctx, Reply, Response};
use crate::server::query;
use std::sync::Arc;
use std::time::Duration;

impl HubServer {
    /// `GET /poll`: answer now if anything is new (or when `wait=0`), else park for `wait`
    /// seconds (at most `Limits::longpoll_timeout`, which is also the default).
    pub(super) fn poll(
        &self,
        local: &mut Local,
        req: &Request<'_>,
        cx: &mut Ctx<'_, Notice>,
    ) -> Reply {
        let asked = self.ask(req, None, &["cursor"]).and_then(|ask| {
            let wait = query::param(req, "wait")
                .and_then(|w| w.map(|w| query::decimal("wait", &w)).transpose())
                .map_err(super::answers::bad_request)?;
            Ok((ask, wait))
        });
        let (ask, wait) = match asked {
            Ok(asked) => asked,
            Err(response) => return response.into(),
        };
        let ask = PollAsk {
            topics: ask.topics.iter().map(|t| Arc::from(&**t)).collect(),
            cursors: ask.cursors,
            wait,
            shape: Shape::of(req),
            arrived: unix_nanos(),
        };
        Counters::add(&self.poll_counters(&ask).requests, 1);
        if let Some(topic) = ask.topics.iter().find(|t| !self.live(t)).cloned() {
            // Over a broker: wait until this node's cache of every topic is live.
            for t in &ask.topics {
                self.follow(t);
            }
            return self.await_sync(local, &topic, Awaiting::Poll(ask), cx);
        }
        let conn = cx.conn();
        self.serve_poll(local, ask, Some(req), conn, cx)
    }

    fn poll_counters(&self, ask: &PollAsk) -> &Counters {
        if ask.wait == Some(0) {
            &self.stats.short_poll
        } else {
            &self.stats.long_poll
        }
    }

    /// Answers a poll from its topics' (live) history, or parks it. `req` is there when the
    /// poll is answered as it arrives (for the wire view).
    pub(super) fn serve_poll(
        &self,
        local: &mut Local,
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
        // poll that waited for its topics' sync, from when it arrived.
        let cursors: Vec<u64> = ask
            .topics
            .iter()
            .zip(&ask.cursors)
            .map(|(topic, cursor)| match (cursor, req) {
                (Some(cursor), _) => *cursor,
                (None, Some(_)) => self.hub().last_seq(topic),
                (None, None) => self.now_at(topic, ask.arrived),
            })
            .collect();
        let technique = if short {
            Technique::ShortPoll
        } else {
            Technique::LongPoll
        };
        let shape = ask.shape;
        let names: Vec<&str> = ask.topics.iter().map(|t| &**t).collect();
        let answer = self
            .poll_response(&names, &cursors, counters)
            .unwrap_or_else(|| {
                // Nothing new: a short poll is answered at once with where to go on.
                let mut at = String::new();
                position::encode(names.iter().copied().zip(cursors.iter().copied()), &mut at);
                Response::new(204).header("X-Cursor", at)
            });
        if answer.status == 200 || short {
            if answer.status == 204 {
                Counters::add(&counters.empty, 1);
            }
            let body: &[u8] = if answer.status == 200 {
                &answer.body
            } else {
                &[]
            };
            let bytes = response_bytes(shape, answer.status, &answer.headers, Some(body));
            Counters::add(&counters.bytes_out, bytes);
            if let Some(request) = req {
                let wire = Wire::Answered {
                    request,
                    response: &answer,
                };
                self.wire(technique, cx, &wire);
            }
            return answer.into();
        }
        let Some(conn) = conn else {
            return Response::new(500).into();
        };
        let parked: Vec<(&str, u64)> = names.iter().copied().zip(cursors.iter().copied()).collect();
        // Parked polls count against the memory budget with history (which gives way to them
        // at the next tick): one is refused when even without any history it would not fit.
        let room = cx.handle().memory().room_for_held();
        let held = self.broker_buffered() + self.parked_bytes();
        if held + Parking::<ConnId>::cost(&parked) > room {
            self.metrics
                .refused(crate::server::metrics::Refusal::Overloaded);
            return Response::new(503).header("Retry-After", "1").into();
        }
        match self
            .parking(local)
            .park_many(conn, &parked, cx.now() + timeout)
        {
            Ok(()) => {
                self.report_parked(local);
                Counters::add(&counters.connections, 1);
                if shape != Shape::USUAL {
                    local.unusual.insert(conn, shape);
                }
                // The deadline is `Parking`'s, driven through `App::poll_timeout` /
                // `handle_timeout`; the reactor keeps none of its own.
                Reply::Defer { timeout: None }
            }
            Err(_) => {
                self.metrics
                    .refused(crate::server::metrics::Refusal::Overloaded);
                Response::new(503).header("Retry-After", "1").into()
            }
        }
    }

    /// The NDJSON answer for a poll from `cursors` in `topics`, if there is anything to say:
    /// what each topic has after its cursor (at most `max_events_per_response` in all), in the
    /// order the events were published, with `X-Cursor` after all of it.
    pub(super) fn poll_response(
        &self,
        topics: &[&str],
        cursors: &[u64],
        counters: &Counters,
    ) -> Option<Response> {
        let max = self.limits.max_events_per_response;
        let asked: Vec<(&str, u64)> = topics
            .iter()
            .copied()
            .zip(cursors.iter().copied())
            .collect();
        // Across topics, in publish order; within a topic, in sequence order (gaps first).
        let merged = owed::read_merged(&self.hub(), &asked, max, max);
        if merged.is_empty() {
            return None;
        }
        let mut next = cursors.to_vec();
        let mut events = 0;
        let mut body = Vec::new();
        for (i, chunk) in &merged {
            if let Some(gap) = chunk.gap {
                body.extend_from_slice(&super::event::gap_json(topics[*i], gap));
                body.push(b'\n');
            }
            for (_, text) in &chunk.events {
                body.extend_from_slice(text);
                body.push(b'\n');
            }
            events += chunk.events.len();
            next[*i] = chunk.next;
        }
        let mut at = String::new();
        position::encode(topics.iter().copied().zip(next.iter().copied()), &mut at);
        Counters::add(&counters.events, events as u64);
        Some(
            Response::new(200)
                .header("Content-Type", "application/x-ndjson")
                .header("Cache-Control", "no-store")
                .header("X-Cursor", at)
                .body(body),
        )
    }

    /// The `204` for a parked poll whose deadline passed (already unparked), with `X-Cursor`
    /// saying where to ask from next, counted like every long-poll answer.
    pub(super) fn parked_expired(
        &self,
        local: &mut Local,
        conn: ConnId,
        parked: &crate::longpoll::Parked,
    ) -> Response {
        let counters = &self.stats.long_poll;
        Counters::sub_connection(counters);
        Counters::add(&counters.empty, 1);
        let mut at = String::new();
        position::encode(parked.cursors.iter().map(|(t, c)| (&**t, *c)), &mut at);
        let mut response = Response::new(204).header("X-Cursor", at);
        Self::unpark_access(local, conn, &mut response);
        let shape = local.unusual.remove(&conn).unwrap_or(Shape::USUAL);
        let bytes = response_bytes(shape, 204, &response.headers, Some(&[]));
        Counters::add(&counters.bytes_out, bytes);
        response
    }
}

/// Parked polls as followers of topics: a publish past a poll's cursor in any of its topics
/// answers it.
pub(super) struct Polls;

impl Followers for Polls {
    fn due(&self, server: &HubServer, local: &mut Local, topic: &str, last_seq: u64) -> Vec<Due> {
        let woken = server.parking(local).wake(topic, last_seq);
        server.report_parked(local);
        woken
            .into_iter()
            .map(|(conn, parked)| Due {
                conn,
                cursor: parked.cursor(topic).unwrap_or(PENDING),
                others: parked
                    .cursors
                    .iter()
                    .filter(|(t, _)| **t != *topic)
                    .map(|(t, c)| (Arc::from(&**t), *c))
                    .collect(),
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
        let counters = &server.stats.long_poll;
        for d in due {
            let chunks = owed.get(&d.cursor).map_or(&[][..], Vec::as_slice);
            let others = d.others();
            let place = Place {
                others: &others,
                topic,
            };
            let (mut response, count) = owed::ndjson(&place, chunks).unwrap_or_else(|| {
                // Woken, yet nothing to send (a hole in numbers from elsewhere): say where to
                // ask from rather than leave the request waiting with no deadline.
                let answer = Response::new(204).header("X-Cursor", place.after(d.cursor));
                (answer, 0)
            });
            HubServer::unpark_access(local, d.conn, &mut response);
            Counters::add(&counters.events, count);
            Counters::sub_connection(counters);
            let shape = local.unusual.remove(&d.conn).unwrap_or(Shape::USUAL);
            let bytes = response_bytes(
                shape,
                response.status,
                &response.headers,
                Some(&response.body),
            );
            Counters::add(&counters.bytes_out, bytes);
            let _ = cx.respond(d.conn, &response);
            let wire = Wire::Woken {
                topic,
                cursor: d.cursor,
                response: &response,
            };
            server.wire(Technique::LongPoll, cx, &wire);
        }
    }
}
