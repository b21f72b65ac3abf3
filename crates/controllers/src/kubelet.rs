//! The kubelet's decisions about an in-place pod resize (KEP-1287; v1.37's
//! `pkg/kubelet/allocation/allocation_manager.go` `handlePodResourcesResize`), shared by the
//! twin's kubelets and kscale's kubelets on a real control plane.
//!
//! - [`admit_resize`]: whether the node's allocatable holds the resized pod next to the pods it
//!   has admitted (the predicate admit handler, `pkg/kubelet/lifecycle/predicate.go`); a refusal
//!   carries the handler's reason (`OutOfcpu`, `OutOfmemory`) and message, and the pod's
//!   `PodResizePending` condition says `Deferred` (`status_manager.go`
//!   `SetPodResizePendingCondition`).
//! - [`resize_message`]: the `ResizeStarted` / `ResizeCompleted` / `ResizeDeferred` event
//!   messages (`pkg/kubelet/events/resize.go` `podResizeMessage`).

use kscale_model::Resources;
use serde_json::{Value, json};

/// Why the kubelet cannot admit a resize yet (`PodResizePending`, reason `Deferred`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferral {
    /// The admit handler's reason, `OutOfcpu` or `OutOfmemory` (predicate.go `OutOfCPU`,
    /// `OutOfMemory`): the event's prefix says it (`Pod resize OutOfcpu`).
    pub reason: &'static str,
    /// `Node didn't have enough resource: cpu, requested: R, used: U, capacity: C`
    /// (predicate.go `InsufficientResourceError`): the condition's message.
    pub message: String,
}

/// The kubelet's allocation decision: the pod may run with `want` (its new requests) when the
/// node's `allocatable` holds `want` plus `others`, what the node's other admitted pods have
/// allocated (their new requests for resizes in progress). CPU is checked before memory, as
/// the resource fit does.
pub fn admit_resize(
    allocatable: Resources,
    others: Resources,
    want: Resources,
) -> Result<(), Deferral> {
    let short = if others.cpu_milli + want.cpu_milli > allocatable.cpu_milli {
        Some((
            "OutOfcpu",
            "cpu",
            want.cpu_milli,
            others.cpu_milli,
            allocatable.cpu_milli,
        ))
    } else if others.memory + want.memory > allocatable.memory {
        Some((
            "OutOfmemory",
            "memory",
            want.memory,
            others.memory,
            allocatable.memory,
        ))
    } else {
        None
    };
    match short {
        None => Ok(()),
        Some((reason, resource, requested, used, capacity)) => Err(Deferral {
            reason,
            message: format!(
                "Node didn't have enough resource: {resource}, requested: {requested}, used: {used}, capacity: {capacity}"
            ),
        }),
    }
}

/// A resize event's message: `prefix`, then the pod's containers (each `{"name", "resources"}`
/// as its spec has them), the pod's generation and the error, as JSON
/// (`podResizeMessage`: `podResourceSummary`, whose `error` is left out when empty).
pub fn resize_message(
    prefix: &str,
    containers: Vec<Value>,
    generation: u64,
    error: Option<&str>,
) -> String {
    let mut summary = json!({"containers": containers, "generation": generation});
    if let Some(e) = error {
        summary["error"] = json!(e);
    }
    format!("{prefix}: {summary}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(cpu_milli: i64, memory: i64) -> Resources {
        Resources {
            cpu_milli,
            memory,
            pods: 0,
        }
    }

    #[test]
    fn a_resize_is_admitted_while_the_node_holds_it() {
        let node = r(2000, 4 << 30);
        assert_eq!(
            admit_resize(node, r(1000, 1 << 30), r(1000, 3 << 30)),
            Ok(())
        );
        let cpu = admit_resize(node, r(1500, 1 << 30), r(600, 1 << 30)).unwrap_err();
        assert_eq!(cpu.reason, "OutOfcpu");
        assert_eq!(
            cpu.message,
            "Node didn't have enough resource: cpu, requested: 600, used: 1500, capacity: 2000"
        );
        // CPU is named first when both are short.
        assert_eq!(
            admit_resize(node, r(1500, 4 << 30), r(600, 1))
                .unwrap_err()
                .reason,
            "OutOfcpu"
        );
        let memory = admit_resize(node, r(0, 3 << 30), r(100, 2 << 30)).unwrap_err();
        assert_eq!(memory.reason, "OutOfmemory");
        assert_eq!(
            memory.message,
            format!(
                "Node didn't have enough resource: memory, requested: {}, used: {}, capacity: {}",
                2i64 << 30,
                3i64 << 30,
                4i64 << 30
            )
        );
    }

    #[test]
    fn the_message_carries_the_containers_generation_and_error() {
        let c = vec![json!({"name": "app", "resources": {"requests": {"cpu": "500m"}}})];
        assert_eq!(
            resize_message("Pod resize started", c.clone(), 2, None),
            r#"Pod resize started: {"containers":[{"name":"app","resources":{"requests":{"cpu":"500m"}}}],"generation":2}"#
        );
        assert_eq!(
            resize_message("Pod resize OutOfcpu", c, 3, Some("no room")),
            r#"Pod resize OutOfcpu: {"containers":[{"name":"app","resources":{"requests":{"cpu":"500m"}}}],"generation":3,"error":"no room"}"#
        );
    }
}
