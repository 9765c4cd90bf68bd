//! WebSocket followers (`GET /ws`): every event of the connection's topics as a text message,
//! sent a response-sized batch per write; text sent is published (to its one topic), or, with
//! the subprotocol `pushwire.v1` (RFC 6455 §1.9, §4.2.2), read as commands (`commands.rs`).

use super::follow::PENDING;
use super::follow::{Due, Followers, Owed};
use super::owed;
use super::request::Ask;
use super::stats::{Counters, WS_101_BYTES};
use super::wire::{Technique, Wire};
use super::{HubServer, Local, Notice, WIRE_TOPIC};
use crate::http::Request;
use crate::hub::position;
use crate::reactor::{ConnId, End};
use crate::server::{Ctx, Message, Reply, Response};
use crate::ws::CloseCode;
use std::borrow::Cow;

/// The subprotocol of JSON commands (`commands.rs`).
pub(super) const PROTOCOL: &str = "pushwire.v1";

impl HubServer {
    /// `GET /ws` (upgrade): a follower of the request's topics, from its position or from now;
    /// with `pushwire.v1` offered, a connection that takes commands (and follows no topic
    /// unless the URL names some).
    pub(super) fn ws_route(
        &self,
        local: &mut Local,
        req: &Request<'_>,
        cx: &mut Ctx<'_, Notice>,
    ) -> Reply {
        let Some(conn) = cx.conn() else {
            return Response::new(500).into();
        };
        Counters::add(&self.stats.websocket.requests, 1);
        let Ok(offer) = crate::ws::check_request(req) else {
            // The reactor answers the handshake's own refusal.
            return Reply::WebSocket { protocol: None };
        };
        let commands = offer.protocols().any(|p| p == PROTOCOL);
        let named = crate::server::query::params(req, "topic").is_ok_and(|t| !t.is_empty());
        let ask = if commands && !named {
            Ok(Ask {
                topics: Vec::new(),
                cursors: Vec::new(),
            })
        } else {
            self.ask(req, None, &["cursor"])
        };
        let ask = match ask {
            Ok(ask) => ask,
            Err(response) => return response.into(),
        };
        // Follow the topics only now that the handshake will succeed: a refused upgrade never
        // becomes a socket, and would leave subscriptions behind.
        let starts = self.starts(&ask);
        for (topic, &cursor) in ask.topics.iter().zip(&starts) {
            local.ws.subscribe(conn, topic, cursor);
        }
        if starts.contains(&PENDING) {
            Self::pend(local, conn);
        }
        if commands {
            local.commands.insert(conn);
        }
        Reply::WebSocket {
            protocol: commands.then_some(Cow::Borrowed(PROTOCOL)),
        }
    }

    /// A WebSocket is open: it is counted, and a follower that named a cursor gets what it
    /// missed at once (over a broker, once the topic's cache is live: `Notice::Synced`
    /// delivers it).
    pub(super) fn ws_opened(&self, local: &mut Local, cx: &mut Ctx<'_, Notice>) {
        let Some(conn) = cx.conn() else { return };
        if !local.ws.follows(conn) && !local.commands.contains(&conn) {
            return;
        }
        Counters::add(&self.stats.websocket.connections, 1);
        Counters::add(&self.stats.websocket.bytes_out, WS_101_BYTES);
        let cursors: Vec<(String, u64)> = local
            .ws
            .cursors(conn)
            .into_iter()
            .map(|(t, c)| (t.to_string(), c))
            .collect();
        let mut owed = Vec::new();
        for (topic, cursor) in cursors {
            match (self.live(&topic), cursor) {
                (false, _) => {}
                // Asked "from now" before the topic was live, which it became since.
                (true, PENDING) => {
                    let now = self.pending_now(local, conn, &topic);
                    local.ws.set(conn, &topic, now);
                }
                (true, cursor) => owed.push((topic, cursor)),
            }
        }
        self.ws_catch_up_all(local, conn, &owed, cx);
    }

    /// Sends a follower what it missed in several topics, in the order the events were
    /// published across them.
    pub(super) fn ws_catch_up_all(
        &self,
        local: &mut Local,
        conn: ConnId,
        owed: &[(String, u64)],
        cx: &mut Ctx<'_, Notice>,
    ) {
        match owed {
            [] => {}
            [(topic, cursor)] => self.ws_catch_up(local, conn, topic, *cursor, cx),
            _ => {
                let asked: Vec<(&str, u64)> = owed.iter().map(|(t, c)| (&**t, *c)).collect();
                let max = self.limits.max_events_per_response;
                let merged = owed::read_merged(&self.hub(), &asked, max, usize::MAX);
                // One write per `max` events, as a single topic's catch-up does.
                for batch in merged.chunks(max.max(1)) {
                    let pieces: Vec<(&str, &owed::Chunk)> =
                        batch.iter().map(|(i, c)| (asked[*i].0, c)).collect();
                    if !self.ws_send_batch(local, conn, &pieces, cx) {
                        return;
                    }
                }
            }
        }
    }

    /// Sends a follower at `cursor` of `topic` what it missed.
    pub(super) fn ws_catch_up(
        &self,
        local: &mut Local,
        conn: ConnId,
        topic: &str,
        cursor: u64,
        cx: &mut Ctx<'_, Notice>,
    ) {
        let max = self.limits.max_events_per_response;
        let chunks = owed::read(&self.hub(), topic, cursor, max, usize::MAX);
        self.ws_send(local, conn, topic, &chunks, cx);
    }

    /// Sends `chunks` one batch (one write) each; a follower that cannot take a batch is closed
    /// with 1013 and told where to resume.
    fn ws_send(
        &self,
        local: &mut Local,
        conn: ConnId,
        topic: &str,
        chunks: &[owed::Chunk],
        cx: &mut Ctx<'_, Notice>,
    ) {
        for chunk in chunks {
            if !self.ws_send_batch(local, conn, &[(topic, chunk)], cx) {
                return;
            }
        }
    }

    /// Sends the events of `pieces` (each a topic's chunk) in one write, and moves the
    /// follower's cursors past them; `false` if the follower could not take them and was
    /// closed with 1013, told where to resume.
    fn ws_send_batch(
        &self,
        local: &mut Local,
        conn: ConnId,
        pieces: &[(&str, &owed::Chunk)],
        cx: &mut Ctx<'_, Notice>,
    ) -> bool {
        let messages: Vec<std::sync::Arc<[u8]>> = pieces
            .iter()
            .flat_map(|(topic, chunk)| owed::ws_messages(topic, std::slice::from_ref(*chunk)))
            .collect();
        let texts = messages
            .iter()
            .map(|m| std::str::from_utf8(m).expect("event text is UTF-8 JSON"));
        let Ok(bytes) = cx.send_texts(conn, texts) else {
            cx.note_end(conn, End::SlowConsumer);
            let reason = format!("try again later; {}", self.resume_hint(local, conn));
            let _ = cx.close_ws(conn, CloseCode::TRY_AGAIN_LATER, &reason);
            // It follows nothing from here on; `closed` will not find it to count it.
            if local.ws.unsubscribe(conn) {
                Counters::sub_connection(&self.stats.websocket);
            }
            return false;
        };
        Counters::add(&self.stats.websocket.events, messages.len() as u64);
        Counters::add(&self.stats.websocket.bytes_out, bytes as u64);
        let sampled = pieces.last().filter(|(topic, _)| *topic != WIRE_TOPIC);
        if let (Some(last), Some(_)) = (messages.last(), sampled) {
            let payload = std::str::from_utf8(last).expect("event text is UTF-8 JSON");
            let wire = Wire::WsText {
                from_client: false,
                payload,
            };
            self.wire(Technique::WebSocket, cx, &wire);
        }
        for (topic, chunk) in pieces {
            if matches!(chunk.gap, Some(crate::hub::Gap::Reset { .. })) {
                // The topic began again below the follower's cursor: its cursor goes back.
                local.ws.set(conn, topic, chunk.next);
            } else {
                local.ws.advance(conn, topic, chunk.next);
            }
        }
        true
    }

    /// `resume from cursor N` (or `from position P`) for a close frame's reason, which holds at
    /// most 123 bytes (RFC 6455 §5.5): a position too long for it is left out.
    pub(super) fn resume_hint(&self, local: &Local, conn: ConnId) -> String {
        let cursors: Vec<(&str, u64)> = local
            .ws
            .cursors(conn)
            .into_iter()
            .filter(|&(_, c)| c != PENDING)
            .collect();
        match cursors.as_slice() {
            [] => "resume from now".into(),
            [(_, cursor)] => format!("resume from cursor {cursor}"),
            several => {
                let mut at = String::new();
                position::encode(several.iter().copied(), &mut at);
                if at.len() <= 90 {
                    format!("resume from position {at}")
                } else {
                    "resume from your last position".into()
                }
            }
        }
    }

    /// A message from a WebSocket client: echoed on `/echo`, a command with `pushwire.v1`,
    /// else published to the connection's topic.
    pub(super) fn ws_received(
        &self,
        local: &mut Local,
        message: Message<'_>,
        cx: &mut Ctx<'_, Notice>,
    ) {
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
        Counters::add(&self.stats.websocket.bytes_in, text.len() as u64);
        let wire = Wire::WsText {
            from_client: true,
            payload: text,
        };
        self.wire(Technique::WebSocket, cx, &wire);
        if local.commands.contains(&conn) {
            return self.command(local, conn, text, cx);
        }
        let topics: Vec<String> = local.ws.topics_of(conn).map(String::from).collect();
        let [topic] = topics.as_slice() else {
            // RFC 6455 §7.4.1: 1008, a message that violates the server's policy.
            let why = "publishing needs one topic, or the pushwire.v1 subprotocol";
            let _ = cx.close_ws(conn, CloseCode::POLICY_VIOLATION, why);
            return;
        };
        if let Err(reason) = self.ws_may_publish(local, conn, topic, cx.now()) {
            let _ = cx.close_ws(conn, CloseCode::POLICY_VIOLATION, &reason);
            return;
        }
        if self.brokered() {
            self.ws_publish_remote(local, conn, topic, text, None, cx);
            return;
        }
        if self.publish(topic, text.as_bytes(), cx).is_err() {
            let _ = cx.close_ws(conn, CloseCode::POLICY_VIOLATION, "publish refused");
        }
    }
}

/// WebSockets as followers of topics.
pub(super) struct Sockets;

impl Followers for Sockets {
    fn due(&self, _: &HubServer, local: &mut Local, topic: &str, last_seq: u64) -> Vec<Due> {
        local
            .ws
            .of_topic(topic)
            .filter(|&(_, c)| c != PENDING && c < last_seq)
            .map(|(conn, cursor)| Due {
                conn,
                cursor,
                others: Vec::new(),
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
        for d in due {
            if d.others.is_empty() {
                let chunks = owed.get(&d.cursor).map_or(&[][..], Vec::as_slice);
                server.ws_send(local, d.conn, topic, chunks, cx);
            } else {
                // A follower of several topics gets all it is owed in publish order (a worker
                // behind on its notices would otherwise send a topic's newer events before
                // another's older ones).
                let mut all = vec![(topic.to_string(), d.cursor)];
                all.extend(
                    d.others
                        .iter()
                        .filter(|(_, c)| *c != PENDING)
                        .map(|(t, c)| (t.to_string(), *c)),
                );
                server.ws_catch_up_all(local, d.conn, &all, cx);
            }
        }
    }
}
