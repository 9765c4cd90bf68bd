//! The binary's logger: one line per event on stderr, in logfmt or JSON, at or above a level.
//!
//! The library writes its events as `event key=value key="quoted value" …` through the `log`
//! facade; this logger turns that into `ts=… level=… target=… msg=event key=value …`, or a JSON
//! object with the same fields. A message of another shape is kept whole as `msg`.

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// logfmt or JSON lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Logfmt,
    Json,
}

struct Logger {
    format: Format,
}

/// Installs the logger at `level` (`error` … `trace`, or `off`) in `format`.
pub fn install(level: &str, format: Format) {
    let filter = match level {
        "error" => LevelFilter::Error,
        "warn" => LevelFilter::Warn,
        "info" => LevelFilter::Info,
        "debug" => LevelFilter::Debug,
        "trace" => LevelFilter::Trace,
        _ => LevelFilter::Off,
    };
    if log::set_boxed_logger(Box::new(Logger { format })).is_ok() {
        log::set_max_level(filter);
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let message = record.args().to_string();
        let line = render(
            self.format,
            now_rfc3339(),
            record.level(),
            record.target(),
            &message,
        );
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// One log line, newline included.
pub fn render(format: Format, ts: String, level: Level, target: &str, message: &str) -> String {
    let level = level.as_str().to_ascii_lowercase();
    let pairs = parse(message);
    match format {
        Format::Logfmt => {
            let mut line = format!("ts={ts} level={level} target={target}");
            match pairs {
                Some((event, pairs)) => {
                    line.push_str(&format!(" msg={event}"));
                    for (k, v) in pairs {
                        line.push_str(&format!(" {k}={}", logfmt_value(&v)));
                    }
                }
                None => line.push_str(&format!(" msg={}", logfmt_value(message))),
            }
            line.push('\n');
            line
        }
        Format::Json => {
            let mut fields = vec![
                ("ts".to_string(), ts),
                ("level".to_string(), level),
                ("target".to_string(), target.to_string()),
            ];
            match pairs {
                Some((event, pairs)) => {
                    fields.push(("msg".into(), event));
                    fields.extend(pairs);
                }
                None => fields.push(("msg".into(), message.to_string())),
            }
            let body: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}:{}", json_string(k), json_string(v)))
                .collect();
            format!("{{{}}}\n", body.join(","))
        }
    }
}

/// `event key=value key="quoted"…` as the event and its pairs; `None` for another shape.
fn parse(message: &str) -> Option<(String, Vec<(String, String)>)> {
    let (event, mut rest) = match message.split_once(' ') {
        Some((event, rest)) => (event, rest),
        None => (message, ""),
    };
    if event.is_empty() || !event.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let mut pairs = Vec::new();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = closing_quote(quoted)?;
            (unescape(&quoted[..end]), quoted[end + 1..].trim_start())
        } else {
            match after.split_once(' ') {
                Some((v, next)) => (v.to_string(), next.trim_start()),
                None => (after.to_string(), ""),
            }
        };
        pairs.push((key.to_string(), value));
        rest = next;
    }
    Some((event.to_string(), pairs))
}

/// Where a Rust-debug-quoted string ends (the unescaped `"`).
fn closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => {}
            },
            (c, false) => out.push(c),
        }
    }
    out
}

/// A logfmt value: bare when it can be, else quoted.
fn logfmt_value(v: &str) -> String {
    if !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '=')
    {
        v.to_string()
    } else {
        format!("{v:?}")
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The time now as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = pushwire::http::civil_date(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_become_fields_in_logfmt_and_json() {
        let msg =
            r#"ended technique=sse reason=peer_closed topic="a b" peer=127.0.0.1:5 status=200"#;
        let line = render(
            Format::Logfmt,
            "T".into(),
            Level::Info,
            "pushwire::conn",
            msg,
        );
        assert_eq!(
            line,
            "ts=T level=info target=pushwire::conn msg=ended technique=sse reason=peer_closed topic=\"a b\" peer=127.0.0.1:5 status=200\n"
        );
        let json = render(Format::Json, "T".into(), Level::Warn, "t", msg);
        assert_eq!(
            json,
            "{\"ts\":\"T\",\"level\":\"warn\",\"target\":\"t\",\"msg\":\"ended\",\"technique\":\"sse\",\"reason\":\"peer_closed\",\"topic\":\"a b\",\"peer\":\"127.0.0.1:5\",\"status\":\"200\"}\n"
        );
        let free = render(
            Format::Logfmt,
            "T".into(),
            Level::Error,
            "t",
            "could not bind: in use",
        );
        assert_eq!(
            free,
            "ts=T level=error target=t msg=\"could not bind: in use\"\n"
        );
        let quoted = render(
            Format::Json,
            "T".into(),
            Level::Info,
            "t",
            r#"x detail="say \"hi\"""#,
        );
        assert!(quoted.contains(r#""detail":"say \"hi\"""#), "{quoted}");
    }

    #[test]
    fn timestamps_are_rfc_3339_utc() {
        let ts = now_rfc3339();
        assert_eq!(ts.len(), 24, "{ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T');
        assert!(ts.starts_with("20"));
    }
}
