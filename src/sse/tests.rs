//! The event stream parser against the WHATWG processing model, each vector three ways
//! (whole, a byte at a time, with a trailing unfinished line), and the writer against the
//! parser.

use super::*;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use proptest::prelude::*;

fn parse_with(input: &[u8], step: usize) -> (Vec<Item>, String) {
    let mut p = Parser::new(1 << 16, 1 << 20);
    let mut items = Vec::new();
    for chunk in input.chunks(step.max(1)) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let s = p.feed(rest).unwrap();
            rest = &rest[s.consumed..];
            items.extend(s.item);
        }
    }
    (items, p.last_event_id().to_string())
}

/// Whole, byte by byte, and with an unfinished trailing line: all the same items.
fn three_ways(input: &[u8]) -> Vec<Item> {
    let (whole, id) = parse_with(input, input.len());
    assert_eq!(
        parse_with(input, 1),
        (whole.clone(), id.clone()),
        "byte-at-a-time differs"
    );
    let mut trailing = input.to_vec();
    trailing.extend_from_slice(b"data: unfinished");
    assert_eq!(
        parse_with(&trailing, trailing.len()).0,
        whole,
        "trailing line changed the items"
    );
    whole
}

fn ev(kind: &str, data: &str, id: &str) -> Item {
    Item::Event(ParsedEvent {
        event_type: kind.into(),
        data: data.into(),
        last_event_id: id.into(),
    })
}

#[test]
fn whatwg_example_stock_ticker() {
    let items = three_ways(b"data: YHOO\ndata: +2\ndata: 10\n\n");
    assert_eq!(items, vec![ev("message", "YHOO\n+2\n10", "")]);
}

#[test]
fn whatwg_example_ids_and_comments() {
    let input = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n";
    assert_eq!(
        three_ways(input),
        vec![
            ev("message", "first event", "1"),
            ev("message", "second event", ""),
            ev("message", " third event", "")
        ]
    );
}

#[test]
fn whatwg_example_empty_data_dispatches() {
    // "data" alone and "data:" both append an empty line: two events, "" and "\n".
    let input = b"data\n\ndata\ndata\n\ndata:\n";
    assert_eq!(
        three_ways(input),
        vec![ev("message", "", ""), ev("message", "\n", "")]
    );
}

#[test]
fn whatwg_example_one_leading_space_stripped() {
    assert_eq!(
        three_ways(b"data:test\n\ndata: test\n\n"),
        vec![ev("message", "test", ""), ev("message", "test", "")]
    );
}

#[test]
fn line_endings_cr_lf_crlf_all_end_lines() {
    let input = b"data: a\rdata: b\r\ndata: c\n\r\n";
    assert_eq!(three_ways(input), vec![ev("message", "a\nb\nc", "")]);
}

#[test]
fn bom_skipped_once() {
    let input = b"\xef\xbb\xbfdata: x\n\n\xef\xbb\xbfdata: y\n\n";
    let items = three_ways(input);
    assert_eq!(items[0], ev("message", "x", ""));
    // A second BOM is not at the start of the stream: it is part of the field name.
    assert_eq!(items.len(), 1);
}

#[test]
fn event_type_and_field_without_colon() {
    let input = b"event: tick\ndata: 1\n\nevent\ndata: 2\n\n";
    assert_eq!(
        three_ways(input),
        vec![ev("tick", "1", ""), ev("message", "2", "")]
    );
}

#[test]
fn block_without_data_sets_id_but_dispatches_nothing() {
    let input = b"id: 5\n\ndata: after\n\n";
    assert_eq!(three_ways(input), vec![ev("message", "after", "5")]);
}

#[test]
fn id_with_nul_is_ignored() {
    let input = b"id: 3\ndata: a\n\nid: 4\x005\ndata: b\n\n";
    assert_eq!(
        three_ways(input),
        vec![ev("message", "a", "3"), ev("message", "b", "3")]
    );
}

#[test]
fn retry_only_ascii_digits() {
    let input = b"retry: 2500\n\nretry: 25x\n\nretry: -1\n\nretry:\n\n";
    assert_eq!(three_ways(input), vec![Item::Retry(2500)]);
}

#[test]
fn invalid_utf8_becomes_replacement_character() {
    let input = b"data: a\xffb\xe2\x82\n\n";
    assert_eq!(
        three_ways(input),
        vec![ev("message", "a\u{fffd}b\u{fffd}", "")]
    );
}

#[test]
fn unfinished_event_at_eof_is_dropped() {
    let mut p = Parser::new(1024, 1024);
    let s = p.feed(b"data: never finished\n").unwrap();
    assert_eq!(s.item, None);
    p.feed_eof();
    let s = p.feed(b"\n").unwrap();
    assert_eq!(s.item, None, "the dropped event does not come back");
}

#[test]
fn line_over_limit_is_an_error() {
    let mut p = Parser::new(8, 1024);
    assert_eq!(p.feed(b"data: 0123456789"), Err(TooLarge));
}

#[test]
fn invalid_bytes_in_a_field_stay_within_three_times_the_line_limit() {
    // Found by fuzzing: every invalid byte becomes U+FFFD, three bytes, so a field of a
    // 16-byte line may hold 48 bytes. The bound is the line limit times three.
    let mut p = Parser::new(16, 1024);
    let mut input = b"event:".to_vec();
    input.extend([0x83u8; 10]);
    input.extend_from_slice(b"\ndata: x\n\n");
    let mut items = Vec::new();
    let mut rest = &input[..];
    while !rest.is_empty() {
        let s = p.feed(rest).unwrap();
        rest = &rest[s.consumed..];
        items.extend(s.item);
    }
    let Some(Item::Event(e)) = items.first() else {
        panic!("an event")
    };
    assert_eq!(e.event_type, "\u{fffd}".repeat(10));
    assert!(e.event_type.len() <= 3 * 16);
}

#[test]
fn event_data_over_limit_is_an_error() {
    let mut p = Parser::new(64, 10);
    assert!(p.feed(b"data: 01234\n").is_ok());
    assert_eq!(p.feed(b"data: 56789\n"), Err(TooLarge));
}

#[test]
fn keepalive_comment_after_quiet_interval() {
    let mut out = Vec::new();
    let t0 = Instant::ZERO;
    let mut s = EventStream::open(t0, Duration::from_secs(15), &mut out);
    assert_eq!(out, b": ok\n\n");
    out.clear();
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(15)));
    s.handle_timeout(t0 + Duration::from_secs(14), &mut out);
    assert!(out.is_empty());
    s.send(
        t0 + Duration::from_secs(10),
        &Event {
            data: "x",
            ..Default::default()
        },
        &mut out,
    )
    .unwrap();
    out.clear();
    s.handle_timeout(t0 + Duration::from_secs(15), &mut out);
    assert!(out.is_empty(), "the event reset the clock");
    s.handle_timeout(t0 + Duration::from_secs(25), &mut out);
    assert_eq!(out, b":\n\n");
    let (items, _) = parse_with(&out, 1);
    assert!(items.is_empty(), "a keep-alive is invisible to clients");
}

#[test]
fn shed_body_is_a_retry_hint() {
    let mut out = Vec::new();
    shed(5000, &mut out);
    assert_eq!(parse_with(&out, 1).0, vec![Item::Retry(5000)]);
}

proptest! {
    #[test]
    fn any_split_gives_same_items(input in proptest::collection::vec(prop_oneof![
        Just(b'\n'), Just(b'\r'), Just(b':'), Just(b' '), Just(b'd'), Just(b'a'), Just(b't'), Just(b'i'), Just(0xffu8), any::<u8>()
    ], 0..300), step in 1usize..17) {
        let (whole, id) = parse_with(&input, input.len().max(1));
        prop_assert_eq!(parse_with(&input, step), (whole, id));
    }

    #[test]
    fn writer_then_parser_round_trips(
        id in "[a-z0-9]{0,8}",
        kind in "[a-z]{1,8}",
        data in "[a-z \n\r]{0,60}",
    ) {
        let mut out = Vec::new();
        encode(&Event { id: Some(&id), event: Some(&kind), data: &data, retry: None }, &mut out).unwrap();
        let (items, last) = parse_with(&out, 3);
        // Every line break form comes back as LF.
        let expect = data.replace("\r\n", "\n").replace('\r', "\n");
        prop_assert_eq!(items, vec![ev(&kind, &expect, &id)]);
        prop_assert_eq!(last, id);
    }
}

/// Items of `input` fed to a parser resuming after `id`, and its last event id after.
fn resumed(id: &str, input: &[u8]) -> (Vec<Item>, String) {
    let mut p = Parser::resuming(id, 64, 1 << 20);
    let mut items = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let s = p.feed(rest).unwrap();
        rest = &rest[s.consumed..];
        items.extend(s.item);
    }
    (items, p.last_event_id().to_string())
}

fn message(data: &str, id: &str) -> Item {
    Item::Event(ParsedEvent {
        event_type: "message".into(),
        data: data.into(),
        last_event_id: id.into(),
    })
}

#[test]
fn resuming_parser_keeps_the_carried_id_until_the_stream_sets_one() {
    // §9.2.4: the last event ID string outlives the connection; a block without `id:` after
    // reconnecting dispatches with the carried id.
    assert_eq!(
        resumed("41", b"data: a\n\nid: 42\ndata: b\n\ndata: c\n\n"),
        (
            vec![message("a", "41"), message("b", "42"), message("c", "42")],
            "42".to_string()
        )
    );
    // An empty `id` field resets it, as on any stream.
    assert_eq!(
        resumed("41", b"id\ndata: a\n\n"),
        (vec![message("a", "")], String::new())
    );
    // Nothing dispatched yet: the carried id is what a second reconnect would send.
    assert_eq!(
        resumed("41", b": just a comment\n"),
        (vec![], "41".to_string())
    );
}

#[test]
fn resuming_parser_refuses_ids_the_stream_could_not_have_set() {
    for bad in ["a\0b", "a\nb", "a\rb", &"x".repeat(65)] {
        assert_eq!(
            resumed(bad, b"data: a\n\n"),
            (vec![message("a", "")], String::new()),
            "{bad:?}"
        );
    }
}
