//! The event text every transport carries, and the gap that precedes what a reader missed.

use crate::hub::Gap;
use crate::json;
use std::fmt::Write as _;
use std::sync::Arc;

/// `{"topic":T,"seq":N,"ts":S,"data":<body>}`: the topic and body as JSON strings (RFC 8259
/// §7), so that `JSON.parse(line).data` is the published text, byte for byte.
pub(super) fn event_text(topic: &str, seq: u64, ts: u64, body: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(topic.len() + body.len() + 60);
    out.extend_from_slice(b"{\"topic\":");
    json::push_string(topic, &mut out);
    let _ = write!(Bytes(&mut out), ",\"seq\":{seq},\"ts\":{ts},\"data\":");
    json::push_string(body, &mut out);
    out.push(b'}');
    out
}

/// The publish time (`ts`) in an event's text.
pub(super) fn event_ts(data: &[u8]) -> Option<u64> {
    let at = find(data, b",\"ts\":")? + 6;
    let digits = data.get(at..)?;
    let end = digits.iter().position(|b| !b.is_ascii_digit())?;
    std::str::from_utf8(digits.get(..end)?).ok()?.parse().ok()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The event's bytes as the hub stores them (for a broker that fills this node's hub).
pub fn event_bytes(topic: &str, seq: u64, ts: u64, body: &str) -> Arc<[u8]> {
    event_text(topic, seq, ts, body).into()
}

pub(super) struct Bytes<'a>(pub(super) &'a mut Vec<u8>);

impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// `{"topic":T,"gap":{"from":A,"to":B}}` or `{"topic":T,"gap":{"reset":N}}`.
pub(super) fn gap_json(topic: &str, gap: Gap) -> Vec<u8> {
    let mut out = b"{\"topic\":".to_vec();
    json::push_string(topic, &mut out);
    let _ = match gap {
        Gap::Lost { from, to } => write!(
            Bytes(&mut out),
            ",\"gap\":{{\"from\":{from},\"to\":{to}}}}}"
        ),
        Gap::Reset { cursor } => write!(Bytes(&mut out), ",\"gap\":{{\"reset\":{cursor}}}}}"),
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_names_its_topic_and_keeps_its_body_exactly() {
        let text = event_text("chat \"lobby\"", 5, 1_700_000_000_000_000_000, "a\nb");
        let text = String::from_utf8(text).unwrap();
        assert_eq!(
            text,
            r#"{"topic":"chat \"lobby\"","seq":5,"ts":1700000000000000000,"data":"a\nb"}"#
        );
        assert_eq!(event_ts(text.as_bytes()), Some(1_700_000_000_000_000_000));
        assert_eq!(
            gap_json("t", Gap::Lost { from: 3, to: 9 }),
            br#"{"topic":"t","gap":{"from":3,"to":9}}"#
        );
        assert_eq!(
            gap_json("t", Gap::Reset { cursor: 4 }),
            br#"{"topic":"t","gap":{"reset":4}}"#
        );
    }
}
