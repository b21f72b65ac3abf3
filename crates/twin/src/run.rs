//! One run of a scenario, start to finish.

use std::path::Path;
use std::sync::Arc;

use kscale_report::RunOutput;

use crate::error::InputError;
use crate::manifest::Warning;
use crate::scenario::Scenario;
use crate::sim::Sim;

/// Loads, validates and runs a scenario; returns its outputs and the input warnings.
///
/// The result is a pure function of the scenario, the files it names and its seed.
pub fn run_scenario(path: &Path) -> Result<(RunOutput, Vec<Warning>), InputError> {
    let mut sim = load_scenario(path)?;
    sim.run();
    let warnings = sim.warnings.clone();
    Ok((sim.into_output(), warnings))
}

/// Loads and validates a scenario into a simulation ready to run ([`Sim::run`] or
/// [`Sim::run_draining`]); its input warnings are in [`Sim::warnings`].
pub fn load_scenario(path: &Path) -> Result<Sim, InputError> {
    load_scenario_with(path, None)
}

/// [`load_scenario`] with the scenario's `spec.seed` replaced by `seed` when given
/// (`kscale run --seed N`).
pub fn load_scenario_with(path: &Path, seed: Option<u64>) -> Result<Sim, InputError> {
    let mut scenario = Scenario::load(path)?;
    if let Some(s) = seed {
        scenario.doc.spec.seed = Some(s);
    }
    Sim::new(Arc::new(scenario))
}

/// Loads and validates a scenario (manifests, traces and steps included) without running it.
pub fn validate_scenario(path: &Path) -> Result<Vec<Warning>, InputError> {
    let scenario = Arc::new(Scenario::load(path)?);
    let sim = Sim::new(scenario)?;
    Ok(sim.warnings.clone())
}
