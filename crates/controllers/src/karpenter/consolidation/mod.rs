//! Karpenter consolidation decisions: which candidate nodes to delete, or to replace with one
//! cheaper node.
//!
//! kubernetes-sigs/karpenter (v1.14): pkg/controllers/disruption/consolidation.go
//! (`computeConsolidation`: re-schedule the candidates' pods; any unschedulable → no action;
//! no new NodeClaim → delete; more than one → no action; exactly one → replace only with
//! instance types whose worst launch price is below the candidates' summed price, pinned to spot
//! when it may be spot or on-demand; spot-to-spot behind the `SpotToSpotConsolidation` gate,
//! off by default, with 15 cheaper types required for a single node),
//! singlenodeconsolidation.go (candidates one at a time, interleaved across NodePools),
//! multinodeconsolidation.go (`firstNConsolidationOption`: binary search for the largest
//! consolidatable prefix of at most 100 budget-filtered candidates; `filterOutSameInstanceType`),
//! types.go (`SavingsRatio`: candidates ordered by price per unit of disruption, highest first)
//! and pkg/utils/disruption/disruption.go (`EvictionCost`, `LifetimeRemaining`).
//!
//! The simulation (`SimulateScheduling`, helpers.go) takes the candidates' pods and the pending
//! pods, places each (CPU then memory descending) on the first other node that passes the
//! scheduler's filters with room left, then plans the rest with [`super::plan`] as
//! provisioning would; a candidate's pod that lands on an uninitialized node or fits nowhere
//! blocks the move, pending pods that fit nowhere do not.
//!
//! Files, after karpenter's pkg/controllers/disruption/: `types.rs` (candidates, costs,
//! commands), `ordering.rs` (candidate order), `simulation.rs` (`SimulateScheduling`),
//! `compute.rs` (`computeConsolidation`), `single_node.rs` and `multi_node.rs`.

mod compute;
mod multi_node;
mod ordering;
mod simulation;
mod single_node;
#[cfg(test)]
mod testing;
mod types;

pub use compute::{MIN_SPOT_TO_SPOT_TYPES, compute, compute_in};
pub use multi_node::{MAX_MULTI_NODE_CANDIDATES, multi_node, multi_node_in};
pub use ordering::{
    order_name_ordered_candidates, ordered_per_pool, sort_candidates, sort_name_ordered_candidates,
};
pub use simulation::{PlacementKey, Simulations, placement_key};
pub use single_node::{single_node, single_node_in};
pub use types::{
    Candidate, CandidatePods, Cluster, Command, Decision, Outcome, Replacement, eviction_cost,
    lifetime_remaining,
};
