//! `kubectl patch` over `serde_json::Value`: JSON patch (RFC 6902), JSON merge patch
//! (RFC 7386) and a hand-written strategic merge patch.
//!
//! # Strategic merge patch
//!
//! Modelled on `k8s.io/apimachinery/pkg/util/strategicpatch` (the `patchStrategy` and
//! `patchMergeKey` struct tags of `k8s.io/api`), without a schema: the list strategy is chosen
//! from the field name and its parent field (see [`list_strategy`]).
//!
//! - Maps merge recursively; a `null` value deletes the key.
//! - Lists with a merge key (`containers` by `name`, `ports` of a container by
//!   `containerPort`, ...) merge element by element; elements that are new are appended,
//!   matching ones are merged recursively, original order is kept.
//! - Other lists are replaced whole. Upstream has no merge key on `tolerations`
//!   (`PodSpec.Tolerations`) nor on `taints` (`NodeSpec.Taints`): both are replaced, as upstream.
//! - `finalizers` merge as a set of strings (`patchStrategy:"merge"` on a primitive list);
//!   `$deleteFromPrimitiveList/<field>` removes values from such a list.
//! - Directives: `$patch: delete` on a list element removes the element with the same merge
//!   key; `$patch: delete` on a map deletes the map; `$patch: replace` on a map replaces it
//!   instead of merging; a `{"$patch": "replace"}` element in a list replaces the whole list
//!   with the other elements; `$retainKeys` keeps only the listed keys of the merged map;
//!   `$setElementOrder/<field>` is accepted and ignored (the original order is kept and new
//!   elements are appended).
//!
//! Patch text must be JSON (kubectl also accepts YAML; the twin does not, to avoid a YAML
//! parser dependency, and says so in the error).

use serde_json::{Map, Value};

use crate::error::{ErrorKind, KubectlError, Result};

/// `kubectl patch --type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PatchType {
    /// `--type strategic` (kubectl's default).
    #[default]
    Strategic,
    /// `--type merge`: RFC 7386 JSON merge patch.
    Merge,
    /// `--type json`: RFC 6902 JSON patch.
    Json,
}

impl PatchType {
    /// Parses a `--type` value with kubectl's error for anything else.
    pub fn parse(s: &str) -> Result<PatchType> {
        match s.to_ascii_lowercase().as_str() {
            "strategic" => Ok(PatchType::Strategic),
            "merge" => Ok(PatchType::Merge),
            "json" => Ok(PatchType::Json),
            _ => Err(KubectlError::new(
                ErrorKind::InvalidFlagValue,
                format!("--type must be one of [json merge strategic], not {s:?}"),
            )),
        }
    }
}

fn patch_err(detail: impl AsRef<str>) -> KubectlError {
    KubectlError::new(ErrorKind::Patch, detail)
}

/// Parses `-p` text. Only JSON is accepted; the error says so for YAML-looking input.
pub fn parse_patch_text(text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| {
        patch_err(format!(
            "unable to parse {text:?}: the kscale twin accepts JSON patches only (not YAML): {e}"
        ))
    })
}

/// Applies a patch given as text (`kubectl patch -p '...'`) to `target`, returning the new
/// object. `target` is left untouched.
pub fn apply_patch(target: &Value, patch_text: &str, patch_type: PatchType) -> Result<Value> {
    let patch = parse_patch_text(patch_text)?;
    apply_patch_value(target, &patch, patch_type)
}

/// Applies an already-parsed patch to `target`, returning the new object.
pub fn apply_patch_value(target: &Value, patch: &Value, patch_type: PatchType) -> Result<Value> {
    match patch_type {
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone()).map_err(|e| {
                patch_err(format!(
                    "unable to parse the json patch: {e} (expected a list of operations such as [{{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":3}}])"
                ))
            })?;
            let mut doc = target.clone();
            json_patch::patch(&mut doc, &ops.0)
                .map_err(|e| patch_err(format!("json patch failed: {e}")))?;
            Ok(doc)
        }
        PatchType::Merge => {
            if !patch.is_object() {
                return Err(patch_err(
                    "a merge patch must be a JSON object, e.g. {\"spec\":{\"replicas\":3}}",
                ));
            }
            let mut doc = target.clone();
            json_patch::merge(&mut doc, patch);
            Ok(doc)
        }
        PatchType::Strategic => strategic_merge(target, patch),
    }
}

/// How a list field merges under a strategic merge patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStrategy {
    /// The patch list replaces the original list.
    Replace,
    /// Elements are objects merged by this key (`patchStrategy:"merge"` + `patchMergeKey`).
    MergeByKey(&'static str),
    /// A list of scalars merged as a set (`patchStrategy:"merge"` without a merge key).
    MergePrimitive,
}

/// The strategy of list field `field` whose parent field (the nearest enclosing map key,
/// list indices skipped) is `parent` — e.g. `("containers", "ports")`.
///
/// Taken from the struct tags in `k8s.io/api/core/v1/types.go` and
/// `k8s.io/apimachinery/pkg/apis/meta/v1/types.go`:
/// `containers`/`initContainers`/`ephemeralContainers`, `env`, `imagePullSecrets`,
/// `volumes`, `resourceClaims`, `ServiceAccount.secrets` → `name`; container `ports` →
/// `containerPort`; `Service.spec.ports` → `port`; `volumeMounts` → `mountPath`;
/// `volumeDevices` → `devicePath`; `conditions` and `Node.status.addresses` → `type`;
/// `hostAliases`, `podIPs`, `hostIPs` → `ip`; `topologySpreadConstraints` → `topologyKey`;
/// `ownerReferences` → `uid`; `finalizers` → set of strings. Everything else, including
/// `tolerations` and `taints` (no tags upstream), is replaced.
pub fn list_strategy(parent: Option<&str>, field: &str) -> ListStrategy {
    use ListStrategy::*;
    let is_container = matches!(
        parent,
        Some("containers" | "initContainers" | "ephemeralContainers")
    );
    match field {
        "containers" | "initContainers" | "ephemeralContainers" => MergeByKey("name"),
        "env" if is_container => MergeByKey("name"),
        "ports" if is_container => MergeByKey("containerPort"),
        "ports" if parent == Some("spec") => MergeByKey("port"),
        "volumeMounts" if is_container => MergeByKey("mountPath"),
        "volumeDevices" if is_container => MergeByKey("devicePath"),
        "resizePolicy" if is_container => Replace,
        "volumes" | "imagePullSecrets" | "resourceClaims" => MergeByKey("name"),
        "secrets" if parent.is_none() => MergeByKey("name"),
        "conditions" => MergeByKey("type"),
        "addresses" if parent == Some("status") => MergeByKey("type"),
        "hostAliases" | "podIPs" | "hostIPs" => MergeByKey("ip"),
        "topologySpreadConstraints" => MergeByKey("topologyKey"),
        "ownerReferences" => MergeByKey("uid"),
        "finalizers" => MergePrimitive,
        _ => Replace,
    }
}

/// Applies a strategic merge patch (see the module docs) to `original`.
pub fn strategic_merge(original: &Value, patch: &Value) -> Result<Value> {
    if !patch.is_object() {
        return Err(patch_err(
            "a strategic merge patch must be a JSON object, e.g. {\"spec\":{\"replicas\":3}}",
        ));
    }
    Ok(merge_value(Some(original), patch, None)?.unwrap_or(Value::Object(Map::new())))
}

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ORDER_PREFIX: &str = "$setElementOrder/";
const DELETE_PRIMITIVE_PREFIX: &str = "$deleteFromPrimitiveList/";

/// Merges `patch` onto `orig`. `None` as the result means "delete this value".
/// `parent` is the name of the field holding `orig`.
fn merge_value(orig: Option<&Value>, patch: &Value, parent: Option<&str>) -> Result<Option<Value>> {
    let Value::Object(pmap) = patch else {
        return Ok(Some(patch.clone()));
    };
    match pmap.get(DIRECTIVE) {
        None => {}
        Some(Value::String(d)) if d == "merge" => {}
        Some(Value::String(d)) if d == "delete" => return Ok(None),
        Some(Value::String(d)) if d == "replace" => {
            let mut rest = pmap.clone();
            rest.remove(DIRECTIVE);
            return merge_value(None, &Value::Object(rest), parent);
        }
        Some(other) => {
            return Err(patch_err(format!(
                "Unknown patch type: {other} in map: {patch}"
            )));
        }
    }
    let mut result = match orig {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    let mut delete_from_primitive: Vec<(&str, &Value)> = Vec::new();
    for (key, pval) in pmap {
        if key == DIRECTIVE || key == RETAIN_KEYS || key.starts_with(SET_ORDER_PREFIX) {
            continue;
        }
        if let Some(field) = key.strip_prefix(DELETE_PRIMITIVE_PREFIX) {
            delete_from_primitive.push((field, pval));
            continue;
        }
        match pval {
            Value::Null => {
                result.remove(key);
            }
            Value::Array(plist) => {
                let merged = merge_list(result.get(key), plist, parent, key)?;
                result.insert(key.clone(), merged);
            }
            Value::Object(_) => match merge_value(result.get(key), pval, Some(key))? {
                Some(v) => {
                    result.insert(key.clone(), v);
                }
                None => {
                    result.remove(key);
                }
            },
            scalar => {
                result.insert(key.clone(), scalar.clone());
            }
        }
    }
    for (field, values) in delete_from_primitive {
        let Value::Array(del) = values else {
            return Err(patch_err(format!(
                "{DELETE_PRIMITIVE_PREFIX}{field} must be a list, got {values}"
            )));
        };
        if let Some(Value::Array(list)) = result.get_mut(field) {
            list.retain(|v| !del.contains(v));
        }
    }
    if let Some(retain) = pmap.get(RETAIN_KEYS) {
        let Value::Array(keys) = retain else {
            return Err(patch_err(format!(
                "{RETAIN_KEYS} must be a list, got {retain}"
            )));
        };
        let keys: Vec<&str> = keys.iter().filter_map(Value::as_str).collect();
        result.retain(|k, _| keys.contains(&k.as_str()));
    }
    Ok(Some(Value::Object(result)))
}

fn is_replace_marker(v: &Value) -> bool {
    matches!(v, Value::Object(m) if m.len() == 1 && m.get(DIRECTIVE) == Some(&Value::String("replace".into())))
}

/// Strips directives from patch elements that have no original to merge with.
fn fresh(v: &Value, field: &str) -> Result<Option<Value>> {
    merge_value(None, v, Some(field))
}

fn merge_list(
    orig: Option<&Value>,
    plist: &[Value],
    parent: Option<&str>,
    field: &str,
) -> Result<Value> {
    let strategy = list_strategy(parent, field);
    // `[{"$patch": "replace"}, ...]` replaces the list whatever the strategy.
    if plist.iter().any(is_replace_marker) || strategy == ListStrategy::Replace {
        let mut out = Vec::new();
        for v in plist.iter().filter(|v| !is_replace_marker(v)) {
            if let Some(x) = fresh(v, field)? {
                out.push(x);
            }
        }
        return Ok(Value::Array(out));
    }
    let mut result: Vec<Value> = match orig {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    match strategy {
        ListStrategy::Replace => unreachable!("handled above"),
        ListStrategy::MergePrimitive => {
            for v in plist {
                if !result.contains(v) {
                    result.push(v.clone());
                }
            }
        }
        ListStrategy::MergeByKey(merge_key) => {
            for pelem in plist {
                let Value::Object(pm) = pelem else {
                    // A scalar in a keyed list: keep set semantics, as upstream does for
                    // primitives.
                    if !result.contains(pelem) {
                        result.push(pelem.clone());
                    }
                    continue;
                };
                let Some(key_value) = pm.get(merge_key) else {
                    return Err(patch_err(format!(
                        "map: {pelem} does not contain declared merge key: {merge_key}"
                    )));
                };
                let pos = result
                    .iter()
                    .position(|o| o.get(merge_key) == Some(key_value));
                let is_delete = pm.get(DIRECTIVE) == Some(&Value::String("delete".into()));
                match (pos, is_delete) {
                    (_, true) => result.retain(|o| o.get(merge_key) != Some(key_value)),
                    (Some(i), false) => match merge_value(Some(&result[i]), pelem, Some(field))? {
                        Some(v) => result[i] = v,
                        None => {
                            result.remove(i);
                        }
                    },
                    (None, false) => {
                        if let Some(v) = fresh(pelem, field)? {
                            result.push(v);
                        }
                    }
                }
            }
        }
    }
    Ok(Value::Array(result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web", "tier": "fe"}, "finalizers": ["a"]},
            "spec": {
                "replicas": 2,
                "template": {"spec": {
                    "containers": [
                        {"name": "nginx", "image": "nginx:1.25",
                         "ports": [{"containerPort": 80, "protocol": "TCP"}],
                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                        {"name": "sidecar", "image": "busybox"}
                    ],
                    "tolerations": [{"key": "k1", "operator": "Exists"}]
                }}
            }
        })
    }

    #[test]
    fn patch_type_parse() {
        assert_eq!(PatchType::parse("json").unwrap(), PatchType::Json);
        assert_eq!(PatchType::parse("merge").unwrap(), PatchType::Merge);
        assert_eq!(PatchType::parse("strategic").unwrap(), PatchType::Strategic);
        assert_eq!(
            PatchType::parse("foo").unwrap_err().to_string(),
            "error: --type must be one of [json merge strategic], not \"foo\""
        );
    }

    #[test]
    fn strategic_merges_containers_by_name() {
        let out = apply_patch(
            &deployment(),
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.26"},{"name":"extra","image":"redis"}]}}}}"#,
            PatchType::Strategic,
        )
        .unwrap();
        let cs = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(
            cs,
            &json!([
                {"name": "nginx", "image": "nginx:1.26",
                 "ports": [{"containerPort": 80, "protocol": "TCP"}],
                 "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                {"name": "sidecar", "image": "busybox"},
                {"name": "extra", "image": "redis"}
            ])
        );
        assert_eq!(out["spec"]["replicas"], json!(2));
    }

    #[test]
    fn strategic_env_and_ports_merge_by_key() {
        let out = apply_patch(
            &deployment(),
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx",
                "env":[{"name":"B","value":"20"},{"name":"C","value":"3"}],
                "ports":[{"containerPort":443}]}]}}}}"#,
            PatchType::Strategic,
        )
        .unwrap();
        let c = &out["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            c["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "20"}, {"name": "C", "value": "3"}])
        );
        assert_eq!(
            c["ports"],
            json!([{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443}])
        );
    }

    #[test]
    fn strategic_patch_delete_directive_on_element() {
        let out = apply_patch(
            &deployment(),
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}"#,
            PatchType::Strategic,
        )
        .unwrap();
        let names: Vec<&str> = out["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["nginx"]);
    }

    #[test]
    fn strategic_null_deletes_key() {
        let out = apply_patch(
            &deployment(),
            r#"{"metadata":{"labels":{"tier":null,"new":"x"}}}"#,
            PatchType::Strategic,
        )
        .unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"app": "web", "new": "x"}));
    }

    #[test]
    fn strategic_replaces_tolerations_and_unknown_lists() {
        let out = apply_patch(
            &deployment(),
            r#"{"spec":{"template":{"spec":{"tolerations":[{"key":"k2","operator":"Exists"}]}}}}"#,
            PatchType::Strategic,
        )
        .unwrap();
        assert_eq!(
            out["spec"]["template"]["spec"]["tolerations"],
            json!([{"key": "k2", "operator": "Exists"}])
        );
        let node = json!({"spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]}});
        let out = strategic_merge(
            &node,
            &json!({"spec": {"taints": [{"key": "b", "effect": "NoExecute"}]}}),
        )
        .unwrap();
        assert_eq!(
            out["spec"]["taints"],
            json!([{"key": "b", "effect": "NoExecute"}])
        );
    }

    #[test]
    fn strategic_map_directives() {
        // $patch: replace on a map
        let out = apply_patch(
            &deployment(),
            r#"{"metadata":{"labels":{"$patch":"replace","only":"me"}}}"#,
            PatchType::Strategic,
        )
        .unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"only": "me"}));
        // $patch: delete on a map
        let out = apply_patch(
            &deployment(),
            r#"{"metadata":{"labels":{"$patch":"delete"}}}"#,
            PatchType::Strategic,
        )
        .unwrap();
        assert!(out["metadata"].get("labels").is_none());
        // list replace marker
        let out = apply_patch(
            &deployment(),
            r#"{"spec":{"template":{"spec":{"containers":[{"$patch":"replace"},{"name":"solo","image":"x"}]}}}}"#,
            PatchType::Strategic,
        )
        .unwrap();
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([{"name": "solo", "image": "x"}])
        );
        // $retainKeys keeps only listed keys; $setElementOrder is ignored
        let out = strategic_merge(
            &json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}),
            &json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"},
                             "$setElementOrder/containers": [{"name": "a"}]}}),
        )
        .unwrap();
        assert_eq!(out, json!({"spec": {"strategy": {"type": "Recreate"}}}));
    }

    #[test]
    fn strategic_finalizers_merge_as_set() {
        let out = strategic_merge(
            &deployment(),
            &json!({"metadata": {"finalizers": ["b", "a"], "$deleteFromPrimitiveList/finalizers": ["a"]}}),
        )
        .unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
    }

    #[test]
    fn strategic_missing_merge_key_is_an_error() {
        let err = strategic_merge(
            &deployment(),
            &json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "error: map: {\"image\":\"x\"} does not contain declared merge key: name"
        );
    }

    #[test]
    fn strategic_service_ports_merge_by_port() {
        let svc = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}]}});
        let out = strategic_merge(
            &svc,
            &json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}}),
        )
        .unwrap();
        assert_eq!(
            out["spec"]["ports"],
            json!([{"port": 80, "targetPort": 9090}, {"port": 443}])
        );
    }

    #[test]
    fn merge_patch_replaces_lists_and_deletes_nulls() {
        let out = apply_patch(
            &deployment(),
            r#"{"spec":{"replicas":5,"template":{"spec":{"containers":[{"name":"only"}]}}},"metadata":{"labels":{"app":null}}}"#,
            PatchType::Merge,
        )
        .unwrap();
        assert_eq!(out["spec"]["replicas"], json!(5));
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([{"name": "only"}])
        );
        assert_eq!(out["metadata"]["labels"], json!({"tier": "fe"}));
    }

    #[test]
    fn json_patch_operations() {
        let out = apply_patch(
            &deployment(),
            r#"[{"op":"replace","path":"/spec/replicas","value":3},
                {"op":"add","path":"/metadata/labels/x","value":"y"},
                {"op":"remove","path":"/spec/template/spec/containers/1"}]"#,
            PatchType::Json,
        )
        .unwrap();
        assert_eq!(out["spec"]["replicas"], json!(3));
        assert_eq!(out["metadata"]["labels"]["x"], json!("y"));
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn json_patch_failure_leaves_message() {
        let err = apply_patch(
            &deployment(),
            r#"[{"op":"remove","path":"/spec/nope"}]"#,
            PatchType::Json,
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Patch);
        assert!(
            err.to_string().starts_with("error: json patch failed: "),
            "{err}"
        );
    }

    #[test]
    fn yaml_patch_text_is_rejected_clearly() {
        let err =
            apply_patch(&deployment(), "spec:\n  replicas: 3", PatchType::Strategic).unwrap_err();
        assert!(
            err.to_string().contains("accepts JSON patches only"),
            "{err}"
        );
    }
}
