//! Payload masking (RFC 6455 §5.3): XOR with a 4-byte key, a machine word at a time.
//!
//! Safe Rust only: the bulk is processed in 8-byte chunks through `u64::from_ne_bytes`, which
//! the compiler turns into plain word loads and stores (and vectorises).

/// XORs `data` in place with `key`, as if the payload began `offset` bytes before `data`
/// (so a payload unmasked in several pieces gives the same result as in one).
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    // Bytes up to a 16-byte boundary one at a time, so the bulk runs on aligned vectors (a
    // payload usually starts 2 to 14 bytes into a buffer, after its frame header).
    let misalign = (data.as_ptr() as usize) % 16;
    let head = if misalign == 0 {
        0
    } else {
        (16 - misalign).min(data.len())
    };
    let (prefix, body) = data.split_at_mut(head);
    for (i, byte) in prefix.iter_mut().enumerate() {
        *byte ^= key[(offset + i) % 4];
    }
    apply_mask_bulk(body, key, offset + head);
}

/// `apply_mask` without the alignment step.
fn apply_mask_bulk(data: &mut [u8], key: [u8; 4], offset: usize) {
    // Rotate the key so that data[0] meets key[offset % 4].
    let shift = offset % 4;
    let key = [
        key[shift],
        key[(shift + 1) % 4],
        key[(shift + 2) % 4],
        key[(shift + 3) % 4],
    ];
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    // 32 bytes per step as four independent words: the compiler turns this into vector XORs.
    let mut blocks = data.chunks_exact_mut(32);
    for block in &mut blocks {
        for word in block.chunks_exact_mut(8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            word.copy_from_slice(&(u64::from_ne_bytes(w) ^ wide).to_ne_bytes());
        }
    }
    let rest = blocks.into_remainder();
    let mut words = rest.chunks_exact_mut(8);
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        word.copy_from_slice(&(u64::from_ne_bytes(w) ^ wide).to_ne_bytes());
    }
    // The tail starts at a multiple of 8 (so of 4): the rotated key still lines up.
    for (i, byte) in words.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn naive(data: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in data.iter_mut().enumerate() {
            *b ^= key[(i + offset) % 4];
        }
    }

    #[test]
    fn mask_matches_bytewise_definition_for_every_length_and_offset() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..40 {
            for offset in 0..8 {
                let mut a: Vec<u8> = (0..len as u8).collect();
                let mut b = a.clone();
                apply_mask(&mut a, key, offset);
                naive(&mut b, key, offset);
                assert_eq!(a, b, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn mask_in_pieces_equals_mask_whole() {
        let key = [1, 2, 3, 4];
        let mut whole: Vec<u8> = (0..100).collect();
        let mut pieces = whole.clone();
        apply_mask(&mut whole, key, 0);
        let (a, rest) = pieces.split_at_mut(7);
        let (b, c) = rest.split_at_mut(30);
        apply_mask(a, key, 0);
        apply_mask(b, key, 7);
        apply_mask(c, key, 37);
        assert_eq!(whole, pieces);
    }

    #[test]
    fn mask_rfc6455_5_7_hello() {
        let mut data = *b"Hello";
        apply_mask(&mut data, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }
}
