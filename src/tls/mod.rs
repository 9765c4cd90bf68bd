//! TLS (RFC 8446, and RFC 5246 for TLS 1.2 clients) for the reactor and the clients, with
//! [rustls](https://docs.rs/rustls).
//!
//! TLS is one more layer between the socket and the HTTP machine: rustls's connection is itself
//! a sans-IO machine (ciphertext in with `read_tls`, records processed by
//! `process_new_packets`, ciphertext out with `write_tls`), so the reactor drives it with the
//! same readiness events as a plain socket and nothing above it changes. The handshake counts
//! against [`Limits::header_timeout`](crate::Limits::header_timeout): a client that opens TCP and
//! never finishes the handshake is cut off like one that never finishes its request head.
//!
//! - Serving: [`ServerTls`] (certificate chain and key from PEM, ALPN `http/1.1`, optional
//!   certificates chosen by SNI), given to
//!   [`Builder::tls`](crate::reactor::Builder::tls).
//! - Connecting: [`ClientTls`] (Mozilla's roots, or a CA of your own) for `wss://` and `https://`.
//!
//! ```no_run
//! use pushwire::reactor::{NoApp, Server};
//! use pushwire::tls::ServerTls;
//!
//! let tls = ServerTls::from_pem_files("cert.pem", "key.pem")?;
//! let server = Server::builder()
//!     .bind("0.0.0.0:8080") // plaintext
//!     .tls(tls)
//!     .bind_tls("0.0.0.0:8443") // https and wss
//!     .build(NoApp)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod server;

pub use client::{ClientTls, TlsStream};
pub use server::ServerTls;

/// Why a TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// What reading it said.
        source: std::io::Error,
    },
    /// The PEM text was not valid (RFC 7468).
    #[error("{what}: not valid PEM: {reason}")]
    Pem {
        /// Which input.
        what: String,
        /// What was wrong.
        reason: String,
    },
    /// No `CERTIFICATE` block in the certificate input.
    #[error("{0}: no certificate found")]
    NoCertificate(String),
    /// No private key block (`PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`) in the key input.
    #[error("{0}: no private key found")]
    NoPrivateKey(String),
    /// A server name that is neither a DNS name nor an IP address.
    #[error("invalid server name: {0}")]
    ServerName(String),
    /// rustls refused the certificate, the key, or their combination.
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
}

/// The crypto provider every configuration here is built with (`ring`), so the choice does not
/// depend on which providers the application's other dependencies happen to enable.
fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

fn pem_error(what: &str, e: rustls::pki_types::pem::Error) -> TlsError {
    match e {
        rustls::pki_types::pem::Error::Io(source) => TlsError::File {
            path: what.to_string(),
            source,
        },
        other => TlsError::Pem {
            what: what.to_string(),
            reason: other.to_string(),
        },
    }
}

/// Certificates from PEM text (`what` names the input in errors).
fn certificates(
    pem: &[u8],
    what: &str,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, TlsError> {
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(what, e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(what.to_string()));
    }
    Ok(certs)
}

/// Reads a file for a PEM input.
fn read(path: &std::path::Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::File {
        path: path.display().to_string(),
        source,
    })
}
