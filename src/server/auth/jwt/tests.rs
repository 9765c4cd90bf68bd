use super::*;
use crate::server::auth::scope::Action;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: u64 = 1_700_000_000;
const HS256: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

fn verifier() -> Verifier {
    Verifier::new(SECRET).unwrap().leeway(0)
}

fn token(claims: &str) -> String {
    verifier().sign(HS256, claims)
}

/// A token signed the way a forger would: any header, any key.
fn forge(key: &[u8], header: &str, claims: &str) -> String {
    let mut signed = URL_SAFE_NO_PAD.encode(header);
    signed.push('.');
    URL_SAFE_NO_PAD.encode_string(claims, &mut signed);
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(signed.as_bytes());
    let tag = mac.finalize().into_bytes();
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag))
}

#[test]
fn rfc_7515_appendix_a1_verifies() {
    // RFC 7515 §A.1: the JWS using HMAC SHA-256, with its key (a JWK "k", base64url).
    let key = URL_SAFE_NO_PAD
        .decode(
            "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
        )
        .unwrap();
    let jws = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9\
               .eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ\
               .dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let verifier = Verifier::new(&key).unwrap().leeway(0);
    let claims = verifier.verify(jws, 1_300_819_379).unwrap();
    assert_eq!(claims.exp, 1_300_819_380);
    assert_eq!(claims.sub, None);
    assert_eq!(claims.grants, Grants::default());
    // Its `exp` is in 2011.
    assert_eq!(
        verifier.verify(jws, 1_300_819_380),
        Err(TokenError::Expired)
    );
    // One bit of the MAC changed. (Changing the last character alone would leave bits set
    // past the end of the 32 bytes: refused as non-canonical base64url before any MAC.)
    let altered = jws.replace(".dBjf", ".dBjg");
    assert_eq!(
        verifier.verify(&altered, 1_300_819_379),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn rfc_4231_vectors_hold_for_the_mac() {
    // RFC 4231 §4.3 (test case 2) and §4.7 (test case 6, a key longer than the block).
    let cases: [(&[u8], &[u8], &str); 2] = [
        (
            b"Jefe",
            b"what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
    ];
    for (key, data, expected) in cases {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(data);
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, expected);
    }
}

#[test]
fn a_good_token_grants_its_topics() {
    let t = token(&format!(
        r#"{{"sub":"ada","exp":{},"pushwire":{{"subscribe":["a","user.ada.*"],"publish":["a"]}}}}"#,
        NOW + 60
    ));
    let claims = verifier().verify(&t, NOW).unwrap();
    assert_eq!(claims.sub.as_deref(), Some("ada"));
    assert!(claims.grants.allow(Action::Subscribe, "user.ada.inbox"));
    assert!(!claims.grants.allow(Action::Subscribe, "user.bob.inbox"));
    assert!(claims.grants.allow(Action::Publish, "a"));
    assert!(!claims.grants.allow(Action::Publish, "ab"));
    assert!(!claims.grants.allow(Action::Publish, "b"));
}

#[test]
fn forged_and_confused_tokens_are_refused() {
    let claims = format!(r#"{{"exp":{},"pushwire":{{"publish":["*"]}}}}"#, NOW + 60);
    let other_key = b"another secret, also thirty-two bytes long";
    assert_eq!(
        verifier().verify(&forge(other_key, HS256, &claims), NOW),
        Err(TokenError::BadSignature)
    );
    // `alg: none` with an empty signature (RFC 7519 §6.1): no MAC, no token.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(&claims)
    );
    assert_eq!(verifier().verify(&none, NOW), Err(TokenError::BadSignature));
    // Signed with the right secret but naming another algorithm: refused after the MAC.
    for header in [
        r#"{"alg":"HS512"}"#,
        r#"{"alg":"RS256"}"#,
        r#"{"alg":"none"}"#,
        r#"{"alg":"hs256"}"#,
        r#"{"typ":"JWT"}"#,
    ] {
        assert_eq!(
            verifier().verify(&forge(SECRET, header, &claims), NOW),
            Err(TokenError::Algorithm),
            "{header}"
        );
    }
    // RS256 "verified" with the public key as an HMAC secret (algorithm confusion): the
    // forger's key is not ours, and the algorithm is not HS256 either way.
    let public_key = b"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n";
    assert_eq!(
        verifier().verify(&forge(public_key, r#"{"alg":"RS256"}"#, &claims), NOW),
        Err(TokenError::BadSignature)
    );
    assert_eq!(
        verifier().verify(
            &forge(SECRET, r#"{"alg":"HS256","crit":["exp"]}"#, &claims),
            NOW
        ),
        Err(TokenError::Critical)
    );
    assert_eq!(
        verifier().verify(
            &forge(SECRET, r#"{"alg":"HS256","alg":"none"}"#, &claims),
            NOW
        ),
        Err(TokenError::Invalid("header"))
    );
}

#[test]
fn time_claims_are_checked() {
    assert_eq!(
        verifier().verify(&token(r#"{"sub":"x"}"#), NOW),
        Err(TokenError::Invalid("exp"))
    );
    assert_eq!(
        verifier().verify(&token(&format!(r#"{{"exp":{NOW}}}"#)), NOW),
        Err(TokenError::Expired)
    );
    assert_eq!(
        verifier().verify(&token(r#"{"exp":"tomorrow"}"#), NOW),
        Err(TokenError::Invalid("time claim"))
    );
    let later = format!(r#"{{"exp":{},"nbf":{}}}"#, NOW + 600, NOW + 60);
    assert_eq!(
        verifier().verify(&token(&later), NOW),
        Err(TokenError::NotYetValid)
    );
    // The leeway covers a clock that is behind or ahead.
    let lenient = Verifier::new(SECRET).unwrap().leeway(60);
    assert!(lenient.verify(&token(&later), NOW).is_ok());
    let just_expired = token(&format!(r#"{{"exp":{}}}"#, NOW - 30));
    assert_eq!(lenient.verify(&just_expired, NOW).unwrap().exp, NOW + 30);
    let twice = format!(r#"{{"exp":{},"exp":{}}}"#, NOW + 60, NOW + 6000);
    assert_eq!(
        verifier().verify(&token(&twice), NOW),
        Err(TokenError::Invalid("claims"))
    );
}

#[test]
fn the_audience_is_checked_when_configured() {
    let for_us = token(&format!(r#"{{"exp":{},"aud":["x","push"]}}"#, NOW + 60));
    let for_them = token(&format!(r#"{{"exp":{},"aud":"other"}}"#, NOW + 60));
    let none = token(&format!(r#"{{"exp":{}}}"#, NOW + 60));
    let strict = verifier().audience("push");
    assert!(strict.verify(&for_us, NOW).is_ok());
    assert_eq!(strict.verify(&for_them, NOW), Err(TokenError::Audience));
    assert_eq!(strict.verify(&none, NOW), Err(TokenError::Audience));
    assert!(verifier().verify(&for_them, NOW).is_ok());
}

#[test]
fn malformed_and_oversized_tokens_are_refused() {
    let good = token(&format!(r#"{{"exp":{}}}"#, NOW + 60));
    for bad in [
        "",
        "a.b",
        "a.b.c.d",
        "...",
        &format!("{good}."),
        &format!("{good}="),
        &good.replace('.', ".="),
    ] {
        assert!(verifier().verify(bad, NOW).is_err(), "{bad:?}");
    }
    assert_eq!(
        verifier()
            .max_token_bytes(good.len() - 1)
            .verify(&good, NOW),
        Err(TokenError::TooLarge(good.len() - 1))
    );
    assert!(
        verifier()
            .max_token_bytes(good.len())
            .verify(&good, NOW)
            .is_ok()
    );
    // Claims that are not an object, selectors that are not selectors.
    for claims in [
        "[]".to_string(),
        format!(r#"{{"exp":{},"pushwire":{{"publish":["a*b"]}}}}"#, NOW + 60),
        format!(r#"{{"exp":{},"pushwire":{{"publish":"a"}}}}"#, NOW + 60),
        format!(r#"{{"exp":{},"pushwire":[]}}"#, NOW + 60),
        format!(r#"{{"exp":{},"sub":7}}"#, NOW + 60),
    ] {
        assert!(verifier().verify(&token(&claims), NOW).is_err(), "{claims}");
    }
}

#[test]
fn short_secrets_are_refused() {
    assert_eq!(Verifier::new(&[7; 31]).unwrap_err(), WeakSecret(31));
    assert!(Verifier::new(&[7; 32]).is_ok());
    // Debug output never shows the key.
    let shown = format!("{:?}", verifier());
    assert!(!shown.contains("0123"));
}

#[test]
fn minted_tokens_verify_with_their_claims() {
    let t = verifier().mint(&NewToken {
        sub: Some("ada \"the\" first"),
        exp: NOW + 5,
        aud: Some("push"),
        subscribe: &["a", "b.*"],
        publish: &["a"],
        admin: false,
    });
    let claims = verifier().audience("push").verify(&t, NOW).unwrap();
    assert_eq!(claims.sub.as_deref(), Some("ada \"the\" first"));
    assert!(!claims.grants.admin);
    let admin = verifier().mint(&NewToken {
        exp: NOW + 5,
        admin: true,
        ..Default::default()
    });
    assert!(verifier().verify(&admin, NOW).unwrap().grants.admin);
    assert!(claims.grants.allow(Action::Subscribe, "b.c"));
    assert!(claims.grants.allow(Action::Publish, "a"));
    assert!(!claims.grants.allow(Action::Publish, "b.c"));
    // Non-canonical base64url in the MAC's last character: refused before the MAC.
    let last = t.chars().last().unwrap();
    let other = if last == 'A' { 'B' } else { 'A' };
    let mut altered = t.clone();
    altered.pop();
    altered.push(other);
    assert!(verifier().verify(&altered, NOW).is_err());
}
