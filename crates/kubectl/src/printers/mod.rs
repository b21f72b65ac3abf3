//! kubectl's output: default and wide tables, `-o name`, `-o json`, `-o yaml`,
//! `-o jsonpath`, `-o custom-columns`, ages, and a brief `describe`.
//!
//! Inputs are the JSON objects of one kind as the API server returns them. The current time
//! is passed as **milliseconds since the Unix epoch** ([`PrintOptions::now_ms`]), the unit of
//! the twin's virtual clock; object timestamps are RFC 3339 strings (`creationTimestamp`).
//!
//! Table layout follows kubectl's tabwriter (k8s.io/cli-runtime/pkg/printers: minimum cell
//! width 6, padding 3, left aligned, last column unpadded). Columns and cell contents follow
//! `k8s.io/kubernetes/pkg/printers/internalversion/printers.go`; Karpenter kinds use their
//! CRDs' `additionalPrinterColumns`. Rows are printed in the order given (the API server
//! sorts lists by namespace, then name).
//!
//! Files, grouped by kind as upstream's printers.go: `pods.rs`, `nodes.rs`, `apps.rs`
//! (deployments, replicasets, statefulsets, daemonsets), `hpa.rs`, `events.rs`, `corev1.rs`
//! (namespaces, configmaps, serviceaccounts, services), `policy.rs` (priorityclasses, PDBs),
//! `rbac.rs`, `karpenter.rs`; shared `cells.rs` and `time.rs`; the layout in `table.rs`;
//! `json.rs`, `yaml.rs`, `jsonpath_printer.rs`, `custom_columns.rs` and `describe.rs`.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::args::OutputFormat;
use crate::error::KubectlError;
use crate::kinds::Kind;

mod apps;
mod cells;
mod corev1;
mod custom_columns;
mod describe;
mod describe_pod;
mod describe_template;
mod events;
mod hpa;
mod json;
mod jsonpath_printer;
mod karpenter;
mod nodes;
mod pods;
mod policy;
mod rbac;
mod table;
#[cfg(test)]
mod testing;
mod time;
mod top;
mod vpa;
mod yaml;

use cells::name_of;
pub use describe::{DescribeEvent, describe, describe_with};
pub use json::to_json;
pub use pods::pod_status;
pub use table::{render_kind_table, render_table};
pub use time::{format_rfc3339, human_duration_ms, parse_rfc3339_ms};
pub use top::{
    TopContainerUsage, TopNodeAvailable, TopNodeUsage, TopPodUsage, print_top_nodes, print_top_pods,
};
pub use yaml::to_yaml;

/// How to print a `get` result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintOptions {
    /// `-o`; `None` is the default table.
    pub format: Option<OutputFormat>,
    /// The current (virtual) time, milliseconds since the Unix epoch; ages are measured to it.
    pub now_ms: i64,
    /// `-A`: adds the leading NAMESPACE column and changes the empty-result message.
    pub all_namespaces: bool,
    /// The namespace that was listed, for `No resources found in NS namespace.`.
    pub namespace: String,
    /// The command named exactly one object (`get pod web-0`): `-o json|yaml` then prints
    /// the bare object rather than a `List`.
    pub single_object: bool,
    /// Prefix names with `kind.group/` as kubectl does when a `get` spans several kinds.
    pub with_kind: bool,
    /// `-L`: a column per label key (header: the key's last `/` segment in upper case).
    pub label_columns: Vec<String>,
    /// `--show-labels`: a last LABELS column (`k=v,...` sorted by key, `<none>` when empty).
    pub show_labels: bool,
}

impl Default for PrintOptions {
    fn default() -> Self {
        PrintOptions {
            format: None,
            now_ms: 0,
            all_namespaces: false,
            namespace: "default".to_string(),
            single_object: false,
            with_kind: false,
            label_columns: vec![],
            show_labels: false,
        }
    }
}

/// What kubectl would write: stdout and stderr kept apart (`No resources found ...` goes to
/// stderr), and the error that ends the command, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Printed {
    /// Standard output: newline-terminated for tables, `-o name|json|yaml`; for `-o jsonpath`
    /// exactly what the template makes (kubectl adds no newline).
    pub stdout: String,
    /// Standard error, newline-terminated when non-empty.
    pub stderr: String,
    /// A failure while printing (`-o jsonpath` or `-o custom-columns` over these objects):
    /// kubectl writes `stdout` (for custom-columns, the lines before the failure), then the
    /// error's message and a newline on stderr, and exits with status 1.
    pub error: Option<KubectlError>,
}

/// Prints the result of `kubectl get` for objects of one kind, in the format of
/// `opts.format`. Empty results give kubectl's `No resources found...` on stderr for tables,
/// nothing for `-o name`; the formats of [`print_generic`] go through it (the kind is then
/// unused).
pub fn print_objects(kind: Kind, objects: &[Value], opts: &PrintOptions) -> Printed {
    if let Some(out) = print_generic(objects, opts) {
        return out;
    }
    let mut out = Printed::default();
    match &opts.format {
        Some(OutputFormat::Name) => {
            for o in objects {
                let _ = writeln!(
                    out.stdout,
                    "{}/{}",
                    kind.info().qualified_singular(),
                    name_of(o)
                );
            }
        }
        _ => {
            if objects.is_empty() {
                out.stderr = if opts.all_namespaces || !kind.info().namespaced {
                    "No resources found\n".to_string()
                } else {
                    format!("No resources found in {} namespace.\n", opts.namespace)
                };
            } else {
                out.stdout = render_kind_table(kind, objects, opts);
            }
        }
    }
    out
}

/// Prints the result of `kubectl get` as kubectl's `printGeneric` (get.go) does for
/// `-o json|yaml|jsonpath=T|jsonpath-as-json=T|custom-columns=SPEC`
/// ([`OutputFormat::is_generic`]): `objects` are every object the command got, of any
/// kinds, in kubectl's order; they are printed as one `List` (`apiVersion: v1`,
/// `kind: List`, `items`, `metadata.resourceVersion: ""`), or bare when the command named
/// exactly one object (`opts.single_object`) and got it. Nothing goes to stderr, also when
/// there are no objects (an empty `List`: custom-columns prints its header line).
/// `None` for the table, wide and name formats.
pub fn print_generic(objects: &[Value], opts: &PrintOptions) -> Option<Printed> {
    let format = opts.format.as_ref()?;
    let data = wrap_list(objects, opts.single_object);
    let text = |r: Result<String, KubectlError>| match r {
        Ok(stdout) => Printed {
            stdout,
            ..Printed::default()
        },
        Err(e) => Printed {
            error: Some(e),
            ..Printed::default()
        },
    };
    Some(match format {
        OutputFormat::Wide | OutputFormat::Name => return None,
        OutputFormat::Json => text(Ok(to_json(&data))),
        OutputFormat::Yaml => text(Ok(to_yaml(&data))),
        OutputFormat::JsonPath(t) => text(jsonpath_printer::print_jsonpath(t, &data, false)),
        OutputFormat::JsonPathAsJson(t) => text(jsonpath_printer::print_jsonpath(t, &data, true)),
        OutputFormat::CustomColumns(columns) => {
            custom_columns::print_custom_columns(columns, &data)
        }
    })
}

/// kubectl's `-o json|yaml` wrapping: one named object prints bare, anything else as a `List`.
fn wrap_list(objects: &[Value], single: bool) -> Value {
    if single && objects.len() == 1 {
        return objects[0].clone();
    }
    let mut m = Map::new();
    m.insert("apiVersion".into(), Value::String("v1".into()));
    m.insert("items".into(), Value::Array(objects.to_vec()));
    m.insert("kind".into(), Value::String("List".into()));
    let mut md = Map::new();
    md.insert("resourceVersion".into(), Value::String(String::new()));
    m.insert("metadata".into(), Value::Object(md));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printers::testing::*;

    #[test]
    fn empty_results_go_to_stderr() {
        let out = print_objects(Kind::Pod, &[], &opts());
        assert_eq!(
            out,
            Printed {
                stdout: String::new(),
                stderr: "No resources found in default namespace.\n".into(),
                error: None,
            }
        );
        let out = print_objects(Kind::Node, &[], &opts());
        assert_eq!(out.stderr, "No resources found\n");
        let out = print_objects(
            Kind::Pod,
            &[],
            &PrintOptions {
                all_namespaces: true,
                ..opts()
            },
        );
        assert_eq!(out.stderr, "No resources found\n");
        let out = print_objects(
            Kind::Pod,
            &[],
            &PrintOptions {
                format: Some(OutputFormat::Name),
                ..opts()
            },
        );
        assert_eq!(out, Printed::default());
    }

    /// Two pods, one not scheduled.
    fn two_pods() -> Vec<Value> {
        let mut pods = sample_pods()[..2].to_vec();
        pods[1]["spec"].as_object_mut().unwrap().remove("nodeName");
        pods
    }

    fn with_format(format: &str) -> PrintOptions {
        PrintOptions {
            format: Some(OutputFormat::parse(format).unwrap()),
            ..opts()
        }
    }

    #[test]
    fn jsonpath_output() {
        let pods = two_pods();
        let out = print_objects(
            Kind::Pod,
            &pods,
            &with_format("jsonpath={.items[*].metadata.name}"),
        );
        assert_eq!(
            out,
            Printed {
                stdout: "web-1 web-2".into(),
                ..Printed::default()
            }
        );
        let out = print_objects(
            Kind::Pod,
            &pods,
            &with_format(
                r#"jsonpath={range .items[*]}{.metadata.name}{"\t"}{.status.phase}{"\n"}{end}"#,
            ),
        );
        assert_eq!(out.stdout, "web-1\tRunning\nweb-2\tPending\n");
        // One named object prints bare; a missing field prints nothing.
        let single = PrintOptions {
            single_object: true,
            ..with_format("jsonpath={.metadata.name} {.spec.nodeName} {.spec.replicas}")
        };
        assert_eq!(
            print_objects(Kind::Pod, &pods[..1], &single).stdout,
            "web-1 node-1 "
        );
        let single = PrintOptions {
            single_object: true,
            ..with_format("jsonpath={.items[*].metadata.name}")
        };
        assert_eq!(print_objects(Kind::Pod, &pods[..1], &single).stdout, "");
        // Several objects asked by name still print as a List.
        let named = PrintOptions {
            single_object: false,
            ..with_format("jsonpath={.kind}:{.items[0].status.containerStatuses[0].state}")
        };
        assert_eq!(
            print_objects(Kind::Pod, &pods[..1], &named).stdout,
            r#"List:{"running":{"startedAt":"2024-05-01T11:55:05Z"}}"#
        );
    }

    #[test]
    fn custom_columns_output() {
        let pods = two_pods();
        let cc = with_format("custom-columns=NAME:.metadata.name,NODE:.spec.nodeName");
        let out = print_objects(Kind::Pod, &pods, &cc);
        assert_eq!(
            out,
            Printed {
                stdout: "NAME    NODE\nweb-1   node-1\nweb-2   <none>\n".into(),
                ..Printed::default()
            }
        );
        // One named object: one row.
        let single = PrintOptions {
            single_object: true,
            ..cc.clone()
        };
        assert_eq!(
            print_objects(Kind::Pod, &pods[1..], &single).stdout,
            "NAME    NODE\nweb-2   <none>\n"
        );
        // No objects: the header alone, nothing on stderr.
        assert_eq!(
            print_objects(Kind::Pod, &[], &cc),
            Printed {
                stdout: "NAME   NODE\n".into(),
                ..Printed::default()
            }
        );
        // Several values joined by commas; a failing column stops the table after the
        // rows already written.
        let out = print_objects(
            Kind::Pod,
            &pods,
            &with_format(
                "custom-columns=NAME:.metadata.name,CONTAINERS:.spec.containers[*].name,X:.status.containerStatuses[0].state.running.startedAt",
            ),
        );
        assert_eq!(
            out.stdout,
            "NAME    CONTAINERS   X\nweb-1   app          2024-05-01T11:55:05Z\nweb-2   app          <none>\n"
        );
        let out = print_objects(
            Kind::Pod,
            &pods,
            &with_format("custom-columns=NAME:.metadata.name,C:.spec.containers[1].name"),
        );
        assert_eq!(out.stdout, "NAME   C\n");
        assert_eq!(
            out.error.unwrap().message,
            "error: array index out of bounds: index 1, length 1"
        );
    }

    #[test]
    fn name_output_and_kind_prefix() {
        let out = print_objects(
            Kind::Deployment,
            &[deployment()],
            &PrintOptions {
                format: Some(OutputFormat::Name),
                ..opts()
            },
        );
        assert_eq!(out.stdout, "deployment.apps/nginx-app\n");
        let pods = &sample_pods()[..1];
        let out = print_objects(
            Kind::Pod,
            pods,
            &PrintOptions {
                format: Some(OutputFormat::Name),
                ..opts()
            },
        );
        assert_eq!(out.stdout, "pod/web-1\n");
        let out = print_objects(
            Kind::Deployment,
            &[deployment()],
            &PrintOptions {
                with_kind: true,
                ..opts()
            },
        );
        assert!(
            out.stdout.contains("\ndeployment.apps/nginx-app   2/3"),
            "{}",
            out.stdout
        );
    }
}
