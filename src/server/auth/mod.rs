//! Who may publish and subscribe: signed access tokens, allowed origins, limits per client.
//!
//! - [`jwt`] (feature `auth`): HS256 JSON Web Tokens naming the topics their holder may follow
//!   and publish to, checked in constant time before anything in them is read.
//! - [`scope`]: topic selectors and what a token grants.

#[cfg(feature = "auth")]
pub mod jwt;
pub mod origin;
mod policy;
pub mod rate;
pub mod scope;
pub mod source;

pub use policy::Policy;
#[cfg(feature = "auth")]
pub use policy::Secret;
