//! `rollout restart` and `set image`.

use super::flags::{Flags, go_quote};
use super::metadata::split_changes;
use super::resources::{named_refs, single_ref};
use super::types::Command;
use super::usage;
use crate::error::{ErrorKind, KubectlError, Result};
use crate::kinds::Kind;

pub(super) fn parse_rollout(flags: &Flags, pos: &[String]) -> Result<Command> {
    match pos.first().map(String::as_str) {
        Some("status") => {
            flags.only(&["watch", "timeout", "revision"])?;
            if pos.len() < 2 {
                return Err(usage("required resource not specified"));
            }
            let target = single_ref(&pos[1..], "rollout status")?;
            // Zero (kubectl's default) or negative: no timeout.
            let timeout_ms = flags
                .duration_ms("timeout")?
                .filter(|ms| *ms > 0)
                .map(|ms| ms as u64);
            if flags.int("revision")?.unwrap_or(0) != 0 {
                return Err(KubectlError::new(
                    ErrorKind::Unsupported,
                    "\"kubectl rollout status --revision\" is not supported by the kscale twin",
                ));
            }
            Ok(Command::RolloutStatus {
                target,
                // pflag's bool: `--watch=false` (also `-w=false`); on by default.
                watch: !flags.has("watch") || flags.bool("watch")?,
                timeout_ms,
            })
        }
        Some("restart") => {
            flags.only(&[])?;
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
        Some(s @ ("history" | "undo" | "pause" | "resume")) => Err(KubectlError::new(
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

pub(super) fn parse_set(pos: &[String]) -> Result<Command> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::test_support::*;

    use crate::kinds::Kind;

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
            err("rollout history deploy/web"),
            "error: \"kubectl rollout history\" is not supported by the kscale twin"
        );
        assert_eq!(
            err("rollout restart deploy/web --timeout=1s"),
            "error: unknown flag: --timeout"
        );
        assert_eq!(
            err("rollout restart pod/p"),
            "error: pods/p restarting is not supported"
        );
    }

    #[test]
    fn rollout_status_forms() {
        let status = |line: &str| match cmd(line) {
            Command::RolloutStatus {
                target,
                watch,
                timeout_ms,
            } => (target, watch, timeout_ms),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            status("rollout status deployment/web"),
            (r(Kind::Deployment, "web"), true, None)
        );
        assert_eq!(
            status("rollout status sts db --timeout=90s"),
            (r(Kind::StatefulSet, "db"), true, Some(90_000))
        );
        assert_eq!(
            status("rollout status ds/agent --watch=false --timeout 0s"),
            (r(Kind::DaemonSet, "agent"), false, None)
        );
        assert_eq!(
            status("rollout status deploy/web -w"),
            (r(Kind::Deployment, "web"), true, None)
        );
        assert_eq!(
            err("rollout status deploy/web --timeout=soon"),
            "error: invalid argument \"soon\" for \"--timeout\" flag: time: invalid duration \"soon\""
        );
        assert_eq!(
            err("rollout status"),
            "error: required resource not specified"
        );
        assert_eq!(
            err("rollout status deploy/web deploy/api"),
            "error: rollout status requires exactly one resource, got 2"
        );
    }
}
