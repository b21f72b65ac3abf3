//! kubectl for the kscale twin: pure logic, no cluster.
//!
//! - [`args`]: tokenize a scenario step (`kubectl scale deploy web --replicas=2`) like a
//!   shell and parse it into a typed [`Command`] plus [`GlobalFlags`], with kubectl's error
//!   wording ([`KubectlError`]).
//! - [`kinds`]: the resource types the twin knows and kubectl's names for them
//!   ([`resolve_kind`]: plurals, short names, `resource.group`).
//! - [`patch`]: `kubectl patch` over `serde_json::Value`: JSON patch, JSON merge patch and a
//!   schema-less strategic merge patch.
//! - [`printers`]: kubectl's tables (default and wide), `-o name|json|yaml`,
//!   `-o jsonpath=...`, `-o custom-columns=...`, ages, pod STATUS, and a brief `describe`.
//! - [`jsonpath`]: kubectl's JSONPath templates over `serde_json::Value` ([`JsonPath`]).
//!
//! The caller (the twin) resolves the objects, applies changes and validates values such as
//! negative replica counts ([`validate_replicas`]).

pub mod args;
pub mod error;
pub mod field_selector;
pub mod jsonpath;
pub mod kinds;
pub mod patch;
pub mod printers;
pub mod rollout_status;

pub use args::{
    Command, CreateCommand, CustomColumn, DeleteTarget, GlobalFlags, Invocation, MetaChange,
    ObjectRef, OutputFormat, TaintChange, Target, TopCommand, TopResource, TopSort, WaitFor,
    parse_args, parse_command_line, parse_taint_spec, tokenize, validate_replicas,
};
pub use error::{ErrorKind, KubectlError};
pub use jsonpath::{JsonPath, JsonPathError, relaxed_json_path_expression};
pub use kinds::{
    ALL_KINDS, Kind, KindInfo, qualified_plural_of, qualified_singular_of, resolve_kind,
};
pub use patch::{
    ListStrategy, PatchType, apply_patch, apply_patch_value, list_strategy, parse_patch_text,
    strategic_merge,
};
pub use printers::{
    DescribeEvent, PrintOptions, Printed, TopContainerUsage, TopNodeAvailable, TopNodeUsage,
    TopPodUsage, describe, describe_with, format_rfc3339, human_duration_ms, parse_rfc3339_ms,
    pod_status, print_generic, print_objects, print_top_nodes, print_top_pods, render_kind_table,
    render_table, to_json, to_yaml,
};
