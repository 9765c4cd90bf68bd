//! JSON strings (RFC 8259 §7), written so that any JSON parser gives back the exact text.

/// Appends `text` as a JSON string, quotes included.
///
/// RFC 8259 §7: `"` and `\` are escaped, and so is every control character U+0000–U+001F
/// (the short forms `\b \f \n \r \t` where they exist, `\u00XX` otherwise). U+2028 and U+2029
/// are valid unescaped in JSON but end a line in JavaScript source before ES2019, so they are
/// written `\u2028` / `\u2029`: the string stays safe to embed in a script. Everything else,
/// astral characters included, is written as its UTF-8 bytes.
pub fn push_string(text: &str, out: &mut Vec<u8>) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    let mut plain_from = 0;
    for (i, c) in text.char_indices() {
        let escape: Option<&[u8]> = match c {
            '"' => Some(b"\\\""),
            '\\' => Some(b"\\\\"),
            '\n' => Some(b"\\n"),
            '\r' => Some(b"\\r"),
            '\t' => Some(b"\\t"),
            '\u{8}' => Some(b"\\b"),
            '\u{c}' => Some(b"\\f"),
            '\u{2028}' => Some(b"\\u2028"),
            '\u{2029}' => Some(b"\\u2029"),
            c if u32::from(c) < 0x20 => Some(b""),
            _ => None,
        };
        let Some(escape) = escape else { continue };
        out.extend_from_slice(text.get(plain_from..i).unwrap_or_default().as_bytes());
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let code = u32::from(c) as usize;
            out.extend_from_slice(b"\\u00");
            out.push(HEX[code >> 4]);
            out.push(HEX[code & 0xf]);
        } else {
            out.extend_from_slice(escape);
        }
        plain_from = i + c.len_utf8();
    }
    out.extend_from_slice(text.get(plain_from..).unwrap_or_default().as_bytes());
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn json(text: &str) -> String {
        let mut out = Vec::new();
        push_string(text, &mut out);
        String::from_utf8(out).expect("UTF-8 in, UTF-8 out")
    }

    /// A decoder written from RFC 8259 §7 alone, for the round-trip property.
    fn parse(json: &str) -> Option<String> {
        let inner = json.strip_prefix('"')?.strip_suffix('"')?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next()? {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    '/' => out.push('/'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'u' => {
                        let hex: String = chars.by_ref().take(4).collect();
                        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                    }
                    _ => return None,
                },
                '"' => return None,
                c if u32::from(c) < 0x20 => return None,
                c => out.push(c),
            }
        }
        Some(out)
    }

    #[test]
    fn rfc8259_escapes() {
        assert_eq!(
            json(r#"{"temp":21.5,"unit":"C"}"#),
            r#""{\"temp\":21.5,\"unit\":\"C\"}""#
        );
        assert_eq!(json("a\\b"), r#""a\\b""#);
        assert_eq!(json("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(
            json("\u{0}\u{1}\u{1f}\u{7f}"),
            "\"\\u0000\\u0001\\u001f\u{7f}\""
        );
        assert_eq!(json("\u{2028}\u{2029}"), r#""\u2028\u2029""#);
        assert_eq!(json("é€𝄞"), "\"é€𝄞\"");
        assert_eq!(json(""), r#""""#);
        assert_eq!(json("/"), r#""/""#);
    }

    proptest! {
        #[test]
        fn any_text_round_trips(text in "\\PC*|[\\x00-\\x1f\"\\\\\u{2028}\u{2029}a𝄞]*") {
            let encoded = json(&text);
            prop_assert!(!encoded.bytes().any(|b| b < 0x20), "raw control byte in {:?}", encoded);
            prop_assert_eq!(parse(&encoded), Some(text));
        }
    }
}
