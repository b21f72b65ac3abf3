//! InterPodAffinity's PreScore, Score and NormalizeScore (`scoring.go`, v1.37), with the
//! default arguments (`hardPodAffinityWeight` 1, `ignorePreferredTermsOfExistingPods` false).

use std::collections::BTreeMap;

use super::WeightedAffinityTerm;
use crate::scheduler::node_table::NodeList;
use crate::scheduler::types::{MAX_NODE_SCORE, NodeInfo, PodInfo};

/// `HardPodAffinityWeight` (default 1, `pkg/scheduler/apis/config/v1/defaults.go`): the
/// weight of an existing pod's required affinity term that selects the incoming pod.
const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

/// `scoreMap`: weights per topology key and value.
type ScoreMap<'n> = BTreeMap<&'n str, BTreeMap<&'n str, i64>>;

/// Whether the pod has any pod affinity or anti-affinity term (`PodsWithAffinity`).
pub(crate) fn has_affinity(p: &PodInfo) -> bool {
    !p.constraints.pod_affinity.is_empty()
}

/// `processTerm`: `weight` for the node's domain of the term's key when the term selects `pod`.
fn process<'n>(
    m: &mut ScoreMap<'n>,
    hit: &mut bool,
    term: &super::AffinityTerm,
    owner: &str,
    weight: i64,
    pod: &PodInfo,
    node: &'n NodeInfo,
) {
    if term.matches(owner, pod)
        && let Some((k, v)) = node.labels.get_key_value(&term.topology_key)
    {
        *m.entry(k.as_str())
            .or_default()
            .entry(v.as_str())
            .or_default() += weight;
        *hit = true;
    }
}

/// `processTerms` with a sign.
fn process_all<'n>(
    m: &mut ScoreMap<'n>,
    hit: &mut bool,
    terms: &[WeightedAffinityTerm],
    owner: &str,
    sign: i64,
    pod: &PodInfo,
    node: &'n NodeInfo,
) {
    for t in terms {
        process(m, hit, &t.term, owner, sign * t.weight as i64, pod, node);
    }
}

/// PreScore, Score and NormalizeScore for the `feasible` nodes: `None` when the plugin is
/// skipped (no term of the pod or of an existing pod selects anything), else one normalised
/// score (0-100) per feasible node. `with_affinity` lists the nodes holding pods with
/// affinity terms when the caller keeps that list (`HavePodsWithAffinityList`); `None` reads
/// every node.
pub(crate) fn scores<'n, N: NodeList<'n> + ?Sized>(
    pod: &PodInfo,
    feasible: &[usize],
    nodes: &N,
    with_affinity: Option<&[usize]>,
) -> Option<Vec<i64>> {
    let a = &pod.constraints.pod_affinity;
    let own = !a.preferred_affinity.is_empty() || !a.preferred_anti_affinity.is_empty();
    let mut m = ScoreMap::new();
    let mut hit = false;
    let ns = &*pod.namespace;
    let mut node_pass = |node: &'n NodeInfo| {
        if node.labels.is_empty() {
            return;
        }
        for p in &node.pods {
            if !own && !has_affinity(p) {
                continue;
            }
            process_all(&mut m, &mut hit, &a.preferred_affinity, ns, 1, p, node);
            process_all(
                &mut m,
                &mut hit,
                &a.preferred_anti_affinity,
                ns,
                -1,
                p,
                node,
            );
            let theirs = &p.constraints.pod_affinity;
            for t in &theirs.required_affinity {
                process(
                    &mut m,
                    &mut hit,
                    t,
                    &p.namespace,
                    HARD_POD_AFFINITY_WEIGHT,
                    pod,
                    node,
                );
            }
            process_all(
                &mut m,
                &mut hit,
                &theirs.preferred_affinity,
                &p.namespace,
                1,
                pod,
                node,
            );
            process_all(
                &mut m,
                &mut hit,
                &theirs.preferred_anti_affinity,
                &p.namespace,
                -1,
                pod,
                node,
            );
        }
    };
    match with_affinity.filter(|_| !own) {
        Some(list) => list.iter().for_each(|&i| node_pass(nodes.node(i))),
        None => (0..nodes.len()).for_each(|i| node_pass(nodes.node(i))),
    }
    if !hit {
        return None;
    }
    let raw: Vec<i64> = feasible
        .iter()
        .map(|&i| {
            let node = nodes.node(i);
            m.iter()
                .filter_map(|(k, values)| values.get(node.labels.get(*k)?.as_str()))
                .sum()
        })
        .collect();
    let (min, max) = raw
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), &s| (lo.min(s), hi.max(s)));
    let diff = max - min;
    Some(
        raw.iter()
            .map(|&s| {
                if diff > 0 {
                    (MAX_NODE_SCORE as f64 * ((s - min) as f64 / diff as f64)) as i64
                } else {
                    0
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    //! Cases of upstream `scoring_test.go` (v1.37) `TestPreferredAffinity`.

    use super::*;
    use crate::scheduler::plugins::inter_pod_affinity::PodAffinity;
    use crate::scheduler::plugins::inter_pod_affinity::testing::*;
    use kscale_model::SelectorOp::In;

    /// Scores of every node, `None` when the plugin is skipped.
    fn score(pod: &PodInfo, nodes: &[NodeInfo]) -> Option<Vec<i64>> {
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        let all: Vec<usize> = (0..nodes.len()).collect();
        scores(pod, &all, &refs[..], None)
    }

    const S1: &[(&str, &str)] = &[("security", "S1")];
    const S2: &[(&str, &str)] = &[("security", "S2")];
    const CHINA: &[(&str, &str)] = &[("region", "China")];
    const INDIA: &[(&str, &str)] = &[("region", "India")];
    const AZ1: &[(&str, &str)] = &[("az", "az1")];

    fn plain(l: &[(&str, &str)]) -> PodInfo {
        apod("", l, PodAffinity::default())
    }

    /// `stayWithS1InRegion` (5) / `stayWithS2InRegion` (6): preferred affinity over region.
    fn stay_with(security: &str, weight: i32) -> PodAffinity {
        PodAffinity {
            preferred_affinity: vec![weighted(
                weight,
                term("security", In, &[security], "region"),
            )],
            ..Default::default()
        }
    }

    /// `awayFromS1InAz`: preferred anti-affinity (5) over az.
    fn away_from_s1() -> PodAffinity {
        PodAffinity {
            preferred_anti_affinity: vec![weighted(5, term("security", In, &["S1"], "az"))],
            ..Default::default()
        }
    }

    #[test]
    fn preferred_affinity() {
        // "all nodes are same priority as Affinity is nil": skipped.
        let nodes = [
            lnode("node1", CHINA, vec![]),
            lnode("node2", INDIA, vec![]),
            lnode("node3", AZ1, vec![]),
        ];
        assert_eq!(score(&plain(S1), &nodes), None);
        // "Affinity: pod that matches topology key & pods in nodes will get high score
        // comparing to others which doesn't match either pods in nodes or in topology key"
        let p = apod("", S1, stay_with("S1", 5));
        let nodes = [
            lnode("node1", CHINA, vec![plain(S1)]),
            lnode("node2", INDIA, vec![plain(S2)]),
            lnode("node3", AZ1, vec![plain(S1)]),
        ];
        assert_eq!(score(&p, &nodes), Some(vec![100, 0, 0]));
        // "All the nodes that have the same topology key & label value with one of them has an
        // existing pod that match the affinity rules, have the same score"
        let p = apod("", &[], stay_with("S1", 5));
        let nodes = [
            lnode("node1", CHINA, vec![plain(S1)]),
            lnode("node2", &[("region", "China"), ("az", "az1")], vec![]),
            lnode("node3", INDIA, vec![]),
        ];
        assert_eq!(score(&p, &nodes), Some(vec![100, 100, 0]));
        // "Affinity: nodes in one region has more matching pods comparing to other region, so
        // the region which has more matches will get high score"
        let p = apod("", S1, stay_with("S2", 6));
        let nodes = [
            lnode("node1", CHINA, vec![plain(S2), plain(S2)]),
            lnode("node2", INDIA, vec![plain(S2)]),
            lnode("node3", CHINA, vec![plain(S2)]),
            lnode("node4", CHINA, vec![plain(S2)]),
            lnode("node5", INDIA, vec![plain(S2)]),
        ];
        assert_eq!(score(&p, &nodes), Some(vec![100, 0, 100, 100, 0]));
        // "Affinity symmetry: considered only the preferredDuringSchedulingIgnoredDuringExecution
        // in pod affinity symmetry"
        let nodes = [
            lnode("node1", CHINA, vec![apod("", S1, stay_with("S1", 5))]),
            lnode("node2", INDIA, vec![apod("", S2, stay_with("S2", 6))]),
            lnode("node3", AZ1, vec![]),
        ];
        assert_eq!(score(&plain(S2), &nodes), Some(vec![0, 100, 0]));
        // "Affinity symmetry: considered RequiredDuringSchedulingIgnoredDuringExecution in pod
        // affinity symmetry" (hardPodAffinityWeight 1)
        let hard = |s: &str| required(vec![term("security", In, &[s], "region")], vec![]);
        let nodes = [
            lnode("node1", CHINA, vec![apod("", S1, hard("S1"))]),
            lnode("node2", INDIA, vec![apod("", S2, hard("S2"))]),
            lnode("node3", AZ1, vec![]),
        ];
        assert_eq!(score(&plain(S2), &nodes), Some(vec![0, 100, 0]));
    }

    #[test]
    fn preferred_anti_affinity() {
        // "Anti Affinity: pod that does not match existing pods in node will get high score"
        let p = apod("", S1, away_from_s1());
        let nodes = [
            lnode("node1", AZ1, vec![plain(S1)]),
            lnode("node2", CHINA, vec![plain(S2)]),
        ];
        assert_eq!(score(&p, &nodes), Some(vec![0, 100]));
        // "Anti Affinity: pod that does not match topology key & match the pods in nodes will
        // get higher score comparing to others"
        let nodes = [
            lnode("node1", AZ1, vec![plain(S1)]),
            lnode("node2", CHINA, vec![plain(S1)]),
        ];
        assert_eq!(score(&p, &nodes), Some(vec![0, 100]));
        // "Anti Affinity: one node has more matching pods comparing to other node, so the node
        // which has more unmatches will get high score"
        let nodes = [
            lnode("node1", AZ1, vec![plain(S1), plain(S1)]),
            lnode("node2", INDIA, vec![plain(S2)]),
        ];
        assert_eq!(score(&p, &nodes), Some(vec![0, 100]));
        // "Anti Affinity symmetry: the existing pods in node which has anti affinity match will
        // get high score"
        let away_from = |security: &str| PodAffinity {
            preferred_anti_affinity: vec![weighted(5, term("security", In, &[security], "az"))],
            ..Default::default()
        };
        let nodes = [
            lnode("node1", AZ1, vec![apod("", S1, away_from("S2"))]),
            lnode(
                "node2",
                &[("az", "az2")],
                vec![apod("", S2, away_from("S1"))],
            ),
        ];
        assert_eq!(score(&plain(S2), &nodes), Some(vec![0, 100]));
    }
}
