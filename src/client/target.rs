//! Where a server is (`http://host:port/base`, `https://…`, and the `ws`/`wss` spellings of the
//! same), and the byte stream to it: TCP, or TLS over TCP.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Why a URL was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Not `http`, `https`, `ws` or `wss`.
    #[error("expected http://, https://, ws:// or wss://")]
    Scheme,
    /// No host, or a port that is not a number from 1 to 65535.
    #[error("expected HOST[:PORT] after the scheme")]
    Authority,
    /// `https` or `wss` in a build without the `tls` feature.
    #[error("this build has no TLS (the `tls` feature)")]
    NoTls,
}

/// A server to connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The host, as written (a name, an IPv4 address, or an IPv6 one without brackets).
    pub host: String,
    /// The port (80 or 443 when the URL names none).
    pub port: u16,
    /// Whether it speaks TLS.
    pub tls: bool,
    /// The path the server's endpoints hang under (`""` for the root; never ends in `/`).
    pub base: String,
}

impl std::str::FromStr for Target {
    type Err = UrlError;

    fn from_str(url: &str) -> Result<Target, UrlError> {
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::Scheme)?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "http" | "ws" => false,
            "https" | "wss" => true,
            _ => return Err(UrlError::Scheme),
        };
        if tls && !cfg!(feature = "tls") {
            return Err(UrlError::NoTls);
        }
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (host, after) = v6.split_once(']').ok_or(UrlError::Authority)?;
                (host, after.strip_prefix(':'))
            }
            None => match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            },
        };
        let port = match port {
            Some(p) => p
                .parse()
                .ok()
                .filter(|&p| p > 0)
                .ok_or(UrlError::Authority)?,
            None if tls => 443,
            None => 80,
        };
        if host.is_empty() {
            return Err(UrlError::Authority);
        }
        Ok(Target {
            host: host.to_string(),
            port,
            tls,
            base: path.trim_end_matches('/').to_string(),
        })
    }
}

impl Target {
    /// The `Host` field's value (RFC 9110 §7.2).
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.tls { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// The URL again (`https://host:port/base`).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority(), self.base)
    }

    /// Connects within `timeout`, with `timeout` as the read and write timeout of the stream.
    ///
    /// # Errors
    /// The name does not resolve, the connection or the TLS handshake failed.
    pub fn connect(&self, tls: Option<&TlsConfig>, timeout: Duration) -> io::Result<Stream> {
        let addrs = (self.host.as_str(), self.port).to_socket_addrs()?;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(tcp) => {
                    tcp.set_nodelay(true)?;
                    tcp.set_read_timeout(Some(timeout))?;
                    tcp.set_write_timeout(Some(timeout))?;
                    return wrap(self, tcp, tls);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// Whom a TLS connection trusts.
#[cfg(feature = "tls")]
pub type TlsConfig = crate::tls::ClientTls;

/// Without the `tls` feature there is nothing to configure.
#[cfg(not(feature = "tls"))]
#[derive(Clone, Debug)]
pub enum TlsConfig {}

#[cfg(feature = "tls")]
fn wrap(target: &Target, tcp: TcpStream, tls: Option<&TlsConfig>) -> io::Result<Stream> {
    if !target.tls {
        return Ok(Stream::Tcp(tcp));
    }
    let default;
    let tls = match tls {
        Some(tls) => tls,
        None => {
            default = crate::tls::ClientTls::webpki_roots();
            &default
        }
    };
    Ok(Stream::Tls(Box::new(tls.connect(&target.host, tcp)?)))
}

#[cfg(not(feature = "tls"))]
fn wrap(_: &Target, tcp: TcpStream, _: Option<&TlsConfig>) -> io::Result<Stream> {
    Ok(Stream::Tcp(tcp))
}

/// The stream to a server.
#[derive(Debug)]
#[non_exhaustive]
pub enum Stream {
    /// Plain TCP.
    Tcp(TcpStream),
    /// TLS over TCP.
    #[cfg(feature = "tls")]
    Tls(Box<crate::tls::TlsStream>),
}

impl Stream {
    /// The TCP socket under it.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Tcp(tcp) => tcp,
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.get_ref(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(tcp) => tcp.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(tcp) => tcp.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(tcp) => tcp.flush(),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_host_a_port_and_a_base_path() {
        let t: Target = "http://127.0.0.1:8080".parse().unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.tls, t.base.as_str()),
            ("127.0.0.1", 8080, false, "")
        );
        let t: Target = "ws://[::1]:9000/push/".parse().unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.base.as_str()),
            ("::1", 9000, "/push")
        );
        assert_eq!(t.authority(), "[::1]:9000");
        let t: Target = "http://example.com".parse().unwrap();
        assert_eq!((t.port, t.authority()), (80, "example.com".to_string()));
        assert_eq!("ftp://x".parse::<Target>(), Err(UrlError::Scheme));
        assert_eq!("http://:80".parse::<Target>(), Err(UrlError::Authority));
        assert_eq!("http://h:0".parse::<Target>(), Err(UrlError::Authority));
        assert_eq!("http://h:99999".parse::<Target>(), Err(UrlError::Authority));
        assert_eq!("localhost".parse::<Target>(), Err(UrlError::Scheme));
    }
}
