//! CustomResourceDefinitions kscale installs on a `--cluster` run for the kinds its own
//! components serve (Karpenter's, CapacityBuffers, VerticalPodAutoscalers): schemaless
//! (`x-kubernetes-preserve-unknown-fields`) with a status subresource, labelled
//! `kscale.io/run` like everything kscale creates, so they are deleted at the end.

use kscale_cluster::ApiError;
use kscale_kube::KubeCluster;
use serde_json::{Value, json};

/// One CRD: its group, served versions (the first is the storage version), kind, plural,
/// scope, short names and printer columns.
pub struct Crd {
    /// API group.
    pub group: &'static str,
    /// Served versions; the first is stored.
    pub versions: &'static [&'static str],
    /// Kind.
    pub kind: &'static str,
    /// Plural resource name.
    pub plural: &'static str,
    /// Whether its objects live in a namespace.
    pub namespaced: bool,
    /// Short names (`kubectl get vpa`).
    pub short_names: &'static [&'static str],
    /// `additionalPrinterColumns`: (name, type, JSON path).
    pub columns: &'static [(&'static str, &'static str, &'static str)],
}

/// The CapacityBuffer CRD (`autoscaling.x-k8s.io`, v1alpha1 and v1beta1), which the Cluster
/// Autoscaler component reads.
pub const CAPACITY_BUFFER: Crd = Crd {
    group: "autoscaling.x-k8s.io",
    versions: &["v1alpha1", "v1beta1"],
    kind: "CapacityBuffer",
    plural: "capacitybuffers",
    namespaced: true,
    short_names: &[],
    columns: &[],
};

/// The VerticalPodAutoscaler CRD (`autoscaling.k8s.io/v1`) with upstream's short name and
/// printer columns (vertical-pod-autoscaler/deploy/vpa-v1-crd-gen.yaml).
pub const VERTICAL_POD_AUTOSCALER: Crd = Crd {
    group: "autoscaling.k8s.io",
    versions: &["v1"],
    kind: "VerticalPodAutoscaler",
    plural: "verticalpodautoscalers",
    namespaced: true,
    short_names: &["vpa"],
    columns: &[
        ("Mode", "string", ".spec.updatePolicy.updateMode"),
        (
            "CPU",
            "string",
            ".status.recommendation.containerRecommendations[0].target.cpu",
        ),
        (
            "Mem",
            "string",
            ".status.recommendation.containerRecommendations[0].target.memory",
        ),
        (
            "Provided",
            "string",
            ".status.conditions[?(@.type=='RecommendationProvided')].status",
        ),
        ("Age", "date", ".metadata.creationTimestamp"),
    ],
};

/// Whether any of the manifests' objects has `api_version` group `group`.
pub fn wanted(objects: &[kscale_twin::manifest::ManifestObject], groups: &[&str]) -> bool {
    objects.iter().any(|o| {
        o.raw
            .get("apiVersion")
            .and_then(Value::as_str)
            .and_then(|v| v.split_once('/'))
            .is_some_and(|(g, _)| groups.contains(&g))
    })
}

/// Installs `crds` and waits (30 s at most) until the API serves each.
pub fn install(kc: &mut KubeCluster, crds: &[Crd]) -> Result<(), ApiError> {
    for c in crds {
        let versions: Vec<Value> = c
            .versions
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let columns: Vec<Value> = c
                    .columns
                    .iter()
                    .map(|(name, type_, path)| json!({"name": name, "type": type_, "jsonPath": path}))
                    .collect();
                json!({"name": v, "served": true, "storage": i == 0,
                       "subresources": {"status": {}},
                       "additionalPrinterColumns": columns,
                       "schema": {"openAPIV3Schema": {"type": "object",
                                  "x-kubernetes-preserve-unknown-fields": true}}})
            })
            .collect();
        // Groups under k8s.io and kubernetes.io need the API review's approval (as upstream's
        // VPA CRD carries it).
        let protected = c.group.ends_with(".k8s.io") || c.group.ends_with(".kubernetes.io");
        let annotations = if protected {
            json!({"api-approved.kubernetes.io": "https://github.com/kubernetes/kubernetes/pull/63797"})
        } else {
            json!({})
        };
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{}.{}", c.plural, c.group), "annotations": annotations},
            "spec": {"group": c.group,
                     "scope": if c.namespaced { "Namespaced" } else { "Cluster" },
                     "names": {"kind": c.kind, "plural": c.plural,
                               "singular": c.kind.to_ascii_lowercase(),
                               "shortNames": c.short_names,
                               "listKind": format!("{}List", c.kind)},
                     "versions": versions}
        });
        match kc.create_raw(&crd) {
            Ok(()) | Err(ApiError::AlreadyExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    for c in crds {
        for v in c.versions {
            let gvk = kube::api::GroupVersionKind::gvk(c.group, v, c.kind);
            loop {
                let client = kc.client().clone();
                let ok = kc
                    .block_on(async { kube::discovery::pinned_kind(&client, &gvk).await.is_ok() });
                if ok {
                    break;
                }
                if std::time::Instant::now() > deadline {
                    return Err(ApiError::Unavailable(format!(
                        "the CRD of {} ({}/{v}) was not served in 30 s",
                        c.kind, c.group
                    )));
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        }
    }
    Ok(())
}
