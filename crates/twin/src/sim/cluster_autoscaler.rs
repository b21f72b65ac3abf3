//! Cluster Autoscaler emulation.
//!
//! A Deployment whose container image is `…/cluster-autoscaler[:tag]` runs kscale's
//! implementation ([`kscale_controllers::cluster_autoscaler`]) with that container's flags
//! (unknown flags are warned about and ignored). Like upstream (`core/static_autoscaler.go`
//! `RunOnce`) it loops every `--scan-interval` while one of its pods is Ready:
//!
//! 1. Refresh the cloud state: launches that failed for lack of capacity (detected at the next
//!    loop, as the AWS provider sees the failed scaling activity) and nodes that did not register
//!    within `--max-node-provision-time` back their group off (5 min doubling to 30 min) and are
//!    forgotten (`ScaleUpFailed` / `ScaleUpTimedOut`).
//! 2. Scale-up: unschedulable pods that are not expendable and fit no existing or upcoming node
//!    are binpacked onto each group's template; the expander chain picks a group; the group's
//!    size is increased (`ScaledUpGroup`, `TriggeredScaleUp` on the pods, `NotTriggerScaleUp` on
//!    pods no group can take). New nodes register after the cloud's provisioning latency.
//! 3. Scale-down (unless in cooldown after a scale-up, deletion or failure): nodes of managed
//!    groups that are underutilized and whose pods can all move stay "unneeded"; after
//!    `--scale-down-unneeded-time` they are tainted `ToBeDeletedByClusterAutoscaler`, drained
//!    (evictions honour each pod's grace period, capped by `--max-graceful-termination-sec`) and
//!    their instance is deleted (`ScaleDownEmpty` / `ScaleDown`).
//!
//! Node groups are `spec.cloud.nodeGroups`: those named by `--nodes=min:max:NAME` (with those
//! bounds), or all of them with `--node-group-auto-discovery`. Work per loop is proportional to
//! the pending pods (scale-up) and, for scale-down, to the cluster, but the scale-down
//! simulation is recomputed only when pods or nodes changed since the last loop.

use std::collections::{BTreeMap, BTreeSet};

use kscale_controllers::cluster_autoscaler::{
    self as ca, CloudNodeGroup, Config, NodeGroup, ScaleUpInput,
    decisions::{self, Decided, Decision},
    events,
    scale_down::{self, ControllerKind, NodeView, PodDrainInfo},
    status::{self, ClusterAutoscalerStatus, GroupFacts},
};
use kscale_controllers::scheduler::{NodeInfo, PodInfo};
use kscale_model::{SimTime, Taint, TaintEffect};
use serde_json::{Value, json};

use kscale_cluster::ChangeType;

use super::changes::Topic;
use super::model::PodPhase;
use super::provider::NODE_GROUP_LABEL;
use super::store::ObjKey;
use super::{Event, Sim};
use crate::manifest::Warning;

pub use kscale_controllers::cluster_autoscaler::{
    POD_PRICE_PER_CORE_HOUR, POD_PRICE_PER_GIB_HOUR, PRIORITY_CONFIGMAP, SOURCE, STATUS_CONFIGMAP,
    TO_BE_DELETED_TAINT,
};
/// How often a node being drained is checked for its pods to be gone (assumption: upstream
/// polls evictions every 5 s, `core/scaledown/actuation/drain.go`).
pub const DRAIN_POLL_MS: u64 = 5_000;

pub use kscale_components::cluster_autoscaler::capacity_buffer::{
    self, ACTIVE_CAPACITY, FAKE_POD_ID_BASE,
};

/// A node the autoscaler asked the cloud for.
#[derive(Debug, Clone)]
pub struct Upcoming {
    /// Group.
    pub group: String,
    /// When requested.
    pub requested: SimTime,
    /// The launch failed for lack of capacity (noticed at the next loop).
    pub failed: bool,
}

/// A node the autoscaler is removing.
#[derive(Debug, Clone)]
pub struct Removal {
    /// Node uid (a node of the same name later is another node).
    pub uid: String,
    /// Group.
    pub group: String,
    /// Give up waiting for pods after this time.
    pub deadline: SimTime,
}

/// The emulation's state.
#[derive(Debug, Default)]
pub struct CaTwin {
    /// The Deployment running the Cluster Autoscaler.
    pub deployment: Option<ObjKey>,
    /// A loop is scheduled.
    pub scanning: bool,
    /// The pure controller's memory.
    pub state: ca::State,
    /// Requested nodes not registered yet, by id.
    pub upcoming: BTreeMap<u64, Upcoming>,
    /// Next upcoming id.
    pub next_id: u64,
    /// Nodes being removed.
    pub removing: BTreeMap<String, Removal>,
    /// Last NotTriggerScaleUp message per pod (identical messages are not repeated).
    pub not_triggered: BTreeMap<u64, String>,
    /// Warnings already given (by key).
    pub warned: BTreeSet<String>,
    /// Decisions made.
    pub decisions: Vec<Decision>,
    /// Change stamp of the last scale-down simulation and its result.
    pub sd_cache: Option<((u64, u64, usize, usize), scale_down::Simulation)>,
    /// Change stamp of the last loop whose scale-up found nothing to do: while nothing
    /// changes, the next loops skip the simulation.
    pub idle_scale_up: Option<ScaleUpStamp>,
    /// Store version at the last check for expendable workloads.
    pub warned_rv: Option<u64>,
    /// What the last status ConfigMap write reflected.
    pub status_stamp: Option<[u64; 6]>,
}

/// What a scale-up decision depends on: pods, nodes, objects, upcoming nodes, backoffs and
/// the pending pods.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleUpStamp {
    epochs: (u64, u64, u64),
    upcoming: usize,
    backed_off: usize,
    pending: Vec<u64>,
}

/// The Cluster Autoscaler container of a Deployment, if any ([`ca::is_ca_image`]).
pub fn ca_container(deploy: &Value) -> Option<&Value> {
    deploy
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| {
            c.get("image")
                .and_then(Value::as_str)
                .is_some_and(ca::is_ca_image)
        })
}

/// The container's `command` and `args` words.
pub fn container_words(c: &Value) -> Vec<String> {
    ["command", "args"]
        .iter()
        .flat_map(|f| c.get(*f).and_then(Value::as_array).into_iter().flatten())
        .filter_map(|w| w.as_str().map(str::to_string))
        .collect()
}

impl Sim {
    /// Starts the loop for a Deployment that runs the Cluster Autoscaler (called on apply).
    pub fn maybe_start_ca(&mut self, key: &ObjKey) {
        let Some(d) = self.store.get(key) else { return };
        let Some(c) = ca_container(d) else { return };
        let (cfg, warnings) = Config::from_args(&container_words(c));
        for w in warnings {
            self.warn_once(
                format!("flag:{w}"),
                format!("cluster-autoscaler {}/{}: {w}", key.namespace, key.name),
            );
        }
        if cfg.nodes.is_empty() && cfg.auto_discovery.is_empty() {
            self.warn_once(
                "no-groups".into(),
                format!("cluster-autoscaler {}/{}: neither --nodes nor --node-group-auto-discovery is set: it manages no node group", key.namespace, key.name),
            );
        }
        for g in &cfg.nodes {
            if !self
                .scenario
                .doc
                .spec
                .cloud
                .node_groups
                .iter()
                .any(|s| s.name == g.name)
            {
                self.warn_once(
                    format!("group:{}", g.name),
                    format!("cluster-autoscaler {}/{}: --nodes names {:?}, which is not in spec.cloud.nodeGroups: ignored", key.namespace, key.name, g.name),
                );
            }
        }
        self.ca.deployment = Some(key.clone());
        if !self.ca.scanning {
            self.ca.scanning = true;
            self.queue
                .push(self.now.plus_millis(cfg.scan_interval_ms), Event::CaScan);
        }
    }

    fn warn_once(&mut self, key: String, message: String) {
        if self.ca.warned.insert(key) {
            self.warnings.push(Warning {
                file: self.scenario.path.clone(),
                line: None,
                message,
            });
        }
    }

    fn ca_config(&self) -> Option<(ObjKey, Config)> {
        let key = self.ca.deployment.clone()?;
        let c = ca_container(self.store.get(&key)?)?;
        Some((key, Config::from_args(&container_words(c)).0))
    }

    /// The node groups the autoscaler manages, with their current target sizes.
    fn ca_groups(&self, cfg: &Config) -> Vec<NodeGroup> {
        let mut sizes: BTreeMap<&str, u32> = BTreeMap::new();
        for n in self.nodes.values() {
            if let Some(g) = n.info.labels.get(NODE_GROUP_LABEL) {
                *sizes.entry(g.as_str()).or_insert(0) += 1;
            }
        }
        for u in self.ca.upcoming.values() {
            *sizes.entry(u.group.as_str()).or_insert(0) += 1;
        }
        cfg.managed_groups(&self.ca_cloud_groups(), |g| {
            sizes.get(g).copied().unwrap_or(0)
        })
    }

    /// The cloud's node groups (`spec.cloud.nodeGroups` of a known instance type), each with
    /// its template node: the labels, taints and allocatable its nodes get, as a
    /// Cluster Autoscaler reads them from the group's launch template.
    pub fn ca_cloud_groups(&self) -> Vec<CloudNodeGroup> {
        self.cloud.group_templates(&self.daemon_pod_templates())
    }

    /// The priority expander's configuration from its ConfigMap (read at every loop, as
    /// upstream); `None` when missing or invalid (with a warning event).
    fn ca_priorities(&mut self, cfg: &Config) -> Option<ca::expander::Priorities> {
        let key = ObjKey::new("ConfigMap", &cfg.namespace, PRIORITY_CONFIGMAP);
        let text = self
            .store
            .get(&key)?
            .pointer("/data/priorities")?
            .as_str()?
            .to_string();
        match crate::yaml::parse_str::<ca::expander::Priorities>(
            std::path::Path::new(PRIORITY_CONFIGMAP),
            &text,
        ) {
            Ok(p) => Some(p),
            Err(e) => {
                self.emit(
                    "Warning",
                    events::PRIORITY_CONFIGMAP_INVALID,
                    "ConfigMap",
                    &cfg.namespace,
                    PRIORITY_CONFIGMAP,
                    events::priorities_unparsable(e),
                    SOURCE,
                );
                None
            }
        }
    }

    /// One loop of the Cluster Autoscaler.
    pub fn ca_scan(&mut self) {
        let Some((key, cfg)) = self.ca_config() else {
            self.ca.scanning = false;
            return;
        };
        self.queue
            .push(self.now.plus_millis(cfg.scan_interval_ms), Event::CaScan);
        let running = self
            .target_pods(&key.namespace, "deployment", &key.name)
            .iter()
            .any(|p| p.is_ready());
        if !running {
            return;
        }
        self.ca_warn_expendable_workloads(&cfg);
        self.ca_refresh(&cfg);
        let buffer_pods = self.ca_buffer_pods();
        let scaled_up = self.ca_scale_up(&cfg, &buffer_pods);
        if cfg.scale_down_enabled && !scaled_up {
            self.ca_scale_down(&cfg, &buffer_pods);
        }
        self.ca_write_status(&cfg);
    }

    /// Writes the `cluster-autoscaler-status` ConfigMap (kube-system, key `status`) in
    /// upstream's YAML layout (`clusterstate/api`: cluster-wide and per node group health,
    /// scale-up and scale-down status), when something it reflects changed; `time` is the time
    /// of that write (upstream rewrites it every loop).
    fn ca_write_status(&mut self, cfg: &Config) {
        let now = self.now;
        let backed_off = self
            .ca
            .state
            .backoff
            .keys()
            .filter(|g| self.ca.state.backed_off(g, now))
            .count();
        let stamp = [
            self.store.changes().at(Topic::PodPlacement),
            self.store.changes().at(Topic::Capacity),
            self.ca.upcoming.len() as u64,
            self.ca.removing.len() as u64,
            self.ca.state.unneeded_since.len() as u64,
            backed_off as u64,
        ];
        if self.ca.status_stamp == Some(stamp) {
            return;
        }
        self.ca.status_stamp = Some(stamp);
        let groups = self.ca_groups(cfg);
        let mut upcoming: BTreeMap<&str, u64> = BTreeMap::new();
        for u in self.ca.upcoming.values() {
            *upcoming.entry(u.group.as_str()).or_default() += 1;
        }
        let (cluster, per) = status::tally(
            self.nodes.values().map(|n| {
                (
                    n.info.labels.get(NODE_GROUP_LABEL).map(String::as_str),
                    n.info.ready,
                )
            }),
            upcoming,
            self.ca.state.unneeded_since.keys().map(|n| {
                self.nodes
                    .get(n.as_str())
                    .and_then(|x| x.info.labels.get(NODE_GROUP_LABEL))
                    .map(String::as_str)
            }),
        );
        let facts: Vec<GroupFacts> = groups
            .iter()
            .map(|g| GroupFacts {
                name: &g.id,
                readiness: per.get(g.id.as_str()).copied().unwrap_or_default(),
                target: g.target.into(),
                min: g.min.into(),
                max: g.max.into(),
                backed_off: self.ca.state.backed_off(&g.id, now),
            })
            .collect();
        let text = render_status(&status::get_status(self.timestamp(now), &cluster, &facts));
        let rv_before = self.store.resource_version();
        let key = ObjKey::new("ConfigMap", "kube-system", STATUS_CONFIGMAP);
        let stamp_ts = self.timestamp(now);
        if self.store.get(&key).is_some() {
            self.store.update(&key, |v| {
                v["data"] = json!({"status": text});
                v["metadata"]["annotations"] =
                    json!({"cluster-autoscaler.kubernetes.io/last-updated": stamp_ts});
            });
        } else {
            let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": STATUS_CONFIGMAP, "namespace": "kube-system", "annotations": {"cluster-autoscaler.kubernetes.io/last-updated": stamp_ts}}, "data": {"status": text}});
            let _ = self.apply_value(cm, None);
        }
        // The autoscaler's own write is no change it needs to react to.
        let rv_after = self.store.resource_version();
        if self.ca.warned_rv == Some(rv_before) {
            self.ca.warned_rv = Some(rv_after);
        }
        if let Some(s) = &mut self.ca.idle_scale_up
            && s.epochs.2 == rv_before
        {
            s.epochs.2 = rv_after;
        }
    }

    /// Warns, once per workload, about Deployments whose pods are expendable for this
    /// autoscaler (priority below `--expendable-pods-priority-cutoff`): as over-provisioning
    /// pods they can never get capacity of their own.
    fn ca_warn_expendable_workloads(&mut self, cfg: &Config) {
        let rv = self.store.resource_version();
        if self.ca.warned_rv == Some(rv) {
            return;
        }
        self.ca.warned_rv = Some(rv);
        let cutoff = cfg.expendable_pods_priority_cutoff;
        let mut found = vec![];
        for (k, v) in self.store.list("Deployment", None) {
            let class = v
                .pointer("/spec/template/spec/priorityClassName")
                .and_then(Value::as_str);
            if let Ok(p) = self.resolve_priority(class)
                && ca::is_expendable(p, cutoff)
            {
                found.push((format!("{}/deployment/{}", k.namespace, k.name), p));
            }
        }
        for (w, p) in found {
            self.warn_once(
                format!("expendable:{w}"),
                format!("cluster-autoscaler: pods of {w} have priority {p}, below --expendable-pods-priority-cutoff={cutoff}: they are expendable, never trigger a scale-up and do not keep nodes from scale-down, so as over-provisioning pods they can never get capacity (use a priority of {cutoff} or more)"),
            );
        }
    }

    /// Failed launches and provisioning time-outs back their group off.
    fn ca_refresh(&mut self, cfg: &Config) {
        let now = self.now;
        let failed: Vec<(u64, Upcoming, bool)> = self
            .ca
            .upcoming
            .iter()
            .filter_map(|(id, u)| {
                if u.failed {
                    Some((*id, u.clone(), true))
                } else if now.since(u.requested) >= cfg.max_node_provision_time_ms {
                    Some((*id, u.clone(), false))
                } else {
                    None
                }
            })
            .collect();
        let mut by_group: BTreeMap<String, (u32, bool)> = BTreeMap::new();
        for (id, u, ice) in failed {
            self.ca.upcoming.remove(&id);
            let e = by_group.entry(u.group).or_insert((0, ice));
            e.0 += 1;
        }
        for (g, (n, ice)) in by_group {
            let (reason, msg) = if ice {
                (events::SCALE_UP_FAILED, events::scale_up_failed(&g, n))
            } else {
                (
                    events::SCALE_UP_TIMED_OUT,
                    events::scale_up_timed_out(&g, cfg.max_node_provision_time_ms),
                )
            };
            self.emit(
                "Warning",
                reason,
                "ConfigMap",
                "kube-system",
                STATUS_CONFIGMAP,
                msg.clone(),
                SOURCE,
            );
            self.ca.state.register_failed_scale_up(&g, cfg, now);
            self.count("caScaleUpFailures");
            self.ca.decisions.push(Decision {
                time: now,
                group: g.clone(),
                decided: Decided::ScaleUpFailed {
                    nodes: n,
                    reason,
                    message: msg,
                    backoff_until: self.ca.state.backoff.get(&g).map(|b| b.until),
                },
            });
        }
    }

    /// Pods the scheduler gave up on: no node, no nominated node, not deleting.
    fn ca_pending(&self) -> Vec<PodInfo> {
        let q = &self.sched_queue;
        let ids: BTreeSet<u64> = q.unschedulable_ids().chain(q.active_ids()).collect();
        ids.iter()
            .filter_map(|id| self.pods.get(id))
            .filter(|p| {
                p.node.is_none()
                    && p.nominated.is_none()
                    && p.deleting_at.is_none()
                    && p.unschedulable.is_some()
                    // Scale-up cannot help a daemon pod, which needs its own node
                    // (podlistprocessor/filter_out_daemon_sets.go).
                    && p.owner.as_ref().is_none_or(|o| o.kind != "DaemonSet")
            })
            .map(|p| p.sched_info())
            .collect()
    }

    /// The fake pods of every CapacityBuffer with the active-capacity strategy (upstream's
    /// buffer controller and pod list processor); writes each buffer's status.
    pub fn ca_buffer_pods(&mut self) -> Vec<PodInfo> {
        let buffers: Vec<(ObjKey, Value)> = self
            .store
            .list("CapacityBuffer", None)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut out = vec![];
        for (b, (key, v)) in buffers.iter().enumerate() {
            let spec = v.get("spec").cloned().unwrap_or(Value::Null);
            let strategy = spec
                .get("provisioningStrategy")
                .and_then(Value::as_str)
                .unwrap_or(ACTIVE_CAPACITY)
                .to_string();
            let resolved = self.resolve_buffer(&key.namespace, &key.name, &spec);
            let status = capacity_buffer::status(
                &strategy,
                resolved
                    .as_ref()
                    .map(|(t, _, n)| (t.as_str(), *n))
                    .map_err(String::as_str),
            );
            if v.get("status") != Some(&status) {
                self.store.update(key, |o| o["status"] = status);
            }
            let Ok((_, t, n)) = resolved else { continue };
            if strategy != ACTIVE_CAPACITY {
                continue;
            }
            let priority = t.spec.get("priority").and_then(Value::as_i64).unwrap_or(0) as i32;
            for i in 0..n.max(0) as u64 {
                out.push(PodInfo {
                    id: FAKE_POD_ID_BASE + (b as u64) * 1_000_000 + i,
                    namespace: key.namespace.as_str().into(),
                    name: format!("capacity-buffer-{}-{}", key.name, i + 1).into(),
                    labels: t.labels.clone(),
                    requests: t.requests,
                    priority,
                    start_time: SimTime::ZERO,
                    terminating: false,
                    constraints: t.constraints.clone(),
                    default_selector: None,
                });
            }
        }
        out
    }

    /// A buffer's pod template (name, compiled) and number of pods.
    fn resolve_buffer(
        &self,
        ns: &str,
        name: &str,
        spec: &Value,
    ) -> Result<(String, super::model::PodTemplate, i32), String> {
        let (template_name, template, scalable) =
            if let Some(r) = spec.pointer("/podTemplateRef/name").and_then(Value::as_str) {
                let t = self
                    .store
                    .get(&ObjKey::new("PodTemplate", ns, r))
                    .and_then(|v| v.get("template"))
                    .ok_or_else(|| format!("pod template {ns}/{r} not found"))?;
                (r.to_string(), t.clone(), None)
            } else if let Some(r) = spec.get("scalableRef") {
                let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
                let target = r.get("name").and_then(Value::as_str).unwrap_or("");
                if !matches!(kind, "Deployment" | "ReplicaSet" | "StatefulSet") {
                    return Err(format!("kind {kind} is not supported to use pod template"));
                }
                let o = self
                    .store
                    .get(&ObjKey::new(kind, ns, target))
                    .ok_or_else(|| format!("{kind} {ns}/{target} not found"))?;
                let replicas = o
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1) as i32;
                (
                    format!("capacitybuffer-{name}-pod-template"),
                    o.pointer("/spec/template").cloned().unwrap_or(Value::Null),
                    Some(replicas),
                )
            } else {
                return Err("neither podTemplateRef nor scalableRef is set".into());
            };
        let t = super::model::PodTemplate::compile(
            template.get("metadata"),
            template.get("spec").unwrap_or(&Value::Null),
        );
        let q = |k: &str| super::model::quantity(spec.pointer(&format!("/limits/{k}")));
        let size = ca::capacity_buffer::BufferSize {
            replicas: spec
                .get("replicas")
                .and_then(Value::as_i64)
                .map(|r| r as i32),
            percentage: spec
                .get("percentage")
                .and_then(Value::as_i64)
                .map(|p| p as i32),
            limit_cpu_milli: q("cpu").map(|x| x.milli()),
            limit_memory: q("memory").map(|x| x.value()),
        };
        let n = ca::capacity_buffer::buffer_pods(&size, &t.requests, scalable)?;
        Ok((template_name, t, n))
    }

    /// Scale-up; returns true if nodes were requested.
    fn ca_scale_up(&mut self, cfg: &Config, buffer_pods: &[PodInfo]) -> bool {
        let mut pending = self.ca_pending();
        pending.extend(buffer_pods.iter().cloned());
        let cutoff = cfg.expendable_pods_priority_cutoff;
        if !pending
            .iter()
            .any(|p| !ca::is_expendable(p.priority, cutoff))
        {
            return false;
        }
        let stamp = ScaleUpStamp {
            epochs: (
                self.store.changes().at(Topic::PodPlacement),
                self.store.changes().at(Topic::Capacity),
                self.store.resource_version(),
            ),
            upcoming: self.ca.upcoming.len(),
            backed_off: self
                .ca
                .state
                .backoff
                .keys()
                .filter(|g| self.ca.state.backed_off(g, self.now))
                .count(),
            pending: pending.iter().map(|p| p.id).collect(),
        };
        if self.ca.idle_scale_up.as_ref() == Some(&stamp) {
            return false;
        }
        let groups = self.ca_groups(cfg);
        let priorities = if cfg.expander.contains(&ca::expander::ExpanderName::Priority) {
            self.ca_priorities(cfg)
        } else {
            None
        };
        let mut nodes: Vec<&NodeInfo> = self
            .nodes
            .iter()
            .filter(|(n, _)| !self.ca.removing.contains_key(n.as_ref()))
            .map(|(_, n)| &n.info)
            .collect();
        for u in self.ca.upcoming.values() {
            if let Some(g) = groups.iter().find(|g| g.id == u.group) {
                nodes.push(&g.template);
            }
        }
        let cluster_nodes = (self.nodes.len() + self.ca.upcoming.len()) as u32;
        let rng = &mut self.rng.ca;
        let mut pick = |n: usize| rng.index(n);
        let result = ca::scale_up(
            ScaleUpInput {
                pending: &pending,
                nodes: &nodes,
                groups: &groups,
                cluster_nodes,
                pod_price: &ca::pod_price,
                priorities: priorities.as_ref(),
                pick: &mut pick,
            },
            &self.ca.state,
            cfg,
            self.now,
        );
        for w in &result.warnings {
            self.emit(
                "Warning",
                w.reason,
                "ConfigMap",
                &cfg.namespace,
                PRIORITY_CONFIGMAP,
                w.message.clone(),
                SOURCE,
            );
        }
        for (id, msg) in &result.not_triggered {
            if *id >= FAKE_POD_ID_BASE || self.ca.not_triggered.get(id) == Some(msg) {
                continue;
            }
            self.ca.not_triggered.insert(*id, msg.clone());
            let p = &self.pods[id];
            let (ns, name) = (p.namespace.to_string(), p.name.to_string());
            self.count("caNotTriggerScaleUp");
            self.emit(
                "Normal",
                events::NOT_TRIGGER_SCALE_UP,
                "Pod",
                &ns,
                &name,
                msg.clone(),
                SOURCE,
            );
        }
        if result.increases.is_empty() {
            // With --new-pod-scale-up-delay, pods become eligible with time alone.
            self.ca.idle_scale_up = (cfg.new_pod_scale_up_delay_ms == 0).then_some(stamp);
            return false;
        }
        self.ca.idle_scale_up = None;
        let triggered_msg = events::triggered_scale_up(&result.increases);
        // The pods' names (buffer fake pods by their buffer's name), as many as a decision
        // shows.
        let triggered_by: Vec<String> = result
            .triggered
            .iter()
            .take(decisions::MAX_TRIGGERED_BY)
            .map(|id| match self.pods.get(id) {
                Some(p) => format!("{}/{}", p.namespace, p.name),
                None => pending
                    .iter()
                    .find(|p| p.id == *id)
                    .map(|p| format!("{}/{}", p.namespace, p.name))
                    .unwrap_or_default(),
            })
            .collect();
        for i in &result.increases {
            self.emit(
                "Normal",
                events::SCALED_UP_GROUP,
                "ConfigMap",
                "kube-system",
                STATUS_CONFIGMAP,
                events::scaled_up_group(i),
                SOURCE,
            );
            self.count("caScaleUps");
            let d = Decision::scale_up(
                self.now,
                i,
                result.triggered.len(),
                &cfg.expander,
                triggered_by.iter().cloned(),
            );
            self.ca.decisions.push(d);
            let spec = self
                .scenario
                .doc
                .spec
                .cloud
                .node_groups
                .iter()
                .find(|g| g.name == i.group)
                .cloned();
            for _ in i.from..i.to {
                let id = self.ca.next_id;
                self.ca.next_id += 1;
                let failed = spec.as_ref().is_some_and(|s| {
                    let ct = s.capacity_type.as_deref().unwrap_or("on-demand");
                    self.cloud.launch_fails_at(
                        self.now.as_millis(),
                        Some(&s.name),
                        &s.instance_type,
                        ct,
                    )
                });
                if failed {
                    self.count("insufficientCapacityErrors");
                } else {
                    let delay = self.cloud.provisioning_latency_ms();
                    self.queue
                        .push(self.now.plus_millis(delay), Event::CaNodeUp(id));
                }
                self.ca.upcoming.insert(
                    id,
                    Upcoming {
                        group: i.group.clone(),
                        requested: self.now,
                        failed,
                    },
                );
            }
        }
        for id in &result.triggered {
            let Some(p) = self.pods.get(id) else {
                continue; // a CapacityBuffer's fake pod
            };
            let (ns, name) = (p.namespace.to_string(), p.name.to_string());
            self.ca.not_triggered.remove(id);
            self.emit(
                "Normal",
                events::TRIGGERED_SCALE_UP,
                "Pod",
                &ns,
                &name,
                triggered_msg.clone(),
                SOURCE,
            );
        }
        self.ca.state.last_scale_up = Some(self.now);
        true
    }

    /// A requested node registers.
    pub fn ca_node_up(&mut self, id: u64) {
        let Some(u) = self.ca.upcoming.remove(&id) else {
            return;
        };
        if let Some(name) = self.add_group_node(&u.group) {
            // The instance is billed from the launch request, not from registration.
            let price = self
                .nodes
                .get(name.as_str())
                .map_or(0.0, |n| n.hourly_price);
            self.closed_cost += price * self.now.since(u.requested) as f64 / 3_600_000.0;
            self.count("caNodesAdded");
        }
    }

    fn drain_info(&self, id: u64) -> PodDrainInfo {
        let Some(p) = self.pods.get(&id) else {
            return PodDrainInfo::replicated();
        };
        let a = &p.template.annotations;
        let controller = p.owner.as_ref().map(|o| ControllerKind::from_kind(o.kind));
        let local_storage = scale_down::uses_local_storage(
            p.template
                .spec
                .get("volumes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|v| {
                    let name = v.get("name").and_then(Value::as_str).unwrap_or("");
                    let host_path = v.get("hostPath").is_some();
                    let empty_dir = v
                        .get("emptyDir")
                        .is_some_and(|e| e.get("medium").and_then(Value::as_str) != Some("Memory"));
                    (name, host_path || empty_dir)
                }),
            a.get(scale_down::SAFE_TO_EVICT_LOCAL_VOLUMES)
                .map(String::as_str),
        );
        PodDrainInfo {
            controller,
            mirror: a.contains_key("kubernetes.io/config.mirror"),
            safe_to_evict: a
                .get("cluster-autoscaler.kubernetes.io/safe-to-evict")
                .and_then(|v| v.parse().ok()),
            local_storage,
            terminal: matches!(p.phase, PodPhase::Succeeded | PodPhase::Failed),
            deleting: p.deleting_at.map(|t| (t, p.template.grace_ms)),
        }
    }

    fn ca_scale_down(&mut self, cfg: &Config, buffer_pods: &[PodInfo]) {
        let now = self.now;
        let has_pdbs = self
            .store
            .list("PodDisruptionBudget", None)
            .next()
            .is_some();
        let stamp = (
            self.store.changes().at(Topic::PodPlacement),
            self.store.changes().at(Topic::Capacity) ^ (buffer_pods.len() as u64) << 48,
            self.nodes.len(),
            self.ca.removing.len(),
        );
        let cached = self
            .ca
            .sd_cache
            .as_ref()
            .filter(|(s, _)| *s == stamp && !has_pdbs)
            .map(|(_, sim)| sim.clone());
        let sim = match cached {
            Some(s) => s,
            None => {
                let groups: BTreeSet<String> =
                    self.ca_groups(cfg).into_iter().map(|g| g.id).collect();
                let pdbs = if has_pdbs { self.pdb_infos() } else { vec![] };
                // Buffer fake pods that fit existing nodes hold that room: they are placed
                // (first fit, as the scale-up's filter) and must find a place elsewhere too.
                let held = ca::capacity_buffer::hold_room(
                    self.nodes
                        .iter()
                        .filter(|(k, n)| {
                            n.info.ready
                                && !n.info.unschedulable
                                && !self.ca.removing.contains_key(k.as_ref())
                        })
                        .map(|(_, n)| &n.info),
                    buffer_pods,
                );
                let views: Vec<NodeView> = self
                    .nodes
                    .iter()
                    .map(|(name, n)| NodeView {
                        info: held.get(name).unwrap_or(&n.info),
                        group: n
                            .info
                            .labels
                            .get(NODE_GROUP_LABEL)
                            .filter(|g| groups.contains(*g))
                            .map(String::as_str),
                        scale_down_disabled: n
                            .annotations
                            .get("cluster-autoscaler.kubernetes.io/scale-down-disabled")
                            .is_some_and(|v| v == "true"),
                        being_deleted: self.ca.removing.contains_key(name.as_ref())
                            || n.info.unschedulable,
                    })
                    .collect();
                let s = scale_down::find_removable(
                    &views,
                    &|id| self.drain_info(id),
                    &pdbs,
                    &self.ca.state.unneeded_since,
                    &cfg.scale_down,
                    now,
                );
                self.ca.sd_cache = Some((stamp, s.clone()));
                s
            }
        };
        self.ca.state.update_unneeded(&sim.removable, now);
        if self.ca.state.scale_down_in_cooldown(cfg, now) {
            return;
        }
        // Only nodes unneeded long enough can go: without one, nothing more to do (this keeps
        // a loop with nothing changed proportional to the unneeded nodes).
        let due = sim.removable.iter().any(|r| {
            let wait = if r.ready {
                cfg.scale_down.unneeded_ms
            } else {
                cfg.scale_down.unready_ms
            };
            self.ca
                .state
                .unneeded_since
                .get(&r.node)
                .is_some_and(|t| now.since(*t) >= wait)
        });
        if !due {
            return;
        }
        let groups = self.ca_groups(cfg);
        let mut room: BTreeMap<String, u32> = BTreeMap::new();
        for g in &groups {
            let removing = self
                .ca
                .removing
                .values()
                .filter(|r| r.group == g.id)
                .count() as u32;
            room.insert(g.id.clone(), g.target.saturating_sub(removing + g.min));
        }
        let drains = self
            .ca
            .removing
            .keys()
            .filter(|n| {
                self.nodes
                    .get(n.as_str())
                    .is_some_and(|x| !x.info.pods.is_empty())
            })
            .count();
        let chosen = scale_down::select_deletions(
            &sim.removable,
            &self.ca.state.unneeded_since,
            &mut room,
            drains,
            self.ca.removing.len(),
            &cfg.scale_down,
            now,
        );
        for r in chosen {
            self.ca_remove_node(cfg, &r);
        }
    }

    fn ca_remove_node(&mut self, cfg: &Config, r: &scale_down::Removable) {
        let Some(n) = self.nodes.get_mut(r.node.as_str()) else {
            return;
        };
        n.info.taints.push(Taint {
            key: TO_BE_DELETED_TAINT.into(),
            value: (self.now.as_millis() / 1000).to_string(),
            effect: TaintEffect::NoSchedule,
        });
        self.store
            .record_object("Node", "", &r.node, ChangeType::Modified);
        let uid = n.uid.clone();
        let pods: Vec<String> = r
            .evict
            .iter()
            .filter_map(|id| self.pods.get(id))
            .map(|p| format!("{}/{}", p.namespace, p.name))
            .collect();
        let (reason, msg) = events::scale_down(r, &pods);
        self.emit(
            "Normal",
            reason,
            "ConfigMap",
            "kube-system",
            STATUS_CONFIGMAP,
            msg,
            SOURCE,
        );
        self.emit(
            "Normal",
            events::SCALE_DOWN,
            "Node",
            "",
            &r.node,
            events::NODE_MARKED.into(),
            SOURCE,
        );
        self.count("caScaleDowns");
        let since = self.ca.state.unneeded_since.get(&r.node).copied();
        self.ca
            .decisions
            .push(Decision::scale_down(self.now, r, since, pods));
        let mut max_grace = 0;
        for id in &r.evict {
            let Some(p) = self.pods.get(id) else { continue };
            if p.deleting_at.is_some() {
                continue;
            }
            let grace = p.template.grace_ms.min(cfg.max_graceful_termination_ms);
            max_grace = max_grace.max(grace);
            let (ns, name) = (p.namespace.to_string(), p.name.to_string());
            self.emit(
                "Normal",
                events::SCALE_DOWN,
                "Pod",
                &ns,
                &name,
                events::POD_DELETING.into(),
                SOURCE,
            );
            self.delete_pod(*id, Some(grace));
        }
        self.ca.state.unneeded_since.remove(&r.node);
        self.ca.state.last_scale_down_delete = Some(self.now);
        self.ca.removing.insert(
            r.node.clone(),
            Removal {
                uid: uid.clone(),
                group: r.group.clone(),
                // Upstream waits up to the max graceful termination plus a minute.
                deadline: self.now.plus_millis(max_grace + 60_000),
            },
        );
        self.cluster_changed();
        self.queue.push(
            self.now
                .plus_millis(if r.empty { 0 } else { DRAIN_POLL_MS }),
            Event::CaDeleteNode(r.node.clone(), uid),
        );
    }

    /// Deletes a node being removed once its evicted pods are gone (or the wait timed out).
    pub fn ca_delete_node(&mut self, node: &str, uid: &str) {
        let Some(r) = self.ca.removing.get(node).cloned() else {
            return;
        };
        if r.uid != uid {
            return;
        }
        let Some(n) = self.nodes.get(node) else {
            self.ca.removing.remove(node);
            return;
        };
        let busy = n.info.pods.iter().any(|p| {
            self.pods.get(&p.id).is_some_and(|x| {
                x.owner.as_ref().is_none_or(|o| o.kind != "DaemonSet") && x.deleting_at.is_some()
            })
        });
        if busy && self.now < r.deadline {
            self.queue.push(
                self.now.plus_millis(DRAIN_POLL_MS),
                Event::CaDeleteNode(node.to_string(), uid.to_string()),
            );
            return;
        }
        self.ca.removing.remove(node);
        self.emit(
            "Normal",
            events::SCALE_DOWN,
            "Node",
            "",
            node,
            events::NODE_REMOVED.into(),
            SOURCE,
        );
        self.count("caNodesRemoved");
        self.remove_node(node);
    }

    /// The `clusterAutoscaler` section of summary.json (absent without a Cluster Autoscaler).
    pub fn ca_summary(&self) -> Option<Value> {
        self.ca.deployment.as_ref()?;
        let c = |k: &str| self.recorder.counter(k);
        let counts = decisions::Counts {
            scale_ups: c("caScaleUps"),
            scale_up_failures: c("caScaleUpFailures"),
            scale_downs: c("caScaleDowns"),
            nodes_added: c("caNodesAdded"),
            nodes_removed: c("caNodesRemoved"),
            not_trigger_scale_up: c("caNotTriggerScaleUp"),
        };
        let unremovable = self.ca.sd_cache.iter().flat_map(|(_, s)| {
            s.unremovable
                .iter()
                .filter(|u| self.nodes.contains_key(u.node.as_str()))
                .map(|u| (u.node.as_str(), u.reason.as_str()))
        });
        Some(decisions::summary(&counts, &self.ca.decisions, unremovable))
    }
}

/// The status document ([`status::render`]).
fn render_status(s: &ClusterAutoscalerStatus) -> String {
    status::render(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kscale_controllers::cluster_autoscaler::status::Readiness;

    /// The status text as the twin wrote it with `format!` before the typed status.
    fn legacy_status_text(time: &str, cluster: &Readiness, groups: &[GroupFacts]) -> String {
        let counts = |r: &Readiness, pad: &str| {
            format!(
                "{pad}nodeCounts:\n{pad}  registered:\n{pad}    total: {}\n{pad}    ready: {}\n{pad}    notStarted: 0\n{pad}  longUnregistered: 0\n{pad}  unregistered: {}\n",
                r.registered, r.ready, r.unregistered
            )
        };
        let sd = |c: u64, pad: &str| {
            if c > 0 {
                format!(
                    "{pad}scaleDown:\n{pad}  status: CandidatesPresent\n{pad}  candidates: {c}\n"
                )
            } else {
                format!("{pad}scaleDown:\n{pad}  status: NoCandidates\n")
            }
        };
        let mut text = format!(
            "time: {time}\nautoscalerStatus: Running\nclusterWide:\n  health:\n    status: Healthy\n{}  scaleUp:\n    status: {}\n{}",
            counts(cluster, "    "),
            if cluster.unregistered == 0 {
                "NoActivity"
            } else {
                "InProgress"
            },
            sd(cluster.candidates, "  "),
        );
        if !groups.is_empty() {
            text.push_str("nodeGroups:\n");
        }
        for g in groups {
            let scale_up = if g.backed_off {
                "Backoff"
            } else if g.readiness.unregistered > 0 {
                "InProgress"
            } else {
                "NoActivity"
            };
            text.push_str(&format!(
                "- name: {}\n  health:\n    status: Healthy\n{}    cloudProviderTarget: {}\n    minSize: {}\n    maxSize: {}\n  scaleUp:\n    status: {scale_up}\n{}",
                g.name,
                counts(&g.readiness, "    "),
                g.target,
                g.min,
                g.max,
                sd(g.readiness.candidates, "  "),
            ));
        }
        text
    }

    #[test]
    fn status_text_is_the_hand_formatted_layout() {
        let r = |registered, ready, unregistered, candidates| Readiness {
            registered,
            ready,
            unregistered,
            candidates,
        };
        let g = |name, readiness: Readiness, backed_off| GroupFacts {
            name,
            readiness,
            target: readiness.registered + readiness.unregistered,
            min: 0,
            max: 20,
            backed_off,
        };
        let cases: Vec<(Readiness, Vec<GroupFacts>)> = vec![
            (r(0, 0, 0, 0), vec![]),
            (r(3, 3, 0, 0), vec![g("workers", r(3, 3, 0, 0), false)]),
            (
                r(12, 10, 4, 3),
                vec![
                    g("general-purpose", r(8, 7, 3, 2), false),
                    g("gpu", r(2, 1, 1, 1), true),
                    g("spot-m5", r(0, 0, 0, 0), true),
                ],
            ),
        ];
        for (cluster, groups) in cases {
            let time = "2024-05-01T11:55:00Z";
            let typed = render_status(&status::get_status(time.into(), &cluster, &groups));
            assert_eq!(typed, legacy_status_text(time, &cluster, &groups));
        }
    }

    #[test]
    fn ca_images_are_recognised() {
        let d = |image: &str| json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}});
        for i in [
            "registry.k8s.io/autoscaling/cluster-autoscaler:v1.32.0",
            "k8s.gcr.io/autoscaling/cluster-autoscaler-amd64:v1.21.0",
            "cluster-autoscaler@sha256:0123",
            "cluster-autoscaler",
        ] {
            assert!(ca_container(&d(i)).is_some(), "{i}");
        }
        for i in [
            "registry.k8s.io/cpa/cluster-proportional-autoscaler:v1.8.9",
            "example.com/cluster-autoscaler-ui:1",
            "nginx",
        ] {
            assert!(ca_container(&d(i)).is_none(), "{i}");
        }
    }
}
