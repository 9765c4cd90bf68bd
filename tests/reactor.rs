//! The reactor over real loopback sockets: HTTP/1.1 behaviour, WebSocket, notices, every
//! defence in `Limits`, many connections, graceful shutdown.

mod common;

use common::{Client, TestServer, WsClient, WsEv, closed_by_peer, connect};
use pushwire::Limits;
use pushwire::http::Request;
use pushwire::reactor::{App, ConnId, Ctx, Message, Reply, Response};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A small application exercising every kind of reply.
struct TestApp;

#[derive(Default)]
struct Local {
    sockets: BTreeSet<ConnId>,
    streams: BTreeSet<ConnId>,
}

impl App for TestApp {
    type Local = Local;
    type Notice = String;

    fn local(&self) -> Local {
        Local::default()
    }

    fn request(
        &self,
        local: &mut Local,
        req: &Request<'_>,
        body: &[u8],
        cx: &mut Ctx<'_, String>,
    ) -> Reply {
        match req.path() {
            "/" => Response::text("Hello, World!").into(),
            "/echo" => Response::new(200).body(body.to_vec()).into(),
            "/ws" => Reply::WebSocket { protocol: None },
            "/broadcast" => {
                cx.handle()
                    .notify(String::from_utf8_lossy(body).into_owned());
                Response::new(204).into()
            }
            "/stream" => {
                local.streams.insert(cx.conn().unwrap());
                Reply::Stream {
                    status: 200,
                    headers: vec![("Content-Type".into(), b"text/plain".as_slice().into())],
                    first: b"start\n".as_slice().into(),
                }
            }
            "/defer" => Reply::Defer {
                timeout: Some(Duration::from_millis(200)),
            },
            "/hold" => Reply::Defer { timeout: None },
            "/big" => Response::new(200).body(vec![b'x'; 4 << 20]).into(),
            // What the application says it holds against the memory budget.
            "/fill" => {
                cx.handle().memory().set_held(usize::MAX / 2);
                Response::new(204).into()
            }
            "/empty" => {
                cx.handle().memory().set_held(0);
                Response::new(204).into()
            }
            _ => Response::new(404).into(),
        }
    }

    fn ws_message(&self, local: &mut Local, message: Message<'_>, cx: &mut Ctx<'_, String>) {
        let Some(conn) = cx.conn() else { return };
        local.sockets.insert(conn);
        let _ = match message {
            Message::Text(t) => cx.send_text(conn, t),
            Message::Binary(b) => cx.send_binary(conn, b),
        };
    }

    fn notice(&self, local: &mut Local, notice: &String, cx: &mut Ctx<'_, String>) {
        if notice == "end streams" {
            for conn in std::mem::take(&mut local.streams) {
                let _ = cx.stream_write(conn, b"last\n");
                let _ = cx.stream_end(conn);
            }
            return;
        }
        for &conn in &local.sockets {
            let _ = cx.send_text(conn, notice);
        }
    }

    fn closed(&self, local: &mut Local, conn: ConnId, _: &mut Ctx<'_, String>) {
        local.sockets.remove(&conn);
    }
}

fn server(limits: Limits) -> TestServer<String> {
    TestServer::start(TestApp, limits, 2)
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let s = server(Limits::default());
    let mut c = Client::new(s.addr);
    for _ in 0..3 {
        let r = c.get("/");
        assert_eq!((r.status, &r.body[..]), (200, &b"Hello, World!"[..]));
        assert!(r.header("date").is_some());
    }
    c.send("POST", "/echo", Some(b"payload"));
    assert_eq!(c.recv().unwrap().body, b"payload");
}

#[test]
fn pipelined_ten_requests_in_one_write_answered_in_order() {
    let s = server(Limits::default());
    let mut c = Client::new(s.addr);
    let mut wire = Vec::new();
    for i in 0..10 {
        let body = format!("request {i}");
        wire.extend_from_slice(
            format!(
                "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
        c.http
            .send_request(
                "POST",
                "/echo",
                &[("Host", b"t")],
                pushwire::http::client::RequestBody::Empty,
                &mut Vec::new(),
            )
            .unwrap();
    }
    c.stream.write_all(&wire).unwrap();
    for i in 0..10 {
        let r = c.recv().expect("response");
        assert_eq!(r.body, format!("request {i}").as_bytes());
    }
}

#[test]
fn expect_continue_gets_100_before_body() {
    let s = server(Limits::default());
    let mut stream = connect(s.addr);
    stream
        .write_all(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        )
        .unwrap();
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"hello").unwrap();
    let mut rest = Vec::new();
    while !rest.ends_with(b"hello") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0);
        rest.extend_from_slice(&buf[..n]);
    }
    assert!(rest.starts_with(b"HTTP/1.1 200 OK\r\n"));
}

#[test]
fn chunked_upload_is_reassembled() {
    let s = server(Limits::default());
    let mut c = Client::new(s.addr);
    let mut out = Vec::new();
    c.http
        .send_request(
            "POST",
            "/echo",
            &[("Host", b"t")],
            pushwire::http::client::RequestBody::Chunked,
            &mut out,
        )
        .unwrap();
    for piece in [&b"chunk"[..], b"ed ", b"upload"] {
        c.http.send_body(piece, &mut out).unwrap();
    }
    c.http.send_end(&[], &mut out).unwrap();
    for byte in out.chunks(7) {
        c.stream.write_all(byte).unwrap();
    }
    assert_eq!(c.recv().unwrap().body, b"chunked upload");
}

#[test]
fn bad_request_gets_400_and_close() {
    let s = server(Limits::default());
    let mut stream = connect(s.addr);
    stream
        .write_all(
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        )
        .unwrap();
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    assert!(
        got.starts_with(b"HTTP/1.1 400 Bad Request\r\n"),
        "{}",
        String::from_utf8_lossy(&got)
    );
}

#[test]
fn websocket_echo_with_crate_client() {
    let s = server(Limits::default());
    let mut ws = WsClient::connect(s.addr, "/ws");
    ws.send_text("hello");
    assert_eq!(ws.recv(), Some(WsEv::Text("hello".into())));
    let big: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
    ws.send_binary(&big);
    assert_eq!(ws.recv(), Some(WsEv::Binary(big)));
    ws.close(1000);
    assert_eq!(ws.recv(), Some(WsEv::Close(Some(1000), String::new())));
    assert_eq!(
        ws.recv(),
        None,
        "the server closes TCP after the closing handshake"
    );
}

#[test]
fn large_frames_written_back_to_back_are_echoed_in_order_over_tcp() {
    // A large frame is read whole into its own buffer, and what follows it in the same read
    // (one `readv`) goes on to the machine: send three messages in one write.
    use pushwire::ws::OpCode;
    let limits = Limits {
        max_frame_bytes: 4 << 20,
        max_message_bytes: 4 << 20,
        ..Limits::default()
    };
    let s = server(limits);
    let mut ws = WsClient::connect(s.addr, "/ws");
    let big: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 249) as u8).collect();
    let middle: Vec<u8> = (0..200_000u32).map(|i| (i % 13) as u8).collect();
    let mut wire = common::masked_frame(true, 0, OpCode::Binary, &big);
    wire.extend(common::masked_frame(true, 0, OpCode::Text, b"between"));
    wire.extend(common::masked_frame(true, 0, OpCode::Binary, &middle));
    wire.extend(common::masked_frame(true, 0, OpCode::Binary, &big));
    ws.stream.write_all(&wire).unwrap();
    assert_eq!(ws.recv(), Some(WsEv::Binary(big.clone())));
    assert_eq!(ws.recv(), Some(WsEv::Text("between".into())));
    assert_eq!(ws.recv(), Some(WsEv::Binary(middle)));
    assert_eq!(ws.recv(), Some(WsEv::Binary(big)));
}

#[test]
fn notice_from_another_thread_reaches_websockets_on_every_worker() {
    let s = server(Limits::default());
    let mut clients: Vec<WsClient> = (0..6).map(|_| WsClient::connect(s.addr, "/ws")).collect();
    for c in &mut clients {
        c.send_text("join");
        assert_eq!(c.recv(), Some(WsEv::Text("join".into())));
    }
    let handle = s.handle.clone();
    std::thread::spawn(move || handle.notify("from a thread".into()))
        .join()
        .unwrap();
    for c in &mut clients {
        assert_eq!(c.recv(), Some(WsEv::Text("from a thread".into())));
    }
}

#[test]
fn stream_and_deferred_replies() {
    let s = server(Limits::default());
    let mut c = Client::new(s.addr);
    let started = Instant::now();
    let r = c.get("/defer");
    assert_eq!(r.status, 204);
    assert!(started.elapsed() >= Duration::from_millis(190));
    let mut stream = connect(s.addr);
    stream
        .write_all(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.contains("Transfer-Encoding: chunked\r\n"), "{text}");
    assert!(text.ends_with("6\r\nstart\n\r\n"), "{text}");
}

#[test]
fn header_deadline_counts_from_accept_not_per_byte() {
    let limits = Limits {
        header_timeout: Duration::from_millis(600),
        idle_timeout: Duration::from_secs(5),
        ..Limits::default()
    };
    let s = server(limits);
    let mut stream = connect(s.addr);
    let started = Instant::now();
    let mut closed_at = None;
    // One byte every 100 ms: never a complete head.
    for byte in b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaa".iter() {
        if stream.write_all(&[*byte]).is_err() {
            closed_at = Some(started.elapsed());
            break;
        }
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut buf = [0u8; 256];
        match stream.read(&mut buf) {
            Ok(n) if n > 0 => {
                assert!(
                    buf.starts_with(b"HTTP/1.1 408 "),
                    "{}",
                    String::from_utf8_lossy(&buf[..n])
                );
                closed_at = Some(started.elapsed());
                break;
            }
            Ok(_) => {
                closed_at = Some(started.elapsed());
                break;
            }
            Err(_) => {}
        }
    }
    let t = closed_at.expect("the slow client was cut off");
    assert!(
        t >= Duration::from_millis(550) && t < Duration::from_millis(2000),
        "{t:?}"
    );
}

#[test]
fn idle_keep_alive_connection_is_closed() {
    let limits = Limits {
        idle_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let s = server(limits);
    let mut c = Client::new(s.addr);
    assert_eq!(c.get("/").status, 200);
    c.stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let started = Instant::now();
    assert!(closed_by_peer(&mut c.stream));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn slow_body_is_cut_off_with_408() {
    let limits = Limits {
        body_rate_window: Duration::from_millis(300),
        min_body_bytes_per_window: 100,
        ..Limits::default()
    };
    let s = server(limits);
    let mut stream = connect(s.addr);
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    while started.elapsed() < Duration::from_secs(3) {
        let _ = stream.write_all(b"x");
        let mut buf = [0u8; 512];
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
    }
    assert!(
        got.starts_with(b"HTTP/1.1 408 "),
        "{}",
        String::from_utf8_lossy(&got)
    );
}

#[test]
fn slow_reader_stops_being_read_then_is_dropped() {
    let limits = Limits {
        write_queue_bytes: 64 * 1024,
        slow_consumer_timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let s = server(limits);
    let mut ws = WsClient::connect(s.addr, "/ws");
    ws.stream.set_nonblocking(true).unwrap();
    // Send echo requests and never read the echoes.
    let mut frame = Vec::new();
    ws.conn
        .send_binary(&vec![7u8; 64 * 1024], &mut frame)
        .unwrap();
    let mut sent = 0usize;
    let started = Instant::now();
    let mut pos = 0;
    while started.elapsed() < Duration::from_secs(3) {
        match ws.stream.write(&frame[pos..]) {
            Ok(n) => {
                sent += n;
                pos = (pos + n) % frame.len();
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(_) => break, // dropped by the server
        }
    }
    // The server stopped reading: what it accepted is bounded by socket buffers and the queue,
    // not by how long the client kept writing.
    assert!(
        sent < 64 << 20,
        "server kept reading from a client that never reads: {sent} bytes"
    );
    ws.stream.set_nonblocking(false).unwrap();
    ws.stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    assert!(
        closed_by_peer(&mut ws.stream),
        "slow consumer was not dropped"
    );
}

#[test]
fn max_connections_refuses_the_extra_one() {
    let limits = Limits {
        max_connections: 4,
        ..Limits::default()
    };
    let s = server(limits);
    let mut held: Vec<Client> = (0..4).map(|_| Client::new(s.addr)).collect();
    for c in &mut held {
        assert_eq!(c.get("/").status, 200);
    }
    // The fifth: an explicit answer, then the end of the connection.
    let mut extra = Client::new(s.addr);
    extra.send("GET", "/", None);
    let refused = extra.recv().expect("a 503");
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("retry-after"), Some(&b"1"[..]));
    assert!(String::from_utf8_lossy(&refused.body).contains("at its limit"));
    assert!(closed_by_peer(&mut extra.stream));
    drop(held.pop());
    // A freed slot is usable again, once the server has seen the close.
    common::wait_for(|| {
        let mut again = connect(s.addr);
        let _ = again.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let mut buf = Vec::new();
        let _ = again.read_to_end(&mut buf);
        buf.starts_with(b"HTTP/1.1 200")
    });
}

#[test]
fn two_thousand_concurrent_connections() {
    let s = server(Limits::default());
    let mut streams: Vec<_> = (0..2000).map(|_| connect(s.addr)).collect();
    for stream in &mut streams {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
    }
    for stream in &mut streams {
        let mut buf = [0u8; 512];
        let mut got = Vec::new();
        while !got.ends_with(b"Hello, World!") {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
    }
}

#[test]
fn graceful_shutdown_delivers_in_flight_messages_then_1001() {
    let s = server(Limits::default());
    let mut ws = WsClient::connect(s.addr, "/ws");
    ws.send_text("join");
    assert_eq!(ws.recv(), Some(WsEv::Text("join".into())));
    let mut c = Client::new(s.addr);
    let io = s.handle.io_stats();
    let reads_before = io.reads - io.reads_would_block;
    c.send("GET", "/defer", None);
    // Deferred once the server has read it: a worker handles what it read in that same turn,
    // before it looks at the shutdown.
    common::wait_for(|| {
        let io = s.handle.io_stats();
        io.reads - io.reads_would_block > reads_before
    });
    for i in 0..100 {
        s.handle.notify(format!("message {i}"));
    }
    let stopper = std::thread::spawn(move || s.stop());
    for i in 0..100 {
        let got = ws.recv();
        assert_eq!(
            got,
            Some(WsEv::Text(format!("message {i}"))),
            "message {i} of 100"
        );
    }
    assert_eq!(
        ws.recv(),
        Some(WsEv::Close(Some(1001), "server shutting down".into()))
    );
    // In-flight work finishes: the deferred request gets its own answer (its timeout's `204`),
    // and the connection closes after it.
    let parked = c.recv().expect("the parked request is answered");
    assert_eq!(parked.status, 204);
    assert_eq!(parked.header("connection"), Some(&b"close"[..]));
    stopper.join().unwrap().unwrap();
}

#[test]
fn shutdown_deadline_answers_what_still_waits_with_503() {
    let builder = pushwire::reactor::Server::builder()
        .threads(1)
        .shutdown_timeout(Duration::from_millis(300));
    let s = TestServer::start_built(builder, TestApp);
    let mut c = Client::new(s.addr);
    let io = s.handle.io_stats();
    let reads_before = io.reads - io.reads_would_block;
    c.send("GET", "/hold", None);
    common::wait_for(|| {
        let io = s.handle.io_stats();
        io.reads - io.reads_would_block > reads_before
    });
    let started = Instant::now();
    let stopper = std::thread::spawn(move || s.stop());
    let answer = c.recv().expect("an answer, not a dropped connection");
    assert_eq!(answer.status, 503);
    assert_eq!(answer.header("retry-after"), Some(&b"1"[..]));
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "at the deadline, not before"
    );
    stopper.join().unwrap().unwrap();
}

#[test]
fn stale_ids_never_reach_new_connections() {
    struct Record(Mutex<Vec<ConnId>>);
    impl App for Record {
        type Local = ();
        type Notice = ();
        fn local(&self) {}
        fn request(&self, _: &mut (), req: &Request<'_>, _: &[u8], cx: &mut Ctx<'_, ()>) -> Reply {
            if req.path() == "/old" {
                let old = self.0.lock().unwrap().clone();
                let sent = old
                    .iter()
                    .filter(|&&id| cx.stream_write(id, b"stale").is_ok())
                    .count();
                return Response::text(format!("{sent}")).into();
            }
            self.0.lock().unwrap().push(cx.conn().unwrap());
            Response::text("ok").into()
        }
    }
    let s = TestServer::start(Record(Mutex::new(Vec::new())), Limits::default(), 1);
    for _ in 0..5 {
        let mut c = Client::new(s.addr);
        assert_eq!(c.get("/").status, 200);
        // Close, and wait until the server closed too: its slot is free for reuse.
        c.stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        let _ = c.stream.read_to_end(&mut rest);
    }
    let mut c = Client::new(s.addr);
    assert_eq!(c.get("/old").body, b"0");
}

#[test]
fn ended_stream_lets_the_connection_serve_the_next_request() {
    let s = server(Limits::default());
    let mut c = Client::new(s.addr);
    c.send("GET", "/stream", None);
    // The stream is open once its first bytes arrived.
    while !String::from_utf8_lossy(&c.buf).contains("start\n") {
        let mut chunk = [0u8; 4096];
        let n = c.stream.read(&mut chunk).expect("the stream's first bytes");
        assert!(n > 0, "closed before the stream opened");
        c.buf.extend_from_slice(&chunk[..n]);
    }
    s.handle.notify("end streams".into());
    let r = c.recv().expect("the stream ends");
    assert_eq!(r.body, b"start\nlast\n");
    assert_eq!(
        c.get("/").body,
        b"Hello, World!",
        "keep-alive after the stream"
    );
}

#[test]
fn over_the_memory_budget_new_connections_are_answered_503_and_open_ones_go_on() {
    let s = server(Limits::default());
    let mut open = Client::new(s.addr);
    assert_eq!(open.get("/fill").status, 204);
    let mut refused = Client::new(s.addr);
    refused.send("GET", "/", None);
    let answer = refused.recv().expect("a 503");
    assert_eq!(answer.status, 503);
    assert_eq!(answer.header("retry-after"), Some(&b"1"[..]));
    assert!(String::from_utf8_lossy(&answer.body).contains("memory budget"));
    assert!(closed_by_peer(&mut refused.stream));
    // A connection already open is served; once memory is back, new ones are too.
    assert_eq!(open.get("/").status, 200);
    assert_eq!(open.get("/empty").status, 204);
    assert_eq!(Client::new(s.addr).get("/").status, 200);
}

#[test]
fn connections_over_the_per_address_limit_are_answered_429_and_closed() {
    let limits = Limits {
        max_connections_per_address: 2,
        ..Limits::default()
    };
    let s = TestServer::start(TestApp, limits, 2);
    let mut first = Client::new(s.addr);
    let mut second = Client::new(s.addr);
    assert_eq!(first.get("/").status, 200);
    assert_eq!(second.get("/").status, 200);
    // The third from the same address: an explicit answer, then the end of the connection.
    let mut third = Client::new(s.addr);
    third.send("GET", "/", None);
    let refused = third.recv().expect("a 429");
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("retry-after"), Some(&b"1"[..]));
    assert!(closed_by_peer(&mut third.stream));
    // One closes: a new connection is served again (once the server saw the close).
    drop(first);
    common::wait_for(|| {
        let mut c = Client::new(s.addr);
        c.send("GET", "/", None);
        c.recv().is_some_and(|r| r.status == 200)
    });
    assert_eq!(second.get("/").status, 200);
}
