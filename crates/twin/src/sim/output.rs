//! Sampling the run into a time series, and assembling the run's outputs.

use std::collections::BTreeMap;

use kscale_report::{ChartSpec, RunOutput, TimeSeries};
use serde_json::{Value, json};

use super::Sim;
use super::model::PodPhase;

/// Samples as ordered maps (column → value); columns are unioned when the series is built, so
/// workloads created mid-run get their own columns.
#[derive(Debug, Default)]
pub struct Samples {
    rows: Vec<BTreeMap<String, f64>>,
}

/// Fixed columns, in the order they appear in `timeseries.csv`.
pub const FIXED_COLUMNS: &[&str] = &[
    "time_s",
    "nodes",
    "nodes_ready",
    "pods",
    "pods_running",
    "pods_ready",
    "pods_pending",
    "pods_unschedulable",
    "pods_terminating",
    "cpu_requested_cores",
    "cpu_allocatable_cores",
    "memory_requested_gib",
    "memory_allocatable_gib",
    "cost_usd",
    "cost_rate_usd_per_hour",
];

impl Sim {
    /// Total cost so far (closed nodes plus running nodes up to now), USD.
    pub fn cost_so_far(&self) -> f64 {
        self.closed_cost
            + self
                .nodes
                .values()
                .map(|n| n.hourly_price * self.now.since(n.created) as f64 / 3_600_000.0)
                .sum::<f64>()
    }

    /// Takes one time-series sample at the current time (once per time).
    pub fn take_sample(&mut self) {
        let t = self.now.as_secs_f64();
        if self
            .samples
            .rows
            .last()
            .and_then(|r| r.get("time_s"))
            .is_some_and(|x| *x == t)
        {
            return;
        }
        let mut r = BTreeMap::new();
        let mut put = |k: &str, v: f64| {
            r.insert(k.to_string(), v);
        };
        put("time_s", t);
        put("nodes", self.nodes.len() as f64);
        put(
            "nodes_ready",
            self.nodes.values().filter(|n| n.info.ready).count() as f64,
        );
        let (mut running, mut ready, mut pending, mut unsched, mut term) = (0, 0, 0, 0, 0);
        for p in self.pods.values() {
            if p.deleting_at.is_some() {
                term += 1;
            } else if p.phase == PodPhase::Running {
                running += 1;
            } else if matches!(p.phase, PodPhase::Pending | PodPhase::ContainerCreating) {
                pending += 1;
                if p.unschedulable.is_some() && p.node.is_none() {
                    unsched += 1;
                }
            }
            if p.is_ready() {
                ready += 1;
            }
        }
        put("pods", self.pods.len() as f64);
        put("pods_running", running as f64);
        put("pods_ready", ready as f64);
        put("pods_pending", pending as f64);
        put("pods_unschedulable", unsched as f64);
        put("pods_terminating", term as f64);
        let (req, alloc) = self.nodes.values().fold(
            (kscale_model::Resources::ZERO, kscale_model::Resources::ZERO),
            |(a, b), n| (a + n.info.requested, b + n.info.allocatable),
        );
        put("cpu_requested_cores", req.cpu_milli as f64 / 1000.0);
        put("cpu_allocatable_cores", alloc.cpu_milli as f64 / 1000.0);
        put(
            "memory_requested_gib",
            req.memory as f64 / (1u64 << 30) as f64,
        );
        put(
            "memory_allocatable_gib",
            alloc.memory as f64 / (1u64 << 30) as f64,
        );
        put("cost_usd", self.cost_so_far());
        put(
            "cost_rate_usd_per_hour",
            self.nodes.values().map(|n| n.hourly_price).sum(),
        );
        if self.store.list("NodePool", None).next().is_some() {
            put(
                "karpenter/disrupting_nodes",
                self.karpenter.disruption.disrupting.len() as f64,
            );
        }
        // Nodes by capacity type and by instance type.
        for n in self.nodes.values() {
            *r.entry(format!("nodes/capacity/{}", n.capacity_type))
                .or_insert(0.0) += 1.0;
            *r.entry(format!("nodes/type/{}", n.instance_type))
                .or_insert(0.0) += 1.0;
            if let Some(g) = n.info.labels.get(super::provider::NODE_GROUP_LABEL) {
                *r.entry(format!("nodes/group/{g}")).or_insert(0.0) += 1.0;
            }
        }
        let mut put = |k: &str, v: f64| {
            r.insert(k.to_string(), v);
        };
        // Per Deployment: desired, active and ready replicas.
        let deployments: Vec<(String, String, f64)> = self
            .store
            .list("Deployment", None)
            .map(|(k, v)| {
                (
                    k.namespace.clone(),
                    k.name.clone(),
                    v.pointer("/spec/replicas")
                        .and_then(Value::as_f64)
                        .unwrap_or(1.0),
                )
            })
            .collect();
        for (ns, name, desired) in deployments {
            let pods = self.target_pods(&ns, "deployment", &name);
            let active = pods.iter().filter(|p| p.is_active()).count() as f64;
            let ready = pods.iter().filter(|p| p.is_ready()).count() as f64;
            let id = format!("{ns}/{name}");
            put(&format!("deploy/{id}/desired"), desired);
            put(&format!("deploy/{id}/pods"), active);
            put(&format!("deploy/{id}/ready"), ready);
        }
        // Per HPA (at its last sync): replicas, desired, ready, and each metric vs its target.
        for (k, h) in &self.hpa_series {
            let id = format!("hpa/{}/{}", k.namespace, k.name);
            put(&format!("{id}/replicas"), h.current);
            put(&format!("{id}/desired"), h.desired);
            put(&format!("{id}/ready"), h.ready);
            for (label, current, target) in &h.metrics {
                put(&format!("{id}/{label}/current"), *current);
                put(&format!("{id}/{label}/target"), *target);
            }
        }
        for (i, l) in self.scenario.loads.iter().enumerate() {
            let s = &self.load_state[i];
            let id = format!("load/{}/{}/{}", l.namespace, l.kind, l.name);
            put(&format!("{id}/offered_rps"), s.last_offered_rps);
            put(&format!("{id}/served_rps"), s.last_served_rps);
            put(&format!("{id}/cpu_cores"), s.last_cpu_milli / 1000.0);
            put(&format!("{id}/failed_rps"), s.last_failed_rps);
            put(&format!("{id}/backlog"), s.backlog);
            put(&format!("{id}/ready_pods"), s.last_ready as f64);
            put(&format!("{id}/latency_p50_ms"), s.last_latency_ms[0]);
            put(&format!("{id}/latency_p95_ms"), s.last_latency_ms[1]);
            put(&format!("{id}/latency_p99_ms"), s.last_latency_ms[2]);
        }
        self.samples.rows.push(r);
    }

    /// Pods of a workload (`deployment`, `replicaset` or `statefulset` by name).
    pub fn target_pods(&self, ns: &str, kind: &str, name: &str) -> Vec<&super::model::Pod> {
        let rs_keys: Vec<super::store::ObjKey> = match kind {
            "replicaset" => vec![super::store::ObjKey::new("ReplicaSet", ns, name)],
            // A Deployment's ReplicaSets are named `<deployment>-<hash>`: a range scan over
            // that prefix instead of a scan of every ReplicaSet.
            "deployment" => self
                .rs_cache
                .range(
                    super::store::ObjKey::new("ReplicaSet", ns, &format!("{name}-"))
                        ..super::store::ObjKey::new("ReplicaSet", ns, &format!("{name}.")),
                )
                .filter(|(_, c)| {
                    c.owner
                        .as_ref()
                        .is_some_and(|o| o.namespace == ns && o.name == name)
                })
                .map(|(k, _)| k.clone())
                .collect(),
            _ => vec![],
        };
        rs_keys
            .iter()
            .filter_map(|k| self.rs_cache.get(k))
            .flat_map(|c| c.pods.iter())
            .filter_map(|id| self.pods.get(id))
            .collect()
    }

    /// The time series with the union of all sampled columns.
    pub fn timeseries(&self) -> TimeSeries {
        let mut extra: std::collections::BTreeSet<&String> = Default::default();
        for r in &self.samples.rows {
            for k in r.keys() {
                if !FIXED_COLUMNS.contains(&k.as_str()) {
                    extra.insert(k);
                }
            }
        }
        let columns: Vec<String> = FIXED_COLUMNS
            .iter()
            .map(|s| s.to_string())
            .chain(extra.into_iter().cloned())
            .collect();
        let rows = self
            .samples
            .rows
            .iter()
            .map(|r| {
                columns
                    .iter()
                    .map(|c| r.get(c).copied().unwrap_or(0.0))
                    .collect()
            })
            .collect();
        TimeSeries {
            columns,
            rows,
            x_label: None,
        }
    }

    /// The run's summary (summary.json).
    pub fn summary(&self, wall_ms: Option<u128>) -> Value {
        let ts = self.timeseries();
        let col = |name: &str| ts.columns.iter().position(|c| c == name);
        let max_of = |name: &str| {
            col(name)
                .map(|i| ts.rows.iter().map(|r| r[i]).fold(0.0, f64::max))
                .unwrap_or(0.0)
        };
        let mut pods_final = BTreeMap::new();
        for p in self.pods.values() {
            let k = if p.deleting_at.is_some() {
                "Terminating"
            } else {
                match p.phase {
                    PodPhase::Pending => "Pending",
                    PodPhase::ContainerCreating => "ContainerCreating",
                    PodPhase::Running => "Running",
                    PodPhase::Succeeded => "Succeeded",
                    PodPhase::Failed => "Failed",
                }
            };
            *pods_final.entry(k).or_insert(0u64) += 1;
        }
        let steps_failed = self.transcript.iter().filter(|t| t.exit_code != 0).count();
        let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
        for e in &self.events {
            *reasons.entry(e.reason.as_str()).or_insert(0) += 1;
        }
        let loads: Vec<Value> = self.scenario.loads.iter().zip(&self.load_state).map(|(l, s)| json!({
            "target": format!("{}/{}/{}", l.namespace, l.kind, l.name),
            "offeredRequests": round3(s.offered), "servedRequests": round3(s.served), "droppedRequests": round3(s.dropped),
            "rejectedRequests": round3(s.rejected), "queuedAtEnd": round3(s.backlog), "sloViolationSeconds": s.slo_violation_s,
        })).collect();
        let mut v = json!({
            "scenario": self.scenario.name(),
            "seed": self.scenario.seed(),
            "durationSeconds": self.end.as_secs_f64(),
            "nodes": {"final": self.nodes.len(), "max": max_of("nodes"), "created": self.counters.get("nodesCreated").copied().unwrap_or(0)},
            "pods": {"final": pods_final, "maxPending": max_of("pods_pending"), "created": self.counters.get("podsCreated").copied().unwrap_or(0), "scheduled": self.counters.get("podsScheduled").copied().unwrap_or(0), "preempted": self.counters.get("preemptions").copied().unwrap_or(0)},
            "costUsd": round3(self.cost_so_far()),
            "steps": {"total": self.transcript.len(), "failed": steps_failed},
            "events": {"total": self.events.len(), "byReason": reasons},
            "loads": loads,
            "podStartup": self.startup_summary(),
            "apiWrites": self.api_writes_summary(),
            "workloads": self.workload_summary(),
            "counters": self.counters,
            "warnings": self.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
        });
        if !self.elastic.pods.is_empty() {
            v["elastic"] = self.elastic_summary();
        }
        if !self.unschedulable_to_running.is_empty() {
            let mut t: Vec<f64> = self
                .unschedulable_to_running
                .iter()
                .map(|ms| *ms as f64 / 1000.0)
                .collect();
            t.sort_by(f64::total_cmp);
            let p = |q| crate::headroom::percentile(&t, q);
            v["unschedulableToRunning"] = json!({"count": t.len(), "p50Seconds": p(50.0), "p99Seconds": p(99.0), "maxSeconds": t.last().copied().unwrap_or(0.0)});
        }
        if let Some(c) = self.ca_summary() {
            v["clusterAutoscaler"] = c;
        }
        if let Some(k) = self.karpenter_summary() {
            v["karpenter"] = k;
        }
        if let Some(w) = wall_ms {
            v["wallMillis"] = json!(w);
        }
        v
    }

    /// Pod writes to the API server by kind (create, binding, status, patch, delete) and in
    /// total; other objects' writes (ReplicaSet and Deployment status) are not counted.
    pub fn api_writes_summary(&self) -> Value {
        let kinds = [
            ("podCreate", "apiWritesPodCreate"),
            ("podBinding", "apiWritesPodBinding"),
            ("podStatus", "apiWritesPodStatus"),
            ("podPatch", "apiWritesPodPatch"),
            ("podDelete", "apiWritesPodDelete"),
        ];
        let mut m = serde_json::Map::new();
        let mut total = 0;
        for (k, c) in kinds {
            let n = self.counters.get(c).copied().unwrap_or(0);
            total += n;
            m.insert(k.into(), json!(n));
        }
        m.insert("total".into(), json!(total));
        Value::Object(m)
    }

    /// OOM kills and evictions per workload (`namespace/kind/name`): every load target and
    /// every workload that had one.
    pub fn workload_summary(&self) -> Value {
        let mut m = self.workload_counters.clone();
        for l in &self.scenario.loads {
            m.entry(format!("{}/{}/{}", l.namespace, l.kind, l.name))
                .or_default();
        }
        json!(m)
    }

    /// Pod start-up latency (creation → running, which includes waiting for a node) per
    /// workload: count, p50, p99 and max in seconds.
    pub fn startup_summary(&self) -> Value {
        let mut per: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for s in &self.startups {
            per.entry(s.workload.as_str())
                .or_default()
                .push(s.latency_ms as f64 / 1000.0);
        }
        let mut out = serde_json::Map::new();
        for (w, mut v) in per {
            v.sort_by(f64::total_cmp);
            let p = |q| crate::headroom::percentile(&v, q);
            out.insert(w.to_string(), json!({"count": v.len(), "p50Seconds": p(50.0), "p99Seconds": p(99.0), "maxSeconds": v.last().copied().unwrap_or(0.0)}));
        }
        Value::Object(out)
    }

    /// Everything the run produced.
    pub fn output(&self) -> RunOutput {
        let ts = self.timeseries();
        let mut charts = vec![
            ChartSpec {
                title: "Pods".into(),
                y_label: "pods".into(),
                series: vec![
                    "pods_running".into(),
                    "pods_ready".into(),
                    "pods_pending".into(),
                    "pods_terminating".into(),
                ],
            },
            ChartSpec {
                title: "Nodes".into(),
                y_label: "nodes".into(),
                series: vec!["nodes".into(), "nodes_ready".into()],
            },
            ChartSpec {
                title: "Pending pods".into(),
                y_label: "pods".into(),
                series: vec!["pods_pending".into(), "pods_unschedulable".into()],
            },
            ChartSpec {
                title: "CPU".into(),
                y_label: "cores".into(),
                series: vec!["cpu_requested_cores".into(), "cpu_allocatable_cores".into()],
            },
            ChartSpec {
                title: "Cost".into(),
                y_label: "USD".into(),
                series: vec!["cost_usd".into()],
            },
            ChartSpec {
                title: "Cost rate".into(),
                y_label: "USD per hour".into(),
                series: vec!["cost_rate_usd_per_hour".into()],
            },
        ];
        let deploy: Vec<String> = ts
            .columns
            .iter()
            .filter(|c| c.starts_with("deploy/"))
            .cloned()
            .collect();
        if !deploy.is_empty() {
            charts.insert(
                1,
                ChartSpec {
                    title: "Deployments: desired, pods, ready".into(),
                    y_label: "replicas".into(),
                    series: deploy,
                },
            );
        }
        let by_capacity: Vec<String> = ts
            .columns
            .iter()
            .filter(|c| {
                c.starts_with("nodes/capacity/")
                    || c.starts_with("nodes/type/")
                    || c.starts_with("nodes/group/")
            })
            .cloned()
            .collect();
        if !by_capacity.is_empty() {
            charts.insert(
                3,
                ChartSpec {
                    title: "Nodes by capacity type, instance type and node group".into(),
                    y_label: "nodes".into(),
                    series: by_capacity,
                },
            );
        }
        if ts.columns.iter().any(|c| c == "karpenter/disrupting_nodes") {
            charts.push(ChartSpec {
                title: "Karpenter: nodes being disrupted".into(),
                y_label: "nodes".into(),
                series: vec!["karpenter/disrupting_nodes".into()],
            });
        }
        let load: Vec<String> = ts
            .columns
            .iter()
            .filter(|c| c.starts_with("load/") && c.ends_with("_rps"))
            .cloned()
            .collect();
        if !load.is_empty() {
            charts.push(ChartSpec {
                title: "Load: offered, served and failed".into(),
                y_label: "requests/s".into(),
                series: load,
            });
        }
        let latency: Vec<String> = ts
            .columns
            .iter()
            .filter(|c| c.starts_with("load/") && c.contains("/latency_"))
            .cloned()
            .collect();
        if !latency.is_empty() {
            charts.push(ChartSpec {
                title: "Latency".into(),
                y_label: "ms".into(),
                series: latency,
            });
        }
        for k in self.hpa_series.keys() {
            let id = format!("hpa/{}/{}/", k.namespace, k.name);
            let cols = |f: &dyn Fn(&str) -> bool| -> Vec<String> {
                ts.columns
                    .iter()
                    .filter(|c| c.strip_prefix(&id).is_some_and(f))
                    .cloned()
                    .collect()
            };
            charts.push(ChartSpec {
                title: format!("HPA {}/{}: replicas, desired, ready", k.namespace, k.name),
                y_label: "replicas".into(),
                series: cols(&|c| !c.contains('/')),
            });
            let metrics = cols(&|c| c.contains('/'));
            if !metrics.is_empty() {
                charts.push(ChartSpec {
                    title: format!("HPA {}/{}: metrics vs targets", k.namespace, k.name),
                    y_label: "value (% for utilization)".into(),
                    series: metrics,
                });
            }
        }
        RunOutput {
            name: self.scenario.name().to_string(),
            summary: self.summary(None),
            events: self.events.clone(),
            transcript: self.transcript.clone(),
            timeseries: ts,
            charts,
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
