//! Standard 5-field cron schedules (minute hour day-of-month month day-of-week) in UTC, as
//! Karpenter's disruption budgets use them.
//!
//! Karpenter parses `schedule` with robfig/cron `ParseStandard` (kubernetes-sigs/karpenter:
//! pkg/apis/v1/nodepool.go `Budget.IsActive`, always in UTC): `*`, `?`, lists, ranges, steps,
//! month and weekday names and the descriptors `@yearly`/`@annually`, `@monthly`, `@weekly`,
//! `@daily`/`@midnight`, `@hourly`. As in robfig/cron, when both day fields are restricted a
//! day matches if either does; if one is `*` both must match. The schedule parser is
//! hand-written (the crates.io cron parsers, `cron` and `croner`, need chrono, which the
//! workspace does not otherwise use); the calendar (month, day, weekday) is jiff's.

/// A parsed schedule: one bit per allowed value of each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    dom: u32,
    months: u16,
    dow: u8,
    dom_star: bool,
    dow_star: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn value(s: &str, names: &[&str], base: u32) -> Result<u32, String> {
    let l = s.to_ascii_lowercase();
    if let Some(i) = names.iter().position(|n| *n == l) {
        return Ok(i as u32 + base);
    }
    s.parse::<u32>()
        .map_err(|_| format!("failed to parse int from {s}"))
}

/// Parses one field into a bit set over `min..=max`; returns (bits, star).
fn field(s: &str, min: u32, max: u32, names: &[&str], base: u32) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    let mut star = false;
    for part in s.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, st)) => (
                r,
                Some(
                    st.parse::<u32>()
                        .map_err(|_| format!("failed to parse int from {st}"))?,
                ),
            ),
            None => (part, None),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            if step.unwrap_or(1) == 1 {
                star = true;
            }
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, names, base)?, value(b, names, base)?)
        } else {
            let v = value(range, names, base)?;
            // `N/step` means N to the maximum.
            (v, if step.is_some() { max } else { v })
        };
        let step = step.unwrap_or(1);
        if lo < min {
            return Err(format!(
                "beginning of range ({lo}) below minimum ({min}): {s}"
            ));
        }
        if hi > max {
            return Err(format!("end of range ({hi}) above maximum ({max}): {s}"));
        }
        if lo > hi {
            return Err(format!(
                "beginning of range ({lo}) beyond end of range ({hi}): {s}"
            ));
        }
        if step == 0 {
            return Err(format!("step of range should be a positive number: {s}"));
        }
        // robfig/cron steps with a 64-bit unsigned counter, so a huge step ends the range
        // after its first value instead of wrapping back into it.
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            match v.checked_add(step) {
                Some(next) => v = next,
                None => break,
            }
        }
    }
    Ok((bits, star))
}

impl Cron {
    /// Parses a standard schedule, e.g. `0 9 * * mon-fri` or `@daily`.
    pub fn parse(spec: &str) -> Result<Cron, String> {
        let spec = spec.trim();
        let expanded = match spec {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            s if s.starts_with('@') => return Err(format!("unrecognized descriptor: {s}")),
            s => s,
        };
        let f: Vec<&str> = expanded.split_whitespace().collect();
        if f.len() != 5 {
            return Err(format!(
                "expected exactly 5 fields, found {}: [{}]",
                f.len(),
                f.join(" ")
            ));
        }
        let (minutes, _) = field(f[0], 0, 59, &[], 0)?;
        let (hours, _) = field(f[1], 0, 23, &[], 0)?;
        let (dom, dom_star) = field(f[2], 1, 31, &[], 0)?;
        let (months, _) = field(f[3], 1, 12, &MONTHS, 1)?;
        let (dow, dow_star) = field(f[4], 0, 6, &DAYS, 0)?;
        Ok(Cron {
            minutes,
            hours: hours as u32,
            dom: dom as u32,
            months: months as u16,
            dow: dow as u8,
            dom_star,
            dow_star,
        })
    }

    fn day_matches(&self, d: jiff::civil::Date) -> bool {
        if self.months & (1 << d.month()) == 0 {
            return false;
        }
        let dom = self.dom & (1 << d.day()) != 0;
        let dow = self.dow & (1 << d.weekday().to_sunday_zero_offset()) != 0;
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// Whether the schedule fires at some minute in `(to - window_ms, to]` (Unix ms, UTC):
    /// Karpenter's `IsActive` — the next hit after `now - duration` is not after `now`.
    /// Minutes outside jiff's range (years -9999 to 9999, [`jiff::Timestamp::MIN`] to
    /// [`jiff::Timestamp::MAX`]) never match.
    pub fn fired_within(&self, to_unix_ms: i64, window_ms: u64) -> bool {
        const MIN: i64 = 60_000;
        let from = to_unix_ms - window_ms as i64; // exclusive
        let mut t = to_unix_ms.div_euclid(MIN) * MIN; // latest whole minute <= to
        while t > from {
            let Ok(ts) = jiff::Timestamp::from_millisecond(t) else {
                return false;
            };
            // UTC has no transitions: every day has 24 hours of 60 minutes (jiff ignores
            // leap seconds, as Unix time does).
            let dt = jiff::tz::Offset::UTC.to_datetime(ts);
            let (hour, minute) = (i64::from(dt.hour()), i64::from(dt.minute()));
            if !self.day_matches(dt.date()) {
                t -= (hour * 60 + minute + 1) * MIN; // the previous day's 23:59
                continue;
            }
            if self.hours & (1 << hour) == 0 {
                t -= (minute + 1) * MIN; // the previous hour's :59
                continue;
            }
            if self.minutes & (1 << minute) != 0 {
                return true;
            }
            t -= MIN;
        }
        false
    }
}

/// Unix ms of a UTC date and time (for tests and callers converting wall-clock times).
///
/// # Panics
///
/// If the fields are not a valid date and time (`jiff::civil::DateTime::new`) within jiff's
/// range.
pub fn unix_ms(year: i64, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> i64 {
    let field = |v: u32| i8::try_from(v).unwrap_or(i8::MAX);
    let ts = jiff::civil::DateTime::new(
        i16::try_from(year).unwrap_or(i16::MAX),
        field(month),
        field(day),
        field(hour),
        field(minute),
        field(second),
        0,
    )
    .and_then(|dt| jiff::tz::Offset::UTC.to_timestamp(dt))
    .unwrap_or_else(|e| panic!("unix_ms({year}, {month}, {day}, {hour}, {minute}, {second}): {e}"));
    ts.as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3_600_000;

    #[test]
    fn utc_calendar() {
        assert_eq!(unix_ms(1970, 1, 1, 0, 0, 0), 0);
        assert_eq!(unix_ms(1969, 12, 31, 23, 59, 59), -1000);
        assert_eq!(unix_ms(2000, 2, 29, 0, 0, 0), 951_782_400_000);
        assert_eq!(unix_ms(2024, 5, 1, 12, 0, 0), 1_714_564_800_000);
        assert_eq!(unix_ms(1000, 1, 1, 12, 0, 0), -30_610_180_800_000);
        // Weekday (0 = Sunday), day of month and month of a day, as the schedule sees them.
        for (y, m, d, wd) in [
            (2000, 6, 15, 4),
            (1970, 1, 1, 4),
            (1969, 12, 31, 3),
            (2024, 1, 7, 0),
            (2024, 2, 29, 4),
            (1900, 3, 1, 4),
            (1000, 1, 1, 3),
        ] {
            let noon = unix_ms(y, m, d, 12, 0, 0);
            let fires = |spec: String| Cron::parse(&spec).unwrap().fired_within(noon, 60_000);
            assert!(fires(format!("0 12 * * {wd}")), "{y}-{m}-{d}");
            assert!(!fires(format!("0 12 * * {}", (wd + 1) % 7)), "{y}-{m}-{d}");
            assert!(fires(format!("0 12 {d} {m} *")), "{y}-{m}-{d}");
            assert!(!fires(format!("0 12 {d} {} *", m % 12 + 1)), "{y}-{m}-{d}");
        }
        // A 29 February schedule waits for the next leap year: 2024 has one, 2100 does not.
        let leap = Cron::parse("0 0 29 2 *").unwrap();
        let year = 366 * 24 * H;
        assert!(leap.fired_within(unix_ms(2024, 12, 31, 0, 0, 0), year));
        assert!(!leap.fired_within(unix_ms(2023, 12, 31, 0, 0, 0), year));
        assert!(!leap.fired_within(unix_ms(2100, 12, 31, 0, 0, 0), year));
        // Outside jiff's range nothing fires.
        assert!(!Cron::parse("* * * * *").unwrap().fired_within(i64::MAX, H));
    }

    /// A step beyond the field's range selects only the start (found by fuzzing: the step
    /// counter overflowed and wrapped, making `59/4294967295` fire every minute).
    #[test]
    fn a_huge_step_selects_only_its_start() {
        let c = Cron::parse("59/4294967295 * * * *").unwrap();
        assert_eq!(c.minutes, 1 << 59);
        let c = Cron::parse("0/18446744073709551615 * * * *");
        assert!(c.is_err() || c.unwrap().minutes == 1);
    }

    #[test]
    #[should_panic(expected = "unix_ms(2023, 2, 29, 0, 0, 0)")]
    fn unix_ms_rejects_invalid_dates() {
        unix_ms(2023, 2, 29, 0, 0, 0);
    }

    // The cases of kubernetes-sigs/karpenter pkg/apis/v1/nodepool_budgets_test.go, Context
    // "IsActive" (fake clock 2000-06-15T12:30:30Z unless stated).
    #[test]
    fn upstream_is_active_cases() {
        let now = unix_ms(2000, 6, 15, 12, 30, 30);
        let every = Cron::parse("* * * * *").unwrap();
        // "should return that a schedule is active"
        assert!(every.fired_within(now, H));
        // "should return that a schedule is inactive": @yearly, 1h
        assert!(!Cron::parse("@yearly").unwrap().fired_within(now, H));
        // "should always consider a schedule and time in UTC": 2000-05-31T00:00+01:00 is
        // 2000-05-30T23:00Z; @daily for 30m is inactive.
        let t = unix_ms(2000, 5, 30, 23, 0, 0);
        assert!(!Cron::parse("@daily").unwrap().fired_within(t, H / 2));
        // "... active when the schedule hit is in the middle of the duration": year 1000.
        let t = unix_ms(1000, 1, 1, 12, 0, 0);
        assert!(Cron::parse("@yearly").unwrap().fired_within(t, 24 * H));
        // "... active when the duration is longer than the recurrence"
        let t = unix_ms(2024, 1, 7, 0, 0, 0);
        assert!(Cron::parse("@daily").unwrap().fired_within(t, 48 * H));
        // "... inactive when the schedule hit is after the duration": 30 6 * * SUN, 6h, at
        // Sunday 2024-01-07T00:00Z (last hit was Sunday 2023-12-31T06:30Z).
        assert!(!Cron::parse("30 6 * * SUN").unwrap().fired_within(t, 6 * H));
        // "should return an error indicating why the cron fails to parse"
        assert!(Cron::parse("*").is_err());
    }

    #[test]
    fn fields_ranges_steps_and_day_rule() {
        let c = Cron::parse("0 9 * * mon-fri").unwrap();
        // Monday 2024-01-08 09:00 fires; 8 hours later it is still within an 8h window + 1.
        let mon9 = unix_ms(2024, 1, 8, 9, 0, 0);
        assert!(c.fired_within(mon9, 60_000));
        assert!(!c.fired_within(mon9 - 60_000, 8 * H));
        assert!(c.fired_within(mon9 + 8 * H as i64 - 1, 8 * H));
        assert!(
            !c.fired_within(mon9 + 8 * H as i64, 8 * H),
            "window is half-open"
        );
        // Saturday is not a weekday.
        assert!(!c.fired_within(unix_ms(2024, 1, 13, 9, 30, 0), H));
        // */15 minutes.
        let q = Cron::parse("*/15 * * * *").unwrap();
        assert!(q.fired_within(unix_ms(2024, 1, 8, 10, 45, 5), 60_000));
        assert!(!q.fired_within(unix_ms(2024, 1, 8, 10, 46, 5), 60_000));
        // Both day fields restricted: either matches (1st of the month OR Sunday).
        let d = Cron::parse("0 0 1 * 0").unwrap();
        assert!(d.fired_within(unix_ms(2024, 1, 7, 0, 0, 0), 60_000)); // a Sunday
        assert!(d.fired_within(unix_ms(2024, 2, 1, 0, 0, 0), 60_000)); // a Thursday the 1st
        assert!(!d.fired_within(unix_ms(2024, 2, 2, 0, 0, 0), 60_000));
        assert!(Cron::parse("61 * * * *").is_err());
        assert!(Cron::parse("0 0 * foo *").is_err());
    }
}
