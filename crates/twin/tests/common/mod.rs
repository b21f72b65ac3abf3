//! Shared set-up of the integration tests.

use std::path::Path;
use std::sync::Arc;

use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;

/// Runs the example scenario at `examples/<rel>` to its end, checking the twin's invariants
/// after every event.
pub fn run_example(rel: &str) -> Sim {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(rel);
    let mut sim = Sim::new(Arc::new(Scenario::load(&path).unwrap())).unwrap();
    sim.run_checked().unwrap();
    sim
}
