//! Sampling the run into a time series, and assembling the run's outputs.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kscale_report::{ChartSpec, RunOutput, TimeSeries};
use serde_json::{Value, json};

use super::Sim;
use super::changes::Topic;
use super::model::{Pod, PodPhase};
use super::store::ObjKey;

/// The sampled time series, row-major over interned column ids.
///
/// Column names are interned once (id = position in `names`); a row holds one value per
/// column known when it was taken (columns created later read as 0 in earlier rows, as do
/// columns a row did not set). The ids of each Deployment's, HPA's, load entry's and node
/// label's columns are cached, so a sample formats no column names once they are known.
#[derive(Debug)]
pub struct Samples {
    /// Column names by id; the first [`FIXED_COLUMNS`]`.len()` are the fixed columns in order.
    names: Vec<String>,
    /// Column id by name.
    index: HashMap<String, usize>,
    /// One row per sample not yet handed out ([`Samples::drain`]), values by column id.
    rows: Vec<Vec<f64>>,
    /// Rows handed out by [`Samples::drain`].
    drained: usize,
    /// The time of the last sample (`time_s`), handed out or not.
    last_time: Option<f64>,
    /// Per fixed column, its largest value over every row, handed out or not (0 before the
    /// first).
    fixed_max: [f64; FIXED_COLUMNS.len()],
    /// Per column id, how much it moved over every row, handed out or not (see
    /// [`ColumnStats`]).
    stats: Vec<ColumnStats>,
    /// Per Deployment, in the order of the last sample's: its key, the range of its
    /// ReplicaSets' keys (`<name>-…`) and its column ids (desired, pods, ready). A sample
    /// compares keys position by position instead of hashing them.
    deploy: Vec<DeployColumns>,
    /// Bumped whenever `deploy` changes (see [`RsAttribution`]).
    deploy_generation: u64,
    /// `Store::membership_of("Deployment")` when `deploy` was last found to hold the stored
    /// Deployments' keys in order: while it holds, a sample does not compare them again.
    deploy_members: Option<u64>,
    /// Which Deployment each ReplicaSet's pods count for (see [`RsAttribution`]).
    rs_attribution: Option<RsAttribution>,
    /// Column ids per HPA with a sync to show, in the order of the last sample's.
    hpa: Vec<(ObjKey, HpaColumns)>,
    /// Column ids per load entry, in the order of [`LOAD_COLUMNS`], and of
    /// [`CLIENT_COLUMNS`] for an entry with a client model (a timeout or retries).
    loads: Vec<LoadColumns>,
    /// Column ids of `nodes/capacity/…`, `nodes/type/…` and `nodes/group/…` by label value.
    node_cols: [HashMap<String, usize>; 3],
}

/// The time-series sampler's state (the twin's own; no upstream counterpart): the samples
/// taken so far and what it keeps between samples so that one reads a few counts instead of
/// every pod and node — the pods per class and the nodes per kind.
#[derive(Debug, Default)]
pub struct Sampler {
    /// The samples taken so far.
    samples: Samples,
    /// The pods per class as of the last sample.
    pod_counts: PodCounts,
    /// Nodes counted by what the node columns show (kept on node additions and removals,
    /// counted again after a label change).
    node_kinds: NodeKinds,
}

/// How one column's values moved over the rows: what the charts' choice of the busiest
/// objects reads, kept as the rows are taken (they may be handed out before the charts are
/// chosen). Non-finite values are skipped.
#[derive(Debug, Clone, Copy, Default)]
struct ColumnStats {
    /// The last finite value.
    last: Option<f64>,
    /// The largest absolute finite value (0 before any).
    peak_abs: f64,
    /// The sum of the absolute changes between successive finite values, in row order.
    moved: f64,
}

impl ColumnStats {
    /// A column's stats before its first row: after earlier rows of 0 when `earlier`.
    fn zeros(earlier: bool) -> Self {
        ColumnStats {
            last: earlier.then_some(0.0),
            ..Default::default()
        }
    }

    /// The next row's value.
    fn add(&mut self, v: f64) {
        if !v.is_finite() {
            return;
        }
        self.peak_abs = self.peak_abs.max(v.abs());
        if let Some(l) = self.last {
            self.moved += (v - l).abs();
        }
        self.last = Some(v);
    }
}

/// What the node columns show of a node: capacity type, instance type and node group.
pub type NodeKind = (String, String, Option<String>);

/// How many nodes there are of each [`NodeKind`]: kept on every node addition and removal
/// (`Sim::node_kind_counted`) and counted again when node labels changed, so a sample reads
/// a few entries instead of every node's labels.
#[derive(Debug, Default)]
pub struct NodeKinds {
    counts: BTreeMap<NodeKind, u64>,
    /// the revision of `Topic::NodeMetadata` when counted.
    labels_epoch: u64,
}

/// A node's [`NodeKind`].
fn node_kind(n: &super::model::Node) -> NodeKind {
    (
        n.capacity_type.clone(),
        n.instance_type.clone(),
        n.info
            .labels
            .get(super::provider::NODE_GROUP_LABEL)
            .cloned(),
    )
}

/// What a sample keeps of one Deployment (see [`Samples::deploy`]).
#[derive(Debug)]
struct DeployColumns {
    key: ObjKey,
    replicasets: std::ops::Range<ObjKey>,
    ids: [usize; 3],
    /// `spec.replicas` as read at the object's last update version ([`Store::get_updated`]):
    /// (version, value).
    ///
    /// [`Store::get_updated`]: super::store::Store::get_updated
    desired: Option<(u64, f64)>,
}

/// For each entry of `Sim::rs_cache`, in key order, the position in [`Samples::deploy`] of
/// the Deployment whose active and ready pods it adds to (its owner, named `<deployment>-…`),
/// so a sample walks the ReplicaSets once instead of searching each Deployment's key range.
/// Valid while the revision of `Topic::ReplicaSetCaches` (bumped whenever a ReplicaSet's cache is stored or removed, the
/// only changes of its owner) and the Deployment list are those it was made for;
/// `Sim::check_invariants` compares it with a fresh one.
#[derive(Debug, PartialEq)]
struct RsAttribution {
    rs_epoch: u64,
    deploy_generation: u64,
    deployment_of: Vec<Option<u32>>,
}

/// Column ids of one HPA: replicas, desired and ready, and per metric (label, current, target).
#[derive(Debug, Default)]
struct HpaColumns {
    base: Option<[usize; 3]>,
    metrics: Vec<(Arc<str>, usize, usize)>,
}

/// Per load entry, the columns after `load/NS/KIND/NAME/` ([`load_values`]).
pub const LOAD_COLUMNS: [&str; 9] = [
    "offered_rps",
    "served_rps",
    "cpu_cores",
    "failed_rps",
    "backlog",
    "ready_pods",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
];

/// Per load entry with a client model (`timeout` or `retries`), the further columns after
/// `load/NS/KIND/NAME/`: all tries (retries included), retries, timed-out attempts (req/s).
pub const CLIENT_COLUMNS: [&str; 3] = ["attempts_rps", "retries_rps", "timed_out_rps"];

/// `load/NS/KIND/NAME/` of an entry with a memory model: the memory its ready pods use (MiB,
/// total), and the OOM kills (each one a container restart) and evictions of its target so far.
pub const MEMORY_COLUMNS: [&str; 3] = ["memory_mib", "oom_kills", "evictions"];

/// A load entry's sampled values in [`LOAD_COLUMNS`] order (both backends).
pub fn load_values(s: &crate::load::LoadState) -> [f64; LOAD_COLUMNS.len()] {
    [
        s.last_offered_rps,
        s.last_served_rps,
        s.last_cpu_milli / 1000.0,
        s.last_failed_rps,
        s.backlog,
        s.last_ready as f64,
        s.last_latency_ms[0],
        s.last_latency_ms[1],
        s.last_latency_ms[2],
    ]
}

/// A load entry's client-model values in [`CLIENT_COLUMNS`] order.
pub fn client_values(s: &crate::load::LoadState) -> [f64; CLIENT_COLUMNS.len()] {
    [
        s.last_attempts_rps,
        s.last_retries_rps,
        s.last_timed_out_rps,
    ]
}

/// A load entry's memory values in [`MEMORY_COLUMNS`] order: its ready pods' memory (MiB)
/// and its target's OOM kills and evictions so far.
pub fn memory_values(
    s: &crate::load::LoadState,
    oom_kills: u64,
    evictions: u64,
) -> [f64; MEMORY_COLUMNS.len()] {
    [
        s.last_memory_bytes / (1u64 << 20) as f64,
        oom_kills as f64,
        evictions as f64,
    ]
}

/// Column ids of one load entry: [`LOAD_COLUMNS`], with a client model [`CLIENT_COLUMNS`],
/// with a memory model [`MEMORY_COLUMNS`].
type LoadColumns = (
    [usize; LOAD_COLUMNS.len()],
    Option<[usize; CLIENT_COLUMNS.len()]>,
    Option<[usize; MEMORY_COLUMNS.len()]>,
);

/// Prefixes of the per-node columns, in the order of [`Samples::node_cols`].
const NODE_PREFIXES: [&str; 3] = ["nodes/capacity/", "nodes/type/", "nodes/group/"];

/// Ids of the fixed columns used below (positions in [`FIXED_COLUMNS`]).
const COL_TIME: usize = 0;

/// HPAs charted in `report.html` at most (two charts each): a page of
/// hundreds of charts (900 HPAs at 3,000 nodes: 176 MB) opens in no browser, and drawing them
/// was most of the time spent writing the run directory.
pub const MAX_WORKLOAD_CHARTS: usize = 20;

impl Default for Samples {
    fn default() -> Self {
        let mut s = Samples::empty();
        for c in FIXED_COLUMNS {
            s.intern(c);
        }
        s
    }
}

impl Samples {
    /// No columns (not even the fixed ones) and no rows; allocates nothing.
    fn empty() -> Self {
        Samples {
            names: vec![],
            index: HashMap::new(),
            rows: vec![],
            drained: 0,
            last_time: None,
            fixed_max: [0.0; FIXED_COLUMNS.len()],
            stats: vec![],
            deploy: vec![],
            deploy_generation: 0,
            deploy_members: None,
            rs_attribution: None,
            hpa: vec![],
            loads: vec![],
            node_cols: Default::default(),
        }
    }

    /// The id of a column, creating it if new.
    fn intern(&mut self, name: &str) -> usize {
        if let Some(&id) = self.index.get(name) {
            return id;
        }
        let id = self.names.len();
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), id);
        id
    }

    /// Number of samples taken (handed out or not).
    pub fn len(&self) -> usize {
        self.drained + self.rows.len()
    }

    /// No sample taken yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Samples taken and not yet handed out.
    pub fn held(&self) -> usize {
        self.rows.len()
    }

    /// Moves the rows taken so far out (values by column id, each as wide as the columns
    /// known when it was taken; [`Samples::column_order`] maps them to the output's columns).
    /// The time series built later ([`Sim::timeseries`], [`Sim::into_output`]) holds only
    /// the rows taken since; the summary's maxima still count these.
    pub fn drain(&mut self) -> Vec<Vec<f64>> {
        self.drained += self.rows.len();
        std::mem::take(&mut self.rows)
    }

    /// Output column `k`'s column id (see [`Samples::drain`]), for every column known so far.
    pub fn column_order(&self) -> Vec<usize> {
        self.order()
    }

    /// Adds a filled row.
    fn push(&mut self, row: Vec<f64>) {
        for (max, v) in self.fixed_max.iter_mut().zip(&row) {
            *max = max.max(*v);
        }
        // A column new in this row read 0 in every earlier row (as in the time series).
        let earlier = !self.is_empty();
        self.stats.resize(row.len(), ColumnStats::zeros(earlier));
        for (c, v) in self.stats.iter_mut().zip(&row) {
            c.add(*v);
        }
        self.last_time = row.get(COL_TIME).copied();
        self.rows.push(row);
    }

    /// Column ids in output order: the fixed columns, then the others by name.
    fn order(&self) -> Vec<usize> {
        let n = FIXED_COLUMNS.len();
        let mut extra: Vec<usize> = (n..self.names.len()).collect();
        extra.sort_unstable_by(|a, b| self.names[*a].cmp(&self.names[*b]));
        (0..n).chain(extra).collect()
    }

    /// Column names in output order.
    fn columns(&self, order: &[usize]) -> Vec<String> {
        order.iter().map(|&i| self.names[i].clone()).collect()
    }

    /// A row in output order (0 for columns it does not have).
    fn ordered_row(row: &[f64], order: &[usize]) -> Vec<f64> {
        order
            .iter()
            .map(|&i| row.get(i).copied().unwrap_or(0.0))
            .collect()
    }

    /// The largest value of fixed column `id` over all rows, handed out or not (0 when
    /// there are none).
    fn max_of(&self, id: usize) -> f64 {
        self.fixed_max[id]
    }

    /// Builds the time series, consuming the samples row by row.
    fn into_timeseries(mut self) -> TimeSeries {
        let order = self.order();
        let columns = self.columns(&order);
        let rows = std::mem::take(&mut self.rows)
            .into_iter()
            .map(|r| Self::ordered_row(&r, &order))
            .collect();
        TimeSeries {
            columns,
            rows,
            x_label: None,
        }
    }
}

/// One sample being filled: values by column id.
struct Row<'a> {
    samples: &'a mut Samples,
    values: Vec<f64>,
}

impl Row<'_> {
    /// Sets a column.
    fn set(&mut self, id: usize, v: f64) {
        if id >= self.values.len() {
            self.values.resize(id + 1, 0.0);
        }
        self.values[id] = v;
    }

    /// Adds to a column.
    fn add(&mut self, id: usize, v: f64) {
        if id >= self.values.len() {
            self.values.resize(id + 1, 0.0);
        }
        self.values[id] += v;
    }

    /// Sets a column by name.
    fn put(&mut self, name: &str, v: f64) {
        let id = self.samples.intern(name);
        self.set(id, v);
    }
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

    /// Brings the sampler's pods per class up to date: the pods changed since the last sample (the pod
    /// table's sampler journal) are counted again, the removed ones no more.
    fn update_pod_counts(&mut self) {
        let (touched, departed) = self.pods.take_counts_journal();
        for class in departed {
            self.sampler.pod_counts.add(class, -1);
        }
        for id in touched {
            let Some(p) = self.pods.get_quiet_mut(id) else {
                continue;
            };
            p.marks.count_touched = false;
            let class = pod_class(p);
            let old = std::mem::replace(&mut p.marks.counted, class);
            self.sampler.pod_counts.add(old, -1);
            self.sampler.pod_counts.add(class, 1);
        }
    }

    /// Time-series samples taken so far (handed out or not).
    pub fn samples_taken(&self) -> usize {
        self.sampler.samples.len()
    }

    /// Time-series samples taken and not yet handed out by [`Sim::drain_samples`].
    pub fn samples_held(&self) -> usize {
        self.sampler.samples.held()
    }

    /// Moves the time-series rows taken so far out of the simulation (see
    /// [`Samples::drain`]); [`Sim::sample_column_order`] maps them to the output's columns.
    pub fn drain_samples(&mut self) -> Vec<Vec<f64>> {
        self.sampler.samples.drain()
    }

    /// Output column `k`'s position in the rows [`Sim::drain_samples`] hands out, for every
    /// column known so far.
    pub fn sample_column_order(&self) -> Vec<usize> {
        self.sampler.samples.column_order()
    }

    /// Takes one time-series sample at the current time (once per time).
    pub fn take_sample(&mut self) {
        let t = self.now.as_secs_f64();
        if self.sampler.samples.last_time == Some(t) {
            return;
        }
        if self.sampler.node_kinds.labels_epoch != self.store.changes().at(Topic::NodeMetadata) {
            self.sampler.node_kinds = NodeKinds {
                counts: self.recount_node_kinds(),
                labels_epoch: self.store.changes().at(Topic::NodeMetadata),
            };
        }
        self.update_pod_counts();
        // Taken out while the sample is filled from the rest of the state.
        let mut samples = std::mem::replace(&mut self.sampler.samples, Samples::empty());
        let width = samples.names.len();
        let mut r = Row {
            samples: &mut samples,
            values: vec![0.0; width],
        };
        self.fill_sample(&mut r, t);
        let values = r.values;
        samples.push(values);
        self.sampler.samples = samples;
    }

    /// Per VPA and container: the recommendation's target and bounds (cpu in cores, memory in
    /// MiB) and the mean request and usage of the target's running pods (usage split across a
    /// pod's containers by their requests, as the twin's metrics API does).
    fn fill_vpa_sample(&self, r: &mut Row<'_>) {
        let q = |v: Option<&serde_json::Value>| {
            v.and_then(serde_json::Value::as_str)
                .and_then(|s| kscale_model::Quantity::parse(s).ok())
        };
        for o in self.list_rendered("VerticalPodAutoscaler", None) {
            let ns = o
                .pointer("/metadata/namespace")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("default");
            let name = o
                .pointer("/metadata/name")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("");
            let kind = o
                .pointer("/spec/targetRef/kind")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("");
            let target = o
                .pointer("/spec/targetRef/name")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("");
            let Some(w) = self.store.get(&ObjKey::new(kind, ns, target)) else {
                continue;
            };
            let selector = super::workloads::selector_of(w.pointer("/spec/selector"));
            let pods: Vec<&super::model::Pod> = self
                .pods
                .values()
                .filter(|p| {
                    *p.namespace == *ns
                        && p.phase == PodPhase::Running
                        && p.deleting_at.is_none()
                        && selector.matches(&p.labels)
                })
                .collect();
            let recs = o
                .pointer("/status/recommendation/containerRecommendations")
                .and_then(serde_json::Value::as_array)
                .cloned()
                .unwrap_or_default();
            for rec in &recs {
                let Some(container) = rec.get("containerName").and_then(serde_json::Value::as_str)
                else {
                    continue;
                };
                let id = format!("vpa/{ns}/{name}/{container}");
                let (mut req, mut usage, mut n) = ([0.0f64; 2], [0.0f64; 2], 0.0);
                for p in &pods {
                    let t = &p.template;
                    let Some(c) = t.containers.iter().find(|c| c.name == container) else {
                        continue;
                    };
                    n += 1.0;
                    req[0] += c.requests.cpu_milli as f64 / 1000.0;
                    req[1] += c.requests.memory as f64 / (1u64 << 20) as f64;
                    if let Some(s) = self.metrics.sample_of(p) {
                        let share = |of: fn(&kscale_model::Resources) -> i64| {
                            let total: i64 = t.containers.iter().map(|c| of(&c.requests)).sum();
                            if total > 0 {
                                of(&c.requests) as f64 / total as f64
                            } else {
                                1.0 / t.containers.len().max(1) as f64
                            }
                        };
                        usage[0] += s.cpu_milli / 1000.0 * share(|r| r.cpu_milli);
                        usage[1] += s.memory / (1u64 << 20) as f64 * share(|r| r.memory);
                    }
                }
                let mean = |x: f64| if n > 0.0 { x / n } else { 0.0 };
                for (bound, field) in [
                    ("target", "target"),
                    ("lower", "lowerBound"),
                    ("upper", "upperBound"),
                ] {
                    let cpu =
                        q(rec.pointer(&format!("/{field}/cpu"))).map(|x| x.milli() as f64 / 1000.0);
                    let mem = q(rec.pointer(&format!("/{field}/memory")))
                        .map(|x| x.value() as f64 / (1u64 << 20) as f64);
                    if let Some(v) = cpu {
                        let c = r.samples.intern(&format!("{id}/{bound}_cpu_cores"));
                        r.set(c, v);
                    }
                    if let Some(v) = mem {
                        let c = r.samples.intern(&format!("{id}/{bound}_memory_mib"));
                        r.set(c, v);
                    }
                }
                for (what, v) in [
                    ("request_cpu_cores", mean(req[0])),
                    ("usage_cpu_cores", mean(usage[0])),
                    ("request_memory_mib", mean(req[1])),
                    ("usage_memory_mib", mean(usage[1])),
                ] {
                    let c = r.samples.intern(&format!("{id}/{what}"));
                    r.set(c, v);
                }
            }
        }
    }

    /// The values of one sample.
    fn fill_sample(&self, r: &mut Row<'_>, t: f64) {
        // The fixed columns, by their position in FIXED_COLUMNS.
        let mut fixed = [0.0; FIXED_COLUMNS.len()];
        fixed[COL_TIME] = t;
        fixed[1] = self.nodes.len() as f64;
        fixed[2] = self.nodes.values().filter(|n| n.info.ready).count() as f64;
        #[cfg(debug_assertions)]
        {
            let mut recount = PodCounts::default();
            for p in self.pods.values() {
                recount.add(pod_class(p), 1);
            }
            assert_eq!(recount, self.sampler.pod_counts, "incremental pod counts");
        }
        let c = &self.sampler.pod_counts;
        let (running, ready, pending, unsched, term) = (
            c.running,
            c.ready,
            c.pending,
            c.unschedulable,
            c.terminating,
        );
        fixed[3] = self.pods.len() as f64;
        fixed[4] = running as f64;
        fixed[5] = ready as f64;
        fixed[6] = pending as f64;
        fixed[7] = unsched as f64;
        fixed[8] = term as f64;
        let (req, alloc) = self.nodes.values().fold(
            (kscale_model::Resources::ZERO, kscale_model::Resources::ZERO),
            |(a, b), n| (a + n.info.requested, b + n.info.allocatable),
        );
        fixed[9] = req.cpu_milli as f64 / 1000.0;
        fixed[10] = alloc.cpu_milli as f64 / 1000.0;
        fixed[11] = req.memory as f64 / (1u64 << 30) as f64;
        fixed[12] = alloc.memory as f64 / (1u64 << 30) as f64;
        fixed[13] = self.cost_so_far();
        fixed[14] = self.nodes.values().map(|n| n.hourly_price).sum();
        for (id, v) in fixed.into_iter().enumerate() {
            r.set(id, v);
        }
        if self.vpa.is_some() {
            self.fill_vpa_sample(r);
        }
        if self.store.list("NodePool", None).next().is_some() {
            r.put(
                "karpenter/disrupting_nodes",
                self.karpenter_disruption.disrupting.len() as f64,
            );
        }
        // Nodes by capacity type, instance type and node group (from the counts per kind).
        for ((capacity_type, instance_type, group), &n) in &self.sampler.node_kinds.counts {
            let values = [Some(capacity_type), Some(instance_type), group.as_ref()];
            for (k, value) in values.into_iter().enumerate() {
                let Some(value) = value else { continue };
                let id = match r.samples.node_cols[k].get(value.as_str()) {
                    Some(&id) => id,
                    None => {
                        let id = r.samples.intern(&format!("{}{value}", NODE_PREFIXES[k]));
                        r.samples.node_cols[k].insert(value.to_string(), id);
                        id
                    }
                };
                r.add(id, n as f64);
            }
        }
        // Per Deployment: desired, active and ready replicas.
        let mut n_deploy = 0;
        let members = self.store.membership_of("Deployment");
        let same_keys = r.samples.deploy_members == Some(members);
        for (i, (k, v, updated)) in self.store.list_updated("Deployment", None).enumerate() {
            n_deploy = i + 1;
            if !same_keys && r.samples.deploy.get(i).is_none_or(|d| d.key != *k) {
                let id = format!("deploy/{}/{}", k.namespace, k.name);
                let ids =
                    ["desired", "pods", "ready"].map(|c| r.samples.intern(&format!("{id}/{c}")));
                let replicasets = ObjKey::new("ReplicaSet", &k.namespace, &format!("{}-", k.name))
                    ..ObjKey::new("ReplicaSet", &k.namespace, &format!("{}.", k.name));
                r.samples.deploy.truncate(i);
                r.samples.deploy.push(DeployColumns {
                    key: k.clone(),
                    replicasets,
                    ids,
                    desired: None,
                });
                r.samples.deploy_generation += 1;
            }
            let d = &mut r.samples.deploy[i];
            let desired = match d.desired {
                Some((at, desired)) if at == updated => desired,
                _ => {
                    let desired = desired_replicas(v);
                    d.desired = Some((updated, desired));
                    desired
                }
            };
            let id = d.ids[0];
            r.set(id, desired);
        }
        if r.samples.deploy.len() > n_deploy {
            r.samples.deploy.truncate(n_deploy);
            r.samples.deploy_generation += 1;
        }
        r.samples.deploy_members = Some(members);
        let current = r.samples.rs_attribution.as_ref().is_some_and(|a| {
            a.rs_epoch == self.store.changes().at(Topic::ReplicaSetCaches)
                && a.deploy_generation == r.samples.deploy_generation
                && a.deployment_of.len() == self.rs_cache.len()
        });
        if !current {
            r.samples.rs_attribution = Some(self.rs_attribution(r.samples));
        }
        let mut counts = vec![(0usize, 0usize); n_deploy];
        let attribution = r.samples.rs_attribution.as_ref().expect("just made");
        for (c, of) in self.rs_cache.values().zip(&attribution.deployment_of) {
            let Some(i) = *of else { continue };
            let (a, ready) = match c.sample_counts.get() {
                Some(counts) => counts,
                None => {
                    let counts = self.count_rs_pods(c);
                    c.sample_counts.set(Some(counts));
                    counts
                }
            };
            let t = &mut counts[i as usize];
            t.0 += a;
            t.1 += ready;
        }
        for (i, (active, ready)) in counts.into_iter().enumerate() {
            let ids = r.samples.deploy[i].ids;
            r.set(ids[1], active as f64);
            r.set(ids[2], ready as f64);
        }
        // Per StatefulSet: desired replicas, and its status's replicas and ready replicas.
        for (k, v) in self.store.list("StatefulSet", None) {
            let id = format!("sts/{}/{}", k.namespace, k.name);
            let ids = ["desired", "pods", "ready"].map(|c| r.samples.intern(&format!("{id}/{c}")));
            let c = self.statefulset_status(k, v).counts;
            r.set(ids[0], desired_replicas(v));
            r.set(ids[1], c.replicas as f64);
            r.set(ids[2], c.ready as f64);
        }
        // Per HPA (at its last sync): replicas, desired, ready, and each metric vs its target.
        for (i, (k, h)) in self
            .hpa
            .entries()
            .iter()
            .filter_map(|(k, e)| e.series.as_ref().map(|s| (k, s)))
            .enumerate()
        {
            if r.samples.hpa.get(i).is_none_or(|(key, _)| key != k) {
                // Column ids are interned by name: starting afresh finds the same ids.
                r.samples.hpa.truncate(i);
                r.samples.hpa.push((k.clone(), HpaColumns::default()));
            }
            let mut cols = std::mem::take(&mut r.samples.hpa[i].1);
            let prefix = || format!("hpa/{}/{}", k.namespace, k.name);
            let base = match cols.base {
                Some(ids) => ids,
                None => {
                    let id = prefix();
                    let ids = ["replicas", "desired", "ready"]
                        .map(|c| r.samples.intern(&format!("{id}/{c}")));
                    cols.base = Some(ids);
                    ids
                }
            };
            r.set(base[0], h.current);
            r.set(base[1], h.desired);
            r.set(base[2], h.ready);
            cols.metrics.truncate(h.metrics.len());
            for (j, (label, current, target)) in h.metrics.iter().enumerate() {
                if cols
                    .metrics
                    .get(j)
                    .is_none_or(|m| !Arc::ptr_eq(&m.0, label) && m.0 != *label)
                {
                    let id = prefix();
                    let m = (
                        label.clone(),
                        r.samples.intern(&format!("{id}/{label}/current")),
                        r.samples.intern(&format!("{id}/{label}/target")),
                    );
                    if j < cols.metrics.len() {
                        cols.metrics[j] = m;
                    } else {
                        cols.metrics.push(m);
                    }
                }
                let (_, c, t) = cols.metrics[j];
                r.set(c, *current);
                r.set(t, *target);
            }
            r.samples.hpa[i].1 = cols;
        }
        for (i, l) in self.scenario.loads.iter().enumerate() {
            if r.samples.loads.len() <= i {
                let id = format!("load/{}/{}/{}", l.namespace, l.kind, l.name);
                let ids = LOAD_COLUMNS.map(|c| r.samples.intern(&format!("{id}/{c}")));
                let clients = l
                    .has_clients()
                    .then(|| CLIENT_COLUMNS.map(|c| r.samples.intern(&format!("{id}/{c}"))));
                let memory = l
                    .memory
                    .is_some()
                    .then(|| MEMORY_COLUMNS.map(|c| r.samples.intern(&format!("{id}/{c}"))));
                r.samples.loads.push((ids, clients, memory));
            }
            let (ids, clients, memory) = r.samples.loads[i];
            let s = self.load.state(i);
            for (id, v) in ids.into_iter().zip(load_values(s)) {
                r.set(id, v);
            }
            if let Some(ids) = clients {
                for (id, v) in ids.into_iter().zip(client_values(s)) {
                    r.set(id, v);
                }
            }
            if let Some(ids) = memory {
                let counters = self
                    .eviction
                    .counters()
                    .get(&format!("{}/{}/{}", l.namespace, l.kind, l.name))
                    .copied()
                    .unwrap_or_default();
                let values = memory_values(s, counters.oom_kills, counters.evictions);
                for (id, v) in ids.into_iter().zip(values) {
                    r.set(id, v);
                }
            }
        }
    }

    /// Which of the sampled Deployments each ReplicaSet's pods count for (the pods
    /// [`Sim::target_pods`] gives a Deployment: its ReplicaSets in the key range `<name>-` up
    /// to `<name>.` that it owns).
    fn rs_attribution(&self, samples: &Samples) -> RsAttribution {
        let by_name: BTreeMap<(&str, &str), usize> = samples
            .deploy
            .iter()
            .enumerate()
            .map(|(i, d)| ((d.key.namespace.as_str(), d.key.name.as_str()), i))
            .collect();
        let deployment_of = self
            .rs_cache
            .iter()
            .map(|(k, c)| {
                let o = c.owner.as_ref()?;
                let i = *by_name.get(&(o.namespace.as_str(), o.name.as_str()))?;
                samples.deploy[i]
                    .replicasets
                    .contains(k)
                    .then(|| u32::try_from(i).expect("fewer than 2^32 Deployments"))
            })
            .collect();
        RsAttribution {
            rs_epoch: self.store.changes().at(Topic::ReplicaSetCaches),
            deploy_generation: samples.deploy_generation,
            deployment_of,
        }
    }

    /// Active and ready pods of a ReplicaSet, counted.
    fn count_rs_pods(&self, c: &super::workloads::RsCache) -> (usize, usize) {
        let (mut active, mut ready) = (0, 0);
        for p in c.pods.iter().filter_map(|id| self.pods.get(id)) {
            active += usize::from(p.is_active());
            ready += usize::from(p.is_ready());
        }
        (active, ready)
    }

    /// Counts node `name` in (`added`) or out of the sampler's nodes per kind: called on every node
    /// addition and removal while the node is in `nodes`, and around any change of what
    /// [`NodeKind`] shows other than labels.
    pub(crate) fn node_kind_counted(&mut self, name: &str, added: bool) {
        let Some(n) = self.nodes.get(name) else {
            return;
        };
        let kind = node_kind(n);
        let counts = &mut self.sampler.node_kinds.counts;
        if added {
            *counts.entry(kind).or_default() += 1;
        } else if let Some(c) = counts.get_mut(&kind) {
            *c -= 1;
            if *c == 0 {
                counts.remove(&kind);
            }
        }
    }

    /// The nodes counted by kind from scratch.
    fn recount_node_kinds(&self) -> BTreeMap<NodeKind, u64> {
        let mut counts = BTreeMap::new();
        for n in self.nodes.values() {
            *counts.entry(node_kind(n)).or_default() += 1;
        }
        counts
    }

    /// Checks the sampler's caches against a recount: each ReplicaSet's counted pods, and the
    /// nodes by kind unless labels changed since they were counted.
    pub(crate) fn sample_check_invariants(&self) -> Result<(), String> {
        for (k, c) in &self.rs_cache {
            if let Some(counts) = c.sample_counts.get()
                && counts != self.count_rs_pods(c)
            {
                return Err(format!(
                    "ReplicaSet {}/{}: sampled (active, ready) {counts:?} != recount {:?}",
                    k.namespace,
                    k.name,
                    self.count_rs_pods(c)
                ));
            }
        }
        if let Some(a) = &self.sampler.samples.rs_attribution
            && a.rs_epoch == self.store.changes().at(Topic::ReplicaSetCaches)
            && a.deploy_generation == self.sampler.samples.deploy_generation
        {
            let fresh = self.rs_attribution(&self.sampler.samples);
            if fresh != *a {
                return Err(format!(
                    "sampler: ReplicaSets' Deployments {:?} != recount {:?} (a ReplicaSet cache stored or removed without recording Topic::ReplicaSetCaches)",
                    a.deployment_of, fresh.deployment_of
                ));
            }
        }
        if self.sampler.samples.deploy_members == Some(self.store.membership_of("Deployment")) {
            let stored: Vec<&ObjKey> = self
                .store
                .list("Deployment", None)
                .map(|(k, _)| k)
                .collect();
            let kept: Vec<&ObjKey> = self.sampler.samples.deploy.iter().map(|d| &d.key).collect();
            if stored != kept {
                return Err(format!(
                    "sampler: Deployments {kept:?} != stored {stored:?} (a Deployment created or deleted without Store::membership_of changing)"
                ));
            }
        }
        for d in &self.sampler.samples.deploy {
            if let Some((at, desired)) = d.desired
                && let Some((v, updated)) = self.store.get_updated(&d.key)
                && updated == at
                && desired.to_bits() != desired_replicas(v).to_bits()
            {
                return Err(format!(
                    "sampler: Deployment {}/{} desired {desired} != {} read again at the same update version (spec changed by a status write?)",
                    d.key.namespace,
                    d.key.name,
                    desired_replicas(v)
                ));
            }
        }
        if self.sampler.node_kinds.labels_epoch == self.store.changes().at(Topic::NodeMetadata) {
            let fresh = self.recount_node_kinds();
            if fresh != self.sampler.node_kinds.counts {
                return Err(format!(
                    "nodes by kind {:?} != recount {fresh:?} (a node added, removed or changed without node_kind_counted)",
                    self.sampler.node_kinds.counts
                ));
            }
        }
        Ok(())
    }

    /// Pods of a workload (`deployment`, `replicaset` or `statefulset` by name).
    pub fn target_pods(&self, ns: &str, kind: &str, name: &str) -> Vec<&super::model::Pod> {
        let mut out = Vec::new();
        for c in self.target_replicasets(ns, kind, name) {
            out.extend(c.pods.iter().filter_map(|id| self.pods.get(id)));
        }
        out
    }

    /// The ReplicaSets whose pods are a workload's (see [`Sim::target_pods`]), in order.
    pub fn target_replicasets(
        &self,
        ns: &str,
        kind: &str,
        name: &str,
    ) -> Vec<&super::workloads::RsCache> {
        match kind {
            "replicaset" => self
                .rs_cache
                .get(&super::store::ObjKey::new("ReplicaSet", ns, name))
                .into_iter()
                .collect(),
            // A Deployment's ReplicaSets are named `<deployment>-<hash>`: a range scan over
            // that prefix instead of a scan of every ReplicaSet.
            "deployment" => self
                .rs_cache
                .range(
                    super::store::ObjKey::new("ReplicaSet", ns, &format!("{name}-"))
                        ..super::store::ObjKey::new("ReplicaSet", ns, &format!("{name}.")),
                )
                .map(|(_, c)| c)
                .filter(|c| {
                    c.owner
                        .as_ref()
                        .is_some_and(|o| o.namespace == ns && o.name == name)
                })
                .collect(),
            "statefulset" => self
                .statefulsets
                .cache(&super::store::ObjKey::new("StatefulSet", ns, name))
                .into_iter()
                .collect(),
            _ => vec![],
        }
    }

    /// The time series with the union of all sampled columns.
    pub fn timeseries(&self) -> TimeSeries {
        let order = self.sampler.samples.order();
        TimeSeries {
            columns: self.sampler.samples.columns(&order),
            rows: self
                .sampler
                .samples
                .rows
                .iter()
                .map(|r| Samples::ordered_row(r, &order))
                .collect(),
            x_label: None,
        }
    }

    /// The run's summary (summary.json).
    pub fn summary(&self, wall_ms: Option<u128>) -> Value {
        self.summary_with(wall_ms, &SummaryMaxima::of(&self.sampler.samples))
    }

    /// [`Sim::summary`] with the time series' maxima given (the samples may be gone).
    fn summary_with(&self, wall_ms: Option<u128>, maxima: &SummaryMaxima) -> Value {
        let max_of = |name: &str| {
            maxima
                .0
                .iter()
                .find(|(c, _)| *c == name)
                .map_or(0.0, |(_, m)| *m)
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
        let transcript = self.recorder.transcript();
        let steps_failed = transcript.iter().filter(|t| t.exit_code != 0).count();
        let reasons = self.recorder.events_by_reason();
        let events_total = self.recorder.events_total();
        let loads: Vec<Value> = self
            .scenario
            .loads
            .iter()
            .zip(self.load.states())
            .map(|(l, s)| load_summary(l, s))
            .collect();
        let mut v = json!({
            "scenario": self.scenario.name(),
            "seed": self.scenario.seed(),
            "durationSeconds": self.end.as_secs_f64(),
            "nodes": {"final": self.nodes.len(), "max": max_of("nodes"), "created": self.recorder.counter("nodesCreated")},
            "pods": {"final": pods_final, "maxPending": max_of("pods_pending"), "created": self.recorder.counter("podsCreated"), "scheduled": self.recorder.counter("podsScheduled"), "preempted": self.recorder.counter("preemptions")},
            "costUsd": round3(self.cost_so_far()),
            "steps": {"total": transcript.len(), "failed": steps_failed},
            "events": {"total": events_total, "byReason": reasons},
            "loads": loads,
            "podStartup": self.startup_summary(),
            "apiWrites": self.api_writes_summary(),
            "workloads": self.workload_summary(),
            "counters": self.recorder.counters(),
            "warnings": self.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
        });
        if !self.elastic.pods.is_empty() {
            v["elastic"] = self.elastic_summary();
        }
        if !self.recorder.unschedulable_to_running_ms().is_empty() {
            let mut t: Vec<f64> = self
                .recorder
                .unschedulable_to_running_ms()
                .iter()
                .map(|ms| *ms as f64 / 1000.0)
                .collect();
            t.sort_by(f64::total_cmp);
            let p = |q| kscale_model::stats::percentile(&t, q);
            v["unschedulableToRunning"] = json!({"count": t.len(), "p50Seconds": p(50.0), "p99Seconds": p(99.0), "maxSeconds": t.last().copied().unwrap_or(0.0)});
        }
        if let Some(c) = self.ca_summary() {
            v["clusterAutoscaler"] = c;
        }
        if let Some(k) = self.karpenter_summary() {
            v["karpenter"] = k;
        }
        if let Some(k) = self.vpa_summary() {
            v["vpa"] = k;
        }
        if !self.scenario.slos.is_empty() {
            v["slos"] = json!(self.slo_results());
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
            let n = self.recorder.counter(c);
            total += n;
            m.insert(k.into(), json!(n));
        }
        m.insert("total".into(), json!(total));
        Value::Object(m)
    }

    /// OOM kills and evictions per workload (`namespace/kind/name`): every load target and
    /// every workload that had one.
    pub fn workload_summary(&self) -> Value {
        let mut m = self.eviction.counters().clone();
        for l in &self.scenario.loads {
            m.entry(format!("{}/{}/{}", l.namespace, l.kind, l.name))
                .or_default();
        }
        json!(m)
    }

    /// Pod start-up latency (creation → running, which includes waiting for a node) per
    /// workload: count, p50, p99 and max in seconds.
    pub fn startup_summary(&self) -> Value {
        let mut out = serde_json::Map::new();
        for (w, starts) in self.recorder.startups() {
            let mut v: Vec<f64> = starts.map(|s| s.1 as f64 / 1000.0).collect();
            v.sort_by(f64::total_cmp);
            let p = |q| kscale_model::stats::percentile(&v, q);
            out.insert(w.to_string(), json!({"count": v.len(), "p50Seconds": p(50.0), "p99Seconds": p(99.0), "maxSeconds": v.last().copied().unwrap_or(0.0)}));
        }
        Value::Object(out)
    }

    /// Everything the run produced (a copy; see [`Sim::into_output`]).
    pub fn output(&self) -> RunOutput {
        let ts = self.timeseries();
        RunOutput {
            name: self.scenario.name().to_string(),
            summary: self.summary(None),
            events: self.recorder.events().to_vec(),
            transcript: self.recorder.transcript().to_vec(),
            charts: self.charts(&ts.columns),
            timeseries: ts,
        }
    }

    /// Everything the run produced, moved out of the finished run: the same as
    /// [`Sim::output`] without a second copy of the events, transcript and samples, and with
    /// the rest of the cluster state freed on a second thread (not waited for).
    pub fn into_output(mut self) -> RunOutput {
        let name = self.scenario.name().to_string();
        let columns = self.sampler.samples.columns(&self.sampler.samples.order());
        let charts = self.charts(&columns);
        drop(columns);
        let samples = std::mem::take(&mut self.sampler.samples);
        let maxima = SummaryMaxima::of(&samples);
        // A second thread orders the time series (freeing each sampled row as it is copied)
        // while this one writes the summary, then frees the cluster state.
        let (summary, events, transcript, timeseries) = std::thread::scope(|s| {
            let ordering = s.spawn(move || samples.into_timeseries());
            let summary = self.summary_with(None, &maxima);
            let (events, transcript) = self.recorder.take_events_and_transcript();
            drop(self);
            let timeseries = ordering
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (summary, events, transcript, timeseries)
        });
        RunOutput {
            name,
            summary,
            events,
            transcript,
            timeseries,
            charts,
        }
    }

    /// The charts of `report.html` for a time series with these columns: the cluster's, every
    /// Deployment and load on one chart each (the report shows the busiest and embeds at most
    /// [`kscale_report::MAX_CHART_OBJECTS`]), and charts of the [`MAX_WORKLOAD_CHARTS`]
    /// busiest HPAs (the others are in `timeseries.csv` only). Called while `self.samples`
    /// holds the run's samples.
    fn charts(&self, columns: &[String]) -> Vec<ChartSpec> {
        let mut charts = vec![
            ChartSpec {
                guides: vec![],
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
                guides: vec![],
                title: "Nodes".into(),
                y_label: "nodes".into(),
                series: vec!["nodes".into(), "nodes_ready".into()],
            },
            ChartSpec {
                guides: vec![],
                title: "Pending pods".into(),
                y_label: "pods".into(),
                series: vec!["pods_pending".into(), "pods_unschedulable".into()],
            },
            ChartSpec {
                guides: vec![],
                title: "CPU".into(),
                y_label: "cores".into(),
                series: vec!["cpu_requested_cores".into(), "cpu_allocatable_cores".into()],
            },
            ChartSpec {
                guides: vec![],
                title: "Cost".into(),
                y_label: "USD".into(),
                series: vec!["cost_usd".into()],
            },
            ChartSpec {
                guides: vec![],
                title: "Cost rate".into(),
                y_label: "USD per hour".into(),
                series: vec!["cost_rate_usd_per_hour".into()],
            },
        ];
        let deploy = Workloads::of(columns.iter().filter(|c| c.starts_with("deploy/")));
        if !deploy.series.is_empty() {
            charts.insert(
                1,
                ChartSpec {
                    guides: vec![],
                    title: deploy.title("Deployments: desired, pods, ready", "Deployments"),
                    y_label: "replicas".into(),
                    series: deploy.series,
                },
            );
        }
        let by_capacity: Vec<String> = columns
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
                    guides: vec![],
                    title: "Nodes by capacity type, instance type and node group".into(),
                    y_label: "nodes".into(),
                    series: by_capacity,
                },
            );
        }
        // Per VPA container: the recommendation (target and bounds) against what the pods
        // request and use.
        let mut vpa_containers: Vec<&str> = columns
            .iter()
            .filter(|c| c.starts_with("vpa/") && c.ends_with("/target_cpu_cores"))
            .map(|c| c.trim_end_matches("/target_cpu_cores"))
            .collect();
        vpa_containers.dedup();
        for id in vpa_containers {
            let name = id.trim_start_matches("vpa/");
            for (resource, unit) in [("cpu", "cores"), ("memory", "mib")] {
                charts.push(ChartSpec {
                    guides: vec![],
                    title: format!("VPA {name}: {resource} recommendation, requests and usage"),
                    y_label: if unit == "cores" {
                        "cores".into()
                    } else {
                        "MiB".into()
                    },
                    series: ["target", "lower", "upper", "request", "usage"]
                        .iter()
                        .map(|s| format!("{id}/{s}_{resource}_{unit}"))
                        .collect(),
                });
            }
        }
        if columns.iter().any(|c| c == "karpenter/disrupting_nodes") {
            charts.push(ChartSpec {
                guides: vec![],
                title: "Karpenter: nodes being disrupted".into(),
                y_label: "nodes".into(),
                series: vec!["karpenter/disrupting_nodes".into()],
            });
        }
        let load = Workloads::of(
            columns
                .iter()
                .filter(|c| c.starts_with("load/") && c.ends_with("_rps")),
        );
        if !load.series.is_empty() {
            charts.push(ChartSpec {
                guides: vec![],
                title: load.title("Load: offered, served and failed", "loads"),
                y_label: "requests/s".into(),
                series: load.series,
            });
        }
        let latency = Workloads::of(
            columns
                .iter()
                .filter(|c| c.starts_with("load/") && c.contains("/latency_")),
        );
        if !latency.series.is_empty() {
            // Each load's SLO p99 (when it has one) as a line; equal thresholds drawn once.
            let mut guides: Vec<kscale_report::Guide> = Vec::new();
            for l in &self.scenario.loads {
                let Some((Some(p99), _)) = l.slo else {
                    continue;
                };
                let target = format!("{}/{}/{}", l.namespace, l.kind, l.name);
                match guides.iter_mut().find(|g| g.value == p99 as f64) {
                    Some(g) => {
                        if g.label.matches(',').count() < 2 {
                            g.label = format!("{}, {target}", g.label);
                        } else if !g.label.ends_with('…') {
                            g.label.push_str(", …");
                        }
                    }
                    None => guides.push(kscale_report::Guide {
                        label: format!("SLO p99 {p99} ms: {target}"),
                        value: p99 as f64,
                    }),
                }
            }
            charts.push(ChartSpec {
                guides,
                title: latency.title("Latency", "loads"),
                y_label: "ms".into(),
                series: latency.series,
            });
        }
        // Per load with a memory model: its pods' memory, OOM kills (restarts) and evictions.
        for (suffix, title, unit) in [
            ("/memory_mib", "Memory used by ready pods", "MiB"),
            (
                "/oom_kills",
                "OOM kills (each a container restart)",
                "OOM kills",
            ),
            ("/evictions", "Pods evicted (node memory pressure)", "pods"),
        ] {
            let of = Workloads::of(
                columns
                    .iter()
                    .filter(|c| c.starts_with("load/") && c.ends_with(suffix)),
            );
            if !of.series.is_empty() {
                charts.push(ChartSpec {
                    guides: vec![],
                    title: of.title(title, "loads"),
                    y_label: unit.into(),
                    series: of.series,
                });
            }
        }
        let mut charted: Vec<_> = self
            .hpa
            .entries()
            .iter()
            .filter(|(_, e)| e.series.is_some())
            .map(|(k, _)| k)
            .collect();
        let of = if charted.len() > MAX_WORKLOAD_CHARTS {
            // The busiest first (largest desired replicas plus the sum of the changes of its
            // replicas and desired replicas), equal ones in name order.
            let busy: HashMap<&ObjKey, f64> = self
                .sampler
                .samples
                .hpa
                .iter()
                .filter_map(|(k, cols)| Some((k, cols.base?)))
                .map(|(k, [replicas, desired, _])| {
                    let stats = &self.sampler.samples.stats;
                    let moved = |id: usize| stats.get(id).map_or(0.0, |c| c.moved);
                    let peak = stats.get(desired).map_or(0.0, |c| c.peak_abs);
                    let moved = moved(replicas) + moved(desired);
                    (k, peak + moved)
                })
                .collect();
            let score = |k: &ObjKey| busy.get(k).copied().unwrap_or(0.0);
            charted.sort_by(|a, b| score(b).total_cmp(&score(a)));
            format!(
                " (charts for the {MAX_WORKLOAD_CHARTS} busiest of {} HPAs; all in timeseries.csv)",
                charted.len()
            )
        } else {
            String::new()
        };
        for k in charted.into_iter().take(MAX_WORKLOAD_CHARTS) {
            let id = format!("hpa/{}/{}/", k.namespace, k.name);
            let cols = |f: &dyn Fn(&str) -> bool| -> Vec<String> {
                columns
                    .iter()
                    .filter(|c| c.strip_prefix(&id).is_some_and(f))
                    .cloned()
                    .collect()
            };
            charts.push(ChartSpec {
                guides: vec![],
                title: format!(
                    "HPA {}/{}: replicas, desired, ready{of}",
                    k.namespace, k.name
                ),
                y_label: "replicas".into(),
                series: cols(&|c| !c.contains('/')),
            });
            // One chart per metric, current against target, in the metric's unit.
            let mut labels: Vec<String> = cols(&|c| c.contains('/'))
                .iter()
                .filter_map(|c| {
                    c.strip_prefix(&id)?
                        .rsplit_once('/')
                        .map(|(l, _)| l.to_owned())
                })
                .collect();
            labels.dedup();
            for label in labels {
                charts.push(ChartSpec {
                    guides: vec![],
                    title: format!("HPA {}/{}: {label} vs target{of}", k.namespace, k.name),
                    y_label: hpa_metric_unit(&label),
                    series: cols(&|c| {
                        c.strip_prefix(label.as_str())
                            .is_some_and(|r| r.starts_with('/'))
                    }),
                });
            }
        }
        charts
    }
}

/// The unit of an HPA metric's column label ([`super::hpa`]'s display units): percent for
/// utilization, cores and bytes for average CPU and memory, else the metric's own unit, named
/// by the metric.
fn hpa_metric_unit(label: &str) -> String {
    if label.ends_with("_utilization") {
        "%".into()
    } else if label == "cpu_average" || label.ends_with("_cpu_average") {
        "cores".into()
    } else if label == "memory_average" || label.ends_with("_memory_average") {
        "bytes".into()
    } else {
        label.to_owned()
    }
}

/// The columns of every workload among some per-workload columns, in name order (a column's
/// workload is its name up to the last `/`), for one chart of them all: the report embeds the
/// busiest [`kscale_report::MAX_CHART_OBJECTS`] and shows the busiest few, with the others to
/// pick.
struct Workloads {
    /// The columns, in order.
    series: Vec<String>,
    /// Workloads among the columns.
    total: usize,
}

impl Workloads {
    fn of<'a>(columns: impl Iterator<Item = &'a String>) -> Self {
        let workload = |c: &'a str| c.rsplit_once('/').map_or(c, |(w, _)| w);
        let (mut series, mut total, mut last) = (Vec::new(), 0, None);
        for c in columns {
            let w = workload(c);
            if last != Some(w) {
                last = Some(w);
                total += 1;
            }
            series.push(c.clone());
        }
        Workloads { series, total }
    }

    /// `title`, with the number of workloads when there are more than the report shows at
    /// first.
    fn title(&self, title: &str, kind: &str) -> String {
        if self.total > kscale_report::SHOWN_OBJECTS {
            format!("{title} ({} {kind})", self.total)
        } else {
            title.to_owned()
        }
    }
}

/// The maxima of the time series that `summary.json` shows (fixed column name, maximum).
struct SummaryMaxima([(&'static str, f64); 2]);

impl SummaryMaxima {
    fn of(samples: &Samples) -> Self {
        SummaryMaxima(["nodes", "pods_pending"].map(|name| {
            let max = FIXED_COLUMNS
                .iter()
                .position(|c| *c == name)
                .map_or(0.0, |i| samples.max_of(i));
            (name, max)
        }))
    }
}

/// Events by reason. Events of one reason come in runs and there are a few dozen reasons: a
/// short list searched from the last hit, not a map lookup per event.
pub(crate) fn count_reasons(events: &[kscale_report::EventRecord]) -> BTreeMap<&str, u64> {
    let mut seen: Vec<(&str, u64)> = Vec::new();
    let mut last = 0;
    for e in events {
        let reason = e.reason.as_str();
        if seen.get(last).is_some_and(|(r, _)| *r == reason) {
            seen[last].1 += 1;
            continue;
        }
        match seen.iter().position(|(r, _)| *r == reason) {
            Some(i) => {
                seen[i].1 += 1;
                last = i;
            }
            None => {
                last = seen.len();
                seen.push((reason, 1));
            }
        }
    }
    seen.into_iter().collect()
}

/// A Deployment's `spec.replicas` (1 when unset), read without parsing a JSON pointer.
fn desired_replicas(v: &Value) -> f64 {
    v.get("spec")
        .and_then(|s| s.get("replicas"))
        .and_then(Value::as_f64)
        .unwrap_or(1.0)
}

/// A load entry's outcome as `summary.json`'s `loads` lists it (both backends).
pub fn load_summary(l: &crate::scenario::Load, s: &crate::load::LoadState) -> Value {
    let mut v = json!({
        "target": format!("{}/{}/{}", l.namespace, l.kind, l.name),
        "offeredRequests": round3(s.offered), "servedRequests": round3(s.served), "droppedRequests": round3(s.dropped),
        "rejectedRequests": round3(s.rejected), "queuedAtEnd": round3(s.backlog), "sloViolationSeconds": s.slo_violation_s,
    });
    if l.has_clients() {
        // The client model's counts (only for entries with a timeout or retries, so the
        // summaries of others are unchanged): attempts and their outcomes above count
        // tries, `failedRequests` user requests whose last try failed.
        let extra = json!({
            "timedOutRequests": round3(s.timed_out), "attempts": round3(s.attempts),
            "retries": round3(s.attempts - s.offered), "failedRequests": round3(s.failed),
            "retryingAtEnd": round3(s.clients.retrying()),
        });
        if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
            m.extend(e);
        }
    }
    v
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A pod's class for the sampler's counts: bits [`TERMINATING`], [`RUNNING`], [`PENDING`],
/// [`UNSCHEDULABLE`] and [`READY`] (0: counted nowhere).
pub fn pod_class(p: &Pod) -> u8 {
    let mut c = 0;
    if p.deleting_at.is_some() {
        c |= TERMINATING;
    } else if p.phase == PodPhase::Running {
        c |= RUNNING;
    } else if matches!(p.phase, PodPhase::Pending | PodPhase::ContainerCreating) {
        c |= PENDING;
        if p.unschedulable.is_some() && p.node.is_none() {
            c |= UNSCHEDULABLE;
        }
    }
    if p.is_ready() {
        c |= READY;
    }
    c
}

/// [`pod_class`] bit: terminating.
pub const TERMINATING: u8 = 1;
/// [`pod_class`] bit: phase Running (not terminating).
pub const RUNNING: u8 = 2;
/// [`pod_class`] bit: Pending or ContainerCreating (not terminating).
pub const PENDING: u8 = 4;
/// [`pod_class`] bit: pending, unbound and unschedulable.
pub const UNSCHEDULABLE: u8 = 8;
/// [`pod_class`] bit: Ready.
pub const READY: u8 = 16;

/// The pods per class, kept up to date from the pod table's sampler journal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PodCounts {
    /// Phase Running, not terminating.
    pub running: i64,
    /// Ready.
    pub ready: i64,
    /// Pending or ContainerCreating, not terminating.
    pub pending: i64,
    /// Of them, unbound and unschedulable.
    pub unschedulable: i64,
    /// Terminating.
    pub terminating: i64,
}

impl PodCounts {
    /// Adds `n` pods of `class`.
    pub fn add(&mut self, class: u8, n: i64) {
        let has = |bit: u8| if class & bit != 0 { n } else { 0 };
        self.terminating += has(TERMINATING);
        self.running += has(RUNNING);
        self.pending += has(PENDING);
        self.unschedulable += has(UNSCHEDULABLE);
        self.ready += has(READY);
    }
}
