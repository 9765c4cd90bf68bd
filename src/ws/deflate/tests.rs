//! The message layer of permessage-deflate: RFC 7692 §7.2.3's own examples, limits, memory
//! rules, and a property test of the window limit with an independent decoder.

use super::checker::Checker;
use super::message::{Compressor, Decompressor, InflateError, STEP};
use alloc::vec;
use alloc::vec::Vec;
use proptest::prelude::*;

fn inflate_pieces(d: &mut Decompressor, pieces: &[&[u8]]) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::new();
    let mut budget = u64::MAX;
    for (i, p) in pieces.iter().enumerate() {
        d.inflate(p, i + 1 == pieces.len(), &mut out, &mut budget)?;
    }
    Ok(out)
}

fn compress(c: &mut Compressor, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    c.compress(message, true, &mut out);
    out
}

#[test]
fn rfc7692_7_2_3_1_hello_one_block() {
    let mut d = Decompressor::new(false);
    let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    assert_eq!(inflate_pieces(&mut d, &[&hello]).unwrap(), b"Hello");
}

#[test]
fn rfc7692_7_2_3_2_context_takeover_second_hello_refers_back() {
    let mut d = Decompressor::new(false);
    let first = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let second = [0xf2, 0x00, 0x11, 0x00, 0x00];
    assert_eq!(inflate_pieces(&mut d, &[&first]).unwrap(), b"Hello");
    assert_eq!(inflate_pieces(&mut d, &[&second]).unwrap(), b"Hello");
}

#[test]
fn rfc7692_7_2_3_3_stored_block() {
    let mut d = Decompressor::new(true);
    let stored = [
        0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    assert_eq!(inflate_pieces(&mut d, &[&stored]).unwrap(), b"Hello");
}

#[test]
fn rfc7692_7_2_3_4_fragmented_message() {
    let mut d = Decompressor::new(true);
    let pieces: [&[u8]; 2] = [&[0xf2, 0x48, 0xcd], &[0xc9, 0xc9, 0x07, 0x00]];
    assert_eq!(inflate_pieces(&mut d, &pieces).unwrap(), b"Hello");
}

#[test]
fn rfc7692_7_2_3_5_bfinal_block_then_more_messages() {
    let mut d = Decompressor::new(false);
    let bfinal = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
    assert_eq!(inflate_pieces(&mut d, &[&bfinal]).unwrap(), b"Hello");
    // The stream ended; the next message starts a new one and is read as usual.
    let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    assert_eq!(inflate_pieces(&mut d, &[&hello]).unwrap(), b"Hello");
}

#[test]
fn rfc7692_7_2_3_6_empty_message_is_one_zero_byte() {
    for keep in [false, true] {
        let mut c = Compressor::new(!keep, 15, 1);
        assert_eq!(compress(&mut c, b""), [0x00]);
        assert!(!c.is_allocated(), "an empty message needs no compressor");
        // Also after a message that left context behind.
        let _ = compress(&mut c, b"Hello Hello");
        assert_eq!(compress(&mut c, b""), [0x00]);
    }
    let mut d = Decompressor::new(true);
    assert_eq!(inflate_pieces(&mut d, &[&[0x00]]).unwrap(), b"");
}

#[test]
fn our_compressed_hello_round_trips_and_strips_the_tail() {
    let mut c = Compressor::new(true, 15, 6);
    let wire = compress(&mut c, b"Hello");
    assert!(!wire.ends_with(&[0, 0, 0xff, 0xff]));
    let mut d = Decompressor::new(true);
    assert_eq!(inflate_pieces(&mut d, &[&wire]).unwrap(), b"Hello");
}

#[test]
fn bomb_stops_one_step_past_the_limit() {
    // 64 MiB of zeros compress to about 64 KiB.
    let mut c = Compressor::new(true, 15, 9);
    let mut wire = Vec::new();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..63 {
        c.compress(&zeros, false, &mut wire);
    }
    c.compress(&zeros, true, &mut wire);
    assert!(wire.len() < 100 * 1024, "{}", wire.len());
    let mut d = Decompressor::new(true);
    let mut out = Vec::new();
    let limit = 1 << 20;
    let mut budget = limit;
    assert_eq!(
        d.inflate(&wire, true, &mut out, &mut budget),
        Err(InflateError::TooLarge)
    );
    assert!(out.len() as u64 <= limit + STEP as u64, "{}", out.len());
    assert!(!d.is_allocated(), "a failed stream is dropped");
}

#[test]
fn limit_exactly_met_is_accepted() {
    let mut c = Compressor::new(true, 15, 1);
    let wire = compress(&mut c, &[b'a'; 5000]);
    let mut d = Decompressor::new(true);
    let (mut out, mut budget) = (Vec::new(), 5000);
    d.inflate(&wire, true, &mut out, &mut budget).unwrap();
    assert_eq!((out.len(), budget), (5000, 0));
    let (mut out, mut budget) = (Vec::new(), 4999);
    let wire = compress(&mut c, &[b'a'; 5000]);
    assert_eq!(
        d.inflate(&wire, true, &mut out, &mut budget),
        Err(InflateError::TooLarge)
    );
}

#[test]
fn invalid_deflate_is_corrupt() {
    // BTYPE 11 is reserved (RFC 1951 §3.2.3); a stored block whose NLEN is not LEN's complement.
    for bad in [&[0x07u8][..], &[0x00, 0x05, 0x00, 0x00, 0x00, b'x']] {
        let mut d = Decompressor::new(false);
        assert_eq!(
            inflate_pieces(&mut d, &[bad]),
            Err(InflateError::Corrupt),
            "{bad:?}"
        );
    }
}

#[test]
fn memory_codecs_live_only_while_context_is_kept() {
    let mut c = Compressor::new(true, 15, 1);
    let mut out = Vec::new();
    c.compress(b"part one ", false, &mut out);
    assert!(c.is_allocated(), "kept across the fragments of a message");
    c.compress(b"part two", true, &mut out);
    assert!(
        !c.is_allocated(),
        "no context takeover: released after the message"
    );
    let mut c = Compressor::new(false, 15, 1);
    let _ = compress(&mut c, b"context kept");
    assert!(c.is_allocated(), "context takeover keeps the compressor");
    let mut c = Compressor::new(false, 12, 1);
    let _ = compress(
        &mut c,
        b"window below 15: every message ends with a full flush",
    );
    assert!(!c.is_allocated());

    let mut d = Decompressor::new(true);
    assert!(
        !d.is_allocated(),
        "nothing before the first compressed message"
    );
    let (mut out, mut budget) = (Vec::new(), u64::MAX);
    d.inflate(&[0xf2, 0x48], false, &mut out, &mut budget)
        .unwrap();
    assert!(d.is_allocated());
    d.inflate(&[0xcd, 0xc9, 0xc9, 0x07, 0x00], true, &mut out, &mut budget)
        .unwrap();
    assert_eq!(out, b"Hello");
    assert!(!d.is_allocated(), "the peer resets: nothing kept");
    let mut d = Decompressor::new(false);
    let _ = inflate_pieces(&mut d, &[&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]]);
    assert!(d.is_allocated(), "the peer keeps context: so do we");
}

#[test]
fn checker_reads_the_rfc_examples() {
    let mut k = Checker::default();
    assert_eq!(
        k.message(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])
            .unwrap(),
        b"Hello"
    );
    assert_eq!(
        k.message(&[0xf2, 0x00, 0x11, 0x00, 0x00]).unwrap(),
        b"Hello"
    );
    assert_eq!(k.max_distance, 5);
}

#[test]
fn checker_sees_far_references_when_the_window_is_not_limited() {
    // The property below would be empty if the checker could not see a long distance.
    let block = super::checker::noise(1000, 0x9e37_79b9);
    let message = [&block[..], &block[..]].concat();
    for (bits, far) in [(15, true), (9, false)] {
        let mut c = Compressor::new(true, bits, 6);
        let mut k = Checker::default();
        assert_eq!(k.message(&compress(&mut c, &message)).unwrap(), message);
        assert_eq!(
            k.max_distance >= 1000,
            far,
            "window {bits}: {}",
            k.max_distance
        );
    }
}

/// Text that tempts a compressor to refer far back: a random block repeated at a distance.
fn message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(b"ab{}\":, 01".to_vec()), 0..3000),
        (
            prop::collection::vec(any::<u8>(), 1..1200),
            1usize..6,
            prop::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(block, times, noise)| {
                let mut m = Vec::new();
                for _ in 0..times {
                    m.extend_from_slice(&block);
                    m.extend_from_slice(&noise);
                }
                m
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Compress → decompress round-trips whatever the fragmentation, context mode and window,
    /// and no back-reference reaches past the window the peer allowed.
    #[test]
    fn round_trip_respects_the_window(
        messages in prop::collection::vec((message(), prop::collection::vec(any::<prop::sample::Index>(), 0..4)), 1..5),
        bits in 8u8..=15,
        no_takeover in any::<bool>(),
        level in 1u8..=9,
        split in any::<prop::sample::Index>(),
    ) {
        let mut c = Compressor::new(no_takeover, bits, level);
        let mut d = Decompressor::new(no_takeover);
        let mut checker = Checker::default();
        for (m, cuts) in &messages {
            // Fragment the message at the chosen cut points.
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(m.len() + 1)).collect();
            cuts.sort_unstable();
            let mut wire = Vec::new();
            let mut from = 0;
            for &cut in &cuts {
                c.compress(&m[from..cut], false, &mut wire);
                from = cut;
            }
            c.compress(&m[from..], true, &mut wire);

            if no_takeover {
                checker = Checker::default();
            }
            let seen = checker.message(&wire);
            prop_assert_eq!(seen.as_deref(), Some(&m[..]));
            prop_assert!(checker.max_distance <= 1 << bits, "distance {} > 2^{}", checker.max_distance, bits);

            // Our inflater agrees, given the payload in two arbitrary pieces.
            let at = split.index(wire.len() + 1);
            let got = inflate_pieces(&mut d, &[&wire[..at], &wire[at..]]);
            prop_assert_eq!(got.as_deref(), Ok(&m[..]));
        }
    }

    /// Arbitrary bytes never panic, and never inflate past the budget by more than one step.
    #[test]
    fn hostile_input_is_bounded(
        pieces in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..4),
        limit in 0u64..100_000,
    ) {
        let mut d = Decompressor::new(false);
        let (mut out, mut budget) = (Vec::new(), limit);
        for (i, p) in pieces.iter().enumerate() {
            if d.inflate(p, i + 1 == pieces.len(), &mut out, &mut budget).is_err() {
                break;
            }
        }
        prop_assert!(out.len() as u64 <= limit + STEP as u64);
    }
}

/// The per-thread spare compressor is restarted, not recreated: a restarted compressor must
/// write exactly what a new one writes, at any level, whatever it compressed before.
#[test]
fn restarted_compressor_writes_what_a_new_one_writes() {
    use super::codec::{Deflater, Flush, RawDeflate};
    fn run(d: &mut Deflater, input: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; input.len() * 2 + 64];
        let p = d.deflate(input, &mut out, Flush::Sync);
        assert_eq!(p.consumed, input.len());
        out.truncate(p.written);
        out
    }
    let before = super::checker::noise(20_000, 7);
    let message: Vec<u8> = b"{\"id\":1,\"v\":[1,2,3]}".repeat(500);
    for (first, second) in [(1, 1), (1, 6), (9, 1)] {
        let mut reused = <Deflater as RawDeflate>::new_boxed(first);
        let _ = run(&mut reused, &before);
        reused.restart(second);
        let mut fresh = <Deflater as RawDeflate>::new_boxed(second);
        assert_eq!(
            run(&mut reused, &message),
            run(&mut fresh, &message),
            "level {first} then {second}"
        );
    }
}
