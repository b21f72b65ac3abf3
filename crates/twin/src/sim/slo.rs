//! Measuring the scenario's service-level objectives (`crate::slo`) during a run and
//! evaluating them into `summary.json`'s `slos`: each with `pass`, the measured value, the
//! bound, and the time windows in which it was violated.
//!
//! What is recorded only exists when the scenario has objectives: one record per load tick
//! (1 s) for the load entries a workload objective targets, and the node count and cost rate
//! at each time-series sample for the cluster objectives.
//!
//! - `latencyP99`: the 99th percentile of the per-second p99 latencies of the target's load
//!   entries, each second weighted by the requests it served (*approximation* of the p99 over
//!   every request; the load model keeps percentiles per second, not each request). Violated
//!   in the seconds whose p99 is above the bound.
//! - `failedRequests`: failed (dropped, rejected, timed out, or failed after their retries) /
//!   offered user requests. Violated in the seconds whose failed share is above the bound.
//! - `sloViolationTime`: the seconds the target's load entries violated their own `slo`.
//! - `podStartupP99`: the p99 of the target's pods' creation → running latency; violated from
//!   each pod's creation to its start when that took longer than the bound.
//! - `costPerHour`: the run's cost / its duration; violated at the samples whose cost rate is
//!   above the bound. `maxNodes`: the largest sampled node count; violated at samples above it.

use serde_json::{Value, json};

use super::Sim;
use crate::slo::{Measure, Objective};

/// One load tick of a load entry an objective targets.
#[derive(Debug, Clone, Copy)]
pub struct TickRecord {
    /// Tick time, ms.
    pub at_ms: u64,
    /// p99 latency of the tick's served requests, ms.
    pub p99_ms: f32,
    /// Requests served.
    pub served: f32,
    /// User requests failed.
    pub failed: f32,
    /// User requests offered.
    pub offered: f32,
    /// The load entry's own `slo` was violated.
    pub violated: bool,
}

/// What the run records for its objectives.
#[derive(Debug, Clone, Default)]
pub struct SloRecorder {
    /// Per load entry: its ticks, when a workload objective targets it.
    ticks: Vec<Option<Vec<TickRecord>>>,
    /// At each sample: time (ms), nodes, cost rate (USD per hour).
    samples: Vec<(u64, u32, f64)>,
}

impl SloRecorder {
    /// Records load entry `i`'s tick, if a workload objective targets the entry.
    pub fn record_tick(&mut self, i: usize, tick: TickRecord) {
        if let Some(Some(ticks)) = self.ticks.get_mut(i) {
            ticks.push(tick);
        }
    }
}

/// Merges violated instants into `[from, to)` windows in seconds; `step_ms` is the length of
/// one instant (a tick or a sample interval).
fn windows(mut at: impl Iterator<Item = u64>, step_ms: u64) -> Vec<Value> {
    let mut out: Vec<(u64, u64)> = vec![];
    for t in at.by_ref() {
        match out.last_mut() {
            Some((_, to)) if *to >= t => *to = t + step_ms,
            _ => out.push((t, t + step_ms)),
        }
    }
    out.into_iter()
        .map(|(f, t)| json!({"fromSeconds": f as f64 / 1000.0, "toSeconds": t as f64 / 1000.0}))
        .collect()
}

/// The value at which the cumulative weight reaches `q` (0..1) of the total.
fn weighted_quantile(mut v: Vec<(f64, f64)>, q: f64) -> f64 {
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = v.iter().map(|x| x.1).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let mut acc = 0.0;
    for (x, w) in &v {
        acc += w;
        if acc >= q * total {
            return *x;
        }
    }
    v.last().map_or(0.0, |x| x.0)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl Sim {
    /// Prepares the recording for the scenario's objectives (nothing without any).
    pub(crate) fn init_slo_recorder(&mut self) {
        let scenario = self.scenario.clone();
        self.slo.ticks = scenario
            .loads
            .iter()
            .map(|l| {
                scenario
                    .slos
                    .iter()
                    .any(|o| {
                        o.target.as_ref().is_some_and(|(ns, kind, name)| {
                            (ns, kind, name) == (&l.namespace, &l.kind, &l.name)
                        })
                    })
                    .then(Vec::new)
            })
            .collect();
    }

    /// Records a sample for the cluster objectives.
    pub(crate) fn slo_sample(&mut self) {
        if self.scenario.slos.is_empty() {
            return;
        }
        let cost: f64 = self.nodes.values().map(|n| n.hourly_price).sum();
        self.slo
            .samples
            .push((self.now.0, self.nodes.len() as u32, cost));
    }

    /// Every objective evaluated (empty without objectives).
    pub fn slo_results(&self) -> Vec<Value> {
        self.scenario
            .slos
            .iter()
            .map(|o| self.evaluate(o))
            .collect()
    }

    fn target_ticks<'a>(&'a self, o: &Objective) -> impl Iterator<Item = &'a TickRecord> {
        let target = o.target.clone();
        self.scenario
            .loads
            .iter()
            .zip(&self.slo.ticks)
            .filter(move |(l, _)| {
                target.as_ref().is_some_and(|(ns, kind, name)| {
                    (ns, kind, name) == (&l.namespace, &l.kind, &l.name)
                })
            })
            .filter_map(|(_, t)| t.as_ref())
            .flatten()
            .filter(move |t| t.at_ms >= o.from_ms)
    }

    fn evaluate(&self, o: &Objective) -> Value {
        let tick = crate::load::TICK_MS;
        let sample = self.sample_interval_ms();
        // (measured, bound, unit, violation windows)
        let (measured, bound, unit, violations) = match o.measure {
            Measure::LatencyP99Ms(b) => {
                let ticks: Vec<&TickRecord> = self.target_ticks(o).collect();
                let p99 = weighted_quantile(
                    ticks
                        .iter()
                        .map(|t| (t.p99_ms as f64, t.served as f64))
                        .collect(),
                    0.99,
                );
                let late = ticks
                    .iter()
                    .filter(|t| t.served > 0.0 && t.p99_ms as f64 > b as f64)
                    .map(|t| t.at_ms);
                (p99, b as f64, "ms", windows(late, tick))
            }
            Measure::FailedRatio(b) => {
                let ticks: Vec<&TickRecord> = self.target_ticks(o).collect();
                let failed: f64 = ticks.iter().map(|t| t.failed as f64).sum();
                let offered: f64 = ticks.iter().map(|t| t.offered as f64).sum();
                let ratio = if offered > 0.0 { failed / offered } else { 0.0 };
                let bad = ticks
                    .iter()
                    .filter(|t| t.offered > 0.0 && (t.failed / t.offered) as f64 > b)
                    .map(|t| t.at_ms);
                (ratio * 100.0, b * 100.0, "%", windows(bad, tick))
            }
            Measure::SloViolationMs(b) => {
                let ticks: Vec<&TickRecord> = self.target_ticks(o).collect();
                let bad: Vec<u64> = ticks
                    .iter()
                    .filter(|t| t.violated)
                    .map(|t| t.at_ms)
                    .collect();
                let secs = bad.len() as f64 * tick as f64 / 1000.0;
                (secs, b as f64 / 1000.0, "s", windows(bad.into_iter(), tick))
            }
            Measure::PodStartupP99Ms(b) => {
                let key = o
                    .target
                    .as_ref()
                    .map(|(ns, kind, name)| format!("{ns}/{kind}/{name}"))
                    .unwrap_or_default();
                let mine: Vec<_> = self
                    .recorder
                    .startups_of(&key)
                    .filter(|s| s.0.0 >= o.from_ms)
                    .collect();
                let mut v: Vec<f64> = mine.iter().map(|s| s.1 as f64).collect();
                v.sort_by(f64::total_cmp);
                let p99 = kscale_model::stats::percentile(&v, 99.0);
                let mut slow: Vec<(u64, u64)> = mine
                    .iter()
                    .filter(|s| s.1 > b)
                    .map(|s| (s.0.0, s.0.0 + s.1))
                    .collect();
                slow.sort();
                let mut merged: Vec<(u64, u64)> = vec![];
                for (f, t) in slow {
                    match merged.last_mut() {
                        Some((_, to)) if *to >= f => *to = (*to).max(t),
                        _ => merged.push((f, t)),
                    }
                }
                let w = merged
                    .into_iter()
                    .map(|(f, t)| json!({"fromSeconds": f as f64 / 1000.0, "toSeconds": t as f64 / 1000.0}))
                    .collect();
                (p99 / 1000.0, b as f64 / 1000.0, "s", w)
            }
            Measure::CostPerHour(b) => {
                let samples = self.slo.samples.iter().filter(|s| s.0 >= o.from_ms);
                let rate = if o.from_ms == 0 {
                    let hours = self.end.0 as f64 / 3_600_000.0;
                    if hours > 0.0 {
                        self.cost_so_far() / hours
                    } else {
                        0.0
                    }
                } else {
                    // From a time on: the mean of the sampled cost rates.
                    let (n, sum) = samples.clone().fold((0, 0.0), |(n, s), x| (n + 1, s + x.2));
                    if n > 0 { sum / n as f64 } else { 0.0 }
                };
                let bad = samples.filter(|s| s.2 > b).map(|s| s.0);
                (rate, b, "USD/h", windows(bad, sample))
            }
            Measure::MaxNodes(b) => {
                let samples = self.slo.samples.iter().filter(|s| s.0 >= o.from_ms);
                let max = samples.clone().map(|s| s.1).max().unwrap_or(0);
                let bad = samples.filter(|s| s.1 > b).map(|s| s.0);
                (max as f64, b as f64, "nodes", windows(bad, sample))
            }
        };
        let mut v = json!({
            "name": o.name,
            "objective": o.measure.field(),
            "pass": measured <= bound + 1e-9,
            "measured": round3(measured),
            "bound": round3(bound),
            "unit": unit,
            "violations": violations,
        });
        if let Some(t) = &o.target_text {
            v["target"] = json!(t);
        }
        if o.from_ms > 0 {
            v["fromSeconds"] = json!(o.from_ms as f64 / 1000.0);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_merge_adjacent_instants() {
        let w = windows([1000, 2000, 3000, 7000].into_iter(), 1000);
        assert_eq!(
            w,
            vec![
                json!({"fromSeconds": 1.0, "toSeconds": 4.0}),
                json!({"fromSeconds": 7.0, "toSeconds": 8.0})
            ]
        );
    }

    #[test]
    fn the_weighted_quantile_follows_the_weights() {
        // 98 requests at 10 ms, 2 at 900 ms: the 99th is in the slow ones.
        assert_eq!(
            weighted_quantile(vec![(10.0, 98.0), (900.0, 2.0)], 0.99),
            900.0
        );
        assert_eq!(
            weighted_quantile(vec![(10.0, 99.5), (900.0, 0.5)], 0.99),
            10.0
        );
        assert_eq!(weighted_quantile(vec![], 0.99), 0.0);
    }
}
