//! Karpenter's pools: `karpenter.sh/v1` NodePools and `karpenter.sh/v1alpha5` Provisioners as
//! the API serves them ([`NodePool`], [`Provisioner`]) and as provisioning and disruption read
//! them ([`PoolConfig`]), with upstream's defaults (kubernetes-sigs/karpenter
//! pkg/apis/v1/nodepool.go, nodepool_default.go): capacity type on-demand, `consolidateAfter`
//! 0s, `consolidationPolicy` WhenEmptyOrUnderutilized, budgets `nodes: 10%`, `expireAfter`
//! 720h.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kscale_controllers::karpenter::Pool;
use kscale_controllers::karpenter::budget::Budget;
use kscale_controllers::karpenter::candidates::PoolDisruption;
use kscale_model::labels::{string_map_from_json, taints_from_json};
use kscale_model::quantity::from_json as quantity;
use kscale_model::{NodeSelectorRequirement, Resources, SelectorOp};
use serde::Deserialize;
use serde_json::Value;

/// Which API a pool came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolApi {
    /// `karpenter.sh/v1alpha5` Provisioner.
    Provisioner,
    /// `karpenter.sh/v1` (or v1beta1) NodePool.
    NodePool,
}

/// A pool with its disruption settings.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Provisioning view.
    pub pool: Pool,
    /// Origin API.
    pub api: PoolApi,
    /// Remove empty nodes after this long (ms), if set.
    pub empty_after_ms: Option<u64>,
    /// Also consolidate underutilized nodes.
    pub underutilized: bool,
    /// `disruption.budgets` (NodePools; default `[{nodes: "10%"}]`).
    pub budgets: Vec<Budget>,
    /// `template.spec.expireAfter` in ms (default 720h; `None` for `Never`).
    pub expire_after_ms: Option<u64>,
}

impl PoolConfig {
    /// The pool's `spec.disruption` as candidate selection reads it.
    pub fn disruption(&self) -> PoolDisruption {
        PoolDisruption {
            consolidate_after_ms: self.empty_after_ms,
            underutilized: self.underutilized,
        }
    }

    /// Whether it is a NodePool (disrupted as Karpenter v1 does).
    pub fn is_nodepool(&self) -> bool {
        self.api == PoolApi::NodePool
    }
}

/// The label a pool stamps on its nodes.
pub fn pool_label(api: &PoolApi) -> &'static str {
    match api {
        PoolApi::Provisioner => "karpenter.sh/provisioner-name",
        PoolApi::NodePool => "karpenter.sh/nodepool",
    }
}

/// The pools of these `Provisioner` / `NodePool` objects `(kind, name, object)`, with their
/// disruption settings and zero usage and daemon overhead (the caller adds its nodes' and
/// in-flight claims'). Malformed fields read as absent (the API's schema is not enforced).
pub fn pool_configs<'a>(
    objects: impl Iterator<Item = (&'a str, &'a str, &'a Value)>,
) -> Vec<PoolConfig> {
    objects
        .map(|(kind, name, v)| {
            let api = if kind == "Provisioner" {
                PoolApi::Provisioner
            } else {
                PoolApi::NodePool
            };
            pool_config(api, name, v.get("spec"))
        })
        .collect()
}

fn pool_config(api: PoolApi, name: &str, spec: Option<&Value>) -> PoolConfig {
    let (reqs, tnts, lbls, limits) = match api {
        PoolApi::Provisioner => (
            NodeSelectorRequirement::list_from_json(spec.and_then(|s| s.get("requirements"))),
            taints_from_json(spec.and_then(|s| s.get("taints"))),
            string_map_from_json(spec.and_then(|s| s.get("labels"))),
            spec.and_then(|s| s.pointer("/limits/resources")),
        ),
        PoolApi::NodePool => (
            NodeSelectorRequirement::list_from_json(
                spec.and_then(|s| s.pointer("/template/spec/requirements")),
            ),
            taints_from_json(spec.and_then(|s| s.pointer("/template/spec/taints"))),
            string_map_from_json(spec.and_then(|s| s.pointer("/template/metadata/labels"))),
            spec.and_then(|s| s.get("limits")),
        ),
    };
    let mut reqs = reqs;
    // Karpenter defaults capacity type to on-demand when no requirement names it.
    if !reqs.iter().any(|r| r.key == "karpenter.sh/capacity-type") {
        reqs.push(NodeSelectorRequirement {
            key: "karpenter.sh/capacity-type".into(),
            op: SelectorOp::In,
            values: vec!["on-demand".into()],
        });
    }
    let limits = limits.map(|l| Resources {
        cpu_milli: quantity(l.get("cpu")).map(|x| x.milli()).unwrap_or(0),
        memory: quantity(l.get("memory")).map(|x| x.value()).unwrap_or(0),
        pods: 0,
    });
    let mut pool_labels = lbls;
    pool_labels.insert(pool_label(&api).into(), name.to_string());
    let (empty_after_ms, underutilized) = match api {
        PoolApi::Provisioner => {
            let consolidation = spec
                .and_then(|s| s.pointer("/consolidation/enabled"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let ttl = spec
                .and_then(|s| s.get("ttlSecondsAfterEmpty"))
                .and_then(Value::as_u64)
                .map(|s| s * 1000);
            (
                ttl.or(if consolidation { Some(0) } else { None }),
                consolidation,
            )
        }
        PoolApi::NodePool => {
            let d = spec.and_then(|s| s.get("disruption"));
            let policy = d
                .and_then(|d| d.get("consolidationPolicy"))
                .and_then(Value::as_str)
                .unwrap_or("WhenEmptyOrUnderutilized");
            let after = d
                .and_then(|d| d.get("consolidateAfter"))
                .and_then(Value::as_str)
                .unwrap_or("0s");
            let after = if after == "Never" {
                None
            } else {
                kscale_model::parse_duration(after).ok()
            };
            (after, after.is_some() && policy != "WhenEmpty")
        }
    };
    let (budgets, expire_after_ms) = match api {
        PoolApi::Provisioner => (vec![], None),
        PoolApi::NodePool => (
            nodepool_budgets(spec),
            match spec
                .and_then(|s| s.pointer("/template/spec/expireAfter"))
                .and_then(Value::as_str)
                .unwrap_or("720h")
            {
                "Never" => None,
                e => kscale_model::parse_duration(e).ok(),
            },
        ),
    };
    let weight = spec
        .and_then(|s| s.get("weight"))
        .and_then(Value::as_i64)
        .unwrap_or(0) as i32;
    PoolConfig {
        pool: Pool {
            name: name.to_string(),
            weight,
            requirements: reqs,
            taints: tnts,
            labels: pool_labels,
            limits,
            usage: Resources::ZERO,
            daemon_overhead: Resources::ZERO,
        },
        api,
        empty_after_ms,
        underutilized,
        budgets,
        expire_after_ms,
    }
}

/// A NodePool's `spec.disruption.budgets` (validated when applied; invalid ones are skipped;
/// default `[{nodes: 10%}]`).
pub fn nodepool_budgets(spec: Option<&Value>) -> Vec<Budget> {
    let Some(list) = spec
        .and_then(|s| s.pointer("/disruption/budgets"))
        .and_then(Value::as_array)
    else {
        return vec![Budget::default_budget()];
    };
    list.iter().filter_map(|b| parse_budget(b).ok()).collect()
}

/// Parses one budget object (`nodes`, `reasons`, `schedule`, `duration`; pkg/apis/v1
/// nodepool.go `Budget`), with the message the API server's schema check gives when invalid.
pub fn parse_budget(b: &Value) -> Result<Budget, String> {
    let nodes = match b.get("nodes") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        None => "10%".to_string(),
        Some(other) => return Err(format!("nodes: invalid value {other}")),
    };
    let reasons: Vec<String> = b
        .get("reasons")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|r| r.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    let schedule = b.get("schedule").and_then(Value::as_str);
    let duration = match b.get("duration").and_then(Value::as_str) {
        Some(d) => Some(
            kscale_model::parse_duration(d)
                .map_err(|e| format!("duration: invalid value \"{d}\": {e}"))?,
        ),
        None => None,
    };
    Budget::parse(&nodes, &reasons, schedule, duration)
}

/// Declares a cluster-scoped Karpenter object served as `$group/$version`: metadata, a spec
/// kept as JSON (read by [`pool_configs`]) and a status.
macro_rules! karpenter_object {
    ($(#[$doc:meta])* $name:ident, $group:literal, $version:literal, $plural:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
        pub struct $name {
            /// Standard object metadata.
            pub metadata: ObjectMeta,
            /// `spec`, as written.
            #[serde(default)]
            pub spec: Value,
            /// `status`, as written.
            #[serde(default)]
            pub status: Option<Value>,
        }

        crate::custom_object::custom_object!(
            $name,
            Value,
            Value,
            $group,
            $version,
            stringify!($name),
            $plural,
            ClusterResourceScope
        );
    };
}

karpenter_object!(
    /// A `karpenter.sh/v1` NodePool.
    NodePool,
    "karpenter.sh",
    "v1",
    "nodepools"
);
karpenter_object!(
    /// A `karpenter.sh/v1alpha5` Provisioner.
    Provisioner,
    "karpenter.sh",
    "v1alpha5",
    "provisioners"
);

impl NodePool {
    /// Its pool, with zero usage and daemon overhead.
    pub fn config(&self) -> PoolConfig {
        pool_config(
            PoolApi::NodePool,
            self.metadata.name.as_deref().unwrap_or(""),
            Some(&self.spec),
        )
    }
}

impl Provisioner {
    /// Its pool, with zero usage and daemon overhead.
    pub fn config(&self) -> PoolConfig {
        pool_config(
            PoolApi::Provisioner,
            self.metadata.name.as_deref().unwrap_or(""),
            Some(&self.spec),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_nodepool_gets_upstreams_defaults() {
        let np: NodePool = serde_json::from_value(json!({
            "apiVersion": "karpenter.sh/v1", "kind": "NodePool",
            "metadata": {"name": "general"},
            "spec": {"template": {"spec": {"requirements": [
                {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["m5.large"]}]}}},
        }))
        .unwrap();
        let c = np.config();
        assert_eq!(c.api, PoolApi::NodePool);
        assert_eq!(c.pool.name, "general");
        assert_eq!(
            c.pool.labels.get("karpenter.sh/nodepool").unwrap(),
            "general"
        );
        // On-demand when no requirement names the capacity type.
        let ct = c
            .pool
            .requirements
            .iter()
            .find(|r| r.key == "karpenter.sh/capacity-type")
            .unwrap();
        assert_eq!(ct.values, vec!["on-demand".to_string()]);
        // consolidateAfter 0s, WhenEmptyOrUnderutilized, 720h, one 10% budget.
        assert_eq!(c.empty_after_ms, Some(0));
        assert!(c.underutilized);
        assert_eq!(c.expire_after_ms, Some(720 * 3_600_000));
        assert_eq!(c.budgets.len(), 1);
        assert_eq!(c.pool.limits, None);
        // It serializes with its kind, as the API serves it.
        let v = serde_json::to_value(&np).unwrap();
        assert_eq!(v["kind"], "NodePool");
        assert_eq!(v["apiVersion"], "karpenter.sh/v1");
    }

    #[test]
    fn disruption_settings_of_both_apis() {
        let objects = [
            (
                "NodePool",
                "empty-only",
                json!({"spec": {"disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "30s",
                    "budgets": [{"nodes": "0"}, {"nodes": 5, "reasons": ["Empty"]}, {"nodes": true}]},
                    "limits": {"cpu": "100", "memory": "64Gi"}, "weight": 7,
                    "template": {"spec": {"expireAfter": "Never",
                        "taints": [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}, {"key": "bad"}]}}}}),
            ),
            (
                "NodePool",
                "never",
                json!({"spec": {"disruption": {"consolidateAfter": "Never"}}}),
            ),
            (
                "Provisioner",
                "ttl",
                json!({"spec": {"ttlSecondsAfterEmpty": 30, "limits": {"resources": {"cpu": 8}},
                    "labels": {"team": "a"}}}),
            ),
            (
                "Provisioner",
                "consolidating",
                json!({"spec": {"consolidation": {"enabled": true}}}),
            ),
        ];
        let c = pool_configs(objects.iter().map(|(k, n, v)| (*k, *n, v)));
        assert_eq!(
            (c[0].empty_after_ms, c[0].underutilized),
            (Some(30_000), false)
        );
        assert_eq!(c[0].expire_after_ms, None);
        // The invalid budget (`nodes: true`) is skipped.
        assert_eq!(c[0].budgets.len(), 2);
        assert_eq!(c[0].pool.weight, 7);
        assert_eq!(c[0].pool.taints.len(), 1, "the malformed taint is skipped");
        let l = c[0].pool.limits.unwrap();
        assert_eq!((l.cpu_milli, l.memory), (100_000, 64 << 30));
        assert_eq!((c[1].empty_after_ms, c[1].underutilized), (None, false));
        assert_eq!(
            (c[2].empty_after_ms, c[2].underutilized),
            (Some(30_000), false)
        );
        assert!(c[2].budgets.is_empty());
        assert_eq!(c[2].pool.limits.unwrap().cpu_milli, 8_000);
        assert_eq!(
            c[2].pool
                .labels
                .get("karpenter.sh/provisioner-name")
                .unwrap(),
            "ttl"
        );
        assert_eq!(c[2].pool.labels.get("team").unwrap(), "a");
        assert_eq!((c[3].empty_after_ms, c[3].underutilized), (Some(0), true));
    }

    #[test]
    fn budgets_parse_with_the_schemas_messages() {
        assert!(parse_budget(&json!({"nodes": "20%", "reasons": ["Drifted"]})).is_ok());
        assert_eq!(
            parse_budget(&json!({"nodes": true})).unwrap_err(),
            "nodes: invalid value true"
        );
        assert!(
            parse_budget(&json!({"nodes": "1", "schedule": "@daily", "duration": "x"}))
                .unwrap_err()
                .starts_with("duration: invalid value \"x\"")
        );
    }
}
