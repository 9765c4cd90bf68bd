//! Messages compressed once per worker and shared (permessage-deflate without context
//! takeover, RFC 7692 §7.1.1.1): when an event goes to a thousand WebSocket followers that
//! agreed the same window and level, the worker compresses it once and every follower gets the
//! same bytes. The memo holds the last few messages; a fan-out sends one message to every
//! follower in turn, so the first follower compresses and the rest find it.

use crate::ws::deflate::{SharedKey, compress_shared};
use alloc::vec::Vec;

/// Messages remembered (a batch of up to this many events to each follower still hits).
const ENTRIES: usize = 16;
/// Larger messages are compressed by each connection itself: the memo's memory stays bounded
/// (at most `ENTRIES` × this, twice) and comparing a large message costs as much as it saves.
pub(crate) const MAX_SHARED_MESSAGE: usize = 64 * 1024;

#[derive(Debug, Default)]
pub(crate) struct Memo {
    entries: Vec<Entry>,
    /// The slot the next new entry replaces, once full.
    next: usize,
    /// Messages compressed (misses), for tests and figures.
    pub compressed: u64,
}

#[derive(Debug)]
struct Entry {
    key: SharedKey,
    payload: Vec<u8>,
    /// `None`: compression did not make it smaller, send it as it is.
    compressed: Option<Vec<u8>>,
}

impl Memo {
    /// `payload` compressed for `key`: `Some(Some(bytes))` to send compressed, `Some(None)` to
    /// send uncompressed, `None` when the message is too large to share.
    pub fn get(&mut self, key: SharedKey, payload: &[u8]) -> Option<Option<&[u8]>> {
        if payload.len() > MAX_SHARED_MESSAGE {
            return None;
        }
        let found = self
            .entries
            .iter()
            .position(|e| e.key == key && e.payload == payload);
        let at = match found {
            Some(at) => at,
            None => {
                self.compressed += 1;
                let mut compressed = Vec::new();
                let smaller = compress_shared(key, payload, &mut compressed);
                let entry = Entry {
                    key,
                    payload: payload.to_vec(),
                    compressed: smaller.then_some(compressed),
                };
                if self.entries.len() < ENTRIES {
                    self.entries.push(entry);
                    self.entries.len() - 1
                } else {
                    let at = self.next;
                    self.next = (self.next + 1) % ENTRIES;
                    if let Some(slot) = self.entries.get_mut(at) {
                        *slot = entry;
                    }
                    at
                }
            }
        };
        self.entries.get(at).map(|e| e.compressed.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: SharedKey = SharedKey {
        window_bits: 15,
        level: 1,
    };

    #[test]
    fn a_message_is_compressed_once_per_key() {
        let mut memo = Memo::default();
        let event = br#"{"seq":1,"ts":1,"data":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#;
        let first = memo.get(KEY, event).unwrap().unwrap().to_vec();
        for _ in 0..1000 {
            assert_eq!(memo.get(KEY, event).unwrap().unwrap(), &first[..]);
        }
        assert_eq!(memo.compressed, 1);
        // Another window is another key; the same text with one byte changed is another message.
        let narrow = SharedKey {
            window_bits: 9,
            ..KEY
        };
        memo.get(narrow, event).unwrap();
        let mut other = event.to_vec();
        other[8] = b'2';
        memo.get(KEY, &other).unwrap();
        assert_eq!(memo.compressed, 3);
        // What compression cannot shrink is sent as it is.
        assert_eq!(memo.get(KEY, b"ab"), Some(None));
    }

    #[test]
    fn the_memo_is_bounded() {
        let mut memo = Memo::default();
        for i in 0..100u32 {
            let message = alloc::format!("event number {i} {}", "x".repeat(50));
            memo.get(KEY, message.as_bytes()).unwrap();
        }
        assert_eq!(memo.entries.len(), ENTRIES);
        // The oldest are gone: asking again compresses again.
        memo.get(
            KEY,
            alloc::format!("event number 0 {}", "x".repeat(50)).as_bytes(),
        );
        assert_eq!(memo.compressed, 101);
        // Over the size limit: not shared at all.
        assert_eq!(
            memo.get(KEY, &alloc::vec![b'a'; MAX_SHARED_MESSAGE + 1]),
            None
        );
        assert!(
            memo.entries
                .iter()
                .all(|e| e.payload.len() <= MAX_SHARED_MESSAGE)
        );
    }
}
