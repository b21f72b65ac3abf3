//! InterPodAffinity's PreFilter, AddPod/RemovePod and Filter (`filtering.go`, v1.37).

use std::collections::BTreeMap;

use super::{AffinityTerm, matches_all};
use crate::scheduler::diagnosis::Unfit;
use crate::scheduler::node_table::NodeList;
use crate::scheduler::plugins::pod_topology_spread::LABEL_HOSTNAME;
use crate::scheduler::types::{NodeInfo, PodInfo};

/// `topologyToMatchedTermCount`: matched terms per (topology key, value) of the nodes' labels.
type Counts<'n> = BTreeMap<(&'n str, &'n str), i64>;

/// `topologyToMatchedTermCount.update`: `delta` for the node's value of `key` (nothing for a
/// node without that label); a count back at zero leaves the map.
fn update<'n>(m: &mut Counts<'n>, node: &'n NodeInfo, key: &str, delta: i64) {
    if let Some((k, v)) = node.labels.get_key_value(key) {
        let pair = (k.as_str(), v.as_str());
        let c = m.entry(pair).or_default();
        *c += delta;
        if *c == 0 {
            m.remove(&pair);
        }
    }
}

/// The count of the node's value of `key` (0 when nothing counts there), `None` when the
/// node has no label `key`.
fn count_at(m: &Counts<'_>, node: &NodeInfo, key: &str) -> Option<i64> {
    let v = node.labels.get(key)?;
    Some(m.get(&(key, v.as_str())).copied().unwrap_or(0))
}

/// `preFilterState`: per topology pair of the nodes, the existing pods' required
/// anti-affinity terms that select the incoming pod, and the existing pods that the incoming
/// pod's required affinity (all terms) and anti-affinity (each term) terms select.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct PreFilterState<'n> {
    /// `existingClusterWideAntiAffinityCounts`.
    existing_anti: Counts<'n>,
    /// `clusterWideAffinityCounts`.
    affinity: Counts<'n>,
    /// `clusterWideAntiAffinityCounts`.
    anti: Counts<'n>,
}

/// Whether the pod has required anti-affinity terms (`PodsWithRequiredAntiAffinity`).
pub(crate) fn has_required_anti_affinity(p: &PodInfo) -> bool {
    !p.constraints.pod_affinity.required_anti_affinity.is_empty()
}

impl<'n> PreFilterState<'n> {
    /// `updateWithPod` (AddPod with `delta` 1, RemovePod with -1): `updated`, on `node`,
    /// joins or leaves the counts of the cycle of `incoming`.
    pub(crate) fn update_with_pod(
        &mut self,
        updated: &PodInfo,
        incoming: &PodInfo,
        node: &'n NodeInfo,
        delta: i64,
    ) {
        self.add_existing(updated, incoming, node, delta);
        self.add_incoming(incoming, updated, node, delta);
    }

    /// `updateWithAntiAffinityTerms` of an existing pod's terms against the incoming pod.
    fn add_existing(
        &mut self,
        existing: &PodInfo,
        incoming: &PodInfo,
        node: &'n NodeInfo,
        delta: i64,
    ) {
        for t in &existing.constraints.pod_affinity.required_anti_affinity {
            if t.matches(&existing.namespace, incoming) {
                update(&mut self.existing_anti, node, &t.topology_key, delta);
            }
        }
    }

    /// `updateWithAffinityTerms` / `updateWithAntiAffinityTerms` of the incoming pod's terms
    /// against an existing pod.
    fn add_incoming(
        &mut self,
        incoming: &PodInfo,
        existing: &PodInfo,
        node: &'n NodeInfo,
        delta: i64,
    ) {
        let a = &incoming.constraints.pod_affinity;
        if matches_all(&a.required_affinity, &incoming.namespace, existing) {
            for t in &a.required_affinity {
                update(&mut self.affinity, node, &t.topology_key, delta);
            }
        }
        for t in &a.required_anti_affinity {
            if t.matches(&incoming.namespace, existing) {
                update(&mut self.anti, node, &t.topology_key, delta);
            }
        }
    }
}

/// `PreFilter`: `None` when no existing pod's anti-affinity selects the pod and the pod has
/// no required term (the plugin is skipped). `with_anti_affinity` lists the nodes holding
/// pods with required anti-affinity terms when the caller keeps that list (upstream's
/// `HavePodsWithRequiredAntiAffinityList`); `None` reads every node.
pub(crate) fn pre_filter<'n, N: NodeList<'n> + ?Sized>(
    pod: &PodInfo,
    nodes: &N,
    with_anti_affinity: Option<&[usize]>,
) -> Option<PreFilterState<'n>> {
    let mut s = PreFilterState::default();
    let mut existing = |node: &'n NodeInfo| {
        for p in node.pods.iter().filter(|p| has_required_anti_affinity(p)) {
            s.add_existing(p, pod, node, 1);
        }
    };
    match with_anti_affinity {
        Some(list) => list.iter().for_each(|&i| existing(nodes.node(i))),
        None => (0..nodes.len()).for_each(|i| existing(nodes.node(i))),
    }
    let required = pod.constraints.pod_affinity.has_required();
    if required {
        for i in 0..nodes.len() {
            let node = nodes.node(i);
            for p in &node.pods {
                s.add_incoming(pod, p, node, 1);
            }
        }
    }
    (required || !s.existing_anti.is_empty()).then_some(s)
}

/// `nodeTopologyMatchesAffinity`: the node has every term's topology key and pods matching
/// all terms in each of its domains, or no pod matches anywhere and the pod matches its own
/// terms (`satisfiesSelfAffinityCheck`: the first pod of a group that attracts itself).
fn satisfies_affinity(pod: &PodInfo, node: &NodeInfo, s: &PreFilterState<'_>) -> bool {
    let terms = &pod.constraints.pod_affinity.required_affinity;
    if terms.is_empty() {
        return true;
    }
    let mut pods_exist = true;
    for t in terms {
        match count_at(&s.affinity, node, &t.topology_key) {
            Some(c) => pods_exist &= c > 0,
            None => return false,
        }
    }
    pods_exist || (s.affinity.is_empty() && matches_all(terms, &pod.namespace, pod))
}

/// `Filter`: required affinity (UnschedulableAndUnresolvable), then the pod's required
/// anti-affinity and the existing pods' (Unschedulable: preemption may help).
pub(crate) fn filter(pod: &PodInfo, node: &NodeInfo, s: &PreFilterState<'_>) -> Result<(), Unfit> {
    if !satisfies_affinity(pod, node, s) {
        return Err(Unfit::PodAffinity);
    }
    if !s.anti.is_empty() {
        for t in &pod.constraints.pod_affinity.required_anti_affinity {
            if count_at(&s.anti, node, &t.topology_key).is_some_and(|c| c > 0) {
                return Err(Unfit::PodAntiAffinity);
            }
        }
    }
    if !s.existing_anti.is_empty()
        && node.labels.iter().any(|(k, v)| {
            s.existing_anti
                .get(&(k.as_str(), v.as_str()))
                .is_some_and(|&c| c > 0)
        })
    {
        return Err(Unfit::ExistingPodsAntiAffinity);
    }
    Ok(())
}

/// The filter as the node autoscalers' simulations run it on one node, with only the terms
/// whose topology key is `kubernetes.io/hostname`, read from the node's own `pods`: a pod's
/// anti-affinity to a pod of the node, a pod of the node's anti-affinity to the pod, and an
/// affinity to pods of which the node holds none (unless the pod matches its own terms: the
/// first of its group). Terms over wider domains are not checked here.
pub(crate) fn filter_on_node<'p>(
    pod: &PodInfo,
    pods: impl Iterator<Item = &'p PodInfo> + Clone,
) -> Result<(), Unfit> {
    let on_host = |t: &&AffinityTerm| t.topology_key == LABEL_HOSTNAME;
    let a = &pod.constraints.pod_affinity;
    let ns = &*pod.namespace;
    if a.required_affinity.iter().any(|t| on_host(&t)) {
        let terms: Vec<&AffinityTerm> = a.required_affinity.iter().filter(on_host).collect();
        let all = |p: &PodInfo| terms.iter().all(|t| t.matches(ns, p));
        if !all(pod) && !pods.clone().any(all) {
            return Err(Unfit::PodAffinity);
        }
    }
    for t in a.required_anti_affinity.iter().filter(on_host) {
        if pods.clone().any(|p| t.matches(ns, p)) {
            return Err(Unfit::PodAntiAffinity);
        }
    }
    for p in pods.filter(|p| has_required_anti_affinity(p)) {
        let terms = &p.constraints.pod_affinity.required_anti_affinity;
        if terms
            .iter()
            .filter(on_host)
            .any(|t| t.matches(&p.namespace, pod))
        {
            return Err(Unfit::ExistingPodsAntiAffinity);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Cases of upstream `filtering_test.go` (v1.37): `TestRequiredAffinitySingleNode`,
    //! `TestRequiredAffinityMultipleNodes`, `TestPreFilterStateAddRemovePod`.

    use super::*;
    use crate::scheduler::plugins::inter_pod_affinity::testing::*;
    use crate::scheduler::plugins::inter_pod_affinity::{AffinityTerm, PodAffinity};
    use kscale_model::LabelSelector;
    use kscale_model::SelectorOp::{DoesNotExist, Exists, In, NotIn};

    use Unfit::{
        ExistingPodsAntiAffinity as Existing, PodAffinity as Aff, PodAntiAffinity as Anti,
    };

    /// The filter's statuses on `nodes`, `None` when PreFilter skips the plugin.
    fn statuses(pod: &PodInfo, nodes: &[NodeInfo]) -> Option<Vec<Result<(), Unfit>>> {
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        let s = pre_filter(pod, &refs[..], None)?;
        Some(nodes.iter().map(|n| filter(pod, n, &s)).collect())
    }

    const NODE1: &[(&str, &str)] = &[("region", "r1"), ("zone", "z11")];

    /// One node (region r1, zone z11) holding `pods`.
    fn single(pod: &PodInfo, pods: Vec<PodInfo>) -> Option<Result<(), Unfit>> {
        statuses(pod, &[lnode("node1", NODE1, pods)]).map(|v| v[0])
    }

    fn securityscan() -> PodInfo {
        apod("", &[("service", "securityscan")], PodAffinity::default())
    }

    const S1: &[(&str, &str)] = &[("security", "S1")];
    const SCAN: &[(&str, &str)] = &[("service", "securityscan")];

    #[test]
    fn required_affinity_single_node() {
        let none = PodAffinity::default;
        // "A pod that has no required pod affinity scheduling rules can schedule onto a node
        // with no existing pods": skipped.
        assert_eq!(single(&apod("", &[], none()), vec![]), None);
        // "satisfies with requiredDuringSchedulingIgnoredDuringExecution in PodAffinity using
        // In operator that matches the existing pod"
        let in_region = || term("service", In, &["securityscan", "value2"], "region");
        let p = apod("", S1, required(vec![in_region()], vec![]));
        assert_eq!(single(&p, vec![securityscan()]), Some(Ok(())));
        // "... using not in operator in labelSelector that matches the existing pod"
        let t = term("service", NotIn, &["securityscan3", "value3"], "region");
        let p = apod("", S1, required(vec![t], vec![]));
        assert_eq!(single(&p, vec![securityscan()]), Some(Ok(())));
        // "Does not satisfy the PodAffinity with labelSelector because of diff Namespace"
        let mut t = term("service", In, &["securityscan", "value2"], "");
        t.namespaces = vec!["DiffNameSpace".into()];
        let p = apod("", S1, required(vec![t], vec![]));
        let other_ns = apod("ns", SCAN, none());
        assert_eq!(single(&p, vec![other_ns]), Some(Err(Aff)));
        // "Doesn't satisfy the PodAffinity because of unmatching labelSelector with the
        // existing pod"
        let t = term("service", In, &["antivirusscan", "value2"], "");
        let p = apod("", SCAN, required(vec![t], vec![]));
        assert_eq!(single(&p, vec![securityscan()]), Some(Err(Aff)));
        // "satisfies the PodAffinity with different label Operators in multiple
        // RequiredDuringSchedulingIgnoredDuringExecution"
        let exprs = |rs| AffinityTerm {
            selector: Some(LabelSelector {
                match_labels: Default::default(),
                match_expressions: rs,
            }),
            namespaces: vec![],
            namespace_selector: None,
            topology_key: "region".into(),
        };
        use crate::scheduler::testing::req;
        let t1 = exprs(vec![
            req("service", Exists, &[]),
            req("wrongkey", DoesNotExist, &[]),
        ]);
        let t2 = exprs(vec![
            req("service", In, &["securityscan"]),
            req("service", NotIn, &["WrongValue"]),
        ]);
        let p = apod("", S1, required(vec![t1.clone(), t2], vec![]));
        assert_eq!(single(&p, vec![securityscan()]), Some(Ok(())));
        // "The labelSelector requirements(items of matchExpressions) are ANDed, the pod cannot
        // schedule onto the node because one of the matchExpression item don't match."
        let t3 = exprs(vec![
            req("service", Exists, &[]),
            req("wrongkey", DoesNotExist, &[]),
            req("service", In, &["WrongValue"]),
        ]);
        let p = apod("", S1, required(vec![t1, t3], vec![]));
        assert_eq!(single(&p, vec![securityscan()]), Some(Err(Aff)));
        // "satisfies the PodAffinity and PodAntiAffinity with the existing pod"
        let anti_node = || term("service", In, &["antivirusscan", "value2"], "node");
        let p = apod("", S1, required(vec![in_region()], vec![anti_node()]));
        assert_eq!(single(&p, vec![securityscan()]), Some(Ok(())));
        // "... and PodAntiAffinity symmetry with the existing pod"
        let existing = apod("", SCAN, required(vec![], vec![anti_node()]));
        assert_eq!(single(&p, vec![existing]), Some(Ok(())));
        // "satisfies the PodAffinity but doesn't satisfy the PodAntiAffinity with the existing
        // pod"
        let anti_zone = || term("service", In, &["securityscan", "value2"], "zone");
        let p = apod("", S1, required(vec![in_region()], vec![anti_zone()]));
        assert_eq!(single(&p, vec![securityscan()]), Some(Err(Anti)));
        // "satisfies the PodAffinity and PodAntiAffinity but doesn't satisfy PodAntiAffinity
        // symmetry with the existing pod"
        let p = apod("", SCAN, required(vec![in_region()], vec![anti_node()]));
        let existing = apod("", SCAN, required(vec![], vec![anti_zone()]));
        assert_eq!(single(&p, vec![existing]), Some(Err(Existing)));
        // "pod matches its own Label in PodAffinity and that matches the existing pod Labels"
        // (the existing pod is on node2, which is not in the snapshot)
        let t = term("service", NotIn, &["securityscan", "value2"], "region");
        let p = apod("", SCAN, required(vec![t], vec![]));
        assert_eq!(single(&p, vec![]), Some(Err(Aff)));
        // "verify that PodAntiAffinity from existing pod is respected when pod has no
        // AntiAffinity constraints. doesn't satisfy PodAntiAffinity symmetry with the existing
        // pod"
        let p = apod("", SCAN, none());
        let existing = apod("", SCAN, required(vec![], vec![anti_zone()]));
        assert_eq!(single(&p, vec![existing]), Some(Err(Existing)));
        // "... satisfy PodAntiAffinity symmetry with the existing pod": skipped.
        let t = term("service", NotIn, &["securityscan", "value2"], "zone");
        let existing = apod("", SCAN, required(vec![], vec![t]));
        assert_eq!(single(&p, vec![existing]), None);
        // "satisfies the PodAntiAffinity with existing pod but doesn't satisfy PodAntiAffinity
        // symmetry with incoming pod"
        let exists = |k: &str, topology: &str| term(k, Exists, &[], topology);
        let p = apod(
            "",
            SCAN,
            required(
                vec![],
                vec![exists("service", "region"), exists("security", "region")],
            ),
        );
        let existing = apod("", S1, required(vec![], vec![exists("security", "zone")]));
        assert_eq!(single(&p, vec![existing]), Some(Err(Anti)));
        // "PodAntiAffinity symmetry check a1"
        let p = apod(
            "",
            SCAN,
            required(
                vec![],
                vec![exists("service", "zone"), exists("security", "zone")],
            ),
        );
        let existing = apod("", S1, required(vec![], vec![exists("security", "zone")]));
        assert_eq!(single(&p, vec![existing]), Some(Err(Anti)));
        // "PodAntiAffinity symmetry check a2"
        let p = apod("", S1, required(vec![], vec![exists("security", "zone")]));
        let existing = apod(
            "",
            SCAN,
            required(
                vec![],
                vec![exists("service", "zone"), exists("security", "zone")],
            ),
        );
        assert_eq!(single(&p, vec![existing]), Some(Err(Existing)));
        // "PodAntiAffinity symmetry check b1" and "b2"
        let both = || required(vec![], vec![exists("abc", "zone"), exists("def", "zone")]);
        let p = apod("", &[("abc", ""), ("xyz", "")], both());
        let existing = apod("", &[("def", ""), ("xyz", "")], both());
        assert_eq!(single(&p, vec![existing.clone()]), Some(Err(Anti)));
        let p = apod("", &[("def", ""), ("xyz", "")], both());
        let existing = apod("", &[("abc", ""), ("xyz", "")], both());
        assert_eq!(single(&p, vec![existing]), Some(Err(Anti)));
    }

    #[test]
    fn namespace_selectors() {
        // "anti-affinity with matching all NamespaceSelector": `{}` selects every namespace.
        let mut t = term("foo", In, &["bar"], "region");
        t.namespace_selector = Some(LabelSelector::default());
        let p = apod("subteam1.team1", &[], required(vec![], vec![t.clone()]));
        let other = apod("subteam2.team2", &[("foo", "bar")], PodAffinity::default());
        assert_eq!(single(&p, vec![other.clone()]), Some(Err(Anti)));
        // A selector on the namespace's name label.
        t.namespace_selector = Some(LabelSelector::from_labels(
            [(
                crate::scheduler::LABEL_METADATA_NAME.to_string(),
                "subteam2.team2".to_string(),
            )]
            .into(),
        ));
        let p = apod("subteam1.team1", &[], required(vec![], vec![t.clone()]));
        assert_eq!(single(&p, vec![other.clone()]), Some(Err(Anti)));
        // "anti-affinity with non-matching NamespaceSelector"
        t.namespace_selector = Some(LabelSelector::from_labels(
            [("team".to_string(), "team1".to_string())].into(),
        ));
        let p = apod("subteam1.team1", &[], required(vec![], vec![t]));
        assert_eq!(single(&p, vec![other]), Some(Ok(())));
    }

    #[test]
    fn required_affinity_multiple_nodes() {
        let china = &[("region", "China")][..];
        let china_az1 = &[("region", "China"), ("az", "az1")][..];
        let india = &[("region", "India")][..];
        let foo_bar = || apod("", &[("foo", "bar")], PodAffinity::default());
        // "A pod can be scheduled onto all the nodes that have the same topology key & label
        // value with one of them has an existing pod that matches the affinity rules"
        let p = apod(
            "",
            &[],
            required(vec![term("foo", In, &["bar"], "region")], vec![]),
        );
        let nodes = [
            lnode("node1", china, vec![foo_bar()]),
            lnode("node2", china_az1, vec![]),
            lnode("node3", india, vec![]),
        ];
        assert_eq!(statuses(&p, &nodes), Some(vec![Ok(()), Ok(()), Err(Aff)]));
        // "The affinity rule is to schedule all of the pods of this collection to the same
        // zone. The first pod of the collection should not be blocked from being scheduled
        // onto any node, even there's no existing pod that matches the rule anywhere."
        let collection = || {
            apod(
                "",
                &[("foo", "bar"), ("service", "securityscan")],
                required(
                    vec![
                        term("foo", In, &["bar"], "zone"),
                        term("service", In, &["securityscan"], "zone"),
                    ],
                    vec![],
                ),
            )
        };
        let nodes = [
            lnode(
                "nodeA",
                &[("zone", "az1"), ("hostname", "h1")],
                vec![foo_bar()],
            ),
            lnode("nodeB", &[("zone", "az2"), ("hostname", "h2")], vec![]),
        ];
        assert_eq!(statuses(&collection(), &nodes), Some(vec![Ok(()), Ok(())]));
        // "The first pod of the collection can only be scheduled on nodes labelled with the
        // requested topology keys"
        let nodes = [
            lnode(
                "nodeA",
                &[("zoneLabel", "az1"), ("hostname", "h1")],
                vec![foo_bar()],
            ),
            lnode("nodeB", &[("zoneLabel", "az2"), ("hostname", "h2")], vec![]),
        ];
        assert_eq!(
            statuses(&collection(), &nodes),
            Some(vec![Err(Aff), Err(Aff)])
        );
        // "NodeA and nodeB have same topologyKey and label value. NodeA has an existing pod
        // that matches the inter pod affinity rule. The pod can not be scheduled onto nodeA
        // and nodeB."
        let abc = || apod("", &[("foo", "abc")], PodAffinity::default());
        let p = apod(
            "",
            &[],
            required(vec![], vec![term("foo", In, &["abc"], "region")]),
        );
        let nodes = [
            lnode(
                "nodeA",
                &[("region", "r1"), ("hostname", "nodeA")],
                vec![abc()],
            ),
            lnode("nodeB", &[("region", "r1"), ("hostname", "nodeB")], vec![]),
        ];
        assert_eq!(statuses(&p, &nodes), Some(vec![Err(Anti), Err(Anti)]));
        // "... can be scheduled onto nodeC"
        let nodes = [
            lnode("nodeA", china, vec![abc()]),
            lnode("nodeB", china_az1, vec![]),
            lnode("nodeC", india, vec![]),
        ];
        assert_eq!(
            statuses(&p, &nodes),
            Some(vec![Err(Anti), Err(Anti), Ok(())])
        );
        // "... (NodeC has an existing pod that match the inter pod affinity rule but in
        // different namespace)"
        let p = apod(
            "NS1",
            &[("foo", "123")],
            required(vec![], vec![term("foo", In, &["bar"], "region")]),
        );
        let ns2 = apod(
            "NS2",
            &[],
            required(vec![], vec![term("foo", In, &["123"], "region")]),
        );
        let nodes = [
            lnode(
                "nodeA",
                china,
                vec![apod("NS1", &[("foo", "bar")], PodAffinity::default())],
            ),
            lnode("nodeB", china_az1, vec![]),
            lnode("nodeC", india, vec![ns2]),
        ];
        assert_eq!(
            statuses(&p, &nodes),
            Some(vec![Err(Anti), Err(Anti), Ok(())])
        );
        // "Test existing pod's anti-affinity: if an existing pod has a term with invalid
        // topologyKey, labelSelector of the term is firstly checked, and then topologyKey of
        // the term is also checked": skipped.
        let p = apod("", &[("foo", "")], PodAffinity::default());
        let existing = apod(
            "",
            &[],
            required(vec![], vec![term("foo", Exists, &[], "invalid-node-label")]),
        );
        let l = &[("region", "r1"), ("zone", "z1")][..];
        let nodes = [lnode("nodeA", l, vec![existing]), lnode("nodeB", l, vec![])];
        assert_eq!(statuses(&p, &nodes), None);
    }

    /// `TestPreFilterStateAddRemovePod`: a pod added and removed again leaves the state as it
    /// was; added, it blocks its domain.
    #[test]
    fn add_and_remove_pod() {
        let p = apod(
            "",
            &[("foo", "bar")],
            required(vec![], vec![term("foo", In, &["bar"], "zone")]),
        );
        let nodes = [
            lnode("nodeA", &[("zone", "z1"), ("hostname", "nodeA")], vec![]),
            lnode("nodeB", &[("zone", "z2"), ("hostname", "nodeB")], vec![]),
        ];
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        let before = pre_filter(&p, &refs[..], None).unwrap();
        let mut s = before.clone();
        let other = apod(
            "",
            &[("foo", "bar")],
            required(vec![], vec![term("foo", In, &["bar"], "zone")]),
        );
        s.update_with_pod(&other, &p, &nodes[0], 1);
        assert_eq!(filter(&p, &nodes[0], &s), Err(Anti));
        assert_eq!(filter(&p, &nodes[1], &s), Ok(()));
        s.update_with_pod(&other, &p, &nodes[0], -1);
        assert_eq!(s, before);
        assert_eq!(filter(&p, &nodes[0], &s), Ok(()));
    }

    /// The simulations' node-local check: hostname terms against the node's own pods.
    #[test]
    fn node_local_terms() {
        let host = |k: &str, v: &str| term(k, In, &[v], LABEL_HOSTNAME);
        let web = || {
            apod(
                "",
                &[("app", "web")],
                required(vec![], vec![host("app", "web")]),
            )
        };
        let n = lnode("n", &[], vec![web()]);
        assert_eq!(filter_on_node(&web(), n.pods.iter()), Err(Anti));
        // A plain pod the existing pod's anti-affinity selects.
        let plain = apod("", &[("app", "web")], PodAffinity::default());
        assert_eq!(filter_on_node(&plain, n.pods.iter()), Err(Existing));
        // Another app is welcome; zone-wide terms are not checked here.
        let api = apod(
            "",
            &[("app", "api")],
            required(vec![], vec![term("app", In, &["web"], "zone")]),
        );
        assert_eq!(filter_on_node(&api, n.pods.iter()), Ok(()));
        // Affinity: the first of a group that attracts itself goes anywhere, the others need
        // one of theirs on the node.
        let cache = |l: &str| {
            apod(
                "",
                &[("app", l)],
                required(vec![host("app", "cache")], vec![]),
            )
        };
        assert_eq!(filter_on_node(&cache("cache"), [].iter()), Ok(()));
        assert_eq!(filter_on_node(&cache("sidecar"), [].iter()), Err(Aff));
        let with_cache = lnode("m", &[], vec![cache("cache")]);
        assert_eq!(
            filter_on_node(&cache("sidecar"), with_cache.pods.iter()),
            Ok(())
        );
    }
}
