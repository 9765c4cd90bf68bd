//! `GET` anything → `Hello, World!` over TLS, on tokio's current-thread runtime with
//! tokio-rustls: the configuration pushwire's `ServerTls` builds (ring, TLS 1.3 and 1.2, ALPN
//! `http/1.1`), so the two differ only in what drives rustls.
//!
//!     tls_peer --port P --cert cert.pem --key key.pem

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .unwrap_or_else(|| panic!("{name} is required"))
            .clone()
    };
    let certs = CertificateDer::pem_file_iter(arg("--cert"))
        .expect("cert file")
        .collect::<Result<Vec<_>, _>>()
        .expect("certificates");
    let key = PrivateKeyDer::from_pem_file(arg("--key")).expect("key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("certificate and key");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let port = arg("--port");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
            loop {
                let (tcp, _) = listener.accept().await?;
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut buf = vec![0u8; 4096];
                    let mut used = 0;
                    loop {
                        let Ok(n) = tls.read(&mut buf[used..]).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        used += n;
                        while let Some(end) = buf[..used].windows(4).position(|w| w == b"\r\n\r\n") {
                            buf.copy_within(end + 4..used, 0);
                            used -= end + 4;
                            let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!";
                            if tls.write_all(answer).await.is_err() {
                                return;
                            }
                        }
                        if used == buf.len() {
                            return;
                        }
                    }
                });
            }
        })
}
