//! NodePool disruption budgets: how many of a pool's nodes may be disrupted at once.
//!
//! kubernetes-sigs/karpenter: pkg/apis/v1/nodepool.go (`Budget`, `GetAllowedDisruptions`,
//! `GetAllowedDisruptionsByReason`, `IsActive`) and pkg/controllers/disruption/helpers.go
//! (`BuildDisruptionBudgetMapping`). `nodes` is an integer or a percentage of the pool's
//! (initialized) nodes rounded up; a budget with `schedule` + `duration` is active only for
//! `duration` after each cron hit (UTC), an inactive budget allows any number; `reasons`
//! restricts a budget to some disruption reasons (unset = all). The pool allows the minimum over
//! its budgets, minus the nodes already being disrupted (or NotReady). Default: one budget of
//! `10%`.

use super::cron::Cron;

/// Why a node is disrupted (`DisruptionReason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// An empty node (Emptiness).
    Empty,
    /// An underutilized node (single- and multi-node consolidation).
    Underutilized,
    /// A drifted node.
    Drifted,
}

impl Reason {
    /// The API spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::Empty => "Empty",
            Reason::Underutilized => "Underutilized",
            Reason::Drifted => "Drifted",
        }
    }

    /// Parses the API spelling.
    pub fn parse(s: &str) -> Result<Reason, String> {
        match s {
            "Empty" => Ok(Reason::Empty),
            "Underutilized" => Ok(Reason::Underutilized),
            "Drifted" => Ok(Reason::Drifted),
            _ => Err(format!(
                "unsupported value: \"{s}\": supported values: \"Underutilized\", \"Empty\", \"Drifted\""
            )),
        }
    }
}

/// `nodes`: a count or a percentage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nodes {
    /// At most this many nodes.
    Count(u64),
    /// At most this percentage of the pool's nodes, rounded up.
    Percent(u64),
}

/// One budget of a NodePool.
#[derive(Clone, Debug, PartialEq)]
pub struct Budget {
    /// `nodes`.
    pub nodes: Nodes,
    /// `reasons` (empty = every reason).
    pub reasons: Vec<Reason>,
    /// `schedule` and `duration` (ms), if set.
    pub schedule: Option<(Cron, u64)>,
}

impl Budget {
    /// The default budget, `{nodes: "10%"}`.
    pub fn default_budget() -> Budget {
        Budget {
            nodes: Nodes::Percent(10),
            reasons: vec![],
            schedule: None,
        }
    }

    /// Builds a budget from its fields, validated as the CRD does (`nodes` matches
    /// `^((100|[0-9]{1,2})%|[0-9]+)$`; `schedule` and `duration` go together).
    pub fn parse(
        nodes: &str,
        reasons: &[String],
        schedule: Option<&str>,
        duration_ms: Option<u64>,
    ) -> Result<Budget, String> {
        let bad = || {
            format!(
                "nodes: invalid value \"{nodes}\": must be an integer or a percentage from 0% to 100%"
            )
        };
        let n = if let Some(p) = nodes.strip_suffix('%') {
            let v: u64 = p.parse().map_err(|_| bad())?;
            if v > 100 || p.len() > 3 || p.starts_with('+') {
                return Err(bad());
            }
            Nodes::Percent(v)
        } else {
            if nodes.is_empty() || !nodes.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            Nodes::Count(nodes.parse().map_err(|_| bad())?)
        };
        let reasons = reasons
            .iter()
            .map(|r| Reason::parse(r).map_err(|e| format!("reasons: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let schedule = match (schedule, duration_ms) {
            (None, None) => None,
            (Some(s), Some(d)) => Some((
                Cron::parse(s).map_err(|e| format!("schedule: invalid cron \"{s}\": {e}"))?,
                d,
            )),
            _ => return Err("'schedule' must be set with 'duration'".into()),
        };
        Ok(Budget {
            nodes: n,
            reasons,
            schedule,
        })
    }

    /// Whether the budget is active at `unix_ms` (always, without a schedule).
    pub fn is_active(&self, unix_ms: i64) -> bool {
        self.schedule
            .as_ref()
            .is_none_or(|(c, d)| c.fired_within(unix_ms, *d))
    }

    /// Disruptions this budget allows for a pool of `num_nodes` nodes (`u64::MAX` if inactive).
    pub fn allowed(&self, unix_ms: i64, num_nodes: u64) -> u64 {
        if !self.is_active(unix_ms) {
            return u64::MAX;
        }
        match self.nodes {
            Nodes::Count(n) => n,
            Nodes::Percent(p) => (p * num_nodes).div_ceil(100),
        }
    }

    /// Whether the budget applies to `reason`.
    pub fn applies_to(&self, reason: Reason) -> bool {
        self.reasons.is_empty() || self.reasons.contains(&reason)
    }
}

/// Disruptions the budgets allow for `reason` (minimum over applicable budgets; `u64::MAX` when
/// none is active).
pub fn allowed_by_reason(budgets: &[Budget], reason: Reason, unix_ms: i64, num_nodes: u64) -> u64 {
    budgets
        .iter()
        .filter(|b| b.applies_to(reason))
        .map(|b| b.allowed(unix_ms, num_nodes))
        .min()
        .unwrap_or(u64::MAX)
}

/// What a pool may still disrupt now: the allowed disruptions minus the nodes already
/// disrupting (or NotReady), never below 0 (`BuildDisruptionBudgetMapping`).
pub fn remaining(
    budgets: &[Budget],
    reason: Reason,
    unix_ms: i64,
    num_nodes: u64,
    disrupting: u64,
) -> u64 {
    allowed_by_reason(budgets, reason, unix_ms, num_nodes).saturating_sub(disrupting)
}

#[cfg(test)]
mod tests {
    use super::super::cron::unix_ms;
    use super::*;

    const H: u64 = 3_600_000;

    /// The budgets of kubernetes-sigs/karpenter pkg/apis/v1/nodepool_budgets_test.go
    /// (`BeforeEach`), at 2000-06-15T12:30:30Z.
    fn upstream_budgets() -> Vec<Budget> {
        let r = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        vec![
            Budget::parse("10", &[], Some("* * * * *"), Some(H)).unwrap(),
            Budget::parse("100", &[], Some("* * * * *"), Some(H)).unwrap(),
            Budget::parse("100%", &[], Some("* * * * *"), Some(H)).unwrap(),
            Budget::parse(
                "15",
                &r(&["Drifted", "Underutilized"]),
                Some("* * * * *"),
                Some(H),
            )
            .unwrap(),
            Budget::parse("5", &r(&["Drifted"]), Some("* * * * *"), Some(H)).unwrap(),
            Budget::parse(
                "0",
                &r(&["Underutilized", "Drifted", "Empty"]),
                Some("@weekly"),
                Some(H),
            )
            .unwrap(),
        ]
    }

    #[test]
    fn upstream_allowed_disruptions() {
        let now = unix_ms(2000, 6, 15, 12, 30, 30);
        let b = upstream_budgets();
        // "should return the int value when a budget is active"
        assert_eq!(b[0].allowed(now, 100), 10);
        // "should return the string value when a budget is active" (100% of 100)
        assert_eq!(b[2].allowed(now, 100), 100);
        // "should get the minimum budget for each reason" (the @weekly 0 is inactive on a
        // Thursday): Empty → 10, Underutilized → 10, Drifted → 5.
        assert_eq!(allowed_by_reason(&b, Reason::Empty, now, 100), 10);
        assert_eq!(allowed_by_reason(&b, Reason::Underutilized, now, 100), 10);
        assert_eq!(allowed_by_reason(&b, Reason::Drifted, now, 100), 5);
        let mut four = b.clone();
        four.push(Budget::parse("4", &["Empty".into()], Some("* * * * *"), Some(H)).unwrap());
        assert_eq!(allowed_by_reason(&four, Reason::Empty, now, 100), 4);
        assert_eq!(
            allowed_by_reason(&four, Reason::Underutilized, now, 100),
            10
        );
        // "should return 0 for all reasons if a budget is active for all reasons"
        let mut all = b.clone();
        all[5].schedule = Some((Cron::parse("* * * * *").unwrap(), H));
        for r in [Reason::Empty, Reason::Underutilized, Reason::Drifted] {
            assert_eq!(allowed_by_reason(&all, r, now, 100), 0);
        }
        // "should return MaxInt32 for all reasons when there are no active budgets"
        let inactive: Vec<Budget> = b
            .iter()
            .cloned()
            .map(|mut x| {
                x.schedule = Some((Cron::parse("@yearly").unwrap(), H));
                x
            })
            .collect();
        assert_eq!(
            allowed_by_reason(&inactive, Reason::Empty, now, 100),
            u64::MAX
        );
        // "should return zero values if a nodes value is invalid" → rejected at parse here.
        assert!(Budget::parse("-10", &[], None, None).is_err());
        assert!(Budget::parse("101%", &[], None, None).is_err());
        assert!(Budget::parse("10", &[], Some("* * * * *"), None).is_err());
    }

    #[test]
    fn percent_rounds_up_and_disrupting_nodes_count() {
        // 10% of 5 nodes rounds up to 1 (as PDB maxUnavailable), of 25 to 3, of 0 to 0.
        let d = [Budget::default_budget()];
        assert_eq!(allowed_by_reason(&d, Reason::Underutilized, 0, 5), 1);
        assert_eq!(allowed_by_reason(&d, Reason::Underutilized, 0, 25), 3);
        assert_eq!(allowed_by_reason(&d, Reason::Underutilized, 0, 0), 0);
        // Two nodes already disrupting leave one of three.
        assert_eq!(remaining(&d, Reason::Empty, 0, 25, 2), 1);
        assert_eq!(remaining(&d, Reason::Empty, 0, 25, 5), 0);
        // A business-hours freeze for Underutilized only.
        let r = vec!["Underutilized".to_string()];
        let b = [
            Budget::parse("50%", &[], None, None).unwrap(),
            Budget::parse("0", &r, Some("0 9 * * mon-fri"), Some(8 * H)).unwrap(),
        ];
        let tue10 = unix_ms(2024, 1, 9, 10, 0, 0);
        assert_eq!(allowed_by_reason(&b, Reason::Underutilized, tue10, 10), 0);
        assert_eq!(allowed_by_reason(&b, Reason::Empty, tue10, 10), 5);
        let tue18 = unix_ms(2024, 1, 9, 18, 0, 0);
        assert_eq!(allowed_by_reason(&b, Reason::Underutilized, tue18, 10), 5);
    }
}
