//! Vertical Pod Autoscaler (autoscaling.k8s.io/v1) decision logic.
//!
//! Ported from kubernetes/autoscaler `vertical-pod-autoscaler/pkg/...`:
//!
//! - [`histogram`]: exponential-bucket and decaying histograms (`recommender/util`).
//! - [`aggregate`]: per-container usage aggregation, memory peaks per interval, OOM bump,
//!   confidence (`recommender/model`).
//! - [`estimator`]: percentile / margin / confidence / minimum estimators (`recommender/logic`).
//! - [`recommender`]: the pod recommender with upstream defaults (`recommender/logic`).
//! - [`capping`]: `resourcePolicy` capping (`utils/vpa/capping.go`).
//! - [`limits`]: limits scaled in proportion to requests (`utils/vpa/limit_and_request_scaling.go`).
//! - [`updater`]: which pods the updater evicts or resizes in place, and in what order.
//! - [`admission`]: what the admission controller writes into a new pod.
//!
//! CPU is in millicores and memory in bytes (both `i64`), times are [`kscale_model::SimTime`]. A resource
//! list is [`ResourceList`]: upstream's `corev1.ResourceList` restricted to cpu and memory,
//! where a missing key is `None`.

pub mod admission;
pub mod aggregate;
pub mod capping;
pub mod estimator;
pub mod histogram;
pub mod limits;
pub mod recommender;
pub mod updater;

/// A resource the VPA controls.
///
/// Upstream: vertical-pod-autoscaler/pkg/recommender/model/types.go (`ResourceName`)
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum ResourceName {
    /// CPU, in millicores.
    Cpu,
    /// Memory, in bytes.
    Memory,
}

impl ResourceName {
    /// Both resources in upstream's default order (cpu, memory).
    pub const ALL: [ResourceName; 2] = [ResourceName::Cpu, ResourceName::Memory];

    /// `cpu` or `memory`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceName::Cpu => "cpu",
            ResourceName::Memory => "memory",
        }
    }
}

/// The largest amount a recommendation can hold (`MaxResourceAmount`, 1e14).
///
/// Upstream: vertical-pod-autoscaler/pkg/recommender/model/types.go
pub const MAX_RESOURCE_AMOUNT: i64 = 100_000_000_000_000;

/// Converts a float amount to an integer one: truncated, negatives to 0, capped at
/// [`MAX_RESOURCE_AMOUNT`].
///
/// Upstream: vertical-pod-autoscaler/pkg/recommender/model/types.go (`resourceAmountFromFloat`)
pub fn resource_amount_from_f64(amount: f64) -> i64 {
    if amount > MAX_RESOURCE_AMOUNT as f64 {
        return MAX_RESOURCE_AMOUNT;
    }
    if amount.is_nan() || amount < 0.0 {
        return 0;
    }
    amount as i64
}

/// `amount * factor`, converted with [`resource_amount_from_f64`].
///
/// Upstream: vertical-pod-autoscaler/pkg/recommender/model/types.go (`ScaleResource`)
pub fn scale_resource(amount: i64, factor: f64) -> i64 {
    resource_amount_from_f64(amount as f64 * factor)
}

/// CPU millicores and memory bytes, each possibly absent (a `corev1.ResourceList` with only
/// cpu and memory keys).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct ResourceList {
    /// CPU in millicores, if set.
    pub cpu_milli: Option<i64>,
    /// Memory in bytes, if set.
    pub memory: Option<i64>,
}

impl ResourceList {
    /// No keys.
    pub const EMPTY: ResourceList = ResourceList {
        cpu_milli: None,
        memory: None,
    };

    /// Both keys set.
    pub const fn new(cpu_milli: i64, memory: i64) -> Self {
        ResourceList {
            cpu_milli: Some(cpu_milli),
            memory: Some(memory),
        }
    }

    /// The value of `r`, if set.
    pub fn get(&self, r: ResourceName) -> Option<i64> {
        match r {
            ResourceName::Cpu => self.cpu_milli,
            ResourceName::Memory => self.memory,
        }
    }

    /// Sets (or clears) the value of `r`.
    pub fn set(&mut self, r: ResourceName, v: Option<i64>) {
        match r {
            ResourceName::Cpu => self.cpu_milli = v,
            ResourceName::Memory => self.memory = v,
        }
    }

    /// True if no key is set.
    pub fn is_empty(&self) -> bool {
        self.cpu_milli.is_none() && self.memory.is_none()
    }

    /// The set keys with their values, cpu first.
    pub fn iter(&self) -> impl Iterator<Item = (ResourceName, i64)> + '_ {
        ResourceName::ALL
            .into_iter()
            .filter_map(|r| self.get(r).map(|v| (r, v)))
    }
}

/// `spec.updatePolicy.updateMode`.
///
/// Upstream: vertical-pod-autoscaler/pkg/apis/autoscaling.k8s.io/v1/types.go (`UpdateMode`);
/// an unset mode is `Recreate` (`GetUpdateMode` in pkg/utils/vpa/api.go).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum UpdateMode {
    /// Recommend only; never change pods.
    Off,
    /// Set resources at pod creation only.
    Initial,
    /// Set at creation and evict pods whose requests are off (the default).
    #[default]
    Recreate,
    /// Deprecated alias of `Recreate`.
    Auto,
    /// Resize in place, falling back to eviction.
    InPlaceOrRecreate,
    /// Resize in place only (alpha, behind the updater's `InPlace` feature gate).
    InPlace,
}

/// `containerPolicies[].mode`.
///
/// Upstream: vertical-pod-autoscaler/pkg/apis/autoscaling.k8s.io/v1/types.go (`ContainerScalingMode`)
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum ContainerScalingMode {
    /// Autoscaling enabled (the default).
    #[default]
    Auto,
    /// Autoscaling disabled for the container.
    Off,
}

/// `containerPolicies[].controlledValues`.
///
/// Upstream: vertical-pod-autoscaler/pkg/apis/autoscaling.k8s.io/v1/types.go (`ContainerControlledValues`)
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum ControlledValues {
    /// Requests are set and limits scaled in proportion (the default).
    #[default]
    RequestsAndLimits,
    /// Only requests are set; the recommendation is capped at the limit.
    RequestsOnly,
}

/// The container name that makes a policy the default for all containers.
pub const DEFAULT_CONTAINER_POLICY: &str = "*";

/// One entry of `spec.resourcePolicy.containerPolicies`.
///
/// Upstream: vertical-pod-autoscaler/pkg/apis/autoscaling.k8s.io/v1/types.go (`ContainerResourcePolicy`)
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ContainerResourcePolicy {
    /// Container name, or `*` for the default policy.
    pub container_name: String,
    /// Scaling mode (`None`: Auto).
    pub mode: Option<ContainerScalingMode>,
    /// Lower caps on the recommendation (0 or absent: none).
    pub min_allowed: ResourceList,
    /// Upper caps on the recommendation (0 or absent: none).
    pub max_allowed: ResourceList,
    /// Resources to recommend (`None`: cpu and memory).
    pub controlled_resources: Option<Vec<ResourceName>>,
    /// Which values to set (`None`: RequestsAndLimits).
    pub controlled_values: Option<ControlledValues>,
}

/// `spec.resourcePolicy`.
///
/// Upstream: vertical-pod-autoscaler/pkg/apis/autoscaling.k8s.io/v1/types.go (`PodResourcePolicy`)
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PodResourcePolicy {
    /// Per-container policies.
    pub container_policies: Vec<ContainerResourcePolicy>,
}

/// The policy that applies to `container`: its own, else the `*` one, else none.
///
/// Upstream: vertical-pod-autoscaler/pkg/utils/vpa/api.go (`GetContainerResourcePolicy`)
pub fn container_policy<'a>(
    container: &str,
    policy: Option<&'a PodResourcePolicy>,
) -> Option<&'a ContainerResourcePolicy> {
    let mut default = None;
    for p in policy
        .map(|p| p.container_policies.as_slice())
        .unwrap_or(&[])
    {
        if p.container_name == container {
            return Some(p);
        }
        if p.container_name == DEFAULT_CONTAINER_POLICY {
            default = Some(p);
        }
    }
    default
}

/// The controlled values of `container` (default RequestsAndLimits).
///
/// Upstream: vertical-pod-autoscaler/pkg/utils/vpa/api.go (`GetContainerControlledValues`)
pub fn container_controlled_values(
    container: &str,
    policy: Option<&PodResourcePolicy>,
) -> ControlledValues {
    container_policy(container, policy)
        .and_then(|p| p.controlled_values)
        .unwrap_or_default()
}

/// True if the container's policy sets `mode: Off`.
pub fn container_scaling_off(container: &str, policy: Option<&PodResourcePolicy>) -> bool {
    container_policy(container, policy).and_then(|p| p.mode) == Some(ContainerScalingMode::Off)
}

/// One entry of `status.recommendation.containerRecommendations`.
///
/// Upstream: vertical-pod-autoscaler/pkg/apis/autoscaling.k8s.io/v1/types.go (`RecommendedContainerResources`)
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ContainerRecommendation {
    /// The container's name.
    pub container_name: String,
    /// Recommended requests.
    pub target: ResourceList,
    /// Minimum recommended requests.
    pub lower_bound: ResourceList,
    /// Maximum recommended requests.
    pub upper_bound: ResourceList,
    /// The target before policy capping.
    pub uncapped_target: ResourceList,
}

/// The recommendation for `container`, if any.
///
/// Upstream: vertical-pod-autoscaler/pkg/utils/vpa/capping.go (`GetRecommendationForContainer`)
pub fn recommendation_for<'a>(
    container: &str,
    recommendation: &'a [ContainerRecommendation],
) -> Option<&'a ContainerRecommendation> {
    recommendation
        .iter()
        .find(|r| r.container_name == container)
}

/// A container of a pod as the VPA sees it: its name and current requests and limits.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PodContainer {
    /// The container's name.
    pub name: String,
    /// `resources.requests`.
    pub requests: ResourceList,
    /// `resources.limits`.
    pub limits: ResourceList,
}

/// The parts of a VerticalPodAutoscaler the updater and admission controller read.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VpaSpec {
    /// `metadata.name`.
    pub name: String,
    /// `spec.updatePolicy.updateMode` (unset: Recreate).
    pub update_mode: UpdateMode,
    /// `spec.updatePolicy.minReplicas` (overrides the updater's `--min-replicas`).
    pub min_replicas: Option<u32>,
    /// `spec.resourcePolicy`.
    pub resource_policy: Option<PodResourcePolicy>,
    /// `status.recommendation.containerRecommendations` (`None`: no recommendation yet).
    pub recommendation: Option<Vec<ContainerRecommendation>>,
}

/// Milliseconds in one hour.
pub const HOUR_MS: u64 = 3_600_000;
