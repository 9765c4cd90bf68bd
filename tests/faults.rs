//! Faults over real sockets: resets in the middle of every kind of message, half-close, and a
//! server process that runs out of file descriptors. The server keeps serving the others, loses
//! no published event, and recovers.

mod common;

use common::{Client, TestServer, WsClient, connect, stat, wait_for};
use pushwire::Limits;
use pushwire::server::HubServer;
use pushwire::server::hub_server::Notice;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

fn server() -> TestServer<Notice> {
    TestServer::start(
        HubServer::new(Limits::default(), b"page"),
        Limits::default(),
        2,
    )
}

/// Reads the server did that found bytes.
fn full_reads(s: &TestServer<Notice>) -> u64 {
    let io = s.handle.io_stats();
    io.reads - io.reads_would_block
}

/// Writes `bytes` on `stream`, waits until the server has read them, then resets the
/// connection (RST instead of FIN).
fn write_read_then_reset(s: &TestServer<Notice>, mut stream: TcpStream, bytes: &[u8]) {
    let before = full_reads(s);
    stream.write_all(bytes).unwrap();
    wait_for(|| full_reads(s) > before);
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(stream);
}

fn still_serves(addr: std::net::SocketAddr) {
    let mut c = Client::new(addr);
    assert_eq!(c.get("/plaintext").body, b"Hello, World!");
}

fn publish(addr: std::net::SocketAddr, body: &str) -> u64 {
    let mut c = Client::new(addr);
    c.send("POST", "/publish", Some(body.as_bytes()));
    String::from_utf8(c.recv().unwrap().body)
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn reset_in_the_middle_of_a_request_head() {
    let s = server();
    let stream = connect(s.addr);
    write_read_then_reset(
        &s,
        stream,
        b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX-Half: ",
    );
    still_serves(s.addr);
}

#[test]
fn reset_in_the_middle_of_a_chunked_body() {
    let s = server();
    write_read_then_reset(
        &s,
        connect(s.addr),
        b"POST /publish HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nonly-half",
    );
    still_serves(s.addr);
    // Nothing was published by the cut-off request.
    let mut c = Client::new(s.addr);
    assert_eq!(c.get("/cursor").body, b"0");
}

#[test]
fn reset_in_the_middle_of_a_websocket_frame() {
    let s = server();
    let ws = WsClient::connect(s.addr, "/ws");
    let mut frame = Vec::new();
    let mut conn = ws.conn;
    conn.send_text(&"x".repeat(1000), &mut frame).unwrap();
    write_read_then_reset(&s, ws.stream, &frame[..frame.len() / 2]);
    still_serves(s.addr);
    let mut c = Client::new(s.addr);
    assert_eq!(
        c.get("/cursor").body,
        b"0",
        "half a frame published nothing"
    );
}

#[test]
fn reset_in_the_middle_of_an_event_stream() {
    let s = server();
    let mut sse = connect(s.addr);
    sse.write_all(b"GET /events HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 256];
    assert!(sse.read(&mut buf).unwrap() > 0);
    socket2::SockRef::from(&sse)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(sse);
    for i in 0..20 {
        publish(s.addr, &format!("after reset {i}"));
    }
    still_serves(s.addr);
    // The stream was forgotten: no open SSE connections remain.
    wait_for(|| stat(s.addr, "sse", "connections") == 0);
}

#[test]
fn half_close_after_a_complete_request_still_gets_the_answer() {
    let s = server();
    let mut stream = connect(s.addr);
    stream
        .write_all(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    let text = String::from_utf8(got).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("Hello, World!"), "{text}");
}

/// The server binary (`pushwire`), which cargo builds for the integration tests.
fn server_binary() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_pushwire"))
}

/// CPU time (ticks) of a process.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn out_of_file_descriptors_backs_off_keeps_history_and_recovers() {
    let bin = server_binary();
    let port = 24000 + (std::process::id() % 1000) as u16;
    // A process with room for 40 descriptors: a few for itself, the rest for connections.
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 40 && exec {} --port {port} --threads 1 --log-level warn",
            bin.display()
        ))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let started = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = publish(addr, "before the flood");

    // Hold more connections than the process can accept.
    let mut held: Vec<TcpStream> = (0..60).map(|_| connect(addr)).collect();
    for s in &mut held {
        let _ = s.write_all(b"GET /events HTTP/1.1\r\nHost: a\r\n\r\n");
    }
    std::thread::sleep(Duration::from_millis(300));
    // While it cannot accept, it must not spin.
    let t0 = cpu_ticks(child.id());
    std::thread::sleep(Duration::from_secs(1));
    let spent = cpu_ticks(child.id()) - t0;
    assert!(
        spent < 30,
        "the server spun while out of descriptors: {spent} ticks in 1 s"
    );

    // Free descriptors: the server recovers and has lost nothing (the publish waits in the
    // listen backlog until the server accepts again).
    held.clear();
    let after = publish(addr, "after the flood");
    assert_eq!(after, before + 1);
    let mut c = Client::new(addr);
    let body =
        String::from_utf8(c.get(&format!("/poll?cursor={}&wait=0", before - 1)).body).unwrap();
    assert!(
        body.contains("before the flood") && body.contains("after the flood"),
        "{body}"
    );
    let _ = child.kill();
    let _ = child.wait();
}
