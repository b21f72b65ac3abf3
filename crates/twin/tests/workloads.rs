//! The Deployment and ReplicaSet controllers in the twin: the deletion order of surplus pods
//! and the memo that skips Deployment syncs with nothing to do.

use std::sync::Arc;

use kscale_model::SimTime;
use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;
use kscale_twin::sim::store::ObjKey;
use serde_json::json;

/// A cluster of three nodes running Deployment `web` (`replicas` pods), run for two minutes.
fn settled(replicas: u32) -> (tempfile::TempDir, Sim) {
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
        "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {name: workloads}\nspec:\n  duration: 30m\n  nodes: [{name: n, instanceType: m5.xlarge, count: 3}]\n  manifests: [m.yaml]\n",
    )
    .unwrap();
    let mut sim = Sim::new(Arc::new(
        Scenario::load(&dir.path().join("s.yaml")).unwrap(),
    ))
    .unwrap();
    sim.run_until(SimTime::from_secs(120));
    (dir, sim)
}

fn deployment() -> ObjKey {
    ObjKey::new("Deployment", "default", "web")
}

fn replicaset(sim: &Sim) -> ObjKey {
    let keys: Vec<ObjKey> = sim
        .store
        .list("ReplicaSet", Some("default"))
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    keys[0].clone()
}

fn replicas(sim: &Sim, key: &ObjKey) -> i64 {
    sim.store.get(key).unwrap()["spec"]["replicas"]
        .as_i64()
        .unwrap()
}

/// A change of the ReplicaSet or of the Deployment behind a memoized sync is seen by the next
/// sync: the ReplicaSet is scaled back to, or on to, the Deployment's size.
#[test]
fn deployment_memo_follows_changes() {
    let (_dir, mut sim) = settled(4);
    let (d, rs) = (deployment(), replicaset(&sim));
    assert_eq!(replicas(&sim, &rs), 4);
    assert_eq!(sim.pods.values().filter(|p| p.is_ready()).count(), 4);
    assert!(sim.workloads.has_memo(&d), "settled sync memoized");
    // Nothing changed: the sync is skipped (debug builds check it would do nothing).
    sim.mark_dirty(d.clone());
    sim.reconcile();
    assert_eq!(replicas(&sim, &rs), 4);
    // The ReplicaSet is scaled behind the controller's back.
    sim.store.update(&rs, |v| v["spec"]["replicas"] = json!(2));
    sim.mark_dirty(d.clone());
    sim.reconcile();
    assert_eq!(replicas(&sim, &rs), 4);
    // The Deployment is scaled.
    sim.store.update(&d, |v| v["spec"]["replicas"] = json!(6));
    sim.mark_dirty(d.clone());
    sim.reconcile();
    assert_eq!(replicas(&sim, &rs), 6);
    sim.run_until(SimTime::from_secs(240));
    assert_eq!(sim.pods.values().filter(|p| p.is_ready()).count(), 6);
    sim.check_invariants().unwrap();
}

/// Ranking for deletion selects the first `n` of the full order, for every `n`, and follows
/// upstream's first criteria: unassigned pods first, then not-ready ones, then (all else
/// equal) the ones with more restarts.
#[test]
fn rank_for_deletion_prefixes_the_full_order() {
    let (_dir, mut sim) = settled(9);
    let rs = replicaset(&sim);
    let mut ids: Vec<u64> = sim
        .pods
        .values()
        .filter(|p| p.owner.as_ref().is_some_and(|o| o.name == rs.name))
        .map(|p| p.id)
        .collect();
    assert_eq!(ids.len(), 9);
    // Restarts 0, 1, 2 in turn; pod 3 not ready; pod 7 unassigned (as if never bound).
    for (i, id) in ids.iter().enumerate() {
        sim.pods.get_mut(id).unwrap().restarts = (i % 3) as u32;
    }
    let t0 = sim.pods[&ids[0]].ready_at;
    assert!(t0.is_some());
    for id in &ids {
        sim.pods.get_mut(id).unwrap().ready_at = t0;
    }
    sim.pods.get_mut(&ids[3]).unwrap().ready_at = None;
    let unassigned = ids[7];
    {
        let p = sim.pods.get_mut(&unassigned).unwrap();
        p.node = None;
        p.ready_at = None;
        p.phase = kscale_twin::sim::model::PodPhase::Pending;
    }
    let full = sim.rank_for_deletion(&ids, ids.len());
    assert_eq!(full.len(), 9);
    assert_eq!(full[0], unassigned);
    assert_eq!(full[1], ids[3]);
    for n in 0..=ids.len() {
        assert_eq!(sim.rank_for_deletion(&ids, n), full[..n], "n = {n}");
    }
    // Same order whatever the order of the input.
    ids.reverse();
    assert_eq!(sim.rank_for_deletion(&ids, ids.len()), full);
    // Among the ready pods (all made ready at the same time), those on nodes with more of
    // them go first, then those with more restarts.
    let on_node = |id: &u64| {
        let node = sim.pods[id].node.clone();
        ids.iter().filter(|j| sim.pods[*j].node == node).count()
    };
    let keys: Vec<(std::cmp::Reverse<usize>, std::cmp::Reverse<u32>)> = full[2..]
        .iter()
        .map(|id| {
            (
                std::cmp::Reverse(on_node(id)),
                std::cmp::Reverse(sim.pods[id].restarts),
            )
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{keys:?}");
    assert!(keys.first() != keys.last(), "the ranking is not vacuous");
}
