//! CapacityBuffers (`autoscaling.x-k8s.io`): the buffer controller and the fake pods the
//! Cluster Autoscaler injects for them, over the cluster API.
//!
//! Upstream (kubernetes/autoscaler `cluster-autoscaler`): `capacitybuffer/controller` resolves
//! each buffer's pod template (`podTemplateRef`, or the template of its `scalableRef`: a
//! Deployment, ReplicaSet or StatefulSet) and number of pods (`translators/replicas.go`, here
//! [`ca::capacity_buffer::buffer_pods`]) into its status;
//! `processors/capacitybuffer/pod_list_processor.go` adds that many fake pods of the template
//! to the unschedulable pods of every loop, for buffers of the active-capacity strategy. Fake
//! pods that fit existing nodes hold that room (also against scale-down,
//! [`ca::capacity_buffer::hold_room`]); the others trigger scale-ups. The twin's loop
//! (`twin::sim::cluster_autoscaler`) writes the same status ([`status`]).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, PodTemplate, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kscale_cluster::{ApiError, Cluster, Patch};
use kscale_controllers::cluster_autoscaler as ca;
use kscale_controllers::scheduler::PodInfo;
use kscale_model::SimTime;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::adapt;

/// Ids of fake pods start here (the ids of real pods never get there).
pub const FAKE_POD_ID_BASE: u64 = 1 << 62;
/// The only provisioning strategy the Cluster Autoscaler handles by default.
pub const ACTIVE_CAPACITY: &str = "buffer.x-k8s.io/active-capacity";

/// A CapacityBuffer as the API stores it (the fields the Cluster Autoscaler reads; `status` as
/// the buffer controller writes it). Served as `v1alpha1`; kscale's CRD serves `v1beta1` too.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityBuffer {
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// What room to keep.
    #[serde(default)]
    pub spec: CapacityBufferSpec,
    /// The buffer controller's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

/// `spec` of a CapacityBuffer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityBufferSpec {
    /// `podTemplateRef`: a PodTemplate of the buffer's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template_ref: Option<NameRef>,
    /// `scalableRef`: the workload whose pod template and replicas the buffer follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scalable_ref: Option<ScalableRef>,
    /// `replicas`: pods to keep room for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// `percentage` of the scalable object's replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<i32>,
    /// `limits` (cpu, memory) capping the room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<BTreeMap<String, Quantity>>,
    /// `provisioningStrategy` (default [`ACTIVE_CAPACITY`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_strategy: Option<String>,
}

/// A reference by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NameRef {
    /// The object's name.
    #[serde(default)]
    pub name: String,
}

/// `scalableRef`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalableRef {
    /// `apiGroup` (`apps`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_group: Option<String>,
    /// `kind`.
    #[serde(default)]
    pub kind: String,
    /// `name`.
    #[serde(default)]
    pub name: String,
}

crate::custom_object::custom_object!(
    CapacityBuffer,
    CapacityBufferSpec,
    Value,
    "autoscaling.x-k8s.io",
    "v1alpha1",
    "CapacityBuffer",
    "capacitybuffers",
    NamespaceResourceScope
);

/// The status the buffer controller writes: the resolved template's name and number of pods,
/// or why the buffer is not ready for provisioning (`capacitybuffer/controller`).
pub fn status(strategy: &str, resolved: Result<(&str, i32), &str>) -> Value {
    match resolved {
        Ok((template_name, n)) => {
            let active = strategy == ACTIVE_CAPACITY;
            json!({
                "podTemplateRef": {"name": template_name},
                "replicas": n,
                "provisioningStrategy": strategy,
                "conditions": [
                    {"type": "ReadyForProvisioning", "status": "True", "reason": "AttributesSetSuccessfully"},
                    {"type": "Provisioning", "status": if active { "True" } else { "False" }, "reason": if active { "FakePodsInjected" } else { "UnsupportedProvisioningStrategy" }},
                ],
            })
        }
        Err(e) => json!({
            "provisioningStrategy": strategy,
            "conditions": [{"type": "ReadyForProvisioning", "status": "False", "reason": "BufferNotReady", "message": e}],
        }),
    }
}

/// A buffer's pod template (the name its status shows) and number of pods.
fn resolve<C: Cluster>(
    api: &mut C,
    b: &CapacityBuffer,
) -> Result<Result<(String, PodTemplateSpec, i32), String>, ApiError> {
    let ns = b.metadata.namespace.as_deref().unwrap_or("default");
    let name = b.metadata.name.as_deref().unwrap_or("");
    let spec = &b.spec;
    let (template_name, template, scalable) = if let Some(r) = &spec.pod_template_ref {
        match api
            .get::<PodTemplate>(ns, &r.name)?
            .and_then(|t| t.template)
        {
            Some(t) => (r.name.clone(), t, None),
            None => return Ok(Err(format!("pod template {ns}/{} not found", r.name))),
        }
    } else if let Some(r) = &spec.scalable_ref {
        let found = match r.kind.as_str() {
            "Deployment" => api
                .get::<Deployment>(ns, &r.name)?
                .map(|d| d.spec.map(|s| (s.replicas, s.template))),
            "ReplicaSet" => api
                .get::<ReplicaSet>(ns, &r.name)?
                .map(|d| d.spec.map(|s| (s.replicas, s.template.unwrap_or_default()))),
            "StatefulSet" => api
                .get::<StatefulSet>(ns, &r.name)?
                .map(|d| d.spec.map(|s| (s.replicas, s.template))),
            kind => {
                return Ok(Err(format!(
                    "kind {kind} is not supported to use pod template"
                )));
            }
        };
        let Some(found) = found else {
            return Ok(Err(format!("{} {ns}/{} not found", r.kind, r.name)));
        };
        let (replicas, template) = found.unwrap_or_default();
        (
            format!("capacitybuffer-{name}-pod-template"),
            template,
            Some(replicas.unwrap_or(1)),
        )
    } else {
        return Ok(Err("neither podTemplateRef nor scalableRef is set".into()));
    };
    let requests = template
        .spec
        .as_ref()
        .map(adapt::pod_requests)
        .unwrap_or_default();
    let limit = |k: &str| {
        spec.limits
            .as_ref()
            .and_then(|l| l.get(k))
            .and_then(|q| kscale_model::Quantity::parse(&q.0).ok())
    };
    let size = ca::capacity_buffer::BufferSize {
        replicas: spec.replicas,
        percentage: spec.percentage,
        limit_cpu_milli: limit("cpu").map(|q| q.milli()),
        limit_memory: limit("memory").map(|q| q.value()),
    };
    Ok(ca::capacity_buffer::buffer_pods(&size, &requests, scalable)
        .map(|n| (template_name, template, n)))
}

/// The fake pods of every buffer of the active-capacity strategy, in list order; writes each
/// buffer's status when it changed. A cluster without the CapacityBuffer kind has none.
pub fn fake_pods<C: Cluster>(api: &mut C) -> Result<Vec<PodInfo>, ApiError> {
    let buffers = match api.list::<CapacityBuffer>(None, "") {
        Ok(b) => b,
        Err(ApiError::NotFound { .. }) => return Ok(vec![]),
        Err(e) => return Err(e),
    };
    let mut out = vec![];
    for (i, b) in buffers.iter().enumerate() {
        let ns = b.metadata.namespace.as_deref().unwrap_or("default");
        let name = b.metadata.name.as_deref().unwrap_or("");
        let strategy = b
            .spec
            .provisioning_strategy
            .as_deref()
            .unwrap_or(ACTIVE_CAPACITY);
        let resolved = resolve(api, b)?;
        let st = status(
            strategy,
            resolved
                .as_ref()
                .map(|(t, _, n)| (t.as_str(), *n))
                .map_err(String::as_str),
        );
        if b.status.as_ref() != Some(&st) {
            // A merge patch: what the new status no longer has is removed.
            let mut patch = st.clone();
            if let (Some(old), Some(p)) = (
                b.status.as_ref().and_then(Value::as_object),
                patch.as_object_mut(),
            ) {
                for k in old.keys() {
                    p.entry(k.clone()).or_insert(Value::Null);
                }
            }
            match api.patch_status::<CapacityBuffer>(
                ns,
                name,
                &Patch::Merge(json!({ "status": patch })),
            ) {
                Ok(_) | Err(ApiError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let Ok((_, template, n)) = resolved else {
            continue;
        };
        if strategy != ACTIVE_CAPACITY {
            continue;
        }
        for k in 0..n.max(0) as u64 {
            let pod = Pod {
                metadata: ObjectMeta {
                    namespace: Some(ns.to_string()),
                    name: Some(format!("capacity-buffer-{name}-{}", k + 1)),
                    labels: template.metadata.as_ref().and_then(|m| m.labels.clone()),
                    ..ObjectMeta::default()
                },
                spec: template.spec.clone(),
                status: None,
            };
            out.push(adapt::pod_info(
                &pod,
                FAKE_POD_ID_BASE + i as u64 * 1_000_000 + k,
                SimTime::ZERO,
            ));
        }
    }
    Ok(out)
}
