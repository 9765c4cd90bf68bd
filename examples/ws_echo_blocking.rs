//! A WebSocket echo server on `std::net`, one thread per connection.
//!
//! It exists to show the driver loop of a sans-IO machine with nothing else in the way: read
//! bytes, `feed` them, act on the event, write what the machine put in `out`, repeat. The
//! HTTP machine reads the upgrade request; its `Upgraded` event hands the leftover bytes to the
//! WebSocket machine, which echoes every text and binary message.
//!
//! ```sh
//! cargo run --release --example ws_echo_blocking -- --port 9001
//! cargo run --release --features deflate --example ws_echo_blocking   # with permessage-deflate
//! ```

use pushwire::{Instant, Limits, http, ws};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

#[path = "common/args.rs"]
mod args;

fn main() -> io::Result<()> {
    let args = args::Args::parse(
        "ws_echo_blocking: a WebSocket echo server, one thread per connection\n\nUsage: ws_echo_blocking [OPTIONS]",
        &[args::value(
            "--port",
            "N",
            "port on 127.0.0.1, 1-65535 (default 9001)",
        )],
    );
    let port = args.port("--port", 9001, false);
    let listener = args::listening(
        format!("127.0.0.1:{port}"),
        TcpListener::bind(("127.0.0.1", port)),
    );
    println!("ws_echo_blocking listening on ws://127.0.0.1:{port}/");
    let limits = Limits {
        max_frame_bytes: 64 << 20,
        max_message_bytes: 64 << 20,
        ..Limits::default()
    };
    for stream in listener.incoming() {
        let stream = stream?;
        let limits = limits.clone();
        std::thread::spawn(move || {
            if let Err(e) = serve(stream, &limits) {
                eprintln!("connection ended: {e}");
            }
        });
    }
    Ok(())
}

/// The clock the machines are given: microseconds since the process started.
fn now() -> Instant {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    Instant::from_micros(start.elapsed().as_micros() as u64)
}

fn serve(mut stream: TcpStream, limits: &Limits) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::new(); // bytes read and not yet consumed
    let mut out = Vec::new(); // bytes to write

    // 1. HTTP/1.1 until the upgrade.
    let mut http = http::Connection::new(now(), limits);
    let mut proof = None;
    let leftover = 'http: loop {
        // On a peer error the machine has written the error response: stop reading.
        while let Ok(step) = http.feed(now(), &buf, &mut out) {
            let progressed = step.consumed > 0 || step.event.is_some();
            match step.event {
                Some(http::Event::Request(req)) => match ws::check_request(&req) {
                    Ok(offer) => {
                        // With the `deflate` feature: agree to permessage-deflate if offered.
                        #[cfg(feature = "deflate")]
                        let offer = offer.with_deflate(ws::deflate::ServerConfig::default());
                        proof = Some(offer.accept(None, &[], &mut http, &mut out).unwrap())
                    }
                    Err(e) => ws::reject(e, &mut http, &mut out).unwrap(),
                },
                Some(http::Event::Upgraded { leftover }) => break 'http leftover.to_vec(),
                _ => {}
            }
            let consumed = step.consumed;
            buf.drain(..consumed);
            if !progressed {
                break;
            }
        }
        stream.write_all(&out)?;
        out.clear();
        if http.is_closed() {
            return Ok(());
        }
        match read_more(&mut stream, &mut buf, http.poll_timeout())? {
            Input::Data => {}
            Input::Eof => return Ok(()),
            Input::Timeout => http.handle_timeout(now(), &mut out),
        }
    };

    // 2. WebSocket: echo until closed.
    let mut conn = ws::Connection::new(proof.expect("101 was sent"), limits);
    buf = leftover;
    loop {
        // On a peer error the machine has written the close frame: stop reading.
        while let Ok(step) = conn.feed(now(), &mut buf, &mut out) {
            let progressed = step.consumed > 0 || step.event.is_some();
            match step.event {
                Some(ws::Event::Text(text)) => conn.send_text(&text, &mut out).unwrap_or(()),
                Some(ws::Event::Binary(data)) => conn.send_binary(&data, &mut out).unwrap_or(()),
                _ => {}
            }
            let consumed = step.consumed;
            buf.drain(..consumed);
            if !progressed {
                break;
            }
        }
        stream.write_all(&out)?;
        out.clear();
        if conn.is_closed() {
            return stream.shutdown(std::net::Shutdown::Write);
        }
        match read_more(&mut stream, &mut buf, conn.poll_timeout())? {
            Input::Data => {}
            Input::Eof => return conn.feed_eof(now()).map_err(io::Error::other),
            Input::Timeout => conn.handle_timeout(now(), &mut out),
        }
    }
}

enum Input {
    Data,
    Eof,
    Timeout,
}

/// Reads what is available into `buf`, waiting at most until `deadline`.
fn read_more(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Option<Instant>,
) -> io::Result<Input> {
    let wait = deadline.map(|d| {
        d.saturating_duration_since(now())
            .max(Duration::from_millis(1))
    });
    stream.set_read_timeout(wait)?;
    let mut chunk = [0u8; 64 * 1024];
    match stream.read(&mut chunk) {
        Ok(0) => Ok(Input::Eof),
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(Input::Data)
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Ok(Input::Timeout)
        }
        Err(e) => Err(e),
    }
}
