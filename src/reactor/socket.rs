//! What a connection reads and writes: a plaintext stream (a TCP socket, or a ring socket on the
//! io_uring driver: [`super::plain`]), TLS over one ([`super::tls`]), or (for tests,
//! [`super::testing`]) an in-memory pipe, each an [`Io`]. The worker's decisions do not depend
//! on which.

use super::io::Io;
use super::pipe::MemSocket;
use super::plain::Plain;
use mio::net::TcpStream;

/// A connection's socket.
#[derive(Debug)]
pub(crate) enum Socket {
    Plain(Plain),
    #[cfg(feature = "tls")]
    Tls(Box<super::tls::TlsSocket>),
    /// An in-memory pipe ([`super::testing::Harness`]).
    Memory(MemSocket),
}

impl Socket {
    /// The TCP socket readiness is registered for (none for a pipe).
    pub fn tcp(&mut self) -> Option<&mut TcpStream> {
        match self {
            Socket::Plain(plain) => plain.tcp(),
            #[cfg(feature = "tls")]
            Socket::Tls(tls) => tls.tcp(),
            Socket::Memory(_) => None,
        }
    }

    /// The stream to read and write.
    pub fn io(&mut self) -> &mut dyn Io {
        match self {
            Socket::Plain(plain) => plain.io(),
            #[cfg(feature = "tls")]
            Socket::Tls(tls) => &mut **tls,
            Socket::Memory(pipe) => pipe,
        }
    }

    pub fn is_tls(&self) -> bool {
        match self {
            #[cfg(feature = "tls")]
            Socket::Tls(_) => true,
            _ => false,
        }
    }

    /// When the TLS handshake must be done, while it lasts.
    pub fn handshake_deadline(&self) -> Option<crate::time::Instant> {
        match self {
            #[cfg(feature = "tls")]
            Socket::Tls(tls) => tls.handshake_deadline(),
            _ => None,
        }
    }

    /// Whether a TLS layer holds records the socket has not taken.
    pub fn holds_output(&self) -> bool {
        match self {
            #[cfg(feature = "tls")]
            Socket::Tls(tls) => tls.holds_output(),
            #[cfg(all(feature = "uring", target_os = "linux"))]
            Socket::Plain(Plain::Ring(ring)) => ring.holds_output(),
            _ => false,
        }
    }
}
