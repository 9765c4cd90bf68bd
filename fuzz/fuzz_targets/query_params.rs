//! Arbitrary query strings through the hub server's parameter reader: no panic; a value it
//! accepts is what an independent percent-decoder (`+` as space) makes of the bytes; a
//! parameter given twice is refused; decimals are digits only.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushwire::http::{Connection, Event};
use pushwire::server::query::{self, BadParam};
use pushwire::{Instant, Limits};

/// Percent-decoding written apart from the crate's.
fn decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    // The query as a request target carries it: visible ASCII without '#' and spaces.
    let query: String = data
        .iter()
        .map(|&b| match b {
            b'#' => '%',
            33..=126 => char::from(b),
            _ => char::from(b"%+=&a0"[usize::from(b) % 6]),
        })
        .collect();
    let wire = format!("GET /p?{query} HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut conn = Connection::new(Instant::ZERO, &Limits::default());
    let Ok(step) = conn.feed(Instant::ZERO, wire.as_bytes(), &mut Vec::new()) else {
        return;
    };
    let Some(Event::Request(req)) = step.event else {
        return;
    };
    let Some(q) = req.query() else { return };
    for name in ["topic", "cursor", "wait", "a"] {
        let matching: Vec<&str> = q
            .split('&')
            .filter(|p| !p.is_empty())
            .filter(|p| {
                let key = p.split_once('=').map_or(*p, |(k, _)| k);
                decode(key).is_some_and(|k| k == name.as_bytes())
            })
            .collect();
        match query::param(&req, name) {
            Ok(None) => assert!(matching.is_empty(), "{q}: {name} missed"),
            Ok(Some(value)) => {
                assert_eq!(matching.len(), 1, "{q}: {name}");
                let raw = matching[0].split_once('=').map_or("", |(_, v)| v);
                assert_eq!(decode(raw).as_deref(), Some(value.as_bytes()), "{q}");
                if let Ok(n) = query::decimal(name, &value) {
                    assert!(value.bytes().all(|b| b.is_ascii_digit()));
                    assert_eq!(value.trim_start_matches('0').parse::<u64>().unwrap_or(0), n);
                }
            }
            Err(BadParam::Repeated(_)) => assert!(matching.len() > 1, "{q}: {name}"),
            Err(_) => {}
        }
    }
});
