//! VerticalPodAutoscalers (`autoscaling.k8s.io`), with the columns of the CRD's
//! `additionalPrinterColumns` (vertical-pod-autoscaler/deploy/vpa-v1-crd-gen.yaml); a field
//! not set yet (no recommendation) prints empty.

use super::cells::{condition_status, name_of, s, str_at};
use super::table::TableDef;
use super::time::age_of;

/// `kubectl get vpa`: NAME, MODE, CPU, MEM, PROVIDED, AGE.
pub(super) const VERTICAL_POD_AUTOSCALER: TableDef = TableDef {
    headers: &["NAME", "MODE", "CPU", "MEM", "PROVIDED", "AGE"],
    wide_extra: 0,
    row: |o, now| {
        let first =
            s(o, &["status", "recommendation", "containerRecommendations"]).and_then(|r| r.get(0));
        let target = |k: &str| {
            first
                .map(|r| str_at(r, &["target", k]).to_string())
                .unwrap_or_default()
        };
        vec![
            name_of(o),
            str_at(o, &["spec", "updatePolicy", "updateMode"]).to_string(),
            target("cpu"),
            target("memory"),
            condition_status(o, "RecommendationProvided")
                .unwrap_or("")
                .to_string(),
            age_of(s(o, &["metadata", "creationTimestamp"]), now),
        ]
    },
};

#[cfg(test)]
mod tests {
    use super::super::table::render_kind_table;
    use super::super::testing::opts;
    use crate::Kind;
    use serde_json::json;

    #[test]
    fn a_vpa_shows_its_mode_and_first_target() {
        let with = json!({"metadata": {"name": "web", "creationTimestamp": "2024-05-01T11:55:00Z"},
            "spec": {"updatePolicy": {"updateMode": "Recreate"}},
            "status": {"recommendation": {"containerRecommendations": [
                {"containerName": "app", "target": {"cpu": "115m", "memory": "262144k"}}]},
                "conditions": [{"type": "RecommendationProvided", "status": "True"}]}});
        let without = json!({"metadata": {"name": "new", "creationTimestamp": "2024-05-01T11:59:50Z"},
            "spec": {"updatePolicy": {"updateMode": "Off"}}});
        let out = render_kind_table(Kind::VerticalPodAutoscaler, &[with, without], &opts());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "NAME   MODE       CPU    MEM       PROVIDED   AGE"
        );
        assert_eq!(lines[1], "web    Recreate   115m   262144k   True       5m");
        assert_eq!(
            lines[2],
            "new    Off                                    10s"
        );
    }
}
