//! Overrides of manifest objects' fields by path (`spec.metrics[0].resource.target.averageUtilization`),
//! forced onto the objects a scenario creates before the run starts (`Scenario::object_overrides`,
//! used by `kscale tune`). Input layer: no simulation state.

use serde_json::Value;

/// One step of a field path: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathSegment {
    /// `key`.
    Key(String),
    /// `[i]`.
    Index(usize),
}

/// A value forced onto a field of a manifest object at t=0.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectOverride {
    /// The object's `kind` (`HorizontalPodAutoscaler`).
    pub kind: String,
    /// Its namespace (empty: any, for cluster-scoped kinds).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The field.
    pub path: Vec<PathSegment>,
    /// The value.
    pub value: Value,
}

impl ObjectOverride {
    /// Whether the override is for `object` (matched on kind, namespace and name; a missing
    /// namespace is `default`).
    pub fn matches(&self, object: &Value) -> bool {
        let s = |p: &str| object.pointer(p).and_then(Value::as_str);
        s("/kind") == Some(self.kind.as_str())
            && s("/metadata/name") == Some(self.name.as_str())
            && (self.namespace.is_empty()
                || s("/metadata/namespace").unwrap_or("default") == self.namespace)
    }
}

/// Parses `spec.metrics[0].resource.target.averageUtilization` (dotted keys, `[i]` indices).
pub fn parse_path(s: &str) -> Result<Vec<PathSegment>, String> {
    let bad = |why: &str| {
        format!("path {s:?}: {why} (e.g. spec.metrics[0].resource.target.averageUtilization)")
    };
    if s.trim().is_empty() {
        return Err(bad("empty"));
    }
    let mut out = vec![];
    for part in s.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty() {
            return Err(bad("empty key"));
        }
        if key.contains(']') {
            return Err(bad("unbalanced ]"));
        }
        out.push(PathSegment::Key(key.to_string()));
        while !rest.is_empty() {
            let Some(end) = rest.find(']') else {
                return Err(bad("unclosed ["));
            };
            let idx: usize = rest[1..end]
                .parse()
                .map_err(|_| bad("an index is a non-negative integer in brackets"))?;
            out.push(PathSegment::Index(idx));
            rest = &rest[end + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(bad("a key after ] needs a dot"));
            }
        }
    }
    Ok(out)
}

/// The path as written (`a.b[0].c`).
pub fn path_text(path: &[PathSegment]) -> String {
    let mut s = String::new();
    for p in path {
        match p {
            PathSegment::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            PathSegment::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// The value at `path`, if the field exists.
pub fn get_path<'a>(v: &'a Value, path: &[PathSegment]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, p| match p {
        PathSegment::Key(k) => v.as_object()?.get(k),
        PathSegment::Index(i) => v.as_array()?.get(*i),
    })
}

/// Sets `path` to `value`: every step but the last must exist; the last may be a new key of
/// an existing object.
pub fn set_path(v: &mut Value, path: &[PathSegment], value: Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("empty path".into());
    };
    let mut cur = v;
    for (i, p) in parents.iter().enumerate() {
        let next = match p {
            // A missing object on the way to a key is created (`spec.behavior.scaleDown` of an
            // HPA that leaves behavior out); whether the kind has the field is the typed
            // parse's to say.
            PathSegment::Key(k) if matches!(path[i + 1], PathSegment::Key(_)) => {
                cur.as_object_mut().map(|o| {
                    o.entry(k.clone())
                        .or_insert_with(|| Value::Object(Default::default()))
                })
            }
            PathSegment::Key(k) => cur.as_object_mut().and_then(|o| o.get_mut(k)),
            PathSegment::Index(j) => cur.as_array_mut().and_then(|a| a.get_mut(*j)),
        };
        cur = next.ok_or_else(|| format!("{} does not exist", path_text(&path[..=i])))?;
    }
    match last {
        PathSegment::Key(k) => match cur.as_object_mut() {
            Some(o) => {
                o.insert(k.clone(), value);
                Ok(())
            }
            None => Err(format!("{} is not an object", path_text(parents))),
        },
        PathSegment::Index(j) => match cur.as_array_mut().and_then(|a| a.get_mut(*j)) {
            Some(slot) => {
                *slot = value;
                Ok(())
            }
            None => Err(format!("{} does not exist", path_text(path))),
        },
    }
}

/// Applies the overrides meant for `object` to it (the hook of `Sim::new`).
pub fn apply_overrides(overrides: &[ObjectOverride], object: &mut Value) -> Result<(), String> {
    let mine: Vec<&ObjectOverride> = overrides.iter().filter(|o| o.matches(object)).collect();
    for o in mine {
        set_path(object, &o.path, o.value.clone()).map_err(|m| {
            format!(
                "override of {}/{} {}: {m}",
                o.kind.to_ascii_lowercase(),
                o.name,
                path_text(&o.path)
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_path_creates_missing_objects_on_the_way_to_a_key() {
        let mut v = json!({"spec": {"minReplicas": 1}});
        let path = parse_path("spec.behavior.scaleDown.stabilizationWindowSeconds").unwrap();
        set_path(&mut v, &path, json!(60)).unwrap();
        assert_eq!(
            v,
            json!({"spec": {"minReplicas": 1, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}})
        );
        // Arrays are not made up: an index must exist.
        let path = parse_path("spec.metrics[0].type").unwrap();
        let e = set_path(&mut v, &path, json!("Resource")).unwrap_err();
        assert!(e.contains("spec.metrics does not exist"), "{e}");
        // A scalar on the way is not replaced.
        let path = parse_path("spec.minReplicas.x").unwrap();
        assert!(set_path(&mut v, &path, json!(1)).is_err());
    }
}
