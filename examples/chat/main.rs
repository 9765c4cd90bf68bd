//! Chat over WebSockets: rooms, a name per visitor, who is in the room, the last messages on
//! joining (from the room's history, by cursor), typing notices that are not stored, and a
//! client that reconnects with backoff and resumes after the last message it saw, without
//! duplicates. Every worker thread serves every room (through `Handle::notify`).
//!
//! ```sh
//! cargo run --release --example chat      # then open http://127.0.0.1:8081 in two windows
//! ```
//!
//! The wire, one JSON object per text message:
//! - client → server: `say:<text>` (stored in the room's history and numbered) or `typing`;
//! - server → client: `{"type":"message","seq":N,"name":..,"text":..,"ts":ms}`,
//!   `{"type":"presence","members":[..],"joined":..}` / `"left"`, `{"type":"typing","name":..}`.
//!
//! `GET /rooms/<room>?name=<name>[&cursor=<seq>]` upgrades; without a cursor the last 50
//! messages are sent first, with one only those after it.

use pushwire::Limits;
use pushwire::http::Request;
use pushwire::hub::Hub;
use pushwire::json::push_string;
use pushwire::reactor::Server;
use pushwire::reactor::{App, ConnId, Ctx, Message, Reply, Response};
use pushwire::server::query;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

#[path = "../common/args.rs"]
mod args;

const PAGE: &[u8] = include_bytes!("page.html");
/// Messages sent to someone joining without a cursor.
const BACKLOG: usize = 50;
/// The longest name and message.
const MAX_NAME: usize = 32;
const MAX_TEXT: usize = 2000;

/// What every worker hears.
enum Notice {
    /// Something to send to everyone in `room` (already JSON).
    Room { room: Arc<str>, json: String },
}

/// A member of a room, on this worker.
struct Member {
    room: Arc<str>,
    name: Arc<str>,
    /// The cursor it joined with, until its backlog is sent.
    cursor: Option<u64>,
}

/// A room's members: name → open sockets (one name may be open in several windows).
type Presence = BTreeMap<Arc<str>, usize>;

struct Chat {
    /// Each room's numbered history (the hub's rooms are its topics).
    history: Mutex<Hub>,
    /// Who is in each room, over all workers.
    members: Mutex<BTreeMap<Arc<str>, Presence>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn json_field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    push_string(value, out);
}

impl Chat {
    /// `{"type":"presence","members":[...],"<what>":"<name>"}`.
    fn presence(&self, room: &str, what: &str, name: &str) -> String {
        let members = lock(&self.members);
        let mut out = Vec::from(&br#"{"type":"presence","members":["#[..]);
        if let Some(names) = members.get(room) {
            for (i, member) in names.keys().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_string(member, &mut out);
            }
        }
        out.extend_from_slice(b"],");
        json_field(&mut out, what, name);
        out.push(b'}');
        String::from_utf8(out).unwrap_or_default()
    }

    /// The room's messages after `cursor` (or its last `BACKLOG`), each one JSON text.
    fn backlog(&self, room: &str, cursor: Option<u64>) -> Vec<String> {
        let history = lock(&self.history);
        let last = history.last_seq(room);
        let from = cursor.unwrap_or_else(|| last.saturating_sub(BACKLOG as u64));
        let since = history.since(room, from.min(last), BACKLOG * 20);
        since
            .events
            .map(|e| String::from_utf8_lossy(&e.data).into_owned())
            .collect()
    }
}

impl App for Chat {
    type Local = BTreeMap<ConnId, Member>;
    type Notice = Notice;

    fn local(&self) -> Self::Local {
        BTreeMap::new()
    }

    fn request(
        &self,
        members: &mut Self::Local,
        req: &Request<'_>,
        _: &[u8],
        cx: &mut Ctx<'_, Notice>,
    ) -> Reply {
        if req.path() == "/" {
            return Response::new(200)
                .header("Content-Type", "text/html; charset=utf-8")
                .body(PAGE)
                .into();
        }
        let Some(room) = req.path().strip_prefix("/rooms/") else {
            return Response::new(404).into();
        };
        if !req.is_upgrade() {
            return Response::new(426).header("Upgrade", "websocket").into();
        }
        let name = query::param(req, "name").ok().flatten().unwrap_or_default();
        let name = name.trim();
        if room.is_empty() || room.len() > 64 || name.is_empty() || name.len() > MAX_NAME {
            return Response::text("a room (1-64 bytes) and a name (1-32 bytes) are needed\n")
                .status(400)
                .into();
        }
        let cursor = query::param(req, "cursor")
            .ok()
            .flatten()
            .and_then(|c| c.parse().ok());
        if let (Some(conn), true) = (cx.conn(), pushwire::ws::check_request(req).is_ok()) {
            // The backlog is sent once the socket is open (`ws_open`).
            members.insert(
                conn,
                Member {
                    room: room.into(),
                    name: name.into(),
                    cursor,
                },
            );
        }
        Reply::WebSocket { protocol: None }
    }

    fn ws_open(&self, members: &mut Self::Local, cx: &mut Ctx<'_, Notice>) {
        let Some(conn) = cx.conn() else { return };
        let Some(member) = members.get_mut(&conn) else {
            return;
        };
        let backlog = self.backlog(&member.room, member.cursor.take());
        let _ = cx.send_texts(conn, backlog.iter().map(String::as_str));
        *lock(&self.members)
            .entry(member.room.clone())
            .or_default()
            .entry(member.name.clone())
            .or_default() += 1;
        let json = self.presence(&member.room, "joined", &member.name);
        let room = member.room.clone();
        cx.handle().notify(Notice::Room { room, json });
    }

    fn ws_message(
        &self,
        members: &mut Self::Local,
        message: Message<'_>,
        cx: &mut Ctx<'_, Notice>,
    ) {
        let (Message::Text(text), Some(member)) =
            (message, cx.conn().and_then(|c| members.get(&c)))
        else {
            return;
        };
        let json = if text == "typing" {
            let mut out = Vec::from(&br#"{"type":"typing","#[..]);
            json_field(&mut out, "name", &member.name);
            out.push(b'}');
            String::from_utf8(out).unwrap_or_default()
        } else if let Some(said) = text.strip_prefix("say:") {
            let said: String = said.chars().take(MAX_TEXT).collect();
            let mut made = Vec::new();
            let stored = lock(&self.history).publish(&member.room, |seq| {
                let ts = now_ms();
                let mut out = format!(r#"{{"type":"message","seq":{seq},"ts":{ts},"#).into_bytes();
                json_field(&mut out, "name", &member.name);
                out.push(b',');
                json_field(&mut out, "text", &said);
                out.push(b'}');
                made = out.clone();
                out.into()
            });
            if stored.is_err() {
                return;
            }
            String::from_utf8(made).unwrap_or_default()
        } else {
            return;
        };
        let room = member.room.clone();
        cx.handle().notify(Notice::Room { room, json });
    }

    fn notice(&self, members: &mut Self::Local, notice: &Notice, cx: &mut Ctx<'_, Notice>) {
        let Notice::Room { room, json } = notice;
        for (&conn, member) in members.iter() {
            if member.room == *room {
                let _ = cx.send_text(conn, json);
            }
        }
    }

    fn closed(&self, members: &mut Self::Local, conn: ConnId, cx: &mut Ctx<'_, Notice>) {
        let Some(member) = members.remove(&conn) else {
            return;
        };
        {
            let mut rooms = lock(&self.members);
            if let Some(names) = rooms.get_mut(&member.room) {
                if let Some(count) = names.get_mut(&member.name) {
                    *count -= 1;
                    if *count == 0 {
                        names.remove(&member.name);
                    }
                }
            }
        }
        let json = self.presence(&member.room, "left", &member.name);
        cx.handle().notify(Notice::Room {
            room: member.room,
            json,
        });
    }
}

fn main() -> std::io::Result<()> {
    let args = args::Args::parse(
        "chat: WebSocket chat rooms\n\nUsage: chat [OPTIONS]",
        &[
            args::value("--port", "N", "port on 127.0.0.1, 1-65535 (default 8081)"),
            args::value("--threads", "N", "worker threads (default: one per core)"),
        ],
    );
    let port = args.port("--port", 8081, false);
    let limits = Limits {
        history_events: 500,
        ..Limits::default()
    };
    let chat = Chat {
        history: Mutex::new(Hub::new(&limits)),
        members: Mutex::default(),
    };
    let mut builder = Server::builder().bind(("127.0.0.1", port)).limits(limits);
    if let Some(threads) = args.count("--threads") {
        builder = builder.threads(threads);
    }
    let server = args::listening(format!("127.0.0.1:{port}"), builder.build(chat));
    println!("chat: open http://{}/", server.local_addr());
    server.run()
}
