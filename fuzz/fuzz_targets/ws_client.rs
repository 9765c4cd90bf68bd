//! The client-side WebSocket machine fed arbitrary bytes: the same invariants as ws_server.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("ws_common.rs");

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_frame_bytes: 4096, max_message_bytes: 8192, ..Limits::default() };
    let (_, mut client) = pair(&limits);
    check(&mut client, data, 8192);
});
