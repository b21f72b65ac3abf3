//! Expanders: which node group a scale-up uses.
//!
//! Follows kubernetes/autoscaler `cluster-autoscaler/expander/*`: every expander is a *filter*
//! (`BestOptions`) over the expansion options; `--expander=a,b,...` applies them in order and
//! stops as soon as one option is left (`expander/factory/chain.go`); leftover ties go to the
//! `random` strategy (`expander/random/random.go`), here drawn from the scenario's seeded stream.
//!
//! - `most-pods` (`mostpods/mostpods.go`): keep the options that schedule the most pods.
//! - `least-nodes` (`leastnodes/leastnodes.go`): keep the options with the fewest new nodes (> 0).
//! - `least-waste` (`waste/waste.go`): keep the options with the least idle CPU + memory fraction
//!   on the new nodes, measured against the template's **capacity**.
//! - `price` (`price/price.go`, `price/preferred.go`): keep the options with the lowest
//!   `unfitness' · (node price · count + s) / (pods price + s)`.
//! - `priority` (`priority/priority.go`): keep the options of the highest priority whose regular
//!   expressions match the group id (unanchored search); no match at all leaves the input as is.

use std::collections::BTreeMap;

use kscale_model::Resources;

/// An expander name, as given to `--expander`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpanderName {
    /// `random`.
    Random,
    /// `most-pods`.
    MostPods,
    /// `least-waste` (upstream default since January 2025).
    LeastWaste,
    /// `least-nodes`.
    LeastNodes,
    /// `price`.
    Price,
    /// `priority`.
    Priority,
}

impl ExpanderName {
    /// Parses one name.
    pub fn parse(s: &str) -> Option<ExpanderName> {
        Some(match s {
            "random" => ExpanderName::Random,
            "most-pods" => ExpanderName::MostPods,
            "least-waste" => ExpanderName::LeastWaste,
            "least-nodes" => ExpanderName::LeastNodes,
            "price" => ExpanderName::Price,
            "priority" => ExpanderName::Priority,
            _ => return None,
        })
    }

    /// The flag value.
    pub fn as_str(&self) -> &'static str {
        match self {
            ExpanderName::Random => "random",
            ExpanderName::MostPods => "most-pods",
            ExpanderName::LeastWaste => "least-waste",
            ExpanderName::LeastNodes => "least-nodes",
            ExpanderName::Price => "price",
            ExpanderName::Priority => "priority",
        }
    }
}

/// Parses `--expander=a,b,c`: each name at most once, `random` only last
/// (`expander/factory/expander_factory.go` `Build`).
pub fn parse_chain(s: &str) -> Result<Vec<ExpanderName>, String> {
    let mut out: Vec<ExpanderName> = vec![];
    let names: Vec<&str> = s.split(',').map(str::trim).collect();
    for (i, n) in names.iter().enumerate() {
        let e = ExpanderName::parse(n).ok_or_else(|| format!("Expander {n} not supported"))?;
        if out.contains(&e) {
            return Err(format!(
                "Expander {n} was specified multiple times, each expander must not be specified more than once"
            ));
        }
        if e == ExpanderName::Random && i + 1 != names.len() {
            return Err(
                "Expander random is only supported as the last expander in the chain".into(),
            );
        }
        out.push(e);
    }
    Ok(out)
}

/// One way to scale up: a node group, how many nodes, and which pods they would take.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpansionOption {
    /// Node group id.
    pub group: String,
    /// New nodes.
    pub node_count: u32,
    /// Ids of the pods the new nodes would take.
    pub pods: Vec<u64>,
    /// Sum of those pods' requests.
    pub pod_requests: Resources,
    /// Capacity of one node of the group's template (least-waste measures against capacity).
    pub node_capacity: Resources,
    /// Price of one node for an hour, USD (price expander); `None` = unknown.
    pub node_price: Option<f64>,
    /// Price of the pods for an hour, USD (price expander); `None` = unknown.
    pub pods_price: Option<f64>,
    /// The group exists (non-existent, auto-provisioned groups are penalised by `price`).
    pub exists: bool,
    /// The template has GPUs (`price` then uses unfitness 1000).
    pub gpu: bool,
}

impl ExpansionOption {
    /// An option with only the fields every expander needs; prices unknown.
    pub fn new(group: &str, node_count: u32, pods: Vec<u64>) -> Self {
        ExpansionOption {
            group: group.to_string(),
            node_count,
            pods,
            pod_requests: Resources::ZERO,
            node_capacity: Resources::ZERO,
            node_price: None,
            pods_price: None,
            exists: true,
            gpu: false,
        }
    }
}

/// Parsed `priorities` of the `cluster-autoscaler-priority-expander` ConfigMap: priority → regexes.
pub type Priorities = BTreeMap<i32, Vec<String>>;

/// Parses the ConfigMap's `priorities` YAML (`priority: [regex, ...]`); the error is the YAML
/// parser's first line.
pub fn parse_priorities(text: &str) -> Result<Priorities, String> {
    serde_saphyr::from_str::<Priorities>(text).map_err(|e| {
        e.to_string()
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string()
    })
}

/// Inputs the stateful expanders need besides the options.
#[derive(Debug, Default)]
pub struct ExpanderContext<'a> {
    /// The priority ConfigMap's parsed content; `None` when missing, empty or invalid (then the
    /// priority filter returns its input unchanged, as upstream).
    pub priorities: Option<&'a Priorities>,
    /// Preferred node CPU (millicores) for the price expander (`price/preferred.go`).
    pub preferred_cpu_milli: i64,
    /// Price of the stabilization pod (500m, 500MiB) for an hour, USD.
    pub stabilization_price: f64,
}

/// Warnings an expander run produces (upstream records them as events on the ConfigMap).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpanderWarning {
    /// Event reason (`PriorityConfigMapNotMatchedGroup`, ...).
    pub reason: &'static str,
    /// Event message.
    pub message: String,
}

/// `most-pods`: options with the most pods.
pub fn most_pods(options: &[ExpansionOption]) -> Vec<ExpansionOption> {
    let best = options.iter().map(|o| o.pods.len()).max();
    options
        .iter()
        .filter(|o| Some(o.pods.len()) == best)
        .cloned()
        .collect()
}

/// `least-nodes`: options with the fewest new nodes; options adding no node are dropped.
pub fn least_nodes(options: &[ExpansionOption]) -> Vec<ExpansionOption> {
    let best = options
        .iter()
        .filter(|o| o.node_count > 0)
        .map(|o| o.node_count)
        .min();
    options
        .iter()
        .filter(|o| o.node_count > 0 && Some(o.node_count) == best)
        .cloned()
        .collect()
}

/// The least-waste score of an option: idle CPU fraction + idle memory fraction of the new nodes
/// (`waste.go`: `(availCPU - reqCPU)/availCPU + (availMem - reqMem)/availMem`).
pub fn waste_score(o: &ExpansionOption) -> f64 {
    let cpu = o.node_capacity.cpu_milli as f64 * o.node_count as f64;
    let mem = o.node_capacity.memory as f64 * o.node_count as f64;
    let w = |avail: f64, req: f64| {
        if avail > 0.0 {
            (avail - req) / avail
        } else {
            0.0
        }
    };
    w(cpu, o.pod_requests.cpu_milli as f64) + w(mem, o.pod_requests.memory as f64)
}

/// `least-waste`: options with the minimal waste score (exact ties kept).
pub fn least_waste(options: &[ExpansionOption]) -> Vec<ExpansionOption> {
    let scores: Vec<f64> = options.iter().map(waste_score).collect();
    let best = scores.iter().copied().fold(f64::INFINITY, f64::min);
    options
        .iter()
        .zip(&scores)
        .filter(|(_, s)| **s == best)
        .map(|(o, _)| o.clone())
        .collect()
}

/// Preferred node size (millicores) for a cluster of `nodes` nodes (`price/preferred.go`
/// `SimplePreferredNodeProvider`: ≤2 nodes → 1 core, ≤6 → 2, ≤20 → 4, ≤60 → 8, ≤200 → 16, else 32).
pub fn preferred_cpu_milli(nodes: usize) -> i64 {
    let cores = match nodes {
        0..=2 => 1,
        3..=6 => 2,
        7..=20 => 4,
        21..=60 => 8,
        61..=200 => 16,
        _ => 32,
    };
    cores * 1000
}

/// `SimpleNodeUnfitness`: `max(preferred/cpu, cpu/preferred)`.
pub fn node_unfitness(preferred_cpu_milli: i64, node_cpu_milli: i64) -> f64 {
    let (p, n) = (preferred_cpu_milli as f64, node_cpu_milli.max(1) as f64);
    (p / n).max(n / p)
}

/// The price score of an option (lower is better), or `None` if a price is unknown.
pub fn price_score(o: &ExpansionOption, ctx: &ExpanderContext) -> Option<f64> {
    let node = o.node_price? * o.node_count as f64;
    let pods = o.pods_price?;
    let s = ctx.stabilization_price;
    let price_sub = (node + s) / (pods + s);
    let unfit = node_unfitness(ctx.preferred_cpu_milli, o.node_capacity.cpu_milli);
    let mut suppressed = (unfit - 1.0) * (1.0 - ((o.node_count as f64 - 1.0) / 15.0).tanh()) + 1.0;
    if o.gpu {
        suppressed = 1000.0;
    }
    let mut score = suppressed * price_sub;
    if !o.exists {
        score *= 2.0;
    }
    Some(score)
}

/// `price`: options with the lowest price score; options without prices are skipped.
pub fn price(options: &[ExpansionOption], ctx: &ExpanderContext) -> Vec<ExpansionOption> {
    let scored: Vec<(f64, &ExpansionOption)> = options
        .iter()
        .filter_map(|o| price_score(o, ctx).map(|s| (s, o)))
        .collect();
    let best = scored.iter().map(|(s, _)| *s).fold(f64::INFINITY, f64::min);
    scored
        .into_iter()
        .filter(|(s, _)| *s == best)
        .map(|(_, o)| o.clone())
        .collect()
}

/// Compiles the priority regexes once per call (upstream re-reads the ConfigMap every call).
fn compile(priorities: &Priorities) -> Result<Vec<(i32, Vec<regex::Regex>)>, String> {
    priorities
        .iter()
        .map(|(p, list)| {
            let res = list
                .iter()
                .map(|r| {
                    regex::Regex::new(r).map_err(|e| {
                        format!("Can't compile regexp rule for priority {p} and rule {r}: {e}")
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((*p, res))
        })
        .collect()
}

/// `priority`: options of the highest matching priority. Groups matching no expression are
/// dropped with a `PriorityConfigMapNotMatchedGroup` warning; if nothing matches, or the
/// configuration is missing or invalid, the input is returned unchanged.
pub fn priority(
    options: &[ExpansionOption],
    ctx: &ExpanderContext,
    warnings: &mut Vec<ExpanderWarning>,
) -> Vec<ExpansionOption> {
    let Some(prios) = ctx.priorities.filter(|p| !p.is_empty()) else {
        warnings.push(ExpanderWarning {
            reason: "PriorityConfigMapInvalid",
            message: "Wrong configuration for priority expander: priority configuration in cluster-autoscaler-priority-expander configmap is empty; please provide valid configuration. Ignoring update.".into(),
        });
        return options.to_vec();
    };
    let compiled = match compile(prios) {
        Ok(c) => c,
        Err(e) => {
            warnings.push(ExpanderWarning {
                reason: "PriorityConfigMapInvalid",
                message: format!(
                    "Wrong configuration for priority expander: {e}. Ignoring update."
                ),
            });
            return options.to_vec();
        }
    };
    // Upstream starts from maxPrio = -1, so a group matching only negative priorities never wins.
    let mut max_prio = -1;
    let mut best: Vec<ExpansionOption> = vec![];
    for o in options {
        let mut found = false;
        for (p, res) in &compiled {
            if !res.iter().any(|r| r.is_match(&o.group)) {
                continue;
            }
            found = true;
            if *p < max_prio {
                continue;
            }
            if *p > max_prio {
                max_prio = *p;
                best.clear();
            }
            best.push(o.clone());
        }
        if !found {
            warnings.push(ExpanderWarning {
                reason: "PriorityConfigMapNotMatchedGroup",
                message: format!("Priority expander: node group {} not found in priority expander configuration. The group won't be used.", o.group),
            });
        }
    }
    if best.is_empty() {
        warnings.push(ExpanderWarning {
            reason: "PriorityConfigMapNoGroupMatched",
            message: "Priority expander: no priorities info found for any of the expansion options. No options filtered.".into(),
        });
        return options.to_vec();
    }
    best
}

/// Runs a chain of expanders (`chain.go`): each filter in order, stopping at one option; the
/// remaining ties go to `random` (`pick(n)` returns an index below `n`). Returns the chosen
/// option, or `None` when no option is left.
pub fn choose(
    chain: &[ExpanderName],
    options: &[ExpansionOption],
    ctx: &ExpanderContext,
    warnings: &mut Vec<ExpanderWarning>,
    pick: &mut dyn FnMut(usize) -> usize,
) -> Option<ExpansionOption> {
    let mut left = options.to_vec();
    for e in chain {
        left = match e {
            ExpanderName::Random => break,
            ExpanderName::MostPods => most_pods(&left),
            ExpanderName::LeastNodes => least_nodes(&left),
            ExpanderName::LeastWaste => least_waste(&left),
            ExpanderName::Price => price(&left, ctx),
            ExpanderName::Priority => priority(&left, ctx, warnings),
        };
        if left.len() == 1 {
            break;
        }
    }
    match left.len() {
        0 => None,
        1 => left.pop(),
        n => Some(left.swap_remove(pick(n))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(group: &str, count: u32, pods: &[u64]) -> ExpansionOption {
        ExpansionOption::new(group, count, pods.to_vec())
    }

    fn groups(v: &[ExpansionOption]) -> Vec<&str> {
        v.iter().map(|o| o.group.as_str()).collect()
    }

    // expander/priority/priority_test.go: `config`, `wildcardMatchConfig`, `oneEntryConfig`.
    fn config() -> Priorities {
        BTreeMap::from([
            (5, vec![r".*t2\.micro.*".to_string()]),
            (10, vec![r".*t2\.large.*".into(), r".*t3\.large.*".into()]),
            (50, vec![r".*m4\.4xlarge.*".into()]),
        ])
    }

    fn run_priority(
        p: &Priorities,
        opts: &[ExpansionOption],
    ) -> (Vec<String>, Vec<ExpanderWarning>) {
        let ctx = ExpanderContext {
            priorities: Some(p),
            ..Default::default()
        };
        let mut w = vec![];
        let out = priority(opts, &ctx, &mut w);
        (out.into_iter().map(|o| o.group).collect(), w)
    }

    #[test]
    fn priorities_parse_from_yaml() {
        let p = parse_priorities("10:\n  - .*on-demand.*\n50:\n  - .*spot.*\n").unwrap();
        assert_eq!(p[&50], [".*spot.*"]);
        assert_eq!(p[&10], [".*on-demand.*"]);
        assert!(parse_priorities("ten: [a]").is_err());
    }

    #[test]
    fn priority_expander_upstream_cases() {
        let t2micro = opt("my-asg.t2.micro", 1, &[]);
        let t2large = opt("my-asg.t2.large", 1, &[]);
        let t3large = opt("my-asg.t3.large", 1, &[]);
        let m4 = opt("my-asg.m4.4xlarge", 1, &[]);
        // TestPriorityExpanderCorrecltyFiltersSingleMatchingOptionOutOfOne
        assert_eq!(
            run_priority(&config(), std::slice::from_ref(&t2large)).0,
            ["my-asg.t2.large"]
        );
        // ...SingleMatchingOptionOutOfMany
        assert_eq!(
            run_priority(&config(), &[t2large.clone(), m4.clone()]).0,
            ["my-asg.m4.4xlarge"]
        );
        // TestPriorityExpanderFiltersToHigherPriorityMatch (wildcardMatchConfig)
        let wildcard = BTreeMap::from([
            (5, vec![".*".to_string()]),
            (10, vec![r".t2\.large.*".to_string()]),
        ]);
        assert_eq!(
            run_priority(&wildcard, &[t2large.clone(), t2micro.clone()]).0,
            ["my-asg.t2.large"]
        );
        // ...TwoMatchingOptionsOutOfMany
        assert_eq!(
            run_priority(
                &config(),
                &[t2large.clone(), t3large.clone(), t2micro.clone()]
            )
            .0,
            ["my-asg.t2.large", "my-asg.t3.large"]
        );
        // ...FallsBackToAllWhenNoMatches (notMatchingConfig)
        let not_matching = BTreeMap::from([
            (5, vec![r".*t\.micro.*".to_string()]),
            (10, vec![r".*t\.large.*".to_string()]),
        ]);
        let (out, w) = run_priority(&not_matching, &[t2large.clone(), t3large.clone()]);
        assert_eq!(out, ["my-asg.t2.large", "my-asg.t3.large"]);
        assert_eq!(w.last().unwrap().reason, "PriorityConfigMapNoGroupMatched");
        // ...HandlesConfigUpdate: oneEntryConfig, then the full config on the next call.
        let one = BTreeMap::from([(10, vec![r".*t2\.large.*".to_string()])]);
        let all = [t2large.clone(), t3large.clone(), m4.clone()];
        let (out, w) = run_priority(&one, &all);
        assert_eq!(out, ["my-asg.t2.large"]);
        assert_eq!(
            w.iter().map(|w| w.message.clone()).collect::<Vec<_>>(),
            [
                "Priority expander: node group my-asg.t3.large not found in priority expander configuration. The group won't be used.",
                "Priority expander: node group my-asg.m4.4xlarge not found in priority expander configuration. The group won't be used.",
            ]
        );
        assert_eq!(run_priority(&config(), &all).0, ["my-asg.m4.4xlarge"]);
        // ...SkipsBadChangeConfig: an empty configuration leaves every option.
        let (out, w) = run_priority(&BTreeMap::new(), &all);
        assert_eq!(out.len(), 3);
        assert_eq!(
            w[0].message,
            "Wrong configuration for priority expander: priority configuration in cluster-autoscaler-priority-expander configmap is empty; please provide valid configuration. Ignoring update."
        );
    }

    #[test]
    fn priority_negative_priorities_never_win_and_regex_is_unanchored() {
        let p = BTreeMap::from([(-5, vec!["spot".to_string()])]);
        let (out, w) = run_priority(&p, &[opt("eks-spot-1", 1, &[]), opt("eks-od-1", 1, &[])]);
        assert_eq!(
            out.len(),
            2,
            "no option reached priority >= 0: input unchanged"
        );
        assert!(
            w.iter()
                .any(|w| w.reason == "PriorityConfigMapNoGroupMatched")
        );
        let p = BTreeMap::from([
            (50, vec!["spot".to_string()]),
            (10, vec!["on-demand".to_string()]),
        ]);
        assert_eq!(
            run_priority(&p, &[opt("ng-on-demand", 1, &[]), opt("ng-spot-a", 1, &[])]).0,
            ["ng-spot-a"]
        );
    }

    // expander/waste/waste_test.go TestLeastWaste: 500m / 1000MiB pod; balanced 8 CPU / 16000MiB,
    // highmem 8 CPU / 32000MiB, lowcpu 4 CPU / 16000MiB.
    #[test]
    fn least_waste_upstream_case() {
        let mib = 1024 * 1024;
        let mk = |g: &str, cpu: i64, mem: i64| ExpansionOption {
            pod_requests: Resources {
                cpu_milli: 500,
                memory: 1000 * mib,
                pods: 1,
            },
            node_capacity: Resources {
                cpu_milli: cpu,
                memory: mem * mib,
                pods: 100,
            },
            ..opt(g, 1, &[1])
        };
        let balanced = mk("balanced", 16 * 500, 16 * 1000);
        let highmem = mk("highmem", 16 * 500, 32 * 1000);
        let lowcpu = mk("lowcpu", 8 * 500, 16 * 1000);
        assert_eq!(
            groups(&least_waste(std::slice::from_ref(&balanced))),
            ["balanced"]
        );
        assert_eq!(
            groups(&least_waste(&[balanced.clone(), highmem.clone()])),
            ["balanced"]
        );
        assert_eq!(
            groups(&least_waste(&[balanced.clone(), highmem, lowcpu])),
            ["lowcpu"]
        );
        // waste = (8000-500)/8000 + (16000-1000)/16000
        assert!((waste_score(&balanced) - (0.9375 + 0.9375)).abs() < 1e-12);
    }

    // expander/mostpods/mostpods_test.go TestMostPods.
    #[test]
    fn most_pods_upstream_case() {
        let eo0 = opt("EO0", 2, &[]);
        let eo1 = opt("EO1", 2, &[1]);
        let eo1b = opt("EO1b", 2, &[2]);
        assert_eq!(groups(&most_pods(std::slice::from_ref(&eo0))), ["EO0"]);
        assert_eq!(groups(&most_pods(&[eo0.clone(), eo1.clone()])), ["EO1"]);
        assert_eq!(groups(&most_pods(&[eo0, eo1, eo1b])), ["EO1", "EO1b"]);
    }

    // expander/leastnodes/leastnodes_test.go TestLeastNodes.
    #[test]
    fn least_nodes_upstream_cases() {
        let f = |counts: &[u32]| -> Vec<String> {
            let opts: Vec<_> = counts
                .iter()
                .enumerate()
                .map(|(i, c)| opt(&format!("EO{i}"), *c, &[]))
                .collect();
            least_nodes(&opts).into_iter().map(|o| o.group).collect()
        };
        assert!(f(&[]).is_empty());
        assert!(f(&[0]).is_empty(), "no valid options");
        assert_eq!(f(&[2]), ["EO0"]);
        assert_eq!(f(&[2, 1]), ["EO1"]);
        assert_eq!(f(&[6, 2, 2]), ["EO1", "EO2"]);
        assert_eq!(f(&[8, 8, 8]), ["EO0", "EO1", "EO2"]);
        assert_eq!(f(&[23, 0, 5, 8, 5, 5, 22]), ["EO2", "EO4", "EO5"]);
    }

    // expander/price/price_test.go TestPriceExpander: n1 1 CPU, n2 / n3 4 CPU; p1 price 20,
    // p2 price 10, stabilization 10.
    #[test]
    fn price_upstream_cases() {
        let mk =
            |g: &str, cpu: i64, count: u32, node_price: f64, pods_price: f64| ExpansionOption {
                node_capacity: Resources {
                    cpu_milli: cpu,
                    memory: 1 << 30,
                    pods: 110,
                },
                node_price: Some(node_price),
                pods_price: Some(pods_price),
                ..opt(g, count, &[1, 2])
            };
        let ctx = |pref: i64| ExpanderContext {
            priorities: None,
            preferred_cpu_milli: pref,
            stabilization_price: 10.0,
        };
        // First node group is cheaper.
        assert_eq!(
            groups(&price(
                &[
                    mk("ng1", 1000, 2, 20.0, 30.0),
                    mk("ng2", 4000, 1, 200.0, 30.0)
                ],
                &ctx(2000)
            )),
            ["ng1"]
        );
        // First is cheaper, the second is preferred (4 CPU preferred).
        assert_eq!(
            groups(&price(
                &[
                    mk("ng1", 1000, 2, 50.0, 30.0),
                    mk("ng2", 4000, 1, 200.0, 30.0)
                ],
                &ctx(4000)
            )),
            ["ng2"]
        );
        // Same, but lots of nodes: unfitness is suppressed and the cheaper group wins.
        assert_eq!(
            groups(&price(
                &[
                    mk("ng1", 1000, 80, 20.0, 30.0),
                    mk("ng2", 4000, 40, 200.0, 30.0)
                ],
                &ctx(4000)
            )),
            ["ng1"]
        );
        // Second node group is cheaper.
        assert_eq!(
            groups(&price(
                &[
                    mk("ng1", 1000, 2, 200.0, 30.0),
                    mk("ng2", 4000, 1, 100.0, 30.0)
                ],
                &ctx(2000)
            )),
            ["ng2"]
        );
        // Equally expensive nodes, but ng2 takes both pods.
        let ng1_one_pod = mk("ng1", 1000, 2, 200.0, 20.0);
        assert_eq!(
            groups(&price(
                &[ng1_one_pod.clone(), mk("ng2", 4000, 1, 200.0, 30.0)],
                &ctx(2000)
            )),
            ["ng2"]
        );
        // Errors: no prices → nothing.
        let unpriced = ExpansionOption {
            node_price: None,
            ..ng1_one_pod.clone()
        };
        assert!(price(&[unpriced], &ctx(2000)).is_empty());
        // Non-existent group: same price → the existing group; cheaper → the new one.
        let ng3 = |p: f64| ExpansionOption {
            exists: false,
            ..mk("ng3", 4000, 1, p, 30.0)
        };
        let base = [ng1_one_pod.clone(), mk("ng2", 4000, 1, 200.0, 30.0)];
        assert_eq!(
            groups(&price(
                &[base[0].clone(), base[1].clone(), ng3(200.0)],
                &ctx(2000)
            )),
            ["ng2"]
        );
        assert_eq!(
            groups(&price(
                &[base[0].clone(), base[1].clone(), ng3(90.0)],
                &ctx(2000)
            )),
            ["ng3"]
        );
    }

    #[test]
    fn preferred_node_table() {
        assert_eq!(
            [1, 2, 3, 6, 7, 20, 21, 60, 61, 200, 201].map(preferred_cpu_milli),
            [
                1000, 1000, 2000, 2000, 4000, 4000, 8000, 8000, 16000, 16000, 32000
            ]
        );
    }

    // expander/factory/chain_test.go: filters run in order and stop at a single option; the
    // fallback picks among ties.
    #[test]
    fn chain_stops_at_one_option_and_falls_back_to_random() {
        let a = opt("a", 1, &[1]);
        let b = opt("b", 2, &[1, 2]);
        let c = opt("c", 2, &[3, 4]);
        let mut calls = 0;
        let mut pick = |n: usize| {
            calls += 1;
            n - 1
        };
        let ctx = ExpanderContext::default();
        let mut w = vec![];
        // most-pods leaves b and c; least-nodes cannot split them; random picks the last.
        let chosen = choose(
            &[ExpanderName::MostPods, ExpanderName::LeastNodes],
            &[a.clone(), b.clone(), c.clone()],
            &ctx,
            &mut w,
            &mut pick,
        )
        .unwrap();
        assert_eq!(chosen.group, "c");
        // least-nodes alone decides: no random draw.
        let chosen = choose(
            &[ExpanderName::LeastNodes, ExpanderName::MostPods],
            &[a, b, c],
            &ctx,
            &mut w,
            &mut pick,
        )
        .unwrap();
        assert_eq!(chosen.group, "a");
        assert_eq!(calls, 1);
        assert!(
            choose(
                &[ExpanderName::LeastNodes],
                &[opt("z", 0, &[])],
                &ctx,
                &mut w,
                &mut |_| 0
            )
            .is_none()
        );
    }

    #[test]
    fn chain_parsing_rules() {
        assert_eq!(
            parse_chain("priority,least-waste").unwrap(),
            [ExpanderName::Priority, ExpanderName::LeastWaste]
        );
        assert!(parse_chain("random,priority").unwrap_err().contains("last"));
        assert!(
            parse_chain("priority,priority")
                .unwrap_err()
                .contains("multiple")
        );
        assert_eq!(
            parse_chain("bogus").unwrap_err(),
            "Expander bogus not supported"
        );
    }
}
