//! Objects and options shared by the printers' unit tests.

use serde_json::{Value, json};

use super::{PrintOptions, parse_rfc3339_ms};

pub(super) const NOW: &str = "2024-05-01T12:00:00Z";

pub(super) fn now() -> i64 {
    parse_rfc3339_ms(NOW).unwrap()
}

pub(super) fn opts() -> PrintOptions {
    PrintOptions {
        now_ms: now(),
        ..PrintOptions::default()
    }
}

pub(super) fn pod(name: &str, created: &str, status: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": created},
        "spec": {"containers": [{"name": "app", "image": "nginx"}], "nodeName": "node-1"},
        "status": status
    })
}

pub(super) fn sample_pods() -> Vec<Value> {
    vec![
        pod(
            "web-1",
            "2024-05-01T11:55:00Z",
            json!({
                "phase": "Running", "podIP": "10.0.0.5",
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0,
                    "state": {"running": {"startedAt": "2024-05-01T11:55:05Z"}}}]
            }),
        ),
        pod(
            "web-2",
            "2024-05-01T11:59:15Z",
            json!({
                "phase": "Pending",
                "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                    "state": {"waiting": {"reason": "ContainerCreating"}}}]
            }),
        ),
        pod(
            "crashy",
            "2024-05-01T09:00:00Z",
            json!({
                "phase": "Running", "podIP": "10.0.0.7",
                "containerStatuses": [{"name": "app", "ready": false, "restartCount": 4,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2024-05-01T11:58:00Z"}}}]
            }),
        ),
        pod(
            "job-x",
            "2024-04-28T12:00:00Z",
            json!({
                "phase": "Succeeded",
                "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]
            }),
        ),
        pod(
            "evicted",
            "2024-05-01T10:00:00Z",
            json!({"phase": "Failed", "reason": "Evicted"}),
        ),
        {
            let mut p = pod(
                "going",
                "2024-05-01T11:00:00Z",
                json!({
                    "phase": "Running",
                    "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0,
                        "state": {"running": {}}}]
                }),
            );
            p["metadata"]["deletionTimestamp"] = json!("2024-05-01T11:59:30Z");
            p
        },
        pod(
            "oom",
            "2024-05-01T11:50:00Z",
            json!({
                "phase": "Running",
                "containerStatuses": [{"name": "app", "ready": false, "restartCount": 1,
                    "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]
            }),
        ),
        {
            let mut p = pod(
                "unsched",
                "2024-05-01T11:59:58Z",
                json!({"phase": "Pending"}),
            );
            p["spec"].as_object_mut().unwrap().remove("nodeName");
            p
        },
    ]
}

pub(super) fn node(name: &str, ready: &str, extra_labels: Value, unschedulable: bool) -> Value {
    let mut labels = json!({"kubernetes.io/hostname": name});
    for (k, v) in extra_labels.as_object().unwrap() {
        labels[k] = v.clone();
    }
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels, "creationTimestamp": "2024-04-29T10:00:00Z"},
        "spec": {"unschedulable": unschedulable},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": ready}],
            "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": "v1.30.1", "osImage": "Bottlerocket OS 1.20", "kernelVersion": "6.1.90", "containerRuntimeVersion": "containerd://1.7.20"}
        }
    })
}

pub(super) fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx-app", "namespace": "default", "creationTimestamp": "2024-05-01T11:57:50Z"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "nginx"}},
            "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}},
        "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
    })
}
