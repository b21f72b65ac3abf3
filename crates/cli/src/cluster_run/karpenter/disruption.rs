//! Karpenter's disruption on a `--cluster` run: NodePools' emptiness, multi-node and
//! single-node consolidation (delete, or replace with one cheaper node) under the pools'
//! disruption budgets, and v1alpha5 Provisioners' `ttlSecondsAfterEmpty` and consolidation,
//! over the real cluster's nodes and pods.
//!
//! The same decisions as the twin's (`kscale_twin::sim::karpenter_disruption`, after
//! kubernetes-sigs/karpenter pkg/controllers/disruption): a poll every 10 s from the first
//! provisioning batch on tries Emptiness → multi-node → single-node consolidation with
//! [`kscale_controllers::karpenter`]'s candidates, budgets and methods; a command is
//! re-validated 15 s later (`validation.go`), then its nodes get the `karpenter.sh/disrupted`
//! taint, a replacement is launched and, once it registered, the candidates' pods are deleted
//! (`Evicted pod: <reason>`) and the nodes terminated when their pods are gone (`queue.go`,
//! `termination`). A node's last pod event (its NodeClaim's `lastPodEventTime`) is when kscale
//! saw its pods change (bound, terminating, gone), at the run loop's resolution (250 ms).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use kscale_cluster::{ApiError, Cluster, Event, EventType, Patch};
use kscale_components::cluster_autoscaler::adapt;
use kscale_components::karpenter::dedupe::{BLOCKED_DEDUPE_MS, UNCONSOLIDATABLE_DEDUPE_MS};
use kscale_components::karpenter::disruption::{self, Gathered, Poll, Simulated};
use kscale_components::karpenter::provisioner::{self, ProvisionerDisruption};
use kscale_components::karpenter::{
    Command, DISRUPTED_TAINT, DISRUPTION_POLL_MS, DecisionRecord, Dedupe, PlannedReplacement,
    PoolApi, PoolConfig, TERMINATION_POLL_MS, VALIDATION_DELAY_MS, summary_json,
};
use kscale_controllers::karpenter::Offering;
use kscale_controllers::karpenter::budget::{self, Reason};
use kscale_controllers::karpenter::candidates::{
    self, NODEPOOL_LABEL, NodeFacts, PodFacts, PodsSummary,
};
use kscale_controllers::karpenter::consolidation::Candidate;
use kscale_controllers::karpenter::validation::Rejection;
use kscale_controllers::scheduler::{NodeInfo, PodInfo};
use kscale_kube::KubeCluster;
use kscale_kube::kubelet::Kubelets;
use kscale_model::labels::Labels;
use kscale_model::{Resources, SimTime};
use kscale_twin::sim::Sim;
use serde_json::{Value, json};

use super::{LiveKarpenter, unschedulable};
use crate::cluster_run::drain::{self, daemon_set};

/// Disruption state of the live Karpenter.
#[derive(Debug)]
pub(super) struct Disruption {
    /// Next poll (run ms); `u64::MAX` until the first provisioning batch.
    next_poll: u64,
    /// The command waiting for its validation, and when it is due.
    validating: Option<(u64, Command)>,
    /// Commands started (waiting for their replacement, or draining).
    running: Vec<Command>,
    /// Nodes marked for disruption.
    disrupting: BTreeSet<String>,
    /// Node → (fingerprint of its pods, last time they changed).
    pod_events: BTreeMap<String, (u64, u64)>,
    /// Fingerprint of the cluster at the last poll that found nothing, valid until.
    consolidated: Option<(u64, u64)>,
    /// Last publication of each deduplicated event.
    dedupe: Dedupe,
    /// Draining nodes: name → (uid, next check).
    terminating: BTreeMap<String, (String, u64)>,
    /// v1alpha5 Provisioners' disruption (its placement revision: the cluster's fingerprint).
    provisioners: ProvisionerDisruption,
    decisions: Vec<DecisionRecord>,
    rejected: u64,
    disrupted: u64,
}

impl Default for Disruption {
    fn default() -> Self {
        Disruption {
            next_poll: u64::MAX,
            validating: None,
            running: vec![],
            disrupting: BTreeSet::new(),
            pod_events: BTreeMap::new(),
            consolidated: None,
            dedupe: Dedupe::default(),
            terminating: BTreeMap::new(),
            provisioners: ProvisionerDisruption::default(),
            decisions: vec![],
            rejected: 0,
            disrupted: 0,
        }
    }
}

impl Disruption {
    /// Polling starts `DISRUPTION_POLL_MS` after the first provisioning batch opened.
    pub(super) fn start_polling(&mut self, t: u64) {
        if self.next_poll == u64::MAX {
            self.next_poll = t + DISRUPTION_POLL_MS;
        }
    }

    /// The `karpenter` section of summary.json (the twin's form).
    pub(super) fn summary(&self, launches: u64) -> Value {
        summary_json(launches, self.disrupted, &self.decisions, self.rejected)
    }

    /// Notes which nodes' pods changed since the last call (their last pod event is `t`).
    fn observe(&mut self, t: u64, nodes: &[Node], pods: &[Pod]) {
        let mut per_node: BTreeMap<&str, DefaultHasher> = BTreeMap::new();
        for p in pods {
            if let Some(n) = p.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
                let h = per_node.entry(n).or_default();
                p.metadata.uid.hash(h);
                p.metadata.deletion_timestamp.is_some().hash(h);
            }
        }
        let mut seen = BTreeMap::new();
        for n in nodes {
            let name = n.metadata.name.clone().unwrap_or_default();
            let print = per_node.get(name.as_str()).map_or(0, |h| h.finish());
            let at = match self.pod_events.get(&name) {
                Some((p, at)) if *p == print => *at,
                _ => t,
            };
            seen.insert(name, (print, at));
        }
        self.pod_events = seen;
    }
}

/// A node as disruption reads it.
struct LiveNode {
    name: String,
    uid: String,
    info: NodeInfo,
    /// Index into the configs of its NodePool.
    pool: Option<usize>,
    do_not_disrupt: bool,
    age_ms: u64,
    instance_type: String,
    capacity_type: String,
    price: f64,
    capacity: Resources,
    /// Per pod of `info.pods`: (owned by a DaemonSet, terminating, annotations).
    facts: Vec<(bool, bool, Labels)>,
}

/// The cluster as a poll sees it.
struct View {
    nodes: Vec<LiveNode>,
    /// Unschedulable pods not nominated to an in-flight claim.
    pending: Vec<PodInfo>,
    /// In-flight claims as uninitialized nodes.
    in_flight: Vec<NodeInfo>,
    uninitialized: BTreeSet<Arc<str>>,
}

impl View {
    /// What consolidation simulates beyond the gathered destinations, launching on
    /// `offerings`.
    fn simulated(&self, offerings: Arc<Vec<Offering>>) -> Simulated {
        Simulated {
            offerings,
            pending: self.pending.clone(),
            in_flight: self.in_flight.clone(),
            uninitialized: self.uninitialized.clone(),
            compatible: None,
        }
    }
}

fn event(kind: &str, namespace: &str, name: &str, reason: &str, message: String) -> Event {
    Event {
        type_: EventType::Normal,
        reason: reason.into(),
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
        message,
        source: "karpenter".into(),
    }
}

/// The cluster's fingerprint for "nothing changed since a poll that found nothing" (upstream
/// `IsConsolidated`): pods' placement and termination, nodes' readiness, cordon and taints.
fn fingerprint(nodes: &[Node], pods: &[Pod]) -> u64 {
    let mut h = DefaultHasher::new();
    for n in nodes {
        n.metadata.name.hash(&mut h);
        n.metadata.uid.hash(&mut h);
        kscale_cluster::node_ready(n).hash(&mut h);
        let spec = n.spec.as_ref();
        spec.and_then(|s| s.unschedulable).hash(&mut h);
        for t in spec.and_then(|s| s.taints.as_ref()).into_iter().flatten() {
            (&t.key, &t.effect).hash(&mut h);
        }
    }
    for p in pods {
        p.metadata.uid.hash(&mut h);
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .hash(&mut h);
        p.metadata.deletion_timestamp.is_some().hash(&mut h);
    }
    h.finish()
}

impl LiveKarpenter {
    fn unix_ms(&self, t: u64) -> i64 {
        self.start_unix_ms + t as i64
    }

    /// One disruption step at run time `t`: nodes drained of their pods terminate, a due
    /// command is validated, and a due poll runs.
    pub(super) fn disrupt(
        &mut self,
        kc: &mut KubeCluster,
        t: u64,
        sim: &mut Sim,
        kubelets: &mut Kubelets,
        nodes: &[Node],
        pods: &[Pod],
    ) -> Result<(), ApiError> {
        self.disruption.observe(t, nodes, pods);
        self.finish_terminations(kc, t, kubelets, nodes, pods)?;
        if self
            .disruption
            .validating
            .as_ref()
            .is_some_and(|(due, _)| *due <= t)
        {
            let (_, cmd) = self.disruption.validating.take().expect("checked");
            let configs = self.pools(kc)?;
            let offerings = self.available_offerings(t);
            let view = self.view(t, &configs, nodes, pods);
            match self.revalidate(&configs, &view, &cmd, t, &offerings) {
                Ok(()) => {
                    self.start_command(kc, t, sim, &configs, cmd, pods)?;
                    self.disruption.next_poll = t;
                    // The taint and the evictions change the cluster: read it again next tick.
                    return Ok(());
                }
                Err(why) => {
                    self.disruption.rejected += 1;
                    if cmd.reason == Reason::Underutilized {
                        for (node, ..) in &cmd.nodes {
                            let msg = format!(
                                "Consolidation rejected: {}, reason: {} (savings: ${:.2})",
                                cmd.describe(),
                                why.as_str(),
                                cmd.savings
                            );
                            self.node_and_claim_event(kc, "ConsolidationRejected", node, msg);
                        }
                    }
                    self.disruption.next_poll = t + DISRUPTION_POLL_MS;
                }
            }
        }
        if self.disruption.validating.is_some() || t < self.disruption.next_poll {
            return Ok(());
        }
        self.disruption.next_poll = t + DISRUPTION_POLL_MS;
        self.poll(kc, t, kubelets, nodes, pods)
    }

    /// What a poll reads: the nodes with their pods, the pending pods and the in-flight claims.
    fn view(&self, t: u64, configs: &[PoolConfig], nodes: &[Node], pods: &[Pod]) -> View {
        let now = jiff::Timestamp::now();
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        let mut out: Vec<LiveNode> = Vec::with_capacity(nodes.len());
        for n in nodes {
            let name = n.metadata.name.clone().unwrap_or_default();
            let labels = n.metadata.labels.clone().unwrap_or_default();
            let pool = labels.get(NODEPOOL_LABEL).and_then(|p| {
                configs
                    .iter()
                    .position(|c| c.api == PoolApi::NodePool && c.pool.name == *p)
            });
            let offering = self.offering_of(n);
            let age_ms = n
                .metadata
                .creation_timestamp
                .as_ref()
                .map_or(0, |c| now.duration_since(c.0).as_millis().max(0) as u64);
            index.insert(n.metadata.name.as_deref().unwrap_or(""), out.len());
            out.push(LiveNode {
                uid: n.metadata.uid.clone().unwrap_or_default(),
                info: adapt::node_info(n),
                pool,
                do_not_disrupt: candidates::do_not_disrupt(
                    &n.metadata.annotations.clone().unwrap_or_default(),
                ),
                age_ms,
                instance_type: labels
                    .get("node.kubernetes.io/instance-type")
                    .cloned()
                    .unwrap_or_default(),
                capacity_type: labels
                    .get("karpenter.sh/capacity-type")
                    .cloned()
                    .unwrap_or_default(),
                price: offering.map_or(0.0, |o| o.price),
                capacity: offering.map_or(Resources::ZERO, |o| o.capacity),
                facts: vec![],
                name,
            });
        }
        let mut pending = vec![];
        for (id, p) in pods.iter().enumerate() {
            let terminal = p
                .status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .is_some_and(|ph| ph == "Succeeded" || ph == "Failed");
            if terminal {
                continue;
            }
            let info = adapt::pod_info(p, id as u64, SimTime::ZERO);
            match p.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
                Some(node) => {
                    if let Some(i) = index.get(node) {
                        let n = &mut out[*i];
                        n.info.requested += info.requests;
                        n.info.pods.push(info);
                        n.facts.push((
                            daemon_set(p),
                            p.metadata.deletion_timestamp.is_some(),
                            p.metadata.annotations.clone().unwrap_or_default(),
                        ));
                    }
                }
                None => {
                    let uid = p.metadata.uid.as_deref().unwrap_or("");
                    let nominated = self
                        .ids
                        .get(uid)
                        .is_some_and(|id| self.provisioning.is_nominated(*id, t));
                    if unschedulable(p) && !nominated {
                        pending.push(info);
                    }
                }
            }
        }
        let mut uninitialized = BTreeSet::new();
        let in_flight = self
            .provisioning
            .in_flight()
            .iter()
            .filter_map(|f| {
                let c = configs.iter().find(|c| c.pool.name == f.pool)?;
                let name: Arc<str> = Arc::from(f.claim.as_str());
                uninitialized.insert(name.clone());
                Some(f.node_view(c, name))
            })
            .collect();
        View {
            nodes: out,
            pending,
            in_flight,
            uninitialized,
        }
    }

    /// Candidates of every NodePool, the budgets' inputs and the simulation's destinations
    /// (candidates in consolidation order with `ordered`, else in name order).
    fn gather<'a>(
        &self,
        configs: &[PoolConfig],
        view: &'a View,
        t: u64,
        ordered: bool,
    ) -> Gathered<'a> {
        let now = SimTime(t);
        let mut g = Gathered::new(configs);
        let d = &self.disruption;
        for n in &view.nodes {
            let disrupting = d.disrupting.contains(&n.name);
            let mut destination = None;
            if n.info.ready && !n.info.unschedulable && !disrupting {
                destination = Some(g.destinations.len());
                g.destinations.push(&n.info);
            }
            let Some(pi) = n.pool else {
                continue;
            };
            let cfg = &configs[pi];
            g.counts[pi].0 += 1;
            let facts = NodeFacts {
                ready: n.info.ready,
                disrupting,
                do_not_disrupt: n.do_not_disrupt,
                last_pod_event: SimTime(d.pod_events.get(&n.name).map_or(0, |(_, at)| *at)),
            };
            let policy = cfg.disruption();
            let screened = candidates::screen_node(&facts, &policy, now).and_then(|()| {
                let summary = PodsSummary::of(&n.info.pods, |p| {
                    let i = n.info.pods.iter().position(|x| x.id == p.id)?;
                    let (daemon_set, terminating, annotations) = &n.facts[i];
                    Some(PodFacts {
                        daemon_set: *daemon_set,
                        terminating: *terminating,
                        annotations,
                        priority: p.priority,
                    })
                });
                candidates::screen_pods(&summary, &policy).map(|r| (r, summary))
            });
            let (reason, summary) = match screened {
                Ok(s) => s,
                Err(why) => {
                    g.not_a_candidate(pi, &n.name, &cfg.pool.name, why);
                    continue;
                }
            };
            let disruption_cost = summary.candidate_disruption_cost(n.age_ms, cfg.expire_after_ms);
            let reschedule_cost = summary.reschedule_cost;
            let c = Candidate {
                node: &n.name,
                pool: pi,
                instance_type: &n.instance_type,
                capacity_type: &n.capacity_type,
                price: n.price,
                capacity: n.capacity,
                pods: summary.into_candidate_pods(&n.info.pods),
                disruption_cost,
                reschedule_cost,
                destination,
            };
            match reason {
                Reason::Empty => g.empty.push(c),
                _ => g.underutilized.push(c),
            }
        }
        if ordered {
            g.order();
        }
        g
    }

    /// One poll: Emptiness, then multi-node, then single-node consolidation; the first command
    /// found waits for its validation.
    fn poll(
        &mut self,
        kc: &mut KubeCluster,
        t: u64,
        kubelets: &mut Kubelets,
        nodes: &[Node],
        pods: &[Pod],
    ) -> Result<(), ApiError> {
        let print = fingerprint(nodes, pods);
        let configs = self.pools(kc)?;
        let provisioners = configs.iter().any(|c| c.api == PoolApi::Provisioner);
        if provisioners {
            let view = self.view(t, &configs, nodes, pods);
            if self.provisioner_disruption(kc, t, kubelets, &configs, &view, pods, print)? {
                return Ok(());
            }
        }
        if self
            .disruption
            .consolidated
            .is_some_and(|(p, until)| p == print && t < until)
        {
            return Ok(());
        }
        if !configs.iter().any(|c| c.api == PoolApi::NodePool) {
            return Ok(());
        }
        let view = self.view(t, &configs, nodes, pods);
        let g = self.gather(&configs, &view, t, true);
        let unix = self.unix_ms(t);
        let Poll {
            counts,
            unconsolidatable,
            next_eligible,
            blocked,
            rejected,
            command,
            constrained,
        } = disruption::decide(
            &configs,
            &g,
            unix,
            || view.simulated(self.available_offerings(t)),
            |node| {
                view.nodes
                    .iter()
                    .find(|n| n.name == node)
                    .map(|n| n.uid.clone())
                    .unwrap_or_default()
            },
        );
        drop(g);
        for (node, msg) in unconsolidatable.into_iter().chain(rejected) {
            if self.disruption.dedupe.publish(
                "Unconsolidatable",
                &node,
                t,
                UNCONSOLIDATABLE_DEDUPE_MS,
            ) {
                self.node_and_claim_event(kc, "Unconsolidatable", &node, msg);
            }
        }
        for reason in blocked {
            for (c, (n, _)) in configs.iter().zip(&counts) {
                if *n > 0
                    && budget::allowed_by_reason(&c.budgets, reason, unix, *n) == 0
                    && self.disruption.dedupe.publish(
                        "DisruptionBlocked",
                        &format!("{}/{reason:?}", c.pool.name),
                        t,
                        BLOCKED_DEDUPE_MS,
                    )
                {
                    kc.event(event(
                        "NodePool",
                        "",
                        &c.pool.name,
                        "DisruptionBlocked",
                        format!(
                            "No allowed disruptions for disruption reason {} due to blocking budget",
                            reason.as_str()
                        ),
                    ));
                }
            }
        }
        if let Some(cmd) = command {
            if cmd.replacement.is_some() {
                for (node, ..) in &cmd.nodes {
                    let msg = format!(
                        "Consolidation candidate: {} (savings: ${:.2})",
                        cmd.describe(),
                        cmd.savings
                    );
                    self.node_and_claim_event(kc, "ConsolidationCandidate", node, msg);
                }
            }
            self.disruption.validating = Some((t + VALIDATION_DELAY_MS, cmd));
            return Ok(());
        }
        if !constrained {
            let mut until = next_eligible.map_or(u64::MAX, |s| s.as_millis());
            if configs
                .iter()
                .any(|c| c.budgets.iter().any(|b| b.schedule.is_some()))
            {
                // A scheduled budget may change at the next minute.
                until = until.min((t / 60_000 + 1) * 60_000);
            }
            self.disruption.consolidated = Some((print, until));
        }
        Ok(())
    }

    /// v1alpha5 Provisioners, as the twin's `provisioner_disruption`: removes one node empty
    /// for its Provisioner's `ttlSecondsAfterEmpty`, or, with `consolidation.enabled`, one
    /// node whose pods all fit on the other nodes (fewest pods first, at most
    /// `MAX_CONSOLIDATION_CANDIDATES` tried, not again while the cluster is unchanged). The
    /// node is cordoned, its pods evicted as `kubectl drain --force` does, and it is removed
    /// at once. True if it removed one.
    #[allow(clippy::too_many_arguments)]
    fn provisioner_disruption(
        &mut self,
        kc: &mut KubeCluster,
        t: u64,
        kubelets: &mut Kubelets,
        configs: &[PoolConfig],
        view: &View,
        pods: &[Pod],
        print: u64,
    ) -> Result<bool, ApiError> {
        let infos: Vec<&NodeInfo> = view.nodes.iter().map(|n| &n.info).collect();
        let Some((victim, reason)) = self
            .disruption
            .provisioners
            .victim(t, configs, &infos, print)
        else {
            return Ok(false);
        };
        let Some(node) = view.nodes.iter().find(|n| *n.name == *victim.name) else {
            return Ok(false);
        };
        let name = node.name.clone();
        kc.event(event(
            "Node",
            "",
            &name,
            "DisruptionTerminating",
            format!("Disrupting Node: {reason}/Delete"),
        ));
        self.disruption.disrupted += 1;
        self.disruption.decisions.push(provisioner::decision(
            t as f64 / 1000.0,
            reason,
            (&name, &node.instance_type, &node.capacity_type, node.price),
        ));
        drain::cordon(kc, &name)?;
        drain::evict_pods(kc, pods, &name, "Evicted by kubectl drain", "kubectl")?;
        self.disruption.provisioners.removed(&name);
        kubelets.deregister(kc, &name)?;
        self.claims.remove(&name);
        Ok(true)
    }

    /// The command's validation over the current cluster (`validation.go`).
    fn revalidate(
        &self,
        configs: &[PoolConfig],
        view: &View,
        cmd: &Command,
        t: u64,
        offerings: &Arc<Vec<Offering>>,
    ) -> Result<(), Rejection> {
        let g = self.gather(configs, view, t, false);
        disruption::revalidate(
            configs,
            &g,
            cmd,
            self.unix_ms(t),
            |name, uid| view.nodes.iter().any(|n| n.name == name && n.uid == uid),
            || view.simulated(offerings.clone()),
        )
    }

    /// Starts a validated command: taints its nodes, then launches its replacement (the
    /// candidates terminate once it registered) or terminates them now.
    fn start_command(
        &mut self,
        kc: &mut KubeCluster,
        t: u64,
        sim: &mut Sim,
        configs: &[PoolConfig],
        mut cmd: Command,
        pods: &[Pod],
    ) -> Result<(), ApiError> {
        for (node, ..) in &cmd.nodes {
            self.disruption.disrupting.insert(node.clone());
            let Some(n) = kc.get::<Node>("", node)? else {
                continue;
            };
            let mut taints: Vec<Value> = n
                .spec
                .iter()
                .flat_map(|s| s.taints.iter().flatten())
                .filter(|t| t.key != DISRUPTED_TAINT)
                .map(|t| serde_json::to_value(t).unwrap_or_default())
                .collect();
            taints.push(json!({"key": DISRUPTED_TAINT, "effect": "NoSchedule"}));
            match kc.patch::<Node>("", node, &Patch::Merge(json!({"spec": {"taints": taints}}))) {
                Ok(_) | Err(ApiError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let record = DecisionRecord {
            time: t as f64 / 1000.0,
            decision: cmd.decision(),
            reason: cmd.reason.as_str(),
            method: cmd.method,
            nodes: cmd
                .nodes
                .iter()
                .map(|n| format!("{} ({} {})", n.0, n.2, n.3))
                .collect(),
            replacement: cmd
                .replacement
                .as_ref()
                .map(|r| format!("{} {}", r.offering.instance_type, r.offering.capacity_type)),
            savings: cmd.savings,
        };
        match cmd.replacement.clone() {
            Some(PlannedReplacement {
                pool,
                offering,
                requests,
            }) => {
                let Some(cfg) = configs.iter().find(|c| c.pool.name == pool).cloned() else {
                    return self.abort_command(kc, &cmd);
                };
                let claim = format!("{pool}-{}", sim.rng.names.name_suffix(5));
                if !self.launch(kc, t, sim, claim.clone(), &cfg, offering, requests) {
                    return self.abort_command(kc, &cmd);
                }
                let reason = cmd.reason.as_str();
                kc.event(event(
                    "NodeClaim",
                    "",
                    &claim,
                    "DisruptionLaunching",
                    format!("Launching NodeClaim: {reason}"),
                ));
                kc.event(event(
                    "NodeClaim",
                    "",
                    &claim,
                    "DisruptionWaitingReadiness",
                    "Waiting on readiness to continue disruption".into(),
                ));
                cmd.claim = Some(claim);
            }
            None => self.terminate_candidates(kc, t, &cmd, pods)?,
        }
        self.disruption.decisions.push(record);
        self.disruption.running.push(cmd);
        Ok(())
    }

    /// Un-marks a command's nodes (its replacement could not be launched): the disrupted
    /// taint comes off.
    fn abort_command(&mut self, kc: &mut KubeCluster, cmd: &Command) -> Result<(), ApiError> {
        for (node, ..) in &cmd.nodes {
            self.disruption.disrupting.remove(node);
            let Some(n) = kc.get::<Node>("", node)? else {
                continue;
            };
            let taints: Vec<Value> = n
                .spec
                .iter()
                .flat_map(|s| s.taints.iter().flatten())
                .filter(|t| t.key != DISRUPTED_TAINT)
                .map(|t| serde_json::to_value(t).unwrap_or_default())
                .collect();
            match kc.patch::<Node>("", node, &Patch::Merge(json!({"spec": {"taints": taints}}))) {
                Ok(_) | Err(ApiError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// A NodeClaim registered: a command waiting for it as its replacement terminates its
    /// candidates.
    pub(super) fn replacement_ready(
        &mut self,
        kc: &mut KubeCluster,
        t: u64,
        claim: &str,
        pods: &[Pod],
    ) -> Result<(), ApiError> {
        let Some(cmd) = self
            .disruption
            .running
            .iter()
            .find(|c| c.claim.as_deref() == Some(claim))
            .cloned()
        else {
            return Ok(());
        };
        self.terminate_candidates(kc, t, &cmd, pods)
    }

    /// Deletes the candidates' NodeClaims: events, deletion of their pods, then termination
    /// once the pods are gone.
    fn terminate_candidates(
        &mut self,
        kc: &mut KubeCluster,
        t: u64,
        cmd: &Command,
        pods: &[Pod],
    ) -> Result<(), ApiError> {
        let reason = cmd.reason.as_str();
        for (node, uid, ..) in &cmd.nodes {
            let current = kc
                .get::<Node>("", node)?
                .is_some_and(|n| n.metadata.uid.as_deref() == Some(uid.as_str()));
            if !current {
                self.disruption.disrupting.remove(node);
                continue;
            }
            kc.event(event(
                "Node",
                "",
                node,
                "DisruptionTerminating",
                format!("Disrupting Node: {reason}"),
            ));
            if let Some(claim) = self.claims.get(node).cloned() {
                kc.event(event(
                    "NodeClaim",
                    "",
                    &claim,
                    "DisruptionTerminating",
                    format!("Disrupting NodeClaim: {reason}"),
                ));
            }
            self.disruption.disrupted += 1;
            drain::evict_pods(
                kc,
                pods,
                node,
                &format!("Evicted pod: {reason}"),
                "karpenter",
            )?;
            self.disruption
                .terminating
                .insert(node.clone(), (uid.clone(), t));
        }
        Ok(())
    }

    /// Draining nodes whose pods are gone terminate (checked every second, as in the twin).
    fn finish_terminations(
        &mut self,
        kc: &mut KubeCluster,
        t: u64,
        kubelets: &mut Kubelets,
        nodes: &[Node],
        pods: &[Pod],
    ) -> Result<(), ApiError> {
        let due: Vec<(String, String)> = self
            .disruption
            .terminating
            .iter()
            .filter(|(_, (_, at))| *at <= t)
            .map(|(n, (uid, _))| (n.clone(), uid.clone()))
            .collect();
        for (node, uid) in due {
            let current = nodes.iter().any(|n| {
                n.metadata.name.as_deref() == Some(node.as_str())
                    && n.metadata.uid.as_deref() == Some(uid.as_str())
            });
            if current {
                let busy = pods.iter().any(|p| {
                    p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node.as_str())
                        && !daemon_set(p)
                        && p.metadata.deletion_timestamp.is_some()
                });
                if busy {
                    self.disruption
                        .terminating
                        .insert(node, (uid, t + TERMINATION_POLL_MS));
                    continue;
                }
                kubelets.deregister(kc, &node)?;
            }
            let d = &mut self.disruption;
            d.terminating.remove(&node);
            d.disrupting.remove(&node);
            self.claims.remove(&node);
            let disrupting = &d.disrupting;
            d.running
                .retain(|c| c.nodes.iter().any(|(n, ..)| disrupting.contains(n)));
        }
        Ok(())
    }

    /// Emits an event on a node and on its NodeClaim, as upstream's disruption events do.
    fn node_and_claim_event(&self, kc: &mut KubeCluster, reason: &str, node: &str, msg: String) {
        kc.event(event("Node", "", node, reason, msg.clone()));
        if let Some(claim) = self.claims.get(node) {
            kc.event(event("NodeClaim", "", claim, reason, msg));
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use serde_json::json;

    use super::*;

    fn node(name: &str) -> Node {
        serde_json::from_value(json!({"metadata": {"name": name, "uid": format!("uid-{name}")}}))
            .unwrap()
    }

    fn pod(uid: &str, node: &str) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": uid, "uid": uid},
                                      "spec": {"nodeName": node, "containers": []}}))
        .unwrap()
    }

    fn last_event(d: &Disruption, node: &str) -> u64 {
        d.pod_events[node].1
    }

    /// A node's last pod event is when its pods were last seen to change: a pod bound, one
    /// terminating, one gone; pods on other nodes do not count.
    #[test]
    fn last_pod_event_follows_the_nodes_pods() {
        let nodes = [node("a"), node("b")];
        let mut d = Disruption::default();
        let mut pods = vec![pod("p1", "a")];
        d.observe(1_000, &nodes, &pods);
        assert_eq!((last_event(&d, "a"), last_event(&d, "b")), (1_000, 1_000));
        d.observe(2_000, &nodes, &pods);
        assert_eq!(last_event(&d, "a"), 1_000, "nothing changed");
        pods.push(pod("p2", "a"));
        d.observe(3_000, &nodes, &pods);
        assert_eq!((last_event(&d, "a"), last_event(&d, "b")), (3_000, 1_000));
        pods[0].metadata.deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH));
        d.observe(4_000, &nodes, &pods);
        assert_eq!(last_event(&d, "a"), 4_000, "a pod terminating is an event");
        pods.remove(0);
        d.observe(5_000, &nodes, &pods);
        assert_eq!(last_event(&d, "a"), 5_000, "a pod gone is an event");
        d.observe(6_000, &nodes[..1], &pods);
        assert!(!d.pod_events.contains_key("b"), "a node gone is forgotten");
    }

    /// The cluster's fingerprint moves with a pod's placement or termination and a node's taints.
    #[test]
    fn the_fingerprint_moves_with_placement_and_taints() {
        let nodes = vec![node("a"), node("b")];
        let pods = vec![pod("p1", "a")];
        let base = fingerprint(&nodes, &pods);
        assert_eq!(base, fingerprint(&nodes, &pods));
        assert_ne!(base, fingerprint(&nodes, &[pod("p1", "b")]));
        let mut tainted = nodes.clone();
        tainted[0] = serde_json::from_value(json!({"metadata": {"name": "a", "uid": "uid-a"},
            "spec": {"taints": [{"key": DISRUPTED_TAINT, "effect": "NoSchedule"}]}}))
        .unwrap();
        assert_ne!(base, fingerprint(&tainted, &pods));
    }
}
