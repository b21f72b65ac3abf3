//! PodTopologySpread's hard constraints (`filtering.go`): PreFilter (`calPreFilterState`),
//! Filter, and the AddPod/RemovePod extensions preemption and nominated pods use.

use std::collections::BTreeMap;

use super::{
    SpreadConstraint, WhenUnsatisfiable, constraint_indices, count_matching, node_has_all_keys,
};
use crate::scheduler::diagnosis::Unfit;
use crate::scheduler::node_table::NodeList;
use crate::scheduler::types::{NodeInfo, PodInfo};

/// `criticalPaths`: two (domain, matching pods) pairs; the first always holds the minimum
/// (the second is not guaranteed to be the second minimum).
#[derive(Clone, Copy, Debug, PartialEq)]
struct CriticalPaths<'n>([(&'n str, i64); 2]);

impl<'n> CriticalPaths<'n> {
    /// `newCriticalPaths`: both at `math.MaxInt32` under the empty domain.
    fn new() -> Self {
        CriticalPaths([("", i32::MAX as i64); 2])
    }

    /// `criticalPaths.update`.
    fn update(&mut self, value: &'n str, num: i64) {
        let p = &mut self.0;
        let i = if value == p[0].0 {
            Some(0)
        } else if value == p[1].0 {
            Some(1)
        } else {
            None
        };
        match i {
            Some(i) => {
                p[i].1 = num;
                if p[0].1 > p[1].1 {
                    p.swap(0, 1);
                }
            }
            None => {
                if num < p[0].1 {
                    p[1] = p[0];
                    p[0] = (value, num);
                } else if num < p[1].1 {
                    p[1] = (value, num);
                }
            }
        }
    }
}

/// `preFilterState`: for each hard constraint of the pod, the matching pods per domain and the
/// critical paths. Domain names borrow from the nodes' labels.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PreFilterState<'n> {
    /// Indices of the pod's hard constraints in `PlacementConstraints::topology_spread`.
    constraints: Vec<usize>,
    /// Per hard constraint: matching pods per domain (`TpValueToMatchNum`).
    counts: Vec<BTreeMap<&'n str, i64>>,
    /// Per hard constraint: the critical paths.
    paths: Vec<CriticalPaths<'n>>,
}

/// The pod's hard constraints, by index.
fn hard<'p>(pod: &'p PodInfo, idx: &[usize]) -> impl Iterator<Item = &'p SpreadConstraint> {
    idx.iter().map(|&i| &pod.constraints.topology_spread[i])
}

/// `PreFilter`: `None` when the pod has no hard constraint (the plugin is skipped).
pub(crate) fn pre_filter<'n, N: NodeList<'n> + ?Sized>(
    pod: &PodInfo,
    nodes: &N,
) -> Option<PreFilterState<'n>> {
    let constraints = constraint_indices(pod, WhenUnsatisfiable::DoNotSchedule);
    if constraints.is_empty() {
        return None;
    }
    let cs: Vec<&SpreadConstraint> = hard(pod, &constraints).collect();
    let mut counts: Vec<BTreeMap<&'n str, i64>> = vec![BTreeMap::new(); cs.len()];
    for i in 0..nodes.len() {
        let node = nodes.node(i);
        // The node must carry every topology key.
        if !node_has_all_keys(node, &cs) {
            continue;
        }
        for (ci, c) in cs.iter().enumerate() {
            if !c.includes(pod, node) {
                continue;
            }
            let value = node.labels[&c.topology_key].as_str();
            *counts[ci].entry(value).or_default() += count_matching(&node.pods, c, &pod.namespace);
        }
    }
    let paths = counts
        .iter()
        .map(|m| {
            let mut p = CriticalPaths::new();
            for (v, n) in m {
                p.update(v, *n);
            }
            p
        })
        .collect();
    Some(PreFilterState {
        constraints,
        counts,
        paths,
    })
}

impl<'n> PreFilterState<'n> {
    /// `minMatchNum`: the global minimum, 0 while fewer domains than `minDomains` exist.
    fn min_match_num(&self, i: usize, min_domains: i32) -> i64 {
        if (self.counts[i].len() as i64) < min_domains as i64 {
            0
        } else {
            self.paths[i].0[0].1
        }
    }

    /// `updateWithPod` (AddPod with `delta` 1, RemovePod with -1): `updated`, on `node`,
    /// joins or leaves the counts of the constraints of `preemptor` that select it.
    pub(crate) fn update_with_pod(
        &mut self,
        updated: &PodInfo,
        preemptor: &PodInfo,
        node: &'n NodeInfo,
        delta: i64,
    ) {
        if updated.namespace != preemptor.namespace {
            return;
        }
        let cs: Vec<&SpreadConstraint> = hard(preemptor, &self.constraints).collect();
        if !node_has_all_keys(node, &cs) {
            return;
        }
        for (i, c) in cs.iter().enumerate() {
            if !c.selects(&updated.labels) || !c.includes(preemptor, node) {
                continue;
            }
            let v = node.labels[&c.topology_key].as_str();
            let n = self.counts[i].entry(v).or_default();
            *n += delta;
            let n = *n;
            self.paths[i].update(v, n);
        }
    }
}

/// `Filter`: for every hard constraint, the node has the topology key (else
/// UnschedulableAndUnresolvable) and `matching pods in its domain + 1 if the pod matches
/// itself − the global minimum ≤ maxSkew` (else Unschedulable).
pub(crate) fn filter(pod: &PodInfo, node: &NodeInfo, s: &PreFilterState<'_>) -> Result<(), Unfit> {
    for (i, c) in hard(pod, &s.constraints).enumerate() {
        let Some(value) = node.labels.get(&c.topology_key) else {
            return Err(Unfit::TopologySpreadMissingLabel);
        };
        let min = s.min_match_num(i, c.min_domains);
        let self_match = i64::from(c.selects(&pod.labels));
        let matching = s.counts[i].get(value.as_str()).copied().unwrap_or(0);
        if matching + self_match - min > c.max_skew as i64 {
            return Err(Unfit::TopologySpread);
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scheduler::plugins::pod_topology_spread::InclusionPolicy;
    use crate::scheduler::testing::*;
    use crate::scheduler::{PlacementConstraints, Scheduler};
    use kscale_model::{LabelSelector, NodeSelectorTerm, SelectorOp, TaintEffect};

    /// Outcome codes of upstream's tests.
    #[derive(Debug, PartialEq)]
    enum Code {
        Success,
        Unschedulable,
        Unresolvable,
    }
    use Code::*;

    /// `fooSelector` / `barSelector`: `<key> Exists`.
    pub(crate) fn exists(key: &str) -> Option<LabelSelector> {
        Some(LabelSelector {
            match_labels: Default::default(),
            match_expressions: vec![req(key, SelectorOp::Exists, &[])],
        })
    }

    pub(crate) fn hard(skew: i32, key: &str, sel: Option<LabelSelector>) -> SpreadConstraint {
        SpreadConstraint::new(skew, key, WhenUnsatisfiable::DoNotSchedule, sel)
    }

    /// A pod "p" labelled with `pod_labels`, with the given constraints.
    pub(crate) fn spreading(
        pod_labels: &[&str],
        mut c: PlacementConstraints,
        spread: Vec<SpreadConstraint>,
    ) -> PodInfo {
        let mut p = pod(1000, 0, (0, 0));
        for l in pod_labels {
            p = labeled(p, l, "");
        }
        c.topology_spread = spread;
        with_constraints(p, c)
    }

    /// Nodes by (name, labels) holding existing pods by (node, labels, namespace, terminating).
    pub(crate) fn cluster(
        nodes: &[(&str, &[(&str, &str)])],
        existing: &[(&str, &[&str], &str, bool)],
    ) -> Vec<NodeInfo> {
        let mut out: Vec<NodeInfo> = nodes
            .iter()
            .map(|(n, l)| {
                let mut node = node(n, (100_000, 1 << 40), 110);
                node.labels = Arc::new(labels(l));
                node
            })
            .collect();
        for (i, (on, ls, ns, terminating)) in existing.iter().enumerate() {
            let mut p = pod(i as u64 + 1, 0, (0, 0));
            for l in *ls {
                p = labeled(p, l, "");
            }
            p.namespace = (*ns).into();
            p.terminating = *terminating;
            let n = out.iter_mut().find(|n| &*n.name == *on).expect("node");
            *n = with_pods(n.clone(), vec![p]);
        }
        out
    }

    fn statuses(pod: &PodInfo, nodes: &[NodeInfo]) -> Vec<Code> {
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        let s = pre_filter(pod, &refs[..]).expect("hard constraints");
        nodes
            .iter()
            .map(|n| match filter(pod, n, &s) {
                Ok(()) => Success,
                Err(Unfit::TopologySpread) => Unschedulable,
                Err(Unfit::TopologySpreadMissingLabel) => Unresolvable,
                Err(u) => panic!("{u:?}"),
            })
            .collect()
    }

    const ZONES: &[(&str, &[(&str, &str)])] = &[
        ("node-a", &[("zone", "zone1"), ("node", "node-a")]),
        ("node-b", &[("zone", "zone1"), ("node", "node-b")]),
        ("node-x", &[("zone", "zone2"), ("node", "node-x")]),
        ("node-y", &[("zone", "zone2"), ("node", "node-y")]),
    ];

    const D: &str = "default";

    /// Existing pods spread over the nodes as 2/1/0/3.
    const SPREAD_2103: &[(&str, &[&str], &str, bool)] = &[
        ("node-a", &["foo"], D, false),
        ("node-a", &["foo"], D, false),
        ("node-b", &["foo"], D, false),
        ("node-y", &["foo"], D, false),
        ("node-y", &["foo"], D, false),
        ("node-y", &["foo"], D, false),
    ];

    fn no_constraints() -> PlacementConstraints {
        PlacementConstraints::default()
    }

    // filtering_test.go TestSingleConstraint.
    #[test]
    fn single_constraint() {
        let foo = || exists("foo");
        let zone = |skew| vec![hard(skew, "zone", foo())];
        let nodes = cluster(ZONES, &[]);
        // "no existing pods"
        let p = spreading(&["foo"], no_constraints(), zone(1));
        assert_eq!(statuses(&p, &nodes), [Success, Success, Success, Success]);
        // "no existing pods, incoming pod doesn't match itself"
        let p = spreading(
            &["foo"],
            no_constraints(),
            vec![hard(1, "zone", exists("bar"))],
        );
        assert_eq!(statuses(&p, &nodes), [Success, Success, Success, Success]);
        // "existing pods in a different namespace do not count"
        let nodes = cluster(
            ZONES,
            &[
                ("node-a", &["foo"], "ns1", false),
                ("node-a", &["foo"], "ns2", false),
                ("node-x", &["foo"], D, false),
                ("node-y", &["foo"], D, false),
            ],
        );
        let p = spreading(&["foo"], no_constraints(), zone(1));
        assert_eq!(
            statuses(&p, &nodes),
            [Success, Success, Unschedulable, Unschedulable]
        );
        // "existing pods do not match null selector"
        let nodes = cluster(
            ZONES,
            &[
                ("node-x", &["foo"], D, false),
                ("node-y", &["foo"], D, false),
            ],
        );
        let p = spreading(&["foo"], no_constraints(), vec![hard(1, "zone", None)]);
        assert_eq!(statuses(&p, &nodes), [Success, Success, Success, Success]);
        // "pods spread across zones as 3/3, all nodes fit"
        let nodes = cluster(ZONES, SPREAD_2103);
        let p = spreading(&["foo"], no_constraints(), zone(1));
        assert_eq!(statuses(&p, &nodes), [Success, Success, Success, Success]);
        // "pods spread across zones as 1/2 due to absence of label 'zone' on node-b"
        let nodes = cluster(
            &[
                ZONES[0],
                ("node-b", &[("zon", "zone1"), ("node", "node-b")]),
                ZONES[2],
                ZONES[3],
            ],
            &[
                ("node-a", &["foo"], D, false),
                ("node-b", &["foo"], D, false),
                ("node-x", &["foo"], D, false),
                ("node-y", &["foo"], D, false),
            ],
        );
        assert_eq!(
            statuses(&p, &nodes),
            [Success, Unresolvable, Unschedulable, Unschedulable]
        );
        // "pod cannot be scheduled as all nodes don't have label 'rack'"
        let nodes = cluster(&[ZONES[0], ZONES[2]], &[]);
        let p = spreading(&["foo"], no_constraints(), vec![hard(1, "rack", foo())]);
        assert_eq!(statuses(&p, &nodes), [Unresolvable, Unresolvable]);
        // "pods spread across nodes as 2/1/0/3, only node-x fits"
        let nodes = cluster(ZONES, SPREAD_2103);
        let p = spreading(&["foo"], no_constraints(), vec![hard(1, "node", foo())]);
        assert_eq!(
            statuses(&p, &nodes),
            [Unschedulable, Unschedulable, Success, Unschedulable]
        );
        // "pods spread across nodes as 2/1/0/3, maxSkew is 2, node-b and node-x fit"
        let p = spreading(&["foo"], no_constraints(), vec![hard(2, "node", foo())]);
        assert_eq!(
            statuses(&p, &nodes),
            [Unschedulable, Success, Success, Unschedulable]
        );
        // "pods spread across nodes as 2/1/0/3, but pod doesn't match itself"
        let p = spreading(&["bar"], no_constraints(), vec![hard(1, "node", foo())]);
        assert_eq!(
            statuses(&p, &nodes),
            [Unschedulable, Success, Success, Unschedulable]
        );
        // "incoming pod has nodeAffinity, pods spread as 2/~1~/~0~/3, hence node-a fits"
        let affinity = |op, values: &[&str]| PlacementConstraints {
            required_node_affinity: vec![NodeSelectorTerm {
                match_expressions: vec![req("node", op, values)],
                match_fields: vec![],
            }],
            ..Default::default()
        };
        let p = spreading(
            &["foo"],
            affinity(SelectorOp::In, &["node-a", "node-y"]),
            vec![hard(1, "node", foo())],
        );
        assert_eq!(
            statuses(&p, &nodes),
            [Success, Success, Success, Unschedulable]
        );
        // "terminating Pods should be excluded"
        let nodes = cluster(
            &[
                ("node-a", &[("node", "node-a")]),
                ("node-b", &[("node", "node-b")]),
            ],
            &[
                ("node-a", &["foo"], D, true),
                ("node-b", &["foo"], D, false),
            ],
        );
        assert_eq!(
            statuses(
                &spreading(&["foo"], no_constraints(), vec![hard(1, "node", foo())]),
                &nodes
            ),
            [Success, Unschedulable]
        );
        // "incoming pod has nodeAffinity, pods spread as 0/~2~/0/1, hence node-a fits"
        let nodes = cluster(
            ZONES,
            &[
                ("node-b", &["foo"], D, false),
                ("node-b", &["foo"], D, false),
                ("node-y", &["foo"], D, false),
            ],
        );
        let p = spreading(&["foo"], affinity(SelectorOp::NotIn, &["node-b"]), zone(1));
        assert_eq!(
            statuses(&p, &nodes),
            [Success, Success, Unschedulable, Unschedulable]
        );
    }

    // filtering_test.go TestSingleConstraint: minDomains.
    #[test]
    fn min_domains() {
        let nodes3 = cluster(
            &[
                ("node-a", &[("node", "node-a")]),
                ("node-b", &[("node", "node-b")]),
                ("node-c", &[("node", "node-c")]),
            ],
            &[
                ("node-a", &["foo"], D, false),
                ("node-a", &["foo"], D, false),
                ("node-b", &["foo"], D, false),
                ("node-b", &["foo"], D, false),
                ("node-c", &["foo"], D, false),
            ],
        );
        let with_min = |key: &str, min| {
            let mut c = hard(2, key, exists("foo"));
            c.min_domains = min;
            spreading(&["foo"], no_constraints(), vec![c])
        };
        // "... 2/2/1, maxSkew is 2, and the number of domains < minDomains, then the third
        // node fits"
        assert_eq!(
            statuses(&with_min("node", 4), &nodes3),
            [Unschedulable, Unschedulable, Success]
        );
        // "... the number of domains > minDomains, then the all nodes fit"
        assert_eq!(
            statuses(&with_min("node", 2), &nodes3),
            [Success, Success, Success]
        );
        let zones = cluster(
            ZONES,
            &[
                ("node-a", &["foo"], D, false),
                ("node-b", &["foo"], D, false),
                ("node-y", &["foo"], D, false),
            ],
        );
        // "pods spread across zone as 2/1, maxSkew is 2 and the number of domains <
        // minDomains, then the third and fourth nodes fit"
        assert_eq!(
            statuses(&with_min("zone", 3), &zones),
            [Unschedulable, Unschedulable, Success, Success]
        );
        assert_eq!(
            statuses(&with_min("zone", 1), &zones),
            [Success, Success, Success, Success]
        );
    }

    // filtering_test.go TestSingleConstraint: NodeAffinityPolicy / NodeTaintsPolicy.
    #[test]
    fn node_inclusion_policies() {
        let foo_nodes: &[(&str, &[(&str, &str)])] = &[
            ("node-a", &[("node", "node-a"), ("foo", "")]),
            ("node-b", &[("node", "node-b"), ("foo", "")]),
            ("node-x", &[("node", "node-x"), ("foo", "")]),
            ("node-y", &[("node", "node-y")]),
        ];
        let existing: &[(&str, &[&str], &str, bool)] = &[
            ("node-a", &["foo"], D, false),
            ("node-b", &["foo"], D, false),
            ("node-y", &["foo"], D, false),
        ];
        let nodes = cluster(foo_nodes, existing);
        let selector = PlacementConstraints {
            node_selector: labels(&[("foo", "")]),
            ..Default::default()
        };
        let affinity = PlacementConstraints {
            required_node_affinity: vec![NodeSelectorTerm {
                match_expressions: vec![req("foo", SelectorOp::In, &[""])],
                match_fields: vec![],
            }],
            ..Default::default()
        };
        for c in [selector, affinity] {
            // "NodeAffinityPolicy honored ...": node-y does not count (1/1/0/~0~).
            let p = spreading(&["foo"], c.clone(), vec![hard(1, "node", exists("foo"))]);
            assert_eq!(
                statuses(&p, &nodes),
                [Unschedulable, Unschedulable, Success, Success]
            );
            // "NodeAffinityPolicy ignored ...": it counts (1/1/0/~1~).
            let mut ignored = hard(1, "node", exists("foo"));
            ignored.node_affinity_policy = InclusionPolicy::Ignore;
            let p = spreading(&["foo"], c, vec![ignored]);
            assert_eq!(
                statuses(&p, &nodes),
                [Unschedulable, Unschedulable, Success, Unschedulable]
            );
        }
        let mut tainted = nodes.clone();
        tainted[3].taints = Arc::new(vec![taint("taint", "", TaintEffect::NoSchedule)]);
        // "NodeTaintsPolicy honored": the tainted node-y does not count.
        let mut honored = hard(1, "node", exists("foo"));
        honored.node_taints_policy = InclusionPolicy::Honor;
        let p = spreading(&["foo"], no_constraints(), vec![honored]);
        assert_eq!(
            statuses(&p, &tainted),
            [Unschedulable, Unschedulable, Success, Success]
        );
        // "NodeTaintsPolicy ignored": it counts.
        let p = spreading(
            &["foo"],
            no_constraints(),
            vec![hard(1, "node", exists("foo"))],
        );
        assert_eq!(
            statuses(&p, &tainted),
            [Unschedulable, Unschedulable, Success, Unschedulable]
        );
    }

    // filtering_test.go TestMultipleConstraints: "two Constraints on zone and node, spreads =
    // [3/3, 2/1/0/3]": only node-x fits both.
    #[test]
    fn multiple_constraints() {
        let nodes = cluster(ZONES, SPREAD_2103);
        let p = spreading(
            &["foo"],
            no_constraints(),
            vec![
                hard(1, "zone", exists("foo")),
                hard(1, "node", exists("foo")),
            ],
        );
        assert_eq!(
            statuses(&p, &nodes),
            [Unschedulable, Unschedulable, Success, Unschedulable]
        );
        // "two Constraints on zone and node, spreads = [1/4, 1/0/0/4]" with different
        // selectors: the pod matches only `bar` of the second one.
        let nodes = cluster(
            ZONES,
            &[
                ("node-a", &["foo"], D, false),
                ("node-y", &["bar"], D, false),
                ("node-y", &["bar"], D, false),
                ("node-y", &["bar"], D, false),
                ("node-y", &["bar"], D, false),
            ],
        );
        let p = spreading(
            &["foo", "bar"],
            no_constraints(),
            vec![
                hard(1, "zone", exists("foo")),
                hard(1, "node", exists("bar")),
            ],
        );
        // zone (foo): 1/0 → zone2 fits; node (bar): 0/0/0/4 → all but node-y fit.
        assert_eq!(
            statuses(&p, &nodes),
            [Unschedulable, Unschedulable, Success, Unschedulable]
        );
    }

    // filtering_test.go TestPreFilterStateAddPod / TestPreFilterStateRemovePod: the counts and
    // the minimum follow added and removed pods.
    #[test]
    fn add_and_remove_pods() {
        let nodes = cluster(ZONES, &[("node-a", &["foo"], D, false)]);
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        let p = spreading(
            &["foo"],
            no_constraints(),
            vec![hard(1, "zone", exists("foo"))],
        );
        let mut s = pre_filter(&p, &refs[..]).unwrap();
        // zone1 1, zone2 0: node-x fits, node-a does not.
        assert_eq!(filter(&p, &nodes[0], &s), Err(Unfit::TopologySpread));
        let added = labeled(pod(77, 0, (0, 0)), "foo", "");
        s.update_with_pod(&added, &p, &nodes[2], 1);
        assert_eq!(s.counts[0].get("zone2"), Some(&1));
        assert_eq!(s.paths[0].0[0].1, 1);
        assert_eq!(filter(&p, &nodes[0], &s), Ok(()));
        // A pod of another namespace or one the selector does not match changes nothing.
        let mut other = added.clone();
        other.namespace = "ns1".into();
        let before = s.clone();
        s.update_with_pod(&other, &p, &nodes[2], 1);
        s.update_with_pod(&labeled(pod(78, 0, (0, 0)), "bar", ""), &p, &nodes[2], 1);
        assert_eq!(s, before);
        s.update_with_pod(&added, &p, &nodes[0], -1);
        assert_eq!(s.counts[0].get("zone1"), Some(&0));
        assert_eq!(filter(&p, &nodes[2], &s), Err(Unfit::TopologySpread));
    }

    // The scheduler filters with the plugin: the calibration scenario `topology-spread` (zone a
    // two nodes, zone b one that holds 2 pods; maxSkew 1): the sixth pod stays pending.
    #[test]
    fn scheduler_leaves_the_skewed_pod_pending() {
        let zone = |n: &str, z: &str, cpu| {
            let mut nd = node(n, (cpu, 1 << 34), 110);
            nd.labels = Arc::new(labels(&[
                ("topology.kubernetes.io/zone", z),
                ("kubernetes.io/hostname", n),
            ]));
            nd
        };
        let mut nodes = vec![
            zone("a-0", "us-east-1a", 4000),
            zone("a-1", "us-east-1a", 4000),
            zone("b-0", "us-east-1b", 1900),
        ];
        let spread = vec![hard(
            1,
            "topology.kubernetes.io/zone",
            Some(LabelSelector::from_labels(labels(&[("app", "web")]))),
        )];
        let web = |id| {
            let mut p = labeled(pod(id, 0, (800, 0)), "app", "web");
            Arc::make_mut(&mut p.constraints).topology_spread = spread.clone();
            p
        };
        let mut s = Scheduler::new(None);
        let mut placed = vec![];
        for id in 1..=6 {
            let p = web(id);
            match run_with(&mut s, &p, &nodes, &[], 0) {
                crate::scheduler::Decision::Bind { node } => {
                    placed.push(nodes[node].labels["topology.kubernetes.io/zone"].clone());
                    nodes[node] = with_pods(nodes[node].clone(), vec![p]);
                }
                crate::scheduler::Decision::Unschedulable { message } => {
                    assert_eq!(id, 6, "{message}");
                    assert_eq!(
                        message,
                        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match \
                         pod topology spread constraints. preemption: 0/3 nodes are available: \
                         3 No preemption victims found for incoming pod."
                    );
                }
                d => panic!("{d:?}"),
            }
        }
        assert_eq!(placed.iter().filter(|z| *z == "us-east-1a").count(), 3);
        assert_eq!(placed.iter().filter(|z| *z == "us-east-1b").count(), 2);
    }

    use std::sync::Arc;
}
