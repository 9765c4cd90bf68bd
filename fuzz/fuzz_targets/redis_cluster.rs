//! Arbitrary bytes as what a cluster node answers: read as RESP, each value as a `CLUSTER
//! SLOTS` reply and each error as a redirection. Never a panic; a map that is read names, for
//! every slot, at most one owner, one of its primaries; a redirection names a slot in range.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushwire::hub::redis::cluster::{Redirect, SLOTS, SlotMap, key_slot};
use pushwire::resp::{Parser, RespLimits, Value};

fuzz_target!(|data: &[u8]| {
    assert!(key_slot(data) < SLOTS);
    if let Some(redirect) = Redirect::parse(data) {
        let (Redirect::Moved { slot, addr } | Redirect::Ask { slot, addr }) = redirect;
        assert!(slot < SLOTS && addr.contains(':'));
    }
    let mut parser = Parser::new(RespLimits {
        max_bulk_bytes: 1 << 12,
        max_elements: 1 << 10,
        max_depth: 6,
        max_line_bytes: 1 << 10,
    });
    let mut rest = data;
    while let Ok(step) = parser.feed(rest) {
        rest = &rest[step.consumed..];
        let Some(value) = step.value else { break };
        if let Value::Error(e) = &value {
            let _ = Redirect::parse(e);
        }
        if let Ok(map) = SlotMap::from_reply(&value) {
            let primaries = map.primaries();
            for slot in [0, 1, SLOTS / 2, SLOTS - 1] {
                if let Some(owner) = map.owner(slot) {
                    assert!(primaries.contains(&owner));
                }
            }
            let _ = map.is_complete();
        }
    }
});
