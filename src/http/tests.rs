//! Scenario tests for the server connection: RFC 9112 vectors (each run whole, a byte at a
//! time, and followed by unrelated bytes), every framing rule, every limit and deadline.

use super::*;
use crate::limits::Limits;
use crate::time::Instant;
use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

/// An owned copy of an event, for comparing runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ev {
    Request {
        method: String,
        target: String,
        version: Version,
        body: BodyKind,
        headers: Vec<(String, Vec<u8>)>,
    },
    Data(Vec<u8>),
    End,
    Upgraded(Vec<u8>),
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub events: Vec<Ev>,
    pub out: Vec<u8>,
    pub consumed: usize,
    pub error: Option<PeerError>,
    pub closed: bool,
}

/// Drives a server connection over `input`, offering `step` more bytes each time it stalls.
/// Every complete request is answered `200` with body `ok` when `respond` is set.
pub(crate) fn run_with(limits: &Limits, input: &[u8], step: usize, respond: bool) -> Run {
    let mut conn = Connection::new(Instant::ZERO, limits);
    let mut run = Run {
        events: Vec::new(),
        out: Vec::new(),
        consumed: 0,
        error: None,
        closed: false,
    };
    let mut offered = step.min(input.len());
    loop {
        match conn.feed(Instant::ZERO, &input[run.consumed..offered], &mut run.out) {
            Err(e) => {
                run.error = Some(e);
                break;
            }
            Ok(s) => {
                assert!(
                    s.consumed <= offered - run.consumed,
                    "consumed more than offered"
                );
                run.consumed += s.consumed;
                let progressed = s.consumed > 0 || s.event.is_some();
                let is_end = matches!(s.event, Some(Event::End));
                if let Some(ev) = s.event {
                    push_event(&mut run.events, ev);
                }
                if is_end && respond {
                    conn.respond(200, &[], b"ok", &mut run.out).unwrap();
                }
                if !progressed {
                    if offered == input.len() {
                        break;
                    }
                    offered = (offered + step).min(input.len());
                }
            }
        }
    }
    run.closed = conn.is_closed();
    run
}

pub(crate) fn push_event(events: &mut Vec<Ev>, ev: Event<'_>) {
    let owned = match ev {
        Event::Request(r) => Ev::Request {
            method: r.method.to_owned(),
            target: r.target.to_owned(),
            version: r.version,
            body: r.body,
            headers: r
                .headers()
                .map(|(n, v)| (n.to_owned(), v.to_vec()))
                .collect(),
        },
        Event::Data(d) => {
            // Data boundaries depend on how input was split; compare the bytes.
            if let Some(Ev::Data(prev)) = events.last_mut() {
                prev.extend_from_slice(d);
                return;
            }
            Ev::Data(d.to_vec())
        }
        Event::End => Ev::End,
        Event::Upgraded { leftover } => Ev::Upgraded(leftover.to_vec()),
    };
    events.push(owned);
}

fn run(input: &[u8]) -> Run {
    run_with(&Limits::default(), input, input.len(), true)
}

/// Runs `input` whole, byte by byte, and followed by the start of an unrelated request; all
/// three must agree, and the unrelated bytes must be left unconsumed.
fn three_ways(input: &[u8]) -> Run {
    let limits = Limits::default();
    let whole = run_with(&limits, input, input.len(), true);
    let bytewise = run_with(&limits, input, 1, true);
    assert_eq!(
        whole.events, bytewise.events,
        "byte-at-a-time events differ"
    );
    assert_eq!(whole.out, bytewise.out, "byte-at-a-time output differs");
    assert_eq!(
        (whole.error, whole.closed),
        (bytewise.error, bytewise.closed)
    );
    if whole.error.is_none() {
        assert_eq!(whole.consumed, bytewise.consumed);
    }
    let mut trailing = input.to_vec();
    trailing.extend_from_slice(b"GET /unrelated HT");
    let t = run_with(&limits, &trailing, trailing.len(), true);
    if whole.closed || whole.error.is_some() {
        assert_eq!(t.events, whole.events);
    } else {
        assert_eq!(t.events, whole.events, "trailing bytes changed the events");
        assert_eq!(t.out, whole.out);
        assert_eq!(t.consumed, input.len(), "trailing bytes were consumed");
    }
    whole
}

fn request_count(run: &Run) -> usize {
    run.events
        .iter()
        .filter(|e| matches!(e, Ev::Request { .. }))
        .count()
}

fn status_of(out: &[u8]) -> u16 {
    let s = core::str::from_utf8(&out[9..12]).unwrap();
    s.parse().unwrap()
}

fn out_str(run: &Run) -> String {
    String::from_utf8_lossy(&run.out).into_owned()
}

// ----- RFC 9112 / RFC 9110 examples -----

#[test]
fn request_rfc9110_curl_example_parses() {
    let r = three_ways(
        b"GET /hello.txt HTTP/1.1\r\nUser-Agent: curl/7.64.1\r\nHost: www.example.com\r\nAccept-Language: en, mi\r\n\r\n",
    );
    let Ev::Request {
        method,
        target,
        version,
        headers,
        body,
    } = &r.events[0]
    else {
        panic!()
    };
    assert_eq!((method.as_str(), target.as_str()), ("GET", "/hello.txt"));
    assert_eq!(*version, Version::Http11);
    assert_eq!(*body, BodyKind::None);
    assert_eq!(headers.len(), 3);
    assert_eq!(headers[2], ("Accept-Language".into(), b"en, mi".to_vec()));
    assert_eq!(r.events[1], Ev::End);
    assert!(
        r.out
            .starts_with(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    );
    assert!(!r.closed);
}

#[test]
fn request_target_forms_rfc9112_3_2_parse() {
    for (wire, target) in [
        (&b"GET /where?q=now HTTP/1.1\r\nHost: www.example.org\r\n\r\n"[..], "/where?q=now"),
        (b"GET http://www.example.org/pub/WWW/TheProject.html HTTP/1.1\r\nHost: www.example.org\r\n\r\n", "http://www.example.org/pub/WWW/TheProject.html"),
        (b"CONNECT www.example.com:80 HTTP/1.1\r\nHost: www.example.com:80\r\n\r\n", "www.example.com:80"),
        (b"OPTIONS * HTTP/1.1\r\nHost: www.example.org:8001\r\n\r\n", "*"),
    ] {
        let r = three_ways(wire);
        let Ev::Request { target: t, .. } = &r.events[0] else { panic!() };
        assert_eq!(t, target);
    }
}

#[test]
fn request_leading_empty_lines_ignored() {
    let r = three_ways(b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(request_count(&r), 1);
    assert_eq!(r.error, None);
}

#[test]
fn request_content_length_body_delivered() {
    let r = three_ways(b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world");
    assert_eq!(r.events[1], Ev::Data(b"hello world".to_vec()));
    assert_eq!(r.events[2], Ev::End);
}

#[test]
fn request_chunked_body_with_extensions_and_trailers_delivered() {
    let r = three_ways(
        b"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4;a=b\r\nWiki\r\n5\r\npedia\r\n0\r\nExpires: never\r\n\r\n",
    );
    assert_eq!(r.events[1], Ev::Data(b"Wikipedia".to_vec()));
    assert_eq!(r.events[2], Ev::End);
    assert!(!r.closed);
}

#[test]
fn request_transfer_encoding_case_insensitive_chunked_accepted() {
    let r = three_ways(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n1\r\nx\r\n0\r\n\r\n",
    );
    assert_eq!(r.events[1], Ev::Data(b"x".to_vec()));
}

#[test]
fn pipelined_ten_requests_answered_in_order() {
    let mut wire = Vec::new();
    for i in 0..10 {
        wire.extend_from_slice(format!("GET /{i} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
    }
    let r = three_ways(&wire);
    assert_eq!(request_count(&r), 10);
    let targets: Vec<_> = r
        .events
        .iter()
        .filter_map(|e| match e {
            Ev::Request { target, .. } => Some(target.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        targets,
        (0..10).map(|i| format!("/{i}")).collect::<Vec<_>>()
    );
    assert_eq!(out_str(&r).matches("HTTP/1.1 200 OK").count(), 10);
}

#[test]
fn pipelined_request_waits_for_previous_response() {
    let mut conn = Connection::new(Instant::ZERO, &Limits::default());
    let mut out = Vec::new();
    let wire = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
    let s = conn.feed(Instant::ZERO, wire, &mut out).unwrap();
    assert!(matches!(s.event, Some(Event::Request(_))));
    let first = s.consumed;
    let s = conn.feed(Instant::ZERO, &wire[first..], &mut out).unwrap();
    assert!(matches!(s.event, Some(Event::End)));
    // No response yet: the second request is not read.
    let s = conn.feed(Instant::ZERO, &wire[first..], &mut out).unwrap();
    assert_eq!((s.consumed, s.event.is_none()), (0, true));
    conn.respond(200, &[], b"", &mut out).unwrap();
    let s = conn.feed(Instant::ZERO, &wire[first..], &mut out).unwrap();
    let Some(Event::Request(r)) = s.event else {
        panic!()
    };
    assert_eq!(r.target, "/2");
}

#[test]
fn http10_request_closes_after_response() {
    let r = three_ways(b"GET / HTTP/1.0\r\n\r\n");
    assert!(r.closed);
    assert!(out_str(&r).contains("Connection: close\r\n"));
}

#[test]
fn http10_keep_alive_request_stays_open() {
    let r = three_ways(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert!(!r.closed);
    assert!(out_str(&r).contains("Connection: keep-alive\r\n"));
}

#[test]
fn http11_connection_close_honoured() {
    let r = three_ways(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n");
    assert!(r.closed);
    assert_eq!(request_count(&r), 1);
    assert!(out_str(&r).contains("Connection: close\r\n"));
}

#[test]
fn unknown_method_passed_to_application() {
    let r = three_ways(b"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n");
    let Ev::Request { method, .. } = &r.events[0] else {
        panic!()
    };
    assert_eq!(method, "BREW");
}

#[test]
fn empty_host_accepted_in_http11() {
    let r = three_ways(b"GET / HTTP/1.1\r\nHost:\r\n\r\n");
    assert_eq!(r.error, None);
}

#[test]
fn identical_content_length_values_accepted() {
    let r = three_ways(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\nabc",
    );
    assert_eq!(r.events[1], Ev::Data(b"abc".to_vec()));
}

// ----- strict framing: each rule gets its own status -----

fn rejects(wire: &[u8], error: PeerError) {
    let r = three_ways(wire);
    assert_eq!(r.error, Some(error), "{}", String::from_utf8_lossy(wire));
    assert_eq!(status_of(&r.out), error.status());
    assert!(out_str(&r).contains("Connection: close\r\n"));
    assert!(r.closed);
}

#[test]
fn content_length_with_transfer_encoding_is_400() {
    rejects(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        PeerError::ContentLengthWithTransferEncoding,
    );
}

#[test]
fn differing_content_lengths_are_400() {
    rejects(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
        PeerError::ConflictingContentLength,
    );
    rejects(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\n",
        PeerError::ConflictingContentLength,
    );
}

#[test]
fn non_digit_content_length_is_400() {
    for v in [
        "+3",
        "-1",
        "3a",
        "0x10",
        "",
        "1 2",
        "99999999999999999999999",
    ] {
        let wire = format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {v}\r\n\r\n");
        rejects(wire.as_bytes(), PeerError::InvalidContentLength);
    }
}

#[test]
fn transfer_encoding_final_not_chunked_is_400() {
    rejects(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        PeerError::ChunkedNotFinal,
    );
    rejects(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
        PeerError::ChunkedNotFinal,
    );
    rejects(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", PeerError::ChunkedNotFinal);
    rejects(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
        PeerError::ChunkedNotFinal,
    );
}

#[test]
fn transfer_encoding_other_coding_before_chunked_is_501() {
    rejects(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        PeerError::UnsupportedTransferCoding,
    );
}

#[test]
fn transfer_encoding_in_http10_is_400() {
    rejects(
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        PeerError::TransferEncodingInHttp10,
    );
}

#[test]
fn obs_fold_is_400() {
    rejects(
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n",
        PeerError::ObsoleteFold,
    );
}

#[test]
fn whitespace_before_colon_is_400() {
    rejects(
        b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        PeerError::WhitespaceBeforeColon,
    );
    rejects(
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A\t: b\r\n\r\n",
        PeerError::WhitespaceBeforeColon,
    );
}

#[test]
fn bare_cr_anywhere_in_head_is_400() {
    rejects(b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", PeerError::BareCr);
    rejects(b"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", PeerError::BareCr);
    rejects(b"GET / HTTP/1.1\rHost: a\r\n\r\n", PeerError::BareCr);
}

#[test]
fn bare_lf_in_head_is_400() {
    rejects(b"GET / HTTP/1.1\nHost: a\r\n\r\n", PeerError::BareLf);
    rejects(b"GET / HTTP/1.1\r\nHost: a\n\r\n", PeerError::BareLf);
}

#[test]
fn bare_lf_in_chunked_framing_is_400() {
    rejects(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
        PeerError::BareLf,
    );
    rejects(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n",
        PeerError::BareLf,
    );
}

#[test]
fn empty_or_overflowing_chunk_size_is_400() {
    rejects(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
        PeerError::InvalidChunkSize,
    );
    rejects(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n",
        PeerError::ChunkSizeOverflow,
    );
}

#[test]
fn missing_or_duplicate_or_invalid_host_is_400() {
    rejects(b"GET / HTTP/1.1\r\n\r\n", PeerError::MissingHost);
    rejects(
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        PeerError::DuplicateHost,
    );
    rejects(
        b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
        PeerError::DuplicateHost,
    );
    for bad in ["a b", "a/b", "a@b", "[::1", "a:x", "[zz", "a\"b"] {
        let wire = format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n");
        rejects(wire.as_bytes(), PeerError::InvalidHost);
    }
    for good in [
        "example.com",
        "example.com:8080",
        "[::1]:80",
        "[::1]",
        "127.0.0.1",
        "xn--bcher-kva.ch",
    ] {
        let wire = format!("GET / HTTP/1.1\r\nHost: {good}\r\n\r\n");
        assert_eq!(run(wire.as_bytes()).error, None, "{good}");
    }
}

/// The request `wire` parses to, with what routing sees: (path, query, host).
fn routed(wire: &[u8]) -> (String, Option<String>, Option<Vec<u8>>) {
    let mut conn = Connection::new(Instant::ZERO, &Limits::default());
    let mut out = Vec::new();
    let step = conn.feed(Instant::ZERO, wire, &mut out).unwrap();
    let Some(Event::Request(r)) = step.event else {
        panic!("no request in {}", String::from_utf8_lossy(wire))
    };
    (
        r.path().into(),
        r.query().map(Into::into),
        r.host().map(<[u8]>::to_vec),
    )
}

#[test]
fn absolute_form_is_routed_by_its_path_and_its_authority_is_the_host() {
    // RFC 9112 §3.2.2: the authority replaces Host; the path routes as in origin form.
    assert_eq!(
        routed(b"GET http://www.example.org/pub/WWW/TheProject.html HTTP/1.1\r\nHost: other.example\r\n\r\n"),
        ("/pub/WWW/TheProject.html".into(), None, Some(b"www.example.org".to_vec()))
    );
    assert_eq!(
        routed(b"GET HTTPS://a.example:8443/poll?topic=x&cursor=3 HTTP/1.1\r\nHost: a.example:8443\r\n\r\n"),
        ("/poll".into(), Some("topic=x&cursor=3".into()), Some(b"a.example:8443".to_vec()))
    );
    // An empty path is "/" (RFC 9110 §4.2.3).
    assert_eq!(
        routed(b"GET http://a.example?x=1 HTTP/1.1\r\nHost: a.example\r\n\r\n"),
        ("/".into(), Some("x=1".into()), Some(b"a.example".to_vec()))
    );
    // Origin form: Host as sent.
    assert_eq!(
        routed(b"GET /a?b HTTP/1.1\r\nHost: h.example\r\n\r\n"),
        ("/a".into(), Some("b".into()), Some(b"h.example".to_vec()))
    );
    // Absolute form through the careful (split) path too.
    three_ways(b"GET http://www.example.org/x HTTP/1.1\r\nHost: www.example.org\r\n\r\n");
}

#[test]
fn absolute_form_with_an_empty_or_invalid_authority_is_400() {
    rejects(
        b"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n",
        PeerError::InvalidTarget,
    );
    rejects(
        b"GET http://user@a.example/x HTTP/1.1\r\nHost: a\r\n\r\n",
        PeerError::InvalidTarget,
    );
}

#[test]
fn request_line_with_extra_spaces_is_400_not_505() {
    // RFC 9112 §3: method SP request-target SP HTTP-version, single spaces. A version is only
    // what follows the last space of a well-formed line.
    for wire in [
        &b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"[..],
        b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /  HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / x HTTP/1.1\r\nHost: a\r\n\r\n",
    ] {
        let r = three_ways(wire);
        assert_eq!(status_of(&r.out), 400, "{}", String::from_utf8_lossy(wire));
        assert!(r.closed);
    }
    // A well-formed line with a version we do not speak is still 505.
    rejects(
        b"GET /a HTTP/3.0\r\nHost: a\r\n\r\n",
        PeerError::UnsupportedVersion,
    );
}

#[test]
fn unsupported_version_is_505() {
    rejects(
        b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        PeerError::UnsupportedVersion,
    );
    rejects(
        b"GET / HTTP/0.9\r\nHost: a\r\n\r\n",
        PeerError::UnsupportedVersion,
    );
}

#[test]
fn malformed_version_or_request_line_is_400() {
    rejects(
        b"GET / HTTX/1.1\r\nHost: a\r\n\r\n",
        PeerError::MalformedHead,
    );
    rejects(
        b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
        PeerError::MalformedHead,
    );
    rejects(
        b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
        PeerError::MalformedHead,
    );
    rejects(
        b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
        PeerError::MalformedHead,
    );
}

#[test]
fn unsupported_expectation_is_417() {
    rejects(
        b"POST / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx",
        PeerError::UnsupportedExpectation,
    );
}

#[test]
fn rejected_request_never_yields_a_second_request() {
    let wire =
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    let r = three_ways(wire);
    assert_eq!(request_count(&r), 0);
    assert_eq!(out_str(&r).matches("HTTP/1.1").count(), 1);
}

#[test]
fn rejected_chunk_after_request_never_yields_smuggled_request() {
    let wire = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    let r = three_ways(wire);
    assert_eq!(request_count(&r), 1);
    assert_eq!(r.error, Some(PeerError::MissingChunkCrlf));
    assert_eq!(status_of(&r.out), 400);
}

// ----- limits -----

#[test]
fn limit_request_line_over_max_is_414() {
    let limits = Limits {
        max_request_line_bytes: 64,
        ..Limits::default()
    };
    let long = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(100));
    let r = run_with(&limits, long.as_bytes(), 1, true);
    assert_eq!(r.error, Some(PeerError::RequestLineTooLong));
    assert_eq!(status_of(&r.out), 414);
    // Caught before the whole line arrived.
    let unterminated = format!("GET /{}", "a".repeat(100));
    let r = run_with(&limits, unterminated.as_bytes(), 1, true);
    assert_eq!(r.error, Some(PeerError::RequestLineTooLong));
    let ok = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(40));
    assert_eq!(run_with(&limits, ok.as_bytes(), 1, true).error, None);
}

#[test]
fn limit_head_over_max_is_431() {
    let limits = Limits {
        max_head_bytes: 256,
        ..Limits::default()
    };
    let big = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "b".repeat(300)
    );
    let r = run_with(&limits, big.as_bytes(), 7, true);
    assert_eq!(r.error, Some(PeerError::HeadTooLarge));
    assert_eq!(status_of(&r.out), 431);
    // A head that never ends is refused once it passes the limit, not buffered forever.
    let endless = format!("GET / HTTP/1.1\r\nX: {}", "b".repeat(300));
    assert_eq!(
        run_with(&limits, endless.as_bytes(), 7, true).error,
        Some(PeerError::HeadTooLarge)
    );
}

#[test]
fn limit_too_many_headers_is_431() {
    let limits = Limits {
        max_headers: 4,
        ..Limits::default()
    };
    let mut wire = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for i in 0..4 {
        wire.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    wire.extend_from_slice(b"\r\n");
    let r = run_with(&limits, &wire, wire.len(), true);
    assert_eq!(r.error, Some(PeerError::TooManyHeaders));
    assert_eq!(status_of(&r.out), 431);
    let ok = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert_eq!(run_with(&limits, ok, 1, true).error, None);
}

#[test]
fn limit_body_declared_over_max_is_413_before_body() {
    let limits = Limits {
        max_body_bytes: 10,
        ..Limits::default()
    };
    let r = run_with(
        &limits,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n",
        1,
        true,
    );
    assert_eq!(r.error, Some(PeerError::BodyTooLarge));
    assert_eq!(status_of(&r.out), 413);
    let ok = run_with(
        &limits,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789",
        1,
        true,
    );
    assert_eq!(ok.error, None);
}

#[test]
fn limit_body_chunked_over_max_is_413() {
    let limits = Limits {
        max_body_bytes: 10,
        ..Limits::default()
    };
    let wire =
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n6\r\n";
    let r = run_with(&limits, wire, 1, true);
    assert_eq!(r.error, Some(PeerError::BodyTooLarge));
    assert_eq!(status_of(&r.out), 413);
}

#[test]
fn limit_chunk_line_over_max_is_400() {
    let limits = Limits {
        max_chunk_line_bytes: 16,
        ..Limits::default()
    };
    let wire = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;aaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let r = run_with(&limits, wire, 1, true);
    assert_eq!(r.error, Some(PeerError::ChunkLineTooLong));
}

#[test]
fn limit_trailer_over_max_is_431() {
    let limits = Limits {
        max_trailer_bytes: 16,
        ..Limits::default()
    };
    let wire = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Trailer: 0123456789\r\n\r\n";
    let r = run_with(&limits, wire, 1, true);
    assert_eq!(r.error, Some(PeerError::TrailerTooLarge));
    assert_eq!(status_of(&r.out), 431);
}

// ----- 100-continue -----

#[test]
fn expect_continue_sent_only_when_application_reads_body() {
    let mut conn = Connection::new(Instant::ZERO, &Limits::default());
    let mut out = Vec::new();
    let head = b"PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
    let s = conn.feed(Instant::ZERO, head, &mut out).unwrap();
    let Some(Event::Request(r)) = s.event else {
        panic!()
    };
    assert!(r.expect_continue);
    assert!(
        out.is_empty(),
        "100 Continue written before the application asked"
    );
    conn.accept_body(&mut out).unwrap();
    assert_eq!(out, b"HTTP/1.1 100 Continue\r\n\r\n");
    conn.accept_body(&mut out).unwrap();
    assert_eq!(out.len(), 25, "100 Continue written twice");
    let s = conn.feed(Instant::ZERO, b"abc", &mut out).unwrap();
    assert!(matches!(s.event, Some(Event::Data(b"abc"))));
    let s = conn.feed(Instant::ZERO, b"", &mut out).unwrap();
    assert!(matches!(s.event, Some(Event::End)));
    conn.respond(201, &[], b"", &mut out).unwrap();
    assert!(!conn.is_closed());
}

#[test]
fn expect_continue_refused_answer_closes_connection() {
    let mut conn = Connection::new(Instant::ZERO, &Limits::default());
    let mut out = Vec::new();
    let head = b"PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
    let _ = conn.feed(Instant::ZERO, head, &mut out).unwrap();
    conn.respond(403, &[], b"no", &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("100 Continue"));
    assert!(text.contains("Connection: close"));
    assert!(conn.is_closed());
}

#[test]
fn expect_continue_over_limit_is_413_without_100() {
    let limits = Limits {
        max_body_bytes: 10,
        ..Limits::default()
    };
    let r = run_with(
        &limits,
        b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n",
        1,
        true,
    );
    assert_eq!(r.error, Some(PeerError::BodyTooLarge));
    assert!(r.out.starts_with(b"HTTP/1.1 413 "));
}

#[test]
fn an_http10_expectation_of_100_continue_is_ignored() {
    // RFC 9110 §10.1.1: ignored, so no 100 is ever written, and the body is read as usual.
    let mut conn = Connection::new(Instant::ZERO, &Limits::default());
    let mut out = Vec::new();
    let head = b"PUT /f HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc";
    let s = conn.feed(Instant::ZERO, head, &mut out).unwrap();
    let Some(Event::Request(r)) = s.event else {
        panic!("a request")
    };
    assert!(!r.expect_continue);
    let consumed = s.consumed;
    conn.accept_body(&mut out).unwrap();
    assert!(out.is_empty(), "no 100 Continue for an HTTP/1.0 client");
    let s = conn
        .feed(Instant::ZERO, &head[consumed..], &mut out)
        .unwrap();
    assert!(matches!(s.event, Some(Event::Data(b"abc"))));
}

#[test]
fn a_bodys_chunk_extensions_over_their_total_are_413_naming_the_limit() {
    let limits = Limits {
        max_chunk_extension_bytes: 100,
        ..Limits::default()
    };
    let mut wire = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..20 {
        wire.extend_from_slice(b"1;ext=0123456789\r\nx\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    for step in [wire.len(), 1] {
        let r = run_with(&limits, &wire, step, true);
        assert_eq!(r.error, Some(PeerError::ChunkExtensionsTooLarge));
        let text = String::from_utf8(r.out).unwrap();
        assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
        assert!(text.contains("the limit is 100 bytes"), "{text}");
    }
}

// ----- responses -----

fn answered(request: &[u8]) -> Connection {
    let mut conn = Connection::new(Instant::ZERO, &Limits::default());
    let mut out = Vec::new();
    let s = conn.feed(Instant::ZERO, request, &mut out).unwrap();
    assert!(matches!(s.event, Some(Event::Request(_))));
    conn
}

#[test]
fn response_to_head_has_length_but_no_body() {
    let mut conn = answered(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut out = Vec::new();
    conn.respond(200, &[], b"hello", &mut out).unwrap();
    assert_eq!(out, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
}

#[test]
fn response_204_and_304_have_no_body() {
    let mut conn = answered(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut out = Vec::new();
    assert_eq!(
        conn.send_response(204, &[], ResponseBody::Length(3), &mut out),
        Err(UsageError::BodyNotAllowed)
    );
    conn.send_response(204, &[], ResponseBody::Empty, &mut out)
        .unwrap();
    assert_eq!(out, b"HTTP/1.1 204 No Content\r\n\r\n");
    conn.send_end(&[], &mut out).unwrap();

    let mut conn = answered(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut out = Vec::new();
    conn.send_response(304, &[("ETag", b"\"x\"")], ResponseBody::Empty, &mut out)
        .unwrap();
    conn.send_body(b"dropped", &mut out).unwrap();
    conn.send_end(&[], &mut out).unwrap();
    assert_eq!(out, b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n");
}

#[test]
fn response_stream_http11_is_chunked_with_trailers() {
    let mut conn = answered(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut out = Vec::new();
    conn.send_response(200, &[], ResponseBody::Stream, &mut out)
        .unwrap();
    conn.send_body(b"abc", &mut out).unwrap();
    conn.send_body(b"", &mut out).unwrap();
    conn.send_end(&[("X-Sum", b"1")], &mut out).unwrap();
    assert_eq!(
        out,
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n"
            [..]
    );
    assert!(!conn.is_closed());
}

#[test]
fn response_stream_http10_is_close_delimited() {
    let mut conn = answered(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let mut out = Vec::new();
    conn.send_response(200, &[], ResponseBody::Stream, &mut out)
        .unwrap();
    conn.send_body(b"abc", &mut out).unwrap();
    conn.send_end(&[], &mut out).unwrap();
    assert_eq!(out, b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc");
    assert!(conn.is_closed());
}

#[test]
fn response_framing_fields_from_caller_are_refused() {
    let mut conn = answered(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut out = Vec::new();
    for name in ["Content-Length", "transfer-encoding", "Connection"] {
        let r = conn.send_response(200, &[(name, b"1")], ResponseBody::Empty, &mut out);
        assert_eq!(r, Err(UsageError::FramingHeader));
    }
    let r = conn.send_response(200, &[("X-A", b"a\r\nb")], ResponseBody::Empty, &mut out);
    assert_eq!(r, Err(UsageError::InvalidHeader));
    let r = conn.send_response(200, &[("X A", b"a")], ResponseBody::Empty, &mut out);
    assert_eq!(r, Err(UsageError::InvalidHeader));
    assert!(out.is_empty());
}

#[test]
fn response_body_length_is_enforced() {
    let mut conn = answered(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut out = Vec::new();
    conn.send_response(200, &[], ResponseBody::Length(3), &mut out)
        .unwrap();
    assert_eq!(
        conn.send_body(b"abcd", &mut out),
        Err(UsageError::BodyTooLong)
    );
    conn.send_body(b"ab", &mut out).unwrap();
    assert_eq!(conn.send_end(&[], &mut out), Err(UsageError::BodyTooShort));
    conn.send_body(b"c", &mut out).unwrap();
    conn.send_end(&[], &mut out).unwrap();
}

#[test]
fn response_without_request_is_usage_error() {
    let mut conn = Connection::new(Instant::ZERO, &Limits::default());
    let mut out = Vec::new();
    assert_eq!(
        conn.respond(200, &[], b"", &mut out),
        Err(UsageError::NoRequestPending)
    );
    assert_eq!(
        conn.send_body(b"x", &mut out),
        Err(UsageError::NoBodyInProgress)
    );
}

#[test]
fn early_response_discards_rest_of_body_then_reads_next() {
    let mut conn = Connection::new(Instant::ZERO, &Limits::default());
    let mut out = Vec::new();
    let wire = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nabcdeGET /next HTTP/1.1\r\nHost: a\r\n\r\n";
    let s = conn.feed(Instant::ZERO, wire, &mut out).unwrap();
    let mut pos = s.consumed;
    conn.respond(200, &[], b"early", &mut out).unwrap();
    let s = conn.feed(Instant::ZERO, &wire[pos..], &mut out).unwrap();
    assert!(s.event.is_none());
    pos += s.consumed;
    let s = conn.feed(Instant::ZERO, &wire[pos..], &mut out).unwrap();
    let Some(Event::Request(r)) = s.event else {
        panic!("next request")
    };
    assert_eq!(r.target, "/next");
}

// ----- upgrade -----

#[test]
fn upgrade_101_hands_over_leftover_bytes() {
    let wire = b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x85";
    let mut conn = Connection::new(Instant::ZERO, &Limits::default());
    let mut out = Vec::new();
    let s = conn.feed(Instant::ZERO, wire, &mut out).unwrap();
    let Some(Event::Request(r)) = s.event else {
        panic!()
    };
    assert!(r.is_upgrade());
    let rest = &wire[s.consumed..];
    conn.send_response(
        101,
        &[("Upgrade", b"websocket")],
        ResponseBody::Empty,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        out,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    );
    assert!(conn.is_upgraded());
    let s = conn.feed(Instant::ZERO, rest, &mut out).unwrap();
    let Some(Event::Upgraded { leftover }) = s.event else {
        panic!()
    };
    assert_eq!(leftover, b"\x81\x85");
}

#[test]
fn upgrade_101_without_upgrade_request_is_usage_error() {
    let mut conn = answered(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut out = Vec::new();
    assert_eq!(
        conn.send_response(101, &[], ResponseBody::Empty, &mut out),
        Err(UsageError::NotUpgradable)
    );
}

// ----- EOF and deadlines -----

#[test]
fn eof_between_requests_is_orderly() {
    let mut conn = Connection::new(Instant::ZERO, &Limits::default());
    let mut out = Vec::new();
    assert_eq!(conn.feed_eof(Instant::ZERO, &mut out), Ok(()));
    assert!(conn.is_closed());
}

#[test]
fn eof_mid_head_or_body_is_incomplete_message() {
    let mut conn = Connection::new(Instant::ZERO, &Limits::default());
    let mut out = Vec::new();
    let _ = conn.feed(Instant::ZERO, b"GET / HT", &mut out).unwrap();
    assert_eq!(
        conn.feed_eof(Instant::ZERO, &mut out),
        Err(PeerError::IncompleteMessage)
    );
    assert!(conn.is_closed());

    let mut conn = answered(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\n");
    assert_eq!(
        conn.feed_eof(Instant::ZERO, &mut out),
        Err(PeerError::IncompleteMessage)
    );
    assert!(conn.is_closed());
}

#[test]
fn eof_after_complete_request_still_answers_then_closes() {
    let mut conn = answered(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut out = Vec::new();
    conn.feed_eof(Instant::ZERO, &mut out).unwrap();
    assert!(!conn.is_closed());
    conn.respond(200, &[], b"ok", &mut out).unwrap();
    assert!(
        String::from_utf8(out)
            .unwrap()
            .contains("Connection: close")
    );
    assert!(conn.is_closed());
}

fn at(secs: u64) -> Instant {
    Instant::ZERO + Duration::from_secs(secs)
}

#[test]
fn header_deadline_counts_from_accept_not_reset_per_byte() {
    let limits = Limits {
        header_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let mut conn = Connection::new(at(0), &limits);
    let mut out = Vec::new();
    let wire = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    for t in 0..5u64 {
        let s = conn.feed(at(t), &wire[..t as usize + 1], &mut out).unwrap();
        assert!(s.event.is_none());
        conn.handle_timeout(at(t), &mut out);
        assert!(out.is_empty());
    }
    assert_eq!(conn.poll_timeout(), Some(at(5)));
    conn.handle_timeout(at(5), &mut out);
    assert!(out.starts_with(b"HTTP/1.1 408 "));
    assert!(conn.is_closed());
}

#[test]
fn idle_keep_alive_connection_closes_silently() {
    let limits = Limits {
        idle_timeout: Duration::from_secs(3),
        ..Limits::default()
    };
    let mut conn = Connection::new(at(0), &limits);
    let mut out = Vec::new();
    let _ = conn
        .feed(at(1), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &mut out)
        .unwrap();
    let _ = conn.feed(at(1), b"", &mut out).unwrap();
    conn.respond(200, &[], b"", &mut out).unwrap();
    out.clear();
    // The idle clock starts at the next moment the connection learns the time.
    assert_eq!(conn.poll_timeout(), Some(at(1)));
    conn.handle_timeout(at(10), &mut out);
    assert!(!conn.is_closed());
    assert_eq!(conn.poll_timeout(), Some(at(13)));
    conn.handle_timeout(at(12), &mut out);
    assert!(!conn.is_closed());
    conn.handle_timeout(at(13), &mut out);
    assert!(conn.is_closed());
    assert!(out.is_empty());
}

#[test]
fn slow_body_is_408() {
    let limits = Limits {
        body_rate_window: Duration::from_secs(2),
        min_body_bytes_per_window: 10,
        ..Limits::default()
    };
    let mut conn = Connection::new(at(0), &limits);
    let mut out = Vec::new();
    let head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n";
    let _ = conn.feed(at(0), head, &mut out).unwrap();
    let _ = conn.feed(at(1), &[b'x'; 12], &mut out).unwrap();
    assert_eq!(conn.poll_timeout(), Some(at(2)));
    conn.handle_timeout(at(2), &mut out);
    assert!(!conn.is_closed(), "12 bytes in the window is fast enough");
    let _ = conn.feed(at(3), b"x", &mut out).unwrap();
    conn.handle_timeout(at(4), &mut out);
    assert!(conn.is_closed());
    assert!(out.starts_with(b"HTTP/1.1 408 "));
}

#[test]
fn handle_timeout_early_or_twice_is_harmless() {
    let mut conn = answered(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut out = Vec::new();
    conn.handle_timeout(at(0), &mut out);
    conn.handle_timeout(at(0), &mut out);
    assert!(out.is_empty());
    assert!(!conn.is_closed());
}

#[test]
fn closed_connection_ignores_input_and_commands() {
    let mut conn = Connection::new(Instant::ZERO, &Limits::default());
    let mut out = Vec::new();
    let _ = conn.feed(Instant::ZERO, b"GARBAGE\r\n\r\n", &mut out);
    assert!(conn.is_closed());
    let n = out.len();
    let s = conn
        .feed(
            Instant::ZERO,
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            &mut out,
        )
        .unwrap();
    assert!(s.event.is_none());
    assert_eq!(out.len(), n);
    assert_eq!(
        conn.respond(200, &[], b"", &mut out),
        Err(UsageError::Closed)
    );
}

#[test]
fn request_accessors_split_target() {
    let mut conn = Connection::new(Instant::ZERO, &Limits::default());
    let mut out = Vec::new();
    let wire =
        b"GET /poll?topic=a&cursor=12&wait HTTP/1.1\r\nHost: a\r\nX-Multi: 1\r\nx-multi: 2\r\n\r\n";
    let s = conn.feed(Instant::ZERO, wire, &mut out).unwrap();
    let Some(Event::Request(r)) = s.event else {
        panic!()
    };
    assert_eq!(r.path(), "/poll");
    assert_eq!(r.query(), Some("topic=a&cursor=12&wait"));
    assert_eq!(r.query_param("cursor"), Some("12"));
    assert_eq!(r.query_param("wait"), Some(""));
    assert_eq!(r.query_param("nope"), None);
    assert_eq!(r.header("HOST"), Some(&b"a"[..]));
    assert_eq!(
        r.headers().get_all("x-multi").collect::<Vec<_>>(),
        vec![&b"1"[..], b"2"]
    );
}

#[test]
fn owned_request_round_trips_the_view() {
    let mut conn = Connection::new(Instant::ZERO, &Limits::default());
    let mut out = Vec::new();
    let wire = b"POST /p?q=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nX-A: b\r\n\r\nhi";
    let s = conn.feed(Instant::ZERO, wire, &mut out).unwrap();
    let Some(Event::Request(r)) = s.event else {
        panic!()
    };
    let owned = r.to_owned_request();
    let view = owned.as_request();
    assert_eq!(
        (view.method, view.target, view.version, view.body),
        (r.method, r.target, r.version, r.body)
    );
    assert_eq!(
        view.headers().collect::<Vec<_>>(),
        r.headers().collect::<Vec<_>>()
    );
    assert_eq!(view.query_param("q"), Some("1"));
}

#[test]
fn body_stream_detaches_chunked_stream_and_says_keep_alive() {
    let mut conn = answered(b"GET /events HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut out = Vec::new();
    assert_eq!(conn.body_stream(), None, "no head sent yet");
    conn.send_response(200, &[], ResponseBody::Stream, &mut out)
        .unwrap();
    let stream = conn.body_stream().expect("a streamed body");
    out.clear();
    stream.send(b"data: x\n\n", &mut out);
    stream.end(&mut out);
    assert_eq!(out, b"9\r\ndata: x\n\n\r\n0\r\n\r\n");
    assert!(stream.keeps_alive());

    let mut conn = answered(b"GET /events HTTP/1.0\r\n\r\n");
    conn.send_response(200, &[], ResponseBody::Stream, &mut out)
        .unwrap();
    let stream = conn.body_stream().unwrap();
    out.clear();
    stream.send(b"raw", &mut out);
    stream.end(&mut out);
    assert_eq!(out, b"raw");
    assert!(!stream.keeps_alive());

    let mut conn = answered(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    conn.send_response(200, &[], ResponseBody::Length(3), &mut out)
        .unwrap();
    assert_eq!(
        conn.body_stream(),
        None,
        "a body of known length is not a stream"
    );
}
