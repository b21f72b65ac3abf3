//! Workloads as the API server validates them (`pkg/apis/apps/validation/validation.go`:
//! `ValidateDeploymentSpec`, `ValidateReplicaSetSpec`, `ValidateStatefulSetSpec`,
//! `ValidateDaemonSetSpec`, `ValidatePodTemplateSpecForReplicaSet`).
//!
//! Upstream validates the defaulted object: an unset strategy is `RollingUpdate` with 25%
//! surge and 25% unavailable, an unset `podManagementPolicy` is `OrderedReady`, and so on;
//! unset fields are read with those defaults.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::field::{self, ErrorList, Path};
use super::meta::{self, dns1123_label_errors};
use super::pod;

const NEGATIVE: &str = "must be greater than or equal to 0";
pub(super) const PERCENT_MSG: &str = "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";

/// `ValidateNonnegativeField`.
fn nonnegative(v: i64, path: &Path) -> ErrorList {
    if v < 0 {
        vec![field::invalid(path, v, NEGATIVE)]
    } else {
        vec![]
    }
}

/// The percentage of a valid percent string (`getPercentValue`).
fn percent_value(v: &IntOrString) -> Option<i64> {
    match v {
        IntOrString::String(s) => {
            let digits = s.strip_suffix('%')?;
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            Some(digits.parse().unwrap_or(i64::MAX))
        }
        IntOrString::Int(_) => None,
    }
}

/// `getIntOrPercentValue`.
fn int_or_percent_value(v: &IntOrString) -> i64 {
    match v {
        IntOrString::Int(i) => i64::from(*i),
        IntOrString::String(_) => percent_value(v).unwrap_or(0),
    }
}

/// `ValidatePositiveIntOrPercent`: a non-negative integer or a percent string.
pub(super) fn positive_int_or_percent(v: &IntOrString, path: &Path) -> ErrorList {
    match v {
        IntOrString::String(_) if percent_value(v).is_none() => {
            vec![field::invalid(path, v, PERCENT_MSG)]
        }
        IntOrString::String(_) => vec![],
        IntOrString::Int(i) => nonnegative(i64::from(*i), path),
    }
}

/// `IsNotMoreThan100Percent`.
pub(super) fn not_more_than_100_percent(v: &IntOrString, path: &Path) -> ErrorList {
    match percent_value(v) {
        Some(p) if p > 100 => vec![field::invalid(path, v, "must not be greater than 100%")],
        _ => vec![],
    }
}

/// A workload's selector: required, valid, and not empty (`empty selector is invalid for
/// KIND`).
fn selector(sel: Option<&LabelSelector>, path: &Path, kind: &str) -> ErrorList {
    let Some(sel) = sel else {
        return vec![field::required(path, "")];
    };
    let mut errs = meta::label_selector(sel, path);
    if meta::selector_is_empty(sel) {
        errs.push(field::invalid(
            path,
            &serde_json::to_value(sel).unwrap_or_default(),
            format!("empty selector is invalid for {kind}"),
        ));
    }
    errs
}

/// `ValidatePodTemplateSpecForReplicaSet` (and the StatefulSet/DaemonSet variants): labels
/// match the selector, the template is a valid pod template, restarts `Always`, no
/// `activeDeadlineSeconds`.
fn template(
    t: &PodTemplateSpec,
    sel: Option<&LabelSelector>,
    path: &Path,
    owner: &str,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let labels = t
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    if let Some(sel) = sel
        && !meta::selector_is_empty(sel)
        && !meta::selector_matches(sel, &labels)
    {
        let shown = t
            .metadata
            .as_ref()
            .and_then(|m| m.labels.as_ref())
            .map(|l| serde_json::to_value(l).unwrap_or_default())
            .unwrap_or(serde_json::Value::Null);
        errs.push(field::invalid(
            &path.child("metadata").child("labels"),
            &shown,
            "`selector` does not match template `labels`",
        ));
    }
    errs.extend(pod::pod_template(t, path));
    let spec = t.spec.as_ref();
    if let Some(rp) = spec.and_then(|s| s.restart_policy.as_deref())
        && rp != "Always"
    {
        errs.push(field::not_supported(
            &path.child("spec").child("restartPolicy"),
            rp,
            &["Always"],
        ));
    }
    if spec.is_some_and(|s| s.active_deadline_seconds.is_some()) {
        errs.push(field::forbidden(
            &path.child("spec").child("activeDeadlineSeconds"),
            format!("activeDeadlineSeconds in {owner} is not Supported"),
        ));
    }
    errs
}

/// `ValidateDeploymentSpec`.
pub(super) fn deployment(d: &Deployment) -> ErrorList {
    let p = Path::new("spec");
    let Some(s) = &d.spec else {
        return vec![field::required(&p.child("selector"), "")];
    };
    let mut errs = nonnegative(i64::from(s.replicas.unwrap_or(1)), &p.child("replicas"));
    errs.extend(selector(
        Some(&s.selector),
        &p.child("selector"),
        "deployment",
    ));
    errs.extend(template(
        &s.template,
        Some(&s.selector),
        &p.child("template"),
        "ReplicaSet",
    ));
    let sp = p.child("strategy");
    let strategy = s.strategy.as_ref();
    match strategy
        .and_then(|st| st.type_.as_deref())
        .unwrap_or("RollingUpdate")
    {
        "Recreate" => {
            if strategy.is_some_and(|st| st.rolling_update.is_some()) {
                errs.push(field::forbidden(
                    &sp.child("rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => {
            let ru = strategy.and_then(|st| st.rolling_update.as_ref());
            let default = IntOrString::String("25%".into());
            let unavailable = ru
                .and_then(|r| r.max_unavailable.clone())
                .unwrap_or(default.clone());
            let surge = ru.and_then(|r| r.max_surge.clone()).unwrap_or(default);
            let rp = sp.child("rollingUpdate");
            errs.extend(positive_int_or_percent(
                &unavailable,
                &rp.child("maxUnavailable"),
            ));
            errs.extend(positive_int_or_percent(&surge, &rp.child("maxSurge")));
            if int_or_percent_value(&unavailable) == 0 && int_or_percent_value(&surge) == 0 {
                errs.push(field::invalid(
                    &rp.child("maxUnavailable"),
                    &unavailable,
                    "may not be 0 when `maxSurge` is 0",
                ));
            }
            errs.extend(not_more_than_100_percent(
                &unavailable,
                &rp.child("maxUnavailable"),
            ));
        }
        _ => errs.push(field::not_supported(
            &sp,
            &serde_json::to_value(strategy).unwrap_or_default(),
            &["Recreate", "RollingUpdate"],
        )),
    }
    let min_ready = i64::from(s.min_ready_seconds.unwrap_or(0));
    errs.extend(nonnegative(min_ready, &p.child("minReadySeconds")));
    if let Some(r) = s.revision_history_limit {
        errs.extend(nonnegative(i64::from(r), &p.child("revisionHistoryLimit")));
    }
    if let Some(pd) = s.progress_deadline_seconds {
        errs.extend(nonnegative(
            i64::from(pd),
            &p.child("progressDeadlineSeconds"),
        ));
        if i64::from(pd) <= min_ready {
            errs.push(field::invalid(
                &p.child("progressDeadlineSeconds"),
                pd,
                "must be greater than minReadySeconds",
            ));
        }
    }
    errs
}

/// `ValidateReplicaSetSpec`.
pub(super) fn replica_set(r: &ReplicaSet) -> ErrorList {
    let p = Path::new("spec");
    let Some(s) = &r.spec else {
        return vec![field::required(&p.child("selector"), "")];
    };
    let mut errs = nonnegative(i64::from(s.replicas.unwrap_or(1)), &p.child("replicas"));
    errs.extend(nonnegative(
        i64::from(s.min_ready_seconds.unwrap_or(0)),
        &p.child("minReadySeconds"),
    ));
    // Upstream's wording names deployments here too.
    errs.extend(selector(
        Some(&s.selector),
        &p.child("selector"),
        "deployment",
    ));
    match &s.template {
        Some(t) => errs.extend(template(
            t,
            Some(&s.selector),
            &p.child("template"),
            "ReplicaSet",
        )),
        None => errs.push(field::required(&p.child("template"), "")),
    }
    errs
}

/// `ValidateStatefulSetSpec`.
pub(super) fn stateful_set(st: &StatefulSet) -> ErrorList {
    let p = Path::new("spec");
    let Some(s) = &st.spec else {
        return vec![field::required(&p.child("selector"), "")];
    };
    let mut errs = ErrorList::new();
    if let Some(pm) = s.pod_management_policy.as_deref()
        && !matches!(pm, "OrderedReady" | "Parallel")
    {
        errs.push(field::invalid(
            &p.child("podManagementPolicy"),
            pm,
            "must be 'OrderedReady' or 'Parallel'",
        ));
    }
    let up = p.child("updateStrategy");
    if let Some(us) = &s.update_strategy {
        match us.type_.as_deref().unwrap_or("RollingUpdate") {
            "OnDelete" => {
                if let Some(ru) = &us.rolling_update {
                    errs.push(field::invalid(
                        &up.child("rollingUpdate"),
                        &serde_json::to_value(ru).unwrap_or_default(),
                        "only allowed for updateStrategy 'RollingUpdate'",
                    ));
                }
            }
            "RollingUpdate" => {
                if let Some(ru) = &us.rolling_update {
                    let rp = up.child("rollingUpdate");
                    errs.extend(nonnegative(
                        i64::from(ru.partition.unwrap_or(0)),
                        &rp.child("partition"),
                    ));
                    if let Some(mu) = &ru.max_unavailable {
                        let mp = rp.child("maxUnavailable");
                        errs.extend(positive_int_or_percent(mu, &mp));
                        if int_or_percent_value(mu) == 0 {
                            errs.push(field::invalid(&mp, mu, "cannot be 0"));
                        }
                        errs.extend(not_more_than_100_percent(mu, &mp));
                    }
                }
            }
            _ => errs.push(field::invalid(
                &up,
                &serde_json::to_value(us).unwrap_or_default(),
                "must be 'RollingUpdate' or 'OnDelete'",
            )),
        }
    }
    errs.extend(nonnegative(
        i64::from(s.replicas.unwrap_or(1)),
        &p.child("replicas"),
    ));
    errs.extend(nonnegative(
        i64::from(s.min_ready_seconds.unwrap_or(0)),
        &p.child("minReadySeconds"),
    ));
    if let Some(o) = &s.ordinals {
        errs.extend(nonnegative(
            i64::from(o.start.unwrap_or(0)),
            &p.child("ordinals.start"),
        ));
    }
    if let Some(sn) = s.service_name.as_deref().filter(|n| !n.is_empty()) {
        for m in dns1123_label_errors(sn) {
            errs.push(field::invalid(&p.child("serviceName"), sn, m));
        }
    }
    errs.extend(selector(
        Some(&s.selector),
        &p.child("selector"),
        "statefulset",
    ));
    errs.extend(template(
        &s.template,
        Some(&s.selector),
        &p.child("template"),
        "StatefulSet",
    ));
    if let Some(r) = s.revision_history_limit {
        errs.extend(nonnegative(i64::from(r), &p.child("revisionHistoryLimit")));
    }
    errs
}

/// `ValidateDaemonSetSpec`.
pub(super) fn daemon_set(d: &DaemonSet) -> ErrorList {
    let p = Path::new("spec");
    let Some(s) = &d.spec else {
        return vec![field::required(&p.child("selector"), "")];
    };
    let mut errs = meta::label_selector(&s.selector, &p.child("selector"));
    if meta::selector_is_empty(&s.selector) {
        errs.push(field::invalid(
            &p.child("selector"),
            &serde_json::to_value(&s.selector).unwrap_or_default(),
            "empty selector is invalid for daemonset",
        ));
    }
    errs.extend(template(
        &s.template,
        Some(&s.selector),
        &p.child("template"),
        "DaemonSet",
    ));
    errs.extend(nonnegative(
        i64::from(s.min_ready_seconds.unwrap_or(0)),
        &p.child("minReadySeconds"),
    ));
    let up = p.child("updateStrategy");
    if let Some(us) = &s.update_strategy {
        match us.type_.as_deref().unwrap_or("RollingUpdate") {
            "OnDelete" => {}
            "RollingUpdate" => {
                let ru = us.rolling_update.as_ref();
                let unavailable = ru
                    .and_then(|r| r.max_unavailable.clone())
                    .unwrap_or(IntOrString::Int(1));
                let surge = ru
                    .and_then(|r| r.max_surge.clone())
                    .unwrap_or(IntOrString::Int(0));
                let rp = up.child("rollingUpdate");
                errs.extend(positive_int_or_percent(
                    &unavailable,
                    &rp.child("maxUnavailable"),
                ));
                errs.extend(positive_int_or_percent(&surge, &rp.child("maxSurge")));
                errs.extend(not_more_than_100_percent(
                    &unavailable,
                    &rp.child("maxUnavailable"),
                ));
                errs.extend(not_more_than_100_percent(&surge, &rp.child("maxSurge")));
                let has_unavailable = int_or_percent_value(&unavailable) != 0;
                let has_surge = int_or_percent_value(&surge) != 0;
                if has_unavailable && has_surge {
                    errs.push(field::invalid(
                        &rp.child("maxSurge"),
                        &surge,
                        "may not be set when maxUnavailable is non-zero",
                    ));
                } else if !has_unavailable && !has_surge {
                    errs.push(field::required(
                        &rp.child("maxUnavailable"),
                        "cannot be 0 when maxSurge is 0",
                    ));
                }
            }
            _ => errs.push(field::not_supported(
                &up,
                &serde_json::to_value(us).unwrap_or_default(),
                &["RollingUpdate", "OnDelete"],
            )),
        }
    }
    if let Some(r) = s.revision_history_limit {
        errs.extend(nonnegative(i64::from(r), &p.child("revisionHistoryLimit")));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::super::tests::messages;
    use serde_json::{Value, json};

    fn deployment(spec_extra: Value) -> Value {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
        for (k, v) in spec_extra.as_object().unwrap() {
            d["spec"][k] = v.clone();
        }
        d
    }

    /// Cases from upstream's `TestValidateDeployment` and `TestValidateDeploymentStrategy`
    /// (`pkg/apis/apps/validation/validation_test.go`).
    #[test]
    fn deployment_rules() {
        assert!(messages(&deployment(json!({}))).is_empty());
        assert_eq!(
            messages(&deployment(json!({"replicas": -1}))),
            ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]
        );
        assert_eq!(
            messages(&deployment(
                json!({"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}})
            )),
            [
                "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"
            ]
        );
        assert_eq!(
            messages(&deployment(
                json!({"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}})
            )),
            [
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"
            ]
        );
        assert_eq!(
            messages(&deployment(
                json!({"strategy": {"rollingUpdate": {"maxUnavailable": "110%"}}})
            )),
            [
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"110%\": must not be greater than 100%"
            ]
        );
        let bad_percent = messages(&deployment(
            json!({"strategy": {"rollingUpdate": {"maxSurge": "20Percent"}}}),
        ));
        assert!(
            bad_percent[0].starts_with("spec.strategy.rollingUpdate.maxSurge: Invalid value: \"20Percent\": a valid percent string"),
            "{bad_percent:?}"
        );
        assert_eq!(
            messages(&deployment(
                json!({"minReadySeconds": 30, "progressDeadlineSeconds": 30})
            )),
            [
                "spec.progressDeadlineSeconds: Invalid value: 30: must be greater than minReadySeconds"
            ]
        );
        assert_eq!(
            messages(&deployment(json!({"revisionHistoryLimit": -2}))),
            ["spec.revisionHistoryLimit: Invalid value: -2: must be greater than or equal to 0"]
        );
        assert_eq!(
            messages(&deployment(json!({"selector": {}}))),
            ["spec.selector: Invalid value: {}: empty selector is invalid for deployment"]
        );
        let mut d = deployment(json!({}));
        d["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure");
        d["spec"]["template"]["spec"]["activeDeadlineSeconds"] = json!(10);
        assert_eq!(
            messages(&d),
            [
                "spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\"",
                "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported"
            ]
        );
    }

    #[test]
    fn a_missing_selector_is_required_and_matches_nothing() {
        let mut d = deployment(json!({}));
        d["spec"].as_object_mut().unwrap().remove("selector");
        assert_eq!(
            super::super::validate_written(&deployment(json!({"selector": {}})), &d)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"
            ]
        );
    }

    #[test]
    fn selector_must_select_the_template() {
        let d = deployment(
            json!({"selector": {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}}),
        );
        assert_eq!(
            messages(&d),
            [
                "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"
            ]
        );
    }

    /// `TestValidateStatefulSet` / `TestValidateDaemonSet` cases.
    #[test]
    fn statefulset_and_daemonset_rules() {
        let mut s = deployment(
            json!({"podManagementPolicy": "Sometimes", "updateStrategy": {"type": "OnDelete", "rollingUpdate": {"partition": 1}}}),
        );
        s["kind"] = json!("StatefulSet");
        assert_eq!(
            messages(&s),
            [
                "spec.podManagementPolicy: Invalid value: \"Sometimes\": must be 'OrderedReady' or 'Parallel'",
                "spec.updateStrategy.rollingUpdate: Invalid value: {\"partition\":1}: only allowed for updateStrategy 'RollingUpdate'"
            ]
        );
        let mut ds = deployment(
            json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}}}),
        );
        ds["kind"] = json!("DaemonSet");
        assert_eq!(
            messages(&ds),
            [
                "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero"
            ]
        );
    }
}
