//! A fault-injecting TCP proxy for tests: put between a client and a server (or between the
//! server and `redis-server`), it forwards bytes both ways and, on the test's command, delays
//! them, passes them one byte at a time, holds them, resets the connection after a given number
//! of bytes (in the middle of a head or a frame), or half-closes it.
//!
//! One thread accepts; each connection has a thread per direction. Reads time out every few
//! milliseconds so that a reset one direction decides reaches the other at once.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// What the proxy does to the bytes of one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forwards them as they come.
    Pass,
    /// Holds each read this long before forwarding it.
    Delay(Duration),
    /// Forwards one byte per write, a millisecond apart (no Nagle: one byte per segment).
    Trickle,
    /// Holds everything until the fault changes.
    Stall,
    /// Resets the connection (both sides) once this many bytes have gone this way on it; a
    /// connection opened later gets `step` more bytes than the one before (so resets land at
    /// different places: in a head, in a frame, between events), until `times` resets are done.
    ResetAfter {
        bytes: usize,
        step: usize,
        times: usize,
    },
    /// Forwards this many bytes, then half-closes (FIN) towards the receiver and drops the rest.
    HalfCloseAfter(usize),
}

/// Which way bytes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// From the client to the server.
    Up,
    /// From the server to the client.
    Down,
}

struct State {
    up: Fault,
    down: Fault,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    /// Connections accepted so far.
    accepted: AtomicUsize,
    /// Resets done so far.
    resets: AtomicUsize,
}

/// A running proxy; it stops accepting when dropped (connections end with their peers).
pub struct Proxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// A proxy on an ephemeral loopback port, forwarding to `upstream`.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                up: Fault::Pass,
                down: Fault::Pass,
            }),
            changed: Condvar::new(),
            accepted: AtomicUsize::new(0),
            resets: AtomicUsize::new(0),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (shared.clone(), stop.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if st.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let index = s.accepted.fetch_add(1, Ordering::Relaxed);
                connect_pair(&s, client, server, index);
            }
        });
        Proxy { addr, shared, stop }
    }

    /// Sets what happens to the bytes going `dir` from now on (a held direction resumes).
    pub fn set(&self, dir: Dir, fault: Fault) {
        let mut state = self.shared.state.lock().unwrap();
        match dir {
            Dir::Up => state.up = fault,
            Dir::Down => state.down = fault,
        }
        self.shared.changed.notify_all();
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::Relaxed)
    }

    /// Resets done so far.
    pub fn resets(&self) -> usize {
        self.shared.resets.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "proxy ({} connections, {} resets)",
            self.accepted(),
            self.resets()
        )
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
        self.set(Dir::Up, Fault::Pass);
        self.set(Dir::Down, Fault::Pass);
    }
}

/// One connection through the proxy: a pump each way, sharing whether it was reset.
fn connect_pair(shared: &Arc<Shared>, client: TcpStream, server: TcpStream, index: usize) {
    let dead = Arc::new(AtomicBool::new(false));
    for (from, to, dir) in [(&client, &server, Dir::Up), (&server, &client, Dir::Down)] {
        let (from, to) = (from.try_clone().unwrap(), to.try_clone().unwrap());
        let _ = to.set_nodelay(true);
        let (shared, dead) = (shared.clone(), dead.clone());
        std::thread::spawn(move || {
            let _ = Pump {
                from,
                to,
                dir,
                index,
                sent: 0,
                shared,
                dead,
            }
            .run();
        });
    }
}

struct Pump {
    from: TcpStream,
    to: TcpStream,
    dir: Dir,
    /// The connection's index (which reset offset it gets).
    index: usize,
    sent: usize,
    shared: Arc<Shared>,
    dead: Arc<AtomicBool>,
}

impl Pump {
    fn run(&mut self) -> std::io::Result<()> {
        self.from.set_read_timeout(Some(Duration::from_millis(5)))?;
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if self.dead.load(Ordering::Relaxed) {
                return Ok(());
            }
            let n = match self.from.read(&mut chunk) {
                Ok(0) => {
                    // The sender half-closed: so does the proxy, towards the receiver.
                    let _ = self.to.shutdown(Shutdown::Write);
                    return Ok(());
                }
                Ok(n) => n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    continue;
                }
                Err(e) => {
                    self.kill();
                    return Err(e);
                }
            };
            if !self.forward(&chunk[..n])? {
                return Ok(());
            }
        }
    }

    /// Forwards `bytes` under the current fault; false once this direction is done.
    fn forward(&mut self, bytes: &[u8]) -> std::io::Result<bool> {
        let fault = self.wait_unless_stalled();
        match fault {
            Fault::Pass => self.to.write_all(bytes)?,
            Fault::Delay(d) => {
                std::thread::sleep(d);
                self.to.write_all(bytes)?;
            }
            Fault::Trickle => {
                for b in bytes {
                    self.to.write_all(std::slice::from_ref(b))?;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            Fault::Stall => unreachable!("waited until the stall ended"),
            Fault::ResetAfter {
                bytes: at,
                step,
                times,
            } => {
                let at = at + step * self.index;
                if self.shared.resets.load(Ordering::Relaxed) >= times
                    || self.sent + bytes.len() < at
                {
                    self.to.write_all(bytes)?;
                } else {
                    self.to.write_all(&bytes[..at.saturating_sub(self.sent)])?;
                    self.shared.resets.fetch_add(1, Ordering::Relaxed);
                    self.kill();
                    return Ok(false);
                }
            }
            Fault::HalfCloseAfter(at) => {
                let keep = at.saturating_sub(self.sent).min(bytes.len());
                self.to.write_all(&bytes[..keep])?;
                if self.sent + bytes.len() >= at {
                    self.to.shutdown(Shutdown::Write)?;
                    return Ok(false);
                }
            }
        }
        self.sent += bytes.len();
        Ok(true)
    }

    /// The fault for this direction, once it is not `Stall`.
    fn wait_unless_stalled(&self) -> Fault {
        let mut state = self.shared.state.lock().unwrap();
        loop {
            let fault = match self.dir {
                Dir::Up => state.up,
                Dir::Down => state.down,
            };
            if fault != Fault::Stall {
                return fault;
            }
            state = self.shared.changed.wait(state).unwrap();
        }
    }

    /// Resets both sides: linger 0, so that the last close sends RST instead of FIN.
    fn kill(&self) {
        for s in [&self.from, &self.to] {
            let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
        }
        self.dead.store(true, Ordering::Relaxed);
    }
}
