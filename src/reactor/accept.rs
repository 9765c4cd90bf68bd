//! Taking connections: accepting them (a listener's readiness on epoll, its multishot accept
//! on io_uring), refusing them past the server's limits, recording and registering them.

use super::app::App;
use super::conn::Conn;
use super::io_driver::IoDriver;
use super::plain::Plain;
use super::record::Record;
use super::socket::Socket;
use super::worker::Running;
use mio::{Interest, Token};
use std::io;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Connections accepted past `Limits::max_connections` only to be answered `503`; beyond them,
/// a flood is closed without an answer.
const REFUSAL_MARGIN: usize = 64;

impl<A: App> Running<A> {
    /// Takes the connections waiting on listener `which` (on the io_uring driver: arms its
    /// multishot accept, unless it is armed).
    pub(super) fn accept(&mut self, which: usize) {
        if self.driver == IoDriver::Uring {
            return self.arm_accept(which);
        }
        loop {
            let Some(listener) = self.listeners.get(which) else {
                return;
            };
            let (tcp, peer) = match listener.socket.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) =>
                {
                    continue;
                }
                Err(_) => {
                    // EMFILE / ENFILE / ENOBUFS: no descriptor or memory for a new connection.
                    // The connection stays in the backlog; try again shortly instead of
                    // spinning on an accept that keeps failing.
                    self.pause_accepting();
                    break;
                }
            };
            let _ = tcp.set_nodelay(true);
            let deadline = self.core.env().now + self.core.env().limits.header_timeout;
            let Ok(socket) = listener.wrap(Plain::Tcp(tcp), deadline) else {
                continue;
            };
            self.take(which, socket, peer, |_| {});
        }
    }

    /// Accepting fails for want of descriptors or memory: it is tried again in 100 ms.
    pub(super) fn pause_accepting(&mut self) {
        let now = self.core.env().now;
        self.accept_paused_until = Some(now + Duration::from_millis(100));
    }

    #[cfg(all(feature = "uring", target_os = "linux"))]
    fn arm_accept(&mut self, which: usize) {
        use std::os::fd::AsRawFd;
        let Some(listener) = self.listeners.get(which) else {
            return;
        };
        if self.accept_armed.get(which).copied().unwrap_or(false) {
            return;
        }
        let fd = listener.socket.as_raw_fd();
        super::uring::arm_accept(which, fd);
        if self.accept_armed.len() <= which {
            self.accept_armed.resize(which + 1, false);
        }
        self.accept_armed[which] = true;
    }

    #[cfg(not(all(feature = "uring", target_os = "linux")))]
    fn arm_accept(&mut self, _: usize) {
        unreachable!("the io_uring driver is refused when it is not built (Builder::build)");
    }

    #[cfg(all(feature = "uring", target_os = "linux"))]
    /// Listener `which`'s multishot accept ended (it is armed again, or the pause ends).
    pub(super) fn accept_ended(&mut self, which: usize) {
        if let Some(armed) = self.accept_armed.get_mut(which) {
            *armed = false;
        }
    }

    /// Admits a connection accepted on listener `which`: counted, refused past the limits,
    /// recorded, and registered; `inserted` hears its key as soon as it has one.
    pub(super) fn take(
        &mut self,
        which: usize,
        socket: Socket,
        peer: std::net::SocketAddr,
        inserted: impl FnOnce(u64),
    ) {
        let env = self.core.env();
        let open = env.open.fetch_add(1, Ordering::Relaxed) + 1;
        let overloaded = if open > env.limits.max_connections {
            Some("too many connections: the server is at its limit")
        } else if env.memory.is_over() {
            Some("the server is at its memory budget")
        } else {
            None
        };
        if overloaded.is_some() && open > env.limits.max_connections + REFUSAL_MARGIN {
            // A flood past the margin is closed without an answer: answering costs a
            // descriptor and a connection's state for a moment each.
            env.open.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let mut conn = Conn::new(socket, env.now, &env.limits);
        conn.set_listener(u8::try_from(which).expect("at most 255 listeners (Builder::build)"));
        let proxied = env.trusted.iter().any(|c| c.contains(peer.ip()));
        if env.record {
            let mut record = Record::new(peer, env.now);
            record.via = proxied.then_some(peer.ip());
            conn.set_record(record);
        }
        let key = self.core.insert(conn);
        inserted(key);
        self.admit(key, peer, proxied, overloaded);
    }

    /// Registers a connection just accepted, and answers it at once if it is refused: the
    /// server over its limits (`503`), its address over its own (`429`).
    fn admit(
        &mut self,
        key: u64,
        peer: std::net::SocketAddr,
        proxied: bool,
        overloaded: Option<&str>,
    ) {
        let registry = self.poll.registry();
        self.core.with(key, |turn| {
            let (conn, env) = turn.parts();
            let registered = conn.socket_mut().tcp().map_or(Ok(()), |tcp| {
                registry.register(
                    tcp,
                    Token(key as usize),
                    Interest::READABLE | Interest::WRITABLE,
                )
            });
            if registered.is_err() {
                return turn.close(super::record::End::Reset);
            }
            if let Some(why) = overloaded {
                let refusal = super::per_address::refusal_at_accept(503, why, &env.date());
                return turn.refuse(503, &refusal);
            }
            // Behind a trusted proxy, the client is counted at its first request.
            if let (Some(table), false) = (env.per_address.clone(), proxied) {
                if !table.admit(peer.ip()) {
                    let date = env.date();
                    let refusal = super::per_address::refusal(table.limit(), &date);
                    return turn.refuse(429, &refusal);
                }
                if let Some(record) = conn.record_mut() {
                    record.counted = Some(peer.ip());
                }
            }
        });
    }
}
