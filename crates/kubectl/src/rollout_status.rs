//! `kubectl rollout status`'s status viewers: what it prints for a Deployment, DaemonSet or
//! StatefulSet and whether the rollout is done (k8s.io/kubectl
//! `pkg/polymorphichelpers/rollout_status.go`; tests ported from `rollout_status_test.go`).

use serde_json::Value;

use crate::kinds::Kind;

/// One reading of a workload: the line kubectl prints (with its newline) and whether the
/// rollout is done, or kubectl's error (without the `error: ` prefix).
pub type Status = Result<(String, bool), String>;

fn int(o: &Value, p: &str) -> i64 {
    o.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

fn text<'a>(o: &'a Value, p: &str) -> &'a str {
    o.pointer(p).and_then(Value::as_str).unwrap_or("")
}

/// The status of `obj`, a stored object of `kind`; kinds without a viewer are an error as
/// kubectl words it (`no status viewer has been implemented for ReplicaSet.apps`).
pub fn rollout_status(kind: Kind, obj: &Value) -> Status {
    match kind {
        Kind::Deployment => deployment(obj),
        Kind::DaemonSet => daemon_set(obj),
        Kind::StatefulSet => stateful_set(obj),
        other => {
            // A GroupKind's `String()`: `Kind.group`, the bare kind in the core group.
            let info = other.info();
            let gk = if info.group.is_empty() {
                info.name.to_string()
            } else {
                format!("{}.{}", info.name, info.group)
            };
            Err(format!("no status viewer has been implemented for {gk}"))
        }
    }
}

/// `DeploymentStatusViewer.Status` (revision 0).
fn deployment(d: &Value) -> Status {
    let name = text(d, "/metadata/name");
    if int(d, "/metadata/generation") > int(d, "/status/observedGeneration") {
        return Ok((
            "Waiting for deployment spec update to be observed...\n".into(),
            false,
        ));
    }
    let timed_out = d
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| {
            text(c, "/type") == "Progressing" && text(c, "/reason") == "ProgressDeadlineExceeded"
        });
    if timed_out {
        return Err(format!(
            "deployment \"{name}\" exceeded its progress deadline"
        ));
    }
    let updated = int(d, "/status/updatedReplicas");
    if let Some(want) = d.pointer("/spec/replicas").and_then(Value::as_i64)
        && updated < want
    {
        return Ok((
            format!(
                "Waiting for deployment \"{name}\" rollout to finish: {updated} out of {want} new replicas have been updated...\n"
            ),
            false,
        ));
    }
    let replicas = int(d, "/status/replicas");
    if replicas > updated {
        return Ok((
            format!(
                "Waiting for deployment \"{name}\" rollout to finish: {} old replicas are pending termination...\n",
                replicas - updated
            ),
            false,
        ));
    }
    let available = int(d, "/status/availableReplicas");
    if available < updated {
        return Ok((
            format!(
                "Waiting for deployment \"{name}\" rollout to finish: {available} of {updated} updated replicas are available...\n"
            ),
            false,
        ));
    }
    Ok((
        format!("deployment \"{name}\" successfully rolled out\n"),
        true,
    ))
}

/// `DaemonSetStatusViewer.Status`.
fn daemon_set(d: &Value) -> Status {
    let name = text(d, "/metadata/name");
    if text(d, "/spec/updateStrategy/type") != "RollingUpdate" {
        return Err("rollout status is only available for RollingUpdate strategy type".into());
    }
    if int(d, "/metadata/generation") > int(d, "/status/observedGeneration") {
        return Ok((
            "Waiting for daemon set spec update to be observed...\n".into(),
            false,
        ));
    }
    let desired = int(d, "/status/desiredNumberScheduled");
    let updated = int(d, "/status/updatedNumberScheduled");
    if updated < desired {
        return Ok((
            format!(
                "Waiting for daemon set \"{name}\" rollout to finish: {updated} out of {desired} new pods have been updated...\n"
            ),
            false,
        ));
    }
    let available = int(d, "/status/numberAvailable");
    if available < desired {
        return Ok((
            format!(
                "Waiting for daemon set \"{name}\" rollout to finish: {available} of {desired} updated pods are available...\n"
            ),
            false,
        ));
    }
    Ok((
        format!("daemon set \"{name}\" successfully rolled out\n"),
        true,
    ))
}

/// `StatefulSetStatusViewer.Status`.
fn stateful_set(s: &Value) -> Status {
    if text(s, "/spec/updateStrategy/type") != "RollingUpdate" {
        return Err("rollout status is only available for RollingUpdate strategy type".into());
    }
    let observed = int(s, "/status/observedGeneration");
    if observed == 0 || int(s, "/metadata/generation") > observed {
        return Ok((
            "Waiting for statefulset spec update to be observed...\n".into(),
            false,
        ));
    }
    let want = s.pointer("/spec/replicas").and_then(Value::as_i64);
    let ready = int(s, "/status/readyReplicas");
    if let Some(want) = want
        && ready < want
    {
        return Ok((
            format!("Waiting for {} pods to be ready...\n", want - ready),
            false,
        ));
    }
    let updated = int(s, "/status/updatedReplicas");
    if s.pointer("/spec/updateStrategy/rollingUpdate")
        .is_some_and(|r| !r.is_null())
    {
        let partition = s
            .pointer("/spec/updateStrategy/rollingUpdate/partition")
            .and_then(Value::as_i64);
        if let (Some(want), Some(partition)) = (want, partition)
            && updated < want - partition
        {
            return Ok((
                format!(
                    "Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...\n",
                    want - partition
                ),
                false,
            ));
        }
        return Ok((
            format!("partitioned roll out complete: {updated} new pods have been updated...\n"),
            true,
        ));
    }
    let (update, current) = (
        text(s, "/status/updateRevision"),
        text(s, "/status/currentRevision"),
    );
    if update != current {
        return Ok((
            format!(
                "waiting for statefulset rolling update to complete {updated} pods at revision {update}...\n"
            ),
            false,
        ));
    }
    Ok((
        format!(
            "statefulset rolling update complete {} pods at revision {current}...\n",
            int(s, "/status/currentReplicas")
        ),
        true,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// TestDeploymentStatusViewerStatus: (generation, spec replicas, observed generation,
    /// replicas, updated, available) → message, done.
    #[test]
    fn deployment_table() {
        let cases: &[(i64, i64, [i64; 4], &str, bool)] = &[
            (
                0,
                1,
                [1, 1, 0, 1],
                "Waiting for deployment \"foo\" rollout to finish: 0 out of 1 new replicas have been updated...\n",
                false,
            ),
            (
                1,
                1,
                [1, 2, 1, 2],
                "Waiting for deployment \"foo\" rollout to finish: 1 old replicas are pending termination...\n",
                false,
            ),
            (
                1,
                2,
                [1, 2, 2, 1],
                "Waiting for deployment \"foo\" rollout to finish: 1 of 2 updated replicas are available...\n",
                false,
            ),
            (
                1,
                2,
                [1, 2, 2, 2],
                "deployment \"foo\" successfully rolled out\n",
                true,
            ),
            (
                2,
                2,
                [1, 2, 2, 2],
                "Waiting for deployment spec update to be observed...\n",
                false,
            ),
        ];
        for (generation, replicas, [observed, have, updated, available], msg, done) in cases {
            let d = json!({
                "metadata": {"name": "foo", "namespace": "bar", "generation": generation},
                "spec": {"replicas": replicas},
                "status": {"observedGeneration": observed, "replicas": have,
                    "updatedReplicas": updated, "availableReplicas": available},
            });
            assert_eq!(
                rollout_status(Kind::Deployment, &d),
                Ok((msg.to_string(), *done)),
                "{d}"
            );
        }
        let stuck = json!({
            "metadata": {"name": "foo", "generation": 1},
            "spec": {"replicas": 1},
            "status": {"observedGeneration": 1, "conditions": [
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]},
        });
        assert_eq!(
            rollout_status(Kind::Deployment, &stuck),
            Err("deployment \"foo\" exceeded its progress deadline".into())
        );
    }

    /// TestDaemonSetStatusViewerStatus and ...WithWrongUpdateStrategyType.
    #[test]
    fn daemon_set_table() {
        let cases: &[(i64, [i64; 4], &str, bool)] = &[
            (
                0,
                [1, 0, 1, 0],
                "Waiting for daemon set \"foo\" rollout to finish: 0 out of 1 new pods have been updated...\n",
                false,
            ),
            (
                1,
                [1, 2, 2, 1],
                "Waiting for daemon set \"foo\" rollout to finish: 1 of 2 updated pods are available...\n",
                false,
            ),
            (
                1,
                [1, 2, 2, 2],
                "daemon set \"foo\" successfully rolled out\n",
                true,
            ),
            (
                2,
                [1, 2, 2, 2],
                "Waiting for daemon set spec update to be observed...\n",
                false,
            ),
        ];
        for (generation, [observed, updated, desired, available], msg, done) in cases {
            let d = json!({
                "metadata": {"name": "foo", "generation": generation},
                "spec": {"updateStrategy": {"type": "RollingUpdate"}},
                "status": {"observedGeneration": observed, "updatedNumberScheduled": updated,
                    "desiredNumberScheduled": desired, "numberAvailable": available},
            });
            assert_eq!(
                rollout_status(Kind::DaemonSet, &d),
                Ok((msg.to_string(), *done))
            );
        }
        let on_delete =
            json!({"metadata": {"name": "foo"}, "spec": {"updateStrategy": {"type": "OnDelete"}}});
        assert_eq!(
            rollout_status(Kind::DaemonSet, &on_delete),
            Err("rollout status is only available for RollingUpdate strategy type".into())
        );
    }

    /// TestStatefulSetStatusViewerStatus (3 replicas).
    #[test]
    fn stateful_set_table() {
        let set = |generation: i64, strategy: Value, status: Value| {
            json!({"metadata": {"name": "foo", "generation": generation},
                "spec": {"replicas": 3, "updateStrategy": strategy}, "status": status})
        };
        let rolling = json!({"type": "RollingUpdate"});
        let partitioned = json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 2}});
        assert!(
            rollout_status(
                Kind::StatefulSet,
                &set(
                    1,
                    json!({"type": "OnDelete"}),
                    json!({"observedGeneration": 1})
                )
            )
            .is_err()
        );
        let st = |s: &Value| rollout_status(Kind::StatefulSet, s).unwrap();
        assert_eq!(
            st(&set(
                2,
                rolling.clone(),
                json!({"observedGeneration": 1, "replicas": 3, "readyReplicas": 3})
            )),
            (
                "Waiting for statefulset spec update to be observed...\n".into(),
                false
            )
        );
        assert_eq!(
            st(&set(
                1,
                rolling.clone(),
                json!({"observedGeneration": 2, "replicas": 3, "readyReplicas": 2, "currentReplicas": 3})
            )),
            ("Waiting for 1 pods to be ready...\n".into(), false)
        );
        assert_eq!(
            st(&set(
                1,
                partitioned.clone(),
                json!({"observedGeneration": 2, "readyReplicas": 3, "currentReplicas": 2, "updatedReplicas": 1})
            )),
            (
                "partitioned roll out complete: 1 new pods have been updated...\n".into(),
                true
            )
        );
        assert_eq!(
            st(&set(1, partitioned, json!({"observedGeneration": 2, "readyReplicas": 3, "currentReplicas": 3, "updatedReplicas": 0}))),
            ("Waiting for partitioned roll out to finish: 0 out of 1 new pods have been updated...\n".into(), false)
        );
        assert_eq!(
            st(&set(
                1,
                rolling.clone(),
                json!({"observedGeneration": 2, "readyReplicas": 3, "currentReplicas": 3,
                "updatedReplicas": 3, "currentRevision": "foo", "updateRevision": "foo"})
            )),
            (
                "statefulset rolling update complete 3 pods at revision foo...\n".into(),
                true
            )
        );
        assert_eq!(
            st(&set(
                1,
                rolling,
                json!({"observedGeneration": 2, "readyReplicas": 3, "currentReplicas": 2,
                "updatedReplicas": 1, "currentRevision": "a", "updateRevision": "b"})
            )),
            (
                "waiting for statefulset rolling update to complete 1 pods at revision b...\n"
                    .into(),
                false
            )
        );
    }
}
