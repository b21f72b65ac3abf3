//! InterPodAffinity (`pkg/scheduler/framework/plugins/interpodaffinity/`, v1.37): a pod's
//! `podAffinity` / `podAntiAffinity` terms as the scheduler reads them (`AffinityTerm`,
//! `pkg/scheduler/framework/types.go`), the required terms' PreFilter/Filter with the
//! preemption extensions AddPod/RemovePod (`filtering.go`), and the preferred terms'
//! PreScore/Score/NormalizeScore (`scoring.go`).
//!
//! The semantics are those of the plugin without the `InterPodAffinityHostnameFastPath`
//! feature (an optimisation that decides the same). The terms carry `matchLabelKeys` /
//! `mismatchLabelKeys` already merged into their selectors, as the API server stores them
//! (`pkg/registry/core/pod/strategy.go` `applyMatchLabelKeysAndMismatchLabelKeys`,
//! MatchLabelKeysInPodAffinity on). A `namespaceSelector` is evaluated against the labels
//! every namespace carries, `kubernetes.io/metadata.name: <name>` (labels given to a Namespace
//! object are not seen).
//!
//! The node autoscalers' simulations (the public `fits*` functions) check the terms whose
//! topology key is `kubernetes.io/hostname` against the pods of the node simulated
//! ([`filtering::filter_on_node`]): one replica per node is what anti-affinity is mostly used
//! for, and what decides how many nodes a scale-up needs.

pub(crate) mod filtering;
pub(crate) mod scoring;

use kscale_model::labels::Labels;
use kscale_model::{LabelSelector, NodeSelectorRequirement, SelectorOp};

use crate::scheduler::types::PodInfo;

/// `ErrReasonExistingAntiAffinityRulesNotMatch` (filtering.go).
pub(crate) const MSG_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";
/// `ErrReasonAffinityRulesNotMatch` (filtering.go).
pub(crate) const MSG_AFFINITY: &str = "node(s) didn't match pod affinity rules";
/// `ErrReasonAntiAffinityRulesNotMatch` (filtering.go).
pub(crate) const MSG_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";

/// The label every namespace carries with its name (`v1.LabelMetadataName`).
pub const LABEL_METADATA_NAME: &str = "kubernetes.io/metadata.name";

/// A pod's `spec.affinity.podAffinity` and `podAntiAffinity`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodAffinity {
    /// `podAffinity.requiredDuringSchedulingIgnoredDuringExecution`.
    pub required_affinity: Vec<AffinityTerm>,
    /// `podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution`.
    pub required_anti_affinity: Vec<AffinityTerm>,
    /// `podAffinity.preferredDuringSchedulingIgnoredDuringExecution`.
    pub preferred_affinity: Vec<WeightedAffinityTerm>,
    /// `podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution`.
    pub preferred_anti_affinity: Vec<WeightedAffinityTerm>,
}

impl PodAffinity {
    /// True when the pod has no term at all.
    pub fn is_empty(&self) -> bool {
        self.required_affinity.is_empty()
            && self.required_anti_affinity.is_empty()
            && self.preferred_affinity.is_empty()
            && self.preferred_anti_affinity.is_empty()
    }

    /// True when the pod has affinity or anti-affinity terms of either kind
    /// (`PodInfo.RequiredAffinityTerms`... non-empty, `HavePodsWithAffinityList`).
    pub fn has_required(&self) -> bool {
        !self.required_affinity.is_empty() || !self.required_anti_affinity.is_empty()
    }
}

/// One `podAffinityTerm` (upstream `framework.AffinityTerm`).
#[derive(Clone, Debug, PartialEq)]
pub struct AffinityTerm {
    /// `labelSelector` with the label keys merged; `None` for a missing one (matches no pod).
    pub selector: Option<LabelSelector>,
    /// `namespaces`. With neither these nor a `namespaceSelector`, the term selects pods of
    /// its own pod's namespace.
    pub namespaces: Vec<String>,
    /// `namespaceSelector`; `None` for a missing one (selects no namespace), an empty one
    /// selects every namespace.
    pub namespace_selector: Option<LabelSelector>,
    /// `topologyKey`.
    pub topology_key: String,
}

/// A preferred term with its `weight` (1-100).
#[derive(Clone, Debug, PartialEq)]
pub struct WeightedAffinityTerm {
    /// `weight`.
    pub weight: i32,
    /// `podAffinityTerm`.
    pub term: AffinityTerm,
}

impl AffinityTerm {
    /// Merges `matchLabelKeys` (`key In (value)`) and `mismatchLabelKeys` (`key NotIn
    /// (value)`) for the pod's labels into the selector, as the API server does when it
    /// creates the pod (nothing for a term without a selector).
    pub fn with_label_keys(
        mut self,
        matching: &[String],
        mismatching: &[String],
        pod: &Labels,
    ) -> Self {
        if let Some(sel) = self.selector.as_mut() {
            for (keys, op) in [(matching, SelectorOp::In), (mismatching, SelectorOp::NotIn)] {
                for k in keys {
                    if let Some(v) = pod.get(k) {
                        sel.match_expressions.push(NodeSelectorRequirement {
                            key: k.clone(),
                            op,
                            values: vec![v.clone()],
                        });
                    }
                }
            }
        }
        self
    }

    /// `AffinityTerm.Matches`: whether this term of a pod in namespace `owner` selects `pod`
    /// (its namespace among the term's, then its labels).
    pub(crate) fn matches(&self, owner: &str, pod: &PodInfo) -> bool {
        let ns = &*pod.namespace;
        let in_namespaces = if self.namespaces.is_empty() && self.namespace_selector.is_none() {
            ns == owner
        } else {
            self.namespaces.iter().any(|n| n == ns)
                || self.namespace_selector.as_ref().is_some_and(|s| {
                    s.is_empty()
                        || s.matches(&Labels::from([(
                            LABEL_METADATA_NAME.to_string(),
                            ns.to_string(),
                        )]))
                })
        };
        in_namespaces
            && self
                .selector
                .as_ref()
                .is_some_and(|s| s.matches(&pod.labels))
    }
}

/// `podMatchesAllAffinityTerms`: `terms` (of a pod in namespace `owner`) is not empty and
/// every term selects `pod`.
pub(crate) fn matches_all(terms: &[AffinityTerm], owner: &str, pod: &PodInfo) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(owner, pod))
}

/// The strings of a JSON array (nothing for anything else).
fn strings(v: Option<&serde_json::Value>) -> Vec<String> {
    v.and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

impl AffinityTerm {
    /// A `podAffinityTerm` from JSON, its label keys merged for the pod's labels; `None` without
    /// a `topologyKey`.
    pub fn from_json(v: &serde_json::Value, pod_labels: &Labels) -> Option<AffinityTerm> {
        let term = AffinityTerm {
            selector: v.get("labelSelector").map(LabelSelector::from_json),
            namespaces: strings(v.get("namespaces")),
            namespace_selector: v.get("namespaceSelector").map(LabelSelector::from_json),
            topology_key: v.get("topologyKey")?.as_str()?.to_string(),
        };
        Some(term.with_label_keys(
            &strings(v.get("matchLabelKeys")),
            &strings(v.get("mismatchLabelKeys")),
            pod_labels,
        ))
    }
}

impl PodAffinity {
    /// `spec.affinity` (JSON) of a pod labelled `pod_labels`: its pod affinity and
    /// anti-affinity terms (node affinity is read elsewhere).
    pub fn from_json(affinity: Option<&serde_json::Value>, pod_labels: &Labels) -> PodAffinity {
        let Some(a) = affinity else {
            return PodAffinity::default();
        };
        let required = |kind: &str| -> Vec<AffinityTerm> {
            a.pointer(&format!(
                "/{kind}/requiredDuringSchedulingIgnoredDuringExecution"
            ))
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| AffinityTerm::from_json(t, pod_labels))
            .collect()
        };
        let preferred = |kind: &str| -> Vec<WeightedAffinityTerm> {
            a.pointer(&format!(
                "/{kind}/preferredDuringSchedulingIgnoredDuringExecution"
            ))
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|w| {
                Some(WeightedAffinityTerm {
                    weight: w.get("weight")?.as_i64()? as i32,
                    term: AffinityTerm::from_json(w.get("podAffinityTerm")?, pod_labels)?,
                })
            })
            .collect()
        };
        PodAffinity {
            required_affinity: required("podAffinity"),
            required_anti_affinity: required("podAntiAffinity"),
            preferred_affinity: preferred("podAffinity"),
            preferred_anti_affinity: preferred("podAntiAffinity"),
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builders of the plugin's tests (upstream's `st.MakePod().PodAffinityIn(...)` wrappers).

    use std::sync::Arc;

    use kscale_model::{LabelSelector, SelectorOp};

    use super::{AffinityTerm, PodAffinity, WeightedAffinityTerm};
    use crate::scheduler::testing::{labels, node, pod, req, with_pods};
    use crate::scheduler::{NodeInfo, PlacementConstraints, PodInfo};

    /// A term selecting `key op values` over `topology`, in its pod's namespace.
    pub(crate) fn term(key: &str, op: SelectorOp, values: &[&str], topology: &str) -> AffinityTerm {
        AffinityTerm {
            selector: Some(LabelSelector {
                match_labels: Default::default(),
                match_expressions: vec![req(key, op, values)],
            }),
            namespaces: vec![],
            namespace_selector: None,
            topology_key: topology.into(),
        }
    }

    /// `term` with a weight.
    pub(crate) fn weighted(weight: i32, t: AffinityTerm) -> WeightedAffinityTerm {
        WeightedAffinityTerm { weight, term: t }
    }

    /// A pod in namespace `ns`, labelled `l`, with the pod affinity `a`.
    pub(crate) fn apod(ns: &str, l: &[(&str, &str)], a: PodAffinity) -> PodInfo {
        let mut p = pod(1, 0, (0, 0));
        p.namespace = ns.into();
        p.labels = Arc::new(labels(l));
        p.constraints = Arc::new(PlacementConstraints {
            pod_affinity: a,
            ..Default::default()
        });
        p
    }

    /// Required affinity and anti-affinity terms.
    pub(crate) fn required(affinity: Vec<AffinityTerm>, anti: Vec<AffinityTerm>) -> PodAffinity {
        PodAffinity {
            required_affinity: affinity,
            required_anti_affinity: anti,
            ..Default::default()
        }
    }

    /// A roomy node labelled `l` holding `pods`.
    pub(crate) fn lnode(name: &str, l: &[(&str, &str)], pods: Vec<PodInfo>) -> NodeInfo {
        let mut n = node(name, (100_000, 1 << 40), 110);
        n.labels = Arc::new(labels(l));
        with_pods(n, pods)
    }
}
