//! Components: what kscale plays in a cluster, each owning its state and written once against
//! the cluster API ([`kscale_cluster::Cluster`]), so the twin and a real control plane run the
//! same code. Decisions come from `kscale-controllers`; a component reads the cluster,
//! asks its controller, and writes the result back.

pub mod cluster_autoscaler;
mod custom_object;
pub mod karpenter;
pub mod proportional;
pub mod vpa;
