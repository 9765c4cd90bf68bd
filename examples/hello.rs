//! The smallest server on the reactor: `GET /` answers `Hello, World!` (and `GET /stats` the
//! server's system-call counters, for benchmarks).
//!
//! ```sh
//! cargo run --release --example hello -- --port 8080 --threads 2
//! ```

use pushwire::http::Request;
use pushwire::reactor::Server;
use pushwire::reactor::{App, Ctx, Reply, Response};

struct Hello;

impl App for Hello {
    type Local = ();
    type Notice = ();

    fn local(&self) {}

    fn request(
        &self,
        _: &mut (),
        request: &Request<'_>,
        _body: &[u8],
        cx: &mut Ctx<'_, ()>,
    ) -> Reply {
        match request.path() {
            "/" => Response::text("Hello, World!").into(),
            // The server's system calls, for benchmarks (`benches/peers.sh`).
            "/stats" => Response::new(200)
                .header("Content-Type", "application/json")
                .body(cx.handle().io_stats().json().into_bytes())
                .into(),
            _ => Response::new(404).into(),
        }
    }
}

#[path = "common/args.rs"]
mod args;

fn main() -> std::io::Result<()> {
    let args = args::Args::parse(
        "hello: Hello, World! on GET /\n\nUsage: hello [OPTIONS]",
        &[
            args::value("--port", "N", "port on 127.0.0.1, 1-65535 (default 8080)"),
            args::value("--threads", "N", "worker threads (default: one per core)"),
        ],
    );
    let port = args.port("--port", 8080, false);
    let mut builder = Server::builder().bind(("127.0.0.1", port));
    if let Some(threads) = args.count("--threads") {
        builder = builder.threads(threads);
    }
    let server = args::listening(format!("127.0.0.1:{port}"), builder.build(Hello));
    println!("hello listening on http://{}/", server.local_addr());
    server.run()
}
