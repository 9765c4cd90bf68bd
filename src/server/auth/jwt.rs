//! Verifying access tokens: JSON Web Tokens (RFC 7519) in JWS compact serialization
//! (RFC 7515 §7.1), signed with HMAC-SHA-256 (`HS256`, RFC 7518 §3.2).
//!
//! The order matters. A token is `BASE64URL(header) . BASE64URL(payload) . BASE64URL(mac)`;
//! [`Verifier::verify`] bounds its size, splits it, and checks the MAC over the first two parts
//! in constant time *before* reading either as JSON: nothing a forger wrote is interpreted. Then
//! the header must say exactly `"alg":"HS256"` (no `none`, no other algorithm, so no algorithm
//! confusion) and carry no `crit` extension it would have to understand (RFC 7515 §4.1.11); then
//! the claims: `exp` required (§4.1.4), `nbf` honoured (§4.1.5) with a small leeway for clock
//! skew, `aud` (§4.1.3) checked when an audience is configured. A member named twice anywhere is
//! a refusal (the JSON reader's rule).
//!
//! The claims this server understands besides those: `sub` (who; used to key rate limits) and
//! `pushwire`: `{"subscribe": [selectors], "publish": [selectors], "admin": true}` (see
//! [`Selector`]; `admin`, optional, lets the holder read `/metrics` and `/stats`).

use super::scope::{Grants, Selector};
use crate::json::push_string;
use crate::json::{self, Value};
use alloc::string::String;
use alloc::vec::Vec;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The shortest shared secret accepted: 256 bits, the size of the hash (RFC 7518 §3.2: "a key
/// of the same size as the hash output … or larger MUST be used").
pub const MIN_SECRET_BYTES: usize = 32;

/// The longest token read by default; a cookie holds about 4 KiB.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 4096;

/// The default allowance for clocks that disagree, in seconds.
pub const DEFAULT_LEEWAY_SECS: u64 = 30;

/// Why a token was refused. Every variant is answered `401` with `error="invalid_token"`
/// (RFC 6750 §3.1); the reason goes in `error_description`, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Longer than the configured bound.
    #[error("the token is longer than {0} bytes")]
    TooLarge(usize),
    /// Not three base64url parts.
    #[error("the token is not a JWS in compact form")]
    Malformed,
    /// The MAC does not match: forged, altered, or signed with another secret.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// The header names an algorithm other than HS256 (or none).
    #[error("the token's algorithm must be HS256")]
    Algorithm,
    /// The header lists critical extensions (RFC 7515 §4.1.11), which this server does not
    /// understand.
    #[error("the token has critical extensions this server does not understand")]
    Critical,
    /// The header or the claims are not the JSON object they must be.
    #[error("the token's {0} is not valid")]
    Invalid(&'static str),
    /// Past `exp` (plus the leeway).
    #[error("the token expired")]
    Expired,
    /// Before `nbf` (minus the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `aud` does not name this server's audience.
    #[error("the token is for another audience")]
    Audience,
}

/// A secret too short to sign with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the token secret must be at least {MIN_SECRET_BYTES} bytes, it is {0}")]
pub struct WeakSecret(pub usize);

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// `sub`: who the holder is, if the token says.
    pub sub: Option<String>,
    /// `exp`, in seconds since the Unix epoch.
    pub exp: u64,
    /// The topics it grants.
    pub grants: Grants,
}

/// The claims of a token to mint with [`Verifier::mint`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NewToken<'a> {
    /// `sub`: who holds it.
    pub sub: Option<&'a str>,
    /// `exp`: when it expires, in seconds since the Unix epoch.
    pub exp: u64,
    /// `aud`: the audience it is for.
    pub aud: Option<&'a str>,
    /// Topic selectors it may follow.
    pub subscribe: &'a [&'a str],
    /// Topic selectors it may publish to.
    pub publish: &'a [&'a str],
    /// Whether it may read the server's figures (`/metrics`, `/stats`).
    pub admin: bool,
}

/// Checks tokens against one shared secret.
#[derive(Clone)]
pub struct Verifier {
    /// The MAC already keyed: each check clones it instead of hashing the key again.
    keyed: Hmac<Sha256>,
    leeway: u64,
    audience: Option<String>,
    max_bytes: usize,
}

impl core::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never the secret.
        f.debug_struct("Verifier")
            .field("leeway", &self.leeway)
            .field("audience", &self.audience)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier for tokens signed with `secret`.
    ///
    /// # Errors
    /// [`WeakSecret`] for a secret shorter than [`MIN_SECRET_BYTES`].
    pub fn new(secret: &[u8]) -> Result<Verifier, WeakSecret> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(WeakSecret(secret.len()));
        }
        let keyed = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| WeakSecret(0))?;
        Ok(Verifier {
            keyed,
            leeway: DEFAULT_LEEWAY_SECS,
            audience: None,
            max_bytes: DEFAULT_MAX_TOKEN_BYTES,
        })
    }

    /// Seconds of disagreement between clocks tolerated on `exp` and `nbf`.
    pub fn leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }

    /// Tokens must name this audience in `aud`.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Tokens longer than this are refused unread.
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// The leeway, in seconds.
    pub fn leeway_secs(&self) -> u64 {
        self.leeway
    }

    /// Signs `header` and `claims` (JSON texts) into a token: for tests and the `pushwire token`
    /// example; a backend that mints tokens does the same.
    pub fn sign(&self, header: &str, claims: &str) -> String {
        let mut token = URL_SAFE_NO_PAD.encode(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut token);
        let mut mac = self.keyed.clone();
        mac.update(token.as_bytes());
        let tag = mac.finalize().into_bytes();
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(tag, &mut token);
        token
    }

    /// Signs a token with these claims (RFC 7519 §4: `sub`, `exp`, `aud`; and `pushwire`).
    pub fn mint(&self, claims: &NewToken<'_>) -> String {
        let mut json = Vec::from(&b"{"[..]);
        if let Some(sub) = claims.sub {
            json.extend_from_slice(b"\"sub\":");
            push_string(sub, &mut json);
            json.push(b',');
        }
        if let Some(aud) = claims.aud {
            json.extend_from_slice(b"\"aud\":");
            push_string(aud, &mut json);
            json.push(b',');
        }
        json.extend_from_slice(alloc::format!("\"exp\":{},\"pushwire\":{{", claims.exp).as_bytes());
        for (i, (name, list)) in [("subscribe", claims.subscribe), ("publish", claims.publish)]
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                json.push(b',');
            }
            push_string(name, &mut json);
            json.extend_from_slice(b":[");
            for (j, selector) in list.iter().enumerate() {
                if j > 0 {
                    json.push(b',');
                }
                push_string(selector, &mut json);
            }
            json.push(b']');
        }
        if claims.admin {
            json.extend_from_slice(b",\"admin\":true");
        }
        json.extend_from_slice(b"}}");
        let json = String::from_utf8(json).expect("the claims are built from strings");
        self.sign(r#"{"alg":"HS256","typ":"JWT"}"#, &json)
    }

    /// Verifies `token` at `now` (seconds since the Unix epoch).
    ///
    /// # Errors
    /// [`TokenError`]: why the token grants nothing.
    pub fn verify(&self, token: &str, now: u64) -> Result<Claims, TokenError> {
        if token.len() > self.max_bytes {
            return Err(TokenError::TooLarge(self.max_bytes));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        // Base64url without padding (RFC 7515 §2), canonical: a second spelling of the same
        // MAC would be a second token.
        let mut tag = [0u8; 48];
        let tag_len = URL_SAFE_NO_PAD
            .decode_slice(signature, &mut tag)
            .map_err(|_| TokenError::Malformed)?;
        let signature = tag.get(..tag_len).ok_or(TokenError::Malformed)?;
        let signed = token
            .get(..header.len() + 1 + payload.len())
            .ok_or(TokenError::Malformed)?;
        let mut mac = self.keyed.clone();
        mac.update(signed.as_bytes());
        // `verify_slice` compares in constant time (and refuses a tag of another length).
        mac.verify_slice(signature)
            .map_err(|_| TokenError::BadSignature)?;

        let header = decode(header)?;
        let header = object(&header, "header")?;
        match header.get("alg").and_then(Value::as_str) {
            Some("HS256") => {}
            _ => return Err(TokenError::Algorithm),
        }
        if header.get("crit").is_some() {
            return Err(TokenError::Critical);
        }
        if let Some(typ) = header.get("typ") {
            // RFC 7519 §5.1: "JWT", compared case-insensitively.
            if !typ.as_str().is_some_and(|t| t.eq_ignore_ascii_case("JWT")) {
                return Err(TokenError::Invalid("header"));
            }
        }
        let claims = decode(payload)?;
        let claims = object(&claims, "claims")?;
        self.check(&claims, now)
    }

    fn check(&self, claims: &Value, now: u64) -> Result<Claims, TokenError> {
        let exp = numeric_date(claims.get("exp"))?.ok_or(TokenError::Invalid("exp"))?;
        if now >= exp.saturating_add(self.leeway) {
            return Err(TokenError::Expired);
        }
        if let Some(nbf) = numeric_date(claims.get("nbf"))? {
            if now.saturating_add(self.leeway) < nbf {
                return Err(TokenError::NotYetValid);
            }
        }
        let audiences = match claims.get("aud") {
            None => Vec::new(),
            Some(Value::String(one)) => alloc::vec![&**one],
            Some(Value::Array(many)) => many
                .iter()
                .map(|a| a.as_str().ok_or(TokenError::Invalid("aud")))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(TokenError::Invalid("aud")),
        };
        if let Some(audience) = &self.audience {
            if !audiences.contains(&audience.as_str()) {
                return Err(TokenError::Audience);
            }
        }
        let sub = match claims.get("sub") {
            None => None,
            Some(Value::String(sub)) => Some(String::from(&**sub)),
            Some(_) => return Err(TokenError::Invalid("sub")),
        };
        let grants = match claims.get("pushwire") {
            None => Grants::default(),
            Some(scope @ Value::Object(_)) => Grants {
                subscribe: selectors(scope.get("subscribe"))?,
                publish: selectors(scope.get("publish"))?,
                admin: match scope.get("admin") {
                    None | Some(Value::Bool(false)) => false,
                    Some(Value::Bool(true)) => true,
                    Some(_) => return Err(TokenError::Invalid("pushwire.admin")),
                },
            },
            Some(_) => return Err(TokenError::Invalid("pushwire")),
        };
        Ok(Claims {
            sub,
            exp: exp.saturating_add(self.leeway),
            grants,
        })
    }
}

fn decode(part: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed)
}

fn object<'a>(bytes: &'a [u8], what: &'static str) -> Result<Value<'a>, TokenError> {
    match json::parse(bytes) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(TokenError::Invalid(what)),
    }
}

/// RFC 7519 §2 NumericDate: seconds since the epoch, possibly fractional (truncated here).
fn numeric_date(value: Option<&Value>) -> Result<Option<u64>, TokenError> {
    match value {
        None => Ok(None),
        Some(Value::Number(n)) if *n >= 0.0 && *n < 1e15 => Ok(Some(*n as u64)),
        Some(_) => Err(TokenError::Invalid("time claim")),
    }
}

fn selectors(list: Option<&Value>) -> Result<Vec<Selector>, TokenError> {
    match list {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .and_then(Selector::parse)
                    .ok_or(TokenError::Invalid("topic selector"))
            })
            .collect(),
        Some(_) => Err(TokenError::Invalid("pushwire")),
    }
}

#[cfg(test)]
mod tests;
