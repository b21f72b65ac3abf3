//! The custom and external metrics of a `--cluster` run: the twin's pipeline
//! (`kscale_twin::sim::custom_metrics`) over the live load model, served to the real HPA by
//! kscale's `custom.metrics.k8s.io` / `external.metrics.k8s.io` server
//! (`kscale_kube::custom_metrics_server`).
//!
//! As in the twin: the pipeline starts when an HPA reading `Pods`, `Object` or `External`
//! metrics exists (one in the manifests: at the run's start, its APIServices registered before
//! the manifests are created; one a kubectl step creates: at that step). From then on, per-pod and per-workload values are sampled every
//! `spec.metrics.customInterval` (rates averaged over the window since the previous sample) and
//! the external series polled every `spec.metrics.externalInterval`, on grids from the start,
//! each sample served half a second before its mark (as `load.rs` serves the resource
//! metrics: the HPA syncs just after). Metric names, values and series labels are the twin's
//! (README "Custom and external metrics"): per pod `requests_per_second` (requests the pod
//! served over the window) and `requests_in_flight` (at the last tick, 0 for an unready pod);
//! per workload and external series `requests_per_second`, `requests_in_flight`,
//! `offered_requests_per_second` and `queue_length`; labels `namespace`, `kind`, `workload` and
//! the entry's `metricLabels`. A pod has values when it is Running (its containers started)
//! and not being deleted, as the twin's started, active pods.

use std::collections::BTreeMap;
use std::time::Duration;

use kscale_cluster::ApiError;
use kscale_kube::KubeCluster;
use kscale_kube::custom_metrics_server::{
    Catalog, CustomMetricsServer, CustomSample, ExternalSample, ExternalSeries, ObjectValues,
    PodValues,
};
use kscale_twin::load::Tick;
use kscale_twin::scenario::{Load, MetricsConfig};
use kscale_twin::sim::custom_metrics::{POD_METRICS, WORKLOAD_METRICS};

type Labels = BTreeMap<String, String>;

/// How long a registration waits for the aggregator to find the server (`Available`).
pub const AVAILABLE_TIMEOUT: Duration = Duration::from_secs(20);

/// A pod of a load entry's workload at a tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: Labels,
    /// Ready (serving).
    pub ready: bool,
}

/// The resource, kind and API version of a load's target kind (`deployment`), as the custom
/// metrics API names it.
fn workload_resource(kind: &str) -> Option<(&'static str, &'static str, &'static str)> {
    Some(match kind {
        "deployment" => ("deployments.apps", "Deployment", "apps/v1"),
        "statefulset" => ("statefulsets.apps", "StatefulSet", "apps/v1"),
        "replicaset" => ("replicasets.apps", "ReplicaSet", "apps/v1"),
        _ => return None,
    })
}

/// Series labels of a load entry: `namespace`, `kind`, `workload` and its `metricLabels` (the
/// twin's `Sim::load_labels`).
pub fn series_labels(l: &Load) -> Labels {
    let mut m = l.metric_labels.clone();
    m.insert("namespace".into(), l.namespace.clone());
    m.insert("kind".into(), l.kind.clone());
    m.insert("workload".into(), l.name.clone());
    m
}

/// Whether an HPA object (as written or as served) reads Pods, Object or External metrics.
pub fn reads_custom_metrics(v: &serde_json::Value) -> bool {
    v.get("kind").and_then(|k| k.as_str()) == Some("HorizontalPodAutoscaler")
        && kscale_twin::sim::hpa::uses_custom_metrics(v)
}

/// Requests offered and served since a sample, per load entry.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Acc {
    offered: f64,
    served: f64,
}

/// A load entry at its last tick: served requests/s, p50 latency (ms), backlog.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Last {
    served_rps: f64,
    latency_p50_ms: f64,
    backlog: f64,
}

/// The live custom and external metrics pipeline.
pub struct LivePipeline {
    cfg: MetricsConfig,
    server: Option<CustomMetricsServer>,
    /// Registration was attempted (once per run).
    registered: bool,
    /// Sampling runs.
    started: bool,
    next_custom: u64,
    next_external: u64,
    custom_window_ms: f64,
    external_window_ms: f64,
    /// Per pod (namespace, name): requests served since the last sample.
    pod_served: BTreeMap<(String, String), f64>,
    /// Per pod: requests in flight at its last tick.
    pod_in_flight: BTreeMap<(String, String), f64>,
    /// Per load entry: its workload's pods at the last tick, and the workload's labels.
    members: Vec<Vec<Member>>,
    workload_labels: Vec<Labels>,
    custom_acc: Vec<Acc>,
    external_acc: Vec<Acc>,
    last: Vec<Last>,
}

impl LivePipeline {
    /// A pipeline for `n` load entries, not started.
    pub fn new(n: usize, cfg: MetricsConfig) -> LivePipeline {
        LivePipeline {
            cfg,
            server: None,
            registered: false,
            started: false,
            next_custom: 0,
            next_external: 0,
            custom_window_ms: 0.0,
            external_window_ms: 0.0,
            pod_served: BTreeMap::new(),
            pod_in_flight: BTreeMap::new(),
            members: vec![vec![]; n],
            workload_labels: vec![Labels::new(); n],
            custom_acc: vec![Acc::default(); n],
            external_acc: vec![Acc::default(); n],
            last: vec![Last::default(); n],
        }
    }

    /// Whether sampling runs.
    pub fn started(&self) -> bool {
        self.started
    }

    /// Starts the server and registers its APIServices (once); returns the warnings (a group
    /// the cluster serves already) and the APIServices registered (to wait for).
    pub fn register(
        &mut self,
        kc: &mut KubeCluster,
    ) -> Result<(Vec<String>, Vec<String>), ApiError> {
        if self.registered {
            return Ok((vec![], vec![]));
        }
        self.registered = true;
        let names = |m: &[&str]| m.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let server = CustomMetricsServer::start(Catalog {
            pod_metrics: names(&POD_METRICS),
            object_metrics: names(&WORKLOAD_METRICS),
            external_metrics: names(&WORKLOAD_METRICS),
        })?;
        let r = server.register(kc)?;
        if !r.registered.is_empty() {
            self.server = Some(server);
        }
        Ok((r.warnings, r.registered))
    }

    /// Starts the pipeline at run time `t_ms` when an HPA reading custom or external metrics
    /// exists and it has not started yet (registering its APIServices if that was not done
    /// before the manifests); returns the warnings. Without load entries the APIs are served
    /// all the same, with nothing in them (the twin's HPA then finds no value either).
    pub fn notice(&mut self, kc: &mut KubeCluster, t_ms: u64) -> Result<Vec<String>, ApiError> {
        if self.started {
            return Ok(vec![]);
        }
        let hpas = kc
            .list_raw("autoscaling/v2", "HorizontalPodAutoscaler", None)?
            .unwrap_or_default();
        if !hpas.iter().any(reads_custom_metrics) {
            return Ok(vec![]);
        }
        let (mut warnings, registered) = self.register(kc)?;
        if !registered.is_empty() {
            warnings.extend(kscale_kube::aggregated::wait_available(
                kc,
                &registered,
                AVAILABLE_TIMEOUT,
            )?);
        }
        self.start(t_ms);
        Ok(warnings)
    }

    fn start(&mut self, t_ms: u64) {
        self.started = true;
        self.next_custom = t_ms + self.cfg.custom_interval_ms;
        self.next_external = t_ms + self.cfg.external_interval_ms;
        self.custom_window_ms = 0.0;
        self.external_window_ms = 0.0;
        self.pod_served.clear();
        self.pod_in_flight.clear();
        self.custom_acc.iter_mut().for_each(|a| *a = Acc::default());
        self.external_acc
            .iter_mut()
            .for_each(|a| *a = Acc::default());
    }

    /// Adds one tick of load entry `i` (its workload's labels and Running pods, the ready
    /// ones in the order of the tick's per-pod rates, the requests offered in the tick).
    #[allow(clippy::too_many_arguments)]
    pub fn tick(
        &mut self,
        i: usize,
        l: &Load,
        workload_labels: Labels,
        members: Vec<Member>,
        ready: &[String],
        t: &Tick,
        offered: f64,
        dt_s: f64,
    ) {
        if !self.started || i >= self.members.len() {
            return;
        }
        let waiting = if ready.is_empty() {
            0.0
        } else {
            t.backlog / ready.len() as f64
        };
        let latency_s = t.latency_ms[0] / 1000.0;
        for (k, name) in ready.iter().enumerate() {
            let rps = t.per_pod_rps.get(k).copied().unwrap_or(0.0);
            let key = (l.namespace.clone(), name.clone());
            *self.pod_served.entry(key.clone()).or_default() += rps * dt_s;
            self.pod_in_flight.insert(key, rps * latency_s + waiting);
        }
        for acc in [&mut self.custom_acc[i], &mut self.external_acc[i]] {
            acc.offered += offered;
            acc.served += t.served;
        }
        self.last[i] = Last {
            served_rps: if dt_s > 0.0 { t.served / dt_s } else { 0.0 },
            latency_p50_ms: t.latency_ms[0],
            backlog: t.backlog,
        };
        self.members[i] = members;
        self.workload_labels[i] = workload_labels;
    }

    /// The workload values of entry `i` over a window (the twin's `workload_values`).
    fn workload_values(&self, i: usize, acc: Acc, window_s: f64) -> BTreeMap<String, f64> {
        let s = self.last[i];
        let in_flight = s.served_rps * s.latency_p50_ms / 1000.0 + s.backlog;
        let v = [
            acc.served / window_s,
            in_flight,
            acc.offered / window_s,
            s.backlog,
        ];
        WORKLOAD_METRICS
            .iter()
            .zip(v)
            .map(|(m, x)| (m.to_string(), x))
            .collect()
    }

    /// After the ticks of run time `t_ms` (`dt_ms` since the previous ones): serves the
    /// samples whose mark is within `lead_ms`.
    pub fn publish_due(&mut self, t_ms: u64, dt_ms: f64, lead_ms: u64, loads: &[Load]) {
        let (custom, external) = self.due(t_ms, dt_ms, lead_ms, loads);
        if let Some(s) = &self.server {
            if let Some(c) = custom {
                s.publish_custom(c);
            }
            if let Some(e) = external {
                s.publish_external(e);
            }
        }
    }

    /// The samples due after the ticks of run time `t_ms` (see [`LivePipeline::publish_due`]).
    fn due(
        &mut self,
        t_ms: u64,
        dt_ms: f64,
        lead_ms: u64,
        loads: &[Load],
    ) -> (Option<CustomSample>, Option<ExternalSample>) {
        if !self.started {
            return (None, None);
        }
        self.custom_window_ms += dt_ms;
        self.external_window_ms += dt_ms;
        let mut out = (None, None);
        if t_ms + lead_ms >= self.next_custom {
            while self.next_custom <= t_ms + lead_ms {
                self.next_custom += self.cfg.custom_interval_ms.max(1);
            }
            let window_s = (self.custom_window_ms / 1000.0).max(0.001);
            self.custom_window_ms = 0.0;
            out.0 = Some(self.custom_sample(loads, window_s));
        }
        if t_ms + lead_ms >= self.next_external {
            while self.next_external <= t_ms + lead_ms {
                self.next_external += self.cfg.external_interval_ms.max(1);
            }
            let window_s = (self.external_window_ms / 1000.0).max(0.001);
            self.external_window_ms = 0.0;
            out.1 = Some(self.external_sample(loads, window_s));
        }
        out
    }

    fn custom_sample(&mut self, loads: &[Load], window_s: f64) -> CustomSample {
        let served = std::mem::take(&mut self.pod_served);
        let in_flight = std::mem::take(&mut self.pod_in_flight);
        // Per pod (a later entry's values replace an earlier one's, as in the twin) and per
        // workload (the first entry on it answers, as in the twin).
        let mut pods: BTreeMap<(String, String), PodValues> = BTreeMap::new();
        let mut objects: BTreeMap<(String, String, String), ObjectValues> = BTreeMap::new();
        for (i, l) in loads.iter().enumerate().take(self.members.len()) {
            let labels = series_labels(l);
            for m in &self.members[i] {
                let key = (l.namespace.clone(), m.name.clone());
                let rps = served.get(&key).copied().unwrap_or(0.0) / window_s;
                let flight = if m.ready {
                    in_flight.get(&key).copied().unwrap_or(0.0)
                } else {
                    0.0
                };
                let values = POD_METRICS
                    .iter()
                    .zip([rps, flight])
                    .map(|(n, v)| (n.to_string(), v))
                    .collect();
                pods.insert(
                    key,
                    PodValues {
                        namespace: l.namespace.clone(),
                        name: m.name.clone(),
                        labels: m.labels.clone(),
                        series_labels: labels.clone(),
                        values,
                    },
                );
            }
            let acc = std::mem::take(&mut self.custom_acc[i]);
            if let Some((resource, kind, api_version)) = workload_resource(&l.kind) {
                let values = self.workload_values(i, acc, window_s);
                objects
                    .entry((l.namespace.clone(), resource.to_string(), l.name.clone()))
                    .or_insert_with(|| ObjectValues {
                        namespace: l.namespace.clone(),
                        resource: resource.into(),
                        kind: kind.into(),
                        api_version: api_version.into(),
                        name: l.name.clone(),
                        labels: self.workload_labels[i].clone(),
                        series_labels: labels.clone(),
                        values,
                    });
            }
        }
        CustomSample {
            timestamp: jiff::Timestamp::now(),
            window_s: (self.cfg.custom_interval_ms / 1000).max(1) as i64,
            pods: pods.into_values().collect(),
            objects: objects.into_values().collect(),
        }
    }

    fn external_sample(&mut self, loads: &[Load], window_s: f64) -> ExternalSample {
        let mut series = Vec::new();
        for (i, l) in loads.iter().enumerate().take(self.external_acc.len()) {
            let acc = std::mem::take(&mut self.external_acc[i]);
            series.push(ExternalSeries {
                namespace: l.namespace.clone(),
                labels: series_labels(l),
                values: self.workload_values(i, acc, window_s),
            });
        }
        ExternalSample {
            timestamp: jiff::Timestamp::now(),
            series,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loads(yaml_load: &str) -> Vec<Load> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.yaml");
        std::fs::write(
            &p,
            format!(
                "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {{name: t}}\nspec:\n  duration: 2m\n  nodes: [{{name: w, instanceType: m5.large, count: 1}}]\n  load:\n{yaml_load}"
            ),
        )
        .unwrap();
        kscale_twin::scenario::Scenario::load(&p).unwrap().loads
    }

    fn member(name: &str, ready: bool) -> Member {
        Member {
            name: name.into(),
            labels: [("app".to_string(), "web".to_string())].into(),
            ready,
        }
    }

    fn tick(per_pod: &[f64], backlog: f64) -> Tick {
        Tick {
            served: per_pod.iter().sum(),
            backlog,
            per_pod_rps: per_pod.to_vec(),
            latency_ms: [100.0, 200.0, 300.0],
            ..Default::default()
        }
    }

    #[test]
    fn a_sample_averages_the_window_and_carries_the_twins_names_and_labels() {
        let l = loads(
            "    - {target: deployment/web, requestsPerSecond: {constant: 12}, cpuPerRequest: 10m, metricLabels: {queue: orders}}\n",
        );
        let mut p = LivePipeline::new(1, MetricsConfig::default());
        p.start(0);
        let members = vec![
            member("web-a", true),
            member("web-b", true),
            member("web-c", false),
        ];
        let ready = vec!["web-a".to_string(), "web-b".to_string()];
        let mut out = (None, None);
        // 30 one-second ticks: 4 and 8 req/s served, 12 offered, a backlog of 2; each mark's
        // sample is due half a second ahead.
        for s in 0..30u64 {
            p.tick(
                0,
                &l[0],
                Labels::new(),
                members.clone(),
                &ready,
                &tick(&[4.0, 8.0], 2.0),
                12.0,
                1.0,
            );
            out = p.due(s * 1000 + 500, 1000.0, 500, &l);
            assert!(out.0.is_none() || s == 29, "sampled at {s}");
        }
        let (Some(c), Some(e)) = out else {
            panic!("both samples are due at 30 s: {out:?}");
        };
        assert_eq!(c.window_s, 30);
        assert_eq!(c.pods.len(), 3, "every Running pod, ready or not");
        let pod = |n: &str| c.pods.iter().find(|p| p.name == n).unwrap();
        assert_eq!(pod("web-a").values["requests_per_second"], 4.0);
        assert_eq!(pod("web-b").values["requests_per_second"], 8.0);
        // In flight: rps × p50 latency + the backlog shared by the ready pods.
        assert!((pod("web-a").values["requests_in_flight"] - (0.4 + 1.0)).abs() < 1e-9);
        assert_eq!(pod("web-c").values["requests_in_flight"], 0.0);
        assert_eq!(pod("web-c").values["requests_per_second"], 0.0);
        assert_eq!(pod("web-a").series_labels["queue"], "orders");
        assert_eq!(pod("web-a").series_labels["workload"], "web");
        assert_eq!(pod("web-a").series_labels["kind"], "deployment");
        assert_eq!(pod("web-a").series_labels["namespace"], "default");
        assert_eq!(c.objects.len(), 1);
        let o = &c.objects[0];
        assert_eq!(
            (o.resource.as_str(), o.kind.as_str(), o.api_version.as_str()),
            ("deployments.apps", "Deployment", "apps/v1")
        );
        assert_eq!(o.values["requests_per_second"], 12.0);
        assert_eq!(o.values["offered_requests_per_second"], 12.0);
        assert_eq!(o.values["queue_length"], 2.0);
        assert!((o.values["requests_in_flight"] - (12.0 * 0.1 + 2.0)).abs() < 1e-9);
        assert_eq!(e.series.len(), 1);
        assert_eq!(e.series[0].labels["queue"], "orders");
        assert_eq!(e.series[0].values["queue_length"], 2.0);
        // The next custom sample is 30 s later.
        assert_eq!(p.due(30_500, 1000.0, 500, &l).0, None);
    }

    #[test]
    fn nothing_is_sampled_before_the_pipeline_starts() {
        let l = loads(
            "    - {target: deployment/web, requestsPerSecond: {constant: 1}, cpuPerRequest: 10m}\n",
        );
        let mut p = LivePipeline::new(1, MetricsConfig::default());
        p.tick(
            0,
            &l[0],
            Labels::new(),
            vec![member("web-a", true)],
            &["web-a".into()],
            &tick(&[1.0], 0.0),
            1.0,
            1.0,
        );
        assert_eq!(p.due(60_000, 1000.0, 500, &l), (None, None));
        assert!(!p.started());
    }

    #[test]
    fn hpas_reading_custom_or_external_metrics_are_recognised() {
        let hpa = |metrics: serde_json::Value| {
            serde_json::json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "web"},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                         "maxReplicas": 5, "metrics": metrics}})
        };
        assert!(reads_custom_metrics(&hpa(
            serde_json::json!([{"type": "Pods", "pods": {
            "metric": {"name": "requests_per_second"}, "target": {"type": "AverageValue", "averageValue": "10"}}}])
        )));
        assert!(reads_custom_metrics(&hpa(
            serde_json::json!([{"type": "External", "external": {
            "metric": {"name": "queue_length"}, "target": {"type": "AverageValue", "averageValue": "10"}}}])
        )));
        assert!(!reads_custom_metrics(&hpa(
            serde_json::json!([{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}])
        )));
        assert!(!reads_custom_metrics(
            &serde_json::json!({"kind": "Deployment"})
        ));
    }
}
