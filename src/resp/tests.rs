//! The RESP2 and RESP3 specifications' own examples, limits, and split invariance.

use super::*;
use alloc::vec;
use alloc::vec::Vec;

fn parse_all(input: &[u8]) -> Result<Vec<Value>, RespError> {
    let mut parser = Parser::new(RespLimits::default());
    let mut values = Vec::new();
    let mut rest = input;
    loop {
        let step = parser.feed(rest)?;
        rest = &rest[step.consumed..];
        match step.value {
            Some(v) => values.push(v),
            None if step.consumed == 0 => break,
            None => {}
        }
    }
    Ok(values)
}

/// The one value in `input`, read three ways that must agree: whole, one byte at a time, and
/// with the input offered again after every partial read.
fn one(input: &[u8]) -> Value {
    let values = parse_all(input).unwrap();
    assert_eq!(values.len(), 1, "{values:?}");
    let whole = values.into_iter().next().unwrap();
    let mut parser = Parser::new(RespLimits::default());
    let mut buffered = Vec::new();
    let mut bytewise = None;
    for &b in input {
        buffered.push(b);
        let step = parser.feed(&buffered).unwrap();
        buffered.drain(..step.consumed);
        if let Some(v) = step.value {
            assert!(bytewise.is_none(), "one value only");
            bytewise = Some(v);
        }
    }
    assert_eq!(format!("{bytewise:?}"), format!("{:?}", Some(&whole)));
    // Offered whole again after the parser saw only a prefix: the prefix was not consumed
    // twice.
    let mut parser = Parser::new(RespLimits::default());
    let half = input.len() / 2;
    let consumed = parser.feed(&input[..half]).unwrap().consumed;
    let step = parser.feed(&input[consumed..]).unwrap();
    let rest = parse_rest(&mut parser, &input[consumed + step.consumed..], step.value);
    assert_eq!(format!("{rest:?}"), format!("{whole:?}"));
    whole
}

fn parse_rest(parser: &mut Parser, mut rest: &[u8], mut value: Option<Value>) -> Value {
    while value.is_none() {
        let step = parser.feed(rest).unwrap();
        rest = &rest[step.consumed..];
        value = step.value;
        assert!(value.is_some() || step.consumed > 0, "stuck");
    }
    value.unwrap()
}

fn s(text: &str) -> Value {
    Value::Simple(text.as_bytes().to_vec())
}

fn b(text: &str) -> Value {
    Value::Bulk(text.as_bytes().to_vec())
}

#[test]
fn resp2_examples() {
    assert_eq!(one(b"+OK\r\n"), s("OK"));
    assert_eq!(
        one(b"-Error message\r\n"),
        Value::Error(b"Error message".to_vec())
    );
    assert_eq!(
        one(b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        Value::Error(b"WRONGTYPE Operation against a key holding the wrong kind of value".to_vec())
    );
    assert_eq!(one(b":0\r\n"), Value::Integer(0));
    assert_eq!(one(b":1000\r\n"), Value::Integer(1000));
    assert_eq!(one(b":-42\r\n"), Value::Integer(-42));
    assert_eq!(one(b":+7\r\n"), Value::Integer(7));
    assert_eq!(one(b"$5\r\nhello\r\n"), b("hello"));
    assert_eq!(one(b"$0\r\n\r\n"), b(""));
    assert_eq!(one(b"$-1\r\n"), Value::Null);
    assert_eq!(one(b"*0\r\n"), Value::Array(vec![]));
    assert_eq!(
        one(b"*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n"),
        Value::Array(vec![b("hello"), b("world")])
    );
    assert_eq!(
        one(b"*3\r\n:1\r\n:2\r\n:3\r\n"),
        Value::Array(vec![
            Value::Integer(1),
            Value::Integer(2),
            Value::Integer(3)
        ])
    );
    assert_eq!(
        one(b"*5\r\n:1\r\n:2\r\n:3\r\n:4\r\n$5\r\nhello\r\n")
            .as_list()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(one(b"*-1\r\n"), Value::Null);
    assert_eq!(
        one(b"*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Hello\r\n-World\r\n"),
        Value::Array(vec![
            Value::Array(vec![
                Value::Integer(1),
                Value::Integer(2),
                Value::Integer(3)
            ]),
            Value::Array(vec![s("Hello"), Value::Error(b"World".to_vec())]),
        ])
    );
    assert_eq!(
        one(b"*3\r\n$5\r\nhello\r\n$-1\r\n$5\r\nworld\r\n"),
        Value::Array(vec![b("hello"), Value::Null, b("world")])
    );
    // A bulk is binary-safe: CRLF inside it is data.
    assert_eq!(one(b"$4\r\na\r\nb\r\n"), b("a\r\nb"));
}

#[test]
fn resp3_examples() {
    assert_eq!(one(b"_\r\n"), Value::Null);
    assert_eq!(one(b"#t\r\n"), Value::Boolean(true));
    assert_eq!(one(b"#f\r\n"), Value::Boolean(false));
    assert_eq!(one(b",1.23\r\n"), Value::Double(1.23));
    assert_eq!(one(b",10\r\n"), Value::Double(10.0));
    assert_eq!(one(b",-1.5e3\r\n"), Value::Double(-1500.0));
    assert_eq!(one(b",inf\r\n"), Value::Double(f64::INFINITY));
    assert_eq!(one(b",-inf\r\n"), Value::Double(f64::NEG_INFINITY));
    assert!(matches!(one(b",nan\r\n"), Value::Double(d) if d.is_nan()));
    assert_eq!(
        one(b"(3492890328409238509324850943850943825024385\r\n"),
        Value::BigNumber(b"3492890328409238509324850943850943825024385".to_vec())
    );
    assert_eq!(
        one(b"!21\r\nSYNTAX invalid syntax\r\n"),
        Value::Error(b"SYNTAX invalid syntax".to_vec())
    );
    assert_eq!(
        one(b"=15\r\ntxt:Some string\r\n"),
        Value::Verbatim {
            format: *b"txt",
            text: b"Some string".to_vec()
        }
    );
    assert_eq!(
        one(b"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n"),
        Value::Map(vec![
            (s("first"), Value::Integer(1)),
            (s("second"), Value::Integer(2))
        ])
    );
    assert_eq!(
        one(b"~5\r\n+orange\r\n+apple\r\n#t\r\n:100\r\n:999\r\n"),
        Value::Set(vec![
            s("orange"),
            s("apple"),
            Value::Boolean(true),
            Value::Integer(100),
            Value::Integer(999)
        ])
    );
    assert_eq!(
        one(b">4\r\n+pubsub\r\n+message\r\n+somechannel\r\n+this is the message\r\n"),
        Value::Push(vec![
            s("pubsub"),
            s("message"),
            s("somechannel"),
            s("this is the message")
        ])
    );
    // An attribute annotates the reply after it, and is not an element of its aggregate.
    assert_eq!(
        one(b"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n"),
        Value::Array(vec![Value::Integer(2039123), Value::Integer(9543892)])
    );
    assert_eq!(
        one(b"*3\r\n:1\r\n:2\r\n|1\r\n+ttl\r\n:3600\r\n:3\r\n"),
        Value::Array(vec![
            Value::Integer(1),
            Value::Integer(2),
            Value::Integer(3)
        ])
    );
    // A push between replies, as Pub/Sub arrives on a RESP3 connection.
    let values = parse_all(b"+OK\r\n>3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n:1\r\n").unwrap();
    assert_eq!(values.len(), 3);
    assert!(matches!(values[1], Value::Push(_)));
}

#[test]
fn malformed_replies_are_refused() {
    let cases: [(&[u8], RespError); 14] = [
        (b"?x\r\n", RespError::UnknownType(b'?')),
        (b":12a\r\n", RespError::Malformed("integer")),
        (b":\r\n", RespError::Malformed("integer")),
        (
            b":99999999999999999999\r\n",
            RespError::Malformed("integer"),
        ),
        (b"$-2\r\n", RespError::Malformed("length")),
        (b"$3\r\nabcd\r\n", RespError::MissingCrlf),
        (b"+OK\rX", RespError::MissingCrlf),
        (b"#x\r\n", RespError::Malformed("boolean")),
        (b",1.\r\n", RespError::Malformed("double")),
        (b",e5\r\n", RespError::Malformed("double")),
        (b"_x\r\n", RespError::Malformed("null")),
        (b"=3\r\ntxt\r\n", RespError::Malformed("verbatim string")),
        (b"$?\r\n;4\r\nHell\r\n;0\r\n", RespError::Streamed),
        (b"%-1\r\n", RespError::Malformed("length")),
    ];
    for (input, error) in cases {
        assert_eq!(
            parse_all(input),
            Err(error),
            "{:?}",
            core::str::from_utf8(input)
        );
    }
}

#[test]
fn every_limit_holds() {
    let limits = RespLimits {
        max_bulk_bytes: 4,
        max_elements: 3,
        max_depth: 2,
        max_line_bytes: 8,
    };
    let run = |input: &[u8]| {
        let mut parser = Parser::new(limits);
        let mut rest = input;
        loop {
            let step = parser.feed(rest)?;
            rest = &rest[step.consumed..];
            if step.value.is_some() || step.consumed == 0 {
                return Ok(step.value);
            }
        }
    };
    assert_eq!(run(b"$4\r\nabcd\r\n"), Ok(Some(b("abcd"))));
    assert_eq!(run(b"$5\r\n"), Err(RespError::BulkTooLarge));
    assert_eq!(run(b"!5\r\n"), Err(RespError::BulkTooLarge));
    assert!(run(b"*3\r\n:1\r\n:2\r\n:3\r\n").unwrap().is_some());
    assert_eq!(run(b"*4\r\n"), Err(RespError::TooManyElements));
    assert_eq!(run(b"%2\r\n"), Err(RespError::TooManyElements));
    assert_eq!(
        run(b"*99999999999999999999999\r\n"),
        Err(RespError::LineTooLong)
    );
    assert!(run(b"*1\r\n*1\r\n:1\r\n").unwrap().is_some());
    assert_eq!(run(b"*1\r\n*1\r\n*1\r\n"), Err(RespError::TooDeep));
    assert_eq!(run(b"+12345678\r\n"), Ok(Some(s("12345678"))));
    assert_eq!(run(b"+123456789"), Err(RespError::LineTooLong));
    // Exactly at the limit and not yet ended: wait for more.
    assert_eq!(run(b"+12345678"), Ok(None));
    assert_eq!(run(b"+12345678\r"), Ok(None));
    // Counts from the wire do not become allocations.
    let big = RespLimits::default();
    let mut parser = Parser::new(big);
    assert_eq!(parser.feed(b"*1000000\r\n").unwrap().consumed, 10);
    assert!(parser.is_partial());
}

#[test]
fn commands_are_arrays_of_bulk_strings() {
    let mut out = Vec::new();
    encode_command(&[&b"SET"[..], b"key", b"a\r\nb"], &mut out);
    assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$4\r\na\r\nb\r\n");
    // What a server reads as a command is what the parser reads as a reply of the same shape.
    assert_eq!(
        one(&out),
        Value::Array(vec![b("SET"), b("key"), b("a\r\nb")])
    );
    out.clear();
    encode_command::<&[u8]>(&[], &mut out);
    assert_eq!(out, b"*0\r\n");
}

/// Replies with every type, for the split property.
const STREAM: &[u8] =
    b"+OK\r\n-ERR x\r\n:-5\r\n$5\r\nhe\r\no\r\n$-1\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n\
_\r\n#t\r\n,3.5e-2\r\n(123\r\n!3\r\nbad\r\n=7\r\ntxt:abc\r\n%1\r\n+k\r\n~1\r\n:2\r\n\
>3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$3\r\nx y\r\n|1\r\n+a\r\n:1\r\n*0\r\n*-1\r\n";

proptest::proptest! {
    /// Any split of the input gives the same replies.
    #[test]
    fn any_split_gives_the_same_replies(cuts in proptest::collection::vec(0..STREAM.len(), 0..12)) {
        let whole = parse_all(STREAM).unwrap();
        let mut cuts = cuts;
        cuts.sort_unstable();
        cuts.push(STREAM.len());
        let mut parser = Parser::new(RespLimits::default());
        let mut got = Vec::new();
        let mut buffered = Vec::new();
        let mut start = 0;
        for cut in cuts {
            buffered.extend_from_slice(&STREAM[start..cut]);
            start = cut;
            loop {
                let step = parser.feed(&buffered).unwrap();
                buffered.drain(..step.consumed);
                match step.value {
                    Some(v) => got.push(v),
                    None if step.consumed == 0 => break,
                    None => {}
                }
            }
        }
        proptest::prop_assert_eq!(format!("{got:?}"), format!("{whole:?}"));
    }
}
