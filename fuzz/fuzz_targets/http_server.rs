//! Arbitrary bytes, fed to the server connection in arbitrary splits.
//!
//! Properties: no panic; every step consumes at most what it was offered; the output is
//! bounded by the responses the driver asked for plus one error response; once an error is
//! reported, further input produces nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushwire::http::{Connection, Event};
use pushwire::{Instant, Limits};

fuzz_target!(|data: &[u8]| {
    // The first bytes choose the split sizes; the rest is the input.
    let Some((&seed, input)) = data.split_first() else { return };
    let limits = Limits {
        max_head_bytes: 512,
        max_request_line_bytes: 256,
        max_body_bytes: 1024,
        max_headers: 16,
        ..Limits::default()
    };
    let mut conn = Connection::new(Instant::ZERO, &limits);
    let mut out = Vec::new();
    let mut consumed = 0;
    let mut offered = 0;
    let mut step_size = usize::from(seed % 17) + 1;
    let mut responses = 0usize;
    let mut failed = false;
    while consumed < input.len() || offered < input.len() {
        offered = (offered + step_size).min(input.len());
        step_size = step_size * 7 % 23 + 1;
        loop {
            let avail = &input[consumed..offered];
            match conn.feed(Instant::ZERO, avail, &mut out) {
                Ok(step) => {
                    assert!(step.consumed <= avail.len(), "consumed more than offered");
                    if failed {
                        assert!(step.event.is_none(), "event after an error");
                    }
                    consumed += step.consumed;
                    let progressed = step.consumed > 0 || step.event.is_some();
                    if let Some(Event::End) = step.event {
                        conn.respond(200, &[], b"ok", &mut out).unwrap();
                        responses += 1;
                    }
                    if !progressed {
                        break;
                    }
                }
                Err(e) => {
                    assert!(!failed, "two errors");
                    assert!((400..=505).contains(&e.status()));
                    failed = true;
                    assert!(conn.is_closed());
                }
            }
        }
        if offered == input.len() {
            break;
        }
    }
    // Each response is a short head plus "ok"; an error response is under 256 bytes.
    assert!(out.len() <= responses * 64 + 256, "output grew past what was asked");
});
