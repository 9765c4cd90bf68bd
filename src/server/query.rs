//! Query parameters as the hub server reads them: percent-decoded (RFC 3986 §2.1), `+` as a
//! space (the form encoding of the WHATWG URL standard, §5.1), each name at most once, and typed
//! values checked — anything else is a [`BadParam`], answered `400` with a one-line reason.

use crate::http::Request;
use std::borrow::Cow;
use std::fmt;

/// Why a request's parameters were refused (`400 Bad Request`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BadParam {
    /// A `%` not followed by two hexadecimal digits (RFC 3986 §2.1).
    InvalidEscape(&'static str),
    /// The decoded bytes are not UTF-8.
    NotUtf8(&'static str),
    /// The same parameter twice: which one is meant cannot be known.
    Repeated(&'static str),
    /// Not a decimal number in range.
    NotANumber {
        /// The parameter (or header) name.
        name: &'static str,
        /// What the number may be.
        expected: &'static str,
    },
    /// A value longer than allowed.
    TooLong {
        /// The parameter name.
        name: &'static str,
        /// The limit in bytes.
        limit: usize,
    },
}

impl fmt::Display for BadParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadParam::InvalidEscape(name) => {
                write!(f, "{name}: invalid percent-escape (RFC 3986 §2.1)")
            }
            BadParam::NotUtf8(name) => write!(f, "{name}: not UTF-8 once percent-decoded"),
            BadParam::Repeated(name) => write!(f, "{name}: given more than once"),
            BadParam::NotANumber { name, expected } => write!(f, "{name}: expected {expected}"),
            BadParam::TooLong { name, limit } => {
                write!(f, "{name}: longer than the limit of {limit} bytes")
            }
        }
    }
}

/// The value of query parameter `name`, decoded; `None` if absent.
///
/// # Errors
/// [`BadParam`] for an invalid escape (in any parameter's name or in this value), a value that
/// is not UTF-8, or the parameter given twice.
pub fn param<'a>(req: &Request<'a>, name: &'static str) -> Result<Option<Cow<'a, str>>, BadParam> {
    let Some(query) = req.query() else {
        return Ok(None);
    };
    let mut found = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if decode(key).map_err(|()| BadParam::InvalidEscape(name))? != name.as_bytes() {
            continue;
        }
        if found.is_some() {
            return Err(BadParam::Repeated(name));
        }
        let bytes = decode(value).map_err(|()| BadParam::InvalidEscape(name))?;
        found = Some(match bytes {
            Cow::Borrowed(_) => Cow::Borrowed(value),
            Cow::Owned(bytes) => {
                Cow::Owned(String::from_utf8(bytes).map_err(|_| BadParam::NotUtf8(name))?)
            }
        });
    }
    Ok(found)
}

/// Every value of the repeatable query parameter `name`, decoded, in order.
///
/// # Errors
/// [`BadParam`] for an invalid escape or a value that is not UTF-8.
pub fn params<'a>(req: &Request<'a>, name: &'static str) -> Result<Vec<Cow<'a, str>>, BadParam> {
    let Some(query) = req.query() else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if decode(key).map_err(|()| BadParam::InvalidEscape(name))? != name.as_bytes() {
            continue;
        }
        let bytes = decode(value).map_err(|()| BadParam::InvalidEscape(name))?;
        found.push(match bytes {
            Cow::Borrowed(_) => Cow::Borrowed(value),
            Cow::Owned(bytes) => {
                Cow::Owned(String::from_utf8(bytes).map_err(|_| BadParam::NotUtf8(name))?)
            }
        });
    }
    Ok(found)
}

/// A decimal `u64`: digits only (no sign, no exponent, no spaces), not empty, in range.
///
/// # Errors
/// [`BadParam::NotANumber`] otherwise.
pub fn decimal(name: &'static str, value: &str) -> Result<u64, BadParam> {
    let error = BadParam::NotANumber {
        name,
        expected: "a decimal number from 0 to 18446744073709551615",
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error);
    }
    value.parse().map_err(|_| error)
}

/// Percent-decodes `text`, `+` as a space; borrowed when nothing needed decoding.
fn decode(text: &str) -> Result<Cow<'_, [u8]>, ()> {
    if !text.contains(['%', '+']) {
        return Ok(Cow::Borrowed(text.as_bytes()));
    }
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        out.push(match b {
            b'+' => b' ',
            b'%' => {
                let hi = bytes.next().and_then(hex).ok_or(())?;
                let lo = bytes.next().and_then(hex).ok_or(())?;
                hi << 4 | lo
            }
            b => b,
        });
    }
    Ok(Cow::Owned(out))
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Connection, Event};
    use crate::{Instant, Limits};

    /// `param(name)` of a GET with `query`.
    fn get(query: &str, name: &'static str) -> Result<Option<String>, BadParam> {
        let wire = format!("GET /p?{query} HTTP/1.1\r\nHost: a\r\n\r\n");
        let mut conn = Connection::new(Instant::ZERO, &Limits::default());
        let step = conn
            .feed(Instant::ZERO, wire.as_bytes(), &mut Vec::new())
            .unwrap();
        let Some(Event::Request(req)) = step.event else {
            panic!("a request")
        };
        param(&req, name).map(|v| v.map(Cow::into_owned))
    }

    #[test]
    fn percent_and_plus_decode_to_the_same_name() {
        assert_eq!(get("topic=a%20b", "topic"), Ok(Some("a b".into())));
        assert_eq!(get("topic=a+b", "topic"), Ok(Some("a b".into())));
        assert_eq!(get("topic=%C3%A9t%C3%A9", "topic"), Ok(Some("été".into())));
        assert_eq!(get("x=1&%74opic=t", "topic"), Ok(Some("t".into())));
        assert_eq!(get("topic=%2B%26%3D", "topic"), Ok(Some("+&=".into())));
        assert_eq!(get("topic", "topic"), Ok(Some(String::new())));
        assert_eq!(get("other=1", "topic"), Ok(None));
    }

    #[test]
    fn bad_escapes_bad_utf8_and_repeats_are_refused() {
        for q in ["topic=%", "topic=%2", "topic=%zz", "topic=a%G0"] {
            assert_eq!(
                get(q, "topic"),
                Err(BadParam::InvalidEscape("topic")),
                "{q}"
            );
        }
        assert_eq!(get("topic=%FF", "topic"), Err(BadParam::NotUtf8("topic")));
        assert_eq!(
            get("topic=a&topic=b", "topic"),
            Err(BadParam::Repeated("topic"))
        );
        assert_eq!(get("topic=a&topic+=b", "topic"), Ok(Some("a".into())));
    }

    /// Percent-encodes every byte outside RFC 3986's unreserved set (§2.3).
    fn encode(text: &str) -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    char::from(b).to_string()
                }
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn any_text_encoded_comes_back(text in "\\PC{0,40}", other in "[a-z]{1,5}") {
            let query = format!("{other}=1&topic={}&x{other}=2", encode(&text));
            proptest::prop_assert_eq!(get(&query, "topic"), Ok(Some(text)));
        }
    }

    #[test]
    fn decimals_are_digits_only_and_in_range() {
        assert_eq!(decimal("cursor", "0"), Ok(0));
        assert_eq!(decimal("cursor", "18446744073709551615"), Ok(u64::MAX));
        for bad in [
            "",
            "abc",
            "-1",
            "+1",
            "1e3",
            " 1",
            "1 ",
            "0x10",
            "18446744073709551616",
        ] {
            assert!(decimal("cursor", bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            decimal("cursor", "x").unwrap_err().to_string(),
            "cursor: expected a decimal number from 0 to 18446744073709551615"
        );
    }
}
