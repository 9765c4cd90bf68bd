//! A server's access policy: whether tokens are required, with which secret; which origins
//! may use it from a browser; how fast one client may publish.

#[cfg(feature = "auth")]
use super::jwt::Verifier;
use super::origin::{BadOrigin, Origins};
use super::rate::Rate;
use super::source::DEFAULT_COOKIE;

/// Who may do what on a hub server ([`crate::server::HubServer::with_policy`]).
///
/// The default is an open server: no token asked, every origin allowed, no rate limit — what
/// the demo on the loopback address is. Any token requirement or origin list closes it: then
/// cross-origin browser requests (and WebSocket upgrades) pass only from the listed origins.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    #[cfg(feature = "auth")]
    pub(crate) verifier: Option<Verifier>,
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
        self.verifier = Some(verifier);
        self
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
