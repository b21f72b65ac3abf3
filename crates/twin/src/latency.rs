//! The twin's latency model: every delay the twin applies, with its default and source.
//!
//! Magnitudes marked *assumption* are not upstream defaults; they are mid-range values of the
//! published magnitudes (see ../shared/algorithms.md §8) and can be revisited with measurements.

/// Delays in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Latencies {
    /// Watch delivery + work-queue delay before a controller reacts to a change.
    /// *Assumption*: 50 ms (watch latency on a healthy API server is tens of ms).
    pub controller_reaction_ms: u64,
    /// Time for the scheduler to pick up a newly queued pod. *Assumption*: 10 ms.
    pub schedule_delay_ms: u64,
    /// Initial back-off before an unschedulable pod is retried after a cluster change:
    /// 1 s (`podInitialBackoffDuration`, kube-scheduler default).
    pub unschedulable_backoff_ms: u64,
    /// Bind API call + kubelet watch delivery. *Assumption*: 100 ms.
    pub bind_to_kubelet_ms: u64,
    /// Pod sandbox creation + CNI ADD. *Assumption*: 1 s (published range 0.3–2 s).
    pub sandbox_ms: u64,
    /// Image pull when the image is not cached on the node. *Assumption*: 5 s for a typical
    /// application image (published range: seconds to minutes); `pause` images are cached.
    pub image_pull_ms: u64,
    /// Container create + start. *Assumption*: 300 ms (published range 0.1–0.5 s).
    pub container_start_ms: u64,
    /// PLEG relist period: status changes reach the API within one period, 1 s
    /// (kubelet generic PLEG `relistPeriod`). The phase is drawn uniformly per pod.
    pub pleg_relist_ms: u64,
    /// Time a container takes to exit after SIGTERM, capped by the grace period.
    /// *Assumption*: 500 ms (well-behaved servers exit promptly).
    pub shutdown_ms: u64,
    /// Part of [`Self::sandbox_ms`] during which the container runtime holds a per-node lock,
    /// so sandboxes of one node are created one after another for this part (scenario
    /// `spec.latencies.sandboxLock`). Default 0: sandboxes in parallel. *Calibrated*, not an
    /// upstream value: on one node, sandbox set-up serialises in practice (the CNI `host-local`
    /// IPAM plugin allocates addresses under a file lock; the seed's v1.23 kubelet also had a
    /// 5 QPS API client). 700 ms reproduces the growth of the seed's Figure 8 ReplicaSet path
    /// (1.84 s for 1 new pod → 8.16 s for 10 on an all-in-one cluster: ≈ 0.7 s per extra pod).
    pub sandbox_lock_ms: u64,
    /// Decryption and remote attestation of an encrypted image for a confidential pod
    /// (annotation `kscale.io/confidential-image: "true"`), paid by every new pod because the
    /// decrypted image lives in that pod's enclave and is never shared (seed 000, user story 3).
    /// Elastic replicas share the pod's enclave and skip it. *Assumption*: 3 s.
    pub image_decrypt_ms: u64,
    /// Elastic Pods: extra time per additional container instance started in one kubelet
    /// sync inside an existing sandbox (no sandbox, no CNI, image shared). *Calibrated* to the
    /// seed's Figure 8: the elastic path goes from 0.95 s for 1 container to 1.05 s for 10,
    /// ≈ 11 ms per extra container. The first container costs [`Self::container_start_ms`].
    pub elastic_container_stagger_ms: u64,
    /// Elastic Pods: the kubelet gives up an InProgress replication after this long
    /// (scenario `spec.elastic.timeout`). *Assumption*: 30 s (the seed gives no value).
    pub elastic_timeout_ms: u64,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies {
            controller_reaction_ms: 50,
            schedule_delay_ms: 10,
            unschedulable_backoff_ms: 1000,
            bind_to_kubelet_ms: 100,
            sandbox_ms: 1000,
            image_pull_ms: 5000,
            container_start_ms: 300,
            pleg_relist_ms: 1000,
            shutdown_ms: 500,
            sandbox_lock_ms: 0,
            image_decrypt_ms: 3000,
            elastic_container_stagger_ms: 11,
            elastic_timeout_ms: 30_000,
        }
    }
}

impl Latencies {
    /// The defaults with the scenario's `spec.latencies` and `spec.elastic.timeout` applied.
    pub fn from_scenario(spec: &crate::scenario::ScenarioSpec) -> Latencies {
        let mut l = Latencies::default();
        let o = &spec.latencies;
        let set = |field: &mut u64, v: Option<crate::scenario::DurationField>| {
            if let Some(d) = v {
                *field = d.0;
            }
        };
        set(&mut l.controller_reaction_ms, o.controller_reaction);
        set(&mut l.schedule_delay_ms, o.schedule_delay);
        set(&mut l.bind_to_kubelet_ms, o.bind_to_kubelet);
        set(&mut l.sandbox_ms, o.sandbox);
        set(&mut l.sandbox_lock_ms, o.sandbox_lock);
        set(&mut l.image_pull_ms, o.image_pull);
        set(&mut l.image_decrypt_ms, o.image_decrypt);
        set(&mut l.container_start_ms, o.container_start);
        set(&mut l.pleg_relist_ms, o.pleg_relist);
        set(&mut l.shutdown_ms, o.shutdown);
        set(
            &mut l.elastic_container_stagger_ms,
            o.elastic_container_stagger,
        );
        set(&mut l.elastic_timeout_ms, spec.elastic.timeout);
        // The lock is held for part of the sandbox set-up, never longer than all of it.
        l.sandbox_lock_ms = l.sandbox_lock_ms.min(l.sandbox_ms);
        l
    }
}

/// A client-side token bucket (client-go `flowcontrol.NewTokenBucketRateLimiter`): `qps`
/// tokens per second, at most `burst` saved. kube-controller-manager uses 20 QPS / burst 30.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBucket {
    qps: f64,
    burst: f64,
    tokens: f64,
    last_ms: u64,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(qps: f64, burst: f64) -> Self {
        TokenBucket {
            qps,
            burst,
            tokens: burst,
            last_ms: 0,
        }
    }

    /// Takes one token for a request issued at `now_ms`; returns when the request goes out.
    pub fn take(&mut self, now_ms: u64) -> u64 {
        let t = now_ms.max(self.last_ms);
        self.tokens = (self.tokens + (t - self.last_ms) as f64 * self.qps / 1000.0).min(self.burst);
        self.last_ms = t;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            t
        } else {
            let wait = ((1.0 - self.tokens) * 1000.0 / self.qps).ceil() as u64;
            self.last_ms = t + wait;
            self.tokens = 0.0;
            t + wait
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_paces() {
        let mut b = TokenBucket::new(20.0, 30.0);
        let times: Vec<u64> = (0..32).map(|_| b.take(0)).collect();
        assert!(times[..30].iter().all(|t| *t == 0));
        assert_eq!(times[30], 50);
        assert_eq!(times[31], 100);
        // After a quiet second the bucket has refilled 20 tokens.
        let mut b = TokenBucket::new(20.0, 30.0);
        for _ in 0..30 {
            b.take(0);
        }
        let later: Vec<u64> = (0..21).map(|_| b.take(1000)).collect();
        assert!(later[..20].iter().all(|t| *t == 1000));
        assert_eq!(later[20], 1050);
    }
}
