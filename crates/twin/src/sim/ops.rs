//! Cluster operations behind kubectl verbs: scale, cordon, taint, label, drain, autoscale.
//! Each returns kubectl's stdout line on success and its error text on failure.

use std::sync::Arc;

use kscale_model::{Taint, TaintEffect};
use serde_json::{Value, json};

use super::Sim;
use kscale_cluster::ChangeType;

use super::changes::Topic;
use super::store::ObjKey;
use kscale_kubectl::{qualified_plural_of as kind_plural, qualified_singular_of as kind_ref};

/// Why [`Sim::patch_object`] refused a patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchError {
    /// The object does not exist.
    NotFound,
    /// The patch does not apply or its result is invalid (the API server's message).
    Invalid(String),
}

/// What the API server refuses in an update, worded as kubectl shows it: a changed name or
/// namespace (`apiserver/pkg/endpoints/handlers/patch.go` `checkName`), an object that fails
/// validation ([`crate::validate`]), and a workload's changed selector (immutable in
/// `apps/v1`: `pkg/apis/apps/validation/validation.go` `ValidateDeploymentUpdate` and its
/// siblings).
pub fn check_update(
    kind: &str,
    name: &str,
    current: &Value,
    patched: &Value,
) -> Result<(), String> {
    let meta = |v: &Value, k: &str| {
        v.pointer(&format!("/metadata/{k}"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if meta(patched, "name") != meta(current, "name") {
        return Err(format!(
            "Error from server (BadRequest): the name of the object ({}) does not match the name on the URL ({name})",
            meta(patched, "name").unwrap_or_default()
        ));
    }
    if meta(patched, "namespace") != meta(current, "namespace") {
        return Err("Error from server (BadRequest): the namespace of the provided object does not match the namespace sent on the request".into());
    }
    let mut errors = crate::validate::validate(patched);
    if kind == "Pod" {
        // A pod's spec changes are the update rules' and Elastic Pods' (see `patch_object`).
        errors.retain(|e| !e.field.starts_with("spec"));
    }
    if matches!(
        kind,
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet"
    ) {
        let (old, new) = (
            current.pointer("/spec/selector"),
            patched.pointer("/spec/selector"),
        );
        if new != old {
            errors.push(crate::validate::field::invalid(
                &crate::validate::field::Path::new("spec.selector"),
                new.unwrap_or(&Value::Null),
                "field is immutable",
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(crate::validate::invalid_object_message(kind, name, &errors))
    }
}

impl Sim {
    /// Patches an object as the API server does: the current object as rendered, patched,
    /// then written back through the path that owns it (a node's metadata and spec, a pod's
    /// labels or an Elastic Pods replication, a stored object's spec; `status` is ignored).
    /// Ok(false) when the patch changes nothing. Errors are worded as the API server words
    /// them.
    pub fn patch_object(
        &mut self,
        kind: &str,
        ns: &str,
        name: &str,
        patch: &Value,
        t: kscale_kubectl::PatchType,
    ) -> Result<bool, PatchError> {
        let e = PatchError::Invalid;
        let name = name.to_string();
        let current = self.get_one(kind, ns, &name).ok_or(PatchError::NotFound)?;
        let patched = kscale_kubectl::apply_patch_value(&current, patch, t)
            .map_err(|err| e(err.to_string()))?;
        if patched == current {
            return Ok(false);
        }
        check_update(kind, &name, &current, &patched).map_err(e)?;
        match kind {
            "Node" => {
                let n = self.nodes.get_mut(name.as_str()).expect("exists");
                n.info.unschedulable = patched
                    .pointer("/spec/unschedulable")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                n.info.taints = super::model::taints(patched.pointer("/spec/taints")).into();
                if let Some(l) = patched
                    .pointer("/metadata/labels")
                    .and_then(Value::as_object)
                {
                    n.info.labels = Arc::new(
                        l.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                            .collect(),
                    );
                }
                self.store.record(Topic::NodeMetadata);
                self.node_changed(&name, ChangeType::Modified);
                self.cluster_changed();
            }
            "Pod" => {
                let (old_spec, new_spec) = (
                    current.get("spec").unwrap_or(&Value::Null),
                    patched.get("spec").unwrap_or(&Value::Null),
                );
                if old_spec != new_spec && super::elastic::only_elastic_changes(old_spec, new_spec)
                {
                    // Elastic Pods: container replicas, images and new containers change in
                    // place, through the replication phases.
                    let id = self.pod_names[&(Arc::from(ns), Arc::from(name.as_str()))];
                    self.propose_replication(id, new_spec)
                        .map_err(|m| e(format!("The Pod \"{name}\" is invalid: {m}")))?;
                } else if old_spec != new_spec {
                    return Err(e(format!(
                        "The Pod \"{name}\" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations) or `spec.terminationGracePeriodSeconds`"
                    )));
                }
                let labels: Vec<(String, String)> = patched
                    .pointer("/metadata/labels")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                let old: Vec<String> = current
                    .pointer("/metadata/labels")
                    .and_then(Value::as_object)
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                let removed: Vec<String> = old
                    .into_iter()
                    .filter(|k| !labels.iter().any(|(l, _)| l == k))
                    .collect();
                self.set_metadata("labels", "Pod", ns, &name, &labels, &removed, true)
                    .map_err(e)?;
            }
            _ => {
                let mut patched = patched;
                if let Some(o) = patched.as_object_mut() {
                    o.remove("status");
                }
                let canonical = crate::manifest::canonicalize_json(&patched)
                    .map_err(|m| e(format!("The {kind} \"{name}\" is invalid: {m}")))?;
                self.apply_value(canonical, Some(patched)).map_err(e)?;
            }
        }
        Ok(true)
    }

    /// `kubectl scale`: sets `spec.replicas` of a Deployment, ReplicaSet or StatefulSet.
    pub fn scale(
        &mut self,
        kind: &str,
        ns: &str,
        name: &str,
        replicas: i64,
        current: Option<i64>,
    ) -> Result<String, String> {
        if !matches!(kind, "Deployment" | "ReplicaSet" | "StatefulSet") {
            return Err(format!(
                "error: cannot scale {}: the server could not find the requested resource",
                kind_ref(kind)
            ));
        }
        if replicas < 0 {
            return Err("error: The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0".into());
        }
        let key = ObjKey::new(kind, ns, name);
        let Some(v) = self.store.get(&key) else {
            return Err(format!(
                "Error from server (NotFound): {} \"{name}\" not found",
                kind_plural(kind)
            ));
        };
        let have = v
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        if let Some(c) = current
            && c != have
        {
            return Err(format!("error: Expected replicas to be {c}, was {have}"));
        }
        self.store.update_replicas(&key, replicas, |_| {});
        self.mark_dirty(key);
        Ok(format!("{}/{name} scaled", kind_ref(kind)))
    }

    /// `kubectl cordon` / `uncordon`.
    pub fn set_unschedulable(&mut self, node: &str, on: bool) -> Result<String, String> {
        let Some(n) = self.nodes.get_mut(node) else {
            return Err(format!(
                "Error from server (NotFound): nodes \"{node}\" not found"
            ));
        };
        let changed = n.info.unschedulable != on;
        n.info.unschedulable = on;
        if changed {
            self.node_changed(node, ChangeType::Modified);
        }
        if !on {
            self.cluster_changed();
        }
        let verb = if on { "cordoned" } else { "uncordoned" };
        Ok(if changed {
            format!("node/{node} {verb}")
        } else {
            format!("node/{node} already {verb}")
        })
    }

    /// `kubectl taint nodes NODE key=value:Effect` and `key[:Effect]-`.
    pub fn taint(
        &mut self,
        node: &str,
        add: Vec<Taint>,
        remove: Vec<(String, Option<TaintEffect>)>,
    ) -> Result<String, String> {
        let Some(n) = self.nodes.get_mut(node) else {
            return Err(format!(
                "Error from server (NotFound): nodes \"{node}\" not found"
            ));
        };
        for (k, e) in &remove {
            let before = n.info.taints.len();
            Arc::make_mut(&mut n.info.taints)
                .retain(|t| !(t.key == *k && e.is_none_or(|e| e == t.effect)));
            if n.info.taints.len() == before {
                return Err(format!("error: taint {k:?} not found"));
            }
        }
        for t in add {
            let taints = Arc::make_mut(&mut n.info.taints);
            taints.retain(|x| !(x.key == t.key && x.effect == t.effect));
            taints.push(t);
        }
        self.node_changed(node, ChangeType::Modified);
        self.cluster_changed();
        Ok(format!(
            "node/{node} {}",
            if remove.is_empty() {
                "tainted"
            } else {
                "untainted"
            }
        ))
    }

    /// `kubectl label` / `annotate` on nodes, pods and stored objects.
    pub fn set_metadata(
        &mut self,
        field: &str,
        kind: &str,
        ns: &str,
        name: &str,
        set: &[(String, String)],
        remove: &[String],
        overwrite: bool,
    ) -> Result<String, String> {
        let verb = if field == "labels" {
            "labeled"
        } else {
            "annotated"
        };
        let check = |existing: Option<&String>, k: &str| -> Result<(), String> {
            match existing {
                Some(_) if !overwrite => Err(format!(
                    "error: '{k}' already has a value ({}), and --overwrite is false",
                    existing.map(String::as_str).unwrap_or("")
                )),
                _ => Ok(()),
            }
        };
        match kind {
            "Node" => {
                let Some(n) = self.nodes.get_mut(name) else {
                    return Err(format!(
                        "Error from server (NotFound): nodes \"{name}\" not found"
                    ));
                };
                let map = if field == "labels" {
                    Arc::make_mut(&mut n.info.labels)
                } else {
                    &mut n.annotations
                };
                for (k, v) in set {
                    if map.get(k) != Some(v) {
                        check(map.get(k), k)?;
                    }
                }
                for (k, v) in set {
                    map.insert(k.clone(), v.clone());
                }
                for k in remove {
                    map.remove(k);
                }
                self.store.record(Topic::NodeMetadata);
                self.node_changed(name, ChangeType::Modified);
                self.cluster_changed();
            }
            "Pod" => {
                let Some(id) = self
                    .pod_names
                    .get(&(Arc::from(ns), Arc::from(name)))
                    .copied()
                else {
                    return Err(format!(
                        "Error from server (NotFound): pods \"{name}\" not found"
                    ));
                };
                let p = self.pods.get_mut(&id).expect("indexed pod");
                if field == "labels" {
                    let mut labels = (*p.labels).clone();
                    for (k, v) in set {
                        if labels.get(k) != Some(v) {
                            check(labels.get(k), k)?;
                        }
                        labels.insert(k.clone(), v.clone());
                    }
                    for k in remove {
                        labels.remove(k);
                    }
                    p.labels = Arc::new(labels);
                } else {
                    let mut t = (*p.template).clone();
                    for (k, v) in set {
                        t.annotations.insert(k.clone(), v.clone());
                    }
                    for k in remove {
                        t.annotations.remove(k);
                    }
                    p.template = Arc::new(t);
                    self.karpenter_disruption.pod_annotations_changed();
                }
                self.pod_changed(id, ChangeType::Modified);
            }
            _ => {
                let key = ObjKey::new(
                    kind,
                    if super::api::is_cluster_scoped(kind) {
                        ""
                    } else {
                        ns
                    },
                    name,
                );
                let Some(v) = self.store.get(&key) else {
                    return Err(format!(
                        "Error from server (NotFound): {} \"{name}\" not found",
                        kind_plural(kind)
                    ));
                };
                for (k, val) in set {
                    let old = v
                        .pointer(&format!("/metadata/{field}"))
                        .and_then(|m| m.get(k))
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    if old.as_deref() != Some(val.as_str()) {
                        check(old.as_ref(), k)?;
                    }
                }
                self.store.update(&key, |v| {
                    if v["metadata"].get(field).is_none() {
                        v["metadata"][field] = json!({});
                    }
                    for (k, val) in set {
                        v["metadata"][field][k] = json!(val);
                    }
                    for k in remove {
                        if let Some(m) = v["metadata"][field].as_object_mut() {
                            m.remove(k);
                        }
                    }
                });
            }
        }
        Ok(format!("{}/{name} {verb}", kind_ref(kind)))
    }

    /// `kubectl drain`: cordon, then evict every pod except DaemonSet pods. Pods without a
    /// controller need `--force`, as in kubectl.
    pub fn drain(
        &mut self,
        node: &str,
        force: bool,
        grace_ms: Option<u64>,
    ) -> Result<String, String> {
        if !self.nodes.contains_key(node) {
            return Err(format!(
                "Error from server (NotFound): nodes \"{node}\" not found"
            ));
        }
        let ids: Vec<u64> = self.nodes[node].info.pods.iter().map(|p| p.id).collect();
        let unmanaged: Vec<String> = ids
            .iter()
            .filter_map(|id| self.pods.get(id))
            .filter(|p| p.owner.is_none())
            .map(|p| format!("{}/{}", p.namespace, p.name))
            .collect();
        if !unmanaged.is_empty() && !force {
            let mut out = self.set_unschedulable(node, true)?;
            out.push('\n');
            return Err(format!(
                "{out}error: unable to drain node \"{node}\" due to error: cannot delete Pods that declare no controller (use --force to override): {}, continuing command...\nThere are pending nodes to be drained:\n {node}\ncannot delete Pods that declare no controller (use --force to override): {}",
                unmanaged.join(", "),
                unmanaged.join(", ")
            ));
        }
        let mut out = vec![self.set_unschedulable(node, true)?];
        for id in ids {
            let Some(p) = self.pods.get(&id) else {
                continue;
            };
            if p.owner.as_ref().is_some_and(|o| o.kind == "DaemonSet") || p.deleting_at.is_some() {
                continue;
            }
            let (ns, name) = (p.namespace.to_string(), p.name.to_string());
            out.push(format!("evicting pod {ns}/{name}"));
            self.emit(
                "Normal",
                "Evicted",
                "Pod",
                &ns,
                &name,
                "Evicted by kubectl drain".into(),
                "kubectl",
            );
            self.delete_pod(id, grace_ms);
            out.push(format!("pod/{name} evicted"));
        }
        out.push(format!("node/{node} drained"));
        Ok(out.join("\n"))
    }

    /// `kubectl autoscale`: creates an autoscaling/v2 HPA with a CPU utilization target.
    pub fn autoscale(
        &mut self,
        kind: &str,
        ns: &str,
        name: &str,
        hpa_name: Option<&str>,
        min: Option<i32>,
        max: i32,
        cpu_percent: Option<i32>,
    ) -> Result<String, String> {
        if self.store.get(&ObjKey::new(kind, ns, name)).is_none() {
            return Err(format!(
                "Error from server (NotFound): {} \"{name}\" not found",
                kind_plural(kind)
            ));
        }
        let hpa_name = hpa_name.unwrap_or(name);
        let key = ObjKey::new("HorizontalPodAutoscaler", ns, hpa_name);
        if self.store.get(&key).is_some() {
            return Err(format!(
                "Error from server (AlreadyExists): horizontalpodautoscalers.autoscaling \"{hpa_name}\" already exists"
            ));
        }
        let min = min.unwrap_or(1);
        if max < 1 || max < min {
            return Err(format!(
                "error: --max=MAXPODS is required and must be at least 1, max: {max}"
            ));
        }
        let mut spec = json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": name},
            "minReplicas": min, "maxReplicas": max,
        });
        if let Some(c) = cpu_percent {
            spec["metrics"] = json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": c}}}]);
        }
        let v = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": hpa_name, "namespace": ns}, "spec": spec});
        self.apply_value(v, None)?;
        Ok(format!(
            "horizontalpodautoscaler.autoscaling/{hpa_name} autoscaled"
        ))
    }
}
