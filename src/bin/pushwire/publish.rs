//! `pushwire pub`: publishes one event — the text given, or standard input — and prints its
//! sequence number.

use crate::opts::{self, Flag};
use std::io::Read as _;
use std::process::ExitCode;

const FLAGS: &[Flag] = &[
    Flag("--topic", Some("TOPIC"), "the topic (default: default)"),
    Flag(
        "--token",
        Some("TOKEN"),
        "an access token (or PUSHWIRE_TOKEN)",
    ),
    Flag(
        "--ca",
        Some("PATH"),
        "trust this CA for https (default: Mozilla's roots)",
    ),
];

pub fn main(args: &[String]) -> ExitCode {
    let usage = "pushwire pub: publish an event (the TEXT given, else standard input)\n\n\
                 Usage: pushwire pub URL [--topic TOPIC] [TEXT]";
    let opts = match opts::parse(usage, FLAGS, args) {
        Ok(opts) => opts,
        Err(code) => return code,
    };
    let (url, text) = match opts.free.as_slice() {
        [url] => {
            let mut text = Vec::new();
            if let Err(e) = std::io::stdin().read_to_end(&mut text) {
                return opts::fail(&format!("standard input: {e}"), 1);
            }
            (url, text)
        }
        [url, text] => (url, text.as_bytes().to_vec()),
        _ => return opts::fail("expected URL and at most one TEXT", 2),
    };
    let tls = match opts
        .text("--ca")
        .map(pushwire::tls::ClientTls::with_ca_file)
        .transpose()
    {
        Ok(tls) => tls,
        Err(e) => return opts::fail(&format!("--ca: {e}"), 2),
    };
    let token = opts
        .text("--token")
        .map(String::from)
        .or_else(|| std::env::var("PUSHWIRE_TOKEN").ok());
    let topic = opts.text("--topic").unwrap_or("default");
    match pushwire::client::publish(url, topic, &text, token.as_deref(), tls.as_ref()) {
        Ok(seq) => {
            println!("{seq}");
            ExitCode::SUCCESS
        }
        Err(e) => opts::fail(&e.to_string(), 1),
    }
}
