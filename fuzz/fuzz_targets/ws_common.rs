// Shared by the ws_server, ws_client and ws_deflate targets (included with `include!`).

use pushwire::ws::{self, Event};
use pushwire::{Instant, Limits, http};

/// Masking keys for fuzzing: reproducible, so a finding replays exactly (never for real use).
fn counter_keys() -> impl FnMut(&mut [u8]) + Send {
    let mut n = 0u8;
    move |key: &mut [u8]| {
        for b in key {
            n = n.wrapping_mul(31).wrapping_add(17);
            *b = n;
        }
    }
}

#[allow(dead_code)]
fn pair(limits: &Limits) -> (ws::Connection, ws::Connection) {
    pair_with(limits, None, None)
}

/// A server and a client after a handshake, offering and accepting permessage-deflate when
/// configurations are given.
fn pair_with(
    limits: &Limits,
    server_deflate: Option<ws::deflate::ServerConfig>,
    client_deflate: Option<ws::deflate::ClientConfig>,
) -> (ws::Connection, ws::Connection) {
    let mut handshake = ws::ClientHandshake::with_nonce(*b"0123456789abcdef", counter_keys());
    if let Some(config) = client_deflate {
        handshake = handshake.with_deflate(config);
    }
    let mut client_http = http::client::Connection::new(limits);
    let mut request = Vec::new();
    handshake.send_request("a", "/", &[], &[], &mut client_http, &mut request).unwrap();
    let mut server_http = http::Connection::new(Instant::ZERO, limits);
    let mut response = Vec::new();
    let step = server_http.feed(Instant::ZERO, &request, &mut response).unwrap();
    let Some(http::Event::Request(req)) = step.event else { panic!() };
    let mut offer = ws::check_request(&req).unwrap();
    if let Some(config) = server_deflate {
        offer = offer.with_deflate(config);
    }
    let proof = offer.accept(None, &[], &mut server_http, &mut response).unwrap();
    let step = client_http.feed(&response).unwrap();
    let Some(http::client::Event::Response(resp)) = step.event else { panic!() };
    let (client_proof, _) = handshake.verify(&resp, &[]).unwrap();
    (ws::Connection::new(proof, limits), ws::Connection::new(client_proof, limits))
}

/// Feeds arbitrary bytes in arbitrary splits and checks the machine's invariants.
fn check(conn: &mut ws::Connection, data: &[u8], max_message: usize) {
    let Some((&seed, input)) = data.split_first() else { return };
    let mut buf = input.to_vec();
    let mut out = Vec::new();
    let mut consumed = 0;
    let mut offered = 0;
    let mut step = usize::from(seed % 31) + 1;
    let mut pings = 0;
    let mut failed = false;
    let mut closed_event = false;
    while offered < buf.len() {
        offered = (offered + step).min(buf.len());
        step = step * 5 % 37 + 1;
        loop {
            let avail = &mut buf[consumed..offered];
            let len = avail.len();
            // A frame worth gathering is announced only while it is not all here, and never
            // past the limits (its payload fits the message limit).
            if let Some(total) = conn.unfinished_frame(avail) {
                assert!(total > len, "announced a frame that is already whole");
                assert!(total <= max_message + 14, "announced a frame over the limit");
            }
            match conn.feed(Instant::ZERO, avail, &mut out) {
                Ok(s) => {
                    assert!(s.consumed <= len, "consumed more than offered");
                    consumed += s.consumed;
                    let progressed = s.consumed > 0 || s.event.is_some();
                    match &s.event {
                        Some(Event::Text(t)) => assert!(t.len() <= max_message),
                        Some(Event::Binary(b)) => assert!(b.len() <= max_message),
                        Some(Event::Ping(p)) | Some(Event::Pong(p)) => {
                            assert!(p.len() <= 125);
                            pings += 1;
                        }
                        Some(Event::Close { .. }) => {
                            assert!(!closed_event, "two close events");
                            closed_event = true;
                        }
                        _ => {}
                    }
                    if failed || closed_event {
                        assert!(!matches!(s.event, Some(Event::Text(_) | Event::Binary(_))), "data after close");
                    }
                    if !progressed {
                        break;
                    }
                }
                Err(e) => {
                    assert!(!failed, "two errors");
                    failed = true;
                    let code = e.close_code().0;
                    assert!(matches!(code, 1001 | 1002 | 1007 | 1009));
                }
            }
        }
    }
    // Pongs (≤ 125 + 14 bytes each) plus at most one close frame.
    assert!(out.len() <= (pings + 1) * 139, "output grew past what input explains");
}
