//! The discrete-event simulation: state, event loop and the wiring of controllers.
//!
//! One [`Sim`] owns the whole simulated cluster. Events pop from a `(time, seq)` queue
//! ([`crate::queue`]); each handler mutates state and may push further events. Controllers that
//! upstream runs as watch-driven loops (Deployment, ReplicaSet, scheduler) are triggered by
//! "dirty" marks and coalesced into one reconcile event, so cost grows with changes, not time.

pub mod aggregate;
pub mod api;
pub mod changes;
pub mod cluster_api;
pub mod cluster_autoscaler;
pub mod custom_metrics;
pub mod daemonset;
pub mod defaulting;
pub mod elastic;
pub mod elastic_autoscaler;
pub mod event_stream;
pub mod eviction;
pub mod hpa;
pub mod hpa_spec;
pub mod hpa_view;
pub mod karpenter;
pub mod karpenter_disruption;
pub mod kubectl;
pub mod kubectl_top;
pub mod kubelet;
pub mod metrics;
pub mod model;
pub mod node_map;
pub mod ops;
pub mod output;
pub mod pod_table;
pub mod proportional;
pub mod provider;
pub mod recorder;
pub mod resize;
pub mod scheduling;
pub mod scheduling_queue;
pub mod slo;
pub mod statefulset;
pub mod step_runner;
pub mod store;
pub mod traffic;
pub mod vpa;
pub mod workloads;

use std::collections::BTreeMap;
use std::sync::Arc;

use kscale_controllers::scheduler::Scheduler;
use kscale_model::SimTime;
use kscale_report::{EventRecord, InvolvedObject};

use crate::error::InputError;
use crate::latency::Latencies;
use crate::manifest::Warning;
use crate::queue::EventQueue;
use crate::rngs::Stream;
use crate::scenario::Scenario;
use store::{ObjKey, Store};

/// Something that happens at a point of virtual time.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Run the kubectl step with this index.
    Step(usize),
    /// The running step (`kubectl rollout status`, `kubectl wait`) reads its objects again.
    StepWatch,
    /// Run the Deployment and ReplicaSet controllers over dirty objects.
    Reconcile,
    /// Run a scheduling cycle over the active queue.
    Schedule,
    /// The ReplicaSet controller's create call for one pod lands (rate-limited client).
    PodCreate(ObjKey),
    /// The kubelet has started the pod's containers.
    ContainersStarted(u64, u32),
    /// The pod's readiness probe succeeds.
    PodReady(u64, u32),
    /// The pod's containers have exited after deletion; the pod object goes away.
    PodGone(u64, u32),
    /// Karpenter's provisioning batch may close.
    KarpenterBatch,
    /// A launched NodeClaim registers its node.
    KarpenterRegistered(String),
    /// Karpenter's disruption poll.
    KarpenterDisruption,
    /// Karpenter re-validates its pending disruption command (15 s after deciding it).
    KarpenterValidate,
    /// Karpenter checks whether a disrupted node is drained and can be terminated (name, uid).
    KarpenterTerminate(String, String),
    /// A cluster-proportional-autoscaler polls.
    CpaPoll(ObjKey),
    /// The kubelet sees a pod's resize (pod id, resize generation).
    ResizeSync(u64, u64),
    /// The runtime has applied an admitted resize (pod id, resize generation).
    ResizeDone(u64, u64),
    /// The VPA recommender's loop (every minute).
    VpaRecommend,
    /// The VPA updater's loop (every minute).
    VpaUpdate,
    /// The Cluster Autoscaler's loop (every `--scan-interval`).
    CaScan,
    /// A node the Cluster Autoscaler requested registers (upcoming id).
    CaNodeUp(u64),
    /// The Cluster Autoscaler's removals in progress go on between its loops.
    CaDrainPoll,
    /// A spot node receives its 2-minute interruption notice (node name, uid).
    SpotInterruption(String, String),
    /// The cloud terminates an instance (node name, uid).
    NodeTerminated(String, String),
    /// An OOM-killed container restarts after its back-off (pod id, lifecycle generation).
    ContainerRestarted(u64, u32),
    /// metrics-server scrapes the kubelets.
    MetricsScrape,
    /// The HPA controller syncs every HPA.
    HpaSync,
    /// The HPA controller syncs one HPA at once: it was created or its spec changed
    /// (horizontal.go `enqueueHPA` adds it to the queue for immediate processing; v1.37).
    HpaSyncOne(ObjKey),
    /// The custom metrics adapter samples per-pod and per-workload metrics.
    CustomMetricsScrape,
    /// The external metrics provider polls its series.
    ExternalMetricsPoll,
    /// The kubelets' eviction managers check node memory (every 10 s).
    EvictionCheck,
    /// Sync a ReplicaSet again after a failed create (work-queue back-off).
    Retry(ObjKey),
    /// Take a time-series sample.
    Sample,
    /// Advance the load model by one tick.
    LoadTick,
    /// An Elastic Pod replication step (scheduler check, kubelet action, status write, timeout).
    Elastic(elastic::ElasticEvent),
}

/// Random streams of the twin, one per component.
pub struct Rngs {
    /// Generated names (pod suffixes).
    pub names: Stream,
    /// UIDs.
    pub uids: Stream,
    /// Scheduler tie-breaks.
    pub sched: Stream,
    /// Kubelet latency jitter (PLEG relist phase).
    pub kubelet: Stream,
    /// Load noise (Poisson arrivals).
    pub load: Stream,
    /// The Cluster Autoscaler's `random` expander.
    pub ca: Stream,
}

/// The simulated cluster and its event loop.
pub struct Sim {
    /// Current virtual time.
    pub now: SimTime,
    /// End of the run.
    pub end: SimTime,
    /// t=0 in Unix milliseconds (for rendered timestamps).
    pub start_unix_ms: i64,
    /// Event queue.
    pub(crate) queue: EventQueue<Event>,
    /// Random streams.
    pub rng: Rngs,
    /// The cloud provider (launch latency and failures, instance addresses, spot
    /// interruptions, node groups): the run's `cloud` stream is its own.
    pub cloud: crate::cloud_provider::CloudProvider,
    /// Latency model.
    pub(crate) lat: Latencies,
    /// Stored API objects other than pods and nodes.
    pub store: Store,
    /// Nodes by name.
    pub nodes: node_map::NodeMap,
    /// Pods by id (creation order).
    pub pods: pod_table::PodTable,
    /// Pod id by (namespace, name) (lookups only, never iterated).
    pub(crate) pod_names:
        std::collections::HashMap<(Arc<str>, Arc<str>), u64, foldhash::fast::FixedState>,
    /// Next pod id.
    pub(crate) next_pod_id: u64,
    /// Scheduler state.
    pub(crate) scheduler: Scheduler,
    /// The scheduler's queues (see [`scheduling_queue::SchedulingQueue`]).
    pub(crate) sched_queue: scheduling_queue::SchedulingQueue,
    /// The Deployment and ReplicaSet controllers' state (see
    /// [`workloads::WorkloadControllers`]).
    pub workloads: workloads::WorkloadControllers,
    /// Compiled ReplicaSets.
    pub rs_cache: BTreeMap<ObjKey, workloads::RsCache>,
    /// The DaemonSet controller's daemon pods (see [`daemonset`]).
    pub(crate) daemonsets: daemonset::DaemonSets,
    /// The StatefulSet controller's sets (see [`statefulset`]).
    pub(crate) statefulsets: statefulset::StatefulSets,
    /// What the run records: events, step transcript, summary counters (see
    /// [`recorder::Recorder`]).
    pub recorder: recorder::Recorder,
    /// Warnings about the input.
    pub warnings: Vec<Warning>,
    /// Cost of nodes already removed (USD).
    pub(crate) closed_cost: f64,
    /// The time-series sampler (see [`output::Sampler`]).
    pub(crate) sampler: output::Sampler,
    /// The kubectl step still running and the steps waiting for it.
    pub(crate) steps: step_runner::StepRunner,
    /// The scenario.
    pub scenario: Arc<Scenario>,
    /// The load model's state: per load entry its totals and cache, the entries by target
    /// (see [`aggregate::LoadModel`]).
    pub load: aggregate::LoadModel,
    /// Deployments running the cluster-proportional-autoscaler that are being polled.
    pub(crate) cpa_polling:
        BTreeMap<ObjKey, kscale_components::proportional::ProportionalAutoscaler>,
    /// The Vertical Pod Autoscaler's components, once a VerticalPodAutoscaler exists.
    pub vpa: Option<vpa::VpaComponents>,
    /// In-place pod resizes.
    pub(crate) resizes: resize::Resizes,
    /// What the run records for the scenario's service-level objectives.
    pub(crate) slo: slo::SloRecorder,
    /// Karpenter's offerings (catalog × capacity types × zones), a function of the scenario
    /// built once ([`Sim::offerings`]).
    pub(crate) offerings_cache:
        std::sync::OnceLock<std::sync::Arc<Vec<kscale_controllers::karpenter::Offering>>>,
    /// The metrics API as HPA reads it (see `metrics.rs`).
    pub metrics: metrics::MetricsApi,
    /// Pods bound to nodes, counted by priority (the scheduler's priority floor; see
    /// [`Sim::note_bound`]).
    pub(crate) bound_priorities: BTreeMap<i32, u32>,
    /// The HPA controller's state between syncs (see [`hpa::HpaController`]).
    pub hpa: hpa::HpaController,
    /// Custom and external metrics (see `custom_metrics.rs`).
    pub(crate) custom_metrics: custom_metrics::CustomMetrics,
    /// The kubelets' eviction managers: pods' working sets, restart back-offs, OOM kills and
    /// evictions (see [`eviction::EvictionManager`]).
    pub eviction: eviction::EvictionManager,
    /// Karpenter emulation state.
    pub(crate) karpenter: karpenter::KarpenterState,
    /// Disruption of Karpenter's NodePool nodes (commands, budgets' bookkeeping, decisions).
    pub karpenter_disruption: karpenter_disruption::DisruptionState,
    /// Elastic Pods: per-pod replication state (see `elastic.rs`).
    pub(crate) elastic: elastic::ElasticState,
    /// The elastic autoscaler's state.
    pub(crate) elastic_scaler: elastic_autoscaler::ElasticScalerState,
    /// Cluster Autoscaler emulation state.
    pub(crate) ca: cluster_autoscaler::CaTwin,
    /// The priority of pods without a PriorityClass (the global default's value, else 0) and
    /// whether its preemption policy is `Never`, with the [`Store::writes_of`]
    /// PriorityClasses it was found at.
    pub(crate) default_priority: std::sync::Mutex<Option<(u64, (i32, bool))>>,
}

impl Sim {
    /// Builds the cluster at t=0: initial nodes, built-in objects and the scenario's manifests.
    pub fn new(scenario: Arc<Scenario>) -> Result<Sim, InputError> {
        let seed = scenario.seed();
        let end = SimTime(scenario.doc.spec.duration.0);
        let mut sim = Sim {
            now: SimTime::ZERO,
            end,
            start_unix_ms: scenario.start_unix_ms,
            queue: EventQueue::default(),
            rng: Rngs {
                names: Stream::new(seed, "names"),
                uids: Stream::new(seed, "uids"),
                sched: Stream::new(seed, "scheduler"),
                kubelet: Stream::new(seed, "kubelet"),
                load: Stream::new(seed, "load"),
                ca: Stream::new(seed, "cluster-autoscaler"),
            },
            cloud: crate::cloud_provider::CloudProvider::new(&scenario),
            lat: Latencies::from_scenario(&scenario.doc.spec),
            store: Store::default(),
            nodes: Default::default(),
            pods: pod_table::PodTable::new(),
            pod_names: Default::default(),
            next_pod_id: 1,
            scheduler: Scheduler::new(None),
            sched_queue: Default::default(),
            workloads: workloads::WorkloadControllers::new(),
            rs_cache: BTreeMap::new(),
            daemonsets: Default::default(),
            statefulsets: Default::default(),
            recorder: Default::default(),
            warnings: vec![],
            closed_cost: 0.0,
            sampler: Default::default(),
            steps: Default::default(),
            load: Default::default(),
            karpenter: Default::default(),
            karpenter_disruption: Default::default(),
            hpa: hpa::HpaController::new(),
            custom_metrics: Default::default(),
            eviction: Default::default(),
            bound_priorities: BTreeMap::new(),
            offerings_cache: std::sync::OnceLock::new(),
            metrics: Default::default(),
            cpa_polling: BTreeMap::new(),
            vpa: None,
            resizes: Default::default(),
            slo: Default::default(),
            scenario: scenario.clone(),
            elastic: Default::default(),
            elastic_scaler: Default::default(),
            ca: Default::default(),
            default_priority: Default::default(),
        };
        sim.configure_elastic();
        sim.install_builtins();
        sim.create_scenario_nodes()?;
        sim.create_node_group_nodes();
        let (objects, warnings) = crate::manifest::load_paths(&scenario.manifest_paths)?;
        sim.warnings.extend(warnings);
        // Namespaces first, so that objects may come before their namespace in name order.
        let (ns, rest): (Vec<_>, Vec<_>) = objects
            .into_iter()
            .partition(|o| o.object.get("kind").and_then(|k| k.as_str()) == Some("Namespace"));
        let mut vpa_sources = vec![];
        for mut o in ns.into_iter().chain(rest) {
            if o.object.get("kind").and_then(|k| k.as_str()) == Some("VerticalPodAutoscaler") {
                vpa_sources.push((
                    o.object
                        .pointer("/metadata/namespace")
                        .and_then(|v| v.as_str())
                        .unwrap_or("default")
                        .to_string(),
                    o.object
                        .pointer("/metadata/name")
                        .and_then(|v| v.as_str())
                        .unwrap_or("")
                        .to_string(),
                    o.file.clone(),
                    o.line,
                ));
            }
            let kind = o
                .object
                .get("kind")
                .and_then(|k| k.as_str())
                .unwrap_or("")
                .to_string();
            if kind == "Deployment" || kind == "CapacityBuffer" {
                let name = o
                    .object
                    .pointer("/metadata/name")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string();
                let ns = o
                    .object
                    .pointer("/metadata/namespace")
                    .and_then(|v| v.as_str())
                    .unwrap_or("default")
                    .to_string();
                if let Some(r) = scenario.replica_overrides.get(&(kind, ns, name)) {
                    o.object["spec"]["replicas"] = serde_json::json!(r);
                }
            }
            if !scenario.object_overrides.is_empty() {
                crate::overrides::apply_overrides(&scenario.object_overrides, &mut o.object)
                    .map_err(|msg| InputError::at(&o.file, o.line, None, msg))?;
            }
            sim.apply_value(o.object, Some(o.raw))
                .map_err(|msg| InputError::at(&o.file, o.line, None, msg))?;
        }
        sim.warn_vpa_hpa_conflicts(&vpa_sources);
        // A load aimed at a workload that no manifest defines and no step could create would
        // drop every request: an input error, not a silent 100% loss.
        let steps_create = scenario
            .steps
            .iter()
            .any(|s| matches!(s.run.split_whitespace().nth(1), Some("apply" | "create")));
        if !steps_create {
            for (i, l) in scenario.loads.iter().enumerate() {
                let kind = match l.kind.as_str() {
                    "deployment" => "Deployment",
                    "statefulset" => "StatefulSet",
                    _ => "ReplicaSet",
                };
                if sim
                    .store
                    .get(&ObjKey::new(kind, &l.namespace, &l.name))
                    .is_none()
                {
                    return Err(InputError::file(
                        &scenario.path,
                        format!(
                            "load target {}/{}/{} does not exist: no manifest defines it and no step creates it",
                            l.namespace, l.kind, l.name
                        ),
                    )
                    .with_field(format!("spec.load[{i}].target")));
                }
            }
        }
        for (i, st) in scenario.steps.iter().enumerate() {
            sim.queue.push(SimTime(st.at.0), Event::Step(i));
        }
        sim.init_slo_recorder();
        sim.load.init(&scenario.loads);
        if !scenario.loads.is_empty() {
            sim.queue.push(SimTime::ZERO, Event::LoadTick);
            sim.start_metrics();
        }
        // Pods' memory only varies with a load entry's memory model: only then can a node come
        // under memory pressure.
        if scenario.loads.iter().any(|l| l.memory.is_some()) {
            sim.start_eviction_checks();
        }
        sim.queue.push(SimTime::ZERO, Event::Sample);
        Ok(sim)
    }

    /// Runs the events before `t` (not those at `t`); [`Sim::run`] continues from there.
    pub fn run_until(&mut self, t: SimTime) {
        while let Some(next) = self.queue.peek_time() {
            if next >= t || next > self.end {
                break;
            }
            let (next, ev) = self.queue.pop().expect("peeked");
            self.now = next;
            self.handle(ev);
        }
        self.flush_hpa_status();
    }

    /// Runs the simulation to its end time.
    pub fn run(&mut self) {
        // Batches that never fill: every event stays in `events`, the sink is never called.
        let _ = self.run_draining(usize::MAX, &mut std::ops::ControlFlow::Continue);
    }

    /// Ends a run at its end time: the last sample, HPA statuses written.
    fn finish_run(&mut self) {
        self.now = self.end;
        self.end_steps();
        self.take_sample();
        self.flush_hpa_status();
    }

    fn handle(&mut self, ev: Event) {
        // The node and workload autoscalers' periodic loops, counted as decisions (the
        // summary's `autoscalerLoops`; `kscale bench-curve` reads it).
        if matches!(
            ev,
            Event::CpaPoll(_)
                | Event::VpaRecommend
                | Event::VpaUpdate
                | Event::CaScan
                | Event::KarpenterBatch
                | Event::KarpenterDisruption
                | Event::KarpenterValidate
        ) {
            self.recorder.count("autoscalerLoops", 1);
        }
        match ev {
            Event::Step(i) => {
                // kubectl reads and writes stored objects: HPA statuses are rendered first.
                self.flush_hpa_status();
                self.step_due(i)
            }
            Event::StepWatch => {
                self.flush_hpa_status();
                self.step_watch()
            }
            Event::Reconcile => {
                self.workloads.reconcile_started();
                self.reconcile();
            }
            Event::Schedule => {
                self.sched_queue.cycle_started();
                self.schedule_cycle();
            }
            Event::PodCreate(key) => self.pod_create_lands(key),
            Event::Retry(key) => self.mark_dirty(key),
            Event::HpaSync => self.hpa_sync(),
            Event::HpaSyncOne(key) => self.hpa_sync_one(&key),
            Event::CustomMetricsScrape => self.custom_metrics_scrape(),
            Event::ExternalMetricsPoll => self.external_metrics_poll(),
            Event::EvictionCheck => self.eviction_check(),
            Event::ContainerRestarted(id, g) => self.container_restarted(id, g),
            Event::MetricsScrape => self.metrics_scrape(),
            Event::CpaPoll(key) => self.cpa_poll(key),
            Event::ResizeSync(id, g) => self.resize_sync(id, g),
            Event::ResizeDone(id, g) => self.resize_done(id, g),
            Event::VpaRecommend => self.vpa_recommend(),
            Event::VpaUpdate => self.vpa_update(),
            Event::CaScan => self.ca_scan(),
            Event::CaNodeUp(id) => self.ca_node_up(id),
            Event::CaDrainPoll => self.ca_drain_poll(),
            Event::SpotInterruption(n, uid) => self.spot_interruption(&n, &uid),
            Event::NodeTerminated(n, uid) => self.node_terminated(&n, &uid),
            Event::KarpenterBatch => self.karpenter_batch(),
            Event::KarpenterRegistered(claim) => self.karpenter_registered(&claim),
            Event::KarpenterDisruption => self.karpenter_disruption(),
            Event::KarpenterValidate => self.karpenter_validate(),
            Event::KarpenterTerminate(n, uid) => self.karpenter_terminate(&n, &uid),
            Event::ContainersStarted(id, g) => self.containers_started(id, g),
            Event::PodReady(id, g) => self.pod_ready(id, g),
            Event::PodGone(id, g) => self.pod_gone(id, g),
            Event::Elastic(e) => self.elastic_event(e),
            Event::Sample => {
                self.take_sample();
                self.slo_sample();
                let next = self.now.plus_millis(self.sample_interval_ms());
                if next < self.end {
                    self.queue.push(next, Event::Sample);
                }
            }
            Event::LoadTick => {
                self.load_tick();
                let next = self.now.plus_millis(crate::load::TICK_MS);
                if next <= self.end {
                    self.queue.push(next, Event::LoadTick);
                }
            }
        }
    }

    /// Sampling interval (scenario `sampleInterval`, default 10 s).
    pub fn sample_interval_ms(&self) -> u64 {
        self.scenario
            .doc
            .spec
            .sample_interval
            .map(|d| d.0)
            .unwrap_or(10_000)
    }

    /// Records a Kubernetes-style event.
    pub fn emit(
        &mut self,
        type_: &str,
        reason: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        message: String,
        source: &str,
    ) {
        self.recorder.record_event(EventRecord {
            time: self.now.as_secs_f64(),
            type_: type_.to_string(),
            reason: reason.to_string(),
            involved_object: InvolvedObject {
                kind: kind.to_string(),
                namespace: namespace.to_string(),
                name: name.to_string(),
            },
            message,
            source: source.to_string(),
        });
    }

    /// Marks a workload object for the next reconcile.
    pub fn mark_dirty(&mut self, key: ObjKey) {
        self.mark_dirty_owner(key, false);
    }

    /// [`Sim::mark_dirty`] of a ReplicaSet and then (if `owner`) of the Deployment owning it,
    /// with one lookup of the ReplicaSet's cache.
    pub fn mark_dirty_owner(&mut self, key: ObjKey, owner: bool) {
        self.mark_dirty_owner_by(key, owner, None);
    }

    /// [`Sim::mark_dirty_owner`] after a change of one of the ReplicaSet's pods that moved
    /// its (active, ready) counts by `moved` (None: unknown), so that its memoized counts
    /// ([`workloads::RsCache::sample_counts`]) follow instead of being recounted pod by pod
    /// (`Sim::check_invariants` recounts them).
    pub(crate) fn mark_dirty_owner_by(
        &mut self,
        key: ObjKey,
        owner: bool,
        moved: Option<(isize, isize)>,
    ) {
        let mut deployment = None;
        if key.kind == "ReplicaSet" {
            let rs = self.rs_cache.get(&key);
            if let Some(c) = rs {
                let counts = moved.and_then(|(da, dr)| {
                    let (a, r) = c.sample_counts.get()?;
                    Some((a.checked_add_signed(da)?, r.checked_add_signed(dr)?))
                });
                c.sample_counts.set(counts);
            }
            self.load.note_target_changed(&key, rs);
            if owner {
                deployment = rs.and_then(|c| c.owner.clone());
            }
        } else {
            self.note_changed(&key);
        }
        self.workloads.mark(key);
        self.request_reconcile();
        if let Some(d) = deployment {
            self.mark_dirty(d);
        }
    }

    fn request_reconcile(&mut self) {
        if self.workloads.request_reconcile() {
            let at = self.now.plus_millis(self.lat.controller_reaction_ms);
            self.queue.push(at, Event::Reconcile);
        }
    }

    /// Increments a summary counter.
    pub fn count(&mut self, name: &'static str) {
        self.recorder.count(name, 1);
    }

    /// Renders a virtual time as an RFC 3339 timestamp.
    pub fn timestamp(&self, t: SimTime) -> String {
        format_timestamp(self.start_unix_ms, t)
    }
}

/// The RFC 3339 timestamp (seconds, UTC) of simulated time `t` for a run starting at
/// `start_unix_ms`, as the API server renders `metav1.Time` ([`kscale_kubectl::format_rfc3339`]).
pub fn format_timestamp(start_unix_ms: i64, t: SimTime) -> String {
    kscale_kubectl::format_rfc3339(start_unix_ms.saturating_add_unsigned(t.as_millis()))
}

impl Sim {
    /// Runs to the end, checking [`Sim::check_invariants`] after every event (for tests).
    pub fn run_checked(&mut self) -> Result<(), String> {
        while let Some(t) = self.queue.peek_time() {
            if t > self.end {
                break;
            }
            let (t, ev) = self.queue.pop().expect("peeked");
            self.now = t;
            let label = format!("{ev:?}");
            self.handle(ev);
            self.check_invariants()
                .map_err(|e| format!("at {} after {label}: {e}", self.now))?;
        }
        self.finish_run();
        Ok(())
    }

    /// Checks the twin's invariants: no node above its allocatable; node accounting equals the
    /// sum of its pods; every pod in exactly one phase, consistent with its binding (a pending
    /// pod is on no node, a bound pod is on exactly its node), queued pods are unbound, and
    /// every pending pod is queued for a scheduling attempt or has failed one with a reason.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.karpenter_check_invariants()?;
        let mut seen = std::collections::BTreeMap::new();
        for (name, n) in &self.nodes {
            let sum = n
                .info
                .pods
                .iter()
                .fold(kscale_model::Resources::ZERO, |a, p| a + p.requests);
            if sum != n.info.requested {
                return Err(format!(
                    "node {name}: requested {:?} != sum of pods {sum:?}",
                    n.info.requested
                ));
            }
            if !n.info.requested.fits_in(&n.info.allocatable) {
                return Err(format!(
                    "node {name}: requested {:?} exceeds allocatable {:?}",
                    n.info.requested, n.info.allocatable
                ));
            }
            for p in &n.info.pods {
                if let Some(other) = seen.insert(p.id, name.clone()) {
                    return Err(format!("pod {} on two nodes: {other} and {name}", p.id));
                }
                match self.pods.get(&p.id) {
                    None => return Err(format!("node {name} holds unknown pod {}", p.id)),
                    Some(pod) if pod.node.as_deref() != Some(name.as_ref()) => {
                        return Err(format!(
                            "pod {} listed on {name} but bound to {:?}",
                            pod.name, pod.node
                        ));
                    }
                    _ => {}
                }
            }
        }
        let floor = self
            .bound_priorities
            .keys()
            .next()
            .copied()
            .unwrap_or(i32::MAX);
        for n in self.nodes.values() {
            if let Some(p) = n.info.pods.iter().find(|p| p.priority < floor) {
                return Err(format!(
                    "pod {} (priority {}) on {} is below the scheduler's priority floor {floor}",
                    p.name, p.priority, n.info.name
                ));
            }
        }
        for p in self.pods.values() {
            use model::PodPhase::*;
            let bound = p.node.is_some();
            let ok = match p.phase {
                Pending => !bound,
                ContainerCreating | Running => {
                    bound
                        && seen
                            .get(&p.id)
                            .map(|n| Some(n) == p.node.as_ref())
                            .unwrap_or(false)
                }
                Succeeded | Failed => true,
            };
            if !ok {
                return Err(format!(
                    "pod {} in phase {:?} with node {:?}",
                    p.name, p.phase, p.node
                ));
            }
            if p.ready_at.is_some() && p.phase != Running {
                return Err(format!("pod {} ready but not running", p.name));
            }
        }
        for id in self.sched_queue.active_ids() {
            if self.pods.get(&id).is_some_and(|p| p.node.is_some()) {
                return Err(format!("bound pod {id} in the active queue"));
            }
        }
        // Every pending pod is waiting for a scheduling attempt or has failed one: nothing
        // pending is forgotten, and what failed says why.
        let queued: std::collections::BTreeSet<u64> = self.sched_queue.active_ids().collect();
        for p in self.pods.values() {
            if p.phase != model::PodPhase::Pending || p.deleting_at.is_some() {
                continue;
            }
            let waiting = queued.contains(&p.id);
            let failed = self.sched_queue.is_unschedulable(p.id);
            if !waiting && !failed {
                return Err(format!("pending pod {} is in no scheduling queue", p.name));
            }
            if failed && !waiting && p.unschedulable.is_none() && p.nominated.is_none() {
                return Err(format!("pod {} failed scheduling without a reason", p.name));
            }
        }
        self.sample_check_invariants()?;
        self.template_hashes_check()?;
        Ok(())
    }
}

/// The twin can be read from several threads at once (the HPA syncs prepare in parallel).
const _: () = {
    const fn check<T: Sync>() {}
    check::<Sim>()
};
