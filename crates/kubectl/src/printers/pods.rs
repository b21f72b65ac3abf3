//! Pods (`printPod` in k8s.io/kubernetes/pkg/printers/internalversion/printers.go): READY,
//! STATUS and RESTARTS as kubectl computes them.

use serde_json::Value;

use super::cells::{arr_at, condition_status, int_at, name_of, or_none, s, str_at};
use super::table::TableDef;
use super::time::{age_of, human_duration_ms, parse_rfc3339_ms};

/// `kubectl get pods` (printPod).
pub(super) const POD: TableDef = TableDef {
    headers: &[
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED NODE",
        "READINESS GATES",
    ],
    wide_extra: 4,
    row: pod_row,
};

fn is_restartable_init(pod: &Value, name: &str) -> bool {
    arr_at(pod, &["spec", "initContainers"])
        .iter()
        .any(|c| str_at(c, &["name"]) == name && str_at(c, &["restartPolicy"]) == "Always")
}

fn terminated_finished_ms(cs: &Value) -> Option<i64> {
    s(cs, &["lastState", "terminated", "finishedAt"])
        .and_then(Value::as_str)
        .and_then(parse_rfc3339_ms)
}

/// kubectl's pod row computation (printPod): READY, STATUS, RESTARTS.
fn pod_summary(pod: &Value, now: i64) -> (String, String, String) {
    let phase = str_at(pod, &["status", "phase"]);
    let mut reason = phase.to_string();
    let status_reason = str_at(pod, &["status", "reason"]);
    if !status_reason.is_empty() {
        reason = status_reason.to_string();
    }
    for c in arr_at(pod, &["status", "conditions"]) {
        if str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated" {
            reason = "SchedulingGated".to_string();
        }
    }
    let init_specs = arr_at(pod, &["spec", "initContainers"]);
    // Elastic Pods: a container with `replica: N` counts N times (`replica` 0 not at all).
    let mut total: usize = arr_at(pod, &["spec", "containers"])
        .iter()
        .map(|c| c.get("replica").and_then(Value::as_u64).unwrap_or(1) as usize)
        .sum();
    total += init_specs
        .iter()
        .filter(|c| str_at(c, &["restartPolicy"]) == "Always")
        .count();
    let mut ready = 0usize;
    let mut restarts = 0i64;
    let mut sidecar_restarts = 0i64;
    let mut last_restart: Option<i64> = None;
    let mut last_sidecar_restart: Option<i64> = None;

    let mut initializing = false;
    for (i, cs) in arr_at(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        let rc = int_at(cs, &["restartCount"]);
        restarts += rc;
        let fin = terminated_finished_ms(cs);
        if fin.is_some() {
            last_restart = last_restart.max(fin);
        }
        let sidecar = is_restartable_init(pod, str_at(cs, &["name"]));
        if sidecar {
            sidecar_restarts += rc;
            if fin.is_some() {
                last_sidecar_restart = last_sidecar_restart.max(fin);
            }
        }
        let term = s(cs, &["state", "terminated"]).filter(|t| t.is_object());
        let waiting_reason = str_at(cs, &["state", "waiting", "reason"]);
        if let Some(t) = term
            && int_at(t, &["exitCode"]) == 0
        {
            continue;
        }
        if sidecar && s(cs, &["started"]).and_then(Value::as_bool) == Some(true) {
            if s(cs, &["ready"]).and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = term {
            let r = str_at(t, &["reason"]);
            reason = if r.is_empty() {
                let sig = int_at(t, &["signal"]);
                if sig != 0 {
                    format!("Init:Signal:{sig}")
                } else {
                    format!("Init:ExitCode:{}", int_at(t, &["exitCode"]))
                }
            } else {
                format!("Init:{r}")
            };
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    let initialized = condition_status(pod, "Initialized") == Some("True");
    if !initializing || initialized {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for cs in arr_at(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts += int_at(cs, &["restartCount"]);
            let fin = terminated_finished_ms(cs);
            if fin.is_some() {
                last_restart = last_restart.max(fin);
            }
            let waiting = str_at(cs, &["state", "waiting", "reason"]);
            let term = s(cs, &["state", "terminated"]).filter(|t| t.is_object());
            let running = s(cs, &["state", "running"]).is_some_and(Value::is_object);
            if !waiting.is_empty() {
                reason = waiting.to_string();
            } else if let Some(t) = term {
                let r = str_at(t, &["reason"]);
                reason = if !r.is_empty() {
                    r.to_string()
                } else if int_at(t, &["signal"]) != 0 {
                    format!("Signal:{}", int_at(t, &["signal"]))
                } else {
                    format!("ExitCode:{}", int_at(t, &["exitCode"]))
                };
            } else if s(cs, &["ready"]).and_then(Value::as_bool) == Some(true) && running {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_status(pod, "Ready") == Some("True") {
                "Running".to_string()
            } else {
                "NotReady".to_string()
            };
        }
    }

    let deleting = s(pod, &["metadata", "deletionTimestamp"])
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    if deleting && status_reason == "NodeLost" {
        reason = "Unknown".to_string();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_string();
    }

    let restarts_str = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", human_duration_ms(now - t)),
        _ => restarts.to_string(),
    };
    (format!("{ready}/{total}"), reason, restarts_str)
}

/// The STATUS column kubectl shows for a pod (`Running`, `Pending`, `ContainerCreating`,
/// `CrashLoopBackOff`, `OOMKilled`, `Completed`, `Evicted`, `Terminating`, `Init:0/1`...).
pub fn pod_status(pod: &Value) -> String {
    pod_summary(pod, 0).1
}

fn pod_row(pod: &Value, now: i64) -> Vec<String> {
    let (ready, reason, restarts) = pod_summary(pod, now);
    let ip = arr_at(pod, &["status", "podIPs"])
        .first()
        .map(|p| str_at(p, &["ip"]))
        .filter(|x| !x.is_empty())
        .unwrap_or_else(|| str_at(pod, &["status", "podIP"]));
    let gates = arr_at(pod, &["spec", "readinessGates"]);
    let gates_str = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_count = gates
            .iter()
            .filter(|g| condition_status(pod, str_at(g, &["conditionType"])) == Some("True"))
            .count();
        format!("{true_count}/{}", gates.len())
    };
    vec![
        name_of(pod),
        ready,
        reason,
        restarts,
        age_of(s(pod, &["metadata", "creationTimestamp"]), now),
        or_none(ip),
        or_none(str_at(pod, &["spec", "nodeName"])),
        or_none(str_at(pod, &["status", "nominatedNodeName"])),
        gates_str,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::OutputFormat;
    use crate::kinds::Kind;
    use crate::printers::testing::*;
    use crate::printers::{PrintOptions, print_objects};
    use serde_json::json;

    #[test]
    fn pods_table() {
        let out = print_objects(Kind::Pod, &sample_pods(), &opts());
        assert_eq!(out.stderr, "");
        assert_eq!(
            out.stdout,
            "\
NAME      READY   STATUS              RESTARTS     AGE
web-1     1/1     Running             0            5m
web-2     0/1     ContainerCreating   0            45s
crashy    0/1     CrashLoopBackOff    4 (2m ago)   3h
job-x     0/1     Completed           0            3d
evicted   0/1     Evicted             0            120m
going     1/1     Terminating         0            60m
oom       0/1     OOMKilled           1            10m
unsched   0/1     Pending             0            2s
"
        );
    }

    #[test]
    fn pods_wide_and_all_namespaces() {
        let pods = &sample_pods()[..3];
        let out = print_objects(
            Kind::Pod,
            pods,
            &PrintOptions {
                format: Some(OutputFormat::Wide),
                all_namespaces: true,
                ..opts()
            },
        );
        assert_eq!(
            out.stdout,
            "\
NAMESPACE   NAME     READY   STATUS              RESTARTS     AGE   IP         NODE     NOMINATED NODE   READINESS GATES
default     web-1    1/1     Running             0            5m    10.0.0.5   node-1   <none>           <none>
default     web-2    0/1     ContainerCreating   0            45s   <none>     node-1   <none>           <none>
default     crashy   0/1     CrashLoopBackOff    4 (2m ago)   3h    10.0.0.7   node-1   <none>           <none>
"
        );
    }

    #[test]
    fn pod_status_init_and_running_completed() {
        let p = json!({
            "metadata": {"name": "p"},
            "spec": {"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "c"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "state": {"terminated": {"exitCode": 0}}},
                {"name": "i2", "state": {"running": {}}}
            ]}
        });
        assert_eq!(pod_status(&p), "Init:1/2");
        let p = json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}
        });
        assert_eq!(pod_status(&p), "SchedulingGated");
    }
}
