//! The one place kscale calls its YAML library (serde-saphyr, a YAML 1.2 parser).
//!
//! Multi-document files are split on `---` lines so that every document keeps its position in
//! the file: a document knows the file line it starts on, and the parser's line numbers (within
//! the document) are shifted by it, so errors name the file's line numbers. (Documents were once
//! padded with a blank line per line before them instead, which made loading quadratic in the
//! file's length: 7× the time for 3× the manifests at 2,700 documents.)

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::InputError;

/// One YAML document of a file.
#[derive(Debug, Clone)]
pub struct Document {
    /// 1-based line of the document's first line in its file.
    pub start_line: u64,
    /// The document's lines (its line 1 is the file's line `start_line`).
    pub text: String,
}

impl Document {
    /// True if the document holds nothing but comments and blank lines.
    pub fn is_blank(&self) -> bool {
        self.text.lines().all(|l| {
            let t = l.trim();
            t.is_empty() || t.starts_with('#')
        })
    }

    /// 1-based file line of the first line (within this document) whose key is `key:`,
    /// searching after `after_line`; used to locate semantic errors.
    pub fn find_key_line(&self, key: &str, after_line: u64) -> Option<u64> {
        let pat = format!("{key}:");
        self.text.lines().enumerate().find_map(|(i, l)| {
            let n = self.start_line + i as u64;
            let t = l.trim_start().trim_start_matches("- ");
            (n > after_line && (t.starts_with(&pat) || t.starts_with(&format!("\"{key}\":"))))
                .then_some(n)
        })
    }

    /// 1-based file lines on which the items of the first `key:` sequence start.
    pub fn item_lines(&self, key: &str) -> Vec<u64> {
        let Some(start) = self.find_key_line(key, 0) else {
            return vec![];
        };
        let lines: Vec<&str> = self.text.lines().collect();
        let idx = (start - self.start_line) as usize;
        let indent = |l: &str| l.len() - l.trim_start().len();
        let base = indent(lines[idx]);
        let mut item_indent = None;
        let mut out = vec![];
        for (i, l) in lines.iter().enumerate().skip(idx + 1) {
            let t = l.trim_start();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let ind = indent(l);
            if ind < base || (ind == base && !t.starts_with("- ")) {
                break;
            }
            if t.starts_with("- ") && *item_indent.get_or_insert(ind) == ind {
                out.push(self.start_line + i as u64);
            }
        }
        out
    }
}

impl Document {
    /// 1-based file line of a field path as validation errors name it
    /// (`spec.template.spec.containers[1].resources.limits[cpu]`), found by following the
    /// block structure: each key within its parent's lines, each `[i]` as the parent list's
    /// i-th `- ` item. Where the path leaves the lines (a flow mapping, or a field that is
    /// absent, as for `Required value`), the line of the deepest part found.
    pub fn find_path_line(&self, path: &str) -> u64 {
        let lines: Vec<&str> = self.text.lines().collect();
        let indent = |l: &str| l.len() - l.trim_start().len();
        let content = |l: &str| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        };
        // The current node: lines [from, to) and the indentation its children are deeper than.
        let (mut from, mut to, mut parent_indent) = (0usize, lines.len(), None::<usize>);
        let mut found = 0usize;
        let mut steps: Vec<&str> = Vec::new();
        for seg in path.split('.') {
            let mut parts = seg.split('[');
            steps.push(parts.next().unwrap_or(""));
            steps.extend(parts.map(|p| p.trim_end_matches(']')));
        }
        for step in steps.into_iter().filter(|s| !s.is_empty()) {
            if let Ok(i) = step.parse::<usize>() {
                // The i-th item of a block list.
                let items: Vec<usize> = (from..to)
                    .filter(|&n| lines[n].trim_start().starts_with("- ") || lines[n].trim() == "-")
                    .collect();
                let Some(&min) = items.iter().map(|&n| indent(lines[n])).min().as_ref() else {
                    break;
                };
                let items: Vec<usize> = items
                    .into_iter()
                    .filter(|&n| indent(lines[n]) == min)
                    .collect();
                let Some(&start) = items.get(i) else { break };
                let end = items.get(i + 1).copied().unwrap_or_else(|| {
                    (start + 1..to)
                        .find(|&n| content(lines[n]) && indent(lines[n]) <= min)
                        .unwrap_or(to)
                });
                (from, to, found) = (start, end, start);
                // The item's keys sit after the dash.
                parent_indent = Some(min);
                continue;
            }
            let pat = format!("{step}:");
            let quoted = format!("\"{step}\":");
            let hit = (from..to).find(|&n| {
                let l = lines[n];
                let t = l.trim_start().trim_start_matches("- ");
                let deeper = parent_indent.is_none_or(|p| indent(l) > p || n == from);
                deeper && (t.starts_with(&pat) || t.starts_with(&quoted))
            });
            let Some(n) = hit else { break };
            found = n;
            let key_indent = {
                let l = lines[n];
                let t = l.trim_start();
                indent(l) + (t.len() - t.trim_start_matches("- ").len())
            };
            let end = (n + 1..to)
                .find(|&m| content(lines[m]) && indent(lines[m]) <= key_indent)
                .unwrap_or(to);
            // A list under a key may sit at the key's own indentation.
            let end = if lines
                .get(end)
                .is_some_and(|l| l.trim_start().starts_with("- ") && indent(l) == key_indent)
            {
                (end..to)
                    .find(|&m| {
                        content(lines[m])
                            && indent(lines[m]) <= key_indent
                            && !(indent(lines[m]) == key_indent
                                && lines[m].trim_start().starts_with("- "))
                    })
                    .unwrap_or(to)
            } else {
                end
            };
            (from, to) = (n + 1, end);
            parent_indent = Some(key_indent.saturating_sub(1));
        }
        self.start_line + found as u64
    }

    /// The first line holding `key:` anywhere (in a flow mapping such as `{a: 1, key: 2}`).
    pub fn find_key_anywhere(&self, key: &str) -> Option<u64> {
        let pat = format!("{key}:");
        self.text.lines().enumerate().find_map(|(i, l)| {
            l.match_indices(&pat)
                .any(|(at, _)| {
                    at == 0 || !l[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                })
                .then_some(self.start_line + i as u64)
        })
    }
}

/// Renders a value as YAML under YAML 1.2 rules (the parser's): strings such as RFC 3339
/// times stay plain, and no `%YAML` directive is written.
pub fn to_string<T: serde::Serialize>(v: &T) -> String {
    let mut opts = serde_saphyr::SerializerOptions::default();
    opts.yaml_12 = true;
    opts.no_lang_directive = true;
    serde_saphyr::to_string_with_options(v, opts).expect("kscale's own types serialize")
}

/// Splits a file into documents on lines that are exactly `---` (optionally followed by a
/// comment or spaces). A leading `---` does not create an empty document.
pub fn split_documents(text: &str) -> Vec<Document> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut start_line = 1u64;
    for (i, line) in text.lines().enumerate() {
        let n = i as u64 + 1;
        let t = line.trim_end();
        let is_sep = t == "---" || t.starts_with("--- #") || t == "...";
        if is_sep {
            docs.push(Document {
                start_line,
                text: std::mem::take(&mut current),
            });
            start_line = n + 1;
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    docs.push(Document {
        start_line,
        text: current,
    });
    docs.retain(|d| !d.is_blank());
    docs
}

/// Deserializes one document into `T`, mapping parser errors to [`InputError`] with the
/// file's line and column.
pub fn parse<T: DeserializeOwned>(file: &Path, doc: &Document) -> Result<T, InputError> {
    serde_saphyr::from_str::<T>(&doc.text).map_err(|e| to_input_error(file, &e, doc.start_line))
}

/// Deserializes a whole single-document file.
pub fn parse_str<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, InputError> {
    serde_saphyr::from_str::<T>(text).map_err(|e| to_input_error(file, &e, 1))
}

/// `e` of a text whose line 1 is the file's line `first_line`.
fn to_input_error(file: &Path, e: &serde_saphyr::Error, first_line: u64) -> InputError {
    let full = e.to_string();
    // serde-saphyr appends a source snippet after the first line; keep the first line only
    // and strip its own "line X column Y:" prefix, since we print file:line:col ourselves.
    let first = full.lines().next().unwrap_or("").trim().to_string();
    let msg = strip_location_prefix(&first);
    match e.location() {
        Some(loc) if loc.line() > 0 => {
            InputError::at(file, loc.line() + first_line - 1, Some(loc.column()), msg)
        }
        _ => InputError::file(file, msg),
    }
}

fn strip_location_prefix(s: &str) -> String {
    let s = s.strip_prefix("error: ").unwrap_or(s);
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("line ")
        && let Some(idx) = s.find(": ")
    {
        return s[idx + 2..].to_string();
    }
    if let Some(idx) = s.find(" at line ") {
        return s[..idx].to_string();
    }
    s.to_string()
}

/// A typed parser: deserializes into a concrete type (a k8s-openapi kind) and re-serializes
/// to JSON, so a document is checked against its kind's structure.
pub trait TypedParse {
    /// Deserialize from a YAML document (with line-aware errors).
    fn parse_yaml(&self, file: &Path, doc: &Document) -> Result<serde_json::Value, InputError>;
    /// Deserialize from JSON.
    fn parse_json(&self, v: &serde_json::Value) -> Result<serde_json::Value, String>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn field_paths_are_found_by_structure() {
        let text = "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        resources:\n          limits: {cpu: 1}\n      - name: b\n        image: x\n        resources:\n          requests:\n            cpu: 2\n          limits:\n            cpu: 1\n      tolerations:\n        - key: k\n          operator: Bogus\n";
        let d = &split_documents(text)[0];
        // Line numbers in the file (the document starts on line 2).
        let at = |p: &str| d.find_path_line(p);
        assert_eq!(at("spec.template.spec.containers[0].name"), 9);
        // Absent: the container's line.
        assert_eq!(at("spec.template.spec.containers[0].image"), 9);
        assert_eq!(at("spec.template.spec.containers[1].name"), 12);
        assert_eq!(at("spec.template.spec.containers[1].image"), 13);
        assert_eq!(
            at("spec.template.spec.containers[1].resources.requests[cpu]"),
            16
        );
        assert_eq!(
            at("spec.template.spec.containers[1].resources.limits[cpu]"),
            18
        );
        // In a flow mapping: the mapping's line.
        assert_eq!(
            at("spec.template.spec.containers[0].resources.limits[cpu]"),
            11
        );
        assert_eq!(at("spec.template.spec.tolerations[0].operator"), 21);
        assert_eq!(at("metadata.name"), 4);
        assert_eq!(at("spec.selector"), 5);
    }

    #[test]
    fn splits_and_keeps_lines() {
        let text = "---\na: 1\n---\n# only a comment\n---\nb: [1,\n";
        let docs = split_documents(text);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].start_line, 2);
        assert_eq!(docs[1].start_line, 6);
        let e = parse::<BTreeMap<String, Vec<i32>>>(Path::new("f.yaml"), &docs[1]).unwrap_err();
        assert_eq!(e.file, Path::new("f.yaml"));
        assert!(e.line.unwrap() >= 6, "{e}");
    }

    #[test]
    fn type_errors_carry_line() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct S {
            replicas: i32,
        }
        let docs = split_documents("kind: x\n---\n\nreplicas: two\n");
        let e = parse::<S>(Path::new("d.yaml"), &docs[1]).unwrap_err();
        assert_eq!(e.line, Some(4), "{e}");
        assert!(e.to_string().starts_with("d.yaml:4:"), "{e}");
    }

    #[test]
    fn errors_name_the_lines_a_padded_document_gives() {
        // Each document's errors (syntax and type) are where the parser puts them in the whole
        // file, when the document is padded with blank lines to its place.
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct S {
            a: i32,
            b: Option<Vec<i32>>,
        }
        let text =
            "a: 1\n---\n# c\n\na: 2\nb: [1, x]\n---\na: 3\n  b: : 4\n--- # end\n\n\na: four\n";
        let docs = split_documents(text);
        assert_eq!(docs.len(), 4);
        assert_eq!(
            docs.iter().map(|d| d.start_line).collect::<Vec<_>>(),
            [1, 3, 8, 11]
        );
        let f = Path::new("f.yaml");
        let mut errors = 0;
        for d in &docs {
            let padded = "\n".repeat(d.start_line as usize - 1) + &d.text;
            let (got, want) = (parse::<S>(f, d), parse_str::<S>(f, &padded));
            match (got, want) {
                (Ok(_), Ok(_)) => {}
                (Err(g), Err(w)) => {
                    errors += 1;
                    assert_eq!((g.line, g.column), (w.line, w.column), "{g} vs {w}");
                    assert!(g.line.unwrap() >= d.start_line, "{g}");
                }
                (g, w) => panic!("{g:?} vs {w:?}"),
            }
        }
        assert_eq!(errors, 3);
        assert_eq!(docs[1].find_key_line("b", 0), Some(6));
        assert_eq!(docs[3].find_key_line("a", 11), Some(13));
    }

    #[test]
    fn yaml_1_2_keeps_yes_as_string() {
        let v: BTreeMap<String, String> = parse_str(Path::new("x"), "a: yes\nb: on\n").unwrap();
        assert_eq!(v["a"], "yes");
        assert_eq!(v["b"], "on");
    }
}
