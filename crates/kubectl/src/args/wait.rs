//! `wait` (k8s.io/kubectl `pkg/cmd/wait/wait.go`): `--for=condition=NAME[=VALUE]`,
//! `--for=delete`, `--for=create`, `--timeout` (default 30s), over named objects or `-l`/`--all`.

use super::flags::{Flags, go_quote};
use super::resources::{parse_resource_args, targets_from};
use super::types::{Command, WaitFor};
use super::usage;
use crate::error::{ErrorKind, KubectlError, Result};

/// kubectl's default `--timeout`.
const DEFAULT_TIMEOUT_MS: i64 = 30_000;

pub(super) fn parse_wait(flags: &Flags, pos: &[String]) -> Result<Command> {
    flags.only(&["for", "timeout", "all", "field-selector"])?;
    let conditions = flags.list("for");
    let Some(cond) = conditions.first() else {
        return Err(usage("--for must be specified"));
    };
    if conditions.len() > 1 {
        return Err(KubectlError::new(
            ErrorKind::Unsupported,
            "\"kubectl wait\" with several --for conditions is not supported by the kscale twin",
        ));
    }
    let lower = cond.to_ascii_lowercase();
    let wait_for = if lower == "delete" {
        WaitFor::Delete
    } else if lower == "create" {
        WaitFor::Create
    } else if let Some(rest) = cond.strip_prefix("condition=") {
        let (name, value) = rest.split_once('=').unwrap_or((rest, "true"));
        WaitFor::Condition {
            name: name.to_string(),
            value: value.to_string(),
        }
    } else if let Some(input) = cond.strip_prefix("jsonpath=") {
        jsonpath_wait(input)?
    } else {
        return Err(usage(format!("unrecognized condition: {}", go_quote(cond))));
    };
    // Zero checks once, a negative duration waits a week.
    let timeout_ms = match flags.duration_ms("timeout")? {
        None => DEFAULT_TIMEOUT_MS,
        Some(ms) if ms < 0 => 7 * 24 * 3_600_000,
        Some(ms) => ms,
    };
    if pos.is_empty() {
        return Err(usage(
            "You must provide one or more resources by argument or filename.",
        ));
    }
    Ok(Command::Wait {
        targets: targets_from(parse_resource_args(pos)?),
        all: flags.bool("all")?,
        wait_for,
        timeout_ms: timeout_ms as u64,
    })
}

/// `--for=jsonpath=EXPR[=VALUE]` (`processJSONPathInput`): `==` inside the expression is
/// kept; the expression is relaxed as custom-columns' (`{}` optional); quotes around the value
/// are dropped.
fn jsonpath_wait(input: &str) -> Result<WaitFor> {
    let format = || {
        usage(
            "jsonpath wait format must be --for=jsonpath='{.status.readyReplicas}'=3 or --for=jsonpath='{.status.readyReplicas}'",
        )
    };
    let mut parts = vec![String::new()];
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '=' {
            if chars.peek() == Some(&'=') {
                chars.next();
                parts.last_mut().expect("one part").push_str("==");
            } else {
                parts.push(String::new());
            }
        } else {
            parts.last_mut().expect("one part").push(c);
        }
    }
    if parts.len() > 2 {
        return Err(format());
    }
    let template =
        crate::jsonpath::relaxed_json_path_expression(&parts[0]).map_err(|e| usage(e.message))?;
    if template.is_empty() {
        return Err(usage("jsonpath expression cannot be empty"));
    }
    crate::jsonpath::JsonPath::parse(&template).map_err(|e| usage(e.message))?;
    let value = match parts.get(1) {
        None => None,
        Some(v) => {
            let v = v.trim_matches(|c| c == '\'' || c == '"');
            if v.is_empty() {
                return Err(usage(
                    "jsonpath wait has to have a value after equal sign, like --for=jsonpath='{.status.readyReplicas}'=3",
                ));
            }
            Some(v.to_string())
        }
    };
    Ok(WaitFor::JsonPath { template, value })
}

#[cfg(test)]
mod tests {
    use crate::args::test_support::*;
    use crate::args::*;
    use crate::kinds::Kind;

    fn wait(line: &str) -> (Vec<Target>, WaitFor, u64) {
        match cmd(line) {
            Command::Wait {
                targets,
                wait_for,
                timeout_ms,
                ..
            } => (targets, wait_for, timeout_ms),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn forms() {
        let (t, f, ms) = wait("wait --for=condition=Ready pod -l app=web --timeout=60s");
        assert_eq!(
            t,
            [Target {
                kind: Kind::Pod,
                name: None
            }]
        );
        assert_eq!(
            f,
            WaitFor::Condition {
                name: "Ready".into(),
                value: "true".into()
            }
        );
        assert_eq!(ms, 60_000);
        let (t, f, ms) = wait("wait deployment/web --for condition=Available=True");
        assert_eq!(t[0].name.as_deref(), Some("web"));
        assert_eq!(
            f,
            WaitFor::Condition {
                name: "Available".into(),
                value: "True".into()
            }
        );
        assert_eq!(ms, 30_000);
        assert_eq!(
            wait("wait --for=delete pod/p --timeout=0").1,
            WaitFor::Delete
        );
        assert_eq!(
            wait("wait --for=Delete pod/p --timeout=-1s").2,
            7 * 24 * 3_600_000
        );
    }

    #[test]
    fn errors() {
        assert_eq!(err("wait pod/p"), "error: --for must be specified");
        assert_eq!(
            err("wait --for=ready pod/p"),
            "error: unrecognized condition: \"ready\""
        );
        assert_eq!(
            err("wait --for=delete"),
            "error: You must provide one or more resources by argument or filename."
        );
        assert_eq!(
            err("wait --for=delete pod/p --timeout=x"),
            "error: invalid argument \"x\" for \"--timeout\" flag: time: invalid duration \"x\""
        );
        assert_eq!(
            err("wait pod/p --for=jsonpath={.a}=1=2"),
            "error: jsonpath wait format must be --for=jsonpath='{.status.readyReplicas}'=3 or --for=jsonpath='{.status.readyReplicas}'"
        );
        assert_eq!(
            err("wait pod/p --for=jsonpath={.a}="),
            "error: jsonpath wait has to have a value after equal sign, like --for=jsonpath='{.status.readyReplicas}'=3"
        );
    }
}
