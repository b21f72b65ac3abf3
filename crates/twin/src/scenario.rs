//! The Scenario format (`apiVersion: kscale.io/v1alpha1`, `kind: Scenario`).
//!
//! A scenario names the manifests applied at t=0, the cloud and initial nodes, the request load
//! per workload and timed kubectl steps. Unknown fields are rejected (typos must not be silently
//! ignored), and every error names the file, line and field. See README.md for the reference.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kscale_model::{Quantity, parse_duration};
use serde::{Deserialize, Deserializer};

use crate::error::InputError;
use crate::yaml;

/// A duration field written Go-style (`90s`, `5m`, `1h30m`), in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct DurationField(pub u64);

impl<'de> Deserialize<'de> for DurationField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = ScalarText::deserialize(d)?.0;
        parse_duration(&s)
            .map(DurationField)
            .map_err(serde::de::Error::custom)
    }
}

/// A quantity field (`10m`, `1`, `500Mi`), accepting YAML numbers and strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct QuantityField(pub Quantity);

impl<'de> Deserialize<'de> for QuantityField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = ScalarText::deserialize(d)?.0;
        Quantity::parse(&s)
            .map(QuantityField)
            .map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for DurationField {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": ["string", "integer"],
            "pattern": "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$|^0$",
            "description": "A Go-style duration: 90s, 5m, 1h30m, 250ms."
        })
    }
}

impl schemars::JsonSchema for QuantityField {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Quantity".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": ["string", "number"],
            "description": "A Kubernetes quantity: 10m, 1, 500Mi, 2Gi."
        })
    }
}

/// The JSON Schema of the Scenario format (`kscale schema`), pretty-printed.
pub fn json_schema() -> String {
    let mut schema = schemars::schema_for!(ScenarioDoc);
    schema.insert(
        "title".into(),
        "kscale Scenario (kscale.io/v1alpha1)".into(),
    );
    serde_json::to_string_pretty(&schema).expect("a schema serializes")
}

/// Reads an explicit `null` (e.g. `steps:` with nothing under it) as the default value.
fn null_as_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A scalar read as text whether YAML typed it as a number or a string.
struct ScalarText(String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ScalarText;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// The whole scenario document.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScenarioDoc {
    /// Must be `kscale.io/v1alpha1`.
    pub api_version: String,
    /// Must be `Scenario`.
    pub kind: String,
    /// `name` of the scenario.
    pub metadata: ScenarioMeta,
    /// The scenario itself.
    pub spec: ScenarioSpec,
}

/// Scenario metadata.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioMeta {
    /// Scenario name (report title).
    pub name: String,
}

/// `spec` of a scenario.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScenarioSpec {
    /// Simulated duration.
    pub duration: DurationField,
    /// Seed of every random stream (default 1).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Cloud provider and catalog.
    #[serde(default)]
    pub cloud: CloudSpec,
    /// Nodes present at t=0.
    #[serde(default, deserialize_with = "null_as_default")]
    pub nodes: Vec<NodeSpec>,
    /// Manifest files and folders, relative to the scenario file, applied at t=0.
    #[serde(default, deserialize_with = "null_as_default")]
    pub manifests: Vec<String>,
    /// Request load offered to workloads.
    #[serde(default, deserialize_with = "null_as_default")]
    pub load: Vec<LoadSpec>,
    /// Timed kubectl steps.
    #[serde(default, deserialize_with = "null_as_default")]
    pub steps: Vec<StepSpec>,
    /// Time-series sampling interval (default 10s).
    #[serde(default)]
    pub sample_interval: Option<DurationField>,
    /// Wall-clock time that t=0 maps to in rendered objects (default 2026-01-01T00:00:00Z).
    #[serde(default)]
    pub start_time: Option<String>,
    /// The custom and external metrics pipeline (optional).
    #[serde(default)]
    pub metrics: Option<MetricsSpec>,
    /// Elastic Pods: the largest container `replica` and the kubelet's replication timeout.
    #[serde(default)]
    pub elastic: ElasticSpec,
    /// Overrides of the latency model (`crates/twin/src/latency.rs`); unset fields keep their
    /// documented defaults.
    #[serde(default)]
    pub latencies: LatencySpec,
    /// Service-level objectives the run is checked against (see [`crate::slo`]).
    #[serde(default, deserialize_with = "null_as_default")]
    pub slos: Vec<crate::slo::ObjectiveSpec>,
}

/// `spec.elastic`: settings of Elastic Pods (container replicas inside a running pod).
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ElasticSpec {
    /// Largest `replica` a container may ask for (default 10); the API server rejects more.
    #[serde(default)]
    pub max_replicas: Option<u32>,
    /// Time after which the kubelet gives up an InProgress replication and sets the phase to
    /// `Timeout` (default 30s, an assumption: the seed gives no value).
    #[serde(default)]
    pub timeout: Option<DurationField>,
}

/// `spec.latencies`: overrides of the twin's latency model, each a Go-style duration.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LatencySpec {
    /// Watch + work-queue delay before a controller reacts (default 50ms).
    #[serde(default)]
    pub controller_reaction: Option<DurationField>,
    /// Scheduler pick-up delay (default 10ms).
    #[serde(default)]
    pub schedule_delay: Option<DurationField>,
    /// Bind call + kubelet watch (default 100ms).
    #[serde(default)]
    pub bind_to_kubelet: Option<DurationField>,
    /// Pod sandbox + CNI ADD (default 1s).
    #[serde(default)]
    pub sandbox: Option<DurationField>,
    /// Part of `sandbox` under the runtime's per-node lock (default 0s: parallel).
    #[serde(default)]
    pub sandbox_lock: Option<DurationField>,
    /// Image pull when not cached on the node (default 5s).
    #[serde(default)]
    pub image_pull: Option<DurationField>,
    /// Decryption of a confidential pod's image (default 3s).
    #[serde(default)]
    pub image_decrypt: Option<DurationField>,
    /// Container create + start (default 300ms).
    #[serde(default)]
    pub container_start: Option<DurationField>,
    /// PLEG relist period (default 1s).
    #[serde(default)]
    pub pleg_relist: Option<DurationField>,
    /// Container exit after SIGTERM (default 500ms).
    #[serde(default)]
    pub shutdown: Option<DurationField>,
    /// Elastic Pods: extra time per additional container started in one sync (default 11ms).
    #[serde(default)]
    pub elastic_container_stagger: Option<DurationField>,
}

/// `spec.metrics`: sampling of the custom and external metrics the HPA reads (see
/// `sim/custom_metrics.rs` for the metric names and the defaults' sources).
#[derive(Debug, Clone, Copy, Deserialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MetricsSpec {
    /// Sampling interval of per-pod and per-workload custom metrics (default 30s).
    #[serde(default)]
    pub custom_interval: Option<DurationField>,
    /// Polling interval of external metrics (default 30s).
    #[serde(default)]
    pub external_interval: Option<DurationField>,
}

/// Default sampling interval of custom (Pods, Object) metrics: 30 s (assumption, see
/// `sim::custom_metrics`).
pub const DEFAULT_CUSTOM_INTERVAL_MS: u64 = 30_000;
/// Default polling interval of external metrics: 30 s (KEDA's default `pollingInterval`).
pub const DEFAULT_EXTERNAL_INTERVAL_MS: u64 = 30_000;

/// The metrics pipeline's settings, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Custom metrics sampling interval (ms).
    pub custom_interval_ms: u64,
    /// External metrics polling interval (ms).
    pub external_interval_ms: u64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            custom_interval_ms: DEFAULT_CUSTOM_INTERVAL_MS,
            external_interval_ms: DEFAULT_EXTERNAL_INTERVAL_MS,
        }
    }
}

/// `spec.cloud`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CloudSpec {
    /// Provider of the built-in catalog; only `aws` today.
    #[serde(default = "default_provider")]
    pub provider: String,
    /// Region label put on nodes (default `us-east-1`).
    #[serde(default)]
    pub region: Option<String>,
    /// Zones nodes are spread over (default `<region>a`, `<region>b`, `<region>c`).
    #[serde(default)]
    pub zones: Vec<String>,
    /// Time from a launch request to a Ready node: uniform between `min` and `max`
    /// (default 60s–120s, seed 004's "approximately 1–2 minutes").
    #[serde(default)]
    pub provisioning_latency: Option<LatencyRange>,
    /// Node groups (for the Cluster Autoscaler's `--nodes` and node-group discovery).
    #[serde(default, deserialize_with = "null_as_default")]
    pub node_groups: Vec<NodeGroupSpec>,
    /// Spot interruptions: a rate per spot node and hour; each comes with a 2-minute notice
    /// (the node is cordoned and drained) before the node is terminated.
    #[serde(default)]
    pub spot_interruptions: Option<SpotInterruptionSpec>,
    /// Insufficient-capacity failures: launches that match fail with this probability.
    #[serde(default, deserialize_with = "null_as_default")]
    pub insufficient_capacity: Vec<InsufficientCapacitySpec>,
}

/// A uniform latency range.
#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencyRange {
    /// Lower bound.
    pub min: DurationField,
    /// Upper bound.
    pub max: DurationField,
}

/// A node group of the simulated cloud (an Auto Scaling group / managed node group).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeGroupSpec {
    /// Group name (the Cluster Autoscaler's node group id).
    pub name: String,
    /// Instance type of the group's nodes.
    pub instance_type: String,
    /// `on-demand` (default) or `spot`.
    #[serde(default)]
    pub capacity_type: Option<String>,
    /// Minimum size.
    #[serde(default)]
    pub min: u32,
    /// Maximum size.
    pub max: u32,
    /// Nodes at t=0 (default `min`).
    #[serde(default)]
    pub desired: Option<u32>,
    /// Zones (default: the cloud's zones).
    #[serde(default)]
    pub zones: Vec<String>,
    /// Extra node labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Node taints.
    #[serde(default, deserialize_with = "null_as_default")]
    pub taints: Vec<TaintSpec>,
}

/// Spot interruption model.
#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SpotInterruptionSpec {
    /// Expected interruptions per spot node per hour (exponential inter-arrival).
    pub rate_per_hour: f64,
}

/// Launches that fail for lack of capacity (EC2 `InsufficientInstanceCapacity`).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InsufficientCapacitySpec {
    /// Node group it applies to (any if unset).
    #[serde(default)]
    pub group: Option<String>,
    /// Instance type it applies to (any if unset).
    #[serde(default)]
    pub instance_type: Option<String>,
    /// Capacity type it applies to (any if unset).
    #[serde(default)]
    pub capacity_type: Option<String>,
    /// Probability that a matching launch fails (default 1).
    #[serde(default)]
    pub probability: Option<f64>,
    /// Start of the window (default 0s).
    #[serde(default)]
    pub from: Option<DurationField>,
    /// End of the window (default: end of run).
    #[serde(default)]
    pub to: Option<DurationField>,
}

impl Default for CloudSpec {
    fn default() -> Self {
        CloudSpec {
            provider: default_provider(),
            region: None,
            zones: vec![],
            provisioning_latency: None,
            node_groups: vec![],
            spot_interruptions: None,
            insufficient_capacity: vec![],
        }
    }
}

fn default_provider() -> String {
    "aws".into()
}

/// One entry of `spec.nodes`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeSpec {
    /// Node name; with `count > 1`, nodes are named `NAME-1` … `NAME-N`.
    pub name: String,
    /// Instance type from the catalog, e.g. `m5.large`.
    pub instance_type: String,
    /// How many such nodes (default 1).
    #[serde(default = "one")]
    pub count: u32,
    /// Extra labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Taints.
    #[serde(default)]
    pub taints: Vec<TaintSpec>,
    /// `on-demand` (default) or `spot`.
    #[serde(default)]
    pub capacity_type: Option<String>,
    /// Zone (default: round-robin over the cloud's zones).
    #[serde(default)]
    pub zone: Option<String>,
    /// Allocatable `cpu`, `memory` and `pods` (quantities) of a node whose instance type is not
    /// in the catalog (as `kscale snapshot` writes nodes of a real cluster); with it,
    /// `instanceType` may be any name. Other resource names are ignored; `pods` defaults to
    /// 110 (the kubelet's `maxPods` default).
    #[serde(default)]
    pub allocatable: Option<BTreeMap<String, String>>,
    /// Capacity with `allocatable` (default: equal to `allocatable`).
    #[serde(default)]
    pub capacity: Option<BTreeMap<String, String>>,
    /// Price of the node, USD per hour (default: the catalog's price of `instanceType`, or 0
    /// for a type not in the catalog: unknown, so it adds nothing to the run's cost).
    #[serde(default)]
    pub hourly_price: Option<f64>,
}

impl NodeSpec {
    /// The node's shape: the catalog's instance type, or `allocatable` / `capacity` when set
    /// (explicit resources win). An error names the field that is wrong.
    pub fn shape(&self, capacity_type: &str) -> Result<crate::cloud::NodeShape, (String, String)> {
        let catalog = crate::cloud::instance_type(&self.instance_type);
        let Some(allocatable) = &self.allocatable else {
            let it = catalog.ok_or_else(|| {
                (
                    "instanceType".to_string(),
                    format!(
                        "unknown instance type {:?} (catalog: {}); a node of another type needs `allocatable` (cpu, memory, pods)",
                        self.instance_type,
                        crate::cloud::catalog_names()
                    ),
                )
            })?;
            return Ok(crate::cloud::NodeShape::of(it, capacity_type));
        };
        let resources = |field: &str, m: &BTreeMap<String, String>| {
            let q = |k: &str| -> Result<Option<kscale_model::Quantity>, (String, String)> {
                m.get(k)
                    .map(|v| {
                        kscale_model::Quantity::parse(v)
                            .map_err(|e| (format!("{field}.{k}"), format!("{field}.{k}: {e}")))
                    })
                    .transpose()
            };
            let missing = |k: &str| (field.to_string(), format!("{field} needs {k}"));
            Ok::<_, (String, String)>(kscale_model::Resources {
                cpu_milli: q("cpu")?.ok_or_else(|| missing("cpu"))?.milli(),
                memory: q("memory")?.ok_or_else(|| missing("memory"))?.value(),
                pods: q("pods")?.map(|p| p.value()).unwrap_or(110),
            })
        };
        let allocatable = resources("allocatable", allocatable)?;
        let capacity = match &self.capacity {
            Some(c) => resources("capacity", c)?,
            None => allocatable,
        };
        let hourly_price = self
            .hourly_price
            .unwrap_or_else(|| catalog.map_or(0.0, |it| it.hourly_price(capacity_type)));
        if !hourly_price.is_finite() || hourly_price < 0.0 {
            return Err((
                "hourlyPrice".into(),
                format!("hourlyPrice must be a non-negative number, not {hourly_price}"),
            ));
        }
        Ok(crate::cloud::NodeShape {
            instance_type: self.instance_type.clone(),
            capacity,
            allocatable,
            hourly_price,
        })
    }
}

fn one() -> u32 {
    1
}

/// A taint as written in a scenario.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaintSpec {
    /// Key.
    pub key: String,
    /// Value (optional).
    #[serde(default)]
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
}

/// One entry of `spec.load`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoadSpec {
    /// `kind/name` or `namespace/kind/name` of the workload (e.g. `deployment/web`).
    pub target: String,
    /// Offered requests per second over time.
    pub requests_per_second: RateSpec,
    /// CPU core-seconds per request (e.g. `10m`).
    pub cpu_per_request: QuantityField,
    /// CPU a pod uses with no traffic (default 0).
    #[serde(default)]
    pub idle_cpu: Option<QuantityField>,
    /// Time from container start until the application is ready (default 0s; a JVM: 15–30s).
    #[serde(default)]
    pub startup_time: Option<DurationField>,
    /// Requests per second one pod accepts; the excess is rejected at once (HTTP 429) instead
    /// of queueing. Unset: no rate limit.
    #[serde(default)]
    pub rate_limit: Option<f64>,
    /// Requests that may wait per ready pod before new ones are dropped (default 1000).
    #[serde(default)]
    pub queue_limit: Option<f64>,
    /// Client timeout: a request that would wait longer is abandoned (timed out). Unset: clients
    /// wait for as long as the queue takes.
    #[serde(default)]
    pub timeout: Option<DurationField>,
    /// Client retries of failed (rejected, dropped, timed-out) attempts. Unset: no retries.
    #[serde(default)]
    pub retries: Option<RetrySpec>,
    /// Memory model of one pod: `base + perRequest × requests in flight`.
    #[serde(default)]
    pub memory: Option<MemorySpec>,
    /// Service-level objective, for SLO violation time in the report.
    #[serde(default)]
    pub slo: Option<SloSpec>,
    /// Extra labels of this entry's custom and external metric series (matched by an HPA
    /// metric's `selector`).
    #[serde(default)]
    pub metric_labels: BTreeMap<String, String>,
}

/// A client's retry policy: a failed attempt is tried again after `backoff_ms`, at most
/// `attempts` more times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries per request after its first try (0..=[`MAX_RETRY_ATTEMPTS`]).
    pub attempts: u32,
    /// Fixed back-off between a failure and the retry (ms).
    pub backoff_ms: u64,
}

/// Most retries a client may make per request (`retries.attempts`).
pub const MAX_RETRY_ATTEMPTS: u32 = 10;

/// A client's retries (`{attempts: 3, backoff: 1s}`).
#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetrySpec {
    /// Retries per request after its first try, 0..=10 (default 0).
    #[serde(default)]
    pub attempts: Option<i64>,
    /// Fixed back-off between a failed attempt and its retry (default 0s: the next tick).
    #[serde(default)]
    pub backoff: Option<DurationField>,
}

/// Memory use of one pod.
#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MemorySpec {
    /// Memory with no request in flight.
    pub base: QuantityField,
    /// Extra memory per request in flight.
    #[serde(default)]
    pub per_request: Option<QuantityField>,
}

/// A service-level objective.
#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SloSpec {
    /// Maximum 99th-percentile latency.
    #[serde(default)]
    pub latency_p99: Option<DurationField>,
    /// Maximum share of offered requests dropped or rejected (0..1); with a `timeout` or
    /// `retries`, of user requests whose last try failed.
    #[serde(default)]
    pub max_drop_ratio: Option<f64>,
}

/// A rate over time: exactly one of `constant`, `trace` or `steps`.
#[derive(Debug, Clone, Deserialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RateSpec {
    /// A constant rate.
    #[serde(default)]
    pub constant: Option<f64>,
    /// A CSV trace file (relative to the scenario): header line, offset seconds, value.
    #[serde(default)]
    pub trace: Option<String>,
    /// Multiplier applied to trace values (default 1).
    #[serde(default)]
    pub scale: Option<f64>,
    /// Name of the trace's value column (default: the second column).
    #[serde(default)]
    pub column: Option<String>,
    /// Where the run starts in the trace: an RFC 3339 time of a timestamped trace
    /// (`1998-06-25T12:00:00Z`) or a duration from its first row (`36h`); the value in force
    /// then starts the run (default: the first row).
    #[serde(default)]
    pub from: Option<String>,
    /// A wide trace (one row per series, a column per minute, as the Azure Functions 2019
    /// dataset): the rows whose cells equal these (`{HashFunction: "0c0c…"}`), summed; columns
    /// named by integers are minutes.
    #[serde(default)]
    pub row: Option<std::collections::BTreeMap<String, String>>,
    /// Piecewise-constant rate: value from `at` until the next step.
    #[serde(default)]
    pub steps: Option<Vec<RatePoint>>,
    /// Linear ramp: `{from, to, start, end}` (rate `from` before `start`, `to` after `end`).
    #[serde(default)]
    pub ramp: Option<RampSpec>,
    /// A spike: `{base, factor, at, duration}` — `base × factor` during the window, else `base`.
    #[serde(default)]
    pub spike: Option<SpikeSpec>,
    /// Diurnal sine: `{mean, amplitude, period, phase}` (period default 24h), never below 0.
    #[serde(default)]
    pub diurnal: Option<DiurnalSpec>,
    /// Poisson noise on top of the rate: each second's arrivals are drawn from a Poisson
    /// distribution with the rate as mean, from the scenario seed (default false).
    #[serde(default)]
    pub poisson: bool,
}

/// A linear ramp.
#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RampSpec {
    /// Rate before `start`.
    pub from: f64,
    /// Rate after `end`.
    pub to: f64,
    /// Ramp start (default 0s).
    #[serde(default)]
    pub start: Option<DurationField>,
    /// Ramp end.
    pub end: DurationField,
}

/// A spike: an x-fold rate for a while.
#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpikeSpec {
    /// Rate outside the spike.
    pub base: f64,
    /// Multiplier during the spike (e.g. 3 for +200%).
    pub factor: f64,
    /// Spike start.
    pub at: DurationField,
    /// Spike length.
    pub duration: DurationField,
}

/// A diurnal sine.
#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiurnalSpec {
    /// Mean rate.
    pub mean: f64,
    /// Amplitude.
    pub amplitude: f64,
    /// Period (default 24h).
    #[serde(default)]
    pub period: Option<DurationField>,
    /// Time of the first peak's rising zero crossing (default 0s).
    #[serde(default)]
    pub phase: Option<DurationField>,
}

/// One point of a `steps` rate.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RatePoint {
    /// When the value starts.
    pub at: DurationField,
    /// Requests per second from then on.
    pub value: f64,
}

/// One timed kubectl step.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// When to run it.
    pub at: DurationField,
    /// The kubectl command line.
    pub run: String,
}

/// A resolved rate function: requests per second at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum Rate {
    /// Constant.
    Constant(f64),
    /// Piecewise constant: sorted `(start ms, value)`, each value times `scale`; before the
    /// first point the rate is 0. Load entries reading the same trace file (and column) share
    /// its points, each with its own `scale`.
    Steps {
        /// Sorted `(start ms, value)`.
        points: Arc<[(u64, f64)]>,
        /// Multiplies every value.
        scale: f64,
    },
    /// Linear from `from` at `start` ms to `to` at `end` ms.
    Ramp {
        /// Rate before the ramp.
        from: f64,
        /// Rate after the ramp.
        to: f64,
        /// Start (ms).
        start: u64,
        /// End (ms).
        end: u64,
    },
    /// `base`, times `factor` in `[at, at + duration)` (ms).
    Spike {
        /// Base rate.
        base: f64,
        /// Multiplier.
        factor: f64,
        /// Start (ms).
        at: u64,
        /// Length (ms).
        duration: u64,
    },
    /// `max(0, mean + amplitude · sin(2π (t − phase) / period))`.
    Diurnal {
        /// Mean.
        mean: f64,
        /// Amplitude.
        amplitude: f64,
        /// Period (ms).
        period: u64,
        /// Phase (ms).
        phase: u64,
    },
}

/// Where a caller whose times mostly move forward is in a trace ([`Rate::at_from`]): the trace
/// point of its last lookup and the interval of times that point's rate covers, so a lookup
/// inside that interval (59 of 60 load ticks on a per-minute trace) reads no trace point.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RateCursor {
    /// Number of points at or before the last lookup's time.
    idx: usize,
    /// The rate `value` holds for times in `[from, until)` (empty until the first lookup).
    from: u64,
    until: u64,
    value: f64,
}

impl RateCursor {
    /// A cursor at trace point `idx` (any index: lookups still give [`Rate::at`]'s value).
    pub fn at_index(idx: usize) -> Self {
        RateCursor {
            idx,
            ..Default::default()
        }
    }

    /// Number of points at or before the last lookup's time.
    pub fn index(&self) -> usize {
        self.idx
    }
}

impl Rate {
    /// Requests per second at `t_ms`, like [`Rate::at`], for a caller whose times mostly move
    /// forward: `cursor` remembers the trace point of the last call, so a trace is walked from
    /// there instead of searched, and not read at all while `t_ms` stays within that point's
    /// interval (any `cursor` gives the same value as [`Rate::at`]).
    pub fn at_from(&self, t_ms: u64, cursor: &mut RateCursor) -> f64 {
        let Rate::Steps { points, scale } = self else {
            return self.at(t_ms);
        };
        if cursor.from <= t_ms && t_ms < cursor.until {
            return cursor.value;
        }
        // `idx` = number of points at or before `t_ms` (the partition point of `at`).
        let mut idx = cursor.idx.min(points.len());
        if idx > 0 && points[idx - 1].0 > t_ms {
            idx = points.partition_point(|(t, _)| *t <= t_ms);
        } else {
            while idx < points.len() && points[idx].0 <= t_ms {
                idx += 1;
            }
        }
        let value = if idx == 0 {
            0.0
        } else {
            points[idx - 1].1 * scale
        };
        *cursor = RateCursor {
            idx,
            from: if idx == 0 { 0 } else { points[idx - 1].0 },
            until: points.get(idx).map_or(u64::MAX, |p| p.0),
            value,
        };
        value
    }

    /// Requests per second at `t_ms`.
    pub fn at(&self, t_ms: u64) -> f64 {
        match self {
            Rate::Constant(v) => *v,
            Rate::Steps { points, scale } => {
                let idx = points.partition_point(|(t, _)| *t <= t_ms);
                if idx == 0 {
                    0.0
                } else {
                    points[idx - 1].1 * scale
                }
            }
            Rate::Ramp {
                from,
                to,
                start,
                end,
            } => {
                if t_ms <= *start {
                    *from
                } else if t_ms >= *end {
                    *to
                } else {
                    from + (to - from) * (t_ms - start) as f64 / (end - start) as f64
                }
            }
            Rate::Spike {
                base,
                factor,
                at,
                duration,
            } => {
                if t_ms >= *at && t_ms < at + duration {
                    base * factor
                } else {
                    *base
                }
            }
            Rate::Diurnal {
                mean,
                amplitude,
                period,
                phase,
            } => {
                let x = (t_ms as f64 - *phase as f64) / (*period).max(1) as f64;
                (mean + amplitude * (std::f64::consts::TAU * x).sin()).max(0.0)
            }
        }
    }
}

/// A load entry resolved against its files.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    /// Namespace of the target (default `default`).
    pub namespace: String,
    /// Kind of the target, lower-case (`deployment`, `statefulset`, `replicaset`).
    pub kind: String,
    /// Name of the target.
    pub name: String,
    /// Offered rate.
    pub rate: Rate,
    /// Poisson noise on arrivals.
    pub poisson: bool,
    /// CPU milli-core-seconds per request.
    pub cpu_milli_per_request: f64,
    /// Idle CPU per pod (milli-cores).
    pub idle_cpu_milli: f64,
    /// Start-up time after container start (ms).
    pub startup_ms: u64,
    /// Per-pod rate limit (req/s).
    pub rate_limit: Option<f64>,
    /// Waiting requests allowed per ready pod.
    pub queue_limit: f64,
    /// Client timeout (ms).
    pub timeout_ms: Option<u64>,
    /// Client retries.
    pub retries: Option<RetryPolicy>,
    /// Memory base and per in-flight request (bytes).
    pub memory: Option<(f64, f64)>,
    /// SLO: p99 latency (ms) and max drop ratio.
    pub slo: Option<(Option<u64>, Option<f64>)>,
    /// Extra labels of the entry's metric series.
    pub metric_labels: BTreeMap<String, String>,
}

impl Load {
    /// Whether the entry models its clients (a `timeout` or `retries`): its outputs then have
    /// the timed-out, attempt and retry counts.
    pub fn has_clients(&self) -> bool {
        self.timeout_ms.is_some() || self.retries.is_some()
    }
}

/// A validated scenario with its paths resolved.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The scenario file.
    pub path: PathBuf,
    /// Directory relative paths are resolved against.
    pub base_dir: PathBuf,
    /// The parsed document.
    pub doc: ScenarioDoc,
    /// Manifest paths, resolved.
    pub manifest_paths: Vec<PathBuf>,
    /// Loads, resolved.
    pub loads: Vec<Load>,
    /// The custom/external metrics pipeline.
    pub metrics: MetricsConfig,
    /// Steps sorted by time (stable: equal times keep file order).
    pub steps: Vec<StepSpec>,
    /// t=0 as Unix milliseconds.
    pub start_unix_ms: i64,
    /// `spec.replicas` forced onto Deployments and CapacityBuffers `(kind, namespace, name)` at
    /// t=0 (used by sweeps such as `kscale headroom`); empty for a plain run.
    pub replica_overrides: BTreeMap<(String, String, String), i64>,
    /// Fields forced onto manifest objects (their canonical JSON) at t=0, before they are
    /// created (used by `kscale tune`); empty for a plain run.
    pub object_overrides: Vec<crate::overrides::ObjectOverride>,
    /// The service-level objectives, checked.
    pub slos: Vec<crate::slo::Objective>,
}

/// The most nodes a run may start with (every `spec.nodes` count plus every node group's
/// initial size): 100,000. *Assumption*: about ten times the largest day measured on the
/// project's 2-core, 24 GiB machines (docs/performance.md); more is refused up front instead
/// of aborting on allocation or running for hours.
pub const MAX_NODES: u64 = 100_000;

/// The most time-series samples a run may take (`duration / sampleInterval`): 1,000,000.
/// Every sample keeps a row of each series in memory until the outputs are written
/// (*assumption*: a few hundred MiB at the benchmark's series count).
pub const MAX_SAMPLES: u64 = 1_000_000;

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, InputError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError::file(path, format!("cannot read scenario: {e}")))?;
        Scenario::load_text(path, &text)
    }

    /// Loads a scenario with fields of its document replaced first (`kscale run --set
    /// spec.duration=30m`): each `(path, value)` names a field by dotted keys and `[i]`
    /// indices (`spec.load[0].requestsPerSecond.constant`); the value is read as YAML (`3` a
    /// number, `30m` a string, `[a, b]` a list), and the result is checked as if it were
    /// written in the file (errors name the field; their line numbers are not the file's).
    pub fn load_with_sets(path: &Path, sets: &[(String, String)]) -> Result<Scenario, InputError> {
        if sets.is_empty() {
            return Scenario::load(path);
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError::file(path, format!("cannot read scenario: {e}")))?;
        let mut doc: serde_json::Value = serde_saphyr::from_str(&text)
            .map_err(|e| InputError::file(path, format!("cannot parse scenario: {e}")))?;
        for (field, value) in sets {
            let at = |m: String| InputError::file(path, format!("--set {field}: {m}"));
            let segments = crate::overrides::parse_path(field).map_err(at)?;
            let v: serde_json::Value = if value.trim().is_empty() {
                serde_json::Value::String(String::new())
            } else {
                serde_saphyr::from_str(value)
                    .map_err(|e| at(format!("value {value:?} is not YAML: {e}")))?
            };
            crate::overrides::set_path(&mut doc, &segments, v).map_err(at)?;
        }
        let text = serde_json::to_string_pretty(&doc).expect("a JSON value serializes");
        // Lines of the rewritten document are not the file's: errors keep the field only.
        Scenario::load_text(path, &text).map_err(|mut e| {
            if e.line.is_some() {
                e.line = None;
                e.column = None;
                e.message = format!("{} (with --set)", e.message);
            }
            e
        })
    }

    /// Loads a scenario from its text (`path` locates relative files and names errors).
    fn load_text(path: &Path, text: &str) -> Result<Scenario, InputError> {
        let docs = yaml::split_documents(text);
        let doc = match docs.as_slice() {
            [d] => d,
            [] => return Err(InputError::file(path, "empty scenario file")),
            [_, second, ..] => {
                return Err(InputError::at(
                    path,
                    second.start_line,
                    None,
                    "a scenario file holds exactly one YAML document",
                ));
            }
        };
        let parsed: ScenarioDoc = yaml::parse(path, doc)?;
        let locate = |key: &str| doc.find_key_line(key, 0);
        let err_at = |key: &str, field: &str, msg: String| {
            let mut e = InputError::file(path, msg).with_field(field);
            e.line = locate(key);
            e
        };
        if parsed.api_version != "kscale.io/v1alpha1" {
            return Err(err_at(
                "apiVersion",
                "apiVersion",
                format!(
                    "unsupported apiVersion {:?}, expected \"kscale.io/v1alpha1\"",
                    parsed.api_version
                ),
            ));
        }
        if parsed.kind != "Scenario" {
            return Err(err_at(
                "kind",
                "kind",
                format!("unsupported kind {:?}, expected \"Scenario\"", parsed.kind),
            ));
        }
        // The name becomes the default output folder (kscale-out/<name>): a DNS subdomain,
        // as Kubernetes names are, so it can never leave that folder (`..`, `/`).
        if !crate::validate::is_dns_subdomain(&parsed.metadata.name) {
            return Err(err_at(
                "name",
                "metadata.name",
                format!(
                    "Invalid value: {:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
                    parsed.metadata.name
                ),
            ));
        }
        if parsed.spec.duration.0 == 0 {
            return Err(err_at(
                "duration",
                "spec.duration",
                "duration must be greater than zero".into(),
            ));
        }
        if parsed.spec.cloud.provider != "aws" {
            return Err(err_at(
                "provider",
                "spec.cloud.provider",
                format!(
                    "unknown cloud provider {:?} (supported: aws)",
                    parsed.spec.cloud.provider
                ),
            ));
        }
        if let Some(si) = parsed.spec.sample_interval
            && si.0 < 1000
        {
            return Err(err_at(
                "sampleInterval",
                "spec.sampleInterval",
                "sampleInterval must be at least 1s".into(),
            ));
        }
        let interval = parsed.spec.sample_interval.map_or(10_000, |d| d.0);
        let samples = parsed.spec.duration.0 / interval.max(1);
        if samples > MAX_SAMPLES {
            return Err(err_at(
                "duration",
                "spec.duration",
                format!(
                    "a run of {} sampled every {} takes {samples} samples; the limit is {MAX_SAMPLES} (set a longer spec.sampleInterval or a shorter duration)",
                    kscale_model::duration::format_duration(parsed.spec.duration.0),
                    kscale_model::duration::format_duration(interval)
                ),
            ));
        }
        let mut nodes: u64 = 0;
        for (i, n) in parsed.spec.nodes.iter().enumerate() {
            nodes += u64::from(n.count);
            if nodes > MAX_NODES {
                return Err(err_at(
                    "count",
                    &format!("spec.nodes[{i}].count"),
                    format!(
                        "{} nodes cannot be simulated on this machine: the limit is {MAX_NODES} nodes at the start of a run",
                        n.count
                    ),
                ));
            }
        }
        for (i, g) in parsed.spec.cloud.node_groups.iter().enumerate() {
            nodes += u64::from(g.desired.unwrap_or(g.min));
            if nodes > MAX_NODES {
                let field = if g.desired.is_some() {
                    "desired"
                } else {
                    "min"
                };
                return Err(err_at(
                    field,
                    &format!("spec.cloud.nodeGroups[{i}].{field}"),
                    format!(
                        "{} nodes cannot be simulated on this machine: the limit is {MAX_NODES} nodes at the start of a run (spec.nodes and node groups together)",
                        g.desired.unwrap_or(g.min)
                    ),
                ));
            }
        }
        // Node names as the API server checks them (`ValidateNodeName`: a DNS-1123 subdomain),
        // unique across entries (a second node of a name would be refused as AlreadyExists).
        let mut node_names: BTreeMap<String, usize> = BTreeMap::new();
        for (i, n) in parsed.spec.nodes.iter().enumerate() {
            let field = format!("spec.nodes[{i}].name");
            if n.name.is_empty() {
                return Err(err_at("name", &field, format!("{field}: Required value")));
            }
            for k in 0..n.count {
                let name = if n.count == 1 {
                    n.name.clone()
                } else {
                    format!("{}-{}", n.name, k + 1)
                };
                if let Some(m) = crate::validate::meta::dns1123_subdomain_errors(&name)
                    .into_iter()
                    .next()
                {
                    return Err(err_at(
                        "name",
                        &field,
                        format!("{field}: Invalid value: {name:?}: {m}"),
                    ));
                }
                if let Some(j) = node_names.insert(name.clone(), i) {
                    return Err(err_at(
                        "name",
                        &field,
                        format!(
                            "{field}: Duplicate value: {name:?}: spec.nodes[{j}] already names a node {name:?} (with count > 1, nodes are named NAME-1 … NAME-N)"
                        ),
                    ));
                }
            }
            let lp = crate::validate::field::Path::new(&format!("spec.nodes[{i}].labels"));
            if let Some(e) = crate::validate::meta::labels(&n.labels, &lp).first() {
                return Err(err_at("labels", &e.field, e.to_string()));
            }
        }
        for (i, n) in parsed.spec.nodes.iter().enumerate() {
            if let Err((field, msg)) = n.shape("on-demand") {
                let key = field.split('.').next().unwrap_or(&field).to_string();
                return Err(err_at(&key, &format!("spec.nodes[{i}].{field}"), msg));
            }
            if let Some(ct) = &n.capacity_type
                && ct != "on-demand"
                && ct != "spot"
            {
                return Err(err_at(
                    "capacityType",
                    &format!("spec.nodes[{i}].capacityType"),
                    format!("capacityType must be on-demand or spot, not {ct:?}"),
                ));
            }
            for (j, t) in n.taints.iter().enumerate() {
                if kscale_model::TaintEffect::parse(&t.effect).is_none() {
                    return Err(err_at(
                        "effect",
                        &format!("spec.nodes[{i}].taints[{j}].effect"),
                        format!(
                            "unknown taint effect {:?} (NoSchedule, PreferNoSchedule, NoExecute)",
                            t.effect
                        ),
                    ));
                }
            }
        }
        let cloud = &parsed.spec.cloud;
        if let Some(l) = cloud.provisioning_latency
            && l.min > l.max
        {
            return Err(err_at(
                "provisioningLatency",
                "spec.cloud.provisioningLatency",
                "min must not exceed max".into(),
            ));
        }
        let mut group_names = std::collections::BTreeSet::new();
        for (i, g) in cloud.node_groups.iter().enumerate() {
            let f = |x: &str| format!("spec.cloud.nodeGroups[{i}].{x}");
            if !group_names.insert(g.name.clone()) {
                return Err(err_at(
                    "name",
                    &f("name"),
                    format!("duplicate node group {:?}", g.name),
                ));
            }
            if crate::cloud::instance_type(&g.instance_type).is_none() {
                return Err(err_at(
                    "instanceType",
                    &f("instanceType"),
                    format!(
                        "unknown instance type {:?} (catalog: {})",
                        g.instance_type,
                        crate::cloud::catalog_names()
                    ),
                ));
            }
            if g.min > g.max || g.desired.is_some_and(|d| d < g.min || d > g.max) {
                return Err(err_at(
                    "max",
                    &f("max"),
                    format!("node group {:?}: need min <= desired <= max", g.name),
                ));
            }
            if let Some(ct) = &g.capacity_type
                && ct != "on-demand"
                && ct != "spot"
            {
                return Err(err_at(
                    "capacityType",
                    &f("capacityType"),
                    format!("capacityType must be on-demand or spot, not {ct:?}"),
                ));
            }
        }
        if let Some(s) = cloud.spot_interruptions
            && !(s.rate_per_hour.is_finite() && s.rate_per_hour >= 0.0)
        {
            return Err(err_at(
                "ratePerHour",
                "spec.cloud.spotInterruptions.ratePerHour",
                "must be a non-negative number".into(),
            ));
        }
        for (i, c) in cloud.insufficient_capacity.iter().enumerate() {
            if c.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
                return Err(err_at(
                    "probability",
                    &format!("spec.cloud.insufficientCapacity[{i}].probability"),
                    "probability must be between 0 and 1".into(),
                ));
            }
            if let Some(g) = &c.group
                && !group_names.contains(g)
            {
                return Err(err_at(
                    "group",
                    &format!("spec.cloud.insufficientCapacity[{i}].group"),
                    format!("no node group named {g:?}"),
                ));
            }
        }
        let start_unix_ms = match &parsed.spec.start_time {
            None => 1_767_225_600_000, // 2026-01-01T00:00:00Z
            Some(s) => s
                .parse::<jiff::Timestamp>()
                .map(|t| t.as_millisecond())
                .map_err(|e| {
                    err_at(
                        "startTime",
                        "spec.startTime",
                        format!("invalid RFC 3339 time {s:?}: {e}"),
                    )
                })?,
        };
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut manifest_paths = vec![];
        for (i, m) in parsed.spec.manifests.iter().enumerate() {
            let p = base_dir.join(m);
            if !p.exists() {
                let mut e = InputError::file(
                    path,
                    format!(
                        "manifest path {m:?} does not exist (resolved to {})",
                        p.display()
                    ),
                )
                .with_field(format!("spec.manifests[{i}]"));
                e.line = doc.find_key_line("manifests", 0);
                return Err(e);
            }
            manifest_paths.push(p);
        }
        let mut loads = vec![];
        let mut traces = TraceCache::new();
        for (i, l) in parsed.spec.load.iter().enumerate() {
            loads.push(resolve_load(path, doc, &base_dir, i, l, &mut traces)?);
        }
        let slos = crate::slo::resolve(path, doc, &parsed.spec.slos)?;
        for (i, o) in slos.iter().enumerate() {
            if o.from_ms >= parsed.spec.duration.0 {
                let mut e = InputError::file(
                    path,
                    format!(
                        "SLO {:?} is measured from {}, but the scenario ends at {}",
                        o.name,
                        kscale_model::duration::format_duration(o.from_ms),
                        kscale_model::duration::format_duration(parsed.spec.duration.0)
                    ),
                )
                .with_field(format!("spec.slos[{i}].from"));
                e.line = doc.item_lines("slos").get(i).copied();
                return Err(e);
            }
            // SLO violation time is that of the target's load entries' own `slo`.
            if let (crate::slo::Measure::SloViolationMs(_), Some((ns, kind, name))) =
                (&o.measure, &o.target)
                && !loads.iter().any(|l| {
                    (&l.namespace, &l.kind, &l.name) == (ns, kind, name) && l.slo.is_some()
                })
            {
                let mut e = InputError::file(
                    path,
                    format!(
                        "sloViolationTime of {:?} needs a load entry on {} with an slo (latencyP99 / maxDropRatio) to measure violations against",
                        o.name,
                        o.target_text.as_deref().unwrap_or("")
                    ),
                )
                .with_field(format!("spec.slos[{i}].sloViolationTime"));
                e.line = doc.item_lines("slos").get(i).copied();
                return Err(e);
            }
        }
        // Steps are parsed now, so an unknown verb or flag is an input error, not a run failure.
        let mut run_lines = 0;
        for (i, st) in parsed.spec.steps.iter().enumerate() {
            let line = doc.find_key_line("run", run_lines);
            run_lines = line.unwrap_or(run_lines);
            let locate = |mut e: InputError| {
                e.line = line;
                e.with_field(format!("spec.steps[{i}].run"))
            };
            if st.at.0 > parsed.spec.duration.0 {
                let mut e = InputError::file(
                    path,
                    format!(
                        "step at {} is after the end of the scenario (duration {}): it would never run",
                        kscale_model::duration::format_duration(st.at.0),
                        kscale_model::duration::format_duration(parsed.spec.duration.0)
                    ),
                )
                .with_field(format!("spec.steps[{i}].at"));
                e.line = line;
                return Err(e);
            }
            let inv = match kscale_kubectl::parse_command_line(&st.run) {
                Ok(inv) => inv,
                // Possibly a custom kind from the manifests: decided when the step runs.
                Err(e) if e.may_be_custom_kind() => continue,
                Err(e) => {
                    return Err(locate(InputError::file(
                        path,
                        e.to_string().trim_start_matches("error: ").to_string(),
                    )));
                }
            };
            for f in inv.files() {
                if !base_dir.join(f).exists() {
                    return Err(locate(InputError::file(
                        path,
                        format!(
                            "kubectl step file {f:?} does not exist (resolved to {})",
                            base_dir.join(f).display()
                        ),
                    )));
                }
            }
        }
        let mut steps = parsed.spec.steps.clone();
        steps.sort_by_key(|s| s.at);
        let mut metrics = MetricsConfig::default();
        if let Some(m) = parsed.spec.metrics {
            for (key, v, slot) in [
                (
                    "customInterval",
                    m.custom_interval,
                    &mut metrics.custom_interval_ms,
                ),
                (
                    "externalInterval",
                    m.external_interval,
                    &mut metrics.external_interval_ms,
                ),
            ] {
                if let Some(d) = v {
                    if d.0 < 1000 {
                        return Err(err_at(
                            key,
                            &format!("spec.metrics.{key}"),
                            "must be at least 1s".into(),
                        ));
                    }
                    *slot = d.0;
                }
            }
        }
        Ok(Scenario {
            path: path.to_path_buf(),
            base_dir,
            manifest_paths,
            metrics,
            loads,
            steps,
            start_unix_ms,
            doc: parsed,
            replica_overrides: BTreeMap::new(),
            object_overrides: vec![],
            slos,
        })
    }

    /// The run seed (default 1).
    pub fn seed(&self) -> u64 {
        self.doc.spec.seed.unwrap_or(1)
    }

    /// The scenario name.
    pub fn name(&self) -> &str {
        &self.doc.metadata.name
    }
}

/// Trace files read while resolving load entries, by (file, column), unscaled.
/// The part of a trace file a rate reads (`column`, `from`, `row`); the error names the field.
pub(crate) fn trace_select(
    r: &RateSpec,
) -> Result<crate::trace::TraceSelect, (&'static str, String)> {
    if r.row.is_some() && r.column.is_some() {
        return Err((
            "column",
            "column and row exclude each other: a wide trace's values are its minute columns"
                .into(),
        ));
    }
    if r.row.as_ref().is_some_and(|m| m.is_empty()) {
        return Err((
            "row",
            "row needs at least one column: value to match".into(),
        ));
    }
    let from = match &r.from {
        None => None,
        Some(f) => Some(crate::trace::TraceFrom::parse(f).map_err(|m| ("from", m))?),
    };
    Ok(crate::trace::TraceSelect {
        column: r.column.clone(),
        from,
        row: r
            .row
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
    })
}

type TraceCache =
    std::collections::HashMap<(PathBuf, crate::trace::TraceSelect), Arc<[(u64, f64)]>>;

fn resolve_load(
    path: &Path,
    doc: &yaml::Document,
    base: &Path,
    i: usize,
    l: &LoadSpec,
    traces: &mut TraceCache,
) -> Result<Load, InputError> {
    let field = |f: &str| format!("spec.load[{i}].{f}");
    let err = |key: &str, f: &str, msg: String| {
        let mut e = InputError::file(path, msg).with_field(field(f));
        e.line = doc.find_key_line(key, 0);
        e
    };
    let parts: Vec<&str> = l.target.split('/').collect();
    let (namespace, kind, name) = match parts.as_slice() {
        [k, n] => ("default".to_string(), k.to_string(), n.to_string()),
        [ns, k, n] => (ns.to_string(), k.to_string(), n.to_string()),
        _ => {
            return Err(err(
                "target",
                "target",
                format!(
                    "target {:?} must be kind/name or namespace/kind/name",
                    l.target
                ),
            ));
        }
    };
    let kind = match kind.to_ascii_lowercase().as_str() {
        "deployment" | "deployments" | "deploy" => "deployment",
        "statefulset" | "statefulsets" | "sts" => "statefulset",
        "replicaset" | "replicasets" | "rs" => "replicaset",
        other => {
            return Err(err(
                "target",
                "target",
                format!(
                    "target kind {other:?} is not a workload (deployment, statefulset, replicaset)"
                ),
            ));
        }
    }
    .to_string();
    if name.is_empty() {
        return Err(err("target", "target", "target name is empty".into()));
    }
    let cpu = l.cpu_per_request.0;
    if cpu.is_negative() {
        return Err(err(
            "cpuPerRequest",
            "cpuPerRequest",
            "cpuPerRequest must not be negative".into(),
        ));
    }
    let r = &l.requests_per_second;
    let n_set = [
        r.constant.is_some(),
        r.trace.is_some(),
        r.steps.is_some(),
        r.ramp.is_some(),
        r.spike.is_some(),
        r.diurnal.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if n_set != 1 {
        return Err(err(
            "requestsPerSecond",
            "requestsPerSecond",
            "exactly one of constant, trace, steps, ramp, spike or diurnal must be given".into(),
        ));
    }
    if r.trace.is_none() {
        for (set, f) in [
            (r.column.is_some(), "column"),
            (r.from.is_some(), "from"),
            (r.row.is_some(), "row"),
        ] {
            if set {
                return Err(err(
                    f,
                    &format!("requestsPerSecond.{f}"),
                    format!("{f} applies to a trace only"),
                ));
            }
        }
    }
    let scale = r.scale.unwrap_or(1.0);
    if !(scale.is_finite() && scale >= 0.0) {
        return Err(err(
            "scale",
            "requestsPerSecond.scale",
            "scale must be a non-negative number".into(),
        ));
    }
    let finite = |x: f64| x.is_finite() && x >= 0.0;
    let rate = if let Some(g) = r.ramp {
        let start = g.start.map(|d| d.0).unwrap_or(0);
        if !(finite(g.from) && finite(g.to)) || g.end.0 <= start {
            return Err(err(
                "ramp",
                "requestsPerSecond.ramp",
                "ramp needs non-negative from/to and end after start".into(),
            ));
        }
        Rate::Ramp {
            from: g.from * scale,
            to: g.to * scale,
            start,
            end: g.end.0,
        }
    } else if let Some(g) = r.spike {
        if !(finite(g.base) && finite(g.factor)) {
            return Err(err(
                "spike",
                "requestsPerSecond.spike",
                "spike needs a non-negative base and factor".into(),
            ));
        }
        Rate::Spike {
            base: g.base * scale,
            factor: g.factor,
            at: g.at.0,
            duration: g.duration.0,
        }
    } else if let Some(g) = r.diurnal {
        let period = g.period.map(|d| d.0).unwrap_or(86_400_000);
        if !(finite(g.mean) && g.amplitude.is_finite()) || period == 0 {
            return Err(err(
                "diurnal",
                "requestsPerSecond.diurnal",
                "diurnal needs a non-negative mean, a finite amplitude and a positive period"
                    .into(),
            ));
        }
        Rate::Diurnal {
            mean: g.mean * scale,
            amplitude: g.amplitude * scale,
            period,
            phase: g.phase.map(|d| d.0).unwrap_or(0),
        }
    } else if let Some(c) = r.constant {
        if !(c.is_finite() && c >= 0.0) {
            return Err(err(
                "constant",
                "requestsPerSecond.constant",
                "rate must be a non-negative number".into(),
            ));
        }
        Rate::Constant(c * scale)
    } else if let Some(points) = &r.steps {
        let mut v = vec![];
        for (j, p) in points.iter().enumerate() {
            if !(p.value.is_finite() && p.value >= 0.0) {
                return Err(err(
                    "value",
                    &format!("requestsPerSecond.steps[{j}].value"),
                    "rate must be a non-negative number".into(),
                ));
            }
            v.push((p.at.0, p.value * scale));
        }
        v.sort_by_key(|p| p.0);
        Rate::Steps {
            points: v.into(),
            scale: 1.0,
        }
    } else {
        let file = base.join(r.trace.as_ref().expect("checked above"));
        let select =
            trace_select(r).map_err(|(f, m)| err(f, &format!("requestsPerSecond.{f}"), m))?;
        // Read once per file and selection: `scale` applies at lookup (`v * scale`, the same
        // value as scaling while reading).
        let key = (file, select);
        let points = match traces.get(&key) {
            Some(points) => points.clone(),
            None => {
                let points: Arc<[(u64, f64)]> =
                    crate::trace::read_trace_select(&key.0, &key.1, 1.0)?.into();
                traces.insert(key, points.clone());
                points
            }
        };
        Rate::Steps { points, scale }
    };
    if let Some(r) = l.rate_limit
        && !(r.is_finite() && r > 0.0)
    {
        return Err(err(
            "rateLimit",
            "rateLimit",
            "rateLimit must be a positive number of requests per second".into(),
        ));
    }
    if let Some(q) = l.queue_limit
        && !(q.is_finite() && q >= 0.0)
    {
        return Err(err(
            "queueLimit",
            "queueLimit",
            "queueLimit must be a non-negative number".into(),
        ));
    }
    if l.timeout.is_some_and(|t| t.0 == 0) {
        return Err(err(
            "timeout",
            "timeout",
            "timeout must be longer than 0s".into(),
        ));
    }
    let retries = match l.retries {
        None => None,
        Some(r) => {
            let attempts = r.attempts.unwrap_or(0);
            let max = MAX_RETRY_ATTEMPTS;
            if !(0..=i64::from(max)).contains(&attempts) {
                return Err(err(
                    "attempts",
                    "retries.attempts",
                    format!("retries.attempts must be between 0 and {max}"),
                ));
            }
            Some(RetryPolicy {
                attempts: attempts as u32,
                backoff_ms: r.backoff.map_or(0, |d| d.0),
            })
        }
    };
    if let Some(d) = l.slo.and_then(|s| s.max_drop_ratio)
        && !(0.0..=1.0).contains(&d)
    {
        return Err(err(
            "maxDropRatio",
            "slo.maxDropRatio",
            "maxDropRatio must be between 0 and 1".into(),
        ));
    }
    Ok(Load {
        namespace,
        kind,
        name,
        rate,
        poisson: r.poisson,
        cpu_milli_per_request: cpu.nanos() as f64 / 1e6,
        idle_cpu_milli: l.idle_cpu.map(|q| q.0.nanos() as f64 / 1e6).unwrap_or(0.0),
        startup_ms: l.startup_time.map(|d| d.0).unwrap_or(0),
        rate_limit: l.rate_limit,
        queue_limit: l.queue_limit.unwrap_or(1000.0),
        timeout_ms: l.timeout.map(|d| d.0),
        retries,
        memory: l.memory.map(|m| {
            (
                m.base.0.as_f64(),
                m.per_request.map(|q| q.0.as_f64()).unwrap_or(0.0),
            )
        }),
        slo: l
            .slo
            .map(|s| (s.latency_p99.map(|d| d.0), s.max_drop_ratio)),
        metric_labels: l.metric_labels.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators() {
        let ramp = Rate::Ramp {
            from: 10.0,
            to: 30.0,
            start: 1000,
            end: 3000,
        };
        assert_eq!(
            [ramp.at(0), ramp.at(2000), ramp.at(5000)],
            [10.0, 20.0, 30.0]
        );
        let spike = Rate::Spike {
            base: 10.0,
            factor: 3.0,
            at: 60_000,
            duration: 30_000,
        };
        assert_eq!(
            [
                spike.at(59_999),
                spike.at(60_000),
                spike.at(89_999),
                spike.at(90_000)
            ],
            [10.0, 30.0, 30.0, 10.0]
        );
        let d = Rate::Diurnal {
            mean: 100.0,
            amplitude: 50.0,
            period: 86_400_000,
            phase: 0,
        };
        assert!(
            (d.at(21_600_000) - 150.0).abs() < 1e-9,
            "peak a quarter period after the phase"
        );
        assert!((d.at(64_800_000) - 50.0).abs() < 1e-9);
        let deep = Rate::Diurnal {
            mean: 10.0,
            amplitude: 50.0,
            period: 1000,
            phase: 0,
        };
        assert_eq!(deep.at(750), 0.0, "never negative");
        let steps = Rate::Steps {
            points: vec![(0, 5.0), (10_000, 7.0)].into(),
            scale: 1.0,
        };
        assert_eq!(
            [steps.at(0), steps.at(9_999), steps.at(10_000)],
            [5.0, 5.0, 7.0]
        );
        let scaled = Rate::Steps {
            points: vec![(0, 5.0), (10_000, 7.0)].into(),
            scale: 0.5,
        };
        assert_eq!(
            [
                scaled.at(0),
                scaled.at_from(10_000, &mut RateCursor::default())
            ],
            [2.5, 3.5]
        );
    }

    proptest::proptest! {
        #[test]
        fn cursor_lookups_match_search(
            mut times in proptest::collection::vec(0u64..20_000, 0..12),
            lookups in proptest::collection::vec(0u64..25_000, 1..40),
        ) {
            times.sort_unstable();
            let steps = Rate::Steps {
                points: times.iter().enumerate().map(|(i, t)| (*t, i as f64 + 0.5)).collect(),
                scale: 1.5,
            };
            let mut cursor = RateCursor::default();
            for t in lookups {
                proptest::prop_assert_eq!(steps.at_from(t, &mut cursor), steps.at(t), "t={}", t);
            }
        }
    }

    #[test]
    fn cursor_lookup_matches_search() {
        // Duplicate times, a gap and points before and after: at_from must equal at for times
        // going forward, backward and repeating, whatever the cursor.
        let steps = Rate::Steps {
            points: vec![
                (1_000, 1.0),
                (2_000, 2.0),
                (2_000, 3.0),
                (5_000, 4.0),
                (9_000, 5.0),
            ]
            .into(),
            scale: 1.0,
        };
        let times = [
            0, 999, 1_000, 1_500, 2_000, 2_000, 4_999, 5_000, 12_000, 3_000, 0, 9_000,
        ];
        for start in 0..8 {
            let mut cursor = RateCursor::at_index(start);
            for t in times {
                assert_eq!(
                    steps.at_from(t, &mut cursor),
                    steps.at(t),
                    "t={t} start={start}"
                );
            }
        }
        let mut cursor = RateCursor::default();
        assert_eq!(steps.at_from(3_000, &mut cursor), 3.0);
        assert_eq!(
            cursor.index(),
            3,
            "the cursor points after the last point at or before t"
        );
        // Within the point's interval [2 s, 5 s) the cached rate is the trace's.
        for t in [2_000, 4_999, 3_000] {
            assert_eq!(steps.at_from(t, &mut cursor), steps.at(t));
        }
        assert_eq!(steps.at_from(5_000, &mut cursor), 4.0);
        assert_eq!(steps.at_from(1_999, &mut cursor), 1.0);
        assert_eq!(steps.at_from(u64::MAX, &mut cursor), 5.0);
        let ramp = Rate::Ramp {
            from: 1.0,
            to: 3.0,
            start: 0,
            end: 10,
        };
        assert_eq!(ramp.at_from(5, &mut cursor), 2.0);
    }

    #[test]
    fn generator_fields_are_validated() {
        let dir = tempfile::tempdir().unwrap();
        let write = |rps: &str| {
            let p = dir.path().join("s.yaml");
            std::fs::write(&p, format!("apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {{name: g}}\nspec:\n  duration: 1m\n  load:\n    - target: deployment/web\n      requestsPerSecond: {rps}\n      cpuPerRequest: 10m\n")).unwrap();
            Scenario::load(&p)
        };
        let ok =
            write("{spike: {base: 10, factor: 3, at: 10s, duration: 20s}, poisson: true}").unwrap();
        assert!(ok.loads[0].poisson);
        assert_eq!(ok.loads[0].rate.at(15_000), 30.0);
        let e = write("{ramp: {from: 1, to: 2, start: 10s, end: 5s}}").unwrap_err();
        assert_eq!(
            e.field.as_deref(),
            Some("spec.load[0].requestsPerSecond.ramp")
        );
        let e = write("{constant: 1, diurnal: {mean: 1, amplitude: 1}}").unwrap_err();
        assert!(e.message.contains("exactly one of"), "{e}");
    }
}
