//! Where a request carries its access token (RFC 6750 §2).
//!
//! In order of preference: the `Authorization: Bearer` field (§2.1), which scripts and servers
//! set; the `access_token` query parameter (§2.3), for a page that opens an `EventSource` or a
//! `WebSocket` (neither can set a header) with a token it was given; and a cookie (by default
//! `pushwire_token`), which the browser sends by itself — which is why cookie-authenticated
//! WebSocket upgrades are only taken from allowed origins (see [`super::origin`]).

use crate::http::Request;
use crate::server::query::{self, BadParam};
use std::borrow::Cow;

/// The default name of the cookie that carries a token.
pub const DEFAULT_COOKIE: &str = "pushwire_token";

/// The token a request carries, if any.
///
/// An `Authorization` field with another scheme (`Basic …`) carries no bearer token.
///
/// # Errors
/// [`BadParam`] when the `access_token` parameter is malformed or repeated.
pub fn token<'a>(req: &Request<'a>, cookie: &str) -> Result<Option<Cow<'a, str>>, BadParam> {
    if let Some(field) = req.header("authorization") {
        if let Some(token) = bearer(field) {
            return Ok(Some(Cow::Borrowed(token)));
        }
    }
    if let Some(token) = query::param(req, "access_token")? {
        return Ok(Some(token));
    }
    Ok(req
        .headers()
        .filter(|(name, _)| name.eq_ignore_ascii_case("cookie"))
        .find_map(|(_, value)| cookie_value(value, cookie))
        .map(Cow::Borrowed))
}

/// `Bearer <token>` (RFC 6750 §2.1: the scheme is case-insensitive, RFC 9110 §11.1).
fn bearer(field: &[u8]) -> Option<&str> {
    let field = std::str::from_utf8(field).ok()?.trim();
    let (scheme, token) = field.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim_start_matches(' ');
    (!token.is_empty()).then_some(token)
}

/// The value of cookie `name` in a `Cookie` field (RFC 6265 §4.2.1: `a=b; c=d`), without the
/// optional double quotes.
fn cookie_value<'a>(field: &'a [u8], name: &str) -> Option<&'a str> {
    std::str::from_utf8(field)
        .ok()?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| {
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v)
        })
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Connection, Event};
    use crate::limits::Limits;
    use crate::time::Instant;

    fn with_request(head: &str, check: impl FnOnce(&Request<'_>)) {
        let mut conn = Connection::new(Instant::ZERO, &Limits::default());
        let mut out = Vec::new();
        let step = conn.feed(Instant::ZERO, head.as_bytes(), &mut out).unwrap();
        let Some(Event::Request(req)) = step.event else {
            panic!("no request in {head:?}")
        };
        check(&req);
    }

    fn found(head: &str) -> Option<String> {
        let mut result = None;
        with_request(head, |req| {
            result = token(req, DEFAULT_COOKIE).unwrap().map(Cow::into_owned);
        });
        result
    }

    #[test]
    fn a_bearer_field_is_read_first() {
        assert_eq!(
            found(
                "GET /e?access_token=q HTTP/1.1\r\nHost: x\r\nAuthorization: bearer  abc.def\r\nCookie: pushwire_token=c\r\n\r\n"
            ),
            Some("abc.def".into())
        );
        assert_eq!(
            found("GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic dXNlcjpwYXNz\r\n\r\n"),
            None
        );
        assert_eq!(
            found("GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\n\r\n"),
            None
        );
    }

    #[test]
    fn then_the_query_then_the_cookie() {
        assert_eq!(
            found(
                "GET /e?topic=t&access_token=a%2Eb HTTP/1.1\r\nHost: x\r\nCookie: pushwire_token=c\r\n\r\n"
            ),
            Some("a.b".into())
        );
        assert_eq!(
            found(
                "GET /e HTTP/1.1\r\nHost: x\r\nCookie: theme=dark; pushwire_token=\"t.o.k\"\r\n\r\n"
            ),
            Some("t.o.k".into())
        );
        assert_eq!(
            found("GET /e HTTP/1.1\r\nHost: x\r\nCookie: xpushwire_token=no\r\n\r\n"),
            None
        );
        with_request(
            "GET /e?access_token=a&access_token=b HTTP/1.1\r\nHost: x\r\n\r\n",
            |req| assert!(token(req, DEFAULT_COOKIE).is_err()),
        );
    }
}
