//! The write half of a server connection: response heads, bodies (Content-Length, chunked,
//! until close; RFC 9112 §6, §7.1), `100 Continue` (RFC 9110 §10.1.1), the end of an exchange
//! and what the connection does next (§9.3), and the error responses.

use super::transition::Input;
use super::{Connection, Continue, Exchange, Read, ResponseBody, Write};
use crate::http::body::{BodyDecoder, BodyEncoder, encode_chunk, encode_last_chunk};
use crate::http::error::{PeerError, UsageError};
use crate::http::head::HttpLimits;
use crate::http::head::{Version, check_outgoing_fields, push_decimal, reason_phrase};
use alloc::vec::Vec;

impl Connection {
    /// The streamed response body in progress, as a detached [`BodyStream`], when the request
    /// is fully read and a [`ResponseBody::Stream`] head has been sent. A driver that holds
    /// many long-lived streams (Server-Sent Events) keeps the small `BodyStream` and drops the
    /// connection; when the stream ends with [`BodyStream::keeps_alive`], a new `Connection`
    /// reads the next request.
    pub fn body_stream(&self) -> Option<BodyStream> {
        let request_done = matches!(
            self.read,
            Read::Done
                | Read::Body {
                    decoder: BodyDecoder::Length { remaining: 0 },
                    ..
                }
        );
        match self.write {
            Write::Body(ex, BodyEncoder::Chunked) if request_done => Some(BodyStream {
                chunked: true,
                keep_alive: ex.keep_alive,
            }),
            Write::Body(_, BodyEncoder::UntilClose) if request_done => Some(BodyStream {
                chunked: false,
                keep_alive: false,
            }),
            _ => None,
        }
    }

    /// Writes `100 Continue` if the client is waiting for it (RFC 9110 §10.1.1): call this when
    /// the application decides to read the body. Does nothing otherwise.
    ///
    /// # Errors
    /// [`UsageError::NoRequestPending`] if no request is waiting for a response.
    pub fn accept_body(&mut self, out: &mut Vec<u8>) -> Result<(), UsageError> {
        let Write::Awaiting(ex) = &mut self.write else {
            return Err(UsageError::NoRequestPending);
        };
        if ex.continue_state == Continue::Expected {
            ex.continue_state = Continue::Sent;
            out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        Ok(())
    }

    /// Writes a response head for the current request.
    ///
    /// `headers` must not include Content-Length, Transfer-Encoding or Connection: the connection
    /// writes those from `body` and from whether it will stay open. A 1xx status (other than 101)
    /// is interim: the final response still follows. `101` completes the exchange and hands the
    /// connection over (see [`Event::Upgraded`](super::Event::Upgraded)). Responses to HEAD, and 204 and 304 responses,
    /// carry no body; body bytes sent for them are dropped.
    ///
    /// # Errors
    /// [`UsageError`] if no request is waiting, a field is invalid or reserved, or the status
    /// does not fit the request.
    pub fn send_response(
        &mut self,
        status: u16,
        headers: &[(&str, &[u8])],
        body: ResponseBody,
        out: &mut Vec<u8>,
    ) -> Result<(), UsageError> {
        let mut ex = match self.write {
            Write::Awaiting(ex) => ex,
            Write::Body(..) => return Err(UsageError::HeadAlreadySent),
            Write::Idle if matches!(self.read, Read::Closed | Read::Upgraded { .. }) => {
                return Err(UsageError::Closed);
            }
            Write::Idle => return Err(UsageError::NoRequestPending),
        };
        if !(100..=599).contains(&status) {
            return Err(UsageError::InvalidStartLine);
        }
        check_outgoing_fields(headers, false)?;
        let informational = status < 200;
        if status == 101 && !ex.upgrade_requested {
            return Err(UsageError::NotUpgradable);
        }
        let no_body = informational || status == 204 || status == 304 || ex.head_method;
        if (informational || status == 204) && !matches!(body, ResponseBody::Empty) {
            return Err(UsageError::BodyNotAllowed);
        }
        if !informational {
            // RFC 9110 §10.1.1: answering before the client sent a body it was told to wait
            // for leaves us unable to know whether it will send it: close afterwards.
            let body_unread = matches!(
                self.read,
                Read::Body { ref decoder, .. } if !matches!(decoder, BodyDecoder::Length { remaining: 0 })
            );
            if ex.continue_state == Continue::Expected && body_unread {
                ex.keep_alive = false;
            }
            if self.close_requested {
                ex.keep_alive = false;
            }
            if matches!(body, ResponseBody::Stream) && ex.version == Version::Http10 && !no_body {
                // RFC 9112 §6.3: HTTP/1.0 has no chunked coding; the body ends at close.
                ex.keep_alive = false;
            }
        }

        out.reserve(
            64 + headers
                .iter()
                .map(|(n, v)| n.len() + v.len() + 4)
                .sum::<usize>(),
        );
        out.extend_from_slice(b"HTTP/1.1 ");
        push_decimal(out, u64::from(status));
        out.push(b' ');
        out.extend_from_slice(reason_phrase(status).as_bytes());
        out.extend_from_slice(b"\r\n");
        crate::http::head::push_fields(out, headers);

        if informational {
            if status == 101 {
                out.extend_from_slice(b"Connection: Upgrade\r\n\r\n");
                ex.upgrading = true;
                let _ = self.step(Input::ResponseHead(ex, BodyEncoder::Omitted));
            } else {
                out.extend_from_slice(b"\r\n");
                if status == 100 && ex.continue_state == Continue::Expected {
                    ex.continue_state = Continue::Sent;
                }
                let _ = self.step(Input::Interim(ex));
            }
            return Ok(());
        }

        let out_body = framing_fields(status, body, no_body, &ex, out);
        out.extend_from_slice(b"\r\n");
        let _ = self.step(Input::ResponseHead(ex, out_body));
        Ok(())
    }

    /// Writes response body bytes.
    ///
    /// # Errors
    /// [`UsageError::NoBodyInProgress`] without a response body in progress;
    /// [`UsageError::BodyTooLong`] past the declared length.
    pub fn send_body(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), UsageError> {
        let Write::Body(_, body) = &mut self.write else {
            return Err(UsageError::NoBodyInProgress);
        };
        body.write(data, out)
    }

    /// Ends the response body (with trailer fields, sent only for a chunked body).
    ///
    /// # Errors
    /// [`UsageError::BodyTooShort`] before the declared length was sent;
    /// [`UsageError::InvalidHeader`] / [`UsageError::FramingHeader`] for a bad trailer.
    pub fn send_end(
        &mut self,
        trailers: &[(&str, &[u8])],
        out: &mut Vec<u8>,
    ) -> Result<(), UsageError> {
        let Write::Body(_, body) = self.write else {
            return Err(UsageError::NoBodyInProgress);
        };
        body.finish(trailers, out)?;
        let _ = self.step(Input::ResponseEnded);
        Ok(())
    }

    /// Sends a complete response with a body of known length: head, body and end in one call.
    ///
    /// # Errors
    /// As [`Connection::send_response`].
    pub fn respond(
        &mut self,
        status: u16,
        headers: &[(&str, &[u8])],
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), UsageError> {
        let framing = if body.is_empty() {
            ResponseBody::Empty
        } else {
            ResponseBody::Length(body.len() as u64)
        };
        self.send_response(status, headers, framing, out)?;
        if matches!(self.write, Write::Body(..)) {
            self.send_body(body, out)?;
            self.send_end(&[], out)?;
        }
        Ok(())
    }
}

/// Writes the fields that frame a final response (Content-Length or Transfer-Encoding, RFC 9112
/// §6; Connection, §9.3) and returns how its body goes out.
fn framing_fields(
    status: u16,
    body: ResponseBody,
    no_body: bool,
    ex: &Exchange,
    out: &mut Vec<u8>,
) -> BodyEncoder {
    let out_body = match body {
        _ if status == 204 => BodyEncoder::Omitted,
        ResponseBody::Empty if no_body => BodyEncoder::Omitted,
        ResponseBody::Empty => {
            out.extend_from_slice(b"Content-Length: 0\r\n");
            BodyEncoder::Length(0)
        }
        ResponseBody::Length(n) => {
            // A HEAD or 304 response may say how long the body would have been.
            out.extend_from_slice(b"Content-Length: ");
            push_decimal(out, n);
            out.extend_from_slice(b"\r\n");
            if no_body {
                BodyEncoder::Omitted
            } else {
                BodyEncoder::Length(n)
            }
        }
        ResponseBody::Stream if no_body => BodyEncoder::Omitted,
        ResponseBody::Stream if ex.version == Version::Http11 => {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
            BodyEncoder::Chunked
        }
        ResponseBody::Stream => BodyEncoder::UntilClose,
    };
    if !ex.keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if ex.version == Version::Http10 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out_body
}

/// A streamed response body detached from its [`Connection`] (see
/// [`Connection::body_stream`]): chunked in HTTP/1.1 (RFC 9112 §7.1), delimited by the close of
/// the connection in HTTP/1.0 (§6.3). Two bytes of state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyStream {
    chunked: bool,
    keep_alive: bool,
}

impl BodyStream {
    /// Writes body bytes.
    pub fn send(&self, data: &[u8], out: &mut Vec<u8>) {
        if self.chunked {
            encode_chunk(data, out);
        } else {
            out.extend_from_slice(data);
        }
    }

    /// Ends the body (the last chunk, for a chunked one).
    pub fn end(&self, out: &mut Vec<u8>) {
        if self.chunked {
            encode_last_chunk(&[], out);
        }
    }

    /// Whether the connection can carry another request once the body has ended.
    pub fn keeps_alive(&self) -> bool {
        self.chunked && self.keep_alive
    }
}

/// Writes the response a peer error calls for: its status, a one-line reason naming the limit
/// that was passed, if one was, and `Connection: close`.
pub(super) fn write_error_response(error: PeerError, limits: &HttpLimits, out: &mut Vec<u8>) {
    use core::fmt::Write as _;
    let mut body = Bytes(Vec::new());
    let limit = match error {
        PeerError::BodyTooLarge => Some((limits.max_body_bytes, "bytes")),
        PeerError::HeadTooLarge => Some((limits.max_head_bytes as u64, "bytes")),
        PeerError::RequestLineTooLong => Some((limits.max_request_line_bytes as u64, "bytes")),
        PeerError::TooManyHeaders => Some((limits.max_headers as u64, "fields")),
        PeerError::TrailerTooLarge => Some((limits.max_trailer_bytes as u64, "bytes")),
        PeerError::ChunkExtensionsTooLarge => {
            Some((limits.max_chunk_extension_bytes as u64, "bytes"))
        }
        _ => None,
    };
    // The reason through `Display` (each is a literal), the limit by hand: formatting numbers
    // and padded strings would bring `core::fmt`'s machinery into every build (1.3 KB of flash
    // on a device) for this one rare message.
    let _ = write!(body, "{error}");
    if let Some((n, unit)) = limit {
        body.0.extend_from_slice(b": the limit is ");
        push_decimal(&mut body.0, n);
        body.0.push(b' ');
        body.0.extend_from_slice(unit.as_bytes());
    }
    body.0.push(b'\n');
    let status = error.status();
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(reason_phrase(status).as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
    push_decimal(out, body.0.len() as u64);
    out.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    out.extend_from_slice(&body.0);
}

/// `core::fmt::Write` into bytes (for the rare error message).
struct Bytes(Vec<u8>);

impl core::fmt::Write for Bytes {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
