//! The twin's module graph has no cycles but the known ones: a module reaching another by a
//! path (`crate::a::b`, `super::b`, or a child's `b::`) that leads back to itself is a new
//! tangle of the kind the issue "One core, two backends" removes. Comments and tests are not
//! read. Uses of the parent's `Sim` (every `impl Sim` block) are not edges here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Cycles (strongly connected components) tolerated for now (none: keep it so).
const KNOWN: &[&[&str]] = &[];

/// Module path (`sim::hpa`) → source without comments and test modules.
fn modules(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let rel = p.strip_prefix(root).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                parts.pop();
            }
            let text = std::fs::read_to_string(&p).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            let code: String = code
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            out.insert(parts.join("::"), code);
        }
    }
    out
}

/// The longest module path that `path` (`a::b::Item`) starts with.
fn resolve(names: &BTreeSet<String>, path: &[&str]) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|c| names.contains(c))
}

/// Paths after `prefix` (`crate::`, `super::`, `child::`): their lowercase segments.
fn paths_after<'a>(code: &'a str, prefix: &str) -> Vec<Vec<&'a str>> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        let mut segs = Vec::new();
        let mut r = rest;
        loop {
            let end = r
                .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(r.len());
            if end == 0 {
                break;
            }
            segs.push(&r[..end]);
            match r[end..].strip_prefix("::") {
                Some(next) => r = next,
                None => break,
            }
        }
        // `use crate::{a, b::c}`: each item of the group.
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            for item in inner.split(',') {
                // Module paths only: an item of the module itself (`super::{Event, Sim}`)
                // is not an edge.
                let segs: Vec<&str> = item
                    .trim()
                    .split("::")
                    .take_while(|s| {
                        !s.is_empty()
                            && s.chars()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    })
                    .collect();
                if !segs.is_empty() {
                    out.push(segs);
                }
            }
        } else if !segs.is_empty() {
            out.push(segs);
        }
    }
    out
}

fn edges(mods: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let names: BTreeSet<String> = mods.keys().cloned().collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, code) in mods {
        let parent: Vec<&str> = if m.is_empty() {
            vec![]
        } else {
            let mut p: Vec<&str> = m.split("::").collect();
            p.pop();
            p
        };
        let own: Vec<&str> = if m.is_empty() {
            vec![]
        } else {
            m.split("::").collect()
        };
        let mut targets = BTreeSet::new();
        for segs in paths_after(code, "crate::") {
            targets.extend(resolve(&names, &segs));
        }
        for segs in paths_after(code, "super::") {
            let full: Vec<&str> = parent.iter().copied().chain(segs).collect();
            targets.extend(resolve(&names, &full));
        }
        // A module's own children, named relatively.
        for child in names.iter().filter_map(|n| {
            let rest = if own.is_empty() {
                n.as_str()
            } else {
                n.strip_prefix(m.as_str())?.strip_prefix("::")?
            };
            (!rest.is_empty() && !rest.contains("::")).then_some(rest)
        }) {
            if !paths_after(code, &format!("{child}::")).is_empty() {
                let full: Vec<&str> = own.iter().copied().chain([child]).collect();
                targets.extend(resolve(&names, &full));
            }
        }
        targets.remove(m);
        targets.remove("");
        g.insert(m.clone(), targets);
    }
    g
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = t.stack.pop().unwrap();
                t.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out.sort();
    t.out
}

#[test]
fn the_twin_has_no_new_module_cycles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = edges(&modules(&root));
    assert!(
        g["sim::hpa"].contains("sim::model"),
        "the graph is read (hpa uses the pod model)"
    );
    let known: Vec<Vec<String>> = KNOWN
        .iter()
        .map(|c| c.iter().map(|s| s.to_string()).collect())
        .collect();
    let found = cycles(&g);
    let new: Vec<&Vec<String>> = found.iter().filter(|c| !known.contains(c)).collect();
    if !new.is_empty() {
        for c in &new {
            for m in c.iter() {
                eprintln!("{m} -> {:?}", g[m]);
            }
        }
    }
    assert!(new.is_empty(), "new module cycles: {new:?}");
}

#[test]
fn the_input_layer_does_not_reach_into_the_simulation() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = edges(&modules(&root));
    for m in [
        "scenario", "manifest", "yaml", "trace", "load", "latency", "cloud",
    ] {
        let into_sim: Vec<&String> = g[m].iter().filter(|t| t.starts_with("sim")).collect();
        assert!(into_sim.is_empty(), "{m} uses {into_sim:?}");
    }
}

#[test]
fn a_cycle_is_found() {
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("a", &["b"][..]),
        ("b", &["c"][..]),
        ("c", &["a"][..]),
        ("d", &["a"][..]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
    .collect();
    assert_eq!(cycles(&g), [vec!["a", "b", "c"]]);
}
