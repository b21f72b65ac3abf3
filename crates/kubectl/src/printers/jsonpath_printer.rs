//! `-o jsonpath` and `-o jsonpath-as-json`: cli-runtime's `JSONPathPrinter`
//! (k8s.io/cli-runtime/pkg/printers/jsonpath.go) with kubectl's settings
//! (genericclioptions/jsonpath_flags.go: missing keys allowed).

use serde_json::Value;

use crate::error::{ErrorKind, KubectlError};
use crate::jsonpath::{JsonPath, go_sharp_v};

/// What `PrintObj` writes for `data` (the bare object or the `List`), or kubectl's error:
/// `error parsing jsonpath T, E` for a template that does not parse (`ToPrinter`), and for
/// one that fails on the data, the message with the template and the object as Go's
/// `%#v` shows them.
pub(super) fn print_jsonpath(
    template: &str,
    data: &Value,
    as_json: bool,
) -> Result<String, KubectlError> {
    let jp = JsonPath::parse(template).map_err(|e| {
        KubectlError::new(
            ErrorKind::InvalidFlagValue,
            format!("error parsing jsonpath {template}, {e}"),
        )
    })?;
    let out = if as_json {
        jp.execute_as_json(data)
    } else {
        jp.execute(data)
    };
    out.map_err(|e| {
        // kubectl's message ends in a newline that the stderr line's own newline replaces.
        KubectlError::new(
            ErrorKind::Template,
            format!(
                "error executing jsonpath {}: Error executing template: {e}. Printing more information for debugging the template:\n\ttemplate was:\n\t\t{template}\n\tobject given to jsonpath engine was:\n\t\t{}\n\n",
                kscale_model::goflag::quote(template),
                go_sharp_v(data)
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::args::OutputFormat;
    use crate::error::ErrorKind;
    use crate::kinds::Kind;
    use crate::printers::testing::*;
    use crate::printers::{PrintOptions, Printed, print_generic, print_objects};

    fn jsonpath(template: &str) -> PrintOptions {
        PrintOptions {
            format: Some(OutputFormat::JsonPath(template.into())),
            ..opts()
        }
    }

    /// A failing template: nothing on stdout, kubectl's message with the template and the
    /// `List` as Go's `%#v` prints it (checked against kubectl's printer code).
    #[test]
    fn execution_errors() {
        let cm = json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"n": "1<2"}});
        let out = print_objects(Kind::ConfigMap, &[cm], &jsonpath("{.items[5]}"));
        assert_eq!(out.stdout, "");
        assert_eq!(out.stderr, "");
        let e = out.error.unwrap();
        assert_eq!(e.kind, ErrorKind::Template);
        assert_eq!(
            e.message,
            "error: error executing jsonpath \"{.items[5]}\": Error executing template: array index out of bounds: index 5, length 1. Printing more information for debugging the template:\n\
             \ttemplate was:\n\
             \t\t{.items[5]}\n\
             \tobject given to jsonpath engine was:\n\
             \t\tmap[string]interface {}{\"apiVersion\":\"v1\", \"items\":[]interface {}{map[string]interface {}{\"data\":map[string]interface {}{\"n\":\"1<2\"}, \"kind\":\"ConfigMap\", \"metadata\":map[string]interface {}{\"name\":\"c\"}}}, \"kind\":\"List\", \"metadata\":map[string]interface {}{\"resourceVersion\":\"\"}}\n\n"
        );
        // A template that does not parse (only constructible without `OutputFormat::parse`).
        let out = print_objects(Kind::ConfigMap, &[], &jsonpath("{.a"));
        assert_eq!(
            out.error.unwrap().message,
            "error: error parsing jsonpath {.a, unclosed action"
        );
    }

    #[test]
    fn as_json_and_generic_formats() {
        let pods = &sample_pods()[..2];
        let out = print_objects(
            Kind::Pod,
            pods,
            &PrintOptions {
                format: Some(OutputFormat::JsonPathAsJson(
                    "{.items[*].metadata.name}".into(),
                )),
                ..opts()
            },
        );
        assert_eq!(out.stdout, "[\n    \"web-1\",\n    \"web-2\"\n]\n");
        // The generic formats ignore the kind: objects of several kinds print as one List.
        let mixed = [pods[0].clone(), deployment()];
        let out = print_generic(&mixed, &jsonpath("{.items[*].kind}")).unwrap();
        assert_eq!(out.stdout, "Pod Deployment");
        let json = print_generic(
            &mixed,
            &PrintOptions {
                format: Some(OutputFormat::Json),
                ..opts()
            },
        )
        .unwrap();
        assert!(
            json.stdout
                .starts_with("{\n    \"apiVersion\": \"v1\",\n    \"items\": [")
        );
        for format in [None, Some(OutputFormat::Wide), Some(OutputFormat::Name)] {
            let o = PrintOptions { format, ..opts() };
            assert_eq!(print_generic(&mixed, &o), None);
        }
        // No objects: the template runs over an empty List; nothing goes to stderr.
        let out = print_objects(
            Kind::Pod,
            &[],
            &jsonpath(r#"{.kind}{range .items[*]}{.metadata.name}{"\n"}{end}"#),
        );
        assert_eq!(
            out,
            Printed {
                stdout: "List".into(),
                ..Printed::default()
            }
        );
    }
}
