//! What the machines keep on the heap per idle connection, counted by a counting allocator (what
//! a device's heap must hold per client): an HTTP connection between requests, a WebSocket
//! after the handshake, an event stream. Pinned, so that a change that makes an idle
//! connection heavier fails here and says by how much.

mod common;

use pushwire::ws::OpCode;
use pushwire::{Instant, Limits, http, sse, ws};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

/// The system allocator, counting on each thread the bytes that thread allocated and freed
/// (the test harness's own threads allocate meanwhile; they are not counted here).
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count(bytes: isize) {
    // A thread being torn down has no counter any more: its last frees go uncounted.
    let _ = LIVE.try_with(|live| live.set(live.get() + bytes));
    if bytes > 0 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }
}

/// How many allocations `work` makes on this thread.
fn allocations(work: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    work();
    ALLOCATIONS.with(Cell::get) - before
}

fn live() -> isize {
    LIVE.with(Cell::get)
}

// SAFETY: every call is passed to `System` unchanged; only the count is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap bytes per item that `make` keeps alive, over `n` of them (the test's own vector of
/// them excluded).
fn heap_per<T>(n: usize, mut make: impl FnMut() -> T) -> isize {
    let mut kept: Vec<T> = Vec::with_capacity(n);
    let before = live();
    for _ in 0..n {
        kept.push(make());
    }
    let after = live();
    drop(kept);
    (after - before) / n as isize
}

#[test]
fn an_idle_http_connection_keeps_nothing_on_the_heap() {
    let limits = Limits::default();
    // Between requests: a request was answered, and the connection waits for the next.
    let per = heap_per(1000, || {
        let mut conn = http::Connection::new(Instant::ZERO, &limits);
        let mut out = Vec::new();
        let step = conn
            .feed(
                Instant::ZERO,
                b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
                &mut out,
            )
            .unwrap();
        assert!(matches!(step.event, Some(http::Event::Request(_))));
        conn.respond(200, &[], b"hi", &mut out).unwrap();
        let _ = conn.feed(Instant::ZERO, &[], &mut out);
        conn
    });
    assert_eq!(per, 0, "heap bytes per idle HTTP connection");
    assert_eq!(std::mem::size_of::<http::Connection>(), 256);
}

#[test]
fn an_idle_websocket_keeps_nothing_on_the_heap() {
    let limits = Limits::default();
    let per = heap_per(1000, || common::ws_pair(&limits).0);
    assert_eq!(per, 0, "heap bytes per idle WebSocket");
    assert_eq!(std::mem::size_of::<ws::Connection>(), 72);
}

#[test]
fn an_event_stream_keeps_nothing_on_the_heap() {
    let per = heap_per(1000, || {
        let mut out = Vec::new();
        sse::EventStream::open(Instant::ZERO, Duration::from_secs(15), &mut out)
    });
    assert_eq!(per, 0, "heap bytes per event stream");
    assert_eq!(std::mem::size_of::<sse::EventStream>(), 24);
}

/// What allocates while a connection works, with the caller's output buffers already reserved
/// (a device's fixed storage): one request head parsed and answered, a one-frame WebSocket
/// message received whole and echoed, a ping answered, an event encoded — none. A message that
/// arrives in pieces (fragments, or one frame split across reads) is the one that does: it is
/// assembled in a buffer of its own, grown as the pieces arrive.
#[test]
fn work_allocates_only_to_assemble_a_message_that_arrives_in_pieces() {
    let limits = Limits::default();
    let mut out = Vec::with_capacity(4096);
    let mut conn = http::Connection::new(Instant::ZERO, &limits);
    let head = b"GET /a?b=c HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nUser-Agent: t\r\n\r\n";
    let n = allocations(|| {
        let step = conn.feed(Instant::ZERO, head, &mut out).unwrap();
        assert!(matches!(step.event, Some(http::Event::Request(_))));
        conn.respond(200, &[], b"hi", &mut out).unwrap();
    });
    assert_eq!(n, 0, "allocations to parse a request head and answer it");

    let (mut server, _) = common::ws_pair(&limits);
    let mut echo = |frames: Vec<Vec<u8>>, out: &mut Vec<u8>| {
        allocations(|| {
            for mut frame in frames {
                let mut at = 0;
                while at < frame.len() {
                    let step = server.feed(Instant::ZERO, &mut frame[at..], out).unwrap();
                    assert!(step.consumed > 0 || step.event.is_some(), "no progress");
                    at += step.consumed;
                    if let Some(ws::Event::Text(text)) = step.event {
                        server.send_text(&text, out).unwrap();
                    }
                }
            }
        })
    };
    out.clear();
    let text = common::masked_frame(true, 0, OpCode::Text, b"twenty bytes of text");
    assert_eq!(echo(vec![text], &mut out), 0, "a one-frame message echoed");
    assert!(out.len() > 20, "the echo was written");
    out.clear();
    let ping = common::masked_frame(true, 0, OpCode::Ping, b"p");
    assert_eq!(echo(vec![ping], &mut out), 0, "a ping answered");
    out.clear();
    let fragments = vec![
        common::masked_frame(false, 0, OpCode::Text, b"twenty "),
        common::masked_frame(false, 0, OpCode::Continuation, b"bytes of "),
        common::masked_frame(true, 0, OpCode::Continuation, b"text"),
    ];
    assert!(
        echo(fragments, &mut out) > 0,
        "a fragmented message is assembled on the heap"
    );
    out.clear();
    let mut whole = common::masked_frame(true, 0, OpCode::Text, b"twenty bytes of text");
    let second = whole.split_off(12);
    assert!(
        echo(vec![whole, second], &mut out) > 0,
        "so is one frame split across two reads"
    );

    let mut body = Vec::with_capacity(1024);
    let mut stream = sse::EventStream::open(Instant::ZERO, Duration::from_secs(15), &mut body);
    let event = sse::Event {
        id: Some("7"),
        event: None,
        data: "{\"reading\":42}\nsecond line",
        retry: None,
    };
    let n = allocations(|| stream.send(Instant::ZERO, &event, &mut body).unwrap());
    assert_eq!(n, 0, "allocations to encode an event");
}

/// The entry points for storage of a fixed size allocate nothing at all: the request head parser
/// (`http::HeadParser`), the frame codec (`ws::Header::decode`, `to_bytes`, `ws::apply_mask`) and
/// the event encoder into a caller's buffer (`sse::encode_into`).
#[test]
fn the_fixed_storage_entry_points_allocate_nothing() {
    let limits = Limits::default();
    let mut input =
        *b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    let n = allocations(|| {
        let mut parser = http::HeadParser::new(&limits);
        assert!(parser.parse(&input[..20]).unwrap().is_none());
        let (req, len) = parser.parse(&input).unwrap().unwrap();
        assert_eq!((req.path(), len), ("/ws", input.len()));
    });
    assert_eq!(n, 0, "allocations to parse a head in two pieces");
    input.fill(0);

    let mut frame = common::masked_frame(true, 0, OpCode::Text, b"twenty bytes of text");
    let n = allocations(|| {
        let (header, at) = ws::Header::decode(&frame).unwrap().unwrap();
        let key = header.mask.unwrap();
        ws::apply_mask(&mut frame[at..], key, 0);
        assert_eq!(&frame[at..], b"twenty bytes of text");
        let reply = ws::Header {
            mask: None,
            ..header
        };
        let (bytes, len) = reply.to_bytes();
        assert_eq!(&bytes[..len], [0x81, 20]);
    });
    assert_eq!(n, 0, "allocations to decode, unmask and answer a frame");

    let mut buf = [0u8; 64];
    let event = sse::Event {
        id: Some("7"),
        event: None,
        data: "{\"reading\":42}",
        retry: None,
    };
    let n = allocations(|| {
        let len = sse::encode_into(&event, &mut buf).unwrap();
        assert_eq!(&buf[..len], b"id: 7\ndata: {\"reading\":42}\n\n");
    });
    assert_eq!(n, 0, "allocations to encode an event into a fixed buffer");
}
