//! Scenario tests for the WebSocket machines: RFC 6455 §5.7 vectors three ways, every close,
//! 1002, 1007 and 1009 rule, and a pair harness (server ↔ client in memory, virtual time).

use super::*;
use crate::http;
use crate::limits::Limits;
use crate::time::Instant;
use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    Text(String),
    Binary(Vec<u8>),
    Fragment {
        text: bool,
        first: bool,
        data: Vec<u8>,
        last: bool,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
}

impl From<Event<'_>> for Ev {
    fn from(e: Event<'_>) -> Ev {
        match e {
            Event::Text(t) => Ev::Text(t.into_owned()),
            Event::Binary(b) => Ev::Binary(b.into_owned()),
            Event::Fragment {
                text,
                first,
                data,
                last,
            } => Ev::Fragment {
                text,
                first,
                data: data.to_vec(),
                last,
            },
            Event::Ping(p) => Ev::Ping(p.to_vec()),
            Event::Pong(p) => Ev::Pong(p.to_vec()),
            Event::Close { code, reason } => Ev::Close(code.map(|c| c.0), reason.to_string()),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Run {
    events: Vec<Ev>,
    out: Vec<u8>,
    consumed: usize,
    error: Option<PeerError>,
    closed: bool,
}

const NONCE: [u8; 16] = *b"the sample nonce";

fn server(limits: &Limits) -> Connection {
    let mut http = http::Connection::new(Instant::ZERO, limits);
    let mut out = Vec::new();
    let req = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let step = http.feed(Instant::ZERO, req, &mut out).unwrap();
    let Some(http::Event::Request(r)) = step.event else {
        panic!("request")
    };
    let proof = check_request(&r)
        .unwrap()
        .accept(None, &[], &mut http, &mut out)
        .unwrap();
    Connection::new(proof, limits)
}

fn client(limits: &Limits) -> Connection {
    client_with_keys(
        limits,
        ClientHandshake::with_nonce(NONCE, crate::entropy::seeded(7)),
    )
}

/// A client connection after `hs` got the RFC's sample answer.
fn client_with_keys(limits: &Limits, hs: ClientHandshake) -> Connection {
    let mut http = http::client::Connection::new(limits);
    let mut out = Vec::new();
    hs.send_request("a", "/", &[], &[], &mut http, &mut out)
        .unwrap();
    let resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let step = http.feed(resp).unwrap();
    let Some(http::client::Event::Response(r)) = step.event else {
        panic!("response")
    };
    let (proof, _) = hs.verify(&r, &[]).unwrap();
    Connection::new(proof, limits)
}

fn drive(mut conn: Connection, input: &[u8], step: usize) -> Run {
    let mut buf = input.to_vec();
    let mut run = Run {
        events: Vec::new(),
        out: Vec::new(),
        consumed: 0,
        error: None,
        closed: false,
    };
    let mut offered = step.min(buf.len());
    loop {
        let avail = &mut buf[run.consumed..offered];
        let len = avail.len();
        match conn.feed(Instant::ZERO, avail, &mut run.out) {
            Err(e) => {
                run.error = Some(e);
                break;
            }
            Ok(s) => {
                assert!(s.consumed <= len);
                run.consumed += s.consumed;
                let progressed = s.consumed > 0 || s.event.is_some();
                if let Some(e) = s.event {
                    let e = Ev::from(e);
                    match (run.events.last_mut(), &e) {
                        // Fragment boundaries depend on the split; merge for comparison.
                        (
                            Some(Ev::Fragment {
                                data, last: false, ..
                            }),
                            Ev::Fragment {
                                data: more,
                                last,
                                first: false,
                                ..
                            },
                        ) => {
                            data.extend_from_slice(more);
                            let l = *last;
                            if let Some(Ev::Fragment { last, .. }) = run.events.last_mut() {
                                *last = l;
                            }
                        }
                        _ => run.events.push(e),
                    }
                }
                if !progressed {
                    if offered == buf.len() {
                        break;
                    }
                    offered = (offered + step).min(buf.len());
                }
            }
        }
    }
    run.closed = conn.is_closed();
    run
}

/// Runs `input` whole, byte by byte, and with a partial frame after it (left unconsumed).
fn three_ways(make: impl Fn() -> Connection, input: &[u8]) -> Run {
    let whole = drive(make(), input, input.len());
    let bytewise = drive(make(), input, 1);
    assert_eq!(
        whole.events, bytewise.events,
        "byte-at-a-time events differ"
    );
    assert_eq!(whole.out, bytewise.out, "byte-at-a-time output differs");
    assert_eq!(
        (whole.error, whole.closed),
        (bytewise.error, bytewise.closed)
    );
    if whole.error.is_none() && !whole.closed {
        let mut trailing = input.to_vec();
        trailing.extend_from_slice(&[0x82, 0xfe, 0x01]);
        let t = drive(make(), &trailing, trailing.len());
        assert_eq!(t.events, whole.events);
        assert_eq!(
            t.consumed,
            input.len(),
            "trailing partial frame was consumed"
        );
    }
    whole
}

fn srv() -> Connection {
    server(&Limits::default())
}

fn cli() -> Connection {
    client(&Limits::default())
}

/// The close code in the first close frame of a server's (unmasked) output.
fn close_code_sent(out: &[u8]) -> Option<u16> {
    let mut rest = out;
    while let Ok(Some((h, n))) = Header::decode(rest) {
        let payload = &rest[n..n + h.len as usize];
        if h.opcode == OpCode::Close {
            return (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
        }
        rest = &rest[n + h.len as usize..];
    }
    None
}

/// Masks a frame as a client would (key 0x37fa213d).
fn masked(fin_op: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = Vec::new();
    Header {
        fin: fin_op & 0x80 != 0,
        rsv: (fin_op >> 4) & 7,
        opcode: OpCode::from_bits(fin_op & 0xf).unwrap(),
        mask: Some(key),
        len: payload.len() as u64,
    }
    .encode(&mut out);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], key, 0);
    out
}

// ----- RFC 6455 §5.7 examples -----

#[test]
fn rfc6455_5_7_unmasked_text_to_client_is_hello() {
    let r = three_ways(cli, &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(r.events, vec![Ev::Text("Hello".into())]);
}

#[test]
fn rfc6455_5_7_masked_text_to_server_is_hello() {
    let r = three_ways(
        srv,
        &[
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ],
    );
    assert_eq!(r.events, vec![Ev::Text("Hello".into())]);
}

#[test]
fn rfc6455_5_7_fragmented_text_to_client_is_hello() {
    let r = three_ways(cli, &[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]);
    assert_eq!(r.events, vec![Ev::Text("Hello".into())]);
}

#[test]
fn rfc6455_5_7_ping_to_client_answered_with_masked_pong() {
    let r = three_ways(cli, &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(r.events, vec![Ev::Ping(b"Hello".to_vec())]);
    // The client's pong is masked; unmask it and check.
    let (h, n) = Header::decode(&r.out).unwrap().unwrap();
    assert_eq!((h.opcode, h.len, h.fin), (OpCode::Pong, 5, true));
    let mut payload = r.out[n..].to_vec();
    apply_mask(&mut payload, h.mask.unwrap(), 0);
    assert_eq!(payload, b"Hello");
}

#[test]
fn rfc6455_5_7_masked_pong_to_server_is_delivered() {
    let r = three_ways(
        srv,
        &[
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ],
    );
    assert_eq!(r.events, vec![Ev::Pong(b"Hello".to_vec())]);
}

#[test]
fn rfc6455_5_7_binary_256_and_64k_single_frames() {
    let mut wire = vec![0x82, 0x7e, 0x01, 0x00];
    wire.extend(vec![7u8; 256]);
    wire.extend_from_slice(&[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
    wire.extend(vec![9u8; 65536]);
    let whole = drive(cli(), &wire, wire.len());
    assert_eq!(
        whole.events,
        vec![Ev::Binary(vec![7; 256]), Ev::Binary(vec![9; 65536])]
    );
    let pieces = drive(cli(), &wire, 1000);
    assert_eq!(pieces.events, whole.events);
}

#[test]
fn server_echo_frame_is_unmasked_minimal_length() {
    let mut conn = srv();
    let mut out = Vec::new();
    conn.send_text("Hello", &mut out).unwrap();
    assert_eq!(out, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    out.clear();
    conn.send_binary(&[0; 256], &mut out).unwrap();
    assert_eq!(&out[..4], [0x82, 0x7e, 0x01, 0x00]);
}

// ----- 1002: protocol errors -----

fn fails_with(make: fn() -> Connection, wire: &[u8], error: PeerError, code: u16) {
    let r = three_ways(make, wire);
    assert_eq!(r.error, Some(error));
    assert_eq!(close_code_sent_any(&r.out), Some(code));
}

/// The close code of a close frame in either role's output.
fn close_code_sent_any(out: &[u8]) -> Option<u16> {
    let (h, n) = Header::decode(out).ok()??;
    let mut payload = out.get(n..n + h.len as usize)?.to_vec();
    if let Some(k) = h.mask {
        apply_mask(&mut payload, k, 0);
    }
    (h.opcode == OpCode::Close && payload.len() >= 2)
        .then(|| u16::from_be_bytes([payload[0], payload[1]]))
}

#[test]
fn server_gets_unmasked_frame_closes_1002() {
    fails_with(
        srv,
        &[0x81, 0x02, b'h', b'i'],
        PeerError::UnmaskedFrame,
        1002,
    );
}

#[test]
fn client_gets_masked_frame_closes_1002() {
    fails_with(cli, &masked(0x81, b"hi"), PeerError::MaskedFrame, 1002);
}

#[test]
fn frame_with_rsv_bits_closes_1002() {
    for rsv in [0x40, 0x20, 0x10, 0x70] {
        fails_with(
            srv,
            &masked(0x81 | rsv, b"x"),
            PeerError::ReservedBits,
            1002,
        );
    }
}

#[test]
fn frame_with_reserved_opcode_closes_1002() {
    for op in [3u8, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf] {
        fails_with(
            srv,
            &[0x80 | op, 0x80, 1, 2, 3, 4],
            PeerError::ReservedOpcode,
            1002,
        );
    }
}

#[test]
fn frame_length_top_bit_closes_1002() {
    fails_with(
        srv,
        &[0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4],
        PeerError::LengthTopBit,
        1002,
    );
}

#[test]
fn control_frame_fragmented_closes_1002() {
    fails_with(srv, &masked(0x09, b"x"), PeerError::FragmentedControl, 1002);
}

#[test]
fn control_frame_over_125_closes_1002() {
    fails_with(
        srv,
        &masked(0x89, &[0; 126]),
        PeerError::ControlTooLong,
        1002,
    );
}

#[test]
fn continuation_without_message_closes_1002() {
    fails_with(
        srv,
        &masked(0x80, b"x"),
        PeerError::UnexpectedContinuation,
        1002,
    );
}

#[test]
fn new_message_inside_fragmented_message_closes_1002() {
    let mut wire = masked(0x01, b"a");
    wire.extend(masked(0x81, b"b"));
    fails_with(srv, &wire, PeerError::ExpectedContinuation, 1002);
}

#[test]
fn control_frames_interleaved_in_fragments_are_delivered() {
    let mut wire = masked(0x01, b"Hel");
    wire.extend(masked(0x89, b"p"));
    wire.extend(masked(0x00, b""));
    wire.extend(masked(0x8a, b"q"));
    wire.extend(masked(0x80, b"lo"));
    let r = three_ways(srv, &wire);
    assert_eq!(
        r.events,
        vec![
            Ev::Ping(b"p".to_vec()),
            Ev::Pong(b"q".to_vec()),
            Ev::Text("Hello".into())
        ]
    );
    assert_eq!(r.out, [0x8a, 0x01, b'p']);
}

// ----- close handshake -----

#[test]
fn close_valid_codes_are_echoed() {
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ] {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice("bye ✓".as_bytes());
        let r = three_ways(srv, &masked(0x88, &payload));
        assert_eq!(r.events, vec![Ev::Close(Some(code), "bye ✓".into())]);
        assert_eq!(close_code_sent(&r.out), Some(code));
        assert!(r.closed, "server closes TCP after the handshake");
    }
}

#[test]
fn close_invalid_codes_close_1002() {
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        fails_with(
            srv,
            &masked(0x88, &code.to_be_bytes()),
            PeerError::InvalidCloseCode,
            1002,
        );
    }
}

#[test]
fn close_empty_payload_echoed_empty() {
    let r = three_ways(srv, &masked(0x88, b""));
    assert_eq!(r.events, vec![Ev::Close(None, String::new())]);
    assert_eq!(r.out, [0x88, 0x00]);
}

#[test]
fn close_one_byte_payload_closes_1002() {
    fails_with(srv, &masked(0x88, &[3]), PeerError::CloseTooShort, 1002);
}

#[test]
fn close_reason_invalid_utf8_closes_1007() {
    fails_with(
        srv,
        &masked(0x88, &[0x03, 0xe8, 0xce, 0xba, 0xff]),
        PeerError::InvalidUtf8,
        1007,
    );
}

#[test]
fn data_after_close_is_ignored() {
    let mut wire = masked(0x88, &1000u16.to_be_bytes());
    wire.extend(masked(0x81, b"late"));
    let r = drive(srv(), &wire, wire.len());
    assert_eq!(r.events, vec![Ev::Close(Some(1000), String::new())]);
}

// ----- 1007: UTF-8 -----

#[test]
fn text_invalid_utf8_closes_1007() {
    fails_with(
        srv,
        &masked(
            0x81,
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
        ),
        PeerError::InvalidUtf8,
        1007,
    );
}

#[test]
fn text_invalid_utf8_across_fragments_closes_1007() {
    let mut wire = masked(0x01, b"\xce\xba\xe1");
    wire.extend(masked(0x80, b"\xbd"));
    fails_with(srv, &wire, PeerError::InvalidUtf8, 1007);
}

#[test]
fn text_truncated_character_at_end_closes_1007() {
    let mut wire = masked(0x01, b"ab");
    wire.extend(masked(0x80, b"\xe2\x82"));
    fails_with(srv, &wire, PeerError::InvalidUtf8, 1007);
}

#[test]
fn text_utf8_fails_fast_mid_frame_before_rest_arrives() {
    // A 20-byte text frame whose 3rd byte (0xC0) is never valid: only 9 bytes arrive.
    let wire = masked(0x81, b"ab\xc0\xafcdefghijklmnopq");
    let mut conn = srv();
    let mut out = Vec::new();
    let mut buf = wire[..9].to_vec();
    let s = conn.feed(Instant::ZERO, &mut buf, &mut out).unwrap();
    assert_eq!(s.consumed, 6, "the header is consumed");
    let err = conn
        .feed(Instant::ZERO, &mut buf[6..], &mut out)
        .unwrap_err();
    assert_eq!(err, PeerError::InvalidUtf8);
    assert_eq!(close_code_sent(&out), Some(1007));
}

#[test]
fn text_split_character_across_fragments_accepted() {
    let mut wire = masked(0x01, b"\xf0\x9d");
    wire.extend(masked(0x00, b"\x84"));
    wire.extend(masked(0x80, b"\x9e!"));
    let r = three_ways(srv, &wire);
    assert_eq!(r.events, vec![Ev::Text("𝄞!".into())]);
}

// ----- 1009: limits -----

#[test]
fn frame_over_limit_closes_1009_from_header() {
    let limits = Limits {
        max_frame_bytes: 100,
        ..Limits::default()
    };
    let mut conn = server(&limits);
    let mut out = Vec::new();
    // Only the header of a 1000-byte frame.
    let mut header = masked(0x82, &[0; 1000])[..8].to_vec();
    assert_eq!(
        conn.feed(Instant::ZERO, &mut header, &mut out).unwrap_err(),
        PeerError::FrameTooLarge
    );
    assert_eq!(close_code_sent(&out), Some(1009));
}

#[test]
fn message_over_limit_across_fragments_closes_1009() {
    let limits = Limits {
        max_message_bytes: 10,
        ..Limits::default()
    };
    let mut wire = masked(0x02, &[0; 6]);
    wire.extend(masked(0x80, &[0; 6]));
    let r = drive(server(&limits), &wire, 1);
    assert_eq!(r.error, Some(PeerError::MessageTooLarge));
    assert_eq!(close_code_sent(&r.out), Some(1009));
    let ok = drive(server(&limits), &wire[..12], 1);
    assert_eq!(ok.error, None);
}

// ----- fragment delivery -----

#[test]
fn fragment_delivery_hands_out_pieces_without_buffering() {
    let mut wire = masked(0x01, b"Hel");
    wire.extend(masked(0x80, b"lo"));
    let make = || {
        let mut c = srv();
        c.set_fragment_delivery(true);
        c
    };
    let r = three_ways(make, &wire);
    assert_eq!(
        r.events,
        vec![Ev::Fragment {
            text: true,
            first: true,
            data: b"Hello".to_vec(),
            last: true
        }]
    );
}

// ----- sending -----

#[test]
fn send_fragments_in_order_and_rules_enforced() {
    let mut conn = srv();
    let mut out = Vec::new();
    conn.send_fragment(MessageKind::Text, b"Hel", false, &mut out)
        .unwrap();
    assert_eq!(
        conn.send_text("x", &mut out),
        Err(UsageError::FragmentOrder)
    );
    assert_eq!(
        conn.send_fragment(MessageKind::Binary, b"x", true, &mut out),
        Err(UsageError::FragmentOrder)
    );
    conn.send_ping(b"", &mut out).unwrap();
    conn.send_fragment(MessageKind::Text, b"lo", true, &mut out)
        .unwrap();
    assert_eq!(
        out,
        [
            0x01, 0x03, b'H', b'e', b'l', 0x89, 0x00, 0x80, 0x02, b'l', b'o'
        ]
    );
    // The client machine reads it back.
    let r = drive(cli(), &out, 1);
    assert_eq!(r.events, vec![Ev::Ping(vec![]), Ev::Text("Hello".into())]);
}

#[test]
fn send_close_validates_code_and_reason() {
    let mut conn = srv();
    let mut out = Vec::new();
    assert_eq!(
        conn.send_close(Some(CloseCode(1005)), "", &mut out),
        Err(UsageError::InvalidCloseCode)
    );
    assert_eq!(
        conn.send_close(None, "why", &mut out),
        Err(UsageError::InvalidCloseCode)
    );
    assert_eq!(
        conn.send_close(Some(CloseCode::NORMAL), &"x".repeat(124), &mut out),
        Err(UsageError::ControlTooLong)
    );
    assert_eq!(
        conn.send_ping(&[0; 126], &mut out),
        Err(UsageError::ControlTooLong)
    );
    conn.send_close(Some(CloseCode::NORMAL), "done", &mut out)
        .unwrap();
    assert_eq!(conn.send_text("late", &mut out), Err(UsageError::Closing));
}

// ----- pair harness: two machines, bytes in memory, virtual time -----

struct Pair {
    server: Connection,
    client: Connection,
    now: Instant,
    to_server: Vec<u8>,
    to_client: Vec<u8>,
    server_events: Vec<Ev>,
    client_events: Vec<Ev>,
}

impl Pair {
    fn new(limits: &Limits) -> Pair {
        Pair {
            server: server(limits),
            client: client(limits),
            now: Instant::ZERO,
            to_server: Vec::new(),
            to_client: Vec::new(),
            server_events: Vec::new(),
            client_events: Vec::new(),
        }
    }

    /// Delivers bytes both ways until nothing moves.
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            for to_server in [true, false] {
                let (conn, inbox, outbox, events) = if to_server {
                    (
                        &mut self.server,
                        &mut self.to_server,
                        &mut self.to_client,
                        &mut self.server_events,
                    )
                } else {
                    (
                        &mut self.client,
                        &mut self.to_client,
                        &mut self.to_server,
                        &mut self.client_events,
                    )
                };
                loop {
                    let before = inbox.len();
                    let Ok(s) = conn.feed(self.now, inbox, outbox) else {
                        break;
                    };
                    let progressed = s.consumed > 0 || s.event.is_some();
                    if let Some(e) = s.event {
                        events.push(e.into());
                    }
                    let consumed = s.consumed;
                    inbox.drain(..consumed);
                    moved |= inbox.len() != before;
                    if !progressed {
                        break;
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now = self.now + by;
        self.server.handle_timeout(self.now, &mut self.to_client);
        self.client.handle_timeout(self.now, &mut self.to_server);
    }
}

#[test]
fn pair_messages_flow_both_ways() {
    let mut p = Pair::new(&Limits::default());
    p.client.send_text("hi server", &mut p.to_server).unwrap();
    p.server.send_binary(&[1, 2, 3], &mut p.to_client).unwrap();
    p.settle();
    assert_eq!(p.server_events, vec![Ev::Text("hi server".into())]);
    assert_eq!(p.client_events, vec![Ev::Binary(vec![1, 2, 3])]);
}

#[test]
fn pair_client_initiated_close_server_closes_tcp_first() {
    let mut p = Pair::new(&Limits::default());
    p.client
        .send_close(Some(CloseCode::NORMAL), "bye", &mut p.to_server)
        .unwrap();
    p.settle();
    assert_eq!(p.server_events, vec![Ev::Close(Some(1000), "bye".into())]);
    assert_eq!(p.client_events, vec![Ev::Close(Some(1000), String::new())]);
    assert!(
        p.server.is_closed(),
        "server closes TCP once the handshake completes"
    );
    assert!(
        !p.client.is_closed(),
        "client waits for the server's TCP close"
    );
    p.client.feed_eof(p.now).unwrap();
    assert!(p.client.is_closed());
}

#[test]
fn pair_server_initiated_close_completes() {
    let mut p = Pair::new(&Limits::default());
    p.server
        .send_close(Some(CloseCode::GOING_AWAY), "restart", &mut p.to_client)
        .unwrap();
    p.settle();
    assert_eq!(
        p.client_events,
        vec![Ev::Close(Some(1001), "restart".into())]
    );
    assert_eq!(p.server_events, vec![Ev::Close(Some(1001), String::new())]);
    assert!(p.server.is_closed());
}

#[test]
fn pair_client_waits_for_tcp_close_then_times_out() {
    let limits = Limits {
        close_timeout: Duration::from_secs(3),
        ..Limits::default()
    };
    let mut p = Pair::new(&limits);
    p.server
        .send_close(Some(CloseCode::NORMAL), "", &mut p.to_client)
        .unwrap();
    p.settle();
    assert!(!p.client.is_closed());
    assert_eq!(
        p.client.poll_timeout(),
        Some(p.now + Duration::from_secs(3))
    );
    p.advance(Duration::from_secs(3));
    assert!(p.client.is_closed());
}

#[test]
fn pair_close_timeout_when_peer_never_answers() {
    let limits = Limits {
        close_timeout: Duration::from_secs(2),
        ..Limits::default()
    };
    let mut p = Pair::new(&limits);
    p.server
        .send_close(Some(CloseCode::NORMAL), "", &mut p.to_client)
        .unwrap();
    p.to_client.clear(); // lost
    p.advance(Duration::from_secs(1));
    assert!(!p.server.is_closed());
    p.advance(Duration::from_secs(1));
    assert!(p.server.is_closed());
}

#[test]
fn pair_every_ping_gets_its_own_pong_in_order() {
    // RFC 6455 §5.5.2: each ping is answered; the pongs leave in the pings' order, written by
    // the `feed` call that read each ping, with no further call from the driver.
    let mut p = Pair::new(&Limits::default());
    p.client.send_ping(b"one", &mut p.to_server).unwrap();
    p.client.send_ping(b"two", &mut p.to_server).unwrap();
    p.client.send_ping(b"", &mut p.to_server).unwrap();
    let mut inbox = core::mem::take(&mut p.to_server);
    let mut out = Vec::new();
    let mut at = 0;
    while at < inbox.len() {
        let s = p.server.feed(p.now, &mut inbox[at..], &mut out).unwrap();
        assert!(s.consumed > 0);
        at += s.consumed;
    }
    p.to_client = out;
    p.settle();
    assert_eq!(
        p.client_events,
        vec![
            Ev::Pong(b"one".to_vec()),
            Ev::Pong(b"two".to_vec()),
            Ev::Pong(vec![])
        ]
    );
}

#[test]
fn pair_keepalive_pings_then_fails_silent_peer_1001() {
    let limits = Limits {
        ping_interval: Some(Duration::from_secs(10)),
        ..Limits::default()
    };
    let mut p = Pair::new(&limits);
    p.server.start(p.now);
    p.client.start(p.now);
    assert_eq!(
        p.server.poll_timeout(),
        Some(p.now + Duration::from_secs(10))
    );
    p.advance(Duration::from_secs(10));
    p.settle();
    // The client answered the ping: the server heard from it and stays open.
    assert!(p.client_events.contains(&Ev::Ping(vec![])));
    assert!(p.server_events.contains(&Ev::Pong(vec![])));
    assert!(!p.server.is_closing());
    // Now the client goes silent.
    p.advance(Duration::from_secs(10));
    p.to_server.clear();
    p.advance(Duration::from_secs(10));
    assert!(p.server.is_closing());
    assert_eq!(close_code_sent(&p.to_client), Some(1001));
}

#[test]
fn eof_after_our_close_but_before_theirs_is_abnormal_1006() {
    // §7.1.5: no close frame was received, so the close code is 1006 even though we sent one.
    let mut p = Pair::new(&Limits::default());
    p.client
        .send_close(Some(CloseCode::NORMAL), "", &mut p.to_server)
        .unwrap();
    assert_eq!(p.client.feed_eof(p.now), Err(PeerError::AbnormalClosure));
    assert!(p.client.is_closed());
}

/// The masking key of the one frame in `wire` (a client's frame of under 126 bytes).
fn mask_key(wire: &[u8]) -> [u8; 4] {
    assert!(wire[1] & 0x80 != 0 && wire[1] & 0x7f < 126);
    wire[2..6].try_into().unwrap()
}

#[test]
fn masking_keys_are_drawn_from_the_handshakes_entropy() {
    // §5.3: a fresh key per frame, from the source the caller gave.
    let mut source = crate::entropy::seeded(42);
    let mut expected = Vec::new();
    for _ in 0..3 {
        let mut key = [0u8; 4];
        crate::entropy::Entropy::fill(&mut source, &mut key);
        expected.extend_from_slice(&key);
    }
    let mut conn = client_with_keys(
        &Limits::default(),
        ClientHandshake::with_nonce(NONCE, crate::entropy::seeded(42)),
    );
    let mut keys = Vec::new();
    for _ in 0..3 {
        let mut out = Vec::new();
        conn.send_text("same text", &mut out).unwrap();
        keys.extend_from_slice(&mask_key(&out));
    }
    assert_eq!(keys, expected);
}

#[cfg(feature = "std")]
#[test]
fn same_nonce_gives_unrelated_keys_with_the_os_source() {
    // The nonce goes out in clear as Sec-WebSocket-Key: the keys must not follow from it.
    let limits = Limits::default();
    let keys = |_| {
        let mut conn = client_with_keys(
            &limits,
            ClientHandshake::with_nonce(NONCE, crate::entropy::OsEntropy),
        );
        let mut out = Vec::new();
        conn.send_text("x", &mut out).unwrap();
        conn.send_text("x", &mut out).unwrap();
        (mask_key(&out[..7]), mask_key(&out[7..]))
    };
    let (a1, a2) = keys(0);
    let (b1, b2) = keys(1);
    // Equal by chance with probability 2^-32 each.
    assert_ne!(a1, b1);
    assert_ne!(a2, b2);
    assert_ne!(a1, a2);
}

#[cfg(feature = "std")]
#[test]
fn the_nonce_comes_from_the_entropy_too() {
    let a = ClientHandshake::new(crate::entropy::OsEntropy);
    let b = ClientHandshake::new(crate::entropy::OsEntropy);
    assert_ne!(a.key(), b.key());
    let mut fixed = ClientHandshake::new(|d: &mut [u8]| d.fill(1));
    assert_eq!(fixed.key(), b"AQEBAQEBAQEBAQEBAQEBAQ==");
    fixed = ClientHandshake::with_nonce(*b"the sample nonce", |d: &mut [u8]| d.fill(1));
    assert_eq!(fixed.key(), b"dGhlIHNhbXBsZSBub25jZQ==");
}

#[test]
fn eof_without_close_is_abnormal_1006() {
    let mut conn = srv();
    assert_eq!(
        conn.feed_eof(Instant::ZERO),
        Err(PeerError::AbnormalClosure)
    );
    assert_eq!(PeerError::AbnormalClosure.close_code(), CloseCode::ABNORMAL);
    assert!(conn.is_closed());
}

// ----- handshake -----

fn handshake_result(req: &[u8]) -> Result<(), HandshakeError> {
    let mut http = http::Connection::new(Instant::ZERO, &Limits::default());
    let mut out = Vec::new();
    let step = http.feed(Instant::ZERO, req, &mut out).unwrap();
    let Some(http::Event::Request(r)) = step.event else {
        panic!("request")
    };
    match check_request(&r) {
        Ok(_) => Ok(()),
        Err(e) => {
            reject(e, &mut http, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.starts_with(&alloc::format!("HTTP/1.1 {} ", e.status())));
            if e.status() == 426 {
                assert!(text.contains("Sec-WebSocket-Version: 13\r\n"));
            }
            Err(e)
        }
    }
}

fn upgrade_request(method: &str, fields: &str) -> Vec<u8> {
    alloc::format!("{method} /chat HTTP/1.1\r\nHost: a\r\n{fields}\r\n").into_bytes()
}

const GOOD: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

#[test]
fn handshake_valid_request_accepted_case_insensitive_lists() {
    assert_eq!(handshake_result(&upgrade_request("GET", GOOD)), Ok(()));
    let lists = "Upgrade: h2c, WebSocket\r\nConnection: keep-alive, UPGRADE\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    assert_eq!(handshake_result(&upgrade_request("GET", lists)), Ok(()));
}

#[test]
fn handshake_wrong_method_is_400() {
    assert_eq!(
        handshake_result(&upgrade_request("POST", GOOD)),
        Err(HandshakeError::NotGet)
    );
}

#[test]
fn handshake_missing_upgrade_or_connection_is_400() {
    let no_upgrade = GOOD.replace("Upgrade: websocket\r\n", "");
    assert_eq!(
        handshake_result(&upgrade_request("GET", &no_upgrade)),
        Err(HandshakeError::NotUpgrade)
    );
    let no_conn = GOOD.replace("Connection: Upgrade", "Connection: keep-alive");
    assert_eq!(
        handshake_result(&upgrade_request("GET", &no_conn)),
        Err(HandshakeError::NotUpgrade)
    );
}

#[test]
fn handshake_bad_key_is_400() {
    for key in [
        "",
        "dGhlIHNhbXBsZSBub25jZQ",
        "dGhlIHNhbXBsZSBub25jZSE=",
        "not base64 at all!!!!!==",
    ] {
        let fields = GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", key);
        assert_eq!(
            handshake_result(&upgrade_request("GET", &fields)),
            Err(HandshakeError::InvalidKey),
            "{key}"
        );
    }
}

#[test]
fn handshake_other_version_is_426_with_version_13() {
    let fields = GOOD.replace("Version: 13", "Version: 8");
    assert_eq!(
        handshake_result(&upgrade_request("GET", &fields)),
        Err(HandshakeError::UnsupportedVersion)
    );
}

#[test]
fn handshake_subprotocol_must_be_offered() {
    let fields = alloc::format!(
        "{GOOD}Sec-WebSocket-Protocol: chat, superchat\r\nOrigin: http://example.com\r\n"
    );
    let req = upgrade_request("GET", &fields);
    let mut http = http::Connection::new(Instant::ZERO, &Limits::default());
    let mut out = Vec::new();
    let step = http.feed(Instant::ZERO, &req, &mut out).unwrap();
    let Some(http::Event::Request(r)) = step.event else {
        panic!()
    };
    let offer = check_request(&r).unwrap();
    assert_eq!(
        offer.protocols().collect::<Vec<_>>(),
        vec!["chat", "superchat"]
    );
    assert_eq!(offer.origin(), Some(&b"http://example.com"[..]));
    assert!(
        offer
            .accept(Some("mqtt"), &[], &mut http, &mut out)
            .is_err()
    );
    offer
        .accept(Some("chat"), &[], &mut http, &mut out)
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert!(text.contains("Sec-WebSocket-Protocol: chat\r\n"));
}

#[test]
fn client_verify_refuses_bad_answers() {
    let check = |resp: &[u8], protocols: &[&str]| {
        let hs = ClientHandshake::with_nonce(NONCE, crate::entropy::seeded(7));
        let mut http = http::client::Connection::new(&Limits::default());
        let mut out = Vec::new();
        hs.send_request("a", "/", protocols, &[], &mut http, &mut out)
            .unwrap();
        let step = http.feed(resp).unwrap();
        let Some(http::client::Event::Response(r)) = step.event else {
            panic!()
        };
        hs.verify(&r, protocols).map(|(_, p)| p.map(String::from))
    };
    let ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
    assert_eq!(check(alloc::format!("{ok}\r\n").as_bytes(), &[]), Ok(None));
    assert_eq!(
        check(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", &[]),
        Err(HandshakeError::NotSwitching)
    );
    let wrong = ok.replace(
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    );
    assert_eq!(
        check(alloc::format!("{wrong}\r\n").as_bytes(), &[]),
        Err(HandshakeError::WrongAccept)
    );
    let proto = alloc::format!("{ok}Sec-WebSocket-Protocol: chat\r\n\r\n");
    assert_eq!(
        check(proto.as_bytes(), &[]),
        Err(HandshakeError::UnrequestedProtocol)
    );
    assert_eq!(check(proto.as_bytes(), &["chat"]), Ok(Some("chat".into())));
    let ext = alloc::format!("{ok}Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n");
    assert_eq!(
        check(ext.as_bytes(), &[]),
        Err(HandshakeError::UnrequestedExtension)
    );
}

#[test]
fn data_frame_header_matches_the_frame_send_writes() {
    for len in [0usize, 125, 126, 65_535, 65_536, 1 << 20] {
        let payload = vec![b'x'; len];
        let mut conn = srv();
        let mut out = Vec::new();
        conn.send_binary(&payload, &mut out).unwrap();
        let (header, n) = srv()
            .data_frame_header(MessageKind::Binary, len as u64)
            .unwrap()
            .expect("a server sends payloads unchanged");
        assert_eq!(&header[..n], &out[..out.len() - len], "length {len}");
    }
    assert_eq!(
        cli().data_frame_header(MessageKind::Text, 5),
        Ok(None),
        "a client masks"
    );
    let mut conn = srv();
    let mut out = Vec::new();
    conn.send_fragment(MessageKind::Text, b"a", false, &mut out)
        .unwrap();
    assert_eq!(
        conn.data_frame_header(MessageKind::Text, 1),
        Err(UsageError::FragmentOrder)
    );
    let mut conn = srv();
    conn.send_close(Some(CloseCode::NORMAL), "", &mut out)
        .unwrap();
    assert_eq!(
        conn.data_frame_header(MessageKind::Binary, 1),
        Err(UsageError::Closing)
    );
}

// ----- gathering a large frame whole (`unfinished_frame`) -----

#[test]
fn an_unfinished_single_frame_message_announces_its_length_and_is_then_delivered_in_place() {
    let payload: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let wire = masked(0x82, &payload);
    let total = wire.len();
    let conn = srv();
    // Every prefix that holds the header announces the whole frame; a whole frame needs
    // nothing gathered; a prefix shorter than the header announces nothing yet.
    for cut in [0, 1, 9, 13, 14, 1000, total - 1] {
        let expected = (cut >= 14).then_some(total);
        assert_eq!(
            conn.unfinished_frame(&wire[..cut]),
            expected,
            "prefix {cut}"
        );
    }
    assert_eq!(conn.unfinished_frame(&wire), None);
    // Fed whole, it is handed out borrowed from the input: no copy.
    let mut conn = srv();
    let mut input = wire.clone();
    let mut out = Vec::new();
    let step = conn.feed(Instant::ZERO, &mut input, &mut out).unwrap();
    assert_eq!(step.consumed, total);
    match step.event {
        Some(Event::Binary(Cow::Borrowed(data))) => assert_eq!(data, &payload[..]),
        other => panic!("expected a borrowed binary message, got {other:?}"),
    }
}

#[test]
fn frames_that_would_not_be_delivered_in_place_are_not_announced() {
    let big = vec![b'a'; 70_000];
    let prefix = |wire: &[u8]| wire[..wire.len() / 2].to_vec();
    let conn = srv();
    // A message's first fragment, a continuation, a compressed frame, a control frame.
    assert_eq!(conn.unfinished_frame(&prefix(&masked(0x02, &big))), None);
    assert_eq!(conn.unfinished_frame(&prefix(&masked(0x80, &big))), None);
    assert_eq!(conn.unfinished_frame(&prefix(&masked(0xc2, &big))), None);
    assert_eq!(conn.unfinished_frame(&masked(0x89, b"ping")[..4]), None);
    // Over the frame limit: `feed` refuses it (1009), nothing is gathered for it.
    let small = Limits {
        max_frame_bytes: 60_000,
        ..Limits::default()
    };
    assert_eq!(
        server(&small).unfinished_frame(&prefix(&masked(0x82, &big))),
        None
    );
    // An unmasked frame to a server is an error for `feed` to answer (1002).
    let mut unmasked = Vec::new();
    Header {
        fin: true,
        rsv: 0,
        opcode: OpCode::Binary,
        mask: None,
        len: 70_000,
    }
    .encode(&mut unmasked);
    assert_eq!(conn.unfinished_frame(&unmasked), None);
    // Fragment delivery: pieces are handed out as they come anyway.
    let mut fragments = srv();
    fragments.set_fragment_delivery(true);
    assert_eq!(
        fragments.unfinished_frame(&prefix(&masked(0x82, &big))),
        None
    );
    // In the middle of a payload, or after our close frame: not at a frame the machine would
    // hand out whole.
    let mut mid = srv();
    let mut part = prefix(&masked(0x82, &big));
    let mut out = Vec::new();
    let step = mid.feed(Instant::ZERO, &mut part, &mut out).unwrap();
    assert!(step.consumed > 0);
    assert_eq!(mid.unfinished_frame(&prefix(&masked(0x82, &big))), None);
    let mut closing = srv();
    closing
        .send_close(Some(CloseCode::NORMAL), "", &mut out)
        .unwrap();
    assert_eq!(closing.unfinished_frame(&prefix(&masked(0x82, &big))), None);
}

#[test]
fn input_held_by_the_caller_keeps_the_keepalive_clock_from_failing_a_talking_peer() {
    let limits = Limits {
        ping_interval: Some(Duration::from_secs(10)),
        ..Limits::default()
    };
    let mut conn = server(&limits);
    conn.start(Instant::ZERO);
    let mut out = Vec::new();
    // Bytes of a large frame keep arriving (gathered by the caller, not fed) for 35 s.
    for s in (5..=35).step_by(5) {
        let now = Instant::ZERO + Duration::from_secs(s);
        conn.input_pending(now);
        assert_eq!(conn.poll_timeout(), Some(now + Duration::from_secs(10)));
        conn.handle_timeout(now, &mut out);
    }
    assert!(out.is_empty(), "no ping and no close while the peer talks");
    assert!(!conn.is_closing());
    // Without `input_pending`, the same 35 s would have failed it.
    let mut silent = server(&limits);
    silent.start(Instant::ZERO);
    for s in (5..=35).step_by(5) {
        silent.handle_timeout(Instant::ZERO + Duration::from_secs(s), &mut out);
    }
    assert!(silent.is_closing());
}
