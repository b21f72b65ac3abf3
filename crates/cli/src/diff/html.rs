//! `report.html` of a diff: self-contained (inline CSS and SVG, no external resources), a
//! summary table, a side-by-side table per category and, per Deployment, the desired and
//! ready replicas of A and B overlaid in one chart.

use std::fmt::Write;

use super::run_dir::{RunDir, Series};
use super::{CategoryDiff, Diff, Item};

/// Escapes text for HTML.
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

/// Rows listed per group of a category table; the rest are only in `diff.json`.
const MAX_ROWS: usize = 500;

/// The table rows of one group of items.
fn rows(out: &mut String, class: &str, label: &str, items: &[Item]) {
    for i in items.iter().take(MAX_ROWS) {
        let _ = writeln!(
            out,
            "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(label),
            esc(&i.what),
            esc(&i.a),
            esc(&i.b),
            esc(&i.note)
        );
    }
    if items.len() > MAX_ROWS {
        let _ = writeln!(
            out,
            "<tr><td colspan=\"5\" class=\"muted\">{} more, see diff.json</td></tr>",
            items.len() - MAX_ROWS
        );
    }
}

/// The section of one category.
fn category(out: &mut String, c: &CategoryDiff) {
    let status = if c.equal() {
        "<span class=\"eq\">equal</span>"
    } else {
        "<span class=\"ne\">different</span>"
    };
    let _ = writeln!(
        out,
        "<h2 id=\"{}\">{} {status}</h2>\n<p class=\"muted\">{} matched, {} only in A, {} only in B, {} value differences</p>",
        c.name,
        esc(&c.title),
        c.matched.len(),
        c.only_in_a.len(),
        c.only_in_b.len(),
        c.value_differences.len()
    );
    if c.matched.is_empty()
        && c.only_in_a.is_empty()
        && c.only_in_b.is_empty()
        && c.value_differences.is_empty()
        && c.not_compared.is_empty()
    {
        return;
    }
    out.push_str("<table><tr><th></th><th>item</th><th>A</th><th>B</th><th>note</th></tr>\n");
    rows(out, "diff", "differs", &c.value_differences);
    rows(out, "only", "only in A", &c.only_in_a);
    rows(out, "only", "only in B", &c.only_in_b);
    rows(out, "nc", "not compared", &c.not_compared);
    rows(out, "ok", "matched", &c.matched);
    out.push_str("</table>\n");
}

/// Colours of A's and B's lines.
const COLOURS: [&str; 2] = ["#1f77b4", "#d62728"];

/// One line of a chart: label, colour, dashed, samples.
type Line<'a> = (String, &'a str, bool, Vec<(f64, f64)>);

/// An SVG chart of the step lines `lines`.
fn chart(title: &str, lines: &[Line]) -> String {
    // The legend is to the right of the plot.
    let (w, h, pad, right) = (860.0, 220.0, 40.0, 160.0);
    let pts = lines.iter().flat_map(|l| l.3.iter());
    let (mut t0, mut t1, mut v1) = (f64::INFINITY, f64::NEG_INFINITY, 1.0f64);
    for &(t, v) in pts {
        t0 = t0.min(t);
        t1 = t1.max(t);
        v1 = v1.max(v);
    }
    if !t0.is_finite() {
        return String::new();
    }
    if t1 <= t0 {
        t1 = t0 + 1.0;
    }
    let x = |t: f64| pad + (t - t0) / (t1 - t0) * (w - pad - right);
    let y = |v: f64| h - pad - v / v1 * (h - 2.0 * pad);
    let mut s = format!(
        "<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n",
        esc(title)
    );
    let _ = writeln!(
        s,
        "<line x1=\"{pad}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#888\"/><line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{b}\" stroke=\"#888\"/>\
         <text x=\"{l}\" y=\"{pad}\" font-size=\"11\" text-anchor=\"end\">{}</text><text x=\"{l}\" y=\"{b}\" font-size=\"11\" text-anchor=\"end\">0</text>\
         <text x=\"{pad}\" y=\"{tb}\" font-size=\"11\">{}</text><text x=\"{r}\" y=\"{tb}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
        super::num(v1),
        super::secs(t0),
        super::secs(t1),
        b = h - pad,
        r = w - right,
        l = pad - 4.0,
        tb = h - pad + 14.0,
    );
    for (k, (label, colour, dashed, samples)) in lines.iter().enumerate() {
        let mut d = String::new();
        let mut prev: Option<f64> = None;
        for &(t, v) in samples {
            match prev {
                None => {
                    let _ = write!(d, "M{:.1},{:.1}", x(t), y(v));
                }
                Some(pv) => {
                    let _ = write!(d, " L{:.1},{:.1} L{:.1},{:.1}", x(t), y(pv), x(t), y(v));
                }
            }
            prev = Some(v);
        }
        let dash = if *dashed {
            " stroke-dasharray=\"5,3\""
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\"{dash}/>\
             <text x=\"{lx}\" y=\"{ly}\" font-size=\"11\" fill=\"{colour}\">{}</text>",
            esc(label),
            lx = w - right + 10.0,
            ly = pad + 14.0 * k as f64,
        );
    }
    s.push_str("</svg></figure>\n");
    s
}

/// The Deployments of a run's time series (`NS/NAME`).
fn deployments(s: &Series) -> Vec<String> {
    s.columns
        .iter()
        .filter_map(|c| c.strip_prefix("deploy/")?.strip_suffix("/desired"))
        .map(str::to_string)
        .collect()
}

/// Renders `report.html`.
pub fn render(diff: &Diff, a: &RunDir, b: &RunDir) -> String {
    let mut out = String::new();
    let equal = diff.equal();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>kscale diff: {} vs {}</title>\n<style>\n\
         body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}\n\
         table {{ border-collapse: collapse; margin-bottom: 1em; font-size: 13px; }}\n\
         th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }}\n\
         th {{ background: #f3f3f3; }}\n\
         tr.diff td {{ background: #fff0e0; }} tr.only td {{ background: #ffe8e8; }} tr.nc td {{ color: #888; }}\n\
         .eq {{ color: #2a7d2a; font-size: 0.7em; }} .ne {{ color: #c0392b; font-size: 0.7em; }}\n\
         .muted {{ color: #777; }} figure {{ margin: 0 0 1em 0; }} figcaption {{ font-weight: 600; }}\n\
         </style>\n</head>\n<body>\n<h1>kscale diff {}</h1>\n",
        esc(&a.name()),
        esc(&b.name()),
        if equal {
            "<span class=\"eq\">equal</span>"
        } else {
            "<span class=\"ne\">different</span>"
        }
    );
    let _ = writeln!(
        out,
        "<table><tr><th></th><th>path</th><th>scenario</th><th>backend</th></tr>\
         <tr><td>A</td><td>{}</td><td>{}</td><td>{}</td></tr>\
         <tr><td>B</td><td>{}</td><td>{}</td><td>{}</td></tr></table>\n<p>Time tolerance: {}.</p>",
        esc(&a.path.display().to_string()),
        esc(a.scenario()),
        esc(a.backend()),
        esc(&b.path.display().to_string()),
        esc(b.scenario()),
        esc(b.backend()),
        esc(&diff.tolerance)
    );
    out.push_str("<table><tr><th>category</th><th>matched</th><th>only in A</th><th>only in B</th><th>value differences</th></tr>\n");
    for c in &diff.categories {
        let _ = writeln!(
            out,
            "<tr class=\"{}\"><td><a href=\"#{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if c.equal() { "ok" } else { "diff" },
            c.name,
            esc(&c.title),
            c.matched.len(),
            c.only_in_a.len(),
            c.only_in_b.len(),
            c.value_differences.len()
        );
    }
    out.push_str("</table>\n");
    let mut deps = deployments(&a.series);
    deps.extend(deployments(&b.series));
    deps.sort();
    deps.dedup();
    if !deps.is_empty() {
        out.push_str("<h2>Deployment replicas</h2>\n<p class=\"muted\">A blue, B red; solid desired, dashed ready.</p>\n");
    }
    for d in deps.iter().take(50) {
        let mut lines = vec![];
        for (run, r, colour) in [("A", a, COLOURS[0]), ("B", b, COLOURS[1])] {
            for (col, dashed) in [("desired", false), ("ready", true)] {
                let s = r.series.samples(&format!("deploy/{d}/{col}"));
                if !s.is_empty() {
                    lines.push((format!("{run} {col}"), colour, dashed, s));
                }
            }
        }
        out.push_str(&chart(&format!("Deployment {d}"), &lines));
    }
    for c in &diff.categories {
        category(&mut out, c);
    }
    out.push_str("<footer class=\"muted\">Generated by kscale diff. Full data: <a href=\"diff.json\">diff.json</a>.</footer>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_draws() {
        assert_eq!(esc("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
        let svg = chart(
            "Deployment default/web",
            &[(
                "A desired".into(),
                COLOURS[0],
                false,
                vec![(0.0, 2.0), (10.0, 5.0)],
            )],
        );
        assert!(svg.contains("<svg") && svg.contains("<path d=\"M"));
        assert_eq!(chart("empty", &[]), "");
    }
}
