//! A brief `kubectl describe` (k8s.io/kubectl/pkg/describe/describe.go).

use std::fmt::Write as _;

use serde_json::Value;

use super::cells::{arr_at, format_selector, int_at, name_of, s, str_at};
use super::nodes::node_roles;
use super::table::tabwrite;
use crate::kinds::Kind;

/// One line of the Events section of `kubectl describe`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeEvent {
    /// `Normal` or `Warning`.
    pub event_type: String,
    /// E.g. `Scheduled`.
    pub reason: String,
    /// Already formatted age, e.g. `10s` or `2m (x3 over 5m)`.
    pub age: String,
    /// The reporting component, e.g. `default-scheduler`.
    pub from: String,
    /// The message.
    pub message: String,
}

impl From<(&str, &str, &str, &str, &str)> for DescribeEvent {
    fn from(t: (&str, &str, &str, &str, &str)) -> Self {
        DescribeEvent {
            event_type: t.0.into(),
            reason: t.1.into(),
            age: t.2.into(),
            from: t.3.into(),
            message: t.4.into(),
        }
    }
}

/// `key=value` lines (labels) or `key: value` lines (annotations, as describe.go's
/// `printAnnotationsMultiline`), sorted by key.
fn map_lines(m: Option<&Value>, sep: &str) -> Vec<String> {
    match m {
        Some(Value::Object(m)) if !m.is_empty() => {
            let mut kv: Vec<(&String, &Value)> = m.iter().collect();
            kv.sort_by(|a, b| a.0.cmp(b.0));
            kv.iter()
                .map(|(k, v)| match v {
                    Value::String(s) => format!("{k}{sep}{s}"),
                    other => format!("{k}{sep}{other}"),
                })
                .collect()
        }
        _ => vec!["<none>".to_string()],
    }
}

/// A brief `kubectl describe`: Name, Namespace, Labels, Annotations, kind-specific fields
/// (pods: Priority, Node, Status, IP; nodes: Roles, Taints, Unschedulable; deployments and
/// other workloads: Selector, Replicas) and then the events the caller passes in.
pub fn describe(kind: Kind, obj: &Value, events: &[DescribeEvent]) -> String {
    describe_with(kind, obj, &[], events)
}

/// [`describe`] with the objects a describer also reads: for a Deployment, the namespace's
/// ReplicaSets (its old and new ones are named); for a StatefulSet, the namespace's pods
/// (counted by phase).
pub fn describe_with(
    kind: Kind,
    obj: &Value,
    related: &[Value],
    events: &[DescribeEvent],
) -> String {
    if kind == Kind::Deployment {
        return super::apps::describe_deployment(obj, related, events);
    }
    if kind == Kind::StatefulSet {
        return super::apps::describe_statefulset(obj, related, events);
    }
    if kind == Kind::VerticalPodAutoscaler {
        return describe_unstructured(obj, events);
    }
    if kind == Kind::Pod {
        return super::describe_pod::describe_pod(obj, events);
    }
    if kind == Kind::PodDisruptionBudget {
        return describe_pdb(obj, events);
    }
    if kind == Kind::HorizontalPodAutoscaler && str_at(obj, &["apiVersion"]) != "autoscaling/v1" {
        return super::hpa::describe_hpa(obj, events);
    }
    // (label, value lines)
    let mut fields: Vec<(&str, Vec<String>)> = vec![("Name:", vec![name_of(obj)])];
    if kind.info().namespaced {
        fields.push((
            "Namespace:",
            vec![str_at(obj, &["metadata", "namespace"]).to_string()],
        ));
    }
    if kind == Kind::Node {
        fields.push(("Roles:", vec![node_roles(obj)]));
    }
    fields.push(("Labels:", map_lines(s(obj, &["metadata", "labels"]), "=")));
    fields.push((
        "Annotations:",
        map_lines(s(obj, &["metadata", "annotations"]), ": "),
    ));
    match kind {
        Kind::Node => {
            let taints: Vec<String> = arr_at(obj, &["spec", "taints"])
                .iter()
                .map(|t| {
                    let v = str_at(t, &["value"]);
                    let kv = if v.is_empty() {
                        str_at(t, &["key"]).to_string()
                    } else {
                        format!("{}={v}", str_at(t, &["key"]))
                    };
                    format!("{kv}:{}", str_at(t, &["effect"]))
                })
                .collect();
            fields.push((
                "Taints:",
                if taints.is_empty() {
                    vec!["<none>".into()]
                } else {
                    taints
                },
            ));
            let unsched = s(obj, &["spec", "unschedulable"])
                .and_then(Value::as_bool)
                .unwrap_or(false);
            fields.push(("Unschedulable:", vec![unsched.to_string()]));
        }
        Kind::Deployment | Kind::ReplicaSet | Kind::StatefulSet => {
            fields.push((
                "Selector:",
                vec![format_selector(s(obj, &["spec", "selector"]))],
            ));
            let desired = int_at(obj, &["spec", "replicas"]);
            let line = if kind == Kind::Deployment {
                format!(
                    "{desired} desired | {} updated | {} total | {} available | {} unavailable",
                    int_at(obj, &["status", "updatedReplicas"]),
                    int_at(obj, &["status", "replicas"]),
                    int_at(obj, &["status", "availableReplicas"]),
                    int_at(obj, &["status", "unavailableReplicas"])
                )
            } else {
                format!(
                    "{} current / {desired} desired",
                    int_at(obj, &["status", "replicas"])
                )
            };
            fields.push(("Replicas:", vec![line]));
        }
        _ => {}
    }
    if events.is_empty() {
        fields.push(("Events:", vec!["<none>".to_string()]));
    }
    // One tabwriter block: minwidth 0, padding 2 (kubectl's describe writer).
    let width = fields.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 2;
    let mut out = String::new();
    for (label, values) in &fields {
        for (i, v) in values.iter().enumerate() {
            let l = if i == 0 { *label } else { "" };
            let _ = writeln!(out, "{l:<width$}{v}");
        }
    }
    write_events(&mut out, events);
    out
}

/// `describePodDisruptionBudgetV1` (kubectl `pkg/describe/describe.go`): name, namespace,
/// the budget, the selector, then the status counts indented under `Status:`. A line without
/// a tab (`Status:`) ends a tabwriter block, so the counts and `Events:` align together.
fn describe_pdb(obj: &Value, events: &[DescribeEvent]) -> String {
    let int_or_string = |path: &[&str]| {
        s(obj, path).map(|v| match v {
            Value::String(x) => x.clone(),
            other => other.to_string(),
        })
    };
    let mut head: Vec<Vec<String>> = vec![
        vec!["Name:".into(), name_of(obj)],
        vec![
            "Namespace:".into(),
            str_at(obj, &["metadata", "namespace"]).to_string(),
        ],
    ];
    if let Some(m) = int_or_string(&["spec", "minAvailable"]) {
        head.push(vec!["Min available:".into(), m]);
    } else if let Some(m) = int_or_string(&["spec", "maxUnavailable"]) {
        head.push(vec!["Max unavailable:".into(), m]);
    }
    let selector = match s(obj, &["spec", "selector"]) {
        Some(sel) if !sel.is_null() => format_selector(Some(sel)),
        _ => "<unset>".to_string(),
    };
    head.push(vec!["Selector:".into(), selector]);
    let mut out = tabwrite(head.iter(), 0, 2);
    out.push_str("Status:\n");
    let mut tail: Vec<Vec<String>> = [
        ("Allowed disruptions:", "disruptionsAllowed"),
        ("Current:", "currentHealthy"),
        ("Desired:", "desiredHealthy"),
        ("Total:", "expectedPods"),
    ]
    .iter()
    .map(|(label, key)| {
        vec![
            format!("    {label}"),
            int_at(obj, &["status", key]).to_string(),
        ]
    })
    .collect();
    if events.is_empty() {
        tail.push(vec!["Events:".into(), "<none>".into()]);
    }
    out.push_str(&tabwrite(tail.iter(), 0, 2));
    write_events(&mut out, events);
    out
}

/// The Events section (nothing when there are none: the caller printed `<none>`).
pub(super) fn write_events(out: &mut String, events: &[DescribeEvent]) {
    if !events.is_empty() {
        out.push_str("Events:\n");
        let mut rows: Vec<Vec<String>> = vec![
            ["  Type", "Reason", "Age", "From", "Message"]
                .map(String::from)
                .to_vec(),
            ["  ----", "------", "----", "----", "-------"]
                .map(String::from)
                .to_vec(),
        ];
        for e in events {
            rows.push(vec![
                format!("  {}", e.event_type),
                e.reason.clone(),
                e.age.clone(),
                e.from.clone(),
                e.message.clone(),
            ]);
        }
        out.push_str(&tabwrite(rows.iter(), 0, 2));
    }
}

/// `smartLabelFor`: a field name as describe labels it (`targetRef` → `Target Ref`,
/// `apiVersion` → `API Version`); names with other characters than letters stay as they are.
fn smart_label(field: &str) -> String {
    if !field.chars().all(|c| c.is_ascii_alphabetic()) {
        return field.to_string();
    }
    let mut words: Vec<String> = vec![];
    for c in field.chars() {
        let upper = c.is_ascii_uppercase();
        let starts = upper
            && words.last().is_some_and(|w| {
                // A new word, unless it continues a run of capitals (`UID`).
                !w.chars().all(|c| c.is_ascii_uppercase())
            });
        if words.is_empty() || starts {
            words.push(String::new());
        }
        words.last_mut().expect("a word").push(c);
    }
    words
        .iter()
        .map(|w| {
            let up = w.to_ascii_uppercase();
            if ["API", "URL", "UID", "OSB", "GUID"].contains(&up.as_str()) {
                up
            } else {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `printUnstructuredContent`: fields in name order, maps and lists nested two spaces deeper,
/// scalars as `Label:<tab>value`; `skip` holds `.a.b` paths left out.
fn unstructured_lines(
    out: &mut Vec<(String, Option<String>)>,
    level: usize,
    content: &serde_json::Map<String, Value>,
    prefix: &str,
    skip: &[&str],
) {
    let indent = "  ".repeat(level);
    let mut fields: Vec<&String> = content.keys().collect();
    fields.sort();
    for field in fields {
        let path = format!("{prefix}.{field}");
        if skip.contains(&path.as_str()) {
            continue;
        }
        let label = format!("{indent}{}:", smart_label(field));
        match &content[field] {
            Value::Object(m) => {
                out.push((label, None));
                unstructured_lines(out, level + 1, m, &path, skip);
            }
            Value::Array(items) => {
                out.push((label, None));
                for item in items {
                    match item {
                        Value::Object(m) => unstructured_lines(out, level + 1, m, &path, skip),
                        Value::String(v) => out.push((format!("{indent}  {v}"), None)),
                        other => out.push((format!("{indent}  {other}"), None)),
                    }
                }
            }
            Value::String(v) => out.push((label, Some(v.clone()))),
            other => out.push((label, Some(other.to_string()))),
        }
    }
}

/// kubectl's generic describer, used for custom resources (`GenericDescriberFor`): name,
/// namespace, labels, annotations, then every other field of the object, then events. Lines
/// are aligned as describe's tabwriter aligns them: consecutive `label:<tab>value` lines
/// form one block (minimum width 0, padding 2).
pub fn describe_unstructured(obj: &Value, events: &[DescribeEvent]) -> String {
    let mut lines: Vec<(String, Option<String>)> = vec![
        ("Name:".into(), Some(name_of(obj))),
        (
            "Namespace:".into(),
            Some(str_at(obj, &["metadata", "namespace"]).to_string()),
        ),
    ];
    for (label, sep, key) in [
        ("Labels:", "=", "labels"),
        ("Annotations:", ": ", "annotations"),
    ] {
        for (i, l) in map_lines(s(obj, &["metadata", key]), sep)
            .into_iter()
            .enumerate()
        {
            lines.push((if i == 0 { label.into() } else { String::new() }, Some(l)));
        }
    }
    if let Some(m) = obj.as_object() {
        unstructured_lines(
            &mut lines,
            0,
            m,
            "",
            &[
                ".metadata.name",
                ".metadata.namespace",
                ".metadata.labels",
                ".metadata.annotations",
            ],
        );
    }
    if events.is_empty() {
        lines.push(("Events:".into(), Some("<none>".into())));
    }
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].1.is_none() {
            let _ = writeln!(out, "{}", lines[i].0);
            i += 1;
            continue;
        }
        let end = (i..lines.len())
            .find(|j| lines[*j].1.is_none())
            .unwrap_or(lines.len());
        let width = lines[i..end].iter().map(|l| l.0.len()).max().unwrap_or(0) + 2;
        for (label, value) in &lines[i..end] {
            let _ = writeln!(out, "{label:<width$}{}", value.as_deref().unwrap_or(""));
        }
        i = end;
    }
    write_events(&mut out, events);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printers::testing::*;
    use serde_json::json;

    #[test]
    fn custom_resources_are_described_field_by_field() {
        assert_eq!(smart_label("targetRef"), "Target Ref");
        assert_eq!(smart_label("apiVersion"), "API Version");
        assert_eq!(smart_label("uid"), "UID");
        assert_eq!(
            smart_label("containerRecommendations"),
            "Container Recommendations"
        );
        let vpa = json!({"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
            "metadata": {"name": "api", "namespace": "default", "generation": 1},
            "spec": {"targetRef": {"kind": "Deployment", "name": "api"},
                     "updatePolicy": {"updateMode": "Recreate"}},
            "status": {"conditions": [{"status": "True", "type": "RecommendationProvided"}],
                       "recommendation": {"containerRecommendations": [
                           {"containerName": "app", "target": {"cpu": "476m", "memory": "262144k"}}]}}});
        let out = describe(Kind::VerticalPodAutoscaler, &vpa, &[]);
        // `Events:` joins the block of the lines above it, as in describe's tabwriter.
        let expected = "\
Name:         api
Namespace:    default
Labels:       <none>
Annotations:  <none>
API Version:  autoscaling.k8s.io/v1
Kind:         VerticalPodAutoscaler
Metadata:
  Generation:  1
Spec:
  Target Ref:
    Kind:  Deployment
    Name:  api
  Update Policy:
    Update Mode:  Recreate
Status:
  Conditions:
    Status:  True
    Type:    RecommendationProvided
  Recommendation:
    Container Recommendations:
      Container Name:  app
      Target:
        Cpu:     476m
        Memory:  262144k
Events:          <none>
";
        assert_eq!(out, expected);
    }

    /// A pending pod as the real API server stores it (v1.37: the Priority, ServiceAccount
    /// and DefaultTolerationSeconds admission plugins' additions), and the text the real
    /// kubectl v1.37.2 printed for it (calibration scenario `preemption-never`).
    #[test]
    fn describe_pod_as_kubectl_prints_it() {
        let p = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "waiter-8465bd4c4-29p8k", "namespace": "default",
                "labels": {"app": "waiter", "pod-template-hash": "8465bd4c4"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "waiter-8465bd4c4", "uid": "u", "controller": true}]},
            "spec": {
                "priority": 1000, "priorityClassName": "polite", "serviceAccountName": "default",
                "containers": [{"name": "app", "image": "nginx:1.27",
                    "resources": {"requests": {"cpu": "1000m"}},
                    "volumeMounts": [{"name": "kube-api-access-555d5", "readOnly": true,
                        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]}],
                "volumes": [{"name": "kube-api-access-555d5", "projected": {"sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt"}},
                    {"downwardAPI": {"items": []}}]}}],
                "tolerations": [
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]
            },
            "status": {"phase": "Pending", "qosClass": "Burstable",
                "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}
        });
        let events: Vec<DescribeEvent> = vec![
            (
                "Warning",
                "FailedScheduling",
                "59s",
                "default-scheduler",
                "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.",
            )
                .into(),
        ];
        assert_eq!(
            describe(Kind::Pod, &p, &events),
            "\
Name:                 waiter-8465bd4c4-29p8k
Namespace:            default
Priority:             1000
Priority Class Name:  polite
Service Account:      default
Node:                 <none>
Labels:               app=waiter
                      pod-template-hash=8465bd4c4
Annotations:          <none>
Status:               Pending
IP:                   
IPs:                  <none>
Controlled By:        ReplicaSet/waiter-8465bd4c4
Containers:
  app:
    Image:      nginx:1.27
    Port:       <none>
    Host Port:  <none>
    Requests:
      cpu:        1
    Environment:  <none>
    Mounts:
      /var/run/secrets/kubernetes.io/serviceaccount from kube-api-access-555d5 (ro)
Conditions:
  Type           Status
  PodScheduled   False 
Volumes:
  kube-api-access-555d5:
    Type:                    Projected (a volume that contains injected data from multiple sources)
    TokenExpirationSeconds:  3607
    ConfigMapName:           kube-root-ca.crt
    Optional:                false
    DownwardAPI:             true
QoS Class:                   Burstable
Node-Selectors:              <none>
Tolerations:                 node.kubernetes.io/not-ready:NoExecute op=Exists for 300s
                             node.kubernetes.io/unreachable:NoExecute op=Exists for 300s
Events:
  Type     Reason            Age   From               Message
  ----     ------            ----  ----               -------
  Warning  FailedScheduling  59s   default-scheduler  0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.
"
        );
    }

    /// A running pod: the container's ID, state, readiness and restarts.
    #[test]
    fn describe_running_pod_shows_container_states() {
        let mut p = sample_pods().remove(0);
        p["status"]["hostIP"] = json!("192.168.1.10");
        p["status"]["podIPs"] = json!([{"ip": "10.0.0.5"}]);
        p["status"]["startTime"] = json!("2024-05-01T11:55:00Z");
        p["status"]["containerStatuses"][0]["containerID"] = json!("containerd://abc");
        p["status"]["containerStatuses"][0]["lastState"] = json!({"terminated": {"exitCode": 137,
            "reason": "OOMKilled", "startedAt": "2024-05-01T11:55:05Z", "finishedAt": "2024-05-01T11:58:00Z"}});
        p["status"]["containerStatuses"][0]["restartCount"] = json!(1);
        let out = describe(Kind::Pod, &p, &[]);
        for line in [
            "Node:         node-1/192.168.1.10\n",
            "Start Time:   Wed, 01 May 2024 11:55:00 +0000\n",
            "IPs:\n  IP:  10.0.0.5\n",
            "    Container ID:   containerd://abc\n",
            "    State:          Running\n      Started:      Wed, 01 May 2024 11:55:05 +0000\n",
            "    Last State:     Terminated\n      Reason:       OOMKilled\n      Exit Code:    137\n",
            "    Ready:          True\n    Restart Count:  1\n",
            "Events:          <none>\n",
        ] {
            assert!(out.contains(line), "{line:?} in\n{out}");
        }
    }

    #[test]
    fn describe_node_without_events() {
        let mut n = node("worker-1", "True", json!({}), true);
        n["spec"]["taints"] = json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]);
        assert_eq!(
            describe(Kind::Node, &n, &[]),
            "\
Name:           worker-1
Roles:          <none>
Labels:         kubernetes.io/hostname=worker-1
Annotations:    <none>
Taints:         dedicated=gpu:NoSchedule
Unschedulable:  true
Events:         <none>
"
        );
    }
}

#[cfg(test)]
mod pdb_tests {
    use super::*;
    use serde_json::json;

    /// The layout of kubectl's PodDisruptionBudget describer, as the Kubernetes docs show it
    /// ("Specifying a Disruption Budget for your Application").
    #[test]
    fn describes_a_budget_as_kubectl_does() {
        let pdb = json!({"metadata": {"name": "zk-pdb", "namespace": "default"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "zookeeper"}}},
            "status": {"disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3}});
        assert_eq!(
            describe(Kind::PodDisruptionBudget, &pdb, &[]),
            "Name:           zk-pdb\nNamespace:      default\nMin available:  2\nSelector:       app=zookeeper\nStatus:\n    Allowed disruptions:  1\n    Current:              3\n    Desired:              2\n    Total:                3\nEvents:                   <none>\n"
        );
    }
}
