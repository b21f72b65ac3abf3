//! The one error type of this crate.

/// What went wrong, coarsely; the [`KubectlError::message`] carries the detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The command line could not be split into words (unbalanced quotes, ...).
    Tokenize,
    /// `kubectl VERB` where VERB is not a kubectl command.
    UnknownCommand,
    /// A real kubectl command that the twin does not implement (`logs`, `exec`, ...).
    Unsupported,
    /// A resource type that neither kubectl nor the twin knows.
    UnknownResource,
    /// A flag the command does not define.
    UnknownFlag,
    /// A flag given without its value.
    MissingFlagValue,
    /// A flag marked required by kubectl was not given.
    RequiredFlag,
    /// A flag value that does not parse (`--replicas=two`).
    InvalidFlagValue,
    /// Wrong positional arguments or an invalid combination of flags.
    Usage,
    /// A patch that does not parse or does not apply.
    Patch,
    /// A value rejected by validation after parsing (negative replicas, ...).
    Validation,
    /// A `-o jsonpath` template or `-o custom-columns` column that fails on the objects
    /// being printed.
    Template,
}

/// An error in kubectl's own words.
///
/// `Display` prints [`KubectlError::message`], which starts with `error: ` like kubectl's
/// stderr line, e.g. `error: unknown command "frobnicate" for "kubectl"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct KubectlError {
    /// The category of the failure.
    pub kind: ErrorKind,
    /// The full line kubectl would print, including the `error: ` prefix.
    pub message: String,
}

impl KubectlError {
    /// True if the error may be fine at run time: a resource type kubectl's built-in table
    /// does not know may be a custom kind stored from the manifests (`kubectl get widgets`).
    pub fn may_be_custom_kind(&self) -> bool {
        self.kind == ErrorKind::UnknownResource
    }

    /// Builds an error; `detail` is prefixed with `error: `.
    pub fn new(kind: ErrorKind, detail: impl AsRef<str>) -> Self {
        KubectlError {
            kind,
            message: format!("error: {}", detail.as_ref()),
        }
    }

    /// The message without the leading `error: `.
    pub fn detail(&self) -> &str {
        self.message
            .strip_prefix("error: ")
            .unwrap_or(&self.message)
    }
}

/// Shorthand for `Result<T, KubectlError>`.
pub type Result<T> = std::result::Result<T, KubectlError>;
