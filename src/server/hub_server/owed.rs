//! What a publish owes a worker's followers, read from the hub under one lock and encoded once
//! per transport: followers at the same cursor (nearly all of them) share the bytes.

use super::event::gap_json;
use crate::hub::{Gap, Hub, position};
use crate::server::Response;
use crate::sse;
use std::sync::Arc;

/// Events of one topic after one cursor, as the hub gave them, at most
/// `max_events_per_response` a chunk.
pub(super) struct Chunk {
    /// Events the reader can no longer get, reported first.
    pub gap: Option<Gap>,
    /// `(seq, event text)` in order.
    pub events: Vec<(u64, Arc<[u8]>)>,
    /// The cursor after this chunk.
    pub next: u64,
}

/// Up to `limit` chunks of `topic` after `cursor` (`usize::MAX`: all of history after it, in
/// response-sized pieces of at most `max` events).
pub(super) fn read(
    hub: &Hub,
    topic: &str,
    mut cursor: u64,
    max: usize,
    limit: usize,
) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    while chunks.len() < limit {
        let since = hub.since(topic, cursor, max);
        let more = since.more;
        let chunk = Chunk {
            gap: since.gap,
            events: since.events.map(|e| (e.seq, e.data.clone())).collect(),
            next: since.next,
        };
        cursor = chunk.next;
        if chunk.gap.is_none() && chunk.events.is_empty() {
            return chunks;
        }
        chunks.push(chunk);
        if !more {
            return chunks;
        }
    }
    chunks
}

/// Where a reader stands after an event: its cursors in every topic it follows, with `topic`'s
/// moved to the event's number. For a reader of one topic that is the number itself.
pub(super) struct Place<'a> {
    /// The reader's cursors in its other topics.
    pub others: &'a [(&'a str, u64)],
    pub topic: &'a str,
}

impl Place<'_> {
    /// The position after `seq` in this place's topic.
    pub fn after(&self, seq: u64) -> String {
        let mut out = String::new();
        if self.others.is_empty() {
            out.push_str(&seq.to_string());
        } else {
            let all = self.others.iter().copied().chain([(self.topic, seq)]);
            position::encode(all, &mut out);
        }
        out
    }
}

/// The chunks as Server-Sent Events (WHATWG HTML §9.2.5): a `gap` event where one is due, then
/// `id: <position>` and `data: <event text>` per event. Returns the number of events.
pub(super) fn encode_sse(place: &Place<'_>, chunks: &[Chunk], out: &mut Vec<u8>) -> u64 {
    let mut count = 0;
    for chunk in chunks {
        if let Some(gap) = chunk.gap {
            let data = gap_json(place.topic, gap);
            let data = std::str::from_utf8(&data).expect("JSON written from strings");
            let _ = sse::encode(
                &sse::Event {
                    event: Some("gap"),
                    data,
                    ..Default::default()
                },
                out,
            );
        }
        for (seq, text) in &chunk.events {
            let id = place.after(*seq);
            let data = std::str::from_utf8(text).expect("event text is UTF-8 JSON (event_text)");
            let _ = sse::encode(
                &sse::Event {
                    id: Some(&id),
                    data,
                    ..Default::default()
                },
                out,
            );
            count += 1;
        }
    }
    count
}

/// The chunks as WebSocket text messages: the gap notice, then each event text.
pub(super) fn ws_messages(topic: &str, chunks: &[Chunk]) -> Vec<Arc<[u8]>> {
    let mut messages = Vec::new();
    for chunk in chunks {
        if let Some(gap) = chunk.gap {
            messages.push(gap_json(topic, gap).into());
        }
        messages.extend(chunk.events.iter().map(|(_, text)| text.clone()));
    }
    messages
}

/// The first chunk as an NDJSON long-poll answer (the client asks again from `X-Cursor` for the
/// rest); `None` when nothing is owed. Returns the response and its number of events.
pub(super) fn ndjson(place: &Place<'_>, chunks: &[Chunk]) -> Option<(Response, u64)> {
    let chunk = chunks.first()?;
    let mut body = Vec::new();
    if let Some(gap) = chunk.gap {
        body.extend_from_slice(&gap_json(place.topic, gap));
        body.push(b'\n');
    }
    for (_, text) in &chunk.events {
        body.extend_from_slice(text);
        body.push(b'\n');
    }
    let response = Response::new(200)
        .header("Content-Type", "application/x-ndjson")
        .header("Cache-Control", "no-store")
        .header("X-Cursor", place.after(chunk.next))
        .body(body);
    Some((response, chunk.events.len() as u64))
}

/// The cursor after all of `chunks`, or `cursor` when they are empty.
pub(super) fn next(chunks: &[Chunk], cursor: u64) -> u64 {
    chunks.last().map_or(cursor, |c| c.next)
}
