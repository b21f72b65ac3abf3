//! Tuning: an exhaustive search over knobs of the scenario's manifest objects (`kscale tune`).
//!
//! A tuning file (`kind: Tuning`) names knobs, each a field of one manifest object
//! (`target: horizontalpodautoscaler/web`, `path: spec.metrics[0].resource.target.averageUtilization`)
//! with the values to try (`values: [...]` or `range: {from, to, step}`), and optionally other
//! load traces every configuration must also pass. Each configuration (one value per knob, the
//! cartesian product) runs the scenario with the values forced onto the objects through
//! [`Scenario::object_overrides`] (applied in `Sim::new` before the objects are created), once
//! plus once per trace; it passes when every SLO of `spec.slos` passes on every run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::error::InputError;
use crate::scenario::{Rate, Scenario};
use crate::sim::Sim;
use crate::yaml::{self, Document};

/// The most configurations a tuning may have.
pub const MAX_CONFIGURATIONS: u64 = 10_000;

pub use crate::overrides::{
    ObjectOverride, PathSegment, apply_overrides, get_path, parse_path, path_text, set_path,
};

/// A tuning file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TuningDoc {
    /// `kscale.io/v1alpha1`.
    pub api_version: String,
    /// `Tuning`.
    pub kind: String,
    /// Name.
    pub metadata: TuningMeta,
    /// The search.
    pub spec: TuningSpec,
}

/// `metadata`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuningMeta {
    /// The tuning's name (the default output directory is `kscale-out/tune-NAME`).
    pub name: String,
}

/// `spec`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TuningSpec {
    /// The knobs.
    pub knobs: Vec<KnobSpec>,
    /// Other load traces (CSV, relative to the tuning file) every configuration must pass.
    #[serde(default)]
    pub traces: Vec<TraceEntry>,
    /// Configurations to compare the recommendation with (the defaults users ship).
    #[serde(default)]
    pub baselines: Vec<BaselineSpec>,
    /// How configurations are searched (default: every one, in full).
    #[serde(default)]
    pub search: Option<SearchSpec>,
}

/// `search: {method, eta, rounds, sample}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSpec {
    /// `exhaustive` (every configuration, in full) or `halving` (successive halving over the
    /// scenario's length).
    pub method: String,
    /// Halving: keep the best 1/eta of the candidates after each round (default 3).
    #[serde(default)]
    pub eta: Option<u32>,
    /// Halving: rounds, the last one over the whole scenario (default 3).
    #[serde(default)]
    pub rounds: Option<u32>,
    /// Draw this many configurations at random (seeded by the scenario's seed) instead of
    /// taking every one (default: every one).
    #[serde(default)]
    pub sample: Option<u64>,
}

/// How a tuning searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Search {
    /// Every configuration over the whole scenario.
    Exhaustive,
    /// Successive halving (Jamieson & Talwalkar 2016, "Non-stochastic best arm identification
    /// and hyperparameter optimization") with the simulated length as the budget: round `r` of
    /// `rounds` runs its candidates over the SLOs' warm-up plus `1/eta^(rounds-1-r)` of the
    /// measured part of the scenario, and the best `ceil(n/eta)` continue; the last round runs
    /// the whole scenario and is ranked as an exhaustive search is.
    Halving {
        /// Kept fraction per round (1/eta).
        eta: u32,
        /// Rounds, the last over the whole scenario.
        rounds: u32,
    },
}

/// The most configurations the knobs may span (a sample draws from them).
pub const MAX_SPACE: u64 = 1 << 48;

/// The most configurations a halving search may draw or take (each runs at least once).
pub const MAX_HALVING_CONFIGURATIONS: u64 = 100_000;

/// A trace every configuration must also pass: a CSV path, or the path with the same
/// selection fields as a load's `requestsPerSecond` (`scale`, `column`, `from`, `row`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TraceEntry {
    /// The file's values as requests per second.
    File(String),
    /// A part of the file, scaled.
    Spec(TraceEntrySpec),
}

/// `{trace, scale, column, from, row}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceEntrySpec {
    /// The CSV file (relative to the tuning file).
    pub trace: String,
    /// Multiplier (default 1).
    #[serde(default)]
    pub scale: Option<f64>,
    /// Value column.
    #[serde(default)]
    pub column: Option<String>,
    /// Where the run starts in the trace (RFC 3339 time or duration).
    #[serde(default)]
    pub from: Option<String>,
    /// A wide trace's rows.
    #[serde(default)]
    pub row: Option<std::collections::BTreeMap<String, String>>,
}

/// A named configuration to compare with: fields set as a knob would set them, everything
/// else as the manifests write it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineSpec {
    /// Its name (`hpa-80`).
    pub name: String,
    /// The fields it sets (none: the manifests as written).
    #[serde(default)]
    pub set: Vec<SetSpec>,
}

/// One field a baseline sets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetSpec {
    /// `kind/name` or `namespace/kind/name`.
    pub target: String,
    /// The field.
    pub path: String,
    /// Its value.
    pub value: Value,
}

/// A checked baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    /// Its name.
    pub name: String,
    /// The fields it sets, as knobs of one value each.
    pub set: Vec<Knob>,
}

impl Knob {
    /// Whether it sets a field of the scenario (target `scenario`), not of a manifest object.
    pub fn on_scenario(&self) -> bool {
        self.kind == SCENARIO_KIND
    }
}

impl Baseline {
    /// Its fields of the scenario (see [`Tuning::scenario_sets`]).
    pub fn scenario_sets(&self) -> Vec<(String, String)> {
        self.set
            .iter()
            .filter(|k| k.on_scenario())
            .map(|k| (k.path_text.clone(), k.values[0].to_string()))
            .collect()
    }

    /// Its overrides.
    pub fn overrides(&self) -> Vec<ObjectOverride> {
        self.set
            .iter()
            .filter(|k| !k.on_scenario())
            .map(|k| ObjectOverride {
                kind: k.kind.clone(),
                namespace: k.namespace.clone(),
                name: k.name.clone(),
                path: k.path.clone(),
                value: k.values[0].clone(),
            })
            .collect()
    }
}

/// One knob as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KnobSpec {
    /// `kind/name` or `namespace/kind/name`.
    pub target: String,
    /// The field.
    pub path: String,
    /// The values to try.
    #[serde(default)]
    pub values: Option<Vec<Value>>,
    /// Or a range of numbers.
    #[serde(default)]
    pub range: Option<RangeSpec>,
}

/// `range: {from, to, step}` (both ends included).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeSpec {
    /// First value.
    pub from: f64,
    /// Last value (included when on a step).
    pub to: f64,
    /// Increment (> 0).
    pub step: f64,
}

/// The target of knobs on the scenario's own fields (`spec.cloud.nodeGroups[0].instanceType`).
pub const SCENARIO_TARGET: &str = "scenario";

/// The `kind` of a knob on the scenario's own fields.
pub const SCENARIO_KIND: &str = "Scenario";

/// A checked knob.
#[derive(Debug, Clone, PartialEq)]
pub struct Knob {
    /// The target as written.
    pub target: String,
    /// The path as written.
    pub path_text: String,
    /// The object's `kind`.
    pub kind: String,
    /// Namespace (empty for cluster-scoped kinds).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The field.
    pub path: Vec<PathSegment>,
    /// The values, in order.
    pub values: Vec<Value>,
}

/// A loaded tuning file.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// The file.
    pub path: PathBuf,
    /// `metadata.name`.
    pub name: String,
    /// The knobs.
    pub knobs: Vec<Knob>,
    /// Trace files, resolved against the tuning file's directory.
    pub traces: Vec<PathBuf>,
    /// The traces as written (their file).
    pub trace_texts: Vec<String>,
    /// Per trace: the part read and the scale.
    pub trace_selects: Vec<(crate::trace::TraceSelect, f64)>,
    /// The baselines, in order.
    pub baselines: Vec<Baseline>,
    /// The search method.
    pub search: Search,
    /// Configurations drawn at random (`search.sample`), if any.
    pub sample: Option<u64>,
    doc: Document,
}

/// Lines on which the items of the `knobs:` sequence start.
fn knob_lines(doc: &Document) -> Vec<u64> {
    doc.item_lines("knobs")
}

/// Quotes the unquoted values of `path:` keys that hold brackets. YAML does not allow `[` in
/// a plain scalar inside a flow mapping, yet `{target: ..., path: spec.metrics[0].x, ...}` is
/// how knobs are written: such a value (up to the next `,`, `}` or space) is quoted before
/// parsing. Lines keep their numbers.
fn quote_paths(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.lines() {
        let mut rest = line;
        let mut done = String::new();
        while let Some(at) = rest.find("path:") {
            let boundary = at == 0 || rest[..at].ends_with([' ', '{', ',', '-']);
            let (head, tail) = rest.split_at(at + "path:".len());
            done.push_str(head);
            rest = tail;
            if !boundary {
                continue;
            }
            let spaces = rest.len() - rest.trim_start().len();
            let value = &rest[spaces..];
            let end = value.find([',', '}', ' ', '#']).unwrap_or(value.len());
            let v = &value[..end];
            if v.contains('[') && !v.starts_with(['"', '\'', '[']) {
                done.push_str(&rest[..spaces]);
                done.push('"');
                done.push_str(v);
                done.push('"');
                rest = &value[end..];
            }
        }
        done.push_str(rest);
        out.push_str(&done);
        out.push('\n');
    }
    out
}

/// The object `kind` for a kubectl resource name (`hpa`, `deployments`, `capacitybuffer`), and
/// whether it is namespaced.
pub fn resolve_kind(resource: &str) -> Option<(String, bool)> {
    if let Some(info) = kscale_kubectl::kinds::resolve_kind(resource) {
        return Some((info.name.to_string(), info.namespaced));
    }
    match resource.to_ascii_lowercase().as_str() {
        "capacitybuffer" | "capacitybuffers" | "cb" => Some(("CapacityBuffer".into(), true)),
        _ => None,
    }
}

/// `kind/name` or `namespace/kind/name` → (kind, namespace (empty when cluster-scoped), name).
fn parse_target(target: &str) -> Result<(String, String, String), String> {
    if target.eq_ignore_ascii_case(SCENARIO_TARGET) {
        return Ok((SCENARIO_KIND.to_string(), String::new(), String::new()));
    }
    let parts: Vec<&str> = target.split('/').collect();
    let (ns, res, name) = match parts.as_slice() {
        [r, n] => (None, *r, *n),
        [ns, r, n] => (Some(*ns), *r, *n),
        _ => (Some(""), "", ""),
    };
    if res.is_empty() || name.is_empty() || ns == Some("") {
        return Err(format!(
            "target {target:?} must be kind/name or namespace/kind/name (e.g. horizontalpodautoscaler/web)"
        ));
    }
    let Some((kind, namespaced)) = resolve_kind(res) else {
        return Err(format!(
            "target {target:?}: unknown kind {res:?} (deployment, horizontalpodautoscaler or hpa, capacitybuffer, nodepool, ...)"
        ));
    };
    let namespace = if namespaced {
        ns.unwrap_or("default").to_string()
    } else {
        String::new()
    };
    Ok((kind, namespace, name.to_string()))
}

fn range_values(r: RangeSpec) -> Result<Vec<Value>, String> {
    if !(r.from.is_finite() && r.to.is_finite() && r.step.is_finite()) {
        return Err("range: from, to and step must be finite numbers".into());
    }
    if r.step <= 0.0 {
        return Err(format!("range: step {} must be greater than 0", r.step));
    }
    if r.from > r.to {
        return Err(format!(
            "range: from {} is greater than to {}",
            r.from, r.to
        ));
    }
    let n = ((r.to - r.from) / r.step + 1e-9).floor() + 1.0;
    if n > MAX_CONFIGURATIONS as f64 {
        return Err(format!(
            "too many configurations: this range alone has {n}; the limit is {MAX_CONFIGURATIONS}"
        ));
    }
    let ints = r.from.fract() == 0.0 && r.step.fract() == 0.0 && r.to.abs() < 9e15;
    Ok((0..n as u64)
        .map(|i| {
            let v = r.from + i as f64 * r.step;
            if ints {
                Value::from(v as i64)
            } else {
                Value::from((v * 1e9).round() / 1e9)
            }
        })
        .collect())
}

impl Tuning {
    /// Reads and checks a tuning file (not yet against the scenario: [`Tuning::check`]).
    pub fn load(path: &Path) -> Result<Tuning, InputError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError::file(path, format!("cannot read tuning file: {e}")))?;
        let docs = yaml::split_documents(&quote_paths(&text));
        let doc = match docs.as_slice() {
            [d] => d.clone(),
            [] => return Err(InputError::file(path, "empty tuning file")),
            [_, second, ..] => {
                return Err(InputError::at(
                    path,
                    second.start_line,
                    None,
                    "a tuning file holds exactly one YAML document",
                ));
            }
        };
        let parsed: TuningDoc = yaml::parse(path, &doc)?;
        let at_key = |key: &str, field: &str, msg: String| {
            let mut e = InputError::file(path, msg).with_field(field);
            e.line = doc.find_key_line(key, 0);
            e
        };
        if parsed.api_version != "kscale.io/v1alpha1" {
            return Err(at_key(
                "apiVersion",
                "apiVersion",
                format!(
                    "apiVersion {:?}: expected kscale.io/v1alpha1",
                    parsed.api_version
                ),
            ));
        }
        if parsed.kind != "Tuning" {
            return Err(at_key(
                "kind",
                "kind",
                format!("kind {:?}: expected Tuning", parsed.kind),
            ));
        }
        let name = parsed.metadata.name.trim().to_string();
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(at_key(
                "name",
                "metadata.name",
                "metadata.name must be a non-empty name without slashes".into(),
            ));
        }
        if parsed.spec.knobs.is_empty() {
            return Err(at_key(
                "knobs",
                "spec.knobs",
                "give at least one knob".into(),
            ));
        }
        let lines = knob_lines(&doc);
        let mut knobs = vec![];
        let mut total: u64 = 1;
        for (i, k) in parsed.spec.knobs.iter().enumerate() {
            let err = |field: &str, msg: String| {
                let mut e =
                    InputError::file(path, msg).with_field(format!("spec.knobs[{i}]{field}"));
                e.line = lines
                    .get(i)
                    .copied()
                    .or_else(|| doc.find_key_line("knobs", 0));
                e
            };
            let (kind, namespace, name) = parse_target(&k.target).map_err(|m| err(".target", m))?;
            let seg = parse_path(&k.path).map_err(|m| err(".path", m))?;
            let values = match (&k.values, k.range) {
                (Some(_), Some(_)) => {
                    return Err(err(
                        "",
                        "a knob has either values or range, not both".into(),
                    ));
                }
                (None, None) => {
                    return Err(err(
                        "",
                        "a knob needs values: [...] or range: {from, to, step}".into(),
                    ));
                }
                (Some(v), None) => {
                    if v.is_empty() {
                        return Err(err(".values", "values is empty".into()));
                    }
                    v.clone()
                }
                (None, Some(r)) => range_values(r).map_err(|m| err(".range", m))?,
            };
            total = total.saturating_mul(values.len() as u64);
            knobs.push(Knob {
                target: k.target.clone(),
                path_text: k.path.clone(),
                kind,
                namespace,
                name,
                path: seg,
                values,
            });
        }
        let search_err =
            |key: &str, field: &str, msg: String| at_key(key, &format!("spec.search{field}"), msg);
        let (search, sample) = match &parsed.spec.search {
            None => (Search::Exhaustive, None),
            Some(sp) => {
                let search = match sp.method.as_str() {
                    "exhaustive" => {
                        if sp.eta.is_some() || sp.rounds.is_some() {
                            return Err(search_err(
                                "method",
                                ".method",
                                "eta and rounds are for method: halving".into(),
                            ));
                        }
                        Search::Exhaustive
                    }
                    "halving" => {
                        let eta = sp.eta.unwrap_or(3);
                        let rounds = sp.rounds.unwrap_or(3);
                        if !(2..=10).contains(&eta) {
                            return Err(search_err(
                                "eta",
                                ".eta",
                                format!("eta {eta}: give 2 to 10"),
                            ));
                        }
                        if !(2..=6).contains(&rounds) {
                            return Err(search_err(
                                "rounds",
                                ".rounds",
                                format!("rounds {rounds}: give 2 to 6"),
                            ));
                        }
                        Search::Halving { eta, rounds }
                    }
                    other => {
                        return Err(search_err(
                            "method",
                            ".method",
                            format!("method {other:?}: exhaustive or halving"),
                        ));
                    }
                };
                if let Some(k) = sp.sample
                    && (k == 0 || k > total)
                {
                    return Err(search_err(
                        "sample",
                        ".sample",
                        format!("sample {k}: give 1 to the {total} configurations of the knobs"),
                    ));
                }
                (search, sp.sample)
            }
        };
        if total > MAX_SPACE {
            return Err(at_key(
                "knobs",
                "spec.knobs",
                format!("the knobs span more than {MAX_SPACE} configurations"),
            ));
        }
        let searched = sample.unwrap_or(total);
        let limit = match search {
            Search::Exhaustive => MAX_CONFIGURATIONS,
            Search::Halving { .. } => MAX_HALVING_CONFIGURATIONS,
        };
        if searched > limit || (sample.is_none() && total > limit) {
            return Err(at_key(
                "knobs",
                "spec.knobs",
                format!(
                    "too many configurations: {searched}; the limit is {limit}{}",
                    match search {
                        Search::Exhaustive => format!(
                            " (search: {{method: halving}} takes up to {MAX_HALVING_CONFIGURATIONS}; search.sample draws fewer)"
                        ),
                        Search::Halving { .. } => " (search.sample draws fewer)".to_string(),
                    }
                ),
            ));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let trace_lines = doc.item_lines("traces");
        let mut traces = vec![];
        let mut trace_texts = vec![];
        let mut trace_selects = vec![];
        for (i, t) in parsed.spec.traces.iter().enumerate() {
            let err = |field: &str, msg: String| {
                let mut e =
                    InputError::file(path, msg).with_field(format!("spec.traces[{i}]{field}"));
                e.line = trace_lines
                    .get(i)
                    .copied()
                    .or_else(|| doc.find_key_line("traces", 0));
                e
            };
            let (text, select, scale) = match t {
                TraceEntry::File(f) => (f.clone(), crate::trace::TraceSelect::default(), 1.0),
                TraceEntry::Spec(t) => {
                    let rate = crate::scenario::RateSpec {
                        trace: Some(t.trace.clone()),
                        column: t.column.clone(),
                        from: t.from.clone(),
                        row: t.row.clone(),
                        ..Default::default()
                    };
                    let select = crate::scenario::trace_select(&rate)
                        .map_err(|(f, m)| err(&format!(".{f}"), m))?;
                    let scale = t.scale.unwrap_or(1.0);
                    if !(scale.is_finite() && scale >= 0.0) {
                        return Err(err(".scale", "scale must be a non-negative number".into()));
                    }
                    (t.trace.clone(), select, scale)
                }
            };
            let file = base.join(&text);
            if !file.is_file() {
                return Err(err(
                    "",
                    format!("trace {text:?}: no such file ({})", file.display()),
                ));
            }
            traces.push(file);
            trace_texts.push(text);
            trace_selects.push((select, scale));
        }
        let baseline_lines = doc.item_lines("baselines");
        let mut baselines: Vec<Baseline> = vec![];
        for (i, b) in parsed.spec.baselines.iter().enumerate() {
            let err = |field: &str, msg: String| {
                let mut e =
                    InputError::file(path, msg).with_field(format!("spec.baselines[{i}]{field}"));
                e.line = baseline_lines
                    .get(i)
                    .copied()
                    .or_else(|| doc.find_key_line("baselines", 0));
                e
            };
            let name = b.name.trim();
            if name.is_empty() {
                return Err(err(".name", "a baseline needs a name".into()));
            }
            if name == "recommended" || baselines.iter().any(|o| o.name == name) {
                return Err(err(
                    ".name",
                    format!(
                        "baseline name {name:?} is taken (names are unique and not \"recommended\")"
                    ),
                ));
            }
            let mut set = vec![];
            for (j, f) in b.set.iter().enumerate() {
                let (kind, namespace, obj) =
                    parse_target(&f.target).map_err(|m| err(&format!(".set[{j}].target"), m))?;
                let seg = parse_path(&f.path).map_err(|m| err(&format!(".set[{j}].path"), m))?;
                set.push(Knob {
                    target: f.target.clone(),
                    path_text: f.path.clone(),
                    kind,
                    namespace,
                    name: obj,
                    path: seg,
                    values: vec![f.value.clone()],
                });
            }
            baselines.push(Baseline {
                name: name.to_string(),
                set,
            });
        }
        Ok(Tuning {
            path: path.to_path_buf(),
            name,
            knobs,
            traces,
            trace_texts,
            trace_selects,
            baselines,
            search,
            sample,
            doc,
        })
    }

    /// The configurations searched: every one, or `search.sample` of them drawn without
    /// replacement from a generator seeded by `seed` (the scenario's), in increasing order.
    pub fn searched(&self, seed: u64) -> Vec<usize> {
        let n = self.configurations();
        match self.sample {
            None => (0..n).collect(),
            Some(k) => {
                use rand::SeedableRng;
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x7475_6e65);
                let mut v = rand::seq::index::sample(&mut rng, n, k as usize).into_vec();
                v.sort_unstable();
                v
            }
        }
    }

    /// Number of configurations (the product of the knobs' value counts).
    pub fn configurations(&self) -> usize {
        self.knobs.iter().map(|k| k.values.len()).product()
    }

    /// The value index of each knob in configuration `index` (the last knob varies fastest).
    pub fn configuration(&self, mut index: usize) -> Vec<usize> {
        let mut out = vec![0; self.knobs.len()];
        for (i, k) in self.knobs.iter().enumerate().rev() {
            out[i] = index % k.values.len();
            index /= k.values.len();
        }
        out
    }

    /// The scenario fields configuration `index` sets (knobs on target `scenario`), as
    /// `Scenario::load_with_sets` takes them: `(path, value as YAML)`.
    pub fn scenario_sets(&self, index: usize) -> Vec<(String, String)> {
        self.configuration(index)
            .into_iter()
            .zip(&self.knobs)
            .filter(|(_, k)| k.on_scenario())
            .map(|(v, k)| (k.path_text.clone(), k.values[v].to_string()))
            .collect()
    }

    /// Whether a knob or a baseline sets a field of the scenario.
    pub fn sets_scenario(&self) -> bool {
        self.knobs.iter().any(Knob::on_scenario)
            || self
                .baselines
                .iter()
                .any(|b| b.set.iter().any(Knob::on_scenario))
    }

    /// The overrides of configuration `index` (its knobs on manifest objects).
    pub fn overrides(&self, index: usize) -> Vec<ObjectOverride> {
        self.configuration(index)
            .into_iter()
            .zip(&self.knobs)
            .filter(|(_, k)| !k.on_scenario())
            .map(|(v, k)| ObjectOverride {
                kind: k.kind.clone(),
                namespace: k.namespace.clone(),
                name: k.name.clone(),
                path: k.path.clone(),
                value: k.values[v].clone(),
            })
            .collect()
    }

    /// Checks the knobs against the scenario's manifests: each target is defined, each path
    /// exists in it (the last key may be a field the object leaves out, if its kind has it),
    /// and each value is one the field accepts. Returns, per knob, the object as loaded.
    pub fn check(&self, scenario: &Scenario) -> Result<Vec<TargetObject>, InputError> {
        let (objects, _) = crate::manifest::load_paths(&scenario.manifest_paths)?;
        let lines = knob_lines(&self.doc);
        let mut out = vec![];
        for (i, k) in self.knobs.iter().enumerate() {
            let err = |field: &str, msg: String| {
                let mut e =
                    InputError::file(&self.path, msg).with_field(format!("spec.knobs[{i}]{field}"));
                e.line = lines.get(i).copied();
                e
            };
            out.push(if k.on_scenario() {
                check_scenario_knob(scenario, k, ".values", err)?
            } else {
                check_knob(&objects, k, ".values", err)?
            });
        }
        let lines = self.doc.item_lines("baselines");
        for (i, b) in self.baselines.iter().enumerate() {
            for (j, k) in b.set.iter().enumerate() {
                let err = |field: &str, msg: String| {
                    let mut e = InputError::file(&self.path, msg)
                        .with_field(format!("spec.baselines[{i}].set[{j}]{field}"));
                    e.line = lines.get(i).copied();
                    e
                };
                if k.on_scenario() {
                    check_scenario_knob(scenario, k, ".value", err)?;
                } else {
                    check_knob(&objects, k, ".value", err)?;
                }
            }
        }
        Ok(out)
    }

    /// The traces' rates, read once.
    pub fn trace_rates(&self) -> Result<Vec<Rate>, InputError> {
        self.traces
            .iter()
            .zip(&self.trace_selects)
            .map(|(f, (select, scale))| {
                Ok(Rate::Steps {
                    points: crate::trace::read_trace_select(f, select, 1.0)?.into(),
                    scale: *scale,
                })
            })
            .collect()
    }
}

/// Checks one knob against the manifests: its target is defined, its path exists there (the
/// last key may be a field the object leaves out, if its kind has it), and each value is one
/// the field accepts (`values_field` names the values in errors).
fn check_knob(
    objects: &[crate::manifest::ManifestObject],
    k: &Knob,
    values_field: &str,
    err: impl Fn(&str, String) -> InputError,
) -> Result<TargetObject, InputError> {
    let probe = ObjectOverride {
        kind: k.kind.clone(),
        namespace: k.namespace.clone(),
        name: k.name.clone(),
        path: k.path.clone(),
        value: Value::Null,
    };
    let Some(obj) = objects.iter().find(|o| probe.matches(&o.object)) else {
        return Err(err(
            ".target",
            format!(
                "target {}: no manifest of the scenario defines {} {}{}",
                k.target,
                k.kind,
                if k.namespace.is_empty() {
                    String::new()
                } else {
                    format!("{}/", k.namespace)
                },
                k.name
            ),
        ));
    };
    let here = format!("{}:{}", obj.file.display(), obj.line);
    let original = get_path(&obj.object, &k.path).cloned();
    for (j, v) in k.values.iter().enumerate() {
        let mut o = obj.object.clone();
        let missing = || {
            err(
                ".path",
                format!(
                    "path {} does not exist in {} {} ({here})",
                    k.path_text, k.kind, k.name
                ),
            )
        };
        set_path(&mut o, &k.path, v.clone()).map_err(|_| missing())?;
        let canon = crate::manifest::canonicalize_json(&o).map_err(|m| {
            let field = if k.values.len() == 1 && values_field == ".value" {
                values_field.to_string()
            } else {
                format!("{values_field}[{j}]")
            };
            err(
                &field,
                format!(
                    "value {v} is not valid at {} of {} {}: {m}",
                    k.path_text, k.kind, k.name
                ),
            )
        })?;
        // A field its kind does not have is dropped by the typed parse.
        if original.is_none() && get_path(&canon, &k.path).is_none() {
            return Err(missing());
        }
    }
    Ok(TargetObject {
        file: obj.file.clone(),
        object: obj.object.clone(),
        raw: obj.raw.clone(),
        original,
    })
}

/// Checks a knob on the scenario's own fields: with each value the scenario loads (the path
/// is a field of the format, the value one it accepts). The target is the scenario document.
fn check_scenario_knob(
    scenario: &Scenario,
    k: &Knob,
    values_field: &str,
    err: impl Fn(&str, String) -> InputError,
) -> Result<TargetObject, InputError> {
    let text = std::fs::read_to_string(&scenario.path).map_err(|e| {
        err(
            ".target",
            format!("cannot read {}: {e}", scenario.path.display()),
        )
    })?;
    let raw: Value = serde_saphyr::from_str(&text).map_err(|e| {
        err(
            ".target",
            format!("cannot parse {}: {e}", scenario.path.display()),
        )
    })?;
    for (j, v) in k.values.iter().enumerate() {
        Scenario::load_with_sets(&scenario.path, &[(k.path_text.clone(), v.to_string())]).map_err(
            |e| {
                let field = if values_field == ".value" {
                    values_field.to_string()
                } else {
                    format!("{values_field}[{j}]")
                };
                err(
                    &field,
                    format!("scenario {} = {v}: {}", k.path_text, e.message),
                )
            },
        )?;
    }
    Ok(TargetObject {
        file: scenario.path.clone(),
        original: get_path(&raw, &k.path).cloned(),
        object: raw.clone(),
        raw,
    })
}

/// A knob's target object as the manifests define it.
#[derive(Debug, Clone)]
pub struct TargetObject {
    /// The manifest file.
    pub file: PathBuf,
    /// The object (canonical JSON).
    pub object: Value,
    /// The object as written.
    pub raw: Value,
    /// The knob's field before tuning (`None`: left out).
    pub original: Option<Value>,
}

/// One objective's outcome in a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SloOutcome {
    /// Its name.
    pub name: String,
    /// Whether it passed.
    pub pass: bool,
    /// Seconds of its violation windows.
    pub violation_seconds: f64,
    /// Its objective (`latencyP99`, `failedRequests`, ...; empty in results written before
    /// it was recorded).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub objective: String,
    /// The measured value, in the objective's unit (ms for `latencyP99`, % for
    /// `failedRequests`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<f64>,
    /// The bound it must stay within.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<f64>,
}

/// One run of a configuration.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunResult {
    /// Cost of the run (USD).
    pub cost_usd: f64,
    /// The objectives.
    pub slos: Vec<SloOutcome>,
    /// A hash of what the run shows (its summary, events and kubectl steps): two runs with
    /// the same fingerprint behaved the same, so a knob whose values never change it changes
    /// nothing ([`unchanged_knobs`]). 0 in results written before it existed.
    #[serde(default)]
    pub fingerprint: u64,
    /// User requests offered over every load entry.
    #[serde(default)]
    pub offered_requests: f64,
    /// User requests lost (dropped, rejected, timed out, or failed after their retries).
    #[serde(default)]
    pub lost_requests: f64,
    /// Seconds in which the service violated a latency or error objective (the union of the
    /// `latencyP99`, `failedRequests` and `sloViolationTime` objectives' windows).
    #[serde(default)]
    pub violation_union_seconds: f64,
}

/// Seconds covered by the union of `[from, to)` windows.
fn union_seconds(mut w: Vec<(f64, f64)>) -> f64 {
    w.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut total = 0.0;
    let mut cur: Option<(f64, f64)> = None;
    for (f, t) in w {
        match &mut cur {
            Some((_, to)) if f <= *to => *to = to.max(t),
            _ => {
                if let Some((a, b)) = cur {
                    total += b - a;
                }
                cur = Some((f, t));
            }
        }
    }
    if let Some((a, b)) = cur {
        total += b - a;
    }
    total.max(0.0) + 0.0
}

/// Offered and lost user requests over a summary's `loads` (as the verdict counts them: with
/// retries a request is lost when its last try failed).
fn request_totals(summary: &Value) -> (f64, f64) {
    let num = |v: Option<&Value>| v.and_then(Value::as_f64).unwrap_or(0.0);
    let loads = summary.get("loads").and_then(Value::as_array);
    loads.map_or((0.0, 0.0), |loads| {
        loads.iter().fold((0.0, 0.0), |(o, lost), l| {
            let this = match l.get("failedRequests") {
                Some(f) => num(Some(f)),
                None => {
                    num(l.get("droppedRequests"))
                        + num(l.get("rejectedRequests"))
                        + num(l.get("timedOutRequests"))
                }
            };
            (o + num(l.get("offeredRequests")), lost + this)
        })
    })
}

/// A [`std::hash::Hasher`] fed through `std::io::Write` (for `serde_json::to_writer`).
struct HashWriter(std::collections::hash_map::DefaultHasher);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::hash::Hasher::write(&mut self.0, buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The fingerprint of a finished run (see [`RunResult::fingerprint`]); deterministic
/// (`DefaultHasher::new` has fixed keys).
fn fingerprint(out: &kscale_report::RunOutput) -> u64 {
    let mut h = HashWriter(std::collections::hash_map::DefaultHasher::new());
    let _ = serde_json::to_writer(&mut h, &out.summary);
    let _ = serde_json::to_writer(&mut h, &out.events);
    let _ = serde_json::to_writer(&mut h, &out.transcript);
    std::hash::Hasher::finish(&h.0)
}

/// The knobs (indices into [`Tuning::knobs`]) with several values that changed nothing: for
/// every configuration, the configuration that differs from it only in that knob's value
/// ran identically (same fingerprints on every run). `results[c]` are configuration `c`'s
/// runs; failed runs and results without fingerprints are not compared.
pub fn unchanged_knobs<E>(tuning: &Tuning, results: &[Vec<Result<RunResult, E>>]) -> Vec<usize> {
    let prints = |c: usize| -> Option<Vec<u64>> {
        results
            .get(c)?
            .iter()
            .map(|r| r.as_ref().ok().map(|r| r.fingerprint).filter(|f| *f != 0))
            .collect()
    };
    let stride = |k: usize| -> usize {
        tuning.knobs[k + 1..]
            .iter()
            .map(|k| k.values.len())
            .product()
    };
    (0..tuning.knobs.len())
        .filter(|&k| {
            let n = tuning.knobs[k].values.len();
            if n < 2 {
                return false;
            }
            let mut compared = false;
            for c in 0..results.len() {
                let v = tuning.configuration(c)[k];
                if v == 0 {
                    continue;
                }
                let base = c - v * stride(k);
                match (prints(c), prints(base)) {
                    (Some(a), Some(b)) => {
                        if a != b {
                            return false;
                        }
                        compared = true;
                    }
                    _ => continue,
                }
            }
            compared
        })
        .collect()
}

/// Runs `base` with `overrides` (and, if given, every load entry's rate replaced by `rate`).
pub fn run_trial(
    base: &Scenario,
    overrides: Vec<ObjectOverride>,
    rate: Option<&Rate>,
) -> Result<RunResult, InputError> {
    let mut scenario = base.clone();
    scenario.object_overrides = overrides;
    if let Some(r) = rate {
        for l in &mut scenario.loads {
            l.rate = r.clone();
        }
    }
    let mut sim = Sim::new(Arc::new(scenario))?;
    sim.run();
    let window = |w: &Value| -> (f64, f64) {
        (
            w["fromSeconds"].as_f64().unwrap_or(0.0),
            w["toSeconds"].as_f64().unwrap_or(0.0),
        )
    };
    let results = sim.slo_results();
    let mut all_windows = vec![];
    let slos = results
        .iter()
        .map(|v| {
            let windows: Vec<(f64, f64)> = v["violations"]
                .as_array()
                .map(|w| w.iter().map(window).collect())
                .unwrap_or_default();
            let violation_seconds = windows.iter().map(|(f, t)| t - f).sum::<f64>().max(0.0)
                // An empty sum is -0.0: written as 0.
                + 0.0;
            // The service's own objectives: the time its users saw a violation (not the
            // cluster's cost or size, nor slow pod start-ups).
            if matches!(
                v["objective"].as_str(),
                Some("latencyP99" | "failedRequests" | "sloViolationTime")
            ) {
                all_windows.extend(windows.iter().copied());
            }
            SloOutcome {
                name: v["name"].as_str().unwrap_or("").to_string(),
                pass: v["pass"].as_bool() == Some(true),
                violation_seconds,
                objective: v["objective"].as_str().unwrap_or("").to_string(),
                measured: v["measured"].as_f64(),
                bound: v["bound"].as_f64(),
            }
        })
        .collect();
    let out = sim.output();
    let (offered_requests, lost_requests) = request_totals(&out.summary);
    Ok(RunResult {
        cost_usd: sim.cost_so_far(),
        slos,
        fingerprint: fingerprint(&out),
        offered_requests,
        lost_requests,
        violation_union_seconds: union_seconds(all_windows),
    })
}

/// A configuration's outcome over its runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// Configuration index.
    pub index: usize,
    /// Mean cost over the runs (USD, rounded to 0.001).
    pub cost_usd: f64,
    /// Every SLO passed on every run.
    pub pass: bool,
    /// SLOs that failed on some run, in `spec.slos` order.
    pub failed_slos: Vec<String>,
    /// Violation seconds summed over SLOs and runs.
    pub violation_seconds: f64,
    /// Why the configuration could not run, if it could not (it then fails).
    pub error: Option<String>,
    /// How close it came to failing: the largest measured / bound over its SLOs and runs
    /// (above 1: failed; a bound of 0 counts 0 when met, else 1 + the measure; infinite when a
    /// run could not run).
    pub risk: f64,
}

/// An objective's measure relative to its bound (see [`Trial::risk`]).
fn slo_risk(s: &SloOutcome) -> f64 {
    match (s.measured, s.bound) {
        (Some(m), Some(b)) if b > 0.0 => m / b,
        (Some(m), Some(_)) => {
            if m > 0.0 {
                1.0 + m
            } else {
                0.0
            }
        }
        _ => {
            if s.pass {
                0.0
            } else {
                f64::INFINITY
            }
        }
    }
}

impl Trial {
    /// Aggregates a configuration's runs.
    pub fn from_runs<E: std::fmt::Display>(index: usize, runs: &[Result<RunResult, E>]) -> Trial {
        let mut t = Trial {
            index,
            cost_usd: 0.0,
            pass: true,
            failed_slos: vec![],
            violation_seconds: 0.0,
            error: None,
            risk: 0.0,
        };
        let mut cost = 0.0;
        for r in runs {
            match r {
                Ok(r) => {
                    cost += r.cost_usd;
                    for s in &r.slos {
                        t.risk = t.risk.max(slo_risk(s));
                        t.violation_seconds += s.violation_seconds;
                        if !s.pass {
                            t.pass = false;
                            if !t.failed_slos.contains(&s.name) {
                                t.failed_slos.push(s.name.clone());
                            }
                        }
                    }
                }
                Err(e) => {
                    t.pass = false;
                    t.risk = f64::INFINITY;
                    t.error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        t.cost_usd = (cost / runs.len().max(1) as f64 * 1000.0).round() / 1000.0;
        t.violation_seconds = (t.violation_seconds * 1000.0).round() / 1000.0 + 0.0;
        t
    }
}

/// The cheapest passing trial: lowest cost, then fewest violation seconds, then lowest index.
pub fn recommend(trials: &[Trial]) -> Option<usize> {
    trials
        .iter()
        .enumerate()
        .filter(|(_, t)| t.pass)
        .min_by(|(_, a), (_, b)| {
            a.cost_usd
                .total_cmp(&b.cost_usd)
                .then(a.violation_seconds.total_cmp(&b.violation_seconds))
                .then(a.index.cmp(&b.index))
        })
        .map(|(i, _)| i)
}

/// Trials not dominated in (cost, violation seconds), by index; trials that could not run are
/// left out.
pub fn pareto(trials: &[Trial]) -> Vec<usize> {
    let ok: Vec<&Trial> = trials.iter().filter(|t| t.error.is_none()).collect();
    ok.iter()
        .filter(|a| {
            !ok.iter().any(|b| {
                b.cost_usd <= a.cost_usd
                    && b.violation_seconds <= a.violation_seconds
                    && (b.cost_usd < a.cost_usd || b.violation_seconds < a.violation_seconds)
            })
        })
        .map(|t| t.index)
        .collect()
}

/// The simulated length (ms) of each halving round: the SLOs' warm-up (`warm_up_ms`, their
/// largest `from`) plus `1/eta^(rounds-1-r)` of the rest of `duration_ms`; the last round is the
/// whole scenario.
pub fn halving_durations(duration_ms: u64, warm_up_ms: u64, eta: u32, rounds: u32) -> Vec<u64> {
    let measured = duration_ms.saturating_sub(warm_up_ms);
    (0..rounds)
        .map(|r| {
            let div = (eta as u64).pow(rounds - 1 - r);
            warm_up_ms + measured.div_ceil(div)
        })
        .collect()
}

/// Which trials continue to the next halving round: `ceil(n/eta)` of them, by layers of the
/// Pareto front of (cost, [`Trial::risk`]) — a prefix of the scenario says little about which
/// cheap configurations will still pass later, so cheap-but-close and safe-but-dear ones both
/// continue; within the last layer that fits partly, the cheapest, then the lowest index.
/// Configurations that already failed continue only when the passing ones leave room.
/// Returns positions in `trials`, in configuration order.
pub fn halving_keep(trials: &[Trial], eta: u32) -> Vec<usize> {
    let keep = trials.len().div_ceil(eta as usize).max(1);
    // Configurations that already fail come last: a violation on a prefix stays in the whole.
    let (passing, failing): (Vec<usize>, Vec<usize>) =
        (0..trials.len()).partition(|&i| trials[i].pass);
    let mut kept: Vec<usize> = vec![];
    for group in [passing, failing] {
        take_layers(trials, group, keep, &mut kept);
    }
    kept.sort_unstable_by_key(|&p| trials[p].index);
    kept
}

/// Adds to `kept` (up to `keep`) the positions of `left` by Pareto layers of (cost, risk).
///
/// Layers in O(n log n) (two objectives): in (cost, risk) order every dominator of a trial
/// comes before it, and the layers that dominate it are a prefix (a layer's members are each
/// dominated by the layer before), so each trial joins the first layer that does not dominate
/// it, found by binary search over each layer's lowest risk (and the cost it first came at).
fn take_layers(trials: &[Trial], mut left: Vec<usize>, keep: usize, kept: &mut Vec<usize>) {
    let by_cost_risk = |a: &usize, b: &usize| {
        let (x, y) = (&trials[*a], &trials[*b]);
        x.cost_usd
            .total_cmp(&y.cost_usd)
            .then(x.risk.total_cmp(&y.risk))
            .then(x.index.cmp(&y.index))
    };
    left.sort_by(by_cost_risk);
    // Per layer: its lowest risk and the cost of the first member that had it.
    let mut floors: Vec<(f64, f64)> = vec![];
    let mut layers: Vec<Vec<usize>> = vec![];
    for &p in &left {
        let t = &trials[p];
        let dominates = |&(risk, cost): &(f64, f64)| {
            risk.total_cmp(&t.risk).is_lt() || (risk == t.risk && cost < t.cost_usd)
        };
        let layer = floors.partition_point(dominates);
        if layer == layers.len() {
            floors.push((t.risk, t.cost_usd));
            layers.push(vec![]);
        } else if t.risk.total_cmp(&floors[layer].0).is_lt() {
            floors[layer] = (t.risk, t.cost_usd);
        }
        layers[layer].push(p);
    }
    for mut front in layers {
        if kept.len() >= keep {
            break;
        }
        front.sort_by(|&a, &b| {
            trials[a]
                .cost_usd
                .total_cmp(&trials[b].cost_usd)
                .then(trials[a].index.cmp(&trials[b].index))
        });
        let room = keep - kept.len();
        kept.extend(front.into_iter().take(room));
    }
}

/// One configuration of the side-by-side comparison (the manifests as written, a baseline,
/// or the recommendation), over its runs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComparisonRow {
    /// `original`, a baseline's name, or `recommended`.
    pub name: String,
    /// Mean cost over the runs (USD, rounded to 0.001).
    pub cost_usd: f64,
    /// Every SLO passed on every run.
    pub pass: bool,
    /// SLOs that failed on some run.
    pub failed_slos: Vec<String>,
    /// Minutes in which the service violated a latency or error objective, summed over the
    /// runs (rounded to 0.1; see [`RunResult::violation_union_seconds`]).
    pub violation_minutes: f64,
    /// User requests lost over every run.
    pub lost_requests: f64,
    /// Failed / offered user requests in % (rounded to 0.001): the highest `failedRequests`
    /// objective's measure over the runs when the scenario has one (so its `from` applies),
    /// else lost / offered over every run.
    pub failed_requests_percent: f64,
    /// The highest `latencyP99` objective's measured p99 over the runs (ms), when the
    /// scenario has one.
    pub latency_p99_ms: Option<f64>,
    /// Why a run could not run, if one could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ComparisonRow {
    /// Aggregates the runs of one configuration.
    pub fn from_runs<E: std::fmt::Display>(
        name: &str,
        runs: &[Result<RunResult, E>],
    ) -> ComparisonRow {
        // Cost, pass, failed SLOs and the first error as a trial counts them.
        let trial = Trial::from_runs(0, runs);
        let mut row = ComparisonRow {
            name: name.to_string(),
            cost_usd: trial.cost_usd,
            pass: trial.pass,
            failed_slos: trial.failed_slos,
            violation_minutes: 0.0,
            lost_requests: 0.0,
            failed_requests_percent: 0.0,
            latency_p99_ms: None,
            error: trial.error,
        };
        let (mut offered, mut violation) = (0.0, 0.0);
        let mut failed_objective: Option<f64> = None;
        for r in runs.iter().flatten() {
            offered += r.offered_requests;
            row.lost_requests += r.lost_requests;
            violation += r.violation_union_seconds;
            let worst = |x: Option<f64>, m: f64| Some(x.map_or(m, |x| x.max(m)));
            for s in &r.slos {
                match (s.objective.as_str(), s.measured) {
                    ("latencyP99", Some(m)) => row.latency_p99_ms = worst(row.latency_p99_ms, m),
                    ("failedRequests", Some(m)) => failed_objective = worst(failed_objective, m),
                    _ => {}
                }
            }
        }
        // To `per` parts of a unit (1000: 0.001).
        let round = |x: f64, per: f64| (x * per).round() / per + 0.0;
        row.violation_minutes = round(violation / 60.0, 10.0);
        row.lost_requests = round(row.lost_requests, 1.0);
        row.failed_requests_percent = match failed_objective {
            Some(m) => round(m, 1000.0),
            None if offered > 0.0 => round(100.0 * row.lost_requests / offered, 1000.0),
            None => 0.0,
        };
        row
    }
}

/// How the recommendation compares with the baselines (issue 27's goal): it meets every SLO
/// with no violation at most 15% above the cost of the cheapest baseline, or it is at least
/// as good as every baseline on both cost and violation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersusBaselines {
    /// The cheapest baseline.
    pub cheapest: String,
    /// Recommendation cost / that baseline's cost.
    pub cost_ratio: f64,
    /// The recommendation meets every SLO with zero violation minutes.
    pub zero_violation: bool,
    /// No baseline is cheaper or has fewer violation minutes.
    pub dominates_all: bool,
    /// `zero_violation` at no more than [`GOAL_COST_RATIO`] × the cheapest baseline's cost,
    /// or `dominates_all`.
    pub goal_met: bool,
}

/// The cost a violation-free recommendation may have over the cheapest baseline.
pub const GOAL_COST_RATIO: f64 = 1.15;

/// The recommendation against the baselines (`None` without baselines).
pub fn versus_baselines(
    recommended: &ComparisonRow,
    baselines: &[ComparisonRow],
) -> Option<VersusBaselines> {
    let cheapest = baselines
        .iter()
        .filter(|b| b.error.is_none())
        .min_by(|a, b| a.cost_usd.total_cmp(&b.cost_usd))?;
    let cost_ratio = if cheapest.cost_usd > 0.0 {
        recommended.cost_usd / cheapest.cost_usd
    } else if recommended.cost_usd > 0.0 {
        f64::INFINITY
    } else {
        1.0
    };
    let zero_violation = recommended.pass && recommended.violation_minutes == 0.0;
    let dominates_all = recommended.error.is_none()
        && baselines.iter().all(|b| {
            recommended.cost_usd <= b.cost_usd
                && recommended.violation_minutes <= b.violation_minutes
        });
    Some(VersusBaselines {
        cheapest: cheapest.name.clone(),
        cost_ratio: (cost_ratio * 1000.0).round() / 1000.0,
        zero_violation,
        dominates_all,
        goal_met: (zero_violation && cost_ratio <= GOAL_COST_RATIO + 1e-9) || dominates_all,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_parse_keys_and_indices() {
        assert_eq!(
            parse_path("spec.metrics[0].resource.target.averageUtilization").unwrap(),
            vec![
                PathSegment::Key("spec".into()),
                PathSegment::Key("metrics".into()),
                PathSegment::Index(0),
                PathSegment::Key("resource".into()),
                PathSegment::Key("target".into()),
                PathSegment::Key("averageUtilization".into()),
            ]
        );
        assert_eq!(
            path_text(&parse_path("a[1][2].b").unwrap()),
            "a[1][2].b".to_string()
        );
        for bad in ["", "a..b", "a[x]", "a[1", "a[1]b", ".a", "a.[0]"] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bracketed_paths_in_flow_mappings_are_quoted() {
        assert_eq!(
            quote_paths(
                "    - {target: hpa/web, path: spec.metrics[0].x, values: [1]}\n  path: a.b\n"
            ),
            "    - {target: hpa/web, path: \"spec.metrics[0].x\", values: [1]}\n  path: a.b\n"
        );
        assert_eq!(quote_paths("path: \"a[0]\"\n"), "path: \"a[0]\"\n");
    }

    #[test]
    fn overrides_set_existing_fields_of_matching_objects() {
        let mut o = json!({"kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
            "spec": {"metrics": [{"resource": {"target": {"averageUtilization": 60}}}]}});
        let ov = |name: &str, path: &str, v: Value| ObjectOverride {
            kind: "HorizontalPodAutoscaler".into(),
            namespace: "default".into(),
            name: name.into(),
            path: parse_path(path).unwrap(),
            value: v,
        };
        apply_overrides(
            &[
                ov(
                    "web",
                    "spec.metrics[0].resource.target.averageUtilization",
                    json!(40),
                ),
                ov("other", "spec.minReplicas", json!(9)),
                ov("web", "spec.minReplicas", json!(2)),
            ],
            &mut o,
        )
        .unwrap();
        assert_eq!(
            o["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            40
        );
        assert_eq!(o["spec"]["minReplicas"], 2);
        assert!(apply_overrides(&[ov("web", "spec.metrics[3].x", json!(1))], &mut o).is_err());
        // Missing objects on the way are created; whether the kind has the field is for the
        // typed parse (`Tuning::check`) to say.
        apply_overrides(&[ov("web", "spec.nope.x", json!(1))], &mut o).unwrap();
        assert_eq!(o["spec"]["nope"]["x"], 1);
    }

    #[test]
    fn ranges_and_configurations() {
        let r = |from, to, step| range_values(RangeSpec { from, to, step });
        assert_eq!(
            r(0.0, 4.0, 1.0).unwrap(),
            vec![json!(0), json!(1), json!(2), json!(3), json!(4)]
        );
        assert_eq!(
            r(0.5, 1.0, 0.25).unwrap(),
            vec![json!(0.5), json!(0.75), json!(1.0)]
        );
        assert!(r(0.0, 4.0, 0.0).is_err());
        assert!(r(5.0, 4.0, 1.0).is_err());
    }

    #[test]
    fn recommendation_and_pareto() {
        let t = |index, cost, pass, v| Trial {
            index,
            cost_usd: cost,
            pass,
            failed_slos: vec![],
            violation_seconds: v,
            error: None,
            risk: 0.0,
        };
        let trials = vec![
            t(0, 1.0, false, 50.0),
            t(1, 2.0, true, 0.0),
            t(2, 2.0, true, 0.0),
            t(3, 3.0, true, 5.0),
        ];
        assert_eq!(recommend(&trials), Some(1));
        assert_eq!(pareto(&trials), vec![0, 1, 2]);
        assert_eq!(recommend(&trials[..1]), None);
    }

    fn run(cost: f64, slos: &[(&str, &str, bool, f64, f64)], offered: f64, lost: f64) -> RunResult {
        RunResult {
            cost_usd: cost,
            slos: slos
                .iter()
                .map(|&(name, objective, pass, measured, v)| SloOutcome {
                    name: name.into(),
                    pass,
                    violation_seconds: v,
                    objective: objective.into(),
                    measured: Some(measured),
                    bound: None,
                })
                .collect(),
            fingerprint: 1,
            offered_requests: offered,
            lost_requests: lost,
            violation_union_seconds: slos.iter().map(|s| s.4).fold(0.0, f64::max),
        }
    }

    #[test]
    fn comparison_rows_aggregate_runs() {
        let runs: Vec<Result<RunResult, String>> = vec![
            Ok(run(
                2.0,
                &[
                    ("lat", "latencyP99", true, 120.0, 0.0),
                    ("err", "failedRequests", true, 0.05, 0.0),
                ],
                1000.0,
                1.0,
            )),
            Ok(run(
                4.0,
                &[
                    ("lat", "latencyP99", false, 900.0, 90.0),
                    ("err", "failedRequests", true, 0.08, 30.0),
                ],
                1000.0,
                3.0,
            )),
        ];
        let row = ComparisonRow::from_runs("b", &runs);
        assert_eq!(row.cost_usd, 3.0);
        assert!(!row.pass);
        assert_eq!(row.failed_slos, vec!["lat".to_string()]);
        // The union per run (90 s in the second), summed over runs.
        assert_eq!(row.violation_minutes, 1.5);
        assert_eq!(row.latency_p99_ms, Some(900.0));
        // The failedRequests objective's worst measure, not lost / offered.
        assert_eq!(row.failed_requests_percent, 0.08);
        assert_eq!(row.lost_requests, 4.0);
        let none: Vec<Result<RunResult, String>> = vec![Ok(run(1.0, &[], 200.0, 1.0))];
        let row = ComparisonRow::from_runs("c", &none);
        assert_eq!(row.failed_requests_percent, 0.5);
        assert_eq!(row.latency_p99_ms, None);
        let broken: Vec<Result<RunResult, String>> = vec![Err("boom".into())];
        let row = ComparisonRow::from_runs("d", &broken);
        assert!(!row.pass && row.error.as_deref() == Some("boom"));
    }

    #[test]
    fn union_of_violation_windows() {
        assert_eq!(union_seconds(vec![]), 0.0);
        assert_eq!(
            union_seconds(vec![(10.0, 20.0), (0.0, 5.0), (15.0, 30.0)]),
            25.0
        );
        assert_eq!(union_seconds(vec![(0.0, 5.0), (5.0, 6.0)]), 6.0);
    }

    #[test]
    fn the_goal_against_baselines() {
        let row = |name: &str, cost: f64, pass: bool, minutes: f64| ComparisonRow {
            name: name.into(),
            cost_usd: cost,
            pass,
            failed_slos: vec![],
            violation_minutes: minutes,
            lost_requests: 0.0,
            failed_requests_percent: 0.0,
            latency_p99_ms: None,
            error: None,
        };
        let baselines = [
            row("hpa-80", 10.0, false, 3.0),
            row("hpa-50", 14.0, true, 0.0),
        ];
        // No violation at 115% of the cheapest baseline: met.
        let v = versus_baselines(&row("r", 11.5, true, 0.0), &baselines).unwrap();
        assert_eq!((v.cheapest.as_str(), v.cost_ratio), ("hpa-80", 1.15));
        assert!(v.zero_violation && v.goal_met && !v.dominates_all);
        // Above 115%: not met.
        let v = versus_baselines(&row("r", 11.6, true, 0.0), &baselines).unwrap();
        assert!(!v.goal_met);
        // Violating, but no worse than any baseline on cost and violation: met.
        let v = versus_baselines(&row("r", 9.0, false, 0.0), &baselines).unwrap();
        assert!(v.dominates_all && v.goal_met && !v.zero_violation);
        let v = versus_baselines(&row("r", 9.0, false, 3.5), &baselines).unwrap();
        assert!(!v.dominates_all && !v.goal_met);
        assert_eq!(versus_baselines(&row("r", 1.0, true, 0.0), &[]), None);
    }

    #[test]
    fn halving_rounds_grow_the_measured_part() {
        // 1h warm-up, 12h measured, eta 3, 3 rounds: 1h + 12h/9, 1h + 12h/3, 13h.
        let h = 3_600_000;
        assert_eq!(
            halving_durations(13 * h, h, 3, 3),
            vec![h + 12 * h / 9, h + 4 * h, 13 * h]
        );
        assert_eq!(halving_durations(8 * h, 0, 2, 2), vec![4 * h, 8 * h]);
    }

    #[test]
    fn halving_keeps_cheap_and_safe_configurations() {
        let t = |index, cost, risk| Trial {
            index,
            cost_usd: cost,
            pass: risk <= 1.0,
            failed_slos: vec![],
            violation_seconds: 0.0,
            error: None,
            risk,
        };
        let trials = vec![
            t(0, 1.0, 0.9),  // cheapest, close to failing
            t(1, 3.0, 0.2),  // dearest, safest
            t(2, 2.0, 0.95), // dominated by 0
            t(3, 2.0, 0.5),  // on the front
            t(4, 1.5, 2.0),  // failing
            t(5, 2.5, 0.6),  // dominated by 3
        ];
        // ceil(6/3) = 2: the front (0, 3, 1) by cost.
        assert_eq!(halving_keep(&trials, 3), vec![0, 3]);
        // ceil(6/2) = 3: the whole front.
        assert_eq!(halving_keep(&trials, 2), vec![0, 1, 3]);
        // More room than the front: the next passing layer (2, 5) by cost; 4 fails.
        let mut more = trials.clone();
        more.extend([t(6, 9.0, 9.0), t(7, 9.0, 9.0)]);
        assert_eq!(halving_keep(&more, 2), vec![0, 1, 2, 3]);
    }

    proptest::proptest! {
        /// The sorted layering keeps what peeling Pareto fronts pair by pair keeps.
        #[test]
        fn halving_layers_match_pairwise_fronts(
            points in proptest::collection::vec((0u8..6, 0u8..6, proptest::bool::ANY), 1..40),
            eta in 2u32..5,
        ) {
            let trials: Vec<Trial> = points
                .iter()
                .enumerate()
                .map(|(index, &(cost, risk, pass))| Trial {
                    index,
                    cost_usd: f64::from(cost),
                    pass,
                    failed_slos: vec![],
                    violation_seconds: 0.0,
                    error: None,
                    risk: f64::from(risk) / 4.0,
                })
                .collect();
            let keep = trials.len().div_ceil(eta as usize).max(1);
            let dominates = |a: &Trial, b: &Trial| {
                a.cost_usd <= b.cost_usd
                    && a.risk <= b.risk
                    && (a.cost_usd < b.cost_usd || a.risk < b.risk)
            };
            let mut expected: Vec<usize> = vec![];
            for pass in [true, false] {
                let mut left: Vec<usize> = (0..trials.len()).filter(|&i| trials[i].pass == pass).collect();
                while expected.len() < keep && !left.is_empty() {
                    let (mut front, rest): (Vec<usize>, Vec<usize>) = left.iter().partition(|&&a| {
                        !left.iter().any(|&b| b != a && dominates(&trials[b], &trials[a]))
                    });
                    front.sort_by(|&a, &b| trials[a].cost_usd.total_cmp(&trials[b].cost_usd).then(a.cmp(&b)));
                    let room = keep - expected.len();
                    expected.extend(front.into_iter().take(room));
                    left = rest;
                }
            }
            expected.sort_unstable();
            proptest::prop_assert_eq!(halving_keep(&trials, eta), expected);
        }
    }

    #[test]
    fn a_sample_is_the_same_for_a_seed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.yaml");
        std::fs::write(
            &f,
            "apiVersion: kscale.io/v1alpha1\nkind: Tuning\nmetadata: {name: t}\nspec:\n  knobs:\n    - {target: hpa/web, path: spec.minReplicas, range: {from: 1, to: 100, step: 1}}\n    - {target: hpa/web, path: spec.maxReplicas, range: {from: 1, to: 200, step: 1}}\n  search: {method: halving, sample: 50}\n",
        )
        .unwrap();
        let t = Tuning::load(&f).unwrap();
        assert_eq!(t.search, Search::Halving { eta: 3, rounds: 3 });
        let a = t.searched(7);
        assert_eq!(a.len(), 50);
        assert!(a.windows(2).all(|w| w[0] < w[1]) && a[49] < 20_000);
        assert_eq!(a, t.searched(7));
        assert_ne!(a, t.searched(8));
        for (search, expected) in [
            ("{method: random}", "method \"random\""),
            ("{method: halving, eta: 1}", "eta 1"),
            ("{method: halving, rounds: 9}", "rounds 9"),
            ("{method: halving, sample: 0}", "sample 0"),
            ("{method: exhaustive, eta: 3}", "for method: halving"),
            // 20,000 configurations: too many to run every one exhaustively.
            ("{method: exhaustive}", "too many configurations: 20000"),
        ] {
            let text = std::fs::read_to_string(&f)
                .unwrap()
                .replace("{method: halving, sample: 50}", search);
            std::fs::write(&f, text).unwrap();
            let e = Tuning::load(&f).unwrap_err();
            assert!(e.to_string().contains(expected), "{search}: {e}");
            let text = std::fs::read_to_string(&f)
                .unwrap()
                .replace(search, "{method: halving, sample: 50}");
            std::fs::write(&f, text).unwrap();
        }
    }
}
