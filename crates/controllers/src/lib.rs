//! Pure decision logic of kscale.
//!
//! Every controller here is a function of observed state and the current virtual time that
//! returns decisions; none performs I/O, reads a clock or spawns tasks. The twin backend
//! (`kscale-twin`) applies the decisions to its simulated cluster; a live backend can apply the
//! same decisions to a real API server.
//!
//! - [`scheduler`]: kube-scheduler's filter, LeastAllocated scoring and DefaultPreemption.
//! - [`hpa`]: the HorizontalPodAutoscaler (autoscaling/v2) replica calculation and behavior.
//! - [`elastic`]: Elastic Pods (container replicas inside a running pod): validation, the
//!   scheduler's admission of replication requests, the kubelet's plan, the elastic autoscaler.
//! - [`cluster_autoscaler`]: the Cluster Autoscaler's scale-up (binpacking estimator, expanders),
//!   scale-down (utilization, drainability rules, unneeded timers) and node-group backoff.
//! - [`vpa`]: the Vertical Pod Autoscaler's recommender, updater and admission decisions.
//! - [`kubelet`]: the kubelet's allocation decision for an in-place pod resize and its events.
//! - [`daemonset`]: the DaemonSet controller's placement of daemon pods.
//! - [`statefulset`]: the StatefulSet controller's ordered creations, scale-downs and rolling
//!   updates.

pub mod cluster_autoscaler;
pub mod daemonset;
pub mod elastic;
pub mod hpa;
pub mod karpenter;
pub mod kubelet;
pub mod proportional;
pub mod scheduler;
pub mod statefulset;
pub mod vpa;
