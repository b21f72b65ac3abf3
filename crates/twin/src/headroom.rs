//! Headroom analysis: how much over-provisioning to buy.
//!
//! The scenario is run once per candidate replica count of the over-provisioning (pause-pod)
//! Deployment. For each run the start-up latency of the protected workload's pods (creation →
//! running, which includes any wait for a new node) and the cost are measured; the cheapest
//! setting whose p99 start-up latency meets the target is marked. Runs are independent and
//! deterministic, so callers may run them in parallel.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::error::InputError;
use crate::scenario::Scenario;
use crate::sim::Sim;
use crate::sim::store::ObjKey;

/// One row of the trade-off table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeadroomRow {
    /// Replicas of the over-provisioning Deployment.
    pub replicas: i64,
    /// Pods of the protected workload that started during the run.
    pub pods_started: usize,
    /// Median start-up latency (s).
    pub p50_seconds: f64,
    /// 99th percentile start-up latency (s).
    pub p99_seconds: f64,
    /// Longest start-up latency (s).
    pub max_seconds: f64,
    /// Seconds in violation of the SLOs of the load entries on the workload (`slo` of a
    /// `load` entry); `None` when none has an SLO.
    pub slo_violation_seconds: Option<f64>,
    /// Requests dropped or rejected on the workload's load entries (with a client model: whose
    /// last attempt failed).
    pub failed_requests: f64,
    /// Cost of the whole run (USD).
    pub cost_usd: f64,
    /// Cost scaled to one day (USD per day).
    pub cost_per_day_usd: f64,
}

pub use kscale_model::stats::percentile;

/// Start-up latencies (seconds, sorted) of a workload's pods (`namespace/deployment/name`)
/// created at or after `from`: the pods of surges, not the initial roll-out onto an empty
/// cluster.
pub fn startup_seconds(sim: &Sim, workload: &str, from: kscale_model::SimTime) -> Vec<f64> {
    let mut v: Vec<f64> = sim
        .recorder
        .startups_of(workload)
        .filter(|s| s.0 >= from)
        .map(|s| s.1 as f64 / 1000.0)
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

/// What holds the headroom, by `(namespace, name)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A Deployment of low-priority pause pods (its `spec.replicas` is swept).
    PausePods(String, String),
    /// A `CapacityBuffer` (autoscaling.x-k8s.io/v1alpha1; its `spec.replicas` is swept).
    Buffer(String, String),
}

impl Source {
    /// `namespace/kind/name` for reports.
    pub fn describe(&self) -> String {
        match self {
            Source::PausePods(ns, n) => format!("{ns}/deployment/{n}"),
            Source::Buffer(ns, n) => format!("{ns}/capacitybuffer/{n}"),
        }
    }
}

/// Checks, before a sweep, that the swept `source` and the protected `workload`
/// (`namespace/deployment/name`) are objects the scenario's manifests define: a typo would
/// sweep nothing and print identical rows. The error names the flag and the object.
pub fn check_targets(path: &Path, source: &Source, workload: &str) -> Result<(), InputError> {
    let scenario = Scenario::load(path)?;
    let sim = Sim::new(Arc::new(scenario))?;
    let (flag, kind, ns, name) = match source {
        Source::PausePods(ns, n) => ("--pause", "Deployment", ns, n),
        Source::Buffer(ns, n) => ("--buffer", "CapacityBuffer", ns, n),
    };
    let missing = |flag: &str, kind: &str, ns: &str, name: &str| {
        InputError::file(
            path,
            format!(
                "{flag}: {} {ns}/{name} is not defined by the scenario's manifests",
                kind.to_ascii_lowercase()
            ),
        )
    };
    if sim.store.get(&ObjKey::new(kind, ns, name)).is_none() {
        return Err(missing(flag, kind, ns, name));
    }
    let mut parts = workload.splitn(3, '/');
    let (wns, _, wname) = (
        parts.next().unwrap_or(""),
        parts.next(),
        parts.next().unwrap_or(""),
    );
    if sim
        .store
        .get(&ObjKey::new("Deployment", wns, wname))
        .is_none()
    {
        return Err(missing("--workload", "Deployment", wns, wname));
    }
    Ok(())
}

/// Runs the scenario with `replicas` in the headroom `source` and measures the protected
/// `workload` (`namespace/deployment/name`), counting pods created from `from` on (default:
/// the first kubectl step, or t=0 without steps).
pub fn run_variant(
    path: &Path,
    source: &Source,
    workload: &str,
    replicas: i64,
    from: Option<u64>,
) -> Result<HeadroomRow, InputError> {
    let mut scenario = Scenario::load(path)?;
    let from = kscale_model::SimTime(
        from.unwrap_or_else(|| scenario.steps.first().map(|s| s.at.0).unwrap_or(0)),
    );
    let key = match source {
        Source::PausePods(ns, n) => ("Deployment".to_string(), ns.clone(), n.clone()),
        Source::Buffer(ns, n) => ("CapacityBuffer".to_string(), ns.clone(), n.clone()),
    };
    scenario.replica_overrides.insert(key, replicas);
    let mut sim = Sim::new(Arc::new(scenario))?;
    sim.run();
    let lat = startup_seconds(&sim, workload, from);
    let cost = sim.cost_so_far();
    let day = 86_400.0 / sim.end.as_secs_f64().max(1.0);
    let loads: Vec<(&crate::scenario::Load, &crate::load::LoadState)> = sim
        .scenario
        .loads
        .iter()
        .zip(sim.load.states())
        .filter(|(l, _)| format!("{}/{}/{}", l.namespace, l.kind, l.name) == workload)
        .collect();
    let slo_violation_seconds = loads
        .iter()
        .any(|(l, _)| l.slo.is_some())
        .then(|| loads.iter().map(|(_, s)| s.slo_violation_s).sum());
    let failed_requests = loads
        .iter()
        .map(|(l, s)| {
            if l.has_clients() {
                s.failed
            } else {
                s.dropped + s.rejected
            }
        })
        .sum();
    Ok(HeadroomRow {
        replicas,
        pods_started: lat.len(),
        slo_violation_seconds,
        failed_requests,
        p50_seconds: percentile(&lat, 50.0),
        p99_seconds: percentile(&lat, 99.0),
        max_seconds: lat.last().copied().unwrap_or(0.0),
        cost_usd: cost,
        cost_per_day_usd: cost * day,
    })
}

/// Index of the cheapest row whose start-up p99 meets `max_p99_seconds` and, if given, whose
/// SLO violation time is at most `max_slo_violation_seconds` (ties: fewer replicas).
pub fn cheapest_meeting(
    rows: &[HeadroomRow],
    max_p99_seconds: f64,
    max_slo_violation_seconds: Option<f64>,
) -> Option<usize> {
    rows.iter()
        .enumerate()
        .filter(|(_, r)| r.pods_started > 0 && r.p99_seconds <= max_p99_seconds)
        .filter(|(_, r)| {
            max_slo_violation_seconds.is_none_or(|m| r.slo_violation_seconds.is_none_or(|v| v <= m))
        })
        .min_by(|a, b| {
            a.1.cost_per_day_usd
                .total_cmp(&b.1.cost_per_day_usd)
                .then(a.1.replicas.cmp(&b.1.replicas))
        })
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_cheapest_meeting_target() {
        let row = |replicas, p99, cost| HeadroomRow {
            replicas,
            slo_violation_seconds: Some(100.0 - cost * 30.0),
            failed_requests: 0.0,
            pods_started: 3,
            p50_seconds: 1.0,
            p99_seconds: p99,
            max_seconds: p99,
            cost_usd: cost,
            cost_per_day_usd: cost,
        };
        let rows = vec![row(0, 90.0, 1.0), row(1, 20.0, 2.0), row(2, 5.0, 3.0)];
        assert_eq!(cheapest_meeting(&rows, 30.0, None), Some(1));
        assert_eq!(cheapest_meeting(&rows, 10.0, None), Some(2));
        assert_eq!(cheapest_meeting(&rows, 1.0, None), None);
        // SLO violation 70 s, 40 s, 10 s: at most 20 s leaves the last one.
        assert_eq!(cheapest_meeting(&rows, 30.0, Some(20.0)), Some(2));
        assert_eq!(cheapest_meeting(&rows, 30.0, Some(5.0)), None);
    }
}
