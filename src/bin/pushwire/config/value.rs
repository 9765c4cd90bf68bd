//! How a setting's value is written — `30s`, `16MiB`, `true`, `127.0.0.1:8080` — read the same
//! way from the file, the environment and the command line.

use std::time::Duration;

/// What kind of value a setting takes, and so how it is read and shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A whole number of bytes: `1048576`, `64KiB`, `16MiB`, `1GiB` (or `KB`, `MB`, `GB`).
    Bytes,
    /// A whole number.
    Count,
    /// A duration: `30s`, `500ms`, `2m`, `1h`, or a whole number of seconds.
    Duration,
    /// A duration, or `off`.
    MaybeDuration,
    /// `true` or `false`.
    Bool,
    /// Text (a path, a name).
    Text,
    /// A list: a TOML array, comma-separated in the environment, the flag repeated.
    List,
    /// A TCP port, 1–65535.
    Port,
}

/// `text` as a number of bytes.
pub fn bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("expected a size such as 16MiB or 1048576, got {text:?}"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit {other:?} (B, KiB, MiB, GiB, KB, MB or GB)"
            ));
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// `text` as a whole number.
pub fn count(text: &str) -> Result<u64, String> {
    let text = text.trim();
    text.replace('_', "")
        .parse()
        .map_err(|_| format!("expected a whole number, got {text:?}"))
}

/// `text` as a duration.
pub fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad = || format!("expected a duration such as 30s, 500ms or 2m, got {text:?}");
    let n: f64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    if !seconds.is_finite() || !(0.0..=10.0 * 365.0 * 86_400.0).contains(&seconds) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `text` as `true` or `false`.
pub fn boolean(text: &str) -> Result<bool, String> {
    match text.trim() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        other => Err(format!("expected true or false, got {other:?}")),
    }
}

/// `text` as a port.
pub fn port(text: &str) -> Result<u16, String> {
    match count(text) {
        Ok(n @ 1..=65535) => Ok(n as u16),
        _ => Err(format!(
            "expected a port from 1 to 65535, got {:?}",
            text.trim()
        )),
    }
}

/// A duration as written back: whole seconds when it is, else milliseconds.
pub fn show_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// A size as written back, in the largest binary unit that divides it.
pub fn show_bytes(n: u64) -> String {
    for (unit, factor) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= factor && n % factor == 0 {
            return format!("{}{unit}", n / factor);
        }
    }
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_durations_and_switches_are_read_as_written() {
        assert_eq!(bytes("16MiB"), Ok(16 << 20));
        assert_eq!(bytes("64KiB"), Ok(65536));
        assert_eq!(bytes("1000"), Ok(1000));
        assert_eq!(bytes("2GB"), Ok(2_000_000_000));
        assert!(
            bytes("16 parsecs")
                .unwrap_err()
                .contains("unknown size unit")
        );
        assert!(bytes("lots").is_err());
        assert!(
            bytes("99999999999999GiB")
                .unwrap_err()
                .contains("too large")
        );
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("10"), Ok(Duration::from_secs(10)));
        assert!(duration("-1s").is_err());
        assert!(duration("soon").is_err());
        assert_eq!(boolean("true"), Ok(true));
        assert!(boolean("maybe").is_err());
        assert_eq!(port("8080"), Ok(8080));
        assert!(port("0").is_err() && port("65536").is_err());
        assert_eq!(count("10_000"), Ok(10_000));
        assert_eq!(show_bytes(16 << 20), "16MiB");
        assert_eq!(show_bytes(1000), "1000");
        assert_eq!(show_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(show_duration(Duration::from_secs(30)), "30s");
    }
}
