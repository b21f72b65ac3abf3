//! Standard 5-field cron schedules (minute hour day-of-month month day-of-week) in UTC, as
//! Karpenter's disruption budgets use them.
//!
//! Karpenter parses `schedule` with robfig/cron `ParseStandard` (kubernetes-sigs/karpenter:
//! pkg/apis/v1/nodepool.go `Budget.IsActive`, always in UTC): `*`, `?`, lists, ranges, steps,
//! month and weekday names and the descriptors `@yearly`/`@annually`, `@monthly`, `@weekly`,
//! `@daily`/`@midnight`, `@hourly`. As in robfig/cron, when both day fields are restricted a
//! day matches if either does; if one is `*` both must match. Hand-written: the crates.io cron
//! parsers (`cron`, `croner`) need chrono, which the workspace does not otherwise use.

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
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
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

    fn day_matches(&self, d: &Civil) -> bool {
        if self.months & (1 << d.month) == 0 {
            return false;
        }
        let dom = self.dom & (1 << d.day) != 0;
        let dow = self.dow & (1 << d.weekday) != 0;
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// Whether the schedule fires at some minute in `(to - window_ms, to]` (Unix ms, UTC):
    /// Karpenter's `IsActive` — the next hit after `now - duration` is not after `now`.
    pub fn fired_within(&self, to_unix_ms: i64, window_ms: u64) -> bool {
        const MIN: i64 = 60_000;
        let from = to_unix_ms - window_ms as i64; // exclusive
        let mut t = to_unix_ms.div_euclid(MIN) * MIN; // latest whole minute <= to
        while t > from {
            let day_start = t.div_euclid(86_400_000) * 86_400_000;
            let d = civil(t);
            if !self.day_matches(&d) {
                t = day_start - MIN;
                continue;
            }
            let hour = (t - day_start) / 3_600_000;
            if self.hours & (1 << hour) == 0 {
                t = day_start + hour * 3_600_000 - MIN;
                continue;
            }
            let minute = (t - day_start - hour * 3_600_000) / MIN;
            if self.minutes & (1 << minute) != 0 {
                return true;
            }
            t -= MIN;
        }
        false
    }
}

/// A UTC calendar day.
struct Civil {
    month: u32,
    day: u32,
    weekday: u32,
}

/// Calendar date of a Unix time in ms (proleptic Gregorian; Howard Hinnant's
/// `civil_from_days`).
fn civil(unix_ms: i64) -> Civil {
    let days = unix_ms.div_euclid(86_400_000);
    let weekday = (days + 4).rem_euclid(7) as u32; // 1970-01-01 was a Thursday
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    Civil {
        month,
        day,
        weekday,
    }
}

/// Unix ms of a UTC date and time (for tests and callers converting wall-clock times).
pub fn unix_ms(year: i64, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 24 + hour as i64) * 60 + minute as i64) * 60_000 + second as i64 * 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3_600_000;

    #[test]
    fn civil_round_trip() {
        for (y, m, d, wd) in [
            (2000, 6, 15, 4),
            (1970, 1, 1, 4),
            (2024, 1, 7, 0),
            (1000, 1, 1, 3),
        ] {
            let c = civil(unix_ms(y, m, d, 12, 0, 0));
            assert_eq!((c.month, c.day, c.weekday), (m, d, wd), "{y}-{m}-{d}");
        }
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
