//! Seed 003 ("Autoscaling Kubernetes clusters") with the Cluster Autoscaler emulation: the
//! priority expander prefers the spot pool and falls back to on-demand when spot capacity runs
//! out; underutilized nodes go after 10 minutes unneeded; scale-down blockers keep their nodes;
//! expendable pods (below `--expendable-pods-priority-cutoff`) never get capacity.

use std::path::Path;
use std::sync::Arc;

use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;
use serde_json::Value;

fn run_file(path: &Path) -> Sim {
    let mut sim = Sim::new(Arc::new(Scenario::load(path).unwrap())).unwrap();
    sim.run_checked().unwrap();
    sim
}

fn events<'a>(sim: &'a Sim, reason: &str) -> Vec<&'a kscale_report::EventRecord> {
    sim.recorder
        .events()
        .iter()
        .filter(|e| e.reason == reason)
        .collect()
}

fn decisions(sim: &Sim) -> Vec<Value> {
    sim.summary(None)["clusterAutoscaler"]["decisions"]
        .as_array()
        .unwrap()
        .clone()
}

/// A scenario in a temporary directory: cloud node groups, CA flags, extra manifests.
fn run(
    groups: &str,
    cloud_extra: &str,
    flags: &str,
    manifests: &str,
    steps: &str,
    duration: &str,
) -> Sim {
    let dir = tempfile::tempdir().unwrap();
    let flags: String = flags
        .split_whitespace()
        .map(|f| format!("            - {f}\n"))
        .collect();
    let ca = format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: cluster-autoscaler, namespace: kube-system}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: cluster-autoscaler}}}}
  template:
    metadata: {{labels: {{app: cluster-autoscaler}}}}
    spec:
      nodeSelector: {{role: system}}
      tolerations: [{{key: CriticalAddonsOnly, operator: Exists}}]
      containers:
        - name: cluster-autoscaler
          image: registry.k8s.io/autoscaling/cluster-autoscaler:v1.32.0
          command:
            - ./cluster-autoscaler
            - --cloud-provider=aws
{flags}          resources: {{requests: {{cpu: 100m, memory: 600Mi}}}}
---
{manifests}"
    );
    std::fs::write(dir.path().join("m.yaml"), ca).unwrap();
    let s = format!(
        "apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {{name: ca}}
spec:
  duration: {duration}
  seed: 3
  cloud:
    provider: aws
    nodeGroups:
      - {{name: system, instanceType: m5.large, min: 1, max: 1, labels: {{role: system}}, taints: [{{key: CriticalAddonsOnly, value: \"true\", effect: NoSchedule}}]}}
{groups}
{cloud_extra}
  manifests: [m.yaml]
  steps: {steps}
"
    );
    std::fs::write(dir.path().join("s.yaml"), s).unwrap();
    run_file(&dir.path().join("s.yaml"))
}

fn deployment(
    name: &str,
    ns: &str,
    replicas: u32,
    cpu: &str,
    extra_meta: &str,
    extra_spec: &str,
) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {ns}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}{extra_meta}}}
    spec:
{extra_spec}      containers:
        - {{name: c, image: app, resources: {{requests: {{cpu: {cpu}, memory: 256Mi}}}}}}
---
"
    )
}

#[test]
fn seed003_spot_first_fallback_to_on_demand_and_scale_down() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed003/scenario.yaml");
    let sim = run_file(&path);
    let d = decisions(&sim);
    let kinds: Vec<(&str, &str)> = d
        .iter()
        .map(|x| (x["kind"].as_str().unwrap(), x["group"].as_str().unwrap()))
        .collect();
    // The priority expander picks spot (priority 50) for the first two scale-ups.
    assert_eq!(kinds[0], ("scaleUp", "spot-m5-large"));
    assert_eq!(kinds[1], ("scaleUp", "spot-m5-large"));
    assert_eq!(d[0]["time"], 10.0, "first loop after the CA starts");
    let triggered = events(&sim, "TriggeredScaleUp");
    assert_eq!(
        triggered.iter().filter(|e| e.time == 10.0).count(),
        2,
        "both pending web pods"
    );
    assert_eq!(
        triggered[0].message,
        "pod triggered scale-up: [{spot-m5-large 0->1 (max: 5)}]"
    );
    // Minute 15: spot capacity is gone; the spot launch fails, the group backs off for 5
    // minutes and the next loop falls back to on-demand (priority 10).
    assert_eq!(kinds[2], ("scaleUp", "spot-m5-large"));
    assert_eq!(d[2]["time"], 910.0);
    assert_eq!(kinds[3], ("scaleUpFailed", "spot-m5-large"));
    assert_eq!(d[3]["detail"]["backoffUntilSeconds"], 920.0 + 300.0);
    assert_eq!(kinds[4], ("scaleUp", "on-demand-m5-large"));
    assert_eq!(d[4]["time"], 920.0);
    let failed = events(&sim, "ScaleUpFailed");
    assert_eq!(failed.len(), 1);
    assert!(failed[0].message.starts_with("Failed adding 1 nodes to group spot-m5-large due to OutOfResource.InsufficientInstanceCapacity"));
    // Nodes by group over time (timeseries.csv): at most 2 spot nodes and 1 on-demand node.
    let ts = sim.timeseries();
    let max_of = |col: &str| {
        let i = ts.columns.iter().position(|c| c == col).unwrap();
        ts.rows.iter().map(|r| r[i]).fold(0.0, f64::max)
    };
    assert_eq!(max_of("nodes/group/spot-m5-large"), 2.0);
    assert_eq!(max_of("nodes/group/on-demand-m5-large"), 1.0);
    assert_eq!(max_of("nodes/capacity/spot"), 2.0);
    // Minute 25: 3 of 8 replicas stay. The empty spot node and the underutilized one (one
    // 600m pod: 31% of 1930m, below the 50% threshold, and it fits the on-demand node) go
    // after 10 minutes unneeded: 25m10s (first loop after the change) + 10m.
    let downs: Vec<&Value> = d.iter().filter(|x| x["kind"] == "scaleDown").collect();
    assert_eq!(downs.len(), 2, "{downs:?}");
    for x in &downs {
        assert_eq!(x["time"], 2110.0);
        assert_eq!(x["detail"]["unneededSeconds"], 600.0);
        assert_eq!(x["group"], "spot-m5-large");
    }
    let drained = downs
        .iter()
        .find(|x| x["detail"]["empty"] == false)
        .expect("one drain");
    assert_eq!(drained["detail"]["utilization"], 0.311);
    assert_eq!(
        drained["detail"]["podsToReschedule"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(events(&sim, "ScaleDownEmpty").len() == 1);
    // In the end: the system node and the on-demand node holding the three web pods.
    assert_eq!(sim.nodes.len(), 2);
    let web_running = sim
        .pods
        .values()
        .filter(|p| p.name.starts_with("web-") && p.is_ready())
        .count();
    assert_eq!(web_running, 3);
    let s = sim.summary(None);
    assert_eq!(s["clusterAutoscaler"]["scaleUps"], 4);
    assert_eq!(s["clusterAutoscaler"]["nodesRemoved"], 2);
    assert!(
        s["unschedulableToRunning"]["p99Seconds"].as_f64().unwrap() > 60.0,
        "pods waited for nodes"
    );
    assert!(
        s["warnings"].as_array().unwrap().is_empty(),
        "{}",
        s["warnings"]
    );
    assert_eq!(d[0]["detail"]["triggeredBy"].as_array().unwrap().len(), 2);
    // The status ConfigMap at minute 16, as `kubectl get configmap cluster-autoscaler-status`.
    let status = sim
        .recorder
        .transcript()
        .iter()
        .find(|t| t.command.contains("cluster-autoscaler-status"))
        .unwrap();
    assert_eq!(status.exit_code, 0, "{}", status.stderr);
    let spot = status
        .stdout
        .find("- name: spot-m5-large")
        .expect("spot group listed");
    let od = status
        .stdout
        .find("- name: on-demand-m5-large")
        .expect("on-demand group listed");
    let (spot_part, od_part) = if spot < od {
        (&status.stdout[spot..od], &status.stdout[od..])
    } else {
        (&status.stdout[spot..], &status.stdout[od..spot])
    };
    assert!(spot_part.contains("status: Backoff"), "{}", status.stdout);
    assert!(
        spot_part.contains("cloudProviderTarget: 2"),
        "{}",
        status.stdout
    );
    assert!(od_part.contains("status: InProgress"), "{}", status.stdout);
    assert!(od_part.contains("unregistered: 1"), "{}", status.stdout);
    // Same inputs and seed, same events and summary.
    let again = run_file(&path);
    assert_eq!(again.recorder.events(), sim.recorder.events());
    assert_eq!(again.summary(None), s);
}

#[test]
fn scale_down_blockers_keep_their_nodes() {
    // Four worker nodes, one pod each: a PDB-protected pod (no disruption allowed), a pod
    // annotated safe-to-evict=false, a kube-system pod without PDB, and a free pod.
    let manifests = [
        deployment("guarded", "default", 1, "200m", "", ""),
        "apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: guarded}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: guarded}}
---
"
        .to_string(),
        deployment(
            "pinned",
            "default",
            1,
            "200m",
            ", annotations: {cluster-autoscaler.kubernetes.io/safe-to-evict: \"false\"}",
            "",
        ),
        deployment("addon", "kube-system", 1, "200m", "", ""),
        deployment("free", "default", 1, "200m", "", ""),
    ]
    .concat();
    let sim = run(
        "      - {name: workers, instanceType: m5.large, min: 0, max: 10, desired: 4}",
        "",
        "--nodes=0:10:workers",
        &manifests,
        "[]",
        "20m",
    );
    let node_of = |app: &str| -> String {
        sim.pods
            .values()
            .find(|p| p.name.starts_with(app) && p.node.is_some())
            .and_then(|p| p.node.as_deref().map(str::to_string))
            .unwrap()
    };
    let downs: Vec<Value> = decisions(&sim)
        .into_iter()
        .filter(|x| x["kind"] == "scaleDown")
        .collect();
    assert_eq!(downs.len(), 1, "only the free pod's node goes: {downs:?}");
    assert_eq!(downs[0]["detail"]["empty"], false);
    assert_eq!(
        downs[0]["time"], 610.0,
        "unneeded from the first loop (10 s) for 10 minutes"
    );
    let workers = sim
        .nodes
        .values()
        .filter(|n| {
            n.info
                .labels
                .get("eks.amazonaws.com/nodegroup")
                .map(String::as_str)
                == Some("workers")
        })
        .count();
    assert_eq!(workers, 3);
    let s = sim.summary(None);
    let unremovable = &s["clusterAutoscaler"]["unremovableNodes"];
    let reason = |app: &str| {
        unremovable[node_of(app).as_str()]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(reason("guarded").ends_with("NotEnoughPdb"), "{unremovable}");
    assert!(
        reason("pinned").ends_with("NotSafeToEvictAnnotation"),
        "{unremovable}"
    );
    assert!(
        reason("addon").ends_with("UnmovableKubeSystemPod"),
        "{unremovable}"
    );
    // The free pod was evicted and runs again on one of the remaining nodes.
    assert!(
        sim.pods
            .values()
            .any(|p| p.name.starts_with("free-") && p.is_ready())
    );
    assert_eq!(events(&sim, "ScaledUpGroup").len(), 0);
}

fn overprovisioning(priority: i32) -> Sim {
    let manifests = format!(
        "apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {{name: overprovisioning}}
value: {priority}
globalDefault: false
---
{}",
        deployment(
            "overprovisioning",
            "default",
            1,
            "1",
            "",
            "      priorityClassName: overprovisioning\n"
        )
    );
    run(
        "      - {name: workers, instanceType: m5.large, min: 0, max: 5}",
        "",
        "--nodes=0:5:workers",
        &manifests,
        "[]",
        "10m",
    )
}

#[test]
fn expendable_pause_pods_never_get_capacity_and_are_warned_about() {
    // -1000 (a common guide's placeholder) is below the default cutoff of -10.
    let sim = overprovisioning(-1000);
    assert!(events(&sim, "ScaledUpGroup").is_empty());
    assert!(events(&sim, "TriggeredScaleUp").is_empty());
    assert!(
        sim.pods
            .values()
            .any(|p| p.name.starts_with("overprovisioning-") && p.node.is_none())
    );
    let s = sim.summary(None);
    let w: Vec<&str> = s["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("default/deployment/overprovisioning have priority -1000, below --expendable-pods-priority-cutoff=-10"));
    // Seed 004's -1 pause pods are not expendable: they trigger a scale-up and run.
    let sim = overprovisioning(-1);
    let up = events(&sim, "ScaledUpGroup");
    assert_eq!(up.len(), 1);
    assert_eq!(
        up[0].message,
        "Scale-up: setting group workers size to 1 instead of 0 (max: 5)"
    );
    assert!(
        sim.pods
            .values()
            .any(|p| p.name.starts_with("overprovisioning-") && p.is_ready())
    );
    assert!(sim.summary(None)["warnings"].as_array().unwrap().is_empty());
}

#[test]
fn expendable_cutoff_flag_moves_the_line() {
    let manifests = format!(
        "apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {{name: low}}
value: -1000
---
{}",
        deployment(
            "pause",
            "default",
            1,
            "1",
            "",
            "      priorityClassName: low\n"
        )
    );
    let sim = run(
        "      - {name: workers, instanceType: m5.large, min: 0, max: 5}",
        "",
        "--nodes=0:5:workers --expendable-pods-priority-cutoff=-1000",
        &manifests,
        "[]",
        "10m",
    );
    assert_eq!(
        events(&sim, "ScaledUpGroup").len(),
        1,
        "-1000 is not below a cutoff of -1000"
    );
}

#[test]
fn spot_interruption_is_replaced_on_demand_when_spot_is_short() {
    // The spot node is interrupted (rate 6/h, seeded); spot capacity is gone from minute 5:
    // the replacement comes from the on-demand group.
    let sim = run(
        "      - {name: spot, instanceType: m5.large, capacityType: spot, min: 0, max: 5}
      - {name: on-demand, instanceType: m5.large, min: 0, max: 5}",
        "    spotInterruptions: {ratePerHour: 6}
    insufficientCapacity:
      - {group: spot, from: 5m, to: 2h}",
        "--nodes=0:5:spot --nodes=0:5:on-demand --expander=priority,least-waste",
        &(deployment("web", "default", 2, "600m", "", "")
            + "apiVersion: v1
kind: ConfigMap
metadata: {name: cluster-autoscaler-priority-expander, namespace: kube-system}
data:
  priorities: |-
    50:
      - ^spot$
    10:
      - on-demand
"),
        "[]",
        "60m",
    );
    let interrupted = events(&sim, "SpotInterrupted");
    assert!(
        !interrupted.is_empty(),
        "the seeded run interrupts the spot node"
    );
    let t = interrupted[0].time;
    assert!(t > 300.0, "after spot capacity ran out (t = {t})");
    let d = decisions(&sim);
    let after: Vec<(&str, &str)> = d
        .iter()
        .filter(|x| x["time"].as_f64().unwrap() >= t)
        .map(|x| (x["kind"].as_str().unwrap(), x["group"].as_str().unwrap()))
        .collect();
    assert_eq!(
        &after[..3],
        [
            ("scaleUp", "spot"),
            ("scaleUpFailed", "spot"),
            ("scaleUp", "on-demand")
        ],
        "{d:?}"
    );
    assert_eq!(
        d[0]["group"], "spot",
        "before the shortage, spot is preferred"
    );
    // Both web pods run on the on-demand node at the end.
    let od: Vec<String> = sim
        .nodes
        .iter()
        .filter(|(_, n)| {
            n.info
                .labels
                .get("eks.amazonaws.com/nodegroup")
                .map(String::as_str)
                == Some("on-demand")
        })
        .map(|(k, _)| k.to_string())
        .collect();
    assert_eq!(od.len(), 1);
    let web_on_od = sim
        .pods
        .values()
        .filter(|p| {
            p.name.starts_with("web-") && p.is_ready() && p.node.as_deref() == Some(od[0].as_str())
        })
        .count();
    assert_eq!(web_on_od, 2);
}

#[test]
fn the_ca_acts_only_while_its_pod_runs_and_explains_pods_it_cannot_help() {
    // The CA Deployment is scaled to 0 before its pod exists and back to 1 at minute 5.
    let manifests = deployment("web", "default", 1, "500m", "", "")
        + &deployment(
            "picky",
            "default",
            1,
            "500m",
            "",
            "      nodeSelector: {role: missing}\n",
        );
    let sim = run(
        "      - {name: workers, instanceType: m5.large, min: 0, max: 5}",
        "",
        "--nodes=0:5:workers --frobnicate=3",
        &manifests,
        "[{at: 0s, run: kubectl scale deployment cluster-autoscaler -n kube-system --replicas=0}, {at: 5m, run: kubectl scale deployment cluster-autoscaler -n kube-system --replicas=1}]",
        "10m",
    );
    let up = events(&sim, "ScaledUpGroup");
    assert_eq!(up.len(), 1);
    assert!(
        up[0].time > 300.0 && up[0].time <= 320.0,
        "first loop once the CA pod is Ready: {}",
        up[0].time
    );
    let w = sim.summary(None)["warnings"].clone();
    assert!(
        w.to_string().contains("unknown flag --frobnicate ignored"),
        "{w}"
    );
    // The picky pod needs a label no group's nodes carry: NotTriggerScaleUp, once.
    let nt = events(&sim, "NotTriggerScaleUp");
    assert_eq!(nt.len(), 1, "identical messages are not repeated");
    assert!(nt[0].involved_object.name.starts_with("picky-"));
    assert_eq!(
        nt[0].message,
        "pod didn't trigger scale-up: 1 node(s) didn't match Pod's node affinity/selector"
    );
    assert!(nt[0].time > 300.0);
}

fn buffer_run(buffer_spec: Option<&str>) -> Sim {
    let mut manifests = deployment("web", "default", 2, "600m", "", "");
    if let Some(spec) = buffer_spec {
        manifests += &format!(
            "apiVersion: autoscaling.x-k8s.io/v1alpha1
kind: CapacityBuffer
metadata: {{name: web-buffer}}
spec:
{spec}
---
apiVersion: v1
kind: PodTemplate
metadata: {{name: spare}}
template:
  metadata: {{labels: {{app: spare}}}}
  spec:
    containers:
      - {{name: c, image: pause, resources: {{requests: {{cpu: 600m, memory: 256Mi}}}}}}
"
        );
    }
    run(
        "      - {name: workers, instanceType: m5.large, min: 0, max: 5, desired: 1}",
        "",
        "--nodes=0:5:workers",
        &manifests,
        "[]",
        "30m",
    )
}

#[test]
fn capacity_buffer_keeps_room_for_more_replicas() {
    // Without a buffer: the two 600m web pods share the one worker; nothing to scale.
    let sim = buffer_run(None);
    assert!(events(&sim, "ScaledUpGroup").is_empty());
    // A buffer of two more web replicas: one fake pod fits beside the web pods (3 × 600m of
    // 1930m), the other needs a second node, which then stays (its room is held: never
    // scaled down in 30 minutes although it runs no pod).
    for spec in [
        "  scalableRef: {apiGroup: apps, kind: Deployment, name: web}\n  replicas: 2",
        "  scalableRef: {apiGroup: apps, kind: Deployment, name: web}\n  percentage: 100",
        "  podTemplateRef: {name: spare}\n  limits: {cpu: 1200m}",
    ] {
        let sim = buffer_run(Some(spec));
        let up = events(&sim, "ScaledUpGroup");
        assert_eq!(up.len(), 1, "{spec}");
        assert_eq!(
            up[0].message,
            "Scale-up: setting group workers size to 2 instead of 1 (max: 5)"
        );
        assert_eq!(up[0].time, 10.0);
        assert!(
            events(&sim, "TriggeredScaleUp").is_empty(),
            "fake pods get no events"
        );
        let workers = sim
            .nodes
            .values()
            .filter(|n| {
                n.info
                    .labels
                    .get("eks.amazonaws.com/nodegroup")
                    .map(String::as_str)
                    == Some("workers")
            })
            .count();
        assert_eq!(workers, 2, "{spec}");
        assert!(events(&sim, "ScaleDownEmpty").is_empty());
        let b = sim
            .store
            .get(&kscale_twin::sim::store::ObjKey::new(
                "CapacityBuffer",
                "default",
                "web-buffer",
            ))
            .unwrap();
        assert_eq!(b["status"]["replicas"], 2, "{spec}");
        assert_eq!(b["status"]["conditions"][1]["reason"], "FakePodsInjected");
    }
    // A buffer with nothing to size it is not ready and injects nothing.
    let sim = buffer_run(Some(
        "  scalableRef: {apiGroup: apps, kind: Deployment, name: web}",
    ));
    assert!(events(&sim, "ScaledUpGroup").is_empty());
    let b = sim
        .store
        .get(&kscale_twin::sim::store::ObjKey::new(
            "CapacityBuffer",
            "default",
            "web-buffer",
        ))
        .unwrap();
    assert_eq!(b["status"]["conditions"][0]["status"], "False");
}

// Issue 5: seed 004's over-provisioning works the same with the Cluster Autoscaler: pause
// pods at -1 (not expendable) make the CA keep spare t3.small nodes, so surge pods start at
// once instead of waiting for a node.
#[test]
fn seed004_overprovisioning_works_with_the_cluster_autoscaler() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/headroom/cluster-autoscaler.yaml");
    let pause =
        kscale_twin::headroom::Source::PausePods("default".to_string(), "dummy-app".to_string());
    let row = |n| {
        kscale_twin::headroom::run_variant(&path, &pause, "default/deployment/nginx-app", n, None)
            .unwrap()
    };
    let (none, two) = (row(0), row(2));
    assert_eq!((none.pods_started, two.pods_started), (7, 7));
    assert!(
        none.p99_seconds > 60.0,
        "without headroom surge pods wait for nodes: {none:?}"
    );
    assert!(
        two.p99_seconds < 30.0,
        "two pause pods absorb the surges: {two:?}"
    );
    assert!(two.cost_usd > none.cost_usd);
}
