//! A request head read into a borrowed view ([`Request`], RFC 9112 §3, §5): the request line,
//! the target's forms (§3.2: origin, absolute, authority, asterisk), the fields in order
//! ([`Fields`]), and the precise error for each way a head can be malformed.

use super::framing::check_fields;
use super::grammar::{is_valid_host, trim_ows};
use super::scan::{HeadSpan, find_byte};
use super::{BodyKind, HttpLimits, MAX_HEADER_SLOTS, Version};
use crate::http::error::PeerError;
use alloc::vec::Vec;
use core::mem::MaybeUninit;

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
#[derive(Clone, Debug, PartialEq, Eq)]
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
            method: core::str::from_utf8(method).expect("copied from a str"),
            target: core::str::from_utf8(target).expect("copied from a str"),
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
        .expect("clamped to the slots there are");
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
        lines: head
            .get(first_lf + 1..)
            .expect("a line feed's index is inside the head"),
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
        .expect("a split yields at least one piece");
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
