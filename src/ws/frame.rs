//! Frame headers and close codes (RFC 6455 §5.2, §7.4): pure functions, no state.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               | Masking-key, if MASK set to 1 |
//! +-------------------------------+-------------------------------+
//! ```

use super::error::PeerError;
use alloc::vec::Vec;

/// A frame's opcode (RFC 6455 §5.2, §11.8). The reserved values are refused when decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: the first frame of a UTF-8 text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: starts or answers the closing handshake (§5.5.1).
    Close,
    /// 0x9: asks for a pong (§5.5.2).
    Ping,
    /// 0xA: answers a ping, or is a unidirectional heartbeat (§5.5.3).
    Pong,
}

impl OpCode {
    /// The opcode for a 4-bit value, or `None` for a reserved one.
    pub fn from_bits(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// The 4-bit wire value.
    pub fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Whether this is a control opcode (close, ping, pong: §5.5).
    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// A decoded frame header (RFC 6455 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// FIN: this is the last frame of its message.
    pub fin: bool,
    /// RSV1..RSV3 as the low three bits (RSV1 = 0b100). Non-zero only with an extension.
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present on every client-to-server frame (§5.3).
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub len: u64,
}

/// The longest header: 2 + 8 (64-bit length) + 4 (mask).
pub const MAX_HEADER_LEN: usize = 14;

impl Header {
    /// Decodes a header from the start of `input`: `Ok(None)` if more bytes are needed, else
    /// the header and its length in bytes.
    ///
    /// # Errors
    /// [`PeerError::ReservedOpcode`] and [`PeerError::LengthTopBit`]. Rules that depend on the
    /// connection (RSV bits, masking, control frame size) are checked by the caller.
    pub fn decode(input: &[u8]) -> Result<Option<(Header, usize)>, PeerError> {
        let [b0, b1, rest @ ..] = input else {
            return Ok(None);
        };
        let opcode = OpCode::from_bits(b0 & 0x0f).ok_or(PeerError::ReservedOpcode)?;
        let masked = b1 & 0x80 != 0;
        let (len, rest, mut used) = match b1 & 0x7f {
            126 => match rest {
                [a, b, rest @ ..] => (u64::from(u16::from_be_bytes([*a, *b])), rest, 4),
                _ => return Ok(None),
            },
            127 => match rest {
                [a, b, c, d, e, f, g, h, rest @ ..] => {
                    let len = u64::from_be_bytes([*a, *b, *c, *d, *e, *f, *g, *h]);
                    // §5.2: the most significant bit MUST be 0.
                    if len >> 63 != 0 {
                        return Err(PeerError::LengthTopBit);
                    }
                    (len, rest, 10)
                }
                _ => return Ok(None),
            },
            n => (u64::from(n), rest, 2),
        };
        let mask = if masked {
            match rest {
                [a, b, c, d, ..] => {
                    used += 4;
                    Some([*a, *b, *c, *d])
                }
                _ => return Ok(None),
            }
        } else {
            None
        };
        let header = Header {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0x07,
            opcode,
            mask,
            len,
        };
        Ok(Some((header, used)))
    }

    /// Appends the encoded header to `out`, using the shortest length form (§5.2 requires the
    /// minimal number of bytes).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (bytes, len) = self.to_bytes();
        out.extend_from_slice(bytes.get(..len).expect("a header is at most 14 bytes"));
    }

    /// The encoded header and its length, without allocating.
    pub fn to_bytes(&self) -> ([u8; MAX_HEADER_LEN], usize) {
        let mut b = [0u8; MAX_HEADER_LEN];
        b[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0x07) << 4) | self.opcode.bits();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut n = if self.len < 126 {
            b[1] = mask_bit | self.len as u8;
            2
        } else if let Ok(len) = u16::try_from(self.len) {
            b[1] = mask_bit | 126;
            b[2..4].copy_from_slice(&len.to_be_bytes());
            4
        } else {
            b[1] = mask_bit | 127;
            b[2..10].copy_from_slice(&self.len.to_be_bytes());
            10
        };
        if let Some(key) = self.mask {
            b[n..n + 4].copy_from_slice(&key);
            n += 4;
        }
        (b, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_every_length_form_round_trips() {
        for len in [0u64, 1, 125, 126, 127, 65535, 65536, 1 << 40, (1 << 63) - 1] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let h = Header {
                    fin: true,
                    rsv: 0,
                    opcode: OpCode::Binary,
                    mask,
                    len,
                };
                let mut out = Vec::new();
                h.encode(&mut out);
                let expect =
                    2 + if len < 126 {
                        0
                    } else if len < 65536 {
                        2
                    } else {
                        8
                    } + if mask.is_some() { 4 } else { 0 };
                assert_eq!(out.len(), expect);
                assert_eq!(Header::decode(&out), Ok(Some((h, out.len()))));
                // Any strict prefix asks for more.
                for cut in 0..out.len() {
                    assert_eq!(Header::decode(&out[..cut]), Ok(None));
                }
            }
        }
    }

    #[test]
    fn header_length_top_bit_is_refused() {
        let wire = [0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(Header::decode(&wire), Err(PeerError::LengthTopBit));
    }

    #[test]
    fn header_reserved_opcodes_are_refused() {
        for op in [3u8, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf] {
            assert_eq!(
                Header::decode(&[0x80 | op, 0]),
                Err(PeerError::ReservedOpcode)
            );
        }
    }
}
