//! The DaemonSet controller (kubernetes `pkg/controller/daemon/daemon_controller.go`, v1.37):
//! one daemon pod on every node that should run it ([`kscale_controllers::daemonset`]:
//! nodeSelector, required node affinity, NoSchedule/NoExecute taints against the template's
//! tolerations and the daemon tolerations), created with the pod template of
//! `util.CreatePodTemplate` (daemon tolerations, `controller-revision-hash` and
//! `pod-template-generation` labels) pinned to its node by node affinity
//! (`matchFields metadata.name`) and placed by the scheduler like any pod. A pod goes when its
//! node no longer keeps it (an untolerated NoExecute taint, labels that no longer match) or
//! with its node. A template change replaces the pods of the old template one node at a time
//! while the others are available (`RollingUpdate`, `maxUnavailable` 1 unless set; `OnDelete`
//! replaces none).
//!
//! Syncs run with the Deployment and ReplicaSet controllers' reconcile when a DaemonSet
//! changes, a node comes, goes or changes, or one of its pods changes. Not modelled:
//! `maxSurge`, `minReadySeconds`, failed-pod back-off, ControllerRevision objects.

use std::collections::BTreeMap;
use std::sync::Arc;

use kscale_controllers::daemonset::{
    self as ds, REVISION_HASH_LABEL, ShouldRun, TEMPLATE_GENERATION_LABEL,
};
use kscale_controllers::scheduler::PlacementConstraints;
use kscale_model::Resources;
use serde_json::{Value, json};

use super::Sim;
use super::model::{Owner, PodTemplate};
use super::store::ObjKey;
use super::workloads::{int_or_percent, template_hash};

/// Per DaemonSet, its daemon pods by node.
#[derive(Debug, Default, Clone)]
pub struct DaemonSets {
    pods: BTreeMap<ObjKey, BTreeMap<Arc<str>, u64>>,
}

/// A DaemonSet as the controller reads it.
struct DsSpec {
    uid: String,
    /// The template's hash (`controller-revision-hash`).
    hash: String,
    /// The daemon pods' template: the DaemonSet's, with the daemon tolerations and labels.
    template: Value,
    /// What the placement decision reads of it.
    constraints: Arc<PlacementConstraints>,
    /// The template's `spec.nodeName`.
    node_name: Option<String>,
    /// `updateStrategy`: `None` for OnDelete, else RollingUpdate's `maxUnavailable` (of
    /// `desired` nodes).
    max_unavailable: Option<Value>,
}

/// `util.CreatePodTemplate` of a stored DaemonSet.
fn spec_of(v: &Value) -> DsSpec {
    let mut t = v.pointer("/spec/template").cloned().unwrap_or(json!({}));
    let hash = template_hash(&t);
    let generation = v
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let host_network = t.pointer("/spec/hostNetwork").and_then(Value::as_bool) == Some(true);
    let given = super::model::tolerations(t.pointer("/spec/tolerations"));
    let mut tolerations: Vec<Value> = t
        .pointer("/spec/tolerations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for d in ds::daemon_tolerations(host_network) {
        if !given.contains(&d) {
            let effect = d.effect.map(|e| e.as_str());
            tolerations.push(json!({"key": d.key, "operator": "Exists", "effect": effect}));
        }
    }
    t["spec"]["tolerations"] = json!(tolerations);
    if !t["metadata"].is_object() {
        t["metadata"] = json!({});
    }
    if !t["metadata"]["labels"].is_object() {
        t["metadata"]["labels"] = json!({});
    }
    t["metadata"]["labels"][TEMPLATE_GENERATION_LABEL] = json!(generation.to_string());
    t["metadata"]["labels"][REVISION_HASH_LABEL] = json!(hash);
    let compiled = PodTemplate::compile(t.get("metadata"), &t["spec"]);
    let strategy = v
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str);
    DsSpec {
        uid: v
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        hash,
        node_name: t
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .map(str::to_string),
        constraints: compiled.constraints,
        max_unavailable: (strategy != Some("OnDelete")).then(|| {
            v.pointer("/spec/updateStrategy/rollingUpdate/maxUnavailable")
                .cloned()
                .unwrap_or(json!(1))
        }),
        template: t,
    }
}

/// The daemon pod template pinned to `node` (`ReplaceDaemonSetPodNodeNameNodeAffinity`).
fn pinned(template: &Value, node: &str) -> Value {
    let mut t = template.clone();
    let term = ds::pin_to_node(node);
    t["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = json!({
        "nodeSelectorTerms": [{"matchFields": [{"key": term.key, "operator": "In", "values": term.values}]}]
    });
    t
}

/// The counts a DaemonSet's status shows.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DsCounts {
    /// `desiredNumberScheduled`: nodes that should run a daemon pod.
    pub desired: i64,
    /// `currentNumberScheduled`: nodes that should run one and do.
    pub current: i64,
    /// `numberMisscheduled`: nodes that run one and should not.
    pub misscheduled: i64,
    /// `numberReady`: daemon pods Ready.
    pub ready: i64,
    /// `updatedNumberScheduled`: nodes running a pod of the current template.
    pub updated: i64,
}

impl Sim {
    /// A node came, went or changed: every DaemonSet syncs.
    pub(crate) fn daemonsets_dirty(&mut self) {
        let keys: Vec<ObjKey> = self
            .store
            .list("DaemonSet", None)
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            self.mark_dirty(k);
        }
    }

    /// Where the DaemonSet stands with each node, in name order.
    fn should_run(&self, spec: &DsSpec) -> Vec<(Arc<str>, ShouldRun)> {
        self.nodes
            .iter()
            .map(|(name, n)| {
                let s = ds::node_should_run(&spec.constraints, spec.node_name.as_deref(), &n.info);
                (name.clone(), s)
            })
            .collect()
    }

    /// The DaemonSet's pods by node, those that still exist.
    fn pods_by_node(&self, key: &ObjKey) -> BTreeMap<Arc<str>, u64> {
        let mut pods = self.daemonsets.pods.get(key).cloned().unwrap_or_default();
        pods.retain(|_, id| self.pods.get(id).is_some());
        pods
    }

    /// Whether a daemon pod was made from the current template.
    fn is_updated(&self, id: u64, spec: &DsSpec) -> bool {
        self.pods
            .get(&id)
            .is_some_and(|p| p.labels.get(REVISION_HASH_LABEL) == Some(&spec.hash))
    }

    /// One sync of a DaemonSet (`syncDaemonSet`: `manage`, then `rollingUpdate`).
    pub(crate) fn sync_daemonset(&mut self, key: &ObjKey) {
        let Some(v) = self.store.get(key) else {
            self.daemonsets.pods.remove(key);
            return;
        };
        let spec = spec_of(v);
        let mut pods = self.pods_by_node(key);
        let nodes = self.should_run(&spec);
        let mut create = vec![];
        let mut delete = vec![];
        for (node, s) in &nodes {
            match pods.get(node) {
                None if s.run => create.push(node.clone()),
                Some(&id) if !s.keep => delete.push(id),
                _ => {}
            }
        }
        // RollingUpdate: pods of an old template go while fewer than maxUnavailable of the
        // desired nodes lack an available pod.
        if let Some(max) = &spec.max_unavailable {
            let desired: Vec<&Arc<str>> = nodes
                .iter()
                .filter(|(_, s)| s.run)
                .map(|(n, _)| n)
                .collect();
            let max = int_or_percent(Some(max), "1", desired.len() as i64, true).max(1);
            let available = |id: &u64| self.pods.get(id).is_some_and(|p| p.is_ready());
            let mut unavailable = desired
                .iter()
                .filter(|n| !pods.get(**n).is_some_and(available))
                .count() as i64;
            for n in desired {
                if unavailable >= max {
                    break;
                }
                if let Some(&id) = pods.get(n)
                    && !self.is_updated(id, &spec)
                    && available(&id)
                    && self.pods[&id].deleting_at.is_none()
                {
                    delete.push(id);
                    unavailable += 1;
                }
            }
        }
        for id in delete {
            let Some(p) = self.pods.get(&id) else {
                continue;
            };
            if p.deleting_at.is_some() {
                continue;
            }
            let name = p.name.to_string();
            self.delete_pod(id, None);
            self.emit(
                "Normal",
                "SuccessfulDelete",
                "DaemonSet",
                &key.namespace,
                &key.name,
                format!("Deleted pod: {name}"),
                "daemonset-controller",
            );
        }
        for node in create {
            let t = pinned(&spec.template, &node);
            let template = Arc::new(PodTemplate::compile(t.get("metadata"), &t["spec"]));
            let name = format!("{}-{}", key.name, self.rng.names.name_suffix(5));
            let owner = Owner {
                kind: "DaemonSet",
                name: key.name.clone(),
                uid: spec.uid.clone(),
            };
            match self.create_pod(&key.namespace, &name, template, Some(owner)) {
                Ok(id) => {
                    pods.insert(node, id);
                    self.emit(
                        "Normal",
                        "SuccessfulCreate",
                        "DaemonSet",
                        &key.namespace,
                        &key.name,
                        format!("Created pod: {name}"),
                        "daemonset-controller",
                    );
                }
                Err(msg) => {
                    self.emit(
                        "Warning",
                        "FailedCreate",
                        "DaemonSet",
                        &key.namespace,
                        &key.name,
                        format!("Error creating: {msg}"),
                        "daemonset-controller",
                    );
                    break;
                }
            }
        }
        self.daemonsets.pods.insert(key.clone(), pods);
    }

    /// The status counts of a stored DaemonSet.
    pub fn daemonset_counts(&self, key: &ObjKey, v: &Value) -> DsCounts {
        let spec = spec_of(v);
        let pods = self.pods_by_node(key);
        let mut c = DsCounts::default();
        // `updateDaemonSetStatus`: a node that should run a daemon pod counts it as current
        // (and ready, updated); one that should not and has one, as misscheduled.
        for (node, s) in self.should_run(&spec) {
            let pod = pods.get(&node).map(|id| (*id, &self.pods[id]));
            if s.run {
                c.desired += 1;
                let Some((id, p)) = pod else { continue };
                c.current += 1;
                c.ready += i64::from(p.is_ready());
                c.updated += i64::from(self.is_updated(id, &spec));
            } else if pod.is_some() {
                c.misscheduled += 1;
            }
        }
        c
    }

    /// The DaemonSets' pods as the node autoscalers place them on nodes to be
    /// ([`kscale_controllers::daemonset::DaemonPod`]).
    pub fn daemon_pod_templates(&self) -> Vec<ds::DaemonPod> {
        self.store
            .list("DaemonSet", None)
            .map(|(key, v)| {
                let spec = spec_of(v);
                let template =
                    PodTemplate::compile(spec.template.get("metadata"), &spec.template["spec"]);
                let priority = self
                    .resolve_priority_class(template.priority_class.as_deref())
                    .map_or(0, |(p, _)| p);
                ds::DaemonPod {
                    namespace: Arc::from(key.namespace.as_str()),
                    name: Arc::from(key.name.as_str()),
                    labels: template.labels.clone(),
                    requests: template.requests,
                    priority,
                    constraints: spec.constraints,
                    node_name: spec.node_name,
                }
            })
            .collect()
    }

    /// The requests of the daemon pods that would run on a Karpenter pool's nodes (its
    /// `daemonOverhead`): the pool's labels and single-valued `In` requirements as the node's
    /// labels, its taints.
    pub fn daemon_overhead(&self, pool: &kscale_controllers::karpenter::Pool) -> Resources {
        if self.store.list("DaemonSet", None).next().is_none() {
            return Resources::ZERO;
        }
        ds::daemon_overhead(&self.daemon_pod_templates(), &ds::pool_node(pool))
    }

    /// A DaemonSet is deleted: its pods go with it (background garbage collection).
    pub(crate) fn daemonset_deleted(&mut self, key: &ObjKey) {
        if let Some(pods) = self.daemonsets.pods.remove(key) {
            for id in pods.into_values() {
                self.delete_pod(id, None);
            }
        }
    }
}
