//! Tables: kubectl's tabwriter layout (k8s.io/cli-runtime/pkg/printers) and the table of a
//! kind, default or `-o wide`, with the NAMESPACE column of `-A` and the kind prefix of a
//! multi-kind `get`.

use serde_json::Value;

use super::cells::str_at;
use super::{PrintOptions, apps, corev1, events, hpa, karpenter, nodes, pods, policy, rbac, vpa};
use crate::args::OutputFormat;
use crate::kinds::Kind;

/// Lays out rows as kubectl's tabwriter does: each column but the last padded to
/// `max(widest cell + 3, 6)` characters, left aligned. Returns newline-terminated lines.
pub fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let headers: Vec<String> = headers.iter().map(|s| s.to_string()).collect();
    tabwrite(std::iter::once(&headers).chain(rows.iter()), 6, 3)
}

pub(super) fn tabwrite<'a>(
    lines: impl Iterator<Item = &'a Vec<String>> + Clone,
    min: usize,
    pad: usize,
) -> String {
    let ncols = lines.clone().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; ncols];
    for line in lines.clone() {
        for (i, cell) in line.iter().enumerate() {
            if i + 1 < line.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    for line in lines {
        for (i, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < line.len() {
                let w = (widths[i] + pad).max(min);
                for _ in cell.chars().count()..w {
                    out.push(' ');
                }
            }
        }
        out.push('\n');
    }
    out
}

/// Go's `text/tabwriter` (no flags, space padding) over `text`: cells end at tabs; a column
/// block is a run of consecutive lines with a cell in that column, padded to its widest cell +
/// `padding` (at least `minwidth`); a line's last cell is never padded. What kubectl's
/// `describe` prints through `tabbedString` (minwidth 0, padding 2).
pub(super) fn go_tabwrite(text: &str, minwidth: usize, padding: usize) -> String {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let lines: Vec<Vec<&str>> = body.split('\n').map(|l| l.split('\t').collect()).collect();
    let mut out = String::new();
    let mut widths = vec![];
    tab_format(
        &lines,
        &mut widths,
        (0, lines.len()),
        (minwidth, padding),
        &mut out,
    );
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// `Writer.format`: the blocks of column `widths.len()` within `[line0, line1)`.
fn tab_format(
    lines: &[Vec<&str>],
    widths: &mut Vec<usize>,
    (mut line0, line1): (usize, usize),
    (minwidth, padding): (usize, usize),
    out: &mut String,
) {
    let column = widths.len();
    let mut this = line0;
    while this < line1 {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        tab_lines(lines, widths, (line0, this), out);
        line0 = this;
        let mut width = minwidth;
        while this < line1 && column + 1 < lines[this].len() {
            width = width.max(lines[this][column].chars().count() + padding);
            this += 1;
        }
        widths.push(width);
        tab_format(lines, widths, (line0, this), (minwidth, padding), out);
        widths.pop();
        line0 = this;
    }
    tab_lines(lines, widths, (line0, line1), out);
}

/// `Writer.writeLines`: cells padded to their column's width; lines joined by newlines.
fn tab_lines(lines: &[Vec<&str>], widths: &[usize], (from, to): (usize, usize), out: &mut String) {
    for (i, line) in lines.iter().enumerate().take(to).skip(from) {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if let Some(w) = widths.get(j).filter(|_| j + 1 < line.len()) {
                for _ in cell.chars().count()..*w {
                    out.push(' ');
                }
            }
        }
        if i + 1 < lines.len() {
            out.push('\n');
        }
    }
}

/// A table definition: headers, the number of trailing wide-only columns, and a row maker.
pub(super) struct TableDef {
    pub(super) headers: &'static [&'static str],
    pub(super) wide_extra: usize,
    pub(super) row: fn(&Value, i64) -> Vec<String>,
}

/// The table of `kind`: its columns and row maker, from the module of its group.
fn table_for(kind: Kind) -> TableDef {
    match kind {
        Kind::Pod => pods::POD,
        Kind::Node => nodes::NODE,
        Kind::Deployment => apps::DEPLOYMENT,
        Kind::ReplicaSet => apps::REPLICA_SET,
        Kind::StatefulSet => apps::STATEFUL_SET,
        Kind::DaemonSet => apps::DAEMON_SET,
        Kind::HorizontalPodAutoscaler => hpa::HORIZONTAL_POD_AUTOSCALER,
        Kind::Namespace => corev1::NAMESPACE,
        Kind::PriorityClass => policy::PRIORITY_CLASS,
        Kind::ConfigMap => corev1::CONFIG_MAP,
        Kind::ServiceAccount => corev1::SERVICE_ACCOUNT,
        Kind::Service => corev1::SERVICE,
        Kind::PodDisruptionBudget => policy::POD_DISRUPTION_BUDGET,
        Kind::Event => events::EVENT,
        Kind::Role | Kind::ClusterRole => rbac::ROLE,
        Kind::RoleBinding | Kind::ClusterRoleBinding => rbac::ROLE_BINDING,
        Kind::NodePool => karpenter::NODE_POOL,
        Kind::NodeClaim => karpenter::NODE_CLAIM,
        Kind::EC2NodeClass => karpenter::EC2_NODE_CLASS,
        Kind::Provisioner | Kind::AWSNodeTemplate => karpenter::PROVISIONER,
        Kind::VerticalPodAutoscaler => vpa::VERTICAL_POD_AUTOSCALER,
    }
}

/// Renders the table kubectl prints for `get` of one kind (default or `-o wide`), without
/// the empty-result handling of [`print_objects`].
///
/// [`print_objects`]: super::print_objects
pub fn render_kind_table(kind: Kind, objects: &[Value], opts: &PrintOptions) -> String {
    let def = table_for(kind);
    let wide = opts.format == Some(OutputFormat::Wide);
    let narrow_len = def.headers.len() - def.wide_extra;
    // Events interleave wide columns; every other kind appends them.
    let pick: Vec<usize> = if kind == Kind::Event {
        if wide {
            (0..10).collect()
        } else {
            vec![0, 1, 2, 3, 6]
        }
    } else if wide {
        (0..def.headers.len()).collect()
    } else {
        (0..narrow_len).collect()
    };
    // `decorateTable` / `printRows` (cli-runtime tableprinter.go): label columns after the
    // kind's, LABELS last.
    let label_headers: Vec<String> = opts
        .label_columns
        .iter()
        .map(|l| l.rsplit('/').next().unwrap_or(l).to_uppercase())
        .chain(opts.show_labels.then(|| "LABELS".to_string()))
        .collect();
    let mut headers: Vec<&str> = pick.iter().map(|i| def.headers[*i]).collect();
    headers.extend(label_headers.iter().map(String::as_str));
    if opts.all_namespaces && kind.info().namespaced {
        headers.insert(0, "NAMESPACE");
    }
    let prefix = if opts.with_kind {
        format!("{}/", kind.info().qualified_singular())
    } else {
        String::new()
    };
    let name_col = if kind == Kind::Event { 9 } else { 0 };
    let rows: Vec<Vec<String>> = objects
        .iter()
        .map(|o| {
            let mut full = (def.row)(o, opts.now_ms);
            if !prefix.is_empty() {
                full[name_col] = format!("{prefix}{}", full[name_col]);
            }
            let mut row: Vec<String> = pick.iter().map(|i| full[*i].clone()).collect();
            let labels = o.pointer("/metadata/labels").and_then(Value::as_object);
            let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
            for k in &opts.label_columns {
                row.push(label(k).unwrap_or("").to_string());
            }
            if opts.show_labels {
                // `labels.FormatLabels`: sorted by key.
                let mut pairs: Vec<(&String, &str)> = labels
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k, v.as_str().unwrap_or("")))
                    .collect();
                pairs.sort();
                let text: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                row.push(if text.is_empty() {
                    "<none>".to_string()
                } else {
                    text.join(",")
                });
            }
            if opts.all_namespaces && kind.info().namespaced {
                row.insert(0, str_at(o, &["metadata", "namespace"]).to_string());
            }
            row
        })
        .collect();
    render_table(&headers, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printers::print_objects;
    use crate::printers::testing::*;
    use serde_json::json;

    #[test]
    fn table_alignment() {
        let t = render_table(
            &["NAME", "READY", "AGE"],
            &[
                vec!["a".into(), "1/1".into(), "5m".into()],
                vec!["longer-name".into(), "0/1".into(), "10s".into()],
            ],
        );
        assert_eq!(
            t,
            "NAME          READY   AGE\n\
             a             1/1     5m\n\
             longer-name   0/1     10s\n"
        );
        // Minimum width 6.
        assert_eq!(
            render_table(&["A", "B"], &[vec!["x".into(), "y".into()]]),
            "A     B\nx     y\n"
        );
    }

    #[test]
    fn small_kind_tables() {
        let ns = json!({"metadata": {"name": "default", "creationTimestamp": "2024-04-01T12:00:00Z"}, "status": {"phase": "Active"}});
        assert_eq!(
            print_objects(Kind::Namespace, &[ns], &opts()).stdout,
            "NAME      STATUS   AGE\ndefault   Active   30d\n"
        );
        let pc = json!({"metadata": {"name": "high", "creationTimestamp": "2024-05-01T11:59:00Z"}, "value": 1000000, "globalDefault": false, "preemptionPolicy": "PreemptLowerPriority"});
        assert_eq!(
            print_objects(Kind::PriorityClass, &[pc], &opts()).stdout,
            "NAME   VALUE     GLOBAL-DEFAULT   AGE   PREEMPTIONPOLICY\nhigh   1000000   false            60s   PreemptLowerPriority\n"
        );
        let cm = json!({"metadata": {"name": "cfg", "creationTimestamp": "2024-05-01T11:59:00Z"}, "data": {"a": "1", "b": "2"}});
        assert_eq!(
            print_objects(Kind::ConfigMap, &[cm], &opts()).stdout,
            "NAME   DATA   AGE\ncfg    2      60s\n"
        );
        let pdb = json!({"metadata": {"name": "web-pdb", "creationTimestamp": "2024-05-01T11:59:00Z"}, "spec": {"minAvailable": 2}, "status": {"disruptionsAllowed": 1}});
        assert_eq!(
            print_objects(Kind::PodDisruptionBudget, &[pdb], &opts()).stdout,
            "NAME      MIN AVAILABLE   MAX UNAVAILABLE   ALLOWED DISRUPTIONS   AGE\nweb-pdb   2               N/A               1                     60s\n"
        );
        let ec2 = json!({"metadata": {"name": "default", "creationTimestamp": "2024-05-01T11:00:00Z"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(
            print_objects(Kind::EC2NodeClass, &[ec2], &opts()).stdout,
            "NAME      READY   AGE\ndefault   True    60m\n"
        );
    }

    // text/tabwriter: a column is aligned over a block of consecutive lines that have a cell
    // in it; a line without one ends the block; last cells are never padded.
    #[test]
    fn go_tabwriter_blocks() {
        assert_eq!(go_tabwrite("a\tb\nccc\tdd\n", 0, 2), "a    b\nccc  dd\n");
        assert_eq!(
            go_tabwrite("a\tb\nno tab\nccc\td\n", 0, 2),
            "a  b\nno tab\nccc  d\n"
        );
        assert_eq!(
            go_tabwrite("x\ty\tz\nxx\tyyyy\tz\nlonger line\tq\n", 0, 2),
            "x            y     z\nxx           yyyy  z\nlonger line  q\n"
        );
        assert_eq!(go_tabwrite("a\t\nbb\tc", 0, 1), "a  \nbb c");
    }
}
