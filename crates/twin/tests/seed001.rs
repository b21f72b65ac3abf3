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

/// The report's memory series of a load with a memory model: what its pods use, and its
/// target's OOM kills over time, ending at the summary's count.
#[test]
fn memory_and_oom_kills_are_sampled_per_load() {
    let sim = common::run_example("seed001/domino.yaml");
    let out = sim.output();
    let ts = &out.timeseries;
    let col = |name: &str| {
        let i = ts
            .column(name)
            .unwrap_or_else(|| panic!("no column {name}"));
        ts.rows.iter().map(move |r| r[i]).collect::<Vec<f64>>()
    };
    let oom = col("load/default/deployment/api/oom_kills");
    assert_eq!(oom[0], 0.0);
    assert!(oom.windows(2).all(|w| w[1] >= w[0]), "a running count");
    let total = sim.recorder.counter("oomKills") as f64;
    assert_eq!(*oom.last().unwrap(), total);
    let memory = col("load/default/deployment/api/memory_mib");
    assert!(memory.iter().any(|m| *m > 100.0), "MiB used by the pods");
    let titles: Vec<&str> = out.charts.iter().map(|c| c.title.as_str()).collect();
    for t in [
        "Memory used by ready pods",
        "OOM kills (each a container restart)",
        "Pods evicted (node memory pressure)",
    ] {
        assert!(titles.contains(&t), "{titles:?}");
    }
}
