//! The Vertical Pod Autoscaler on a `--cluster` run, the same components the twin runs
//! (`kscale_components::vpa`) against the real API server: its CRD is installed, the
//! recommender and the updater loop every minute from the start (as in the twin, where they
//! start when the first VerticalPodAutoscaler is applied), reading the pods' usage through
//! kscale's `metrics.k8s.io` server and evicting through the real eviction API; the admission
//! controller is a mutating webhook (`kscale_kube::admission_webhook`) that answers the API
//! server's pod creations from a view of the VPAs refreshed every second.
//!
//! *Assumption*: as in the twin, a scenario with a VerticalPodAutoscaler has the VPA's three
//! components installed. In-place resizes (`InPlaceOrRecreate`) go through the API server's
//! `resize` subresource; kscale's kubelets carry them out (`kscale_kube::kubelet`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use kscale_cluster::ApiError;
use kscale_components::vpa::{
    AdmissionView, RECOMMENDER_INTERVAL_MS, Recommender, UPDATER_INTERVAL_MS, Updater,
    admission_patch, pod_containers,
};
use kscale_kube::KubeCluster;
use kscale_kube::admission_webhook::PodWebhook;
use serde_json::Value;

use super::crds;

/// How often the admission view is re-read (*assumption*: an informer cache's lag).
const VIEW_REFRESH_MS: u64 = 1_000;

/// The VPA's components live.
pub struct LiveVpa {
    recommender: Recommender,
    updater: Updater,
    view: Arc<RwLock<AdmissionView>>,
    admitted: Arc<AtomicU64>,
    _webhook: PodWebhook,
    next_recommend: u64,
    next_update: u64,
    next_view: u64,
    evictions: u64,
    resized: u64,
}

/// Whether a manifest object is a VerticalPodAutoscaler.
pub fn is_vpa(raw: &Value) -> bool {
    raw.get("kind").and_then(Value::as_str) == Some(crds::VERTICAL_POD_AUTOSCALER.kind)
        && raw
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("autoscaling.k8s.io/"))
}

/// Whether the manifests hold VerticalPodAutoscalers.
pub fn wanted(objects: &[kscale_twin::manifest::ManifestObject]) -> bool {
    crds::wanted(objects, &[crds::VERTICAL_POD_AUTOSCALER.group])
}

impl LiveVpa {
    /// Installs the CRD and registers the admission webhook (before the manifests' objects
    /// are created, so that every pod goes through it); the loops start at `t`.
    pub fn start(kc: &mut KubeCluster, t: u64) -> Result<LiveVpa, ApiError> {
        crds::install(kc, &[crds::VERTICAL_POD_AUTOSCALER])?;
        let view = Arc::new(RwLock::new(AdmissionView::default()));
        let admitted = Arc::new(AtomicU64::new(0));
        let (v, a) = (view.clone(), admitted.clone());
        let webhook = PodWebhook::start(Arc::new(move |ns: &str, pod| {
            let view = v.read().ok()?;
            let labels = pod.metadata.labels.clone().unwrap_or_default();
            let (_, admitted) = view.admit(ns, &labels, &pod_containers(pod))?;
            a.fetch_add(1, Ordering::SeqCst);
            Some(admission_patch(pod, &admitted))
        }))?;
        webhook.register(kc, "kscale-vpa-admission")?;
        Ok(LiveVpa {
            recommender: Recommender::new(),
            updater: Updater::new(),
            view,
            admitted,
            _webhook: webhook,
            next_recommend: t + RECOMMENDER_INTERVAL_MS,
            next_update: t + UPDATER_INTERVAL_MS,
            next_view: t,
            evictions: 0,
            resized: 0,
        })
    }

    /// Re-reads the admission webhook's view of the VPAs now.
    pub fn refresh(&mut self, kc: &mut KubeCluster) -> Result<(), ApiError> {
        let v = AdmissionView::read(kc, None)?;
        *self.view.write().expect("admission view lock") = v;
        Ok(())
    }

    /// Refreshes the admission view and runs the loops due at `t` (the recommender before
    /// the updater, as the twin orders them). A failed loop is tried again at the next
    /// interval, as upstream's loops are.
    pub fn advance(&mut self, kc: &mut KubeCluster, t: u64) -> Result<(), ApiError> {
        if t >= self.next_view {
            self.next_view = t + VIEW_REFRESH_MS;
            self.refresh(kc)?;
        }
        if t >= self.next_recommend {
            self.next_recommend += RECOMMENDER_INTERVAL_MS;
            self.recommender.run_once(kc)?;
            // The pods the updater evicts next are replaced within milliseconds: their
            // admission must see the recommendation just written, as in the twin.
            self.refresh(kc)?;
        }
        if t >= self.next_update {
            self.next_update += UPDATER_INTERVAL_MS;
            let u = self.updater.run_once_all(kc)?;
            self.evictions += u.evicted.len() as u64;
            self.resized += u.resized.len() as u64;
        }
        Ok(())
    }

    /// The `vpa` section of `summary.json`, as the twin writes it.
    pub fn summary(&self, kc: &mut KubeCluster) -> Value {
        let vpas = kc
            .list_raw("autoscaling.k8s.io/v1", "VerticalPodAutoscaler", None)
            .ok()
            .flatten()
            .unwrap_or_default();
        kscale_components::vpa::summary_json(
            self.evictions,
            self.resized,
            self.admitted.load(Ordering::SeqCst),
            &vpas,
        )
    }
}
