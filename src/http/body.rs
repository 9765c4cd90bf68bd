//! Message bodies both ways: Content-Length counting and the chunked transfer coding.
//!
//! RFC 9112 §6 (body length), §7.1 (chunked coding), §7.1.1 (chunk extensions, which we accept
//! and ignore), §7.1.2 (trailer section, which we check and discard: §7.1.2 lets a recipient
//! drop trailers it does not act on).
//!
//! The decoder reads framing a byte at a time and hands out data as slices of the caller's
//! input, so a body is never copied. Every line it keeps track of has a length limit.

use super::error::{PeerError, UsageError};
use super::head::{HttpLimits, check_outgoing_fields, is_tchar, push_hex};
use crate::clamp_len;
use alloc::vec::Vec;

/// One step of a body decoder.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// Body bytes, borrowed from the input.
    Data(&'a [u8]),
    /// The body is complete.
    End,
}

/// Reads a body delimited by Content-Length or by the chunked coding.
#[derive(Clone, Debug)]
pub(crate) enum BodyDecoder {
    /// `remaining` bytes to go.
    Length { remaining: u64 },
    /// Chunked coding, counting the decoded size against `max_body`.
    Chunked(ChunkedDecoder),
    /// Until end of input (responses only).
    UntilClose,
}

impl BodyDecoder {
    /// Decodes from `input`: `(consumed, piece)`. `None` with everything consumed means "more".
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Option<Piece<'a>>), PeerError> {
        match self {
            BodyDecoder::Length { remaining: 0 } => Ok((0, Some(Piece::End))),
            BodyDecoder::Length { remaining } => {
                let take = clamp_len(*remaining, input.len());
                *remaining -= take as u64;
                match input.get(..take) {
                    Some(data) if !data.is_empty() => Ok((take, Some(Piece::Data(data)))),
                    _ => Ok((0, None)),
                }
            }
            BodyDecoder::Chunked(decoder) => decoder.decode(input),
            BodyDecoder::UntilClose => {
                if input.is_empty() {
                    Ok((0, None))
                } else {
                    Ok((input.len(), Some(Piece::Data(input))))
                }
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Reading hex digits of a chunk size; `digits` counts them.
    Size {
        digits: u32,
    },
    /// Whitespace after the size, before `;` (RFC 9112 §7.1.1 BWS).
    SizeSpace,
    /// Inside chunk extensions, up to CR.
    Extension {
        quoted: bool,
        escaped: bool,
    },
    /// Saw CR ending the size line; LF must follow.
    SizeLf,
    /// Chunk data; `remaining` bytes to go.
    Data {
        remaining: u64,
    },
    /// After chunk data: CR then LF must follow.
    DataCr,
    DataLf,
    /// At the start of a trailer line (or of the final CRLF).
    TrailerStart,
    /// Inside a trailer field line.
    Trailer {
        in_name: bool,
    },
    /// Saw CR ending a trailer line.
    TrailerLf,
    /// Saw CR of the final empty line.
    EndLf,
    /// The body is complete.
    Done,
}

/// Decoder for the chunked transfer coding (RFC 9112 §7.1).
///
/// Accepts upper- and lowercase hex and leading zeros; refuses an empty or overflowing size,
/// a bare CR or LF anywhere in the framing, data not followed by CRLF, and lines or trailers
/// over their limits.
#[derive(Clone, Debug)]
pub(crate) struct ChunkedDecoder {
    state: Chunk,
    /// Size of the chunk being read.
    size: u64,
    /// Bytes of the current size or trailer line.
    line: usize,
    /// Bytes of the trailer section.
    trailer: usize,
    /// Data bytes decoded so far.
    total: u64,
    /// Chunk-extension bytes read so far, all chunks together.
    extensions: usize,
    max_line: usize,
    max_trailer: usize,
    max_extensions: usize,
    max_body: u64,
}

impl ChunkedDecoder {
    /// A decoder bounded by `limits` (its lines, trailer section and extensions), for a body
    /// of at most `max_body` data bytes.
    pub fn new(limits: &HttpLimits, max_body: u64) -> Self {
        ChunkedDecoder {
            state: Chunk::Size { digits: 0 },
            size: 0,
            line: 0,
            trailer: 0,
            total: 0,
            extensions: 0,
            max_line: limits.max_chunk_line_bytes,
            max_trailer: limits.max_trailer_bytes,
            max_extensions: limits.max_chunk_extension_bytes,
            max_body,
        }
    }

    /// Whether the final chunk and trailer section have been read.
    #[cfg(test)]
    pub fn is_done(&self) -> bool {
        self.state == Chunk::Done
    }

    /// Decodes from `input`; see [`BodyDecoder::decode`].
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Option<Piece<'a>>), PeerError> {
        let mut i = 0;
        loop {
            if let Chunk::Data { remaining } = self.state {
                let rest = input.get(i..).expect("i counts bytes of input");
                let take = clamp_len(remaining, rest.len());
                if take == 0 {
                    return Ok((i, None));
                }
                let remaining = remaining - take as u64;
                self.state = if remaining == 0 {
                    Chunk::DataCr
                } else {
                    Chunk::Data { remaining }
                };
                let data = rest.get(..take).expect("take is clamped to rest");
                return Ok((i + take, Some(Piece::Data(data))));
            }
            if self.state == Chunk::Done {
                return Ok((i, Some(Piece::End)));
            }
            let Some(&b) = input.get(i) else {
                return Ok((i, None));
            };
            i += 1;
            self.step(b)?;
        }
    }

    /// Advances the framing state by one byte (never called in `Data` or `Done`).
    fn step(&mut self, b: u8) -> Result<(), PeerError> {
        use Chunk::*;
        // Every framing line has a length limit.
        if matches!(self.state, Size { .. } | SizeSpace | Extension { .. }) {
            self.line += 1;
            if self.line > self.max_line {
                return Err(PeerError::ChunkLineTooLong);
            }
        }
        if let Extension { .. } = self.state {
            // RFC 9112 §7.1.1: the total of a body's extensions is bounded, not only each line.
            self.extensions += 1;
            if self.extensions > self.max_extensions {
                return Err(PeerError::ChunkExtensionsTooLarge);
            }
        }
        if matches!(
            self.state,
            TrailerStart | Trailer { .. } | TrailerLf | EndLf
        ) {
            self.trailer += 1;
            if self.trailer > self.max_trailer {
                return Err(PeerError::TrailerTooLarge);
            }
        }
        self.state = match (self.state, b) {
            (Size { digits }, _) if b.is_ascii_hexdigit() => self.size_digit(digits, b)?,
            // RFC 9112 §7.1: chunk-size is 1*HEXDIG; an empty size is malformed.
            (Size { digits: 0 }, _) => return Err(PeerError::InvalidChunkSize),
            (Size { .. } | SizeSpace, b' ' | b'\t') => SizeSpace,
            (Size { .. } | SizeSpace, b';') => Extension {
                quoted: false,
                escaped: false,
            },
            (Size { .. }, b'\r') => SizeLf,
            (Size { .. } | SizeSpace, b'\n') => return Err(PeerError::BareLf),
            (Size { .. } | SizeSpace, _) => return Err(PeerError::InvalidChunkSize),
            (Extension { quoted, escaped }, _) => extension(quoted, escaped, b)?,
            (SizeLf, b'\n') => self.size_line_done()?,
            (SizeLf, _) => return Err(PeerError::BareCr),
            (DataCr, b'\r') => DataLf,
            (DataCr, b'\n') => return Err(PeerError::BareLf),
            (DataCr, _) => return Err(PeerError::MissingChunkCrlf),
            (DataLf, b'\n') => Size { digits: 0 },
            (DataLf, _) => return Err(PeerError::MissingChunkCrlf),
            (TrailerStart, b'\r') => EndLf,
            (TrailerStart, b'\n') => return Err(PeerError::BareLf),
            // RFC 9112 §5.2: no obs-fold in trailers either.
            (TrailerStart, b' ' | b'\t') => return Err(PeerError::ObsoleteFold),
            (TrailerStart, _) if is_tchar(b) => {
                self.line = 1;
                Trailer { in_name: true }
            }
            (TrailerStart, _) => return Err(PeerError::InvalidTrailer),
            (Trailer { in_name: true }, b':') => Trailer { in_name: false },
            (Trailer { in_name: true }, _) if is_tchar(b) => Trailer { in_name: true },
            (Trailer { in_name: true }, _) => return Err(PeerError::InvalidTrailer),
            (Trailer { in_name: false }, b'\r') => TrailerLf,
            (Trailer { in_name: false }, b'\n') => return Err(PeerError::BareLf),
            (Trailer { in_name: false }, 0..=8 | 0x0a..=0x1f | 0x7f) => {
                return Err(PeerError::InvalidTrailer);
            }
            (Trailer { in_name: false }, _) => Trailer { in_name: false },
            (TrailerLf, b'\n') => TrailerStart,
            (TrailerLf, _) => return Err(PeerError::BareCr),
            (EndLf, b'\n') => Done,
            (EndLf, _) => return Err(PeerError::BareCr),
            (Data { .. } | Done, _) => self.state,
        };
        if let Trailer { .. } = self.state {
            self.line += 1;
            if self.line > self.max_line {
                return Err(PeerError::ChunkLineTooLong);
            }
        }
        Ok(())
    }

    /// One more hex digit of a chunk size.
    fn size_digit(&mut self, digits: u32, b: u8) -> Result<Chunk, PeerError> {
        if self.size > u64::MAX >> 4 {
            return Err(PeerError::ChunkSizeOverflow);
        }
        let nibble = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => b - b'A' + 10,
        };
        self.size = (self.size << 4) | u64::from(nibble);
        Ok(Chunk::Size { digits: digits + 1 })
    }

    /// The end of a chunk-size line: the chunk's data follows, or (size 0) the trailer section.
    fn size_line_done(&mut self) -> Result<Chunk, PeerError> {
        self.line = 0;
        let size = core::mem::take(&mut self.size);
        if size == 0 {
            return Ok(Chunk::TrailerStart);
        }
        self.total = self
            .total
            .checked_add(size)
            .ok_or(PeerError::BodyTooLarge)?;
        if self.total > self.max_body {
            return Err(PeerError::BodyTooLarge);
        }
        Ok(Chunk::Data { remaining: size })
    }
}

/// One byte of a chunk extension (RFC 9112 §7.1.1: `;name=value`, the value a token or a
/// quoted string): its end at CR outside quotes, no control bytes.
fn extension(quoted: bool, escaped: bool, b: u8) -> Result<Chunk, PeerError> {
    let escaped_next = quoted && !escaped && b == b'\\';
    Ok(match b {
        b'\n' => return Err(PeerError::BareLf),
        b'\r' if !quoted => Chunk::SizeLf,
        0..=8 | 0x0a..=0x1f | 0x7f => return Err(PeerError::InvalidChunkSize),
        b'"' if !escaped => Chunk::Extension {
            quoted: !quoted,
            escaped: false,
        },
        _ => Chunk::Extension {
            quoted,
            escaped: escaped_next,
        },
    })
}

/// How a message body goes out (RFC 9112 §6): counted against its Content-Length, as chunks
/// (§7.1), as it comes until the connection closes (a response, §6.3 item 8), or dropped (the
/// body of a HEAD response, a 204 or a 304, RFC 9110 §6.4.1). One encoder for both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyEncoder {
    /// Bytes still owed to the declared length.
    Length(u64),
    Chunked,
    UntilClose,
    /// Whatever the caller sends is dropped.
    Omitted,
}

impl BodyEncoder {
    /// Writes body bytes.
    ///
    /// # Errors
    /// [`UsageError::BodyTooLong`] past the declared length (nothing is written).
    pub fn write(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), UsageError> {
        match self {
            BodyEncoder::Length(remaining) => {
                let n = data.len() as u64;
                if n > *remaining {
                    return Err(UsageError::BodyTooLong);
                }
                *remaining -= n;
                out.extend_from_slice(data);
            }
            BodyEncoder::Chunked => encode_chunk(data, out),
            BodyEncoder::UntilClose => out.extend_from_slice(data),
            BodyEncoder::Omitted => {}
        }
        Ok(())
    }

    /// Ends the body: the last chunk with `trailers` for a chunked one (trailers are sent only
    /// there, and checked for every body).
    ///
    /// # Errors
    /// [`UsageError::BodyTooShort`] before the declared length was written; a bad trailer's
    /// [`UsageError::InvalidHeader`] / [`UsageError::FramingHeader`].
    pub fn finish(self, trailers: &[(&str, &[u8])], out: &mut Vec<u8>) -> Result<(), UsageError> {
        check_outgoing_fields(trailers, false)?;
        match self {
            BodyEncoder::Length(remaining) if remaining > 0 => Err(UsageError::BodyTooShort),
            BodyEncoder::Chunked => {
                encode_last_chunk(trailers, out);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Whether this is a counted body with every byte written (nothing more may follow).
    pub fn is_spent(self) -> bool {
        self == BodyEncoder::Length(0)
    }
}

/// Appends one chunk holding `data` (nothing for empty data: an empty chunk would end the body).
pub fn encode_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    out.reserve(data.len() + 20);
    push_hex(out, data.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the last chunk, the trailer fields and the final CRLF (RFC 9112 §7.1).
/// The caller has checked the trailer fields.
pub fn encode_last_chunk(trailers: &[(&str, &[u8])], out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n");
    super::head::push_fields(out, trailers);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use alloc::vec;

    /// The defaults, with the line and trailer bounds these tests were written for.
    fn limits() -> HttpLimits {
        HttpLimits::from(&Limits {
            max_chunk_line_bytes: 4096,
            max_trailer_bytes: 8192,
            ..Limits::default()
        })
    }

    fn decode_all(input: &[u8], step: usize) -> Result<(Vec<u8>, usize), PeerError> {
        let mut d = ChunkedDecoder::new(&limits(), u64::MAX);
        let mut body = Vec::new();
        let mut offered = 0;
        let mut pos = 0;
        loop {
            offered = (offered + step).min(input.len()).max(offered);
            let (consumed, piece) = d.decode(&input[pos..offered])?;
            pos += consumed;
            match piece {
                Some(Piece::Data(data)) => body.extend_from_slice(data),
                Some(Piece::End) => return Ok((body, pos)),
                None if offered == input.len() => return Err(PeerError::IncompleteMessage),
                None => {}
            }
        }
    }

    #[test]
    fn chunked_rfc9112_example_decodes() {
        let wire = b"4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n";
        for step in [wire.len(), 1, 3] {
            let (body, used) = decode_all(wire, step).unwrap();
            assert_eq!(body, b"Wikipedia in\r\n\r\nchunks.");
            assert_eq!(used, wire.len());
        }
    }

    #[test]
    fn chunked_trailing_bytes_left_unconsumed() {
        let wire = b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
        let (body, used) = decode_all(wire, wire.len()).unwrap();
        assert_eq!(body, b"abc");
        assert_eq!(used, wire.len() - 16);
    }

    #[test]
    fn chunked_uppercase_hex_leading_zeros_extensions_trailers_accepted() {
        let wire = b"000A;name=\"v;al\\\"ue\";x\r\n0123456789\r\n0 ; last\r\nExpires: never\r\nX-T: 1\r\n\r\n";
        let (body, _) = decode_all(wire, 1).unwrap();
        assert_eq!(body, b"0123456789");
    }

    #[test]
    fn chunked_empty_size_is_invalid() {
        assert_eq!(decode_all(b"\r\n", 9), Err(PeerError::InvalidChunkSize));
        assert_eq!(decode_all(b";ext\r\n", 9), Err(PeerError::InvalidChunkSize));
    }

    #[test]
    fn chunked_non_hex_size_is_invalid() {
        assert_eq!(decode_all(b"1g\r\n", 9), Err(PeerError::InvalidChunkSize));
        assert_eq!(decode_all(b"-1\r\n", 9), Err(PeerError::InvalidChunkSize));
        assert_eq!(decode_all(b"0x1\r\n", 9), Err(PeerError::InvalidChunkSize));
    }

    #[test]
    fn chunked_size_overflow_is_refused() {
        assert_eq!(
            decode_all(b"10000000000000000\r\n", 99),
            Err(PeerError::ChunkSizeOverflow)
        );
        // Sixteen digits fit; leading zeros do not count against that.
        let mut d = ChunkedDecoder::new(&limits(), u64::MAX);
        assert!(d.decode(b"0000000000000000000fffffffffffffff\r\n").is_ok());
    }

    #[test]
    fn chunked_bare_lf_in_size_line_is_refused() {
        assert_eq!(decode_all(b"3\nabc\r\n", 99), Err(PeerError::BareLf));
        assert_eq!(decode_all(b"3;x\nabc\r\n", 99), Err(PeerError::BareLf));
    }

    #[test]
    fn chunked_bare_lf_after_data_is_refused() {
        assert_eq!(
            decode_all(b"3\r\nabc\n0\r\n\r\n", 99),
            Err(PeerError::BareLf)
        );
    }

    #[test]
    fn chunked_bare_cr_is_refused() {
        assert_eq!(decode_all(b"3\rabc", 99), Err(PeerError::BareCr));
        assert_eq!(
            decode_all(b"3\r\nabc\rx", 99),
            Err(PeerError::MissingChunkCrlf)
        );
    }

    #[test]
    fn chunked_data_without_crlf_is_refused() {
        assert_eq!(
            decode_all(b"3\r\nabcd\r\n", 99),
            Err(PeerError::MissingChunkCrlf)
        );
    }

    #[test]
    fn chunked_line_limit_is_enforced() {
        let mut wire = b"1;".to_vec();
        wire.extend(vec![b'a'; 5000]);
        assert_eq!(decode_all(&wire, 4096), Err(PeerError::ChunkLineTooLong));
    }

    #[test]
    fn chunked_trailer_limit_is_enforced() {
        let mut wire = b"0\r\n".to_vec();
        for _ in 0..200 {
            wire.extend_from_slice(b"X-Filler: 0123456789012345678901234567890123456789\r\n");
        }
        assert_eq!(decode_all(&wire, 4096), Err(PeerError::TrailerTooLarge));
    }

    #[test]
    fn chunked_obs_fold_in_trailer_is_refused() {
        assert_eq!(
            decode_all(b"0\r\nA: b\r\n c\r\n\r\n", 99),
            Err(PeerError::ObsoleteFold)
        );
    }

    #[test]
    fn chunked_body_limit_counts_decoded_bytes() {
        let mut d = ChunkedDecoder::new(&limits(), 5);
        assert_eq!(d.decode(b"3\r\nabc"), Ok((6, Some(Piece::Data(b"abc")))));
        let mut d2 = d.clone();
        assert_eq!(d2.decode(b"\r\n3\r\n"), Err(PeerError::BodyTooLarge));
        assert_eq!(d.decode(b"\r\n2\r\nde"), Ok((7, Some(Piece::Data(b"de")))));
        assert_eq!(d.decode(b"\r\n0\r\n\r\n"), Ok((7, Some(Piece::End))));
        assert!(d.is_done());
    }

    #[test]
    fn chunk_encode_writes_hex_size_and_skips_empty() {
        let mut out = Vec::new();
        encode_chunk(b"", &mut out);
        assert!(out.is_empty());
        encode_chunk(&[b'x'; 26], &mut out);
        assert!(out.starts_with(b"1a\r\nxxx"));
        encode_last_chunk(&[("Expires", b"never")], &mut out);
        assert!(out.ends_with(b"\r\n0\r\nExpires: never\r\n\r\n"));
    }

    #[test]
    fn encoder_counts_a_length_body_and_refuses_past_or_short_of_it() {
        let mut out = Vec::new();
        let mut body = BodyEncoder::Length(5);
        body.write(b"abc", &mut out).unwrap();
        assert_eq!(body.write(b"def", &mut out), Err(UsageError::BodyTooLong));
        assert_eq!(out, b"abc", "a refused write writes nothing");
        assert_eq!(body.finish(&[], &mut out), Err(UsageError::BodyTooShort));
        body.write(b"de", &mut out).unwrap();
        assert!(body.is_spent());
        assert_eq!(body.finish(&[], &mut out), Ok(()));
        assert_eq!(out, b"abcde");
    }

    #[test]
    fn encoder_frames_chunks_drops_an_omitted_body_and_checks_trailers() {
        let mut out = Vec::new();
        let mut chunked = BodyEncoder::Chunked;
        chunked.write(b"hello", &mut out).unwrap();
        assert!(!chunked.is_spent());
        assert_eq!(
            chunked.finish(&[("Bad\nName", b"x")], &mut out),
            Err(UsageError::InvalidHeader)
        );
        chunked.finish(&[("Checksum", b"1")], &mut out).unwrap();
        assert_eq!(out, b"5\r\nhello\r\n0\r\nChecksum: 1\r\n\r\n");
        let mut out = Vec::new();
        let mut omitted = BodyEncoder::Omitted;
        omitted.write(b"for a HEAD request", &mut out).unwrap();
        omitted.finish(&[], &mut out).unwrap();
        assert!(out.is_empty());
        let mut until_close = BodyEncoder::UntilClose;
        until_close.write(b"raw", &mut out).unwrap();
        assert_eq!(out, b"raw");
    }

    #[test]
    fn chunk_extensions_are_bounded_in_total_not_only_per_line() {
        // 64 one-byte chunks, each with a 300-byte extension: every line is under the line
        // limit (4 KiB), the body is 64 bytes, and the extensions add up to 19,200 bytes.
        let mut input = Vec::new();
        for _ in 0..64 {
            input.extend_from_slice(b"1;e=");
            input.extend_from_slice(&[b'x'; 296]);
            input.extend_from_slice(b"\r\nz\r\n");
        }
        input.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(
            decode_all(&input, 7),
            Err(PeerError::ChunkExtensionsTooLarge)
        );
        assert_eq!(PeerError::ChunkExtensionsTooLarge.status(), 413);
        // The same body with 16 KiB of extensions in all passes.
        let per = 16 * 1024 / 64;
        let mut input = Vec::new();
        for _ in 0..64 {
            input.extend_from_slice(b"1;");
            input.extend_from_slice(&vec![b'x'; per - 1]);
            input.extend_from_slice(b"\r\nz\r\n");
        }
        input.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(decode_all(&input, 7).map(|(b, _)| b.len()), Ok(64));
    }
}
