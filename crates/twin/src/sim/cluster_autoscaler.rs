//! The Cluster Autoscaler in the twin: the component
//! ([`kscale_components::cluster_autoscaler::ClusterAutoscaler`], the same loop `--cluster`
//! runs against a real API server) over the twin's cluster API ([`SimCluster`]) and the
//! twin's cloud as its node groups ([`TwinGroups`]).
//!
//! A Deployment whose container image is `…/cluster-autoscaler[:tag]` runs it with that
//! container's flags (unknown flags are warned about and ignored). Like upstream
//! (`core/static_autoscaler.go` `RunOnce`) it loops every `--scan-interval` while one of its
//! pods is Ready: failed launches and scale-ups not registered within
//! `--max-node-provision-time` back their group off, unschedulable pods that fit no existing
//! or upcoming node scale a group up (the expander chain picks it; the `random` expander draws
//! from the twin's `cluster-autoscaler` stream), and nodes unneeded for
//! `--scale-down-unneeded-time` are tainted, drained through the eviction subresource and
//! deleted. Here the twin:
//!
//! - delivers the loops, and between them a poll every [`DRAIN_POLL_MS`] while nodes are being
//!   removed (upstream drains asynchronously and deletes a node once its pods are gone);
//! - launches the instances a scale-up asks for through its cloud provider
//!   (`crate::cloud_provider`): a launch that fails for lack of capacity is reported at the
//!   next loop, the others register after the provisioning latency and are billed from the
//!   request;
//! - counts what the component did into the run's counters and writes its decisions into
//!   `summary.json` (`controllers::cluster_autoscaler::decisions`);
//! - warns about Deployments whose pods are expendable for it.
//!
//! Node groups are `spec.cloud.nodeGroups`: those named by `--nodes=min:max:NAME` (with those
//! bounds), or all of them with `--node-group-auto-discovery`.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Node;
use kscale_components::cluster_autoscaler::{ClusterAutoscaler, NodeGroups, Scan, Stats};
use kscale_controllers::cluster_autoscaler::{self as ca, CloudNodeGroup, Config, decisions};
use kscale_model::SimTime;
use serde_json::Value;

use super::cluster_api::SimCluster;
use super::provider::NODE_GROUP_LABEL;
use super::store::ObjKey;
use super::{Event, Sim};
use crate::manifest::Warning;

pub use kscale_controllers::cluster_autoscaler::{
    POD_PRICE_PER_CORE_HOUR, POD_PRICE_PER_GIB_HOUR, PRIORITY_CONFIGMAP, SOURCE, STATUS_CONFIGMAP,
    TO_BE_DELETED_TAINT,
};
/// How often nodes being removed are checked for their evicted pods to be gone (assumption:
/// upstream polls evictions every 5 s, `core/scaledown/actuation/drain.go`).
pub const DRAIN_POLL_MS: u64 = 5_000;

pub use kscale_components::cluster_autoscaler::capacity_buffer::{
    self, ACTIVE_CAPACITY, FAKE_POD_ID_BASE,
};

/// A node the autoscaler asked the cloud for, not registered yet.
#[derive(Debug, Clone)]
pub struct Upcoming {
    /// Group.
    pub group: String,
    /// When requested (the instance is billed from then).
    pub requested: SimTime,
}

/// The Cluster Autoscaler of the run and the cloud's side of it.
#[derive(Debug, Default)]
pub struct CaTwin {
    /// The Deployment running the Cluster Autoscaler.
    pub deployment: Option<ObjKey>,
    /// The component (from the first loop while the Deployment runs the image).
    component: Option<ClusterAutoscaler>,
    /// A loop is scheduled.
    scanning: bool,
    /// A drain poll is scheduled.
    draining: bool,
    /// Requested instances not registered yet, by id.
    upcoming: BTreeMap<u64, Upcoming>,
    /// Next upcoming id.
    next_id: u64,
    /// Launches that failed for lack of capacity since the last loop, per group.
    failed: BTreeMap<String, u32>,
    /// What the component had done at the last count.
    counted: Stats,
    /// Warnings already given (by key).
    warned: BTreeSet<String>,
    /// The last check for expendable workloads.
    expendable_checked: Option<ExpendableCheck>,
    /// Registered nodes per group, counted at the revision of the last node change.
    registered: Option<(u64, BTreeMap<String, u32>)>,
}

/// What the last check for expendable workloads saw: a Deployment changed after `revision`,
/// another PriorityClass write or another cutoff calls for a new one.
#[derive(Debug, Clone, Copy)]
struct ExpendableCheck {
    revision: u64,
    classes: u64,
    cutoff: i32,
}

/// The twin's cloud as the Cluster Autoscaler's node groups during one loop: target sizes are
/// the registered nodes and the launches not registered yet; what the loop asks for is
/// carried out by the twin after it ([`Sim::ca_apply`]).
#[derive(Debug, Default)]
pub struct TwinGroups {
    groups: Vec<CloudNodeGroup>,
    target: BTreeMap<String, u32>,
    failed: Vec<(String, u32)>,
    increases: Vec<(String, u32)>,
    decreases: Vec<(String, u32)>,
    deletes: Vec<String>,
}

impl NodeGroups for TwinGroups {
    fn node_groups(&mut self) -> Vec<CloudNodeGroup> {
        self.groups.clone()
    }

    fn node_group_of(&self, node: &Node) -> Option<String> {
        node.metadata
            .labels
            .as_ref()?
            .get(NODE_GROUP_LABEL)
            .cloned()
    }

    fn target_size(&self, group: &str) -> u32 {
        self.target.get(group).copied().unwrap_or(0)
    }

    fn increase_size(&mut self, group: &str, delta: u32) -> Result<(), String> {
        *self.target.entry(group.to_string()).or_default() += delta;
        self.increases.push((group.to_string(), delta));
        Ok(())
    }

    fn decrease_target_size(&mut self, group: &str, delta: u32) -> Result<(), String> {
        let t = self.target.entry(group.to_string()).or_default();
        *t = t.saturating_sub(delta);
        self.decreases.push((group.to_string(), delta));
        Ok(())
    }

    fn delete_node(&mut self, group: &str, node: &str) -> Result<(), String> {
        let t = self.target.entry(group.to_string()).or_default();
        *t = t.saturating_sub(1);
        self.deletes.push(node.to_string());
        Ok(())
    }

    fn failed_launches(&mut self) -> Vec<(String, u32)> {
        std::mem::take(&mut self.failed)
    }
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

    /// The cloud's node groups (`spec.cloud.nodeGroups` of a known instance type), each with
    /// its template node and the DaemonSets' pods that would run there.
    pub fn ca_cloud_groups(&self) -> Vec<CloudNodeGroup> {
        self.cloud.group_templates(&self.daemon_pod_templates())
    }

    /// The cloud's side of a loop: the groups (templates without daemon pods, which the
    /// component adds itself), their target sizes and the launches that failed.
    fn ca_groups(&mut self) -> TwinGroups {
        // Counted again only after a node was added, changed or deleted.
        let nodes_rev = self.store.writes_of("Node");
        let mut target = match &self.ca.registered {
            Some((rev, counts)) if *rev == nodes_rev => counts.clone(),
            _ => {
                let mut counts: BTreeMap<String, u32> = BTreeMap::new();
                for n in self.nodes.values() {
                    if let Some(g) = n.info.labels.get(NODE_GROUP_LABEL) {
                        match counts.get_mut(g.as_str()) {
                            Some(count) => *count += 1,
                            None => {
                                counts.insert(g.clone(), 1);
                            }
                        }
                    }
                }
                self.ca.registered = Some((nodes_rev, counts.clone()));
                counts
            }
        };
        for u in self.ca.upcoming.values() {
            *target.entry(u.group.clone()).or_insert(0) += 1;
        }
        TwinGroups {
            groups: self.cloud.group_templates(&[]),
            target,
            failed: std::mem::take(&mut self.ca.failed).into_iter().collect(),
            ..TwinGroups::default()
        }
    }

    /// One loop of the Cluster Autoscaler.
    pub fn ca_scan(&mut self) {
        let Some(key) = self.ca.deployment.clone() else {
            self.ca.scanning = false;
            return;
        };
        let still = self
            .store
            .get(&key)
            .and_then(ca_container)
            .map(|c| Config::from_args(&container_words(c)).0);
        let Some(cfg) = still else {
            self.ca.scanning = false;
            self.ca.component = None;
            return;
        };
        self.queue
            .push(self.now.plus_millis(cfg.scan_interval_ms), Event::CaScan);
        self.ca_warn_expendable_workloads(&cfg);
        let mut component = self.ca.component.take().unwrap_or_else(|| {
            ClusterAutoscaler::new(&key.namespace, &key.name)
                .with_clock_origin(self.start_unix_ms)
                .with_informers()
        });
        let mut groups = self.ca_groups();
        let mut rng = std::mem::replace(&mut self.rng.ca, crate::rngs::Stream::new(0, ""));
        let scan =
            component.run_once_with(&mut SimCluster(self), &mut groups, &mut |n| rng.index(n));
        self.rng.ca = rng;
        // Its warnings are the twin's own (given when the Deployment was applied).
        component.take_warnings();
        match scan {
            Ok(Scan::Gone) => {
                self.ca.scanning = false;
                self.ca_apply(groups, &component);
            }
            Ok(_) => {
                self.ca_apply(groups, &component);
                self.ca.component = Some(component);
            }
            Err(e) => {
                self.ca_apply(groups, &component);
                self.ca.component = Some(component);
                self.warn_once(format!("error:{e}"), format!("cluster-autoscaler: {e}"));
            }
        }
        self.ca_arm_drain_poll();
    }

    /// Between loops: the removals in progress go on ([`ClusterAutoscaler::progress`]).
    pub fn ca_drain_poll(&mut self) {
        self.ca.draining = false;
        let Some(mut component) = self.ca.component.take() else {
            return;
        };
        let mut groups = self.ca_groups();
        let _ = component.progress(&mut SimCluster(self), &mut groups);
        self.ca_apply(groups, &component);
        self.ca.component = Some(component);
        self.ca_arm_drain_poll();
    }

    fn ca_arm_drain_poll(&mut self) {
        let removing = self
            .ca
            .component
            .as_ref()
            .is_some_and(|c| c.removing().next().is_some());
        if removing && !self.ca.draining {
            self.ca.draining = true;
            self.queue
                .push(self.now.plus_millis(DRAIN_POLL_MS), Event::CaDrainPoll);
        }
    }

    /// Carries out what a loop asked of the cloud (launches, given-up launches, deletions) and
    /// counts what the component did.
    fn ca_apply(&mut self, groups: TwinGroups, component: &ClusterAutoscaler) {
        let now = self.now;
        for (group, delta) in groups.increases {
            for _ in 0..delta {
                if self.cloud.group_launch_fails_at(now.as_millis(), &group) {
                    self.count("insufficientCapacityErrors");
                    *self.ca.failed.entry(group.clone()).or_default() += 1;
                    continue;
                }
                let id = self.ca.next_id;
                self.ca.next_id += 1;
                let delay = self.cloud.provisioning_latency_ms();
                self.queue.push(now.plus_millis(delay), Event::CaNodeUp(id));
                self.ca.upcoming.insert(
                    id,
                    Upcoming {
                        group: group.clone(),
                        requested: now,
                    },
                );
            }
        }
        for (group, delta) in groups.decreases {
            // The oldest requests of the group are given up.
            let ids: Vec<u64> = self
                .ca
                .upcoming
                .iter()
                .filter(|(_, u)| u.group == group)
                .map(|(id, _)| *id)
                .take(delta as usize)
                .collect();
            for id in ids {
                self.ca.upcoming.remove(&id);
            }
        }
        for node in groups.deletes {
            self.remove_node(&node);
        }
        let s = component.stats();
        let was = std::mem::replace(&mut self.ca.counted, s);
        for (name, now, before) in [
            ("caScaleUps", s.scale_ups, was.scale_ups),
            (
                "caScaleUpFailures",
                s.scale_up_failures,
                was.scale_up_failures,
            ),
            ("caScaleDowns", s.scale_downs, was.scale_downs),
            ("caNodesRemoved", s.nodes_removed, was.nodes_removed),
            (
                "caNotTriggerScaleUp",
                s.not_trigger_scale_up,
                was.not_trigger_scale_up,
            ),
        ] {
            if now > before {
                self.recorder.count(name, now - before);
            }
        }
    }

    /// Warns, once per workload, about Deployments whose pods are expendable for this
    /// autoscaler (priority below `--expendable-pods-priority-cutoff`): as over-provisioning
    /// pods they can never get capacity of their own.
    fn ca_warn_expendable_workloads(&mut self, cfg: &Config) {
        let cutoff = cfg.expendable_pods_priority_cutoff;
        let check = ExpendableCheck {
            revision: self.store.changes().revision(),
            classes: self.store.writes_of("PriorityClass"),
            cutoff,
        };
        // Only the Deployments changed since the last check, while the PriorityClasses and the
        // cutoff are the same and the change feed reaches back; every one otherwise.
        let changed: Option<BTreeSet<(String, String)>> = self
            .ca
            .expendable_checked
            .filter(|c| c.classes == check.classes && c.cutoff == cutoff)
            .and_then(|c| self.store.changes().since("Deployment", c.revision).ok())
            .map(|changes| changes.into_iter().map(|c| (c.namespace, c.name)).collect());
        self.ca.expendable_checked = Some(check);
        let deployments: Vec<(ObjKey, &Value)> = match &changed {
            Some(keys) => keys
                .iter()
                .filter_map(|(ns, name)| {
                    let k = ObjKey::new("Deployment", ns, name);
                    self.store.get(&k).map(|v| (k, v))
                })
                .collect(),
            None => self
                .store
                .list("Deployment", None)
                .map(|(k, v)| (k.clone(), v))
                .collect(),
        };
        let mut found = vec![];
        for (k, v) in deployments {
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
        let component = self.ca.component.as_ref();
        let decided = component.map(|c| c.decisions()).unwrap_or_default();
        let unremovable = component
            .into_iter()
            .flat_map(|c| c.unremovable())
            .filter(|(n, _)| self.nodes.contains_key(*n));
        Some(decisions::summary(&counts, decided, unremovable))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kscale_controllers::cluster_autoscaler::status::{self, GroupFacts, Readiness};
    use serde_json::json;

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
            let typed = status::render(&status::get_status(time.into(), &cluster, &groups));
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
