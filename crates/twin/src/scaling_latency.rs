//! Scaling latency: how long adding N instances takes as new pods (a ReplicaSet scale-up)
//! and as container replicas inside a running pod (Elastic Pods) — seed 000's Figure 8.
//!
//! One measurement runs the scenario with one extra kubectl step at `at`:
//! - **ReplicaSet**: `kubectl scale deployment NAME --replicas=<current + N>`; the latency is
//!   from the step until the last of the N new pods is reported running (its containers
//!   started and seen by the PLEG relist).
//! - **Elastic**: `kubectl patch pod NAME` setting the container's `replica` to
//!   `<current + N>`; the latency is from the step until the kubelet's status write that ends
//!   the replication (phase back to `Unset`).
//!
//! Runs are independent and deterministic (each has its own seed), so callers may run them in
//! parallel.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::error::InputError;
use crate::scenario::{Scenario, StepSpec};
use crate::sim::Sim;
use crate::sim::store::ObjKey;

/// How the instances are added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Method {
    /// New pods from a ReplicaSet (`kubectl scale`).
    ReplicaSet,
    /// Container replicas in a running pod (`kubectl patch pod … replica`).
    Elastic,
}

/// What to scale in the scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    /// `(namespace, name)` of the Deployment for the ReplicaSet path.
    pub deployment: (String, String),
    /// `(namespace, name)` of the pod for the elastic path.
    pub pod: (String, String),
    /// Container of that pod whose `replica` grows.
    pub container: String,
    /// Time of the scaling step (ms); everything before it is the warm-up.
    pub at_ms: u64,
}

/// Mean, min and max of one (method, N) cell over the runs, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cell {
    /// Mean latency.
    pub mean_seconds: f64,
    /// Fastest run.
    pub min_seconds: f64,
    /// Slowest run.
    pub max_seconds: f64,
}

impl Cell {
    /// Summarises latencies (seconds).
    pub fn of(v: &[f64]) -> Cell {
        let n = v.len().max(1) as f64;
        Cell {
            mean_seconds: v.iter().sum::<f64>() / n,
            min_seconds: v.iter().copied().fold(f64::INFINITY, f64::min),
            max_seconds: v.iter().copied().fold(0.0, f64::max),
        }
    }
}

/// The seed's Figure 8 end points (s): ReplicaSet 1.84 → 8.16, elastic 0.95 → 1.05 for 1 and
/// 10 instances (the bars in between are not given as numbers in the text).
pub const SEED_FIGURE8: [(u32, f64, f64); 2] = [(1, 1.84, 0.95), (10, 8.16, 1.05)];

/// Instances before the step: the Deployment's replicas and the container's `replica`, as
/// the scenario's manifests set them at t=0.
fn initial_counts(scenario: &Scenario, t: &Targets) -> Result<(i64, u32), InputError> {
    let sim = Sim::new(Arc::new(scenario.clone()))?;
    let missing = |what: String| InputError::file(&scenario.path, what);
    let dep = sim
        .store
        .get(&ObjKey::new("Deployment", &t.deployment.0, &t.deployment.1))
        .ok_or_else(|| {
            missing(format!(
                "no Deployment {}/{} in the scenario's manifests",
                t.deployment.0, t.deployment.1
            ))
        })?;
    let replicas = dep
        .pointer("/spec/replicas")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(1);
    let id = sim
        .pod_names
        .get(&(Arc::from(t.pod.0.as_str()), Arc::from(t.pod.1.as_str())))
        .ok_or_else(|| {
            missing(format!(
                "no Pod {}/{} in the scenario's manifests",
                t.pod.0, t.pod.1
            ))
        })?;
    let c = sim.pods[id]
        .template
        .containers
        .iter()
        .find(|c| c.name == t.container)
        .ok_or_else(|| {
            missing(format!(
                "pod {}/{} has no container {:?}",
                t.pod.0, t.pod.1, t.container
            ))
        })?;
    Ok((replicas, c.replica))
}

/// One measured run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// Step → all N instances running, in seconds.
    pub seconds: f64,
    /// Pod writes to the API server from the step to the end of the run (creates, bindings,
    /// status writes, patches).
    pub api_writes: u64,
}

/// Pod writes counted so far.
fn pod_writes(sim: &Sim) -> u64 {
    sim.api_writes_summary()["total"].as_u64().unwrap_or(0)
}

/// Runs the scenario once with `seed`, adding `n` instances with `method` at `t.at_ms`
/// (`None` if the instances were not all running by the end).
pub fn measure(
    path: &Path,
    t: &Targets,
    method: Method,
    n: u32,
    seed: u64,
) -> Result<Option<Measurement>, InputError> {
    let mut scenario = Scenario::load(path)?;
    scenario.doc.spec.seed = Some(seed);
    let (replicas, replica) = initial_counts(&scenario, t)?;
    let run = match method {
        Method::ReplicaSet => format!(
            "kubectl scale deployment {} -n {} --replicas={}",
            t.deployment.1,
            t.deployment.0,
            replicas + n as i64
        ),
        Method::Elastic => format!(
            "kubectl patch pod {} -n {} --patch '{{\"spec\":{{\"containers\":[{{\"name\":\"{}\",\"replica\":{}}}]}}}}'",
            t.pod.1,
            t.pod.0,
            t.container,
            replica + n
        ),
    };
    scenario.steps.push(StepSpec {
        at: crate::scenario::DurationField(t.at_ms),
        run: run.clone(),
    });
    scenario.steps.sort_by_key(|s| s.at);
    let path = scenario.path.clone();
    let mut sim = Sim::new(Arc::new(scenario))?;
    sim.run_until(kscale_model::SimTime(t.at_ms));
    let before = pod_writes(&sim);
    sim.run();
    let api_writes = pod_writes(&sim) - before;
    if let Some(failed) = sim
        .recorder
        .transcript()
        .iter()
        .find(|e| e.command == run && e.exit_code != 0)
    {
        return Err(InputError::file(
            &path,
            format!("the scaling step `{run}` failed: {}", failed.stderr.trim()),
        ));
    }
    let at = kscale_model::SimTime(t.at_ms);
    let seconds = match method {
        Method::ReplicaSet => {
            let workload = format!("{}/deployment/{}", t.deployment.0, t.deployment.1);
            let done: Vec<u64> = sim
                .recorder
                .startups_of(&workload)
                .filter(|s| s.0 >= at)
                .map(|s| s.0.as_millis() + s.1)
                .collect();
            (done.len() >= n as usize)
                .then(|| (done.iter().max().copied().unwrap_or(0) - t.at_ms) as f64 / 1000.0)
        }
        Method::Elastic => {
            let pod = format!("{}/{}", t.pod.0, t.pod.1);
            sim.elastic
                .records
                .iter()
                .find(|r| r.pod == pod && r.proposed_at >= at.as_secs_f64() && r.outcome == "Unset")
                .map(|r| r.finished_at - r.proposed_at)
        }
    };
    Ok(seconds.map(|seconds| Measurement {
        seconds,
        api_writes,
    }))
}
