//! Redis Cluster, sans-IO: which shard holds a key, and what the cluster says when a command
//! went to the wrong one.
//!
//! A cluster splits its keys over 16384 *hash slots*; each slot is served by one primary
//! (Redis Cluster specification, "Key distribution model"). A key's slot is the CRC16 of the
//! key — or of its *hash tag*, the part between the first `{` and the next `}` when that part is
//! not empty — modulo 16384. Every key and channel of one topic carries the topic as its hash
//! tag (`pushwire:{topic}:seq`), so one topic lives on one shard and its publish script touches
//! one slot.
//!
//! The map from slots to primaries comes from `CLUSTER SLOTS` ([`SlotMap::from_reply`]). A
//! command sent to a node that does not serve its slot is answered with an error naming where
//! to go ([`Redirect`]): `MOVED` (the slot lives there now: refresh the map) or `ASK` (the slot
//! is being migrated and this key is already there: send that one command there, after
//! `ASKING`).

use crate::resp::Value;
use alloc::string::String;
use alloc::vec::Vec;

/// The number of hash slots.
pub const SLOTS: u16 = 16384;

/// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, no reflection, no final XOR — the
/// checksum the cluster specification names (its test vector: `"123456789"` → `0x31C3`).
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The hash slot of `key`: the CRC16 of its hash tag if it has a non-empty one, else of the
/// whole key, modulo 16384.
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key).unwrap_or(key)) % SLOTS
}

/// The part of `key` between its first `{` and the first `}` after it, if not empty.
fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|&b| b == b'{')?;
    let rest = key.get(open + 1..)?;
    let close = rest.iter().position(|&b| b == b'}')?;
    let tag = rest.get(..close)?;
    (!tag.is_empty()).then_some(tag)
}

/// Where to go instead, from a `MOVED` or `ASK` error (Redis Cluster specification,
/// "Redirection and resharding").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redirect {
    /// `MOVED <slot> <host:port>`: the slot is served there now.
    Moved {
        /// The slot.
        slot: u16,
        /// `host:port` of the node that serves it.
        addr: String,
    },
    /// `ASK <slot> <host:port>`: the slot is migrating there; send this one command there,
    /// preceded by `ASKING`.
    Ask {
        /// The slot.
        slot: u16,
        /// `host:port` of the node it is migrating to.
        addr: String,
    },
}

impl Redirect {
    /// The redirection an error reply's text asks for, if it is one.
    pub fn parse(error: &[u8]) -> Option<Redirect> {
        let text = core::str::from_utf8(error).ok()?;
        let mut words = text.split(' ');
        let kind = words.next()?;
        let slot: u16 = words.next()?.parse().ok()?;
        let addr = words.next()?;
        if slot >= SLOTS || addr.is_empty() || !addr.contains(':') || words.next().is_some() {
            return None;
        }
        let addr = String::from(addr);
        match kind {
            "MOVED" => Some(Redirect::Moved { slot, addr }),
            "ASK" => Some(Redirect::Ask { slot, addr }),
            _ => None,
        }
    }

    /// Whether an error reply means the command went to the wrong node, or the cluster cannot
    /// serve the slot now (`MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`): ask again after
    /// refreshing the map, rather than give up on the connection.
    pub fn is_cluster_error(error: &[u8]) -> bool {
        ["MOVED ", "ASK ", "TRYAGAIN", "CLUSTERDOWN"]
            .iter()
            .any(|p| error.starts_with(p.as_bytes()))
    }
}

/// Which primary serves each slot, from `CLUSTER SLOTS`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotMap {
    /// `(first, last, host:port)`, sorted by `first`, not overlapping.
    ranges: Vec<(u16, u16, String)>,
}

/// A `CLUSTER SLOTS` reply of a shape the command does not have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a CLUSTER SLOTS reply of an unexpected shape")]
pub struct BadSlots;

impl SlotMap {
    /// The map in a `CLUSTER SLOTS` reply: an array of `[first, last, [host, port, id, …],
    /// replicas…]`. A primary whose host is unknown (`?` or empty) is left out: its slots have
    /// no owner until the next map.
    ///
    /// # Errors
    /// [`BadSlots`] for a reply of another shape, or with ranges out of order or overlapping.
    pub fn from_reply(value: &Value) -> Result<SlotMap, BadSlots> {
        let mut ranges = Vec::new();
        for range in value.as_list().ok_or(BadSlots)? {
            let items = range.as_list().ok_or(BadSlots)?;
            let number = |i: usize| -> Result<u16, BadSlots> {
                let n = items.get(i).and_then(Value::as_integer).ok_or(BadSlots)?;
                u16::try_from(n).ok().filter(|&n| n < SLOTS).ok_or(BadSlots)
            };
            let (first, last) = (number(0)?, number(1)?);
            let primary = items.get(2).and_then(Value::as_list).ok_or(BadSlots)?;
            let host = primary.first().and_then(Value::as_bytes).ok_or(BadSlots)?;
            let port = primary
                .get(1)
                .and_then(Value::as_integer)
                .filter(|p| (1..=65535).contains(p))
                .ok_or(BadSlots)?;
            if first > last {
                return Err(BadSlots);
            }
            let host = core::str::from_utf8(host).map_err(|_| BadSlots)?;
            if host.is_empty() || host == "?" {
                continue;
            }
            let addr = if host.contains(':') {
                alloc::format!("[{host}]:{port}")
            } else {
                alloc::format!("{host}:{port}")
            };
            ranges.push((first, last, addr));
        }
        ranges.sort_by_key(|r| r.0);
        if ranges.windows(2).any(|w| w[0].1 >= w[1].0) {
            return Err(BadSlots);
        }
        Ok(SlotMap { ranges })
    }

    /// `host:port` of the primary that serves `slot`, if one does.
    pub fn owner(&self, slot: u16) -> Option<&str> {
        let i = self.ranges.partition_point(|r| r.0 <= slot);
        let (first, last, addr) = self.ranges.get(i.checked_sub(1)?)?;
        (*first <= slot && slot <= *last).then_some(addr.as_str())
    }

    /// Every primary in the map, once each, in order.
    pub fn primaries(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self.ranges.iter().map(|r| r.2.as_str()).collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Whether every slot has an owner.
    pub fn is_complete(&self) -> bool {
        let mut next = 0u32;
        for (first, last, _) in &self.ranges {
            if u32::from(*first) != next {
                return false;
            }
            next = u32::from(*last) + 1;
        }
        next == u32::from(SLOTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn crc16_is_xmodem_with_the_specifications_check_value() {
        // Redis Cluster specification, "Keys hash tags" appendix: the CRC16 used, checked
        // against "123456789".
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b""), 0);
    }

    #[test]
    fn key_slots_match_what_redis_answers_to_cluster_keyslot() {
        // `CLUSTER KEYSLOT <key>` on a Redis 7 cluster node.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"hello"), 866);
        assert_eq!(key_slot(b"123456789"), 0x31C3 % SLOTS);
    }

    #[test]
    fn hash_tags_follow_the_specification_examples() {
        // The examples of "Hash tags": only the first `{…}` counts, and only if not empty.
        let tag = key_slot(b"user1000");
        assert_eq!(key_slot(b"{user1000}.following"), tag);
        assert_eq!(key_slot(b"{user1000}.followers"), tag);
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") % SLOTS);
        assert_eq!(key_slot(b"foo{{bar}}zap"), crc16(b"{bar") % SLOTS);
        assert_eq!(key_slot(b"foo{bar}{zap}"), crc16(b"bar") % SLOTS);
        // A topic's keys and channel share one slot.
        let topic = key_slot(b"pushwire:{room}:seq");
        assert_eq!(key_slot(b"pushwire:{room}:log"), topic);
        assert_eq!(key_slot(b"pushwire:{room}"), topic);
        assert_eq!(topic, key_slot(b"room"));
    }

    #[test]
    fn redirections_are_read_and_anything_else_is_not() {
        assert_eq!(
            Redirect::parse(b"MOVED 3999 127.0.0.1:6381"),
            Some(Redirect::Moved {
                slot: 3999,
                addr: "127.0.0.1:6381".into()
            })
        );
        assert_eq!(
            Redirect::parse(b"ASK 3999 10.0.0.2:7000"),
            Some(Redirect::Ask {
                slot: 3999,
                addr: "10.0.0.2:7000".into()
            })
        );
        for bad in [
            &b"MOVED 16384 a:1"[..],
            b"MOVED 1",
            b"MOVED x a:1",
            b"MOVED 1 nowhere",
            b"MOVED 1 a:1 extra",
            b"ERR unknown command",
            b"",
        ] {
            assert_eq!(Redirect::parse(bad), None, "{bad:?}");
        }
        assert!(Redirect::is_cluster_error(
            b"TRYAGAIN Multiple keys request during rehashing of slot"
        ));
        assert!(Redirect::is_cluster_error(
            b"CLUSTERDOWN The cluster is down"
        ));
        assert!(!Redirect::is_cluster_error(b"NOSCRIPT No matching script"));
    }

    fn node(host: &str, port: i64) -> Value {
        Value::Array(vec![
            Value::Bulk(host.as_bytes().to_vec()),
            Value::Integer(port),
            Value::Bulk(b"0123abcd".to_vec()),
        ])
    }

    fn range(first: i64, last: i64, primary: Value, replica: Value) -> Value {
        Value::Array(vec![
            Value::Integer(first),
            Value::Integer(last),
            primary,
            replica,
        ])
    }

    #[test]
    fn the_slot_map_names_each_slots_primary() {
        let reply = Value::Array(vec![
            range(
                5461,
                10922,
                node("127.0.0.1", 7001),
                node("127.0.0.1", 7004),
            ),
            range(0, 5460, node("127.0.0.1", 7000), node("127.0.0.1", 7003)),
            range(10923, 16383, node("::1", 7002), node("127.0.0.1", 7005)),
        ]);
        let map = SlotMap::from_reply(&reply).unwrap();
        assert_eq!(map.owner(0), Some("127.0.0.1:7000"));
        assert_eq!(map.owner(5460), Some("127.0.0.1:7000"));
        assert_eq!(map.owner(5461), Some("127.0.0.1:7001"));
        assert_eq!(map.owner(16383), Some("[::1]:7002"));
        assert_eq!(map.owner(SLOTS), None);
        assert!(map.is_complete());
        assert_eq!(
            map.primaries(),
            ["127.0.0.1:7000", "127.0.0.1:7001", "[::1]:7002"]
        );
        // A primary whose address is unknown leaves its slots without an owner.
        let partial = Value::Array(vec![
            range(0, 100, node("?", 7000), node("127.0.0.1", 7003)),
            range(101, 16383, node("127.0.0.1", 7001), node("127.0.0.1", 7004)),
        ]);
        let map = SlotMap::from_reply(&partial).unwrap();
        assert_eq!(
            (map.owner(50), map.owner(101)),
            (None, Some("127.0.0.1:7001"))
        );
        assert!(!map.is_complete());
    }

    #[test]
    fn a_slot_map_of_another_shape_is_refused() {
        for bad in [
            Value::Integer(1),
            Value::Array(vec![Value::Integer(1)]),
            Value::Array(vec![range(10, 5, node("a", 1), node("b", 2))]),
            Value::Array(vec![range(0, 16384, node("a", 1), node("b", 2))]),
            Value::Array(vec![range(0, 10, node("a", 0), node("b", 2))]),
            Value::Array(vec![
                range(0, 10, node("a", 1), node("b", 2)),
                range(10, 20, node("a", 1), node("b", 2)),
            ]),
        ] {
            assert_eq!(SlotMap::from_reply(&bad), Err(BadSlots), "{bad:?}");
        }
    }
}
