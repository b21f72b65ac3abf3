//! `kscale run SCENARIO --cluster`: the scenario on a real Kubernetes control plane, in real
//! time. The real scheduler, Deployment / ReplicaSet controllers, garbage collector and
//! node-lifecycle controller decide; kscale registers the scenario's nodes (as the twin builds
//! them), plays their kubelets (`kscale_kube::kubelet`), creates the manifests' objects, runs
//! each kubectl step with the real kubectl at its time, and runs its own components live
//! (the cluster-proportional-autoscaler, the Cluster Autoscaler over the scenario's node groups
//! in `cluster_autoscaler.rs`, Karpenter's provisioning). The run directory has the twin's files:
//! `summary.json` (with `backend: cluster` and the control plane's version), `events.jsonl`
//! (the API's Events), `transcript.jsonl`, `timeseries.csv`, `report.html`.
//!
//! The scenario's load runs through the twin's fluid model and reaches the real HPA through
//! kscale's `metrics.k8s.io` server (`load.rs`) and, when an HPA reads `Pods`, `Object` or
//! `External` metrics, its `custom.metrics.k8s.io` and `external.metrics.k8s.io` server
//! (`custom_metrics.rs`). The kinds of kscale's own components get CRDs (`crds.rs`:
//! Karpenter's, CapacityBuffers, VerticalPodAutoscalers; the VPA's components run live,
//! `vpa.rs`). Not yet on `--cluster` (the twin runs them): Elastic Pods; the run's summary
//! lists what was not created on the cluster.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Event as CoreEvent, Node, Pod};
use kscale_cluster::{ApiError, Cluster};
use kscale_components::proportional::{ProportionalAutoscaler, cpa_container};
use kscale_controlplane as cp;
use kscale_kube::KubeCluster;
use kscale_kube::kubelet::{Kubelets, PodLatency};
use kscale_report::{EventRecord, InvolvedObject, RunOutput, TranscriptEntry};
use kscale_twin::sim::cluster_api::SimCluster;

mod cluster_autoscaler;
mod crds;
mod custom_metrics;
mod drain;
mod eviction;
mod karpenter;
mod load;
mod sampler;
mod spot;
mod vpa;

use load::LiveLoad;
use sampler::Sampler;

/// Options of a `--cluster` run.
pub struct Options<'a> {
    /// The scenario file.
    pub scenario: &'a Path,
    /// The run directory.
    pub out: Option<PathBuf>,
    /// Use this cluster instead of starting a control plane.
    pub kubeconfig: Option<PathBuf>,
    /// Run beside nodes kscale did not create.
    pub allow_existing_nodes: bool,
    /// Print nothing but errors.
    pub quiet: bool,
    /// How the run directory is written (`--force`).
    pub write: kscale_report::WriteOptions,
}

/// Period of the run loop (kubelet pass, due steps, component polls): 250 ms.
const TICK: Duration = Duration::from_millis(250);
/// How long one kubectl step may take before it is killed: 60 s.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// Stops a control plane kscale started, whatever way the run ends.
struct OwnControlPlane(cp::State);

impl Drop for OwnControlPlane {
    fn drop(&mut self) {
        cp::stop(&self.0);
        let _ = std::fs::remove_file(self.0.kubeconfig.with_file_name(cp::STATE_FILE));
    }
}

fn err(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(code)
}

/// Runs the scenario on a real cluster.
pub fn run(o: Options<'_>) -> ExitCode {
    let mut sim = match kscale_twin::run::load_scenario(o.scenario) {
        Ok(s) => s,
        Err(e) => return err(2, e),
    };
    for w in &sim.warnings {
        eprintln!("warning: {w}");
    }
    let name = sim.scenario.name().to_string();
    let dir = o
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("kscale-out").join(&name));
    // Refused now rather than after the run's real time.
    if let Err(e) = kscale_report::check_output_dir(&dir, o.write) {
        return err(1, e);
    }
    let cancel = crate::control_plane::interrupt_flag();
    let run_id = format!(
        "{}-{}",
        name,
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    );
    // The control plane's files (logs, certificates, etcd data) stay out of the run
    // directory, which holds only the run's outputs; they are removed after a good run.
    let cp_dir = std::env::temp_dir().join(format!("kscale-{run_id}"));

    // The cluster: ours, or the one the kubeconfig names.
    let mut own = None;
    let (kubeconfig, kubectl, version) = match &o.kubeconfig {
        Some(k) => {
            let kubectl = std::env::var_os("KSCALE_CONTROLPLANE_BIN")
                .map(|d| PathBuf::from(d).join("kubectl"))
                .filter(|p| p.is_file())
                .unwrap_or_else(|| PathBuf::from("kubectl"));
            // kubectl steps run in the scenario's folder: a relative path must still name
            // the same file.
            let k = match std::path::absolute(k) {
                Ok(abs) => abs,
                Err(e) => return err(2, format!("--kubeconfig {}: {e}", k.display())),
            };
            (k, kubectl, None)
        }
        None => {
            let bins = match cp::binaries::locate_or_build() {
                Ok(b) => b,
                Err(e) => return err(1, e),
            };
            if !o.quiet {
                eprintln!("kscale: starting the control plane in {}", cp_dir.display());
            }
            match cp::up(&cp_dir, &bins, &cp::UpOptions::default(), &cancel) {
                Ok(state) => {
                    let k = state.kubeconfig.clone();
                    let kubectl = state.kubectl();
                    let v = state.version.clone();
                    own = Some(OwnControlPlane(state));
                    (k, kubectl, Some(v))
                }
                Err(e) => {
                    return err(
                        if matches!(e, cp::Error::Interrupted) {
                            130
                        } else {
                            1
                        },
                        e,
                    );
                }
            }
        }
    };
    let mut kc = match KubeCluster::connect(&kubeconfig, &run_id) {
        Ok(k) => k,
        Err(e) => return err(1, format!("connecting to the cluster: {e}")),
    };
    let server_version = kc
        .block_on(kc.client().apiserver_version())
        .map(|v| v.git_version)
        .unwrap_or_else(|_| "unknown".into());
    let version = version.unwrap_or(server_version);

    // Refuse a cluster with nodes kscale did not create.
    match kc.list::<Node>(None, "") {
        Ok(nodes) => {
            let foreign: Vec<String> = nodes
                .iter()
                .filter(|n| {
                    !n.metadata
                        .labels
                        .as_ref()
                        .is_some_and(|l| l.contains_key(kscale_kube::RUN_LABEL))
                })
                .filter_map(|n| n.metadata.name.clone())
                .collect();
            if !foreign.is_empty() && !o.allow_existing_nodes {
                return err(
                    1,
                    format!(
                        "the cluster holds nodes kscale did not create ({}); pass --allow-existing-nodes to run beside them",
                        foreign.join(", ")
                    ),
                );
            }
        }
        Err(e) => return err(1, format!("listing nodes: {e}")),
    }

    let result = drive(&mut sim, &mut kc, &kubectl, &kubeconfig, &cancel, o.quiet);
    let cleanup = if own.is_some() {
        Ok(()) // the whole control plane goes
    } else {
        delete_run_objects(&mut kc)
    };
    let started_own = own.is_some();
    drop(own);
    let mut output = match result {
        Ok(out) => out,
        Err(e) => {
            let interrupted = cancel.load(Ordering::SeqCst);
            if started_own && interrupted {
                let _ = std::fs::remove_dir_all(&cp_dir);
            } else if started_own {
                eprintln!(
                    "kscale: the control plane's logs are in {}",
                    cp_dir.join("logs").display()
                );
            }
            return err(if interrupted { 130 } else { 1 }, e);
        }
    };
    if started_own {
        let _ = std::fs::remove_dir_all(&cp_dir);
    }
    if let Err(e) = cleanup {
        eprintln!("warning: cleaning up the run's objects: {e}");
    }
    output.summary["backend"] = "cluster".into();
    output.summary["controlPlane"] = serde_json::json!({"version": version});
    if let Err(e) = kscale_report::write_outputs_with(&dir, &output, o.write) {
        return err(1, e);
    }
    if !o.quiet {
        println!(
            "ran {} on the cluster ({version}): {} kubectl steps, {} events; output {}",
            name,
            output.transcript.len(),
            output.events.len(),
            dir.display()
        );
    }
    ExitCode::SUCCESS
}

/// Everything between the cluster being ready and the outputs.
fn drive(
    sim: &mut kscale_twin::sim::Sim,
    kc: &mut KubeCluster,
    kubectl: &Path,
    kubeconfig: &Path,
    cancel: &AtomicBool,
    quiet: bool,
) -> Result<RunOutput, String> {
    let scenario = sim.scenario.clone();
    let lat = kscale_twin::latency::Latencies::from_scenario(&scenario.doc.spec);
    let mut kubelets = Kubelets::new(PodLatency {
        bind_to_kubelet_ms: lat.bind_to_kubelet_ms,
        sandbox_ms: lat.sandbox_ms,
        image_pull_ms: lat.image_pull_ms,
        container_start_ms: lat.container_start_ms,
        shutdown_ms: lat.shutdown_ms,
        resize_actuation_ms: kscale_twin::sim::resize::ACTUATION_MS,
    });
    // The load entries' application start-up time (the first entry on a workload, as in the
    // twin's `load_startup_ms`).
    let mut startup = BTreeMap::new();
    for l in &scenario.loads {
        startup
            .entry((l.namespace.clone(), l.kind.clone(), l.name.clone()))
            .or_insert(l.startup_ms);
    }
    kubelets.set_startup_delays(startup);
    // The scenario's nodes, exactly as the twin builds them (instance types, allocatable).
    let nodes: Vec<Node> = SimCluster(sim)
        .list::<Node>(None, "")
        .map_err(|e| e.to_string())?;
    for n in &nodes {
        kubelets
            .register(kc, n)
            .map_err(|e| format!("registering nodes: {e}"))?;
    }
    let mut warnings = Vec::new();
    // The scenario's nodes are Ready at t = 0, as in the twin: a new Node carries the
    // `node.kubernetes.io/not-ready` taint until the node-lifecycle controller has seen its
    // Ready condition, and a pod created meanwhile would first fail to schedule on it.
    let ready_by = Instant::now() + Duration::from_secs(60);
    loop {
        if cancel.load(Ordering::SeqCst) {
            return Err("interrupted; the run's processes were stopped".into());
        }
        kubelets.tick(kc).map_err(|e| format!("kubelet: {e}"))?;
        let tainted = kc
            .list::<Node>(None, "")
            .map_err(|e| e.to_string())?
            .iter()
            .filter(|n| {
                n.metadata.name.as_deref().is_some_and(|name| {
                    nodes
                        .iter()
                        .any(|m| m.metadata.name.as_deref() == Some(name))
                })
            })
            .filter(|n| {
                n.spec
                    .iter()
                    .flat_map(|s| s.taints.iter().flatten())
                    .any(|t| {
                        t.key == "node.kubernetes.io/not-ready"
                            || t.key == "node.kubernetes.io/unreachable"
                    })
            })
            .count();
        if tainted == 0 {
            break;
        }
        if Instant::now() >= ready_by {
            let w = format!(
                "{tainted} node(s) still tainted not-ready after 60 s; starting the scenario anyway"
            );
            eprintln!("warning: {w}");
            warnings.push(w);
            break;
        }
        std::thread::sleep(TICK);
    }
    let (objects, _) =
        kscale_twin::manifest::load_paths(&scenario.manifest_paths).map_err(|e| e.to_string())?;
    // The metrics APIs first (the custom and external ones when an HPA of the manifests reads
    // them), so that an HPA's first sync, at its creation, finds them served, empty, as the
    // twin's does.
    let custom = objects
        .iter()
        .any(|o| custom_metrics::reads_custom_metrics(&o.raw));
    let mut live_load = match LiveLoad::start(
        kc,
        scenario.loads.clone(),
        scenario.metrics,
        custom,
        scenario.seed(),
    ) {
        Ok((l, w)) => {
            for w in w {
                eprintln!("warning: {w}");
                warnings.push(w);
            }
            l
        }
        Err(e) => return Err(format!("metrics server: {e}")),
    };
    let mut live_karpenter = None;
    if karpenter::wanted(&objects) {
        crds::install(kc, karpenter::CRDS)
            .map_err(|e| format!("installing Karpenter's CRDs: {e}"))?;
        live_karpenter = Some(karpenter::LiveKarpenter::new(sim));
    }
    // The VPA's CRD and admission webhook come before any pod is created.
    let mut live_vpa = None;
    if vpa::wanted(&objects) {
        live_vpa = Some(
            vpa::LiveVpa::start(kc, 0)
                .map_err(|e| format!("starting the Vertical Pod Autoscaler: {e}"))?,
        );
    }
    // CapacityBuffers are the Cluster Autoscaler component's to read.
    if crds::wanted(&objects, &[crds::CAPACITY_BUFFER.group]) {
        crds::install(kc, &[crds::CAPACITY_BUFFER])
            .map_err(|e| format!("installing the CapacityBuffer CRD: {e}"))?;
    }
    // The run's clock starts as its objects are created, as the twin's objects exist at t = 0
    // (the real controllers act on the first ones while the others are being created; events
    // and samples before the last creation are timed from here, not clamped to 0).
    let start = kc.now_ms();
    // VerticalPodAutoscalers first, and the admission webhook's view re-read after each
    // object: a workload's first pods, created by the real controllers within milliseconds,
    // then meet its VPA as they do in the twin.
    let ordered = objects
        .iter()
        .filter(|o| vpa::is_vpa(&o.raw))
        .chain(objects.iter().filter(|o| !vpa::is_vpa(&o.raw)));
    for obj in ordered {
        let created = kc.create_raw(&obj.raw);
        if let Some(v) = live_vpa.as_mut()
            && let Err(e) = v.refresh(kc)
        {
            eprintln!("warning: vertical pod autoscaler: {e}");
        }
        if let Err(e) = created {
            let w = format!(
                "{}:{}: not created on the cluster: {e}",
                obj.file.display(),
                obj.line
            );
            eprintln!("warning: {w}");
            warnings.push(w);
        }
    }
    for w in live_load
        .notice_hpas(kc, 0)
        .map_err(|e| format!("custom metrics: {e}"))?
    {
        eprintln!("warning: {w}");
        warnings.push(w);
    }
    let end_ms = scenario.doc.spec.duration.0;
    let sample_ms = sim.sample_interval_ms();
    let mut steps = scenario.steps.iter().peekable();
    let mut worker = StepWorker::new(kubectl, kubeconfig, &scenario.base_dir);
    let mut transcript = Vec::new();
    let mut cpas: BTreeMap<(String, String), (ProportionalAutoscaler, u64)> = BTreeMap::new();
    // The cluster clock's zero on the wall clock (timestamps the Cluster Autoscaler writes).
    let origin_unix_ms = jiff::Timestamp::now().as_millisecond() - kc.now_ms() as i64;
    let mut live_ca = cluster_autoscaler::LiveClusterAutoscaler::new(sim, &nodes, origin_unix_ms);
    let mut ca_warnings: Vec<String> = Vec::new();
    // Failed loops of kscale's live components, each distinct message once (also printed).
    let mut loop_failures: std::collections::BTreeSet<String> = Default::default();
    let mut failed = |what: &str, e: ApiError| {
        let m = format!("{what}: {e}");
        eprintln!("warning: {m}");
        loop_failures.insert(m);
    };
    let mut spot = spot::SpotInterruptions::default();
    let mut next_discovery = 0u64;
    let mut next_sample = 0u64;
    let memory_model = scenario.loads.iter().any(|l| l.memory.is_some());
    let mut next_eviction_check = eviction::MONITORING_PERIOD_MS;
    let mut samples = Sampler::default();
    let mut last_progress = Instant::now();
    loop {
        let t = kc.now_ms() - start;
        if cancel.load(Ordering::SeqCst) {
            return Err("interrupted; the run's processes were stopped".into());
        }
        // Sampled first, as the twin samples a time before the steps and decisions due then.
        if t >= next_sample {
            next_sample += sample_ms;
            samples
                .sample(kc, t, &live_load)
                .map_err(|e| format!("sampling: {e}"))?;
        }
        kubelets.tick(kc).map_err(|e| format!("kubelet: {e}"))?;
        if let Some(k) = live_karpenter.as_mut() {
            k.advance(kc, t, sim, &mut kubelets)
                .map_err(|e| format!("karpenter: {e}"))?;
        }
        // Nodes come and go (Karpenter, the Cluster Autoscaler): the current ones.
        let node_names: Vec<String> = kubelets.node_names().map(String::from).collect();
        live_load
            .advance(kc, t, &node_names)
            .map_err(|e| format!("load model: {e}"))?;
        // Memory over a pod's limit: its kubelet OOM-kills the container.
        for (ns, name) in live_load.take_over_limit() {
            if kubelets
                .oom_kill(kc, &ns, &name, "memory over its limit")
                .map_err(|e| format!("kubelet: {e}"))?
            {
                live_load.forget_memory(&ns, &name, false);
            }
        }
        // The kernel's OOM killer on nodes out of memory, and the eviction managers, when
        // some pod's memory can grow (as in the twin).
        if memory_model {
            eviction::node_oom_check(kc, &mut kubelets, &mut live_load)
                .map_err(|e| format!("node OOM killer: {e}"))?;
        }
        if memory_model && t >= next_eviction_check {
            next_eviction_check += eviction::MONITORING_PERIOD_MS;
            eviction::check(kc, &mut kubelets, &mut live_load)
                .map_err(|e| format!("eviction manager: {e}"))?;
        }
        // Steps run in order on their own thread (kubelets, load and autoscalers go on
        // meanwhile); one due while another runs starts when it finishes, as in a script.
        let mut stepped = false;
        while let Some(entry) = worker.finished() {
            transcript.push(entry);
            stepped = true;
        }
        if worker.idle()
            && let Some(step) = steps.next_if(|s| s.at.0 <= t)
        {
            worker.start(&step.run, t);
        }
        if stepped {
            // A step may have created an HPA reading custom or external metrics.
            for w in live_load
                .notice_hpas(kc, t)
                .map_err(|e| format!("custom metrics: {e}"))?
            {
                eprintln!("warning: {w}");
                warnings.push(w);
            }
        }
        if t >= next_discovery {
            next_discovery = t + 5_000;
            for d in kc.list::<Deployment>(None, "").map_err(|e| e.to_string())? {
                live_ca.discover(&d);
                if cpa_container(&d).is_some() {
                    let ns = d.metadata.namespace.clone().unwrap_or_default();
                    let n = d.metadata.name.clone().unwrap_or_default();
                    cpas.entry((ns.clone(), n.clone()))
                        .or_insert_with(|| (ProportionalAutoscaler::new(&ns, &n), 0));
                }
            }
        }
        let mut gone = Vec::new();
        for (key, (cpa, next)) in cpas.iter_mut() {
            if t < *next {
                continue;
            }
            match cpa.refresh(kc) {
                Ok(Some(period)) => {
                    *next = t + period;
                    if let Err(e) = cpa.sync(kc) {
                        eprintln!(
                            "warning: cluster-proportional-autoscaler {}/{}: {e}",
                            key.0, key.1
                        );
                    }
                }
                Ok(None) => gone.push(key.clone()),
                Err(e) => eprintln!(
                    "warning: cluster-proportional-autoscaler {}/{}: {e}",
                    key.0, key.1
                ),
            }
        }
        for k in gone {
            cpas.remove(&k);
        }
        spot.advance(kc, t, sim, &mut kubelets)
            .map_err(|e| format!("spot interruptions: {e}"))?;
        if let Some(v) = live_vpa.as_mut()
            && let Err(e) = v.advance(kc, t)
        {
            failed("vertical pod autoscaler", e);
        }
        match live_ca.advance(kc, t, sim, &mut kubelets) {
            Ok(new) => {
                for w in new {
                    eprintln!("warning: {w}");
                    ca_warnings.push(w);
                }
            }
            Err(e) => failed("cluster-autoscaler", e),
        }
        if t >= end_ms {
            break;
        }
        if !quiet && last_progress.elapsed() >= Duration::from_secs(30) {
            last_progress = Instant::now();
            eprintln!(
                "kscale: {:.0} s of {:.0} s",
                t as f64 / 1000.0,
                end_ms as f64 / 1000.0
            );
        }
        std::thread::sleep(TICK);
    }
    let end = kc.now_ms() - start;
    // A step still running is cut off; the steps due that waited for it run now (in the
    // twin, at the end instant).
    transcript.extend(worker.stop());
    for step in steps.by_ref().take_while(|s| s.at.0 <= end_ms) {
        let never = AtomicBool::new(false);
        transcript.push(run_step(
            kubectl,
            kubeconfig,
            &scenario.base_dir,
            &step.run,
            end,
            &never,
        ));
    }
    samples
        .sample(kc, end, &live_load)
        .map_err(|e| format!("sampling: {e}"))?;
    let events = collect_events(kc, start)?;
    let stats = kubelets.stats();
    let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
    for e in &events {
        *by_reason.entry(e.reason.clone()).or_default() += 1;
    }
    let pods = kc.list::<Pod>(None, "").map_err(|e| e.to_string())?;
    let mut phases: BTreeMap<String, u64> = BTreeMap::new();
    for p in &pods {
        let phase = p
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Pending".into());
        *phases.entry(phase).or_default() += 1;
    }
    let failed = transcript
        .iter()
        .filter(|e: &&TranscriptEntry| e.exit_code != 0)
        .count();
    let mut summary = serde_json::json!({
        "scenario": scenario.name(),
        "seed": scenario.seed(),
        "durationSeconds": end as f64 / 1000.0,
        "nodes": {"final": kubelets.node_names().count(), "max": samples.max("nodes"), "created": stats.nodes_registered, "removed": stats.nodes_removed, "initial": nodes.len()},
        "pods": {
            "final": phases,
            "maxPending": samples.max("pods_pending"),
            "created": by_reason.get("SuccessfulCreate").copied().unwrap_or(0),
            "scheduled": by_reason.get("Scheduled").copied().unwrap_or(0),
            "preempted": by_reason.get("Preempted").copied().unwrap_or(0),
            "started": stats.started,
            "deletionsCompleted": stats.deleted,
        },
        "steps": {"total": transcript.len(), "failed": failed},
        "karpenter": live_karpenter.as_ref().map_or_else(|| serde_json::json!({"launches": 0}), |k| k.summary()),
        "counters": {"oomKills": stats.oom_kills, "evictions": stats.evictions},
        "loads": live_load.summary(),
        "events": {"total": events.len(), "byReason": by_reason},
        "notOnCluster": warnings,
    });
    // Launches the cloud refused for lack of capacity, Karpenter's and the Cluster
    // Autoscaler's (the twin counts them alike).
    let refused = live_karpenter
        .as_ref()
        .map_or(0, |k| k.insufficient_capacity_errors)
        + live_ca.insufficient_capacity_errors();
    if refused > 0 {
        summary["counters"]["insufficientCapacityErrors"] = refused.into();
    }
    if spot.interruptions > 0 {
        summary["counters"]["spotInterruptions"] = spot.interruptions.into();
    }
    if live_ca.started() {
        summary["clusterAutoscaler"] = live_ca.summary();
        summary["warnings"] = ca_warnings.into();
    }
    if let Some(v) = &live_vpa {
        summary["vpa"] = v.summary(kc);
    }
    // A component loop that failed is in the summary's warnings, not only on stderr.
    if !loop_failures.is_empty() {
        let mut all = summary["warnings"].as_array().cloned().unwrap_or_default();
        all.extend(loop_failures.iter().map(|m| serde_json::json!(m)));
        summary["warnings"] = all.into();
    }
    let charts = samples.charts();
    Ok(RunOutput {
        name: scenario.name().to_string(),
        summary,
        events,
        transcript,
        timeseries: samples.into_series(),
        charts,
    })
}

/// Runs the run's kubectl steps one at a time on a thread of its own.
struct StepWorker {
    requests: std::sync::mpsc::Sender<(String, u64)>,
    results: std::sync::mpsc::Receiver<TranscriptEntry>,
    stop: std::sync::Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
    busy: bool,
}

impl StepWorker {
    fn new(kubectl: &Path, kubeconfig: &Path, cwd: &Path) -> StepWorker {
        let (requests, rx) = std::sync::mpsc::channel::<(String, u64)>();
        let (tx, results) = std::sync::mpsc::channel();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (kubectl, kubeconfig, cwd) = (
            kubectl.to_path_buf(),
            kubeconfig.to_path_buf(),
            cwd.to_path_buf(),
        );
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            for (line, t) in rx {
                let e = run_step(&kubectl, &kubeconfig, &cwd, &line, t, &flag);
                if tx.send(e).is_err() {
                    break;
                }
            }
        });
        StepWorker {
            requests,
            results,
            stop,
            thread,
            busy: false,
        }
    }

    /// Whether no step runs.
    fn idle(&self) -> bool {
        !self.busy
    }

    /// Starts step `line` at run time `t_ms`.
    fn start(&mut self, line: &str, t_ms: u64) {
        self.busy = self.requests.send((line.to_string(), t_ms)).is_ok();
    }

    /// The step that finished since the last call, if any.
    fn finished(&mut self) -> Option<TranscriptEntry> {
        let e = self.results.try_recv().ok()?;
        self.busy = false;
        Some(e)
    }

    /// Cuts off the step still running and waits for the thread: that step's record.
    fn stop(self) -> Option<TranscriptEntry> {
        let StepWorker {
            requests,
            results,
            stop,
            thread,
            busy,
        } = self;
        stop.store(true, Ordering::SeqCst);
        let last = if busy { results.recv().ok() } else { None };
        // No more requests: the thread's loop ends.
        drop(requests);
        let _ = thread.join();
        last
    }
}

/// Runs one kubectl step with the real kubectl: stdout, stderr and exit code as it gave them;
/// killed when `stop` is set (the run ended) or, unless it is `rollout status` or `wait`,
/// after [`STEP_TIMEOUT`].
fn run_step(
    kubectl: &Path,
    kubeconfig: &Path,
    cwd: &Path,
    line: &str,
    t_ms: u64,
    stop: &AtomicBool,
) -> TranscriptEntry {
    let at = t_ms as f64 / 1000.0;
    let entry = |code, stdout: String, stderr: String| TranscriptEntry {
        at,
        command: line.to_string(),
        exit_code: code,
        stdout,
        stderr,
    };
    let words = match shell_words::split(line) {
        Ok(w) => w,
        Err(e) => return entry(1, String::new(), format!("error: {e}\n")),
    };
    let Some((first, args)) = words.split_first() else {
        return entry(1, String::new(), "error: empty command\n".into());
    };
    if first != "kubectl" {
        return entry(
            1,
            String::new(),
            format!("error: only kubectl steps run, not {first:?}\n"),
        );
    }
    let child = Command::new(kubectl)
        .args(args)
        .current_dir(cwd)
        .env("KUBECONFIG", kubeconfig)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return entry(
                1,
                String::new(),
                format!("error: running {}: {e}\n", kubectl.display()),
            );
        }
    };
    // The pipes are drained while kubectl runs: a large output (`get pods -o json` of a big
    // cluster) fills a pipe's buffer and would block kubectl until the timeout.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    // `rollout status` lasts until its rollout is done, `wait` until its condition or
    // `--timeout` (or the run ends); anything else gets STEP_TIMEOUT.
    let lasting = match args.first().map(String::as_str) {
        Some("wait") => true,
        Some("rollout") => args.get(1).map(String::as_str) == Some("status"),
        _ => false,
    };
    let deadline = (!lasting).then(|| Instant::now() + STEP_TIMEOUT);
    let mut cut_off = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None)
                if !stop.load(Ordering::SeqCst) && deadline.is_none_or(|d| Instant::now() < d) =>
            {
                std::thread::sleep(Duration::from_millis(20))
            }
            Ok(None) => {
                cut_off = stop.load(Ordering::SeqCst);
                let _ = child.kill();
                break child.wait();
            }
            Err(e) => break Err(e),
        }
    };
    let text = |h: std::thread::JoinHandle<Vec<u8>>| {
        String::from_utf8_lossy(&h.join().unwrap_or_default()).into_owned()
    };
    let (out, err) = (text(stdout), text(stderr));
    match status {
        // As the twin ends a step still running at the run's end.
        _ if cut_off => entry(
            1,
            out,
            format!("{err}error: the run ended before the step finished\n"),
        ),
        Ok(status) => entry(status.code().unwrap_or(1), out, err),
        Err(e) => entry(1, out, format!("{err}error: {e}\n")),
    }
}

/// The API's Events as `events.jsonl` records, in time order (time = seconds since the
/// run's start). An Event the API server counted several times (the recorder's correlator
/// folds identical events into one object with `count` and first/last timestamps; the events
/// API's isomorphic events into `series`) becomes one record per occurrence: the first at its
/// first timestamp, the last at its last, those between spread evenly (their times are not
/// kept by the API).
fn collect_events(kc: &mut KubeCluster, start_ms: u64) -> Result<Vec<EventRecord>, String> {
    let started_at = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_millis(
            (kc.now_ms() - start_ms) as i64,
        ))
        .map_err(|e| e.to_string())?;
    let secs = |t: jiff::Timestamp| {
        (t.as_millisecond() - started_at.as_millisecond()).max(0) as f64 / 1000.0
    };
    let mut out: Vec<EventRecord> = vec![];
    for e in kc
        .list::<CoreEvent>(None, "")
        .map_err(|e| format!("listing events: {e}"))?
    {
        // The API server's own `default/kubernetes` Service: its housekeeping (the cluster IP
        // repair loop racing the Service's creation at start-up) is not the scenario's.
        let io = &e.involved_object;
        if io.kind.as_deref() == Some("Service")
            && io.namespace.as_deref() == Some("default")
            && io.name.as_deref() == Some("kubernetes")
        {
            continue;
        }
        let series = e.series.as_ref();
        let last = series
            .and_then(|s| s.last_observed_time.as_ref().map(|t| t.0))
            .or(e.last_timestamp.as_ref().map(|t| t.0))
            .or(e.event_time.as_ref().map(|t| t.0))
            .or(e.first_timestamp.as_ref().map(|t| t.0))
            .unwrap_or(started_at);
        let first = e
            .first_timestamp
            .as_ref()
            .map(|t| t.0)
            .or(e.event_time.as_ref().map(|t| t.0))
            .unwrap_or(last)
            .min(last);
        let count = series.and_then(|s| s.count).or(e.count).unwrap_or(1).max(1) as usize;
        let record = EventRecord {
            time: secs(last),
            type_: e.type_.unwrap_or_else(|| "Normal".into()),
            reason: e.reason.unwrap_or_default(),
            involved_object: InvolvedObject {
                kind: e.involved_object.kind.unwrap_or_default(),
                namespace: e.involved_object.namespace.unwrap_or_default(),
                name: e.involved_object.name.unwrap_or_default(),
            },
            message: e.message.unwrap_or_default(),
            source: e
                .source
                .and_then(|s| s.component)
                .or(e.reporting_component)
                .unwrap_or_default(),
        };
        let (t0, t1) = (secs(first), secs(last));
        for i in 0..count {
            let time = if count == 1 {
                t1
            } else {
                t0 + (t1 - t0) * i as f64 / (count - 1) as f64
            };
            out.push(EventRecord {
                time: (time * 1000.0).round() / 1000.0,
                ..record.clone()
            });
        }
    }
    out.sort_by(|a, b| a.time.total_cmp(&b.time));
    Ok(out)
}

/// Deletes every namespaced object of kind `K` that `lp` selects.
async fn delete_labelled<K>(
    client: &kube::Client,
    lp: &kube::api::ListParams,
    dp: &kube::api::DeleteParams,
) -> Result<(), String>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + k8s_openapi::serde::de::DeserializeOwned,
    <K as kube::Resource>::DynamicType: Default,
{
    use kube::api::{Api, ResourceExt};
    let all: Api<K> = Api::all(client.clone());
    for o in all.list(lp).await.map_err(|e| e.to_string())? {
        let api: Api<K> = Api::namespaced(
            client.clone(),
            o.namespace().as_deref().unwrap_or("default"),
        );
        let _ = api.delete(&o.name_any(), dp).await;
    }
    Ok(())
}

/// Deletes what the run created on a cluster it did not start: its Deployments (by the run
/// label), the pods bound to its nodes, the nodes, the metrics registrations (the resource
/// metrics' here; the custom and external metrics' Service and APIServices are among what it
/// created) and every other object it created that still carries its label.
fn delete_run_objects(kc: &mut KubeCluster) -> Result<(), String> {
    use kube::api::{Api, DeleteParams, ListParams};
    let sel = format!("{}={}", kscale_kube::RUN_LABEL, kc.run());
    let lp = ListParams::default().labels(&sel);
    let client = kc.client().clone();
    let dp = DeleteParams::default();
    let created: Vec<kscale_kube::Created> = kc.created().to_vec();
    let run = kc.run().to_string();
    kc.block_on(async {
        // The run's workloads: its StatefulSets and DaemonSets would create their pods again.
        delete_labelled::<Deployment>(&client, &lp, &dp).await?;
        delete_labelled::<StatefulSet>(&client, &lp, &dp).await?;
        delete_labelled::<DaemonSet>(&client, &lp, &dp).await?;
        let nodes: Api<Node> = Api::all(client.clone());
        let ours: Vec<String> = nodes
            .list(&lp)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect();
        let pods: Api<Pod> = Api::all(client.clone());
        for p in pods
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?
        {
            if p.spec
                .as_ref()
                .and_then(|s| s.node_name.as_ref())
                .is_some_and(|n| ours.contains(n))
            {
                let api: Api<Pod> = Api::namespaced(
                    client.clone(),
                    p.metadata.namespace.as_deref().unwrap_or("default"),
                );
                let _ = api
                    .delete(
                        p.metadata.name.as_deref().unwrap_or(""),
                        &DeleteParams::default().grace_period(0),
                    )
                    .await;
            }
        }
        for n in ours {
            let _ = nodes.delete(&n, &dp).await;
        }
        // The Cluster Autoscaler's status ConfigMap, when this run wrote it.
        let config_maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
            Api::namespaced(client.clone(), "kube-system");
        if let Ok(cm) = config_maps.get("cluster-autoscaler-status").await
            && cm
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(kscale_kube::RUN_LABEL))
                .is_some_and(|r| sel.ends_with(r.as_str()))
        {
            let _ = config_maps.delete("cluster-autoscaler-status", &dp).await;
        }
        // The metrics APIService and its Service, when this run registered them.
        let services: Api<k8s_openapi::api::core::v1::Service> =
            Api::namespaced(client.clone(), "kube-system");
        if let Ok(svc) = services.get("kscale-metrics").await
            && svc
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(kscale_kube::RUN_LABEL))
                .is_some_and(|r| sel.ends_with(r.as_str()))
        {
            let ar = kube::api::ApiResource {
                group: "apiregistration.k8s.io".into(),
                version: "v1".into(),
                api_version: "apiregistration.k8s.io/v1".into(),
                kind: "APIService".into(),
                plural: "apiservices".into(),
            };
            let apis: Api<kube::api::DynamicObject> = Api::all_with(client.clone(), &ar);
            // Only an APIService this run created: on a cluster that already serves
            // metrics.k8s.io (metrics-server), kscale's registration was refused and the
            // cluster's own must stay.
            if let Ok(api) = apis.get("v1beta1.metrics.k8s.io").await
                && api
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(kscale_kube::RUN_LABEL))
                    .is_some_and(|r| sel.ends_with(r.as_str()))
            {
                let _ = apis.delete("v1beta1.metrics.k8s.io", &dp).await;
            }
            let _ = services.delete("kscale-metrics", &dp).await;
        }
        // Everything else the run created (the manifests' other objects, the autoscalers'
        // ConfigMaps, Karpenter's CRDs when it installed them), newest first, when it still
        // carries this run's label. Objects kubectl steps created are the scenario's own.
        for c in created.iter().rev() {
            if matches!(c.resource.kind.as_str(), "Node" | "Deployment") {
                continue;
            }
            let api: Api<kube::api::DynamicObject> = match &c.namespace {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &c.resource),
                None => Api::all_with(client.clone(), &c.resource),
            };
            if let Ok(o) = api.get(&c.name).await
                && o.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(kscale_kube::RUN_LABEL))
                    .is_some_and(|r| *r == run)
            {
                let _ = api.delete(&c.name, &dp).await;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in `kubectl` that writes `bytes` bytes to stdout and a line to stderr.
    fn fake_kubectl(dir: &Path, bytes: usize) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("kubectl");
        std::fs::write(
            &path,
            format!("#!/bin/sh\nhead -c {bytes} /dev/zero | tr '\\0' x\necho done >&2\nexit 3\n"),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn a_step_with_a_large_output_is_read_whole_without_waiting_for_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        // More than a pipe's buffer (64 KiB on Linux) on stdout.
        let kubectl = fake_kubectl(dir.path(), 1 << 20);
        let started = Instant::now();
        let e = run_step(
            &kubectl,
            &dir.path().join("kubeconfig"),
            dir.path(),
            "kubectl get pods -o json",
            5_000,
            &AtomicBool::new(false),
        );
        assert!(
            started.elapsed() < STEP_TIMEOUT / 2,
            "{:?}",
            started.elapsed()
        );
        assert_eq!(e.stdout.len(), 1 << 20);
        assert_eq!(e.stderr, "done\n");
        assert_eq!(e.exit_code, 3);
        assert_eq!(e.at, 5.0);
    }

    #[test]
    fn steps_run_in_order_and_a_lasting_one_is_cut_off_at_the_end() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let kubectl = dir.path().join("kubectl");
        // `rollout status` waits (as for a rollout that never ends); anything else echoes.
        std::fs::write(
            &kubectl,
            "#!/bin/sh\nif [ \"$1\" = rollout ]; then echo waiting; exec sleep 30; fi\necho \"$@\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&kubectl, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut w = StepWorker::new(&kubectl, &dir.path().join("kc"), dir.path());
        assert!(w.idle());
        w.start("kubectl get pods", 1_000);
        assert!(!w.idle());
        let first = loop {
            if let Some(e) = w.finished() {
                break e;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!((first.stdout.as_str(), first.at), ("get pods\n", 1.0));
        assert!(w.idle());
        w.start("kubectl rollout status deployment/web", 2_000);
        std::thread::sleep(Duration::from_millis(300));
        assert!(w.finished().is_none(), "still waiting");
        let started = Instant::now();
        let cut = w.stop().expect("the running step");
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(cut.exit_code, 1);
        assert_eq!(cut.stdout, "waiting\n");
        assert_eq!(
            cut.stderr,
            "error: the run ended before the step finished\n"
        );
        assert_eq!(cut.at, 2.0);
    }
}
