//! A run's time series in the OpenMetrics text format, with timestamps, so Prometheus can
//! backfill a run (`promtool tsdb create-blocks-from openmetrics FILE DIR`) and Grafana chart
//! it.
//!
//! Format: OpenMetrics 1.0 (`# TYPE`, `# HELP`, samples `name{labels} value timestamp` with
//! the timestamp in seconds, every family's samples together, `# EOF` at the end). Every
//! column of `timeseries.csv` becomes one series of a gauge family named after its kind:
//!
//! | column | family | labels |
//! |---|---|---|
//! | `nodes`, `pods_pending`, `cost_usd`, ... | `kscale_nodes`, ... | |
//! | `deploy/NS/NAME/FIELD` | `kscale_deployment_FIELD` | `namespace`, `name` |
//! | `hpa/NS/NAME/FIELD` | `kscale_hpa_FIELD` | `namespace`, `name` |
//! | `hpa/NS/NAME/METRIC/current|target` | `kscale_hpa_metric_current|target` | `namespace`, `name`, `metric` |
//! | `load/NS/KIND/NAME/FIELD` | `kscale_load_FIELD` | `namespace`, `kind`, `name` |
//! | `nodes/capacity/X`, `nodes/group/X`, `nodes/type/X` | `kscale_nodes_by_capacity_type`, `kscale_nodes_by_group`, `kscale_nodes_by_instance_type` | `capacity_type`, `group`, `instance_type` |
//! | `vpa/NS/NAME/CONTAINER/FIELD` | `kscale_vpa_FIELD` | `namespace`, `name`, `container` |
//! | `A/B` (other) | `kscale_A_B` | |
//! | anything else | `kscale_series` | `series` (the column) |

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A series' labels, in the order they are printed.
type Labels = Vec<(&'static str, String)>;

/// A family's help text and series (labels → (timestamp ms, value) samples).
struct Family {
    help: String,
    series: BTreeMap<Labels, Vec<(i64, String)>>,
}

/// A metric-name part from free text: `[a-zA-Z0-9_]`, other characters as `_`.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A label value escaped as OpenMetrics requires (`\\`, `\"`, `\n`).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The family and labels of a `timeseries.csv` column.
fn classify(column: &str) -> (String, Labels) {
    let parts: Vec<&str> = column.split('/').collect();
    let s = |i: usize| parts[i].to_string();
    match parts.as_slice() {
        [one] => (format!("kscale_{}", sanitize(one)), vec![]),
        ["deploy", _, _, f] => (
            format!("kscale_deployment_{}", sanitize(f)),
            vec![("namespace", s(1)), ("name", s(2))],
        ),
        ["hpa", _, _, f] => (
            format!("kscale_hpa_{}", sanitize(f)),
            vec![("namespace", s(1)), ("name", s(2))],
        ),
        ["hpa", _, _, metric, which @ ("current" | "target")] => (
            format!("kscale_hpa_metric_{which}"),
            vec![
                ("namespace", s(1)),
                ("name", s(2)),
                ("metric", metric.to_string()),
            ],
        ),
        ["load", _, _, _, f] => (
            format!("kscale_load_{}", sanitize(f)),
            vec![("namespace", s(1)), ("kind", s(2)), ("name", s(3))],
        ),
        ["nodes", "capacity", x] => (
            "kscale_nodes_by_capacity_type".into(),
            vec![("capacity_type", x.to_string())],
        ),
        ["nodes", "group", x] => (
            "kscale_nodes_by_group".into(),
            vec![("group", x.to_string())],
        ),
        ["nodes", "type", x] => (
            "kscale_nodes_by_instance_type".into(),
            vec![("instance_type", x.to_string())],
        ),
        ["vpa", _, _, _, f] => (
            format!("kscale_vpa_{}", sanitize(f)),
            vec![("namespace", s(1)), ("name", s(2)), ("container", s(3))],
        ),
        [a, b] => (format!("kscale_{}_{}", sanitize(a), sanitize(b)), vec![]),
        _ => ("kscale_series".into(), vec![("series", column.to_string())]),
    }
}

/// Converts `timeseries.csv` text (first column `time_s`) into OpenMetrics text, with
/// timestamps from `start_unix_ms` (t = 0). Empty cells are left out. An error names the line.
pub fn timeseries_to_openmetrics(csv_text: &str, start_unix_ms: i64) -> Result<String, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(csv_text.as_bytes());
    let headers = rdr.headers().map_err(|e| format!("line 1: {e}"))?.clone();
    if headers.get(0) != Some("time_s") {
        return Err("line 1: the first column is not time_s: not a kscale timeseries.csv".into());
    }
    let columns: Vec<(String, Labels)> = headers.iter().skip(1).map(classify).collect();
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for (i, (family, labels)) in columns.iter().enumerate() {
        families
            .entry(family.clone())
            .or_insert_with(|| Family {
                help: format!("kscale timeseries.csv column {}", &headers[i + 1]),
                series: BTreeMap::new(),
            })
            .series
            .entry(labels.clone())
            .or_default();
    }
    for (row, record) in rdr.records().enumerate() {
        let line = row + 2;
        let record = record.map_err(|e| format!("line {line}: {e}"))?;
        let t: f64 = record
            .get(0)
            .and_then(|x| x.parse().ok())
            .ok_or_else(|| format!("line {line}: time_s is not a number"))?;
        let ts = start_unix_ms + (t * 1000.0).round() as i64;
        for (i, (family, labels)) in columns.iter().enumerate() {
            let Some(v) = record.get(i + 1).filter(|v| !v.is_empty()) else {
                continue;
            };
            if v.parse::<f64>().is_err() {
                return Err(format!(
                    "line {line}, column {}: {v:?} is not a number",
                    &headers[i + 1]
                ));
            }
            families
                .get_mut(family)
                .and_then(|f| f.series.get_mut(labels))
                .expect("every column has its series")
                .push((ts, v.to_string()));
        }
    }
    let mut out = String::new();
    for (name, f) in &families {
        let _ = writeln!(out, "# TYPE {name} gauge");
        if f.series.len() == 1 {
            let _ = writeln!(out, "# HELP {name} {}", escape(&f.help));
        } else {
            let _ = writeln!(out, "# HELP {name} kscale time series, one per object");
        }
        for (labels, samples) in &f.series {
            let label_text = if labels.is_empty() {
                String::new()
            } else {
                let inner: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                    .collect();
                format!("{{{}}}", inner.join(","))
            };
            for (ts, v) in samples {
                let secs = ts.div_euclid(1000);
                let ms = ts.rem_euclid(1000);
                let _ = writeln!(out, "{name}{label_text} {v} {secs}.{ms:03}");
            }
        }
    }
    out.push_str("# EOF\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_become_labelled_gauges_in_time_order() {
        let csv = "time_s,nodes,deploy/shop/web/ready,deploy/shop/api/ready,hpa/shop/web/cpu_utilization/current,load/shop/deployment/web/served_rps,nodes/type/m5.large,odd/a/b/c/d/e/f\n\
                   0,2,1,3,50,10.5,2,\n\
                   10,3,2,3,45,,3,1\n";
        let om = timeseries_to_openmetrics(csv, 1_767_225_600_000).unwrap();
        let expected = "\
# TYPE kscale_deployment_ready gauge
# HELP kscale_deployment_ready kscale time series, one per object
kscale_deployment_ready{namespace=\"shop\",name=\"api\"} 3 1767225600.000
kscale_deployment_ready{namespace=\"shop\",name=\"api\"} 3 1767225610.000
kscale_deployment_ready{namespace=\"shop\",name=\"web\"} 1 1767225600.000
kscale_deployment_ready{namespace=\"shop\",name=\"web\"} 2 1767225610.000
# TYPE kscale_hpa_metric_current gauge
# HELP kscale_hpa_metric_current kscale timeseries.csv column hpa/shop/web/cpu_utilization/current
kscale_hpa_metric_current{namespace=\"shop\",name=\"web\",metric=\"cpu_utilization\"} 50 1767225600.000
kscale_hpa_metric_current{namespace=\"shop\",name=\"web\",metric=\"cpu_utilization\"} 45 1767225610.000
# TYPE kscale_load_served_rps gauge
# HELP kscale_load_served_rps kscale timeseries.csv column load/shop/deployment/web/served_rps
kscale_load_served_rps{namespace=\"shop\",kind=\"deployment\",name=\"web\"} 10.5 1767225600.000
# TYPE kscale_nodes gauge
# HELP kscale_nodes kscale timeseries.csv column nodes
kscale_nodes 2 1767225600.000
kscale_nodes 3 1767225610.000
# TYPE kscale_nodes_by_instance_type gauge
# HELP kscale_nodes_by_instance_type kscale timeseries.csv column nodes/type/m5.large
kscale_nodes_by_instance_type{instance_type=\"m5.large\"} 2 1767225600.000
kscale_nodes_by_instance_type{instance_type=\"m5.large\"} 3 1767225610.000
# TYPE kscale_series gauge
# HELP kscale_series kscale timeseries.csv column odd/a/b/c/d/e/f
kscale_series{series=\"odd/a/b/c/d/e/f\"} 1 1767225610.000
# EOF
";
        assert_eq!(om, expected);
    }

    #[test]
    fn bad_input_names_the_line() {
        assert!(
            timeseries_to_openmetrics("t,x\n", 0)
                .unwrap_err()
                .contains("time_s")
        );
        let e = timeseries_to_openmetrics("time_s,x\n0,1\n5,abc\n", 0).unwrap_err();
        assert!(e.contains("line 3") && e.contains("\"abc\""), "{e}");
    }
}
