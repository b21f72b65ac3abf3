//! Flag machinery (pflag-like): the flags of each verb and typed access to their values.

use crate::error::{ErrorKind, KubectlError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FlagType {
    Bool,
    Str,
    /// Go `int` (64-bit).
    Int,
    /// Go `int32`.
    Int32,
    /// Repeatable string flag (`-f a -f b`, also `-f a,b`).
    StrList,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct FlagDef {
    long: &'static str,
    short: Option<char>,
    ty: FlagType,
}

const fn flag(long: &'static str, short: Option<char>, ty: FlagType) -> FlagDef {
    FlagDef { long, short, ty }
}

pub(super) const GLOBAL_FLAGS: &[FlagDef] = &[
    flag("namespace", Some('n'), FlagType::Str),
    flag("all-namespaces", Some('A'), FlagType::Bool),
    flag("output", Some('o'), FlagType::Str),
    flag("selector", Some('l'), FlagType::Str),
];

const FILE_FLAGS: &[FlagDef] = &[
    flag("filename", Some('f'), FlagType::StrList),
    flag("recursive", Some('R'), FlagType::Bool),
];

const FLAGS_CREATE: &[FlagDef] = &[
    flag("filename", Some('f'), FlagType::StrList),
    flag("recursive", Some('R'), FlagType::Bool),
    flag("image", None, FlagType::StrList),
    flag("replicas", Some('r'), FlagType::Int32),
];
const FLAGS_DELETE: &[FlagDef] = &[
    flag("filename", Some('f'), FlagType::StrList),
    flag("recursive", Some('R'), FlagType::Bool),
    flag("all", None, FlagType::Bool),
    flag("grace-period", None, FlagType::Int),
    flag("now", None, FlagType::Bool),
    flag("force", None, FlagType::Bool),
    flag("ignore-not-found", None, FlagType::Bool),
    flag("wait", None, FlagType::Bool),
];
const FLAGS_SCALE: &[FlagDef] = &[
    flag("replicas", None, FlagType::Int),
    flag("current-replicas", None, FlagType::Int),
];
const FLAGS_AUTOSCALE: &[FlagDef] = &[
    flag("min", None, FlagType::Int32),
    flag("max", None, FlagType::Int32),
    flag("cpu-percent", None, FlagType::Int32),
    flag("name", None, FlagType::Str),
];
const FLAGS_PATCH: &[FlagDef] = &[
    flag("patch", Some('p'), FlagType::Str),
    flag("type", None, FlagType::Str),
];
const FLAGS_GET: &[FlagDef] = &[
    flag("field-selector", None, FlagType::Str),
    flag("watch", Some('w'), FlagType::Bool),
    flag("watch-only", None, FlagType::Bool),
];
const FLAGS_LABEL: &[FlagDef] = &[
    flag("overwrite", None, FlagType::Bool),
    flag("all", None, FlagType::Bool),
];
const FLAGS_DRAIN: &[FlagDef] = &[
    flag("ignore-daemonsets", None, FlagType::Bool),
    flag("delete-emptydir-data", None, FlagType::Bool),
    flag("delete-local-data", None, FlagType::Bool),
    flag("force", None, FlagType::Bool),
    flag("grace-period", None, FlagType::Int),
    flag("disable-eviction", None, FlagType::Bool),
    flag("timeout", None, FlagType::Str),
];

pub(super) fn verb_flags(verb: &str) -> &'static [FlagDef] {
    match verb {
        "apply" => FILE_FLAGS,
        "create" => FLAGS_CREATE,
        "delete" => FLAGS_DELETE,
        "scale" => FLAGS_SCALE,
        "autoscale" => FLAGS_AUTOSCALE,
        "patch" => FLAGS_PATCH,
        "get" => FLAGS_GET,
        "label" | "annotate" | "taint" => FLAGS_LABEL,
        "drain" => FLAGS_DRAIN,
        _ => &[],
    }
}

#[derive(Debug, Default)]
pub(super) struct RawFlags {
    /// (long name, raw value) in command-line order.
    pub(super) values: Vec<(&'static str, String)>,
}

impl RawFlags {
    pub(super) fn has(&self, long: &str) -> bool {
        self.values.iter().any(|(l, _)| *l == long)
    }
    pub(super) fn last(&self, long: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(l, _)| *l == long)
            .map(|(_, v)| v.as_str())
    }
    pub(super) fn all(&self, long: &str) -> Vec<String> {
        self.values
            .iter()
            .filter(|(l, _)| *l == long)
            .flat_map(|(_, v)| v.split(',').map(str::to_string).collect::<Vec<_>>())
            .collect()
    }
}

fn find_long<'a>(specs: &[&'a [FlagDef]], name: &str) -> Option<&'a FlagDef> {
    specs.iter().flat_map(|s| s.iter()).find(|f| f.long == name)
}

fn find_short<'a>(specs: &[&'a [FlagDef]], c: char) -> Option<&'a FlagDef> {
    specs
        .iter()
        .flat_map(|s| s.iter())
        .find(|f| f.short == Some(c))
}

fn flag_display(def: &FlagDef) -> String {
    match def.short {
        Some(c) => format!("-{c}, --{}", def.long),
        None => format!("--{}", def.long),
    }
}

/// Parses one flag token at `words[*i]`, appending to `raw`. Returns `Ok(false)` if the
/// token is not a flag.
pub(super) fn parse_flag_token(
    words: &[String],
    i: &mut usize,
    specs: &[&'static [FlagDef]],
    raw: &mut RawFlags,
) -> Result<bool> {
    let word = &words[*i];
    if let Some(body) = word.strip_prefix("--") {
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let def = find_long(specs, name).ok_or_else(|| {
            KubectlError::new(ErrorKind::UnknownFlag, format!("unknown flag: --{name}"))
        })?;
        let value = match (def.ty, inline) {
            (_, Some(v)) => v,
            (FlagType::Bool, None) => "true".to_string(),
            (_, None) => {
                if *i + 1 < words.len() {
                    *i += 1;
                    words[*i].clone()
                } else {
                    return Err(KubectlError::new(
                        ErrorKind::MissingFlagValue,
                        format!("flag needs an argument: --{name}"),
                    ));
                }
            }
        };
        raw.values.push((def.long, value));
        *i += 1;
        return Ok(true);
    }
    if word.len() > 1 && word.starts_with('-') {
        let shorts: Vec<char> = word[1..].chars().collect();
        let mut j = 0;
        while j < shorts.len() {
            let c = shorts[j];
            let def = find_short(specs, c).ok_or_else(|| {
                KubectlError::new(
                    ErrorKind::UnknownFlag,
                    format!("unknown shorthand flag: '{c}' in {word}"),
                )
            })?;
            let rest: String = shorts[j + 1..].iter().collect();
            if def.ty == FlagType::Bool {
                if let Some(v) = rest.strip_prefix('=') {
                    raw.values.push((def.long, v.to_string()));
                    break;
                }
                raw.values.push((def.long, "true".to_string()));
                j += 1;
                continue;
            }
            let value = if let Some(v) = rest.strip_prefix('=') {
                v.to_string()
            } else if !rest.is_empty() {
                rest
            } else if *i + 1 < words.len() {
                *i += 1;
                words[*i].clone()
            } else {
                return Err(KubectlError::new(
                    ErrorKind::MissingFlagValue,
                    format!("flag needs an argument: '{c}' in -{c}"),
                ));
            };
            raw.values.push((def.long, value));
            break;
        }
        *i += 1;
        return Ok(true);
    }
    Ok(false)
}

/// Parses an integer as Go's `strconv.ParseInt(s, 0, bits)` does (sign, `0x`/`0o`/`0b`/
/// leading-`0` octal prefixes, `_` separators), with Go's error text.
fn parse_go_int(s: &str, bits: u32) -> std::result::Result<i64, String> {
    let syntax = || format!("strconv.ParseInt: parsing {}: invalid syntax", go_quote(s));
    let range = || {
        format!(
            "strconv.ParseInt: parsing {}: value out of range",
            go_quote(s)
        )
    };
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return Err(syntax());
    }
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string(), true)
    } else {
        (10, lower.clone(), false)
    };
    // With base 0 (which pflag uses) Go allows `_` separators only after a base prefix
    // (`0x_1F`, `0_7`), never doubled or trailing.
    if digits.contains('_') {
        if !prefixed && radix == 10 {
            return Err(syntax());
        }
        if digits.ends_with('_') || digits.contains("__") {
            return Err(syntax());
        }
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if clean.is_empty() {
        return Err(syntax());
    }
    let mut value: u128 = 0;
    for c in clean.chars() {
        let d = c.to_digit(radix).ok_or_else(syntax)?;
        value = value
            .saturating_mul(radix as u128)
            .saturating_add(d as u128);
    }
    let limit: u128 = 1u128 << (bits - 1);
    if (!neg && value >= limit) || (neg && value > limit) {
        return Err(range());
    }
    let v = value as i128;
    Ok(if neg { -v } else { v } as i64)
}

/// Parses a boolean as Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> std::result::Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {}: invalid syntax",
            go_quote(s)
        )),
    }
}

/// Go's `%q` for the strings we meet (ASCII escapes only).
pub(super) fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

/// Typed access to the raw flags of one command.
pub(super) struct Flags<'a> {
    pub(super) raw: &'a RawFlags,
    pub(super) specs: Vec<&'static [FlagDef]>,
}

impl Flags<'_> {
    pub(super) fn def(&self, long: &str) -> FlagDef {
        *find_long(&self.specs, long).expect("flag defined")
    }

    pub(super) fn invalid(&self, long: &str, value: &str, why: String) -> KubectlError {
        KubectlError::new(
            ErrorKind::InvalidFlagValue,
            format!(
                "invalid argument {} for \"{}\" flag: {why}",
                go_quote(value),
                flag_display(&self.def(long))
            ),
        )
    }

    pub(super) fn bool(&self, long: &str) -> Result<bool> {
        match self.raw.last(long) {
            None => Ok(false),
            Some(v) => parse_go_bool(v).map_err(|e| self.invalid(long, v, e)),
        }
    }

    pub(super) fn int(&self, long: &str) -> Result<Option<i64>> {
        let bits = if self.def(long).ty == FlagType::Int32 {
            32
        } else {
            64
        };
        match self.raw.last(long) {
            None => Ok(None),
            Some(v) => parse_go_int(v, bits)
                .map(Some)
                .map_err(|e| self.invalid(long, v, e)),
        }
    }

    pub(super) fn string(&self, long: &str) -> Option<String> {
        self.raw.last(long).map(str::to_string)
    }

    pub(super) fn list(&self, long: &str) -> Vec<String> {
        self.raw.all(long)
    }

    pub(super) fn has(&self, long: &str) -> bool {
        self.raw.has(long)
    }

    /// Checks that every given flag is among `allowed` (or global); kubectl's sub-commands
    /// have narrower flag sets than the union we parse with.
    pub(super) fn only(&self, allowed: &[&str]) -> Result<()> {
        for (long, _) in &self.raw.values {
            if GLOBAL_FLAGS.iter().any(|g| g.long == *long) || allowed.contains(long) {
                continue;
            }
            return Err(KubectlError::new(
                ErrorKind::UnknownFlag,
                format!("unknown flag: --{long}"),
            ));
        }
        Ok(())
    }

    pub(super) fn required(&self, long: &str) -> Result<()> {
        if self.has(long) {
            Ok(())
        } else {
            Err(KubectlError::new(
                ErrorKind::RequiredFlag,
                format!("required flag(s) \"{long}\" not set"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_int_parsing() {
        assert_eq!(parse_go_int("42", 64), Ok(42));
        assert_eq!(parse_go_int("-7", 64), Ok(-7));
        assert_eq!(parse_go_int("+7", 64), Ok(7));
        assert_eq!(parse_go_int("010", 64), Ok(8));
        assert_eq!(parse_go_int("0b101", 64), Ok(5));
        assert_eq!(parse_go_int("0o17", 64), Ok(15));
        assert_eq!(parse_go_int("0x_1F", 64), Ok(31));
        assert_eq!(parse_go_int("0", 64), Ok(0));
        assert_eq!(parse_go_int("2147483647", 32), Ok(i32::MAX as i64));
        assert_eq!(parse_go_int("-2147483648", 32), Ok(i32::MIN as i64));
        assert!(
            parse_go_int("2147483648", 32)
                .unwrap_err()
                .ends_with("value out of range")
        );
        assert!(
            parse_go_int("1_000", 64)
                .unwrap_err()
                .ends_with("invalid syntax")
        );
        assert!(
            parse_go_int("", 64)
                .unwrap_err()
                .ends_with("invalid syntax")
        );
        assert!(
            parse_go_int("-", 64)
                .unwrap_err()
                .ends_with("invalid syntax")
        );
        assert!(
            parse_go_int("09", 64)
                .unwrap_err()
                .ends_with("invalid syntax")
        );
    }
}
