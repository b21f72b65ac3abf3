//! cluster-proportional-autoscaler decision logic (linear and ladder modes).
//!
//! Follows kubernetes-sigs/cluster-proportional-autoscaler
//! `pkg/autoscaler/controller/linearcontroller/linear_controller.go` and
//! `pkg/autoscaler/controller/laddercontroller/ladder_controller.go`. Parameters come from the
//! ConfigMap's single `linear` or `ladder` key (JSON); the backend parses them into these types.

/// `linear` parameters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinearParams {
    /// Cores per replica (0 = ignore cores).
    pub cores_per_replica: f64,
    /// Nodes per replica (0 = ignore nodes).
    pub nodes_per_replica: f64,
    /// Minimum replicas (0 is treated as 1, as upstream).
    pub min: i32,
    /// Maximum replicas (0 = no maximum).
    pub max: i32,
    /// At least 2 replicas when there is more than one node.
    pub prevent_single_point_failure: bool,
    /// Count all nodes and cores, not only schedulable ones.
    pub include_unschedulable_nodes: bool,
}

/// `ladder` parameters: sorted `[threshold, replicas]` steps.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LadderParams {
    /// Steps over cores.
    pub cores_to_replicas: Vec<(i64, i32)>,
    /// Steps over nodes.
    pub nodes_to_replicas: Vec<(i64, i32)>,
    /// Count all nodes and cores, not only schedulable ones.
    pub include_unschedulable_nodes: bool,
}

/// The cluster size CPA looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ClusterStatus {
    /// All matching nodes.
    pub total_nodes: i64,
    /// Matching nodes that are Ready and not cordoned.
    pub schedulable_nodes: i64,
    /// `ceil(Σ allocatable cpu)` over all matching nodes.
    pub total_cores: i64,
    /// `ceil(Σ allocatable cpu)` over schedulable nodes.
    pub schedulable_cores: i64,
}

impl LinearParams {
    /// Validates as upstream's parser does: no negative values, at least one per-replica ratio,
    /// `max` ≥ `min` when set. Applies `min: 0 → 1`.
    pub fn validated(mut self) -> Result<Self, String> {
        if self.cores_per_replica < 0.0
            || self.nodes_per_replica < 0.0
            || self.min < 0
            || self.max < 0
        {
            return Err("parameters must be non-negative".into());
        }
        if self.cores_per_replica == 0.0 && self.nodes_per_replica == 0.0 {
            return Err("either coresPerReplica or nodesPerReplica must be set".into());
        }
        if self.min == 0 {
            self.min = 1;
        }
        if self.max != 0 && self.max < self.min {
            return Err(format!(
                "max ({}) must be greater than or equal to min ({})",
                self.max, self.min
            ));
        }
        Ok(self)
    }

    /// Desired replicas (`GetExpectedReplicas` of the linear controller).
    pub fn replicas(&self, s: &ClusterStatus) -> i32 {
        let (nodes, cores) = if self.include_unschedulable_nodes {
            (s.total_nodes, s.total_cores)
        } else {
            (s.schedulable_nodes, s.schedulable_cores)
        };
        let f = |x: i64, per: f64| -> i32 {
            if per == 0.0 {
                return 1;
            }
            let r = (x as f64 / per).ceil() as i32;
            let r = if self.max != 0 { r.min(self.max) } else { r };
            r.max(self.min)
        };
        let c = f(cores, self.cores_per_replica);
        let mut n = f(nodes, self.nodes_per_replica);
        if self.prevent_single_point_failure && nodes > 1 && n < 2 {
            n = 2;
        }
        c.max(n)
    }
}

fn ladder_lookup(steps: &[(i64, i32)], value: i64) -> i32 {
    if steps.is_empty() {
        return 0;
    }
    // The entry before the first threshold above `value`, but at least the first entry.
    let idx = steps
        .iter()
        .position(|(t, _)| *t > value)
        .unwrap_or(steps.len());
    steps[idx.saturating_sub(1)].1
}

impl LadderParams {
    /// Validates (non-negative) and sorts the steps, as upstream's parser does.
    pub fn validated(mut self) -> Result<Self, String> {
        for (t, r) in self.cores_to_replicas.iter().chain(&self.nodes_to_replicas) {
            if *t < 0 || *r < 0 {
                return Err("ladder entries must be non-negative".into());
            }
        }
        self.cores_to_replicas.sort();
        self.nodes_to_replicas.sort();
        Ok(self)
    }

    /// Desired replicas (`GetExpectedReplicas` of the ladder controller).
    pub fn replicas(&self, s: &ClusterStatus) -> i32 {
        let (nodes, cores) = if self.include_unschedulable_nodes {
            (s.total_nodes, s.total_cores)
        } else {
            (s.schedulable_nodes, s.schedulable_cores)
        };
        ladder_lookup(&self.cores_to_replicas, cores)
            .max(ladder_lookup(&self.nodes_to_replicas, nodes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(cores: i64, nodes: i64) -> ClusterStatus {
        ClusterStatus {
            total_nodes: nodes,
            schedulable_nodes: nodes,
            total_cores: cores,
            schedulable_cores: cores,
        }
    }

    #[test]
    fn linear_cores_per_replica() {
        // linear_controller_test.go TestControllerScaler: coresPerReplica 2, min 2, max 100.
        let p = LinearParams {
            cores_per_replica: 2.0,
            min: 2,
            max: 100,
            ..Default::default()
        }
        .validated()
        .unwrap();
        for (cores, want) in [(0, 2), (6, 3), (11, 6), (21, 11), (40, 20)] {
            assert_eq!(p.replicas(&status(cores, 0)), want, "cores {cores}");
        }
    }

    #[test]
    fn linear_prevent_single_point_failure() {
        // linear_controller_test.go: coresPerReplica 2, nodesPerReplica 2.5, SPF on; (cores, nodes).
        let p = LinearParams {
            cores_per_replica: 2.0,
            nodes_per_replica: 2.5,
            prevent_single_point_failure: true,
            ..Default::default()
        }
        .validated()
        .unwrap();
        for ((cores, nodes), want) in [((0, 0), 1), ((1, 2), 2), ((8, 16), 7), ((30, 49), 20)] {
            assert_eq!(
                p.replicas(&status(cores, nodes)),
                want,
                "({cores}, {nodes})"
            );
        }
    }

    #[test]
    fn linear_include_unschedulable() {
        // linear_controller_test.go: includeUnschedulableNodes uses totals; 210 cores, max 100.
        let p = LinearParams {
            cores_per_replica: 2.0,
            max: 100,
            include_unschedulable_nodes: true,
            ..Default::default()
        }
        .validated()
        .unwrap();
        let s = ClusterStatus {
            total_nodes: 30,
            schedulable_nodes: 10,
            total_cores: 210,
            schedulable_cores: 70,
        };
        assert_eq!(p.replicas(&s), 100);
        let q = LinearParams {
            include_unschedulable_nodes: false,
            ..p
        };
        assert_eq!(q.replicas(&s), 35);
    }

    #[test]
    fn linear_seed004() {
        // Seed 004: 8 cores or 4 nodes per replica, min 1, max 3: 3 t3.small nodes (6 cores) → 1,
        // 5 nodes (10 cores) → 2.
        let p = LinearParams {
            cores_per_replica: 8.0,
            nodes_per_replica: 4.0,
            min: 1,
            max: 3,
            include_unschedulable_nodes: true,
            ..Default::default()
        }
        .validated()
        .unwrap();
        assert_eq!(p.replicas(&status(6, 3)), 1);
        assert_eq!(p.replicas(&status(10, 5)), 2);
    }

    #[test]
    fn linear_validation() {
        assert!(LinearParams::default().validated().is_err());
        assert!(
            LinearParams {
                cores_per_replica: -1.0,
                ..Default::default()
            }
            .validated()
            .is_err()
        );
        assert!(
            LinearParams {
                cores_per_replica: 1.0,
                min: 5,
                max: 2,
                ..Default::default()
            }
            .validated()
            .is_err()
        );
        assert_eq!(
            LinearParams {
                cores_per_replica: 1.0,
                ..Default::default()
            }
            .validated()
            .unwrap()
            .min,
            1
        );
    }

    #[test]
    fn ladder_cases() {
        // ladder_controller_test.go TestControllerScaler.
        let steps = vec![(1, 1), (2, 2), (3, 3), (4, 4), (10, 10), (20, 20)];
        let p = LadderParams {
            cores_to_replicas: steps,
            ..Default::default()
        }
        .validated()
        .unwrap();
        for (cores, want) in [(0, 1), (6, 4), (19, 10), (40, 20)] {
            assert_eq!(p.replicas(&status(cores, 0)), want, "cores {cores}");
        }
        for steps in [vec![(0, 0), (3, 3)], vec![(1, 0), (3, 3)]] {
            let p = LadderParams {
                nodes_to_replicas: steps,
                ..Default::default()
            };
            for (nodes, want) in [(0, 0), (1, 0), (2, 0), (3, 3), (4, 3)] {
                assert_eq!(p.replicas(&status(0, nodes)), want, "nodes {nodes}");
            }
        }
        // includeUnschedulableNodes: 3 nodes / 12 cores in total vs 1 / 4 schedulable.
        let s = ClusterStatus {
            total_nodes: 3,
            schedulable_nodes: 1,
            total_cores: 12,
            schedulable_cores: 4,
        };
        let steps = vec![(1, 1), (2, 2), (3, 3)];
        let all = LadderParams {
            nodes_to_replicas: steps.clone(),
            include_unschedulable_nodes: true,
            ..Default::default()
        };
        let sched = LadderParams {
            nodes_to_replicas: steps,
            ..Default::default()
        };
        assert_eq!(all.replicas(&s), 3);
        assert_eq!(sched.replicas(&s), 1);
        assert!(
            LadderParams {
                cores_to_replicas: vec![(-1, 1)],
                ..Default::default()
            }
            .validated()
            .is_err()
        );
        assert_eq!(LadderParams::default().replicas(&status(5, 5)), 0);
    }
}
