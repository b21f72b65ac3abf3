//! PodTopologySpread (`pkg/scheduler/framework/plugins/podtopologyspread/`, v1.37): a pod's
//! `topologySpreadConstraints` as the scheduler reads them (`common.go`), the hard constraints'
//! PreFilter/Filter with the preemption extensions AddPod/RemovePod (`filtering.go`), and the
//! soft constraints' PreScore/Score/NormalizeScore (`scoring.go`).
//!
//! The plugin's feature gates are as v1.37 ships them: NodeInclusionPolicyInPodTopologySpread
//! and MatchLabelKeysInPodTopologySpread on. Its arguments are the default ones
//! (`pkg/scheduler/apis/config/v1/defaults.go`: `DefaultingType: System`): a pod without
//! constraints of its own is scored with the system default constraints
//! ([`system_default_constraints`], plugin.go `systemDefaultConstraints`: hostname maxSkew 3
//! and zone maxSkew 5, both ScheduleAnyway) over its default selector
//! ([`PodInfo::default_selector`], `helper.DefaultSelector`: the Services, ReplicationControllers,
//! ReplicaSets and StatefulSets that select it), as `buildDefaultConstraints` (common.go) does;
//! they only score, so the filters are as without them. The backend computes the default
//! selector (the twin: from its Services and the pod's ReplicaSet). With the scheduler's
//! [`NodeTable`](crate::scheduler::NodeTable), matching pods are counted from the table's
//! counts by label set (`counts.rs`) instead of every node's pods. The node autoscalers'
//! simulations (the public `fits*` functions) do not run the plugin.

pub(crate) mod counts;
pub(crate) mod filtering;
pub(crate) mod scoring;

use kscale_model::labels::Labels;
use kscale_model::{LabelSelector, NodeSelectorRequirement, SelectorOp};

use super::{node_affinity, node_unschedulable, taint_toleration};
use crate::scheduler::types::{NodeInfo, PodInfo};

/// `ErrReasonConstraintsNotMatch` (plugin.go).
pub(crate) const MSG_CONSTRAINTS_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints";

/// `ErrReasonNodeLabelNotMatch` (plugin.go).
pub(crate) const MSG_NODE_LABEL_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

/// `v1.LabelHostname`: per-node counts are read from the node itself when scoring.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";

/// `whenUnsatisfiable`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenUnsatisfiable {
    /// A hard constraint: nodes that would break it are filtered out.
    DoNotSchedule,
    /// A soft constraint: it only scores nodes.
    ScheduleAnyway,
}

/// `nodeAffinityPolicy` / `nodeTaintsPolicy`: whether a node that the pod's node affinity
/// (resp. tolerations) exclude counts when spreading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InclusionPolicy {
    /// Such nodes are left out of the counts.
    Honor,
    /// Such nodes count.
    Ignore,
}

/// One `topologySpreadConstraint` as the plugin uses it (upstream's internal
/// `topologySpreadConstraint`, common.go): the selector already merged with `matchLabelKeys`,
/// the defaults applied (`minDomains` 1, `nodeAffinityPolicy` Honor, `nodeTaintsPolicy` Ignore).
#[derive(Clone, Debug, PartialEq)]
pub struct SpreadConstraint {
    /// `maxSkew`.
    pub max_skew: i32,
    /// `topologyKey`.
    pub topology_key: String,
    /// `whenUnsatisfiable`.
    pub when_unsatisfiable: WhenUnsatisfiable,
    /// `labelSelector`; `None` for a missing one (`labels.Nothing()`: matches no pod).
    pub selector: Option<LabelSelector>,
    /// `minDomains` (1 when unset).
    pub min_domains: i32,
    /// `nodeAffinityPolicy` (Honor when unset).
    pub node_affinity_policy: InclusionPolicy,
    /// `nodeTaintsPolicy` (Ignore when unset).
    pub node_taints_policy: InclusionPolicy,
}

impl SpreadConstraint {
    /// A constraint with upstream's defaults for the optional fields.
    pub fn new(
        max_skew: i32,
        topology_key: impl Into<String>,
        when_unsatisfiable: WhenUnsatisfiable,
        selector: Option<LabelSelector>,
    ) -> Self {
        SpreadConstraint {
            max_skew,
            topology_key: topology_key.into(),
            when_unsatisfiable,
            selector,
            min_domains: 1,
            node_affinity_policy: InclusionPolicy::Honor,
            node_taints_policy: InclusionPolicy::Ignore,
        }
    }

    /// Merges `matchLabelKeys` into the selector as `filterTopologySpreadConstraints` does: each
    /// key the pod has a label for adds `key in (value)`; a missing selector stays one
    /// (`mergeLabelSetWithSelector` keeps `labels.Nothing()`).
    pub fn with_match_label_keys(mut self, keys: &[String], pod_labels: &Labels) -> Self {
        if let Some(sel) = self.selector.as_mut() {
            for k in keys {
                if let Some(v) = pod_labels.get(k) {
                    sel.match_expressions.push(NodeSelectorRequirement {
                        key: k.clone(),
                        op: SelectorOp::In,
                        values: vec![v.clone()],
                    });
                }
            }
        }
        self
    }

    /// `Selector.Matches(labels)`: a missing selector matches nothing, an empty one everything.
    pub(crate) fn selects(&self, labels: &Labels) -> bool {
        self.selector.as_ref().is_some_and(|s| s.matches(labels))
    }

    /// `matchNodeInclusionPolicies` (common.go): whether `node` counts for `pod`'s spreading.
    pub(crate) fn includes(&self, pod: &PodInfo, node: &NodeInfo) -> bool {
        let c = &*pod.constraints;
        if self.node_affinity_policy == InclusionPolicy::Honor
            && node_affinity::filter(c, node).is_err()
        {
            return false;
        }
        // Honor: an untolerated NoSchedule/NoExecute taint excludes the node; a cordoned node
        // carries `node.kubernetes.io/unschedulable:NoSchedule` and a not-ready one the
        // not-ready taint (the node lifecycle controller's TaintNodesByCondition).
        if self.node_taints_policy == InclusionPolicy::Honor
            && (taint_toleration::filter(c, node).is_err()
                || node_unschedulable::filter(c, node).is_err())
        {
            return false;
        }
        true
    }
}

/// `systemDefaultConstraints` (plugin.go) as `buildDefaultConstraints` (common.go) makes
/// them for a pod: `kubernetes.io/hostname` maxSkew 3 and `topology.kubernetes.io/zone`
/// maxSkew 5, both ScheduleAnyway, each with the pod's default selector and upstream's
/// defaults for the other fields (no `matchLabelKeys`).
pub fn system_default_constraints(selector: &LabelSelector) -> [SpreadConstraint; 2] {
    let c = |skew, key| {
        SpreadConstraint::new(
            skew,
            key,
            WhenUnsatisfiable::ScheduleAnyway,
            Some(selector.clone()),
        )
    };
    [c(3, LABEL_HOSTNAME), c(5, counts::LABEL_ZONE)]
}

/// `nodeLabelsMatchSpreadConstraints`: the node has every constraint's topology key.
pub(crate) fn node_has_all_keys(node: &NodeInfo, constraints: &[&SpreadConstraint]) -> bool {
    constraints
        .iter()
        .all(|c| node.labels.contains_key(&c.topology_key))
}

/// `countPodsMatchSelector` (common.go): the node's pods in `ns` the selector matches, not
/// terminating; an empty or missing selector counts none.
pub(crate) fn count_matching(pods: &[PodInfo], c: &SpreadConstraint, ns: &str) -> i64 {
    let Some(sel) = c.selector.as_ref().filter(|s| !s.is_empty()) else {
        return 0;
    };
    pods.iter()
        .filter(|p| !p.terminating && *p.namespace == *ns && sel.matches(&p.labels))
        .count() as i64
}

/// The indices (in `PlacementConstraints::topology_spread`) of the pod's constraints with the
/// given `whenUnsatisfiable` (PreFilter reads the hard ones).
pub(crate) fn constraint_indices(pod: &PodInfo, when: WhenUnsatisfiable) -> Vec<usize> {
    pod.constraints
        .topology_spread
        .iter()
        .enumerate()
        .filter(|(_, c)| c.when_unsatisfiable == when)
        .map(|(i, _)| i)
        .collect()
}
