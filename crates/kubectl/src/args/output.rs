//! `-o/--output`: the formats of kubectl get's `PrintFlags.ToPrinter`
//! (k8s.io/kubectl/pkg/cmd/get/get_flags.go), with cli-runtime's genericclioptions
//! (`jsonpath_flags.go`, `template_flags.go`, `json_yaml_flags.go`, `name_flags.go`) and
//! kubectl's `customcolumn_flags.go` / `customcolumn.go`, tried in kubectl's order.

use crate::error::{ErrorKind, KubectlError, Result};
use crate::jsonpath::{JsonPath, relaxed_json_path_expression};

/// `-o/--output` formats the twin renders.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    /// `-o json`.
    Json,
    /// `-o yaml`.
    Yaml,
    /// `-o wide`: the default table plus extra columns.
    Wide,
    /// `-o name`: `kind.group/name` lines.
    Name,
    /// `-o jsonpath=TEMPLATE`: the template, known to parse.
    JsonPath(String),
    /// `-o jsonpath-as-json=TEMPLATE`: each run's values as an indented JSON array.
    JsonPathAsJson(String),
    /// `-o custom-columns=NAME:.metadata.name,...`: the columns, in order.
    CustomColumns(Vec<CustomColumn>),
}

/// One column of `-o custom-columns` (customcolumn.go `Column`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CustomColumn {
    /// The header, as given.
    pub header: String,
    /// The cells' JSONPath template in the `{.a.b}` form of
    /// [`relaxed_json_path_expression`]; parsed when printing, as kubectl does.
    pub field_spec: String,
}

/// The formats kubectl get allows, as its unknown-format error lists them (sorted).
const ALLOWED_FORMATS: &str = "custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,kyaml,name,template,templatefile,wide,yaml";

impl OutputFormat {
    /// Parses an `-o` value as kubectl get does: `json`, `yaml` and `name` in any case,
    /// `wide`, `jsonpath=T`, `jsonpath-as-json=T`, `custom-columns=SPEC`. Formats kubectl
    /// has and the twin does not (Go templates, files, `kyaml`) are refused as unsupported;
    /// anything else gets kubectl's error listing every format.
    pub fn parse(s: &str) -> Result<OutputFormat> {
        let invalid = |msg: String| KubectlError::new(ErrorKind::InvalidFlagValue, msg);
        let unsupported = |format: &str| {
            KubectlError::new(
                ErrorKind::Unsupported,
                format!("output format \"{format}\" is not supported by the kscale twin"),
            )
        };
        // `KubeTemplatePrintFlags`: jsonpath, then Go templates.
        if let Some((format, template)) =
            template_format(s, &["jsonpath", "jsonpath-file", "jsonpath-as-json"])
        {
            if template.is_empty() {
                return Err(invalid(
                    "template format specified but no template given".into(),
                ));
            }
            if format == "jsonpath-file" {
                return Err(unsupported(format));
            }
            JsonPath::parse(template)
                .map_err(|e| invalid(format!("error parsing jsonpath {template}, {e}")))?;
            return Ok(if format == "jsonpath" {
                OutputFormat::JsonPath(template.to_string())
            } else {
                OutputFormat::JsonPathAsJson(template.to_string())
            });
        }
        if let Some((format, template)) = template_format(
            s,
            &[
                "template",
                "go-template",
                "go-template-file",
                "templatefile",
            ],
        ) {
            if template.is_empty() {
                return Err(invalid(
                    "template format specified but no template given".into(),
                ));
            }
            return Err(unsupported(format));
        }
        match s.to_lowercase().as_str() {
            "json" => return Ok(OutputFormat::Json),
            "yaml" => return Ok(OutputFormat::Yaml),
            "kyaml" => return Err(unsupported("kyaml")),
            _ => {}
        }
        if s == "wide" {
            return Ok(OutputFormat::Wide);
        }
        if let Some((format, spec)) = template_format(s, &["custom-columns", "custom-columns-file"])
        {
            if spec.is_empty() {
                return Err(invalid(
                    "custom-columns format specified but no custom columns given".into(),
                ));
            }
            if format == "custom-columns-file" {
                return Err(unsupported(format));
            }
            return parse_custom_columns(spec).map(OutputFormat::CustomColumns);
        }
        if s.eq_ignore_ascii_case("name") {
            return Ok(OutputFormat::Name);
        }
        Err(invalid(format!(
            "unable to match a printer suitable for the output format {}, allowed formats are: {ALLOWED_FORMATS}",
            kscale_model::goflag::quote(s)
        )))
    }

    /// True for the formats `kubectl get` prints through `printGeneric` (get.go): every
    /// object of the command, whatever its kind, in one `List` (or the bare object when
    /// one was named) — `json`, `yaml`, `jsonpath`, `jsonpath-as-json`, `custom-columns`.
    /// Print them with [`print_generic`](crate::printers::print_generic).
    pub fn is_generic(&self) -> bool {
        !matches!(self, OutputFormat::Wide | OutputFormat::Name)
    }
}

/// `FORMAT=VALUE` or a bare `FORMAT` (value empty) among `formats`, as the template print
/// flags split an `-o` value.
fn template_format<'a>(s: &'a str, formats: &[&'static str]) -> Option<(&'static str, &'a str)> {
    formats.iter().find_map(|f| {
        let value = s.strip_prefix(f)?;
        match value.strip_prefix('=') {
            Some(v) => Some((*f, v)),
            None => value.is_empty().then_some((*f, "")),
        }
    })
}

/// `NewCustomColumnsPrinterFromSpec`: comma-separated `HEADER:PATH` pairs, each path
/// relaxed to `{.path}`.
fn parse_custom_columns(spec: &str) -> Result<Vec<CustomColumn>> {
    let invalid = |msg: String| KubectlError::new(ErrorKind::InvalidFlagValue, msg);
    spec.split(',')
        .map(|part| {
            let (header, path) = part.split_once(':').ok_or_else(|| {
                invalid(format!(
                    "unexpected custom-columns spec: {part}, expected <header>:<json-path-expr>"
                ))
            })?;
            Ok(CustomColumn {
                header: header.to_string(),
                field_spec: relaxed_json_path_expression(path).map_err(|e| invalid(e.message))?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::test_support::*;

    fn col(header: &str, field_spec: &str) -> CustomColumn {
        CustomColumn {
            header: header.into(),
            field_spec: field_spec.into(),
        }
    }

    /// Every way of giving `-o` a template, through shell-like tokenizing.
    #[test]
    fn template_forms() {
        let names = OutputFormat::JsonPath("{.items[*].metadata.name}".into());
        for line in [
            "get pods -o jsonpath='{.items[*].metadata.name}'",
            "get pods -o jsonpath={.items[*].metadata.name}",
            "get pods -o=jsonpath='{.items[*].metadata.name}'",
            "get pods --output jsonpath='{.items[*].metadata.name}'",
            "get pods --output=jsonpath=\"{.items[*].metadata.name}\"",
            "get pods -ojsonpath='{.items[*].metadata.name}'",
            "-o jsonpath='{.items[*].metadata.name}' get pods",
        ] {
            assert_eq!(p(line).global.output.as_ref(), Some(&names), "{line}");
        }
        assert_eq!(
            p(r#"get pods -o jsonpath='{range .items[*]}{.metadata.name}{"\t"}{.status.phase}{"\n"}{end}'"#)
                .global
                .output,
            Some(OutputFormat::JsonPath(
                r#"{range .items[*]}{.metadata.name}{"\t"}{.status.phase}{"\n"}{end}"#.into()
            ))
        );
        assert_eq!(
            p("get pod web-0 -o jsonpath-as-json={.spec}").global.output,
            Some(OutputFormat::JsonPathAsJson("{.spec}".into()))
        );
        assert_eq!(
            p("get pods -o custom-columns=NAME:.metadata.name,NODE:spec.nodeName,IMG:{.spec.containers[*].image}")
                .global
                .output,
            Some(OutputFormat::CustomColumns(vec![
                col("NAME", "{.metadata.name}"),
                col("NODE", "{.spec.nodeName}"),
                col("IMG", "{.spec.containers[*].image}"),
            ]))
        );
        assert_eq!(
            p("get pods -o=custom-columns='NAME:metadata.name,RSRC:metadata.resourceVersion'")
                .global
                .output,
            Some(OutputFormat::CustomColumns(vec![
                col("NAME", "{.metadata.name}"),
                col("RSRC", "{.metadata.resourceVersion}"),
            ]))
        );
        // A column spec keeps everything after the first `:`; an empty path is allowed.
        assert_eq!(
            OutputFormat::parse("custom-columns=A:,B:x:y").unwrap(),
            OutputFormat::CustomColumns(vec![col("A", ""), col("B", "{.x:y}")])
        );
        // json, yaml and name in any case (their flags lower-case the value); wide exactly;
        // an empty value is the default table.
        assert_eq!(
            p("get pods -o JSON").global.output,
            Some(OutputFormat::Json)
        );
        assert_eq!(
            p("get pods -o Yaml").global.output,
            Some(OutputFormat::Yaml)
        );
        assert_eq!(
            p("get pods -o NAME").global.output,
            Some(OutputFormat::Name)
        );
        assert_eq!(p("get pods -o ''").global.output, None);
        assert!(OutputFormat::JsonPath(String::new()).is_generic());
        assert!(!OutputFormat::Name.is_generic());
    }

    #[test]
    fn template_errors() {
        let all = "allowed formats are: custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,kyaml,name,template,templatefile,wide,yaml";
        for (line, want) in [
            (
                "get pods -o table",
                format!(
                    "error: unable to match a printer suitable for the output format \"table\", {all}"
                ),
            ),
            (
                "get pods -o Wide",
                format!(
                    "error: unable to match a printer suitable for the output format \"Wide\", {all}"
                ),
            ),
            (
                "get pods -o jsonpathx={.a}",
                format!(
                    "error: unable to match a printer suitable for the output format \"jsonpathx={{.a}}\", {all}"
                ),
            ),
            (
                "get pods -o jsonpath",
                "error: template format specified but no template given".into(),
            ),
            (
                "get pods -o jsonpath=",
                "error: template format specified but no template given".into(),
            ),
            (
                "get pods -o go-template=",
                "error: template format specified but no template given".into(),
            ),
            (
                "get pods -o jsonpath='{.items[*]'",
                "error: error parsing jsonpath {.items[*], unclosed action".into(),
            ),
            (
                "get pods -o jsonpath='{.items[?(@.x]}'",
                "error: error parsing jsonpath {.items[?(@.x]}, unterminated filter".into(),
            ),
            (
                "get pods -o 'jsonpath={*}'",
                "error: error parsing jsonpath {*}, unrecognized character in action: U+002A '*'"
                    .into(),
            ),
            (
                "get pods -o custom-columns",
                "error: custom-columns format specified but no custom columns given".into(),
            ),
            (
                "get pods -o custom-columns=",
                "error: custom-columns format specified but no custom columns given".into(),
            ),
            (
                "get pods -o custom-columns=NAME",
                "error: unexpected custom-columns spec: NAME, expected <header>:<json-path-expr>"
                    .into(),
            ),
            (
                "get pods -o custom-columns=NAME:.metadata.name,",
                "error: unexpected custom-columns spec: , expected <header>:<json-path-expr>"
                    .into(),
            ),
            (
                "get pods -o custom-columns=NAME:{.a}}",
                "error: unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'".into(),
            ),
        ] {
            assert_eq!(err(line), want, "{line}");
        }
        for (format, value) in [
            ("go-template", "go-template={{.metadata.name}}"),
            ("template", "template={{.metadata.name}}"),
            ("jsonpath-file", "jsonpath-file=t.txt"),
            ("custom-columns-file", "custom-columns-file=c.txt"),
            ("kyaml", "kyaml"),
        ] {
            let e = OutputFormat::parse(value).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Unsupported, "{value}");
            assert_eq!(
                e.detail(),
                format!("output format \"{format}\" is not supported by the kscale twin")
            );
        }
        assert_eq!(
            OutputFormat::parse("jsonpath={").unwrap_err().kind,
            ErrorKind::InvalidFlagValue
        );
    }
}
