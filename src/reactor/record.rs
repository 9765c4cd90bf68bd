//! How a connection ended, and what the server remembers of it for the report the application
//! gets when it does ([`Ended`], through [`App::ended`](super::App::ended)): enough for one log
//! line per connection and for the metrics of connections closed by reason.

use super::reply::ConnId;
use crate::time::Instant;
use core::time::Duration;
use std::net::SocketAddr;

/// Why a connection ended: the first decisive cause (a WebSocket closed by the peer ends with
/// the peer's EOF later, and is still `PeerClosed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum End {
    /// The peer closed: its EOF, or its WebSocket close frame (RFC 6455 §5.5.1).
    PeerClosed,
    /// The socket failed: a reset, a broken pipe.
    Reset,
    /// A deadline passed: the request head's, the idle keep-alive's, a slow body's, the TLS
    /// handshake's, or the closing handshake's.
    Timeout,
    /// Its output stayed over `Limits::write_queue_bytes` for `slow_consumer_timeout`, or the
    /// application cut it off for not keeping up.
    SlowConsumer,
    /// The peer broke the protocol and was answered (an HTTP error status, a WebSocket close
    /// code such as 1002 or 1007).
    ProtocolError,
    /// The server ended it: the application's close, `Connection: close`, an event stream the
    /// application ended.
    Server,
    /// Refused at accept: over the per-address limit (`429`).
    Refused,
    /// A graceful shutdown of the server.
    Shutdown,
}

impl End {
    /// A short name for logs and metric labels: `peer_closed`, `reset`, `timeout`,
    /// `slow_consumer`, `protocol_error`, `server`, `refused`, `shutdown`.
    pub fn as_str(self) -> &'static str {
        match self {
            End::PeerClosed => "peer_closed",
            End::Reset => "reset",
            End::Timeout => "timeout",
            End::SlowConsumer => "slow_consumer",
            End::ProtocolError => "protocol_error",
            End::Server => "server",
            End::Refused => "refused",
            End::Shutdown => "shutdown",
        }
    }

    /// Every value, in order.
    pub const ALL: [End; 8] = [
        End::PeerClosed,
        End::Reset,
        End::Timeout,
        End::SlowConsumer,
        End::ProtocolError,
        End::Server,
        End::Refused,
        End::Shutdown,
    ];
}

/// A connection that ended.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Ended {
    /// The connection (no longer valid).
    pub conn: ConnId,
    /// The listener it came through (its index in [`Server::listeners`](super::Server::listeners)).
    pub listener: usize,
    /// What the application marked it as ([`Ctx::set_tag`](super::Ctx::set_tag); 0 if never).
    pub tag: u8,
    /// Why it ended.
    pub end: End,
    /// What a server that records connections
    /// ([`Builder::record_connections`](super::Builder::record_connections)) remembers of it.
    pub record: Option<Summary>,
}

/// What a recording server remembers of a connection.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Summary {
    /// The client's address: the socket's peer, or the address trusted proxies vouch for.
    pub peer: SocketAddr,
    /// How long it was open.
    pub duration: Duration,
    /// Bytes read from it (TLS records decrypted, so the bytes of HTTP and WebSocket).
    pub bytes_in: u64,
    /// Bytes written to it.
    pub bytes_out: u64,
    /// Requests it sent (a WebSocket's upgrade request counts as one).
    pub requests: u32,
    /// The status of the last response sent on it, if any.
    pub status: Option<u16>,
    /// The WebSocket close code that ended it (ours, or the peer's), if any.
    pub close_code: Option<u16>,
}

/// The record a recording server keeps per connection (boxed in the connection: one pointer
/// when it does not record).
#[derive(Clone, Debug)]
pub(crate) struct Record {
    pub peer: SocketAddr,
    pub opened: Instant,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub requests: u32,
    pub status: u16,
    pub close_code: u16,
    /// The address counted for `Limits::max_connections_per_address`, if counted.
    pub counted: Option<std::net::IpAddr>,
    /// The trusted proxy it came from: the client's address is then read from each request's
    /// forwarding fields.
    pub via: Option<std::net::IpAddr>,
}

impl Record {
    pub fn new(peer: SocketAddr, opened: Instant) -> Self {
        Record {
            peer,
            opened,
            bytes_in: 0,
            bytes_out: 0,
            requests: 0,
            status: 0,
            close_code: 0,
            counted: None,
            via: None,
        }
    }

    pub fn summary(&self, now: Instant) -> Summary {
        Summary {
            peer: self.peer,
            duration: now.saturating_duration_since(self.opened),
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            requests: self.requests,
            status: (self.status != 0).then_some(self.status),
            close_code: (self.close_code != 0).then_some(self.close_code),
        }
    }
}
