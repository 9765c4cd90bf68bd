//! JSON (RFC 8259), both ways: a bounded reader for the small texts the crate takes from peers
//! (token headers and claims, resume positions, WebSocket commands), and the string writer every
//! event text is built with.
//!
//! The reader reads one whole text into a small tree, refusing what those texts never need:
//! more than [`MAX_DEPTH`] levels of nesting, more than [`MAX_ITEMS`] members or elements in one
//! container, and a member name given twice in one object (RFC 7515 §5.2 lets a token reader
//! reject those, and it must: two `exp` members would mean two answers). Nothing here allocates
//! more than the input's size over again.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

/// Nesting deeper than this is refused.
pub const MAX_DEPTH: usize = 8;
/// Members (or elements) of one object (or array) beyond this are refused.
pub const MAX_ITEMS: usize = 64;

/// A JSON value (RFC 8259 §3). Strings without escapes borrow from the text.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number (RFC 8259 §6), as the nearest `f64`.
    Number(f64),
    /// A string, escapes resolved (RFC 8259 §7).
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Value<'a>>),
    /// An object's members in the order given; names are unique.
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
}

impl<'a> Value<'a> {
    /// The member `name` of an object.
    pub fn get(&self, name: &str) -> Option<&Value<'a>> {
        match self {
            Value::Object(members) => members.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

/// Why a text is not JSON this reader takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// Not JSON at this byte offset.
    #[error("not JSON at byte {0}")]
    Syntax(usize),
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// A container with more than [`MAX_ITEMS`] entries.
    #[error("more than {MAX_ITEMS} entries in one object or array")]
    TooMany,
    /// One object names a member twice.
    #[error("a member name appears twice")]
    Duplicate,
}

/// Reads `text` as one JSON value, with only whitespace around it.
///
/// # Errors
/// [`JsonError`] for anything else.
pub fn parse(text: &[u8]) -> Result<Value<'_>, JsonError> {
    let text = core::str::from_utf8(text).map_err(|e| JsonError::Syntax(e.valid_up_to()))?;
    let mut reader = Reader {
        bytes: text.as_bytes(),
        text,
        at: 0,
    };
    let value = reader.value(0)?;
    reader.skip_space();
    if reader.at != reader.bytes.len() {
        return Err(JsonError::Syntax(reader.at));
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn fail<T>(&self) -> Result<T, JsonError> {
        Err(JsonError::Syntax(self.at))
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), JsonError> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            self.fail()
        }
    }

    fn literal(&mut self, word: &str, value: Value<'a>) -> Result<Value<'a>, JsonError> {
        if self.bytes.get(self.at..self.at + word.len()) == Some(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            self.fail()
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, JsonError> {
        self.skip_space();
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => self.fail(),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value<'a>, JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::TooDeep);
        }
        self.expect(b'{')?;
        let mut members: Vec<(Cow<'a, str>, Value<'a>)> = Vec::new();
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Value::Object(members));
        }
        loop {
            if members.len() == MAX_ITEMS {
                return Err(JsonError::TooMany);
            }
            self.skip_space();
            let name = self.string()?;
            if members.iter().any(|(n, _)| *n == name) {
                return Err(JsonError::Duplicate);
            }
            self.skip_space();
            self.expect(b':')?;
            let value = self.value(depth)?;
            members.push((name, value));
            self.skip_space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Value::Object(members));
                }
                _ => return self.fail(),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value<'a>, JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::TooDeep);
        }
        self.expect(b'[')?;
        let mut items = Vec::new();
        self.skip_space();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Value::Array(items));
        }
        loop {
            if items.len() == MAX_ITEMS {
                return Err(JsonError::TooMany);
            }
            items.push(self.value(depth)?);
            self.skip_space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Value::Array(items));
                }
                _ => return self.fail(),
            }
        }
    }

    /// RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Result<Value<'a>, JsonError> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return self.fail(),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.required_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.required_digits()?;
        }
        let text = self
            .text
            .get(start..self.at)
            .expect("a number is ASCII, so its ends are character boundaries");
        text.parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(Value::Number)
            .ok_or(JsonError::Syntax(start))
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
    }

    fn required_digits(&mut self) -> Result<(), JsonError> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return self.fail();
        }
        self.digits();
        Ok(())
    }

    /// RFC 8259 §7: a string; control characters must be escaped, `\u` escapes of UTF-16
    /// surrogates must come in pairs.
    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            let run = self.at;
            while matches!(self.peek(), Some(b) if b != b'"' && b != b'\\' && b >= 0x20) {
                self.at += 1;
            }
            // The run ends at an ASCII byte, so it is whole UTF-8.
            let text = self
                .text
                .get(run..self.at)
                .expect("the run starts and ends at ASCII bytes or the end");
            match self.peek() {
                // No escape in the whole string: borrow it.
                Some(b'"') if out.is_empty() => {
                    self.at += 1;
                    return Ok(Cow::Borrowed(text));
                }
                Some(b'"') => {
                    out.push_str(text);
                    self.at += 1;
                    return Ok(Cow::Owned(out));
                }
                _ => out.push_str(text),
            }
            match self.peek() {
                Some(b'\\') => {
                    self.at += 1;
                    let escaped = self.peek();
                    self.at += 1;
                    let c = match escaped {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => self.unicode_escape()?,
                        _ => {
                            self.at -= 1;
                            return self.fail();
                        }
                    };
                    out.push(c);
                }
                _ => return self.fail(),
            }
        }
    }

    /// After `\u`: four hex digits, and a second `\uXXXX` when the first is a high surrogate.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.bytes.get(self.at..self.at + 2) != Some(b"\\u") {
                    return self.fail();
                }
                self.at += 2;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return self.fail();
                }
                0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return self.fail(),
            _ => first,
        };
        char::from_u32(code).map_or_else(|| self.fail(), Ok)
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .text
            .get(self.at..self.at + 4)
            .ok_or(JsonError::Syntax(self.at))?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return self.fail();
        }
        self.at += 4;
        u32::from_str_radix(digits, 16).map_err(|_| JsonError::Syntax(self.at))
    }
}

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
        let plain = text
            .get(plain_from..i)
            .expect("both ends are character boundaries");
        out.extend_from_slice(plain.as_bytes());
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
    let plain = text.get(plain_from..).expect("a character boundary");
    out.extend_from_slice(plain.as_bytes());
    out.push(b'"');
}

#[cfg(test)]
mod encode_tests {
    use super::*;
    use alloc::string::String;
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

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn s(text: &str) -> Value<'_> {
        Value::String(text.into())
    }

    #[test]
    fn the_rfc_8259_examples_read() {
        // RFC 8259 §13, the first example, shortened.
        let text = br#"{"Image": {"Width": 800, "Height": 600, "Title": "View from 15th Floor",
            "Thumbnail": {"Url": "http://www.example.com/image/481989943", "Height": 125,
            "Width": 100}, "Animated" : false, "IDs": [116, 943, 234, 38793]}}"#;
        let value = parse(text).unwrap();
        let image = value.get("Image").unwrap();
        assert_eq!(image.get("Width"), Some(&Value::Number(800.0)));
        assert_eq!(image.get("Animated"), Some(&Value::Bool(false)));
        assert_eq!(
            image.get("IDs"),
            Some(&Value::Array(vec![
                Value::Number(116.0),
                Value::Number(943.0),
                Value::Number(234.0),
                Value::Number(38793.0)
            ]))
        );
        // §13: small texts.
        assert_eq!(parse(br#""Hello world!""#), Ok(s("Hello world!")));
        assert_eq!(parse(b"42"), Ok(Value::Number(42.0)));
        assert_eq!(parse(b"true"), Ok(Value::Bool(true)));
        assert_eq!(parse(b" null "), Ok(Value::Null));
    }

    #[test]
    fn escapes_resolve_and_surrogates_pair() {
        assert_eq!(
            parse(br#""a\"b\\c\/d\n\u00e9""#),
            Ok(s("a\"b\\c/d\n\u{e9}"))
        );
        // RFC 8259 §7: G clef, U+1D11E, as a surrogate pair.
        assert_eq!(parse(br#""\uD834\uDD1E""#), Ok(s("\u{1D11E}")));
        for bad in [
            &br#""\uD834""#[..],
            br#""\uDD1E""#,
            br#""\uD834\u0041""#,
            br#""\x""#,
            br#""\u12""#,
            b"\"tab\there\"",
            b"\"open",
        ] {
            assert!(parse(bad).is_err(), "{:?}", core::str::from_utf8(bad));
        }
    }

    #[test]
    fn numbers_follow_the_grammar() {
        assert_eq!(parse(b"-0.5e2"), Ok(Value::Number(-50.0)));
        assert_eq!(parse(b"1300819380"), Ok(Value::Number(1_300_819_380.0)));
        for bad in ["01", "+1", ".5", "1.", "1e", "-", "1e999", "NaN", "0x10"] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_and_duplicates_are_refused() {
        assert_eq!(parse(br#"{"a":1,"a":2}"#), Err(JsonError::Duplicate));
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(deep.as_bytes()), Err(JsonError::TooDeep));
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(ok.as_bytes()).is_ok());
        let many = format!("[{}0]", "0,".repeat(MAX_ITEMS));
        assert_eq!(parse(many.as_bytes()), Err(JsonError::TooMany));
        let members: Vec<String> = (0..=MAX_ITEMS).map(|i| format!("\"k{i}\":0")).collect();
        let wide = format!("{{{}}}", members.join(","));
        assert_eq!(parse(wide.as_bytes()), Err(JsonError::TooMany));
    }

    #[test]
    fn trailing_text_and_bad_utf8_are_refused() {
        assert_eq!(parse(b"{} {}"), Err(JsonError::Syntax(3)));
        assert_eq!(parse(b"\"\xff\""), Err(JsonError::Syntax(1)));
        assert!(parse(b"").is_err());
        assert!(parse(b"{\"a\" 1}").is_err());
        assert!(parse(b"[1,]").is_err());
        assert!(parse(b"tru").is_err());
    }

    proptest::proptest! {
        /// Any string the crate's JSON writer (RFC 8259 §7) makes reads back as itself, in an
        /// array and as a member name.
        #[test]
        fn written_strings_read_back(text in "\\PC*", control in proptest::collection::vec(0u8..0x20, 0..4)) {
            let mut text = text;
            text.extend(control.iter().map(|&c| char::from(c)));
            let mut json = Vec::from(&b"[{"[..]);
            push_string(&text, &mut json);
            json.extend_from_slice(b":1},");
            push_string(&text, &mut json);
            json.push(b']');
            let value = parse(&json).unwrap();
            let Value::Array(items) = value else { panic!("an array") };
            proptest::prop_assert_eq!(items[0].get(&text), Some(&Value::Number(1.0)));
            proptest::prop_assert_eq!(&items[1], &Value::String(text.clone().into()));
        }
    }
}
