//! Limits scaled in proportion to the recommended requests.

use super::{ResourceList, ResourceName};

/// The limit for a new request that keeps the original limit/request ratio, and an
/// annotation when the limit was not set or had to be capped.
///
/// Rules: no limit (after falling back to `default_limit`) or no recommendation → no limit;
/// no original request, or request equal to limit → limit = new request; otherwise
/// `limit * recommended / request`, truncated (CPU in millicores, memory in bytes), capped
/// at `i64::MAX`.
///
/// Upstream: vertical-pod-autoscaler/pkg/utils/vpa/limit_and_request_scaling.go
/// (`getProportionalResourceLimit`)
pub fn proportional_resource_limit(
    resource: ResourceName,
    original_limit: Option<i64>,
    original_request: Option<i64>,
    recommended_request: Option<i64>,
    default_limit: Option<i64>,
) -> (Option<i64>, Option<String>) {
    let mut limit = original_limit;
    if limit.is_none_or(|l| l == 0) && default_limit.is_some() {
        limit = default_limit;
    }
    let r = resource.as_str();
    let Some(limit) = limit.filter(|&l| l != 0) else {
        return (
            None,
            Some(format!(
                "{r}: limit NOT set since originalLimit is nil or 0"
            )),
        );
    };
    let Some(rec) = recommended_request.filter(|&v| v != 0) else {
        return (
            None,
            Some(format!(
                "{r}: limit NOT set since recommendedRequest is nil or 0"
            )),
        );
    };
    let Some(req) = original_request.filter(|&v| v != 0) else {
        return (Some(rec), None);
    };
    if req == limit {
        return (Some(rec), None);
    }
    let scaled = limit as i128 * rec as i128 / req as i128;
    if scaled > i64::MAX as i128 || scaled < i64::MIN as i128 {
        return (
            Some(i64::MAX),
            Some(format!(
                "{r}: failed to keep limit to request ratio; capping limit to int64"
            )),
        );
    }
    (Some(scaled as i64), None)
}

/// Limits for both resources (`None` if neither gets one) and the annotations. When
/// neither resource gets a limit, no annotations are returned, like upstream.
///
/// Upstream: vertical-pod-autoscaler/pkg/utils/vpa/limit_and_request_scaling.go
/// (`GetProportionalLimit`)
pub fn proportional_limit(
    original_limit: &ResourceList,
    original_request: &ResourceList,
    recommendation: &ResourceList,
    default_limit: &ResourceList,
) -> (Option<ResourceList>, Vec<String>) {
    let mut result = ResourceList::EMPTY;
    let mut annotations = Vec::new();
    for r in ResourceName::ALL {
        let (limit, ann) = proportional_resource_limit(
            r,
            original_limit.get(r),
            original_request.get(r),
            recommendation.get(r),
            default_limit.get(r),
        );
        result.set(r, limit);
        annotations.extend(ann);
    }
    if result.is_empty() {
        return (None, Vec::new());
    }
    (Some(result), annotations)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Case {
        name: &'static str,
        limit: Option<i64>,
        request: Option<i64>,
        recommended: Option<i64>,
        default: Option<i64>,
        expect: Option<i64>,
        annotation: bool,
    }

    fn run(resource: ResourceName, cases: &[Case]) {
        for c in cases {
            let (got, ann) =
                proportional_resource_limit(resource, c.limit, c.request, c.recommended, c.default);
            assert_eq!(got, c.expect, "{}", c.name);
            assert_eq!(ann.is_some(), c.annotation, "{}", c.name);
        }
    }

    // limit_and_request_scaling_test.go: TestGetProportionalResourceLimitCPU (millicores)
    #[test]
    fn proportional_resource_limit_cpu() {
        run(
            ResourceName::Cpu,
            &[
                Case {
                    name: "scale proportionally",
                    limit: Some(2000),
                    request: Some(1000),
                    recommended: Some(10_000),
                    default: None,
                    expect: Some(20_000),
                    annotation: false,
                },
                Case {
                    name: "scale proportionally with default",
                    limit: None,
                    request: Some(1000),
                    recommended: Some(10_000),
                    default: Some(2000),
                    expect: Some(20_000),
                    annotation: false,
                },
                Case {
                    name: "no original limit",
                    limit: None,
                    request: Some(1000),
                    recommended: Some(10_000),
                    default: None,
                    expect: None,
                    annotation: true,
                },
                Case {
                    name: "no original request",
                    limit: Some(2000),
                    request: None,
                    recommended: Some(10_000),
                    default: None,
                    expect: Some(10_000),
                    annotation: false,
                },
                Case {
                    name: "no recommendation",
                    limit: None,
                    request: Some(1000),
                    recommended: Some(0),
                    default: Some(2000),
                    expect: None,
                    annotation: true,
                },
                Case {
                    name: "limit equal to request",
                    limit: Some(1000),
                    request: Some(1000),
                    recommended: Some(10_000),
                    default: None,
                    expect: Some(10_000),
                    annotation: false,
                },
                Case {
                    name: "handle non-integer ratios",
                    limit: Some(2000),
                    request: Some(1500),
                    recommended: Some(1000),
                    default: None,
                    expect: Some(1333),
                    annotation: false,
                },
                Case {
                    name: "go over milli cap",
                    limit: Some(10_000_000_000_000),
                    request: Some(1),
                    recommended: Some(10_000_000_000_000),
                    default: None,
                    expect: Some(i64::MAX),
                    annotation: true,
                },
            ],
        );
    }

    // limit_and_request_scaling_test.go: TestGetProportionalResourceLimitMem (bytes)
    #[test]
    fn proportional_resource_limit_mem() {
        run(
            ResourceName::Memory,
            &[
                Case {
                    name: "scale proportionally",
                    limit: Some(2),
                    request: Some(1),
                    recommended: Some(10),
                    default: None,
                    expect: Some(20),
                    annotation: false,
                },
                Case {
                    name: "scale proportionally with default",
                    limit: None,
                    request: Some(1),
                    recommended: Some(10),
                    default: Some(2),
                    expect: Some(20),
                    annotation: false,
                },
                Case {
                    name: "no original limit",
                    limit: None,
                    request: Some(1),
                    recommended: Some(10),
                    default: None,
                    expect: None,
                    annotation: true,
                },
                Case {
                    name: "no original request",
                    limit: Some(2),
                    request: None,
                    recommended: Some(10),
                    default: None,
                    expect: Some(10),
                    annotation: false,
                },
                Case {
                    name: "no recommendation",
                    limit: None,
                    request: Some(1),
                    recommended: Some(0),
                    default: Some(2),
                    expect: None,
                    annotation: true,
                },
                Case {
                    name: "limit equal to request",
                    limit: Some(1),
                    request: Some(1),
                    recommended: Some(10),
                    default: None,
                    expect: Some(10),
                    annotation: false,
                },
                Case {
                    name: "handle non-integer ratios",
                    limit: Some(200),
                    request: Some(150),
                    recommended: Some(100),
                    default: None,
                    expect: Some(133),
                    annotation: false,
                },
                Case {
                    name: "go over cap",
                    limit: Some(10_000_000_000),
                    request: Some(1),
                    recommended: Some(10_000_000_000),
                    default: None,
                    expect: Some(i64::MAX),
                    annotation: true,
                },
            ],
        );
    }

    #[test]
    fn proportional_limit_both_or_none() {
        let req = ResourceList::new(100, 100);
        let rec = ResourceList::new(200, 300);
        let (l, a) = proportional_limit(&ResourceList::EMPTY, &req, &rec, &ResourceList::EMPTY);
        assert_eq!(l, None);
        assert!(a.is_empty(), "no annotations when neither limit is set");
        let lim = ResourceList {
            cpu_milli: Some(150),
            memory: None,
        };
        let (l, a) = proportional_limit(&lim, &req, &rec, &ResourceList::EMPTY);
        assert_eq!(
            l,
            Some(ResourceList {
                cpu_milli: Some(300),
                memory: None
            })
        );
        assert_eq!(
            a,
            vec!["memory: limit NOT set since originalLimit is nil or 0".to_string()]
        );
    }
}
