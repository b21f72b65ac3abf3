//! Elastic Pods: container replicas inside a running pod (seed 000, "Application Autoscaling
//! using Kubernetes Elastic Pod", Intel, 2022).
//!
//! The proposal adds a `replica` field to every container of a pod spec (0 up to a configured
//! maximum, default 1). Changing it on a running pod creates or deletes instances of that
//! container inside the existing sandbox, without restarting the pod, through five replication
//! phases kept in `status.replicationPhase`:
//!
//! | phase | set by | meaning |
//! |---|---|---|
//! | `Unset` | kubelet | replication accomplished (also the initial state) |
//! | `Proposed` | API server | the patch passed validation |
//! | `InProgress` | scheduler | the node has room for the new request now |
//! | `Infeasible` | scheduler | the request exceeds the node's total allocatable: not processed |
//! | `Timeout` | kubelet | the kubelet gave up after the replication timeout |
//!
//! A new patch in any phase moves the pod back to `Proposed` and the latest request wins. A
//! request that fits the node's allocatable but not its free room stays `Proposed` until room
//! appears. This module holds the decisions (validation, the scheduler's admission, the
//! kubelet's container plan and the elastic autoscaler); the twin applies them
//! (`kscale-twin` `sim/elastic.rs`). There is no upstream implementation to cite: the seed's
//! proof of concept (on Kubernetes v1.23.1) was not published, so the behaviour follows the
//! seed's text and state diagram (its Figures 6 and 7).

use kscale_model::Resources;

/// Default largest `replica` value a container may ask for.
pub const DEFAULT_MAX_REPLICAS: u32 = 10;

/// Replication phase of a pod (`status.replicationPhase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Replication accomplished; the initial state.
    Unset,
    /// A patch passed validation and waits for the scheduler.
    Proposed,
    /// The scheduler confirmed room on the node; the kubelet acts.
    InProgress,
    /// The request exceeds the node's total allocatable.
    Infeasible,
    /// The kubelet gave up after the replication timeout.
    Timeout,
}

impl Phase {
    /// The value shown in `status.replicationPhase`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Phase::Unset => "Unset",
            Phase::Proposed => "Proposed",
            Phase::InProgress => "InProgress",
            Phase::Infeasible => "Infeasible",
            Phase::Timeout => "Timeout",
        }
    }
}

/// One container of a pod spec as replication sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    /// Container name.
    pub name: String,
    /// Image (`None` when a patch names a container without giving one).
    pub image: Option<String>,
    /// The raw `replica` value, if the spec sets one (validated by [`validate`]).
    pub replica: Option<i64>,
}

impl ContainerSpec {
    /// The effective replica count (default 1).
    pub fn replicas(&self) -> u32 {
        self.replica.unwrap_or(1).clamp(0, u32::MAX as i64) as u32
    }
}

/// A validation failure, worded as the API server words field errors
/// (`spec.containers[1].replica: Invalid value: 11: must be less than or equal to 10`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Field path.
    pub field: String,
    /// The message after the field.
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Validates the containers of a pod spec after a patch, as the API server would before
/// setting `Proposed`: every `replica` is an integer in `0..=max`, and every container that
/// was not in the pod before (`before`) carries an image (a patch that only names an unknown
/// container is a typo, not an injection). Returns the first error.
pub fn validate(
    before: &[ContainerSpec],
    after: &[ContainerSpec],
    max: u32,
) -> Result<(), FieldError> {
    for (i, c) in after.iter().enumerate() {
        let field = |f: &str| format!("spec.containers[{i}].{f}");
        if let Some(r) = c.replica {
            if r < 0 {
                return Err(FieldError {
                    field: field("replica"),
                    message: format!("Invalid value: {r}: must be greater than or equal to 0"),
                });
            }
            if r > max as i64 {
                return Err(FieldError {
                    field: field("replica"),
                    message: format!("Invalid value: {r}: must be less than or equal to {max}"),
                });
            }
        }
        let existed = before.iter().any(|b| b.name == c.name);
        if !existed && c.image.as_deref().unwrap_or("").is_empty() {
            return Err(FieldError {
                field: field("name"),
                message: format!(
                    "Invalid value: {:?}: no such container in the pod (to add a container, give its image)",
                    c.name
                ),
            });
        }
    }
    Ok(())
}

/// The scheduler's answer to a `Proposed` request (seed 000, "system flow" step 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The node has room now: set `InProgress`.
    Admit,
    /// The request fits the node's allocatable but not its free room: stay `Proposed`.
    Wait,
    /// The request exceeds the node's total allocatable: set `Infeasible`.
    Infeasible,
}

/// Decides a `Proposed` request. `current` is what the pod holds on the node now, `desired`
/// its request after the patch, `requested` the node's total requests (including `current`)
/// and `allocatable` the node's allocatable. Only cpu and memory are compared (the pod count
/// does not change).
pub fn admit(
    current: &Resources,
    desired: &Resources,
    requested: &Resources,
    allocatable: &Resources,
) -> Admission {
    if desired.cpu_milli > allocatable.cpu_milli || desired.memory > allocatable.memory {
        return Admission::Infeasible;
    }
    let cpu = requested.cpu_milli - current.cpu_milli + desired.cpu_milli;
    let mem = requested.memory - current.memory + desired.memory;
    if cpu <= allocatable.cpu_milli && mem <= allocatable.memory {
        Admission::Admit
    } else {
        Admission::Wait
    }
}

/// What the kubelet does for one container name when it acts on `InProgress`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerChange {
    /// Container name.
    pub name: String,
    /// Instances running before.
    pub from: u32,
    /// Instances wanted.
    pub to: u32,
    /// The image changed: every running instance is replaced (stop, then start the new
    /// image) without touching the other containers.
    pub image_swap: bool,
    /// The container is new in the pod (sidecar injection).
    pub added: bool,
}

impl ContainerChange {
    /// Instances started by this change.
    pub fn starts(&self) -> u32 {
        if self.image_swap {
            self.to
        } else {
            self.to.saturating_sub(self.from)
        }
    }

    /// Instances stopped by this change.
    pub fn stops(&self) -> u32 {
        if self.image_swap {
            self.from
        } else {
            self.from.saturating_sub(self.to)
        }
    }
}

/// The kubelet's plan from the running containers to the desired ones (by name, in the
/// desired order). Containers whose count and image are unchanged are left out: the kubelet
/// does not touch them.
pub fn plan(running: &[ContainerSpec], desired: &[ContainerSpec]) -> Vec<ContainerChange> {
    desired
        .iter()
        .filter_map(|d| {
            let r = running.iter().find(|r| r.name == d.name);
            let from = r.map(ContainerSpec::replicas).unwrap_or(0);
            let to = d.replicas();
            let image_swap = r.is_some_and(|r| r.image != d.image) && from > 0 && to > 0;
            (from != to || image_swap).then(|| ContainerChange {
                name: d.name.clone(),
                from,
                to,
                image_swap,
                added: r.is_none(),
            })
        })
        .collect()
}

/// Name of instance `index` of container `name`: the first instance keeps the container's
/// name, the others get a `-<index>` suffix (`app`, `app-1`, `app-2`, …), as the seed's kubelet
/// "adds a different suffix attached to the original container name".
pub fn instance_name(name: &str, index: u32) -> String {
    if index == 0 {
        name.to_string()
    } else {
        format!("{name}-{index}")
    }
}

/// Configuration of an elastic autoscaler (`ElasticPodAutoscaler`, kscale.io/v1alpha1): the
/// HPA's replica calculation over container instances instead of pods, filling existing pods
/// with container replicas first and adding pods only when they are full.
#[derive(Debug, Clone, PartialEq)]
pub struct ElasticScalerSpec {
    /// Fewest instances of the container in total.
    pub min_instances: u32,
    /// Most instances in total.
    pub max_instances: u32,
    /// Most instances per pod (the container's `replica` limit).
    pub max_per_pod: u32,
    /// Fewest pods (the Deployment's replicas never go below).
    pub min_pods: u32,
    /// Target CPU utilization of the instances' requests, in percent.
    pub target_utilization: u32,
}

/// One pod as the elastic autoscaler sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ElasticPodObs {
    /// Pod id.
    pub id: u64,
    /// Instances the pod's spec asks for now (its latest `replica`).
    pub replicas: u32,
    /// Instances the node could still add next to this pod now (free room / request per
    /// instance); the autoscaler does not ask for more than that, so requests do not wait.
    pub room: u32,
}

/// What the elastic autoscaler decided.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ElasticDecision {
    /// Total instances wanted.
    pub desired_instances: u32,
    /// New `replica` per pod id (only pods whose value changes).
    pub set_replicas: Vec<(u64, u32)>,
    /// New Deployment replica count, when pods must be added or may be removed.
    pub set_pods: Option<u32>,
}

/// The instance count the HPA formula asks for: `ceil(current × utilization / target)`,
/// unchanged within the cluster tolerance (0.1), clamped to `[min, max]`
/// (kubernetes/kubernetes:pkg/controller/podautoscaler/replica_calculator.go, applied to
/// instances).
pub fn desired_instances(spec: &ElasticScalerSpec, current: u32, utilization: f64) -> u32 {
    let ratio = utilization / spec.target_utilization.max(1) as f64;
    let want = if current == 0 || (ratio - 1.0).abs() <= crate::hpa::TOLERANCE {
        current
    } else {
        (ratio * current as f64).ceil() as u32
    };
    want.clamp(
        spec.min_instances,
        spec.max_instances.max(spec.min_instances),
    )
}

/// Spreads `desired` instances over the pods: scale-up fills existing pods (most room first,
/// then pod id) up to `max_per_pod` and the node's room, and asks for new pods for the rest;
/// scale-down removes instances from the fullest pods first and drops pods only when every
/// pod is down to one instance. `pending_pods` are pods of the Deployment not yet running
/// (they will come with one instance each).
pub fn distribute(
    spec: &ElasticScalerSpec,
    pods: &[ElasticPodObs],
    pending_pods: u32,
    desired: u32,
) -> ElasticDecision {
    let mut reps: Vec<(u64, u32, u32)> = pods.iter().map(|p| (p.id, p.replicas, p.room)).collect();
    let current: u32 = reps.iter().map(|r| r.1).sum::<u32>() + pending_pods;
    let mut decision = ElasticDecision {
        desired_instances: desired,
        ..Default::default()
    };
    if desired > current {
        let mut need = desired - current;
        // Most room first, so instances land where they start at once.
        let mut order: Vec<usize> = (0..reps.len()).collect();
        order.sort_by_key(|&i| (std::cmp::Reverse(reps[i].2), reps[i].0));
        for i in order {
            if need == 0 {
                break;
            }
            let cap = spec.max_per_pod.saturating_sub(reps[i].1).min(reps[i].2);
            let add = cap.min(need);
            reps[i].1 += add;
            need -= add;
        }
        if need > 0 {
            // New pods start with one instance each (the template's replica).
            decision.set_pods = Some(reps.len() as u32 + pending_pods + need);
        }
    } else if desired < current {
        let mut extra = current - desired;
        while extra > 0 {
            // The fullest pod gives one instance back (ties: the newest pod).
            let Some(i) = (0..reps.len())
                .filter(|&i| reps[i].1 > 1)
                .max_by_key(|&i| (reps[i].1, reps[i].0))
            else {
                break;
            };
            reps[i].1 -= 1;
            extra -= 1;
        }
        if extra > 0 {
            let pods_now = reps.len() as u32 + pending_pods;
            let keep = pods_now.saturating_sub(extra).max(spec.min_pods).max(1);
            if keep < pods_now {
                decision.set_pods = Some(keep);
            }
        }
    }
    decision.set_replicas = reps
        .iter()
        .zip(pods)
        .filter(|(r, p)| r.1 != p.replicas)
        .map(|(r, _)| (r.0, r.1))
        .collect();
    decision
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, image: &str, replica: Option<i64>) -> ContainerSpec {
        ContainerSpec {
            name: name.into(),
            image: (!image.is_empty()).then(|| image.to_string()),
            replica,
        }
    }

    #[test]
    fn validation_bounds_and_unknown_containers() {
        let before = [c("stress", "debian:11", None)];
        assert_eq!(
            validate(&before, &[c("stress", "debian:11", Some(2))], 10),
            Ok(())
        );
        assert_eq!(
            validate(&before, &[c("stress", "debian:11", Some(0))], 10),
            Ok(())
        );
        let e = validate(&before, &[c("stress", "debian:11", Some(-1))], 10).unwrap_err();
        assert_eq!(
            e.to_string(),
            "spec.containers[0].replica: Invalid value: -1: must be greater than or equal to 0"
        );
        let e = validate(&before, &[c("stress", "debian:11", Some(11))], 10).unwrap_err();
        assert_eq!(
            e.to_string(),
            "spec.containers[0].replica: Invalid value: 11: must be less than or equal to 10"
        );
        // A patch that only names an unknown container (a typo) is rejected…
        let e = validate(
            &before,
            &[c("stress", "debian:11", None), c("stres", "", Some(2))],
            10,
        )
        .unwrap_err();
        assert_eq!(e.field, "spec.containers[1].name");
        assert!(e.message.contains("\"stres\""), "{e}");
        // …a full new container (sidecar injection) is accepted.
        assert_eq!(
            validate(
                &before,
                &[c("stress", "debian:11", None), c("dpi", "dpi:1", None)],
                10
            ),
            Ok(())
        );
    }

    #[test]
    fn admission_follows_the_seed_flow() {
        let alloc = Resources::new(4000, 8 << 30);
        // The pod holds 1 CPU, the node 3 CPU in all.
        let cur = Resources::new(1000, 1 << 30);
        let used = Resources::new(3000, 3 << 30);
        // +1 CPU: room now.
        assert_eq!(
            admit(&cur, &Resources::new(2000, 2 << 30), &used, &alloc),
            Admission::Admit
        );
        // +2 CPU: fits the node's allocatable but not its free room.
        assert_eq!(
            admit(&cur, &Resources::new(3000, 3 << 30), &used, &alloc),
            Admission::Wait
        );
        // 5 CPU for the pod alone: more than the node has.
        assert_eq!(
            admit(&cur, &Resources::new(5000, 5 << 30), &used, &alloc),
            Admission::Infeasible
        );
        // Scale-down always has room.
        assert_eq!(
            admit(&cur, &Resources::new(0, 0), &used, &alloc),
            Admission::Admit
        );
        // Exactly full is room (≤, as the scheduler's fit filter).
        assert_eq!(
            admit(&cur, &Resources::new(2000, 1 << 30), &used, &alloc),
            Admission::Admit
        );
    }

    #[test]
    fn plan_touches_only_changed_containers() {
        let running = [c("app", "app:1", Some(2)), c("log", "fluent:1", None)];
        let desired = [
            c("app", "app:1", Some(5)),
            c("log", "fluent:1", None),
            c("dpi", "dpi:1", None),
        ];
        let p = plan(&running, &desired);
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].name.as_str(), p[0].from, p[0].to), ("app", 2, 5));
        assert_eq!((p[0].starts(), p[0].stops()), (3, 0));
        assert!(p[1].added && p[1].starts() == 1 && p[1].name == "dpi");
        // An image swap replaces the running instances of that container only.
        let p = plan(
            &running,
            &[c("app", "app:1", Some(2)), c("log", "fluent:2", None)],
        );
        assert_eq!(p.len(), 1);
        assert!(p[0].image_swap);
        assert_eq!((p[0].starts(), p[0].stops()), (1, 1));
        // Scale to zero and back.
        let p = plan(
            &running,
            &[c("app", "app:1", Some(0)), c("log", "fluent:1", None)],
        );
        assert_eq!((p[0].starts(), p[0].stops()), (0, 2));
        assert_eq!(instance_name("app", 0), "app");
        assert_eq!(instance_name("app", 3), "app-3");
    }

    fn spec() -> ElasticScalerSpec {
        ElasticScalerSpec {
            min_instances: 1,
            max_instances: 40,
            max_per_pod: 4,
            min_pods: 1,
            target_utilization: 50,
        }
    }

    #[test]
    fn desired_instances_is_the_hpa_formula() {
        // 4 instances at 100% of a 50% target → 8.
        assert_eq!(desired_instances(&spec(), 4, 100.0), 8);
        // Within tolerance: unchanged.
        assert_eq!(desired_instances(&spec(), 4, 54.0), 4);
        // 10 at 10% → 2; clamped to max.
        assert_eq!(desired_instances(&spec(), 10, 10.0), 2);
        assert_eq!(desired_instances(&spec(), 30, 100.0), 40);
    }

    #[test]
    fn distribute_fills_pods_before_adding_pods() {
        let pods = [
            ElasticPodObs {
                id: 1,
                replicas: 1,
                room: 10,
            },
            ElasticPodObs {
                id: 2,
                replicas: 1,
                room: 1,
            },
        ];
        // 2 → 5: pod 1 (most room) to 4, pod 2 to 2 (its room).
        let d = distribute(&spec(), &pods, 0, 5);
        assert_eq!(d.set_replicas, vec![(1, 4)]);
        assert_eq!(d.set_pods, None);
        let d = distribute(&spec(), &pods, 0, 6);
        assert_eq!(d.set_replicas, vec![(1, 4), (2, 2)]);
        assert_eq!(d.set_pods, None);
        // 2 → 9: both pods full (4 + 2), three more instances come as three new pods.
        let d = distribute(&spec(), &pods, 0, 9);
        assert_eq!(d.set_replicas, vec![(1, 4), (2, 2)]);
        assert_eq!(d.set_pods, Some(5));
        // Pending pods count as one instance each.
        let d = distribute(&spec(), &pods, 3, 9);
        assert_eq!(d.set_replicas, vec![(1, 4), (2, 2)]);
        assert_eq!(d.set_pods, None);
    }

    #[test]
    fn distribute_scales_down_fullest_first_then_pods() {
        let pods = [
            ElasticPodObs {
                id: 1,
                replicas: 4,
                room: 0,
            },
            ElasticPodObs {
                id: 2,
                replicas: 2,
                room: 0,
            },
            ElasticPodObs {
                id: 3,
                replicas: 1,
                room: 0,
            },
        ];
        let d = distribute(&spec(), &pods, 0, 5);
        assert_eq!(d.set_replicas, vec![(1, 2)]);
        assert_eq!(d.set_pods, None);
        // Down to 2: every pod at one instance (3), then one pod goes.
        let d = distribute(&spec(), &pods, 0, 2);
        assert_eq!(d.set_replicas, vec![(1, 1), (2, 1)]);
        assert_eq!(d.set_pods, Some(2));
    }
}
