//! The HPA's per-ReplicaSet views (`sim/hpa_view.rs`): an HPA sync right after a scrape reads
//! them instead of the pods, and they merge the pods a sync sees alike. Debug builds compare
//! every use with reading the pods (`Sim::check_views`), so these runs also check that the
//! views give the same observation.

mod common;

use kscale_twin::sim::Sim;

fn run(example: &str) -> Sim {
    common::run_example(example)
}

#[test]
fn syncs_read_merged_views_instead_of_pods() {
    // An HPA on CPU utilization scales a Deployment while Karpenter adds and removes nodes.
    let sim = run("karpenter-consolidation/scenario.yaml");
    let served = sim.hpa.views().served();
    // Every sync of the run (one per 15 s while the HPA exists) was answered from the views.
    // 45 simulated minutes, one sync per 15 s.
    assert!(served.observations >= 100, "{served:?}");
    // Pods seen alike share an entry (this example's memory model gives each pod its own
    // memory sample, so fewer merge than in the benchmark, where a workload's settled pods are
    // one entry): without merging there would be one entry per pod.
    assert!(
        served.pods * 2 > served.entries * 3,
        "entries do not merge: {served:?}"
    );
}

#[test]
fn custom_metrics_read_the_pods() {
    // External and Pods metrics are not in the views: those HPAs read the pods.
    let sim = run("queue-worker/scenario.yaml");
    assert_eq!(sim.hpa.views().served().observations, 0);
}
