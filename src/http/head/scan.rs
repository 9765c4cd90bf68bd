//! Finding where a message head ends in input that arrives in pieces ([`HeadScan`]): RFC 9112
//! §2.2 (lines end in CRLF; a bare LF is accepted as a line end, a bare CR is not), in linear
//! time however the head is split.

use crate::http::error::PeerError;

/// Finds the end of a head in input that may arrive in pieces.
///
/// The caller offers the same buffer again with more bytes appended; the scan resumes where it
/// stopped. It checks what framing depends on: every line ends in CRLF (bare LF is refused), and
/// the request line and head stay within their limits. Empty lines before the start line are
/// skipped (RFC 9112 §2.2).
#[derive(Clone, Debug, Default)]
pub(crate) struct HeadScan {
    /// Bytes of the buffer already looked at.
    pos: usize,
    /// Where the current line starts.
    line_start: usize,
    /// Where the start line begins (after skipped empty lines).
    start: usize,
    /// Whether the start line has ended.
    start_line_done: bool,
    /// Field lines seen so far.
    fields: usize,
}

/// Where a complete head lies in the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HeadSpan {
    /// First byte of the start line.
    pub start: usize,
    /// One past the blank line that ends the head.
    pub end: usize,
}

impl HeadScan {
    /// Whether any byte of a head has been seen (leading empty lines count).
    pub fn has_started(&self) -> bool {
        self.pos > 0
    }

    /// Scans the new part of `input`. `Ok(None)`: not complete yet, offer more.
    pub fn scan(
        &mut self,
        input: &[u8],
        max_start_line: usize,
        max_head: usize,
        max_fields: usize,
    ) -> Result<Option<HeadSpan>, PeerError> {
        while let Some(offset) = input
            .get(self.pos..)
            .and_then(|rest| find_byte(rest, b'\n'))
        {
            let lf = self.pos + offset;
            // What the bytes before this LF already broke is reported first, as it is when
            // they arrive without it: the answer does not depend on how the input was split.
            self.check_partial(lf, max_start_line, max_head)?;
            self.pos = lf + 1;
            // RFC 9112 §2.2: lines end in CRLF; we do not accept a bare LF.
            if lf == 0 || input.get(lf - 1) != Some(&b'\r') {
                return Err(PeerError::BareLf);
            }
            let line_len = lf - 1 - self.line_start;
            self.line_start = lf + 1;
            if !self.start_line_done {
                if line_len == 0 {
                    // RFC 9112 §2.2: ignore empty lines before the start line.
                    self.start = lf + 1;
                } else if line_len + 2 > max_start_line {
                    return Err(PeerError::RequestLineTooLong);
                } else {
                    self.start_line_done = true;
                }
            } else if line_len == 0 {
                return Ok(Some(HeadSpan {
                    start: self.start,
                    end: lf + 1,
                }));
            } else {
                self.fields += 1;
                if self.fields > max_fields {
                    return Err(PeerError::TooManyHeaders);
                }
            }
            if self.pos > max_head {
                return Err(PeerError::HeadTooLarge);
            }
        }
        self.pos = input.len();
        self.check_partial(self.pos, max_start_line, max_head)?;
        Ok(None)
    }

    /// The limits `end` bytes break while the current line has not ended there.
    fn check_partial(
        &self,
        end: usize,
        max_start_line: usize,
        max_head: usize,
    ) -> Result<(), PeerError> {
        if !self.start_line_done && end - self.line_start > max_start_line {
            return Err(PeerError::RequestLineTooLong);
        }
        if end > max_head {
            return Err(PeerError::HeadTooLarge);
        }
        Ok(())
    }
}

/// Index of the first `needle` in `haystack`, a word at a time.
pub(crate) fn find_byte(haystack: &[u8], needle: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO.wrapping_mul(u64::from(needle));
    let mut chunks = haystack.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ pattern;
        // A zero byte in x is a match (the classic has-zero-byte trick).
        if (x.wrapping_sub(LO) & !x & HI) != 0 {
            break;
        }
        base += 8;
    }
    haystack
        .get(base..)?
        .iter()
        .position(|&b| b == needle)
        .map(|i| base + i)
}
