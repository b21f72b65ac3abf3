//! The kubelets' eviction managers on a `--cluster` run, as the twin's
//! (`kscale_twin::sim::eviction`, after `pkg/kubelet/eviction/eviction_manager.go`): every
//! monitoring period (10 s) each of kscale's nodes whose pods' working sets (the load's memory
//! model, else the pod's memory request) leave less than the hard threshold
//! (`memory.available<100Mi`) evicts one pod, the first by `rankMemoryPressure`, with the
//! kubelet's `EvictionThresholdMet` (Node) and `Evicted` (Pod) Events. After each load tick,
//! the kernel's OOM killer on a node whose Running pods use more than its allocatable memory
//! plus the threshold kills the highest-scoring container (`oom_score` = 1000 × usage /
//! capacity + `oom_score_adj`), one at a time until the rest fits (`SystemOOM` Event).

use k8s_openapi::api::core::v1::{Node, Pod};
use kscale_cluster::{ApiError, Cluster, Event, EventType};
use kscale_kube::KubeCluster;
use kscale_kube::kubelet::Kubelets;
use kscale_twin::sim::eviction::{
    Candidate, HARD_THRESHOLD_BYTES, SYSTEM_CRITICAL_PRIORITY, eviction_message, oom_score_adj,
    rank_memory_pressure,
};
use kscale_twin::sim::model::QosClass;

use super::load::LiveLoad;

pub use kscale_twin::sim::eviction::MONITORING_PERIOD_MS;

/// Bytes of a memory quantity; 0 when unreadable.
fn bytes(q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity) -> i64 {
    kscale_model::Quantity::parse(&q.0)
        .map(|x| x.value())
        .unwrap_or(0)
}

/// A container's memory request as written, and in bytes.
fn memory_request(c: &k8s_openapi::api::core::v1::Container) -> Option<(String, i64)> {
    let q = c.resources.as_ref()?.requests.as_ref()?.get("memory")?;
    Some((q.0.clone(), bytes(q)))
}

/// One monitoring period of every kscale node's eviction manager. Returns the pods evicted.
pub fn check(
    kc: &mut KubeCluster,
    kubelets: &mut Kubelets,
    load: &mut LiveLoad,
) -> Result<u64, ApiError> {
    let ours: std::collections::BTreeSet<String> =
        kubelets.node_names().map(String::from).collect();
    let nodes = kc.list::<Node>(None, "")?;
    let pods = kc.list::<Pod>(None, "")?;
    let mut evicted = 0;
    for node in nodes
        .iter()
        .filter(|n| ours.contains(n.metadata.name.as_deref().unwrap_or_default()))
    {
        let name = node.metadata.name.clone().unwrap_or_default();
        let allocatable = node
            .status
            .as_ref()
            .and_then(|s| s.allocatable.as_ref())
            .and_then(|a| a.get("memory"))
            .map_or(0, bytes);
        let mut used = 0.0;
        let mut cands = Vec::new();
        let mut on_node = Vec::new();
        for p in pods
            .iter()
            .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(&name))
        {
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            if matches!(phase, Some("Failed" | "Succeeded")) {
                continue;
            }
            let ns = p.metadata.namespace.clone().unwrap_or_default();
            let pod = p.metadata.name.clone().unwrap_or_default();
            let containers = p.spec.iter().flat_map(|s| s.containers.iter());
            let request: i64 = containers
                .clone()
                .filter_map(memory_request)
                .map(|(_, b)| b)
                .sum();
            let usage = load.memory_of(&ns, &pod).unwrap_or(request as f64);
            used += usage;
            let priority = p.spec.as_ref().and_then(|s| s.priority).unwrap_or(0);
            if priority >= SYSTEM_CRITICAL_PRIORITY || p.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let id = on_node.len() as u64;
            cands.push(Candidate {
                id,
                usage: Some(usage.round() as i64),
                request,
                priority,
            });
            let first = containers
                .clone()
                .next()
                .map(|c| (c.name.clone(), memory_request(c)));
            on_node.push((ns, pod, usage, first));
        }
        let available = allocatable as f64 + HARD_THRESHOLD_BYTES as f64 - used;
        if available >= HARD_THRESHOLD_BYTES as f64 || cands.is_empty() {
            continue;
        }
        rank_memory_pressure(&mut cands);
        let (ns, pod, usage, first) = &on_node[cands[0].id as usize];
        kc.event(Event {
            type_: EventType::Warning,
            reason: "EvictionThresholdMet".into(),
            kind: "Node".into(),
            namespace: String::new(),
            name: name.clone(),
            message: "Attempting to reclaim memory".into(),
            source: "kubelet".into(),
        });
        // The serving container holds the pod's working set (the load model's assumption).
        let over = first.as_ref().and_then(|(c, req)| {
            let (text, b) = req.clone().unwrap_or_else(|| ("0".into(), 0));
            (*usage > b as f64).then(|| (c.clone(), text))
        });
        let message = eviction_message(
            available,
            over.as_ref().map(|(c, r)| (c.as_str(), *usage, r.as_str())),
        );
        if kubelets.evict(kc, ns, pod, &message)? {
            load.forget_memory(ns, pod, true);
            evicted += 1;
        }
    }
    Ok(evicted)
}

/// A pod's QoS class as the API server wrote it (`status.qosClass`).
fn qos(p: &Pod) -> QosClass {
    match p.status.as_ref().and_then(|s| s.qos_class.as_deref()) {
        Some("Guaranteed") => QosClass::Guaranteed,
        Some("BestEffort") => QosClass::BestEffort,
        _ => QosClass::Burstable,
    }
}

/// The kernel's OOM killer on every kscale node whose Running pods use more memory than its
/// allocatable plus the hard threshold (the twin's `node_oom_check`). Returns the kills.
pub fn node_oom_check(
    kc: &mut KubeCluster,
    kubelets: &mut Kubelets,
    load: &mut LiveLoad,
) -> Result<u64, ApiError> {
    let ours: std::collections::BTreeSet<String> =
        kubelets.node_names().map(String::from).collect();
    let nodes = kc.list::<Node>(None, "")?;
    let mut pods: Option<Vec<Pod>> = None;
    let mut kills = 0;
    for node in nodes
        .iter()
        .filter(|n| ours.contains(n.metadata.name.as_deref().unwrap_or_default()))
    {
        let name = node.metadata.name.clone().unwrap_or_default();
        let status = node.status.as_ref();
        let memory = |m: Option<&std::collections::BTreeMap<String, _>>| {
            m.and_then(|a| a.get("memory")).map_or(0, bytes)
        };
        let allocatable = memory(status.and_then(|s| s.allocatable.as_ref()));
        let capacity = memory(status.and_then(|s| s.capacity.as_ref())).max(1);
        let room = allocatable as f64 + HARD_THRESHOLD_BYTES as f64;
        // One victim at a time, until what is left fits.
        loop {
            let pods = match &pods {
                Some(p) => p,
                None => pods.insert(kc.list::<Pod>(None, "")?),
            };
            let mut used = 0.0;
            // (score, usage, namespace, name, container)
            let mut victim: Option<(i64, f64, String, String, String)> = None;
            for p in pods.iter().filter(|p| {
                p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(name.as_str())
                    && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            }) {
                let ns = p.metadata.namespace.clone().unwrap_or_default();
                let pod = p.metadata.name.clone().unwrap_or_default();
                let containers = p.spec.iter().flat_map(|s| s.containers.iter());
                let request: i64 = containers
                    .clone()
                    .filter_map(memory_request)
                    .map(|(_, b)| b)
                    .sum();
                let usage = load.memory_of(&ns, &pod).unwrap_or(request as f64);
                used += usage;
                if kubelets.in_backoff(&ns, &pod) {
                    continue;
                }
                let critical = p
                    .spec
                    .as_ref()
                    .and_then(|s| s.priority_class_name.as_deref())
                    == Some("system-node-critical");
                let adj = oom_score_adj(qos(p), critical, request, capacity);
                let score = (1000.0 * usage / capacity as f64) as i64 + i64::from(adj);
                if victim
                    .as_ref()
                    .is_none_or(|(s, u, ..)| score > *s || (score == *s && usage > *u))
                {
                    let container = containers.clone().next().map(|c| c.name.clone());
                    victim = Some((score, usage, ns, pod, container.unwrap_or_default()));
                }
            }
            let Some((_, _, ns, pod, container)) = victim.filter(|_| used > room) else {
                break;
            };
            kc.event(Event {
                type_: EventType::Warning,
                reason: "SystemOOM".into(),
                kind: "Node".into(),
                namespace: String::new(),
                name: name.clone(),
                message: format!(
                    "System OOM encountered, victim process: {container}, pid: {}",
                    1000 + kubelets.pod_number(&ns, &pod).unwrap_or(0)
                ),
                source: "kubelet".into(),
            });
            if !kubelets.oom_kill(kc, &ns, &pod, "the node ran out of memory")? {
                break;
            }
            load.forget_memory(&ns, &pod, false);
            kills += 1;
        }
    }
    Ok(kills)
}
