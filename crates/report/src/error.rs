//! Errors of writing a run directory.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Writing a run directory failed; nothing partial was left behind.
///
/// Displays as `cannot write run output to DIR: WHAT`, e.g.
/// `cannot write run output to out/run1: write out/.run1.partial-42-0/summary.json: No space left on device`.
#[derive(Debug, thiserror::Error)]
#[error("cannot write run output to {}: {kind}", dir.display())]
pub struct ReportError {
    /// The run directory that was to be written.
    pub dir: PathBuf,
    /// What went wrong.
    pub kind: ReportErrorKind,
}

/// The cause of a [`ReportError`].
#[derive(Debug)]
pub enum ReportErrorKind {
    /// A filesystem operation failed.
    Io {
        /// The operation, e.g. `create directory`, `write`, `rename .x.partial-1-0 to`.
        op: String,
        /// The path the operation was applied to.
        path: PathBuf,
        /// The underlying error.
        error: io::Error,
    },
    /// The target must not (or cannot) be replaced; it was left untouched.
    Refused {
        /// Why, e.g. `it contains files kscale did not write (notes.txt); refusing to replace it`.
        reason: String,
    },
    /// A file's contents could not be produced from the run output.
    Render {
        /// The output file, e.g. `timeseries.csv`.
        file: &'static str,
        /// The problem.
        error: RenderError,
    },
}

impl fmt::Display for ReportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportErrorKind::Io { op, path, error } => {
                write!(f, "{op} {}: {error}", path.display())
            }
            ReportErrorKind::Refused { reason } => f.write_str(reason),
            ReportErrorKind::Render { file, error } => write!(f, "{file}: {error}"),
        }
    }
}

/// A run output that cannot be turned into a file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    /// A time-series row does not have one value per column.
    #[error("time-series row {row} has {len} values, expected {expected} (one per column)")]
    RaggedRow {
        /// 0-based row index.
        row: usize,
        /// Number of values in the row.
        len: usize,
        /// Number of columns.
        expected: usize,
    },
    /// Serialising JSON failed.
    #[error("JSON serialisation failed: {0}")]
    Json(String),
    /// Writing CSV failed.
    #[error("CSV serialisation failed: {0}")]
    Csv(String),
    /// Drawing a chart failed.
    #[error("cannot draw chart {title:?}: {reason}")]
    Chart {
        /// Title of the chart.
        title: String,
        /// What plotters reported.
        reason: String,
    },
}
