//! Custom and external metrics from the load model, as the HPA reads them through
//! `custom.metrics.k8s.io` (Pods and Object metrics) and `external.metrics.k8s.io` (External
//! metrics).
//!
//! Metric names and what they measure (per load entry, see README "Custom and external
//! metrics"):
//!
//! | name | per pod (Pods metric) | per workload (Object metric on the load's target, External series) |
//! |---|---|---|
//! | `requests_per_second` | requests/s the pod served | requests/s the workload served |
//! | `requests_in_flight` | requests being served or waiting on the pod | their sum |
//! | `offered_requests_per_second` | — | requests/s offered to the workload |
//! | `queue_length` | — | the backlog: requests waiting (the queue in front of the workload) |
//!
//! Staleness: like a Prometheus + prometheus-adapter pipeline, per-pod and per-workload values
//! are sampled every `spec.metrics.customInterval` (default 30 s — assumption: the scrape
//! interval of kube-prometheus' ServiceMonitors; Prometheus' own default `scrape_interval` is
//! 1 m), rates averaged over the window since the previous sample (`rate(x[interval])`).
//! External series are polled every `spec.metrics.externalInterval` (default 30 s: KEDA's
//! default `pollingInterval`, keda.sh/docs "ScaledObject spec"). Each series carries the
//! labels `namespace`, `kind`, `workload` and the load entry's `metricLabels`; a metric
//! `selector` is matched against them, and an External metric sums the matching series of the
//! HPA's namespace (replica_calculator.go `GetExternalMetricReplicas`).

use std::collections::BTreeMap;

use kscale_model::SimTime;
use kscale_model::labels::{LabelSelector, Labels};

use super::{Event, Sim};
use crate::load::Tick;

pub use crate::scenario::{DEFAULT_CUSTOM_INTERVAL_MS, DEFAULT_EXTERNAL_INTERVAL_MS};

/// Per-pod metric names, in the order of [`PodValues::values`].
pub const POD_METRICS: [&str; 2] = ["requests_per_second", "requests_in_flight"];
/// Per-workload metric names, in the order of [`WorkloadValues::values`].
pub const WORKLOAD_METRICS: [&str; 4] = [
    "requests_per_second",
    "requests_in_flight",
    "offered_requests_per_second",
    "queue_length",
];

/// One pod's custom metrics at the last sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PodValues {
    /// Values in the order of [`POD_METRICS`].
    pub values: [f64; 2],
    /// Index of the load entry serving the pod.
    pub load: usize,
    /// When sampled.
    pub timestamp: SimTime,
    /// Window the rate covers (ms).
    pub window_ms: u64,
}

/// One workload's (load entry's) metrics at the last sample.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WorkloadValues {
    /// Values in the order of [`WORKLOAD_METRICS`].
    pub values: [f64; 4],
    /// When sampled (None: not sampled yet).
    pub timestamp: Option<SimTime>,
}

/// Accumulators since the previous sample of one load entry.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct LoadAcc {
    offered: f64,
    served: f64,
}

/// The custom and external metrics APIs of the twin.
#[derive(Debug, Default, Clone)]
pub struct CustomMetrics {
    /// Sampling runs (an HPA uses Pods, Object or External metrics).
    pub enabled: bool,
    /// Per pod: requests served since the previous sample, requests in flight at the last tick.
    pod_acc: BTreeMap<u64, (f64, f64)>,
    custom_acc: Vec<LoadAcc>,
    external_acc: Vec<LoadAcc>,
    last_custom: SimTime,
    last_external: SimTime,
    /// Latest per-pod values.
    pub pods: BTreeMap<u64, PodValues>,
    /// Latest per-workload values, per load entry (custom metrics API: Object metrics).
    pub objects: Vec<WorkloadValues>,
    /// Latest external series, per load entry.
    pub external: Vec<WorkloadValues>,
}

impl Sim {
    /// Series labels of a load entry: `namespace`, `kind`, `workload` and its `metricLabels`.
    pub fn load_labels(&self, i: usize) -> Labels {
        let l = &self.scenario.loads[i];
        let mut m = l.metric_labels.clone();
        m.insert("namespace".into(), l.namespace.clone());
        m.insert("kind".into(), l.kind.clone());
        m.insert("workload".into(), l.name.clone());
        m
    }

    fn custom_interval_ms(&self) -> u64 {
        self.scenario.metrics.custom_interval_ms
    }

    fn external_interval_ms(&self) -> u64 {
        self.scenario.metrics.external_interval_ms
    }

    /// Starts sampling custom and external metrics (once).
    pub fn start_custom_metrics(&mut self) {
        if self.custom_metrics.enabled || self.scenario.loads.is_empty() {
            return;
        }
        let n = self.scenario.loads.len();
        let c = &mut self.custom_metrics;
        c.enabled = true;
        c.custom_acc = vec![LoadAcc::default(); n];
        c.external_acc = vec![LoadAcc::default(); n];
        c.objects = vec![WorkloadValues::default(); n];
        c.external = vec![WorkloadValues::default(); n];
        c.last_custom = self.now;
        c.last_external = self.now;
        self.queue.push(
            self.now.plus_millis(self.custom_interval_ms()),
            Event::CustomMetricsScrape,
        );
        self.queue.push(
            self.now.plus_millis(self.external_interval_ms()),
            Event::ExternalMetricsPoll,
        );
    }

    /// Adds one load tick of load entry `i` to the accumulators (called by the load model).
    pub fn custom_metrics_tick(&mut self, i: usize, ready: &[u64], t: &Tick, offered: f64) {
        let c = &mut self.custom_metrics;
        if !c.enabled {
            return;
        }
        let dt = crate::load::TICK_MS as f64 / 1000.0;
        let waiting = if ready.is_empty() {
            0.0
        } else {
            t.backlog / ready.len() as f64
        };
        let mean_latency_s = t.latency_ms[0] / 1000.0;
        for (k, id) in ready.iter().enumerate() {
            let rps = t.per_pod_rps.get(k).copied().unwrap_or(0.0);
            let e = c.pod_acc.entry(*id).or_insert((0.0, 0.0));
            e.0 += rps * dt;
            e.1 = rps * mean_latency_s + waiting;
        }
        for acc in [&mut c.custom_acc[i], &mut c.external_acc[i]] {
            acc.offered += offered;
            acc.served += t.served;
        }
    }

    fn workload_values(&self, i: usize, acc: LoadAcc, window_s: f64) -> [f64; 4] {
        let s = self.load.state(i);
        let in_flight = s.last_served_rps * s.last_latency_ms[0] / 1000.0 + s.backlog;
        [
            acc.served / window_s,
            in_flight,
            acc.offered / window_s,
            s.backlog,
        ]
    }

    /// The adapter's sample of per-pod and per-workload custom metrics.
    pub fn custom_metrics_scrape(&mut self) {
        let now = self.now;
        let window = now.since(self.custom_metrics.last_custom).max(1);
        let window_s = window as f64 / 1000.0;
        let acc = std::mem::take(&mut self.custom_metrics.pod_acc);
        let mut pods = BTreeMap::new();
        for i in 0..self.scenario.loads.len() {
            let l = &self.scenario.loads[i];
            for p in self.target_pods(&l.namespace, &l.kind, &l.name) {
                if p.started_at.is_none() || !p.is_active() {
                    continue;
                }
                let (served, in_flight) = acc.get(&p.id).copied().unwrap_or((0.0, 0.0));
                let in_flight = if p.is_ready() { in_flight } else { 0.0 };
                pods.insert(
                    p.id,
                    PodValues {
                        values: [served / window_s, in_flight],
                        load: i,
                        timestamp: now,
                        window_ms: window,
                    },
                );
            }
            let a = std::mem::take(&mut self.custom_metrics.custom_acc[i]);
            let values = self.workload_values(i, a, window_s);
            self.custom_metrics.objects[i] = WorkloadValues {
                values,
                timestamp: Some(now),
            };
        }
        self.custom_metrics.pods = pods;
        self.custom_metrics.last_custom = now;
        let next = now.plus_millis(self.custom_interval_ms());
        if next <= self.end {
            self.queue.push(next, Event::CustomMetricsScrape);
        }
    }

    /// The external metrics provider's poll of every load entry's series.
    pub fn external_metrics_poll(&mut self) {
        let now = self.now;
        let window_s = now.since(self.custom_metrics.last_external).max(1) as f64 / 1000.0;
        for i in 0..self.scenario.loads.len() {
            let a = std::mem::take(&mut self.custom_metrics.external_acc[i]);
            let values = self.workload_values(i, a, window_s);
            self.custom_metrics.external[i] = WorkloadValues {
                values,
                timestamp: Some(now),
            };
        }
        self.custom_metrics.last_external = now;
        let next = now.plus_millis(self.external_interval_ms());
        if next <= self.end {
            self.queue.push(next, Event::ExternalMetricsPoll);
        }
    }

    /// A pod's custom metric `name` (milli) if the adapter has it and the pod's series matches
    /// `selector`.
    pub fn pod_custom_metric(
        &self,
        id: u64,
        name: &str,
        selector: Option<&LabelSelector>,
    ) -> Option<(i64, SimTime, u64)> {
        let k = POD_METRICS.iter().position(|m| *m == name)?;
        let v = self.custom_metrics.pods.get(&id)?;
        if selector.is_some_and(|s| !s.matches(&self.load_labels(v.load))) {
            return None;
        }
        Some((
            (v.values[k] * 1000.0).round() as i64,
            v.timestamp,
            v.window_ms,
        ))
    }

    /// An object metric (milli) of the workload `namespace/kind/name` (a load entry's target).
    pub fn object_custom_metric(
        &self,
        namespace: &str,
        kind: &str,
        name: &str,
        metric: &str,
        selector: Option<&LabelSelector>,
    ) -> Option<i64> {
        let k = WORKLOAD_METRICS.iter().position(|m| *m == metric)?;
        let kind = kind.to_ascii_lowercase();
        let i = self
            .scenario
            .loads
            .iter()
            .position(|l| l.namespace == namespace && l.kind == kind && l.name == name)?;
        if selector.is_some_and(|s| !s.matches(&self.load_labels(i))) {
            return None;
        }
        let v = self.custom_metrics.objects.get(i)?;
        v.timestamp?;
        Some((v.values[k] * 1000.0).round() as i64)
    }

    /// The sum (milli, saturating) of the external series `metric` in `namespace` matching
    /// `selector`, or None when no series matches.
    pub fn external_metric(
        &self,
        namespace: &str,
        metric: &str,
        selector: Option<&LabelSelector>,
    ) -> Option<i64> {
        let k = WORKLOAD_METRICS.iter().position(|m| *m == metric)?;
        let mut sum: Option<i64> = None;
        for (i, l) in self.scenario.loads.iter().enumerate() {
            if l.namespace != namespace
                || selector.is_some_and(|s| !s.matches(&self.load_labels(i)))
            {
                continue;
            }
            let Some(v) = self.custom_metrics.external.get(i) else {
                continue;
            };
            if v.timestamp.is_none() {
                continue;
            }
            let x = (v.values[k] * 1000.0).round() as i64;
            sum = Some(sum.unwrap_or(0).saturating_add(x));
        }
        sum
    }
}
