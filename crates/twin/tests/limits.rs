//! Sizes a run cannot simulate on the machine are refused up front, naming the field and the
//! limit, instead of aborting on allocation or running for hours.

use std::sync::Arc;

use kscale_twin::scenario::{MAX_NODES, MAX_SAMPLES, Scenario};

fn load(spec: &str, manifest: Option<&str>) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let manifests = if let Some(m) = manifest {
        std::fs::write(dir.path().join("m.yaml"), m).unwrap();
        "\n  manifests: [m.yaml]"
    } else {
        ""
    };
    std::fs::write(
        dir.path().join("s.yaml"),
        format!("apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {{name: big}}\nspec:\n{spec}{manifests}\n"),
    )
    .unwrap();
    let s = Scenario::load(&dir.path().join("s.yaml")).map_err(|e| e.to_string())?;
    kscale_twin::sim::Sim::new(Arc::new(s))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn too_many_nodes_are_refused_with_the_limit() {
    let e = load(
        "  duration: 10m\n  nodes: [{name: n, instanceType: m5.large, count: 1000000000}]",
        None,
    )
    .unwrap_err();
    assert!(e.contains("spec.nodes[0].count"), "{e}");
    assert!(
        e.contains(&format!("the limit is {MAX_NODES} nodes")),
        "{e}"
    );
    let e = load(
        "  duration: 10m\n  cloud:\n    provider: aws\n    nodeGroups:\n      - {name: g, instanceType: m5.large, min: 3000000000, max: 4000000000}",
        None,
    )
    .unwrap_err();
    assert!(e.contains("spec.cloud.nodeGroups[0].min"), "{e}");
    // At the limit is fine to validate (the run itself is the user's choice).
    assert!(
        load(
            "  duration: 10m\n  nodes: [{name: n, instanceType: m5.large, count: 3}]",
            None
        )
        .is_ok()
    );
}

#[test]
fn too_many_samples_are_refused_with_the_limit() {
    let e = load(
        "  duration: 99999h\n  nodes: [{name: n, instanceType: m5.large, count: 1}]",
        None,
    )
    .unwrap_err();
    assert!(e.contains("spec.duration"), "{e}");
    assert!(e.contains(&format!("the limit is {MAX_SAMPLES}")), "{e}");
    // A longer sample interval makes the same duration possible.
    let ok = load(
        "  duration: 2000h\n  sampleInterval: 2h\n  nodes: [{name: n, instanceType: m5.large, count: 1}]",
        None,
    );
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn int32_fields_of_custom_resources_are_not_wrapped() {
    for bad in ["-2147483649", "4294967297", "-1"] {
        let e = load(
            "  duration: 10m\n  nodes: [{name: n, instanceType: m5.large, count: 1}]",
            Some(&format!(
                "apiVersion: autoscaling.x-k8s.io/v1beta1\nkind: CapacityBuffer\nmetadata: {{name: b}}\nspec:\n  replicas: {bad}\n  podTemplateRef: {{name: x}}\n"
            )),
        )
        .unwrap_err();
        assert!(
            e.contains(&format!(
                "spec.replicas: Invalid value: {bad}: must be an integer between 0 and 2147483647"
            )),
            "{e}"
        );
    }
}
