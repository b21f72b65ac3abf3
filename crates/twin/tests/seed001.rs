//! Seed 001's "domino effect" and the fixes the seed names, from `examples/seed001`.

mod common;

struct Outcome {
    oom_kills: u64,
    drop_ratio: f64,
    slo_violation_s: f64,
}

fn run(file: &str) -> Outcome {
    let sim = common::run_example(&format!("seed001/{file}"));
    let s = sim.load.state(0);
    Outcome {
        oom_kills: sim.recorder.counter("oomKills"),
        drop_ratio: s.dropped / s.offered,
        slo_violation_s: s.slo_violation_s,
    }
}

#[test]
fn domino_effect_and_its_fixes() {
    let domino = run("domino.yaml");
    // The surge makes pods OOM one after another: many kills, a large share of requests lost.
    assert!(domino.oom_kills >= 10, "{}", domino.oom_kills);
    assert!(domino.drop_ratio > 0.3, "{}", domino.drop_ratio);
    for fix in [
        "fix-no-memory-limit.yaml",
        "fix-rate-limit.yaml",
        "fix-lower-target.yaml",
    ] {
        let o = run(fix);
        assert_eq!(o.oom_kills, 0, "{fix}");
        assert!(
            o.drop_ratio < domino.drop_ratio / 10.0,
            "{fix}: {}",
            o.drop_ratio
        );
        assert!(
            o.slo_violation_s < domino.slo_violation_s / 3.0,
            "{fix}: {}",
            o.slo_violation_s
        );
    }
}
