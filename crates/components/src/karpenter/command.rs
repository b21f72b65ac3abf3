//! Karpenter's disruption commands (pkg/controllers/disruption/types.go `Command`: candidates,
//! replacements, its reason and method) and the record of decisions summary.json shows.

use std::collections::BTreeMap;

use kscale_controllers::karpenter::budget::Reason;
use kscale_controllers::karpenter::consolidation::{Candidate, Decision};
use kscale_controllers::karpenter::{Offering, Pool};
use kscale_model::Resources;
use serde_json::{Value, json};

/// The replacement a command launches.
#[derive(Debug, Clone)]
pub struct PlannedReplacement {
    /// Pool name.
    pub pool: String,
    /// The offering to launch.
    pub offering: Offering,
    /// Requests planned onto it.
    pub requests: Resources,
}

/// A disruption command (decided, validating or running).
#[derive(Debug, Clone)]
pub struct Command {
    /// `Empty` or `Underutilized`.
    pub reason: Reason,
    /// `empty`, `multi` or `single`.
    pub method: &'static str,
    /// Candidate nodes: (name, uid, instance type, capacity type, price).
    pub nodes: Vec<(String, String, String, String, f64)>,
    /// The replacement, if any.
    pub replacement: Option<PlannedReplacement>,
    /// The launched replacement's NodeClaim.
    pub claim: Option<String>,
    /// Hourly savings, USD.
    pub savings: f64,
}

impl Command {
    /// The command for a method's choice: the candidates `idx` of `cands` (each node's uid from
    /// `uid`), deleted or replaced as `decision` says (its pool and offering indexing `pools`
    /// and `offerings`), with the method's reason, name and savings.
    pub fn chosen(
        cands: &[Candidate<'_>],
        idx: &[usize],
        decision: &Decision,
        (pools, offerings): (&[Pool], &[Offering]),
        (reason, method, savings): (Reason, &'static str, f64),
        uid: impl Fn(&str) -> String,
    ) -> Command {
        let nodes = idx
            .iter()
            .map(|i| {
                let c = &cands[*i];
                (
                    c.node.to_string(),
                    uid(c.node),
                    c.instance_type.to_string(),
                    c.capacity_type.to_string(),
                    c.price,
                )
            })
            .collect();
        let replacement = match decision {
            Decision::Delete => None,
            Decision::Replace(r) => Some(PlannedReplacement {
                pool: pools[r.pool].name.clone(),
                offering: offerings[r.offering()].clone(),
                requests: r.requests,
            }),
        };
        Command {
            reason,
            method,
            nodes,
            replacement,
            claim: None,
            savings,
        }
    }

    /// `replace` or `delete`.
    pub fn decision(&self) -> &'static str {
        if self.replacement.is_some() {
            "replace"
        } else {
            "delete"
        }
    }

    /// Upstream `Command.String()` (without the command id).
    pub fn describe(&self) -> String {
        let names: Vec<&str> = self.nodes.iter().map(|n| n.0.as_str()).collect();
        match &self.replacement {
            Some(_) => format!(
                "{}: [{}] -> [1 replacement]",
                self.decision(),
                names.join(", ")
            ),
            None => format!("{}: [{}]", self.decision(), names.join(", ")),
        }
    }
}

/// One disruption decision, for summary.json.
#[derive(Debug, Clone)]
pub struct DecisionRecord {
    /// Seconds since the start.
    pub time: f64,
    /// `delete` or `replace`.
    pub decision: &'static str,
    /// `Empty` or `Underutilized`.
    pub reason: &'static str,
    /// `empty`, `multi` or `single`.
    pub method: &'static str,
    /// Nodes disrupted, with their instance and capacity types.
    pub nodes: Vec<String>,
    /// The replacement's instance and capacity type.
    pub replacement: Option<String>,
    /// Hourly savings, USD.
    pub savings: f64,
}

/// The `karpenter` section of summary.json from its figures: NodeClaims launched, nodes
/// disrupted, the commands taken (by reason, decision and method, with those rejected at
/// validation) and each decision. Shared by the twin and the `--cluster` backend.
pub fn summary_json(
    launches: u64,
    disrupted: u64,
    decisions: &[DecisionRecord],
    rejected: u64,
) -> Value {
    let mut by_reason: BTreeMap<&str, u64> = BTreeMap::new();
    let mut by_decision: BTreeMap<&str, u64> = BTreeMap::new();
    let mut by_method: BTreeMap<&str, u64> = BTreeMap::new();
    for r in decisions {
        *by_reason.entry(r.reason).or_insert(0) += 1;
        *by_decision.entry(r.decision).or_insert(0) += 1;
        *by_method.entry(r.method).or_insert(0) += 1;
    }
    let decisions: Vec<Value> = decisions
        .iter()
        .map(|r| {
            json!({"time": r.time, "decision": r.decision, "reason": r.reason, "method": r.method,
                "nodes": r.nodes, "replacement": r.replacement,
                "savingsUsdPerHour": (r.savings * 10_000.0).round() / 10_000.0})
        })
        .collect();
    json!({
        "launches": launches,
        "nodesDisrupted": disrupted,
        "commands": {"byReason": by_reason, "byDecision": by_decision, "byMethod": by_method,
            "rejectedAtValidation": rejected},
        "decisions": decisions,
    })
}
