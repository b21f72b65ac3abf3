//! kubectl steps of `transcript.jsonl` compared: exit codes, times and normalised outputs.
//!
//! Steps pair by command line (whitespace collapsed) and occurrence: the n-th `kubectl get
//! pods` of A with the n-th of B. A pair differs when the steps ran more than the tolerance
//! apart, or their exit codes, or their normalised stdout or stderr differ.
//!
//! Normalisation ([`normalize`]) removes what differs between runs of the same scenario: the
//! values of age columns (`AGE`, `LAST SEEN`, ... of `kubectl get` tables and the `Age` of
//! `kubectl describe` events) and `(5m ago)`, `<invalid>`, become `<age>`; UUIDs `<uid>`;
//! IPv4 addresses `<ip>`; RFC 3339 timestamps and `kubectl describe`'s RFC 1123 ones `<time>`; resourceVersion values `<rv>`;
//! generated name suffixes `-<hash>` and `-<id>` (see [`super::names`]); the `kscale.io/run`
//! label of a `--cluster` run's objects is removed; and runs of spaces (column alignment) one
//! space.
//!
//! Normalised: outputs that differ only in measured values — numbers with a unit or a percent
//! sign (`107%`, `102539Ki`, `535m`), as `kubectl get hpa` and `kubectl describe hpa` show a
//! metric's current value — each within the value tolerance of the other (relative, default
//! 2%) match, the values listed. The load and metrics models of two runs integrate over
//! different instants (the twin per event, a live run per tick), so a measured average can
//! round one unit apart; bare numbers (replicas, counts) and values beyond the tolerance still
//! differ. A `kubectl rollout status` whose final line matches matches: the progress lines
//! before it come one per watch event, and how many events a state gets depends on when the
//! controllers write the status.

use std::collections::HashMap;

use serde_json::json;

use super::names::normalize_word;
use super::run_dir::Step;
use super::{CategoryDiff, Item, secs};

/// Table headers whose column holds an age.
const AGE_HEADERS: &[&str] = &["AGE", "LAST SEEN", "FIRST SEEN", "DURATION"];

/// The char offsets of the age columns of `line` if it is a table header.
fn age_columns(line: &str) -> Vec<usize> {
    let chars: Vec<char> = line.chars().collect();
    let upper = !line.chars().any(|c| c.is_lowercase())
        && line.trim_start().starts_with(char::is_alphabetic);
    let describe_events = line.trim_start().starts_with("Type") && line.contains("Reason");
    let names: &[&str] = if upper {
        AGE_HEADERS
    } else if describe_events {
        &["Age"]
    } else {
        return vec![];
    };
    let mut out = vec![];
    for h in names {
        let hc: Vec<char> = h.chars().collect();
        for p in 0..chars.len() {
            let starts = p == 0 || chars[p - 1] == ' ';
            let ends = chars.get(p + hc.len()).is_none_or(|c| *c == ' ');
            if starts && ends && chars[p..].starts_with(&hc) {
                out.push(p);
            }
        }
    }
    out
}

/// Replaces the values of age columns (positions from the table's header) with `<age>`.
fn mask_ages(text: &str) -> String {
    let mut cols: Vec<usize> = vec![];
    let mut out = vec![];
    for line in text.lines() {
        if line.trim().is_empty() {
            cols.clear();
            out.push(line.to_string());
            continue;
        }
        let header = age_columns(line);
        if !header.is_empty() {
            cols = header;
            out.push(line.to_string());
            continue;
        }
        let mut chars: Vec<char> = line.chars().collect();
        // Right to left, so that earlier offsets stay valid.
        let mut sorted = cols.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        for &p in &sorted {
            let starts = p < chars.len() && chars[p] != ' ' && (p == 0 || chars[p - 1] == ' ');
            if starts && !chars[p..].starts_with(&['-', '-']) {
                let end = chars[p..]
                    .iter()
                    .position(|c| *c == ' ')
                    .map_or(chars.len(), |e| p + e);
                chars.splice(p..end, "<age>".chars());
            }
        }
        out.push(chars.into_iter().collect());
    }
    out.join("\n")
}

/// Length of an RFC 3339 timestamp at the start of `s` (`2024-01-02T03:04:05Z`, with an
/// optional fraction and a `Z` or `±hh:mm` zone).
fn timestamp_len(s: &[u8]) -> Option<usize> {
    let pat = b"dddd-dd-ddTdd:dd:dd";
    if s.len() < pat.len() {
        return None;
    }
    for (c, p) in s.iter().zip(pat) {
        let ok = if *p == b'd' {
            c.is_ascii_digit()
        } else {
            c == p
        };
        if !ok {
            return None;
        }
    }
    let mut i = pat.len();
    if s.get(i) == Some(&b'.') {
        i += 1;
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    match s.get(i) {
        Some(b'Z') => Some(i + 1),
        Some(b'+' | b'-')
            if s.len() >= i + 6
                && s[i + 1..i + 3].iter().all(u8::is_ascii_digit)
                && s[i + 3] == b':'
                && s[i + 4..i + 6].iter().all(u8::is_ascii_digit) =>
        {
            Some(i + 6)
        }
        _ => Some(i),
    }
}

/// Length of an RFC 1123 timestamp with a numeric zone at the start of `s` (Go's
/// `time.RFC1123Z`, what `kubectl describe` prints as `CreationTimestamp`:
/// `Mon, 02 Jan 2006 15:04:05 -0700`).
fn rfc1123z_len(s: &[u8]) -> Option<usize> {
    let pat = b"Aaa, dd Aaa dddd dd:dd:dd +dddd";
    if s.len() < pat.len() {
        return None;
    }
    let ok = s.iter().zip(pat).all(|(c, p)| match p {
        b'A' => c.is_ascii_uppercase(),
        b'a' => c.is_ascii_lowercase(),
        b'd' => c.is_ascii_digit(),
        b'+' => matches!(c, b'+' | b'-'),
        _ => c == p,
    });
    ok.then_some(pat.len())
}

/// Normalises words, timestamps and resourceVersions of one line.
fn normalize_line(line: &str) -> String {
    let word = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while !rest.is_empty() {
        if let Some(n) = timestamp_len(rest.as_bytes()).or_else(|| rfc1123z_len(rest.as_bytes())) {
            out.push_str("<time>");
            rest = &rest[n..];
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        if word(c) {
            let end = rest.find(|c: char| !word(c)).unwrap_or(rest.len());
            out.push_str(&normalize_word(&rest[..end]));
            rest = &rest[end..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if let Some(i) = out.find("resourceVersion") {
        let (head, tail) = out.split_at(i);
        let mut masked = String::new();
        let mut in_digits = false;
        for c in tail.chars() {
            if c.is_ascii_digit() {
                if !in_digits {
                    masked.push_str("<rv>");
                }
                in_digits = true;
            } else {
                in_digits = false;
                masked.push(c);
            }
        }
        out = format!("{head}{masked}");
    }
    out
}

/// Masks `(<anything> ago)` as `(<age> ago)` and `<invalid>` as `<age>`.
fn mask_relative(line: &str) -> String {
    let mut out = line.replace("<invalid>", "<age>");
    let mut from = 0;
    while let Some(i) = out[from..].find(" ago)").map(|i| i + from) {
        match out[..i].rfind('(') {
            Some(j) if !out[j..i].contains(')') => {
                out.replace_range(j + 1..i, "<age>");
                from = j + "(<age> ago)".len();
            }
            _ => from = i + 1,
        }
    }
    out
}

/// The label every object of a `--cluster` run carries (`kscale_kube::RUN_LABEL`); the twin's
/// objects do not have it.
const RUN_LABEL: &str = "kscale.io/run";

/// The annotation the twin adds to a pod to show its containers' `oom_score_adj`; real pods do
/// not have it.
const OOM_SCORE_ANNOTATION: &str = "kscale.io/oom-score-adj";

/// Removes the `kscale.io/run` label and the twin's `kscale.io/oom-score-adj` annotation from
/// an output ([`mask_key`]).
fn mask_run_label(text: &str) -> String {
    mask_key(
        &mask_key(text, RUN_LABEL, "Labels:"),
        OOM_SCORE_ANNOTATION,
        "Annotations:",
    )
}

/// Removes label or annotation `key` from an output: its line in JSON and YAML (and a comma it
/// leaves before a closing brace, and the `labels` / `annotations` map it leaves empty), its
/// line among `kubectl describe`'s `title` entries (the next entry moving up to the title's
/// line, or `<none>`), and its entry in `--show-labels` lists.
fn mask_key(text: &str, key: &str, title: &str) -> String {
    if !text.contains(key) {
        return text.to_string();
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = vec![];
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        let Some(at) = line.find(key) else {
            out.push(line.to_string());
            continue;
        };
        let t = line.trim_start();
        // JSON (`"kscale.io/run": "x",`) or YAML (`kscale.io/run: x`): the whole line.
        if t.starts_with(&format!("\"{key}\":")) || t.starts_with(&format!("{key}:")) {
            let indent = |l: &str| l.len() - l.trim_start().len();
            let next = lines.get(i).copied();
            let prev_trim = out.last().map(|p| p.trim().to_string()).unwrap_or_default();
            // The only label: the `labels` map goes too, as for an object without labels.
            if (prev_trim == "labels:" || prev_trim == "annotations:")
                && next.is_none_or(|n| indent(n) <= indent(out.last().map_or("", |p| p)))
            {
                out.pop();
                continue;
            }
            if (prev_trim == "\"labels\": {" || prev_trim == "\"annotations\": {")
                && next.is_some_and(|n| n.trim_start().starts_with('}'))
            {
                out.pop();
                let closing = next.unwrap_or("").trim();
                i += 1;
                // `"labels": {...},` was followed by a sibling: nothing to fix; it was the
                // last member: the comma before it goes.
                if !closing.ends_with(',')
                    && let Some(prev) = out.last_mut()
                    && prev.ends_with(',')
                {
                    prev.pop();
                }
                continue;
            }
            if next.is_some_and(|n| n.trim_start().starts_with('}'))
                && let Some(prev) = out.last_mut()
                && prev.ends_with(',')
            {
                prev.pop();
            }
            continue;
        }
        // describe: `Labels:  kscale.io/run=x` or a continuation line `        kscale.io/run=x`.
        if t.starts_with(key) {
            continue;
        }
        if t.starts_with(title) && line[..at].trim() == title {
            let head = &line[..at];
            let next = lines.get(i).copied().unwrap_or("");
            let continuation = next.starts_with(' ')
                && !next.trim().is_empty()
                && (title == "Annotations:" || !next.trim_start().contains(':'));
            if continuation {
                out.push(format!("{head}{}", next.trim_start()));
                i += 1;
            } else {
                out.push(format!("{head}<none>"));
            }
            continue;
        }
        // `--show-labels`: `app=web,kscale.io/run=x` in a comma list.
        let words: Vec<String> = line
            .split(' ')
            .map(|w| {
                if !w.contains(key) {
                    return w.to_string();
                }
                let kept: Vec<&str> = w.split(',').filter(|l| !l.starts_with(key)).collect();
                if kept.is_empty() {
                    "<none>".to_string()
                } else {
                    kept.join(",")
                }
            })
            .collect();
        out.push(words.join(" "));
    }
    out.join("\n")
}

/// The output `text` of a kubectl step made comparable across runs (see the module doc).
pub fn normalize(text: &str) -> String {
    let masked = mask_ages(&mask_run_label(text));
    let mut lines: Vec<String> = masked
        .lines()
        .map(|l| {
            let l = normalize_line(&mask_relative(l));
            l.split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    sort_table_rows(&mut lines);
    lines.join("\n")
}

/// Sorts the rows of each `kubectl get` table (a block of lines under an upper-case header,
/// up to a blank line): the API lists objects by name, and generated names (random
/// suffixes) order the same objects differently in two runs.
fn sort_table_rows(lines: &mut [String]) {
    let mut start = 0;
    while start < lines.len() {
        let end = lines[start..]
            .iter()
            .position(String::is_empty)
            .map_or(lines.len(), |i| start + i);
        let header = &lines[start];
        let is_table = header.starts_with(char::is_alphabetic)
            && !header.chars().any(char::is_lowercase)
            && header.contains(' ');
        if is_table && end > start + 1 {
            lines[start + 1..end].sort();
        }
        start = end + 1;
    }
}

/// The first differing line of two normalised outputs: (1-based line, A's line, B's line).
fn first_difference(a: &str, b: &str) -> Option<(usize, String, String)> {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    (0..la.len().max(lb.len())).find_map(|i| {
        let (x, y) = (la.get(i).copied(), lb.get(i).copied());
        (x != y).then(|| {
            (
                i + 1,
                x.unwrap_or("(no line)").to_string(),
                y.unwrap_or("(no line)").to_string(),
            )
        })
    })
}

/// Units a measured value may carry (CPU and memory quantities, percentages).
const UNITS: &[&str] = &[
    "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E", "%",
];

/// A line split into its text around measured values and those values: `(skeleton, values)`
/// where each value `number+unit` becomes `#unit` in the skeleton.
fn measured(line: &str) -> (String, Vec<(f64, String)>) {
    let b = line.as_bytes();
    let (mut skeleton, mut values) = (String::new(), vec![]);
    let mut i = 0;
    while i < b.len() {
        let starts = b[i].is_ascii_digit()
            && (i == 0
                || !(b[i - 1].is_ascii_alphanumeric() || matches!(b[i - 1], b'.' | b'-' | b'_')));
        if starts {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
                j += 1;
            }
            let unit = UNITS.iter().find(|u| {
                line[j..].starts_with(*u)
                    && b.get(j + u.len())
                        .is_none_or(|c| !c.is_ascii_alphanumeric())
            });
            if let (Some(u), Ok(v)) = (unit, line[i..j].parse::<f64>()) {
                skeleton.push('#');
                skeleton.push_str(u);
                values.push((v, line[i..j + u.len()].to_string()));
                i = j + u.len();
                continue;
            }
            skeleton.push_str(&line[i..j]);
            i = j;
            continue;
        }
        let c = line[i..].chars().next().unwrap_or(' ');
        skeleton.push(c);
        i += c.len_utf8();
    }
    (skeleton, values)
}

/// When normalised outputs `a` and `b` differ only in measured values each within `tol`
/// (relative), those values as `(A's, B's)`; `None` when anything else differs.
fn measured_differences(a: &str, b: &str, tol: f64) -> Option<Vec<(String, String)>> {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    if la.len() != lb.len() {
        return None;
    }
    let mut out = vec![];
    for (x, y) in la.iter().zip(&lb) {
        if x == y {
            continue;
        }
        let ((sx, vx), (sy, vy)) = (measured(x), measured(y));
        if sx != sy {
            return None;
        }
        for ((p, tp), (q, tq)) in vx.into_iter().zip(vy) {
            if tp == tq {
                continue;
            }
            if (p - q).abs() > tol * p.abs().max(q.abs()) {
                return None;
            }
            out.push((tp, tq));
        }
    }
    Some(out)
}

/// Whether a step is `kubectl rollout status`: it prints a line at each watch event of its
/// workload, and how many events show one state depends on when the controllers write the
/// status; its final line says how the rollout ended.
fn is_rollout_status(cmd: &str) -> bool {
    cmd.starts_with("kubectl rollout status ") || cmd.starts_with("rollout status ")
}

/// The command line with whitespace collapsed.
fn command_key(s: &Step) -> String {
    s.command.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The command and, from the second occurrence on, its occurrence number.
fn label(cmd: &str, occurrence: usize) -> String {
    if occurrence == 0 {
        cmd.to_string()
    } else {
        format!("{cmd} (#{})", occurrence + 1)
    }
}

/// Compares the steps of A and B within `tol` seconds and measured values within `value_tol`
/// (relative; see the module doc).
pub fn compare(a: &[Step], b: &[Step], tol: f64, value_tol: f64) -> CategoryDiff {
    let mut d = CategoryDiff::new("steps", "kubectl steps");
    let mut by_cmd: HashMap<String, Vec<usize>> = HashMap::new();
    for (j, s) in b.iter().enumerate() {
        by_cmd.entry(command_key(s)).or_default().push(j);
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut used_b = vec![false; b.len()];
    for sa in a {
        let cmd = command_key(sa);
        let k = *seen.entry(cmd.clone()).and_modify(|n| *n += 1).or_insert(0);
        let what = label(&cmd, k);
        let Some(&j) = by_cmd.get(&cmd).and_then(|v| v.get(k)) else {
            d.only_in_a.push(Item {
                what,
                a: format!("t={} exit {}", secs(sa.at), sa.exit_code),
                b: "-".into(),
                note: "step only in A".into(),
                json: json!({"command": sa.command, "occurrence": k + 1, "at": sa.at, "exitCode": sa.exit_code}),
            });
            continue;
        };
        used_b[j] = true;
        let sb = &b[j];
        let offset = sb.at - sa.at;
        let mut diffs = vec![];
        let mut notes = vec![];
        let mut within = vec![];
        let mut progress = false;
        if offset.abs() > tol + 1e-9 {
            notes.push(format!("ran {} apart", secs(offset.abs())));
            diffs.push(json!({"field": "at", "a": sa.at, "b": sb.at}));
        }
        if sa.exit_code != sb.exit_code {
            notes.push(format!("exit code {} vs {}", sa.exit_code, sb.exit_code));
            diffs.push(json!({"field": "exitCode", "a": sa.exit_code, "b": sb.exit_code}));
        }
        for (field, x, y) in [
            ("stdout", &sa.stdout, &sb.stdout),
            ("stderr", &sa.stderr, &sb.stderr),
        ] {
            let (nx, ny) = (normalize(x), normalize(y));
            if let Some((line, la, lb)) = first_difference(&nx, &ny) {
                if let Some(values) = measured_differences(&nx, &ny, value_tol) {
                    within.extend(values);
                } else if field == "stdout"
                    && is_rollout_status(&cmd)
                    && nx.lines().last() == ny.lines().last()
                {
                    progress = true;
                } else {
                    notes.push(format!("{field} line {line}: {la:?} vs {lb:?}"));
                    diffs.push(json!({"field": field, "line": line, "a": la, "b": lb}));
                }
            }
        }
        let item = Item {
            what,
            a: format!("t={} exit {}", secs(sa.at), sa.exit_code),
            b: format!("t={} exit {}", secs(sb.at), sb.exit_code),
            note: if notes.is_empty() {
                format!("offset {}", super::signed_secs(offset))
            } else {
                notes.join("; ")
            },
            json: json!({
                "command": sa.command,
                "occurrence": k + 1,
                "atA": sa.at,
                "atB": sb.at,
                "offset": offset,
                "exitCodeA": sa.exit_code,
                "exitCodeB": sb.exit_code,
            }),
        };
        if diffs.is_empty() {
            let mut item = item;
            if progress {
                item.note = format!(
                    "offset {}; rollout progress lines differ, the final line matches (normalised)",
                    super::signed_secs(offset)
                );
                item.json["normalised"] = json!("rollout status: the final line");
            }
            if !within.is_empty() {
                let listed: Vec<String> =
                    within.iter().map(|(x, y)| format!("{x} vs {y}")).collect();
                item.note = format!(
                    "offset {}; measured values within {}%: {} (normalised)",
                    super::signed_secs(offset),
                    super::num(value_tol * 100.0),
                    listed.join(", ")
                );
                item.json["normalised"] = json!("measured values within the value tolerance");
                item.json["measuredValues"] = json!(
                    within
                        .iter()
                        .map(|(x, y)| json!({"a": x, "b": y}))
                        .collect::<Vec<_>>()
                );
            }
            d.matched.push(item);
        } else {
            let mut item = item;
            item.json["differences"] = json!(diffs);
            d.value_differences.push(item);
        }
    }
    let mut seen_b: HashMap<String, usize> = HashMap::new();
    for (j, sb) in b.iter().enumerate() {
        let cmd = command_key(sb);
        let k = *seen_b
            .entry(cmd.clone())
            .and_modify(|n| *n += 1)
            .or_insert(0);
        if !used_b[j] {
            d.only_in_b.push(Item {
                what: label(&cmd, k),
                a: "-".into(),
                b: format!("t={} exit {}", secs(sb.at), sb.exit_code),
                note: "step only in B".into(),
                json: json!({"command": sb.command, "occurrence": k + 1, "at": sb.at, "exitCode": sb.exit_code}),
            });
        }
    }
    d
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_run_label_of_a_cluster_run_is_not_a_difference() {
        let twin_json = "{\n  \"labels\": {\n    \"app\": \"web\"\n  }\n}";
        let live_json =
            "{\n  \"labels\": {\n    \"app\": \"web\",\n    \"kscale.io/run\": \"r-1\"\n  }\n}";
        assert_eq!(normalize(live_json), normalize(twin_json));
        let twin_yaml = "metadata:\n  labels:\n    app: web\n  name: web";
        let live_yaml = "metadata:\n  labels:\n    app: web\n    kscale.io/run: r-1\n  name: web";
        assert_eq!(normalize(live_yaml), normalize(twin_yaml));
        let twin_describe = "Name:         web\nLabels:       app=web\nAnnotations:  <none>";
        let live_describe = "Name:         web\nLabels:       app=web\n              kscale.io/run=r-1\nAnnotations:  <none>";
        assert_eq!(normalize(live_describe), normalize(twin_describe));
        let only = "Name:         n\nLabels:       kscale.io/run=r-1\nAnnotations:  <none>";
        let none = "Name:         n\nLabels:       <none>\nAnnotations:  <none>";
        assert_eq!(normalize(only), normalize(none));
        let first = "Labels:       kscale.io/run=r-1\n              zone=a\nAnnotations:  <none>";
        let twin_first = "Labels:       zone=a\nAnnotations:  <none>";
        assert_eq!(normalize(first), normalize(twin_first));
        let shown = "NAME   READY   LABELS\nweb    1/1     app=web,kscale.io/run=r-1";
        assert_eq!(
            normalize(shown),
            normalize("NAME   READY   LABELS\nweb    1/1     app=web")
        );
        // The only label: the labels map goes with it (YAML, JSON last member or not).
        let only_yaml = "metadata:\n  labels:\n    kscale.io/run: r-1\n  name: web\nspec: {}";
        assert_eq!(
            normalize(only_yaml),
            normalize("metadata:\n  name: web\nspec: {}")
        );
        let only_json = "{\n  \"metadata\": {\n    \"labels\": {\n      \"kscale.io/run\": \"r-1\"\n    },\n    \"name\": \"web\"\n  }\n}";
        assert_eq!(
            normalize(only_json),
            normalize("{\n  \"metadata\": {\n    \"name\": \"web\"\n  }\n}")
        );
        let last_json = "{\n  \"metadata\": {\n    \"name\": \"web\",\n    \"labels\": {\n      \"kscale.io/run\": \"r-1\"\n    }\n  }\n}";
        assert_eq!(
            normalize(last_json),
            normalize("{\n  \"metadata\": {\n    \"name\": \"web\"\n  }\n}")
        );
        // The twin's oom-score-adj annotation is not a difference either.
        let twin_pod = "Labels:       app=web\nAnnotations:  kscale.io/oom-score-adj: app=985\nStatus:       Running";
        let live_pod = "Labels:       app=web\nAnnotations:  <none>\nStatus:       Running";
        assert_eq!(normalize(twin_pod), normalize(live_pod));
        let twin_more = "Annotations:  kscale.io/oom-score-adj: app=985\n              note: x\nStatus:  Running";
        assert_eq!(
            normalize(twin_more),
            normalize("Annotations:  note: x\nStatus:  Running")
        );
        let twin_yaml =
            "metadata:\n  annotations:\n    kscale.io/oom-score-adj: app=985\n  name: web";
        assert_eq!(normalize(twin_yaml), normalize("metadata:\n  name: web"));
        // Other labels still differ.
        assert_ne!(normalize("Labels: app=web"), normalize("Labels: app=api"));
    }
    use super::*;

    #[test]
    fn kubectl_get_pods_outputs_normalise_alike() {
        let a = "NAME                           READY   STATUS    RESTARTS   AGE   IP         NODE       NOMINATED NODE   READINESS GATES\n\
                 web-6bff4dcddd-qjtzd           1/1     Running   0          60s   10.1.0.6   worker-2   <none>           <none>\n";
        let b = "NAME                          READY   STATUS    RESTARTS      AGE     IP           NODE       NOMINATED NODE   READINESS GATES\n\
                 web-7c9f8b5d4-x2x4z           1/1     Running   1 (5m ago)    5m30s   10.244.0.17  worker-2   <none>           <none>\n";
        assert_eq!(
            normalize(a),
            "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES\n\
             web-<hash>-<id> 1/1 Running 0 <age> <ip> worker-2 <none> <none>"
        );
        assert_eq!(
            normalize(b),
            "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES\n\
             web-<hash>-<id> 1/1 Running 1 (<age> ago) <age> <ip> worker-2 <none> <none>"
        );
    }

    // `kubectl describe`'s CreationTimestamp (time.RFC1123Z) is the run's own.
    #[test]
    fn describe_creation_timestamps_normalise_alike() {
        let twin = "Name:               web\nCreationTimestamp:  Thu, 01 Jan 2026 00:00:00 +0000\n";
        let live = "Name:               web\nCreationTimestamp:  Sun, 06 Dec 2026 07:44:40 -0500\n";
        assert_eq!(normalize(twin), normalize(live));
        assert_eq!(normalize(twin), "Name: web\nCreationTimestamp: <time>");
        // Not a timestamp: kept.
        assert_eq!(normalize("Thu, 01 Jan"), "Thu, 01 Jan");
    }

    #[test]
    fn table_rows_compare_as_sets() {
        // The same pods under different generated names list in a different order.
        let a = "NAME STATUS\nweb-6bff4dcddd-qjtzd Pending\nweb-6bff4dcddd-wplvh Running\n\nNAME VALUE\nb 1\na 2";
        let b = "NAME STATUS\nweb-85f54847df-6kqp9 Running\nweb-85f54847df-rlcdq Pending\n\nNAME VALUE\na 2\nb 1";
        assert_eq!(normalize(a), normalize(b));
        // Not a table: order kept.
        assert_ne!(normalize("x\ny"), normalize("y\nx"));
    }

    #[test]
    fn json_outputs_normalise_alike() {
        let a = "{\n  \"uid\": \"3f2a1b4c-0d1e-4f5a-8b6c-7d8e9f0a1b2c\",\n  \"resourceVersion\": \"123\",\n  \"creationTimestamp\": \"2024-01-01T00:00:00Z\"\n}\n";
        let b = "{\n    \"uid\": \"aaaaaaaa-0d1e-4f5a-8b6c-7d8e9f0a1b2c\",\n    \"resourceVersion\": \"98765\",\n    \"creationTimestamp\": \"2026-05-01T10:11:12.5+02:00\"\n}";
        assert_eq!(normalize(a), normalize(b));
        assert!(normalize(a).contains("\"resourceVersion\": \"<rv>\""));
    }

    #[test]
    fn timestamps() {
        assert_eq!(normalize_line("at 2024-01-01T00:00:00Z."), "at <time>.");
        assert_eq!(normalize_line("2024-01-01T00:00:00.25+02:00 x"), "<time> x");
        // Not a zone: the timestamp ends before it, and a non-ASCII tail does not split a char.
        assert_eq!(normalize_line("2024-01-01T00:00:00+05:é"), "<time>+05:é");
    }

    #[test]
    fn cpu_quantities_and_invalid_ages() {
        // `kubectl top` has no age column: 250m stays.
        assert_eq!(
            normalize("NAME   CPU(cores)   MEMORY(bytes)\nweb    250m         64Mi\n"),
            "NAME CPU(cores) MEMORY(bytes)\nweb 250m 64Mi"
        );
        assert_eq!(
            normalize("NAME  STATUS  AGE\nn1    Ready   <invalid>\n"),
            "NAME STATUS AGE\nn1 Ready <age>"
        );
    }

    fn step(at: f64, cmd: &str, code: i64, out: &str) -> Step {
        Step {
            at,
            command: cmd.into(),
            exit_code: code,
            stdout: out.into(),
            stderr: String::new(),
        }
    }

    #[test]
    fn steps_pair_by_command_and_occurrence() {
        let a = [
            step(
                60.0,
                "kubectl get pods",
                0,
                "NAME                   AGE\nweb-6bff4dcddd-qjtzd   60s\n",
            ),
            step(300.0, "kubectl scale deployment web --replicas=5", 0, ""),
            step(360.0, "kubectl get pods", 0, "x"),
        ];
        let b = [
            step(
                61.0,
                "kubectl  get pods",
                0,
                "NAME                  AGE\nweb-5d4f8c9b7-zzzzz   1m\n",
            ),
            step(300.0, "kubectl scale deployment web --replicas=5", 1, ""),
            step(400.0, "kubectl delete pod x", 0, ""),
        ];
        let d = compare(&a, &b, 15.0, 0.02);
        assert_eq!(d.matched.len(), 1);
        assert_eq!(d.value_differences.len(), 1);
        assert!(d.value_differences[0].note.contains("exit code 0 vs 1"));
        assert_eq!(d.only_in_a[0].what, "kubectl get pods (#2)");
        assert_eq!(d.only_in_b[0].what, "kubectl delete pod x");
    }
}
