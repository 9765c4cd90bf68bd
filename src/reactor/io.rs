//! The byte stream a connection reads and writes ([`Io`]), as a non-blocking TCP socket
//! offers it; TLS ([`super::tls`]) and the in-memory pipe ([`super::pipe`]) keep its contract.

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
