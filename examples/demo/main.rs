//! The ready hub server: the demo page and one topic model served by short polling,
//! long-polling, Server-Sent Events and WebSocket at once.
//!
//! ```sh
//! cargo run --release --example demo            # then open http://127.0.0.1:8080
//! cargo run --release --example demo -- --port 9000 --threads 2
//! # with access tokens (see examples/mint_token.rs) and a page on another origin:
//! cargo run --release --example demo -- --token-secret-file secret --allow-origin https://app.example
//! ```
//!
//! On the loopback address without a secret the server is open, as a demo is. Bound to any
//! other address it refuses to start without `--token-secret-file`, unless told `--insecure`.

use pushwire::Limits;
use pushwire::reactor::Server;
use pushwire::server::HubServer;
use pushwire::server::auth::Policy;
use pushwire::server::auth::rate::Rate;
use pushwire::server::hub_server::tick_interval;
use std::net::IpAddr;

#[path = "../common/args.rs"]
mod args;
mod wire;

/// The demo page, embedded in the binary (no build step, no CDN).
const PAGE: &[u8] = include_bytes!("page.html");

const ABOUT: &str =
    "demo: the ready hub server (embedded hub) and its demo page\n\nUsage: demo [OPTIONS]";

fn main() -> std::io::Result<()> {
    let flags = [
        args::value("--port", "N", "port, 1-65535 (default 8080)"),
        args::value("--bind", "IP", "address to listen on (default 127.0.0.1)"),
        args::value("--threads", "N", "worker threads (default: one per core)"),
        args::value(
            "--token-secret-file",
            "PATH",
            "require HS256 tokens signed with this file's bytes (>= 32, a final newline is not part of it)",
        ),
        args::value("--audience", "AUD", "tokens must name this audience (aud)"),
        args::value(
            "--token-cookie",
            "NAME",
            "cookie carrying the token (default pushwire_token)",
        ),
        args::repeated(
            "--allow-origin",
            "ORIGIN",
            "a page origin allowed to use the server from a browser (repeatable)",
        ),
        args::value(
            "--publish-rate",
            "N",
            "publishes per second per WebSocket and per token",
        ),
        args::value(
            "--redis",
            "URL",
            "share topics with other nodes through Redis: redis://[user:pass@]host:port[/db] (or PUSHWIRE_REDIS)",
        ),
        args::value(
            "--max-connections-per-ip",
            "N",
            "answer 429 to a client address past N open connections",
        ),
        args::value(
            "--tls-cert",
            "PATH",
            "serve https and wss too, with this PEM certificate chain (leaf first)",
        ),
        args::value("--tls-key", "PATH", "the PEM private key of --tls-cert"),
        args::value(
            "--tls-port",
            "N",
            "port for https and wss, beside --port for plaintext (default 8443)",
        ),
        args::switch(
            "--no-ws-deflate",
            "do not agree to WebSocket compression (permessage-deflate, RFC 7692)",
        ),
        args::switch(
            "--insecure",
            "allow a non-loopback address without a token secret",
        ),
    ];
    let args = args::Args::parse(ABOUT, &flags);
    let port = args.port("--port", 8080, false);
    let ip: IpAddr = args.get("--bind", IpAddr::from([127, 0, 0, 1]));
    let policy = policy(&args, ip);
    let mut limits = Limits::default();
    if let Some(n) = args.count("--max-connections-per-ip") {
        limits.max_connections_per_address = n;
    }
    let mut builder = Server::builder()
        .bind((ip, port))
        .limits(limits.clone())
        .tick(tick_interval(&limits));
    if let Some(threads) = args.count("--threads") {
        builder = builder.threads(threads);
    }
    // permessage-deflate without context takeover: every event is compressed once per worker
    // and the same bytes go to every follower that agreed the same window.
    #[cfg(feature = "deflate")]
    if !args.switch("--no-ws-deflate") {
        builder = builder.ws_deflate(pushwire::ws::deflate::ServerConfig::default());
    }
    #[cfg(feature = "tls")]
    if let Some(config) = tls(&args) {
        let tls_port = args.port("--tls-port", 8443, false);
        builder = builder.tls(config).bind_tls((ip, tls_port));
    }
    #[cfg(not(feature = "tls"))]
    tls(&args);
    let hub = HubServer::new(limits.clone(), PAGE)
        .with_wire_view(wire::DemoWire)
        .with_policy(policy);
    let redis = redis_url(&args);
    #[cfg(not(feature = "redis"))]
    let _ = redis;
    #[cfg(feature = "redis")]
    let (hub, link) = match redis {
        Some(url) => {
            let link = pushwire::server::redis::Link::new(url, limits.history_events);
            (hub.with_redis(link.clone()), Some(link))
        }
        None => (hub, None),
    };
    let server = args::listening(format!("{ip}:{port}"), builder.build(hub));
    #[cfg(feature = "redis")]
    if let Some(link) = link {
        link.start(server.handle())?;
        // Requests wait in the listen backlog meanwhile, rather than meet a `503`.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while !link.is_up() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        if link.is_up() {
            println!(
                "pushwire demo: topics shared through Redis at {}",
                link.addr()
            );
        } else {
            eprintln!(
                "pushwire demo: Redis at {} does not answer yet; publishes get 503 until it does",
                link.addr()
            );
        }
    }
    println!("pushwire demo: open http://{}/", server.local_addr());
    #[cfg(feature = "tls")]
    if let Some(addr) = server.tls_addr() {
        println!("pushwire demo: open https://{addr}/");
    }
    server.run()
}

/// The TLS configuration `--tls-cert` and `--tls-key` ask for; exits with status 2 on a bad
/// one.
#[cfg(feature = "tls")]
fn tls(args: &args::Args) -> Option<pushwire::tls::ServerTls> {
    let fail = |message: String| -> ! { args::bad(message) };
    match (args.text("--tls-cert"), args.text("--tls-key")) {
        (Some(cert), Some(key)) => Some(
            pushwire::tls::ServerTls::from_pem_files(cert, key)
                .unwrap_or_else(|e| fail(format!("--tls-cert/--tls-key: {e}"))),
        ),
        (None, None) if args.text("--tls-port").is_some() => {
            fail("--tls-port needs --tls-cert and --tls-key".into())
        }
        (None, None) => None,
        _ => fail("--tls-cert and --tls-key go together".into()),
    }
}

#[cfg(not(feature = "tls"))]
fn tls(args: &args::Args) {
    if ["--tls-cert", "--tls-key", "--tls-port"]
        .iter()
        .any(|f| args.text(f).is_some())
    {
        args::bad("this build has no TLS (the `tls` feature)");
    }
}

/// The access policy the flags ask for; exits with status 2 on a bad one.
fn policy(args: &args::Args, ip: IpAddr) -> Policy {
    let fail = |message: String| -> ! { args::bad(message) };
    let mut policy = Policy::open();
    let secret = args.text("--token-secret-file");
    if let Some(path) = secret {
        policy = tokens(policy, path, args).unwrap_or_else(|e| fail(e));
    } else if args.text("--audience").is_some() || args.text("--token-cookie").is_some() {
        fail("--audience and --token-cookie need --token-secret-file".into());
    }
    if let Some(name) = args.text("--token-cookie") {
        policy = policy.cookie(name);
    }
    for origin in args.texts("--allow-origin") {
        policy = policy
            .allow_origin(origin)
            .unwrap_or_else(|e| fail(format!("--allow-origin: {e}")));
    }
    if let Some(n) = args.count("--publish-rate") {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        policy = policy.publish_rate(Rate {
            per_second: n,
            burst: n,
        });
    }
    if !ip.is_loopback() && secret.is_none() && !args.switch("--insecure") {
        fail(format!(
            "refusing to serve {ip} without --token-secret-file: anyone who reaches it could \
             publish and read every topic (give --insecure to do it anyway)"
        ));
    }
    policy
}

#[cfg(feature = "auth")]
fn tokens(policy: Policy, path: &str, args: &args::Args) -> Result<Policy, String> {
    use pushwire::server::auth::jwt::Verifier;
    let secret = std::fs::read(path).map_err(|e| format!("--token-secret-file {path}: {e}"))?;
    let secret = secret.strip_suffix(b"\n").unwrap_or(&secret);
    let secret = secret.strip_suffix(b"\r").unwrap_or(secret);
    let mut verifier =
        Verifier::new(secret).map_err(|e| format!("--token-secret-file {path}: {e}"))?;
    if let Some(audience) = args.text("--audience") {
        verifier = verifier.audience(audience);
    }
    Ok(policy.tokens(verifier))
}

#[cfg(not(feature = "auth"))]
fn tokens(_: Policy, _: &str, _: &args::Args) -> Result<Policy, String> {
    Err("--token-secret-file: this build has no `auth` feature".into())
}

/// `--redis`, or the `PUSHWIRE_REDIS` environment variable; exits with status 2 on a bad URL.
#[cfg(feature = "redis")]
fn redis_url(args: &args::Args) -> Option<pushwire::server::redis::RedisUrl> {
    let env = std::env::var("PUSHWIRE_REDIS")
        .ok()
        .filter(|v| !v.is_empty());
    let url = args.text("--redis").map(String::from).or(env)?;
    match url.parse() {
        Ok(url) => Some(url),
        Err(e) => args::bad(format!("--redis {url}: {e}")),
    }
}

#[cfg(not(feature = "redis"))]
fn redis_url(args: &args::Args) -> Option<()> {
    if args.text("--redis").is_some() {
        args::bad("--redis: this build has no `redis` feature");
    }
    None
}
