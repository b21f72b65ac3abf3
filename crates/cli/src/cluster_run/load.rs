//! The load model and metrics pipeline of a `--cluster` run: every second each scenario load
//! entry offers its rate to the Ready pods of its workload (the twin's fluid model,
//! `kscale_twin::load::tick_with_timeout`, with the same capacities: the CPU limit, else the
//! pod's share of its node by requests, and the same client model: `timeout` and `retries`),
//! accounted as the twin accounts its ticks (`LoadState::account`: offered, served, dropped,
//! rejected, timed out, retried, SLO violation time; `summary.json`'s `loads`), and every 15 s
//! the per-pod CPU averaged over the window is published on kscale's `metrics.k8s.io` server,
//! as metrics-server scrapes (`--metric-resolution=15s`).
//!
//! The same ticks feed the custom and external metrics pipeline (`custom_metrics.rs`) once an
//! HPA reads such metrics.
//!
//! Arrivals of a `poisson: true` entry are Poisson-distributed around the rate, drawn from the
//! run's `load` stream as the twin draws them (`Stream::new(seed, "load")`, one draw per entry
//! and tick). Memory is the load's memory model (base + per request in flight, requests in
//! flight as the twin counts them: served rate × p50 latency + the backlog's share) or 0, as
//! in the twin. The application start-up time (`startupTime`) is the kubelets' (a pod turns
//! Ready that much later: `Kubelets::set_startup_delays`).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kscale_cluster::{ApiError, Cluster, pod_ready};
use kscale_components::proportional::selector_string;
use kscale_kube::KubeCluster;
use kscale_kube::kubelet::running_resources;
use kscale_kube::metrics_server::{ContainerUsage, MetricsServer, NodeUsage, PodUsage, Snapshot};
use kscale_twin::load::{LoadState, TickInput};
use kscale_twin::rngs::Stream;
use kscale_twin::scenario::{Load, MetricsConfig};

use super::custom_metrics::{self, LivePipeline, Member};

/// Metrics resolution: 15 s (metrics-server `--metric-resolution` default).
pub const RESOLUTION_MS: u64 = 15_000;
/// Load tick: 1 s (the twin's `load::TICK_MS`).
pub const TICK_MS: u64 = kscale_twin::load::TICK_MS;

/// How long before each 15 s mark the pod metrics of that mark are published.
pub const PUBLISH_LEAD_MS: u64 = 500;

/// Milli-CPU of a quantity; 0 when unreadable.
fn cpu_milli(q: &Quantity) -> f64 {
    kscale_model::Quantity::parse(&q.0)
        .map(|x| x.milli() as f64)
        .unwrap_or(0.0)
}

/// The sum of a pod's containers' memory limits in bytes (as they run: a resize counts once
/// applied, [`running_resources`]); `None` when a container has none
/// (the twin's `PodTemplate::limit_total`: no limit, no OOM kill).
fn pod_memory_limit(pod: &Pod) -> Option<f64> {
    let mut total = 0.0;
    let mut any = false;
    for c in pod.spec.iter().flat_map(|s| s.containers.iter()) {
        let q = running_resources(pod, c)?.limits.as_ref()?.get("memory")?;
        let bytes = kscale_model::Quantity::parse(&q.0).ok()?.value() as f64;
        if bytes <= 0.0 {
            return None;
        }
        total += bytes;
        any = true;
    }
    any.then_some(total)
}

/// The sum of one resource list of a pod's containers' cpu (as they run,
/// [`running_resources`]); `None` when a container has none.
fn pod_cpu(
    pod: &Pod,
    field: fn(
        &k8s_openapi::api::core::v1::ResourceRequirements,
    ) -> Option<&BTreeMap<String, Quantity>>,
) -> Option<f64> {
    let mut total = 0.0;
    for c in pod.spec.iter().flat_map(|s| s.containers.iter()) {
        let q = running_resources(pod, c)
            .and_then(field)
            .and_then(|m| m.get("cpu"))?;
        total += cpu_milli(q);
    }
    Some(total)
}

/// A workload's selector and labels.
type Workload = (LabelSelector, BTreeMap<String, String>);

/// The live load model and its metrics servers.
pub struct LiveLoad {
    loads: Vec<Load>,
    /// Each entry's totals and client model, accounted as the twin accounts its ticks.
    states: Vec<LoadState>,
    /// Each entry's target's OOM kills and evictions so far.
    kills: Vec<(u64, u64)>,
    /// The resource metrics server (`None`: the cluster serves metrics.k8s.io itself).
    server: Option<MetricsServer>,
    /// The custom and external metrics pipeline.
    custom: LivePipeline,
    /// CPU milli-core-milliseconds per pod (namespace, name) since the last publish.
    acc: BTreeMap<(String, String), f64>,
    /// Requests in flight per pod at the last tick (for the memory model), and its entry.
    in_flight: BTreeMap<(String, String), (usize, f64)>,
    last_tick: Option<u64>,
    /// Run time of the next publish (a 15 s grid from the start).
    next_publish: u64,
    /// Milliseconds of load ticks accumulated since the last publish (the window).
    window_ms: f64,
    /// Pods (namespace, name) whose memory went over their limit since the last
    /// [`LiveLoad::take_over_limit`].
    over_limit: Vec<(String, String)>,
    /// Poisson noise on arrivals (`poisson: true` entries): the run's `load` stream.
    noise: Stream,
}

impl LiveLoad {
    /// Starts the resource metrics server and registers it with the cluster, and, when
    /// `custom` (the manifests hold an HPA reading custom or external metrics), the custom and
    /// external metrics server; waits until the aggregator reaches what it registered. Returns
    /// the warnings: a group the cluster serves already (left to it), an APIService not
    /// available in time.
    pub fn start(
        kc: &mut KubeCluster,
        loads: Vec<Load>,
        metrics: MetricsConfig,
        custom: bool,
        seed: u64,
    ) -> Result<(LiveLoad, Vec<String>), ApiError> {
        let mut warnings = Vec::new();
        let mut registered = Vec::new();
        let server = MetricsServer::start()?;
        let server = match server.register(kc) {
            Ok(()) => {
                registered.push(kscale_kube::aggregated::api_service_name(
                    kscale_kube::metrics_server::GROUP,
                    kscale_kube::metrics_server::VERSION,
                ));
                Some(server)
            }
            Err(ApiError::AlreadyExists(e)) => {
                warnings.push(format!(
                    "the cluster serves metrics.k8s.io already ({e}): its HPAs do not see kscale's load model"
                ));
                None
            }
            Err(e) => return Err(e),
        };
        let n = loads.len();
        let mut pipeline = LivePipeline::new(n, metrics);
        if custom {
            let (w, r) = pipeline.register(kc)?;
            warnings.extend(w);
            registered.extend(r);
        }
        if !registered.is_empty() {
            warnings.extend(kscale_kube::aggregated::wait_available(
                kc,
                &registered,
                custom_metrics::AVAILABLE_TIMEOUT,
            )?);
        }
        Ok((
            LiveLoad {
                loads,
                states: vec![LoadState::default(); n],
                kills: vec![(0, 0); n],
                server,
                custom: pipeline,
                acc: BTreeMap::new(),
                in_flight: BTreeMap::new(),
                last_tick: None,
                next_publish: 0,
                window_ms: 0.0,
                over_limit: Vec::new(),
                noise: Stream::new(seed, "load"),
            },
            warnings,
        ))
    }

    /// Starts the custom and external metrics pipeline at run time `t_ms` when an HPA reading
    /// such metrics exists (checked after the manifests and after kubectl steps); returns the
    /// warnings of its registration.
    pub fn notice_hpas(
        &mut self,
        kc: &mut KubeCluster,
        t_ms: u64,
    ) -> Result<Vec<String>, ApiError> {
        self.custom.notice(kc, t_ms)
    }

    /// The selector and labels of a load entry's workload (`None`: no such workload).
    fn workload(kc: &mut KubeCluster, l: &Load) -> Result<Option<Workload>, ApiError> {
        fn with_labels<S>(
            meta: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
            spec: Option<S>,
            selector: fn(S) -> LabelSelector,
        ) -> Option<Workload> {
            spec.map(|s| (selector(s), meta.labels.unwrap_or_default()))
        }
        Ok(match l.kind.as_str() {
            "deployment" => kc
                .get::<Deployment>(&l.namespace, &l.name)?
                .and_then(|d| with_labels(d.metadata, d.spec, |s| s.selector)),
            "replicaset" => kc
                .get::<ReplicaSet>(&l.namespace, &l.name)?
                .and_then(|d| with_labels(d.metadata, d.spec, |s| s.selector)),
            "statefulset" => kc
                .get::<StatefulSet>(&l.namespace, &l.name)?
                .and_then(|d| with_labels(d.metadata, d.spec, |s| s.selector)),
            _ => None,
        })
    }

    /// Runs the load ticks due by `t_ms` (run time) and publishes metrics when a window ends.
    pub fn advance(
        &mut self,
        kc: &mut KubeCluster,
        t_ms: u64,
        nodes: &[String],
    ) -> Result<(), ApiError> {
        // The first call starts the clock (a tick of length 0); then one tick per second.
        let last = self.last_tick.unwrap_or(t_ms);
        // Ticks on a one-second grid (not a second after the last, late, tick), offset like
        // the publishes (see below).
        let slot = |t: u64| (t + PUBLISH_LEAD_MS) / TICK_MS;
        if self.last_tick.is_some() && slot(t_ms) == slot(last) {
            return Ok(());
        }
        let dt_s = (t_ms - last) as f64 / 1000.0;
        self.last_tick = Some(t_ms);
        self.window_ms += dt_s * 1000.0;
        let pods: Vec<Pod> = kc
            .list::<Pod>(None, "")?
            .into_iter()
            .filter(|p| {
                p.spec
                    .as_ref()
                    .and_then(|s| s.node_name.as_ref())
                    .is_some_and(|n| nodes.contains(n))
            })
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        let node_objs = kc.list::<Node>(None, "")?;
        let alloc: BTreeMap<String, f64> = node_objs
            .iter()
            .map(|n| {
                let cpu = n
                    .status
                    .as_ref()
                    .and_then(|s| s.allocatable.as_ref())
                    .and_then(|a| a.get("cpu"))
                    .map(cpu_milli)
                    .unwrap_or(0.0);
                (n.metadata.name.clone().unwrap_or_default(), cpu)
            })
            .collect();
        let mut requested: BTreeMap<String, f64> = BTreeMap::new();
        for p in &pods {
            let node = p
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .unwrap_or_default();
            *requested.entry(node).or_default() +=
                pod_cpu(p, |r| r.requests.as_ref()).unwrap_or(0.0);
        }
        for i in 0..self.loads.len() {
            let l = self.loads[i].clone();
            // A missing workload has no pods: its load is dropped, as in the twin.
            let (sel, workload_labels) = match Self::workload(kc, &l)? {
                Some((sel, labels)) => (
                    Some(
                        kscale_model::LabelSelector::parse(&selector_string(&sel))
                            .map_err(ApiError::Invalid)?,
                    ),
                    labels,
                ),
                None => (None, BTreeMap::new()),
            };
            // The workload's pods whose containers started (Running), then the Ready ones.
            let members: Vec<&Pod> = pods
                .iter()
                .filter(|p| p.metadata.namespace.as_deref() == Some(l.namespace.as_str()))
                .filter(|p| {
                    sel.as_ref()
                        .is_some_and(|s| s.matches(&p.metadata.labels.clone().unwrap_or_default()))
                })
                .filter(|p| {
                    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                        || pod_ready(p)
                })
                .collect();
            let ready: Vec<&Pod> = members.iter().copied().filter(|p| pod_ready(p)).collect();
            let caps: Vec<f64> = ready
                .iter()
                .map(|p| {
                    let cpu = pod_cpu(p, |r| r.limits.as_ref()).unwrap_or_else(|| {
                        let node = p
                            .spec
                            .as_ref()
                            .and_then(|s| s.node_name.clone())
                            .unwrap_or_default();
                        let req = pod_cpu(p, |r| r.requests.as_ref()).unwrap_or(0.0);
                        let total = requested.get(&node).copied().unwrap_or(0.0);
                        let a = alloc.get(&node).copied().unwrap_or(0.0);
                        if total > 0.0 { a * req / total } else { a }
                    });
                    if l.cpu_milli_per_request > 0.0 {
                        cpu / l.cpu_milli_per_request
                    } else {
                        f64::INFINITY
                    }
                })
                .collect();
            let mut rate = l.rate.at(t_ms);
            if l.poisson && dt_s > 0.0 {
                rate = self.noise.poisson(rate * dt_s) / dt_s;
            }
            // With a client model (`timeout`, `retries`), the retries due now arrive too.
            let state = &mut self.states[i];
            let arrivals = l
                .has_clients()
                .then(|| state.clients.arrivals(t_ms, rate * dt_s, l.retries));
            // (The first tick is of no length: nothing arrives, the rate is the user's.)
            let offered_rate = match &arrivals {
                Some(a) if dt_s > 0.0 => a.iter().sum::<f64>() / dt_s,
                _ => rate,
            };
            let backlog = state.backlog;
            let tick = kscale_twin::load::tick_with_timeout(
                offered_rate,
                dt_s,
                backlog,
                &caps,
                l.rate_limit,
                l.queue_limit,
                l.cpu_milli_per_request / 1000.0,
                l.timeout_ms.map(|t| t as f64 / 1000.0),
            );
            if dt_s > 0.0 {
                state.account(
                    &l,
                    TickInput {
                        now_ms: t_ms,
                        rate,
                        offered_rate,
                        dt_s,
                        backlog_before: backlog,
                        arrivals: arrivals.as_deref(),
                    },
                    &tick,
                );
            }
            // Requests in flight per ready pod, as the twin counts them (traffic.rs): its
            // served rate × the p50 latency, plus its share of the backlog.
            let waiting = tick.backlog / ready.len().max(1) as f64;
            let names: Vec<String> = ready
                .iter()
                .map(|p| p.metadata.name.clone().unwrap_or_default())
                .collect();
            let (mut cpu_total, mut memory_total) = (0.0, 0.0);
            for ((name, rps), pod) in names.iter().zip(&tick.per_pod_rps).zip(&ready) {
                let key = (l.namespace.clone(), name.clone());
                let cpu = l.idle_cpu_milli + rps * l.cpu_milli_per_request;
                cpu_total += cpu;
                *self.acc.entry(key.clone()).or_default() += cpu * dt_s * 1000.0;
                let inflight = rps * tick.latency_ms[0] / 1000.0 + waiting;
                // The kernel OOM-kills a container whose pod's memory is over its limit (the
                // twin's `traffic.rs`: the memory model against the containers' limits).
                if let Some((base, per)) = l.memory {
                    let memory = base + per * inflight;
                    memory_total += memory;
                    if pod_memory_limit(pod).is_some_and(|limit| memory > limit) {
                        self.over_limit.push(key.clone());
                    }
                }
                self.in_flight.insert(key, (i, inflight));
            }
            // What the sampler reads of the tick (the twin's load columns).
            let state = &mut self.states[i];
            state.last_cpu_milli = cpu_total;
            state.last_ready = ready.len();
            state.last_memory_bytes = memory_total;
            if self.custom.started() {
                let members = members
                    .iter()
                    .map(|p| Member {
                        name: p.metadata.name.clone().unwrap_or_default(),
                        labels: p.metadata.labels.clone().unwrap_or_default(),
                        ready: pod_ready(p),
                    })
                    .collect();
                self.custom.tick(
                    i,
                    &l,
                    workload_labels,
                    members,
                    &names,
                    &tick,
                    offered_rate * dt_s,
                    dt_s,
                );
            }
        }
        self.custom
            .publish_due(t_ms, dt_s * 1000.0, PUBLISH_LEAD_MS, &self.loads);
        // Half a second ahead of each mark: the HPA syncs just after the marks (it is created
        // just after the run starts), and the twin serves a scrape before the HPA syncs of the
        // same instant; so here the sample of a mark is served before that mark's sync.
        if t_ms + PUBLISH_LEAD_MS >= self.next_publish {
            // The average over the ticks of the window: a constant load reads exactly.
            let window_ms = self.window_ms.max(1.0);
            self.window_ms = 0.0;
            // On a fixed 15 s grid from the run's start, as metrics-server's ticker and the
            // twin's scrapes (a grid that drifted by each late tick delayed the first usable
            // sample of a new pod by a whole HPA period).
            while self.next_publish <= t_ms + PUBLISH_LEAD_MS {
                self.next_publish += RESOLUTION_MS;
            }
            self.publish(&pods, window_ms, nodes);
        }
        Ok(())
    }

    /// Each load entry's outcome as `summary.json`'s `loads` lists it (the twin's format).
    pub fn summary(&self) -> Vec<serde_json::Value> {
        self.loads
            .iter()
            .zip(&self.states)
            .map(|(l, s)| kscale_twin::sim::output::load_summary(l, s))
            .collect()
    }

    /// The working set of Ready pod `ns/name` at the last tick by its load's memory model
    /// (bytes); `None` for a pod no load with a memory model serves.
    pub fn memory_of(&self, ns: &str, name: &str) -> Option<f64> {
        let (i, inflight) = self.in_flight.get(&(ns.to_string(), name.to_string()))?;
        let (base, per) = self.loads[*i].memory?;
        Some(base + per * inflight)
    }

    /// Pod `ns/name`'s container was OOM-killed or (`evicted`) the pod evicted: counted for
    /// its load entry, and its working set dropped (its memory request stands for it until it
    /// serves again, as in the twin).
    pub fn forget_memory(&mut self, ns: &str, name: &str, evicted: bool) {
        if let Some((i, _)) = self.in_flight.remove(&(ns.to_string(), name.to_string())) {
            let k = &mut self.kills[i];
            if evicted {
                k.1 += 1;
            } else {
                k.0 += 1;
            }
        }
    }

    /// Each load entry's sampled columns (`load/NS/KIND/NAME/...`, the twin's names and
    /// values) into `row`.
    pub fn sample_into(&self, row: &mut BTreeMap<String, f64>) {
        use kscale_twin::sim::output as out;
        for ((l, s), (oom, evicted)) in self.loads.iter().zip(&self.states).zip(&self.kills) {
            let id = format!("load/{}/{}/{}", l.namespace, l.kind, l.name);
            let mut put = |names: &[&str], values: &[f64]| {
                for (c, v) in names.iter().zip(values) {
                    row.insert(format!("{id}/{c}"), *v);
                }
            };
            put(&out::LOAD_COLUMNS, &out::load_values(s));
            if l.has_clients() {
                put(&out::CLIENT_COLUMNS, &out::client_values(s));
            }
            if l.memory.is_some() {
                put(&out::MEMORY_COLUMNS, &out::memory_values(s, *oom, *evicted));
            }
        }
    }

    /// The pods whose memory went over their limit since the last call (each once per tick
    /// it was over): the kubelet OOM-kills them.
    pub fn take_over_limit(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.over_limit)
    }

    /// Serves the window's usage: every ready pod's, and every node's as the sum of its pods'
    /// (nodes without pods too, at zero, as metrics-server lists every node it scrapes).
    fn publish(&mut self, pods: &[Pod], window_ms: f64, nodes: &[String]) {
        let mut node_usage: BTreeMap<String, (f64, f64)> =
            nodes.iter().map(|n| (n.clone(), (0.0, 0.0))).collect();
        let mut out = Vec::new();
        for p in pods.iter().filter(|p| pod_ready(p)) {
            let ns = p.metadata.namespace.clone().unwrap_or_default();
            let name = p.metadata.name.clone().unwrap_or_default();
            let key = (ns.clone(), name.clone());
            let cpu = self.acc.get(&key).copied().unwrap_or(0.0) / window_ms;
            let mem = match self.in_flight.get(&key) {
                Some((i, inflight)) => self.loads[*i]
                    .memory
                    .map(|(base, per)| base + per * inflight)
                    .unwrap_or(0.0),
                None => 0.0,
            };
            let containers: Vec<&k8s_openapi::api::core::v1::Container> =
                p.spec.iter().flat_map(|s| s.containers.iter()).collect();
            // A pod's whole usage is in its first container (as in the twin).
            let usage = containers
                .iter()
                .enumerate()
                .map(|(i, c)| ContainerUsage {
                    name: c.name.clone(),
                    cpu_milli: if i == 0 { cpu } else { 0.0 },
                    memory_bytes: if i == 0 { mem } else { 0.0 },
                })
                .collect();
            let node = p
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .unwrap_or_default();
            let e = node_usage.entry(node).or_default();
            e.0 += cpu;
            e.1 += mem;
            out.push(PodUsage {
                namespace: ns,
                name,
                labels: p.metadata.labels.clone().unwrap_or_default(),
                containers: usage,
            });
        }
        self.acc.clear();
        let Some(server) = &self.server else {
            return;
        };
        server.publish(Snapshot {
            timestamp: jiff::Timestamp::now(),
            window_s: (RESOLUTION_MS / 1000) as u32,
            existing_pods: pods
                .iter()
                .map(|p| {
                    (
                        p.metadata.namespace.clone().unwrap_or_default(),
                        p.metadata.name.clone().unwrap_or_default(),
                    )
                })
                .collect(),
            pods: out,
            nodes: node_usage
                .into_iter()
                .map(|(name, (cpu_milli, memory_bytes))| NodeUsage {
                    name,
                    cpu_milli,
                    memory_bytes,
                })
                .collect(),
        });
    }
}
