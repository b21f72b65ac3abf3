//! The component over a small in-memory API server and cloud.

use super::*;
use kscale_cluster::{Changes, Object, PodMetrics, ScaleKind};
use kscale_controllers::scheduler::NodeInfo;
use kscale_model::{LabelSelector, Resources};
use serde_json::Value;

const GROUP_LABEL: &str = "eks.amazonaws.com/nodegroup";
const GIB: i64 = 1 << 30;

/// An API server in memory: objects as JSON by (kind, namespace, name), merge patches,
/// evictions that delete the pod at once unless refused.
#[derive(Default)]
struct Fake {
    now: u64,
    objects: BTreeMap<(String, String, String), Value>,
    events: Vec<Event>,
    refuse: BTreeSet<String>,
    evicted: Vec<String>,
}

fn merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

impl Fake {
    fn key<K: Object>(namespace: &str, name: &str) -> (String, String, String) {
        let ns = if kscale_cluster::namespaced::<K>() {
            namespace
        } else {
            ""
        };
        (K::KIND.into(), ns.into(), name.into())
    }

    fn put(&mut self, v: Value) {
        let kind = v["kind"].as_str().unwrap().to_string();
        let ns = if kind == "Node" {
            ""
        } else {
            v["metadata"]["namespace"].as_str().unwrap_or("default")
        };
        let name = v["metadata"]["name"].as_str().unwrap().to_string();
        let mut v = v.clone();
        if kind != "Node" {
            v["metadata"]["namespace"] = json!(ns);
        }
        self.objects.insert((kind, ns.into(), name), v);
    }

    fn remove(&mut self, kind: &str, ns: &str, name: &str) {
        self.objects.remove(&(kind.into(), ns.into(), name.into()));
    }

    fn events(&self, reason: &str) -> Vec<&Event> {
        self.events.iter().filter(|e| e.reason == reason).collect()
    }

    fn node(&self, name: &str) -> Node {
        serde_json::from_value(self.objects[&("Node".into(), "".into(), name.into())].clone())
            .unwrap()
    }

    fn status(&self) -> Option<ConfigMap> {
        self.objects
            .get(&(
                "ConfigMap".into(),
                STATUS_NAMESPACE.into(),
                STATUS_CONFIGMAP.into(),
            ))
            .map(|v| serde_json::from_value(v.clone()).unwrap())
    }
}

fn unavailable<T>() -> Result<T, ApiError> {
    Err(ApiError::Unavailable("not served by the fake".into()))
}

impl Cluster for Fake {
    fn now_ms(&self) -> u64 {
        self.now
    }

    fn get<K: Object>(&mut self, namespace: &str, name: &str) -> Result<Option<K>, ApiError> {
        Ok(self
            .objects
            .get(&Self::key::<K>(namespace, name))
            .map(|v| serde_json::from_value(v.clone()).unwrap()))
    }

    fn list<K: Object>(
        &mut self,
        namespace: Option<&str>,
        selector: &str,
    ) -> Result<Vec<K>, ApiError> {
        let sel = LabelSelector::parse(selector).map_err(ApiError::Invalid)?;
        Ok(self
            .objects
            .iter()
            .filter(|((k, ns, _), _)| k == K::KIND && namespace.is_none_or(|n| n == ns))
            .filter(|(_, v)| {
                let labels: BTreeMap<String, String> =
                    serde_json::from_value(v["metadata"]["labels"].clone()).unwrap_or_default();
                sel.matches(&labels)
            })
            .map(|(_, v)| serde_json::from_value(v.clone()).unwrap())
            .collect())
    }

    fn create<K: Object>(&mut self, obj: &K) -> Result<(), ApiError> {
        let m = obj.metadata();
        let key = Self::key::<K>(
            m.namespace.as_deref().unwrap_or("default"),
            m.name.as_deref().unwrap_or(""),
        );
        if self.objects.contains_key(&key) {
            return Err(ApiError::AlreadyExists(key.2));
        }
        let mut v = serde_json::to_value(obj).unwrap();
        v["kind"] = json!(K::KIND);
        self.objects.insert(key, v);
        Ok(())
    }

    fn scale(&mut self, _: ScaleKind, _: &str, _: &str, _: i32) -> Result<(), ApiError> {
        unavailable()
    }

    fn patch<K: Object>(
        &mut self,
        namespace: &str,
        name: &str,
        patch: &Patch,
    ) -> Result<K, ApiError> {
        let Patch::Merge(body) = patch else {
            return unavailable();
        };
        let v = self
            .objects
            .get_mut(&Self::key::<K>(namespace, name))
            .ok_or_else(|| ApiError::not_found::<K>(namespace, name))?;
        merge(v, body);
        Ok(serde_json::from_value(v.clone()).unwrap())
    }

    fn patch_status<K: Object>(
        &mut self,
        namespace: &str,
        name: &str,
        patch: &Patch,
    ) -> Result<K, ApiError> {
        self.patch(namespace, name, patch)
    }

    fn delete<K: Object>(
        &mut self,
        namespace: &str,
        name: &str,
        _: Option<i64>,
    ) -> Result<(), ApiError> {
        self.objects
            .remove(&Self::key::<K>(namespace, name))
            .map(|_| ())
            .ok_or_else(|| ApiError::not_found::<K>(namespace, name))
    }

    fn evict(&mut self, namespace: &str, name: &str, _: Option<i64>) -> Result<(), ApiError> {
        if self.refuse.contains(name) {
            return Err(ApiError::TooManyRequests("budget".into()));
        }
        self.delete::<Pod>(namespace, name, None)?;
        self.evicted.push(name.into());
        Ok(())
    }

    fn resize(&mut self, _: &str, _: &str, _: &Patch) -> Result<Pod, ApiError> {
        unavailable()
    }

    fn bind(&mut self, _: &str, _: &str, _: &str) -> Result<(), ApiError> {
        unavailable()
    }

    fn event(&mut self, event: Event) {
        self.events.push(event);
    }

    fn pod_metrics(&mut self, _: Option<&str>, _: &str) -> Result<Vec<PodMetrics>, ApiError> {
        Ok(vec![])
    }

    fn revision(&mut self) -> Result<u64, ApiError> {
        Ok(0)
    }

    fn changes<K: Object>(&mut self, since: u64) -> Result<Changes, ApiError> {
        Ok(Changes {
            changes: vec![],
            revision: since,
        })
    }
}

/// A cloud of 2-CPU nodes: sizes only, nothing registers by itself.
#[derive(Default)]
struct FakeCloud {
    groups: Vec<CloudNodeGroup>,
    target: BTreeMap<String, u32>,
    deleted: Vec<String>,
    failing: Vec<(String, u32)>,
}

impl FakeCloud {
    fn with_group(mut self, id: &str, min: u32, max: u32, target: u32) -> Self {
        let allocatable = Resources {
            cpu_milli: 2000,
            memory: 8 * GIB,
            pods: 110,
        };
        self.groups.push(CloudNodeGroup {
            id: id.into(),
            min,
            max,
            template: NodeInfo {
                name: format!("template-node-for-{id}").into(),
                labels: std::sync::Arc::new([(GROUP_LABEL.to_string(), id.to_string())].into()),
                taints: Default::default(),
                unschedulable: false,
                ready: true,
                allocatable,
                requested: Resources::ZERO,
                pods: vec![],
                nominated: vec![],
            },
            capacity: allocatable,
            price_per_hour: 0.1,
        });
        self.target.insert(id.into(), target);
        self
    }
}

impl NodeGroups for FakeCloud {
    fn node_groups(&mut self) -> Vec<CloudNodeGroup> {
        self.groups.clone()
    }

    fn node_group_of(&self, node: &Node) -> Option<String> {
        node.metadata.labels.as_ref()?.get(GROUP_LABEL).cloned()
    }

    fn target_size(&self, group: &str) -> u32 {
        self.target.get(group).copied().unwrap_or(0)
    }

    fn increase_size(&mut self, group: &str, delta: u32) -> Result<(), String> {
        *self.target.get_mut(group).ok_or("no such group")? += delta;
        Ok(())
    }

    fn decrease_target_size(&mut self, group: &str, delta: u32) -> Result<(), String> {
        let t = self.target.get_mut(group).ok_or("no such group")?;
        *t = t.saturating_sub(delta);
        Ok(())
    }

    fn delete_node(&mut self, group: &str, node: &str) -> Result<(), String> {
        *self.target.get_mut(group).ok_or("no such group")? -= 1;
        self.deleted.push(node.into());
        Ok(())
    }

    fn failed_launches(&mut self) -> Vec<(String, u32)> {
        std::mem::take(&mut self.failing)
    }
}

fn node(name: &str, group: Option<&str>) -> Value {
    let mut labels = json!({"kubernetes.io/hostname": name});
    if let Some(g) = group {
        labels[GROUP_LABEL] = json!(g);
    }
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": [{"key": "keep", "value": "me", "effect": "PreferNoSchedule"}]},
        "status": {"allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110"},
                   "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

/// A ReplicaSet's pod requesting `cpu` millicores: bound to `node` and Running, or pending
/// and unschedulable.
fn pod(name: &str, cpu: i64, node: Option<&str>) -> Value {
    let mut p = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                     "labels": {"app": "web"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                          "name": "web-1", "uid": "rs", "controller": true}]},
        "spec": {"containers": [{"name": "c", "image": "app",
                                 "resources": {"requests": {"cpu": format!("{cpu}m"), "memory": "256Mi"}}}],
                 "terminationGracePeriodSeconds": 10},
    });
    match node {
        Some(n) => {
            p["spec"]["nodeName"] = json!(n);
            p["status"] = json!({"phase": "Running"});
        }
        None => {
            p["status"] = json!({"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "message": "0/1 nodes are available"}]})
        }
    }
    p
}

fn config(args: &[&str]) -> Config {
    let words: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (c, warnings) = Config::from_args(&words);
    assert!(warnings.is_empty(), "{warnings:?}");
    c
}

fn ran(s: Scan) -> ScanReport {
    match s {
        Scan::Ran(r) => r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn unschedulable_pods_scale_up_the_group_once() {
    let mut api = Fake::default();
    api.put(node("system", None));
    // The system node is full.
    api.put(pod("sys", 1800, Some("system")));
    for i in 0..3 {
        api.put(pod(&format!("web-{i}"), 600, None));
    }
    // A pod the scheduler has not tried yet (no condition) does not count.
    let mut fresh = pod("web-new", 600, None);
    fresh["status"] = json!({"phase": "Pending"});
    api.put(fresh);
    let mut cloud = FakeCloud::default().with_group("workers", 0, 3, 0);
    let mut ca = ClusterAutoscaler::with_config(config(&["--nodes=0:3:workers"]));
    let r = ran(ca.run_once(&mut api, &mut cloud).unwrap());
    assert_eq!(
        r.increases,
        vec![GroupIncrease {
            group: "workers".into(),
            from: 0,
            to: 1,
            max: 3
        }],
        "three 600m pods fit one 2-CPU node"
    );
    assert_eq!(cloud.target["workers"], 1);
    let up = api.events(events::SCALED_UP_GROUP);
    assert_eq!(up.len(), 1);
    assert_eq!(
        (
            up[0].kind.as_str(),
            up[0].name.as_str(),
            up[0].message.as_str()
        ),
        (
            "ConfigMap",
            STATUS_CONFIGMAP,
            "Scale-up: setting group workers size to 1 instead of 0 (max: 3)"
        )
    );
    let triggered = api.events(events::TRIGGERED_SCALE_UP);
    let mut names: Vec<&str> = triggered.iter().map(|e| e.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["web-0", "web-1", "web-2"]);
    assert_eq!(
        triggered[0].message,
        "pod triggered scale-up: [{workers 0->1 (max: 3)}]"
    );
    assert!(triggered.iter().all(|e| e.source == SOURCE));
    let text = api.status().unwrap().data.unwrap()["status"].clone();
    assert!(text.contains("- name: workers\n"), "{text}");
    assert!(text.contains("cloudProviderTarget: 1\n"), "{text}");
    assert!(
        text.contains("scaleUp:\n    status: InProgress\n"),
        "{text}"
    );
    // The upcoming node holds the pods: the next loop adds nothing.
    api.now = 10_000;
    let r = ran(ca.run_once(&mut api, &mut cloud).unwrap());
    assert!(r.increases.is_empty());
    assert_eq!(cloud.target["workers"], 1);
    assert_eq!(ca.stats().scale_ups, 1);
    // One decision, as summary.json lists it.
    let d: Vec<Value> = ca.decisions().iter().map(|d| d.to_json()).collect();
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0]["kind"].as_str(), d[0]["group"].as_str()),
        (Some("scaleUp"), Some("workers"))
    );
    assert_eq!(d[0]["time"], 0.0);
    let detail = &d[0]["detail"];
    assert_eq!(
        (
            detail["from"].as_u64(),
            detail["to"].as_u64(),
            detail["pods"].as_u64()
        ),
        (Some(0), Some(1), Some(3))
    );
    let mut by: Vec<&str> = detail["triggeredBy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    by.sort();
    assert_eq!(by, ["default/web-0", "default/web-1", "default/web-2"]);
}

#[test]
fn the_group_maximum_and_max_nodes_total_cap_the_increase() {
    let setup = || {
        let mut api = Fake::default();
        api.put(node("system", None));
        api.put(pod("sys", 1800, Some("system")));
        for i in 0..6 {
            api.put(pod(&format!("big-{i}"), 1500, None));
        }
        api
    };
    let mut api = setup();
    let mut cloud = FakeCloud::default().with_group("workers", 0, 4, 0);
    let mut ca = ClusterAutoscaler::with_config(config(&["--nodes=0:4:workers"]));
    let r = ran(ca.run_once(&mut api, &mut cloud).unwrap());
    assert_eq!((r.increases[0].from, r.increases[0].to), (0, 4));
    let mut api = setup();
    let mut cloud = FakeCloud::default().with_group("workers", 0, 4, 0);
    let mut ca =
        ClusterAutoscaler::with_config(config(&["--nodes=0:4:workers", "--max-nodes-total=3"]));
    let r = ran(ca.run_once(&mut api, &mut cloud).unwrap());
    assert_eq!(
        (r.increases[0].from, r.increases[0].to),
        (0, 2),
        "the system node counts"
    );
}

/// Two workers with a small pod each: one can take the other's pod, so one is unneeded and,
/// after the unneeded time, tainted, drained and deleted.
fn two_workers() -> (Fake, FakeCloud) {
    let mut api = Fake::default();
    api.put(node("w1", Some("workers")));
    api.put(node("w2", Some("workers")));
    api.put(pod("a", 300, Some("w1")));
    api.put(pod("b", 300, Some("w2")));
    (api, FakeCloud::default().with_group("workers", 1, 3, 2))
}

fn has_deletion_taint(n: &Node) -> bool {
    n.spec
        .iter()
        .flat_map(|s| s.taints.iter().flatten())
        .any(|t| t.key == TO_BE_DELETED_TAINT)
}

#[test]
fn an_unneeded_node_is_tainted_drained_and_deleted_after_the_unneeded_time() {
    let (mut api, mut cloud) = two_workers();
    let mut ca = ClusterAutoscaler::with_config(config(&[
        "--nodes=1:3:workers",
        "--scale-down-unneeded-time=20s",
    ]))
    .with_clock_origin(1_700_000_000_000);
    for t in [0, 10_000] {
        api.now = t;
        let r = ran(ca.run_once(&mut api, &mut cloud).unwrap());
        assert!(r.removals_started.is_empty(), "at {t}");
    }
    assert_eq!(
        ca.state().unneeded_since.keys().collect::<Vec<_>>(),
        ["w1"],
        "w2's pod has no place once w1 goes"
    );
    assert!(
        api.status().unwrap().data.unwrap()["status"]
            .contains("status: CandidatesPresent\n    candidates: 1\n")
    );
    api.now = 20_000;
    let r = ran(ca.run_once(&mut api, &mut cloud).unwrap());
    assert_eq!(r.removals_started, ["w1"]);
    assert!(
        r.nodes_deleted.is_empty(),
        "its evicted pod is still listed"
    );
    let w1 = api.node("w1");
    assert!(has_deletion_taint(&w1), "{w1:?}");
    let taints = w1.spec.unwrap().taints.unwrap();
    assert_eq!(taints[0].key, "keep", "its own taints stay");
    assert_eq!(taints[1].value.as_deref(), Some("1700000020"));
    assert_eq!(api.evicted, ["a"]);
    let sd = api.events(events::SCALE_DOWN);
    let what: Vec<(&str, &str, &str)> = sd
        .iter()
        .map(|e| (e.kind.as_str(), e.name.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(
        what,
        [
            (
                "ConfigMap",
                STATUS_CONFIGMAP,
                "Scale-down: removing node w1, utilization: {0.15}, pods to reschedule: default/a"
            ),
            ("Node", "w1", events::NODE_MARKED),
            ("Pod", "a", events::POD_DELETING),
        ]
    );
    // The next loop finds the pod gone and deletes the node through the cloud.
    api.now = 30_000;
    let r = ran(ca.run_once(&mut api, &mut cloud).unwrap());
    assert_eq!(r.nodes_deleted, ["w1"]);
    assert_eq!(cloud.deleted, ["w1"]);
    assert_eq!(cloud.target["workers"], 1);
    assert_eq!(
        api.events(events::SCALE_DOWN).last().unwrap().message,
        events::NODE_REMOVED
    );
    // The cloud removes the node; the group is at its minimum: w2 stays.
    api.remove("Node", "", "w1");
    for t in [40_000, 100_000, 200_000] {
        api.now = t;
        let r = ran(ca.run_once(&mut api, &mut cloud).unwrap());
        assert!(r.removals_started.is_empty() && r.nodes_deleted.is_empty());
    }
    assert_eq!(
        ca.stats(),
        Stats {
            scale_downs: 1,
            nodes_removed: 1,
            ..Stats::default()
        }
    );
    let d: Vec<Value> = ca.decisions().iter().map(|d| d.to_json()).collect();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["kind"], "scaleDown");
    assert_eq!(d[0]["time"], 20.0);
    assert_eq!(
        d[0]["detail"],
        json!({"node": "w1", "empty": false, "utilization": 0.15, "unneededSeconds": 20.0, "podsToReschedule": ["default/a"]}),
        "unneeded since the first loop"
    );
    // w2 at its group's minimum: unremovable, with upstream's reason.
    let unremovable: Vec<(&str, &str)> = ca.unremovable().collect();
    assert!(
        unremovable.iter().any(|(n, _)| *n == "w2"),
        "{unremovable:?}"
    );
}

#[test]
fn an_eviction_refused_by_a_budget_is_retried_each_loop() {
    let (mut api, mut cloud) = two_workers();
    api.refuse.insert("a".into());
    let mut ca = ClusterAutoscaler::with_config(config(&[
        "--nodes=1:3:workers",
        "--scale-down-unneeded-time=0s",
    ]));
    let r = ran(ca.run_once(&mut api, &mut cloud).unwrap());
    assert_eq!(r.removals_started, ["w1"]);
    for t in [10_000, 20_000] {
        api.now = t;
        let r = ran(ca.run_once(&mut api, &mut cloud).unwrap());
        assert!(r.nodes_deleted.is_empty());
        assert!(r.removals_started.is_empty(), "one drain at a time");
    }
    assert!(api.evicted.is_empty());
    api.refuse.clear();
    api.now = 30_000;
    ran(ca.run_once(&mut api, &mut cloud).unwrap());
    assert_eq!(api.evicted, ["a"]);
    api.now = 40_000;
    let r = ran(ca.run_once(&mut api, &mut cloud).unwrap());
    assert_eq!(r.nodes_deleted, ["w1"]);
}

#[test]
fn a_removal_whose_evictions_keep_failing_is_abandoned_after_two_minutes() {
    let (mut api, mut cloud) = two_workers();
    api.refuse.insert("a".into());
    let mut ca = ClusterAutoscaler::with_config(config(&[
        "--nodes=1:3:workers",
        "--scale-down-unneeded-time=0s",
        "--scale-down-delay-after-failure=1m",
    ]));
    let mut t = 0;
    while t < MAX_POD_EVICTION_MS {
        api.now = t;
        ran(ca.run_once(&mut api, &mut cloud).unwrap());
        assert!(has_deletion_taint(&api.node("w1")), "at {t}");
        t += 10_000;
    }
    api.now = MAX_POD_EVICTION_MS;
    ran(ca.run_once(&mut api, &mut cloud).unwrap());
    assert!(!has_deletion_taint(&api.node("w1")));
    assert_eq!(ca.removing().count(), 0);
    assert!(cloud.deleted.is_empty());
    let failed = api.events(events::SCALE_DOWN_FAILED);
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0].name.as_str(), failed[0].type_),
        ("a", EventType::Warning)
    );
    assert_eq!(
        ca.state().last_scale_down_fail,
        Some(SimTime(MAX_POD_EVICTION_MS))
    );
    // Within --scale-down-delay-after-failure nothing is removed.
    api.now = MAX_POD_EVICTION_MS + 30_000;
    let r = ran(ca.run_once(&mut api, &mut cloud).unwrap());
    assert!(r.removals_started.is_empty());
}

#[test]
fn nodes_that_never_register_and_failed_launches_back_the_group_off() {
    let mut api = Fake::default();
    api.put(pod("p", 600, None));
    let mut cloud = FakeCloud::default().with_group("workers", 0, 3, 0);
    let mut ca = ClusterAutoscaler::with_config(config(&[
        "--nodes=0:3:workers",
        "--max-node-provision-time=1m",
    ]));
    ran(ca.run_once(&mut api, &mut cloud).unwrap());
    assert_eq!(cloud.target["workers"], 1);
    api.now = 50_000;
    ran(ca.run_once(&mut api, &mut cloud).unwrap());
    assert!(api.events(events::SCALE_UP_TIMED_OUT).is_empty());
    api.now = 60_000;
    let r = ran(ca.run_once(&mut api, &mut cloud).unwrap());
    let timed_out = api.events(events::SCALE_UP_TIMED_OUT);
    assert_eq!(timed_out.len(), 1);
    assert_eq!(
        timed_out[0].message,
        "Nodes added to group workers failed to register within 1m0s"
    );
    assert_eq!(cloud.target["workers"], 0, "the instance is given up");
    assert!(ca.state().backed_off("workers", SimTime(60_000)));
    assert!(
        r.increases.is_empty(),
        "a backed-off group is not scaled up"
    );
    let not = api.events(events::NOT_TRIGGER_SCALE_UP);
    assert_eq!(
        not.last().unwrap().message,
        "pod didn't trigger scale-up: 1 in backoff after failed scale-up"
    );
    assert!(
        api.status().unwrap().data.unwrap()["status"].contains("status: Backoff"),
        "the status shows the backoff"
    );
    // A launch the cloud reports failed: ScaleUpFailed, and the backoff doubles.
    cloud.failing.push(("workers".into(), 1));
    api.now = 70_000;
    ran(ca.run_once(&mut api, &mut cloud).unwrap());
    let failed = api.events(events::SCALE_UP_FAILED);
    assert_eq!(failed[0].message, events::scale_up_failed("workers", 1));
    assert_eq!(ca.state().backoff["workers"].duration_ms, 600_000);
    assert_eq!(ca.stats().scale_up_failures, 2);
    let kinds: Vec<(String, u64, String)> = ca
        .decisions()
        .iter()
        .map(|d| d.to_json())
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_string(),
                d["detail"]["nodes"].as_u64().unwrap_or(0),
                d["detail"]["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expect = |k: &str, n: u64, r: &str| (k.to_string(), n, r.to_string());
    assert_eq!(
        kinds,
        [
            expect(
                "scaleUp",
                0,
                "1 unschedulable pod(s) fit no existing or upcoming node"
            ),
            expect("scaleUpFailed", 1, events::SCALE_UP_TIMED_OUT),
            expect("scaleUpFailed", 1, events::SCALE_UP_FAILED),
        ]
    );
    let last = ca.decisions().last().unwrap().to_json();
    assert_eq!(
        last["detail"]["backoffUntilSeconds"], 670.0,
        "the doubled backoff: 10 minutes from 70 s"
    );
}

fn deployment(args: &[&str]) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "cluster-autoscaler", "namespace": "kube-system"},
        "spec": {"selector": {"matchLabels": {"app": "ca"}},
                 "template": {"metadata": {"labels": {"app": "ca"}},
                              "spec": {"containers": [{"name": "ca",
                                "image": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.32.0",
                                "command": ["./cluster-autoscaler"], "args": args}]}}}
    })
}

#[test]
fn it_runs_from_its_deployment_while_its_pod_is_ready() {
    let mut api = Fake::default();
    api.put(deployment(&[
        "--nodes=0:3:workers",
        "--scan-interval=5s",
        "--frobnicate",
    ]));
    let mut ca_pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "ca-1", "namespace": "kube-system", "labels": {"app": "ca"}},
        "spec": {"containers": [], "nodeName": "system"},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}
    });
    api.put(ca_pod.clone());
    api.put(pod("p", 600, None));
    let mut cloud = FakeCloud::default().with_group("workers", 0, 3, 0);
    let mut ca = ClusterAutoscaler::new("kube-system", "cluster-autoscaler");
    assert_eq!(ca.run_once(&mut api, &mut cloud).unwrap(), Scan::NotRunning);
    assert_eq!(ca.scan_interval_ms(), 5_000);
    assert_eq!(
        ca.take_warnings(),
        ["cluster-autoscaler kube-system/cluster-autoscaler: unknown flag --frobnicate ignored"]
    );
    assert_eq!(cloud.target["workers"], 0);
    ca_pod["status"]["conditions"][0]["status"] = json!("True");
    api.put(ca_pod);
    let r = ran(ca.run_once(&mut api, &mut cloud).unwrap());
    assert_eq!(r.increases.len(), 1);
    assert!(ca.take_warnings().is_empty(), "each warning once");
    api.remove("Deployment", "kube-system", "cluster-autoscaler");
    assert_eq!(ca.run_once(&mut api, &mut cloud).unwrap(), Scan::Gone);
}

#[test]
fn the_status_is_rewritten_only_when_what_it_shows_changes() {
    let (mut api, mut cloud) = two_workers();
    let mut ca = ClusterAutoscaler::with_config(config(&["--nodes=1:3:workers"]))
        .with_clock_origin(1_700_000_000_000);
    let updated = |api: &Fake| {
        api.status().unwrap().metadata.annotations.unwrap()
            ["cluster-autoscaler.kubernetes.io/last-updated"]
            .clone()
    };
    ran(ca.run_once(&mut api, &mut cloud).unwrap());
    let text = api.status().unwrap().data.unwrap()["status"].clone();
    assert!(text.starts_with("time: 2023-11-14T22:13:20Z\n"), "{text}");
    assert_eq!(updated(&api), "2023-11-14T22:13:20Z");
    api.now = 10_000;
    ran(ca.run_once(&mut api, &mut cloud).unwrap());
    assert_eq!(updated(&api), "2023-11-14T22:13:20Z", "nothing changed");
    api.put(pod("p", 1900, None));
    api.now = 20_000;
    ran(ca.run_once(&mut api, &mut cloud).unwrap());
    assert_eq!(updated(&api), "2023-11-14T22:13:40Z");
}

/// A PodTemplate of 1500m pods and a CapacityBuffer of `replicas` of them.
fn buffer(api: &mut Fake, replicas: i32) {
    api.put(json!({
        "apiVersion": "v1", "kind": "PodTemplate",
        "metadata": {"name": "spare", "namespace": "default"},
        "template": {"metadata": {"labels": {"app": "spare"}},
                     "spec": {"containers": [{"name": "pause", "image": "pause",
                              "resources": {"requests": {"cpu": "1500m", "memory": "1Gi"}}}]}}
    }));
    api.put(json!({
        "apiVersion": "autoscaling.x-k8s.io/v1alpha1", "kind": "CapacityBuffer",
        "metadata": {"name": "spare", "namespace": "default"},
        "spec": {"podTemplateRef": {"name": "spare"}, "replicas": replicas}
    }));
}

fn buffer_status(api: &Fake, name: &str) -> Value {
    api.objects[&("CapacityBuffer".into(), "default".into(), name.into())]["status"].clone()
}

#[test]
fn a_capacity_buffer_scales_up_for_its_fake_pods_and_gets_its_status() {
    let mut api = Fake::default();
    api.put(node("system", None));
    api.put(pod("sys", 1800, Some("system")));
    buffer(&mut api, 2);
    // A buffer whose workload does not exist is not ready and adds no pod.
    api.put(json!({
        "apiVersion": "autoscaling.x-k8s.io/v1alpha1", "kind": "CapacityBuffer",
        "metadata": {"name": "broken", "namespace": "default"},
        "spec": {"scalableRef": {"apiGroup": "apps", "kind": "Deployment", "name": "missing"},
                 "percentage": 50}
    }));
    let mut cloud = FakeCloud::default().with_group("workers", 0, 5, 0);
    let mut ca = ClusterAutoscaler::with_config(config(&["--nodes=0:5:workers"]));
    let r = ran(ca.run_once(&mut api, &mut cloud).unwrap());
    assert_eq!(
        (r.increases.len(), r.increases[0].from, r.increases[0].to),
        (1, 0, 2),
        "two 1500m fake pods need a 2-CPU node each"
    );
    assert!(
        api.events(events::TRIGGERED_SCALE_UP).is_empty(),
        "fake pods get no events"
    );
    let st = buffer_status(&api, "spare");
    assert_eq!(st["replicas"], 2);
    assert_eq!(st["podTemplateRef"]["name"], "spare");
    assert_eq!(st["conditions"][1]["reason"], "FakePodsInjected");
    let st = buffer_status(&api, "broken");
    assert_eq!(st["conditions"][0]["reason"], "BufferNotReady");
    assert_eq!(
        st["conditions"][0]["message"],
        "Deployment default/missing not found"
    );
    // Once the workload exists the status is rewritten whole (nothing of the old one left).
    api.put(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "missing", "namespace": "default"},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "m"}},
                 "template": {"metadata": {"labels": {"app": "m"}},
                              "spec": {"containers": [{"name": "c", "image": "app",
                                       "resources": {"requests": {"cpu": "100m"}}}]}}}
    }));
    api.now = 10_000;
    ran(ca.run_once(&mut api, &mut cloud).unwrap());
    let st = buffer_status(&api, "broken");
    assert_eq!(st["replicas"], 2, "50% of 4");
    assert_eq!(
        st["podTemplateRef"]["name"],
        "capacitybuffer-broken-pod-template"
    );
    assert_eq!(st["conditions"][0]["reason"], "AttributesSetSuccessfully");
    assert!(st["conditions"][0].get("message").is_none(), "{st}");
}

#[test]
fn a_capacity_buffer_holds_the_room_of_an_underutilized_node() {
    let run = |with_buffer: bool| {
        let mut api = Fake::default();
        api.put(node("w1", Some("workers")));
        api.put(node("w2", Some("workers")));
        api.put(pod("a", 1800, Some("w1")));
        api.put(pod("b", 200, Some("w2")));
        if with_buffer {
            buffer(&mut api, 1);
        }
        let mut cloud = FakeCloud::default().with_group("workers", 0, 5, 2);
        let mut ca = ClusterAutoscaler::with_config(config(&["--nodes=0:5:workers"]));
        let r = ran(ca.run_once(&mut api, &mut cloud).unwrap());
        assert!(r.increases.is_empty(), "the fake pod fits w2");
        ca.state().unneeded_since.contains_key("w2")
    };
    assert!(run(false), "w2 at 10% is unneeded");
    assert!(!run(true), "the buffer's 1500m on w2 makes it needed");
}
