//! kubectl's human-readable output: tables, ages, YAML and a brief `describe`.
//!
//! Column sets follow kubectl's default printers (k8s.io/kubernetes/pkg/printers/internalversion
//! printers.go); ages follow `k8s.io/apimachinery/pkg/util/duration.HumanDuration`; columns are
//! separated like kubectl's tabwriter (padding 3, left aligned).

use serde_json::Value;

/// kubectl's age format (`HumanDuration`) of a duration in milliseconds.
pub fn human_duration(ms: u64) -> String {
    let s = ms / 1000;
    let (m, h) = (s / 60, s / 3600);
    let d = h / 24;
    let y = d / 365;
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if s.is_multiple_of(60) {
            format!("{m}m")
        } else {
            format!("{m}m{}s", s % 60)
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if h % 24 == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{}h", h % 24)
        }
    } else if h < 24 * 365 * 2 {
        format!("{d}d")
    } else if h < 24 * 365 * 8 {
        if d % 365 == 0 {
            format!("{y}y")
        } else {
            format!("{y}y{}d", d % 365)
        }
    } else {
        format!("{y}y")
    }
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn n(v: &Value, p: &str) -> i64 {
    v.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

fn or_none(x: &str) -> String {
    if x.is_empty() {
        "<none>".into()
    } else {
        x.to_string()
    }
}

/// kubectl's STATUS column of a pod.
pub fn pod_status(p: &Value) -> String {
    if p.pointer("/metadata/deletionTimestamp").is_some() {
        return "Terminating".into();
    }
    for c in p
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(r) = c.pointer("/state/waiting/reason").and_then(Value::as_str) {
            return r.to_string();
        }
        if let Some(r) = c
            .pointer("/state/terminated/reason")
            .and_then(Value::as_str)
        {
            return r.to_string();
        }
    }
    let reason = s(p, "/status/reason");
    if !reason.is_empty() {
        return reason.to_string();
    }
    s(p, "/status/phase").to_string()
}

/// Formats rows as kubectl's tabwriter does.
pub fn align(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map(|x| x.chars().count()).unwrap_or(0))
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|r| {
            let mut line = String::new();
            for (i, cell) in r.iter().enumerate() {
                if i + 1 == r.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<w$}", w = widths[i] + 3));
                }
            }
            line.trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The default table for objects of one kind.
pub fn table(
    kind: &str,
    objs: &[&Value],
    wide: bool,
    all_ns: bool,
    age: impl Fn(&str) -> String,
) -> String {
    let mut header: Vec<&str> = match kind {
        "Pod" => vec!["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "Node" => vec!["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        "Deployment" => vec!["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "ReplicaSet" => vec!["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        "HorizontalPodAutoscaler" => vec![
            "NAME",
            "REFERENCE",
            "TARGETS",
            "MINPODS",
            "MAXPODS",
            "REPLICAS",
            "AGE",
        ],
        "Namespace" => vec!["NAME", "STATUS", "AGE"],
        "PriorityClass" => vec!["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"],
        "ConfigMap" => vec!["NAME", "DATA", "AGE"],
        "PodDisruptionBudget" => vec![
            "NAME",
            "MIN AVAILABLE",
            "MAX UNAVAILABLE",
            "ALLOWED DISRUPTIONS",
            "AGE",
        ],
        "Event" => vec!["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        _ => vec!["NAME", "AGE"],
    };
    if wide {
        match kind {
            "Pod" => header.extend(["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]),
            "Node" => header.extend([
                "INTERNAL-IP",
                "EXTERNAL-IP",
                "OS-IMAGE",
                "KERNEL-VERSION",
                "CONTAINER-RUNTIME",
            ]),
            "Deployment" | "ReplicaSet" => header.extend(["CONTAINERS", "IMAGES", "SELECTOR"]),
            _ => {}
        }
    }
    let namespaced = !matches!(
        kind,
        "Node"
            | "Namespace"
            | "PriorityClass"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "NodePool"
            | "Provisioner"
            | "NodeClaim"
    );
    let mut rows = vec![];
    let mut head: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    if all_ns && namespaced {
        head.insert(0, "NAMESPACE".into());
    }
    rows.push(head);
    for o in objs {
        let name = s(o, "/metadata/name").to_string();
        let a = age(s(o, "/metadata/creationTimestamp"));
        let mut r: Vec<String> = match kind {
            "Pod" => {
                let cs = o
                    .pointer("/status/containerStatuses")
                    .and_then(Value::as_array);
                let total = o
                    .pointer("/spec/containers")
                    .and_then(Value::as_array)
                    .map(|c| c.len())
                    .unwrap_or(0);
                let ready = cs
                    .map(|c| {
                        c.iter()
                            .filter(|x| x.get("ready") == Some(&Value::Bool(true)))
                            .count()
                    })
                    .unwrap_or(0);
                let restarts: i64 = cs
                    .map(|c| {
                        c.iter()
                            .map(|x| x.get("restartCount").and_then(Value::as_i64).unwrap_or(0))
                            .sum()
                    })
                    .unwrap_or(0);
                vec![
                    name,
                    format!("{ready}/{total}"),
                    pod_status(o),
                    restarts.to_string(),
                    a,
                ]
            }
            "Node" => {
                let ready = o
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .any(|c| s(c, "/type") == "Ready" && s(c, "/status") == "True");
                let mut st = if ready {
                    "Ready".to_string()
                } else {
                    "NotReady".to_string()
                };
                if o.pointer("/spec/unschedulable") == Some(&Value::Bool(true)) {
                    st.push_str(",SchedulingDisabled");
                }
                vec![
                    name,
                    st,
                    "<none>".into(),
                    a,
                    s(o, "/status/nodeInfo/kubeletVersion").to_string(),
                ]
            }
            "Deployment" => vec![
                name,
                format!(
                    "{}/{}",
                    n(o, "/status/readyReplicas"),
                    o.pointer("/spec/replicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                ),
                n(o, "/status/updatedReplicas").to_string(),
                n(o, "/status/availableReplicas").to_string(),
                a,
            ],
            "ReplicaSet" => vec![
                name,
                n(o, "/spec/replicas").to_string(),
                n(o, "/status/replicas").to_string(),
                n(o, "/status/readyReplicas").to_string(),
                a,
            ],
            "HorizontalPodAutoscaler" => {
                let reference = format!(
                    "{}/{}",
                    s(o, "/spec/scaleTargetRef/kind"),
                    s(o, "/spec/scaleTargetRef/name")
                );
                let targets = hpa_targets(o);
                vec![
                    name,
                    reference,
                    targets,
                    o.pointer("/spec/minReplicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                        .to_string(),
                    n(o, "/spec/maxReplicas").to_string(),
                    n(o, "/status/currentReplicas").to_string(),
                    a,
                ]
            }
            "Namespace" => vec![
                name,
                or_none(s(o, "/status/phase")).replace("<none>", "Active"),
                a,
            ],
            "PriorityClass" => vec![
                name,
                n(o, "/value").to_string(),
                (o.get("globalDefault") == Some(&Value::Bool(true))).to_string(),
                a,
                or_none(s(o, "/preemptionPolicy")).replace("<none>", "PreemptLowerPriority"),
            ],
            "ConfigMap" => vec![
                name,
                o.get("data")
                    .and_then(Value::as_object)
                    .map(|d| d.len())
                    .unwrap_or(0)
                    .to_string(),
                a,
            ],
            "PodDisruptionBudget" => {
                let f = |p: &str| {
                    o.pointer(p)
                        .map(|v| {
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string())
                        })
                        .unwrap_or_else(|| "N/A".into())
                };
                vec![
                    name,
                    f("/spec/minAvailable"),
                    f("/spec/maxUnavailable"),
                    n(o, "/status/disruptionsAllowed").to_string(),
                    a,
                ]
            }
            "Event" => vec![
                a,
                s(o, "/type").to_string(),
                s(o, "/reason").to_string(),
                format!(
                    "{}/{}",
                    s(o, "/involvedObject/kind").to_ascii_lowercase(),
                    s(o, "/involvedObject/name")
                ),
                s(o, "/message").to_string(),
            ],
            _ => vec![name, a],
        };
        if wide {
            match kind {
                "Pod" => r.extend([
                    or_none(s(o, "/status/podIP")),
                    or_none(s(o, "/spec/nodeName")),
                    or_none(s(o, "/status/nominatedNodeName")),
                    "<none>".into(),
                ]),
                "Node" => {
                    let ip = o
                        .pointer("/status/addresses")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .find(|x| s(x, "/type") == "InternalIP")
                        .map(|x| s(x, "/address").to_string())
                        .unwrap_or_default();
                    r.extend([
                        or_none(&ip),
                        "<none>".into(),
                        s(o, "/status/nodeInfo/osImage").into(),
                        s(o, "/status/nodeInfo/kernelVersion").into(),
                        s(o, "/status/nodeInfo/containerRuntimeVersion").into(),
                    ]);
                }
                "Deployment" | "ReplicaSet" => {
                    let cs = o
                        .pointer("/spec/template/spec/containers")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    let sel = o
                        .pointer("/spec/selector/matchLabels")
                        .and_then(Value::as_object)
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .unwrap_or_default();
                    r.extend([
                        cs.iter()
                            .map(|c| s(c, "/name"))
                            .collect::<Vec<_>>()
                            .join(","),
                        cs.iter()
                            .map(|c| s(c, "/image"))
                            .collect::<Vec<_>>()
                            .join(","),
                        sel,
                    ]);
                }
                _ => {}
            }
        }
        if all_ns && namespaced {
            r.insert(0, s(o, "/metadata/namespace").to_string());
        }
        rows.push(r);
    }
    align(&rows)
}

fn hpa_targets(o: &Value) -> String {
    let metrics = o
        .pointer("/spec/metrics")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let current = o
        .pointer("/status/currentMetrics")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if metrics.is_empty() {
        let t = o
            .pointer("/spec/targetCPUUtilizationPercentage")
            .and_then(Value::as_i64)
            .unwrap_or(80);
        let c = o
            .pointer("/status/currentCPUUtilizationPercentage")
            .and_then(Value::as_i64)
            .map(|c| format!("{c}%"))
            .unwrap_or_else(|| "<unknown>".into());
        return format!("cpu: {c}/{t}%");
    }
    metrics
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let name = m
                .pointer("/resource/name")
                .and_then(Value::as_str)
                .unwrap_or("metric");
            let target = m
                .pointer("/resource/target/averageUtilization")
                .and_then(Value::as_i64)
                .map(|t| format!("{t}%"))
                .or_else(|| {
                    m.pointer("/resource/target/averageValue")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .unwrap_or_else(|| "<unknown>".into());
            let cur = current
                .get(i)
                .and_then(|c| {
                    c.pointer("/resource/current/averageUtilization")
                        .and_then(Value::as_i64)
                })
                .map(|c| format!("{c}%"))
                .unwrap_or_else(|| "<unknown>".into());
            format!("{name}: {cur}/{target}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Block YAML of a JSON value (as `kubectl get -o yaml` prints).
pub fn to_yaml(v: &Value) -> String {
    serde_saphyr::to_string(v).unwrap_or_else(|e| format!("# cannot render YAML: {e}\n"))
}

/// A brief `kubectl describe`: identity, labels, key status, then events
/// `(type, reason, age, from, message)`.
pub fn describe(
    kind: &str,
    o: &Value,
    events: &[(String, String, String, String, String)],
) -> String {
    let mut rows: Vec<(String, String)> = vec![("Name:".into(), s(o, "/metadata/name").into())];
    if !s(o, "/metadata/namespace").is_empty() {
        rows.push(("Namespace:".into(), s(o, "/metadata/namespace").into()));
    }
    let labels = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join("\n              ")
        })
        .unwrap_or_default();
    rows.push(("Labels:".into(), or_none(&labels)));
    rows.push((
        "CreationTimestamp:".into(),
        s(o, "/metadata/creationTimestamp").into(),
    ));
    match kind {
        "Pod" => {
            rows.push(("Priority:".into(), n(o, "/spec/priority").to_string()));
            if !s(o, "/spec/priorityClassName").is_empty() {
                rows.push((
                    "Priority Class Name:".into(),
                    s(o, "/spec/priorityClassName").into(),
                ));
            }
            rows.push(("Node:".into(), or_none(s(o, "/spec/nodeName"))));
            rows.push(("Status:".into(), pod_status(o)));
            rows.push(("IP:".into(), s(o, "/status/podIP").into()));
            rows.push(("QoS Class:".into(), s(o, "/status/qosClass").into()));
            if !s(o, "/status/nominatedNodeName").is_empty() {
                rows.push((
                    "NominatedNodeName:".into(),
                    s(o, "/status/nominatedNodeName").into(),
                ));
            }
        }
        "Node" => {
            rows.push((
                "Unschedulable:".into(),
                (o.pointer("/spec/unschedulable") == Some(&Value::Bool(true))).to_string(),
            ));
            let taints = o
                .pointer("/spec/taints")
                .and_then(Value::as_array)
                .map(|t| {
                    t.iter()
                        .map(|t| format!("{}={}:{}", s(t, "/key"), s(t, "/value"), s(t, "/effect")))
                        .collect::<Vec<_>>()
                        .join("\n              ")
                })
                .unwrap_or_default();
            rows.push(("Taints:".into(), or_none(&taints)));
            for r in ["cpu", "memory", "pods"] {
                rows.push((
                    format!("Allocatable {r}:"),
                    s(o, &format!("/status/allocatable/{r}")).into(),
                ));
            }
        }
        "Deployment" | "ReplicaSet" => {
            rows.push((
                "Replicas:".into(),
                format!(
                    "{} desired | {} updated | {} total | {} available",
                    o.pointer("/spec/replicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1),
                    n(o, "/status/updatedReplicas"),
                    n(o, "/status/replicas"),
                    n(o, "/status/availableReplicas")
                ),
            ));
        }
        _ => {}
    }
    let mut out = rows
        .iter()
        .map(|(k, v)| format!("{k:<14}{v}"))
        .collect::<Vec<_>>()
        .join("\n");
    out.push_str("\nEvents:");
    if events.is_empty() {
        out.push_str("  <none>");
    } else {
        let mut t = vec![
            vec![
                "Type".to_string(),
                "Reason".into(),
                "Age".into(),
                "From".into(),
                "Message".into(),
            ],
            vec![
                "----".into(),
                "------".into(),
                "----".into(),
                "----".into(),
                "-------".into(),
            ],
        ];
        for e in events {
            t.push(vec![
                e.0.clone(),
                e.1.clone(),
                e.2.clone(),
                e.3.clone(),
                e.4.clone(),
            ]);
        }
        for line in align(&t).lines() {
            out.push_str("\n  ");
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn human_duration_matches_upstream_table() {
        // Cases from k8s.io/apimachinery/pkg/util/duration/duration_test.go (TestHumanDuration).
        let sec = 1000;
        let cases = [
            (0, "0s"),
            (sec, "1s"),
            (59 * sec, "59s"),
            (119 * sec, "119s"),
            (2 * 60 * sec, "2m"),
            (2 * 60 * sec + sec, "2m1s"),
            (9 * 60 * sec + 59 * sec, "9m59s"),
            (10 * 60 * sec, "10m"),
            (179 * 60 * sec, "179m"),
            (3 * 3600 * sec, "3h"),
            (3 * 3600 * sec + 60 * sec, "3h1m"),
            (8 * 3600 * sec, "8h"),
            (47 * 3600 * sec + 59 * 60 * sec, "47h"),
            (48 * 3600 * sec, "2d"),
            (48 * 3600 * sec + 3600 * sec, "2d1h"),
            (8 * 24 * 3600 * sec, "8d"),
            (2 * 365 * 24 * 3600 * sec, "2y"),
        ];
        for (ms, want) in cases {
            assert_eq!(human_duration(ms), want, "{ms}");
        }
    }

    #[test]
    fn pod_table_wide() {
        let p = json!({"metadata": {"name": "web-1", "creationTimestamp": "x"}, "spec": {"nodeName": "n1", "containers": [{"name": "c"}]},
            "status": {"phase": "Running", "podIP": "10.1.0.2", "containerStatuses": [{"ready": true, "restartCount": 0, "state": {"running": {}}}]}});
        let t = table("Pod", &[&p], true, false, |_| "5m".into());
        assert_eq!(
            t,
            "NAME    READY   STATUS    RESTARTS   AGE   IP         NODE   NOMINATED NODE   READINESS GATES\nweb-1   1/1     Running   0          5m    10.1.0.2   n1     <none>           <none>"
        );
    }
}
