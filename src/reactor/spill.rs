//! A connection's two byte queues — input the machine has not consumed, output the socket has
//! not taken — behind one pointer that is empty almost all the time: an idle connection pays
//! eight bytes for both, not two `Vec`s and two offsets.

/// Which queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// Input received and not yet consumed.
    In,
    /// Output not yet written.
    Out,
}

#[derive(Debug, Default)]
pub(crate) struct Spills(Option<Box<[Queue; 2]>>);

#[derive(Debug, Default)]
struct Queue {
    bytes: Vec<u8>,
    /// Bytes before this were taken already.
    pos: usize,
}

impl Queue {
    fn len(&self) -> usize {
        self.bytes.len() - self.pos
    }
}

impl Spills {
    fn queue(&self, side: Side) -> Option<&Queue> {
        self.0.as_ref().map(|q| &q[side as usize])
    }

    fn queue_mut(&mut self, side: Side) -> &mut Queue {
        &mut self.0.get_or_insert_with(Box::default)[side as usize]
    }

    /// Frees the storage once both queues are empty.
    fn tidy(&mut self) {
        if self
            .0
            .as_ref()
            .is_some_and(|q| q.iter().all(|q| q.len() == 0))
        {
            self.0 = None;
        }
    }

    pub fn len(&self, side: Side) -> usize {
        self.queue(side).map_or(0, Queue::len)
    }

    pub fn is_empty(&self, side: Side) -> bool {
        self.len(side) == 0
    }

    /// Appends bytes.
    pub fn push(&mut self, side: Side, data: &[u8]) {
        if !data.is_empty() {
            self.queue_mut(side).bytes.extend_from_slice(data);
        }
    }

    /// The queued bytes.
    pub fn front(&self, side: Side) -> &[u8] {
        self.queue(side).map_or(&[], |q| {
            q.bytes
                .get(q.pos..)
                .expect("a queue's position is never past its end")
        })
    }

    /// Drops `n` bytes from the front; the storage goes once both queues are empty.
    pub fn advance(&mut self, side: Side, n: usize) {
        if self.is_empty(side) {
            return;
        }
        let queue = self.queue_mut(side);
        queue.pos = (queue.pos + n).min(queue.bytes.len());
        if queue.len() == 0 {
            *queue = Queue::default();
            self.tidy();
        }
    }

    /// Takes the queued bytes out as a `Vec`.
    pub fn take(&mut self, side: Side) -> Vec<u8> {
        if self.is_empty(side) {
            return Vec::new();
        }
        let Queue { mut bytes, pos } = std::mem::take(self.queue_mut(side));
        self.tidy();
        bytes.drain(..pos);
        bytes
    }

    /// Replaces the queue with `bytes[pos..]`, taking the vector as it is (no copy).
    pub fn set_at(&mut self, side: Side, bytes: Vec<u8>, pos: usize) {
        if pos >= bytes.len() {
            self.clear(side);
        } else {
            *self.queue_mut(side) = Queue { bytes, pos };
        }
    }

    /// Drops everything queued on `side`.
    pub fn clear(&mut self, side: Side) {
        if self.0.is_some() {
            *self.queue_mut(side) = Queue::default();
            self.tidy();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spills_free_storage_once_both_sides_drain() {
        let mut s = Spills::default();
        assert!(s.is_empty(Side::In) && s.is_empty(Side::Out));
        s.push(Side::Out, b"hello ");
        s.push(Side::Out, b"world");
        s.push(Side::In, b"GET");
        assert_eq!(s.front(Side::Out), b"hello world");
        s.advance(Side::Out, 6);
        assert_eq!(s.front(Side::Out), b"world");
        assert_eq!(s.take(Side::Out), b"world");
        assert!(s.0.is_some(), "input still queued");
        assert_eq!(s.take(Side::In), b"GET");
        assert!(s.0.is_none());
        s.set_at(Side::In, b"xy".to_vec(), 1);
        assert_eq!(s.front(Side::In), b"y");
        s.advance(Side::In, 5);
        assert!(s.0.is_none());
        s.set_at(Side::Out, b"x".to_vec(), 1);
        assert!(s.0.is_none(), "nothing left to keep");
        s.push(Side::In, b"z");
        s.clear(Side::In);
        assert!(s.0.is_none());
    }
}
