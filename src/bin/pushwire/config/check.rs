//! What a configuration must hold together: values in their formats, settings that need one
//! another, the listeners it makes, and the files it names (read now, so that a bad one stops
//! the start rather than the first https client).

use super::{Error, Loaded};
use pushwire::http::forwarded::Cidr;
use pushwire::server::auth::Policy;
use pushwire::server::auth::jwt::Verifier;
use pushwire::server::redis::RedisUrl;
use pushwire::tls::ServerTls;
use std::net::{IpAddr, SocketAddr};

/// The addresses a configuration listens on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listeners {
    pub plain: Vec<SocketAddr>,
    pub tls: Vec<SocketAddr>,
    pub metrics: Option<SocketAddr>,
}

impl Listeners {
    /// Whether every address is a loopback one.
    pub fn loopback_only(&self) -> bool {
        self.plain
            .iter()
            .chain(&self.tls)
            .all(|a| a.ip().is_loopback())
    }
}

/// Checks `loaded`; the listeners it makes.
pub fn check(loaded: &Loaded) -> Result<Listeners, Error> {
    let c = &loaded.config;
    let err = |name: &str, message: String| Error::new(&loaded.origin(name), name, message);
    if !matches!(
        c.log_level.as_str(),
        "error" | "warn" | "info" | "debug" | "trace" | "off"
    ) {
        let why = format!(
            "expected error, warn, info, debug, trace or off, got {:?}",
            c.log_level
        );
        return Err(err("log_level", why));
    }
    if !matches!(c.log_format.as_str(), "logfmt" | "json") {
        return Err(err(
            "log_format",
            format!("expected logfmt or json, got {:?}", c.log_format),
        ));
    }
    // The driver named, and one this kernel runs (io_uring may be refused).
    if let Err(e) = c
        .driver
        .parse::<pushwire::reactor::IoDriver>()
        .and_then(|d| d.available())
    {
        return Err(err("driver", e.to_string()));
    }
    if c.threads > 1024 {
        return Err(err(
            "threads",
            format!("at most 1024 worker threads, got {}", c.threads),
        ));
    }
    if c.publish_rate != usize::MAX && u32::try_from(c.publish_rate).is_err() {
        return Err(err("publish_rate", "at most 4294967295 a second".into()));
    }
    let listeners = listeners(loaded)?;
    for cidr in &c.trusted_proxies {
        if let Err(e) = cidr.parse::<Cidr>() {
            return Err(err(
                "trusted_proxies",
                format!("{cidr:?}: {e} (an address or a block such as 10.0.0.0/8)"),
            ));
        }
    }
    for origin in &c.allow_origins {
        if let Err(e) = Policy::open().allow_origin(origin) {
            return Err(err("allow_origins", e.to_string()));
        }
    }
    if let Some(url) = &c.redis {
        if let Err(e) = url.parse::<RedisUrl>() {
            return Err(err("redis", e.to_string()));
        }
    }
    check_access(loaded, &listeners)?;
    check_files(loaded)?;
    Ok(listeners)
}

/// The listeners: `listen` when given (an empty list: no plaintext listener), else
/// `bind:port`; `tls_listen`, else `bind:tls_port` with a certificate.
fn listeners(loaded: &Loaded) -> Result<Listeners, Error> {
    let c = &loaded.config;
    let addr = |name: &str, text: &str| {
        text.parse::<SocketAddr>().map_err(|_| {
            Error::new(
                &loaded.origin(name),
                name,
                format!("expected IP:PORT such as 127.0.0.1:8080 or [::1]:8080, got {text:?}"),
            )
        })
    };
    let bind: IpAddr = c.bind.parse().map_err(|_| {
        Error::new(
            &loaded.origin("bind"),
            "bind",
            format!("expected an IP address, got {:?}", c.bind),
        )
    })?;
    // `listen` and `bind`/`port` name the same thing: the later layer wins; one layer may not
    // give both.
    let shorthand = ["bind", "port"]
        .into_iter()
        .filter(|n| loaded.given(n))
        .max_by_key(|n| loaded.origin(n).rank());
    let plain = match (loaded.given("listen"), shorthand) {
        (true, Some(short)) if loaded.origin(short).rank() == loaded.origin("listen").rank() => {
            let why =
                format!("given with {short} in the same place: give listen, or bind and port");
            return Err(Error::new(&loaded.origin("listen"), "listen", why));
        }
        (true, Some(short)) if loaded.origin(short).rank() > loaded.origin("listen").rank() => {
            vec![SocketAddr::new(bind, c.port)]
        }
        (true, _) => c
            .listen
            .iter()
            .map(|a| addr("listen", a))
            .collect::<Result<_, _>>()?,
        (false, _) => vec![SocketAddr::new(bind, c.port)],
    };
    let tls = if !c.tls_listen.is_empty() {
        c.tls_listen
            .iter()
            .map(|a| addr("tls_listen", a))
            .collect::<Result<_, _>>()?
    } else if c.tls_cert.is_some() {
        vec![SocketAddr::new(bind, c.tls_port)]
    } else {
        Vec::new()
    };
    match (&c.tls_cert, &c.tls_key) {
        (Some(_), None) => return Err(err(loaded, "tls_cert", "needs tls_key")),
        (None, Some(_)) => return Err(err(loaded, "tls_key", "needs tls_cert")),
        (None, None) if !c.tls_listen.is_empty() => {
            return Err(err(loaded, "tls_listen", "needs tls_cert and tls_key"));
        }
        (None, None) if loaded.given("tls_port") => {
            return Err(err(loaded, "tls_port", "needs tls_cert and tls_key"));
        }
        _ => {}
    }
    if plain.is_empty() && tls.is_empty() {
        return Err(err(loaded, "listen", "no address to listen on"));
    }
    let metrics = c
        .metrics_listen
        .as_deref()
        .map(|a| addr("metrics_listen", a))
        .transpose()?;
    if let Some(m) = metrics {
        if plain.iter().chain(&tls).any(|a| a == &m) {
            return Err(err(
                loaded,
                "metrics_listen",
                "must differ from the other listeners",
            ));
        }
    }
    Ok(Listeners {
        plain,
        tls,
        metrics,
    })
}

fn err(loaded: &Loaded, name: &str, message: &str) -> Error {
    Error::new(&loaded.origin(name), name, message)
}

/// Tokens: settings that need a secret, and an open server only on loopback addresses.
fn check_access(loaded: &Loaded, listeners: &Listeners) -> Result<(), Error> {
    let c = &loaded.config;
    if c.token_secret_file.is_none() {
        for name in ["audience", "token_cookie"] {
            if loaded.given(name) {
                return Err(err(loaded, name, "needs token_secret_file"));
            }
        }
        if !listeners.loopback_only() && !c.insecure {
            let name =
                if listeners.tls.iter().any(|a| !a.ip().is_loopback()) && !loaded.given("listen") {
                    "tls_listen"
                } else if loaded.given("listen") {
                    "listen"
                } else {
                    "bind"
                };
            let why = "a non-loopback address without token_secret_file: anyone who reaches it \
                       could publish and read every topic (set insecure = true to do it anyway)";
            return Err(Error::new(&loaded.origin(name), name, why));
        }
    }
    Ok(())
}

/// The secret and the certificate, read and checked.
fn check_files(loaded: &Loaded) -> Result<(), Error> {
    let c = &loaded.config;
    if let Some(path) = &c.token_secret_file {
        verifier(path, c.audience.as_deref()).map_err(|m| err(loaded, "token_secret_file", &m))?;
    }
    if let (Some(cert), Some(key)) = (&c.tls_cert, &c.tls_key) {
        ServerTls::from_pem_files(cert, key)
            .map_err(|e| err(loaded, "tls_cert", &e.to_string()))?;
    }
    Ok(())
}

/// The verifier of the secret in `path` (a final newline is not part of it).
pub fn verifier(path: &str, audience: Option<&str>) -> Result<Verifier, String> {
    let secret = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let secret = secret.strip_suffix(b"\n").unwrap_or(&secret);
    let secret = secret.strip_suffix(b"\r").unwrap_or(secret);
    let verifier = Verifier::new(secret).map_err(|e| format!("{path}: {e}"))?;
    Ok(match audience {
        Some(aud) => verifier.audience(aud),
        None => verifier,
    })
}
