//! Which web pages may use the server from a visitor's browser (RFC 6454 origins).
//!
//! A browser sends `Origin` with every WebSocket handshake and cross-origin request, and sends
//! the visitor's cookies along whatever page started it. Without a check, any site a visitor
//! opens could open a WebSocket to this server as them (cross-site WebSocket hijacking):
//! RFC 6455 §10.2 asks servers to check `Origin`. The rule here: a request without `Origin` (not
//! from a browser page) and a same-origin request pass; a cross-origin one passes only if its
//! origin is on the allow-list.

/// An origin that is not `scheme://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an origin (scheme://host[:port]): {0}")]
pub struct BadOrigin(pub String);

/// The origins allowed to use the server cross-origin.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    allowed: Vec<String>,
}

impl Origins {
    /// Adds `origin` (`https://app.example` or `http://127.0.0.1:3000`), compared
    /// case-insensitively (RFC 6454 §6.2 serializes origins in lower case).
    ///
    /// # Errors
    /// [`BadOrigin`] if it has a path, a query, credentials or no scheme.
    pub fn allow(&mut self, origin: &str) -> Result<(), BadOrigin> {
        let origin = origin.trim_end_matches('/');
        let bad = || BadOrigin(origin.into());
        let (scheme, authority) = origin.split_once("://").ok_or_else(bad)?;
        let well_formed = !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
            && !authority.is_empty()
            && !authority.contains(['/', '?', '#', '@', ' ']);
        if !well_formed {
            return Err(bad());
        }
        self.allowed.push(origin.to_ascii_lowercase());
        Ok(())
    }

    /// Whether any origin is listed.
    pub fn is_empty(&self) -> bool {
        self.allowed.is_empty()
    }

    /// Whether `origin` (an `Origin` field's value) is on the list.
    pub fn lists(&self, origin: &[u8]) -> bool {
        self.allowed
            .iter()
            .any(|a| a.as_bytes().eq_ignore_ascii_case(origin))
    }
}

/// Whether `origin` names the server itself: its authority is the request's `Host`.
pub fn same_origin(origin: &[u8], host: Option<&[u8]>) -> bool {
    let Some(host) = host else { return false };
    let Some(at) = origin.windows(3).position(|w| w == b"://") else {
        return false;
    };
    origin
        .get(at + 3..)
        .is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked_exactly_and_case_insensitively() {
        let mut origins = Origins::default();
        assert!(origins.is_empty());
        origins.allow("https://App.example/").unwrap();
        origins.allow("http://127.0.0.1:3000").unwrap();
        assert!(origins.lists(b"https://app.example"));
        assert!(origins.lists(b"HTTP://127.0.0.1:3000"));
        assert!(!origins.lists(b"https://app.example.evil"));
        assert!(!origins.lists(b"http://app.example"));
        assert!(!origins.lists(b"null"));
        for bad in [
            "app.example",
            "https://a/b",
            "https://u@a",
            "://a",
            "https://",
        ] {
            assert!(origins.allow(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn same_origin_compares_the_authority_with_host() {
        assert!(same_origin(
            b"http://127.0.0.1:8080",
            Some(b"127.0.0.1:8080")
        ));
        assert!(same_origin(b"http://Example.com", Some(b"example.com")));
        assert!(!same_origin(
            b"http://127.0.0.1:8081",
            Some(b"127.0.0.1:8080")
        ));
        assert!(!same_origin(b"null", Some(b"null")));
        assert!(!same_origin(b"http://a", None));
    }
}
