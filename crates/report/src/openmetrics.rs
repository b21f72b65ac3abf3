//! A run's time series in the OpenMetrics text format, with timestamps, so Prometheus can
//! backfill a run (`promtool tsdb create-blocks-from openmetrics FILE DIR`) and Grafana chart
//! it.
//!
//! Format: OpenMetrics 1.0 (`# TYPE`, `# HELP`, samples `name{labels} value timestamp` with
//! the timestamp in seconds, every family's samples together, `# EOF` at the end). Every
//! column of `timeseries.csv` becomes one series of a gauge family named after its kind
//! (`kscale_nodes`, `kscale_deployment_ready{namespace,name}`, ...: the table in
//! `columns.rs`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::columns::{CsvCells, Labels, describe};

/// A family's help text and series (labels → (timestamp ms, value) samples).
struct Family {
    help: String,
    series: BTreeMap<Labels, Vec<(i64, String)>>,
}

/// A label value escaped as OpenMetrics requires (`\\`, `\"`, `\n`).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Converts `timeseries.csv` text (first column `time_s`) into OpenMetrics text, with
/// timestamps from `start_unix_ms` (t = 0). Empty cells are left out. An error names the line.
pub fn timeseries_to_openmetrics(csv_text: &str, start_unix_ms: i64) -> Result<String, String> {
    let mut rows = CsvCells::new(csv_text.as_bytes())?;
    let columns: Vec<(String, Labels)> = rows
        .columns()
        .map(|c| {
            let d = describe(c);
            (d.family, d.labels)
        })
        .collect();
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for (name, (family, labels)) in rows.columns().zip(&columns) {
        families
            .entry(family.clone())
            .or_insert_with(|| Family {
                help: format!("kscale timeseries.csv column {name}"),
                series: BTreeMap::new(),
            })
            .series
            .entry(labels.clone())
            .or_default();
    }
    while let Some(row) = rows.next_row()? {
        let ts = start_unix_ms.saturating_add((row.time * 1000.0).round() as i64);
        for (i, text, _) in row.cells() {
            let (family, labels) = &columns[i];
            if let Some(samples) = families
                .get_mut(family)
                .and_then(|f| f.series.get_mut(labels))
            {
                samples.push((ts, text.to_string()));
            }
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
