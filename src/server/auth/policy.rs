//! A server's access policy: whether tokens are required, with which secret; which origins
//! may use it from a browser; how fast one client may publish.

#[cfg(feature = "auth")]
use super::jwt::Verifier;
use super::origin::{BadOrigin, Origins};
use super::rate::Rate;
use super::source::DEFAULT_COOKIE;

/// The verifier of a server's tokens, shared with whoever may replace it while the server runs:
/// requests checked after [`Secret::replace`] use the new one.
#[cfg(feature = "auth")]
#[derive(Debug, Clone)]
pub struct Secret(std::sync::Arc<std::sync::RwLock<Verifier>>);

#[cfg(feature = "auth")]
impl Secret {
    /// Checks tokens with `verifier` from now on.
    pub fn replace(&self, verifier: Verifier) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = verifier;
    }

    /// Verifies `token` at `now` with the current verifier.
    ///
    /// # Errors
    /// As [`Verifier::verify`].
    pub fn verify(
        &self,
        token: &str,
        now: u64,
    ) -> Result<super::jwt::Claims, super::jwt::TokenError> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .verify(token, now)
    }
}

/// Who may do what on a hub server ([`crate::server::HubServer::with_policy`]).
///
/// The default is an open server: no token asked, every origin allowed, no rate limit — what
/// the demo on the loopback address is. Any token requirement or origin list closes it: then
/// cross-origin browser requests (and WebSocket upgrades) pass only from the listed origins.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    #[cfg(feature = "auth")]
    pub(crate) verifier: Option<Secret>,
    pub(crate) cookie: Option<String>,
    pub(crate) origins: Origins,
    pub(crate) publish_rate: Option<Rate>,
}

impl Policy {
    /// An open server.
    pub fn open() -> Policy {
        Policy::default()
    }

    /// Requires a token verified by `verifier` for subscribing and publishing.
    #[cfg(feature = "auth")]
    pub fn tokens(mut self, verifier: Verifier) -> Policy {
        self.verifier = Some(Secret(std::sync::Arc::new(std::sync::RwLock::new(
            verifier,
        ))));
        self
    }

    /// The verifier tokens are checked with, to replace while the server runs (a new secret,
    /// read again on `SIGHUP`): `None` on a server without tokens.
    #[cfg(feature = "auth")]
    pub fn secret(&self) -> Option<Secret> {
        self.verifier.clone()
    }

    /// The cookie that may carry the token (default [`DEFAULT_COOKIE`]).
    pub fn cookie(mut self, name: impl Into<String>) -> Policy {
        self.cookie = Some(name.into());
        self
    }

    /// Lets pages of `origin` use the server from a browser (WebSocket upgrades, and CORS for
    /// the HTTP endpoints, with credentials).
    ///
    /// # Errors
    /// [`BadOrigin`] if `origin` is not `scheme://host[:port]`.
    pub fn allow_origin(mut self, origin: &str) -> Result<Policy, BadOrigin> {
        self.origins.allow(origin)?;
        Ok(self)
    }

    /// At most `rate` publishes per WebSocket connection, and per token holder (`sub`, or the
    /// token itself) across all of them; beyond it `429` with `Retry-After`, or close `1008`.
    pub fn publish_rate(mut self, rate: Rate) -> Policy {
        self.publish_rate = Some(rate);
        self
    }

    /// Whether requests need a token.
    pub fn requires_tokens(&self) -> bool {
        #[cfg(feature = "auth")]
        {
            self.verifier.is_some()
        }
        #[cfg(not(feature = "auth"))]
        {
            false
        }
    }

    /// Whether anything is restricted.
    pub fn is_open(&self) -> bool {
        !self.requires_tokens() && self.origins.is_empty()
    }

    #[cfg_attr(not(feature = "auth"), allow(dead_code))]
    pub(crate) fn cookie_name(&self) -> &str {
        self.cookie.as_deref().unwrap_or(DEFAULT_COOKIE)
    }
}
