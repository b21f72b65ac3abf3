//! Resource types the twin knows, and kubectl's way of naming them on the command line
//! (plural, singular, short names, `resource.group` and `resource.version.group`).

use std::fmt;

/// A resource kind the twin knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// core/v1 Pod.
    Pod,
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 ReplicaSet.
    ReplicaSet,
    /// apps/v1 StatefulSet.
    StatefulSet,
    /// apps/v1 DaemonSet.
    DaemonSet,
    /// core/v1 Node.
    Node,
    /// core/v1 Namespace.
    Namespace,
    /// core/v1 ConfigMap.
    ConfigMap,
    /// core/v1 ServiceAccount.
    ServiceAccount,
    /// core/v1 Service.
    Service,
    /// core/v1 Event.
    Event,
    /// scheduling.k8s.io/v1 PriorityClass.
    PriorityClass,
    /// autoscaling/v2 HorizontalPodAutoscaler.
    HorizontalPodAutoscaler,
    /// policy/v1 PodDisruptionBudget.
    PodDisruptionBudget,
    /// rbac.authorization.k8s.io/v1 ClusterRole.
    ClusterRole,
    /// rbac.authorization.k8s.io/v1 ClusterRoleBinding.
    ClusterRoleBinding,
    /// rbac.authorization.k8s.io/v1 Role.
    Role,
    /// rbac.authorization.k8s.io/v1 RoleBinding.
    RoleBinding,
    /// karpenter.sh/v1 NodePool.
    NodePool,
    /// karpenter.sh/v1alpha5 Provisioner (legacy Karpenter).
    Provisioner,
    /// karpenter.sh/v1 NodeClaim.
    NodeClaim,
    /// karpenter.k8s.aws/v1 EC2NodeClass.
    EC2NodeClass,
    /// karpenter.k8s.aws/v1alpha1 AWSNodeTemplate (legacy Karpenter).
    AWSNodeTemplate,
    /// autoscaling.k8s.io/v1 VerticalPodAutoscaler.
    VerticalPodAutoscaler,
}

/// Everything kubectl's REST mapper knows about a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KindInfo {
    /// The kind.
    pub kind: Kind,
    /// The `kind` field value, e.g. `Deployment`.
    pub name: &'static str,
    /// The lowercase plural resource name, e.g. `deployments`.
    pub plural: &'static str,
    /// The lowercase singular resource name, e.g. `deployment`.
    pub singular: &'static str,
    /// kubectl's short names, e.g. `["deploy"]`.
    pub short_names: &'static [&'static str],
    /// The API group, empty for the core group.
    pub group: &'static str,
    /// The API version within the group, e.g. `v1`.
    pub version: &'static str,
    /// The `apiVersion` field value, e.g. `apps/v1`.
    pub api_version: &'static str,
    /// Whether objects of this kind live in a namespace.
    pub namespaced: bool,
}

impl KindInfo {
    /// The name kubectl uses in `-o name` output and in `kind/name` prefixes:
    /// `pod`, `deployment.apps`, `nodepool.karpenter.sh`.
    pub fn qualified_singular(&self) -> String {
        if self.group.is_empty() {
            self.singular.to_string()
        } else {
            format!("{}.{}", self.singular, self.group)
        }
    }

    /// The plural with its group, as kubectl prints it in messages: `deployments.apps`.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

macro_rules! info {
    ($kind:ident, $name:literal, $plural:literal, $singular:literal, [$($short:literal),*], $group:literal, $version:literal, $api:literal, $ns:literal) => {
        KindInfo {
            kind: Kind::$kind,
            name: $name,
            plural: $plural,
            singular: $singular,
            short_names: &[$($short),*],
            group: $group,
            version: $version,
            api_version: $api,
            namespaced: $ns,
        }
    };
}

/// Every kind the twin knows, in a stable order.
pub const ALL_KINDS: &[KindInfo] = &[
    info!(Pod, "Pod", "pods", "pod", ["po"], "", "v1", "v1", true),
    info!(
        Deployment,
        "Deployment",
        "deployments",
        "deployment",
        ["deploy"],
        "apps",
        "v1",
        "apps/v1",
        true
    ),
    info!(
        ReplicaSet,
        "ReplicaSet",
        "replicasets",
        "replicaset",
        ["rs"],
        "apps",
        "v1",
        "apps/v1",
        true
    ),
    info!(
        StatefulSet,
        "StatefulSet",
        "statefulsets",
        "statefulset",
        ["sts"],
        "apps",
        "v1",
        "apps/v1",
        true
    ),
    info!(
        DaemonSet,
        "DaemonSet",
        "daemonsets",
        "daemonset",
        ["ds"],
        "apps",
        "v1",
        "apps/v1",
        true
    ),
    info!(Node, "Node", "nodes", "node", ["no"], "", "v1", "v1", false),
    info!(
        Namespace,
        "Namespace",
        "namespaces",
        "namespace",
        ["ns"],
        "",
        "v1",
        "v1",
        false
    ),
    info!(
        ConfigMap,
        "ConfigMap",
        "configmaps",
        "configmap",
        ["cm"],
        "",
        "v1",
        "v1",
        true
    ),
    info!(
        ServiceAccount,
        "ServiceAccount",
        "serviceaccounts",
        "serviceaccount",
        ["sa"],
        "",
        "v1",
        "v1",
        true
    ),
    info!(
        Service,
        "Service",
        "services",
        "service",
        ["svc"],
        "",
        "v1",
        "v1",
        true
    ),
    info!(
        Event,
        "Event",
        "events",
        "event",
        ["ev"],
        "",
        "v1",
        "v1",
        true
    ),
    info!(
        PriorityClass,
        "PriorityClass",
        "priorityclasses",
        "priorityclass",
        ["pc"],
        "scheduling.k8s.io",
        "v1",
        "scheduling.k8s.io/v1",
        false
    ),
    info!(
        HorizontalPodAutoscaler,
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        ["hpa"],
        "autoscaling",
        "v2",
        "autoscaling/v2",
        true
    ),
    info!(
        PodDisruptionBudget,
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        ["pdb"],
        "policy",
        "v1",
        "policy/v1",
        true
    ),
    info!(
        ClusterRole,
        "ClusterRole",
        "clusterroles",
        "clusterrole",
        [],
        "rbac.authorization.k8s.io",
        "v1",
        "rbac.authorization.k8s.io/v1",
        false
    ),
    info!(
        ClusterRoleBinding,
        "ClusterRoleBinding",
        "clusterrolebindings",
        "clusterrolebinding",
        [],
        "rbac.authorization.k8s.io",
        "v1",
        "rbac.authorization.k8s.io/v1",
        false
    ),
    info!(
        Role,
        "Role",
        "roles",
        "role",
        [],
        "rbac.authorization.k8s.io",
        "v1",
        "rbac.authorization.k8s.io/v1",
        true
    ),
    info!(
        RoleBinding,
        "RoleBinding",
        "rolebindings",
        "rolebinding",
        [],
        "rbac.authorization.k8s.io",
        "v1",
        "rbac.authorization.k8s.io/v1",
        true
    ),
    info!(
        NodePool,
        "NodePool",
        "nodepools",
        "nodepool",
        [],
        "karpenter.sh",
        "v1",
        "karpenter.sh/v1",
        false
    ),
    info!(
        Provisioner,
        "Provisioner",
        "provisioners",
        "provisioner",
        [],
        "karpenter.sh",
        "v1alpha5",
        "karpenter.sh/v1alpha5",
        false
    ),
    info!(
        NodeClaim,
        "NodeClaim",
        "nodeclaims",
        "nodeclaim",
        [],
        "karpenter.sh",
        "v1",
        "karpenter.sh/v1",
        false
    ),
    info!(
        EC2NodeClass,
        "EC2NodeClass",
        "ec2nodeclasses",
        "ec2nodeclass",
        ["ec2nc"],
        "karpenter.k8s.aws",
        "v1",
        "karpenter.k8s.aws/v1",
        false
    ),
    info!(
        AWSNodeTemplate,
        "AWSNodeTemplate",
        "awsnodetemplates",
        "awsnodetemplate",
        [],
        "karpenter.k8s.aws",
        "v1alpha1",
        "karpenter.k8s.aws/v1alpha1",
        false
    ),
    info!(
        VerticalPodAutoscaler,
        "VerticalPodAutoscaler",
        "verticalpodautoscalers",
        "verticalpodautoscaler",
        ["vpa"],
        "autoscaling.k8s.io",
        "v1",
        "autoscaling.k8s.io/v1",
        true
    ),
];

impl Kind {
    /// The static description of this kind.
    pub fn info(self) -> KindInfo {
        // ALL_KINDS lists the variants in declaration order.
        ALL_KINDS[self as usize]
    }

    /// Looks a kind up by its `kind` field value (`Deployment`), case-sensitively,
    /// as it appears in manifests.
    pub fn from_kind_name(name: &str) -> Option<Kind> {
        ALL_KINDS.iter().find(|i| i.name == name).map(|i| i.kind)
    }
}

/// A kind's qualified singular as kubectl's output names it (`deployment.apps`), by its `kind`
/// field value; an unknown kind is lowercased.
pub fn qualified_singular_of(kind: &str) -> String {
    Kind::from_kind_name(kind)
        .map(|k| k.info().qualified_singular())
        .unwrap_or_else(|| kind.to_ascii_lowercase())
}

/// A kind's qualified plural as API errors name it (`deployments.apps`), by its `kind` field
/// value; an unknown kind is lowercased and pluralised with `s`.
pub fn qualified_plural_of(kind: &str) -> String {
    Kind::from_kind_name(kind)
        .map(|k| k.info().qualified_plural())
        .unwrap_or_else(|| format!("{}s", kind.to_ascii_lowercase()))
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.info().name)
    }
}

/// Resolves a resource name as typed on kubectl's command line to its kind.
///
/// Accepts plurals (`deployments`), singulars (`deployment`), short names (`deploy`),
/// the kind itself in any case (`Deployment`), and the `resource.group` /
/// `resource.version.group` forms (`deployments.apps`, `deployment.v1.apps`). Returns `None`
/// for anything else, including a known resource with a wrong group (`deployments.batch`).
pub fn resolve_kind(resource: &str) -> Option<KindInfo> {
    let lower = resource.trim().to_ascii_lowercase();
    if lower.is_empty() {
        return None;
    }
    let (res, rest) = match lower.split_once('.') {
        Some((r, g)) => (r, Some(g)),
        None => (lower.as_str(), None),
    };
    ALL_KINDS.iter().copied().find(|info| {
        let name_ok = res == info.plural
            || res == info.singular
            || info.short_names.contains(&res)
            || res == info.name.to_ascii_lowercase();
        if !name_ok {
            return false;
        }
        match rest {
            None => true,
            Some(g) => {
                !info.group.is_empty()
                    && (g == info.group || g == format!("{}.{}", info.version, info.group))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_table_is_in_declaration_order() {
        for (i, info) in ALL_KINDS.iter().enumerate() {
            assert_eq!(info.kind as usize, i, "{}", info.name);
        }
    }

    #[test]
    fn aliases_resolve() {
        let cases: &[(&str, Kind)] = &[
            ("pods", Kind::Pod),
            ("pod", Kind::Pod),
            ("po", Kind::Pod),
            ("Pods", Kind::Pod),
            ("deployments", Kind::Deployment),
            ("deployment", Kind::Deployment),
            ("deploy", Kind::Deployment),
            ("deployment.apps", Kind::Deployment),
            ("deployments.v1.apps", Kind::Deployment),
            ("replicasets", Kind::ReplicaSet),
            ("rs", Kind::ReplicaSet),
            ("statefulsets", Kind::StatefulSet),
            ("sts", Kind::StatefulSet),
            ("nodes", Kind::Node),
            ("no", Kind::Node),
            ("namespaces", Kind::Namespace),
            ("ns", Kind::Namespace),
            ("configmaps", Kind::ConfigMap),
            ("cm", Kind::ConfigMap),
            ("serviceaccounts", Kind::ServiceAccount),
            ("sa", Kind::ServiceAccount),
            ("priorityclasses", Kind::PriorityClass),
            ("pc", Kind::PriorityClass),
            ("priorityclass.scheduling.k8s.io", Kind::PriorityClass),
            ("horizontalpodautoscalers", Kind::HorizontalPodAutoscaler),
            ("hpa", Kind::HorizontalPodAutoscaler),
            ("hpa.autoscaling", Kind::HorizontalPodAutoscaler),
            ("poddisruptionbudgets", Kind::PodDisruptionBudget),
            ("pdb", Kind::PodDisruptionBudget),
            ("services", Kind::Service),
            ("svc", Kind::Service),
            ("events", Kind::Event),
            ("ev", Kind::Event),
            ("daemonsets", Kind::DaemonSet),
            ("ds", Kind::DaemonSet),
            ("clusterroles", Kind::ClusterRole),
            ("clusterrolebindings", Kind::ClusterRoleBinding),
            ("roles", Kind::Role),
            ("rolebindings", Kind::RoleBinding),
            ("nodepools", Kind::NodePool),
            ("nodepool.karpenter.sh", Kind::NodePool),
            ("provisioners", Kind::Provisioner),
            ("nodeclaims", Kind::NodeClaim),
            ("ec2nodeclasses", Kind::EC2NodeClass),
            ("EC2NodeClass", Kind::EC2NodeClass),
            ("awsnodetemplates", Kind::AWSNodeTemplate),
            ("vpa", Kind::VerticalPodAutoscaler),
            ("verticalpodautoscalers", Kind::VerticalPodAutoscaler),
            (
                "verticalpodautoscaler.autoscaling.k8s.io",
                Kind::VerticalPodAutoscaler,
            ),
        ];
        for (s, k) in cases {
            assert_eq!(resolve_kind(s).map(|i| i.kind), Some(*k), "{s}");
        }
    }

    #[test]
    fn unknown_and_wrong_group() {
        assert_eq!(resolve_kind("foos"), None);
        assert_eq!(resolve_kind("deployments.batch"), None);
        assert_eq!(resolve_kind("pods.apps"), None);
        assert_eq!(resolve_kind(""), None);
    }

    #[test]
    fn info_fields() {
        let d = Kind::Deployment.info();
        assert_eq!(d.api_version, "apps/v1");
        assert!(d.namespaced);
        assert_eq!(d.qualified_singular(), "deployment.apps");
        let n = resolve_kind("no").unwrap();
        assert_eq!(
            (n.name, n.plural, n.api_version, n.namespaced),
            ("Node", "nodes", "v1", false)
        );
        assert_eq!(n.qualified_singular(), "node");
        assert_eq!(
            Kind::from_kind_name("HorizontalPodAutoscaler"),
            Some(Kind::HorizontalPodAutoscaler)
        );
        assert_eq!(Kind::PriorityClass.to_string(), "PriorityClass");
    }
}
