//! The small grammars fields are made of: tokens (RFC 9110 §5.6.2), optional whitespace
//! (§5.6.3), comma-separated lists (§5.6.1), decimal numbers (Content-Length, §8.6) and the Host
//! field's value (§7.2, RFC 3986 §3.2.2).

use super::scan::find_byte;

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
                value
                    .get(..i)
                    .expect("a found byte's index is inside the value"),
                value
                    .get(i + 1..)
                    .expect("a found byte's index is inside the value"),
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
