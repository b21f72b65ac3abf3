//! `top pod` and `top node` (k8s.io/kubectl `pkg/cmd/top/top_pod.go`, `top_node.go`).

use super::flags::{Flags, go_quote};
use super::types::{Command, GlobalFlags, TopCommand, TopResource, TopSort};
use super::usage;
use crate::error::{ErrorKind, KubectlError, Result};

/// Flags of `top pod` (`top node` accepts `sort-by`, `no-headers`, `show-capacity`,
/// `show-swap` and `use-protocol-buffers`).
const POD_FLAGS: &[&str] = &[
    "containers",
    "no-headers",
    "sort-by",
    "sum",
    "show-swap",
    "use-protocol-buffers",
    "field-selector",
];
const NODE_FLAGS: &[&str] = &[
    "no-headers",
    "sort-by",
    "show-capacity",
    "show-swap",
    "use-protocol-buffers",
];

pub(super) fn parse_top(flags: &Flags, pos: &[String], global: &GlobalFlags) -> Result<Command> {
    let (resource, allowed, use_line) = match pos.first().map(String::as_str) {
        Some("pod" | "pods" | "po") => (TopResource::Pods, POD_FLAGS, "pod [NAME | -l label]"),
        Some("node" | "nodes" | "no") => (TopResource::Nodes, NODE_FLAGS, "node [NAME | -l label]"),
        Some(other) => {
            return Err(KubectlError::new(
                ErrorKind::UnknownCommand,
                format!("unknown command {} for \"kubectl top\"", go_quote(other)),
            ));
        }
        None => return Err(usage("USAGE: top (pod | node) [NAME | -l label]")),
    };
    flags.only(allowed)?;
    let names = &pos[1..];
    if names.len() > 1 {
        return Err(usage(use_line));
    }
    let name = names.first().cloned();
    let sort_by = match flags.string("sort-by").as_deref() {
        None | Some("") => None,
        Some("cpu") => Some(TopSort::Cpu),
        Some("memory") => Some(TopSort::Memory),
        Some(_) => return Err(usage("--sort-by accepts only cpu or memory")),
    };
    if name.is_some() && global.selector.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(usage(if resource == TopResource::Pods {
            "only one of NAME or selector can be provided"
        } else {
            "only one of NAME or --selector can be provided"
        }));
    }
    Ok(Command::Top(TopCommand {
        resource,
        name,
        containers: flags.bool("containers")?,
        no_headers: flags.bool("no-headers")?,
        sort_by,
        sum: flags.bool("sum")?,
        show_capacity: flags.bool("show-capacity")?,
    }))
}

#[cfg(test)]
mod tests {
    use crate::args::test_support::*;
    use crate::args::*;

    fn top(line: &str) -> TopCommand {
        match cmd(line) {
            Command::Top(t) => t,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn forms_and_flags() {
        let t = top("top pods");
        assert_eq!(t.resource, TopResource::Pods);
        assert_eq!(t.name, None);
        assert!(!t.containers && !t.no_headers && !t.sum);
        let t = top("top po web-0 --containers --sort-by=memory --no-headers");
        assert_eq!(t.name.as_deref(), Some("web-0"));
        assert!(t.containers && t.no_headers);
        assert_eq!(t.sort_by, Some(TopSort::Memory));
        let t = top("top nodes --sort-by cpu --show-capacity");
        assert_eq!(t.resource, TopResource::Nodes);
        assert_eq!(t.sort_by, Some(TopSort::Cpu));
        assert!(t.show_capacity);
        assert!(top("top pod -l app=web --sum").sum);
        assert!(p("top pod -A").global.all_namespaces);
    }

    #[test]
    fn errors_as_kubectl_words_them() {
        assert_eq!(
            err("top pod --sort-by=name"),
            "error: --sort-by accepts only cpu or memory"
        );
        assert_eq!(
            err("top pod web -l app=web"),
            "error: only one of NAME or selector can be provided"
        );
        assert_eq!(
            err("top node n1 -l zone=a"),
            "error: only one of NAME or --selector can be provided"
        );
        assert_eq!(
            err("top node --containers"),
            "error: unknown flag: --containers"
        );
        assert_eq!(err("top pod a b"), "error: pod [NAME | -l label]");
        assert_eq!(
            err("top deployments"),
            "error: unknown command \"deployments\" for \"kubectl top\""
        );
    }
}
