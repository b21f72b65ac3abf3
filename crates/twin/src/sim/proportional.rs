//! The twin's side of the cluster-proportional-autoscaler: it starts one
//! [`ProportionalAutoscaler`] component per Deployment that runs the CPA image and delivers
//! its polls. The component itself (flags, ConfigMap, node counting, scaling) lives in
//! `kscale-components` and talks to the twin only through the cluster API
//! ([`SimCluster`]), as it does to a real control plane.

use k8s_openapi::api::apps::v1::Deployment;
use kscale_cluster::Cluster;
use kscale_components::proportional::{ProportionalAutoscaler, cpa_container, parse_flags};

use super::cluster_api::SimCluster;
use super::store::ObjKey;
use super::{Event, Sim};
use crate::manifest::Warning;

impl Sim {
    /// Starts polling for a Deployment that runs the CPA (called when it is applied).
    pub fn maybe_start_cpa(&mut self, key: &ObjKey) {
        let Ok(Some(d)) = SimCluster(self).get::<Deployment>(&key.namespace, &key.name) else {
            return;
        };
        let Some(c) = cpa_container(&d) else { return };
        let (flags, warnings) = parse_flags(c);
        for w in warnings {
            self.warnings.push(Warning {
                file: self.scenario.path.clone(),
                line: None,
                message: format!(
                    "cluster-proportional-autoscaler {}/{}: {w}",
                    key.namespace, key.name
                ),
            });
        }
        if !self.cpa_polling.contains_key(key) {
            self.cpa_polling.insert(
                key.clone(),
                ProportionalAutoscaler::new(&key.namespace, &key.name),
            );
            self.queue.push(
                self.now.plus_millis(flags.poll_ms),
                Event::CpaPoll(key.clone()),
            );
        }
    }

    /// One CPA poll: the component re-reads its Deployment (stopping when it is gone), the
    /// next poll is queued, then the component syncs.
    pub fn cpa_poll(&mut self, key: ObjKey) {
        let Some(mut cpa) = self.cpa_polling.remove(&key) else {
            return;
        };
        let Ok(Some(period)) = cpa.refresh(&mut SimCluster(self)) else {
            return;
        };
        self.queue
            .push(self.now.plus_millis(period), Event::CpaPoll(key.clone()));
        // A failed call leaves the next poll to try again, as upstream's poll loop does.
        let _ = cpa.sync(&mut SimCluster(self));
        self.cpa_polling.insert(key, cpa);
    }
}
