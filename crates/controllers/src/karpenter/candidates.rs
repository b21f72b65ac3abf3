//! Which NodePool nodes are disruption candidates, and for which method.
//!
//! kubernetes-sigs/karpenter: pkg/controllers/disruption/helpers.go (`GetCandidates`: each
//! node of a NodePool that the method's `ShouldDisrupt` accepts; `BuildDisruptionBudgetMapping`:
//! NotReady and disrupting nodes use up the budget), types.go (`NewCandidate`: a node already
//! being disrupted is no candidate; the node's and its pods' `karpenter.sh/do-not-disrupt`
//! annotation block it; `reschedulablePods`; `disruptionCost` = `ReschedulingCost` ×
//! `LifetimeRemaining`), pkg/controllers/state/statenode.go (`ValidateNodeDisruptable`,
//! `ValidatePodsDisruptable`), pkg/utils/pod/scheduling.go (`IsReschedulable`: not owned by a
//! DaemonSet, not terminating), pkg/controllers/nodeclaim/disruption/consolidation.go (the
//! NodeClaim is `Consolidatable` once `consolidateAfter` elapsed since its last pod event),
//! emptiness.go and consolidation.go `ShouldDisrupt` (`consolidateAfter: Never` disables
//! consolidation, `consolidationPolicy: WhenEmpty` takes only empty nodes) and
//! pkg/utils/disruption/disruption.go (`EvictionCost`, from the pod's
//! `controller.kubernetes.io/pod-deletion-cost` annotation and priority).
//!
//! The caller reads the facts from its cluster ([`NodeFacts`], [`PodFacts`]); a node is
//! screened in two steps, [`screen_node`] (no pod read) then [`screen_pods`] on its
//! [`PodsSummary`], and the first [`Ineligible`] reason wins, in upstream's order.

use std::borrow::Cow;

use kscale_model::SimTime;
use kscale_model::labels::Labels;

use super::budget::Reason;
use super::consolidation::{CandidatePods, eviction_cost, lifetime_remaining, placement_key};
use crate::scheduler::PodInfo;

/// The label naming a node's NodePool (`v1.NodePoolLabelKey`).
pub const NODEPOOL_LABEL: &str = "karpenter.sh/nodepool";
/// The annotation that keeps a node, or a pod's node, from voluntary disruption
/// (`v1.DoNotDisruptAnnotationKey`).
pub const DO_NOT_DISRUPT_ANNOTATION: &str = "karpenter.sh/do-not-disrupt";
/// The annotation that sets a pod's deletion cost (`corev1.PodDeletionCost`).
pub const POD_DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";

/// `annotations` has `karpenter.sh/do-not-disrupt: "true"`.
#[inline]
pub fn do_not_disrupt(annotations: &Labels) -> bool {
    annotations
        .get(DO_NOT_DISRUPT_ANNOTATION)
        .map(String::as_str)
        == Some("true")
}

/// A NodePool's `spec.disruption` as candidate selection reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolDisruption {
    /// `consolidateAfter` in ms; `None` for `Never` (consolidation disabled).
    pub consolidate_after_ms: Option<u64>,
    /// `consolidationPolicy: WhenEmptyOrUnderutilized` (else `WhenEmpty`).
    pub underutilized: bool,
}

/// What candidate selection reads of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeFacts {
    /// Initialized and Ready.
    pub ready: bool,
    /// Already marked for disruption (in the orchestration queue).
    pub disrupting: bool,
    /// The node has `karpenter.sh/do-not-disrupt: "true"`.
    pub do_not_disrupt: bool,
    /// Last time a pod was bound to or removed from the node (the NodeClaim's
    /// `lastPodEventTime`).
    pub last_pod_event: SimTime,
}

/// Why a NodePool node is not a candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ineligible {
    /// NotReady, or already being disrupted: counted against the pool's budget
    /// (`BuildDisruptionBudgetMapping`).
    Disrupting,
    /// `consolidateAfter: Never`.
    ConsolidationDisabled,
    /// The node has `karpenter.sh/do-not-disrupt`.
    NodeDoNotDisrupt,
    /// Not `Consolidatable` before this time (`consolidateAfter` after its last pod event).
    NotConsolidatable(SimTime),
    /// A reschedulable pod has `karpenter.sh/do-not-disrupt`.
    PodDoNotDisrupt,
    /// `consolidationPolicy: WhenEmpty` and the node has reschedulable pods.
    NotEmpty,
}

impl Ineligible {
    /// The `Unconsolidatable` event's message for a node of `pool` (events/events.go), for the
    /// reasons upstream publishes one.
    pub fn unconsolidatable(&self, pool: &str) -> Option<String> {
        match self {
            Ineligible::ConsolidationDisabled => {
                Some(format!("NodePool \"{pool}\" has consolidation disabled"))
            }
            Ineligible::NotEmpty => Some(format!(
                "NodePool \"{pool}\" has consolidation policy WhenEmpty, but node is not empty"
            )),
            _ => None,
        }
    }
}

/// The node-level checks, in upstream's order: NotReady or disrupting, consolidation
/// disabled, the node's `do-not-disrupt`, then `consolidateAfter` since its last pod event.
#[inline]
pub fn screen_node(
    node: &NodeFacts,
    pool: &PoolDisruption,
    now: SimTime,
) -> Result<(), Ineligible> {
    if !node.ready || node.disrupting {
        return Err(Ineligible::Disrupting);
    }
    let Some(after) = pool.consolidate_after_ms else {
        return Err(Ineligible::ConsolidationDisabled);
    };
    if node.do_not_disrupt {
        return Err(Ineligible::NodeDoNotDisrupt);
    }
    let eligible = node.last_pod_event.plus_millis(after);
    if now < eligible {
        return Err(Ineligible::NotConsolidatable(eligible));
    }
    Ok(())
}

/// The pod-level checks of a node [`screen_node`] accepted: a blocking pod, then the method
/// (`Empty`: no reschedulable pod, Emptiness; `Underutilized`: consolidation, unless the
/// policy is `WhenEmpty`).
#[inline]
pub fn screen_pods(pods: &PodsSummary, pool: &PoolDisruption) -> Result<Reason, Ineligible> {
    if pods.blocked {
        Err(Ineligible::PodDoNotDisrupt)
    } else if pods.pods.is_empty() {
        Ok(Reason::Empty)
    } else if !pool.underutilized {
        Err(Ineligible::NotEmpty)
    } else {
        Ok(Reason::Underutilized)
    }
}

/// What candidate selection reads of a pod.
#[derive(Clone, Copy, Debug)]
pub struct PodFacts<'a> {
    /// Owned by a DaemonSet.
    pub daemon_set: bool,
    /// Being deleted.
    pub terminating: bool,
    /// Its annotations.
    pub annotations: &'a Labels,
    /// Its priority.
    pub priority: i32,
}

/// What a pod means to its node's disruption.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PodRole {
    /// Not rescheduled (DaemonSet or terminating pod): ignored.
    Ignored,
    /// Reschedulable with `karpenter.sh/do-not-disrupt`: the node is no candidate.
    Blocks,
    /// Reschedulable, with its [`eviction_cost`].
    Reschedulable(f64),
}

/// `IsReschedulable`, the pod's `do-not-disrupt` and its `EvictionCost` (an unparsable
/// deletion cost counts as 0).
#[inline]
pub fn pod_role(p: &PodFacts<'_>) -> PodRole {
    if p.daemon_set || p.terminating {
        return PodRole::Ignored;
    }
    if do_not_disrupt(p.annotations) {
        return PodRole::Blocks;
    }
    let deletion_cost = p
        .annotations
        .get(POD_DELETION_COST_ANNOTATION)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    PodRole::Reschedulable(eviction_cost(deletion_cost, p.priority))
}

/// What a node's pods mean to disruption.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodsSummary {
    /// A reschedulable pod has `karpenter.sh/do-not-disrupt` (then the rest is not read).
    pub blocked: bool,
    /// Indices (into the node's pods) of the reschedulable pods, in the consolidation
    /// simulation's placement order ([`placement_key`]).
    pub pods: Vec<u32>,
    /// None of them requests a negative CPU or memory.
    pub non_negative: bool,
    /// Σ [`eviction_cost`] of those pods (`ReschedulingCost`).
    pub disruption_cost: f64,
    /// 1 + Σ max(0, [`eviction_cost`]) (`RescheduleDisruptionCost`).
    pub reschedule_cost: f64,
}

impl PodsSummary {
    /// Summarizes a node's pods, `facts` reading each one's [`PodFacts`] (`None`: a pod the
    /// caller no longer knows, skipped).
    pub fn of<'a>(
        node: &[PodInfo],
        mut facts: impl FnMut(&PodInfo) -> Option<PodFacts<'a>>,
    ) -> PodsSummary {
        let mut out = PodsSummary {
            reschedule_cost: 1.0,
            ..PodsSummary::default()
        };
        for (i, p) in node.iter().enumerate() {
            let Some(f) = facts(p) else {
                continue;
            };
            match pod_role(&f) {
                PodRole::Ignored => {}
                PodRole::Blocks => {
                    out.blocked = true;
                    break;
                }
                PodRole::Reschedulable(c) => {
                    out.disruption_cost += c;
                    out.reschedule_cost += c.max(0.0);
                    out.pods.push(i as u32);
                }
            }
        }
        out.order(node);
        out
    }

    /// Puts [`PodsSummary::pods`] in placement order for the node's current requests (and
    /// sets [`PodsSummary::non_negative`]).
    pub fn order(&mut self, node: &[PodInfo]) {
        self.pods.sort_by_key(|i| placement_key(&node[*i as usize]));
        self.non_negative = self.pods.iter().all(|i| {
            let r = &node[*i as usize].requests;
            r.cpu_milli >= 0 && r.memory >= 0
        });
    }

    /// The node's reschedulable pods, borrowed from the node and this summary.
    #[inline]
    pub fn candidate_pods<'a>(&'a self, node: &'a [PodInfo]) -> CandidatePods<'a> {
        CandidatePods::in_placement_order(node, Cow::Borrowed(&self.pods), self.non_negative)
    }

    /// [`PodsSummary::candidate_pods`], taking the summary's index list.
    pub fn into_candidate_pods(self, node: &[PodInfo]) -> CandidatePods<'_> {
        CandidatePods::in_placement_order(node, Cow::Owned(self.pods), self.non_negative)
    }

    /// The candidate's `disruptionCost`: [`PodsSummary::disruption_cost`] ×
    /// [`lifetime_remaining`] of a node `age_ms` old.
    #[inline]
    pub fn candidate_disruption_cost(&self, age_ms: u64, expire_after_ms: Option<u64>) -> f64 {
        self.disruption_cost * lifetime_remaining(age_ms, expire_after_ms)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kscale_model::Resources;

    use super::*;
    use crate::scheduler::PlacementConstraints;

    const POOL: PoolDisruption = PoolDisruption {
        consolidate_after_ms: Some(30_000),
        underutilized: true,
    };

    fn node() -> NodeFacts {
        NodeFacts {
            ready: true,
            disrupting: false,
            do_not_disrupt: false,
            last_pod_event: SimTime(10_000),
        }
    }

    fn pod(id: u64, cpu: i64) -> PodInfo {
        PodInfo {
            id,
            namespace: Arc::from("default"),
            name: Arc::from(format!("p{id}").as_str()),
            labels: Arc::new(Labels::new()),
            requests: Resources {
                cpu_milli: cpu,
                memory: 1 << 30,
                pods: 1,
            },
            priority: 0,
            start_time: SimTime(id),
            terminating: false,
            constraints: Arc::new(PlacementConstraints::default()),
            default_selector: None,
        }
    }

    fn ann(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn facts(annotations: &Labels) -> PodFacts<'_> {
        PodFacts {
            daemon_set: false,
            terminating: false,
            annotations,
            priority: 0,
        }
    }

    #[test]
    fn not_ready_or_disrupting_nodes_count_against_the_budget() {
        // helpers.go BuildDisruptionBudgetMapping: NotReady and disrupting nodes are counted.
        let now = SimTime(3_600_000);
        for n in [
            NodeFacts {
                ready: false,
                ..node()
            },
            NodeFacts {
                disrupting: true,
                ..node()
            },
        ] {
            assert_eq!(screen_node(&n, &POOL, now), Err(Ineligible::Disrupting));
        }
        assert_eq!(screen_node(&node(), &POOL, now), Ok(()));
    }

    #[test]
    fn consolidation_disabled_comes_before_do_not_disrupt() {
        // emptiness.go ShouldDisrupt: "NodePool %q has consolidation disabled".
        let never = PoolDisruption {
            consolidate_after_ms: None,
            underutilized: false,
        };
        let n = NodeFacts {
            do_not_disrupt: true,
            ..node()
        };
        let why = screen_node(&n, &never, SimTime(3_600_000)).unwrap_err();
        assert_eq!(why, Ineligible::ConsolidationDisabled);
        assert_eq!(
            why.unconsolidatable("default").as_deref(),
            Some("NodePool \"default\" has consolidation disabled")
        );
        assert_eq!(
            screen_node(&n, &POOL, SimTime(3_600_000)),
            Err(Ineligible::NodeDoNotDisrupt)
        );
        assert_eq!(
            Ineligible::NodeDoNotDisrupt.unconsolidatable("default"),
            None
        );
    }

    #[test]
    fn consolidatable_after_consolidate_after_since_the_last_pod_event() {
        // nodeclaim/disruption/consolidation.go: Consolidatable once consolidateAfter elapsed.
        assert_eq!(
            screen_node(&node(), &POOL, SimTime(39_999)),
            Err(Ineligible::NotConsolidatable(SimTime(40_000)))
        );
        assert_eq!(screen_node(&node(), &POOL, SimTime(40_000)), Ok(()));
        let zero = PoolDisruption {
            consolidate_after_ms: Some(0),
            ..POOL
        };
        assert_eq!(screen_node(&node(), &zero, SimTime(10_000)), Ok(()));
    }

    #[test]
    fn pods_choose_the_method() {
        let empty = PodsSummary::of(&[], |_| None);
        assert_eq!(screen_pods(&empty, &POOL), Ok(Reason::Empty));
        let none = Labels::new();
        let pods = [pod(1, 100)];
        let busy = PodsSummary::of(&pods, |_| Some(facts(&none)));
        assert_eq!(screen_pods(&busy, &POOL), Ok(Reason::Underutilized));
        let when_empty = PoolDisruption {
            underutilized: false,
            ..POOL
        };
        let why = screen_pods(&busy, &when_empty).unwrap_err();
        assert_eq!(why, Ineligible::NotEmpty);
        assert_eq!(
            why.unconsolidatable("web").as_deref(),
            Some("NodePool \"web\" has consolidation policy WhenEmpty, but node is not empty")
        );
        // Emptiness runs for WhenEmpty pools too.
        assert_eq!(screen_pods(&empty, &when_empty), Ok(Reason::Empty));
    }

    #[test]
    fn daemonset_and_terminating_pods_are_not_rescheduled() {
        // utils/pod IsReschedulable: a node with only such pods is empty, even with
        // do-not-disrupt on them.
        let dnd = ann(&[(DO_NOT_DISRUPT_ANNOTATION, "true")]);
        let pods = [pod(1, 100), pod(2, 100)];
        let s = PodsSummary::of(&pods, |p| {
            Some(PodFacts {
                daemon_set: p.id == 1,
                terminating: p.id == 2,
                ..facts(&dnd)
            })
        });
        assert!(!s.blocked);
        assert!(s.pods.is_empty());
        assert_eq!(s.reschedule_cost, 1.0);
        assert_eq!(screen_pods(&s, &POOL), Ok(Reason::Empty));
    }

    #[test]
    fn a_do_not_disrupt_pod_blocks_its_node() {
        // statenode.go ValidatePodsDisruptable: `karpenter.sh/do-not-disrupt: "true"`.
        let dnd = ann(&[(DO_NOT_DISRUPT_ANNOTATION, "true")]);
        let other = ann(&[(DO_NOT_DISRUPT_ANNOTATION, "false")]);
        let pods = [pod(1, 100), pod(2, 100)];
        let s = PodsSummary::of(&pods, |p| {
            Some(facts(if p.id == 2 { &dnd } else { &other }))
        });
        assert!(s.blocked);
        assert_eq!(screen_pods(&s, &POOL), Err(Ineligible::PodDoNotDisrupt));
        assert!(do_not_disrupt(&dnd));
        assert!(!do_not_disrupt(&other));
    }

    #[test]
    fn costs_follow_eviction_cost_and_lifetime() {
        // disruption.go EvictionCost: deletion cost / 2^27 + priority / 2^25; unknown pods skipped.
        let cheap = ann(&[(POD_DELETION_COST_ANNOTATION, "-134217728")]);
        let dear = ann(&[(POD_DELETION_COST_ANNOTATION, "134217728")]);
        let junk = ann(&[(POD_DELETION_COST_ANNOTATION, "lots")]);
        let pods = [pod(1, 100), pod(2, 100), pod(3, 100), pod(4, 100)];
        let s = PodsSummary::of(&pods, |p| match p.id {
            1 => Some(facts(&cheap)),
            2 => Some(facts(&dear)),
            3 => Some(PodFacts {
                priority: 1 << 25,
                ..facts(&junk)
            }),
            _ => None,
        });
        assert_eq!(s.pods, vec![0, 1, 2]);
        assert_eq!(s.disruption_cost, 0.0 + 2.0 + 2.0);
        assert_eq!(s.reschedule_cost, 1.0 + 4.0);
        assert_eq!(
            s.candidate_disruption_cost(3_600_000, Some(4 * 3_600_000)),
            3.0
        );
        assert_eq!(s.candidate_disruption_cost(0, None), 4.0);
    }

    #[test]
    fn reschedulable_pods_are_listed_in_placement_order() {
        let none = Labels::new();
        let mut pods = [pod(1, 100), pod(2, 500), pod(3, 250)];
        let mut s = PodsSummary::of(&pods, |_| Some(facts(&none)));
        assert_eq!(s.pods, vec![1, 2, 0]);
        assert!(s.non_negative);
        let listed: Vec<u64> = s.candidate_pods(&pods).iter().map(|p| p.id).collect();
        assert_eq!(listed, vec![2, 3, 1]);
        pods[0].requests.cpu_milli = 900;
        pods[2].requests.memory = -1;
        s.order(&pods);
        assert_eq!(s.pods, vec![0, 1, 2]);
        assert!(!s.non_negative);
        assert_eq!(s.clone().into_candidate_pods(&pods).len(), 3);
    }
}
