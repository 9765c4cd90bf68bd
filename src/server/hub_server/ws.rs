//! WebSocket followers (`GET /ws`): every event as a text message, sent in batches.

use super::*;

/// What a WebSocket follower at one cursor is owed.
pub(super) struct WsBatch {
    messages: Vec<Arc<[u8]>>,
    next: u64,
    more: bool,
}

impl HubServer {
    pub(super) fn deliver_ws(&self, local: &mut Local, topic: &str, cx: &mut Ctx<'_, Notice>) {
        let followers: Vec<(ConnId, u64)> = local.ws.of_topic(topic).collect();
        // Followers at the same cursor share one read of the history.
        let mut batches: BTreeMap<u64, WsBatch> = BTreeMap::new();
        for (conn, cursor) in followers {
            let batch = batches
                .entry(cursor)
                .or_insert_with(|| self.ws_batch(topic, cursor));
            self.ws_send_batch(local, conn, topic, cursor, batch, cx);
        }
    }

    /// The messages a WebSocket follower at `cursor` is owed (a gap notice first if needed),
    /// at most `max_events_per_response` of them.
    pub(super) fn ws_batch(&self, topic: &str, cursor: u64) -> WsBatch {
        let hub = self.hub();
        let since = hub.since(topic, cursor, self.limits.max_events_per_response);
        let mut messages: Vec<Arc<[u8]>> = Vec::with_capacity(since.events.len() + 1);
        if let Some(gap) = since.gap {
            messages.push(gap_json(gap).into_bytes().into());
        }
        messages.extend(since.events.clone().map(|e| e.data.clone()));
        WsBatch {
            messages,
            next: since.next,
            more: since.more,
        }
    }

    /// Sends a batch in one write; a follower that cannot take it is closed with 1013 and
    /// told where to resume.
    pub(super) fn ws_send_batch(
        &self,
        local: &mut Local,
        conn: ConnId,
        topic: &str,
        cursor: u64,
        batch: &WsBatch,
        cx: &mut Ctx<'_, Notice>,
    ) {
        if batch.messages.is_empty() {
            return;
        }
        // Event text is ASCII JSON.
        let texts = batch
            .messages
            .iter()
            .map(|m| std::str::from_utf8(m).unwrap_or_default());
        if cx.send_texts(conn, texts).is_err() {
            let reason = format!("cursor={cursor}");
            let _ = cx.close_ws(conn, CloseCode::TRY_AGAIN_LATER, &reason);
            local.ws.unsubscribe(conn);
            return;
        }
        let bytes: usize = batch.messages.iter().map(|m| ws_frame_len(m.len())).sum();
        Counters::add(&self.stats.websocket.events, batch.messages.len() as u64);
        Counters::add(&self.stats.websocket.bytes_out, bytes as u64);
        if topic != WIRE_TOPIC {
            if let Some(last) = batch.messages.last() {
                let text = std::str::from_utf8(last).unwrap_or_default();
                self.wire(Technique::WebSocket, cx, || {
                    frame_text("server → client", false, text)
                });
            }
        }
        local.ws.advance(conn, batch.next);
        if batch.more {
            self.ws_catch_up(local, conn, topic, batch.next, cx);
        }
    }

    /// Sends a WebSocket follower everything after its cursor.
    pub(super) fn ws_catch_up(
        &self,
        local: &mut Local,
        conn: ConnId,
        topic: &str,
        mut cursor: u64,
        cx: &mut Ctx<'_, Notice>,
    ) {
        loop {
            let batch = self.ws_batch(topic, cursor);
            if batch.messages.is_empty() {
                return;
            }
            let (more, next) = (batch.more, batch.next);
            self.ws_send_batch(
                local,
                conn,
                topic,
                cursor,
                &WsBatch {
                    more: false,
                    ..batch
                },
                cx,
            );
            if local.ws.topic(conn).is_none() {
                return; // cut off as too slow
            }
            cursor = next;
            if !more {
                return;
            }
        }
    }
}
