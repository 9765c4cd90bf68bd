//! A byte queue that costs one pointer while empty: a connection's unconsumed input and
//! unwritten output are empty almost all the time, and an idle connection should not pay for
//! two `Vec`s and an offset.

#[derive(Debug, Default)]
pub(crate) struct Spill(Option<Box<Inner>>);

#[derive(Debug)]
struct Inner {
    bytes: Vec<u8>,
    /// Bytes before this were taken already.
    pos: usize,
}

impl Spill {
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |i| i.bytes.len() - i.pos)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends bytes.
    pub fn push(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let inner = self.0.get_or_insert_with(|| {
            Box::new(Inner {
                bytes: Vec::new(),
                pos: 0,
            })
        });
        inner.bytes.extend_from_slice(data);
    }

    /// The queued bytes.
    pub fn front(&self) -> &[u8] {
        self.0.as_ref().map_or(&[], |i| &i.bytes[i.pos..])
    }

    /// Drops `n` bytes from the front; frees the storage once empty.
    pub fn advance(&mut self, n: usize) {
        if let Some(inner) = self.0.as_mut() {
            inner.pos = (inner.pos + n).min(inner.bytes.len());
            if inner.pos == inner.bytes.len() {
                self.0 = None;
            }
        }
    }

    /// Takes the queued bytes out as a `Vec`.
    pub fn take(&mut self) -> Vec<u8> {
        match self.0.take() {
            Some(mut inner) => {
                inner.bytes.drain(..inner.pos);
                inner.bytes
            }
            None => Vec::new(),
        }
    }

    /// Replaces the contents with `bytes[pos..]`, taking the vector as it is (no copy).
    pub fn set_at(&mut self, bytes: Vec<u8>, pos: usize) {
        self.0 = if pos >= bytes.len() {
            None
        } else {
            Some(Box::new(Inner { bytes, pos }))
        };
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.0 = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spill_frees_storage_when_drained() {
        let mut s = Spill::default();
        assert!(s.is_empty());
        s.push(b"hello ");
        s.push(b"world");
        assert_eq!(s.front(), b"hello world");
        s.advance(6);
        assert_eq!(s.front(), b"world");
        assert_eq!(s.take(), b"world");
        assert!(s.0.is_none());
        s.set_at(b"x".to_vec(), 0);
        s.advance(1);
        assert!(s.0.is_none());
    }
}
