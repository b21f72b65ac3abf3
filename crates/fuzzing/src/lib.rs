//! The bodies of kscale's fuzz targets: each takes arbitrary bytes, feeds them to one of the
//! input layers, and panics only on a bug (every input error must be an `Err`, never a
//! panic, an abort or a hang).
//!
//! `fuzz/` (a cargo-fuzz project outside the workspace, nightly) runs them coverage-guided:
//! `bash fuzz/run.sh [SECONDS]`. On stable, this crate's tests replay the seed corpus (the
//! bundled examples) and deterministic mutations of it through every target, and every
//! input in `regressions/` (crashes found by fuzzing, kept as regression tests).

use std::path::Path;

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// The fuzz targets by name, as `fuzz/fuzz_targets/NAME.rs` calls them.
pub const TARGETS: &[(&str, Target)] = &[
    ("scenario", scenario),
    ("manifests", manifests),
    ("quantity", quantity),
    ("duration", duration),
    ("kubectl_args", kubectl_args),
    ("patch", patch),
    ("run", run),
];

/// The manifest every scenario target loads beside the fuzzed file (a Deployment and an HPA,
/// so that steps and loads have something to act on).
const MANIFEST: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: nginx
        resources: {requests: {cpu: 250m, memory: 64Mi}, limits: {memory: 128Mi}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 6
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
";

/// A scenario holding `manifests: [m.yaml]` needs its files: writes `text` as
/// `scenario.yaml` beside [`MANIFEST`] (or beside `manifest` when given) and loads it.
fn load_in_dir(
    text: &[u8],
    manifest: Option<&[u8]>,
) -> Option<(
    tempfile::TempDir,
    Result<kscale_twin::scenario::Scenario, String>,
)> {
    let dir = tempfile::tempdir().ok()?;
    std::fs::write(
        dir.path().join("m.yaml"),
        manifest.unwrap_or(MANIFEST.as_bytes()),
    )
    .ok()?;
    let path = dir.path().join("scenario.yaml");
    std::fs::write(&path, text).ok()?;
    let loaded = kscale_twin::scenario::Scenario::load(&path).map_err(|e| e.to_string());
    Some((dir, loaded))
}

/// Whether `data` loads as a scenario beside the fixed manifest (a check that seeds reach
/// past the parser).
pub fn loads(data: &[u8]) -> bool {
    matches!(load_in_dir(data, None), Some((_, Ok(_))))
}

/// A scenario file: parsed and validated (with its manifests and steps), never run.
pub fn scenario(data: &[u8]) {
    let _ = load_in_dir(data, None);
}

/// A manifests file: loaded by a fixed scenario, validated as the API server would.
pub fn manifests(data: &[u8]) {
    let s = b"apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {name: f}
spec:
  duration: 1m
  nodes: [{name: n, instanceType: m5.large, count: 1}]
  manifests: [m.yaml]
";
    let _ = load_in_dir(s, Some(data));
}

/// A resource quantity (`250m`, `1.5Gi`, `1e3`).
pub fn quantity(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(q) = kscale_model::Quantity::parse(s)
    {
        let _ = (q.milli(), q.value(), q.as_f64(), q.is_negative());
    }
}

/// A Go duration (`1h30m`, `250ms`).
pub fn duration(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = kscale_model::parse_duration(s);
    }
}

/// A kubectl command line as a scenario step writes it.
pub fn kubectl_args(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = kscale_kubectl::parse_command_line(s);
    }
}

/// A patch (strategic merge, JSON merge and JSON patch, from the bytes' first byte) applied to
/// a Deployment as the API server renders it.
pub fn patch(data: &[u8]) {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(body) else {
        return;
    };
    let Ok(patch) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    let target: serde_json::Value = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}}
    });
    let t = match kind % 3 {
        0 => kscale_kubectl::PatchType::Strategic,
        1 => kscale_kubectl::PatchType::Merge,
        _ => kscale_kubectl::PatchType::Json,
    };
    if let Ok(v) = kscale_kubectl::apply_patch_value(&target, &patch, t) {
        let _ = kscale_twin::validate::validate(&v);
    }
}

/// A whole short run: the bytes as a scenario file; a scenario that loads is run when it is
/// small (at most 30 simulated minutes and 20 nodes: the target looks for crashes, not for
/// slow inputs the limits already bound).
pub fn run(data: &[u8]) {
    let Some((_dir, Ok(s))) = load_in_dir(data, None) else {
        return;
    };
    let nodes: u64 = s
        .doc
        .spec
        .nodes
        .iter()
        .map(|n| u64::from(n.count))
        .sum::<u64>()
        + s.doc
            .spec
            .cloud
            .node_groups
            .iter()
            .map(|g| u64::from(g.max))
            .sum::<u64>();
    if s.doc.spec.duration.0 > 30 * 60 * 1000 || nodes > 20 {
        return;
    }
    if let Ok(mut sim) = kscale_twin::sim::Sim::new(std::sync::Arc::new(s)) {
        sim.run();
        let _ = sim.output();
    }
}

/// Runs `target` on every file of `dir` (a corpus or the regressions), returning how many.
pub fn replay_dir(dir: &Path, target: Target) -> usize {
    let mut n = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files.into_iter().filter(|f| f.is_file()) {
            if let Ok(bytes) = std::fs::read(&f) {
                target(&bytes);
                n += 1;
            }
        }
    }
    n
}
