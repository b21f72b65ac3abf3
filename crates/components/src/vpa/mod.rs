//! The Vertical Pod Autoscaler's three components, written against the cluster API:
//!
//! - [`Recommender`] (`vpa-recommender`): every minute, reads the pods' usage from the
//!   resource metrics API, feeds the decaying histograms per container and writes
//!   `status.recommendation` (target, bounds, uncapped target) and the
//!   `RecommendationProvided` condition;
//! - [`Updater`] (`vpa-updater`): every minute, evicts (through the eviction API, so
//!   PodDisruptionBudgets hold) the pods whose requests the recommendation says are wrong;
//! - [`admit`] (`vpa-admission-controller`): the requests and limits a new pod gets.
//!
//! Decisions come from [`kscale_controllers::vpa`]; this module reads the cluster, asks it,
//! and writes back.
//!
//! Upstream: kubernetes/autoscaler vertical-pod-autoscaler/pkg/{recommender,updater,admission-controller}

pub mod object;

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kscale_cluster::{ApiError, Cluster, Event, EventType, Patch};
use kscale_controllers::vpa::admission::{AdmittedPod, admit_pod};
use kscale_controllers::vpa::aggregate::{
    AggregateContainerState, AggregationsConfig, ContainerState,
};
use kscale_controllers::vpa::capping::apply_vpa_policy;
use kscale_controllers::vpa::recommender::{PodResourceRecommender, RecommendationConfig};
use kscale_controllers::vpa::updater::{
    OwnerRef, PodPhase, ResizeStatus, UpdateAction, UpdaterConfig, UpdaterPod, plan_updates,
};
use kscale_controllers::vpa::{
    ContainerRecommendation, PodContainer, PodResourcePolicy, ResourceList, VpaSpec,
};
use kscale_model::SimTime;

pub use object::VerticalPodAutoscaler;
use object::{Recommendation, VpaCondition, VpaStatus, resource_list};

/// `--recommender-interval`: 1 minute.
pub const RECOMMENDER_INTERVAL_MS: u64 = 60_000;
/// `--updater-interval`: 1 minute.
pub const UPDATER_INTERVAL_MS: u64 = 60_000;

/// The kubectl-style selector of a `LabelSelector` (`a=b,c in (d,e),!f`).
pub fn selector_string(s: &LabelSelector) -> String {
    let mut parts: Vec<String> = s
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in s.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            _ => format!("!{}", e.key),
        });
    }
    parts.join(",")
}

/// The label selector of a VPA's target workload, or None when the target does not exist or
/// is of a kind without one (upstream's `VpaTargetSelectorFetcher`).
pub fn target_selector<C: Cluster>(
    c: &mut C,
    namespace: &str,
    vpa: &VerticalPodAutoscaler,
) -> Result<Option<String>, ApiError> {
    let t = &vpa.spec.target_ref;
    let selector = match t.kind.as_str() {
        "Deployment" => c
            .get::<Deployment>(namespace, &t.name)?
            .and_then(|d| d.spec)
            .map(|s| s.selector),
        "ReplicaSet" => c
            .get::<ReplicaSet>(namespace, &t.name)?
            .and_then(|d| d.spec)
            .map(|s| s.selector),
        "StatefulSet" => c
            .get::<StatefulSet>(namespace, &t.name)?
            .and_then(|d| d.spec)
            .map(|s| s.selector),
        "DaemonSet" => c
            .get::<DaemonSet>(namespace, &t.name)?
            .and_then(|d| d.spec)
            .map(|s| s.selector),
        _ => None,
    };
    Ok(selector.map(|s| selector_string(&s)))
}

/// A pod's containers with their requests and limits, as the VPA reads them.
pub fn pod_containers(pod: &Pod) -> Vec<PodContainer> {
    pod.spec
        .iter()
        .flat_map(|s| &s.containers)
        .map(|c| {
            let r = c.resources.as_ref();
            PodContainer {
                name: c.name.clone(),
                requests: r
                    .and_then(|r| r.requests.as_ref())
                    .map(resource_list)
                    .unwrap_or_default(),
                limits: r
                    .and_then(|r| r.limits.as_ref())
                    .map(resource_list)
                    .unwrap_or_default(),
            }
        })
        .collect()
}

fn key_of(v: &VerticalPodAutoscaler) -> (String, String) {
    (
        v.metadata.namespace.clone().unwrap_or_default(),
        v.metadata.name.clone().unwrap_or_default(),
    )
}

/// What the recommender keeps per VPA: one aggregate per container name (upstream aggregates
/// per container name and pod labels; one VPA's pods share their labels) and each
/// container's own sample state.
#[derive(Debug, Default)]
struct Model {
    aggregates: BTreeMap<String, AggregateContainerState>,
    containers: BTreeMap<(String, String), ContainerState>,
}

/// `vpa-recommender`.
///
/// *Assumptions*: usage history starts when the recommender does (no checkpoints, no
/// Prometheus history); OOM kills are not fed back as memory samples.
#[derive(Debug)]
pub struct Recommender {
    aggregations: AggregationsConfig,
    recommender: PodResourceRecommender,
    models: BTreeMap<(String, String), Model>,
}

impl Default for Recommender {
    fn default() -> Self {
        Recommender::new()
    }
}

impl Recommender {
    /// A recommender with upstream's default flags.
    pub fn new() -> Recommender {
        Recommender {
            aggregations: AggregationsConfig::default(),
            recommender: PodResourceRecommender::new(&RecommendationConfig::default()),
            models: BTreeMap::new(),
        }
    }

    /// One loop (`RunOnce`): samples in, recommendations out. Returns the VPAs whose status
    /// it wrote.
    pub fn run_once<C: Cluster>(&mut self, c: &mut C) -> Result<Vec<String>, ApiError> {
        let now = SimTime(c.now_ms());
        let vpas = c.list::<VerticalPodAutoscaler>(None, "")?;
        let live: BTreeSet<_> = vpas.iter().map(key_of).collect();
        self.models.retain(|k, _| live.contains(k));
        let mut written = vec![];
        for v in &vpas {
            let (ns, name) = key_of(v);
            let Some(selector) = target_selector(c, &ns, v)? else {
                continue;
            };
            let pods = c.list::<Pod>(Some(&ns), &selector)?;
            let requests: BTreeMap<(String, String), ResourceList> = pods
                .iter()
                .flat_map(|p| {
                    let pod = p.metadata.name.clone().unwrap_or_default();
                    pod_containers(p)
                        .into_iter()
                        .map(move |c| ((pod.clone(), c.name), c.requests))
                })
                .collect();
            let metrics = c.pod_metrics(Some(&ns), &selector)?;
            let model = self.models.entry((ns.clone(), name.clone())).or_default();
            for m in &metrics {
                for cm in &m.containers {
                    let req = requests
                        .get(&(m.name.clone(), cm.name.clone()))
                        .copied()
                        .unwrap_or_default();
                    let state = model
                        .containers
                        .entry((m.name.clone(), cm.name.clone()))
                        .or_insert_with(|| {
                            ContainerState::new(req.cpu_milli.unwrap_or(0), req.memory.unwrap_or(0))
                        });
                    let agg = model
                        .aggregates
                        .entry(cm.name.clone())
                        .or_insert_with(|| AggregateContainerState::new(self.aggregations, now));
                    let at = SimTime(m.timestamp_ms);
                    state.add_cpu_sample(agg, at, cm.cpu_milli.round() as i64);
                    state.add_memory_sample(agg, at, cm.memory_bytes.round() as i64);
                }
            }
            let names: BTreeSet<&str> = pods
                .iter()
                .filter_map(|p| p.metadata.name.as_deref())
                .collect();
            model
                .containers
                .retain(|(pod, _), _| names.contains(pod.as_str()));
            let policy = v.spec.resource_policy.as_ref().map(PodResourcePolicy::from);
            let recommended = self
                .recommender
                .recommend_for_vpa(&model.aggregates, policy.as_ref());
            if recommended.is_empty() {
                continue;
            }
            let uncapped: Vec<ContainerRecommendation> = recommended
                .into_iter()
                .map(|(container, r)| ContainerRecommendation {
                    container_name: container,
                    target: r.target,
                    lower_bound: r.lower_bound,
                    upper_bound: r.upper_bound,
                    uncapped_target: r.target,
                })
                .collect();
            let capped = apply_vpa_policy(&uncapped, policy.as_ref(), &ResourceList::EMPTY);
            let status = VpaStatus {
                recommendation: Some(Recommendation {
                    container_recommendations: capped.iter().map(Into::into).collect(),
                }),
                conditions: Some(vec![VpaCondition {
                    type_: "RecommendationProvided".into(),
                    status: "True".into(),
                    last_transition_time: None,
                    reason: None,
                    message: None,
                }]),
            };
            if v.status.as_ref() != Some(&status) {
                let body = serde_json::json!({ "status": status });
                c.patch_status::<VerticalPodAutoscaler>(&ns, &name, &Patch::Merge(body))?;
                written.push(format!("{ns}/{name}"));
            }
        }
        Ok(written)
    }
}

/// What one updater loop did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Updates {
    /// Pods evicted, as `namespace/name`.
    pub evicted: Vec<String>,
    /// Pods resized in place, as `namespace/name`.
    pub resized: Vec<String>,
}

/// `vpa-updater`.
///
/// For `InPlaceOrRecreate` it resizes pods through the `resize` subresource with the
/// admission controller's resources, reads the kubelet's answer from the pod's
/// `PodResizePending` / `PodResizeInProgress` conditions and falls back to eviction when a
/// resize stays deferred (5 min) or in progress (1 h), or is infeasible.
///
/// *Assumptions*: a pod's start time is when the updater first saw it (within one loop of
/// its creation); OOM kills are not read from container statuses.
#[derive(Debug, Default)]
pub struct Updater {
    config: UpdaterConfig,
    first_seen: BTreeMap<(String, String), u64>,
    /// When the updater last resized each pod in place.
    in_place_at: BTreeMap<(String, String), u64>,
}

/// The kubelet's answer to a pod's resize, from its conditions.
fn resize_status(p: &Pod) -> ResizeStatus {
    let conditions = p.status.as_ref().and_then(|s| s.conditions.as_ref());
    let find = |t: &str| {
        conditions
            .into_iter()
            .flatten()
            .find(|c| c.type_ == t && c.status == "True")
    };
    if let Some(c) = find("PodResizePending") {
        return if c.reason.as_deref() == Some("Infeasible") {
            ResizeStatus::Infeasible
        } else {
            ResizeStatus::Deferred
        };
    }
    match find("PodResizeInProgress") {
        Some(c) if c.reason.as_deref() == Some("Error") => ResizeStatus::Error,
        Some(_) => ResizeStatus::InProgress,
        None => ResizeStatus::None,
    }
}

/// The `resize` patch that gives a pod's containers what the admission controller would.
fn resize_patch(admitted: &AdmittedPod) -> Patch {
    let containers: Vec<serde_json::Value> = admitted
        .containers
        .iter()
        .map(|c| {
            let mut resources = serde_json::Map::new();
            for (k, list) in [("requests", &c.requests), ("limits", &c.limits)] {
                if !list.is_empty() {
                    resources.insert(
                        k.into(),
                        serde_json::to_value(object::api_resource_list(list))
                            .expect("quantities serialize"),
                    );
                }
            }
            serde_json::json!({"name": c.name, "resources": resources})
        })
        .collect();
    Patch::Strategic(serde_json::json!({"spec": {"containers": containers}}))
}

impl Updater {
    /// An updater with upstream's default flags.
    pub fn new() -> Updater {
        Updater::default()
    }

    /// One loop (`RunOnce`): the pods it evicted, as `namespace/name` (see
    /// [`Updater::run_once_all`] for the resized ones too). An eviction refused by a
    /// PodDisruptionBudget is skipped until the next loop.
    pub fn run_once<C: Cluster>(&mut self, c: &mut C) -> Result<Vec<String>, ApiError> {
        self.run_once_all(c).map(|u| u.evicted)
    }

    /// One loop: the pods it evicted and those it resized in place.
    pub fn run_once_all<C: Cluster>(&mut self, c: &mut C) -> Result<Updates, ApiError> {
        let now = c.now_ms();
        let vpas = c.list::<VerticalPodAutoscaler>(None, "")?;
        let mut evicted = vec![];
        let mut resized = vec![];
        let mut seen = BTreeSet::new();
        for v in &vpas {
            let (ns, name) = key_of(v);
            let spec = VpaSpec::from(v);
            let Some(selector) = target_selector(c, &ns, v)? else {
                continue;
            };
            let pods: Vec<Pod> = c
                .list::<Pod>(Some(&ns), &selector)?
                .into_iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .collect();
            let mut owners = BTreeMap::new();
            let mut input = vec![];
            for p in &pods {
                let pod = p.metadata.name.clone().unwrap_or_default();
                seen.insert((ns.clone(), pod.clone()));
                let first = *self
                    .first_seen
                    .entry((ns.clone(), pod.clone()))
                    .or_insert(now);
                let owner = p
                    .metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .find(|o| o.controller == Some(true))
                    .map(|o| OwnerRef {
                        kind: o.kind.clone(),
                        name: o.name.clone(),
                    });
                if let Some(o) = &owner
                    && !owners.contains_key(o)
                {
                    let replicas = match o.kind.as_str() {
                        "ReplicaSet" => c
                            .get::<ReplicaSet>(&ns, &o.name)?
                            .and_then(|r| r.spec?.replicas),
                        "StatefulSet" => c
                            .get::<StatefulSet>(&ns, &o.name)?
                            .and_then(|r| r.spec?.replicas),
                        _ => None,
                    };
                    if let Some(r) = replicas {
                        owners.insert(o.clone(), r.max(0) as u32);
                    }
                }
                let running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
                input.push(UpdaterPod {
                    name: pod,
                    owner,
                    phase: if running {
                        PodPhase::Running
                    } else {
                        PodPhase::Pending
                    },
                    start_time: Some(SimTime(first)),
                    containers: pod_containers(p),
                    observed_containers: p
                        .metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get("vpaObservedContainers"))
                        .cloned(),
                    resize: resize_status(p),
                    last_in_place_attempt: self
                        .in_place_at
                        .get(&(ns.clone(), p.metadata.name.clone().unwrap_or_default()))
                        .map(|t| SimTime(*t)),
                    ..UpdaterPod::default()
                });
            }
            for d in plan_updates(&spec, &input, &owners, &self.config, SimTime(now)) {
                if d.action == UpdateAction::ResizeInPlace {
                    let Some(pod) = input.iter().find(|p| p.name == d.pod) else {
                        continue;
                    };
                    let Some(admitted) = admit_pod(&spec, &pod.containers) else {
                        continue;
                    };
                    match c.resize(&ns, &d.pod, &resize_patch(&admitted)) {
                        Ok(_) => {}
                        // Refused (e.g. the QoS class would change): the next loop evicts.
                        Err(ApiError::Invalid(_) | ApiError::NotFound { .. }) => continue,
                        Err(e) => return Err(e),
                    }
                    self.in_place_at.insert((ns.clone(), d.pod.clone()), now);
                    c.event(Event {
                        type_: EventType::Normal,
                        reason: "InPlaceResizedByVPA".into(),
                        kind: "Pod".into(),
                        namespace: ns.clone(),
                        name: d.pod.clone(),
                        message: "Pod was resized in place by VPA Updater.".into(),
                        source: "vpa-updater".into(),
                    });
                    resized.push(format!("{ns}/{}", d.pod));
                    continue;
                }
                if d.action != UpdateAction::Evict {
                    continue;
                }
                match c.evict(&ns, &d.pod, None) {
                    Ok(()) => {}
                    Err(ApiError::TooManyRequests(_) | ApiError::NotFound { .. }) => continue,
                    Err(e) => return Err(e),
                }
                c.event(Event {
                    type_: EventType::Normal,
                    reason: "EvictedByVPA".into(),
                    kind: "Pod".into(),
                    namespace: ns.clone(),
                    name: d.pod.clone(),
                    message: "Pod was evicted by VPA Updater to apply resource recommendation."
                        .into(),
                    source: "vpa-updater".into(),
                });
                c.event(Event {
                    type_: EventType::Normal,
                    reason: "EvictedPod".into(),
                    kind: "VerticalPodAutoscaler".into(),
                    namespace: ns.clone(),
                    name: name.clone(),
                    message: format!(
                        "VPA Updater evicted Pod {} to apply resource recommendation.",
                        d.pod
                    ),
                    source: "vpa-updater".into(),
                });
                evicted.push(format!("{ns}/{}", d.pod));
            }
        }
        self.first_seen.retain(|k, _| seen.contains(k));
        self.in_place_at.retain(|k, _| seen.contains(k));
        Ok(Updates { evicted, resized })
    }
}

/// The admission controller's decision for a new pod in `namespace` with `labels` and
/// `containers`: the VPA that controls it (the first, by name, whose target selects the
/// labels) and what it sets, or None (no VPA, mode Off, no recommendation yet).
///
/// Upstream: vertical-pod-autoscaler/pkg/admission-controller/resource/pod/handler.go and
/// pkg/utils/vpa/api.go (`GetControllingVPAForPod`)
pub fn admit<C: Cluster>(
    c: &mut C,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    containers: &[PodContainer],
) -> Result<Option<(String, AdmittedPod)>, ApiError> {
    Ok(AdmissionView::read(c, Some(namespace))?.admit(namespace, labels, containers))
}

/// What the admission controller knows of the VPAs, read once and asked many times (upstream's
/// admission controller reads VPAs through an informer cache; a webhook serving pod creations
/// asks this view, refreshed by its caller).
#[derive(Debug, Clone, Default)]
pub struct AdmissionView {
    /// Per VPA, in list order (namespace, name): its namespace, the selector of its target's
    /// pods (`Err`: unparsable) and what the admission controller reads of it.
    entries: Vec<(String, Result<kscale_model::LabelSelector, String>, VpaSpec)>,
}

impl AdmissionView {
    /// Reads the VPAs of `namespace` (all when `None`) and their targets' selectors. A VPA
    /// whose target has no selector is left out.
    pub fn read<C: Cluster>(c: &mut C, namespace: Option<&str>) -> Result<Self, ApiError> {
        let vpas = c.list::<VerticalPodAutoscaler>(namespace, "")?;
        let mut entries = vec![];
        for v in &vpas {
            let ns = v.metadata.namespace.clone().unwrap_or_default();
            let Some(selector) = target_selector(c, &ns, v)? else {
                continue;
            };
            if selector.is_empty() {
                continue;
            }
            let sel = kscale_model::LabelSelector::parse(&selector);
            entries.push((ns, sel, VpaSpec::from(v)));
        }
        Ok(AdmissionView { entries })
    }

    /// Whether it holds no VPA.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The decision for a new pod, as [`admit`].
    pub fn admit(
        &self,
        namespace: &str,
        labels: &BTreeMap<String, String>,
        containers: &[PodContainer],
    ) -> Option<(String, AdmittedPod)> {
        for (ns, sel, spec) in &self.entries {
            if ns != namespace {
                continue;
            }
            // An unparsable selector fails the whole decision, as a failed call would.
            if !sel.as_ref().ok()?.matches(labels) {
                continue;
            }
            return admit_pod(spec, containers).map(|a| (spec.name.clone(), a));
        }
        None
    }
}

/// The admission controller's mutation of a pod as a JSON patch: each container it sets
/// resources for gets them (requests and proportionally scaled limits, over what the container
/// had), and the pod its annotations (`vpaUpdates`, `vpaObservedContainers`). What a webhook
/// answers the API server with (upstream
/// vertical-pod-autoscaler/pkg/admission-controller/resource/pod/patch).
pub fn admission_patch(pod: &Pod, admitted: &AdmittedPod) -> Vec<serde_json::Value> {
    use serde_json::{Value, json};
    let mut ops = vec![];
    let containers = pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or(&[]);
    for (i, (c, set)) in containers.iter().zip(&admitted.containers).enumerate() {
        if set.requests.is_empty() && set.limits.is_empty() {
            continue;
        }
        let mut resources = c
            .resources
            .as_ref()
            .and_then(|r| serde_json::to_value(r).ok())
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        for (field, list) in [("requests", &set.requests), ("limits", &set.limits)] {
            if list.is_empty() {
                continue;
            }
            let m = resources
                .as_object_mut()
                .expect("an object")
                .entry(field)
                .or_insert_with(|| json!({}));
            if !m.is_object() {
                *m = json!({});
            }
            for (k, q) in object::api_resource_list(list) {
                m[k] = json!(q.0);
            }
        }
        ops.push(json!({"op": "add", "path": format!("/spec/containers/{i}/resources"), "value": resources}));
    }
    let mut annotations = pod.metadata.annotations.clone().unwrap_or_default();
    for (k, v) in &admitted.annotations {
        annotations.insert(k.clone(), v.clone());
    }
    ops.push(json!({"op": "add", "path": "/metadata/annotations", "value": annotations}));
    ops
}

/// The `vpa` section of `summary.json` (both backends): the updater's evictions and in-place
/// resizes, the pods admitted with recommended resources and, per VPA (`vpas`: the objects as
/// the API returns them), its update mode and last recommendation per container.
pub fn summary_json(
    evictions: u64,
    resized: u64,
    admitted: u64,
    vpas: &[serde_json::Value],
) -> serde_json::Value {
    use serde_json::json;
    let objects: Vec<serde_json::Value> = vpas
        .iter()
        .map(|o| {
            let recs = o
                .pointer("/status/recommendation/containerRecommendations")
                .cloned()
                .unwrap_or_else(|| json!([]));
            json!({
                "namespace": o.pointer("/metadata/namespace"),
                "name": o.pointer("/metadata/name"),
                "updateMode": o
                    .pointer("/spec/updatePolicy/updateMode")
                    .cloned()
                    .unwrap_or_else(|| json!("Recreate")),
                "containerRecommendations": recs,
            })
        })
        .collect();
    json!({
        "evictions": evictions,
        "inPlaceResizes": resized,
        "admittedPods": admitted,
        "autoscalers": objects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    #[test]
    fn selectors_render_as_kubectl_reads_them() {
        let s = LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "In".into(),
                    values: Some(vec!["a".into(), "b".into()]),
                },
                LabelSelectorRequirement {
                    key: "canary".into(),
                    operator: "DoesNotExist".into(),
                    values: None,
                },
            ]),
        };
        assert_eq!(selector_string(&s), "app=web,tier in (a,b),!canary");
        kscale_model::LabelSelector::parse(&selector_string(&s)).unwrap();
    }
}
