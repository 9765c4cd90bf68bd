//! Writing heads out: status lines with their reason phrases (RFC 9110 §15), field lines checked
//! before they are written (§5.5: no CR, LF or NUL in a value; a token for a name), decimal and
//! hexadecimal numbers (chunk sizes, RFC 9112 §7.1).

use super::grammar::is_token;
use crate::http::error::UsageError;
use alloc::vec::Vec;

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
