//! Input errors: everything a user can get wrong, located by file, line and field.
//!
//! Every variant is reported by the CLI with exit code 2. Runtime problems inside a run (a
//! kubectl step that fails) are not errors: they are recorded in the transcript, as kubectl would
//! print them.

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem with the user's input, with enough location to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The file at fault.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// 1-based column, when known.
    pub column: Option<u64>,
    /// Dotted field path (e.g. `spec.duration`), when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl InputError {
    /// An error about a whole file.
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        InputError {
            file: file.to_path_buf(),
            line: None,
            column: None,
            field: None,
            message: message.into(),
        }
    }

    /// An error at a line (and optionally column) of a file.
    pub fn at(file: &Path, line: u64, column: Option<u64>, message: impl Into<String>) -> Self {
        InputError {
            file: file.to_path_buf(),
            line: Some(line),
            column,
            field: None,
            message: message.into(),
        }
    }

    /// Attaches a field path.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": ")?;
        if let Some(field) = self
            .field
            .as_ref()
            .filter(|fl| !self.message.starts_with(fl.as_str()))
        {
            write!(f, "field {field}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for InputError {}
