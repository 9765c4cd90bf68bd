//! What a publish owes a worker's followers, read from the hub under one lock and encoded once
//! per transport: followers at the same cursor (nearly all of them) share the bytes.

use super::event::{event_ts, gap_json};
use crate::hub::{Gap, Hub, position};
use crate::server::Response;
use crate::sse;
use std::collections::VecDeque;
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

/// What a reader of several topics is owed after its cursors (`(topic, cursor)` each), at
/// most `total` events in all, as one-event chunks in the order the events were published
/// across topics — each topic's own order kept, a gap before its topic's first event:
/// `(index in cursors, chunk)`.
pub(super) fn read_merged(
    hub: &Hub,
    cursors: &[(&str, u64)],
    max: usize,
    total: usize,
) -> Vec<(usize, Chunk)> {
    let chunks = total.div_ceil(max.max(1)).max(1);
    if let [(topic, cursor)] = cursors {
        // One topic: its chunks as they are.
        return read(hub, topic, *cursor, max.min(total), chunks)
            .into_iter()
            .map(|chunk| (0, chunk))
            .collect();
    }
    let mut lists: Vec<VecDeque<Chunk>> = cursors
        .iter()
        .map(|&(topic, cursor)| {
            let mut list = VecDeque::new();
            for chunk in read(hub, topic, cursor, max, chunks) {
                split(chunk, &mut list);
            }
            list
        })
        .collect();
    let mut merged = Vec::new();
    let mut events = 0;
    while events < total {
        // The topic whose next event was published first; a gap goes at once. (A k-way merge,
        // not a sort: an event's time orders it among other topics, never within its own.)
        let first = lists
            .iter()
            .enumerate()
            .filter_map(|(i, list)| list.front().map(|c| (published(c), i)))
            .min();
        let Some((_, i)) = first else { break };
        let chunk = lists[i].pop_front().expect("the list picked has a head");
        events += chunk.events.len();
        merged.push((i, chunk));
    }
    merged
}

/// `chunk` as one-event chunks (its gap on the first), onto `list`.
fn split(chunk: Chunk, list: &mut VecDeque<Chunk>) {
    let Chunk { gap, events, next } = chunk;
    if events.is_empty() {
        list.push_back(Chunk { gap, events, next });
        return;
    }
    let last = events.len() - 1;
    for (k, (seq, text)) in events.into_iter().enumerate() {
        list.push_back(Chunk {
            gap: if k == 0 { gap } else { None },
            events: vec![(seq, text)],
            next: if k == last { next } else { seq },
        });
    }
}

/// When a one-event chunk's event was published (0 for one that opens with a gap).
fn published(chunk: &Chunk) -> u64 {
    match (&chunk.gap, chunk.events.first()) {
        (None, Some((_, text))) => event_ts(text).unwrap_or(0),
        _ => 0,
    }
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

#[cfg(test)]
mod tests {
    use super::read_merged;
    use crate::Limits;
    use crate::hub::Hub;
    use crate::server::hub_server::event::event_text;

    fn publish(hub: &mut Hub, topic: &str, ts: u64) {
        hub.publish(topic, |seq| event_text(topic, seq, ts, "x").into())
            .unwrap();
    }

    #[test]
    fn several_topics_merge_in_publish_order_each_keeping_its_own() {
        let mut hub = Hub::new(&Limits::default());
        // Publish times across topics: a1 10, b1 20, a2 30, b2 25 — and a3 at 15, earlier than
        // a2 (a clock that stepped back, or a node whose clock is behind): it stays after a2.
        publish(&mut hub, "a", 10);
        publish(&mut hub, "b", 20);
        publish(&mut hub, "a", 30);
        publish(&mut hub, "b", 25);
        publish(&mut hub, "a", 15);
        let merged = read_merged(&hub, &[("a", 0), ("b", 0)], 100, usize::MAX);
        let order: Vec<(usize, u64)> = merged.iter().map(|(i, c)| (*i, c.events[0].0)).collect();
        assert_eq!(order, [(0, 1), (1, 1), (1, 2), (0, 2), (0, 3)]);
        assert_eq!(merged.last().map(|(_, c)| c.next), Some(3));
        // At most `total` events, and each topic's cursor after what was taken.
        let two = read_merged(&hub, &[("a", 0), ("b", 0)], 100, 2);
        assert_eq!(two.len(), 2);
        assert_eq!((two[0].1.next, two[1].1.next), (1, 1));
        // One topic: its chunks as they are, `max` events each.
        let one = read_merged(&hub, &[("a", 1)], 1, usize::MAX);
        assert_eq!(one.iter().map(|(_, c)| c.next).collect::<Vec<_>>(), [2, 3]);
    }
}
