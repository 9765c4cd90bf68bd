//! The opening handshake (RFC 6455 §4): checking an upgrade request and answering it (server),
//! building the request and checking the answer (client).
//!
//! Only this module can make a [`ValidatedUpgrade`], and [`super::Connection::new`] takes one:
//! a WebSocket connection cannot exist without a handshake that passed.

use super::deflate;
use super::error::HandshakeError;
use crate::entropy::Entropy;
use crate::http::{self, Fields, ResponseBody, Version, client, is_token, list_contains};
use alloc::boxed::Box;
use alloc::vec::Vec;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};

/// The GUID every server appends to the client's key (RFC 6455 §1.3).
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Which end of the connection we are (RFC 6455 §5.1: clients mask, servers do not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// We accepted the connection.
    Server,
    /// We opened it.
    Client,
}

/// A client's source of masking keys, carried from the handshake to the connection.
pub(crate) type MaskSource = Box<dyn Entropy + Send>;

/// Proof that an opening handshake succeeded; [`super::Connection::new`] requires one.
pub struct ValidatedUpgrade {
    pub(crate) role: Role,
    /// A client's source of masking keys (§5.3), handed on from its [`ClientHandshake`].
    pub(crate) masks: Option<MaskSource>,
    /// permessage-deflate as agreed, with our compression level.
    pub(crate) deflate: Option<(deflate::Agreement, u8)>,
}

impl core::fmt::Debug for ValidatedUpgrade {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ValidatedUpgrade")
            .field("role", &self.role)
            .field("deflate", &self.deflate())
            .finish_non_exhaustive()
    }
}

impl ValidatedUpgrade {
    /// Which end we are.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The permessage-deflate parameters both ends agreed (RFC 7692 §7.1), if any.
    pub fn deflate(&self) -> Option<deflate::Agreement> {
        self.deflate.map(|(agreed, _)| agreed)
    }
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 §4.2.2 item 5.4):
/// base64(SHA-1(key + GUID)).
pub fn accept_key(key: &[u8]) -> [u8; 28] {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID);
    let digest = sha.finalize();
    let mut out = [0u8; 28];
    // 20 bytes always encode to 28 base64 characters.
    let _ = BASE64.encode_slice(digest, &mut out);
    out
}

/// A checked upgrade request, waiting for the application to accept it (RFC 6455 §4.2.1).
#[derive(Clone, Debug)]
pub struct Offer<'a> {
    key: &'a [u8],
    fields: Fields<'a>,
    /// What we would agree to for permessage-deflate; `None` declines every extension.
    deflate: Option<deflate::ServerConfig>,
}

impl<'a> Offer<'a> {
    /// The `Origin` field, for the application's origin policy (§4.2.2 item 4, §10.2).
    pub fn origin(&self) -> Option<&'a [u8]> {
        self.fields.get("origin")
    }

    /// Agree to permessage-deflate (RFC 7692) within `config` if the client offers it: the
    /// first offer element `config` can honour is taken, invalid ones are skipped (§7.1).
    #[cfg(feature = "deflate")]
    #[must_use]
    pub fn with_deflate(mut self, config: deflate::ServerConfig) -> Self {
        self.deflate = Some(config);
        self
    }

    /// The `Sec-WebSocket-Extensions` values the client sent (§9.1).
    pub fn extensions(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.fields.get_all("sec-websocket-extensions")
    }

    /// The subprotocols the client offered, in its order of preference (§4.2.1 item 8).
    pub fn protocols(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.fields
            .get_all("sec-websocket-protocol")
            .flat_map(http::list_elements)
            .filter_map(|p| core::str::from_utf8(p).ok())
    }

    /// Answers `101 Switching Protocols` on `conn`, choosing `protocol` (which must be one the
    /// client offered). `headers` are extra response fields (for example Set-Cookie).
    ///
    /// # Errors
    /// [`http::UsageError`] if `protocol` was not offered, or `conn` has no upgrade request
    /// waiting.
    pub fn accept(
        &self,
        protocol: Option<&str>,
        headers: &[(&str, &[u8])],
        conn: &mut http::Connection,
        out: &mut Vec<u8>,
    ) -> Result<ValidatedUpgrade, http::UsageError> {
        if let Some(p) = protocol {
            if !self.protocols().any(|offered| offered == p) {
                return Err(http::UsageError::InvalidHeader);
            }
        }
        let accept = accept_key(self.key);
        let agreed = self
            .deflate
            .and_then(|config| Some((deflate::accept(self.extensions(), &config)?, config.level)));
        let mut fields: Vec<(&str, &[u8])> = Vec::with_capacity(headers.len() + 4);
        fields.push(("Upgrade", b"websocket"));
        fields.push(("Sec-WebSocket-Accept", &accept));
        if let Some(p) = protocol {
            fields.push(("Sec-WebSocket-Protocol", p.as_bytes()));
        }
        if let Some(((_, answer), _)) = &agreed {
            fields.push(("Sec-WebSocket-Extensions", answer));
        }
        fields.extend_from_slice(headers);
        conn.send_response(101, &fields, ResponseBody::Empty, out)?;
        Ok(ValidatedUpgrade {
            role: Role::Server,
            masks: None,
            deflate: agreed.map(|((agreement, _), level)| (agreement, level)),
        })
    }
}

/// `Upgrade: websocket` and `Connection: upgrade`, as tokens in lists compared
/// case-insensitively (RFC 6455 §4.2.1 items 3-4 for a request, §4.1 checks 2-3 for a response).
fn names_websocket_upgrade(fields: &Fields<'_>) -> bool {
    let upgrade = fields
        .get_all("upgrade")
        .any(|v| list_contains(v, "websocket"));
    let connection = fields
        .get_all("connection")
        .any(|v| list_contains(v, "upgrade"));
    upgrade && connection
}

/// Checks a request against RFC 6455 §4.2.1.
///
/// # Errors
/// A [`HandshakeError`]; answer it with [`reject`].
pub fn check_request<'a>(request: &http::Request<'a>) -> Result<Offer<'a>, HandshakeError> {
    if request.method != "GET" || request.version != Version::Http11 {
        return Err(HandshakeError::NotGet);
    }
    let fields = request.headers();
    if !names_websocket_upgrade(&fields) {
        return Err(HandshakeError::NotUpgrade);
    }
    // §4.2.1 item 6 / §4.4: only version 13.
    let mut versions = fields.get_all("sec-websocket-version");
    match (versions.next(), versions.next()) {
        (Some(b"13"), None) => {}
        _ => return Err(HandshakeError::UnsupportedVersion),
    }
    let mut keys = fields.get_all("sec-websocket-key");
    let (Some(key), None) = (keys.next(), keys.next()) else {
        return Err(HandshakeError::InvalidKey);
    };
    let mut decoded = [0u8; 18];
    match BASE64.decode_slice(key, &mut decoded) {
        Ok(16) => {}
        _ => return Err(HandshakeError::InvalidKey),
    }
    Ok(Offer {
        key,
        fields,
        deflate: None,
    })
}

/// Answers a failed handshake: `426 Upgrade Required` with `Sec-WebSocket-Version: 13` for a
/// version mismatch, `400` otherwise (RFC 6455 §4.2.2, §4.4).
///
/// # Errors
/// [`http::UsageError`] if `conn` has no request waiting.
pub fn reject(
    error: HandshakeError,
    conn: &mut http::Connection,
    out: &mut Vec<u8>,
) -> Result<(), http::UsageError> {
    let status = error.status();
    if status == 426 {
        let fields: [(&str, &[u8]); 2] = [
            ("Sec-WebSocket-Version", b"13"),
            ("Content-Type", b"text/plain"),
        ];
        conn.respond(status, &fields, b"WebSocket version 13 required\n", out)
    } else {
        conn.respond(
            status,
            &[("Content-Type", b"text/plain")],
            b"invalid WebSocket upgrade\n",
            out,
        )
    }
}

/// The client side of the opening handshake (RFC 6455 §4.1).
///
/// It holds the client's [`Entropy`]: the nonce is drawn from it (§4.1: "randomly selected"),
/// and [`ClientHandshake::verify`] hands it on to the [`super::Connection`], which draws a fresh
/// masking key from it for every frame (§5.3). With `std`, pass
/// [`crate::entropy::OsEntropy`].
pub struct ClientHandshake {
    key: [u8; 24],
    /// The permessage-deflate offer made, if any.
    deflate: Option<deflate::ClientConfig>,
    masks: MaskSource,
}

impl core::fmt::Debug for ClientHandshake {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientHandshake")
            .field("key", &core::str::from_utf8(&self.key).unwrap_or_default())
            .field("deflate", &self.deflate)
            .finish_non_exhaustive()
    }
}

impl ClientHandshake {
    /// A handshake whose nonce, and later every masking key, come from `entropy`.
    pub fn new(mut entropy: impl Entropy + Send + 'static) -> Self {
        let mut nonce = [0u8; 16];
        entropy.fill(&mut nonce);
        Self::with_nonce(nonce, entropy)
    }

    /// A handshake with a nonce the caller chose (the RFC's examples, reproducible tests);
    /// the masking keys still come from `entropy`.
    pub fn with_nonce(nonce: [u8; 16], entropy: impl Entropy + Send + 'static) -> Self {
        let mut key = [0u8; 24];
        // 16 bytes always encode to 24 base64 characters.
        let _ = BASE64.encode_slice(nonce, &mut key);
        ClientHandshake {
            key,
            deflate: None,
            masks: Box::new(entropy),
        }
    }

    /// Offer permessage-deflate (RFC 7692 §7.1) as `config` says, and hold the server's answer
    /// to it in [`ClientHandshake::verify`].
    #[cfg(feature = "deflate")]
    #[must_use]
    pub fn with_deflate(mut self, config: deflate::ClientConfig) -> Self {
        self.deflate = Some(config);
        self
    }

    /// The `Sec-WebSocket-Key` value sent.
    pub fn key(&self) -> &[u8; 24] {
        &self.key
    }

    /// Writes the upgrade request on `conn`. `host` is the Host field value, `target` the
    /// request target; `protocols` are offered subprotocols; `headers` are extra fields
    /// (Origin, cookies).
    ///
    /// # Errors
    /// [`http::UsageError`] for an invalid target, protocol name or field.
    pub fn send_request(
        &self,
        host: &str,
        target: &str,
        protocols: &[&str],
        headers: &[(&str, &[u8])],
        conn: &mut client::Connection,
        out: &mut Vec<u8>,
    ) -> Result<(), http::UsageError> {
        if protocols.iter().any(|p| !is_token(p.as_bytes())) {
            return Err(http::UsageError::InvalidHeader);
        }
        let joined = protocols.join(", ");
        let offer = self.deflate.map(|config| config.offer());
        let mut fields: Vec<(&str, &[u8])> = Vec::with_capacity(headers.len() + 7);
        fields.push(("Host", host.as_bytes()));
        fields.push(("Upgrade", b"websocket"));
        fields.push(("Connection", b"Upgrade"));
        fields.push(("Sec-WebSocket-Key", &self.key));
        fields.push(("Sec-WebSocket-Version", b"13"));
        if !protocols.is_empty() {
            fields.push(("Sec-WebSocket-Protocol", joined.as_bytes()));
        }
        if let Some(offer) = &offer {
            fields.push(("Sec-WebSocket-Extensions", offer));
        }
        fields.extend_from_slice(headers);
        conn.send_request("GET", target, &fields, client::RequestBody::Empty, out)
    }

    /// Checks the server's answer (§4.1, the client's checks 1-6). Returns the proof value
    /// (which carries this handshake's entropy on to the connection) and the chosen
    /// subprotocol, if any.
    ///
    /// # Errors
    /// A [`HandshakeError`]: the client must then fail the connection.
    pub fn verify<'a>(
        self,
        response: &client::Response<'a>,
        protocols: &[&str],
    ) -> Result<(ValidatedUpgrade, Option<&'a str>), HandshakeError> {
        if response.status != 101 {
            return Err(HandshakeError::NotSwitching);
        }
        let fields = response.headers();
        if !names_websocket_upgrade(&fields) {
            return Err(HandshakeError::NotUpgrade);
        }
        if fields.get("sec-websocket-accept") != Some(&accept_key(&self.key)[..]) {
            return Err(HandshakeError::WrongAccept);
        }
        let answers = fields.get_all("sec-websocket-extensions");
        let agreed = match &self.deflate {
            None if fields
                .get_all("sec-websocket-extensions")
                .any(|v| !v.is_empty()) =>
            {
                return Err(HandshakeError::UnrequestedExtension);
            }
            None => None,
            Some(config) => deflate::client_validate(answers, config)
                .map_err(|e| match e {
                    deflate::NegotiationError::NotOffered => HandshakeError::UnrequestedExtension,
                    _ => HandshakeError::InvalidExtension,
                })?
                .map(|agreement| (agreement, config.level)),
        };
        let mut chosen = fields.get_all("sec-websocket-protocol");
        let protocol = match (chosen.next(), chosen.next()) {
            (None, _) => None,
            (Some(p), None) => {
                let p = core::str::from_utf8(p).map_err(|_| HandshakeError::UnrequestedProtocol)?;
                if !protocols.contains(&p) {
                    return Err(HandshakeError::UnrequestedProtocol);
                }
                Some(p)
            }
            _ => return Err(HandshakeError::UnrequestedProtocol),
        };
        Ok((
            ValidatedUpgrade {
                role: Role::Client,
                masks: Some(self.masks),
                deflate: agreed,
            },
            protocol,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_rfc6455_1_3_example() {
        assert_eq!(
            &accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn client_key_rfc6455_4_1_example_nonce() {
        let nonce = *b"the sample nonce";
        assert_eq!(
            ClientHandshake::with_nonce(nonce, |_: &mut [u8]| {}).key(),
            b"dGhlIHNhbXBsZSBub25jZQ=="
        );
    }
}
