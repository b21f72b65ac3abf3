//! NodeAffinity filter (`pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go`):
//! `spec.nodeSelector` and required node affinity.

use kscale_model::labels::Labels;
use kscale_model::{NodeSelectorRequirement, NodeSelectorTerm, SelectorOp};

use crate::scheduler::diagnosis::Unfit;
use crate::scheduler::types::{NodeInfo, PlacementConstraints};

/// `ErrReasonPod`.
pub(crate) const MSG_NODE_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";

/// One `matchFields` requirement against the node name (only `metadata.name` is supported
/// upstream; other keys never match).
fn field_matches(r: &NodeSelectorRequirement, node_name: &str) -> bool {
    if r.key != "metadata.name" {
        return false;
    }
    match r.op {
        SelectorOp::In => r.values.iter().any(|v| v == node_name),
        SelectorOp::NotIn => !r.values.iter().any(|v| v == node_name),
        _ => false,
    }
}

/// `nodeaffinity` term match, like [`NodeSelectorTerm::matches`] but without allocating.
fn term_matches(term: &NodeSelectorTerm, labels: &Labels, node_name: &str) -> bool {
    if term.match_expressions.is_empty() && term.match_fields.is_empty() {
        return false;
    }
    term.match_expressions.iter().all(|r| r.matches(labels))
        && term
            .match_fields
            .iter()
            .all(|r| field_matches(r, node_name))
}

/// `Filter`: every `nodeSelector` pair is a node label, and one of the required node affinity
/// terms (if any) matches.
pub(crate) fn filter(c: &PlacementConstraints, node: &NodeInfo) -> Result<(), Unfit> {
    // NodeAffinity (plugins/nodeaffinity/node_affinity.go): nodeSelector, then required terms.
    if !c
        .node_selector
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v))
    {
        return Err(Unfit::NodeAffinity);
    }
    if !c.required_node_affinity.is_empty()
        && !c
            .required_node_affinity
            .iter()
            .any(|t| term_matches(t, &node.labels, &node.name))
    {
        return Err(Unfit::NodeAffinity);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::*;
    use crate::scheduler::*;
    use kscale_model::{NodeSelectorRequirement, NodeSelectorTerm, SelectorOp};

    // ---- nodeaffinity/node_affinity_test.go (TestNodeAffinity) ------------------------------

    #[test]
    fn node_affinity_filter() {
        let with_labels = |l: &[(&str, &str)]| {
            let mut n = node("node1", (1000, 1000), 10);
            n.labels = std::sync::Arc::new(labels(l));
            n
        };
        let sel = |l: &[(&str, &str)]| {
            with_constraints(
                pod(1, 0, (0, 0)),
                PlacementConstraints {
                    node_selector: labels(l),
                    ..Default::default()
                },
            )
        };
        let aff = |terms: Vec<NodeSelectorTerm>| {
            with_constraints(
                pod(1, 0, (0, 0)),
                PlacementConstraints {
                    required_node_affinity: terms,
                    ..Default::default()
                },
            )
        };
        let term = |exprs: Vec<NodeSelectorRequirement>| NodeSelectorTerm {
            match_expressions: exprs,
            match_fields: vec![],
        };
        let foo = with_labels(&[("foo", "bar")]);
        // "no selector"
        assert_eq!(fits(&sel(&[]), &foo), Ok(()));
        // "missing labels"
        let e = fits(&sel(&[("foo", "bar")]), &with_labels(&[])).unwrap_err();
        assert_eq!(
            e.reasons(),
            vec!["node(s) didn't match Pod's node affinity/selector"]
        );
        assert!(!e.is_resolvable());
        // "same labels", "node labels are superset", "node labels are subset"
        assert_eq!(fits(&sel(&[("foo", "bar")]), &foo), Ok(()));
        assert_eq!(
            fits(
                &sel(&[("foo", "bar")]),
                &with_labels(&[("foo", "bar"), ("baz", "blah")])
            ),
            Ok(())
        );
        assert!(fits(&sel(&[("foo", "bar"), ("baz", "blah")]), &foo).is_err());
        // "Pod with matchExpressions using In operator that matches the existing node"
        let p = aff(vec![term(vec![req(
            "foo",
            SelectorOp::In,
            &["bar", "value2"],
        )])]);
        assert_eq!(fits(&p, &foo), Ok(()));
        // "Pod with matchExpressions using Gt operator that matches the existing node"
        let p = aff(vec![term(vec![req(
            "kernel-version",
            SelectorOp::Gt,
            &["0204"],
        )])]);
        assert_eq!(
            fits(&p, &with_labels(&[("kernel-version", "0206")])),
            Ok(())
        );
        // "Pod with matchExpressions using NotIn operator that matches the existing node"
        let p = aff(vec![term(vec![req(
            "mem-type",
            SelectorOp::NotIn,
            &["DDR", "DDR2"],
        )])]);
        assert_eq!(fits(&p, &with_labels(&[("mem-type", "DDR3")])), Ok(()));
        // "Pod with matchExpressions using Exists operator that matches the existing node"
        let p = aff(vec![term(vec![req("GPU", SelectorOp::Exists, &[])])]);
        assert_eq!(fits(&p, &with_labels(&[("GPU", "NVIDIA-GRID-K1")])), Ok(()));
        // "Pod with affinity that don't match node's labels won't schedule onto the node"
        let p = aff(vec![term(vec![req(
            "foo",
            SelectorOp::In,
            &["value1", "value2"],
        )])]);
        assert!(fits(&p, &foo).is_err());
        // "Pod with an empty []NodeSelectorTerm in affinity, can't schedule onto the node"
        assert!(fits(&aff(vec![NodeSelectorTerm::default()]), &foo).is_err());
        // "Pod with multiple NodeSelectorTerms ORed in affinity, matches the node's labels"
        let p = aff(vec![
            term(vec![req("foo", SelectorOp::In, &["bar", "value2"])]),
            term(vec![req("diffkey", SelectorOp::In, &["wrong", "value2"])]),
        ]);
        assert_eq!(fits(&p, &foo), Ok(()));
        // "Pod with matchFields using In operator that matches the existing node" / doesn't.
        let fields = aff(vec![NodeSelectorTerm {
            match_expressions: vec![],
            match_fields: vec![req("metadata.name", SelectorOp::In, &["node1"])],
        }]);
        assert_eq!(fits(&fields, &foo), Ok(()));
        let mut n2 = foo.clone();
        n2.name = "node2".into();
        assert!(fits(&fields, &n2).is_err());
        // "Pod with an Affinity and a PodSpec.NodeSelector(...) both are satisfied" / one isn't.
        let both = |sel: &[(&str, &str)]| {
            with_constraints(
                pod(1, 0, (0, 0)),
                PlacementConstraints {
                    node_selector: labels(sel),
                    required_node_affinity: vec![term(vec![req("foo", SelectorOp::Exists, &[])])],
                    ..Default::default()
                },
            )
        };
        assert_eq!(fits(&both(&[("foo", "bar")]), &foo), Ok(()));
        assert!(fits(&both(&[("foo", "barrrrrr")]), &foo).is_err());
    }
}
