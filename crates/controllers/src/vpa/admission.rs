//! What the VPA admission controller writes into a pod being created.

use super::capping::cap_for_pod;
use super::limits::proportional_limit;
use super::{
    ControlledValues, PodContainer, ResourceList, UpdateMode, VpaSpec, container_controlled_values,
    recommendation_for,
};

/// Annotation listing the resources the admission controller set.
///
/// Upstream: vertical-pod-autoscaler/pkg/admission-controller/resource/pod/patch/resource_updates.go
pub const RESOURCE_UPDATES_ANNOTATION: &str = "vpaUpdates";
/// Annotation listing the pod's containers at admission.
///
/// Upstream: vertical-pod-autoscaler/pkg/utils/annotations/vpa_observed_containers.go
pub const OBSERVED_CONTAINERS_ANNOTATION: &str = "vpaObservedContainers";

/// The pod after admission: every container with its new requests and limits, and the
/// annotations added, in the order upstream's patches add them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdmittedPod {
    /// The containers in pod order, with recommended requests / scaled limits applied.
    pub containers: Vec<PodContainer>,
    /// `(name, value)`: `vpaUpdates` (only if something was set), then `vpaObservedContainers`.
    pub annotations: Vec<(String, String)>,
}

/// New requests and limits of one container.
///
/// Upstream: vertical-pod-autoscaler/pkg/utils/vpa/limit_and_request_scaling.go (`ContainerResources`)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContainerResources {
    /// Requests to set.
    pub requests: ResourceList,
    /// Limits to set.
    pub limits: ResourceList,
}

/// The recommended requests and limits per container (pod order; `None` for a container
/// without a recommendation), plus per-container annotations (capping and limit notes).
///
/// Upstream: vertical-pod-autoscaler/pkg/admission-controller/resource/pod/recommendation/recommendation_provider.go
/// (`GetContainersResourcesForPod`, `GetContainersResources` with `addAll = false`; no
/// LimitRange, so no default limits)
pub fn containers_resources(
    vpa: &VpaSpec,
    containers: &[PodContainer],
) -> (Vec<Option<ContainerResources>>, Vec<Vec<String>>) {
    let policy = vpa.resource_policy.as_ref();
    let (recs, mut capping) = match vpa.recommendation.as_deref() {
        Some(r) => cap_for_pod(Some(r), policy, containers).unwrap_or_default(),
        None => Default::default(),
    };
    let policy = if vpa.update_mode == UpdateMode::Off {
        None
    } else {
        policy
    };
    let mut resources = Vec::with_capacity(containers.len());
    let mut annotations = Vec::with_capacity(containers.len());
    for c in containers {
        let mut ann = capping.remove(&c.name).unwrap_or_default();
        let Some(rec) = recommendation_for(&c.name, &recs) else {
            resources.push(None);
            annotations.push(ann);
            continue;
        };
        let requests = rec.target;
        let mut limits = ResourceList::EMPTY;
        if container_controlled_values(&c.name, policy) == ControlledValues::RequestsAndLimits {
            let (l, a) =
                proportional_limit(&c.limits, &c.requests, &requests, &ResourceList::EMPTY);
            if let Some(l) = l {
                limits = l;
                ann.extend(a);
            }
        }
        resources.push(Some(ContainerResources { requests, limits }));
        annotations.push(ann);
    }
    (resources, annotations)
}

/// Admits a pod controlled by `vpa`: requests become the (capped) target, limits are scaled
/// in proportion unless `RequestsOnly`, and the `vpaUpdates` / `vpaObservedContainers`
/// annotations are added. `None` for update mode `Off` (the admission controller ignores
/// such VPAs).
///
/// The `vpaUpdates` value is `Pod resources updated by <vpa>: container <i>: <notes>; ...`
/// where the notes are the container's capping notes then `cpu request`, `memory request`,
/// `cpu limit`, `memory limit` for each value set (cpu before memory; upstream iterates a Go
/// map). Like upstream, a container with no resources at all is listed (with no notes) even
/// without a recommendation, because its empty `resources` object is initialised.
///
/// Upstream: vertical-pod-autoscaler/pkg/admission-controller/resource/pod/patch/resource_updates.go
/// and patch/observed_containers.go
pub fn admit_pod(vpa: &VpaSpec, containers: &[PodContainer]) -> Option<AdmittedPod> {
    if vpa.update_mode == UpdateMode::Off {
        return None;
    }
    let (resources, mut notes) = containers_resources(vpa, containers);
    let mut out = containers.to_vec();
    let mut updates = Vec::new();
    for (i, c) in out.iter_mut().enumerate() {
        let ContainerResources { requests, limits } = resources[i].unwrap_or_default();
        let mut patched = c.requests.is_empty() && c.limits.is_empty();
        let ann = &mut notes[i];
        for (r, v) in requests.iter() {
            c.requests.set(r, Some(v));
            ann.push(format!("{} request", r.as_str()));
            patched = true;
        }
        for (r, v) in limits.iter() {
            c.limits.set(r, Some(v));
            ann.push(format!("{} limit", r.as_str()));
            patched = true;
        }
        if patched {
            updates.push(format!("container {i}: {}", ann.join(", ")));
        }
    }
    let mut annotations = Vec::new();
    if !updates.is_empty() {
        annotations.push((
            RESOURCE_UPDATES_ANNOTATION.to_string(),
            format!(
                "Pod resources updated by {}: {}",
                vpa.name,
                updates.join("; ")
            ),
        ));
    }
    let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
    annotations.push((OBSERVED_CONTAINERS_ANNOTATION.to_string(), names.join(", ")));
    Some(AdmittedPod {
        containers: out,
        annotations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vpa::{ContainerRecommendation, ContainerResourcePolicy, PodResourcePolicy};

    fn vpa(mode: UpdateMode, policy: Option<PodResourcePolicy>) -> VpaSpec {
        VpaSpec {
            name: "my-vpa".into(),
            update_mode: mode,
            min_replicas: None,
            resource_policy: policy,
            recommendation: Some(vec![ContainerRecommendation {
                container_name: "app".into(),
                target: ResourceList::new(500, 400 << 20),
                lower_bound: ResourceList::new(250, 300 << 20),
                upper_bound: ResourceList::new(1000, 800 << 20),
                uncapped_target: ResourceList::new(500, 400 << 20),
            }]),
        }
    }

    fn app(requests: ResourceList, limits: ResourceList) -> PodContainer {
        PodContainer {
            name: "app".into(),
            requests,
            limits,
        }
    }

    #[test]
    fn off_writes_nothing() {
        let c = [app(ResourceList::new(100, 100 << 20), ResourceList::EMPTY)];
        assert_eq!(admit_pod(&vpa(UpdateMode::Off, None), &c), None);
    }

    #[test]
    fn requests_and_proportional_limits_for_every_active_mode() {
        let c = [app(
            ResourceList::new(100, 100 << 20),
            ResourceList::new(200, 150 << 20),
        )];
        for mode in [
            UpdateMode::Initial,
            UpdateMode::Recreate,
            UpdateMode::Auto,
            UpdateMode::InPlaceOrRecreate,
        ] {
            let p = admit_pod(&vpa(mode, None), &c).unwrap();
            assert_eq!(p.containers[0].requests, ResourceList::new(500, 400 << 20));
            assert_eq!(p.containers[0].limits, ResourceList::new(1000, 600 << 20));
            assert_eq!(
                p.annotations,
                vec![
                    (
                        "vpaUpdates".to_string(),
                        "Pod resources updated by my-vpa: container 0: cpu request, memory request, cpu limit, memory limit".to_string()
                    ),
                    ("vpaObservedContainers".to_string(), "app".to_string()),
                ],
                "{mode:?}"
            );
        }
    }

    #[test]
    fn requests_only_keeps_limits_and_caps_to_them() {
        let policy = PodResourcePolicy {
            container_policies: vec![ContainerResourcePolicy {
                container_name: "app".into(),
                controlled_values: Some(ControlledValues::RequestsOnly),
                ..Default::default()
            }],
        };
        let c = [app(
            ResourceList::new(100, 100 << 20),
            ResourceList::new(400, 1 << 30),
        )];
        let p = admit_pod(&vpa(UpdateMode::Recreate, Some(policy)), &c).unwrap();
        assert_eq!(p.containers[0].requests, ResourceList::new(400, 400 << 20));
        assert_eq!(p.containers[0].limits, ResourceList::new(400, 1 << 30));
        assert_eq!(
            p.annotations[0].1,
            "Pod resources updated by my-vpa: container 0: cpu capped to container limit, cpu request, memory request"
        );
    }

    #[test]
    fn one_limit_missing_is_noted_and_other_containers_listed() {
        let side = PodContainer {
            name: "side".into(),
            requests: ResourceList::new(10, 10 << 20),
            limits: ResourceList::EMPTY,
        };
        let c = [
            app(
                ResourceList::new(100, 100 << 20),
                ResourceList {
                    cpu_milli: Some(300),
                    memory: None,
                },
            ),
            side,
        ];
        let p = admit_pod(&vpa(UpdateMode::Initial, None), &c).unwrap();
        assert_eq!(
            p.containers[0].limits,
            ResourceList {
                cpu_milli: Some(1500),
                memory: None
            }
        );
        assert_eq!(p.containers[1], c[1], "no recommendation: untouched");
        assert_eq!(
            p.annotations,
            vec![
                (
                    "vpaUpdates".to_string(),
                    "Pod resources updated by my-vpa: container 0: memory: limit NOT set since originalLimit is nil or 0, cpu request, memory request, cpu limit".to_string()
                ),
                ("vpaObservedContainers".to_string(), "app, side".to_string()),
            ]
        );
    }

    #[test]
    fn no_recommendation_yet_only_observed_containers() {
        let mut v = vpa(UpdateMode::Recreate, None);
        v.recommendation = None;
        let c = [app(ResourceList::new(100, 100 << 20), ResourceList::EMPTY)];
        let p = admit_pod(&v, &c).unwrap();
        assert_eq!(p.containers, c.to_vec());
        assert_eq!(
            p.annotations,
            vec![("vpaObservedContainers".to_string(), "app".to_string())]
        );
    }

    #[test]
    fn min_allowed_applies_at_admission() {
        let policy = PodResourcePolicy {
            container_policies: vec![ContainerResourcePolicy {
                container_name: "*".into(),
                min_allowed: ResourceList {
                    cpu_milli: Some(800),
                    memory: None,
                },
                ..Default::default()
            }],
        };
        let c = [app(ResourceList::EMPTY, ResourceList::EMPTY)];
        let p = admit_pod(&vpa(UpdateMode::Recreate, Some(policy)), &c).unwrap();
        assert_eq!(p.containers[0].requests, ResourceList::new(800, 400 << 20));
        assert_eq!(p.containers[0].limits, ResourceList::EMPTY);
        assert!(
            p.annotations[0]
                .1
                .contains("container 0: cpu capped to minAllowed, cpu request")
        );
    }
}
