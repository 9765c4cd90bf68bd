//! permessage-deflate on whole connections: handshake to frames, both roles, the RSV1 rules,
//! limits on inflated bytes, and which codecs a connection holds.

use super::{ClientConfig, ServerConfig};
use crate::http;
use crate::ws::frame::{Header, OpCode};
use crate::ws::{ClientHandshake, Connection, Event, HandshakeError, MessageKind, PeerError};
use crate::{Instant, Limits};
use alloc::string::String;
use alloc::vec::Vec;

const KEY: &[u8] = b"dGhlIHNhbXBsZSBub25jZQ==";
const NONCE: [u8; 16] = *b"the sample nonce";

/// A server connection after a handshake whose request offered `offer`; the answer's
/// `Sec-WebSocket-Extensions` value, if any.
fn server_with(
    offer: Option<&str>,
    config: ServerConfig,
    limits: &Limits,
) -> (Connection, Option<String>) {
    let mut http = http::Connection::new(Instant::ZERO, limits);
    let mut out = Vec::new();
    let mut req = alloc::format!(
        "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n",
        core::str::from_utf8(KEY).unwrap()
    );
    if let Some(offer) = offer {
        req.push_str(&alloc::format!("Sec-WebSocket-Extensions: {offer}\r\n"));
    }
    req.push_str("\r\n");
    let step = http.feed(Instant::ZERO, req.as_bytes(), &mut out).unwrap();
    let Some(http::Event::Request(r)) = step.event else {
        panic!("request")
    };
    let proof = crate::ws::check_request(&r)
        .unwrap()
        .with_deflate(config)
        .accept(None, &[], &mut http, &mut out)
        .unwrap();
    let answer = String::from_utf8(out).unwrap();
    let ext = answer
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Extensions: "))
        .map(String::from);
    (Connection::new(proof, limits), ext)
}

/// A client connection after its deflate offer was answered with `answer`.
fn client_with(answer: Option<&str>, config: ClientConfig) -> Result<Connection, HandshakeError> {
    let limits = Limits::default();
    let hs = ClientHandshake::with_nonce(NONCE, crate::entropy::seeded(7)).with_deflate(config);
    let mut http = http::client::Connection::new(&limits);
    let mut out = Vec::new();
    hs.send_request("a", "/", &[], &[], &mut http, &mut out)
        .unwrap();
    let request = String::from_utf8(out).unwrap();
    let offer = alloc::format!(
        "Sec-WebSocket-Extensions: {}\r\n",
        core::str::from_utf8(&config.offer()).unwrap()
    );
    assert!(request.contains(&offer), "{request}");
    let mut resp = String::from(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
    );
    if let Some(a) = answer {
        resp.push_str(&alloc::format!("Sec-WebSocket-Extensions: {a}\r\n"));
    }
    resp.push_str("\r\n");
    let step = http.feed(resp.as_bytes()).unwrap();
    let Some(http::client::Event::Response(r)) = step.event else {
        panic!("response")
    };
    let (proof, _) = hs.verify(&r, &[])?;
    Ok(Connection::new(proof, &limits))
}

/// A server and a client that agreed with the default configurations.
fn pair() -> (Connection, Connection) {
    let offer = ClientConfig::default().offer();
    let (server, answer) = server_with(
        Some(core::str::from_utf8(&offer).unwrap()),
        ServerConfig::default(),
        &Limits::default(),
    );
    let client = client_with(answer.as_deref(), ClientConfig::default()).unwrap();
    (server, client)
}

/// Frames in `wire`: (header, unmasked payload).
fn frames(wire: &[u8]) -> Vec<(Header, Vec<u8>)> {
    let mut rest = wire;
    let mut out = Vec::new();
    while let Some((h, n)) = Header::decode(rest).unwrap() {
        let len = h.len as usize;
        let mut payload = rest[n..n + len].to_vec();
        if let Some(key) = h.mask {
            crate::ws::apply_mask(&mut payload, key, 0);
        }
        out.push((h, payload));
        rest = &rest[n + len..];
    }
    assert!(rest.is_empty());
    out
}

#[derive(Debug, PartialEq, Eq)]
enum Got {
    Text(String),
    Binary(Vec<u8>),
    Fragment(Vec<u8>, bool),
    Ping(Vec<u8>),
    Close(Option<u16>),
}

/// Feeds `wire` to `conn` whole; the events, the output and the error if any.
fn feed(conn: &mut Connection, wire: &[u8]) -> (Vec<Got>, Vec<u8>, Option<PeerError>) {
    let mut buf = wire.to_vec();
    let mut at = 0;
    let (mut got, mut out) = (Vec::new(), Vec::new());
    while at < buf.len() {
        match conn.feed(Instant::ZERO, &mut buf[at..], &mut out) {
            Err(e) => return (got, out, Some(e)),
            Ok(step) => {
                at += step.consumed;
                match step.event {
                    Some(Event::Text(t)) => got.push(Got::Text(t.into_owned())),
                    Some(Event::Binary(b)) => got.push(Got::Binary(b.into_owned())),
                    Some(Event::Fragment { data, last, .. }) => {
                        got.push(Got::Fragment(data.into_owned(), last));
                    }
                    Some(Event::Ping(p)) => got.push(Got::Ping(p.to_vec())),
                    Some(Event::Close { code, .. }) => got.push(Got::Close(code.map(|c| c.0))),
                    Some(_) => {}
                    None if step.consumed == 0 => break,
                    None => {}
                }
            }
        }
    }
    (got, out, None)
}

/// A frame as a client sends it (mask of zeros keeps the payload readable in tests).
fn client_frame(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    Header {
        fin: first_byte & 0x80 != 0,
        rsv: (first_byte >> 4) & 0x7,
        opcode: OpCode::from_bits(first_byte & 0xf).unwrap(),
        mask: Some([0; 4]),
        len: payload.len() as u64,
    }
    .encode(&mut wire);
    wire.extend_from_slice(payload);
    wire
}

const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

#[test]
fn default_handshake_agrees_and_answers_server_no_context_takeover() {
    let (server, answer) = server_with(
        Some("permessage-deflate; client_max_window_bits; client_no_context_takeover"),
        ServerConfig::default(),
        &Limits::default(),
    );
    assert_eq!(
        answer.as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
    assert_eq!(
        server.codecs_held(),
        (false, false),
        "nothing allocated up front"
    );
}

#[test]
fn no_offer_or_no_config_means_no_extension_and_rsv1_is_refused() {
    let (mut server, answer) = server_with(None, ServerConfig::default(), &Limits::default());
    assert_eq!(answer, None);
    let (_, _, err) = feed(&mut server, &client_frame(0xc1, &HELLO));
    assert_eq!(err, Some(PeerError::ReservedBits));
}

#[test]
fn rfc7692_hello_to_server_is_inflated() {
    let (mut server, _) = pair();
    let (got, _, err) = feed(&mut server, &client_frame(0xc1, &HELLO));
    assert_eq!((got, err), (vec![Got::Text("Hello".into())], None));
}

#[test]
fn both_roles_round_trip_with_rsv1_on_the_first_frame_only() {
    let (mut server, mut client) = pair();
    let text = "{\"topic\":\"prices\",\"value\":42}".repeat(40);
    // Client → server, one frame.
    let mut wire = Vec::new();
    client.send_text(&text, &mut wire).unwrap();
    let f = frames(&wire);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].0.rsv, 0b100);
    assert!(
        f[0].1.len() < text.len() / 4,
        "compressed: {}",
        f[0].1.len()
    );
    assert_eq!(feed(&mut server, &wire).0, vec![Got::Text(text.clone())]);
    // Server → client, fragmented: RSV1 on the first frame only.
    let mut wire = Vec::new();
    server
        .send_fragment(MessageKind::Text, &text.as_bytes()[..500], false, &mut wire)
        .unwrap();
    server.send_ping(b"p", &mut wire).unwrap();
    server
        .send_fragment(MessageKind::Text, &text.as_bytes()[500..], true, &mut wire)
        .unwrap();
    let f = frames(&wire);
    let rsv: Vec<u8> = f.iter().map(|(h, _)| h.rsv).collect();
    assert_eq!(
        rsv,
        [0b100, 0, 0],
        "first data frame only; control frames never"
    );
    assert_eq!(f[1].1, b"p", "control payloads are not compressed");
    let (got, _, err) = feed(&mut client, &wire);
    assert_eq!(err, None);
    assert_eq!(got, vec![Got::Ping(b"p".to_vec()), Got::Text(text)]);
}

#[test]
fn rsv1_on_continuation_or_control_frame_closes_1002() {
    for wire in [
        [
            client_frame(0x41, &HELLO[..3]),
            client_frame(0xc0, &HELLO[3..]),
        ]
        .concat(),
        client_frame(0xc9, b"ping"),
        client_frame(0xa1, &HELLO),
    ] {
        let (mut server, _) = pair();
        let (_, out, err) = feed(&mut server, &wire);
        assert_eq!(err, Some(PeerError::ReservedBits), "{wire:x?}");
        assert_eq!(
            frames(&out).last().map(|(_, p)| p[..2].to_vec()),
            Some(vec![0x03, 0xea])
        );
    }
}

#[test]
fn invalid_deflate_data_closes_1007() {
    let (mut server, _) = pair();
    let (_, out, err) = feed(&mut server, &client_frame(0xc2, &[0x07, 0x00]));
    assert_eq!(err, Some(PeerError::InvalidCompressedData));
    assert_eq!(frames(&out)[0].1[..2], [0x03, 0xef]);
}

#[test]
fn inflated_invalid_utf8_fails_fast_before_the_message_ends() {
    // A stored block holding 0xff, in a first fragment: text cannot continue from there.
    let (mut server, _) = pair();
    let stored = [0x00, 0x01, 0x00, 0xfe, 0xff, 0xff];
    let (_, _, err) = feed(&mut server, &client_frame(0x41, &stored));
    assert_eq!(err, Some(PeerError::InvalidUtf8));
}

#[test]
fn bomb_closes_1009_on_inflated_size() {
    let limits = Limits {
        max_message_bytes: 64 * 1024,
        ..Limits::default()
    };
    let (mut server, _) = server_with(Some("permessage-deflate"), ServerConfig::default(), &limits);
    // One MiB of 'a' from a client compressor: a small frame, a big message.
    let mut c = super::message::Compressor::new(true, 15, 9);
    let mut payload = Vec::new();
    c.compress(&[b'a'; 1 << 20], true, &mut payload);
    assert!(payload.len() < 8 * 1024);
    let (got, out, err) = feed(&mut server, &client_frame(0xc1, &payload));
    assert_eq!((got, err), (vec![], Some(PeerError::MessageTooLarge)));
    assert_eq!(frames(&out)[0].1[..2], [0x03, 0xf1]);
}

#[test]
fn empty_message_is_a_single_zero_byte_with_rsv1() {
    let (mut server, mut client) = pair();
    let mut wire = Vec::new();
    server.send_binary(b"", &mut wire).unwrap();
    let f = frames(&wire);
    assert_eq!((f[0].0.rsv, f[0].1.as_slice()), (0b100, &[0x00][..]));
    assert_eq!(feed(&mut client, &wire).0, vec![Got::Binary(Vec::new())]);
}

#[test]
fn incompressible_message_without_context_goes_uncompressed() {
    let (mut server, mut client) = pair();
    let noise: Vec<u8> = (0..300u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut wire = Vec::new();
    server.send_binary(&noise, &mut wire).unwrap();
    let f = frames(&wire);
    assert_eq!((f[0].0.rsv, f[0].1.len()), (0, noise.len()));
    assert_eq!(feed(&mut client, &wire).0, vec![Got::Binary(noise)]);
}

#[test]
fn fragment_delivery_hands_out_inflated_pieces() {
    let (mut server, _) = pair();
    server.set_fragment_delivery(true);
    let wire = [
        client_frame(0x41, &HELLO[..3]),
        client_frame(0x80, &HELLO[3..]),
    ]
    .concat();
    let (got, _, err) = feed(&mut server, &wire);
    assert_eq!(err, None);
    let joined: Vec<u8> = got
        .iter()
        .flat_map(|g| match g {
            Got::Fragment(d, _) => d.clone(),
            _ => panic!("{g:?}"),
        })
        .collect();
    assert_eq!(joined, b"Hello");
    assert!(matches!(got.last(), Some(Got::Fragment(_, true))));
}

#[test]
fn codecs_are_held_only_while_context_is_kept() {
    // The default client keeps no context; the default server keeps none of its own.
    let (mut server, mut client) = pair();
    let mut wire = Vec::new();
    client.send_text("Hello Hello Hello", &mut wire).unwrap();
    assert_eq!(client.codecs_held(), (false, false));
    let _ = feed(&mut server, &wire);
    assert_eq!(
        server.codecs_held(),
        (false, false),
        "client_no_context_takeover: inflater dropped"
    );
    let mut wire = Vec::new();
    server.send_text("Hello Hello Hello", &mut wire).unwrap();
    assert_eq!(
        server.codecs_held(),
        (false, false),
        "server_no_context_takeover: compressor dropped"
    );
    let _ = feed(&mut client, &wire);
    assert_eq!(client.codecs_held(), (false, false));

    // A browser-like offer keeps its context, so the server keeps an inflater.
    let (mut server, _) = server_with(
        Some("permessage-deflate; client_max_window_bits"),
        ServerConfig::default(),
        &Limits::default(),
    );
    let _ = feed(&mut server, &client_frame(0xc1, &HELLO));
    assert_eq!(server.codecs_held(), (false, true));
}

#[test]
fn client_fails_on_answers_it_did_not_offer() {
    let config = ClientConfig::default();
    for (answer, error) in [
        (
            "x-webkit-deflate-frame",
            HandshakeError::UnrequestedExtension,
        ),
        (
            "permessage-deflate, permessage-deflate",
            HandshakeError::UnrequestedExtension,
        ),
        (
            "permessage-deflate; client_max_window_bits=16",
            HandshakeError::InvalidExtension,
        ),
        (
            "permessage-deflate; server_max_window_bits=7",
            HandshakeError::InvalidExtension,
        ),
        (
            "permessage-deflate; client_max_window_bits",
            HandshakeError::InvalidExtension,
        ),
    ] {
        assert_eq!(
            client_with(Some(answer), config).err(),
            Some(error),
            "{answer}"
        );
    }
    let asked = ClientConfig {
        server_max_window_bits: Some(10),
        ..ClientConfig::default()
    };
    assert_eq!(
        client_with(Some("permessage-deflate"), asked).err(),
        Some(HandshakeError::InvalidExtension),
        "a limit asked for must be confirmed"
    );
    assert_eq!(
        client_with(Some("permessage-deflate; server_max_window_bits=11"), asked).err(),
        Some(HandshakeError::InvalidExtension),
        "and not raised"
    );
    assert!(
        client_with(None, config).is_ok(),
        "a declined offer is fine"
    );
}

#[test]
fn window_limit_asked_by_the_client_is_respected_by_the_server() {
    let (mut server, answer) = server_with(
        Some("permessage-deflate; server_max_window_bits=9"),
        ServerConfig::default(),
        &Limits::default(),
    );
    assert!(answer.unwrap().ends_with("server_max_window_bits=9"));
    let block: Vec<u8> = super::checker::noise(2000, 1)
        .iter()
        .map(|b| b'a' + b % 16)
        .collect();
    let message = [&block[..], &block[..], &block[..]].concat();
    let mut wire = Vec::new();
    server.send_binary(&message, &mut wire).unwrap();
    let f = frames(&wire);
    let mut checker = super::checker::Checker::default();
    assert_eq!(checker.message(&f[0].1).unwrap(), message);
    assert!(checker.max_distance <= 512, "{}", checker.max_distance);
}

#[test]
fn uncompressed_on_purpose_between_compressed_messages_with_context_takeover() {
    // Context takeover on both sides: a message sent plain must not disturb either context.
    let offer = "permessage-deflate; client_max_window_bits";
    let config = ServerConfig {
        server_no_context_takeover: false,
        ..ServerConfig::default()
    };
    let (mut server, answer) = server_with(Some(offer), config, &Limits::default());
    let answer = answer.unwrap();
    let client_config = ClientConfig {
        client_no_context_takeover: false,
        ..ClientConfig::default()
    };
    let mut client = client_with(Some(&answer), client_config).unwrap();
    let mut wire = Vec::new();
    server
        .send_text("token=secret token=secret", &mut wire)
        .unwrap();
    server
        .send_uncompressed(MessageKind::Text, b"token=secret", &mut wire)
        .unwrap();
    server.send_text("token=secret again", &mut wire).unwrap();
    let rsv: Vec<u8> = frames(&wire).iter().map(|(h, _)| h.rsv).collect();
    assert_eq!(rsv, [0b100, 0, 0b100]);
    let (got, _, err) = feed(&mut client, &wire);
    assert_eq!(err, None);
    assert_eq!(
        got,
        vec![
            Got::Text("token=secret token=secret".into()),
            Got::Text("token=secret".into()),
            Got::Text("token=secret again".into())
        ]
    );
}

/// A message compressed once ([`super::compress_shared`]) and sent with `send_precompressed`
/// is byte for byte the frame the connection would have written itself, for every window and
/// for compressible, incompressible and tiny payloads.
#[test]
fn a_shared_compressed_message_is_the_frame_the_connection_would_write() {
    let json: Vec<u8> = (0..40)
        .flat_map(|i| {
            alloc::format!("{{\"seq\":{i},\"price\":{},\"sym\":\"ABC\"}}", i * 37).into_bytes()
        })
        .collect();
    let mut noise = Vec::new();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.push(x as u8);
    }
    let long = alloc::vec![b'a'; 70_000];
    for bits in 8..=15u8 {
        let offer = alloc::format!("permessage-deflate; server_max_window_bits={bits}");
        let limits = Limits::default();
        let (mut own, _) = server_with(Some(&offer), ServerConfig::default(), &limits);
        let (mut shared, _) = server_with(Some(&offer), ServerConfig::default(), &limits);
        let key = shared
            .shared_deflate()
            .expect("a stateless server compressor");
        assert_eq!(key.window_bits, bits);
        for payload in [&json[..], &noise[..], &b"hi"[..], &long[..]] {
            let mut expected = Vec::new();
            own.send_binary(payload, &mut expected).unwrap();
            let mut compressed = Vec::new();
            let mut got = Vec::new();
            if super::compress_shared(key, payload, &mut compressed) {
                shared
                    .send_precompressed(MessageKind::Binary, key, &compressed, &mut got)
                    .unwrap();
            } else {
                shared
                    .send_uncompressed(MessageKind::Binary, payload, &mut got)
                    .unwrap();
            }
            assert_eq!(got, expected, "window {bits}, {} bytes", payload.len());
        }
    }
}

#[test]
fn precompressed_messages_are_refused_where_they_would_be_wrong() {
    let limits = Limits::default();
    // Another window: another key.
    let (mut narrow, _) = server_with(
        Some("permessage-deflate; server_max_window_bits=9"),
        ServerConfig::default(),
        &limits,
    );
    let (wide, _) = server_with(Some("permessage-deflate"), ServerConfig::default(), &limits);
    let wide_key = wide.shared_deflate().unwrap();
    let mut out = Vec::new();
    assert_eq!(
        narrow.send_precompressed(MessageKind::Text, wide_key, b"x", &mut out),
        Err(crate::ws::UsageError::NotShared)
    );
    assert!(out.is_empty());
    // Context takeover for the server: each message depends on the ones before.
    let keep = ServerConfig {
        server_no_context_takeover: false,
        ..ServerConfig::default()
    };
    let (kept, _) = server_with(Some("permessage-deflate"), keep, &limits);
    assert_eq!(kept.shared_deflate(), None);
    // No compression agreed, and a client (which masks every frame).
    let (plain, _) = server_with(None, ServerConfig::default(), &limits);
    assert_eq!(plain.shared_deflate(), None);
    let client = client_with(
        Some("permessage-deflate; server_no_context_takeover"),
        ClientConfig::default(),
    )
    .unwrap();
    assert_eq!(client.shared_deflate(), None);
}
