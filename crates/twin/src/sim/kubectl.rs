//! Executing kubectl steps against the twin.
//!
//! Parsing, patches and printing come from the `kscale-kubectl` crate (kubectl's own wording);
//! this module executes the parsed [`Command`] against the simulated API. Parse errors (unknown
//! verb or flag) are found when the scenario is loaded ([`parse_line`]); run-time errors
//! (NotFound, ...) are recorded in the transcript with exit code 1, as a shell would see them.

use std::sync::Arc;

use kscale_kubectl::{
    Command, CreateCommand, DeleteTarget, DescribeEvent, Invocation, Kind, MetaChange, ObjectRef,
    OutputFormat, PrintOptions, TaintChange, Target,
};
use kscale_model::{LabelSelector, Taint, TaintEffect};
use kscale_report::TranscriptEntry;
use serde_json::{Value, json};

use super::Sim;
use super::store::ObjKey;

/// Parses a kubectl command line (a leading `kubectl` is optional).
pub fn parse_line(line: &str) -> Result<Invocation, kscale_kubectl::KubectlError> {
    kscale_kubectl::parse_command_line(line)
}

/// The `kind` name (`Deployment`) of a parsed kind.
fn kname(k: Kind) -> &'static str {
    k.info().name
}

/// A step's stdout, or what it printed before failing and its stderr.
pub(crate) type StepResult = Result<String, (String, String)>;

fn not_found(kind: Kind, name: &str) -> String {
    format!(
        "Error from server (NotFound): {} \"{name}\" not found",
        kind.info().qualified_plural()
    )
}

impl Sim {
    /// Runs scenario step `i` and records it in the transcript.
    pub fn run_step(&mut self, i: usize) {
        let step = self.scenario.steps[i].clone();
        let parsed = parse_line(&step.run);
        // kubectl's JSONPath printer writes no newline of its own (only the template's).
        let jsonpath_output = parsed
            .as_ref()
            .is_ok_and(|inv| matches!(inv.global.output, Some(OutputFormat::JsonPath(_))));
        let (stdout, stderr, code) = match parsed {
            Ok(Invocation {
                global,
                command:
                    Command::RolloutStatus {
                        target,
                        watch,
                        timeout_ms,
                    },
            }) => {
                let ns = global.namespace.as_deref().unwrap_or("default");
                match self.start_rollout_status(&step.run, ns, &target, watch, timeout_ms) {
                    // Still running: recorded when it ends.
                    None => return,
                    Some(Ok(out)) => (out, String::new(), 0),
                    Some(Err((out, err))) => (out, err, 1),
                }
            }
            Ok(
                ref inv @ Invocation {
                    command:
                        Command::Wait {
                            ref targets,
                            ref wait_for,
                            timeout_ms,
                            ..
                        },
                    ..
                },
            ) => match self.start_wait(&step.run, inv, targets, wait_for, timeout_ms) {
                None => return,
                Some(Ok(out)) => (out, String::new(), 0),
                Some(Err((out, err))) => (out, err, 1),
            },
            Ok(inv) => match self.exec(&inv) {
                Ok(out) => (out, self.recorder.take_step_stderr(), 0),
                Err((out, err)) => (out, err, 1),
            },
            Err(e) if e.may_be_custom_kind() => match self.exec_custom_get(&step.run) {
                Some(Ok(out)) => (out, self.recorder.take_step_stderr(), 0),
                Some(Err(err)) => (String::new(), err, 1),
                None => (String::new(), e.to_string(), 1),
            },
            Err(e) => (String::new(), e.to_string(), 1),
        };
        let nl = |s: String| {
            if s.is_empty() || s.ends_with('\n') {
                s
            } else {
                s + "\n"
            }
        };
        let exact = jsonpath_output && code == 0;
        self.recorder.record_step(TranscriptEntry {
            at: self.now.as_secs_f64(),
            command: step.run,
            exit_code: code,
            stdout: if exact { stdout } else { nl(stdout) },
            stderr: nl(stderr),
        });
    }

    /// Executes a parsed kubectl command: Ok(stdout) or Err((stdout so far, stderr)).
    pub fn exec(&mut self, inv: &Invocation) -> StepResult {
        let e = |s: String| (String::new(), s);
        let ns = inv
            .global
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        match &inv.command {
            Command::Apply { files, .. } => self.exec_apply(inv, files, false),
            Command::Create(CreateCommand::Files { files, .. }) => {
                self.exec_apply(inv, files, true)
            }
            Command::Create(CreateCommand::Namespace { name }) => {
                if self
                    .store
                    .get(&ObjKey::new("Namespace", "", name))
                    .is_some()
                {
                    return Err(e(format!(
                        "Error from server (AlreadyExists): namespaces \"{name}\" already exists"
                    )));
                }
                self.apply_value(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "status": {"phase": "Active"}}), None).map_err(e)?;
                Ok(format!("namespace/{name} created"))
            }
            Command::Create(CreateCommand::Deployment {
                name,
                images,
                replicas,
            }) => {
                let containers: Vec<Value> = images
                    .iter()
                    .map(|i| {
                        let base = i
                            .rsplit('/')
                            .next()
                            .unwrap_or(i)
                            .split([':', '@'])
                            .next()
                            .unwrap_or(i);
                        json!({"name": base, "image": i})
                    })
                    .collect();
                let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
                    "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}}}});
                if self
                    .store
                    .get(&ObjKey::new("Deployment", &ns, name))
                    .is_some()
                {
                    return Err(e(format!(
                        "error: failed to create deployment: deployments.apps \"{name}\" already exists"
                    )));
                }
                let d = crate::manifest::canonicalize_json(&d).map_err(e)?;
                self.apply_value(d, None).map_err(e)?;
                Ok(format!("deployment.apps/{name} created"))
            }
            Command::Delete {
                target,
                grace_period,
                now,
                ignore_not_found,
                ..
            } => {
                let grace = grace_period
                    .filter(|g| *g >= 0)
                    .map(|g| g as u64 * 1000)
                    .or(if *now { Some(1000) } else { None });
                self.exec_delete(inv, target, grace, *ignore_not_found)
            }
            Command::Scale {
                targets,
                replicas,
                current_replicas,
            } => {
                let mut out = vec![];
                for t in targets {
                    out.push(
                        self.scale(kname(t.kind), &ns, &t.name, *replicas, *current_replicas)
                            .map_err(|m| (out.join("\n"), m))?,
                    );
                }
                Ok(out.join("\n"))
            }
            Command::Autoscale {
                target,
                min,
                max,
                cpu_percent,
                name,
            } => {
                if cpu_percent.is_some() {
                    // kubectl v1.37 autoscale.go: MarkDeprecated("cpu-percent", ...); cobra
                    // prints this on stderr whenever the flag is set.
                    self.recorder.set_step_stderr("Flag --cpu-percent has been deprecated, Use --cpu with percentage or resource quantity format (e.g., '70%' for utilization or '500m' for milliCPU).".into());
                }
                self.autoscale(
                    kname(target.kind),
                    &ns,
                    &target.name,
                    name.as_deref(),
                    min.map(|x| x as i32),
                    *max as i32,
                    cpu_percent.map(|x| x as i32),
                )
                .map_err(e)
            }
            Command::Patch {
                target,
                patch,
                patch_type,
                subresource: None,
            } => self.exec_patch(&ns, target, patch, *patch_type),
            Command::Patch {
                target,
                patch,
                patch_type,
                subresource: Some(sub),
            } => self.exec_patch_subresource(&ns, target, patch, *patch_type, sub),
            Command::Get { targets } => self.exec_get(inv, targets),
            Command::Describe { targets } => self.exec_describe(inv, targets),
            Command::Label {
                kind,
                names,
                all,
                changes,
                overwrite,
            }
            | Command::Annotate {
                kind,
                names,
                all,
                changes,
                overwrite,
            } => {
                let field = if matches!(inv.command, Command::Label { .. }) {
                    "labels"
                } else {
                    "annotations"
                };
                let (set, remove) = split_changes(changes);
                let labels = field == "labels";
                // kubectl checks label values itself, before any request.
                if labels {
                    for (k, v) in &set {
                        let errs = crate::validate::label_value_errors(v);
                        if !errs.is_empty() {
                            return Err((
                                String::new(),
                                format!(
                                    "error: invalid label value: \"{k}={v}\": {}",
                                    errs.join(";")
                                ),
                            ));
                        }
                    }
                }
                let names = if *all {
                    self.names_of(*kind, inv)?
                } else {
                    names.clone()
                };
                let kind_name = kname(*kind);
                let mut out = vec![];
                for n in names {
                    let current = self.get_one(kind_name, &ns, &n);
                    let old: std::collections::BTreeMap<String, String> = current
                        .as_ref()
                        .and_then(|v| v.pointer(&format!("/metadata/{field}")))
                        .and_then(Value::as_object)
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                                .collect()
                        })
                        .unwrap_or_default();
                    if current.is_some() {
                        // The API server's check of the keys (metadata validation).
                        let errs: Vec<String> = set
                            .iter()
                            .flat_map(|(k, _)| {
                                crate::validate::qualified_name_errors(k).into_iter().map(
                                    move |m| {
                                        format!("metadata.{field}: Invalid value: \"{k}\": {m}")
                                    },
                                )
                            })
                            .collect();
                        match errs.as_slice() {
                            [] => {}
                            [one] => {
                                return Err((
                                    out.join("\n"),
                                    format!("The {kind_name} \"{n}\" is invalid: {one}"),
                                ));
                            }
                            many => {
                                return Err((
                                    out.join("\n"),
                                    format!(
                                        "The {kind_name} \"{n}\" is invalid: \n* {}",
                                        many.join("\n* ")
                                    ),
                                ));
                            }
                        }
                        if labels {
                            for k in remove.iter().filter(|k| !old.contains_key(*k)) {
                                self.recorder
                                    .add_step_stderr_line(&format!("label \"{k}\" not found."));
                            }
                        }
                        let mut new = old.clone();
                        new.extend(set.iter().cloned());
                        for k in &remove {
                            new.remove(k);
                        }
                        // kubectl label: "not labeled" when nothing changes, "unlabeled" when
                        // the object got shorter without --overwrite (label.go
                        // updateDataChangeMsg).
                        if labels && new == old {
                            out.push(format!(
                                "{}/{n} not labeled",
                                kscale_kubectl::qualified_singular_of(kind_name)
                            ));
                            continue;
                        }
                        let shorter = serde_json::to_string(&new).map(|s| s.len()).unwrap_or(0)
                            < serde_json::to_string(&old).map(|s| s.len()).unwrap_or(0);
                        let line = self
                            .set_metadata(field, kind_name, &ns, &n, &set, &remove, *overwrite)
                            .map_err(|m| (out.join("\n"), m))?;
                        out.push(if labels && shorter && !*overwrite {
                            line.replace(" labeled", " unlabeled")
                        } else {
                            line
                        });
                        continue;
                    }
                    out.push(
                        self.set_metadata(field, kind_name, &ns, &n, &set, &remove, *overwrite)
                            .map_err(|m| (out.join("\n"), m))?,
                    );
                }
                Ok(out.join("\n"))
            }
            Command::Taint {
                nodes,
                all,
                changes,
                ..
            } => {
                let (mut add, mut remove) = (vec![], vec![]);
                for c in changes {
                    match c {
                        TaintChange::Add { key, value, effect } => {
                            let effect = TaintEffect::parse(effect).ok_or_else(|| e(format!("error: invalid taint effect: {effect}, unsupported taint effect")))?;
                            add.push(Taint {
                                key: key.clone(),
                                value: value.clone().unwrap_or_default(),
                                effect,
                            });
                        }
                        TaintChange::Remove { key, effect } => remove
                            .push((key.clone(), effect.as_deref().and_then(TaintEffect::parse))),
                    }
                }
                let nodes: Vec<String> = if *all {
                    self.nodes.keys().map(|k| k.to_string()).collect()
                } else {
                    nodes.clone()
                };
                let mut out = vec![];
                for n in nodes {
                    out.push(
                        self.taint(&n, add.clone(), remove.clone())
                            .map_err(|m| (out.join("\n"), m))?,
                    );
                }
                Ok(out.join("\n"))
            }
            Command::Cordon { nodes } | Command::Uncordon { nodes } => {
                let on = matches!(inv.command, Command::Cordon { .. });
                let mut out = vec![];
                for n in nodes {
                    out.push(
                        self.set_unschedulable(n, on)
                            .map_err(|m| (out.join("\n"), m))?,
                    );
                }
                Ok(out.join("\n"))
            }
            Command::Drain {
                nodes,
                force,
                grace_period,
                ..
            } => {
                let grace = grace_period.filter(|g| *g >= 0).map(|g| g as u64 * 1000);
                let mut out = vec![];
                for n in nodes {
                    out.push(
                        self.drain(n, *force, grace)
                            .map_err(|m| (out.join("\n"), m))?,
                    );
                }
                Ok(out.join("\n"))
            }
            Command::RolloutRestart { targets } => {
                let mut out = vec![];
                for t in targets {
                    let at = self.timestamp(self.now);
                    let patch = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": at}}}}});
                    self.exec_patch_value(&ns, t, &patch, kscale_kubectl::PatchType::Strategic)
                        .map_err(|m| (out.join("\n"), m.1))?;
                    out.push(format!(
                        "{}/{} restarted",
                        t.kind.info().qualified_singular(),
                        t.name
                    ));
                }
                Ok(out.join("\n"))
            }
            Command::Top(top) => self.exec_top(inv, top),
            // Run by `run_step` (they last).
            Command::RolloutStatus { .. } | Command::Wait { .. } => Err(e(
                "error: \"kubectl rollout status\" and \"kubectl wait\" run only as steps".into(),
            )),
            Command::SetImage { target, images } => {
                let containers: Vec<Value> = images
                    .iter()
                    .map(|(c, i)| json!({"name": c, "image": i}))
                    .collect();
                let patch = json!({"spec": {"template": {"spec": {"containers": containers}}}});
                self.exec_patch_value(&ns, target, &patch, kscale_kubectl::PatchType::Strategic)?;
                Ok(format!(
                    "{}/{} image updated",
                    target.kind.info().qualified_singular(),
                    target.name
                ))
            }
        }
    }

    /// `kubectl get RESOURCE [NAME] [-n NS] [-A] [-o json|yaml|name]` for kinds stored from the
    /// manifests that kubectl's table does not know (custom resources, unknown kinds). `None`
    /// if the line is not such a `get` or no stored kind matches the resource name.
    fn exec_custom_get(&mut self, line: &str) -> Option<Result<String, String>> {
        let words = kscale_kubectl::tokenize(line).ok()?;
        if words.first().map(String::as_str) != Some("get") {
            return None;
        }
        let (mut ns, mut all, mut output, mut pos) =
            ("default".to_string(), false, None::<String>, vec![]);
        let mut it = words[1..].iter();
        while let Some(w) = it.next() {
            match w.as_str() {
                "-n" | "--namespace" => ns = it.next()?.clone(),
                "-A" | "--all-namespaces" => all = true,
                "-o" | "--output" => output = Some(it.next()?.clone()),
                x if x.starts_with("--namespace=") => ns = x["--namespace=".len()..].to_string(),
                x if x.starts_with("-o") && x.len() > 2 => {
                    output = Some(x[2..].trim_start_matches('=').to_string())
                }
                x if x.starts_with('-') => return None,
                x => pos.push(x.to_string()),
            }
        }
        let resource = pos.first()?.to_ascii_lowercase();
        let resource = resource.split('.').next().unwrap_or(&resource).to_string();
        let kind = self.store.kinds().into_iter().find(|k| {
            let l = k.to_ascii_lowercase();
            l == resource || format!("{l}s") == resource || format!("{l}es") == resource
        })?;
        let mut objs: Vec<Value> = self
            .store
            .list(&kind, None)
            .filter(|(k, _)| all || k.namespace.is_empty() || k.namespace == ns)
            .map(|(_, v)| v.clone())
            .collect();
        if let Some(name) = pos.get(1) {
            objs.retain(|o| {
                o.pointer("/metadata/name").and_then(Value::as_str) == Some(name.as_str())
            });
            if objs.is_empty() {
                return Some(Err(format!(
                    "Error from server (NotFound): {} \"{name}\" not found",
                    resource
                )));
            }
        }
        let text = match output.as_deref() {
            Some("json") | Some("yaml") => {
                let v = if pos.len() == 2 {
                    objs.remove(0)
                } else {
                    json!({"apiVersion": "v1", "kind": "List", "items": objs, "metadata": {"resourceVersion": ""}})
                };
                if output.as_deref() == Some("json") {
                    kscale_kubectl::to_json(&v)
                } else {
                    kscale_kubectl::to_yaml(&v)
                }
            }
            Some("name") => objs
                .iter()
                .map(|o| {
                    format!(
                        "{}/{}",
                        kind.to_ascii_lowercase(),
                        o.pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
            _ => {
                if objs.is_empty() {
                    self.recorder
                        .set_step_stderr(format!("No resources found in {ns} namespace."));
                    return Some(Ok(String::new()));
                }
                let now = self.start_unix_ms + self.now.as_millis() as i64;
                let rows: Vec<Vec<String>> = objs
                    .iter()
                    .map(|o| {
                        let created = o
                            .pointer("/metadata/creationTimestamp")
                            .and_then(Value::as_str)
                            .and_then(kscale_kubectl::parse_rfc3339_ms)
                            .unwrap_or(now);
                        vec![
                            o.pointer("/metadata/name")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string(),
                            kscale_kubectl::human_duration_ms(now - created),
                        ]
                    })
                    .collect();
                kscale_kubectl::render_table(&["NAME", "AGE"], &rows)
            }
        };
        Some(Ok(text))
    }

    fn names_of(&self, kind: Kind, inv: &Invocation) -> Result<Vec<String>, (String, String)> {
        Ok(self
            .select(kind, inv)?
            .iter()
            .map(|o| {
                o.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            })
            .collect())
    }

    fn exec_apply(&mut self, inv: &Invocation, files: &[String], create: bool) -> StepResult {
        let paths: Vec<std::path::PathBuf> = files
            .iter()
            .map(|f| self.scenario.base_dir.join(f))
            .collect();
        let (objects, warnings) = crate::manifest::load_paths(&paths)
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
            if let Some(n) = &inv.global.namespace
                && !super::api::is_cluster_scoped(&kind)
                && v.pointer("/metadata/namespace").is_none()
            {
                v["metadata"]["namespace"] = json!(n);
            }
            let kref = kscale_kubectl::qualified_singular_of(&kind);
            if create && self.object_exists(&kind, &v) {
                return Err((
                    out.join("\n"),
                    format!(
                        "Error from server (AlreadyExists): error when creating \"{}\": {} \"{name}\" already exists",
                        o.file.display(),
                        kscale_kubectl::qualified_plural_of(&kind)
                    ),
                ));
            }
            match self.apply_value(v, Some(o.raw)) {
                Ok(outcome) => out.push(format!(
                    "{kref}/{name} {}",
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

    fn exec_delete(
        &mut self,
        inv: &Invocation,
        target: &DeleteTarget,
        grace: Option<u64>,
        ignore_not_found: bool,
    ) -> StepResult {
        let ns = inv
            .global
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let mut targets: Vec<(String, String, String)> = vec![];
        match target {
            DeleteTarget::Files(files) => {
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
                        .unwrap_or("")
                        .to_string();
                    let ons = o
                        .object
                        .pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| ns.clone());
                    targets.push((
                        kind,
                        ons,
                        o.object
                            .pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    ));
                }
            }
            DeleteTarget::Named(refs) => targets.extend(
                refs.iter()
                    .map(|r| (kname(r.kind).to_string(), ns.clone(), r.name.clone())),
            ),
            DeleteTarget::Selector { kinds, .. } | DeleteTarget::All { kinds } => {
                for k in kinds {
                    for o in self.select(*k, inv)? {
                        let ons = o
                            .pointer("/metadata/namespace")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string();
                        let n = o
                            .pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string();
                        targets.push((kname(*k).to_string(), ons, n));
                    }
                }
                if targets.is_empty() {
                    self.recorder
                        .set_step_stderr(format!("No resources found in {ns} namespace."));
                    return Ok(String::new());
                }
            }
        }
        let mut out = vec![];
        for (kind, ons, name) in targets {
            if let Some(refusal) = protected_from_deletion(&kind, &name) {
                return Err((out.join("\n"), refusal));
            }
            if self.delete_object(&kind, &ons, &name, grace) {
                out.push(format!(
                    "{} \"{name}\" deleted",
                    kscale_kubectl::qualified_singular_of(&kind)
                ));
            } else if !ignore_not_found {
                return Err((
                    out.join("\n"),
                    format!(
                        "Error from server (NotFound): {} \"{name}\" not found",
                        kscale_kubectl::qualified_plural_of(&kind)
                    ),
                ));
            }
        }
        Ok(out.join("\n"))
    }

    fn exec_patch(
        &mut self,
        ns: &str,
        target: &ObjectRef,
        text: &str,
        t: kscale_kubectl::PatchType,
    ) -> StepResult {
        let patch =
            kscale_kubectl::parse_patch_text(text).map_err(|e| (String::new(), e.to_string()))?;
        self.exec_patch_value(ns, target, &patch, t)
    }

    /// `kubectl patch --subresource`: `resize` of a pod (in-place resize), `status` of a
    /// stored object, `scale` of a workload.
    fn exec_patch_subresource(
        &mut self,
        ns: &str,
        target: &ObjectRef,
        text: &str,
        t: kscale_kubectl::PatchType,
        sub: &str,
    ) -> StepResult {
        let e = |s: String| (String::new(), s);
        let patch = kscale_kubectl::parse_patch_text(text).map_err(|err| e(err.to_string()))?;
        let kind = kname(target.kind);
        let name = &target.name;
        let kref = target.kind.info().qualified_singular();
        let current = self
            .get_one(kind, ns, name)
            .ok_or_else(|| e(not_found(target.kind, name)))?;
        let not_served = || {
            e(format!(
                "Error from server (NotFound): the server could not find the requested resource (patch {} {name})",
                target.kind.info().qualified_plural()
            ))
        };
        match sub {
            "resize" => {
                if kind != "Pod" {
                    return Err(not_served());
                }
                let patched = kscale_kubectl::apply_patch_value(&current, &patch, t)
                    .map_err(|err| e(err.to_string()))?;
                if patched.get("spec") == current.get("spec") {
                    return Ok(format!("{kref}/{name} patched (no change)"));
                }
                let id = self.pod_names[&(Arc::from(ns), Arc::from(name.as_str()))];
                self.propose_resize(id, &patched).map_err(e)?;
                Ok(format!("{kref}/{name} patched"))
            }
            "scale" => {
                if !matches!(kind, "Deployment" | "ReplicaSet" | "StatefulSet") {
                    return Err(not_served());
                }
                let scale = json!({"spec": {"replicas": current.pointer("/spec/replicas").cloned().unwrap_or(json!(1))}});
                let patched = kscale_kubectl::apply_patch_value(&scale, &patch, t)
                    .map_err(|err| e(err.to_string()))?;
                if patched == scale {
                    return Ok(format!("{kref}/{name} patched (no change)"));
                }
                let replicas = patched
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| e(format!("The Scale \"{name}\" is invalid: spec.replicas: Invalid value: must be an integer")))?;
                self.scale(kind, ns, name, replicas, None).map_err(e)?;
                Ok(format!("{kref}/{name} patched"))
            }
            _ => {
                if matches!(kind, "Pod" | "Node") {
                    return Err(e(format!(
                        "kscale: the status of a {kind} is written by the twin's kubelet"
                    )));
                }
                let patched = kscale_kubectl::apply_patch_value(&current, &patch, t)
                    .map_err(|err| e(err.to_string()))?;
                if patched.get("status") == current.get("status") {
                    return Ok(format!("{kref}/{name} patched (no change)"));
                }
                let status = patched.get("status").cloned();
                let ns = if super::api::is_cluster_scoped(kind) {
                    ""
                } else {
                    ns
                };
                self.store
                    .update_status(&ObjKey::new(kind, ns, name), |v| match status {
                        Some(s) => v["status"] = s,
                        None => {
                            if let Some(o) = v.as_object_mut() {
                                o.remove("status");
                            }
                        }
                    });
                Ok(format!("{kref}/{name} patched"))
            }
        }
    }

    fn exec_patch_value(
        &mut self,
        ns: &str,
        target: &ObjectRef,
        patch: &Value,
        t: kscale_kubectl::PatchType,
    ) -> StepResult {
        let kind = kname(target.kind);
        let name = &target.name;
        let kref = target.kind.info().qualified_singular();
        match self.patch_object(kind, ns, name, patch, t) {
            Ok(true) => Ok(format!("{kref}/{name} patched")),
            Ok(false) => Ok(format!("{kref}/{name} patched (no change)")),
            Err(super::ops::PatchError::NotFound) => {
                Err((String::new(), not_found(target.kind, name)))
            }
            Err(super::ops::PatchError::Invalid(m)) => Err((String::new(), m)),
        }
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

    pub(crate) fn select(
        &self,
        kind: Kind,
        inv: &Invocation,
    ) -> Result<Vec<Value>, (String, String)> {
        let sel = match &inv.global.selector {
            Some(s) => {
                Some(LabelSelector::parse(s).map_err(|m| (String::new(), format!("error: {m}")))?)
            }
            None => None,
        };
        let fields = match &inv.global.field_selector {
            Some(s) => {
                let f = kscale_kubectl::field_selector::FieldSelector::parse(s).map_err(|m| {
                    (
                        String::new(),
                        format!("Error from server (BadRequest): {m}"),
                    )
                })?;
                if let Some(why) = f.refusal(kind) {
                    let info = kind.info();
                    return Err((
                        String::new(),
                        format!(
                            "Error from server (BadRequest): Unable to find \"{}/{}, Resource={}\" that match label selector \"{}\", field selector \"{}\": {why}",
                            info.group,
                            info.version,
                            info.plural,
                            inv.global.selector.as_deref().unwrap_or(""),
                            f.render()
                        ),
                    ));
                }
                Some(f)
            }
            None => None,
        };
        let ns = if inv.global.all_namespaces {
            None
        } else {
            Some(
                inv.global
                    .namespace
                    .clone()
                    .unwrap_or_else(|| "default".into()),
            )
        };
        let objs = if kind == Kind::Event {
            self.render_events(ns.as_deref())
        } else {
            self.list_rendered(kname(kind), ns.as_deref())
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
            .filter(|o| fields.as_ref().is_none_or(|f| f.matches(o)))
            .collect())
    }

    /// The Events as the API server lists them: in the namespace of their object (`default`
    /// for cluster-scoped ones such as Nodes), named `<object>.<creation time in Unix
    /// nanoseconds, hex>` (client-go tools/record/event.go `makeEvent`) and listed in key
    /// order, namespace then name: grouped by object, oldest first within one — which is
    /// what a real `kubectl get events` prints (checked against kube-apiserver v1.37.2).
    /// The recorded events as core/v1 Events, in namespace and name order.
    pub(crate) fn render_events(&self, ns: Option<&str>) -> Vec<Value> {
        let mut out: Vec<(String, String, Value)> = self
            .recorder
            .events()
            .iter()
            .enumerate()
            .filter_map(|(i, ev)| {
                let ev_ns = if ev.involved_object.namespace.is_empty() {
                    "default"
                } else {
                    ev.involved_object.namespace.as_str()
                };
                if ns.is_some_and(|n| n != ev_ns) {
                    return None;
                }
                let ms = (ev.time * 1000.0).round() as u64;
                let t = self.timestamp(kscale_model::SimTime(ms));
                // The event's index keeps names unique (and in order) within one millisecond.
                let nanos = (self.start_unix_ms.max(0) as u64 + ms) * 1_000_000 + i as u64;
                let name = format!("{}.{nanos:x}", ev.involved_object.name);
                let v = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": ev_ns, "creationTimestamp": t},
                    "type": ev.type_, "reason": ev.reason, "message": ev.message, "involvedObject": {"kind": ev.involved_object.kind, "name": ev.involved_object.name, "namespace": ev.involved_object.namespace},
                    "source": {"component": ev.source}, "firstTimestamp": t, "lastTimestamp": t, "count": 1});
                Some((ev_ns.to_string(), name, v))
            })
            .collect();
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        out.into_iter().map(|(_, _, v)| v).collect()
    }

    fn print_options(&self, inv: &Invocation, single: bool, with_kind: bool) -> PrintOptions {
        PrintOptions {
            format: inv.global.output.clone(),
            now_ms: self.start_unix_ms + self.now.as_millis() as i64,
            all_namespaces: inv.global.all_namespaces,
            namespace: inv
                .global
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            single_object: single,
            with_kind,
            label_columns: inv.global.label_columns.clone(),
            show_labels: inv.global.show_labels,
        }
    }

    fn exec_get(&mut self, inv: &Invocation, targets: &[Target]) -> StepResult {
        let ns = inv
            .global
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        // Group by kind, keeping the order of first appearance.
        let mut kinds: Vec<Kind> = vec![];
        for t in targets {
            if !kinds.contains(&t.kind) {
                kinds.push(t.kind);
            }
        }
        let named = targets.iter().any(|t| t.name.is_some());
        let single = targets.len() == 1 && named;
        let structured = matches!(
            inv.global.output,
            Some(OutputFormat::Json) | Some(OutputFormat::Yaml)
        );
        let mut per_kind: Vec<(Kind, Vec<Value>)> = vec![];
        for k in &kinds {
            let mut objs = vec![];
            for t in targets.iter().filter(|t| t.kind == *k) {
                match &t.name {
                    Some(n) => objs.push(
                        self.get_one(kname(*k), &ns, n)
                            .ok_or_else(|| (String::new(), not_found(*k, n)))?,
                    ),
                    None => objs.extend(self.select(*k, inv)?),
                }
            }
            per_kind.push((*k, objs));
        }
        let templated = inv.global.output.as_ref().is_some_and(|f| {
            matches!(
                f,
                OutputFormat::JsonPath(_)
                    | OutputFormat::JsonPathAsJson(_)
                    | OutputFormat::CustomColumns(_)
            )
        });
        if templated || (structured && per_kind.len() > 1) {
            // Over every kind's objects at once: one List (or the one named object), as
            // kubectl prints for `get a,b -o json`.
            let all: Vec<Value> = per_kind.into_iter().flat_map(|(_, o)| o).collect();
            let opts = self.print_options(inv, single, false);
            let Some(p) = kscale_kubectl::print_generic(&all, &opts) else {
                return Ok(String::new());
            };
            return match p.error {
                Some(e) => Err((p.stdout, e.message)),
                None => Ok(p.stdout),
            };
        }
        let with_kind = per_kind.len() > 1;
        let mut out = vec![];
        let mut err = vec![];
        for (k, objs) in &per_kind {
            let p = kscale_kubectl::print_objects(
                *k,
                objs,
                &self.print_options(inv, single, with_kind),
            );
            if !p.stdout.is_empty() {
                out.push(p.stdout.trim_end().to_string());
            }
            if !p.stderr.is_empty() {
                err.push(p.stderr.trim_end().to_string());
            }
        }
        self.recorder.set_step_stderr(err.join("\n"));
        Ok(out.join("\n\n"))
    }

    fn exec_describe(&mut self, inv: &Invocation, targets: &[Target]) -> StepResult {
        let ns = inv
            .global
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let now = self.now;
        let mut out = vec![];
        for t in targets {
            let objs: Vec<Value> = match &t.name {
                Some(n) => vec![
                    self.get_one(kname(t.kind), &ns, n)
                        .ok_or_else(|| (out.join("\n\n"), not_found(t.kind, n)))?,
                ],
                None => self.select(t.kind, inv)?,
            };
            for o in objs {
                let name = o
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let evs: Vec<DescribeEvent> = self
                    .recorder
                    .events()
                    .iter()
                    .filter(|ev| {
                        ev.involved_object.kind == kname(t.kind) && ev.involved_object.name == name
                    })
                    .map(|ev| DescribeEvent {
                        event_type: ev.type_.clone(),
                        reason: ev.reason.clone(),
                        age: kscale_kubectl::human_duration_ms(
                            now.as_millis().saturating_sub((ev.time * 1000.0) as u64) as i64,
                        ),
                        from: ev.source.clone(),
                        message: ev.message.clone(),
                    })
                    .collect();
                // A Deployment's describer names its old and new ReplicaSets; a StatefulSet's counts its
                // pods by phase.
                let related_kind = match t.kind {
                    Kind::Deployment => Some("ReplicaSet"),
                    Kind::StatefulSet => Some("Pod"),
                    _ => None,
                };
                let related: Vec<Value> = related_kind.map_or_else(Vec::new, |kind| {
                    let obj_ns = o
                        .pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .unwrap_or(&ns);
                    self.list_rendered(kind, Some(obj_ns))
                });
                out.push(kscale_kubectl::describe_with(t.kind, &o, &related, &evs));
            }
        }
        Ok(out.join("\n\n"))
    }
}

fn split_changes(changes: &[MetaChange]) -> (Vec<(String, String)>, Vec<String>) {
    let mut set = vec![];
    let mut remove = vec![];
    for c in changes {
        match c {
            MetaChange::Set { key, value } => set.push((key.clone(), value.clone())),
            MetaChange::Remove { key } => remove.push(key.clone()),
        }
    }
    (set, remove)
}

/// Objects the API server refuses to delete, with its words: the immortal namespaces (the
/// NamespaceLifecycle admission plugin, `plugin/pkg/admission/namespace/lifecycle`) and the
/// system PriorityClasses (`pkg/registry/scheduling/priorityclass/storage`).
fn protected_from_deletion(kind: &str, name: &str) -> Option<String> {
    match (kind, name) {
        ("Namespace", "default" | "kube-system" | "kube-public") => Some(format!(
            "Error from server (Forbidden): namespaces \"{name}\" is forbidden: this namespace may not be deleted"
        )),
        ("PriorityClass", "system-node-critical" | "system-cluster-critical") => Some(format!(
            "Error from server (Forbidden): priorityclasses.scheduling.k8s.io \"{name}\" is forbidden: this is a system priority class and cannot be deleted"
        )),
        _ => None,
    }
}
