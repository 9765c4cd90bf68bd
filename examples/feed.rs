//! A news feed over long-polling, built from the sans-IO pieces directly: a `hub::Hub` keeps
//! the items with sequence numbers, a `longpoll::Parking` holds the waiting requests.
//!
//! ```sh
//! cargo run --release --example feed
//! curl "http://127.0.0.1:8083/feed?cursor=0"          # waits for the first item
//! curl -d "breaking news" http://127.0.0.1:8083/post  # answers the waiting request
//! ```

use pushwire::Limits;
use pushwire::http::Request;
use pushwire::hub::Hub;
use pushwire::longpoll::Parking;
use pushwire::reactor::Server;
use pushwire::reactor::{App, ConnId, Ctx, Reply, Response};
use std::sync::Mutex;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(25);

struct Feed {
    items: Mutex<Hub>,
    limits: Limits,
}

impl Feed {
    /// Items after `cursor`, one per line, and the cursor to ask from next.
    fn after(&self, cursor: u64) -> Option<Response> {
        let hub = self.items.lock().unwrap();
        let since = hub.since("feed", cursor, 100);
        if since.events.len() == 0 {
            return None;
        }
        let mut body = Vec::new();
        for item in since.events.clone() {
            body.extend_from_slice(format!("{}: ", item.seq).as_bytes());
            body.extend_from_slice(&item.data);
            body.push(b'\n');
        }
        Some(
            Response::new(200)
                .header("X-Cursor", since.next.to_string())
                .body(body),
        )
    }
}

impl App for Feed {
    type Local = Option<Parking<ConnId>>;
    type Notice = ();

    fn local(&self) -> Self::Local {
        None
    }

    fn request(
        &self,
        parked: &mut Self::Local,
        req: &Request<'_>,
        body: &[u8],
        cx: &mut Ctx<'_, ()>,
    ) -> Reply {
        match (req.method, req.path()) {
            ("POST", "/post") => {
                let seq = self
                    .items
                    .lock()
                    .unwrap()
                    .publish("feed", |_| body.to_vec().into());
                cx.handle().notify(());
                match seq {
                    Ok(seq) => Response::text(format!("{seq}\n")).into(),
                    Err(_) => Response::new(413).into(),
                }
            }
            ("GET", "/feed") => {
                let cursor = req
                    .query_param("cursor")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
                if let Some(response) = self.after(cursor) {
                    return response.into();
                }
                let parking = parked.get_or_insert_with(|| Parking::new(&self.limits));
                match cx
                    .conn()
                    .map(|conn| parking.park(conn, "feed", cursor, cx.now() + WAIT))
                {
                    Some(Ok(())) => Reply::Defer {
                        timeout: Some(WAIT),
                    },
                    _ => Response::new(503).header("Retry-After", "1").into(),
                }
            }
            _ => Response::new(404).into(),
        }
    }

    fn notice(&self, parked: &mut Self::Local, _: &(), cx: &mut Ctx<'_, ()>) {
        let Some(parking) = parked.as_mut() else {
            return;
        };
        let last = self.items.lock().unwrap().last_seq("feed");
        for (conn, cursor) in parking.wake("feed", last) {
            if let Some(response) = self.after(cursor) {
                let _ = cx.respond(conn, &response);
            }
        }
    }

    fn deferred_timeout(
        &self,
        parked: &mut Self::Local,
        conn: ConnId,
        _: &mut Ctx<'_, ()>,
    ) -> Response {
        if let Some(parking) = parked.as_mut() {
            parking.unpark(conn);
        }
        Response::new(204)
    }

    fn closed(&self, parked: &mut Self::Local, conn: ConnId, _: &mut Ctx<'_, ()>) {
        if let Some(parking) = parked.as_mut() {
            parking.unpark(conn);
        }
    }
}

#[path = "common/args.rs"]
mod args;

fn main() -> std::io::Result<()> {
    let args = args::Args::parse(
        "feed: a long-polled feed\n\nUsage: feed [OPTIONS]",
        &[args::value(
            "--port",
            "N",
            "port on 127.0.0.1, 1-65535 (default 8083)",
        )],
    );
    let port = args.port("--port", 8083, false);
    let limits = Limits::default();
    let feed = Feed {
        items: Mutex::new(Hub::new(&limits)),
        limits,
    };
    let server = args::listening(
        format!("127.0.0.1:{port}"),
        Server::builder().bind(("127.0.0.1", port)).build(feed),
    );
    println!(
        "feed: curl \"http://{}/feed?cursor=0\"",
        server.local_addr()
    );
    server.run()
}
