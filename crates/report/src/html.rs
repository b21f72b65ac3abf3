//! `report.html`: one self-contained page (inline CSS, data and scripts, nothing fetched).

use std::fmt::Write as _;
use std::io;

use serde_json::Value;

use crate::event_data::{EVENT_CHUNK, EventData};
use crate::format::{escape_html as esc, format_hms, format_number, group_thousands};
use crate::interactive::{
    chart_figure, page_assets, page_scripts, push_number, push_str, script_safe,
};
use crate::render::StreamError;
use crate::{EventRecord, RenderError, RunOutput};

/// At most this many bytes of event data (the JSON of [`crate::event_data`]'s chunks before
/// compression; about 45 bytes an event on the 1,000-node benchmark day, so some 4 million
/// events) are embedded in `report.html`; the events after them are only in `events.jsonl`,
/// which the page says. The page holds them gzip-compressed in base64, about a sixth of that.
pub const MAX_HTML_EVENT_BYTES: usize = 200_000_000;

/// Markers of one kind drawn on the charts at most (evenly picked when there are more).
const MAX_MARKERS_PER_KIND: usize = 300;

/// Kinds of chart markers: kubectl steps, then the events [`marker_kind`] picks.
const MARKER_KINDS: [&str; 6] = ["step", "rescale", "oom", "preempt", "node", "evict"];

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
table.summary td+td{word-break:break-all}
table.summary tr.group th{background:#eef1f4}
table.summary td.nested{padding-left:1.6rem;font-weight:normal}
td.time{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:nowrap}
tr.warning td{background:#fff8e1}
tr.warning td.type{color:#9a6700;font-weight:600}
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

/// Renders `report.html`: the verdict, one interactive chart per [`crate::ChartSpec`] (with
/// markers for kubectl steps and key events), the summary table, the kubectl
/// transcript and a filterable, paged event table (events up to [`MAX_HTML_EVENT_BYTES`]).
///
/// All text is HTML-escaped (JSON data is escaped for `<script>`); the page references
/// nothing outside itself except the neighbouring data files of the run directory (relative
/// links).
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
    let events = EventsPage::of(&out.events, MAX_HTML_EVENT_BYTES);
    write_html_with(
        out,
        &events,
        out.timeseries.rows.len(),
        w,
        &mut |i| chart_figure(&out.timeseries, &out.charts[i]),
        &mut |name| name.to_owned(),
    )
}

/// What the page shows of the run's events, gathered one event at a time: how many there
/// were, how many of them warnings, the event table's data (compressed as it fills, until
/// its budget of [`MAX_HTML_EVENT_BYTES`] or the one given) and the chart markers of key
/// events.
#[derive(Debug)]
pub(crate) struct EventsPage {
    /// All events.
    pub(crate) total: usize,
    /// Events of type `Warning`.
    pub(crate) warnings: usize,
    /// The event table's events.
    pub(crate) data: EventData,
    /// Key events per kind in [`MARKER_KINDS`] (kubectl steps, kind 0, are not events).
    markers: [MarkerSample; MARKER_KINDS.len()],
    /// The key decisions of the page's timeline ([`decision_kind`]): how many, and the first
    /// [`MAX_TIMELINE_ROWS`] as (time, what, object, message).
    decisions: usize,
    timeline: Vec<(f64, &'static str, String, String)>,
}

/// Rows of the page's timeline of key decisions at most (the first ones; every event is in
/// the event table and `events.jsonl`).
const MAX_TIMELINE_ROWS: usize = 200;

/// Longest message shown in a timeline row (characters).
const MAX_TIMELINE_TEXT: usize = 200;

/// What a key decision is, in words, by its event's reason and the kind of object it is
/// recorded on: the rescales of workloads, node launches and removals, OOM kills and
/// preemptions (the decisions the verdict's outcome follows from), or `None`. A removal is
/// recorded on both a Node and its NodeClaim: the Node's is the decision.
fn decision_kind(reason: &str, kind: &str) -> Option<&'static str> {
    Some(match reason {
        "SuccessfulRescale" => "HPA rescale",
        "ScalingReplicaSet" => "replicas scaled",
        "TriggeredScaleUp" | "Launched" => "node launch",
        "RemovingNode" | "ScaleDown" | "DisruptionTerminating" | "InstanceTerminated"
            if kind != "NodeClaim" =>
        {
            "node removal"
        }
        "OOMKilled" | "OOMKilling" => "OOM kill",
        "Preempted" => "preemption",
        _ => return None,
    })
}

/// The key events of one kind kept for the charts, evenly spread over the run in bounded
/// memory: every `stride`-th one, the stride doubling (every other kept one dropped) whenever
/// `2 ×` [`MAX_MARKERS_PER_KIND`] are kept; the page picks at most
/// [`MAX_MARKERS_PER_KIND`] of them evenly.
#[derive(Debug, Default)]
struct MarkerSample {
    /// Events of this kind so far.
    total: usize,
    /// Keep the events whose number (from 0) is a multiple of this (1 at first).
    stride: usize,
    /// (number, time, text), in order.
    kept: Vec<(usize, f64, String)>,
}

impl MarkerSample {
    /// Whether the next event is kept (then [`MarkerSample::keep`] takes it).
    fn wants_next(&self) -> bool {
        self.total.is_multiple_of(self.stride.max(1))
    }

    /// Counts the next event, keeping it when [`MarkerSample::wants_next`].
    fn keep(&mut self, time: f64, text: impl FnOnce() -> String) {
        if self.wants_next() {
            self.kept.push((self.total, time, text()));
            if self.kept.len() >= 2 * MAX_MARKERS_PER_KIND {
                let stride = 2 * self.stride.max(1);
                self.kept.retain(|(i, _, _)| i % stride == 0);
                self.stride = stride;
            }
        }
        self.total += 1;
    }
}

impl EventsPage {
    /// No events yet; the event table takes `budget` bytes of them at most (see
    /// [`MAX_HTML_EVENT_BYTES`]).
    pub(crate) fn new(budget: usize) -> Self {
        EventsPage {
            total: 0,
            warnings: 0,
            data: EventData::new(budget),
            markers: Default::default(),
            decisions: 0,
            timeline: Vec::new(),
        }
    }

    /// The page's view of all the events, [`EventsPage::finish`]ed.
    pub(crate) fn of(events: &[EventRecord], budget: usize) -> Self {
        let mut page = EventsPage::new(budget);
        for e in events {
            page.push(e);
        }
        page.finish();
        page
    }

    /// Adds the next event.
    pub(crate) fn push(&mut self, e: &EventRecord) {
        self.note(e);
        self.data.push(e);
    }

    /// Counts the next event and keeps it for the chart markers if it is one, but leaves it
    /// out of [`EventsPage::data`] (which a [`crate::RunWriter`] fills on another thread).
    pub(crate) fn note(&mut self, e: &EventRecord) {
        self.total += 1;
        if is_warning(e) {
            self.warnings += 1;
        }
        let o = &e.involved_object;
        if let Some(what) = decision_kind(&e.reason, &o.kind) {
            self.decisions += 1;
            if self.timeline.len() < MAX_TIMELINE_ROWS {
                let object = if o.namespace.is_empty() {
                    format!("{} {}", o.kind, o.name)
                } else {
                    format!("{} {}/{}", o.kind, o.namespace, o.name)
                };
                let mut message = e.message.clone();
                if let Some((cut, _)) = message.char_indices().nth(MAX_TIMELINE_TEXT) {
                    message.truncate(cut);
                    message.push('…');
                }
                self.timeline.push((e.time, what, object, message));
            }
        }
        if let Some(kind) = marker_kind(&e.reason) {
            self.markers[kind as usize].keep(e.time, || {
                let mut text = format!("{} {}/{}: {}", e.reason, o.kind, o.name, e.message);
                if let Some((cut, _)) = text.char_indices().nth(160) {
                    text.truncate(cut);
                    text.push('…');
                }
                text
            });
        }
    }

    /// No more events: the event table's last data is compressed (waiting for what is being
    /// compressed meanwhile). Needed before the page is written.
    pub(crate) fn finish(&mut self) {
        self.data.finish();
    }
}

/// Whether events of this reason are marked on the charts (see [`markers_script`]).
pub fn is_marker_reason(reason: &str) -> bool {
    marker_kind(reason).is_some()
}

/// The marker kind (a position in [`MARKER_KINDS`]) of an event's reason, for the events the
/// charts mark: rescales, OOM kills, preemptions, node launches, evictions.
fn marker_kind(reason: &str) -> Option<u8> {
    Some(match reason {
        "ScalingReplicaSet" | "SuccessfulRescale" => 1,
        "OOMKilled" | "OOMKilling" => 2,
        "Preempted" => 3,
        "TriggeredScaleUp" | "Launched" | "RegisteredNode" => 4,
        "Evicted" => 5,
        _ => return None,
    })
}

/// An event of type `Warning`.
pub(crate) fn is_warning(e: &EventRecord) -> bool {
    e.type_ == "Warning"
}

/// [`write_html`] with the events shown from `events`, `samples` rows in the time series, and
/// chart `i` (of `out.charts`, a
/// [`chart_figure`]) from `chart(i)`, called once per chart in order (the writer of the run
/// directory renders them on two threads).
pub(crate) fn write_html_with<W: io::Write>(
    out: &RunOutput,
    events: &EventsPage,
    samples: usize,
    w: &mut W,
    chart: &mut dyn FnMut(usize) -> Result<String, RenderError>,
    file: &mut dyn FnMut(&'static str) -> String,
) -> Result<(), StreamError> {
    let mut h = String::with_capacity(64 * 1024);
    let title = esc(&out.name);
    let warnings = events.warnings;
    // A sweep (column 0 is its parameter, not time) has no steps or events of its own.
    let sweep = out.timeseries.x_label.is_some() && events.total == 0 && out.transcript.is_empty();
    let (what, nav) = if sweep {
        (
            format!("kscale sweep · {} settings", group_thousands(samples)),
            "",
        )
    } else {
        (
            format!(
                "kscale run report · {} events ({} warnings) · {} kubectl steps · {} samples",
                group_thousands(events.total),
                group_thousands(warnings),
                group_thousands(out.transcript.len()),
                group_thousands(samples),
            ),
            "<a href=\"#transcript\">Transcript</a><a href=\"#events\">Events</a>",
        )
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} · kscale report</title>\n<style>\n{CSS}</style>\n{}</head>\n<body>\n\
         <header>\n<h1>{title}</h1>\n<p class=\"muted\">{what}</p>\n\
         <nav><a href=\"#verdict\">Verdict</a>{decisions_link}<a href=\"#charts\">Charts</a><a href=\"#summary\">Summary</a>\
         {nav}</nav>\n</header>\n",
        page_assets(),
        decisions_link = if sweep {
            ""
        } else {
            "<a href=\"#decisions\">Key decisions</a>"
        },
    );

    verdict_section(&mut h, &out.summary);
    if !sweep {
        timeline_section(&mut h, events);
    }
    flush(&mut h, w)?;

    h.push_str(
        "<section id=\"charts\">\n<h2>Charts</h2>\n<p class=\"muted\">Drag across a chart to zoom \
         (all charts follow; double-click to zoom out), hover for values, click a legend entry \
         to hide or show its line.</p>\n<div class=\"ktools\" id=\"chart-tools\"></div>\n",
    );
    if out.charts.is_empty() {
        h.push_str("<p class=\"muted\">No charts.</p>\n");
    }
    markers_json(&mut h, out, events);
    for i in 0..out.charts.len() {
        let figure = chart(i)?;
        // The chart goes to the stream as it is, not through a copy in `h`.
        flush(&mut h, w)?;
        w.write_all(figure.as_bytes())?;
    }
    h.push_str("</section>\n");

    summary_section(&mut h, &out.summary);
    if !sweep {
        transcript_section(&mut h, out);
        flush(&mut h, w)?;
        events_section(&mut h, events, &file("events.jsonl"), w)?;
    }

    let (events_file, transcript, timeseries) = (
        file("events.jsonl"),
        file("transcript.jsonl"),
        file("timeseries.csv"),
    );
    let _ = writeln!(
        h,
        "<footer class=\"muted\">Generated by kscale. Full data: <a href=\"summary.json\">summary.json</a>, \
         <a href=\"{events_file}\">{events_file}</a>, <a href=\"{transcript}\">{transcript}</a>, \
         <a href=\"{timeseries}\">{timeseries}</a>. Charts drawn with uPlot (MIT licence), \
         embedded.</footer>",
    );
    h.push_str(&page_scripts());
    h.push_str("</body>\n</html>\n");
    flush(&mut h, w)
}

/// The chart markers as JSON (`#kscale-markers`): `kinds`, the number of markers of each
/// kind, and `list` of `[time, kind, text]` (at most [`MAX_MARKERS_PER_KIND`] a kind, evenly
/// picked).
fn markers_json(h: &mut String, out: &RunOutput, events: &EventsPage) {
    let mut all: Vec<(f64, u8, &str)> = Vec::new();
    let steps: Vec<String> = out
        .transcript
        .iter()
        .map(|s| format!("$ {} (exit code {})", s.command, s.exit_code))
        .collect();
    all.extend(
        out.transcript
            .iter()
            .zip(&steps)
            .map(|(s, t)| (s.at, 0, t.as_str())),
    );
    let mut totals = [0usize; MARKER_KINDS.len()];
    totals[0] = steps.len();
    let mut kept = Vec::new();
    for (k, m) in events.markers.iter().enumerate().skip(1) {
        totals[k] = m.total;
        kept.extend(m.kept.iter().map(|(_, t, s)| (*t, k as u8, s.as_str())));
    }
    // In time order (kinds in order at equal times), after the steps.
    kept.sort_by(|a, b| a.0.total_cmp(&b.0));
    all.extend(kept);
    h.push_str(&markers_script_of(&all, totals));
}

/// The chart markers of several runs (a compare page) as the page's `#kscale-markers`
/// script: kubectl steps `(time, text)` and events `(time, reason, text)`, of which those
/// [`marker_kind`] picks (rescales, OOM kills, preemptions, node launches, evictions) are kept.
pub fn markers_script(steps: &[(f64, String)], events: &[(f64, &str, String)]) -> String {
    let mut all: Vec<(f64, u8, &str)> = steps.iter().map(|(t, s)| (*t, 0, s.as_str())).collect();
    all.extend(
        events
            .iter()
            .filter_map(|(t, reason, s)| Some((*t, marker_kind(reason)?, s.as_str()))),
    );
    let mut totals = [0usize; MARKER_KINDS.len()];
    for m in &all {
        totals[m.1 as usize] += 1;
    }
    markers_script_of(&all, totals)
}

/// `#kscale-markers` of markers `(time, kind, text)`, of `totals` per kind in all (`all` may
/// hold a sample of them).
fn markers_script_of(all: &[(f64, u8, &str)], totals: [usize; MARKER_KINDS.len()]) -> String {
    let mut counts = [0usize; MARKER_KINDS.len()];
    for m in all {
        counts[m.1 as usize] += 1;
    }
    let mut list = Vec::new();
    let mut seen = [0usize; MARKER_KINDS.len()];
    for m in all {
        let k = m.1 as usize;
        let (i, n) = (seen[k], counts[k]);
        seen[k] += 1;
        // The j-th of MAX kept is the (j * n / MAX)-th.
        let keep = n <= MAX_MARKERS_PER_KIND || {
            let j = (i * MAX_MARKERS_PER_KIND).div_ceil(n);
            j * n / MAX_MARKERS_PER_KIND == i
        };
        if keep {
            list.push(*m);
        }
    }
    let mut j = Vec::with_capacity(64 * list.len() + 128);
    j.extend_from_slice(b"{\"kinds\":[");
    for (i, k) in MARKER_KINDS.iter().enumerate() {
        if i > 0 {
            j.push(b',');
        }
        push_str(&mut j, k);
    }
    j.extend_from_slice(b"],\"counts\":[");
    for (i, c) in totals.iter().enumerate() {
        if i > 0 {
            j.push(b',');
        }
        j.extend_from_slice(itoa::Buffer::new().format(*c).as_bytes());
    }
    j.extend_from_slice(b"],\"list\":[");
    for (i, (t, k, text)) in list.iter().enumerate() {
        if i > 0 {
            j.push(b',');
        }
        j.push(b'[');
        push_number(&mut j, *t);
        j.push(b',');
        j.extend_from_slice(itoa::Buffer::new().format(*k).as_bytes());
        j.push(b',');
        push_str(&mut j, text);
        j.push(b']');
    }
    j.extend_from_slice(b"]}");
    format!(
        "<script type=\"application/json\" id=\"kscale-markers\">{}</script>\n",
        script_safe(&String::from_utf8(j).unwrap_or_default())
    )
}

/// Moves the text rendered so far to the stream.
fn flush<W: io::Write>(h: &mut String, w: &mut W) -> Result<(), StreamError> {
    w.write_all(h.as_bytes())?;
    h.clear();
    Ok(())
}

/// The key decisions in words, in time order ([`decision_kind`]): the first
/// [`MAX_TIMELINE_ROWS`] of them, and how many there were.
fn timeline_section(h: &mut String, events: &EventsPage) {
    h.push_str("<section id=\"decisions\">\n<h2>Key decisions</h2>\n");
    if events.timeline.is_empty() {
        h.push_str(
            "<p class=\"muted\">No rescales, node launches or removals, OOM kills or \
             preemptions.</p>\n</section>\n",
        );
        return;
    }
    let shown = events.timeline.len();
    let _ = writeln!(
        h,
        "<p class=\"muted\">{} in the run: rescales, node launches and removals, OOM kills \
         and preemptions{}. Every event is in the event table below.</p>",
        group_thousands(events.decisions),
        if shown < events.decisions {
            format!(", the first {} of them here", group_thousands(shown))
        } else {
            String::new()
        }
    );
    h.push_str(
        "<table class=\"decisions\">\n<thead><tr><th>time</th><th>decision</th><th>object</th>\
         <th>what the controller said</th></tr></thead>\n<tbody>\n",
    );
    for (time, what, object, message) in &events.timeline {
        let _ = writeln!(
            h,
            "<tr><td class=\"time\">{}</td><td>{what}</td><td>{}</td><td>{}</td></tr>",
            crate::format_hms(*time),
            esc(object),
            esc(message)
        );
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
}

/// The outcome first ([`crate::verdict`]): a one-line verdict and its facts, for a run's
/// summary; a sweep's own `verdict` (ok and headline) when its summary has one.
fn verdict_section(h: &mut String, summary: &Value) {
    // A sweep states its own outcome: `"verdict": {"ok": bool, "headline": "..."}`.
    if let Some(v) = summary.get("verdict")
        && let (Some(ok), Some(headline)) = (
            v.get("ok").and_then(Value::as_bool),
            v.get("headline").and_then(Value::as_str),
        )
    {
        let _ = writeln!(
            h,
            "<section id=\"verdict\">\n<div class=\"verdict {}\">{}</div>\n</section>",
            if ok { "ok" } else { "fail" },
            esc(headline)
        );
        return;
    }
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

/// The event table: its counts as JSON (`#kscale-events`: `total`, `embedded`, `warnings`,
/// `chunks`, `chunkEvents`, `bytes`) and its events in `script.kscale-event-chunk` elements (the
/// chunks of [`crate::event_data`], gzip-compressed, in base64), drawn by the page's script
/// with a text filter, type and reason filters and pages.
fn events_section<W: io::Write>(
    h: &mut String,
    events: &EventsPage,
    file: &str,
    w: &mut W,
) -> Result<(), StreamError> {
    h.push_str("<section id=\"events\">\n<h2>Events</h2>\n");
    let total = events.total;
    if total == 0 {
        h.push_str("<p class=\"muted\">No events.</p>\n</section>\n");
        return Ok(());
    }
    let embedded = events.data.embedded();
    if embedded < total {
        let _ = writeln!(
            h,
            "<p class=\"muted\" id=\"events-cut\">This page holds the first {} of {} events (at \
             most {} MB of them before compression); the last {} are only in \
             <a href=\"{file}\">{file}</a>.</p>",
            group_thousands(embedded),
            group_thousands(total),
            format_number(events.data.budget() as f64 / 1e6),
            group_thousands(total - embedded)
        );
    }
    let _ = writeln!(
        h,
        "<div class=\"kevents\" id=\"event-table\"></div>\n\
         <noscript><p class=\"muted\">The event table needs JavaScript; every event is in \
         <a href=\"{file}\">{file}</a>.</p></noscript>",
    );
    let _ = writeln!(
        h,
        "<script type=\"application/json\" id=\"kscale-events\">{{\"total\":{total},\
         \"embedded\":{embedded},\"warnings\":{},\"chunks\":{},\"chunkEvents\":{EVENT_CHUNK},\
         \"bytes\":{}}}</script>",
        events.warnings,
        events.data.chunk_count(),
        events.data.bytes(),
    );
    events.data.for_each_chunk(|chunk| {
        h.push_str("<script type=\"application/octet-stream\" class=\"kscale-event-chunk\">");
        w.write_all(h.as_bytes())?;
        h.clear();
        w.write_all(chunk)?;
        h.push_str("</script>\n");
        Ok(())
    })?;
    h.push_str("</section>\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_samples_stay_bounded_and_spread_over_the_run() {
        let mut m = MarkerSample::default();
        let mut texts = 0;
        for i in 0..100_000 {
            m.keep(i as f64, || {
                texts += 1;
                format!("e{i}")
            });
            assert!(m.kept.len() < 2 * MAX_MARKERS_PER_KIND);
        }
        assert_eq!(m.total, 100_000);
        assert!(m.kept.len() >= MAX_MARKERS_PER_KIND, "{}", m.kept.len());
        // Every kept one is a multiple of the final stride, from the first to near the last.
        assert!(m.kept.iter().all(|(i, _, _)| i % m.stride == 0));
        assert_eq!(m.kept[0].0, 0);
        assert!(m.kept.last().unwrap().0 >= 100_000 - m.stride);
        // Texts are made only for events kept at the time: about MAX per doubling of the
        // stride (log2(100,000 / 600) ≈ 8 of them), not 100,000.
        assert!(texts < 12 * MAX_MARKERS_PER_KIND, "{texts}");
        // A few events are all kept.
        let mut few = MarkerSample::default();
        (0..10).for_each(|i| few.keep(i as f64, String::new));
        assert_eq!(few.kept.len(), 10);
    }
}
