//! The ready hub server: the demo page and one topic model served by short polling,
//! long-polling, Server-Sent Events and WebSocket at once.
//!
//! ```sh
//! cargo run --release --example demo            # then open http://127.0.0.1:8080
//! cargo run --release --example demo -- --port 9000 --threads 2
//! ```

use pushwire::Limits;
use pushwire::reactor::Server;
use pushwire::server::HubServer;
use pushwire::server::hub_server::tick_interval;

#[path = "../common/args.rs"]
mod args;
mod wire;

/// The demo page, embedded in the binary (no build step, no CDN).
const PAGE: &[u8] = include_bytes!("page.html");

fn main() -> std::io::Result<()> {
    let args = args::Args::parse(
        "demo: the ready hub server (embedded hub) and its demo page\n\nUsage: demo [OPTIONS]",
        &[
            args::value("--port", "N", "port on 127.0.0.1, 1-65535 (default 8080)"),
            args::value("--threads", "N", "worker threads (default: one per core)"),
        ],
    );
    let port = args.port("--port", 8080, false);
    let limits = Limits::default();
    let mut builder = Server::builder()
        .bind(("127.0.0.1", port))
        .limits(limits.clone())
        .tick(tick_interval(&limits));
    if let Some(threads) = args.count("--threads") {
        builder = builder.threads(threads);
    }
    let server = args::listening(
        format!("127.0.0.1:{port}"),
        builder.build(HubServer::new(limits, PAGE).with_wire_view(wire::DemoWire)),
    );
    println!("pushwire demo: open http://{}/", server.local_addr());
    server.run()
}
