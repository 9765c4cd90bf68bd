//! # pushwire
//!
//! The four ways a web server pushes data to clients — short polling, long-polling, Server-Sent
//! Events and WebSockets — built from scratch on sans-IO state machines.
//!
//! ## Where to start
//!
//! - **Run a push server**: [`server::HubServer`] is the ready hub — topics served by short
//!   polling, long-polling, Server-Sent Events and WebSocket at once (its module docs list the
//!   endpoints); `cargo run --release` runs the `pushwire` binary: it on 127.0.0.1:8080 with its demo page.
//! - **Write your own server**: implement [`reactor::App`] (answer each request with a
//!   [`reactor::Reply`]: a response, a WebSocket, a stream, or a deferred answer) and run it with
//!   [`reactor::Server::builder`].
//! - **Drive a protocol yourself**: the sans-IO machines — [`http::Connection`],
//!   [`ws::Connection`], [`sse::Parser`], [`longpoll::Parking`], [`hub::Hub`] — under any I/O
//!   you like; the driver loop is below.
//!
//! ```text
//!  examples/ + the demo hub server      chat, dashboard, feed, autobahn testee, demo page
//!  server     the ready hub server, written on the reactor's public API             (std)
//!  reactor    mio loop, slab, timers, write queues; App, Reply, Ctx; upgrades       (std)
//!  ─────────────────────────────────────────────────────────────────────────────────────
//!  hub        topics, sequence numbers, bounded history, subscriber sets            (alloc)
//!  http  ws  sse  longpoll   the sans-IO protocol state machines                    (alloc)
//!  time       a plain `Instant` (monotonic microseconds) passed in by the caller    (core)
//!  entropy    where unpredictable bytes come from (WebSocket client masks, nonces)  (core)
//! ```
//!
//! Everything below the line builds with `--no-default-features` (core + alloc): it reads no
//! clock, opens no socket and spawns nothing, so it runs under any I/O — a blocking thread, an
//! event loop, a fuzzer, a test that passes bytes between two machines in virtual time.
//!
//! ## The driver loop
//!
//! Every machine speaks the same small vocabulary:
//!
//! - `feed(now, input, out)` reads a *prefix* of `input` and returns a `Step`: how many bytes it
//!   consumed and at most one event. Bytes it did not consume stay the caller's; offer them again
//!   with whatever arrives next. Events borrow from `input`, so payloads are never copied.
//! - `feed_eof(now, out)` says the peer closed its side.
//! - `send_*(…, out)` are the application's commands; they append wire bytes to `out`.
//! - `poll_timeout()` is the next absolute deadline; `handle_timeout(now, out)` acts on it
//!   (calling it early, late or twice is harmless).
//! - `is_closed()` says the transport should be closed once `out` is flushed.
//!
//! ## What the peer is owed goes out with the input that owed it
//!
//! One rule holds for every machine here. A reply the protocol obliges the machine to send in
//! answer to input — a WebSocket pong (RFC 6455 §5.5.2), the close frame answering a close
//! (§5.5.1), the close frame that fails a connection (§7.1.7), an HTTP error response
//! (RFC 9112 §2.2, RFC 9110 §15.5) — is written to `out` by the `feed` call that read that
//! input, in input order. Nothing owed to the peer waits in the machine for a later call.
//! Output produced outside `feed` comes only from what the application asked (`send_*`,
//! `respond`) or what time caused (`handle_timeout`: keep-alive pings and comments, timeouts).
//!
//! So it does not matter how often a driver flushes: one that writes `out` after every step and
//! one that writes it once per read put the same bytes on the wire, for any split of the input
//! (`tests/driver_contract.rs` checks this for each machine with both kinds of driver). Every
//! ping gets its own pong, in order; a flood of pings is bounded by the driver's write-queue
//! limit (the reactor stops reading from a connection whose queue is over its limit), never by
//! dropping replies.
//!
//! A driver therefore loops like this:
//!
//! ```
//! use pushwire::http::{Connection, Event};
//! use pushwire::{Instant, Limits};
//!
//! let mut conn = Connection::new(Instant::ZERO, &Limits::default());
//! let mut buffered: Vec<u8> = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(); // from the socket
//! let mut out = Vec::new(); // to the socket
//! let now = Instant::ZERO; // from the caller's clock
//! loop {
//!     let step = conn.feed(now, &buffered, &mut out).expect("a valid request");
//!     let consumed = step.consumed;
//!     let progressed = consumed > 0 || step.event.is_some();
//!     if let Some(Event::End) = step.event {
//!         conn.respond(200, &[], b"Hello, World!", &mut out).unwrap();
//!     }
//!     buffered.drain(..consumed);
//!     if !progressed {
//!         break;
//!     }
//! }
//! // Write `out` to the socket, sleep until `conn.poll_timeout()`, read more, repeat.
//! assert!(out.ends_with(b"Hello, World!"));
//! ```

#![cfg_attr(not(feature = "std"), no_std)]
// No `unsafe` anywhere but the io_uring driver (`reactor::uring`, feature `uring`), which
// allows it for the submissions it hands the kernel and says why each is sound.
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

#[cfg(feature = "std")]
pub mod client;
pub mod entropy;
pub mod http;
pub mod hub;
pub mod json;
pub mod limits;
pub mod longpoll;
#[cfg(feature = "std")]
pub mod reactor;
pub mod resp;
#[cfg(feature = "std")]
pub mod server;
pub mod sse;
pub mod time;
#[cfg(feature = "tls")]
pub mod tls;
pub mod ws;

/// Appends `n` in decimal.
pub(crate) fn push_decimal(out: &mut alloc::vec::Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    out.extend_from_slice(decimal(n, &mut digits));
}

/// `n` in decimal, written at the end of `digits` (20 hold any `u64`).
pub(crate) fn decimal(mut n: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &digits[i..]
}

/// `min(remaining, available)` as a `usize`, for a 64-bit length read off the wire.
pub(crate) fn clamp_len(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |r| r.min(available))
}

pub use limits::Limits;
pub use time::Instant;

/// The README's examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "std"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
