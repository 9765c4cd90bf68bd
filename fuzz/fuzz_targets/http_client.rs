//! The response parser fed arbitrary bytes in arbitrary splits: no panic, consumed ≤ given,
//! and every response's body bytes add up to its declared Content-Length when it says one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushwire::Limits;
use pushwire::http::{BodyKind, client};

fuzz_target!(|data: &[u8]| {
    let Some((&seed, input)) = data.split_first() else { return };
    let mut conn = client::Connection::new(&Limits::default());
    let mut out = Vec::new();
    for _ in 0..4 {
        conn.send_request("GET", "/", &[("Host", b"a")], client::RequestBody::Empty, &mut out).unwrap();
    }
    let mut consumed = 0;
    let mut offered = 0;
    let mut step = usize::from(seed % 19) + 1;
    let mut declared: Option<u64> = None;
    let mut got = 0u64;
    while offered < input.len() {
        offered = (offered + step).min(input.len());
        step = step * 3 % 41 + 1;
        loop {
            let avail = &input[consumed..offered];
            let Ok(s) = conn.feed(avail) else { return };
            assert!(s.consumed <= avail.len());
            consumed += s.consumed;
            let progressed = s.consumed > 0 || s.event.is_some();
            match s.event {
                Some(client::Event::Response(r)) => {
                    declared = match r.body { BodyKind::Length(n) => Some(n), _ => None };
                    got = 0;
                }
                Some(client::Event::Data(d)) => {
                    got += d.len() as u64;
                    if let Some(n) = declared { assert!(got <= n); }
                }
                Some(client::Event::End) => {
                    if let Some(n) = declared { assert_eq!(got, n); }
                }
                _ => {}
            }
            if !progressed { break; }
        }
    }
});
