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
/// ReplicaSets (its old and new ones are named).
pub fn describe_with(
    kind: Kind,
    obj: &Value,
    related: &[Value],
    events: &[DescribeEvent],
) -> String {
    if kind == Kind::Deployment {
        return super::apps::describe_deployment(obj, related, events);
    }
    if kind == Kind::VerticalPodAutoscaler {
        return describe_unstructured(obj, events);
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
    match kind {
        Kind::Pod => {
            fields.push((
                "Priority:",
                vec![int_at(obj, &["spec", "priority"]).to_string()],
            ));
            let pc = str_at(obj, &["spec", "priorityClassName"]);
            if !pc.is_empty() {
                fields.push(("Priority Class Name:", vec![pc.to_string()]));
            }
            let node = str_at(obj, &["spec", "nodeName"]);
            let host_ip = str_at(obj, &["status", "hostIP"]);
            let node_str = match (node.is_empty(), host_ip.is_empty()) {
                (true, _) => "<none>".to_string(),
                (false, true) => node.to_string(),
                (false, false) => format!("{node}/{host_ip}"),
            };
            fields.push(("Node:", vec![node_str]));
        }
        Kind::Node => fields.push(("Roles:", vec![node_roles(obj)])),
        _ => {}
    }
    fields.push(("Labels:", map_lines(s(obj, &["metadata", "labels"]), "=")));
    fields.push((
        "Annotations:",
        map_lines(s(obj, &["metadata", "annotations"]), ": "),
    ));
    match kind {
        Kind::Pod => {
            let deleting = s(obj, &["metadata", "deletionTimestamp"])
                .and_then(Value::as_str)
                .is_some();
            let phase = str_at(obj, &["status", "phase"]);
            fields.push((
                "Status:",
                vec![if deleting {
                    "Terminating".to_string()
                } else {
                    phase.to_string()
                }],
            ));
            let reason = str_at(obj, &["status", "reason"]);
            if !reason.is_empty() {
                fields.push(("Reason:", vec![reason.to_string()]));
            }
            let message = str_at(obj, &["status", "message"]);
            if !message.is_empty() {
                fields.push(("Message:", vec![message.to_string()]));
            }
            let ip = str_at(obj, &["status", "podIP"]);
            fields.push(("IP:", vec![ip.to_string()]));
            let qos = str_at(obj, &["status", "qosClass"]);
            if !qos.is_empty() {
                fields.push(("QoS Class:", vec![qos.to_string()]));
            }
            // Elastic Pods (kscale extension): the replication phase and running instances.
            let phase = str_at(obj, &["status", "replicationPhase"]);
            if !phase.is_empty() {
                let message = str_at(obj, &["status", "replicationMessage"]);
                fields.push((
                    "Replication:",
                    vec![if message.is_empty() {
                        phase.to_string()
                    } else {
                        format!("{phase} ({message})")
                    }],
                ));
                let instances: Vec<String> = arr_at(obj, &["status", "containerStatuses"])
                    .iter()
                    .map(|c| str_at(c, &["name"]).to_string())
                    .collect();
                fields.push(("Instances:", vec![instances.join(", ")]));
            }
        }
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

    #[test]
    fn describe_pod_with_events() {
        let mut p = sample_pods().remove(0);
        p["metadata"]["labels"] = json!({"app": "web", "pod-template-hash": "abc"});
        p["status"]["hostIP"] = json!("192.168.1.10");
        p["spec"]["priority"] = json!(0);
        let events: Vec<DescribeEvent> = vec![
            (
                "Normal",
                "Scheduled",
                "5m",
                "default-scheduler",
                "Successfully assigned default/web-1 to node-1",
            )
                .into(),
            (
                "Normal",
                "Started",
                "5m",
                "kubelet",
                "Started container app",
            )
                .into(),
        ];
        assert_eq!(
            describe(Kind::Pod, &p, &events),
            "\
Name:         web-1
Namespace:    default
Priority:     0
Node:         node-1/192.168.1.10
Labels:       app=web
              pod-template-hash=abc
Annotations:  <none>
Status:       Running
IP:           10.0.0.5
Events:
  Type    Reason     Age   From               Message
  ----    ------     ----  ----               -------
  Normal  Scheduled  5m    default-scheduler  Successfully assigned default/web-1 to node-1
  Normal  Started    5m    kubelet            Started container app
"
        );
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
