//! What a connection reads and writes: a TCP socket, TLS over one ([`super::tls`]), or (for
//! tests, [`super::testing`]) an in-memory pipe. The worker's decisions do not depend on which.

use super::pipe::MemSocket;
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
    #[cfg(feature = "tls")]
    Tls(Box<super::tls::TlsSocket>),
    /// An in-memory pipe ([`super::testing::Harness`]).
    Memory(MemSocket),
}

impl Socket {
    /// The TCP socket readiness is registered for (none for a pipe).
    pub fn tcp(&mut self) -> Option<&mut TcpStream> {
        match self {
            Socket::Tcp(tcp) => Some(tcp),
            #[cfg(feature = "tls")]
            Socket::Tls(tls) => Some(tls.tcp()),
            Socket::Memory(_) => None,
        }
    }

    /// The stream to read and write.
    pub fn io(&mut self) -> &mut dyn Io {
        match self {
            Socket::Tcp(tcp) => tcp,
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
            _ => false,
        }
    }
}
