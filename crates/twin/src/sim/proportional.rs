//! cluster-proportional-autoscaler emulation.
//!
//! A Deployment whose container image is `…/cluster-proportional-autoscaler` runs kscale's
//! implementation with that container's flags (`--target`, `--namespace`, `--configmap`,
//! `--default-params`, `--nodelabels`, `--poll-period-seconds`, default 10). Like upstream
//! (cmd/cluster-proportional-autoscaler, pkg/autoscaler/k8sclient/k8sclient.go) it polls: reads
//! the ConfigMap live (creating it from `--default-params` when missing), counts the nodes that
//! match `--nodelabels` (schedulable = Ready and not cordoned; cores = ceil(Σ allocatable CPU)),
//! and writes the target's replicas when they differ. It is itself a pod: it acts only while one
//! of its pods is Ready.

use kscale_controllers::proportional::{ClusterStatus, LadderParams, LinearParams};
use serde_json::{Value, json};

use super::store::ObjKey;
use super::{Event, Sim};
use crate::manifest::Warning;

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

const KNOWN: &[&str] = &[
    "target",
    "namespace",
    "configmap",
    "default-params",
    "nodelabels",
    "poll-period-seconds",
    "logtostderr",
    "v",
    "max-sync-failures",
    "alsologtostderr",
    "log_dir",
    "stderrthreshold",
    "vmodule",
    "version",
];

/// Parses CPA flags from a container's `command` and `args`; returns flags and unknown names.
pub fn parse_flags(container: &Value) -> (CpaFlags, Vec<String>) {
    let mut words: Vec<String> = vec![];
    for f in ["command", "args"] {
        for w in container
            .get(f)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(s) = w.as_str() {
                words.push(s.to_string());
            }
        }
    }
    let mut flags = CpaFlags {
        namespace: "default".into(),
        poll_ms: 10_000,
        ..Default::default()
    };
    let mut unknown = vec![];
    let mut i = 0;
    while i < words.len() {
        let w = words[i].trim_start_matches('-');
        if !words[i].starts_with('-') {
            i += 1;
            continue;
        }
        let (name, value) = match w.split_once('=') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => {
                let v = words.get(i + 1).filter(|x| !x.starts_with('-')).cloned();
                if v.is_some() {
                    i += 1;
                }
                (w.to_string(), v.unwrap_or_else(|| "true".into()))
            }
        };
        match name.as_str() {
            "target" => {
                if let Some((k, n)) = value.split_once('/') {
                    flags.target = Some((k.to_ascii_lowercase(), n.to_string()));
                }
            }
            "namespace" => flags.namespace = value,
            "configmap" => flags.configmap = value,
            "default-params" => flags.default_params = Some(value),
            "nodelabels" => {
                flags.node_labels = value
                    .split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }
            "poll-period-seconds" => flags.poll_ms = value.parse::<u64>().unwrap_or(10) * 1000,
            n if KNOWN.contains(&n) => {}
            n => unknown.push(n.to_string()),
        }
        i += 1;
    }
    (flags, unknown)
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
pub fn parse_params(data: &serde_json::Map<String, Value>) -> Result<CpaParams, String> {
    if data.len() != 1 {
        return Err(format!(
            "expected exactly one key (linear or ladder), found {}",
            data.len()
        ));
    }
    let (k, v) = data.iter().next().expect("one key");
    let text = v.as_str().ok_or("the parameters must be a string")?;
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
pub fn cpa_container(deploy: &Value) -> Option<&Value> {
    deploy
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| {
            c.get("image")
                .and_then(Value::as_str)
                .is_some_and(|i| i.contains("cluster-proportional-autoscaler"))
        })
}

impl Sim {
    /// Starts polling for a Deployment that runs the CPA (called when it is applied).
    pub fn maybe_start_cpa(&mut self, key: &ObjKey) {
        let Some(d) = self.store.get(key) else { return };
        let Some(c) = cpa_container(d) else { return };
        let (flags, unknown) = parse_flags(c);
        for u in unknown {
            self.warnings.push(Warning {
                file: self.scenario.path.clone(),
                line: None,
                message: format!(
                    "cluster-proportional-autoscaler {}/{}: unknown flag --{u} ignored",
                    key.namespace, key.name
                ),
            });
        }
        if self.cpa_polling.insert(key.clone()) {
            self.queue.push(
                self.now.plus_millis(flags.poll_ms),
                Event::CpaPoll(key.clone()),
            );
        }
    }

    /// One CPA poll.
    pub fn cpa_poll(&mut self, key: ObjKey) {
        let Some(d) = self.store.get(&key) else {
            self.cpa_polling.remove(&key);
            return;
        };
        let Some(c) = cpa_container(d) else {
            self.cpa_polling.remove(&key);
            return;
        };
        let (flags, _) = parse_flags(c);
        self.queue.push(
            self.now.plus_millis(flags.poll_ms),
            Event::CpaPoll(key.clone()),
        );
        let running = self
            .target_pods(&key.namespace, "deployment", &key.name)
            .iter()
            .any(|p| p.is_ready());
        if !running {
            return;
        }
        let source = "cluster-proportional-autoscaler";
        let cm_key = ObjKey::new("ConfigMap", &flags.namespace, &flags.configmap);
        if self.store.get(&cm_key).is_none() {
            let Some(defaults) = &flags.default_params else {
                return;
            };
            let Ok(Value::Object(params)) = serde_json::from_str::<Value>(defaults) else {
                return;
            };
            let data: serde_json::Map<String, Value> = params
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
                .collect();
            let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": flags.configmap, "namespace": flags.namespace}, "data": data});
            if self.apply_value(cm, None).is_ok() {
                self.emit(
                    "Normal",
                    "ConfigMapCreated",
                    "ConfigMap",
                    &flags.namespace,
                    &flags.configmap,
                    "ConfigMap is not found. Creating it with default params".into(),
                    source,
                );
            }
        }
        let data = self
            .store
            .get(&cm_key)
            .and_then(|v| v.get("data"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let params = match parse_params(&data) {
            Ok(p) => p,
            Err(msg) => {
                self.emit(
                    "Warning",
                    "InvalidParams",
                    "ConfigMap",
                    &flags.namespace,
                    &flags.configmap,
                    msg,
                    source,
                );
                return;
            }
        };
        let mut s = ClusterStatus::default();
        let (mut total_milli, mut sched_milli) = (0i64, 0i64);
        for n in self.nodes.values() {
            if !flags
                .node_labels
                .iter()
                .all(|(k, v)| n.info.labels.get(k) == Some(v))
            {
                continue;
            }
            s.total_nodes += 1;
            total_milli += n.info.allocatable.cpu_milli;
            if n.info.ready && !n.info.unschedulable {
                s.schedulable_nodes += 1;
                sched_milli += n.info.allocatable.cpu_milli;
            }
        }
        s.total_cores = (total_milli + 999) / 1000;
        s.schedulable_cores = (sched_milli + 999) / 1000;
        let want = match &params {
            CpaParams::Linear(p) => p.replicas(&s),
            CpaParams::Ladder(p) => p.replicas(&s),
        } as i64;
        let Some((tkind, tname)) = flags.target.clone() else {
            return;
        };
        let kind = match tkind.as_str() {
            "deployment" => "Deployment",
            "replicaset" => "ReplicaSet",
            "statefulset" => "StatefulSet",
            _ => return,
        };
        let tkey = ObjKey::new(kind, &flags.namespace, &tname);
        let Some(have) = self.store.get(&tkey).map(|v| {
            v.pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1)
        }) else {
            return;
        };
        if have != want {
            let msg = format!(
                "Replicas are not as expected : updating replicas from {have} to {want} (SchedulableNodes[{}], SchedulableCores[{}], TotalNodes[{}], TotalCores[{}])",
                s.schedulable_nodes, s.schedulable_cores, s.total_nodes, s.total_cores
            );
            self.emit(
                "Normal",
                "ScalingTarget",
                kind,
                &flags.namespace,
                &tname,
                msg,
                source,
            );
            let _ = self.scale(kind, &flags.namespace, &tname, want, None);
        }
    }
}
