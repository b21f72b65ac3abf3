//! Disruption of `karpenter.sh/v1alpha5` Provisioners' nodes, shared by both backends: each
//! poll removes one node, an empty one past its Provisioner's `ttlSecondsAfterEmpty`, else
//! (with `consolidation.enabled`) one whose pods all fit on the other nodes, fewest pods first
//! (Karpenter before v0.32, pkg/controllers/deprovisioning: emptiness, then single-node
//! consolidation by deletion).

use std::collections::BTreeMap;

use kscale_controllers::scheduler::{NodeInfo, fits_with_extra};
use kscale_model::Resources;

use super::{DecisionRecord, MAX_CONSOLIDATION_CANDIDATES, PoolApi, PoolConfig, pool_label};

/// What Provisioner disruption remembers between polls.
#[derive(Debug, Clone, Default)]
pub struct ProvisionerDisruption {
    /// When each Provisioner node was first seen empty (run ms).
    empty_since: BTreeMap<String, u64>,
    /// The pods' placement revision at the last consolidation that found no candidate (it is
    /// simulated again only after a pod moved).
    checked: Option<u64>,
}

impl ProvisionerDisruption {
    /// The node to remove at `now_ms` and why (`Empty` or `Underutilized`), if any, over
    /// `nodes` (every node, in name order) and the Provisioners of `configs`; `placement` is a
    /// revision that changes whenever a pod is placed or leaves a node.
    pub fn victim<'a>(
        &mut self,
        now_ms: u64,
        configs: &[PoolConfig],
        nodes: &[&'a NodeInfo],
        placement: u64,
    ) -> Option<(&'a NodeInfo, &'static str)> {
        let mut victim = None;
        for cfg in configs.iter().filter(|c| c.api == PoolApi::Provisioner) {
            let label = pool_label(&cfg.api);
            let of_pool = |n: &NodeInfo| n.labels.get(label) == Some(&cfg.pool.name);
            for n in nodes.iter().copied().filter(|n| of_pool(n)) {
                if !n.pods.iter().all(|p| p.terminating) {
                    self.empty_since.remove(n.name.as_ref());
                    continue;
                }
                let since = *self.empty_since.entry(n.name.to_string()).or_insert(now_ms);
                if victim.is_none() && cfg.empty_after_ms.is_some_and(|ttl| now_ms - since >= ttl) {
                    victim = Some((n, "Empty"));
                }
            }
            if victim.is_none() && cfg.underutilized && self.checked != Some(placement) {
                victim = consolidation_candidate(nodes, &of_pool).map(|n| (n, "Underutilized"));
                if victim.is_none() {
                    self.checked = Some(placement);
                }
            }
            if victim.is_some() {
                break;
            }
        }
        victim
    }

    /// Node `name` was removed.
    pub fn removed(&mut self, name: &str) {
        self.empty_since.remove(name);
    }
}

/// The record of a Provisioner node's removal at `time_s` (`reason` as
/// [`ProvisionerDisruption::victim`] gave it), the node with its instance and capacity types
/// and hourly price.
pub fn decision(
    time_s: f64,
    reason: &'static str,
    (node, instance_type, capacity_type, price): (&str, &str, &str, f64),
) -> DecisionRecord {
    DecisionRecord {
        time: time_s,
        decision: "delete",
        reason,
        method: if reason == "Empty" { "empty" } else { "single" },
        nodes: vec![format!("{node} ({instance_type} {capacity_type})")],
        replacement: None,
        savings: price,
    }
}

/// A node of the pool (`of_pool`) whose pods all fit on the other Ready, schedulable nodes,
/// if any: fewest pods first, at most [`MAX_CONSOLIDATION_CANDIDATES`] tried.
fn consolidation_candidate<'a>(
    nodes: &[&'a NodeInfo],
    of_pool: &dyn Fn(&NodeInfo) -> bool,
) -> Option<&'a NodeInfo> {
    let mut candidates: Vec<&NodeInfo> = nodes
        .iter()
        .copied()
        .filter(|n| of_pool(n) && !n.unschedulable && !n.pods.is_empty())
        .collect();
    candidates.sort_by(|a, b| (a.pods.len(), &a.name).cmp(&(b.pods.len(), &b.name)));
    // The destinations by reference, with the requests of each candidate's trial placements
    // kept beside them (no copy of the cluster per poll).
    let others: Vec<&NodeInfo> = nodes
        .iter()
        .copied()
        .filter(|n| n.ready && !n.unschedulable)
        .collect();
    let mut extra = vec![Resources::ZERO; others.len()];
    for c in candidates.into_iter().take(MAX_CONSOLIDATION_CANDIDATES) {
        let mut placed: Vec<(usize, Resources)> = vec![];
        let ok = c.pods.iter().filter(|p| !p.terminating).all(|p| {
            let target = others
                .iter()
                .enumerate()
                .position(|(i, o)| o.name != c.name && fits_with_extra(p, o, &extra[i]).is_ok());
            match target {
                Some(i) => {
                    extra[i] += p.requests;
                    placed.push((i, p.requests));
                    true
                }
                None => false,
            }
        });
        for (i, r) in placed {
            extra[i] -= r;
        }
        if ok {
            return Some(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::karpenter::pool_configs;
    use kscale_controllers::scheduler::{PlacementConstraints, PodInfo};
    use kscale_model::SimTime;
    use kscale_model::labels::Labels;
    use serde_json::json;
    use std::sync::Arc;

    fn pod(id: u64, cpu: i64) -> PodInfo {
        PodInfo {
            id,
            namespace: Arc::from("default"),
            name: Arc::from(format!("p{id}").as_str()),
            labels: Arc::new(Labels::new()),
            requests: Resources {
                cpu_milli: cpu,
                memory: 0,
                pods: 1,
            },
            priority: 0,
            start_time: SimTime::ZERO,
            terminating: false,
            constraints: Arc::new(PlacementConstraints::default()),
            default_selector: None,
        }
    }

    /// A Ready node of 4 cores in Provisioner `pool` (if any) with pods of these CPU requests.
    fn node(name: &str, pool: Option<&str>, cpus: &[i64]) -> NodeInfo {
        let mut labels = Labels::new();
        if let Some(p) = pool {
            labels.insert("karpenter.sh/provisioner-name".into(), p.into());
        }
        let pods: Vec<PodInfo> = cpus
            .iter()
            .enumerate()
            .map(|(i, c)| pod(i as u64, *c))
            .collect();
        NodeInfo {
            name: Arc::from(name),
            labels: Arc::new(labels),
            taints: Arc::new(vec![]),
            unschedulable: false,
            ready: true,
            allocatable: Resources {
                cpu_milli: 4_000,
                memory: 1 << 40,
                pods: 110,
            },
            requested: pods.iter().fold(Resources::ZERO, |a, p| a + p.requests),
            pods,
            nominated: vec![],
        }
    }

    fn provisioner(spec: serde_json::Value) -> Vec<PoolConfig> {
        let v = json!({ "spec": spec });
        pool_configs([("Provisioner", "default", &v)].into_iter())
    }

    #[test]
    fn an_empty_node_goes_once_its_ttl_is_over() {
        let configs = provisioner(json!({"ttlSecondsAfterEmpty": 30}));
        let (a, b) = (
            node("a", Some("default"), &[]),
            node("b", Some("default"), &[500]),
        );
        let other = node("c", None, &[]);
        let nodes = [&a, &b, &other];
        let mut d = ProvisionerDisruption::default();
        assert!(d.victim(0, &configs, &nodes, 1).is_none());
        assert!(d.victim(29_999, &configs, &nodes, 1).is_none());
        let (v, why) = d.victim(30_000, &configs, &nodes, 1).unwrap();
        assert_eq!((v.name.as_ref(), why), ("a", "Empty"));
        // A pod arriving resets the clock.
        let a2 = node("a", Some("default"), &[100]);
        assert!(d.victim(31_000, &configs, &[&a2, &b], 2).is_none());
        assert!(d.victim(40_000, &configs, &[&a, &b], 3).is_none());
        assert!(d.victim(70_000, &configs, &[&a, &b], 3).is_some());
        d.removed("a");
        assert!(d.victim(70_000, &configs, &[&a, &b], 3).is_none());
    }

    #[test]
    fn consolidation_removes_the_node_whose_pods_fit_elsewhere_fewest_first() {
        let configs = provisioner(json!({"consolidation": {"enabled": true}}));
        let a = node("a", Some("default"), &[1_000, 1_000]);
        let b = node("b", Some("default"), &[3_500]);
        let c = node("c", Some("default"), &[1_000, 500]);
        let mut d = ProvisionerDisruption::default();
        // b has the fewest pods but its 3.5 cores fit nowhere; a's two pods fit on c (2.5
        // cores free).
        let (v, why) = d.victim(0, &configs, &[&a, &b, &c], 7).unwrap();
        assert_eq!((v.name.as_ref(), why), ("a", "Underutilized"));
        // Nothing fits: no candidate, and none is simulated again until a pod moves.
        let full = node("c", Some("default"), &[3_000]);
        assert!(d.victim(0, &configs, &[&a, &b, &full], 8).is_none());
        assert_eq!(d.checked, Some(8));
        assert!(d.victim(0, &configs, &[&a, &b, &c], 8).is_none());
        assert!(d.victim(0, &configs, &[&a, &b, &c], 9).is_some());
        // Nodes outside the pool are destinations, never candidates.
        let a = node("a", Some("default"), &[3_000]);
        let x = node("x", None, &[100]);
        let (v, _) = d.victim(0, &configs, &[&a, &x], 10).unwrap();
        assert_eq!(v.name.as_ref(), "a");
        let r = decision(12.5, "Underutilized", ("a", "m5.large", "spot", 0.04));
        assert_eq!((r.decision, r.method), ("delete", "single"));
        assert_eq!(r.nodes, ["a (m5.large spot)"]);
    }
}
