//! kube-scheduler decision logic: filter, score, and DefaultPreemption.
//!
//! Types in this module are the contract between the twin (which keeps one [`NodeInfo`] per
//! node, updated incrementally, like upstream's scheduler cache) and the pure algorithms.
//!
//! Upstream sources followed (kubernetes/kubernetes), one file each:
//! - `types.rs`: `pkg/scheduler/framework/types.go` (`PodInfo`, `NodeInfo`).
//! - `diagnosis.rs`: filter status codes and `FitError.Error` (the FailedScheduling message,
//!   `pkg/scheduler/framework/types.go`).
//! - `schedule_one.rs`: `pkg/scheduler/schedule_one.go`: `schedulePod`, `findNodesThatFitPod`,
//!   `findNodesThatPassFilters`, `numFeasibleNodesToFind`, `prioritizeNodes`, `selectHost`.
//! - `framework.rs`: `pkg/scheduler/framework/runtime/framework.go`:
//!   `RunFilterPluginsWithNominatedPods`, `addGENominatedPods`.
//! - `node_table.rs`: what the filters read of each node, kept between attempts (like the
//!   scheduler cache snapshot).
//! - `plugins/`: `pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable.go`,
//!   `.../tainttoleration/taint_toleration.go`, `.../nodeaffinity/node_affinity.go`,
//!   `.../noderesources/{fit.go,least_allocated.go,balanced_allocation.go}`,
//!   `.../defaultpreemption/default_preemption.go`, `.../podtopologyspread/`,
//!   `.../interpodaffinity/`.
//! - `preemption.rs`: `pkg/scheduler/framework/preemption/preemption.go` (DefaultPreemption
//!   PostFilter).
//!
//! Everything here is pure: no I/O, no clock, no global RNG. Random choices go through the
//! `tie_break` callback given to [`Scheduler::schedule`].

mod diagnosis;
mod framework;
mod node_table;
mod plugins;
mod preemption;
mod schedule_one;
#[cfg(test)]
pub(crate) mod testing;
mod types;

pub use diagnosis::Unfit;
pub use framework::{
    fits, fits_beside, fits_ignoring_lower_priority, fits_with_extra, fits_with_nominated,
    matches_node_affinity, schedulable_after_pod_bound, waits_for_pods,
};
pub use node_table::{NodeList, NodeTable};
pub use plugins::inter_pod_affinity::{
    AffinityTerm, LABEL_METADATA_NAME, PodAffinity, WeightedAffinityTerm,
};
pub use plugins::node_unschedulable::TAINT_NODE_UNSCHEDULABLE;
pub use plugins::noderesources::{
    InsufficientResources, balanced_allocation_score, least_allocated_score,
};
pub use plugins::pod_topology_spread::counts::LABEL_ZONE;
pub use plugins::pod_topology_spread::{
    InclusionPolicy, LABEL_HOSTNAME, SpreadConstraint, WhenUnsatisfiable,
    system_default_constraints,
};
pub use plugins::taint_toleration::TAINT_NODE_NOT_READY;
pub use schedule_one::Scheduler;
pub use types::{
    DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST, Decision, MAX_NODE_SCORE, NodeInfo, PdbInfo,
    PlacementConstraints, PodInfo,
};
