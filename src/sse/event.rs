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
    /// The event does not fit in the buffer given to [`encode_into`].
    #[error("the event needs {needed} bytes, more than the buffer holds")]
    BufferTooSmall {
        /// The length of the encoded event.
        needed: usize,
    },
}

/// Appends `event` to `out`.
///
/// # Errors
/// [`UsageError`] for an `id` or `event` that would break framing; nothing is written then.
pub fn encode(event: &Event<'_>, out: &mut Vec<u8>) -> Result<(), UsageError> {
    check(event)?;
    out.reserve(event.data.len() + 32);
    write_event(event, out);
    Ok(())
}

/// Writes `event` at the start of `buf`, allocating nothing (for storage of a fixed size);
/// returns the length written. The bytes are those [`encode`] appends.
///
/// # Errors
/// [`UsageError`] for an `id` or `event` that would break framing, and
/// [`UsageError::BufferTooSmall`] (with the length needed) when the event does not fit;
/// nothing is written then.
pub fn encode_into(event: &Event<'_>, buf: &mut [u8]) -> Result<usize, UsageError> {
    check(event)?;
    let mut count = Count(0);
    write_event(event, &mut count);
    if count.0 > buf.len() {
        return Err(UsageError::BufferTooSmall { needed: count.0 });
    }
    let mut fixed = Fixed { buf, at: 0 };
    write_event(event, &mut fixed);
    debug_assert_eq!(
        fixed.at, count.0,
        "the count and the writing follow one routine"
    );
    Ok(fixed.at)
}

/// Refuses an `id` or `event` value that would break framing.
fn check(event: &Event<'_>) -> Result<(), UsageError> {
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
    Ok(())
}

/// Where an encoded event goes: one routine writes it to each (a growing `Vec`, a count of
/// its length, a fixed buffer already known to be large enough).
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

struct Count(usize);

impl Sink for Count {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
}

struct Fixed<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Sink for Fixed<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.at + bytes.len();
        self.buf
            .get_mut(self.at..end)
            .expect("the event was counted before it was written and fits")
            .copy_from_slice(bytes);
        self.at = end;
    }
}

/// The event's field lines and the blank line that ends it (its values already checked).
fn write_event(event: &Event<'_>, out: &mut impl Sink) {
    if let Some(id) = event.id {
        field(out, b"id", id.as_bytes());
    }
    if let Some(kind) = event.event {
        field(out, b"event", kind.as_bytes());
    }
    if let Some(retry) = event.retry {
        let mut digits = [0u8; 20];
        field(out, b"retry", crate::decimal(retry, &mut digits));
    }
    for line in lines(event.data) {
        field(out, b"data", line.as_bytes());
    }
    out.put(b"\n");
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

fn field(out: &mut impl Sink, name: &[u8], value: &[u8]) {
    out.put(name);
    out.put(b": ");
    out.put(value);
    out.put(b"\n");
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
    fn into_a_fixed_buffer_the_same_bytes_or_the_length_needed() {
        let events = [
            Event {
                id: Some("7"),
                event: Some("tick"),
                data: "a\nb\r\nc",
                retry: Some(18_446_744_073_709_551_615),
            },
            Event::default(),
            Event {
                data: "x",
                retry: Some(0),
                ..Default::default()
            },
        ];
        for e in events {
            let mut grown = Vec::new();
            encode(&e, &mut grown).unwrap();
            let mut buf = [0u8; 128];
            let n = encode_into(&e, &mut buf).unwrap();
            assert_eq!(&buf[..n], &grown[..]);
            let mut short = [0u8; 128];
            let short = &mut short[..n - 1];
            assert_eq!(
                encode_into(&e, short),
                Err(UsageError::BufferTooSmall { needed: n })
            );
            assert!(
                short.iter().all(|&b| b == 0),
                "nothing written when it does not fit"
            );
        }
        let bad = Event {
            id: Some("a\nb"),
            ..Default::default()
        };
        assert_eq!(encode_into(&bad, &mut [0; 64]), Err(UsageError::InvalidId));
    }

    #[test]
    fn comment_lines() {
        let mut out = Vec::new();
        encode_comment("keep-alive", &mut out);
        encode_comment("", &mut out);
        assert_eq!(out, b": keep-alive\n\n:\n\n");
    }
}
