//! `--field-selector`: the API server's field selectors (apimachinery `fields.ParseSelector`:
//! `key=value`, `key==value`, `key!=value`, comma-separated, all must hold), over the fields
//! each resource supports (the registries' `GetAttrs` / field label conversions in
//! kubernetes/kubernetes `pkg/registry/*` and `pkg/apis/*/v1/conversion.go`).

use serde_json::Value;

use crate::kinds::Kind;

/// A parsed field selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<(String, bool, String)>,
}

impl FieldSelector {
    /// Parses `s`; an empty string selects everything.
    pub fn parse(s: &str) -> Result<FieldSelector, String> {
        let mut terms = vec![];
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (key, eq, value) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                ));
            };
            terms.push((key.trim().to_string(), eq, value.trim().to_string()));
        }
        Ok(FieldSelector { terms })
    }

    /// The API server's refusal of the first field `kind` does not support, if any: `field
    /// label not supported: KEY` for the kinds with their own field label conversion (core/v1
    /// and events conversion.go), else the scheme's default (`"KEY" is not a known field
    /// selector: only "metadata.name", "metadata.namespace"`).
    pub fn refusal(&self, kind: Kind) -> Option<String> {
        let own = own_fields(kind);
        self.terms.iter().map(|(k, _, _)| k.as_str()).find_map(|k| match own {
            Some(fields) => (!fields.contains(&k)).then(|| format!("field label not supported: {k}")),
            None => (!["metadata.name", "metadata.namespace"].contains(&k)).then(|| {
                format!("\"{k}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"")
            }),
        })
    }

    /// Whether the object `v` satisfies every term (a missing field reads as empty, a
    /// boolean as `true` / `false`).
    pub fn matches(&self, v: &Value) -> bool {
        self.terms.iter().all(|(k, eq, want)| {
            let path = format!("/{}", k.replace('.', "/"));
            let got = match v.pointer(&path) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(Value::Number(n)) => n.to_string(),
                None if k == "spec.unschedulable" || k == "spec.hostNetwork" => "false".into(),
                _ => String::new(),
            };
            (got == *want) == *eq
        })
    }

    /// The selector as given back in the API server's error (`key=value,...`).
    pub fn render(&self) -> String {
        self.terms
            .iter()
            .map(|(k, eq, v)| format!("{k}{}{v}", if *eq { "=" } else { "!=" }))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The fields of the kinds that register their own field label conversion (v1.37
/// `pkg/apis/core/v1/conversion.go`); `None`: the scheme's default (metadata only).
fn own_fields(kind: Kind) -> Option<&'static [&'static str]> {
    Some(match kind {
        Kind::Pod => &[
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ],
        Kind::Event => &[
            "metadata.name",
            "metadata.namespace",
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        Kind::Node => &["metadata.name", "spec.unschedulable"],
        Kind::Namespace => &["metadata.name", "status.phase"],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn terms_all_hold() {
        let s = FieldSelector::parse("status.phase=Running,spec.nodeName!=n1").unwrap();
        let pod = |phase: &str, node: &str| json!({"spec": {"nodeName": node}, "status": {"phase": phase}});
        assert!(s.matches(&pod("Running", "n2")));
        assert!(!s.matches(&pod("Running", "n1")));
        assert!(!s.matches(&pod("Pending", "n2")));
        assert!(
            FieldSelector::parse("reason==Killing")
                .unwrap()
                .matches(&json!({"reason": "Killing"}))
        );
        // A missing field reads as empty; booleans as text.
        assert!(
            FieldSelector::parse("spec.nodeName=")
                .unwrap()
                .matches(&json!({"spec": {}}))
        );
        assert!(
            FieldSelector::parse("spec.unschedulable=false")
                .unwrap()
                .matches(&json!({"spec": {}}))
        );
        assert!(FieldSelector::parse("phase").is_err());
    }

    #[test]
    fn unsupported_fields_are_refused_as_the_api_server_words_it() {
        // Both wordings checked against kube-apiserver v1.37.2.
        let s = FieldSelector::parse("metadata.name=a,status.podIP=1").unwrap();
        assert_eq!(s.refusal(Kind::Pod), None);
        assert_eq!(
            FieldSelector::parse("foo=bar")
                .unwrap()
                .refusal(Kind::Pod)
                .unwrap(),
            "field label not supported: foo"
        );
        assert_eq!(
            s.refusal(Kind::Deployment).unwrap(),
            "\"status.podIP\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        assert_eq!(
            FieldSelector::parse("reason=X")
                .unwrap()
                .refusal(Kind::Event),
            None
        );
    }
}
