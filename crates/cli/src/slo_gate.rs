//! The CI gate on a run's service-level objectives: `kscale run --check` exits 3 when an
//! objective of `spec.slos` failed, and `--junit FILE` writes them as JUnit XML (one test case
//! per objective, a failure for each failed one), which CI systems display.

use std::path::Path;

use serde_json::Value;

/// Exit code of `kscale run --check` when an objective failed.
pub const EXIT_SLO_FAILED: u8 = 3;

/// The objectives of a summary (`slos`), empty when the scenario has none.
pub fn objectives(summary: &Value) -> &[Value] {
    summary
        .get("slos")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Whether every objective passed.
pub fn all_pass(summary: &Value) -> bool {
    objectives(summary)
        .iter()
        .all(|o| o.get("pass").and_then(Value::as_bool) == Some(true))
}

/// `measured unit` as the terminal and JUnit show it.
fn measured(o: &Value) -> String {
    let unit = o.get("unit").and_then(Value::as_str).unwrap_or("");
    let m = o.get("measured").map(|v| v.to_string()).unwrap_or_default();
    let b = o.get("bound").map(|v| v.to_string()).unwrap_or_default();
    format!("{m} {unit} (bound {b} {unit})")
}

/// One line per objective for the terminal summary.
pub fn lines(summary: &Value) -> Vec<(String, String)> {
    objectives(summary)
        .iter()
        .map(|o| {
            let name = o.get("name").and_then(Value::as_str).unwrap_or("");
            let pass = o.get("pass").and_then(Value::as_bool) == Some(true);
            (
                format!("SLO {name}"),
                format!("{} {}", if pass { "met" } else { "FAILED" }, measured(o)),
            )
        })
        .collect()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The objectives as JUnit XML: a `testsuite` named after the scenario, a `testcase` per
/// objective (classname `kscale.slo.OBJECTIVE`), a `failure` with the measured value and the
/// violation windows for each failed one.
pub fn junit(scenario: &str, summary: &Value) -> String {
    let objs = objectives(summary);
    let failures = objs
        .iter()
        .filter(|o| o.get("pass").and_then(Value::as_bool) != Some(true))
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"kscale\" tests=\"{}\" failures=\"{failures}\">\n  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">\n",
        objs.len(),
        xml_escape(scenario),
        objs.len()
    ));
    for o in objs {
        let name = o.get("name").and_then(Value::as_str).unwrap_or("");
        let objective = o.get("objective").and_then(Value::as_str).unwrap_or("");
        let target = o
            .get("target")
            .and_then(Value::as_str)
            .map(|t| format!(" on {t}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "    <testcase name=\"{}\" classname=\"kscale.slo.{}\"",
            xml_escape(name),
            xml_escape(objective)
        ));
        if o.get("pass").and_then(Value::as_bool) == Some(true) {
            out.push_str("/>\n");
            continue;
        }
        let windows: Vec<String> = o
            .get("violations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|w| format!("{}s-{}s", w["fromSeconds"], w["toSeconds"]))
            .collect();
        out.push_str(&format!(
            ">\n      <failure message=\"{}\" type=\"SLOViolation\">{}{target}: {}; violated during {}</failure>\n    </testcase>\n",
            xml_escape(&format!("{objective}{target}: {}", measured(o))),
            xml_escape(objective),
            xml_escape(&measured(o)),
            xml_escape(&if windows.is_empty() { "the run as a whole".into() } else { windows.join(", ") })
        ));
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Writes [`junit`] to `path`.
pub fn write_junit(path: &Path, scenario: &str, summary: &Value) -> std::io::Result<()> {
    std::fs::write(path, junit(scenario, summary))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary() -> Value {
        json!({"slos": [
            {"name": "web-latency", "objective": "latencyP99", "target": "deployment/web", "pass": false,
             "measured": 812.0, "bound": 500.0, "unit": "ms",
             "violations": [{"fromSeconds": 300.0, "toSeconds": 420.0}]},
            {"name": "size", "objective": "maxNodes", "pass": true, "measured": 12.0, "bound": 40.0,
             "unit": "nodes", "violations": []}
        ]})
    }

    #[test]
    fn a_failed_objective_fails_the_gate() {
        assert!(!all_pass(&summary()));
        assert!(all_pass(&json!({})), "no objectives: nothing fails");
        let l = lines(&summary());
        assert_eq!(l[0].0, "SLO web-latency");
        assert_eq!(l[0].1, "FAILED 812.0 ms (bound 500.0 ms)");
        assert_eq!(l[1].1, "met 12.0 nodes (bound 40.0 nodes)");
    }

    #[test]
    fn junit_has_a_case_per_objective_and_a_failure_per_failed_one() {
        let x = junit("shop & co", &summary());
        assert!(
            x.contains("<testsuite name=\"shop &amp; co\" tests=\"2\" failures=\"1\">"),
            "{x}"
        );
        assert!(
            x.contains("<testcase name=\"size\" classname=\"kscale.slo.maxNodes\"/>"),
            "{x}"
        );
        assert!(x.contains("<failure message=\"latencyP99 on deployment/web: 812.0 ms (bound 500.0 ms)\" type=\"SLOViolation\">"), "{x}");
        assert!(x.contains("violated during 300.0s-420.0s"), "{x}");
    }
}
