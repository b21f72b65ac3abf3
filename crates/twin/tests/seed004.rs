//! Seed 004 ("Eliminate Kubernetes node scaling lag with pod priority and over-provisioning"),
//! replayed from `examples/seed004` with the seed's manifests verbatim: each outcome the seed's
//! screenshots show is asserted step by step.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;
use serde_json::Value;

fn run() -> Sim {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed004/scenario.yaml");
    let mut sim = Sim::new(Arc::new(Scenario::load(&path).unwrap())).unwrap();
    sim.run_checked().unwrap();
    sim
}

/// (pod name, node) rows of a `kubectl get po -o wide` transcript entry.
fn pods(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            (c[0].to_string(), c[2].to_string(), c[6].to_string())
        })
        .collect()
}

fn step<'a>(sim: &'a Sim, command: &str, at: f64) -> &'a str {
    let t = sim
        .recorder
        .transcript()
        .iter()
        .find(|t| t.command == command && t.at == at)
        .unwrap_or_else(|| panic!("no step {command} at {at}"));
    assert_eq!(t.exit_code, 0, "{}", t.stderr);
    &t.stdout
}

#[test]
fn seed004_walkthrough() {
    let sim = run();
    // Steps 2-5: one nginx and one dummy pod, each Running on its own t3.small node.
    let p = pods(step(&sim, "kubectl get po -o wide", 240.0));
    assert_eq!(p.len(), 2);
    assert!(p.iter().all(|(_, status, _)| status == "Running"), "{p:?}");
    assert_ne!(p[0].2, p[1].2, "separate nodes");
    let nodes = step(
        &sim,
        "kubectl get nodes --selector=karpenter.sh/initialized=true",
        240.0,
    );
    assert_eq!(nodes.lines().count() - 1, 2, "{nodes}");

    // Step 6: scaling nginx to 2 preempts the dummy; nginx runs on the dummy's node at once,
    // and Karpenter adds a node for the dummy.
    let dummy_node = p
        .iter()
        .find(|(n, _, _)| n.starts_with("dummy-app"))
        .unwrap()
        .2
        .clone();
    let preempted: Vec<_> = sim
        .recorder
        .events()
        .iter()
        .filter(|e| e.reason == "Preempted")
        .collect();
    assert_eq!(
        preempted.len(),
        2,
        "the dummy pod is preempted at step 6 and again at step 8"
    );
    assert!(
        preempted[0].involved_object.name.starts_with("dummy-app")
            && preempted[0].time >= 300.0
            && preempted[0].time < 301.0
    );
    assert!(
        preempted[0]
            .message
            .ends_with(&format!("on node {dummy_node}"))
    );
    let p = pods(step(&sim, "kubectl get po -o wide", 310.0));
    let new_nginx = p
        .iter()
        .find(|(n, _, node)| n.starts_with("nginx-app") && *node == dummy_node)
        .expect("nginx took the dummy's node");
    assert_eq!(
        new_nginx.1, "Running",
        "within 10 s, no node provisioning wait"
    );
    assert!(
        p.iter()
            .any(|(n, s, _)| n.starts_with("dummy-app") && s == "Pending")
    );
    let p = pods(step(&sim, "kubectl get po -o wide", 540.0));
    assert_eq!(p.len(), 3);
    assert!(p.iter().all(|(_, s, _)| s == "Running"));
    assert_eq!(
        p.iter().map(|x| &x.2).collect::<BTreeSet<_>>().len(),
        3,
        "each pod on its own node"
    );
    assert_eq!(
        step(
            &sim,
            "kubectl get nodes --selector=karpenter.sh/initialized=true",
            540.0
        )
        .lines()
        .count()
            - 1,
        3
    );

    // Steps 7-8: with 4 nginx replicas the cluster has 5 Karpenter nodes / 10 cores, the CPA
    // raises dummy-app to 2, and a sixth node comes.
    let cpa: Vec<_> = sim
        .recorder
        .events()
        .iter()
        .filter(|e| e.reason == "ScalingTarget")
        .collect();
    assert_eq!(cpa.len(), 1, "{cpa:?}");
    assert!(
        cpa[0]
            .message
            .starts_with("Replicas are not as expected : updating replicas from 1 to 2")
    );
    assert!(
        cpa[0].message.contains("TotalNodes[5], TotalCores[10]"),
        "{}",
        cpa[0].message
    );
    let p = pods(step(&sim, "kubectl get po -o wide", 1200.0));
    assert_eq!(p.iter().filter(|x| x.0.starts_with("nginx-app")).count(), 4);
    assert_eq!(p.iter().filter(|x| x.0.starts_with("dummy-app")).count(), 2);
    assert!(p.iter().all(|(_, s, _)| s == "Running"), "{p:?}");
    assert_eq!(
        p.iter().map(|x| &x.2).collect::<BTreeSet<_>>().len(),
        6,
        "every pod on its own node"
    );
    assert_eq!(
        step(
            &sim,
            "kubectl get nodes --selector=karpenter.sh/initialized=true",
            1200.0
        )
        .lines()
        .count()
            - 1,
        6
    );
    // Every Karpenter node is a t3.small on-demand node, as the Provisioner requires.
    for n in sim
        .nodes
        .values()
        .filter(|n| n.info.labels.contains_key("karpenter.sh/initialized"))
    {
        assert_eq!(n.instance_type, "t3.small");
        assert_eq!(n.capacity_type, "on-demand");
        assert_eq!(
            n.info
                .labels
                .get("karpenter.sh/provisioner-name")
                .map(String::as_str),
            Some("default")
        );
    }
    let summary = sim.summary(None);
    assert_eq!(
        summary.pointer("/nodes/final").and_then(Value::as_u64),
        Some(7),
        "6 Karpenter nodes + the system node"
    );
}
