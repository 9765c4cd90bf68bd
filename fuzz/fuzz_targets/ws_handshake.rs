//! Arbitrary bytes as an upgrade request: the HTTP machine parses them, the handshake checks
//! them; an accepted offer always yields a 101 whose accept key matches the request's key, a
//! refused one a 400 or 426. Also arbitrary bytes as the server's answer to a client.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushwire::{Instant, Limits, http, ws};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let mut conn = http::Connection::new(Instant::ZERO, &limits);
    let mut out = Vec::new();
    if let Ok(step) = conn.feed(Instant::ZERO, data, &mut out) {
        if let Some(http::Event::Request(req)) = step.event {
            match ws::check_request(&req) {
                Ok(offer) => {
                    let key = req.header("sec-websocket-key").unwrap().to_vec();
                    offer.accept(None, &[], &mut conn, &mut out).unwrap();
                    let text = String::from_utf8(out.clone()).unwrap();
                    assert!(text.starts_with("HTTP/1.1 101 "));
                    let accept = ws::accept_key(&key);
                    assert!(text.contains(std::str::from_utf8(&accept).unwrap()));
                }
                Err(e) => {
                    ws::reject(e, &mut conn, &mut out).unwrap();
                    assert!(out.starts_with(format!("HTTP/1.1 {}", e.status()).as_bytes()));
                }
            }
        }
    }

    // The same bytes as a server's response to our upgrade request.
    let handshake = ws::ClientHandshake::with_nonce(*b"0123456789abcdef", |key: &mut [u8]| key.fill(0x5a));
    let mut client = http::client::Connection::new(&limits);
    let mut request = Vec::new();
    handshake.send_request("a", "/", &["chat"], &[], &mut client, &mut request).unwrap();
    if let Ok(step) = client.feed(data) {
        assert!(step.consumed <= data.len());
        if let Some(http::client::Event::Response(resp)) = step.event {
            if let Ok((_, protocol)) = handshake.verify(&resp, &["chat"]) {
                assert_eq!(resp.status, 101);
                assert!(protocol.is_none() || protocol == Some("chat"));
            }
        }
    }
});
