//! The sans-IO core on a microcontroller: an HTTP/1.1 server with a WebSocket echo (`/ws`) and
//! an event stream (`/events`, 100 events), built from the crate's machines only, for a
//! Cortex-M4F with 128 KiB of RAM.
//!
//! The network stack is whatever the device has (smoltcp, embassy-net, a vendor's): the server
//! needs one TCP connection at a time through [`Link`]. Here the link is a receive ring and a
//! transmit ring in RAM that a network driver would fill and drain (read and written
//! volatile, so that the whole server stays in the image).

#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use core::mem::MaybeUninit;
use core::ptr::addr_of_mut;
#[cfg(feature = "events")]
use core::time::Duration;
use cortex_m as _;
use cortex_m_rt::entry;
use embedded_alloc::LlffHeap as Heap;
use panic_halt as _;
#[cfg(feature = "events")]
use pushwire::sse;
use pushwire::{Instant, Limits, http, ws};

#[global_allocator]
static HEAP: Heap = Heap::empty();

#[path = "rings.rs"]
mod rings;

use rings::{Link, Rings};

/// The link's clock as the machines' time.
fn now(link: &impl Link) -> Instant {
    Instant::from_micros(link.micros())
}

#[entry]
fn main() -> ! {
    const HEAP_SIZE: usize = 64 * 1024;
    static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
    // SAFETY: called once, before any allocation; the region is used by nothing else.
    unsafe { HEAP.init(addr_of_mut!(HEAP_MEM) as usize, HEAP_SIZE) }
    let limits = Limits {
        max_head_bytes: 2048,
        max_body_bytes: 4096,
        max_frame_bytes: 4096,
        max_message_bytes: 4096,
        ..Limits::default()
    };
    let mut link = Rings;
    loop {
        serve(&mut link, &limits);
    }
}

/// Serves one connection until it ends.
fn serve(link: &mut impl Link, limits: &Limits) {
    let mut http = http::Connection::new(now(link), limits);
    let (mut buf, mut out) = (Vec::new(), Vec::new());
    let mut chunk = [0u8; 512];
    loop {
        while let Ok(step) = http.feed(now(link), &buf, &mut out) {
            let progressed = step.consumed > 0 || step.event.is_some();
            match step.event {
                Some(http::Event::Request(req)) => match req.path() {
                    "/ws" => match ws::check_request(&req) {
                        Ok(offer) => {
                            let proof = offer.accept(None, &[], &mut http, &mut out);
                            link.send(&out);
                            out.clear();
                            if let Ok(proof) = proof {
                                return echo(link, ws::Connection::new(proof, limits), limits);
                            }
                            return;
                        }
                        Err(e) => {
                            let _ = ws::reject(e, &mut http, &mut out);
                        }
                    },
                    #[cfg(feature = "events")]
                    "/events" => {
                        link.send(&out);
                        out.clear();
                        return events(link, &mut http);
                    }
                    _ => {
                        let _ = http.respond(200, &[], b"pushwire on a device\n", &mut out);
                    }
                },
                Some(http::Event::Upgraded { .. }) => return,
                _ => {}
            }
            let consumed = step.consumed;
            buf.drain(..consumed);
            if !progressed {
                break;
            }
        }
        if !exchange(link, &mut out, &mut buf, &mut chunk, http.is_closed()) {
            return;
        }
    }
}

/// Sends what the machine wrote; unless it is `closed`, waits for more input. Whether the
/// connection goes on.
fn exchange(
    link: &mut impl Link,
    out: &mut Vec<u8>,
    buf: &mut Vec<u8>,
    chunk: &mut [u8],
    closed: bool,
) -> bool {
    link.send(out);
    out.clear();
    if closed {
        return false;
    }
    match link.recv(chunk) {
        Some(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
        None => false,
    }
}

/// The WebSocket echo, until closed.
fn echo(link: &mut impl Link, mut conn: ws::Connection, _limits: &Limits) {
    let (mut buf, mut out) = (Vec::new(), Vec::new());
    let mut chunk = [0u8; 512];
    loop {
        while let Ok(step) = conn.feed(now(link), &mut buf, &mut out) {
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
        if !exchange(link, &mut out, &mut buf, &mut chunk, conn.is_closed()) {
            return;
        }
    }
}

/// An event stream of 100 events.
#[cfg(feature = "events")]
fn events(link: &mut impl Link, http: &mut http::Connection) {
    let mut out = Vec::new();
    let headers = sse::RESPONSE_HEADERS;
    if http
        .send_response(200, &headers, http::ResponseBody::Stream, &mut out)
        .is_err()
    {
        return;
    }
    let mut body = Vec::new();
    let mut stream = sse::EventStream::open(now(link), Duration::from_secs(15), &mut body);
    let mut id = [0u8; 20];
    for n in 1..=100u32 {
        let id = decimal(n, &mut id);
        let event = sse::Event {
            id: Some(id),
            event: None,
            data: "{\"reading\":42}",
            retry: None,
        };
        if stream.send(now(link), &event, &mut body).is_err() {
            return;
        }
        let _ = http.send_body(&body, &mut out);
        body.clear();
        link.send(&out);
        out.clear();
    }
    let _ = http.send_end(&[], &mut out);
    link.send(&out);
}

/// `n` in decimal, in `buf`.
#[cfg(feature = "events")]
fn decimal(mut n: u32, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    core::str::from_utf8(&buf[at..]).unwrap_or("0")
}
