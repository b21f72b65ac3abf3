//! The API objects a snapshot takes, cleaned into manifests a scenario can apply.
//!
//! An object keeps what its author wrote: `status`, `managedFields`, uids, resource versions,
//! generations, creation timestamps, owner references, finalizers, `kubectl apply`'s
//! last-applied annotation and kscale's own run label are removed, as `kubectl get -o yaml`
//! output is usually trimmed before it is applied elsewhere. Pods also lose what admission and
//! the scheduler added (`nodeName`, the resolved `priority`, the service-account token volume,
//! the default not-ready/unreachable tolerations), so the scenario schedules them again.

use serde_json::{Value, json};

/// The kinds a snapshot takes, in the order they are applied: (apiVersion, kind, plural,
/// namespaced, file). Custom resources come last; a kind the cluster does not serve is
/// skipped.
pub const KINDS: &[(&str, &str, &str, bool, &str)] = &[
    ("v1", "Namespace", "namespaces", false, "00-namespaces.yaml"),
    (
        "scheduling.k8s.io/v1",
        "PriorityClass",
        "priorityclasses",
        false,
        "01-priorityclasses.yaml",
    ),
    ("v1", "ConfigMap", "configmaps", true, "02-configmaps.yaml"),
    (
        "karpenter.k8s.aws/v1",
        "EC2NodeClass",
        "ec2nodeclasses",
        false,
        "03-karpenter.yaml",
    ),
    (
        "karpenter.k8s.aws/v1alpha1",
        "AWSNodeTemplate",
        "awsnodetemplates",
        false,
        "03-karpenter.yaml",
    ),
    (
        "karpenter.sh/v1",
        "NodePool",
        "nodepools",
        false,
        "03-karpenter.yaml",
    ),
    (
        "karpenter.sh/v1alpha5",
        "Provisioner",
        "provisioners",
        false,
        "03-karpenter.yaml",
    ),
    (
        "apps/v1",
        "Deployment",
        "deployments",
        true,
        "10-deployments.yaml",
    ),
    (
        "apps/v1",
        "StatefulSet",
        "statefulsets",
        true,
        "11-statefulsets.yaml",
    ),
    (
        "apps/v1",
        "DaemonSet",
        "daemonsets",
        true,
        "12-daemonsets.yaml",
    ),
    (
        "apps/v1",
        "ReplicaSet",
        "replicasets",
        true,
        "13-replicasets.yaml",
    ),
    ("v1", "Pod", "pods", true, "14-pods.yaml"),
    (
        "policy/v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
        "20-poddisruptionbudgets.yaml",
    ),
    (
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        "21-horizontalpodautoscalers.yaml",
    ),
    (
        "autoscaling.k8s.io/v1",
        "VerticalPodAutoscaler",
        "verticalpodautoscalers",
        true,
        "22-verticalpodautoscalers.yaml",
    ),
    (
        "autoscaling.x-k8s.io/v1alpha1",
        "CapacityBuffer",
        "capacitybuffers",
        true,
        "23-capacitybuffers.yaml",
    ),
];

/// Namespaces and PriorityClasses every cluster has (the twin creates them itself).
pub fn builtin(kind: &str, name: &str) -> bool {
    match kind {
        "Namespace" => matches!(
            name,
            "default" | "kube-system" | "kube-public" | "kube-node-lease"
        ),
        "PriorityClass" => name.starts_with("system-"),
        _ => false,
    }
}

/// Why an object of a taken kind is left out (owned by a controller the snapshot also
/// takes, a mirror pod, a finished pod), or `None` to take it.
pub fn skip_reason(kind: &str, obj: &Value) -> Option<&'static str> {
    let owned = obj
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|o| {
            o.iter().any(|r| {
                r.get("controller").and_then(Value::as_bool) == Some(true)
                    || r.get("kind").and_then(Value::as_str).is_some()
            })
        });
    match kind {
        "Pod" => {
            if obj
                .pointer("/metadata/annotations/kubernetes.io~1config.mirror")
                .is_some()
            {
                return Some("static (mirror) pods belong to their node's kubelet");
            }
            if owned {
                return Some("pods made by a controller are made again by it");
            }
            let phase = obj.pointer("/status/phase").and_then(Value::as_str);
            if matches!(phase, Some("Succeeded" | "Failed")) {
                return Some("finished pods do not run again");
            }
            None
        }
        "ReplicaSet" if owned => Some("ReplicaSets of a Deployment are made again by it"),
        _ => None,
    }
}

/// Removes what the API server, controllers and admission added; keeps what was written.
pub fn clean(kind: &str, obj: &mut Value) {
    if let Some(o) = obj.as_object_mut() {
        o.remove("status");
    }
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "managedFields",
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "selfLink",
            "ownerReferences",
            "finalizers",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generateName",
        ] {
            meta.remove(k);
        }
        strip_map(
            meta,
            "annotations",
            &[
                "kubectl.kubernetes.io/last-applied-configuration",
                "deployment.kubernetes.io/revision",
            ],
        );
        strip_map(meta, "labels", &[kscale_kube::RUN_LABEL]);
    }
    match kind {
        "Namespace" => {
            if let Some(o) = obj.as_object_mut() {
                o.remove("spec");
            }
            if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                strip_map(meta, "labels", &["kubernetes.io/metadata.name"]);
            }
        }
        "Pod" => {
            if let Some(spec) = obj.get_mut("spec") {
                clean_pod_spec(spec);
                drop_pod_defaults(spec);
            }
        }
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => {
            if let Some(meta) = obj
                .pointer_mut("/spec/template/metadata")
                .and_then(Value::as_object_mut)
            {
                meta.remove("creationTimestamp");
            }
            if let Some(spec) = obj.pointer_mut("/spec/template/spec") {
                drop_pod_defaults(spec);
            }
            if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
                let defaults: &[(&str, Value)] = match kind {
                    "Deployment" => &[
                        ("progressDeadlineSeconds", json!(600)),
                        ("revisionHistoryLimit", json!(10)),
                        (
                            "strategy",
                            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
                        ),
                    ],
                    "StatefulSet" => &[
                        ("podManagementPolicy", json!("OrderedReady")),
                        ("revisionHistoryLimit", json!(10)),
                        (
                            "updateStrategy",
                            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
                        ),
                        (
                            "persistentVolumeClaimRetentionPolicy",
                            json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
                        ),
                    ],
                    "DaemonSet" => &[
                        ("revisionHistoryLimit", json!(10)),
                        (
                            "updateStrategy",
                            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}),
                        ),
                    ],
                    _ => &[],
                };
                drop_equal(spec, defaults);
            }
        }
        _ => {}
    }
}

/// Removes the keys whose value is the given default.
fn drop_equal(m: &mut serde_json::Map<String, Value>, defaults: &[(&str, Value)]) {
    for (k, d) in defaults {
        if m.get(*k) == Some(d) {
            m.remove(*k);
        }
    }
}

/// Removes what the API server's defaulting filled into a pod spec (kubernetes/kubernetes
/// `pkg/apis/core/v1/defaults.go`: `SetDefaults_PodSpec`, `SetDefaults_Container`,
/// `SetDefaults_ContainerPort`) where it holds the default value, as a manifest would be
/// written: the scenario then reads as its author wrote it, and the twin, which shows
/// manifests as applied, prints what it would print for the original.
fn drop_pod_defaults(spec: &mut Value) {
    let Some(s) = spec.as_object_mut() else {
        return;
    };
    drop_equal(
        s,
        &[
            ("dnsPolicy", json!("ClusterFirst")),
            ("restartPolicy", json!("Always")),
            ("schedulerName", json!("default-scheduler")),
            ("securityContext", json!({})),
            ("terminationGracePeriodSeconds", json!(30)),
            ("enableServiceLinks", json!(true)),
            ("preemptionPolicy", json!("PreemptLowerPriority")),
        ],
    );
    for list in ["containers", "initContainers"] {
        for c in s
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let Some(c) = c.as_object_mut() else {
                continue;
            };
            // `Always` for `:latest` or no tag, else `IfNotPresent` (a digest counts as a
            // tag).
            let image = c.get("image").and_then(Value::as_str).unwrap_or("");
            let last = image.rsplit('/').next().unwrap_or(image);
            let tag = if image.contains('@') {
                Some("digest")
            } else {
                last.split_once(':').map(|(_, t)| t)
            };
            let pull = if matches!(tag, None | Some("latest")) {
                "Always"
            } else {
                "IfNotPresent"
            };
            drop_equal(
                c,
                &[
                    ("imagePullPolicy", json!(pull)),
                    ("terminationMessagePath", json!("/dev/termination-log")),
                    ("terminationMessagePolicy", json!("File")),
                ],
            );
            for p in c
                .get_mut("ports")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(p) = p.as_object_mut() {
                    drop_equal(p, &[("protocol", json!("TCP"))]);
                }
            }
        }
    }
}

/// A pod's spec without what the scheduler and admission added.
fn clean_pod_spec(spec: &mut Value) {
    let Some(s) = spec.as_object_mut() else {
        return;
    };
    {
        s.remove("nodeName");
        // Admission resolves the priority from priorityClassName; the value is the class's.
        s.remove("priority");
        // The deprecated alias admission copies from serviceAccountName.
        s.remove("serviceAccount");
        // The projected token volume the ServiceAccount admission adds, and its mounts.
        let token = |v: &Value| {
            v.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.starts_with("kube-api-access-"))
        };
        if let Some(vols) = s.get_mut("volumes").and_then(Value::as_array_mut) {
            vols.retain(|v| !token(v));
            if vols.is_empty() {
                s.remove("volumes");
            }
        }
        for list in ["containers", "initContainers"] {
            for c in s
                .get_mut(list)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(c) = c.as_object_mut()
                    && let Some(m) = c.get_mut("volumeMounts").and_then(Value::as_array_mut)
                {
                    m.retain(|v| !token(v));
                    if m.is_empty() {
                        c.remove("volumeMounts");
                    }
                }
            }
        }
        // DefaultTolerationSeconds admission: not-ready / unreachable for 300 s.
        if let Some(t) = s.get_mut("tolerations").and_then(Value::as_array_mut) {
            t.retain(|t| {
                let key = t.get("key").and_then(Value::as_str).unwrap_or("");
                let default = matches!(
                    key,
                    "node.kubernetes.io/not-ready" | "node.kubernetes.io/unreachable"
                ) && t.get("tolerationSeconds").and_then(Value::as_i64) == Some(300)
                    && t.get("effect").and_then(Value::as_str) == Some("NoExecute");
                !default
            });
            if t.is_empty() {
                s.remove("tolerations");
            }
        }
    }
}

/// Removes keys from a metadata map (`labels` / `annotations`), and the map once empty.
fn strip_map(meta: &mut serde_json::Map<String, Value>, map: &str, keys: &[&str]) {
    if let Some(m) = meta.get_mut(map).and_then(Value::as_object_mut) {
        for k in keys {
            m.remove(*k);
        }
        if m.is_empty() {
            meta.remove(map);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_lose_what_the_cluster_added() {
        let mut p = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "uid": "u", "resourceVersion": "7",
                "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": [{}],
                "labels": {"app": "a", "kscale.io/run": "r1"}},
            "spec": {
                "nodeName": "n1", "priority": 1000, "priorityClassName": "high",
                "serviceAccount": "default", "serviceAccountName": "default",
                "containers": [{"name": "c", "image": "i", "volumeMounts": [
                    {"name": "kube-api-access-x1", "mountPath": "/var/run/secrets"},
                    {"name": "data", "mountPath": "/data"}]}],
                "volumes": [{"name": "kube-api-access-x1"}, {"name": "data", "emptyDir": {}}],
                "tolerations": [
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                    {"key": "dedicated", "operator": "Exists"}]
            },
            "status": {"phase": "Running"}
        });
        assert_eq!(skip_reason("Pod", &p), None);
        clean("Pod", &mut p);
        assert_eq!(
            p,
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "namespace": "default", "labels": {"app": "a"}},
                "spec": {
                    "priorityClassName": "high", "serviceAccountName": "default",
                    "containers": [{"name": "c", "image": "i", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                    "tolerations": [{"key": "dedicated", "operator": "Exists"}]
                }
            })
        );
    }

    #[test]
    fn owned_and_finished_objects_are_skipped() {
        let owned =
            json!({"metadata": {"ownerReferences": [{"kind": "ReplicaSet", "controller": true}]}});
        assert!(skip_reason("Pod", &owned).is_some());
        assert!(skip_reason("ReplicaSet", &owned).is_some());
        assert!(skip_reason("Deployment", &owned).is_none());
        let done = json!({"metadata": {}, "status": {"phase": "Succeeded"}});
        assert!(skip_reason("Pod", &done).is_some());
        let mirror = json!({"metadata": {"annotations": {"kubernetes.io/config.mirror": "x"}}});
        assert!(skip_reason("Pod", &mirror).is_some());
    }

    #[test]
    fn templates_lose_the_api_servers_defaults() {
        // The quickstart's web Deployment as a v1.37 API server returns it.
        let mut d = json!({
            "metadata": {"name": "web", "annotations": {"deployment.kubernetes.io/revision": "3"}, "generation": 4},
            "spec": {"progressDeadlineSeconds": 600, "replicas": 2, "revisionHistoryLimit": 10,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"},
                "template": {"metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                "spec": {"containers": [
                    {"image": "nginx:1.27", "imagePullPolicy": "IfNotPresent", "name": "nginx",
                     "ports": [{"containerPort": 80, "protocol": "TCP"}],
                     "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"},
                    {"image": "busybox", "imagePullPolicy": "IfNotPresent", "name": "b", "ports": [{"containerPort": 53, "protocol": "UDP"}]}],
                    "dnsPolicy": "ClusterFirst", "priorityClassName": "high-priority", "restartPolicy": "Always",
                    "schedulerName": "default-scheduler", "securityContext": {}, "terminationGracePeriodSeconds": 30}}},
            "status": {"replicas": 2}
        });
        clean("Deployment", &mut d);
        assert_eq!(
            d,
            json!({"metadata": {"name": "web"},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [
                        {"image": "nginx:1.27", "name": "nginx", "ports": [{"containerPort": 80}]},
                        // Not the defaults: an untagged image defaults to Always; UDP is written.
                        {"image": "busybox", "imagePullPolicy": "IfNotPresent", "name": "b", "ports": [{"containerPort": 53, "protocol": "UDP"}]}],
                        "priorityClassName": "high-priority"}}}})
        );
        assert!(builtin("PriorityClass", "system-node-critical"));
        assert!(builtin("Namespace", "kube-system"));
        assert!(!builtin("Namespace", "shop"));
    }
}
