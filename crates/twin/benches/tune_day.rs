#![allow(missing_docs)] // criterion_group!/criterion_main! generate undocumented functions
//! Issue 27's speed target for `kscale tune`: a 20-configuration search over one simulated day
//! of the seed 004 cluster (`examples/seed004/day/`: Karpenter, nginx-app under an HPA on a
//! diurnal load, pause pods) must finish in under a minute on 2 cores. One iteration is the
//! whole search — every configuration run in parallel on rayon's pool, as `kscale tune` does.
//!
//! `cargo bench -p kscale-twin --bench tune_day`

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use kscale_twin::scenario::Scenario;
use kscale_twin::tune::{self, Tuning};
use rayon::prelude::*;

fn bench(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed004/day");
    let scenario = Scenario::load(&dir.join("scenario.yaml")).expect("the example loads");
    let tuning = Tuning::load(&dir.join("tuning.yaml")).expect("the tuning file loads");
    tuning
        .check(&scenario)
        .expect("the knobs fit the manifests");
    assert_eq!(tuning.configurations(), 20);
    let mut group = c.benchmark_group("tune");
    group.sample_size(10);
    group.bench_function("seed004_day_20_configurations", |b| {
        b.iter(|| {
            let results: Vec<_> = (0..tuning.configurations())
                .into_par_iter()
                .map(|i| tune::run_trial(&scenario, tuning.overrides(i), None).expect("runs"))
                .collect();
            assert!(results.iter().any(|r| r.slos.iter().all(|s| s.pass)));
            results
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
