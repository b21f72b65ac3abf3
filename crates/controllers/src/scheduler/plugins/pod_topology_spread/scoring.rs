//! PodTopologySpread's soft constraints (`scoring.go`): PreScore (`initPreScoreState` and the
//! count over all nodes), Score (`scoreForCount`) and NormalizeScore.

use std::collections::BTreeMap;

use super::{
    LABEL_HOSTNAME, SpreadConstraint, WhenUnsatisfiable, constraint_indices, count_matching,
    node_has_all_keys,
};
use crate::scheduler::node_table::NodeList;
use crate::scheduler::types::{MAX_NODE_SCORE, NodeInfo, PodInfo};

/// `preScoreState`: the pod's soft constraints, the filtered nodes left out for lacking a
/// topology key, matching pods per domain of the filtered nodes (hostname constraints are
/// counted on the node when scoring) and each constraint's normalizing weight.
#[derive(Debug)]
pub(crate) struct PreScoreState<'n> {
    constraints: Vec<usize>,
    /// Per filtered node (in the order given): left out of scoring.
    ignored: Vec<bool>,
    counts: Vec<BTreeMap<&'n str, i64>>,
    weights: Vec<f64>,
}

/// `topologyNormalizingWeight`: `ln(size + 2)`.
fn normalizing_weight(size: usize) -> f64 {
    ((size + 2) as f64).ln()
}

/// `PreScore` over the `filtered` nodes (indices into `nodes`, all nodes): `None` when the pod
/// has no soft constraint (the plugin is skipped and scores nothing).
pub(crate) fn pre_score<'n, N: NodeList<'n> + ?Sized>(
    pod: &PodInfo,
    filtered: &[usize],
    nodes: &N,
) -> Option<PreScoreState<'n>> {
    let constraints = constraint_indices(pod, WhenUnsatisfiable::ScheduleAnyway);
    if constraints.is_empty() || nodes.is_empty() {
        return None;
    }
    let cs: Vec<&SpreadConstraint> = constraints
        .iter()
        .map(|&i| &pod.constraints.topology_spread[i])
        .collect();
    // initPreScoreState: the domains of the filtered nodes that carry every key (explicit
    // constraints require all topologies).
    let mut counts: Vec<BTreeMap<&'n str, i64>> = vec![BTreeMap::new(); cs.len()];
    let mut ignored = Vec::with_capacity(filtered.len());
    for &i in filtered {
        let node = nodes.node(i);
        let skip = !node_has_all_keys(node, &cs);
        ignored.push(skip);
        if skip {
            continue;
        }
        for (ci, c) in cs.iter().enumerate() {
            if c.topology_key != LABEL_HOSTNAME {
                counts[ci]
                    .entry(node.labels[&c.topology_key].as_str())
                    .or_insert(0);
            }
        }
    }
    let filtered_kept = ignored.iter().filter(|i| !**i).count();
    let weights = cs
        .iter()
        .zip(&counts)
        .map(|(c, m)| {
            normalizing_weight(if c.topology_key == LABEL_HOSTNAME {
                filtered_kept
            } else {
                m.len()
            })
        })
        .collect();
    // The matching pods of every node (filtered or not) in those domains.
    for i in 0..nodes.len() {
        let node = nodes.node(i);
        if !node_has_all_keys(node, &cs) {
            continue;
        }
        for (ci, c) in cs.iter().enumerate() {
            if !c.includes(pod, node) {
                continue;
            }
            if let Some(n) = counts[ci].get_mut(node.labels[&c.topology_key].as_str()) {
                *n += count_matching(&node.pods, c, &pod.namespace);
            }
        }
    }
    Some(PreScoreState {
        constraints,
        ignored,
        counts,
        weights,
    })
}

/// `Score` of the `k`-th filtered node: Σ over the constraints whose key it has of
/// `matching pods in its domain × weight + maxSkew − 1`, rounded.
pub(crate) fn score(pod: &PodInfo, node: &NodeInfo, k: usize, s: &PreScoreState<'_>) -> i64 {
    if s.ignored[k] {
        return 0;
    }
    let mut score = 0.0;
    for (i, &ci) in s.constraints.iter().enumerate() {
        let c = &pod.constraints.topology_spread[ci];
        let Some(value) = node.labels.get(&c.topology_key) else {
            continue;
        };
        let cnt = if c.topology_key == LABEL_HOSTNAME {
            count_matching(&node.pods, c, &pod.namespace)
        } else {
            s.counts[i].get(value.as_str()).copied().unwrap_or(0)
        };
        score += cnt as f64 * s.weights[i] + (c.max_skew - 1) as f64;
    }
    score.round() as i64
}

/// `NormalizeScore`: fewer matching pods score higher, `100 × (max + min − s) / max`; left-out
/// nodes score 0, and all 100 when the maximum is 0.
pub(crate) fn normalize(scores: &mut [i64], s: &PreScoreState<'_>) {
    let mut min = i64::MAX;
    let mut max = 0;
    for (k, &v) in scores.iter().enumerate() {
        if !s.ignored[k] {
            min = min.min(v);
            max = max.max(v);
        }
    }
    for (k, v) in scores.iter_mut().enumerate() {
        *v = if s.ignored[k] {
            0
        } else if max == 0 {
            MAX_NODE_SCORE
        } else {
            MAX_NODE_SCORE * (max + min - *v) / max
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::PlacementConstraints;
    use crate::scheduler::plugins::pod_topology_spread::filtering::tests::{
        cluster, exists, spreading,
    };
    use kscale_model::LabelSelector;

    fn soft(skew: i32, key: &str, sel: Option<LabelSelector>) -> SpreadConstraint {
        SpreadConstraint::new(skew, key, WhenUnsatisfiable::ScheduleAnyway, sel)
    }

    /// Normalized scores of the `candidates` (names) among all `nodes`.
    fn scores(pod: &PodInfo, nodes: &[NodeInfo], candidates: &[&str]) -> Vec<i64> {
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        let filtered: Vec<usize> = candidates
            .iter()
            .map(|c| nodes.iter().position(|n| &*n.name == *c).unwrap())
            .collect();
        let s = pre_score(pod, &filtered, &refs[..]).expect("soft constraints");
        let mut out: Vec<i64> = filtered
            .iter()
            .enumerate()
            .map(|(k, &i)| score(pod, &nodes[i], k, &s))
            .collect();
        normalize(&mut out, &s);
        out
    }

    const H: &str = LABEL_HOSTNAME;
    const D: &str = "default";

    fn hosts(names: &[&'static str]) -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
        names.iter().map(|n| (*n, vec![(H, *n)])).collect()
    }

    fn build(
        nodes: &[(&'static str, Vec<(&'static str, &'static str)>)],
        existing: &[(&str, &[&str], &str, bool)],
    ) -> Vec<NodeInfo> {
        let n: Vec<(&str, &[(&str, &str)])> =
            nodes.iter().map(|(a, l)| (*a, l.as_slice())).collect();
        cluster(&n, existing)
    }

    fn foo_pods(
        spread: &[(&'static str, usize)],
    ) -> Vec<(&'static str, &'static [&'static str], &'static str, bool)> {
        spread
            .iter()
            .flat_map(|(n, c)| std::iter::repeat_n((*n, &["foo"][..], D, false), *c))
            .collect()
    }

    // scoring_test.go TestPodTopologySpreadScore: one constraint on the hostname.
    #[test]
    fn one_constraint_on_node() {
        let on_host = |skew| {
            spreading(
                &["foo"],
                PlacementConstraints::default(),
                vec![soft(skew, H, exists("foo"))],
            )
        };
        // "one constraint on node, no existing pods"
        let nodes = build(&hosts(&["node-a", "node-b"]), &[]);
        assert_eq!(
            scores(&on_host(1), &nodes, &["node-a", "node-b"]),
            [100, 100]
        );
        // "one constraint on node, only one node is candidate"
        let nodes = build(
            &hosts(&["node-a", "node-b"]),
            &foo_pods(&[("node-a", 2), ("node-b", 1)]),
        );
        assert_eq!(scores(&on_host(1), &nodes, &["node-a"]), [100]);
        // "one constraint on node, all nodes have the same number of matching pods"
        let nodes = build(
            &hosts(&["node-a", "node-b"]),
            &foo_pods(&[("node-a", 1), ("node-b", 1)]),
        );
        assert_eq!(
            scores(&on_host(1), &nodes, &["node-a", "node-b"]),
            [100, 100]
        );
        // "one constraint on node, all 4 nodes are candidates" (2/1/0/3)
        let four = hosts(&["node-a", "node-b", "node-c", "node-d"]);
        let existing = foo_pods(&[("node-a", 2), ("node-b", 1), ("node-d", 3)]);
        let nodes = build(&four, &existing);
        let all = ["node-a", "node-b", "node-c", "node-d"];
        assert_eq!(scores(&on_host(1), &nodes, &all), [20, 60, 100, 0]);
        // "one constraint on node, null selector"
        let p = spreading(
            &["foo"],
            PlacementConstraints::default(),
            vec![soft(1, H, None)],
        );
        assert_eq!(scores(&p, &nodes, &all), [100, 100, 100, 100]);
        // "one constraint on node, all 4 nodes are candidates, maxSkew=2"
        assert_eq!(scores(&on_host(2), &nodes, &all), [33, 66, 100, 16]);
        // "..., maxSkew=3" (4/3/2/1)
        let existing = foo_pods(&[("node-a", 4), ("node-b", 3), ("node-c", 2), ("node-d", 1)]);
        let nodes = build(&four, &existing);
        assert_eq!(scores(&on_host(3), &nodes, &all), [44, 66, 77, 100]);
        // "minDomains has no effect when ScheduleAnyway" (2/2/1 over "node")
        let three: Vec<_> = ["node-a", "node-b", "node-c"]
            .iter()
            .map(|n| (*n, vec![("node", *n)]))
            .collect();
        let nodes = build(
            &three,
            &foo_pods(&[("node-a", 2), ("node-b", 2), ("node-c", 1)]),
        );
        let mut c = soft(2, "node", exists("foo"));
        c.min_domains = 10;
        let p = spreading(&["foo"], PlacementConstraints::default(), vec![c]);
        assert_eq!(
            scores(&p, &nodes, &["node-a", "node-b", "node-c"]),
            [75, 75, 100]
        );
    }

    // scoring_test.go TestPodTopologySpreadScore: zones, failed nodes, several constraints.
    #[test]
    fn zones_and_several_constraints() {
        let zoned = |names: &[(&'static str, &'static str)]| -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
            names.iter().map(|(n, z)| (*n, vec![("zone", *z), (H, *n)])).collect()
        };
        let four = zoned(&[
            ("node-a", "zone1"),
            ("node-b", "zone1"),
            ("node-x", "zone2"),
            ("node-y", "zone2"),
        ]);
        // "one constraint on zone, 3 out of 4 nodes are candidates" (4/2/1/~3~)
        let nodes = build(
            &four,
            &foo_pods(&[("node-a", 4), ("node-b", 2), ("node-x", 1), ("node-y", 3)]),
        );
        let p = spreading(
            &["foo"],
            PlacementConstraints::default(),
            vec![soft(1, "zone", exists("foo"))],
        );
        assert_eq!(
            scores(&p, &nodes, &["node-a", "node-b", "node-x"]),
            [75, 75, 100]
        );
        // "two Constraints on zone and node, 2 out of 4 nodes are candidates" (2/~1~/2/~4~)
        let nodes = build(
            &four,
            &foo_pods(&[("node-a", 2), ("node-b", 1), ("node-x", 2), ("node-y", 4)]),
        );
        let p = spreading(
            &["foo"],
            PlacementConstraints::default(),
            vec![soft(1, "zone", exists("foo")), soft(1, H, exists("foo"))],
        );
        assert_eq!(scores(&p, &nodes, &["node-a", "node-x"]), [100, 63]);
        // "two Constraints on zone and node, with different labelSelectors"
        let existing: &[(&str, &[&str], &str, bool)] = &[
            ("node-a", &["foo"], D, false),
            ("node-b", &["foo", "bar"], D, false),
            ("node-y", &["foo"], D, false),
            ("node-y", &["bar"], D, false),
        ];
        let nodes = build(&four, existing);
        let p = spreading(
            &["foo", "bar"],
            PlacementConstraints::default(),
            vec![soft(1, "zone", exists("foo")), soft(1, H, exists("bar"))],
        );
        assert_eq!(
            scores(&p, &nodes, &["node-a", "node-b", "node-x", "node-y"]),
            [60, 20, 100, 60]
        );
        // "..., 3 out of 4 nodes are candidates"
        assert_eq!(
            scores(&p, &nodes, &["node-a", "node-b", "node-x"]),
            [50, 25, 100]
        );
        // "..., some nodes have 0 pods"
        let existing: &[(&str, &[&str], &str, bool)] = &[
            ("node-b", &["bar"], D, false),
            ("node-x", &["foo"], D, false),
            ("node-y", &["foo", "bar"], D, false),
        ];
        let nodes = build(&four, existing);
        assert_eq!(
            scores(&p, &nodes, &["node-a", "node-b", "node-x", "node-y"]),
            [100, 60, 40, 0]
        );
        // "existing pods in a different namespace do not count" / "terminating Pods should be
        // excluded" (hostname, 2 nodes).
        let two = hosts(&["node-a", "node-b"]);
        let existing: &[(&str, &[&str], &str, bool)] = &[
            ("node-a", &["foo"], "ns1", false),
            ("node-a", &["foo"], D, false),
            ("node-b", &["foo"], D, false),
            ("node-b", &["foo"], D, false),
        ];
        let nodes = build(&two, existing);
        let p = spreading(
            &["foo"],
            PlacementConstraints::default(),
            vec![soft(1, H, exists("foo"))],
        );
        assert_eq!(scores(&p, &nodes, &["node-a", "node-b"]), [100, 33]);
        let existing: &[(&str, &[&str], &str, bool)] = &[
            ("node-a", &["foo"], D, true),
            ("node-b", &["foo"], D, false),
        ];
        let nodes = build(&two, existing);
        assert_eq!(scores(&p, &nodes, &["node-a", "node-b"]), [100, 0]);
    }

    // A node lacking a topology key is left out: it scores 0.
    #[test]
    fn node_without_the_key_scores_zero() {
        let nodes = build(
            &[
                ("node-a", vec![("zone", "zone1"), (H, "node-a")]),
                ("node-b", vec![(H, "node-b")]),
            ],
            &[],
        );
        let p = spreading(
            &["foo"],
            PlacementConstraints::default(),
            vec![soft(1, "zone", exists("foo"))],
        );
        assert_eq!(scores(&p, &nodes, &["node-a", "node-b"]), [100, 0]);
    }
}
