//! The request-load model: fluid, per workload, fixed tick.
//!
//! Every tick (1 s) a load entry offers λ(t)·dt requests to the ready pods of its workload.
//! Each ready pod serves at most its capacity, `CPU it can use / cpuPerRequest` requests per
//! second (the CPU limit if set, else its guaranteed CFS share of the node: allocatable × its
//! request / the node's total requests — a conservative assumption). An optional per-pod rate
//! limit rejects the excess at once (HTTP 429) instead of queueing it. What cannot be served
//! waits in a backlog of at most `queueLimit` requests per ready pod; beyond it requests are
//! dropped. Nothing is lost silently: offered = served + dropped + rejected + still queued.
//!
//! Latency (an approximation, documented as such): service time `s = cpuPerRequest` seconds
//! (one core per request), plus the time to drain the backlog at full capacity, plus an M/M/1
//! sojourn-time quantile term `s·ρ/(1−ρ)·ln(1/(1−q))` at utilization ρ (capped at 0.99).

/// Length of one load tick: 1 s.
pub const TICK_MS: u64 = 1000;

/// Accumulated state of one load entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadState {
    /// Requests offered so far.
    pub offered: f64,
    /// Requests served so far.
    pub served: f64,
    /// Requests dropped (queue full or no ready pod) so far.
    pub dropped: f64,
    /// Requests rejected by the rate limit so far.
    pub rejected: f64,
    /// Requests waiting now.
    pub backlog: f64,
    /// Offered rate in the last tick (req/s).
    pub last_offered_rps: f64,
    /// Served rate in the last tick (req/s).
    pub last_served_rps: f64,
    /// Dropped + rejected rate in the last tick (req/s).
    pub last_failed_rps: f64,
    /// CPU used by the target's ready pods in the last tick (milli-cores, total).
    pub last_cpu_milli: f64,
    /// Ready pods in the last tick.
    pub last_ready: usize,
    /// p50 / p95 / p99 latency in the last tick (ms).
    pub last_latency_ms: [f64; 3],
    /// Seconds during which the SLO was violated.
    pub slo_violation_s: f64,
    /// Where the last rate lookup was in the trace ([`crate::scenario::Rate::at_from`]).
    pub rate_cursor: crate::scenario::RateCursor,
}

/// Outcome of one tick.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tick {
    /// Requests served this tick.
    pub served: f64,
    /// Requests dropped this tick.
    pub dropped: f64,
    /// Requests rejected by the rate limit this tick.
    pub rejected: f64,
    /// Backlog after the tick.
    pub backlog: f64,
    /// Served requests per second for each pod (same order as the capacities).
    pub per_pod_rps: Vec<f64>,
    /// p50 / p95 / p99 latency (ms).
    pub latency_ms: [f64; 3],
}

impl Tick {
    /// A copy without the per-pod rates (`per_pod_rps` left empty).
    pub fn clone_scalars(&self) -> Tick {
        Tick {
            served: self.served,
            dropped: self.dropped,
            rejected: self.rejected,
            backlog: self.backlog,
            per_pod_rps: vec![],
            latency_ms: self.latency_ms,
        }
    }
}

/// Fresh state for each load entry.
pub fn init(n: usize) -> Vec<LoadState> {
    vec![LoadState::default(); n]
}

/// Spreads `total` req/s over pods with the given capacities, evenly except where a pod is
/// full (water-filling, like a balancer that skips saturated endpoints).
pub fn water_fill(total: f64, caps: &[f64]) -> Vec<f64> {
    // The usual case: every pod has room for an even share. The first round gives each pod
    // exactly that share and leaves them all open, which ends the rounds: the same result
    // without the round's bookkeeping.
    if total > 1e-12 && !caps.is_empty() {
        let share = total / caps.len() as f64;
        if caps.iter().all(|c| c - share > 1e-12) {
            return vec![share; caps.len()];
        }
    }
    water_fill_rounds(total, caps)
}

/// [`water_fill`] round by round.
fn water_fill_rounds(total: f64, caps: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; caps.len()];
    let mut left = total;
    let mut open: Vec<usize> = (0..caps.len()).collect();
    while left > 1e-12 && !open.is_empty() {
        let share = left / open.len() as f64;
        let mut next = vec![];
        for &i in &open {
            let room = caps[i] - out[i];
            let take = share.min(room);
            out[i] += take;
            left -= take;
            if caps[i] - out[i] > 1e-12 {
                next.push(i);
            }
        }
        if next.len() == open.len() {
            break;
        }
        open = next;
    }
    out
}

/// One tick: `rate` req/s offered for `dt_s` seconds on top of `backlog`, to pods with
/// capacities `caps` (req/s each); `service_s` is the service time of one request.
pub fn tick(
    rate: f64,
    dt_s: f64,
    backlog: f64,
    caps: &[f64],
    rate_limit: Option<f64>,
    queue_limit: f64,
    service_s: f64,
) -> Tick {
    let arrivals = rate * dt_s;
    if caps.is_empty() {
        return Tick {
            dropped: arrivals + backlog,
            latency_ms: [0.0; 3],
            ..Default::default()
        };
    }
    let n = caps.len() as f64;
    let (accepted, rejected) = match rate_limit {
        Some(l) => {
            let allowed = l * n * dt_s;
            (arrivals.min(allowed), (arrivals - allowed).max(0.0))
        }
        None => (arrivals, 0.0),
    };
    let cap_total: f64 = caps.iter().sum::<f64>() * dt_s;
    let demand = accepted + backlog;
    let served = demand.min(cap_total);
    let mut left = demand - served;
    let dropped = (left - queue_limit * n).max(0.0);
    left -= dropped;
    let per_pod_rps = water_fill(served / dt_s, caps);
    let rho = if cap_total > 0.0 {
        (served / cap_total).min(0.99)
    } else {
        0.99
    };
    let drain_s = if cap_total > 0.0 {
        left / (cap_total / dt_s)
    } else {
        0.0
    };
    let q = |p: f64| {
        (service_s + drain_s + service_s * rho / (1.0 - rho) * (1.0 / (1.0 - p)).ln()) * 1000.0
    };
    Tick {
        served,
        dropped,
        rejected,
        backlog: left,
        per_pod_rps,
        latency_ms: [q(0.5), q(0.95), q(0.99)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn water_filling_respects_capacities() {
        assert_eq!(
            water_fill(60.0, &[10.0, 100.0, 100.0]),
            vec![10.0, 25.0, 25.0]
        );
        assert_eq!(water_fill(0.0, &[1.0]), vec![0.0]);
        assert_eq!(water_fill(500.0, &[10.0, 20.0]), vec![10.0, 20.0]);
    }

    #[test]
    fn overload_queues_then_drops() {
        // 2 pods of 50 req/s each, 150 req/s offered for 1 s: 100 served, 50 queued.
        let t = tick(150.0, 1.0, 0.0, &[50.0, 50.0], None, 1000.0, 0.02);
        assert_eq!((t.served, t.backlog, t.dropped), (100.0, 50.0, 0.0));
        // With a queue of 10 per pod, 30 of the 50 are dropped.
        let t = tick(150.0, 1.0, 0.0, &[50.0, 50.0], None, 10.0, 0.02);
        assert_eq!((t.served, t.backlog, t.dropped), (100.0, 20.0, 30.0));
        // A 40 req/s rate limit per pod rejects 70 at once and queues nothing.
        let t = tick(150.0, 1.0, 0.0, &[50.0, 50.0], Some(40.0), 1000.0, 0.02);
        assert_eq!((t.served, t.rejected, t.backlog), (80.0, 70.0, 0.0));
        // No ready pod: everything offered and waiting is dropped.
        let t = tick(10.0, 1.0, 5.0, &[], None, 1000.0, 0.02);
        assert_eq!(t.dropped, 15.0);
    }

    #[test]
    fn latency_grows_with_load() {
        let low = tick(10.0, 1.0, 0.0, &[100.0], None, 1000.0, 0.01);
        let high = tick(95.0, 1.0, 0.0, &[100.0], None, 1000.0, 0.01);
        let over = tick(150.0, 1.0, 0.0, &[100.0], None, 1000.0, 0.01);
        assert!(
            low.latency_ms[0] >= 10.0 && low.latency_ms[2] < 20.0,
            "{:?}",
            low.latency_ms
        );
        assert!(high.latency_ms[2] > 4.0 * low.latency_ms[2]);
        assert!(
            over.latency_ms[2] > high.latency_ms[2],
            "a backlog adds its drain time"
        );
    }

    proptest! {
        #[test]
        fn even_shares_match_the_rounds(total in 0.0f64..1e4, caps in proptest::collection::vec(0.0f64..500.0, 0..20),
                                        equal in proptest::option::of(0.0f64..500.0)) {
            // With equal capacities too (the common case of one template), above and below
            // the share.
            let caps = match equal { Some(c) => vec![c; caps.len()], None => caps };
            let fast = water_fill(total, &caps);
            let rounds = water_fill_rounds(total, &caps);
            prop_assert_eq!(
                fast.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                rounds.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
        }

        #[test]
        fn requests_are_conserved(rate in 0.0f64..1e4, backlog in 0.0f64..1e4, caps in proptest::collection::vec(0.0f64..500.0, 0..20),
                                  limit in proptest::option::of(1.0f64..100.0), queue in 0.0f64..100.0) {
            let t = tick(rate, 1.0, backlog, &caps, limit, queue, 0.01);
            let total = t.served + t.dropped + t.rejected + t.backlog;
            prop_assert!((total - (rate + backlog)).abs() <= 1e-6 * (1.0 + rate + backlog), "{total} vs {}", rate + backlog);
            prop_assert!(t.served >= 0.0 && t.dropped >= 0.0 && t.rejected >= 0.0 && t.backlog >= 0.0);
            prop_assert!(t.backlog <= queue * caps.len() as f64 + 1e-6);
            let per_pod: f64 = t.per_pod_rps.iter().sum();
            prop_assert!((per_pod - t.served).abs() <= 1e-6 * (1.0 + t.served));
            for (r, c) in t.per_pod_rps.iter().zip(&caps) { prop_assert!(*r <= c + 1e-9); }
        }
    }
}
