//! The server's side: certificates from PEM, chosen by the name the client asks for.

use super::{TlsError, certificates, pem_error, provider, read};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

/// How the reactor's TLS listeners authenticate themselves: a certificate chain and its private
/// key, optionally more of them chosen by the client's Server Name Indication (RFC 6066 §3).
/// The server offers ALPN (RFC 7301) `http/1.1` only, and TLS 1.3 and 1.2.
#[derive(Clone, Debug)]
pub struct ServerTls {
    inner: Inner,
}

#[derive(Clone, Debug)]
enum Inner {
    Certificates(Certificates),
    Rustls(Arc<rustls::ServerConfig>),
}

/// A default certificate, and others by server name: shared by every clone of the
/// [`ServerTls`] and by the listeners' configuration, so that [`ServerTls::reload_pem_files`]
/// reaches the handshakes that follow.
#[derive(Debug, Clone)]
struct Certificates(Arc<RwLock<Keys>>);

#[derive(Debug)]
struct Keys {
    default: Arc<CertifiedKey>,
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl Certificates {
    fn new(default: Arc<CertifiedKey>) -> Self {
        Certificates(Arc::new(RwLock::new(Keys {
            default,
            by_name: HashMap::new(),
        })))
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Keys> {
        self.0.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let keys = self.0.read().unwrap_or_else(|p| p.into_inner());
        // rustls hands over the name as sent; DNS names compare without case (RFC 4343).
        let chosen = hello
            .server_name()
            .and_then(|name| keys.by_name.get(&name.to_ascii_lowercase()));
        Some(chosen.unwrap_or(&keys.default).clone())
    }
}

impl ServerTls {
    /// A certificate chain (PEM `CERTIFICATE` blocks, leaf first) and its private key (PEM,
    /// PKCS #8, PKCS #1 or SEC 1), in memory.
    ///
    /// # Errors
    /// No certificate, no key, invalid PEM, or a key rustls cannot use or that does not belong
    /// to the certificate.
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<Self, TlsError> {
        let default = certified_key(cert_chain, key, "certificate", "key")?;
        Ok(ServerTls {
            inner: Inner::Certificates(Certificates::new(default)),
        })
    }

    /// [`ServerTls::from_pem`] from two files.
    ///
    /// # Errors
    /// As `from_pem`, or a file that cannot be read.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, TlsError> {
        let default = certified_key_from_files(cert_chain.as_ref(), key.as_ref())?;
        Ok(ServerTls {
            inner: Inner::Certificates(Certificates::new(default)),
        })
    }

    /// Replaces the default certificate with the chain and key in these files, for every
    /// handshake from now on (connections already open keep theirs): what a server does on
    /// `SIGHUP` after a renewal. Nothing changes if they do not parse or do not match.
    ///
    /// # Errors
    /// As [`ServerTls::from_pem_files`]; or a `ServerTls` made with
    /// [`ServerTls::from_rustls`], whose certificates are its own.
    pub fn reload_pem_files(
        &self,
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<(), TlsError> {
        let Inner::Certificates(certs) = &self.inner else {
            return Err(TlsError::ServerName(
                "the rustls configuration chooses its own certificates".into(),
            ));
        };
        let default = certified_key_from_files(cert_chain.as_ref(), key.as_ref())?;
        certs.write().default = default;
        Ok(())
    }

    /// Serves this certificate to clients that ask for `server_name` (SNI); others get the
    /// default one.
    ///
    /// # Errors
    /// As `from_pem`; a `ServerTls` made with [`ServerTls::from_rustls`] takes no names.
    pub fn with_server_name(
        mut self,
        server_name: &str,
        cert_chain: &[u8],
        key: &[u8],
    ) -> Result<Self, TlsError> {
        let Inner::Certificates(certs) = &mut self.inner else {
            return Err(TlsError::ServerName(format!(
                "{server_name}: the rustls configuration chooses its own certificates"
            )));
        };
        if rustls::pki_types::DnsName::try_from(server_name).is_err() {
            return Err(TlsError::ServerName(server_name.to_string()));
        }
        let key = certified_key(cert_chain, key, server_name, server_name)?;
        certs
            .write()
            .by_name
            .insert(server_name.to_ascii_lowercase(), key);
        Ok(self)
    }

    /// A rustls configuration of your own, used as it is (set its ALPN to `http/1.1` or none:
    /// the reactor speaks HTTP/1.1 only).
    pub fn from_rustls(config: Arc<rustls::ServerConfig>) -> Self {
        ServerTls {
            inner: Inner::Rustls(config),
        }
    }

    /// The rustls configuration the listeners use.
    ///
    /// # Errors
    /// rustls refused the protocol versions of its provider (not expected with `ring`).
    pub fn rustls_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        match &self.inner {
            Inner::Rustls(config) => Ok(config.clone()),
            Inner::Certificates(certs) => {
                let mut config = rustls::ServerConfig::builder_with_provider(provider())
                    .with_safe_default_protocol_versions()?
                    .with_no_client_auth()
                    .with_cert_resolver(Arc::new(certs.clone()));
                config.alpn_protocols = vec![b"http/1.1".to_vec()];
                Ok(Arc::new(config))
            }
        }
    }
}

/// [`certified_key`] from two files, named in errors.
fn certified_key_from_files(cert_chain: &Path, key: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    certified_key(
        &read(cert_chain)?,
        &read(key)?,
        &cert_chain.display().to_string(),
        &key.display().to_string(),
    )
}

/// A chain and its key, checked to belong together.
fn certified_key(
    cert_chain: &[u8],
    key: &[u8],
    cert_what: &str,
    key_what: &str,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let certs = certificates(cert_chain, cert_what)?;
    let key = match PrivateKeyDer::from_pem_slice(key) {
        Ok(key) => key,
        Err(rustls::pki_types::pem::Error::NoItemsFound) => {
            return Err(TlsError::NoPrivateKey(key_what.to_string()));
        }
        Err(e) => return Err(pem_error(key_what, e)),
    };
    let signing = provider().key_provider.load_private_key(key)?;
    let certified = CertifiedKey::new(certs, signing);
    certified.keys_match()?;
    Ok(Arc::new(certified))
}
