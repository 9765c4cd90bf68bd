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

/// The demo page, embedded in the binary (no build step, no CDN).
const PAGE: &[u8] = include_bytes!("page.html");

fn main() -> std::io::Result<()> {
    let port = arg("--port").unwrap_or(8080);
    let limits = Limits::default();
    let mut builder = Server::builder()
        .bind(("127.0.0.1", port as u16))
        .limits(limits.clone())
        .tick(tick_interval(&limits));
    if let Some(threads) = arg("--threads") {
        builder = builder.threads(threads);
    }
    let server = builder.build(HubServer::new(limits, PAGE))?;
    println!("pushwire demo: open http://{}/", server.local_addr());
    server.run()
}

fn arg(name: &str) -> Option<usize> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}
