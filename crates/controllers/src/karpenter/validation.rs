//! Re-validation of a disruption command after its 15-second wait.
//!
//! kubernetes-sigs/karpenter pkg/controllers/disruption/validation.go (`ValidateCandidates`:
//! every candidate of the command must still be one, and the budgets must still allow each;
//! `ValidateCommand`: the scheduling simulation over the current cluster must give the same
//! result: a delete stays a delete, a replacement still one node with the launched offering
//! among its options). The twin's reasons (`churn`, `budget`, `scheduling`) name which check
//! failed.

use super::Offering;
use super::consolidation::{Candidate, Decision};

/// Why a command is rejected at validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// A candidate is no longer one (`N candidates are no longer valid`).
    Churn,
    /// A candidate's pool has no disruption left (`a candidate can no longer be disrupted
    /// without violating budgets`).
    Budget,
    /// The simulation now decides otherwise (`scheduling simulation produced new results`).
    Scheduling,
}

impl Rejection {
    /// The reason's word in `ConsolidationRejected` events.
    pub fn as_str(&self) -> &'static str {
        match self {
            Rejection::Churn => "churn",
            Rejection::Budget => "budget",
            Rejection::Scheduling => "scheduling",
        }
    }
}

/// `ValidateCandidates`: `found` gives, for each of the command's candidates, its index among
/// the current `candidates` (`None`: no longer a candidate); `budgets` the disruptions each pool
/// allows now. The candidates' indices, or why the command is rejected (churn before budgets).
pub fn validate_candidates(
    found: impl IntoIterator<Item = Option<usize>>,
    candidates: &[Candidate<'_>],
    budgets: &[u64],
) -> Result<Vec<usize>, Rejection> {
    let idx = found
        .into_iter()
        .collect::<Option<Vec<usize>>>()
        .ok_or(Rejection::Churn)?;
    let mut left = budgets.to_vec();
    for i in &idx {
        let p = candidates[*i].pool;
        if left[p] == 0 {
            return Err(Rejection::Budget);
        }
        left[p] -= 1;
    }
    Ok(idx)
}

/// `ValidateCommand`: the simulation's `result` now against the command's `launched`
/// replacement (`None` for a delete); a replacement stays valid while the offering it launches
/// (same instance type, capacity type and zone) is among the new options (of `offerings`).
pub fn validate_command(
    result: &Result<Decision, String>,
    launched: Option<&Offering>,
    offerings: &[Offering],
) -> Result<(), Rejection> {
    match (result, launched) {
        (Ok(Decision::Delete), None) => Ok(()),
        (Ok(Decision::Replace(r)), Some(want)) => {
            let same = r.options.iter().any(|o| {
                let x = &offerings[*o];
                x.instance_type == want.instance_type
                    && x.capacity_type == want.capacity_type
                    && x.zone == want.zone
            });
            if same {
                Ok(())
            } else {
                Err(Rejection::Scheduling)
            }
        }
        _ => Err(Rejection::Scheduling),
    }
}

#[cfg(test)]
mod tests {
    use kscale_model::Resources;
    use kscale_model::labels::Labels;

    use super::*;
    use crate::karpenter::consolidation::{CandidatePods, Replacement};

    fn cand(node: &str, pool: usize) -> Candidate<'_> {
        Candidate {
            node,
            pool,
            instance_type: "m5.large",
            capacity_type: "on-demand",
            price: 0.1,
            capacity: Resources::ZERO,
            pods: CandidatePods::all(&[]),
            disruption_cost: 0.0,
            reschedule_cost: 1.0,
            destination: None,
        }
    }

    fn offering(name: &str, cap: &str, zone: &str) -> Offering {
        Offering {
            instance_type: name.into(),
            capacity_type: cap.into(),
            zone: zone.into(),
            capacity: Resources::ZERO,
            allocatable: Resources::ZERO,
            price: 0.1,
            labels: Labels::new(),
        }
    }

    #[test]
    fn candidates_must_still_be_candidates_within_budget() {
        // validation_test.go: churn (a candidate is gone) is checked before the budgets.
        let c = [cand("a", 0), cand("b", 0), cand("c", 1)];
        assert_eq!(
            validate_candidates([Some(2), Some(0)], &c, &[1, 1]),
            Ok(vec![2, 0])
        );
        assert_eq!(
            validate_candidates([Some(0), None], &c, &[0, 0]),
            Err(Rejection::Churn)
        );
        assert_eq!(
            validate_candidates([Some(0), Some(1)], &c, &[1, 5]),
            Err(Rejection::Budget)
        );
        assert_eq!(Rejection::Budget.as_str(), "budget");
    }

    #[test]
    fn the_simulation_must_agree() {
        // validation.go ValidateCommand: delete ↔ no new NodeClaim; replace ↔ the launched
        // type still among the options.
        let offerings = [
            offering("m5.large", "on-demand", "z1"),
            offering("m5.large", "spot", "z1"),
            offering("m5.large", "on-demand", "z2"),
        ];
        let replace = |options: Vec<usize>| {
            Ok(Decision::Replace(Replacement {
                pool: 0,
                options,
                pods: vec![],
                requests: Resources::ZERO,
            }))
        };
        assert_eq!(
            validate_command(&Ok(Decision::Delete), None, &offerings),
            Ok(())
        );
        assert_eq!(
            validate_command(&Ok(Decision::Delete), Some(&offerings[0]), &offerings),
            Err(Rejection::Scheduling)
        );
        assert_eq!(
            validate_command(&replace(vec![1, 0]), Some(&offerings[0]), &offerings),
            Ok(())
        );
        assert_eq!(
            validate_command(&replace(vec![1, 2]), Some(&offerings[0]), &offerings),
            Err(Rejection::Scheduling)
        );
        assert_eq!(
            validate_command(&replace(vec![0]), None, &offerings),
            Err(Rejection::Scheduling)
        );
        assert_eq!(
            validate_command(&Err("no fit".into()), None, &offerings),
            Err(Rejection::Scheduling)
        );
    }
}
