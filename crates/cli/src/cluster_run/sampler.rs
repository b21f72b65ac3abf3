//! The time series of a `--cluster` run, sampled from the API.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kscale_cluster::{Cluster, pod_ready};
use kscale_kube::KubeCluster;
use kscale_report::{ChartSpec, TimeSeries};

/// The time series of a cluster run: the twin's cluster columns, per Deployment
/// `deploy/NS/NAME/{desired,pods,ready}`, and per load entry the twin's `load/NS/KIND/NAME/...`
/// columns (rates, CPU, backlog, latency; with a client model its tries; with a memory model
/// memory, OOM kills and evictions).
#[derive(Default)]
pub struct Sampler {
    rows: Vec<BTreeMap<String, f64>>,
}

impl Sampler {
    pub fn sample(
        &mut self,
        kc: &mut KubeCluster,
        t_ms: u64,
        load: &super::LiveLoad,
    ) -> Result<(), String> {
        let nodes = kc.list::<Node>(None, "").map_err(|e| e.to_string())?;
        let pods = kc.list::<Pod>(None, "").map_err(|e| e.to_string())?;
        let deps = kc.list::<Deployment>(None, "").map_err(|e| e.to_string())?;
        let sets = kc
            .list::<StatefulSet>(None, "")
            .map_err(|e| e.to_string())?;
        let mut row = BTreeMap::new();
        row.insert("time_s".to_string(), t_ms as f64 / 1000.0);
        row.insert("nodes".into(), nodes.len() as f64);
        row.insert(
            "nodes_ready".into(),
            nodes
                .iter()
                .filter(|n| kscale_cluster::node_ready(n))
                .count() as f64,
        );
        let live: Vec<&Pod> = pods.iter().collect();
        let phase = |p: &Pod| {
            p.status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default()
        };
        row.insert("pods".into(), live.len() as f64);
        row.insert(
            "pods_running".into(),
            live.iter().filter(|p| phase(p) == "Running").count() as f64,
        );
        row.insert(
            "pods_ready".into(),
            live.iter().filter(|p| pod_ready(p)).count() as f64,
        );
        row.insert(
            "pods_pending".into(),
            live.iter()
                .filter(|p| phase(p) == "Pending" || phase(p).is_empty())
                .count() as f64,
        );
        row.insert(
            "pods_terminating".into(),
            live.iter()
                .filter(|p| p.metadata.deletion_timestamp.is_some())
                .count() as f64,
        );
        // Per workload: desired replicas, and its status's replicas and ready replicas.
        let mut workload =
            |prefix: &str, meta: &ObjectMeta, desired: i32, pods: i32, ready: i32| {
                let key = format!(
                    "{prefix}/{}/{}",
                    meta.namespace.as_deref().unwrap_or(""),
                    meta.name.as_deref().unwrap_or("")
                );
                row.insert(format!("{key}/desired"), desired as f64);
                row.insert(format!("{key}/pods"), pods as f64);
                row.insert(format!("{key}/ready"), ready as f64);
            };
        for d in &deps {
            let st = d.status.clone().unwrap_or_default();
            let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let (pods, ready) = (st.replicas.unwrap_or(0), st.ready_replicas.unwrap_or(0));
            workload("deploy", &d.metadata, desired, pods, ready);
        }
        for d in &sets {
            let st = d.status.clone().unwrap_or_default();
            let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            workload(
                "sts",
                &d.metadata,
                desired,
                st.replicas,
                st.ready_replicas.unwrap_or(0),
            );
        }
        load.sample_into(&mut row);
        self.rows.push(row);
        Ok(())
    }

    pub fn max(&self, column: &str) -> f64 {
        self.rows
            .iter()
            .filter_map(|r| r.get(column))
            .fold(0.0, |a, b| a.max(*b))
    }

    fn columns(&self) -> Vec<String> {
        let fixed = [
            "time_s",
            "nodes",
            "nodes_ready",
            "pods",
            "pods_running",
            "pods_ready",
            "pods_pending",
            "pods_terminating",
        ];
        let mut cols: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
        let mut rest: Vec<String> = self
            .rows
            .iter()
            .flat_map(|r| r.keys())
            .filter(|k| !fixed.contains(&k.as_str()))
            .cloned()
            .collect();
        rest.sort();
        rest.dedup();
        cols.extend(rest);
        cols
    }

    pub fn charts(&self) -> Vec<ChartSpec> {
        let cols = self.columns();
        let mut charts = vec![
            ChartSpec {
                guides: vec![],
                title: "Pods".into(),
                y_label: "pods".into(),
                series: vec![
                    "pods_running".into(),
                    "pods_ready".into(),
                    "pods_pending".into(),
                ],
            },
            ChartSpec {
                guides: vec![],
                title: "Nodes".into(),
                y_label: "nodes".into(),
                series: vec!["nodes".into(), "nodes_ready".into()],
            },
        ];
        // Per load entry (the first 20): its request rates, and with a memory model its
        // memory and its OOM kills and evictions.
        for c in cols
            .iter()
            .filter(|c| c.starts_with("load/") && c.ends_with("/offered_rps"))
            .take(20)
        {
            let base = c.trim_end_matches("/offered_rps");
            let name = base.trim_start_matches("load/");
            charts.push(ChartSpec {
                guides: vec![],
                title: format!("Load {name}"),
                y_label: "requests/s".into(),
                series: vec![
                    c.clone(),
                    format!("{base}/served_rps"),
                    format!("{base}/failed_rps"),
                ],
            });
            if cols.contains(&format!("{base}/memory_mib")) {
                charts.push(ChartSpec {
                    guides: vec![],
                    title: format!("Memory {name}"),
                    y_label: "MiB".into(),
                    series: vec![format!("{base}/memory_mib")],
                });
                charts.push(ChartSpec {
                    guides: vec![],
                    title: format!("OOM kills and evictions {name}"),
                    y_label: "count".into(),
                    series: vec![format!("{base}/oom_kills"), format!("{base}/evictions")],
                });
            }
        }
        for c in cols
            .iter()
            .filter(|c| c.starts_with("deploy/") && c.ends_with("/desired"))
            .take(20)
        {
            let base = c.trim_end_matches("/desired");
            charts.push(ChartSpec {
                guides: vec![],
                title: format!("Deployment {}", base.trim_start_matches("deploy/")),
                y_label: "replicas".into(),
                series: vec![c.clone(), format!("{base}/pods"), format!("{base}/ready")],
            });
        }
        charts
    }

    pub fn into_series(self) -> TimeSeries {
        let columns = self.columns();
        let rows = self
            .rows
            .iter()
            .map(|r| {
                columns
                    .iter()
                    .map(|c| r.get(c).copied().unwrap_or(0.0))
                    .collect()
            })
            .collect();
        TimeSeries {
            columns,
            rows,
            x_label: None,
        }
    }
}
