//! Flag machinery (pflag-like): the flags of each verb and typed access to their values.

use crate::error::{ErrorKind, KubectlError, Result};
use kscale_model::goflag::{self, FlagError, FlagKind, FlagSet};

pub(super) use kscale_model::goflag::quote as go_quote;

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
    flag("subresource", None, FlagType::Str),
];
const FLAGS_GET: &[FlagDef] = &[
    flag("field-selector", None, FlagType::Str),
    flag("show-labels", None, FlagType::Bool),
    flag("label-columns", Some('L'), FlagType::StrList),
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

const FLAGS_TOP: &[FlagDef] = &[
    flag("containers", None, FlagType::Bool),
    flag("no-headers", None, FlagType::Bool),
    flag("sort-by", None, FlagType::Str),
    flag("sum", None, FlagType::Bool),
    flag("show-capacity", None, FlagType::Bool),
    flag("show-swap", None, FlagType::Bool),
    flag("use-protocol-buffers", None, FlagType::Bool),
    flag("field-selector", None, FlagType::Str),
];

const FLAGS_ROLLOUT: &[FlagDef] = &[
    flag("watch", Some('w'), FlagType::Bool),
    flag("timeout", None, FlagType::Str),
    flag("revision", None, FlagType::Int),
];

const FLAGS_WAIT: &[FlagDef] = &[
    flag("for", None, FlagType::StrList),
    flag("timeout", None, FlagType::Str),
    flag("all", None, FlagType::Bool),
    flag("field-selector", None, FlagType::Str),
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
        "top" => FLAGS_TOP,
        "rollout" => FLAGS_ROLLOUT,
        "wait" => FLAGS_WAIT,
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

fn flag_display(def: &FlagDef) -> String {
    match def.short {
        Some(c) => format!("-{c}, --{}", def.long),
        None => format!("--{}", def.long),
    }
}

/// The goflag set of `specs` (kubectl normalizes `_` to `-` in flag names, as its
/// `WarnWordSepNormalizeFunc` does).
fn flag_set(specs: &[&[FlagDef]]) -> FlagSet {
    let mut set = FlagSet::new().normalize_word_separators(true);
    for def in specs.iter().flat_map(|s| s.iter()) {
        let kind = if def.ty == FlagType::Bool {
            FlagKind::Bool
        } else {
            FlagKind::Value
        };
        set = set.flag(def.long, def.short, kind);
    }
    set
}

/// A pflag error as kubectl prints it.
pub(super) fn flag_error(e: FlagError) -> KubectlError {
    let kind = match &e {
        // cobra answers `--help` / `-h` with the command's help, which a step cannot show:
        // the twin reports the flag as unknown.
        FlagError::HelpRequested { unknown } => return flag_error((**unknown).clone()),
        FlagError::UnknownFlag { .. }
        | FlagError::UnknownShorthand { .. }
        | FlagError::BadSyntax { .. } => ErrorKind::UnknownFlag,
        FlagError::NeedsArgument { .. } | FlagError::NeedsShorthandArgument { .. } => {
            ErrorKind::MissingFlagValue
        }
        FlagError::InvalidValue { .. } => ErrorKind::InvalidFlagValue,
    };
    KubectlError::new(kind, e.to_string())
}

/// Flags before the verb: only the global ones are known there, and the first positional
/// word ends them. The parse's `args` are the words from the verb on; `None` when `--`
/// comes before any verb. Values are checked later ([`Flags::check_values`]).
pub(super) fn parse_leading_flags(words: &[String]) -> Result<Option<goflag::Parsed>> {
    let parsed = flag_set(&[GLOBAL_FLAGS])
        .interspersed(false)
        .parse_all(words, |_, _| Ok(()))
        .map_err(flag_error)?;
    if parsed.args_len_at_dash.is_some() {
        return Ok(None);
    }
    Ok(Some(parsed))
}

/// Parses the words after the verb with the global and the verb's flags and returns the
/// raw flags (those before the verb first) and the positional arguments. Values are
/// checked later ([`Flags::check_values`]): kubectl's unknown-flag errors come first.
pub(super) fn parse_verb_flags(
    specs: &[&'static [FlagDef]],
    leading: &[(String, String)],
    rest: &[String],
) -> Result<(RawFlags, Vec<String>)> {
    let parsed = flag_set(specs)
        .parse_all(rest, |_, _| Ok(()))
        .map_err(flag_error)?;
    let long = |name: &str| {
        find_long(specs, name)
            .expect("flags come from the specs")
            .long
    };
    let values = leading
        .iter()
        .chain(&parsed.flags)
        .map(|(name, value)| (long(name), value.clone()))
        .collect();
    Ok((RawFlags { values }, parsed.args))
}

/// Typed access to the raw flags of one command.
pub(super) struct Flags<'a> {
    pub(super) raw: &'a RawFlags,
    pub(super) specs: Vec<&'static [FlagDef]>,
}

impl Flags<'_> {
    fn def(&self, long: &str) -> FlagDef {
        *find_long(&self.specs, long).expect("flag defined")
    }

    fn invalid(&self, long: &str, value: &str, cause: goflag::NumError) -> KubectlError {
        flag_error(FlagError::InvalidValue {
            flag: flag_display(&self.def(long)),
            value: value.to_string(),
            cause: cause.to_string(),
        })
    }

    /// A boolean flag's value (`false` when not given).
    pub(super) fn bool(&self, long: &str) -> Result<bool> {
        match self.raw.last(long) {
            None => Ok(false),
            Some(v) => goflag::parse_bool(v).map_err(|e| self.invalid(long, v, e)),
        }
    }

    /// An integer flag's value, if given.
    pub(super) fn int(&self, long: &str) -> Result<Option<i64>> {
        let bits = if self.def(long).ty == FlagType::Int32 {
            32
        } else {
            64
        };
        match self.raw.last(long) {
            None => Ok(None),
            Some(v) => goflag::parse_int(v, bits)
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

    /// Checks every given value against its flag's Go type, in command-line order, as
    /// pflag's `Set` does while it parses (booleans: `strconv.ParseBool`; integers:
    /// `strconv.ParseInt(s, 0, bits)`).
    pub(super) fn check_values(&self) -> Result<()> {
        for (long, value) in &self.raw.values {
            let def = self.def(long);
            let checked = match def.ty {
                FlagType::Bool => goflag::parse_bool(value).map(drop),
                FlagType::Int => goflag::parse_int(value, 64).map(drop),
                FlagType::Int32 => goflag::parse_int(value, 32).map(drop),
                FlagType::Str | FlagType::StrList => Ok(()),
            };
            checked.map_err(|e| self.invalid(long, value, e))?;
        }
        Ok(())
    }

    /// Checks that every given flag is among `allowed` (or global), then checks the values
    /// ([`Flags::check_values`]); kubectl's sub-commands have narrower flag sets than the
    /// union we parse with.
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
        self.check_values()
    }

    /// A Go `time.Duration` flag in milliseconds (negative allowed), pflag's error when it
    /// does not parse.
    pub(super) fn duration_ms(&self, long: &str) -> Result<Option<i64>> {
        let Some(t) = self.string(long) else {
            return Ok(None);
        };
        let (neg, body) = match t.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, t.strip_prefix('+').unwrap_or(&t)),
        };
        match kscale_model::parse_duration(body) {
            Ok(ms) => Ok(Some(if neg { -(ms as i64) } else { ms as i64 })),
            Err(_) => Err(KubectlError::new(
                ErrorKind::InvalidFlagValue,
                format!(
                    "invalid argument {} for \"--{long}\" flag: time: invalid duration {}",
                    go_quote(&t),
                    go_quote(&t)
                ),
            )),
        }
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
    use crate::args::test_support::*;
    use crate::args::*;
    use crate::error::ErrorKind;

    /// Integer and boolean values follow Go's `strconv.ParseInt(s, 0, bits)` and
    /// `strconv.ParseBool`, as pflag's typed flags do.
    #[test]
    fn go_int_and_bool_values() {
        let replicas = |line: &str| match cmd(line) {
            Command::Scale { replicas, .. } => replicas,
            other => panic!("{other:?}"),
        };
        assert_eq!(replicas("scale deploy web --replicas=42"), 42);
        assert_eq!(replicas("scale deploy web --replicas=+7"), 7);
        assert_eq!(replicas("scale deploy web --replicas=010"), 8);
        assert_eq!(replicas("scale deploy web --replicas=0b101"), 5);
        assert_eq!(replicas("scale deploy web --replicas=0o17"), 15);
        assert_eq!(replicas("scale deploy web --replicas=0x_1F"), 31);
        assert_eq!(replicas("scale deploy web --replicas=1_000"), 1000);
        assert_eq!(replicas("scale deploy web --replicas=-7"), -7);
        for bad in ["1__0", "09", "", "-", "0x"] {
            assert_eq!(
                err(&format!("scale deploy web --replicas={bad}")),
                format!(
                    "error: invalid argument {q} for \"--replicas\" flag: strconv.ParseInt: parsing {q}: invalid syntax",
                    q = kscale_model::goflag::quote(bad)
                )
            );
        }
        let max = |line: &str| match cmd(line) {
            Command::Autoscale { max, .. } => max,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            max("autoscale deploy web --max=2147483647"),
            i32::MAX as i64
        );
        assert!(err("autoscale deploy web --max=2147483648").ends_with("value out of range"));
        for (v, want) in [
            ("1", true),
            ("t", true),
            ("T", true),
            ("TRUE", true),
            ("True", true),
        ] {
            assert_eq!(
                p(&format!("get pods -A={v}")).global.all_namespaces,
                want,
                "{v}"
            );
            assert_eq!(
                p(&format!("get pods --all-namespaces={v}"))
                    .global
                    .all_namespaces,
                want
            );
        }
        for v in ["0", "f", "F", "FALSE", "false", "False"] {
            assert!(!p(&format!("get pods -A={v}")).global.all_namespaces, "{v}");
        }
        assert_eq!(
            err("get pods --all-namespaces=yes").split(": ").next(),
            Some("error")
        );
        assert_eq!(
            parse_command_line("get pods --all-namespaces=yes")
                .unwrap_err()
                .kind,
            ErrorKind::InvalidFlagValue
        );
    }
}
