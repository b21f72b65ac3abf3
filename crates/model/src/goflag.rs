//! Go program command lines as `github.com/spf13/pflag` (v1.0.10, `flag.go`, `errors.go`,
//! `bool.go`, `golangflag.go`) parses them, plus Go's `strconv.ParseBool` / `ParseInt`.
//!
//! kubectl, the Cluster Autoscaler and the cluster-proportional-autoscaler all read their
//! flags through pflag (the autoscalers register their Go `flag` flags with
//! `pflag.CommandLine.AddGoFlagSet` and parse with `k8s.io/component-base/cli/flag.InitFlags`),
//! so one parser serves every place kscale reads such a command line:
//!
//! - `--name=value`, `--name value`, `-n value`, `-nvalue`, `-n=value`;
//! - boolean flags take `--flag` (true) or `--flag=<ParseBool value>`, never a separate word;
//!   boolean shorthands combine (`-Aw`);
//! - `--` ends the flags; `-` and the empty word are positional;
//! - a single dash always starts shorthands: `-name` is the shorthands `n`, `a`, `m`, `e`
//!   (pflag rejects it where Go's own `flag` package would read the long flag `name`);
//! - `--help` / `-h`, when not defined, ask for help ([`FlagError::HelpRequested`]);
//! - shorthands starting with `test.` (`-test.v`, Go test flags) are skipped silently.
//!
//! [`FlagSet::parse`] is pflag's `Parse` (boolean values are checked, other values are
//! strings), [`FlagSet::parse_all`] its `ParseAll` (a callback sees every value), and
//! [`FlagSet::parse_lenient`] a kscale addition for container flags: an argument pflag
//! rejects is reported and skipped instead of ending the parse. Error texts are pflag's.
//!
//! One deviation: pflag works on bytes, so a non-ASCII shorthand character appears as a
//! garbled rune in its errors; here it is the character itself.

use std::fmt;

/// How a flag takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlagKind {
    /// pflag's `Bool` (and a Go `flag.Bool` added with `AddGoFlagSet`): `--flag` means
    /// `true`, `--flag=VALUE` takes a [`parse_bool`] value; it never takes the next word.
    Bool,
    /// A flag with a value: `--flag=v`, `--flag v`, `-f v`, `-fv`, `-f=v`.
    Value,
}

/// One flag a [`FlagSet`] defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// The long name, without dashes (normalized when the set normalizes word separators).
    pub name: String,
    /// The one-character shorthand (`-n`), if any.
    pub shorthand: Option<char>,
    /// Boolean or value flag.
    pub kind: FlagKind,
    /// pflag's `NoOptDefVal`: the value of the bare flag (`--flag`, `-f`) without its next
    /// word; `"true"` for boolean flags.
    pub no_opt_default: Option<String>,
}

impl Flag {
    /// The flag as pflag names it in an invalid-value error: `-n, --namespace` or `--name`.
    pub fn display_name(&self) -> String {
        match self.shorthand {
            Some(c) => format!("-{c}, --{}", self.name),
            None => format!("--{}", self.name),
        }
    }
}

/// A parse error, worded as pflag's (`errors.go`, `flag.go`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    /// `--name` that the set does not define.
    #[error("unknown flag: --{name}")]
    UnknownFlag {
        /// The name as written, without dashes and value.
        name: String,
    },
    /// A shorthand that the set does not define.
    #[error("unknown shorthand flag: {} in -{shorthands}", quote_rune(*.shorthand))]
    UnknownShorthand {
        /// The unknown character.
        shorthand: char,
        /// The shorthand group from that character on (`ukn` for `-ukn`).
        shorthands: String,
    },
    /// `--name` last on the line while it needs a value.
    #[error("flag needs an argument: --{name}")]
    NeedsArgument {
        /// The name as written.
        name: String,
    },
    /// A shorthand last on the line while it needs a value.
    #[error("flag needs an argument: {} in -{shorthands}", quote_rune(*.shorthand))]
    NeedsShorthandArgument {
        /// The shorthand character.
        shorthand: char,
        /// The shorthand group from that character on.
        shorthands: String,
    },
    /// A value the flag rejects (see [`FlagError::invalid_value`]).
    #[error("invalid argument {} for {} flag: {cause}", quote(.value), quote(.flag))]
    InvalidValue {
        /// The flag as [`Flag::display_name`] gives it.
        flag: String,
        /// The value given.
        value: String,
        /// Why the value was rejected, e.g. `strconv.ParseBool: parsing "x": invalid syntax`.
        cause: String,
    },
    /// A word that starts like a long flag but names none: `---x`, `--=x`.
    #[error("bad flag syntax: {arg}")]
    BadSyntax {
        /// The word as written.
        arg: String,
    },
    /// `--help` or `-h` given while the set does not define it: pflag's `ErrHelp`, after
    /// which a Go program prints its usage.
    #[error("pflag: help requested")]
    HelpRequested {
        /// The unknown-flag error the same word raises when help is not special.
        unknown: Box<FlagError>,
    },
}

impl FlagError {
    /// pflag's `InvalidValueError` for `flag` given `value`, rejected because of `cause`.
    pub fn invalid_value(flag: &Flag, value: &str, cause: impl fmt::Display) -> FlagError {
        FlagError::InvalidValue {
            flag: flag.display_name(),
            value: value.to_string(),
            cause: cause.to_string(),
        }
    }
}

/// The flags of a parse, in command-line order, and the positional arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// `(flag name, value)` pairs in command-line order; bare boolean flags carry `"true"`.
    pub flags: Vec<(String, String)>,
    /// Positional arguments (and everything after `--`), in order.
    pub args: Vec<String>,
    /// pflag's `ArgsLenAtDash`: how many positional arguments came before `--`, if any.
    pub args_len_at_dash: Option<usize>,
    /// Unknown flags skipped because the set allows them ([`FlagSet::allow_unknown_flags`]),
    /// as written without dashes (`frobnicate`, `u`).
    pub unknown: Vec<String>,
}

impl Parsed {
    /// The last value given for `name`, if any.
    pub fn last(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value given for `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.flags
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` was given (pflag's `Changed`).
    pub fn changed(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _)| n == name)
    }
}

/// The flags a Go program defines, and how it parses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagSet {
    flags: Vec<Flag>,
    normalize_word_separators: bool,
    allow_unknown_flags: bool,
    interspersed: bool,
}

impl Default for FlagSet {
    fn default() -> Self {
        FlagSet::new()
    }
}

/// Where the parse loop sends values and errors.
trait Sink {
    /// Accepts (or rejects) one value.
    fn set(&mut self, flag: &Flag, value: &str) -> Result<(), FlagError>;
    /// `Err` ends the parse with `e`; `Ok` goes on past the argument.
    fn fail(&mut self, e: FlagError) -> Result<(), FlagError>;
}

struct Strict<F>(F);

impl<F: FnMut(&Flag, &str) -> Result<(), FlagError>> Sink for Strict<F> {
    fn set(&mut self, flag: &Flag, value: &str) -> Result<(), FlagError> {
        (self.0)(flag, value)
    }
    fn fail(&mut self, e: FlagError) -> Result<(), FlagError> {
        Err(e)
    }
}

struct Lenient<F>(F);

impl<F: FnMut(Result<(&Flag, &str), FlagError>)> Sink for Lenient<F> {
    fn set(&mut self, flag: &Flag, value: &str) -> Result<(), FlagError> {
        check_bool(flag, value)?;
        (self.0)(Ok((flag, value)));
        Ok(())
    }
    fn fail(&mut self, e: FlagError) -> Result<(), FlagError> {
        (self.0)(Err(e));
        Ok(())
    }
}

/// pflag's `boolValue.Set`, wrapped as `FlagSet.Set` wraps it.
fn check_bool(flag: &Flag, value: &str) -> Result<(), FlagError> {
    if flag.kind == FlagKind::Bool {
        parse_bool(value).map_err(|e| FlagError::invalid_value(flag, value, e))?;
    }
    Ok(())
}

/// pflag's `stripUnknownFlagValue`: how many of `rest` an unknown flag takes as its value
/// (the next word, unless there is none or it starts with `-`).
fn unknown_value_len(rest: &[String]) -> usize {
    match rest.first() {
        Some(w) if !w.starts_with('-') => 1,
        _ => 0,
    }
}

impl FlagSet {
    /// An empty set: interspersed positional arguments, no name normalization, unknown
    /// flags are errors.
    pub fn new() -> Self {
        FlagSet {
            flags: Vec::new(),
            normalize_word_separators: false,
            allow_unknown_flags: false,
            interspersed: true,
        }
    }

    /// Adds a boolean flag.
    pub fn bool(mut self, name: &str, shorthand: Option<char>) -> Self {
        self.add(Flag {
            name: name.to_string(),
            shorthand,
            kind: FlagKind::Bool,
            no_opt_default: Some("true".to_string()),
        });
        self
    }

    /// Adds a flag that takes a value.
    pub fn value(mut self, name: &str, shorthand: Option<char>) -> Self {
        self.add(Flag {
            name: name.to_string(),
            shorthand,
            kind: FlagKind::Value,
            no_opt_default: None,
        });
        self
    }

    /// Adds a flag of `kind` (a boolean flag gets its `"true"` default).
    pub fn flag(self, name: &str, shorthand: Option<char>, kind: FlagKind) -> Self {
        match kind {
            FlagKind::Bool => self.bool(name, shorthand),
            FlagKind::Value => self.value(name, shorthand),
        }
    }

    /// Adds a flag; its name is normalized as the set's names are. A later definition of a
    /// name or shorthand already present is shadowed by the first.
    pub fn add(&mut self, mut flag: Flag) {
        flag.name = self.normalize(&flag.name);
        self.flags.push(flag);
    }

    /// `WordSepNormalizeFunc` of `k8s.io/component-base/cli/flag` (kubectl and both
    /// autoscalers set it): `_` in a flag name reads as `-`, so `--log_dir` is `--log-dir`.
    pub fn normalize_word_separators(mut self, on: bool) -> Self {
        self.normalize_word_separators = on;
        let names: Vec<String> = self.flags.iter().map(|f| self.normalize(&f.name)).collect();
        for (f, n) in self.flags.iter_mut().zip(names) {
            f.name = n;
        }
        self
    }

    /// pflag's `ParseErrorsAllowlist.UnknownFlags`: unknown flags are skipped (with the next
    /// word as their value unless it starts with `-`) and listed in [`Parsed::unknown`].
    pub fn allow_unknown_flags(mut self, on: bool) -> Self {
        self.allow_unknown_flags = on;
        self
    }

    /// pflag's `SetInterspersed`: when off, the first positional argument ends the flags.
    pub fn interspersed(mut self, on: bool) -> Self {
        self.interspersed = on;
        self
    }

    fn normalize(&self, name: &str) -> String {
        if self.normalize_word_separators {
            name.replace('_', "-")
        } else {
            name.to_string()
        }
    }

    /// The flag named `name` (normalized first).
    pub fn lookup(&self, name: &str) -> Option<&Flag> {
        let n = self.normalize(name);
        self.flags.iter().find(|f| f.name == n)
    }

    /// The flag with shorthand `c`.
    pub fn shorthand_lookup(&self, c: char) -> Option<&Flag> {
        self.flags.iter().find(|f| f.shorthand == Some(c))
    }

    /// pflag's `Parse`: boolean values must satisfy [`parse_bool`], other values are taken
    /// as they are. Stops at the first error.
    pub fn parse<S: AsRef<str>>(&self, args: &[S]) -> Result<Parsed, FlagError> {
        self.parse_all(args, check_bool)
    }

    /// pflag's `ParseAll`: `set` sees every flag and its raw value in order (boolean values
    /// unchecked) and may reject it, which ends the parse with that error (build one with
    /// [`FlagError::invalid_value`] for pflag's wording).
    pub fn parse_all<S: AsRef<str>>(
        &self,
        args: &[S],
        set: impl FnMut(&Flag, &str) -> Result<(), FlagError>,
    ) -> Result<Parsed, FlagError> {
        let args: Vec<String> = args.iter().map(|s| s.as_ref().to_string()).collect();
        self.run(&args, &mut Strict(set))
    }

    /// Parses as [`FlagSet::parse`] does but never stops: `each` receives every accepted
    /// `(flag, value)` and every error in command-line order, and parsing goes on after the
    /// argument at fault. An unknown long flag (or help request) skips its value as an
    /// allowed unknown flag does; an unknown shorthand or bad syntax skips the rest of its
    /// word (and, for a shorthand ending the word, the value an unknown flag would take);
    /// an invalid value drops that one flag.
    pub fn parse_lenient<S: AsRef<str>>(
        &self,
        args: &[S],
        each: impl FnMut(Result<(&Flag, &str), FlagError>),
    ) -> Parsed {
        let args: Vec<String> = args.iter().map(|s| s.as_ref().to_string()).collect();
        self.run(&args, &mut Lenient(each))
            .expect("a lenient sink never stops the parse")
    }

    /// pflag's `parseArgs`.
    fn run(&self, args: &[String], sink: &mut dyn Sink) -> Result<Parsed, FlagError> {
        let mut out = Parsed::default();
        let mut i = 0;
        while i < args.len() {
            let s = args[i].as_str();
            i += 1;
            if s.len() < 2 || !s.starts_with('-') {
                out.args.push(s.to_string());
                if !self.interspersed {
                    out.args.extend(args[i..].iter().cloned());
                    return Ok(out);
                }
                continue;
            }
            if s == "--" {
                out.args_len_at_dash = Some(out.args.len());
                out.args.extend(args[i..].iter().cloned());
                break;
            }
            if s.starts_with("--") {
                self.parse_long(s, args, &mut i, &mut out, sink)?;
            } else {
                self.parse_short(s, args, &mut i, &mut out, sink)?;
            }
        }
        Ok(out)
    }

    /// Hands one value to the sink and records it when accepted.
    fn apply(
        flag: &Flag,
        value: &str,
        out: &mut Parsed,
        sink: &mut dyn Sink,
    ) -> Result<(), FlagError> {
        match sink.set(flag, value) {
            Ok(()) => {
                out.flags.push((flag.name.clone(), value.to_string()));
                Ok(())
            }
            Err(e) => sink.fail(e),
        }
    }

    /// pflag's `parseLongArg`; `*i` indexes the word after `s`.
    fn parse_long(
        &self,
        s: &str,
        args: &[String],
        i: &mut usize,
        out: &mut Parsed,
        sink: &mut dyn Sink,
    ) -> Result<(), FlagError> {
        let body = &s[2..];
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return sink.fail(FlagError::BadSyntax { arg: s.to_string() });
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let Some(flag) = self.lookup(name) else {
            let unknown = FlagError::UnknownFlag {
                name: name.to_string(),
            };
            if name == "help" {
                sink.fail(FlagError::HelpRequested {
                    unknown: Box::new(unknown),
                })?;
            } else if self.allow_unknown_flags {
                out.unknown.push(name.to_string());
            } else {
                sink.fail(unknown)?;
            }
            if inline.is_none() {
                *i += unknown_value_len(&args[*i..]);
            }
            return Ok(());
        };
        let value = if let Some(v) = inline {
            v
        } else if let Some(d) = &flag.no_opt_default {
            d.as_str()
        } else if *i < args.len() {
            *i += 1;
            args[*i - 1].as_str()
        } else {
            return sink.fail(FlagError::NeedsArgument {
                name: name.to_string(),
            });
        };
        Self::apply(flag, value, out, sink)
    }

    /// pflag's `parseShortArg` and `parseSingleShortArg`; `*i` indexes the word after `s`.
    fn parse_short(
        &self,
        s: &str,
        args: &[String],
        i: &mut usize,
        out: &mut Parsed,
        sink: &mut dyn Sink,
    ) -> Result<(), FlagError> {
        let start = *i;
        // pflag hands every shorthand of the group the same remaining words, so only the
        // last one's use of them counts.
        let mut taken = 0;
        let mut shorthands = &s[1..];
        while let Some(c) = shorthands.chars().next() {
            if shorthands.starts_with("test.") {
                taken = 0;
                break;
            }
            let rest = &shorthands[c.len_utf8()..];
            let Some(flag) = self.shorthand_lookup(c) else {
                let unknown = FlagError::UnknownShorthand {
                    shorthand: c,
                    shorthands: shorthands.to_string(),
                };
                if c != 'h' && self.allow_unknown_flags {
                    out.unknown.push(c.to_string());
                    if rest.len() > 1 && rest.starts_with('=') {
                        taken = 0;
                        break;
                    }
                    taken = unknown_value_len(&args[start..]);
                    shorthands = rest;
                    continue;
                }
                sink.fail(if c == 'h' {
                    FlagError::HelpRequested {
                        unknown: Box::new(unknown),
                    }
                } else {
                    unknown
                })?;
                taken = if rest.is_empty() {
                    unknown_value_len(&args[start..])
                } else {
                    0
                };
                break;
            };
            let value;
            if rest.len() > 1 && rest.starts_with('=') {
                value = &rest[1..];
                shorthands = "";
                taken = 0;
            } else if let Some(d) = &flag.no_opt_default {
                value = d.as_str();
                shorthands = rest;
                taken = 0;
            } else if !rest.is_empty() {
                value = rest;
                shorthands = "";
                taken = 0;
            } else if start < args.len() {
                value = args[start].as_str();
                shorthands = "";
                taken = 1;
            } else {
                sink.fail(FlagError::NeedsShorthandArgument {
                    shorthand: c,
                    shorthands: shorthands.to_string(),
                })?;
                break;
            }
            Self::apply(flag, value, out, sink)?;
        }
        *i = start + taken;
        Ok(())
    }
}

/// Why a `strconv` parse failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumErrorKind {
    /// `strconv.ErrSyntax`: "invalid syntax".
    Syntax,
    /// `strconv.ErrRange`: "value out of range".
    Range,
}

impl fmt::Display for NumErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NumErrorKind::Syntax => "invalid syntax",
            NumErrorKind::Range => "value out of range",
        })
    }
}

/// Go's `*strconv.NumError`: `strconv.ParseBool: parsing "maybe": invalid syntax`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("strconv.{func}: parsing {}: {kind}", quote(.num))]
pub struct NumError {
    /// The failing function (`ParseBool`, `ParseInt`).
    pub func: &'static str,
    /// The input.
    pub num: String,
    /// The reason.
    pub kind: NumErrorKind,
}

/// Go's `strconv.ParseBool` (`src/internal/strconv/atob.go` since Go 1.26): `1`, `t`, `T`,
/// `TRUE`, `true`, `True` are true; `0`, `f`, `F`, `FALSE`, `false`, `False` are false.
pub fn parse_bool(s: &str) -> Result<bool, NumError> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(NumError {
            func: "ParseBool",
            num: s.to_string(),
            kind: NumErrorKind::Syntax,
        }),
    }
}

/// Go's `strconv.ParseInt(s, 0, bits)` (pflag's and Go `flag`'s integer flags): optional
/// sign, `0x` / `0o` / `0b` / leading-`0` (octal) prefixes, `_` between digits; `bits` is
/// 1 to 64.
pub fn parse_int(s: &str, bits: u32) -> Result<i64, NumError> {
    let err = |kind| NumError {
        func: "ParseInt",
        num: s.to_string(),
        kind,
    };
    if s.is_empty() {
        return Err(err(NumErrorKind::Syntax));
    }
    let (neg, body) = match s.as_bytes()[0] {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let un = match parse_uint_base0(body, bits) {
        Ok(u) => u,
        Err(NumErrorKind::Range) => u64::MAX,
        Err(k) => return Err(err(k)),
    };
    let cutoff = 1u64 << (bits - 1);
    if (!neg && un >= cutoff) || (neg && un > cutoff) {
        return Err(err(NumErrorKind::Range));
    }
    Ok(if neg {
        (un as i128).wrapping_neg() as i64
    } else {
        un as i64
    })
}

/// Go's `strconv.ParseUint(s, 0, bits)` (`src/internal/strconv/atoi.go`).
fn parse_uint_base0(s: &str, bits: u32) -> Result<u64, NumErrorKind> {
    if s.is_empty() {
        return Err(NumErrorKind::Syntax);
    }
    let b = s.as_bytes();
    let (base, digits): (u64, &[u8]) = if b[0] == b'0' {
        match b.get(1).map(u8::to_ascii_lowercase) {
            Some(b'b') if b.len() >= 3 => (2, &b[2..]),
            Some(b'o') if b.len() >= 3 => (8, &b[2..]),
            Some(b'x') if b.len() >= 3 => (16, &b[2..]),
            _ => (8, &b[1..]),
        }
    } else {
        (10, b)
    };
    let cutoff = u64::MAX / base + 1;
    let max = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let mut underscores = false;
    let mut n: u64 = 0;
    for &c in digits {
        let d = match c {
            b'_' => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => (c - b'0') as u64,
            _ if c.is_ascii_alphabetic() => (c.to_ascii_lowercase() - b'a') as u64 + 10,
            _ => return Err(NumErrorKind::Syntax),
        };
        if d >= base {
            return Err(NumErrorKind::Syntax);
        }
        if n >= cutoff {
            return Err(NumErrorKind::Range);
        }
        n *= base;
        let n1 = n.wrapping_add(d);
        if n1 < n || n1 > max {
            return Err(NumErrorKind::Range);
        }
        n = n1;
    }
    if underscores && !underscore_ok(s) {
        return Err(NumErrorKind::Syntax);
    }
    Ok(n)
}

/// Go's `underscoreOK`: `_` only between digits or after a base prefix.
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let b = match b.first() {
        Some(b'+' | b'-') => &b[1..],
        _ => b,
    };
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    for &c in &b[i..] {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
            continue;
        }
        if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
            continue;
        }
        if saw == b'_' {
            return false;
        }
        saw = b'!';
    }
    saw != b'_'
}

/// Go's `%q` of a string (`strconv.Quote`). Printability is Go's for ASCII, control and
/// space characters and the common format characters; other characters are kept as they are.
pub fn quote(s: &str) -> String {
    quote_with(s.chars(), '"')
}

/// Go's `%q` of a rune (`strconv.QuoteRune`): `'z'`, `'\''`.
pub fn quote_rune(c: char) -> String {
    quote_with(std::iter::once(c), '\'')
}

fn quote_with(chars: impl Iterator<Item = char>, q: char) -> String {
    let mut out = String::new();
    out.push(q);
    for c in chars {
        match c {
            _ if c == q || c == '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            _ if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            _ if !is_go_print(c) => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            _ => out.push(c),
        }
    }
    out.push(q);
    out
}

/// An approximation of Go's `strconv.IsPrint` beyond ASCII: control characters, spaces
/// other than U+0020 and the common format characters are not printable.
fn is_go_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}'))
}

/// The warning for an argument pflag rejects, where upstream exits and kscale goes on
/// without it (`unknown flag --x ignored`, `<pflag's error>; flag ignored`).
pub fn ignored_warning(e: &FlagError) -> String {
    match e {
        FlagError::UnknownFlag { name } => format!("unknown flag --{name} ignored"),
        FlagError::HelpRequested { unknown } => ignored_warning(unknown),
        e => format!("{e}; flag ignored"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// Records flags the way pflag's tests' `store` callback does: name, then the value
    /// when not empty.
    fn stored(p: &Parsed) -> Vec<String> {
        let mut got = vec![];
        for (n, v) in &p.flags {
            got.push(n.clone());
            if !v.is_empty() {
                got.push(v.clone());
            }
        }
        got
    }

    /// `flag_test.go` `testParse` (value flags stand for pflag's typed ones: the typed
    /// conversions are the caller's).
    #[test]
    fn pflag_test_parse() {
        let mut f = FlagSet::new()
            .bool("bool", None)
            .bool("bool2", None)
            .bool("bool3", None);
        for n in [
            "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32",
            "uint64", "string", "float32", "float64", "ip", "mask", "duration",
        ] {
            f = f.value(n, None);
        }
        f.add(Flag {
            name: "optional-int-no-value".into(),
            shorthand: None,
            kind: FlagKind::Value,
            no_opt_default: Some("9".into()),
        });
        f = f.value("optional-int-with-value", None);
        let args = [
            "--bool",
            "--bool2=true",
            "--bool3=false",
            "--int=22",
            "--int8=-8",
            "--int16=-16",
            "--int32=-32",
            "--int64=0x23",
            "--uint",
            "24",
            "--uint8=8",
            "--uint16=16",
            "--uint32=32",
            "--uint64=25",
            "--string=hello",
            "--float32=-172e12",
            "--float64=2718e28",
            "--ip=10.11.12.13",
            "--mask=255.255.255.0",
            "--duration=2m",
            "--optional-int-no-value",
            "--optional-int-with-value=42",
            "one-extra-argument",
        ];
        let p = f.parse(&args).unwrap();
        assert_eq!(p.last("bool"), Some("true"));
        assert_eq!(parse_bool(p.last("bool2").unwrap()), Ok(true));
        assert_eq!(parse_bool(p.last("bool3").unwrap()), Ok(false));
        assert_eq!(parse_int(p.last("int").unwrap(), 64), Ok(22));
        assert_eq!(parse_int(p.last("int8").unwrap(), 8), Ok(-8));
        assert_eq!(parse_int(p.last("int64").unwrap(), 64), Ok(0x23));
        assert_eq!(p.last("uint"), Some("24"));
        assert_eq!(p.last("string"), Some("hello"));
        assert_eq!(p.last("duration"), Some("2m"));
        assert_eq!(p.last("optional-int-no-value"), Some("9"));
        assert_eq!(p.last("optional-int-with-value"), Some("42"));
        assert_eq!(p.args, ["one-extra-argument"]);
        assert_eq!(
            f.parse(&["--unknown"]).unwrap_err().to_string(),
            "unknown flag: --unknown"
        );
        assert_eq!(
            f.parse(&["--bool=abcdefg"]).unwrap_err().to_string(),
            r#"invalid argument "abcdefg" for "--bool" flag: strconv.ParseBool: parsing "abcdefg": invalid syntax"#
        );
        assert_eq!(
            f.parse(&["--int"]).unwrap_err().to_string(),
            "flag needs an argument: --int"
        );
    }

    fn shorthand_set() -> FlagSet {
        let mut f = FlagSet::new()
            .bool("boola", Some('a'))
            .bool("boolb", Some('b'))
            .bool("boolc", Some('c'))
            .bool("boold", Some('d'))
            .bool("boole", Some('e'))
            .value("stringa", Some('s'))
            .value("stringz", Some('z'))
            .value("stringy", Some('y'))
            .value("stringo", Some('o'));
        f.add(Flag {
            name: "stringx".into(),
            shorthand: Some('x'),
            kind: FlagKind::Value,
            no_opt_default: Some("1".into()),
        });
        f
    }

    /// `flag_test.go` `testParseAll`.
    #[test]
    fn pflag_test_parse_all() {
        let args = [
            "-ab",
            "-cs=xx",
            "--stringz=something",
            "-d=true",
            "-x",
            "-y",
            "ee",
        ];
        let mut seen = vec![];
        let p = shorthand_set()
            .parse_all(&args, |f, v| {
                seen.push((f.name.clone(), v.to_string()));
                Ok(())
            })
            .unwrap();
        let want = strs(&[
            "boola",
            "true",
            "boolb",
            "true",
            "boolc",
            "true",
            "stringa",
            "xx",
            "stringz",
            "something",
            "boold",
            "true",
            "stringx",
            "1",
            "stringy",
            "ee",
        ]);
        assert_eq!(stored(&p), want);
        assert_eq!(seen, p.flags);
    }

    /// `flag_test.go` `testParseWithUnknownFlags` (`TestIgnoreUnknownFlags`).
    #[test]
    fn pflag_test_ignore_unknown_flags() {
        let args = [
            "-ab",
            "-cs=xx",
            "--stringz=something",
            "--unknown1",
            "unknown1Value",
            "-d=true",
            "-x",
            "--unknown2=unknown2Value",
            "-u=unknown3Value",
            "-p",
            "unknown4Value",
            "-q",
            "-y",
            "ee",
            "--unknown7=unknown7value",
            "--stringo=ovalue",
            "--unknown8=unknown8value",
            "--boole",
            "--unknown6",
            "",
            "-uuuuu",
            "",
            "--unknown10",
            "--unknown11",
        ];
        let p = shorthand_set()
            .allow_unknown_flags(true)
            .parse(&args)
            .unwrap();
        let want = strs(&[
            "boola",
            "true",
            "boolb",
            "true",
            "boolc",
            "true",
            "stringa",
            "xx",
            "stringz",
            "something",
            "boold",
            "true",
            "stringx",
            "1",
            "stringy",
            "ee",
            "stringo",
            "ovalue",
            "boole",
            "true",
        ]);
        assert_eq!(stored(&p), want);
        assert!(p.args.is_empty(), "{:?}", p.args);
        assert_eq!(p.unknown[..3], strs(&["unknown1", "unknown2", "u"]));
    }

    /// `flag_test.go` `TestShorthand`.
    #[test]
    fn pflag_test_shorthand() {
        let f = FlagSet::new()
            .bool("boola", Some('a'))
            .bool("boolb", Some('b'))
            .bool("boolc", Some('c'))
            .bool("boold", Some('d'))
            .value("stringa", Some('s'))
            .value("stringz", Some('z'));
        let args = [
            "-ab",
            "interspersed-argument",
            "-cs",
            "hello",
            "-z=something",
            "-d=true",
            "--",
            "--i-look-like-a-flag",
        ];
        let p = f.parse(&args).unwrap();
        for b in ["boola", "boolb", "boolc", "boold"] {
            assert_eq!(parse_bool(p.last(b).unwrap()), Ok(true), "{b}");
        }
        assert_eq!(p.last("stringa"), Some("hello"));
        assert_eq!(p.last("stringz"), Some("something"));
        assert_eq!(p.args, ["interspersed-argument", "--i-look-like-a-flag"]);
        assert_eq!(p.args_len_at_dash, Some(1));
        assert_eq!(
            f.parse(&["-ukn"]).unwrap_err().to_string(),
            "unknown shorthand flag: 'u' in -ukn"
        );
        assert_eq!(
            f.parse(&["-as"]).unwrap_err().to_string(),
            "flag needs an argument: 's' in -s"
        );
    }

    /// `flag_test.go` `TestNoInterspersed`.
    #[test]
    fn pflag_test_no_interspersed() {
        let f = FlagSet::new()
            .interspersed(false)
            .bool("true", None)
            .bool("false", None);
        let p = f.parse(&["--true", "break", "--false"]).unwrap();
        assert_eq!(p.args, ["break", "--false"]);
        assert!(!p.changed("false"));
    }

    /// `flag_test.go` `TestTermination`.
    #[test]
    fn pflag_test_termination() {
        let f = FlagSet::new().bool("bool", Some('l'));
        let p = f.parse(&["--", "ls", "-l"]).unwrap();
        assert!(!p.changed("bool"));
        assert_eq!(p.args, ["ls", "-l"]);
        assert_eq!(p.args_len_at_dash, Some(0));
        assert_eq!(f.parse(&["ls"]).unwrap().args_len_at_dash, None);
    }

    /// `flag_test.go` `TestHelp`.
    #[test]
    fn pflag_test_help() {
        let f = FlagSet::new().bool("flag", None);
        assert_eq!(
            f.parse(&["--flag=true"]).unwrap().last("flag"),
            Some("true")
        );
        let e = f.parse(&["--help"]).unwrap_err();
        assert_eq!(e.to_string(), "pflag: help requested");
        assert_eq!(
            e,
            FlagError::HelpRequested {
                unknown: Box::new(FlagError::UnknownFlag {
                    name: "help".into()
                })
            }
        );
        assert_eq!(
            f.parse(&["-h"]).unwrap_err().to_string(),
            "pflag: help requested"
        );
        let f = f.bool("help", None);
        assert_eq!(f.parse(&["--help"]).unwrap().last("help"), Some("true"));
    }

    /// `flag_test.go` `TestWordSepNormalizedNames`.
    #[test]
    fn pflag_test_word_sep_normalized_names() {
        let f = FlagSet::new()
            .bool("with-dash-flag", None)
            .normalize_word_separators(true)
            .bool("with_under_flag", None)
            .bool("with-both_flag", None);
        for args in [
            ["--with-dash-flag", "--with-under-flag", "--with-both-flag"],
            ["--with_dash_flag", "--with_under_flag", "--with_both_flag"],
            ["--with-dash_flag", "--with-under_flag", "--with-both_flag"],
        ] {
            let p = f.parse(&args).unwrap();
            for n in ["with-dash-flag", "with-under-flag", "with-both-flag"] {
                assert_eq!(p.last(n), Some("true"), "{args:?} {n}");
            }
        }
        // Without normalization an underscore is part of the name.
        let e = FlagSet::new()
            .bool("log-dir", None)
            .parse(&["--log_dir"])
            .unwrap_err();
        assert_eq!(e.to_string(), "unknown flag: --log_dir");
    }

    /// `golangflag_test.go` `TestGoflags`: Go flags added to pflag, and `-test.*` skipped.
    #[test]
    fn pflag_test_goflags() {
        let f = FlagSet::new()
            .value("stringFlag", None)
            .bool("boolFlag", None)
            .value("test.xxx", None);
        let p = f
            .parse(&["--stringFlag=bob", "--boolFlag", "-test.xxx=testvalue"])
            .unwrap();
        assert_eq!(p.last("stringFlag"), Some("bob"));
        assert_eq!(p.last("boolFlag"), Some("true"));
        assert!(!p.changed("test.xxx"));
        assert!(p.args.is_empty());
    }

    /// `bool_test.go`: explicit and implicit values, shorthand, an extra argument.
    #[test]
    fn pflag_bool_tests() {
        let f = FlagSet::new().bool("tristate", Some('t'));
        let last = |args: &[&str]| f.parse(args).unwrap().last("tristate").map(str::to_string);
        assert_eq!(last(&["--tristate=true"]).as_deref(), Some("true"));
        assert_eq!(last(&["--tristate"]).as_deref(), Some("true"));
        assert_eq!(last(&["-t"]).as_deref(), Some("true"));
        assert_eq!(last(&["--tristate=false"]).as_deref(), Some("false"));
        assert_eq!(last(&[]), None);
        // TestShortFlagExtraArgument: a boolean never takes the next word.
        let p = f.parse(&["-t", "maybe"]).unwrap();
        assert_eq!(p.last("tristate"), Some("true"));
        assert_eq!(p.args, ["maybe"]);
        let p = f.parse(&["--tristate", "false"]).unwrap();
        assert_eq!(p.last("tristate"), Some("true"));
        assert_eq!(p.args, ["false"]);
        // TestInvalidValue.
        assert!(f.parse(&["--tristate=invalid"]).is_err());
        // Every strconv.ParseBool spelling, long and short.
        for (v, want) in [("1", true), ("t", true), ("F", false), ("FALSE", false)] {
            let p = f.parse(&[format!("--tristate={v}")]).unwrap();
            assert_eq!(parse_bool(p.last("tristate").unwrap()), Ok(want));
            let p = f.parse(&[format!("-t={v}")]).unwrap();
            assert_eq!(parse_bool(p.last("tristate").unwrap()), Ok(want));
        }
        assert_eq!(
            f.parse(&["-t=maybe"]).unwrap_err().to_string(),
            r#"invalid argument "maybe" for "-t, --tristate" flag: strconv.ParseBool: parsing "maybe": invalid syntax"#
        );
    }

    /// `errors.go` wording, including `bad flag syntax` (`TestInvalidSyntaxError`).
    #[test]
    fn error_wording() {
        let f = FlagSet::new()
            .value("name", Some('n'))
            .bool("all", Some('A'));
        let e = |args: &[&str]| f.parse(args).unwrap_err().to_string();
        assert_eq!(e(&["--="]), "bad flag syntax: --=");
        assert_eq!(e(&["---x"]), "bad flag syntax: ---x");
        assert_eq!(e(&["--=x"]), "bad flag syntax: --=x");
        assert_eq!(e(&["-Az"]), "unknown shorthand flag: 'z' in -z");
        assert_eq!(e(&["-A'"]), r"unknown shorthand flag: '\'' in -'");
        assert_eq!(e(&["-An"]), "flag needs an argument: 'n' in -n");
        assert_eq!(e(&["--name"]), "flag needs an argument: --name");
        assert_eq!(
            e(&["--all=x\ty"]),
            r#"invalid argument "x\ty" for "-A, --all" flag: strconv.ParseBool: parsing "x\ty": invalid syntax"#
        );
        // A value flag takes the next word even when it looks like a flag.
        assert_eq!(f.parse(&["-n", "-A"]).unwrap().last("name"), Some("-A"));
        assert_eq!(
            f.parse(&["--name", "--all"]).unwrap().last("name"),
            Some("--all")
        );
        // `-n=` is `-n` with value `=` (pflag needs a character after `=`).
        assert_eq!(f.parse(&["-n="]).unwrap().last("name"), Some("="));
        assert_eq!(f.parse(&["-nprod"]).unwrap().last("name"), Some("prod"));
        // Single-dash long flags are shorthand groups for pflag: `-name=x` is `-n` with
        // value `ame=x`, and `-all` fails on `a`.
        assert_eq!(f.parse(&["-name=x"]).unwrap().last("name"), Some("ame=x"));
        assert_eq!(e(&["-all"]), "unknown shorthand flag: 'a' in -all");
        // `-` and the empty word are positional.
        assert_eq!(f.parse(&["-", ""]).unwrap().args, ["-", ""]);
    }

    #[test]
    fn lenient_reports_and_goes_on() {
        let f = FlagSet::new()
            .normalize_word_separators(true)
            .value("v", Some('v'))
            .value("log-dir", None)
            .bool("on", None);
        let mut events = vec![];
        let p = f.parse_lenient(
            &[
                "./prog",
                "--frobnicate",
                "3",
                "--on=maybe",
                "-scale-down-enabled=false",
                "--log_dir=/x",
                "-x",
                "val",
                "---bad",
                "-v=4",
                "--on=1",
                "--help",
                "--v",
            ],
            |r| {
                events.push(match r {
                    Ok((flag, v)) => format!("{}={v}", flag.name),
                    Err(e) => e.to_string(),
                })
            },
        );
        assert_eq!(
            events,
            strs(&[
                "unknown flag: --frobnicate",
                r#"invalid argument "maybe" for "--on" flag: strconv.ParseBool: parsing "maybe": invalid syntax"#,
                "unknown shorthand flag: 's' in -scale-down-enabled=false",
                "log-dir=/x",
                "unknown shorthand flag: 'x' in -x",
                "bad flag syntax: ---bad",
                "v=4",
                "on=1",
                "pflag: help requested",
                "flag needs an argument: --v",
            ])
        );
        assert_eq!(
            p.flags,
            [
                ("log-dir".to_string(), "/x".to_string()),
                ("v".into(), "4".into()),
                ("on".into(), "1".into())
            ]
        );
        assert_eq!(p.args, ["./prog"]);
    }

    /// Go's `atob_test.go`.
    #[test]
    fn parse_bool_is_strconv_parse_bool() {
        for (s, want) in [
            ("0", false),
            ("f", false),
            ("F", false),
            ("FALSE", false),
            ("false", false),
            ("False", false),
            ("1", true),
            ("t", true),
            ("T", true),
            ("TRUE", true),
            ("true", true),
            ("True", true),
        ] {
            assert_eq!(parse_bool(s), Ok(want), "{s}");
        }
        for s in ["", "asdf", "yes", "tRUE", "on"] {
            assert_eq!(
                parse_bool(s).unwrap_err().to_string(),
                format!("strconv.ParseBool: parsing {}: invalid syntax", quote(s))
            );
        }
    }

    /// Results of Go 1.26's `strconv.ParseInt(s, 0, 64)` and `(s, 0, 32)`.
    #[test]
    fn parse_int_is_strconv_parse_int_base_0() {
        let ok = [
            ("42", 42),
            ("-7", -7),
            ("+7", 7),
            ("010", 8),
            ("0b101", 5),
            ("0o17", 15),
            ("0x_1F", 31),
            ("0", 0),
            ("1_000", 1000),
            ("0_7", 7),
            ("0B11", 3),
            ("0X1f", 31),
            ("0O7", 7),
            ("00", 0),
            ("0_0", 0),
            ("-2147483648", -2147483648),
        ];
        for (s, want) in ok {
            assert_eq!(parse_int(s, 64), Ok(want), "{s}");
            assert_eq!(parse_int(s, 32), Ok(want), "{s}");
        }
        let syntax = [
            "", "-", "+", "09", "0x", "1__0", "1_", "_1", "0x1F_", "08", "0b2", " 1", "1.0", "0_x1",
        ];
        for s in syntax {
            assert_eq!(
                parse_int(s, 64).unwrap_err().to_string(),
                format!("strconv.ParseInt: parsing {}: invalid syntax", quote(s))
            );
        }
        let range = |s: &str, bits| parse_int(s, bits).map_err(|e| e.kind);
        assert_eq!(range("99999999999999999999x", 64), Err(NumErrorKind::Range));
        assert_eq!(range("2147483648", 32), Err(NumErrorKind::Range));
        assert_eq!(range("2147483648", 64), Ok(2147483648));
        assert_eq!(range("-2147483649", 32), Err(NumErrorKind::Range));
        assert_eq!(range("9223372036854775807", 64), Ok(i64::MAX));
        assert_eq!(range("9223372036854775808", 64), Err(NumErrorKind::Range));
        assert_eq!(range("-9223372036854775808", 64), Ok(i64::MIN));
        assert_eq!(
            parse_int("3000000000", 32).unwrap_err().to_string(),
            r#"strconv.ParseInt: parsing "3000000000": value out of range"#
        );
    }

    /// Go's `%q`, checked against `fmt.Printf("%q")` output.
    #[test]
    fn quote_is_go_percent_q() {
        assert_eq!(
            quote("a\u{1}b\tc\u{e9}\u{85}\"\\"),
            r#""a\x01b\tcé\u0085\"\\""#
        );
        assert_eq!(quote("\u{7f}"), r#""\x7f""#);
        assert_eq!(quote("it's"), r#""it's""#);
        assert_eq!(quote_rune('z'), "'z'");
        assert_eq!(quote_rune('\''), r"'\''");
        assert_eq!(quote_rune('"'), "'\"'");
    }
}
