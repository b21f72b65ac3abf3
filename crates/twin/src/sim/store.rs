//! Stored API objects other than pods and nodes (which the twin keeps in compact form).
//!
//! Objects are JSON as the API server would return them; `metadata.uid`,
//! `resourceVersion`, `creationTimestamp` and `generation` are filled in by [`Store::put`].

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use kscale_cluster::ChangeType;

use super::changes::{Changes, Topic};

/// Key of a stored object: (kind, namespace, name); namespace is empty for cluster scope.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjKey {
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Namespace, empty for cluster-scoped kinds.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjKey {
    /// A key.
    pub fn new(kind: &str, namespace: &str, name: &str) -> Self {
        ObjKey {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

/// A stored object and the resourceVersion of its last create or update (status writes, which
/// leave the spec alone, keep it).
#[derive(Debug)]
struct Stored {
    value: Value,
    updated: u64,
    /// Which filling of the slot this is (see [`Handle`]).
    serial: u64,
}

/// Where a key's object is stored: found again without a key lookup for as long as that
/// key stays stored (a replace under the same key keeps it; a delete ends it, and the slot's
/// next object gets another serial).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handle {
    slot: u32,
    serial: u64,
}

/// The object store. Objects live in slots; a hash index answers lookups by key and an
/// ordered index answers lists and ranges (in key order: what reaches outputs).
#[derive(Debug, Default)]
pub struct Store {
    /// Keys in order, with their slots.
    order: BTreeMap<ObjKey, u32>,
    /// Keys to slots, for lookups (never iterated).
    index: HashMap<ObjKey, u32, foldhash::fast::FixedState>,
    /// The objects (None: a free slot, listed in `free`).
    slots: Vec<Option<Stored>>,
    free: Vec<u32>,
    /// Slots filled with a new key so far (each filling's [`Handle`] serial).
    fillings: u64,
    resource_version: u64,
    /// The change tracking of the stored objects and of the compact state reported here.
    changes: Changes,
}

/// Adds one to `metadata.generation` (1 when absent), as the API server does on a spec change.
fn bump_generation(v: &mut Value) {
    let g = v
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    v["metadata"]["generation"] = Value::from(g + 1);
}

impl Store {
    fn slot(&self, key: &ObjKey) -> Option<&Stored> {
        let i = *self.index.get(key)?;
        self.slots[i as usize].as_ref()
    }

    fn slot_mut(&mut self, key: &ObjKey) -> Option<&mut Stored> {
        let i = *self.index.get(key)?;
        self.slots[i as usize].as_mut()
    }

    fn stored(&self, i: u32) -> &Stored {
        self.slots[i as usize]
            .as_ref()
            .expect("indexed slots are filled")
    }

    /// Records a write of the object under `key` (none when nothing is stored there).
    fn wrote(&mut self, key: &ObjKey) {
        if !self.index.contains_key(key) {
            return;
        }
        self.changes
            .record_object(&key.kind, &key.namespace, &key.name, ChangeType::Modified);
    }

    /// The revision of the last write of an object of `kind` (see [`Changes::writes_of`]).
    pub fn writes_of(&self, kind: &str) -> u64 {
        self.changes.writes_of(kind)
    }

    /// The revision of the last create or delete of an object of `kind` (see
    /// [`Changes::membership_of`]).
    pub fn membership_of(&self, kind: &str) -> u64 {
        self.changes.membership_of(kind)
    }

    /// The change tracking (see [`Changes`]).
    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    /// Records a change of the compact state's `topic`; returns its revision.
    pub fn record(&mut self, topic: Topic) -> u64 {
        self.changes.record(topic)
    }

    /// Records a change of an object kept in the compact tables (pods, nodes) for the change
    /// feed; returns its revision.
    pub fn record_object(
        &mut self,
        kind: &str,
        namespace: &str,
        name: &str,
        type_: ChangeType,
    ) -> u64 {
        self.changes.record_object(kind, namespace, name, type_)
    }

    /// The object under `key`.
    pub fn get(&self, key: &ObjKey) -> Option<&Value> {
        self.slot(key).map(|s| &s.value)
    }

    /// The object under `key` and the resourceVersion of its last create or update (not of
    /// status writes): while that holds, whatever was read of its spec holds.
    pub fn get_updated(&self, key: &ObjKey) -> Option<(&Value, u64)> {
        self.slot(key).map(|s| (&s.value, s.updated))
    }

    /// The [`Handle`] of the object under `key`.
    pub fn handle(&self, key: &ObjKey) -> Option<Handle> {
        let slot = *self.index.get(key)?;
        let serial = self.slots[slot as usize].as_ref()?.serial;
        Some(Handle { slot, serial })
    }

    /// [`Store::get_updated`] of the key `h` was taken for; None once that key's object was
    /// removed (then look the key up again).
    pub fn get_updated_by(&self, h: Handle) -> Option<(&Value, u64)> {
        match self.slots.get(h.slot as usize) {
            Some(Some(s)) if s.serial == h.serial => Some((&s.value, s.updated)),
            _ => None,
        }
    }

    /// Objects of one kind (optionally one namespace), in key order.
    pub fn list<'a>(
        &'a self,
        kind: &'a str,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a ObjKey, &'a Value)> + 'a {
        // Keys sort by kind, then namespace: a range scan from the first possible key.
        let start = ObjKey::new(kind, namespace.unwrap_or(""), "");
        self.order
            .range(start..)
            .take_while(move |(k, _)| k.kind == kind && namespace.is_none_or(|n| k.namespace == n))
            .map(|(k, i)| (k, &self.stored(*i).value))
    }

    /// Like [`Store::list`], with each object's last update version (see
    /// [`Store::get_updated`]).
    pub fn list_updated<'a>(
        &'a self,
        kind: &'a str,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a ObjKey, &'a Value, u64)> + 'a {
        let start = ObjKey::new(kind, namespace.unwrap_or(""), "");
        self.order
            .range(start..)
            .take_while(move |(k, _)| k.kind == kind && namespace.is_none_or(|n| k.namespace == n))
            .map(|(k, i)| {
                let s = self.stored(*i);
                (k, &s.value, s.updated)
            })
    }

    /// Creates or replaces an object, keeping uid and creationTimestamp of an existing one and
    /// bumping `resourceVersion` (and `generation` when the spec changed). Returns true if the
    /// object was created.
    pub fn put(
        &mut self,
        key: ObjKey,
        mut v: Value,
        uid: impl FnOnce() -> String,
        created: String,
    ) -> bool {
        self.resource_version += 1;
        let created_new = self.slot(&key).is_none();
        let type_ = if created_new {
            ChangeType::Added
        } else {
            ChangeType::Modified
        };
        self.changes
            .record_object(&key.kind, &key.namespace, &key.name, type_);
        let old = self.slot(&key).map(|s| &s.value);
        let meta = v
            .as_object_mut()
            .expect("objects are JSON objects")
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        let m = meta.as_object_mut().expect("metadata is an object");
        m.insert("name".into(), Value::String(key.name.clone()));
        if !key.namespace.is_empty() {
            m.insert("namespace".into(), Value::String(key.namespace.clone()));
        }
        match old {
            Some(o) => {
                for f in ["uid", "creationTimestamp"] {
                    if let Some(x) = o.pointer(&format!("/metadata/{f}")) {
                        m.insert(f.into(), x.clone());
                    }
                }
                let old_gen = o
                    .pointer("/metadata/generation")
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                let spec_changed = o.get("spec") != v.get("spec");
                let m = v["metadata"].as_object_mut().expect("metadata");
                m.insert(
                    "generation".into(),
                    Value::from(if spec_changed { old_gen + 1 } else { old_gen }),
                );
                if v.get("status").is_none()
                    && let Some(s) = o.get("status")
                {
                    v.as_object_mut()
                        .expect("object")
                        .insert("status".into(), s.clone());
                }
            }
            None => {
                m.insert("uid".into(), Value::String(uid()));
                m.insert("creationTimestamp".into(), Value::String(created));
                m.insert("generation".into(), Value::from(1));
            }
        }
        v["metadata"]["resourceVersion"] = Value::String(self.resource_version.to_string());
        let updated = self.resource_version;
        match self.index.get(&key) {
            Some(&i) => {
                let slot = &mut self.slots[i as usize];
                let serial = slot.as_ref().expect("indexed slots are filled").serial;
                *slot = Some(Stored {
                    value: v,
                    updated,
                    serial,
                });
            }
            None => {
                self.fillings += 1;
                let stored = Stored {
                    value: v,
                    updated,
                    serial: self.fillings,
                };
                let i = match self.free.pop() {
                    Some(i) => {
                        self.slots[i as usize] = Some(stored);
                        i
                    }
                    None => {
                        self.slots.push(Some(stored));
                        u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 objects")
                    }
                };
                self.index.insert(key.clone(), i);
                self.order.insert(key, i);
            }
        }
        created_new
    }

    /// Updates an object in place (status writes, replica changes) and bumps its resourceVersion.
    pub fn update(&mut self, key: &ObjKey, f: impl FnOnce(&mut Value)) -> bool {
        self.resource_version += 1;
        self.wrote(key);
        let rv = self.resource_version;
        match self.slot_mut(key) {
            Some(Stored {
                value: v, updated, ..
            }) => {
                *updated = rv;
                let before = v.get("spec").cloned();
                f(v);
                if v.get("spec") != before.as_ref() {
                    bump_generation(v);
                }
                v["metadata"]["resourceVersion"] = Value::String(rv.to_string());
                true
            }
            None => false,
        }
    }

    /// [`Store::update`] of `spec.replicas` to `replicas` plus whatever `f` changes outside
    /// `spec`: the same object, version and `metadata.generation`, without copying the spec
    /// to compare (it changed unless `spec.replicas` already was that number).
    pub fn update_replicas(
        &mut self,
        key: &ObjKey,
        replicas: i64,
        f: impl FnOnce(&mut Value),
    ) -> bool {
        self.resource_version += 1;
        self.wrote(key);
        let rv = self.resource_version;
        match self.slot_mut(key) {
            Some(Stored {
                value: v, updated, ..
            }) => {
                *updated = rv;
                let to = Value::from(replicas);
                let changed = v.at("/spec/replicas") != Some(&to);
                #[cfg(debug_assertions)]
                let before = v.get("spec").cloned();
                v["spec"]["replicas"] = to;
                f(v);
                #[cfg(debug_assertions)]
                assert_eq!(
                    changed,
                    v.get("spec") != before.as_ref(),
                    "f left spec alone"
                );
                if changed {
                    bump_generation(v);
                }
                v["metadata"]["resourceVersion"] = Value::String(rv.to_string());
                true
            }
            None => false,
        }
    }

    /// Like [`Store::update`] for a change that leaves `spec` alone (a status write): bumps the
    /// resource version without copying and comparing the spec for `metadata.generation`.
    pub fn update_status(&mut self, key: &ObjKey, f: impl FnOnce(&mut Value)) -> bool {
        let rv = self.next_resource_version();
        self.write_status_at(key, rv, f)
    }

    /// Objects with keys in `[lo, hi)`, in key order.
    pub fn range(&self, lo: ObjKey, hi: ObjKey) -> impl Iterator<Item = (&ObjKey, &Value)> {
        self.order
            .range(lo..hi)
            .map(|(k, i)| (k, &self.stored(*i).value))
    }

    /// The distinct kinds stored, in order.
    pub fn kinds(&self) -> Vec<String> {
        let mut v: Vec<String> = self.order.keys().map(|k| k.kind.clone()).collect();
        v.dedup();
        v
    }

    /// Hands out the next resourceVersion (for a write whose content is rendered later with
    /// [`Store::write_status_at`]).
    pub fn next_resource_version(&mut self) -> u64 {
        self.resource_version += 1;
        self.resource_version
    }

    /// A status write that was given resourceVersion `rv` when it happened (see
    /// [`Store::next_resource_version`]): like [`Store::update_status`] without a new version.
    pub fn write_status_at(&mut self, key: &ObjKey, rv: u64, f: impl FnOnce(&mut Value)) -> bool {
        self.wrote(key);
        match self.slot_mut(key) {
            Some(Stored { value: v, .. }) => {
                f(v);
                v["metadata"]["resourceVersion"] = Value::String(rv.to_string());
                true
            }
            None => false,
        }
    }

    /// Removes an object.
    pub fn remove(&mut self, key: &ObjKey) -> Option<Value> {
        let i = self.index.remove(key)?;
        self.changes
            .record_object(&key.kind, &key.namespace, &key.name, ChangeType::Deleted);
        self.order.remove(key);
        self.free.push(i);
        self.slots[i as usize].take().map(|s| s.value)
    }

    /// The latest resourceVersion handed out (a change counter of the store).
    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// Next resourceVersion (for objects rendered from compact state).
    pub fn next_rv(&mut self) -> u64 {
        self.resource_version += 1;
        self.resource_version
    }
}

/// [`Value::pointer`] without allocating: the same lookup (object keys, array indices as
/// `serde_json` parses them), reading each token in place instead of unescaping it into a new
/// string. Paths holding `~` (escapes) go through `Value::pointer` itself.
pub trait JsonPath {
    /// The value at a JSON pointer such as `/spec/replicas`.
    fn at(&self, path: &str) -> Option<&Value>;
}

impl JsonPath for Value {
    fn at(&self, path: &str) -> Option<&Value> {
        if path.contains('~') {
            return self.pointer(path);
        }
        if path.is_empty() {
            return Some(self);
        }
        let rest = path.strip_prefix('/')?;
        rest.split('/')
            .try_fold(self, |target, token| match target {
                Value::Object(map) => map.get(token),
                Value::Array(list) => array_index(token).and_then(|i| list.get(i)),
                _ => None,
            })
    }
}

/// An array index in a JSON pointer, as `serde_json` reads one (no sign, no leading zero).
fn array_index(s: &str) -> Option<usize> {
    if s.starts_with('+') || (s.starts_with('0') && s.len() != 1) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde_json::json;

    use super::{Handle, JsonPath, ObjKey, Store};

    /// Creations and deletions of a kind change its membership count; updates, status writes
    /// and other kinds do not. `list_updated` gives `get_updated`'s versions.
    #[test]
    fn membership_changes_with_creations_and_deletions_only() {
        let mut store = Store::default();
        let d = |n: &str| ObjKey::new("Deployment", "default", n);
        let put = |store: &mut Store, k: ObjKey| {
            store.put(
                k,
                json!({"spec": {"replicas": 1}}),
                || "uid".into(),
                "t".into(),
            )
        };
        assert_eq!(store.membership_of("Deployment"), 0);
        assert!(put(&mut store, d("a")));
        let after_a = store.membership_of("Deployment");
        assert!(after_a > 0);
        assert!(put(&mut store, d("b")));
        let after_b = store.membership_of("Deployment");
        assert!(after_b > after_a);
        // Updates and status writes change the kind's writes, not its membership.
        let writes = store.writes_of("Deployment");
        assert!(!put(&mut store, d("a")));
        store.update(&d("a"), |v| v["spec"]["replicas"] = json!(3));
        store.update_status(&d("b"), |v| v["status"] = json!({"replicas": 1}));
        assert!(store.writes_of("Deployment") > writes);
        let writes = store.writes_of("Deployment");
        put(&mut store, ObjKey::new("Service", "default", "a"));
        assert_eq!(store.membership_of("Deployment"), after_b);
        assert_eq!(store.writes_of("Deployment"), writes);
        let listed: Vec<(String, u64)> = store
            .list_updated("Deployment", None)
            .map(|(k, _, u)| (k.name.clone(), u))
            .collect();
        let expected: Vec<(String, u64)> = ["a", "b"]
            .iter()
            .map(|n| (n.to_string(), store.get_updated(&d(n)).unwrap().1))
            .collect();
        assert_eq!(listed, expected);
        let service = store.membership_of("Service");
        assert!(store.remove(&d("a")).is_some());
        let removed = store.membership_of("Deployment");
        assert!(removed > after_b);
        assert!(store.remove(&d("a")).is_none());
        assert_eq!(store.membership_of("Deployment"), removed);
        assert_eq!(store.membership_of("Service"), service);
    }

    proptest! {
        /// Any sequence of puts, updates and removes leaves the store's lookups, lists and
        /// ranges those of an ordered map given the same operations (slots are reused).
        #[test]
        fn store_matches_an_ordered_map(
            ops in prop::collection::vec((0u8..3, 0usize..2, 0usize..2, 0usize..6, 0i64..100), 1..80)
        ) {
            let (kinds, spaces) = (["Deployment", "ReplicaSet"], ["a", "b"]);
            let mut store = Store::default();
            let mut model: BTreeMap<ObjKey, i64> = BTreeMap::new();
            // Handles taken at each put: live ones find their key's object; those of removed
            // objects find nothing, even after the slot is reused or the key put again.
            let mut handles: BTreeMap<ObjKey, Handle> = BTreeMap::new();
            let mut stale: Vec<Handle> = vec![];
            for (op, k, ns, name, x) in ops {
                let key = ObjKey::new(kinds[k], spaces[ns], &format!("o{name}"));
                match op {
                    0 => {
                        let created = store.put(key.clone(), json!({"spec": {"x": x}}), String::new, String::new());
                        prop_assert_eq!(created, model.insert(key.clone(), x).is_none());
                        let h = store.handle(&key).expect("stored");
                        if let Some(old) = handles.insert(key, h) {
                            prop_assert_eq!(old, h, "a replace keeps the handle");
                        }
                    }
                    1 => {
                        let found = store.update(&key, |v| v["spec"]["x"] = json!(x));
                        prop_assert_eq!(found, model.contains_key(&key));
                        if let Some(m) = model.get_mut(&key) {
                            *m = x;
                        }
                    }
                    _ => {
                        prop_assert_eq!(store.remove(&key).is_some(), model.remove(&key).is_some());
                        stale.extend(handles.remove(&key));
                    }
                }
                for (key, h) in &handles {
                    let by = store.get_updated_by(*h).map(|(v, u)| (v.clone(), u));
                    prop_assert_eq!(by, store.get_updated(key).map(|(v, u)| (v.clone(), u)));
                }
                for h in &stale {
                    prop_assert!(store.get_updated_by(*h).is_none());
                }
                let x_of = |v: &serde_json::Value| v["spec"]["x"].as_i64().unwrap();
                for (key, x) in &model {
                    prop_assert_eq!(store.get(key).map(x_of), Some(*x));
                }
                for kind in kinds {
                    let listed: Vec<(ObjKey, i64)> =
                        store.list(kind, None).map(|(k, v)| (k.clone(), x_of(v))).collect();
                    let want: Vec<(ObjKey, i64)> = model
                        .iter()
                        .filter(|(k, _)| k.kind == kind)
                        .map(|(k, x)| (k.clone(), *x))
                        .collect();
                    prop_assert_eq!(listed, want);
                }
                let (lo, hi) = (ObjKey::new("Deployment", "b", ""), ObjKey::new("ReplicaSet", "a", "o3"));
                let ranged: Vec<ObjKey> = store.range(lo.clone(), hi.clone()).map(|(k, _)| k.clone()).collect();
                let want: Vec<ObjKey> = model.range(lo..hi).map(|(k, _)| k.clone()).collect();
                prop_assert_eq!(ranged, want);
            }
        }
    }

    /// `update_replicas` leaves the object as `update` setting the same field does (version,
    /// generation, content), whether the spec, the field or its value were there before.
    #[test]
    fn update_replicas_is_update_of_the_field() {
        let objects = [
            json!({"spec": {"replicas": 3, "template": {"a": 1}}}),
            json!({"spec": {"replicas": 2, "template": {"a": 1}}}),
            json!({"spec": {"replicas": 3.0}}),
            json!({"spec": {"template": {}}}),
            json!({"spec": null}),
            json!({"status": {"replicas": 1}}),
        ];
        for (i, o) in objects.iter().enumerate() {
            let key = ObjKey::new("ReplicaSet", "default", "rs");
            let (mut a, mut b) = (Store::default(), Store::default());
            for s in [&mut a, &mut b] {
                s.put(key.clone(), o.clone(), || "u".into(), "t".into());
            }
            a.update(&key, |v| {
                v["spec"]["replicas"] = json!(3);
                v["metadata"]["annotations"] = json!({"x": "y"});
            });
            b.update_replicas(&key, 3, |v| {
                v["metadata"]["annotations"] = json!({"x": "y"})
            });
            assert_eq!(a.get(&key), b.get(&key), "object {i}");
            assert_eq!(
                a.get_updated(&key).unwrap().1,
                b.get_updated(&key).unwrap().1
            );
            let generation = |s: &Store| s.get(&key).unwrap()["metadata"]["generation"].clone();
            assert_eq!(
                generation(&b),
                json!(if i == 0 { 1 } else { 2 }),
                "object {i}"
            );
        }
        assert!(!Store::default().update_replicas(&ObjKey::new("A", "", "b"), 1, |_| {}));
    }

    /// `at` gives what `Value::pointer` gives, on objects, arrays, scalars and odd paths.
    #[test]
    fn at_matches_pointer() {
        let v = json!({
            "spec": {"replicas": 3, "template": {"metadata": {"labels": {"a/b": "x", "c~d": "y"}}}},
            "metadata": {"ownerReferences": [{"uid": "u0"}, {"uid": "u1"}], "": {"": 5}},
            "list": [[1, 2], [3]],
            "n": null,
        });
        let paths = [
            "",
            "/",
            "//",
            "spec",
            "/spec",
            "/spec/replicas",
            "/spec/replicas/x",
            "/spec/nope",
            "/metadata/ownerReferences/0/uid",
            "/metadata/ownerReferences/1/uid",
            "/metadata/ownerReferences/2/uid",
            "/metadata/ownerReferences/01/uid",
            "/metadata/ownerReferences/+1/uid",
            "/metadata/ownerReferences/-1",
            "/metadata/ownerReferences/uid",
            "/list/0/1",
            "/list/1/0",
            "/list/1/1",
            "/n",
            "/n/x",
            "/spec/template/metadata/labels/c~0d",
            "/spec/template/metadata/labels/a~1b",
            "/metadata/",
            "/metadata//",
        ];
        let mut found = 0;
        for p in paths {
            assert_eq!(v.at(p), v.pointer(p), "{p}");
            found += usize::from(v.at(p).is_some());
        }
        assert_eq!(found, 12);
    }
}
