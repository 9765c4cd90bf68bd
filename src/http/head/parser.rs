//! A request head read from caller-owned input with no allocation ([`HeadParser`]): the part
//! of [`Connection`](crate::http::Connection) a device with fixed storage can use alone.

use super::HttpLimits;
use super::request::{Request, parse_request};
use super::scan::HeadScan;
use crate::http::error::PeerError;
use crate::limits::Limits;

/// Reads one request head (RFC 9112 §2–§3, §5, with the framing checks of §6 and the Host rule
/// of §3.2) out of a buffer the caller owns and appends to, allocating nothing: the head's end
/// is found in linear time however the bytes arrive, then the head is parsed in place and the
/// returned [`Request`] borrows the buffer. The limits are `Limits`' head limits
/// (`max_request_line_bytes`, `max_head_bytes`, `max_headers`, `max_body_bytes` for a declared
/// length). What follows the head (a body, the next request, WebSocket frames) is the caller's:
/// the returned length says where it starts. A parser reads one head: for the next, a new one
/// over the bytes that follow.
///
/// [`Connection`](crate::http::Connection) does this and the rest of the exchange (bodies,
/// persistence, responses, deadlines); use this where only the head is wanted.
#[derive(Clone, Debug)]
pub struct HeadParser {
    scan: HeadScan,
    limits: HttpLimits,
}

impl HeadParser {
    /// A parser for one head, under `limits`.
    pub fn new(limits: &Limits) -> Self {
        HeadParser {
            scan: HeadScan::default(),
            limits: HttpLimits::from(limits),
        }
    }

    /// Looks at `input` (the whole buffer so far: the same bytes as the last call, with more
    /// appended). `Ok(None)`: the head is not complete yet. `Ok(Some((request, len)))`: the
    /// head is `input[..len]` (empty lines before it included).
    ///
    /// # Errors
    /// [`PeerError`] for a head that breaks a rule or a limit; its
    /// [`status`](PeerError::status) is the answer a server owes.
    pub fn parse<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<Option<(Request<'a>, usize)>, PeerError> {
        let l = &self.limits;
        let Some(span) = self.scan.scan(
            input,
            l.max_request_line_bytes,
            l.max_head_bytes,
            l.max_headers,
        )?
        else {
            return Ok(None);
        };
        let request = parse_request(input, span, l)?;
        Ok(Some((request, span.end)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Connection, Event};
    use crate::time::Instant;
    use alloc::vec::Vec;

    /// The example request of RFC 9112 §2.1.
    const RFC_EXAMPLE: &[u8] = b"GET /hello.txt HTTP/1.1\r\n\
        User-Agent: curl/7.64.1\r\n\
        Host: www.example.com\r\n\
        Accept-Language: en, mi\r\n\
        \r\n";

    fn parse_whole(input: &[u8]) -> Result<Option<(Request<'_>, usize)>, PeerError> {
        HeadParser::new(&Limits::default()).parse(input)
    }

    #[test]
    fn the_rfc_9112_example_is_read_in_place() {
        let (req, len) = parse_whole(RFC_EXAMPLE).unwrap().unwrap();
        assert_eq!(len, RFC_EXAMPLE.len());
        assert_eq!((req.method, req.path()), ("GET", "/hello.txt"));
        assert_eq!(req.header("host"), Some(&b"www.example.com"[..]));
        assert_eq!(req.header("accept-language"), Some(&b"en, mi"[..]));
        assert_eq!(req.headers().count(), 3);
    }

    #[test]
    fn a_head_arriving_a_byte_at_a_time_is_found_once_whole() {
        let mut parser = HeadParser::new(&Limits::default());
        for end in 1..RFC_EXAMPLE.len() {
            assert!(
                parser.parse(&RFC_EXAMPLE[..end]).unwrap().is_none(),
                "at {end}"
            );
        }
        let (req, len) = parser.parse(RFC_EXAMPLE).unwrap().unwrap();
        assert_eq!((req.path(), len), ("/hello.txt", RFC_EXAMPLE.len()));
    }

    #[test]
    fn empty_lines_before_the_head_are_skipped_and_what_follows_is_left() {
        // RFC 9112 §2.2: at least one empty line before a request line is ignored.
        let mut input = b"\r\n\r\n".to_vec();
        input.extend_from_slice(b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
        let (req, len) = parse_whole(&input).unwrap().unwrap();
        assert_eq!(req.body, crate::http::BodyKind::Length(5));
        assert_eq!(&input[len..], b"hello");
    }

    #[test]
    fn broken_heads_and_passed_limits_are_the_same_errors_as_the_connection_s() {
        let few = Limits {
            max_headers: 2,
            ..Limits::default()
        };
        let cases: [(&[u8], &Limits, PeerError); 5] = [
            (b"GET / HTTP/1.1\nHost: a\r\n\r\n", &Limits::default(), PeerError::BareLf),
            (b"GET / HTTP/1.1\r\n\r\n", &Limits::default(), PeerError::MissingHost),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n",
                &few,
                PeerError::TooManyHeaders,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                &Limits::default(),
                PeerError::ContentLengthWithTransferEncoding,
            ),
            (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", &Limits::default(), PeerError::WhitespaceBeforeColon),
        ];
        for (input, limits, expected) in cases {
            assert_eq!(HeadParser::new(limits).parse(input).err(), Some(expected));
            let mut conn = Connection::new(Instant::ZERO, limits);
            let mut out = Vec::new();
            assert_eq!(
                conn.feed(Instant::ZERO, input, &mut out).err(),
                Some(expected)
            );
        }
    }

    #[test]
    fn a_limit_passed_before_a_line_ends_is_the_error_however_the_bytes_arrive() {
        // A request line past its limit and then ended by a bare LF: its first 129 bytes
        // already passed the limit, so that is the answer whole as in pieces (a split once
        // decided it: found by the http_head fuzz target).
        let limits = Limits {
            max_request_line_bytes: 128,
            max_head_bytes: 160,
            ..Limits::default()
        };
        for line_len in [200usize, 150] {
            let mut input = b"GET /".to_vec();
            input.resize(line_len, b'a');
            input.extend_from_slice(b"\nHost: a\r\n\r\n");
            let whole = HeadParser::new(&limits).parse(&input).err();
            let mut parser = HeadParser::new(&limits);
            let bytewise = (1..=input.len()).find_map(|end| parser.parse(&input[..end]).err());
            assert_eq!(whole, Some(PeerError::RequestLineTooLong));
            assert_eq!(bytewise, whole);
        }
        // A head past its limit before its last line ends.
        let mut input = b"GET / HTTP/1.1\r\nHost: a\r\nX: ".to_vec();
        input.resize(200, b'b');
        input.extend_from_slice(b"\n\r\n");
        assert_eq!(
            HeadParser::new(&limits).parse(&input).err(),
            Some(PeerError::HeadTooLarge)
        );
    }

    #[test]
    fn a_head_agrees_with_the_connection_s_request() {
        let mut conn = Connection::new(Instant::ZERO, &Limits::default());
        let mut out = Vec::new();
        let step = conn.feed(Instant::ZERO, RFC_EXAMPLE, &mut out).unwrap();
        let Some(Event::Request(from_conn)) = step.event else {
            panic!("a request")
        };
        let (alone, _) = parse_whole(RFC_EXAMPLE).unwrap().unwrap();
        assert_eq!(alone, from_conn);
    }
}
