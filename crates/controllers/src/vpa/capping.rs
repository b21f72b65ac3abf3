//! `resourcePolicy` capping of recommendations: minAllowed / maxAllowed per container, a
//! global maxAllowed, and the container limit for `controlledValues: RequestsOnly`.

use std::collections::BTreeMap;

use super::{
    ContainerRecommendation, ControlledValues, PodContainer, PodResourcePolicy, ResourceList,
    container_controlled_values, container_policy,
};

/// Per-container capping annotations (container name → messages such as
/// `cpu capped to minAllowed`).
///
/// Upstream: vertical-pod-autoscaler/pkg/utils/vpa/recommendation_processor.go
/// (`ContainerToAnnotationsMap`)
pub type ContainerAnnotations = BTreeMap<String, Vec<String>>;

fn cap_to_min(value: i64, min: Option<i64>) -> (i64, bool) {
    match min {
        Some(m) if m != 0 && value < m => (m, true),
        _ => (value, false),
    }
}

fn cap_to_max(value: i64, max: Option<i64>) -> (i64, bool) {
    match max {
        Some(m) if m != 0 && value > m => (m, true),
        _ => (value, false),
    }
}

/// Caps every set value of `list` into `[min, max]` (zero or absent bounds are ignored),
/// returning the annotations (`<resource> capped to minAllowed|maxAllowed`).
///
/// Upstream: vertical-pod-autoscaler/pkg/utils/vpa/capping.go (`applyVPAPolicy`)
fn cap_list(list: &mut ResourceList, min: &ResourceList, max: &ResourceList) -> Vec<String> {
    let mut annotations = Vec::new();
    for (r, v) in list.iter().collect::<Vec<_>>() {
        let (v, capped) = cap_to_min(v, min.get(r));
        if capped {
            annotations.push(format!("{} capped to minAllowed", r.as_str()));
        }
        let (v, capped) = cap_to_max(v, max.get(r));
        if capped {
            annotations.push(format!("{} capped to maxAllowed", r.as_str()));
        }
        list.set(r, Some(v));
    }
    annotations
}

/// Caps values of `list` above the container's limit to the limit.
///
/// Upstream: vertical-pod-autoscaler/pkg/utils/vpa/capping.go (`capRecommendationToContainerLimit`)
fn cap_to_limit(list: &mut ResourceList, limits: &ResourceList) -> Vec<String> {
    let mut annotations = Vec::new();
    for (r, limit) in limits.iter() {
        if let Some(v) = list.get(r)
            && v > limit
        {
            list.set(r, Some(limit));
            annotations.push(format!("{} capped to container limit", r.as_str()));
        }
    }
    annotations
}

/// The recommender's capping before it stores a recommendation: each container's target,
/// lower and upper bound go into `[minAllowed, maxAllowed]`, where maxAllowed falls back per
/// resource to `global_max_allowed` (`--container-recommendation-max-allowed-*`). The
/// uncapped target is left alone.
///
/// Upstream: vertical-pod-autoscaler/pkg/utils/vpa/capping.go (`ApplyVPAPolicy`)
pub fn apply_vpa_policy(
    recommendation: &[ContainerRecommendation],
    policy: Option<&PodResourcePolicy>,
    global_max_allowed: &ResourceList,
) -> Vec<ContainerRecommendation> {
    recommendation
        .iter()
        .map(|cr| {
            let cp = container_policy(&cr.container_name, policy);
            let min = cp.map(|p| p.min_allowed).unwrap_or_default();
            let mut max = cp.map(|p| p.max_allowed).unwrap_or_default();
            if max.cpu_milli.is_none() {
                max.cpu_milli = global_max_allowed.cpu_milli;
            }
            if max.memory.is_none() {
                max.memory = global_max_allowed.memory;
            }
            let mut out = cr.clone();
            cap_list(&mut out.target, &min, &max);
            cap_list(&mut out.lower_bound, &min, &max);
            cap_list(&mut out.upper_bound, &min, &max);
            out
        })
        .collect()
}

/// The admission controller's and updater's view of a recommendation for one pod: only
/// containers the pod has, capped to the container policy's min/max and, with
/// `RequestsOnly`, to the container's limits. Annotations come from the target only.
/// Returns `None` when there is neither a recommendation nor a policy.
///
/// LimitRange capping is not modelled.
///
/// Upstream: vertical-pod-autoscaler/pkg/utils/vpa/capping.go
/// (`cappingRecommendationProcessor.Apply`, `getCappedRecommendationForContainer`)
pub fn cap_for_pod(
    recommendation: Option<&[ContainerRecommendation]>,
    policy: Option<&PodResourcePolicy>,
    containers: &[PodContainer],
) -> Option<(Vec<ContainerRecommendation>, ContainerAnnotations)> {
    if recommendation.is_none() && policy.is_none() {
        return None;
    }
    let mut out = Vec::new();
    let mut annotations = ContainerAnnotations::new();
    for cr in recommendation.unwrap_or(&[]) {
        let Some(container) = containers.iter().find(|c| c.name == cr.container_name) else {
            continue;
        };
        let cp = container_policy(&container.name, policy);
        let requests_only =
            container_controlled_values(&container.name, policy) == ControlledValues::RequestsOnly;
        let mut capped = cr.clone();
        let mut container_annotations = Vec::new();
        for (i, list) in [
            &mut capped.target,
            &mut capped.lower_bound,
            &mut capped.upper_bound,
        ]
        .into_iter()
        .enumerate()
        {
            let mut ann = match cp {
                Some(p) => cap_list(list, &p.min_allowed, &p.max_allowed),
                None => Vec::new(),
            };
            if requests_only {
                ann.extend(cap_to_limit(list, &container.limits));
            }
            if i == 0 {
                container_annotations = ann;
            }
        }
        if !container_annotations.is_empty() {
            annotations.insert(container.name.clone(), container_annotations);
        }
        out.push(capped);
    }
    Some((out, annotations))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vpa::{ContainerResourcePolicy, DEFAULT_CONTAINER_POLICY};

    fn container(name: &str, limits: ResourceList) -> PodContainer {
        PodContainer {
            name: name.into(),
            requests: ResourceList::EMPTY,
            limits,
        }
    }

    fn rec(
        name: &str,
        target: ResourceList,
        lower: ResourceList,
        upper: ResourceList,
    ) -> ContainerRecommendation {
        ContainerRecommendation {
            container_name: name.into(),
            target,
            lower_bound: lower,
            upper_bound: upper,
            uncapped_target: ResourceList::EMPTY,
        }
    }

    // capping_test.go: TestRecommendationNotAvailable
    #[test]
    fn recommendation_for_missing_container_dropped() {
        let r = [rec(
            "ctr-name-other",
            ResourceList::new(100, 50_000 << 20),
            ResourceList::EMPTY,
            ResourceList::EMPTY,
        )];
        let (res, ann) = cap_for_pod(
            Some(&r),
            None,
            &[container("ctr-name", ResourceList::EMPTY)],
        )
        .unwrap();
        assert!(res.is_empty());
        assert!(ann.is_empty());
    }

    // capping_test.go: TestRecommendationToLimitCapping (cpu 30 cores = 30000m, memory 70000 B)
    #[test]
    fn recommendation_to_limit_capping() {
        let limits = ResourceList::new(30_000, 70_000);
        let r = [rec(
            "ctr-name",
            ResourceList::new(20_000, 80_000),
            ResourceList::EMPTY,
            ResourceList::new(100_000, 90_000),
        )];
        let pods = [container("ctr-name", limits)];
        let policy_with = |cv: Option<ControlledValues>| PodResourcePolicy {
            container_policies: vec![ContainerResourcePolicy {
                container_name: DEFAULT_CONTAINER_POLICY.into(),
                controlled_values: cv,
                ..Default::default()
            }],
        };
        let cases = [
            (
                "no capping for default policy",
                PodResourcePolicy::default(),
                ResourceList::new(20_000, 80_000),
                ResourceList::new(100_000, 90_000),
                false,
            ),
            (
                "no capping for RequestsAndLimits policy",
                policy_with(Some(ControlledValues::RequestsAndLimits)),
                ResourceList::new(20_000, 80_000),
                ResourceList::new(100_000, 90_000),
                false,
            ),
            (
                "capping for RequestsOnly policy",
                policy_with(Some(ControlledValues::RequestsOnly)),
                ResourceList::new(20_000, 70_000),
                ResourceList::new(30_000, 70_000),
                true,
            ),
        ];
        for (name, policy, target, upper, annotated) in cases {
            let (res, ann) = cap_for_pod(Some(&r), Some(&policy), &pods).unwrap();
            assert_eq!(res[0].target, target, "{name}");
            assert_eq!(res[0].upper_bound, upper, "{name}");
            if annotated {
                assert!(
                    ann["ctr-name"].contains(&"memory capped to container limit".to_string()),
                    "{name}"
                );
            } else {
                assert!(!ann.contains_key("ctr-name"), "{name}");
            }
        }
    }

    // capping_test.go: TestRecommendationCappedToMinMaxPolicy
    #[test]
    fn recommendation_capped_to_min_max_policy() {
        let r = [rec(
            "ctr-name",
            ResourceList::new(30_000, 50_000),
            ResourceList::new(20_000, 43_000),
            ResourceList::new(50_000, 55_000),
        )];
        let policy = PodResourcePolicy {
            container_policies: vec![ContainerResourcePolicy {
                container_name: "ctr-name".into(),
                min_allowed: ResourceList::new(40_000, 40_000),
                max_allowed: ResourceList::new(45_000, 45_000),
                ..Default::default()
            }],
        };
        let (res, ann) = cap_for_pod(
            Some(&r),
            Some(&policy),
            &[container("ctr-name", ResourceList::EMPTY)],
        )
        .unwrap();
        assert_eq!(res[0].target, ResourceList::new(40_000, 45_000));
        assert_eq!(
            ann["ctr-name"],
            vec![
                "cpu capped to minAllowed".to_string(),
                "memory capped to maxAllowed".to_string()
            ]
        );
        assert_eq!(res[0].lower_bound, ResourceList::new(40_000, 43_000));
        assert_eq!(res[0].upper_bound, ResourceList::new(45_000, 45_000));
    }

    // capping_test.go: TestApply
    #[test]
    fn apply_without_policy() {
        let pods = [container("ctr-name", ResourceList::EMPTY)];
        assert_eq!(cap_for_pod(None, None, &pods), None);
        let r = [rec(
            "ctr-name",
            ResourceList::new(50, 100),
            ResourceList::new(500, 1000),
            ResourceList::new(1500, 2000),
        )];
        let (res, ann) = cap_for_pod(Some(&r), None, &pods).unwrap();
        assert_eq!(res, r.to_vec());
        assert!(ann.is_empty());
    }

    // capping_test.go: TestApplyVPAPolicy (42m/42Mi target, 31 lower, 53 upper)
    #[test]
    fn apply_vpa_policy_table() {
        const MI: i64 = 1 << 20;
        let l = |c: i64, m: i64| ResourceList::new(c, m * MI);
        let base = ContainerRecommendation {
            container_name: "foo".into(),
            target: l(42, 42),
            lower_bound: l(31, 31),
            upper_bound: l(53, 53),
            uncapped_target: l(42, 42),
        };
        let policy = |min: ResourceList, max: ResourceList| PodResourcePolicy {
            container_policies: vec![ContainerResourcePolicy {
                container_name: "foo".into(),
                min_allowed: min,
                max_allowed: max,
                ..Default::default()
            }],
        };
        let cpu_only = |c: i64| ResourceList {
            cpu_milli: Some(c),
            memory: None,
        };
        let mem_only = |m: i64| ResourceList {
            cpu_milli: None,
            memory: Some(m * MI),
        };
        let cases: Vec<(
            &str,
            Option<PodResourcePolicy>,
            ResourceList,
            [ResourceList; 3],
        )> = vec![
            (
                "no policy, no global max",
                None,
                ResourceList::EMPTY,
                [l(42, 42), l(31, 31), l(53, 53)],
            ),
            (
                "min allowed",
                Some(policy(l(50, 50), ResourceList::EMPTY)),
                ResourceList::EMPTY,
                [l(50, 50), l(50, 50), l(53, 53)],
            ),
            (
                "max allowed",
                Some(policy(ResourceList::EMPTY, l(40, 40))),
                ResourceList::EMPTY,
                [l(40, 40), l(31, 31), l(40, 40)],
            ),
            (
                "global max only",
                None,
                l(40, 40),
                [l(40, 40), l(31, 31), l(40, 40)],
            ),
            (
                "min allowed and global max",
                Some(policy(l(35, 35), ResourceList::EMPTY)),
                l(50, 50),
                [l(42, 42), l(35, 35), l(50, 50)],
            ),
            (
                "cpu max + global memory max",
                Some(policy(ResourceList::EMPTY, cpu_only(40))),
                mem_only(40),
                [l(40, 40), l(31, 31), l(40, 40)],
            ),
            (
                "cpu max + global cpu and memory max",
                Some(policy(ResourceList::EMPTY, cpu_only(40))),
                l(30, 30),
                [l(40, 30), l(31, 30), l(40, 30)],
            ),
        ];
        for (name, p, global, [t, lo, up]) in cases {
            let out = apply_vpa_policy(std::slice::from_ref(&base), p.as_ref(), &global);
            assert_eq!(out[0].target, t, "{name}");
            assert_eq!(out[0].lower_bound, lo, "{name}");
            assert_eq!(out[0].upper_bound, up, "{name}");
            assert_eq!(out[0].uncapped_target, l(42, 42), "{name}");
        }
        assert!(apply_vpa_policy(&[], None, &ResourceList::EMPTY).is_empty());
    }
}
