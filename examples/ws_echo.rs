//! A WebSocket echo server on the reactor: the same behaviour as `ws_echo_blocking`, with
//! every connection on a few event-loop threads instead of a thread each.
//!
//! ```sh
//! cargo run --release --example ws_echo -- --port 9001 --threads 2
//! ```
//!
//! Built with `--features deflate`, it agrees to permessage-deflate (RFC 7692) with the
//! default server configuration when a client offers it.

use pushwire::Limits;
use pushwire::http::Request;
use pushwire::reactor::Server;
use pushwire::reactor::{App, Ctx, Message, Reply, Response};

struct Echo;

impl App for Echo {
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
        if request.is_upgrade() {
            Reply::WebSocket { protocol: None }
        } else if request.path() == "/stats" {
            // The server's system calls, for benchmarks (`benches/peers.sh`).
            Response::new(200)
                .header("Content-Type", "application/json")
                .body(cx.handle().io_stats().json().into_bytes())
                .into()
        } else {
            Response::text("a WebSocket echo server: connect with ws://\n").into()
        }
    }

    fn ws_message(&self, _: &mut (), message: Message<'_>, cx: &mut Ctx<'_, ()>) {
        let Some(conn) = cx.conn() else { return };
        let _ = match message {
            Message::Text(text) => cx.send_text(conn, text),
            Message::Binary(data) => cx.send_binary(conn, data),
        };
    }
}

#[path = "common/args.rs"]
mod args;

fn main() -> std::io::Result<()> {
    let flags = [
        args::value("--port", "N", "port on 127.0.0.1, 1-65535 (default 9001)"),
        args::value("--threads", "N", "worker threads (default: one per core)"),
        #[cfg(feature = "deflate")]
        args::switch(
            "--deflate-takeover",
            "keep the compression context between messages",
        ),
    ];
    let args = args::Args::parse(
        "ws_echo: a WebSocket echo server on the reactor\n\nUsage: ws_echo [OPTIONS]",
        &flags,
    );
    let port = args.port("--port", 9001, false);
    let limits = Limits {
        max_frame_bytes: 64 << 20,
        max_message_bytes: 64 << 20,
        write_queue_bytes: 64 << 20,
        ..Limits::default()
    };
    let mut builder = Server::builder().bind(("127.0.0.1", port)).limits(limits);
    if let Some(threads) = args.count("--threads") {
        builder = builder.threads(threads);
    }
    #[cfg(feature = "deflate")]
    {
        // `--deflate-takeover`: keep our compression context between messages (more memory,
        // better ratio) instead of the default server_no_context_takeover.
        let takeover = args.switch("--deflate-takeover");
        builder = builder.ws_deflate(pushwire::ws::deflate::ServerConfig {
            server_no_context_takeover: !takeover,
            ..Default::default()
        });
    }
    let server = args::listening(format!("127.0.0.1:{port}"), builder.build(Echo));
    println!("ws_echo listening on ws://{}/", server.local_addr());
    server.run()
}
