//! WebSocket chat rooms: `GET /rooms/<name>` upgrades, and every text message is sent to
//! everyone in the room, on every worker thread (through `Handle::notify`).
//!
//! ```sh
//! cargo run --release --example chat      # then open http://127.0.0.1:8081 in two tabs
//! ```

use pushwire::http::Request;
use pushwire::reactor::Server;
use pushwire::reactor::{App, ConnId, Ctx, Message, Reply, Response};
use std::collections::BTreeMap;
use std::sync::Arc;

const PAGE: &str = r#"<!doctype html><meta charset="utf-8"><title>chat</title>
<p>Room <input id="room" value="lobby" size="10"> <button id="join">join</button></p>
<ul id="log"></ul><input id="msg" size="50" placeholder="say something"> <button id="send">send</button>
<script>
let ws;
join.onclick = () => {
  if (ws) ws.close();
  ws = new WebSocket(`ws://${location.host}/rooms/${encodeURIComponent(room.value)}`);
  ws.onmessage = e => { const li = document.createElement("li"); li.textContent = e.data; log.prepend(li); };
};
send.onclick = () => { ws && ws.send(msg.value); msg.value = ""; };
join.onclick();
</script>"#;

/// A message for one room, broadcast to every worker.
struct Said {
    room: Arc<str>,
    text: String,
}

struct Chat;

impl App for Chat {
    /// Which room each of this worker's sockets is in.
    type Local = BTreeMap<ConnId, Arc<str>>;
    type Notice = Said;

    fn local(&self) -> Self::Local {
        BTreeMap::new()
    }

    fn request(
        &self,
        rooms: &mut Self::Local,
        req: &Request<'_>,
        _: &[u8],
        cx: &mut Ctx<'_, Said>,
    ) -> Reply {
        match req.path().strip_prefix("/rooms/") {
            Some(room) if req.is_upgrade() && !room.is_empty() => {
                if let Some(conn) = cx.conn() {
                    rooms.insert(conn, room.into());
                }
                Reply::WebSocket { protocol: None }
            }
            _ if req.path() == "/" => Response::new(200)
                .header("Content-Type", "text/html; charset=utf-8")
                .body(PAGE.as_bytes())
                .into(),
            _ => Response::new(404).into(),
        }
    }

    fn ws_message(&self, rooms: &mut Self::Local, message: Message<'_>, cx: &mut Ctx<'_, Said>) {
        let (Message::Text(text), Some(room)) = (message, cx.conn().and_then(|c| rooms.get(&c)))
        else {
            return;
        };
        cx.handle().notify(Said {
            room: room.clone(),
            text: text.to_string(),
        });
    }

    fn notice(&self, rooms: &mut Self::Local, said: &Said, cx: &mut Ctx<'_, Said>) {
        for (&conn, room) in rooms.iter() {
            if *room == said.room {
                let _ = cx.send_text(conn, &said.text);
            }
        }
    }

    fn closed(&self, rooms: &mut Self::Local, conn: ConnId, _: &mut Ctx<'_, Said>) {
        rooms.remove(&conn);
    }
}

#[path = "common/args.rs"]
mod args;

fn main() -> std::io::Result<()> {
    let args = args::Args::parse(
        "chat: a WebSocket chat room\n\nUsage: chat [OPTIONS]",
        &[args::value(
            "--port",
            "N",
            "port on 127.0.0.1, 1-65535 (default 8081)",
        )],
    );
    let port = args.port("--port", 8081, false);
    let server = args::listening(
        format!("127.0.0.1:{port}"),
        Server::builder().bind(("127.0.0.1", port)).build(Chat),
    );
    println!("chat: open http://{}/", server.local_addr());
    server.run()
}
