//! Timelines of `timeseries.csv` compared sample by sample within the time tolerance.
//!
//! Compared series: `nodes`, `pods_pending`, `deploy/NS/NAME/desired` and `.../ready`, the same of
//! StatefulSets (`sts/NS/NAME/...`),
//! `hpa/NS/NAME/desired` and the HPA metric values `hpa/NS/NAME/METRIC/current`, and the node
//! counts `nodes/group/*`, `nodes/type/*`, `nodes/capacity/*`. Other columns (load, cost, CPU
//! and memory requested, ...) are twin-only or derived and are not compared.
//!
//! Rule: a run's value at time `s` is that of its last sample at or before `s`. A sample
//! `(t, v)` of series S in A differs from B when B's value at no time within
//! `[t - tolerance, t + tolerance]` equals `v`, that is, neither B's samples in that window nor
//! the value B holds at the window's start (if B has samples from then on) equal `v`; and
//! symmetrically for B's samples against A. Values are equal when they differ by at most 1e-9
//! relatively. Each series reports its differing samples (A's and B's), the first differing
//! time and the largest absolute difference (for each differing sample, the smallest distance
//! to the other run's values within the window). Timelines are equal only when no sample
//! differs persistently.
//!
//! Normalised: a differing sample whose run's next sample and previous sample (if any) do not
//! differ is transient: the change it shows lasted less than a sampling interval, so one run's
//! samples caught it and the other's fell on either side of it (a real control plane binds a
//! new pod some milliseconds after its creation and the twin in the same instant; the twin
//! samples a time before the decisions due then and a live run's sample may fall either side).
//! A series whose differing samples are all transient matches, with them listed. A run's last
//! sample is never transient: nothing after it shows the runs agreeing again.
//!
//! A compared series present in only one run is only in A or only in B, unless the other run
//! records no series of that family at all (a `--cluster` run records no `hpa/*` nor
//! `nodes/type/*` series): then it is listed as not compared and does not make the runs differ.

use serde_json::json;

use super::run_dir::Series;
use super::{CategoryDiff, Item, secs};

/// The family of a compared column, or `None` when the column is not compared.
pub fn family(col: &str) -> Option<&'static str> {
    if col == "nodes" {
        Some("nodes")
    } else if col == "pods_pending" {
        Some("pods_pending")
    } else if col.starts_with("deploy/") && (col.ends_with("/desired") || col.ends_with("/ready")) {
        Some("deploy/*")
    } else if col.starts_with("sts/") && (col.ends_with("/desired") || col.ends_with("/ready")) {
        Some("sts/*")
    } else if col.starts_with("hpa/") && (col.ends_with("/desired") || col.ends_with("/current")) {
        Some("hpa/*")
    } else if col.starts_with("nodes/group/") {
        Some("nodes/group/*")
    } else if col.starts_with("nodes/type/") {
        Some("nodes/type/*")
    } else if col.starts_with("nodes/capacity/") {
        Some("nodes/capacity/*")
    } else {
        None
    }
}

/// Whether two values are equal (relative tolerance 1e-9).
fn same(x: f64, y: f64) -> bool {
    (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
}

/// One differing sample of a run: its index, its time and, when the other run has values in
/// the window, the smallest distance to them.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Differing {
    index: usize,
    time: f64,
    distance: Option<f64>,
}

/// The differing samples of `a` against `b` (both sorted by time) as `(time, distance)`.
#[cfg(test)]
fn differing(a: &[(f64, f64)], b: &[(f64, f64)], tol: f64) -> Vec<(f64, Option<f64>)> {
    differing_samples(a, b, tol)
        .into_iter()
        .map(|d| (d.time, d.distance))
        .collect()
}

/// Splits differing samples of a run of `n` samples into (persistent, transient): a sample is
/// transient when the run's next sample does not differ and neither does its previous one.
fn split_transient(diffs: Vec<Differing>, n: usize) -> (Vec<Differing>, Vec<Differing>) {
    let set: std::collections::HashSet<usize> = diffs.iter().map(|d| d.index).collect();
    diffs.into_iter().partition(|d| {
        let i = d.index;
        let transient = i + 1 < n && !set.contains(&(i + 1)) && (i == 0 || !set.contains(&(i - 1)));
        !transient
    })
}

/// The differing samples of `a` against `b` (both sorted by time).
fn differing_samples(a: &[(f64, f64)], b: &[(f64, f64)], tol: f64) -> Vec<Differing> {
    let eps = 1e-9;
    let mut out = vec![];
    for (index, &(t, v)) in a.iter().enumerate() {
        // b[..lo] are at or before the window's start, b[lo..hi] inside it.
        let lo = b.partition_point(|s| s.0 <= t - tol + eps);
        let hi = b.partition_point(|s| s.0 <= t + tol + eps);
        // The value held at the window's start, if B was still recording then.
        let held = lo > 0 && (lo < b.len() || b[lo - 1].0 >= t - tol - eps);
        let start = if held { lo - 1 } else { lo };
        let candidates = b[start..hi].iter().map(|s| s.1);
        let mut best: Option<f64> = None;
        let mut found = false;
        for c in candidates {
            if same(v, c) {
                found = true;
                break;
            }
            let d = (v - c).abs();
            best = Some(best.map_or(d, |x| x.min(d)));
        }
        if !found {
            out.push(Differing {
                index,
                time: t,
                distance: best,
            });
        }
    }
    out
}

/// Samples sorted by time.
fn sorted(mut s: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    s.sort_by(|x, y| x.0.total_cmp(&y.0));
    s
}

/// Compares the compared series of `a` and `b` within `tol` seconds.
pub fn compare(a: &Series, b: &Series, tol: f64) -> CategoryDiff {
    let mut d = CategoryDiff::new("timelines", "Timelines");
    let cols = |s: &Series| -> Vec<String> {
        s.columns
            .iter()
            .filter(|c| family(c).is_some())
            .cloned()
            .collect()
    };
    let (ca, cb) = (cols(a), cols(b));
    let families =
        |cs: &[String]| -> Vec<&'static str> { cs.iter().filter_map(|c| family(c)).collect() };
    let (fa, fb) = (families(&ca), families(&cb));
    let mut all: Vec<&String> = ca.iter().chain(cb.iter()).collect();
    all.sort();
    all.dedup();
    for col in all {
        let fam = family(col).unwrap_or("");
        let (sa, sb) = (sorted(a.samples(col)), sorted(b.samples(col)));
        let (in_a, in_b) = (ca.contains(col), cb.contains(col));
        if !in_a || !in_b {
            let (run, other, other_fams, n) = if in_a {
                ("A", "B", &fb, sa.len())
            } else {
                ("B", "A", &fa, sb.len())
            };
            if !other_fams.contains(&fam) {
                d.not_compared.push(Item {
                    what: col.clone(),
                    a: if in_a { format!("{n} samples") } else { "-".into() },
                    b: if in_b { format!("{n} samples") } else { "-".into() },
                    note: format!("{other} records no {fam} series"),
                    json: json!({"series": col, "onlyIn": run, "samples": n, "reason": format!("{other} records no {fam} series")}),
                });
                continue;
            }
            let item = Item {
                what: col.clone(),
                a: if in_a {
                    format!("{n} samples")
                } else {
                    "-".into()
                },
                b: if in_b {
                    format!("{n} samples")
                } else {
                    "-".into()
                },
                note: format!("series only in {run}"),
                json: json!({"series": col, "samples": n}),
            };
            if in_a {
                d.only_in_a.push(item);
            } else {
                d.only_in_b.push(item);
            }
            continue;
        }
        let (da, ta) = split_transient(differing_samples(&sa, &sb, tol), sa.len());
        let (db, tb) = split_transient(differing_samples(&sb, &sa, tol), sb.len());
        if da.is_empty() && db.is_empty() {
            let mut item = Item {
                what: col.clone(),
                a: format!("{} samples", sa.len()),
                b: format!("{} samples", sb.len()),
                note: "equal".into(),
                json: json!({"series": col, "samplesA": sa.len(), "samplesB": sb.len()}),
            };
            if !ta.is_empty() || !tb.is_empty() {
                let show = |run: &str, s: &[(f64, f64)], t: &[Differing]| -> Vec<String> {
                    t.iter()
                        .map(|d| {
                            format!("{run} {} at t={}", super::num(s[d.index].1), secs(d.time))
                        })
                        .collect()
                };
                let mut listed = show("A", &sa, &ta);
                listed.extend(show("B", &sb, &tb));
                item.note = format!("transient: {} (normalised)", listed.join(", "));
                item.json["normalised"] = json!("transient: one sample between agreeing ones");
                item.json["transientSamplesA"] =
                    json!(ta.iter().map(|d| d.time).collect::<Vec<_>>());
                item.json["transientSamplesB"] =
                    json!(tb.iter().map(|d| d.time).collect::<Vec<_>>());
            }
            d.matched.push(item);
            continue;
        }
        let first = da
            .iter()
            .chain(db.iter())
            .map(|x| x.time)
            .fold(f64::INFINITY, f64::min);
        let max_abs = da
            .iter()
            .chain(db.iter())
            .filter_map(|x| x.distance)
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
        let value_at = |s: &[(f64, f64)]| {
            let i = s.partition_point(|x| x.0 <= first + 1e-9);
            if i == 0 {
                "-".to_string()
            } else {
                super::num(s[i - 1].1)
            }
        };
        d.value_differences.push(Item {
            what: col.clone(),
            a: format!("{} at t={}", value_at(&sa), secs(first)),
            b: format!("{} at t={}", value_at(&sb), secs(first)),
            note: format!(
                "{} differing samples ({} of A, {} of B), first at t={}, max |difference| {}",
                da.len() + db.len(),
                da.len(),
                db.len(),
                secs(first),
                max_abs.map_or("-".into(), super::num)
            ),
            json: json!({
                "series": col,
                "differingSamples": da.len() + db.len(),
                "differingSamplesA": da.len(),
                "differingSamplesB": db.len(),
                "firstDifferingTime": first,
                "maxAbsDifference": max_abs,
                "samplesA": sa.len(),
                "samplesB": sb.len(),
            }),
        });
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(cols: &[&str], rows: &[&[f64]]) -> Series {
        Series {
            columns: cols.iter().map(|s| s.to_string()).collect(),
            rows: rows.iter().map(|r| r.to_vec()).collect(),
        }
    }

    #[test]
    fn families() {
        assert_eq!(family("deploy/default/web/desired"), Some("deploy/*"));
        assert_eq!(family("deploy/default/web/pods"), None);
        assert_eq!(family("sts/default/db/ready"), Some("sts/*"));
        assert_eq!(family("hpa/default/web/cpu/current"), Some("hpa/*"));
        assert_eq!(family("hpa/default/web/cpu/target"), None);
        assert_eq!(family("load/default/deployment/web/backlog"), None);
        assert_eq!(family("nodes/type/m5.large"), Some("nodes/type/*"));
        assert_eq!(family("cost_usd"), None);
    }

    #[test]
    fn shift_within_tolerance_is_equal() {
        let a = [(0.0, 2.0), (10.0, 2.0), (20.0, 5.0), (30.0, 5.0)];
        let b = [(0.0, 2.0), (10.0, 2.0), (20.0, 2.0), (30.0, 5.0)];
        assert!(differing(&a, &b, 10.0).is_empty());
        assert!(differing(&b, &a, 10.0).is_empty());
        assert_eq!(differing(&a, &b, 0.0), [(20.0, Some(3.0))]);
        assert_eq!(differing(&b, &a, 0.0), [(20.0, Some(3.0))]);
        // The value held at the window's start counts, also with sparse samples.
        assert!(differing(&[(25.0, 2.0)], &[(0.0, 2.0), (40.0, 5.0)], 5.0).is_empty());
        // A run that ended does not hold its last value.
        assert_eq!(
            differing(&[(100.0, 2.0)], &[(0.0, 2.0)], 5.0),
            [(100.0, None)]
        );
    }

    #[test]
    fn single_differing_samples_between_agreeing_ones_are_transient() {
        let d = |index: usize| Differing {
            index,
            time: index as f64 * 10.0,
            distance: Some(1.0),
        };
        let idx = |v: &[Differing]| v.iter().map(|x| x.index).collect::<Vec<_>>();
        // Samples 0 (the run's first), 3 and 6 alone; 8-9 in a row; 11 the last of 12.
        let diffs = [0, 3, 6, 8, 9, 11].map(d).to_vec();
        let (persistent, transient) = split_transient(diffs, 12);
        assert_eq!(idx(&transient), [0, 3, 6]);
        assert_eq!(idx(&persistent), [8, 9, 11]);
        // A run of one sample has no next sample.
        let (persistent, transient) = split_transient(vec![d(0)], 1);
        assert_eq!((idx(&persistent), idx(&transient)), (vec![0], vec![]));
    }

    #[test]
    fn compare_series() {
        let a = series(
            &[
                "time_s",
                "nodes",
                "deploy/d/w/ready",
                "hpa/d/h/desired",
                "cost_usd",
            ],
            &[&[0.0, 1.0, 1.0, 1.0, 0.0], &[10.0, 2.0, 3.0, 1.0, 5.0]],
        );
        let b = series(
            &["time_s", "nodes", "deploy/d/w/ready", "deploy/d/x/ready"],
            &[&[0.0, 1.0, 1.0, 0.0], &[10.0, 2.0, 1.0, 0.0]],
        );
        let d = compare(&a, &b, 0.0);
        assert_eq!(d.matched.len(), 1);
        assert_eq!(d.value_differences.len(), 1);
        assert_eq!(d.value_differences[0].json["firstDifferingTime"], 10.0);
        assert_eq!(d.value_differences[0].json["maxAbsDifference"], 2.0);
        assert_eq!(d.only_in_b.len(), 1);
        assert_eq!(d.not_compared.len(), 1);
        assert!(!d.equal());
    }
}
