//! RESP, the Redis serialization protocol: RESP2 and RESP3, sans-IO.
//!
//! A client sends every command as an array of bulk strings ([`encode_command`]); the server
//! answers with one reply per command, in order, and — in RESP3, after `HELLO 3` — may send
//! out-of-band *push* messages (`>`) between replies, which is how Pub/Sub messages arrive on
//! the same connection as command replies.
//!
//! [`Parser`] reads replies incrementally: feed it whatever bytes arrived, it consumes what
//! completes values and keeps the state of a half-read aggregate, so any split of the input
//! gives the same replies (a property test checks this). Every length read off the wire is
//! bounded ([`RespLimits`]): a bulk string's size, the entries of one aggregate, the nesting
//! depth, and the length of a line.
//!
//! The types, as the RESP3 specification names them (the first byte of each value):
//!
//! | byte | type | [`Value`] |
//! |---|---|---|
//! | `+` | simple string | [`Value::Simple`] |
//! | `-` | simple error | [`Value::Error`] |
//! | `:` | integer | [`Value::Integer`] |
//! | `$` | bulk string (`$-1`: RESP2 null) | [`Value::Bulk`] / [`Value::Null`] |
//! | `*` | array (`*-1`: RESP2 null) | [`Value::Array`] / [`Value::Null`] |
//! | `_` | null | [`Value::Null`] |
//! | `#` | boolean | [`Value::Boolean`] |
//! | `,` | double | [`Value::Double`] |
//! | `(` | big number | [`Value::BigNumber`] |
//! | `!` | bulk error | [`Value::Error`] |
//! | `=` | verbatim string | [`Value::Verbatim`] |
//! | `%` | map | [`Value::Map`] |
//! | `~` | set | [`Value::Set`] |
//! | `>` | push | [`Value::Push`] |
//! | `\|` | attribute | read, and dropped: the value it annotates is returned |
//!
//! Streamed strings and aggregates (`$?`, `*?`) are refused ([`RespError::Streamed`]): no
//! command this crate sends is answered with them.

mod encode;
mod parser;
#[cfg(test)]
mod tests;

pub use encode::encode_command;
pub use parser::{Parser, Step};

use alloc::vec::Vec;

/// One RESP value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `+OK`: a short, binary-unsafe string.
    Simple(Vec<u8>),
    /// `-ERR …` or `!<len>` (bulk error): the server refused the command.
    Error(Vec<u8>),
    /// `:<n>`: a signed 64-bit integer.
    Integer(i64),
    /// `$<len>`: a binary-safe string.
    Bulk(Vec<u8>),
    /// `_`, `$-1` or `*-1`.
    Null,
    /// `#t` / `#f`.
    Boolean(bool),
    /// `,<double>` (`inf`, `-inf` and `nan` included).
    Double(f64),
    /// `(<digits>`: an integer too large for 64 bits, as its decimal text.
    BigNumber(Vec<u8>),
    /// `=<len>`: a string with a three-letter format (`txt`, `mkd`).
    Verbatim {
        /// The format, such as `txt`.
        format: [u8; 3],
        /// The text after `format:`.
        text: Vec<u8>,
    },
    /// `*<n>`: an ordered list.
    Array(Vec<Value>),
    /// `%<n>`: key-value pairs in the order sent.
    Map(Vec<(Value, Value)>),
    /// `~<n>`: an unordered collection.
    Set(Vec<Value>),
    /// `><n>`: an out-of-band message (Pub/Sub in RESP3).
    Push(Vec<Value>),
}

impl Value {
    /// The bytes of a simple, bulk or verbatim string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Simple(b) | Value::Bulk(b) => Some(b),
            Value::Verbatim { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The integer, also from a string of decimal digits (RESP2 servers send some numbers
    /// as strings).
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Value::Integer(n) => Some(*n),
            other => core::str::from_utf8(other.as_bytes()?).ok()?.parse().ok(),
        }
    }

    /// The elements of an array, set or push.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::Array(v) | Value::Set(v) | Value::Push(v) => Some(v),
            _ => None,
        }
    }
}

/// Bounds on what a reply may make the parser hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RespLimits {
    /// The longest bulk, bulk error or verbatim string. Default 64 MiB.
    pub max_bulk_bytes: usize,
    /// The most entries of one array, set, push or map (a map's pairs count twice).
    /// Default 1,048,576.
    pub max_elements: usize,
    /// The deepest nesting of aggregates. Default 32.
    pub max_depth: usize,
    /// The longest line (a simple string, error, number or type header). Default 64 KiB.
    pub max_line_bytes: usize,
}

impl Default for RespLimits {
    fn default() -> Self {
        RespLimits {
            max_bulk_bytes: 64 << 20,
            max_elements: 1 << 20,
            max_depth: 32,
            max_line_bytes: 64 << 10,
        }
    }
}

/// Why bytes are not a reply this parser takes. After an error the connection's framing is
/// lost: close it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RespError {
    /// A value starting with a byte that names no type.
    #[error("unknown RESP type byte 0x{0:02x}")]
    UnknownType(u8),
    /// A length, count, integer, double or boolean that does not parse.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A line or a bulk not ended by CRLF.
    #[error("missing CRLF")]
    MissingCrlf,
    /// A line over `max_line_bytes`.
    #[error("line longer than the limit")]
    LineTooLong,
    /// A bulk over `max_bulk_bytes`.
    #[error("bulk string longer than the limit")]
    BulkTooLarge,
    /// An aggregate over `max_elements`.
    #[error("aggregate with more entries than the limit")]
    TooManyElements,
    /// Aggregates nested deeper than `max_depth`.
    #[error("aggregates nested deeper than the limit")]
    TooDeep,
    /// A streamed string or aggregate (`$?`, `*?`), which this parser does not take.
    #[error("streamed RESP3 types are not supported")]
    Streamed,
}
