//! Loading Kubernetes manifests: files and folders of multi-document YAML (or JSON).
//!
//! Each document is parsed twice: once into its `k8s-openapi` type (which checks structure and
//! reports the line and column of a wrong field) and once into raw JSON (which keeps extension
//! fields such as the Elastic Pod `replica` that `k8s-openapi` would drop). The stored object is
//! the typed one serialized back to JSON, so quantities and defaults are in canonical form.
//! Unknown kinds are kept as raw JSON with a warning naming the file and kind.

use std::path::{Path, PathBuf};

use k8s_openapi::api::{apps, autoscaling, core, policy, rbac, scheduling};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::InputError;
use crate::yaml::{self, Document};

/// One object read from a manifest file.
#[derive(Debug, Clone)]
pub struct ManifestObject {
    /// File it came from.
    pub file: PathBuf,
    /// 1-based line of the document start.
    pub line: u64,
    /// The object as canonical JSON.
    pub object: Value,
    /// The object exactly as written (for extension fields).
    pub raw: Value,
}

/// A non-fatal remark about the input (unknown kinds, ignored fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// File it concerns.
    pub file: PathBuf,
    /// Line, when known.
    pub line: Option<u64>,
    /// The remark.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Expands files and folders (recursively, `.yaml`/`.yml`/`.json`, in name order).
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut out = vec![];
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| InputError::file(p, format!("cannot read folder: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            let (dirs, files): (Vec<_>, Vec<_>) = entries.into_iter().partition(|e| e.is_dir());
            for f in files {
                if matches!(
                    f.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                ) {
                    out.push(f);
                }
            }
            out.extend(expand_paths(&dirs)?);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(InputError::file(p, "no such file or directory"));
        }
    }
    Ok(out)
}

/// Loads every object of the given files and folders.
pub fn load_paths(paths: &[PathBuf]) -> Result<(Vec<ManifestObject>, Vec<Warning>), InputError> {
    let mut objects = vec![];
    let mut warnings = vec![];
    for file in expand_paths(paths)? {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| InputError::file(&file, format!("cannot read manifest: {e}")))?;
        load_text(&file, &text, &mut objects, &mut warnings)?;
    }
    Ok((objects, warnings))
}

/// Loads the objects of one file's text.
pub fn load_text(
    file: &Path,
    text: &str,
    objects: &mut Vec<ManifestObject>,
    warnings: &mut Vec<Warning>,
) -> Result<(), InputError> {
    for doc in yaml::split_documents(text) {
        let raw: Value = yaml::parse(file, &doc)?;
        if raw.is_null() {
            continue;
        }
        // A kubectl-style List: load its items.
        if raw.get("kind").and_then(Value::as_str) == Some("List") {
            let items = raw
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for item in items {
                let object = canonicalize(file, &doc, &item, warnings)?;
                objects.push(ManifestObject {
                    file: file.to_path_buf(),
                    line: doc.start_line,
                    object,
                    raw: item,
                });
            }
            continue;
        }
        let object = canonicalize_doc(file, &doc, &raw, warnings)?;
        objects.push(ManifestObject {
            file: file.to_path_buf(),
            line: doc.start_line,
            object,
            raw,
        });
    }
    Ok(())
}

fn header(file: &Path, doc: &Document, raw: &Value) -> Result<(String, String), InputError> {
    let Some(obj) = raw.as_object() else {
        return Err(InputError::at(
            file,
            doc.start_line,
            None,
            "a manifest document must be a mapping with apiVersion and kind",
        ));
    };
    let api = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            InputError::at(file, doc.start_line, None, "missing apiVersion")
                .with_field("apiVersion")
        })?;
    let kind = obj.get("kind").and_then(Value::as_str).ok_or_else(|| {
        InputError::at(file, doc.start_line, None, "missing kind").with_field("kind")
    })?;
    Ok((api.to_string(), kind.to_string()))
}

fn canonicalize_doc(
    file: &Path,
    doc: &Document,
    raw: &Value,
    warnings: &mut Vec<Warning>,
) -> Result<Value, InputError> {
    let (api, kind) = header(file, doc, raw)?;
    let typed = typed_round_trip(&api, &kind, |t| t.parse_yaml(file, doc))?;
    finish(file, doc, raw, typed, &api, &kind, warnings)
}

fn canonicalize(
    file: &Path,
    doc: &Document,
    raw: &Value,
    warnings: &mut Vec<Warning>,
) -> Result<Value, InputError> {
    let (api, kind) = header(file, doc, raw)?;
    let typed = typed_round_trip(&api, &kind, |t| {
        t.parse_json(raw)
            .map_err(|m| InputError::at(file, doc.start_line, None, m))
    })?;
    finish(file, doc, raw, typed, &api, &kind, warnings)
}

fn finish(
    file: &Path,
    doc: &Document,
    raw: &Value,
    typed: Option<Value>,
    api: &str,
    kind: &str,
    warnings: &mut Vec<Warning>,
) -> Result<Value, InputError> {
    let was_typed = typed.is_some();
    if kind == "StatefulSet"
        && raw
            .pointer("/spec/volumeClaimTemplates")
            .and_then(Value::as_array)
            .is_some_and(|v| !v.is_empty())
    {
        let name = raw
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        warnings.push(Warning {
            file: file.to_path_buf(),
            line: Some(doc.start_line),
            message: format!(
                "StatefulSet {name}: the twin creates no PersistentVolumeClaims for volumeClaimTemplates: its pods start as if their volumes were bound"
            ),
        });
    }
    let object = match typed {
        Some(v) => v,
        None => {
            if !is_known_custom(api, kind) {
                warnings.push(Warning {
                    file: file.to_path_buf(),
                    line: Some(doc.start_line),
                    message: format!(
                        "unknown kind {kind} ({api}): stored for kubectl get, not simulated"
                    ),
                });
            }
            raw.clone()
        }
    };
    if was_typed && let Some(field) = unknown_fields(raw, &object).into_iter().next() {
        let key = field.rsplit('.').next().unwrap_or(&field);
        let mut e = InputError::file(
            file,
            format!("strict decoding error: unknown field \"{field}\""),
        )
        .with_field(field.clone());
        e.line = doc
            .find_key_line(key, doc.start_line.saturating_sub(1))
            .or_else(|| doc.find_key_anywhere(key))
            .or(Some(doc.start_line));
        return Err(e);
    }
    let errs = crate::validate::validate_written(&object, raw);
    if let Some(first) = errs.first() {
        let line_of = |field: &str| doc.find_path_line(field);
        let mut message = first.to_string();
        for e in &errs[1..] {
            message.push_str(&format!("\n{}:{}: {e}", file.display(), line_of(&e.field)));
        }
        let mut e = InputError::file(file, message).with_field(first.field.clone());
        e.line = Some(line_of(&first.field));
        return Err(e);
    }
    Ok(object)
}

/// The fields of `raw` (a manifest as written) that its typed round trip `typed` dropped: the
/// fields its kind does not have, as the API server's strict field validation reports them
/// (`spec.template.spec.containers[0].resourcse`), in document order. Null values are not
/// fields; kscale's extension fields (the Elastic Pods `replica` of a container) are allowed.
pub fn unknown_fields(raw: &Value, typed: &Value) -> Vec<String> {
    fn walk(raw: &Value, typed: &Value, path: &str, in_container: bool, out: &mut Vec<String>) {
        match (raw, typed) {
            (Value::Object(r), Value::Object(t)) => {
                for (k, v) in r {
                    if v.is_null() {
                        continue;
                    }
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    match t.get(k) {
                        Some(tv) => {
                            let containers = matches!(
                                k.as_str(),
                                "containers" | "initContainers" | "ephemeralContainers"
                            );
                            walk(v, tv, &p, containers, out)
                        }
                        None if in_container && k == "replica" => {}
                        None => out.push(p),
                    }
                }
            }
            // A container list's elements are containers.
            (Value::Array(r), Value::Array(t)) => {
                for (i, (rv, tv)) in r.iter().zip(t).enumerate() {
                    walk(rv, tv, &format!("{path}[{i}]"), in_container, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(raw, typed, "", false, &mut out);
    out
}

/// Kinds kscale emulates as custom resources (stored as raw JSON without a warning).
pub fn is_known_custom(api: &str, kind: &str) -> bool {
    let group = api.split('/').next().unwrap_or("");
    matches!(
        (group, kind),
        (
            "karpenter.sh",
            "Provisioner" | "NodePool" | "NodeClaim" | "Machine"
        ) | ("karpenter.k8s.aws", "AWSNodeTemplate" | "EC2NodeClass")
            | (
                "autoscaling.x-k8s.io",
                "CapacityBuffer" | "ProvisioningRequest"
            )
            | ("autoscaling.k8s.io", "VerticalPodAutoscaler")
            | ("kscale.io", _)
    )
}

pub use crate::yaml::TypedParse;

struct Typed<T>(std::marker::PhantomData<T>);

impl<T: DeserializeOwned + serde::Serialize> TypedParse for Typed<T> {
    fn parse_yaml(&self, file: &Path, doc: &Document) -> Result<Value, InputError> {
        let t: T = yaml::parse(file, doc)?;
        Ok(serde_json::to_value(&t).expect("k8s-openapi types serialize"))
    }
    fn parse_json(&self, v: &Value) -> Result<Value, String> {
        let t: T = serde_json::from_value(crate::validate::normalize_quantities(v.clone()))
            .map_err(|e| e.to_string())?;
        Ok(serde_json::to_value(&t).expect("k8s-openapi types serialize"))
    }
}

fn typed<T: DeserializeOwned + serde::Serialize + 'static>() -> Box<dyn TypedParse> {
    Box::new(Typed::<T>(std::marker::PhantomData))
}

/// The typed parser for a built-in `apiVersion`/`kind`, if kscale knows it.
pub fn typed_parser(api: &str, kind: &str) -> Option<Box<dyn TypedParse>> {
    Some(match (api, kind) {
        ("v1", "Namespace") => typed::<core::v1::Namespace>(),
        ("v1", "Node") => typed::<core::v1::Node>(),
        ("v1", "Pod") => typed::<core::v1::Pod>(),
        ("v1", "ConfigMap") => typed::<core::v1::ConfigMap>(),
        ("v1", "Secret") => typed::<core::v1::Secret>(),
        ("v1", "Service") => typed::<core::v1::Service>(),
        ("v1", "ServiceAccount") => typed::<core::v1::ServiceAccount>(),
        ("v1", "PodTemplate") => typed::<core::v1::PodTemplate>(),
        ("v1", "LimitRange") => typed::<core::v1::LimitRange>(),
        ("v1", "ResourceQuota") => typed::<core::v1::ResourceQuota>(),
        ("apps/v1", "Deployment") => typed::<apps::v1::Deployment>(),
        ("autoscaling.k8s.io/v1", "VerticalPodAutoscaler") => {
            typed::<kscale_components::vpa::VerticalPodAutoscaler>()
        }
        ("apps/v1", "ReplicaSet") => typed::<apps::v1::ReplicaSet>(),
        ("apps/v1", "StatefulSet") => typed::<apps::v1::StatefulSet>(),
        ("apps/v1", "DaemonSet") => typed::<apps::v1::DaemonSet>(),
        ("autoscaling/v1", "HorizontalPodAutoscaler") => {
            typed::<autoscaling::v1::HorizontalPodAutoscaler>()
        }
        ("autoscaling/v2", "HorizontalPodAutoscaler") => {
            typed::<autoscaling::v2::HorizontalPodAutoscaler>()
        }
        ("policy/v1", "PodDisruptionBudget") => typed::<policy::v1::PodDisruptionBudget>(),
        ("scheduling.k8s.io/v1", "PriorityClass") => typed::<scheduling::v1::PriorityClass>(),
        ("rbac.authorization.k8s.io/v1", "Role") => typed::<rbac::v1::Role>(),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => typed::<rbac::v1::ClusterRole>(),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => typed::<rbac::v1::RoleBinding>(),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            typed::<rbac::v1::ClusterRoleBinding>()
        }
        _ => return None,
    })
}

fn typed_round_trip(
    api: &str,
    kind: &str,
    f: impl FnOnce(&dyn TypedParse) -> Result<Value, InputError>,
) -> Result<Option<Value>, InputError> {
    match typed_parser(api, kind) {
        Some(p) => f(p.as_ref()).map(Some),
        None => Ok(None),
    }
}

/// Canonicalizes a JSON object (from `kubectl apply`/`patch`) through its typed form, if known,
/// and validates it: the error is what follows `The KIND "NAME" is invalid: ` in the API
/// server's message (one error inline, several as a bulleted list).
pub fn canonicalize_json(v: &Value) -> Result<Value, String> {
    let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    let obj = match typed_parser(api, kind) {
        Some(p) => p.parse_json(v)?,
        None => v.clone(),
    };
    let errs = crate::validate::validate_written(&obj, v);
    match errs.as_slice() {
        [] => Ok(obj),
        [one] => Err(one.to_string()),
        many => {
            let items: Vec<String> = many.iter().map(ToString::to_string).collect();
            Err(format!("\n* {}", items.join("\n* ")))
        }
    }
}
