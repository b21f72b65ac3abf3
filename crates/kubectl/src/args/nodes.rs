//! `taint`, `cordon`, `uncordon` and `drain`.

use super::flags::Flags;
use super::metadata::split_changes;
use super::resources::{ResourceArgs, parse_resource_args};
use super::types::{Command, GlobalFlags, TaintChange};
use super::usage;
use crate::error::Result;
use crate::kinds::Kind;

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

pub(super) fn parse_taint(flags: &Flags, pos: &[String], global: &GlobalFlags) -> Result<Command> {
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

pub(super) fn parse_cordon(verb: &str, pos: &[String], global: &GlobalFlags) -> Result<Command> {
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

pub(super) fn parse_drain(flags: &Flags, pos: &[String], global: &GlobalFlags) -> Result<Command> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::test_support::*;

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
}
