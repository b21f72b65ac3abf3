//! The Cluster Autoscaler's status, as written to the `cluster-autoscaler-status` ConfigMap.
//!
//! Follows kubernetes/autoscaler cluster-autoscaler `clusterstate/api/types.go` (the v1.30+
//! YAML status: `ClusterAutoscalerStatus` with cluster-wide and per node group health, scale-up
//! and scale-down conditions; fields serialized in declaration order, `omitempty` ones skipped
//! when zero, as `gopkg.in/yaml.v2` does in `utils/status/status.go` `WriteStatusConfigMap`) and
//! `clusterstate/clusterstate.go` (`GetStatus` and its `build*` helpers).
//!
//! Not emulated: `lastProbeTime` / `lastTransitionTime` (the twin writes the status only when
//! something it reflects changed), unready, not-started, long-unregistered and being-deleted
//! node counts (always 0 in the twin), and node groups' health (always `Healthy`).
//! [`render`] writes the document as YAML.

use std::collections::BTreeMap;

use serde::Serialize;

/// `ClusterAutoscalerStatusCondition`: the autoscaler's own state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum AutoscalerStatus {
    /// `Running`: initialized and looping.
    Running,
    /// `Initializing`.
    Initializing,
}

/// `ClusterAutoscalerConditionStatus`: the status of a health, scale-up or scale-down condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ConditionStatus {
    /// Health: the cluster or group is in good shape.
    Healthy,
    /// Health: it is not (or, for a group's scale-up, the group is unhealthy).
    Unhealthy,
    /// Scale-down: some nodes are unneeded.
    CandidatesPresent,
    /// Scale-down: no node is unneeded.
    NoCandidates,
    /// Scale-up: needed.
    Needed,
    /// Scale-up: not needed.
    NotNeeded,
    /// Scale-up: requested nodes are still coming up.
    InProgress,
    /// Scale-up: no recent activity.
    NoActivity,
    /// Scale-up: the group is backed off after a failed scale-up.
    Backoff,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `RegisteredUnreadyNodeCount`: registered nodes that are not ready.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredUnreadyNodeCount {
    /// `total`.
    pub total: u64,
    /// `resourceUnready`: unready for a missing resource (e.g. a GPU).
    pub resource_unready: u64,
}

impl RegisteredUnreadyNodeCount {
    fn is_zero(&self) -> bool {
        *self == Self::default()
    }
}

/// `RegisteredNodeCount`: nodes registered in the cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredNodeCount {
    /// `total`.
    pub total: u64,
    /// `ready`.
    pub ready: u64,
    /// `notStarted`: registered, not ready yet, within the node startup time.
    pub not_started: u64,
    /// `beingDeleted` (omitted when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub being_deleted: u64,
    /// `unready` (omitted when all 0).
    #[serde(skip_serializing_if = "RegisteredUnreadyNodeCount::is_zero")]
    pub unready: RegisteredUnreadyNodeCount,
}

/// `NodeCount`: nodes of the cluster or of a group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeCount {
    /// `registered`.
    pub registered: RegisteredNodeCount,
    /// `longUnregistered`: instances that did not register within the provision time.
    pub long_unregistered: u64,
    /// `unregistered`: instances requested from the cloud, not registered yet.
    pub unregistered: u64,
}

/// `ClusterHealthCondition`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterHealthCondition {
    /// `status`.
    pub status: ConditionStatus,
    /// `nodeCounts`.
    pub node_counts: NodeCount,
}

/// `NodeGroupHealthCondition`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeGroupHealthCondition {
    /// `status`.
    pub status: ConditionStatus,
    /// `nodeCounts`.
    pub node_counts: NodeCount,
    /// `cloudProviderTarget`: the group's target size.
    pub cloud_provider_target: u64,
    /// `minSize`.
    pub min_size: u64,
    /// `maxSize`.
    pub max_size: u64,
}

/// `ClusterScaleUpCondition` and `NodeGroupScaleUpCondition` (without `backoffInfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ScaleUpCondition {
    /// `status`.
    pub status: ConditionStatus,
}

/// `ScaleDownCondition`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ScaleDownCondition {
    /// `status`.
    pub status: ConditionStatus,
    /// `candidates` (omitted when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub candidates: u64,
}

/// `ClusterWideStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterWideStatus {
    /// `health`.
    pub health: ClusterHealthCondition,
    /// `scaleUp`.
    pub scale_up: ScaleUpCondition,
    /// `scaleDown`.
    pub scale_down: ScaleDownCondition,
}

/// `NodeGroupStatus`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeGroupStatus {
    /// `name`: the group's id.
    pub name: String,
    /// `health`.
    pub health: NodeGroupHealthCondition,
    /// `scaleUp`.
    pub scale_up: ScaleUpCondition,
    /// `scaleDown`.
    pub scale_down: ScaleDownCondition,
}

/// `ClusterAutoscalerStatus`: the document under the ConfigMap's `status` key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterAutoscalerStatus {
    /// `time`: when the status was written (the caller's rendering of the time).
    pub time: String,
    /// `autoscalerStatus`.
    pub autoscaler_status: AutoscalerStatus,
    /// `message` (omitted when empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// `clusterWide`.
    pub cluster_wide: ClusterWideStatus,
    /// `nodeGroups` (omitted when empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub node_groups: Vec<NodeGroupStatus>,
}

/// What the status reads of the cluster or of one group (upstream `Readiness`, counted over
/// registered nodes, plus the cloud's unregistered instances).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Registered nodes.
    pub registered: u64,
    /// Of which ready.
    pub ready: u64,
    /// Instances requested and not registered yet.
    pub unregistered: u64,
    /// Unneeded nodes (scale-down candidates).
    pub candidates: u64,
}

/// One managed node group as the status reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupFacts<'a> {
    /// Group id.
    pub name: &'a str,
    /// Its nodes.
    pub readiness: Readiness,
    /// Target size (`AcceptableRange.CurrentTarget`).
    pub target: u64,
    /// Minimum size.
    pub min: u64,
    /// Maximum size.
    pub max: u64,
    /// Backed off after a failed scale-up (`NodeGroupScaleUpSafety` not safe to scale).
    pub backed_off: bool,
}

/// `buildNodeCount`.
pub fn build_node_count(r: &Readiness) -> NodeCount {
    NodeCount {
        registered: RegisteredNodeCount {
            total: r.registered,
            ready: r.ready,
            ..RegisteredNodeCount::default()
        },
        long_unregistered: 0,
        unregistered: r.unregistered,
    }
}

/// `buildScaleDownStatusNodeGroup` / `buildScaleDownStatusClusterwide`: candidates present or
/// not.
pub fn build_scale_down_status(candidates: u64) -> ScaleDownCondition {
    ScaleDownCondition {
        status: if candidates > 0 {
            ConditionStatus::CandidatesPresent
        } else {
            ConditionStatus::NoCandidates
        },
        candidates,
    }
}

/// `buildScaleUpStatusNodeGroup`: `Backoff` while the group is backed off, else `InProgress`
/// while some of its instances are unregistered, else `NoActivity`. (Upstream checks an
/// in-progress scale-up before the backoff; the twin has always reported the backoff first.)
pub fn build_scale_up_status_node_group(g: &GroupFacts<'_>) -> ScaleUpCondition {
    ScaleUpCondition {
        status: if g.backed_off {
            ConditionStatus::Backoff
        } else if g.readiness.unregistered > 0 {
            ConditionStatus::InProgress
        } else {
            ConditionStatus::NoActivity
        },
    }
}

/// `buildScaleUpStatusClusterwide`: `InProgress` while any requested instance is unregistered
/// (upstream: while any group's scale-up is in progress), else `NoActivity`.
pub fn build_scale_up_status_clusterwide(cluster: &Readiness) -> ScaleUpCondition {
    ScaleUpCondition {
        status: if cluster.unregistered > 0 {
            ConditionStatus::InProgress
        } else {
            ConditionStatus::NoActivity
        },
    }
}

/// `ClusterStateRegistry.GetStatus`: the status at `time` of a cluster (`cluster`: all nodes,
/// all requested instances, all unneeded nodes) with `groups` managed, in the cloud provider's
/// group order.
pub fn get_status(
    time: String,
    cluster: &Readiness,
    groups: &[GroupFacts<'_>],
) -> ClusterAutoscalerStatus {
    let node_groups = groups
        .iter()
        .map(|g| NodeGroupStatus {
            name: g.name.to_string(),
            health: NodeGroupHealthCondition {
                status: ConditionStatus::Healthy,
                node_counts: build_node_count(&g.readiness),
                cloud_provider_target: g.target,
                min_size: g.min,
                max_size: g.max,
            },
            scale_up: build_scale_up_status_node_group(g),
            scale_down: build_scale_down_status(g.readiness.candidates),
        })
        .collect();
    ClusterAutoscalerStatus {
        time,
        autoscaler_status: AutoscalerStatus::Running,
        message: String::new(),
        cluster_wide: ClusterWideStatus {
            health: ClusterHealthCondition {
                status: ConditionStatus::Healthy,
                node_counts: build_node_count(cluster),
            },
            scale_up: build_scale_up_status_clusterwide(cluster),
            scale_down: build_scale_down_status(cluster.candidates),
        },
        node_groups,
    }
}

/// Counts what the status reads (upstream `ClusterStateRegistry.updateReadinessStats`),
/// cluster-wide and per group: `nodes` gives each registered node's group (if any) and
/// whether it is Ready, `upcoming` each group's requested instances not registered yet, and
/// `unneeded` each unneeded node's group (`None` when it has none or is gone). A group's
/// candidates count only once it has registered or upcoming nodes; the cluster counts every
/// unneeded node.
pub fn tally<'a>(
    nodes: impl IntoIterator<Item = (Option<&'a str>, bool)>,
    upcoming: impl IntoIterator<Item = (&'a str, u64)>,
    unneeded: impl IntoIterator<Item = Option<&'a str>>,
) -> (Readiness, BTreeMap<&'a str, Readiness>) {
    let mut cluster = Readiness::default();
    let mut per: BTreeMap<&str, Readiness> = BTreeMap::new();
    for (group, ready) in nodes {
        cluster.registered += 1;
        cluster.ready += ready as u64;
        if let Some(g) = group {
            let e = per.entry(g).or_default();
            e.registered += 1;
            e.ready += ready as u64;
        }
    }
    for (g, n) in upcoming {
        if n > 0 {
            cluster.unregistered += n;
            per.entry(g).or_default().unregistered += n;
        }
    }
    for group in unneeded {
        cluster.candidates += 1;
        if let Some(e) = group.and_then(|g| per.get_mut(g)) {
            e.candidates += 1;
        }
    }
    (cluster, per)
}

/// The status document as `utils/status/status.go` writes it (`yaml.Marshal`: block style,
/// fields in declaration order, sequences not indented under their key), rendered under YAML
/// 1.2 rules: strings such as the RFC 3339 `time` stay plain.
pub fn render(s: &ClusterAutoscalerStatus) -> String {
    let mut opts = serde_saphyr::SerializerOptions::default();
    opts.yaml_12 = true;
    opts.no_lang_directive = true;
    serde_saphyr::to_string_with_options(s, opts).expect("the status document serializes")
}

#[cfg(test)]
mod tests {
    #[test]
    fn tally_counts_groups_upcoming_nodes_and_candidates() {
        let (cluster, per) = tally(
            [(Some("a"), true), (Some("a"), false), (None, true)],
            [("a", 2), ("b", 1), ("c", 0)],
            [Some("a"), Some("c"), None],
        );
        assert_eq!(
            cluster,
            Readiness {
                registered: 3,
                ready: 2,
                unregistered: 3,
                candidates: 3
            }
        );
        assert_eq!(
            per["a"],
            Readiness {
                registered: 2,
                ready: 1,
                unregistered: 2,
                candidates: 1
            }
        );
        assert_eq!(per["b"].unregistered, 1);
        assert!(!per.contains_key("c"), "no nodes, no candidates counted");
    }

    use super::*;

    fn group(name: &str, unregistered: u64, backed_off: bool, candidates: u64) -> GroupFacts<'_> {
        GroupFacts {
            name,
            readiness: Readiness {
                registered: 3,
                ready: 2,
                unregistered,
                candidates,
            },
            target: 3 + unregistered,
            min: 1,
            max: 10,
            backed_off,
        }
    }

    #[test]
    fn scale_down_status_counts_candidates() {
        // clusterstate_test.go TestScaleDownStatus-like: candidates present iff any.
        assert_eq!(
            build_scale_down_status(0),
            ScaleDownCondition {
                status: ConditionStatus::NoCandidates,
                candidates: 0
            }
        );
        assert_eq!(
            build_scale_down_status(2),
            ScaleDownCondition {
                status: ConditionStatus::CandidatesPresent,
                candidates: 2
            }
        );
    }

    #[test]
    fn node_group_scale_up_status() {
        let s = |g: &GroupFacts| build_scale_up_status_node_group(g).status;
        assert_eq!(s(&group("a", 0, false, 0)), ConditionStatus::NoActivity);
        assert_eq!(s(&group("a", 2, false, 0)), ConditionStatus::InProgress);
        assert_eq!(s(&group("a", 0, true, 0)), ConditionStatus::Backoff);
        // The twin reports the backoff first.
        assert_eq!(s(&group("a", 2, true, 0)), ConditionStatus::Backoff);
    }

    #[test]
    fn get_status_builds_cluster_wide_and_per_group_conditions() {
        let cluster = Readiness {
            registered: 7,
            ready: 6,
            unregistered: 1,
            candidates: 2,
        };
        let groups = [group("a", 1, false, 2), group("b", 0, true, 0)];
        let s = get_status("t".into(), &cluster, &groups);
        assert_eq!(s.autoscaler_status, AutoscalerStatus::Running);
        assert_eq!(s.cluster_wide.health.status, ConditionStatus::Healthy);
        assert_eq!(s.cluster_wide.health.node_counts.registered.total, 7);
        assert_eq!(s.cluster_wide.health.node_counts.registered.ready, 6);
        assert_eq!(s.cluster_wide.health.node_counts.unregistered, 1);
        assert_eq!(s.cluster_wide.scale_up.status, ConditionStatus::InProgress);
        assert_eq!(
            s.cluster_wide.scale_down.status,
            ConditionStatus::CandidatesPresent
        );
        assert_eq!(s.node_groups.len(), 2);
        assert_eq!(s.node_groups[0].name, "a");
        assert_eq!(s.node_groups[0].health.cloud_provider_target, 4);
        assert_eq!(
            s.node_groups[0].scale_up.status,
            ConditionStatus::InProgress
        );
        assert_eq!(s.node_groups[0].scale_down.candidates, 2);
        assert_eq!(s.node_groups[1].scale_up.status, ConditionStatus::Backoff);
        assert_eq!(
            s.node_groups[1].scale_down.status,
            ConditionStatus::NoCandidates
        );
        let idle = get_status("t".into(), &Readiness::default(), &[]);
        assert_eq!(
            idle.cluster_wide.scale_up.status,
            ConditionStatus::NoActivity
        );
        assert!(idle.node_groups.is_empty());
    }
}
