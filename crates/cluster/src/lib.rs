//! The cluster API: how kscale's components see Kubernetes, whichever backend holds it.
//!
//! A component reads typed objects (k8s-openapi types) by kind, namespace, name and label
//! selector, writes through typed calls (create, patch, status, delete, scale, bind, evict),
//! follows changes, records Events, and reads a clock —
//! the way a real controller sees the cluster through its informer cache and client. Two
//! backends implement [`Cluster`]: the twin (in memory, virtual clock, `kscale-twin`) and a
//! real control plane (`kscale-kube`, over the `kube` crate). A component written against this
//! trait runs unchanged on both.
//!
//! Methods are generic over the object type, so components take `C: Cluster` (static
//! dispatch); nothing here is async.

pub mod informer;

pub use informer::{Informer, Synced};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Whether a k8s-openapi scope is namespaced (implemented for the two object scopes).
pub trait Scoped {
    /// True for namespaced kinds, false for cluster-scoped ones.
    const NAMESPACED: bool;
}

impl Scoped for k8s_openapi::NamespaceResourceScope {
    const NAMESPACED: bool = true;
}

impl Scoped for k8s_openapi::ClusterResourceScope {
    const NAMESPACED: bool = false;
}

/// A Kubernetes object type the API serves (every k8s-openapi resource type is one).
pub trait Object:
    k8s_openapi::Resource<Scope: Scoped>
    + k8s_openapi::Metadata<Ty = ObjectMeta>
    + Serialize
    + DeserializeOwned
    + Clone
    + Send
    + 'static
{
}

impl<T> Object for T where
    T: k8s_openapi::Resource<Scope: Scoped>
        + k8s_openapi::Metadata<Ty = ObjectMeta>
        + Serialize
        + DeserializeOwned
        + Clone
        + Send
        + 'static
{
}

/// Whether objects of kind `K` live in a namespace.
pub fn namespaced<K: Object>() -> bool {
    <K::Scope as Scoped>::NAMESPACED
}

/// A failed API call, classified as the API server's status reasons are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The object does not exist (HTTP 404).
    #[error("{kind} {namespace}/{name} not found")]
    NotFound {
        /// Its kind.
        kind: String,
        /// Its namespace ("" when cluster-scoped).
        namespace: String,
        /// Its name.
        name: String,
    },
    /// It exists already (HTTP 409 on create).
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// The request was refused as invalid (HTTP 422 / 400).
    #[error("invalid: {0}")]
    Invalid(String),
    /// Not allowed (HTTP 401 / 403): names the verb and resource.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The backend could not be reached or failed otherwise.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The revision asked for is older than the changes kept (HTTP 410 Gone on a watch): list
    /// again and follow the changes from the list's revision.
    #[error("expired: {0}")]
    Expired(String),
    /// Refused for now (HTTP 429): an eviction that would violate a PodDisruptionBudget.
    /// Retry later.
    #[error("too many requests: {0}")]
    TooManyRequests(String),
}

impl ApiError {
    /// A [`ApiError::NotFound`] of an object of kind `K`.
    pub fn not_found<K: Object>(namespace: &str, name: &str) -> ApiError {
        ApiError::NotFound {
            kind: K::KIND.into(),
            namespace: if namespaced::<K>() {
                namespace.into()
            } else {
                String::new()
            },
            name: name.into(),
        }
    }
}

/// A patch body and how the server applies it (the `Content-Type` of a PATCH request).
#[derive(Debug, Clone, PartialEq)]
pub enum Patch {
    /// `application/merge-patch+json` (RFC 7386): objects merge, `null` removes, lists
    /// replace.
    Merge(serde_json::Value),
    /// `application/strategic-merge-patch+json`: lists merge by their patch merge keys
    /// (containers by name, ...), as `kubectl patch` does by default.
    Strategic(serde_json::Value),
    /// `application/json-patch+json` (RFC 6902): a list of operations.
    Json(serde_json::Value),
}

/// What happened to an object, as a watch event's type says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChangeType {
    /// Created.
    Added,
    /// Updated (spec, status, metadata).
    Modified,
    /// Deleted.
    Deleted,
}

/// One change of an object: a watch event without the object (read it with
/// [`Cluster::get`] when needed; a later change may have replaced it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Added, Modified or Deleted.
    pub type_: ChangeType,
    /// The object's namespace ("" when cluster-scoped).
    pub namespace: String,
    /// The object's name.
    pub name: String,
    /// The revision of the change (opaque; ordered within one backend).
    pub revision: u64,
}

/// The changes of one kind since a revision, oldest first, and the revision to follow them
/// from next time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// The changes, oldest first.
    pub changes: Vec<Change>,
    /// Where the next call resumes (the last change's revision, or the one asked for).
    pub revision: u64,
}

/// One pod's usage as the resource metrics API (`metrics.k8s.io/v1beta1` PodMetrics) serves
/// it: per container, averaged over a window that ends at the sample's timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct PodMetrics {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub name: String,
    /// When the sample was taken, on the cluster's clock ([`Cluster::now_ms`]).
    pub timestamp_ms: u64,
    /// The window the CPU average covers, in milliseconds.
    pub window_ms: u64,
    /// The containers' usage.
    pub containers: Vec<ContainerMetrics>,
}

/// One container's usage in a [`PodMetrics`].
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerMetrics {
    /// The container's name.
    pub name: String,
    /// CPU in millicores (averaged over the window).
    pub cpu_milli: f64,
    /// Memory working set in bytes.
    pub memory_bytes: f64,
}

/// The workload kinds with a `scale` subresource that autoscalers resize.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScaleKind {
    /// `apps/v1` Deployment.
    Deployment,
    /// `apps/v1` ReplicaSet.
    ReplicaSet,
    /// `apps/v1` StatefulSet.
    StatefulSet,
}

impl ScaleKind {
    /// The kind's name (`Deployment`, ...).
    pub fn kind(self) -> &'static str {
        match self {
            ScaleKind::Deployment => "Deployment",
            ScaleKind::ReplicaSet => "ReplicaSet",
            ScaleKind::StatefulSet => "StatefulSet",
        }
    }

    /// Parses a kind as `--target` flags write it, in any case, singular or plural
    /// (`deployment`, `Deployments`, `replicaset`, `statefulset`).
    pub fn parse(s: &str) -> Option<ScaleKind> {
        let lower = s.to_ascii_lowercase();
        match lower.strip_suffix('s').unwrap_or(&lower) {
            "deployment" => Some(ScaleKind::Deployment),
            "replicaset" => Some(ScaleKind::ReplicaSet),
            "statefulset" => Some(ScaleKind::StatefulSet),
            _ => None,
        }
    }
}

/// `Normal` or `Warning`, as core/v1 Events say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Normal.
    Normal,
    /// Warning.
    Warning,
}

impl EventType {
    /// `Normal` / `Warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// An Event a component records about an object (core/v1 Event's fields that matter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Normal or Warning.
    pub type_: EventType,
    /// The machine-readable reason (`ScalingTarget`, ...).
    pub reason: String,
    /// The object's kind.
    pub kind: String,
    /// The object's namespace ("" when cluster-scoped).
    pub namespace: String,
    /// The object's name.
    pub name: String,
    /// The human-readable message.
    pub message: String,
    /// The reporting component (`source.component`).
    pub source: String,
}

/// The cluster as a component sees it: typed reads, typed writes, Events and a clock.
pub trait Cluster {
    /// Milliseconds since the run started (virtual in the twin, wall clock on a cluster).
    fn now_ms(&self) -> u64;

    /// One object, `None` when it does not exist. `namespace` is ignored for cluster-scoped
    /// kinds.
    fn get<K: Object>(&mut self, namespace: &str, name: &str) -> Result<Option<K>, ApiError>;

    /// The objects of a kind in `namespace` (all namespaces when `None`) whose labels match
    /// `selector` (kubectl `-l` syntax; "" selects all), ordered by namespace and name. A kind
    /// the server does not serve (a CRD not installed) is [`ApiError::NotFound`].
    fn list<K: Object>(
        &mut self,
        namespace: Option<&str>,
        selector: &str,
    ) -> Result<Vec<K>, ApiError>;

    /// Creates an object.
    fn create<K: Object>(&mut self, obj: &K) -> Result<(), ApiError>;

    /// Sets a workload's `spec.replicas` through its scale subresource.
    fn scale(
        &mut self,
        kind: ScaleKind,
        namespace: &str,
        name: &str,
        replicas: i32,
    ) -> Result<(), ApiError>;

    /// Patches an object (spec and metadata; a `status` in the patch is ignored, as the API
    /// server ignores it on the main resource) and returns it as stored.
    /// [`ApiError::NotFound`] when it does not exist, [`ApiError::Invalid`] when the result
    /// is refused (e.g. a pod's spec beyond what may change).
    fn patch<K: Object>(
        &mut self,
        namespace: &str,
        name: &str,
        patch: &Patch,
    ) -> Result<K, ApiError>;

    /// Patches an object's `status` subresource (what a controller reports) and returns it
    /// as stored.
    fn patch_status<K: Object>(
        &mut self,
        namespace: &str,
        name: &str,
        patch: &Patch,
    ) -> Result<K, ApiError>;

    /// Deletes an object; `grace_seconds` overrides a pod's termination grace period.
    /// [`ApiError::NotFound`] when it does not exist.
    fn delete<K: Object>(
        &mut self,
        namespace: &str,
        name: &str,
        grace_seconds: Option<i64>,
    ) -> Result<(), ApiError>;

    /// Evicts a pod through the `eviction` subresource (policy/v1 Eviction): the pod is
    /// deleted gracefully unless a PodDisruptionBudget allows no disruption now
    /// ([`ApiError::TooManyRequests`]).
    fn evict(
        &mut self,
        namespace: &str,
        name: &str,
        grace_seconds: Option<i64>,
    ) -> Result<(), ApiError>;

    /// Resizes a pod's containers in place through the `resize` subresource (only their cpu
    /// and memory resources may change; the kubelet then admits, defers or applies it, as the
    /// pod's `PodResizePending` / `PodResizeInProgress` conditions show). Returns the pod.
    fn resize(
        &mut self,
        namespace: &str,
        name: &str,
        patch: &Patch,
    ) -> Result<k8s_openapi::api::core::v1::Pod, ApiError>;

    /// Binds a pending pod to a node (the `binding` subresource, as a scheduler does).
    fn bind(&mut self, namespace: &str, name: &str, node: &str) -> Result<(), ApiError>;

    /// Records an Event.
    fn event(&mut self, event: Event);

    /// The resource metrics API: the latest usage of the pods in `namespace` (all when
    /// `None`) whose labels match `selector`, as metrics-server serves it (pods without a
    /// sample are absent).
    fn pod_metrics(
        &mut self,
        namespace: Option<&str>,
        selector: &str,
    ) -> Result<Vec<PodMetrics>, ApiError>;

    /// The cluster's current revision: what a list made now would resume a watch from.
    fn revision(&mut self) -> Result<u64, ApiError>;

    /// The changes of objects of kind `K` after revision `since` (a watch from that revision,
    /// drained of what has happened so far). [`ApiError::Expired`] when `since` is older than
    /// the changes the backend keeps: list again and resume from [`Cluster::revision`].
    fn changes<K: Object>(&mut self, since: u64) -> Result<Changes, ApiError>;
}

/// Whether a pod's `Ready` condition is `True`.
pub fn pod_ready(pod: &k8s_openapi::api::core::v1::Pod) -> bool {
    let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Whether a node's `Ready` condition is `True`.
pub fn node_ready(node: &k8s_openapi::api::core::v1::Node) -> bool {
    let conditions = node.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Renders a `matchLabels` map as a kubectl selector (`a=b,c=d`).
pub fn selector_of(labels: &std::collections::BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_kinds_parse_as_flags_write_them() {
        assert_eq!(ScaleKind::parse("deployment"), Some(ScaleKind::Deployment));
        assert_eq!(ScaleKind::parse("Deployments"), Some(ScaleKind::Deployment));
        assert_eq!(ScaleKind::parse("replicaset"), Some(ScaleKind::ReplicaSet));
        assert_eq!(
            ScaleKind::parse("StatefulSet"),
            Some(ScaleKind::StatefulSet)
        );
        assert_eq!(ScaleKind::parse("daemonset"), None);
    }

    #[test]
    fn selectors_render_in_key_order() {
        let m = [("b", "2"), ("a", "1")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(selector_of(&m), "a=1,b=2");
    }
}
