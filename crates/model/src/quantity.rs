//! Kubernetes resource quantities, parsed exactly as the API server parses them.
//!
//! Grammar (k8s.io/apimachinery/pkg/api/resource/quantity.go):
//! `<sign><digits>[.<digits>]<suffix>` where the suffix is a binary SI suffix
//! (`Ki Mi Gi Ti Pi Ei`), a decimal SI suffix (`n u m "" k M G T P E`) or a decimal exponent
//! (`e3`, `E-2`). Values are held exactly in nano-units (`i128`), so `750m`, `1`, `500Mi`,
//! `4G`, `1.5` and `2e3` all convert without floating-point error. Like upstream's
//! `MilliValue()`/`Value()`, [`Quantity::milli`] and [`Quantity::value`] round up.

use std::fmt;

/// Error returned for a malformed or out-of-range quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid quantity {input:?}: {reason}")]
pub struct QuantityError {
    /// The text that failed to parse.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

/// An exact resource quantity in nano-units (1 = 10⁻⁹ of the base unit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Quantity {
    nanos: i128,
}

const NANO: i128 = 1_000_000_000;

impl Quantity {
    /// Parses a quantity string such as `750m`, `500Mi`, `1.5`, `2e3`.
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        let err = |reason: &str| QuantityError {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let t = s.trim();
        if t.is_empty() {
            return Err(err("empty quantity"));
        }
        let bytes = t.as_bytes();
        let mut i = 0;
        let mut negative = false;
        if bytes[0] == b'+' || bytes[0] == b'-' {
            negative = bytes[0] == b'-';
            i = 1;
        }
        let int_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let int_digits = &t[int_start..i];
        let mut frac_digits = "";
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            let fs = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            frac_digits = &t[fs..i];
        }
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(err(
                "expected a number (examples: 750m, 1, 500Mi, 4G, 1.5, 2e3)",
            ));
        }
        let suffix = &t[i..];
        // Mantissa as an integer M with `f` fraction digits: value = M * 10^-f * multiplier.
        let all_digits = format!("{int_digits}{frac_digits}");
        let all_digits = all_digits.trim_start_matches('0');
        if all_digits.len() > 36 {
            return Err(err("too many digits"));
        }
        let mantissa: i128 = if all_digits.is_empty() {
            0
        } else {
            all_digits.parse().map_err(|_| err("too many digits"))?
        };
        let f = frac_digits.len() as i32;
        // (binary power of 1024, decimal exponent)
        let (pow1024, exp10): (u32, i32) = match suffix {
            "" => (0, 0),
            "n" => (0, -9),
            "u" => (0, -6),
            "m" => (0, -3),
            "k" => (0, 3),
            "M" => (0, 6),
            "G" => (0, 9),
            "T" => (0, 12),
            "P" => (0, 15),
            "E" => (0, 18),
            "Ki" => (1, 0),
            "Mi" => (2, 0),
            "Gi" => (3, 0),
            "Ti" => (4, 0),
            "Pi" => (5, 0),
            "Ei" => (6, 0),
            s if (s.starts_with('e') || s.starts_with('E')) && s.len() > 1 => {
                let e = &s[1..];
                let ok = e
                    .trim_start_matches(['+', '-'])
                    .chars()
                    .all(|c| c.is_ascii_digit())
                    && !e.trim_start_matches(['+', '-']).is_empty()
                    && e.chars().filter(|c| *c == '+' || *c == '-').count() <= 1;
                if !ok {
                    return Err(err("invalid exponent"));
                }
                let v: i32 = e.parse().map_err(|_| err("exponent out of range"))?;
                if !(-40..=40).contains(&v) {
                    return Err(err("exponent out of range"));
                }
                (0, v)
            }
            _ => {
                return Err(err(
                    "unknown suffix (use n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent like e3)",
                ));
            }
        };
        let too_large = || err("value too large");
        let mut v = mantissa
            .checked_mul(1i128 << (10 * pow1024))
            .ok_or_else(too_large)?;
        // Scale to nano-units: multiply by 10^(exp10 + 9 - f).
        let shift = exp10 + 9 - f;
        if shift >= 0 {
            let m = 10i128.checked_pow(shift as u32).ok_or_else(too_large)?;
            v = v.checked_mul(m).ok_or_else(too_large)?;
        } else {
            let d = 10i128.checked_pow((-shift) as u32).ok_or_else(too_large)?;
            // Upstream rounds values below nano precision up (away from zero for positives).
            v = (v + d - 1) / d;
        }
        if negative {
            v = -v;
        }
        Ok(Quantity { nanos: v })
    }

    /// A quantity from whole milli-units (e.g. `Quantity::from_milli(750)` = `750m`).
    pub fn from_milli(m: i64) -> Self {
        Quantity {
            nanos: m as i128 * 1_000_000,
        }
    }

    /// A quantity from whole base units (e.g. bytes, cores).
    pub fn from_value(v: i64) -> Self {
        Quantity {
            nanos: v as i128 * NANO,
        }
    }

    /// Value in milli-units, rounded up (upstream `MilliValue()`), saturating at `i64` bounds.
    pub fn milli(&self) -> i64 {
        let v = div_ceil(self.nanos, 1_000_000);
        v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }

    /// Value in base units, rounded up (upstream `Value()`), saturating at `i64` bounds.
    pub fn value(&self) -> i64 {
        let v = div_ceil(self.nanos, NANO);
        v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }

    /// Exact value in nano-units.
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    /// The value as a float in base units (for reports only).
    pub fn as_f64(&self) -> f64 {
        self.nanos as f64 / NANO as f64
    }

    /// True if the quantity is below zero.
    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }
}

fn div_ceil(a: i128, b: i128) -> i128 {
    let q = a / b;
    if a % b != 0 && a > 0 { q + 1 } else { q }
}

impl fmt::Display for Quantity {
    /// Canonical-ish rendering: milli-units when fractional, else base units.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos % NANO == 0 {
            write!(f, "{}", self.nanos / NANO)
        } else if self.nanos % 1_000_000 == 0 {
            write!(f, "{}m", self.nanos / 1_000_000)
        } else {
            write!(f, "{}n", self.nanos)
        }
    }
}

/// Renders a CPU amount in milli-cores the way kubectl prints it (`1`, `750m`).
pub fn format_cpu_milli(m: i64) -> String {
    if m % 1000 == 0 {
        format!("{}", m / 1000)
    } else {
        format!("{m}m")
    }
}

/// Renders a milli-value as a canonical DecimalSI quantity, as
/// `resource.NewMilliQuantity(m, DecimalSI).String()` does (`6667m`, `20`, `1500`, `20k`).
pub fn format_decimal_milli(m: i64) -> String {
    if m % 1000 != 0 {
        return format!("{m}m");
    }
    let v = m / 1000;
    if v == 0 {
        return "0".into();
    }
    for (suffix, unit) in [
        ("E", 1_000_000_000_000_000_000i64),
        ("P", 1_000_000_000_000_000),
        ("T", 1_000_000_000_000),
        ("G", 1_000_000_000),
        ("M", 1_000_000),
        ("k", 1_000),
    ] {
        if v % unit == 0 {
            return format!("{}{suffix}", v / unit);
        }
    }
    format!("{v}")
}

/// Renders a milli-value as `resource.NewMilliQuantity(m, BinarySI).String()` does: whole
/// values of at least 1024 with the largest exact binary suffix (`102537Ki`), others as
/// DecimalSI (`512`, `2500m`).
pub fn format_binary_milli(m: i64) -> String {
    if m % 1000 != 0 || (m / 1000).abs() < 1024 {
        return format_decimal_milli(m);
    }
    format_bytes(m / 1000)
}

/// Renders a byte count with the largest exact binary suffix (`500Mi`, `2Gi`, `1536Ki`, `123`).
pub fn format_bytes(b: i64) -> String {
    for (suffix, shift) in [
        ("Ei", 60),
        ("Pi", 50),
        ("Ti", 40),
        ("Gi", 30),
        ("Mi", 20),
        ("Ki", 10),
    ] {
        let unit = 1i64 << shift;
        if b != 0 && b % unit == 0 {
            return format!("{}{suffix}", b / unit);
        }
    }
    format!("{b}")
}

/// A quantity from JSON: a string (`"500m"`) or a number (`2`); anything else, or a string
/// that does not parse, is `None`.
pub fn from_json(v: Option<&serde_json::Value>) -> Option<Quantity> {
    match v? {
        serde_json::Value::String(s) => Quantity::parse(s).ok(),
        serde_json::Value::Number(n) => Quantity::parse(&n.to_string()).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_milli_is_canonical() {
        for (m, s) in [
            (104_997_888_000, "102537Ki"),
            (104_999_947_018, "104999947018m"),
            (512_000, "512"),
            (1_000_000, "1k"),
            (1_048_576_000, "1Mi"),
            (1_048_577_000, "1048577"),
        ] {
            assert_eq!(format_binary_milli(m), s, "{m}");
        }
    }

    #[test]
    fn decimal_milli_is_canonical() {
        for (m, s) in [
            (6667, "6667m"),
            (20000, "20"),
            (1_500_000, "1500"),
            (20_000_000, "20k"),
            (0, "0"),
            (-500, "-500m"),
        ] {
            assert_eq!(format_decimal_milli(m), s);
        }
    }
    use proptest::prelude::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    #[test]
    fn issue_examples() {
        assert_eq!(q("750m").milli(), 750);
        assert_eq!(q("1").milli(), 1000);
        assert_eq!(q("500Mi").value(), 500 * 1024 * 1024);
        assert_eq!(q("4G").value(), 4_000_000_000);
        assert_eq!(q("1.5").milli(), 1500);
        assert_eq!(q("2e3").value(), 2000);
    }

    #[test]
    fn upstream_style_cases() {
        // Cases from apimachinery quantity_test.go (TestQuantityParse), re-derived by hand.
        assert_eq!(q("0").nanos(), 0);
        assert_eq!(q("1Ki").value(), 1024);
        assert_eq!(q("1.5Gi").value(), 1_610_612_736);
        assert_eq!(q("100m").milli(), 100);
        assert_eq!(q("0.1").milli(), 100);
        assert_eq!(q(".5").milli(), 500);
        assert_eq!(q("5.").value(), 5);
        assert_eq!(q("1E").value(), 1_000_000_000_000_000_000);
        assert_eq!(
            q("1E3").value(),
            1000,
            "E followed by digits is an exponent"
        );
        assert_eq!(q("1e-3").milli(), 1);
        assert_eq!(q("-1").milli(), -1000);
        assert_eq!(q("+2k").value(), 2000);
        assert_eq!(q("100n").nanos(), 100);
        assert_eq!(q("1u").nanos(), 1000);
        // MilliValue rounds up, like upstream.
        assert_eq!(q("1n").milli(), 1);
        assert_eq!(q("1500u").milli(), 2);
        assert_eq!(
            q("0.0000000001").nanos(),
            1,
            "sub-nano values round up to 1n"
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "", "abc", "1.2.3", "1Zi", "1 m", "m", "--1", "1e", "1e+", "1ee3", "1ki",
        ] {
            let e = Quantity::parse(bad).unwrap_err();
            assert_eq!(e.input, bad);
            assert!(!e.reason.is_empty());
        }
        assert!(Quantity::parse("99999999999999999999999999999999Ei").is_err());
    }

    #[test]
    fn formatting() {
        assert_eq!(format_cpu_milli(1000), "1");
        assert_eq!(format_cpu_milli(750), "750m");
        assert_eq!(format_bytes(500 * 1024 * 1024), "500Mi");
        assert_eq!(format_bytes(2 << 30), "2Gi");
        assert_eq!(format_bytes(1000), "1000");
        assert_eq!(q("750m").to_string(), "750m");
        assert_eq!(q("2").to_string(), "2");
    }

    proptest! {
        #[test]
        fn milli_suffix_round_trips(m in 0i64..10_000_000_000) {
            prop_assert_eq!(q(&format!("{m}m")).milli(), m);
        }

        #[test]
        fn binary_suffixes_are_exact(v in 0i64..1_000_000, k in 1u32..4) {
            let suffix = ["Ki", "Mi", "Gi"][(k - 1) as usize];
            prop_assert_eq!(q(&format!("{v}{suffix}")).value(), v << (10 * k));
        }

        #[test]
        fn decimal_and_exponent_agree(v in 0i64..1_000_000) {
            prop_assert_eq!(q(&format!("{v}k")), q(&format!("{v}e3")));
            prop_assert_eq!(q(&format!("{v}M")), q(&format!("{v}e6")));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,20}") {
            let _ = Quantity::parse(&s);
        }
    }
}
