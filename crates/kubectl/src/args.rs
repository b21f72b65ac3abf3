//! kubectl command-line parsing: a shell-like tokenizer, cobra/pflag-like flag handling and
//! typed [`Command`]s.
//!
//! Flags follow pflag's rules: `--flag value`, `--flag=value`, `-f value`, `-fvalue`,
//! `-f=value`, boolean flags take no separate value (`--force`, `--force=false`), combined
//! boolean shorthands (`-Aw`) work, and `--` ends flag parsing. Global flags (`-n`, `-A`,
//! `-o`, `-l`) may appear anywhere, before or after the verb.
//!
//! Errors mirror kubectl's wording (cobra, pflag and `strconv` messages included). Where
//! kubectl has no wording of its own (a step reading stdin, `--watch` in a batch step) the
//! message says what the twin does not do.

use crate::error::{ErrorKind, KubectlError, Result};
use crate::kinds::{Kind, KindInfo, resolve_kind};
use crate::patch::PatchType;

/// `-o/--output` formats the twin renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    /// `-o json`.
    Json,
    /// `-o yaml`.
    Yaml,
    /// `-o wide`: the default table plus extra columns.
    Wide,
    /// `-o name`: `kind.group/name` lines.
    Name,
}

impl OutputFormat {
    /// Parses an `-o` value; the error lists the formats the twin supports.
    pub fn parse(s: &str) -> Result<OutputFormat> {
        match s {
            "json" => Ok(OutputFormat::Json),
            "yaml" => Ok(OutputFormat::Yaml),
            "wide" => Ok(OutputFormat::Wide),
            "name" => Ok(OutputFormat::Name),
            other => Err(KubectlError::new(
                ErrorKind::InvalidFlagValue,
                format!(
                    "unable to match a printer suitable for the output format \"{other}\", allowed formats are: json,name,wide,yaml"
                ),
            )),
        }
    }
}

/// Flags every command accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GlobalFlags {
    /// `-n/--namespace`; `None` means the caller's default namespace.
    pub namespace: Option<String>,
    /// `-A/--all-namespaces`.
    pub all_namespaces: bool,
    /// `-o/--output`.
    pub output: Option<OutputFormat>,
    /// `-l/--selector`, unparsed (label selector syntax, e.g. `app=web,tier!=db`).
    pub selector: Option<String>,
    /// `--field-selector` of `get`, unparsed (`status.phase=Running,spec.nodeName!=n1`).
    pub field_selector: Option<String>,
}

/// A parsed command line: the global flags plus the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// Global flags.
    pub global: GlobalFlags,
    /// The command.
    pub command: Command,
}

/// A kind plus an optional name: one item of `get`/`describe` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The resolved kind.
    pub kind: Kind,
    /// The object name; `None` means every object of the kind (filtered by `-l`).
    pub name: Option<String>,
}

/// A kind plus a name: one object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    /// The resolved kind.
    pub kind: Kind,
    /// The object name.
    pub name: String,
}

/// What `kubectl delete` deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteTarget {
    /// Named objects: `delete pod a b`, `delete pod/a deploy/b`.
    Named(Vec<ObjectRef>),
    /// Every object of the kinds matching `-l SELECTOR`.
    Selector {
        /// The kinds.
        kinds: Vec<Kind>,
        /// The label selector, unparsed.
        selector: String,
    },
    /// `--all`: every object of the kinds in the namespace.
    All {
        /// The kinds.
        kinds: Vec<Kind>,
    },
    /// `-f FILE...`: the objects described by the manifests.
    Files(Vec<String>),
}

/// One change of `label` / `annotate`: `key=value` or `key-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaChange {
    /// Set `key` to `value`.
    Set {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// Remove `key` (`key-`).
    Remove {
        /// The key.
        key: String,
    },
}

/// One change of `kubectl taint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaintChange {
    /// `key[=value]:Effect`: add (or with `--overwrite`, update) a taint.
    Add {
        /// The taint key.
        key: String,
        /// The taint value, if any.
        value: Option<String>,
        /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
        effect: String,
    },
    /// `key[:Effect]-`: remove taints with this key (and this effect, if given).
    Remove {
        /// The taint key.
        key: String,
        /// The effect to match, `None` for every effect.
        effect: Option<String>,
    },
}

/// `kubectl create` forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateCommand {
    /// `create -f FILE...`.
    Files {
        /// Files or folders.
        files: Vec<String>,
        /// `-R/--recursive`: walk folders recursively.
        recursive: bool,
    },
    /// `create namespace NAME`.
    Namespace {
        /// The namespace name.
        name: String,
    },
    /// `create deployment NAME --image=IMG [--replicas=N]`.
    Deployment {
        /// The deployment name.
        name: String,
        /// One container per image (kubectl names them after the image).
        images: Vec<String>,
        /// `--replicas`, default 1.
        replicas: i64,
    },
}

/// A parsed kubectl command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `apply -f FILE...`.
    Apply {
        /// Files or folders.
        files: Vec<String>,
        /// `-R/--recursive`.
        recursive: bool,
    },
    /// `create ...`.
    Create(CreateCommand),
    /// `delete ...`.
    Delete {
        /// What to delete.
        target: DeleteTarget,
        /// `--grace-period`; kubectl's default -1 is `None`.
        grace_period: Option<i64>,
        /// `--now` (grace period 1).
        now: bool,
        /// `--force`.
        force: bool,
        /// `--ignore-not-found`.
        ignore_not_found: bool,
    },
    /// `scale KIND NAME... --replicas=N`.
    Scale {
        /// The objects to scale.
        targets: Vec<ObjectRef>,
        /// `--replicas`, unvalidated (may be negative: see [`validate_replicas`]).
        replicas: i64,
        /// `--current-replicas` precondition; kubectl's default -1 is `None`.
        current_replicas: Option<i64>,
    },
    /// `autoscale KIND NAME --max=N [--min=N] [--cpu-percent=N] [--name=X]`.
    Autoscale {
        /// The scale target.
        target: ObjectRef,
        /// `--min`; kubectl's default -1 (server default 1) is `None`.
        min: Option<i64>,
        /// `--max` (required).
        max: i64,
        /// `--cpu-percent`; kubectl's default -1 (server default 80) is `None`.
        cpu_percent: Option<i64>,
        /// `--name` of the HPA; default the target's name.
        name: Option<String>,
    },
    /// `patch KIND NAME -p PATCH [--type T]`.
    Patch {
        /// The object.
        target: ObjectRef,
        /// The raw patch text.
        patch: String,
        /// `--type`, default strategic.
        patch_type: PatchType,
    },
    /// `get KIND[,KIND] [NAME...]` or `get KIND/NAME...`.
    Get {
        /// What to list, in command-line order (names are crossed with kinds).
        targets: Vec<Target>,
    },
    /// `describe KIND [NAME...]`.
    Describe {
        /// What to describe.
        targets: Vec<Target>,
    },
    /// `label KIND NAME... k=v k2-`.
    Label {
        /// The kind.
        kind: Kind,
        /// Object names; empty with `--all` or `-l`.
        names: Vec<String>,
        /// `--all`.
        all: bool,
        /// The changes, in order.
        changes: Vec<MetaChange>,
        /// `--overwrite`.
        overwrite: bool,
    },
    /// `annotate KIND NAME... k=v k2-`.
    Annotate {
        /// The kind.
        kind: Kind,
        /// Object names; empty with `--all` or `-l`.
        names: Vec<String>,
        /// `--all`.
        all: bool,
        /// The changes, in order.
        changes: Vec<MetaChange>,
        /// `--overwrite`.
        overwrite: bool,
    },
    /// `taint nodes NAME... SPEC...`.
    Taint {
        /// Node names; empty with `--all` or `-l`.
        nodes: Vec<String>,
        /// `--all`.
        all: bool,
        /// The changes, in order.
        changes: Vec<TaintChange>,
        /// `--overwrite`.
        overwrite: bool,
    },
    /// `cordon NODE...`.
    Cordon {
        /// Node names; empty with `-l`.
        nodes: Vec<String>,
    },
    /// `uncordon NODE...`.
    Uncordon {
        /// Node names; empty with `-l`.
        nodes: Vec<String>,
    },
    /// `drain NODE... [flags]`.
    Drain {
        /// Node names; empty with `-l`.
        nodes: Vec<String>,
        /// `--ignore-daemonsets`.
        ignore_daemonsets: bool,
        /// `--delete-emptydir-data` (or its deprecated alias `--delete-local-data`).
        delete_emptydir_data: bool,
        /// `--force`.
        force: bool,
        /// `--grace-period`; kubectl's default -1 is `None`.
        grace_period: Option<i64>,
        /// `--disable-eviction`.
        disable_eviction: bool,
        /// `--timeout` as given (Go duration text), `None` for kubectl's infinite default.
        timeout: Option<String>,
    },
    /// `rollout restart KIND NAME...`.
    RolloutRestart {
        /// The workloads to restart.
        targets: Vec<ObjectRef>,
    },
    /// `set image KIND/NAME container=image...`.
    SetImage {
        /// The workload.
        target: ObjectRef,
        /// `(container, image)` pairs; container `*` means every container.
        images: Vec<(String, String)>,
    },
}

// ---------------------------------------------------------------------------------------
// Tokenizing
// ---------------------------------------------------------------------------------------

/// Splits a command line into words as a POSIX shell would (quotes, escapes), and drops a
/// leading `kubectl` word if present.
pub fn tokenize(line: &str) -> Result<Vec<String>> {
    let mut words = shell_words::split(line).map_err(|e| {
        KubectlError::new(
            ErrorKind::Tokenize,
            format!("cannot split command line {line:?} into words: {e}"),
        )
    })?;
    if words.first().map(String::as_str) == Some("kubectl") {
        words.remove(0);
    }
    Ok(words)
}

/// Tokenizes and parses a command line such as `kubectl scale deploy web --replicas=2`.
pub fn parse_command_line(line: &str) -> Result<Invocation> {
    let words = tokenize(line)?;
    parse_args(&words)
}

// ---------------------------------------------------------------------------------------
// Flag machinery (pflag-like)
// ---------------------------------------------------------------------------------------

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
struct FlagDef {
    long: &'static str,
    short: Option<char>,
    ty: FlagType,
}

const fn flag(long: &'static str, short: Option<char>, ty: FlagType) -> FlagDef {
    FlagDef { long, short, ty }
}

const GLOBAL_FLAGS: &[FlagDef] = &[
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

fn verb_flags(verb: &str) -> &'static [FlagDef] {
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

/// Commands kubectl has and the twin does not implement.
const UNSUPPORTED_VERBS: &[&str] = &[
    "run",
    "expose",
    "edit",
    "explain",
    "logs",
    "attach",
    "exec",
    "port-forward",
    "proxy",
    "cp",
    "auth",
    "debug",
    "events",
    "top",
    "wait",
    "replace",
    "diff",
    "kustomize",
    "certificate",
    "cluster-info",
    "api-resources",
    "api-versions",
    "config",
    "plugin",
    "version",
    "completion",
    "alpha",
    "options",
    "help",
];

const SUPPORTED_VERBS: &[&str] = &[
    "apply",
    "create",
    "delete",
    "scale",
    "autoscale",
    "patch",
    "get",
    "describe",
    "label",
    "annotate",
    "taint",
    "cordon",
    "uncordon",
    "drain",
    "rollout",
    "set",
];

#[derive(Debug, Default)]
struct RawFlags {
    /// (long name, raw value) in command-line order.
    values: Vec<(&'static str, String)>,
}

impl RawFlags {
    fn has(&self, long: &str) -> bool {
        self.values.iter().any(|(l, _)| *l == long)
    }
    fn last(&self, long: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(l, _)| *l == long)
            .map(|(_, v)| v.as_str())
    }
    fn all(&self, long: &str) -> Vec<String> {
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
fn parse_flag_token(
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
fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

/// Typed access to the raw flags of one command.
struct Flags<'a> {
    raw: &'a RawFlags,
    specs: Vec<&'static [FlagDef]>,
}

impl Flags<'_> {
    fn def(&self, long: &str) -> FlagDef {
        *find_long(&self.specs, long).expect("flag defined")
    }

    fn invalid(&self, long: &str, value: &str, why: String) -> KubectlError {
        KubectlError::new(
            ErrorKind::InvalidFlagValue,
            format!(
                "invalid argument {} for \"{}\" flag: {why}",
                go_quote(value),
                flag_display(&self.def(long))
            ),
        )
    }

    fn bool(&self, long: &str) -> Result<bool> {
        match self.raw.last(long) {
            None => Ok(false),
            Some(v) => parse_go_bool(v).map_err(|e| self.invalid(long, v, e)),
        }
    }

    fn int(&self, long: &str) -> Result<Option<i64>> {
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

    fn string(&self, long: &str) -> Option<String> {
        self.raw.last(long).map(str::to_string)
    }

    fn list(&self, long: &str) -> Vec<String> {
        self.raw.all(long)
    }

    fn has(&self, long: &str) -> bool {
        self.raw.has(long)
    }

    /// Checks that every given flag is among `allowed` (or global); kubectl's sub-commands
    /// have narrower flag sets than the union we parse with.
    fn only(&self, allowed: &[&str]) -> Result<()> {
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

    fn required(&self, long: &str) -> Result<()> {
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

// ---------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------

/// Parses already-tokenized words (without the leading `kubectl`).
pub fn parse_args<S: AsRef<str>>(args: &[S]) -> Result<Invocation> {
    let words: Vec<String> = args.iter().map(|s| s.as_ref().to_string()).collect();
    let mut raw = RawFlags::default();
    let mut positionals: Vec<String> = Vec::new();
    let mut i = 0;

    // Flags before the verb: only global ones are known there.
    let verb = loop {
        if i >= words.len() {
            return Err(KubectlError::new(
                ErrorKind::Usage,
                "no command given: a step needs a kubectl command such as \"get pods\"",
            ));
        }
        if words[i] == "--" {
            return Err(KubectlError::new(
                ErrorKind::Usage,
                "no command given: a step needs a kubectl command such as \"get pods\"",
            ));
        }
        if parse_flag_token(&words, &mut i, &[GLOBAL_FLAGS], &mut raw)? {
            continue;
        }
        let v = words[i].clone();
        i += 1;
        break v;
    };

    if UNSUPPORTED_VERBS.contains(&verb.as_str()) {
        return Err(KubectlError::new(
            ErrorKind::Unsupported,
            format!("\"kubectl {verb}\" is not supported by the kscale twin"),
        ));
    }
    if !SUPPORTED_VERBS.contains(&verb.as_str()) {
        return Err(KubectlError::new(
            ErrorKind::UnknownCommand,
            format!("unknown command {} for \"kubectl\"", go_quote(&verb)),
        ));
    }

    let specs: Vec<&'static [FlagDef]> = vec![GLOBAL_FLAGS, verb_flags(&verb)];
    while i < words.len() {
        if words[i] == "--" {
            positionals.extend(words[i + 1..].iter().cloned());
            break;
        }
        if parse_flag_token(&words, &mut i, &specs, &mut raw)? {
            continue;
        }
        positionals.push(words[i].clone());
        i += 1;
    }

    let flags = Flags { raw: &raw, specs };
    let global = GlobalFlags {
        namespace: flags.string("namespace"),
        all_namespaces: flags.bool("all-namespaces")?,
        output: match flags.string("output") {
            Some(o) => Some(OutputFormat::parse(&o)?),
            None => None,
        },
        selector: flags.string("selector"),
        field_selector: flags.string("field-selector"),
    };

    let command = match verb.as_str() {
        "apply" => parse_apply(&flags)?,
        "create" => parse_create(&flags, &positionals)?,
        "delete" => parse_delete(&flags, &positionals, &global)?,
        "scale" => parse_scale(&flags, &positionals)?,
        "autoscale" => parse_autoscale(&flags, &positionals)?,
        "patch" => parse_patch(&flags, &positionals)?,
        "get" => parse_get(&flags, &positionals)?,
        "describe" => parse_describe(&positionals)?,
        "label" | "annotate" => parse_label(&verb, &flags, &positionals, &global)?,
        "taint" => parse_taint(&flags, &positionals, &global)?,
        "cordon" | "uncordon" => parse_cordon(&verb, &positionals, &global)?,
        "drain" => parse_drain(&flags, &positionals, &global)?,
        "rollout" => parse_rollout(&positionals)?,
        "set" => parse_set(&positionals)?,
        _ => unreachable!("verb checked above"),
    };
    Ok(Invocation { global, command })
}

fn usage(msg: impl AsRef<str>) -> KubectlError {
    KubectlError::new(ErrorKind::Usage, msg)
}

fn lookup_kind(resource: &str) -> Result<KindInfo> {
    resolve_kind(resource).ok_or_else(|| {
        KubectlError::new(
            ErrorKind::UnknownResource,
            format!(
                "the server doesn't have a resource type {}",
                go_quote(resource)
            ),
        )
    })
}

fn check_files(files: &[String]) -> Result<()> {
    if files.iter().any(|f| f == "-") {
        return Err(usage(
            "reading manifests from stdin (\"-f -\") is not supported in a kscale step: give a file or folder path",
        ));
    }
    Ok(())
}

/// kubectl's resource-argument grammar: either `TYPE[,TYPE...] [NAME...]` or
/// `TYPE/NAME [TYPE/NAME...]`. Returns (kinds, names) for the first form or refs for the
/// second.
enum ResourceArgs {
    KindsNames(Vec<Kind>, Vec<String>),
    Refs(Vec<ObjectRef>),
}

fn parse_resource_args(args: &[String]) -> Result<ResourceArgs> {
    debug_assert!(!args.is_empty());
    if args[0].contains('/') {
        let mut refs = Vec::new();
        for a in args {
            let Some((k, n)) = a.split_once('/') else {
                return Err(usage(
                    "arguments in resource/name form must have a single resource and name",
                ));
            };
            if k.is_empty() || n.is_empty() || n.contains('/') {
                return Err(usage(
                    "arguments in resource/name form must have a single resource and name",
                ));
            }
            refs.push(ObjectRef {
                kind: lookup_kind(k)?.kind,
                name: n.to_string(),
            });
        }
        return Ok(ResourceArgs::Refs(refs));
    }
    let mut kinds = Vec::new();
    for k in args[0].split(',') {
        if k.is_empty() {
            continue;
        }
        let kind = lookup_kind(k)?.kind;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    if kinds.is_empty() {
        return Err(lookup_kind(&args[0])
            .err()
            .unwrap_or_else(|| usage("no resource type given")));
    }
    let names: Vec<String> = args[1..].to_vec();
    if names.iter().any(|n| n.contains('/')) {
        return Err(usage(
            "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of 'kubectl get resource resource/<resource_name>'",
        ));
    }
    Ok(ResourceArgs::KindsNames(kinds, names))
}

/// Resource args that must name objects (scale, patch, rollout restart...).
fn named_refs(args: &[String]) -> Result<Vec<ObjectRef>> {
    if args.is_empty() {
        return Err(usage("required resource not specified"));
    }
    match parse_resource_args(args)? {
        ResourceArgs::Refs(r) => Ok(r),
        ResourceArgs::KindsNames(kinds, names) => {
            if names.is_empty() {
                return Err(usage(
                    "resource(s) were provided, but no name was specified",
                ));
            }
            Ok(kinds
                .iter()
                .flat_map(|k| {
                    names.iter().map(move |n| ObjectRef {
                        kind: *k,
                        name: n.clone(),
                    })
                })
                .collect())
        }
    }
}

fn single_ref(args: &[String], verb: &str) -> Result<ObjectRef> {
    let refs = named_refs(args)?;
    if refs.len() != 1 {
        return Err(usage(format!(
            "{verb} requires exactly one resource, got {}",
            refs.len()
        )));
    }
    Ok(refs.into_iter().next().expect("one ref"))
}

fn parse_apply(flags: &Flags) -> Result<Command> {
    let files = flags.list("filename");
    if files.is_empty() {
        return Err(usage("must specify one of -f and -k"));
    }
    check_files(&files)?;
    Ok(Command::Apply {
        files,
        recursive: flags.bool("recursive")?,
    })
}

fn parse_create(flags: &Flags, pos: &[String]) -> Result<Command> {
    let sub = pos.first().map(String::as_str);
    match sub {
        Some("namespace") | Some("ns") => {
            flags.only(&[])?;
            if pos.len() != 2 {
                return Err(usage(format!(
                    "exactly one NAME is required, got {}",
                    pos.len() - 1
                )));
            }
            Ok(Command::Create(CreateCommand::Namespace {
                name: pos[1].clone(),
            }))
        }
        Some("deployment") | Some("deploy") => {
            flags.only(&["image", "replicas"])?;
            flags.required("image")?;
            if pos.len() != 2 {
                return Err(usage(format!(
                    "exactly one NAME is required, got {}",
                    pos.len() - 1
                )));
            }
            let replicas = flags.int("replicas")?.unwrap_or(1);
            Ok(Command::Create(CreateCommand::Deployment {
                name: pos[1].clone(),
                images: flags.list("image"),
                replicas,
            }))
        }
        Some(
            s @ ("configmap"
            | "cm"
            | "secret"
            | "service"
            | "svc"
            | "serviceaccount"
            | "sa"
            | "job"
            | "cronjob"
            | "cj"
            | "priorityclass"
            | "pc"
            | "poddisruptionbudget"
            | "pdb"
            | "quota"
            | "role"
            | "rolebinding"
            | "clusterrole"
            | "clusterrolebinding"
            | "ingress"
            | "token"),
        ) => Err(KubectlError::new(
            ErrorKind::Unsupported,
            format!(
                "\"kubectl create {s}\" is not supported by the kscale twin; use \"kubectl apply -f\" with a manifest"
            ),
        )),
        Some(other) => Err(KubectlError::new(
            ErrorKind::UnknownCommand,
            format!("unknown command {} for \"kubectl create\"", go_quote(other)),
        )),
        None => {
            flags.only(&["filename", "recursive"])?;
            let files = flags.list("filename");
            if files.is_empty() {
                return Err(usage("must specify one of -f and -k"));
            }
            check_files(&files)?;
            Ok(Command::Create(CreateCommand::Files {
                files,
                recursive: flags.bool("recursive")?,
            }))
        }
    }
}

fn parse_delete(flags: &Flags, pos: &[String], global: &GlobalFlags) -> Result<Command> {
    let files = flags.list("filename");
    let all = flags.bool("all")?;
    let grace_period = flags.int("grace-period")?.filter(|g| *g >= 0);
    let now = flags.bool("now")?;
    if now && flags.has("grace-period") {
        return Err(usage(
            "--now and --grace-period cannot be specified together",
        ));
    }
    let target = if !files.is_empty() {
        check_files(&files)?;
        if !pos.is_empty() {
            return Err(usage(
                "when paths, URLs, or stdin is provided as input, you may not specify resource arguments as well",
            ));
        }
        DeleteTarget::Files(files)
    } else {
        if pos.is_empty() {
            return Err(usage(
                "You must provide one or more resources by argument or filename.",
            ));
        }
        match parse_resource_args(pos)? {
            ResourceArgs::Refs(refs) => {
                if global.selector.is_some() {
                    return Err(usage(
                        "name cannot be provided when a selector is specified",
                    ));
                }
                DeleteTarget::Named(refs)
            }
            ResourceArgs::KindsNames(kinds, names) => {
                if !names.is_empty() {
                    if global.selector.is_some() {
                        return Err(usage(
                            "name cannot be provided when a selector is specified",
                        ));
                    }
                    if all {
                        return Err(usage("names cannot be provided when --all is specified"));
                    }
                    DeleteTarget::Named(
                        kinds
                            .iter()
                            .flat_map(|k| {
                                names.iter().map(move |n| ObjectRef {
                                    kind: *k,
                                    name: n.clone(),
                                })
                            })
                            .collect(),
                    )
                } else if let Some(sel) = &global.selector {
                    if all {
                        return Err(usage("cannot set --all and --selector at the same time"));
                    }
                    DeleteTarget::Selector {
                        kinds,
                        selector: sel.clone(),
                    }
                } else if all {
                    DeleteTarget::All { kinds }
                } else {
                    return Err(usage(
                        "resource(s) were provided, but no name was specified",
                    ));
                }
            }
        }
    };
    Ok(Command::Delete {
        target,
        grace_period,
        now,
        force: flags.bool("force")?,
        ignore_not_found: flags.bool("ignore-not-found")?,
    })
}

fn parse_scale(flags: &Flags, pos: &[String]) -> Result<Command> {
    flags.required("replicas")?;
    let replicas = flags.int("replicas")?.expect("required");
    let current_replicas = flags.int("current-replicas")?.filter(|c| *c >= 0);
    let targets = named_refs(pos)?;
    for t in &targets {
        if !matches!(
            t.kind,
            Kind::Deployment | Kind::ReplicaSet | Kind::StatefulSet
        ) {
            return Err(usage(format!(
                "cannot scale {}: only deployments, replicasets and statefulsets have a scale subresource",
                t.kind.info().qualified_plural()
            )));
        }
    }
    Ok(Command::Scale {
        targets,
        replicas,
        current_replicas,
    })
}

fn parse_autoscale(flags: &Flags, pos: &[String]) -> Result<Command> {
    flags.required("max")?;
    let max = flags.int("max")?.expect("required");
    let min = flags.int("min")?.filter(|m| *m != -1);
    let cpu_percent = flags.int("cpu-percent")?.filter(|c| *c != -1);
    let target = single_ref(pos, "autoscale")?;
    if !matches!(
        target.kind,
        Kind::Deployment | Kind::ReplicaSet | Kind::StatefulSet
    ) {
        return Err(usage(format!(
            "cannot autoscale a {}: only deployments, replicasets and statefulsets can be autoscaled",
            target.kind
        )));
    }
    if max < 1 {
        return Err(KubectlError::new(
            ErrorKind::Validation,
            format!("--max=MAXPODS is required and must be at least 1, max: {max}"),
        ));
    }
    if let Some(m) = min
        && max < m
    {
        return Err(KubectlError::new(
            ErrorKind::Validation,
            format!("--max=MAXPODS must be larger or equal to --min=MINPODS, max: {max}, min: {m}"),
        ));
    }
    Ok(Command::Autoscale {
        target,
        min,
        max,
        cpu_percent,
        name: flags.string("name"),
    })
}

fn parse_patch(flags: &Flags, pos: &[String]) -> Result<Command> {
    let patch_type = match flags.string("type") {
        None => PatchType::Strategic,
        Some(t) => PatchType::parse(&t)?,
    };
    let target = single_ref(pos, "patch")?;
    let Some(patch) = flags.string("patch") else {
        return Err(usage(
            "must specify --patch or --patch-file containing the contents of the patch",
        ));
    };
    Ok(Command::Patch {
        target,
        patch,
        patch_type,
    })
}

fn targets_from(args: ResourceArgs) -> Vec<Target> {
    match args {
        ResourceArgs::Refs(refs) => refs
            .into_iter()
            .map(|r| Target {
                kind: r.kind,
                name: Some(r.name),
            })
            .collect(),
        ResourceArgs::KindsNames(kinds, names) if names.is_empty() => kinds
            .into_iter()
            .map(|k| Target {
                kind: k,
                name: None,
            })
            .collect(),
        ResourceArgs::KindsNames(kinds, names) => kinds
            .iter()
            .flat_map(|k| {
                names.iter().map(move |n| Target {
                    kind: *k,
                    name: Some(n.clone()),
                })
            })
            .collect(),
    }
}

fn parse_get(flags: &Flags, pos: &[String]) -> Result<Command> {
    if flags.bool("watch")? || flags.bool("watch-only")? {
        return Err(usage(
            "--watch is not supported in a kscale step: a step runs once and returns; observe changes with a later \"get\" step",
        ));
    }
    if pos.is_empty() {
        return Err(usage(
            "You must specify the type of resource to get. Use \"kubectl api-resources\" for a complete list of supported resources.",
        ));
    }
    Ok(Command::Get {
        targets: targets_from(parse_resource_args(pos)?),
    })
}

fn parse_describe(pos: &[String]) -> Result<Command> {
    if pos.is_empty() {
        return Err(usage(
            "You must specify the type of resource to describe. Use \"kubectl api-resources\" for a complete list of supported resources.",
        ));
    }
    Ok(Command::Describe {
        targets: targets_from(parse_resource_args(pos)?),
    })
}

fn is_meta_change(s: &str) -> bool {
    s.contains('=') || (s.ends_with('-') && !s.contains('/'))
}

fn parse_meta_change(s: &str, what: &str) -> Result<MetaChange> {
    if let Some((k, v)) = s.split_once('=') {
        if k.is_empty() {
            return Err(usage(format!("invalid {what} spec: {s}")));
        }
        return Ok(MetaChange::Set {
            key: k.to_string(),
            value: v.to_string(),
        });
    }
    let key = s.strip_suffix('-').unwrap_or(s);
    if key.is_empty() {
        return Err(usage(format!("invalid {what} spec: {s}")));
    }
    Ok(MetaChange::Remove {
        key: key.to_string(),
    })
}

/// Splits `label`/`annotate`/`taint` arguments into resource args and changes: the changes
/// start at the first argument that looks like one.
fn split_changes(pos: &[String], is_change: impl Fn(&str) -> bool) -> (Vec<String>, Vec<String>) {
    let idx = pos.iter().position(|a| is_change(a)).unwrap_or(pos.len());
    (pos[..idx].to_vec(), pos[idx..].to_vec())
}

fn parse_label(verb: &str, flags: &Flags, pos: &[String], global: &GlobalFlags) -> Result<Command> {
    let what = if verb == "label" {
        "label"
    } else {
        "annotation"
    };
    let (res, changes) = split_changes(pos, is_meta_change);
    if res.is_empty() {
        return Err(usage(
            "one or more resources must be specified as <resource> <name> or <resource>/<name>",
        ));
    }
    let changes = changes
        .iter()
        .map(|c| {
            if is_meta_change(c) {
                parse_meta_change(c, what)
            } else {
                Err(usage(format!("invalid {what} spec: {c}")))
            }
        })
        .collect::<Result<Vec<_>>>()?;
    if changes.is_empty() {
        return Err(usage(format!("at least one {what} update is required")));
    }
    let all = flags.bool("all")?;
    let (kind, names) = match parse_resource_args(&res)? {
        ResourceArgs::Refs(refs) => {
            let kind = refs[0].kind;
            if refs.iter().any(|r| r.kind != kind) {
                return Err(usage(format!(
                    "all resources must be of one type to {verb} them in a kscale step"
                )));
            }
            (kind, refs.into_iter().map(|r| r.name).collect::<Vec<_>>())
        }
        ResourceArgs::KindsNames(kinds, names) => {
            if kinds.len() != 1 {
                return Err(usage(format!(
                    "all resources must be of one type to {verb} them in a kscale step"
                )));
            }
            (kinds[0], names)
        }
    };
    if names.is_empty() && !all && global.selector.is_none() {
        return Err(usage(
            "resource(s) were provided, but no name was specified",
        ));
    }
    let overwrite = flags.bool("overwrite")?;
    Ok(if verb == "label" {
        Command::Label {
            kind,
            names,
            all,
            changes,
            overwrite,
        }
    } else {
        Command::Annotate {
            kind,
            names,
            all,
            changes,
            overwrite,
        }
    })
}

const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

fn check_effect(effect: &str) -> Result<()> {
    if TAINT_EFFECTS.contains(&effect) {
        Ok(())
    } else {
        Err(usage(format!(
            "invalid taint effect: {effect}, unsupported taint effect"
        )))
    }
}

/// Parses one taint argument: `key=value:Effect`, `key:Effect`, `key=value:Effect-`,
/// `key:Effect-`, `key-`.
pub fn parse_taint_spec(spec: &str) -> Result<TaintChange> {
    let invalid = || usage(format!("invalid taint spec: {spec}"));
    if let Some(body) = spec.strip_suffix('-') {
        let (kv, effect) = match body.split_once(':') {
            Some((kv, e)) => {
                check_effect(e)?;
                (kv, Some(e.to_string()))
            }
            None => (body, None),
        };
        let key = kv.split_once('=').map(|(k, _)| k).unwrap_or(kv);
        if key.is_empty() {
            return Err(invalid());
        }
        return Ok(TaintChange::Remove {
            key: key.to_string(),
            effect,
        });
    }
    let Some((kv, effect)) = spec.rsplit_once(':') else {
        return Err(invalid());
    };
    if effect.is_empty() {
        return Err(invalid());
    }
    check_effect(effect)?;
    let (key, value) = match kv.split_once('=') {
        Some((k, v)) => (k, Some(v.to_string())),
        None => (kv, None),
    };
    if key.is_empty() {
        return Err(invalid());
    }
    Ok(TaintChange::Add {
        key: key.to_string(),
        value,
        effect: effect.to_string(),
    })
}

fn parse_taint(flags: &Flags, pos: &[String], global: &GlobalFlags) -> Result<Command> {
    let is_change = |a: &str| a.contains(':') || a.contains('=') || a.ends_with('-');
    // The first argument is always the resource type (or type/name).
    if pos.is_empty() {
        return Err(usage("at least one taint update is required"));
    }
    let (rest_res, changes) = split_changes(&pos[1..], is_change);
    let mut res = vec![pos[0].clone()];
    res.extend(rest_res);
    if changes.is_empty() {
        return Err(usage("at least one taint update is required"));
    }
    let changes = changes
        .iter()
        .map(|c| parse_taint_spec(c))
        .collect::<Result<Vec<_>>>()?;
    let nodes: Vec<String> = match parse_resource_args(&res)? {
        ResourceArgs::Refs(refs) => {
            if refs.iter().any(|r| r.kind != Kind::Node) {
                return Err(usage(format!(
                    "invalid resource type {}, only node types are supported",
                    refs[0].kind.info().plural
                )));
            }
            refs.into_iter().map(|r| r.name).collect()
        }
        ResourceArgs::KindsNames(kinds, names) => {
            if kinds != [Kind::Node] {
                return Err(usage(format!(
                    "invalid resource type {}, only node types are supported",
                    res.remove(0)
                )));
            }
            names
        }
    };
    let all = flags.bool("all")?;
    if nodes.is_empty() && !all && global.selector.is_none() {
        return Err(usage(
            "resource(s) were provided, but no name was specified",
        ));
    }
    Ok(Command::Taint {
        nodes,
        all,
        changes,
        overwrite: flags.bool("overwrite")?,
    })
}

fn parse_cordon(verb: &str, pos: &[String], global: &GlobalFlags) -> Result<Command> {
    if pos.is_empty() && global.selector.is_none() {
        return Err(usage(format!("USAGE: {verb} NODE [flags]")));
    }
    let nodes = pos.to_vec();
    Ok(if verb == "cordon" {
        Command::Cordon { nodes }
    } else {
        Command::Uncordon { nodes }
    })
}

fn parse_drain(flags: &Flags, pos: &[String], global: &GlobalFlags) -> Result<Command> {
    if pos.is_empty() && global.selector.is_none() {
        return Err(usage("USAGE: drain NODE [flags]"));
    }
    Ok(Command::Drain {
        nodes: pos.to_vec(),
        ignore_daemonsets: flags.bool("ignore-daemonsets")?,
        delete_emptydir_data: flags.bool("delete-emptydir-data")?
            || flags.bool("delete-local-data")?,
        force: flags.bool("force")?,
        grace_period: flags.int("grace-period")?.filter(|g| *g >= 0),
        disable_eviction: flags.bool("disable-eviction")?,
        timeout: flags.string("timeout").filter(|t| t != "0s" && t != "0"),
    })
}

fn parse_rollout(pos: &[String]) -> Result<Command> {
    match pos.first().map(String::as_str) {
        Some("restart") => {
            let targets = named_refs(&pos[1..])?;
            for t in &targets {
                if !matches!(
                    t.kind,
                    Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet
                ) {
                    return Err(usage(format!(
                        "{}/{} restarting is not supported",
                        t.kind.info().qualified_plural(),
                        t.name
                    )));
                }
            }
            Ok(Command::RolloutRestart { targets })
        }
        Some(s @ ("status" | "history" | "undo" | "pause" | "resume")) => Err(KubectlError::new(
            ErrorKind::Unsupported,
            format!("\"kubectl rollout {s}\" is not supported by the kscale twin"),
        )),
        Some(other) => Err(KubectlError::new(
            ErrorKind::UnknownCommand,
            format!(
                "unknown command {} for \"kubectl rollout\"",
                go_quote(other)
            ),
        )),
        None => Err(usage("USAGE: rollout restart RESOURCE")),
    }
}

fn parse_set(pos: &[String]) -> Result<Command> {
    match pos.first().map(String::as_str) {
        Some("image") => {
            let rest = &pos[1..];
            let (res, changes) = split_changes(rest, |a| a.contains('='));
            if changes.is_empty() {
                return Err(usage("at least one image update is required"));
            }
            let target = single_ref(&res, "set image")?;
            let images = changes
                .iter()
                .map(|c| match c.split_once('=') {
                    Some((k, v)) if !k.is_empty() && !v.is_empty() => {
                        Ok((k.to_string(), v.to_string()))
                    }
                    _ => Err(usage(format!("invalid image update: {c}"))),
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Command::SetImage { target, images })
        }
        Some(s @ ("env" | "resources" | "selector" | "serviceaccount" | "sa" | "subject")) => {
            Err(KubectlError::new(
                ErrorKind::Unsupported,
                format!("\"kubectl set {s}\" is not supported by the kscale twin"),
            ))
        }
        Some(other) => Err(KubectlError::new(
            ErrorKind::UnknownCommand,
            format!("unknown command {} for \"kubectl set\"", go_quote(other)),
        )),
        None => Err(usage(
            "USAGE: set image (-f FILENAME | TYPE NAME) CONTAINER_NAME_1=CONTAINER_IMAGE_1 ... CONTAINER_NAME_N=CONTAINER_IMAGE_N",
        )),
    }
}

/// Validates a `--replicas` value the way `kubectl scale` does, after parsing: negative
/// counts are rejected with kubectl's message, and the count must fit the API's int32.
pub fn validate_replicas(replicas: i64) -> Result<i32> {
    if replicas < 0 {
        return Err(KubectlError::new(
            ErrorKind::Validation,
            "The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0",
        ));
    }
    i32::try_from(replicas).map_err(|_| {
        KubectlError::new(
            ErrorKind::Validation,
            format!("--replicas={replicas} is out of range: the API stores replicas as int32"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Invocation {
        parse_command_line(line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn cmd(line: &str) -> Command {
        p(line).command
    }

    fn err(line: &str) -> String {
        parse_command_line(line).expect_err(line).to_string()
    }

    fn r(kind: Kind, name: &str) -> ObjectRef {
        ObjectRef {
            kind,
            name: name.to_string(),
        }
    }

    #[test]
    fn tokenizer_strips_kubectl_and_handles_quotes() {
        assert_eq!(
            tokenize(r#"kubectl patch deploy web -p '{"spec":{"replicas":3}}'"#).unwrap(),
            ["patch", "deploy", "web", "-p", r#"{"spec":{"replicas":3}}"#]
        );
        assert_eq!(tokenize("get pods").unwrap(), ["get", "pods"]);
        assert_eq!(
            tokenize(r#"label po a "k=v w""#).unwrap(),
            ["label", "po", "a", "k=v w"]
        );
        assert_eq!(tokenize("get 'pods").unwrap_err().kind, ErrorKind::Tokenize);
    }

    #[test]
    fn global_flags_anywhere() {
        let i = p("kubectl -n prod get pods -o wide -l app=web");
        assert_eq!(i.global.namespace.as_deref(), Some("prod"));
        assert_eq!(i.global.output, Some(OutputFormat::Wide));
        assert_eq!(i.global.selector.as_deref(), Some("app=web"));
        assert!(!i.global.all_namespaces);
        let i = p("get pods --namespace=kube-system -o=json");
        assert_eq!(i.global.namespace.as_deref(), Some("kube-system"));
        assert_eq!(i.global.output, Some(OutputFormat::Json));
        let i = p("get pods -nkube-system -A --selector tier=fe --output name");
        assert_eq!(i.global.namespace.as_deref(), Some("kube-system"));
        assert!(i.global.all_namespaces);
        assert_eq!(i.global.selector.as_deref(), Some("tier=fe"));
        assert_eq!(i.global.output, Some(OutputFormat::Name));
        assert!(p("get pods --all-namespaces").global.all_namespaces);
        assert_eq!(p("get pods -oyaml").global.output, Some(OutputFormat::Yaml));
    }

    #[test]
    fn apply_and_create() {
        assert_eq!(
            cmd("kubectl apply -f a.yaml -f dir/ --filename=b.yaml"),
            Command::Apply {
                files: vec!["a.yaml".into(), "dir/".into(), "b.yaml".into()],
                recursive: false
            }
        );
        assert_eq!(
            cmd("apply -R -f manifests"),
            Command::Apply {
                files: vec!["manifests".into()],
                recursive: true
            }
        );
        assert_eq!(
            cmd("create -f x.yaml"),
            Command::Create(CreateCommand::Files {
                files: vec!["x.yaml".into()],
                recursive: false
            })
        );
        assert_eq!(
            cmd("create namespace team-a"),
            Command::Create(CreateCommand::Namespace {
                name: "team-a".into()
            })
        );
        assert_eq!(
            cmd("create ns team-b"),
            Command::Create(CreateCommand::Namespace {
                name: "team-b".into()
            })
        );
        assert_eq!(
            cmd("create deployment web --image=nginx:1.25 --replicas=3"),
            Command::Create(CreateCommand::Deployment {
                name: "web".into(),
                images: vec!["nginx:1.25".into()],
                replicas: 3
            })
        );
        assert_eq!(
            cmd("create deploy web --image nginx"),
            Command::Create(CreateCommand::Deployment {
                name: "web".into(),
                images: vec!["nginx".into()],
                replicas: 1
            })
        );
    }

    #[test]
    fn apply_and_create_errors() {
        assert_eq!(err("apply"), "error: must specify one of -f and -k");
        assert_eq!(
            err("apply -f -"),
            "error: reading manifests from stdin (\"-f -\") is not supported in a kscale step: give a file or folder path"
        );
        assert_eq!(
            err("create deployment web"),
            "error: required flag(s) \"image\" not set"
        );
        assert_eq!(
            err("create deployment --image=nginx"),
            "error: exactly one NAME is required, got 0"
        );
        assert_eq!(
            err("create namespace"),
            "error: exactly one NAME is required, got 0"
        );
        assert_eq!(
            err("create namespace a --image=x"),
            "error: unknown flag: --image"
        );
        assert_eq!(
            err("create frob x"),
            "error: unknown command \"frob\" for \"kubectl create\""
        );
        assert_eq!(
            err("create configmap x"),
            "error: \"kubectl create configmap\" is not supported by the kscale twin; use \"kubectl apply -f\" with a manifest"
        );
    }

    #[test]
    fn delete_forms() {
        assert_eq!(
            cmd("delete pod a b --grace-period=0 --force"),
            Command::Delete {
                target: DeleteTarget::Named(vec![r(Kind::Pod, "a"), r(Kind::Pod, "b")]),
                grace_period: Some(0),
                now: false,
                force: true,
                ignore_not_found: false,
            }
        );
        assert_eq!(
            cmd("delete deploy/web svc/web --now"),
            Command::Delete {
                target: DeleteTarget::Named(vec![
                    r(Kind::Deployment, "web"),
                    r(Kind::Service, "web")
                ]),
                grace_period: None,
                now: true,
                force: false,
                ignore_not_found: false,
            }
        );
        assert_eq!(
            cmd("delete pods -l app=web"),
            Command::Delete {
                target: DeleteTarget::Selector {
                    kinds: vec![Kind::Pod],
                    selector: "app=web".into()
                },
                grace_period: None,
                now: false,
                force: false,
                ignore_not_found: false,
            }
        );
        assert_eq!(
            cmd("delete pods,rs --all --ignore-not-found"),
            Command::Delete {
                target: DeleteTarget::All {
                    kinds: vec![Kind::Pod, Kind::ReplicaSet]
                },
                grace_period: None,
                now: false,
                force: false,
                ignore_not_found: true,
            }
        );
        assert_eq!(
            cmd("delete -f a.yaml"),
            Command::Delete {
                target: DeleteTarget::Files(vec!["a.yaml".into()]),
                grace_period: None,
                now: false,
                force: false,
                ignore_not_found: false,
            }
        );
    }

    #[test]
    fn delete_errors() {
        assert_eq!(
            err("delete pods"),
            "error: resource(s) were provided, but no name was specified"
        );
        assert_eq!(
            err("delete"),
            "error: You must provide one or more resources by argument or filename."
        );
        assert_eq!(
            err("delete pod a --now --grace-period=5"),
            "error: --now and --grace-period cannot be specified together"
        );
        assert_eq!(
            err("delete pod a -l app=x"),
            "error: name cannot be provided when a selector is specified"
        );
        assert_eq!(
            err("delete pod a --grace-period=soon"),
            "error: invalid argument \"soon\" for \"--grace-period\" flag: strconv.ParseInt: parsing \"soon\": invalid syntax"
        );
        assert_eq!(
            err("delete foos x"),
            "error: the server doesn't have a resource type \"foos\""
        );
    }

    #[test]
    fn scale_forms_and_errors() {
        assert_eq!(
            cmd("kubectl scale deployment nginx-app --replicas=2"),
            Command::Scale {
                targets: vec![r(Kind::Deployment, "nginx-app")],
                replicas: 2,
                current_replicas: None
            }
        );
        assert_eq!(
            cmd("scale deploy/web --replicas 5 --current-replicas=2"),
            Command::Scale {
                targets: vec![r(Kind::Deployment, "web")],
                replicas: 5,
                current_replicas: Some(2)
            }
        );
        assert_eq!(
            cmd("scale sts db --replicas=0x10"),
            Command::Scale {
                targets: vec![r(Kind::StatefulSet, "db")],
                replicas: 16,
                current_replicas: None
            }
        );
        // Negative counts parse; validation rejects them.
        let Command::Scale { replicas, .. } = cmd("scale rs web --replicas=-1") else {
            panic!()
        };
        assert_eq!(replicas, -1);
        assert_eq!(
            validate_replicas(replicas).unwrap_err().to_string(),
            "error: The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0"
        );
        assert_eq!(validate_replicas(3).unwrap(), 3);
        assert_eq!(
            validate_replicas(1 << 40).unwrap_err().kind,
            ErrorKind::Validation
        );

        assert_eq!(
            err("scale deploy web"),
            "error: required flag(s) \"replicas\" not set"
        );
        assert_eq!(
            err("scale deploy web --replicas=two"),
            "error: invalid argument \"two\" for \"--replicas\" flag: strconv.ParseInt: parsing \"two\": invalid syntax"
        );
        assert_eq!(
            err("scale deploy web --replicas=99999999999999999999"),
            "error: invalid argument \"99999999999999999999\" for \"--replicas\" flag: strconv.ParseInt: parsing \"99999999999999999999\": value out of range"
        );
        assert_eq!(
            err("scale deploy web --replicas"),
            "error: flag needs an argument: --replicas"
        );
        assert_eq!(
            err("scale --replicas=2"),
            "error: required resource not specified"
        );
        assert_eq!(
            err("scale deployment --replicas=2"),
            "error: resource(s) were provided, but no name was specified"
        );
        assert_eq!(
            err("scale foos web --replicas=2"),
            "error: the server doesn't have a resource type \"foos\""
        );
    }

    #[test]
    fn autoscale_forms_and_errors() {
        assert_eq!(
            cmd("autoscale deployment web --cpu-percent=50 --min=2 --max=10"),
            Command::Autoscale {
                target: r(Kind::Deployment, "web"),
                min: Some(2),
                max: 10,
                cpu_percent: Some(50),
                name: None
            }
        );
        assert_eq!(
            cmd("autoscale deploy/web --max=3 --name=web-hpa"),
            Command::Autoscale {
                target: r(Kind::Deployment, "web"),
                min: None,
                max: 3,
                cpu_percent: None,
                name: Some("web-hpa".into())
            }
        );
        assert_eq!(
            err("autoscale deploy web --min=1"),
            "error: required flag(s) \"max\" not set"
        );
        assert_eq!(
            err("autoscale deploy web --min=5 --max=2"),
            "error: --max=MAXPODS must be larger or equal to --min=MINPODS, max: 2, min: 5"
        );
        assert_eq!(
            err("autoscale deploy web --max=3000000000"),
            "error: invalid argument \"3000000000\" for \"--max\" flag: strconv.ParseInt: parsing \"3000000000\": value out of range"
        );
    }

    #[test]
    fn patch_forms_and_errors() {
        assert_eq!(
            cmd(r#"patch deployment web -p '{"spec":{"replicas":3}}'"#),
            Command::Patch {
                target: r(Kind::Deployment, "web"),
                patch: r#"{"spec":{"replicas":3}}"#.into(),
                patch_type: PatchType::Strategic
            }
        );
        assert_eq!(
            cmd(r#"patch node/n1 --type merge --patch '{"spec":{"unschedulable":true}}'"#),
            Command::Patch {
                target: r(Kind::Node, "n1"),
                patch: r#"{"spec":{"unschedulable":true}}"#.into(),
                patch_type: PatchType::Merge
            }
        );
        assert_eq!(
            cmd(r#"patch hpa web --type=json -p '[]'"#),
            Command::Patch {
                target: r(Kind::HorizontalPodAutoscaler, "web"),
                patch: "[]".into(),
                patch_type: PatchType::Json
            }
        );
        assert_eq!(
            err("patch deploy web"),
            "error: must specify --patch or --patch-file containing the contents of the patch"
        );
        assert_eq!(
            err("patch deploy web -p {} --type=xml"),
            "error: --type must be one of [json merge strategic], not \"xml\""
        );
    }

    #[test]
    fn get_and_describe() {
        assert_eq!(
            cmd("get pods"),
            Command::Get {
                targets: vec![Target {
                    kind: Kind::Pod,
                    name: None
                }]
            }
        );
        assert_eq!(
            cmd("get deploy,rs web"),
            Command::Get {
                targets: vec![
                    Target {
                        kind: Kind::Deployment,
                        name: Some("web".into())
                    },
                    Target {
                        kind: Kind::ReplicaSet,
                        name: Some("web".into())
                    }
                ]
            }
        );
        assert_eq!(
            cmd("get po/a no/n1"),
            Command::Get {
                targets: vec![
                    Target {
                        kind: Kind::Pod,
                        name: Some("a".into())
                    },
                    Target {
                        kind: Kind::Node,
                        name: Some("n1".into())
                    }
                ]
            }
        );
        assert_eq!(
            cmd("describe pod web-0"),
            Command::Describe {
                targets: vec![Target {
                    kind: Kind::Pod,
                    name: Some("web-0".into())
                }]
            }
        );
        assert_eq!(
            cmd("describe nodes"),
            Command::Describe {
                targets: vec![Target {
                    kind: Kind::Node,
                    name: None
                }]
            }
        );
        assert_eq!(
            err("get pods -w"),
            "error: --watch is not supported in a kscale step: a step runs once and returns; observe changes with a later \"get\" step"
        );
        assert_eq!(
            err("get foos"),
            "error: the server doesn't have a resource type \"foos\""
        );
        assert!(err("get").starts_with("error: You must specify the type of resource to get."));
        assert!(
            err("get pods pod/a").starts_with("error: there is no need to specify a resource type")
        );
        assert_eq!(
            err("get pods -o table"),
            "error: unable to match a printer suitable for the output format \"table\", allowed formats are: json,name,wide,yaml"
        );
    }

    #[test]
    fn label_and_annotate() {
        assert_eq!(
            cmd("label pods web-0 tier=fe env- --overwrite"),
            Command::Label {
                kind: Kind::Pod,
                names: vec!["web-0".into()],
                all: false,
                changes: vec![
                    MetaChange::Set {
                        key: "tier".into(),
                        value: "fe".into()
                    },
                    MetaChange::Remove { key: "env".into() }
                ],
                overwrite: true
            }
        );
        assert_eq!(
            cmd("annotate deploy/web a.example.com/x=1"),
            Command::Annotate {
                kind: Kind::Deployment,
                names: vec!["web".into()],
                all: false,
                changes: vec![MetaChange::Set {
                    key: "a.example.com/x".into(),
                    value: "1".into()
                }],
                overwrite: false
            }
        );
        assert_eq!(
            cmd("label nodes --all pool=a"),
            Command::Label {
                kind: Kind::Node,
                names: vec![],
                all: true,
                changes: vec![MetaChange::Set {
                    key: "pool".into(),
                    value: "a".into()
                }],
                overwrite: false
            }
        );
        assert_eq!(
            err("label pods web-0"),
            "error: at least one label update is required"
        );
        assert_eq!(
            err("annotate pods web-0"),
            "error: at least one annotation update is required"
        );
        assert_eq!(
            err("label pods web-0 a=b --overwrite=maybe"),
            "error: invalid argument \"maybe\" for \"--overwrite\" flag: strconv.ParseBool: parsing \"maybe\": invalid syntax"
        );
    }

    #[test]
    fn taint_cordon_drain() {
        assert_eq!(
            cmd("taint nodes n1 dedicated=gpu:NoSchedule spot:PreferNoSchedule- legacy-"),
            Command::Taint {
                nodes: vec!["n1".into()],
                all: false,
                changes: vec![
                    TaintChange::Add {
                        key: "dedicated".into(),
                        value: Some("gpu".into()),
                        effect: "NoSchedule".into()
                    },
                    TaintChange::Remove {
                        key: "spot".into(),
                        effect: Some("PreferNoSchedule".into())
                    },
                    TaintChange::Remove {
                        key: "legacy".into(),
                        effect: None
                    },
                ],
                overwrite: false
            }
        );
        assert_eq!(
            cmd("taint node/n2 k:NoExecute"),
            Command::Taint {
                nodes: vec!["n2".into()],
                all: false,
                changes: vec![TaintChange::Add {
                    key: "k".into(),
                    value: None,
                    effect: "NoExecute".into()
                }],
                overwrite: false
            }
        );
        assert_eq!(
            err("taint nodes n1 k=v:Sometimes"),
            "error: invalid taint effect: Sometimes, unsupported taint effect"
        );
        assert_eq!(
            err("taint nodes n1"),
            "error: at least one taint update is required"
        );
        assert_eq!(err("taint nodes n1 k=v"), "error: invalid taint spec: k=v");
        assert_eq!(
            err("taint pods p1 k=v:NoSchedule"),
            "error: invalid resource type pods, only node types are supported"
        );
        assert_eq!(
            cmd("cordon n1"),
            Command::Cordon {
                nodes: vec!["n1".into()]
            }
        );
        assert_eq!(
            cmd("uncordon n1"),
            Command::Uncordon {
                nodes: vec!["n1".into()]
            }
        );
        assert_eq!(err("cordon"), "error: USAGE: cordon NODE [flags]");
        assert_eq!(
            cmd("drain n1 --ignore-daemonsets --delete-emptydir-data --force --grace-period=30"),
            Command::Drain {
                nodes: vec!["n1".into()],
                ignore_daemonsets: true,
                delete_emptydir_data: true,
                force: true,
                grace_period: Some(30),
                disable_eviction: false,
                timeout: None,
            }
        );
        assert_eq!(err("drain"), "error: USAGE: drain NODE [flags]");
    }

    #[test]
    fn rollout_and_set_image() {
        assert_eq!(
            cmd("rollout restart deployment web"),
            Command::RolloutRestart {
                targets: vec![r(Kind::Deployment, "web")]
            }
        );
        assert_eq!(
            cmd("rollout restart deploy/web"),
            Command::RolloutRestart {
                targets: vec![r(Kind::Deployment, "web")]
            }
        );
        assert_eq!(
            cmd("set image deployment/web nginx=nginx:1.26 side=registry.io/org/side:2"),
            Command::SetImage {
                target: r(Kind::Deployment, "web"),
                images: vec![
                    ("nginx".into(), "nginx:1.26".into()),
                    ("side".into(), "registry.io/org/side:2".into())
                ]
            }
        );
        assert_eq!(
            cmd("set image deploy web *=busybox"),
            Command::SetImage {
                target: r(Kind::Deployment, "web"),
                images: vec![("*".into(), "busybox".into())]
            }
        );
        assert_eq!(
            err("set image deployment/web"),
            "error: at least one image update is required"
        );
        assert_eq!(
            err("rollout status deploy/web"),
            "error: \"kubectl rollout status\" is not supported by the kscale twin"
        );
        assert_eq!(
            err("rollout restart pod/p"),
            "error: pods/p restarting is not supported"
        );
    }

    #[test]
    fn command_and_flag_errors() {
        assert_eq!(
            err("kubectl frobnicate"),
            "error: unknown command \"frobnicate\" for \"kubectl\""
        );
        assert_eq!(err("get pods --foo"), "error: unknown flag: --foo");
        assert_eq!(
            err("get pods -z"),
            "error: unknown shorthand flag: 'z' in -z"
        );
        assert_eq!(
            err("get pods -n"),
            "error: flag needs an argument: 'n' in -n"
        );
        assert_eq!(err("--foo get pods"), "error: unknown flag: --foo");
        assert_eq!(
            err("logs web-0"),
            "error: \"kubectl logs\" is not supported by the kscale twin"
        );
        assert_eq!(parse_command_line("").unwrap_err().kind, ErrorKind::Usage);
        assert_eq!(
            err("get pods -A=maybe"),
            "error: invalid argument \"maybe\" for \"-A, --all-namespaces\" flag: strconv.ParseBool: parsing \"maybe\": invalid syntax"
        );
    }

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

    proptest::proptest! {
        #[test]
        fn parser_never_panics(line in "\\PC{0,80}") {
            let _ = parse_command_line(&line);
        }

        #[test]
        fn parser_never_panics_on_kubectl_like_words(
            words in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just("get".to_string()),
                    proptest::strategy::Just("delete".to_string()),
                    proptest::strategy::Just("scale".to_string()),
                    proptest::strategy::Just("taint".to_string()),
                    proptest::strategy::Just("label".to_string()),
                    proptest::strategy::Just("set".to_string()),
                    proptest::strategy::Just("rollout".to_string()),
                    proptest::strategy::Just("create".to_string()),
                    proptest::strategy::Just("pods".to_string()),
                    proptest::strategy::Just("nodes".to_string()),
                    proptest::strategy::Just("-".to_string()),
                    proptest::strategy::Just("--".to_string()),
                    proptest::strategy::Just("-n".to_string()),
                    proptest::strategy::Just("--replicas".to_string()),
                    "[-=:/a-z0-9A-Z,]{0,12}",
                ],
                0..8,
            )
        ) {
            let _ = parse_args(&words);
        }
    }
}
