//! `kscale tune`: the cheapest configuration of some manifest fields that meets every SLO,
//! found by running every configuration (in parallel across cores).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use kscale_twin::error::InputError;
use kscale_twin::scenario::Scenario;
use kscale_twin::tune::{self, RunResult, Search, TargetObject, Trial, Tuning};
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
    /// `--shard I/N`: evaluate only configurations `c` with `c % N == I` and write
    /// `shard-I-of-N.json` (I from `JOB_COMPLETION_INDEX` when given as `N`).
    pub shard: Option<String>,
    /// `--emit-job N`: write the Indexed Job of N shards and the ConfigMap of its inputs
    /// instead of searching.
    pub emit_job: Option<usize>,
    /// The image of the Job's container.
    pub image: String,
}

/// One configuration's runs (the scenario's load, then each tuning trace): its result, or
/// the error that stopped it.
type Runs = Vec<Result<RunResult, String>>;

/// The version of the shard file format.
const SHARD_FORMAT: u64 = 1;

/// Parses `--shard I/N` (or `N`, with I from `JOB_COMPLETION_INDEX`, the index a Kubernetes
/// Indexed Job gives each pod).
fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = match s.split_once('/') {
        Some((i, n)) => (i.to_string(), n),
        None => (
            std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
                format!("--shard {s:?}: give I/N, or N with JOB_COMPLETION_INDEX set (an Indexed Job sets it)")
            })?,
            s,
        ),
    };
    let n: usize = n
        .trim()
        .parse()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| format!("--shard {s:?}: N must be a whole number of at least 1"))?;
    let i: usize = i.trim().parse().ok().filter(|i| *i < n).ok_or_else(|| {
        format!(
            "--shard {s:?}: I must be a whole number from 0 to {}",
            n - 1
        )
    })?;
    Ok((i, n))
}

/// The inputs of a search, checked.
struct Prepared {
    tuning: Tuning,
    scenario: Scenario,
    targets: Vec<TargetObject>,
    rates: Vec<kscale_twin::scenario::Rate>,
}

/// Loads and checks the scenario and the tuning file.
fn prepare(scenario_path: &Path, tuning_path: &Path) -> Result<Prepared, ExitCode> {
    let tuning = Tuning::load(tuning_path).map_err(input_error)?;
    let scenario = Scenario::load(scenario_path).map_err(input_error)?;
    if scenario.slos.is_empty() {
        return Err(input_error(format!(
            "{}: kscale tune needs spec.slos in the scenario to decide what passes",
            scenario_path.display()
        )));
    }
    let targets = tuning.check(&scenario).map_err(input_error)?;
    let rates = tuning.trace_rates().map_err(input_error)?;
    // The scenario as given must build (a bad manifest is one error, not one per trial).
    kscale_twin::sim::Sim::new(std::sync::Arc::new(scenario.clone())).map_err(input_error)?;
    Ok(Prepared {
        tuning,
        scenario,
        targets,
        rates,
    })
}

/// Runs the given configurations (in parallel) on `scenario` (the scenario, or a shorter one
/// in a halving round), each on its load and each trace.
fn evaluate(p: &Prepared, scenario: &Scenario, configs: &[usize]) -> Vec<Runs> {
    let sets: Vec<Config> = configs
        .iter()
        .map(|&c| (p.tuning.overrides(c), p.tuning.scenario_sets(c)))
        .collect();
    evaluate_sets(p, scenario, &sets)
}

/// What a configuration changes: fields of manifest objects, and of the scenario (`(path,
/// value as YAML)`, as `kscale run --set` takes them).
type Config = (Vec<tune::ObjectOverride>, Vec<(String, String)>);

/// `scenario` with the scenario fields of `sets` (read again from its file), its duration
/// kept (a halving round's).
fn with_sets(scenario: &Scenario, sets: &[(String, String)]) -> Result<Scenario, InputError> {
    if sets.is_empty() {
        return Ok(scenario.clone());
    }
    let mut s = Scenario::load_with_sets(&scenario.path, sets)?;
    s.doc.spec.duration = scenario.doc.spec.duration;
    Ok(s)
}

/// Runs each configuration (in parallel) on `scenario`, on its load and each trace.
fn evaluate_sets(p: &Prepared, scenario: &Scenario, sets: &[Config]) -> Vec<Runs> {
    let runs_per = 1 + p.rates.len();
    let total = sets.len() * runs_per;
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
    // Run r of the j-th configuration is job j * runs_per + r: results come back in order.
    let results: Vec<Result<RunResult, String>> = (0..total)
        .into_par_iter()
        .map(|job| {
            let (j, r) = (job / runs_per, job % runs_per);
            let rate = r.checked_sub(1).map(|t| &p.rates[t]);
            let res = with_sets(scenario, &sets[j].1)
                .and_then(|s| tune::run_trial(&s, sets[j].0.clone(), rate))
                .map_err(|e: InputError| e.to_string());
            bar.inc(1);
            res
        })
        .collect();
    bar.finish_and_clear();
    results.chunks(runs_per).map(<[_]>::to_vec).collect()
}

fn input_error(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}

/// Runs the search, prints the ranking and writes `tune.json`, `recommended/` and
/// `recommended.diff` (or, with `--shard`, this shard's results).
pub fn run(o: Options) -> ExitCode {
    let shard = match o.shard.as_deref().map(parse_shard).transpose() {
        Ok(s) => s,
        Err(e) => return input_error(e),
    };
    let p = match prepare(o.scenario, o.tuning) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Some(n) = o.emit_job {
        if p.tuning.search != Search::Exhaustive || p.tuning.sample.is_some() {
            return input_error(format!(
                "{}: --emit-job shards an exhaustive search of every configuration; remove spec.search to emit a Job",
                p.tuning.path.display()
            ));
        }
        return emit_job(&p, o.scenario, n, &o.image, o.out.as_deref());
    }
    let to_stdout = o.out.as_deref() == Some(Path::new("-"));
    let configs = p.tuning.configurations();
    let runs_per = 1 + p.rates.len();
    if shard.is_some() && (p.tuning.search != Search::Exhaustive || p.tuning.sample.is_some()) {
        return input_error(format!(
            "{}: --shard splits an exhaustive search of every configuration; remove spec.search to shard",
            p.tuning.path.display()
        ));
    }
    let searched = p.tuning.searched(p.scenario.seed());
    let mine: Vec<usize> = match shard {
        Some((i, n)) => (0..configs).filter(|c| c % n == i).collect(),
        None => searched,
    };
    let header = format!(
        "tuning {}: {} configurations x {runs_per} run{} of {} = {} runs{}",
        p.tuning.name,
        mine.len(),
        if runs_per == 1 { "" } else { "s" },
        p.scenario.name(),
        mine.len() * runs_per,
        shard.map_or(String::new(), |(i, n)| format!(
            " (shard {i} of {n}; {configs} configurations in all)"
        )),
    );
    if to_stdout {
        eprintln!("{header}");
    } else {
        println!("{header}");
    }
    if to_stdout && shard.is_none() {
        return input_error("--out - (standard output) is for --shard only");
    }
    let dir = o
        .out
        .unwrap_or_else(|| PathBuf::from("kscale-out").join(format!("tune-{}", p.tuning.name)));
    if let Search::Halving { eta, rounds } = p.tuning.search {
        return halving(&p, mine, eta, rounds, &dir);
    }
    let results = evaluate(&p, &p.scenario, &mine);
    if let Some((i, n)) = shard {
        let doc = json!({
            "kscaleTuneShard": SHARD_FORMAT,
            "tuning": p.tuning.name,
            "scenario": p.scenario.name(),
            "scenarioPath": o.scenario.display().to_string(),
            "tuningPath": o.tuning.display().to_string(),
            "configurations": configs,
            "runsPerConfiguration": runs_per,
            "shard": {"index": i, "count": n},
            "results": mine.iter().zip(&results).map(|(c, runs)| json!({
                "configuration": c,
                "runs": runs.iter().map(|r| match r {
                    Ok(r) => json!({"result": r}),
                    Err(e) => json!({"error": e}),
                }).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
        if to_stdout {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        let file = dir.join(format!("shard-{i}-of-{n}.json"));
        let written = std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&file, text));
        if let Err(e) = written {
            eprintln!("error: --out {}: {e}", dir.display());
            return ExitCode::from(1);
        }
        println!("output: {}", file.display());
        return ExitCode::SUCCESS;
    }
    finish(&p, &mine, &results, &dir, None)
}

/// Successive halving over the scenario's length ([`Search::Halving`]): each round runs its
/// candidates over a longer part of the scenario and keeps the best `1/eta`; the last round
/// runs the whole scenario and is ranked as an exhaustive search is.
fn halving(
    p: &Prepared,
    mut candidates: Vec<usize>,
    eta: u32,
    rounds: u32,
    dir: &Path,
) -> ExitCode {
    let duration = p.scenario.doc.spec.duration.0;
    let warm_up = p.scenario.slos.iter().map(|o| o.from_ms).max().unwrap_or(0);
    let durations = tune::halving_durations(duration, warm_up, eta, rounds);
    let mut log = vec![];
    let mut pruned = vec![];
    for (r, &d) in durations.iter().enumerate() {
        let last = r + 1 == durations.len();
        println!(
            "round {}: {} configurations over {}{}",
            r + 1,
            candidates.len(),
            kscale_model::duration::format_duration(d),
            if last { " (the whole scenario)" } else { "" }
        );
        log.push(json!({"round": r + 1, "durationSeconds": d as f64 / 1000.0, "configurations": candidates.len()}));
        if last {
            let results = evaluate(p, &p.scenario, &candidates);
            let search = json!({
                "method": "halving", "eta": eta, "rounds": log,
                "sampled": p.tuning.sample, "pruned": pruned,
            });
            return finish(p, &candidates, &results, dir, Some(search));
        }
        let mut short = p.scenario.clone();
        short.doc.spec.duration = kscale_twin::scenario::DurationField(d);
        let results = evaluate(p, &short, &candidates);
        let trials: Vec<Trial> = candidates
            .iter()
            .zip(&results)
            .map(|(&c, runs)| Trial::from_runs(c, runs))
            .collect();
        let keep = tune::halving_keep(&trials, eta);
        for (pos, t) in trials.iter().enumerate() {
            if !keep.contains(&pos) {
                pruned.push(json!({
                    "index": t.index, "round": r + 1,
                    "values": (0..p.tuning.knobs.len()).map(|k| value(&p.tuning, t.index, k)).collect::<Vec<_>>(),
                    "costUsd": t.cost_usd, "pass": t.pass, "violationSeconds": t.violation_seconds,
                }));
            }
        }
        candidates = keep.into_iter().map(|pos| candidates[pos]).collect();
    }
    unreachable!("the last round returns")
}

/// Ranks the trials of the configurations `configs` (`results[i]` are `configs[i]`'s runs),
/// prints the table and writes the output directory (with `search`, how a halving search got
/// there); exit 0 when one passes, 3 when none does.
fn finish(
    p: &Prepared,
    configs: &[usize],
    results: &[Runs],
    dir: &Path,
    search: Option<Value>,
) -> ExitCode {
    // A knob none of whose values changed any run is a mistake (a path the twin does not
    // read, an object nothing uses): refuse rather than rank look-alike configurations. Only
    // an exhaustive search has every neighbour to compare with.
    let exhaustive = configs.len() == p.tuning.configurations();
    let unchanged = if exhaustive {
        tune::unchanged_knobs(&p.tuning, results)
    } else {
        vec![]
    };
    if !unchanged.is_empty() {
        for k in &unchanged {
            let knob = &p.tuning.knobs[*k];
            eprintln!(
                "error: {}: spec.knobs[{k}] ({} {}) changes nothing: its {} values gave identical runs in every configuration (same events, steps and summary); check its target and path",
                p.tuning.path.display(),
                knob.target,
                knob.path_text,
                knob.values.len()
            );
        }
        return ExitCode::from(2);
    }
    let trials: Vec<Trial> = configs
        .iter()
        .zip(results)
        .map(|(&c, runs)| Trial::from_runs(c, runs))
        .collect();
    // `recommend` gives a position in `trials`; `best` is the configuration's index.
    let best_pos = tune::recommend(&trials);
    let best = best_pos.map(|b| trials[b].index);
    let pareto = tune::pareto(&trials);
    print_table(&p.tuning, &trials, best);
    let comparison = compare_with_baselines(p, results, best_pos);
    let mut doc = tune_json(&p.tuning, &p.scenario, &trials, best, &pareto, results);
    doc["comparison"] = json!(comparison.rows);
    doc["versusBaselines"] = json!(comparison.versus);
    if let Some(search) = search {
        // A halving search ran every candidate of its first round.
        if let Some(first) = search["rounds"].get(0) {
            doc["searched"] = first["configurations"].clone();
        }
        doc["search"] = search;
    }
    let mut files = match best {
        Some(b) => recommended_files(&p.tuning, &p.targets, b),
        None => vec![],
    };
    files.push((
        "report.html".to_string(),
        report_html(
            &p.tuning,
            p.scenario.name(),
            &trials,
            best,
            &pareto,
            &comparison,
        ),
    ));
    if let Err(e) = write_dir(dir, &doc, &files) {
        eprintln!("error: --out {}: {e}", dir.display());
        return ExitCode::from(1);
    }
    if let Some(b) = best
        && let Err(e) = side_by_side(p, b, dir)
    {
        eprintln!("error: --out {}: {e}", dir.display());
        return ExitCode::from(1);
    }
    println!("output: {}", dir.display());
    match best {
        Some(_) => ExitCode::SUCCESS,
        None => ExitCode::from(EXIT_NONE_PASSES),
    }
}

/// Runs the manifests as written and the recommendation `best` as `kscale run` does (every
/// output, in `DIR/runs/original` and `DIR/runs/recommended`), and compares them as `kscale
/// compare` does (`DIR/compare`: the verdicts as a table, the same charts overlaid).
fn side_by_side(p: &Prepared, best: usize, dir: &Path) -> Result<(), String> {
    let runs = dir.join("runs");
    let recommended = kscale_twin::run::RunOverrides {
        seed: None,
        scenario: p.tuning.scenario_sets(best),
        objects: p.tuning.overrides(best),
    };
    for (name, overrides) in [
        ("original", kscale_twin::run::RunOverrides::default()),
        ("recommended", recommended),
    ] {
        let out = runs.join(name);
        crate::run(
            &p.scenario.path,
            Some(out.clone()),
            true,
            kscale_report::WriteOptions::default(),
            crate::RunFlags::default(),
            &overrides,
        );
        if !out.join("summary.json").is_file() {
            return Err(format!(
                "the {name} run wrote no outputs in {}",
                out.display()
            ));
        }
    }
    println!("side by side, the manifests as written and the recommendation:");
    crate::compare::run(crate::compare::Options {
        runs: vec![runs.join("original"), runs.join("recommended")],
        out: Some(dir.join("compare")),
    });
    Ok(())
}

/// The recommendation side by side with the manifests as written and the baselines.
struct Comparison {
    /// `original`, each baseline, then `recommended` (when one passes).
    rows: Vec<tune::ComparisonRow>,
    /// The recommendation against the baselines (with baselines and a recommendation).
    versus: Option<tune::VersusBaselines>,
}

/// Runs the manifests as written and each baseline on every trace, and prints them beside the
/// recommendation (whose runs are `results[best]`).
fn compare_with_baselines(p: &Prepared, results: &[Runs], best: Option<usize>) -> Comparison {
    let mut sets: Vec<Config> = vec![(vec![], vec![])];
    sets.extend(
        p.tuning
            .baselines
            .iter()
            .map(|b| (b.overrides(), b.scenario_sets())),
    );
    let runs = evaluate_sets(p, &p.scenario, &sets);
    let mut rows: Vec<tune::ComparisonRow> = std::iter::once("original")
        .chain(p.tuning.baselines.iter().map(|b| b.name.as_str()))
        .zip(&runs)
        .map(|(name, runs)| tune::ComparisonRow::from_runs(name, runs))
        .collect();
    let versus = best.and_then(|b| {
        let rec = tune::ComparisonRow::from_runs("recommended", &results[b]);
        let versus = tune::versus_baselines(&rec, &rows[1..]);
        rows.push(rec);
        versus
    });
    print_comparison(&rows, versus.as_ref());
    Comparison { rows, versus }
}

/// How the recommendation (the last row) fares, in words.
fn versus_words(rec: Option<&tune::ComparisonRow>, v: &tune::VersusBaselines) -> String {
    match rec {
        _ if v.zero_violation => "every SLO met with no violation".to_string(),
        Some(r) if r.pass => format!(
            "every SLO met, {:.1} min of violation within their bounds",
            r.violation_minutes
        ),
        _ => "SLOs failed".to_string(),
    }
}

fn print_comparison(rows: &[tune::ComparisonRow], versus: Option<&tune::VersusBaselines>) {
    let name_w = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max(13);
    println!(
        "{:<name_w$}  {:>10}  {:>4}  {:>15}  {:>15}  {:>16}  failed SLOs",
        "configuration",
        "cost (USD)",
        "SLOs",
        "violation (min)",
        "failed requests",
        "p99 latency (ms)"
    );
    for r in rows {
        println!(
            "{:<name_w$}  {:>10.3}  {:>4}  {:>15.1}  {:>14.3}%  {:>16}  {}",
            r.name,
            r.cost_usd,
            if r.pass { "pass" } else { "fail" },
            r.violation_minutes,
            r.failed_requests_percent,
            r.latency_p99_ms
                .map_or("-".to_string(), |l| format!("{l:.0}")),
            match &r.error {
                Some(e) => format!("error: {e}"),
                None if r.failed_slos.is_empty() => "-".to_string(),
                None => r.failed_slos.join(", "),
            }
        );
    }
    if let Some(v) = versus {
        println!(
            "versus baselines: {} at {:.0}% of the cheapest baseline's cost ({}){}",
            versus_words(rows.last(), v),
            v.cost_ratio * 100.0,
            v.cheapest,
            if v.dominates_all {
                "; no baseline is cheaper or violates less"
            } else {
                ""
            }
        );
    }
}

/// Largest ConfigMap the API server stores (etcd's default request limit is 1.5 MiB; the
/// API server refuses ConfigMaps over 1 MiB of data).
const MAX_CONFIGMAP_BYTES: usize = 1 << 20;

/// The files a search reads, relative to the scenario's folder: the scenario, its manifests,
/// its load traces, the tuning file and its traces.
fn input_files(p: &Prepared, scenario_path: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let base = p.scenario.base_dir.clone();
    let mut files: Vec<PathBuf> = vec![scenario_path.to_path_buf(), p.tuning.path.clone()];
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() {
                walk(&e, out)?;
            } else {
                out.push(e);
            }
        }
        Ok(())
    }
    for m in &p.scenario.manifest_paths {
        if m.is_dir() {
            walk(m, &mut files).map_err(|e| format!("{}: {e}", m.display()))?;
        } else {
            files.push(m.clone());
        }
    }
    for l in &p.scenario.doc.spec.load {
        if let Some(t) = &l.requests_per_second.trace {
            files.push(base.join(t));
        }
    }
    files.extend(p.tuning.traces.iter().cloned());
    let root = std::fs::canonicalize(&base).map_err(|e| format!("{}: {e}", base.display()))?;
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for f in files {
        let abs = std::fs::canonicalize(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        let rel = abs.strip_prefix(&root).map_err(|_| {
            format!(
                "{} is outside the scenario's folder {}: the Job's inputs are mounted relative to it",
                f.display(),
                root.display()
            )
        })?;
        let rel = rel.to_string_lossy().replace('\\', "/");
        if !out.iter().any(|(r, _)| *r == rel) {
            out.push((rel, abs));
        }
    }
    Ok(out)
}

/// `kscale tune --emit-job N`: writes `job.yaml` — a ConfigMap holding the search's inputs
/// and an Indexed Job of N pods, pod I running `kscale tune ... --shard N --out -` (its
/// shard on standard output) — to `--out` (default `kscale-out/tune-<name>-job`).
fn emit_job(
    p: &Prepared,
    scenario_path: &Path,
    n: usize,
    image: &str,
    out: Option<&Path>,
) -> ExitCode {
    if n == 0 {
        return input_error("--emit-job: the number of shards must be at least 1");
    }
    let files = match input_files(p, scenario_path) {
        Ok(f) => f,
        Err(e) => return input_error(format!("--emit-job: {e}")),
    };
    let mut data = serde_json::Map::new();
    let mut items = Vec::new();
    let mut size = 0usize;
    for (i, (rel, abs)) in files.iter().enumerate() {
        let text = match std::fs::read_to_string(abs) {
            Ok(t) => t,
            Err(e) => return input_error(format!("--emit-job: {}: {e}", abs.display())),
        };
        size += text.len();
        let key = format!("f{i}");
        data.insert(key.clone(), Value::String(text));
        items.push(json!({"key": key, "path": rel}));
    }
    if size > MAX_CONFIGMAP_BYTES {
        return input_error(format!(
            "--emit-job: the inputs are {size} bytes; a ConfigMap holds at most {MAX_CONFIGMAP_BYTES}"
        ));
    }
    let dns: String = p
        .tuning
        .name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let name = format!("kscale-tune-{}", dns.trim_matches('-'));
    let name: String = name
        .chars()
        .take(52)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string();
    let rel_of = |p: &Path| -> String {
        files
            .iter()
            .find(|(_, abs)| std::fs::canonicalize(p).ok().as_ref() == Some(abs))
            .map(|(r, _)| r.clone())
            .unwrap_or_default()
    };
    let configmap = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": format!("{name}-inputs"), "labels": {"app.kubernetes.io/name": "kscale-tune", "kscale.io/tuning": dns}},
        "data": data,
    });
    let job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "kscale-tune", "kscale.io/tuning": dns}},
        "spec": {
            "completionMode": "Indexed",
            "completions": n,
            "parallelism": n,
            "backoffLimitPerIndex": 1,
            "maxFailedIndexes": 0,
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "kscale-tune"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "tune",
                        "image": image,
                        "command": ["kscale", "tune", format!("/inputs/{}", rel_of(scenario_path)),
                                    "--tuning", format!("/inputs/{}", rel_of(&p.tuning.path)),
                                    "--shard", n.to_string(), "--out", "-"],
                        "resources": {"requests": {"cpu": "1", "memory": "512Mi"}},
                        "volumeMounts": [{"name": "inputs", "mountPath": "/inputs", "readOnly": true}],
                    }],
                    "volumes": [{"name": "inputs", "configMap": {"name": format!("{name}-inputs"), "items": items}}],
                },
            },
        },
    });
    let text = format!(
        "# kscale tune of {} ({} configurations) as a Kubernetes Indexed Job of {n} shards.\n\
         # Run:     kubectl apply -f job.yaml && kubectl wait --for=condition=complete job/{name} --timeout=1h\n\
         # Collect: for i in $(seq 0 {}); do kubectl logs -l job-name={name},batch.kubernetes.io/job-completion-index=$i > shards/shard-$i-of-{n}.json; done\n\
         # Merge:   kscale tune merge shards --scenario SCENARIO --tuning FILE\n\
         # The image must hold the kscale binary on its PATH (e.g. built with cargo install --path crates/cli).\n---\n{}---\n{}",
        p.scenario.name(),
        p.tuning.configurations(),
        n - 1,
        kscale_kubectl::to_yaml(&configmap),
        kscale_kubectl::to_yaml(&job)
    );
    let dir = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("kscale-out").join(format!("tune-{}-job", p.tuning.name)));
    if let Err(e) =
        std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(dir.join("job.yaml"), text))
    {
        eprintln!("error: --out {}: {e}", dir.display());
        return ExitCode::from(1);
    }
    println!("{}", dir.join("job.yaml").display());
    ExitCode::SUCCESS
}

/// Options of `kscale tune merge`.
pub struct MergeOptions {
    /// Shard files, or directories holding `shard-*.json`.
    pub inputs: Vec<PathBuf>,
    /// The scenario (default: the path the shards recorded).
    pub scenario: Option<PathBuf>,
    /// The tuning file (default: the path the shards recorded).
    pub tuning: Option<PathBuf>,
    /// Output directory.
    pub out: Option<PathBuf>,
}

/// `kscale tune merge`: combines the shards of one search into the result one machine would
/// have written (the same tune.json, byte for byte). Every shard must be there exactly once.
pub fn merge(o: MergeOptions) -> ExitCode {
    let mut files = Vec::new();
    for p in &o.inputs {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = match std::fs::read_dir(p) {
                Ok(d) => d
                    .flatten()
                    .map(|e| e.path())
                    .filter(|f| {
                        f.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("shard-") && n.ends_with(".json"))
                    })
                    .collect(),
                Err(e) => return input_error(format!("{}: {e}", p.display())),
            };
            if found.is_empty() {
                return input_error(format!("{}: holds no shard-*.json", p.display()));
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    let mut shards: Vec<(PathBuf, Value)> = Vec::new();
    for f in files {
        let v: Value = match std::fs::read_to_string(&f)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(v) => v,
            Err(e) => return input_error(format!("{}: {e}", f.display())),
        };
        if v.get("kscaleTuneShard").and_then(Value::as_u64) != Some(SHARD_FORMAT) {
            return input_error(format!(
                "{}: not a kscale tune shard (kscaleTuneShard {SHARD_FORMAT})",
                f.display()
            ));
        }
        shards.push((f, v));
    }
    let first = &shards[0].1;
    let field = |v: &Value, k: &str| v.get(k).cloned().unwrap_or(Value::Null);
    for (f, v) in &shards[1..] {
        for k in [
            "tuning",
            "scenario",
            "configurations",
            "runsPerConfiguration",
        ] {
            if field(v, k) != field(first, k) {
                return input_error(format!(
                    "{}: {k} {} differs from {}'s {}: shards of another search",
                    f.display(),
                    field(v, k),
                    shards[0].0.display(),
                    field(first, k)
                ));
            }
        }
        if v.pointer("/shard/count") != first.pointer("/shard/count") {
            return input_error(format!("{}: another shard count", f.display()));
        }
    }
    let count = first
        .pointer("/shard/count")
        .and_then(Value::as_u64)
        .unwrap_or(0) as usize;
    let mut seen = vec![false; count];
    for (f, v) in &shards {
        let i = v
            .pointer("/shard/index")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX) as usize;
        if i >= count || std::mem::replace(&mut seen[i], true) {
            return input_error(format!(
                "{}: shard {i} of {count} twice or out of range",
                f.display()
            ));
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| !seen[*i])
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() {
        return input_error(format!(
            "shards missing: {} of {count} (run kscale tune --shard I/{count} for each)",
            missing.join(", ")
        ));
    }
    let path_of = |given: &Option<PathBuf>, k: &str| {
        given
            .clone()
            .unwrap_or_else(|| PathBuf::from(first.get(k).and_then(Value::as_str).unwrap_or("")))
    };
    let (scenario_path, tuning_path) = (
        path_of(&o.scenario, "scenarioPath"),
        path_of(&o.tuning, "tuningPath"),
    );
    let p = match prepare(&scenario_path, &tuning_path) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let configs = p.tuning.configurations();
    if field(first, "configurations") != json!(configs) || p.tuning.name != field(first, "tuning") {
        return input_error(format!(
            "{}: the tuning file does not describe the search the shards ran ({} configurations of {})",
            tuning_path.display(),
            field(first, "configurations"),
            field(first, "tuning")
        ));
    }
    let mut results: Vec<Option<Runs>> = vec![None; configs];
    for (f, v) in &shards {
        for r in v
            .get("results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let c = r
                .get("configuration")
                .and_then(Value::as_u64)
                .unwrap_or(u64::MAX) as usize;
            let runs: Result<Runs, String> = r
                .get("runs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|x| match (x.get("result"), x.get("error")) {
                    (Some(res), _) => serde_json::from_value::<RunResult>(res.clone())
                        .map(Ok)
                        .map_err(|e| e.to_string()),
                    (None, Some(e)) => Ok(Err(e.as_str().unwrap_or("").to_string())),
                    _ => Err("a run without result or error".to_string()),
                })
                .collect();
            match (runs, results.get_mut(c)) {
                (Ok(runs), Some(slot)) if slot.is_none() => *slot = Some(runs),
                (Err(e), _) => {
                    return input_error(format!("{}: configuration {c}: {e}", f.display()));
                }
                _ => {
                    return input_error(format!(
                        "{}: configuration {c} twice or out of range",
                        f.display()
                    ));
                }
            }
        }
    }
    let Some(results) = results.into_iter().collect::<Option<Vec<Runs>>>() else {
        return input_error("the shards do not cover every configuration");
    };
    let dir = o
        .out
        .unwrap_or_else(|| PathBuf::from("kscale-out").join(format!("tune-{}", p.tuning.name)));
    let all: Vec<usize> = (0..results.len()).collect();
    finish(&p, &all, &results, &dir, None)
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

/// The search as a page: the Pareto chart (every configuration by cost and SLO violation,
/// the front joined, passing ones filled, the recommendation ringed) and the ranked table.
fn report_html(
    tuning: &Tuning,
    scenario: &str,
    trials: &[Trial],
    best: Option<usize>,
    pareto: &[usize],
    comparison: &Comparison,
) -> String {
    use crate::diff::html::esc;
    use std::fmt::Write as _;
    let ok: Vec<&Trial> = trials.iter().filter(|t| t.error.is_none()).collect();
    let (w, h, pad) = (820.0, 420.0, 56.0);
    let max_x = ok
        .iter()
        .map(|t| t.cost_usd)
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.05;
    let max_y = ok
        .iter()
        .map(|t| t.violation_seconds)
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.05;
    let x = |v: f64| pad + v / max_x * (w - 2.0 * pad);
    let y = |v: f64| h - pad - v / max_y * (h - 2.0 * pad);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <line x1=\"{pad}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#888\"/><line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{b}\" stroke=\"#888\"/>\n\
         <text x=\"{cx}\" y=\"{tb}\" text-anchor=\"middle\">cost (USD per run)</text>\
         <text x=\"16\" y=\"{cy}\" transform=\"rotate(-90 16 {cy})\" text-anchor=\"middle\">SLO violation (s)</text>\
         <text x=\"{pad}\" y=\"{tl}\" text-anchor=\"middle\">0</text><text x=\"{r}\" y=\"{tl}\" text-anchor=\"middle\">{mx:.3}</text>\
         <text x=\"{l}\" y=\"{pt}\" text-anchor=\"end\">{my:.0}</text><text x=\"{l}\" y=\"{b}\" text-anchor=\"end\">0</text>\n",
        b = h - pad,
        r = w - pad,
        cx = w / 2.0,
        cy = h / 2.0,
        tb = h - 12.0,
        tl = h - pad + 16.0,
        l = pad - 6.0,
        pt = pad + 4.0,
        mx = max_x,
        my = max_y,
    );
    let mut front: Vec<&Trial> = ok
        .iter()
        .copied()
        .filter(|t| pareto.contains(&t.index))
        .collect();
    front.sort_by(|a, b| a.cost_usd.total_cmp(&b.cost_usd));
    let path: Vec<String> = front
        .iter()
        .map(|t| format!("{:.1},{:.1}", x(t.cost_usd), y(t.violation_seconds)))
        .collect();
    if path.len() > 1 {
        let _ = writeln!(
            svg,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\"/>",
            path.join(" ")
        );
    }
    for t in &ok {
        let fill = if t.pass { "#2ca02c" } else { "#ffffff" };
        let stroke = if pareto.contains(&t.index) {
            "#1f77b4"
        } else {
            "#d62728"
        };
        let _ = writeln!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{fill}\" stroke=\"{stroke}\"><title>configuration {}: {:.3} USD, {:.1} s{}</title></circle>",
            x(t.cost_usd),
            y(t.violation_seconds),
            t.index,
            t.cost_usd,
            t.violation_seconds,
            if t.pass { ", every SLO met" } else { "" }
        );
        if Some(t.index) == best {
            let _ = writeln!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"9\" fill=\"none\" stroke=\"#000\" stroke-width=\"1.5\"/>",
                x(t.cost_usd),
                y(t.violation_seconds)
            );
        }
    }
    svg.push_str("</svg>\n");
    let mut order: Vec<&Trial> = trials.iter().collect();
    order.sort_by(|a, b| {
        b.pass
            .cmp(&a.pass)
            .then(a.cost_usd.total_cmp(&b.cost_usd))
            .then(a.violation_seconds.total_cmp(&b.violation_seconds))
            .then(a.index.cmp(&b.index))
    });
    let mut table = String::from("<table>\n<thead><tr><th>rank</th><th>config</th>");
    for k in &tuning.knobs {
        let _ = write!(
            table,
            "<th>{}<br><small>{}</small></th>",
            esc(&header(k)),
            esc(&k.target)
        );
    }
    table.push_str("<th>cost (USD)</th><th>SLOs</th><th>violation (s)</th><th>Pareto</th><th>failed SLOs</th></tr></thead>\n<tbody>\n");
    for (rank, t) in order.iter().enumerate() {
        let mark = if Some(t.index) == best {
            " class=\"best\""
        } else {
            ""
        };
        let _ = write!(table, "<tr{mark}><td>{}</td><td>{}</td>", rank + 1, t.index);
        for k in 0..tuning.knobs.len() {
            let _ = write!(
                table,
                "<td>{}</td>",
                esc(&value(tuning, t.index, k).to_string())
            );
        }
        let failed = match &t.error {
            Some(e) => format!("error: {e}"),
            None => t.failed_slos.join(", "),
        };
        let _ = writeln!(
            table,
            "<td>{:.3}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td></tr>",
            t.cost_usd,
            if t.pass { "pass" } else { "FAIL" },
            t.violation_seconds,
            if pareto.contains(&t.index) { "yes" } else { "" },
            esc(&failed)
        );
    }
    table.push_str("</tbody>\n</table>\n");
    let mut side = String::from(
        "<table>\n<thead><tr><th>configuration</th><th>cost (USD)</th><th>SLOs</th><th>violation (min)</th><th>failed requests</th><th>p99 latency (ms)</th><th>failed SLOs</th></tr></thead>\n<tbody>\n",
    );
    for r in &comparison.rows {
        let mark = if r.name == "recommended" && r.error.is_none() {
            " class=\"best\""
        } else {
            ""
        };
        let failed = match &r.error {
            Some(e) => format!("error: {e}"),
            None => r.failed_slos.join(", "),
        };
        let _ = writeln!(
            side,
            "<tr{mark}><td style=\"text-align:left\">{}</td><td>{:.3}</td><td>{}</td><td>{:.1}</td><td>{:.3}%</td><td>{}</td><td>{}</td></tr>",
            esc(&r.name),
            r.cost_usd,
            if r.pass { "pass" } else { "FAIL" },
            r.violation_minutes,
            r.failed_requests_percent,
            r.latency_p99_ms
                .map_or("-".to_string(), |l| format!("{l:.0}")),
            esc(&failed)
        );
    }
    side.push_str("</tbody>\n</table>\n");
    if let Some(v) = &comparison.versus {
        let _ = writeln!(
            side,
            "<p>The recommendation: {} at {:.0}% of the cost of the cheapest baseline ({}){}.</p>",
            versus_words(comparison.rows.last(), v),
            v.cost_ratio * 100.0,
            esc(&v.cheapest),
            if v.dominates_all {
                "; no baseline is cheaper or violates less"
            } else {
                ""
            }
        );
    }
    let verdict = match best {
        Some(b) => format!(
            "Recommended: configuration {b} ({:.3} USD per run, every SLO met on every run).",
            trials
                .iter()
                .find(|t| t.index == b)
                .map_or(0.0, |t| t.cost_usd)
        ),
        None => "No configuration meets every SLO.".to_string(),
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>kscale tune {name}</title>\n<style>\n\
         body{{font-family:system-ui,sans-serif;color:#1f2328;max-width:1180px;margin:1.5rem auto;padding:0 1rem}}\n\
         table{{border-collapse:collapse;font-size:.9rem}}th,td{{border:1px solid #d0d7de;padding:.25rem .55rem;text-align:right}}\n\
         thead th{{background:#f6f8fa}}tr.best td{{background:#dafbe1;font-weight:600}}\n\
         </style>\n</head>\n<body>\n<h1>kscale tune {name}</h1>\n<p>{} configurations of {}. <b>{}</b></p>\n\
         <h2>Side by side</h2>\n{runs_link}<p>The manifests as written (original), the tuning file's baselines and the recommendation, over the same runs: cost, whether every SLO was met, minutes in which some SLO was violated, the share of requests failed and the p99 latency (as the SLOs measure them).</p>\n{side}         <h2>Cost against SLO violation</h2>\n<p>Filled: every SLO met; blue outline and line: the Pareto front (no configuration is both cheaper and violates less); ringed: the recommendation.</p>\n{svg}\
         <h2>Configurations</h2>\n{table}</body>\n</html>\n",
        trials.len(),
        esc(scenario),
        esc(&verdict),
        name = esc(&tuning.name),
        runs_link = if best.is_some() {
            "<p>Both runs in full, charts overlaid: <a href=\"compare/report.html\">compare/report.html</a> (their outputs in <code>runs/original</code> and <code>runs/recommended</code>).</p>\n"
        } else {
            ""
        },
    )
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
                trials
                    .iter()
                    .find(|t| t.index == b)
                    .map_or(0.0, |t| t.cost_usd)
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
    results: &[Runs],
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
        .zip(results)
        .map(|(t, runs)| {
            let runs: Vec<Value> = runs
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
                    Err(e) => json!({"trace": trace, "error": e}),
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
        "space": tuning.configurations(),
        "searched": trials.len(),
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
        let name = if knob.on_scenario() {
            "scenario.yaml".to_string()
        } else {
            format!("{}-{}.yaml", knob.kind.to_ascii_lowercase(), knob.name)
        };
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
    let _live = kscale_report::LiveStaging::register(&staging);
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
