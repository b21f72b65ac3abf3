//! `kscale snapshot`: a real cluster (and its load) as a scenario folder `kscale run` accepts.
//!
//! Reads through the Kubernetes API (the `kube` crate), never Secrets and only the ConfigMaps
//! the autoscalers read (the Cluster Autoscaler's priority expander, the
//! cluster-proportional-autoscaler's parameters); writes `scenario.yaml` (nodes, node groups,
//! cloud region and zones, load), `manifests/` (one file per kind), `traces/` (with
//! `--prometheus`) and `snapshot.txt` (what was taken, what was skipped and why), through a
//! staging folder moved into place when complete.
//!
//! Exit codes: 0 written, 1 the cluster or Prometheus failed (unreachable, nodes not
//! readable), 2 bad input (flags, an output folder kscale did not write).

mod nodes;
mod objects;
pub mod prometheus;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Node};
use kscale_cluster::{ApiError, Cluster};
use kscale_kube::KubeCluster;
use serde_json::{Map, Value, json};

/// The CPU usage (cores) of a workload's pods: cAdvisor's counter through the kubelet, as
/// kube-prometheus scrapes it. `$namespace`, `$name` and `$pod_regex` (the workload's pods:
/// `NAME-.*`) are replaced.
pub const DEFAULT_CPU_QUERY: &str = "sum(rate(container_cpu_usage_seconds_total{namespace=\"$namespace\",pod=~\"$pod_regex\",container!=\"\",container!=\"POD\"}[5m]))";

/// The marker file of a folder `kscale snapshot` wrote (a later snapshot may replace it).
const MARKER: &str = ".kscale-snapshot";

/// `kscale snapshot` flags.
#[derive(clap::Args, Debug)]
pub struct Options {
    /// Kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: the current one).
    #[arg(long)]
    pub context: Option<String>,
    /// Read only these namespaces (repeatable; default: all). Cluster-scoped objects
    /// (nodes, PriorityClasses, Karpenter's) are always read.
    #[arg(long = "namespace", short = 'n')]
    pub namespaces: Vec<String>,
    /// Output folder (written atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an output folder kscale snapshot did not write.
    #[arg(long)]
    pub force: bool,
    /// Scenario name (default: the output folder's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Scenario duration (Go duration; default 1h, or --since with --prometheus).
    #[arg(long)]
    pub duration: Option<String>,
    /// Prometheus base URL (e.g. http://127.0.0.1:9090): one range query per Deployment
    /// and StatefulSet (its pods' CPU usage rate, or --query) becomes a trace and a load
    /// entry.
    #[arg(long)]
    pub prometheus: Option<String>,
    /// How far back the Prometheus queries reach (Go duration).
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// Step of the Prometheus queries (Go duration).
    #[arg(long, default_value = "1m")]
    pub step: String,
    /// A workload's request-rate query, `NAMESPACE/KIND/NAME=PROMQL` (repeatable);
    /// cpuPerRequest is then fitted from its CPU usage.
    #[arg(long = "query")]
    pub queries: Vec<String>,
    /// The CPU-usage query of a workload, `$namespace`, `$name` and `$pod_regex`
    /// replaced (default: the rate of cAdvisor's container_cpu_usage_seconds_total over
    /// its pods).
    #[arg(long, value_name = "PROMQL")]
    pub cpu_query: Option<String>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(code)
}

/// What a snapshot took and left.
#[derive(Default)]
struct Report {
    taken: BTreeMap<&'static str, usize>,
    skipped: BTreeMap<String, Vec<String>>,
    warnings: Vec<String>,
    notes: Vec<String>,
    /// Kinds the cluster does not serve.
    unserved: Vec<String>,
}

impl Report {
    fn skip(&mut self, why: impl Into<String>, what: String) {
        self.skipped.entry(why.into()).or_default().push(what);
    }

    fn text(&self, server: &str) -> String {
        let mut s = format!("kscale snapshot of {server}\n\nTaken:\n");
        for (kind, n) in &self.taken {
            let _ = writeln!(s, "  {n:>5} {kind}");
        }
        if !self.skipped.is_empty() {
            s.push_str("\nSkipped:\n");
            for (why, what) in &self.skipped {
                let _ = writeln!(s, "  {why}: {} ({})", what.len(), nodes::shorten(what));
            }
        }
        if !self.warnings.is_empty() {
            s.push_str("\nWarnings:\n");
            for w in &self.warnings {
                let _ = writeln!(s, "  {w}");
            }
        }
        if !self.notes.is_empty() {
            s.push_str("\nNotes:\n");
            for n in &self.notes {
                let _ = writeln!(s, "  {n}");
            }
        }
        if !self.unserved.is_empty() {
            let _ = writeln!(
                s,
                "\nNot served by this cluster: {}.",
                self.unserved.join(", ")
            );
        }
        s.push_str("\nNever read: Secrets; ConfigMaps other than the autoscalers'.\n");
        s
    }
}

/// A parsed `--query NAMESPACE/KIND/NAME=PROMQL`.
fn parse_query(q: &str) -> Result<((String, String, String), String), String> {
    let (target, promql) = q
        .split_once('=')
        .ok_or_else(|| format!("--query {q:?}: expected NAMESPACE/KIND/NAME=PROMQL"))?;
    let parts: Vec<&str> = target.split('/').collect();
    let [ns, kind, name] = parts[..] else {
        return Err(format!(
            "--query {q:?}: the target {target:?} is not NAMESPACE/KIND/NAME (e.g. shop/deployment/web)"
        ));
    };
    let kind = kind.to_ascii_lowercase();
    if !matches!(kind.as_str(), "deployment" | "statefulset") {
        return Err(format!(
            "--query {q:?}: kind {kind:?} has no load model (deployment or statefulset)"
        ));
    }
    if promql.trim().is_empty() {
        return Err(format!("--query {q:?}: empty query"));
    }
    Ok(((ns.into(), kind, name.into()), promql.into()))
}

/// A DNS-subdomain scenario name from a folder name.
fn scenario_name(out: &Path) -> String {
    let raw = out
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    name = name
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string();
    name.truncate(63);
    if name.is_empty() {
        "snapshot".into()
    } else {
        name
    }
}

/// Runs `kscale snapshot`.
pub fn run(o: Options) -> ExitCode {
    for q in &o.queries {
        if let Err(e) = parse_query(q) {
            return fail(2, e);
        }
    }
    if !o.queries.is_empty() && o.prometheus.is_none() {
        return fail(2, "--query needs --prometheus URL");
    }
    if o.cpu_query.is_some() && o.prometheus.is_none() {
        return fail(2, "--cpu-query needs --prometheus URL");
    }
    let since_ms = match kscale_model::duration::parse_duration(&o.since) {
        Ok(d) if d > 0 => d,
        _ => {
            return fail(
                2,
                format!(
                    "--since {:?}: expected a positive Go duration (e.g. 24h)",
                    o.since
                ),
            );
        }
    };
    let step_ms = match kscale_model::duration::parse_duration(&o.step) {
        Ok(d) if d >= 1000 => d,
        _ => {
            return fail(
                2,
                format!(
                    "--step {:?}: expected a Go duration of at least 1s (e.g. 1m)",
                    o.step
                ),
            );
        }
    };
    let duration = match &o.duration {
        Some(d) => match kscale_model::duration::parse_duration(d) {
            Ok(ms) if ms > 0 => d.clone(),
            _ => {
                return fail(
                    2,
                    format!("--duration {d:?}: expected a positive Go duration"),
                );
            }
        },
        None if o.prometheus.is_some() => kscale_model::duration::format_duration(since_ms),
        None => "1h".into(),
    };
    let name = match &o.name {
        Some(n) if kscale_twin::validate::is_dns_subdomain(n) => n.clone(),
        Some(n) => {
            return fail(
                2,
                format!("--name {n:?}: not a valid name (lower-case letters, digits, '-' and '.')"),
            );
        }
        None => scenario_name(&o.out),
    };
    if let Err(e) = check_out(&o.out, o.force) {
        return fail(2, e);
    }
    let mut kc = match KubeCluster::connect_with(
        o.kubeconfig.as_deref(),
        o.context.as_deref(),
        "snapshot",
    ) {
        Ok(k) => k,
        Err(e @ ApiError::Invalid(_)) => return fail(2, e),
        Err(e) => return fail(1, format!("cannot reach the cluster: {e}")),
    };
    let server = kc.server().to_string();
    let mut report = Report::default();
    let nodes: Vec<Node> = match kc.list(None, "") {
        Ok(n) => n,
        Err(e) => {
            return fail(
                1,
                format!("cannot read the cluster's nodes (a snapshot needs them): {e}"),
            );
        }
    };
    // Every taken kind, in apply order.
    let mut taken: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for &(api_version, kind, plural, namespaced, file) in objects::KINDS {
        if kind == "ConfigMap" {
            continue;
        }
        let scopes: Vec<Option<&str>> = if namespaced && !o.namespaces.is_empty() {
            o.namespaces.iter().map(|n| Some(n.as_str())).collect()
        } else {
            vec![None]
        };
        let mut items = Vec::new();
        let mut served = true;
        for scope in scopes {
            match kc.list_raw(api_version, kind, scope) {
                Ok(Some(v)) => items.extend(v),
                Ok(None) => served = false,
                Err(ApiError::Forbidden(e)) => {
                    report
                        .warnings
                        .push(format!("{plural} skipped: not allowed to list them ({e})"));
                }
                Err(e) => return fail(1, format!("reading {plural}: {e}")),
            }
        }
        if !served {
            report.unserved.push(format!("{kind} ({api_version})"));
            continue;
        }
        let mut kept = Vec::new();
        for mut obj in items {
            let ns = obj
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let n = obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let shown = if ns.is_empty() {
                n.clone()
            } else {
                format!("{ns}/{n}")
            };
            if kind == "Namespace" && !o.namespaces.is_empty() && !o.namespaces.contains(&n) {
                continue;
            }
            if objects::builtin(kind, &n) {
                continue;
            }
            if let Some(why) = objects::skip_reason(kind, &obj) {
                report.skip(format!("{kind}: {why}"), shown);
                continue;
            }
            objects::clean(kind, &mut obj);
            kept.push(ordered(obj));
        }
        let _ = file;
        if !kept.is_empty() {
            *report.taken.entry(kind).or_default() += kept.len();
        }
        taken.push((kind, kept));
    }
    // The autoscalers' configuration: their flags, and the ConfigMaps they read.
    let mut ca_bounds: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut autoscaled = false;
    let mut configmaps: Vec<(String, String)> = Vec::new();
    for (kind, items) in &taken {
        if *kind != "Deployment" {
            continue;
        }
        for d in items {
            let ns = d
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default");
            if let Some(c) = kscale_twin::sim::cluster_autoscaler::ca_container(d) {
                autoscaled = true;
                let cfg = kscale_controllers::cluster_autoscaler::Config::from_args(
                    &kscale_twin::sim::cluster_autoscaler::container_words(c),
                )
                .0;
                for g in &cfg.nodes {
                    ca_bounds.insert(g.name.clone(), (g.min, g.max));
                }
                configmaps.push((
                    cfg.namespace.clone(),
                    kscale_twin::sim::cluster_autoscaler::PRIORITY_CONFIGMAP.to_string(),
                ));
            }
            if let Ok(typed) = serde_json::from_value::<Deployment>(d.clone())
                && let Some(c) = kscale_components::proportional::cpa_container(&typed)
            {
                let (flags, _) = kscale_components::proportional::parse_flags(c);
                let cpa_ns = if flags.namespace == "default" {
                    ns.to_string()
                } else {
                    flags.namespace.clone()
                };
                if !flags.configmap.is_empty() {
                    configmaps.push((cpa_ns, flags.configmap.clone()));
                }
            }
        }
    }
    configmaps.sort();
    configmaps.dedup();
    let mut cms = Vec::new();
    for (ns, n) in &configmaps {
        match kc.get::<ConfigMap>(ns, n) {
            Ok(Some(cm)) => {
                let mut v = serde_json::to_value(&cm).unwrap_or(Value::Null);
                if let Some(o) = v.as_object_mut() {
                    o.insert("apiVersion".into(), "v1".into());
                    o.insert("kind".into(), "ConfigMap".into());
                }
                objects::clean("ConfigMap", &mut v);
                cms.push(ordered(v));
            }
            Ok(None) => {}
            Err(ApiError::Forbidden(e)) => report.warnings.push(format!(
                "configmap {ns}/{n} skipped: not allowed to read it ({e})"
            )),
            Err(e) => return fail(1, format!("reading configmap {ns}/{n}: {e}")),
        }
    }
    if !cms.is_empty() {
        report.taken.insert("ConfigMap", cms.len());
    }
    let pos = taken
        .iter()
        .position(|(k, _)| *k == "PriorityClass")
        .map_or(0, |p| p + 1);
    taken.insert(pos, ("ConfigMap", cms));

    let converted = nodes::convert(&nodes, &ca_bounds, autoscaled);
    report.taken.insert("Node", nodes.len());
    report.notes.extend(converted.notes.iter().cloned());

    // Load from Prometheus.
    let mut traces: Vec<(String, String)> = Vec::new();
    let mut loads: Vec<Value> = Vec::new();
    if let Some(base) = &o.prometheus {
        // Aligned to the step (as Prometheus's own UI does): the same samples at the same
        // times whenever the snapshot is taken within one step.
        let step_s = step_ms / 1000;
        let end = jiff::Timestamp::now().as_second() / step_s as i64 * step_s as i64;
        let start = (end - (since_ms / 1000) as i64) / step_s as i64 * step_s as i64;
        let queries: BTreeMap<(String, String, String), String> = o
            .queries
            .iter()
            .map(|q| parse_query(q).expect("checked above"))
            .collect();
        for (kind, items) in &taken {
            let kind_l = match *kind {
                "Deployment" => "deployment",
                "StatefulSet" => "statefulset",
                _ => continue,
            };
            for w in items {
                let ns = w
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("default")
                    .to_string();
                let n = w
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let cpu_query = o
                    .cpu_query
                    .as_deref()
                    .unwrap_or(DEFAULT_CPU_QUERY)
                    .replace("$namespace", &ns)
                    .replace("$name", &n)
                    .replace("$pod_regex", &format!("{}-.*", regex_quote(&n)));
                let cpu = match prometheus::query_range(base, &cpu_query, start, end, step_s) {
                    Ok(s) => prometheus::total(&s),
                    Err(e) => return fail(1, e),
                };
                let key = (ns.clone(), kind_l.to_string(), n.clone());
                let file = format!("traces/{ns}-{kind_l}-{n}.csv");
                let target = format!("{ns}/{kind_l}/{n}");
                match queries.get(&key) {
                    Some(q) => {
                        let rps = match prometheus::query_range(base, q, start, end, step_s) {
                            Ok(s) => prometheus::total(&s),
                            Err(e) => return fail(1, e),
                        };
                        if rps.is_empty() {
                            report.warnings.push(format!("{target}: the request-rate query returned no samples: no load entry"));
                            continue;
                        }
                        let per = prometheus::fit_cpu_per_request(&cpu, &rps);
                        if per.is_none() {
                            report.warnings.push(format!("{target}: no CPU usage samples to fit cpuPerRequest: 1m assumed (edit it)"));
                        }
                        let milli = per.map_or(1.0, |k| k * 1000.0);
                        traces.push((file.clone(), prometheus::to_csv(&rps)));
                        loads.push(json!({
                            "target": target,
                            "requestsPerSecond": {"trace": file},
                            "cpuPerRequest": format!("{}m", fmt_milli(milli)),
                        }));
                    }
                    None => {
                        if cpu.is_empty() {
                            report.notes.push(format!(
                                "{target}: no CPU usage in Prometheus: no load entry"
                            ));
                            continue;
                        }
                        // Without a request rate, the load is the CPU it used: one "request"
                        // is one core-second.
                        traces.push((file.clone(), prometheus::to_csv(&cpu)));
                        loads.push(json!({
                            "target": target,
                            "requestsPerSecond": {"trace": file},
                            "cpuPerRequest": "1",
                        }));
                    }
                }
            }
        }
        report.taken.insert("load traces", traces.len());
        if queries.keys().any(|k| {
            !loads
                .iter()
                .any(|l| l["target"] == format!("{}/{}/{}", k.0, k.1, k.2))
        }) {
            report
                .warnings
                .push("a --query names a workload the snapshot does not hold: ignored".into());
        }
    }

    // The scenario.
    let mut cloud = json!({"provider": "aws"});
    if let Some(r) = &converted.region {
        cloud["region"] = json!(r);
    }
    if !converted.zones.is_empty() {
        cloud["zones"] = json!(converted.zones);
    }
    if !converted.groups.is_empty() {
        cloud["nodeGroups"] = json!(converted.groups);
    }
    let mut spec =
        json!({"duration": duration, "seed": 1, "cloud": cloud, "nodes": converted.nodes});
    let files: Vec<(String, String)> = manifest_files(&taken);
    if !files.is_empty() {
        spec["manifests"] = json!(["manifests/"]);
    }
    if !loads.is_empty() {
        spec["load"] = json!(loads);
    }
    if !converted.cordoned.is_empty() {
        spec["steps"] = json!(
            converted
                .cordoned
                .iter()
                .map(|n| json!({"at": "0s", "run": format!("kubectl cordon {n}")}))
                .collect::<Vec<_>>()
        );
    }
    let scenario = json!({
        "apiVersion": "kscale.io/v1alpha1",
        "kind": "Scenario",
        "metadata": {"name": name},
        "spec": spec,
    });
    let header = format!(
        "# Written by `kscale snapshot` from {server}: the cluster's nodes and workloads.\n# Add load (spec.load) and steps to ask what it would do; see snapshot.txt.\n"
    );
    let text = report.text(&server);
    let mut out_files = vec![
        (
            "scenario.yaml".to_string(),
            header + &kscale_kubectl::to_yaml(&scenario),
        ),
        ("snapshot.txt".to_string(), text.clone()),
    ];
    out_files.extend(files);
    out_files.extend(traces);
    if let Err(e) = write_folder(&o.out, &out_files) {
        return fail(1, e);
    }
    if !o.quiet {
        eprint!("{text}");
        eprintln!("\nwrote {}", o.out.join("scenario.yaml").display());
    }
    ExitCode::SUCCESS
}

/// A milli-core figure with at most three decimals.
fn fmt_milli(m: f64) -> String {
    let s = format!("{m:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Escapes a name for a PromQL regular expression.
fn regex_quote(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = ".+*?()|[]{}^$\\".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect::<String>()
        .replace('\\', "\\\\")
}

/// An object with `apiVersion`, `kind`, `metadata` first (as manifests are written).
fn ordered(v: Value) -> Value {
    let Value::Object(mut m) = v else {
        return v;
    };
    let mut out = Map::new();
    for k in ["apiVersion", "kind", "metadata"] {
        if let Some(x) = m.remove(k) {
            out.insert(k.into(), x);
        }
    }
    out.extend(m);
    Value::Object(out)
}

/// The manifest files: one per kind (Karpenter's kinds share one), documents separated by
/// `---`.
fn manifest_files(taken: &[(&'static str, Vec<Value>)]) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = Vec::new();
    for (kind, items) in taken {
        if items.is_empty() {
            continue;
        }
        let file = objects::KINDS
            .iter()
            .find(|k| k.1 == *kind)
            .map(|k| k.4)
            .expect("taken kinds come from KINDS");
        let path = format!("manifests/{file}");
        let mut text = String::new();
        for item in items {
            text.push_str("---\n");
            text.push_str(&kscale_kubectl::to_yaml(item));
        }
        match files.iter_mut().find(|(p, _)| *p == path) {
            Some((_, t)) => t.push_str(&text),
            None => files.push((path, text)),
        }
    }
    files
}

/// Whether `out` may be written: missing, empty, an earlier snapshot, or `force`.
fn check_out(out: &Path, force: bool) -> Result<(), String> {
    let meta = match std::fs::symlink_metadata(out) {
        Ok(m) => m,
        Err(_) => return Ok(()),
    };
    if !meta.is_dir() {
        return Err(format!(
            "--out {}: exists and is not a directory",
            out.display()
        ));
    }
    let mut entries = std::fs::read_dir(out)
        .map_err(|e| format!("--out {}: {e}", out.display()))?
        .filter_map(Result::ok);
    let empty = entries.next().is_none();
    if empty || force || out.join(MARKER).is_file() {
        return Ok(());
    }
    Err(format!(
        "--out {}: holds files kscale snapshot did not write (no {MARKER} marker); pass --force to replace it",
        out.display()
    ))
}

/// Writes the files into a staging folder next to `out` and moves it into place.
fn write_folder(out: &Path, files: &[(String, String)]) -> Result<(), String> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    let base = out
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "snapshot".into());
    let staging = parent.join(format!(".{base}.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let _live = kscale_report::LiveStaging::register(&staging);
    let result = (|| {
        for (rel, text) in files.iter().map(|(p, t)| (p.as_str(), t.as_str())).chain([(
            MARKER,
            "Written by kscale snapshot; a later snapshot into this folder replaces it.\n",
        )]) {
            let path = staging.join(rel);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("creating {}: {e}", dir.display()))?;
            }
            std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        }
        if out.exists() {
            let aside = parent.join(format!(".{base}.old-{}", std::process::id()));
            std::fs::rename(out, &aside)
                .map_err(|e| format!("moving {} aside: {e}", out.display()))?;
            std::fs::rename(&staging, out)
                .map_err(|e| format!("moving the snapshot into {}: {e}", out.display()))?;
            let _ = std::fs::remove_dir_all(&aside);
        } else {
            std::fs::rename(&staging, out)
                .map_err(|e| format!("moving the snapshot into {}: {e}", out.display()))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

/// `kscale trace from-prometheus FILE.json`: a saved range-query response as a trace CSV
/// (the sum of its series), on stdout or into `out`.
pub fn trace_from_prometheus(file: &Path, out: Option<&Path>) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return fail(2, format!("cannot read {}: {e}", file.display())),
    };
    let series = match prometheus::parse_range(&text, &file.display().to_string()) {
        Ok(s) => s,
        Err(e) => return fail(2, e),
    };
    let points = prometheus::total(&series);
    if points.is_empty() {
        return fail(
            2,
            format!("{}: the response holds no samples", file.display()),
        );
    }
    let csv = prometheus::to_csv(&points);
    match out {
        Some(p) => {
            if let Err(e) = std::fs::write(p, csv) {
                return fail(1, format!("writing {}: {e}", p.display()));
            }
        }
        None => print!("{csv}"),
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_name_their_workload() {
        let ((ns, kind, name), q) = parse_query("shop/Deployment/web=sum(rate(x[1m]))").unwrap();
        assert_eq!(
            (ns.as_str(), kind.as_str(), name.as_str(), q.as_str()),
            ("shop", "deployment", "web", "sum(rate(x[1m]))")
        );
        assert!(
            parse_query("web=x")
                .unwrap_err()
                .contains("NAMESPACE/KIND/NAME")
        );
        assert!(
            parse_query("a/job/b=x")
                .unwrap_err()
                .contains("no load model")
        );
        assert!(
            parse_query("a/deployment/b")
                .unwrap_err()
                .contains("expected")
        );
    }

    #[test]
    fn names_and_quotes() {
        assert_eq!(scenario_name(Path::new("/x/My_Cluster")), "my-cluster");
        assert_eq!(scenario_name(Path::new("/")), "snapshot");
        assert_eq!(regex_quote("a.b"), "a\\\\.b");
        assert_eq!(fmt_milli(20.0), "20");
        assert_eq!(fmt_milli(2.5), "2.5");
    }
}
