//! HorizontalPodAutoscalers (`printHorizontalPodAutoscaler` and `formatHPAMetrics`).

use std::fmt::Write as _;

use serde_json::Value;

use super::cells::{arr_at, int_at, int_or_string, name_of, s, str_at};
use super::describe_template::multiline;
use super::table::{TableDef, go_tabwrite};
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

/// A quantity as the status or spec holds it (`Quantity.String()`), `<unknown>` when absent.
fn quantity(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `describeHorizontalPodAutoscalerV2` (kubectl `pkg/describe/describe.go`): name, labels,
/// creation time, reference, each metric as `current / target`, min/max replicas, the
/// behavior when set, the target's replicas, the conditions, then the events.
pub fn describe_hpa(o: &Value, events: &[super::describe::DescribeEvent]) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "Name:\t{}", name_of(o));
    let _ = writeln!(t, "Namespace:\t{}", str_at(o, &["metadata", "namespace"]));
    multiline(&mut t, "Labels", s(o, &["metadata", "labels"]), "=");
    multiline(
        &mut t,
        "Annotations",
        s(o, &["metadata", "annotations"]),
        ": ",
    );
    let created = super::time::rfc1123z(str_at(o, &["metadata", "creationTimestamp"]));
    let _ = writeln!(t, "CreationTimestamp:\t{created}");
    let kind = str_at(o, &["spec", "scaleTargetRef", "kind"]);
    let _ = writeln!(
        t,
        "Reference:\t{kind}/{}",
        str_at(o, &["spec", "scaleTargetRef", "name"])
    );
    t.push_str("Metrics:\t( current / target )\n");
    let current = arr_at(o, &["status", "currentMetrics"]);
    for (i, m) in arr_at(o, &["spec", "metrics"]).iter().enumerate() {
        let cur = |src: &str, field: &str| {
            current
                .get(i)
                .and_then(|c| quantity(s(c, &[src, "current", field])))
                .unwrap_or_else(|| "<unknown>".into())
        };
        let target =
            |src: &str, field: &str| quantity(s(m, &[src, "target", field])).unwrap_or_default();
        match str_at(m, &["type"]) {
            "External" => {
                let name = str_at(m, &["external", "metric", "name"]);
                if s(m, &["external", "target", "averageValue"]).is_some() {
                    let _ = writeln!(
                        t,
                        "  {name:?} (target average value):\t{} / {}",
                        cur("external", "averageValue"),
                        target("external", "averageValue")
                    );
                } else {
                    let _ = writeln!(
                        t,
                        "  {name:?} (target value):\t{} / {}",
                        cur("external", "value"),
                        target("external", "value")
                    );
                }
            }
            "Pods" => {
                let _ = writeln!(
                    t,
                    "  {:?} on pods:\t{} / {}",
                    str_at(m, &["pods", "metric", "name"]),
                    cur("pods", "averageValue"),
                    target("pods", "averageValue")
                );
            }
            "Object" => {
                let _ = write!(
                    t,
                    "  \"{}\" on {}/{} ",
                    str_at(m, &["object", "metric", "name"]),
                    str_at(m, &["object", "describedObject", "kind"]),
                    str_at(m, &["object", "describedObject", "name"])
                );
                if str_at(m, &["object", "target", "type"]) == "AverageValue" {
                    let _ = writeln!(
                        t,
                        "(target average value):\t{} / {}",
                        cur("object", "averageValue"),
                        target("object", "averageValue")
                    );
                } else {
                    let _ = writeln!(
                        t,
                        "(target value):\t{} / {}",
                        cur("object", "value"),
                        target("object", "value")
                    );
                }
            }
            src @ ("Resource" | "ContainerResource") => {
                let key = if src == "Resource" {
                    "resource"
                } else {
                    "containerResource"
                };
                let name = str_at(m, &[key, "name"]);
                if src == "Resource" {
                    let _ = write!(t, "  resource {name} on pods");
                } else {
                    let _ = write!(
                        t,
                        "  resource {name} of container \"{}\" on pods",
                        str_at(m, &[key, "container"])
                    );
                }
                if s(m, &[key, "target", "averageValue"]).is_some() {
                    let _ = writeln!(
                        t,
                        ":\t{} / {}",
                        cur(key, "averageValue"),
                        target(key, "averageValue")
                    );
                } else {
                    let c = current.get(i).and_then(|c| {
                        let u = s(c, &[key, "current", "averageUtilization"])?.as_i64()?;
                        let v =
                            quantity(s(c, &[key, "current", "averageValue"])).unwrap_or_default();
                        Some(format!("{u}% ({v})"))
                    });
                    let tgt = s(m, &[key, "target", "averageUtilization"])
                        .and_then(Value::as_i64)
                        .map_or_else(|| "<auto>".to_string(), |u| format!("{u}%"));
                    let _ = writeln!(
                        t,
                        "  (as a percentage of request):\t{} / {tgt}",
                        c.unwrap_or_else(|| "<unknown>".into())
                    );
                }
            }
            other => {
                let _ = writeln!(t, "  <unknown metric type {other:?}>");
            }
        }
    }
    let min = s(o, &["spec", "minReplicas"])
        .and_then(Value::as_i64)
        .map_or_else(|| "<unset>".to_string(), |m| m.to_string());
    let _ = writeln!(t, "Min replicas:\t{min}");
    let _ = writeln!(t, "Max replicas:\t{}", int_at(o, &["spec", "maxReplicas"]));
    if let Some(b) = s(o, &["spec", "behavior"]).filter(|b| !b.is_null()) {
        t.push_str("Behavior:\n");
        for (title, key) in [("Scale Up", "scaleUp"), ("Scale Down", "scaleDown")] {
            let Some(r) = b.get(key).filter(|r| !r.is_null()) else {
                continue;
            };
            let _ = writeln!(t, "  {title}:");
            if let Some(w) = r.get("stabilizationWindowSeconds").and_then(Value::as_i64) {
                let _ = writeln!(t, "    Stabilization Window: {w} seconds");
            }
            let policies = arr_at(r, &["policies"]);
            if !policies.is_empty() {
                let select = r
                    .get("selectPolicy")
                    .and_then(Value::as_str)
                    .unwrap_or("Max");
                let _ = writeln!(t, "    Select Policy: {select}");
                t.push_str("    Policies:\n");
                for p in policies {
                    let _ = writeln!(
                        t,
                        "      - Type: {}\tValue: {}\tPeriod: {} seconds",
                        str_at(p, &["type"]),
                        int_at(p, &["value"]),
                        int_at(p, &["periodSeconds"])
                    );
                }
            }
        }
    }
    let _ = writeln!(
        t,
        "{kind} pods:\t{} current / {} desired",
        int_at(o, &["status", "currentReplicas"]),
        int_at(o, &["status", "desiredReplicas"])
    );
    let conditions = arr_at(o, &["status", "conditions"]);
    if !conditions.is_empty() {
        t.push_str(
            "Conditions:\n  Type\tStatus\tReason\tMessage\n  ----\t------\t------\t-------\n",
        );
        for c in conditions {
            let _ = writeln!(
                t,
                "  {}\t{}\t{}\t{}",
                str_at(c, &["type"]),
                str_at(c, &["status"]),
                str_at(c, &["reason"]),
                str_at(c, &["message"])
            );
        }
    }
    if events.is_empty() {
        t.push_str("Events:\t<none>\n");
    }
    let mut out = go_tabwrite(&t, 0, 2);
    super::describe::write_events(&mut out, events);
    out
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

    // describe.go describeHorizontalPodAutoscalerV2, aligned by one tabwriter block: the
    // metric lines widen the label column; `Behavior:` and `Conditions:` (no tab) end blocks,
    // a policy line and `Deployment pods:` share one, and `Events:` joins the conditions'
    // first column.
    #[test]
    fn describes_an_hpa_as_kubectl_does() {
        use super::describe_hpa;
        let o = serde_json::json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "a"},
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1,
                     "maxReplicas": 10,
                     "metrics": [
                        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
                        {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "8"}}}],
                     "behavior": {"scaleUp": {"stabilizationWindowSeconds": 0,
                                  "policies": [{"type": "Pods", "value": 1, "periodSeconds": 30}]}}},
            "status": {"currentReplicas": 2, "desiredReplicas": 3,
                       "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 107, "averageValue": "107m"}}}],
                       "conditions": [{"type": "AbleToScale", "status": "True", "reason": "SucceededRescale", "message": "the HPA controller was able to update the target scale to 3"}]}
        });
        let want = "\
Name:                                                  web
Namespace:                                             default
Labels:                                                app=web
                                                       tier=a
Annotations:                                           <none>
CreationTimestamp:                                     Thu, 01 Jan 2026 00:00:00 +0000
Reference:                                             Deployment/web
Metrics:                                               ( current / target )
  resource cpu on pods  (as a percentage of request):  107% (107m) / 50%
  \"rps\" on pods:                                       <unknown> / 8
Min replicas:                                          1
Max replicas:                                          10
Behavior:
  Scale Up:
    Stabilization Window: 0 seconds
    Select Policy: Max
    Policies:
      - Type: Pods  Value: 1  Period: 30 seconds
Deployment pods:    2 current / 3 desired
Conditions:
  Type         Status  Reason            Message
  ----         ------  ------            -------
  AbleToScale  True    SucceededRescale  the HPA controller was able to update the target scale to 3
Events:        <none>
";
        assert_eq!(describe_hpa(&o, &[]), want);
    }
}
