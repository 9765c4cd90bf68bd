//! The server side of one HTTP/1.1 connection (RFC 9112), as a sans-IO state machine.
//!
//! Read this before editing: the connection runs two halves side by side. [`Read`] follows the
//! request stream (head, body, the wait for the response, the next head); [`Write`] follows the
//! response to the current request. A pipelined request is not even parsed until the response
//! before it is complete (RFC 9112 §9.3.2), which keeps responses in order by construction. Every
//! transition of either half is in this file.

mod transition;
mod write;

use transition::Input;
pub use write::BodyStream;
use write::write_error_response;

use super::body::{BodyDecoder, BodyEncoder, ChunkedDecoder, Piece};
use super::error::PeerError;
use super::head::HttpLimits;
use super::head::{BodyKind, HeadScan, Request, Version, parse_request};
use crate::limits::Limits;
use crate::time::Instant;
use alloc::vec::Vec;

/// What the request stream produced.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A complete request head. Its body (if any) follows as [`Event::Data`], then
    /// [`Event::End`]. Every request ends with `End`, even one without a body.
    Request(Request<'a>),
    /// Request body bytes, borrowed from the input (chunked framing already removed).
    Data(&'a [u8]),
    /// The request is complete (trailer fields, if any, were checked and discarded).
    End,
    /// A `101 Switching Protocols` was sent: the connection now belongs to another protocol.
    /// `leftover` is every input byte after the request, for the next machine.
    Upgraded {
        /// Bytes that arrived after the upgrade request (for example a first WebSocket frame).
        leftover: &'a [u8],
    },
}

/// The result of one [`Connection::feed`] call.
#[derive(Debug)]
#[must_use = "a step says how much input was consumed and what it produced"]
pub struct Step<'a> {
    /// How many bytes of the input were used. The caller keeps the rest and offers it again,
    /// with any new bytes appended.
    pub consumed: usize,
    /// What those bytes produced, if anything.
    pub event: Option<Event<'a>>,
}

impl Step<'_> {
    fn idle() -> Self {
        Step {
            consumed: 0,
            event: None,
        }
    }
}

/// How the response body will be delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseBody {
    /// No body (`Content-Length: 0` where a length is due).
    Empty,
    /// Exactly this many bytes, sent with [`Connection::send_body`].
    Length(u64),
    /// A body of unknown length, streamed: chunked for HTTP/1.1, until close for HTTP/1.0
    /// (RFC 9112 §6.3). Server-Sent Events use this.
    Stream,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Continue {
    NotExpected,
    /// The client sent `Expect: 100-continue`; no `100` has been written yet.
    Expected,
    Sent,
}

/// What the current exchange has agreed so far.
#[derive(Clone, Copy, Debug)]
struct Exchange {
    version: Version,
    head_method: bool,
    keep_alive: bool,
    upgrade_requested: bool,
    upgrading: bool,
    continue_state: Continue,
}

#[derive(Clone, Debug)]
enum Read {
    /// Waiting for a request head. The idle clock runs from `idle_since` until the first byte;
    /// the head clock from `head_since` (accept for the first request, the first byte after
    /// that). `None` means "from the next moment a call tells us the time".
    Head {
        scan: HeadScan,
        idle_since: Option<Instant>,
        head_since: Option<Instant>,
    },
    /// Reading the request body; the slow-body window counts bytes since `window_start`.
    Body {
        decoder: BodyDecoder,
        window_start: Option<Instant>,
        window_bytes: u64,
    },
    /// The request is complete; the next one waits until the response is.
    Done,
    /// The response finished before the request body did: skip the rest, then read on.
    Discard { decoder: BodyDecoder },
    /// Handed over to another protocol.
    Upgraded { handed_over: bool },
    /// Nothing more is read; once `out` is flushed the transport should be closed.
    Closed,
}

#[derive(Clone, Copy, Debug)]
enum Write {
    /// No request is waiting for a response.
    Idle,
    /// A request head arrived; its response head has not been sent.
    Awaiting(Exchange),
    /// The response head was sent; its body is in progress.
    Body(Exchange, BodyEncoder),
}

/// One server-side HTTP/1.1 connection.
///
/// Feed it the bytes the client sends; it produces request [`Event`]s and writes responses into
/// the caller's buffer. It never touches a socket or a clock.
///
/// ```
/// use pushwire::http::{Connection, Event};
/// use pushwire::{Instant, Limits};
///
/// let mut conn = Connection::new(Instant::ZERO, &Limits::default());
/// let mut out = Vec::new();
/// let input = b"GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\n";
/// let step = conn.feed(Instant::ZERO, input, &mut out).unwrap();
/// let Some(Event::Request(req)) = step.event else { panic!("a request") };
/// assert_eq!(req.path(), "/hello");
/// conn.respond(200, &[("Content-Type", b"text/plain")], b"hi", &mut out).unwrap();
/// assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
/// ```
#[derive(Clone, Debug)]
pub struct Connection {
    limits: HttpLimits,
    read: Read,
    write: Write,
    /// The latest time a caller told us.
    now: Instant,
    /// Close after the current response even if the client would keep the connection.
    close_requested: bool,
}

impl Connection {
    /// A connection accepted at `now`. The first head's deadline counts from here.
    pub fn new(now: Instant, limits: &Limits) -> Self {
        Connection {
            limits: HttpLimits::from(limits),
            read: Read::Head {
                scan: HeadScan::default(),
                idle_since: Some(now),
                head_since: Some(now),
            },
            write: Write::Idle,
            now,
            close_requested: false,
        }
    }

    /// Reads a prefix of `input`.
    ///
    /// Call it again with the unconsumed rest (plus new bytes) until it returns a step that
    /// consumed nothing and produced no event. A request head is consumed only once it is
    /// complete: until then the caller keeps offering the same bytes, and the scan resumes where
    /// it stopped.
    ///
    /// # Errors
    /// A [`PeerError`] when the client broke a rule. The error response has then been written to
    /// `out` (unless a response was already under way), the connection ignores all further
    /// input, and [`Connection::is_closed`] is true.
    pub fn feed<'a>(
        &mut self,
        now: Instant,
        input: &'a [u8],
        out: &mut Vec<u8>,
    ) -> Result<Step<'a>, PeerError> {
        self.now = now;
        self.stamp_lazy_clocks(now);
        let result = self.feed_inner(now, input);
        result.map_err(|e| self.fail(e, out))
    }

    fn feed_inner<'a>(&mut self, now: Instant, input: &'a [u8]) -> Result<Step<'a>, PeerError> {
        match &mut self.read {
            // After an error or a final close nothing more is parsed: all input is discarded.
            Read::Closed => Ok(Step {
                consumed: input.len(),
                event: None,
            }),
            Read::Upgraded { handed_over } => {
                if *handed_over {
                    return Ok(Step::idle());
                }
                *handed_over = true;
                Ok(Step {
                    consumed: input.len(),
                    event: Some(Event::Upgraded { leftover: input }),
                })
            }
            Read::Done => Ok(Step::idle()),
            Read::Head {
                scan, head_since, ..
            } => {
                // RFC 9112 §9.3.2: a pipelined request waits for the response before it.
                if !matches!(self.write, Write::Idle) || input.is_empty() {
                    return Ok(Step::idle());
                }
                if !scan.has_started() {
                    // The common case, a whole head in one read: parse it in one pass.
                    if let Some(parsed) = super::head::parse_request_whole(input, &self.limits) {
                        let (request, len) = parsed?;
                        if head_since.is_none() {
                            *head_since = Some(now);
                        }
                        self.start_exchange(&request);
                        return Ok(Step {
                            consumed: len,
                            event: Some(Event::Request(request)),
                        });
                    }
                }
                let limits = &self.limits;
                let span = scan.scan(
                    input,
                    limits.max_request_line_bytes,
                    limits.max_head_bytes,
                    limits.max_headers,
                )?;
                if head_since.is_none() && scan.has_started() {
                    *head_since = Some(now);
                }
                let Some(span) = span else {
                    return Ok(Step::idle());
                };
                let request = parse_request(input, span, &self.limits)?;
                self.start_exchange(&request);
                Ok(Step {
                    consumed: span.end,
                    event: Some(Event::Request(request)),
                })
            }
            Read::Body {
                decoder,
                window_bytes,
                ..
            } => {
                let (consumed, piece) = decoder.decode(input)?;
                match piece {
                    Some(Piece::Data(data)) => {
                        *window_bytes += data.len() as u64;
                        Ok(Step {
                            consumed,
                            event: Some(Event::Data(data)),
                        })
                    }
                    Some(Piece::End) => {
                        let _ = self.step(Input::BodyEnded);
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
            Read::Discard { decoder } => {
                let (consumed, ended) = discard(decoder, input)?;
                if ended {
                    let _ = self.step(Input::DiscardEnded { now });
                }
                Ok(Step {
                    consumed,
                    event: None,
                })
            }
        }
    }

    /// Records a request head: sets up its body reader and the exchange that will answer it.
    #[inline]
    fn start_exchange(&mut self, request: &Request<'_>) {
        let limits = &self.limits;
        let decoder = match request.body {
            BodyKind::None | BodyKind::Length(0) | BodyKind::CloseDelimited => None,
            BodyKind::Length(n) => Some(BodyDecoder::Length { remaining: n }),
            BodyKind::Chunked => Some(BodyDecoder::Chunked(ChunkedDecoder::new(
                limits,
                limits.max_body_bytes,
            ))),
        };
        let continue_state = match (&decoder, request.expect_continue) {
            (Some(_), true) => Continue::Expected,
            _ => Continue::NotExpected,
        };
        let (body, window_start) = match decoder {
            // The slow-body clock waits while the client waits for our `100 Continue`.
            Some(decoder) if continue_state == Continue::Expected => (decoder, None),
            Some(decoder) => (decoder, Some(self.now)),
            None => (BodyDecoder::Length { remaining: 0 }, None),
        };
        let exchange = Exchange {
            version: request.version,
            head_method: request.method == "HEAD",
            keep_alive: request.keep_alive,
            upgrade_requested: request.is_upgrade() && request.version == Version::Http11,
            upgrading: false,
            continue_state,
        };
        let _ = self.step(Input::Request {
            body,
            window_start,
            exchange,
        });
    }

    /// The client closed its sending side (EOF on the transport).
    ///
    /// Between requests this is an orderly close. After a complete request the response may
    /// still be sent; the connection closes after it.
    ///
    /// # Errors
    /// [`PeerError::IncompleteMessage`] if the client stopped in the middle of a request; the
    /// connection is then closed without a response.
    pub fn feed_eof(&mut self, now: Instant, out: &mut Vec<u8>) -> Result<(), PeerError> {
        let _ = out;
        self.now = now;
        self.step(Input::Eof)
    }

    /// Enforces the header, idle and slow-body deadlines. Safe to call early, late or twice.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<u8>) {
        self.now = now;
        self.stamp_lazy_clocks(now);
        let limits = &self.limits;
        match &mut self.read {
            Read::Head {
                scan,
                idle_since,
                head_since,
            } => {
                if !scan.has_started() {
                    if idle_since.is_some_and(|t| now >= t + limits.idle_timeout) {
                        let _ = self.step(Input::IdleTimeout);
                    }
                } else if head_since.is_some_and(|t| now >= t + limits.header_timeout) {
                    self.fail(PeerError::HeadTimeout, out);
                }
            }
            Read::Body {
                window_start: Some(start),
                window_bytes,
                ..
            } if now >= *start + limits.body_rate_window => {
                if *window_bytes < limits.min_body_bytes_per_window {
                    self.fail(PeerError::BodyTooSlow, out);
                } else {
                    *start = now;
                    *window_bytes = 0;
                }
            }
            _ => {}
        }
    }

    /// The earliest moment [`Connection::handle_timeout`] has work to do, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let limits = &self.limits;
        match &self.read {
            Read::Head {
                scan,
                idle_since,
                head_since,
            } => {
                let (since, timeout) = if scan.has_started() {
                    (head_since, limits.header_timeout)
                } else {
                    (idle_since, limits.idle_timeout)
                };
                // A clock waiting for its start time asks to be woken at once to get one.
                Some(since.map_or(self.now, |t| t + timeout))
            }
            Read::Body {
                decoder: BodyDecoder::Length { remaining: 0 },
                ..
            } => None,
            Read::Body { window_start, .. } => match (window_start, self.write) {
                (Some(t), _) => Some(*t + limits.body_rate_window),
                // `100 Continue` went out: the body clock starts now.
                (None, Write::Awaiting(ex) | Write::Body(ex, _))
                    if ex.continue_state == Continue::Sent =>
                {
                    Some(self.now)
                }
                (None, _) => None,
            },
            _ => None,
        }
    }

    /// Starts the clocks that began at a moment no call told us the time of.
    fn stamp_lazy_clocks(&mut self, now: Instant) {
        let continue_sent = matches!(
            self.write,
            Write::Awaiting(ex) | Write::Body(ex, _) if ex.continue_state != Continue::Expected
        );
        match &mut self.read {
            Read::Head {
                scan,
                idle_since,
                head_since,
            } => {
                idle_since.get_or_insert(now);
                if scan.has_started() {
                    head_since.get_or_insert(now);
                }
            }
            Read::Body {
                window_start: start @ None,
                decoder,
                ..
            } if continue_sent && !matches!(decoder, BodyDecoder::Length { remaining: 0 }) => {
                *start = Some(now);
            }
            _ => {}
        }
    }

    /// Whether the connection is finished: flush `out`, then close the transport.
    pub fn is_closed(&self) -> bool {
        matches!(self.read, Read::Closed) && matches!(self.write, Write::Idle)
    }

    /// Whether a `101` was sent: the transport now belongs to another protocol.
    pub fn is_upgraded(&self) -> bool {
        matches!(self.read, Read::Upgraded { .. })
    }

    /// Whether a request is waiting for its response head.
    pub fn is_awaiting_response(&self) -> bool {
        matches!(self.write, Write::Awaiting(_))
    }

    /// Asks for the connection to close after the current response (`Connection: close` is
    /// sent with it if its head has not gone out yet).
    pub fn close_after_response(&mut self) {
        let _ = self.step(Input::CloseRequested);
    }

    /// Records a peer error: writes its response if no response is under way, then stops.
    fn fail(&mut self, error: PeerError, out: &mut Vec<u8>) -> PeerError {
        if matches!(self.write, Write::Idle | Write::Awaiting(_))
            && !matches!(self.read, Read::Closed | Read::Upgraded { .. })
        {
            write_error_response(error, &self.limits, out);
        }
        let _ = self.step(Input::Failed);
        error
    }
}

/// Reads and drops body bytes from `input`: how many it consumed, and whether the body ended.
fn discard(decoder: &mut BodyDecoder, input: &[u8]) -> Result<(usize, bool), PeerError> {
    let mut used = 0;
    loop {
        let rest = input
            .get(used..)
            .expect("a decoder consumes at most the input it is given");
        let (consumed, piece) = decoder.decode(rest)?;
        used += consumed;
        match piece {
            Some(Piece::Data(_)) => {}
            Some(Piece::End) => return Ok((used, true)),
            None => return Ok((used, false)),
        }
    }
}

/// A head reader for the next request on a kept-alive connection.
fn fresh_head(since: Option<Instant>) -> Read {
    Read::Head {
        scan: HeadScan::default(),
        idle_since: since,
        head_since: None,
    }
}
