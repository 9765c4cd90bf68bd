//! `pushwire`: the hub server as operators run it, and the small tools around it.
//!
//! ```sh
//! pushwire                          # serve on 127.0.0.1:8080 with the demo page
//! pushwire serve --config /etc/pushwire.toml
//! pushwire serve --check-config     # the effective configuration, secrets hidden
//! pushwire token --secret-file secret --subscribe 'chat.*'
//! pushwire cert --out tls/
//! pushwire sub http://127.0.0.1:8080 --topic news
//! pushwire pub http://127.0.0.1:8080 --topic news hello
//! ```

mod allocator;
mod cert;
mod cli;
mod config;
mod logger;
mod opts;
mod publish;
mod serve;
mod signals;
mod sub;
mod token;
mod wire;

use std::process::ExitCode;

const USAGE: &str =
    "pushwire: short polling, long-polling, Server-Sent Events and WebSocket from one hub server

Usage: pushwire [COMMAND] [OPTIONS]

Commands:
  serve     run the hub server (the default; pushwire serve --help lists every setting)
  token     mint an access token for a server with token_secret_file
  cert      make a test CA and a server certificate for https and wss
  sub       follow topics and print their events as NDJSON, resuming across reconnects
  pub       publish an event

  pushwire --version prints the version.
";

fn main() -> ExitCode {
    allocator::fix_mmap_threshold();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    match args.first().map(String::as_str) {
        None => serve::main(&[]),
        Some("serve") => serve::main(rest),
        Some("token") => token::main(rest),
        Some("cert") => cert::main(rest),
        Some("sub") => sub::main(rest),
        Some("pub") => publish::main(rest),
        Some("--version" | "-V" | "version") => {
            println!("pushwire {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("--help" | "-h" | "help") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        // `pushwire --port 9000` is `pushwire serve --port 9000`.
        Some(flag) if flag.starts_with("--") => serve::main(&args),
        Some(other) => {
            eprintln!("pushwire: unknown command {other:?}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
