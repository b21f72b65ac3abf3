//! PriorityClasses as the API server validates them
//! (`pkg/apis/scheduling/validation/validation.go`, v1.37.2).

use k8s_openapi::api::scheduling::v1::PriorityClass;

use super::autoscaling::json_str;
use super::field::{self, ErrorList, Path};

/// `scheduling.HighestUserDefinablePriority`.
const HIGHEST_USER_DEFINABLE_PRIORITY: i32 = 1_000_000_000;
/// `scheduling.SystemPriorityClassPrefix`.
const SYSTEM_PREFIX: &str = "system-";
/// The system priority classes (`schedulingapiv1.systemPriorityClasses`): name, value;
/// neither is the global default.
const SYSTEM_PRIORITY_CLASSES: [(&str, i32); 2] = [
    ("system-node-critical", 2_000_001_000),
    ("system-cluster-critical", 2_000_000_000),
];

/// `ValidatePriorityClass` beyond metadata (checked by the caller): a `system-` name must be a
/// known system priority class with its value and `globalDefault` false; any other may not
/// exceed 1000000000; `preemptionPolicy` (defaulted to `PreemptLowerPriority`) must be
/// `PreemptLowerPriority` or `Never`.
pub(super) fn priority_class(pc: &PriorityClass) -> ErrorList {
    let mut errs = ErrorList::new();
    // On create the name is generated before validation: a generateName prefix decides.
    let name = pc
        .metadata
        .name
        .as_deref()
        .filter(|n| !n.is_empty())
        .or(pc.metadata.generate_name.as_deref())
        .unwrap_or("");
    if name.starts_with(SYSTEM_PREFIX) {
        if let Err(e) =
            known_system_priority_class(name, pc.value, pc.global_default.unwrap_or(false))
        {
            errs.push(field::forbidden(
                &Path::new("metadata").child("name"),
                format!(
                    "priority class names with '{SYSTEM_PREFIX}' prefix are reserved for system use only. error: {e}"
                ),
            ));
        }
    } else if pc.value > HIGHEST_USER_DEFINABLE_PRIORITY {
        errs.push(field::forbidden(
            &Path::new("value"),
            format!("maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"),
        ));
    }
    // `ValidatePreemptionPolicy`, after `SetDefaults_PriorityClass`.
    let path = Path::new("preemptionPolicy");
    match pc
        .preemption_policy
        .as_deref()
        .unwrap_or("PreemptLowerPriority")
    {
        "PreemptLowerPriority" | "Never" => {}
        "" => errs.push(field::required(&path, "")),
        other => errs.push(field::not_supported(
            &path,
            json_str(other),
            &["PreemptLowerPriority", "Never"],
        )),
    }
    errs
}

/// `schedulingapiv1.IsKnownSystemPriorityClass`.
fn known_system_priority_class(name: &str, value: i32, global_default: bool) -> Result<(), String> {
    let Some((n, v)) = SYSTEM_PRIORITY_CLASSES.iter().find(|(n, _)| *n == name) else {
        return Err(format!("{name} is not a known system priority class"));
    };
    if *v != value {
        return Err(format!("value of {n} PriorityClass must be {v}"));
    }
    if global_default {
        return Err(format!("globalDefault of {n} PriorityClass must be false"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn errs(pc: Value) -> Vec<String> {
        let pc: PriorityClass = serde_json::from_value(pc).unwrap();
        priority_class(&pc)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn pc(name: &str, value: i64) -> Value {
        json!({"metadata": {"name": name}, "value": value})
    }

    #[test]
    fn valid_priority_classes() {
        assert!(errs(pc("tier1", 100)).is_empty());
        let mut with_desc = pc("tier1", 200);
        with_desc["description"] = json!("Used for the highest priority pods.");
        with_desc["globalDefault"] = json!(false);
        assert!(errs(with_desc).is_empty());
        assert!(errs(pc("system-node-critical", 2_000_001_000)).is_empty());
        assert!(errs(pc("system-cluster-critical", 2_000_000_000)).is_empty());
        assert!(errs(pc("tier1", 1_000_000_000)).is_empty());
        assert!(errs(pc("tier1", -5)).is_empty());
        let mut never = pc("batch", 10);
        never["preemptionPolicy"] = json!("Never");
        assert!(errs(never).is_empty());
    }

    #[test]
    fn reserved_names_and_values() {
        assert_eq!(
            errs(pc("system-node-critical", 0)),
            [
                "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: value of system-node-critical PriorityClass must be 2000001000"
            ]
        );
        assert_eq!(
            errs(pc("system-something", 2_000_001_000)),
            [
                "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-something is not a known system priority class"
            ]
        );
        let mut gd = pc("system-cluster-critical", 2_000_000_000);
        gd["globalDefault"] = json!(true);
        assert_eq!(
            errs(gd),
            [
                "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: globalDefault of system-cluster-critical PriorityClass must be false"
            ]
        );
        assert_eq!(
            errs(pc("tier1", 1_000_000_001)),
            ["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]
        );
        let generated = json!({"metadata": {"generateName": "system-"}, "value": 1});
        assert_eq!(errs(generated).len(), 1);
    }

    #[test]
    fn preemption_policy() {
        let mut p = pc("tier1", 1);
        p["preemptionPolicy"] = json!("Bogus");
        assert_eq!(
            errs(p.clone()),
            [
                "preemptionPolicy: Unsupported value: \"Bogus\": supported values: \"PreemptLowerPriority\", \"Never\""
            ]
        );
        p["preemptionPolicy"] = json!("");
        assert_eq!(errs(p), ["preemptionPolicy: Required value"]);
    }
}
