//! `pushwire sub`: follows topics and prints every event as one line of JSON (NDJSON) on
//! stdout, resuming from its position across reconnects — to the same server or the next one
//! given — so that each event is printed once, in order per topic. Connections and gaps are
//! reported on stderr; `--position-file` keeps the position across runs.

use crate::opts::{self, Flag};
use pushwire::client::{Item, Subscriber, Transport};
use std::io::Write as _;
use std::process::ExitCode;

const FLAGS: &[Flag] = &[
    Flag(
        "--topic",
        Some("TOPIC"),
        "a topic to follow (repeatable; default: default)",
    ),
    Flag(
        "--transport",
        Some("ws|sse|poll"),
        "how to receive (default ws)",
    ),
    Flag(
        "--cursor",
        Some("POSITION"),
        "start from this cursor or position (0: all of history; default: now)",
    ),
    Flag(
        "--position-file",
        Some("PATH"),
        "resume from, and keep writing, the position in this file",
    ),
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
    Flag("--count", Some("N"), "exit after N events"),
];

pub fn main(args: &[String]) -> ExitCode {
    let usage = "pushwire sub: follow topics, print each event once as NDJSON\n\n\
                 Usage: pushwire sub URL [URL...] [--topic TOPIC]... [--transport ws|sse|poll]";
    let opts = match opts::parse(usage, FLAGS, args) {
        Ok(opts) => opts,
        Err(code) => return code,
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err((message, status)) => opts::fail(&message, status),
    }
}

fn run(opts: &opts::Opts) -> Result<(), (String, u8)> {
    let bad = |m: String| (m, 2);
    if opts.free.is_empty() {
        return Err(bad("a server URL is required (http://HOST:PORT)".into()));
    }
    let mut topics = opts.texts("--topic");
    if topics.is_empty() {
        topics.push("default");
    }
    let transport: Transport = opts.get("--transport", Transport::WebSocket).map_err(bad)?;
    let count: u64 = opts.get("--count", u64::MAX).map_err(bad)?;
    let mut sub = Subscriber::new(&opts.free, &topics)
        .map_err(|e| bad(format!("{}: {e}", opts.free.join(" "))))?
        .transport(transport);
    let token = opts
        .text("--token")
        .map(String::from)
        .or_else(|| std::env::var("PUSHWIRE_TOKEN").ok());
    if let Some(token) = token {
        sub = sub.token(token);
    }
    if let Some(ca) = opts.text("--ca") {
        let tls =
            pushwire::tls::ClientTls::with_ca_file(ca).map_err(|e| bad(format!("--ca: {e}")))?;
        sub = sub.tls(tls);
    }
    let file = opts.text("--position-file");
    let saved = file
        .and_then(|f| std::fs::read_to_string(f).ok())
        .map(|t| t.trim().to_string());
    if let Some(start) = saved
        .as_deref()
        .filter(|s| !s.is_empty())
        .or(opts.text("--cursor"))
    {
        sub = sub
            .from_position(start)
            .map_err(|e| bad(format!("--cursor: {e}")))?;
    }
    let mut out = std::io::stdout().lock();
    let mut printed = 0;
    while printed < count {
        match sub.wait() {
            Item::Event(event) => {
                writeln!(out, "{}", event.line)
                    .and_then(|()| out.flush())
                    .map_err(|e| (e.to_string(), 1))?;
                printed += 1;
                if let Some(path) = file {
                    let _ = std::fs::write(path, sub.current_position());
                }
            }
            Item::Gap { line, .. } => {
                eprintln!("pushwire sub: gap {line}");
                writeln!(out, "{line}")
                    .and_then(|()| out.flush())
                    .map_err(|e| (e.to_string(), 1))?;
            }
            Item::Connected { url, transport } => {
                eprintln!(
                    "pushwire sub: connected to {url} over {transport:?} at {}",
                    sub.current_position()
                );
            }
            Item::Disconnected { url, error } => {
                eprintln!("pushwire sub: {url}: {error}; reconnecting");
            }
            _ => {}
        }
    }
    Ok(())
}
