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
    let mut out = Vec::with_capacity(24);
    write_number(&mut out, v);
    // Only ASCII digits, `-` and `.` are written.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends [`format_number`]`(v)` to `out` without allocating (the time series writes millions
/// of cells).
///
/// Fast paths give the same text as the general one (property-tested against it): integral
/// values below 2^53 are printed as the integer they are; values of magnitude 0.1 to 1e13 (six
/// decimals) are rounded to micro-units exactly, half to even like `{:.6}`, in 128-bit integer
/// arithmetic on the value's binary mantissa and exponent.
pub(crate) fn write_number(out: &mut Vec<u8>, v: f64) {
    use std::io::Write as _;
    if !v.is_finite() {
        return;
    }
    let a = v.abs();
    if v.fract() == 0.0 {
        if v == 0.0 {
            out.push(b'0');
        } else if a < TWO_POW_53 {
            // Exact: the integer is the value (Display of an integral f64 prints its digits).
            out.extend_from_slice(itoa::Buffer::new().format(v as i64).as_bytes());
        } else {
            let _ = write!(out, "{v}");
        }
        return;
    }
    if (0.1..1e13).contains(&a) {
        // Six decimals (the magnitude is at least -1): `a` = m · 2^-k exactly, k in 1..=56,
        // and `a` in micro-units below 1e19 fits a `u64`.
        let bits = a.to_bits();
        let exp = ((bits >> 52) & 0x7ff) as i32;
        let m = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
        let k = (1075 - exp) as u32;
        let scaled = u128::from(m) * 1_000_000;
        let mut q = scaled >> k;
        let r = scaled & ((1u128 << k) - 1);
        let half = 1u128 << (k - 1);
        if r > half || (r == half && q & 1 == 1) {
            q += 1;
        }
        let q = q as u64;
        if v < 0.0 {
            out.push(b'-');
        }
        let mut digits = itoa::Buffer::new();
        out.extend_from_slice(digits.format(q / 1_000_000).as_bytes());
        let mut frac = q % 1_000_000;
        if frac != 0 {
            let mut width = 6;
            while frac.is_multiple_of(10) {
                frac /= 10;
                width -= 1;
            }
            out.push(b'.');
            let s = digits.format(frac).as_bytes();
            out.extend(std::iter::repeat_n(b'0', width - s.len()));
            out.extend_from_slice(s);
        }
        return;
    }
    let magnitude = a.log10().floor() as i32;
    let decimals = (5 - magnitude).clamp(6, 20) as usize;
    let start = out.len();
    let _ = write!(out, "{v:.decimals$}");
    // Trim trailing zeros and a dangling point (there is a point: decimals >= 6); `-0` is `0`.
    while out.last() == Some(&b'0') {
        out.pop();
    }
    if out.last() == Some(&b'.') {
        out.pop();
    }
    if &out[start..] == b"-0" {
        out.truncate(start);
        out.push(b'0');
    }
}

/// 2^53: integers below it are exact in an `f64` and in an `i64`.
const TWO_POW_53: f64 = 9_007_199_254_740_992.0;

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

    /// The formatting before the fast paths of [`write_number`].
    fn format_number_reference(v: f64) -> String {
        if !v.is_finite() {
            return String::new();
        }
        if v.fract() == 0.0 {
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

    #[test]
    fn numbers_match_reference_at_edges() {
        let mut cases = vec![
            0.1,
            -0.1,
            0.1 - 1e-17,
            0.099_999_999_999_999_99,
            0.000_000_5,
            0.000_000_500_000_1,
            0.5,
            1.5,
            2.5,
            0.000_000_5 + 1.0,
            1.000_000_5,
            2.000_000_5,
            0.123_456_5,
            0.999_999_5,
            0.999_999_499_999,
            9.999_999_5,
            123_456.999_999_5,
            4_503_599_627_370_495.5,
            9_999_999_999_999.5,
            10_000_000_000_000.5,
            17_592_186_044_415.99,
            4_503_599_627_370_496.0,
            9_007_199_254_740_991.0,
            9_007_199_254_740_992.0,
            9_007_199_254_740_994.0,
            -9_007_199_254_740_994.0,
            1e300,
            -1e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
        ];
        // Exact ties at six decimals: k / 2^n with n <= 6 and odd numerators.
        for n in 0..2000u32 {
            cases.push(f64::from(n) / 64.0 + 0.000_000_5);
            cases.push(f64::from(n) * 0.000_001 + 0.000_000_5);
            cases.push(f64::from(n) / 128.0);
            cases.push(-(f64::from(n) / 1024.0));
        }
        for v in cases {
            assert_eq!(format_number(v), format_number_reference(v), "{v:e}");
        }
    }

    proptest::proptest! {
        #[test]
        fn numbers_match_reference(bits in proptest::prelude::any::<u64>()) {
            let v = f64::from_bits(bits);
            proptest::prop_assert_eq!(format_number(v), format_number_reference(v));
        }

        #[test]
        fn numbers_match_reference_in_range(v in -1e7f64..1e7) {
            proptest::prop_assert_eq!(format_number(v), format_number_reference(v));
            let r = (v * 1000.0).round() / 1000.0;
            proptest::prop_assert_eq!(format_number(r), format_number_reference(r));
            let m = v * 1e-6;
            proptest::prop_assert_eq!(format_number(m), format_number_reference(m));
        }
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
