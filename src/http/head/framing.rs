//! The fields that decide how a message is framed, checked together (RFC 9112 §6.1-§6.3):
//! Content-Length and Transfer-Encoding (and the conflicts between them that make request
//! smuggling possible), Host (RFC 9110 §7.2), Connection, Upgrade and Expect.

use super::grammar::{is_valid_host, list_elements, parse_decimal, trim_ows};
use super::{BodyKind, Version};
use crate::http::error::PeerError;

/// What the framing-relevant fields of a head say.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Framing {
    pub body: BodyKind,
    pub close: bool,
    pub keep_alive: bool,
    pub upgrade: bool,
    pub expect_continue: bool,
}

/// By name length, the first letter (lowercase) of the framing field of that length checked
/// below: `host`, `expect`, `upgrade`, `connection`, `content-length`, `transfer-encoding`.
/// A byte ORed with 0x20 is never 0, so lengths without such a field match nothing.
const FRAMING_FIRST_LETTER: [u8; 18] = {
    let mut t = [0; 18];
    t[4] = b'h';
    t[6] = b'e';
    t[7] = b'u';
    t[10] = b'c';
    t[14] = b'c';
    t[17] = b't';
    t
};

/// Checks Host, Content-Length, Transfer-Encoding, Connection and Expect (RFC 9112 §3.2, §6;
/// RFC 9110 §7.2, §8.6, §10.1.1). `request` selects the rules for requests; for responses the
/// caller decides what a missing length means.
pub(crate) fn check_fields(
    headers: &[httparse::Header<'_>],
    version: Version,
    request: bool,
) -> Result<Framing, PeerError> {
    let mut seen = Seen::default();
    for h in headers {
        let name = h.name.as_bytes();
        // Only six names matter here; length and first letter rule out most fields at once,
        // with one table lookup and one well-predicted branch (a `match` on the length made an
        // indirect jump that mispredicted on nearly every field).
        let first = name.first().map_or(0, |b| b | 0x20);
        if FRAMING_FIRST_LETTER.get(name.len()) == Some(&first) {
            seen.field(name, trim_ows(h.value), request)?;
        }
    }
    if request {
        match (version, seen.hosts) {
            (Version::Http11, 0) => return Err(PeerError::MissingHost),
            (_, 2..) => return Err(PeerError::DuplicateHost),
            _ => {}
        }
    }
    Ok(Framing {
        body: seen.body(version, request)?,
        close: seen.close,
        keep_alive: seen.keep_alive,
        upgrade: seen.connection_upgrade && seen.has_upgrade,
        // RFC 9110 §10.1.1: a server that receives a 100-continue expectation in an HTTP/1.0
        // request MUST ignore it (an HTTP/1.0 client does not wait for a 100).
        expect_continue: seen.expect_continue && version == Version::Http11,
    })
}

/// What the framing fields of one head said, as they are read.
#[derive(Default)]
struct Seen {
    hosts: usize,
    length: Option<u64>,
    has_te: bool,
    chunked_final: bool,
    chunked_count: usize,
    other_coding: bool,
    close: bool,
    keep_alive: bool,
    connection_upgrade: bool,
    has_upgrade: bool,
    expect_continue: bool,
}

impl Seen {
    /// One field whose name may be a framing field's (`value` without its whitespace).
    #[inline]
    fn field(&mut self, name: &[u8], value: &[u8], request: bool) -> Result<(), PeerError> {
        if name.eq_ignore_ascii_case(b"host") {
            self.hosts += 1;
            if !is_valid_host(value) {
                return Err(PeerError::InvalidHost);
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            // RFC 9110 §8.6: a list of identical values may be read as one value.
            for element in value.split(|&b| b == b',') {
                let n = parse_decimal(trim_ows(element)).ok_or(PeerError::InvalidContentLength)?;
                match self.length {
                    Some(prev) if prev != n => return Err(PeerError::ConflictingContentLength),
                    _ => self.length = Some(n),
                }
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            self.has_te = true;
            for coding in list_elements(value) {
                // A coding may carry parameters: `gzip;q=1` names `gzip`.
                let coding_name = trim_ows(coding.split(|&b| b == b';').next().unwrap_or(coding));
                if coding_name.eq_ignore_ascii_case(b"chunked") {
                    self.chunked_count += 1;
                    self.chunked_final = true;
                } else {
                    self.chunked_final = false;
                    self.other_coding = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in list_elements(value) {
                if token.eq_ignore_ascii_case(b"close") {
                    self.close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    self.keep_alive = true;
                } else if token.eq_ignore_ascii_case(b"upgrade") {
                    self.connection_upgrade = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            self.has_upgrade = true;
        } else if request && name.eq_ignore_ascii_case(b"expect") {
            if !value.eq_ignore_ascii_case(b"100-continue") {
                return Err(PeerError::UnsupportedExpectation);
            }
            self.expect_continue = true;
        }
        Ok(())
    }

    /// How the body is framed (RFC 9112 §6.1, §6.3).
    fn body(&self, version: Version, request: bool) -> Result<BodyKind, PeerError> {
        if !self.has_te {
            return Ok(match self.length {
                Some(0) | None if request => BodyKind::None,
                Some(n) => BodyKind::Length(n),
                None => BodyKind::CloseDelimited,
            });
        }
        if self.length.is_some() {
            return Err(PeerError::ContentLengthWithTransferEncoding);
        }
        if version == Version::Http10 {
            return Err(PeerError::TransferEncodingInHttp10);
        }
        if !self.chunked_final || self.chunked_count != 1 {
            if request {
                return Err(PeerError::ChunkedNotFinal);
            }
            // RFC 9112 §6.3 item 4: a response is then read until the connection closes.
            return Ok(BodyKind::CloseDelimited);
        }
        if self.other_coding {
            return Err(PeerError::UnsupportedTransferCoding);
        }
        Ok(BodyKind::Chunked)
    }
}
