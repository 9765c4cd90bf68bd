//! What a connection reads and writes: a TCP socket, TLS over one ([`super::tls`]), or (for
//! tests, [`super::testing`]) an in-memory pipe. The worker's decisions do not depend on which.

use mio::net::TcpStream;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;

/// The byte stream under one connection.
///
/// `read` keeps the contract of a non-blocking stream socket under edge-triggered readiness:
/// a read that returns less than the buffer has left nothing behind that a new readiness event
/// would not announce.
pub(crate) trait Io {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Reads into `first`, then (once it is full) into `second`, keeping `read`'s contract for
    /// the two together: one `readv` on a TCP socket.
    fn read_two(&mut self, first: &mut [u8], second: &mut [u8]) -> io::Result<usize> {
        let n = self.read(first)?;
        if n < first.len() {
            return Ok(n);
        }
        match self.read(second) {
            Ok(more) => Ok(n + more),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(n),
            Err(e) => Err(e),
        }
    }
    fn write(&mut self, buf: &[u8]) -> io::Result<usize>;
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    /// Sends FIN: nothing more will be written.
    fn shutdown_write(&mut self);
    /// Writes what the layer holds; `Ok(false)` while the socket cannot take it all.
    fn flush_held(&mut self) -> io::Result<bool> {
        Ok(true)
    }
}

impl Io for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Read::read(self, buf)
    }

    fn read_two(&mut self, first: &mut [u8], second: &mut [u8]) -> io::Result<usize> {
        Read::read_vectored(self, &mut [IoSliceMut::new(first), IoSliceMut::new(second)])
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Write::write(self, buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        Write::write_vectored(self, bufs)
    }

    fn shutdown_write(&mut self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}

/// A connection's socket.
#[derive(Debug)]
pub(crate) enum Socket {
    Tcp(TcpStream),
    /// Boxed: rustls's connection state is large, and plaintext connections should not pay
    /// for it.
    #[cfg(feature = "tls")]
    Tls(Box<super::tls::TlsSocket>),
}

impl Socket {
    /// The TCP socket, for registering with the poll.
    pub fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Socket::Tcp(tcp) => tcp,
            #[cfg(feature = "tls")]
            Socket::Tls(tls) => tls.tcp(),
        }
    }

    fn io(&mut self) -> &mut dyn Io {
        match self {
            Socket::Tcp(tcp) => tcp,
            #[cfg(feature = "tls")]
            Socket::Tls(tls) => &mut **tls,
        }
    }

    /// Whether TLS runs over the TCP socket.
    pub fn is_tls(&self) -> bool {
        match self {
            Socket::Tcp(_) => false,
            #[cfg(feature = "tls")]
            Socket::Tls(_) => true,
        }
    }

    /// When a TLS handshake still under way must be done.
    pub fn handshake_deadline(&self) -> Option<crate::time::Instant> {
        match self {
            Socket::Tcp(_) => None,
            #[cfg(feature = "tls")]
            Socket::Tls(tls) => tls.handshake_deadline(),
        }
    }

    /// Whether the layer over TCP holds output of its own (TLS records written while the
    /// socket was full).
    pub fn holds_output(&self) -> bool {
        match self {
            Socket::Tcp(_) => false,
            #[cfg(feature = "tls")]
            Socket::Tls(tls) => tls.holds_output(),
        }
    }
}

/// A connection's stream: its socket, or the in-memory pipe the worker holds for it under the
/// same key.
pub(crate) fn io_of<'a>(
    socket: &'a mut Option<Socket>,
    memory: &'a mut std::collections::BTreeMap<u64, super::testing::MemSocket>,
    key: u64,
) -> Option<&'a mut dyn Io> {
    match socket {
        Some(socket) => Some(socket.io()),
        None => memory.get_mut(&key).map(|m| m as &mut dyn Io),
    }
}
