//! `report.html`: one self-contained page (inline CSS and SVG, nothing fetched).

use std::fmt::Write as _;
use std::io;

use serde_json::Value;

use crate::chart::render_chart;
use crate::format::{escape_html as esc, format_hms, format_number, group_thousands};
use crate::render::StreamError;
use crate::{EventRecord, RenderError, RunOutput};

/// At most this many events are listed in `report.html`; the rest are only in `events.jsonl`.
pub const MAX_HTML_EVENTS: usize = 2000;

/// Longest text shown for a nested JSON value in the summary table.
const MAX_JSON_CELL: usize = 300;

const CSS: &str = "\
body{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,sans-serif;\
color:#1f2328;background:#fff;line-height:1.45;max-width:1180px;margin:1.5rem auto;padding:0 1rem}
h1{font-size:1.75rem;margin:0 0 .25rem}
h2{font-size:1.3rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem;margin-top:2.2rem}
nav a{margin-right:1rem}
a{color:#0969da}
.muted{color:#656d76}
table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.25rem .55rem;text-align:left;vertical-align:top}
thead th{background:#f6f8fa;position:sticky;top:0}
table.summary td:first-child{font-weight:600;white-space:nowrap}
table.summary tr.group th{background:#eef1f4}
table.summary td.nested{padding-left:1.6rem;font-weight:normal}
td.time{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:nowrap}
tr.warning td{background:#fff8e1}
tr.warning td.type{color:#9a6700;font-weight:600}
figure{margin:1.2rem 0;border:1px solid #d0d7de;border-radius:6px;padding:.5rem}
figure svg{display:block;max-width:100%;height:auto}
.step{border:1px solid #d0d7de;border-radius:6px;margin:.8rem 0;padding:.5rem .7rem}
.step-head{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9rem}
.step-head .time{color:#656d76;margin-right:.6rem}
.exit{float:right;font-weight:600}
.exit.ok{color:#1a7f37}
.exit.fail{color:#cf222e}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px;padding:.45rem .6rem;margin:.4rem 0 0;\
white-space:pre-wrap;overflow-wrap:anywhere;font-size:.82rem}
pre.stderr{background:#fff5f5;border-color:#f5c2c7}
footer{margin:2.5rem 0 1rem;font-size:.85rem}
.verdict{border-radius:6px;padding:.6rem .9rem;margin:1rem 0;font-size:1.1rem;font-weight:600}
.verdict.ok{background:#dafbe1;border:1px solid #1a7f37;color:#116329}
.verdict.fail{background:#ffebe9;border:1px solid #cf222e;color:#a40e26}
table.facts td.bad{color:#cf222e;font-weight:600}
table.facts td.good{color:#1a7f37}
";

/// Renders `report.html`: title, summary table, one SVG chart per [`crate::ChartSpec`],
/// the kubectl transcript and an event timeline (first [`MAX_HTML_EVENTS`] events).
///
/// All text is HTML-escaped; the page references nothing outside itself except the
/// neighbouring data files of the run directory (relative links).
pub fn render_html(out: &RunOutput) -> Result<String, RenderError> {
    // The page is written from `&str` pieces only: it is always UTF-8.
    crate::render::to_string(
        |w| write_html(out, w),
        |reason| RenderError::Chart {
            title: "report.html".to_owned(),
            reason,
        },
    )
}

/// Writes `report.html` (see [`render_html`]) a section or chart at a time, so the page is
/// never whole in memory.
pub(crate) fn write_html<W: io::Write>(out: &RunOutput, w: &mut W) -> Result<(), StreamError> {
    write_html_with(out, &EventsView::of(&out.events), w, &mut |i| {
        render_chart(&out.timeseries, &out.charts[i])
    })
}

/// What the page shows of the run's events: how many there were, how many of them warnings,
/// and the first [`MAX_HTML_EVENTS`] (or all) of them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventsView<'a> {
    /// All events.
    pub(crate) total: usize,
    /// Events of type `Warning`.
    pub(crate) warnings: usize,
    /// The first events, in order.
    pub(crate) head: &'a [EventRecord],
}

impl<'a> EventsView<'a> {
    /// The view of all the events.
    pub(crate) fn of(events: &'a [EventRecord]) -> Self {
        EventsView {
            total: events.len(),
            warnings: events.iter().filter(|e| is_warning(e)).count(),
            head: &events[..events.len().min(MAX_HTML_EVENTS)],
        }
    }
}

/// An event of type `Warning`.
pub(crate) fn is_warning(e: &EventRecord) -> bool {
    e.type_ == "Warning"
}

/// [`write_html`] with the events shown from `events` and the SVG of chart `i` (of
/// `out.charts`) from `chart(i)`, called once per chart in order (the writer of the run
/// directory renders them on two threads).
pub(crate) fn write_html_with<W: io::Write>(
    out: &RunOutput,
    events: &EventsView<'_>,
    w: &mut W,
    chart: &mut dyn FnMut(usize) -> Result<String, RenderError>,
) -> Result<(), StreamError> {
    let mut h = String::with_capacity(64 * 1024);
    let title = esc(&out.name);
    let warnings = events.warnings;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} · kscale report</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n\
         <header>\n<h1>{title}</h1>\n<p class=\"muted\">kscale run report · {} events ({} warnings) · \
         {} kubectl steps · {} samples</p>\n\
         <nav><a href=\"#verdict\">Verdict</a><a href=\"#summary\">Summary</a><a href=\"#charts\">Charts</a>\
         <a href=\"#transcript\">Transcript</a><a href=\"#events\">Events</a></nav>\n</header>\n",
        group_thousands(events.total),
        group_thousands(warnings),
        group_thousands(out.transcript.len()),
        group_thousands(out.timeseries.rows.len()),
    );

    verdict_section(&mut h, &out.summary);
    summary_section(&mut h, &out.summary);
    flush(&mut h, w)?;

    h.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
    if out.charts.is_empty() {
        h.push_str("<p class=\"muted\">No charts.</p>\n");
    }
    for (i, spec) in out.charts.iter().enumerate() {
        let svg = chart(i)?;
        // The chart goes to the stream as it is, not through a copy in `h`.
        let _ = writeln!(h, "<figure aria-label=\"{}\">", esc(&spec.title));
        flush(&mut h, w)?;
        w.write_all(svg.as_bytes())?;
        drop(svg);
        h.push_str("</figure>\n");
    }
    h.push_str("</section>\n");

    transcript_section(&mut h, out);
    flush(&mut h, w)?;
    events_section(&mut h, events);

    h.push_str(
        "<footer class=\"muted\">Generated by kscale. Full data: <a href=\"summary.json\">summary.json</a>, \
         <a href=\"events.jsonl\">events.jsonl</a>, <a href=\"transcript.jsonl\">transcript.jsonl</a>, \
         <a href=\"timeseries.csv\">timeseries.csv</a>.</footer>\n</body>\n</html>\n",
    );
    flush(&mut h, w)
}

/// Moves the text rendered so far to the stream.
fn flush<W: io::Write>(h: &mut String, w: &mut W) -> Result<(), StreamError> {
    w.write_all(h.as_bytes())?;
    h.clear();
    Ok(())
}

/// The outcome first ([`crate::verdict`]): a one-line verdict and its facts, for a run's
/// summary (sweep pages have none).
fn verdict_section(h: &mut String, summary: &Value) {
    if summary.get("durationSeconds").is_none() || summary.get("nodes").is_none() {
        return;
    }
    let v = crate::verdict(summary);
    let _ = write!(
        h,
        "<section id=\"verdict\">\n<div class=\"verdict {}\">{}</div>\n<table class=\"facts\">\n<tbody>\n",
        if v.ok { "ok" } else { "fail" },
        esc(&v.headline)
    );
    for f in &v.facts {
        let class = match f.mark {
            crate::Mark::Bad => " class=\"bad\"",
            crate::Mark::Good => " class=\"good\"",
            crate::Mark::Info => "",
        };
        let _ = writeln!(
            h,
            "<tr><th>{}</th><td{class}>{}</td></tr>",
            esc(f.label),
            esc(&f.text)
        );
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
}

fn summary_section(h: &mut String, summary: &Value) {
    h.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n");
    let mut rows = String::new();
    match summary {
        Value::Object(map) => {
            for (key, value) in map {
                match value {
                    Value::Object(inner) if !inner.is_empty() => {
                        let _ = writeln!(
                            rows,
                            "<tr class=\"group\"><th colspan=\"2\">{}</th></tr>",
                            esc(key)
                        );
                        for (k, v) in inner {
                            let _ = writeln!(
                                rows,
                                "<tr><td class=\"nested\">{}</td><td>{}</td></tr>",
                                esc(k),
                                esc(&value_text(v))
                            );
                        }
                    }
                    _ => {
                        let _ = writeln!(
                            rows,
                            "<tr><td>{}</td><td>{}</td></tr>",
                            esc(key),
                            esc(&value_text(value))
                        );
                    }
                }
            }
        }
        Value::Null => {}
        other => {
            let _ = writeln!(
                rows,
                "<tr><td>value</td><td>{}</td></tr>",
                esc(&value_text(other))
            );
        }
    }
    if rows.is_empty() {
        h.push_str("<p class=\"muted\">Empty summary.</p>\n");
    } else {
        let _ = write!(
            h,
            "<table class=\"summary\">\n<tbody>\n{rows}</tbody>\n</table>\n"
        );
    }
    h.push_str("</section>\n");
}

/// A JSON value as table text: scalars plainly, short lists of scalars comma-separated,
/// anything else as compact JSON cut at [`MAX_JSON_CELL`] characters.
fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => format_number(f),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items)
            if items.len() <= 20 && items.iter().all(|i| !i.is_array() && !i.is_object()) =>
        {
            items.iter().map(value_text).collect::<Vec<_>>().join(", ")
        }
        other => {
            let json = other.to_string();
            if json.chars().count() > MAX_JSON_CELL {
                let cut: String = json.chars().take(MAX_JSON_CELL).collect();
                format!("{cut}… (see summary.json)")
            } else {
                json
            }
        }
    }
}

fn transcript_section(h: &mut String, out: &RunOutput) {
    h.push_str("<section id=\"transcript\">\n<h2>kubectl transcript</h2>\n");
    if out.transcript.is_empty() {
        h.push_str("<p class=\"muted\">No kubectl steps.</p>\n");
    }
    for step in &out.transcript {
        let class = if step.exit_code == 0 { "ok" } else { "fail" };
        let _ = writeln!(
            h,
            "<div class=\"step\">\n<div class=\"step-head\"><span class=\"time\">{}</span>$ {}\
             <span class=\"exit {class}\">exit code {}</span></div>",
            format_hms(step.at),
            esc(&step.command),
            step.exit_code
        );
        if !step.stdout.is_empty() {
            let _ = writeln!(h, "<pre class=\"stdout\">{}</pre>", esc(&step.stdout));
        }
        if !step.stderr.is_empty() {
            let _ = writeln!(h, "<pre class=\"stderr\">{}</pre>", esc(&step.stderr));
        }
        if step.stdout.is_empty() && step.stderr.is_empty() {
            h.push_str("<div class=\"muted\">(no output)</div>\n");
        }
        h.push_str("</div>\n");
    }
    h.push_str("</section>\n");
}

fn events_section(h: &mut String, events: &EventsView<'_>) {
    h.push_str("<section id=\"events\">\n<h2>Event timeline</h2>\n");
    let total = events.total;
    if total == 0 {
        h.push_str("<p class=\"muted\">No events.</p>\n</section>\n");
        return;
    }
    if total > MAX_HTML_EVENTS {
        let _ = writeln!(
            h,
            "<p class=\"muted\">Showing the first {} of {} events; {} more are omitted here. \
             The full list is in <a href=\"events.jsonl\">events.jsonl</a>.</p>",
            group_thousands(MAX_HTML_EVENTS),
            group_thousands(total),
            group_thousands(total - MAX_HTML_EVENTS)
        );
    }
    h.push_str(
        "<table class=\"events\">\n<thead><tr><th>Time</th><th>Type</th><th>Reason</th><th>Kind</th>\
         <th>Namespace</th><th>Name</th><th>Message</th></tr></thead>\n<tbody>\n",
    );
    for e in events.head.iter().take(MAX_HTML_EVENTS) {
        let class = if is_warning(e) {
            " class=\"warning\""
        } else {
            ""
        };
        let o = &e.involved_object;
        let _ = writeln!(
            h,
            "<tr{class}><td class=\"time\">{}</td><td class=\"type\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            format_hms(e.time),
            esc(&e.type_),
            esc(&e.reason),
            esc(&o.kind),
            esc(&o.namespace),
            esc(&o.name),
            esc(&e.message)
        );
    }
    h.push_str("</tbody>\n</table>\n");
    if total > MAX_HTML_EVENTS {
        let _ = writeln!(
            h,
            "<p class=\"muted\">{} more events omitted; see events.jsonl.</p>",
            group_thousands(total - MAX_HTML_EVENTS)
        );
    }
    h.push_str("</section>\n");
}
