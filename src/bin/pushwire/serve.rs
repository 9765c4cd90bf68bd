//! `pushwire serve`: the configuration read and checked, the hub server built from it, and the
//! process's life — signals, the graceful drain, reloads.
//!
//! - `SIGTERM` / `SIGINT`: `/ready` answers `503` at once; after `drain_delay` the listeners
//!   close and every client is told where to resume (an event stream gets `retry:` and ends, a
//!   WebSocket is closed `1001` with its cursor, a parked poll is answered with its
//!   `X-Cursor`); in-flight responses finish. The process exits 0 once the last connection is
//!   gone, or after `shutdown_timeout`. A second signal exits at once (status 1).
//! - `SIGHUP`: the TLS certificate and key and the token secret are read again from their
//!   files; connections stay open, new handshakes get the new certificate. A file that does not
//!   parse leaves the old one in place and is logged.

use crate::cli;
use crate::config::{self, Listeners, Loaded};
use crate::logger;
use pushwire::reactor::{Builder, Handle, Server};
use pushwire::server::HubServer;
use pushwire::server::auth::rate::Rate;
use pushwire::server::auth::{Policy, Secret};
use pushwire::server::hub_server::{Lifecycle, Notice, tick_interval};
use pushwire::tls::ServerTls;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The demo page, embedded in the binary (no build step, no CDN).
const PAGE: &[u8] = include_bytes!("page.html");

/// Runs `pushwire serve` with `args`.
pub fn main(args: &[String]) -> ExitCode {
    let (loaded, serve) = match configure(args, std::env::vars()) {
        Ok(configured) => configured,
        Err(e) => {
            eprintln!("pushwire: {e}");
            return ExitCode::from(2);
        }
    };
    if serve.help {
        print!("{}", cli::usage());
        return ExitCode::SUCCESS;
    }
    let listeners = match config::check(&loaded) {
        Ok(listeners) => listeners,
        Err(e) => {
            eprintln!("pushwire: {e}");
            return ExitCode::from(2);
        }
    };
    if serve.check {
        print!("{}", config::render(&loaded));
        println!("# listeners: {}", describe(&listeners));
        return ExitCode::SUCCESS;
    }
    let format = match loaded.config.log_format.as_str() {
        "json" => logger::Format::Json,
        _ => logger::Format::Logfmt,
    };
    logger::install(&loaded.config.log_level, format);
    match run(&loaded, &listeners) {
        Ok(code) => code,
        Err(e) => {
            log::error!("failed error={:?}", e.to_string());
            eprintln!("pushwire: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The configuration: defaults, the file, the environment, the flags.
pub fn configure(
    args: &[String],
    vars: impl Iterator<Item = (String, String)>,
) -> Result<(Loaded, cli::Serve), config::Error> {
    let vars: Vec<(String, String)> = vars.collect();
    let mut loaded = Loaded::default();
    // The file named by `--config` (or PUSHWIRE_CONFIG) is the lowest layer but one.
    let mut probe = Loaded::default();
    let flags = cli::parse(args, &mut probe)?;
    let path = flags.config.clone().or_else(|| {
        vars.iter()
            .find(|(k, _)| k == "PUSHWIRE_CONFIG")
            .map(|(_, v)| v.clone())
    });
    if let Some(path) = path {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            let origin = config::Origin::File {
                path: path.clone(),
                line: 0,
            };
            config::Error::new(&origin, "", format!("cannot read it: {e}"))
        })?;
        config::read_file(&mut loaded, &path, &text)?;
    }
    let unknown = config::read_env(&mut loaded, vars.into_iter())?;
    for var in unknown {
        eprintln!("pushwire: {var}: not a setting; ignored");
    }
    let serve = cli::parse(args, &mut loaded)?;
    Ok((loaded, serve))
}

/// `http://a, https://b, metrics http://c`.
fn describe(listeners: &Listeners) -> String {
    let mut all: Vec<String> = listeners
        .plain
        .iter()
        .map(|a| format!("http://{a}"))
        .collect();
    all.extend(listeners.tls.iter().map(|a| format!("https://{a}")));
    if let Some(m) = listeners.metrics {
        all.push(format!("metrics http://{m}"));
    }
    all.join(", ")
}

/// What the signal loop holds of the running server: its handle and readiness, the drain's
/// timing, and what `SIGHUP` reloads.
pub struct Live {
    pub handle: Handle<Notice>,
    pub lifecycle: Arc<Lifecycle>,
    pub drain_delay: Duration,
    pub shutdown_timeout: Duration,
    /// The certificate and the files it is read from.
    tls: Option<(ServerTls, String, String)>,
    /// The token verifier, its secret's file, and the audience.
    secret: Option<(Secret, String, Option<String>)>,
}

impl Live {
    /// `SIGHUP`: the certificate and the secret, read again; a file that does not parse
    /// leaves the old one in place.
    pub fn reload(&self) {
        if let Some((tls, cert, key)) = &self.tls {
            match tls.reload_pem_files(cert, key) {
                Ok(()) => log::info!("reloaded what=tls_certificate path={cert:?}"),
                Err(e) => log::error!(
                    "reload_failed what=tls_certificate error={:?}",
                    e.to_string()
                ),
            }
        }
        if let Some((secret, path, audience)) = &self.secret {
            match config::verifier(path, audience.as_deref()) {
                Ok(verifier) => {
                    secret.replace(verifier);
                    log::info!("reloaded what=token_secret path={path:?}");
                }
                Err(e) => log::error!("reload_failed what=token_secret error={e:?}"),
            }
        }
    }

    /// When a drain that began at `since` must be over, whatever the workers do.
    pub fn hard_deadline(&self, since: Instant) -> Instant {
        since + self.drain_delay + self.shutdown_timeout + Duration::from_secs(2)
    }
}

fn run(loaded: &Loaded, listeners: &Listeners) -> std::io::Result<ExitCode> {
    let c = &loaded.config;
    let demo = c.demo_page.unwrap_or_else(|| listeners.loopback_only());
    let policy = policy(loaded);
    let secret = policy.secret();
    let page: &'static [u8] = if demo { PAGE } else { b"" };
    let mut hub = HubServer::new(c.limits.clone(), page).with_policy(policy);
    if demo {
        hub = hub.with_wire_view(crate::wire::DemoWire);
    }
    let tls = match (&c.tls_cert, &c.tls_key) {
        (Some(cert), Some(key)) => {
            let tls = ServerTls::from_pem_files(cert, key).map_err(std::io::Error::other)?;
            Some((tls, cert.clone(), key.clone()))
        }
        _ => None,
    };
    let (builder, metrics_index) = builder(loaded, listeners, tls.as_ref().map(|t| t.0.clone()));
    if let Some(index) = metrics_index {
        hub = hub.with_admin_listener(index);
    }
    let lifecycle = hub.lifecycle();
    let link = c.redis.as_ref().map(|url| {
        let mut url: pushwire::server::redis::RedisUrl =
            url.parse().expect("checked by config::check");
        url.config.wait_replicas = u32::try_from(c.redis_wait_replicas).unwrap_or(u32::MAX);
        pushwire::server::redis::Link::new(url, c.limits.history_events)
    });
    if let Some(link) = &link {
        hub = hub.with_redis(link.clone());
    }
    let server = builder.build(hub)?;
    let handle = server.handle();
    if let Some(link) = &link {
        link.start(handle.clone())?;
        log::info!("broker kind=redis addr={}", link.addr());
    }
    let urls: Vec<String> = server
        .listeners()
        .iter()
        .map(|(a, tls)| format!("{}://{a}/", if *tls { "https" } else { "http" }))
        .collect();
    // Signals are caught from before the first line says the server listens: a supervisor
    // that stops it at once still gets a drain, not the default action.
    let signals = crate::signals::catch()?;
    for url in &urls {
        log::info!("listening url={url} driver={}", loaded.config.driver);
    }
    println!("pushwire: listening on {}", urls.join(" "));
    let running = server.start()?;
    let live = Live {
        handle,
        lifecycle,
        drain_delay: c.drain_delay,
        shutdown_timeout: c.shutdown_timeout,
        tls,
        secret: secret
            .zip(c.token_secret_file.clone())
            .map(|(s, p)| (s, p, c.audience.clone())),
    };
    crate::signals::wait(signals, &live, running)
}

/// The reactor's builder for `listeners`, and the index of the metrics listener.
fn builder(
    loaded: &Loaded,
    listeners: &Listeners,
    tls: Option<ServerTls>,
) -> (Builder, Option<usize>) {
    let c = &loaded.config;
    let mut builder = Server::builder()
        .limits(c.limits.clone())
        .tick(tick_interval(&c.limits))
        .shutdown_timeout(c.shutdown_timeout)
        .record_connections(matches!(c.log_level.as_str(), "info" | "debug" | "trace"))
        .trusted_proxies(
            c.trusted_proxies
                .iter()
                .map(|p| p.parse().expect("checked")),
        );
    if c.threads > 0 {
        builder = builder.threads(c.threads as usize);
    }
    builder = builder.driver(c.driver.parse().expect("checked with the configuration"));
    if c.ws_deflate {
        builder = builder.ws_deflate(pushwire::ws::deflate::ServerConfig::default());
    }
    // The first address is `bind`: plaintext when there is one, else the first TLS one.
    let (first, rest_plain, rest_tls) = match listeners.plain.split_first() {
        Some((first, rest)) => (*first, rest, &listeners.tls[..]),
        None => (listeners.tls[0], &[][..], &listeners.tls[1..]),
    };
    builder = builder.bind(first);
    for addr in rest_plain {
        builder = builder.listen(*addr);
    }
    if let Some(tls) = tls {
        builder = builder.tls(tls);
        for (i, addr) in rest_tls.iter().enumerate() {
            builder = if i == 0 && !listeners.plain.is_empty() {
                builder.bind_tls(*addr)
            } else {
                builder.listen_tls(*addr)
            };
        }
    }
    let count = listeners.plain.len() + listeners.tls.len();
    match listeners.metrics {
        Some(addr) => (builder.listen(addr), Some(count)),
        None => (builder, None),
    }
}

/// The access policy the configuration asks for (its values were checked).
fn policy(loaded: &Loaded) -> Policy {
    let c = &loaded.config;
    let mut policy = Policy::open();
    if let Some(path) = &c.token_secret_file {
        let verifier = config::verifier(path, c.audience.as_deref()).expect("checked");
        policy = policy.tokens(verifier);
    }
    if let Some(name) = &c.token_cookie {
        policy = policy.cookie(name);
    }
    for origin in &c.allow_origins {
        policy = policy.allow_origin(origin).expect("checked");
    }
    if c.publish_rate != usize::MAX {
        let n = u32::try_from(c.publish_rate).expect("checked");
        policy = policy.publish_rate(Rate {
            per_second: n,
            burst: n,
        });
    }
    policy
}

/// How long the signal loop sleeps between looks while nothing happens.
pub const TICK: Duration = Duration::from_millis(200);
