//! PodTopologySpread's pod counts kept between attempts, with the
//! [`NodeTable`](crate::scheduler::NodeTable).
//!
//! Upstream's PreScore counts a selector's pods by walking the pods of every node
//! (`countPodsMatchSelector`, common.go, from `PreScore`'s `processAllNode` and `Score`,
//! scoring.go): with the system default constraints every pod of a ReplicaSet is scored, and
//! that walk would cost every bound pod per attempt (about 60,000 pods per attempt at the end of
//! the 1,000-node day). A selector matches the pods of one namespace by their labels only, so
//! the counts are kept by *group*, the bound pods that are not terminating with one namespace and
//! one label set: a group's pods per node and per zone (`topology.kubernetes.io/zone`, `""` for a
//! node without it, as PreScore reads a missing label), updated when the table reads a node
//! again. A selector's pods on a node or in a zone are the sums over the groups it matches (few:
//! a ReplicaSet's pods share their template's labels). The counts are those of the walk
//! (`scoring::tests` compares them over random clusters).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use kscale_model::labels::Labels;
use kscale_model::{LabelSelector, SelectorOp};

use super::LABEL_HOSTNAME;
#[cfg(test)]
use crate::scheduler::node_table::NodeList;
use crate::scheduler::types::{NodeInfo, PodInfo};

/// `v1.LabelTopologyZone`: the zone label of the system default constraints.
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";

/// The counts of a node list (by position, as the table's rows). Groups count pods by node
/// *slot*, a number a node keeps while the list changes around it, so that moving nodes to
/// new positions ([`SpreadCounts::remap`]) leaves the groups' counts alone.
#[derive(Clone, Debug, Default)]
pub(crate) struct SpreadCounts {
    /// Per node: its labels the system defaults read and its groups.
    nodes: Vec<NodeEntry>,
    /// Per slot: the position of its node (`u32::MAX` for a free slot).
    positions: Vec<u32>,
    /// Free slots.
    free: Vec<u32>,
    /// Per group id: its namespace, labels and pods per node and per zone.
    groups: Vec<Group>,
    /// Group ids by (namespace, labels).
    by_key: BTreeMap<(Arc<str>, Arc<Labels>), u32>,
    /// Group ids by the address of a pod's label set (pods of a template share it) and
    /// namespace; the label set is held, so that its address is not reused while it is here.
    by_address: AddressMap<LabelSetGroups>,
    /// Group ids by each of their labels (key, then value).
    by_label: BTreeMap<String, BTreeMap<String, Vec<u32>>>,
}

/// A label set (held) and its group id per namespace.
type LabelSetGroups = (Arc<Labels>, Vec<(Arc<str>, u32)>);

/// What the counts read of one node.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct NodeEntry {
    /// Its slot.
    slot: u32,
    /// Its `topology.kubernetes.io/zone` label, if it has one.
    pub(crate) zone: Option<Arc<str>>,
    /// It has the `kubernetes.io/hostname` label.
    pub(crate) hostname: bool,
    /// (group id, pods) of its bound pods that are not terminating, by group id.
    groups: Vec<(u32, u32)>,
}

/// The bound pods that are not terminating of one namespace and label set.
#[derive(Clone, Debug)]
pub(crate) struct Group {
    namespace: Arc<str>,
    labels: Arc<Labels>,
    /// Pods by node slot (no zero entries; [`SpreadCounts::position`] gives its position).
    pub(crate) nodes: BTreeMap<u32, u32>,
    /// Pods by the zone of their node, `""` for nodes without the label (no zero entries).
    pub(crate) zones: BTreeMap<Arc<str>, u32>,
}

impl SpreadCounts {
    /// The counts of a node list.
    #[cfg(test)]
    pub(crate) fn of<'a, N: NodeList<'a> + ?Sized>(nodes: &N) -> SpreadCounts {
        SpreadCounts::default().remap((0..nodes.len()).map(|i| Err(nodes.node(i))))
    }

    /// The counts of nodes given in order, each node as `Ok(j)`: node `j` of this list,
    /// unchanged, or `Err(node)`: a node to read. Unchanged nodes keep their slots and
    /// counts: only the others' are taken away or added.
    pub(crate) fn remap<'n>(
        mut self,
        from: impl Iterator<Item = Result<usize, &'n NodeInfo>>,
    ) -> SpreadCounts {
        let mut old = std::mem::take(&mut self.nodes);
        let mut kept = vec![false; old.len()];
        let mut read: Vec<(usize, &NodeInfo)> = Vec::new();
        for (i, f) in from.enumerate() {
            match f {
                Ok(j) => {
                    kept[j] = true;
                    self.nodes.push(std::mem::take(&mut old[j]));
                }
                Err(n) => {
                    read.push((i, n));
                    self.nodes.push(NodeEntry::default());
                }
            }
        }
        // The nodes gone or read again: their pods leave the groups, their slots are freed.
        for (e, _) in old.iter().zip(&kept).filter(|(_, k)| !**k) {
            self.count(e, -1);
            self.positions[e.slot as usize] = u32::MAX;
            self.free.push(e.slot);
        }
        for (i, n) in read {
            let mut e = self.entry(n);
            e.slot = match self.free.pop() {
                Some(s) => s,
                None => {
                    self.positions.push(u32::MAX);
                    self.positions.len() as u32 - 1
                }
            };
            self.count(&e, 1);
            self.nodes[i] = e;
        }
        for (i, e) in self.nodes.iter().enumerate() {
            self.positions[e.slot as usize] = i as u32;
        }
        self
    }

    /// Node `i` changed: its pods and labels are read again (the counts of its groups whose
    /// pods changed are updated).
    pub(crate) fn refresh(&mut self, i: usize, node: &NodeInfo) {
        let mut e = self.entry(node);
        let old = std::mem::take(&mut self.nodes[i]);
        e.slot = old.slot;
        if e.zone == old.zone {
            // The difference of two lists sorted by group.
            let (mut a, mut b) = (old.groups.iter().peekable(), e.groups.iter().peekable());
            let mut diff: Vec<(u32, u32, i64)> = Vec::new();
            loop {
                match (a.peek(), b.peek()) {
                    (Some(&&(ga, na)), Some(&&(gb, nb))) if ga == gb => {
                        if na != nb {
                            diff.push((ga, na.abs_diff(nb), if nb > na { 1 } else { -1 }));
                        }
                        a.next();
                        b.next();
                    }
                    (Some(&&(ga, na)), Some(&&(gb, _))) if ga < gb => {
                        diff.push((ga, na, -1));
                        a.next();
                    }
                    (Some(&&(ga, na)), None) => {
                        diff.push((ga, na, -1));
                        a.next();
                    }
                    (_, Some(&&(gb, nb))) => {
                        diff.push((gb, nb, 1));
                        b.next();
                    }
                    (None, None) => break,
                }
            }
            let zone = e.zone.clone().unwrap_or_else(|| Arc::from(""));
            for (g, n, sign) in diff {
                self.bump_group(g, e.slot, &zone, n, sign);
            }
        } else {
            self.count(&old, -1);
            self.count(&e, 1);
        }
        self.nodes[i] = e;
    }

    /// Node `i`'s entry.
    pub(crate) fn node(&self, i: usize) -> &NodeEntry {
        &self.nodes[i]
    }

    /// The position of the node in `slot`.
    pub(crate) fn position(&self, slot: u32) -> usize {
        self.positions[slot as usize] as usize
    }

    /// The groups with pods that `selector` matches in `ns` (none for a missing or empty
    /// selector, as `countPodsMatchSelector` counts none): of the groups holding one of the
    /// label values the selector requires, the fewest (a ReplicaSet's selector requires its
    /// `pod-template-hash`), else all.
    pub(crate) fn matching<'s>(
        &'s self,
        selector: Option<&LabelSelector>,
        ns: &str,
    ) -> Vec<&'s Group> {
        let Some(sel) = selector.filter(|s| !s.is_empty()) else {
            return vec![];
        };
        let required = (sel.match_labels.iter())
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(
                (sel.match_expressions.iter())
                    .filter(|r| r.op == SelectorOp::In && r.values.len() == 1)
                    .map(|r| (r.key.as_str(), r.values[0].as_str())),
            );
        let candidates = required
            .map(|(k, v)| {
                (self.by_label.get(k))
                    .and_then(|m| m.get(v))
                    .map_or(&[][..], Vec::as_slice)
            })
            .min_by_key(|c| c.len());
        let selects =
            |g: &&Group| !g.nodes.is_empty() && *g.namespace == *ns && sel.matches(&g.labels);
        match candidates {
            Some(ids) => ids
                .iter()
                .map(|&g| &self.groups[g as usize])
                .filter(selects)
                .collect(),
            None => self.groups.iter().filter(selects).collect(),
        }
    }

    /// Adds (`sign` 1) or takes away (-1) a node's pods to its groups' counts.
    fn count(&mut self, e: &NodeEntry, sign: i64) {
        let zone: Arc<str> = e.zone.clone().unwrap_or_else(|| Arc::from(""));
        for &(g, n) in &e.groups {
            self.bump_group(g, e.slot, &zone, n, sign);
        }
    }

    /// Adds `sign × n` pods on the node in `slot`, in `zone`, to group `g`.
    fn bump_group(&mut self, g: u32, slot: u32, zone: &Arc<str>, n: u32, sign: i64) {
        let g = &mut self.groups[g as usize];
        bump(&mut g.nodes, slot, n, sign);
        bump(&mut g.zones, zone.clone(), n, sign);
    }

    /// Node `node`'s entry, with groups added for label sets not seen before.
    fn entry(&mut self, node: &NodeInfo) -> NodeEntry {
        // Pods bound one after another are often of one template: the last one's group first.
        let mut last: Option<(&PodInfo, u32)> = None;
        let mut ids: Vec<u32> = Vec::with_capacity(node.pods.len());
        for p in node.pods.iter().filter(|p| !p.terminating) {
            let g = match last {
                Some((q, g)) if Arc::ptr_eq(&q.labels, &p.labels) && q.namespace == p.namespace => {
                    g
                }
                _ => self.group_of(&p.namespace, &p.labels),
            };
            last = Some((p, g));
            ids.push(g);
        }
        ids.sort_unstable();
        let mut groups: Vec<(u32, u32)> = Vec::new();
        for g in ids {
            match groups.last_mut() {
                Some((last, n)) if *last == g => *n += 1,
                _ => groups.push((g, 1)),
            }
        }
        NodeEntry {
            slot: 0,
            zone: node.labels.get(LABEL_ZONE).map(|z| Arc::from(z.as_str())),
            hostname: node.labels.contains_key(LABEL_HOSTNAME),
            groups,
        }
    }

    /// The group id of pods in `ns` labelled `labels`.
    fn group_of(&mut self, ns: &Arc<str>, labels: &Arc<Labels>) -> u32 {
        let addr = Arc::as_ptr(labels) as usize;
        if let Some((_, known)) = self.by_address.get(&addr)
            && let Some(&(_, g)) = known.iter().find(|(n, _)| **n == **ns)
        {
            return g;
        }
        let key = (ns.clone(), labels.clone());
        let g = match self.by_key.get(&key) {
            Some(&g) => g,
            None => {
                let g = self.groups.len() as u32;
                self.groups.push(Group {
                    namespace: ns.clone(),
                    labels: labels.clone(),
                    nodes: BTreeMap::new(),
                    zones: BTreeMap::new(),
                });
                self.by_key.insert(key, g);
                for (k, v) in labels.iter() {
                    (self.by_label.entry(k.clone()).or_default())
                        .entry(v.clone())
                        .or_default()
                        .push(g);
                }
                g
            }
        };
        self.by_address
            .entry(addr)
            .or_insert_with(|| (labels.clone(), Vec::new()))
            .1
            .push((ns.clone(), g));
        g
    }

    /// Per node, its zone, hostname label and pods by (namespace, labels); and per group with
    /// pods, its counts by node and by zone: what equal counts hold, whatever their group ids.
    #[allow(clippy::type_complexity)]
    fn content(
        &self,
    ) -> (
        Vec<(Option<&str>, bool, Vec<(&str, &Labels, u32)>)>,
        BTreeMap<(&str, &Labels), (BTreeMap<usize, u32>, &BTreeMap<Arc<str>, u32>)>,
    ) {
        let key = |g: u32| {
            let g = &self.groups[g as usize];
            (&*g.namespace, &*g.labels)
        };
        let nodes = self
            .nodes
            .iter()
            .map(|e| {
                let mut pods: Vec<(&str, &Labels, u32)> = e
                    .groups
                    .iter()
                    .map(|&(g, n)| {
                        let (ns, l) = key(g);
                        (ns, l, n)
                    })
                    .collect();
                pods.sort();
                (e.zone.as_deref(), e.hostname, pods)
            })
            .collect();
        let groups = self
            .groups
            .iter()
            .filter(|g| !g.nodes.is_empty())
            .map(|g| {
                let by_position = (g.nodes.iter())
                    .map(|(&slot, &n)| (self.position(slot), n))
                    .collect();
                ((&*g.namespace, &*g.labels), (by_position, &g.zones))
            })
            .collect();
        (nodes, groups)
    }
}

/// Counts are equal when they count the same pods the same way (group ids aside).
impl PartialEq for SpreadCounts {
    fn eq(&self, o: &Self) -> bool {
        self.content() == o.content()
    }
}

/// A map keyed by address, hashed by one multiplication (it is read once per pod whose node's
/// counts are read again); never iterated.
type AddressMap<V> = HashMap<usize, V, BuildHasherDefault<AddressHasher>>;

/// Fibonacci hashing of one word, its high half folded into the low bits the table indexes by.
#[derive(Clone, Copy, Debug, Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_usize(self.0 as usize ^ usize::from(b));
        }
    }

    fn write_usize(&mut self, n: usize) {
        let x = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = x ^ (x >> 32);
    }
}

/// Adds `sign × n` to `map[key]`, dropping the entry at zero.
fn bump<K: Ord>(map: &mut BTreeMap<K, u32>, key: K, n: u32, sign: i64) {
    if sign > 0 {
        *map.entry(key).or_insert(0) += n;
    } else if let Some(v) = map.get_mut(&key) {
        *v -= n;
        if *v == 0 {
            map.remove(&key);
        }
    }
}
