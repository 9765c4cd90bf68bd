//! The incremental reply reader.

use super::{RespError, RespLimits, Value};
use alloc::vec::Vec;

/// What one [`Parser::feed`] call did.
#[derive(Clone, Debug, PartialEq)]
#[must_use = "a step says how much input was consumed and what it produced"]
pub struct Step {
    /// Bytes of the input consumed; offer the rest (and more) next time.
    pub consumed: usize,
    /// A complete reply or push, if one ended in this call.
    pub value: Option<Value>,
}

/// Reads RESP2/RESP3 replies from a byte stream (see the [module docs](super)).
#[derive(Clone, Debug)]
pub struct Parser {
    limits: RespLimits,
    /// The aggregates being read, outermost first.
    stack: Vec<Frame>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Array,
    Set,
    Push,
    Map,
    /// Read and dropped: it annotates the value after it and is not an element.
    Attribute,
}

#[derive(Clone, Debug)]
struct Frame {
    kind: Kind,
    /// Entries still to come (a map's and an attribute's pairs count twice).
    remaining: usize,
    items: Vec<Value>,
}

/// One element read off the input.
enum Item {
    Value(Value),
    Open(Kind, usize),
}

impl Parser {
    /// A parser bounded by `limits`.
    pub fn new(limits: RespLimits) -> Self {
        Parser {
            limits,
            stack: Vec::new(),
        }
    }

    /// Reads a prefix of `input`: at most one complete value is returned per call. Call again
    /// with the unconsumed rest until a call consumes nothing and returns no value.
    ///
    /// # Errors
    /// [`RespError`] when the bytes break the protocol or a limit; the stream cannot be read
    /// on after that.
    pub fn feed(&mut self, input: &[u8]) -> Result<Step, RespError> {
        let mut pos = 0;
        loop {
            let rest = input.get(pos..).expect("pos counts bytes of input");
            let Some((used, item)) = self.element(rest)? else {
                return Ok(Step {
                    consumed: pos,
                    value: None,
                });
            };
            pos += used;
            let done = match item {
                Item::Value(value) => self.complete(value),
                Item::Open(kind, 0) => self.complete_empty(kind),
                Item::Open(kind, n) => {
                    if self.stack.len() >= self.limits.max_depth {
                        return Err(RespError::TooDeep);
                    }
                    self.stack.push(Frame {
                        kind,
                        remaining: n,
                        // Capacity from the wire only up to a small bound.
                        items: Vec::with_capacity(n.min(64)),
                    });
                    None
                }
            };
            if let Some(value) = done {
                return Ok(Step {
                    consumed: pos,
                    value: Some(value),
                });
            }
        }
    }

    /// Whether a value is half read.
    pub fn is_partial(&self) -> bool {
        !self.stack.is_empty()
    }

    fn complete_empty(&mut self, kind: Kind) -> Option<Value> {
        match kind {
            Kind::Attribute => None,
            kind => self.complete(build(kind, Vec::new())),
        }
    }

    /// Adds a finished value to the aggregate being read; returns it if it is a whole reply.
    fn complete(&mut self, mut value: Value) -> Option<Value> {
        loop {
            let Some(top) = self.stack.last_mut() else {
                return Some(value);
            };
            top.items.push(value);
            top.remaining -= 1;
            if top.remaining > 0 {
                return None;
            }
            let frame = self.stack.pop()?;
            if frame.kind == Kind::Attribute {
                // Dropped; its parent did not count it.
                return None;
            }
            value = build(frame.kind, frame.items);
        }
    }

    /// One element at the start of `input`: `None` until it is all there.
    fn element(&self, input: &[u8]) -> Result<Option<(usize, Item)>, RespError> {
        let Some(&kind) = input.first() else {
            return Ok(None);
        };
        let Some((line, after)) = self.line(input)? else {
            return Ok(None);
        };
        let value = |v: Value| Ok(Some((after, Item::Value(v))));
        match kind {
            b'+' => value(Value::Simple(line.to_vec())),
            b'-' => value(Value::Error(line.to_vec())),
            b':' => value(Value::Integer(integer(line, "integer")?)),
            b'_' if line.is_empty() => value(Value::Null),
            b'_' => Err(RespError::Malformed("null")),
            b'#' => match line {
                b"t" => value(Value::Boolean(true)),
                b"f" => value(Value::Boolean(false)),
                _ => Err(RespError::Malformed("boolean")),
            },
            b',' => value(Value::Double(double(line)?)),
            b'(' => {
                let digits = line
                    .strip_prefix(b"-")
                    .or(line.strip_prefix(b"+"))
                    .unwrap_or(line);
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return Err(RespError::Malformed("big number"));
                }
                value(Value::BigNumber(line.to_vec()))
            }
            b'$' | b'!' | b'=' => {
                if line == b"-1" && kind == b'$' {
                    return value(Value::Null);
                }
                let len = self.length(line)?;
                if len > self.limits.max_bulk_bytes {
                    return Err(RespError::BulkTooLarge);
                }
                let end = after + len;
                let (Some(data), Some(crlf)) = (input.get(after..end), input.get(end..end + 2))
                else {
                    return Ok(None);
                };
                if crlf != b"\r\n" {
                    return Err(RespError::MissingCrlf);
                }
                let v = match kind {
                    b'$' => Value::Bulk(data.to_vec()),
                    b'!' => Value::Error(data.to_vec()),
                    _ => match data {
                        [a, b, c, b':', text @ ..] => Value::Verbatim {
                            format: [*a, *b, *c],
                            text: text.to_vec(),
                        },
                        _ => return Err(RespError::Malformed("verbatim string")),
                    },
                };
                Ok(Some((end + 2, Item::Value(v))))
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                if line == b"-1" && kind == b'*' {
                    return value(Value::Null);
                }
                let n = self.length(line)?;
                let (kind, entries) = match kind {
                    b'*' => (Kind::Array, Some(n)),
                    b'~' => (Kind::Set, Some(n)),
                    b'>' => (Kind::Push, Some(n)),
                    b'%' => (Kind::Map, n.checked_mul(2)),
                    _ => (Kind::Attribute, n.checked_mul(2)),
                };
                match entries {
                    Some(entries) if entries <= self.limits.max_elements => {
                        Ok(Some((after, Item::Open(kind, entries))))
                    }
                    _ => Err(RespError::TooManyElements),
                }
            }
            other => Err(RespError::UnknownType(other)),
        }
    }

    /// The line after the type byte, and where the next element starts.
    fn line<'a>(&self, input: &'a [u8]) -> Result<Option<(&'a [u8], usize)>, RespError> {
        let window = input.get(1..).expect("called with the type byte in input");
        let searched = &window[..window.len().min(self.limits.max_line_bytes + 2)];
        match searched.iter().position(|&b| b == b'\r') {
            Some(cr) => match searched.get(cr + 1) {
                Some(b'\n') => Ok(Some((&window[..cr], cr + 3))),
                Some(_) => Err(RespError::MissingCrlf),
                None if cr < self.limits.max_line_bytes + 1 => Ok(None),
                None => Err(RespError::LineTooLong),
            },
            None if searched.len() > self.limits.max_line_bytes => Err(RespError::LineTooLong),
            None => Ok(None),
        }
    }

    /// A length or count: decimal digits (`?`, a streamed type, is refused).
    fn length(&self, line: &[u8]) -> Result<usize, RespError> {
        if line == b"?" {
            return Err(RespError::Streamed);
        }
        if line.is_empty() || !line.iter().all(u8::is_ascii_digit) {
            return Err(RespError::Malformed("length"));
        }
        core::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(RespError::Malformed("length"))
    }
}

fn build(kind: Kind, items: Vec<Value>) -> Value {
    match kind {
        Kind::Array => Value::Array(items),
        Kind::Set => Value::Set(items),
        Kind::Push => Value::Push(items),
        Kind::Map | Kind::Attribute => {
            let mut pairs = Vec::with_capacity(items.len() / 2);
            let mut items = items.into_iter();
            while let (Some(k), Some(v)) = (items.next(), items.next()) {
                pairs.push((k, v));
            }
            Value::Map(pairs)
        }
    }
}

/// `[+|-]digits`, within `i64`.
fn integer(line: &[u8], what: &'static str) -> Result<i64, RespError> {
    let digits = line
        .strip_prefix(b"-")
        .or(line.strip_prefix(b"+"))
        .unwrap_or(line);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(RespError::Malformed(what));
    }
    let text = core::str::from_utf8(line).map_err(|_| RespError::Malformed(what))?;
    text.trim_start_matches('+')
        .parse()
        .map_err(|_| RespError::Malformed(what))
}

/// `[+|-]int[.frac][(e|E)[+|-]exp]`, or `inf`, `-inf`, `nan`.
fn double(line: &[u8]) -> Result<f64, RespError> {
    let bad = RespError::Malformed("double");
    match line {
        b"inf" | b"+inf" => return Ok(f64::INFINITY),
        b"-inf" => return Ok(f64::NEG_INFINITY),
        b"nan" | b"-nan" | b"+nan" => return Ok(f64::NAN),
        _ => {}
    }
    let body = line
        .strip_prefix(b"-")
        .or(line.strip_prefix(b"+"))
        .unwrap_or(line);
    let (mantissa, exponent) = match body.iter().position(|&b| b == b'e' || b == b'E') {
        Some(e) => (&body[..e], Some(&body[e + 1..])),
        None => (body, None),
    };
    let (int, frac) = match mantissa.iter().position(|&b| b == b'.') {
        Some(dot) => (&mantissa[..dot], Some(&mantissa[dot + 1..])),
        None => (mantissa, None),
    };
    let digits = |d: &[u8]| !d.is_empty() && d.iter().all(u8::is_ascii_digit);
    let exponent_ok =
        exponent.is_none_or(|e| digits(e.strip_prefix(b"-").or(e.strip_prefix(b"+")).unwrap_or(e)));
    if !digits(int) || !frac.is_none_or(digits) || !exponent_ok {
        return Err(bad);
    }
    core::str::from_utf8(line)
        .ok()
        .and_then(|s| s.trim_start_matches('+').parse().ok())
        .ok_or(bad)
}
