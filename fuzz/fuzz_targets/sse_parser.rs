//! The event stream parser fed arbitrary bytes: the same items whatever the split, bounded
//! lines and events, no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushwire::sse::{Item, Parser};

fn parse(input: &[u8], step: usize) -> (Vec<Item>, String, bool) {
    let mut p = Parser::new(256, 1024);
    let mut items = Vec::new();
    for chunk in input.chunks(step) {
        let mut rest = chunk;
        while !rest.is_empty() {
            match p.feed(rest) {
                Ok(s) => {
                    assert!(s.consumed <= rest.len() && s.consumed > 0);
                    rest = &rest[s.consumed..];
                    if let Some(Item::Event(e)) = &s.item {
                        assert!(e.data.len() <= 1024);
                        // A line is at most 256 bytes; each invalid byte becomes U+FFFD (3 bytes).
                        assert!(e.event_type.len() <= 3 * 256);
                        assert!(e.last_event_id.len() <= 3 * 256);
                    }
                    items.extend(s.item);
                }
                Err(_) => return (items, p.last_event_id().to_string(), true),
            }
        }
    }
    (items, p.last_event_id().to_string(), false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, input)) = data.split_first() else { return };
    let whole = parse(input, input.len().max(1));
    let split = parse(input, usize::from(seed % 13) + 1);
    assert_eq!(whole, split, "split changed the result");
});
