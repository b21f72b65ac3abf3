//! Autoscaling decisions read from `events.jsonl`, keyed so that runs with different generated
//! names match, and matched one to one within the time tolerance.
//!
//! Keys: pods and ReplicaSets by their owning workload ([`names::owner`]); Karpenter NodeClaims
//! by NodePool, instance type and capacity type (from their `Launched` message); nodes by the
//! NodeClaim that registered them where the run says so (`Registered ... (node NAME)`), else by
//! name when the name is not generated (scenario nodes), else as `(cloud node)`. Values: the
//! new size of a `SuccessfulRescale` (`New size: 3`), the direction and target of a
//! `ScalingReplicaSet` (`up to 5`), the node groups of a Cluster Autoscaler scale-up, the zone
//! of a launch, the Karpenter reason of a disruption, the requests a kubelet's resize event
//! names (`app cpu=500m memory=104857600`, quantities normalised). A StatefulSet's pod
//! creations and deletions are keyed by the set, the verb and the pod's (ordinal) name.
//!
//! Matching ([`match_decisions`]): first, decisions of equal key and equal value whose times are
//! at most the tolerance apart are paired greedily, smallest offset first (ties by time); then
//! the remaining ones of equal key but different value, the same way, which are value
//! differences; whatever is left is only in A or only in B. In a burst of like decisions, each
//! is paired only among the 64 nearest on either side of its time.

use std::collections::{BTreeMap, HashMap};

use super::names;
use super::run_dir::Event;

/// The decision categories: (category name in diff.json, title, event reasons).
pub const CATEGORIES: &[(&str, &str, &[&str])] = &[
    (
        "rescales",
        "Rescales (HPA, ReplicaSet scaling)",
        &["SuccessfulRescale", "ScalingReplicaSet"],
    ),
    (
        "scaleUps",
        "Cluster Autoscaler scale-ups",
        &["TriggeredScaleUp", "ScaledUpGroup"],
    ),
    (
        "nodeLaunches",
        "Node launches",
        &["Launched", "Registered", "RegisteredNode"],
    ),
    (
        "nodeRemovals",
        "Node removals",
        &[
            "ScaleDown",
            "ScaleDownEmpty",
            "DisruptionTerminating",
            "RemovingNode",
            "InstanceTerminated",
            "SpotInterrupted",
        ],
    ),
    ("preemptions", "Preemptions (victims)", &["Preempted"]),
    ("evictions", "Evictions", &["Evicted", "EvictedByVPA"]),
    ("oomKills", "OOM kills", &["OOMKilled", "OOMKilling"]),
    (
        "resizes",
        "In-place resizes",
        &["InPlaceResizedByVPA", "ResizeCompleted", "ResizeDeferred"],
    ),
    (
        "statefulSetPods",
        "StatefulSet pod creations and deletions",
        &["SuccessfulCreate", "SuccessfulDelete"],
    ),
];

/// One decision of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// Category name (see [`CATEGORIES`]).
    pub category: &'static str,
    /// Event reason.
    pub reason: String,
    /// Run-independent identity, e.g. `HorizontalPodAutoscaler default/web`.
    pub key: String,
    /// The decision's value, if it has one (e.g. the new replica count).
    pub value: Option<String>,
    /// Seconds since the start of the run.
    pub time: f64,
    /// The involved object as the run named it, `Kind namespace/name`.
    pub object: String,
    /// The event message.
    pub message: String,
}

/// The text after `prefix` in `s` up to the first character not in `keep`.
fn after<'a>(s: &'a str, prefix: &str, keep: impl Fn(char) -> bool) -> Option<&'a str> {
    let i = s.find(prefix)? + prefix.len();
    let rest = &s[i..];
    let end = rest.find(|c: char| !keep(c)).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|x| !x.is_empty())
}

/// The text between the last `(` and the following `)` of `s`.
fn parenthesised(s: &str) -> Option<&str> {
    let i = s.rfind('(')?;
    let j = s[i..].find(')')? + i;
    Some(&s[i + 1..j])
}

/// Node and NodeClaim identities of a run, from Karpenter's `Launched` and `Registered` events.
#[derive(Default)]
struct Nodes {
    /// NodeClaim name → `POOL INSTANCE-TYPE CAPACITY-TYPE`.
    claims: HashMap<String, String>,
    /// Node name → NodeClaim name.
    nodes: HashMap<String, String>,
}

impl Nodes {
    /// The identities announced by `events`.
    fn of(events: &[Event]) -> Nodes {
        let mut n = Nodes::default();
        for e in events {
            if e.kind != "NodeClaim" {
                continue;
            }
            if e.reason == "Launched"
                && let Some(p) = parenthesised(&e.message)
            {
                // `m5.large on-demand in us-east-1a`
                let ty: Vec<&str> = p.split(" in ").next().unwrap_or(p).split(' ').collect();
                n.claims.insert(
                    e.name.clone(),
                    format!("{} {}", names::owner(&e.name), ty.join(" ")),
                );
            }
            if e.reason == "Registered"
                && let Some(node) = after(&e.message, "(node ", |c| c != ')')
            {
                n.nodes.insert(node.to_string(), e.name.clone());
            }
        }
        n
    }

    /// The identity of NodeClaim `name`.
    fn claim(&self, name: &str) -> String {
        match self.claims.get(name) {
            Some(id) => format!("NodeClaim {id}"),
            None => format!("NodeClaim {}", names::owner(name)),
        }
    }

    /// The identity of node `name`.
    fn node(&self, name: &str) -> String {
        if let Some(id) = self.nodes.get(name).and_then(|c| self.claims.get(c)) {
            format!("Node of NodeClaim {id}")
        } else if names::is_ip_node(name) {
            "Node (cloud node)".into()
        } else {
            format!("Node {}", names::owner(name))
        }
    }
}

/// The decisions among `events`, in event order.
pub fn extract(events: &[Event]) -> Vec<Decision> {
    let nodes = Nodes::of(events);
    let mut out = vec![];
    for e in events {
        let Some(&(category, _, _)) = CATEGORIES
            .iter()
            .find(|(_, _, reasons)| reasons.contains(&e.reason.as_str()))
        else {
            continue;
        };
        // Pods are created and deleted by name only by StatefulSets (`<set>-<ordinal>`); the
        // other controllers' pods have generated names.
        if category == "statefulSetPods" && e.kind != "StatefulSet" {
            continue;
        }
        let ns_name = |name: &str| {
            if e.namespace.is_empty() {
                name.to_string()
            } else {
                format!("{}/{name}", e.namespace)
            }
        };
        // The involved object, keyed run-independently.
        let object_key = match e.kind.as_str() {
            "Node" => nodes.node(&e.name),
            "NodeClaim" => nodes.claim(&e.name),
            "Pod" | "ReplicaSet" => format!("{} {}", e.kind, ns_name(names::owner(&e.name))),
            _ => format!("{} {}", e.kind, ns_name(&e.name)),
        };
        let m = e.message.as_str();
        let digits = |c: char| c.is_ascii_digit();
        let (key, value) = match e.reason.as_str() {
            "SuccessfulRescale" => (
                object_key,
                after(m, "New size: ", digits).map(str::to_string),
            ),
            "ScalingReplicaSet" => {
                let dir = if m.contains("Scaled down") {
                    "down"
                } else {
                    "up"
                };
                let to = m
                    .rfind(" to ")
                    .and_then(|i| after(&m[i..], " to ", digits))
                    .unwrap_or("?");
                (object_key, Some(format!("{dir} to {to}")))
            }
            "TriggeredScaleUp" => (
                object_key,
                m.split_once(": ").map(|(_, infos)| infos.to_string()),
            ),
            "ScaledUpGroup" => match after(m, "setting group ", |c| c != ' ') {
                Some(g) => (
                    format!("{object_key} group {g}"),
                    after(m, " size to ", digits).map(|n| format!("size {n}")),
                ),
                None => (object_key, None),
            },
            "Launched" => (
                object_key,
                parenthesised(m)
                    .and_then(|p| p.split_once(" in "))
                    .map(|(_, zone)| zone.to_string()),
            ),
            "DisruptionTerminating" => (object_key, m.split_once(": ").map(|(_, r)| r.to_string())),
            "Evicted" => (format!("{object_key} by {}", e.source), None),
            // `Create Pod web-1 in StatefulSet web successful` (statefulset `recordPodEvent`)
            "SuccessfulCreate" | "SuccessfulDelete" => match after(m, " Pod ", |c| c != ' ') {
                Some(pod) => {
                    let verb = if e.reason == "SuccessfulCreate" {
                        "create"
                    } else {
                        "delete"
                    };
                    (format!("{object_key} {verb} {pod}"), None)
                }
                None => (object_key, None),
            },
            "ResizeCompleted" | "ResizeDeferred" => (object_key, resize_requests(m)),
            "OOMKilled" => match after(m, "Container ", |c| c != ' ') {
                Some(c) => (format!("{object_key} container {c}"), None),
                None => (object_key, None),
            },
            _ => (object_key, None),
        };
        out.push(Decision {
            category,
            reason: e.reason.clone(),
            key,
            value,
            time: e.time,
            object: format!("{} {}", e.kind, ns_name(&e.name)),
            message: e.message.clone(),
        });
    }
    out
}

/// The requests a kubelet's resize event message names (`Pod resize completed: {JSON}`), per
/// container as `NAME cpu=Mm memory=B`, so that `0.5` and `500m` compare equal.
fn resize_requests(message: &str) -> Option<String> {
    let (_, summary) = message.split_once(": ")?;
    let summary: serde_json::Value = serde_json::from_str(summary).ok()?;
    let quantity = |v: Option<&serde_json::Value>| -> Option<kscale_model::Quantity> {
        let text = match v? {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        kscale_model::Quantity::parse(&text).ok()
    };
    let parts: Vec<String> = summary
        .get("containers")?
        .as_array()?
        .iter()
        .map(|c| {
            let requests = c.pointer("/resources/requests");
            let mut part = c
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or("")
                .to_string();
            if let Some(q) = quantity(requests.and_then(|r| r.get("cpu"))) {
                part.push_str(&format!(" cpu={}m", q.milli()));
            }
            if let Some(q) = quantity(requests.and_then(|r| r.get("memory"))) {
                part.push_str(&format!(" memory={}", q.value()));
            }
            part
        })
        .collect();
    Some(parts.join(", "))
}

/// How the decisions of two runs pair up (indices into the two slices).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Matching {
    /// Same key and value, at most the tolerance apart.
    pub matched: Vec<(usize, usize)>,
    /// Same key, different value, at most the tolerance apart.
    pub value_differences: Vec<(usize, usize)>,
    /// Decisions of A without a partner.
    pub only_in_a: Vec<usize>,
    /// Decisions of B without a partner.
    pub only_in_b: Vec<usize>,
}

/// Candidates per decision on each side of its time (see [`pair`]).
const NEAREST: usize = 64;

/// Pairs each group's free decisions greedily by smallest offset (see the module doc).
fn pair(
    a: &[Decision],
    b: &[Decision],
    tol: f64,
    free_a: &mut [bool],
    free_b: &mut [bool],
    group: impl Fn(&Decision) -> (String, String, String, Option<String>),
) -> Vec<(usize, usize)> {
    let mut groups: BTreeMap<_, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for (i, d) in a.iter().enumerate().filter(|(i, _)| free_a[*i]) {
        groups.entry(group(d)).or_default().0.push(i);
    }
    for (j, d) in b.iter().enumerate().filter(|(j, _)| free_b[*j]) {
        groups.entry(group(d)).or_default().1.push(j);
    }
    let mut pairs = vec![];
    for (ia, mut ib) in groups.into_values() {
        if ia.is_empty() || ib.is_empty() {
            continue;
        }
        ib.sort_by(|x, y| b[*x].time.total_cmp(&b[*y].time));
        let mut candidates = vec![];
        for &i in &ia {
            let t = a[i].time;
            let lo = ib.partition_point(|j| b[*j].time < t - tol - 1e-9);
            let hi = ib.partition_point(|j| b[*j].time <= t + tol + 1e-9);
            // In a burst (thousands of like events in one window), only the nearest
            // NEAREST on each side are candidates, which bounds the work.
            let mid = ib.partition_point(|j| b[*j].time < t);
            let (lo, hi) = (lo.max(mid.saturating_sub(NEAREST)), hi.min(mid + NEAREST));
            for &j in ib.get(lo..hi).unwrap_or(&[]) {
                candidates.push(((b[j].time - t).abs(), i, j));
            }
        }
        candidates.sort_by(|x, y| {
            x.0.total_cmp(&y.0)
                .then(a[x.1].time.total_cmp(&a[y.1].time))
                .then(x.1.cmp(&y.1))
                .then(x.2.cmp(&y.2))
        });
        for (_, i, j) in candidates {
            if free_a[i] && free_b[j] {
                free_a[i] = false;
                free_b[j] = false;
                pairs.push((i, j));
            }
        }
    }
    pairs.sort();
    pairs
}

/// Matches the decisions of A and B one to one within `tol` seconds (see the module doc).
pub fn match_decisions(a: &[Decision], b: &[Decision], tol: f64) -> Matching {
    let mut free_a = vec![true; a.len()];
    let mut free_b = vec![true; b.len()];
    let id = |d: &Decision| (d.category.to_string(), d.reason.clone(), d.key.clone());
    let matched = pair(a, b, tol, &mut free_a, &mut free_b, |d| {
        let (c, r, k) = id(d);
        (c, r, k, d.value.clone())
    });
    let value_differences = pair(a, b, tol, &mut free_a, &mut free_b, |d| {
        let (c, r, k) = id(d);
        (c, r, k, None)
    });
    let rest = |free: &[bool]| {
        free.iter()
            .enumerate()
            .filter(|(_, f)| **f)
            .map(|(i, _)| i)
            .collect()
    };
    Matching {
        matched,
        value_differences,
        only_in_a: rest(&free_a),
        only_in_b: rest(&free_b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(time: f64, reason: &str, kind: &str, name: &str, message: &str) -> Event {
        Event {
            time,
            reason: reason.into(),
            kind: kind.into(),
            namespace: if kind == "Node" || kind == "NodeClaim" {
                String::new()
            } else {
                "default".into()
            },
            name: name.into(),
            message: message.into(),
            source: "x".into(),
        }
    }

    #[test]
    fn statefulset_pods_are_keyed_by_set_verb_and_ordinal() {
        let d = extract(&[
            ev(
                1.0,
                "SuccessfulCreate",
                "StatefulSet",
                "db",
                "Create Pod db-0 in StatefulSet db successful",
            ),
            ev(
                2.0,
                "SuccessfulDelete",
                "StatefulSet",
                "db",
                "Delete Pod db-2 in StatefulSet db successful",
            ),
            // A ReplicaSet's pods have generated names: not decisions.
            ev(
                3.0,
                "SuccessfulCreate",
                "ReplicaSet",
                "web-5d8f",
                "Created pod: web-5d8f-x2k9q",
            ),
        ]);
        let keys: Vec<(&str, &str)> = d.iter().map(|d| (d.category, d.key.as_str())).collect();
        assert_eq!(
            keys,
            [
                ("statefulSetPods", "StatefulSet default/db create db-0"),
                ("statefulSetPods", "StatefulSet default/db delete db-2")
            ]
        );
    }

    #[test]
    fn keys_and_values() {
        let d = extract(&[
            ev(
                1.0,
                "SuccessfulRescale",
                "HorizontalPodAutoscaler",
                "web",
                "New size: 2; reason: cpu resource utilization (percentage of request) above target",
            ),
            ev(
                2.0,
                "ScalingReplicaSet",
                "Deployment",
                "web",
                "Scaled up replica set web-6bff4dcddd from 2 to 5",
            ),
            ev(
                3.0,
                "ScalingReplicaSet",
                "Deployment",
                "web",
                "Scaled down replica set web-6bff4dcddd to 1",
            ),
            ev(
                4.0,
                "Preempted",
                "Pod",
                "placeholder-568968fd89-klhht",
                "Preempted by pod x on node n",
            ),
            ev(
                5.0,
                "Launched",
                "NodeClaim",
                "default-x7k2p",
                "Status condition transitioned, Type: Launched, Status: True, Reason: Launched (m5.large spot in us-east-1a)",
            ),
            ev(
                6.0,
                "Registered",
                "NodeClaim",
                "default-x7k2p",
                "Status condition transitioned, Type: Registered, Status: True, Reason: Registered (node ip-192-168-1-2.us-east-1.compute.internal)",
            ),
            ev(
                7.0,
                "RegisteredNode",
                "Node",
                "ip-192-168-1-2.us-east-1.compute.internal",
                "Node ... Registered",
            ),
            ev(
                8.0,
                "RegisteredNode",
                "Node",
                "ip-10-0-1-2.us-east-1.compute.internal",
                "Node ... Registered",
            ),
            ev(
                9.0,
                "Scheduled",
                "Pod",
                "web-6bff4dcddd-qjtzd",
                "Successfully assigned",
            ),
        ]);
        let kv: Vec<(&str, Option<&str>)> = d
            .iter()
            .map(|d| (d.key.as_str(), d.value.as_deref()))
            .collect();
        assert_eq!(
            kv,
            [
                ("HorizontalPodAutoscaler default/web", Some("2")),
                ("Deployment default/web", Some("up to 5")),
                ("Deployment default/web", Some("down to 1")),
                ("Pod default/placeholder", None),
                ("NodeClaim default m5.large spot", Some("us-east-1a")),
                ("NodeClaim default m5.large spot", None),
                ("Node of NodeClaim default m5.large spot", None),
                ("Node (cloud node)", None),
            ]
        );
        assert_eq!(d[3].category, "preemptions");
        assert_eq!(d[3].object, "Pod default/placeholder-568968fd89-klhht");
    }

    #[test]
    fn a_resize_is_keyed_by_workload_and_valued_by_its_requests() {
        let twin = extract(&[ev(
            1.0,
            "ResizeCompleted",
            "Pod",
            "api-6bff4dcddd-qjtzd",
            r#"Pod resize completed: {"containers":[{"name":"app","resources":{"limits":{"cpu":1},"requests":{"cpu":"0.5","memory":"100Mi"}}}],"generation":2}"#,
        )]);
        let live = extract(&[ev(
            2.0,
            "ResizeCompleted",
            "Pod",
            "api-5d8f7c9b4-x2k9z",
            r#"Pod resize completed: {"containers":[{"name":"app","resources":{"limits":{"cpu":"1"},"requests":{"cpu":"500m","memory":"104857600"}}}],"generation":2}"#,
        )]);
        assert_eq!(twin[0].category, "resizes");
        assert_eq!(twin[0].key, "Pod default/api");
        assert_eq!(
            twin[0].value.as_deref(),
            Some("app cpu=500m memory=104857600")
        );
        assert_eq!(
            (live[0].key.as_str(), live[0].value.as_deref()),
            (twin[0].key.as_str(), twin[0].value.as_deref())
        );
        let m = match_decisions(&twin, &live, 15.0);
        assert_eq!(m.matched, [(0, 0)]);
    }

    fn dec(time: f64, key: &str, value: &str) -> Decision {
        Decision {
            category: "rescales",
            reason: "SuccessfulRescale".into(),
            key: key.into(),
            value: Some(value.into()),
            time,
            object: key.into(),
            message: String::new(),
        }
    }

    #[test]
    fn greedy_matching_by_smallest_offset() {
        let a = [
            dec(10.0, "h", "2"),
            dec(20.0, "h", "2"),
            dec(100.0, "h", "3"),
        ];
        let b = [
            dec(19.0, "h", "2"),
            dec(35.0, "h", "2"),
            dec(101.0, "h", "4"),
        ];
        let m = match_decisions(&a, &b, 15.0);
        // 20↔19 (1 s) first, then 10 has only 35 left, 25 s away: unmatched.
        assert_eq!(m.matched, [(1, 0)]);
        assert_eq!(m.value_differences, [(2, 2)]);
        assert_eq!(m.only_in_a, [0]);
        assert_eq!(m.only_in_b, [1]);
        let m = match_decisions(&a, &a, 0.0);
        assert_eq!(m.matched, [(0, 0), (1, 1), (2, 2)]);
    }
}
