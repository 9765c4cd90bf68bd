//! The client side of an HTTP/1.1 connection: a request encoder and a response parser.
//!
//! RFC 9112 §4 (status line), §6.3 (how a response body is delimited: by the request method,
//! the status, Transfer-Encoding, Content-Length, or the close of the connection), §9.3
//! (responses arrive in request order). It is what the WebSocket client handshake, the SSE
//! client and the tests speak; it keeps no timers (a client driver owns its own patience).

use super::body::{BodyDecoder, BodyEncoder, ChunkedDecoder, Piece};
use super::error::{PeerError, UsageError};
use super::head::HttpLimits;
use super::head::{
    BodyKind, Fields, HeadScan, HeadSpan, MAX_HEADER_SLOTS, Version, check_fields,
    check_outgoing_fields, classify, find_byte, is_token, push_decimal,
};
use crate::limits::Limits;
use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// A parsed response head, borrowed from the input (RFC 9112 §4).
#[derive(Clone, Debug)]
pub struct Response<'a> {
    /// The status code.
    pub status: u16,
    /// The reason phrase, as sent (meaningless to a program; RFC 9112 §4).
    pub reason: &'a str,
    /// The protocol version the server spoke.
    pub version: Version,
    /// How the body is delimited.
    pub body: BodyKind,
    /// Whether the connection can carry another request afterwards.
    pub keep_alive: bool,
    lines: &'a [u8],
}

impl<'a> Response<'a> {
    /// The header fields, in order.
    pub fn headers(&self) -> Fields<'a> {
        Fields::new(self.lines)
    }

    /// The value of the first field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers().get(name)
    }
}

/// What the response stream produced.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A response head. A 1xx head (other than 101) is interim: another head follows.
    Response(Response<'a>),
    /// Body bytes, borrowed from the input.
    Data(&'a [u8]),
    /// The response is complete.
    End,
    /// The server switched protocols (after a `101` head); `leftover` is what followed it.
    Upgraded {
        /// Bytes after the `101` head, for the next protocol's machine.
        leftover: &'a [u8],
    },
}

/// The result of one [`Connection::feed`] call.
#[derive(Debug)]
#[must_use = "a step says how much input was consumed and what it produced"]
pub struct Step<'a> {
    /// Bytes of input used; the caller keeps the rest.
    pub consumed: usize,
    /// What they produced.
    pub event: Option<Event<'a>>,
}

/// How a request body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestBody {
    /// No body.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked (HTTP/1.1 only).
    Chunked,
}

#[derive(Clone, Debug)]
enum Read {
    Head(HeadScan),
    Body(BodyDecoder),
    Upgraded { handed_over: bool },
    Closed,
}

/// One client-side HTTP/1.1 connection.
///
/// ```
/// use pushwire::http::client::{Connection, Event, RequestBody};
/// use pushwire::Limits;
///
/// let mut conn = Connection::new(&Limits::default());
/// let mut out = Vec::new();
/// conn.send_request("GET", "/", &[("Host", b"example.com")], RequestBody::Empty, &mut out).unwrap();
/// let step = conn.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi").unwrap();
/// let Some(Event::Response(resp)) = step.event else { panic!("a response") };
/// assert_eq!(resp.status, 200);
/// ```
#[derive(Clone, Debug)]
pub struct Connection {
    limits: HttpLimits,
    /// For each request sent and not yet answered: whether it was HEAD.
    in_flight: VecDeque<bool>,
    read: Read,
    /// The request body being written, if any.
    write: Option<BodyEncoder>,
    /// An `End` produced by EOF, for [`Connection::poll_event`].
    eof_end: bool,
}

impl Connection {
    /// A new connection.
    pub fn new(limits: &Limits) -> Self {
        Connection {
            limits: HttpLimits::from(limits),
            in_flight: VecDeque::new(),
            read: Read::Head(HeadScan::default()),
            write: None,
            eof_end: false,
        }
    }

    /// Writes a request head (RFC 9112 §3). `headers` must include `Host` for HTTP/1.1 and must
    /// not include Content-Length, Transfer-Encoding or Connection.
    ///
    /// # Errors
    /// [`UsageError`] for an invalid method or target, a bad or reserved field, or a request
    /// sent while the previous request's body is unfinished.
    pub fn send_request(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &[u8])],
        body: RequestBody,
        out: &mut Vec<u8>,
    ) -> Result<(), UsageError> {
        if self.write.is_some() {
            return Err(UsageError::HeadAlreadySent);
        }
        if matches!(self.read, Read::Closed | Read::Upgraded { .. }) {
            return Err(UsageError::Closed);
        }
        let target_ok = !target.is_empty() && target.bytes().all(|b| b.is_ascii_graphic());
        if !is_token(method.as_bytes()) || !target_ok {
            return Err(UsageError::InvalidStartLine);
        }
        // Upgrade requests name their own Connection field (RFC 9110 §7.8).
        check_outgoing_fields(headers, true)?;
        out.extend_from_slice(method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        super::head::push_fields(out, headers);
        self.write = match body {
            RequestBody::Empty => None,
            RequestBody::Length(n) => {
                out.extend_from_slice(b"Content-Length: ");
                push_decimal(out, n);
                out.extend_from_slice(b"\r\n");
                (n > 0).then_some(BodyEncoder::Length(n))
            }
            RequestBody::Chunked => {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
                Some(BodyEncoder::Chunked)
            }
        };
        out.extend_from_slice(b"\r\n");
        self.in_flight.push_back(method == "HEAD");
        Ok(())
    }

    /// Writes request body bytes.
    ///
    /// # Errors
    /// [`UsageError::NoBodyInProgress`] or [`UsageError::BodyTooLong`].
    pub fn send_body(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), UsageError> {
        let body = self.write.as_mut().ok_or(UsageError::NoBodyInProgress)?;
        body.write(data, out)?;
        if body.is_spent() {
            self.write = None;
        }
        Ok(())
    }

    /// Ends a chunked request body, with optional trailer fields.
    ///
    /// # Errors
    /// [`UsageError::BodyTooShort`] for an unfinished Content-Length body.
    pub fn send_end(
        &mut self,
        trailers: &[(&str, &[u8])],
        out: &mut Vec<u8>,
    ) -> Result<(), UsageError> {
        match self.write.take() {
            None => Ok(()),
            Some(body) => body
                .finish(trailers, out)
                .inspect_err(|_| self.write = Some(body)),
        }
    }

    /// Reads a prefix of `input`; same contract as the server side's `feed`.
    ///
    /// # Errors
    /// A [`PeerError`] for a malformed response; the connection is then closed.
    pub fn feed<'a>(&mut self, input: &'a [u8]) -> Result<Step<'a>, PeerError> {
        let result = self.feed_inner(input);
        if result.is_err() {
            self.read = Read::Closed;
        }
        result
    }

    fn feed_inner<'a>(&mut self, input: &'a [u8]) -> Result<Step<'a>, PeerError> {
        let idle = Step {
            consumed: 0,
            event: None,
        };
        match &mut self.read {
            Read::Closed => Ok(Step {
                consumed: input.len(),
                event: None,
            }),
            Read::Upgraded { handed_over: true } => Ok(idle),
            Read::Upgraded { handed_over } => {
                *handed_over = true;
                Ok(Step {
                    consumed: input.len(),
                    event: Some(Event::Upgraded { leftover: input }),
                })
            }
            Read::Head(scan) => {
                if input.is_empty() {
                    return Ok(idle);
                }
                let limits = &self.limits;
                let Some(span) = scan.scan(
                    input,
                    limits.max_head_bytes,
                    limits.max_head_bytes,
                    limits.max_headers,
                )?
                else {
                    return Ok(idle);
                };
                self.on_head(input, span)
            }
            Read::Body(decoder) => {
                let until_close = matches!(decoder, BodyDecoder::UntilClose);
                let (consumed, piece) = decoder.decode(input)?;
                match piece {
                    Some(Piece::Data(data)) => Ok(Step {
                        consumed,
                        event: Some(Event::Data(data)),
                    }),
                    Some(Piece::End) => {
                        self.in_flight.pop_front();
                        self.read = if until_close {
                            Read::Closed
                        } else {
                            Read::Head(HeadScan::default())
                        };
                        Ok(Step {
                            consumed,
                            event: Some(Event::End),
                        })
                    }
                    None => Ok(Step {
                        consumed,
                        event: None,
                    }),
                }
            }
        }
    }

    /// A whole response head at `span` of `input`: the response, and how its body is read.
    fn on_head<'a>(&mut self, input: &'a [u8], span: HeadSpan) -> Result<Step<'a>, PeerError> {
        let limits = &self.limits;
        let head = input
            .get(span.start..span.end)
            .ok_or(PeerError::MalformedHead)?;
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADER_SLOTS];
        let slots = &mut slots[..limits.max_headers.clamp(1, MAX_HEADER_SLOTS)];
        let mut resp = httparse::Response::new(slots);
        match resp.parse(head) {
            Ok(httparse::Status::Complete(n)) if n == head.len() => {}
            Ok(_) => return Err(PeerError::MalformedHead),
            Err(httparse::Error::Status | httparse::Error::Version) => {
                return Err(PeerError::InvalidStatusLine);
            }
            Err(e) => return Err(classify(head, e)),
        }
        let (Some(minor), Some(status)) = (resp.version, resp.code) else {
            return Err(PeerError::InvalidStatusLine);
        };
        let version = if minor == 0 {
            Version::Http10
        } else {
            Version::Http11
        };
        let framing = check_fields(resp.headers, version, false)?;
        let Some(&head_request) = self.in_flight.front() else {
            return Err(PeerError::UnexpectedResponse);
        };
        // RFC 9112 §6.3 items 1-2: these responses never have a body.
        let body = if head_request || status < 200 || status == 204 || status == 304 {
            BodyKind::None
        } else {
            match framing.body {
                BodyKind::Length(0) => BodyKind::None,
                other => other,
            }
        };
        let keep_alive = match version {
            Version::Http11 => !framing.close,
            Version::Http10 => framing.keep_alive && !framing.close,
        } && body != BodyKind::CloseDelimited;
        let lines_start = find_byte(head, b'\n').map_or(head.len(), |i| i + 1);
        let response = Response {
            status,
            reason: resp.reason.unwrap_or(""),
            version,
            body,
            keep_alive,
            lines: head
                .get(lines_start..)
                .expect("a line feed's index is inside the head"),
        };
        self.read = if status == 101 {
            self.in_flight.pop_front();
            Read::Upgraded { handed_over: false }
        } else if status < 200 {
            Read::Head(HeadScan::default())
        } else {
            Read::Body(match body {
                BodyKind::None => BodyDecoder::Length { remaining: 0 },
                BodyKind::Length(n) => BodyDecoder::Length { remaining: n },
                BodyKind::Chunked => BodyDecoder::Chunked(ChunkedDecoder::new(limits, u64::MAX)),
                BodyKind::CloseDelimited => BodyDecoder::UntilClose,
            })
        };
        Ok(Step {
            consumed: span.end,
            event: Some(Event::Response(response)),
        })
    }

    /// The server closed the connection.
    ///
    /// # Errors
    /// [`PeerError::IncompleteMessage`] if a response was cut short. A body delimited by the
    /// close ends cleanly: [`Connection::poll_event`] then yields its [`Event::End`].
    pub fn feed_eof(&mut self) -> Result<(), PeerError> {
        let state = core::mem::replace(&mut self.read, Read::Closed);
        match state {
            Read::Body(BodyDecoder::UntilClose) => {
                self.in_flight.pop_front();
                self.eof_end = true;
                Ok(())
            }
            Read::Head(scan) if !scan.has_started() => Ok(()),
            Read::Upgraded { .. } | Read::Closed => Ok(()),
            _ => Err(PeerError::IncompleteMessage),
        }
    }

    /// Events that come from EOF rather than input.
    pub fn poll_event(&mut self) -> Option<Event<'static>> {
        core::mem::take(&mut self.eof_end).then_some(Event::End)
    }

    /// Whether the connection can take no more requests.
    pub fn is_closed(&self) -> bool {
        matches!(self.read, Read::Closed)
    }
}
