//! Arbitrary bytes as Redis replies: never a panic, and the same replies (or the same error)
//! whether the bytes arrive whole or cut in two at a point the fuzzer chooses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushwire::resp::{Parser, RespLimits, Value};

fn read(pieces: &[&[u8]]) -> (Vec<Value>, Option<pushwire::resp::RespError>) {
    let limits = RespLimits {
        max_bulk_bytes: 1 << 16,
        max_elements: 1 << 12,
        max_depth: 8,
        max_line_bytes: 1 << 10,
    };
    let mut parser = Parser::new(limits);
    let mut buffered = Vec::new();
    let mut values = Vec::new();
    for piece in pieces {
        buffered.extend_from_slice(piece);
        loop {
            match parser.feed(&buffered) {
                Err(e) => return (values, Some(e)),
                Ok(step) => {
                    assert!(step.consumed <= buffered.len());
                    buffered.drain(..step.consumed);
                    match step.value {
                        Some(v) => values.push(v),
                        None if step.consumed == 0 => break,
                        None => {}
                    }
                }
            }
        }
    }
    (values, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut).min(input.len());
    let whole = read(&[input]);
    let split = read(&[&input[..cut], &input[cut..]]);
    // NaN is not equal to itself: compare the debug text.
    assert_eq!(format!("{whole:?}"), format!("{split:?}"));
});
