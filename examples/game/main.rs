//! A multiplayer game over WebSockets with binary frames: a shared arena where every player
//! steers a dot and collects coins. The server is the authority: it moves everyone at a fixed
//! tick (30 Hz by default) and sends each player a snapshot of the world every tick; players
//! send only their input, as a few bytes, when it changes. Both directions, many small
//! messages, no request per update: what a WebSocket is for.
//!
//! ```sh
//! cargo run --release --example game      # then open http://127.0.0.1:8085 in several windows
//! ```
//!
//! The wire (binary messages, little-endian):
//! - client → server: `[1, dx: i8, dy: i8]` input (a direction, each -1..1); `[2, t: u32]` ping;
//! - server → client: `[0x11, id: u16, hz: u8]` welcome; `[3, t: u32]` pong (the same `t`);
//!   `[0x10, tick: u32, sent_us: u64, players: u8, coins: u8, (id: u16, x: u16, y: u16,
//!   score: u16) × players, (x: u16, y: u16) × coins]` snapshot, the arena 1000 × 1000.

use pushwire::http::Request;
use pushwire::reactor::Server;
use pushwire::reactor::{App, ConnId, Ctx, Message, Reply, Response};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[path = "../common/args.rs"]
mod args;

const PAGE: &[u8] = include_bytes!("page.html");
const ARENA: i32 = 1000;
/// Units a player moves per second.
const SPEED: i32 = 300;
const COINS: usize = 12;
const REACH: i32 = 28;
const MAX_PLAYERS: usize = 250;

struct Player {
    id: u16,
    x: i32,
    y: i32,
    dx: i8,
    dy: i8,
    score: u16,
}

/// The world: one worker owns it (the server runs one worker thread).
struct World {
    tick: u32,
    players: BTreeMap<ConnId, Player>,
    coins: Vec<(i32, i32)>,
    next_id: u16,
    rng: u64,
    /// Bytes of snapshot sent, for the `/stats` figures.
    bytes_out: u64,
}

impl World {
    fn random(&mut self, below: i32) -> i32 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % below.max(1) as u64) as i32
    }

    fn coin(&mut self) -> (i32, i32) {
        (40 + self.random(ARENA - 80), 40 + self.random(ARENA - 80))
    }

    /// One step of `dt` seconds: everyone moves, coins within reach are collected.
    fn step(&mut self, hz: u32) {
        self.tick = self.tick.wrapping_add(1);
        let step = SPEED / hz.max(1) as i32;
        let mut taken = Vec::new();
        for player in self.players.values_mut() {
            player.x = (player.x + i32::from(player.dx) * step).clamp(0, ARENA - 1);
            player.y = (player.y + i32::from(player.dy) * step).clamp(0, ARENA - 1);
            for (i, &(cx, cy)) in self.coins.iter().enumerate() {
                let (ddx, ddy) = (player.x - cx, player.y - cy);
                if ddx * ddx + ddy * ddy <= REACH * REACH && !taken.contains(&i) {
                    taken.push(i);
                    player.score = player.score.saturating_add(1);
                }
            }
        }
        for i in taken {
            self.coins[i] = self.coin();
        }
    }

    fn snapshot(&self, out: &mut Vec<u8>) {
        let sent_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        out.clear();
        out.push(0x10);
        out.extend_from_slice(&self.tick.to_le_bytes());
        out.extend_from_slice(&sent_us.to_le_bytes());
        out.push(self.players.len().min(255) as u8);
        out.push(self.coins.len() as u8);
        for p in self.players.values().take(255) {
            for v in [p.id, p.x as u16, p.y as u16, p.score] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        for &(x, y) in &self.coins {
            out.extend_from_slice(&(x as u16).to_le_bytes());
            out.extend_from_slice(&(y as u16).to_le_bytes());
        }
    }
}

struct Game {
    hz: u32,
}

impl App for Game {
    type Local = World;
    type Notice = ();

    fn local(&self) -> World {
        let mut world = World {
            tick: 0,
            players: BTreeMap::new(),
            coins: Vec::new(),
            next_id: 1,
            rng: 0x2545_f491_4f6c_dd1d,
            bytes_out: 0,
        };
        for _ in 0..COINS {
            let coin = world.coin();
            world.coins.push(coin);
        }
        world
    }

    fn request(
        &self,
        world: &mut World,
        req: &Request<'_>,
        _: &[u8],
        cx: &mut Ctx<'_, ()>,
    ) -> Reply {
        match req.path() {
            "/" => Response::new(200)
                .header("Content-Type", "text/html; charset=utf-8")
                .body(PAGE)
                .into(),
            "/play" if req.is_upgrade() => {
                if world.players.len() >= MAX_PLAYERS {
                    return Response::text("the arena is full\n").status(503).into();
                }
                if let (Some(conn), true) = (cx.conn(), pushwire::ws::check_request(req).is_ok()) {
                    let id = world.next_id;
                    world.next_id = world.next_id.wrapping_add(1).max(1);
                    let (x, y) = world.coin();
                    world.players.insert(
                        conn,
                        Player {
                            id,
                            x,
                            y,
                            dx: 0,
                            dy: 0,
                            score: 0,
                        },
                    );
                }
                Reply::WebSocket { protocol: None }
            }
            "/stats" => Response::new(200)
                .header("Content-Type", "application/json")
                .body(
                    format!(
                        "{{\"players\":{},\"tick\":{},\"hz\":{},\"bytes_out\":{}}}",
                        world.players.len(),
                        world.tick,
                        self.hz,
                        world.bytes_out
                    )
                    .into_bytes(),
                )
                .into(),
            _ => Response::new(404).into(),
        }
    }

    fn ws_open(&self, world: &mut World, cx: &mut Ctx<'_, ()>) {
        let Some(conn) = cx.conn() else { return };
        if let Some(player) = world.players.get(&conn) {
            let mut welcome = vec![0x11];
            welcome.extend_from_slice(&player.id.to_le_bytes());
            welcome.push(self.hz.min(255) as u8);
            let _ = cx.send_binary(conn, &welcome);
        }
    }

    fn ws_message(&self, world: &mut World, message: Message<'_>, cx: &mut Ctx<'_, ()>) {
        let (Some(conn), Message::Binary(bytes)) = (cx.conn(), message) else {
            return;
        };
        match bytes {
            [1, dx, dy] => {
                if let Some(player) = world.players.get_mut(&conn) {
                    player.dx = (*dx as i8).clamp(-1, 1);
                    player.dy = (*dy as i8).clamp(-1, 1);
                }
            }
            [2, t @ ..] if t.len() == 4 => {
                let mut pong = vec![3];
                pong.extend_from_slice(t);
                let _ = cx.send_binary(conn, &pong);
            }
            _ => {}
        }
    }

    /// The fixed tick: step the world, send everyone the snapshot (one encoding for all).
    fn tick(&self, world: &mut World, cx: &mut Ctx<'_, ()>) {
        world.step(self.hz);
        if world.players.is_empty() {
            return;
        }
        let mut snapshot = Vec::with_capacity(64 + world.players.len() * 8);
        world.snapshot(&mut snapshot);
        let players: Vec<ConnId> = world.players.keys().copied().collect();
        for conn in players {
            if cx.send_binary(conn, &snapshot).is_ok() {
                world.bytes_out += snapshot.len() as u64 + 4;
            }
        }
    }

    fn closed(&self, world: &mut World, conn: ConnId, _: &mut Ctx<'_, ()>) {
        world.players.remove(&conn);
    }
}

fn main() -> std::io::Result<()> {
    let args = args::Args::parse(
        "game: a multiplayer arena over WebSockets (binary frames)\n\nUsage: game [OPTIONS]",
        &[
            args::value("--port", "N", "port on 127.0.0.1, 1-65535 (default 8085)"),
            args::value("--hz", "N", "ticks per second, 1-120 (default 30)"),
        ],
    );
    let port = args.port("--port", 8085, false);
    let hz: u32 = args.get("--hz", 30u32).clamp(1, 120);
    // One worker owns the world: the server is the one authority on it.
    let server = args::listening(
        format!("127.0.0.1:{port}"),
        Server::builder()
            .bind(("127.0.0.1", port))
            .threads(1)
            .tick(Duration::from_secs_f64(1.0 / f64::from(hz)))
            .build(Game { hz }),
    );
    println!("game: open http://{}/ ({hz} Hz)", server.local_addr());
    server.run()
}
