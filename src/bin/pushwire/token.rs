//! `pushwire token`: mints an access token for a server started with `token_secret_file` — an
//! HS256 JSON Web Token naming the topics its holder may follow and publish to. In production
//! the application's backend does this, with any JWT library, when a user signs in.

use crate::config;
use crate::opts::{self, Flag};
use pushwire::server::auth::jwt::NewToken;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

const FLAGS: &[Flag] = &[
    Flag(
        "--secret-file",
        Some("PATH"),
        "the server's token_secret_file (required)",
    ),
    Flag("--sub", Some("NAME"), "who holds the token"),
    Flag(
        "--subscribe",
        Some("TOPIC"),
        "a topic, or a prefix ending in * (repeatable)",
    ),
    Flag(
        "--publish",
        Some("TOPIC"),
        "a topic, or a prefix ending in * (repeatable)",
    ),
    Flag("--admin", None, "may read /metrics and /stats"),
    Flag(
        "--ttl",
        Some("SECS"),
        "seconds until it expires (default 3600)",
    ),
    Flag(
        "--audience",
        Some("AUD"),
        "the audience (aud) the server expects",
    ),
];

pub fn main(args: &[String]) -> ExitCode {
    let usage = "pushwire token: prints an access token for the hub server\n\n\
                 Usage: pushwire token --secret-file PATH [--subscribe TOPIC]... [--publish TOPIC]...";
    let opts = match opts::parse(usage, FLAGS, args) {
        Ok(opts) => opts,
        Err(code) => return code,
    };
    if !opts.free.is_empty() {
        return opts::fail(&format!("unknown argument {}", opts.free[0]), 2);
    }
    let Some(path) = opts.text("--secret-file") else {
        return opts::fail("--secret-file is required", 2);
    };
    // The same reading as the server's: a final newline is not part of the secret.
    let verifier = match config::verifier(path, None) {
        Ok(v) => v,
        Err(e) => return opts::fail(&e, 2),
    };
    let ttl: u64 = match opts.get("--ttl", 3600) {
        Ok(ttl) => ttl,
        Err(e) => return opts::fail(&e, 2),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let subscribe = opts.texts("--subscribe");
    let publish = opts.texts("--publish");
    let token = verifier.mint(&NewToken {
        sub: opts.text("--sub"),
        exp: now.saturating_add(ttl),
        aud: opts.text("--audience"),
        subscribe: &subscribe,
        publish: &publish,
        admin: opts.switch("--admin"),
    });
    println!("{token}");
    ExitCode::SUCCESS
}
