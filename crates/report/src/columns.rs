//! A `timeseries.csv` read back, for the exports (`kscale export openmetrics`, `kscale export
//! parquet`): what each column measures ([`describe`], the one place that parses column
//! names) and the rows' non-empty cells ([`CsvCells`]).
//!
//! | column | series | object | labels | OpenMetrics family |
//! |---|---|---|---|---|
//! | `nodes`, `pods_pending`, `cost_usd`, ... | the column | | | `kscale_nodes`, ... |
//! | `deploy/NS/NAME/FIELD` | `FIELD` | `deployment/NS/NAME` | `namespace`, `name` | `kscale_deployment_FIELD` |
//! | `sts/NS/NAME/FIELD` | `FIELD` | `statefulset/NS/NAME` | `namespace`, `name` | `kscale_statefulset_FIELD` |
//! | `hpa/NS/NAME/FIELD` | `FIELD` | `hpa/NS/NAME` | `namespace`, `name` | `kscale_hpa_FIELD` |
//! | `hpa/NS/NAME/METRIC/current|target` | `metric_current|target` | `hpa/NS/NAME` | `namespace`, `name`, `metric` | `kscale_hpa_metric_current|target` |
//! | `load/NS/KIND/NAME/FIELD` | `FIELD` | `KIND/NS/NAME` | `namespace`, `kind`, `name` | `kscale_load_FIELD` |
//! | `nodes/capacity/X` | `nodes_by_capacity_type` | | `capacity_type` | `kscale_nodes_by_capacity_type` |
//! | `nodes/group/X` | `nodes_by_group` | | `group` | `kscale_nodes_by_group` |
//! | `nodes/type/X` | `nodes_by_instance_type` | | `instance_type` | `kscale_nodes_by_instance_type` |
//! | `vpa/NS/NAME/CONTAINER/FIELD` | `FIELD` | `vpa/NS/NAME` | `namespace`, `name`, `container` | `kscale_vpa_FIELD` |
//! | `A/B` (other) | `A_B` | | | `kscale_A_B` |
//! | anything else | the column | | `series` (the column) | `kscale_series` |
//!
//! An empty object means a cluster-wide series. OpenMetrics family names have every character
//! but `[a-zA-Z0-9_]` replaced by `_`; series, objects and labels keep the column's text.

/// A series' labels, in the order they are printed.
pub(crate) type Labels = Vec<(&'static str, String)>;

/// What one `timeseries.csv` column measures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Column {
    /// The OpenMetrics gauge family, e.g. `kscale_deployment_ready`.
    pub family: String,
    /// The metric, e.g. `ready`, `served_rps`, `nodes`.
    pub series: String,
    /// The object measured, e.g. `deployment/default/web`; empty for cluster-wide series.
    pub object: String,
    /// The labels telling the object (and container, metric, node group, ...) apart.
    pub labels: Labels,
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

/// What the `timeseries.csv` column named `column` measures (the table in the module docs).
pub(crate) fn describe(column: &str) -> Column {
    let parts: Vec<&str> = column.split('/').collect();
    let s = |i: usize| parts[i].to_string();
    let col = |family: String, series: &str, object: String, labels: Labels| Column {
        family,
        series: series.to_string(),
        object,
        labels,
    };
    match parts.as_slice() {
        [one] => col(
            format!("kscale_{}", sanitize(one)),
            one,
            String::new(),
            vec![],
        ),
        ["deploy", ns, name, f] => col(
            format!("kscale_deployment_{}", sanitize(f)),
            f,
            format!("deployment/{ns}/{name}"),
            vec![("namespace", s(1)), ("name", s(2))],
        ),
        ["sts", ns, name, f] => col(
            format!("kscale_statefulset_{}", sanitize(f)),
            f,
            format!("statefulset/{ns}/{name}"),
            vec![("namespace", s(1)), ("name", s(2))],
        ),
        ["hpa", ns, name, f] => col(
            format!("kscale_hpa_{}", sanitize(f)),
            f,
            format!("hpa/{ns}/{name}"),
            vec![("namespace", s(1)), ("name", s(2))],
        ),
        ["hpa", ns, name, metric, which @ ("current" | "target")] => col(
            format!("kscale_hpa_metric_{which}"),
            &format!("metric_{which}"),
            format!("hpa/{ns}/{name}"),
            vec![
                ("namespace", s(1)),
                ("name", s(2)),
                ("metric", metric.to_string()),
            ],
        ),
        ["load", ns, kind, name, f] => col(
            format!("kscale_load_{}", sanitize(f)),
            f,
            format!("{kind}/{ns}/{name}"),
            vec![("namespace", s(1)), ("kind", s(2)), ("name", s(3))],
        ),
        ["nodes", "capacity", x] => col(
            "kscale_nodes_by_capacity_type".into(),
            "nodes_by_capacity_type",
            String::new(),
            vec![("capacity_type", x.to_string())],
        ),
        ["nodes", "group", x] => col(
            "kscale_nodes_by_group".into(),
            "nodes_by_group",
            String::new(),
            vec![("group", x.to_string())],
        ),
        ["nodes", "type", x] => col(
            "kscale_nodes_by_instance_type".into(),
            "nodes_by_instance_type",
            String::new(),
            vec![("instance_type", x.to_string())],
        ),
        ["vpa", ns, name, _, f] => col(
            format!("kscale_vpa_{}", sanitize(f)),
            f,
            format!("vpa/{ns}/{name}"),
            vec![("namespace", s(1)), ("name", s(2)), ("container", s(3))],
        ),
        [a, b] => col(
            format!("kscale_{}_{}", sanitize(a), sanitize(b)),
            &format!("{a}_{b}"),
            String::new(),
            vec![],
        ),
        _ => col(
            "kscale_series".into(),
            column,
            String::new(),
            vec![("series", column.to_string())],
        ),
    }
}

/// The rows of a `timeseries.csv` (first column `time_s`, then one column a series), read one
/// at a time with every cell checked; errors name the line (and column) and what is wrong.
pub(crate) struct CsvCells<R> {
    /// The CSV reader.
    reader: csv::Reader<R>,
    /// The header: `time_s` and the series' column names.
    headers: csv::StringRecord,
    /// The current row.
    record: csv::StringRecord,
    /// The current row's non-empty cells: (column index among the series, value).
    cells: Vec<(usize, f64)>,
    /// Line number of the current row (1 is the header).
    line: usize,
}

/// One row of a `timeseries.csv`, borrowed from [`CsvCells`].
pub(crate) struct CsvRow<'a> {
    /// Seconds since the run's start (`time_s`).
    pub time: f64,
    /// The row's raw fields, `time_s` first.
    record: &'a csv::StringRecord,
    /// The non-empty cells: (column index among the series, value).
    cells: &'a [(usize, f64)],
}

impl CsvRow<'_> {
    /// The non-empty cells: (column index among the series, the cell's text, its value).
    pub fn cells(&self) -> impl Iterator<Item = (usize, &str, f64)> + '_ {
        self.cells
            .iter()
            .map(|&(i, v)| (i, self.record.get(i + 1).unwrap_or_default(), v))
    }
}

impl<R: std::io::Read> CsvCells<R> {
    /// Reads the header from `input`; an error if it is not a kscale `timeseries.csv` header.
    pub fn new(input: R) -> Result<Self, String> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(input);
        let headers = reader
            .headers()
            .map_err(|e| format!("line 1: {e}"))?
            .clone();
        if headers.is_empty() || headers.iter().all(str::is_empty) {
            return Err("line 1: no header (empty file): not a kscale timeseries.csv".into());
        }
        if headers.get(0) != Some("time_s") {
            return Err(
                "line 1: the first column is not time_s: not a kscale timeseries.csv".into(),
            );
        }
        Ok(Self {
            reader,
            headers,
            record: csv::StringRecord::new(),
            cells: Vec::new(),
            line: 1,
        })
    }

    /// The series' column names (the header without `time_s`).
    pub fn columns(&self) -> impl Iterator<Item = &str> + '_ {
        self.headers.iter().skip(1)
    }

    /// The next row, `None` at the end; an error for a row that does not parse, has a
    /// `time_s` that is not a finite number or a cell that is not a number.
    pub fn next_row(&mut self) -> Result<Option<CsvRow<'_>>, String> {
        self.line += 1;
        let line = self.line;
        match self.reader.read_record(&mut self.record) {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(e) => return Err(format!("line {line}: {e}")),
        }
        let time = self
            .record
            .get(0)
            .and_then(|x| x.parse::<f64>().ok())
            .filter(|t| t.is_finite())
            .ok_or_else(|| {
                format!(
                    "line {line}: time_s {:?} is not a finite number",
                    self.record.get(0).unwrap_or_default()
                )
            })?;
        self.cells.clear();
        for (i, v) in self.record.iter().enumerate().skip(1) {
            if v.is_empty() {
                continue;
            }
            let value = v.parse::<f64>().map_err(|_| {
                format!(
                    "line {line}, column {}: {v:?} is not a number",
                    self.headers.get(i).unwrap_or_default()
                )
            })?;
            self.cells.push((i - 1, value));
        }
        Ok(Some(CsvRow {
            time,
            record: &self.record,
            cells: &self.cells,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_described() {
        let d = describe("load/shop/deployment/web/served_rps");
        assert_eq!(d.family, "kscale_load_served_rps");
        assert_eq!(d.series, "served_rps");
        assert_eq!(d.object, "deployment/shop/web");
        assert_eq!(
            d.labels,
            vec![
                ("namespace", "shop".to_string()),
                ("kind", "deployment".to_string()),
                ("name", "web".to_string())
            ]
        );
        let d = describe("hpa/shop/web/cpu_utilization/target");
        assert_eq!(
            (d.family.as_str(), d.series.as_str(), d.object.as_str()),
            ("kscale_hpa_metric_target", "metric_target", "hpa/shop/web")
        );
        let d = describe("nodes/type/m5.large");
        assert_eq!(
            (d.family.as_str(), d.series.as_str(), d.object.as_str()),
            (
                "kscale_nodes_by_instance_type",
                "nodes_by_instance_type",
                ""
            )
        );
        let d = describe("karpenter/disrupting_nodes");
        assert_eq!(
            (d.family.as_str(), d.series.as_str(), d.labels.len()),
            (
                "kscale_karpenter_disrupting_nodes",
                "karpenter_disrupting_nodes",
                0
            )
        );
        let d = describe("vpa/shop/web/app/target_cpu_cores");
        assert_eq!(d.object, "vpa/shop/web");
        assert_eq!(d.labels[2], ("container", "app".to_string()));
        let d = describe("odd/a/b");
        assert_eq!(
            (d.family.as_str(), d.series.as_str()),
            ("kscale_series", "odd/a/b")
        );
    }

    #[test]
    fn rows_yield_non_empty_cells_and_errors_name_the_line() {
        let mut r = CsvCells::new("time_s,a,b\n0,1,\n10,,2.5\n".as_bytes()).unwrap();
        assert_eq!(r.columns().collect::<Vec<_>>(), ["a", "b"]);
        let row = r.next_row().unwrap().unwrap();
        assert_eq!(row.time, 0.0);
        assert_eq!(row.cells().collect::<Vec<_>>(), [(0, "1", 1.0)]);
        let row = r.next_row().unwrap().unwrap();
        assert_eq!(row.cells().collect::<Vec<_>>(), [(1, "2.5", 2.5)]);
        assert!(r.next_row().unwrap().is_none());

        let err = |text: &str| -> String {
            let mut r = match CsvCells::new(text.as_bytes()) {
                Ok(r) => r,
                Err(e) => return e,
            };
            loop {
                match r.next_row() {
                    Ok(Some(_)) => {}
                    Ok(None) => panic!("{text:?} read without error"),
                    Err(e) => return e,
                }
            }
        };
        assert!(err("").contains("empty file"), "{}", err(""));
        assert!(err("t,x\n").contains("time_s"));
        let e = err("time_s,x\n0,1\n5,abc\n");
        assert!(
            e.contains("line 3, column x") && e.contains("\"abc\""),
            "{e}"
        );
        let e = err("time_s,x\n0,1\nsoon,1\n");
        assert!(e.contains("line 3") && e.contains("\"soon\""), "{e}");
        let e = err("time_s,x\n0,1\n5,1,2\n");
        assert!(e.contains("line 3"), "{e}");
    }
}
