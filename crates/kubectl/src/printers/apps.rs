//! Workloads of `apps/v1`: Deployments, ReplicaSets, StatefulSets and DaemonSets
//! (`printDeployment`, `printReplicaSet`, `printStatefulSet`, `printDaemonSet`).

use std::fmt::Write as _;

use serde_json::Value;

use super::cells::{containers_cells, format_labels, format_selector, int_at, name_of, s, str_at};
use super::describe_template::{multiline, multiline_indented, pod_template};
use super::table::{TableDef, go_tabwrite};
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

/// `spec.template` without the `pod-template-hash` label (`EqualIgnoreHash`).
fn template_ignoring_hash(rs_or_deployment: &Value) -> Value {
    let mut t = s(rs_or_deployment, &["spec", "template"])
        .cloned()
        .unwrap_or(Value::Null);
    if let Some(l) = t
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        l.remove("pod-template-hash");
    }
    t
}

/// `printReplicaSetsByLabels`: `name (current/desired replicas created)`, joined.
fn replica_sets_line(rss: &[&Value]) -> String {
    let list: Vec<String> = rss
        .iter()
        .map(|rs| {
            format!(
                "{} ({}/{} replicas created)",
                name_of(rs),
                int_at(rs, &["status", "replicas"]),
                int_at(rs, &["spec", "replicas"])
            )
        })
        .collect();
    if list.is_empty() {
        "<none>".into()
    } else {
        list.join(", ")
    }
}

/// `describeDeployment` (kubectl `pkg/describe/describe.go`): the deployment's fields, its
/// pod template, conditions, its old ReplicaSets and its new one
/// (`deploymentutil.GetAllReplicaSets` over `replica_sets`, the namespace's ReplicaSets:
/// those it owns; the new one is the oldest whose template equals the deployment's, ignoring
/// the hash label), then the events.
pub fn describe_deployment(
    d: &Value,
    replica_sets: &[Value],
    events: &[super::describe::DescribeEvent],
) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "Name:\t{}", name_of(d));
    let _ = writeln!(t, "Namespace:\t{}", str_at(d, &["metadata", "namespace"]));
    let _ = writeln!(
        t,
        "CreationTimestamp:\t{}",
        super::time::rfc1123z(str_at(d, &["metadata", "creationTimestamp"]))
    );
    multiline(&mut t, "Labels", s(d, &["metadata", "labels"]), "=");
    multiline(
        &mut t,
        "Annotations",
        s(d, &["metadata", "annotations"]),
        ": ",
    );
    let _ = writeln!(
        t,
        "Selector:\t{}",
        format_selector(s(d, &["spec", "selector"]))
    );
    let _ = writeln!(
        t,
        "Replicas:\t{} desired | {} updated | {} total | {} available | {} unavailable",
        s(d, &["spec", "replicas"])
            .and_then(Value::as_i64)
            .unwrap_or(1),
        int_at(d, &["status", "updatedReplicas"]),
        int_at(d, &["status", "replicas"]),
        int_at(d, &["status", "availableReplicas"]),
        int_at(d, &["status", "unavailableReplicas"])
    );
    let strategy = str_at(d, &["spec", "strategy", "type"]);
    let _ = writeln!(t, "StrategyType:\t{strategy}");
    let _ = writeln!(
        t,
        "MinReadySeconds:\t{}",
        int_at(d, &["spec", "minReadySeconds"])
    );
    if let Some(ru) = s(d, &["spec", "strategy", "rollingUpdate"]).filter(|v| !v.is_null()) {
        let ios = |k: &str| match ru.get(k) {
            Some(Value::String(x)) => x.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => "0".to_string(),
        };
        let _ = writeln!(
            t,
            "RollingUpdateStrategy:\t{} max unavailable, {} max surge",
            ios("maxUnavailable"),
            ios("maxSurge")
        );
    }
    pod_template(&mut t, s(d, &["spec", "template"]));
    let conditions = super::cells::arr_at(d, &["status", "conditions"]);
    if !conditions.is_empty() {
        t.push_str("Conditions:\n  Type\tStatus\tReason\n  ----\t------\t------\n");
        for c in conditions {
            let _ = writeln!(
                t,
                "  {} \t{}\t{}",
                str_at(c, &["type"]),
                str_at(c, &["status"]),
                str_at(c, &["reason"])
            );
        }
    }
    let uid = str_at(d, &["metadata", "uid"]);
    let mut owned: Vec<&Value> = replica_sets
        .iter()
        .filter(|rs| {
            super::cells::arr_at(rs, &["metadata", "ownerReferences"])
                .iter()
                .any(|o| {
                    o.get("controller") == Some(&Value::Bool(true)) && str_at(o, &["uid"]) == uid
                })
        })
        .collect();
    let template = template_ignoring_hash(d);
    let mut by_age = owned.clone();
    by_age.sort_by(|a, b| {
        str_at(a, &["metadata", "creationTimestamp"])
            .cmp(str_at(b, &["metadata", "creationTimestamp"]))
            .then(name_of(a).cmp(&name_of(b)))
    });
    let new = by_age
        .into_iter()
        .find(|rs| template_ignoring_hash(rs) == template);
    let new_name = new.map(name_of);
    // Every old ReplicaSet, those scaled to 0 included (the describer shows
    // `GetAllReplicaSetsInChunks`' second result).
    owned.retain(|rs| Some(name_of(rs)) != new_name);
    if !owned.is_empty() || new.is_some() {
        let _ = writeln!(t, "OldReplicaSets:\t{}", replica_sets_line(&owned));
        let _ = writeln!(
            t,
            "NewReplicaSet:\t{}",
            replica_sets_line(&new.into_iter().collect::<Vec<_>>())
        );
    }
    if events.is_empty() {
        t.push_str("Events:\t<none>\n");
    }
    let mut out = go_tabwrite(&t, 0, 2);
    super::describe::write_events(&mut out, events);
    out
}

/// `describeStatefulSet` (kubectl `pkg/describe/describe.go`): the set's fields, its update
/// strategy and claim retention policy, its pods by phase (`getPodStatusForController` over
/// `pods`, the namespace's pods: those it controls), the pod template, the volume claim
/// templates, then the events.
pub fn describe_statefulset(
    st: &Value,
    pods: &[Value],
    events: &[super::describe::DescribeEvent],
) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "Name:\t{}", name_of(st));
    let _ = writeln!(t, "Namespace:\t{}", str_at(st, &["metadata", "namespace"]));
    let _ = writeln!(
        t,
        "CreationTimestamp:\t{}",
        super::time::rfc1123z(str_at(st, &["metadata", "creationTimestamp"]))
    );
    let _ = writeln!(
        t,
        "Selector:\t{}",
        format_selector(s(st, &["spec", "selector"]))
    );
    multiline(&mut t, "Labels", s(st, &["metadata", "labels"]), "=");
    multiline(
        &mut t,
        "Annotations",
        s(st, &["metadata", "annotations"]),
        ": ",
    );
    let service = str_at(st, &["spec", "serviceName"]);
    if !service.is_empty() {
        let _ = writeln!(t, "Service Name:\t{service}");
    }
    let policy = str_at(st, &["spec", "podManagementPolicy"]);
    if !policy.is_empty() {
        let _ = writeln!(t, "Pod Management Policy:\t{policy}");
    }
    let _ = writeln!(
        t,
        "Replicas:\t{} desired | {} total",
        s(st, &["spec", "replicas"])
            .and_then(Value::as_i64)
            .unwrap_or(1),
        int_at(st, &["status", "replicas"])
    );
    let _ = writeln!(
        t,
        "Update Strategy:\t{}",
        str_at(st, &["spec", "updateStrategy", "type"])
    );
    if let Some(ru) = s(st, &["spec", "updateStrategy", "rollingUpdate"])
        && let Some(p) = ru.get("partition").and_then(Value::as_i64)
    {
        let _ = writeln!(t, "  Partition:\t{p}");
        match ru.get("maxUnavailable") {
            Some(Value::Number(n)) => {
                let _ = writeln!(t, "  MaxUnavailable:\t{n}");
            }
            Some(Value::String(x)) => {
                let _ = writeln!(t, "  MaxUnavailable:\t{x}");
            }
            _ => {}
        }
    }
    if let Some(r) = s(st, &["spec", "persistentVolumeClaimRetentionPolicy"]) {
        t.push_str("Persistent Volume Claim Retention Policy:\n");
        let _ = writeln!(t, "  WhenDeleted:\t{}", str_at(r, &["whenDeleted"]));
        let _ = writeln!(t, "  WhenScaled:\t{}", str_at(r, &["whenScaled"]));
    }
    let uid = str_at(st, &["metadata", "uid"]);
    let mut phases = [0; 4];
    for p in pods {
        let controlled = super::cells::arr_at(p, &["metadata", "ownerReferences"])
            .iter()
            .any(|o| o.get("controller") == Some(&Value::Bool(true)) && str_at(o, &["uid"]) == uid);
        if !controlled {
            continue;
        }
        match str_at(p, &["status", "phase"]) {
            "Running" => phases[0] += 1,
            "Pending" => phases[1] += 1,
            "Succeeded" => phases[2] += 1,
            "Failed" => phases[3] += 1,
            _ => {}
        }
    }
    let _ = writeln!(
        t,
        "Pods Status:\t{} Running / {} Waiting / {} Succeeded / {} Failed",
        phases[0], phases[1], phases[2], phases[3]
    );
    pod_template(&mut t, s(st, &["spec", "template"]));
    let claims = super::cells::arr_at(st, &["spec", "volumeClaimTemplates"]);
    if claims.is_empty() {
        t.push_str("Volume Claims:\t<none>\n");
    } else {
        t.push_str("Volume Claims:\n");
        for c in claims {
            let _ = writeln!(t, "  Name:\t{}", name_of(c));
            let _ = writeln!(
                t,
                "  StorageClass:\t{}",
                str_at(c, &["spec", "storageClassName"])
            );
            // Annotations too as `key=value`: both go through printLabelsMultilineWithIndent.
            for (label, field) in [("Labels", "labels"), ("Annotations", "annotations")] {
                multiline_indented(&mut t, "  ", label, s(c, &["metadata", field]), "=");
            }
            let capacity = str_at(c, &["spec", "resources", "requests", "storage"]);
            let _ = writeln!(
                t,
                "  Capacity:\t{}",
                if capacity.is_empty() {
                    "<default>"
                } else {
                    capacity
                }
            );
            let modes: Vec<&str> = super::cells::arr_at(c, &["spec", "accessModes"])
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let _ = writeln!(t, "  Access Modes:\t[{}]", modes.join(" "));
        }
    }
    if events.is_empty() {
        t.push_str("Events:\t<none>\n");
    }
    let mut out = go_tabwrite(&t, 0, 2);
    super::describe::write_events(&mut out, events);
    out
}

#[cfg(test)]
mod tests {
    use crate::args::OutputFormat;
    use crate::kinds::Kind;
    use crate::printers::testing::*;
    use crate::printers::{PrintOptions, print_objects};
    use serde_json::json;

    // cli-runtime tableprinter.go: `-L` columns after the kind's (header: the key's last
    // segment in upper case, an empty cell without the label), `--show-labels` last.
    #[test]
    fn label_columns_and_show_labels() {
        let mut d = deployment();
        d["metadata"]["labels"] =
            json!({"tier": "web", "app.kubernetes.io/name": "nginx", "app": "shop"});
        let mut o = opts();
        o.label_columns = vec!["app.kubernetes.io/name".into(), "missing".into()];
        o.show_labels = true;
        let out = print_objects(Kind::Deployment, &[d, deployment()], &o);
        assert_eq!(
            out.stdout,
            "NAME        READY   UP-TO-DATE   AVAILABLE   AGE     NAME    MISSING   LABELS\n\
             nginx-app   2/3     3            2           2m10s   nginx             app=shop,app.kubernetes.io/name=nginx,tier=web\n\
             nginx-app   2/3     3            2           2m10s                     <none>\n"
        );
    }

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

    // describe.go describeDeployment, as kubectl v1.37.2 printed it for calibration/rollout
    // after its rolling update (checked against a --cluster run): the old ReplicaSet scaled to
    // 0 is still listed; the new one is the ReplicaSet whose template is the Deployment's.
    #[test]
    fn describes_a_deployment_as_kubectl_does() {
        use super::describe_deployment;
        use serde_json::json;
        let template = |image: &str, hash: Option<&str>| {
            let mut labels = json!({"app": "web"});
            if let Some(h) = hash {
                labels["pod-template-hash"] = json!(h);
            }
            json!({"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": image,
                "resources": {"requests": {"cpu": "200m"}},
                "readinessProbe": {"initialDelaySeconds": 5, "timeoutSeconds": 1, "periodSeconds": 10,
                                   "successThreshold": 1, "failureThreshold": 3,
                                   "httpGet": {"path": "/", "port": 80, "scheme": "HTTP"}}}]}})
        };
        let d = json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "u1",
                         "creationTimestamp": "2026-01-01T00:00:00Z",
                         "annotations": {"deployment.kubernetes.io/revision": "2"}},
            "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                     "template": template("nginx:1.28", None)},
            "status": {"replicas": 4, "updatedReplicas": 4, "availableReplicas": 4,
                       "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                                      {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}
        });
        let rs = |name: &str, image: &str, hash: &str, replicas: i64, created: &str| {
            json!({"metadata": {"name": name, "creationTimestamp": created,
                                "ownerReferences": [{"uid": "u1", "controller": true}]},
                   "spec": {"replicas": replicas, "template": template(image, Some(hash))},
                   "status": {"replicas": replicas}})
        };
        let rss = [
            rs(
                "web-58bb68cdc7",
                "nginx:1.28",
                "58bb68cdc7",
                4,
                "2026-01-01T00:00:30Z",
            ),
            rs(
                "web-59b88dcc4b",
                "nginx:1.27",
                "59b88dcc4b",
                0,
                "2026-01-01T00:00:00Z",
            ),
        ];
        let want = "\
Name:                   web
Namespace:              default
CreationTimestamp:      Thu, 01 Jan 2026 00:00:00 +0000
Labels:                 <none>
Annotations:            deployment.kubernetes.io/revision: 2
Selector:               app=web
Replicas:               4 desired | 4 updated | 4 total | 4 available | 0 unavailable
StrategyType:           RollingUpdate
MinReadySeconds:        0
RollingUpdateStrategy:  0 max unavailable, 1 max surge
Pod Template:
  Labels:  app=web
  Containers:
   app:
    Image:      nginx:1.28
    Port:       <none>
    Host Port:  <none>
    Requests:
      cpu:         200m
    Readiness:     http-get http://:80/ delay=5s timeout=1s period=10s successThreshold=1 failureThreshold=3
    Environment:   <none>
    Mounts:        <none>
  Volumes:         <none>
  Node-Selectors:  <none>
  Tolerations:     <none>
Conditions:
  Type           Status  Reason
  ----           ------  ------
  Available      True    MinimumReplicasAvailable
  Progressing    True    NewReplicaSetAvailable
OldReplicaSets:  web-59b88dcc4b (0/0 replicas created)
NewReplicaSet:   web-58bb68cdc7 (4/4 replicas created)
Events:          <none>
";
        assert_eq!(describe_deployment(&d, &rss, &[]), want);
    }

    // describe.go describeStatefulSet, as kubectl v1.37.2 printed it for calibration's `db`
    // (checked against a --cluster run; the run label left out).
    #[test]
    fn describes_a_statefulset_as_kubectl_does() {
        use super::describe_statefulset;
        use crate::printers::describe::DescribeEvent;
        let st = json!({
            "metadata": {"name": "db", "namespace": "default", "uid": "u1",
                "creationTimestamp": "2026-12-07T04:32:20Z"},
            "spec": {"serviceName": "db", "replicas": 3, "podManagementPolicy": "OrderedReady",
                "selector": {"matchLabels": {"app": "db"}},
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": 1}},
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [
                    {"name": "postgres", "image": "postgres:17",
                     "resources": {"requests": {"cpu": "300m", "memory": "256Mi"}}}]}}},
            "status": {"replicas": 3}
        });
        let pod = |name: &str, phase: &str, uid: &str| {
            json!({"metadata": {"name": name, "ownerReferences": [{"controller": true, "uid": uid}]},
                "status": {"phase": phase}})
        };
        let pods = [
            pod("db-0", "Running", "u1"),
            pod("db-1", "Running", "u1"),
            pod("db-2", "Pending", "u1"),
            pod("other-0", "Running", "u2"),
        ];
        let events: Vec<DescribeEvent> = [("31s", "db-0"), ("24s", "db-1")]
            .iter()
            .map(|(age, p)| {
                (
                    "Normal",
                    "SuccessfulCreate",
                    *age,
                    "statefulset-controller",
                    format!("Create Pod {p} in StatefulSet db successful").as_str(),
                )
                    .into()
            })
            .collect();
        let out = describe_statefulset(&st, &pods, &events);
        assert_eq!(
            out,
            "Name:                   db
Namespace:              default
CreationTimestamp:      Mon, 07 Dec 2026 04:32:20 +0000
Selector:               app=db
Labels:                 <none>
Annotations:            <none>
Service Name:           db
Pod Management Policy:  OrderedReady
Replicas:               3 desired | 3 total
Update Strategy:        RollingUpdate
  Partition:            0
  MaxUnavailable:       1
Persistent Volume Claim Retention Policy:
  WhenDeleted:  Retain
  WhenScaled:   Retain
Pods Status:    2 Running / 1 Waiting / 0 Succeeded / 0 Failed
Pod Template:
  Labels:  app=db
  Containers:
   postgres:
    Image:      postgres:17
    Port:       <none>
    Host Port:  <none>
    Requests:
      cpu:         300m
      memory:      256Mi
    Environment:   <none>
    Mounts:        <none>
  Volumes:         <none>
  Node-Selectors:  <none>
  Tolerations:     <none>
Volume Claims:     <none>
Events:
  Type    Reason            Age   From                    Message
  ----    ------            ----  ----                    -------
  Normal  SuccessfulCreate  31s   statefulset-controller  Create Pod db-0 in StatefulSet db successful
  Normal  SuccessfulCreate  24s   statefulset-controller  Create Pod db-1 in StatefulSet db successful
"
        );
    }

    #[test]
    fn volume_claims_print_labels_and_annotations_sorted_as_key_value() {
        let st = json!({
            "metadata": {"name": "db", "namespace": "default", "uid": "u1"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "db"}},
                "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [
                    {"name": "postgres", "image": "postgres:17"}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "data",
                    "labels": {"tier": "db", "app": "db"},
                    "annotations": {"note": "x"}},
                    "spec": {"storageClassName": "gp3", "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "10Gi"}}}}]}
        });
        let out = super::describe_statefulset(&st, &[], &[]);
        let claims: Vec<String> = out
            .lines()
            .skip_while(|l| !l.starts_with("Volume Claims:"))
            .take_while(|l| !l.starts_with("Events:"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(
            claims,
            [
                "Volume Claims:",
                "Name: data",
                "StorageClass: gp3",
                "Labels: app=db",
                "tier=db",
                "Annotations: note=x",
                "Capacity: 10Gi",
                "Access Modes: [ReadWriteOnce]"
            ]
        );
        assert!(out.contains("\n  Labels:"), "indented: {out}");
    }
}
