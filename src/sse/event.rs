//! Encoding events as field lines (WHATWG HTML, "Server-sent events", §9.2.5-§9.2.6).
//!
//! An event is a block of `field: value` lines ended by a blank line. Data that holds line
//! breaks (CR, LF or CRLF) becomes several `data:` lines, which the client joins with LF. An
//! `id` or `event` value with CR, LF (or NUL, for `id`) cannot be framed, and is refused rather
//! than allowed to corrupt the stream.

use alloc::vec::Vec;

/// An event to send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Event<'a> {
    /// `id:` — what the client sends back as `Last-Event-ID` when it reconnects.
    pub id: Option<&'a str>,
    /// `event:` — the event type (the client's default is `message`).
    pub event: Option<&'a str>,
    /// `data:` — the payload; line breaks become separate `data:` lines.
    pub data: &'a str,
    /// `retry:` — the client's reconnection delay, in milliseconds.
    pub retry: Option<u64>,
}

/// A value that cannot be framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// An `id` with CR, LF or NUL (a NUL makes clients ignore the id).
    #[error("event id contains CR, LF or NUL")]
    InvalidId,
    /// An `event` type with CR or LF.
    #[error("event type contains CR or LF")]
    InvalidEventType,
}

/// Appends `event` to `out`.
///
/// # Errors
/// [`UsageError`] for an `id` or `event` that would break framing; nothing is written then.
pub fn encode(event: &Event<'_>, out: &mut Vec<u8>) -> Result<(), UsageError> {
    if let Some(id) = event.id {
        if id.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(UsageError::InvalidId);
        }
    }
    if let Some(kind) = event.event {
        if kind.bytes().any(|b| matches!(b, b'\r' | b'\n')) {
            return Err(UsageError::InvalidEventType);
        }
    }
    out.reserve(event.data.len() + 32);
    if let Some(id) = event.id {
        field(out, b"id", id.as_bytes());
    }
    if let Some(kind) = event.event {
        field(out, b"event", kind.as_bytes());
    }
    if let Some(retry) = event.retry {
        out.extend_from_slice(b"retry: ");
        crate::http::push_decimal(out, retry);
        out.push(b'\n');
    }
    for line in lines(event.data) {
        field(out, b"data", line.as_bytes());
    }
    out.push(b'\n');
    Ok(())
}

/// Appends a comment (ignored by clients; keeps proxies from closing a quiet stream). Line
/// breaks in `text` start new comment lines.
pub fn encode_comment(text: &str, out: &mut Vec<u8>) {
    for line in lines(text) {
        out.push(b':');
        if !line.is_empty() {
            out.push(b' ');
            out.extend_from_slice(line.as_bytes());
        }
        out.push(b'\n');
    }
    out.push(b'\n');
}

fn field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// Splits on CRLF, CR and LF (the three line endings of the event stream format). An empty
/// string is one empty line.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    core::iter::from_fn(move || {
        let s = rest?;
        match s.find(['\r', '\n']) {
            None => {
                rest = None;
                Some(s)
            }
            Some(i) => {
                let skip = if s[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&s[i + skip..]);
                Some(&s[..i])
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn enc(e: Event<'_>) -> String {
        let mut out = Vec::new();
        encode(&e, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn event_with_all_fields() {
        let e = Event {
            id: Some("7"),
            event: Some("tick"),
            data: "hello",
            retry: Some(3000),
        };
        assert_eq!(enc(e), "id: 7\nevent: tick\nretry: 3000\ndata: hello\n\n");
    }

    #[test]
    fn multiline_data_split_on_cr_lf_and_crlf() {
        let e = Event {
            data: "a\nb\r\nc\rd",
            ..Default::default()
        };
        assert_eq!(enc(e), "data: a\ndata: b\ndata: c\ndata: d\n\n");
        let e = Event {
            data: "",
            ..Default::default()
        };
        assert_eq!(enc(e), "data: \n\n");
        let e = Event {
            data: "x\n",
            ..Default::default()
        };
        assert_eq!(enc(e), "data: x\ndata: \n\n");
    }

    #[test]
    fn id_or_event_that_breaks_framing_is_usage_error() {
        let mut out = Vec::new();
        for id in ["a\nb", "a\rb", "a\0b"] {
            let e = Event {
                id: Some(id),
                ..Default::default()
            };
            assert_eq!(encode(&e, &mut out), Err(UsageError::InvalidId));
        }
        let e = Event {
            event: Some("a\nb"),
            ..Default::default()
        };
        assert_eq!(encode(&e, &mut out), Err(UsageError::InvalidEventType));
        assert!(out.is_empty(), "nothing written for a refused event");
    }

    #[test]
    fn comment_lines() {
        let mut out = Vec::new();
        encode_comment("keep-alive", &mut out);
        encode_comment("", &mut out);
        assert_eq!(out, b": keep-alive\n\n:\n\n");
    }
}
