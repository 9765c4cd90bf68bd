//! Frame header decoder: never panics, never claims more bytes than given, and what it decodes
//! re-encodes to the same header (in the minimal form, which may be shorter).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushwire::ws::Header;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((header, used))) = Header::decode(data) {
        assert!(used <= data.len() && used <= 14);
        let mut out = Vec::new();
        header.encode(&mut out);
        assert!(out.len() <= used, "re-encoding is never longer");
        assert_eq!(Header::decode(&out), Ok(Some((header, out.len()))));
    }
});
