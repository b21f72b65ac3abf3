//! The HorizontalPodAutoscaler in the twin: every 15 s (the controller's sync period) each HPA
//! reads its scale target, the target's pods and their metrics from the metrics pipelines
//! ([`super::metrics`] for Resource and ContainerResource metrics, [`super::custom_metrics`]
//! for Pods, Object and External metrics), asks the pure controller
//! ([`kscale_controllers::hpa`]) for a decision, scales the target, writes the HPA's status
//! (`currentMetrics` per metric, conditions) and emits SuccessfulRescale, FailedGet*Metric and
//! FailedComputeMetricsReplicas events worded as upstream
//! (kubernetes/kubernetes `pkg/controller/podautoscaler/horizontal.go`). autoscaling/v1
//! objects (`targetCPUUtilizationPercentage`, what `kubectl autoscale` creates in older
//! clients) and autoscaling/v2 objects are read.
//!
//! ContainerResource metrics: the load model puts a pod's request CPU and memory into its
//! first container (the serving container); the other containers use nothing (assumption).

use std::collections::BTreeMap;
use std::sync::Arc;

use rayon::prelude::*;

use kscale_controllers::hpa::status::{self, Concluded, LastScale, Previous, Status};
use kscale_controllers::hpa::{
    self, HpaSpec, HpaState, MetricId, MetricInput, MetricSpec, Observed, PodObs, PodValue,
    Proposal, ResourceMetric, ResourceName, Sample, Target,
};
use kscale_model::SimTime;
use kscale_model::quantity::format_decimal_milli;
use serde_json::{Value, json};

use super::changes::Topic;
use super::hpa_view::HpaViews;
use super::metrics::PodSample;
use super::model::{Pod, PodTemplate};
use super::store::{Handle, ObjKey};
use super::{Event, Sim};

/// True if an HPA object reads custom or external metrics.
pub fn uses_custom_metrics(v: &Value) -> bool {
    super::hpa_spec::hpa_spec(v).metrics.iter().any(|m| {
        matches!(
            m,
            MetricSpec::Pods { .. } | MetricSpec::Object { .. } | MetricSpec::External { .. }
        )
    })
}

/// One HPA's numbers at its last sync, for `timeseries.csv`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HpaSeries {
    /// `status.currentReplicas`.
    pub current: f64,
    /// `status.desiredReplicas`.
    pub desired: f64,
    /// Ready pods of the target.
    pub ready: f64,
    /// Per metric: (column label, current value, target) in display units (percent for
    /// utilization, cores/bytes/units otherwise); current is NaN when unknown.
    pub metrics: Vec<(Arc<str>, f64, f64)>,
}

/// The column label of a metric (`cpu_utilization`, `pods_requests_per_second`, ...).
fn series_label(m: &MetricSpec) -> String {
    match m {
        MetricSpec::Resource(r) => match r.target {
            Target::Utilization(_) => format!("{}_utilization", r.name.as_str()),
            _ => format!("{}_average", r.name.as_str()),
        },
        MetricSpec::ContainerResource {
            metric: r,
            container,
        } => match r.target {
            Target::Utilization(_) => format!("{container}_{}_utilization", r.name.as_str()),
            _ => format!("{container}_{}_average", r.name.as_str()),
        },
        MetricSpec::Pods { metric, .. } => format!("pods_{}", metric.name),
        MetricSpec::Object { metric, .. } => format!("object_{}", metric.name),
        MetricSpec::External { metric, .. } => format!("external_{}", metric.name),
        MetricSpec::Invalid { .. } => "invalid".into(),
    }
}

/// (current, target) of a metric in display units.
fn series_values(m: &MetricSpec, p: Option<&Proposal>) -> (f64, f64) {
    let target = match m {
        MetricSpec::Resource(r) | MetricSpec::ContainerResource { metric: r, .. } => match r.target
        {
            Target::Utilization(u) => u as f64,
            Target::AverageValue(a) | Target::Value(a) => a as f64 / 1000.0,
        },
        MetricSpec::Pods { average, .. } => *average as f64 / 1000.0,
        MetricSpec::Object { target, .. } | MetricSpec::External { target, .. } => match target {
            Target::Value(v) | Target::AverageValue(v) => *v as f64 / 1000.0,
            Target::Utilization(u) => *u as f64,
        },
        MetricSpec::Invalid { .. } => f64::NAN,
    };
    let current = match p {
        None => f64::NAN,
        Some(p) => match p.utilization {
            Some(u) => u as f64,
            None => p.average as f64 / 1000.0,
        },
    };
    (current, target)
}

/// `status.currentMetrics[i]` as horizontal.go writes it (an empty `{"type": ""}` for a
/// metric that could not be computed, as the zero-valued status upstream leaves).
fn metric_status(m: &MetricSpec, p: Option<&Proposal>) -> Value {
    let Some(p) = p else {
        return json!({"type": ""});
    };
    let q = format_decimal_milli;
    let id = |id: &MetricId| {
        let mut v = json!({"name": id.name});
        if let Some(s) = &id.selector {
            let mut sel = json!({});
            if !s.match_labels.is_empty() {
                sel["matchLabels"] = json!(s.match_labels);
            }
            if !s.match_expressions.is_empty() {
                sel["matchExpressions"] = json!(s.match_expressions.iter().map(|r| json!({"key": r.key, "operator": format!("{:?}", r.op), "values": r.values})).collect::<Vec<_>>());
            }
            v["selector"] = sel;
        }
        v
    };
    let value_or_avg = |t: &Target| match t {
        Target::Value(_) => json!({"value": q(p.average)}),
        _ => json!({"averageValue": q(p.average)}),
    };
    match m {
        MetricSpec::Resource(r) | MetricSpec::ContainerResource { metric: r, .. } => {
            // horizontal.go `buildQuantity` (v1.37): memory in BinarySI, as metrics-server.
            let average = match r.name {
                ResourceName::Memory => kscale_model::quantity::format_binary_milli(p.average),
                _ => q(p.average),
            };
            let mut current = json!({"averageValue": average});
            if let Some(u) = p.utilization {
                current["averageUtilization"] = json!(u);
            }
            if let MetricSpec::ContainerResource { container, .. } = m {
                json!({"type": "ContainerResource", "containerResource": {"name": r.name.as_str(), "container": container, "current": current}})
            } else {
                json!({"type": "Resource", "resource": {"name": r.name.as_str(), "current": current}})
            }
        }
        MetricSpec::Pods { metric, .. } => {
            json!({"type": "Pods", "pods": {"metric": id(metric), "current": {"averageValue": q(p.average)}}})
        }
        MetricSpec::Object {
            object,
            metric,
            target,
        } => {
            json!({"type": "Object", "object": {"describedObject": {"apiVersion": object.api_version, "kind": object.kind, "name": object.name}, "metric": id(metric), "current": value_or_avg(target)}})
        }
        MetricSpec::External { metric, target } => {
            json!({"type": "External", "external": {"metric": id(metric), "current": value_or_avg(target)}})
        }
        MetricSpec::Invalid { .. } => json!({"type": ""}),
    }
}

/// What a sync observes of its target: per pod (or per group of pods seen alike) its
/// observation, per metric the metrics APIs' answer, and the active and ready pod counts.
type Observation = (Vec<PodObs>, Vec<MetricInput>, usize, usize);

impl Sim {
    /// Starts the HPA sync loop (once), when an HPA is written; and the custom and external
    /// metrics pipeline when that HPA reads such metrics (`custom`: see
    /// [`uses_custom_metrics`]).
    pub fn start_hpa_sync(&mut self, custom: bool) {
        self.start_metrics();
        if custom {
            self.start_custom_metrics();
        }
        if !self.hpa.syncing {
            self.hpa.syncing = true;
            self.queue
                .push(self.now.plus_millis(hpa::SYNC_PERIOD_MS), Event::HpaSync);
        }
    }

    /// One sync of the HPA `key` outside the periodic ones, as upstream's controller does for
    /// an HPA just created or whose spec changed (its generation moved): `enqueueHPA` adds it
    /// for immediate processing; its periodic syncs keep their phase (the queue keeps the
    /// earlier of two delayed adds). Here the periodic syncs of all HPAs share one 15 s grid
    /// that starts at the first HPA's creation: an HPA created between two grid points syncs
    /// at once and then on the grid (upstream: every 15 s from its creation).
    pub fn hpa_sync_one(&mut self, key: &ObjKey) {
        if self.store.get(key).is_none() {
            return;
        }
        self.recorder.count("hpaSyncs", 1);
        let mut entries = std::mem::take(&mut self.hpa.entries);
        let entry = entries.entry(key.clone()).or_default();
        self.sync_one_hpa(key, entry, false);
        debug_assert!(
            self.hpa.entries.is_empty(),
            "an HPA sync wrote per-HPA entries"
        );
        self.hpa.entries = entries;
    }

    /// One sync of every HPA.
    pub fn hpa_sync(&mut self) {
        // No HPA object was written (created, changed or deleted) since every parsed spec was
        // last checked: the parsed specs and the list of keys hold.
        let writes = self.store.writes_of("HorizontalPodAutoscaler");
        let current = self.hpa.parsed_writes == Some(writes);
        // Only the keys: each sync reads what it needs of its HPA by reference (copying the
        // objects was the largest cost of a sync over hundreds of HPAs).
        if !current {
            self.hpa.keys = self
                .store
                .list("HorizontalPodAutoscaler", None)
                .map(|(k, _)| k.clone())
                .collect();
        }
        let hpas = std::mem::take(&mut self.hpa.keys);
        if hpas.is_empty() {
            self.hpa.syncing = false;
            return;
        }
        self.queue
            .push(self.now.plus_millis(hpa::SYNC_PERIOD_MS), Event::HpaSync);
        self.recorder.count("hpaSyncs", hpas.len() as u64);
        // The per-HPA entries are taken out for the sync (nothing it calls reads them): one
        // lookup per HPA.
        let mut entries = std::mem::take(&mut self.hpa.entries);
        // Checked once per set of parsed specs (at the first sync that finds them current).
        if !current {
            self.hpa.parallel = None;
        } else if self.hpa.parallel.is_none() {
            self.hpa.parallel =
                Some(hpas.len() >= self.hpa.parallel_min && parallel_safe(&hpas, &entries));
        }
        let parallel = self.hpa.parallel == Some(true);
        if parallel {
            // Every HPA has its entry and a distinct target: all prepare at once, then act in
            // key order (what the one-by-one loop does, see `prepare_hpa`).
            let mut work: Vec<(&ObjKey, &mut HpaEntry)> = entries.iter_mut().collect();
            let mut prepared = std::mem::take(&mut self.hpa.prepared);
            let sim = &*self;
            work.par_iter_mut()
                .with_min_len(8)
                .map(|(k, e)| sim.prepare_hpa(k, e, true))
                .collect_into_vec(&mut prepared);
            for ((key, entry), p) in work.into_iter().zip(prepared.drain(..)) {
                self.apply_hpa(key, entry, p);
            }
            self.hpa.prepared = prepared;
        } else {
            for key in &hpas {
                if !entries.contains_key(key) {
                    entries.insert(key.clone(), HpaEntry::default());
                }
                let entry = entries.get_mut(key).expect("inserted");
                self.sync_one_hpa(key, entry, current);
            }
        }
        debug_assert!(
            self.hpa.entries.is_empty(),
            "an HPA sync wrote per-HPA entries"
        );
        self.hpa.entries = entries;
        self.hpa.keys = hpas;
        // Each stored HPA's entry was checked (or reused while current); a sync writes no HPA
        // object (its status is deferred), otherwise the next sync checks again.
        self.hpa.parsed_writes =
            Some(writes).filter(|w| *w == self.store.writes_of("HorizontalPodAutoscaler"));
    }

    /// The resource metrics API's answer for one Resource/ContainerResource metric.
    fn resource_input(
        &self,
        pods: &[&Pod],
        r: &ResourceMetric,
        container: Option<&str>,
    ) -> MetricInput {
        let mut c = ResourceCollector::new(r, container, pods.len());
        for p in pods {
            c.push(p, self.metrics.sample_of(p).as_ref())?;
        }
        c.finish()
    }

    /// What the metrics APIs return for one metric of an HPA in `ns`.
    fn metric_input(&self, ns: &str, pods: &[&Pod], m: &MetricSpec) -> MetricInput {
        match m {
            MetricSpec::Resource(r) => self.resource_input(pods, r, None),
            MetricSpec::ContainerResource { metric, container } => {
                self.resource_input(pods, metric, Some(container))
            }
            MetricSpec::Pods { metric, .. } => {
                // An unknown name is the adapter's 404 (custom-metrics-apiserver
                // pkg/provider/errors.go), wrapped as replica_calculator.go and
                // metrics/client.go do.
                if !super::custom_metrics::POD_METRICS.contains(&metric.name.as_str()) {
                    return Err(format!(
                        "unable to get metric {0}: unable to fetch metrics from custom metrics API: the server could not find the metric {0} for pods",
                        metric.name
                    ));
                }
                let values: Vec<PodValue> = pods
                    .iter()
                    .map(|p| PodValue {
                        request: Ok(0),
                        sample: self
                            .pod_custom_metric(p.id, &metric.name, metric.selector.as_ref())
                            .map(|(milli, timestamp, window_ms)| Sample {
                                milli,
                                timestamp,
                                window_ms,
                            }),
                    })
                    .collect();
                if values.iter().all(|v| v.sample.is_none()) {
                    return Err(format!(
                        "unable to get metric {}: no metrics returned from custom metrics API",
                        metric.name
                    ));
                }
                Ok(Observed::PerPod(values))
            }
            MetricSpec::Object { object, metric, .. } => self
                .object_custom_metric(ns, &object.kind, &object.name, &metric.name, metric.selector.as_ref())
                .map(Observed::Value)
                .ok_or_else(|| {
                    // replica_calculator.go `GetObjectMetricReplicas` around the adapter's 404.
                    format!(
                        "unable to get metric {0} on {1} {ns}/{2}: unable to fetch metrics from custom metrics API: the server could not find the metric {0} for {3} {2}",
                        metric.name,
                        object.kind,
                        object.name,
                        kscale_kubectl::qualified_plural_of(&object.kind),
                    )
                }),
            MetricSpec::External { metric, .. } => {
                let selector = hpa::go_selector_string(metric.selector.as_ref());
                if !super::custom_metrics::WORKLOAD_METRICS.contains(&metric.name.as_str()) {
                    return Err(format!(
                        "unable to get external metric {ns}/{0}/{selector}: unable to fetch metrics from external metrics API: the server could not find the metric {0} for provided labels",
                        metric.name
                    ));
                }
                self.external_metric(ns, &metric.name, metric.selector.as_ref())
                    .map(Observed::Value)
                    .ok_or_else(|| {
                        format!(
                            "unable to get external metric {ns}/{}/{selector}: no metrics returned from external metrics API",
                            metric.name,
                        )
                    })
            }
            MetricSpec::Invalid { message, .. } => Err(message.clone()),
        }
    }

    /// What one sync observes of the target's pods: each pod's readiness, what the metrics
    /// APIs return per metric, and the active and ready counts. With only Resource and
    /// ContainerResource metrics every pod is read once for all of them, and right after a
    /// scrape the pods are not read at all: their views are (see `hpa_view.rs`).
    fn observe(
        &self,
        ns: &str,
        parsed: &Arc<ParsedHpa>,
        targets: &mut Option<TargetViews>,
    ) -> Observation {
        let (name, metrics) = (parsed.name.as_str(), parsed.metrics.as_slice());
        let (kind, resource_only) = (parsed.kind_lower.as_str(), parsed.resource_only);
        if resource_only
            && self.hpa.views.current(self.now, self.pods.mutations())
            && let Some(seen) = self.observe_views(ns, parsed, targets)
        {
            #[cfg(debug_assertions)]
            self.check_views(ns, kind, name, metrics, &seen, targets.as_ref());
            return seen;
        }
        self.observe_pods(ns, kind, name, metrics, resource_only)
    }

    /// One collector per metric (Resource and ContainerResource metrics only).
    fn collectors<'m>(
        metrics: &'m [MetricSpec],
        pods: usize,
    ) -> Vec<Result<ResourceCollector<'m>, String>> {
        metrics
            .iter()
            .map(|m| match m {
                MetricSpec::Resource(r) => Ok(ResourceCollector::new(r, None, pods)),
                MetricSpec::ContainerResource { metric, container } => {
                    Ok(ResourceCollector::new(metric, Some(container), pods))
                }
                _ => unreachable!("resource metrics only"),
            })
            .collect()
    }

    /// [`Sim::observe`] from the pods themselves.
    fn observe_pods(
        &self,
        ns: &str,
        kind: &str,
        name: &str,
        metrics: &[MetricSpec],
        resource_only: bool,
    ) -> Observation {
        let target_pods = self.target_pods(ns, kind, name);
        if !resource_only {
            let replicas = target_pods.iter().filter(|p| p.is_active()).count();
            let ready = target_pods.iter().filter(|p| p.is_ready()).count();
            let pods = target_pods.iter().map(|p| p.hpa_obs()).collect();
            let inputs = metrics
                .iter()
                .map(|m| self.metric_input(ns, &target_pods, m))
                .collect();
            return (pods, inputs, replicas, ready);
        }
        let mut collectors = Self::collectors(metrics, target_pods.len());
        // Two passes: the first is a tight loop whose memory loads (each pod's first touch)
        // overlap; the second then finds the workload's pods in cache.
        let mut pods = Vec::with_capacity(target_pods.len());
        let (mut replicas, mut ready) = (0, 0);
        for p in &target_pods {
            replicas += usize::from(p.is_active());
            ready += usize::from(p.is_ready());
            pods.push(p.hpa_obs());
        }
        for p in &target_pods {
            let sample = self.metrics.sample_of(p);
            for c in &mut collectors {
                if let Ok(col) = c
                    && let Err(e) = col.push(p, sample.as_ref())
                {
                    *c = Err(e);
                }
            }
        }
        let inputs = collectors
            .into_iter()
            .map(|c| c.and_then(ResourceCollector::finish))
            .collect();
        (pods, inputs, replicas, ready)
    }

    /// [`Sim::observe`] from the ReplicaSets' views (current: built at this time and no pod
    /// changed since): one entry per group of pods seen alike. None when a view does not
    /// account for its ReplicaSet's pods, or a pod lacks a request (its error names each pod).
    fn observe_views(
        &self,
        ns: &str,
        parsed: &Arc<ParsedHpa>,
        targets: &mut Option<TargetViews>,
    ) -> Option<Observation> {
        let metrics = parsed.metrics.as_slice();
        // The target's ReplicaSets change only with `Topic::ReplicaSetCaches`.
        let known = targets.as_ref().is_some_and(|t| {
            t.epoch == self.store.changes().at(Topic::ReplicaSetCaches)
                && Arc::ptr_eq(&t.parsed, parsed)
        });
        if !known {
            *targets = Some(TargetViews {
                epoch: self.store.changes().at(Topic::ReplicaSetCaches),
                parsed: parsed.clone(),
                views: self
                    .target_replicasets(ns, &parsed.kind_lower, &parsed.name)
                    .iter()
                    .map(|c| c.view)
                    .collect(),
            });
        }
        let ids = &targets.as_ref().expect("set").views;
        let mut views = Vec::with_capacity(ids.len());
        for id in ids {
            views.push(self.hpa.views.view(*id)?);
        }
        let entries: usize = views.iter().map(|v| v.entries.len()).sum();
        let mut collectors = Self::collectors(metrics, entries);
        let mut pods = Vec::with_capacity(entries);
        let (mut replicas, mut ready) = (0, 0);
        for v in views {
            replicas += v.active;
            ready += v.ready;
            for e in &v.entries {
                for c in &mut collectors {
                    if let Ok(col) = c
                        && let Err(e) = col.push_parts(&e.template, e.sample.as_ref(), None)
                    {
                        *c = Err(e);
                    }
                }
                pods.push(e.obs.clone());
            }
        }
        // An error names a pod: the pods themselves are read for it.
        if collectors.iter().any(|c| {
            c.as_ref().is_err()
                || c.as_ref()
                    .is_ok_and(|c| c.out.iter().any(|v| v.request.is_err()))
        }) {
            return None;
        }
        let covered = pods.iter().map(|o| o.count as usize).sum();
        self.hpa.views.note_served(pods.len(), covered);
        let inputs = collectors
            .into_iter()
            .map(|c| c.and_then(ResourceCollector::finish))
            .collect();
        Some((pods, inputs, replicas, ready))
    }

    /// Debug builds: what the views gave is what reading the pods gives, entry by entry
    /// expanded to its pods, with each pod's observation made canonical (as multisets: the
    /// views file sample groups after the pods read one by one, and no result depends on the
    /// order).
    #[cfg(debug_assertions)]
    fn check_views(
        &self,
        ns: &str,
        kind: &str,
        name: &str,
        metrics: &[MetricSpec],
        seen: &Observation,
        targets: Option<&TargetViews>,
    ) {
        let (pods, inputs, replicas, ready) = self.observe_pods(ns, kind, name, metrics, true);
        let target = self.target_pods(ns, kind, name);
        let views: Vec<u32> = self
            .target_replicasets(ns, kind, name)
            .iter()
            .map(|c| c.view)
            .collect();
        assert_eq!(Some(&views), targets.map(|t| &t.views), "HPA views: target");
        assert_eq!((seen.2, seen.3), (replicas, ready), "HPA views: counts");
        // One sortable row per pod: its canonical observation and its value per metric.
        type Row = (Vec<i64>, Vec<String>);
        let obs_key = |o: &PodObs| -> Vec<i64> {
            vec![
                i64::from(o.pending),
                i64::from(o.ignored),
                o.ready.map_or(-1, i64::from),
                o.ready_transition.as_millis() as i64,
                o.start.map_or(-1, |t| t.as_millis() as i64),
            ]
        };
        let value_key = |v: &PodValue| format!("{v:?}");
        let mut expected: Vec<Row> = pods
            .iter()
            .zip(&target)
            .map(|(o, p)| {
                let c = o.canonical(self.metrics.sample_of(p).is_some(), self.now);
                (obs_key(&c), Vec::new())
            })
            .collect();
        let mut got: Vec<Row> = seen
            .0
            .iter()
            .flat_map(|o| std::iter::repeat_n((obs_key(o), Vec::new()), o.count as usize))
            .collect();
        for (a, b) in seen.1.iter().zip(&inputs) {
            match (a, b) {
                (Ok(Observed::PerPod(a)), Ok(Observed::PerPod(b))) => {
                    let mut k = 0;
                    for (v, o) in a.iter().zip(&seen.0) {
                        for _ in 0..o.count {
                            got[k].1.push(value_key(v));
                            k += 1;
                        }
                    }
                    for (row, v) in expected.iter_mut().zip(b) {
                        row.1.push(value_key(v));
                    }
                }
                (a, b) => assert_eq!(a, b, "HPA views: metric of {ns}/{kind}/{name}"),
            }
        }
        expected.sort();
        got.sort();
        assert_eq!(got, expected, "HPA views: pods of {ns}/{kind}/{name}");
    }

    /// The parsed spec of an HPA object, from the cache while its uid and generation hold.
    fn parsed_hpa(
        &self,
        key: &ObjKey,
        cache: &mut Option<Arc<ParsedHpa>>,
    ) -> Option<Arc<ParsedHpa>> {
        let v = self.store.get(key)?;
        let meta = v.get("metadata");
        let uid = meta
            .and_then(|m| m.get("uid"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let generation = meta
            .and_then(|m| m.get("generation"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if let Some(p) = cache.as_ref()
            && p.uid == uid
            && p.generation == generation
        {
            return Some(p.clone());
        }
        let spec = super::hpa_spec::hpa_spec(v);
        let target = v.get("spec").and_then(|s| s.get("scaleTargetRef"));
        let field = |k: &str| target.and_then(|t| t.get(k)).and_then(Value::as_str);
        let metrics = spec.effective_metrics().into_owned();
        let parsed = Arc::new(ParsedHpa {
            uid: uid.to_string(),
            generation,
            kind: field("kind").unwrap_or("Deployment").to_string(),
            kind_lower: field("kind").unwrap_or("Deployment").to_ascii_lowercase(),
            resource_only: metrics.iter().all(|m| {
                matches!(
                    m,
                    MetricSpec::Resource(_) | MetricSpec::ContainerResource { .. }
                )
            }),
            name: field("name").unwrap_or("").to_string(),
            target: ObjKey::new(
                field("kind").unwrap_or("Deployment"),
                &key.namespace,
                field("name").unwrap_or(""),
            ),
            labels: metrics.iter().map(|m| Arc::from(series_label(m))).collect(),
            metrics,
            spec,
        });
        *cache = Some(parsed.clone());
        Some(parsed)
    }

    /// One HPA's sync: [`Sim::prepare_hpa`], then [`Sim::apply_hpa`].
    fn sync_one_hpa(&mut self, key: &ObjKey, entry: &mut HpaEntry, parsed_current: bool) {
        let prepared = self.prepare_hpa(key, entry, parsed_current);
        self.apply_hpa(key, entry, prepared);
    }

    /// What a sync reads and decides: the parsed spec, the target's replicas, the observation
    /// and the controller's decision. It writes only `entry`, so the syncs of HPAs with
    /// distinct targets can prepare in parallel: their actions ([`Sim::apply_hpa`]) write
    /// nothing another HPA's preparation reads (a scale writes only its target's object).
    fn prepare_hpa(&self, key: &ObjKey, entry: &mut HpaEntry, parsed_current: bool) -> Prepared {
        if (!parsed_current || entry.parsed.is_none())
            && self.parsed_hpa(key, &mut entry.parsed).is_none()
        {
            return Prepared::Gone;
        }
        // Moved out for the preparation and back (nothing it calls reads it): no reference
        // count changes on this thread.
        let parsed = entry.parsed.take().expect("parsed above");
        let prepared = self.prepare_parsed(key, entry, &parsed);
        entry.parsed = Some(parsed);
        prepared
    }

    /// [`Sim::prepare_hpa`] of the spec `parsed`.
    fn prepare_parsed(
        &self,
        key: &ObjKey,
        entry: &mut HpaEntry,
        parsed: &Arc<ParsedHpa>,
    ) -> Prepared {
        let spec = &parsed.spec;
        // The target, found by its store handle while the parsed spec (and its target) and the
        // target object hold.
        let by_handle = match &entry.target_at {
            Some((p, h)) if Arc::ptr_eq(p, parsed) => self.store.get_updated_by(*h),
            _ => None,
        };
        let target = by_handle.or_else(|| {
            let h = self.store.handle(&parsed.target)?;
            entry.target_at = Some((parsed.clone(), h));
            self.store.get_updated_by(h)
        });
        // The target's `spec.replicas`, read again only after the target was updated.
        let Some(current) = target.map(|(t, updated)| match entry.target_replicas {
            Some((at, replicas)) if at == updated => replicas,
            _ => {
                let replicas = t
                    .get("spec")
                    .and_then(|s| s.get("replicas"))
                    .and_then(Value::as_i64)
                    .unwrap_or(1) as i32;
                entry.target_replicas = Some((updated, replicas));
                replicas
            }
        }) else {
            return Prepared::NoTarget;
        };
        let (pods, inputs, replicas, ready) =
            self.observe(&key.namespace, parsed, &mut entry.targets);
        let d = hpa::reconcile(
            &mut entry.state,
            spec,
            current,
            replicas as i32,
            &pods,
            &inputs,
            self.now,
        );
        Prepared::Decided(self.conclude(key, entry, parsed, current, ready, d))
    }

    /// The bookkeeping of a decided sync, entry-local (so it runs in the parallel
    /// preparation): the warnings new since the last sync, the time series and the status the
    /// sync writes, but for what acting adds (a rescale's condition and lastScaleTime).
    fn conclude(
        &self,
        key: &ObjKey,
        entry: &mut HpaEntry,
        parsed: &Arc<ParsedHpa>,
        current: i32,
        ready: usize,
        d: hpa::Decision,
    ) -> Decided {
        let now = self.now;
        let prev = self.previous_status(key, entry, parsed);
        let metrics = &parsed.metrics;
        let Concluded {
            warnings,
            rescale,
            status,
        } = status::conclude(prev, d, current, parsed.spec.min, metrics, now);
        // Warnings: a failure repeated at the next sync is not emitted again (the event
        // correlator counts it instead).
        let last = entry.last_warning.as_ref();
        let unchanged = last == Some(&warnings);
        let fresh: Vec<(String, String)> = warnings
            .iter()
            .filter(|w| last.is_none_or(|l| !l.contains(w)))
            .cloned()
            .collect();
        if !unchanged {
            entry.last_warning = Some(warnings);
        }
        let series = entry.series.get_or_insert_with(HpaSeries::default);
        // `status.currentReplicas` is the scale's `spec.replicas` as the sync read it
        // (horizontal.go `reconcileAutoscaler`: `currentReplicas := scale.Spec.Replicas`, then
        // `setStatus`), not the pods that exist.
        series.current = status.replicas as f64;
        series.desired = status.desired as f64;
        series.ready = ready as f64;
        series.metrics.truncate(metrics.len());
        for (i, m) in metrics.iter().enumerate() {
            // (No metrics were read, no proposals: `Decision::computed` is false only for a
            // decision without proposals.)
            let proposal = status.metrics.as_ref().and_then(|p| p.get(i)?.as_ref());
            let (c, t) = series_values(m, proposal);
            match series.metrics.get_mut(i) {
                // The label is the parsed spec's own while the spec holds: a pointer compare.
                Some(s) if Arc::ptr_eq(&s.0, &parsed.labels[i]) || s.0 == parsed.labels[i] => {
                    (s.1, s.2) = (c, t)
                }
                Some(s) => *s = (parsed.labels[i].clone(), c, t),
                None => series.metrics.push((parsed.labels[i].clone(), c, t)),
            }
        }
        // The status this sync writes; acting adds the rescale and writes it if it differs
        // from the last.
        let status = HpaStatus {
            rv: 0,
            parsed: parsed.clone(),
            status,
        };
        // Without a rescale nothing is added: a status showing what the last write showed is
        // dropped here, in the parallel preparation, rather than compared and dropped when
        // acting.
        let same_status =
            rescale.is_none() && entry.status.as_ref().is_some_and(|s| s.shows_same(&status));
        Decided {
            fresh,
            rescale,
            status: (!same_status).then_some(status),
        }
    }

    /// What a sync carries over from the status the last one wrote: the last written one
    /// while the object is the same (its uid), else what the stored object's status shows
    /// (a status given in the manifests; none for a new object).
    fn previous_status(&self, key: &ObjKey, entry: &HpaEntry, parsed: &ParsedHpa) -> Previous {
        if let Some(s) = entry.status.as_ref().filter(|s| s.parsed.uid == parsed.uid) {
            let s = &s.status;
            return Previous {
                last_scale: s.last_scale.clone(),
                desired: s.desired,
                replicas: s.replicas,
                conditions: s.conditions.clone(),
            };
        }
        let status = self.store.get(key).and_then(|v| v.get("status"));
        let int = |k: &str| status.and_then(|s| s.get(k)).and_then(Value::as_i64);
        Previous {
            last_scale: status
                .and_then(|s| s.get("lastScaleTime"))
                .and_then(Value::as_str)
                .map(|t| LastScale::Given(t.to_string())),
            desired: int("desiredReplicas").map_or(0, |d| d as i32),
            replicas: int("currentReplicas").map_or(0, |r| r.max(0) as usize),
            conditions: Vec::new(),
        }
    }

    /// Writes `status` as the HPA's new status unless it shows what the last write showed
    /// (upstream's `updateStatusIfNeeded` skips such writes): it takes the next
    /// resourceVersion and is rendered into the object when something reads it.
    fn write_hpa_status(&mut self, entry: &mut HpaEntry, mut status: HpaStatus) {
        if entry.status.as_ref().is_some_and(|s| s.shows_same(&status)) {
            return;
        }
        status.rv = self.store.next_resource_version();
        entry.status = Some(status);
        entry.dirty = true;
    }

    /// Acts on a prepared sync: its new warnings, the rescale and its event, the status
    /// write's resourceVersion (in sync order).
    fn apply_hpa(&mut self, key: &ObjKey, entry: &mut HpaEntry, prepared: Prepared) {
        // Anything but `Gone` was prepared from the parsed spec, which is in the entry.
        let Some(parsed) = entry
            .parsed
            .as_ref()
            .filter(|_| !matches!(prepared, Prepared::Gone))
        else {
            return;
        };
        let Decided {
            fresh,
            rescale,
            status,
        } = match prepared {
            Prepared::Gone => return,
            Prepared::NoTarget => {
                let error = format!(
                    "{} \"{}\" not found",
                    kscale_kubectl::qualified_plural_of(&parsed.kind),
                    parsed.name
                );
                // Upstream sets AbleToScale to False and writes the status otherwise as it
                // was.
                let parsed = parsed.clone();
                let prev = self.previous_status(key, entry, &parsed);
                // The metrics it showed, if this sync's own object wrote them.
                let metrics = entry
                    .status
                    .as_ref()
                    .filter(|s| s.parsed.uid == parsed.uid)
                    .and_then(|s| s.status.metrics.clone());
                let status = HpaStatus {
                    rv: 0,
                    parsed,
                    status: status::failed_get_scale(prev, metrics, &error, self.now),
                };
                self.write_hpa_status(entry, status);
                self.emit(
                    "Warning",
                    "FailedGetScale",
                    "HorizontalPodAutoscaler",
                    &key.namespace,
                    &key.name,
                    error,
                    "horizontal-pod-autoscaler",
                );
                return;
            }
            Prepared::Decided(d) => d,
        };
        for w in fresh {
            self.emit(
                "Warning",
                &w.0,
                "HorizontalPodAutoscaler",
                &key.namespace,
                &key.name,
                w.1,
                "horizontal-pod-autoscaler",
            );
        }
        let Some(mut status) = status else {
            return;
        };
        if let Some(r) = rescale
            && self
                .scale(
                    &parsed.kind,
                    &key.namespace,
                    &parsed.name,
                    r.desired as i64,
                    None,
                )
                .is_ok()
        {
            status.status.rescaled(&r, self.now);
            self.emit(
                "Normal",
                "SuccessfulRescale",
                "HorizontalPodAutoscaler",
                &key.namespace,
                &key.name,
                r.message,
                "horizontal-pod-autoscaler",
            );
        }
        self.write_hpa_status(entry, status);
    }

    /// Renders the HPA status writes made since the last read into the stored objects (before
    /// a kubectl step and at the end of the run).
    pub fn flush_hpa_status(&mut self) {
        let start = self.start_unix_ms;
        let ts = |t: SimTime| {
            kscale_kubectl::format_rfc3339(start.saturating_add_unsigned(t.as_millis()))
        };
        let mut written: Vec<(ObjKey, u64, Value, Value)> = Vec::new();
        for (key, e) in self.hpa.entries.iter_mut() {
            let Some(p) = e.status.as_ref().filter(|_| e.dirty) else {
                continue;
            };
            e.dirty = false;
            // The stored object's version decides which one it shows.
            let mut v1 =
                json!({"currentReplicas": p.status.replicas, "desiredReplicas": p.status.desired});
            let utilization = p
                .status
                .metrics
                .as_ref()
                .and_then(|m| m.first()?.as_ref()?.utilization);
            if let Some(u) = utilization {
                v1["currentCPUUtilizationPercentage"] = json!(u);
            }
            if let Some(t) = &p.status.last_scale {
                v1["lastScaleTime"] = json!(render_last_scale(t, &ts));
            }
            written.push((key.clone(), p.rv, v1, p.status_v2(&ts)));
        }
        for (key, rv, v1, v2) in written {
            self.store.write_status_at(&key, rv, |o| {
                let v1_object =
                    o.get("apiVersion").and_then(Value::as_str) == Some("autoscaling/v1");
                o["status"] = if v1_object { v1 } else { v2 };
                // setStatus (v1.37, HPAGeneration beta): the generation the sync acted on.
                if let Some(g) = o.pointer("/metadata/generation").cloned() {
                    o["status"]["observedGeneration"] = g;
                }
            });
        }
    }
}

/// Builds the resource metrics API's answer for one Resource/ContainerResource metric, one pod
/// at a time (so the HPA sync reads each pod once for all its metrics).
struct ResourceCollector<'m> {
    r: &'m ResourceMetric,
    container: Option<&'m str>,
    out: Vec<PodValue>,
    any: bool,
    /// Pods of one workload share their template: its summed request and whether the serving
    /// container is selected are computed once per template, not once per pod.
    memo: Option<(*const super::model::PodTemplate, i64, bool)>,
}

impl<'m> ResourceCollector<'m> {
    fn new(r: &'m ResourceMetric, container: Option<&'m str>, pods: usize) -> Self {
        ResourceCollector {
            r,
            container,
            out: Vec::with_capacity(pods),
            any: false,
            memo: None,
        }
    }

    fn fail(&self, e: String) -> String {
        let res = self.r.name.as_str();
        let what = if matches!(self.r.target, Target::Utilization(_)) {
            "utilization"
        } else {
            "usage"
        };
        format!("failed to get {res} {what}: {e}")
    }

    /// Adds one pod (`p`, with its sample); an error ends the metric (the API's answer is
    /// that error).
    fn push(&mut self, p: &Pod, sample: Option<&PodSample>) -> Result<(), String> {
        self.push_parts(&p.template, sample, Some(p))
    }

    /// Adds one pod by its template and sample; `p` names it in errors (without it an error
    /// names no pod: for callers that discard such answers).
    fn push_parts(
        &mut self,
        t: &Arc<PodTemplate>,
        sample: Option<&PodSample>,
        p: Option<&Pod>,
    ) -> Result<(), String> {
        let (r, container) = (self.r, self.container);
        let res = r.name.as_str();
        let (ns, pod) = p.map_or(("", ""), |p| (&*p.namespace, &*p.name));
        let (request, serving) = match self.memo {
            Some((ptr, q, serving)) if std::ptr::eq(ptr, Arc::as_ptr(t)) => (Ok(q), serving),
            _ => {
                let mut selected = t
                    .containers
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| container.is_none_or(|n| c.name == n))
                    .peekable();
                if let Some(name) = container
                    && selected.peek().is_none()
                    && sample.is_some()
                {
                    return Err(self.fail(format!(
                        "unable to get metrics for resource {res}: container {name} not present in metrics for pod {ns}/{pod}"
                    )));
                }
                let mut request = Ok(0i64);
                let mut serving = false;
                for (i, c) in selected {
                    // The serving (first) container holds the pod's usage.
                    serving |= i == 0;
                    if request.is_err() {
                        continue;
                    }
                    let q = match r.name {
                        ResourceName::Cpu => c.requests.cpu_milli,
                        ResourceName::Memory => c.requests.memory.saturating_mul(1000),
                    };
                    if q == 0 {
                        request = Err(format!(
                            "missing request for {res} in container {} of Pod {pod}",
                            c.name
                        ));
                    } else if let Ok(x) = &mut request {
                        *x += q;
                    }
                }
                let selected_any = t
                    .containers
                    .iter()
                    .any(|c| container.is_none_or(|n| c.name == n));
                // Cached only when no pod-specific error can arise for this template.
                if let Ok(q) = request
                    && (container.is_none() || selected_any)
                {
                    self.memo = Some((Arc::as_ptr(t), q, serving));
                }
                (request, serving)
            }
        };
        let sample = sample.map(|x| {
            // As metrics-server serves it and the HPA reads it back (whole nanocores read
            // rounding up to millicores; whole KiB).
            let v = match r.name {
                ResourceName::Cpu => kscale_model::metrics_api::cpu_read_milli(x.cpu_milli),
                ResourceName::Memory => kscale_model::metrics_api::memory_read_milli(x.memory),
            };
            Sample {
                milli: if serving { v } else { 0 },
                timestamp: x.timestamp,
                window_ms: x.window_ms,
            }
        });
        self.any |= sample.is_some();
        self.out.push(PodValue { request, sample });
        Ok(())
    }

    fn finish(self) -> MetricInput {
        if !self.any {
            let res = self.r.name.as_str();
            return Err(self.fail(format!(
                "unable to get metrics for resource {res}: no metrics returned from resource metrics API"
            )));
        }
        Ok(Observed::PerPod(self.out))
    }
}

/// Fewest HPAs worth preparing in parallel (the default of `Sim::hpa_parallel_min`).
pub const PARALLEL_MIN: usize = 32;

/// True if the HPAs' syncs may prepare in parallel: each with its entry and parsed spec (the
/// entries are exactly the keys) and no two with the same target.
fn parallel_safe(keys: &[ObjKey], entries: &BTreeMap<ObjKey, HpaEntry>) -> bool {
    if keys.len() != entries.len() || !entries.keys().eq(keys) {
        return false;
    }
    let mut targets = Vec::with_capacity(keys.len());
    for e in entries.values() {
        match &e.parsed {
            Some(p) => targets.push(&p.target),
            None => return false,
        }
    }
    targets.sort_unstable();
    targets.windows(2).all(|w| w[0] != w[1])
}

/// A prepared sync (see `Sim::prepare_hpa`).
pub enum Prepared {
    /// The HPA object is gone.
    Gone,
    /// The scale target does not exist.
    NoTarget,
    /// The controller decided.
    Decided(Decided),
}

/// What a decided sync leaves to acting.
pub struct Decided {
    /// Warnings new since the last sync: (reason, message).
    fresh: Vec<(String, String)>,
    /// The rescale decided.
    rescale: Option<status::Rescale>,
    /// The status the sync writes, but for what the rescale adds (None: it shows what the
    /// last write showed and there is no rescale, so nothing is written).
    status: Option<HpaStatus>,
}

/// What an HPA sync reads of its object, parsed once per uid and generation.
#[derive(Debug)]
pub struct ParsedHpa {
    uid: String,
    generation: i64,
    spec: HpaSpec,
    /// `spec.effective_metrics()`.
    metrics: Vec<MetricSpec>,
    /// Their time-series column labels.
    labels: Vec<Arc<str>>,
    kind: String,
    /// `kind` in lower case (as pods' owner kinds are matched).
    kind_lower: String,
    /// Every metric is a Resource or ContainerResource metric.
    resource_only: bool,
    name: String,
    /// The scale target's key.
    target: ObjKey,
}

/// A lastScaleTime as the status shows it.
fn render_last_scale(t: &LastScale, ts: &impl Fn(SimTime) -> String) -> String {
    match t {
        LastScale::At(t) => ts(*t),
        LastScale::Given(s) => s.clone(),
    }
}

/// An HPA status as the controller last wrote it; its JSON is rendered into the stored object
/// only when something reads it ([`Sim::flush_hpa_status`]).
#[derive(Debug, Clone)]
pub struct HpaStatus {
    rv: u64,
    parsed: Arc<ParsedHpa>,
    status: Status,
}

impl HpaStatus {
    /// Whether both render the same status (`updateStatusIfNeeded`; see
    /// [`Status::shows_same`]) for the same object and metrics.
    fn shows_same(&self, o: &HpaStatus) -> bool {
        // (A recreated object, a new uid, gets its first status whatever the old one showed.)
        (Arc::ptr_eq(&self.parsed, &o.parsed)
            || (self.parsed.uid == o.parsed.uid && self.parsed.metrics == o.parsed.metrics))
            && self.status.shows_same(&o.status)
    }

    /// The autoscaling/v2 status, as the controller writes it.
    fn status_v2(&self, ts: &impl Fn(SimTime) -> String) -> Value {
        let metrics = &self.parsed.metrics;
        let s = &self.status;
        let conditions: Vec<Value> = s
            .conditions
            .iter()
            .map(|(c, since)| {
                let (reason, message) = c.reason_message(metrics);
                json!({"type": c.type_(), "status": if c.status() { "True" } else { "False" }, "reason": reason, "message": message, "lastTransitionTime": ts(*since)})
            })
            .collect();
        let mut status = json!({"currentReplicas": s.replicas, "desiredReplicas": s.desired});
        if let Some(m) = &s.metrics {
            let statuses: Vec<Value> = metrics
                .iter()
                .enumerate()
                .map(|(i, spec)| metric_status(spec, m.get(i).and_then(Option::as_ref)))
                .collect();
            status["currentMetrics"] = json!(statuses);
        }
        if !conditions.is_empty() {
            status["conditions"] = json!(conditions);
        }
        if let Some(t) = &s.last_scale {
            status["lastScaleTime"] = json!(render_last_scale(t, ts));
        }
        status
    }
}

/// The twin's HPA controller: what it keeps between syncs (one [`HpaEntry`] per HPA) and the
/// caches of its sync loop. Its fields are its own; the metrics pipeline builds its pod views
/// through [`HpaController::views_mut`], the sampler reads the entries.
pub struct HpaController {
    /// The sync loop is running.
    syncing: bool,
    /// Per HPA: one map, one lookup per sync.
    entries: BTreeMap<ObjKey, HpaEntry>,
    /// The store's writes of HPAs when every parsed spec in `entries` was last checked against
    /// its object: while it holds, the entries are current.
    parsed_writes: Option<u64>,
    /// Whether the syncs may prepare in parallel, while the parsed specs are current.
    parallel: Option<bool>,
    /// Fewest HPAs whose syncs prepare in parallel ([`PARALLEL_MIN`]; tests change it).
    parallel_min: usize,
    /// The parallel sync's results, kept between syncs: one buffer for the run instead of a
    /// fresh one per sync (hundreds of KiB at 900 HPAs, which the allocator gave back to the
    /// OS and the kernel zeroed again at every sync).
    prepared: Vec<Prepared>,
    /// The stored HPAs' keys, as of the last sync (current while `parsed_writes` is).
    keys: Vec<ObjKey>,
    /// The controller's view of each ReplicaSet's pods, built by the scrape (see
    /// `hpa_view.rs`).
    views: HpaViews,
}

impl Default for HpaController {
    fn default() -> Self {
        Self::new()
    }
}

impl HpaController {
    /// A controller with no HPA, not syncing yet.
    pub fn new() -> Self {
        HpaController {
            syncing: false,
            entries: BTreeMap::new(),
            parsed_writes: None,
            parallel: None,
            parallel_min: PARALLEL_MIN,
            prepared: Vec::new(),
            keys: Vec::new(),
            views: HpaViews::default(),
        }
    }

    /// Whether the sync loop runs (some HPA exists or existed).
    pub fn syncing(&self) -> bool {
        self.syncing
    }

    /// Per HPA, in key order: what the controller keeps between syncs.
    pub fn entries(&self) -> &BTreeMap<ObjKey, HpaEntry> {
        &self.entries
    }

    /// The controller's views of the ReplicaSets' pods (built by the metrics scrape).
    pub fn views(&self) -> &HpaViews {
        &self.views
    }

    /// The views, for the metrics scrape that builds them.
    pub fn views_mut(&mut self) -> &mut HpaViews {
        &mut self.views
    }

    /// Sets the fewest HPAs whose syncs prepare in parallel (tests compare both paths).
    pub fn set_parallel_min(&mut self, n: usize) {
        self.parallel_min = n;
    }

    /// Whether the last sync prepared in parallel (`None` before the first).
    pub fn parallel(&self) -> Option<bool> {
        self.parallel
    }
}

/// What the twin keeps per HPA between syncs.
#[derive(Debug, Default)]
pub struct HpaEntry {
    /// The controller's memory (recommendations, scale events).
    pub state: HpaState,
    /// Replicas and metric values of the last sync, for the time series (None: never synced
    /// to the end).
    pub series: Option<HpaSeries>,
    /// The warnings of the last sync, so a repeated failure is one event (as the event
    /// correlator counts repeats instead of creating new events).
    pub last_warning: Option<Vec<(String, String)>>,
    /// The spec as parsed at the last sync, reused while uid and generation hold.
    pub parsed: Option<Arc<ParsedHpa>>,
    /// The status the last sync wrote (see [`Sim::flush_hpa_status`]).
    pub status: Option<HpaStatus>,
    /// `status` is not yet rendered into the stored object.
    pub dirty: bool,
    /// The target's ReplicaSets' views, while the revision of `Topic::ReplicaSetCaches` and the parsed spec hold.
    pub targets: Option<TargetViews>,
    /// The scale target's store handle, for the parsed spec it was found for.
    pub target_at: Option<(Arc<ParsedHpa>, Handle)>,
    /// (the target's last update, its `spec.replicas` then); see [`Store::get_updated`].
    ///
    /// [`Store::get_updated`]: super::store::Store::get_updated
    pub target_replicas: Option<(u64, i32)>,
}

/// The views of an HPA target's ReplicaSets (see [`HpaEntry::targets`]).
#[derive(Debug)]
pub struct TargetViews {
    epoch: u64,
    parsed: Arc<ParsedHpa>,
    views: Vec<u32>,
}
