//! A load generator for TLS servers (used by `benches/tls.sh`), measuring the server by its
//! process id: full handshakes per server CPU-second, and server memory per idle connection.
//!
//! ```sh
//! # full handshakes (TCP connect, TLS handshake, one GET, close) from 4 threads for 10 s:
//! tls_load --mode handshakes --addr 127.0.0.1:8443 --ca ca.pem --threads 4 --duration 10 --pid PID
//! # 19,900 connections that finish a handshake and a request, then stay idle:
//! tls_load --mode idle --addr 127.0.0.1:8443 --ca ca.pem --conns 19900 --target /events?topic=idle --pid PID
//! # the same without TLS (leave out --ca), for the plaintext baseline
//! ```
//!
//! Prints one `key=value` line. Server CPU comes from `/proc/PID/stat` (user + system time) and
//! memory from `/proc/PID/status` (`VmRSS`), both read before and after.

#[path = "common/args.rs"]
mod args;

use pushwire::tls::ClientTls;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn main() {
    let args = args::Args::parse(
        "tls_load: TLS handshakes per server CPU-second, and server memory per idle connection\n\nUsage: tls_load --mode handshakes|idle --addr HOST:PORT --pid PID [OPTIONS]",
        &[
            args::value("--mode", "MODE", "handshakes or idle (required)"),
            args::value("--addr", "HOST:PORT", "the server (required)"),
            args::value(
                "--name",
                "NAME",
                "server name for SNI and the certificate check (default localhost)",
            ),
            args::value("--ca", "PATH", "the CA to trust; without it, plaintext"),
            args::value("--pid", "PID", "the server's process id (required)"),
            args::value("--threads", "N", "handshakes: client threads (default 4)"),
            args::value(
                "--duration",
                "S",
                "handshakes: seconds to measure (default 10)",
            ),
            args::value("--conns", "N", "idle: connections to open (default 1000)"),
            args::value("--target", "PATH", "request target (default /plaintext)"),
            args::switch(
                "--resume",
                "resume TLS sessions (by default every connection is a full handshake)",
            ),
        ],
    );
    let mode = args.text("--mode").unwrap_or("");
    let fail = |m: &str| -> ! { args::bad(m) };
    let addr: SocketAddr = args
        .text("--addr")
        .unwrap_or_else(|| fail("--addr is required"))
        .parse()
        .unwrap_or_else(|_| fail("--addr: expected IP:PORT"));
    let pid: u32 = args.get("--pid", 0);
    if pid == 0 {
        fail("--pid is required");
    }
    let resume = args.switch("--resume");
    let tls = args.text("--ca").map(|ca| {
        let tls = ClientTls::with_ca_file(ca).unwrap_or_else(|e| fail(&format!("--ca: {e}")));
        if resume {
            tls
        } else {
            tls.without_resumption()
        }
    });
    let client = Client {
        addr,
        name: args.text("--name").unwrap_or("localhost").to_string(),
        tls,
        resume,
        target: args.text("--target").unwrap_or("/plaintext").to_string(),
    };
    let result = match mode {
        "handshakes" => handshakes(
            &client,
            pid,
            args.get("--threads", 4),
            Duration::from_secs(args.get("--duration", 10)),
        ),
        "idle" => idle(&client, pid, args.get("--conns", 1000)),
        _ => fail("the mode is handshakes or idle"),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

struct Client {
    addr: SocketAddr,
    name: String,
    tls: Option<ClientTls>,
    resume: bool,
    target: String,
}

/// A connection, encrypted or not.
enum Conn {
    Plain(TcpStream),
    Tls(Box<pushwire::tls::TlsStream>),
}

impl Conn {
    fn stream(&mut self) -> &mut dyn ReadWrite {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &mut **s,
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

impl Client {
    /// Connects, completes the handshake, sends one request and reads its response head.
    fn open(&self) -> io::Result<Conn> {
        let tcp = TcpStream::connect(self.addr)?;
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut conn = match &self.tls {
            Some(tls) => Conn::Tls(Box::new(tls.connect(&self.name, tcp)?)),
            None => Conn::Plain(tcp),
        };
        let s = conn.stream();
        write!(
            s,
            "GET {} HTTP/1.1\r\nHost: {}\r\n\r\n",
            self.target, self.name
        )?;
        let mut head = Vec::new();
        let mut chunk = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut chunk)?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "no response"));
            }
            head.extend_from_slice(&chunk[..n]);
        }
        if !head.starts_with(b"HTTP/1.1 200") {
            return Err(io::Error::other(
                String::from_utf8_lossy(&head).into_owned(),
            ));
        }
        Ok(conn)
    }
}

/// User + system CPU seconds of process `pid`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Resident memory of process `pid`, in bytes.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn handshakes(client: &Client, pid: u32, threads: usize, duration: Duration) -> io::Result<()> {
    // Warm up: one connection proves the server answers.
    drop(client.open()?);
    let done = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let cpu0 = cpu_seconds(pid);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let (done, count, errors) = (done.clone(), count.clone(), errors.clone());
            scope.spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    match client.open() {
                        Ok(_) => count.fetch_add(1, Ordering::Relaxed),
                        Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                    };
                }
            });
        }
        std::thread::sleep(duration);
        done.store(true, Ordering::Relaxed);
    });
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid) - cpu0;
    let n = count.load(Ordering::Relaxed);
    println!(
        "mode=handshakes tls={} resume={} handshakes={n} errors={} wall_s={wall:.2} per_s={:.0} server_cpu_s={cpu:.2} per_server_cpu_s={:.0} server_cpu_us_each={:.1}",
        client.tls.is_some(),
        client.resume,
        errors.load(Ordering::Relaxed),
        n as f64 / wall,
        n as f64 / cpu.max(0.01),
        cpu * 1e6 / (n.max(1) as f64),
    );
    Ok(())
}

fn idle(client: &Client, pid: u32, conns: usize) -> io::Result<()> {
    let before = rss_bytes(pid);
    let start = Instant::now();
    let mut open = Vec::with_capacity(conns);
    for _ in 0..conns {
        open.push(client.open()?);
    }
    let opened_in = start.elapsed().as_secs_f64();
    // Let the server settle (buffers released after the handshake and the response).
    std::thread::sleep(Duration::from_secs(2));
    let after = rss_bytes(pid);
    println!(
        "mode=idle tls={} conns={conns} opened_s={opened_in:.1} server_rss_before={before} server_rss_after={after} bytes_per_conn={}",
        client.tls.is_some(),
        after.saturating_sub(before) / conns.max(1) as u64,
    );
    drop(open);
    Ok(())
}
