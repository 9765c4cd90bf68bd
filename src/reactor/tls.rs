//! TLS between the socket and the HTTP machine: rustls's server connection, driven by the same
//! readiness events as a plain socket.
//!
//! Reading pulls records from the socket into rustls, processes them (which also advances the
//! handshake and queues its answers) and hands out plaintext; whatever rustls then has to send
//! (handshake flights, alerts, key updates) goes out at once. Writing encrypts into rustls's
//! record buffer (bounded at 64 KiB by rustls) and sends what the socket takes; the rest is
//! sent when the socket becomes writable, before the connection's own write queue.
//!
//! Under rustls lies a [`Plain`] stream: a TCP socket on the readiness driver, or a ring socket
//! on the io_uring driver, whose sends in flight hold records back exactly as a full socket does.

use super::io::Io;
use super::plain::Plain;
use crate::time::Instant;
use mio::net::TcpStream;
use std::io::{self, IoSlice, Read, Write};
use std::sync::Arc;

#[derive(Debug)]
pub(crate) struct TlsSocket {
    tcp: Plain,
    tls: rustls::ServerConnection,
    /// Our side is done: shut TCP's write side once the last records (`close_notify`) are out.
    shut_after_flush: bool,
    /// When the handshake must be done (`Limits::header_timeout` after accept).
    handshake_deadline: Instant,
}

impl TlsSocket {
    pub fn new(
        tcp: Plain,
        config: Arc<rustls::ServerConfig>,
        handshake_deadline: Instant,
    ) -> io::Result<Self> {
        let tls = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
        Ok(TlsSocket {
            tcp,
            tls,
            shut_after_flush: false,
            handshake_deadline,
        })
    }

    /// The handshake's deadline, while it lasts.
    pub fn handshake_deadline(&self) -> Option<Instant> {
        self.tls.is_handshaking().then_some(self.handshake_deadline)
    }

    /// The TCP socket readiness is registered for (none on the io_uring driver).
    pub fn tcp(&mut self) -> Option<&mut TcpStream> {
        self.tcp.tcp()
    }

    /// Records not yet taken by the socket.
    pub fn holds_output(&self) -> bool {
        self.tls.wants_write()
    }

    /// Sends buffered records until the socket would block; `Ok(true)` when none are left.
    fn flush_records(&mut self) -> io::Result<bool> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.tcp) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        if self.shut_after_flush {
            self.shut_after_flush = false;
            self.tcp.io().shutdown_write();
        }
        Ok(true)
    }

    /// Reads records from the socket and processes them; `Ok(false)` when the socket had none.
    fn pull_records(&mut self) -> io::Result<bool> {
        loop {
            match self.tls.read_tls(&mut self.tcp) {
                // EOF: rustls notes it, and its reader reports it once the plaintext is out.
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        if let Err(e) = self.tls.process_new_packets() {
            // rustls queued the alert that says why (RFC 8446 §6.2): send it, then the worker
            // drops the connection.
            let _ = self.flush_records();
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
        // Handshake flights, alerts, key updates, and plaintext written during the handshake.
        self.flush_records()?;
        Ok(true)
    }
}

impl Io for TlsSocket {
    /// Plaintext until `buf` is full or the socket is drained (so a short read keeps meaning
    /// "nothing left", as on a plain socket); `Ok(0)` at `close_notify` or at TCP's EOF.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        loop {
            let Some(rest) = buf.get_mut(filled..).filter(|r| !r.is_empty()) else {
                return Ok(filled);
            };
            match self.tls.reader().read(rest) {
                Ok(0) => return Ok(filled),
                Ok(n) => {
                    filled += n;
                    continue;
                }
                // TCP ended without `close_notify`: an end all the same; HTTP's own framing
                // tells a complete message from a cut one.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(filled),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if !self.pull_records()? {
                return if filled > 0 {
                    Ok(filled)
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                };
            }
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Ok(0);
        }
        self.flush_records()?;
        let taken = self.tls.writer().write_vectored(bufs)?;
        if taken == 0 {
            // rustls's buffer is full and the socket would block.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.flush_records()?;
        Ok(taken)
    }

    fn shutdown_write(&mut self) {
        self.tls.send_close_notify();
        self.shut_after_flush = true;
        let _ = self.flush_records();
    }

    fn flush_held(&mut self) -> io::Result<bool> {
        self.flush_records()
    }
}
