//! Connections in a slab, addressed by generation-checked keys.
//!
//! A key is `generation << 32 | index`. When a slot is reused its generation changes, so a
//! stale key (a timer entry, an application's `ConnId`, a late readiness event) finds nothing
//! instead of reaching the new connection.

/// Keys below this are reserved for the listeners and the waker.
pub(crate) const FIRST_INDEX: usize = 3;

#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    /// The value is out for a turn ([`Slab::take`]): the slot is neither free nor readable.
    taken: bool,
    value: Option<T>,
}

#[derive(Debug)]
pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<usize>,
    len: usize,
}

impl<T> Slab<T> {
    #[cfg(test)]
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// A slab with room for `n` values reserved: address space only until used (a large
    /// reservation is mapped, not touched), and no copy of the whole slab at each doubling —
    /// whose old block the allocator would keep.
    pub fn with_capacity(n: usize) -> Self {
        let mut slots = Vec::with_capacity(n + FIRST_INDEX);
        for _ in 0..FIRST_INDEX {
            slots.push(Slot {
                generation: 0,
                taken: false,
                value: None,
            });
        }
        Slab {
            slots,
            free: Vec::new(),
            len: 0,
        }
    }

    /// Stores `value`; returns its key.
    pub fn insert(&mut self, value: T) -> u64 {
        self.len += 1;
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index];
            slot.generation = slot.generation.wrapping_add(1);
            slot.value = Some(value);
            return key(index, slot.generation);
        }
        self.slots.push(Slot {
            generation: 0,
            taken: false,
            value: Some(value),
        });
        key(self.slots.len() - 1, 0)
    }

    pub fn get(&self, key: u64) -> Option<&T> {
        let (index, generation) = split(key);
        let slot = self.slots.get(index)?;
        if slot.generation != generation {
            return None;
        }
        slot.value.as_ref()
    }

    pub fn get_mut(&mut self, key: u64) -> Option<&mut T> {
        let (index, generation) = split(key);
        let slot = self.slots.get_mut(index)?;
        if slot.generation != generation {
            return None;
        }
        slot.value.as_mut()
    }

    pub fn remove(&mut self, key: u64) -> Option<T> {
        let (index, generation) = split(key);
        let slot = self.slots.get_mut(index)?;
        if slot.generation != generation || index < FIRST_INDEX {
            return None;
        }
        let value = slot.value.take()?;
        self.free.push(index);
        self.len -= 1;
        Some(value)
    }

    /// Takes the value out for a while, keeping its slot (and key) reserved: until
    /// [`Slab::put_back`] or [`Slab::release`], `get` finds nothing there and no new value
    /// takes the slot.
    pub fn take(&mut self, key: u64) -> Option<T> {
        let (index, generation) = split(key);
        let slot = self.slots.get_mut(index)?;
        if slot.generation != generation || slot.taken {
            return None;
        }
        let value = slot.value.take()?;
        slot.taken = true;
        Some(value)
    }

    /// Puts a taken value back under its key.
    pub fn put_back(&mut self, key: u64, value: T) {
        let (index, generation) = split(key);
        let slot = self
            .slots
            .get_mut(index)
            .filter(|s| s.generation == generation && s.taken)
            .expect("only a value taken from this slab goes back, under its own key");
        slot.taken = false;
        slot.value = Some(value);
    }

    /// Frees the slot of a taken value that will not come back.
    pub fn release(&mut self, key: u64) {
        let (index, generation) = split(key);
        if let Some(slot) = self
            .slots
            .get_mut(index)
            .filter(|s| s.generation == generation && s.taken)
        {
            slot.taken = false;
            self.free.push(index);
            self.len -= 1;
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Every live key.
    pub fn keys(&self) -> Vec<u64> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.value.is_some())
            .map(|(i, s)| key(i, s.generation))
            .collect()
    }
}

fn key(index: usize, generation: u32) -> u64 {
    (u64::from(generation) << 32) | index as u64
}

fn split(key: u64) -> (usize, u32) {
    ((key & 0xffff_ffff) as usize, (key >> 32) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slab_stale_key_finds_nothing_after_reuse() {
        let mut slab = Slab::new();
        let a = slab.insert("a");
        assert_eq!(slab.get(a), Some(&"a"));
        assert_eq!(slab.remove(a), Some("a"));
        let b = slab.insert("b");
        assert_ne!(a, b, "the reused slot has a new generation");
        assert_eq!(slab.get(a), None);
        assert_eq!(slab.remove(a), None);
        assert_eq!(slab.get(b), Some(&"b"));
        assert_eq!(slab.len(), 1);
        assert!(split(b).0 >= FIRST_INDEX);
    }

    #[test]
    fn a_taken_value_keeps_its_slot_until_put_back_or_released() {
        let mut slab = Slab::new();
        let a = slab.insert("a");
        assert_eq!(slab.take(a), Some("a"));
        assert_eq!(slab.get(a), None, "out for its turn");
        assert_eq!(slab.take(a), None);
        let b = slab.insert("b");
        assert_ne!(split(a).0, split(b).0, "a taken slot is not reused");
        slab.put_back(a, "a2");
        assert_eq!(slab.get(a), Some(&"a2"));
        assert_eq!(slab.take(a), Some("a2"));
        slab.release(a);
        assert_eq!(slab.len(), 1);
        let c = slab.insert("c");
        assert_eq!(split(c).0, split(a).0, "a released slot is reused");
        assert_eq!(slab.get(a), None, "under a new generation");
    }
}
