//! Contents of the data files, rendered in memory.

use serde::Serialize;

use crate::format::format_number;
use crate::{EventRecord, RenderError, TimeSeries, TranscriptEntry};

/// Contents of `summary.json`: pretty-printed JSON (keys in the summary's order) and a newline.
pub fn render_summary_json(summary: &serde_json::Value) -> Result<String, RenderError> {
    let mut text =
        serde_json::to_string_pretty(summary).map_err(|e| RenderError::Json(e.to_string()))?;
    text.push('\n');
    Ok(text)
}

/// Contents of `events.jsonl`: one compact JSON object a line
/// (`time`, `type`, `reason`, `involvedObject` {`kind`, `namespace`, `name`}, `message`, `source`).
pub fn render_events_jsonl(events: &[EventRecord]) -> Result<String, RenderError> {
    jsonl(events)
}

/// Contents of `transcript.jsonl`: one compact JSON object a step
/// (`at`, `command`, `exitCode`, `stdout`, `stderr`).
pub fn render_transcript_jsonl(transcript: &[TranscriptEntry]) -> Result<String, RenderError> {
    jsonl(transcript)
}

fn jsonl<T: Serialize>(items: &[T]) -> Result<String, RenderError> {
    let mut out = String::new();
    for item in items {
        out.push_str(&serde_json::to_string(item).map_err(|e| RenderError::Json(e.to_string()))?);
        out.push('\n');
    }
    Ok(out)
}

/// Contents of `timeseries.csv`: a header of column names, then one line per row with numbers
/// formatted by [`format_number`] (non-finite values give empty cells).
///
/// Empty when there are no columns; fails when a row does not have one value per column.
pub fn render_timeseries_csv(ts: &TimeSeries) -> Result<String, RenderError> {
    if ts.columns.is_empty() {
        return match ts.rows.iter().position(|r| !r.is_empty()) {
            Some(row) => Err(RenderError::RaggedRow {
                row,
                len: ts.rows[row].len(),
                expected: 0,
            }),
            None => Ok(String::new()),
        };
    }
    let csv_err = |e: csv::Error| RenderError::Csv(e.to_string());
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(&ts.columns).map_err(csv_err)?;
    for (i, row) in ts.rows.iter().enumerate() {
        if row.len() != ts.columns.len() {
            return Err(RenderError::RaggedRow {
                row: i,
                len: row.len(),
                expected: ts.columns.len(),
            });
        }
        w.write_record(row.iter().map(|v| format_number(*v)))
            .map_err(csv_err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| RenderError::Csv(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| RenderError::Csv(e.to_string()))
}
