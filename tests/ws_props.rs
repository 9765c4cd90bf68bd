//! Properties of the WebSocket machines that must hold for every input.

mod common;

use common::{WsEv, drive_ws, ws_pair};
use proptest::prelude::*;
use pushwire::Limits;
use pushwire::ws::{CloseCode, Header, MessageKind, OpCode};

#[derive(Clone, Debug)]
enum Op {
    Message {
        text: bool,
        payload: Vec<u8>,
        pieces: Vec<prop::sample::Index>,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..400), proptest::collection::vec(any::<prop::sample::Index>(), 0..4))
            .prop_map(|(text, payload, pieces)| Op::Message { text, payload, pieces }),
        1 => proptest::collection::vec(any::<u8>(), 0..126).prop_map(Op::Ping),
        1 => proptest::collection::vec(any::<u8>(), 0..126).prop_map(Op::Pong),
    ]
}

/// Text payloads must be UTF-8: map arbitrary bytes to a string.
fn as_text(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| char::from(b'a' + b % 26))
        .collect::<String>()
        + "é€𝄞"
}

proptest! {
    #[test]
    fn client_to_server_any_fragmentation_and_split_round_trips(
        ops in proptest::collection::vec(op_strategy(), 1..8),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let limits = Limits::default();
        let (mut server, mut client) = ws_pair(&limits);
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        for op in &ops {
            match op {
                Op::Message { text, payload, pieces } => {
                    let bytes = if *text { as_text(payload).into_bytes() } else { payload.clone() };
                    let kind = if *text { MessageKind::Text } else { MessageKind::Binary };
                    // Cut at character boundaries for text so each fragment call is valid input.
                    let mut cuts: Vec<usize> = pieces.iter().map(|i| i.index(bytes.len() + 1)).collect();
                    cuts.sort_unstable();
                    cuts.dedup();
                    let mut start = 0;
                    for &c in &cuts {
                        client.send_fragment(kind, &bytes[start..c], false, &mut wire).unwrap();
                        start = c;
                    }
                    client.send_fragment(kind, &bytes[start..], true, &mut wire).unwrap();
                    expected.push(if *text { WsEv::Text(String::from_utf8(bytes).unwrap()) } else { WsEv::Binary(bytes) });
                }
                Op::Ping(p) => {
                    client.send_ping(&p[..p.len().min(125)], &mut wire).unwrap();
                    expected.push(WsEv::Ping(p[..p.len().min(125)].to_vec()));
                }
                Op::Pong(p) => {
                    client.send_pong(&p[..p.len().min(125)], &mut wire).unwrap();
                    expected.push(WsEv::Pong(p[..p.len().min(125)].to_vec()));
                }
            }
        }
        let mut offsets: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        offsets.sort_unstable();
        let (events, _, error, consumed) = drive_ws(&mut server, &wire, &offsets);
        prop_assert_eq!(error, None);
        prop_assert_eq!(consumed, wire.len());
        prop_assert_eq!(events, expected);
    }

    #[test]
    fn frame_header_encode_decode_round_trips(
        fin in any::<bool>(),
        op in prop::sample::select(vec![OpCode::Continuation, OpCode::Text, OpCode::Binary, OpCode::Close, OpCode::Ping, OpCode::Pong]),
        len in prop_oneof![0u64..200, 60_000u64..70_000, any::<u64>().prop_map(|l| l >> 1)],
        mask in proptest::option::of(any::<[u8; 4]>()),
        rsv in 0u8..8,
    ) {
        let h = Header { fin, rsv, opcode: op, mask, len };
        let mut out = Vec::new();
        h.encode(&mut out);
        prop_assert_eq!(Header::decode(&out).unwrap(), Some((h, out.len())));
    }

    #[test]
    fn server_to_client_split_anywhere_same_events(
        messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..2000), 1..5),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let (mut server, mut client) = ws_pair(&Limits::default());
        let mut wire = Vec::new();
        for m in &messages {
            server.send_binary(m, &mut wire).unwrap();
        }
        server.send_close(Some(CloseCode::NORMAL), "bye", &mut wire).unwrap();
        let mut offsets: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        offsets.sort_unstable();
        let (events, out, error, _) = drive_ws(&mut client, &wire, &offsets);
        prop_assert_eq!(error, None);
        let mut expected: Vec<WsEv> = messages.into_iter().map(WsEv::Binary).collect();
        expected.push(WsEv::Close(Some(1000), "bye".into()));
        prop_assert_eq!(events, expected);
        // The client answered the close (masked, so only its header is predictable).
        prop_assert_eq!(out[0], 0x88);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded(
        input in proptest::collection::vec(any::<u8>(), 0..2000),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        as_client in any::<bool>(),
    ) {
        let limits = Limits { max_frame_bytes: 256, max_message_bytes: 512, ..Limits::default() };
        let (server, client) = ws_pair(&limits);
        let mut conn = if as_client { client } else { server };
        let mut offsets: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        offsets.sort_unstable();
        let (events, out, _, consumed) = drive_ws(&mut conn, &input, &offsets);
        prop_assert!(consumed <= input.len());
        // Output is pongs (≤ 131 bytes each, one per ping event) and at most one close frame.
        let pings = events.iter().filter(|e| matches!(e, WsEv::Ping(_))).count();
        prop_assert!(out.len() <= (pings + 1) * 131);
        for e in &events {
            if let WsEv::Binary(b) = e { prop_assert!(b.len() <= 512); }
            if let WsEv::Text(t) = e { prop_assert!(t.len() <= 512); }
        }
    }
}
