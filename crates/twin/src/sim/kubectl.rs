//! Executing kubectl steps against the twin.
//!
//! A step is tokenised as a shell would (`shell-words`), parsed into verb, positional arguments
//! and flags, and executed against the simulated API. Output and error texts follow kubectl's
//! own wording so transcripts read like a terminal session. Parse errors (unknown verb or flag)
//! are found when the scenario is loaded ([`parse_line`]); run-time errors (NotFound, ...) are
//! recorded in the transcript with exit code 1.

use std::collections::BTreeMap;
use std::sync::Arc;

use kscale_model::{LabelSelector, Taint, TaintEffect};
use kscale_report::TranscriptEntry;
use serde_json::{Value, json};

use super::Sim;
use super::ops::kind_ref;
use super::store::ObjKey;

/// Resource names kubectl accepts (plural, singular, short names, `kind.group`) → Kind.
pub fn resolve_kind(s: &str) -> Option<&'static str> {
    let base = s.split('.').next().unwrap_or(s).to_ascii_lowercase();
    Some(match base.as_str() {
        "pods" | "pod" | "po" => "Pod",
        "deployments" | "deployment" | "deploy" => "Deployment",
        "replicasets" | "replicaset" | "rs" => "ReplicaSet",
        "statefulsets" | "statefulset" | "sts" => "StatefulSet",
        "daemonsets" | "daemonset" | "ds" => "DaemonSet",
        "nodes" | "node" | "no" => "Node",
        "namespaces" | "namespace" | "ns" => "Namespace",
        "configmaps" | "configmap" | "cm" => "ConfigMap",
        "secrets" | "secret" => "Secret",
        "services" | "service" | "svc" => "Service",
        "serviceaccounts" | "serviceaccount" | "sa" => "ServiceAccount",
        "priorityclasses" | "priorityclass" | "pc" => "PriorityClass",
        "horizontalpodautoscalers" | "horizontalpodautoscaler" | "hpa" => "HorizontalPodAutoscaler",
        "poddisruptionbudgets" | "poddisruptionbudget" | "pdb" => "PodDisruptionBudget",
        "clusterroles" | "clusterrole" => "ClusterRole",
        "clusterrolebindings" | "clusterrolebinding" => "ClusterRoleBinding",
        "roles" | "role" => "Role",
        "rolebindings" | "rolebinding" => "RoleBinding",
        "events" | "event" | "ev" => "Event",
        "nodepools" | "nodepool" => "NodePool",
        "provisioners" | "provisioner" => "Provisioner",
        "nodeclaims" | "nodeclaim" => "NodeClaim",
        "ec2nodeclasses" | "ec2nodeclass" => "EC2NodeClass",
        "awsnodetemplates" | "awsnodetemplate" => "AWSNodeTemplate",
        "capacitybuffers" | "capacitybuffer" => "CapacityBuffer",
        _ => return None,
    })
}

const VALUE_FLAGS: &[&str] = &[
    "namespace",
    "output",
    "selector",
    "filename",
    "replicas",
    "current-replicas",
    "cpu-percent",
    "min",
    "max",
    "name",
    "patch",
    "type",
    "grace-period",
    "image",
    "timeout",
    "dry-run",
    "field-manager",
];
const BOOL_FLAGS: &[&str] = &[
    "all-namespaces",
    "all",
    "now",
    "force",
    "overwrite",
    "ignore-daemonsets",
    "delete-emptydir-data",
    "wait",
    "show-labels",
    "no-headers",
];
const VERBS: &[&str] = &[
    "apply",
    "create",
    "delete",
    "scale",
    "autoscale",
    "patch",
    "get",
    "describe",
    "label",
    "annotate",
    "taint",
    "cordon",
    "uncordon",
    "drain",
];

/// A parsed kubectl command line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Args {
    /// The verb (`get`, `scale`, ...).
    pub verb: String,
    /// Positional arguments after the verb.
    pub positional: Vec<String>,
    /// Flags by long name; repeated flags keep every value.
    pub flags: BTreeMap<String, Vec<String>>,
}

impl Args {
    fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }
    fn has(&self, name: &str) -> bool {
        self.flags
            .get(name)
            .is_some_and(|v| v.last().map(String::as_str) != Some("false"))
    }
    fn namespace(&self) -> String {
        self.flag("namespace").unwrap_or("default").to_string()
    }
    fn int_flag(&self, name: &str) -> Result<Option<i64>, String> {
        match self.flag(name) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| format!("error: invalid argument \"{v}\" for \"--{name}\" flag: strconv.ParseInt: parsing \"{v}\": invalid syntax")),
        }
    }
}

/// Parses a kubectl command line (a leading `kubectl` is optional). Errors use kubectl's words.
pub fn parse_line(line: &str) -> Result<Args, String> {
    let mut words =
        shell_words::split(line).map_err(|e| format!("error: cannot parse command line: {e}"))?;
    if words.first().map(String::as_str) == Some("kubectl") {
        words.remove(0);
    }
    let mut args = Args::default();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        if let Some(rest) = w.strip_prefix("--") {
            let (name, inline) = match rest.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (rest.to_string(), None),
            };
            if name == "watch" {
                return Err("error: --watch is not supported in a scenario step: steps run once at their time".into());
            }
            if VALUE_FLAGS.contains(&name.as_str()) {
                let v = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        words
                            .get(i)
                            .cloned()
                            .ok_or_else(|| format!("error: flag needs an argument: --{name}"))?
                    }
                };
                args.flags.entry(name).or_default().push(v);
            } else if BOOL_FLAGS.contains(&name.as_str()) {
                args.flags
                    .entry(name)
                    .or_default()
                    .push(inline.unwrap_or_else(|| "true".into()));
            } else {
                return Err(format!("error: unknown flag: --{name}"));
            }
        } else if w.starts_with('-')
            && w.len() > 1
            && !w[1..].starts_with(|c: char| c.is_ascii_digit())
        {
            let short = &w[1..2];
            let long = match short {
                "n" => "namespace",
                "o" => "output",
                "l" => "selector",
                "f" => "filename",
                "p" => "patch",
                "A" => "all-namespaces",
                "w" => return Err("error: --watch is not supported in a scenario step: steps run once at their time".into()),
                _ => return Err(format!("error: unknown shorthand flag: '{short}' in {w}")),
            };
            if long == "all-namespaces" {
                args.flags
                    .entry(long.into())
                    .or_default()
                    .push("true".into());
            } else {
                let rest = w[2..].trim_start_matches('=');
                let v = if rest.is_empty() {
                    i += 1;
                    words.get(i).cloned().ok_or_else(|| {
                        format!("error: flag needs an argument: '{short}' in -{short}")
                    })?
                } else {
                    rest.to_string()
                };
                args.flags.entry(long.into()).or_default().push(v);
            }
        } else if args.verb.is_empty() {
            if !VERBS.contains(&w.as_str()) {
                return Err(format!("error: unknown command \"{w}\" for \"kubectl\""));
            }
            args.verb = w.clone();
        } else {
            args.positional.push(w.clone());
        }
        i += 1;
    }
    if args.verb.is_empty() {
        return Err("error: no kubectl command given".into());
    }
    if let Some(o) = args.flag("output")
        && !matches!(o, "json" | "yaml" | "wide" | "name")
    {
        return Err(format!(
            "error: unable to match a printer suitable for the output format \"{o}\", allowed formats are: json,name,wide,yaml"
        ));
    }
    // Static checks kubectl does before contacting the server.
    match args.verb.as_str() {
        "scale" if args.flag("replicas").is_none() => {
            return Err("error: required flag(s) \"replicas\" not set".into());
        }
        "autoscale" if args.flag("max").is_none() => {
            return Err("error: required flag(s) \"max\" not set".into());
        }
        "patch" if args.flag("patch").is_none() => {
            return Err(
                "error: must specify --patch or --patch-file containing the contents of the patch"
                    .into(),
            );
        }
        "apply" if args.flag("filename").is_none() => {
            return Err("error: must specify one of -f and -k".into());
        }
        _ => {}
    }
    for f in [
        "replicas",
        "current-replicas",
        "cpu-percent",
        "min",
        "max",
        "grace-period",
    ] {
        args.int_flag(f)?;
    }
    Ok(args)
}

/// Splits `kind/name` or `kind name...` positionals into (Kind, names).
fn kind_and_names(pos: &[String]) -> Result<(&'static str, Vec<String>), String> {
    let first = pos
        .first()
        .ok_or("error: you must specify the type of resource to get")?;
    if let Some((k, n)) = first.split_once('/') {
        let kind = resolve_kind(k)
            .ok_or_else(|| format!("error: the server doesn't have a resource type \"{k}\""))?;
        let mut names = vec![n.to_string()];
        for p in &pos[1..] {
            names.push(
                p.split_once('/')
                    .map(|(_, n)| n.to_string())
                    .unwrap_or_else(|| p.clone()),
            );
        }
        return Ok((kind, names));
    }
    let kind = resolve_kind(first)
        .ok_or_else(|| format!("error: the server doesn't have a resource type \"{first}\""))?;
    Ok((kind, pos[1..].to_vec()))
}

/// kubectl's plural resource name (`deployments.apps`).
fn plural_ref(kind: &str) -> String {
    let r = kind_ref(kind);
    let (k, g) = r
        .split_once('.')
        .map(|(a, b)| (a.to_string(), format!(".{b}")))
        .unwrap_or((r.clone(), String::new()));
    let plural = if k.ends_with('s') {
        format!("{k}es")
    } else if k.ends_with('y') {
        format!("{}ies", &k[..k.len() - 1])
    } else {
        format!("{k}s")
    };
    format!("{plural}{g}")
}

impl Sim {
    /// Runs scenario step `i` and records it in the transcript.
    pub fn run_step(&mut self, i: usize) {
        let step = self.scenario.steps[i].clone();
        let (stdout, stderr, code) = match parse_line(&step.run) {
            Ok(args) => match self.exec(&args) {
                Ok(out) => (out, std::mem::take(&mut self.pending_stderr), 0),
                Err((out, err)) => (out, err, 1),
            },
            Err(e) => (String::new(), e, 1),
        };
        let nl = |s: String| {
            if s.is_empty() || s.ends_with('\n') {
                s
            } else {
                s + "\n"
            }
        };
        self.transcript.push(TranscriptEntry {
            at: self.now.as_secs_f64(),
            command: step.run,
            exit_code: code,
            stdout: nl(stdout),
            stderr: nl(stderr),
        });
    }

    /// Executes parsed kubectl arguments: Ok(stdout) or Err((stdout so far, stderr)).
    pub fn exec(&mut self, a: &Args) -> Result<String, (String, String)> {
        let e = |s: String| (String::new(), s);
        let ns = a.namespace();
        match a.verb.as_str() {
            "apply" | "create" if a.flag("filename").is_some() => {
                self.exec_apply(a, a.verb == "create")
            }
            "create" => {
                let (kind, names) = kind_and_names(&a.positional).map_err(e)?;
                match (kind, names.first()) {
                    ("Namespace", Some(n)) => {
                        if self.store.get(&ObjKey::new("Namespace", "", n)).is_some() {
                            return Err(e(format!(
                                "Error from server (AlreadyExists): namespaces \"{n}\" already exists"
                            )));
                        }
                        self.apply_value(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}, "status": {"phase": "Active"}}), None).map_err(e)?;
                        Ok(format!("namespace/{n} created"))
                    }
                    _ => Err(e(
                        "error: kscale supports `create -f FILE` and `create namespace NAME`"
                            .into(),
                    )),
                }
            }
            "delete" => self.exec_delete(a),
            "scale" => {
                let (kind, names) = kind_and_names(&a.positional).map_err(e)?;
                let replicas = a.int_flag("replicas").map_err(e)?.unwrap_or(0);
                let current = a.int_flag("current-replicas").map_err(e)?;
                let mut out = vec![];
                for n in names {
                    out.push(
                        self.scale(kind, &ns, &n, replicas, current)
                            .map_err(|m| (out.join("\n"), m))?,
                    );
                }
                Ok(out.join("\n"))
            }
            "autoscale" => {
                let (kind, names) = kind_and_names(&a.positional).map_err(e)?;
                let name = names
                    .first()
                    .ok_or_else(|| e("error: a resource name is required".into()))?;
                let min = a.int_flag("min").map_err(e)?.map(|x| x as i32);
                let max = a.int_flag("max").map_err(e)?.unwrap_or(0) as i32;
                let cpu = a.int_flag("cpu-percent").map_err(e)?.map(|x| x as i32);
                self.autoscale(kind, &ns, name, a.flag("name"), min, max, cpu)
                    .map_err(e)
            }
            "patch" => self.exec_patch(a),
            "get" => self.exec_get(a),
            "describe" => self.exec_describe(a),
            "label" | "annotate" => {
                let (kind, names) =
                    kind_and_names(&a.positional[..1.min(a.positional.len())]).map_err(e)?;
                let mut rest: Vec<String> = a.positional[1..].to_vec();
                let names = if names.is_empty() && !rest.is_empty() {
                    vec![rest.remove(0)]
                } else {
                    names
                };
                let mut set = vec![];
                let mut remove = vec![];
                for kv in rest {
                    if let Some((k, v)) = kv.split_once('=') {
                        set.push((k.to_string(), v.to_string()));
                    } else if let Some(k) = kv.strip_suffix('-') {
                        remove.push(k.to_string());
                    } else {
                        return Err(e(format!("error: invalid label spec: {kv}")));
                    }
                }
                let field = if a.verb == "label" {
                    "labels"
                } else {
                    "annotations"
                };
                let mut out = vec![];
                for n in names {
                    out.push(
                        self.set_metadata(field, kind, &ns, &n, &set, &remove, a.has("overwrite"))
                            .map_err(|m| (out.join("\n"), m))?,
                    );
                }
                Ok(out.join("\n"))
            }
            "taint" => {
                let (kind, names) =
                    kind_and_names(&a.positional[..1.min(a.positional.len())]).map_err(e)?;
                if kind != "Node" {
                    return Err(e("error: taint is only supported on nodes".into()));
                }
                let mut rest: Vec<String> = a.positional[1..].to_vec();
                let names = if names.is_empty() && !rest.is_empty() {
                    vec![rest.remove(0)]
                } else {
                    names
                };
                let (mut add, mut remove) = (vec![], vec![]);
                for spec in rest {
                    if let Some(s) = spec.strip_suffix('-') {
                        let (k, eff) = match s.split_once(':') {
                            Some((k, ef)) => (k, Some(TaintEffect::parse(ef).ok_or_else(|| e(format!("error: invalid taint effect: {ef}, unsupported taint effect")))?)),
                            None => (s, None),
                        };
                        remove.push((k.split('=').next().unwrap_or(k).to_string(), eff));
                    } else {
                        let (kv, ef) = spec
                            .split_once(':')
                            .ok_or_else(|| e(format!("error: invalid taint spec: {spec}")))?;
                        let effect = TaintEffect::parse(ef).ok_or_else(|| {
                            e(format!(
                                "error: invalid taint effect: {ef}, unsupported taint effect"
                            ))
                        })?;
                        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                        add.push(Taint {
                            key: k.into(),
                            value: v.into(),
                            effect,
                        });
                    }
                }
                let mut out = vec![];
                for n in names {
                    out.push(
                        self.taint(&n, add.clone(), remove.clone())
                            .map_err(|m| (out.join("\n"), m))?,
                    );
                }
                Ok(out.join("\n"))
            }
            "cordon" | "uncordon" => {
                let n = a
                    .positional
                    .first()
                    .ok_or_else(|| e(format!("error: USAGE: {} NODE [flags]", a.verb)))?;
                let n = n.strip_prefix("node/").unwrap_or(n);
                self.set_unschedulable(n, a.verb == "cordon").map_err(e)
            }
            "drain" => {
                let n = a
                    .positional
                    .first()
                    .ok_or_else(|| e("error: USAGE: drain NODE [flags]".into()))?;
                let n = n.strip_prefix("node/").unwrap_or(n);
                let grace = a
                    .int_flag("grace-period")
                    .map_err(e)?
                    .filter(|g| *g >= 0)
                    .map(|g| g as u64 * 1000);
                self.drain(n, a.has("force"), grace).map_err(e)
            }
            other => Err(e(format!(
                "error: unknown command \"{other}\" for \"kubectl\""
            ))),
        }
    }

    fn exec_apply(&mut self, a: &Args, create: bool) -> Result<String, (String, String)> {
        let files: Vec<std::path::PathBuf> = a.flags["filename"]
            .iter()
            .map(|f| self.scenario.base_dir.join(f))
            .collect();
        let (objects, warnings) = crate::manifest::load_paths(&files)
            .map_err(|err| (String::new(), format!("error: {err}")))?;
        self.warnings.extend(warnings);
        let mut out = vec![];
        for o in objects {
            let mut v = o.object;
            let kind = v
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let name = v
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if let Some(n) = a.flag("namespace")
                && !super::api::is_cluster_scoped(&kind)
                && v.pointer("/metadata/namespace").is_none()
            {
                v["metadata"]["namespace"] = json!(n);
            }
            if create && self.object_exists(&kind, &v) {
                return Err((
                    out.join("\n"),
                    format!(
                        "Error from server (AlreadyExists): error when creating \"{}\": {} \"{name}\" already exists",
                        o.file.display(),
                        plural_ref(&kind)
                    ),
                ));
            }
            match self.apply_value(v, Some(o.raw)) {
                Ok(outcome) => out.push(format!(
                    "{}/{name} {}",
                    kind_ref(&kind),
                    if create { "created" } else { outcome.as_str() }
                )),
                Err(msg) => {
                    return Err((
                        out.join("\n"),
                        format!(
                            "Error from server: error when applying \"{}\": {msg}",
                            o.file.display()
                        ),
                    ));
                }
            }
        }
        Ok(out.join("\n"))
    }

    fn object_exists(&self, kind: &str, v: &Value) -> bool {
        let name = v
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let ns = v
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default");
        match kind {
            "Pod" => self
                .pod_names
                .contains_key(&(Arc::from(ns), Arc::from(name))),
            "Node" => self.nodes.contains_key(name),
            _ => self
                .store
                .get(&ObjKey::new(
                    kind,
                    if super::api::is_cluster_scoped(kind) {
                        ""
                    } else {
                        ns
                    },
                    name,
                ))
                .is_some(),
        }
    }

    fn exec_delete(&mut self, a: &Args) -> Result<String, (String, String)> {
        let grace = a
            .int_flag("grace-period")
            .map_err(|m| (String::new(), m))?
            .filter(|g| *g >= 0)
            .map(|g| g as u64 * 1000)
            .or(if a.has("now") { Some(1000) } else { None });
        let mut targets: Vec<(&'static str, String, String)> = vec![];
        if let Some(files) = a.flags.get("filename") {
            let paths: Vec<std::path::PathBuf> = files
                .iter()
                .map(|f| self.scenario.base_dir.join(f))
                .collect();
            let (objects, _) = crate::manifest::load_paths(&paths)
                .map_err(|err| (String::new(), format!("error: {err}")))?;
            for o in objects {
                let kind = o
                    .object
                    .get("kind")
                    .and_then(Value::as_str)
                    .and_then(resolve_kind_name)
                    .unwrap_or("Unknown");
                let ns = o
                    .object
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| a.namespace());
                targets.push((
                    kind,
                    ns,
                    o.object
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                ));
            }
        } else {
            let (kind, names) = kind_and_names(&a.positional).map_err(|m| (String::new(), m))?;
            if names.is_empty() {
                if a.has("all") || a.flag("selector").is_some() {
                    for obj in self.select(kind, a)? {
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
                        targets.push((kind, ns, n));
                    }
                    if targets.is_empty() {
                        self.pending_stderr =
                            format!("No resources found in {} namespace.", a.namespace());
                        return Ok(String::new());
                    }
                } else {
                    return Err((
                        String::new(),
                        "error: resource(s) were provided, but no name was specified".into(),
                    ));
                }
            }
            for n in names {
                targets.push((kind, a.namespace(), n));
            }
        }
        let mut out = vec![];
        for (kind, ns, name) in targets {
            if self.delete_object(kind, &ns, &name, grace) {
                out.push(format!("{} \"{name}\" deleted", kind_ref(kind)));
            } else {
                return Err((
                    out.join("\n"),
                    format!(
                        "Error from server (NotFound): {} \"{name}\" not found",
                        plural_ref(kind)
                    ),
                ));
            }
        }
        Ok(out.join("\n"))
    }

    fn exec_patch(&mut self, a: &Args) -> Result<String, (String, String)> {
        let e = |s: String| (String::new(), s);
        let (kind, names) = kind_and_names(&a.positional).map_err(e)?;
        let name = names
            .first()
            .ok_or_else(|| e("error: a resource name is required".into()))?
            .clone();
        let ns = a.namespace();
        let current = self.get_one(kind, &ns, &name).ok_or_else(|| {
            e(format!(
                "Error from server (NotFound): {} \"{name}\" not found",
                plural_ref(kind)
            ))
        })?;
        let patch_text = a.flag("patch").unwrap_or("");
        let patch: Value = serde_json::from_str(patch_text)
            .map_err(|err| e(format!("error: unable to parse \"{patch_text}\": {err}")))?;
        let mut patched = current.clone();
        match a.flag("type").unwrap_or("strategic") {
            "strategic" => strategic_merge(&mut patched, &patch),
            "merge" => json_patch::merge(&mut patched, &patch),
            "json" => {
                let p: json_patch::Patch = serde_json::from_value(patch)
                    .map_err(|err| e(format!("error: unable to parse JSON patch: {err}")))?;
                json_patch::patch(&mut patched, &p)
                    .map_err(|err| e(format!("The request is invalid: {err}")))?;
            }
            t => {
                return Err(e(format!(
                    "error: --type must be one of [json merge strategic], not \"{t}\""
                )));
            }
        }
        if patched == current {
            return Ok(format!("{}/{name} patched (no change)", kind_ref(kind)));
        }
        match kind {
            "Node" => {
                let n = self.nodes.get_mut(name.as_str()).expect("exists");
                n.info.unschedulable = patched
                    .pointer("/spec/unschedulable")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                n.info.taints = patched
                    .pointer("/spec/taints")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|t| {
                        Some(Taint {
                            key: t.get("key")?.as_str()?.into(),
                            value: t.get("value").and_then(Value::as_str).unwrap_or("").into(),
                            effect: TaintEffect::parse(t.get("effect")?.as_str()?)?,
                        })
                    })
                    .collect();
                if let Some(l) = patched
                    .pointer("/metadata/labels")
                    .and_then(Value::as_object)
                {
                    n.info.labels = l
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                        .collect();
                }
                self.cluster_changed();
            }
            "Pod" => {
                let meta_only = {
                    let strip = |v: &Value| v.get("spec").cloned();
                    strip(&patched) == strip(&current)
                };
                if !meta_only {
                    return Err(e(format!(
                        "The Pod \"{name}\" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations) or `spec.terminationGracePeriodSeconds`"
                    )));
                }
                let labels: Vec<(String, String)> = patched
                    .pointer("/metadata/labels")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                let old: Vec<String> = current
                    .pointer("/metadata/labels")
                    .and_then(Value::as_object)
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                let removed: Vec<String> = old
                    .into_iter()
                    .filter(|k| !labels.iter().any(|(l, _)| l == k))
                    .collect();
                self.set_metadata("labels", "Pod", &ns, &name, &labels, &removed, true)
                    .map_err(e)?;
            }
            _ => {
                if let Some(o) = patched.as_object_mut() {
                    o.remove("status");
                }
                let canonical = crate::manifest::canonicalize_json(&patched)
                    .map_err(|m| e(format!("The {kind} \"{name}\" is invalid: {m}")))?;
                self.apply_value(canonical, Some(patched)).map_err(e)?;
            }
        }
        Ok(format!("{}/{name} patched", kind_ref(kind)))
    }

    /// One rendered object, if it exists.
    pub fn get_one(&self, kind: &str, ns: &str, name: &str) -> Option<Value> {
        match kind {
            "Pod" => self
                .pod_names
                .get(&(Arc::from(ns), Arc::from(name)))
                .map(|id| self.render_pod(&self.pods[id])),
            "Node" => self.nodes.get(name).map(|n| self.render_node(n)),
            _ => {
                let key = ObjKey::new(
                    kind,
                    if super::api::is_cluster_scoped(kind) {
                        ""
                    } else {
                        ns
                    },
                    name,
                );
                self.store.get(&key).map(|v| self.render_stored(&key, v))
            }
        }
    }

    fn select(&self, kind: &str, a: &Args) -> Result<Vec<Value>, (String, String)> {
        let sel = match a.flag("selector") {
            Some(s) => {
                Some(LabelSelector::parse(s).map_err(|m| (String::new(), format!("error: {m}")))?)
            }
            None => None,
        };
        let ns = if a.has("all-namespaces") {
            None
        } else {
            Some(a.namespace())
        };
        let objs = if kind == "Event" {
            self.render_events(ns.as_deref())
        } else {
            self.list_rendered(kind, ns.as_deref())
        };
        Ok(objs
            .into_iter()
            .filter(|o| {
                sel.as_ref().is_none_or(|s| {
                    let labels: kscale_model::labels::Labels = o
                        .pointer("/metadata/labels")
                        .and_then(Value::as_object)
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                                .collect()
                        })
                        .unwrap_or_default();
                    s.matches(&labels)
                })
            })
            .collect())
    }

    fn render_events(&self, ns: Option<&str>) -> Vec<Value> {
        self.events
            .iter()
            .filter(|ev| ns.is_none_or(|n| ev.involved_object.namespace == n))
            .enumerate()
            .map(|(i, ev)| {
                let t = kscale_model::SimTime((ev.time * 1000.0).round() as u64);
                json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": format!("{}.{i:x}", ev.involved_object.name), "namespace": ev.involved_object.namespace, "creationTimestamp": self.timestamp(t)},
                    "type": ev.type_, "reason": ev.reason, "message": ev.message, "involvedObject": {"kind": ev.involved_object.kind, "name": ev.involved_object.name, "namespace": ev.involved_object.namespace},
                    "source": {"component": ev.source}, "firstTimestamp": self.timestamp(t), "lastTimestamp": self.timestamp(t), "count": 1})
            })
            .collect()
    }

    fn exec_get(&mut self, a: &Args) -> Result<String, (String, String)> {
        let e = |s: String| (String::new(), s);
        let first = a
            .positional
            .first()
            .ok_or_else(|| e("error: you must specify the type of resource to get".into()))?;
        let mut items = vec![];
        let mut kinds = vec![];
        let kind_list: Vec<String> = if first.contains('/') {
            vec![first.clone()]
        } else {
            first.split(',').map(str::to_string).collect()
        };
        for kspec in &kind_list {
            let mut pos = vec![kspec.clone()];
            pos.extend(a.positional[1..].iter().cloned());
            let (kind, names) = kind_and_names(&pos).map_err(e)?;
            kinds.push(kind);
            if names.is_empty() {
                for o in self.select(kind, a)? {
                    items.push((kind, o));
                }
            } else {
                for n in names {
                    match self.get_one(kind, &a.namespace(), &n) {
                        Some(o) => items.push((kind, o)),
                        None => {
                            return Err(e(format!(
                                "Error from server (NotFound): {} \"{n}\" not found",
                                plural_ref(kind)
                            )));
                        }
                    }
                }
            }
        }
        let single = a.positional.len() == 2 && !first.contains(',')
            || (first.contains('/') && a.positional.len() == 1);
        match a.flag("output") {
            Some("json") | Some("yaml") => {
                let v = if single && items.len() == 1 {
                    items.remove(0).1
                } else {
                    json!({"apiVersion": "v1", "kind": "List", "items": items.into_iter().map(|(_, o)| o).collect::<Vec<_>>(), "metadata": {"resourceVersion": ""}})
                };
                if a.flag("output") == Some("json") {
                    Ok(serde_json::to_string_pretty(&v).expect("JSON values serialize"))
                } else {
                    Ok(crate::printers::to_yaml(&v))
                }
            }
            Some("name") => Ok(items
                .iter()
                .map(|(k, o)| {
                    format!(
                        "{}/{}",
                        kind_ref(k),
                        o.pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")),
            other => {
                if items.is_empty() {
                    let where_ = if a.has("all-namespaces")
                        || kinds.iter().all(|k| super::api::is_cluster_scoped(k))
                    {
                        String::new()
                    } else {
                        format!(" in {} namespace", a.namespace())
                    };
                    self.pending_stderr = format!("No resources found{where_}.");
                    return Ok(String::new());
                }
                let wide = other == Some("wide");
                let now = self.now;
                let mut out = vec![];
                for k in &kinds {
                    let objs: Vec<&Value> = items
                        .iter()
                        .filter(|(kk, _)| kk == k)
                        .map(|(_, o)| o)
                        .collect();
                    if !objs.is_empty() {
                        out.push(crate::printers::table(
                            k,
                            &objs,
                            wide,
                            a.has("all-namespaces"),
                            |ts| self.age(ts, now),
                        ));
                    }
                }
                Ok(out.join("\n"))
            }
        }
    }

    fn age(&self, ts: &str, now: kscale_model::SimTime) -> String {
        let t = ts
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_millisecond())
            .unwrap_or(self.start_unix_ms);
        let ms = (self.start_unix_ms + now.as_millis() as i64 - t).max(0) as u64;
        crate::printers::human_duration(ms)
    }

    fn exec_describe(&mut self, a: &Args) -> Result<String, (String, String)> {
        let e = |s: String| (String::new(), s);
        let (kind, names) = kind_and_names(&a.positional).map_err(e)?;
        let objs: Vec<Value> = if names.is_empty() {
            self.select(kind, a)?
        } else {
            names
                .iter()
                .map(|n| {
                    self.get_one(kind, &a.namespace(), n).ok_or_else(|| {
                        e(format!(
                            "Error from server (NotFound): {} \"{n}\" not found",
                            plural_ref(kind)
                        ))
                    })
                })
                .collect::<Result<_, _>>()?
        };
        let now = self.now;
        let mut out = vec![];
        for o in objs {
            let name = o
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let evs: Vec<(String, String, String, String, String)> = self
                .events
                .iter()
                .filter(|ev| ev.involved_object.kind == kind && ev.involved_object.name == name)
                .map(|ev| {
                    (
                        ev.type_.clone(),
                        ev.reason.clone(),
                        crate::printers::human_duration(
                            now.as_millis().saturating_sub((ev.time * 1000.0) as u64),
                        ),
                        ev.source.clone(),
                        ev.message.clone(),
                    )
                })
                .collect();
            out.push(crate::printers::describe(kind, &o, &evs));
        }
        Ok(out.join("\n\n"))
    }
}

fn resolve_kind_name(kind: &str) -> Option<&'static str> {
    resolve_kind(&kind.to_ascii_lowercase())
}

/// Strategic merge patch (k8s.io/apimachinery/pkg/util/strategicpatch) for the fields users
/// patch: maps merge recursively, `null` deletes a key, lists of objects merge by their
/// `patchMergeKey` (`name` for containers, env, volumes; `containerPort` for ports; `key` for
/// taints; `type` for conditions; `mountPath` for volumeMounts), `$patch: delete` removes a
/// list element, `$patch: replace` replaces a map or list; other lists are replaced.
/// `$retainKeys` and `$setElementOrder` directives are ignored.
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    strategic_merge_at(target, patch, "")
}

fn merge_key(field: &str) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => "name",
        "ports" => "containerPort",
        "volumeMounts" => "mountPath",
        "taints" => "key",
        "conditions" => "type",
        _ => return None,
    })
}

fn strategic_merge_at(target: &mut Value, patch: &Value, field: &str) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            if p.get("$patch").and_then(Value::as_str) == Some("replace") {
                let mut p = p.clone();
                p.remove("$patch");
                *target = Value::Object(p);
                return;
            }
            for (k, pv) in p {
                if k.starts_with('$') {
                    continue;
                }
                if pv.is_null() {
                    t.remove(k);
                    continue;
                }
                match t.get_mut(k) {
                    Some(tv) => {
                        if let (Some(ta), Some(pa), Some(mk)) =
                            (tv.as_array_mut(), pv.as_array(), merge_key(k))
                        {
                            merge_list(ta, pa, mk, k);
                        } else if tv.is_object() && pv.is_object() {
                            strategic_merge_at(tv, pv, k);
                        } else {
                            *tv = strip_directives(pv);
                        }
                    }
                    None => {
                        t.insert(k.clone(), strip_directives(pv));
                    }
                }
            }
        }
        _ => {
            let _ = field;
            *target = strip_directives(patch);
        }
    }
}

fn merge_list(target: &mut Vec<Value>, patch: &[Value], key: &str, field: &str) {
    if patch
        .iter()
        .any(|p| p.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *target = patch
            .iter()
            .filter(|p| p.get("$patch").is_none())
            .map(strip_directives)
            .collect();
        return;
    }
    for p in patch {
        let id = p.get(key);
        let pos = id.and_then(|id| target.iter().position(|t| t.get(key) == Some(id)));
        let delete = p.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                target.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic_merge_at(&mut target[i], p, field),
            (None, false) => target.push(strip_directives(p)),
        }
    }
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, x)| (k.clone(), strip_directives(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        x => x.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags_and_verbs() {
        let a = parse_line("kubectl scale deployment nginx-app --replicas=2 -n web").unwrap();
        assert_eq!(a.verb, "scale");
        assert_eq!(a.positional, vec!["deployment", "nginx-app"]);
        assert_eq!(a.flag("replicas"), Some("2"));
        assert_eq!(a.namespace(), "web");
        let a = parse_line("get po -o wide -A -l 'app in (a,b)'").unwrap();
        assert_eq!(a.flag("output"), Some("wide"));
        assert!(a.has("all-namespaces"));
        assert_eq!(a.flag("selector"), Some("app in (a,b)"));
        assert_eq!(
            parse_line("kubectl frobnicate x").unwrap_err(),
            "error: unknown command \"frobnicate\" for \"kubectl\""
        );
        assert_eq!(
            parse_line("kubectl get pods --bogus").unwrap_err(),
            "error: unknown flag: --bogus"
        );
        assert_eq!(
            parse_line("kubectl scale deploy web").unwrap_err(),
            "error: required flag(s) \"replicas\" not set"
        );
        assert!(
            parse_line("kubectl scale deploy web --replicas=two")
                .unwrap_err()
                .contains("invalid argument \"two\" for \"--replicas\"")
        );
        assert!(
            parse_line("kubectl get pods -w")
                .unwrap_err()
                .contains("--watch")
        );
        assert!(
            parse_line("kubectl get pods -o table")
                .unwrap_err()
                .contains("unable to match a printer")
        );
    }

    #[test]
    fn resolves_aliases() {
        assert_eq!(resolve_kind("deploy"), Some("Deployment"));
        assert_eq!(resolve_kind("deployments.apps"), Some("Deployment"));
        assert_eq!(resolve_kind("po"), Some("Pod"));
        assert_eq!(resolve_kind("hpa"), Some("HorizontalPodAutoscaler"));
        assert_eq!(resolve_kind("foos"), None);
        assert_eq!(plural_ref("Deployment"), "deployments.apps");
        assert_eq!(
            plural_ref("PriorityClass"),
            "priorityclasses.scheduling.k8s.io"
        );
    }

    #[test]
    fn strategic_merge_patches_containers_by_name() {
        let mut d = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}]},
            {"name": "side", "image": "side:1"}]}}, "replicas": 1, "paused": true}});
        let p = json!({"spec": {"replicas": 3, "paused": null, "template": {"spec": {"containers": [
            {"name": "app", "image": "app:2", "env": [{"name": "B", "value": "2"}]},
            {"name": "side", "$patch": "delete"},
            {"name": "new", "image": "new:1"}]}}}});
        strategic_merge(&mut d, &p);
        assert_eq!(
            d,
            json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "app:2", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "new", "image": "new:1"}]}}, "replicas": 3}})
        );
        // Lists without a merge key are replaced.
        let mut t = json!({"spec": {"tolerations": [{"key": "a"}]}});
        strategic_merge(&mut t, &json!({"spec": {"tolerations": [{"key": "b"}]}}));
        assert_eq!(t, json!({"spec": {"tolerations": [{"key": "b"}]}}));
    }
}
