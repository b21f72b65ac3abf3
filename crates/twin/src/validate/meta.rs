//! Object metadata, names, labels and label selectors as the API server validates them
//! (`k8s.io/apimachinery/pkg/api/validation/objectmeta.go`,
//! `pkg/apis/meta/v1/validation/validation.go`, `pkg/util/validation/validation.go`).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::field::{self, ErrorList, Path};

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
/// Annotations' total size limit (`TotalAnnotationSizeLimitB`, 256 KiB).
const ANNOTATIONS_LIMIT: usize = 256 * 1024;

/// `validation.IsDNS1123Label`: what is wrong with a DNS-1123 label (names of namespaces,
/// containers, ports, volumes).
pub fn dns1123_label_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    let label = !value.is_empty()
        && value
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !label {
        if is_dns_subdomain(value) && value.len() <= 253 {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(format!(
                "{DNS1123_LABEL_MSG} (e.g. 'my-name',  or '123-abc', regex used for validation is '{DNS1123_LABEL_FMT}')"
            ));
        }
    }
    errs
}

/// `validation.IsDNS1123Subdomain`: what is wrong with a DNS-1123 subdomain (most object
/// names).
pub fn dns1123_subdomain_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    let shape = !value.is_empty()
        && value.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                && l.starts_with(|c: char| c.is_ascii_alphanumeric())
                && l.ends_with(|c: char| c.is_ascii_alphanumeric())
        });
    if !shape {
        errs.push(format!(
            "{DNS1123_SUBDOMAIN_MSG} (e.g. 'example.com', regex used for validation is '{DNS1123_LABEL_FMT}(\\.{DNS1123_LABEL_FMT})*')"
        ));
    }
    errs
}

/// `path.IsValidPathSegmentName`: names of RBAC objects and HPAs' targets.
pub fn path_segment_errors(value: &str) -> Vec<String> {
    if value == "." || value == ".." {
        return vec![format!("may not be '{value}'")];
    }
    ["/", "%"]
        .iter()
        .filter(|s| value.contains(**s))
        .map(|s| format!("may not contain '{s}'"))
        .collect()
}

/// How a kind's names are checked (upstream's `ValidateNameFunc` per kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// A DNS-1123 subdomain (most kinds).
    Subdomain,
    /// A DNS-1123 label (Namespaces).
    Label,
    /// A path segment (RBAC kinds).
    PathSegment,
}

impl NameRule {
    fn errors(self, name: &str) -> Vec<String> {
        match self {
            NameRule::Subdomain => dns1123_subdomain_errors(name),
            NameRule::Label => dns1123_label_errors(name),
            NameRule::PathSegment => path_segment_errors(name),
        }
    }
}

/// `ValidateObjectMeta`: name (or generateName), namespace, labels and annotations. A
/// namespaced object without a namespace is in the default namespace (as kubectl sends it);
/// a cluster-scoped one must not name one.
pub fn object_meta(meta: &ObjectMeta, namespaced: bool, rule: NameRule) -> ErrorList {
    let p = Path::new("metadata");
    let mut errs = ErrorList::new();
    if let Some(g) = meta.generate_name.as_deref().filter(|g| !g.is_empty()) {
        // A generated name is the prefix plus 5 characters: the prefix may end in '-'.
        let probe = format!("{g}x");
        for m in rule.errors(&probe) {
            errs.push(field::invalid(&p.child("generateName"), g, m));
        }
    }
    match meta.name.as_deref().filter(|n| !n.is_empty()) {
        None => errs.push(field::required(
            &p.child("name"),
            "name or generateName is required",
        )),
        Some(name) => {
            for m in rule.errors(name) {
                errs.push(field::invalid(&p.child("name"), name, m));
            }
        }
    }
    match (
        namespaced,
        meta.namespace.as_deref().filter(|n| !n.is_empty()),
    ) {
        (true, Some(ns)) => {
            for m in dns1123_label_errors(ns) {
                errs.push(field::invalid(&p.child("namespace"), ns, m));
            }
        }
        (false, Some(_)) => errs.push(field::forbidden(
            &p.child("namespace"),
            "not allowed on this type",
        )),
        _ => {}
    }
    if let Some(l) = &meta.labels {
        errs.extend(labels(l, &p.child("labels")));
    }
    if let Some(a) = &meta.annotations {
        errs.extend(annotations(a, &p.child("annotations")));
    }
    errs
}

/// `ValidateLabels`: keys are qualified names, values label values.
pub fn labels(labels: &BTreeMap<String, String>, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    for (k, v) in labels {
        errs.extend(label_name(k, path));
        for m in label_value_errors(v) {
            errs.push(field::invalid(path, v, m));
        }
    }
    errs
}

/// `ValidateLabelName`.
pub fn label_name(key: &str, path: &Path) -> ErrorList {
    qualified_name_errors(key)
        .into_iter()
        .map(|m| field::invalid(path, key, m))
        .collect()
}

/// `ValidateAnnotations`: keys are qualified names (any case); 256 KiB in total.
pub fn annotations(annotations: &BTreeMap<String, String>, path: &Path) -> ErrorList {
    let mut errs: ErrorList = annotations
        .keys()
        .flat_map(|k| {
            qualified_name_errors(&k.to_lowercase())
                .into_iter()
                .map(move |m| field::invalid(path, k, m))
        })
        .collect();
    let size: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > ANNOTATIONS_LIMIT {
        errs.push(field::too_long(path, ANNOTATIONS_LIMIT));
    }
    errs
}

/// `ValidateLabelSelector`: matchLabels as labels; each expression's operator, values and key.
pub fn label_selector(sel: &LabelSelector, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(ml) = &sel.match_labels {
        errs.extend(labels(ml, &path.child("matchLabels")));
    }
    for (i, e) in sel.match_expressions.iter().flatten().enumerate() {
        let ep = path.child("matchExpressions").index(i);
        let values = e.values.as_deref().unwrap_or_default();
        match e.operator.as_str() {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(field::required(
                        &ep.child("values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(field::forbidden(
                        &ep.child("values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            op => errs.push(field::invalid(
                &ep.child("operator"),
                op,
                "not a valid selector operator",
            )),
        }
        errs.extend(label_name(&e.key, &ep.child("key")));
        for (j, v) in values.iter().enumerate() {
            for m in label_value_errors(v) {
                errs.push(field::invalid(&ep.child("values").index(j), v, m));
            }
        }
    }
    errs
}

/// Whether a selector selects nothing in particular (no labels, no expressions).
pub fn selector_is_empty(sel: &LabelSelector) -> bool {
    sel.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
        && sel.match_expressions.as_ref().is_none_or(Vec::is_empty)
}

/// Whether `sel` selects an object labelled `labels` (`metav1.LabelSelectorAsSelector` +
/// `Matches`).
pub fn selector_matches(sel: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let ml_ok = sel
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    ml_ok
        && sel.match_expressions.iter().flatten().all(|e| {
            let has = labels.get(&e.key);
            let values = e.values.as_deref().unwrap_or_default();
            match e.operator.as_str() {
                "In" => has.is_some_and(|v| values.contains(v)),
                "NotIn" => has.is_none_or(|v| !values.contains(v)),
                "Exists" => has.is_some(),
                "DoesNotExist" => has.is_none(),
                _ => false,
            }
        })
}

/// The "name part" rule of qualified names and label values: alphanumerics, `-`, `_`, `.`,
/// starting and ending with an alphanumeric.
fn is_name_part(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

const NAME_PART_RULE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/// What is wrong with a label or annotation key, in the API server's words
/// (`k8s.io/apimachinery/pkg/util/validation` `IsQualifiedName`, as v1.37 words it); empty
/// when it is valid.
pub fn qualified_name_errors(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else if !is_dns_subdomain(prefix) {
                errs.push("prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string());
            }
            name
        }
        _ => {
            return vec![format!(
                "a valid label key {NAME_PART_RULE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )];
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 bytes".to_string());
    }
    if !name.is_empty() && !is_name_part(name) {
        errs.push(format!("name part {NAME_PART_RULE}"));
    }
    errs
}

/// What is wrong with a label value (`IsValidLabelValue`); empty when it is valid.
pub fn label_value_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push("must be no more than 63 bytes".to_string());
    }
    if !value.is_empty() && !is_name_part(value) {
        errs.push("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".to_string());
    }
    errs
}

/// True if `s` is a DNS-1123 subdomain (lower-case alphanumerics, `-`, `.`; ≤ 253 chars).
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    #[test]
    fn names_as_upstream_checks_them() {
        assert!(dns1123_label_errors("kube-system").is_empty());
        assert_eq!(dns1123_label_errors("a.b"), vec!["must not contain dots"]);
        assert!(dns1123_label_errors("A")[0].starts_with("a lowercase RFC 1123 label"));
        assert_eq!(dns1123_label_errors(&"a".repeat(64)).len(), 1);
        assert!(dns1123_subdomain_errors("a.b-c").is_empty());
        assert!(!dns1123_subdomain_errors("a..b").is_empty());
        assert!(!dns1123_subdomain_errors("-a").is_empty());
        assert_eq!(path_segment_errors("a/b"), vec!["may not contain '/'"]);
        assert_eq!(path_segment_errors(".."), vec!["may not be '..'"]);
    }

    #[test]
    fn metadata_of_a_cluster_scoped_object_names_no_namespace() {
        let meta = ObjectMeta {
            name: Some("n".into()),
            namespace: Some("x".into()),
            ..Default::default()
        };
        let errs = object_meta(&meta, false, NameRule::Subdomain);
        assert_eq!(
            errs[0].to_string(),
            "metadata.namespace: Forbidden: not allowed on this type"
        );
        let meta = ObjectMeta {
            generate_name: Some("web-".into()),
            ..Default::default()
        };
        let errs = object_meta(&meta, true, NameRule::Subdomain);
        assert_eq!(
            errs[0].to_string(),
            "metadata.name: Required value: name or generateName is required"
        );
    }

    #[test]
    fn selector_requirements() {
        let sel = LabelSelector {
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "app".into(),
                    operator: "In".into(),
                    values: None,
                },
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "Exists".into(),
                    values: Some(vec!["x".into()]),
                },
                LabelSelectorRequirement {
                    key: "a b".into(),
                    operator: "Bogus".into(),
                    values: None,
                },
            ]),
            ..Default::default()
        };
        let msgs: Vec<String> = label_selector(&sel, &Path::new("spec.selector"))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            msgs[0],
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
        );
        assert_eq!(
            msgs[1],
            "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
        );
        assert_eq!(
            msgs[2],
            "spec.selector.matchExpressions[2].operator: Invalid value: \"Bogus\": not a valid selector operator"
        );
        assert!(
            msgs[3].starts_with("spec.selector.matchExpressions[2].key: Invalid value: \"a b\"")
        );
        let mut l = BTreeMap::new();
        l.insert("app".to_string(), "web".to_string());
        let sel = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "app".into(),
                operator: "In".into(),
                values: Some(vec!["web".into()]),
            }]),
            ..Default::default()
        };
        assert!(selector_matches(&sel, &l));
        assert!(!selector_is_empty(&sel));
    }
}
