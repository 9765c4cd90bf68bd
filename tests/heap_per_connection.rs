//! What the machines keep on the heap per idle connection, counted by a counting allocator (what
//! a device's heap must hold per client): an HTTP connection between requests, a WebSocket
//! after the handshake, an event stream. Pinned, so that a change that makes an idle
//! connection heavier fails here and says by how much.

mod common;

use pushwire::{Instant, Limits, http, sse, ws};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

/// The system allocator, counting on each thread the bytes that thread allocated and freed
/// (the test harness's own threads allocate meanwhile; they are not counted here).
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn count(bytes: isize) {
    // A thread being torn down has no counter any more: its last frees go uncounted.
    let _ = LIVE.try_with(|live| live.set(live.get() + bytes));
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
