//! Adapters from the API's typed objects (k8s-openapi) into the inputs of
//! [`kscale_controllers::cluster_autoscaler`] and its scheduler predicates: what upstream's
//! cluster snapshot (`simulator/clustersnapshot`, `simulator/framework.NodeInfo`) holds of a
//! pod, a node or a PodDisruptionBudget.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Container, ContainerStatus, Node, Pod, PodSpec};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use kscale_controllers::cluster_autoscaler::scale_down::{self, ControllerKind, PodDrainInfo};
use kscale_controllers::daemonset::{DaemonPod, with_daemon_tolerations};
use kscale_controllers::scheduler::{
    NodeInfo, PdbInfo, PlacementConstraints, PodAffinity, PodInfo,
};
use kscale_model::labels::Labels;
use kscale_model::{
    LabelSelector, NodeSelectorRequirement, NodeSelectorTerm, Quantity, Resources, SelectorOp,
    SimTime, Taint, TaintEffect, Toleration, TolerationOp,
};

/// The annotation a static pod's mirror carries.
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// `cluster-autoscaler.kubernetes.io/safe-to-evict`.
const SAFE_TO_EVICT: &str = "cluster-autoscaler.kubernetes.io/safe-to-evict";
/// `cluster-autoscaler.kubernetes.io/scale-down-disabled` (on a node).
pub const SCALE_DOWN_DISABLED: &str = "cluster-autoscaler.kubernetes.io/scale-down-disabled";

fn milli(q: Option<&ApiQuantity>) -> Option<i64> {
    q.and_then(|q| Quantity::parse(&q.0).ok())
        .map(|x| x.milli())
}

fn value(q: Option<&ApiQuantity>) -> Option<i64> {
    q.and_then(|q| Quantity::parse(&q.0).ok())
        .map(|x| x.value())
}

/// CPU (milli) and memory (bytes) of a resource list; `pods` 0.
fn resources(list: Option<&BTreeMap<String, ApiQuantity>>) -> Resources {
    Resources {
        cpu_milli: milli(list.and_then(|l| l.get("cpu"))).unwrap_or(0),
        memory: value(list.and_then(|l| l.get("memory"))).unwrap_or(0),
        pods: 0,
    }
}

/// A container's request from the spec: its requests, each defaulting to its limit (API
/// defaulting).
fn spec_container_requests(c: &Container) -> Resources {
    let r = c.resources.as_ref();
    let requests = r.and_then(|r| r.requests.as_ref());
    let limits = resources(r.and_then(|r| r.limits.as_ref()));
    let mut out = resources(requests);
    if requests.and_then(|l| l.get("cpu")).is_none() {
        out.cpu_milli = limits.cpu_milli;
    }
    if requests.and_then(|l| l.get("memory")).is_none() {
        out.memory = limits.memory;
    }
    out
}

/// The containers' requests summed, at least each init container's (`per` gives a
/// container's; `init` an init container's).
fn aggregate(
    spec: &PodSpec,
    per: impl Fn(&Container) -> Resources,
    init: impl Fn(&Container) -> Resources,
) -> Resources {
    let mut sum = spec
        .containers
        .iter()
        .fold(Resources::ZERO, |a, c| a + per(c));
    for c in spec.init_containers.iter().flatten() {
        sum = sum.max(&init(c));
    }
    sum
}

/// A pod's effective request from its spec (upstream `resourcehelper.PodRequests`): the
/// larger of the sum of its containers and each init container, plus the overhead; a
/// container's request defaults to its limit (API defaulting); `pods` is 1.
pub fn pod_requests(spec: &PodSpec) -> Resources {
    let mut sum = aggregate(spec, spec_container_requests, |c| {
        resources(c.resources.as_ref().and_then(|r| r.requests.as_ref()))
    });
    sum += resources(spec.overhead.as_ref());
    sum.pods = 1;
    sum
}

/// Whether the pod's resize is pending as `Infeasible` (component-helpers
/// `IsPodResizeInfeasible`).
fn resize_infeasible(pod: &Pod) -> bool {
    pod.status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .find(|c| c.type_ == "PodResizePending")
        .is_some_and(|c| c.reason.as_deref() == Some("Infeasible"))
}

/// A pod's effective request as the scheduler framework counts it with in-place resizes
/// (component-helpers `resource/helpers.go` `PodRequests` with `UseStatusResources`, which
/// the scheduler and the Cluster Autoscaler's snapshot use since `InPlacePodVerticalScaling`
/// went GA): the largest of the spec's requests ([`pod_requests`]), what the containers run
/// with (`status.containerStatuses[].resources.requests`) and what the kubelet allocated them
/// (`allocatedResources`), each aggregated over the containers as the spec's are; while the
/// resize is `Infeasible` the spec's requests are left out. A pod being resized down keeps
/// what it holds until the resize is done.
pub fn pod_requests_of(pod: &Pod) -> Resources {
    let default_spec = PodSpec::default();
    let spec = pod.spec.as_ref().unwrap_or(&default_spec);
    let statuses: Vec<&ContainerStatus> = pod
        .status
        .iter()
        .flat_map(|s| {
            s.container_statuses
                .iter()
                .flatten()
                .chain(s.init_container_statuses.iter().flatten())
        })
        .collect();
    let status = |c: &Container| statuses.iter().copied().find(|s| s.name == c.name);
    let infeasible = resize_infeasible(pod);
    let fallback = |c: &Container, init: bool| {
        if infeasible {
            Resources::ZERO
        } else if init {
            resources(c.resources.as_ref().and_then(|r| r.requests.as_ref()))
        } else {
            spec_container_requests(c)
        }
    };
    let allocated =
        |c: &Container, init: bool| match status(c).and_then(|s| s.allocated_resources.as_ref()) {
            Some(a) => resources(Some(a)),
            None => fallback(c, init),
        };
    let actuated = |c: &Container, init: bool| {
        let running = status(c)
            .and_then(|s| s.resources.as_ref())
            .and_then(|r| r.requests.as_ref());
        match running {
            Some(r) => resources(Some(r)),
            None => allocated(c, init),
        }
    };
    let allocated_sum = aggregate(spec, |c| allocated(c, false), |c| allocated(c, true));
    let actuated_sum = aggregate(spec, |c| actuated(c, false), |c| actuated(c, true));
    let mut sum = actuated_sum.max(&allocated_sum);
    if !infeasible {
        let mut from_spec = pod_requests(spec);
        from_spec -= resources(spec.overhead.as_ref());
        sum = sum.max(&Resources {
            pods: 0,
            ..from_spec
        });
    }
    sum += resources(spec.overhead.as_ref());
    sum.pods = 1;
    sum
}

fn requirements(
    list: Option<&Vec<k8s_openapi::api::core::v1::NodeSelectorRequirement>>,
) -> Vec<NodeSelectorRequirement> {
    list.into_iter()
        .flatten()
        .filter_map(|r| {
            Some(NodeSelectorRequirement {
                key: r.key.clone(),
                op: SelectorOp::parse(&r.operator)?,
                values: r.values.clone().unwrap_or_default(),
            })
        })
        .collect()
}

/// What the scheduler's filters read of a pod spec: tolerations, node selector, required node
/// affinity, `preemptionPolicy: Never`, pod affinity and anti-affinity (their label keys
/// merged for the pod's labels, as the API server stores them).
pub fn constraints(spec: &PodSpec, pod_labels: &Labels) -> PlacementConstraints {
    let tolerations = spec
        .tolerations
        .iter()
        .flatten()
        .map(|t| Toleration {
            key: t.key.clone().unwrap_or_default(),
            op: if t.operator.as_deref() == Some("Exists") {
                TolerationOp::Exists
            } else {
                TolerationOp::Equal
            },
            value: t.value.clone().unwrap_or_default(),
            effect: t.effect.as_deref().and_then(TaintEffect::parse),
        })
        .collect();
    let terms = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .map(|s| {
            s.node_selector_terms
                .iter()
                .map(|t| NodeSelectorTerm {
                    match_expressions: requirements(t.match_expressions.as_ref()),
                    match_fields: requirements(t.match_fields.as_ref()),
                })
                .collect()
        })
        .unwrap_or_default();
    PlacementConstraints {
        tolerations,
        node_selector: spec.node_selector.clone().unwrap_or_default(),
        required_node_affinity: terms,
        preemption_never: spec.preemption_policy.as_deref() == Some("Never"),
        // The Cluster Autoscaler's simulations run the filters without PodTopologySpread.
        topology_spread: Vec::new(),
        pod_affinity: PodAffinity::from_json(
            spec.affinity
                .as_ref()
                .and_then(|a| serde_json::to_value(a).ok())
                .as_ref(),
            pod_labels,
        ),
    }
}

/// A DaemonSet's pod as the node autoscalers place it on a node to be: its template's
/// constraints with the daemon tolerations, requests, and the priority of its
/// `priorityClassName` among `classes` (0 without one; `spec.priority` if set).
pub fn daemon_pod(ds: &DaemonSet, classes: &BTreeMap<String, i32>) -> Option<DaemonPod> {
    let template = &ds.spec.as_ref()?.template;
    let spec = template.spec.as_ref()?;
    let labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let mut c = constraints(spec, &labels);
    c.tolerations = with_daemon_tolerations(c.tolerations, spec.host_network == Some(true));
    let priority = spec.priority.unwrap_or_else(|| {
        spec.priority_class_name
            .as_ref()
            .and_then(|n| classes.get(n).copied())
            .unwrap_or(0)
    });
    Some(DaemonPod {
        namespace: Arc::from(ds.metadata.namespace.as_deref().unwrap_or("default")),
        name: Arc::from(ds.metadata.name.as_deref().unwrap_or("")),
        labels: Arc::new(labels),
        requests: pod_requests(spec),
        priority,
        constraints: Arc::new(c),
        node_name: spec.node_name.clone(),
    })
}

/// The DaemonSets' pods through the cluster API ([`daemon_pod`]), their priorities from the
/// PriorityClasses.
pub fn daemon_pods<C: kscale_cluster::Cluster>(
    api: &mut C,
) -> Result<Vec<DaemonPod>, kscale_cluster::ApiError> {
    let daemonsets = api.list::<DaemonSet>(None, "")?;
    if daemonsets.is_empty() {
        return Ok(vec![]);
    }
    let classes: BTreeMap<String, i32> = api
        .list::<PriorityClass>(None, "")?
        .into_iter()
        .filter_map(|c| Some((c.metadata.name?, c.value)))
        .collect();
    Ok(daemonsets
        .iter()
        .filter_map(|d| daemon_pod(d, &classes))
        .collect())
}

/// A pod as the scheduler's predicates see it, with the caller's id and start time (the
/// priority is the one admission resolved into `spec.priority`, 0 without).
pub fn pod_info(pod: &Pod, id: u64, start_time: SimTime) -> PodInfo {
    let default_spec = PodSpec::default();
    let spec = pod.spec.as_ref().unwrap_or(&default_spec);
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    PodInfo {
        id,
        namespace: Arc::from(pod.metadata.namespace.as_deref().unwrap_or("default")),
        name: Arc::from(pod.metadata.name.as_deref().unwrap_or("")),
        constraints: Arc::new(constraints(spec, &labels)),
        labels: Arc::new(labels),
        requests: pod_requests_of(pod),
        priority: spec.priority.unwrap_or(0),
        start_time,
        terminating: pod.metadata.deletion_timestamp.is_some(),
        default_selector: None,
    }
}

/// A node's taints as the model reads them (taints of an unknown effect are skipped).
pub fn node_taints(node: &Node) -> Vec<Taint> {
    node.spec
        .iter()
        .flat_map(|s| s.taints.iter().flatten())
        .filter_map(|t| {
            Some(Taint {
                key: t.key.clone(),
                value: t.value.clone().unwrap_or_default(),
                effect: TaintEffect::parse(&t.effect)?,
            })
        })
        .collect()
}

/// A node as the scheduler's predicates see it, without pods: labels, taints, cordon,
/// readiness and allocatable (cpu, memory, pods).
pub fn node_info(node: &Node) -> NodeInfo {
    let alloc = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
    let mut allocatable = resources(alloc);
    allocatable.pods = value(alloc.and_then(|a| a.get("pods"))).unwrap_or(0);
    NodeInfo {
        name: Arc::from(node.metadata.name.as_deref().unwrap_or("")),
        labels: node.metadata.labels.clone().unwrap_or_default().into(),
        taints: node_taints(node).into(),
        unschedulable: node
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false),
        ready: kscale_cluster::node_ready(node),
        allocatable,
        requested: Resources::ZERO,
        pods: vec![],
        nominated: vec![],
    }
}

/// Whether a node carries `cluster-autoscaler.kubernetes.io/scale-down-disabled: "true"`.
pub fn scale_down_disabled(node: &Node) -> bool {
    node.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(SCALE_DOWN_DISABLED))
        .is_some_and(|v| v == "true")
}

/// A PodDisruptionBudget's selector and the disruptions its status allows now (0 until the
/// disruption controller wrote its status).
pub fn pdb_info(pdb: &PodDisruptionBudget) -> PdbInfo {
    let sel = pdb.spec.as_ref().and_then(|s| s.selector.as_ref());
    let selector = LabelSelector {
        match_labels: sel.and_then(|s| s.match_labels.clone()).unwrap_or_default(),
        match_expressions: sel
            .and_then(|s| s.match_expressions.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|r| {
                Some(NodeSelectorRequirement {
                    key: r.key.clone(),
                    op: SelectorOp::parse(&r.operator)?,
                    values: r.values.clone().unwrap_or_default(),
                })
            })
            .collect(),
    };
    PdbInfo {
        namespace: pdb.metadata.namespace.clone().unwrap_or_default(),
        selector,
        disruptions_allowed: pdb.status.as_ref().map_or(0, |s| s.disruptions_allowed),
    }
}

/// The kind of a pod's controller (its owner reference with `controller: true`), if any.
pub fn controller_kind(pod: &Pod) -> Option<ControllerKind> {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .map(|o| ControllerKind::from_kind(&o.kind))
}

/// The pod's termination grace period in seconds (`terminationGracePeriodSeconds`, 30 by
/// default).
pub fn grace_seconds(pod: &Pod) -> i64 {
    pod.spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30)
        .max(0)
}

/// What the drainability rules read of a pod; `deleting_since` is when the caller first saw
/// its deletion timestamp.
pub fn drain_info(pod: &Pod, deleting_since: Option<SimTime>) -> PodDrainInfo {
    let a = pod.metadata.annotations.as_ref();
    let volumes = pod
        .spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .map(|v| {
            let empty_dir = v
                .empty_dir
                .as_ref()
                .is_some_and(|e| e.medium.as_deref() != Some("Memory"));
            (v.name.as_str(), v.host_path.is_some() || empty_dir)
        });
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    PodDrainInfo {
        controller: controller_kind(pod),
        mirror: a.is_some_and(|a| a.contains_key(MIRROR_ANNOTATION)),
        safe_to_evict: a
            .and_then(|a| a.get(SAFE_TO_EVICT))
            .and_then(|v| v.parse().ok()),
        local_storage: scale_down::uses_local_storage(
            volumes,
            a.and_then(|a| a.get(scale_down::SAFE_TO_EVICT_LOCAL_VOLUMES))
                .map(String::as_str),
        ),
        terminal: matches!(phase, Some("Succeeded" | "Failed")),
        deleting: deleting_since.map(|t| (t, grace_seconds(pod) as u64 * 1000)),
    }
}

/// Whether the scheduler gave up on a pod for now: not bound, not being deleted, and
/// `PodScheduled=False` with reason `Unschedulable`; a DaemonSet's pod is never one the
/// autoscaler can help (upstream `podlistprocessor/filter_out_daemon_sets.go`: it needs its
/// own node).
pub fn unschedulable(pod: &Pod) -> bool {
    let daemon = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "DaemonSet");
    !daemon
        && pod.spec.as_ref().is_some_and(|s| s.node_name.is_none())
        && pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| {
                c.type_ == "PodScheduled"
                    && c.status == "False"
                    && c.reason.as_deref() == Some("Unschedulable")
            })
}

/// The node a pending pod is nominated to by a preemption (`status.nominatedNodeName`).
pub fn nominated_node(pod: &Pod) -> Option<&str> {
    pod.status
        .as_ref()
        .and_then(|s| s.nominated_node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// Whether a pod is Succeeded or Failed (it holds no resources).
pub fn terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_resized_pod_counts_the_largest_of_its_spec_running_and_allocated_requests() {
        // component-helpers resource/helpers.go PodRequests (UseStatusResources).
        let resized = |spec_cpu: &str, running: &str, allocated: &str, reason: Option<&str>| {
            let mut status = json!({
                "containerStatuses": [{
                    "name": "a", "image": "x", "imageID": "", "ready": true, "restartCount": 0,
                    "resources": {"requests": {"cpu": running}},
                    "allocatedResources": {"cpu": allocated}
                }]
            });
            if let Some(r) = reason {
                status["conditions"] =
                    json!([{"type": "PodResizePending", "status": "True", "reason": r}]);
            }
            pod(json!({
                "metadata": {"name": "p", "namespace": "ns"},
                "spec": {
                    "containers": [{"name": "a", "resources": {"requests": {"cpu": spec_cpu, "memory": "64Mi"}}}],
                    "overhead": {"cpu": "10m"}
                },
                "status": status
            }))
        };
        let cpu = |p: &Pod| pod_requests_of(p).cpu_milli;
        // A resize down in progress: the pod holds what it runs with until it is done.
        assert_eq!(cpu(&resized("200m", "500m", "500m", None)), 510);
        // Allocated but not yet running (the kubelet admitted a resize up).
        assert_eq!(cpu(&resized("800m", "500m", "800m", None)), 810);
        // A resize up the node cannot take (Infeasible): the spec's request is left out.
        assert_eq!(cpu(&resized("4", "500m", "500m", Some("Infeasible"))), 510);
        // Deferred: the spec counts (the scheduler keeps the room for it).
        assert_eq!(cpu(&resized("4", "500m", "500m", Some("Deferred"))), 4010);
        // Memory only in the spec: the spec's, as before.
        assert_eq!(
            pod_requests_of(&resized("200m", "500m", "500m", None)).memory,
            64 << 20
        );
        // Without statuses (not started): the spec's request.
        let fresh = pod(json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "300m"}}}]}
        }));
        assert_eq!(
            pod_requests_of(&fresh),
            pod_requests(fresh.spec.as_ref().unwrap())
        );
        assert_eq!(cpu(&fresh), 300);
    }

    #[test]
    fn requests_default_to_limits_take_the_largest_init_container_and_add_overhead() {
        let p = pod(json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {
                "containers": [
                    {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
                    {"name": "b", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}
                ],
                "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "2"}}}],
                "overhead": {"cpu": "100m"}
            }
        }));
        let r = pod_requests(p.spec.as_ref().unwrap());
        assert_eq!(r.cpu_milli, 2100, "max(1250m, 2) + 100m");
        assert_eq!(r.memory, (64 << 20) + (1 << 30));
        assert_eq!(r.pods, 1);
    }

    #[test]
    fn constraints_read_tolerations_selectors_and_required_affinity() {
        let p = pod(json!({
            "metadata": {"name": "p"},
            "spec": {
                "containers": [],
                "nodeSelector": {"pool": "a"},
                "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
                "preemptionPolicy": "Never",
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [
                        {"key": "zone", "operator": "In", "values": ["a", "b"]}
                    ]}]
                }}}
            }
        }));
        let c = constraints(p.spec.as_ref().unwrap(), &Labels::new());
        assert_eq!(c.node_selector["pool"], "a");
        assert_eq!(c.tolerations[0].op, TolerationOp::Exists);
        assert_eq!(c.tolerations[0].effect, Some(TaintEffect::NoSchedule));
        assert!(c.preemption_never);
        assert_eq!(
            c.required_node_affinity[0].match_expressions[0].values,
            ["a", "b"]
        );
    }

    #[test]
    fn nodes_read_allocatable_taints_cordon_and_readiness() {
        let n: Node = serde_json::from_value(json!({
            "metadata": {"name": "n", "labels": {"a": "b"},
                         "annotations": {SCALE_DOWN_DISABLED: "true"}},
            "spec": {"unschedulable": true,
                     "taints": [{"key": "k", "effect": "NoSchedule"}, {"key": "x", "effect": "Odd"}]},
            "status": {"allocatable": {"cpu": "1930m", "memory": "7Gi", "pods": "29"},
                       "conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .unwrap();
        let i = node_info(&n);
        assert_eq!(
            i.allocatable,
            Resources {
                cpu_milli: 1930,
                memory: 7 << 30,
                pods: 29
            }
        );
        assert_eq!(i.taints.len(), 1);
        assert!(i.unschedulable && i.ready);
        assert!(scale_down_disabled(&n));
    }

    #[test]
    fn drain_info_reads_owners_annotations_and_local_volumes() {
        let p = pod(json!({
            "metadata": {"name": "p", "annotations": {
                SAFE_TO_EVICT: "false",
                scale_down::SAFE_TO_EVICT_LOCAL_VOLUMES: "scratch"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "d",
                                     "uid": "u", "controller": true}]},
            "spec": {"containers": [], "terminationGracePeriodSeconds": 5, "volumes": [
                {"name": "scratch", "emptyDir": {}},
                {"name": "shm", "emptyDir": {"medium": "Memory"}}
            ]},
            "status": {"phase": "Running"}
        }));
        let d = drain_info(&p, Some(SimTime(1000)));
        assert_eq!(d.controller, Some(ControllerKind::DaemonSet));
        assert_eq!(d.safe_to_evict, Some(false));
        assert!(!d.local_storage, "scratch is listed safe, shm is in memory");
        assert_eq!(d.deleting, Some((SimTime(1000), 5000)));
        let mut q = p.clone();
        q.spec.as_mut().unwrap().volumes.as_mut().unwrap()[0].name = "data".into();
        assert!(drain_info(&q, None).local_storage);
    }

    #[test]
    fn only_pods_the_scheduler_gave_up_on_are_unschedulable() {
        let cond = |reason: &str| {
            pod(json!({
                "metadata": {"name": "p"},
                "spec": {"containers": []},
                "status": {"conditions": [{"type": "PodScheduled", "status": "False", "reason": reason}]}
            }))
        };
        assert!(unschedulable(&cond("Unschedulable")));
        assert!(!unschedulable(&cond("SchedulingGated")));
        let mut bound = cond("Unschedulable");
        bound.spec.as_mut().unwrap().node_name = Some("n".into());
        assert!(!unschedulable(&bound));
    }
}
