//! Workloads of `apps/v1`: Deployments, ReplicaSets, StatefulSets and DaemonSets
//! (`printDeployment`, `printReplicaSet`, `printStatefulSet`, `printDaemonSet`).

use super::cells::{containers_cells, format_labels, format_selector, int_at, name_of, s};
use super::table::TableDef;
use super::time::age_of;

/// `kubectl get deployments` (printDeployment).
pub(super) const DEPLOYMENT: TableDef = TableDef {
    headers: &[
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ],
    wide_extra: 3,
    row: |o, now| {
        let (c, i) = containers_cells(o);
        vec![
            name_of(o),
            format!(
                "{}/{}",
                int_at(o, &["status", "readyReplicas"]),
                int_at(o, &["spec", "replicas"])
            ),
            int_at(o, &["status", "updatedReplicas"]).to_string(),
            int_at(o, &["status", "availableReplicas"]).to_string(),
            age_of(s(o, &["metadata", "creationTimestamp"]), now),
            c,
            i,
            format_selector(s(o, &["spec", "selector"])),
        ]
    },
};

/// `kubectl get replicasets` (printReplicaSet).
pub(super) const REPLICA_SET: TableDef = TableDef {
    headers: &[
        "NAME",
        "DESIRED",
        "CURRENT",
        "READY",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ],
    wide_extra: 3,
    row: |o, now| {
        let (c, i) = containers_cells(o);
        vec![
            name_of(o),
            int_at(o, &["spec", "replicas"]).to_string(),
            int_at(o, &["status", "replicas"]).to_string(),
            int_at(o, &["status", "readyReplicas"]).to_string(),
            age_of(s(o, &["metadata", "creationTimestamp"]), now),
            c,
            i,
            format_selector(s(o, &["spec", "selector"])),
        ]
    },
};

/// `kubectl get statefulsets` (printStatefulSet).
pub(super) const STATEFUL_SET: TableDef = TableDef {
    headers: &["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"],
    wide_extra: 2,
    row: |o, now| {
        let (c, i) = containers_cells(o);
        vec![
            name_of(o),
            format!(
                "{}/{}",
                int_at(o, &["status", "readyReplicas"]),
                int_at(o, &["spec", "replicas"])
            ),
            age_of(s(o, &["metadata", "creationTimestamp"]), now),
            c,
            i,
        ]
    },
};

/// `kubectl get daemonsets` (printDaemonSet).
pub(super) const DAEMON_SET: TableDef = TableDef {
    headers: &[
        "NAME",
        "DESIRED",
        "CURRENT",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "NODE SELECTOR",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ],
    wide_extra: 3,
    row: |o, now| {
        let (c, i) = containers_cells(o);
        vec![
            name_of(o),
            int_at(o, &["status", "desiredNumberScheduled"]).to_string(),
            int_at(o, &["status", "currentNumberScheduled"]).to_string(),
            int_at(o, &["status", "numberReady"]).to_string(),
            int_at(o, &["status", "updatedNumberScheduled"]).to_string(),
            int_at(o, &["status", "numberAvailable"]).to_string(),
            format_labels(s(o, &["spec", "template", "spec", "nodeSelector"])),
            age_of(s(o, &["metadata", "creationTimestamp"]), now),
            c,
            i,
            format_selector(s(o, &["spec", "selector"])),
        ]
    },
};

#[cfg(test)]
mod tests {
    use crate::args::OutputFormat;
    use crate::kinds::Kind;
    use crate::printers::testing::*;
    use crate::printers::{PrintOptions, print_objects};
    use serde_json::json;

    #[test]
    fn deployments_replicasets_tables() {
        let out = print_objects(Kind::Deployment, &[deployment()], &opts());
        assert_eq!(
            out.stdout,
            "NAME        READY   UP-TO-DATE   AVAILABLE   AGE\nnginx-app   2/3     3            2           2m10s\n"
        );
        let out = print_objects(
            Kind::Deployment,
            &[deployment()],
            &PrintOptions {
                format: Some(OutputFormat::Wide),
                ..opts()
            },
        );
        assert_eq!(
            out.stdout,
            "NAME        READY   UP-TO-DATE   AVAILABLE   AGE     CONTAINERS   IMAGES       SELECTOR\n\
             nginx-app   2/3     3            2           2m10s   nginx        nginx:1.25   app=nginx\n"
        );
        let rs = json!({
            "metadata": {"name": "nginx-app-7c5ddbdf54", "creationTimestamp": "2024-05-01T11:57:50Z"},
            "spec": {"replicas": 3}, "status": {"replicas": 3, "readyReplicas": 2}
        });
        let out = print_objects(Kind::ReplicaSet, &[rs], &opts());
        assert_eq!(
            out.stdout,
            "NAME                   DESIRED   CURRENT   READY   AGE\nnginx-app-7c5ddbdf54   3         3         2       2m10s\n"
        );
    }
}
