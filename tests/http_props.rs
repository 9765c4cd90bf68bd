//! Properties of the HTTP/1.1 machines that must hold for every input.

mod common;

use common::{Ev, drive_http};
use proptest::prelude::*;
use pushwire::Limits;
use pushwire::http::{self, client};

#[derive(Clone, Debug)]
enum Body {
    None,
    Length(Vec<u8>),
    Chunked(Vec<Vec<u8>>),
}

fn request_strategy() -> impl Strategy<Value = (String, Body)> {
    let path = "/[a-z0-9]{0,12}(\\?[a-z]=[0-9]{1,3})?";
    let body = prop_oneof![
        Just(Body::None),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Body::Length),
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..32), 0..5)
            .prop_map(Body::Chunked),
    ];
    (path, body)
}

fn encode(requests: &[(String, Body)]) -> Vec<u8> {
    let mut wire = Vec::new();
    for (path, body) in requests {
        let method = if matches!(body, Body::None) {
            "GET"
        } else {
            "POST"
        };
        wire.extend_from_slice(
            format!("{method} {path} HTTP/1.1\r\nHost: example.com\r\n").as_bytes(),
        );
        match body {
            Body::None => wire.extend_from_slice(b"\r\n"),
            Body::Length(b) => {
                wire.extend_from_slice(format!("Content-Length: {}\r\n\r\n", b.len()).as_bytes());
                wire.extend_from_slice(b);
            }
            Body::Chunked(chunks) => {
                wire.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                for c in chunks {
                    http::encode_chunk(c, &mut wire);
                }
                http::encode_last_chunk(&[], &mut wire);
            }
        }
    }
    wire
}

proptest! {
    #[test]
    fn any_split_of_pipelined_requests_gives_same_events_and_output(
        requests in proptest::collection::vec(request_strategy(), 1..6),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let wire = encode(&requests);
        let limits = Limits::default();
        let whole = drive_http(&limits, &wire, &[]);
        prop_assert_eq!(whole.error, None);
        prop_assert_eq!(whole.consumed, wire.len());
        let ends = whole.events.iter().filter(|e| **e == Ev::End).count();
        prop_assert_eq!(ends, requests.len());
        let mut offsets: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        offsets.sort_unstable();
        let split = drive_http(&limits, &wire, &offsets);
        prop_assert_eq!(&split.events, &whole.events);
        prop_assert_eq!(&split.out, &whole.out);
        prop_assert_eq!(split.consumed, whole.consumed);
    }

    #[test]
    fn chunked_encode_decode_round_trips(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let wire = encode(&[("/".into(), Body::Chunked(chunks.clone()))]);
        let mut offsets: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        offsets.sort_unstable();
        let run = drive_http(&Limits::default(), &wire, &offsets);
        prop_assert_eq!(run.error, None);
        let body: Vec<u8> = chunks.concat();
        let data = run.events.iter().find_map(|e| match e { Ev::Data(d) => Some(d.clone()), _ => None }).unwrap_or_default();
        prop_assert_eq!(data, body);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_output_stays_bounded(
        input in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let limits = Limits { max_head_bytes: 256, max_request_line_bytes: 128, max_body_bytes: 256, ..Limits::default() };
        let mut offsets: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        offsets.sort_unstable();
        let run = drive_http(&limits, &input, &offsets);
        prop_assert!(run.consumed <= input.len());
        // Each request is answered with at most its own body plus a head; one error response.
        let requests = run.events.iter().filter(|e| matches!(e, Ev::Request { .. })).count();
        prop_assert!(run.out.len() <= (requests + 1) * (256 + 128));
    }

    #[test]
    fn arbitrary_prefix_then_valid_request_with_grammar_bytes(
        noise in "[A-Za-z0-9 :/\r\n\t;,-]{0,200}",
    ) {
        let limits = Limits::default();
        let mut input = noise.into_bytes();
        input.extend_from_slice(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let whole = drive_http(&limits, &input, &[]);
        let bytewise = drive_http(&limits, &input, &(1..input.len()).collect::<Vec<_>>());
        prop_assert_eq!(whole.events, bytewise.events);
        prop_assert_eq!(whole.out, bytewise.out);
        prop_assert_eq!(whole.error, bytewise.error);
    }

    #[test]
    fn client_parses_any_split_of_server_responses(
        bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 1..4),
        chunked in any::<bool>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut wire = Vec::new();
        for b in &bodies {
            if chunked {
                wire.extend_from_slice(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                http::encode_chunk(b, &mut wire);
                http::encode_last_chunk(&[], &mut wire);
            } else {
                wire.extend_from_slice(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", b.len()).as_bytes());
                wire.extend_from_slice(b);
            }
        }
        let cut = cut.index(wire.len() + 1);
        let got = client_bodies(&wire, bodies.len(), cut);
        prop_assert_eq!(got, bodies);
    }
}

/// `HeadParser` over `input` offered in growing prefixes ending at `cuts` (sorted), then
/// whole: the head's owned copy and length, or the error, as soon as one is known.
fn head_in_pieces(
    limits: &Limits,
    input: &[u8],
    cuts: &[usize],
) -> Result<Option<(http::OwnedRequest, usize)>, http::PeerError> {
    let mut parser = http::HeadParser::new(limits);
    for &end in cuts.iter().chain([&input.len()]) {
        if let Some((req, len)) = parser.parse(&input[..end])? {
            return Ok(Some((req.to_owned_request(), len)));
        }
    }
    Ok(None)
}

proptest! {
    /// A head found by the allocation-free parser is the same whatever the pieces it came in,
    /// and it is the request the connection reads from the same bytes.
    #[test]
    fn the_head_parser_gives_the_same_head_for_any_split(
        noise in "[A-Za-z0-9 :/\r\n\t;,-]{0,120}",
        requests in proptest::collection::vec(request_strategy(), 1..2),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        keep_noise in any::<bool>(),
    ) {
        let limits = Limits::default();
        let mut input = if keep_noise { noise.into_bytes() } else { Vec::new() };
        input.extend_from_slice(&encode(&requests));
        let whole = head_in_pieces(&limits, &input, &[]);
        let mut offsets: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        offsets.sort_unstable();
        let split = head_in_pieces(&limits, &input, &offsets);
        prop_assert_eq!(
            whole.as_ref().map(|h| h.as_ref().map(|(r, n)| (r.as_request(), *n))),
            split.as_ref().map(|h| h.as_ref().map(|(r, n)| (r.as_request(), *n)))
        );
        let run = drive_http(&limits, &input, &[]);
        if let Ok(Some((req, _))) = &whole {
            let req = req.as_request();
            let first = run.events.iter().find(|e| matches!(e, Ev::Request { .. }));
            prop_assert_eq!(first, Some(&Ev::Request {
                method: req.method.to_string(),
                target: req.target.to_string(),
                version: req.version,
                body: req.body,
            }));
        } else if let Err(e) = whole {
            prop_assert_eq!(run.error, Some(e));
        }
    }
}

/// Sends `n` GETs and reads the responses from `wire`, offered in two pieces split at `cut`.
fn client_bodies(wire: &[u8], n: usize, cut: usize) -> Vec<Vec<u8>> {
    let mut conn = client::Connection::new(&Limits::default());
    let mut out = Vec::new();
    for _ in 0..n {
        conn.send_request(
            "GET",
            "/",
            &[("Host", b"a")],
            client::RequestBody::Empty,
            &mut out,
        )
        .unwrap();
    }
    let mut bodies = Vec::new();
    let mut pos = 0;
    for end in [cut, wire.len()] {
        loop {
            let step = conn.feed(&wire[pos..end.max(pos)]).unwrap();
            pos += step.consumed;
            let progressed = step.consumed > 0 || step.event.is_some();
            match step.event {
                Some(client::Event::Response(_)) => bodies.push(Vec::new()),
                Some(client::Event::Data(d)) => bodies.last_mut().unwrap().extend_from_slice(d),
                _ => {}
            }
            if !progressed {
                break;
            }
        }
    }
    bodies
}
