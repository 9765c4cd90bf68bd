//! How many players at which tick rate the game server (`examples/game`) sustains on one core:
//! it starts the server (pinned to CPU 0 when `taskset` is there) and `--players` bots (each a
//! thread with a WebSocket, steering in a new random direction ten times a second), and
//! measures for `--seconds`: snapshots each bot received per second (the tick rate it
//! actually got), the tick-to-delivery latency (the snapshot's send time, written by the server,
//! to its arrival; p50/p99), bytes per player per second, and the server's CPU.
//!
//! ```sh
//! cargo build --release --example game --example game_bench
//! target/release/examples/game_bench --players 100 --hz 30 --seconds 10
//! ```

use pushwire::http::client;
use pushwire::{Instant as At, Limits, ws};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[path = "common/args.rs"]
mod args;

fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[derive(Default)]
struct Tally {
    snapshots: u64,
    bytes: u64,
    latencies_us: Vec<u64>,
}

/// One player: connect, then read snapshots and steer until `stop`.
fn bot(
    port: u16,
    seed: u64,
    measuring: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<Tally> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_nodelay(true)?;
    let mut http = client::Connection::new(&Limits::default());
    let mut out = Vec::new();
    let handshake = ws::ClientHandshake::new(pushwire::entropy::OsEntropy);
    handshake
        .send_request("bench", "/play", &[], &[], &mut http, &mut out)
        .map_err(std::io::Error::other)?;
    stream.write_all(&out)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let proof = loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let step = http.feed(&buf).map_err(std::io::Error::other)?;
        if let Some(client::Event::Response(r)) = step.event {
            let (proof, _) = handshake.verify(&r, &[]).map_err(std::io::Error::other)?;
            buf.drain(..step.consumed);
            break proof;
        }
    };
    let mut conn = ws::Connection::new(proof, &Limits::default());
    stream.set_read_timeout(Some(Duration::from_millis(20)))?;
    let mut tally = Tally::default();
    let mut rng = seed | 1;
    let mut next_input = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() >= next_input {
            next_input += Duration::from_millis(100);
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let (dx, dy) = ((rng % 3) as i8 - 1, ((rng >> 8) % 3) as i8 - 1);
            out.clear();
            let _ = conn.send_binary(&[1, dx as u8, dy as u8], &mut out);
            stream.write_all(&out)?;
        }
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        }
        loop {
            out.clear();
            let step = conn
                .feed(At::ZERO, &mut buf, &mut out)
                .map_err(std::io::Error::other)?;
            let consumed = step.consumed;
            if let Some(ws::Event::Binary(data)) = &step.event {
                if data.first() == Some(&0x10) && measuring.load(Ordering::Relaxed) {
                    let sent = data
                        .get(5..13)
                        .and_then(|b| b.try_into().ok())
                        .map_or(0, u64::from_le_bytes);
                    tally.snapshots += 1;
                    tally.bytes += data.len() as u64 + 2;
                    tally.latencies_us.push(unix_us().saturating_sub(sent));
                }
            }
            let progressed = consumed > 0 || step.event.is_some();
            buf.drain(..consumed);
            if !out.is_empty() {
                stream.write_all(&out)?;
            }
            if !progressed {
                break;
            }
        }
    }
    Ok(tally)
}

/// CPU seconds the process has used (user + system).
fn cpu_s(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let f: Vec<&str> = s.get(s.rfind(')')? + 2..)?.split(' ').collect();
            Some((f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?) as f64 / 100.0)
        })
        .unwrap_or(0.0)
}

fn main() -> std::io::Result<()> {
    let args = args::Args::parse(
        "game_bench: players x tick rate the game server sustains\n\nUsage: game_bench [OPTIONS]",
        &[
            args::value("--players", "N", "bots (default 100)"),
            args::value("--hz", "N", "the server's tick rate (default 30)"),
            args::value("--seconds", "S", "measured seconds (default 10)"),
        ],
    );
    let players = args.count("--players").unwrap_or(100);
    let hz: u32 = args.get("--hz", 30);
    let seconds: u64 = args.get("--seconds", 10);
    let port = 32000 + (std::process::id() % 700) as u16;
    let game = std::env::current_exe()?.with_file_name("game");
    let taskset = std::path::Path::new("/usr/bin/taskset").exists();
    let mut command = if taskset {
        let mut c = std::process::Command::new("taskset");
        c.args(["-c", "0"]).arg(&game);
        c
    } else {
        std::process::Command::new(&game)
    };
    let mut server = command
        .args(["--port", &port.to_string(), "--hz", &hz.to_string()])
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(10) {
            let _ = server.kill();
            return Err(std::io::Error::other("the game server did not start"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let tallies = Arc::new(Mutex::new(Vec::new()));
    let bots: Vec<_> = (0..players)
        .map(|i| {
            let (measuring, stop, tallies) = (measuring.clone(), stop.clone(), tallies.clone());
            std::thread::spawn(move || {
                if let Ok(t) = bot(port, 0x9e37_79b9 * (i as u64 + 1), measuring, stop) {
                    tallies.lock().unwrap_or_else(|p| p.into_inner()).push(t);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let cpu0 = cpu_s(server.id());
    measuring.store(true, Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(seconds));
    measuring.store(false, Ordering::Relaxed);
    let cpu = cpu_s(server.id()) - cpu0;
    stop.store(true, Ordering::Relaxed);
    for b in bots {
        let _ = b.join();
    }
    let _ = server.kill();
    let _ = server.wait();
    let tallies = tallies.lock().unwrap_or_else(|p| p.into_inner());
    let connected = tallies.len();
    let mut latencies: Vec<u64> = tallies
        .iter()
        .flat_map(|t| t.latencies_us.iter().copied())
        .collect();
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let snapshots: u64 = tallies.iter().map(|t| t.snapshots).sum();
    let bytes: u64 = tallies.iter().map(|t| t.bytes).sum();
    let per_player = |n: u64| n as f64 / connected.max(1) as f64 / seconds as f64;
    println!(
        "| {players} | {hz} | {connected} | {:.1} | {:.1} ms | {:.1} ms | {:.0} | {:.0} % |",
        per_player(snapshots),
        at(0.5) as f64 / 1000.0,
        at(0.99) as f64 / 1000.0,
        per_player(bytes),
        cpu / seconds as f64 * 100.0
    );
    Ok(())
}
