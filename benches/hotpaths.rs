//! Hot paths against their physical limit, measured side by side in one run.
//!
//! ```sh
//! cargo bench --bench hotpaths
//! ```
//!
//! Each line: the operation, time per operation, throughput, and the ratio to its limit measured
//! in the same run (`memcpy` of the same bytes for masking and UTF-8, `core::str::from_utf8` for
//! UTF-8 of ASCII, plain `httparse` for the head parse). No external harness: each measurement
//! repeats until ~200 ms have passed and takes the best of five such rounds, which is what
//! survives a shared, noisy machine.

use pushwire::http::{self, encode_chunk, encode_last_chunk};
use pushwire::ws::{self, Utf8Validator, apply_mask};
use pushwire::{Instant as At, Limits, sse};
use std::hint::black_box;

#[path = "common/mod.rs"]
mod common;
use common::measure;

fn row(name: &str, ns: f64, bytes: usize, limit_name: &str, limit_ns: f64, target: Option<f64>) {
    let gbps = bytes as f64 / ns;
    let ratio = limit_ns / ns;
    let verdict = match target {
        Some(t) if ratio >= t => format!("meets ≥ {t:.2}×"),
        Some(t) => format!("MISSES ≥ {t:.2}×"),
        None => String::new(),
    };
    println!(
        "| {name} | {ns:.1} ns | {gbps:.2} GB/s | {limit_name} {limit_ns:.1} ns | {ratio:.2}× | {verdict} |"
    );
}

fn masked_frame(len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let header = ws::Header {
        fin: true,
        rsv: 0,
        opcode: ws::OpCode::Binary,
        mask: Some([1, 2, 3, 4]),
        len: len as u64,
    };
    header.encode(&mut out);
    out.extend((0..len).map(|i| i as u8));
    out
}

fn server_ws(limits: &Limits) -> ws::Connection {
    let mut conn = http::Connection::new(At::ZERO, limits);
    let mut out = Vec::new();
    let req = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let step = conn.feed(At::ZERO, req, &mut out).unwrap();
    let Some(http::Event::Request(r)) = step.event else {
        panic!()
    };
    let proof = ws::check_request(&r)
        .unwrap()
        .accept(None, &[], &mut conn, &mut out)
        .unwrap();
    ws::Connection::new(proof, limits)
}

const BROWSER_HEAD: &[u8] = b"GET /events?topic=demo&lastEventId=42 HTTP/1.1\r\n\
Host: 127.0.0.1:8080\r\n\
Connection: keep-alive\r\n\
Cache-Control: no-cache\r\n\
sec-ch-ua: \"Chromium\";v=\"156\", \"Not:A-Brand\";v=\"8\"\r\n\
Accept: text/event-stream\r\n\
sec-ch-ua-mobile: ?0\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36\r\n\
sec-ch-ua-platform: \"Linux\"\r\n\
Sec-Fetch-Site: same-origin\r\n\
Sec-Fetch-Mode: cors\r\n\
Sec-Fetch-Dest: empty\r\n\
Referer: http://127.0.0.1:8080/\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-US,en;q=0.9\r\n\
Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n\r\n";

fn main() {
    let limits = Limits {
        max_frame_bytes: 64 << 20,
        max_message_bytes: 64 << 20,
        ..Limits::default()
    };
    println!("| operation | time | throughput | limit (same run) | ratio to limit | target |");
    println!("|---|---|---|---|---|---|");

    // WebSocket frame decode + unmask (one whole frame, server role), against memcpy.
    for len in [20usize, 16 * 1024, 1 << 20] {
        let mut frame = masked_frame(len);
        let mut conn = server_ws(&limits);
        let mut out = Vec::new();
        let ns = measure(|| {
            let step = conn
                .feed(At::ZERO, black_box(&mut frame), &mut out)
                .unwrap();
            black_box(step.event);
        });
        let src = vec![7u8; len];
        let mut dst = vec![0u8; len];
        let copy = measure(|| dst.copy_from_slice(black_box(&src)));
        let target = (len >= 16 * 1024).then_some(0.5);
        row(
            &format!("ws frame decode + unmask, {len} B"),
            ns,
            len,
            "memcpy",
            copy,
            target,
        );
    }

    // Unmask alone.
    for len in [16 * 1024usize, 1 << 20] {
        let mut data = vec![9u8; len];
        let src = vec![7u8; len];
        let mut dst = vec![0u8; len];
        let ns = measure(|| apply_mask(black_box(&mut data), [1, 2, 3, 4], 0));
        let copy = measure(|| dst.copy_from_slice(black_box(&src)));
        row(
            &format!("unmask, {len} B"),
            ns,
            len,
            "memcpy",
            copy,
            Some(0.5),
        );
    }

    // Incremental UTF-8 validation.
    let ascii: Vec<u8> = (0..64 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    let mixed: Vec<u8> = "κόσμε a€𝄞 plain ascii text ".repeat(2500).into_bytes();
    for (name, text, piece) in [
        ("ASCII", &ascii, None),
        ("mixed", &mixed, None),
        (
            "mixed, split in 1000-byte fragments",
            &mixed,
            Some(1000usize),
        ),
    ] {
        let ns = measure(|| {
            let mut v = Utf8Validator::default();
            match piece {
                None => v.feed(black_box(text)).unwrap(),
                Some(n) => {
                    for chunk in text.chunks(n) {
                        v.feed(black_box(chunk)).unwrap();
                    }
                }
            }
            black_box(v.is_complete());
        });
        let std = measure(|| {
            black_box(core::str::from_utf8(black_box(text)).is_ok());
        });
        let target = (name == "ASCII").then_some(1.0);
        row(
            &format!("utf-8 validation, {name}, {} B", text.len()),
            ns,
            text.len(),
            "from_utf8",
            std,
            target,
        );
    }

    // HTTP request head parse (~700 B browser request).
    // Each parse needs a connection in its initial state: a clone of a template, timed on its
    // own and subtracted (it is connection setup, not parsing).
    let template = http::Connection::new(At::ZERO, &Limits::default());
    let mut out = Vec::new();
    let with_clone = measure(|| {
        let mut conn = template.clone();
        let step = conn
            .feed(At::ZERO, black_box(BROWSER_HEAD), &mut out)
            .unwrap();
        black_box(step.event.is_some());
    });
    let clone_only = measure(|| {
        black_box(black_box(&template).clone());
    });
    let ns = (with_clone - clone_only).max(0.1);
    let plain = measure(|| {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        black_box(req.parse(black_box(BROWSER_HEAD)).is_ok());
    });
    row(
        &format!("http head parse, {} B", BROWSER_HEAD.len()),
        ns,
        BROWSER_HEAD.len(),
        "httparse",
        plain,
        Some(1.0 / 1.2),
    );

    // Chunked encode and decode of a 64 KiB body in 4 KiB chunks.
    let body = vec![b'x'; 64 * 1024];
    let mut wire = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let head_len = wire.len();
    let enc = measure(|| {
        wire.truncate(head_len);
        for c in body.chunks(4096) {
            encode_chunk(c, &mut wire);
        }
        encode_last_chunk(&[], &mut wire);
        black_box(wire.len());
    });
    let big = Limits {
        max_body_bytes: 1 << 20,
        ..Limits::default()
    };
    let template = http::Connection::new(At::ZERO, &big);
    let dec = measure(|| {
        let mut conn = template.clone();
        let mut pos = 0;
        loop {
            let step = conn.feed(At::ZERO, &wire[pos..], &mut out).unwrap();
            pos += step.consumed;
            if matches!(step.event, Some(http::Event::End))
                || (step.consumed == 0 && step.event.is_none())
            {
                break;
            }
        }
        black_box(pos);
    });
    let src = body.clone();
    let mut dst = vec![0u8; body.len()];
    let copy = measure(|| dst.copy_from_slice(black_box(&src)));
    row(
        "chunked encode, 64 KiB in 4 KiB chunks",
        enc,
        body.len(),
        "memcpy",
        copy,
        None,
    );
    row(
        "chunked decode (+ head), 64 KiB in 4 KiB chunks",
        dec,
        body.len(),
        "memcpy",
        copy,
        None,
    );

    // SSE event encode.
    let data = "{\"seq\":42,\"ts\":1764312345678901234,\"data\":\"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl\"}";
    let mut buf = Vec::with_capacity(256);
    let ns = measure(|| {
        buf.clear();
        sse::encode(
            &sse::Event {
                id: Some("42"),
                data: black_box(data),
                ..Default::default()
            },
            &mut buf,
        )
        .unwrap();
        black_box(buf.len());
    });
    let copy = measure(|| {
        buf.clear();
        buf.extend_from_slice(black_box(data.as_bytes()));
        black_box(buf.len());
    });
    row(
        &format!("sse event encode, {} B of data", data.len()),
        ns,
        data.len(),
        "memcpy",
        copy,
        None,
    );
}
