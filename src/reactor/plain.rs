//! A plaintext byte stream as a listener hands it over: a TCP socket on the readiness driver,
//! or a ring socket on the io_uring driver. A connection speaks over it directly, or TLS runs
//! over it ([`super::tls`], through the `Read`/`Write` rustls asks for).

use super::io::Io;
use mio::net::TcpStream;
use std::io::{self, IoSlice, Read, Write};

#[derive(Debug)]
pub(crate) enum Plain {
    Tcp(TcpStream),
    #[cfg(all(feature = "uring", target_os = "linux"))]
    Ring(super::uring::RingSocket),
}

impl Plain {
    /// The TCP socket readiness is registered for (none on the io_uring driver).
    pub fn tcp(&mut self) -> Option<&mut TcpStream> {
        match self {
            Plain::Tcp(tcp) => Some(tcp),
            #[cfg(all(feature = "uring", target_os = "linux"))]
            Plain::Ring(_) => None,
        }
    }

    /// The stream, as the connection reads and writes it.
    pub fn io(&mut self) -> &mut dyn Io {
        match self {
            Plain::Tcp(tcp) => tcp,
            #[cfg(all(feature = "uring", target_os = "linux"))]
            Plain::Ring(ring) => ring,
        }
    }
}

impl Read for Plain {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.io().read(buf)
    }
}

impl Write for Plain {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.io().write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.io().write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
