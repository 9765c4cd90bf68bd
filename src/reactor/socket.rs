//! What a connection reads and writes: a TCP socket, or (for tests, [`super::testing`]) an
//! in-memory pipe. The worker's decisions do not depend on which.

use mio::net::TcpStream;
use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;

/// The byte stream under one connection.
pub(crate) trait Io {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    fn write(&mut self, buf: &[u8]) -> io::Result<usize>;
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    /// Sends FIN: nothing more will be written.
    fn shutdown_write(&mut self);
}

impl Io for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Read::read(self, buf)
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

/// A connection's stream: its socket, or the in-memory pipe the worker holds for it under the
/// same key.
pub(crate) fn io_of<'a>(
    socket: &'a mut Option<TcpStream>,
    memory: &'a mut std::collections::BTreeMap<u64, super::testing::MemSocket>,
    key: u64,
) -> Option<&'a mut dyn Io> {
    match socket {
        Some(socket) => Some(socket),
        None => memory.get_mut(&key).map(|m| m as &mut dyn Io),
    }
}
