//! The ready hub server, written on the public API of the reactor below it: topics served by
//! short polling, long-polling, Server-Sent Events and WebSocket at once.
//!
//! The application interface it implements ([`App`], [`Reply`], [`Response`], [`Ctx`]) lives in
//! [`crate::reactor`] and is re-exported here, so `pushwire::server::App` names the same trait.

pub mod auth;
pub mod hub_server;
pub mod metrics;
pub mod query;
#[cfg(feature = "redis")]
pub mod redis;

pub use crate::reactor::{App, ConnId, Ctx, Message, Reply, Response};
pub use hub_server::HubServer;
