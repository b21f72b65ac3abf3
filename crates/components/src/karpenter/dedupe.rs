//! Karpenter's deduplicated events (kubernetes-sigs/karpenter pkg/events/recorder.go: an event
//! with a `DedupeTimeout` is not published again for the same object within it).

use std::collections::BTreeMap;

/// `Unconsolidatable` events repeat at most every 15 minutes per node
/// (pkg/controllers/disruption/events `Unconsolidatable`, `DedupeTimeout: 15 * time.Minute`).
pub const UNCONSOLIDATABLE_DEDUPE_MS: u64 = 15 * 60_000;
/// `DisruptionBlocked` on a NodePool repeats at most every minute (`DedupeTimeout: time.Minute`).
pub const BLOCKED_DEDUPE_MS: u64 = 60_000;

/// When each deduplicated event was last published, by (reason, object).
#[derive(Debug, Clone, Default)]
pub struct Dedupe {
    last: BTreeMap<(&'static str, String), u64>,
}

impl Dedupe {
    /// Whether event `reason` of `object` is published at `now_ms` (not within `window_ms` of
    /// its last publication); if so, that is now its last.
    pub fn publish(
        &mut self,
        reason: &'static str,
        object: &str,
        now_ms: u64,
        window_ms: u64,
    ) -> bool {
        let key = (reason, object.to_string());
        if self
            .last
            .get(&key)
            .is_some_and(|at| now_ms < at + window_ms)
        {
            return false;
        }
        self.last.insert(key, now_ms);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_waits_for_its_window_per_object() {
        let mut d = Dedupe::default();
        assert!(d.publish("Unconsolidatable", "a", 0, 60_000));
        assert!(!d.publish("Unconsolidatable", "a", 59_999, 60_000));
        assert!(d.publish("Unconsolidatable", "b", 59_999, 60_000));
        assert!(d.publish("DisruptionBlocked", "a", 1, 60_000));
        assert!(d.publish("Unconsolidatable", "a", 60_000, 60_000));
    }
}
