//! Pods, pod templates and nodes as the API server validates them
//! (`pkg/apis/core/validation/validation.go`: `ValidatePodSpec`, `validateContainers`,
//! `validateContainerCommon`, `validateResourceRequirements`, `ValidateTolerations`,
//! `validateAffinity`, `validateTopologySpreadConstraints`, `validateNodeTaints`).
//!
//! Upstream validates the defaulted internal object; fields the API server defaults
//! (`restartPolicy`, `dnsPolicy`, `imagePullPolicy`, a port's `protocol`, ...) are therefore
//! only checked when set.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    Affinity, Container, Node, NodeSelector, NodeSelectorRequirement, Pod, PodAffinityTerm,
    PodSpec, PodTemplateSpec, Probe, ResourceRequirements, Taint, Toleration,
    TopologySpreadConstraint,
};
use kscale_model::Quantity;

use super::field::{self, ErrorList, Path};
use super::meta::{self, dns1123_label_errors, dns1123_subdomain_errors, label_value_errors};

const NEGATIVE: &str = "must be greater than or equal to 0";
const NOT_POSITIVE: &str = "must be greater than zero";

/// `ValidatePodCreate`: the spec of a Pod.
pub(super) fn pod(p: &Pod) -> ErrorList {
    match &p.spec {
        Some(s) => pod_spec(s, &Path::new("spec")),
        None => vec![field::required(&Path::new("spec"), "")],
    }
}

/// `ValidatePodTemplateSpec`: the template's labels and annotations, and its spec.
pub(super) fn pod_template(t: &PodTemplateSpec, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(m) = &t.metadata {
        let mp = path.child("metadata");
        if let Some(l) = &m.labels {
            errs.extend(meta::labels(l, &mp.child("labels")));
        }
        if let Some(a) = &m.annotations {
            errs.extend(meta::annotations(a, &mp.child("annotations")));
        }
    }
    match &t.spec {
        Some(s) => errs.extend(pod_spec(s, &path.child("spec"))),
        None => errs.push(field::required(&path.child("spec").child("containers"), "")),
    }
    errs
}

/// `ValidatePodSpec`.
pub(super) fn pod_spec(spec: &PodSpec, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut volumes = BTreeSet::new();
    for (i, v) in spec.volumes.iter().flatten().enumerate() {
        let np = path.child("volumes").index(i).child("name");
        if v.name.is_empty() {
            errs.push(field::required(&np, ""));
        } else {
            for m in dns1123_label_errors(&v.name) {
                errs.push(field::invalid(&np, &v.name, m));
            }
            if !volumes.insert(v.name.as_str()) {
                errs.push(field::duplicate(&np, &v.name));
            }
        }
    }
    // Containers, then init containers (names unique across both).
    let cp = path.child("containers");
    if spec.containers.is_empty() {
        errs.push(field::required(&cp, ""));
    }
    let mut names = BTreeSet::new();
    for (i, c) in spec.containers.iter().enumerate() {
        let p = cp.index(i);
        errs.extend(container(c, &p, &volumes));
        if !names.insert(c.name.as_str()) {
            errs.push(field::duplicate(&p.child("name"), &c.name));
        }
        errs.extend(probe(
            c.liveness_probe.as_ref(),
            &p.child("livenessProbe"),
            true,
        ));
        errs.extend(probe(
            c.readiness_probe.as_ref(),
            &p.child("readinessProbe"),
            false,
        ));
        errs.extend(probe(
            c.startup_probe.as_ref(),
            &p.child("startupProbe"),
            true,
        ));
        if c.restart_policy.is_some() {
            errs.push(field::forbidden(
                &p.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    let ip = path.child("initContainers");
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        let p = ip.index(i);
        errs.extend(container(c, &p, &volumes));
        if !names.insert(c.name.as_str()) {
            errs.push(field::duplicate(&p.child("name"), &c.name));
        }
        if let Some(rp) = c.restart_policy.as_deref()
            && rp != "Always"
        {
            errs.push(field::not_supported(
                &p.child("restartPolicy"),
                rp,
                &["Always"],
            ));
        }
    }
    if let Some(rp) = spec.restart_policy.as_deref() {
        errs.extend(enum_value(
            rp,
            &path.child("restartPolicy"),
            &["Always", "OnFailure", "Never"],
        ));
    }
    if let Some(dp) = spec.dns_policy.as_deref() {
        errs.extend(enum_value(
            dp,
            &path.child("dnsPolicy"),
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        ));
    }
    if let Some(ns) = &spec.node_selector {
        errs.extend(meta::labels(ns, &path.child("nodeSelector")));
    }
    if let Some(a) = &spec.affinity {
        errs.extend(affinity(a, &path.child("affinity")));
    }
    if let Some(tsc) = &spec.topology_spread_constraints {
        errs.extend(topology_spread(
            tsc,
            &path.child("topologySpreadConstraints"),
        ));
    }
    if let Some(sa) = spec
        .service_account_name
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        for m in dns1123_subdomain_errors(sa) {
            errs.push(field::invalid(&path.child("serviceAccountName"), sa, m));
        }
    }
    if let Some(n) = spec.node_name.as_deref().filter(|s| !s.is_empty()) {
        for m in dns1123_subdomain_errors(n) {
            errs.push(field::invalid(&path.child("nodeName"), n, m));
        }
    }
    if let Some(a) = spec.active_deadline_seconds
        && !(1..=i64::from(i32::MAX)).contains(&a)
    {
        errs.push(field::invalid(
            &path.child("activeDeadlineSeconds"),
            a,
            "must be between 1 and 2147483647, inclusive",
        ));
    }
    if let Some(g) = spec.termination_grace_period_seconds
        && g < 0
    {
        // The API server turns a negative grace period into 1 on create
        // (`pod.Spec.TerminationGracePeriodSeconds` defaulting) only for deletions; on
        // create it is kept and refused by `ValidateNonnegativeField` since v1.32.
        errs.push(field::invalid(
            &path.child("terminationGracePeriodSeconds"),
            g,
            NEGATIVE,
        ));
    }
    for (key, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        if let Some(v) = value.as_deref().filter(|s| !s.is_empty()) {
            for m in dns1123_label_errors(v) {
                errs.push(field::invalid(&path.child(key), v, m));
            }
        }
    }
    for (i, t) in spec.tolerations.iter().flatten().enumerate() {
        errs.extend(toleration(t, &path.child("tolerations").index(i)));
    }
    if let Some(pc) = spec
        .priority_class_name
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        for m in dns1123_subdomain_errors(pc) {
            errs.push(field::invalid(&path.child("priorityClassName"), pc, m));
        }
    }
    if let Some(pp) = spec.preemption_policy.as_deref() {
        errs.extend(enum_value(
            pp,
            &path.child("preemptionPolicy"),
            &["PreemptLowerPriority", "Never"],
        ));
    }
    errs
}

/// An enum field: `Required` when empty, `Unsupported value` when not one of `valid`.
fn enum_value(v: &str, path: &Path, valid: &[&str]) -> ErrorList {
    if v.is_empty() {
        vec![field::required(path, "")]
    } else if !valid.contains(&v) {
        vec![field::not_supported(path, v, valid)]
    } else {
        vec![]
    }
}

/// `validateContainerCommon`: name, image, ports, env names, volume mounts, pull policy,
/// resources.
fn container(c: &Container, path: &Path, volumes: &BTreeSet<&str>) -> ErrorList {
    let mut errs = ErrorList::new();
    let np = path.child("name");
    if c.name.is_empty() {
        errs.push(field::required(&np, ""));
    } else {
        for m in dns1123_label_errors(&c.name) {
            errs.push(field::invalid(&np, &c.name, m));
        }
    }
    if c.image.as_deref().is_none_or(str::is_empty) {
        errs.push(field::required(&path.child("image"), ""));
    }
    if let Some(p) = c.termination_message_policy.as_deref() {
        errs.extend(enum_value(
            p,
            &path.child("terminationMessagePolicy"),
            &["File", "FallbackToLogsOnError"],
        ));
    }
    let mut port_names = BTreeSet::new();
    for (i, port) in c.ports.iter().flatten().enumerate() {
        let pp = path.child("ports").index(i);
        if let Some(n) = port.name.as_deref().filter(|n| !n.is_empty()) {
            let msgs = port_name_errors(n);
            if !msgs.is_empty() {
                for m in msgs {
                    errs.push(field::invalid(&pp.child("name"), n, m));
                }
            } else if !port_names.insert(n) {
                errs.push(field::duplicate(&pp.child("name"), n));
            }
        }
        if port.container_port == 0 {
            errs.push(field::required(&pp.child("containerPort"), ""));
        } else if !(1..=65535).contains(&port.container_port) {
            errs.push(field::invalid(
                &pp.child("containerPort"),
                port.container_port,
                "must be between 1 and 65535, inclusive",
            ));
        }
        if let Some(h) = port.host_port.filter(|h| *h != 0)
            && !(1..=65535).contains(&h)
        {
            errs.push(field::invalid(
                &pp.child("hostPort"),
                h,
                "must be between 1 and 65535, inclusive",
            ));
        }
        if let Some(proto) = port.protocol.as_deref() {
            errs.extend(enum_value(
                proto,
                &pp.child("protocol"),
                &["SCTP", "TCP", "UDP"],
            ));
        }
    }
    for (i, e) in c.env.iter().flatten().enumerate() {
        if e.name.is_empty() {
            errs.push(field::required(
                &path.child("env").index(i).child("name"),
                "",
            ));
        }
    }
    let mut mount_paths = BTreeSet::new();
    for (i, m) in c.volume_mounts.iter().flatten().enumerate() {
        let mp = path.child("volumeMounts").index(i);
        if m.name.is_empty() {
            errs.push(field::required(&mp.child("name"), ""));
        } else if !volumes.contains(m.name.as_str()) {
            errs.push(field::not_found(&mp.child("name"), &m.name));
        }
        if m.mount_path.is_empty() {
            errs.push(field::required(&mp.child("mountPath"), ""));
        } else if !mount_paths.insert(m.mount_path.as_str()) {
            errs.push(field::invalid(
                &mp.child("mountPath"),
                &m.mount_path,
                "must be unique",
            ));
        }
    }
    if let Some(p) = c.image_pull_policy.as_deref() {
        errs.extend(enum_value(
            p,
            &path.child("imagePullPolicy"),
            &["Always", "IfNotPresent", "Never"],
        ));
    }
    if let Some(r) = &c.resources {
        errs.extend(resources(r, &path.child("resources")));
    }
    errs
}

/// `validation.IsValidPortName`: an IANA service name.
fn port_name_errors(n: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if n.len() > 15 {
        errs.push("must be no more than 15 characters".to_string());
    }
    if !n
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !n.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if n.contains("--") {
        errs.push("must not contain consecutive hyphens".into());
    }
    if n.starts_with('-') || n.ends_with('-') {
        errs.push("must not begin or end with a hyphen".into());
    }
    errs
}

/// Whether a resource may be requested below its limit (`helper.IsOvercommitAllowed`): the
/// native ones (no domain, or a `kubernetes.io/` one), not hugepages.
fn overcommit_allowed(name: &str) -> bool {
    native(name) && !name.starts_with("hugepages-")
}

/// `helper.IsNativeResource`.
fn native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// `ValidateContainerResourceName` (+ `validateResourceName`): `cpu`, `memory`,
/// `ephemeral-storage`, `hugepages-*`, or a domain-qualified (extended) resource.
fn resource_name(name: &str, path: &Path) -> ErrorList {
    let mut errs: ErrorList = meta::qualified_name_errors(name)
        .into_iter()
        .map(|m| field::invalid(path, name, m))
        .collect();
    if !errs.is_empty() {
        return errs;
    }
    if name.contains('/') {
        if !native(name) && name.starts_with("requests.") {
            errs.push(field::invalid(
                path,
                name,
                "doesn't follow extended resource name standard",
            ));
        }
        return errs;
    }
    let container =
        matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-");
    if container {
        return errs;
    }
    // `helper.IsStandardResourceName`: quota and object-count names are standard resources,
    // just not for containers.
    let standard = matches!(
        name,
        "storage"
            | "pods"
            | "services"
            | "replicationcontrollers"
            | "resourcequotas"
            | "secrets"
            | "configmaps"
            | "persistentvolumeclaims"
            | "services.nodeports"
            | "services.loadbalancers"
    ) || ["requests.", "limits.", "count/"]
        .iter()
        .any(|p| name.starts_with(p));
    if !standard {
        errs.push(field::invalid(
            path,
            name,
            "must be a standard resource type or fully qualified",
        ));
    }
    errs.push(field::invalid(
        path,
        name,
        "must be a standard resource for containers",
    ));
    errs
}

/// `validateResourceRequirements` for a container.
fn resources(r: &ResourceRequirements, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let (lp, rp) = (path.child("limits"), path.child("requests"));
    let parse = |name: &str, q: &str, p: &Path, errs: &mut ErrorList| -> Option<Quantity> {
        match Quantity::parse(q) {
            Ok(v) => {
                if v.is_negative() {
                    errs.push(field::invalid(p, q, NEGATIVE));
                } else if !native(name) && v.milli() % 1000 != 0 {
                    errs.push(field::invalid(p, q, "must be an integer"));
                }
                Some(v)
            }
            Err(e) => {
                errs.push(field::invalid(p, q, e.reason));
                None
            }
        }
    };
    let mut limits: BTreeMap<&str, Option<Quantity>> = BTreeMap::new();
    for (name, q) in r.limits.iter().flatten() {
        let p = lp.key(name);
        errs.extend(resource_name(name, &p));
        let v = parse(name, &q.0, &p, &mut errs);
        limits.insert(name, v);
    }
    for (name, q) in r.requests.iter().flatten() {
        let p = rp.key(name);
        errs.extend(resource_name(name, &p));
        let v = parse(name, &q.0, &p, &mut errs);
        match limits.get(name.as_str()) {
            Some(lim) => {
                let lim_text = &r.limits.as_ref().expect("has limits")[name].0;
                if let (Some(v), Some(lim)) = (v, lim) {
                    if v != *lim && !overcommit_allowed(name) {
                        errs.push(field::invalid(
                            &rp,
                            q.0.as_str(),
                            format!("must be equal to {name} limit of {lim_text}"),
                        ));
                    } else if v > *lim {
                        errs.push(field::invalid(
                            &rp,
                            q.0.as_str(),
                            format!("must be less than or equal to {name} limit of {lim_text}"),
                        ));
                    }
                }
            }
            None if !overcommit_allowed(name) => errs.push(field::required(
                &lp,
                "Limit must be set for non overcommitable resources",
            )),
            None => {}
        }
    }
    errs
}

/// `validateProbe` (+ the liveness/startup `successThreshold` rule).
fn probe(p: Option<&Probe>, path: &Path, success_must_be_one: bool) -> ErrorList {
    let Some(p) = p else {
        return vec![];
    };
    let mut errs = ErrorList::new();
    let handlers = [
        ("exec", p.exec.is_some()),
        ("httpGet", p.http_get.is_some()),
        ("tcpSocket", p.tcp_socket.is_some()),
        ("grpc", p.grpc.is_some()),
    ];
    let mut n = 0;
    for (name, set) in handlers {
        if set {
            n += 1;
            if n > 1 {
                errs.push(field::forbidden(
                    &path.child(name),
                    "may not specify more than 1 handler type",
                ));
            }
        }
    }
    if n == 0 {
        errs.push(field::required(path, "must specify a handler type"));
    }
    for (name, v) in [
        ("initialDelaySeconds", p.initial_delay_seconds),
        ("timeoutSeconds", p.timeout_seconds),
        ("periodSeconds", p.period_seconds),
        ("successThreshold", p.success_threshold),
        ("failureThreshold", p.failure_threshold),
    ] {
        if let Some(v) = v.filter(|v| *v < 0) {
            errs.push(field::invalid(&path.child(name), v, NEGATIVE));
        }
    }
    if let Some(g) = p.termination_grace_period_seconds {
        if !success_must_be_one {
            errs.push(field::invalid(
                &path.child("terminationGracePeriodSeconds"),
                g,
                "must not be set for readinessProbes",
            ));
        } else if g <= 0 {
            errs.push(field::invalid(
                &path.child("terminationGracePeriodSeconds"),
                g,
                "must be greater than 0",
            ));
        }
    }
    if success_must_be_one && let Some(s) = p.success_threshold.filter(|s| *s != 1) {
        errs.push(field::invalid(
            &path.child("successThreshold"),
            s,
            "must be 1",
        ));
    }
    errs
}

/// `ValidateTolerations`.
fn toleration(t: &Toleration, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let key = t.key.as_deref().unwrap_or("");
    let op = t.operator.as_deref().unwrap_or("");
    let value = t.value.as_deref().unwrap_or("");
    let effect = t.effect.as_deref().unwrap_or("");
    if !key.is_empty() {
        errs.extend(meta::label_name(key, &path.child("key")));
    }
    if key.is_empty() && op != "Exists" {
        errs.push(field::invalid(
            &path.child("operator"),
            op,
            "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
        ));
    }
    if t.toleration_seconds.is_some() && effect != "NoExecute" {
        errs.push(field::invalid(
            &path.child("effect"),
            effect,
            "effect must be 'NoExecute' when `tolerationSeconds` is set",
        ));
    }
    match op {
        "Equal" | "" => {
            let msgs = label_value_errors(value);
            if !msgs.is_empty() {
                errs.push(field::invalid(
                    &path.child("operator"),
                    value,
                    msgs.join(";"),
                ));
            }
        }
        "Exists" => {
            if !value.is_empty() {
                errs.push(field::invalid(
                    &path.child("operator"),
                    value,
                    "value must be empty when `operator` is 'Exists'",
                ));
            }
        }
        other => errs.push(field::not_supported(
            &path.child("operator"),
            other,
            &["Equal", "Exists"],
        )),
    }
    if !effect.is_empty() {
        errs.extend(taint_effect(effect, &path.child("effect")));
    }
    errs
}

/// `validateTaintEffect` (a set effect).
fn taint_effect(effect: &str, path: &Path) -> ErrorList {
    enum_value(
        effect,
        path,
        &["NoSchedule", "PreferNoSchedule", "NoExecute"],
    )
}

/// `validateAffinity`: node affinity terms, pod (anti-)affinity terms, weights.
fn affinity(a: &Affinity, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(na) = &a.node_affinity {
        let np = path.child("nodeAffinity");
        if let Some(req) = &na.required_during_scheduling_ignored_during_execution {
            errs.extend(node_selector(
                req,
                &np.child("requiredDuringSchedulingIgnoredDuringExecution"),
            ));
        }
        let pp = np.child("preferredDuringSchedulingIgnoredDuringExecution");
        for (i, t) in na
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .flatten()
            .enumerate()
        {
            if !(1..=100).contains(&t.weight) {
                errs.push(field::invalid(
                    &pp.index(i).child("weight"),
                    t.weight,
                    "must be in the range 1-100",
                ));
            }
            let tp = pp.index(i).child("preference");
            for (j, r) in t.preference.match_expressions.iter().flatten().enumerate() {
                errs.extend(node_requirement(r, &tp.child("matchExpressions").index(j)));
            }
        }
    }
    let pod_terms = [
        (
            "podAffinity",
            a.pod_affinity.as_ref().map(|p| {
                (
                    &p.required_during_scheduling_ignored_during_execution,
                    &p.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
        (
            "podAntiAffinity",
            a.pod_anti_affinity.as_ref().map(|p| {
                (
                    &p.required_during_scheduling_ignored_during_execution,
                    &p.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
    ];
    for (name, terms) in pod_terms {
        let Some((req, pref)) = terms else { continue };
        let p = path.child(name);
        let rp = p.child("requiredDuringSchedulingIgnoredDuringExecution");
        for (i, t) in req.iter().flatten().enumerate() {
            errs.extend(pod_affinity_term(t, &rp.index(i)));
        }
        let pp = p.child("preferredDuringSchedulingIgnoredDuringExecution");
        for (i, w) in pref.iter().flatten().enumerate() {
            if !(1..=100).contains(&w.weight) {
                errs.push(field::invalid(
                    &pp.index(i).child("weight"),
                    w.weight,
                    "must be in the range 1-100",
                ));
            }
            errs.extend(pod_affinity_term(
                &w.pod_affinity_term,
                &pp.index(i).child("podAffinityTerm"),
            ));
        }
    }
    errs
}

/// `ValidateNodeSelector`.
fn node_selector(s: &NodeSelector, path: &Path) -> ErrorList {
    let tp = path.child("nodeSelectorTerms");
    if s.node_selector_terms.is_empty() {
        return vec![field::required(
            &tp,
            "must have at least one node selector term",
        )];
    }
    let mut errs = ErrorList::new();
    for (i, t) in s.node_selector_terms.iter().enumerate() {
        for (j, r) in t.match_expressions.iter().flatten().enumerate() {
            errs.extend(node_requirement(
                r,
                &tp.index(i).child("matchExpressions").index(j),
            ));
        }
    }
    errs
}

/// `ValidateNodeSelectorRequirement`.
fn node_requirement(r: &NodeSelectorRequirement, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let values = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" | "NotIn" if values.is_empty() => errs.push(field::required(
            &path.child("values"),
            "must be specified when `operator` is 'In' or 'NotIn'",
        )),
        "In" | "NotIn" => {}
        "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(field::forbidden(
            &path.child("values"),
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        "Exists" | "DoesNotExist" => {}
        "Gt" | "Lt" if values.len() != 1 => errs.push(field::required(
            &path.child("values"),
            "must be specified single value when `operator` is 'Lt' or 'Gt'",
        )),
        "Gt" | "Lt" => {}
        op => errs.push(field::invalid(
            &path.child("operator"),
            op,
            "not a valid selector operator",
        )),
    }
    errs.extend(meta::label_name(&r.key, &path.child("key")));
    for (i, v) in values.iter().enumerate() {
        for m in label_value_errors(v) {
            errs.push(field::invalid(&path.child("values").index(i), v, m));
        }
    }
    errs
}

/// `validatePodAffinityTerm`.
fn pod_affinity_term(t: &PodAffinityTerm, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(s) = &t.label_selector {
        errs.extend(meta::label_selector(s, &path.child("labelSelector")));
    }
    for ns in t.namespaces.iter().flatten() {
        for m in dns1123_label_errors(ns) {
            errs.push(field::invalid(&path.child("namespace"), ns, m));
        }
    }
    if t.topology_key.is_empty() {
        errs.push(field::required(
            &path.child("topologyKey"),
            "can not be empty",
        ));
    }
    errs.extend(meta::label_name(
        &t.topology_key,
        &path.child("topologyKey"),
    ));
    errs
}

/// `validateTopologySpreadConstraints`.
fn topology_spread(cs: &[TopologySpreadConstraint], path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, c) in cs.iter().enumerate() {
        let p = path.index(i);
        if c.max_skew <= 0 {
            errs.push(field::invalid(
                &p.child("maxSkew"),
                c.max_skew,
                NOT_POSITIVE,
            ));
        }
        if c.topology_key.is_empty() {
            errs.push(field::required(&p.child("topologyKey"), "can not be empty"));
        }
        let action = c.when_unsatisfiable.as_str();
        if !matches!(action, "DoNotSchedule" | "ScheduleAnyway") {
            errs.push(field::not_supported(
                &p.child("whenUnsatisfiable"),
                action,
                &["DoNotSchedule", "ScheduleAnyway"],
            ));
        }
        if cs[i + 1..]
            .iter()
            .any(|o| o.topology_key == c.topology_key && o.when_unsatisfiable == action)
        {
            errs.push(field::duplicate(
                &p.child("{topologyKey, whenUnsatisfiable}"),
                format!("{{{}, {action}}}", c.topology_key),
            ));
        }
        if let Some(m) = c.min_domains {
            if m <= 0 {
                errs.push(field::invalid(&p.child("minDomains"), m, NOT_POSITIVE));
            }
            if action != "DoNotSchedule" {
                errs.push(field::invalid(
                    &p.child("minDomains"),
                    m,
                    format!(
                        "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {action}"
                    ),
                ));
            }
        }
        for (name, policy) in [
            ("nodeAffinityPolicy", &c.node_affinity_policy),
            ("nodeTaintsPolicy", &c.node_taints_policy),
        ] {
            if let Some(v) = policy.as_deref()
                && !matches!(v, "Honor" | "Ignore")
            {
                errs.push(field::not_supported(
                    &p.child(name),
                    v,
                    &["Honor", "Ignore"],
                ));
            }
        }
        if let Some(s) = &c.label_selector {
            errs.extend(meta::label_selector(s, &p.child("labelSelector")));
        }
    }
    errs
}

/// `ValidateNode`: the spec's taints.
pub(super) fn node(n: &Node) -> ErrorList {
    let taints = n
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default();
    node_taints(taints, &Path::new("spec.taints"))
}

/// `validateNodeTaints`: key, value, effect, unique by key and effect.
pub fn node_taints(taints: &[Taint], path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut seen: BTreeSet<(&str, &str)> = BTreeSet::new();
    for (i, t) in taints.iter().enumerate() {
        let p = path.index(i);
        errs.extend(meta::label_name(&t.key, &p.child("key")));
        let v = t.value.as_deref().unwrap_or("");
        let msgs = label_value_errors(v);
        if !msgs.is_empty() {
            errs.push(field::invalid(&p.child("value"), v, msgs.join(";")));
        }
        if t.effect.is_empty() {
            errs.push(field::required(&p.child("effect"), ""));
        } else {
            errs.extend(taint_effect(&t.effect, &p.child("effect")));
        }
        if !seen.insert((t.effect.as_str(), t.key.as_str())) {
            // Go marshals the taint in its struct's field order.
            let mut shown = format!("{{\"key\":{}", serde_json::Value::from(t.key.as_str()));
            if !v.is_empty() {
                shown.push_str(&format!(",\"value\":{}", serde_json::Value::from(v)));
            }
            shown.push_str(&format!(
                ",\"effect\":{}}}",
                serde_json::Value::from(t.effect.as_str())
            ));
            let mut e = field::duplicate(&p, super::field::BadValue::Json(shown));
            e.detail = "taints must be unique by key and effect pair".into();
            errs.push(e);
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::super::tests::messages;
    use serde_json::{Value, json};

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
    }

    /// Cases from upstream's `TestValidateContainers`, `TestValidateTolerations`,
    /// `TestValidateResourceRequirements` and `TestValidatePodSpec`
    /// (`pkg/apis/core/validation/validation_test.go`).
    #[test]
    fn containers() {
        assert!(messages(&pod(json!({"containers": [{"name": "c", "image": "i"}]}))).is_empty());
        assert_eq!(
            messages(&pod(json!({"containers": []}))),
            ["spec.containers: Required value"]
        );
        assert_eq!(
            messages(&pod(
                json!({"containers": [{"name": "c"}, {"name": "c", "image": "i"}]})
            )),
            [
                "spec.containers[0].image: Required value",
                "spec.containers[1].name: Duplicate value: \"c\""
            ]
        );
        let m = messages(&pod(
            json!({"containers": [{"name": "Bad_Name", "image": "i"}]}),
        ));
        assert!(
            m[0].starts_with(
                "spec.containers[0].name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label"
            ),
            "{m:?}"
        );
        assert_eq!(
            messages(&pod(
                json!({"containers": [{"name": "c", "image": "i", "imagePullPolicy": "Sometimes",
                "ports": [{"containerPort": 0}, {"containerPort": 80, "protocol": "HTTP", "name": "web"}, {"containerPort": 81, "name": "web"}]}]})
            )),
            [
                "spec.containers[0].ports[0].containerPort: Required value",
                "spec.containers[0].ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                "spec.containers[0].ports[2].name: Duplicate value: \"web\"",
                "spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\""
            ]
        );
        assert_eq!(
            messages(&pod(
                json!({"containers": [{"name": "c", "image": "i", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]})
            )),
            ["spec.containers[0].volumeMounts[0].name: Not found: \"data\""]
        );
    }

    #[test]
    fn resources() {
        assert_eq!(
            messages(&pod(json!({"containers": [{"name": "c", "image": "i",
                "resources": {"requests": {"cpu": "2", "memory": "-1"}, "limits": {"cpu": "1"}}}]}))),
            [
                "spec.containers[0].resources.requests[cpu]: Invalid value: \"2\": must be less than or equal to cpu limit of 1"
                    .replace("requests[cpu]", "requests"),
                "spec.containers[0].resources.requests[memory]: Invalid value: \"-1\": must be greater than or equal to 0".into()
            ]
        );
        let m = messages(&pod(json!({"containers": [{"name": "c", "image": "i",
            "resources": {"requests": {"gpu": "1", "example.com/dongle": "1"}}}]})));
        assert_eq!(
            m,
            [
                "spec.containers[0].resources.requests[example.com/dongle]: Required value: Limit must be set for non overcommitable resources"
                    .replace("requests[example.com/dongle]", "limits"),
                "spec.containers[0].resources.requests[gpu]: Invalid value: \"gpu\": must be a standard resource type or fully qualified".into(),
                "spec.containers[0].resources.requests[gpu]: Invalid value: \"gpu\": must be a standard resource for containers".into(),
            ]
        );
        assert_eq!(
            messages(&pod(json!({"containers": [{"name": "c", "image": "i",
                "resources": {"requests": {"example.com/dongle": "500m"}, "limits": {"example.com/dongle": "500m"}}}]}))),
            [
                "spec.containers[0].resources.limits[example.com/dongle]: Invalid value: \"500m\": must be an integer",
                "spec.containers[0].resources.requests[example.com/dongle]: Invalid value: \"500m\": must be an integer"
            ]
        );
    }

    #[test]
    fn tolerations_affinity_and_spread() {
        let base = |extra: Value| {
            let mut s = json!({"containers": [{"name": "c", "image": "i"}]});
            for (k, v) in extra.as_object().unwrap() {
                s[k] = v.clone();
            }
            pod(s)
        };
        assert_eq!(
            messages(&base(json!({"tolerations": [
                {"operator": "Equal", "value": "x"},
                {"key": "k", "operator": "Exists", "value": "v"},
                {"key": "k", "operator": "Bogus"},
                {"key": "k", "tolerationSeconds": 5, "effect": "NoSchedule"},
            ]}))),
            [
                "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
                "spec.tolerations[1].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'",
                "spec.tolerations[2].operator: Unsupported value: \"Bogus\": supported values: \"Equal\", \"Exists\"",
                "spec.tolerations[3].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
            ]
        );
        assert_eq!(
            messages(&base(json!({"affinity": {"nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In"}]}]},
                "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 0, "preference": {}}]}}}))),
            [
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: must be in the range 1-100",
            ]
        );
        assert_eq!(
            messages(&base(json!({"topologySpreadConstraints": [
                {"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"},
                {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"},
                {"maxSkew": 1, "topologyKey": "", "whenUnsatisfiable": "Maybe", "minDomains": 2},
            ]}))),
            [
                "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero",
                "spec.topologySpreadConstraints[0].{topologyKey, whenUnsatisfiable}: Duplicate value: \"{zone, DoNotSchedule}\"",
                "spec.topologySpreadConstraints[2].topologyKey: Required value: can not be empty",
                "spec.topologySpreadConstraints[2].whenUnsatisfiable: Unsupported value: \"Maybe\": supported values: \"DoNotSchedule\", \"ScheduleAnyway\"",
                "spec.topologySpreadConstraints[2].minDomains: Invalid value: 2: can only use minDomains if whenUnsatisfiable=DoNotSchedule, not Maybe",
            ]
        );
        assert_eq!(
            messages(&base(
                json!({"restartPolicy": "Sometimes", "dnsPolicy": "Google", "activeDeadlineSeconds": 0})
            )),
            [
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
                "spec.dnsPolicy: Unsupported value: \"Google\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
                "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
            ]
        );
    }

    /// `TestValidateNode` taint cases.
    #[test]
    fn node_taints() {
        let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"},
            "spec": {"taints": [{"key": "a", "effect": "NoSchedule"}, {"key": "a", "effect": "NoSchedule"}, {"key": "b", "effect": "Bogus"}]}});
        assert_eq!(
            messages(&node),
            [
                "spec.taints[1]: Duplicate value: {\"key\":\"a\",\"effect\":\"NoSchedule\"}: taints must be unique by key and effect pair",
                "spec.taints[2].effect: Unsupported value: \"Bogus\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
            ]
        );
    }
}
