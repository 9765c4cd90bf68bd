//! Which I/O model a server's workers use ([`IoDriver`]).

use std::io;

/// How a server's workers do their I/O ([`Builder::driver`](super::Builder::driver)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IoDriver {
    /// Readiness: a `mio::Poll` (epoll on Linux) says which sockets can be read or written,
    /// and the worker reads and writes them, one system call each. The default and the
    /// reference; every platform mio supports.
    #[default]
    Epoll,
    /// Completions: the worker submits accepts, receives and sends to a Linux io_uring and
    /// reaps what completed, all of a loop turn's in one system call (feature `uring`, Linux
    /// 6.0 or later).
    Uring,
}

impl IoDriver {
    /// `epoll` or `uring`.
    pub fn name(self) -> &'static str {
        match self {
            IoDriver::Epoll => "epoll",
            IoDriver::Uring => "uring",
        }
    }

    /// The driver `PUSHWIRE_DRIVER` names (`epoll` when it is not set).
    ///
    /// # Errors
    /// The variable names no driver.
    pub fn from_env() -> io::Result<IoDriver> {
        match std::env::var("PUSHWIRE_DRIVER") {
            Err(_) => Ok(IoDriver::Epoll),
            Ok(name) => name.parse(),
        }
    }

    /// Whether this build and this kernel can run the driver (io_uring may be left out of
    /// the build, or refused by `kernel.io_uring_disabled` or a seccomp filter).
    ///
    /// # Errors
    /// Why it cannot.
    pub fn available(self) -> io::Result<()> {
        if self == IoDriver::Epoll {
            return Ok(());
        }
        #[cfg(all(feature = "uring", target_os = "linux"))]
        return super::uring::available()
            .map_err(|why| io::Error::new(io::ErrorKind::Unsupported, why));
        #[cfg(not(all(feature = "uring", target_os = "linux")))]
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the io_uring driver needs Linux and the `uring` feature",
        ))
    }
}

impl std::str::FromStr for IoDriver {
    type Err = io::Error;

    fn from_str(name: &str) -> io::Result<IoDriver> {
        match name {
            "epoll" => Ok(IoDriver::Epoll),
            "uring" | "io_uring" => Ok(IoDriver::Uring),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown I/O driver {other:?}: epoll or uring"),
            )),
        }
    }
}
