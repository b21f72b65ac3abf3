//! The cluster API's change feed on the twin: what a component following it from a revision
//! sees is what a list shows (the informer contract: list, then follow the changes).

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kscale_cluster::{ChangeType, Changes, Cluster, Informer, ScaleKind};
use kscale_model::SimTime;
use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;
use kscale_twin::sim::cluster_api::SimCluster;

/// Three nodes and Deployment `web` of `replicas` pods, not yet run.
fn cluster(replicas: u32) -> (tempfile::TempDir, Sim) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.yaml"),
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers:\n      - {{name: c, image: app, resources: {{requests: {{cpu: 100m}}}}}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("s.yaml"),
        "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {name: feed}\nspec:\n  duration: 3h\n  nodes: [{name: n, instanceType: m5.xlarge, count: 3}]\n  manifests: [m.yaml]\n",
    )
    .unwrap();
    let sim = Sim::new(Arc::new(
        Scenario::load(&dir.path().join("s.yaml")).unwrap(),
    ))
    .unwrap();
    (dir, sim)
}

fn names<K: kscale_cluster::Object>(sim: &mut Sim) -> BTreeSet<String> {
    SimCluster(sim)
        .list::<K>(None, "")
        .unwrap()
        .iter()
        .map(|o| o.metadata().name.clone().unwrap())
        .collect()
}

/// Applies changes to a set of names as an informer's cache would.
fn follow(cache: &mut BTreeSet<String>, changes: &Changes) {
    for c in &changes.changes {
        match c.type_ {
            ChangeType::Added | ChangeType::Modified => cache.insert(c.name.clone()),
            ChangeType::Deleted => cache.remove(&c.name),
        };
    }
}

#[test]
fn following_the_feed_from_a_list_keeps_the_list() {
    let (_dir, mut sim) = cluster(4);
    // List, then follow: at every point the cache is what a fresh list shows.
    let mut pods = names::<Pod>(&mut sim);
    let mut rev = SimCluster(&mut sim).revision().unwrap();
    for (t, replicas) in [(60, None), (120, Some(2)), (180, Some(5)), (240, None)] {
        if let Some(r) = replicas {
            SimCluster(&mut sim)
                .scale(ScaleKind::Deployment, "default", "web", r)
                .unwrap();
        }
        sim.run_until(SimTime::from_secs(t));
        let changes = SimCluster(&mut sim).changes::<Pod>(rev).unwrap();
        assert!(changes.revision >= rev, "the feed never goes back");
        let revisions: Vec<u64> = changes.changes.iter().map(|c| c.revision).collect();
        assert!(revisions.windows(2).all(|w| w[0] < w[1]), "oldest first");
        assert!(revisions.iter().all(|r| *r > rev && *r <= changes.revision));
        follow(&mut pods, &changes);
        rev = changes.revision;
        assert_eq!(pods, names::<Pod>(&mut sim), "at {t}s");
    }
    assert_eq!(pods.len(), 5);
}

#[test]
fn a_pods_life_is_added_modified_deleted() {
    let (_dir, mut sim) = cluster(1);
    sim.run_until(SimTime::from_secs(60));
    let all = SimCluster(&mut sim).changes::<Pod>(0).unwrap();
    let pod = names::<Pod>(&mut sim).into_iter().next().unwrap();
    let types: Vec<ChangeType> = all
        .changes
        .iter()
        .filter(|c| c.name == pod)
        .map(|c| c.type_)
        .collect();
    // Created, then bound, started and ready (each a status write).
    assert_eq!(types[0], ChangeType::Added);
    assert!(types[1..].len() >= 3 && types[1..].iter().all(|t| *t == ChangeType::Modified));
    // The three nodes and the Deployment were added; nothing of another kind is mixed in.
    let nodes = SimCluster(&mut sim).changes::<Node>(0).unwrap();
    assert_eq!(nodes.changes.len(), 3);
    assert!(nodes.changes.iter().all(|c| c.type_ == ChangeType::Added));
    let deploys = SimCluster(&mut sim).changes::<Deployment>(0).unwrap();
    assert_eq!(deploys.changes[0].type_, ChangeType::Added);
    assert!(deploys.changes.iter().all(|c| c.name == "web"));

    let rev = all.revision;
    SimCluster(&mut sim)
        .scale(ScaleKind::Deployment, "default", "web", 0)
        .unwrap();
    sim.run_until(SimTime::from_secs(120));
    let after = SimCluster(&mut sim).changes::<Pod>(rev).unwrap();
    let last = after.changes.last().unwrap();
    assert_eq!(
        (last.type_, last.name.as_str()),
        (ChangeType::Deleted, pod.as_str())
    );
    // Nothing happened since: an empty batch that resumes where it was asked to.
    let none = SimCluster(&mut sim).changes::<Pod>(after.revision).unwrap();
    assert!(none.changes.is_empty());
    assert_eq!(none.revision, after.revision);
}

/// Everything a fresh list shows of kind `K`, in the informer's order.
fn listed<K: kscale_cluster::Object>(sim: &mut Sim) -> Vec<K> {
    SimCluster(sim).list::<K>(None, "").unwrap()
}

fn cached<K: kscale_cluster::Object>(i: &Informer<K>) -> Vec<K> {
    i.iter().map(|(_, o)| o.clone()).collect()
}

/// The JSON paths where `a` and `b` differ (for a readable failure).
fn differences(a: &serde_json::Value, b: &serde_json::Value, at: String, out: &mut Vec<String>) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let (p, q) = (x.get(k), y.get(k));
                if p != q {
                    let null = Value::Null;
                    differences(
                        p.unwrap_or(&null),
                        q.unwrap_or(&null),
                        format!("{at}/{k}"),
                        out,
                    );
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                differences(p, q, format!("{at}/{i}"), out);
            }
        }
        _ if a != b => out.push(format!("{at}: {a} != {b}")),
        _ => {}
    }
}

/// Asserts the cache shows what the list does, naming the fields that differ. A node's
/// `lastHeartbeatTime` is left out: the twin shows the kubelet's 10-second heartbeat in it
/// without a change of the Node (a real kubelet heartbeats through its Lease and writes the
/// Node's status on a change or every `nodeStatusReportFrequency`, 5 minutes).
fn assert_same<K: kscale_cluster::Object>(cache: Vec<K>, list: Vec<K>, what: &str) {
    let strip = |mut v: serde_json::Value| {
        for o in v.as_array_mut().into_iter().flatten() {
            let conditions = o
                .pointer_mut("/status/conditions")
                .and_then(|c| c.as_array_mut());
            for c in conditions.into_iter().flatten() {
                if let Some(c) = c.as_object_mut() {
                    c.remove("lastHeartbeatTime");
                }
            }
        }
        v
    };
    let (a, b) = (
        strip(serde_json::to_value(&cache).unwrap()),
        strip(serde_json::to_value(&list).unwrap()),
    );
    let mut out = vec![];
    differences(&a, &b, String::new(), &mut out);
    out.dedup();
    assert!(out.is_empty(), "{what}: cache != list at {out:#?}");
}

/// Pods and Nodes: the twin records every change of what it shows of them. (Not yet a
/// Deployment's or ReplicaSet's status, which the twin renders from its workload state when
/// read: an informer of those kinds sees spec changes only.)
#[test]
fn an_informer_following_the_feed_holds_what_a_list_shows_object_for_object() {
    // More pods than the three nodes take (some stay Pending, unschedulable), then fewer.
    let (_dir, mut sim) = cluster(4);
    let mut pods: Informer<Pod> = Informer::new();
    let mut nodes: Informer<Node> = Informer::new();
    let first = pods.sync(&mut SimCluster(&mut sim)).unwrap();
    assert!(first.relisted);
    nodes.sync(&mut SimCluster(&mut sim)).unwrap();
    let mut saw_changes = false;
    for (t, replicas) in [
        (20, None),
        (40, Some(200)),
        (41, None),
        (70, None),
        (100, Some(30)),
        (101, None),
        (160, None),
    ] {
        if let Some(r) = replicas {
            SimCluster(&mut sim)
                .scale(ScaleKind::Deployment, "default", "web", r)
                .unwrap();
        }
        sim.run_until(SimTime::from_secs(t));
        let synced = pods.sync(&mut SimCluster(&mut sim)).unwrap();
        assert!(!synced.relisted, "at {t}s: the feed kept up");
        saw_changes |= !synced.changed.is_empty();
        nodes.sync(&mut SimCluster(&mut sim)).unwrap();
        assert_same(
            cached(&pods),
            listed::<Pod>(&mut sim),
            &format!("pods at {t}s"),
        );
        assert_same(
            cached(&nodes),
            listed::<Node>(&mut sim),
            &format!("nodes at {t}s"),
        );
    }
    assert!(saw_changes);
    let pending = cached(&pods)
        .iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none())
        .count();
    assert_eq!(pending, 0, "30 pods fit the three nodes again");
    // Nothing changed since: the next sync reads nothing.
    let idle = pods.sync(&mut SimCluster(&mut sim)).unwrap();
    assert!(!idle.any());
}

#[test]
fn an_informer_too_far_behind_lists_again() {
    let (_dir, mut sim) = cluster(1);
    let mut pods: Informer<Pod> = Informer::new();
    pods.sync(&mut SimCluster(&mut sim)).unwrap();
    // More changes than the feed keeps (kscale_twin::sim::changes::FEED_CAPACITY): scale up
    // and down until the informer's revision is older than the oldest kept change.
    let from = pods.revision().expect("listed");
    let mut cycles = 0;
    while SimCluster(&mut sim).changes::<Pod>(from).is_ok() {
        assert!(
            cycles < 100,
            "the feed keeps more than 100 scale cycles of changes"
        );
        let r = if cycles % 2 == 0 { 2000 } else { 0 };
        SimCluster(&mut sim)
            .scale(ScaleKind::Deployment, "default", "web", r)
            .unwrap();
        cycles += 1;
        sim.run_until(SimTime::from_secs(60 * cycles));
    }
    let synced = pods.sync(&mut SimCluster(&mut sim)).unwrap();
    assert!(synced.relisted, "410 Gone: list again");
    assert_same(cached(&pods), listed::<Pod>(&mut sim), "pods");
}

/// A Deployment named `name` in `namespace` of `replicas` pods.
fn deployment(namespace: &str, name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "app", "resources": {"requests": {"cpu": "100m"}}}]}
            }
        }
    }))
    .unwrap()
}

/// An informer of one object holds that object only and reads no other object's changes; a
/// namespace of a cache is a range of it.
#[test]
fn an_informer_of_one_object_and_a_namespace_of_a_cache() {
    let (_dir, mut sim) = cluster(2);
    let other: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "other"}})).unwrap();
    SimCluster(&mut sim).create(&other).unwrap();
    SimCluster(&mut sim)
        .create(&deployment("other", "api", 3))
        .unwrap();
    SimCluster(&mut sim)
        .create(&deployment("default", "api", 1))
        .unwrap();
    let mut web: Informer<Deployment> = Informer::new().for_object("default", "web");
    assert!(web.sync(&mut SimCluster(&mut sim)).unwrap().relisted);
    let held: Vec<_> = web.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(held, [("default".to_string(), "web".to_string())]);
    // Another Deployment's change is not read.
    SimCluster(&mut sim)
        .scale(ScaleKind::Deployment, "other", "api", 5)
        .unwrap();
    let synced = web.sync(&mut SimCluster(&mut sim)).unwrap();
    assert!(!synced.any(), "{synced:?}");
    // Its own is.
    SimCluster(&mut sim)
        .scale(ScaleKind::Deployment, "default", "web", 4)
        .unwrap();
    let synced = web.sync(&mut SimCluster(&mut sim)).unwrap();
    assert_eq!(synced.changed.len(), 1);
    let replicas = |i: &Informer<Deployment>| {
        i.get("default", "web")
            .and_then(|d| d.spec.as_ref())
            .and_then(|s| s.replicas)
    };
    assert_eq!(replicas(&web), Some(4));
    SimCluster(&mut sim)
        .delete::<Deployment>("default", "web", None)
        .unwrap();
    web.sync(&mut SimCluster(&mut sim)).unwrap();
    assert!(web.is_empty());

    sim.run_until(SimTime::from_secs(30));
    let mut pods: Informer<Pod> = Informer::new();
    pods.sync(&mut SimCluster(&mut sim)).unwrap();
    let in_ns = |ns: &str| -> Vec<String> {
        pods.in_namespace(ns)
            .map(|((n, name), _)| {
                assert_eq!(n, ns);
                name.clone()
            })
            .collect()
    };
    let other = in_ns("other");
    assert_eq!(other.len(), 5, "{other:?}");
    assert!(other.iter().all(|n| n.starts_with("api-")));
    let all: Vec<String> = pods.iter().map(|((_, n), _)| n.clone()).collect();
    assert_eq!(in_ns("default").len() + other.len(), all.len());
    assert!(!in_ns("default").is_empty());
    assert!(in_ns("d").is_empty(), "a prefix of a namespace is not it");
    assert!(in_ns("zzz").is_empty());
}
