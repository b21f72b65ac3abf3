//! PodTopologySpread's scoring (`scoring.go`): PreScore (`initPreScoreState` and the count
//! over all nodes), Score (`scoreForCount`) and NormalizeScore, for the pod's soft constraints
//! or, for a pod without constraints of its own, the system default constraints
//! (`buildDefaultConstraints`, common.go).

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::counts::{LABEL_ZONE, SpreadCounts};
use super::{
    InclusionPolicy, LABEL_HOSTNAME, SpreadConstraint, WhenUnsatisfiable, count_matching,
    system_default_constraints,
};
use crate::scheduler::node_table::NodeList;
use crate::scheduler::types::{MAX_NODE_SCORE, PodInfo};

/// `topologyNormalizingWeight`: `ln(size + 2)`.
fn normalizing_weight(size: usize) -> f64 {
    ((size + 2) as f64).ln()
}

/// The constraints PreScore scores `pod` with (`initPreScoreState`): its own soft ones; for a
/// pod without constraints, the system defaults over its default selector (none without one);
/// and `requireAllTopologies` (PreScore): only explicit constraints leave out the nodes that
/// lack one of the topology keys, so that the system defaults still spread over hostnames on
/// nodes without a zone.
fn soft_constraints(pod: &PodInfo) -> (Vec<Cow<'_, SpreadConstraint>>, bool) {
    let own = &pod.constraints.topology_spread;
    if !own.is_empty() {
        let soft = own
            .iter()
            .filter(|c| c.when_unsatisfiable == WhenUnsatisfiable::ScheduleAnyway)
            .map(Cow::Borrowed)
            .collect();
        return (soft, true);
    }
    let defaults = match pod.default_selector.as_deref() {
        Some(sel) if !sel.is_empty() => system_default_constraints(sel)
            .into_iter()
            .map(Cow::Owned)
            .collect(),
        _ => vec![],
    };
    (defaults, false)
}

/// Node `i`'s value of `c`'s topology key, if it has the label (for the hostname, whose
/// per-node counts are read by position, its presence only), read from the table's counts
/// when scoring with them.
fn key_value<'t, 'a: 't, N: NodeList<'a> + ?Sized>(
    nodes: &N,
    table: Option<&'t SpreadCounts>,
    i: usize,
    c: &SpreadConstraint,
) -> Option<&'t str> {
    match table {
        Some(t) => {
            let e = t.node(i);
            if c.topology_key == LABEL_HOSTNAME {
                e.hostname.then_some("")
            } else {
                e.zone.as_deref()
            }
        }
        None => nodes
            .node(i)
            .labels
            .get(&c.topology_key)
            .map(String::as_str),
    }
}

/// Whether every node counts for `c` when spreading `pod` (`matchNodeInclusionPolicies`
/// passes everywhere): its node affinity is ignored or selects every node, and taints are
/// ignored.
fn includes_every_node(c: &SpreadConstraint, pod: &PodInfo) -> bool {
    let pc = &pod.constraints;
    (c.node_affinity_policy == InclusionPolicy::Ignore
        || (pc.node_selector.is_empty() && pc.required_node_affinity.is_empty()))
        && c.node_taints_policy == InclusionPolicy::Ignore
}

/// `preScoreState`: the constraints scored, the filtered nodes left out for lacking a
/// topology key, matching pods per domain of the filtered nodes, per filtered node for
/// hostname constraints (upstream counts those in Score), and each constraint's normalizing
/// weight.
#[derive(Debug)]
pub(crate) struct PreScoreState<'p, 't> {
    constraints: Vec<Cow<'p, SpreadConstraint>>,
    /// Per filtered node (in the order given): left out of scoring.
    ignored: Vec<bool>,
    domains: Vec<BTreeMap<&'t str, i64>>,
    on_node: Vec<Vec<i64>>,
    weights: Vec<f64>,
    table: Option<&'t SpreadCounts>,
}

/// `PreScore` over the `filtered` nodes (indices into `nodes`, all nodes): `None` when the
/// plugin is skipped (no soft constraint, no default selector, no node).
///
/// With `counts` (the [`NodeTable`](crate::scheduler::NodeTable)'s, for `nodes`) and
/// constraints on the hostname and zone only, matching pods are read from the counts kept by
/// label set instead of walking every node's pods; the state is the same.
pub(crate) fn pre_score<'p, 'a: 't, 't, N: NodeList<'a> + ?Sized>(
    pod: &'p PodInfo,
    filtered: &[usize],
    nodes: &N,
    counts: Option<&'t SpreadCounts>,
) -> Option<PreScoreState<'p, 't>> {
    let (cs, require_all) = soft_constraints(pod);
    if cs.is_empty() || nodes.is_empty() {
        return None;
    }
    let table = counts.filter(|_| {
        cs.iter()
            .all(|c| c.topology_key == LABEL_HOSTNAME || c.topology_key == LABEL_ZONE)
    });
    let value = |i: usize, c: &SpreadConstraint| key_value(nodes, table, i, c);
    let has_all_keys = |i: usize| cs.iter().all(|c| value(i, c).is_some());
    // initPreScoreState: the domains of the filtered nodes (with explicit constraints, of
    // those that carry every key; otherwise a missing label is the domain "").
    let mut domains: Vec<BTreeMap<&'t str, i64>> = vec![BTreeMap::new(); cs.len()];
    let mut ignored = Vec::with_capacity(filtered.len());
    for &i in filtered {
        let skip = require_all && !has_all_keys(i);
        ignored.push(skip);
        if skip {
            continue;
        }
        for (ci, c) in cs.iter().enumerate() {
            if c.topology_key != LABEL_HOSTNAME {
                domains[ci].entry(value(i, c).unwrap_or("")).or_insert(0);
            }
        }
    }
    let kept = ignored.iter().filter(|i| !**i).count();
    let weights: Vec<f64> = cs
        .iter()
        .zip(&domains)
        .map(|(c, m)| {
            normalizing_weight(if c.topology_key == LABEL_HOSTNAME {
                kept
            } else {
                m.len()
            })
        })
        .collect();
    // The matching pods of every node (filtered or not) in those domains; per filtered node
    // for hostname constraints.
    let ns = &*pod.namespace;
    let mut on_node: Vec<Vec<i64>> = vec![vec![]; cs.len()];
    match table {
        None => {
            for i in 0..nodes.len() {
                if require_all && !has_all_keys(i) {
                    continue;
                }
                let node = nodes.node(i);
                for (ci, c) in cs.iter().enumerate() {
                    if c.topology_key == LABEL_HOSTNAME || !c.includes(pod, node) {
                        continue;
                    }
                    if let Some(n) = domains[ci].get_mut(value(i, c).unwrap_or("")) {
                        *n += count_matching(&node.pods, c, ns);
                    }
                }
            }
            for (ci, c) in cs.iter().enumerate() {
                if c.topology_key == LABEL_HOSTNAME {
                    on_node[ci] = filtered
                        .iter()
                        .map(|&i| count_matching(&nodes.node(i).pods, c, ns))
                        .collect();
                }
            }
        }
        Some(t) => {
            for (ci, c) in cs.iter().enumerate() {
                let groups = t.matching(c.selector.as_ref(), ns);
                if c.topology_key == LABEL_HOSTNAME {
                    let mut per_node = vec![0i64; nodes.len()];
                    for g in groups {
                        for (&slot, &n) in &g.nodes {
                            per_node[t.position(slot)] += i64::from(n);
                        }
                    }
                    on_node[ci] = filtered.iter().map(|&i| per_node[i]).collect();
                } else if !require_all && includes_every_node(c, pod) {
                    // Every node counts, by its zone.
                    for g in groups {
                        for (zone, &n) in &g.zones {
                            if let Some(d) = domains[ci].get_mut(&**zone) {
                                *d += i64::from(n);
                            }
                        }
                    }
                } else {
                    for g in groups {
                        for (&slot, &n) in &g.nodes {
                            let i = t.position(slot);
                            if (require_all && !has_all_keys(i)) || !c.includes(pod, nodes.node(i))
                            {
                                continue;
                            }
                            if let Some(d) = domains[ci].get_mut(value(i, c).unwrap_or("")) {
                                *d += i64::from(n);
                            }
                        }
                    }
                }
            }
        }
    }
    Some(PreScoreState {
        constraints: cs,
        ignored,
        domains,
        on_node,
        weights,
        table,
    })
}

/// `Score` of the `k`-th filtered node, node `i` of `nodes`: Σ over the constraints whose key
/// it has of `matching pods in its domain × weight + maxSkew − 1`, rounded; 0 when left out.
pub(crate) fn score<'a: 't, 't, N: NodeList<'a> + ?Sized>(
    nodes: &N,
    i: usize,
    k: usize,
    s: &PreScoreState<'_, 't>,
) -> i64 {
    if s.ignored[k] {
        return 0;
    }
    let mut score = 0.0;
    for (ci, c) in s.constraints.iter().enumerate() {
        let Some(v) = key_value(nodes, s.table, i, c) else {
            continue;
        };
        let cnt = if c.topology_key == LABEL_HOSTNAME {
            s.on_node[ci][k]
        } else {
            s.domains[ci].get(v).copied().unwrap_or(0)
        };
        score += cnt as f64 * s.weights[ci] + (c.max_skew - 1) as f64;
    }
    score.round() as i64
}

/// PreScore, Score and NormalizeScore: the normalized score of each of the `filtered` nodes,
/// in order, or `None` when the plugin is skipped (see [`pre_score`]).
pub(crate) fn scores<'a: 't, 't, N: NodeList<'a> + ?Sized>(
    pod: &PodInfo,
    filtered: &[usize],
    nodes: &N,
    counts: Option<&'t SpreadCounts>,
) -> Option<Vec<i64>> {
    let s = pre_score(pod, filtered, nodes, counts)?;
    let mut out: Vec<i64> = (filtered.iter().enumerate())
        .map(|(k, &i)| score(nodes, i, k, &s))
        .collect();
    normalize(&mut out, &s.ignored);
    Some(out)
}

/// `NormalizeScore`: fewer matching pods score higher, `100 × (max + min − s) / max`; left-out
/// nodes score 0, and all 100 when the maximum is 0.
fn normalize(scores: &mut [i64], ignored: &[bool]) {
    let mut min = i64::MAX;
    let mut max = 0;
    for (k, &v) in scores.iter().enumerate() {
        if !ignored[k] {
            min = min.min(v);
            max = max.max(v);
        }
    }
    for (k, v) in scores.iter_mut().enumerate() {
        *v = if ignored[k] {
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
    use crate::scheduler::types::NodeInfo;
    use kscale_model::LabelSelector;
    use kscale_model::labels::Labels;
    use std::sync::Arc;

    fn soft(skew: i32, key: &str, sel: Option<LabelSelector>) -> SpreadConstraint {
        SpreadConstraint::new(skew, key, WhenUnsatisfiable::ScheduleAnyway, sel)
    }

    /// Normalized scores of the `candidates` (names) among all `nodes`, by walking the nodes'
    /// pods; the same with the counts of a table of the nodes.
    fn scores_of(pod: &PodInfo, nodes: &[NodeInfo], candidates: &[&str]) -> Vec<i64> {
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        let filtered: Vec<usize> = candidates
            .iter()
            .map(|c| nodes.iter().position(|n| &*n.name == *c).unwrap())
            .collect();
        let walked = scores(pod, &filtered, &refs[..], None).expect("soft constraints");
        let counts = SpreadCounts::of(&refs[..]);
        let counted = scores(pod, &filtered, &refs[..], Some(&counts));
        assert_eq!(counted.as_ref(), Some(&walked), "counted as walked");
        // The same cluster and constraints on the well-known zone label: counted too.
        let rename = |k: &str| {
            if k == "zone" {
                LABEL_ZONE.to_string()
            } else {
                k.to_string()
            }
        };
        let zoned: Vec<NodeInfo> = nodes
            .iter()
            .map(|n| {
                let mut n = n.clone();
                n.labels = std::sync::Arc::new(
                    n.labels
                        .iter()
                        .map(|(k, v)| (rename(k), v.clone()))
                        .collect(),
                );
                n
            })
            .collect();
        let mut p = pod.clone();
        let c = Arc::make_mut(&mut p.constraints);
        for s in &mut c.topology_spread {
            s.topology_key = rename(&s.topology_key);
        }
        let refs: Vec<&NodeInfo> = zoned.iter().collect();
        let counts = SpreadCounts::of(&refs[..]);
        assert_eq!(
            scores(&p, &filtered, &refs[..], None).as_ref(),
            Some(&walked)
        );
        assert_eq!(
            scores(&p, &filtered, &refs[..], Some(&counts)),
            Some(walked.clone())
        );
        walked
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
            scores_of(&on_host(1), &nodes, &["node-a", "node-b"]),
            [100, 100]
        );
        // "one constraint on node, only one node is candidate"
        let nodes = build(
            &hosts(&["node-a", "node-b"]),
            &foo_pods(&[("node-a", 2), ("node-b", 1)]),
        );
        assert_eq!(scores_of(&on_host(1), &nodes, &["node-a"]), [100]);
        // "one constraint on node, all nodes have the same number of matching pods"
        let nodes = build(
            &hosts(&["node-a", "node-b"]),
            &foo_pods(&[("node-a", 1), ("node-b", 1)]),
        );
        assert_eq!(
            scores_of(&on_host(1), &nodes, &["node-a", "node-b"]),
            [100, 100]
        );
        // "one constraint on node, all 4 nodes are candidates" (2/1/0/3)
        let four = hosts(&["node-a", "node-b", "node-c", "node-d"]);
        let existing = foo_pods(&[("node-a", 2), ("node-b", 1), ("node-d", 3)]);
        let nodes = build(&four, &existing);
        let all = ["node-a", "node-b", "node-c", "node-d"];
        assert_eq!(scores_of(&on_host(1), &nodes, &all), [20, 60, 100, 0]);
        // "one constraint on node, null selector"
        let p = spreading(
            &["foo"],
            PlacementConstraints::default(),
            vec![soft(1, H, None)],
        );
        assert_eq!(scores_of(&p, &nodes, &all), [100, 100, 100, 100]);
        // "one constraint on node, all 4 nodes are candidates, maxSkew=2"
        assert_eq!(scores_of(&on_host(2), &nodes, &all), [33, 66, 100, 16]);
        // "..., maxSkew=3" (4/3/2/1)
        let existing = foo_pods(&[("node-a", 4), ("node-b", 3), ("node-c", 2), ("node-d", 1)]);
        let nodes = build(&four, &existing);
        assert_eq!(scores_of(&on_host(3), &nodes, &all), [44, 66, 77, 100]);
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
            scores_of(&p, &nodes, &["node-a", "node-b", "node-c"]),
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
            scores_of(&p, &nodes, &["node-a", "node-b", "node-x"]),
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
        assert_eq!(scores_of(&p, &nodes, &["node-a", "node-x"]), [100, 63]);
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
            scores_of(&p, &nodes, &["node-a", "node-b", "node-x", "node-y"]),
            [60, 20, 100, 60]
        );
        // "..., 3 out of 4 nodes are candidates"
        assert_eq!(
            scores_of(&p, &nodes, &["node-a", "node-b", "node-x"]),
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
            scores_of(&p, &nodes, &["node-a", "node-b", "node-x", "node-y"]),
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
        assert_eq!(scores_of(&p, &nodes, &["node-a", "node-b"]), [100, 33]);
        let existing: &[(&str, &[&str], &str, bool)] = &[
            ("node-a", &["foo"], D, true),
            ("node-b", &["foo"], D, false),
        ];
        let nodes = build(&two, existing);
        assert_eq!(scores_of(&p, &nodes, &["node-a", "node-b"]), [100, 0]);
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
        assert_eq!(scores_of(&p, &nodes, &["node-a", "node-b"]), [100, 0]);
    }

    /// A pod labelled `labels` without constraints of its own, spread by the system defaults
    /// over `selector` (its `helper.DefaultSelector`).
    fn defaulted(labels: &[(&str, &str)], selector: LabelSelector) -> PodInfo {
        let mut p = spreading(&[], PlacementConstraints::default(), vec![]);
        p.labels = Arc::new(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        p.default_selector = Some(Arc::new(selector));
        p
    }

    // scoring_test.go TestPodTopologySpreadScore "system defaulting, nodes don't have zone,
    // pods match service": the hostname constraint alone (maxSkew 3) scores as one explicit
    // constraint would; the zone constraint scores nothing on nodes without the label.
    #[test]
    fn system_defaults_on_nodes_without_zone() {
        let four = hosts(&["node-a", "node-b", "node-c", "node-d"]);
        let existing = foo_pods(&[("node-a", 4), ("node-b", 3), ("node-c", 2), ("node-d", 1)]);
        let nodes = build(&four, &existing);
        let service = LabelSelector::from_labels([("foo".to_string(), String::new())].into());
        let p = defaulted(&[("foo", "")], service);
        let all = ["node-a", "node-b", "node-c", "node-d"];
        assert_eq!(scores_of(&p, &nodes, &all), [44, 66, 77, 100]);
    }

    // scoring_test.go TestPreScoreStateEmptyNodes "system default constraints and a
    // replicaset": hostname maxSkew 3 and zone maxSkew 5 over the ReplicaSet's selector; nodes
    // without a zone are not left out, they are the zone "".
    #[test]
    fn system_defaults_pre_score_state() {
        let nodes = build(
            &[
                ("node-a", vec![(H, "node-a"), (LABEL_ZONE, "mars")]),
                ("node-b", vec![(H, "node-b"), (LABEL_ZONE, "mars")]),
                ("node-c", vec![(H, "node-c")]),
                ("node-d", vec![(H, "node-d")]),
            ],
            &[],
        );
        let p = defaulted(&[("foo", "tar"), ("baz", "sup")], exists("foo").unwrap());
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        let counts = SpreadCounts::of(&refs[..]);
        for table in [None, Some(&counts)] {
            let s = pre_score(&p, &[0, 1, 2, 3], &refs[..], table).expect("defaulted");
            let want = [
                SpreadConstraint::new(3, H, WhenUnsatisfiable::ScheduleAnyway, exists("foo")),
                SpreadConstraint::new(
                    5,
                    LABEL_ZONE,
                    WhenUnsatisfiable::ScheduleAnyway,
                    exists("foo"),
                ),
            ];
            let got: Vec<&SpreadConstraint> = s.constraints.iter().map(|c| &**c).collect();
            assert_eq!(got, want.iter().collect::<Vec<_>>());
            assert_eq!(s.ignored, [false; 4]);
            assert!(s.domains[0].is_empty());
            assert_eq!(s.domains[1], BTreeMap::from([("", 0), ("mars", 0)]));
            assert_eq!(s.weights, [normalizing_weight(4), normalizing_weight(2)]);
        }
        // No pods: the zone term (4) only on the zoned nodes, which score lower.
        assert_eq!(
            scores_of(&p, &nodes, &["node-a", "node-b", "node-c", "node-d"]),
            [33, 33, 100, 100]
        );
    }

    // scoring_test.go TestPreScoreSkip and TestPreScoreStateEmptyNodes "default constraints and
    // a replicaset, but pod has constraints": without a default selector (no Service,
    // ReplicaSet, ... selects the pod) or with an empty one the plugin is skipped; a pod with
    // constraints of its own is scored by its soft ones only.
    #[test]
    fn system_defaults_skipped() {
        let nodes = build(&hosts(&["node-a", "node-b"]), &[]);
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        let mut p = defaulted(&[("foo", "bar")], LabelSelector::default());
        assert!(pre_score(&p, &[0, 1], &refs[..], None).is_none());
        p.default_selector = None;
        assert!(pre_score(&p, &[0, 1], &refs[..], None).is_none());
        let mut own = spreading(
            &["foo", "baz"],
            PlacementConstraints::default(),
            vec![
                SpreadConstraint::new(1, "zone", WhenUnsatisfiable::DoNotSchedule, exists("bar")),
                soft(2, "planet", exists("baz")),
            ],
        );
        own.default_selector = Some(Arc::new(exists("foo").unwrap()));
        let s = pre_score(&own, &[0, 1], &refs[..], None).expect("its soft constraint");
        assert_eq!(s.constraints.len(), 1);
        assert_eq!(*s.constraints[0], soft(2, "planet", exists("baz")));
        // Only hard constraints of its own: nothing to score.
        Arc::make_mut(&mut own.constraints).topology_spread.pop();
        assert!(pre_score(&own, &[0, 1], &refs[..], None).is_none());
    }

    mod counted {
        use super::*;
        use crate::scheduler::testing::{pod, with_pods};
        use kscale_model::{Taint, TaintEffect};
        use proptest::prelude::*;

        /// Label sets the pods and selectors draw from.
        fn label_sets() -> Vec<Arc<Labels>> {
            let l = |kv: &[(&str, &str)]| {
                Arc::new(
                    kv.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                )
            };
            vec![
                l(&[("app", "a"), ("pod-template-hash", "1")]),
                l(&[("app", "a"), ("pod-template-hash", "2")]),
                l(&[("app", "b")]),
                l(&[]),
            ]
        }

        fn selector(k: u8) -> Option<LabelSelector> {
            let labels = |kv: &[(&str, &str)]| {
                LabelSelector::from_labels(
                    kv.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                )
            };
            match k % 5 {
                0 => Some(labels(&[("app", "a")])),
                1 => Some(labels(&[("app", "a"), ("pod-template-hash", "2")])),
                2 => exists("app"),
                3 => Some(LabelSelector::default()),
                _ => None,
            }
        }

        type NodeSpec = (Option<u8>, bool, bool, bool);
        type PodSpec = (usize, usize, bool, bool, bool);

        /// Nodes (zone of 3 or none, hostname label, `disk=ssd`, a NoSchedule taint) holding
        /// pods (node, label set, other namespace, terminating, a copy of the label set).
        fn cluster_of(nodes: &[NodeSpec], pods: &[PodSpec]) -> Vec<NodeInfo> {
            let sets = label_sets();
            let mut out: Vec<NodeInfo> = nodes
                .iter()
                .enumerate()
                .map(|(i, &(zone, host, ssd, taint))| {
                    let name = format!("n{i}");
                    let mut n = crate::scheduler::testing::node(&name, (1000, 1000), 110);
                    if let Some(z) = zone {
                        Arc::make_mut(&mut n.labels)
                            .insert(LABEL_ZONE.into(), ["za", "zb", ""][z as usize % 3].into());
                    }
                    if host {
                        Arc::make_mut(&mut n.labels).insert(H.into(), name.clone());
                    }
                    if ssd {
                        Arc::make_mut(&mut n.labels).insert("disk".into(), "ssd".into());
                    }
                    if taint {
                        Arc::make_mut(&mut n.taints).push(Taint {
                            key: "t".into(),
                            value: String::new(),
                            effect: TaintEffect::NoSchedule,
                        });
                    }
                    n
                })
                .collect();
            for (id, &(on, set, other_ns, terminating, copy)) in pods.iter().enumerate() {
                let mut p = pod(id as u64 + 1, 0, (0, 0));
                let l = &sets[set % sets.len()];
                p.labels = if copy {
                    Arc::new((**l).clone())
                } else {
                    l.clone()
                };
                p.namespace = if other_ns { "other" } else { D }.into();
                p.terminating = terminating;
                let n = on % out.len();
                out[n] = with_pods(out[n].clone(), vec![p]);
            }
            out
        }

        proptest! {
            /// Scores read from the counts are those of the walk over the nodes' pods, for the
            /// system defaults and explicit hostname and zone constraints, with node selection
            /// and inclusion policies; counts refreshed at a changed node equal a recount.
            #[test]
            fn counts_score_as_the_walk(
                nodes in prop::collection::vec((prop::option::of(0u8..3), prop::bool::weighted(0.9), any::<bool>(), prop::bool::weighted(0.2)), 1..10),
                pods in prop::collection::vec((0usize..10, 0usize..4, prop::bool::weighted(0.2), prop::bool::weighted(0.2), any::<bool>()), 0..40),
                own in prop::collection::vec((any::<bool>(), 1i32..5, 0u8..5, any::<bool>(), any::<bool>(), any::<bool>()), 0..3),
                default in 0u8..5,
                on_ssd in any::<bool>(),
                filtered_mask in any::<u16>(),
                changed in (0usize..10, 0usize..4),
            ) {
                let mut cluster = cluster_of(&nodes, &pods);
                let mut c = PlacementConstraints::default();
                if on_ssd {
                    c.node_selector.insert("disk".into(), "ssd".into());
                }
                c.topology_spread = own
                    .iter()
                    .map(|&(zone, skew, sel, soft_, honor_affinity, honor_taints)| {
                        let key = if zone { LABEL_ZONE } else { H };
                        let when = if soft_ { WhenUnsatisfiable::ScheduleAnyway } else { WhenUnsatisfiable::DoNotSchedule };
                        let mut s = SpreadConstraint::new(skew, key, when, selector(sel));
                        s.node_affinity_policy = if honor_affinity { InclusionPolicy::Honor } else { InclusionPolicy::Ignore };
                        s.node_taints_policy = if honor_taints { InclusionPolicy::Honor } else { InclusionPolicy::Ignore };
                        s
                    })
                    .collect();
                let mut p = with_constraints_of(pod(999, 0, (0, 0)), c);
                p.default_selector = selector(default).map(Arc::new);
                let filtered: Vec<usize> = (0..cluster.len()).filter(|i| filtered_mask & (1 << i) != 0).collect();
                let refs: Vec<&NodeInfo> = cluster.iter().collect();
                let mut counts = SpreadCounts::of(&refs[..]);
                prop_assert_eq!(
                    scores(&p, &filtered, &refs[..], Some(&counts)),
                    scores(&p, &filtered, &refs[..], None)
                );
                // A pod joins a node: its counts read again equal a recount.
                let (at, set) = (changed.0 % cluster.len(), changed.1);
                let mut q = pod(10_000, 0, (0, 0));
                q.labels = label_sets()[set].clone();
                cluster[at] = with_pods(cluster[at].clone(), vec![q]);
                counts.refresh(at, &cluster[at]);
                let refs: Vec<&NodeInfo> = cluster.iter().collect();
                prop_assert!(counts == SpreadCounts::of(&refs[..]));
                prop_assert_eq!(
                    scores(&p, &filtered, &refs[..], Some(&counts)),
                    scores(&p, &filtered, &refs[..], None)
                );
                // The first node leaves, the changed node is read again, a node joins at the
                // end: the remapped counts equal a recount.
                let mut joined = crate::scheduler::testing::node("z", (1000, 1000), 110);
                Arc::make_mut(&mut joined.labels).insert(LABEL_ZONE.into(), "zb".into());
                let mut q = pod(10_001, 0, (0, 0));
                q.labels = label_sets()[0].clone();
                joined = with_pods(joined, vec![q]);
                let mut after: Vec<NodeInfo> = cluster[1..].to_vec();
                after.push(joined);
                let from = (1..cluster.len())
                    .map(|j| if j == at { Err(&cluster[j]) } else { Ok(j) })
                    .chain([Err(&after[after.len() - 1])]);
                let counts = counts.remap(from);
                let refs: Vec<&NodeInfo> = after.iter().collect();
                prop_assert!(counts == SpreadCounts::of(&refs[..]));
                let filtered: Vec<usize> = filtered.iter().filter(|&&i| i < refs.len()).copied().collect();
                prop_assert_eq!(
                    scores(&p, &filtered, &refs[..], Some(&counts)),
                    scores(&p, &filtered, &refs[..], None)
                );
            }
        }

        fn with_constraints_of(p: PodInfo, c: PlacementConstraints) -> PodInfo {
            crate::scheduler::testing::with_constraints(p, c)
        }
    }
}
