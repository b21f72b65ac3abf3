//! `kubectl top pod|node` as a step: the resource metrics API's view of the twin (the
//! metrics pipeline's latest sample per running pod, [`Sim::resource_metrics_pods`]; a node's
//! usage the sum of its pods', as kscale's metrics server serves it on `--cluster`), printed
//! as kubectl v1.37.2 prints it (k8s.io/kubectl `pkg/cmd/top/top_pod.go`, `top_node.go`).

use std::collections::{BTreeMap, BTreeSet};

use kscale_kubectl::{
    Invocation, Kind, TopCommand, TopContainerUsage, TopNodeAvailable, TopNodeUsage, TopPodUsage,
    TopResource,
};
use kscale_model::LabelSelector;
use kscale_model::metrics_api::{cpu_nanocores, memory_kib};
use serde_json::Value;

use super::Sim;
use super::kubectl::StepResult;

/// kubectl's `metricsCreationDelay`: a pod older than this without metrics is an error.
const METRICS_CREATION_DELAY_MS: u64 = 2 * 60 * 1000;

impl Sim {
    /// `kubectl top pod|node` (see the module doc).
    pub(crate) fn exec_top(&mut self, inv: &Invocation, top: &TopCommand) -> StepResult {
        match top.resource {
            TopResource::Pods => self.exec_top_pods(inv, top),
            TopResource::Nodes => self.exec_top_nodes(inv, top),
        }
    }

    fn exec_top_pods(&mut self, inv: &Invocation, top: &TopCommand) -> StepResult {
        let fail = |m: String| (String::new(), m);
        let ns = inv
            .global
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let all = inv.global.all_namespaces && top.name.is_none();
        let every = LabelSelector::default();
        let metrics = self.resource_metrics_pods(if all { None } else { Some(&ns) }, &every);
        let usage = |m: &kscale_cluster::PodMetrics| TopPodUsage {
            namespace: m.namespace.clone(),
            name: m.name.clone(),
            containers: m
                .containers
                .iter()
                .map(|c| TopContainerUsage {
                    name: c.name.clone(),
                    cpu_nanocores: cpu_nanocores(c.cpu_milli),
                    memory_bytes: memory_kib(c.memory_bytes) * 1024,
                })
                .collect(),
        };
        let pods: Vec<TopPodUsage> = if let Some(name) = &top.name {
            if self.get_one("Pod", &ns, name).is_none() {
                return Err(fail(format!(
                    "Error from server (NotFound): pods \"{name}\" not found"
                )));
            }
            match metrics.iter().find(|m| m.name == *name) {
                Some(m) => vec![usage(m)],
                None => {
                    return Err(fail(format!(
                        "Error from server (NotFound): podmetrics.metrics.k8s.io \"{ns}/{name}\" not found"
                    )));
                }
            }
        } else {
            // The label and field selectors pick pods as `kubectl get pods` does.
            let listed = self.select(Kind::Pod, inv)?;
            let keys: BTreeSet<(String, String)> = listed.iter().map(key_of).collect();
            let pods: Vec<TopPodUsage> = metrics
                .iter()
                .filter(|m| keys.contains(&(m.namespace.clone(), m.name.clone())))
                .map(usage)
                .collect();
            if pods.is_empty() {
                // `verifyEmptyMetrics`: pods without metrics yet, or none at all.
                if listed.is_empty() {
                    self.recorder.set_step_stderr(if all {
                        "No resources found".to_string()
                    } else {
                        format!("No resources found in {ns} namespace.")
                    });
                    return Ok(String::new());
                }
                for p in &listed {
                    let (pns, pname) = key_of(p);
                    let created = self
                        .pod_names
                        .get(&(pns.as_str().into(), pname.as_str().into()))
                        .and_then(|id| self.pods.get(id))
                        .map_or(self.now, |p| p.created);
                    // The API keeps creationTimestamp to the second.
                    let age = self.now.since(created) + created.0 % 1000;
                    if age > METRICS_CREATION_DELAY_MS {
                        return Err(fail(format!(
                            "error: Metrics not available for pod {pns}/{pname}, age: {}",
                            kscale_model::duration::format_duration(age)
                        )));
                    }
                }
                return Err(fail("error: metrics not available yet".into()));
            }
            pods
        };
        Ok(kscale_kubectl::print_top_pods(top, all, &pods))
    }

    fn exec_top_nodes(&mut self, inv: &Invocation, top: &TopCommand) -> StepResult {
        let fail = |m: String| (String::new(), m);
        // Every node's usage: the sum of its pods' (kscale's metrics server on --cluster).
        let every = LabelSelector::default();
        let mut used: BTreeMap<String, (f64, f64)> = self
            .nodes
            .values()
            .map(|n| (n.info.name.to_string(), (0.0, 0.0)))
            .collect();
        for m in self.resource_metrics_pods(None, &every) {
            let node = self
                .pod_names
                .get(&(m.namespace.as_str().into(), m.name.as_str().into()))
                .and_then(|id| self.pods.get(id))
                .and_then(|p| p.node.clone());
            if let Some(u) = node.and_then(|n| used.get_mut(n.as_ref())) {
                for c in &m.containers {
                    u.0 += c.cpu_milli;
                    u.1 += c.memory_bytes;
                }
            }
        }
        let listed: Vec<Value> = match &top.name {
            Some(name) => match self.get_one("Node", "", name) {
                Some(n) => vec![n],
                None => {
                    return Err(fail(format!(
                        "Error from server (NotFound): nodes \"{name}\" not found"
                    )));
                }
            },
            None => self.select(Kind::Node, inv)?,
        };
        let names: BTreeSet<String> = listed.iter().map(|n| key_of(n).1).collect();
        let metrics: Vec<TopNodeUsage> = used
            .into_iter()
            .filter(|(n, _)| names.contains(n))
            .map(|(name, (cpu, mem))| TopNodeUsage {
                name,
                cpu_nanocores: cpu_nanocores(cpu),
                memory_bytes: memory_kib(mem) * 1024,
            })
            .collect();
        if metrics.is_empty() {
            return Err(fail("error: metrics not available yet".into()));
        }
        let field = if top.show_capacity {
            "capacity"
        } else {
            "allocatable"
        };
        let available: Vec<TopNodeAvailable> = listed
            .iter()
            .map(|n| {
                let q = |r: &str| {
                    n.pointer(&format!("/status/{field}/{r}"))
                        .and_then(Value::as_str)
                        .and_then(|s| kscale_model::quantity::Quantity::parse(s).ok())
                };
                TopNodeAvailable {
                    name: key_of(n).1,
                    cpu_milli: q("cpu").map_or(0, |x| x.milli()),
                    memory_bytes: q("memory").map_or(0, |x| x.value()),
                }
            })
            .collect();
        Ok(kscale_kubectl::print_top_nodes(top, &metrics, &available))
    }
}

/// An object's namespace and name.
fn key_of(o: &Value) -> (String, String) {
    let s = |p: &str| {
        o.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (s("/metadata/namespace"), s("/metadata/name"))
}
