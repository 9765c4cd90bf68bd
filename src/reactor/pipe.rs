//! An in-memory connection: a pipe of bytes in each direction with a socket's contract (a read
//! that finds nothing would block; writes past the pipe's capacity would block; FIN and close
//! on each side). The server's end is a [`super::socket::Socket`] like a TCP one; the client's
//! end is what a test holds ([`super::testing`]).

use super::io::Io;
use super::lock;
use std::io::{self, IoSlice};
use std::sync::{Arc, Mutex};

/// Bytes a pipe holds towards the client before writes would block (the kernel's socket buffer).
pub(crate) const PIPE_CAPACITY: usize = 256 * 1024;

#[derive(Debug, Default)]
pub(crate) struct Pipe {
    pub(crate) to_server: Vec<u8>,
    pub(crate) to_client: Vec<u8>,
    /// The client sent FIN (no more input after `to_server`).
    pub(crate) client_closed: bool,
    /// The server shut down its side, or dropped the connection.
    pub(crate) server_closed: bool,
    /// How many bytes the client reads at most (`None`: everything).
    pub(crate) client_window: Option<usize>,
    /// Input or the client's FIN arrived since the server last heard it was readable
    /// (readiness is edge-triggered, as with epoll's `EPOLLET`).
    pub(crate) readable_edge: bool,
    /// A server write found the pipe full.
    pub(crate) blocked: bool,
    /// Room appeared after a write found the pipe full: the server hears it is writable once.
    pub(crate) writable_edge: bool,
}

/// The server's end of an in-memory connection.
#[derive(Debug)]
pub(crate) struct MemSocket(Arc<Mutex<Pipe>>);

impl MemSocket {
    /// A new pipe: the server's end, and the pipe the client's end is made from.
    pub(crate) fn pair() -> (MemSocket, Arc<Mutex<Pipe>>) {
        let pipe = Arc::new(Mutex::new(Pipe::default()));
        (MemSocket(pipe.clone()), pipe)
    }
}

impl Io for MemSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut pipe = lock(&self.0);
        if pipe.to_server.is_empty() {
            return if pipe.client_closed {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = buf.len().min(pipe.to_server.len());
        buf[..n].copy_from_slice(&pipe.to_server[..n]);
        pipe.to_server.drain(..n);
        Ok(n)
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut pipe = lock(&self.0);
        if pipe.server_closed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let mut room = PIPE_CAPACITY.saturating_sub(pipe.to_client.len());
        if room == 0 {
            pipe.blocked = true;
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut written = 0;
        for buf in bufs {
            let n = buf.len().min(room);
            pipe.to_client.extend_from_slice(&buf[..n]);
            written += n;
            room -= n;
        }
        if room == 0 {
            pipe.blocked = true;
        }
        Ok(written)
    }

    fn shutdown_write(&mut self) {
        lock(&self.0).server_closed = true;
    }
}

impl Drop for MemSocket {
    fn drop(&mut self) {
        lock(&self.0).server_closed = true;
    }
}

/// The client's end of an in-memory connection.
#[derive(Debug, Clone)]
pub struct MemClient {
    pub(crate) pipe: Arc<Mutex<Pipe>>,
    /// The connection's key in the worker's slab.
    pub(crate) key: u64,
}

impl MemClient {
    /// Sends bytes to the server (read at the next [`Harness::turn`](super::testing::Harness::turn)).
    pub fn send(&self, bytes: &[u8]) {
        let mut pipe = lock(&self.pipe);
        pipe.to_server.extend_from_slice(bytes);
        pipe.readable_edge = true;
    }

    /// Takes what the server wrote so far.
    pub fn received(&self) -> Vec<u8> {
        let mut pipe = lock(&self.pipe);
        let take = pipe
            .client_window
            .unwrap_or(usize::MAX)
            .min(pipe.to_client.len());
        let taken: Vec<u8> = pipe.to_client.drain(..take).collect();
        if !taken.is_empty() && std::mem::take(&mut pipe.blocked) {
            pipe.writable_edge = true;
        }
        taken
    }

    /// Bytes written by the server and not yet taken.
    pub fn pending(&self) -> usize {
        lock(&self.pipe).to_client.len()
    }

    /// Stops taking what the server writes (a client that does not read): its pipe fills and
    /// the server's writes would block.
    pub fn stop_reading(&self) {
        lock(&self.pipe).client_window = Some(0);
    }

    /// Sends FIN.
    pub fn close(&self) {
        let mut pipe = lock(&self.pipe);
        pipe.client_closed = true;
        pipe.readable_edge = true;
    }

    /// Whether the server shut down its side or dropped the connection.
    pub fn is_closed(&self) -> bool {
        lock(&self.pipe).server_closed
    }
}
