//! A slow, independent DEFLATE decoder (RFC 1951 §3.2) for tests: it inflates what our
//! compressor wrote and reports the longest back-reference, which is how the tests prove that a
//! window limit below 15 bits is respected. It shares no code with the codec under test.

use alloc::vec::Vec;

/// Decodes a raw DEFLATE stream message by message, keeping all output as the window.
#[derive(Default)]
pub(crate) struct Checker {
    /// Everything inflated so far (the window, unbounded).
    pub output: Vec<u8>,
    /// The longest back-reference distance seen.
    pub max_distance: usize,
}

/// `n` pseudo-random bytes (xorshift32 from `seed`): data without repeats of its own, for
/// tests that need back-references only where they put them.
pub(crate) fn noise(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.pos / 8)?;
        let b = (byte >> (self.pos % 8)) & 1;
        self.pos += 1;
        Some(u32::from(b))
    }

    fn bits(&mut self, n: u32) -> Option<u32> {
        let mut v = 0;
        for i in 0..n {
            v |= self.bit()? << i;
        }
        Some(v)
    }

    fn align(&mut self) {
        self.pos = self.pos.div_ceil(8) * 8;
    }

    fn at_end(&self) -> bool {
        self.pos >= self.data.len() * 8
    }
}

/// A canonical Huffman code: counts per length and symbols in code order.
struct Huffman {
    count: [u16; 16],
    symbol: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Huffman {
        let mut count = [0u16; 16];
        for &l in lengths {
            count[usize::from(l)] += 1;
        }
        count[0] = 0;
        let mut offs = [0u16; 16];
        for len in 1..15 {
            offs[len + 1] = offs[len] + count[len];
        }
        let mut symbol = alloc::vec![0u16; lengths.len()];
        for (sym, &l) in lengths.iter().enumerate() {
            if l != 0 {
                symbol[usize::from(offs[usize::from(l)])] = sym as u16;
                offs[usize::from(l)] += 1;
            }
        }
        Huffman { count, symbol }
    }

    fn decode(&self, bits: &mut Bits<'_>) -> Option<u16> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= bits.bit()? as i32;
            let count = i32::from(self.count[len]);
            if code - count < first {
                return self.symbol.get((index + code - first) as usize).copied();
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        None
    }
}

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
const CLEN_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

impl Checker {
    /// Inflates one message's payload with the `00 00 ff ff` tail appended, returning its
    /// bytes. `None` if the data is not valid DEFLATE or does not end on a block boundary.
    pub fn message(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        let mut data = Vec::from(payload);
        data.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let start = self.output.len();
        let mut bits = Bits {
            data: &data,
            pos: 0,
        };
        while !bits.at_end() {
            let final_block = bits.bit()? == 1;
            match bits.bits(2)? {
                0 => self.stored(&mut bits)?,
                1 => {
                    let mut lengths = [0u8; 288];
                    for (i, l) in lengths.iter_mut().enumerate() {
                        *l = match i {
                            0..=143 => 8,
                            144..=255 => 9,
                            256..=279 => 7,
                            _ => 8,
                        };
                    }
                    self.codes(&mut bits, &Huffman::new(&lengths), &Huffman::new(&[5; 30]))?;
                }
                2 => {
                    let (lit, dist) = dynamic_tables(&mut bits)?;
                    self.codes(&mut bits, &lit, &dist)?;
                }
                _ => return None,
            }
            if final_block {
                // The stream ended; the rest (at most the tail) is a new stream's start.
                bits.align();
            }
        }
        Some(self.output.get(start..)?.to_vec())
    }

    fn stored(&mut self, bits: &mut Bits<'_>) -> Option<()> {
        bits.align();
        let len = bits.bits(16)?;
        let nlen = bits.bits(16)?;
        if len != !nlen & 0xffff {
            return None;
        }
        for _ in 0..len {
            let byte = bits.bits(8)? as u8;
            self.output.push(byte);
        }
        Some(())
    }

    fn codes(&mut self, bits: &mut Bits<'_>, lit: &Huffman, dist: &Huffman) -> Option<()> {
        loop {
            let sym = lit.decode(bits)?;
            match sym {
                0..=255 => self.output.push(sym as u8),
                256 => return Some(()),
                _ => {
                    let i = usize::from(sym - 257);
                    let len = usize::from(*LEN_BASE.get(i)?)
                        + bits.bits(u32::from(*LEN_EXTRA.get(i)?))? as usize;
                    let d = usize::from(dist.decode(bits)?);
                    let distance = usize::from(*DIST_BASE.get(d)?)
                        + bits.bits(u32::from(*DIST_EXTRA.get(d)?))? as usize;
                    if distance > self.output.len() {
                        return None;
                    }
                    self.max_distance = self.max_distance.max(distance);
                    for _ in 0..len {
                        let byte = self.output[self.output.len() - distance];
                        self.output.push(byte);
                    }
                }
            }
        }
    }
}

fn dynamic_tables(bits: &mut Bits<'_>) -> Option<(Huffman, Huffman)> {
    let nlen = bits.bits(5)? as usize + 257;
    let ndist = bits.bits(5)? as usize + 1;
    let ncode = bits.bits(4)? as usize + 4;
    let mut clen = [0u8; 19];
    for &i in CLEN_ORDER.iter().take(ncode) {
        clen[i] = bits.bits(3)? as u8;
    }
    let clen = Huffman::new(&clen);
    let mut lengths = Vec::new();
    while lengths.len() < nlen + ndist {
        let sym = clen.decode(bits)?;
        match sym {
            0..=15 => lengths.push(sym as u8),
            16 => {
                let prev = *lengths.last()?;
                for _ in 0..3 + bits.bits(2)? {
                    lengths.push(prev);
                }
            }
            17 => lengths.resize(lengths.len() + 3 + bits.bits(3)? as usize, 0),
            _ => lengths.resize(lengths.len() + 11 + bits.bits(7)? as usize, 0),
        }
    }
    let (lit, dist) = lengths.split_at(nlen);
    Some((Huffman::new(lit), Huffman::new(dist.get(..ndist)?)))
}
