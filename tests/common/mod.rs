//! Helpers shared by the integration tests.
#![allow(dead_code)]

use pushwire::http::{self, BodyKind, Event, Version};
use pushwire::{Instant, Limits};

/// An owned copy of a server event, with data merged across splits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    Request {
        method: String,
        target: String,
        version: Version,
        body: BodyKind,
    },
    Data(Vec<u8>),
    End,
    Upgraded(Vec<u8>),
}

#[derive(Debug, PartialEq, Eq)]
pub struct Run {
    pub events: Vec<Ev>,
    pub out: Vec<u8>,
    pub consumed: usize,
    pub error: Option<http::PeerError>,
}

/// Drives an HTTP server connection, offering `input` in the pieces given by `cuts` (sorted
/// offsets); each complete request is answered with its body echoed back.
pub fn drive_http(limits: &Limits, input: &[u8], cuts: &[usize]) -> Run {
    let mut conn = http::Connection::new(Instant::ZERO, limits);
    let mut run = Run {
        events: Vec::new(),
        out: Vec::new(),
        consumed: 0,
        error: None,
    };
    let mut ends: Vec<usize> = cuts
        .iter()
        .copied()
        .filter(|&c| c > 0 && c < input.len())
        .collect();
    ends.push(input.len());
    let mut body = Vec::new();
    for &offered in &ends {
        loop {
            let avail = &input[run.consumed..offered];
            match conn.feed(Instant::ZERO, avail, &mut run.out) {
                Err(e) => {
                    run.error = Some(e);
                    return run;
                }
                Ok(step) => {
                    assert!(step.consumed <= avail.len());
                    run.consumed += step.consumed;
                    let progressed = step.consumed > 0 || step.event.is_some();
                    match step.event {
                        Some(Event::Request(r)) => {
                            body.clear();
                            run.events.push(Ev::Request {
                                method: r.method.into(),
                                target: r.target.into(),
                                version: r.version,
                                body: r.body,
                            });
                        }
                        Some(Event::Data(d)) => {
                            body.extend_from_slice(d);
                            match run.events.last_mut() {
                                Some(Ev::Data(prev)) => prev.extend_from_slice(d),
                                _ => run.events.push(Ev::Data(d.to_vec())),
                            }
                        }
                        Some(Event::End) => {
                            run.events.push(Ev::End);
                            conn.respond(200, &[], &body, &mut run.out).unwrap();
                        }
                        Some(Event::Upgraded { leftover }) => {
                            run.events.push(Ev::Upgraded(leftover.to_vec()))
                        }
                        Some(_) => {}
                        None => {}
                    }
                    if !progressed {
                        break;
                    }
                }
            }
        }
    }
    run
}

/// A server and a client WebSocket machine that completed the handshake with each other.
pub fn ws_pair(limits: &Limits) -> (pushwire::ws::Connection, pushwire::ws::Connection) {
    use pushwire::ws;
    let handshake = ws::ClientHandshake::new(*b"0123456789abcdef");
    let mut client_http = http::client::Connection::new(limits);
    let mut request = Vec::new();
    handshake
        .send_request(
            "example.com",
            "/ws",
            &[],
            &[],
            &mut client_http,
            &mut request,
        )
        .unwrap();
    let mut server_http = http::Connection::new(Instant::ZERO, limits);
    let mut response = Vec::new();
    let step = server_http
        .feed(Instant::ZERO, &request, &mut response)
        .unwrap();
    let Some(Event::Request(req)) = step.event else {
        panic!("request")
    };
    let proof = ws::check_request(&req)
        .unwrap()
        .accept(None, &[], &mut server_http, &mut response)
        .unwrap();
    let step = client_http.feed(&response).unwrap();
    let Some(http::client::Event::Response(resp)) = step.event else {
        panic!("response")
    };
    let (client_proof, _) = handshake.verify(&resp, &[]).unwrap();
    (
        ws::Connection::new(proof, limits),
        ws::Connection::new(client_proof, limits),
    )
}

/// An owned WebSocket event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsEv {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
    Other,
}

/// Feeds `input` to `conn` in pieces ending at `cuts`; returns events, output and any error.
pub fn drive_ws(
    conn: &mut pushwire::ws::Connection,
    input: &[u8],
    cuts: &[usize],
) -> (Vec<WsEv>, Vec<u8>, Option<pushwire::ws::PeerError>, usize) {
    use pushwire::ws::Event as E;
    let mut buf = input.to_vec();
    let mut events = Vec::new();
    let mut out = Vec::new();
    let mut consumed = 0;
    let mut ends: Vec<usize> = cuts
        .iter()
        .copied()
        .filter(|&c| c > 0 && c < buf.len())
        .collect();
    ends.push(buf.len());
    for &offered in &ends {
        loop {
            let avail = &mut buf[consumed..offered];
            let len = avail.len();
            match conn.feed(Instant::ZERO, avail, &mut out) {
                Err(e) => return (events, out, Some(e), consumed),
                Ok(step) => {
                    assert!(step.consumed <= len);
                    consumed += step.consumed;
                    let progressed = step.consumed > 0 || step.event.is_some();
                    if let Some(e) = step.event {
                        events.push(match e {
                            E::Text(t) => WsEv::Text(t.into_owned()),
                            E::Binary(b) => WsEv::Binary(b.into_owned()),
                            E::Ping(p) => WsEv::Ping(p.to_vec()),
                            E::Pong(p) => WsEv::Pong(p.to_vec()),
                            E::Close { code, reason } => {
                                WsEv::Close(code.map(|c| c.0), reason.into())
                            }
                            _ => WsEv::Other,
                        });
                    }
                    conn.poll_transmit(&mut out);
                    if !progressed {
                        break;
                    }
                }
            }
        }
    }
    (events, out, None, consumed)
}
