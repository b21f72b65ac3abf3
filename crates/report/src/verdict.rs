//! The outcome of a run in a few lines, read from its `summary.json`: whether the SLOs were
//! met, requests lost, SLO violation time, pod start-up p99, OOM kills, evictions,
//! preemptions, peak nodes and cost — what the terminal summary, the report and
//! `kscale compare` lead with.

use serde_json::Value;

use crate::format_number;

/// Whether a fact is a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A problem (lost requests, a failed SLO, OOM kills, ...).
    Bad,
    /// As it should be.
    Good,
    /// Neither (cost, nodes).
    Info,
}

/// One fact of a verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    /// What it is (`requests lost`).
    pub label: &'static str,
    /// Its value as shown (`229,820 of 480,480 (47.8%)`).
    pub text: String,
    /// The number behind it, for comparisons (`None` when there is none).
    pub value: Option<f64>,
    /// Whether it is a problem.
    pub mark: Mark,
}

/// A run's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Whether nothing went wrong.
    pub ok: bool,
    /// One line: `FAIL: 47.8% of requests lost, 25 OOM kills, ...` or `OK: ...`.
    pub headline: String,
    /// The facts, in a fixed order (labels do not depend on the run, except that SLOs and
    /// loads appear only when the scenario has them).
    pub facts: Vec<Fact>,
}

fn num(v: Option<&Value>) -> f64 {
    v.and_then(Value::as_f64).unwrap_or(0.0)
}

/// An integer count with thousands separators.
fn count(x: f64) -> String {
    let n = x.round() as i64;
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// The verdict of a run from its summary.
pub fn verdict(summary: &Value) -> Verdict {
    let mut facts = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let mut goods: Vec<String> = Vec::new();
    if let Some(slos) = summary.get("slos").and_then(Value::as_array)
        && !slos.is_empty()
    {
        let failed: Vec<&str> = slos
            .iter()
            .filter(|o| o.get("pass").and_then(Value::as_bool) != Some(true))
            .map(|o| o.get("name").and_then(Value::as_str).unwrap_or("?"))
            .collect();
        let met = slos.len() - failed.len();
        let text = if failed.is_empty() {
            format!("all {} met", slos.len())
        } else {
            format!("{met} of {} met; failed: {}", slos.len(), failed.join(", "))
        };
        if failed.is_empty() {
            goods.push(format!("all {} SLOs met", slos.len()));
        } else {
            problems.push(format!("SLO failed: {}", failed.join(", ")));
        }
        facts.push(Fact {
            label: "SLOs",
            text,
            value: Some(failed.len() as f64),
            mark: if failed.is_empty() {
                Mark::Good
            } else {
                Mark::Bad
            },
        });
    }
    let loads = summary
        .get("loads")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if !loads.is_empty() {
        let offered: f64 = loads.iter().map(|l| num(l.get("offeredRequests"))).sum();
        // With retries, a request is lost when its last try failed; without, every dropped,
        // rejected or timed-out request is lost.
        let lost: f64 = loads
            .iter()
            .map(|l| match l.get("failedRequests") {
                Some(f) => num(Some(f)),
                None => {
                    num(l.get("droppedRequests"))
                        + num(l.get("rejectedRequests"))
                        + num(l.get("timedOutRequests"))
                }
            })
            .sum();
        let pct = if offered > 0.0 {
            100.0 * lost / offered
        } else {
            0.0
        };
        let text = if lost > 0.0 {
            format!("{} of {} ({pct:.1}%)", count(lost), count(offered))
        } else {
            format!("none of {}", count(offered))
        };
        if lost > 0.0 {
            problems.push(format!("{pct:.1}% of requests lost"));
        } else {
            goods.push("no requests lost".into());
        }
        facts.push(Fact {
            label: "requests lost",
            text,
            value: Some(lost),
            mark: if lost > 0.0 { Mark::Bad } else { Mark::Good },
        });
        if loads.iter().any(|l| l.get("sloViolationSeconds").is_some()) {
            let v: f64 = loads
                .iter()
                .map(|l| num(l.get("sloViolationSeconds")))
                .sum();
            // The loads' own SLOs count the whole run; the scenario's may leave out a
            // warm-up (`from`), so the two can disagree: say which this is.
            let warm_up = summary
                .get("slos")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|o| num(o.get("fromSeconds")))
                .fold(0.0, f64::max);
            let whole = if warm_up > 0.0 {
                format!(
                    " in the whole run, including the first {} s the SLOs leave out",
                    if warm_up.fract() == 0.0 {
                        count(warm_up)
                    } else {
                        format_number(warm_up)
                    }
                )
            } else {
                String::new()
            };
            if v > 0.0 {
                problems.push(format!("{} s of SLO violation{whole}", format_number(v)));
            }
            facts.push(Fact {
                label: "SLO violation",
                text: format!("{} s{whole}", format_number(v)),
                value: Some(v),
                mark: if v > 0.0 { Mark::Bad } else { Mark::Good },
            });
        }
    }
    if let Some(startup) = summary.get("podStartup").and_then(Value::as_object)
        && !startup.is_empty()
    {
        let (w, p99) = startup
            .iter()
            .map(|(w, s)| (w.as_str(), num(s.get("p99Seconds"))))
            .fold(("", f64::MIN), |a, b| if b.1 > a.1 { b } else { a });
        facts.push(Fact {
            label: "pod start-up p99",
            text: format!("{} s ({w})", format_number(p99)),
            value: Some(p99),
            mark: Mark::Info,
        });
    }
    let workloads = summary.get("workloads").and_then(Value::as_object);
    let sum_of = |k: &str| -> f64 {
        workloads
            .map(|w| w.values().map(|x| num(x.get(k))).sum())
            .unwrap_or(0.0)
    };
    let oom = summary
        .pointer("/counters/oomKills")
        .map_or_else(|| sum_of("oomKills"), |v| num(Some(v)));
    let evictions = sum_of("evictions");
    let preempted = num(summary.pointer("/pods/preempted"));
    for (label, x, bad, word) in [
        ("OOM kills", oom, true, "OOM kills"),
        ("evictions", evictions, true, "evictions"),
        ("preemptions", preempted, false, "preemptions"),
    ] {
        if bad && x > 0.0 {
            problems.push(format!("{} {word}", count(x)));
        }
        facts.push(Fact {
            label,
            text: count(x),
            value: Some(x),
            mark: match (bad, x > 0.0) {
                (true, true) => Mark::Bad,
                (true, false) => Mark::Good,
                _ => Mark::Info,
            },
        });
    }
    if oom == 0.0 {
        goods.push("no OOM kills".into());
    }
    let failed_steps = num(summary.pointer("/steps/failed"));
    if failed_steps > 0.0 {
        problems.push(format!("{} kubectl steps failed", count(failed_steps)));
        facts.push(Fact {
            label: "failed kubectl steps",
            text: count(failed_steps),
            value: Some(failed_steps),
            mark: Mark::Bad,
        });
    }
    let peak = num(summary.pointer("/nodes/max"));
    facts.push(Fact {
        label: "peak nodes",
        text: count(peak),
        value: Some(peak),
        mark: Mark::Info,
    });
    if let Some(cost) = summary.get("costUsd").and_then(Value::as_f64) {
        facts.push(Fact {
            label: "cost",
            text: format!("${cost:.3}"),
            value: Some(cost),
            mark: Mark::Info,
        });
    }
    // With SLOs, they decide (and failed steps); what else went wrong is said beside them.
    let slo_decides = facts.first().is_some_and(|f| f.label == "SLOs");
    let ok = if slo_decides {
        facts[0].mark == Mark::Good && failed_steps == 0.0
    } else {
        problems.is_empty()
    };
    let headline = match (ok, slo_decides) {
        // goods[0] is "all N SLOs met".
        (true, true) if !problems.is_empty() => {
            format!("OK: {} ({})", goods[0], problems.join(", "))
        }
        (true, _) if goods.is_empty() => "OK".to_string(),
        (true, _) => format!("OK: {}", goods.join(", ")),
        (false, _) => format!("FAIL: {}", problems.join(", ")),
    };
    Verdict {
        ok,
        headline,
        facts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_domino_run_fails_on_what_went_wrong() {
        // seed001/domino.yaml's summary.
        let s = json!({
            "nodes": {"final": 4, "max": 4.0}, "pods": {"preempted": 0}, "costUsd": 0.512,
            "steps": {"total": 1, "failed": 0},
            "loads": [{"target": "default/deployment/api", "offeredRequests": 480480.0, "servedRequests": 250660.0,
                       "droppedRequests": 229820.0, "rejectedRequests": 0.0, "queuedAtEnd": 0.0, "sloViolationSeconds": 594.0}],
            "podStartup": {"default/deployment/api": {"p99Seconds": 7.139}},
            "workloads": {"default/deployment/api": {"oomKills": 25, "evictions": 0}},
            "counters": {"oomKills": 25}
        });
        let v = verdict(&s);
        assert!(!v.ok);
        assert_eq!(
            v.headline,
            "FAIL: 47.8% of requests lost, 594 s of SLO violation, 25 OOM kills"
        );
        let text = |l: &str| v.facts.iter().find(|f| f.label == l).unwrap().text.clone();
        assert_eq!(text("requests lost"), "229,820 of 480,480 (47.8%)");
        assert_eq!(text("peak nodes"), "4");
        assert_eq!(text("cost"), "$0.512");
        assert_eq!(text("pod start-up p99"), "7.139 s (default/deployment/api)");
    }

    /// SLOs with a warm-up (`from`) pass while the loads' own SLO, over the whole run, was
    /// violated during it: the verdict says which count it gives.
    #[test]
    fn violation_in_a_warm_up_the_slos_leave_out_is_said_so() {
        let s = json!({
            "nodes": {"max": 9}, "costUsd": 4.234, "steps": {"failed": 0},
            "slos": [{"name": "latency", "pass": true, "fromSeconds": 3600.0},
                     {"name": "errors", "pass": true, "fromSeconds": 0.0}],
            "loads": [{"offeredRequests": 1000.0, "droppedRequests": 0.0, "rejectedRequests": 0.0,
                       "sloViolationSeconds": 123.0}]
        });
        let v = verdict(&s);
        assert!(v.ok);
        assert_eq!(
            v.headline,
            "OK: all 2 SLOs met (123 s of SLO violation in the whole run, including the first \
             3,600 s the SLOs leave out)"
        );
        let fact = v.facts.iter().find(|f| f.label == "SLO violation").unwrap();
        assert_eq!(
            fact.text,
            "123 s in the whole run, including the first 3,600 s the SLOs leave out"
        );
    }

    #[test]
    fn a_clean_run_is_ok_and_slos_lead() {
        let s = json!({
            "nodes": {"max": 3}, "pods": {"preempted": 1}, "costUsd": 0.1, "steps": {"failed": 0},
            "slos": [{"name": "latency", "pass": true}, {"name": "budget", "pass": true}],
            "loads": [{"offeredRequests": 100.0, "droppedRequests": 0.0, "rejectedRequests": 0.0}]
        });
        let v = verdict(&s);
        assert!(v.ok);
        assert_eq!(
            v.headline,
            "OK: all 2 SLOs met, no requests lost, no OOM kills"
        );
        assert_eq!(v.facts[0].label, "SLOs");
        assert_eq!(v.facts[0].text, "all 2 met");
        let failing = json!({"slos": [{"name": "latency", "pass": false}, {"name": "b", "pass": true}], "steps": {"failed": 2}});
        let v = verdict(&failing);
        assert_eq!(v.facts[0].text, "1 of 2 met; failed: latency");
        assert_eq!(
            v.headline,
            "FAIL: SLO failed: latency, 2 kubectl steps failed"
        );
    }

    #[test]
    fn retries_count_given_up_requests_only() {
        let s = json!({"loads": [{"offeredRequests": 1000.0, "droppedRequests": 50.0, "failedRequests": 10.0}]});
        let v = verdict(&s);
        assert_eq!(v.facts[0].text, "10 of 1,000 (1.0%)");
    }
}
