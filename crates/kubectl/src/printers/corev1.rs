//! Other core (`v1`) kinds: Namespaces, ConfigMaps, ServiceAccounts and Services
//! (`printNamespace`, `printConfigMap`, `printServiceAccount`, `printService`).

use serde_json::{Map, Value};

use super::cells::{arr_at, format_labels, int_at, name_of, or_none, s, str_at};
use super::table::TableDef;
use super::time::age_of;

/// `kubectl get namespaces` (printNamespace).
pub(super) const NAMESPACE: TableDef = TableDef {
    headers: &["NAME", "STATUS", "AGE"],
    wide_extra: 0,
    row: |o, now| {
        let phase = str_at(o, &["status", "phase"]);
        vec![
            name_of(o),
            if phase.is_empty() {
                "Active".to_string()
            } else {
                phase.to_string()
            },
            age_of(s(o, &["metadata", "creationTimestamp"]), now),
        ]
    },
};

/// `kubectl get configmaps` (printConfigMap).
pub(super) const CONFIG_MAP: TableDef = TableDef {
    headers: &["NAME", "DATA", "AGE"],
    wide_extra: 0,
    row: |o, now| {
        let n = |k: &str| {
            o.get(k)
                .and_then(Value::as_object)
                .map(Map::len)
                .unwrap_or(0)
        };
        vec![
            name_of(o),
            (n("data") + n("binaryData")).to_string(),
            age_of(s(o, &["metadata", "creationTimestamp"]), now),
        ]
    },
};

/// `kubectl get serviceaccounts` (printServiceAccount).
pub(super) const SERVICE_ACCOUNT: TableDef = TableDef {
    headers: &["NAME", "SECRETS", "AGE"],
    wide_extra: 0,
    row: |o, now| {
        vec![
            name_of(o),
            arr_at(o, &["secrets"]).len().to_string(),
            age_of(s(o, &["metadata", "creationTimestamp"]), now),
        ]
    },
};

/// `kubectl get services` (printService).
pub(super) const SERVICE: TableDef = TableDef {
    headers: &[
        "NAME",
        "TYPE",
        "CLUSTER-IP",
        "EXTERNAL-IP",
        "PORT(S)",
        "AGE",
        "SELECTOR",
    ],
    wide_extra: 1,
    row: service_row,
};

fn service_row(o: &Value, now: i64) -> Vec<String> {
    let ty = str_at(o, &["spec", "type"]);
    let ty = if ty.is_empty() { "ClusterIP" } else { ty };
    let cluster_ip = arr_at(o, &["spec", "clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .unwrap_or_else(|| str_at(o, &["spec", "clusterIP"]));
    let external: Vec<&str> = arr_at(o, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let external = match ty {
        "ClusterIP" | "NodePort" => {
            if external.is_empty() {
                "<none>".to_string()
            } else {
                external.join(",")
            }
        }
        "LoadBalancer" => {
            let mut all: Vec<String> = arr_at(o, &["status", "loadBalancer", "ingress"])
                .iter()
                .map(|i| {
                    let ip = str_at(i, &["ip"]);
                    if ip.is_empty() {
                        str_at(i, &["hostname"]).to_string()
                    } else {
                        ip.to_string()
                    }
                })
                .filter(|x| !x.is_empty())
                .collect();
            all.extend(external.iter().map(|s| s.to_string()));
            if all.is_empty() {
                "<pending>".to_string()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => str_at(o, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    };
    let ports: Vec<String> = arr_at(o, &["spec", "ports"])
        .iter()
        .map(|p| {
            let proto = str_at(p, &["protocol"]);
            let proto = if proto.is_empty() { "TCP" } else { proto };
            let port = int_at(p, &["port"]);
            match int_at(p, &["nodePort"]) {
                np if np > 0 => format!("{port}:{np}/{proto}"),
                _ => format!("{port}/{proto}"),
            }
        })
        .collect();
    vec![
        name_of(o),
        ty.to_string(),
        or_none(cluster_ip),
        external,
        if ports.is_empty() {
            "<none>".to_string()
        } else {
            ports.join(",")
        },
        age_of(s(o, &["metadata", "creationTimestamp"]), now),
        format_labels(s(o, &["spec", "selector"])),
    ]
}
