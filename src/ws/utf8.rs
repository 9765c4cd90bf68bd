//! Incremental, fail-fast UTF-8 validation (RFC 6455 §8.1, RFC 3629).
//!
//! A text message may arrive in pieces that split a character. The validator keeps at most
//! three bytes of an unfinished character between pieces and reports an error at the first
//! byte that can no longer be part of valid UTF-8 — not at the end of the message.
//! `core::str::from_utf8` does the work: its error says whether the input is invalid or only
//! cut short (`error_len() == None`).

/// Incremental, fail-fast UTF-8 validation of a text message that arrives in pieces
/// (RFC 6455 §8.1; RFC 3629 for what valid means).
#[derive(Clone, Copy, Debug, Default)]
pub struct Utf8Validator {
    pending: [u8; 4],
    len: u8,
}

/// The text is not UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Validator {
    /// Validates the next piece of the text.
    ///
    /// # Errors
    /// [`InvalidUtf8`] at the first piece that contains a byte no valid text could have there.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), InvalidUtf8> {
        if self.len > 0 {
            // Finish the character left over from the previous piece first.
            let have = usize::from(self.len);
            let need = sequence_len(self.pending[0]).saturating_sub(have);
            let take = need.min(data.len());
            let (head, tail) = data.split_at(take);
            self.pending[have..have + take].copy_from_slice(head);
            self.len += take as u8;
            match core::str::from_utf8(&self.pending[..usize::from(self.len)]) {
                Ok(_) => self.len = 0,
                Err(e) if e.error_len().is_some() => return Err(InvalidUtf8),
                Err(_) => return Ok(()), // still unfinished; `data` is used up
            }
            data = tail;
        }
        match core::str::from_utf8(data) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(InvalidUtf8),
            Err(e) => {
                let tail = data
                    .get(e.valid_up_to()..)
                    .expect("the valid prefix is inside data");
                self.pending[..tail.len()].copy_from_slice(tail);
                self.len = tail.len() as u8;
                Ok(())
            }
        }
    }

    /// Whether the text so far ends on a character boundary (the message may end here).
    pub fn is_complete(&self) -> bool {
        self.len == 0
    }
}

/// The length of the sequence a lead byte starts (the pending bytes always start with a valid
/// lead byte, because `from_utf8` accepted them as a prefix).
fn sequence_len(lead: u8) -> usize {
    match lead {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_everywhere(text: &[u8]) -> (bool, bool) {
        let whole = core::str::from_utf8(text).is_ok();
        for cut in 0..=text.len() {
            for cut2 in cut..=text.len() {
                let mut v = Utf8Validator::default();
                let ok = v.feed(&text[..cut]).is_ok()
                    && v.feed(&text[cut..cut2]).is_ok()
                    && v.feed(&text[cut2..]).is_ok()
                    && v.is_complete();
                assert_eq!(ok, whole, "{text:?} cut at {cut},{cut2}");
            }
        }
        (whole, true)
    }

    #[test]
    fn utf8_valid_text_any_split_accepted() {
        split_everywhere("κόσμε a€𝄞 ".as_bytes());
        split_everywhere(b"");
    }

    #[test]
    fn utf8_invalid_text_any_split_rejected() {
        for bad in [
            &b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"[..],
            b"\xf4\x90\x80\x80",
            b"\xc0\xaf",
            b"\xe0\x80\xaf",
            b"\xff",
            b"a\xe2\x82",
        ] {
            split_everywhere(bad);
        }
    }

    #[test]
    fn utf8_fails_at_first_invalid_byte() {
        let mut v = Utf8Validator::default();
        assert!(
            v.feed(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5")
                .is_ok()
        );
        // 0xF4 0x90 can never start a valid character: rejected before the rest arrives.
        assert_eq!(v.feed(b"\xf4\x90"), Err(InvalidUtf8));
        let mut v = Utf8Validator::default();
        assert!(v.feed(b"\xf4").is_ok());
        assert_eq!(v.feed(b"\x90"), Err(InvalidUtf8));
    }
}
