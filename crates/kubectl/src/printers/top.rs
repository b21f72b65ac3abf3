//! `kubectl top pod` and `kubectl top node` output (k8s.io/kubectl
//! `pkg/metricsutil/metrics_printer.go`, `metrics_sorter.go`, `metrics_resource_adder.go`):
//! every cell is tab-terminated (so lines end in padding) and aligned by cli-runtime's
//! `GetNewTabWriter` (minimum width 6, padding 3).

use std::cmp::Reverse;

use super::table::go_tabwrite;
use crate::args::{TopCommand, TopSort};

/// A container's usage as the resource metrics API serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopContainerUsage {
    /// Container name.
    pub name: String,
    /// CPU in nanocores (metrics-server writes whole nanocores).
    pub cpu_nanocores: i64,
    /// Memory working set in bytes.
    pub memory_bytes: i64,
}

/// A pod's usage (`metrics.k8s.io` PodMetrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopPodUsage {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// Its containers' usage.
    pub containers: Vec<TopContainerUsage>,
}

/// A node's usage (`metrics.k8s.io` NodeMetrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopNodeUsage {
    /// Node name.
    pub name: String,
    /// CPU in nanocores.
    pub cpu_nanocores: i64,
    /// Memory in bytes.
    pub memory_bytes: i64,
}

/// What a listed node offers (its allocatable, or capacity with `--show-capacity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopNodeAvailable {
    /// Node name.
    pub name: String,
    /// CPU in millicores.
    pub cpu_milli: i64,
    /// Memory in bytes.
    pub memory_bytes: i64,
}

/// `Quantity.MilliValue()` of a nanocore quantity: rounded up.
fn milli_of_nanos(n: i64) -> i64 {
    n.div_euclid(1_000_000) + i64::from(n.rem_euclid(1_000_000) != 0)
}

/// `printSingleResourceUsage` of CPU and memory: `250m`, `128Mi` (whole MiB, truncated).
fn usage_cells(cpu_nanocores: i64, memory_bytes: i64) -> [String; 2] {
    [
        format!("{}m", milli_of_nanos(cpu_nanocores)),
        format!("{}Mi", memory_bytes / (1024 * 1024)),
    ]
}

/// A pod's total over its containers (`getPodMetrics`).
fn pod_total(p: &TopPodUsage) -> (i64, i64) {
    p.containers.iter().fold((0, 0), |(c, m), x| {
        (c + x.cpu_nanocores, m + x.memory_bytes)
    })
}

/// Cells joined as `printValue` writes them: each followed by a tab.
fn line(cells: &[&str]) -> String {
    let mut s = String::new();
    for c in cells {
        s.push_str(c);
        s.push('\t');
    }
    s.push('\n');
    s
}

/// `kubectl top pod` (`PrintPodMetrics`): `pods` as the metrics API listed them;
/// `all_namespaces` adds the NAMESPACE column. Nothing when `pods` is empty.
pub fn print_top_pods(cmd: &TopCommand, all_namespaces: bool, pods: &[TopPodUsage]) -> String {
    if pods.is_empty() {
        return String::new();
    }
    let mut text = String::new();
    let mut width = 3;
    if !cmd.no_headers {
        let mut head = vec![];
        if all_namespaces {
            head.push("NAMESPACE");
            width += 1;
        }
        if cmd.containers {
            head.push("POD");
            width += 1;
        }
        head.extend(["NAME", "CPU(cores)", "MEMORY(bytes)"]);
        text.push_str(&line(&head));
    }
    let mut pods: Vec<&TopPodUsage> = pods.iter().collect();
    match cmd.sort_by {
        Some(TopSort::Cpu) => pods.sort_by_key(|p| Reverse(milli_of_nanos(pod_total(p).0))),
        Some(TopSort::Memory) => pods.sort_by_key(|p| Reverse(pod_total(p).1)),
        None if all_namespaces => {
            pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)))
        }
        None => pods.sort_by(|a, b| a.name.cmp(&b.name)),
    }
    for p in &pods {
        let ns: &[&str] = if all_namespaces { &[&p.namespace] } else { &[] };
        if cmd.containers {
            let mut cs: Vec<&TopContainerUsage> = p.containers.iter().collect();
            match cmd.sort_by {
                Some(TopSort::Cpu) => cs.sort_by_key(|c| Reverse(milli_of_nanos(c.cpu_nanocores))),
                Some(TopSort::Memory) => cs.sort_by_key(|c| Reverse(c.memory_bytes)),
                None => cs.sort_by(|a, b| a.name.cmp(&b.name)),
            }
            for c in cs {
                let [cpu, mem] = usage_cells(c.cpu_nanocores, c.memory_bytes);
                let mut cells: Vec<&str> = ns.to_vec();
                cells.extend([p.name.as_str(), &c.name, &cpu, &mem]);
                text.push_str(&line(&cells));
            }
        } else {
            let (c, m) = pod_total(p);
            let [cpu, mem] = usage_cells(c, m);
            let mut cells: Vec<&str> = ns.to_vec();
            cells.extend([p.name.as_str(), &cpu, &mem]);
            text.push_str(&line(&cells));
        }
    }
    if cmd.sum {
        // `printPodResourcesSum`: the column count only grows with the headers printed.
        let (c, m) = pods.iter().fold((0, 0), |(c, m), p| {
            let (x, y) = pod_total(p);
            (c + x, m + y)
        });
        let mut bar = vec![""; width - 2];
        bar.extend(["________", "________"]);
        text.push_str(&line(&bar));
        let [cpu, mem] = usage_cells(c, m);
        let mut total = vec![""; width - 3];
        total.extend(["", cpu.as_str(), mem.as_str()]);
        text.push_str(&line(&total));
    }
    go_tabwrite(&text, 6, 3)
}

/// `kubectl top node` (`PrintNodeMetrics`): each node of `metrics` with its share of what
/// `available` lists for it, then the listed nodes without metrics as `<unknown>`. Nothing
/// when `metrics` is empty.
pub fn print_top_nodes(
    cmd: &TopCommand,
    metrics: &[TopNodeUsage],
    available: &[TopNodeAvailable],
) -> String {
    if metrics.is_empty() {
        return String::new();
    }
    let mut text = String::new();
    if !cmd.no_headers {
        text.push_str(&line(&[
            "NAME",
            "CPU(cores)",
            "CPU(%)",
            "MEMORY(bytes)",
            "MEMORY(%)",
        ]));
    }
    let mut nodes: Vec<&TopNodeUsage> = metrics.iter().collect();
    match cmd.sort_by {
        Some(TopSort::Cpu) => nodes.sort_by_key(|n| Reverse(milli_of_nanos(n.cpu_nanocores))),
        Some(TopSort::Memory) => nodes.sort_by_key(|n| Reverse(n.memory_bytes)),
        None => nodes.sort_by(|a, b| a.name.cmp(&b.name)),
    }
    let percent = |used_milli: i64, of_milli: i64| -> String {
        let f = if of_milli == 0 {
            0.0
        } else {
            used_milli as f64 / of_milli as f64 * 100.0
        };
        format!("{}%", f as i64)
    };
    for n in &nodes {
        let [cpu, mem] = usage_cells(n.cpu_nanocores, n.memory_bytes);
        let mut cells = vec![n.name.clone(), cpu];
        let a = available.iter().find(|a| a.name == n.name);
        if let Some(a) = a {
            cells.push(percent(milli_of_nanos(n.cpu_nanocores), a.cpu_milli));
        }
        cells.push(mem);
        if let Some(a) = a {
            cells.push(percent(
                n.memory_bytes.saturating_mul(1000),
                a.memory_bytes.saturating_mul(1000),
            ));
        }
        let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
        text.push_str(&line(&refs));
    }
    // Listed nodes the metrics API has no metrics for (kubectl walks a Go map here, in no
    // fixed order; these come by name).
    let mut missing: Vec<&TopNodeAvailable> = available
        .iter()
        .filter(|a| !metrics.iter().any(|m| m.name == a.name))
        .collect();
    missing.sort_by(|a, b| a.name.cmp(&b.name));
    for a in missing {
        text.push_str(&line(&[
            &a.name,
            "<unknown>",
            "<unknown>",
            "<unknown>",
            "<unknown>",
        ]));
    }
    go_tabwrite(&text, 6, 3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::TopResource;

    fn cmd(resource: TopResource) -> TopCommand {
        TopCommand {
            resource,
            name: None,
            containers: false,
            no_headers: false,
            sort_by: None,
            sum: false,
            show_capacity: false,
        }
    }

    fn pod(ns: &str, name: &str, cs: &[(&str, i64, i64)]) -> TopPodUsage {
        TopPodUsage {
            namespace: ns.into(),
            name: name.into(),
            containers: cs
                .iter()
                .map(|(n, c, m)| TopContainerUsage {
                    name: n.to_string(),
                    cpu_nanocores: *c,
                    memory_bytes: *m,
                })
                .collect(),
        }
    }

    const MI: i64 = 1024 * 1024;

    #[test]
    fn quantities_round_as_kubectl_reads_them() {
        assert_eq!(milli_of_nanos(0), 0);
        assert_eq!(milli_of_nanos(1), 1);
        assert_eq!(milli_of_nanos(250_000_000), 250);
        assert_eq!(milli_of_nanos(250_000_001), 251);
        assert_eq!(
            usage_cells(0, 3 * MI - 1),
            ["0m".to_string(), "2Mi".to_string()]
        );
    }

    #[test]
    fn pods_by_name_with_trailing_padding() {
        let pods = [
            pod("default", "web-2", &[("app", 120_000_000, 40 * MI)]),
            pod("default", "db-0", &[("pg", 3_500_000, 300 * MI)]),
        ];
        assert_eq!(
            print_top_pods(&cmd(TopResource::Pods), false, &pods),
            "NAME    CPU(cores)   MEMORY(bytes)   \n\
             db-0    4m           300Mi           \n\
             web-2   120m         40Mi            \n"
        );
        let sorted = TopCommand {
            sort_by: Some(TopSort::Cpu),
            no_headers: true,
            ..cmd(TopResource::Pods)
        };
        assert_eq!(
            print_top_pods(&sorted, false, &pods),
            "web-2   120m   40Mi    \ndb-0    4m     300Mi   \n"
        );
        assert_eq!(print_top_pods(&cmd(TopResource::Pods), false, &[]), "");
    }

    #[test]
    fn containers_namespaces_and_the_sum() {
        let pods = [pod(
            "kube-system",
            "dns-1",
            &[("sidecar", 1_000_000, 5 * MI), ("dns", 2_000_000, 20 * MI)],
        )];
        let c = TopCommand {
            containers: true,
            sum: true,
            ..cmd(TopResource::Pods)
        };
        let pad = " ".repeat(32);
        assert_eq!(
            print_top_pods(&c, true, &pods),
            format!(
                "NAMESPACE     POD     NAME      CPU(cores)   MEMORY(bytes)   \n\
                 kube-system   dns-1   dns       2m           20Mi            \n\
                 kube-system   dns-1   sidecar   1m           5Mi             \n\
                 {pad}________     ________        \n\
                 {pad}3m           25Mi            \n"
            )
        );
    }

    #[test]
    fn nodes_with_percentages_and_unknown_metrics() {
        let metrics = [TopNodeUsage {
            name: "n1".into(),
            cpu_nanocores: 485_000_000,
            memory_bytes: 1536 * MI,
        }];
        let available = [
            TopNodeAvailable {
                name: "n1".into(),
                cpu_milli: 1930,
                memory_bytes: 7 * 1024 * MI,
            },
            TopNodeAvailable {
                name: "n2".into(),
                cpu_milli: 1930,
                memory_bytes: 7 * 1024 * MI,
            },
        ];
        assert_eq!(
            print_top_nodes(&cmd(TopResource::Nodes), &metrics, &available),
            "NAME   CPU(cores)   CPU(%)      MEMORY(bytes)   MEMORY(%)   \n\
             n1     485m         25%         1536Mi          21%         \n\
             n2     <unknown>    <unknown>   <unknown>       <unknown>   \n"
        );
    }
}
