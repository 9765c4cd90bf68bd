//! WebSocket (RFC 6455), sans-IO, for both roles.
//!
//! - [`handshake`]: the opening handshake. A server checks an HTTP request with
//!   [`check_request`] and answers `101` with [`Offer::accept`], which yields the
//!   [`ValidatedUpgrade`] that [`Connection::new`] requires. A client builds its request with
//!   [`ClientHandshake`] and checks the answer with [`ClientHandshake::verify`].
//! - [`frame`]: header encoding and decoding, opcodes, close codes (§5.2, §7.4).
//! - [`Connection`]: framing, masking, fragmentation, UTF-8, ping/pong, the closing handshake,
//!   limits (§5-§8, §10.4).
//! - [`deflate`]: permessage-deflate (RFC 7692): negotiation always, and with the `deflate`
//!   feature the compressed frame path.
//!
//! Replies follow the crate's rule ([crate#what-the-peer-is-owed-goes-out-with-the-input-that-owed-it]):
//! the pong for each ping and the close reply are written by the `feed` call that read them. A
//! client's masking keys come from the [`crate::entropy::Entropy`] its handshake was given.
//!
//! Extensions: without an agreed extension every RSV bit is refused with 1002. With
//! permessage-deflate agreed, RSV1 is allowed on the first frame of a data message (never on a
//! continuation or control frame); payload bytes of such a message go through the inflater
//! before UTF-8 validation, and message limits count inflated bytes.

mod close_code;
mod closing;
mod connection;
pub mod deflate;
mod error;
pub mod frame;
pub mod handshake;
mod mask;
#[cfg(test)]
mod tests;
mod utf8;

pub use close_code::CloseCode;
pub use connection::{Connection, Event, MessageKind, Step};
pub use error::{HandshakeError, PeerError, UsageError};
pub use frame::{Header, OpCode};
pub use handshake::{
    ClientHandshake, Offer, Role, ValidatedUpgrade, accept_key, check_request, reject,
};
pub use mask::apply_mask;
pub use utf8::{InvalidUtf8, Utf8Validator};
