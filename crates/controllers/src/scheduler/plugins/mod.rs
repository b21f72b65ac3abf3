//! The default kube-scheduler plugins kscale models (`pkg/scheduler/framework/plugins/`), one
//! module per upstream plugin file.

pub(super) mod default_preemption;
pub(super) mod inter_pod_affinity;
pub(super) mod node_affinity;
pub(super) mod node_unschedulable;
pub(super) mod noderesources;
pub(super) mod pod_topology_spread;
pub(super) mod taint_toleration;
