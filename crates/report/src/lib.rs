//! Run outputs of kscale.
//!
//! The twin fills a [`RunOutput`]; [`write_outputs`] turns it into the run directory:
//! `summary.json`, `events.jsonl`, `transcript.jsonl`, `timeseries.csv` and `report.html`.
//!
//! The files are written into a hidden staging directory next to the target and moved into
//! place only when all of them are complete, so a run directory is never half-written. Output
//! is deterministic: the same [`RunOutput`] gives byte-identical files.

mod chart;
mod columns;
mod compression;
mod error;
mod event_data;
mod format;
mod html;
mod interactive;
mod openmetrics;
mod render;
mod spill;
mod stream;
mod timeseries_parquet;
mod verdict;
mod write;

pub use compression::{
    AUTO_COMPRESS_BYTES, COMPRESSIBLE_FILES, Compression, gz_name, open_output, read_output,
};
pub use error::{RenderError, ReportError, ReportErrorKind};
pub use format::{format_hms, format_number};
pub use html::{MAX_HTML_EVENT_BYTES, is_marker_reason, markers_script, render_html};
pub use interactive::{
    MAX_CHART_OBJECTS, PACK_CHART_BYTES, SHOWN_OBJECTS, chart_figure, page_assets, page_scripts,
};
pub use openmetrics::timeseries_to_openmetrics;
pub use render::{
    render_events_jsonl, render_summary_json, render_timeseries_csv, render_transcript_jsonl,
};
pub use stream::RunWriter;
pub use timeseries_parquet::{
    ParquetExportError, ParquetStats, ROW_GROUP_ROWS, TIMESERIES_PARQUET,
    export_timeseries_parquet, timeseries_to_parquet,
};
pub use verdict::{Fact, Mark, Verdict, verdict};

/// Draws one line chart of `spec`'s columns of `ts` as a standalone `<svg>` element (as
/// `report.html` does), for pages other than a run's report.
pub fn render_chart_svg(ts: &TimeSeries, spec: &ChartSpec) -> Result<String, RenderError> {
    chart::render_chart(ts, spec)
}
pub use write::{
    LiveStaging, MARKER, OUTPUT_FILES, WriteOptions, check_output_dir, is_output_name,
    remove_live_staging, write_outputs, write_outputs_with,
};

use serde::Serialize;

/// The object an event is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InvolvedObject {
    /// Kind, e.g. `Pod`.
    pub kind: String,
    /// Namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// One Kubernetes-style event, one line of `events.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventRecord {
    /// Virtual time in seconds since the start of the run.
    pub time: f64,
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Reason, e.g. `Scheduled`, `FailedScheduling`, `Preempted`.
    pub reason: String,
    /// The object the event is about.
    #[serde(rename = "involvedObject")]
    pub involved_object: InvolvedObject,
    /// Human-readable message, worded as upstream where upstream has the event.
    pub message: String,
    /// Reporting component, e.g. `default-scheduler`.
    pub source: String,
}

/// One kubectl step, one line of `transcript.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TranscriptEntry {
    /// Virtual time of the step in seconds.
    pub at: f64,
    /// The command line as written in the scenario.
    pub command: String,
    /// kubectl-style exit code (0 ok, 1 error).
    #[serde(rename = "exitCode")]
    pub exit_code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// A table of samples over time; column 0 is `time_s`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimeSeries {
    /// Column names; the first is `time_s`.
    pub columns: Vec<String>,
    /// Rows of values, one per sample, same length as `columns`.
    pub rows: Vec<Vec<f64>>,
    /// Label of the x axis when column 0 is not time (e.g. a sweep parameter); `None` draws
    /// column 0 as time in minutes or hours.
    pub x_label: Option<String>,
}

impl TimeSeries {
    /// The position of the column `name`, if there is one.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

/// A chart of `report.html`: some columns of the time series on one y axis.
///
/// The y axis has one unit, `y_label` (`pods`, `cores`, `ms`, ...); a count unit
/// ([`is_count_unit`]) gets integer ticks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChartSpec {
    /// Title above the chart.
    pub title: String,
    /// Label of the y axis: its unit.
    pub y_label: String,
    /// Names of the time-series columns to draw, one line each.
    pub series: Vec<String>,
    /// Horizontal reference lines (targets, SLO thresholds) in the y axis's unit.
    pub guides: Vec<Guide>,
}

/// A horizontal line across a chart: a target or an SLO threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Guide {
    /// What it is (`SLO p99 500 ms (default/deployment/web)`).
    pub label: String,
    /// Where, in the chart's y unit.
    pub value: f64,
}

/// Whether an axis unit counts things (pods, nodes, replicas, ...): such an axis gets integer
/// ticks.
pub fn is_count_unit(unit: &str) -> bool {
    matches!(
        unit,
        "pods"
            | "nodes"
            | "replicas"
            | "writes"
            | "requests"
            | "instances"
            | "events"
            | "restarts"
            | "OOM kills"
            | "count"
    )
}

/// Everything a run produces.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutput {
    /// Scenario name (title of the report).
    pub name: String,
    /// Contents of `summary.json` (already structured by the twin).
    pub summary: serde_json::Value,
    /// Events in time order.
    pub events: Vec<EventRecord>,
    /// kubectl steps in order.
    pub transcript: Vec<TranscriptEntry>,
    /// Sampled time series.
    pub timeseries: TimeSeries,
    /// Charts to draw in `report.html`, in order.
    pub charts: Vec<ChartSpec>,
}
