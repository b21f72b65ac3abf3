//! Node-pressure eviction for memory and the OOM score adjustment, as the kubelet does them.
//!
//! - **Eviction** (kubernetes/kubernetes `pkg/kubelet/eviction/eviction_manager.go`,
//!   `helpers.go`): every 10 s (the eviction manager's monitoring period) each node compares
//!   `memory.available` with the hard threshold `memory.available<100Mi`
//!   (`pkg/kubelet/apis/config/v1beta1/defaults_linux.go`). When it is below, the kubelet ranks
//!   the node's pods with `rankMemoryPressure` — pods whose usage exceeds their memory request
//!   first (pods without stats before all), then lower priority first, then larger usage above
//!   the request first — and evicts one pod per period (hard threshold: grace period 0, PDBs
//!   ignored; critical pods, priority ≥ 2000000000, are never evicted). The evicted pod gets
//!   phase Failed, reason `Evicted`, upstream's message and an `Evicted` event; its
//!   ReplicaSet replaces it.
//! - **Memory available** (assumption): system daemons use exactly their reservation, so
//!   `available = allocatable + 100Mi − Σ pod working sets`: eviction starts when the pods use
//!   more than the node's allocatable memory. A pod's working set is its load model's memory
//!   (`memory` of its load entry) and otherwise its memory request (assumption).
//! - **OOM score** (`pkg/kubelet/qos/policy.go` `GetContainerOOMScoreAdjust`): shown on pods as
//!   the annotation `kscale.io/oom-score-adj` (`container=score`, comma-separated).
//! - **The node OOM killer** (the Linux kernel's `oom_badness` in `mm/oom_kill.c`): when the
//!   pods' working sets exceed what the node has for them (`allocatable + 100Mi`, the same
//!   assumption as above: `available` below 0) — between two eviction checks, or faster than
//!   eviction frees memory — the kernel kills at once the container with the highest
//!   `oom_score`: its share of the node's memory in thousandths plus its `oom_score_adj`
//!   (Guaranteed −997, BestEffort 1000, Burstable by request), largest usage first on a tie,
//!   until the rest fit. The container is OOM-killed and restarted as for its own limit, and
//!   the kubelet records the node event `SystemOOM` (`pkg/kubelet/oom_watcher_linux.go`:
//!   "System OOM encountered, victim process: NAME, pid: PID"; the pid is the twin's, an
//!   assumption). Seed 001's "Burstable with a high request and no limit": a high request
//!   gives a low score, so such a pod is unlikely to be the one killed.
//! - **OOM kills and restarts** (the kubelet): a container whose memory use exceeds its limit
//!   (or the node OOM killer's victim) is OOM-killed and restarted after the CrashLoopBackOff
//!   delay, 10 s doubling per restart up to 5 minutes (`pkg/kubelet/kubelet.go`
//!   `backOffPeriod`, `MaxContainerBackOff`); it is not Ready again until its start-up time
//!   has passed.

use std::collections::BTreeMap;

use kscale_model::SimTime;
use kscale_model::quantity::format_bytes;
use serde::Serialize;

use kscale_cluster::ChangeType;

use super::changes::Topic;
use super::model::{PodPhase, QosClass};
use super::{Event, Sim};

/// Hard eviction threshold `memory.available<100Mi` (Linux default).
pub const HARD_THRESHOLD_BYTES: i64 = 100 << 20;
/// Eviction manager monitoring period: 10 s (`evictionMonitoringPeriod`).
pub const MONITORING_PERIOD_MS: u64 = 10_000;
/// Priority from which a pod is critical and never evicted (`SystemCriticalPriority`).
pub const SYSTEM_CRITICAL_PRIORITY: i32 = 2_000_000_000;
/// `guaranteedOOMScoreAdj`.
pub const GUARANTEED_OOM_SCORE_ADJ: i32 = -997;
/// `besteffortOOMScoreAdj`.
pub const BESTEFFORT_OOM_SCORE_ADJ: i32 = 1000;

/// Initial CrashLoopBackOff delay: 10 s.
pub const BACKOFF_INITIAL_MS: u64 = 10_000;
/// Maximum CrashLoopBackOff delay: 5 min.
pub const BACKOFF_MAX_MS: u64 = 300_000;

/// OOM kills and evictions of one workload, for `summary.json`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadCounters {
    /// Containers OOM-killed.
    pub oom_kills: u64,
    /// Pods evicted for node memory pressure.
    pub evictions: u64,
}

/// The kubelets' memory bookkeeping for node-pressure eviction and OOM kills
/// (`pkg/kubelet/eviction/eviction_manager.go`): the pods' working sets as the summary API
/// reports them, whether the monitoring loop runs, which OOM-killed containers wait in their
/// restart back-off (`CrashLoopBackOff`, `pkg/kubelet/kuberuntime/kuberuntime_manager.go`
/// `doBackOff`), and the OOM kills and evictions counted per workload for `summary.json`.
#[derive(Debug, Default)]
pub struct EvictionManager {
    /// Memory each pod uses now (bytes), when its load entry models memory.
    working_sets: BTreeMap<u64, f64>,
    /// The monitoring loop is running.
    running: bool,
    /// Pods whose container is in its restart back-off, until when.
    crash_backoff: BTreeMap<u64, SimTime>,
    /// OOM kills and evictions per workload (`namespace/kind/name`).
    counters: BTreeMap<String, WorkloadCounters>,
}

impl EvictionManager {
    /// Asks for the monitoring loop: true if it was not running yet (the caller queues its
    /// first check).
    pub fn start(&mut self) -> bool {
        !std::mem::replace(&mut self.running, true)
    }

    /// The pod's working set (bytes) as the load model set it, if it did.
    pub fn working_set(&self, id: u64) -> Option<f64> {
        self.working_sets.get(&id).copied()
    }

    /// The pods with a modelled working set, by id.
    pub fn working_sets(&self) -> impl Iterator<Item = (u64, f64)> + '_ {
        self.working_sets.iter().map(|(&id, &m)| (id, m))
    }

    /// The load model sets the pod's working set (bytes).
    pub fn set_working_set(&mut self, id: u64, bytes: f64) {
        self.working_sets.insert(id, bytes);
    }

    /// The pod is gone: its working set is dropped.
    pub fn pod_gone(&mut self, id: u64) {
        self.working_sets.remove(&id);
    }

    /// The pod's container was OOM-killed: its working set is dropped and the kill counted
    /// for `workload`.
    pub fn oom_killed(&mut self, id: u64, workload: String) {
        self.working_sets.remove(&id);
        self.counters.entry(workload).or_default().oom_kills += 1;
    }

    /// The pod was evicted: its back-off and working set are dropped and the eviction
    /// counted for `workload`.
    pub fn evicted(&mut self, id: u64, workload: String) {
        self.crash_backoff.remove(&id);
        self.working_sets.remove(&id);
        self.counters.entry(workload).or_default().evictions += 1;
    }

    /// The pod's container waits in its restart back-off until `until`.
    pub fn back_off(&mut self, id: u64, until: SimTime) {
        self.crash_backoff.insert(id, until);
    }

    /// The pod's container runs again: its back-off is over.
    pub fn restarted(&mut self, id: u64) {
        self.crash_backoff.remove(&id);
    }

    /// When the pod's restart back-off ends, if it is in one.
    pub fn backoff_until(&self, id: u64) -> Option<SimTime> {
        self.crash_backoff.get(&id).copied()
    }

    /// Whether the pod's container is in its restart back-off (no process to kill).
    pub fn in_backoff(&self, id: u64) -> bool {
        self.crash_backoff.contains_key(&id)
    }

    /// OOM kills and evictions per workload (`namespace/kind/name`) that had one.
    pub fn counters(&self) -> &BTreeMap<String, WorkloadCounters> {
        &self.counters
    }
}

/// What the eviction manager knows of one pod when ranking.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Pod id.
    pub id: u64,
    /// Working set (bytes); None: no stats.
    pub usage: Option<i64>,
    /// Memory request (bytes).
    pub request: i64,
    /// Priority.
    pub priority: i32,
}

/// `rankMemoryPressure`: `orderedBy(exceedMemoryRequests, priority, memory)`; the first pod
/// is evicted first. Ties keep the input order (stable sort, like Go's `sort.Sort` on
/// equal keys is not guaranteed to; the twin needs determinism).
pub fn rank_memory_pressure(pods: &mut [Candidate]) {
    pods.sort_by(|a, b| {
        let exceeds = |c: &Candidate| c.usage.is_some_and(|u| u > c.request);
        let by_stats = |a: &Candidate, b: &Candidate| b.usage.is_none().cmp(&a.usage.is_none());
        let ord = match (a.usage, b.usage) {
            (Some(_), Some(_)) => exceeds(b).cmp(&exceeds(a)),
            _ => by_stats(a, b),
        };
        ord.then(a.priority.cmp(&b.priority))
            .then_with(|| match (a.usage, b.usage) {
                (Some(x), Some(y)) => (y - b.request).cmp(&(x - a.request)),
                _ => by_stats(a, b),
            })
    });
}

/// `GetContainerOOMScoreAdjust` for one container: node-critical or Guaranteed −997,
/// BestEffort 1000, Burstable `1000 − 1000·request/capacity` kept within [3, 999].
pub fn oom_score_adj(
    qos: QosClass,
    node_critical: bool,
    memory_request: i64,
    memory_capacity: i64,
) -> i32 {
    if node_critical {
        return GUARANTEED_OOM_SCORE_ADJ;
    }
    match qos {
        QosClass::Guaranteed => GUARANTEED_OOM_SCORE_ADJ,
        QosClass::BestEffort => BESTEFFORT_OOM_SCORE_ADJ,
        QosClass::Burstable => {
            let adj = 1000 - (1000 * memory_request as i128 / memory_capacity.max(1) as i128);
            if adj < (1000 + GUARANTEED_OOM_SCORE_ADJ) as i128 {
                1000 + GUARANTEED_OOM_SCORE_ADJ
            } else if adj == BESTEFFORT_OOM_SCORE_ADJ as i128 {
                BESTEFFORT_OOM_SCORE_ADJ - 1
            } else {
                adj as i32
            }
        }
    }
}

/// A byte count as the kubelet reads it from cgroups (whole 4 KiB pages), rendered as a
/// BinarySI quantity.
fn page_quantity(bytes: f64) -> String {
    let pages = (bytes.max(0.0) / 4096.0).round() as i64;
    format_bytes(pages * 4096)
}

/// The message of a memory-pressure eviction (`pkg/kubelet/eviction/helpers.go`
/// `evictionMessage`): the node's `available` bytes, and the container (name, working set,
/// its request as written) when it uses more than its request.
pub fn eviction_message(available: f64, over_request: Option<(&str, f64, &str)>) -> String {
    let mut message = format!(
        "The node was low on resource: memory. Threshold quantity: {}, available: {}. ",
        format_bytes(HARD_THRESHOLD_BYTES),
        page_quantity(available)
    );
    if let Some((container, usage, request)) = over_request {
        message += &format!(
            "Container {container} was using {}, request is {request}, has larger consumption of memory. ",
            page_quantity(usage)
        );
    }
    message
}

impl Sim {
    /// Starts the eviction managers' loop (once), when some pod's memory can grow.
    pub fn start_eviction_checks(&mut self) {
        if self.eviction.start() {
            self.queue.push(
                self.now.plus_millis(MONITORING_PERIOD_MS),
                Event::EvictionCheck,
            );
        }
    }

    /// The working set of a pod now (bytes): the load model's memory, else its request.
    pub fn pod_memory_usage(&self, id: u64) -> f64 {
        match self.eviction.working_set(id) {
            Some(m) => m,
            None => self
                .pods
                .get(&id)
                .map(|p| p.template.requests.memory as f64)
                .unwrap_or(0.0),
        }
    }

    /// `kscale.io/oom-score-adj` of a bound pod: `container=score` per container.
    pub fn oom_score_annotation(&self, id: u64) -> Option<String> {
        let p = self.pods.get(&id)?;
        let node = self.nodes.get(p.node.as_ref()?)?;
        let critical = p.template.priority_class.as_deref() == Some("system-node-critical");
        Some(
            p.template
                .containers
                .iter()
                .map(|c| {
                    let adj = oom_score_adj(
                        p.template.qos,
                        critical,
                        c.requests.memory,
                        node.capacity.memory,
                    );
                    format!("{}={adj}", c.name)
                })
                .collect::<Vec<_>>()
                .join(","),
        )
    }

    /// The kernel's OOM killer on every node whose pods use more memory than it has for them
    /// (see the module documentation); called after each load tick.
    pub fn node_oom_check(&mut self) {
        // Requests fit the allocatable, so only a node with a pod above its request can run
        // out of memory.
        let mut names = std::collections::BTreeSet::new();
        for (id, m) in self.eviction.working_sets() {
            if let Some(p) = self.pods.get(&id)
                && m > p.template.requests.memory as f64
                && let Some(n) = &p.node
            {
                names.insert(n.clone());
            }
        }
        for name in names {
            // One victim at a time, until what is left fits.
            while let Some(n) = self.nodes.get(&name) {
                let capacity = n.capacity.memory.max(1) as f64;
                let room = n.info.allocatable.memory as f64 + HARD_THRESHOLD_BYTES as f64;
                let mut used = 0.0;
                // (score, usage, id), the highest score killed first.
                let mut victim: Option<(i64, f64, u64)> = None;
                for pi in &n.info.pods {
                    let Some(p) = self.pods.get(&pi.id) else {
                        continue;
                    };
                    if p.phase != PodPhase::Running {
                        continue;
                    }
                    let usage = self.pod_memory_usage(p.id);
                    used += usage;
                    // A container in its restart back-off has no process to kill.
                    if self.eviction.in_backoff(p.id) {
                        continue;
                    }
                    let critical =
                        p.template.priority_class.as_deref() == Some("system-node-critical");
                    let adj = oom_score_adj(
                        p.template.qos,
                        critical,
                        p.template.requests.memory,
                        n.capacity.memory,
                    );
                    let score = (1000.0 * usage / capacity) as i64 + adj as i64;
                    if victim.is_none_or(|(s, u, _)| score > s || (score == s && usage > u)) {
                        victim = Some((score, usage, p.id));
                    }
                }
                let Some((_, _, id)) = victim.filter(|_| used > room) else {
                    break;
                };
                let container = self.pods[&id].template.first_container_name();
                self.emit(
                    "Warning",
                    "SystemOOM",
                    "Node",
                    "",
                    &name,
                    format!(
                        "System OOM encountered, victim process: {container}, pid: {}",
                        1000 + id
                    ),
                    "kubelet",
                );
                self.count("nodeOomKills");
                self.oom_kill_for(id, "the node ran out of memory");
            }
        }
    }

    /// One monitoring period of every node's eviction manager.
    pub fn eviction_check(&mut self) {
        // Requests fit the allocatable, so only a node with a pod above its request can be
        // under pressure: only those nodes are examined.
        let mut names = std::collections::BTreeSet::new();
        for (id, m) in self.eviction.working_sets() {
            if let Some(p) = self.pods.get(&id)
                && m > p.template.requests.memory as f64
                && let Some(n) = &p.node
            {
                names.insert(n.clone());
            }
        }
        for name in names {
            let Some(n) = self.nodes.get(&name) else {
                continue;
            };
            let mut cands = vec![];
            let mut used = 0.0;
            for pi in &n.info.pods {
                let Some(p) = self.pods.get(&pi.id) else {
                    continue;
                };
                if matches!(p.phase, PodPhase::Failed | PodPhase::Succeeded) {
                    continue;
                }
                let usage = self.pod_memory_usage(p.id);
                used += usage;
                if p.priority >= SYSTEM_CRITICAL_PRIORITY || p.deleting_at.is_some() {
                    continue;
                }
                cands.push(Candidate {
                    id: p.id,
                    usage: Some(usage.round() as i64),
                    request: p.template.requests.memory,
                    priority: p.priority,
                });
            }
            let available = n.info.allocatable.memory as f64 + HARD_THRESHOLD_BYTES as f64 - used;
            if available >= HARD_THRESHOLD_BYTES as f64 || cands.is_empty() {
                continue;
            }
            rank_memory_pressure(&mut cands);
            self.emit(
                "Warning",
                "EvictionThresholdMet",
                "Node",
                "",
                &name,
                "Attempting to reclaim memory".into(),
                "kubelet",
            );
            self.evict_pod(cands[0].id, available);
        }
        let next = self.now.plus_millis(MONITORING_PERIOD_MS);
        if next <= self.end {
            self.queue.push(next, Event::EvictionCheck);
        }
    }

    /// Evicts a pod for memory pressure (`available` bytes on its node): containers killed
    /// at once, phase Failed, reason Evicted; the node's resources are freed.
    pub fn evict_pod(&mut self, id: u64, available: f64) {
        let usage = self.pod_memory_usage(id);
        let Some(p) = self.pods.get(&id) else { return };
        // The serving container holds the pod's working set (assumption of the load model).
        let over = p
            .template
            .containers
            .first()
            .filter(|c| usage > c.requests.memory as f64)
            .map(|c| {
                let request = p
                    .template
                    .spec
                    .pointer("/containers/0/resources/requests/memory")
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| format_bytes(c.requests.memory));
                (c.name.as_str(), request)
            });
        let message = eviction_message(
            available,
            over.as_ref().map(|(c, r)| (*c, usage, r.as_str())),
        );
        let (ns, name) = (p.namespace.to_string(), p.name.to_string());
        let workload = self.workload_of(id);
        let node = p.node.clone();
        let p = self.pods.get_mut(&id).expect("checked");
        p.phase = PodPhase::Failed;
        p.ready_at = None;
        p.generation += 1;
        p.evicted = Some(message.clone());
        p.ready_changed = Some(self.now);
        self.pod_changed(id, ChangeType::Modified);
        self.eviction.evicted(id, workload);
        if let Some(n) = node.as_ref().and_then(|n| self.nodes.get_mut(n))
            && let Some(i) = n.info.pods.iter().position(|x| x.id == id)
        {
            let x = n.info.pods.swap_remove(i);
            n.info.requested -= x.requests;
            n.pods_stamp = self.store.record(Topic::NodePods);
            self.note_unbound(x.priority);
        }
        self.count("evictions");
        self.emit("Warning", "Evicted", "Pod", &ns, &name, message, "kubelet");
        self.store.record(Topic::PodPlacement);
        self.owner_changed_pub(id);
        self.cluster_changed();
    }

    /// The kernel OOM-kills a pod's container for exceeding its memory limit: not Ready,
    /// restart after the back-off.
    pub fn oom_kill(&mut self, id: u64) {
        self.oom_kill_for(id, "memory over its limit");
    }

    /// The kernel OOM-kills a pod's container (`why`, for the event): not Ready, restart
    /// after the back-off.
    pub fn oom_kill_for(&mut self, id: u64, why: &str) {
        let now = self.now;
        if let Some(p) = self.pods.get_mut(&id) {
            p.ready_changed = Some(now);
        }
        let workload = self.workload_of(id);
        self.eviction.oom_killed(id, workload);
        let Some(p) = self.pods.get_mut(&id) else {
            return;
        };
        p.ready_at = None;
        p.restarts += 1;
        p.generation += 1;
        let (ns, name, restarts, generation) = (
            p.namespace.to_string(),
            p.name.to_string(),
            p.restarts,
            p.generation,
        );
        let container = p.template.first_container_name();
        let backoff =
            (BACKOFF_INITIAL_MS << (restarts.saturating_sub(1)).min(10)).min(BACKOFF_MAX_MS);
        self.eviction.back_off(id, self.now.plus_millis(backoff));
        self.count("oomKills");
        self.emit(
            "Warning",
            "OOMKilled",
            "Pod",
            &ns,
            &name,
            format!("Container {container} was OOM-killed ({why}); restart {restarts}"),
            "kubelet",
        );
        self.emit(
            "Warning",
            "BackOff",
            "Pod",
            &ns,
            &name,
            format!("Back-off restarting failed container {container} in pod {name}"),
            "kubelet",
        );
        self.queue.push(
            self.now.plus_millis(backoff + self.lat.container_start_ms),
            Event::ContainerRestarted(id, generation),
        );
        self.owner_changed_pub(id);
    }

    /// The back-off is over and the container runs again; Ready after the start-up time.
    pub fn container_restarted(&mut self, id: u64, generation: u32) {
        let Some(p) = self.pods.get(&id) else { return };
        if p.generation != generation || p.deleting_at.is_some() {
            return;
        }
        self.eviction.restarted(id);
        let (ns, name) = (p.namespace.to_string(), p.name.to_string());
        let container = p.template.first_container_name();
        let readiness = p.template.readiness_delay_ms;
        self.emit(
            "Normal",
            "Started",
            "Pod",
            &ns,
            &name,
            format!("Started container {container}"),
            "kubelet",
        );
        let delay = readiness + self.startup_delay_ms(id);
        self.queue
            .push(self.now.plus_millis(delay), Event::PodReady(id, generation));
    }

    /// Time the pod's current back-off ends, if it is in CrashLoopBackOff.
    pub fn backoff_until(&self, id: u64) -> Option<SimTime> {
        self.eviction.backoff_until(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MI: i64 = 1 << 20;

    fn c(id: u64, usage: Option<i64>, request: i64, priority: i32) -> Candidate {
        Candidate {
            id,
            usage,
            request,
            priority,
        }
    }

    #[test]
    fn ranking_follows_rank_memory_pressure() {
        // helpers.go TestOrderedByExceedsRequestMemory / TestOrderedByPriority /
        // TestOrderedbyMemory-style: over-request pods first, then priority, then usage − request.
        let mut pods = vec![
            c(1, Some(500 * MI), 1000 * MI, 0),    // under request
            c(2, Some(1500 * MI), 1000 * MI, 100), // over by 500Mi, high priority
            c(3, Some(1200 * MI), 1000 * MI, 0),   // over by 200Mi, low priority
            c(4, Some(1900 * MI), 1000 * MI, 0),   // over by 900Mi, low priority
            c(5, None, 0, 1000),                   // no stats: first of all
        ];
        rank_memory_pressure(&mut pods);
        let order: Vec<u64> = pods.iter().map(|p| p.id).collect();
        assert_eq!(order, vec![5, 4, 3, 2, 1]);
        // A BestEffort pod (request 0) using anything exceeds its request.
        let mut pods = vec![
            c(1, Some(900 * MI), 1000 * MI, -10),
            c(2, Some(10 * MI), 0, 0),
        ];
        rank_memory_pressure(&mut pods);
        assert_eq!(pods[0].id, 2);
    }

    #[test]
    fn oom_score_adj_as_policy_go() {
        // policy_test.go: Guaranteed −997, BestEffort 1000, Burstable 1000 − 1000·req/cap.
        let cap = 4000 * MI;
        assert_eq!(
            oom_score_adj(QosClass::Guaranteed, false, cap / 2, cap),
            -997
        );
        assert_eq!(oom_score_adj(QosClass::BestEffort, false, 0, cap), 1000);
        assert_eq!(
            oom_score_adj(QosClass::Burstable, false, cap / 10, cap),
            900
        );
        // Requesting (almost) the whole node: floored at 3.
        assert_eq!(oom_score_adj(QosClass::Burstable, false, cap, cap), 3);
        // Requesting nothing: 999, never BestEffort's 1000.
        assert_eq!(oom_score_adj(QosClass::Burstable, false, 0, cap), 999);
        assert_eq!(oom_score_adj(QosClass::Burstable, true, 0, cap), -997);
    }
}
