//! `kscale tune`: the cheapest configuration of some manifest fields that meets every SLO,
//! found by running every configuration (in parallel across cores).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use kscale_twin::error::InputError;
use kscale_twin::scenario::Scenario;
use kscale_twin::tune::{self, RunResult, TargetObject, Trial, Tuning};
use rayon::prelude::*;
use serde_json::{Value, json};

/// Exit code when no configuration passes.
const EXIT_NONE_PASSES: u8 = 3;

/// Rows of the ranked table printed.
const TABLE_ROWS: usize = 20;

/// Options of `kscale tune`.
pub struct Options<'a> {
    /// The scenario.
    pub scenario: &'a Path,
    /// The tuning file.
    pub tuning: &'a Path,
    /// Output directory.
    pub out: Option<PathBuf>,
}

fn input_error(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}

/// Runs the search, prints the ranking and writes `tune.json`, `recommended/` and
/// `recommended.diff`.
pub fn run(o: Options) -> ExitCode {
    let tuning = match Tuning::load(o.tuning) {
        Ok(t) => t,
        Err(e) => return input_error(e),
    };
    let scenario = match Scenario::load(o.scenario) {
        Ok(s) => s,
        Err(e) => return input_error(e),
    };
    if scenario.slos.is_empty() {
        return input_error(format!(
            "{}: kscale tune needs spec.slos in the scenario to decide what passes",
            o.scenario.display()
        ));
    }
    let targets = match tuning.check(&scenario) {
        Ok(t) => t,
        Err(e) => return input_error(e),
    };
    let rates = match tuning.trace_rates() {
        Ok(r) => r,
        Err(e) => return input_error(e),
    };
    // The scenario as given must build (a bad manifest is one error, not one per trial).
    if let Err(e) = kscale_twin::sim::Sim::new(std::sync::Arc::new(scenario.clone())) {
        return input_error(e);
    }
    let configs = tuning.configurations();
    let runs_per = 1 + rates.len();
    let total = configs * runs_per;
    println!(
        "tuning {}: {configs} configurations x {runs_per} run{} of {} = {total} runs",
        tuning.name,
        if runs_per == 1 { "" } else { "s" },
        scenario.name()
    );
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("CI").is_none()
    {
        let b = ProgressBar::new(total as u64);
        b.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} runs {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    // Run r of configuration c is job c * runs_per + r: the results come back in that order.
    let results: Vec<Result<RunResult, InputError>> = (0..total)
        .into_par_iter()
        .map(|job| {
            let (c, r) = (job / runs_per, job % runs_per);
            let rate = r.checked_sub(1).map(|t| &rates[t]);
            let res = tune::run_trial(&scenario, tuning.overrides(c), rate);
            bar.inc(1);
            res
        })
        .collect();
    bar.finish_and_clear();
    let trials: Vec<Trial> = results
        .chunks(runs_per)
        .enumerate()
        .map(|(i, runs)| Trial::from_runs(i, runs))
        .collect();
    let best = tune::recommend(&trials);
    let pareto = tune::pareto(&trials);
    print_table(&tuning, &trials, best);
    let dir = o
        .out
        .unwrap_or_else(|| PathBuf::from("kscale-out").join(format!("tune-{}", tuning.name)));
    let doc = tune_json(
        &tuning, &scenario, &trials, best, &pareto, &results, runs_per,
    );
    let files = match best {
        Some(b) => recommended_files(&tuning, &targets, b),
        None => vec![],
    };
    if let Err(e) = write_dir(&dir, &doc, &files) {
        eprintln!("error: --out {}: {e}", dir.display());
        return ExitCode::from(1);
    }
    println!("output: {}", dir.display());
    match best {
        Some(_) => ExitCode::SUCCESS,
        None => ExitCode::from(EXIT_NONE_PASSES),
    }
}

/// The value of knob `k` in configuration `index`.
fn value(tuning: &Tuning, index: usize, k: usize) -> &Value {
    &tuning.knobs[k].values[tuning.configuration(index)[k]]
}

/// A short header for a knob's column: its last key.
fn header(k: &tune::Knob) -> String {
    k.path
        .iter()
        .rev()
        .find_map(|p| match p {
            tune::PathSegment::Key(k) => Some(k.clone()),
            tune::PathSegment::Index(_) => None,
        })
        .unwrap_or_else(|| k.path_text.clone())
}

fn print_table(tuning: &Tuning, trials: &[Trial], best: Option<usize>) {
    let mut order: Vec<&Trial> = trials.iter().collect();
    order.sort_by(|a, b| {
        b.pass
            .cmp(&a.pass)
            .then(a.cost_usd.total_cmp(&b.cost_usd))
            .then(a.violation_seconds.total_cmp(&b.violation_seconds))
            .then(a.index.cmp(&b.index))
    });
    let heads: Vec<String> = tuning.knobs.iter().map(header).collect();
    let widths: Vec<usize> = tuning
        .knobs
        .iter()
        .zip(&heads)
        .map(|(k, h)| {
            k.values
                .iter()
                .map(|v| v.to_string().len())
                .chain([h.len()])
                .max()
                .unwrap_or(1)
        })
        .collect();
    let mut line = format!("{:>4}  {:>6}", "rank", "config");
    for (h, w) in heads.iter().zip(&widths) {
        line.push_str(&format!("  {h:>w$}"));
    }
    line.push_str(&format!(
        "  {:>10}  {:>4}  {:>13}  failed SLOs",
        "cost (USD)", "SLOs", "violation (s)"
    ));
    println!("{line}");
    for (rank, t) in order.iter().take(TABLE_ROWS).enumerate() {
        let mut line = format!("{:>4}  {:>6}", rank + 1, t.index);
        for (k, w) in widths.iter().enumerate() {
            line.push_str(&format!("  {:>w$}", value(tuning, t.index, k).to_string()));
        }
        let failed = match &t.error {
            Some(e) => format!("error: {e}"),
            None if t.failed_slos.is_empty() => "-".into(),
            None => t.failed_slos.join(", "),
        };
        line.push_str(&format!(
            "  {:>10.3}  {:>4}  {:>13.1}  {failed}",
            t.cost_usd,
            if t.pass { "pass" } else { "FAIL" },
            t.violation_seconds
        ));
        if Some(t.index) == best {
            line.push_str("  <- recommended");
        }
        println!("{line}");
    }
    if order.len() > TABLE_ROWS {
        println!("({} more in tune.json)", order.len() - TABLE_ROWS);
    }
    match best {
        Some(b) => {
            println!(
                "recommended: configuration {b} (cost {:.3} USD, every SLO met on every run)",
                trials[b].cost_usd
            );
            for (k, knob) in tuning.knobs.iter().enumerate() {
                println!(
                    "  {} {}: {}",
                    knob.target,
                    knob.path_text,
                    value(tuning, b, k)
                );
            }
        }
        None => println!("no configuration meets every SLO"),
    }
}

#[allow(clippy::too_many_arguments)]
fn tune_json(
    tuning: &Tuning,
    scenario: &Scenario,
    trials: &[Trial],
    best: Option<usize>,
    pareto: &[usize],
    results: &[Result<RunResult, InputError>],
    runs_per: usize,
) -> Value {
    let knobs: Vec<Value> = tuning
        .knobs
        .iter()
        .map(|k| json!({"target": k.target, "path": k.path_text, "values": k.values}))
        .collect();
    let recommended = best.map(|b| {
        tuning
            .knobs
            .iter()
            .enumerate()
            .map(|(k, knob)| {
                json!({"target": knob.target, "path": knob.path_text, "value": value(tuning, b, k)})
            })
            .collect::<Vec<_>>()
    });
    let trace_names: Vec<Option<&String>> = std::iter::once(None)
        .chain(tuning.trace_texts.iter().map(Some))
        .collect();
    let rows: Vec<Value> = trials
        .iter()
        .map(|t| {
            let runs: Vec<Value> = results[t.index * runs_per..(t.index + 1) * runs_per]
                .iter()
                .zip(&trace_names)
                .map(|(r, trace)| match r {
                    Ok(r) => json!({
                        "trace": trace,
                        "costUsd": (r.cost_usd * 1000.0).round() / 1000.0,
                        "pass": r.slos.iter().all(|s| s.pass),
                        "failedSlos": r.slos.iter().filter(|s| !s.pass).map(|s| &s.name).collect::<Vec<_>>(),
                        "sloViolationSeconds": r.slos.iter().map(|s| (s.name.clone(), json!((s.violation_seconds * 1000.0).round() / 1000.0))).collect::<serde_json::Map<_, _>>(),
                    }),
                    Err(e) => json!({"trace": trace, "error": e.to_string()}),
                })
                .collect();
            let mut v = json!({
                "index": t.index,
                "values": (0..tuning.knobs.len()).map(|k| value(tuning, t.index, k)).collect::<Vec<_>>(),
                "costUsd": t.cost_usd,
                "pass": t.pass,
                "failedSlos": t.failed_slos,
                "violationSeconds": t.violation_seconds,
                "runs": runs,
            });
            if let Some(e) = &t.error {
                v["error"] = json!(e);
            }
            v
        })
        .collect();
    json!({
        "tuning": tuning.name,
        "scenario": scenario.name(),
        "knobs": knobs,
        "traces": tuning.trace_texts,
        "configurations": trials.len(),
        "recommended": recommended,
        "recommendedIndex": best,
        "pareto": pareto,
        "trials": rows,
    })
}

/// The recommended configuration's changed objects (`KIND-NAME.yaml`, as written in the
/// manifests with the knobs' values) and `recommended.diff`.
fn recommended_files(
    tuning: &Tuning,
    targets: &[TargetObject],
    best: usize,
) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = vec![];
    let mut diff = String::new();
    let mut objects: Vec<(String, String, Value)> = vec![]; // (file name, header, object)
    for (k, (knob, target)) in tuning.knobs.iter().zip(targets).enumerate() {
        let new = value(tuning, best, k);
        let old = target.original.clone();
        let header = format!(
            "--- {} ({})\n+++ {} (recommended)\n",
            knob.target,
            target.file.display(),
            knob.target
        );
        diff.push_str(&header);
        match &old {
            Some(o) if o == new => {
                diff.push_str(&format!("  {}: {o} (unchanged)\n", knob.path_text));
                continue;
            }
            Some(o) => diff.push_str(&format!("- {}: {o}\n", knob.path_text)),
            None => diff.push_str(&format!("- {}: (not set)\n", knob.path_text)),
        }
        diff.push_str(&format!("+ {}: {new}\n", knob.path_text));
        let name = format!("{}-{}.yaml", knob.kind.to_ascii_lowercase(), knob.name);
        let slot = match objects.iter().position(|(n, _, _)| *n == name) {
            Some(i) => i,
            None => {
                objects.push((name, knob.target.clone(), target.raw.clone()));
                objects.len() - 1
            }
        };
        // The object as written, unless the path is only in its canonical form.
        let obj = &mut objects[slot].2;
        if tune::set_path(obj, &knob.path, new.clone()).is_err() {
            let mut canon = target.object.clone();
            let _ = tune::set_path(&mut canon, &knob.path, new.clone());
            *obj = canon;
        }
    }
    for (name, target, obj) in objects {
        files.push((
            format!("recommended/{name}"),
            format!(
                "# {target} with kscale tune {}'s recommendation\n{}",
                tuning.name,
                kscale_twin::yaml::to_string(&obj)
            ),
        ));
    }
    files.push(("recommended.diff".into(), diff));
    files
}

/// Writes `tune.json` and `files` into `dir` through a staging directory next to it, moved
/// into place when complete. An existing `dir` is replaced only if it is empty or an earlier
/// kscale output (it holds kscale's marker file).
fn write_dir(dir: &Path, doc: &Value, files: &[(String, String)]) -> Result<(), String> {
    let name = dir
        .file_name()
        .ok_or("the path does not end in a directory name")?
        .to_string_lossy()
        .to_string();
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let target = parent.join(&name);
    if let Ok(meta) = std::fs::symlink_metadata(&target) {
        if !meta.is_dir() {
            return Err("exists and is not a directory".into());
        }
        let empty = std::fs::read_dir(&target)
            .map_err(|e| e.to_string())?
            .next()
            .is_none();
        if !empty && !target.join(kscale_report::MARKER).is_file() {
            return Err(format!(
                "exists and was not written by kscale (no {} file): refusing to replace it",
                kscale_report::MARKER
            ));
        }
    }
    std::fs::create_dir_all(&parent).map_err(|e| e.to_string())?;
    let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(staging.join("recommended"))?;
        std::fs::write(
            staging.join(kscale_report::MARKER),
            "This directory was written by kscale; a later run into it replaces it.\n",
        )?;
        let mut text = serde_json::to_string_pretty(doc).map_err(std::io::Error::other)?;
        text.push('\n');
        std::fs::write(staging.join("tune.json"), text)?;
        for (f, text) in files {
            std::fs::write(staging.join(f), text)?;
        }
        // The earlier output moves aside first, so the new one appears whole.
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        let had = target.exists();
        if had {
            let _ = std::fs::remove_dir_all(&old);
            std::fs::rename(&target, &old)?;
        }
        if let Err(e) = std::fs::rename(&staging, &target) {
            if had {
                let _ = std::fs::rename(&old, &target);
            }
            return Err(e);
        }
        if had {
            let _ = std::fs::remove_dir_all(&old);
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_dir_all(&staging);
        e.to_string()
    })
}
