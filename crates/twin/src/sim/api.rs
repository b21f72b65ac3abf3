//! The twin's API surface: applying and deleting objects, nodes, and rendering objects as the
//! API server would return them (for `kubectl get -o json` and the printers).

use std::collections::BTreeMap;
use std::sync::Arc;

use kscale_controllers::scheduler::NodeInfo;
use kscale_model::quantity::{format_bytes, format_cpu_milli};
use kscale_model::{Resources, Taint, TaintEffect};
use serde_json::{Value, json};

use super::Sim;
use kscale_cluster::ChangeType;

use super::changes::Topic;
use super::model::{Node, Pod, PodPhase, PodTemplate};
use super::store::ObjKey;
use crate::cloud;

/// Kinds that are cluster-scoped (no namespace).
pub fn is_cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "Namespace"
            | "Node"
            | "PriorityClass"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "PersistentVolume"
            | "StorageClass"
            | "CustomResourceDefinition"
            | "NodePool"
            | "Provisioner"
            | "NodeClaim"
            | "EC2NodeClass"
            | "AWSNodeTemplate"
    )
}

/// What an apply did, in kubectl's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// A new object.
    Created,
    /// An existing object changed.
    Configured,
    /// Nothing changed.
    Unchanged,
}

impl ApplyOutcome {
    /// `created`, `configured` or `unchanged`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ApplyOutcome::Created => "created",
            ApplyOutcome::Configured => "configured",
            ApplyOutcome::Unchanged => "unchanged",
        }
    }
}

impl Sim {
    /// Built-in objects of every cluster: namespaces and the system PriorityClasses.
    pub fn install_builtins(&mut self) {
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let v = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
            self.put_generic(ObjKey::new("Namespace", "", ns), v);
        }
        for (name, value, desc) in [
            (
                "system-cluster-critical",
                2_000_000_000,
                "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
            ),
            (
                "system-node-critical",
                2_000_001_000,
                "Used for system critical pods that must not be moved from their current node.",
            ),
        ] {
            let v = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name}, "value": value, "description": desc, "preemptionPolicy": "PreemptLowerPriority"});
            self.put_generic(ObjKey::new("PriorityClass", "", name), v);
        }
    }

    fn put_generic(&mut self, key: ObjKey, v: Value) -> bool {
        let created = self.timestamp(self.now);
        let uids = &mut self.rng.uids;
        self.store.put(key, v, || uids.uuid(), created)
    }

    /// Creates the scenario's `spec.nodes`.
    pub fn create_scenario_nodes(&mut self) -> Result<(), crate::error::InputError> {
        let specs = self.scenario.doc.spec.nodes.clone();
        let mut zone_rr = 0usize;
        for spec in specs {
            let capacity_type = spec.capacity_type.as_deref().unwrap_or("on-demand");
            let shape = spec
                .shape(capacity_type)
                .expect("validated when loading the scenario");
            for i in 0..spec.count {
                let name = if spec.count == 1 {
                    spec.name.clone()
                } else {
                    format!("{}-{}", spec.name, i + 1)
                };
                let zone = spec.zone.clone().unwrap_or_else(|| {
                    let zones = self.zones();
                    let z = zones[zone_rr % zones.len()].clone();
                    zone_rr += 1;
                    z
                });
                let taints = spec
                    .taints
                    .iter()
                    .map(|t| Taint {
                        key: t.key.clone(),
                        value: t.value.clone().unwrap_or_default(),
                        effect: TaintEffect::parse(&t.effect).expect("validated"),
                    })
                    .collect();
                self.add_node(
                    &name,
                    shape.clone(),
                    capacity_type,
                    &zone,
                    spec.labels.clone(),
                    taints,
                );
            }
        }
        Ok(())
    }

    /// The cloud's region (default `us-east-1`).
    pub fn region(&self) -> String {
        self.cloud.region()
    }

    /// The cloud's zones.
    pub fn zones(&self) -> Vec<String> {
        self.cloud.zones()
    }

    /// Adds a Ready node of an instance type, with the labels real EKS nodes carry.
    pub fn add_node(
        &mut self,
        name: &str,
        shape: cloud::NodeShape,
        capacity_type: &str,
        zone: &str,
        extra_labels: BTreeMap<String, String>,
        taints: Vec<Taint>,
    ) {
        let region = self.region();
        let mut labels = BTreeMap::new();
        for (k, v) in [
            ("kubernetes.io/hostname", name.to_string()),
            ("kubernetes.io/os", "linux".into()),
            ("kubernetes.io/arch", "amd64".into()),
            ("beta.kubernetes.io/os", "linux".into()),
            ("beta.kubernetes.io/arch", "amd64".into()),
            (
                "node.kubernetes.io/instance-type",
                shape.instance_type.clone(),
            ),
            (
                "beta.kubernetes.io/instance-type",
                shape.instance_type.clone(),
            ),
            ("topology.kubernetes.io/zone", zone.to_string()),
            ("topology.kubernetes.io/region", region.clone()),
            ("failure-domain.beta.kubernetes.io/zone", zone.to_string()),
            ("failure-domain.beta.kubernetes.io/region", region.clone()),
            ("karpenter.sh/capacity-type", capacity_type.to_string()),
            (
                "eks.amazonaws.com/capacityType",
                if capacity_type == "spot" {
                    "SPOT".into()
                } else {
                    "ON_DEMAND".into()
                },
            ),
        ] {
            labels.insert(k.to_string(), v);
        }
        labels.extend(extra_labels);
        let cloud::NodeShape {
            instance_type,
            capacity,
            allocatable,
            hourly_price,
        } = shape;
        let pods_stamp = self.store.record(Topic::NodePods);
        let node = Node {
            info: NodeInfo {
                name: Arc::from(name),
                labels: labels.into(),
                taints: taints.into(),
                unschedulable: false,
                ready: true,
                allocatable,
                requested: Resources::ZERO,
                pods: vec![],
                nominated: vec![],
            },
            uid: self.rng.uids.uuid(),
            created: self.now,
            last_pod_event: self.now,
            capacity,
            instance_type,
            capacity_type: capacity_type.to_string(),
            hourly_price,
            images: Default::default(),
            sandbox_free_at: kscale_model::SimTime::ZERO,
            pods_stamp,
            annotations: Default::default(),
        };
        let spot = node.capacity_type == "spot";
        // A node stored under the same name is replaced: counted out first.
        self.node_kind_counted(name, false);
        self.nodes.insert(Arc::from(name), node);
        self.node_kind_counted(name, true);
        self.karpenter_node_counted(name, true);
        if spot {
            self.arm_spot_interruption(name);
        }
        self.node_changed(name, ChangeType::Added);
        self.count("nodesCreated");
        self.emit(
            "Normal",
            "RegisteredNode",
            "Node",
            "",
            name,
            format!("Node {name} event: Registered Node {name} in Controller"),
            "node-controller",
        );
        self.cluster_changed();
    }

    /// Removes a node: its pods are deleted at once (pod garbage collection) and its cost closes.
    pub fn remove_node(&mut self, name: &str) -> bool {
        let Some(node) = self.nodes.get(name) else {
            return false;
        };
        let cost = node.hourly_price * self.now.since(node.created) as f64 / 3_600_000.0;
        let ids: Vec<u64> = node.info.pods.iter().map(|p| p.id).collect();
        for id in ids {
            if let Some(p) = self.pods.get_mut(&id) {
                p.node = None;
                let g = p.generation;
                self.pod_gone(id, g);
            }
        }
        self.closed_cost += cost;
        self.karpenter_node_counted(name, false);
        self.node_kind_counted(name, false);
        if let Some(node) = self.nodes.remove(name) {
            for p in &node.info.pods {
                self.note_unbound(p.priority);
            }
        }
        self.store.record(Topic::Capacity);
        self.node_changed(name, ChangeType::Deleted);
        self.emit(
            "Normal",
            "RemovingNode",
            "Node",
            "",
            name,
            format!("Node {name} event: Removing Node {name} from Controller"),
            "node-controller",
        );
        true
    }

    /// Applies an object (create or update), as `kubectl apply` does.
    pub fn apply_value(
        &mut self,
        mut v: Value,
        raw: Option<Value>,
    ) -> Result<ApplyOutcome, String> {
        // Extension fields the typed parse dropped: the Elastic Pod `replica` of containers.
        if let Some(raw) = &raw {
            super::elastic::carry_replicas(&mut v, raw, self.elastic.max_replicas)?;
        }
        super::defaulting::apply_defaults(&mut v);
        let kind = v
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let name = v
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let ns = if is_cluster_scoped(&kind) {
            String::new()
        } else {
            v.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_string()
        };
        if !ns.is_empty()
            && kind != "Namespace"
            && self.store.get(&ObjKey::new("Namespace", "", &ns)).is_none()
        {
            return Err(format!("namespaces \"{ns}\" not found"));
        }
        match kind.as_str() {
            "Node" => self.apply_node(&name, &v),
            "Pod" => {
                if let Some(id) = self
                    .pod_names
                    .get(&(Arc::from(ns.as_str()), Arc::from(name.as_str())))
                {
                    let id = *id;
                    let current = self.pod_spec_template(id).spec.clone();
                    let new = v.get("spec").cloned().unwrap_or(Value::Null);
                    return if current == new {
                        Ok(ApplyOutcome::Unchanged)
                    } else if super::elastic::only_elastic_changes(&current, &new) {
                        self.propose_replication(id, &new)
                            .map(|_| ApplyOutcome::Configured)
                            .map_err(|m| format!("Pod \"{name}\" is invalid: {m}"))
                    } else {
                        Err(format!(
                            "Pod \"{name}\" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations) or `spec.terminationGracePeriodSeconds`"
                        ))
                    };
                }
                let t = Arc::new(PodTemplate::compile(
                    v.get("metadata"),
                    v.get("spec").unwrap_or(&Value::Null),
                ));
                self.create_pod(&ns, &name, t, None)
                    .map(|_| ApplyOutcome::Created)
            }
            _ => {
                let key = ObjKey::new(&kind, &ns, &name);
                let before = self.store.get(&key).cloned();
                if let Some(b) = &before {
                    let strip = |x: &Value| {
                        let mut x = x.clone();
                        if let Some(o) = x.as_object_mut() {
                            o.remove("metadata");
                            o.remove("status");
                        }
                        x
                    };
                    let labels_same = b.pointer("/metadata/labels")
                        == v.pointer("/metadata/labels")
                        && b.pointer("/metadata/annotations") == v.pointer("/metadata/annotations");
                    if strip(b) == strip(&v) && labels_same {
                        return Ok(ApplyOutcome::Unchanged);
                    }
                }
                if kind == "ElasticPodAutoscaler" {
                    super::elastic_autoscaler::parse(&v, self.elastic.max_replicas)?;
                }
                if kind == "ReplicaSet" {
                    self.put_replicaset(key, v, None);
                } else {
                    // Only this HPA can newly need the custom metrics pipeline: every HPA
                    // written before was checked when it was written.
                    let custom = kind == "HorizontalPodAutoscaler"
                        && !self.custom_metrics.enabled
                        && super::hpa::uses_custom_metrics(&v);
                    let spec_changed = before
                        .as_ref()
                        .is_none_or(|b| b.get("spec") != v.get("spec"));
                    self.put_generic(key.clone(), v);
                    if kind == "HorizontalPodAutoscaler" {
                        self.start_hpa_sync(custom);
                        if spec_changed {
                            let at = self.now.plus_millis(self.lat.controller_reaction_ms);
                            self.queue.push(at, super::Event::HpaSyncOne(key.clone()));
                        }
                    }
                    if kind == "ElasticPodAutoscaler" {
                        self.start_elastic_autoscaler();
                    }
                    if kind == "VerticalPodAutoscaler" {
                        self.start_vpa();
                    }
                    if kind == "PodDisruptionBudget" && before.is_none() {
                        self.pdb_created(&key);
                    }
                    if kind == "Deployment" {
                        self.maybe_start_cpa(&key);
                        self.maybe_start_ca(&key);
                        self.mark_dirty(key);
                    } else if kind == "DaemonSet" || kind == "StatefulSet" {
                        self.mark_dirty(key);
                    }
                }
                Ok(if before.is_some() {
                    ApplyOutcome::Configured
                } else {
                    ApplyOutcome::Created
                })
            }
        }
    }

    fn apply_node(&mut self, name: &str, v: &Value) -> Result<ApplyOutcome, String> {
        if self.nodes.contains_key(name) {
            return Ok(ApplyOutcome::Unchanged);
        }
        let labels: BTreeMap<String, String> = v
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, x)| (k.clone(), x.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let it_name = labels.get("node.kubernetes.io/instance-type").cloned();
        let it = it_name.as_deref().and_then(cloud::instance_type);
        let taints: Vec<Taint> = super::model::taints(v.pointer("/spec/taints"));
        let zone = labels
            .get("topology.kubernetes.io/zone")
            .cloned()
            .unwrap_or_else(|| self.zones()[0].clone());
        let ct = labels
            .get("karpenter.sh/capacity-type")
            .cloned()
            .unwrap_or_else(|| "on-demand".into());
        let shape = match it {
            Some(it) => cloud::NodeShape::of(it, &ct),
            None => {
                // A node without a catalog instance type: take capacity from its status.
                let cap = v
                    .pointer("/status/allocatable")
                    .or(v.pointer("/status/capacity"));
                let q = |k: &str| {
                    cap.and_then(|c| c.get(k))
                        .and_then(Value::as_str)
                        .and_then(|s| kscale_model::Quantity::parse(s).ok())
                };
                let (Some(cpu), Some(mem)) = (q("cpu"), q("memory")) else {
                    return Err(format!(
                        "node {name:?}: set label node.kubernetes.io/instance-type to a catalog type, or status.allocatable cpu and memory"
                    ));
                };
                let allocatable = Resources {
                    cpu_milli: cpu.milli(),
                    memory: mem.value(),
                    pods: q("pods").map(|p| p.value()).unwrap_or(110),
                };
                cloud::NodeShape {
                    instance_type: "custom".into(),
                    capacity: allocatable,
                    allocatable,
                    hourly_price: 0.0,
                }
            }
        };
        self.add_node(name, shape, &ct, &zone, labels, taints);
        Ok(ApplyOutcome::Created)
    }

    /// Deletes an object by kind/namespace/name; returns false if it does not exist.
    pub fn delete_object(
        &mut self,
        kind: &str,
        ns: &str,
        name: &str,
        grace_ms: Option<u64>,
    ) -> bool {
        match kind {
            "Pod" => match self
                .pod_names
                .get(&(Arc::from(ns), Arc::from(name)))
                .copied()
            {
                Some(id) => {
                    self.delete_pod(id, grace_ms);
                    true
                }
                None => false,
            },
            "Node" => self.remove_node(name),
            _ => {
                let ns = if is_cluster_scoped(kind) { "" } else { ns };
                let key = ObjKey::new(kind, ns, name);
                let Some(v) = self.store.remove(&key) else {
                    return false;
                };
                let uid = v
                    .pointer("/metadata/uid")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                // Garbage collection of dependents (background propagation).
                if kind == "Deployment" {
                    let owned: Vec<ObjKey> = self
                        .store
                        .list("ReplicaSet", Some(ns))
                        .filter(|(_, r)| {
                            r.pointer("/metadata/ownerReferences/0/uid")
                                .and_then(Value::as_str)
                                == Some(uid.as_str())
                        })
                        .map(|(k, _)| k.clone())
                        .collect();
                    for k in owned {
                        self.delete_object("ReplicaSet", &k.namespace, &k.name, None);
                    }
                }
                if kind == "DaemonSet" {
                    self.daemonset_deleted(&key);
                }
                if kind == "StatefulSet" {
                    self.statefulset_deleted(&key);
                }
                if kind == "ReplicaSet" {
                    self.store.record(Topic::ReplicaSetCaches);
                    if let Some(c) = self.rs_cache.remove(&key) {
                        for id in c.pods {
                            self.delete_pod(id, None);
                        }
                    }
                    self.workloads.forget_creates(&key);
                }
                true
            }
        }
    }

    /// Renders a pod as the API server would return it (with what its admission plugins add:
    /// [`admission_defaults`]).
    pub fn render_pod(&self, p: &Pod) -> Value {
        let ts = |t: Option<kscale_model::SimTime>| {
            t.map(|t| Value::String(self.timestamp(t)))
                .unwrap_or(Value::Null)
        };
        let mut spec = self.pod_spec_template(p.id).spec.clone();
        if let Some(n) = &p.node {
            spec["nodeName"] = json!(n.as_ref());
        }
        spec["priority"] = json!(p.priority);
        // Set by the Priority admission plugin on every pod (a `Never` class's pods carry
        // `Never` in their template already; see `Sim::create_pod`).
        if spec.get("preemptionPolicy").is_none() {
            spec["preemptionPolicy"] = json!("PreemptLowerPriority");
        }
        if spec.get("schedulerName").is_none() {
            spec["schedulerName"] = json!("default-scheduler");
        }
        if spec.get("restartPolicy").is_none() {
            spec["restartPolicy"] = json!("Always");
        }
        if spec.get("terminationGracePeriodSeconds").is_none() {
            spec["terminationGracePeriodSeconds"] = json!(30);
        }
        admission_defaults(&mut spec, &p.uid);
        let mut meta = json!({"name": p.name.as_ref(), "namespace": p.namespace.as_ref(), "uid": p.uid, "creationTimestamp": self.timestamp(p.created), "resourceVersion": p.id.to_string()});
        if !p.labels.is_empty() {
            meta["labels"] = json!(p.labels.as_ref());
        }
        // The PodTopologyLabels admission plugin (v1.37, `plugin/pkg/admission/podtopologylabels`,
        // on by default) copies the node's zone and region labels onto a pod at its binding.
        if let Some(n) = p.node.as_ref().and_then(|n| self.nodes.get(n)) {
            for key in [
                "topology.kubernetes.io/region",
                "topology.kubernetes.io/zone",
            ] {
                if let Some(v) = n.info.labels.get(key) {
                    if !meta["labels"].is_object() {
                        meta["labels"] = json!({});
                    }
                    meta["labels"][key] = json!(v);
                }
            }
        }
        let mut annotations = p.template.annotations.clone();
        if let Some(adj) = self.oom_score_annotation(p.id) {
            annotations.insert("kscale.io/oom-score-adj".into(), adj);
        }
        if !annotations.is_empty() {
            meta["annotations"] = json!(annotations);
        }
        if let Some(o) = &p.owner {
            // A StatefulSet names its pods itself (`<set>-<ordinal>`).
            if o.kind != "StatefulSet" {
                meta["generateName"] = json!(format!("{}-", o.name));
            }
            meta["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": o.kind, "name": o.name, "uid": o.uid, "controller": true, "blockOwnerDeletion": true}]);
        }
        if let Some(d) = p.deleting_at {
            meta["deletionTimestamp"] = json!(self.timestamp(d));
            meta["deletionGracePeriodSeconds"] = json!(p.template.grace_ms / 1000);
        }
        let running = p.phase == PodPhase::Running;
        let ready = p.is_ready();
        let cond = |t: &str, ok: bool, at: Option<kscale_model::SimTime>| json!({"type": t, "status": if ok { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": ts(at.or(Some(p.created)))});
        let mut conditions = vec![];
        match (&p.node, &p.unschedulable) {
            (None, Some(msg)) => conditions.push(json!({"type": "PodScheduled", "status": "False", "lastProbeTime": null, "lastTransitionTime": ts(Some(p.created)), "reason": "Unschedulable", "message": msg})),
            (None, None) => {}
            (Some(_), _) => {
                // The kubelet's order (`kubelet_pods.go` `generateAPIPodStatus`): the resize
                // conditions, then the ones it generates.
                conditions.extend(self.resize_conditions(p.id));
                conditions.push(cond("PodReadyToStartContainers", p.started_at.is_some(), p.started_at));
                conditions.push(cond("Initialized", true, p.scheduled_at));
                conditions.push(cond("Ready", ready, p.ready_at.or(p.scheduled_at)));
                conditions.push(cond("ContainersReady", ready, p.ready_at.or(p.scheduled_at)));
                conditions.push(cond("PodScheduled", true, p.scheduled_at));
            }
        }
        // The resources each container runs with (the kubelet's `resources` and
        // `allocatedResources`, `convertToAPIContainerStatuses`): the running template's
        // until a resize is applied; the allocation is the new one once it is admitted.
        let spec_resources =
            |t: &super::model::PodTemplate, k: usize| -> serde_json::Map<String, Value> {
                let mut out = serde_json::Map::new();
                let r = t.spec.pointer(&format!("/containers/{k}/resources"));
                for key in ["limits", "requests"] {
                    if let Some(v) = r
                        .and_then(|r| r.get(key))
                        .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
                    {
                        out.insert(key.into(), v.clone());
                    }
                }
                out
            };
        let allocated_template = self
            .resizes
            .pods
            .get(&p.id)
            .filter(|r| r.state == super::resize::ResizeState::InProgress)
            .map(|r| r.desired.clone());
        // One status per running container instance (Elastic Pods: `app`, `app-1`, …).
        let statuses: Vec<Value> = p
            .template
            .containers
            .iter()
            .enumerate()
            .flat_map(|(k, c)| (0..c.replica).map(move |i| (k, c, i)))
            .map(|(k, c, i)| {
                let inst = kscale_controllers::elastic::instance_name(&c.name, i);
                let (started, extra) = self
                    .elastic
                    .instances
                    .get(&(p.id, inst.clone()))
                    .map_or((p.started_at, 0), |(t, r)| (Some(*t), *r));
                let state = if running {
                    json!({"running": {"startedAt": ts(started)}})
                } else {
                    json!({"waiting": {"reason": "ContainerCreating"}})
                };
                let resources = spec_resources(&p.template, k);
                let allocated = spec_resources(allocated_template.as_deref().unwrap_or(&p.template), k);
                let mut s = json!({"name": inst, "image": c.image, "imageID": "", "ready": ready, "restartCount": p.restarts + extra, "started": running, "state": state});
                if running {
                    // As kscale's kubelets on a real control plane name them.
                    s["containerID"] = json!(format!("containerd://{}-{inst}", p.uid));
                }
                if let Some(requests) = allocated.get("requests") {
                    s["allocatedResources"] = requests.clone();
                }
                s["resources"] = Value::Object(resources);
                s
            })
            .collect();
        let mut status = json!({"phase": p.phase.api_phase(), "conditions": conditions, "qosClass": p.template.qos.as_str()});
        if let Some(r) = self.elastic.pods.get(&p.id) {
            status["replicationPhase"] = json!(r.phase.as_str());
            if let Some(m) = &r.message {
                status["replicationMessage"] = json!(m);
            }
        }
        if p.node.is_some() {
            let host_ip = self.node_ip(p.node.as_deref().unwrap_or(""));
            status["hostIP"] = json!(host_ip);
            status["hostIPs"] = json!([{"ip": host_ip}]);
            let ip = format!("10.1.{}.{}", (p.id / 250) % 250, p.id % 250 + 2);
            status["podIP"] = json!(ip);
            status["podIPs"] = json!([{"ip": ip}]);
            status["startTime"] = ts(p.scheduled_at);
            status["containerStatuses"] = json!(statuses);
        }
        if let Some(n) = &p.nominated {
            status["nominatedNodeName"] = json!(n.as_ref());
        }
        if let Some(m) = &p.evicted {
            status["reason"] = json!("Evicted");
            status["message"] = json!(m);
            // Containers are gone: kubectl shows the pod's reason, `Evicted`.
            if let Some(o) = status.as_object_mut() {
                o.remove("containerStatuses");
            }
        }
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status})
    }

    fn node_ip(&self, name: &str) -> String {
        let idx = self
            .nodes
            .keys()
            .position(|n| n.as_ref() == name)
            .unwrap_or(0);
        format!("10.0.{}.{}", idx / 250, idx % 250 + 10)
    }

    /// Renders a node as the API server would return it.
    pub fn render_node(&self, n: &Node) -> Value {
        let r = |x: &Resources| json!({"cpu": format_cpu_milli(x.cpu_milli), "memory": format_bytes(x.memory), "pods": x.pods.to_string(), "ephemeral-storage": "20Gi"});
        let taints: Vec<Value> = n
            .info
            .taints
            .iter()
            .map(|t| {
                let mut v = json!({"key": t.key, "effect": t.effect.as_str()});
                if !t.value.is_empty() {
                    v["value"] = json!(t.value);
                }
                v
            })
            .collect();
        let mut spec = json!({"providerID": format!("aws:///{}/i-{}", n.info.labels.get("topology.kubernetes.io/zone").cloned().unwrap_or_default(), &n.uid.replace('-', "")[..17])});
        if !taints.is_empty() {
            spec["taints"] = json!(taints);
        }
        if n.info.unschedulable {
            spec["unschedulable"] = json!(true);
        }
        let created = self.timestamp(n.created);
        json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": n.info.name.as_ref(), "uid": n.uid, "creationTimestamp": created, "labels": *n.info.labels, "annotations": n.annotations, "resourceVersion": "1"},
            "spec": spec,
            "status": {
                "capacity": r(&n.capacity),
                "allocatable": r(&n.info.allocatable),
                "conditions": [{"type": "Ready", "status": if n.info.ready { "True" } else { "False" }, "reason": if n.info.ready { "KubeletReady" } else { "KubeletNotReady" }, "message": if n.info.ready { "kubelet is posting ready status" } else { "kubelet is not ready" }, "lastHeartbeatTime": self.timestamp(self.now), "lastTransitionTime": created}],
                "addresses": [{"type": "InternalIP", "address": self.node_ip(&n.info.name)}, {"type": "Hostname", "address": n.info.name.as_ref()}],
                // In NodeSystemInfo's field order; machineID, systemUUID and bootID (required
                // by the API's schema) derived from the node's uid, EC2-style ("ec2" prefix).
                "nodeInfo": {"machineID": format!("ec2{}", &n.uid.replace('-', "")[3..]), "systemUUID": format!("ec2{}", &n.uid[3..]), "bootID": n.uid, "kernelVersion": "6.1.0", "osImage": "Amazon Linux 2023", "containerRuntimeVersion": "containerd://1.7.20", "kubeletVersion": "v1.32.0-eks", "kubeProxyVersion": "v1.32.0-eks", "operatingSystem": "linux", "architecture": "amd64"}
            }
        })
    }

    /// Renders a stored object with the status the twin computes for it.
    pub fn render_stored(&self, key: &ObjKey, v: &Value) -> Value {
        let mut v = v.clone();
        match key.kind.as_str() {
            "DaemonSet" => {
                let c = self.daemonset_counts(key, &v);
                let generation = v
                    .pointer("/metadata/generation")
                    .cloned()
                    .unwrap_or(json!(1));
                v["status"] = json!({
                    "currentNumberScheduled": c.current,
                    "desiredNumberScheduled": c.desired,
                    "numberAvailable": c.ready,
                    "numberMisscheduled": c.misscheduled,
                    "numberReady": c.ready,
                    "numberUnavailable": c.desired - c.ready,
                    "observedGeneration": generation,
                    "updatedNumberScheduled": c.updated,
                });
                if c.desired - c.ready <= 0 {
                    v["status"]
                        .as_object_mut()
                        .expect("object")
                        .remove("numberUnavailable");
                }
                if c.ready == 0 {
                    v["status"]
                        .as_object_mut()
                        .expect("object")
                        .remove("numberAvailable");
                }
            }
            "StatefulSet" => {
                let s = self.statefulset_status(key, &v);
                let c = s.counts;
                let generation = v
                    .pointer("/metadata/generation")
                    .cloned()
                    .unwrap_or(json!(1));
                // `StatefulSetStatus` in its field order; zero counts are omitted.
                let mut status = serde_json::Map::new();
                status.insert("observedGeneration".into(), generation);
                status.insert("replicas".into(), json!(c.replicas));
                for (field, n) in [
                    ("readyReplicas", c.ready),
                    ("currentReplicas", c.current),
                    ("updatedReplicas", c.updated),
                ] {
                    if n != 0 {
                        status.insert(field.into(), json!(n));
                    }
                }
                status.insert("currentRevision".into(), json!(s.current_revision));
                status.insert("updateRevision".into(), json!(s.update_revision));
                status.insert("collisionCount".into(), json!(0));
                status.insert("availableReplicas".into(), json!(c.available));
                v["status"] = Value::Object(status);
            }
            "ReplicaSet" => {
                let replicas = self.rs_active_pods(key);
                let ready = self.rs_ready_pods(key);
                v["status"] = json!({"replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": ready, "availableReplicas": ready, "observedGeneration": v.pointer("/metadata/generation").cloned().unwrap_or(json!(1))});
            }
            "Deployment" => {
                let uid = v
                    .pointer("/metadata/uid")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let mut t = v.pointer("/spec/template").cloned().unwrap_or(json!({}));
                let hash = super::workloads::template_hash(&t);
                t["metadata"]["labels"]["pod-template-hash"] = json!(hash);
                let (mut total, mut ready, mut updated) = (0, 0, 0);
                // The new ReplicaSet's name and revision, and the newest revision of all.
                let mut new_rs: Option<(String, i64)> = None;
                let mut newest = 0i64;
                let revision = |rs: &Value| {
                    rs.pointer("/metadata/annotations/deployment.kubernetes.io~1revision")
                        .and_then(Value::as_str)
                        .and_then(|r| r.parse::<i64>().ok())
                        .unwrap_or(0)
                };
                for (k, rs) in self.store.list("ReplicaSet", Some(&key.namespace)) {
                    if rs
                        .pointer("/metadata/ownerReferences/0/uid")
                        .and_then(Value::as_str)
                        != Some(uid.as_str())
                    {
                        continue;
                    }
                    let a = self.rs_active_pods(k);
                    total += a;
                    ready += self.rs_ready_pods(k);
                    newest = newest.max(revision(rs));
                    if rs
                        .pointer("/metadata/labels/pod-template-hash")
                        .and_then(Value::as_str)
                        == Some(hash.as_str())
                    {
                        updated += a;
                        new_rs = Some((k.name.clone(), revision(rs)));
                    }
                }
                let want = v
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                let available = ready as i64
                    >= want
                        - super::workloads::int_or_percent(
                            v.pointer("/spec/strategy/rollingUpdate/maxUnavailable"),
                            "25%",
                            want,
                            false,
                        );
                let now = self.timestamp(self.now);
                let mut conditions = vec![
                    json!({"type": "Available", "status": if available { "True" } else { "False" }, "reason": if available { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" }, "message": if available { "Deployment has minimum availability." } else { "Deployment does not have minimum availability." }, "lastUpdateTime": now, "lastTransitionTime": now}),
                ];
                // The deployment controller's revision annotation (the new ReplicaSet's, else
                // the newest) and Progressing condition (sync.go syncRolloutStatus; no
                // progress deadline: it stays True). SetDeploymentCondition moves a changed
                // condition last: Progressing, changed with each step of a rollout, follows
                // Available (*assumption* for runs where availability changed last).
                let rev = new_rs.as_ref().map_or(newest, |(_, r)| *r);
                if rev > 0 {
                    v["metadata"]["annotations"]["deployment.kubernetes.io/revision"] =
                        json!(rev.to_string());
                }
                if let Some((name, _)) = &new_rs {
                    let complete =
                        updated as i64 == want && total as i64 == want && ready as i64 == want;
                    let (reason, message) = if complete {
                        (
                            "NewReplicaSetAvailable",
                            format!("ReplicaSet \"{name}\" has successfully progressed."),
                        )
                    } else {
                        (
                            "ReplicaSetUpdated",
                            format!("ReplicaSet \"{name}\" is progressing."),
                        )
                    };
                    conditions.push(json!({"type": "Progressing", "status": "True", "reason": reason, "message": message, "lastUpdateTime": now, "lastTransitionTime": now}));
                }
                v["status"] = json!({
                    "observedGeneration": v.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
                    "replicas": total, "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": ready,
                    "unavailableReplicas": (total as i64 - ready as i64).max(0),
                    "conditions": conditions
                });
                if ready == 0 && total == 0 && want == 0 {
                    v["status"]
                        .as_object_mut()
                        .expect("object")
                        .remove("unavailableReplicas");
                }
            }
            "PodDisruptionBudget" => {
                // The disruption controller's status, as of now. The condition's
                // lastTransitionTime is the render time (*assumption*, as the Deployment's
                // conditions: the twin does not keep the status between reads).
                let st = self.pdb_status(key, &v);
                let generation = v
                    .pointer("/metadata/generation")
                    .cloned()
                    .unwrap_or(json!(1));
                let allowed = st.disruptions_allowed > 0;
                v["status"] = json!({
                    "observedGeneration": generation,
                    "disruptionsAllowed": st.disruptions_allowed,
                    "currentHealthy": st.current_healthy,
                    "desiredHealthy": st.desired_healthy,
                    "expectedPods": st.expected_pods,
                    "conditions": [{
                        "type": "DisruptionAllowed",
                        "status": if allowed { "True" } else { "False" },
                        "reason": if allowed { "SufficientPods" } else { "InsufficientPods" },
                        "message": "",
                        "observedGeneration": generation,
                        "lastTransitionTime": self.timestamp(self.now),
                    }],
                });
            }
            _ => {}
        }
        v
    }

    /// Every object of `kind` (optionally one namespace, optionally one name), rendered.
    pub fn list_rendered(&self, kind: &str, ns: Option<&str>) -> Vec<Value> {
        match kind {
            "Pod" => self
                .pods
                .values()
                .filter(|p| ns.is_none_or(|n| *p.namespace == *n))
                .map(|p| ((p.namespace.clone(), p.name.clone()), p))
                .collect::<std::collections::BTreeMap<_, _>>()
                .values()
                .map(|p| self.render_pod(p))
                .collect(),
            "Node" => self.nodes.values().map(|n| self.render_node(n)).collect(),
            "Event" => self.render_events(ns),
            _ => {
                let ns = if is_cluster_scoped(kind) { None } else { ns };
                self.store
                    .list(kind, ns)
                    .map(|(k, v)| self.render_stored(k, v))
                    .collect()
            }
        }
    }
}

impl Sim {
    /// The disruption controller's first sync of a new PodDisruptionBudget
    /// (pkg/controller/disruption/disruption.go `trySync`): with no matching pod it records
    /// `NoPods` ("No matching pods found"), as a PDB created with its workload does. Its later
    /// syncs (on pod changes) are not modelled: the twin computes allowed disruptions when a
    /// decision reads them.
    fn pdb_created(&mut self, key: &ObjKey) {
        let Some(v) = self.store.get(key) else {
            return;
        };
        let selector = super::workloads::selector_of(v.pointer("/spec/selector"));
        let any = self.pods.values().any(|p| {
            *p.namespace == *key.namespace && p.deleting_at.is_none() && selector.matches(&p.labels)
        });
        if !any {
            self.emit(
                "Normal",
                "NoPods",
                "PodDisruptionBudget",
                &key.namespace,
                &key.name,
                "No matching pods found".to_string(),
                "controllermanager",
            );
        }
    }
}

/// What the API server's default admission plugins add to every pod (v1.37):
/// `ServiceAccount` (`plugin/pkg/admission/serviceaccount/admission.go`: the `default` service
/// account and, unless `automountServiceAccountToken: false`, the projected
/// `kube-api-access-<5 chars>` volume mounted read-only into every container at
/// `/var/run/secrets/kubernetes.io/serviceaccount`) and `DefaultTolerationSeconds`
/// (`plugin/pkg/admission/defaulttolerationseconds`: `not-ready` and `unreachable`
/// `NoExecute` tolerated for 300 s unless the pod tolerates them already). The volume's
/// random suffix is derived from the pod's uid, so that no random stream is drawn.
fn admission_defaults(spec: &mut Value, uid: &str) {
    let Some(o) = spec.as_object_mut() else {
        return;
    };
    let account = o
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_string();
    o.insert("serviceAccountName".into(), json!(account));
    o.insert("serviceAccount".into(), json!(account));
    if o.get("automountServiceAccountToken") != Some(&Value::Bool(false)) {
        // A spec read back from the API and written again (e.g. an Elastic Pods patch) has
        // the volume already; a container with a mount at the path keeps it (the plugin
        // skips what is there).
        const PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
        let existing = o.get("volumes").and_then(Value::as_array).and_then(|vs| {
            vs.iter().find_map(|v| {
                v.get("name")
                    .and_then(Value::as_str)
                    .filter(|n| n.starts_with("kube-api-access-"))
                    .map(str::to_string)
            })
        });
        let volume = match existing {
            Some(v) => v,
            None => {
                // `names.SimpleNameGenerator`'s alphabet (`k8s.io/apimachinery/pkg/util/rand`).
                const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
                let mut h: u64 = 0xcbf2_9ce4_8422_2325;
                for b in uid.bytes() {
                    h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
                }
                let suffix: String = (0..5)
                    .map(|i| ALPHABET[((h >> (i * 12)) % ALPHABET.len() as u64) as usize] as char)
                    .collect();
                let volume = format!("kube-api-access-{suffix}");
                if let Some(vs) = o
                    .entry("volumes")
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                {
                    vs.push(json!({"name": volume, "projected": {"defaultMode": 420, "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                        {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}
                    ]}}));
                }
                volume
            }
        };
        for key in ["initContainers", "containers"] {
            for c in o
                .get_mut(key)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(mounts) = c
                    .as_object_mut()
                    .map(|c| c.entry("volumeMounts").or_insert_with(|| json!([])))
                    .and_then(Value::as_array_mut)
                    && !mounts
                        .iter()
                        .any(|m| m.get("mountPath").and_then(Value::as_str) == Some(PATH))
                {
                    mounts.push(json!({"name": volume, "readOnly": true, "mountPath": PATH}));
                }
            }
        }
    }
    let tolerations = o.entry("tolerations").or_insert_with(|| json!([]));
    if let Some(ts) = tolerations.as_array_mut() {
        for key in [
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable",
        ] {
            let tolerated = ts.iter().any(|t| {
                let k = t.get("key").and_then(Value::as_str).unwrap_or("");
                let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
                let exists = t.get("operator").and_then(Value::as_str) == Some("Exists");
                (k == key || (k.is_empty() && exists))
                    && (effect.is_empty() || effect == "NoExecute")
            });
            if !tolerated {
                ts.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
            }
        }
    }
}
