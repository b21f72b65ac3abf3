//! The reasons and messages of the Events the Cluster Autoscaler records, worded as upstream
//! records them (kubernetes/autoscaler cluster-autoscaler `core/scaleup/orchestrator/executor.go`
//! `ScaledUpGroup` and `TriggeredScaleUp`, `clusterstate/clusterstate.go` `ScaleUpTimedOut` and
//! `ScaleUpFailed`, `core/scaledown/actuation/actuator.go` `ScaleDown` / `ScaleDownEmpty`,
//! `core/scaledown/actuation/drain.go` the pods' `ScaleDown` / `ScaleDownFailed`,
//! `expander/priority/priority.go` `PriorityConfigMapInvalid`).

use std::fmt::Display;

use super::GroupIncrease;
use super::scale_down::Removable;

/// `ScaledUpGroup` (on the status ConfigMap): one group's increase.
pub const SCALED_UP_GROUP: &str = "ScaledUpGroup";
/// `TriggeredScaleUp` (on a pod the scale-up helps).
pub const TRIGGERED_SCALE_UP: &str = "TriggeredScaleUp";
/// `NotTriggerScaleUp` (on a pod no group can take).
pub const NOT_TRIGGER_SCALE_UP: &str = "NotTriggerScaleUp";
/// `ScaleDown` (on the status ConfigMap, a node being removed and the pods evicted from it).
pub const SCALE_DOWN: &str = "ScaleDown";
/// `ScaleDownEmpty` (on the status ConfigMap): an empty node being removed.
pub const SCALE_DOWN_EMPTY: &str = "ScaleDownEmpty";
/// `ScaleDownFailed` (Warning, on a pod whose eviction kept failing).
pub const SCALE_DOWN_FAILED: &str = "ScaleDownFailed";
/// `ScaleUpFailed` (Warning, on the status ConfigMap): launches failed.
pub const SCALE_UP_FAILED: &str = "ScaleUpFailed";
/// `FailedToScaleUpGroup` (Warning, on the status ConfigMap): the cloud refused a group's
/// size increase (`core/scaleup/orchestrator/executor.go`).
pub const FAILED_TO_SCALE_UP_GROUP: &str = "FailedToScaleUpGroup";
/// `ScaleUpTimedOut` (Warning, on the status ConfigMap): nodes did not register in time.
pub const SCALE_UP_TIMED_OUT: &str = "ScaleUpTimedOut";
/// `PriorityConfigMapInvalid` (Warning, on the priority expander's ConfigMap).
pub const PRIORITY_CONFIGMAP_INVALID: &str = "PriorityConfigMapInvalid";

/// The node's `ScaleDown` message when its removal starts.
pub const NODE_MARKED: &str = "marked the node as toBeDeleted/unschedulable";
/// The node's `ScaleDown` message once it is deleted.
pub const NODE_REMOVED: &str = "nodes removed by cluster autoscaler";
/// An evicted pod's `ScaleDown` message.
pub const POD_DELETING: &str = "deleting pod for node scale down";
/// A pod's `ScaleDownFailed` message when it could not be evicted in time.
pub const POD_EVICTION_FAILED: &str = "failed to delete pod for ScaleDown";

/// `ScaledUpGroup`'s message.
pub fn scaled_up_group(i: &GroupIncrease) -> String {
    format!(
        "Scale-up: setting group {} size to {} instead of {} (max: {})",
        i.group, i.to, i.from, i.max
    )
}

/// `TriggeredScaleUp`'s message: every increase of the decision.
pub fn triggered_scale_up(increases: &[GroupIncrease]) -> String {
    let infos: Vec<String> = increases
        .iter()
        .map(|i| format!("{{{} {}->{} (max: {})}}", i.group, i.from, i.to, i.max))
        .collect();
    format!("pod triggered scale-up: [{}]", infos.join(" "))
}

/// The status ConfigMap's event when a node's removal starts: `ScaleDownEmpty` or `ScaleDown`
/// (with the pods to reschedule, `namespace/name`).
pub fn scale_down(r: &Removable, pods: &[String]) -> (&'static str, String) {
    if r.empty {
        (
            SCALE_DOWN_EMPTY,
            format!("Scale-down: removing empty node {:?}", r.node),
        )
    } else {
        (
            SCALE_DOWN,
            format!(
                "Scale-down: removing node {}, utilization: {{{:.2}}}, pods to reschedule: {}",
                r.node,
                r.utilization,
                pods.join(",")
            ),
        )
    }
}

/// `ScaleUpFailed`'s message for `n` launches of `group` refused for lack of capacity (the AWS
/// provider's `InsufficientInstanceCapacity`).
pub fn scale_up_failed(group: &str, n: u32) -> String {
    format!(
        "Failed adding {n} nodes to group {group} due to OutOfResource.InsufficientInstanceCapacity; source errors: We currently do not have sufficient capacity in the Availability Zone you requested"
    )
}

/// `ScaleUpTimedOut`'s message: nodes of `group` not registered within
/// `--max-node-provision-time`.
pub fn scale_up_timed_out(group: &str, max_node_provision_time_ms: u64) -> String {
    format!(
        "Nodes added to group {group} failed to register within {}",
        fmt_duration(max_node_provision_time_ms)
    )
}

/// `PriorityConfigMapInvalid`'s message when the `priorities` key is not valid YAML.
pub fn priorities_unparsable(e: impl Display) -> String {
    format!(
        "Wrong configuration for priority expander: Can't parse YAML with priorities in the configmap: {e}. Ignoring update."
    )
}

/// A duration as Go prints minutes and seconds (`15m0s`, `2m30s`).
pub fn fmt_duration(ms: u64) -> String {
    let s = ms / 1000;
    if s.is_multiple_of(60) {
        format!("{}m0s", s / 60)
    } else {
        format!("{}m{}s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(group: &str, from: u32, to: u32) -> GroupIncrease {
        GroupIncrease {
            group: group.into(),
            from,
            to,
            max: 5,
        }
    }

    #[test]
    fn scale_up_messages_name_each_group() {
        assert_eq!(
            scaled_up_group(&inc("spot", 1, 3)),
            "Scale-up: setting group spot size to 3 instead of 1 (max: 5)"
        );
        assert_eq!(
            triggered_scale_up(&[inc("a", 1, 2), inc("b", 0, 1)]),
            "pod triggered scale-up: [{a 1->2 (max: 5)} {b 0->1 (max: 5)}]"
        );
    }

    #[test]
    fn scale_down_messages_tell_empty_nodes_apart() {
        let mut r = Removable {
            node: "n1".into(),
            group: "g".into(),
            utilization: 0.256,
            evict: vec![],
            empty: true,
            ready: true,
        };
        assert_eq!(
            scale_down(&r, &[]),
            (
                SCALE_DOWN_EMPTY,
                "Scale-down: removing empty node \"n1\"".into()
            )
        );
        r.empty = false;
        assert_eq!(
            scale_down(&r, &["default/a".into(), "default/b".into()]),
            (
                SCALE_DOWN,
                "Scale-down: removing node n1, utilization: {0.26}, pods to reschedule: default/a,default/b".into()
            )
        );
    }

    #[test]
    fn durations_print_as_go_does() {
        assert_eq!(fmt_duration(900_000), "15m0s");
        assert_eq!(fmt_duration(150_000), "2m30s");
        assert_eq!(
            scale_up_timed_out("g", 900_000),
            "Nodes added to group g failed to register within 15m0s"
        );
    }
}
