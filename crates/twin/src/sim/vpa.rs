//! The twin's side of the Vertical Pod Autoscaler: when a VerticalPodAutoscaler is applied,
//! it starts the recommender and the updater (`kscale_components::vpa`, which talk to the
//! twin only through the cluster API, [`SimCluster`], as they do to a real control plane) and
//! delivers their one-minute loops; its admission hook gives each new pod the requests and
//! limits the admission controller would (`kscale_components::vpa::admit`).
//!
//! *Assumption*: a scenario with a VerticalPodAutoscaler object has the VPA's three
//! components installed (as `kubectl apply -f vertical-pod-autoscaler/deploy` would).

use std::collections::BTreeMap;
use std::sync::Arc;

use kscale_components::vpa::{
    RECOMMENDER_INTERVAL_MS, Recommender, UPDATER_INTERVAL_MS, Updater, admit,
};
use kscale_controllers::vpa::{PodContainer, ResourceList};
use kscale_model::quantity::{format_cpu_milli, format_decimal_milli};
use serde_json::{Value, json};

use super::cluster_api::SimCluster;
use super::model::PodTemplate;
use super::{Event, Sim};

/// The VPA's components in the twin and what they did.
#[derive(Debug, Default)]
pub struct VpaComponents {
    /// `vpa-recommender`.
    pub recommender: Recommender,
    /// `vpa-updater`.
    pub updater: Updater,
    /// Admitted templates by (template address, what was set): the original is kept so its
    /// address stays unique while the entry lives.
    templates: BTreeMap<(usize, String), (Arc<PodTemplate>, Arc<PodTemplate>)>,
    /// Pods the updater evicted.
    pub evictions: u64,
    /// Pods created with the admission controller's requests.
    pub admitted: u64,
    /// Pods the updater resized in place.
    pub resized: u64,
}

fn resource_list(r: &kscale_model::Resources) -> ResourceList {
    ResourceList {
        cpu_milli: (r.cpu_milli > 0).then_some(r.cpu_milli),
        memory: (r.memory > 0).then_some(r.memory),
    }
}

fn quantities(r: &ResourceList, into: &mut serde_json::Map<String, Value>) {
    if let Some(c) = r.cpu_milli {
        into.insert("cpu".into(), json!(format_cpu_milli(c)));
    }
    if let Some(m) = r.memory {
        into.insert(
            "memory".into(),
            json!(format_decimal_milli(m.saturating_mul(1000))),
        );
    }
}

impl Sim {
    /// Starts the VPA's loops (once, when the first VerticalPodAutoscaler is applied) and the
    /// metrics pipeline they read.
    pub fn start_vpa(&mut self) {
        if self.vpa.is_some() {
            return;
        }
        self.vpa = Some(VpaComponents::default());
        self.start_metrics();
        self.queue.push(
            self.now.plus_millis(RECOMMENDER_INTERVAL_MS),
            Event::VpaRecommend,
        );
        self.queue
            .push(self.now.plus_millis(UPDATER_INTERVAL_MS), Event::VpaUpdate);
    }

    /// One recommender loop, and the next queued. A failed call leaves the next loop to try
    /// again, as upstream's loop does.
    pub fn vpa_recommend(&mut self) {
        let Some(mut vpa) = self.vpa.take() else {
            return;
        };
        let _ = vpa.recommender.run_once(&mut SimCluster(self));
        self.vpa = Some(vpa);
        self.queue.push(
            self.now.plus_millis(RECOMMENDER_INTERVAL_MS),
            Event::VpaRecommend,
        );
    }

    /// One updater loop, and the next queued.
    pub fn vpa_update(&mut self) {
        let Some(mut vpa) = self.vpa.take() else {
            return;
        };
        if let Ok(u) = vpa.updater.run_once_all(&mut SimCluster(self)) {
            vpa.evictions += u.evicted.len() as u64;
            vpa.resized += u.resized.len() as u64;
        }
        self.vpa = Some(vpa);
        self.queue
            .push(self.now.plus_millis(UPDATER_INTERVAL_MS), Event::VpaUpdate);
    }

    /// Warns (file and line of the VPA) when a VerticalPodAutoscaler that changes pods and an
    /// HorizontalPodAutoscaler scaling on CPU or memory utilization act on the same workload
    /// and resource: the VPA changes the requests the HPA's utilization is a fraction of, and
    /// the two chase each other (upstream's VPA README, "Known limitations": "Vertical Pod
    /// Autoscaler should not be used with the Horizontal Pod Autoscaler (HPA) on CPU or memory
    /// at this moment").
    pub fn warn_vpa_hpa_conflicts(
        &mut self,
        sources: &[(String, String, std::path::PathBuf, u64)],
    ) {
        use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
        use kscale_cluster::Cluster;
        use kscale_components::vpa::VerticalPodAutoscaler;
        use kscale_controllers::vpa::{ResourceName, UpdateMode, container_policy};
        for (ns, name, file, line) in sources {
            let Ok(Some(v)) = SimCluster(self).get::<VerticalPodAutoscaler>(ns, name) else {
                continue;
            };
            let spec = kscale_controllers::vpa::VpaSpec::from(&v);
            if spec.update_mode == UpdateMode::Off {
                continue;
            }
            let controlled: Vec<&str> = match container_policy("*", spec.resource_policy.as_ref())
                .and_then(|p| p.controlled_resources.as_ref())
            {
                Some(rs) => rs.iter().map(|r| r.as_str()).collect(),
                None => vec![ResourceName::Cpu.as_str(), ResourceName::Memory.as_str()],
            };
            let Ok(hpas) = SimCluster(self).list::<HorizontalPodAutoscaler>(Some(ns), "") else {
                continue;
            };
            let target = &v.spec.target_ref;
            for h in hpas {
                let Some(hs) = h.spec else { continue };
                if hs.scale_target_ref.kind != target.kind
                    || hs.scale_target_ref.name != target.name
                {
                    continue;
                }
                let resources: Vec<String> = hs
                    .metrics
                    .iter()
                    .flatten()
                    .filter_map(|m| {
                        m.resource
                            .as_ref()
                            .map(|r| r.name.clone())
                            .or_else(|| m.container_resource.as_ref().map(|r| r.name.clone()))
                    })
                    .filter(|r| controlled.contains(&r.as_str()))
                    .collect();
                // An HPA without metrics scales on CPU utilization.
                let resources = if hs.metrics.as_ref().is_none_or(|m| m.is_empty())
                    && controlled.contains(&"cpu")
                {
                    vec!["cpu".to_string()]
                } else {
                    resources
                };
                if let Some(r) = resources.first() {
                    self.warnings.push(crate::manifest::Warning {
                        file: file.clone(),
                        line: Some(*line),
                        message: format!(
                            "VerticalPodAutoscaler {ns}/{name} and HorizontalPodAutoscaler {ns}/{} both act on the {r} of {} {}: the VPA changes the requests the HPA's utilization is measured against, and the two oscillate (upstream advises against using them on the same resource)",
                            h.metadata.name.as_deref().unwrap_or(""),
                            target.kind,
                            target.name
                        ),
                    });
                }
            }
        }
    }

    /// The `vpa` section of `summary.json` (None without a VerticalPodAutoscaler): the
    /// updater's evictions, the pods admitted with recommended resources and each VPA's last
    /// recommendation per container.
    pub fn vpa_summary(&self) -> Option<Value> {
        let vpa = self.vpa.as_ref()?;
        Some(kscale_components::vpa::summary_json(
            vpa.evictions,
            vpa.resized,
            vpa.admitted,
            &self.list_rendered("VerticalPodAutoscaler", None),
        ))
    }

    /// The admission controller's mutation of a pod created from `template` in `namespace`:
    /// the template itself when no VPA controls it (or none is running), else a template with
    /// the recommended requests, limits scaled in proportion and upstream's annotations
    /// (compiled once per template and recommendation).
    pub fn vpa_admit(&mut self, namespace: &str, template: Arc<PodTemplate>) -> Arc<PodTemplate> {
        if self.vpa.is_none() {
            return template;
        }
        let containers: Vec<PodContainer> = template
            .containers
            .iter()
            .map(|c| PodContainer {
                name: c.name.clone(),
                requests: resource_list(&c.requests),
                limits: resource_list(&c.limits),
            })
            .collect();
        let labels: BTreeMap<String, String> = (*template.labels).clone();
        let Ok(Some((_, admitted))) = admit(&mut SimCluster(self), namespace, &labels, &containers)
        else {
            return template;
        };
        let key = (Arc::as_ptr(&template) as usize, format!("{:?}", admitted));
        let vpa = self.vpa.as_mut().expect("running");
        vpa.admitted += 1;
        if let Some((_, t)) = vpa.templates.get(&key) {
            return Arc::clone(t);
        }
        let mut spec = template.spec.clone();
        for (i, c) in admitted.containers.iter().enumerate() {
            let Some(container) = spec.pointer_mut(&format!("/containers/{i}")) else {
                continue;
            };
            let resources = container
                .as_object_mut()
                .expect("a container is an object")
                .entry("resources")
                .or_insert_with(|| json!({}));
            for (field, list) in [("requests", &c.requests), ("limits", &c.limits)] {
                if list.is_empty() {
                    continue;
                }
                let m = resources
                    .as_object_mut()
                    .expect("resources is an object")
                    .entry(field)
                    .or_insert_with(|| json!({}));
                if let Some(m) = m.as_object_mut() {
                    quantities(list, m);
                }
            }
        }
        let mut annotations = template.annotations.clone();
        annotations.extend(admitted.annotations.iter().cloned());
        let metadata = json!({"labels": &*template.labels, "annotations": annotations});
        let compiled = Arc::new(PodTemplate::compile(Some(&metadata), &spec));
        vpa.templates.insert(key, (template, Arc::clone(&compiled)));
        compiled
    }
}
