//! The `Date` header (RFC 9110 §6.6.1, IMF-fixdate, §5.6.7), from Unix seconds.

/// A cached `Date` value, recomputed when the second changes.
#[derive(Clone, Debug)]
pub(crate) struct HttpDate {
    secs: u64,
    text: [u8; 29],
}

impl HttpDate {
    pub fn new() -> Self {
        HttpDate {
            secs: u64::MAX,
            text: *b"Thu, 01 Jan 1970 00:00:00 GMT",
        }
    }

    /// The value for `unix_secs`, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    pub fn at(&mut self, unix_secs: u64) -> &[u8; 29] {
        if unix_secs != self.secs {
            self.secs = unix_secs;
            self.text = format(unix_secs);
        }
        &self.text
    }
}

fn format(unix_secs: u64) -> [u8; 29] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = unix_secs / 86_400;
    let rem = unix_secs % 86_400;
    let (hour, minute, second) = (rem / 3600, rem / 60 % 60, rem % 60);
    let (year, month, day) = civil_date(days);

    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    two(&mut out[5..7], day as u64);
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    let year = year.clamp(0, 9999) as u64;
    two(&mut out[12..14], year / 100);
    two(&mut out[14..16], year % 100);
    two(&mut out[17..19], hour);
    two(&mut out[20..22], minute);
    two(&mut out[23..25], second);
    out
}

/// The calendar date (year, month 1–12, day 1–31; the proleptic Gregorian calendar) of a day
/// counted from 1970-01-01 — what a `Date` field (RFC 9110 §5.6.7) or an RFC 3339 timestamp
/// spells.
pub fn civil_date(days_since_epoch: u64) -> (i64, u32, u32) {
    // The inverse of days-from-civil over 400-year eras (146,097 days each).
    let z = days_since_epoch as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}

fn two(dst: &mut [u8], n: u64) {
    dst[0] = b'0' + (n / 10 % 10) as u8;
    dst[1] = b'0' + (n % 10) as u8;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_across_leap_days_and_centuries() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(11_016), (2000, 2, 29));
        assert_eq!(civil_date(20_794), (2026, 12, 7));
        assert_eq!(civil_date(47_541), (2100, 3, 1));
    }

    #[test]
    fn date_rfc9110_example() {
        assert_eq!(&format(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&format(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&format(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(&format(1_795_219_200), b"Sat, 21 Nov 2026 00:00:00 GMT");
    }
}
