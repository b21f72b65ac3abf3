//! The request-load model (fluid, per workload, fixed tick).
//!
//! Every tick the offered rate λ(t) of a load entry is spread evenly over the target's ready
//! pods. A pod with a CPU limit serves at most `limit / cpuPerRequest` requests per second;
//! without a limit it serves everything offered (Burstable pods may use idle node CPU). What
//! cannot be served is dropped. Conservation holds per tick: offered = served + dropped.
//! Queueing, latency, memory and OOM behaviour are layered on this by the workload-autoscaling
//! work (see ARCHITECTURE.md).

use crate::scenario::Load;

/// Length of one load tick: 1 s.
pub const TICK_MS: u64 = 1000;

/// Accumulated state of one load entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadState {
    /// Requests offered so far.
    pub offered: f64,
    /// Requests served so far.
    pub served: f64,
    /// Requests dropped so far.
    pub dropped: f64,
    /// Offered rate in the last tick (req/s).
    pub last_offered_rps: f64,
    /// Served rate in the last tick (req/s).
    pub last_served_rps: f64,
    /// CPU used by the target's pods in the last tick (milli-cores, total).
    pub last_cpu_milli: f64,
    /// Ready pods in the last tick.
    pub last_ready: usize,
}

/// Fresh state for each load entry.
pub fn init(loads: &[Load]) -> Vec<LoadState> {
    vec![LoadState::default(); loads.len()]
}

/// One tick for one load: `ready_capacities` holds per ready pod its max req/s (`None` =
/// unbounded). Returns (served rps, cpu milli-cores used in total).
pub fn serve(
    rate: f64,
    cpu_milli_per_request: f64,
    ready_capacities: &[Option<f64>],
) -> (f64, f64) {
    if ready_capacities.is_empty() {
        return (0.0, 0.0);
    }
    let share = rate / ready_capacities.len() as f64;
    let served: f64 = ready_capacities
        .iter()
        .map(|c| c.map_or(share, |c| share.min(c)))
        .sum();
    (served, served * cpu_milli_per_request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn limits_cap_service() {
        // 3 pods, one unbounded, two capped at 10 req/s; 60 req/s offered → 20 + 10 + 10.
        let (served, cpu) = serve(60.0, 10.0, &[None, Some(10.0), Some(10.0)]);
        assert_eq!(served, 40.0);
        assert_eq!(cpu, 400.0);
        assert_eq!(serve(60.0, 10.0, &[]), (0.0, 0.0));
    }

    proptest! {
        #[test]
        fn never_serves_more_than_offered(rate in 0.0f64..1e6, caps in proptest::collection::vec(proptest::option::of(0.0f64..1e4), 0..50)) {
            let (served, cpu) = serve(rate, 5.0, &caps);
            prop_assert!(served <= rate * (1.0 + 1e-9));
            prop_assert!(served >= 0.0 && cpu >= 0.0);
        }
    }
}
