//! The fuzz targets on stable: every target over its seed corpus (the bundled examples and a
//! few hand-written inputs), deterministic mutations of it, and the crashes fuzzing found
//! (`regressions/TARGET/`). A panic here is a bug; coverage-guided fuzzing runs the same
//! bodies (`bash fuzz/run.sh`).

use std::path::{Path, PathBuf};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every file under `dir` (recursively) whose name ends in `.yaml`.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml") {
            out.push(p);
        }
    }
}

/// The seed corpus of a target (as `fuzz/run.sh` builds it).
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    yaml_files(&repo().join("examples"), &mut files);
    let texts: Vec<String> = files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect();
    let scenarios: Vec<&String> = texts
        .iter()
        .filter(|t| t.contains("kind: Scenario"))
        .collect();
    let small = "apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {name: f}
spec:
  duration: 10m
  nodes: [{name: n, instanceType: m5.large, count: 2}]
  manifests: [m.yaml]
  load:
    - {target: deployment/web, requestsPerSecond: {steps: [{at: 0s, value: 20}, {at: 5m, value: 90}]}, cpuPerRequest: 10m}
  steps:
    - {at: 1m, run: kubectl get pods -o wide}
    - {at: 2m, run: kubectl scale deployment web --replicas=4}
    - {at: 3m, run: 'kubectl patch deployment web -p {\"spec\":{\"replicas\":3}}'}
    - {at: 4m, run: kubectl cordon n-1}
"
    .to_string();
    let strings = |xs: &[&str]| xs.iter().map(|s| s.as_bytes().to_vec()).collect();
    match target {
        "scenario" | "run" => std::iter::once(&small)
            .chain(scenarios)
            .map(|t| t.clone().into_bytes())
            .collect(),
        "manifests" => texts
            .iter()
            .filter(|t| !t.contains("kind: Scenario"))
            .map(|t| t.clone().into_bytes())
            .collect(),
        "quantity" => strings(&[
            "250m",
            "1.5Gi",
            "1e3",
            "-1",
            "0.1",
            "12345678901234567890Ki",
            "1E",
            ".5",
        ]),
        "duration" => strings(&["1h30m", "250ms", "99999h", "-1s", "1.5h", "0", "1y"]),
        "kubectl_args" => {
            let mut v: Vec<Vec<u8>> = texts
                .iter()
                .flat_map(|t| t.lines())
                .filter_map(|l| l.trim().strip_prefix("run: "))
                .map(|l| l.as_bytes().to_vec())
                .collect();
            v.push(b"kubectl taint nodes n1 key=value:NoSchedule".to_vec());
            v
        }
        "patch" => strings(&[
            "\u{0}{\"spec\":{\"replicas\":3}}",
            "\u{1}{\"metadata\":{\"labels\":null}}",
            "\u{2}[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":-1}]",
            "\u{0}{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"d\"}]}}}}",
            "\u{0}{\"spec\":{\"template\":{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"c\"}]}}}}",
        ]),
        other => panic!("no seeds for {other}"),
    }
}

const TOKENS: &[&str] = &[
    "-1",
    "0",
    "1e9",
    "4294967297",
    "99999h",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "'",
    "\n",
    ": ",
    "- ",
    "null",
    "~",
    "&a",
    "*a",
    "!!binary",
    "\t",
    "%",
    "0x",
    "NaN",
];

/// One deterministic mutation of `seed`: a byte flip, a cut, a token inserted, or a line
/// repeated.
fn mutate(seed: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut v = seed.to_vec();
    let at = |rng: &mut ChaCha8Rng, len: usize| rng.random_range(0..=len);
    match rng.random_range(0..4) {
        0 if !v.is_empty() => {
            let i = rng.random_range(0..v.len());
            v[i] ^= 1 << rng.random_range(0..8);
        }
        1 => {
            let i = at(rng, v.len());
            v.truncate(i);
        }
        2 => {
            let i = at(rng, v.len());
            let t = TOKENS[rng.random_range(0..TOKENS.len())];
            v.splice(i..i, t.bytes());
        }
        _ => {
            let text = String::from_utf8_lossy(&v).into_owned();
            let lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let i = rng.random_range(0..lines.len());
                let mut out = lines.clone();
                out.insert(i, lines[i]);
                v = out.join("\n").into_bytes();
            }
        }
    }
    v
}

#[test]
fn every_target_survives_its_seeds_and_their_mutations() {
    for &(name, target) in kscale_fuzzing::TARGETS {
        let seeds = seeds(name);
        assert!(!seeds.is_empty(), "{name}: no seeds");
        if name == "run" {
            assert!(
                kscale_fuzzing::loads(&seeds[0]),
                "the run target's first seed loads"
            );
        }
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // Runs are the slow target: fewer mutants each.
        let per_seed = if name == "run" { 3 } else { 20 };
        for s in &seeds {
            target(s);
            for _ in 0..per_seed {
                target(&mutate(s, &mut rng));
            }
        }
    }
}

#[test]
fn crashes_found_by_fuzzing_stay_fixed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    for &(name, target) in kscale_fuzzing::TARGETS {
        kscale_fuzzing::replay_dir(&dir.join(name), target);
    }
}
