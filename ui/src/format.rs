//! How the pages write numbers for a person: byte sizes in binary units, counts with
//! thousands separators, durations in the largest unit that keeps them short, and
//! instants in UTC.

/// A size in bytes: `512 B`, `1.5 KiB`, `12.0 MiB`, `3.21 GiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let digits = if value < 10.0 { 2 } else { 1 };
    format!("{value:.digits$} {}", UNITS[unit])
}

/// A count with thousands separators: `12,345`.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration given in seconds, in the largest unit it holds at least once: `45 s`,
/// `12.5 min`, `3.0 h`, `2.1 d`.
pub(crate) fn duration(seconds: f64) -> String {
    let unit = TimeUnit::of(seconds);
    if unit.seconds == 1.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{:.1} {}", seconds / unit.seconds, unit.name)
    }
}

/// A unit of time an axis counts in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct TimeUnit {
    /// Seconds in one unit.
    pub seconds: f64,
    /// Its short name: `s`, `min`, `h`, `d`.
    pub name: &'static str,
}

impl TimeUnit {
    /// The largest unit `seconds` holds at least once (seconds below a minute).
    pub(crate) fn of(seconds: f64) -> TimeUnit {
        const UNITS: [TimeUnit; 4] = [
            TimeUnit {
                seconds: 86_400.0,
                name: "d",
            },
            TimeUnit {
                seconds: 3_600.0,
                name: "h",
            },
            TimeUnit {
                seconds: 60.0,
                name: "min",
            },
            TimeUnit {
                seconds: 1.0,
                name: "s",
            },
        ];
        let found = UNITS.iter().find(|u| seconds.abs() >= u.seconds);
        *found.unwrap_or(&UNITS[3])
    }
}

/// An instant, epoch milliseconds, in UTC to the second: `2024-05-06 07:08:09`.
pub(crate) fn instant(ms: i64) -> String {
    utc(ms, "%Y-%m-%d %H:%M:%S")
}

/// An instant, epoch milliseconds, in UTC written with `pattern` (chrono's), or the
/// number itself when it is out of range.
pub(crate) fn utc(ms: i64, pattern: &str) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format(pattern).to_string())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_the_largest_binary_unit() {
        let cases = [
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1.00 KiB"),
            (1536, "1.50 KiB"),
            (12 * 1024 * 1024, "12.0 MiB"),
            (3_446_000_000, "3.21 GiB"),
            (u64::MAX, "16.0 EiB"),
        ];
        for (n, text) in cases {
            assert_eq!(bytes(n), text, "{n}");
        }
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (12345, "12,345"),
            (1234567, "1,234,567"),
        ];
        for (n, text) in cases {
            assert_eq!(count(n), text, "{n}");
        }
    }

    #[test]
    fn durations_take_the_largest_unit_they_hold() {
        let cases = [
            (0.0, "0 s"),
            (45.4, "45 s"),
            (60.0, "1.0 min"),
            (750.0, "12.5 min"),
            (3.0 * 3600.0, "3.0 h"),
            (2.1 * 86_400.0, "2.1 d"),
        ];
        for (seconds, text) in cases {
            assert_eq!(duration(seconds), text, "{seconds}");
        }
    }

    #[test]
    fn instants_are_written_in_utc() {
        assert_eq!(instant(0), "1970-01-01 00:00:00");
        assert_eq!(instant(1_715_000_000_123), "2024-05-06 12:53:20");
        assert_eq!(instant(i64::MAX), i64::MAX.to_string());
    }
}
