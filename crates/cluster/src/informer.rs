//! An informer: a component's cache of one kind, as client-go's shared informers keep one
//! (`tools/cache/reflector.go`: list, then watch from the list's revision; a watch that is too
//! old, 410 Gone, lists again).
//!
//! [`Informer::sync`] brings the cache up to date through the cluster API: the first call lists
//! the kind; later calls read [`Cluster::changes`] since the last revision and get each changed
//! object once (however many times it changed), dropping deleted ones. A component then reads
//! its objects from memory, and learns which ones changed ([`Synced::changed`]) to redo only the
//! work they affect.
//!
//! An informer may keep a component's own reading of each object instead of the object
//! ([`Informer::transformed`], as client-go's `SharedIndexInformer.SetTransform`,
//! `tools/cache/shared_informer.go`, strips what a controller does not need before caching).

use std::collections::{BTreeMap, BTreeSet};

use crate::{ApiError, ChangeType, Cluster, Object};

/// An object's key: namespace ("" for cluster-scoped kinds) and name.
pub type Key = (String, String);

/// What one [`Informer::sync`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Synced {
    /// The cache was (re)built from a list: every object may have changed.
    pub relisted: bool,
    /// The objects added, modified or deleted since the last sync (empty after a relist).
    pub changed: BTreeSet<Key>,
}

impl Synced {
    /// Whether anything may have changed.
    pub fn any(&self) -> bool {
        self.relisted || !self.changed.is_empty()
    }
}

/// A cache of the objects of kind `K`, following the cluster's changes, each kept as a `T`
/// (the object itself unless [`Informer::transformed`]).
#[derive(Debug, Clone)]
pub struct Informer<K: Object, T = K> {
    objects: BTreeMap<Key, T>,
    /// The revision the cache is current at (`None`: never listed, or must list again).
    revision: Option<u64>,
    /// What is kept of each object.
    transform: fn(K) -> T,
    /// The one object followed, if the cache is limited to one ([`Informer::for_object`]).
    only: Option<Key>,
}

impl<K: Object> Default for Informer<K> {
    fn default() -> Self {
        Informer::transformed(std::convert::identity)
    }
}

fn key_of<K: Object>(o: &K) -> Key {
    let m = o.metadata();
    (
        m.namespace.clone().unwrap_or_default(),
        m.name.clone().unwrap_or_default(),
    )
}

impl<K: Object> Informer<K> {
    /// An empty cache; the first [`Informer::sync`] lists.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<K: Object, T> Informer<K, T> {
    /// An empty cache keeping `transform(object)` for each object (read once per change).
    pub fn transformed(transform: fn(K) -> T) -> Self {
        Informer {
            objects: BTreeMap::new(),
            revision: None,
            transform,
            only: None,
        }
    }

    /// The same cache limited to the object `namespace/name` ("" namespace for a
    /// cluster-scoped kind): it lists that namespace and reads only that object's changes, as
    /// client-go's informer of one object (a namespaced informer with a `metadata.name=NAME`
    /// field selector, `informers.WithTweakListOptions`).
    pub fn for_object(mut self, namespace: &str, name: &str) -> Self {
        self.only = Some((namespace.to_string(), name.to_string()));
        self
    }

    fn wanted(&self, key: &Key) -> bool {
        self.only.as_ref().is_none_or(|o| o == key)
    }

    /// Brings the cache up to date with `api`: a list the first time and after
    /// [`ApiError::Expired`], the changes since the last sync otherwise.
    pub fn sync<C: Cluster>(&mut self, api: &mut C) -> Result<Synced, ApiError> {
        if let Some(since) = self.revision {
            match api.changes::<K>(since) {
                Ok(feed) => {
                    let mut changed = BTreeSet::new();
                    let mut gone = BTreeSet::new();
                    for c in feed.changes {
                        let key = (c.namespace, c.name);
                        if !self.wanted(&key) {
                            continue;
                        }
                        if c.type_ == ChangeType::Deleted {
                            gone.insert(key.clone());
                        } else {
                            gone.remove(&key);
                        }
                        changed.insert(key);
                    }
                    for key in &changed {
                        // A later change may have replaced or deleted it: read it as it is now.
                        let now = if gone.contains(key) {
                            None
                        } else {
                            api.get::<K>(&key.0, &key.1)?
                        };
                        match now {
                            Some(o) => self.objects.insert(key.clone(), (self.transform)(o)),
                            None => self.objects.remove(key),
                        };
                    }
                    self.revision = Some(feed.revision);
                    return Ok(Synced {
                        relisted: false,
                        changed,
                    });
                }
                Err(ApiError::Expired(_)) => {}
                Err(e) => return Err(e),
            }
        }
        // The revision first: a change between it and the list is applied again next time
        // (idempotent), none is missed.
        let revision = api.revision()?;
        let namespace = self
            .only
            .as_ref()
            .map(|o| o.0.as_str())
            .filter(|n| !n.is_empty());
        let listed = api.list::<K>(namespace, "")?;
        self.objects = listed
            .into_iter()
            .map(|o| (key_of(&o), o))
            .filter(|(k, _)| self.wanted(k))
            .map(|(k, o)| (k, (self.transform)(o)))
            .collect();
        self.revision = Some(revision);
        Ok(Synced {
            relisted: true,
            changed: BTreeSet::new(),
        })
    }

    /// The object `namespace/name` ("" namespace for cluster-scoped kinds).
    pub fn get(&self, namespace: &str, name: &str) -> Option<&T> {
        self.objects.get(&(namespace.to_string(), name.to_string()))
    }

    /// The objects, by namespace and name.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &T)> {
        self.objects.iter()
    }

    /// The objects of one namespace, by name (a range of the cache, not a walk of it).
    pub fn in_namespace<'a>(
        &'a self,
        namespace: &'a str,
    ) -> impl Iterator<Item = (&'a Key, &'a T)> {
        self.objects
            .range((namespace.to_string(), String::new())..)
            .take_while(move |(k, _)| k.0 == namespace)
    }

    /// How many objects the cache holds.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether the cache holds no object.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// The revision the cache is current at, once listed.
    pub fn revision(&self) -> Option<u64> {
        self.revision
    }
}
