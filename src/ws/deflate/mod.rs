//! permessage-deflate, the WebSocket compression extension (RFC 7692).
//!
//! - Negotiation (§7.1), always available as pure functions: a server picks an offer with
//!   [`accept`], a client builds its offer with [`ClientConfig::offer`] and checks the answer
//!   with [`client_validate`]. Both produce an [`Agreement`].
//! - The frame path (§6, §7.2), with the `deflate` feature: a connection whose handshake agreed
//!   compresses the messages it sends (RSV1 set on the first frame only), inflates those the
//!   peer compressed, and counts the message limit in inflated bytes. Control frames are never
//!   compressed; RSV1 on a continuation or control frame fails the connection with 1002;
//!   invalid DEFLATE data fails it with 1007.
//!
//! Memory: the inflater (about 43 KiB) exists from the first compressed message received and is
//! dropped after each message when the peer resets its context; the compressor (about 300 KiB
//! while it lives) exists only while sending unless context takeover was agreed for our side,
//! which the server's default configuration refuses. An idle connection with the defaults
//! holds no codec.

#[cfg(feature = "deflate")]
pub(crate) mod codec;
#[cfg(feature = "deflate")]
pub(crate) mod message;
mod negotiate;

#[cfg(feature = "deflate")]
pub use message::{SharedKey, compress_shared};

pub use negotiate::{
    Agreement, ClientConfig, DEFAULT_LEVEL, NAME, NegotiationError, ServerConfig, accept,
    client_validate,
};

#[cfg(all(test, feature = "deflate"))]
mod checker;
#[cfg(all(test, feature = "deflate"))]
mod conn_tests;
#[cfg(all(test, feature = "deflate"))]
mod tests;
