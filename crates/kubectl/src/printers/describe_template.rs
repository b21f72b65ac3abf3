//! The parts of `kubectl describe` shared by workloads (k8s.io/kubectl `pkg/describe/describe.go`):
//! `DescribePodTemplate` with `describeContainers`, `describeResources`, `DescribeProbe`,
//! `describeContainerEnvVars`, `describeContainerVolumes`, `describeVolumes`,
//! `describeTopologySpreadConstraints`, `printLabelsMultiline` and
//! `printPodTolerationsMultiline` (for a pod template, and with the container statuses for
//! `describePod`). They write tab-separated text for one `go_tabwrite` pass.

use std::fmt::Write as _;

use serde_json::Value;

use super::cells::{arr_at, canonical_quantity, format_selector, int_at, s, str_at};

/// `printLabelsMultilineWithIndent` / `printAnnotationsMultilineWithIndent`: `Title:<tab>first`,
/// then `<tab>next` lines, sorted by key; `<none>` when empty.
pub(super) fn multiline(out: &mut String, title: &str, m: Option<&Value>, sep: &str) {
    multiline_indented(out, "", title, m, sep);
}

/// [`multiline`] with every line indented by `indent` (describe.go
/// `printLabelsMultilineWithIndent`, as `describeVolumeClaimTemplates` calls it with `"  "`).
pub(super) fn multiline_indented(
    out: &mut String,
    indent: &str,
    title: &str,
    m: Option<&Value>,
    sep: &str,
) {
    let _ = write!(out, "{indent}{title}:\t");
    let mut kv: Vec<(&String, &Value)> = m
        .and_then(Value::as_object)
        .map(|m| m.iter().collect())
        .unwrap_or_default();
    if kv.is_empty() {
        out.push_str("<none>\n");
        return;
    }
    kv.sort_by(|a, b| a.0.cmp(b.0));
    for (i, (k, v)) in kv.iter().enumerate() {
        if i > 0 {
            out.push_str(indent);
            out.push('\t');
        }
        let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
        let _ = writeln!(out, "{k}{sep}{v}");
    }
}

/// An IntOrString as Go's `IntOrString.String()` prints it.
fn int_or_string(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// `DescribeProbe`.
fn probe(p: &Value) -> String {
    let attrs = format!(
        "delay={}s timeout={}s period={}s successThreshold={} failureThreshold={}",
        int_at(p, &["initialDelaySeconds"]),
        s(p, &["timeoutSeconds"])
            .and_then(Value::as_i64)
            .unwrap_or(1),
        s(p, &["periodSeconds"])
            .and_then(Value::as_i64)
            .unwrap_or(10),
        s(p, &["successThreshold"])
            .and_then(Value::as_i64)
            .unwrap_or(1),
        s(p, &["failureThreshold"])
            .and_then(Value::as_i64)
            .unwrap_or(3),
    );
    if let Some(e) = s(p, &["exec"]) {
        let cmd: Vec<&str> = arr_at(e, &["command"])
            .iter()
            .filter_map(Value::as_str)
            .collect();
        return format!("exec [{}] {attrs}", cmd.join(" "));
    }
    if let Some(h) = s(p, &["httpGet"]) {
        let scheme = str_at(h, &["scheme"]);
        let scheme = if scheme.is_empty() {
            "http".to_string()
        } else {
            scheme.to_lowercase()
        };
        let host = str_at(h, &["host"]);
        let port = int_or_string(s(h, &["port"]));
        let hostport = if port.is_empty() {
            host.to_string()
        } else if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        return format!(
            "http-get {scheme}://{hostport}{} {attrs}",
            str_at(h, &["path"])
        );
    }
    if let Some(t) = s(p, &["tcpSocket"]) {
        return format!(
            "tcp-socket {}:{} {attrs}",
            str_at(t, &["host"]),
            int_or_string(s(t, &["port"]))
        );
    }
    if let Some(g) = s(p, &["grpc"]) {
        return format!(
            "grpc <pod>:{} {} {attrs}",
            int_at(g, &["port"]),
            str_at(g, &["service"])
        );
    }
    format!("unknown {attrs}")
}

/// `describeContainerPorts` / `describeContainerHostPorts`.
fn ports(c: &Value, field: &str) -> String {
    arr_at(c, &["ports"])
        .iter()
        .map(|p| {
            let proto = str_at(p, &["protocol"]);
            let proto = if proto.is_empty() { "TCP" } else { proto };
            let mut out = format!("{}/{proto}", int_at(p, &[field]));
            let name = str_at(p, &["name"]);
            if !name.is_empty() {
                let _ = write!(out, " ({name})");
            }
            out
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `describeStatus`: a container state (`State`, `Last State`).
fn container_state(out: &mut String, title: &str, state: Option<&Value>) {
    let time = |v: &Value, k: &str| super::time::rfc1123z(str_at(v, &[k]));
    if let Some(r) = state.and_then(|st| s(st, &["running"])) {
        let _ = writeln!(out, "    {title}:\tRunning");
        let _ = writeln!(out, "      Started:\t{}", time(r, "startedAt"));
    } else if let Some(t) = state.and_then(|st| s(st, &["terminated"])) {
        let _ = writeln!(out, "    {title}:\tTerminated");
        for (label, key) in [("Reason", "reason"), ("Message", "message")] {
            let v = str_at(t, &[key]);
            if !v.is_empty() {
                let _ = writeln!(out, "      {label}:\t{v}");
            }
        }
        let _ = writeln!(out, "      Exit Code:\t{}", int_at(t, &["exitCode"]));
        let signal = int_at(t, &["signal"]);
        if signal > 0 {
            let _ = writeln!(out, "      Signal:\t{signal}");
        }
        let _ = writeln!(out, "      Started:\t{}", time(t, "startedAt"));
        let _ = writeln!(out, "      Finished:\t{}", time(t, "finishedAt"));
    } else {
        let _ = writeln!(out, "    {title}:\tWaiting");
        let reason = state
            .and_then(|st| s(st, &["waiting", "reason"]))
            .and_then(Value::as_str)
            .unwrap_or("");
        if !reason.is_empty() {
            let _ = writeln!(out, "      Reason:\t{reason}");
        }
    }
}

/// `describeContainers`: `space` is the section's indent (`"  "` in a pod template, none in a
/// pod); `statuses` are the pod's container statuses (none for a template), matched by name.
pub(super) fn containers(
    out: &mut String,
    space: &str,
    label: &str,
    cs: &[Value],
    statuses: &[Value],
) {
    let none = if cs.is_empty() { " <none>" } else { "" };
    let _ = writeln!(out, "{space}{label}:{none}");
    let name_indent = if space.is_empty() { "" } else { " " };
    for c in cs {
        let name = str_at(c, &["name"]);
        let status = statuses.iter().find(|st| str_at(st, &["name"]) == name);
        let _ = writeln!(out, "  {name_indent}{name}:");
        if let Some(st) = status {
            let _ = writeln!(out, "    Container ID:\t{}", str_at(st, &["containerID"]));
        }
        let _ = writeln!(out, "    Image:\t{}", str_at(c, &["image"]));
        if let Some(st) = status {
            let _ = writeln!(out, "    Image ID:\t{}", str_at(st, &["imageID"]));
        }
        for (one, many, field) in [
            ("Port", "Ports", "containerPort"),
            ("Host Port", "Host Ports", "hostPort"),
        ] {
            let p = ports(c, field);
            if p.contains(',') {
                let _ = writeln!(out, "    {many}:\t{p}");
            } else {
                let p = if p.is_empty() {
                    "<none>".to_string()
                } else {
                    p
                };
                let _ = writeln!(out, "    {one}:\t{p}");
            }
        }
        for (title, key) in [("Command", "command"), ("Args", "args")] {
            let items = arr_at(c, &[key]);
            if !items.is_empty() {
                let _ = writeln!(out, "    {title}:");
                for i in items.iter().filter_map(Value::as_str) {
                    for line in i.split('\n') {
                        let _ = writeln!(out, "      {line}");
                    }
                }
            }
        }
        if let Some(st) = status {
            container_state(out, "State", s(st, &["state"]));
            if let Some(last) = s(st, &["lastState"]).filter(|l| s(l, &["terminated"]).is_some()) {
                container_state(out, "Last State", Some(last));
            }
            let ready = s(st, &["ready"]).and_then(Value::as_bool).unwrap_or(false);
            let _ = writeln!(out, "    Ready:\t{}", if ready { "True" } else { "False" });
            let _ = writeln!(out, "    Restart Count:\t{}", int_at(st, &["restartCount"]));
        }
        for (title, key) in [("Limits", "limits"), ("Requests", "requests")] {
            if let Some(m) = s(c, &["resources", key])
                .and_then(Value::as_object)
                .filter(|m| !m.is_empty())
            {
                let _ = writeln!(out, "    {title}:");
                let mut names: Vec<&String> = m.keys().collect();
                names.sort();
                for n in names {
                    let _ = writeln!(
                        out,
                        "      {n}:\t{}",
                        canonical_quantity(&int_or_string(m.get(n)))
                    );
                }
            }
        }
        for (title, key) in [
            ("Liveness", "livenessProbe"),
            ("Readiness", "readinessProbe"),
            ("Startup", "startupProbe"),
        ] {
            if let Some(p) = s(c, &[key]).filter(|p| !p.is_null()) {
                let _ = writeln!(out, "    {title}:\t{}", probe(p));
            }
        }
        let env = arr_at(c, &["env"]);
        let _ = writeln!(
            out,
            "    Environment:{}",
            if env.is_empty() { "\t<none>" } else { "" }
        );
        for e in env {
            let name = str_at(e, &["name"]);
            match s(e, &["valueFrom"]) {
                None => {
                    for (i, line) in str_at(e, &["value"]).split('\n').enumerate() {
                        if i == 0 {
                            let _ = writeln!(out, "      {name}:\t{line}");
                        } else {
                            let _ = writeln!(out, "      \t{line}");
                        }
                    }
                }
                Some(v) => {
                    if let Some(f) = s(v, &["fieldRef"]) {
                        let _ = writeln!(
                            out,
                            "      {name}:\t ({}:{})",
                            str_at(f, &["apiVersion"]),
                            str_at(f, &["fieldPath"])
                        );
                    } else if let Some(r) = s(v, &["resourceFieldRef"]) {
                        let _ = writeln!(out, "      {name}:\t ({})", str_at(r, &["resource"]));
                    } else if let Some(k) = s(v, &["secretKeyRef"]) {
                        let _ = writeln!(
                            out,
                            "      {name}:\t<set to the key '{}' in secret '{}'>\tOptional: {}",
                            str_at(k, &["key"]),
                            str_at(k, &["name"]),
                            s(k, &["optional"])
                                .and_then(Value::as_bool)
                                .unwrap_or(false)
                        );
                    } else if let Some(k) = s(v, &["configMapKeyRef"]) {
                        let _ = writeln!(
                            out,
                            "      {name}:\t<set to the key '{}' of config map '{}'>\tOptional: {}",
                            str_at(k, &["key"]),
                            str_at(k, &["name"]),
                            s(k, &["optional"])
                                .and_then(Value::as_bool)
                                .unwrap_or(false)
                        );
                    }
                }
            }
        }
        let mut mounts: Vec<&Value> = arr_at(c, &["volumeMounts"]).iter().collect();
        let _ = writeln!(
            out,
            "    Mounts:{}",
            if mounts.is_empty() { "\t<none>" } else { "" }
        );
        mounts.sort_by(|a, b| str_at(a, &["mountPath"]).cmp(str_at(b, &["mountPath"])));
        for m in mounts {
            let mut flags = vec![if s(m, &["readOnly"])
                .and_then(Value::as_bool)
                .unwrap_or(false)
            {
                "ro".to_string()
            } else {
                "rw".to_string()
            }];
            let sub = str_at(m, &["subPath"]);
            if !sub.is_empty() {
                flags.push(format!("path={sub:?}"));
            }
            let _ = writeln!(
                out,
                "      {} from {} ({})",
                str_at(m, &["mountPath"]),
                str_at(m, &["name"]),
                flags.join(",")
            );
        }
    }
}

/// `describeVolumes` for the volume types kscale's manifests and the API server's service
/// account admission use (others print their type); `space` as in [`containers`].
pub(super) fn volumes(out: &mut String, space: &str, vs: &[Value]) {
    if vs.is_empty() {
        let _ = writeln!(out, "{space}Volumes:\t<none>");
        return;
    }
    let _ = writeln!(out, "{space}Volumes:");
    let name_indent = if space.is_empty() { "" } else { " " };
    for v in vs {
        let _ = writeln!(out, "  {name_indent}{}:", str_at(v, &["name"]));
        if let Some(e) = s(v, &["emptyDir"]) {
            let medium = str_at(e, &["medium"]);
            out.push_str(
                "    Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n",
            );
            let _ = writeln!(out, "    Medium:\t{medium}");
            let limit = s(e, &["sizeLimit"])
                .and_then(Value::as_str)
                .unwrap_or("<unset>");
            let _ = writeln!(out, "    SizeLimit:\t{limit}");
        } else if let Some(c) = s(v, &["configMap"]) {
            out.push_str("    Type:\tConfigMap (a volume populated by a ConfigMap)\n");
            let _ = writeln!(out, "    Name:\t{}", str_at(c, &["name"]));
            let _ = writeln!(
                out,
                "    Optional:\t{}",
                s(c, &["optional"])
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            );
        } else if let Some(sec) = s(v, &["secret"]) {
            out.push_str("    Type:\tSecret (a volume populated by a Secret)\n");
            let _ = writeln!(out, "    SecretName:\t{}", str_at(sec, &["secretName"]));
            let _ = writeln!(
                out,
                "    Optional:\t{}",
                s(sec, &["optional"])
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            );
        } else if let Some(p) = s(v, &["projected"]) {
            // `printProjectedVolumeSource`.
            out.push_str(
                "    Type:\tProjected (a volume that contains injected data from multiple sources)\n",
            );
            for source in arr_at(p, &["sources"]) {
                let optional = |x: &Value| {
                    s(x, &["optional"])
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                };
                if let Some(sec) = s(source, &["secret"]) {
                    let _ = writeln!(out, "    SecretName:\t{}", str_at(sec, &["name"]));
                    let _ = writeln!(out, "    Optional:\t{}", optional(sec));
                } else if s(source, &["downwardAPI"]).is_some() {
                    out.push_str("    DownwardAPI:\ttrue\n");
                } else if let Some(cm) = s(source, &["configMap"]) {
                    let _ = writeln!(out, "    ConfigMapName:\t{}", str_at(cm, &["name"]));
                    let _ = writeln!(out, "    Optional:\t{}", optional(cm));
                } else if let Some(t) = s(source, &["serviceAccountToken"]) {
                    let _ = writeln!(
                        out,
                        "    TokenExpirationSeconds:\t{}",
                        int_at(t, &["expirationSeconds"])
                    );
                }
            }
        } else {
            let kind = v
                .as_object()
                .and_then(|m| m.keys().find(|k| *k != "name"))
                .cloned()
                .unwrap_or_default();
            let _ = writeln!(out, "    <unknown>\t{kind}");
        }
    }
}

/// `printPodTolerationsMultiline`, sorted by key; `space` as in [`containers`].
pub(super) fn tolerations(out: &mut String, space: &str, ts: &[Value]) {
    let _ = write!(out, "{space}Tolerations:\t");
    if ts.is_empty() {
        out.push_str("<none>\n");
        return;
    }
    let mut ts: Vec<&Value> = ts.iter().collect();
    ts.sort_by(|a, b| str_at(a, &["key"]).cmp(str_at(b, &["key"])));
    for (i, t) in ts.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        let (key, value, effect) = (
            str_at(t, &["key"]),
            str_at(t, &["value"]),
            str_at(t, &["effect"]),
        );
        out.push_str(key);
        if !value.is_empty() {
            let _ = write!(out, "={value}");
        }
        if !effect.is_empty() {
            let _ = write!(out, ":{effect}");
        }
        if str_at(t, &["operator"]) == "Exists" && value.is_empty() {
            out.push_str(if !key.is_empty() || !effect.is_empty() {
                " op=Exists"
            } else {
                "op=Exists"
            });
        }
        if let Some(secs) = s(t, &["tolerationSeconds"]).and_then(Value::as_i64) {
            let _ = write!(out, " for {secs}s");
        }
        out.push('\n');
    }
}

/// `DescribePodTemplate`.
pub(super) fn pod_template(out: &mut String, t: Option<&Value>) {
    out.push_str("Pod Template:\n");
    let Some(t) = t else {
        out.push_str("  <unset>");
        return;
    };
    multiline(out, "  Labels", s(t, &["metadata", "labels"]), "=");
    if s(t, &["metadata", "annotations"])
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty())
    {
        multiline(
            out,
            "  Annotations",
            s(t, &["metadata", "annotations"]),
            ": ",
        );
    }
    let sa = str_at(t, &["spec", "serviceAccountName"]);
    if !sa.is_empty() {
        let _ = writeln!(out, "  Service Account:\t{sa}");
    }
    let init = arr_at(t, &["spec", "initContainers"]);
    if !init.is_empty() {
        containers(out, "  ", "Init Containers", init, &[]);
    }
    containers(
        out,
        "  ",
        "Containers",
        arr_at(t, &["spec", "containers"]),
        &[],
    );
    volumes(out, "  ", arr_at(t, &["spec", "volumes"]));
    let mut tscs: Vec<&Value> = arr_at(t, &["spec", "topologySpreadConstraints"])
        .iter()
        .collect();
    if !tscs.is_empty() {
        tscs.sort_by(|a, b| str_at(a, &["topologyKey"]).cmp(str_at(b, &["topologyKey"])));
        out.push_str("  Topology Spread Constraints:\t");
        for (i, c) in tscs.iter().enumerate() {
            if i > 0 {
                out.push_str("  \t");
            }
            let _ = write!(
                out,
                "{}:{} when max skew {} is exceeded",
                str_at(c, &["topologyKey"]),
                str_at(c, &["whenUnsatisfiable"]),
                int_at(c, &["maxSkew"])
            );
            if let Some(sel) = s(c, &["labelSelector"]).filter(|v| !v.is_null()) {
                let _ = write!(out, " for selector {}", format_selector(Some(sel)));
            }
            out.push('\n');
        }
    }
    let pc = str_at(t, &["spec", "priorityClassName"]);
    if !pc.is_empty() {
        let _ = writeln!(out, "  Priority Class Name:\t{pc}");
    }
    multiline(
        out,
        "  Node-Selectors",
        s(t, &["spec", "nodeSelector"]),
        "=",
    );
    tolerations(out, "  ", arr_at(t, &["spec", "tolerations"]));
}
