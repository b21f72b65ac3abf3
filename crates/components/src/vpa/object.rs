//! The `autoscaling.k8s.io/v1` VerticalPodAutoscaler object as the API stores it, typed (the
//! fields kscale reads and writes; the CRD's structural schema), and its adapters into the
//! controllers' inputs.
//!
//! Upstream: vertical-pod-autoscaler/pkg/apis/autoscaling.k8s.io/v1/types.go

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kscale_controllers::vpa::{
    ContainerRecommendation, ContainerResourcePolicy, ContainerScalingMode, ControlledValues,
    PodResourcePolicy, ResourceList, ResourceName, UpdateMode, VpaSpec,
};
use kscale_model::Quantity;
use serde::{Deserialize, Serialize};

/// A VerticalPodAutoscaler (serialized with its `apiVersion` and `kind`, as k8s-openapi's
/// types are).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerticalPodAutoscaler {
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// What to scale and how.
    pub spec: VpaObjectSpec,
    /// The recommender's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<VpaStatus>,
}

crate::custom_object::custom_object!(
    VerticalPodAutoscaler,
    VpaObjectSpec,
    VpaStatus,
    "autoscaling.k8s.io",
    "v1",
    "VerticalPodAutoscaler",
    "verticalpodautoscalers",
    NamespaceResourceScope
);

/// `spec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpaObjectSpec {
    /// The workload whose pods it controls (Deployment, ReplicaSet, StatefulSet, ...).
    pub target_ref: TargetRef,
    /// `updatePolicy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_policy: Option<UpdatePolicy>,
    /// `resourcePolicy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_policy: Option<ResourcePolicy>,
    /// `recommenders` (only the default recommender is run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommenders: Option<Vec<RecommenderRef>>,
}

/// `spec.targetRef` (autoscaling/v1 CrossVersionObjectReference).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetRef {
    /// Its API version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Its kind.
    pub kind: String,
    /// Its name.
    pub name: String,
}

/// `spec.recommenders[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecommenderRef {
    /// The recommender's name.
    pub name: String,
}

/// `spec.updatePolicy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdatePolicy {
    /// `Off`, `Initial`, `Recreate`, `InPlaceOrRecreate` or `Auto` (unset: Recreate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_mode: Option<UpdateMode>,
    /// Fewest live replicas for the updater to evict (overrides `--min-replicas`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<i32>,
    /// `evictionRequirements` (kept, not acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eviction_requirements: Option<Vec<serde_json::Value>>,
}

/// `spec.resourcePolicy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourcePolicy {
    /// Per-container policies (`containerName: "*"` for the default).
    #[serde(default)]
    pub container_policies: Vec<ContainerPolicy>,
}

/// `spec.resourcePolicy.containerPolicies[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPolicy {
    /// The container, or `*`.
    #[serde(default)]
    pub container_name: String,
    /// `Auto` or `Off`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ContainerScalingMode>,
    /// Lower bounds of the recommendation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_allowed: Option<BTreeMap<String, ApiQuantity>>,
    /// Upper bounds of the recommendation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_allowed: Option<BTreeMap<String, ApiQuantity>>,
    /// `cpu` and/or `memory` (unset: both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controlled_resources: Option<Vec<String>>,
    /// `RequestsAndLimits` or `RequestsOnly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controlled_values: Option<ControlledValues>,
}

/// `status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpaStatus {
    /// The latest recommendation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<Recommendation>,
    /// `RecommendationProvided`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<VpaCondition>>,
}

/// `status.recommendation`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recommendation {
    /// One entry per container.
    #[serde(default)]
    pub container_recommendations: Vec<ContainerRecommendationObject>,
}

/// `status.recommendation.containerRecommendations[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerRecommendationObject {
    /// The container.
    pub container_name: String,
    /// Recommended requests.
    pub target: BTreeMap<String, ApiQuantity>,
    /// Lowest requests still considered right.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower_bound: Option<BTreeMap<String, ApiQuantity>>,
    /// Highest requests still considered right.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper_bound: Option<BTreeMap<String, ApiQuantity>>,
    /// The target before the resource policy's caps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncapped_target: Option<BTreeMap<String, ApiQuantity>>,
}

/// `status.conditions[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpaCondition {
    /// `RecommendationProvided`, `LowConfidence`, `NoPodsMatched`, `FetchingHistory`,
    /// `ConfigUnsupported`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True` / `False`.
    pub status: String,
    /// When the status last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// Machine-readable reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A `corev1.ResourceList` of cpu and memory as the controllers count them (millicores,
/// bytes); other keys and unparsable values are left out.
pub fn resource_list(m: &BTreeMap<String, ApiQuantity>) -> ResourceList {
    let q = |k: &str| m.get(k).and_then(|v| Quantity::parse(&v.0).ok());
    ResourceList {
        cpu_milli: q("cpu").map(|q| q.milli()),
        memory: q("memory").map(|q| q.value()),
    }
}

/// A ResourceList as the recommender writes it: CPU as `NewScaledQuantity(milli, -3)`, memory
/// as `NewScaledQuantity(bytes, 0)`, both DecimalSI (`25m`, `262144k`).
///
/// Upstream: vertical-pod-autoscaler/pkg/recommender/model/types.go (`QuantityFromCPUAmount`,
/// `QuantityFromMemoryAmount`)
pub fn api_resource_list(r: &ResourceList) -> BTreeMap<String, ApiQuantity> {
    let mut m = BTreeMap::new();
    if let Some(c) = r.cpu_milli {
        m.insert(
            "cpu".into(),
            ApiQuantity(kscale_model::quantity::format_decimal_milli(c)),
        );
    }
    if let Some(b) = r.memory {
        m.insert(
            "memory".into(),
            ApiQuantity(kscale_model::quantity::format_decimal_milli(
                b.saturating_mul(1000),
            )),
        );
    }
    m
}

impl From<&ContainerRecommendationObject> for ContainerRecommendation {
    fn from(r: &ContainerRecommendationObject) -> Self {
        let list = |m: &Option<BTreeMap<String, ApiQuantity>>| {
            m.as_ref().map(resource_list).unwrap_or_default()
        };
        ContainerRecommendation {
            container_name: r.container_name.clone(),
            target: resource_list(&r.target),
            lower_bound: list(&r.lower_bound),
            upper_bound: list(&r.upper_bound),
            uncapped_target: list(&r.uncapped_target),
        }
    }
}

impl From<&ContainerRecommendation> for ContainerRecommendationObject {
    fn from(r: &ContainerRecommendation) -> Self {
        let list = |l: &ResourceList| (!l.is_empty()).then(|| api_resource_list(l));
        ContainerRecommendationObject {
            container_name: r.container_name.clone(),
            target: api_resource_list(&r.target),
            lower_bound: list(&r.lower_bound),
            upper_bound: list(&r.upper_bound),
            uncapped_target: list(&r.uncapped_target),
        }
    }
}

impl From<&ResourcePolicy> for PodResourcePolicy {
    fn from(p: &ResourcePolicy) -> Self {
        PodResourcePolicy {
            container_policies: p
                .container_policies
                .iter()
                .map(|c| ContainerResourcePolicy {
                    container_name: c.container_name.clone(),
                    mode: c.mode,
                    min_allowed: c
                        .min_allowed
                        .as_ref()
                        .map(resource_list)
                        .unwrap_or_default(),
                    max_allowed: c
                        .max_allowed
                        .as_ref()
                        .map(resource_list)
                        .unwrap_or_default(),
                    controlled_resources: c.controlled_resources.as_ref().map(|rs| {
                        rs.iter()
                            .filter_map(|r| match r.as_str() {
                                "cpu" => Some(ResourceName::Cpu),
                                "memory" => Some(ResourceName::Memory),
                                _ => None,
                            })
                            .collect()
                    }),
                    controlled_values: c.controlled_values,
                })
                .collect(),
        }
    }
}

impl From<&VerticalPodAutoscaler> for VpaSpec {
    fn from(v: &VerticalPodAutoscaler) -> Self {
        let policy = v.spec.update_policy.as_ref();
        VpaSpec {
            name: v.metadata.name.clone().unwrap_or_default(),
            update_mode: policy.and_then(|p| p.update_mode).unwrap_or_default(),
            min_replicas: policy.and_then(|p| p.min_replicas).map(|m| m.max(0) as u32),
            resource_policy: v.spec.resource_policy.as_ref().map(PodResourcePolicy::from),
            recommendation: v
                .status
                .as_ref()
                .and_then(|s| s.recommendation.as_ref())
                .map(|r| {
                    r.container_recommendations
                        .iter()
                        .map(ContainerRecommendation::from)
                        .collect()
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vpa_reads_into_the_controllers_spec() {
        let v: VerticalPodAutoscaler = serde_json::from_value(serde_json::json!({
            "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "updatePolicy": {"updateMode": "Initial", "minReplicas": 1},
                "resourcePolicy": {"containerPolicies": [
                    {"containerName": "*", "minAllowed": {"cpu": "50m"}, "maxAllowed": {"memory": "1Gi"},
                     "controlledResources": ["cpu"], "controlledValues": "RequestsOnly"}]}
            },
            "status": {"recommendation": {"containerRecommendations": [
                {"containerName": "app", "target": {"cpu": "25m", "memory": "262144k"}}]}}
        }))
        .unwrap();
        let spec = VpaSpec::from(&v);
        assert_eq!(spec.update_mode, UpdateMode::Initial);
        assert_eq!(spec.min_replicas, Some(1));
        let p = &spec.resource_policy.unwrap().container_policies[0];
        assert_eq!(p.min_allowed.cpu_milli, Some(50));
        assert_eq!(p.max_allowed.memory, Some(1 << 30));
        assert_eq!(p.controlled_resources, Some(vec![ResourceName::Cpu]));
        assert_eq!(p.controlled_values, Some(ControlledValues::RequestsOnly));
        let r = &spec.recommendation.unwrap()[0];
        assert_eq!(r.target, ResourceList::new(25, 262_144_000));
    }

    #[test]
    fn recommendations_are_written_as_the_recommender_writes_quantities() {
        let m = api_resource_list(&ResourceList::new(1500, 262_144_000));
        assert_eq!(m["cpu"].0, "1500m");
        assert_eq!(m["memory"].0, "262144k");
        let m = api_resource_list(&ResourceList::new(2000, 123_456_789));
        assert_eq!(
            (m["cpu"].0.as_str(), m["memory"].0.as_str()),
            ("2", "123456789")
        );
    }
}
