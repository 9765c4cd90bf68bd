//! Arbitrary access tokens: never a panic, and never accepted unless they are exactly what the
//! secret's holder signs. Half the inputs are raw tokens; the other half are a header and
//! claims of the fuzzer's choosing, signed with the secret, to reach the JSON reader and the
//! claim checks behind the MAC.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use pushwire::json;
use pushwire::server::auth::jwt::Verifier;

const SECRET: &[u8] = b"the fuzz target's secret, 32+ bytes";
const NOW: u64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let verifier = Verifier::new(SECRET).unwrap().leeway(mode as u64 % 4);
    let _ = json::parse(rest);
    let text = String::from_utf8_lossy(rest);
    let token = if mode & 1 == 0 {
        text.into_owned()
    } else {
        let (header, claims) = text.split_once('\u{0}').unwrap_or((r#"{"alg":"HS256"}"#, &text));
        verifier.sign(header, claims)
    };
    let Ok(claims) = verifier.verify(&token, NOW) else {
        return;
    };
    // Accepted: the token is what the secret signs over its own header and claims, it said
    // HS256, and it has not expired.
    let mut parts = token.split('.');
    let header = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
    let payload = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
    let resigned = verifier.sign(
        std::str::from_utf8(&header).unwrap(),
        std::str::from_utf8(&payload).unwrap(),
    );
    assert_eq!(resigned, token);
    assert!(std::str::from_utf8(&header).unwrap().contains("HS256"));
    assert!(claims.exp > NOW);
});
