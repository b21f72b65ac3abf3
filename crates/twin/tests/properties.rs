//! Property tests over generated clusters and step sequences: no node above its allocatable,
//! every pod in exactly one consistent phase, and identical outputs for identical inputs.

use std::fmt::Write as _;
use std::sync::Arc;

use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Workload {
    replicas: u32,
    cpu_m: u32,
    mem_mi: u32,
    priority: i32,
}

#[derive(Debug, Clone)]
struct Gen {
    nodes: Vec<(usize, u32)>,
    workloads: Vec<Workload>,
    steps: Vec<(u32, usize, u32)>,
    seed: u64,
}

const TYPES: &[&str] = &["t3.small", "t3.medium", "m5.large", "c5.xlarge"];

fn cluster() -> impl Strategy<Value = Gen> {
    let node = (0..TYPES.len(), 1u32..4);
    let wl = (
        0u32..8,
        50u32..1500,
        32u32..1500,
        prop_oneof![Just(-10), Just(0), Just(1000)],
    )
        .prop_map(|(replicas, cpu_m, mem_mi, priority)| Workload {
            replicas,
            cpu_m,
            mem_mi,
            priority,
        });
    (
        proptest::collection::vec(node, 1..4),
        proptest::collection::vec(wl, 1..5),
        proptest::collection::vec((1u32..600, 0usize..5, 0u32..12), 0..6),
        0u64..1000,
    )
        .prop_map(|(nodes, workloads, steps, seed)| Gen {
            nodes,
            workloads,
            steps,
            seed,
        })
}

fn write_scenario(g: &Gen, dir: &std::path::Path) -> std::path::PathBuf {
    let mut m = String::new();
    for (i, w) in g.workloads.iter().enumerate() {
        writeln!(m, "---\napiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {{name: p{i}}}\nvalue: {}", w.priority).unwrap();
        writeln!(
            m,
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: w{i}}}\nspec:\n  replicas: {}\n  selector: {{matchLabels: {{app: w{i}}}}}\n  template:\n    metadata: {{labels: {{app: w{i}}}}}\n    spec:\n      priorityClassName: p{i}\n      containers:\n      - name: c\n        image: img{i}\n        resources: {{requests: {{cpu: {}m, memory: {}Mi}}}}",
            w.replicas, w.cpu_m, w.mem_mi
        )
        .unwrap();
    }
    std::fs::write(dir.join("m.yaml"), m).unwrap();
    let mut s = format!(
        "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {{name: gen}}\nspec:\n  duration: 15m\n  seed: {}\n  manifests: [m.yaml]\n  nodes:\n",
        g.seed
    );
    for (i, (t, count)) in g.nodes.iter().enumerate() {
        writeln!(
            s,
            "    - {{name: n{i}, instanceType: {}, count: {count}}}",
            TYPES[*t]
        )
        .unwrap();
    }
    s.push_str("  steps:\n");
    for (at, w, replicas) in &g.steps {
        let w = w % g.workloads.len();
        writeln!(
            s,
            "    - {{at: {at}s, run: kubectl scale deployment w{w} --replicas={replicas}}}"
        )
        .unwrap();
    }
    let p = dir.join("scenario.yaml");
    std::fs::write(&p, s).unwrap();
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn invariants_hold_and_runs_are_reproducible(g in cluster()) {
        let dir = tempfile::tempdir().unwrap();
        let path = write_scenario(&g, dir.path());
        let scenario = Arc::new(Scenario::load(&path).unwrap());
        let mut sim = Sim::new(scenario.clone()).unwrap();
        sim.run_checked().map_err(TestCaseError::fail)?;
        let a = sim.output();
        let mut again = Sim::new(scenario).unwrap();
        again.run();
        let b = again.output();
        prop_assert_eq!(kscale_report::render_events_jsonl(&a.events).unwrap(), kscale_report::render_events_jsonl(&b.events).unwrap());
        prop_assert_eq!(kscale_report::render_timeseries_csv(&a.timeseries).unwrap(), kscale_report::render_timeseries_csv(&b.timeseries).unwrap());
        prop_assert_eq!(a.summary, b.summary);
    }
}

// Memory, OOM and eviction rules (pkg/kubelet/eviction/helpers.go, pkg/kubelet/qos/policy.go).

use kscale_twin::sim::eviction::{Candidate, oom_score_adj, rank_memory_pressure};
use kscale_twin::sim::model::QosClass;

fn candidate() -> impl Strategy<Value = Candidate> {
    (
        proptest::option::weighted(0.9, 0i64..4 << 30),
        0i64..2 << 30,
        prop_oneof![Just(-10), Just(0), Just(1000)],
    )
        .prop_map(|(usage, request, priority)| Candidate {
            id: 0,
            usage,
            request,
            priority,
        })
}

/// The eviction order's sort key: no stats first, then usage over request, then lower
/// priority, then larger usage above request.
fn rank_key(c: &Candidate) -> (bool, bool, i32, i64) {
    (
        c.usage.is_some(),
        c.usage.is_none_or(|u| u <= c.request),
        c.priority,
        -c.usage.map(|u| u - c.request).unwrap_or(0),
    )
}

#[derive(Debug, Clone)]
struct Pressure {
    replicas: u32,
    base_mi: u32,
    per_request_mi: u32,
    rate: u32,
    limit: bool,
    seed: u64,
}

fn pressure() -> impl Strategy<Value = Pressure> {
    (
        1u32..6,
        100u32..1500,
        0u32..8,
        5u32..80,
        any::<bool>(),
        0u64..100,
    )
        .prop_map(
            |(replicas, base_mi, per_request_mi, rate, limit, seed)| Pressure {
                replicas,
                base_mi,
                per_request_mi,
                rate,
                limit,
                seed,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn memory_pressure_ranking_is_upstream_order(mut pods in proptest::collection::vec(candidate(), 0..30)) {
        for (i, p) in pods.iter_mut().enumerate() {
            p.id = i as u64;
        }
        let mut ranked = pods.clone();
        rank_memory_pressure(&mut ranked);
        let mut ids: Vec<u64> = ranked.iter().map(|p| p.id).collect();
        ids.sort_unstable();
        prop_assert_eq!(ids, (0..pods.len() as u64).collect::<Vec<_>>());
        for w in ranked.windows(2) {
            prop_assert!(rank_key(&w[0]) <= rank_key(&w[1]), "{:?} before {:?}", w[0], w[1]);
        }
    }

    #[test]
    fn burstable_oom_score_adj_stays_between_guaranteed_and_besteffort(req in 0i64..64 << 30, more in 0i64..8 << 30, cap in 1i64..64 << 30) {
        let a = oom_score_adj(QosClass::Burstable, false, req, cap);
        let b = oom_score_adj(QosClass::Burstable, false, req + more, cap);
        prop_assert!((3..=999).contains(&a), "{a}");
        prop_assert!(b <= a, "more memory requested, lower score: {b} > {a}");
        prop_assert_eq!(oom_score_adj(QosClass::Guaranteed, false, req, cap), -997);
        prop_assert_eq!(oom_score_adj(QosClass::BestEffort, false, req, cap), 1000);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, .. ProptestConfig::default() })]

    #[test]
    fn evictions_and_oom_kills_follow_the_kubelet(g in pressure()) {
        let dir = tempfile::tempdir().unwrap();
        let limit = if g.limit { ", limits: {memory: 1500Mi}" } else { "" };
        let m = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: leaky}}\nspec:\n  replicas: {}\n  selector: {{matchLabels: {{app: leaky}}}}\n  template:\n    metadata: {{labels: {{app: leaky}}}}\n    spec:\n      containers:\n      - {{name: app, image: leaky, resources: {{requests: {{cpu: 200m, memory: 500Mi}}{limit}}}}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: steady}}\nspec:\n  replicas: 2\n  selector: {{matchLabels: {{app: steady}}}}\n  template:\n    metadata: {{labels: {{app: steady}}}}\n    spec:\n      containers:\n      - {{name: app, image: steady, resources: {{requests: {{cpu: 200m, memory: 1Gi}}, limits: {{cpu: 200m, memory: 1Gi}}}}}}\n",
            g.replicas
        );
        std::fs::write(dir.path().join("m.yaml"), m).unwrap();
        let s = format!(
            "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {{name: p}}\nspec:\n  duration: 5m\n  seed: {}\n  nodes: [{{name: n, instanceType: m5.large, count: 1}}]\n  manifests: [m.yaml]\n  load:\n    - target: deployment/leaky\n      requestsPerSecond: {{constant: {}}}\n      cpuPerRequest: 50m\n      memory: {{base: {}Mi, perRequest: {}Mi}}\n",
            g.seed, g.rate, g.base_mi, g.per_request_mi
        );
        let path = dir.path().join("s.yaml");
        std::fs::write(&path, s).unwrap();
        let mut sim = Sim::new(Arc::new(Scenario::load(&path).unwrap())).unwrap();
        sim.run_checked().map_err(TestCaseError::fail)?;
        let evicted: Vec<_> = sim.recorder.events().iter().filter(|e| e.reason == "Evicted").collect();
        // One pod per 10 s monitoring period on the (single) node.
        for w in evicted.windows(2) {
            prop_assert!(w[1].time - w[0].time >= 10.0, "{} then {}", w[0].time, w[1].time);
        }
        for e in &evicted {
            // Pressure means some pod uses more than its request, so the victim does too; the
            // steady pods (at their request) are never chosen.
            prop_assert!(e.involved_object.name.starts_with("leaky-"), "{}", e.involved_object.name);
            prop_assert!(e.message.starts_with("The node was low on resource: memory. Threshold quantity: 100Mi, available: "), "{}", e.message);
            prop_assert!(e.message.contains("request is 500Mi, has larger consumption of memory."), "{}", e.message);
        }
        let failed = sim.pods.values().filter(|p| p.evicted.is_some()).count();
        prop_assert_eq!(failed, evicted.len());
        let counted: u64 = sim.eviction.counters().values().map(|c| c.evictions).sum();
        prop_assert_eq!(counted, evicted.len() as u64);
        let oom = sim.recorder.counter("oomKills");
        let node_oom = sim.recorder.counter("nodeOomKills");
        if !g.limit {
            // Without a memory limit only the node's OOM killer kills a container.
            prop_assert_eq!(oom, node_oom);
        }
        // The node OOM killer never picks the Guaranteed steady pods (oom_score_adj -997)
        // while a leaky one runs over its request.
        for e in sim.recorder.events().iter().filter(|e| e.reason == "OOMKilled") {
            prop_assert!(e.involved_object.name.starts_with("leaky-"), "{}", e.involved_object.name);
        }
        if g.per_request_mi == 0 && g.base_mi <= 500 {
            // Never above the request: no node pressure is possible.
            prop_assert_eq!(evicted.len(), 0);
        }
        // Evicted pods are replaced: never more active pods than replicas.
        let active = sim.pods.values().filter(|p| p.name.starts_with("leaky-") && p.is_active()).count();
        prop_assert!(active <= g.replicas as usize);
    }
}

// The load model's clients (crates/twin/src/load.rs): timeouts and retries conserve requests.

use kscale_twin::load::{Clients, RetryPolicy, TICK_MS, tick_with_timeout};

#[derive(Debug, Clone)]
struct LoadTick {
    user: f64,
    caps: Vec<f64>,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn timeouts_and_retries_conserve_requests(
        ticks in proptest::collection::vec(
            (0.0f64..500.0, proptest::collection::vec(0.0f64..200.0, 0..5))
                .prop_map(|(user, caps)| LoadTick { user, caps }),
            1..80,
        ),
        limit in proptest::option::of(1.0f64..100.0),
        queue in 0.0f64..200.0,
        service_s in 0.001f64..0.5,
        timeout_ms in proptest::option::of(1u64..5000),
        policy in proptest::option::of((0u32..=10, 0u64..5000).prop_map(|(attempts, backoff_ms)| RetryPolicy { attempts, backoff_ms })),
    ) {
        let mut clients = Clients::default();
        let (mut offered, mut attempts, mut served, mut dropped, mut rejected, mut timed_out, mut failed, mut backlog) =
            (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        let tol = |x: f64| 1e-6 * (1.0 + x);
        for (k, t) in ticks.iter().enumerate() {
            let now = k as u64 * TICK_MS;
            let a = clients.arrivals(now, t.user, policy);
            let tries: f64 = a.iter().sum();
            let r = tick_with_timeout(tries, 1.0, backlog, &t.caps, limit, queue, service_s, timeout_ms.map(|t| t as f64 / 1000.0));
            let s = clients.settle(now, &a, backlog, &r, policy, timeout_ms);
            prop_assert!(r.served >= 0.0 && r.dropped >= 0.0 && r.rejected >= 0.0 && r.timed_out >= 0.0 && r.backlog >= 0.0, "{r:?}");
            prop_assert!(s.failed >= 0.0 && s.retrying >= 0.0, "{s:?}");
            // Within the tick: every try is served, dropped, rejected, timed out or still waits.
            let out = r.served + r.dropped + r.rejected + r.timed_out + r.backlog;
            prop_assert!((out - (tries + backlog)).abs() <= tol(tries + backlog), "{out} vs {}", tries + backlog);
            // Every failed try fails its request or is tried again.
            prop_assert!((s.failed + s.retrying - (r.dropped + r.rejected + r.timed_out)).abs() <= tol(tries + backlog));
            if let Some(patience) = timeout_ms {
                // With no capacity every waiting request would wait forever: none waits.
                prop_assert!(!(r.backlog > 0.0 && t.caps.iter().all(|c| *c == 0.0)), "{r:?}");
                for l in r.latency_ms {
                    prop_assert!(l <= (patience as f64 / 1000.0 + service_s) * 1000.0 + 1e-9, "{l} ms over {patience} ms + service");
                }
            } else {
                prop_assert_eq!(r.timed_out, 0.0);
            }
            if policy.is_none() {
                prop_assert_eq!(s.retrying, 0.0);
            }
            offered += t.user;
            attempts += tries;
            served += r.served;
            dropped += r.dropped;
            rejected += r.rejected;
            timed_out += r.timed_out;
            failed += s.failed;
            backlog = r.backlog;
        }
        let retrying = clients.retrying();
        // Per try, and per user request (a retry is not a new request).
        let by_try = served + dropped + rejected + timed_out + backlog;
        prop_assert!((attempts - by_try).abs() <= tol(attempts), "attempts {attempts} vs {by_try}");
        let by_request = served + failed + backlog + retrying;
        prop_assert!((offered - by_request).abs() <= tol(offered), "offered {offered} vs {by_request}");
        let n = policy.map_or(0, |p| p.attempts) as f64;
        prop_assert!(attempts >= offered - tol(offered) && attempts <= offered * (n + 1.0) + tol(offered));
        prop_assert!(failed <= offered + tol(offered));
        if policy.is_none() {
            prop_assert_eq!(attempts, offered);
        }
    }
}
