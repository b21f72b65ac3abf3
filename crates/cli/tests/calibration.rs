//! The fast subset of the calibration suite (`calibration/run.sh` runs all of it): one
//! scenario on the twin and on a real control plane, compared with `kscale diff`. Every
//! decision must match one to one within 15 s — here the real kube-scheduler's choice of
//! the victim whose eviction violates no PodDisruptionBudget.
//!
//! Needs `KSCALE_CONTROLPLANE_BIN` (`.ci/run` sets it); skipped with a message without it.

mod common;

use std::path::Path;

use common::{kscale, real_bin, run_cluster, text};

#[test]
fn preemption_with_a_pdb_decides_as_the_real_control_plane() {
    let Some(bin) = real_bin("preemption_with_a_pdb_decides_as_the_real_control_plane") else {
        return;
    };
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../calibration/preemption-pdb.yaml")
        .canonicalize()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (twin, cluster) = (tmp.path().join("twin"), tmp.path().join("cluster"));
    let run = kscale()
        .args(["run", "-q", "--out"])
        .arg(&twin)
        .arg(&scenario)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let run = run_cluster(&bin, &scenario, &cluster);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let diff = kscale()
        .args(["diff"])
        .arg(&twin)
        .arg(&cluster)
        .arg("--out")
        .arg(tmp.path().join("diff"))
        .output()
        .unwrap();
    assert!(matches!(diff.status.code(), Some(0 | 1)), "{}", text(&diff));
    let d: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("diff/diff.json")).unwrap())
            .unwrap();
    for c in [
        "rescales",
        "scaleUps",
        "nodeLaunches",
        "nodeRemovals",
        "preemptions",
        "evictions",
        "oomKills",
    ] {
        assert_eq!(d["categories"][c]["equal"], true, "{c}: {}", text(&diff));
    }
    // The victim is the pod on `open`, whose eviction violates no PDB.
    let preempted = &d["categories"]["preemptions"]["matched"];
    assert_eq!(
        preempted.as_array().map(Vec::len),
        Some(1),
        "{}",
        text(&diff)
    );
    assert!(
        preempted[0]["key"]
            .as_str()
            .unwrap()
            .contains("default/open"),
        "{preempted}"
    );
}
