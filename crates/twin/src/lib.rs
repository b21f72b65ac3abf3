//! The kscale digital twin: a deterministic discrete-event simulation of a Kubernetes cluster.
//!
//! Inputs are a [`scenario::Scenario`] and the manifests it names; [`run::run_scenario`] returns
//! the run's outputs. See ARCHITECTURE.md for the map of modules.

pub mod bench;
pub mod cloud;
pub mod cloud_provider;
pub mod error;
pub mod headroom;
pub mod latency;
pub mod load;
pub mod manifest;
pub mod overrides;
pub mod queue;
pub mod rngs;
pub mod run;
pub mod scaling_latency;
pub mod scenario;
pub mod sim;
pub mod slo;
pub mod trace;
pub mod tune;
pub mod validate;
pub mod yaml;
