//! What consolidation decides over and what it decides: candidates (karpenter
//! pkg/controllers/disruption/types.go: `Candidate`, `SavingsRatio`), their disruption costs
//! (pkg/utils/disruption/disruption.go: `EvictionCost`, `LifetimeRemaining`), the simulated
//! cluster, and the resulting commands.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use kscale_model::Resources;

use crate::karpenter::{Offering, Pool};
use crate::scheduler::{NodeInfo, PodInfo};

/// A node consolidation may remove; its pods are borrowed from the observed node.
#[derive(Clone, Debug)]
pub struct Candidate<'a> {
    /// Node name.
    pub node: &'a str,
    /// Index of its pool in [`Cluster::pools`].
    pub pool: usize,
    /// Instance type.
    pub instance_type: &'a str,
    /// `spot` or `on-demand`.
    pub capacity_type: &'a str,
    /// Price of its offering, USD per hour.
    pub price: f64,
    /// Capacity (counted against the pool's limits).
    pub capacity: Resources,
    /// Its reschedulable pods (not DaemonSet pods, not terminating).
    pub pods: CandidatePods<'a>,
    /// Σ [`eviction_cost`] of its pods × [`lifetime_remaining`] (`DisruptionCost`).
    pub disruption_cost: f64,
    /// 1 + Σ max(0, [`eviction_cost`]) of its reschedulable pods (`RescheduleDisruptionCost`).
    pub reschedule_cost: f64,
    /// Where its node is in [`Cluster::nodes`], if the caller knows: a hint, used only when
    /// that node has the candidate's name and is among the nodes given in name order (see
    /// [`Simulations::prepared`]), so the node is not looked up by name.
    ///
    /// [`Simulations::prepared`]: super::Simulations::prepared
    pub destination: Option<usize>,
}

/// A candidate's reschedulable pods, borrowed from its node: all of the node's pods, or those
/// at the given indices (no list of references built per candidate and poll).
#[derive(Clone, Debug)]
pub struct CandidatePods<'a> {
    /// The node's pods.
    all: &'a [PodInfo],
    /// Indices into `all` of the reschedulable ones (`None`: every pod).
    index: Option<Cow<'a, [u32]>>,
    /// `Some(non_negative)`: the pods are listed in [`placement_key`] order, and whether none
    /// requests a negative CPU or memory (multi-node consolidation then merges the candidates'
    /// lists instead of sorting their pods).
    ///
    /// [`placement_key`]: super::placement_key
    pub(super) placement: Option<bool>,
}

impl<'a> CandidatePods<'a> {
    /// Every pod of `all`.
    pub fn all(all: &'a [PodInfo]) -> Self {
        CandidatePods {
            all,
            index: None,
            placement: None,
        }
    }

    /// The pods of `all` at `index` (in that order).
    pub fn subset(all: &'a [PodInfo], index: Cow<'a, [u32]>) -> Self {
        CandidatePods {
            all,
            index: Some(index),
            placement: None,
        }
    }

    /// The pods of `all` at `index`, which lists them in [`placement_key`] order;
    /// `non_negative` says that none of them requests a negative CPU or memory.
    ///
    /// [`placement_key`]: super::placement_key
    pub fn in_placement_order(
        all: &'a [PodInfo],
        index: Cow<'a, [u32]>,
        non_negative: bool,
    ) -> Self {
        CandidatePods {
            all,
            index: Some(index),
            placement: Some(non_negative),
        }
    }

    /// The pods, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a PodInfo> + '_ {
        let all = self.all;
        let (every, some) = match &self.index {
            None => (Some(all.iter()), None),
            Some(ix) => (None, Some(ix.iter().map(move |i| &all[*i as usize]))),
        };
        every
            .into_iter()
            .flatten()
            .chain(some.into_iter().flatten())
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.index.as_ref().map_or(self.all.len(), |ix| ix.len())
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Candidate<'_> {
    /// Price per unit of disruption (`SavingsRatio`): higher is disrupted first.
    pub fn savings_ratio(&self) -> f64 {
        self.price / self.reschedule_cost
    }
}

/// Cost of evicting one pod: `1 + deletionCost/2^27 + priority/2^25`, clamped to [−10, 10].
pub fn eviction_cost(deletion_cost: f64, priority: i32) -> f64 {
    (1.0 + deletion_cost / 2f64.powi(27) + priority as f64 / 2f64.powi(25)).clamp(-10.0, 10.0)
}

/// Fraction of the node's lifetime left, in [0, 1] (1 without `expireAfter`).
pub fn lifetime_remaining(age_ms: u64, expire_after_ms: Option<u64>) -> f64 {
    match expire_after_ms {
        Some(e) if e > 0 => ((e as f64 - age_ms as f64) / e as f64).clamp(0.0, 1.0),
        _ => 1.0,
    }
}

/// What the simulation sees.
pub struct Cluster<'a> {
    /// Nodes pods may move to (ready, schedulable, not being disrupted); candidates among them
    /// are skipped when they are the ones removed.
    pub nodes: &'a [&'a NodeInfo],
    /// Pools (usage includes the candidates).
    pub pools: &'a [Pool],
    /// Offerings that can be launched now.
    pub offerings: &'a [Offering],
    /// The `SpotToSpotConsolidation` feature gate (default false).
    pub spot_to_spot: bool,
    /// Pending pods (not nominated to in-flight capacity): simulated too, as upstream's
    /// `SimulateScheduling` does, but their failing to schedule blocks nothing.
    pub pending: &'a [PodInfo],
    /// Nodes of `nodes` that are not initialized yet (in-flight NodeClaims): a candidate's pod
    /// may not rely on them.
    pub uninitialized: &'a BTreeSet<Arc<str>>,
}

/// The one node that replaces the candidates.
#[derive(Clone, Debug, PartialEq)]
pub struct Replacement {
    /// Pool index.
    pub pool: usize,
    /// Offerings it may launch as (cheapest first, all cheaper than the candidates).
    pub options: Vec<usize>,
    /// Pods planned onto it.
    pub pods: Vec<u64>,
    /// Their requests.
    pub requests: Resources,
}

impl Replacement {
    /// The offering launched: the cheapest option.
    pub fn offering(&self) -> usize {
        self.options[0]
    }
}

/// A consolidation decision.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Delete the candidates; their pods fit the other nodes.
    Delete,
    /// Replace them with one cheaper node.
    Replace(Replacement),
}

/// A consolidation command.
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    /// Indices into the candidate slice.
    pub candidates: Vec<usize>,
    /// Delete or replace.
    pub decision: Decision,
    /// Hourly savings, USD (candidates' price minus the replacement's).
    pub savings: f64,
}

/// Outcome of a consolidation method.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// The command to run, if any.
    pub command: Option<Command>,
    /// Candidates (indices) found unconsolidatable, with the reason.
    pub unconsolidatable: Vec<(usize, String)>,
    /// Some candidate was skipped because its pool's budget is used up (then the cluster must
    /// not be marked consolidated).
    pub constrained_by_budgets: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eviction_cost_and_lifetime() {
        // pkg/utils/disruption/disruption.go: default 1; priority 2^25 adds 1; clamped at 10.
        assert_eq!(eviction_cost(0.0, 0), 1.0);
        assert_eq!(eviction_cost(0.0, 1 << 25), 2.0);
        assert_eq!(eviction_cost(2f64.powi(27), 0), 2.0);
        assert_eq!(eviction_cost(0.0, 1_000_000_000), 10.0);
        assert_eq!(eviction_cost(-2_147_483_647.0, 0), -10.0);
        assert_eq!(lifetime_remaining(0, None), 1.0);
        assert_eq!(lifetime_remaining(3_600_000, Some(4 * 3_600_000)), 0.75);
        assert_eq!(lifetime_remaining(5 * 3_600_000, Some(4 * 3_600_000)), 0.0);
    }
}
