//! The scheduling simulation behind every consolidation decision (karpenter
//! pkg/controllers/disruption/helpers.go `SimulateScheduling`): the order pods are placed in,
//! and the destinations' free room, searched first-fit by blocks and changed in place per
//! simulation.

use std::cell::{RefCell, RefMut};
use std::cmp::Reverse;
use std::sync::Arc;

use kscale_model::Resources;

use super::types::{Candidate, Cluster};
use crate::karpenter::{HypotheticalNodes, compatibility};
use crate::scheduler::{NodeInfo, PodInfo};

/// What every simulation over one [`Cluster`] starts from: the destinations' free room and the
/// pools' compatible offerings (built once for multi- and single-node consolidation).
pub struct Simulations<'a> {
    pub(super) room: FreeRoom<'a>,
    /// A copy of `room`'s table, which each simulation changes and restores ([`Trial`]).
    pub(super) work: RefCell<FirstFit>,
    pub(super) compatible: Arc<Vec<Vec<usize>>>,
    /// The plans' hypothetical nodes, built once for every simulation over `cluster`.
    pub(super) hypothetical: RefCell<HypotheticalNodes>,
}

impl<'a> Simulations<'a> {
    /// The start of every simulation over `cluster`.
    pub fn new(cluster: &Cluster<'a>) -> Simulations<'a> {
        Simulations::prepared(
            cluster,
            0,
            Arc::new(compatibility(cluster.pools, cluster.offerings)),
        )
    }

    /// [`Simulations::new`] from what the caller already knows: the first `named_in_order` of
    /// `cluster.nodes` are in strictly increasing name order (their name index is not sorted
    /// again; checked in debug builds), and `compatible` is
    /// [`compatibility`]`(cluster.pools, cluster.offerings)` (kept by the caller while the
    /// pools' requirements and the offerings are unchanged).
    pub fn prepared(
        cluster: &Cluster<'a>,
        named_in_order: usize,
        compatible: Arc<Vec<Vec<usize>>>,
    ) -> Simulations<'a> {
        debug_assert!(*compatible == compatibility(cluster.pools, cluster.offerings));
        let room = FreeRoom::new(cluster.nodes, named_in_order);
        Simulations {
            work: RefCell::new(room.fit.clone()),
            room,
            compatible,
            hypothetical: RefCell::default(),
        }
    }

    /// Another start of the same simulations, with its own working copies: for a search that
    /// runs on another thread beside this one's (a simulation gives the same result from
    /// either).
    pub fn fork(&self) -> Simulations<'a> {
        Simulations {
            work: RefCell::new(self.room.fit.clone()),
            room: self.room.clone(),
            compatible: self.compatible.clone(),
            hypothetical: RefCell::default(),
        }
    }
}

/// [`placement_key`]: (CPU descending, memory descending, id).
pub type PlacementKey = (Reverse<i64>, Reverse<i64>, u64);

/// The order the simulation places pods in: CPU, then memory descending, then id (a total
/// order: a subset of a sorted list is sorted). As a key, so a sort does not read the pods.
pub fn placement_key(p: &PodInfo) -> PlacementKey {
    (
        Reverse(p.requests.cpu_milli),
        Reverse(p.requests.memory),
        p.id,
    )
}

/// Nodes per block of [`FirstFit`].
const FIT_BLOCK: usize = 32;

/// The free room (allocatable − requests − the simulation's placements, the pod count as
/// `pods`) of every destination node, with each block's component-wise maximum: the first node
/// whose room holds a request is found by skipping the blocks that cannot hold it.
#[derive(Clone)]
pub(super) struct FirstFit {
    free: Vec<Resources>,
    block_max: Vec<Resources>,
}

/// Room no request fits (a removed node).
pub(super) const NO_ROOM: Resources = Resources {
    cpu_milli: i64::MIN,
    memory: i64::MIN,
    pods: i64::MIN,
};

pub(super) fn max_each(a: Resources, b: &Resources) -> Resources {
    Resources {
        cpu_milli: a.cpu_milli.max(b.cpu_milli),
        memory: a.memory.max(b.memory),
        pods: a.pods.max(b.pods),
    }
}

/// The destinations' free room before any simulation, with each node's index by name: a
/// simulation's [`FirstFit`] is a copy with its removed nodes' room taken away, the same table
/// as one built from scratch without them.
#[derive(Clone)]
pub(super) struct FreeRoom<'a> {
    fit: FirstFit,
    /// (name, index) sorted by name.
    index: Vec<(&'a str, usize)>,
    /// The nodes known to be in strictly increasing name order (a prefix of the nodes).
    named_in_order: usize,
    /// (name, index) of the other nodes, sorted by name.
    tail: Vec<(&'a str, usize)>,
}

impl<'a> FreeRoom<'a> {
    fn new(nodes: &[&'a NodeInfo], named_in_order: usize) -> FreeRoom<'a> {
        let free: Vec<Resources> = nodes
            .iter()
            .map(|n| Resources {
                cpu_milli: n.allocatable.cpu_milli - n.requested.cpu_milli,
                memory: n.allocatable.memory - n.requested.memory,
                pods: n.allocatable.pods - n.pods.len() as i64,
            })
            .collect();
        let block_max = free
            .chunks(FIT_BLOCK)
            .map(|b| b.iter().fold(NO_ROOM, max_each))
            .collect();
        let mut index: Vec<(&str, usize)> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_ref(), i))
            .collect();
        // (Usually the nodes in name order, then in-flight NodeClaims.) The pairs are distinct,
        // so any sort gives this order: the prefix known to be in name order is kept, the rest
        // sorted and each of its entries placed by binary search (no pass comparing the names
        // of the whole prefix).
        let k = named_in_order.min(index.len());
        debug_assert!(index[..k].windows(2).all(|w| w[0].0 < w[1].0));
        let mut tail = vec![];
        if k < index.len() {
            tail = index.split_off(k);
            tail.sort();
            let prefix = index;
            index = Vec::with_capacity(prefix.len() + tail.len());
            let mut from = 0;
            for t in &tail {
                let at = from + prefix[from..].partition_point(|x| x < t);
                index.extend_from_slice(&prefix[from..at]);
                index.push(*t);
                from = at;
            }
            index.extend_from_slice(&prefix[from..]);
        }
        FreeRoom {
            fit: FirstFit { free, block_max },
            index,
            named_in_order: k,
            tail,
        }
    }

    /// Appends to `out` the indices of the nodes named `c.node`, in increasing order (those of
    /// [`FreeRoom::indices_of`]): with a [`Candidate::destination`] that names a node of the
    /// name-ordered prefix, that node (the only one of its name there) and those of the other
    /// nodes, without a search of the prefix.
    /// `nodes` are the nodes the room was built from.
    pub(super) fn candidate_indices(
        &self,
        nodes: &[&NodeInfo],
        c: &Candidate<'_>,
        out: &mut Vec<usize>,
    ) {
        match c.destination {
            Some(i) if i < self.named_in_order && nodes[i].name.as_ref() == c.node => {
                out.push(i);
                let from = self.tail.partition_point(|(n, _)| *n < c.node);
                out.extend(
                    self.tail[from..]
                        .iter()
                        .take_while(|(n, _)| *n == c.node)
                        .map(|&(_, i)| i),
                );
            }
            _ => out.extend(self.indices_of(c.node)),
        }
        debug_assert!(out.ends_with(&self.indices_of(c.node).collect::<Vec<_>>()));
    }

    /// The indices of the nodes named `name`.
    fn indices_of<'s>(&'s self, name: &'s str) -> impl Iterator<Item = usize> + 's {
        let from = self.index.partition_point(|(n, _)| *n < name);
        self.index[from..]
            .iter()
            .take_while(move |(n, _)| *n == name)
            .map(|&(_, i)| i)
    }

    /// A trial on `work` (a copy of this table between trials) with the nodes at `removed`
    /// (distinct indices) holding nothing: the same table as a copy of this one without them,
    /// and `work` is this table again once the trial ends.
    pub(super) fn trial_at<'w>(
        &self,
        work: &'w RefCell<FirstFit>,
        removed: impl Iterator<Item = usize>,
    ) -> Trial<'w> {
        let mut t = Trial {
            fit: work.borrow_mut(),
            free_log: vec![],
            block_log: vec![],
        };
        debug_assert!(t.fit.free == self.fit.free && t.fit.block_max == self.fit.block_max);
        let mut blocks = vec![];
        for i in removed {
            t.set_free(i, NO_ROOM);
            blocks.push(i / FIT_BLOCK);
        }
        blocks.sort_unstable();
        blocks.dedup();
        for b in blocks {
            t.refresh_block(b);
        }
        t
    }
}

/// One simulation's first-fit table: changes are made in place and logged, and undone (in
/// reverse) when it is dropped, instead of copying the table per simulation.
pub(super) struct Trial<'w> {
    fit: RefMut<'w, FirstFit>,
    /// (node, free room before a change).
    free_log: Vec<(usize, Resources)>,
    /// (block, maximum before a change).
    block_log: Vec<(usize, Resources)>,
}

impl Trial<'_> {
    fn set_free(&mut self, i: usize, r: Resources) {
        self.free_log.push((i, self.fit.free[i]));
        self.fit.free[i] = r;
    }

    fn refresh_block(&mut self, b: usize) {
        self.block_log.push((b, self.fit.block_max[b]));
        self.fit.refresh_block(b);
    }

    /// [`FirstFit::first`].
    pub(super) fn first(&self, req: Resources, filter: impl FnMut(usize) -> bool) -> Option<usize> {
        self.fit.first(req, filter)
    }

    /// [`FirstFit::take`], logged.
    pub(super) fn take(&mut self, i: usize, req: Resources) {
        let mut f = self.fit.free[i];
        f.cpu_milli -= req.cpu_milli;
        f.memory -= req.memory;
        f.pods -= req.pods;
        self.set_free(i, f);
        self.refresh_block(i / FIT_BLOCK);
    }
}

impl Drop for Trial<'_> {
    fn drop(&mut self) {
        while let Some((i, r)) = self.free_log.pop() {
            self.fit.free[i] = r;
        }
        while let Some((b, m)) = self.block_log.pop() {
            self.fit.block_max[b] = m;
        }
    }
}

impl FirstFit {
    /// Recomputes block `b`'s maximum.
    fn refresh_block(&mut self, b: usize) {
        let end = ((b + 1) * FIT_BLOCK).min(self.free.len());
        self.block_max[b] = self.free[b * FIT_BLOCK..end].iter().fold(NO_ROOM, max_each);
    }

    /// The first node whose room holds `req` and that passes `filter`.
    pub(super) fn first(
        &self,
        req: Resources,
        mut filter: impl FnMut(usize) -> bool,
    ) -> Option<usize> {
        for (b, max) in self.block_max.iter().enumerate() {
            if !req.fits_in(max) {
                continue;
            }
            let start = b * FIT_BLOCK;
            let end = (start + FIT_BLOCK).min(self.free.len());
            for i in start..end {
                if req.fits_in(&self.free[i]) && filter(i) {
                    return Some(i);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::karpenter::consolidation::testing::*;
    use crate::karpenter::consolidation::{multi_node_in, single_node_in};

    /// A candidate's [`Candidate::destination`] hint finds the indices a search by name finds:
    /// right, wrong, out of range, beyond the name-ordered prefix or absent, with nodes of the
    /// same name after the prefix (an in-flight NodeClaim named like a node).
    #[test]
    fn destination_hint_finds_the_nodes_of_the_name() {
        let cat = catalog();
        let infos: Vec<NodeInfo> = ["a", "b", "c", "b", "a"]
            .iter()
            .map(|n| node(n, &cat[0], vec![]))
            .collect();
        let refs: Vec<&NodeInfo> = infos.iter().collect();
        let room = FreeRoom::new(&refs, 3);
        for (name, hint) in [
            ("a", Some(0)),
            ("b", Some(1)),
            ("c", Some(2)),
            ("b", Some(0)),
            ("b", Some(3)),
            ("a", Some(4)),
            ("c", Some(99)),
            ("a", None),
        ] {
            let c = Candidate {
                node: name,
                destination: hint,
                ..candidate(&infos[0], &cat[0])
            };
            let mut got = vec![7];
            room.candidate_indices(&refs, &c, &mut got);
            let want: Vec<usize> = std::iter::once(7).chain(room.indices_of(name)).collect();
            assert_eq!(got, want, "{name} {hint:?}");
        }
        let mut got = vec![];
        let b = Candidate {
            node: "b",
            destination: Some(1),
            ..candidate(&infos[0], &cat[0])
        };
        room.candidate_indices(&refs, &b, &mut got);
        assert_eq!(got, vec![1, 3]);
    }

    /// A fork of the simulations gives what a fresh start gives, for either search, whether
    /// or not the other search already ran on the original (the twin runs single-node on a
    /// fork beside multi-node).
    #[test]
    fn forked_simulations_decide_as_fresh_ones() {
        for (cpu, n) in [(2500, 4), (1200, 3), (300, 4), (900, 6)] {
            in_row(cpu, n, |cl, cands| {
                let budget = [n];
                let fresh_single = single_node_in(cl, &Simulations::new(cl), cands, &budget, 10);
                let fresh_multi = multi_node_in(cl, &Simulations::new(cl), cands, &budget);
                assert!(fresh_single.command.is_some() || fresh_multi.command.is_some());
                let base = Simulations::new(cl);
                let forked = base.fork();
                assert_eq!(multi_node_in(cl, &base, cands, &budget), fresh_multi);
                assert_eq!(
                    single_node_in(cl, &forked, cands, &budget, 10),
                    fresh_single
                );
                assert_eq!(multi_node_in(cl, &forked, cands, &budget), fresh_multi);
                assert_eq!(
                    single_node_in(cl, &base.fork(), cands, &budget, 10),
                    fresh_single
                );
            });
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// The name index built from a prefix known to be in name order plus an unsorted rest
        /// (duplicate names included) is the index of a full sort.
        #[test]
        fn free_room_index_from_sorted_prefix(
            prefix in proptest::collection::btree_set(0u32..60, 0..30),
            rest in proptest::collection::vec(0u32..70, 0..8),
        ) {
            let cat = catalog();
            let names: Vec<String> = prefix
                .iter()
                .chain(&rest)
                .map(|i| format!("n{i:02}"))
                .collect();
            let infos: Vec<NodeInfo> = names.iter().map(|n| node(n, &cat[0], vec![])).collect();
            let refs: Vec<&NodeInfo> = infos.iter().collect();
            let full = FreeRoom::new(&refs, 0).index;
            for k in [0, prefix.len() / 2, prefix.len()] {
                proptest::prop_assert_eq!(&FreeRoom::new(&refs, k).index, &full);
            }
        }
    }
}
