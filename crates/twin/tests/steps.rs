//! kubectl steps against the twin: outputs, errors and their effects on the cluster.

use std::sync::Arc;

use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;
use serde_json::Value;

const MANIFESTS: &str = "apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: app, image: 'app:1', resources: {requests: {cpu: 200m, memory: 128Mi}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: shop}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1}
";

fn run(steps: &[(&str, &str)]) -> Sim {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.yaml"), MANIFESTS).unwrap();
    std::fs::write(
        dir.path().join("extra.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: shop}\ndata: {a: '1'}\n",
    )
    .unwrap();
    let mut s = String::from(
        "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {name: steps}\nspec:\n  duration: 20m\n  manifests: [m.yaml]\n  nodes:\n    - {name: n, instanceType: m5.large, count: 2}\n  steps:\n",
    );
    for (at, cmd) in steps {
        s.push_str(&format!(
            "    - at: {at}\n      run: {}\n",
            serde_json::to_string(cmd).unwrap()
        ));
    }
    std::fs::write(dir.path().join("s.yaml"), s).unwrap();
    let scenario = Arc::new(Scenario::load(&dir.path().join("s.yaml")).unwrap());
    let mut sim = Sim::new(scenario).unwrap();
    sim.run_checked().unwrap();
    sim
}

fn out(sim: &Sim, i: usize) -> (&str, &str, i32) {
    let t = &sim.recorder.transcript()[i];
    (t.stdout.as_str(), t.stderr.as_str(), t.exit_code)
}

#[test]
fn get_json_is_kubernetes_json() {
    let sim = run(&[
        ("1m", "kubectl get pods -n shop -o json"),
        ("1m", "kubectl get deploy web -n shop -o json"),
        ("1m", "kubectl get widgets"),
        ("1m", "kubectl get gadgets"),
    ]);
    let (o, _, code) = out(&sim, 0);
    assert_eq!(code, 0);
    let list: Value = serde_json::from_str(o).unwrap();
    assert_eq!(list["kind"], "List");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for p in items {
        assert_eq!(p["kind"], "Pod");
        assert_eq!(p["status"]["phase"], "Running");
        assert!(p["metadata"]["uid"].as_str().unwrap().len() == 36);
        assert!(
            p["metadata"]["creationTimestamp"]
                .as_str()
                .unwrap()
                .ends_with('Z')
        );
        assert!(p["spec"]["nodeName"].as_str().unwrap().starts_with("n-"));
        assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
    }
    let d: Value = serde_json::from_str(out(&sim, 1).0).unwrap();
    assert_eq!(d["kind"], "Deployment");
    assert_eq!(d["status"]["readyReplicas"], 2);
    // Unknown kinds are stored with a warning and kept for `kubectl get`.
    assert!(
        sim.warnings
            .iter()
            .any(|w| w.message.contains("unknown kind Widget"))
    );
    let (o, _, code) = out(&sim, 2);
    assert_eq!(code, 0);
    assert!(o.starts_with("NAME") && o.contains("\nw1 "), "{o}");
    assert_eq!(
        out(&sim, 3).1,
        "error: the server doesn't have a resource type \"gadgets\"\n"
    );
}

#[test]
fn patch_rolls_out_a_new_replicaset() {
    let sim = run(&[
        (
            "1m",
            r#"kubectl patch deployment web -n shop -p '{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"app:2"}]}}}}'"#,
        ),
        ("5m", "kubectl get rs -n shop"),
        ("5m", "kubectl get deploy web -n shop -o json"),
        (
            "5m",
            r#"kubectl patch deployment web -n shop --type merge -p '{"spec":{"replicas":3}}'"#,
        ),
        (
            "5m",
            r#"kubectl patch deployment web -n shop --type json -p '[{"op":"replace","path":"/spec/replicas","value":-1}]'"#,
        ),
    ]);
    assert_eq!(out(&sim, 0), ("deployment.apps/web patched\n", "", 0));
    let rs = out(&sim, 1).0;
    assert_eq!(
        rs.lines().count(),
        3,
        "header + old + new ReplicaSet:\n{rs}"
    );
    let d: Value = serde_json::from_str(out(&sim, 2).0).unwrap();
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "app:2"
    );
    assert_eq!(d["status"]["updatedReplicas"], 2);
    assert_eq!(
        d["status"]["replicas"], 2,
        "the old ReplicaSet is scaled to zero"
    );
    assert_eq!(out(&sim, 3).2, 0);
    let (_, err, code) = out(&sim, 4);
    assert_eq!(code, 1);
    assert!(err.contains("spec.replicas: Invalid value: -1"), "{err}");
    let events: Vec<&str> = sim
        .recorder
        .events()
        .iter()
        .filter(|e| e.reason == "ScalingReplicaSet")
        .map(|e| e.message.as_str())
        .collect();
    assert!(
        events
            .iter()
            .any(|m| m.starts_with("Scaled down replica set web-") && m.ends_with("from 1 to 0")),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|m| m.starts_with("Scaled up replica set web-") && m.ends_with("from 0 to 1")),
        "maxSurge 1: {events:?}"
    );
}

#[test]
fn node_operations() {
    let sim = run(&[
        ("1m", "kubectl cordon n-1"),
        ("1m", "kubectl get nodes"),
        ("2m", "kubectl drain n-1 --ignore-daemonsets"),
        ("4m", "kubectl get pods -n shop -o wide"),
        ("5m", "kubectl uncordon n-1"),
        ("5m", "kubectl taint nodes n-2 dedicated=db:NoSchedule"),
        ("5m", "kubectl label nodes n-2 disk=ssd"),
        ("5m", "kubectl label nodes n-2 disk=hdd"),
        ("6m", "kubectl get nodes -l disk=ssd -o name"),
        ("6m", "kubectl describe node n-2"),
        ("6m", "kubectl get pods -n default"),
        ("6m", "kubectl delete deployment nope -n shop"),
    ]);
    assert_eq!(out(&sim, 0).0, "node/n-1 cordoned\n");
    assert!(out(&sim, 1).0.contains("Ready,SchedulingDisabled"));
    assert!(
        out(&sim, 2).0.ends_with("node/n-1 drained\n"),
        "{}",
        out(&sim, 2).0
    );
    let pods = out(&sim, 3).0;
    assert!(
        pods.lines().skip(1).all(|l| l.contains(" n-2 ")),
        "all pods moved to n-2:\n{pods}"
    );
    assert_eq!(out(&sim, 5).0, "node/n-2 tainted\n");
    assert_eq!(out(&sim, 7).2, 1, "relabel without --overwrite fails");
    assert!(out(&sim, 7).1.contains("--overwrite is false"));
    assert_eq!(out(&sim, 8).0, "node/n-2\n");
    assert!(out(&sim, 9).0.contains("dedicated=db:NoSchedule"));
    assert_eq!(
        out(&sim, 10),
        ("", "No resources found in default namespace.\n", 0)
    );
    assert_eq!(
        out(&sim, 11).1,
        "Error from server (NotFound): deployments.apps \"nope\" not found\n"
    );
}

#[test]
fn apply_autoscale_and_delete() {
    let sim = run(&[
        ("1m", "kubectl apply -f extra.yaml"),
        ("1m", "kubectl apply -f extra.yaml"),
        ("1m", "kubectl create -f extra.yaml"),
        (
            "2m",
            "kubectl autoscale deployment web -n shop --cpu-percent=50 --min=1 --max=5",
        ),
        ("2m", "kubectl get hpa -n shop"),
        ("3m", "kubectl delete deployment web -n shop"),
        ("5m", "kubectl get pods -n shop"),
    ]);
    assert_eq!(out(&sim, 0).0, "configmap/cfg created\n");
    assert_eq!(out(&sim, 1).0, "configmap/cfg unchanged\n");
    assert!(out(&sim, 2).1.contains("AlreadyExists"));
    assert_eq!(
        out(&sim, 3).0,
        "horizontalpodautoscaler.autoscaling/web autoscaled\n"
    );
    assert!(out(&sim, 4).0.contains("Deployment/web"));
    assert_eq!(out(&sim, 5).0, "deployment.apps \"web\" deleted\n");
    assert_eq!(
        out(&sim, 6).1,
        "No resources found in shop namespace.\n",
        "pods are garbage-collected"
    );
}

#[test]
fn get_events_lists_in_api_key_order_with_node_events_in_default() {
    // As a real kube-apiserver v1.37 lists them: namespace, then name `<object>.<hex time>`,
    // so rows group by object name, oldest first within one; Node events live in `default`.
    let sim = run(&[
        ("1m", "kubectl get events"),
        ("1m", "kubectl get events -n shop"),
    ]);
    let (stdout, _, code) = out(&sim, 0);
    assert_eq!(code, 0);
    let objects: Vec<&str> = stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(3).unwrap())
        .collect();
    assert_eq!(objects, ["node/n-1", "node/n-2"], "{stdout}");
    let (stdout, _, _) = out(&sim, 1);
    let names: Vec<&str> = stdout
        .lines()
        .skip(1)
        .map(|l| {
            l.split_whitespace()
                .nth(3)
                .unwrap()
                .split_once('/')
                .unwrap()
                .1
        })
        .collect();
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| format!("{n}."));
    assert_eq!(names, sorted, "grouped by object name:\n{stdout}");
    assert!(names.len() > 5);
}

#[test]
fn a_pdb_created_before_its_pods_records_no_pods() {
    // disruption.go trySync: the PDB `web` is created with its Deployment, before any pod.
    let sim = run(&[]);
    let no_pods: Vec<_> = sim
        .recorder
        .events()
        .iter()
        .filter(|e| e.reason == "NoPods")
        .collect();
    assert_eq!(no_pods.len(), 1);
    assert_eq!(no_pods[0].message, "No matching pods found");
    assert_eq!(no_pods[0].involved_object.name, "web");
}

#[test]
fn get_with_a_field_selector() {
    let sim = run(&[
        (
            "1m",
            "kubectl get pods -n shop --field-selector status.phase=Running,spec.nodeName!=nowhere -o name",
        ),
        (
            "1m",
            "kubectl get events --field-selector involvedObject.kind=Node",
        ),
        ("1m", "kubectl get pods --field-selector foo=bar"),
        (
            "1m",
            "kubectl get deploy -n shop --field-selector status.replicas=2",
        ),
    ]);
    let (stdout, _, code) = out(&sim, 0);
    assert_eq!((code, stdout.lines().count()), (0, 2), "{stdout}");
    let (stdout, _, _) = out(&sim, 1);
    assert!(
        stdout.lines().skip(1).all(|l| l.contains("node/")),
        "{stdout}"
    );
    // Refused as kube-apiserver v1.37.2 refuses them.
    let (_, stderr, code) = out(&sim, 2);
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim_end(),
        "Error from server (BadRequest): Unable to find \"/v1, Resource=pods\" that match label selector \"\", field selector \"foo=bar\": field label not supported: foo"
    );
    let (_, stderr, _) = out(&sim, 3);
    assert!(
        stderr.contains("\"apps/v1, Resource=deployments\"")
            && stderr.ends_with("\"status.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"\n"),
        "{stderr}"
    );
}

/// Writes the API server refuses, with its words (each expected text was produced by a real
/// v1.37.2 API server and kubectl for the same step), and label removal.
#[test]
fn refused_writes_are_worded_as_the_api_server_words_them() {
    let sim = run(&[
        (
            "1m",
            "kubectl patch deployment web -n shop -p '{\"metadata\":{\"name\":\"other\"}}'",
        ),
        (
            "1m",
            "kubectl patch deployment web -n shop -p '{\"metadata\":{\"namespace\":\"x\"}}'",
        ),
        (
            "1m",
            "kubectl patch deployment web -n shop --type json -p '[{\"op\":\"remove\",\"path\":\"/spec/selector\"}]'",
        ),
        ("1m", "kubectl label node n-1 'a b=c'"),
        ("1m", "kubectl label node n-1 foo.io/bar=x"),
        ("2m", "kubectl label node n-1 foo.io/bar-"),
        ("2m", "kubectl label node n-1 foo.io/bar-"),
        ("2m", "kubectl label node n-1 'x=a b'"),
        ("3m", "kubectl delete priorityclass system-node-critical"),
        ("3m", "kubectl delete namespace kube-system"),
    ]);
    let err = |i: usize| {
        let (stdout, stderr, code) = out(&sim, i);
        (
            stdout.trim_end().to_string(),
            stderr.trim_end().to_string(),
            code,
        )
    };
    assert_eq!(
        err(0).1,
        "Error from server (BadRequest): the name of the object (other) does not match the name on the URL (web)"
    );
    assert_eq!(
        err(1).1,
        "Error from server (BadRequest): the namespace of the provided object does not match the namespace sent on the request"
    );
    assert_eq!(
        err(2).1,
        "The Deployment \"web\" is invalid: \n* spec.selector: Required value\n* spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`\n* spec.selector: Invalid value: null: field is immutable"
    );
    assert_eq!(
        err(3).1,
        "The Node \"n-1\" is invalid: metadata.labels: Invalid value: \"a b\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
    );
    assert_eq!((err(4).0.as_str(), err(4).2), ("node/n-1 labeled", 0));
    assert_eq!((err(5).0.as_str(), err(5).2), ("node/n-1 unlabeled", 0));
    assert_eq!(
        (err(6).0.as_str(), err(6).1.as_str(), err(6).2),
        ("node/n-1 not labeled", "label \"foo.io/bar\" not found.", 0)
    );
    assert!(err(7).1.starts_with(
        "error: invalid label value: \"x=a b\": a valid label must be an empty string"
    ));
    assert_eq!(
        err(8).1,
        "Error from server (Forbidden): priorityclasses.scheduling.k8s.io \"system-node-critical\" is forbidden: this is a system priority class and cannot be deleted"
    );
    assert_eq!(
        err(9).1,
        "Error from server (Forbidden): namespaces \"kube-system\" is forbidden: this namespace may not be deleted"
    );
    for i in [0, 1, 2, 3, 7, 8, 9] {
        assert_eq!(err(i).2, 1, "step {i}");
    }
}
