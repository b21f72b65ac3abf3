//! `kscale diff RUN_A RUN_B`: compares two run directories (twin or `--cluster`, before and
//! after a change) category by category.
//!
//! Categories: the timelines of `timeseries.csv` ([`timeline`]); the autoscaling decisions of
//! `events.jsonl` (rescales, scale-ups, node launches and removals, preemptions, evictions, OOM
//! kills; [`decisions`]); the counts of events by reason; the kubectl steps of
//! `transcript.jsonl` ([`steps`]). Each category lists matched items, items only in A, only
//! in B and value differences; the runs are equal when no category has any of the last three.
//!
//! Some differences come from how a real control plane works, not from what it decides, and
//! are matched under a named normalisation instead (the item's `normalised` in `diff.json`,
//! listed as `normalised` in the table): a timeline difference of one sample between agreeing
//! ones (a change shorter than a sampling interval, caught by one run's samples and missed by
//! the other's; [`timeline`]), warnings recorded at every failing attempt (`FailedScheduling`,
//! the HPA's metric failures, `NoPods`) counted per object rather than per attempt
//! ([`events_by_reason`]),
//! and measured values in kubectl outputs within `--value-tolerance` ([`steps`]).
//!
//! Outputs: a table on stdout, `diff.json` and `report.html` in the output directory. Exit
//! codes: 0 equal within the tolerance, 1 different, 2 bad input (a directory that is not a
//! run, a malformed file, a bad flag value, an output directory that cannot be written).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Value, json};

pub mod decisions;
pub mod html;
pub mod names;
pub mod run_dir;
pub mod steps;
pub mod timeline;

use run_dir::RunDir;

/// One item of a category: a matched pair, an item of one run, or a value difference.
#[derive(Clone, Debug)]
pub struct Item {
    /// What is compared: a series, a decision's key, a reason, a command.
    pub what: String,
    /// A's side, as text (`-` when absent).
    pub a: String,
    /// B's side, as text (`-` when absent).
    pub b: String,
    /// The offset or the difference, as text.
    pub note: String,
    /// The item in `diff.json`.
    pub json: Value,
}

/// The comparison of one category.
#[derive(Clone, Debug)]
pub struct CategoryDiff {
    /// Name in `diff.json`, e.g. `rescales`.
    pub name: &'static str,
    /// Title for people.
    pub title: String,
    /// Items equal in both runs (within the tolerance).
    pub matched: Vec<Item>,
    /// Items only in A.
    pub only_in_a: Vec<Item>,
    /// Items only in B.
    pub only_in_b: Vec<Item>,
    /// Items in both whose values differ.
    pub value_differences: Vec<Item>,
    /// Items of one run that the other cannot have (not counted as differences).
    pub not_compared: Vec<Item>,
}

impl CategoryDiff {
    /// An empty category.
    pub fn new(name: &'static str, title: &str) -> CategoryDiff {
        CategoryDiff {
            name,
            title: title.to_string(),
            matched: vec![],
            only_in_a: vec![],
            only_in_b: vec![],
            value_differences: vec![],
            not_compared: vec![],
        }
    }

    /// The matched items matched only under a normalisation (their JSON has `normalised`).
    pub fn normalised(&self) -> impl Iterator<Item = &Item> {
        self.matched
            .iter()
            .filter(|i| i.json.get("normalised").is_some())
    }

    /// Whether the category has no difference.
    pub fn equal(&self) -> bool {
        self.only_in_a.is_empty() && self.only_in_b.is_empty() && self.value_differences.is_empty()
    }

    /// The category in `diff.json`.
    pub fn to_json(&self) -> Value {
        let list = |v: &[Item]| Value::Array(v.iter().map(|i| i.json.clone()).collect());
        let mut o = json!({
            "title": self.title,
            "equal": self.equal(),
            "counts": {
                "matched": self.matched.len(),
                "onlyInA": self.only_in_a.len(),
                "onlyInB": self.only_in_b.len(),
                "valueDifferences": self.value_differences.len(),
            },
            "matched": list(&self.matched),
            "onlyInA": list(&self.only_in_a),
            "onlyInB": list(&self.only_in_b),
            "valueDifferences": list(&self.value_differences),
        });
        if !self.not_compared.is_empty() {
            o["notCompared"] = list(&self.not_compared);
        }
        let normalised = self.normalised().count();
        if normalised > 0 {
            o["normalised"] = json!(normalised);
        }
        o
    }
}

/// A number as short text (`3`, `2.5`).
pub fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        let s = format!("{x:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Seconds as text (`60s`, `12.5s`).
pub fn secs(x: f64) -> String {
    format!("{}s", num(x))
}

/// A signed offset in seconds as text (`+2s`, `-0.5s`, `0s`).
pub fn signed_secs(x: f64) -> String {
    if x > 0.0 {
        format!("+{}", secs(x))
    } else {
        secs(x)
    }
}

/// The decision categories of two runs.
fn decision_categories(a: &RunDir, b: &RunDir, tol: f64) -> Vec<CategoryDiff> {
    let (da, db) = (decisions::extract(&a.events), decisions::extract(&b.events));
    let m = decisions::match_decisions(&da, &db, tol);
    let value = |d: &decisions::Decision| d.value.clone().map_or(Value::Null, Value::String);
    let side = |d: &decisions::Decision| match &d.value {
        Some(v) => format!("t={} {v}", secs(d.time)),
        None => format!("t={}", secs(d.time)),
    };
    let what = |d: &decisions::Decision| format!("{} {}", d.reason, d.key);
    let mut out: Vec<CategoryDiff> = decisions::CATEGORIES
        .iter()
        .map(|(name, title, _)| CategoryDiff::new(name, title))
        .collect();
    let cat = |out: &mut Vec<CategoryDiff>, name: &str| {
        out.iter().position(|c| c.name == name).unwrap_or(0)
    };
    for (k, &(i, j)) in m
        .matched
        .iter()
        .chain(m.value_differences.iter())
        .enumerate()
    {
        let (x, y) = (&da[i], &db[j]);
        let offset = y.time - x.time;
        let is_match = k < m.matched.len();
        let item = Item {
            what: what(x),
            a: side(x),
            b: side(y),
            note: if is_match {
                format!("offset {}", signed_secs(offset))
            } else {
                format!(
                    "{} vs {}, offset {}",
                    x.value.as_deref().unwrap_or("-"),
                    y.value.as_deref().unwrap_or("-"),
                    signed_secs(offset)
                )
            },
            json: if is_match {
                json!({"reason": x.reason, "key": x.key, "value": value(x), "timeA": x.time, "timeB": y.time, "offset": offset, "objectA": x.object, "objectB": y.object})
            } else {
                json!({"reason": x.reason, "key": x.key, "valueA": value(x), "valueB": value(y), "timeA": x.time, "timeB": y.time, "offset": offset, "objectA": x.object, "objectB": y.object})
            },
        };
        let c = cat(&mut out, x.category);
        if is_match {
            out[c].matched.push(item);
        } else {
            out[c].value_differences.push(item);
        }
    }
    for (idx, list, in_a) in [(&m.only_in_a, &da, true), (&m.only_in_b, &db, false)] {
        for &i in idx {
            let d = &list[i];
            let item = Item {
                what: what(d),
                a: if in_a { side(d) } else { "-".into() },
                b: if in_a { "-".into() } else { side(d) },
                note: d.object.clone(),
                json: json!({"reason": d.reason, "key": d.key, "value": value(d), "time": d.time, "object": d.object, "message": d.message}),
            };
            let c = cat(&mut out, d.category);
            if in_a {
                out[c].only_in_a.push(item);
            } else {
                out[c].only_in_b.push(item);
            }
        }
    }
    out
}

/// Reasons whose events a real component repeats at its own pace: compared by the number of
/// objects they name rather than the number of events when the counts differ. Each is a
/// warning recorded at every failing attempt, and how many attempts fail depends on timing,
/// not on a decision: the real scheduler records `FailedScheduling` at every attempt and
/// retries an unschedulable pod after its backoff and on each cluster event that may make it
/// schedulable (v1.37 pkg/scheduler/backend/queue/scheduling_queue.go, queueing hints); the
/// HPA controller records its `FailedGet*Metric` and `FailedComputeMetricsReplicas` at each
/// sync (every 15 s) until the metrics pipeline's first sample, which lands at its own phase
/// (horizontal.go `computeReplicasForMetrics`); the disruption controller records `NoPods` at
/// each sync of a PodDisruptionBudget until its pods exist (disruption.go `trySync`).
const RETRIED_REASONS: &[&str] = &[
    "FailedScheduling",
    "FailedGetResourceMetric",
    "FailedGetContainerResourceMetric",
    "FailedGetPodsMetric",
    "FailedGetObjectMetric",
    "FailedGetExternalMetric",
    "FailedComputeMetricsReplicas",
    "NoPods",
];

/// Event counts by reason; for [`RETRIED_REASONS`], differing counts match when the same
/// number of objects has such events in both runs (normalised).
pub fn events_by_reason(a: &RunDir, b: &RunDir) -> CategoryDiff {
    fn count(r: &RunDir) -> BTreeMap<&str, u64> {
        let mut m: BTreeMap<&str, u64> = BTreeMap::new();
        for e in &r.events {
            *m.entry(e.reason.as_str()).or_default() += 1;
        }
        m
    }
    fn objects(r: &RunDir, reason: &str) -> usize {
        let mut names: Vec<(&str, &str, &str)> = r
            .events
            .iter()
            .filter(|e| e.reason == reason)
            .map(|e| (e.kind.as_str(), e.namespace.as_str(), e.name.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        names.len()
    }
    let (ca, cb) = (count(a), count(b));
    let mut d = CategoryDiff::new("eventsByReason", "Events by reason");
    let mut reasons: Vec<&str> = ca.keys().chain(cb.keys()).copied().collect();
    reasons.sort_unstable();
    reasons.dedup();
    for r in reasons {
        let (x, y) = (ca.get(r).copied(), cb.get(r).copied());
        let text = |n: Option<u64>| n.map_or("-".to_string(), |n| n.to_string());
        let mut item = Item {
            what: r.to_string(),
            a: text(x),
            b: text(y),
            note: String::new(),
            json: json!({"reason": r, "countA": x.unwrap_or(0), "countB": y.unwrap_or(0)}),
        };
        match (x, y) {
            (Some(x), Some(y)) if x == y => {
                item.json = json!({"reason": r, "count": x});
                d.matched.push(item);
            }
            (Some(x), Some(y)) if RETRIED_REASONS.contains(&r) => {
                let (oa, ob) = (objects(a, r), objects(b, r));
                if oa == ob {
                    item.note = format!("{x} vs {y} attempts, {oa} objects each (normalised)");
                    item.json = json!({"reason": r, "countA": x, "countB": y, "objects": oa,
                        "normalised": "retried: compared by the objects named"});
                    d.matched.push(item);
                } else {
                    item.note = format!("{:+}; {oa} vs {ob} objects", y as i64 - x as i64);
                    item.json["objectsA"] = json!(oa);
                    item.json["objectsB"] = json!(ob);
                    d.value_differences.push(item);
                }
            }
            (Some(x), Some(y)) => {
                item.note = format!("{:+}", y as i64 - x as i64);
                d.value_differences.push(item);
            }
            (Some(x), None) => {
                item.json = json!({"reason": r, "count": x});
                d.only_in_a.push(item);
            }
            (None, Some(y)) => {
                item.json = json!({"reason": r, "count": y});
                d.only_in_b.push(item);
            }
            (None, None) => {}
        }
    }
    d
}

/// The whole comparison of two runs.
pub struct Diff {
    /// The tolerance as given (`15s`).
    pub tolerance: String,
    /// The tolerance in seconds.
    pub tolerance_s: f64,
    /// The relative tolerance of measured values in kubectl outputs (0.02 for 2%).
    pub value_tolerance: f64,
    /// Categories in report order.
    pub categories: Vec<CategoryDiff>,
}

impl Diff {
    /// Compares `a` and `b` within `tolerance_ms`, measured values within `value_tolerance`
    /// (relative).
    pub fn of(
        a: &RunDir,
        b: &RunDir,
        tolerance: &str,
        tolerance_ms: u64,
        value_tolerance: f64,
    ) -> Diff {
        let tol = tolerance_ms as f64 / 1000.0;
        let mut categories = vec![timeline::compare(&a.series, &b.series, tol)];
        categories.extend(decision_categories(a, b, tol));
        categories.push(events_by_reason(a, b));
        categories.push(steps::compare(&a.steps, &b.steps, tol, value_tolerance));
        Diff {
            tolerance: tolerance.to_string(),
            tolerance_s: tol,
            value_tolerance,
            categories,
        }
    }

    /// Whether every category is equal.
    pub fn equal(&self) -> bool {
        self.categories.iter().all(CategoryDiff::equal)
    }

    /// `diff.json`.
    pub fn to_json(&self, a: &RunDir, b: &RunDir) -> Value {
        let run = |r: &RunDir| {
            json!({
                "path": r.path.display().to_string(),
                "scenario": r.scenario(),
                "backend": r.backend(),
                "durationSeconds": r.summary.get("durationSeconds").cloned().unwrap_or(Value::Null),
                "controlPlaneVersion": r.summary.pointer("/controlPlane/version").cloned().unwrap_or(Value::Null),
            })
        };
        let mut cats = serde_json::Map::new();
        for c in &self.categories {
            cats.insert(c.name.to_string(), c.to_json());
        }
        json!({
            "equal": self.equal(),
            "timeTolerance": self.tolerance,
            "timeToleranceSeconds": self.tolerance_s,
            "valueTolerance": self.value_tolerance,
            "runA": run(a),
            "runB": run(b),
            "categories": cats,
        })
    }

    /// The table printed on stdout: counts per category, then the differing items.
    pub fn to_text(&self, a: &RunDir, b: &RunDir) -> String {
        let mut s = String::new();
        let desc = |r: &RunDir| format!("{} ({}, {})", r.path.display(), r.scenario(), r.backend());
        s.push_str(&format!(
            "A: {}\nB: {}\ntime tolerance: {}\n\n",
            desc(a),
            desc(b),
            self.tolerance
        ));
        let w = self
            .categories
            .iter()
            .map(|c| c.name.len())
            .max()
            .unwrap_or(0);
        s.push_str(&format!(
            "{:<w$}  {:>8}  {:>9}  {:>9}  {:>11}  {}\n",
            "category", "matched", "only in A", "only in B", "differences", "max |offset|"
        ));
        for c in &self.categories {
            let max_offset = c
                .matched
                .iter()
                .filter_map(|i| i.json.get("offset").and_then(Value::as_f64))
                .map(f64::abs)
                .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
            s.push_str(&format!(
                "{:<w$}  {:>8}  {:>9}  {:>9}  {:>11}  {}\n",
                c.name,
                c.matched.len(),
                c.only_in_a.len(),
                c.only_in_b.len(),
                c.value_differences.len(),
                max_offset.map_or("-".into(), secs)
            ));
        }
        const MAX_LISTED: usize = 40;
        for c in &self.categories {
            let normalised: Vec<Item> = c.normalised().cloned().collect();
            let groups = [
                ("value difference", &c.value_differences),
                ("only in A", &c.only_in_a),
                ("only in B", &c.only_in_b),
                ("normalised", &normalised),
            ];
            if groups.iter().all(|g| g.1.is_empty()) && c.not_compared.is_empty() {
                continue;
            }
            s.push_str(&format!("\n== {} ({}) ==\n", c.title, c.name));
            for (label, items) in groups {
                for i in items.iter().take(MAX_LISTED) {
                    s.push_str(&format!(
                        "  {label:<16}  {}\n      A: {:<28} B: {:<28} {}\n",
                        i.what, i.a, i.b, i.note
                    ));
                }
                if items.len() > MAX_LISTED {
                    s.push_str(&format!(
                        "  ... {} more {label} (see diff.json)\n",
                        items.len() - MAX_LISTED
                    ));
                }
            }
            if !c.not_compared.is_empty() {
                s.push_str(&format!(
                    "  not compared: {} series ({})\n",
                    c.not_compared.len(),
                    c.not_compared[0].note
                ));
            }
        }
        s.push_str(&format!(
            "\nresult: {}\n",
            if self.equal() {
                format!("equal within {}", self.tolerance)
            } else {
                format!("different (beyond {})", self.tolerance)
            }
        ));
        s
    }
}

/// A percentage (`2%`, `0.5%`) as a fraction.
pub fn parse_percent(s: &str) -> Result<f64, String> {
    let n = s
        .trim()
        .strip_suffix('%')
        .ok_or_else(|| format!("{s:?} is not a percentage (expected e.g. 2%)"))?;
    match n.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=100.0).contains(&v) => Ok(v / 100.0),
        _ => Err(format!("{s:?} is not a percentage from 0% to 100%")),
    }
}

/// Options of `kscale diff`.
pub struct Options<'a> {
    /// RUN_A.
    pub run_a: &'a Path,
    /// RUN_B.
    pub run_b: &'a Path,
    /// `--time-tolerance` (Go duration).
    pub time_tolerance: &'a str,
    /// `--value-tolerance` (a percentage, `2%`).
    pub value_tolerance: &'a str,
    /// `--out`.
    pub out: Option<PathBuf>,
}

/// Compares the runs, prints the table, writes `diff.json` and `report.html`; returns 0 when
/// equal within the tolerance, 1 when different, 2 on bad input.
pub fn run(o: Options) -> ExitCode {
    let tol_ms = match kscale_model::parse_duration(o.time_tolerance) {
        Ok(ms) => ms,
        Err(e) => {
            eprintln!("error: --time-tolerance: {e}");
            return ExitCode::from(2);
        }
    };
    let value_tol = match parse_percent(o.value_tolerance) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: --value-tolerance: {e}");
            return ExitCode::from(2);
        }
    };
    let load = |p: &Path| run_dir::load(p);
    let (a, b) = match (load(o.run_a), load(o.run_b)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let diff = Diff::of(&a, &b, o.time_tolerance, tol_ms, value_tol);
    let dir = o.out.unwrap_or_else(|| {
        PathBuf::from("kscale-out").join(format!("diff-{}-vs-{}", a.name(), b.name()))
    });
    let json = diff.to_json(&a, &b);
    // A `Value` always serialises.
    let text = serde_json::to_string_pretty(&json).unwrap_or_default() + "\n";
    let html = html::render(&diff, &a, &b);
    let written = std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::write(dir.join("diff.json"), text))
        .and_then(|_| std::fs::write(dir.join("report.html"), html));
    if let Err(e) = written {
        eprintln!("error: --out {}: cannot write: {e}", dir.display());
        return ExitCode::from(2);
    }
    print!("{}", diff.to_text(&a, &b));
    println!("output: {}", dir.display());
    if diff.equal() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
