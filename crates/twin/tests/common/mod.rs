//! Shared set-up of the integration tests.

use std::path::Path;
use std::sync::Arc;

use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;

/// Runs the example scenario at `examples/<rel>` to its end, checking the twin's invariants
/// after every event.
#[allow(dead_code)]
pub fn run_example(rel: &str) -> Sim {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(rel);
    let mut sim = Sim::new(Arc::new(Scenario::load(&path).unwrap())).unwrap();
    sim.run_checked().unwrap();
    sim
}

/// A twin loaded (not run) from a scenario of `duration`, `nodes` (the scenario's
/// `spec.nodes` in flow style) and one manifest file holding `manifests`; the directory
/// must outlive the twin's use of its files.
#[allow(dead_code)]
pub fn twin_of(duration: &str, nodes: &str, manifests: &str) -> (tempfile::TempDir, Sim) {
    twin_with_spec(duration, &format!("  nodes: {nodes}\n"), manifests)
}

/// [`twin_of`] with `spec`: the scenario's spec lines besides its duration and manifests
/// (indented by two spaces, each ending in a newline), e.g. its seed, nodes or cloud.
#[allow(dead_code)]
pub fn twin_with_spec(duration: &str, spec: &str, manifests: &str) -> (tempfile::TempDir, Sim) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.yaml"), manifests).unwrap();
    std::fs::write(
        dir.path().join("s.yaml"),
        format!(
            "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {{name: t}}\nspec:\n  duration: {duration}\n{spec}  manifests: [m.yaml]\n"
        ),
    )
    .unwrap();
    let sim = Sim::new(Arc::new(
        Scenario::load(&dir.path().join("s.yaml")).unwrap(),
    ))
    .unwrap();
    (dir, sim)
}
