//! The Cluster Autoscaler's decisions as a run records them: what each scale-up, failed
//! scale-up and scale-down decided, and the `clusterAutoscaler` section of `summary.json`
//! built from them. The twin's loop and the component (`kscale-components`, on the twin and
//! on a real cluster) record the same [`Decision`]s, so both backends write one summary.

use kscale_model::SimTime;
use serde_json::{Value, json};

use super::GroupIncrease;
use super::expander::ExpanderName;
use super::scale_down::Removable;

/// How many pods a scale-up decision names (`triggeredBy`); `pods` counts them all.
pub const MAX_TRIGGERED_BY: usize = 20;

/// What a decision decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Decided {
    /// A group's size was increased (`ScaledUpGroup`).
    ScaleUp {
        /// The group's target size before and after, and its maximum.
        increase: GroupIncrease,
        /// How many pending pods (buffers' fake pods included) the scale-up is for.
        pods: usize,
        /// The `--expander` chain, comma-separated.
        expander: String,
        /// `namespace/name` of the first [`MAX_TRIGGERED_BY`] of those pods.
        triggered_by: Vec<String>,
    },
    /// Launches failed or did not register in time; the group backs off
    /// (`ScaleUpFailed`, `ScaleUpTimedOut`, `FailedToScaleUpGroup`).
    ScaleUpFailed {
        /// The instances given up.
        nodes: u32,
        /// The event reason.
        reason: &'static str,
        /// The event message.
        message: String,
        /// The end of the group's backoff.
        backoff_until: Option<SimTime>,
    },
    /// A node's removal started (`ScaleDownEmpty` / `ScaleDown`).
    ScaleDown {
        /// The node removed.
        node: String,
        /// No pod needed a new place.
        empty: bool,
        /// Utilization (0–1).
        utilization: f64,
        /// How long it had been unneeded (ms), if it was tracked.
        unneeded_for_ms: Option<u64>,
        /// `namespace/name` of the pods it evicts.
        pods_to_reschedule: Vec<String>,
    },
}

/// One decision of the Cluster Autoscaler.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// When.
    pub time: SimTime,
    /// The node group.
    pub group: String,
    /// What it decided.
    pub decided: Decided,
}

/// The expander chain as the `expander` field shows it.
pub fn expander_chain(names: &[ExpanderName]) -> String {
    names
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

impl Decision {
    /// A scale-up of `increase` for `pods` pending pods, named (up to
    /// [`MAX_TRIGGERED_BY`]) by `names`.
    pub fn scale_up(
        time: SimTime,
        increase: &GroupIncrease,
        pods: usize,
        expander: &[ExpanderName],
        names: impl IntoIterator<Item = String>,
    ) -> Self {
        Decision {
            time,
            group: increase.group.clone(),
            decided: Decided::ScaleUp {
                increase: increase.clone(),
                pods,
                expander: expander_chain(expander),
                triggered_by: names.into_iter().take(MAX_TRIGGERED_BY).collect(),
            },
        }
    }

    /// The start of a node's removal `r`, unneeded since `since`, evicting `pods`.
    pub fn scale_down(
        time: SimTime,
        r: &Removable,
        since: Option<SimTime>,
        pods: Vec<String>,
    ) -> Self {
        Decision {
            time,
            group: r.group.clone(),
            decided: Decided::ScaleDown {
                node: r.node.clone(),
                empty: r.empty,
                utilization: r.utilization,
                unneeded_for_ms: since.map(|s| time.since(s)),
                pods_to_reschedule: pods,
            },
        }
    }

    /// `scaleUp`, `scaleUpFailed` or `scaleDown`.
    pub fn kind(&self) -> &'static str {
        match self.decided {
            Decided::ScaleUp { .. } => "scaleUp",
            Decided::ScaleUpFailed { .. } => "scaleUpFailed",
            Decided::ScaleDown { .. } => "scaleDown",
        }
    }

    /// The decision as `summary.json` lists it: `time` (s), `kind`, `group`, `detail`.
    pub fn to_json(&self) -> Value {
        let detail = match &self.decided {
            Decided::ScaleUp {
                increase,
                pods,
                expander,
                triggered_by,
            } => json!({
                "from": increase.from,
                "to": increase.to,
                "max": increase.max,
                "pods": pods,
                "expander": expander,
                "reason": format!("{pods} unschedulable pod(s) fit no existing or upcoming node"),
                "triggeredBy": triggered_by,
            }),
            Decided::ScaleUpFailed {
                nodes,
                reason,
                message,
                backoff_until,
            } => json!({
                "nodes": nodes,
                "reason": reason,
                "message": message,
                "backoffUntilSeconds": backoff_until.map(|t| t.as_secs_f64()),
            }),
            Decided::ScaleDown {
                node,
                empty,
                utilization,
                unneeded_for_ms,
                pods_to_reschedule,
            } => json!({
                "node": node,
                "empty": empty,
                "utilization": (utilization * 1000.0).round() / 1000.0,
                "unneededSeconds": unneeded_for_ms.map(|ms| ms as f64 / 1000.0),
                "podsToReschedule": pods_to_reschedule,
            }),
        };
        json!({"time": self.time.as_secs_f64(), "kind": self.kind(), "group": self.group, "detail": detail})
    }
}

/// The counts of the `clusterAutoscaler` summary section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Group increases.
    pub scale_ups: u64,
    /// Failed scale-ups (cloud errors, failed launches, provisioning time-outs).
    pub scale_up_failures: u64,
    /// Node removals started.
    pub scale_downs: u64,
    /// Nodes that registered for it.
    pub nodes_added: u64,
    /// Nodes deleted.
    pub nodes_removed: u64,
    /// `NotTriggerScaleUp` events recorded.
    pub not_trigger_scale_up: u64,
}

/// The `clusterAutoscaler` section of `summary.json`: the counts, every decision in time
/// order, and the nodes the last scale-down simulation found unremovable with the reason
/// (`node → reason`, in node order).
pub fn summary<'a>(
    counts: &Counts,
    decisions: &[Decision],
    unremovable: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Value {
    let unremovable: std::collections::BTreeMap<&str, &str> = unremovable.into_iter().collect();
    json!({
        "scaleUps": counts.scale_ups,
        "scaleUpFailures": counts.scale_up_failures,
        "scaleDowns": counts.scale_downs,
        "nodesAdded": counts.nodes_added,
        "nodesRemoved": counts.nodes_removed,
        "notTriggerScaleUpEvents": counts.not_trigger_scale_up,
        "decisions": decisions.iter().map(Decision::to_json).collect::<Vec<_>>(),
        "unremovableNodes": unremovable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn removable(empty: bool) -> Removable {
        Removable {
            node: "n-1".into(),
            group: "small".into(),
            utilization: 0.123_456,
            evict: vec![],
            empty,
            ready: true,
        }
    }

    #[test]
    fn a_scale_up_names_at_most_twenty_pods_and_counts_them_all() {
        let inc = GroupIncrease {
            group: "small".into(),
            from: 1,
            to: 3,
            max: 4,
        };
        let names = (0..25).map(|i| format!("default/web-{i}"));
        let d = Decision::scale_up(
            SimTime(12_500),
            &inc,
            25,
            &[ExpanderName::Priority, ExpanderName::LeastWaste],
            names,
        );
        let v = d.to_json();
        assert_eq!(v["time"], 12.5);
        assert_eq!(v["kind"], "scaleUp");
        assert_eq!(v["detail"]["triggeredBy"].as_array().unwrap().len(), 20);
        assert_eq!(v["detail"]["triggeredBy"][19], "default/web-19");
        assert_eq!(v["detail"]["pods"], 25);
        assert_eq!(v["detail"]["expander"], "priority,least-waste");
        assert_eq!(
            v["detail"]["reason"],
            "25 unschedulable pod(s) fit no existing or upcoming node"
        );
        assert_eq!(
            (v["detail"]["from"].as_u64(), v["detail"]["to"].as_u64()),
            (Some(1), Some(3))
        );
    }

    #[test]
    fn a_scale_down_shows_how_long_the_node_was_unneeded_and_a_rounded_utilization() {
        let d = Decision::scale_down(
            SimTime(700_000),
            &removable(false),
            Some(SimTime(100_000)),
            vec!["default/a".into()],
        );
        let v = d.to_json();
        assert_eq!(v["kind"], "scaleDown");
        assert_eq!(v["group"], "small");
        assert_eq!(v["detail"]["unneededSeconds"], 600.0);
        assert_eq!(v["detail"]["utilization"], 0.123);
        assert_eq!(v["detail"]["podsToReschedule"][0], "default/a");
        let untracked = Decision::scale_down(SimTime(1), &removable(true), None, vec![]);
        assert!(untracked.to_json()["detail"]["unneededSeconds"].is_null());
        assert_eq!(untracked.to_json()["detail"]["empty"], true);
    }

    #[test]
    fn the_summary_lists_decisions_in_order_and_unremovable_nodes_by_name() {
        let fail = Decision {
            time: SimTime(30_000),
            group: "large".into(),
            decided: Decided::ScaleUpFailed {
                nodes: 2,
                reason: "ScaleUpTimedOut",
                message: "m".into(),
                backoff_until: Some(SimTime(330_000)),
            },
        };
        let down = Decision::scale_down(SimTime(60_000), &removable(true), None, vec![]);
        let counts = Counts {
            scale_up_failures: 1,
            scale_downs: 1,
            ..Counts::default()
        };
        let s = summary(
            &counts,
            &[fail, down],
            [("n-2", "NotUnderutilized"), ("n-1", "NoPlaceToMovePods")],
        );
        assert_eq!(s["scaleUpFailures"], 1);
        assert_eq!(s["decisions"][0]["kind"], "scaleUpFailed");
        assert_eq!(s["decisions"][0]["detail"]["backoffUntilSeconds"], 330.0);
        assert_eq!(s["decisions"][1]["kind"], "scaleDown");
        let keys: Vec<&String> = s["unremovableNodes"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["n-1", "n-2"]);
    }
}
