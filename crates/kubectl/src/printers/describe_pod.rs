//! `kubectl describe pod` (k8s.io/kubectl v0.37 `pkg/describe/describe.go` `describePod`):
//! the pod's fields, its containers with their states, conditions, volumes, QoS class, node
//! selectors, tolerations and topology spread constraints, then its events. Elastic Pods (a
//! kscale extension) add their replication phase and running instances after `Status`.

use std::fmt::Write as _;

use serde_json::Value;

use super::cells::{arr_at, format_selector, int_at, name_of, s, str_at};
use super::describe::DescribeEvent;
use super::describe_template::{containers, multiline, tolerations, volumes};
use super::table::go_tabwrite;

/// `describePod` over a pod as the API returns it.
pub fn describe_pod(p: &Value, events: &[DescribeEvent]) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "Name:\t{}", name_of(p));
    let _ = writeln!(t, "Namespace:\t{}", str_at(p, &["metadata", "namespace"]));
    if let Some(priority) = s(p, &["spec", "priority"]).and_then(Value::as_i64) {
        let _ = writeln!(t, "Priority:\t{priority}");
    }
    for (label, key) in [
        ("Priority Class Name", "priorityClassName"),
        ("Runtime Class Name", "runtimeClassName"),
        ("Service Account", "serviceAccountName"),
    ] {
        let v = str_at(p, &["spec", key]);
        if !v.is_empty() {
            let _ = writeln!(t, "{label}:\t{v}");
        }
    }
    let node = str_at(p, &["spec", "nodeName"]);
    if node.is_empty() {
        t.push_str("Node:\t<none>\n");
    } else {
        let _ = writeln!(t, "Node:\t{node}/{}", str_at(p, &["status", "hostIP"]));
    }
    let start = str_at(p, &["status", "startTime"]);
    if !start.is_empty() {
        let _ = writeln!(t, "Start Time:\t{}", super::time::rfc1123z(start));
    }
    multiline(&mut t, "Labels", s(p, &["metadata", "labels"]), "=");
    multiline(
        &mut t,
        "Annotations",
        s(p, &["metadata", "annotations"]),
        ": ",
    );
    let phase = str_at(p, &["status", "phase"]);
    let deleting = str_at(p, &["metadata", "deletionTimestamp"]);
    if !deleting.is_empty() && phase != "Failed" && phase != "Succeeded" {
        // `translateTimestampSince(deletionTimestamp)`: the API server sets it to the
        // deletion's time plus the grace period, still ahead while the pod terminates, and
        // `HumanDuration` of a negative duration is `<invalid>`.
        t.push_str("Status:\tTerminating (lasts <invalid>)\n");
        let _ = writeln!(
            t,
            "Termination Grace Period:\t{}s",
            int_at(p, &["metadata", "deletionGracePeriodSeconds"])
        );
    } else {
        let _ = writeln!(t, "Status:\t{phase}");
    }
    for (label, key) in [("Reason", "reason"), ("Message", "message")] {
        let v = str_at(p, &["status", key]);
        if !v.is_empty() {
            let _ = writeln!(t, "{label}:\t{v}");
        }
    }
    // Elastic Pods (kscale extension): the replication phase and running instances.
    let replication = str_at(p, &["status", "replicationPhase"]);
    if !replication.is_empty() {
        let message = str_at(p, &["status", "replicationMessage"]);
        if message.is_empty() {
            let _ = writeln!(t, "Replication:\t{replication}");
        } else {
            let _ = writeln!(t, "Replication:\t{replication} ({message})");
        }
        let instances: Vec<&str> = arr_at(p, &["status", "containerStatuses"])
            .iter()
            .map(|c| str_at(c, &["name"]))
            .collect();
        let _ = writeln!(t, "Instances:\t{}", instances.join(", "));
    }
    let _ = writeln!(t, "IP:\t{}", str_at(p, &["status", "podIP"]));
    let ips = arr_at(p, &["status", "podIPs"]);
    if ips.is_empty() {
        t.push_str("IPs:\t<none>\n");
    } else {
        t.push_str("IPs:\n");
        for ip in ips {
            let _ = writeln!(t, "  IP:\t{}", str_at(ip, &["ip"]));
        }
    }
    if let Some(o) = arr_at(p, &["metadata", "ownerReferences"])
        .iter()
        .find(|o| o.get("controller") == Some(&Value::Bool(true)))
    {
        let _ = writeln!(
            t,
            "Controlled By:\t{}/{}",
            str_at(o, &["kind"]),
            str_at(o, &["name"])
        );
    }
    let nominated = str_at(p, &["status", "nominatedNodeName"]);
    if !nominated.is_empty() {
        let _ = writeln!(t, "NominatedNodeName:\t{nominated}");
    }
    let init = arr_at(p, &["spec", "initContainers"]);
    if !init.is_empty() {
        containers(
            &mut t,
            "",
            "Init Containers",
            init,
            arr_at(p, &["status", "initContainerStatuses"]),
        );
    }
    containers(
        &mut t,
        "",
        "Containers",
        arr_at(p, &["spec", "containers"]),
        arr_at(p, &["status", "containerStatuses"]),
    );
    let conditions = arr_at(p, &["status", "conditions"]);
    if !conditions.is_empty() {
        t.push_str("Conditions:\n  Type\tStatus\n");
        for c in conditions {
            let _ = writeln!(
                t,
                "  {} \t{} ",
                str_at(c, &["type"]),
                str_at(c, &["status"])
            );
        }
    }
    volumes(&mut t, "", arr_at(p, &["spec", "volumes"]));
    let _ = writeln!(t, "QoS Class:\t{}", str_at(p, &["status", "qosClass"]));
    multiline(
        &mut t,
        "Node-Selectors",
        s(p, &["spec", "nodeSelector"]),
        "=",
    );
    tolerations(&mut t, "", arr_at(p, &["spec", "tolerations"]));
    let mut tscs: Vec<&Value> = arr_at(p, &["spec", "topologySpreadConstraints"])
        .iter()
        .collect();
    if !tscs.is_empty() {
        tscs.sort_by(|a, b| str_at(a, &["topologyKey"]).cmp(str_at(b, &["topologyKey"])));
        t.push_str("Topology Spread Constraints:\t");
        for (i, c) in tscs.iter().enumerate() {
            if i > 0 {
                t.push('\t');
            }
            let _ = write!(
                t,
                "{}:{} when max skew {} is exceeded",
                str_at(c, &["topologyKey"]),
                str_at(c, &["whenUnsatisfiable"]),
                int_at(c, &["maxSkew"])
            );
            if let Some(sel) = s(c, &["labelSelector"]).filter(|v| !v.is_null()) {
                let _ = write!(t, " for selector {}", format_selector(Some(sel)));
            }
            t.push('\n');
        }
    }
    if events.is_empty() {
        t.push_str("Events:\t<none>\n");
    }
    let mut out = go_tabwrite(&t, 0, 2);
    super::describe::write_events(&mut out, events);
    out
}
