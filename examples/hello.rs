//! The smallest server on the reactor: `GET /` answers `Hello, World!`.
//!
//! ```sh
//! cargo run --release --example hello -- --port 8080 --threads 2
//! ```

use pushwire::http::Request;
use pushwire::reactor::Server;
use pushwire::server::{App, Ctx, Reply, Response};

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
        _: &mut Ctx<'_, ()>,
    ) -> Reply {
        match request.path() {
            "/" => Response::text("Hello, World!").into(),
            _ => Response::new(404).into(),
        }
    }
}

fn main() -> std::io::Result<()> {
    let port = arg("--port").unwrap_or(8080);
    let mut builder = Server::builder().bind(("127.0.0.1", port as u16));
    if let Some(threads) = arg("--threads") {
        builder = builder.threads(threads);
    }
    let server = builder.build(Hello)?;
    println!("hello listening on http://{}/", server.local_addr());
    server.run()
}

fn arg(name: &str) -> Option<usize> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}
