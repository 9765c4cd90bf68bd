//! `pushwire cert`: a test certificate authority and a server certificate it signed, for
//! trying https and wss locally (ECDSA P-256). Not for production: there, a CA such as Let's
//! Encrypt signs. The private key is written readable by its owner only (0600).

use crate::opts::{self, Flag};
use std::path::Path;
use std::process::ExitCode;

const FLAGS: &[Flag] = &[
    Flag(
        "--out",
        Some("DIR"),
        "where to write ca.pem, cert.pem and key.pem (required)",
    ),
    Flag(
        "--key",
        Some("PATH"),
        "certify this PEM (PKCS #8) private key instead of a new P-256 one",
    ),
    Flag(
        "--name",
        Some("NAME"),
        "a DNS name or IP address it is for (repeatable; default localhost and 127.0.0.1)",
    ),
];

pub fn main(args: &[String]) -> ExitCode {
    let usage = "pushwire cert: a test CA and a server certificate for https and wss\n\n\
                 Usage: pushwire cert --out DIR [--name NAME]...";
    let opts = match opts::parse(usage, FLAGS, args) {
        Ok(opts) => opts,
        Err(code) => return code,
    };
    let Some(out) = opts.text("--out") else {
        return opts::fail("--out DIR is required", 2);
    };
    let mut names: Vec<String> = opts.texts("--name").into_iter().map(String::from).collect();
    if names.is_empty() {
        names = vec!["localhost".into(), "127.0.0.1".into()];
    }
    let key = match opts.text("--key").map(std::fs::read_to_string).transpose() {
        Ok(key) => key,
        Err(e) => return opts::fail(&format!("--key: {e}"), 2),
    };
    match make(Path::new(out), &names, key.as_deref()) {
        Ok(()) => {
            println!(
                "{out}: ca.pem, cert.pem (for {}), key.pem",
                names.join(", ")
            );
            ExitCode::SUCCESS
        }
        Err(e) => opts::fail(&e.to_string(), 1),
    }
}

fn make(out: &Path, names: &[String], key: Option<&str>) -> Result<(), Box<dyn std::error::Error>> {
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
    let mut leaf = rcgen::CertificateParams::new(names.to_vec())?;
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, names[0].as_str());
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf.signed_by(&key, &ca, &ca_key)?;
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("ca.pem"), ca.pem())?;
    std::fs::write(out.join("cert.pem"), leaf.pem())?;
    write_private(&out.join("key.pem"), key.serialize_pem().as_bytes())?;
    Ok(())
}

/// Writes a private key readable and writable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode through `open`: set it.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)
}
