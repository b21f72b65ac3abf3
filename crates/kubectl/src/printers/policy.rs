//! PriorityClasses (`scheduling.k8s.io`) and PodDisruptionBudgets (`policy`):
//! `printPriorityClass`, `printPodDisruptionBudget`.

use serde_json::Value;

use super::cells::{int_at, int_or_string, name_of, s, str_at};
use super::table::TableDef;
use super::time::age_of;

/// `kubectl get priorityclasses` (printPriorityClass).
pub(super) const PRIORITY_CLASS: TableDef = TableDef {
    headers: &["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"],
    wide_extra: 0,
    row: |o, now| {
        vec![
            name_of(o),
            int_at(o, &["value"]).to_string(),
            s(o, &["globalDefault"])
                .and_then(Value::as_bool)
                .unwrap_or(false)
                .to_string(),
            age_of(s(o, &["metadata", "creationTimestamp"]), now),
            str_at(o, &["preemptionPolicy"]).to_string(),
        ]
    },
};

/// `kubectl get pdb` (printPodDisruptionBudget).
pub(super) const POD_DISRUPTION_BUDGET: TableDef = TableDef {
    headers: &[
        "NAME",
        "MIN AVAILABLE",
        "MAX UNAVAILABLE",
        "ALLOWED DISRUPTIONS",
        "AGE",
    ],
    wide_extra: 0,
    row: |o, now| {
        vec![
            name_of(o),
            int_or_string(s(o, &["spec", "minAvailable"])).unwrap_or_else(|| "N/A".into()),
            int_or_string(s(o, &["spec", "maxUnavailable"])).unwrap_or_else(|| "N/A".into()),
            int_at(o, &["status", "disruptionsAllowed"]).to_string(),
            age_of(s(o, &["metadata", "creationTimestamp"]), now),
        ]
    },
};
