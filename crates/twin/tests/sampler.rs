//! The sampler's caches (pods counted per ReplicaSet, nodes counted by kind, the Deployment each
//! ReplicaSet counts for, each Deployment's desired replicas) against a recount after every
//! event, and the recount check catching a change made behind their back.

mod common;

use kscale_twin::sim::Sim;

/// `examples/karpenter-consolidation`: Deployments scaled by an HPA, nodes added and removed.
fn run() -> Sim {
    common::run_example("karpenter-consolidation/scenario.yaml")
}

#[test]
fn caches_match_a_recount_and_a_missed_change_is_caught() {
    let sim = run();
    // The run added and removed nodes, and sampled every ReplicaSet.
    assert!(sim.recorder.counter("nodesCreated") >= 6);
    assert!(
        sim.rs_cache
            .values()
            .all(|c| c.sample_counts.get().is_some())
    );

    // A pod turning unready without its ReplicaSet marked dirty.
    let mut sim = sim;
    let id = sim
        .pods
        .values()
        .find(|p| p.is_ready() && p.owner.is_some())
        .map(|p| p.id)
        .expect("a ready ReplicaSet pod at the end");
    sim.pods.get_mut(&id).unwrap().ready_at = None;
    let err = sim.check_invariants().unwrap_err();
    assert!(err.contains("sampled (active, ready)"), "{err}");
    sim.owner_changed_pub(id);
    sim.check_invariants().unwrap();

    // A ReplicaSet's cache removed without bumping `rs_epoch`.
    let mut sim = sim;
    let (key, cache) = sim
        .rs_cache
        .iter()
        .find(|(_, c)| c.owner.is_some())
        .map(|(k, c)| (k.clone(), c.clone()))
        .expect("a Deployment's ReplicaSet");
    sim.rs_cache.remove(&key);
    let err = sim.check_invariants().unwrap_err();
    assert!(err.contains("ReplicaSets' Deployments"), "{err}");
    sim.rs_cache.insert(key, cache);
    sim.check_invariants().unwrap();

    // A Deployment's replicas changed by a write that keeps its update version.
    let (deployment, replicas) = sim
        .store
        .list("Deployment", None)
        .map(|(k, v)| (k.clone(), v["spec"]["replicas"].as_i64().unwrap_or(1)))
        .next()
        .expect("a Deployment");
    let rv = sim.store.next_resource_version();
    sim.store.write_status_at(&deployment, rv, |v| {
        v["spec"]["replicas"] = serde_json::json!(replicas + 7)
    });
    let err = sim.check_invariants().unwrap_err();
    assert!(err.contains("desired"), "{err}");
    sim.store.update(&deployment, |_| {});
    sim.check_invariants().unwrap();

    // A node's instance type changed without counting it out and in again.
    let name = sim.nodes.keys().next().unwrap().clone();
    sim.nodes.get_mut(&name).unwrap().instance_type = "m5.24xlarge".into();
    let err = sim.check_invariants().unwrap_err();
    assert!(err.contains("nodes by kind"), "{err}");
}
