//! Karpenter provisioning, written once for both backends: batching pending pods, planning
//! them onto NodePools / Provisioners and the cheapest offerings, launching NodeClaims, and
//! following them until their nodes register.
//!
//! Upstream (kubernetes-sigs/karpenter `pkg/controllers/provisioning`): pods the scheduler
//! cannot place open a batch that closes after [`BATCH_IDLE_MS`] without a new one or
//! [`BATCH_MAX_MS`] in all (`batcher.go`); a closed batch is solved by the pure planner
//! ([`kscale_controllers::karpenter::plan`]) after the pods that fit capacity already launched
//! are left to it (`scheduling/scheduler.go` places pods on in-flight NodeClaims first); each
//! new NodeClaim is launched on its offering and the pods planned onto it are nominated to it
//! (`Nominated` events) until its node registers. A launch the cloud refuses for lack of
//! capacity records `InsufficientCapacityError`, skips the offering for
//! [`super::ICE_TTL_MS`] ([`UnavailableOfferings`]) and plans its pods again (at most 8
//! rounds), e.g. on-demand after spot.
//!
//! The driver (the twin's event loop, or the live backend's tick) tells when pods failed
//! scheduling ([`Provisioning::pods_pending`]), hands over the pending pods and the pools, and
//! creates the node of a claim whose latency is over ([`Provisioning::registered`]); the cloud,
//! names and events come through [`ProvisioningBackend`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kscale_cluster::{Event, EventType};
use kscale_controllers::karpenter::{self, Offering, Pool};
use kscale_controllers::scheduler::{NodeInfo, PodInfo, fits};
use kscale_model::Resources;

use super::unavailable::{UnavailableOfferings, insufficient_capacity_message};
use super::{BATCH_IDLE_MS, BATCH_MAX_MS, PoolConfig};

/// Planning rounds per batch (each after a capacity error re-plans the affected pods).
const MAX_ROUNDS: usize = 8;

/// What provisioning asks of its backend: NodeClaim names, the cloud it launches into
/// (upstream's `cloudprovider.CloudProvider.Create`) and the event recorder. The calls come in
/// a fixed order per NodeClaim (name, capacity check, instance, latency), so a backend that
/// draws them from random streams draws the same sequence every run.
pub trait ProvisioningBackend {
    /// The name of a new NodeClaim of `pool` (`<pool>-<5 random characters>`).
    fn claim_name(&mut self, pool: &str) -> String;
    /// Whether launching `o` at `now_ms` fails for lack of capacity.
    fn launch_fails(&mut self, now_ms: u64, o: &Offering) -> bool;
    /// The node name and private address of a new instance; `in_flight` are the claims not
    /// registered yet.
    fn new_instance(&mut self, in_flight: &[InFlight]) -> (String, String);
    /// How long the new instance takes to register (ms).
    fn provisioning_latency_ms(&mut self) -> u64;
    /// Records an event.
    fn event(&mut self, e: Event);
}

/// A launched NodeClaim waiting for its node.
#[derive(Debug, Clone)]
pub struct InFlight {
    /// NodeClaim name.
    pub claim: String,
    /// Node name it will register as.
    pub node: String,
    /// The node's private address.
    pub ip: String,
    /// Pool name.
    pub pool: String,
    /// The offering launched.
    pub offering: Offering,
    /// Requests already planned onto it.
    pub planned: Resources,
    /// When it was launched (run ms).
    pub launched_ms: u64,
    /// When its node registers (run ms).
    pub ready_at_ms: u64,
    /// Its instance's number in this run (from 1; the provider ID's `i-…`).
    pub instance: u64,
}

impl InFlight {
    /// The scheduler's view of the node this claim will become, named `name`: its pool's
    /// labels and taints, the offering's allocatable and the requests planned onto it.
    pub fn node_view(&self, c: &PoolConfig, name: Arc<str>) -> NodeInfo {
        NodeInfo {
            name,
            labels: karpenter::node_labels(&c.pool, &self.offering).into(),
            taints: c.pool.taints.clone().into(),
            unschedulable: false,
            ready: true,
            allocatable: self.offering.allocatable,
            requested: self.planned,
            pods: vec![],
            nominated: vec![],
        }
    }
}

/// Where the batch of pending pods stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// No batch is open.
    None,
    /// Open until this run time (ms).
    OpenUntil(u64),
    /// It closed and was taken: provision now.
    Closed,
}

/// What one provisioning pass did, for the backend's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Provisioned {
    /// NodeClaims launched.
    pub launches: u64,
    /// Launches refused for lack of capacity.
    pub insufficient_capacity_errors: u64,
}

/// Karpenter's provisioning state.
#[derive(Debug, Clone, Default)]
pub struct Provisioning {
    /// Open batch: (start, last pod seen), run ms.
    batch: Option<(u64, u64)>,
    /// Launched claims not registered yet, in launch order.
    in_flight: Vec<InFlight>,
    /// Pods nominated to a NodeClaim (pod id → claim, until when: `u64::MAX` while it is in
    /// flight).
    nominated: BTreeMap<u64, (String, u64)>,
    /// Offerings skipped after a capacity error.
    unavailable: UnavailableOfferings,
    /// Instances launched so far.
    instances: u64,
}

impl Provisioning {
    /// Pods failed scheduling at `now_ms`: opens the batch (returns true) or extends it.
    pub fn pods_pending(&mut self, now_ms: u64) -> bool {
        match &mut self.batch {
            Some((_, last)) => {
                *last = now_ms;
                false
            }
            None => {
                self.batch = Some((now_ms, now_ms));
                true
            }
        }
    }

    /// The batch at `now_ms`: open until when, or closed (and taken: the caller provisions).
    pub fn take_closed_batch(&mut self, now_ms: u64) -> Batch {
        let Some((start, last)) = self.batch else {
            return Batch::None;
        };
        let close = (last + BATCH_IDLE_MS).min(start + BATCH_MAX_MS);
        if now_ms < close {
            return Batch::OpenUntil(close);
        }
        self.batch = None;
        Batch::Closed
    }

    /// Claims launched and not registered yet.
    pub fn in_flight(&self) -> &[InFlight] {
        &self.in_flight
    }

    /// Whether pod `id` is nominated to a NodeClaim at `now_ms` (it waits for that node).
    pub fn is_nominated(&self, id: u64, now_ms: u64) -> bool {
        self.nominated
            .get(&id)
            .is_some_and(|(_, until)| *until > now_ms)
    }

    /// Offerings of `all` not skipped after a capacity error at `now_ms`.
    pub fn available(&self, all: &Arc<Vec<Offering>>, now_ms: u64) -> Arc<Vec<Offering>> {
        self.unavailable.available(all, now_ms)
    }

    /// Pod `id` (`requests`) was bound: if it was nominated to an in-flight claim, that claim
    /// no longer holds room for it.
    pub fn pod_bound(&mut self, id: u64, requests: Resources) {
        if let Some((claim, _)) = self.nominated.remove(&id)
            && let Some(f) = self.in_flight.iter_mut().find(|f| f.claim == claim)
        {
            f.planned -= requests;
        }
    }

    /// One provisioning pass at `now_ms` over the pending pods not nominated to a NodeClaim
    /// ([`Provisioning::is_nominated`]; in the order the planner breaks ties by) and the pools
    /// `configs`: pods that fit an in-flight claim are nominated to it, the others are planned
    /// onto new NodeClaims (see the module's documentation).
    pub fn provision<B: ProvisioningBackend>(
        &mut self,
        backend: &mut B,
        now_ms: u64,
        pending: Vec<PodInfo>,
        configs: &[PoolConfig],
        offerings: &Arc<Vec<Offering>>,
    ) -> Provisioned {
        let mut out = Provisioned::default();
        // Pods that fit capacity already launched are left for that capacity. Each in-flight
        // claim's node view is built once per pass; only its planned requests change.
        let mut slots: Vec<Option<NodeInfo>> = self
            .in_flight
            .iter()
            .map(|f| {
                let c = configs.iter().find(|c| c.pool.name == f.pool)?;
                Some(f.node_view(c, Arc::from(f.node.as_str())))
            })
            .collect();
        let mut todo = vec![];
        for info in pending {
            let slot = slots
                .iter()
                .position(|n| n.as_ref().is_some_and(|n| fits(&info, n).is_ok()));
            match slot {
                Some(k) => {
                    let f = &mut self.in_flight[k];
                    f.planned += info.requests;
                    if let Some(n) = &mut slots[k] {
                        n.requested = f.planned;
                    }
                    self.nominated.insert(info.id, (f.claim.clone(), u64::MAX));
                }
                None => todo.push(info),
            }
        }
        let pools: Vec<Pool> = configs.iter().map(|c| c.pool.clone()).collect();
        for _round in 0..MAX_ROUNDS {
            if todo.is_empty() {
                break;
            }
            let available = self.unavailable.available(offerings, now_ms);
            let plan = karpenter::plan(&todo, &pools, &available);
            let by_id: HashMap<u64, &PodInfo> = todo.iter().map(|p| (p.id, p)).collect();
            for (id, reason) in &plan.unschedulable {
                if let Some(p) = by_id.get(id) {
                    backend.event(event(
                        EventType::Warning,
                        "FailedScheduling",
                        "Pod",
                        &p.namespace,
                        &p.name,
                        format!("Failed to schedule pod, {reason}"),
                    ));
                }
            }
            let mut retry = vec![];
            for c in plan.claims {
                let cfg = &configs[c.pool];
                let o = available[c.offering].clone();
                let claim = backend.claim_name(&cfg.pool.name);
                let pods: Vec<&PodInfo> = c
                    .pods
                    .iter()
                    .filter_map(|id| by_id.get(id).copied())
                    .collect();
                if self
                    .try_launch(backend, now_ms, cfg, claim, o, &pods, c.requests)
                    .is_some()
                {
                    out.launches += 1;
                } else {
                    out.insufficient_capacity_errors += 1;
                    retry.extend(pods.into_iter().cloned());
                }
            }
            drop(by_id);
            todo = retry;
        }
        out
    }

    /// [`Provisioning::launch`] unless the cloud has no capacity for `o` at `now_ms`: then
    /// the NodeClaim's `InsufficientCapacityError` is recorded, `o` is skipped for a while and
    /// `None` returned.
    #[allow(clippy::too_many_arguments)]
    pub fn try_launch<B: ProvisioningBackend>(
        &mut self,
        backend: &mut B,
        now_ms: u64,
        cfg: &PoolConfig,
        claim: String,
        o: Offering,
        pods: &[&PodInfo],
        requests: Resources,
    ) -> Option<&InFlight> {
        if backend.launch_fails(now_ms, &o) {
            backend.event(event(
                EventType::Warning,
                "InsufficientCapacityError",
                "NodeClaim",
                "",
                &claim,
                insufficient_capacity_message(&claim, &o),
            ));
            self.unavailable.mark(&o, now_ms);
            return None;
        }
        Some(self.launch(backend, now_ms, cfg, claim, o, pods, requests))
    }

    /// Launches NodeClaim `claim` of `cfg` on `o` at `now_ms` with `pods` (planned `requests`)
    /// nominated to it; its node registers after the cloud's provisioning latency.
    #[allow(clippy::too_many_arguments)]
    pub fn launch<B: ProvisioningBackend>(
        &mut self,
        backend: &mut B,
        now_ms: u64,
        cfg: &PoolConfig,
        claim: String,
        o: Offering,
        pods: &[&PodInfo],
        requests: Resources,
    ) -> &InFlight {
        let (node, ip) = backend.new_instance(&self.in_flight);
        for p in pods {
            self.nominated.insert(p.id, (claim.clone(), u64::MAX));
            backend.event(event(
                EventType::Normal,
                "Nominated",
                "Pod",
                &p.namespace,
                &p.name,
                format!("Pod should schedule on: nodeclaim/{claim}"),
            ));
        }
        backend.event(event(
            EventType::Normal,
            "Launched",
            "NodeClaim",
            "",
            &claim,
            format!(
                "Status condition transitioned, Type: Launched, Status: True, Reason: Launched ({} {} in {})",
                o.instance_type, o.capacity_type, o.zone
            ),
        ));
        let delay = backend.provisioning_latency_ms();
        self.instances += 1;
        self.in_flight.push(InFlight {
            claim,
            node,
            ip,
            pool: cfg.pool.name.clone(),
            offering: o,
            planned: requests,
            launched_ms: now_ms,
            ready_at_ms: now_ms + delay,
            instance: self.instances,
        });
        self.in_flight.last().expect("just pushed")
    }

    /// The in-flight claims whose node is due to register at `now_ms`, in launch order.
    pub fn due(&self, now_ms: u64) -> Vec<String> {
        self.in_flight
            .iter()
            .filter(|f| f.ready_at_ms <= now_ms)
            .map(|f| f.claim.clone())
            .collect()
    }

    /// NodeClaim `claim`'s node registers at `now_ms`: it leaves the in-flight claims, and
    /// the pods nominated to it stay so for `grace_ms` more (the scheduler binds them by
    /// then). Returns the claim, `None` if it is not in flight.
    pub fn registered(&mut self, claim: &str, now_ms: u64, grace_ms: u64) -> Option<InFlight> {
        let i = self.in_flight.iter().position(|f| f.claim == claim)?;
        let f = self.in_flight.remove(i);
        for (c, until) in self.nominated.values_mut() {
            if c == claim {
                *until = now_ms + grace_ms;
            }
        }
        self.nominated.retain(|_, (_, until)| *until > now_ms);
        Some(f)
    }
}

/// The message of NodeClaim's `Registered` event for its node `node`.
pub fn registered_message(node: &str) -> String {
    format!(
        "Status condition transitioned, Type: Registered, Status: True, Reason: Registered (node {node})"
    )
}

/// An event of Karpenter (source `karpenter`).
pub fn event(
    type_: EventType,
    reason: &str,
    kind: &str,
    namespace: &str,
    name: &str,
    message: String,
) -> Event {
    Event {
        type_,
        reason: reason.into(),
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
        message,
        source: "karpenter".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::karpenter::{ICE_TTL_MS, pool_configs};
    use kscale_controllers::scheduler::PlacementConstraints;
    use kscale_model::SimTime;
    use kscale_model::labels::Labels;
    use serde_json::json;

    /// A backend that refuses the offerings of `refused` capacity types, numbers names and
    /// instances, takes 30 s per launch and keeps the events.
    #[derive(Default)]
    struct Fake {
        refused: Vec<&'static str>,
        names: u64,
        instances: u64,
        events: Vec<(String, String, String)>,
    }

    impl ProvisioningBackend for Fake {
        fn claim_name(&mut self, pool: &str) -> String {
            self.names += 1;
            format!("{pool}-{}", self.names)
        }
        fn launch_fails(&mut self, _now_ms: u64, o: &Offering) -> bool {
            self.refused.contains(&o.capacity_type.as_str())
        }
        fn new_instance(&mut self, _in_flight: &[InFlight]) -> (String, String) {
            self.instances += 1;
            (
                format!("node-{}", self.instances),
                format!("10.0.0.{}", self.instances),
            )
        }
        fn provisioning_latency_ms(&mut self) -> u64 {
            30_000
        }
        fn event(&mut self, e: Event) {
            self.events.push((e.reason, e.name, e.message));
        }
    }

    fn offering(cap: &str, cpu: i64, price: f64) -> Offering {
        let mut labels = Labels::new();
        labels.insert(
            "node.kubernetes.io/instance-type".into(),
            "m5.xlarge".into(),
        );
        labels.insert("karpenter.sh/capacity-type".into(), cap.into());
        labels.insert("topology.kubernetes.io/zone".into(), "z1".into());
        let r = Resources {
            cpu_milli: cpu,
            memory: 16 << 30,
            pods: 58,
        };
        Offering {
            instance_type: "m5.xlarge".into(),
            capacity_type: cap.into(),
            zone: "z1".into(),
            capacity: r,
            allocatable: r,
            price,
            labels,
        }
    }

    fn pod(id: u64, cpu: i64) -> PodInfo {
        PodInfo {
            id,
            namespace: Arc::from("default"),
            name: Arc::from(format!("p{id}").as_str()),
            labels: Arc::new(Labels::new()),
            requests: Resources {
                cpu_milli: cpu,
                memory: 1 << 30,
                pods: 1,
            },
            priority: 0,
            start_time: SimTime::ZERO,
            terminating: false,
            constraints: Arc::new(PlacementConstraints::default()),
            default_selector: None,
        }
    }

    /// One NodePool allowing both capacity types.
    fn pools() -> Vec<PoolConfig> {
        let np = json!({"spec": {"template": {"spec": {"requirements": [
            {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot", "on-demand"]}]}}}});
        pool_configs([("NodePool", "general", &np)].into_iter())
    }

    fn offerings() -> Arc<Vec<Offering>> {
        Arc::new(vec![
            offering("spot", 4_000, 0.07),
            offering("on-demand", 4_000, 0.19),
        ])
    }

    fn reasons(b: &Fake) -> Vec<&str> {
        b.events.iter().map(|e| e.0.as_str()).collect()
    }

    #[test]
    fn a_batch_closes_after_a_second_idle_or_ten_seconds_in_all() {
        let mut p = Provisioning::default();
        assert_eq!(p.take_closed_batch(0), Batch::None);
        assert!(p.pods_pending(0));
        assert!(!p.pods_pending(600));
        assert_eq!(p.take_closed_batch(1_000), Batch::OpenUntil(1_600));
        // Pods keep coming: the batch still closes 10 s after it opened.
        for t in (1_200..10_000).step_by(500) {
            p.pods_pending(t);
        }
        assert_eq!(p.take_closed_batch(9_999), Batch::OpenUntil(10_000));
        assert_eq!(p.take_closed_batch(10_000), Batch::Closed);
        assert_eq!(p.take_closed_batch(10_000), Batch::None);
        assert!(p.pods_pending(10_500), "a new batch opens");
    }

    #[test]
    fn pods_go_to_capacity_in_flight_before_new_claims() {
        let (mut p, mut b) = (Provisioning::default(), Fake::default());
        let (cfg, all) = (pools(), offerings());
        let done = p.provision(&mut b, 0, vec![pod(1, 1_000), pod(2, 1_000)], &cfg, &all);
        assert_eq!(done.launches, 1);
        assert_eq!(reasons(&b), ["Nominated", "Nominated", "Launched"]);
        let f = &p.in_flight()[0];
        assert_eq!((f.claim.as_str(), f.node.as_str()), ("general-1", "node-1"));
        assert_eq!((f.launched_ms, f.ready_at_ms, f.instance), (0, 30_000, 1));
        // The cheapest offering that fits: spot.
        assert_eq!(f.offering.capacity_type, "spot");
        assert!(p.is_nominated(1, 5_000) && p.is_nominated(2, 5_000));
        // A pod that fits the claim's remaining room is nominated to it, without a launch.
        let done = p.provision(&mut b, 5_000, vec![pod(3, 1_500)], &cfg, &all);
        assert_eq!(done, Provisioned::default());
        assert_eq!(
            b.events.len(),
            3,
            "no event for a pod joining an in-flight claim"
        );
        assert_eq!(p.in_flight()[0].planned.cpu_milli, 3_500);
        assert!(p.is_nominated(3, 5_000));
        // One that does not fit gets a claim of its own.
        let done = p.provision(&mut b, 6_000, vec![pod(4, 1_000)], &cfg, &all);
        assert_eq!(done.launches, 1);
        assert_eq!(p.in_flight().len(), 2);
        // A nominated pod bound elsewhere gives its room back.
        p.pod_bound(3, pod(3, 1_500).requests);
        assert!(!p.is_nominated(3, 6_000));
        assert_eq!(p.in_flight()[0].planned.cpu_milli, 2_000);
    }

    #[test]
    fn registration_ends_nominations_after_the_grace() {
        let (mut p, mut b) = (Provisioning::default(), Fake::default());
        p.provision(&mut b, 0, vec![pod(1, 1_000)], &pools(), &offerings());
        assert!(p.due(29_999).is_empty());
        assert_eq!(p.due(30_000), ["general-1"]);
        let f = p.registered("general-1", 30_000, 5_000).unwrap();
        assert_eq!(f.node, "node-1");
        assert!(p.in_flight().is_empty());
        assert!(p.is_nominated(1, 34_999));
        assert!(!p.is_nominated(1, 35_000));
        assert!(p.registered("general-1", 30_000, 0).is_none());
        // Without a grace (the twin's scheduler sees the node at once) it ends at once.
        p.provision(&mut b, 40_000, vec![pod(2, 1_000)], &pools(), &offerings());
        p.registered("general-2", 70_000, 0).unwrap();
        assert!(!p.is_nominated(2, 70_000));
    }

    #[test]
    fn a_refused_spot_launch_falls_back_to_on_demand_and_is_skipped_for_a_while() {
        let mut b = Fake {
            refused: vec!["spot"],
            ..Fake::default()
        };
        let mut p = Provisioning::default();
        let (cfg, all) = (pools(), offerings());
        let done = p.provision(&mut b, 0, vec![pod(1, 1_000)], &cfg, &all);
        assert_eq!(
            done,
            Provisioned {
                launches: 1,
                insufficient_capacity_errors: 1
            }
        );
        assert_eq!(
            reasons(&b),
            ["InsufficientCapacityError", "Nominated", "Launched"]
        );
        assert_eq!(b.events[0].1, "general-1");
        assert_eq!(p.in_flight()[0].claim, "general-2");
        assert_eq!(p.in_flight()[0].offering.capacity_type, "on-demand");
        // Spot stays skipped for the TTL, then is tried again.
        assert_eq!(p.available(&all, ICE_TTL_MS - 1).len(), 1);
        assert_eq!(p.available(&all, ICE_TTL_MS).len(), 2);
        // Nothing left to launch into (the pod does not fit the claim in flight): the pod is
        // reported, no claim.
        b.refused.push("on-demand");
        let done = p.provision(&mut b, 1_000, vec![pod(2, 3_500)], &cfg, &all);
        assert_eq!(done.launches, 0);
        assert_eq!(done.insufficient_capacity_errors, 1);
        assert_eq!(reasons(&b).last(), Some(&"FailedScheduling"));
        assert_eq!(b.events.last().unwrap().1, "p2");
    }

    #[test]
    fn a_pod_no_pool_can_take_is_reported() {
        let (mut p, mut b) = (Provisioning::default(), Fake::default());
        let done = p.provision(&mut b, 0, vec![pod(1, 64_000)], &pools(), &offerings());
        assert_eq!(done, Provisioned::default());
        assert_eq!(reasons(&b), ["FailedScheduling"]);
        assert!(b.events[0].2.starts_with("Failed to schedule pod, "));
        assert!(!p.is_nominated(1, 0));
    }
}
