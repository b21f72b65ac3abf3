//! HorizontalPodAutoscalers (`printHorizontalPodAutoscaler` and `formatHPAMetrics`).

use serde_json::Value;

use super::cells::{arr_at, int_at, int_or_string, name_of, s, str_at};
use super::table::TableDef;
use super::time::age_of;

/// `kubectl get hpa` (printHorizontalPodAutoscaler).
pub(super) const HORIZONTAL_POD_AUTOSCALER: TableDef = TableDef {
    headers: &[
        "NAME",
        "REFERENCE",
        "TARGETS",
        "MINPODS",
        "MAXPODS",
        "REPLICAS",
        "AGE",
    ],
    wide_extra: 0,
    row: |o, now| {
        vec![
            name_of(o),
            format!(
                "{}/{}",
                str_at(o, &["spec", "scaleTargetRef", "kind"]),
                str_at(o, &["spec", "scaleTargetRef", "name"])
            ),
            format_hpa_targets(o),
            s(o, &["spec", "minReplicas"])
                .and_then(Value::as_i64)
                .map(|m| m.to_string())
                .unwrap_or_else(|| "<unset>".to_string()),
            int_at(o, &["spec", "maxReplicas"]).to_string(),
            int_at(o, &["status", "currentReplicas"]).to_string(),
            age_of(s(o, &["metadata", "creationTimestamp"]), now),
        ]
    },
};

/// kubectl's TARGETS column of an HPA (formatHPAMetrics): up to two metrics, then
/// `+ N more...`; resource metrics print as `cpu: 45%/50%` or `cpu: <unknown>/50%`.
fn format_hpa_targets(o: &Value) -> String {
    let specs = arr_at(o, &["spec", "metrics"]);
    if specs.is_empty() {
        return "<none>".to_string();
    }
    let statuses = arr_at(o, &["status", "currentMetrics"]);
    let q = |v: Option<&Value>| int_or_string(v).unwrap_or_default();
    let mut list: Vec<String> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let st = statuses.get(i);
        let item = match str_at(spec, &["type"]) {
            t @ ("Resource" | "ContainerResource") => {
                let key = if t == "Resource" {
                    "resource"
                } else {
                    "containerResource"
                };
                let rs = &spec[key];
                let name = str_at(rs, &["name"]);
                let cur = st.and_then(|x| x.get(key)).filter(|x| x.is_object());
                if let Some(avg) = s(rs, &["target", "averageValue"]) {
                    let c = cur
                        .and_then(|c| s(c, &["current", "averageValue"]))
                        .map(|v| q(Some(v)))
                        .unwrap_or_else(|| "<unknown>".into());
                    format!("{name}: {c}/{}", q(Some(avg)))
                } else {
                    let c = cur
                        .and_then(|c| s(c, &["current", "averageUtilization"]))
                        .and_then(Value::as_i64)
                        .map(|u| format!("{u}%"))
                        .unwrap_or_else(|| "<unknown>".into());
                    let t = s(rs, &["target", "averageUtilization"])
                        .and_then(Value::as_i64)
                        .map(|u| format!("{u}%"))
                        .unwrap_or_else(|| "<auto>".into());
                    format!("{name}: {c}/{t}")
                }
            }
            "Pods" => {
                let c = st
                    .and_then(|x| x.get("pods"))
                    .and_then(|p| s(p, &["current", "averageValue"]))
                    .map(|v| q(Some(v)))
                    .unwrap_or_else(|| "<unknown>".into());
                format!("{c}/{}", q(s(spec, &["pods", "target", "averageValue"])))
            }
            t @ ("Object" | "External") => {
                let key = if t == "Object" { "object" } else { "external" };
                let cur = st.and_then(|x| x.get(key)).filter(|x| x.is_object());
                if let Some(avg) = s(spec, &[key, "target", "averageValue"]) {
                    let c = cur
                        .and_then(|c| s(c, &["current", "averageValue"]))
                        .map(|v| q(Some(v)))
                        .unwrap_or_else(|| "<unknown>".into());
                    format!("{c}/{} (avg)", q(Some(avg)))
                } else {
                    let c = cur
                        .and_then(|c| s(c, &["current", "value"]))
                        .map(|v| q(Some(v)))
                        .unwrap_or_else(|| "<unknown>".into());
                    format!("{c}/{}", q(s(spec, &[key, "target", "value"])))
                }
            }
            _ => "<unknown type>".to_string(),
        };
        list.push(item);
    }
    let count = list.len();
    if count > 2 {
        list.truncate(2);
        return format!("{} + {} more...", list.join(", "), count - 2);
    }
    list.join(", ")
}

#[cfg(test)]
mod tests {
    use crate::kinds::Kind;
    use crate::printers::print_objects;
    use crate::printers::testing::*;
    use serde_json::json;

    #[test]
    fn hpa_table() {
        let mk = |name: &str, current: Option<i64>| {
            let mut h = json!({
                "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": name, "creationTimestamp": "2024-05-01T11:00:00Z"},
                "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                    "minReplicas": 2, "maxReplicas": 10,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]},
                "status": {"currentReplicas": 4}
            });
            if let Some(c) = current {
                h["status"]["currentMetrics"] = json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": c}}}]);
            }
            h
        };
        let out = print_objects(
            Kind::HorizontalPodAutoscaler,
            &[mk("web", Some(45)), mk("web-new", None)],
            &opts(),
        );
        assert_eq!(
            out.stdout,
            "\
NAME      REFERENCE        TARGETS              MINPODS   MAXPODS   REPLICAS   AGE
web       Deployment/web   cpu: 45%/50%         2         10        4          60m
web-new   Deployment/web   cpu: <unknown>/50%   2         10        4          60m
"
        );
    }

    #[test]
    fn hpa_targets_of_every_metric_type() {
        // printers.go formatHPAMetrics: Pods `cur/target`, Object/External Value `cur/target`,
        // AverageValue `cur/target (avg)`, ContainerResource `cpu: cur/target`; two shown,
        // then `+ N more...`; statuses are matched by index (`type: ""` for a failed metric).
        let h = json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "w", "creationTimestamp": "2024-05-01T11:00:00Z"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "w", "apiVersion": "apps/v1"}, "minReplicas": 1, "maxReplicas": 10,
                "metrics": [
                    {"type": "External", "external": {"metric": {"name": "queue_length"}, "target": {"type": "AverageValue", "averageValue": "20"}}},
                    {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "8"}}},
                    {"type": "Object", "object": {"describedObject": {"kind": "Deployment", "name": "w"}, "metric": {"name": "rps"}, "target": {"type": "Value", "value": "100"}}}]},
            "status": {"currentReplicas": 4, "currentMetrics": [
                {"type": "External", "external": {"metric": {"name": "queue_length"}, "current": {"averageValue": "150"}}},
                {"type": "Pods", "pods": {"metric": {"name": "rps"}, "current": {"averageValue": "7500m"}}},
                {"type": ""}]}
        });
        let out = print_objects(
            Kind::HorizontalPodAutoscaler,
            std::slice::from_ref(&h),
            &opts(),
        );
        assert!(
            out.stdout.contains("150/20 (avg), 7500m/8 + 1 more..."),
            "{}",
            out.stdout
        );
        let mut two = h;
        two["spec"]["metrics"] = json!([
            {"type": "Object", "object": {"describedObject": {"kind": "Deployment", "name": "w"}, "metric": {"name": "rps"}, "target": {"type": "Value", "value": "100"}}},
            {"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app", "target": {"type": "Utilization", "averageUtilization": 50}}}]);
        two["status"]["currentMetrics"] = json!([
            {"type": ""},
            {"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app", "current": {"averageUtilization": 10, "averageValue": "50m"}}}]);
        let out = print_objects(Kind::HorizontalPodAutoscaler, &[two], &opts());
        assert!(
            out.stdout.contains("<unknown>/100, cpu: 10%/50%"),
            "{}",
            out.stdout
        );
    }
}
