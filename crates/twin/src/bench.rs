//! The scale benchmark scenario (`kscale bench-scenario`): a simulated day of a large
//! autoscaled cluster, sized by its peak node count.
//!
//! At `peak_nodes` = 1,000: 300 Deployments, each with an autoscaling/v2 HPA (min 10, max 200,
//! CPU utilization target 60%), pods requesting 500m CPU / 1Gi, each Deployment's load
//! following one 24-hour diurnal trace at 1-minute resolution (trough 10% of the peak at 04:00,
//! peak at 16:00; a run longer than a day repeats it daily), scaled so that the daily peak needs
//! about 30,000 pods; a Karpenter NodePool of m5.4xlarge on-demand nodes with consolidation
//! (`WhenEmptyOrUnderutilized`), and 2 tainted system nodes. An m5.4xlarge offers 15,890m CPU, room for 31 such pods, so the peak needs
//! about 1,000 nodes. Other sizes scale the number of Deployments with `peak_nodes` and keep
//! everything else, so the scaling curve compares like with like.
//!
//! With [`NodeAutoscaler::ClusterAutoscaler`] the NodePool gives way to a Cluster Autoscaler
//! Deployment (upstream's default flags but `--nodes`) managing one node group of the same
//! m5.4xlarge on-demand nodes (`workers`, 0 to twice the peak), everything else unchanged: the
//! same day for the other node autoscaler.
//!
//! The generator is a pure function of its parameters (no randomness): the same parameters
//! always give the same files.

/// The node autoscaler of a benchmark scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NodeAutoscaler {
    /// A Karpenter NodePool with consolidation (the default).
    #[default]
    Karpenter,
    /// The Cluster Autoscaler over one node group.
    ClusterAutoscaler,
}

impl NodeAutoscaler {
    /// The names `bench-scenario --autoscaler` takes.
    pub const NAMES: [&'static str; 2] = ["karpenter", "cluster-autoscaler"];

    /// The autoscaler a `--autoscaler` value names, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "karpenter" => Some(Self::Karpenter),
            "cluster-autoscaler" => Some(Self::ClusterAutoscaler),
            _ => None,
        }
    }

    /// Its `--autoscaler` value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Karpenter => Self::NAMES[0],
            Self::ClusterAutoscaler => Self::NAMES[1],
        }
    }
}

/// Parameters of the benchmark scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchParams {
    /// Nodes needed at the daily peak (about 30 pods per node).
    pub peak_nodes: u32,
    /// Simulated duration, a Go duration (`24h`, `2h`, `30m`).
    pub duration: String,
    /// The node autoscaler (Karpenter unless asked otherwise).
    pub autoscaler: NodeAutoscaler,
}

impl Default for BenchParams {
    fn default() -> Self {
        BenchParams {
            peak_nodes: 1000,
            duration: "24h".into(),
            autoscaler: NodeAutoscaler::Karpenter,
        }
    }
}

/// The Karpenter NodePool: m5.4xlarge on-demand, consolidating empty and underutilized nodes
/// after 5 minutes.
const KARPENTER_NODE_POOL: &str = "apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: general}
spec:
  template:
    spec:
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.4xlarge]}
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
  disruption: {consolidationPolicy: WhenEmptyOrUnderutilized, consolidateAfter: 5m}
";

/// The Cluster Autoscaler's worker group bound: twice the peak (at least 10 nodes).
fn worker_group_max(peak_nodes: u32) -> u32 {
    peak_nodes.saturating_mul(2).max(10)
}

/// The Cluster Autoscaler Deployment (on the system nodes), managing the `workers` group with
/// upstream's default flags otherwise.
fn cluster_autoscaler(peak_nodes: u32) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: cluster-autoscaler, namespace: kube-system}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: cluster-autoscaler}}}}
  template:
    metadata: {{labels: {{app: cluster-autoscaler}}}}
    spec:
      priorityClassName: system-cluster-critical
      tolerations: [{{key: CriticalAddonsOnly, operator: Exists}}]
      containers:
      - name: cluster-autoscaler
        image: registry.k8s.io/autoscaling/cluster-autoscaler:v1.32.0
        command: [./cluster-autoscaler, --cloud-provider=aws, --nodes=0:{max}:workers]
        resources: {{requests: {{cpu: 100m, memory: 600Mi}}}}
",
        max = worker_group_max(peak_nodes)
    )
}

/// Deployments per 1,000 peak nodes.
const DEPLOYMENTS_PER_1000_NODES: u32 = 300;
/// Pods a Deployment needs at the peak, on average.
const MEAN_PEAK_PODS: f64 = 100.0;
/// CPU per request (milli-core-seconds): a pod at the 60% target (300m) serves 60 req/s.
const CPU_MILLI_PER_REQUEST: f64 = 5.0;
/// CPU a pod uses at the HPA target: 60% of its 500m request.
const TARGET_CPU_MILLI: f64 = 300.0;

/// Number of Deployments for a peak node count (at least 1).
pub fn deployments(peak_nodes: u32) -> u32 {
    ((peak_nodes as u64 * DEPLOYMENTS_PER_1000_NODES as u64 + 500) / 1000).max(1) as u32
}

/// The diurnal shape at minute `m` of the day, in (0, 1]: a daily cosine (trough at 04:00,
/// peak at 16:00) with a small third harmonic, normalised so that the peak is 1.
pub fn diurnal(m: u32) -> f64 {
    let raw = |m: f64| {
        let theta = std::f64::consts::TAU * (m / 1440.0 - 4.0 / 24.0);
        0.55 - 0.45 * theta.cos() + 0.03 * (3.0 * theta).sin()
    };
    let peak = (0..1440).map(|k| raw(k as f64)).fold(f64::MIN, f64::max);
    raw(m as f64) / peak
}

/// Rows of `trace.csv` (one per minute): one day, or as many days' minutes as the duration
/// covers, the diurnal day repeated (so a week-long run sees seven days, not one day and a
/// flat rest). An unparsable duration gives one day (the caller reports it).
fn trace_minutes(duration: &str) -> u32 {
    let minutes = kscale_model::parse_duration(duration).map_or(0, |ms| ms.div_ceil(60_000));
    minutes.clamp(1440, u64::from(u32::MAX)) as u32
}

/// Relative size of Deployment `i` (0.5 to 1.5, spread by the golden-ratio sequence).
fn weight(i: u32) -> f64 {
    0.5 + (i as f64 * 0.618_033_988_749_895).fract()
}

/// The scenario's files as (relative path, content): `scenario.yaml`, `manifests.yaml`,
/// `trace.csv`.
pub fn files(p: &BenchParams) -> Vec<(String, String)> {
    let n = deployments(p.peak_nodes);
    let total_weight: f64 = (0..n).map(weight).sum();
    let start = diurnal(0);
    let mut manifests = vec![match p.autoscaler {
        NodeAutoscaler::Karpenter => KARPENTER_NODE_POOL.to_string(),
        NodeAutoscaler::ClusterAutoscaler => cluster_autoscaler(p.peak_nodes),
    }];
    let mut loads = String::new();
    for i in 0..n {
        let peak_pods = MEAN_PEAK_PODS * weight(i) * n as f64 / total_weight;
        let replicas = ((peak_pods * start).ceil() as i64).max(10);
        let peak_rps = (peak_pods * TARGET_CPU_MILLI / CPU_MILLI_PER_REQUEST).round();
        manifests.push(format!(
            "apiVersion: apps/v1
kind: Deployment
metadata: {{name: app{i}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: app{i}}}}}
  template:
    metadata: {{labels: {{app: app{i}}}}}
    spec:
      containers:
      - name: app
        image: registry.example.com/app:1.0
        resources: {{requests: {{cpu: 500m, memory: 1Gi}}, limits: {{cpu: '1', memory: 2Gi}}}}
"
        ));
        manifests.push(format!(
            "apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: app{i}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: app{i}}}
  minReplicas: 10
  maxReplicas: 200
  metrics:
  - type: Resource
    resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 60}}}}
"
        ));
        loads.push_str(&format!(
            "    - {{target: deployment/app{i}, requestsPerSecond: {{trace: trace.csv, scale: {peak_rps}}}, cpuPerRequest: {CPU_MILLI_PER_REQUEST}m}}\n"
        ));
    }
    let mut trace = String::from("offset_s,load\n");
    for m in 0..trace_minutes(&p.duration) {
        trace.push_str(&format!("{},{:.4}\n", m as u64 * 60, diurnal(m % 1440)));
    }
    // The Karpenter day's files are as they were before `--autoscaler` existed.
    let (flag, name_suffix, cloud) = match p.autoscaler {
        NodeAutoscaler::Karpenter => (String::new(), "", "{provider: aws}".to_string()),
        NodeAutoscaler::ClusterAutoscaler => (
            " --autoscaler cluster-autoscaler".to_string(),
            "-cluster-autoscaler",
            format!(
                "{{provider: aws, nodeGroups: [{{name: workers, instanceType: m5.4xlarge, min: 0, max: {}}}]}}",
                worker_group_max(p.peak_nodes)
            ),
        ),
    };
    let scenario = format!(
        "# Generated by `kscale bench-scenario --peak-nodes {peak} --duration {dur}{flag}`.
apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {{name: bench-{peak}{name_suffix}}}
spec:
  duration: {dur}
  sampleInterval: 1m
  cloud: {cloud}
  nodes:
    - {{name: system, instanceType: m5.large, count: 2, taints: [{{key: CriticalAddonsOnly, value: \"true\", effect: NoSchedule}}]}}
  manifests: [manifests.yaml]
  load:
{loads}",
        peak = p.peak_nodes,
        dur = p.duration,
    );
    vec![
        ("scenario.yaml".into(), scenario),
        ("manifests.yaml".into(), manifests.join("---\n")),
        ("trace.csv".into(), trace),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_peak_node_count() {
        assert_eq!(deployments(1000), 300);
        assert_eq!(deployments(100), 30);
        assert_eq!(deployments(3000), 900);
        assert_eq!(deployments(1), 1);
        // The peak needs 100 pods per Deployment on average: 30,000 at 1,000 nodes.
        let n = deployments(1000);
        let total: f64 = (0..n).map(weight).sum();
        let pods: f64 = (0..n)
            .map(|i| MEAN_PEAK_PODS * weight(i) * n as f64 / total)
            .sum();
        assert!((pods - 30_000.0).abs() < 1e-6, "{pods}");
        // Each Deployment stays within the HPA's bounds at the peak.
        for i in 0..n {
            let p = MEAN_PEAK_PODS * weight(i) * n as f64 / total;
            assert!((10.0..=200.0).contains(&p), "{i}: {p}");
        }
    }

    #[test]
    fn diurnal_trace_has_its_trough_at_4_and_peak_at_16() {
        let v: Vec<f64> = (0..1440).map(diurnal).collect();
        let argmax = (0..1440).max_by(|a, b| v[*a].total_cmp(&v[*b])).unwrap();
        let argmin = (0..1440).min_by(|a, b| v[*a].total_cmp(&v[*b])).unwrap();
        assert_eq!(v[argmax], 1.0);
        assert!((15 * 60..17 * 60).contains(&argmax), "{argmax}");
        assert!((3 * 60..5 * 60).contains(&argmin), "{argmin}");
        assert!(v[argmin] > 0.05 && v[argmin] < 0.15, "{}", v[argmin]);
        let files = files(&BenchParams::default());
        let trace = &files[2].1;
        assert_eq!(trace.lines().count(), 1441);
        // Beyond a day the day repeats, minute for minute.
        let week = super::files(&BenchParams {
            peak_nodes: 100,
            duration: "168h".into(),
            ..BenchParams::default()
        });
        let rows: Vec<&str> = week[2].1.lines().skip(1).collect();
        assert_eq!(rows.len(), 7 * 1440);
        let value = |r: &str| r.split(',').nth(1).unwrap().to_string();
        for m in [0, 61, 960, 1439] {
            assert_eq!(value(rows[m]), value(rows[m + 6 * 1440]), "minute {m}");
        }
        assert_eq!(rows[7 * 1440 - 1].split(',').next(), Some("604740"));
        assert_eq!(
            files[1].1.matches("kind: HorizontalPodAutoscaler").count(),
            300
        );
    }
}
