//! Karpenter's vocabulary shared by the twin's Karpenter and the live one (`kscale run
//! --cluster`): its pools as both read them ([`pool`]), its disruption commands and their
//! record ([`command`]), its deduplicated events ([`dedupe`]), a NodePool disruption poll's decision ([`disruption`]), the offerings it skips after a capacity error ([`unavailable`]) and
//! upstream's timings — and provisioning itself ([`provisioning`]) and v1alpha5 Provisioners' disruption
//! ([`provisioner`]), run by both.
//!
//! The decisions themselves are pure functions in `kscale_controllers::karpenter`; this module
//! holds what both backends' drivers carry between them, so neither reaches into the other.

pub mod command;
pub mod dedupe;
pub mod disruption;
pub mod pool;
pub mod provisioner;
pub mod provisioning;
pub mod unavailable;

pub use command::{Command, DecisionRecord, PlannedReplacement, summary_json};
pub use dedupe::Dedupe;
pub use pool::{NodePool, PoolApi, PoolConfig, Provisioner, pool_configs, pool_label};
pub use unavailable::UnavailableOfferings;

/// Batch idle time: a batch of pending pods closes after 1 s without a new one
/// (kubernetes-sigs/karpenter pkg/controllers/provisioning/batcher.go, `BATCH_IDLE_DURATION`).
pub const BATCH_IDLE_MS: u64 = 1_000;
/// Maximum batch length, 10 s (`BATCH_MAX_DURATION`).
pub const BATCH_MAX_MS: u64 = 10_000;
/// Disruption poll period, 10 s (pkg/controllers/disruption/controller.go `pollingPeriod`).
pub const DISRUPTION_POLL_MS: u64 = 10_000;
/// Candidates a Provisioner's consolidation simulates per poll (bounds the work of one poll;
/// *assumption*: upstream bounds it by time instead).
pub const MAX_CONSOLIDATION_CANDIDATES: usize = 10;
/// Single-node candidates simulated per poll (upstream bounds the pass by a 3-minute timeout;
/// *assumption*: 10).
pub const MAX_SINGLE_NODE_CANDIDATES: usize = 10;
/// How long an offering that failed with insufficient capacity is skipped: 3 minutes
/// (pkg/cache/unavailableofferings.go `UnavailableOfferingsTTL`).
pub const ICE_TTL_MS: u64 = 180_000;
/// Delay between computing a command and re-validating it (`commandValidationDelay`, 15 s,
/// pkg/controllers/disruption/validation.go).
pub const VALIDATION_DELAY_MS: u64 = 15_000;
/// How often a draining node is checked for its pods being gone (*assumption*: 1 s).
pub const TERMINATION_POLL_MS: u64 = 1_000;
/// The taint disrupted nodes get (`karpenter.sh/disrupted:NoSchedule`,
/// pkg/apis/v1/taints.go `DisruptedNoScheduleTaint`).
pub const DISRUPTED_TAINT: &str = "karpenter.sh/disrupted";
