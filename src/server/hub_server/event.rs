//! The event text every transport carries, and the gap that precedes what a reader missed.

use super::*;

/// `{"seq":N,"ts":T,"data":<body>}`, the body as a JSON string (RFC 8259 §7), so that
/// `JSON.parse(line).data` is the published text, byte for byte.
pub(super) fn event_text(seq: u64, ts: u64, body: &str) -> Vec<u8> {
    event_vec(seq, ts, body)
}

/// The publish time (`ts`) in an event's text.
pub(super) fn event_ts(data: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(data.get(..data.len().min(64))?).ok()?;
    let at = text.find(",\"ts\":")? + 6;
    text.get(at..)?.split([',', '}']).next()?.parse().ok()
}

/// The event's bytes as the hub stores them (for a broker that fills this node's hub).
pub fn event_bytes(seq: u64, ts: u64, body: &str) -> Arc<[u8]> {
    event_vec(seq, ts, body).into()
}

fn event_vec(seq: u64, ts: u64, body: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 48);
    let _ = write!(Bytes(&mut out), "{{\"seq\":{seq},\"ts\":{ts},\"data\":");
    json::push_string(body, &mut out);
    out.push(b'}');
    out
}

pub(super) struct Bytes<'a>(pub(super) &'a mut Vec<u8>);

impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

pub(super) fn gap_json(gap: Gap) -> String {
    match gap {
        Gap::Lost { from, to } => format!("{{\"gap\":{{\"from\":{from},\"to\":{to}}}}}"),
        Gap::Reset { cursor } => format!("{{\"gap\":{{\"reset\":{cursor}}}}}"),
    }
}
