//! Mints an access token for the hub server (`demo --token-secret-file PATH`): an HS256 JSON
//! Web Token naming the topics its holder may follow and publish to. In production the
//! application's backend does this, with any JWT library, when a user signs in.
//!
//! ```sh
//! head -c 32 /dev/urandom | base64 > secret          # the shared secret (keep it secret)
//! cargo run --example demo -- --token-secret-file secret &
//! TOKEN=$(cargo run -q --example mint_token -- --secret-file secret --sub ada \
//!           --subscribe 'chat.*' --publish chat.lobby --ttl 3600)
//! curl -N -H "Authorization: Bearer $TOKEN" 'http://127.0.0.1:8080/events?topic=chat.lobby'
//! curl -H "Authorization: Bearer $TOKEN" -d hello 'http://127.0.0.1:8080/publish?topic=chat.lobby'
//! ```
//!
//! A browser page passes it as `?access_token=…` (RFC 6750 §2.3) or in the `pushwire_token`
//! cookie, since neither `EventSource` nor `WebSocket` can set a header.

#[path = "common/args.rs"]
mod args;

use pushwire::server::auth::jwt::{NewToken, Verifier};
use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    let args = args::Args::parse(
        "mint_token: print an access token for the hub server\n\nUsage: mint_token --secret-file PATH [OPTIONS]",
        &[
            args::value(
                "--secret-file",
                "PATH",
                "the server's --token-secret-file (required)",
            ),
            args::value("--sub", "NAME", "who holds the token"),
            args::repeated(
                "--subscribe",
                "TOPIC",
                "a topic, or a prefix ending in * (repeatable)",
            ),
            args::repeated(
                "--publish",
                "TOPIC",
                "a topic, or a prefix ending in * (repeatable)",
            ),
            args::value("--ttl", "SECS", "seconds until it expires (default 3600)"),
            args::value("--audience", "AUD", "the audience (aud) the server expects"),
        ],
    );
    let fail = |message: String| -> ! { args::bad(message) };
    let Some(path) = args.text("--secret-file") else {
        fail("--secret-file is required".into())
    };
    let secret = std::fs::read(path).unwrap_or_else(|e| fail(format!("{path}: {e}")));
    // The same reading as the server's: a final newline is not part of the secret.
    let secret = secret.strip_suffix(b"\n").unwrap_or(&secret);
    let secret = secret.strip_suffix(b"\r").unwrap_or(secret);
    let verifier = Verifier::new(secret).unwrap_or_else(|e| fail(format!("{path}: {e}")));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let subscribe = args.texts("--subscribe");
    let publish = args.texts("--publish");
    let token = verifier.mint(&NewToken {
        sub: args.text("--sub"),
        exp: now + args.get("--ttl", 3600u64),
        aud: args.text("--audience"),
        subscribe: &subscribe,
        publish: &publish,
        admin: false,
    });
    println!("{token}");
}
