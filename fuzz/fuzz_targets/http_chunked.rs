//! Chunked round trip: any body, cut into any chunks, encoded and decoded through a server
//! connection in any split, comes back byte for byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushwire::http::{Connection, Event, encode_chunk, encode_last_chunk};
use pushwire::{Instant, Limits};

fuzz_target!(|data: &[u8]| {
    let Some((&seed, body)) = data.split_first() else { return };
    let mut wire = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let mut rest = body;
    let mut size = usize::from(seed) + 1;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        encode_chunk(chunk, &mut wire);
        rest = tail;
        size = size * 5 % 97 + 1;
    }
    encode_last_chunk(&[("X-Check", b"1")], &mut wire);

    let limits = Limits { max_body_bytes: u64::MAX, ..Limits::default() };
    let mut conn = Connection::new(Instant::ZERO, &limits);
    let mut out = Vec::new();
    let mut decoded = Vec::new();
    let mut consumed = 0;
    let mut offered = 0;
    let mut step = usize::from(seed % 13) + 1;
    let mut ended = false;
    while !ended {
        offered = (offered + step).min(wire.len());
        step = step * 3 % 29 + 1;
        loop {
            let s = conn.feed(Instant::ZERO, &wire[consumed..offered], &mut out).unwrap();
            consumed += s.consumed;
            let progressed = s.consumed > 0 || s.event.is_some();
            match s.event {
                Some(Event::Data(d)) => decoded.extend_from_slice(d),
                Some(Event::End) => ended = true,
                _ => {}
            }
            if !progressed || ended {
                break;
            }
        }
        assert!(ended || offered < wire.len(), "decoder stalled on a complete body");
    }
    assert_eq!(decoded, body);
    assert_eq!(consumed, wire.len());
});
