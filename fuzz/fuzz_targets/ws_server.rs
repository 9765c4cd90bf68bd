//! The server-side WebSocket machine fed arbitrary bytes in arbitrary splits: no panic,
//! consumed ≤ given, messages within the limit, no data after close, bounded output.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("ws_common.rs");

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_frame_bytes: 4096, max_message_bytes: 8192, ..Limits::default() };
    let (mut server, _) = pair(&limits);
    check(&mut server, data, 8192);
});
