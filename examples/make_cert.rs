//! Makes a test certificate authority and a server certificate it signed, for trying https and
//! wss locally (ECDSA P-256). Not for production: there, a CA such as Let's Encrypt signs.
//!
//! ```sh
//! cargo run --example make_cert -- --out target/tls          # ca.pem, cert.pem, key.pem
//! cargo run --release --example demo -- --tls-cert target/tls/cert.pem --tls-key target/tls/key.pem
//! curl --cacert target/tls/ca.pem https://localhost:8443/plaintext
//! ```
//!
//! The certificate names `localhost` and `127.0.0.1` unless `--name` says otherwise. `--key`
//! certifies a key you made instead of a new P-256 one, e.g. an RSA-2048 key from
//! `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem`.

#[path = "common/args.rs"]
mod args;

use std::path::Path;

fn main() {
    let args = args::Args::parse(
        "make_cert: a test CA and a server certificate for https and wss\n\nUsage: make_cert --out DIR [--name NAME]...",
        &[
            args::value(
                "--out",
                "DIR",
                "where to write ca.pem, cert.pem and key.pem (required)",
            ),
            args::value(
                "--key",
                "PATH",
                "certify this PEM (PKCS #8) private key instead of a new ECDSA P-256 one",
            ),
            args::repeated(
                "--name",
                "NAME",
                "a DNS name or IP address the certificate is for (repeatable; default localhost and 127.0.0.1)",
            ),
        ],
    );
    let Some(out) = args.text("--out") else {
        args::bad("--out DIR is required");
    };
    let mut names: Vec<String> = args
        .texts("--name")
        .into_iter()
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        names = vec!["localhost".into(), "127.0.0.1".into()];
    }
    let key = args.text("--key").map(|path| {
        std::fs::read_to_string(path).unwrap_or_else(|e| args::bad(format!("--key {path}: {e}")))
    });
    if let Err(e) = make(Path::new(out), names, key.as_deref()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn make(
    out: &Path,
    names: Vec<String>,
    key: Option<&str>,
) -> Result<(), Box<dyn std::error::Error>> {
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "pushwire test CA");
    let ca = ca.self_signed(&ca_key)?;
    let key = match key {
        Some(pem) => rcgen::KeyPair::from_pem(pem)?,
        None => rcgen::KeyPair::generate()?,
    };
    let mut leaf = rcgen::CertificateParams::new(names.clone())?;
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, names[0].as_str());
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf.signed_by(&key, &ca, &ca_key)?;
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("ca.pem"), ca.pem())?;
    std::fs::write(out.join("cert.pem"), leaf.pem())?;
    std::fs::write(out.join("key.pem"), key.serialize_pem())?;
    println!(
        "{}: ca.pem, cert.pem (for {}), key.pem",
        out.display(),
        names.join(", ")
    );
    Ok(())
}
