//! `apply`, `create`, `delete`, `scale`, `autoscale` and `patch`.

use super::flags::{Flags, go_quote};
use super::resources::{ResourceArgs, check_files, named_refs, parse_resource_args, single_ref};
use super::types::{Command, CreateCommand, DeleteTarget, GlobalFlags, ObjectRef};
use super::usage;
use crate::error::{ErrorKind, KubectlError, Result};
use crate::kinds::Kind;
use crate::patch::PatchType;

pub(super) fn parse_apply(flags: &Flags) -> Result<Command> {
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

pub(super) fn parse_create(flags: &Flags, pos: &[String]) -> Result<Command> {
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

pub(super) fn parse_delete(flags: &Flags, pos: &[String], global: &GlobalFlags) -> Result<Command> {
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

pub(super) fn parse_scale(flags: &Flags, pos: &[String]) -> Result<Command> {
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

pub(super) fn parse_autoscale(flags: &Flags, pos: &[String]) -> Result<Command> {
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

pub(super) fn parse_patch(flags: &Flags, pos: &[String]) -> Result<Command> {
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
    let subresource = flags.string("subresource");
    if let Some(s) = &subresource
        && !["status", "scale", "resize"].contains(&s.as_str())
    {
        return Err(KubectlError::new(
            ErrorKind::Validation,
            format!("invalid subresource value: \"{s}\". Must be one of [status scale resize]"),
        ));
    }
    Ok(Command::Patch {
        target,
        patch,
        patch_type,
        subresource,
    })
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
    use crate::args::test_support::*;

    use crate::error::ErrorKind;
    use crate::kinds::Kind;
    use crate::patch::PatchType;

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
                patch_type: PatchType::Strategic,
                subresource: None
            }
        );
        assert_eq!(
            cmd(r#"patch node/n1 --type merge --patch '{"spec":{"unschedulable":true}}'"#),
            Command::Patch {
                target: r(Kind::Node, "n1"),
                patch: r#"{"spec":{"unschedulable":true}}"#.into(),
                patch_type: PatchType::Merge,
                subresource: None
            }
        );
        assert_eq!(
            cmd(r#"patch hpa web --type=json -p '[]'"#),
            Command::Patch {
                target: r(Kind::HorizontalPodAutoscaler, "web"),
                patch: "[]".into(),
                patch_type: PatchType::Json,
                subresource: None
            }
        );
        assert_eq!(
            cmd(r#"patch pod web-1 --subresource resize -p '{"spec":{}}'"#),
            Command::Patch {
                target: r(Kind::Pod, "web-1"),
                patch: r#"{"spec":{}}"#.into(),
                patch_type: PatchType::Strategic,
                subresource: Some("resize".into())
            }
        );
        assert_eq!(
            err("patch pod web-1 --subresource foo -p '{}'"),
            "error: invalid subresource value: \"foo\". Must be one of [status scale resize]"
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
}
