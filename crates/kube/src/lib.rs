//! The cluster API ([`kscale_cluster::Cluster`]) over a real Kubernetes API server.
//!
//! [`KubeCluster`] reads and writes through the `kube` crate, blocking on a runtime of its
//! own (components stay synchronous; no async reaches them). Everything it creates carries
//! the `kscale.io/run` label, so a run's objects can be found and deleted at its end. Its
//! clock is the wall clock since it connected.

pub mod admission_webhook;
pub mod aggregated;
pub mod custom_metrics_server;
pub mod kubelet;
pub mod metrics_server;

use std::path::Path;
use std::time::Instant;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Event as CoreEvent, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kscale_cluster::{
    ApiError, Change, ChangeType, Changes, Cluster, ContainerMetrics, Event, Object, PodMetrics,
    ScaleKind, namespaced,
};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, EvictParams, ListParams, Patch, PatchParams,
    PostParams, WatchEvent, WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};

/// The label every object kscale creates carries: the run's id.
pub const RUN_LABEL: &str = "kscale.io/run";

/// A real cluster serving the cluster API.
pub struct KubeCluster {
    rt: tokio::runtime::Runtime,
    client: kube::Client,
    /// The same connection without the client's retries of 429/503/504: an eviction refused
    /// by a disruption budget (429) is an answer for the component, which retries on its
    /// own schedule (as Karpenter's and the Cluster Autoscaler's drains do).
    once: kube::Client,
    started: Instant,
    /// The wall clock when it connected (to place metrics timestamps on the run's clock).
    started_wall: jiff::Timestamp,
    run: String,
    events: u64,
    /// The API server's URL.
    server: String,
    /// What this connection created, in order (Leases excepted: the node's deletion takes
    /// them); a run deletes them at its end ([`KubeCluster::created`]).
    created: Vec<Created>,
}

/// An object a [`KubeCluster`] created.
#[derive(Debug, Clone)]
pub struct Created {
    /// Its resource (group, version, kind, plural).
    pub resource: ApiResource,
    /// Its namespace (`None` when cluster-scoped).
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
}

/// Classifies a client error as the cluster API does, naming what was attempted.
pub(crate) fn api_error(e: kube::Error, what: &str) -> ApiError {
    match e {
        kube::Error::Api(s) => match s.code {
            401 | 403 => ApiError::Forbidden(format!("{what}: {}", s.message)),
            404 => ApiError::Unavailable(format!("{what}: {}", s.message)),
            409 => ApiError::AlreadyExists(format!("{what}: {}", s.message)),
            410 => ApiError::Expired(format!("{what}: {}", s.message)),
            400 | 422 => ApiError::Invalid(format!("{what}: {}", s.message)),
            429 => ApiError::TooManyRequests(format!("{what}: {}", s.message)),
            _ => ApiError::Unavailable(format!("{what}: {} ({})", s.message, s.code)),
        },
        other => ApiError::Unavailable(format!("{what}: {other}")),
    }
}

/// Like [`api_error`] for a call on one object: 404 is [`ApiError::NotFound`] of it.
fn object_error<K: Object>(e: kube::Error, what: &str, namespace: &str, name: &str) -> ApiError {
    match &e {
        kube::Error::Api(s) if s.code == 404 => ApiError::not_found::<K>(namespace, name),
        _ => api_error(e, what),
    }
}

/// The `Content-Type` of a patch.
fn patch_content_type(patch: &kscale_cluster::Patch) -> &'static str {
    match patch {
        kscale_cluster::Patch::Merge(_) => "application/merge-patch+json",
        kscale_cluster::Patch::Strategic(_) => "application/strategic-merge-patch+json",
        kscale_cluster::Patch::Json(_) => "application/json-patch+json",
    }
}

impl KubeCluster {
    /// Connects with a kubeconfig file (its current context); `run` names the run in the
    /// `kscale.io/run` label of what it creates. Fails naming what was wrong (file, server,
    /// credentials).
    pub fn connect(kubeconfig: &Path, run: &str) -> Result<KubeCluster, ApiError> {
        KubeCluster::connect_with(Some(kubeconfig), None, run)
    }

    /// Like [`KubeCluster::connect`], with the kubeconfig found as kubectl finds it when
    /// `kubeconfig` is `None` (`$KUBECONFIG`, else `~/.kube/config`) and a `context` other
    /// than the current one.
    pub fn connect_with(
        kubeconfig: Option<&Path>,
        context: Option<&str>,
        run: &str,
    ) -> Result<KubeCluster, ApiError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ApiError::Unavailable(format!("starting the client runtime: {e}")))?;
        let shown = kubeconfig.map_or_else(
            || "(from $KUBECONFIG or ~/.kube/config)".to_string(),
            |p| p.display().to_string(),
        );
        let kc = match kubeconfig {
            Some(p) => Kubeconfig::read_from(p),
            None => Kubeconfig::read(),
        }
        .map_err(|e| ApiError::Invalid(format!("kubeconfig {shown}: {e}")))?;
        let options = KubeConfigOptions {
            context: context.map(str::to_string),
            ..KubeConfigOptions::default()
        };
        let (client, once, server) = rt.block_on(async {
            let config = kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| ApiError::Invalid(format!("kubeconfig {shown}: {e}")))?;
            let server = config.cluster_url.to_string();
            let mut once = config.clone();
            once.default_retry = false;
            let client = kube::Client::try_from(config)
                .map_err(|e| ApiError::Unavailable(format!("client for {server}: {e}")))?;
            let once = kube::Client::try_from(once)
                .map_err(|e| ApiError::Unavailable(format!("client for {server}: {e}")))?;
            client
                .apiserver_version()
                .await
                .map_err(|e| api_error(e, &format!("reaching the API server {server}")))?;
            Ok::<_, ApiError>((client, once, server))
        })?;
        Ok(KubeCluster {
            rt,
            client,
            once,
            started: Instant::now(),
            started_wall: jiff::Timestamp::now(),
            run: run.to_string(),
            events: 0,
            server,
            created: Vec::new(),
        })
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The run's id (the value of the `kscale.io/run` label).
    pub fn run(&self) -> &str {
        &self.run
    }

    /// The objects this connection created, oldest first.
    pub fn created(&self) -> &[Created] {
        &self.created
    }

    /// Creates an object as written in a manifest (any kind the server serves, custom
    /// resources included: the kind is resolved by discovery), with the run label added.
    /// A kind the server does not serve is `ApiError::NotFound`.
    pub fn create_raw(&mut self, obj: &serde_json::Value) -> Result<(), ApiError> {
        let api_version = obj.get("apiVersion").and_then(|v| v.as_str()).unwrap_or("");
        let kind = obj.get("kind").and_then(|v| v.as_str()).unwrap_or("");
        let name = obj
            .pointer("/metadata/name")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
        let mut dynamic: DynamicObject = serde_json::from_value(obj.clone())
            .map_err(|e| ApiError::Invalid(format!("{kind} {name}: {e}")))?;
        self.label(&mut dynamic.metadata);
        let client = self.client.clone();
        self.rt
            .block_on(async {
                let (ar, caps) =
                    kube::discovery::pinned_kind(&client, &gvk)
                        .await
                        .map_err(|_| ApiError::NotFound {
                            kind: format!("{kind} ({api_version})"),
                            namespace: String::new(),
                            name: "the server serves no such kind".into(),
                        })?;
                let api: Api<DynamicObject> = match caps.scope {
                    kube::discovery::Scope::Namespaced => Api::namespaced_with(
                        client,
                        dynamic.metadata.namespace.as_deref().unwrap_or("default"),
                        &ar,
                    ),
                    kube::discovery::Scope::Cluster => Api::all_with(client, &ar),
                };
                let namespace = match caps.scope {
                    kube::discovery::Scope::Namespaced => Some(
                        dynamic
                            .metadata
                            .namespace
                            .clone()
                            .unwrap_or_else(|| "default".into()),
                    ),
                    kube::discovery::Scope::Cluster => None,
                };
                api.create(&PostParams::default(), &dynamic)
                    .await
                    .map(|_| Created {
                        resource: ar,
                        namespace,
                        name: name.to_string(),
                    })
                    .map_err(|e| api_error(e, &format!("create {kind} {name}")))
            })
            .map(|c| self.created.push(c))
    }

    /// Lists the objects of a kind named by `apiVersion` and `kind` (custom resources
    /// included; resolved by discovery) in one namespace or all, each with its `apiVersion`
    /// and `kind` set. `Ok(None)` when the server does not serve the kind.
    pub fn list_raw(
        &mut self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Result<Option<Vec<serde_json::Value>>, ApiError> {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
        let client = self.client.clone();
        let what = format!("list {kind} {}", namespace.unwrap_or("(all namespaces)"));
        self.rt.block_on(async {
            let Ok((ar, caps)) = kube::discovery::pinned_kind(&client, &gvk).await else {
                return Ok(None);
            };
            let api: Api<DynamicObject> = match (caps.scope, namespace) {
                (kube::discovery::Scope::Namespaced, Some(ns)) => {
                    Api::namespaced_with(client, ns, &ar)
                }
                _ => Api::all_with(client, &ar),
            };
            let list = api
                .list(&ListParams::default())
                .await
                .map_err(|e| api_error(e, &what))?;
            let mut out = Vec::with_capacity(list.items.len());
            for item in list.items {
                let mut v = serde_json::to_value(&item)
                    .map_err(|e| ApiError::Invalid(format!("{what}: {e}")))?;
                if let Some(o) = v.as_object_mut() {
                    o.insert("apiVersion".into(), api_version.into());
                    o.insert("kind".into(), kind.into());
                }
                out.push(v);
            }
            Ok(Some(out))
        })
    }

    /// The underlying client (for what the cluster API does not cover yet).
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// Runs a future on this cluster's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    fn dynamic<K: Object>(&self, namespace: Option<&str>) -> Api<DynamicObject> {
        let ar = ApiResource::erase::<K>(&());
        match namespace {
            Some(ns) if namespaced::<K>() => Api::namespaced_with(self.client.clone(), ns, &ar),
            _ => Api::all_with(self.client.clone(), &ar),
        }
    }

    fn label(&self, meta: &mut ObjectMeta) {
        meta.labels
            .get_or_insert_with(Default::default)
            .insert(RUN_LABEL.into(), self.run.clone());
    }
}

impl KubeCluster {
    /// The uid of the object an Event is about, for the kinds kscale's components record
    /// Events on (pods, nodes, Deployments, ReplicaSets); `None` for others or when it is gone.
    fn uid_of(&mut self, kind: &str, namespace: &str, name: &str) -> Option<String> {
        use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
        use k8s_openapi::api::core::v1::{Node, Pod};
        let meta = match kind {
            "Pod" => self.get::<Pod>(namespace, name).ok()??.metadata,
            "Node" => self.get::<Node>("", name).ok()??.metadata,
            "Deployment" => self.get::<Deployment>(namespace, name).ok()??.metadata,
            "ReplicaSet" => self.get::<ReplicaSet>(namespace, name).ok()??.metadata,
            _ => return None,
        };
        meta.uid
    }

    /// PATCH of an object or one of its subresources (`""` or `"/status"`), with the
    /// patch's own content type (the `kube` crate's JSON patch type is of another
    /// `json-patch` major version, so the request is built here).
    fn patch_at<K: Object>(
        &mut self,
        namespace: &str,
        name: &str,
        subresource: &str,
        patch: &kscale_cluster::Patch,
    ) -> Result<K, ApiError> {
        let api = self.dynamic::<K>(Some(namespace));
        let what = format!("patch {} {namespace}/{name}{subresource}", K::KIND);
        let body = match patch {
            kscale_cluster::Patch::Merge(v)
            | kscale_cluster::Patch::Strategic(v)
            | kscale_cluster::Patch::Json(v) => serde_json::to_vec(v),
        }
        .map_err(|e| ApiError::Invalid(format!("{what}: {e}")))?;
        let request = http::Request::patch(format!("{}/{name}{subresource}", api.resource_url()))
            .header(http::header::CONTENT_TYPE, patch_content_type(patch))
            .body(body)
            .map_err(|e| ApiError::Invalid(format!("{what}: {e}")))?;
        let client = self.client.clone();
        let o: DynamicObject = self
            .rt
            .block_on(client.request(request))
            .map_err(|e| object_error::<K>(e, &what, namespace, name))?;
        parse(o)
    }
}

/// One item of a `PodMetricsList` (`metrics.k8s.io/v1beta1`) on the run's clock (whose
/// zero is `started`); None when a field is missing or malformed.
fn pod_metrics_of(item: &serde_json::Value, started: jiff::Timestamp) -> Option<PodMetrics> {
    let quantity = |v: &serde_json::Value| kscale_model::Quantity::parse(v.as_str()?).ok();
    let at: jiff::Timestamp = item.get("timestamp")?.as_str()?.parse().ok()?;
    let since = at.as_millisecond() - started.as_millisecond();
    let window = item.get("window").and_then(|w| w.as_str()).unwrap_or("0s");
    Some(PodMetrics {
        namespace: item.pointer("/metadata/namespace")?.as_str()?.to_string(),
        name: item.pointer("/metadata/name")?.as_str()?.to_string(),
        timestamp_ms: since.max(0) as u64,
        window_ms: kscale_model::duration::parse_duration(window).ok()?,
        containers: item
            .get("containers")?
            .as_array()?
            .iter()
            .map(|c| {
                Some(ContainerMetrics {
                    name: c.get("name")?.as_str()?.to_string(),
                    cpu_milli: quantity(c.pointer("/usage/cpu")?)?.as_f64() * 1000.0,
                    memory_bytes: quantity(c.pointer("/usage/memory")?)?.as_f64(),
                })
            })
            .collect::<Option<_>>()?,
    })
}

fn parse<K: Object>(o: DynamicObject) -> Result<K, ApiError> {
    o.try_parse::<K>()
        .map_err(|e| ApiError::Unavailable(format!("reading a {}: {e}", K::KIND)))
}

/// How long a [`Cluster::changes`] call watches for changes already made: the API server
/// sends what happened since the revision at once, then holds the watch open until this
/// timeout (`timeoutSeconds`, whole seconds).
pub const CHANGES_WATCH_SECS: u32 = 1;

/// A watch event's change (None: a bookmark or an error, handled by the caller).
fn change_of(e: &WatchEvent<DynamicObject>) -> Option<Change> {
    let (type_, o) = match e {
        WatchEvent::Added(o) => (ChangeType::Added, o),
        WatchEvent::Modified(o) => (ChangeType::Modified, o),
        WatchEvent::Deleted(o) => (ChangeType::Deleted, o),
        WatchEvent::Bookmark(_) | WatchEvent::Error(_) => return None,
    };
    Some(Change {
        type_,
        namespace: o.metadata.namespace.clone().unwrap_or_default(),
        name: o.metadata.name.clone().unwrap_or_default(),
        revision: parse_revision(o.metadata.resource_version.as_deref()).unwrap_or(0),
    })
}

fn parse_revision(rv: Option<&str>) -> Option<u64> {
    rv?.parse().ok()
}

impl Cluster for KubeCluster {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn get<K: Object>(&mut self, namespace: &str, name: &str) -> Result<Option<K>, ApiError> {
        let api = self.dynamic::<K>(Some(namespace));
        let what = format!("get {} {namespace}/{name}", K::KIND);
        let o = self
            .rt
            .block_on(api.get_opt(name))
            .map_err(|e| api_error(e, &what))?;
        o.map(parse).transpose()
    }

    fn list<K: Object>(
        &mut self,
        namespace: Option<&str>,
        selector: &str,
    ) -> Result<Vec<K>, ApiError> {
        let api = self.dynamic::<K>(namespace);
        let lp = if selector.is_empty() {
            ListParams::default()
        } else {
            ListParams::default().labels(selector)
        };
        let what = format!(
            "list {} {}",
            K::KIND,
            namespace.unwrap_or("(all namespaces)")
        );
        let list = self.rt.block_on(api.list(&lp)).map_err(|e| match e {
            // The kind is not served (e.g. a CRD not installed).
            kube::Error::Api(s) if s.code == 404 => ApiError::NotFound {
                kind: format!("{} ({})", K::KIND, K::API_VERSION),
                namespace: String::new(),
                name: "the server serves no such kind".into(),
            },
            e => api_error(e, &what),
        })?;
        let mut out: Vec<K> = list
            .items
            .into_iter()
            .map(parse)
            .collect::<Result<_, _>>()?;
        out.sort_by(|a, b| {
            (&a.metadata().namespace, &a.metadata().name)
                .cmp(&(&b.metadata().namespace, &b.metadata().name))
        });
        Ok(out)
    }

    fn create<K: Object>(&mut self, obj: &K) -> Result<(), ApiError> {
        let mut obj = obj.clone();
        self.label(obj.metadata_mut());
        let ns = obj.metadata().namespace.clone();
        let api = self.dynamic::<K>(ns.as_deref());
        let what = format!("create {} {:?}", K::KIND, obj.metadata().name);
        let dynamic: DynamicObject = serde_json::from_value(
            serde_json::to_value(&obj).map_err(|e| ApiError::Invalid(format!("{what}: {e}")))?,
        )
        .map_err(|e| ApiError::Invalid(format!("{what}: {e}")))?;
        self.rt
            .block_on(api.create(&PostParams::default(), &dynamic))
            .map_err(|e| api_error(e, &what))?;
        if K::KIND != "Lease" {
            self.created.push(Created {
                resource: ApiResource::erase::<K>(&()),
                namespace: ns.filter(|_| namespaced::<K>()),
                name: obj.metadata().name.clone().unwrap_or_default(),
            });
        }
        Ok(())
    }

    fn scale(
        &mut self,
        kind: ScaleKind,
        namespace: &str,
        name: &str,
        replicas: i32,
    ) -> Result<(), ApiError> {
        use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
        let patch = Patch::Merge(serde_json::json!({"spec": {"replicas": replicas}}));
        let pp = PatchParams::default();
        let what = format!("scale {} {namespace}/{name}", kind.kind());
        let c = self.client.clone();
        let r = match kind {
            ScaleKind::Deployment => self.rt.block_on(
                Api::<Deployment>::namespaced(c, namespace).patch_scale(name, &pp, &patch),
            ),
            ScaleKind::ReplicaSet => self.rt.block_on(
                Api::<ReplicaSet>::namespaced(c, namespace).patch_scale(name, &pp, &patch),
            ),
            ScaleKind::StatefulSet => self.rt.block_on(
                Api::<StatefulSet>::namespaced(c, namespace).patch_scale(name, &pp, &patch),
            ),
        };
        r.map(|_| ()).map_err(|e| api_error(e, &what))
    }

    /// The `resourceVersion` of an empty-page list: etcd's current revision.
    fn revision(&mut self) -> Result<u64, ApiError> {
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        let list = self
            .rt
            .block_on(api.list_metadata(&ListParams::default().limit(1)))
            .map_err(|e| api_error(e, "list namespaces for the current revision"))?;
        parse_revision(list.metadata.resource_version.as_deref()).ok_or_else(|| {
            ApiError::Unavailable(format!(
                "the API server's list revision {:?} is not a number",
                list.metadata.resource_version
            ))
        })
    }

    /// A watch from `since` across all namespaces, drained for [`CHANGES_WATCH_SECS`].
    fn changes<K: Object>(&mut self, since: u64) -> Result<Changes, ApiError> {
        let api = self.dynamic::<K>(None);
        let what = format!("watch {} from revision {since}", K::KIND);
        let wp = WatchParams::default().timeout(CHANGES_WATCH_SECS);
        let events: Vec<_> = self
            .rt
            .block_on(async {
                let stream = api.watch(&wp, &since.to_string()).await?;
                Ok::<_, kube::Error>(stream.collect::<Vec<_>>().await)
            })
            .map_err(|e| api_error(e, &what))?;
        let mut out = Changes {
            changes: Vec::new(),
            revision: since,
        };
        for e in events {
            let e = e.map_err(|e| api_error(e, &what))?;
            match &e {
                WatchEvent::Error(s) if s.code == 410 => {
                    return Err(ApiError::Expired(format!("{what}: {}", s.message)));
                }
                WatchEvent::Error(s) => {
                    return Err(ApiError::Unavailable(format!(
                        "{what}: {} ({})",
                        s.message, s.code
                    )));
                }
                WatchEvent::Bookmark(b) => {
                    if let Some(r) = parse_revision(Some(&b.metadata.resource_version)) {
                        out.revision = out.revision.max(r);
                    }
                }
                _ => {}
            }
            if let Some(c) = change_of(&e) {
                out.revision = out.revision.max(c.revision);
                out.changes.push(c);
            }
        }
        Ok(out)
    }

    fn patch<K: Object>(
        &mut self,
        namespace: &str,
        name: &str,
        patch: &kscale_cluster::Patch,
    ) -> Result<K, ApiError> {
        self.patch_at(namespace, name, "", patch)
    }

    fn patch_status<K: Object>(
        &mut self,
        namespace: &str,
        name: &str,
        patch: &kscale_cluster::Patch,
    ) -> Result<K, ApiError> {
        self.patch_at(namespace, name, "/status", patch)
    }

    fn resize(
        &mut self,
        namespace: &str,
        name: &str,
        patch: &kscale_cluster::Patch,
    ) -> Result<k8s_openapi::api::core::v1::Pod, ApiError> {
        self.patch_at(namespace, name, "/resize", patch)
    }

    fn delete<K: Object>(
        &mut self,
        namespace: &str,
        name: &str,
        grace_seconds: Option<i64>,
    ) -> Result<(), ApiError> {
        let api = self.dynamic::<K>(Some(namespace));
        let what = format!("delete {} {namespace}/{name}", K::KIND);
        let dp = DeleteParams {
            grace_period_seconds: grace_seconds.map(|s| s.max(0) as u32),
            ..DeleteParams::background()
        };
        self.rt
            .block_on(api.delete(name, &dp))
            .map(|_| ())
            .map_err(|e| object_error::<K>(e, &what, namespace, name))
    }

    fn evict(
        &mut self,
        namespace: &str,
        name: &str,
        grace_seconds: Option<i64>,
    ) -> Result<(), ApiError> {
        use k8s_openapi::api::core::v1::Pod;
        let api: Api<Pod> = Api::namespaced(self.once.clone(), namespace);
        let what = format!("evict Pod {namespace}/{name}");
        let ep = EvictParams {
            delete_options: grace_seconds.map(|s| DeleteParams {
                grace_period_seconds: Some(s.max(0) as u32),
                ..DeleteParams::default()
            }),
            ..EvictParams::default()
        };
        self.rt
            .block_on(api.evict(name, &ep))
            .map(|_| ())
            .map_err(|e| object_error::<Pod>(e, &what, namespace, name))
    }

    fn bind(&mut self, namespace: &str, name: &str, node: &str) -> Result<(), ApiError> {
        use k8s_openapi::api::core::v1::{Binding, Pod};
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let what = format!("bind Pod {namespace}/{name} to {node}");
        let binding = Binding {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(namespace.into()),
                ..Default::default()
            },
            target: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Node".into()),
                name: Some(node.into()),
                ..Default::default()
            },
        };
        self.rt
            .block_on(api.create_subresource::<_, serde_json::Value>(
                "binding",
                name,
                &PostParams::default(),
                &binding,
            ))
            .map(|_| ())
            .map_err(|e| object_error::<Pod>(e, &what, namespace, name))
    }

    /// `GET /apis/metrics.k8s.io/v1beta1/[namespaces/NS/]pods?labelSelector=...`.
    fn pod_metrics(
        &mut self,
        namespace: Option<&str>,
        selector: &str,
    ) -> Result<Vec<PodMetrics>, ApiError> {
        let base = "/apis/metrics.k8s.io/v1beta1";
        let mut url = match namespace {
            Some(ns) => format!("{base}/namespaces/{ns}/pods"),
            None => format!("{base}/pods"),
        };
        if !selector.is_empty() {
            let mut q = form_urlencoded_pair("labelSelector", selector);
            q.insert(0, '?');
            url.push_str(&q);
        }
        let what = format!(
            "list PodMetrics {}",
            namespace.unwrap_or("(all namespaces)")
        );
        let request = http::Request::get(url)
            .body(Vec::new())
            .map_err(|e| ApiError::Invalid(format!("{what}: {e}")))?;
        let client = self.client.clone();
        let list: serde_json::Value = self
            .rt
            .block_on(client.request(request))
            .map_err(|e| api_error(e, &what))?;
        let items = list.get("items").and_then(|i| i.as_array());
        let mut out: Vec<PodMetrics> = items
            .into_iter()
            .flatten()
            .filter_map(|i| pod_metrics_of(i, self.started_wall))
            .collect();
        out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        Ok(out)
    }

    fn event(&mut self, e: Event) {
        // The involved object's uid, as client-go's recorder takes it from the object:
        // `kubectl describe` lists only the Events whose `involvedObject.uid` is the object's.
        // core/v1 Events, as client-go's record.EventRecorder writes them.
        self.events += 1;
        let now = jiff::Timestamp::now();
        let ns = if e.namespace.is_empty() {
            "default".to_string()
        } else {
            e.namespace.clone()
        };
        let mut ev = CoreEvent {
            metadata: ObjectMeta {
                name: Some(format!(
                    "{}.{:x}{:04x}",
                    e.name,
                    now.as_nanosecond() as u64,
                    self.events & 0xffff
                )),
                namespace: Some(ns.clone()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                kind: Some(e.kind.clone()),
                namespace: (!e.namespace.is_empty()).then(|| e.namespace.clone()),
                name: Some(e.name.clone()),
                uid: self.uid_of(&e.kind, &e.namespace, &e.name),
                ..Default::default()
            },
            reason: Some(e.reason.clone()),
            message: Some(e.message.clone()),
            type_: Some(e.type_.as_str().into()),
            source: Some(EventSource {
                component: Some(e.source.clone()),
                host: None,
            }),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: None::<MicroTime>,
            count: Some(1),
            reporting_component: Some(e.source.clone()),
            reporting_instance: Some(e.source.clone()),
            ..Default::default()
        };
        self.label(&mut ev.metadata);
        let api: Api<CoreEvent> = Api::namespaced(self.client.clone(), &ns);
        // An Event that cannot be written is dropped, as client-go's recorder drops them.
        let _ = self.rt.block_on(api.create(&PostParams::default(), &ev));
    }
}

/// `key=value` with the value percent-encoded for a query string.
fn form_urlencoded_pair(key: &str, value: &str) -> String {
    let mut out = format!("{key}=");
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, message: &str) -> kube::Error {
        let s: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "code": code, "message": message, "reason": ""
        }))
        .unwrap();
        kube::Error::Api(Box::new(s))
    }

    #[test]
    fn pod_metrics_read_as_metrics_server_serves_them() {
        let started: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let item = serde_json::json!({
            "metadata": {"name": "web-1", "namespace": "default"},
            "timestamp": "2026-01-01T00:01:30Z", "window": "15s",
            "containers": [{"name": "c", "usage": {"cpu": "90500000n", "memory": "102400Ki"}}]
        });
        let m = pod_metrics_of(&item, started).unwrap();
        assert_eq!((m.timestamp_ms, m.window_ms), (90_000, 15_000));
        assert_eq!(m.containers[0].name, "c");
        assert!((m.containers[0].cpu_milli - 90.5).abs() < 1e-9);
        assert_eq!(m.containers[0].memory_bytes, 100.0 * 1024.0 * 1024.0);
        assert!(pod_metrics_of(&serde_json::json!({"metadata": {}}), started).is_none());
        assert_eq!(
            form_urlencoded_pair("labelSelector", "app=web,x in (a)"),
            "labelSelector=app%3Dweb%2Cx%20in%20%28a%29"
        );
    }

    #[test]
    fn status_codes_classify_as_the_cluster_api_does() {
        let e = api_error(
            status(410, "too old resource version: 1 (265)"),
            "watch Node",
        );
        assert_eq!(
            e,
            ApiError::Expired("watch Node: too old resource version: 1 (265)".into())
        );
        assert!(matches!(
            api_error(status(409, "exists"), "create"),
            ApiError::AlreadyExists(_)
        ));
        assert!(matches!(
            api_error(status(403, "no"), "list"),
            ApiError::Forbidden(_)
        ));
        assert!(matches!(
            api_error(status(422, "bad"), "create"),
            ApiError::Invalid(_)
        ));
        assert!(matches!(
            api_error(status(500, "boom"), "get"),
            ApiError::Unavailable(_)
        ));
    }
}
