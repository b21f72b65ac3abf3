//! The cluster API's change feed on the twin: what a component following it from a revision
//! sees is what a list shows (the informer contract: list, then follow the changes).

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kscale_cluster::{ChangeType, Changes, Cluster, ScaleKind};
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
        "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {name: feed}\nspec:\n  duration: 30m\n  nodes: [{name: n, instanceType: m5.xlarge, count: 3}]\n  manifests: [m.yaml]\n",
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
