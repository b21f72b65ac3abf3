//! `label` and `annotate`.

use super::flags::Flags;
use super::resources::{ResourceArgs, parse_resource_args};
use super::types::{Command, GlobalFlags, MetaChange};
use super::usage;
use crate::error::Result;

/// Whether an argument is a change rather than a resource, as upstream's
/// `GetResourcesAndPairs` decides (`k8s.io/kubectl/pkg/cmd/util/helpers.go`): `KEY=VALUE`
/// (not starting with `=`) or `KEY-` (not `-` alone). `foo.io/bar-` removes a label.
fn is_meta_change(s: &str) -> bool {
    (s.contains('=') && !s.starts_with('=')) || (s.ends_with('-') && s != "-")
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
pub(super) fn split_changes(
    pos: &[String],
    is_change: impl Fn(&str) -> bool,
) -> (Vec<String>, Vec<String>) {
    let idx = pos.iter().position(|a| is_change(a)).unwrap_or(pos.len());
    (pos[..idx].to_vec(), pos[idx..].to_vec())
}

pub(super) fn parse_label(
    verb: &str,
    flags: &Flags,
    pos: &[String],
    global: &GlobalFlags,
) -> Result<Command> {
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
                Err(usage(format!(
                    "all resources must be specified before {what} changes: {c}"
                )))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::test_support::*;

    use crate::kinds::Kind;

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
}
