//! Every change of a server connection's read and write states, in one place: the callers
//! describe what happened ([`Input`]), and [`Connection::step`] decides, with the rule of
//! RFC 9112 / RFC 9110 beside each arm. (Progress inside a state — bytes scanned, a body
//! window's count — is not a transition and stays with the code that reads.)

use super::{Connection, Exchange, Read, Write, fresh_head};
use crate::http::body::{BodyDecoder, BodyEncoder};
use crate::http::error::PeerError;
use crate::time::Instant;

/// What happened that may move the connection.
pub(super) enum Input {
    /// A request head was read: the reader of its body (an empty one when it has none, so
    /// that `End` follows) with its slow-body clock, and the exchange that will answer it.
    Request {
        body: BodyDecoder,
        window_start: Option<Instant>,
        exchange: Exchange,
    },
    /// The request body ended.
    BodyEnded,
    /// The rest of a body the response came before was skipped, at `now`.
    DiscardEnded { now: Instant },
    /// The client closed its sending side.
    Eof,
    /// The connection was idle between requests for the idle timeout.
    IdleTimeout,
    /// A peer error; its response, if one was due, has been written.
    Failed,
    /// An interim response (1xx other than 101) went out; the exchange as it now stands.
    Interim(Exchange),
    /// A final response head (or the 101) went out, with how its body is delimited.
    ResponseHead(Exchange, BodyEncoder),
    /// The response is complete.
    ResponseEnded,
    /// The application asked for the connection to close after the current response.
    CloseRequested,
}

impl Connection {
    /// Moves the read and write states for `input`.
    ///
    /// # Errors
    /// [`PeerError::IncompleteMessage`] when the transport ended inside a request.
    pub(super) fn step(&mut self, input: Input) -> Result<(), PeerError> {
        match input {
            // RFC 9112 §9.3: one exchange at a time: the body is read next, and the response
            // waits for the application.
            Input::Request {
                body,
                window_start,
                exchange,
            } => {
                self.read = Read::Body {
                    decoder: body,
                    window_start,
                    window_bytes: 0,
                };
                self.write = Write::Awaiting(exchange);
            }
            // §6.3: the body is complete; a pipelined request waits for this response (§9.3.2).
            Input::BodyEnded => self.read = Read::Done,
            Input::DiscardEnded { now } => self.read = fresh_head(Some(now)),
            Input::Eof => return self.step_eof(),
            // §9.5: a connection idle between requests may be closed at any time.
            Input::IdleTimeout => self.read = Read::Closed,
            // §9.6: after an error response (or none, mid-response), nothing more is read or
            // written.
            Input::Failed => {
                self.read = Read::Closed;
                self.write = Write::Idle;
            }
            // RFC 9110 §15.2: an interim response leaves the request awaiting its final one.
            Input::Interim(exchange) => self.write = Write::Awaiting(exchange),
            Input::ResponseHead(exchange, body) => {
                self.write = Write::Body(exchange, body);
                if matches!(body, BodyEncoder::Length(0)) || exchange.upgrading {
                    // Nothing follows the head: a 101, or a body of length zero.
                    return self.step(Input::ResponseEnded);
                }
            }
            Input::ResponseEnded => self.step_response_ended(),
            // RFC 9112 §9.6: `Connection: close` on the response still to be sent; between
            // exchanges, close now.
            Input::CloseRequested => {
                self.close_requested = true;
                if let Write::Awaiting(ex) = &mut self.write {
                    ex.keep_alive = false;
                }
                if matches!(self.write, Write::Idle) && matches!(self.read, Read::Head { .. }) {
                    self.read = Read::Closed;
                }
            }
        }
        Ok(())
    }

    /// The client ended its side: between requests an orderly close (§9.6); after a whole
    /// request the response may still go, closing after it; inside a request, incomplete.
    fn step_eof(&mut self) -> Result<(), PeerError> {
        match &mut self.read {
            Read::Head { scan, .. } => {
                let started = scan.has_started();
                self.read = Read::Closed;
                if started {
                    return Err(PeerError::IncompleteMessage);
                }
            }
            Read::Body {
                decoder: BodyDecoder::Length { remaining: 0 },
                ..
            }
            | Read::Done => {
                self.close_requested = true;
                if let Write::Awaiting(ex) | Write::Body(ex, _) = &mut self.write {
                    ex.keep_alive = false;
                }
            }
            Read::Body { .. } | Read::Discard { .. } => {
                self.read = Read::Closed;
                self.write = Write::Idle;
                return Err(PeerError::IncompleteMessage);
            }
            Read::Upgraded { .. } | Read::Closed => {}
        }
        Ok(())
    }

    /// The response is complete: what the connection does next.
    fn step_response_ended(&mut self) {
        let (ex, body) = match self.write {
            Write::Body(ex, body) => (ex, Some(body)),
            Write::Awaiting(ex) => (ex, None),
            Write::Idle => return,
        };
        self.write = Write::Idle;
        // RFC 9110 §7.8: after the 101 the connection speaks the new protocol.
        if ex.upgrading {
            self.read = Read::Upgraded { handed_over: false };
            return;
        }
        // RFC 9112 §9.3, §6.3: no persistence asked for, or a body that ends at close.
        if !ex.keep_alive || matches!(body, Some(BodyEncoder::UntilClose)) {
            self.read = Read::Closed;
            return;
        }
        self.read = match core::mem::replace(&mut self.read, Read::Closed) {
            // The request was read whole: the next head.
            Read::Body {
                decoder: BodyDecoder::Length { remaining: 0 },
                ..
            }
            | Read::Done => fresh_head(None),
            // RFC 9112 §9.3: answered before its body was read: skip the rest, then read on.
            Read::Body { decoder, .. } => Read::Discard { decoder },
            other => other,
        };
    }
}
