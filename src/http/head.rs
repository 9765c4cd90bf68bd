//! Message heads: finding the end of one in caller-owned input, reading a request head into a
//! borrowed view, checking the fields that decide framing, and writing heads out.
//!
//! RFC 9112 §2 (message format), §3 (request line), §4 (status line), §5 (field lines),
//! §6 (message body length); RFC 9110 §5 (fields), §7.2 (Host).
//!
//! Parsing is done once, by httparse, when the whole head is present. Until then [`HeadScan`]
//! remembers how far it has looked, so a head that arrives a byte at a time costs linear time
//! (re-parsing the buffer on every read is the quadratic pattern behind CVE-2023-43669).

use super::error::{PeerError, UsageError};
use crate::limits::Limits;
use alloc::vec::Vec;
use core::mem::MaybeUninit;
use core::time::Duration;

/// The bounds an HTTP machine keeps from [`Limits`]: only its own, so a connection does not
/// carry the WebSocket, push and reactor bounds (every idle keep-alive connection holds one).
#[derive(Clone, Debug)]
pub(crate) struct HttpLimits {
    pub max_request_line_bytes: usize,
    pub max_head_bytes: usize,
    pub max_headers: usize,
    pub max_body_bytes: u64,
    pub max_chunk_line_bytes: usize,
    pub max_trailer_bytes: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_rate_window: Duration,
    pub min_body_bytes_per_window: u64,
}

impl From<&Limits> for HttpLimits {
    fn from(l: &Limits) -> Self {
        HttpLimits {
            max_request_line_bytes: l.max_request_line_bytes,
            max_head_bytes: l.max_head_bytes,
            max_headers: l.max_headers,
            max_body_bytes: l.max_body_bytes,
            max_chunk_line_bytes: l.max_chunk_line_bytes,
            max_trailer_bytes: l.max_trailer_bytes,
            header_timeout: l.header_timeout,
            idle_timeout: l.idle_timeout,
            body_rate_window: l.body_rate_window,
            min_body_bytes_per_window: l.min_body_bytes_per_window,
        }
    }
}

/// Header slots httparse may fill: `Limits::max_headers` is clamped to this many.
pub(crate) const MAX_HEADER_SLOTS: usize = 128;

/// The protocol version of a message (RFC 9110 §6.2). Only 1.0 and 1.1 are spoken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: no Host required, connection closes unless `Connection: keep-alive`.
    Http10,
    /// HTTP/1.1: persistent by default (RFC 9112 §9.3).
    Http11,
}

/// How a message body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// No body.
    None,
    /// Exactly this many bytes (Content-Length).
    Length(u64),
    /// Chunked transfer coding (RFC 9112 §7.1).
    Chunked,
    /// Until the connection closes (responses only).
    CloseDelimited,
}

/// Finds the end of a head in input that may arrive in pieces.
///
/// The caller offers the same buffer again with more bytes appended; the scan resumes where it
/// stopped. It checks what framing depends on: every line ends in CRLF (bare LF is refused), and
/// the request line and head stay within their limits. Empty lines before the start line are
/// skipped (RFC 9112 §2.2).
#[derive(Clone, Debug, Default)]
pub(crate) struct HeadScan {
    /// Bytes of the buffer already looked at.
    pos: usize,
    /// Where the current line starts.
    line_start: usize,
    /// Where the start line begins (after skipped empty lines).
    start: usize,
    /// Whether the start line has ended.
    start_line_done: bool,
    /// Field lines seen so far.
    fields: usize,
}

/// Where a complete head lies in the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HeadSpan {
    /// First byte of the start line.
    pub start: usize,
    /// One past the blank line that ends the head.
    pub end: usize,
}

impl HeadScan {
    /// Whether any byte of a head has been seen (leading empty lines count).
    pub fn has_started(&self) -> bool {
        self.pos > 0
    }

    /// Scans the new part of `input`. `Ok(None)`: not complete yet, offer more.
    pub fn scan(
        &mut self,
        input: &[u8],
        max_start_line: usize,
        max_head: usize,
        max_fields: usize,
    ) -> Result<Option<HeadSpan>, PeerError> {
        while let Some(offset) = input
            .get(self.pos..)
            .and_then(|rest| find_byte(rest, b'\n'))
        {
            let lf = self.pos + offset;
            self.pos = lf + 1;
            // RFC 9112 §2.2: lines end in CRLF; we do not accept a bare LF.
            if lf == 0 || input.get(lf - 1) != Some(&b'\r') {
                return Err(PeerError::BareLf);
            }
            let line_len = lf - 1 - self.line_start;
            self.line_start = lf + 1;
            if !self.start_line_done {
                if line_len == 0 {
                    // RFC 9112 §2.2: ignore empty lines before the start line.
                    self.start = lf + 1;
                } else if line_len + 2 > max_start_line {
                    return Err(PeerError::RequestLineTooLong);
                } else {
                    self.start_line_done = true;
                }
            } else if line_len == 0 {
                return Ok(Some(HeadSpan {
                    start: self.start,
                    end: lf + 1,
                }));
            } else {
                self.fields += 1;
                if self.fields > max_fields {
                    return Err(PeerError::TooManyHeaders);
                }
            }
            if self.pos > max_head {
                return Err(PeerError::HeadTooLarge);
            }
        }
        self.pos = input.len();
        if !self.start_line_done && self.pos - self.line_start > max_start_line {
            return Err(PeerError::RequestLineTooLong);
        }
        if self.pos > max_head {
            return Err(PeerError::HeadTooLarge);
        }
        Ok(None)
    }
}

/// Index of the first `needle` in `haystack`, a word at a time.
pub(crate) fn find_byte(haystack: &[u8], needle: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO.wrapping_mul(u64::from(needle));
    let mut chunks = haystack.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ pattern;
        // A zero byte in x is a match (the classic has-zero-byte trick).
        if (x.wrapping_sub(LO) & !x & HI) != 0 {
            break;
        }
        base += 8;
    }
    haystack
        .get(base..)?
        .iter()
        .position(|&b| b == needle)
        .map(|i| base + i)
}

/// Whether `b` may appear in a token (RFC 9110 §5.6.2).
pub(crate) fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`'
        | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// Whether `s` is a non-empty token.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// Trims optional whitespace (SP / HTAB, RFC 9110 §5.6.3) from both ends.
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// The elements of a comma-separated list field (RFC 9110 §5.6.1), trimmed, empties skipped.
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

/// Whether a list field value holds `token`, compared case-insensitively.
pub(crate) fn list_contains(value: &[u8], token: &str) -> bool {
    list_elements(value).any(|e| e.eq_ignore_ascii_case(token.as_bytes()))
}

/// The header fields of a parsed head, in order, as `(name, value)` with the value trimmed.
///
/// Iterates over the validated head bytes, so it costs no allocation.
#[derive(Clone, Debug)]
pub struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    pub(crate) fn new(lines: &'a [u8]) -> Self {
        Fields { rest: lines }
    }

    /// The value of the first field named `name` (case-insensitive), if any.
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.clone()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every value of fields named `name`, in order.
    pub fn get_all<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + Clone + 'n
    where
        'a: 'n,
    {
        self.clone()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let lf = find_byte(self.rest, b'\n')?;
        let line = self.rest.get(..lf)?;
        self.rest = self.rest.get(lf + 1..)?;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None;
        }
        let colon = find_byte(line, b':')?;
        let name = core::str::from_utf8(line.get(..colon)?).ok()?;
        let value = trim_ows(line.get(colon + 1..)?);
        Some((name, value))
    }
}

/// A parsed request head, borrowed from the input it was read from (RFC 9112 §3).
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// The method token, as sent (RFC 9110 §9). Unknown methods are passed through.
    pub method: &'a str,
    /// The request target, as sent (RFC 9112 §3.2).
    pub target: &'a str,
    /// The protocol version.
    pub version: Version,
    /// How the request body is delimited.
    pub body: BodyKind,
    /// Whether the connection stays open after this exchange, as far as the client asked.
    pub keep_alive: bool,
    /// Whether the client sent `Expect: 100-continue` and waits before sending the body.
    pub expect_continue: bool,
    pub(crate) lines: &'a [u8],
    pub(crate) upgrade: bool,
}

impl<'a> Request<'a> {
    /// The header fields, in order.
    pub fn headers(&self) -> Fields<'a> {
        Fields::new(self.lines)
    }

    /// The value of the first field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers().get(name)
    }

    /// The path of the target, up to `?` (RFC 3986 §3.3). For a target in absolute form
    /// (`http://host/path`, RFC 9112 §3.2.2) the path after the authority, `/` when empty:
    /// routing sees the same path whichever form the client used.
    pub fn path(&self) -> &'a str {
        let origin = self.origin_form();
        match origin.split('?').next().unwrap_or(origin) {
            "" => "/",
            path => path,
        }
    }

    /// The target after `?`, if any (RFC 3986 §3.4).
    pub fn query(&self) -> Option<&'a str> {
        self.origin_form()
            .split_once('?')
            .map(|(_, q)| q.split('#').next().unwrap_or(q))
    }

    /// The authority of a target in absolute form (`www.example.org:8080` in
    /// `GET http://www.example.org:8080/x HTTP/1.1`), RFC 9112 §3.2.2; `None` for other forms.
    pub fn absolute_authority(&self) -> Option<&'a str> {
        split_absolute_form(self.target).map(|(authority, _)| authority)
    }

    /// The host the request is for: the authority of an absolute-form target, which takes the
    /// place of any `Host` field (RFC 9112 §3.2.2: the server "MUST ignore the received Host
    /// header field"), else the `Host` field (RFC 9110 §7.2).
    pub fn host(&self) -> Option<&'a [u8]> {
        match self.absolute_authority() {
            Some(authority) => Some(authority.as_bytes()),
            None => self.header("host"),
        }
    }

    /// The target with an absolute form's scheme and authority removed.
    fn origin_form(&self) -> &'a str {
        split_absolute_form(self.target).map_or(self.target, |(_, rest)| rest)
    }

    /// The raw (not percent-decoded) value of query parameter `name`; `Some("")` for `?name`.
    pub fn query_param(&self, name: &str) -> Option<&'a str> {
        self.query()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    }

    /// Whether the client asked to switch protocols: `Connection: upgrade` and an `Upgrade`
    /// field (RFC 9110 §7.8). The protocol names are in `header("upgrade")`.
    pub fn is_upgrade(&self) -> bool {
        self.upgrade
    }
}

/// A request head that owns its bytes, for keeping a request past the input it came from
/// (while its body arrives, or while it waits for an answer).
#[derive(Clone, Debug)]
pub struct OwnedRequest {
    /// `method`, `target` and the field lines, one after another.
    bytes: Vec<u8>,
    method_len: usize,
    target_len: usize,
    version: Version,
    body: BodyKind,
    keep_alive: bool,
    expect_continue: bool,
    upgrade: bool,
}

impl OwnedRequest {
    /// The borrowed view, as the connection produced it.
    pub fn as_request(&self) -> Request<'_> {
        let (method, rest) = self.bytes.split_at(self.method_len.min(self.bytes.len()));
        let (target, lines) = rest.split_at(self.target_len.min(rest.len()));
        Request {
            // Both were `&str` when copied in, so they are still UTF-8.
            method: core::str::from_utf8(method).unwrap_or_default(),
            target: core::str::from_utf8(target).unwrap_or_default(),
            version: self.version,
            body: self.body,
            keep_alive: self.keep_alive,
            expect_continue: self.expect_continue,
            lines,
            upgrade: self.upgrade,
        }
    }
}

impl Request<'_> {
    /// Copies the head into an [`OwnedRequest`].
    pub fn to_owned_request(&self) -> OwnedRequest {
        let mut bytes =
            Vec::with_capacity(self.method.len() + self.target.len() + self.lines.len());
        bytes.extend_from_slice(self.method.as_bytes());
        bytes.extend_from_slice(self.target.as_bytes());
        bytes.extend_from_slice(self.lines);
        OwnedRequest {
            bytes,
            method_len: self.method.len(),
            target_len: self.target.len(),
            version: self.version,
            body: self.body,
            keep_alive: self.keep_alive,
            expect_continue: self.expect_continue,
            upgrade: self.upgrade,
        }
    }
}

/// Parses a complete request head at `input[span.start..span.end]` and checks its framing.
pub(crate) fn parse_request<'a>(
    input: &'a [u8],
    span: HeadSpan,
    limits: &HttpLimits,
) -> Result<Request<'a>, PeerError> {
    let head = input
        .get(span.start..span.end)
        .ok_or(PeerError::MalformedHead)?;
    let mut slots = [const { MaybeUninit::<httparse::Header<'a>>::uninit() }; MAX_HEADER_SLOTS];
    let slots = slots
        .get_mut(..limits.max_headers.clamp(1, MAX_HEADER_SLOTS))
        .unwrap_or_default();
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(head, slots) {
        Ok(httparse::Status::Complete(len)) if len == head.len() => {}
        Ok(_) => return Err(PeerError::MalformedHead),
        Err(e) => return Err(classify(head, e)),
    }
    let first_lf = find_byte(head, b'\n').unwrap_or(head.len());
    finish_request(head, first_lf, &req, limits)
}

/// The fast path for a head that arrived whole in the first read: one httparse pass instead of
/// scan-then-parse. `None` when anything needs the careful path (a partial head, leading empty
/// lines, a limit, a bare LF, any parse error): the caller then scans as usual, so limits and
/// errors are reported exactly as there. Returns the request and the head's length.
#[inline]
pub(crate) fn parse_request_whole<'a>(
    input: &'a [u8],
    limits: &HttpLimits,
) -> Option<Result<(Request<'a>, usize), PeerError>> {
    if matches!(input.first(), Some(b'\r' | b'\n')) {
        return None;
    }
    let mut slots = [const { MaybeUninit::<httparse::Header<'a>>::uninit() }; MAX_HEADER_SLOTS];
    let slots = slots.get_mut(..limits.max_headers.clamp(1, MAX_HEADER_SLOTS))?;
    let mut req = httparse::Request::new(&mut []);
    let Ok(httparse::Status::Complete(len)) = req.parse_with_uninit_headers(input, slots) else {
        return None;
    };
    let head = input.get(..len)?;
    let first_lf = find_byte(head, b'\n')?;
    if len > limits.max_head_bytes || first_lf + 1 > limits.max_request_line_bytes {
        return None;
    }
    // We refuse bare LF line ends (RFC 9112 §2.2) and httparse accepts them, so check every
    // line end httparse found: after the request line, after each field value (past trailing
    // whitespace), and the blank line. That is O(fields), not a second pass over the bytes.
    if first_lf == 0 || head.get(first_lf - 1) != Some(&b'\r') || !head.ends_with(b"\r\n\r\n") {
        return None;
    }
    let base = head.as_ptr() as usize;
    for field in req.headers.iter() {
        if field.value.is_empty() {
            return None; // an empty value's slice need not point into the head
        }
        let mut end = (field.value.as_ptr() as usize).checked_sub(base)? + field.value.len();
        while matches!(head.get(end), Some(b' ' | b'\t')) {
            end += 1;
        }
        if head.get(end) != Some(&b'\r') {
            return None;
        }
    }
    Some(finish_request(head, first_lf, &req, limits).map(|r| (r, len)))
}

/// Checks the parsed fields and builds the request view.
#[inline]
fn finish_request<'a>(
    head: &'a [u8],
    first_lf: usize,
    req: &httparse::Request<'_, 'a>,
    limits: &HttpLimits,
) -> Result<Request<'a>, PeerError> {
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(PeerError::MalformedHead);
    };
    let version = if minor == 0 {
        Version::Http10
    } else {
        Version::Http11
    };
    if let Some((authority, _)) = split_absolute_form(target) {
        // RFC 9110 §4.2.1: an http(s) URI with an empty host is invalid; RFC 3986 §3.2: the
        // authority is a host and an optional port (user information is not allowed in http).
        if authority.is_empty() || !is_valid_host(authority.as_bytes()) {
            return Err(PeerError::InvalidTarget);
        }
    }
    let framing = check_fields(req.headers, version, true)?;
    if let BodyKind::Length(n) = framing.body {
        if n > limits.max_body_bytes {
            return Err(PeerError::BodyTooLarge);
        }
    }
    let keep_alive = match version {
        Version::Http11 => !framing.close,
        Version::Http10 => framing.keep_alive && !framing.close,
    };
    Ok(Request {
        method,
        target,
        version,
        body: framing.body,
        keep_alive,
        expect_continue: framing.expect_continue,
        lines: head.get(first_lf + 1..).unwrap_or_default(),
        upgrade: framing.upgrade,
    })
}

/// Turns an httparse error into the rule that was broken.
pub(crate) fn classify(head: &[u8], e: httparse::Error) -> PeerError {
    if has_bare_cr(head) {
        return PeerError::BareCr;
    }
    match e {
        httparse::Error::TooManyHeaders => PeerError::TooManyHeaders,
        httparse::Error::Version => {
            if start_line_version_is_well_formed(head) {
                PeerError::UnsupportedVersion
            } else {
                PeerError::MalformedHead
            }
        }
        httparse::Error::HeaderName => {
            // Tell the two common field-line mistakes apart; both are 400.
            let lines = head.split(|&b| b == b'\n').skip(1);
            for line in lines {
                if matches!(line.first(), Some(b' ' | b'\t')) {
                    return PeerError::ObsoleteFold;
                }
                if let Some(colon) = find_byte(line, b':') {
                    if matches!(line.get(..colon).and_then(|n| n.last()), Some(b' ' | b'\t')) {
                        return PeerError::WhitespaceBeforeColon;
                    }
                }
            }
            PeerError::MalformedHead
        }
        _ => PeerError::MalformedHead,
    }
}

fn has_bare_cr(head: &[u8]) -> bool {
    head.iter()
        .enumerate()
        .any(|(i, &b)| b == b'\r' && head.get(i + 1) != Some(&b'\n'))
}

/// Whether the request line is `method SP target SP HTTP/DIGIT.DIGIT`, with exactly two single
/// spaces (so a version error means "not implemented", 505, rather than "not HTTP", 400).
/// RFC 9112 §3: the version is only what follows the last space of a well-formed line; a line
/// with a space inside the target, or two spaces in a row, is not one.
fn start_line_version_is_well_formed(head: &[u8]) -> bool {
    let line = head
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    !method.is_empty()
        && !target.is_empty()
        && matches!(version, [b'H', b'T', b'T', b'P', b'/', a, b'.', b] if a.is_ascii_digit() && b.is_ascii_digit())
}

/// `(authority, rest)` of an `http` or `https` target in absolute form (RFC 9112 §3.2.2; the
/// scheme is case-insensitive, RFC 3986 §3.1); `rest` starts at the path, the query or is empty.
fn split_absolute_form(target: &str) -> Option<(&str, &str)> {
    // A scheme starts with a letter (RFC 3986 §3.1): origin form (`/…`) and asterisk form are
    // ruled out by the first byte, without searching the target.
    if !target
        .as_bytes()
        .first()
        .is_some_and(u8::is_ascii_alphabetic)
    {
        return None;
    }
    let colon = target.find("://")?;
    let scheme = target.get(..colon)?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let after = target.get(colon + 3..)?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    Some((after.get(..end)?, after.get(end..)?))
}

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
    let mut hosts = 0usize;
    let mut length: Option<u64> = None;
    let mut has_te = false;
    let mut chunked_final = false;
    let mut chunked_count = 0usize;
    let mut other_coding = false;
    let mut close = false;
    let mut keep_alive = false;
    let mut connection_upgrade = false;
    let mut has_upgrade = false;
    let mut expect_continue = false;
    for h in headers {
        let name = h.name.as_bytes();
        // Only six names matter here; length and first letter rule out most fields at once,
        // with one table lookup and one well-predicted branch (a `match` on the length made an
        // indirect jump that mispredicted on nearly every field).
        let first = name.first().map_or(0, |b| b | 0x20);
        if FRAMING_FIRST_LETTER.get(name.len()) != Some(&first) {
            continue;
        }
        let value = trim_ows(h.value);
        if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
            if !is_valid_host(value) {
                return Err(PeerError::InvalidHost);
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            // RFC 9110 §8.6: a list of identical values may be read as one value.
            for element in value.split(|&b| b == b',') {
                let n = parse_decimal(trim_ows(element)).ok_or(PeerError::InvalidContentLength)?;
                match length {
                    Some(prev) if prev != n => return Err(PeerError::ConflictingContentLength),
                    _ => length = Some(n),
                }
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            has_te = true;
            for coding in list_elements(value) {
                // A coding may carry parameters: `gzip;q=1` names `gzip`.
                let coding_name = trim_ows(coding.split(|&b| b == b';').next().unwrap_or(coding));
                if coding_name.eq_ignore_ascii_case(b"chunked") {
                    chunked_count += 1;
                    chunked_final = true;
                } else {
                    chunked_final = false;
                    other_coding = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in list_elements(value) {
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                } else if token.eq_ignore_ascii_case(b"upgrade") {
                    connection_upgrade = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            has_upgrade = true;
        } else if request && name.eq_ignore_ascii_case(b"expect") {
            if value.eq_ignore_ascii_case(b"100-continue") {
                expect_continue = true;
            } else {
                return Err(PeerError::UnsupportedExpectation);
            }
        }
    }
    if request {
        match (version, hosts) {
            (Version::Http11, 0) => return Err(PeerError::MissingHost),
            (_, 2..) => return Err(PeerError::DuplicateHost),
            _ => {}
        }
    }
    let body = if has_te {
        if length.is_some() {
            return Err(PeerError::ContentLengthWithTransferEncoding);
        }
        if version == Version::Http10 {
            return Err(PeerError::TransferEncodingInHttp10);
        }
        if !chunked_final || chunked_count != 1 {
            if request {
                return Err(PeerError::ChunkedNotFinal);
            }
            // RFC 9112 §6.3 item 4: a response is then read until the connection closes.
            BodyKind::CloseDelimited
        } else if other_coding {
            return Err(PeerError::UnsupportedTransferCoding);
        } else {
            BodyKind::Chunked
        }
    } else {
        match length {
            Some(0) | None if request => BodyKind::None,
            Some(n) => BodyKind::Length(n),
            None => BodyKind::CloseDelimited,
        }
    };
    Ok(Framing {
        body,
        close,
        keep_alive,
        upgrade: connection_upgrade && has_upgrade,
        expect_continue,
    })
}

/// `1*DIGIT` as a u64; `None` if empty, not all digits, or too large.
pub(crate) fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        let digit = u64::from(b.checked_sub(b'0').filter(|d| *d <= 9)?);
        acc.checked_mul(10)?.checked_add(digit)
    })
}

/// `uri-host [ ":" port ]` (RFC 3986 §3.2.2, §3.2.3); an empty value is allowed (RFC 9112 §3.2).
pub(crate) fn is_valid_host(value: &[u8]) -> bool {
    let (host, port) = if let Some(rest) = value.strip_prefix(b"[") {
        // IP-literal: hex digits, colons, dots, and the IPvFuture letters.
        let Some(close) = find_byte(rest, b']') else {
            return false;
        };
        let (inside, after) = rest.split_at(close);
        let ok = !inside.is_empty()
            && inside
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'.'));
        if !ok {
            return false;
        }
        match after.get(1..) {
            Some([]) | None => return true,
            Some([b':', port @ ..]) => (&b""[..], port),
            Some(_) => return false,
        }
    } else {
        match find_byte(value, b':') {
            Some(i) => (
                value.get(..i).unwrap_or_default(),
                value.get(i + 1..).unwrap_or_default(),
            ),
            None => (value, &b""[..]),
        }
    };
    let host_ok = host.iter().all(|&b| HOST_BYTE[usize::from(b)]);
    host_ok && port.iter().all(u8::is_ascii_digit)
}

/// The bytes of a `reg-name` or IPv4 address (RFC 3986 §3.2.2): unreserved, sub-delims and
/// `%` of percent-encoding, as a table (one load per byte instead of a chain of compares).
const HOST_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'%');
        b += 1;
    }
    let sub_delims = b"!$&'()*+,;=";
    let mut i = 0;
    while i < sub_delims.len() {
        t[sub_delims[i] as usize] = true;
        i += 1;
    }
    t
};

pub(crate) use crate::push_decimal;

/// Appends `n` in lowercase hexadecimal.
pub(crate) fn push_hex(out: &mut Vec<u8>, n: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = HEX[(n & 0xf) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Checks caller-supplied fields before they are written: names are tokens, values hold no CR,
/// LF or NUL (RFC 9110 §5.5), and none of the fields the connection writes itself
/// (`allow_connection` lets an upgrade request name its own Connection field).
pub(crate) fn check_outgoing_fields(
    fields: &[(&str, &[u8])],
    allow_connection: bool,
) -> Result<(), UsageError> {
    for (name, value) in fields {
        if !is_token(name.as_bytes()) || value.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(UsageError::InvalidHeader);
        }
        let n = name.as_bytes();
        if n.eq_ignore_ascii_case(b"content-length")
            || n.eq_ignore_ascii_case(b"transfer-encoding")
            || (!allow_connection && n.eq_ignore_ascii_case(b"connection"))
        {
            return Err(UsageError::FramingHeader);
        }
    }
    Ok(())
}

/// Appends `name: value\r\n` for each field.
pub(crate) fn push_fields(out: &mut Vec<u8>, fields: &[(&str, &[u8])]) {
    for (name, value) in fields {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
}

/// The reason phrase we send for `status` (RFC 9110 §15); clients must ignore it.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}
