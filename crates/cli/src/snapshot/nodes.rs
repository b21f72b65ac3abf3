//! A real cluster's Node objects as a scenario's `spec.nodes` and `spec.cloud.nodeGroups`.
//!
//! Each node keeps its name, instance type (`node.kubernetes.io/instance-type`), capacity type
//! (Karpenter's, EKS's, GKE's or AKS's spot label), zone, labels and taints. Labels the twin
//! derives itself (hostname, OS, architecture, instance type, zone, region, capacity type) are
//! left out when they hold the derived value; every other label is kept. A node whose type is
//! not in the twin's catalog, or whose allocatable differs from the catalog's, carries its
//! `allocatable` and `capacity` explicitly. Taints the control plane manages (node conditions,
//! the Cluster Autoscaler's and Karpenter's deletion marks) are dropped: they describe the
//! moment, not the node. A cordoned node is cordoned again by a `kubectl cordon` step at 0s.
//!
//! Nodes of one node group (`eks.amazonaws.com/nodegroup`, eksctl's, GKE's and AKS's pool
//! labels) become a `spec.cloud.nodeGroups` entry when the snapshot holds a Cluster
//! Autoscaler that could resize the group, with `min`/`max` from its `--nodes` flag; without
//! one (node-group auto-discovery reads the bounds from the cloud, which the Kubernetes API
//! does not show) the bounds are the current size, and the report says so.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Node;
use kscale_model::Quantity;
use serde_json::{Map, Value, json};

/// The labels that name a node's group, most specific first.
pub const GROUP_LABELS: [&str; 4] = [
    "eks.amazonaws.com/nodegroup",
    "alpha.eksctl.io/nodegroup-name",
    "cloud.google.com/gke-nodepool",
    "kubernetes.azure.com/agentpool",
];

/// Taints set by the control plane, not by whoever made the node.
fn transient_taint(key: &str) -> bool {
    key.starts_with("node.kubernetes.io/")
        || key == "node.cloudprovider.kubernetes.io/uninitialized"
        || key == "ToBeDeletedByClusterAutoscaler"
        || key == "DeletionCandidateOfClusterAutoscaler"
        || key == "karpenter.sh/disrupted"
        || key == "karpenter.sh/disruption"
}

/// A node's capacity type from its labels (`on-demand` or `spot`).
fn capacity_type(labels: &BTreeMap<String, String>) -> &'static str {
    let spot = labels.get("karpenter.sh/capacity-type").map(String::as_str) == Some("spot")
        || labels
            .get("eks.amazonaws.com/capacityType")
            .map(String::as_str)
            == Some("SPOT")
        || labels.get("cloud.google.com/gke-spot").map(String::as_str) == Some("true")
        || labels
            .get("cloud.google.com/gke-preemptible")
            .map(String::as_str)
            == Some("true")
        || labels
            .get("kubernetes.azure.com/scalesetpriority")
            .map(String::as_str)
            == Some("spot");
    if spot { "spot" } else { "on-demand" }
}

/// The first of two labels that is set.
fn label<'a>(labels: &'a BTreeMap<String, String>, a: &str, b: &str) -> Option<&'a str> {
    labels.get(a).or_else(|| labels.get(b)).map(String::as_str)
}

/// The labels the twin puts on a node itself (`Sim::add_node`), with their values.
fn derived_labels(
    name: &str,
    instance_type: &str,
    zone: &str,
    region: &str,
    capacity_type: &str,
) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("kubernetes.io/hostname", name.to_string()),
        ("kubernetes.io/os", "linux".into()),
        ("kubernetes.io/arch", "amd64".into()),
        ("beta.kubernetes.io/os", "linux".into()),
        ("beta.kubernetes.io/arch", "amd64".into()),
        ("node.kubernetes.io/instance-type", instance_type.into()),
        ("beta.kubernetes.io/instance-type", instance_type.into()),
        ("topology.kubernetes.io/zone", zone.into()),
        ("topology.kubernetes.io/region", region.into()),
        ("failure-domain.beta.kubernetes.io/zone", zone.into()),
        ("failure-domain.beta.kubernetes.io/region", region.into()),
        ("karpenter.sh/capacity-type", capacity_type.into()),
        (
            "eks.amazonaws.com/capacityType",
            if capacity_type == "spot" {
                "SPOT"
            } else {
                "ON_DEMAND"
            }
            .into(),
        ),
    ])
}

/// `cpu`, `memory` and `pods` of a resource list, as (milli-cores, bytes, pods).
fn resources(
    list: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
) -> Option<(i64, i64, i64)> {
    let list = list?;
    let q = |k: &str| list.get(k).and_then(|q| Quantity::parse(&q.0).ok());
    Some((
        q("cpu")?.milli(),
        q("memory")?.value(),
        q("pods").map_or(110, |p| p.value()),
    ))
}

/// The resource map written for `allocatable` / `capacity`.
fn resource_map(
    list: &BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
) -> Value {
    let mut m = Map::new();
    for k in ["cpu", "memory", "pods"] {
        if let Some(q) = list.get(k) {
            m.insert(k.into(), Value::String(q.0.clone()));
        }
    }
    Value::Object(m)
}

/// What one node becomes.
struct Entry {
    name: String,
    group: Option<String>,
    instance_type: String,
    /// Whether the type is in the catalog with this node's allocatable.
    catalog: bool,
    capacity_type: &'static str,
    zone: String,
    labels: BTreeMap<String, String>,
    taints: Vec<Value>,
    allocatable: Option<Value>,
    capacity: Option<Value>,
}

/// The nodes of a snapshot.
#[derive(Debug, Default)]
pub struct Nodes {
    /// The region most nodes are in (`topology.kubernetes.io/region`).
    pub region: Option<String>,
    /// Every zone a node is in, sorted, when one is not among the twin's defaults (the
    /// region's `a`, `b`, `c`); else empty (the defaults).
    pub zones: Vec<String>,
    /// `spec.nodes` entries.
    pub nodes: Vec<Value>,
    /// `spec.cloud.nodeGroups` entries.
    pub groups: Vec<Value>,
    /// Cordoned nodes (a `kubectl cordon` step each).
    pub cordoned: Vec<String>,
    /// What the report says about the nodes.
    pub notes: Vec<String>,
}

/// Converts the cluster's nodes. `ca_nodes` holds the Cluster Autoscaler's `--nodes` bounds
/// by group name; `autoscaled` says whether the snapshot holds a Cluster Autoscaler at all.
pub fn convert(nodes: &[Node], ca_nodes: &BTreeMap<String, (u32, u32)>, autoscaled: bool) -> Nodes {
    let mut out = Nodes::default();
    let mut regions: BTreeMap<String, usize> = BTreeMap::new();
    for n in nodes {
        if let Some(r) = n.metadata.labels.as_ref().and_then(|l| {
            label(
                l,
                "topology.kubernetes.io/region",
                "failure-domain.beta.kubernetes.io/region",
            )
        }) {
            *regions.entry(r.to_string()).or_default() += 1;
        }
    }
    // The most common region; ties go to the first name.
    out.region = regions
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(r, _)| r.clone());
    let region = out.region.clone().unwrap_or_else(|| "us-east-1".into());
    let mut zones = BTreeSet::new();
    let mut entries = Vec::new();
    let mut dropped_taints: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for n in nodes {
        let name = n.metadata.name.clone().unwrap_or_default();
        let mut labels = n.metadata.labels.clone().unwrap_or_default();
        labels.remove(kscale_kube::RUN_LABEL);
        let capacity_type = capacity_type(&labels);
        let zone = label(
            &labels,
            "topology.kubernetes.io/zone",
            "failure-domain.beta.kubernetes.io/zone",
        )
        .map(str::to_string)
        .unwrap_or_else(|| format!("{region}a"));
        zones.insert(zone.clone());
        let instance_type = label(
            &labels,
            "node.kubernetes.io/instance-type",
            "beta.kubernetes.io/instance-type",
        )
        .unwrap_or("unknown")
        .to_string();
        let status = n.status.as_ref();
        let allocatable = status.and_then(|s| s.allocatable.as_ref());
        let capacity = status.and_then(|s| s.capacity.as_ref());
        let catalog = kscale_twin::cloud::instance_type(&instance_type).is_some_and(|it| {
            resources(allocatable).is_none_or(|a| {
                a == (
                    it.allocatable_cpu_milli(),
                    it.allocatable_memory(),
                    it.max_pods as i64,
                )
            })
        });
        let node_region = label(
            &labels,
            "topology.kubernetes.io/region",
            "failure-domain.beta.kubernetes.io/region",
        )
        .unwrap_or(&region)
        .to_string();
        let derived = derived_labels(&name, &instance_type, &zone, &node_region, capacity_type);
        labels.retain(|k, v| derived.get(k.as_str()) != Some(v));
        let group = GROUP_LABELS.iter().find_map(|g| labels.get(*g).cloned());
        let mut taints = Vec::new();
        for t in n.spec.iter().flat_map(|s| s.taints.iter().flatten()) {
            if transient_taint(&t.key) {
                dropped_taints
                    .entry(t.key.clone())
                    .or_default()
                    .push(name.clone());
                continue;
            }
            let mut v = json!({"key": t.key, "effect": t.effect});
            if let Some(value) = &t.value {
                v["value"] = json!(value);
            }
            taints.push(v);
        }
        if n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
            out.cordoned.push(name.clone());
        }
        entries.push(Entry {
            name,
            group,
            instance_type,
            catalog,
            capacity_type,
            zone,
            labels,
            taints,
            allocatable: (!catalog).then(|| allocatable.map(resource_map)).flatten(),
            capacity: (!catalog).then(|| capacity.map(resource_map)).flatten(),
        });
    }
    // The twin's default zones are the region's a, b and c: nodes seen in some of those say
    // nothing against the default (an autoscaler may launch in any of them), others are
    // listed.
    let defaults: BTreeSet<String> = ["a", "b", "c"]
        .iter()
        .map(|z| format!("{region}{z}"))
        .collect();
    if !zones.is_subset(&defaults) {
        out.zones = zones.into_iter().collect();
        out.notes.push(format!(
            "zones: the cloud's zones are taken from the nodes ({}); autoscalers launch only there",
            out.zones.join(", ")
        ));
    }
    for (key, names) in dropped_taints {
        out.notes.push(format!(
            "taint {key} left out on {} node(s) ({}): the control plane sets it",
            names.len(),
            shorten(&names)
        ));
    }
    // Node groups a Cluster Autoscaler can resize.
    let mut by_group: BTreeMap<String, Vec<&Entry>> = BTreeMap::new();
    if autoscaled {
        for e in &entries {
            if let Some(g) = &e.group {
                by_group.entry(g.clone()).or_default().push(e);
            }
        }
    }
    let mut grouped = BTreeSet::new();
    for (group, members) in &by_group {
        let first = members[0];
        let uniform = members.iter().all(|e| {
            e.catalog
                && e.instance_type == first.instance_type
                && e.capacity_type == first.capacity_type
                && e.taints == first.taints
        });
        if !uniform {
            out.notes.push(format!(
                "node group {group}: its nodes differ in instance type, capacity type or taints (or the type is not in the catalog): kept as {} fixed nodes",
                members.len()
            ));
            continue;
        }
        let size = members.len() as u32;
        let (min, max) = match ca_nodes.get(group) {
            Some(&(min, max)) => (min, max),
            None => {
                out.notes.push(format!(
                    "node group {group}: the Cluster Autoscaler discovers it, and its min/max live in the cloud, not in the Kubernetes API: both set to its current size {size} (edit spec.cloud.nodeGroups)"
                ));
                (size, size)
            }
        };
        // Labels every member carries with the same value, minus the group label itself.
        let mut labels = first.labels.clone();
        labels.retain(|k, v| {
            !GROUP_LABELS.contains(&k.as_str())
                && members.iter().all(|e| e.labels.get(k) == Some(v))
        });
        let zones: BTreeSet<&str> = members.iter().map(|e| e.zone.as_str()).collect();
        let mut g = json!({
            "name": group,
            "instanceType": first.instance_type,
            "min": min,
            "max": max.max(size),
            "desired": size,
            "zones": zones.into_iter().collect::<Vec<_>>(),
        });
        if first.capacity_type == "spot" {
            g["capacityType"] = json!("spot");
        }
        if !labels.is_empty() {
            g["labels"] = json!(labels);
        }
        if !first.taints.is_empty() {
            g["taints"] = json!(first.taints);
        }
        out.groups.push(g);
        grouped.insert(group.clone());
    }
    for e in entries {
        if e.group.as_ref().is_some_and(|g| grouped.contains(g)) {
            continue;
        }
        let mut v = json!({"name": e.name, "instanceType": e.instance_type});
        if e.capacity_type == "spot" {
            v["capacityType"] = json!("spot");
        }
        v["zone"] = json!(e.zone);
        if !e.labels.is_empty() {
            v["labels"] = json!(e.labels);
        }
        if !e.taints.is_empty() {
            v["taints"] = json!(e.taints);
        }
        if !e.catalog {
            match e.allocatable {
                Some(a) => {
                    v["allocatable"] = a;
                    if let Some(c) = e.capacity {
                        v["capacity"] = c;
                    }
                    if kscale_twin::cloud::instance_type(&e.instance_type).is_none() {
                        out.notes.push(format!(
                            "node {}: instance type {:?} is not in the catalog: its allocatable and capacity are kept, its price is unknown (0; set hourlyPrice)",
                            e.name, e.instance_type
                        ));
                    }
                }
                None => out.notes.push(format!(
                    "node {}: no status.allocatable and instance type {:?} not in the catalog: the scenario will not load until allocatable is set",
                    e.name, e.instance_type
                )),
            }
        }
        out.nodes.push(v);
    }
    out
}

/// A list of names, cut after five.
pub fn shorten(names: &[String]) -> String {
    if names.len() <= 5 {
        names.join(", ")
    } else {
        format!("{}, … and {} more", names[..5].join(", "), names.len() - 5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(v: Value) -> Node {
        serde_json::from_value(v).unwrap()
    }

    fn eks(name: &str, group: Option<&str>, it: &str, zone: &str) -> Node {
        let mut labels = json!({
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "node.kubernetes.io/instance-type": it,
            "topology.kubernetes.io/zone": zone,
            "topology.kubernetes.io/region": "eu-west-1",
            "eks.amazonaws.com/capacityType": "ON_DEMAND",
            "team": "web",
        });
        if let Some(g) = group {
            labels["eks.amazonaws.com/nodegroup"] = json!(g);
        }
        let it = kscale_twin::cloud::instance_type(it);
        let alloc = it.map_or(
            json!({"cpu": "3920m", "memory": "14Gi", "pods": "58"}),
            |it| {
                json!({
                    "cpu": format!("{}m", it.allocatable_cpu_milli()),
                    "memory": it.allocatable_memory().to_string(),
                    "pods": it.max_pods.to_string(),
                })
            },
        );
        node(json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {"taints": [
                {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"},
                {"key": "dedicated", "value": "web", "effect": "NoSchedule"}
            ]},
            "status": {"allocatable": alloc, "capacity": alloc},
        }))
    }

    #[test]
    fn catalog_nodes_keep_only_what_the_twin_does_not_derive() {
        let out = convert(
            &[eks("ip-1", None, "m5.large", "eu-west-1b")],
            &BTreeMap::new(),
            false,
        );
        assert_eq!(out.region.as_deref(), Some("eu-west-1"));
        // eu-west-1b is one of the twin's default zones: no zone list.
        assert!(out.zones.is_empty());
        let elsewhere = convert(
            &[eks("ip-2", None, "m5.large", "eu-west-1-lz-1")],
            &BTreeMap::new(),
            false,
        );
        assert_eq!(elsewhere.zones, ["eu-west-1-lz-1"]);
        assert_eq!(
            out.nodes,
            [json!({
                "name": "ip-1", "instanceType": "m5.large", "zone": "eu-west-1b",
                "labels": {"team": "web"},
                "taints": [{"key": "dedicated", "value": "web", "effect": "NoSchedule"}],
            })]
        );
        assert!(
            out.notes[0].contains("node.kubernetes.io/not-ready"),
            "{:?}",
            out.notes
        );
    }

    #[test]
    fn unknown_types_keep_their_resources() {
        let out = convert(
            &[eks("g-1", None, "n2-standard-4", "z")],
            &BTreeMap::new(),
            false,
        );
        assert_eq!(out.nodes[0]["allocatable"]["cpu"], "3920m");
        assert_eq!(out.nodes[0]["capacity"]["pods"], "58");
        assert!(
            out.notes.iter().any(|n| n.contains("not in the catalog")),
            "{:?}",
            out.notes
        );
    }

    #[test]
    fn groups_become_node_groups_only_with_a_cluster_autoscaler() {
        let nodes = [
            eks("a", Some("ng"), "m5.large", "eu-west-1a"),
            eks("b", Some("ng"), "m5.large", "eu-west-1b"),
            eks("c", None, "m5.large", "eu-west-1a"),
        ];
        let fixed = convert(&nodes, &BTreeMap::new(), false);
        assert_eq!((fixed.nodes.len(), fixed.groups.len()), (3, 0));
        let bounds = BTreeMap::from([("ng".to_string(), (1, 10))]);
        let scaled = convert(&nodes, &bounds, true);
        assert_eq!(scaled.nodes.len(), 1);
        assert_eq!(
            scaled.groups,
            [json!({
                "name": "ng", "instanceType": "m5.large", "min": 1, "max": 10, "desired": 2,
                "zones": ["eu-west-1a", "eu-west-1b"], "labels": {"team": "web"},
                "taints": [{"key": "dedicated", "value": "web", "effect": "NoSchedule"}],
            })]
        );
        // Discovered groups: bounds unknown, kept at the current size and said so.
        let discovered = convert(&nodes, &BTreeMap::new(), true);
        assert_eq!(
            (
                discovered.groups[0]["min"].clone(),
                discovered.groups[0]["max"].clone()
            ),
            (json!(2), json!(2))
        );
        assert!(discovered.notes.iter().any(|n| n.contains("min/max")));
    }

    #[test]
    fn spot_and_cordoned_nodes() {
        let mut n = eks("s", None, "m5.large", "z");
        n.metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("karpenter.sh/capacity-type".into(), "spot".into());
        n.spec.as_mut().unwrap().unschedulable = Some(true);
        let out = convert(&[n], &BTreeMap::new(), false);
        assert_eq!(out.nodes[0]["capacityType"], "spot");
        // The EKS label says ON_DEMAND, which is not what the twin derives for spot: kept.
        assert_eq!(
            out.nodes[0]["labels"]["eks.amazonaws.com/capacityType"],
            "ON_DEMAND"
        );
        assert_eq!(out.cordoned, ["s"]);
    }
}
