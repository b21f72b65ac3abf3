//! `get` and `describe`.

use super::flags::Flags;
use super::resources::{parse_resource_args, targets_from};
use super::types::Command;
use super::usage;
use crate::error::Result;

pub(super) fn parse_get(flags: &Flags, pos: &[String]) -> Result<Command> {
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
    // get.go `Validate`: label columns belong to the tables.
    let output = flags.string("output").unwrap_or_default();
    if flags.bool("show-labels")? && !output.is_empty() && output != "wide" {
        return Err(usage(format!(
            "--show-labels option cannot be used with {output} printer"
        )));
    }
    if !flags.list("label-columns").is_empty() && output.starts_with("custom-columns") {
        return Err(usage(format!(
            "--label-columns option cannot be used with {output} printer"
        )));
    }
    Ok(Command::Get {
        targets: targets_from(parse_resource_args(pos)?),
    })
}

pub(super) fn parse_describe(pos: &[String]) -> Result<Command> {
    if pos.is_empty() {
        return Err(usage(
            "You must specify the type of resource to describe. Use \"kubectl api-resources\" for a complete list of supported resources.",
        ));
    }
    Ok(Command::Describe {
        targets: targets_from(parse_resource_args(pos)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::test_support::*;
    use crate::args::*;

    use crate::kinds::Kind;

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
            "error: unable to match a printer suitable for the output format \"table\", allowed formats are: custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,kyaml,name,template,templatefile,wide,yaml"
        );
    }

    /// get.go `Validate`: labels only go with the default and wide tables.
    #[test]
    fn labels_need_a_table() {
        assert_eq!(
            err("get pods -o jsonpath={.items} --show-labels"),
            "error: --show-labels option cannot be used with jsonpath={.items} printer"
        );
        assert_eq!(
            err("get pods -o json --show-labels"),
            "error: --show-labels option cannot be used with json printer"
        );
        assert_eq!(
            err("get pods -o custom-columns=N:.metadata.name -L app"),
            "error: --label-columns option cannot be used with custom-columns=N:.metadata.name printer"
        );
        assert!(
            p("get pods -o wide --show-labels -L app")
                .global
                .show_labels
        );
        assert_eq!(
            p("get pods -o jsonpath={.items} -L app")
                .global
                .label_columns,
            ["app"]
        );
    }
}
