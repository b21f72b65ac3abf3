//! Nodes (`printNode` in k8s.io/kubernetes/pkg/printers/internalversion/printers.go): STATUS
//! and ROLES.

use std::collections::BTreeSet;

use serde_json::Value;

use super::cells::{arr_at, name_of, s, str_at};
use super::table::TableDef;
use super::time::age_of;

/// `kubectl get nodes` (printNode).
pub(super) const NODE: TableDef = TableDef {
    headers: &[
        "NAME",
        "STATUS",
        "ROLES",
        "AGE",
        "VERSION",
        "INTERNAL-IP",
        "EXTERNAL-IP",
        "OS-IMAGE",
        "KERNEL-VERSION",
        "CONTAINER-RUNTIME",
    ],
    wide_extra: 5,
    row: node_row,
};

pub(super) fn node_roles(node: &Value) -> String {
    let mut roles = BTreeSet::new();
    if let Some(Value::Object(labels)) = s(node, &["metadata", "labels"]) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role.to_string());
                }
            } else if k == "kubernetes.io/role"
                && let Some(v) = v.as_str().filter(|v| !v.is_empty())
            {
                roles.insert(v.to_string());
            }
        }
    }
    if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    }
}

fn node_status(node: &Value) -> String {
    let mut status = Vec::new();
    // Like kubectl, the last Ready condition wins if several are present.
    let ready = arr_at(node, &["status", "conditions"])
        .iter()
        .rev()
        .find(|c| str_at(c, &["type"]) == "Ready");
    match ready {
        Some(c) if str_at(c, &["status"]) == "True" => status.push("Ready"),
        Some(_) => status.push("NotReady"),
        None => status.push("Unknown"),
    }
    if s(node, &["spec", "unschedulable"]).and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    status.join(",")
}

fn node_row(node: &Value, now: i64) -> Vec<String> {
    let addr = |ty: &str| {
        arr_at(node, &["status", "addresses"])
            .iter()
            .find(|a| str_at(a, &["type"]) == ty)
            .map(|a| str_at(a, &["address"]).to_string())
            .unwrap_or_else(|| "<none>".to_string())
    };
    let info = |k: &str| {
        let v = str_at(node, &["status", "nodeInfo", k]);
        if v.is_empty() {
            "<unknown>".to_string()
        } else {
            v.to_string()
        }
    };
    vec![
        name_of(node),
        node_status(node),
        node_roles(node),
        age_of(s(node, &["metadata", "creationTimestamp"]), now),
        str_at(node, &["status", "nodeInfo", "kubeletVersion"]).to_string(),
        addr("InternalIP"),
        addr("ExternalIP"),
        info("osImage"),
        info("kernelVersion"),
        info("containerRuntimeVersion"),
    ]
}

#[cfg(test)]
mod tests {
    use crate::args::OutputFormat;
    use crate::kinds::Kind;
    use crate::printers::testing::*;
    use crate::printers::{PrintOptions, print_objects};
    use serde_json::json;

    #[test]
    fn nodes_table_and_wide() {
        let nodes = vec![
            node(
                "cp-1",
                "True",
                json!({"node-role.kubernetes.io/control-plane": ""}),
                false,
            ),
            node("worker-1", "False", json!({}), true),
        ];
        let out = print_objects(Kind::Node, &nodes, &opts());
        assert_eq!(
            out.stdout,
            "\
NAME       STATUS                        ROLES           AGE    VERSION
cp-1       Ready                         control-plane   2d2h   v1.30.1
worker-1   NotReady,SchedulingDisabled   <none>          2d2h   v1.30.1
"
        );
        let out = print_objects(
            Kind::Node,
            &nodes[..1],
            &PrintOptions {
                format: Some(OutputFormat::Wide),
                ..opts()
            },
        );
        assert_eq!(
            out.stdout,
            "\
NAME   STATUS   ROLES           AGE    VERSION   INTERNAL-IP    EXTERNAL-IP   OS-IMAGE               KERNEL-VERSION   CONTAINER-RUNTIME
cp-1   Ready    control-plane   2d2h   v1.30.1   192.168.1.10   <none>        Bottlerocket OS 1.20   6.1.90           containerd://1.7.20
"
        );
    }
}
