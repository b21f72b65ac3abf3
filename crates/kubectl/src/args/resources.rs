//! Resource arguments: `TYPE[,TYPE...] [NAME...]` or `TYPE/NAME...`, and kind lookup.

use super::flags::go_quote;
use super::types::{ObjectRef, Target};
use super::usage;
use crate::error::{ErrorKind, KubectlError, Result};
use crate::kinds::{Kind, KindInfo, resolve_kind};

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

pub(super) fn check_files(files: &[String]) -> Result<()> {
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
pub(super) enum ResourceArgs {
    KindsNames(Vec<Kind>, Vec<String>),
    Refs(Vec<ObjectRef>),
}

pub(super) fn parse_resource_args(args: &[String]) -> Result<ResourceArgs> {
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
pub(super) fn named_refs(args: &[String]) -> Result<Vec<ObjectRef>> {
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

pub(super) fn single_ref(args: &[String], verb: &str) -> Result<ObjectRef> {
    let refs = named_refs(args)?;
    if refs.len() != 1 {
        return Err(usage(format!(
            "{verb} requires exactly one resource, got {}",
            refs.len()
        )));
    }
    Ok(refs.into_iter().next().expect("one ref"))
}

pub(super) fn targets_from(args: ResourceArgs) -> Vec<Target> {
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
