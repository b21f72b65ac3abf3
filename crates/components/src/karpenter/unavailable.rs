//! Offerings Karpenter skips after a launch failed for lack of capacity
//! (kubernetes-sigs/karpenter pkg/cache/unavailableofferings.go: an instance type, capacity
//! type and zone that returned `InsufficientCapacityError` is left out of planning for
//! [`ICE_TTL_MS`]); its pods are planned again without it, e.g. on-demand after spot.

use std::collections::BTreeMap;
use std::sync::Arc;

use kscale_controllers::karpenter::Offering;

use super::ICE_TTL_MS;

/// The offerings that failed for lack of capacity, each until when (run ms) it is skipped.
#[derive(Debug, Clone, Default)]
pub struct UnavailableOfferings {
    until: BTreeMap<(String, String, String), u64>,
}

impl UnavailableOfferings {
    /// `o` failed at `now_ms`: skipped for [`ICE_TTL_MS`]. Entries already over are dropped.
    pub fn mark(&mut self, o: &Offering, now_ms: u64) {
        self.until.retain(|_, until| *until > now_ms);
        self.until.insert(
            (
                o.instance_type.clone(),
                o.capacity_type.clone(),
                o.zone.clone(),
            ),
            now_ms + ICE_TTL_MS,
        );
    }

    /// The offerings of `all` not skipped at `now_ms`: `all` itself (shared, not copied) when
    /// none is.
    pub fn available(&self, all: &Arc<Vec<Offering>>, now_ms: u64) -> Arc<Vec<Offering>> {
        if self.until.values().all(|until| *until <= now_ms) {
            return all.clone();
        }
        Arc::new(
            all.iter()
                .filter(|o| {
                    self.until
                        .get(&(
                            o.instance_type.clone(),
                            o.capacity_type.clone(),
                            o.zone.clone(),
                        ))
                        .is_none_or(|until| *until <= now_ms)
                })
                .cloned()
                .collect(),
        )
    }
}

/// The message of NodeClaim `claim`'s `InsufficientCapacityError` event for `o`.
pub fn insufficient_capacity_message(claim: &str, o: &Offering) -> String {
    format!(
        "NodeClaim {claim} event: creating instance, insufficient capacity ({} {} in {})",
        o.instance_type, o.capacity_type, o.zone
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kscale_model::Resources;

    fn offering(it: &str, ct: &str) -> Offering {
        Offering {
            instance_type: it.into(),
            capacity_type: ct.into(),
            zone: "us-east-1a".into(),
            capacity: Resources::ZERO,
            allocatable: Resources::ZERO,
            price: 0.0,
            labels: BTreeMap::new(),
        }
    }

    #[test]
    fn a_failed_offering_is_skipped_for_three_minutes() {
        let all = Arc::new(vec![
            offering("m5.large", "spot"),
            offering("m5.large", "on-demand"),
        ]);
        let mut u = UnavailableOfferings::default();
        // Nothing skipped: the same list, not a copy.
        assert!(Arc::ptr_eq(&u.available(&all, 0), &all));
        u.mark(&all[0], 1_000);
        let a = u.available(&all, 1_000);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].capacity_type, "on-demand");
        assert_eq!(u.available(&all, 1_000 + ICE_TTL_MS - 1).len(), 1);
        assert!(Arc::ptr_eq(&u.available(&all, 1_000 + ICE_TTL_MS), &all));
        // Marking again drops what is over.
        u.mark(&all[1], 1_000 + ICE_TTL_MS);
        assert_eq!(u.until.len(), 1);
        assert_eq!(
            insufficient_capacity_message("general-abcde", &all[0]),
            "NodeClaim general-abcde event: creating instance, insufficient capacity (m5.large spot in us-east-1a)"
        );
    }
}
