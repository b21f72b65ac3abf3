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
    load_scenario_with(path, &RunOverrides::default())
}

/// What `kscale run` changes in a scenario before running it.
#[derive(Debug, Clone, Default)]
pub struct RunOverrides {
    /// `--seed N`: replaces `spec.seed`.
    pub seed: Option<u64>,
    /// `--set spec.PATH=VALUE`: fields of the scenario document ([`Scenario::load_with_sets`]).
    pub scenario: Vec<(String, String)>,
    /// `--set KIND/NAME:PATH=VALUE`: fields of manifest objects.
    pub objects: Vec<crate::overrides::ObjectOverride>,
}

/// [`load_scenario`] with `overrides` applied. An object override that matches no manifest
/// object is an input error.
pub fn load_scenario_with(path: &Path, overrides: &RunOverrides) -> Result<Sim, InputError> {
    let mut scenario = Scenario::load_with_sets(path, &overrides.scenario)?;
    if let Some(s) = overrides.seed {
        scenario.doc.spec.seed = Some(s);
    }
    if !overrides.objects.is_empty() {
        let (objects, _) = crate::manifest::load_paths(&scenario.manifest_paths)?;
        for o in &overrides.objects {
            if !objects.iter().any(|m| o.matches(&m.object)) {
                let ns = if o.namespace.is_empty() {
                    String::new()
                } else {
                    format!("{}/", o.namespace)
                };
                return Err(InputError::file(
                    path,
                    format!(
                        "--set {ns}{}/{}: no manifest of the scenario defines it",
                        o.kind.to_ascii_lowercase(),
                        o.name
                    ),
                ));
            }
        }
        scenario
            .object_overrides
            .extend(overrides.objects.iter().cloned());
    }
    Sim::new(Arc::new(scenario))
}

/// Parses one `--set`: `spec.PATH=VALUE` or `metadata.PATH=VALUE` (a field of the scenario)
/// or `[NAMESPACE/]KIND/NAME:PATH=VALUE` (a field of a manifest object, e.g.
/// `hpa/web:spec.maxReplicas=20`); VALUE is read as YAML.
pub fn parse_set(arg: &str, into: &mut RunOverrides) -> Result<(), String> {
    let (lhs, value) = arg
        .split_once('=')
        .ok_or_else(|| format!("--set {arg:?}: expected PATH=VALUE (e.g. spec.duration=30m or hpa/web:spec.maxReplicas=20)"))?;
    match lhs.split_once(':') {
        None => {
            if !(lhs.starts_with("spec.") || lhs.starts_with("metadata.")) {
                return Err(format!(
                    "--set {arg:?}: a scenario field starts with spec. or metadata. (e.g. spec.duration=30m); a manifest field is KIND/NAME:PATH (e.g. hpa/web:spec.maxReplicas=20)"
                ));
            }
            crate::overrides::parse_path(lhs).map_err(|m| format!("--set {arg:?}: {m}"))?;
            into.scenario.push((lhs.to_string(), value.to_string()));
        }
        Some((target, field)) => {
            let parts: Vec<&str> = target.split('/').collect();
            let (ns, res, name) = match parts.as_slice() {
                [r, n] => (None, *r, *n),
                [ns, r, n] => (Some(*ns), *r, *n),
                _ => {
                    return Err(format!(
                        "--set {arg:?}: the target {target:?} is not KIND/NAME or NAMESPACE/KIND/NAME"
                    ));
                }
            };
            let (kind, namespaced) = crate::tune::resolve_kind(res)
                .ok_or_else(|| format!("--set {arg:?}: unknown kind {res:?}"))?;
            if name.is_empty() {
                return Err(format!("--set {arg:?}: empty name"));
            }
            let path =
                crate::overrides::parse_path(field).map_err(|m| format!("--set {arg:?}: {m}"))?;
            let v: serde_json::Value = if value.trim().is_empty() {
                serde_json::Value::String(String::new())
            } else {
                serde_saphyr::from_str(value)
                    .map_err(|e| format!("--set {arg:?}: value {value:?} is not YAML: {e}"))?
            };
            into.objects.push(crate::overrides::ObjectOverride {
                kind,
                namespace: if namespaced {
                    ns.unwrap_or("default").to_string()
                } else {
                    String::new()
                },
                name: name.to_string(),
                path,
                value: v,
            });
        }
    }
    Ok(())
}

/// Loads and validates a scenario (manifests, traces and steps included) without running it.
pub fn validate_scenario(path: &Path) -> Result<Vec<Warning>, InputError> {
    let scenario = Arc::new(Scenario::load(path)?);
    let sim = Sim::new(scenario)?;
    Ok(sim.warnings.clone())
}
