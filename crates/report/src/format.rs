//! Deterministic text formatting of times and numbers.

/// Formats virtual seconds as `h:mm:ss` (`0:05:07`, `26:00:00`), truncating fractions of a second.
///
/// Negative times get a leading `-`; non-finite input gives `-:--:--`.
pub fn format_hms(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "-:--:--".to_owned();
    }
    let sign = if seconds <= -1.0 { "-" } else { "" };
    // `as` saturates, so absurdly large times cannot overflow.
    let total = seconds.abs().floor() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    format!("{sign}{h}:{m:02}:{s:02}")
}

/// Formats a number for `timeseries.csv`: never an exponent, the same text for the same value.
///
/// Integral values print without a decimal point (`3`, `-12`, `4294967296`). Other values print
/// with six decimal places, more for magnitudes below 0.1 so that six significant digits survive
/// (at most 20), with trailing zeros trimmed (`0.25`, `1234.567891`, `0.00012346`). Non-finite
/// values (NaN, infinities) give an empty string, i.e. an empty CSV cell. `-0` prints as `0`.
pub fn format_number(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    if v.fract() == 0.0 {
        // Display of an integral f64 never uses an exponent nor a decimal point.
        return if v == 0.0 {
            "0".to_owned()
        } else {
            format!("{v}")
        };
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (5 - magnitude).clamp(6, 20) as usize;
    trim_decimals(format!("{v:.decimals$}"))
}

/// Removes trailing zeros (and a dangling point) of a fixed-point number; `-0` becomes `0`.
fn trim_decimals(mut s: String) -> String {
    if s.contains('.') {
        let keep = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(keep);
    }
    if s == "-0" { "0".to_owned() } else { s }
}

/// Rounds to `digits` significant digits in fixed-point notation, trimmed.
fn significant(v: f64, digits: i32) -> String {
    if v == 0.0 || !v.is_finite() {
        return "0".to_owned();
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).clamp(0, 15) as usize;
    trim_decimals(format!("{v:.decimals$}"))
}

/// Short tick label: four significant digits, `k`/`M`/`G`/`T` suffixes from ten thousand on.
pub(crate) fn axis_label(v: f64) -> String {
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e12 {
        (v / 1e12, "T")
    } else if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    // Ticks like 0.30000000000000004 or 1e-17 (for 0) must read as 0.3 and 0.
    if a < 1e-9 {
        return "0".to_owned();
    }
    format!("{}{suffix}", significant(scaled, 4))
}

/// `12345` → `12,345`.
pub(crate) fn group_thousands(n: usize) -> String {
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

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hms() {
        assert_eq!(format_hms(0.0), "0:00:00");
        assert_eq!(format_hms(59.999), "0:00:59");
        assert_eq!(format_hms(307.0), "0:05:07");
        assert_eq!(format_hms(3600.0 * 26.0), "26:00:00");
        assert_eq!(format_hms(-65.0), "-0:01:05");
        assert_eq!(format_hms(-0.5), "0:00:00");
        assert_eq!(format_hms(f64::NAN), "-:--:--");
    }

    #[test]
    fn numbers() {
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(-12.0), "-12");
        assert_eq!(format_number(4294967296.0), "4294967296");
        assert_eq!(format_number(1e20), "100000000000000000000");
        assert_eq!(format_number(0.25), "0.25");
        assert_eq!(format_number(0.1 + 0.2), "0.3");
        assert_eq!(format_number(1234.5678914), "1234.567891");
        assert_eq!(format_number(2.0 / 3.0), "0.666667");
        assert_eq!(format_number(0.000123456789), "0.000123457");
        assert_eq!(format_number(-1e-7), "-0.0000001");
        assert_eq!(format_number(1e-30), "0");
        assert_eq!(format_number(-1e-30), "0");
        assert_eq!(format_number(f64::NAN), "");
        assert_eq!(format_number(f64::INFINITY), "");
    }

    #[test]
    fn labels() {
        assert_eq!(axis_label(0.1 + 0.2), "0.3");
        assert_eq!(axis_label(1e-17), "0");
        assert_eq!(axis_label(1500.0), "1500");
        assert_eq!(axis_label(25_000.0), "25k");
        assert_eq!(axis_label(34_359_738_368.0), "34.36G");
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(1234567), "1,234,567");
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
