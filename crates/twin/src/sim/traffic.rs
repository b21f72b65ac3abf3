//! The load model at run time: offering each load entry's requests to its workload's ready
//! pods every tick (see [`crate::load`] for the model), their memory use (a container over its
//! limit is OOM-killed: `sim/eviction.rs`), and SLO violation time. A killed pod's traffic
//! moves to the other ready pods at the next tick, which is what makes seed 001's "domino
//! effect".

use super::Sim;
use crate::load;

impl Sim {
    /// Application start-up time of a pod's workload (from its load entry), in ms.
    pub fn startup_delay_ms(&self, id: u64) -> u64 {
        let (ns, kind, name) = self.workload_parts(id);
        self.load_startup_ms(ns, &kind, name)
    }

    /// Application start-up time (ms) of the first load entry on a workload (0 if none), by
    /// the index of load entries by target.
    pub fn load_startup_ms(&self, namespace: &str, kind: &str, name: &str) -> u64 {
        self.load
            .entries_on(namespace, kind, name)
            .first()
            .map(|&i| self.scenario.loads[i].startup_ms)
            .unwrap_or(0)
    }

    /// CPU a pod can use (milli-cores): its limit, else its guaranteed share of the node; and
    /// whether it is that share (which changes with the node's other pods).
    pub fn pod_cpu_capacity_and_kind(&self, id: u64) -> (f64, bool) {
        let p = &self.pods[&id];
        let t = &p.template;
        if let Some(limit) = t.limit_total(|r| r.cpu_milli) {
            return (limit as f64, false);
        }
        let Some(n) = p.node.as_ref().and_then(|n| self.nodes.get(n)) else {
            return (0.0, true);
        };
        let req = t.requests.cpu_milli.max(1) as f64;
        let total = n.info.requested.cpu_milli.max(1) as f64;
        (
            n.info.allocatable.cpu_milli as f64 * (req / total).min(1.0),
            true,
        )
    }

    /// One tick of the load model for every load entry.
    pub fn load_tick(&mut self) {
        // The scenario is shared (`Arc`): no copy of the load entries (and their traces) per tick.
        let scenario = self.scenario.clone();
        let loads = &scenario.loads;
        let dt = load::TICK_MS as f64 / 1000.0;
        for (i, l) in loads.iter().enumerate() {
            let now = self.now.as_millis();
            let mut rate = l.rate.at_from(now, &mut self.load.state_mut(i).rate_cursor);
            if l.poisson {
                rate = self.rng.load.poisson(rate * dt) / dt;
            }
            // The user's requests (`rate`) and, with a client model, the retries due now: the
            // pods see them all (`offered_rate`).
            let clients = l.has_clients();
            let arrivals = clients.then(|| {
                self.load
                    .state_mut(i)
                    .clients
                    .arrivals(now, rate * dt, l.retries)
            });
            let offered_rate = match &arrivals {
                Some(a) => a.iter().sum::<f64>() / dt,
                None => rate,
            };
            // Ready pods, capacities and the model's result, cached per workload (aggregate.rs).
            self.load_step(i, l, offered_rate, dt);
            let backlog = self.load.state(i).backlog;
            let n_ready = self.load.ready(i).len();
            let (t, cpu) = self.load_result(i);
            let t = t.clone_scalars();
            let s = self.load.state_mut(i);
            let load::Accounted { failed, violated } = s.account(
                l,
                load::TickInput {
                    now_ms: now,
                    rate,
                    offered_rate,
                    dt_s: dt,
                    backlog_before: backlog,
                    arrivals: arrivals.as_deref(),
                },
                &t,
            );
            s.last_cpu_milli = cpu;
            s.last_ready = n_ready;
            self.slo.record_tick(
                i,
                super::slo::TickRecord {
                    at_ms: now,
                    p99_ms: t.latency_ms[2] as f32,
                    served: t.served as f32,
                    failed: failed as f32,
                    offered: (rate * dt) as f32,
                    violated,
                },
            );
            // Per-pod CPU for the metrics pipeline (an average per ready pod of this workload:
            // the HPA and the elastic autoscaler use sums over pods, which this keeps exact).
            let per_pod = if n_ready == 0 {
                0.0
            } else {
                cpu / n_ready as f64
            };
            // Custom metrics (per pod) read the full tick only while an HPA uses them.
            if self.custom_metrics.enabled {
                let ready = self.load.ready(i).to_vec();
                let full = self.load_result(i).0.clone();
                self.custom_metrics_tick(i, &ready, &full, offered_rate * dt);
            }
            // Memory and OOM kills (per pod: only for loads with a memory model).
            let memory = l.memory.map(|m| {
                (
                    m,
                    t.latency_ms[0],
                    t.backlog,
                    self.load_per_pod_rps(i).to_vec(),
                    self.load.ready(i).to_vec(),
                )
            });
            self.accumulate_usage(i, per_pod * dt);
            if let Some(((base, per_req), latency_p50, backlog_after, per_pod_rps, ready)) = memory
            {
                let mean_latency_s = latency_p50 / 1000.0;
                let waiting = if ready.is_empty() {
                    0.0
                } else {
                    backlog_after / ready.len() as f64
                };
                let mut killed = vec![];
                let mut total = 0.0;
                for (k, id) in ready.iter().enumerate() {
                    let inflight = per_pod_rps[k] * mean_latency_s + waiting;
                    // Each instance of the serving container has its own base memory.
                    let t = &self.pods[id].template;
                    let mem = base * t.serving_instances().max(1) as f64 + per_req * inflight;
                    let limit = t.limit_total(|r| r.memory);
                    if let Some(p) = self.pods.get_mut(id) {
                        p.usage.get_or_insert((0.0, 0.0)).1 = mem;
                    }
                    self.eviction.set_working_set(*id, mem);
                    total += mem;
                    if limit.is_some_and(|l| mem > l as f64) {
                        killed.push(*id);
                    }
                }
                self.load.state_mut(i).last_memory_bytes = total;
                for id in killed {
                    self.oom_kill(id);
                }
            }
        }
        // Pods' memory only varies with a load entry's memory model: only then can a node
        // run out of memory.
        if loads.iter().any(|l| l.memory.is_some()) {
            self.node_oom_check();
        }
    }
}
