//! Field paths and field errors as the API server reports them
//! (`k8s.io/apimachinery/pkg/util/validation/field`: `path.go`, `errors.go`).
//!
//! An error prints as `FIELD: TYPE[: VALUE][: DETAIL]`, e.g.
//! `spec.template.spec.containers[0].image: Required value` or
//! `spec.tolerations[0].operator: Unsupported value: "Bogus": supported values: "Equal", "Exists"`.

use std::fmt;

/// A field path (`field.Path`): `spec.containers[0].resources.limits[cpu]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Path(String);

impl Path {
    /// A root path (`field.NewPath`).
    pub fn new(root: &str) -> Path {
        Path(root.to_string())
    }

    /// A child field (`Child`).
    pub fn child(&self, name: &str) -> Path {
        if self.0.is_empty() {
            Path(name.to_string())
        } else {
            Path(format!("{}.{name}", self.0))
        }
    }

    /// A list element (`Index`).
    pub fn index(&self, i: usize) -> Path {
        Path(format!("{}[{i}]", self.0))
    }

    /// A map entry (`Key`).
    pub fn key(&self, k: &str) -> Path {
        Path(format!("{}[{k}]", self.0))
    }

    /// The path as printed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What is wrong with a field (`field.ErrorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// `Not found`: a reference to something that does not exist.
    NotFound,
    /// `Required value`.
    Required,
    /// `Duplicate value`: a value that must be unique.
    Duplicate,
    /// `Invalid value`.
    Invalid,
    /// `Unsupported value`: not one of an enum's values.
    NotSupported,
    /// `Forbidden`: valid in form, not allowed here.
    Forbidden,
    /// `Too long`.
    TooLong,
    /// `Too many`: a list with too many items.
    TooMany,
}

impl ErrorType {
    fn text(self) -> &'static str {
        match self {
            ErrorType::NotFound => "Not found",
            ErrorType::Required => "Required value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Invalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
        }
    }
}

/// The offending value as `ErrorBody` prints it: numbers and booleans bare, strings quoted
/// (Go's `%q`), anything else as JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum BadValue {
    /// Not printed.
    Omit,
    /// A number or boolean, printed bare.
    Plain(String),
    /// A string, printed quoted.
    Str(String),
    /// A structured value, printed as JSON.
    Json(String),
}

impl From<i64> for BadValue {
    fn from(v: i64) -> Self {
        BadValue::Plain(v.to_string())
    }
}

impl From<i32> for BadValue {
    fn from(v: i32) -> Self {
        BadValue::Plain(v.to_string())
    }
}

impl From<f64> for BadValue {
    fn from(v: f64) -> Self {
        BadValue::Plain(v.to_string())
    }
}

impl From<bool> for BadValue {
    fn from(v: bool) -> Self {
        BadValue::Plain(v.to_string())
    }
}

impl From<&str> for BadValue {
    fn from(v: &str) -> Self {
        BadValue::Str(v.to_string())
    }
}

impl From<String> for BadValue {
    fn from(v: String) -> Self {
        BadValue::Str(v)
    }
}

impl From<&String> for BadValue {
    fn from(v: &String) -> Self {
        BadValue::Str(v.clone())
    }
}

impl From<&k8s_openapi::apimachinery::pkg::util::intstr::IntOrString> for BadValue {
    fn from(v: &k8s_openapi::apimachinery::pkg::util::intstr::IntOrString) -> Self {
        use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
        match v {
            IntOrString::Int(i) => BadValue::Plain(i.to_string()),
            IntOrString::String(s) => BadValue::Str(s.clone()),
        }
    }
}

impl From<&serde_json::Value> for BadValue {
    fn from(v: &serde_json::Value) -> Self {
        match v {
            serde_json::Value::String(s) => BadValue::Str(s.clone()),
            serde_json::Value::Number(n) => BadValue::Plain(n.to_string()),
            serde_json::Value::Bool(b) => BadValue::Plain(b.to_string()),
            other => BadValue::Json(other.to_string()),
        }
    }
}

/// One field error (`field.Error`).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// What is wrong.
    pub type_: ErrorType,
    /// Where.
    pub field: String,
    /// The value at fault.
    pub bad: BadValue,
    /// Why (may be empty).
    pub detail: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.type_.text())?;
        let show_value = !matches!(
            self.type_,
            ErrorType::Required | ErrorType::Forbidden | ErrorType::TooLong
        );
        if show_value {
            match &self.bad {
                BadValue::Omit => {}
                BadValue::Plain(s) | BadValue::Json(s) => write!(f, ": {s}")?,
                BadValue::Str(s) => write!(f, ": {s:?}")?,
            }
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// The errors of one object (`field.ErrorList`), in the order the API server finds them.
pub type ErrorList = Vec<FieldError>;

fn error(type_: ErrorType, path: &Path, bad: BadValue, detail: impl Into<String>) -> FieldError {
    FieldError {
        type_,
        field: path.as_str().to_string(),
        bad,
        detail: detail.into(),
    }
}

/// `field.Required`.
pub fn required(path: &Path, detail: impl Into<String>) -> FieldError {
    error(ErrorType::Required, path, BadValue::Omit, detail)
}

/// `field.Invalid`.
pub fn invalid(path: &Path, value: impl Into<BadValue>, detail: impl Into<String>) -> FieldError {
    error(ErrorType::Invalid, path, value.into(), detail)
}

/// `field.NotSupported`: the value and the values allowed.
pub fn not_supported(path: &Path, value: impl Into<BadValue>, valid: &[&str]) -> FieldError {
    let quoted: Vec<String> = valid.iter().map(|v| format!("{v:?}")).collect();
    let detail = if quoted.is_empty() {
        String::new()
    } else {
        format!("supported values: {}", quoted.join(", "))
    };
    error(ErrorType::NotSupported, path, value.into(), detail)
}

/// `field.Duplicate`.
pub fn duplicate(path: &Path, value: impl Into<BadValue>) -> FieldError {
    error(ErrorType::Duplicate, path, value.into(), "")
}

/// `field.NotFound`.
pub fn not_found(path: &Path, value: impl Into<BadValue>) -> FieldError {
    error(ErrorType::NotFound, path, value.into(), "")
}

/// `field.Forbidden`.
pub fn forbidden(path: &Path, detail: impl Into<String>) -> FieldError {
    error(ErrorType::Forbidden, path, BadValue::Omit, detail)
}

/// `field.TooLong`: `may not be more than N bytes`.
pub fn too_long(path: &Path, max: usize) -> FieldError {
    let unit = if max == 1 { "byte" } else { "bytes" };
    error(
        ErrorType::TooLong,
        path,
        BadValue::Omit,
        format!("may not be more than {max} {unit}"),
    )
}

/// `field.TooMany`: `must have at most N items`.
pub fn too_many(path: &Path, actual: usize, max: usize) -> FieldError {
    let unit = if max == 1 { "item" } else { "items" };
    error(
        ErrorType::TooMany,
        path,
        BadValue::Plain(actual.to_string()),
        format!("must have at most {max} {unit}"),
    )
}

/// The API server's message for an invalid object as kubectl prints it
/// (`cmd/util/helpers.go` `checkErr`, `MultilineError`): one error inline, several as a
/// bulleted list.
pub fn invalid_object_message(kind: &str, name: &str, errs: &[FieldError]) -> String {
    let head = format!("The {kind} \"{name}\" is invalid: ");
    match errs {
        [] => head.trim_end_matches([' ', ':']).to_string(),
        [one] => format!("{head}{one}"),
        many => {
            let items: Vec<String> = many.iter().map(ToString::to_string).collect();
            format!("{head}\n* {}", items.join("\n* "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages as upstream's `errors_test.go` (`TestMakeFuncs`, `TestErrorUsefulMessage`)
    /// shows them.
    #[test]
    fn errors_print_as_upstream() {
        let p = Path::new("spec")
            .child("containers")
            .index(0)
            .child("image");
        assert_eq!(
            required(&p, "").to_string(),
            "spec.containers[0].image: Required value"
        );
        let p = Path::new("spec")
            .child("tolerations")
            .index(1)
            .child("operator");
        assert_eq!(
            not_supported(&p, "Bogus", &["Equal", "Exists"]).to_string(),
            "spec.tolerations[1].operator: Unsupported value: \"Bogus\": supported values: \"Equal\", \"Exists\""
        );
        assert_eq!(
            invalid(
                &Path::new("spec.replicas"),
                -1i64,
                "must be greater than or equal to 0"
            )
            .to_string(),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(
            duplicate(&Path::new("spec.containers[1].name"), "c").to_string(),
            "spec.containers[1].name: Duplicate value: \"c\""
        );
        assert_eq!(
            forbidden(&Path::new("x"), "may not be set").to_string(),
            "x: Forbidden: may not be set"
        );
        assert_eq!(
            too_long(&Path::new("metadata.name"), 63).to_string(),
            "metadata.name: Too long: may not be more than 63 bytes"
        );
        let lim = Path::new("resources").child("limits").key("cpu");
        assert_eq!(lim.as_str(), "resources.limits[cpu]");
    }

    #[test]
    fn invalid_object_lists_several_errors() {
        let a = required(&Path::new("a"), "");
        let b = required(&Path::new("b"), "");
        assert_eq!(
            invalid_object_message("Deployment", "web", std::slice::from_ref(&a)),
            "The Deployment \"web\" is invalid: a: Required value"
        );
        assert_eq!(
            invalid_object_message("Deployment", "web", &[a, b]),
            "The Deployment \"web\" is invalid: \n* a: Required value\n* b: Required value"
        );
    }
}
