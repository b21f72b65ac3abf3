//! Go-style durations: `90s`, `5m`, `24h`, `1h30m`, `250ms`, `1.5h`.
//!
//! The grammar follows Go's `time.ParseDuration` (which Kubernetes flags and Karpenter fields
//! use): a sequence of decimal numbers, each with an optional fraction and a unit among
//! `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`. kscale keeps millisecond resolution, so values are
//! rounded up to the next millisecond. Negative durations are rejected: scenarios never need them.

/// Parses a Go-style duration into milliseconds.
///
/// A bare `0` is accepted, as in Go. Errors name the offending text.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if t == "0" {
        return Ok(0);
    }
    if t.starts_with('-') {
        return Err(format!(
            "invalid duration {s:?}: negative durations are not allowed"
        ));
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    let bytes = t.as_bytes();
    let mut i = 0;
    // Total in nanoseconds, as u128 to avoid overflow on long inputs.
    let mut total_ns: u128 = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let int_part = &t[start..i];
        let mut frac_part = "";
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            let fs = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            frac_part = &t[fs..i];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(format!(
                "invalid duration {s:?}: expected a number at {:?} (examples: 90s, 5m, 1h30m)",
                &t[start..]
            ));
        }
        let us = i;
        while i < bytes.len() && !bytes[i].is_ascii_digit() && bytes[i] != b'.' {
            i += 1;
        }
        let unit = &t[us..i];
        let unit_ns: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => {
                return Err(format!(
                    "invalid duration {s:?}: missing unit (use ms, s, m or h, e.g. 30s)"
                ));
            }
            other => {
                return Err(format!(
                    "invalid duration {s:?}: unknown unit {other:?} (use ns, us, ms, s, m or h)"
                ));
            }
        };
        let ip: u128 = if int_part.is_empty() {
            0
        } else {
            int_part
                .parse()
                .map_err(|_| format!("invalid duration {s:?}: number too large"))?
        };
        let mut v = ip
            .checked_mul(unit_ns)
            .ok_or_else(|| format!("invalid duration {s:?}: too large"))?;
        if !frac_part.is_empty() {
            let digits = &frac_part[..frac_part.len().min(18)];
            let f: u128 = digits.parse().unwrap_or(0);
            let scale = 10u128.pow(digits.len() as u32);
            v += (f * unit_ns).div_ceil(scale);
        }
        total_ns = total_ns
            .checked_add(v)
            .ok_or_else(|| format!("invalid duration {s:?}: too large"))?;
    }
    let ms = total_ns.div_ceil(1_000_000);
    u64::try_from(ms).map_err(|_| format!("invalid duration {s:?}: too large"))
}

/// Formats milliseconds as a compact Go-style duration (`1h2m3.5s`, `500ms`, `0s`).
pub fn format_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let h = ms / 3_600_000;
    let m = (ms / 60_000) % 60;
    let s = (ms / 1000) % 60;
    let frac = ms % 1000;
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if frac == 0 {
        out.push_str(&format!("{s}s"));
    } else {
        let f = format!("{frac:03}");
        out.push_str(&format!("{s}.{}s", f.trim_end_matches('0')));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scenario_examples() {
        assert_eq!(parse_duration("90s"), Ok(90_000));
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert_eq!(parse_duration("24h"), Ok(86_400_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration("1.5h"), Ok(5_400_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("1us"), Ok(1), "rounded up to a millisecond");
    }

    #[test]
    fn rejects_bad_durations() {
        assert!(parse_duration("").unwrap_err().contains("empty"));
        assert!(parse_duration("10").unwrap_err().contains("missing unit"));
        assert!(parse_duration("10d").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("-5s").unwrap_err().contains("negative"));
        assert!(parse_duration("abc").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for ms in [
            0u64, 5, 999, 1000, 1500, 60_000, 90_000, 3_600_000, 5_400_000, 86_399_999,
        ] {
            assert_eq!(parse_duration(&format_duration(ms)), Ok(ms), "{ms}");
        }
        assert_eq!(format_duration(5_400_000), "1h30m0s");
    }
}
