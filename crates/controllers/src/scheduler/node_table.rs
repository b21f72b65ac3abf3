//! [`NodeTable`], what the filters read of each node, kept between attempts over one node
//! list (kscale's counterpart of upstream's scheduler cache snapshot), and [`NodeList`], the
//! nodes an attempt reads (upstream's `NodeInfoLister`).

use kscale_model::{Resources, TaintEffect};

use super::diagnosis::Unfit;
use super::plugins::inter_pod_affinity::scoring::has_affinity;
use super::plugins::noderesources::filter_resources;
use super::plugins::pod_topology_spread::counts::SpreadCounts;
use super::types::{NodeInfo, node_non_zero_requested, node_used};

/// Nodes per block of [`NodeTable`].
pub(crate) const TABLE_BLOCK: usize = 32;

/// Blocks per super-block of [`NodeTable`] (a super-block spans `TABLE_BLOCK * SUPER_BLOCK`
/// nodes).
const SUPER_BLOCK: usize = 32;

/// What the filters read of each node of a node list, kept by the caller between
/// [`Scheduler::schedule_in`](crate::scheduler::Scheduler::schedule_in) calls over the same list (like upstream's scheduler cache
/// snapshot): a "plain" node (schedulable, ready, no NoSchedule/NoExecute taint, no nominated
/// pods) passes the non-resource filters for any pod without a nodeSelector or required node
/// affinity, so its filter result is its resources' alone. The filter pass then reads this
/// table instead of the nodes: it passes over a block (or a super-block of blocks) whose plain
/// nodes' largest free room cannot hold the pod, reading only its nodes that are not plain,
/// and in a block it reads, reads only the plain nodes that hold the request (a mask kept for
/// the block's last request until the block changes); scoring reads a plain node's row; a
/// pass that finds no node counts the reasons of a block of plain nodes once per request
/// (kept until the block changes). The decisions are those of [`Scheduler::schedule`](crate::scheduler::Scheduler::schedule).
#[derive(Clone, Debug, Default)]
pub struct NodeTable {
    /// Per node: what the filters and scores read of a plain node.
    pub(crate) rows: Vec<Option<Row>>,
    /// Per block: the component-wise largest free room of its plain nodes.
    pub(crate) blocks: Vec<Resources>,
    /// Per block: a bit per node that is not plain (bit `k`: the block's `k`-th node).
    pub(crate) irregular: Vec<u32>,
    /// Per super-block: the same as `blocks` over its blocks.
    supers: Vec<Resources>,
    /// Per block of plain nodes: the reasons its nodes fail the last request counted there.
    diagnosed: Vec<Option<Diagnosis>>,
    /// Per block: (the last request read there, a bit per plain node that holds it), kept
    /// until the block changes.
    fitting: Vec<Option<(Resources, u32)>>,
    /// The nodes with nominated pods, in list order.
    pub(crate) nominated: Vec<usize>,
    /// The nodes with pods that have pod affinity or anti-affinity terms, in list order
    /// (upstream's `HavePodsWithAffinityList`: InterPodAffinity reads only these for a pod
    /// without terms of its own).
    pub(crate) affinity: Vec<usize>,
    /// PodTopologySpread's counts of the nodes' pods by label set (scoring reads them).
    pub(crate) spread: SpreadCounts,
}

/// A plain node's row of a [`NodeTable`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Row {
    pub(crate) allocatable: Resources,
    /// Requested CPU and memory, and the pod count.
    pub(crate) used: Resources,
    /// Requested CPU and memory with the scoring defaults for pods that request none.
    pub(crate) non_zero: Resources,
    /// The node has PreferNoSchedule taints (scoring reads them from the node).
    pub(crate) prefer_taints: bool,
}

/// How the nodes of a block of plain nodes fail a request: counts of nodes with each reason
/// and of nodes preemption may help on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Diagnosis {
    request: Resources,
    pub(crate) pods: u32,
    pub(crate) cpu: u32,
    pub(crate) memory: u32,
    pub(crate) resolvable: u32,
}

/// Tables are equal when their nodes' rows are (what was diagnosed is a cache).
impl PartialEq for NodeTable {
    fn eq(&self, o: &Self) -> bool {
        self.rows == o.rows
            && self.blocks == o.blocks
            && self.irregular == o.irregular
            && self.supers == o.supers
            && self.nominated == o.nominated
            && self.affinity == o.affinity
            && self.spread == o.spread
    }
}

/// Keeps `i` in the ordered list `list` when `on`, out of it otherwise.
fn mark(list: &mut Vec<usize>, i: usize, on: bool) {
    match (list.binary_search(&i), on) {
        (Ok(k), false) => {
            list.remove(k);
        }
        (Err(k), true) => list.insert(k, i),
        _ => {}
    }
}

/// Room no request fits.
const NO_FREE: Resources = Resources {
    cpu_milli: i64::MIN,
    memory: i64::MIN,
    pods: i64::MIN,
};

/// The nodes an attempt reads, by position (their order: the twin's is by name). A slice of
/// references is one; a source that looks a node up when asked saves listing them all for an
/// attempt that reads only a few (with a [`NodeTable`], a pod without node selection reads only
/// the nodes the table does not hold).
pub trait NodeList<'a> {
    /// How many nodes there are.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Node `i` (below [`NodeList::len`]).
    fn node(&self, i: usize) -> &'a NodeInfo;
}

impl<'a> NodeList<'a> for [&'a NodeInfo] {
    fn len(&self) -> usize {
        <[&NodeInfo]>::len(self)
    }
    fn node(&self, i: usize) -> &'a NodeInfo {
        self[i]
    }
}

impl NodeTable {
    /// The table of `nodes`.
    pub fn new(nodes: &[&NodeInfo]) -> NodeTable {
        NodeTable::of(nodes)
    }

    /// The table of a [`NodeList`].
    pub fn of<'a, N: NodeList<'a> + ?Sized>(nodes: &N) -> NodeTable {
        NodeTable::default().remap((0..nodes.len()).map(|i| Err(nodes.node(i))))
    }

    /// The table of a node list given in order, each node as `Ok(j)`: node `j` of this
    /// table's list, unchanged, or `Err(node)`: a node to read.
    pub fn remap<'n>(self, from: impl Iterator<Item = Result<usize, &'n NodeInfo>>) -> NodeTable {
        let from: Vec<Result<usize, &NodeInfo>> = from.collect();
        let mut rows = Vec::with_capacity(from.len());
        let mut nominated = vec![];
        let mut affinity = vec![];
        for (i, &f) in from.iter().enumerate() {
            let (row, nominates, attracts) = match f {
                Ok(j) => (
                    self.rows[j],
                    self.nominated.binary_search(&j).is_ok(),
                    self.affinity.binary_search(&j).is_ok(),
                ),
                Err(n) => (
                    Self::row(n),
                    !n.nominated.is_empty(),
                    n.pods.iter().any(has_affinity),
                ),
            };
            rows.push(row);
            if nominates {
                nominated.push(i);
            }
            if attracts {
                affinity.push(i);
            }
        }
        let blocks = rows.len().div_ceil(TABLE_BLOCK);
        let mut t = NodeTable {
            blocks: vec![NO_FREE; blocks],
            irregular: vec![0; blocks],
            supers: vec![NO_FREE; blocks.div_ceil(SUPER_BLOCK)],
            diagnosed: vec![None; blocks],
            fitting: vec![None; blocks],
            rows,
            nominated,
            affinity,
            spread: self.spread.remap(from.into_iter()),
        };
        for b in 0..t.blocks.len() {
            t.refresh_block(b);
        }
        t
    }

    /// Node `i` of the list changed (its pods, requests, nominated pods, labels, taints or
    /// conditions): its row and its pods' spreading counts are read again.
    pub fn refresh(&mut self, i: usize, node: &NodeInfo) {
        self.rows[i] = Self::row(node);
        self.spread.refresh(i, node);
        mark(&mut self.nominated, i, !node.nominated.is_empty());
        mark(&mut self.affinity, i, node.pods.iter().any(has_affinity));
        self.refresh_block(i / TABLE_BLOCK);
    }

    /// Nodes in the table.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True for a table of no nodes.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Some node has nominated pods.
    pub fn has_nominated(&self) -> bool {
        !self.nominated.is_empty()
    }

    /// Some node holds pods with pod affinity or anti-affinity terms (whose terms may select
    /// a pod by its labels).
    pub fn has_affinity_pods(&self) -> bool {
        !self.affinity.is_empty()
    }

    fn row(n: &NodeInfo) -> Option<Row> {
        let plain = !n.unschedulable
            && n.ready
            && n.nominated.is_empty()
            && n.taints
                .iter()
                .all(|t| t.effect == TaintEffect::PreferNoSchedule);
        plain.then(|| Row {
            allocatable: n.allocatable,
            used: node_used(n),
            non_zero: node_non_zero_requested(n),
            prefer_taints: !n.taints.is_empty(),
        })
    }

    fn refresh_block(&mut self, b: usize) {
        let end = ((b + 1) * TABLE_BLOCK).min(self.rows.len());
        let mut max = NO_FREE;
        let mut irregular = 0u32;
        for (k, r) in self.rows[b * TABLE_BLOCK..end].iter().enumerate() {
            match r {
                Some(r) => max = max.max(&(r.allocatable - r.used)),
                None => irregular |= 1 << k,
            }
        }
        self.blocks[b] = max;
        self.irregular[b] = irregular;
        self.diagnosed[b] = None;
        self.fitting[b] = None;
        let s = b / SUPER_BLOCK;
        let end = ((s + 1) * SUPER_BLOCK).min(self.blocks.len());
        self.supers[s] = self.blocks[s * SUPER_BLOCK..end]
            .iter()
            .fold(NO_FREE, |sup, m| sup.max(m));
    }

    /// The end of the run of nodes from position `idx` (below `end`) whose plain nodes are
    /// known to fail `req` by their super-block's or block's largest free room (`idx` itself
    /// when none is): only the nodes of the run that are not plain need reading.
    pub(crate) fn plain_fail_run(&self, idx: usize, end: usize, req: &Resources) -> usize {
        let span = TABLE_BLOCK * SUPER_BLOCK;
        if room_fails(&self.supers[idx / span], req) {
            return end.min((idx / span + 1) * span);
        }
        if room_fails(&self.blocks[idx / TABLE_BLOCK], req) {
            return end.min((idx / TABLE_BLOCK + 1) * TABLE_BLOCK);
        }
        idx
    }

    /// The nodes of block `b` to read for `req`: a bit per plain node that holds it and per
    /// node that is not plain.
    pub(crate) fn candidates(&mut self, b: usize, req: &Resources) -> u32 {
        let fitting = match self.fitting[b] {
            Some((r, bits)) if r == *req => bits,
            _ => {
                let start = b * TABLE_BLOCK;
                let end = (start + TABLE_BLOCK).min(self.rows.len());
                let mut bits = 0u32;
                for (k, row) in self.rows[start..end].iter().enumerate() {
                    if let Some(row) = row
                        && filter_resources(req, &row.used, &row.allocatable).is_ok()
                    {
                        bits |= 1 << k;
                    }
                }
                self.fitting[b] = Some((*req, bits));
                bits
            }
        };
        fitting | self.irregular[b]
    }

    /// The nodes in positions `from..to` that are not plain, in order.
    pub(crate) fn irregular_in(&self, from: usize, to: usize) -> impl Iterator<Item = usize> + '_ {
        let blocks = if from < to {
            from / TABLE_BLOCK..(to - 1) / TABLE_BLOCK + 1
        } else {
            0..0
        };
        blocks.flat_map(move |b| {
            let mut bits = self.irregular[b];
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let k = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    b * TABLE_BLOCK + k
                })
            })
            .filter(move |&i| i >= from && i < to)
        })
    }

    /// How the plain nodes of block `b` (every node of it is plain) fail `req` (none fits):
    /// counted once per request until the block changes.
    pub(crate) fn diagnose_block(&mut self, b: usize, req: &Resources) -> Diagnosis {
        if let Some(d) = self.diagnosed[b].filter(|d| d.request == *req) {
            return d;
        }
        let end = ((b + 1) * TABLE_BLOCK).min(self.rows.len());
        let mut d = Diagnosis {
            request: *req,
            pods: 0,
            cpu: 0,
            memory: 0,
            resolvable: 0,
        };
        for row in &self.rows[b * TABLE_BLOCK..end] {
            let row = row.as_ref().expect("a block of plain nodes");
            let Err(Unfit::Resources(r)) = filter_resources(req, &row.used, &row.allocatable)
            else {
                unreachable!("no node is feasible");
            };
            d.pods += u32::from(r.pods);
            d.cpu += u32::from(r.cpu);
            d.memory += u32::from(r.memory);
            d.resolvable += u32::from(!r.unresolvable);
        }
        self.diagnosed[b] = Some(d);
        d
    }
}

/// The bits `from..to` of a block's mask (`from < to <= 32`).
pub(crate) fn bit_range(from: usize, to: usize) -> u32 {
    (((1u64 << to) - 1) & !((1u64 << from) - 1)) as u32
}

/// The largest free room of plain nodes, none of which holds `req`.
fn room_fails(max: &Resources, req: &Resources) -> bool {
    max.pods < 1
        || (req.cpu_milli > 0 && req.cpu_milli > max.cpu_milli)
        || (req.memory > 0 && req.memory > max.memory)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::*;
    use crate::scheduler::types::pod_usage;
    use crate::scheduler::*;
    use kscale_model::{LabelSelector, TaintEffect};

    /// `schedule_in` over a [`NodeTable`] decides as `schedule` does, with the same
    /// round-robin start, messages and tie-break draws, over 150 nodes (blocks of plain nodes
    /// full, with room, and blocks holding cordoned, tainted, not-ready and nominated nodes)
    /// while binds fill them (the table refreshed at the bound node), for pods with and
    /// without a nodeSelector and above and below the bound pods' priorities, most spread by
    /// the system default constraints (scored from the table's counts, not the nodes' pods).
    #[test]
    fn node_table_gives_the_same_decisions() {
        table_decides_as_schedule(150, 150, 40..110, 17);
    }

    /// The same over 2,500 nodes: special nodes only among the first 300, nodes 1,000..2,300
    /// full (whole blocks and a whole super-block skipped, their failures counted per block).
    #[test]
    fn node_table_skips_super_blocks_with_the_same_decisions() {
        table_decides_as_schedule(2500, 300, 1000..2300, 0);
    }

    /// A block's counted failures are counted again once a node of it changes: the same pod
    /// fails before and after a node of a full block fills up on pods, with the message of a
    /// recount.
    #[test]
    fn node_table_counts_a_changed_block_again() {
        let mut nodes: Vec<NodeInfo> = (0..64)
            .map(|i| {
                let n = node(&format!("n{i:02}"), (4000, 16 << 30), 8);
                with_pods(n, vec![pod(10_000 + i as u64, LOW, (3500, 1 << 30))])
            })
            .collect();
        let mut s = Scheduler::new(None);
        s.set_priority_floor(Some(LOW));
        let big = pod(1, LOW, (1000, 1 << 28));
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        let mut table = NodeTable::new(&refs);
        let first = s.schedule_in(&big, &refs[..], &mut table, &[], &mut |_| 0);
        let Decision::Unschedulable { message } = first else {
            panic!("{first:?}")
        };
        assert!(message.starts_with("0/64 nodes are available: 64 Insufficient cpu."));
        // Node 5 gets 7 more (best-effort) pods: it is now full on pods too.
        for k in 0..7 {
            nodes[5].pods.push(pod(20_000 + k, LOW, (0, 0)));
        }
        table.refresh(5, &nodes[5]);
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        let again = s.schedule_in(&big, &refs[..], &mut table, &[], &mut |_| 0);
        let mut fresh = Scheduler::new(None);
        fresh.set_priority_floor(Some(LOW));
        let recount = fresh.schedule(&big, &refs, &[], &mut |_| 0);
        assert_eq!(again, recount);
        let Decision::Unschedulable { message } = again else {
            panic!("{again:?}")
        };
        assert!(
            message.starts_with("0/64 nodes are available: 1 Too many pods, 64 Insufficient cpu."),
            "{message}"
        );
    }

    /// The same over 2,500 nodes with cordoned, tainted, not-ready and nominated nodes
    /// everywhere, nodes 200..2,400 full: the blocks and super-blocks passed over for their
    /// plain nodes still have their other nodes read, in order.
    #[test]
    fn node_table_reads_special_nodes_of_blocks_passed_over() {
        table_decides_as_schedule(2500, 2500, 200..2400, 0);
    }

    /// The same over 300 nodes, all full but the first 40: most failures are counted per
    /// block of plain nodes, binds change the blocks in between.
    #[test]
    fn node_table_counts_failures_per_block_with_the_same_decisions() {
        table_decides_as_schedule(300, 40, 40..300, 0);
    }

    /// Binds and failures of 400 pods over `count` nodes, with `schedule` and with
    /// `schedule_in` over a kept table: nodes in `full` are full on CPU but every
    /// `room_every`-th (0: none), nodes below `special_below` include cordoned, tainted,
    /// not-ready and nominated ones.
    fn table_decides_as_schedule(
        count: usize,
        special_below: usize,
        full: std::ops::Range<usize>,
        room_every: usize,
    ) {
        let mut nodes: Vec<NodeInfo> = (0..count)
            .map(|i| {
                let mut n = node(&format!("n{i:04}"), (4000, 16 << 30), 8);
                // Nodes in `full` full on CPU, a few with room left scattered in.
                let used = if full.contains(&i) && (room_every == 0 || i % room_every != 0) {
                    4000
                } else {
                    1000 * (i % 4) as i64
                };
                n = with_pods(n, vec![pod(10_000 + i as u64, LOW, (used, 1 << 30))]);
                match i % 37 {
                    _ if i >= special_below => {}
                    3 => n.unschedulable = true,
                    5 => std::sync::Arc::make_mut(&mut n.taints).push(taint(
                        "dedicated",
                        "x",
                        TaintEffect::NoSchedule,
                    )),
                    7 => n.ready = false,
                    11 => std::sync::Arc::make_mut(&mut n.taints).push(taint(
                        "soft",
                        "y",
                        TaintEffect::PreferNoSchedule,
                    )),
                    13 => n.nominated.push(pod(20_000 + i as u64, HIGH, (500, 0))),
                    _ => {}
                }
                if i % 2 == 0 {
                    std::sync::Arc::make_mut(&mut n.labels).insert("zone".into(), "a".into());
                }
                // Spreading domains: most nodes in one of three zones.
                std::sync::Arc::make_mut(&mut n.labels)
                    .insert(LABEL_HOSTNAME.into(), n.name.to_string());
                if i % 5 != 0 {
                    let zone = ["z1", "z2", "z3"][i % 3];
                    std::sync::Arc::make_mut(&mut n.labels).insert(LABEL_ZONE.into(), zone.into());
                }
                n
            })
            .collect();
        let mut plain_s = Scheduler::new(None);
        let mut table_s = Scheduler::new(None);
        plain_s.set_priority_floor(Some(LOW));
        table_s.set_priority_floor(Some(LOW));
        let mut seed = 7u64;
        let draws = |n: usize, seed: &mut u64| {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (*seed >> 33) as usize % n
        };
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        let mut table = NodeTable::new(&refs);
        let (mut binds, mut fails) = (0, 0);
        for k in 0..400u64 {
            let cpu = [500, 1500, 3000, 5000][(k % 4) as usize];
            let mut p = pod(k, if k % 5 == 0 { HIGH } else { LOW }, (cpu, 1 << 28));
            if k % 7 == 0 {
                let mut c = PlacementConstraints::default();
                c.node_selector.insert("zone".into(), "a".into());
                p = with_constraints(p, c);
            }
            // Pods of three apps, most spread by the system defaults over their app's pods.
            let app = ["a", "b", "c"][(k % 3) as usize];
            p = labeled(p, "app", app);
            if k % 4 != 0 {
                let sel = LabelSelector::from_labels([("app".to_string(), app.to_string())].into());
                p.default_selector = Some(std::sync::Arc::new(sel));
            }
            // Some pods keep apart from their app's pods on a node (their anti-affinity then
            // blocks the app's later pods there too), some prefer their app's zone.
            let app_term = |topology: &str| AffinityTerm {
                selector: Some(LabelSelector::from_labels(
                    [("app".to_string(), app.to_string())].into(),
                )),
                namespaces: vec![],
                namespace_selector: None,
                topology_key: topology.into(),
            };
            if k % 11 == 0 || k % 13 == 0 {
                let mut c = (*p.constraints).clone();
                if k % 11 == 0 {
                    c.pod_affinity.required_anti_affinity = vec![app_term(LABEL_HOSTNAME)];
                } else {
                    c.pod_affinity.preferred_affinity = vec![WeightedAffinityTerm {
                        weight: 10,
                        term: app_term(LABEL_ZONE),
                    }];
                }
                p = with_constraints(p, c);
            }
            let refs: Vec<&NodeInfo> = nodes.iter().collect();
            let (mut s1, mut s2) = (seed, seed);
            let a = plain_s.schedule(&p, &refs, &[], &mut |n| draws(n, &mut s1));
            let b = table_s.schedule_in(&p, &refs[..], &mut table, &[], &mut |n| draws(n, &mut s2));
            assert_eq!(a, b, "pod {k}");
            assert_eq!(s1, s2, "pod {k}: tie-break draws");
            assert_eq!(
                plain_s.next_start_node_index(),
                table_s.next_start_node_index()
            );
            assert_eq!(
                plain_s.last_fit_error(),
                table_s.last_fit_error(),
                "pod {k}"
            );
            seed = s1;
            match a {
                Decision::Bind { node } => {
                    binds += 1;
                    nodes[node].requested += pod_usage(&p);
                    nodes[node].pods.push(p);
                    table.refresh(node, &nodes[node]);
                }
                _ => fails += 1,
            }
        }
        assert!(binds > 50 && fails > 50, "binds {binds}, fails {fails}");
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        assert_eq!(table, NodeTable::new(&refs));
    }
}
