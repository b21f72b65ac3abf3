//! The cluster-proportional-autoscaler as a component.
//!
//! A Deployment whose container image is `…/cluster-proportional-autoscaler` runs this with
//! that container's flags (`--target`, `--namespace`, `--configmap`, `--default-params`,
//! `--nodelabels`, `--poll-period-seconds`, default 10). Like upstream
//! (kubernetes-sigs/cluster-proportional-autoscaler `cmd/cluster-proportional-autoscaler`,
//! `pkg/autoscaler/autoscaler_server.go`, `pkg/autoscaler/k8sclient/k8sclient.go`) it polls:
//! reads the ConfigMap live (creating it from `--default-params` when missing), counts the
//! nodes that match `--nodelabels` (schedulable = Ready and not cordoned; cores =
//! ceil(Σ allocatable CPU)), and writes the target's replicas when they differ. It is itself a
//! pod: it acts only while one of its Deployment's pods is Ready.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kscale_cluster::{ApiError, Cluster, Event, EventType, ScaleKind};
use kscale_controllers::proportional::{ClusterStatus, LadderParams, LinearParams};
use kscale_model::goflag::{self, FlagKind, FlagSet};
use serde_json::Value;

/// The `source` of the Events this component records.
pub const SOURCE: &str = "cluster-proportional-autoscaler";

/// Flags of a CPA container.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CpaFlags {
    /// `--target` kind (lower case) and name.
    pub target: Option<(String, String)>,
    /// `--namespace` of the target and ConfigMap.
    pub namespace: String,
    /// `--configmap`.
    pub configmap: String,
    /// `--default-params` JSON.
    pub default_params: Option<String>,
    /// `--nodelabels` as pairs.
    pub node_labels: Vec<(String, String)>,
    /// `--poll-period-seconds` in ms.
    pub poll_ms: u64,
}

/// The flags upstream defines (`cmd/cluster-proportional-autoscaler/options/options.go`)
/// and the glog flags it registers, with their kinds.
const FLAGS: &[(&str, FlagKind)] = &[
    ("target", FlagKind::Value),
    ("namespace", FlagKind::Value),
    ("configmap", FlagKind::Value),
    ("default-params", FlagKind::Value),
    ("nodelabels", FlagKind::Value),
    ("poll-period-seconds", FlagKind::Value),
    ("max-sync-failures", FlagKind::Value),
    ("version", FlagKind::Bool),
    ("logtostderr", FlagKind::Bool),
    ("alsologtostderr", FlagKind::Bool),
    ("v", FlagKind::Value),
    ("log-dir", FlagKind::Value),
    ("stderrthreshold", FlagKind::Value),
    ("vmodule", FlagKind::Value),
];

/// The CPA's command line as upstream parses it: pflag with the Go (glog) flags added, so
/// `-v` is also a shorthand, and `_` reading as `-` (component-base's `InitFlags`).
fn flag_set() -> FlagSet {
    let mut set = FlagSet::new().normalize_word_separators(true);
    for (name, kind) in FLAGS {
        let shorthand = (*name == "v").then_some('v');
        set = set.flag(name, shorthand, *kind);
    }
    set
}

/// Parses CPA flags from a container's `command` and `args` as upstream's pflag command
/// line ([`kscale_model::goflag`]: `--flag=value`, `--flag value`, booleans as `--flag` or
/// `--flag=<strconv.ParseBool value>`, `--` ends the flags). Returns the flags and a warning
/// for each argument upstream rejects (where it exits, this goes on without it, the flag at
/// its default): unknown flags, bad values, a value missing (a single-dash long flag such as
/// `-namespace=x` is the unknown shorthand `n` to pflag).
pub fn parse_flags(container: &Container) -> (CpaFlags, Vec<String>) {
    let words: Vec<&String> = container
        .command
        .iter()
        .flatten()
        .chain(container.args.iter().flatten())
        .collect();
    let mut flags = CpaFlags {
        namespace: "default".into(),
        poll_ms: 10_000,
        ..Default::default()
    };
    let mut warnings = vec![];
    flag_set().parse_lenient(&words, |r| match r {
        Ok((flag, value)) => flags.set(&flag.name, value),
        Err(e) => warnings.push(kscale_model::goflag::ignored_warning(&e)),
    });
    (flags, warnings)
}

impl CpaFlags {
    /// Applies one parsed flag.
    fn set(&mut self, name: &str, value: &str) {
        match name {
            "target" => {
                if let Some((k, n)) = value.split_once('/') {
                    self.target = Some((k.to_ascii_lowercase(), n.to_string()));
                }
            }
            "namespace" => self.namespace = value.to_string(),
            "configmap" => self.configmap = value.to_string(),
            "default-params" => self.default_params = Some(value.to_string()),
            "nodelabels" => {
                self.node_labels = value
                    .split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }
            // pflag's IntVar reads strconv.ParseInt(s, 0, 64); upstream refuses a period
            // below 1 s, kscale keeps the default.
            "poll-period-seconds" => {
                self.poll_ms = goflag::parse_int(value, 64)
                    .ok()
                    .filter(|s| *s >= 1)
                    .map_or(10, |s| s as u64)
                    .saturating_mul(1000)
            }
            _ => {}
        }
    }
}

/// Parsed ConfigMap parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum CpaParams {
    /// `linear` mode.
    Linear(LinearParams),
    /// `ladder` mode.
    Ladder(LadderParams),
}

/// Parses the ConfigMap data (exactly one key, `linear` or `ladder`, holding JSON).
pub fn parse_params(data: &BTreeMap<String, String>) -> Result<CpaParams, String> {
    if data.len() != 1 {
        return Err(format!(
            "expected exactly one key (linear or ladder), found {}",
            data.len()
        ));
    }
    let (k, text) = data.iter().next().expect("one key");
    let j: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON in {k}: {e}"))?;
    let f = |n: &str| j.get(n).and_then(Value::as_f64).unwrap_or(0.0);
    let b = |n: &str| j.get(n).and_then(Value::as_bool).unwrap_or(false);
    let steps = |n: &str| -> Vec<(i64, i32)> {
        j.get(n)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p.get(0)?.as_i64()?, p.get(1)?.as_i64()? as i32)))
            .collect()
    };
    match k.as_str() {
        "linear" => LinearParams {
            cores_per_replica: f("coresPerReplica"),
            nodes_per_replica: f("nodesPerReplica"),
            min: f("min") as i32,
            max: f("max") as i32,
            prevent_single_point_failure: b("preventSinglePointFailure"),
            include_unschedulable_nodes: b("includeUnschedulableNodes"),
        }
        .validated()
        .map(CpaParams::Linear),
        "ladder" => LadderParams {
            cores_to_replicas: steps("coresToReplicas"),
            nodes_to_replicas: steps("nodesToReplicas"),
            include_unschedulable_nodes: b("includeUnschedulableNodes"),
        }
        .validated()
        .map(CpaParams::Ladder),
        other => Err(format!(
            "unknown controller mode {other:?} (linear or ladder)"
        )),
    }
}

/// The first CPA container of a Deployment, if any.
pub fn cpa_container(deploy: &Deployment) -> Option<&Container> {
    deploy
        .spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .containers
        .iter()
        .find(|c| {
            c.image
                .as_deref()
                .is_some_and(|i| i.contains("cluster-proportional-autoscaler"))
        })
}

/// Milli-CPU of a quantity (`"4"`, `"3920m"`, `"1.5"`); 0 when unreadable.
fn cpu_milli(q: &Quantity) -> i64 {
    kscale_model::Quantity::parse(&q.0)
        .map(|x| x.milli())
        .unwrap_or(0)
}

/// The cluster size CPA counts over `nodes` that carry every `labels` pair.
pub fn cluster_status(nodes: &[Node], labels: &[(String, String)]) -> ClusterStatus {
    let mut s = ClusterStatus::default();
    let (mut total_milli, mut sched_milli) = (0i64, 0i64);
    for n in nodes {
        let node_labels = n.metadata.labels.as_ref();
        if !labels
            .iter()
            .all(|(k, v)| node_labels.and_then(|l| l.get(k)) == Some(v))
        {
            continue;
        }
        let cpu = n
            .status
            .as_ref()
            .and_then(|st| st.allocatable.as_ref())
            .and_then(|a| a.get("cpu"))
            .map(cpu_milli)
            .unwrap_or(0);
        let cordoned = n
            .spec
            .as_ref()
            .and_then(|sp| sp.unschedulable)
            .unwrap_or(false);
        s.total_nodes += 1;
        total_milli += cpu;
        if kscale_cluster::node_ready(n) && !cordoned {
            s.schedulable_nodes += 1;
            sched_milli += cpu;
        }
    }
    s.total_cores = (total_milli + 999) / 1000;
    s.schedulable_cores = (sched_milli + 999) / 1000;
    s
}

/// Renders a LabelSelector in kubectl `-l` syntax.
pub fn selector_string(sel: &LabelSelector) -> String {
    let mut parts: Vec<String> = sel
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for r in sel.match_expressions.iter().flatten() {
        let values = r.values.clone().unwrap_or_default().join(",");
        parts.push(match r.operator.as_str() {
            "In" => format!("{} in ({values})", r.key),
            "NotIn" => format!("{} notin ({values})", r.key),
            "Exists" => r.key.clone(),
            _ => format!("!{}", r.key),
        });
    }
    parts.join(",")
}

/// One cluster-proportional-autoscaler: the Deployment that runs it, and the flags read from
/// that Deployment at the last [`ProportionalAutoscaler::refresh`].
#[derive(Debug, Clone)]
pub struct ProportionalAutoscaler {
    namespace: String,
    name: String,
    flags: CpaFlags,
}

impl ProportionalAutoscaler {
    /// The autoscaler run by Deployment `namespace/name` (flags are read by `refresh`).
    pub fn new(namespace: &str, name: &str) -> Self {
        ProportionalAutoscaler {
            namespace: namespace.to_string(),
            name: name.to_string(),
            flags: CpaFlags::default(),
        }
    }

    /// The flags in force.
    pub fn flags(&self) -> &CpaFlags {
        &self.flags
    }

    /// Re-reads its Deployment: `Some(poll period in ms)` while it still runs the CPA image,
    /// `None` once it is gone (the component then stops).
    pub fn refresh<C: Cluster>(&mut self, api: &mut C) -> Result<Option<u64>, ApiError> {
        let Some(d) = api.get::<Deployment>(&self.namespace, &self.name)? else {
            return Ok(None);
        };
        let Some(c) = cpa_container(&d) else {
            return Ok(None);
        };
        self.flags = parse_flags(c).0;
        Ok(Some(self.flags.poll_ms))
    }

    /// Whether one of its own pods is Ready (it acts only then).
    fn running<C: Cluster>(&self, api: &mut C) -> Result<bool, ApiError> {
        let Some(d) = api.get::<Deployment>(&self.namespace, &self.name)? else {
            return Ok(false);
        };
        let Some(sel) = d.spec.as_ref().map(|s| selector_string(&s.selector)) else {
            return Ok(false);
        };
        if sel.is_empty() {
            return Ok(false);
        }
        let pods = api.list::<Pod>(Some(&self.namespace), &sel)?;
        Ok(pods.iter().any(kscale_cluster::pod_ready))
    }

    /// One poll (after [`ProportionalAutoscaler::refresh`]): creates the ConfigMap from the
    /// default parameters when it is missing, computes the replicas for the matching nodes
    /// and scales the target when they differ. Returns the replicas it set, if it did.
    pub fn sync<C: Cluster>(&mut self, api: &mut C) -> Result<Option<i32>, ApiError> {
        if !self.running(api)? {
            return Ok(None);
        }
        let f = self.flags.clone();
        let event = |type_, reason: &str, kind: &str, name: &str, message: String| Event {
            type_,
            reason: reason.into(),
            kind: kind.into(),
            namespace: f.namespace.clone(),
            name: name.into(),
            message,
            source: SOURCE.into(),
        };
        let mut cm = api.get::<ConfigMap>(&f.namespace, &f.configmap)?;
        if cm.is_none() {
            let Some(defaults) = &f.default_params else {
                return Ok(None);
            };
            let Ok(Value::Object(params)) = serde_json::from_str::<Value>(defaults) else {
                return Ok(None);
            };
            let data: BTreeMap<String, String> = params
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect();
            let new = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(f.configmap.clone()),
                    namespace: Some(f.namespace.clone()),
                    ..Default::default()
                },
                data: Some(data),
                ..Default::default()
            };
            if api.create(&new).is_ok() {
                api.event(event(
                    EventType::Normal,
                    "ConfigMapCreated",
                    "ConfigMap",
                    &f.configmap,
                    "ConfigMap is not found. Creating it with default params".into(),
                ));
            }
            cm = api.get::<ConfigMap>(&f.namespace, &f.configmap)?;
        }
        let data = cm.and_then(|c| c.data).unwrap_or_default();
        let params = match parse_params(&data) {
            Ok(p) => p,
            Err(msg) => {
                api.event(event(
                    EventType::Warning,
                    "InvalidParams",
                    "ConfigMap",
                    &f.configmap,
                    msg,
                ));
                return Ok(None);
            }
        };
        let selector = f
            .node_labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let nodes = api.list::<Node>(None, &selector)?;
        let s = cluster_status(&nodes, &f.node_labels);
        let want = match &params {
            CpaParams::Linear(p) => p.replicas(&s),
            CpaParams::Ladder(p) => p.replicas(&s),
        };
        let Some((tkind, tname)) = f.target.clone() else {
            return Ok(None);
        };
        let Some(kind) = ScaleKind::parse(&tkind) else {
            return Ok(None);
        };
        let have = match kind {
            ScaleKind::Deployment => api
                .get::<Deployment>(&f.namespace, &tname)?
                .map(|d| d.spec.and_then(|s| s.replicas)),
            ScaleKind::ReplicaSet => api
                .get::<k8s_openapi::api::apps::v1::ReplicaSet>(&f.namespace, &tname)?
                .map(|d| d.spec.and_then(|s| s.replicas)),
            ScaleKind::StatefulSet => api
                .get::<k8s_openapi::api::apps::v1::StatefulSet>(&f.namespace, &tname)?
                .map(|d| d.spec.and_then(|s| s.replicas)),
        };
        let Some(have) = have.map(|r| r.unwrap_or(1)) else {
            return Ok(None);
        };
        if have == want {
            return Ok(None);
        }
        let msg = format!(
            "Replicas are not as expected : updating replicas from {have} to {want} (SchedulableNodes[{}], SchedulableCores[{}], TotalNodes[{}], TotalCores[{}])",
            s.schedulable_nodes, s.schedulable_cores, s.total_nodes, s.total_cores
        );
        api.event(event(
            EventType::Normal,
            "ScalingTarget",
            kind.kind(),
            &tname,
            msg,
        ));
        api.scale(kind, &f.namespace, &tname, want)?;
        Ok(Some(want))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(args: &[&str]) -> Container {
        Container {
            name: "autoscaler".into(),
            image: Some("registry.k8s.io/cpa/cluster-proportional-autoscaler:1.8.5".into()),
            command: Some(vec!["/cluster-proportional-autoscaler".into()]),
            args: Some(args.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    fn node(name: &str, cpu: &str, ready: bool, cordoned: bool, pool: &str) -> Node {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "labels": {"pool": pool}},
            "spec": {"unschedulable": cordoned},
            "status": {"allocatable": {"cpu": cpu},
                       "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
        }))
        .unwrap()
    }

    #[test]
    fn flags_take_both_spellings_and_name_unknown_ones() {
        let (f, unknown) = parse_flags(&container(&[
            "--namespace=kube-system",
            "--configmap",
            "overprovisioning",
            "--target=Deployment/overprovisioning",
            "--nodelabels=pool=a,tier=web",
            "--poll-period-seconds=30",
            "--logtostderr",
            "--frobnicate=1",
        ]));
        assert_eq!(f.namespace, "kube-system");
        assert_eq!(f.configmap, "overprovisioning");
        assert_eq!(
            f.target,
            Some(("deployment".into(), "overprovisioning".into()))
        );
        assert_eq!(
            f.node_labels,
            vec![("pool".into(), "a".into()), ("tier".into(), "web".into())]
        );
        assert_eq!(f.poll_ms, 30_000);
        assert_eq!(unknown, ["unknown flag --frobnicate ignored"]);
        let (d, _) = parse_flags(&container(&[]));
        assert_eq!((d.namespace.as_str(), d.poll_ms), ("default", 10_000));
    }

    /// Upstream reads its flags with pflag: booleans take any `strconv.ParseBool` spelling
    /// and never the next word, value flags always take it, `_` reads as `-`, `--` ends the
    /// flags, and a single-dash long flag is an unknown shorthand.
    #[test]
    fn flags_follow_pflag_syntax() {
        let (f, unknown) = parse_flags(&container(&[
            "--logtostderr=T",
            "--alsologtostderr",
            "--namespace",
            "--kube-system",
            "--log_dir=/tmp",
            "-v",
            "2",
            "--version=maybe",
            "--poll-period-seconds=0x1e",
            "-configmap=x",
            "--",
            "--target=deployment/web",
        ]));
        assert_eq!(
            f.namespace, "--kube-system",
            "a value flag takes the next word"
        );
        assert_eq!(f.poll_ms, 30_000, "strconv.ParseInt(s, 0, 64)");
        assert_eq!(f.configmap, "");
        assert_eq!(f.target, None, "flags end at --");
        assert_eq!(
            unknown,
            [
                r#"invalid argument "maybe" for "--version" flag: strconv.ParseBool: parsing "maybe": invalid syntax; flag ignored"#,
                "unknown shorthand flag: 'c' in -configmap=x; flag ignored"
            ]
        );
        for bad in ["0", "-5", "ten"] {
            let (f, _) = parse_flags(&container(&[&format!("--poll-period-seconds={bad}")]));
            assert_eq!(f.poll_ms, 10_000, "{bad}");
        }
    }

    #[test]
    fn params_are_one_linear_or_ladder_key() {
        let one = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        assert!(matches!(
            parse_params(&one("linear", r#"{"coresPerReplica":2,"nodesPerReplica":1,"min":1}"#)),
            Ok(CpaParams::Linear(p)) if p.cores_per_replica == 2.0 && p.min == 1
        ));
        assert!(matches!(
            parse_params(&one("ladder", r#"{"nodesToReplicas":[[1,1],[3,2]]}"#)),
            Ok(CpaParams::Ladder(p)) if p.nodes_to_replicas == vec![(1, 1), (3, 2)]
        ));
        assert!(parse_params(&one("linear", "{not json")).is_err());
        assert!(parse_params(&one("linear", r#"{"min":1}"#)).is_err());
        assert!(parse_params(&one("polynomial", "{}")).is_err());
        assert!(parse_params(&BTreeMap::new()).is_err());
    }

    #[test]
    fn cluster_status_counts_matching_nodes_and_rounds_cores_up() {
        let nodes = vec![
            node("a", "1930m", true, false, "x"),
            node("b", "1930m", true, true, "x"),
            node("c", "2", false, false, "x"),
            node("d", "4", true, false, "y"),
        ];
        let s = cluster_status(&nodes, &[("pool".into(), "x".into())]);
        assert_eq!(
            s,
            ClusterStatus {
                total_nodes: 3,
                schedulable_nodes: 1,
                total_cores: 6,
                schedulable_cores: 2,
            }
        );
        assert_eq!(cluster_status(&nodes, &[]).total_nodes, 4);
    }

    #[test]
    fn selectors_render_labels_then_expressions() {
        let sel: LabelSelector = serde_json::from_value(serde_json::json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "canary", "operator": "DoesNotExist"}
            ]
        }))
        .unwrap();
        assert_eq!(selector_string(&sel), "app=web,tier in (a,b),!canary");
    }
}
