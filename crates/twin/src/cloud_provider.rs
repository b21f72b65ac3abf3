//! The simulated cloud provider: the component both backends drive for what the cloud
//! decides — how long a launch takes, whether it fails for lack of capacity, the instance's
//! address, the node a node group launches, when a spot instance is interrupted, and the node
//! groups' template nodes as a Cluster Autoscaler reads them. It owns the run's `cloud` random
//! stream, so every backend draws the same sequence; what it decides is applied by the caller
//! (the twin adds the node to its tables, `--cluster` registers it through kscale's kubelets).
//!
//! - Provisioning latency: uniform in `spec.cloud.provisioningLatency` (default 60–120 s,
//!   *assumption* from seed 004's "approximately 1–2 minutes").
//! - Insufficient capacity: a launch matching an `insufficientCapacity` entry (group, instance
//!   type, capacity type, time window) fails with its probability, as EC2's
//!   `InsufficientInstanceCapacity` does; autoscalers then fall back (Karpenter caches the
//!   offering as unavailable for 3 minutes, pkg/cache/unavailableofferings.go; the Cluster
//!   Autoscaler backs the group off).
//! - Spot interruptions: each spot node draws an exponential time to interruption from
//!   `spotInterruptions.ratePerHour`; at that time it gets the 2-minute notice
//!   ([`SPOT_NOTICE_MS`]) and is terminated 2 minutes later.

use std::collections::BTreeMap;

use kscale_controllers::cluster_autoscaler::CloudNodeGroup;
use kscale_controllers::daemonset::{DaemonPod, with_daemon_pods};
use kscale_controllers::scheduler::NodeInfo;
use kscale_model::{Resources, Taint, TaintEffect};

use crate::cloud::{self, NodeShape};
use crate::rngs::Stream;
use crate::scenario::{CloudSpec, NodeGroupSpec, Scenario};

/// Notice between a spot interruption warning and the termination: 2 minutes (EC2).
pub const SPOT_NOTICE_MS: u64 = 120_000;
/// Label that names a node's group (`eks.amazonaws.com/nodegroup`, as EKS managed node
/// groups label their nodes).
pub const NODE_GROUP_LABEL: &str = "eks.amazonaws.com/nodegroup";

/// A node a node group launches: what the backend adds or registers.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupNode {
    /// Node name (the instance's private DNS name).
    pub name: String,
    /// Instance type, capacity, allocatable and price.
    pub shape: NodeShape,
    /// `on-demand` or `spot`.
    pub capacity_type: String,
    /// Zone.
    pub zone: String,
    /// The group's labels and [`NODE_GROUP_LABEL`].
    pub labels: BTreeMap<String, String>,
    /// The group's taints.
    pub taints: Vec<Taint>,
}

/// The simulated cloud of one run.
pub struct CloudProvider {
    spec: CloudSpec,
    /// The run's end (ms): an `insufficientCapacity` window without `to` lasts past it.
    end_ms: u64,
    rng: Stream,
}

impl CloudProvider {
    /// The cloud of `scenario` (its `spec.cloud`, its duration, the `cloud` stream of its
    /// seed).
    pub fn new(scenario: &Scenario) -> Self {
        CloudProvider {
            spec: scenario.doc.spec.cloud.clone(),
            end_ms: scenario.doc.spec.duration.0,
            rng: Stream::new(scenario.seed(), "cloud"),
        }
    }

    /// The scenario's cloud section.
    pub fn spec(&self) -> &CloudSpec {
        &self.spec
    }

    /// The region (default `us-east-1`).
    pub fn region(&self) -> String {
        self.spec
            .region
            .clone()
            .unwrap_or_else(|| "us-east-1".into())
    }

    /// The zones (default: the region's `a`, `b` and `c`).
    pub fn zones(&self) -> Vec<String> {
        if !self.spec.zones.is_empty() {
            return self.spec.zones.clone();
        }
        let region = self.region();
        ["a", "b", "c"]
            .iter()
            .map(|s| format!("{region}{s}"))
            .collect()
    }

    /// The node group named `name`.
    pub fn group(&self, name: &str) -> Option<&NodeGroupSpec> {
        self.spec.node_groups.iter().find(|g| g.name == name)
    }

    /// Provisioning latency of one launch, in ms.
    pub fn provisioning_latency_ms(&mut self) -> u64 {
        let (lo, hi) = match self.spec.provisioning_latency {
            Some(l) => (l.min.0, l.max.0),
            None => (60_000, 120_000),
        };
        self.rng.range_u64(lo, hi)
    }

    /// True if a launch of a node of node group `group` (its instance type and capacity type,
    /// `on-demand` unless set) fails for lack of capacity at run time `now` (ms); false for an
    /// unknown group.
    pub fn group_launch_fails_at(&mut self, now: u64, group: &str) -> bool {
        let Some(g) = self.group(group) else {
            return false;
        };
        let instance_type = g.instance_type.clone();
        let ct = g
            .capacity_type
            .clone()
            .unwrap_or_else(|| "on-demand".into());
        self.launch_fails_at(now, Some(group), &instance_type, &ct)
    }

    /// True if a launch of this group / instance type / capacity type fails for lack of
    /// capacity at run time `now` (ms).
    pub fn launch_fails_at(
        &mut self,
        now: u64,
        group: Option<&str>,
        instance_type: &str,
        capacity_type: &str,
    ) -> bool {
        let end = self.end_ms;
        let hit = self.spec.insufficient_capacity.iter().find(|c| {
            c.group.as_deref().is_none_or(|g| Some(g) == group)
                && c.instance_type
                    .as_deref()
                    .is_none_or(|t| t == instance_type)
                && c.capacity_type
                    .as_deref()
                    .is_none_or(|t| t == capacity_type)
                && c.from.map(|f| f.0).unwrap_or(0) <= now
                && now < c.to.map(|t| t.0).unwrap_or(end + 1)
        });
        match hit.map(|c| c.probability.unwrap_or(1.0)) {
            Some(p) if p >= 1.0 => true,
            Some(p) => self.rng.unit() < p,
            None => false,
        }
    }

    /// The last two octets of a new instance's private address (each 1–253).
    pub fn address(&mut self) -> (u64, u64) {
        let a = self.rng.range_u64(1, 254);
        let b = self.rng.range_u64(1, 254);
        (a, b)
    }

    /// The next node of group `group`, which has `members` nodes now (zones are taken in
    /// turn); a name `taken` says is in use is drawn again. `None` for an unknown group or
    /// instance type.
    pub fn group_node(
        &mut self,
        group: &str,
        members: usize,
        taken: impl Fn(&str) -> bool,
    ) -> Option<GroupNode> {
        let g = self.group(group)?.clone();
        let it = cloud::instance_type(&g.instance_type)?;
        let zones = if g.zones.is_empty() {
            self.zones()
        } else {
            g.zones.clone()
        };
        let zone = zones[members % zones.len()].clone();
        let region = self.region();
        let name = loop {
            let (a, b) = self.address();
            let n = format!("ip-10-0-{a}-{b}.{region}.compute.internal");
            if !taken(&n) {
                break n;
            }
        };
        let mut labels: BTreeMap<String, String> = g.labels.clone();
        labels.insert(NODE_GROUP_LABEL.into(), group.into());
        let capacity_type = g
            .capacity_type
            .as_deref()
            .unwrap_or("on-demand")
            .to_string();
        Some(GroupNode {
            name,
            shape: NodeShape::of(it, &capacity_type),
            capacity_type,
            zone,
            labels,
            taints: taints(&g),
        })
    }

    /// Spot interruptions per instance-hour (`spotInterruptions.ratePerHour`), when the
    /// scenario models them.
    pub fn interruption_rate_per_hour(&self) -> Option<f64> {
        self.spec
            .spot_interruptions
            .map(|s| s.rate_per_hour)
            .filter(|r| *r > 0.0)
    }

    /// When a spot instance that starts at run time `now` (ms) gets its interruption notice:
    /// an exponential draw from `spotInterruptions.ratePerHour`; `None` without interruptions
    /// or past the run's end (the scenario's duration).
    pub fn interruption_at(&mut self, now: u64) -> Option<u64> {
        let rate = self.interruption_rate_per_hour()?;
        let u = self.rng.unit().max(1e-12);
        let at = now as f64 + -u.ln() / rate * 3_600_000.0;
        (at <= self.end_ms as f64).then_some(at as u64)
    }

    /// The node groups of a known instance type, each with its template node: the labels,
    /// taints and allocatable its nodes get (and the `daemons` that would run there), as a
    /// Cluster Autoscaler reads them from the group's launch template.
    pub fn group_templates(&self, daemons: &[DaemonPod]) -> Vec<CloudNodeGroup> {
        let region = self.region();
        let zones = self.zones();
        let mut out = vec![];
        for g in &self.spec.node_groups {
            let Some(it) = cloud::instance_type(&g.instance_type) else {
                continue;
            };
            let ct = g.capacity_type.as_deref().unwrap_or("on-demand");
            let zone = g.zones.first().cloned().unwrap_or_else(|| zones[0].clone());
            let mut labels: BTreeMap<String, String> = [
                ("kubernetes.io/os", "linux".to_string()),
                ("kubernetes.io/arch", "amd64".into()),
                ("node.kubernetes.io/instance-type", it.name.into()),
                ("topology.kubernetes.io/zone", zone),
                ("topology.kubernetes.io/region", region.clone()),
                ("karpenter.sh/capacity-type", ct.into()),
                (
                    "eks.amazonaws.com/capacityType",
                    if ct == "spot" { "SPOT" } else { "ON_DEMAND" }.into(),
                ),
                (
                    "kubernetes.io/hostname",
                    format!("template-node-for-{}", g.name),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            labels.extend(g.labels.clone());
            labels.insert(NODE_GROUP_LABEL.into(), g.name.clone());
            let template = NodeInfo {
                name: format!("template-node-for-{}", g.name).into(),
                labels: labels.into(),
                taints: taints(g).into(),
                unschedulable: false,
                ready: true,
                allocatable: Resources {
                    cpu_milli: it.allocatable_cpu_milli(),
                    memory: it.allocatable_memory(),
                    pods: it.max_pods as i64,
                },
                requested: Resources::ZERO,
                pods: vec![],
                nominated: vec![],
            };
            out.push(CloudNodeGroup {
                id: g.name.clone(),
                min: g.min,
                max: g.max,
                template: with_daemon_pods(template, daemons),
                capacity: Resources {
                    cpu_milli: it.cpu_milli(),
                    memory: it.memory_bytes(),
                    pods: it.max_pods as i64,
                },
                price_per_hour: it.hourly_price(ct),
            });
        }
        out
    }
}

/// A node group's taints (those of an unknown effect left out: validation reports them).
fn taints(g: &NodeGroupSpec) -> Vec<Taint> {
    g.taints
        .iter()
        .filter_map(|t| {
            Some(Taint {
                key: t.key.clone(),
                value: t.value.clone().unwrap_or_default(),
                effect: TaintEffect::parse(&t.effect)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cloud of a scenario whose `spec.cloud` is `cloud` (YAML, indented by four spaces).
    fn provider(cloud: &str) -> CloudProvider {
        provider_lasting("2h", cloud)
    }

    fn provider_lasting(duration: &str, cloud: &str) -> CloudProvider {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.yaml");
        std::fs::write(
            &path,
            format!(
                "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {{name: c}}\nspec:\n  duration: {duration}\n  seed: 7\n  cloud:\n{cloud}"
            ),
        )
        .unwrap();
        CloudProvider::new(&Scenario::load(&path).unwrap())
    }

    const GROUPS: &str = "    region: eu-west-1
    nodeGroups:
      - {name: web, instanceType: m5.large, min: 0, max: 5, labels: {tier: web}, taints: [{key: dedicated, value: web, effect: NoSchedule}]}
";

    #[test]
    fn a_group_launches_its_nodes_zone_by_zone_with_its_labels_and_taints() {
        let mut c = provider(GROUPS);
        let first = c.group_node("web", 0, |_| false).unwrap();
        let second = c.group_node("web", 1, |_| false).unwrap();
        let fourth = c.group_node("web", 3, |_| false).unwrap();
        assert_eq!(
            (
                first.zone.as_str(),
                second.zone.as_str(),
                fourth.zone.as_str()
            ),
            ("eu-west-1a", "eu-west-1b", "eu-west-1a")
        );
        assert!(first.name.starts_with("ip-10-0-"));
        assert!(first.name.ends_with(".eu-west-1.compute.internal"));
        assert_eq!(first.labels["tier"], "web");
        assert_eq!(first.labels[NODE_GROUP_LABEL], "web");
        assert_eq!(first.taints[0].key, "dedicated");
        assert_eq!(first.shape.instance_type, "m5.large");
        assert_eq!(first.capacity_type, "on-demand");
        assert!(c.group_node("absent", 0, |_| false).is_none());
    }

    #[test]
    fn a_taken_name_is_drawn_again_and_the_draws_are_the_seeds() {
        let mut a = provider(GROUPS);
        let mut b = provider(GROUPS);
        let first = a.group_node("web", 0, |_| false).unwrap().name;
        // The same seed draws the same name; refusing it draws the next one.
        let other = b.group_node("web", 0, |n| n == first).unwrap().name;
        assert_ne!(other, first);
        assert_eq!(a.group_node("web", 0, |_| false).unwrap().name, other);
        assert_eq!(a.provisioning_latency_ms(), b.provisioning_latency_ms());
    }

    #[test]
    fn provisioning_latency_is_drawn_in_the_range() {
        let mut c = provider("    provisioningLatency: {min: 30s, max: 40s}\n");
        for _ in 0..100 {
            let l = c.provisioning_latency_ms();
            assert!((30_000..40_000).contains(&l), "{l}");
        }
        let mut d = provider("    region: us-west-2\n");
        let l = d.provisioning_latency_ms();
        assert!((60_000..120_000).contains(&l), "the default: {l}");
    }

    #[test]
    fn launches_fail_inside_an_insufficient_capacity_window_of_their_group_or_type() {
        let mut c = provider(&format!(
            "{GROUPS}    insufficientCapacity:
      - {{group: web, from: 10m, to: 20m}}
      - {{instanceType: c5.large, capacityType: spot}}
"
        ));
        let min = 60_000;
        assert!(!c.launch_fails_at(9 * min, Some("web"), "m5.large", "on-demand"));
        assert!(c.launch_fails_at(10 * min, Some("web"), "m5.large", "on-demand"));
        assert!(!c.launch_fails_at(20 * min, Some("web"), "m5.large", "on-demand"));
        assert!(!c.launch_fails_at(15 * min, Some("api"), "m5.large", "on-demand"));
        // No window: the whole run, and past its end.
        assert!(c.launch_fails_at(0, None, "c5.large", "spot"));
        assert!(c.launch_fails_at(7_200_000, None, "c5.large", "spot"));
        assert!(!c.launch_fails_at(0, None, "c5.large", "on-demand"));
    }

    #[test]
    fn a_failure_probability_fails_about_that_share_of_launches() {
        let mut c = provider("    insufficientCapacity: [{probability: 0.25}]\n");
        let failed = (0..4000)
            .filter(|_| c.launch_fails_at(0, None, "m5.large", "spot"))
            .count();
        assert!((850..1150).contains(&failed), "{failed} of 4000");
    }

    #[test]
    fn spot_interruptions_are_drawn_only_when_modelled_and_within_the_run() {
        let mut none = provider("    region: us-east-1\n");
        assert_eq!(none.interruption_rate_per_hour(), None);
        assert_eq!(none.interruption_at(0), None);
        let mut c = provider_lasting("2000h", "    spotInterruptions: {ratePerHour: 2.0}\n");
        assert_eq!(c.interruption_rate_per_hour(), Some(2.0));
        let draws: Vec<u64> = (0..2000).filter_map(|_| c.interruption_at(1_000)).collect();
        assert_eq!(draws.len(), 2000);
        assert!(draws.iter().all(|t| *t >= 1_000));
        // Exponential with a mean of half an hour.
        let mean = draws.iter().map(|t| (t - 1_000) as f64).sum::<f64>() / 2000.0;
        assert!((1_500_000.0..2_100_000.0).contains(&mean), "{mean}");
        // Past the run's end: no interruption.
        let mut c = provider_lasting("1m", "    spotInterruptions: {ratePerHour: 2.0}\n");
        let within = (0..200).filter_map(|_| c.interruption_at(0)).count();
        assert!(within < 20, "{within} of 200 within a minute at 2 per hour");
    }

    #[test]
    fn group_templates_carry_the_groups_labels_taints_allocatable_and_daemons() {
        let c = provider(GROUPS);
        let daemon = DaemonPod {
            namespace: "kube-system".into(),
            name: "agent".into(),
            labels: Default::default(),
            requests: Resources {
                cpu_milli: 100,
                memory: 1 << 27,
                pods: 1,
            },
            priority: 0,
            constraints: Default::default(),
            node_name: None,
        };
        let groups = c.group_templates(std::slice::from_ref(&daemon));
        assert_eq!(groups.len(), 1);
        let g = &groups[0];
        assert_eq!((g.id.as_str(), g.min, g.max), ("web", 0, 5));
        let t = &g.template;
        assert_eq!(t.labels[NODE_GROUP_LABEL], "web");
        assert_eq!(t.labels["tier"], "web");
        assert_eq!(t.labels["topology.kubernetes.io/zone"], "eu-west-1a");
        assert_eq!(t.labels["eks.amazonaws.com/capacityType"], "ON_DEMAND");
        assert_eq!(t.taints.len(), 1);
        assert_eq!(
            t.requested.cpu_milli, 0,
            "a daemon pod that does not tolerate the group's taint does not run there"
        );
        assert!(t.allocatable.cpu_milli < g.capacity.cpu_milli);
        assert!(g.price_per_hour > 0.0);
        let plain = provider(
            "    nodeGroups: [{name: plain, instanceType: m5.large, min: 0, max: 2, capacityType: spot}]\n",
        );
        let g = &plain.group_templates(std::slice::from_ref(&daemon))[0];
        assert_eq!(
            g.template.requested.cpu_milli, 100,
            "the daemon pod runs there"
        );
        assert_eq!(g.template.pods.len(), 1);
        assert_eq!(g.template.labels["eks.amazonaws.com/capacityType"], "SPOT");
        assert_eq!(
            g.template.labels["topology.kubernetes.io/zone"],
            "us-east-1a"
        );
    }
}
