//! Karpenter kinds, with the columns of their CRDs' `additionalPrinterColumns`.

use serde_json::Value;

use super::cells::{condition_status, int_or_string, name_of, s, str_at};
use super::table::TableDef;
use super::time::age_of;

/// NodePools (`karpenter.sh`).
pub(super) const NODE_POOL: TableDef = TableDef {
    headers: &[
        "NAME",
        "NODECLASS",
        "NODES",
        "READY",
        "AGE",
        "WEIGHT",
        "CPU",
        "MEMORY",
    ],
    wide_extra: 3,
    row: |o, now| {
        let res = |k: &str| int_or_string(s(o, &["status", "resources", k])).unwrap_or_default();
        vec![
            name_of(o),
            str_at(o, &["spec", "template", "spec", "nodeClassRef", "name"]).to_string(),
            res("nodes"),
            condition_status(o, "Ready").unwrap_or("").to_string(),
            age_of(s(o, &["metadata", "creationTimestamp"]), now),
            int_or_string(s(o, &["spec", "weight"])).unwrap_or_default(),
            res("cpu"),
            res("memory"),
        ]
    },
};

/// NodeClaims (`karpenter.sh`).
pub(super) const NODE_CLAIM: TableDef = TableDef {
    headers: &[
        "NAME",
        "TYPE",
        "CAPACITY",
        "ZONE",
        "NODE",
        "READY",
        "AGE",
        "ID",
        "NODEPOOL",
        "NODECLASS",
    ],
    wide_extra: 3,
    row: |o, now| {
        let label = |k: &str| {
            o.get("metadata")
                .and_then(|m| m.get("labels"))
                .and_then(|l| l.get(k))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        vec![
            name_of(o),
            label("node.kubernetes.io/instance-type"),
            label("karpenter.sh/capacity-type"),
            label("topology.kubernetes.io/zone"),
            str_at(o, &["status", "nodeName"]).to_string(),
            condition_status(o, "Ready").unwrap_or("").to_string(),
            age_of(s(o, &["metadata", "creationTimestamp"]), now),
            str_at(o, &["status", "providerID"]).to_string(),
            label("karpenter.sh/nodepool"),
            str_at(o, &["spec", "nodeClassRef", "name"]).to_string(),
        ]
    },
};

/// EC2NodeClasses (`karpenter.k8s.aws`).
pub(super) const EC2_NODE_CLASS: TableDef = TableDef {
    headers: &["NAME", "READY", "AGE"],
    wide_extra: 0,
    row: |o, now| {
        vec![
            name_of(o),
            condition_status(o, "Ready").unwrap_or("").to_string(),
            age_of(s(o, &["metadata", "creationTimestamp"]), now),
        ]
    },
};

/// The v1alpha5 Provisioners and AWSNodeTemplates.
pub(super) const PROVISIONER: TableDef = TableDef {
    headers: &["NAME", "AGE"],
    wide_extra: 0,
    row: |o, now| {
        vec![
            name_of(o),
            age_of(s(o, &["metadata", "creationTimestamp"]), now),
        ]
    },
};
