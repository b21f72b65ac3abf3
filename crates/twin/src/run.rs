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
    let scenario = Arc::new(Scenario::load(path)?);
    let mut sim = Sim::new(scenario)?;
    sim.run();
    let warnings = sim.warnings.clone();
    Ok((sim.into_output(), warnings))
}

/// Loads and validates a scenario (manifests, traces and steps included) without running it.
pub fn validate_scenario(path: &Path) -> Result<Vec<Warning>, InputError> {
    let scenario = Arc::new(Scenario::load(path)?);
    let sim = Sim::new(scenario)?;
    Ok(sim.warnings.clone())
}
