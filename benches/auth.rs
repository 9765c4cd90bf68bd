//! The cost of an access-token check, beside what it is made of, measured in one run.
//!
//! ```sh
//! cargo bench --bench auth
//! ```
//!
//! A check is: base64url-decode the MAC, HMAC-SHA-256 over header and claims, compare in
//! constant time, then decode and read the header and the claims (bounded JSON). The limit
//! beside it is the HMAC alone over the same bytes; the ratio says what the rest costs.

use pushwire::server::auth::jwt::{NewToken, Verifier};
use std::hint::black_box;

#[path = "common/mod.rs"]
mod common;
use common::measure;

fn main() {
    let secret = [7u8; 32];
    let verifier = Verifier::new(&secret).unwrap();
    let now = 1_800_000_000;
    println!("| operation | time | beside |");
    println!("|---|---|---|");
    for (name, subscribe) in [
        ("one topic", vec!["chat.lobby"]),
        ("ten selectors", (0..10).map(|_| "user.ada.*").collect()),
    ] {
        let token = verifier.mint(&NewToken {
            sub: Some("ada"),
            exp: now + 3600,
            aud: None,
            subscribe: &subscribe,
            publish: &["chat.lobby"],
            admin: false,
        });
        let check = measure(|| {
            black_box(verifier.verify(black_box(&token), now).is_ok());
        });
        // HMAC alone over the signed part: re-signing the same header and claims (which
        // also base64-encodes them, so this overstates the bare MAC slightly).
        let (signed, _) = token.rsplit_once('.').unwrap();
        let (header, claims) = signed.split_once('.').unwrap();
        let header = String::from_utf8(base64_decode(header)).unwrap();
        let claims = String::from_utf8(base64_decode(claims)).unwrap();
        let mac = measure(|| {
            black_box(verifier.sign(black_box(&header), black_box(&claims)));
        });
        // One character of the MAC changed (not the last, whose spare bits would make it
        // refused as non-canonical before the MAC is computed).
        let at = token.len() - 10;
        let swap = if &token[at..=at] == "A" { "B" } else { "A" };
        let forged = format!("{}{swap}{}", &token[..at], &token[at + 1..]);
        let refused = measure(|| {
            black_box(verifier.verify(black_box(&forged), now).is_err());
        });
        println!(
            "| verify a {} B token ({name}) | {check:.0} ns | sign (HMAC + base64) {mac:.0} ns: {:.2}× |",
            token.len(),
            check / mac
        );
        println!(
            "| refuse a forged {} B token ({name}) | {refused:.0} ns | |",
            forged.len()
        );
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}
