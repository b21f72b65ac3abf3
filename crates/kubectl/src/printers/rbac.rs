//! RBAC kinds: Roles, ClusterRoles and their bindings (`printRole`, `printRoleBinding`).

use super::cells::{arr_at, name_of, s, str_at};
use super::table::TableDef;
use super::time::age_of;

/// `kubectl get roles|clusterroles` (printRole).
pub(super) const ROLE: TableDef = TableDef {
    headers: &["NAME", "CREATED AT"],
    wide_extra: 0,
    row: |o, _| {
        vec![
            name_of(o),
            str_at(o, &["metadata", "creationTimestamp"]).to_string(),
        ]
    },
};

/// `kubectl get rolebindings|clusterrolebindings` (printRoleBinding).
pub(super) const ROLE_BINDING: TableDef = TableDef {
    headers: &["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"],
    wide_extra: 3,
    row: |o, now| {
        let subjects = arr_at(o, &["subjects"]);
        let of = |k: &str| {
            subjects
                .iter()
                .filter(|s| str_at(s, &["kind"]) == k)
                .map(|s| {
                    if k == "ServiceAccount" {
                        format!("{}/{}", str_at(s, &["namespace"]), str_at(s, &["name"]))
                    } else {
                        str_at(s, &["name"]).to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        vec![
            name_of(o),
            format!(
                "{}/{}",
                str_at(o, &["roleRef", "kind"]),
                str_at(o, &["roleRef", "name"])
            ),
            age_of(s(o, &["metadata", "creationTimestamp"]), now),
            of("User"),
            of("Group"),
            of("ServiceAccount"),
        ]
    },
};
