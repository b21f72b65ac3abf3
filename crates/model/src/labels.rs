//! Label selectors, node selector terms, taints and tolerations (the subset the scheduler
//! and controllers evaluate), as plain Rust types independent of `k8s-openapi`.
//!
//! Semantics follow k8s.io/apimachinery/pkg/labels/selector.go and
//! k8s.io/component-helpers/scheduling/corev1 (taint/toleration and node affinity matching).

use std::collections::BTreeMap;

/// Labels of an object: ordered so that every iteration is deterministic.
pub type Labels = BTreeMap<String, String>;

/// Operator of a label-selector or node-selector requirement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectorOp {
    /// The label's value is one of the values.
    In,
    /// The label is absent or its value is none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
    /// The label's value, as an integer, is greater than the single value (node selectors).
    Gt,
    /// The label's value, as an integer, is less than the single value (node selectors).
    Lt,
}

impl SelectorOp {
    /// Parses an operator as written in manifests (`In`, `NotIn`, `Exists`, ...).
    pub fn parse(s: &str) -> Option<SelectorOp> {
        Some(match s {
            "In" => SelectorOp::In,
            "NotIn" => SelectorOp::NotIn,
            "Exists" => SelectorOp::Exists,
            "DoesNotExist" => SelectorOp::DoesNotExist,
            "Gt" => SelectorOp::Gt,
            "Lt" => SelectorOp::Lt,
            _ => return None,
        })
    }
}

/// One requirement: `key op values`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSelectorRequirement {
    /// Label key.
    pub key: String,
    /// Operator.
    pub op: SelectorOp,
    /// Values (meaning depends on the operator).
    pub values: Vec<String>,
}

impl NodeSelectorRequirement {
    /// True if `labels` satisfy this requirement.
    pub fn matches(&self, labels: &Labels) -> bool {
        let v = labels.get(&self.key);
        match self.op {
            SelectorOp::In => v.is_some_and(|v| self.values.iter().any(|x| x == v)),
            SelectorOp::NotIn => !v.is_some_and(|v| self.values.iter().any(|x| x == v)),
            SelectorOp::Exists => v.is_some(),
            SelectorOp::DoesNotExist => v.is_none(),
            SelectorOp::Gt | SelectorOp::Lt => {
                let (Some(v), Some(t)) = (v, self.values.first()) else {
                    return false;
                };
                let (Ok(v), Ok(t)) = (v.parse::<i64>(), t.parse::<i64>()) else {
                    return false;
                };
                if self.op == SelectorOp::Gt {
                    v > t
                } else {
                    v < t
                }
            }
        }
    }
}

impl NodeSelectorRequirement {
    /// Requirements (`key`, `operator`, `values`) from a JSON array (a selector's
    /// `matchExpressions`, a node selector term's, a NodePool's `requirements`); malformed
    /// ones are skipped, and so is anything but an array.
    pub fn list_from_json(v: Option<&serde_json::Value>) -> Vec<NodeSelectorRequirement> {
        v.and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| {
                Some(NodeSelectorRequirement {
                    key: r.get("key")?.as_str()?.to_string(),
                    op: SelectorOp::parse(r.get("operator")?.as_str()?)?,
                    values: r
                        .get("values")
                        .and_then(serde_json::Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect(),
                })
            })
            .collect()
    }
}

/// A label selector (`matchLabels` + `matchExpressions`); empty selects everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    /// Exact key/value matches.
    pub match_labels: Labels,
    /// Set-based requirements.
    pub match_expressions: Vec<NodeSelectorRequirement>,
}

impl LabelSelector {
    /// A selector of exact label matches.
    pub fn from_labels(l: Labels) -> Self {
        LabelSelector {
            match_labels: l,
            match_expressions: vec![],
        }
    }

    /// A `metav1.LabelSelector` from JSON: `matchLabels` (a value that is not a string is
    /// taken as its JSON text) and `matchExpressions` ([`NodeSelectorRequirement::list_from_json`]).
    pub fn from_json(v: &serde_json::Value) -> LabelSelector {
        LabelSelector {
            match_labels: v
                .get("matchLabels")
                .and_then(serde_json::Value::as_object)
                .into_iter()
                .flatten()
                .map(|(k, v)| {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    (k.clone(), v)
                })
                .collect(),
            match_expressions: NodeSelectorRequirement::list_from_json(v.get("matchExpressions")),
        }
    }

    /// True if the selector selects `labels`.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }

    /// True if the selector has no requirement at all (selects everything).
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Parses a kubectl `-l` selector: `a=b,c!=d,e in (x,y),f notin (z),g,!h`.
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        let mut sel = LabelSelector::default();
        for part in split_top_level(s) {
            let p = part.trim();
            if p.is_empty() {
                continue;
            }
            let req = |key: &str, op, values: Vec<String>| NodeSelectorRequirement {
                key: key.trim().to_string(),
                op,
                values,
            };
            if let Some(k) = p.strip_prefix('!') {
                sel.match_expressions
                    .push(req(k, SelectorOp::DoesNotExist, vec![]));
            } else if let Some((k, v)) = p.split_once("!=") {
                sel.match_expressions
                    .push(req(k, SelectorOp::NotIn, vec![v.trim().into()]));
            } else if let Some((k, v)) = p.split_once("==") {
                sel.match_labels.insert(k.trim().into(), v.trim().into());
            } else if let Some((k, v)) = p.split_once('=') {
                sel.match_labels.insert(k.trim().into(), v.trim().into());
            } else if let Some(idx) = find_set_op(p, " notin ") {
                let (k, rest) = p.split_at(idx);
                sel.match_expressions
                    .push(req(k, SelectorOp::NotIn, parse_set(&rest[7..], s)?));
            } else if let Some(idx) = find_set_op(p, " in ") {
                let (k, rest) = p.split_at(idx);
                sel.match_expressions
                    .push(req(k, SelectorOp::In, parse_set(&rest[4..], s)?));
            } else if p
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
            {
                sel.match_expressions
                    .push(req(p, SelectorOp::Exists, vec![]));
            } else {
                return Err(format!("invalid label selector {s:?}: cannot parse {p:?}"));
            }
        }
        Ok(sel)
    }
}

fn find_set_op(p: &str, op: &str) -> Option<usize> {
    p.find(op)
}

fn parse_set(rest: &str, whole: &str) -> Result<Vec<String>, String> {
    let r = rest.trim();
    let inner = r
        .strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .ok_or_else(|| format!("invalid label selector {whole:?}: expected (values)"))?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect())
}

fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = vec![];
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// A node selector term: all requirements must hold (terms are ORed by the caller).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSelectorTerm {
    /// Requirements on node labels.
    pub match_expressions: Vec<NodeSelectorRequirement>,
    /// Requirements on node fields (only `metadata.name` is meaningful).
    pub match_fields: Vec<NodeSelectorRequirement>,
}

impl NodeSelectorTerm {
    /// True if the node (labels, name) satisfies the term. An empty term matches nothing,
    /// as upstream (component-helpers nodeaffinity).
    pub fn matches(&self, labels: &Labels, node_name: &str) -> bool {
        if self.match_expressions.is_empty() && self.match_fields.is_empty() {
            return false;
        }
        let mut fields = Labels::new();
        fields.insert("metadata.name".into(), node_name.into());
        self.match_expressions.iter().all(|r| r.matches(labels))
            && self.match_fields.iter().all(|r| r.matches(&fields))
    }
}

/// Effect of a taint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaintEffect {
    /// New pods that do not tolerate it are not scheduled.
    NoSchedule,
    /// The scheduler avoids the node if it can.
    PreferNoSchedule,
    /// Running pods that do not tolerate it are evicted.
    NoExecute,
}

impl TaintEffect {
    /// Parses `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub fn parse(s: &str) -> Option<TaintEffect> {
        Some(match s {
            "NoSchedule" => TaintEffect::NoSchedule,
            "PreferNoSchedule" => TaintEffect::PreferNoSchedule,
            "NoExecute" => TaintEffect::NoExecute,
            _ => return None,
        })
    }

    /// The name as written in manifests.
    pub fn as_str(&self) -> &'static str {
        match self {
            TaintEffect::NoSchedule => "NoSchedule",
            TaintEffect::PreferNoSchedule => "PreferNoSchedule",
            TaintEffect::NoExecute => "NoExecute",
        }
    }
}

/// A node taint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taint {
    /// Key.
    pub key: String,
    /// Value (may be empty).
    pub value: String,
    /// Effect.
    pub effect: TaintEffect,
}

/// Taints (`key`, `value`, `effect`) from a JSON array (a node's `spec.taints`, a NodePool's
/// template taints); malformed ones are skipped, and so is anything but an array.
pub fn taints_from_json(v: Option<&serde_json::Value>) -> Vec<Taint> {
    v.and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| {
            Some(Taint {
                key: t.get("key")?.as_str()?.into(),
                value: t
                    .get("value")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("")
                    .into(),
                effect: TaintEffect::parse(t.get("effect")?.as_str()?)?,
            })
        })
        .collect()
}

/// A JSON object of strings (labels, annotations) as an ordered map; a value that is not a
/// string is rendered as JSON, anything but an object reads as empty.
pub fn string_map_from_json(v: Option<&serde_json::Value>) -> BTreeMap<String, String> {
    v.and_then(serde_json::Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Operator of a toleration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TolerationOp {
    /// Key and value must match (the default).
    Equal,
    /// Key must match (or be empty: tolerate everything).
    Exists,
}

/// A pod toleration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toleration {
    /// Key; empty with `Exists` tolerates every taint.
    pub key: String,
    /// Operator.
    pub op: TolerationOp,
    /// Value for `Equal`.
    pub value: String,
    /// Effect; `None` matches every effect.
    pub effect: Option<TaintEffect>,
}

impl Toleration {
    /// True if this toleration tolerates `taint` (upstream `ToleratesTaint`).
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if self.effect.is_some_and(|e| e != taint.effect) {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.op {
            TolerationOp::Exists => true,
            TolerationOp::Equal => self.value == taint.value,
        }
    }
}

/// True if every taint with one of `effects` is tolerated by some toleration.
pub fn tolerates_all(
    tolerations: &[Toleration],
    taints: &[Taint],
    effects: &[TaintEffect],
) -> bool {
    taints
        .iter()
        .filter(|t| effects.contains(&t.effect))
        .all(|t| tolerations.iter().any(|tol| tol.tolerates(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn selector_parse_and_match() {
        let s =
            LabelSelector::parse("app=web,tier!=db,env in (prod, staging),!legacy,zone").unwrap();
        assert!(s.matches(&labels(&[("app", "web"), ("env", "prod"), ("zone", "a")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("env", "dev"), ("zone", "a")])));
        assert!(!s.matches(&labels(&[
            ("app", "web"),
            ("env", "prod"),
            ("zone", "a"),
            ("legacy", "1")
        ])));
        assert!(!s.matches(&labels(&[("app", "web"), ("env", "prod")])));
        assert!(LabelSelector::parse("").unwrap().matches(&labels(&[])));
        assert!(LabelSelector::parse("a in x").is_err());
    }

    #[test]
    fn tolerations() {
        let t = Taint {
            key: "CriticalAddonsOnly".into(),
            value: "true".into(),
            effect: TaintEffect::NoSchedule,
        };
        let exists = Toleration {
            key: "CriticalAddonsOnly".into(),
            op: TolerationOp::Exists,
            value: String::new(),
            effect: None,
        };
        let wrong = Toleration {
            key: "CriticalAddonsOnly".into(),
            op: TolerationOp::Equal,
            value: "false".into(),
            effect: None,
        };
        let all = Toleration {
            key: String::new(),
            op: TolerationOp::Exists,
            value: String::new(),
            effect: None,
        };
        assert!(exists.tolerates(&t));
        assert!(!wrong.tolerates(&t));
        assert!(all.tolerates(&t));
        assert!(!tolerates_all(
            &[wrong],
            std::slice::from_ref(&t),
            &[TaintEffect::NoSchedule]
        ));
        assert!(tolerates_all(&[], &[t], &[TaintEffect::NoExecute]));
    }

    #[test]
    fn node_selector_terms() {
        let term = NodeSelectorTerm {
            match_expressions: vec![NodeSelectorRequirement {
                key: "cpu".into(),
                op: SelectorOp::Gt,
                values: vec!["4".into()],
            }],
            match_fields: vec![],
        };
        assert!(term.matches(&labels(&[("cpu", "8")]), "n1"));
        assert!(!term.matches(&labels(&[("cpu", "2")]), "n1"));
        assert!(!NodeSelectorTerm::default().matches(&labels(&[]), "n1"));
    }
}
