//! The driver contract (crate docs, "What the peer is owed"): a reply the protocol obliges — a
//! pong, the close reply, an error response — is written to `out` by the `feed` call that read
//! the input, in input order. So a driver that flushes after every step and one that flushes
//! once per read put the same bytes on the wire, whatever the split of the input.
//!
//! Each machine is driven both ways over the same split input; the outputs must be byte for
//! byte the same, and the same as for the input in one piece.

mod common;

use proptest::prelude::*;
use pushwire::ws::{self, CloseCode, MessageKind};
use pushwire::{Instant, Limits, http};

/// How a driver moves `out` to the wire.
#[derive(Clone, Copy, Debug)]
enum Flush {
    /// After every `feed` step (and every reply the application makes).
    EveryStep,
    /// Once per read, after the machine has consumed all it can.
    OncePerRead,
}

/// `input` cut at the given offsets.
fn pieces<'a>(input: &'a [u8], cuts: &[prop::sample::Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
    at.sort_unstable();
    at.push(input.len());
    let mut start = 0;
    at.into_iter()
        .map(|end| {
            let piece = &input[start..end];
            start = end;
            piece
        })
        .collect()
}

/// A reproducible key source, so two runs of a client mask alike.
fn keys(mut state: u32) -> impl FnMut(&mut [u8]) + Send {
    move |dest: &mut [u8]| {
        for b in dest {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *b = (state >> 24) as u8;
        }
    }
}

/// A server and a client machine after a handshake in memory; the client masks with `keys(7)`.
fn ws_pair() -> (ws::Connection, ws::Connection) {
    let handshake = ws::ClientHandshake::with_nonce(*b"the sample nonce", keys(7));
    common::ws_pair_with(&Limits::default(), handshake)
}

/// What one side sends the other.
#[derive(Clone, Debug)]
enum Op {
    /// A message in up to three fragments, with a ping between its first two if given.
    Message {
        payload: Vec<u8>,
        cut: prop::sample::Index,
        ping_inside: Option<Vec<u8>>,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

fn op() -> impl Strategy<Value = Op> {
    let payload = proptest::collection::vec(any::<u8>(), 0..200);
    let control = proptest::collection::vec(any::<u8>(), 0..=125);
    prop_oneof![
        3 => (payload, any::<prop::sample::Index>(), proptest::option::of(control.clone()))
            .prop_map(|(payload, cut, ping_inside)| Op::Message { payload, cut, ping_inside }),
        2 => control.clone().prop_map(Op::Ping),
        1 => control.prop_map(Op::Pong),
    ]
}

/// The wire bytes `sender` writes for `ops`, then a close frame if `close`.
fn encode(sender: &mut ws::Connection, ops: &[Op], close: bool) -> Vec<u8> {
    let mut wire = Vec::new();
    for op in ops {
        match op {
            Op::Message {
                payload,
                cut,
                ping_inside,
            } => {
                let at = cut.index(payload.len() + 1);
                let (a, b) = payload.split_at(at);
                sender
                    .send_fragment(MessageKind::Binary, a, false, &mut wire)
                    .unwrap();
                if let Some(p) = ping_inside {
                    sender.send_ping(p, &mut wire).unwrap();
                }
                sender
                    .send_fragment(MessageKind::Binary, b, true, &mut wire)
                    .unwrap();
            }
            Op::Ping(p) => sender.send_ping(p, &mut wire).unwrap(),
            Op::Pong(p) => sender.send_pong(p, &mut wire).unwrap(),
        }
    }
    if close {
        sender
            .send_close(Some(CloseCode::NORMAL), "done", &mut wire)
            .unwrap();
    }
    wire
}

/// Feeds `input` to `conn` in `pieces`, echoing every message, flushing as `flush` says.
fn drive_ws(conn: &mut ws::Connection, pieces: &[&[u8]], flush: Flush) -> Vec<u8> {
    let mut wire = Vec::new();
    let mut out = Vec::new();
    let mut buf = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        while let Ok(step) = conn.feed(Instant::ZERO, &mut buf, &mut out) {
            let progressed = step.consumed > 0 || step.event.is_some();
            match step.event {
                Some(ws::Event::Binary(data)) => conn.send_binary(&data, &mut out).unwrap(),
                Some(ws::Event::Text(text)) => conn.send_text(&text, &mut out).unwrap(),
                _ => {}
            }
            let consumed = step.consumed;
            buf.drain(..consumed);
            if let Flush::EveryStep = flush {
                wire.append(&mut out);
            }
            if !progressed {
                break;
            }
        }
        wire.append(&mut out);
    }
    wire
}

/// What the other side reads back from `wire`: pongs and messages, in order.
fn read_back(reader: &mut ws::Connection, wire: &[u8]) -> Vec<(char, Vec<u8>)> {
    let mut buf = wire.to_vec();
    let mut out = Vec::new();
    let mut seen = Vec::new();
    loop {
        let step = reader.feed(Instant::ZERO, &mut buf, &mut out).unwrap();
        let progressed = step.consumed > 0 || step.event.is_some();
        match step.event {
            Some(ws::Event::Pong(p)) => seen.push(('p', p.to_vec())),
            Some(ws::Event::Binary(d)) => seen.push(('m', d.into_owned())),
            Some(ws::Event::Close { .. }) => seen.push(('c', Vec::new())),
            _ => {}
        }
        let consumed = step.consumed;
        buf.drain(..consumed);
        if !progressed {
            return seen;
        }
    }
}

/// What the peer is owed for `ops`, in order: a pong per ping (the one between fragments
/// before the echo of its message), the echo of each message, the close reply.
fn owed(ops: &[Op], close: bool) -> Vec<(char, Vec<u8>)> {
    let mut owed = Vec::new();
    for op in ops {
        match op {
            Op::Message {
                payload,
                ping_inside,
                ..
            } => {
                if let Some(p) = ping_inside {
                    owed.push(('p', p.clone()));
                }
                owed.push(('m', payload.clone()));
            }
            Op::Ping(p) => owed.push(('p', p.clone())),
            Op::Pong(_) => {}
        }
    }
    if close {
        owed.push(('c', Vec::new()));
    }
    owed
}

proptest! {
    #[test]
    fn ws_server_output_does_not_depend_on_the_driver(
        ops in proptest::collection::vec(op(), 0..10),
        close in any::<bool>(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        check_ws_drivers(true, &ops, close, &cuts)?;
    }

    #[test]
    fn ws_client_output_does_not_depend_on_the_driver(
        ops in proptest::collection::vec(op(), 0..10),
        close in any::<bool>(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        check_ws_drivers(false, &ops, close, &cuts)?;
    }

    #[test]
    fn http_output_does_not_depend_on_the_driver(
        paths in proptest::collection::vec("/[a-z]{0,8}", 1..5),
        bad in proptest::option::of(0usize..3),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        // Pipelined requests; a broken one (a space before a colon, RFC 9112 §5.1: 400)
        // somewhere among them. Everything after it is never read.
        let mut input = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            if bad == Some(i) {
                input.extend_from_slice(b"GET /x HTTP/1.1\r\nHost : a\r\n\r\n");
            }
            input.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
        }
        let split = pieces(&input, &cuts);
        let every = drive_http(&split, Flush::EveryStep);
        let once = drive_http(&split, Flush::OncePerRead);
        let whole = drive_http(&[&input], Flush::OncePerRead);
        prop_assert_eq!(&every, &once);
        prop_assert_eq!(&every, &whole);
        let answered = bad.map_or(paths.len(), |b| b.min(paths.len()));
        let text = String::from_utf8_lossy(&every);
        prop_assert_eq!(text.matches("HTTP/1.1 200 OK").count(), answered);
        prop_assert_eq!(text.matches("HTTP/1.1 400").count(), usize::from(bad.is_some_and(|b| b < paths.len())));
    }
}

/// Drives the server (or, with `server` false, the client) machine with both drivers over the
/// same split input: the outputs must match to the byte (the client masks with the same key
/// source in every run), and read back, every ping got its own pong in input order and the
/// close was answered.
fn check_ws_drivers(
    server: bool,
    ops: &[Op],
    close: bool,
    cuts: &[prop::sample::Index],
) -> Result<(), TestCaseError> {
    let side = |pair: (ws::Connection, ws::Connection), ours: bool| {
        if ours == server { pair.0 } else { pair.1 }
    };
    let input = encode(&mut side(ws_pair(), false), ops, close);
    let split = pieces(&input, cuts);
    let every = drive_ws(&mut side(ws_pair(), true), &split, Flush::EveryStep);
    let once = drive_ws(&mut side(ws_pair(), true), &split, Flush::OncePerRead);
    let whole = drive_ws(&mut side(ws_pair(), true), &[&input], Flush::OncePerRead);
    prop_assert_eq!(&every, &once);
    prop_assert_eq!(&every, &whole);
    prop_assert_eq!(
        read_back(&mut side(ws_pair(), false), &every),
        owed(ops, close)
    );
    Ok(())
}

/// Feeds requests to an HTTP server machine, answering each with its target.
fn drive_http(pieces: &[&[u8]], flush: Flush) -> Vec<u8> {
    let mut conn = http::Connection::new(Instant::ZERO, &Limits::default());
    let mut wire = Vec::new();
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut target = String::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        while let Ok(step) = conn.feed(Instant::ZERO, &buf, &mut out) {
            let progressed = step.consumed > 0 || step.event.is_some();
            match step.event {
                Some(http::Event::Request(r)) => target = r.target.to_string(),
                Some(http::Event::End) => {
                    conn.respond(200, &[], target.as_bytes(), &mut out).unwrap()
                }
                _ => {}
            }
            let consumed = step.consumed;
            buf.drain(..consumed);
            if let Flush::EveryStep = flush {
                wire.append(&mut out);
            }
            if !progressed {
                break;
            }
        }
        wire.append(&mut out);
    }
    wire
}
