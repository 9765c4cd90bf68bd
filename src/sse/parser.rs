//! The client side: the event stream interpretation of the WHATWG HTML standard
//! ("Server-sent events", §9.2.6), as a sans-IO parser.
//!
//! Bytes in any split give the same events. What the standard asks, and where it happens:
//! one leading BOM is skipped (`feed`); lines end with CRLF, LF or CR, and a CR at the end of
//! one read may be followed by the LF in the next (`cr_pending`); invalid UTF-8 becomes U+FFFD
//! (`process_line`, per line, which equals decoding the stream since line breaks are ASCII);
//! comments, fields without a colon, one leading space stripped, `data` appended with LF,
//! `id` with NUL ignored, `retry` only ASCII digits (`process_field`); empty `data` still
//! dispatches, a block without `data` dispatches nothing but still sets the last event id
//! (`dispatch`); an unfinished event at EOF is dropped (`feed_eof`).

use alloc::string::String;
use alloc::vec::Vec;

/// A dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The event type (`message` unless an `event:` field set it).
    pub event_type: String,
    /// The data, `data:` lines joined with LF.
    pub data: String,
    /// The connection's last event id when this event was dispatched.
    pub last_event_id: String,
}

/// What the stream said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// An event.
    Event(Event),
    /// A `retry:` field: the new reconnection time in milliseconds.
    Retry(u64),
}

/// The result of one [`Parser::feed`] call.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a step says how much input was consumed and what it produced"]
pub struct Step {
    /// Bytes of input used; offer the rest again.
    pub consumed: usize,
    /// What they produced.
    pub item: Option<Item>,
}

/// A line or an event's data longer than the parser's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("event stream line or event larger than the limit")]
pub struct TooLarge;

/// An event stream parser.
#[derive(Clone, Debug)]
pub struct Parser {
    line: Vec<u8>,
    max_line: usize,
    data: String,
    event_type: String,
    /// The id of the next dispatch (the "last event ID buffer").
    id_buffer: String,
    /// The connection's last event id.
    last_event_id: String,
    /// Whether the stream's first bytes (a possible BOM) are behind us.
    started: bool,
    /// The previous byte was a CR: an LF right after it belongs to the same line end.
    cr_pending: bool,
    /// Bytes of the data buffer over `max_data` make the event be dropped.
    max_data: usize,
}

impl Parser {
    /// A parser keeping at most `max_line` bytes of one line and `max_data` of one event.
    pub fn new(max_line: usize, max_data: usize) -> Self {
        Parser {
            line: Vec::new(),
            max_line,
            data: String::new(),
            event_type: String::new(),
            id_buffer: String::new(),
            last_event_id: String::new(),
            started: false,
            cr_pending: false,
            max_data,
        }
    }

    /// A parser for a stream opened to resume after `last_event_id`: the id a reconnecting
    /// client carries over (WHATWG HTML §9.2.4, the event source's "last event ID string", sent
    /// as `Last-Event-ID`). It is where [`Parser::new`] starts with the empty string: events
    /// dispatched before the new stream names an id of its own carry this one, so the id
    /// survives a block without an `id:` field after reconnecting, as it does in browsers.
    ///
    /// An id that the stream could never have set — one containing U+0000 (§9.2.6 ignores such
    /// an `id` field), CR or LF, or longer than `max_line` — is not carried over.
    pub fn resuming(last_event_id: &str, max_line: usize, max_data: usize) -> Self {
        let mut parser = Parser::new(max_line, max_data);
        let settable =
            last_event_id.len() <= max_line && !last_event_id.contains(['\0', '\r', '\n']);
        if settable {
            parser.id_buffer = String::from(last_event_id);
            parser.last_event_id = String::from(last_event_id);
        }
        parser
    }

    /// The last event id seen (what a reconnecting client sends as `Last-Event-ID`).
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// Reads input until an item is produced or the input is used up.
    ///
    /// # Errors
    /// [`TooLarge`] when one line exceeds the limit; the parser is then unusable.
    pub fn feed(&mut self, input: &[u8]) -> Result<Step, TooLarge> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            i += 1;
            if core::mem::take(&mut self.cr_pending) && b == b'\n' {
                continue;
            }
            match b {
                b'\r' | b'\n' => {
                    self.cr_pending = b == b'\r';
                    if let Some(item) = self.end_line()? {
                        return Ok(Step {
                            consumed: i,
                            item: Some(item),
                        });
                    }
                }
                _ => {
                    if self.line.len() >= self.max_line {
                        return Err(TooLarge);
                    }
                    self.line.push(b);
                    // One leading BOM (EF BB BF) is ignored.
                    if !self.started && self.line.len() == 3 {
                        self.started = true;
                        if self.line == [0xef, 0xbb, 0xbf] {
                            self.line.clear();
                        }
                    }
                }
            }
        }
        Ok(Step {
            consumed: i,
            item: None,
        })
    }

    /// The stream ended: an event without its closing blank line is dropped.
    pub fn feed_eof(&mut self) {
        self.line.clear();
        self.data.clear();
        self.event_type.clear();
    }

    fn end_line(&mut self) -> Result<Option<Item>, TooLarge> {
        if !self.started && self.line.starts_with(&[0xef, 0xbb, 0xbf]) {
            self.line.drain(..3);
        }
        self.started = true;
        let line = core::mem::take(&mut self.line);
        let item = self.process_line(&line);
        self.line = line;
        self.line.clear();
        item
    }

    fn process_line(&mut self, line: &[u8]) -> Result<Option<Item>, TooLarge> {
        if line.is_empty() {
            return Ok(self.dispatch());
        }
        if line[0] == b':' {
            return Ok(None); // a comment
        }
        let text = String::from_utf8_lossy(line);
        let (name, value) = match text.find(':') {
            Some(i) => {
                let v = &text[i + 1..];
                (&text[..i], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (&text[..], ""),
        };
        self.process_field(name, value)
    }

    fn process_field(&mut self, name: &str, value: &str) -> Result<Option<Item>, TooLarge> {
        match name {
            "event" => self.event_type = value.into(),
            "data" if self.data.len() + value.len() >= self.max_data => return Err(TooLarge),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => self.id_buffer = value.into(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                // Digits too many for u64 are still digits: the largest delay.
                return Ok(Some(Item::Retry(value.parse().unwrap_or(u64::MAX))));
            }
            _ => {}
        }
        Ok(None)
    }

    fn dispatch(&mut self) -> Option<Item> {
        // The id is set even when nothing is dispatched.
        self.last_event_id.clone_from(&self.id_buffer);
        if self.data.is_empty() {
            self.event_type.clear();
            return None;
        }
        if self.data.ends_with('\n') {
            self.data.pop();
        }
        let event_type = if self.event_type.is_empty() {
            String::from("message")
        } else {
            core::mem::take(&mut self.event_type)
        };
        Some(Item::Event(Event {
            event_type,
            data: core::mem::take(&mut self.data),
            last_event_id: self.last_event_id.clone(),
        }))
    }
}
