//! The client's side: whom to trust, and a blocking TLS stream for `wss://` and `https://`.

use super::{TlsError, certificates, provider, read};
use rustls::pki_types::ServerName;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

/// Which servers a client trusts: Mozilla's root certificates ([`ClientTls::webpki_roots`]) or
/// a CA of your own ([`ClientTls::with_ca_pem`]). The server's certificate is always verified
/// (RFC 5280 path validation, RFC 6125 name check, by rustls and webpki); there is no switch to
/// accept any certificate.
#[derive(Clone, Debug)]
pub struct ClientTls {
    config: Arc<rustls::ClientConfig>,
}

impl ClientTls {
    /// Trust the roots Mozilla's CA program includes (the `webpki-roots` crate).
    pub fn webpki_roots() -> Self {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Self::with_roots(roots)
    }

    /// Trust the CA certificates in `pem` (and nothing else).
    ///
    /// # Errors
    /// Invalid PEM, no certificate, or one webpki cannot use as a trust anchor.
    pub fn with_ca_pem(pem: &[u8]) -> Result<Self, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in certificates(pem, "CA")? {
            roots.add(cert)?;
        }
        Ok(Self::with_roots(roots))
    }

    /// [`ClientTls::with_ca_pem`] from a file.
    ///
    /// # Errors
    /// As `with_ca_pem`, or a file that cannot be read.
    pub fn with_ca_file(path: impl AsRef<Path>) -> Result<Self, TlsError> {
        Self::with_ca_pem(&read(path.as_ref())?)
    }

    fn with_roots(roots: rustls::RootCertStore) -> Self {
        // `ring` supports every default protocol version.
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|_| rustls::ClientConfig::builder());
        let mut config = builder.with_root_certificates(roots).with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        ClientTls {
            config: Arc::new(config),
        }
    }

    /// Makes every connection a full handshake: no TLS 1.3 session tickets or TLS 1.2 session
    /// ids are kept or offered (RFC 8446 §2.2). For measuring servers; clients normally resume.
    pub fn without_resumption(self) -> Self {
        let mut config = (*self.config).clone();
        config.resumption = rustls::client::Resumption::disabled();
        ClientTls {
            config: Arc::new(config),
        }
    }

    /// The rustls configuration (for clients on other I/O).
    pub fn rustls_config(&self) -> Arc<rustls::ClientConfig> {
        self.config.clone()
    }

    /// Runs the handshake over `stream` with `server_name` (the host of the URL: a DNS name or
    /// an IP address) and returns the encrypted stream.
    ///
    /// # Errors
    /// An invalid name, the handshake failed (an untrusted certificate, a name mismatch), or
    /// the socket did.
    pub fn connect(&self, server_name: &str, mut stream: TcpStream) -> io::Result<TlsStream> {
        let host = server_name
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(server_name);
        let name = ServerName::try_from(host.to_string()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{host}: invalid server name"),
            )
        })?;
        let mut conn =
            rustls::ClientConnection::new(self.config.clone(), name).map_err(io::Error::other)?;
        while conn.is_handshaking() {
            conn.complete_io(&mut stream)?;
        }
        Ok(TlsStream(rustls::StreamOwned::new(conn, stream)))
    }
}

/// A blocking client TLS stream: plaintext in and out, records on the socket.
#[derive(Debug)]
pub struct TlsStream(rustls::StreamOwned<rustls::ClientConnection, TcpStream>);

impl TlsStream {
    /// The socket under it (for timeouts and options).
    pub fn get_ref(&self) -> &TcpStream {
        self.0.get_ref()
    }

    /// Sends `close_notify` (RFC 8446 §6.1): the end of what this side writes.
    ///
    /// # Errors
    /// The socket failed.
    pub fn close_notify(&mut self) -> io::Result<()> {
        self.0.conn.send_close_notify();
        self.0.conn.complete_io(&mut self.0.sock).map(drop)
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.read(buf) {
            // A peer that closes TCP without `close_notify` (RFC 8446 §6.1 allows a truncation
            // attack there); HTTP/1.1 framing still tells a complete message from a cut one.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
            other => other,
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
