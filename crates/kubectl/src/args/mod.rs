//! kubectl command-line parsing: a shell-like tokenizer, cobra/pflag-like flag handling and
//! typed [`Command`]s.
//!
//! Flags follow pflag's rules, through the parser the autoscalers share
//! ([`kscale_model::goflag`]): `--flag value`, `--flag=value`, `-f value`, `-fvalue`,
//! `-f=value`, boolean flags take no separate value (`--force`, `--force=false`, any
//! `strconv.ParseBool` spelling), combined boolean shorthands (`-Aw`) work, `_` in a flag
//! name reads as `-`, and `--` ends flag parsing. Global flags (`-n`, `-A`, `-o`, `-l`) may
//! appear anywhere, before or after the verb.
//!
//! Errors mirror kubectl's wording (cobra, pflag and `strconv` messages included). Where
//! kubectl has no wording of its own (a step reading stdin, `--watch` in a batch step) the
//! message says what the twin does not do.
//!
//! Files: `types` (the parsed [`Command`] and friends), `flags` (flag tables and typed
//! access), `output` (`-o` formats), `resources` (resource arguments), and one file per verb
//! group: `workloads` (apply, create, delete, scale, autoscale, patch), `get` (get,
//! describe), `metadata` (label, annotate), `nodes` (taint, cordon, uncordon, drain),
//! `rollout` (rollout restart, set image). This file tokenizes and dispatches on the verb.

mod flags;
mod get;
mod metadata;
mod nodes;
mod output;
mod resources;
mod rollout;
mod top;
mod types;
mod wait;
mod workloads;

pub use nodes::parse_taint_spec;
pub use output::{CustomColumn, OutputFormat};
pub use types::{
    Command, CreateCommand, DeleteTarget, GlobalFlags, Invocation, MetaChange, ObjectRef,
    TaintChange, Target, TopCommand, TopResource, TopSort, WaitFor,
};
pub use workloads::validate_replicas;

use crate::error::{ErrorKind, KubectlError, Result};
use flags::{
    FlagDef, Flags, GLOBAL_FLAGS, go_quote, parse_leading_flags, parse_verb_flags, verb_flags,
};
use get::{parse_describe, parse_get};
use metadata::parse_label;
use nodes::{parse_cordon, parse_drain, parse_taint};
use rollout::{parse_rollout, parse_set};
use top::parse_top;
use wait::parse_wait;
use workloads::{
    parse_apply, parse_autoscale, parse_create, parse_delete, parse_patch, parse_scale,
};

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
    "top",
    "wait",
];

// ---------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------

/// Parses already-tokenized words (without the leading `kubectl`).
pub fn parse_args<S: AsRef<str>>(args: &[S]) -> Result<Invocation> {
    let words: Vec<String> = args.iter().map(|s| s.as_ref().to_string()).collect();
    let no_command = || {
        KubectlError::new(
            ErrorKind::Usage,
            "no command given: a step needs a kubectl command such as \"get pods\"",
        )
    };
    let Some(leading) = parse_leading_flags(&words)? else {
        return Err(no_command());
    };
    let Some((verb, rest)) = leading.args.split_first() else {
        return Err(no_command());
    };
    let verb = verb.clone();

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
    let (raw, positionals) = parse_verb_flags(&specs, &leading.flags, rest)?;

    let flags = Flags { raw: &raw, specs };
    // `create`, `top` and `rollout` narrow their flags by sub-command first (`Flags::only` checks the
    // values).
    if !matches!(verb.as_str(), "create" | "top" | "rollout" | "wait") {
        flags.check_values()?;
    }
    let global = GlobalFlags {
        namespace: flags.string("namespace"),
        all_namespaces: flags.bool("all-namespaces")?,
        // An empty `-o` is the default table (the human-readable printer takes it).
        output: match flags.string("output") {
            Some(o) if !o.is_empty() => Some(OutputFormat::parse(&o)?),
            _ => None,
        },
        selector: flags.string("selector"),
        field_selector: flags.string("field-selector"),
        show_labels: flags.bool("show-labels")?,
        label_columns: flags.list("label-columns"),
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
        "rollout" => parse_rollout(&flags, &positionals)?,
        "set" => parse_set(&positionals)?,
        "top" => parse_top(&flags, &positionals, &global)?,
        "wait" => parse_wait(&flags, &positionals)?,
        _ => unreachable!("verb checked above"),
    };
    Ok(Invocation { global, command })
}

fn usage(msg: impl AsRef<str>) -> KubectlError {
    KubectlError::new(ErrorKind::Usage, msg)
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Helpers shared by the tests of every `args` file.

    use super::*;
    use crate::kinds::Kind;

    pub(crate) fn p(line: &str) -> Invocation {
        parse_command_line(line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    pub(crate) fn cmd(line: &str) -> Command {
        p(line).command
    }

    pub(crate) fn err(line: &str) -> String {
        parse_command_line(line).expect_err(line).to_string()
    }

    pub(crate) fn r(kind: Kind, name: &str) -> ObjectRef {
        ObjectRef {
            kind,
            name: name.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::test_support::*;
    use crate::error::ErrorKind;
    use crate::kinds::Kind;

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
    fn label_columns_repeat_and_split_on_commas() {
        let i = p("get pods -L app,tier --label-columns=zone --show-labels");
        assert_eq!(i.global.label_columns, ["app", "tier", "zone"]);
        assert!(i.global.show_labels);
        let e = parse_command_line("scale deploy web --replicas=1 --show-labels").unwrap_err();
        assert!(e.to_string().contains("unknown flag: --show-labels"), "{e}");
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

    /// pflag's syntax, shared with the Cluster Autoscaler and the proportional autoscaler
    /// through `kscale_model::goflag`.
    #[test]
    fn pflag_syntax() {
        // `_` reads as `-` (kubectl's WarnWordSepNormalizeFunc).
        assert!(p("get pods --all_namespaces").global.all_namespaces);
        let Command::Delete { grace_period, .. } = cmd("delete pod a --grace_period=0") else {
            panic!()
        };
        assert_eq!(grace_period, Some(0));
        // A boolean never takes the next word; a value flag always does.
        let i = p("get pods -A web -n -x");
        assert!(i.global.all_namespaces);
        assert_eq!(i.global.namespace.as_deref(), Some("-x"));
        assert_eq!(
            i.command,
            Command::Get {
                targets: vec![Target {
                    kind: Kind::Pod,
                    name: Some("web".into())
                }]
            }
        );
        // Words that name no flag.
        assert_eq!(err("get pods ---foo"), "error: bad flag syntax: ---foo");
        assert_eq!(err("get pods --=x"), "error: bad flag syntax: --=x");
        // The unknown shorthand is named with the rest of its group.
        assert_eq!(
            err("get pods -Az"),
            "error: unknown shorthand flag: 'z' in -z"
        );
        // Values are checked in command-line order, also those the twin does not act on.
        assert_eq!(
            err("delete pod a --force=x --grace-period=y"),
            "error: invalid argument \"x\" for \"--force\" flag: strconv.ParseBool: parsing \"x\": invalid syntax"
        );
        assert!(
            err("delete pod a --wait=maybe")
                .starts_with("error: invalid argument \"maybe\" for \"--wait\" flag")
        );
        // Values before the verb are checked once the verb is known, as cobra finds the
        // command first.
        assert_eq!(
            err("-A=maybe frob pods"),
            "error: unknown command \"frob\" for \"kubectl\""
        );
        assert!(
            err("-A=maybe get pods")
                .starts_with("error: invalid argument \"maybe\" for \"-A, --all-namespaces\"")
        );
        // Sub-commands narrow the flags before values are checked.
        assert_eq!(
            err("create namespace a --replicas=x"),
            "error: unknown flag: --replicas"
        );
        // cobra answers --help with help text, which a step cannot show.
        assert_eq!(err("get pods --help"), "error: unknown flag: --help");
        assert_eq!(
            err("get pods -h"),
            "error: unknown shorthand flag: 'h' in -h"
        );
        assert_eq!(
            parse_command_line("get pods ---foo").unwrap_err().kind,
            ErrorKind::UnknownFlag
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
