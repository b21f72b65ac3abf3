//! HorizontalPodAutoscalers as the API server validates them
//! (`pkg/apis/autoscaling/validation/validation.go`, v1.37.2).
//!
//! Upstream validates the internal type after conversion and defaulting, then lets the
//! declarative validation of the request's version (`zz_generated.validations.go`) replace
//! the hand-written errors it covers. This port does the same in small:
//!
//! - defaults first: `minReplicas` 1, `behavior.scaleUp`/`scaleDown` filled from the default
//!   rules field by field (`SetDefaults_HorizontalPodAutoscalerBehavior`), so only what the user
//!   wrote can be wrong (`policies: []` is, an absent `policies` is not);
//! - `autoscaling/v1` converts to the internal form first: `targetCPUUtilizationPercentage`
//!   becomes `metrics[0]` (a Resource `cpu` Utilization metric), and upstream reports its
//!   errors at that converted path (`spec.metrics[0].resource.target.averageUtilization`);
//! - feature gates at their v1.37 defaults: `HPAScaleToZero` is beta and on (`minReplicas` may
//!   be 0 when an Object or External metric is present), `HPAConfigurableTolerance` is GA
//!   (tolerances are kept and checked);
//! - the `minReplicas`/`maxReplicas` range checks are enforced by declarative validation
//!   (`+k8s:beta`, `DeclarativeValidationBeta` on), whose errors come after the hand-written
//!   ones; `maxReplicas: 0` reads `spec.maxReplicas: Required value` (no detail);
//! - duplicate messages are reported once, as the API server's message and kubectl print them
//!   (`ErrorList.ToAggregate`).

use k8s_openapi::api::autoscaling::{v1, v2};
use kscale_model::Quantity;

use super::field::{self, BadValue, ErrorList, Path};
use super::meta;

/// `MaxPeriodSeconds`.
const MAX_PERIOD_SECONDS: i32 = 1800;
/// `MaxStabilizationWindowSeconds`.
const MAX_STABILIZATION_WINDOW_SECONDS: i32 = 3600;
/// `validMetricSourceTypesList` (sorted).
const METRIC_SOURCE_TYPES: [&str; 5] = [
    "ContainerResource",
    "External",
    "Object",
    "Pods",
    "Resource",
];
/// `validSelectPolicyTypesList` (sorted).
const SELECT_POLICIES: [&str; 3] = ["Disabled", "Max", "Min"];
/// `validPolicyTypesList` (sorted).
const POLICY_TYPES: [&str; 2] = ["Percent", "Pods"];
/// `MinReplicasLowerBound` with `HPAScaleToZero` on (beta, default on in v1.37).
const MIN_REPLICAS_LOWER_BOUND: i32 = 0;

/// `ValidateHorizontalPodAutoscaler` for `autoscaling/v2` (spec only; metadata is checked by
/// the caller), after `SetDefaults_HorizontalPodAutoscaler`.
pub(super) fn hpa_v2(h: &v2::HorizontalPodAutoscaler) -> ErrorList {
    let mut spec = h.spec.clone().unwrap_or_default();
    set_defaults(&mut spec);
    validate_spec(&spec)
}

/// `ValidateHorizontalPodAutoscaler` for `autoscaling/v1` (spec only), after v1 defaulting and
/// `Convert_v1_HorizontalPodAutoscalerSpec_To_autoscaling_HorizontalPodAutoscalerSpec`.
pub(super) fn hpa_v1(h: &v1::HorizontalPodAutoscaler) -> ErrorList {
    let s = h.spec.clone().unwrap_or_default();
    let r = s.scale_target_ref;
    let spec = v2::HorizontalPodAutoscalerSpec {
        scale_target_ref: v2::CrossVersionObjectReference {
            api_version: r.api_version,
            kind: r.kind,
            name: r.name,
        },
        min_replicas: Some(s.min_replicas.unwrap_or(1)),
        max_replicas: s.max_replicas,
        metrics: s.target_cpu_utilization_percentage.map(|pct| {
            vec![v2::MetricSpec {
                type_: "Resource".into(),
                resource: Some(v2::ResourceMetricSource {
                    name: "cpu".into(),
                    target: v2::MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(pct),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }]
        }),
        behavior: None,
    };
    validate_spec(&spec)
}

/// `SetDefaults_HorizontalPodAutoscaler` (v2): `minReplicas` and the behavior rules. (The
/// default CPU metric for an empty `metrics` is valid and changes no check, so it is not
/// added.)
fn set_defaults(spec: &mut v2::HorizontalPodAutoscalerSpec) {
    spec.min_replicas.get_or_insert(1);
    if let Some(b) = &mut spec.behavior {
        let pol = |type_: &str, value: i32| v2::HPAScalingPolicy {
            type_: type_.into(),
            value,
            period_seconds: 15,
        };
        let up = v2::HPAScalingRules {
            stabilization_window_seconds: Some(0),
            select_policy: Some("Max".into()),
            policies: Some(vec![pol("Pods", 4), pol("Percent", 100)]),
            tolerance: None,
        };
        let down = v2::HPAScalingRules {
            stabilization_window_seconds: None,
            select_policy: Some("Max".into()),
            policies: Some(vec![pol("Percent", 100)]),
            tolerance: None,
        };
        b.scale_up = Some(copy_rules(b.scale_up.take(), up));
        b.scale_down = Some(copy_rules(b.scale_down.take(), down));
    }
}

/// `copyHPAScalingRules`: the user's fields over the defaults.
fn copy_rules(
    from: Option<v2::HPAScalingRules>,
    mut to: v2::HPAScalingRules,
) -> v2::HPAScalingRules {
    if let Some(f) = from {
        if f.select_policy.is_some() {
            to.select_policy = f.select_policy;
        }
        if f.stabilization_window_seconds.is_some() {
            to.stabilization_window_seconds = f.stabilization_window_seconds;
        }
        if f.policies.is_some() {
            to.policies = f.policies;
        }
        if f.tolerance.is_some() {
            to.tolerance = f.tolerance;
        }
    }
    to
}

/// `validateHorizontalPodAutoscalerSpec`, then the declarative `minReplicas`/`maxReplicas`
/// checks that replace their hand-written twins.
fn validate_spec(s: &v2::HorizontalPodAutoscalerSpec) -> ErrorList {
    let p = Path::new("spec");
    let mut errs = ErrorList::new();
    let mut declarative = ErrorList::new();
    if let Some(min) = s.min_replicas
        && min < MIN_REPLICAS_LOWER_BOUND
    {
        declarative.push(field::invalid(
            &p.child("minReplicas"),
            min,
            format!("must be greater than or equal to {MIN_REPLICAS_LOWER_BOUND}"),
        ));
    }
    if s.max_replicas == 0 {
        declarative.push(field::required(&p.child("maxReplicas"), ""));
    } else if s.max_replicas < 0 {
        declarative.push(field::invalid(
            &p.child("maxReplicas"),
            s.max_replicas,
            "must be greater than or equal to 1",
        ));
    }
    if let Some(min) = s.min_replicas
        && s.max_replicas < min
    {
        errs.push(field::invalid(
            &p.child("maxReplicas"),
            s.max_replicas,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    let r = &s.scale_target_ref;
    // Strategy options: only a ReplicationController may name the core group.
    errs.extend(cross_version_object_reference(
        r,
        &p.child("scaleTargetRef"),
        r.kind == "ReplicationController",
    ));
    errs.extend(validate_metrics(
        s.metrics.as_deref().unwrap_or_default(),
        &p.child("metrics"),
        s.min_replicas,
    ));
    if let Some(b) = &s.behavior {
        let bp = p.child("behavior");
        if let Some(up) = &b.scale_up {
            errs.extend(scaling_rules(up, &bp.child("scaleUp")));
        }
        if let Some(down) = &b.scale_down {
            errs.extend(scaling_rules(down, &bp.child("scaleDown")));
        }
    }
    errs.extend(declarative);
    let mut seen = std::collections::HashSet::new();
    errs.retain(|e| seen.insert(e.to_string()));
    errs
}

/// `ValidateCrossVersionObjectReference` with `ValidateAPIVersion` (invalid API versions not
/// allowed; an empty group only if `allow_empty_group`).
fn cross_version_object_reference(
    r: &v2::CrossVersionObjectReference,
    path: &Path,
    allow_empty_group: bool,
) -> ErrorList {
    let mut errs = ErrorList::new();
    for (name, value) in [("kind", &r.kind), ("name", &r.name)] {
        if value.is_empty() {
            errs.push(field::required(&path.child(name), ""));
        } else {
            for m in meta::path_segment_errors(value) {
                errs.push(field::invalid(&path.child(name), value, m));
            }
        }
    }
    let api_version = r.api_version.as_deref().unwrap_or("");
    // `schema.ParseGroupVersion`: "" and "/" are the empty group version.
    let problem = match api_version.matches('/').count() {
        _ if api_version.is_empty() || api_version == "/" => {
            (!allow_empty_group).then(|| "apiVersion must specify API group".to_string())
        }
        0 => (!allow_empty_group).then(|| "apiVersion must specify API group".to_string()),
        1 => None,
        _ => Some(format!("unexpected GroupVersion string: {api_version}")),
    };
    if let Some(m) = problem {
        errs.push(field::invalid(&path.child("apiVersion"), api_version, m));
    }
    errs
}

/// `validateMetrics`: each metric, and at least one Object or External metric when scaling to
/// zero.
fn validate_metrics(
    metrics: &[v2::MetricSpec],
    path: &Path,
    min_replicas: Option<i32>,
) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, m) in metrics.iter().enumerate() {
        errs.extend(metric_spec(m, &path.index(i)));
    }
    let zero_capable = metrics
        .iter()
        .any(|m| m.type_ == "Object" || m.type_ == "External");
    if min_replicas == Some(0) && !zero_capable {
        errs.push(field::forbidden(
            path,
            "must specify at least one Object or External metric to support scaling to zero replicas",
        ));
    }
    errs
}

/// `validateMetricSpec`: the type, the one source it names (validated if it is the first one
/// present), and no other source. An unknown type is reported twice upstream (before and in
/// the type switch); the message is printed once.
fn metric_spec(m: &v2::MetricSpec, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let tp = path.child("type");
    if m.type_.is_empty() {
        errs.push(field::required(&tp, "must specify a metric source type"));
    }
    if !METRIC_SOURCE_TYPES.contains(&m.type_.as_str()) {
        errs.push(field::not_supported(
            &tp,
            json_str(&m.type_),
            &METRIC_SOURCE_TYPES,
        ));
    }
    let mut present: Vec<&str> = Vec::new();
    if let Some(o) = &m.object {
        present.push("object");
        errs.extend(object_source(o, &path.child("object")));
    }
    if let Some(e) = &m.external {
        present.push("external");
        if present.len() == 1 {
            errs.extend(external_source(e, &path.child("external")));
        }
    }
    if let Some(pd) = &m.pods {
        present.push("pods");
        if present.len() == 1 {
            errs.extend(pods_source(pd, &path.child("pods")));
        }
    }
    if let Some(r) = &m.resource {
        present.push("resource");
        if present.len() == 1 {
            errs.extend(resource_source(&r.name, &r.target, &path.child("resource")));
        }
    }
    if let Some(c) = &m.container_resource {
        present.push("containerResource");
        if present.len() == 1 {
            errs.extend(container_resource_source(
                c,
                &path.child("containerResource"),
            ));
        }
    }
    let expected = match m.type_.as_str() {
        "Object" => Some(("object", m.object.is_some())),
        "Pods" => Some(("pods", m.pods.is_some())),
        "Resource" => Some(("resource", m.resource.is_some())),
        "External" => Some(("external", m.external.is_some())),
        "ContainerResource" => Some(("containerResource", m.container_resource.is_some())),
        _ => None,
    };
    match expected {
        Some((_, true)) => {}
        Some((name, false)) => errs.push(field::required(
            &path.child(name),
            "must populate information for the given metric source",
        )),
        None => errs.push(field::not_supported(
            &tp,
            json_str(&m.type_),
            &METRIC_SOURCE_TYPES,
        )),
    }
    // Only when not exactly one source is set. Upstream iterates a set here (in no fixed
    // order); this keeps the fields' order.
    if present.len() != 1 {
        if let Some((name, _)) = expected {
            present.retain(|p| *p != name);
        }
        for typ in present {
            errs.push(field::forbidden(
                &path.child(typ),
                "must populate the given metric source only",
            ));
        }
    }
    errs
}

/// `validateObjectSource`.
fn object_source(src: &v2::ObjectMetricSource, path: &Path) -> ErrorList {
    // ObjectMetricsValidationOptions: an empty API group is allowed.
    let mut errs =
        cross_version_object_reference(&src.described_object, &path.child("describedObject"), true);
    errs.extend(metric_identifier(&src.metric, &path.child("metric")));
    errs.extend(metric_target(&src.target, &path.child("target")));
    if src.target.value.is_none() && src.target.average_value.is_none() {
        errs.push(field::required(
            &path.child("target").child("averageValue"),
            "must set either a target value or averageValue",
        ));
    }
    errs
}

/// `validateExternalSource`.
fn external_source(src: &v2::ExternalMetricSource, path: &Path) -> ErrorList {
    let mut errs = metric_identifier(&src.metric, &path.child("metric"));
    errs.extend(metric_target(&src.target, &path.child("target")));
    let t = &src.target;
    if t.value.is_none() && t.average_value.is_none() {
        errs.push(field::required(
            &path.child("target").child("averageValue"),
            "must set either a target value for metric or a per-pod target",
        ));
    }
    if t.value.is_some() && t.average_value.is_some() {
        errs.push(field::forbidden(
            &path.child("target").child("value"),
            "may not set both a target value for metric and a per-pod target",
        ));
    }
    errs
}

/// `validatePodsSource`.
fn pods_source(src: &v2::PodsMetricSource, path: &Path) -> ErrorList {
    let mut errs = metric_identifier(&src.metric, &path.child("metric"));
    errs.extend(metric_target(&src.target, &path.child("target")));
    if src.target.average_value.is_none() {
        errs.push(field::required(
            &path.child("target").child("averageValue"),
            "must specify a positive target averageValue",
        ));
    }
    errs
}

/// `validateResourceSource` (the name is only required, not checked further).
fn resource_source(name: &str, target: &v2::MetricTarget, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if name.is_empty() {
        errs.push(field::required(
            &path.child("name"),
            "must specify a resource name",
        ));
    }
    errs.extend(metric_target(target, &path.child("target")));
    errs.extend(utilization_or_value(target, path));
    errs
}

/// `validateContainerResourceSource`.
fn container_resource_source(src: &v2::ContainerResourceMetricSource, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if src.name.is_empty() {
        errs.push(field::required(
            &path.child("name"),
            "must specify a resource name",
        ));
    } else {
        errs.extend(container_resource_name(&src.name, &path.child("name")));
    }
    if src.container.is_empty() {
        errs.push(field::required(
            &path.child("container"),
            "must specify a container",
        ));
    } else {
        for m in meta::dns1123_label_errors(&src.container) {
            errs.push(field::invalid(&path.child("container"), &src.container, m));
        }
    }
    errs.extend(metric_target(&src.target, &path.child("target")));
    errs.extend(utilization_or_value(&src.target, path));
    errs
}

/// A (container) resource metric's target: a utilization or an average value, not both.
fn utilization_or_value(t: &v2::MetricTarget, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if t.average_utilization.is_none() && t.average_value.is_none() {
        errs.push(field::required(
            &path.child("target").child("averageUtilization"),
            "must set either a target raw value or a target utilization",
        ));
    }
    if t.average_utilization.is_some() && t.average_value.is_some() {
        errs.push(field::forbidden(
            &path.child("target").child("averageValue"),
            "may not set both a target raw value and a target utilization",
        ));
    }
    errs
}

/// `validateMetricTarget`: the type, positive values, a utilization above 0. (Which target
/// fields a source needs is checked by the source.)
fn metric_target(t: &v2::MetricTarget, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if t.type_.is_empty() {
        errs.push(field::required(
            &path.child("type"),
            "must specify a metric target type",
        ));
    }
    if !matches!(t.type_.as_str(), "Utilization" | "Value" | "AverageValue") {
        errs.push(field::invalid(
            &path.child("type"),
            json_str(&t.type_),
            "must be either Utilization, Value, or AverageValue",
        ));
    }
    for (name, q) in [("value", &t.value), ("averageValue", &t.average_value)] {
        let Some(q) = q else { continue };
        let qp = path.child(name);
        match canonical_quantity(&q.0) {
            Err(reason) => errs.push(field::invalid(&qp, &q.0, reason)),
            Ok((c, sign)) if sign != 1 => {
                errs.push(field::invalid(&qp, json_str(&c), "must be positive"));
            }
            Ok(_) => {}
        }
    }
    if let Some(u) = t.average_utilization
        && u < 1
    {
        errs.push(field::invalid(
            &path.child("averageUtilization"),
            u,
            "must be greater than 0",
        ));
    }
    errs
}

/// `validateMetricIdentifier`: a name that is a path segment (the selector is not checked).
fn metric_identifier(id: &v2::MetricIdentifier, path: &Path) -> ErrorList {
    let np = path.child("name");
    if id.name.is_empty() {
        return vec![field::required(&np, "must specify a metric name")];
    }
    meta::path_segment_errors(&id.name)
        .into_iter()
        .map(|m| field::invalid(&np, &id.name, m))
        .collect()
}

/// `validateScalingRules` (tolerance included: `HPAConfigurableTolerance` is GA in v1.37).
fn scaling_rules(r: &v2::HPAScalingRules, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(w) = r.stabilization_window_seconds {
        let wp = path.child("stabilizationWindowSeconds");
        if w < 0 {
            errs.push(field::invalid(
                &wp,
                w,
                "must be greater than or equal to zero",
            ));
        }
        if w > MAX_STABILIZATION_WINDOW_SECONDS {
            errs.push(field::invalid(
                &wp,
                w,
                format!("must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}"),
            ));
        }
    }
    if let Some(sp) = &r.select_policy
        && !SELECT_POLICIES.contains(&sp.as_str())
    {
        errs.push(field::not_supported(
            &path.child("selectPolicy"),
            json_str(sp),
            &SELECT_POLICIES,
        ));
    }
    let pp = path.child("policies");
    let policies = r.policies.as_deref().unwrap_or_default();
    if policies.is_empty() {
        errs.push(field::required(&pp, "must specify at least one Policy"));
    }
    for (i, pol) in policies.iter().enumerate() {
        errs.extend(scaling_policy(pol, &pp.index(i)));
    }
    if let Some(t) = &r.tolerance {
        let tp = path.child("tolerance");
        match canonical_quantity(&t.0) {
            Err(reason) => errs.push(field::invalid(&tp, &t.0, reason)),
            Ok((c, -1)) => errs.push(field::invalid(&tp, c, "must be greater than or equal to 0")),
            Ok(_) => {}
        }
    }
    errs
}

/// `validateScalingPolicy`.
fn scaling_policy(pol: &v2::HPAScalingPolicy, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if !POLICY_TYPES.contains(&pol.type_.as_str()) {
        errs.push(field::not_supported(
            &path.child("type"),
            json_str(&pol.type_),
            &POLICY_TYPES,
        ));
    }
    if pol.value <= 0 {
        errs.push(field::invalid(
            &path.child("value"),
            pol.value,
            "must be greater than zero",
        ));
    }
    let sp = path.child("periodSeconds");
    if pol.period_seconds <= 0 {
        errs.push(field::invalid(
            &sp,
            pol.period_seconds,
            "must be greater than zero",
        ));
    }
    if pol.period_seconds > MAX_PERIOD_SECONDS {
        errs.push(field::invalid(
            &sp,
            pol.period_seconds,
            format!("must be less than or equal to {MAX_PERIOD_SECONDS}"),
        ));
    }
    errs
}

/// Resource names that are standard (`helper.IsStandardResourceName`).
fn is_standard_resource(name: &str) -> bool {
    matches!(
        name,
        "cpu"
            | "memory"
            | "ephemeral-storage"
            | "requests.cpu"
            | "requests.memory"
            | "requests.ephemeral-storage"
            | "limits.cpu"
            | "limits.memory"
            | "limits.ephemeral-storage"
            | "pods"
            | "resourcequotas"
            | "services"
            | "replicationcontrollers"
            | "secrets"
            | "configmaps"
            | "persistentvolumeclaims"
            | "storage"
            | "requests.storage"
            | "services.nodeports"
            | "services.loadbalancers"
    ) || name.starts_with("hugepages-")
        || name.starts_with("requests.hugepages-")
}

/// `apivalidation.ValidateContainerResourceName` (with `validateResourceName`).
fn container_resource_name(name: &str, path: &Path) -> ErrorList {
    let bad = |m: String| field::invalid(path, json_str(name), m);
    let qualified = meta::label_name(name, path);
    let mut errs: ErrorList = if !qualified.is_empty() {
        qualified.into_iter().map(|e| bad(e.detail)).collect()
    } else if !name.contains('/') && !is_standard_resource(name) {
        vec![bad(
            "must be a standard resource type or fully qualified".into()
        )]
    } else {
        ErrorList::new()
    };
    if !name.contains('/') {
        let container = matches!(name, "cpu" | "memory" | "ephemeral-storage")
            || name.starts_with("hugepages-");
        if !container {
            errs.push(bad("must be a standard resource for containers".into()));
        }
    } else if !name.contains("kubernetes.io/") {
        // Not native: must be an extended resource name (`IsExtendedResourceName`).
        let extended = !name.starts_with("requests.")
            && meta::label_name(&format!("requests.{name}"), path).is_empty();
        if !extended {
            errs.push(bad("doesn't follow extended resource name standard".into()));
        }
    }
    errs
}

/// A value that upstream passes as a named string type (or a pointer to one), which
/// `field.Error` prints as JSON (`json.Marshal`, HTML characters escaped).
pub(super) fn json_str(s: &str) -> BadValue {
    BadValue::Json(go_json_string(s))
}

/// Go's `json.Marshal` of a string.
pub(super) fn go_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A quantity as upstream prints it (`Quantity.String()`, `CanonicalizeBytes`) and its sign;
/// the parse error's reason if it is not a quantity.
fn canonical_quantity(s: &str) -> Result<(String, i8), String> {
    let q = Quantity::parse(s).map_err(|e| e.reason)?;
    let n = q.nanos();
    if n == 0 {
        return Ok(("0".into(), 0));
    }
    let sign = if n < 0 { -1 } else { 1 };
    let t = s.trim();
    let suffix = t.trim_start_matches(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.'));
    let exponent_form = suffix.len() > 1 && suffix.starts_with(['e', 'E']);
    let binary = suffix.ends_with('i');
    const NANO: i128 = 1_000_000_000;
    if binary && n.abs() >= 1024 * NANO && n % NANO == 0 {
        let (mut v, mut e) = (n / NANO, 0usize);
        while v % 1024 == 0 && e < 6 {
            v /= 1024;
            e += 1;
        }
        let unit = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][e];
        return Ok((format!("{v}{unit}"), sign));
    }
    let (mut m, mut e) = (n, -9i32);
    while m % 10 == 0 {
        m /= 10;
        e += 1;
    }
    match e % 3 {
        1 | -2 => {
            m *= 10;
            e -= 1;
        }
        2 | -1 => {
            m *= 100;
            e -= 2;
        }
        _ => {}
    }
    let si = match e {
        -9 => Some("n"),
        -6 => Some("u"),
        -3 => Some("m"),
        0 => Some(""),
        3 => Some("k"),
        6 => Some("M"),
        9 => Some("G"),
        12 => Some("T"),
        15 => Some("P"),
        18 => Some("E"),
        _ => None,
    };
    let unit = match (exponent_form, si) {
        (false, Some(u)) => u.to_string(),
        _ if e == 0 => String::new(),
        _ => format!("e{e}"),
    };
    Ok((format!("{m}{unit}"), sign))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn v2(spec: Value) -> ErrorList {
        let h: v2::HorizontalPodAutoscaler =
            serde_json::from_value(json!({"metadata": {"name": "a"}, "spec": spec})).unwrap();
        hpa_v2(&h)
    }

    fn v1(spec: Value) -> ErrorList {
        let h: v1::HorizontalPodAutoscaler =
            serde_json::from_value(json!({"metadata": {"name": "a"}, "spec": spec})).unwrap();
        hpa_v1(&h)
    }

    fn msgs(errs: &ErrorList) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    fn fields(errs: &ErrorList) -> Vec<&str> {
        errs.iter().map(|e| e.field.as_str()).collect()
    }

    fn cpu_metric() -> Value {
        json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}})
    }

    /// A valid spec with `f` applied.
    fn spec_with(f: impl FnOnce(&mut Value)) -> Value {
        let mut s = json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "mydeployment"},
            "minReplicas": 1, "maxReplicas": 5, "metrics": [cpu_metric()]});
        f(&mut s);
        s
    }

    fn metric(m: Value) -> ErrorList {
        v2(spec_with(|s| s["metrics"] = json!([m])))
    }

    fn behavior(b: Value) -> ErrorList {
        v2(spec_with(|s| s["behavior"] = b))
    }

    #[test]
    fn valid_autoscalers() {
        assert_eq!(v2(spec_with(|_| {})), vec![]);
        // minReplicas defaults to 1; no metrics is the default CPU metric.
        assert_eq!(
            v2(spec_with(|s| {
                s.as_object_mut().unwrap().remove("minReplicas");
                s.as_object_mut().unwrap().remove("metrics");
            })),
            vec![]
        );
        let ok = [
            json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "AverageValue", "averageValue": "100m"}}}),
            json!({"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "test-container", "target": {"type": "Utilization", "averageUtilization": 70}}}),
            json!({"type": "Pods", "pods": {"metric": {"name": "somemetric"}, "target": {"type": "AverageValue", "averageValue": "100m"}}}),
            json!({"type": "Object", "object": {"describedObject": {"kind": "ReplicationController", "name": "myrc"}, "metric": {"name": "somemetric"}, "target": {"type": "Value", "value": "100m"}}}),
            json!({"type": "External", "external": {"metric": {"name": "somemetric", "selector": {"matchLabels": {"label": "value"}}}, "target": {"type": "Value", "value": "300m"}}}),
            json!({"type": "External", "external": {"metric": {"name": "somemetric"}, "target": {"type": "AverageValue", "averageValue": "300m"}}}),
        ];
        for m in ok {
            assert_eq!(metric(m.clone()), vec![], "{m}");
        }
        // Behavior with every field at its bounds; defaults fill what is left out.
        let pols = json!([{"type": "Percent", "value": 10, "periodSeconds": 1}, {"type": "Pods", "value": 1, "periodSeconds": 1800}]);
        assert_eq!(
            behavior(json!({
                "scaleUp": {"stabilizationWindowSeconds": 3600, "selectPolicy": "Min", "policies": pols, "tolerance": "0.1"},
                "scaleDown": {"stabilizationWindowSeconds": 0, "selectPolicy": "Disabled", "tolerance": "0"}})),
            vec![]
        );
        assert_eq!(
            behavior(json!({"scaleUp": {"selectPolicy": "Min"}})),
            vec![]
        );
        // A ReplicationController target may use the core group.
        assert_eq!(
            v2(spec_with(
                |s| s["scaleTargetRef"] =
                    json!({"apiVersion": "v1", "kind": "ReplicationController", "name": "rc"})
            )),
            vec![]
        );
    }

    #[test]
    fn scale_target_ref() {
        let r = |r: Value| v2(spec_with(|s| s["scaleTargetRef"] = r));
        assert_eq!(
            msgs(&r(json!({"apiVersion": "apps/v1", "name": "x"}))),
            ["spec.scaleTargetRef.kind: Required value"]
        );
        assert_eq!(
            msgs(&r(json!({"apiVersion": "apps/v1", "kind": "Deployment"}))),
            ["spec.scaleTargetRef.name: Required value"]
        );
        assert_eq!(
            msgs(&r(
                json!({"apiVersion": "apps/v1", "kind": "..", "name": "x"})
            )),
            ["spec.scaleTargetRef.kind: Invalid value: \"..\": may not be '..'"]
        );
        assert_eq!(
            msgs(&r(
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "my/%dep"})
            )),
            [
                "spec.scaleTargetRef.name: Invalid value: \"my/%dep\": may not contain '/'",
                "spec.scaleTargetRef.name: Invalid value: \"my/%dep\": may not contain '%'"
            ]
        );
        assert_eq!(
            msgs(&r(json!({"kind": "Deployment", "name": "x"}))),
            [
                "spec.scaleTargetRef.apiVersion: Invalid value: \"\": apiVersion must specify API group"
            ]
        );
        assert_eq!(
            msgs(&r(
                json!({"apiVersion": "v1", "kind": "Deployment", "name": "x"})
            )),
            [
                "spec.scaleTargetRef.apiVersion: Invalid value: \"v1\": apiVersion must specify API group"
            ]
        );
        assert_eq!(
            msgs(&r(
                json!({"apiVersion": "apps/v1/v3", "kind": "Deployment", "name": "x"})
            )),
            [
                "spec.scaleTargetRef.apiVersion: Invalid value: \"apps/v1/v3\": unexpected GroupVersion string: apps/v1/v3"
            ]
        );
    }

    #[test]
    fn replicas() {
        // maxReplicas 0: the hand-written "less than minReplicas" first, then the declarative
        // "Required value".
        assert_eq!(
            msgs(&v2(spec_with(|s| s["maxReplicas"] = json!(0)))),
            [
                "spec.maxReplicas: Invalid value: 0: must be greater than or equal to `minReplicas`",
                "spec.maxReplicas: Required value"
            ]
        );
        assert_eq!(
            msgs(&v2(spec_with(|s| {
                s["minReplicas"] = json!(7);
                s["maxReplicas"] = json!(5);
            }))),
            ["spec.maxReplicas: Invalid value: 5: must be greater than or equal to `minReplicas`"]
        );
        assert_eq!(
            msgs(&v2(spec_with(|s| {
                s["minReplicas"] = json!(-1);
                s["maxReplicas"] = json!(-2);
            }))),
            [
                "spec.maxReplicas: Invalid value: -2: must be greater than or equal to `minReplicas`",
                "spec.minReplicas: Invalid value: -1: must be greater than or equal to 0",
                "spec.maxReplicas: Invalid value: -2: must be greater than or equal to 1"
            ]
        );
        // HPAScaleToZero (on in v1.37): zero needs an Object or External metric.
        assert_eq!(
            msgs(&v2(spec_with(|s| s["minReplicas"] = json!(0)))),
            [
                "spec.metrics: Forbidden: must specify at least one Object or External metric to support scaling to zero replicas"
            ]
        );
        let ext = json!({"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "AverageValue", "averageValue": "30"}}});
        assert_eq!(
            v2(spec_with(|s| {
                s["minReplicas"] = json!(0);
                s["metrics"] = json!([cpu_metric(), ext]);
            })),
            vec![]
        );
    }

    #[test]
    fn metric_types() {
        let bogus = msgs(&metric(json!({"type": "Bogus"})));
        assert_eq!(
            bogus,
            [
                "spec.metrics[0].type: Unsupported value: \"Bogus\": supported values: \"ContainerResource\", \"External\", \"Object\", \"Pods\", \"Resource\""
            ]
        );
        let empty = msgs(&metric(json!({})));
        assert_eq!(
            empty[0],
            "spec.metrics[0].type: Required value: must specify a metric source type"
        );
        assert_eq!(empty.len(), 2);
        assert!(
            empty[1]
                .starts_with("spec.metrics[0].type: Unsupported value: \"\": supported values: ")
        );
        // The type names a source that is not there: the one present is validated, and not
        // refused as a second source.
        let pods = json!({"metric": {"name": "m"}, "target": {"type": "AverageValue", "averageValue": "1"}});
        assert_eq!(
            msgs(&metric(json!({"type": "Resource", "pods": pods}))),
            [
                "spec.metrics[0].resource: Required value: must populate information for the given metric source"
            ]
        );
        // Two sources.
        let res =
            json!({"name": "cpu", "target": {"type": "AverageValue", "averageValue": "100m"}});
        assert_eq!(
            msgs(&metric(
                json!({"type": "Resource", "resource": res, "pods": pods})
            )),
            ["spec.metrics[0].pods: Forbidden: must populate the given metric source only"]
        );
        for (t, f) in [
            ("Object", "object"),
            ("Pods", "pods"),
            ("External", "external"),
            ("ContainerResource", "containerResource"),
        ] {
            let e = metric(json!({"type": t, "resource": res}));
            assert_eq!(
                e[0].to_string(),
                format!(
                    "spec.metrics[0].{f}: Required value: must populate information for the given metric source"
                )
            );
        }
    }

    #[test]
    fn resource_metrics() {
        let r = |res: Value| metric(json!({"type": "Resource", "resource": res}));
        assert_eq!(
            msgs(&r(
                json!({"target": {"type": "Utilization", "averageUtilization": 70}})
            )),
            ["spec.metrics[0].resource.name: Required value: must specify a resource name"]
        );
        assert_eq!(
            msgs(&r(
                json!({"name": "cpu", "target": {"type": "Utilization"}})
            )),
            [
                "spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target raw value or a target utilization"
            ]
        );
        assert_eq!(
            msgs(&r(
                json!({"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70, "averageValue": "100m"}})
            )),
            [
                "spec.metrics[0].resource.target.averageValue: Forbidden: may not set both a target raw value and a target utilization"
            ]
        );
        assert_eq!(
            msgs(&r(
                json!({"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 0}})
            )),
            [
                "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0"
            ]
        );
        assert_eq!(
            msgs(&r(
                json!({"name": "cpu", "target": {"type": "AverageValue", "averageValue": "-0.5"}})
            )),
            [
                "spec.metrics[0].resource.target.averageValue: Invalid value: \"-500m\": must be positive"
            ]
        );
        assert_eq!(
            msgs(&r(
                json!({"name": "cpu", "target": {"type": "Bogus", "averageValue": "1"}})
            )),
            [
                "spec.metrics[0].resource.target.type: Invalid value: \"Bogus\": must be either Utilization, Value, or AverageValue"
            ]
        );
        assert_eq!(
            msgs(&r(json!({"name": "cpu", "target": {"averageValue": "1"}}))),
            [
                "spec.metrics[0].resource.target.type: Required value: must specify a metric target type",
                "spec.metrics[0].resource.target.type: Invalid value: \"\": must be either Utilization, Value, or AverageValue"
            ]
        );
        // A resource metric's name is only required, not checked.
        assert_eq!(
            r(
                json!({"name": "InvalidResource", "target": {"type": "AverageValue", "averageValue": "1"}})
            ),
            vec![]
        );
    }

    #[test]
    fn container_resource_metrics() {
        let c = |cr: Value| metric(json!({"type": "ContainerResource", "containerResource": cr}));
        let target = json!({"type": "Utilization", "averageUtilization": 70});
        assert_eq!(
            msgs(&c(
                json!({"name": "InvalidResource", "container": "app", "target": target})
            )),
            [
                "spec.metrics[0].containerResource.name: Invalid value: \"InvalidResource\": must be a standard resource type or fully qualified",
                "spec.metrics[0].containerResource.name: Invalid value: \"InvalidResource\": must be a standard resource for containers"
            ]
        );
        assert_eq!(
            msgs(&c(
                json!({"name": "pods", "container": "app", "target": target})
            )),
            [
                "spec.metrics[0].containerResource.name: Invalid value: \"pods\": must be a standard resource for containers"
            ]
        );
        assert_eq!(
            c(json!({"name": "example.com/gpu", "container": "app", "target": target})),
            vec![]
        );
        let e = c(json!({"name": "a b", "container": "app", "target": target}));
        assert!(e[0].to_string().starts_with(
            "spec.metrics[0].containerResource.name: Invalid value: \"a b\": name part must consist of"
        ));
        assert_eq!(e.len(), 2);
        assert_eq!(
            msgs(&c(
                json!({"name": "example.com/a/b", "container": "app", "target": target})
            ))[1],
            "spec.metrics[0].containerResource.name: Invalid value: \"example.com/a/b\": doesn't follow extended resource name standard"
        );
        assert_eq!(
            msgs(&c(json!({"name": "cpu", "target": target}))),
            [
                "spec.metrics[0].containerResource.container: Required value: must specify a container"
            ]
        );
        assert_eq!(
            fields(&c(json!({"container": "---***", "target": target}))),
            [
                "spec.metrics[0].containerResource.name",
                "spec.metrics[0].containerResource.container"
            ]
        );
        assert_eq!(
            fields(&c(
                json!({"name": "cpu", "container": "app", "target": {"type": "Utilization"}})
            )),
            ["spec.metrics[0].containerResource.target.averageUtilization"]
        );
        assert_eq!(
            fields(&c(
                json!({"name": "cpu", "container": "app", "target": {"type": "Utilization", "averageUtilization": -1}})
            )),
            ["spec.metrics[0].containerResource.target.averageUtilization"]
        );
    }

    #[test]
    fn pods_object_external_metrics() {
        let m = |t: &str, f: &str, src: Value| metric(json!({"type": t, f: src}));
        assert_eq!(
            msgs(&m(
                "Pods",
                "pods",
                json!({"metric": {}, "target": {"type": "AverageValue", "averageValue": "1"}})
            )),
            ["spec.metrics[0].pods.metric.name: Required value: must specify a metric name"]
        );
        // A utilization is not what a Pods metric targets.
        assert_eq!(
            msgs(&m(
                "Pods",
                "pods",
                json!({"metric": {"name": "x"}, "target": {"type": "Utilization", "averageUtilization": 50}})
            )),
            [
                "spec.metrics[0].pods.target.averageValue: Required value: must specify a positive target averageValue"
            ]
        );
        assert_eq!(
            msgs(&m(
                "Pods",
                "pods",
                json!({"metric": {"name": "a/b"}, "target": {"type": "AverageValue", "averageValue": "0"}})
            )),
            [
                "spec.metrics[0].pods.metric.name: Invalid value: \"a/b\": may not contain '/'",
                "spec.metrics[0].pods.target.averageValue: Invalid value: \"0\": must be positive"
            ]
        );
        let obj = |d: Value, t: Value| json!({"describedObject": d, "metric": {"name": "x"}, "target": t});
        let rc = json!({"kind": "ReplicationController", "name": "myrc"});
        assert_eq!(
            msgs(&m(
                "Object",
                "object",
                obj(rc.clone(), json!({"type": "Value"}))
            )),
            [
                "spec.metrics[0].object.target.averageValue: Required value: must set either a target value or averageValue"
            ]
        );
        assert_eq!(
            msgs(&m(
                "Object",
                "object",
                obj(
                    json!({"name": "myrc"}),
                    json!({"type": "Value", "value": "-1Gi"})
                )
            )),
            [
                "spec.metrics[0].object.describedObject.kind: Required value",
                "spec.metrics[0].object.target.value: Invalid value: \"-1Gi\": must be positive"
            ]
        );
        assert_eq!(
            fields(&m(
                "Object",
                "object",
                obj(
                    json!({"kind": "Deployment", "name": "d", "apiVersion": "a/b/c"}),
                    json!({"type": "Value", "value": "1"})
                )
            )),
            ["spec.metrics[0].object.describedObject.apiVersion"]
        );
        let ext = |t: Value| json!({"metric": {"name": "queue"}, "target": t});
        assert_eq!(
            msgs(&m("External", "external", ext(json!({"type": "Value"})))),
            [
                "spec.metrics[0].external.target.averageValue: Required value: must set either a target value for metric or a per-pod target"
            ]
        );
        assert_eq!(
            msgs(&m(
                "External",
                "external",
                ext(json!({"type": "Value", "value": "1", "averageValue": "1"}))
            )),
            [
                "spec.metrics[0].external.target.value: Forbidden: may not set both a target value for metric and a per-pod target"
            ]
        );
        assert_eq!(
            fields(&m(
                "External",
                "external",
                ext(json!({"type": "AverageValue", "averageValue": "-3"}))
            )),
            ["spec.metrics[0].external.target.averageValue"]
        );
        assert_eq!(
            fields(&m("External", "external", json!({"metric": {"name": "q"}}))),
            [
                "spec.metrics[0].external.target.type",
                "spec.metrics[0].external.target.type",
                "spec.metrics[0].external.target.averageValue"
            ]
        );
    }

    #[test]
    fn behavior_rules() {
        let up = |r: Value| behavior(json!({"scaleUp": r}));
        let down = |r: Value| behavior(json!({"scaleDown": r}));
        let pol = |t: &str, v: i64, p: i64| json!([{"type": t, "value": v, "periodSeconds": p}]);
        assert_eq!(
            msgs(&up(json!({"selectPolicy": "Min", "policies": []}))),
            ["spec.behavior.scaleUp.policies: Required value: must specify at least one Policy"]
        );
        assert_eq!(
            msgs(&up(json!({"stabilizationWindowSeconds": 3601}))),
            [
                "spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: 3601: must be less than or equal to 3600"
            ]
        );
        assert_eq!(
            msgs(&down(json!({"stabilizationWindowSeconds": -1}))),
            [
                "spec.behavior.scaleDown.stabilizationWindowSeconds: Invalid value: -1: must be greater than or equal to zero"
            ]
        );
        assert_eq!(
            msgs(&up(json!({"policies": pol("Pods", 7, 1801)}))),
            [
                "spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 1801: must be less than or equal to 1800"
            ]
        );
        assert_eq!(
            msgs(&up(json!({"selectPolicy": "incorrect"}))),
            [
                "spec.behavior.scaleUp.selectPolicy: Unsupported value: \"incorrect\": supported values: \"Disabled\", \"Max\", \"Min\""
            ]
        );
        assert_eq!(
            msgs(&down(json!({"policies": pol("hm", 7, 8)}))),
            [
                "spec.behavior.scaleDown.policies[0].type: Unsupported value: \"hm\": supported values: \"Percent\", \"Pods\""
            ]
        );
        assert_eq!(
            msgs(&down(json!({"policies": pol("Pods", 8, 0)}))),
            [
                "spec.behavior.scaleDown.policies[0].periodSeconds: Invalid value: 0: must be greater than zero"
            ]
        );
        assert_eq!(
            msgs(&up(json!({"policies": pol("Pods", 0, 8)}))),
            [
                "spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero"
            ]
        );
        assert_eq!(
            fields(&down(json!({"policies": pol("Percent", -1, -1)}))),
            [
                "spec.behavior.scaleDown.policies[0].value",
                "spec.behavior.scaleDown.policies[0].periodSeconds"
            ]
        );
        // HPAConfigurableTolerance is GA: a tolerance is kept and checked.
        assert_eq!(
            msgs(&up(json!({"tolerance": "-0.001"}))),
            [
                "spec.behavior.scaleUp.tolerance: Invalid value: \"-1m\": must be greater than or equal to 0"
            ]
        );
        assert_eq!(
            up(json!({"tolerance": "1m", "stabilizationWindowSeconds": 60})),
            vec![]
        );
    }

    #[test]
    fn autoscaling_v1() {
        let spec = |pct: Value| json!({"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 3, "targetCPUUtilizationPercentage": pct});
        assert_eq!(v1(spec(json!(50))), vec![]);
        // Reported where the conversion put it.
        assert_eq!(
            msgs(&v1(spec(json!(0)))),
            [
                "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0"
            ]
        );
        let mut s = spec(json!(50));
        s["maxReplicas"] = json!(0);
        s["scaleTargetRef"]["kind"] = json!("");
        assert_eq!(
            msgs(&v1(s)),
            [
                "spec.maxReplicas: Invalid value: 0: must be greater than or equal to `minReplicas`",
                "spec.scaleTargetRef.kind: Required value",
                "spec.maxReplicas: Required value"
            ]
        );
        let mut s = spec(json!(50));
        s["minReplicas"] = json!(0);
        assert_eq!(fields(&v1(s)), ["spec.metrics"]);
    }

    #[test]
    fn quantities_print_as_upstream() {
        let c = |s: &str| canonical_quantity(s).unwrap().0;
        assert_eq!(c("-0.5"), "-500m");
        assert_eq!(c("-1Gi"), "-1Gi");
        assert_eq!(c("-0.5Gi"), "-512Mi");
        assert_eq!(c("-512"), "-512");
        assert_eq!(c("-1000m"), "-1");
        assert_eq!(c("-1500"), "-1500");
        assert_eq!(c("-1.5k"), "-1500");
        assert_eq!(c("-2000"), "-2k");
        assert_eq!(c("-1e3"), "-1e3");
        assert_eq!(c("0Gi"), "0");
        assert_eq!(go_json_string("a<b>\"&"), "\"a\\u003cb\\u003e\\\"\\u0026\"");
    }
}
