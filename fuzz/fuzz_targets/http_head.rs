//! The allocation-free head parser: any input, offered in pieces at points the first byte
//! chooses, gives what it gives whole, never panics, and agrees with the connection.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushwire::http::{Connection, Event, HeadParser, OwnedRequest, PeerError, Request};
use pushwire::{Instant, Limits};

type Head = Result<Option<(OwnedRequest, usize)>, PeerError>;

fn view(head: &Head) -> Result<Option<(Request<'_>, usize)>, PeerError> {
    head.as_ref().map(|h| h.as_ref().map(|(r, n)| (r.as_request(), *n))).map_err(|e| *e)
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, input)) = data.split_first() else { return };
    let limits = Limits { max_head_bytes: 1024, max_request_line_bytes: 256, ..Limits::default() };
    let whole = HeadParser::new(&limits).parse(input).map(|h| h.map(|(r, n)| (r.to_owned_request(), n)));
    let mut parser = HeadParser::new(&limits);
    let mut end = 0;
    let mut step = usize::from(seed % 17) + 1;
    let pieces = loop {
        end = (end + step).min(input.len());
        step = step * 7 % 31 + 1;
        match parser.parse(&input[..end]) {
            Ok(None) if end < input.len() => continue,
            other => break other.map(|h| h.map(|(r, n)| (r.to_owned_request(), n))),
        }
    };
    assert_eq!(view(&whole), view(&pieces));
    let mut conn = Connection::new(Instant::ZERO, &limits);
    let mut out = Vec::new();
    match (conn.feed(Instant::ZERO, input, &mut out), &whole) {
        (Ok(step), Ok(Some((req, _)))) => match step.event {
            Some(Event::Request(from_conn)) => assert_eq!(from_conn, req.as_request()),
            other => panic!("the connection read {other:?}"),
        },
        (Err(e), Err(f)) => assert_eq!(e, *f),
        (Ok(_), Ok(None)) => {}
        (conn, parser) => panic!("connection {conn:?}, parser {parser:?}"),
    }
});
