//! Karpenter provisioning decisions: pending pods → NodeClaims on the cheapest instance types.
//!
//! Follows kubernetes-sigs/karpenter `pkg/controllers/provisioning/scheduling/scheduler.go`
//! (`Solve`: pods sorted by CPU then memory descending; each pod goes to an in-flight or
//! already planned NodeClaim if it fits, else to a new NodeClaim from the highest-weight
//! NodePool whose template is compatible), `nodeclaim.go` (a NodeClaim keeps the *set* of
//! instance types still compatible with all its pods and narrows it per pod) and
//! `pkg/cloudprovider` (the launched type is the cheapest remaining offering). Pool `limits`
//! are checked against the capacity of the candidate instance types, as upstream does.
//!
//! Disruption decisions are in the submodules: [`candidates`] (which nodes are candidates, for
//! which method), [`budget`] (NodePool disruption budgets, with [`cron`] schedules),
//! [`emptiness`] (delete empty candidates), [`consolidation`] (delete or replace candidates)
//! and [`validation`] (a command re-checked before it runs).
//!
//! Compatibility is checked with the scheduler's own filter ([`crate::scheduler::fits`]) on a
//! hypothetical node built from the pool template and the offering's labels, so taints,
//! tolerations, node selectors and affinity behave exactly as they will on the real node.

pub mod budget;
pub mod candidates;
pub mod consolidation;
pub mod cron;
pub mod emptiness;
pub mod validation;

use std::sync::Arc;

use kscale_model::labels::Labels;
use kscale_model::{NodeSelectorRequirement, Resources, SelectorOp, Taint};

use crate::scheduler::{NodeInfo, PodInfo, fits, fits_beside};

/// One purchasable offering: an instance type in a capacity type (and zone).
#[derive(Clone, Debug, PartialEq)]
pub struct Offering {
    /// Instance type name.
    pub instance_type: String,
    /// `on-demand` or `spot`.
    pub capacity_type: String,
    /// Zone.
    pub zone: String,
    /// Capacity (what pool limits count).
    pub capacity: Resources,
    /// Allocatable (what pods can use).
    pub allocatable: Resources,
    /// Price, USD per hour.
    pub price: f64,
    /// Well-known labels the node will carry (instance type, capacity type, zone, arch, os, ...).
    pub labels: Labels,
}

/// A NodePool (or v1alpha5 Provisioner) as provisioning needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    /// Name.
    pub name: String,
    /// Weight (higher is tried first; unset = 0).
    pub weight: i32,
    /// `requirements` on node labels.
    pub requirements: Vec<NodeSelectorRequirement>,
    /// Taints of the template.
    pub taints: Vec<Taint>,
    /// Labels of the template.
    pub labels: Labels,
    /// `limits` (cpu, memory); `None` = unlimited.
    pub limits: Option<Resources>,
    /// Capacity already used by the pool's nodes and in-flight NodeClaims.
    pub usage: Resources,
    /// The requests of the DaemonSet pods that would run on the pool's nodes (Karpenter's
    /// `daemonOverhead`, added to every NodeClaim's requests when its instance types are
    /// chosen); their pod slots are not counted.
    pub daemon_overhead: Resources,
}

/// A NodeClaim decided by [`plan`].
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedClaim {
    /// Index into the pools slice.
    pub pool: usize,
    /// Index into the offerings slice: the cheapest offering compatible with all its pods.
    pub offering: usize,
    /// Every offering compatible with all its pods and within the pool's limits (the
    /// NodeClaim's instance type options).
    pub options: Vec<usize>,
    /// Pods planned onto it (ids).
    pub pods: Vec<u64>,
    /// Sum of their requests.
    pub requests: Resources,
}

/// Outcome of one provisioning pass.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// New NodeClaims to launch.
    pub claims: Vec<PlannedClaim>,
    /// Pods no pool can take, with the reason.
    pub unschedulable: Vec<(u64, String)>,
}

/// True if an offering satisfies every requirement of a pool. Requirements on keys the
/// offering does not describe are satisfied by the pool's own labels (they become node labels).
pub fn offering_matches(pool: &Pool, o: &Offering) -> bool {
    pool.requirements.iter().all(|r| {
        if o.labels.contains_key(&r.key) {
            r.matches(&o.labels)
        } else if let Some(v) = pool.labels.get(&r.key) {
            r.matches(&Labels::from([(r.key.clone(), v.clone())]))
        } else {
            // Keys neither side defines: only negative requirements hold (NotIn, DoesNotExist),
            // and single-valued In requirements, which Karpenter turns into node labels.
            matches!(r.op, SelectorOp::NotIn | SelectorOp::DoesNotExist)
                || (r.op == SelectorOp::In && !r.values.is_empty())
        }
    })
}

/// Labels a node launched from `pool` with offering `o` carries.
pub fn node_labels(pool: &Pool, o: &Offering) -> Labels {
    let mut l = o.labels.clone();
    for (k, v) in &pool.labels {
        l.insert(k.clone(), v.clone());
    }
    for r in &pool.requirements {
        if let (SelectorOp::In, Some(v)) = (r.op, r.values.first()) {
            l.entry(r.key.clone()).or_insert_with(|| v.clone());
        }
    }
    l
}

fn hypothetical(pool: &Pool, o: &Offering, requested: Resources) -> NodeInfo {
    NodeInfo {
        name: Arc::from(format!("{}/{}", pool.name, o.instance_type).as_str()),
        labels: node_labels(pool, o).into(),
        taints: pool.taints.clone().into(),
        unschedulable: false,
        ready: true,
        allocatable: o.allocatable,
        requested,
        pods: vec![],
        nominated: vec![],
    }
}

fn within_limits(pool: &Pool, planned: Resources, o: &Offering) -> bool {
    match &pool.limits {
        None => true,
        Some(l) => {
            let after = pool.usage + planned + o.capacity;
            (l.cpu_milli == 0 || after.cpu_milli <= l.cpu_milli)
                && (l.memory == 0 || after.memory <= l.memory)
        }
    }
}

struct Claim<'p> {
    pool: usize,
    types: Vec<usize>,
    pods: Vec<u64>,
    requests: Resources,
    /// The pods planned on it (InterPodAffinity's node-local terms read them,
    /// [`fits_beside`]).
    members: Vec<&'p PodInfo>,
    /// Some member has required anti-affinity terms.
    anti: bool,
}

/// Plans NodeClaims for `pods` (pods that fit no existing or in-flight node).
pub fn plan(pods: &[PodInfo], pools: &[Pool], offerings: &[Offering]) -> Plan {
    let pods: Vec<&PodInfo> = pods.iter().collect();
    plan_refs(&pods, pools, offerings)
}

/// [`plan`] over borrowed pods (the consolidation simulation plans pods it does not own).
pub fn plan_refs(pods: &[&PodInfo], pools: &[Pool], offerings: &[Offering]) -> Plan {
    plan_with(pods, pools, offerings, &compatibility(pools, offerings))
}

/// For each pool, the offerings its requirements admit ([`offering_matches`]), in order: a
/// function of the pools' requirements and labels and of the offerings (not of usage).
pub fn compatibility(pools: &[Pool], offerings: &[Offering]) -> Vec<Vec<usize>> {
    pools
        .iter()
        .map(|p| {
            (0..offerings.len())
                .filter(|i| offering_matches(p, &offerings[*i]))
                .collect()
        })
        .collect()
}

/// [`plan_refs`] with the pools' [`compatibility`] computed once for several plans.
pub fn plan_with(
    pods: &[&PodInfo],
    pools: &[Pool],
    offerings: &[Offering],
    compatible: &[Vec<usize>],
) -> Plan {
    plan_cached(
        pods,
        pools,
        offerings,
        compatible,
        &mut HypotheticalNodes::default(),
    )
}

/// The hypothetical node of each (pool, offering) a plan checks pods against, built when first
/// needed: one set can serve several plans over the same pools (names, requirements, labels and
/// taints; their usage may differ) and offerings, as a fit check sets the node's requests first.
#[derive(Debug, Default)]
pub struct HypotheticalNodes(Vec<Option<Box<NodeInfo>>>);

/// [`plan_with`] with hypothetical nodes kept from earlier plans over the same pools and
/// offerings.
pub fn plan_cached(
    pods: &[&PodInfo],
    pools: &[Pool],
    offerings: &[Offering],
    compatible: &[Vec<usize>],
    hypothetical_nodes: &mut HypotheticalNodes,
) -> Plan {
    let mut order: Vec<usize> = (0..pools.len()).collect();
    order.sort_by(|a, b| {
        pools[*b]
            .weight
            .cmp(&pools[*a].weight)
            .then_with(|| pools[*a].name.cmp(&pools[*b].name))
    });
    let mut sorted: Vec<&PodInfo> = pods.to_vec();
    sorted.sort_by(|a, b| {
        b.requests
            .cpu_milli
            .cmp(&a.requests.cpu_milli)
            .then(b.requests.memory.cmp(&a.requests.memory))
            .then(a.start_time.cmp(&b.start_time))
            .then(a.id.cmp(&b.id))
    });
    // The hypothetical node of each (pool, offering), built once per plan: a fit check only
    // sets its requests (building its name, labels and taints per check dominated the cost).
    let nodes = &mut hypothetical_nodes.0;
    debug_assert!(nodes.is_empty() || nodes.len() == pools.len() * offerings.len());
    nodes.resize(pools.len() * offerings.len(), None);
    let mut fits_on = |p: usize, t: usize, requested: Resources, pod: &PodInfo| {
        let n = nodes[p * offerings.len() + t].get_or_insert_with(|| {
            Box::new(hypothetical(&pools[p], &offerings[t], Resources::ZERO))
        });
        n.requested = requested + pools[p].daemon_overhead;
        fits(pod, n).is_ok()
    };
    let mut claims: Vec<Claim> = vec![];
    let mut planned_per_pool = vec![Resources::ZERO; pools.len()];
    let mut out = Plan::default();
    'pods: for pod in sorted {
        // Existing claims, fewest pods first.
        let mut idx: Vec<usize> = (0..claims.len()).collect();
        idx.sort_by_key(|i| (claims[*i].pods.len(), *i));
        let affine = pod.constraints.pod_affinity.has_required();
        let anti = !pod
            .constraints
            .pod_affinity
            .required_anti_affinity
            .is_empty();
        for i in idx {
            let c = &claims[i];
            if (affine || c.anti) && fits_beside(pod, &c.members).is_err() {
                continue;
            }
            let keep: Vec<usize> = c
                .types
                .iter()
                .copied()
                .filter(|t| fits_on(c.pool, *t, c.requests, pod))
                .collect();
            if !keep.is_empty() {
                let c = &mut claims[i];
                c.types = keep;
                c.pods.push(pod.id);
                c.requests += pod.requests;
                c.members.push(pod);
                c.anti |= anti;
                continue 'pods;
            }
        }
        // A new claim from the first compatible pool.
        let mut reason = String::from("no NodePool matched the pod");
        for &p in &order {
            let pool = &pools[p];
            let types: Vec<usize> = compatible[p]
                .iter()
                .copied()
                .filter(|t| fits_on(p, *t, Resources::ZERO, pod))
                .collect();
            if types.is_empty() {
                reason = format!(
                    "incompatible with nodepool \"{}\": no instance type satisfied the pod's requirements and resources",
                    pool.name
                );
                continue;
            }
            let within: Vec<usize> = types
                .iter()
                .copied()
                .filter(|t| within_limits(pool, planned_per_pool[p], &offerings[*t]))
                .collect();
            if within.is_empty() {
                reason = format!(
                    "all available instance types exceed limits for nodepool: \"{}\"",
                    pool.name
                );
                continue;
            }
            claims.push(Claim {
                pool: p,
                types: within,
                pods: vec![pod.id],
                requests: pod.requests,
                members: vec![pod],
                anti,
            });
            // Reserve the capacity of the cheapest candidate against the limits.
            let cheapest = cheapest(&claims.last().expect("pushed").types, offerings);
            planned_per_pool[p] += offerings[cheapest].capacity;
            continue 'pods;
        }
        out.unschedulable.push((pod.id, reason));
    }
    for c in claims {
        let offering = cheapest(&c.types, offerings);
        out.claims.push(PlannedClaim {
            pool: c.pool,
            offering,
            options: c.types,
            pods: c.pods,
            requests: c.requests,
        });
    }
    out
}

fn cheapest(types: &[usize], offerings: &[Offering]) -> usize {
    *types
        .iter()
        .min_by(|a, b| {
            let (x, y) = (&offerings[**a], &offerings[**b]);
            x.price
                .total_cmp(&y.price)
                .then_with(|| x.instance_type.cmp(&y.instance_type))
                .then_with(|| x.zone.cmp(&y.zone))
        })
        .expect("claims always keep at least one type")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::PlacementConstraints;
    use kscale_model::{SimTime, TaintEffect};

    fn offering(name: &str, cap: &str, cpu: i64, mem_gi: i64, price: f64) -> Offering {
        let mut labels = Labels::new();
        labels.insert("node.kubernetes.io/instance-type".into(), name.into());
        labels.insert("karpenter.sh/capacity-type".into(), cap.into());
        Offering {
            instance_type: name.into(),
            capacity_type: cap.into(),
            zone: "z1".into(),
            capacity: Resources {
                cpu_milli: cpu,
                memory: mem_gi << 30,
                pods: 110,
            },
            allocatable: Resources {
                cpu_milli: cpu - 70,
                memory: (mem_gi << 30) - (500 << 20),
                pods: 110,
            },
            price,
            labels,
        }
    }

    fn pod(id: u64, cpu: i64, mem_mi: i64) -> PodInfo {
        PodInfo {
            id,
            namespace: Arc::from("default"),
            name: Arc::from(format!("p{id}").as_str()),
            labels: Arc::new(Labels::new()),
            requests: Resources {
                cpu_milli: cpu,
                memory: mem_mi << 20,
                pods: 1,
            },
            priority: 0,
            start_time: SimTime(id),
            terminating: false,
            constraints: Arc::new(PlacementConstraints::default()),
            default_selector: None,
        }
    }

    fn pool(reqs: Vec<NodeSelectorRequirement>, limit_cpu: Option<i64>) -> Pool {
        Pool {
            name: "default".into(),
            weight: 0,
            requirements: reqs,
            taints: vec![],
            labels: Labels::new(),
            limits: limit_cpu.map(|c| Resources {
                cpu_milli: c,
                memory: 0,
                pods: 0,
            }),
            usage: Resources::ZERO,
            daemon_overhead: Resources::ZERO,
        }
    }

    fn catalog() -> Vec<Offering> {
        vec![
            offering("t3.small", "on-demand", 2000, 2, 0.0208),
            offering("t3.small", "spot", 2000, 2, 0.0073),
            offering("m5.large", "on-demand", 2000, 8, 0.096),
            offering("m5.xlarge", "on-demand", 4000, 16, 0.192),
        ]
    }

    fn req(key: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            op: SelectorOp::In,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn seed004_one_t3_small_per_one_cpu_pod() {
        // Seed 004: Provisioner restricted to on-demand t3.small; pods request 1 CPU / 500Mi,
        // so two pods cannot share a node (1930m allocatable): two claims.
        let p = pool(
            vec![
                req("karpenter.sh/capacity-type", &["on-demand"]),
                req("node.kubernetes.io/instance-type", &["t3.small"]),
            ],
            Some(1_000_000),
        );
        let plan = plan(&[pod(1, 1000, 500), pod(2, 1000, 500)], &[p], &catalog());
        assert_eq!(plan.claims.len(), 2);
        assert!(
            plan.claims
                .iter()
                .all(|c| c.offering == 0 && c.pods.len() == 1)
        );
        assert!(plan.unschedulable.is_empty());
    }

    #[test]
    fn kept_hypothetical_nodes_give_the_same_plans() {
        // Plans of different pod sets (and pool usage) sharing one set of hypothetical nodes
        // equal plans that build their own.
        let mut p = pool(vec![], Some(8_000));
        let cat = catalog();
        let compat = compatibility(std::slice::from_ref(&p), &cat);
        let mut kept = HypotheticalNodes::default();
        let sets = [
            vec![pod(1, 500, 256), pod(2, 500, 256)],
            vec![pod(3, 1500, 2048), pod(4, 3000, 512), pod(5, 100, 64)],
            vec![pod(6, 7000, 256)],
            vec![],
        ];
        for (k, set) in sets.iter().enumerate() {
            p.usage.cpu_milli = k as i64 * 1000;
            let refs: Vec<&PodInfo> = set.iter().collect();
            let pools = std::slice::from_ref(&p);
            assert_eq!(
                plan_cached(&refs, pools, &cat, &compat, &mut kept),
                plan_refs(&refs, pools, &cat)
            );
        }
    }

    #[test]
    fn bin_packs_and_picks_cheapest_type() {
        // Without requirements, small pods share one claim; the cheapest offering that holds
        // them all is chosen (spot t3.small holds two 500m pods).
        let plan = plan(
            &[pod(1, 500, 256), pod(2, 500, 256)],
            &[pool(vec![], None)],
            &catalog(),
        );
        assert_eq!(plan.claims.len(), 1);
        assert_eq!(plan.claims[0].pods, vec![1, 2]);
        assert_eq!(plan.claims[0].offering, 1, "spot t3.small is cheapest");
        // A pod needing 3 cores only fits m5.xlarge.
        let plan = plan_one(pod(3, 3000, 256));
        assert_eq!(plan.claims[0].offering, 3);
    }

    fn plan_one(p: PodInfo) -> Plan {
        plan(&[p], &[pool(vec![], None)], &catalog())
    }

    #[test]
    fn limits_stop_provisioning() {
        // Limit of 3 cores: the first 2-core node fits, the second would exceed it.
        let p = pool(
            vec![
                req("node.kubernetes.io/instance-type", &["t3.small"]),
                req("karpenter.sh/capacity-type", &["on-demand"]),
            ],
            Some(3000),
        );
        let plan = plan(&[pod(1, 1500, 100), pod(2, 1500, 100)], &[p], &catalog());
        assert_eq!(plan.claims.len(), 1);
        assert_eq!(plan.unschedulable.len(), 1);
        assert!(
            plan.unschedulable[0].1.contains("exceed limits"),
            "{:?}",
            plan.unschedulable
        );
    }

    #[test]
    fn taints_and_weights() {
        let mut tainted = pool(vec![], None);
        tainted.name = "gpu".into();
        tainted.weight = 10;
        tainted.taints = vec![Taint {
            key: "dedicated".into(),
            value: "gpu".into(),
            effect: TaintEffect::NoSchedule,
        }];
        let plain = pool(
            vec![req("karpenter.sh/capacity-type", &["on-demand"])],
            None,
        );
        // The higher-weight pool is tried first but its taint is not tolerated.
        let plan = plan(&[pod(1, 100, 100)], &[tainted, plain], &catalog());
        assert_eq!(plan.claims.len(), 1);
        assert_eq!(plan.claims[0].pool, 1);
        assert_eq!(plan.claims[0].offering, 0, "cheapest on-demand");
    }

    #[test]
    fn oversized_pod_is_unschedulable() {
        let plan = plan_one(pod(1, 64_000, 100));
        assert!(plan.claims.is_empty());
        assert_eq!(plan.unschedulable.len(), 1);
    }
}
