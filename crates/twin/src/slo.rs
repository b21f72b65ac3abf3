//! Service-level objectives of a scenario (`spec.slos`): parsed and checked at load time; the
//! run measures them (`sim::slo`) into `summary.json`'s `slos`, and `kscale run --check` turns
//! a failed objective into exit code 3.
//!
//! One objective per entry; `target` (a workload, `kind/name` or `namespace/kind/name`) for
//! the workload objectives:
//!
//! | field | measured | passes when |
//! |---|---|---|
//! | `latencyP99: 500ms` | p99 latency of the target's served requests over the run | ≤ the value |
//! | `failedRequests: "1%"` | requests failed (dropped, rejected, timed out) / offered | ≤ the value |
//! | `sloViolationTime: 2m` | time the target's load entries violated their own `slo` | ≤ the value |
//! | `podStartupP99: 30s` | p99 of the target's pod start-up (creation → running) | ≤ the value |
//! | `costPerHour: 2.5` | the run's cost divided by its duration (USD per hour) | ≤ the value |
//! | `maxNodes: 40` | the largest node count sampled | ≤ the value |
//!
//! `from: 1h` on any entry measures it from that time of the run on: a warm-up before it (the
//! cluster converging from the scenario's initial state) does not count.

use std::path::Path;

use serde::Deserialize;

use crate::error::InputError;
use crate::yaml::Document;

/// One entry of `spec.slos`, as written.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ObjectiveSpec {
    /// Unique name (reported, and the JUnit test case's name).
    pub name: String,
    /// The workload of a workload objective.
    #[serde(default)]
    pub target: Option<String>,
    /// p99 latency of served requests.
    #[serde(default)]
    pub latency_p99: Option<String>,
    /// Failed requests as a percentage of offered ones (`"1%"`).
    #[serde(default)]
    pub failed_requests: Option<String>,
    /// Time the target's load entries violate their `slo`.
    #[serde(default)]
    pub slo_violation_time: Option<String>,
    /// p99 pod start-up latency.
    #[serde(default)]
    pub pod_startup_p99: Option<String>,
    /// Cost per hour (USD).
    #[serde(default)]
    pub cost_per_hour: Option<f64>,
    /// Most nodes at any sample.
    #[serde(default)]
    pub max_nodes: Option<u32>,
    /// Measure from this time of the run on (a warm-up before it does not count; default 0s).
    #[serde(default)]
    pub from: Option<String>,
}

/// What an objective bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure {
    /// p99 latency of served requests, ms.
    LatencyP99Ms(u64),
    /// Failed / offered requests, a fraction.
    FailedRatio(f64),
    /// SLO violation time, ms.
    SloViolationMs(u64),
    /// p99 pod start-up, ms.
    PodStartupP99Ms(u64),
    /// USD per hour.
    CostPerHour(f64),
    /// Nodes.
    MaxNodes(u32),
}

impl Measure {
    /// The objective's field name in the scenario.
    pub fn field(&self) -> &'static str {
        match self {
            Measure::LatencyP99Ms(_) => "latencyP99",
            Measure::FailedRatio(_) => "failedRequests",
            Measure::SloViolationMs(_) => "sloViolationTime",
            Measure::PodStartupP99Ms(_) => "podStartupP99",
            Measure::CostPerHour(_) => "costPerHour",
            Measure::MaxNodes(_) => "maxNodes",
        }
    }

    /// Whether it is measured on a workload (`target` required).
    pub fn needs_target(&self) -> bool {
        matches!(
            self,
            Measure::LatencyP99Ms(_)
                | Measure::FailedRatio(_)
                | Measure::SloViolationMs(_)
                | Measure::PodStartupP99Ms(_)
        )
    }
}

/// A checked objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    /// Its name.
    pub name: String,
    /// What it bounds, and the bound.
    pub measure: Measure,
    /// The target workload `(namespace, kind, name)`, kind lower-case.
    pub target: Option<(String, String, String)>,
    /// The target as written.
    pub target_text: Option<String>,
    /// Measured from this time on (ms; 0: the whole run).
    pub from_ms: u64,
}

/// Parses a percentage (`"1%"`, `"0.5%"`) into a fraction.
fn percent(s: &str) -> Option<f64> {
    let v: f64 = s.trim().strip_suffix('%')?.trim().parse().ok()?;
    (v.is_finite() && (0.0..=100.0).contains(&v)).then_some(v / 100.0)
}

/// A workload target `kind/name` or `namespace/kind/name`, kind normalised.
pub fn workload_target(s: &str) -> Result<(String, String, String), String> {
    let parts: Vec<&str> = s.split('/').collect();
    let (ns, kind, name) = match parts.as_slice() {
        [k, n] => ("default", *k, *n),
        [ns, k, n] => (*ns, *k, *n),
        _ => {
            return Err(format!(
                "target {s:?} must be kind/name or namespace/kind/name"
            ));
        }
    };
    let kind = match kind.to_ascii_lowercase().as_str() {
        "deployment" | "deployments" | "deploy" => "deployment",
        "statefulset" | "statefulsets" | "sts" => "statefulset",
        "replicaset" | "replicasets" | "rs" => "replicaset",
        other => {
            return Err(format!(
                "target kind {other:?} is not a workload (deployment, statefulset, replicaset)"
            ));
        }
    };
    if ns.is_empty() || name.is_empty() {
        return Err(format!(
            "target {s:?} must be kind/name or namespace/kind/name"
        ));
    }
    Ok((ns.to_string(), kind.to_string(), name.to_string()))
}

/// Checks `spec.slos`: names unique and non-empty, exactly one objective per entry, a target
/// exactly for the workload objectives, bounds in range. Errors name the file, line and field.
pub fn resolve(
    path: &Path,
    doc: &Document,
    specs: &[ObjectiveSpec],
) -> Result<Vec<Objective>, InputError> {
    let mut out: Vec<Objective> = vec![];
    let items = doc.item_lines("slos");
    for (i, s) in specs.iter().enumerate() {
        // The entry's line (a key of the same name elsewhere, such as a load's `slo`, is not
        // this entry's; the field path names the key).
        let err = |field: &str, msg: String| {
            let mut e = InputError::file(path, msg).with_field(format!("spec.slos[{i}]{field}"));
            e.line = items
                .get(i)
                .copied()
                .or_else(|| doc.find_key_line("slos", 0));
            e
        };
        if s.name.trim().is_empty() {
            return Err(err(".name", "an SLO needs a name".into()));
        }
        if out.iter().any(|o| o.name == s.name) {
            return Err(err(".name", format!("duplicate SLO name {:?}", s.name)));
        }
        let duration = |key: &str, v: &Option<String>| -> Result<Option<u64>, InputError> {
            v.as_deref()
                .map(|d| {
                    kscale_model::parse_duration(d)
                        .map_err(|m| err(&format!(".{key}"), format!("{key} {d:?}: {m}")))
                })
                .transpose()
        };
        let mut measures = vec![];
        if let Some(d) = duration("latencyP99", &s.latency_p99)? {
            measures.push(Measure::LatencyP99Ms(d));
        }
        if let Some(p) = &s.failed_requests {
            let Some(f) = percent(p) else {
                return Err(err(
                    ".failedRequests",
                    format!(
                        "failedRequests {p:?}: give a percentage between 0% and 100%, e.g. \"1%\""
                    ),
                ));
            };
            measures.push(Measure::FailedRatio(f));
        }
        if let Some(d) = duration("sloViolationTime", &s.slo_violation_time)? {
            measures.push(Measure::SloViolationMs(d));
        }
        if let Some(d) = duration("podStartupP99", &s.pod_startup_p99)? {
            measures.push(Measure::PodStartupP99Ms(d));
        }
        if let Some(c) = s.cost_per_hour {
            if !(c.is_finite() && c >= 0.0) {
                return Err(err(
                    ".costPerHour",
                    format!("costPerHour {c}: give a non-negative number of USD per hour"),
                ));
            }
            measures.push(Measure::CostPerHour(c));
        }
        if let Some(n) = s.max_nodes {
            measures.push(Measure::MaxNodes(n));
        }
        let measure = match measures.as_slice() {
            [m] => *m,
            [] => {
                return Err(err(
                    "",
                    format!(
                        "SLO {:?} has no objective (one of latencyP99, failedRequests, sloViolationTime, podStartupP99, costPerHour, maxNodes)",
                        s.name
                    ),
                ));
            }
            [a, b, ..] => {
                return Err(err(
                    "",
                    format!(
                        "SLO {:?} has several objectives ({} and {}): give one per entry",
                        s.name,
                        a.field(),
                        b.field()
                    ),
                ));
            }
        };
        let target = match (&s.target, measure.needs_target()) {
            (Some(t), true) => Some(workload_target(t).map_err(|m| err(".target", m))?),
            (None, true) => {
                return Err(err(
                    ".target",
                    format!(
                        "{} needs a target workload, e.g. target: deployment/web",
                        measure.field()
                    ),
                ));
            }
            (Some(_), false) => {
                return Err(err(
                    ".target",
                    format!(
                        "{} is measured on the whole cluster: remove target",
                        measure.field()
                    ),
                ));
            }
            (None, false) => None,
        };
        let from_ms = duration("from", &s.from)?.unwrap_or(0);
        out.push(Objective {
            name: s.name.clone(),
            measure,
            target,
            target_text: s.target.clone(),
            from_ms,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_read_as_fractions() {
        assert_eq!(percent("1%"), Some(0.01));
        assert_eq!(percent(" 0.5 %"), Some(0.005));
        assert_eq!(percent("1"), None);
        assert_eq!(percent("150%"), None);
    }

    #[test]
    fn targets_read_as_load_targets() {
        assert_eq!(
            workload_target("deployment/web").unwrap(),
            ("default".into(), "deployment".into(), "web".into())
        );
        assert_eq!(
            workload_target("shop/sts/db").unwrap(),
            ("shop".into(), "statefulset".into(), "db".into())
        );
        assert!(workload_target("pod/x").is_err());
        assert!(workload_target("web").is_err());
    }
}
