//! A reader's place in several topics at once: one *position* that every technique hands out
//! (the SSE `id:`, the long-poll `X-Cursor`) and takes back (`Last-Event-ID`, `lastEventId`,
//! `cursor`), so a client can move between techniques and nodes with one value.
//!
//! For one topic, a position is the decimal sequence number, as it always was. For several it is
//! `1.` followed by base64url (RFC 4648 §5, no padding) of a JSON array of `[topic, "seq"]`
//! pairs — the sequence number as a decimal string, so that every `u64` survives a JavaScript
//! reader: `[["chat.lobby","42"],["news","7"]]` → `1.W1siY2hhdC5sb2JieSIsIjQyIl0sWyJuZXdzIiwiNyJdXQ`.
//! The version prefix lets the format change without old positions being misread. The text is
//! URL-safe and never holds CR, LF or NUL, so it is valid as an SSE `id:` (WHATWG HTML §9.2.6)
//! and in a header or a query.

use crate::json::{self, Value};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// What every position of this format begins with.
pub const PREFIX: &str = "1.";

/// Why a position was refused (answer `400`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PositionError {
    /// Longer than the bound the server set.
    #[error("longer than {0} bytes")]
    TooLong(usize),
    /// Not a decimal number and not a position of a known format.
    #[error("expected a decimal number from 0 to 18446744073709551615, or a position")]
    Malformed,
    /// A decimal cursor other than 0 given for several topics (it could name only one).
    #[error(
        "a decimal cursor names one topic: with several, give a position (or 0 for all of history)"
    )]
    Ambiguous,
    /// The position names a topic the request does not follow.
    #[error("names topic {0:?}, which the request does not follow")]
    OtherTopic(String),
    /// The position names a topic twice.
    #[error("names topic {0:?} twice")]
    Repeated(String),
}

/// Reads `text` as the place of a reader of `topics`: a cursor for each topic, `None` for
/// one the position does not name (it starts from now). `max_bytes` bounds the text.
///
/// # Errors
/// [`PositionError`].
pub fn parse(
    text: &str,
    topics: &[&str],
    max_bytes: usize,
) -> Result<Vec<Option<u64>>, PositionError> {
    if text.len() > max_bytes {
        return Err(PositionError::TooLong(max_bytes));
    }
    if let Some(n) = decimal(text) {
        return match (topics.len(), n) {
            (1, n) => Ok(alloc::vec![Some(n)]),
            // `cursor=0`: the history of every topic.
            (_, 0) => Ok(alloc::vec![Some(0); topics.len()]),
            _ => Err(PositionError::Ambiguous),
        };
    }
    let payload = text.strip_prefix(PREFIX).ok_or(PositionError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| PositionError::Malformed)?;
    let Ok(Value::Array(pairs)) = json::parse(&bytes) else {
        return Err(PositionError::Malformed);
    };
    let mut cursors = alloc::vec![None; topics.len()];
    for pair in &pairs {
        let Value::Array(pair) = pair else {
            return Err(PositionError::Malformed);
        };
        let [Value::String(topic), Value::String(seq)] = pair.as_slice() else {
            return Err(PositionError::Malformed);
        };
        let seq = decimal(seq).ok_or(PositionError::Malformed)?;
        let at = topics
            .iter()
            .position(|t| *t == &**topic)
            .ok_or_else(|| PositionError::OtherTopic(topic.to_string()))?;
        if cursors[at].replace(seq).is_some() {
            return Err(PositionError::Repeated(topic.to_string()));
        }
    }
    Ok(cursors)
}

/// A decimal `u64` without sign or spaces.
fn decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The position of `cursors` (topic, last sequence number seen), written to `out`: the decimal
/// number for one topic, the `1.` form for several.
pub fn encode<'a>(cursors: impl IntoIterator<Item = (&'a str, u64)>, out: &mut String) {
    let cursors: Vec<(&str, u64)> = cursors.into_iter().collect();
    if let [(_, seq)] = cursors.as_slice() {
        out.push_str(&seq.to_string());
        return;
    }
    encode_set(cursors, out);
}

/// The `1.` form of `cursors`, whatever their number: the position of a reader of several
/// topics that knows its cursor in only some of them. Topics are written in the order of their
/// names, so that one position has one spelling whatever order its cursors came in.
pub fn encode_set<'a>(cursors: impl IntoIterator<Item = (&'a str, u64)>, out: &mut String) {
    let mut cursors: Vec<(&str, u64)> = cursors.into_iter().collect();
    cursors.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut array = Vec::from(&b"["[..]);
    for (i, (topic, seq)) in cursors.iter().enumerate() {
        if i > 0 {
            array.push(b',');
        }
        array.push(b'[');
        json::push_string(topic, &mut array);
        array.extend_from_slice(b",\"");
        array.extend_from_slice(seq.to_string().as_bytes());
        array.extend_from_slice(b"\"]");
    }
    array.push(b']');
    out.push_str(PREFIX);
    URL_SAFE_NO_PAD.encode_string(&array, out);
}

/// The longest position a reader of `topics` topics with names of at most `name_bytes` may
/// need: the bound to read them with.
pub fn max_bytes(topics: usize, name_bytes: usize) -> usize {
    // Per pair: the name escaped (at most 6 bytes per byte), quotes, brackets and 20 digits;
    // base64 takes 4 bytes for every 3.
    let json = topics.saturating_mul(name_bytes.saturating_mul(6).saturating_add(28)) + 2;
    PREFIX.len() + json.div_ceil(3) * 4
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn enc(cursors: &[(&str, u64)]) -> String {
        let mut out = String::new();
        encode(cursors.iter().copied(), &mut out);
        out
    }

    #[test]
    fn one_topic_is_the_decimal_number() {
        assert_eq!(enc(&[("news", 42)]), "42");
        assert_eq!(parse("42", &["news"], 100), Ok(vec![Some(42)]));
        assert_eq!(parse("0", &["a", "b"], 100), Ok(vec![Some(0), Some(0)]));
        assert_eq!(parse("7", &["a", "b"], 100), Err(PositionError::Ambiguous));
        assert_eq!(parse("-1", &["a"], 100), Err(PositionError::Malformed));
        assert_eq!(parse(" 1", &["a"], 100), Err(PositionError::Malformed));
        assert_eq!(
            parse("18446744073709551616", &["a"], 100),
            Err(PositionError::Malformed)
        );
    }

    #[test]
    fn several_topics_round_trip_and_a_missing_one_starts_from_now() {
        let position = enc(&[("chat.lobby", 42), ("news", 7)]);
        assert_eq!(position, "1.W1siY2hhdC5sb2JieSIsIjQyIl0sWyJuZXdzIiwiNyJdXQ");
        assert_eq!(
            parse(&position, &["news", "chat.lobby", "sport"], 1000),
            Ok(vec![Some(7), Some(42), None])
        );
        assert_eq!(
            parse(&position, &["news"], 1000),
            Err(PositionError::OtherTopic("chat.lobby".into()))
        );
        let max = enc(&[("a", u64::MAX), ("é\"\n", 1)]);
        assert_eq!(
            parse(&max, &["a", "é\"\n"], 1000),
            Ok(vec![Some(u64::MAX), Some(1)])
        );
    }

    #[test]
    fn a_bad_position_is_refused_with_why() {
        let long = "1.".to_string() + &"A".repeat(200);
        assert_eq!(parse(&long, &["a"], 100), Err(PositionError::TooLong(100)));
        for bad in ["1.!!", "1.e30", "2.W10", "abc", ""] {
            assert_eq!(
                parse(bad, &["a", "b"], 100),
                Err(PositionError::Malformed),
                "{bad}"
            );
        }
        let numbers = format!("1.{}", URL_SAFE_NO_PAD.encode(br#"[["a",5]]"#));
        assert_eq!(
            parse(&numbers, &["a", "b"], 100),
            Err(PositionError::Malformed)
        );
        let twice = format!("1.{}", URL_SAFE_NO_PAD.encode(br#"[["a","5"],["a","6"]]"#));
        assert_eq!(
            parse(&twice, &["a", "b"], 100),
            Err(PositionError::Repeated("a".into()))
        );
    }

    #[test]
    fn the_bound_fits_the_longest_position() {
        let name = "\u{1}".repeat(128);
        let cursors: Vec<(String, u64)> = (0..64)
            .map(|i| (format!("{i:02}{}", &name[2..]), u64::MAX))
            .collect();
        let mut out = String::new();
        encode(cursors.iter().map(|(t, c)| (t.as_str(), *c)), &mut out);
        assert!(
            out.len() <= max_bytes(64, 128),
            "{} > {}",
            out.len(),
            max_bytes(64, 128)
        );
    }

    proptest! {
        #[test]
        fn any_cursors_round_trip_and_are_safe_as_an_sse_id(
            cursors in proptest::collection::btree_map("[a-z0-9.\u{e9}\"\\\\]{1,12}", any::<u64>(), 2..8)
        ) {
            let topics: Vec<&str> = cursors.keys().map(String::as_str).collect();
            let mut out = String::new();
            encode(cursors.iter().map(|(t, c)| (t.as_str(), *c)), &mut out);
            prop_assert!(!out.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0));
            prop_assert!(out.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
            let back = parse(&out, &topics, max_bytes(topics.len(), 48)).unwrap();
            let expected: Vec<Option<u64>> = cursors.values().map(|&c| Some(c)).collect();
            prop_assert_eq!(back, expected);
        }

        #[test]
        fn any_text_is_read_or_refused_without_panic(text in "\\PC{0,80}") {
            let _ = parse(&text, &["a", "b"], 200);
        }
    }
}
