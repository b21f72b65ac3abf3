//! `rollout restart` and `set image`.

use super::flags::go_quote;
use super::metadata::split_changes;
use super::resources::{named_refs, single_ref};
use super::types::Command;
use super::usage;
use crate::error::{ErrorKind, KubectlError, Result};
use crate::kinds::Kind;

pub(super) fn parse_rollout(pos: &[String]) -> Result<Command> {
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
            err("rollout status deploy/web"),
            "error: \"kubectl rollout status\" is not supported by the kscale twin"
        );
        assert_eq!(
            err("rollout restart pod/p"),
            "error: pods/p restarting is not supported"
        );
    }
}
