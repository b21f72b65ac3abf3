//! Draining a node on a `--cluster` run, as the twin drains one (Karpenter's disruption, a
//! Provisioner's empty or consolidated node, a spot interruption notice): the node is cordoned
//! and its pods deleted, each with an `Evicted` event, except DaemonSet pods and pods already
//! terminating (`kubectl drain --force`; karpenter `pkg/controllers/node/termination`).

use k8s_openapi::api::core::v1::{Node, Pod};
use kscale_cluster::{ApiError, Cluster, Event, EventType, Patch};
use kscale_kube::KubeCluster;
use serde_json::json;

/// Whether a DaemonSet owns the pod (a drain leaves it).
pub fn daemon_set(p: &Pod) -> bool {
    p.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "DaemonSet")
}

/// Marks the node unschedulable (a node already gone is not an error).
pub fn cordon(kc: &mut KubeCluster, node: &str) -> Result<(), ApiError> {
    match kc.patch::<Node>(
        "",
        node,
        &Patch::Merge(json!({"spec": {"unschedulable": true}})),
    ) {
        Ok(_) | Err(ApiError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes the pods of `pods` bound to `node` that a drain removes, each after an `Evicted`
/// event with `message` from `source`.
pub fn evict_pods(
    kc: &mut KubeCluster,
    pods: &[Pod],
    node: &str,
    message: &str,
    source: &str,
) -> Result<(), ApiError> {
    for p in pods {
        let on_node = p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node);
        if !on_node || daemon_set(p) || p.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let ns = p.metadata.namespace.clone().unwrap_or_default();
        let name = p.metadata.name.clone().unwrap_or_default();
        kc.event(Event {
            type_: EventType::Normal,
            reason: "Evicted".into(),
            kind: "Pod".into(),
            namespace: ns.clone(),
            name: name.clone(),
            message: message.into(),
            source: source.into(),
        });
        match kc.delete::<Pod>(&ns, &name, None) {
            Ok(()) | Err(ApiError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
