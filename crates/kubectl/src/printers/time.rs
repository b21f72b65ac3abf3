//! Ages and timestamps: `k8s.io/apimachinery/pkg/util/duration.HumanDuration` and RFC 3339
//! (`metav1.Time`) parsing and formatting.

use serde_json::Value;

/// kubectl's age format: `k8s.io/apimachinery/pkg/util/duration.HumanDuration`, for a
/// duration in milliseconds (`45s`, `2m10s`, `5m`, `3h`, `2d4h`, `400d`, `2y1d`...).
pub fn human_duration_ms(ms: i64) -> String {
    // Go truncates toward zero when converting to whole seconds.
    let seconds = ms / 1000;
    if seconds < -1 {
        return "<invalid>".to_string();
    } else if seconds < 0 {
        return "0s".to_string();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        if s == 0 {
            return format!("{minutes}m");
        }
        return format!("{minutes}m{s}s");
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 {
            return format!("{hours}h");
        }
        return format!("{hours}h{m}m");
    } else if hours < 48 {
        return format!("{hours}h");
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            return format!("{}d", hours / 24);
        }
        return format!("{}d{}h", hours / 24, h);
    } else if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            return format!("{}y", hours / 24 / 365);
        }
        return format!("{}y{}d", hours / 24 / 365, dy);
    }
    format!("{}y", hours / 24 / 365)
}

/// Parses an RFC 3339 timestamp (`2024-05-01T12:00:00Z`) to milliseconds since the Unix
/// epoch, rounding sub-millisecond fractions down.
///
/// Accepts the RFC 3339 §5.6 `date-time` grammar: `T`, `t` or a space between date and
/// time, an optional fraction of any length (`.250`), a leap second (`:60`, read as the next
/// second, as POSIX time counts it), and `Z`, `z` or a `±hh:mm` offset. Jiff's Temporal
/// parser ([`jiff::Timestamp`]'s `FromStr`) does the reading and the calendar checks: days a
/// month does not have, and offsets beyond `±25:59`, are rejected. It accepts more forms (no
/// seconds, `+hhmm`, `[zone]` annotations...), which are rejected here first.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    const SHAPE: &[u8; 19] = b"0000-00-00T00:00:00";
    let b = s.as_bytes();
    let shaped = b.len() > SHAPE.len()
        && b.iter().zip(SHAPE).all(|(&c, &p)| match p {
            b'0' => c.is_ascii_digit(),
            b'T' => matches!(c, b'T' | b't' | b' '),
            _ => c == p,
        });
    if !shaped {
        return None;
    }
    let mut zone = SHAPE.len();
    let mut frac = 0;
    if b[zone] == b'.' {
        frac = b[zone + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if frac == 0 {
            return None;
        }
        zone += 1 + frac;
    }
    match &b[zone..] {
        [b'Z' | b'z'] => {}
        [b'+' | b'-', h0, h1, b':', m0, m1]
            if [h0, h1, m0, m1].iter().all(|c| c.is_ascii_digit()) => {}
        _ => return None,
    }
    // Jiff keeps nanoseconds (at most 9 digits); the dropped digits do not change the result.
    let ts: jiff::Timestamp = if frac > 9 {
        format!("{}{}", &s[..SHAPE.len() + 10], &s[zone..]).parse()
    } else {
        s.parse()
    }
    .ok()?;
    // Jiff reads a leap second as `:59` (`jiff::Timestamp` docs, "Leap seconds"); count it
    // as the next second.
    let leap = if &b[17..19] == b"60" { 1000 } else { 0 };
    i64::try_from(ts.as_nanosecond().div_euclid(1_000_000))
        .ok()?
        .checked_add(leap)
}

/// Formats milliseconds since the Unix epoch as kubectl/the API server do for
/// `metav1.Time`: `2024-05-01T12:00:00Z` (whole seconds, rounded down, UTC).
///
/// Instants beyond jiff's range (years -9999 to 9999, see [`jiff::Timestamp::MIN`] and
/// [`jiff::Timestamp::MAX`]) are clamped to it.
pub fn format_rfc3339(ms: i64) -> String {
    let ts = jiff::Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    });
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The age of a timestamp field as kubectl prints it; `<unknown>` when absent or invalid.
pub(super) fn age_of(ts: Option<&Value>, now_ms: i64) -> String {
    match ts.and_then(Value::as_str).and_then(parse_rfc3339_ms) {
        Some(t) => human_duration_ms(now_ms - t),
        None => "<unknown>".to_string(),
    }
}

/// An RFC 3339 timestamp as Go's `time.RFC1123Z` prints it in UTC (`Mon, 02 Jan 2006 15:04:05
/// +0000`), what `kubectl describe` shows as `CreationTimestamp`; empty when unreadable.
pub fn rfc1123z(rfc3339: &str) -> String {
    parse_rfc3339_ms(rfc3339)
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|ts| ts.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cases from k8s.io/apimachinery/pkg/util/duration/duration_test.go
    /// (TestHumanDuration and TestHumanDurationBoundaries).
    #[test]
    fn human_duration_matches_upstream_cases() {
        const S: i64 = 1000;
        const M: i64 = 60 * S;
        const H: i64 = 60 * M;
        const D: i64 = 24 * H;
        let cases: &[(i64, &str)] = &[
            (S, "1s"),
            (70 * S, "70s"),
            (190 * S, "3m10s"),
            (70 * M, "70m"),
            (47 * H, "47h"),
            (49 * H, "2d1h"),
            ((8 * 24 + 2) * H, "8d"),
            (367 * D, "367d"),
            ((365 * 2 * 24 + 25) * H, "2y1d"),
            ((365 * 8 * 24 + 2) * H, "8y"),
            // boundaries
            (-2 * S, "<invalid>"),
            (-2 * S + 1, "0s"),
            (0, "0s"),
            (S - 1, "0s"),
            (2 * M - 1, "119s"),
            (2 * M, "2m"),
            (2 * M + S, "2m1s"),
            (10 * M - 1, "9m59s"),
            (10 * M, "10m"),
            (10 * M + S, "10m"),
            (3 * H - 1, "179m"),
            (3 * H, "3h"),
            (3 * H + M, "3h1m"),
            (8 * H - 1, "7h59m"),
            (8 * H, "8h"),
            (8 * H + 59 * M, "8h"),
            (2 * D - 1, "47h"),
            (2 * D, "2d"),
            (2 * D + H, "2d1h"),
            (8 * D - 1, "7d23h"),
            (8 * D, "8d"),
            (8 * D + 23 * H, "8d"),
            (2 * 365 * D - 1, "729d"),
            (2 * 365 * D, "2y"),
            (2 * 365 * D + 23 * H, "2y"),
            (2 * 365 * D + 23 * H + 59 * M, "2y"),
            (2 * 365 * D + 24 * H - 1, "2y"),
            (2 * 365 * D + 24 * H, "2y1d"),
            (3 * 365 * D, "3y"),
            (4 * 365 * D, "4y"),
            (5 * 365 * D, "5y"),
            (6 * 365 * D, "6y"),
            (7 * 365 * D, "7y"),
            (8 * 365 * D - 1, "7y364d"),
            (8 * 365 * D, "8y"),
            (8 * 365 * D + 364 * D, "8y"),
            (9 * 365 * D, "9y"),
            // the brief's examples
            (45 * S, "45s"),
            (130 * S, "2m10s"),
            (5 * M, "5m"),
        ];
        for (ms, want) in cases {
            assert_eq!(human_duration_ms(*ms), *want, "{ms}ms");
        }
    }

    #[test]
    fn rfc3339_round_trip() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2024-05-01T12:00:00Z"),
            Some(1_714_564_800_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-05-01T12:00:00.250Z"),
            Some(1_714_564_800_250)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-05-01T14:00:00+02:00"),
            Some(1_714_564_800_000)
        );
        assert_eq!(parse_rfc3339_ms("2024-05-01"), None);
        assert_eq!(parse_rfc3339_ms("garbage-but-long-enough"), None);
        assert_eq!(format_rfc3339(1_714_564_800_999), "2024-05-01T12:00:00Z");
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn rfc3339_parse_edge_cases() {
        let p = parse_rfc3339_ms;
        // Before 1970; sub-millisecond fractions round down, as before.
        assert_eq!(p("1969-12-31T23:59:59Z"), Some(-1000));
        assert_eq!(p("1969-12-31T23:59:59.9995Z"), Some(-1));
        assert_eq!(p("1900-01-01T00:00:00Z"), Some(-2_208_988_800_000));
        assert_eq!(p("0000-01-01T00:00:00Z"), Some(-62_167_219_200_000));
        // Leap years: 2000 and 2024 have a 29 February, 1900 and 2023 do not.
        assert_eq!(p("2000-02-29T00:00:00Z"), Some(951_782_400_000));
        assert_eq!(p("2024-02-29T00:00:00Z"), Some(1_709_164_800_000));
        assert_eq!(p("2023-02-29T00:00:00Z"), None);
        assert_eq!(p("1900-02-29T00:00:00Z"), None);
        assert_eq!(p("2024-04-31T00:00:00Z"), None);
        // Offsets, `-00:00` included; lowercase `t`/`z` and a space separator (RFC 3339 §5.6).
        assert_eq!(p("2024-05-01T12:00:00-00:00"), Some(1_714_564_800_000));
        assert_eq!(p("2024-05-01T06:30:00-05:30"), Some(1_714_564_800_000));
        assert_eq!(p("2024-05-02T11:59:00+23:59"), Some(1_714_564_800_000));
        assert_eq!(p("2024-05-01t12:00:00z"), Some(1_714_564_800_000));
        assert_eq!(p("2024-05-01 12:00:00Z"), Some(1_714_564_800_000));
        // Fractions of any length, truncated to milliseconds.
        assert_eq!(p("2024-05-01T12:00:00.1Z"), Some(1_714_564_800_100));
        assert_eq!(
            p("2024-05-01T12:00:00.999999999999Z"),
            Some(1_714_564_800_999)
        );
        assert_eq!(
            p("2024-05-01T14:00:00.123456789012+02:00"),
            Some(1_714_564_800_123)
        );
        // A leap second is the next second.
        assert_eq!(p("2016-12-31T23:59:60Z"), Some(1_483_228_800_000));
        assert_eq!(p("2016-12-31T23:59:60.5Z"), Some(1_483_228_800_500));
        // Rejected: other ISO 8601/Temporal forms and out-of-range fields.
        for bad in [
            "",
            "2024-05-01T12:00Z",
            "2024-05-01T12:00:00",
            "2024-05-01T12:00:00.Z",
            "2024-05-01T12:00:00,5Z",
            "2024-05-01T12:00:00+0200",
            "2024-05-01T12:00:00+02",
            "2024-05-01T12:00:00+02:00:00",
            "2024-05-01T12:00:00Z[UTC]",
            "2024-05-01T12:00:00ZZ",
            "2024-05-01X12:00:00Z",
            "20240501T120000Z",
            "+002024-05-01T12:00:00Z",
            "2024-5-01T12:00:00Z",
            "2024-13-01T12:00:00Z",
            "2024-00-01T12:00:00Z",
            "2024-05-00T12:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:60:00Z",
            "2024-05-01T12:00:61Z",
            "2024-05-01T12:00:00+05:60",
            "2024-05-01T12:00:00+26:00",
            "２０２４-05-01T12:00:00Z",
        ] {
            assert_eq!(p(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn rfc3339_format_edge_cases() {
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(format_rfc3339(-1000), "1969-12-31T23:59:59Z");
        assert_eq!(format_rfc3339(-1001), "1969-12-31T23:59:58Z");
        assert_eq!(format_rfc3339(-2_208_988_800_000), "1900-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1_709_164_800_000), "2024-02-29T00:00:00Z");
        assert_eq!(format_rfc3339(1_483_228_799_999), "2016-12-31T23:59:59Z");
        assert_eq!(format_rfc3339(-62_167_219_200_000), "0000-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(i64::MAX), "9999-12-30T22:00:00Z");
        assert_eq!(format_rfc3339(i64::MIN), "-9999-01-02T01:59:59Z");
        for ms in [0, 951_782_400_000, 1_714_564_800_000, -2_208_988_800_000] {
            assert_eq!(parse_rfc3339_ms(&format_rfc3339(ms)), Some(ms));
        }
    }
}
