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
//!
//! **Client timeouts** (optional `timeout` T of a load entry): clients abandon ("renege")
//! requests that wait too long. In the fluid FIFO queue a request `x` requests behind the head
//! starts service after `x / μ` seconds at the tick's service rate μ (its pods' total capacity),
//! so the part of the backlog beyond `μ·T` would wait longer than T: it is abandoned and counted
//! as timed out, and the backlog kept is at most `μ·T` (none with μ = 0). Requests at positions
//! below `μ·T` are served before the ones behind them leave, so their wait stays below T, and the
//! latency percentiles of served requests are capped at `T + s`. Fluid models of queues with
//! abandonment after a deterministic patience are W. Whitt, "Fluid Models for Multiserver
//! Queues with Abandonments", Operations Research 54(1), 2006; here the assumption (ours) is
//! that an abandonment is counted in the tick in which the request's predicted wait first
//! exceeds T (at once, not T later), at this tick's μ, after the queue limit's drops.
//!
//! **Client retries** (optional `retries: {attempts: N, backoff: b}`), see [`Clients`]: a failed
//! attempt (rejected, dropped or timed out) is tried again after a fixed back-off, at most N
//! more times; `offered` counts user requests, `attempts` every try. Per user request:
//! offered = served + failed + still queued + waiting to retry; per attempt:
//! attempts = served + dropped + rejected + timed out + still queued.

use std::collections::BTreeMap;

pub use crate::scenario::{MAX_RETRY_ATTEMPTS, RetryPolicy};

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
    /// Attempts that timed out (abandoned by the client after `timeout`) so far.
    pub timed_out: f64,
    /// Tries so far: the user requests offered and their retries.
    pub attempts: f64,
    /// User requests whose last attempt failed (dropped, rejected or timed out) so far.
    pub failed: f64,
    /// Requests waiting now.
    pub backlog: f64,
    /// Offered rate in the last tick (req/s).
    pub last_offered_rps: f64,
    /// Served rate in the last tick (req/s).
    pub last_served_rps: f64,
    /// Dropped + rejected rate in the last tick (req/s); with a client model (a timeout or
    /// retries), the rate of user requests whose last attempt failed.
    pub last_failed_rps: f64,
    /// Rate of all tries in the last tick, retries included (req/s).
    pub last_attempts_rps: f64,
    /// Rate of retries in the last tick (req/s).
    pub last_retries_rps: f64,
    /// Timed-out rate in the last tick (req/s).
    pub last_timed_out_rps: f64,
    /// The clients' retries in progress and the backlog by attempt number.
    pub clients: Clients,
    /// CPU used by the target's ready pods in the last tick (milli-cores, total).
    pub last_cpu_milli: f64,
    /// Ready pods in the last tick.
    pub last_ready: usize,
    /// Memory used by the target's ready pods in the last tick (bytes, total; only with a
    /// memory model).
    pub last_memory_bytes: f64,
    /// p50 / p95 / p99 latency in the last tick (ms).
    pub last_latency_ms: [f64; 3],
    /// Seconds during which the SLO was violated.
    pub slo_violation_s: f64,
    /// Where the last rate lookup was in the trace ([`crate::scenario::Rate::at_from`]).
    pub rate_cursor: crate::scenario::RateCursor,
}

/// What one tick of a load entry was offered ([`LoadState::account`]).
#[derive(Debug, Clone, Copy)]
pub struct TickInput<'a> {
    /// The tick's time (ms).
    pub now_ms: u64,
    /// The user's request rate (req/s).
    pub rate: f64,
    /// The rate the pods saw: user requests plus the clients' retries due (req/s).
    pub offered_rate: f64,
    /// The tick's length (s).
    pub dt_s: f64,
    /// The backlog before the tick.
    pub backlog_before: f64,
    /// With a client model, the tick's arrivals by attempt number ([`Clients::arrivals`]).
    pub arrivals: Option<&'a [f64]>,
}

/// What [`LoadState::account`] found of a tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accounted {
    /// User requests that failed this tick (dropped and rejected; with a client model, those
    /// whose last attempt failed).
    pub failed: f64,
    /// Whether the tick violated the entry's SLO.
    pub violated: bool,
}

impl LoadState {
    /// Adds tick `t` of load entry `l` to the totals (offered, served, dropped, rejected, the
    /// client model's attempts, retries and failures, the SLO's violation time) and sets the
    /// last tick's rates and latencies. Both backends account their ticks with it.
    pub fn account(&mut self, l: &crate::scenario::Load, x: TickInput<'_>, t: &Tick) -> Accounted {
        let (rate, dt) = (x.rate, x.dt_s);
        let failed = match x.arrivals {
            Some(a) => {
                let settled =
                    self.clients
                        .settle(x.now_ms, a, x.backlog_before, t, l.retries, l.timeout_ms);
                self.timed_out += t.timed_out;
                self.attempts += x.offered_rate * dt;
                self.failed += settled.failed;
                self.last_attempts_rps = x.offered_rate;
                self.last_retries_rps = x.offered_rate - rate;
                self.last_timed_out_rps = t.timed_out / dt;
                settled.failed
            }
            None => t.dropped + t.rejected,
        };
        self.offered += rate * dt;
        self.served += t.served;
        self.dropped += t.dropped;
        self.rejected += t.rejected;
        self.backlog = t.backlog;
        self.last_offered_rps = rate;
        self.last_served_rps = t.served / dt;
        self.last_failed_rps = failed / dt;
        self.last_latency_ms = t.latency_ms;
        let mut violated = false;
        if let Some((p99, max_drop)) = l.slo {
            let late = p99.is_some_and(|p| t.latency_ms[2] > p as f64) && t.served > 0.0;
            let offered = rate * dt + x.backlog_before;
            let dropping = max_drop.is_some_and(|m| offered > 0.0 && failed / offered > m);
            if late || dropping {
                self.slo_violation_s += dt;
                violated = true;
            }
        }
        Accounted { failed, violated }
    }
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
    /// Queued requests abandoned by their clients this tick (waited longer than the timeout).
    pub timed_out: f64,
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
            timed_out: self.timed_out,
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
/// capacities `caps` (req/s each); `service_s` is the service time of one request. No client
/// timeout: [`tick_with_timeout`] with `None`.
pub fn tick(
    rate: f64,
    dt_s: f64,
    backlog: f64,
    caps: &[f64],
    rate_limit: Option<f64>,
    queue_limit: f64,
    service_s: f64,
) -> Tick {
    tick_with_timeout(
        rate,
        dt_s,
        backlog,
        caps,
        rate_limit,
        queue_limit,
        service_s,
        None,
    )
}

/// [`tick`] with clients that abandon a request after waiting `timeout_s` seconds (see the
/// module documentation): the backlog beyond `μ·timeout_s` times out, and the latency
/// percentiles are at most `timeout_s + service_s`. `None`: exactly [`tick`]'s result.
#[allow(clippy::too_many_arguments)]
pub fn tick_with_timeout(
    rate: f64,
    dt_s: f64,
    backlog: f64,
    caps: &[f64],
    rate_limit: Option<f64>,
    queue_limit: f64,
    service_s: f64,
    timeout_s: Option<f64>,
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
    // The part of the backlog that would wait longer than the timeout at the service rate μ
    // leaves (μ = 0: all of it). Without a timeout nothing is subtracted (bit-identical).
    let timed_out = match timeout_s {
        Some(t) => (left - cap_total / dt_s * t).max(0.0).min(left),
        None => 0.0,
    };
    if timeout_s.is_some() {
        left -= timed_out;
    }
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
        let ms =
            (service_s + drain_s + service_s * rho / (1.0 - rho) * (1.0 / (1.0 - p)).ln()) * 1000.0;
        match timeout_s {
            // Served requests waited at most the timeout: the others left.
            Some(t) => ms.min((t + service_s) * 1000.0),
            None => ms,
        }
    };
    Tick {
        served,
        dropped,
        rejected,
        timed_out,
        backlog: left,
        per_pod_rps,
        latency_ms: [q(0.5), q(0.95), q(0.99)],
    }
}

/// The clients of one load entry: which try the waiting requests are on, and the retries
/// waiting for their back-off.
///
/// The model (fluid, like the rest): every tick's arrivals are the new user requests (attempt
/// 0) and the retries that came due (attempt k ≥ 1). The server does not tell them apart, so
/// (an assumption) each outcome of the tick is shared among the attempt numbers in proportion:
/// rate-limit rejections in proportion to the arrivals, drops, timeouts, service and the new
/// backlog in proportion to what was waiting or accepted. A failed attempt `k < N` becomes
/// attempt `k + 1`, offered again after the fixed back-off `b` (not exponential) — counted from
/// the failure, which for a timeout is the timeout T after the tick the model counts it in
/// (see the module documentation) — rounded up to whole ticks, at least one; a failed
/// attempt `N` fails the user request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Clients {
    /// The backlog's share by attempt number (index 0: first tries); only the proportions are
    /// used, the backlog itself is the model's.
    pub queued: Vec<f64>,
    /// Retries waiting for their back-off: due time (ms) → requests by attempt number.
    pub pending: BTreeMap<u64, Vec<f64>>,
}

/// What [`Clients::settle`] found in one tick.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Settled {
    /// User requests whose last attempt failed this tick.
    pub failed: f64,
    /// Failed attempts scheduled to be tried again.
    pub retrying: f64,
}

impl Clients {
    /// Takes the retries due at `now_ms` (and any earlier), by attempt number; `user` (the new
    /// user requests) is attempt 0. The result has `attempts + 1` entries.
    pub fn arrivals(&mut self, now_ms: u64, user: f64, policy: Option<RetryPolicy>) -> Vec<f64> {
        let n = policy.map_or(0, |p| p.attempts as usize);
        let mut out = vec![0.0; n + 1];
        out[0] = user;
        while let Some(e) = self.pending.first_entry() {
            if *e.key() > now_ms {
                break;
            }
            for (k, x) in e.remove().into_iter().enumerate() {
                if k <= n {
                    out[k] += x;
                }
            }
        }
        out
    }

    /// Requests waiting for a retry.
    pub fn retrying(&self) -> f64 {
        // From +0 (an empty `sum` of floats is -0, which the summary would print).
        self.pending.values().flatten().fold(0.0, |a, x| a + x)
    }

    /// Splits tick `t`'s outcome among the attempt numbers of `arrivals` (from
    /// [`Clients::arrivals`]) and of the `backlog` before the tick, and schedules the retries of
    /// the failed attempts. `now_ms` is the tick's start, `timeout_ms` the client timeout.
    pub fn settle(
        &mut self,
        now_ms: u64,
        arrivals: &[f64],
        backlog: f64,
        t: &Tick,
        policy: Option<RetryPolicy>,
        timeout_ms: Option<u64>,
    ) -> Settled {
        let n = arrivals.len();
        self.queued.resize(n, 0.0);
        let queued_sum: f64 = self.queued.iter().sum();
        let a_sum: f64 = arrivals.iter().sum();
        let mut accepted = vec![0.0; n];
        let mut rejected = vec![0.0; n];
        let mut demand = vec![0.0; n];
        for k in 0..n {
            let share = if a_sum > 0.0 {
                arrivals[k] / a_sum
            } else {
                0.0
            };
            rejected[k] = t.rejected * share;
            accepted[k] = (arrivals[k] - rejected[k]).max(0.0);
            let waiting = if queued_sum > 0.0 {
                backlog * self.queued[k] / queued_sum
            } else if k == 0 {
                backlog
            } else {
                0.0
            };
            demand[k] = waiting + accepted[k];
        }
        let d_sum: f64 = demand.iter().sum();
        let mut out = Settled::default();
        let last = policy.map_or(0, |p| p.attempts as usize).min(n - 1);
        let backoff = policy.map_or(0, |p| p.backoff_ms);
        let due = |delay: u64| now_ms + delay.div_ceil(TICK_MS).max(1) * TICK_MS;
        for k in 0..n {
            let share = if d_sum > 0.0 { demand[k] / d_sum } else { 0.0 };
            self.queued[k] = t.backlog * share;
            let quick = rejected[k] + t.dropped * share;
            let late = t.timed_out * share;
            if k >= last {
                out.failed += quick + late;
                continue;
            }
            for (delay, x) in [(backoff, quick), (timeout_ms.unwrap_or(0) + backoff, late)] {
                if x > 0.0 {
                    let slot = self
                        .pending
                        .entry(due(delay))
                        .or_insert_with(|| vec![0.0; n]);
                    slot.resize(slot.len().max(n), 0.0);
                    slot[k + 1] += x;
                    out.retrying += x;
                }
            }
        }
        out
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

    /// Totals of [`drive`].
    #[derive(Debug, Default)]
    struct Totals {
        offered: f64,
        attempts: f64,
        served: f64,
        dropped: f64,
        rejected: f64,
        timed_out: f64,
        failed: f64,
        backlog: f64,
        retrying: f64,
        max_latency_ms: f64,
    }

    /// Runs the model as the twin does (sim/traffic.rs): `user[k]` requests offered in tick
    /// `k`, then nothing for `extra` ticks.
    fn drive(
        user: &[f64],
        extra: usize,
        caps: &[f64],
        limit: Option<f64>,
        queue: f64,
        service_s: f64,
        timeout_ms: Option<u64>,
        policy: Option<RetryPolicy>,
    ) -> Totals {
        let mut clients = Clients::default();
        let mut o = Totals::default();
        for k in 0..user.len() + extra {
            let now = k as u64 * TICK_MS;
            let u = user.get(k).copied().unwrap_or(0.0);
            let a = clients.arrivals(now, u, policy);
            let offered: f64 = a.iter().sum();
            let t = tick_with_timeout(
                offered,
                1.0,
                o.backlog,
                caps,
                limit,
                queue,
                service_s,
                timeout_ms.map(|t| t as f64 / 1000.0),
            );
            let settled = clients.settle(now, &a, o.backlog, &t, policy, timeout_ms);
            o.offered += u;
            o.attempts += offered;
            o.served += t.served;
            o.dropped += t.dropped;
            o.rejected += t.rejected;
            o.timed_out += t.timed_out;
            o.failed += settled.failed;
            o.backlog = t.backlog;
            if t.served > 0.0 {
                o.max_latency_ms = o.max_latency_ms.max(t.latency_ms[2]);
            }
        }
        o.retrying = clients.retrying();
        o
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-6 * (1.0 + a.abs() + b.abs())
    }

    #[test]
    fn a_timeout_bounds_the_wait() {
        // 2 pods of 50 req/s, 300 req/s offered, clients give up after 500 ms: 100 served, the
        // queue keeps what waits at most 0.5 s (50), the other 150 time out.
        let t = tick_with_timeout(
            300.0,
            1.0,
            0.0,
            &[50.0, 50.0],
            None,
            1000.0,
            0.02,
            Some(0.5),
        );
        assert_eq!(
            (t.served, t.dropped, t.timed_out, t.backlog),
            (100.0, 0.0, 150.0, 50.0)
        );
        assert!(
            t.latency_ms.iter().all(|l| *l <= 520.0),
            "{:?}",
            t.latency_ms
        );
        // A full queue drops first; what is left over the timeout's share times out.
        let t = tick_with_timeout(300.0, 1.0, 0.0, &[50.0, 50.0], None, 80.0, 0.02, Some(0.5));
        assert_eq!(
            (t.served, t.dropped, t.timed_out, t.backlog),
            (100.0, 40.0, 110.0, 50.0)
        );
        // No capacity at all: nothing waits.
        let t = tick_with_timeout(30.0, 1.0, 5.0, &[0.0], None, 1000.0, 0.02, Some(2.0));
        assert_eq!((t.timed_out, t.backlog), (35.0, 0.0));
    }

    #[test]
    fn a_saturated_queue_times_out_and_serves_within_the_timeout() {
        // 5 s of service per request at 99% utilization and beyond: the M/M/1 term alone would
        // be minutes; with a 2 s timeout no served request is later than 2 s + 0.2 s.
        let user = vec![120.0; 120];
        let caps = [50.0, 50.0];
        let with = drive(&user, 0, &caps, None, 1000.0, 0.2, Some(2000), None);
        assert!(with.timed_out > 0.1 * with.offered, "{with:?}");
        assert!(with.max_latency_ms <= 2200.0 + 1e-9, "{with:?}");
        assert!(with.backlog <= 100.0 * 2.0 + 1e-9, "{with:?}");
        assert!(close(
            with.offered,
            with.served + with.dropped + with.rejected + with.timed_out + with.backlog
        ));
        assert!(close(with.failed, with.timed_out + with.dropped));
        // Without a timeout: the old model, bit for bit, and a queue that only grows.
        let without = drive(&user, 0, &caps, None, 1000.0, 0.2, None, None);
        assert_eq!(without.timed_out, 0.0);
        assert!(without.max_latency_ms > 10_000.0, "{without:?}");
        let mut backlog = 0.0;
        for _ in 0..user.len() {
            let old = tick(120.0, 1.0, backlog, &caps, None, 1000.0, 0.2);
            let new = tick_with_timeout(120.0, 1.0, backlog, &caps, None, 1000.0, 0.2, None);
            assert_eq!(old, new);
            backlog = old.backlog;
        }
        assert_eq!(without.backlog.to_bits(), backlog.to_bits());
    }

    #[test]
    fn retries_without_capacity_try_every_request_attempts_plus_one_times() {
        let policy = Some(RetryPolicy {
            attempts: 3,
            backoff_ms: 2000,
        });
        // No ready pod, and a pod that serves nothing with no queue: every try fails.
        for caps in [&[][..], &[0.0][..]] {
            let o = drive(&[10.0, 5.0], 20, caps, None, 0.0, 0.01, None, policy);
            assert_eq!(o.offered, 15.0);
            assert_eq!(o.attempts, 60.0, "{caps:?}: {o:?}");
            assert_eq!(o.served, 0.0);
            assert_eq!(o.failed, 15.0, "each request fails once, at its last try");
            assert_eq!(o.dropped, 60.0, "every try is dropped");
            assert_eq!(o.retrying, 0.0);
        }
        // The same through timeouts (a zero-capacity pod with a queue).
        let o = drive(&[10.0], 30, &[0.0], None, 1000.0, 0.01, Some(1000), policy);
        assert_eq!((o.attempts, o.timed_out, o.failed), (40.0, 40.0, 10.0));
        // Retries stop coming once due: with 20 s left only the tries made before the end.
        let o = drive(&[10.0], 3, &[], None, 0.0, 0.01, None, policy);
        assert_eq!((o.attempts, o.failed, o.retrying), (20.0, 0.0, 10.0));
    }

    #[test]
    fn retries_succeed_with_enough_capacity() {
        // 100 requests at once against a 50 req/s rate limit on a pod that could serve 1000:
        // 50 are rejected (429) and served one back-off later.
        let policy = Some(RetryPolicy {
            attempts: 2,
            backoff_ms: 1000,
        });
        let o = drive(
            &[100.0],
            5,
            &[1000.0],
            Some(50.0),
            1000.0,
            0.001,
            None,
            policy,
        );
        assert_eq!((o.offered, o.attempts), (100.0, 150.0), "{o:?}");
        assert_eq!((o.served, o.rejected, o.failed), (100.0, 50.0, 0.0));
        // Without retries the 50 fail.
        let o = drive(
            &[100.0],
            5,
            &[1000.0],
            Some(50.0),
            1000.0,
            0.001,
            None,
            None,
        );
        assert_eq!((o.attempts, o.served, o.failed), (100.0, 50.0, 50.0));
        // The back-off delays the retry: whole ticks, rounded up, at least one.
        let mut c = Clients::default();
        let policy = Some(RetryPolicy {
            attempts: 1,
            backoff_ms: 1500,
        });
        let a = c.arrivals(0, 10.0, policy);
        let t = tick(10.0, 1.0, 0.0, &[], None, 0.0, 0.01);
        let s = c.settle(0, &a, 0.0, &t, policy, Some(3000));
        assert_eq!((s.failed, s.retrying), (0.0, 10.0));
        assert_eq!(c.pending.keys().copied().collect::<Vec<_>>(), vec![2000]);
        assert_eq!(c.arrivals(1000, 0.0, policy), vec![0.0, 0.0]);
        assert_eq!(c.arrivals(2000, 1.0, policy), vec![1.0, 10.0]);
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
            prop_assert_eq!(&t, &tick_with_timeout(rate, 1.0, backlog, &caps, limit, queue, 0.01, None));
            prop_assert_eq!(t.timed_out, 0.0);
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
