//! kubectl's output: default and wide tables, `-o name`, `-o json`, `-o yaml`, ages, and a
//! brief `describe`.
//!
//! Inputs are the JSON objects of one kind as the API server returns them. The current time
//! is passed as **milliseconds since the Unix epoch** ([`PrintOptions::now_ms`]), the unit of
//! the twin's virtual clock; object timestamps are RFC 3339 strings (`creationTimestamp`).
//!
//! Table layout follows kubectl's tabwriter (k8s.io/cli-runtime/pkg/printers: minimum cell
//! width 6, padding 3, left aligned, last column unpadded). Columns and cell contents follow
//! `k8s.io/kubernetes/pkg/printers/internalversion/printers.go`; Karpenter kinds use their
//! CRDs' `additionalPrinterColumns`. Rows are printed in the order given (the API server
//! sorts lists by namespace, then name).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::args::OutputFormat;
use crate::kinds::Kind;

/// How to print a `get` result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintOptions {
    /// `-o`; `None` is the default table.
    pub format: Option<OutputFormat>,
    /// The current (virtual) time, milliseconds since the Unix epoch; ages are measured to it.
    pub now_ms: i64,
    /// `-A`: adds the leading NAMESPACE column and changes the empty-result message.
    pub all_namespaces: bool,
    /// The namespace that was listed, for `No resources found in NS namespace.`.
    pub namespace: String,
    /// The command named exactly one object (`get pod web-0`): `-o json|yaml` then prints
    /// the bare object rather than a `List`.
    pub single_object: bool,
    /// Prefix names with `kind.group/` as kubectl does when a `get` spans several kinds.
    pub with_kind: bool,
}

impl Default for PrintOptions {
    fn default() -> Self {
        PrintOptions {
            format: None,
            now_ms: 0,
            all_namespaces: false,
            namespace: "default".to_string(),
            single_object: false,
            with_kind: false,
        }
    }
}

/// What kubectl would write: stdout and stderr kept apart (`No resources found ...` goes to
/// stderr).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Printed {
    /// Standard output, newline-terminated when non-empty.
    pub stdout: String,
    /// Standard error, newline-terminated when non-empty.
    pub stderr: String,
}

// ---------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------

/// kubectl's age format: `k8s.io/apimachinery/pkg/util/duration.HumanDuration`, for a
/// duration in milliseconds (`45s`, `2m10s`, `5m`, `3h`, `2d4h`, `400d`, `2y1d`...).
pub fn human_duration_ms(ms: i64) -> String {
    // Go truncates toward zero when converting to whole seconds.
    let seconds = ms / 1000;
    if seconds < -1 {
        return "<invalid>".to_string();
    } else if seconds < 0 {
        return "0s".to_string();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        if s == 0 {
            return format!("{minutes}m");
        }
        return format!("{minutes}m{s}s");
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 {
            return format!("{hours}h");
        }
        return format!("{hours}h{m}m");
    } else if hours < 48 {
        return format!("{hours}h");
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            return format!("{}d", hours / 24);
        }
        return format!("{}d{}h", hours / 24, h);
    } else if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            return format!("{}y", hours / 24 / 365);
        }
        return format!("{}y{}d", hours / 24 / 365, dy);
    }
    format!("{}y", hours / 24 / 365)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses an RFC 3339 timestamp (`2024-05-01T12:00:00Z`, fractional seconds and `±hh:mm`
/// offsets accepted) to milliseconds since the Unix epoch.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    if h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_ms = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let digits = &s[start..i.min(start + 3)];
        frac_ms = digits.parse::<i64>().ok()? * 10i64.pow(3 - digits.len() as u32);
    }
    let offset_min = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let off = oh * 60 + om;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86400 + h * 3600 + mi * 60 + se - offset_min * 60;
    Some(secs * 1000 + frac_ms)
}

/// Formats milliseconds since the Unix epoch as kubectl/the API server do for
/// `metav1.Time`: `2024-05-01T12:00:00Z` (whole seconds, UTC).
pub fn format_rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// The age of a timestamp field as kubectl prints it; `<unknown>` when absent or invalid.
fn age_of(ts: Option<&Value>, now_ms: i64) -> String {
    match ts.and_then(Value::as_str).and_then(parse_rfc3339_ms) {
        Some(t) => human_duration_ms(now_ms - t),
        None => "<unknown>".to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------

/// Lays out rows as kubectl's tabwriter does: each column but the last padded to
/// `max(widest cell + 3, 6)` characters, left aligned. Returns newline-terminated lines.
pub fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let headers: Vec<String> = headers.iter().map(|s| s.to_string()).collect();
    tabwrite(std::iter::once(&headers).chain(rows.iter()), 6, 3)
}

fn tabwrite<'a>(
    lines: impl Iterator<Item = &'a Vec<String>> + Clone,
    min: usize,
    pad: usize,
) -> String {
    let ncols = lines.clone().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; ncols];
    for line in lines.clone() {
        for (i, cell) in line.iter().enumerate() {
            if i + 1 < line.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    for line in lines {
        for (i, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < line.len() {
                let w = (widths[i] + pad).max(min);
                for _ in cell.chars().count()..w {
                    out.push(' ');
                }
            }
        }
        out.push('\n');
    }
    out
}

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    Some(cur)
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    s(v, path).and_then(Value::as_str).unwrap_or("")
}

fn int_at(v: &Value, path: &[&str]) -> i64 {
    s(v, path).and_then(Value::as_i64).unwrap_or(0)
}

fn arr_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    s(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn or_none(x: &str) -> String {
    if x.is_empty() {
        "<none>".to_string()
    } else {
        x.to_string()
    }
}

fn int_or_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// `labels.FormatLabels`: `k=v,k2=v2` sorted by key, `<none>` when empty.
fn format_labels(m: Option<&Value>) -> String {
    let Some(Value::Object(m)) = m else {
        return "<none>".to_string();
    };
    if m.is_empty() {
        return "<none>".to_string();
    }
    let mut kv: Vec<(&String, &Value)> = m.iter().collect();
    kv.sort_by(|a, b| a.0.cmp(b.0));
    kv.iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(",")
}

/// `metav1.FormatLabelSelector`: matchLabels and matchExpressions, `<none>` when empty.
fn format_selector(sel: Option<&Value>) -> String {
    let Some(sel) = sel else {
        return "<none>".to_string();
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(Value::Object(ml)) = sel.get("matchLabels") {
        let mut kv: Vec<(&String, &Value)> = ml.iter().collect();
        kv.sort_by(|a, b| a.0.cmp(b.0));
        parts.extend(
            kv.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())),
        );
    }
    for e in arr_at(sel, &["matchExpressions"]) {
        let key = str_at(e, &["key"]);
        let vals: Vec<&str> = arr_at(e, &["values"])
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let part = match str_at(e, &["operator"]) {
            "In" => format!("{key} in ({})", vals.join(",")),
            "NotIn" => format!("{key} notin ({})", vals.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            op => format!("{key} {op} ({})", vals.join(",")),
        };
        parts.push(part);
    }
    if parts.is_empty() {
        "<none>".to_string()
    } else {
        parts.join(",")
    }
}

fn containers_cells(obj: &Value) -> (String, String) {
    let cs = arr_at(obj, &["spec", "template", "spec", "containers"]);
    let names: Vec<&str> = cs.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = cs.iter().map(|c| str_at(c, &["image"])).collect();
    (names.join(","), images.join(","))
}

fn condition_status<'a>(obj: &'a Value, ty: &str) -> Option<&'a str> {
    arr_at(obj, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == ty)
        .map(|c| str_at(c, &["status"]))
}

/// A table definition: headers, the number of trailing wide-only columns, and a row maker.
struct TableDef {
    headers: &'static [&'static str],
    wide_extra: usize,
    row: fn(&Value, i64) -> Vec<String>,
}

fn table_for(kind: Kind) -> TableDef {
    match kind {
        Kind::Pod => TableDef {
            headers: &[
                "NAME",
                "READY",
                "STATUS",
                "RESTARTS",
                "AGE",
                "IP",
                "NODE",
                "NOMINATED NODE",
                "READINESS GATES",
            ],
            wide_extra: 4,
            row: pod_row,
        },
        Kind::Node => TableDef {
            headers: &[
                "NAME",
                "STATUS",
                "ROLES",
                "AGE",
                "VERSION",
                "INTERNAL-IP",
                "EXTERNAL-IP",
                "OS-IMAGE",
                "KERNEL-VERSION",
                "CONTAINER-RUNTIME",
            ],
            wide_extra: 5,
            row: node_row,
        },
        Kind::Deployment => TableDef {
            headers: &[
                "NAME",
                "READY",
                "UP-TO-DATE",
                "AVAILABLE",
                "AGE",
                "CONTAINERS",
                "IMAGES",
                "SELECTOR",
            ],
            wide_extra: 3,
            row: |o, now| {
                let (c, i) = containers_cells(o);
                vec![
                    name_of(o),
                    format!(
                        "{}/{}",
                        int_at(o, &["status", "readyReplicas"]),
                        int_at(o, &["spec", "replicas"])
                    ),
                    int_at(o, &["status", "updatedReplicas"]).to_string(),
                    int_at(o, &["status", "availableReplicas"]).to_string(),
                    age_of(s(o, &["metadata", "creationTimestamp"]), now),
                    c,
                    i,
                    format_selector(s(o, &["spec", "selector"])),
                ]
            },
        },
        Kind::ReplicaSet => TableDef {
            headers: &[
                "NAME",
                "DESIRED",
                "CURRENT",
                "READY",
                "AGE",
                "CONTAINERS",
                "IMAGES",
                "SELECTOR",
            ],
            wide_extra: 3,
            row: |o, now| {
                let (c, i) = containers_cells(o);
                vec![
                    name_of(o),
                    int_at(o, &["spec", "replicas"]).to_string(),
                    int_at(o, &["status", "replicas"]).to_string(),
                    int_at(o, &["status", "readyReplicas"]).to_string(),
                    age_of(s(o, &["metadata", "creationTimestamp"]), now),
                    c,
                    i,
                    format_selector(s(o, &["spec", "selector"])),
                ]
            },
        },
        Kind::StatefulSet => TableDef {
            headers: &["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"],
            wide_extra: 2,
            row: |o, now| {
                let (c, i) = containers_cells(o);
                vec![
                    name_of(o),
                    format!(
                        "{}/{}",
                        int_at(o, &["status", "readyReplicas"]),
                        int_at(o, &["spec", "replicas"])
                    ),
                    age_of(s(o, &["metadata", "creationTimestamp"]), now),
                    c,
                    i,
                ]
            },
        },
        Kind::DaemonSet => TableDef {
            headers: &[
                "NAME",
                "DESIRED",
                "CURRENT",
                "READY",
                "UP-TO-DATE",
                "AVAILABLE",
                "NODE SELECTOR",
                "AGE",
                "CONTAINERS",
                "IMAGES",
                "SELECTOR",
            ],
            wide_extra: 3,
            row: |o, now| {
                let (c, i) = containers_cells(o);
                vec![
                    name_of(o),
                    int_at(o, &["status", "desiredNumberScheduled"]).to_string(),
                    int_at(o, &["status", "currentNumberScheduled"]).to_string(),
                    int_at(o, &["status", "numberReady"]).to_string(),
                    int_at(o, &["status", "updatedNumberScheduled"]).to_string(),
                    int_at(o, &["status", "numberAvailable"]).to_string(),
                    format_labels(s(o, &["spec", "template", "spec", "nodeSelector"])),
                    age_of(s(o, &["metadata", "creationTimestamp"]), now),
                    c,
                    i,
                    format_selector(s(o, &["spec", "selector"])),
                ]
            },
        },
        Kind::HorizontalPodAutoscaler => TableDef {
            headers: &[
                "NAME",
                "REFERENCE",
                "TARGETS",
                "MINPODS",
                "MAXPODS",
                "REPLICAS",
                "AGE",
            ],
            wide_extra: 0,
            row: |o, now| {
                vec![
                    name_of(o),
                    format!(
                        "{}/{}",
                        str_at(o, &["spec", "scaleTargetRef", "kind"]),
                        str_at(o, &["spec", "scaleTargetRef", "name"])
                    ),
                    format_hpa_targets(o),
                    s(o, &["spec", "minReplicas"])
                        .and_then(Value::as_i64)
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| "<unset>".to_string()),
                    int_at(o, &["spec", "maxReplicas"]).to_string(),
                    int_at(o, &["status", "currentReplicas"]).to_string(),
                    age_of(s(o, &["metadata", "creationTimestamp"]), now),
                ]
            },
        },
        Kind::Namespace => TableDef {
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
        },
        Kind::PriorityClass => TableDef {
            headers: &["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"],
            wide_extra: 0,
            row: |o, now| {
                vec![
                    name_of(o),
                    int_at(o, &["value"]).to_string(),
                    s(o, &["globalDefault"])
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                        .to_string(),
                    age_of(s(o, &["metadata", "creationTimestamp"]), now),
                    str_at(o, &["preemptionPolicy"]).to_string(),
                ]
            },
        },
        Kind::ConfigMap => TableDef {
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
        },
        Kind::ServiceAccount => TableDef {
            headers: &["NAME", "SECRETS", "AGE"],
            wide_extra: 0,
            row: |o, now| {
                vec![
                    name_of(o),
                    arr_at(o, &["secrets"]).len().to_string(),
                    age_of(s(o, &["metadata", "creationTimestamp"]), now),
                ]
            },
        },
        Kind::Service => TableDef {
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
        },
        Kind::PodDisruptionBudget => TableDef {
            headers: &[
                "NAME",
                "MIN AVAILABLE",
                "MAX UNAVAILABLE",
                "ALLOWED DISRUPTIONS",
                "AGE",
            ],
            wide_extra: 0,
            row: |o, now| {
                vec![
                    name_of(o),
                    int_or_string(s(o, &["spec", "minAvailable"])).unwrap_or_else(|| "N/A".into()),
                    int_or_string(s(o, &["spec", "maxUnavailable"]))
                        .unwrap_or_else(|| "N/A".into()),
                    int_at(o, &["status", "disruptionsAllowed"]).to_string(),
                    age_of(s(o, &["metadata", "creationTimestamp"]), now),
                ]
            },
        },
        Kind::Event => TableDef {
            headers: &[
                "LAST SEEN",
                "TYPE",
                "REASON",
                "OBJECT",
                "SUBOBJECT",
                "SOURCE",
                "MESSAGE",
                "FIRST SEEN",
                "COUNT",
                "NAME",
            ],
            wide_extra: 3,
            row: event_row,
        },
        Kind::Role | Kind::ClusterRole => TableDef {
            headers: &["NAME", "CREATED AT"],
            wide_extra: 0,
            row: |o, _| {
                vec![
                    name_of(o),
                    str_at(o, &["metadata", "creationTimestamp"]).to_string(),
                ]
            },
        },
        Kind::RoleBinding | Kind::ClusterRoleBinding => TableDef {
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
        },
        Kind::NodePool => TableDef {
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
                let res =
                    |k: &str| int_or_string(s(o, &["status", "resources", k])).unwrap_or_default();
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
        },
        Kind::NodeClaim => TableDef {
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
        },
        Kind::EC2NodeClass => TableDef {
            headers: &["NAME", "READY", "AGE"],
            wide_extra: 0,
            row: |o, now| {
                vec![
                    name_of(o),
                    condition_status(o, "Ready").unwrap_or("").to_string(),
                    age_of(s(o, &["metadata", "creationTimestamp"]), now),
                ]
            },
        },
        Kind::Provisioner | Kind::AWSNodeTemplate => TableDef {
            headers: &["NAME", "AGE"],
            wide_extra: 0,
            row: |o, now| {
                vec![
                    name_of(o),
                    age_of(s(o, &["metadata", "creationTimestamp"]), now),
                ]
            },
        },
    }
}

fn name_of(o: &Value) -> String {
    str_at(o, &["metadata", "name"]).to_string()
}

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

fn event_row(o: &Value, now: i64) -> Vec<String> {
    let first = match s(o, &["firstTimestamp"]).and_then(Value::as_str) {
        Some(t) if !t.is_empty() => age_of(Some(&Value::String(t.into())), now),
        _ => age_of(s(o, &["eventTime"]), now),
    };
    let mut last = match s(o, &["lastTimestamp"]).and_then(Value::as_str) {
        Some(t) if !t.is_empty() => age_of(Some(&Value::String(t.into())), now),
        _ => first.clone(),
    };
    let mut count = int_at(o, &["count"]);
    if let Some(series) = o.get("series").filter(|v| v.is_object()) {
        last = age_of(series.get("lastObservedTime"), now);
        count = int_at(series, &["count"]);
    } else if count == 0 {
        count = 1;
    }
    let kind = str_at(o, &["involvedObject", "kind"]).to_ascii_lowercase();
    let name = str_at(o, &["involvedObject", "name"]);
    let target = if name.is_empty() {
        kind
    } else {
        format!("{kind}/{name}")
    };
    let component = {
        let c = str_at(o, &["source", "component"]);
        if c.is_empty() {
            str_at(o, &["reportingController"])
        } else {
            c
        }
    };
    let host = {
        let h = str_at(o, &["source", "host"]);
        if h.is_empty() {
            str_at(o, &["reportingInstance"])
        } else {
            h
        }
    };
    let source = if host.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {host}")
    };
    // Narrow layout: LAST SEEN TYPE REASON OBJECT MESSAGE; wide inserts SUBOBJECT and SOURCE
    // after OBJECT and appends FIRST SEEN, COUNT, NAME. `event_columns` reorders.
    vec![
        last,
        str_at(o, &["type"]).to_string(),
        str_at(o, &["reason"]).to_string(),
        target,
        str_at(o, &["involvedObject", "fieldPath"]).to_string(),
        source,
        str_at(o, &["message"]).trim().to_string(),
        first,
        count.to_string(),
        name_of(o),
    ]
}

/// kubectl's TARGETS column of an HPA (formatHPAMetrics): up to two metrics, then
/// `+ N more...`; resource metrics print as `cpu: 45%/50%` or `cpu: <unknown>/50%`.
fn format_hpa_targets(o: &Value) -> String {
    let specs = arr_at(o, &["spec", "metrics"]);
    if specs.is_empty() {
        return "<none>".to_string();
    }
    let statuses = arr_at(o, &["status", "currentMetrics"]);
    let q = |v: Option<&Value>| int_or_string(v).unwrap_or_default();
    let mut list: Vec<String> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let st = statuses.get(i);
        let item = match str_at(spec, &["type"]) {
            t @ ("Resource" | "ContainerResource") => {
                let key = if t == "Resource" {
                    "resource"
                } else {
                    "containerResource"
                };
                let rs = &spec[key];
                let name = str_at(rs, &["name"]);
                let cur = st.and_then(|x| x.get(key)).filter(|x| x.is_object());
                if let Some(avg) = s(rs, &["target", "averageValue"]) {
                    let c = cur
                        .and_then(|c| s(c, &["current", "averageValue"]))
                        .map(|v| q(Some(v)))
                        .unwrap_or_else(|| "<unknown>".into());
                    format!("{name}: {c}/{}", q(Some(avg)))
                } else {
                    let c = cur
                        .and_then(|c| s(c, &["current", "averageUtilization"]))
                        .and_then(Value::as_i64)
                        .map(|u| format!("{u}%"))
                        .unwrap_or_else(|| "<unknown>".into());
                    let t = s(rs, &["target", "averageUtilization"])
                        .and_then(Value::as_i64)
                        .map(|u| format!("{u}%"))
                        .unwrap_or_else(|| "<auto>".into());
                    format!("{name}: {c}/{t}")
                }
            }
            "Pods" => {
                let c = st
                    .and_then(|x| x.get("pods"))
                    .and_then(|p| s(p, &["current", "averageValue"]))
                    .map(|v| q(Some(v)))
                    .unwrap_or_else(|| "<unknown>".into());
                format!("{c}/{}", q(s(spec, &["pods", "target", "averageValue"])))
            }
            t @ ("Object" | "External") => {
                let key = if t == "Object" { "object" } else { "external" };
                let cur = st.and_then(|x| x.get(key)).filter(|x| x.is_object());
                if let Some(avg) = s(spec, &[key, "target", "averageValue"]) {
                    let c = cur
                        .and_then(|c| s(c, &["current", "averageValue"]))
                        .map(|v| q(Some(v)))
                        .unwrap_or_else(|| "<unknown>".into());
                    format!("{c}/{} (avg)", q(Some(avg)))
                } else {
                    let c = cur
                        .and_then(|c| s(c, &["current", "value"]))
                        .map(|v| q(Some(v)))
                        .unwrap_or_else(|| "<unknown>".into());
                    format!("{c}/{}", q(s(spec, &[key, "target", "value"])))
                }
            }
            _ => "<unknown type>".to_string(),
        };
        list.push(item);
    }
    let count = list.len();
    if count > 2 {
        list.truncate(2);
        return format!("{} + {} more...", list.join(", "), count - 2);
    }
    list.join(", ")
}

fn is_restartable_init(pod: &Value, name: &str) -> bool {
    arr_at(pod, &["spec", "initContainers"])
        .iter()
        .any(|c| str_at(c, &["name"]) == name && str_at(c, &["restartPolicy"]) == "Always")
}

fn terminated_finished_ms(cs: &Value) -> Option<i64> {
    s(cs, &["lastState", "terminated", "finishedAt"])
        .and_then(Value::as_str)
        .and_then(parse_rfc3339_ms)
}

/// kubectl's pod row computation (printPod): READY, STATUS, RESTARTS.
fn pod_summary(pod: &Value, now: i64) -> (String, String, String) {
    let phase = str_at(pod, &["status", "phase"]);
    let mut reason = phase.to_string();
    let status_reason = str_at(pod, &["status", "reason"]);
    if !status_reason.is_empty() {
        reason = status_reason.to_string();
    }
    for c in arr_at(pod, &["status", "conditions"]) {
        if str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated" {
            reason = "SchedulingGated".to_string();
        }
    }
    let init_specs = arr_at(pod, &["spec", "initContainers"]);
    // Elastic Pods: a container with `replica: N` counts N times (`replica` 0 not at all).
    let mut total: usize = arr_at(pod, &["spec", "containers"])
        .iter()
        .map(|c| c.get("replica").and_then(Value::as_u64).unwrap_or(1) as usize)
        .sum();
    total += init_specs
        .iter()
        .filter(|c| str_at(c, &["restartPolicy"]) == "Always")
        .count();
    let mut ready = 0usize;
    let mut restarts = 0i64;
    let mut sidecar_restarts = 0i64;
    let mut last_restart: Option<i64> = None;
    let mut last_sidecar_restart: Option<i64> = None;

    let mut initializing = false;
    for (i, cs) in arr_at(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        let rc = int_at(cs, &["restartCount"]);
        restarts += rc;
        let fin = terminated_finished_ms(cs);
        if fin.is_some() {
            last_restart = last_restart.max(fin);
        }
        let sidecar = is_restartable_init(pod, str_at(cs, &["name"]));
        if sidecar {
            sidecar_restarts += rc;
            if fin.is_some() {
                last_sidecar_restart = last_sidecar_restart.max(fin);
            }
        }
        let term = s(cs, &["state", "terminated"]).filter(|t| t.is_object());
        let waiting_reason = str_at(cs, &["state", "waiting", "reason"]);
        if let Some(t) = term
            && int_at(t, &["exitCode"]) == 0
        {
            continue;
        }
        if sidecar && s(cs, &["started"]).and_then(Value::as_bool) == Some(true) {
            if s(cs, &["ready"]).and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = term {
            let r = str_at(t, &["reason"]);
            reason = if r.is_empty() {
                let sig = int_at(t, &["signal"]);
                if sig != 0 {
                    format!("Init:Signal:{sig}")
                } else {
                    format!("Init:ExitCode:{}", int_at(t, &["exitCode"]))
                }
            } else {
                format!("Init:{r}")
            };
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    let initialized = condition_status(pod, "Initialized") == Some("True");
    if !initializing || initialized {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for cs in arr_at(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts += int_at(cs, &["restartCount"]);
            let fin = terminated_finished_ms(cs);
            if fin.is_some() {
                last_restart = last_restart.max(fin);
            }
            let waiting = str_at(cs, &["state", "waiting", "reason"]);
            let term = s(cs, &["state", "terminated"]).filter(|t| t.is_object());
            let running = s(cs, &["state", "running"]).is_some_and(Value::is_object);
            if !waiting.is_empty() {
                reason = waiting.to_string();
            } else if let Some(t) = term {
                let r = str_at(t, &["reason"]);
                reason = if !r.is_empty() {
                    r.to_string()
                } else if int_at(t, &["signal"]) != 0 {
                    format!("Signal:{}", int_at(t, &["signal"]))
                } else {
                    format!("ExitCode:{}", int_at(t, &["exitCode"]))
                };
            } else if s(cs, &["ready"]).and_then(Value::as_bool) == Some(true) && running {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_status(pod, "Ready") == Some("True") {
                "Running".to_string()
            } else {
                "NotReady".to_string()
            };
        }
    }

    let deleting = s(pod, &["metadata", "deletionTimestamp"])
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    if deleting && status_reason == "NodeLost" {
        reason = "Unknown".to_string();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_string();
    }

    let restarts_str = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", human_duration_ms(now - t)),
        _ => restarts.to_string(),
    };
    (format!("{ready}/{total}"), reason, restarts_str)
}

/// The STATUS column kubectl shows for a pod (`Running`, `Pending`, `ContainerCreating`,
/// `CrashLoopBackOff`, `OOMKilled`, `Completed`, `Evicted`, `Terminating`, `Init:0/1`...).
pub fn pod_status(pod: &Value) -> String {
    pod_summary(pod, 0).1
}

fn pod_row(pod: &Value, now: i64) -> Vec<String> {
    let (ready, reason, restarts) = pod_summary(pod, now);
    let ip = arr_at(pod, &["status", "podIPs"])
        .first()
        .map(|p| str_at(p, &["ip"]))
        .filter(|x| !x.is_empty())
        .unwrap_or_else(|| str_at(pod, &["status", "podIP"]));
    let gates = arr_at(pod, &["spec", "readinessGates"]);
    let gates_str = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_count = gates
            .iter()
            .filter(|g| condition_status(pod, str_at(g, &["conditionType"])) == Some("True"))
            .count();
        format!("{true_count}/{}", gates.len())
    };
    vec![
        name_of(pod),
        ready,
        reason,
        restarts,
        age_of(s(pod, &["metadata", "creationTimestamp"]), now),
        or_none(ip),
        or_none(str_at(pod, &["spec", "nodeName"])),
        or_none(str_at(pod, &["status", "nominatedNodeName"])),
        gates_str,
    ]
}

fn node_roles(node: &Value) -> String {
    let mut roles = BTreeSet::new();
    if let Some(Value::Object(labels)) = s(node, &["metadata", "labels"]) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role.to_string());
                }
            } else if k == "kubernetes.io/role"
                && let Some(v) = v.as_str().filter(|v| !v.is_empty())
            {
                roles.insert(v.to_string());
            }
        }
    }
    if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    }
}

fn node_status(node: &Value) -> String {
    let mut status = Vec::new();
    // Like kubectl, the last Ready condition wins if several are present.
    let ready = arr_at(node, &["status", "conditions"])
        .iter()
        .rev()
        .find(|c| str_at(c, &["type"]) == "Ready");
    match ready {
        Some(c) if str_at(c, &["status"]) == "True" => status.push("Ready"),
        Some(_) => status.push("NotReady"),
        None => status.push("Unknown"),
    }
    if s(node, &["spec", "unschedulable"]).and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    status.join(",")
}

fn node_row(node: &Value, now: i64) -> Vec<String> {
    let addr = |ty: &str| {
        arr_at(node, &["status", "addresses"])
            .iter()
            .find(|a| str_at(a, &["type"]) == ty)
            .map(|a| str_at(a, &["address"]).to_string())
            .unwrap_or_else(|| "<none>".to_string())
    };
    let info = |k: &str| {
        let v = str_at(node, &["status", "nodeInfo", k]);
        if v.is_empty() {
            "<unknown>".to_string()
        } else {
            v.to_string()
        }
    };
    vec![
        name_of(node),
        node_status(node),
        node_roles(node),
        age_of(s(node, &["metadata", "creationTimestamp"]), now),
        str_at(node, &["status", "nodeInfo", "kubeletVersion"]).to_string(),
        addr("InternalIP"),
        addr("ExternalIP"),
        info("osImage"),
        info("kernelVersion"),
        info("containerRuntimeVersion"),
    ]
}

/// Renders the table kubectl prints for `get` of one kind (default or `-o wide`), without
/// the empty-result handling of [`print_objects`].
pub fn render_kind_table(kind: Kind, objects: &[Value], opts: &PrintOptions) -> String {
    let def = table_for(kind);
    let wide = opts.format == Some(OutputFormat::Wide);
    let narrow_len = def.headers.len() - def.wide_extra;
    // Events interleave wide columns; every other kind appends them.
    let pick: Vec<usize> = if kind == Kind::Event {
        if wide {
            (0..10).collect()
        } else {
            vec![0, 1, 2, 3, 6]
        }
    } else if wide {
        (0..def.headers.len()).collect()
    } else {
        (0..narrow_len).collect()
    };
    let mut headers: Vec<&str> = pick.iter().map(|i| def.headers[*i]).collect();
    if opts.all_namespaces && kind.info().namespaced {
        headers.insert(0, "NAMESPACE");
    }
    let prefix = if opts.with_kind {
        format!("{}/", kind.info().qualified_singular())
    } else {
        String::new()
    };
    let name_col = if kind == Kind::Event { 9 } else { 0 };
    let rows: Vec<Vec<String>> = objects
        .iter()
        .map(|o| {
            let mut full = (def.row)(o, opts.now_ms);
            if !prefix.is_empty() {
                full[name_col] = format!("{prefix}{}", full[name_col]);
            }
            let mut row: Vec<String> = pick.iter().map(|i| full[*i].clone()).collect();
            if opts.all_namespaces && kind.info().namespaced {
                row.insert(0, str_at(o, &["metadata", "namespace"]).to_string());
            }
            row
        })
        .collect();
    render_table(&headers, &rows)
}

/// Prints the result of `kubectl get` for objects of one kind, in the format of
/// `opts.format`. Empty results give kubectl's `No resources found...` on stderr for tables,
/// nothing for `-o name`, and an empty `List` for `-o json|yaml`.
pub fn print_objects(kind: Kind, objects: &[Value], opts: &PrintOptions) -> Printed {
    let mut out = Printed::default();
    match opts.format {
        Some(OutputFormat::Name) => {
            for o in objects {
                let _ = writeln!(
                    out.stdout,
                    "{}/{}",
                    kind.info().qualified_singular(),
                    name_of(o)
                );
            }
        }
        Some(OutputFormat::Json) => out.stdout = to_json(&wrap_list(objects, opts.single_object)),
        Some(OutputFormat::Yaml) => out.stdout = to_yaml(&wrap_list(objects, opts.single_object)),
        None | Some(OutputFormat::Wide) => {
            if objects.is_empty() {
                out.stderr = if opts.all_namespaces || !kind.info().namespaced {
                    "No resources found\n".to_string()
                } else {
                    format!("No resources found in {} namespace.\n", opts.namespace)
                };
            } else {
                out.stdout = render_kind_table(kind, objects, opts);
            }
        }
    }
    out
}

/// kubectl's `-o json|yaml` wrapping: one named object prints bare, anything else as a `List`.
fn wrap_list(objects: &[Value], single: bool) -> Value {
    if single && objects.len() == 1 {
        return objects[0].clone();
    }
    let mut m = Map::new();
    m.insert("apiVersion".into(), Value::String("v1".into()));
    m.insert("items".into(), Value::Array(objects.to_vec()));
    m.insert("kind".into(), Value::String("List".into()));
    let mut md = Map::new();
    md.insert("resourceVersion".into(), Value::String(String::new()));
    m.insert("metadata".into(), Value::Object(md));
    Value::Object(m)
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), sorted(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// `-o json` as kubectl prints it: keys sorted, 4-space indent, Go's HTML-safe escaping of
/// `<`, `>`, `&`, newline-terminated.
pub fn to_json(v: &Value) -> String {
    use serde::Serialize;
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    sorted(v)
        .serialize(&mut ser)
        .expect("serializing a Value cannot fail");
    let text = String::from_utf8(buf).expect("serde_json writes UTF-8");
    // These characters only occur inside strings in JSON text, so a global replace is safe.
    let mut out = text
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    out.push('\n');
    out
}

// ---------------------------------------------------------------------------------------
// YAML (block style, as sigs.k8s.io/yaml + go-yaml v2 print it)
// ---------------------------------------------------------------------------------------

/// `-o yaml` as kubectl prints it: keys sorted, block style, sequences not indented under
/// their key, strings quoted only when go-yaml would (`""`, `"true"`, `"123"`, timestamps
/// double-quoted; indicator-led strings single-quoted), multi-line strings as `|` blocks.
/// Unlike go-yaml, long strings are not folded at 80 columns.
pub fn to_yaml(v: &Value) -> String {
    let v = sorted(v);
    let mut out = String::new();
    let lines = match &v {
        Value::Object(m) if !m.is_empty() => yaml_block(&v),
        Value::Array(a) if !a.is_empty() => yaml_block(&v),
        other => vec![yaml_inline(other)],
    };
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::String(s) => s.contains('\n'),
        _ => false,
    }
}

/// Lines of a block value at column 0. For a multi-line string the first line is the
/// `|`/`|-` header and the rest is the content (unindented).
fn yaml_block(v: &Value) -> Vec<String> {
    match v {
        Value::Object(m) => {
            let mut lines = Vec::new();
            for (k, val) in m {
                let key = yaml_string(k);
                if let Value::String(s) = val
                    && s.contains('\n')
                {
                    let mut sub = literal_block(s);
                    lines.push(format!("{key}: {}", sub.remove(0)));
                    lines.extend(sub.into_iter().map(|l| indent(&l, 2)));
                } else if is_block(val) {
                    lines.push(format!("{key}:"));
                    let sub = yaml_block(val);
                    let extra = if val.is_array() { 0 } else { 2 };
                    lines.extend(sub.into_iter().map(|l| indent(&l, extra)));
                } else {
                    lines.push(format!("{key}: {}", yaml_inline(val)));
                }
            }
            lines
        }
        Value::Array(a) => {
            let mut lines = Vec::new();
            for item in a {
                let sub = if is_block(item) {
                    match item {
                        Value::String(s) => literal_block(s),
                        _ => yaml_block(item),
                    }
                } else {
                    vec![yaml_inline(item)]
                };
                for (i, l) in sub.into_iter().enumerate() {
                    if i == 0 {
                        lines.push(format!("- {l}"));
                    } else {
                        lines.push(indent(&l, 2));
                    }
                }
            }
            lines
        }
        Value::String(s) if s.contains('\n') => literal_block(s),
        other => vec![yaml_inline(other)],
    }
}

fn indent(l: &str, n: usize) -> String {
    if l.is_empty() {
        String::new()
    } else {
        format!("{}{l}", " ".repeat(n))
    }
}

fn literal_block(s: &str) -> Vec<String> {
    let (header, body) = match s.strip_suffix('\n') {
        Some(b) if !b.ends_with('\n') => ("|", b),
        Some(_) => ("|+", s.strip_suffix('\n').unwrap_or(s)),
        None => ("|-", s),
    };
    let mut out = vec![header.to_string()];
    out.extend(body.split('\n').map(str::to_string));
    out
}

fn yaml_inline(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => yaml_string(s),
        Value::Array(_) => "[]".to_string(),
        Value::Object(_) => "{}".to_string(),
    }
}

/// Whether go-yaml would read this plain scalar as something other than a string.
fn resolves_to_non_string(s: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "", "~", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE",
        "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL",
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
        ".NaN", ".NAN", "<<",
    ];
    if SPECIAL.contains(&s) {
        return true;
    }
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let clean: String = body.chars().filter(|c| *c != '_').collect();
    let lower = clean.to_ascii_lowercase();
    let is_int = |t: &str, radix: u32| !t.is_empty() && t.chars().all(|c| c.is_digit(radix));
    if is_int(&lower, 10)
        || lower.strip_prefix("0x").is_some_and(|t| is_int(t, 16))
        || lower.strip_prefix("0o").is_some_and(|t| is_int(t, 8))
        || lower.strip_prefix("0b").is_some_and(|t| is_int(t, 2))
    {
        return true;
    }
    // Floats: digits with one dot and/or an exponent.
    let (mant, exp) = match lower.split_once('e') {
        Some((m, e)) => (m, Some(e)),
        None => (lower.as_str(), None),
    };
    let mant_ok = {
        let (a, b) = mant.split_once('.').unwrap_or((mant, ""));
        (mant.contains('.') || exp.is_some())
            && a.chars().all(|c| c.is_ascii_digit())
            && b.chars().all(|c| c.is_ascii_digit())
            && !(a.is_empty() && b.is_empty())
    };
    let exp_ok = exp.is_none_or(|e| is_int(e.strip_prefix(['-', '+']).unwrap_or(e), 10));
    if mant_ok && exp_ok {
        return true;
    }
    // Timestamps (YYYY-M-D, optionally followed by a time).
    let b = s.as_bytes();
    if b.len() >= 8 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' {
        let date_end = s.find(['T', 't', ' ']).unwrap_or(s.len());
        let parts: Vec<&str> = s[..date_end].split('-').collect();
        if parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
            && parts[1].len() <= 2
            && parts[2].len() <= 2
        {
            return true;
        }
    }
    false
}

fn plain_allowed(s: &str) -> bool {
    if s.is_empty()
        || s.starts_with([' ', '\t'])
        || s.ends_with([' ', '\t'])
        || s.starts_with("---")
        || s.starts_with("...")
    {
        return false;
    }
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_ws = i + 1 >= chars.len() || chars[i + 1] == ' ' || chars[i + 1] == '\t';
        let preceded_by_ws = i > 0 && (chars[i - 1] == ' ' || chars[i - 1] == '\t');
        if (c as u32) < 0x20 || c as u32 == 0x7f {
            return false;
        }
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => return false,
                '?' | ':' | '-' if followed_by_ws => return false,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_ws => return false,
                '#' if preceded_by_ws => return false,
                _ => {}
            }
        }
    }
    true
}

fn yaml_string(s: &str) -> String {
    let needs_double = resolves_to_non_string(s)
        || s.chars()
            .any(|c| ((c as u32) < 0x20 && c != '\n') || c as u32 == 0x7f);
    if needs_double {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    let _ = write!(out, "\\x{:02X}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
        return out;
    }
    if plain_allowed(s) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

// ---------------------------------------------------------------------------------------
// describe
// ---------------------------------------------------------------------------------------

/// One line of the Events section of `kubectl describe`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeEvent {
    /// `Normal` or `Warning`.
    pub event_type: String,
    /// E.g. `Scheduled`.
    pub reason: String,
    /// Already formatted age, e.g. `10s` or `2m (x3 over 5m)`.
    pub age: String,
    /// The reporting component, e.g. `default-scheduler`.
    pub from: String,
    /// The message.
    pub message: String,
}

impl From<(&str, &str, &str, &str, &str)> for DescribeEvent {
    fn from(t: (&str, &str, &str, &str, &str)) -> Self {
        DescribeEvent {
            event_type: t.0.into(),
            reason: t.1.into(),
            age: t.2.into(),
            from: t.3.into(),
            message: t.4.into(),
        }
    }
}

/// `key=value` lines (labels) or `key: value` lines (annotations, as describe.go's
/// `printAnnotationsMultiline`), sorted by key.
fn map_lines(m: Option<&Value>, sep: &str) -> Vec<String> {
    match m {
        Some(Value::Object(m)) if !m.is_empty() => {
            let mut kv: Vec<(&String, &Value)> = m.iter().collect();
            kv.sort_by(|a, b| a.0.cmp(b.0));
            kv.iter()
                .map(|(k, v)| match v {
                    Value::String(s) => format!("{k}{sep}{s}"),
                    other => format!("{k}{sep}{other}"),
                })
                .collect()
        }
        _ => vec!["<none>".to_string()],
    }
}

/// A brief `kubectl describe`: Name, Namespace, Labels, Annotations, kind-specific fields
/// (pods: Priority, Node, Status, IP; nodes: Roles, Taints, Unschedulable; deployments and
/// other workloads: Selector, Replicas) and then the events the caller passes in.
pub fn describe(kind: Kind, obj: &Value, events: &[DescribeEvent]) -> String {
    // (label, value lines)
    let mut fields: Vec<(&str, Vec<String>)> = vec![("Name:", vec![name_of(obj)])];
    if kind.info().namespaced {
        fields.push((
            "Namespace:",
            vec![str_at(obj, &["metadata", "namespace"]).to_string()],
        ));
    }
    match kind {
        Kind::Pod => {
            fields.push((
                "Priority:",
                vec![int_at(obj, &["spec", "priority"]).to_string()],
            ));
            let pc = str_at(obj, &["spec", "priorityClassName"]);
            if !pc.is_empty() {
                fields.push(("Priority Class Name:", vec![pc.to_string()]));
            }
            let node = str_at(obj, &["spec", "nodeName"]);
            let host_ip = str_at(obj, &["status", "hostIP"]);
            let node_str = match (node.is_empty(), host_ip.is_empty()) {
                (true, _) => "<none>".to_string(),
                (false, true) => node.to_string(),
                (false, false) => format!("{node}/{host_ip}"),
            };
            fields.push(("Node:", vec![node_str]));
        }
        Kind::Node => fields.push(("Roles:", vec![node_roles(obj)])),
        _ => {}
    }
    fields.push(("Labels:", map_lines(s(obj, &["metadata", "labels"]), "=")));
    fields.push((
        "Annotations:",
        map_lines(s(obj, &["metadata", "annotations"]), ": "),
    ));
    match kind {
        Kind::Pod => {
            let deleting = s(obj, &["metadata", "deletionTimestamp"])
                .and_then(Value::as_str)
                .is_some();
            let phase = str_at(obj, &["status", "phase"]);
            fields.push((
                "Status:",
                vec![if deleting {
                    "Terminating".to_string()
                } else {
                    phase.to_string()
                }],
            ));
            let reason = str_at(obj, &["status", "reason"]);
            if !reason.is_empty() {
                fields.push(("Reason:", vec![reason.to_string()]));
            }
            let message = str_at(obj, &["status", "message"]);
            if !message.is_empty() {
                fields.push(("Message:", vec![message.to_string()]));
            }
            let ip = str_at(obj, &["status", "podIP"]);
            fields.push(("IP:", vec![ip.to_string()]));
            let qos = str_at(obj, &["status", "qosClass"]);
            if !qos.is_empty() {
                fields.push(("QoS Class:", vec![qos.to_string()]));
            }
            // Elastic Pods (kscale extension): the replication phase and running instances.
            let phase = str_at(obj, &["status", "replicationPhase"]);
            if !phase.is_empty() {
                let message = str_at(obj, &["status", "replicationMessage"]);
                fields.push((
                    "Replication:",
                    vec![if message.is_empty() {
                        phase.to_string()
                    } else {
                        format!("{phase} ({message})")
                    }],
                ));
                let instances: Vec<String> = arr_at(obj, &["status", "containerStatuses"])
                    .iter()
                    .map(|c| str_at(c, &["name"]).to_string())
                    .collect();
                fields.push(("Instances:", vec![instances.join(", ")]));
            }
        }
        Kind::Node => {
            let taints: Vec<String> = arr_at(obj, &["spec", "taints"])
                .iter()
                .map(|t| {
                    let v = str_at(t, &["value"]);
                    let kv = if v.is_empty() {
                        str_at(t, &["key"]).to_string()
                    } else {
                        format!("{}={v}", str_at(t, &["key"]))
                    };
                    format!("{kv}:{}", str_at(t, &["effect"]))
                })
                .collect();
            fields.push((
                "Taints:",
                if taints.is_empty() {
                    vec!["<none>".into()]
                } else {
                    taints
                },
            ));
            let unsched = s(obj, &["spec", "unschedulable"])
                .and_then(Value::as_bool)
                .unwrap_or(false);
            fields.push(("Unschedulable:", vec![unsched.to_string()]));
        }
        Kind::Deployment | Kind::ReplicaSet | Kind::StatefulSet => {
            fields.push((
                "Selector:",
                vec![format_selector(s(obj, &["spec", "selector"]))],
            ));
            let desired = int_at(obj, &["spec", "replicas"]);
            let line = if kind == Kind::Deployment {
                format!(
                    "{desired} desired | {} updated | {} total | {} available | {} unavailable",
                    int_at(obj, &["status", "updatedReplicas"]),
                    int_at(obj, &["status", "replicas"]),
                    int_at(obj, &["status", "availableReplicas"]),
                    int_at(obj, &["status", "unavailableReplicas"])
                )
            } else {
                format!(
                    "{} current / {desired} desired",
                    int_at(obj, &["status", "replicas"])
                )
            };
            fields.push(("Replicas:", vec![line]));
        }
        _ => {}
    }
    if events.is_empty() {
        fields.push(("Events:", vec!["<none>".to_string()]));
    }
    // One tabwriter block: minwidth 0, padding 2 (kubectl's describe writer).
    let width = fields.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 2;
    let mut out = String::new();
    for (label, values) in &fields {
        for (i, v) in values.iter().enumerate() {
            let l = if i == 0 { *label } else { "" };
            let _ = writeln!(out, "{l:<width$}{v}");
        }
    }
    if !events.is_empty() {
        out.push_str("Events:\n");
        let mut rows: Vec<Vec<String>> = vec![
            ["  Type", "Reason", "Age", "From", "Message"]
                .map(String::from)
                .to_vec(),
            ["  ----", "------", "----", "----", "-------"]
                .map(String::from)
                .to_vec(),
        ];
        for e in events {
            rows.push(vec![
                format!("  {}", e.event_type),
                e.reason.clone(),
                e.age.clone(),
                e.from.clone(),
                e.message.clone(),
            ]);
        }
        out.push_str(&tabwrite(rows.iter(), 0, 2));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: &str = "2024-05-01T12:00:00Z";

    fn now() -> i64 {
        parse_rfc3339_ms(NOW).unwrap()
    }

    fn opts() -> PrintOptions {
        PrintOptions {
            now_ms: now(),
            ..PrintOptions::default()
        }
    }

    /// Cases from k8s.io/apimachinery/pkg/util/duration/duration_test.go
    /// (TestHumanDuration and TestHumanDurationBoundaries).
    #[test]
    fn human_duration_matches_upstream_cases() {
        const S: i64 = 1000;
        const M: i64 = 60 * S;
        const H: i64 = 60 * M;
        const D: i64 = 24 * H;
        let cases: &[(i64, &str)] = &[
            (S, "1s"),
            (70 * S, "70s"),
            (190 * S, "3m10s"),
            (70 * M, "70m"),
            (47 * H, "47h"),
            (49 * H, "2d1h"),
            ((8 * 24 + 2) * H, "8d"),
            (367 * D, "367d"),
            ((365 * 2 * 24 + 25) * H, "2y1d"),
            ((365 * 8 * 24 + 2) * H, "8y"),
            // boundaries
            (-2 * S, "<invalid>"),
            (-2 * S + 1, "0s"),
            (0, "0s"),
            (S - 1, "0s"),
            (2 * M - 1, "119s"),
            (2 * M, "2m"),
            (2 * M + S, "2m1s"),
            (10 * M - 1, "9m59s"),
            (10 * M, "10m"),
            (10 * M + S, "10m"),
            (3 * H - 1, "179m"),
            (3 * H, "3h"),
            (3 * H + M, "3h1m"),
            (8 * H - 1, "7h59m"),
            (8 * H, "8h"),
            (8 * H + 59 * M, "8h"),
            (2 * D - 1, "47h"),
            (2 * D, "2d"),
            (2 * D + H, "2d1h"),
            (8 * D - 1, "7d23h"),
            (8 * D, "8d"),
            (8 * D + 23 * H, "8d"),
            (2 * 365 * D - 1, "729d"),
            (2 * 365 * D, "2y"),
            (2 * 365 * D + 23 * H, "2y"),
            (2 * 365 * D + 23 * H + 59 * M, "2y"),
            (2 * 365 * D + 24 * H - 1, "2y"),
            (2 * 365 * D + 24 * H, "2y1d"),
            (3 * 365 * D, "3y"),
            (4 * 365 * D, "4y"),
            (5 * 365 * D, "5y"),
            (6 * 365 * D, "6y"),
            (7 * 365 * D, "7y"),
            (8 * 365 * D - 1, "7y364d"),
            (8 * 365 * D, "8y"),
            (8 * 365 * D + 364 * D, "8y"),
            (9 * 365 * D, "9y"),
            // the brief's examples
            (45 * S, "45s"),
            (130 * S, "2m10s"),
            (5 * M, "5m"),
        ];
        for (ms, want) in cases {
            assert_eq!(human_duration_ms(*ms), *want, "{ms}ms");
        }
    }

    #[test]
    fn rfc3339_round_trip() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2024-05-01T12:00:00Z"),
            Some(1_714_564_800_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-05-01T12:00:00.250Z"),
            Some(1_714_564_800_250)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-05-01T14:00:00+02:00"),
            Some(1_714_564_800_000)
        );
        assert_eq!(parse_rfc3339_ms("2024-05-01"), None);
        assert_eq!(parse_rfc3339_ms("garbage-but-long-enough"), None);
        assert_eq!(format_rfc3339(1_714_564_800_999), "2024-05-01T12:00:00Z");
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn table_alignment() {
        let t = render_table(
            &["NAME", "READY", "AGE"],
            &[
                vec!["a".into(), "1/1".into(), "5m".into()],
                vec!["longer-name".into(), "0/1".into(), "10s".into()],
            ],
        );
        assert_eq!(
            t,
            "NAME          READY   AGE\n\
             a             1/1     5m\n\
             longer-name   0/1     10s\n"
        );
        // Minimum width 6.
        assert_eq!(
            render_table(&["A", "B"], &[vec!["x".into(), "y".into()]]),
            "A     B\nx     y\n"
        );
    }

    fn pod(name: &str, created: &str, status: Value) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "creationTimestamp": created},
            "spec": {"containers": [{"name": "app", "image": "nginx"}], "nodeName": "node-1"},
            "status": status
        })
    }

    fn sample_pods() -> Vec<Value> {
        vec![
            pod(
                "web-1",
                "2024-05-01T11:55:00Z",
                json!({
                    "phase": "Running", "podIP": "10.0.0.5",
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0,
                        "state": {"running": {"startedAt": "2024-05-01T11:55:05Z"}}}]
                }),
            ),
            pod(
                "web-2",
                "2024-05-01T11:59:15Z",
                json!({
                    "phase": "Pending",
                    "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                        "state": {"waiting": {"reason": "ContainerCreating"}}}]
                }),
            ),
            pod(
                "crashy",
                "2024-05-01T09:00:00Z",
                json!({
                    "phase": "Running", "podIP": "10.0.0.7",
                    "containerStatuses": [{"name": "app", "ready": false, "restartCount": 4,
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2024-05-01T11:58:00Z"}}}]
                }),
            ),
            pod(
                "job-x",
                "2024-04-28T12:00:00Z",
                json!({
                    "phase": "Succeeded",
                    "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]
                }),
            ),
            pod(
                "evicted",
                "2024-05-01T10:00:00Z",
                json!({"phase": "Failed", "reason": "Evicted"}),
            ),
            {
                let mut p = pod(
                    "going",
                    "2024-05-01T11:00:00Z",
                    json!({
                        "phase": "Running",
                        "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0,
                            "state": {"running": {}}}]
                    }),
                );
                p["metadata"]["deletionTimestamp"] = json!("2024-05-01T11:59:30Z");
                p
            },
            pod(
                "oom",
                "2024-05-01T11:50:00Z",
                json!({
                    "phase": "Running",
                    "containerStatuses": [{"name": "app", "ready": false, "restartCount": 1,
                        "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]
                }),
            ),
            {
                let mut p = pod(
                    "unsched",
                    "2024-05-01T11:59:58Z",
                    json!({"phase": "Pending"}),
                );
                p["spec"].as_object_mut().unwrap().remove("nodeName");
                p
            },
        ]
    }

    #[test]
    fn pods_table() {
        let out = print_objects(Kind::Pod, &sample_pods(), &opts());
        assert_eq!(out.stderr, "");
        assert_eq!(
            out.stdout,
            "\
NAME      READY   STATUS              RESTARTS     AGE
web-1     1/1     Running             0            5m
web-2     0/1     ContainerCreating   0            45s
crashy    0/1     CrashLoopBackOff    4 (2m ago)   3h
job-x     0/1     Completed           0            3d
evicted   0/1     Evicted             0            120m
going     1/1     Terminating         0            60m
oom       0/1     OOMKilled           1            10m
unsched   0/1     Pending             0            2s
"
        );
    }

    #[test]
    fn pods_wide_and_all_namespaces() {
        let pods = &sample_pods()[..3];
        let out = print_objects(
            Kind::Pod,
            pods,
            &PrintOptions {
                format: Some(OutputFormat::Wide),
                all_namespaces: true,
                ..opts()
            },
        );
        assert_eq!(
            out.stdout,
            "\
NAMESPACE   NAME     READY   STATUS              RESTARTS     AGE   IP         NODE     NOMINATED NODE   READINESS GATES
default     web-1    1/1     Running             0            5m    10.0.0.5   node-1   <none>           <none>
default     web-2    0/1     ContainerCreating   0            45s   <none>     node-1   <none>           <none>
default     crashy   0/1     CrashLoopBackOff    4 (2m ago)   3h    10.0.0.7   node-1   <none>           <none>
"
        );
    }

    #[test]
    fn pod_status_init_and_running_completed() {
        let p = json!({
            "metadata": {"name": "p"},
            "spec": {"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "c"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "state": {"terminated": {"exitCode": 0}}},
                {"name": "i2", "state": {"running": {}}}
            ]}
        });
        assert_eq!(pod_status(&p), "Init:1/2");
        let p = json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}
        });
        assert_eq!(pod_status(&p), "SchedulingGated");
    }

    #[test]
    fn empty_results_go_to_stderr() {
        let out = print_objects(Kind::Pod, &[], &opts());
        assert_eq!(
            out,
            Printed {
                stdout: String::new(),
                stderr: "No resources found in default namespace.\n".into()
            }
        );
        let out = print_objects(Kind::Node, &[], &opts());
        assert_eq!(out.stderr, "No resources found\n");
        let out = print_objects(
            Kind::Pod,
            &[],
            &PrintOptions {
                all_namespaces: true,
                ..opts()
            },
        );
        assert_eq!(out.stderr, "No resources found\n");
        let out = print_objects(
            Kind::Pod,
            &[],
            &PrintOptions {
                format: Some(OutputFormat::Name),
                ..opts()
            },
        );
        assert_eq!(out, Printed::default());
    }

    fn node(name: &str, ready: &str, extra_labels: Value, unschedulable: bool) -> Value {
        let mut labels = json!({"kubernetes.io/hostname": name});
        for (k, v) in extra_labels.as_object().unwrap() {
            labels[k] = v.clone();
        }
        json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels, "creationTimestamp": "2024-04-29T10:00:00Z"},
            "spec": {"unschedulable": unschedulable},
            "status": {
                "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": ready}],
                "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}, {"type": "Hostname", "address": name}],
                "nodeInfo": {"kubeletVersion": "v1.30.1", "osImage": "Bottlerocket OS 1.20", "kernelVersion": "6.1.90", "containerRuntimeVersion": "containerd://1.7.20"}
            }
        })
    }

    #[test]
    fn nodes_table_and_wide() {
        let nodes = vec![
            node(
                "cp-1",
                "True",
                json!({"node-role.kubernetes.io/control-plane": ""}),
                false,
            ),
            node("worker-1", "False", json!({}), true),
        ];
        let out = print_objects(Kind::Node, &nodes, &opts());
        assert_eq!(
            out.stdout,
            "\
NAME       STATUS                        ROLES           AGE    VERSION
cp-1       Ready                         control-plane   2d2h   v1.30.1
worker-1   NotReady,SchedulingDisabled   <none>          2d2h   v1.30.1
"
        );
        let out = print_objects(
            Kind::Node,
            &nodes[..1],
            &PrintOptions {
                format: Some(OutputFormat::Wide),
                ..opts()
            },
        );
        assert_eq!(
            out.stdout,
            "\
NAME   STATUS   ROLES           AGE    VERSION   INTERNAL-IP    EXTERNAL-IP   OS-IMAGE               KERNEL-VERSION   CONTAINER-RUNTIME
cp-1   Ready    control-plane   2d2h   v1.30.1   192.168.1.10   <none>        Bottlerocket OS 1.20   6.1.90           containerd://1.7.20
"
        );
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "nginx-app", "namespace": "default", "creationTimestamp": "2024-05-01T11:57:50Z"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "nginx"}},
                "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}},
            "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
        })
    }

    #[test]
    fn deployments_replicasets_tables() {
        let out = print_objects(Kind::Deployment, &[deployment()], &opts());
        assert_eq!(
            out.stdout,
            "NAME        READY   UP-TO-DATE   AVAILABLE   AGE\nnginx-app   2/3     3            2           2m10s\n"
        );
        let out = print_objects(
            Kind::Deployment,
            &[deployment()],
            &PrintOptions {
                format: Some(OutputFormat::Wide),
                ..opts()
            },
        );
        assert_eq!(
            out.stdout,
            "NAME        READY   UP-TO-DATE   AVAILABLE   AGE     CONTAINERS   IMAGES       SELECTOR\n\
             nginx-app   2/3     3            2           2m10s   nginx        nginx:1.25   app=nginx\n"
        );
        let rs = json!({
            "metadata": {"name": "nginx-app-7c5ddbdf54", "creationTimestamp": "2024-05-01T11:57:50Z"},
            "spec": {"replicas": 3}, "status": {"replicas": 3, "readyReplicas": 2}
        });
        let out = print_objects(Kind::ReplicaSet, &[rs], &opts());
        assert_eq!(
            out.stdout,
            "NAME                   DESIRED   CURRENT   READY   AGE\nnginx-app-7c5ddbdf54   3         3         2       2m10s\n"
        );
    }

    #[test]
    fn hpa_table() {
        let mk = |name: &str, current: Option<i64>| {
            let mut h = json!({
                "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": name, "creationTimestamp": "2024-05-01T11:00:00Z"},
                "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                    "minReplicas": 2, "maxReplicas": 10,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]},
                "status": {"currentReplicas": 4}
            });
            if let Some(c) = current {
                h["status"]["currentMetrics"] = json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": c}}}]);
            }
            h
        };
        let out = print_objects(
            Kind::HorizontalPodAutoscaler,
            &[mk("web", Some(45)), mk("web-new", None)],
            &opts(),
        );
        assert_eq!(
            out.stdout,
            "\
NAME      REFERENCE        TARGETS              MINPODS   MAXPODS   REPLICAS   AGE
web       Deployment/web   cpu: 45%/50%         2         10        4          60m
web-new   Deployment/web   cpu: <unknown>/50%   2         10        4          60m
"
        );
    }

    #[test]
    fn hpa_targets_of_every_metric_type() {
        // printers.go formatHPAMetrics: Pods `cur/target`, Object/External Value `cur/target`,
        // AverageValue `cur/target (avg)`, ContainerResource `cpu: cur/target`; two shown,
        // then `+ N more...`; statuses are matched by index (`type: ""` for a failed metric).
        let h = json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "w", "creationTimestamp": "2024-05-01T11:00:00Z"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "w", "apiVersion": "apps/v1"}, "minReplicas": 1, "maxReplicas": 10,
                "metrics": [
                    {"type": "External", "external": {"metric": {"name": "queue_length"}, "target": {"type": "AverageValue", "averageValue": "20"}}},
                    {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "8"}}},
                    {"type": "Object", "object": {"describedObject": {"kind": "Deployment", "name": "w"}, "metric": {"name": "rps"}, "target": {"type": "Value", "value": "100"}}}]},
            "status": {"currentReplicas": 4, "currentMetrics": [
                {"type": "External", "external": {"metric": {"name": "queue_length"}, "current": {"averageValue": "150"}}},
                {"type": "Pods", "pods": {"metric": {"name": "rps"}, "current": {"averageValue": "7500m"}}},
                {"type": ""}]}
        });
        let out = print_objects(
            Kind::HorizontalPodAutoscaler,
            std::slice::from_ref(&h),
            &opts(),
        );
        assert!(
            out.stdout.contains("150/20 (avg), 7500m/8 + 1 more..."),
            "{}",
            out.stdout
        );
        let mut two = h;
        two["spec"]["metrics"] = json!([
            {"type": "Object", "object": {"describedObject": {"kind": "Deployment", "name": "w"}, "metric": {"name": "rps"}, "target": {"type": "Value", "value": "100"}}},
            {"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app", "target": {"type": "Utilization", "averageUtilization": 50}}}]);
        two["status"]["currentMetrics"] = json!([
            {"type": ""},
            {"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app", "current": {"averageUtilization": 10, "averageValue": "50m"}}}]);
        let out = print_objects(Kind::HorizontalPodAutoscaler, &[two], &opts());
        assert!(
            out.stdout.contains("<unknown>/100, cpu: 10%/50%"),
            "{}",
            out.stdout
        );
    }

    #[test]
    fn small_kind_tables() {
        let ns = json!({"metadata": {"name": "default", "creationTimestamp": "2024-04-01T12:00:00Z"}, "status": {"phase": "Active"}});
        assert_eq!(
            print_objects(Kind::Namespace, &[ns], &opts()).stdout,
            "NAME      STATUS   AGE\ndefault   Active   30d\n"
        );
        let pc = json!({"metadata": {"name": "high", "creationTimestamp": "2024-05-01T11:59:00Z"}, "value": 1000000, "globalDefault": false, "preemptionPolicy": "PreemptLowerPriority"});
        assert_eq!(
            print_objects(Kind::PriorityClass, &[pc], &opts()).stdout,
            "NAME   VALUE     GLOBAL-DEFAULT   AGE   PREEMPTIONPOLICY\nhigh   1000000   false            60s   PreemptLowerPriority\n"
        );
        let cm = json!({"metadata": {"name": "cfg", "creationTimestamp": "2024-05-01T11:59:00Z"}, "data": {"a": "1", "b": "2"}});
        assert_eq!(
            print_objects(Kind::ConfigMap, &[cm], &opts()).stdout,
            "NAME   DATA   AGE\ncfg    2      60s\n"
        );
        let pdb = json!({"metadata": {"name": "web-pdb", "creationTimestamp": "2024-05-01T11:59:00Z"}, "spec": {"minAvailable": 2}, "status": {"disruptionsAllowed": 1}});
        assert_eq!(
            print_objects(Kind::PodDisruptionBudget, &[pdb], &opts()).stdout,
            "NAME      MIN AVAILABLE   MAX UNAVAILABLE   ALLOWED DISRUPTIONS   AGE\nweb-pdb   2               N/A               1                     60s\n"
        );
        let ec2 = json!({"metadata": {"name": "default", "creationTimestamp": "2024-05-01T11:00:00Z"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(
            print_objects(Kind::EC2NodeClass, &[ec2], &opts()).stdout,
            "NAME      READY   AGE\ndefault   True    60m\n"
        );
    }

    #[test]
    fn events_table() {
        let ev = json!({
            "metadata": {"name": "web-1.17c", "namespace": "default"},
            "type": "Normal", "reason": "Scheduled",
            "involvedObject": {"kind": "Pod", "name": "web-1"},
            "message": "Successfully assigned default/web-1 to node-1",
            "source": {"component": "default-scheduler"},
            "firstTimestamp": "2024-05-01T11:59:50Z", "lastTimestamp": "2024-05-01T11:59:50Z", "count": 1
        });
        assert_eq!(
            print_objects(Kind::Event, &[ev], &opts()).stdout,
            "LAST SEEN   TYPE     REASON      OBJECT      MESSAGE\n10s         Normal   Scheduled   pod/web-1   Successfully assigned default/web-1 to node-1\n"
        );
    }

    #[test]
    fn name_output_and_kind_prefix() {
        let out = print_objects(
            Kind::Deployment,
            &[deployment()],
            &PrintOptions {
                format: Some(OutputFormat::Name),
                ..opts()
            },
        );
        assert_eq!(out.stdout, "deployment.apps/nginx-app\n");
        let pods = &sample_pods()[..1];
        let out = print_objects(
            Kind::Pod,
            pods,
            &PrintOptions {
                format: Some(OutputFormat::Name),
                ..opts()
            },
        );
        assert_eq!(out.stdout, "pod/web-1\n");
        let out = print_objects(
            Kind::Deployment,
            &[deployment()],
            &PrintOptions {
                with_kind: true,
                ..opts()
            },
        );
        assert!(
            out.stdout.contains("\ndeployment.apps/nginx-app   2/3"),
            "{}",
            out.stdout
        );
    }

    #[test]
    fn json_output() {
        let cm = json!({"metadata": {"name": "c"}, "kind": "ConfigMap", "apiVersion": "v1", "data": {"x": "<a&b>"}});
        let single = print_objects(
            Kind::ConfigMap,
            std::slice::from_ref(&cm),
            &PrintOptions {
                format: Some(OutputFormat::Json),
                single_object: true,
                ..opts()
            },
        );
        assert_eq!(
            single.stdout,
            "{\n    \"apiVersion\": \"v1\",\n    \"data\": {\n        \"x\": \"\\u003ca\\u0026b\\u003e\"\n    },\n    \"kind\": \"ConfigMap\",\n    \"metadata\": {\n        \"name\": \"c\"\n    }\n}\n"
        );
        let list = print_objects(
            Kind::ConfigMap,
            &[],
            &PrintOptions {
                format: Some(OutputFormat::Json),
                ..opts()
            },
        );
        assert_eq!(
            list.stdout,
            "{\n    \"apiVersion\": \"v1\",\n    \"items\": [],\n    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n"
        );
        let v: Value = serde_json::from_str(
            &print_objects(
                Kind::ConfigMap,
                &[cm.clone(), cm],
                &PrintOptions {
                    format: Some(OutputFormat::Json),
                    ..opts()
                },
            )
            .stdout,
        )
        .unwrap();
        assert_eq!(v["kind"], "List");
        assert_eq!(v["items"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn yaml_output() {
        let obj = json!({
            "kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": "p", "creationTimestamp": "2024-05-01T11:55:00Z", "labels": {"app": "web", "on": "yes"},
                "annotations": {"note": "a: b", "json": "{\"a\":1}", "multi": "line1\nline2\n", "empty": ""}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.25", "args": ["-v", "--port=80", "123"],
                "ports": [{"containerPort": 80}], "env": []}], "nodeSelector": {}},
            "status": {"phase": "Running", "ready": true, "ratio": 0.5, "nothing": null}
        });
        assert_eq!(
            to_yaml(&obj),
            "\
apiVersion: v1
kind: Pod
metadata:
  annotations:
    empty: \"\"
    json: '{\"a\":1}'
    multi: |
      line1
      line2
    note: 'a: b'
  creationTimestamp: \"2024-05-01T11:55:00Z\"
  labels:
    app: web
    \"on\": \"yes\"
  name: p
spec:
  containers:
  - args:
    - -v
    - --port=80
    - \"123\"
    env: []
    image: nginx:1.25
    name: c
    ports:
    - containerPort: 80
  nodeSelector: {}
status:
  nothing: null
  phase: Running
  ratio: 0.5
  ready: true
"
        );
        let list = print_objects(
            Kind::Pod,
            &[],
            &PrintOptions {
                format: Some(OutputFormat::Yaml),
                ..opts()
            },
        );
        assert_eq!(
            list.stdout,
            "apiVersion: v1\nitems: []\nkind: List\nmetadata:\n  resourceVersion: \"\"\n"
        );
    }

    #[test]
    fn describe_pod_with_events() {
        let mut p = sample_pods().remove(0);
        p["metadata"]["labels"] = json!({"app": "web", "pod-template-hash": "abc"});
        p["status"]["hostIP"] = json!("192.168.1.10");
        p["spec"]["priority"] = json!(0);
        let events: Vec<DescribeEvent> = vec![
            (
                "Normal",
                "Scheduled",
                "5m",
                "default-scheduler",
                "Successfully assigned default/web-1 to node-1",
            )
                .into(),
            (
                "Normal",
                "Started",
                "5m",
                "kubelet",
                "Started container app",
            )
                .into(),
        ];
        assert_eq!(
            describe(Kind::Pod, &p, &events),
            "\
Name:         web-1
Namespace:    default
Priority:     0
Node:         node-1/192.168.1.10
Labels:       app=web
              pod-template-hash=abc
Annotations:  <none>
Status:       Running
IP:           10.0.0.5
Events:
  Type    Reason     Age   From               Message
  ----    ------     ----  ----               -------
  Normal  Scheduled  5m    default-scheduler  Successfully assigned default/web-1 to node-1
  Normal  Started    5m    kubelet            Started container app
"
        );
    }

    #[test]
    fn describe_node_without_events() {
        let mut n = node("worker-1", "True", json!({}), true);
        n["spec"]["taints"] = json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]);
        assert_eq!(
            describe(Kind::Node, &n, &[]),
            "\
Name:           worker-1
Roles:          <none>
Labels:         kubernetes.io/hostname=worker-1
Annotations:    <none>
Taints:         dedicated=gpu:NoSchedule
Unschedulable:  true
Events:         <none>
"
        );
    }
}
