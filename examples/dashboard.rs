//! A live dashboard over Server-Sent Events: every second, each open `GET /metrics` stream gets
//! an event with the server's own numbers (open streams, resident memory, CPU time).
//!
//! ```sh
//! cargo run --release --example dashboard   # then open http://127.0.0.1:8082
//! curl -N http://127.0.0.1:8082/metrics      # or watch the raw stream
//! ```

use pushwire::http::Request;
use pushwire::reactor::Server;
use pushwire::reactor::{App, ConnId, Ctx, Reply, Response};
use pushwire::sse;
use std::collections::BTreeSet;
use std::time::Duration;

const PAGE: &str = r#"<!doctype html><meta charset="utf-8"><title>dashboard</title>
<h1>Server metrics</h1><pre id="m">waiting…</pre>
<script>
const source = new EventSource("/metrics");
source.addEventListener("metrics", e => { m.textContent = JSON.stringify(JSON.parse(e.data), null, 2); });
</script>"#;

struct Dashboard;

/// Resident memory (KiB) and CPU time (clock ticks) of this process, from /proc.
fn process_numbers() -> (u64, u64) {
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(String::from)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0);
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.get(s.rfind(')')? + 2..)?.to_string();
            let f: Vec<&str> = rest.split(' ').collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    (rss, cpu)
}

impl App for Dashboard {
    /// This worker's open streams.
    type Local = BTreeSet<ConnId>;
    type Notice = ();

    fn local(&self) -> Self::Local {
        BTreeSet::new()
    }

    fn request(
        &self,
        streams: &mut Self::Local,
        req: &Request<'_>,
        _: &[u8],
        cx: &mut Ctx<'_, ()>,
    ) -> Reply {
        match req.path() {
            "/metrics" => {
                if let Some(conn) = cx.conn() {
                    streams.insert(conn);
                }
                let mut first = Vec::new();
                sse::encode_comment("metrics every second", &mut first);
                Reply::Stream {
                    status: 200,
                    headers: sse::RESPONSE_HEADERS
                        .iter()
                        .map(|(n, v)| ((*n).into(), (*v).into()))
                        .collect(),
                    first: first.into(),
                }
            }
            "/" => Response::new(200)
                .header("Content-Type", "text/html; charset=utf-8")
                .body(PAGE.as_bytes())
                .into(),
            _ => Response::new(404).into(),
        }
    }

    fn tick(&self, streams: &mut Self::Local, cx: &mut Ctx<'_, ()>) {
        if streams.is_empty() {
            return;
        }
        let (rss_kib, cpu_ticks) = process_numbers();
        let data = format!(
            "{{\"streams_on_this_worker\":{},\"rss_kib\":{rss_kib},\"cpu_ticks\":{cpu_ticks}}}",
            streams.len()
        );
        let mut event = Vec::new();
        let _ = sse::encode(
            &sse::Event {
                event: Some("metrics"),
                data: &data,
                ..Default::default()
            },
            &mut event,
        );
        for &conn in streams.iter() {
            let _ = cx.stream_write(conn, &event);
        }
    }

    fn closed(&self, streams: &mut Self::Local, conn: ConnId, _: &mut Ctx<'_, ()>) {
        streams.remove(&conn);
    }
}

#[path = "common/args.rs"]
mod args;

fn main() -> std::io::Result<()> {
    let args = args::Args::parse(
        "dashboard: live metrics over Server-Sent Events\n\nUsage: dashboard [OPTIONS]",
        &[args::value(
            "--port",
            "N",
            "port on 127.0.0.1, 1-65535 (default 8082)",
        )],
    );
    let port = args.port("--port", 8082, false);
    let server = args::listening(
        format!("127.0.0.1:{port}"),
        Server::builder()
            .bind(("127.0.0.1", port))
            .tick(Duration::from_secs(1))
            .build(Dashboard),
    );
    println!("dashboard: open http://{}/", server.local_addr());
    server.run()
}
