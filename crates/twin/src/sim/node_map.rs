//! The nodes by name, journaling every change, so the scheduling queue keeps its
//! [`NodeTable`] between cycles and refreshes only the rows of the nodes that changed instead
//! of rebuilding it (a pass over every node) at every cycle.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Arc;

use kscale_controllers::scheduler::{NodeInfo, NodeList, NodeTable};

use super::model::Node;

/// The nodes by name. Reads go through `Deref` to the map; every mutable access goes through
/// [`NodeMap::get_mut`], [`NodeMap::insert`] or [`NodeMap::remove`], which journal it.
#[derive(Debug, Clone, Default)]
pub struct NodeMap {
    map: BTreeMap<Arc<str>, Node>,
    /// Inserts and removals so far (a table's rows are by position in name order).
    structure: u64,
    /// The table kept by the last cycle and the `structure` it is of.
    kept: Option<(NodeTable, u64)>,
    /// The node names in order, as of `structure` (the kept table's rows).
    names: Option<(Vec<Arc<str>>, u64)>,
    /// Names of the nodes changed since journaling started (repeats allowed).
    journal: Vec<Arc<str>>,
    /// A table has been kept once: changes are journaled from then on.
    tracking: bool,
    /// The journal grew past its bound and was dropped: the next table is built anew.
    overflowed: bool,
}

impl Deref for NodeMap {
    type Target = BTreeMap<Arc<str>, Node>;
    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl<'a> IntoIterator for &'a NodeMap {
    type Item = (&'a Arc<str>, &'a Node);
    type IntoIter = std::collections::btree_map::Iter<'a, Arc<str>, Node>;
    fn into_iter(self) -> Self::IntoIter {
        self.map.iter()
    }
}

impl NodeMap {
    /// A node to change (journaled).
    pub fn get_mut<Q>(&mut self, name: &Q) -> Option<&mut Node>
    where
        Arc<str>: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        if self.tracking
            && !self.overflowed
            && let Some((k, _)) = self.map.get_key_value(name)
        {
            self.journal.push(k.clone());
            if self.journal.len() > 4 * self.map.len() + 64 {
                // Long since the last cycle: a rebuild costs less than the journal.
                self.journal = Vec::new();
                self.overflowed = true;
            }
        }
        self.map.get_mut(name)
    }

    /// Adds (or replaces) a node.
    pub fn insert(&mut self, name: Arc<str>, node: Node) -> Option<Node> {
        self.structure += 1;
        if self.tracking && !self.overflowed {
            // A node replaced under its old name is not the kept row's node (the map keeps
            // its old key, which is journaled: the journal holds the map's own keys).
            let key = self.map.get_key_value(&name).map(|(k, _)| k.clone());
            self.journal.push(key.unwrap_or_else(|| name.clone()));
        }
        self.map.insert(name, node)
    }

    /// Removes a node.
    pub fn remove<Q>(&mut self, name: &Q) -> Option<Node>
    where
        Arc<str>: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.structure += 1;
        self.map.remove(name)
    }

    /// The table the last cycle kept, its changed (or added) nodes' rows read again and the
    /// others moved to their positions after nodes were added or removed; None when it must
    /// be built anew (nothing kept, or the journal overflowed).
    pub fn take_table(&mut self) -> Option<NodeTable> {
        let table = self.take_kept();
        #[cfg(debug_assertions)]
        if let Some(t) = &table {
            let refs: Vec<&NodeInfo> = self.map.values().map(|n| &n.info).collect();
            debug_assert!(
                *t == NodeTable::new(&refs),
                "the kept table is the nodes' table"
            );
        }
        table
    }

    /// [`NodeMap::take_table`] without the debug builds' check.
    fn take_kept(&mut self) -> Option<NodeTable> {
        let mut journal = std::mem::take(&mut self.journal);
        let overflowed = std::mem::replace(&mut self.overflowed, false);
        let (mut table, at) = self.kept.take()?;
        if overflowed {
            return None;
        }
        let (names, names_at) = self.names.as_ref()?;
        if *names_at != at {
            return None;
        }
        if at != self.structure {
            // Nodes were added or removed: the rows of the nodes still there and unchanged
            // move to their new positions, the others are read (names are sorted, as the
            // map's keys; names of unchanged nodes are the keys' own `Arc`s: compared by
            // address first). The journal holds the map's own keys, alive while journaled:
            // a changed node's key is found by its address.
            let same = |a: &Arc<str>, b: &Arc<str>| Arc::ptr_eq(a, b) || a == b;
            let changed: ChangedKeys = journal
                .iter()
                .map(|k| Arc::as_ptr(k).cast::<u8>())
                .collect();
            let mut old = names.iter().enumerate().peekable();
            let from = self.map.iter().map(|(k, n)| {
                while old.next_if(|(_, o)| !same(o, k) && *o < k).is_some() {}
                let was = old.next_if(|(_, o)| same(o, k)).map(|(i, _)| i);
                let touched = changed.contains(&Arc::as_ptr(k).cast::<u8>());
                was.filter(|_| !touched).ok_or(&n.info)
            });
            return Some(table.remap(from));
        }
        journal.sort_unstable();
        journal.dedup();
        for name in &journal {
            let i = names.binary_search(name).ok()?;
            table.refresh(i, &self.map[name].info);
        }
        Some(table)
    }

    /// Lists the node names in order again if nodes were added or removed since they were
    /// (for [`NodeMap::by_position`]). Not between [`NodeMap::keep_table`] and
    /// [`NodeMap::take_table`]: the kept table's rows are by the names as of its keeping.
    pub fn index_names(&mut self) {
        debug_assert!(self.kept.is_none(), "a kept table's names are kept");
        if self
            .names
            .as_ref()
            .is_none_or(|(_, at)| *at != self.structure)
        {
            self.names = Some((self.map.keys().cloned().collect(), self.structure));
        }
    }

    /// The nodes by position in name order, each looked up when read; None if nodes were
    /// added or removed since [`NodeMap::index_names`].
    pub fn by_position(&self) -> Option<ByPosition<'_>> {
        let (names, at) = self.names.as_ref()?;
        (*at == self.structure).then_some(ByPosition {
            names,
            map: &self.map,
        })
    }

    /// Keeps `table`, the table of the current nodes in name order, for the next cycle.
    pub fn keep_table(&mut self, table: NodeTable) {
        if std::mem::replace(&mut self.overflowed, false) {
            // Changes since the table was built may be lost.
            return;
        }
        if self
            .names
            .as_ref()
            .is_none_or(|(_, at)| *at != self.structure)
        {
            self.names = Some((self.map.keys().cloned().collect(), self.structure));
        }
        debug_assert_eq!(table.len(), self.map.len());
        self.tracking = true;
        self.kept = Some((table, self.structure));
    }
}

/// The addresses of the keys journaled as changed.
type ChangedKeys = std::collections::HashSet<*const u8, foldhash::fast::FixedState>;

/// The nodes by position in name order (see [`NodeMap::by_position`]): node `i` is found by
/// its name, so a scheduling attempt that reads a few nodes costs a few lookups, not a list of
/// them all (one per attempt after every bind: pods × nodes over a day).
#[derive(Debug, Clone, Copy)]
pub struct ByPosition<'a> {
    names: &'a [Arc<str>],
    map: &'a BTreeMap<Arc<str>, Node>,
}

impl<'a> NodeList<'a> for ByPosition<'a> {
    fn len(&self) -> usize {
        self.names.len()
    }
    fn node(&self, i: usize) -> &'a NodeInfo {
        &self.map[&*self.names[i]].info
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kscale_controllers::scheduler::NodeInfo;
    use kscale_model::{Resources, SimTime};

    fn node(name: &str, cpu: i64) -> Node {
        Node {
            info: NodeInfo {
                name: Arc::from(name),
                labels: Default::default(),
                taints: Default::default(),
                unschedulable: false,
                ready: true,
                allocatable: Resources {
                    cpu_milli: cpu,
                    memory: 1 << 30,
                    pods: 110,
                },
                requested: Resources::ZERO,
                pods: vec![],
                nominated: vec![],
            },
            uid: String::new(),
            created: SimTime::ZERO,
            last_pod_event: SimTime::ZERO,
            capacity: Resources::ZERO,
            instance_type: String::new(),
            capacity_type: String::new(),
            hourly_price: 0.0,
            images: Default::default(),
            annotations: Default::default(),
            sandbox_free_at: SimTime::ZERO,
            pods_stamp: 0,
        }
    }

    fn fresh(m: &NodeMap) -> NodeTable {
        let refs: Vec<&NodeInfo> = m.values().map(|n| &n.info).collect();
        NodeTable::new(&refs)
    }

    #[test]
    fn by_position_reads_the_nodes_in_name_order_while_the_set_holds() {
        let mut m = NodeMap::default();
        for name in ["c", "a", "b"] {
            m.insert(Arc::from(name), node(name, 1000));
        }
        assert!(m.by_position().is_none(), "not indexed yet");
        m.index_names();
        let names = |m: &NodeMap| {
            let p = m.by_position().unwrap();
            (0..p.len())
                .map(|i| p.node(i).name.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&m), ["a", "b", "c"]);
        // A change of a node is read through; adding or removing one needs indexing again.
        m.get_mut("b").unwrap().info.requested.cpu_milli = 300;
        assert_eq!(m.by_position().unwrap().node(1).requested.cpu_milli, 300);
        m.insert(Arc::from("ab"), node("ab", 1000));
        assert!(m.by_position().is_none());
        m.index_names();
        assert_eq!(names(&m), ["a", "ab", "b", "c"]);
        m.remove("a");
        assert!(m.by_position().is_none());
        m.index_names();
        assert_eq!(names(&m), ["ab", "b", "c"]);
    }

    #[test]
    fn kept_table_follows_changes_inserts_and_removals() {
        let mut m = NodeMap::default();
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            m.insert(Arc::from(*name), node(name, 1000 * (i as i64 + 1)));
        }
        assert!(m.take_table().is_none(), "nothing kept yet");
        m.keep_table(fresh(&m));
        // Changes between cycles: requests, cordon, readiness.
        m.get_mut("b").unwrap().info.requested.cpu_milli = 500;
        m.get_mut("c").unwrap().info.unschedulable = true;
        m.get_mut("b").unwrap().info.requested.cpu_milli = 700;
        m.get_mut("a").unwrap().info.ready = false;
        let t = m.take_table().expect("kept");
        assert_eq!(t, fresh(&m));
        m.keep_table(t);
        // A change made while a cycle held the table is journaled too.
        let t = m.take_table().expect("kept");
        m.get_mut("a").unwrap().info.ready = true;
        m.keep_table(t);
        assert_eq!(m.take_table().expect("kept"), fresh(&m));
        // Adding or removing a node moves the rows: the unchanged ones are moved, the
        // others read.
        m.keep_table(fresh(&m));
        m.insert(Arc::from("ab"), node("ab", 4000));
        m.get_mut("c").unwrap().info.requested.cpu_milli = 100;
        let t = m.take_table().expect("kept");
        assert_eq!(t, fresh(&m));
        m.keep_table(t);
        m.remove("b");
        m.get_mut("a").unwrap().info.unschedulable = true;
        let t = m.take_table().expect("kept");
        assert_eq!(t, fresh(&m));
        m.keep_table(t);
        // A node replaced under its name is read again.
        m.insert(Arc::from("ab"), node("ab", 500));
        let t = m.take_table().expect("kept");
        assert_eq!(t, fresh(&m));
        m.keep_table(t);
        // So is a node removed and added again under a new name of the same text.
        m.remove("c");
        m.insert(Arc::from("c"), node("c", 9000));
        let t = m.take_table().expect("kept");
        assert_eq!(t, fresh(&m));
        m.keep_table(t);
        assert_eq!(m.take_table().expect("kept"), fresh(&m));
    }

    #[test]
    fn an_overflowing_journal_drops_the_table() {
        let mut m = NodeMap::default();
        m.insert(Arc::from("a"), node("a", 1000));
        m.keep_table(fresh(&m));
        for i in 0..100 {
            m.get_mut("a").unwrap().info.requested.cpu_milli = i;
        }
        assert!(
            m.take_table().is_none(),
            "rebuilt after the journal overflowed"
        );
        m.keep_table(fresh(&m));
        m.get_mut("a").unwrap().info.requested.cpu_milli = 3;
        assert_eq!(m.take_table().expect("kept"), fresh(&m));
    }
}
