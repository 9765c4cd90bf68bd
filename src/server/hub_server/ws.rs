//! WebSocket followers (`GET /ws`): every event as a text message, sent a response-sized
//! batch per write.

use super::*;

impl HubServer {
    pub(super) fn deliver_ws(
        &self,
        local: &mut Local,
        topic: &str,
        followers: &[(ConnId, u64)],
        owed: &BTreeMap<u64, Vec<owed::Chunk>>,
        cx: &mut Ctx<'_, Notice>,
    ) {
        for &(conn, cursor) in followers {
            let chunks = owed.get(&cursor).map_or(&[][..], Vec::as_slice);
            self.ws_send(local, conn, topic, cursor, chunks, cx);
        }
    }

    /// Sends a follower at `cursor` what it missed, on opening.
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
        self.ws_send(local, conn, topic, cursor, &chunks, cx);
    }

    /// Sends `chunks` one batch (one write) each; a follower that cannot take a batch is closed
    /// with 1013 and told where to resume.
    fn ws_send(
        &self,
        local: &mut Local,
        conn: ConnId,
        topic: &str,
        mut cursor: u64,
        chunks: &[owed::Chunk],
        cx: &mut Ctx<'_, Notice>,
    ) {
        for chunk in chunks {
            let messages = owed::ws_messages(std::slice::from_ref(chunk));
            // Event text is UTF-8 JSON.
            let texts = messages
                .iter()
                .map(|m| std::str::from_utf8(m).unwrap_or_default());
            let Ok(bytes) = cx.send_texts(conn, texts) else {
                cx.note_end(conn, crate::reactor::End::SlowConsumer);
                let reason = format!("cursor={cursor}");
                let _ = cx.close_ws(conn, CloseCode::TRY_AGAIN_LATER, &reason);
                // It follows nothing from here on; `closed` will not find it to count it.
                if local.ws.unsubscribe(conn).is_some() {
                    Counters::sub_connection(&self.stats.websocket);
                }
                return;
            };
            Counters::add(&self.stats.websocket.events, messages.len() as u64);
            Counters::add(&self.stats.websocket.bytes_out, bytes as u64);
            if topic != WIRE_TOPIC {
                if let Some(last) = messages.last() {
                    let text = std::str::from_utf8(last).unwrap_or_default();
                    let wire = Wire::WsText {
                        from_client: false,
                        payload: text,
                    };
                    self.wire(Technique::WebSocket, cx, &wire);
                }
            }
            cursor = chunk.next;
            local.ws.advance(conn, cursor);
        }
    }
}
