//! Interactive charts: each chart's data as JSON in the page, drawn in the browser by uPlot
//! (vendored in `assets/uplot/`, embedded inline so a page is one file that opens offline) and
//! the page's own script (`assets/report.js`: synchronised cursor and zoom, hover values,
//! markers, target lines, series selection, the event table).

use std::fmt::Write as _;

use crate::chart::MAX_POINTS;
use crate::event_data::gzip_base64;
use crate::format::{escape_html as esc, write_number};
use crate::{ChartSpec, RenderError, TimeSeries, is_count_unit};

/// uPlot's minified script (MIT, see `assets/uplot/LICENSE`).
const UPLOT_JS: &str = include_str!("../assets/uplot/uPlot.iife.min.js");
/// uPlot's stylesheet.
const UPLOT_CSS: &str = include_str!("../assets/uplot/uPlot.min.css");
/// The page's script: draws the charts and the event table, reports its status.
const REPORT_JS: &str = include_str!("../assets/report.js");

/// Styles of the charts, their controls and the event table.
const CHART_CSS: &str = "\
figure.kchart{margin:1.2rem 0;border:1px solid #d0d7de;border-radius:6px;padding:.5rem .6rem}
figure.kchart figcaption{font-weight:600;font-size:1.05rem;margin:.1rem 0 .3rem}
.kchart .kplot{min-height:40px}
.kchart .u-legend{text-align:left;font-size:.8rem;max-height:11.5em;overflow:auto;display:block}
.kchart .u-legend .u-series{padding:0 .4rem 0 0}
.kchart .u-legend th,.kchart .u-legend td{border:none;padding:.05rem .25rem;background:none}
.kchart .u-legend .u-series th{font-weight:normal}
.kchart .u-title{display:none}
.kchart .kbar,.ktools,.kevents .kbar{font-size:.85rem;margin:.2rem 0;display:flex;flex-wrap:wrap;gap:.4rem .8rem;align-items:center}
.kchart .knote,.kchart .kmarks{font-size:.8rem;color:#656d76;min-height:1.1em}
.ktools{position:sticky;top:0;background:#fff;z-index:5;padding:.3rem 0;border-bottom:1px solid #eaeef2}
.ktools label,.kbar label{white-space:nowrap}
.kswatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.2em;vertical-align:-1px}
button{font:inherit;font-size:.82rem;padding:.05rem .5rem}
input[type=search],select{font:inherit;font-size:.85rem}
table.events td.time{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:nowrap}
";

/// Series drawn at first in a chart of many objects: those of the busiest this many objects
/// (an object's series share the name up to the last `/`); the others are listed in the
/// legend, off, for the reader to turn on.
pub const SHOWN_OBJECTS: usize = 6;

/// Objects whose series one chart embeds at most: the busiest (see [`SHOWN_OBJECTS`]); the
/// others are in `timeseries.csv` only, which the chart says.
pub const MAX_CHART_OBJECTS: usize = 40;

/// The `<style>` block of a page with interactive charts (uPlot's and the charts' styles).
pub fn page_assets() -> String {
    format!("<style>\n{UPLOT_CSS}\n{CHART_CSS}</style>\n")
}

/// The scripts of a page with interactive charts, to put at the end of its `<body>`: an error
/// recorder, uPlot and the page's script, which draws every `figure.kchart` and, when the page
/// has them, the markers (`#kscale-markers`) and the event table (`#kscale-events`). When done
/// it writes its status as JSON into `#kscale-status` (created if missing: charts and the
/// points each drew, markers, events, JavaScript errors) and sets `data-kscale` on `<html>` to
/// `ok` or `error`.
pub fn page_scripts() -> String {
    format!(
        "<pre id=\"kscale-status\" hidden></pre>\n<script>{ERROR_RECORDER}</script>\n\
         <script>\n{UPLOT_JS}\n</script>\n<script>\n{REPORT_JS}</script>\n"
    )
}

/// Records JavaScript errors from the first script on (the page's status lists them).
/// Records JavaScript errors from the first script on (the page's status lists them; an
/// error after the page was drawn updates the status too).
const ERROR_RECORDER: &str = "window.kscaleErrors=[];(function(){function note(m){\
window.kscaleErrors.push(m);document.documentElement.setAttribute('data-kscale','error');\
if(window.kscaleReport)window.kscaleReport();}\
window.addEventListener('error',function(e){note(String(e.message||e.type)+(e.lineno?' (line '+e.lineno+')':''))});\
window.addEventListener('unhandledrejection',function(e){note('unhandled rejection: '+e.reason)});})();";

/// A chart's data of more than this many bytes of JSON is embedded gzip-compressed, in
/// base64 (a quarter of the size; the 1,000-node benchmark day's 51 charts 4.5 MB of JSON, 1.6 MB
/// so); smaller data stays JSON (readable in the page's source).
pub const PACK_CHART_BYTES: usize = 16 * 1024;

/// One interactive chart of `spec`'s columns of `ts`: a `<figure class="kchart">` holding
/// its title and its data as JSON (`<script type="application/json" class="kchart-data">`),
/// or, above [`PACK_CHART_BYTES`], as gzip-compressed JSON in base64 (`<script
/// type="application/octet-stream" class="kchart-data" data-encoding="gzip">`), drawn by
/// [`page_scripts`]' script.
///
/// Column 0 of `ts` is the x axis: virtual time in seconds, or the sweep parameter named by
/// `ts.x_label`. Above [`MAX_POINTS`] rows, the rows are cut into `MAX_POINTS / 2` buckets of
/// consecutive samples and each series keeps its minimum and maximum per bucket (in sample
/// order, at the bucket's first and last x) so spikes survive. Of a chart with more than
/// [`SHOWN_OBJECTS`] objects the busiest (largest peak plus the total of its changes, over
/// its series) are shown first, at most [`MAX_CHART_OBJECTS`] embedded.
pub fn chart_figure(ts: &TimeSeries, spec: &ChartSpec) -> Result<String, RenderError> {
    chart_figure_of(ChartRows::Full(ts), spec)
}

/// [`chart_figure`] of rows held in full or reduced.
pub(crate) fn chart_figure_of(
    rows: ChartRows<'_>,
    spec: &ChartSpec,
) -> Result<String, RenderError> {
    let mut json = chart_json(rows, spec);
    let kind = if json.len() > PACK_CHART_BYTES {
        json = gzip_base64(json.as_bytes());
        "application/octet-stream\" data-encoding=\"gzip"
    } else {
        "application/json"
    };
    let mut h = String::with_capacity(json.len() + 256);
    let _ = write!(
        h,
        "<figure class=\"kchart\" aria-label=\"{t}\">\n<figcaption>{t}</figcaption>\n\
         <script type=\"{kind}\" class=\"kchart-data\">{json}</script>\n\
         <noscript><p class=\"muted\">Interactive chart: needs JavaScript (the data is in \
         timeseries.csv).</p></noscript>\n</figure>\n",
        t = esc(&spec.title)
    );
    Ok(h)
}

/// One series of a chart as embedded.
struct Series {
    name: String,
    /// The column, if the time series has it.
    col: Option<usize>,
    /// Drawn at first.
    show: bool,
}

/// The rows a chart reads: a time series held in full, or one reduced to what the page draws
/// of it while it was read back ([`Reduced`]); both give the same chart.
#[derive(Clone, Copy)]
pub(crate) enum ChartRows<'a> {
    /// Every row.
    Full(&'a TimeSeries),
    /// Reduced while streaming.
    Reduced(&'a Reduced),
}

/// A time series reduced, one row at a time, to what [`chart_figure`] draws of it: its row
/// count, whether every x is an integer, the x values drawn (every row's, or above
/// [`MAX_POINTS`] rows each bucket's first and last), and per column its [`Busyness`] and its
/// values drawn (every row's, or each bucket's minimum and maximum in sample order). Memory
/// holds at most [`MAX_POINTS`] values a column however long the run.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Reduced {
    columns: Vec<String>,
    n: usize,
    x_int: bool,
    x: Vec<f64>,
    busy: Vec<f64>,
    data: Vec<Vec<f64>>,
}

impl Reduced {
    /// The column names (time first).
    pub(crate) fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The rows it was reduced from.
    pub(crate) fn rows(&self) -> usize {
        self.n
    }
}

/// One column's smallest and largest finite value of the current bucket, each at its first
/// row: (row, value) of the minimum and of the maximum.
type Extremes = Option<((usize, f64), (usize, f64))>;

/// Builds a [`Reduced`] from `n` rows pushed in order.
pub(crate) struct ReducedBuilder {
    out: Reduced,
    buckets: Option<usize>,
    row: usize,
    bucket: usize,
    busy: Vec<Busyness>,
    run: Vec<Extremes>,
}

impl ReducedBuilder {
    /// A builder for `n` rows of `columns`.
    pub(crate) fn new(columns: Vec<String>, n: usize) -> Self {
        let width = columns.len();
        ReducedBuilder {
            out: Reduced {
                columns,
                n,
                x_int: true,
                x: Vec::with_capacity(n.min(MAX_POINTS)),
                busy: vec![],
                data: vec![Vec::new(); width],
            },
            buckets: (n > MAX_POINTS).then_some(MAX_POINTS / 2),
            row: 0,
            bucket: 0,
            busy: vec![Busyness::default(); width],
            run: vec![None; width],
        }
    }

    /// The next row: `value(k)` of column `k` (0: x).
    pub(crate) fn push(&mut self, value: impl Fn(usize) -> f64) {
        let (r, n) = (self.row, self.out.n);
        self.row += 1;
        let x = value(0);
        self.out.x_int &= !x.is_finite() || x.fract() == 0.0;
        let width = self.out.columns.len();
        for c in 1..width {
            self.busy[c].add(value(c));
        }
        let Some(b) = self.buckets else {
            self.out.x.push(x);
            for c in 1..width {
                self.out.data[c].push(value(c));
            }
            return;
        };
        let k = self.bucket;
        let (lo, hi) = (k * n / b, (k + 1) * n / b);
        if r == lo {
            self.out.x.push(x);
        }
        for c in 1..width {
            let v = value(c);
            if !v.is_finite() {
                continue;
            }
            self.run[c] = Some(match self.run[c] {
                None => ((r, v), (r, v)),
                Some((min, max)) => (
                    if v < min.1 { (r, v) } else { min },
                    if v > max.1 { (r, v) } else { max },
                ),
            });
        }
        if r + 1 == hi {
            self.out.x.push(x);
            for c in 1..width {
                let pair = match self.run[c].take() {
                    None => [f64::NAN, f64::NAN],
                    Some((min, max)) if min.0 <= max.0 => [min.1, max.1],
                    Some((min, max)) => [max.1, min.1],
                };
                self.out.data[c].extend(pair);
            }
            self.bucket += 1;
        }
    }

    /// The reduced series.
    pub(crate) fn finish(mut self) -> Reduced {
        self.out.busy = self.busy.iter().map(Busyness::value).collect();
        self.out
    }
}

impl ChartRows<'_> {
    fn columns(&self) -> &[String] {
        match self {
            ChartRows::Full(ts) => &ts.columns,
            ChartRows::Reduced(r) => &r.columns,
        }
    }

    fn x_label(&self) -> Option<&str> {
        match self {
            ChartRows::Full(ts) => ts.x_label.as_deref(),
            ChartRows::Reduced(_) => None,
        }
    }

    fn n(&self) -> usize {
        match self {
            ChartRows::Full(ts) => ts.rows.len(),
            ChartRows::Reduced(r) => r.n,
        }
    }

    fn full_value(ts: &TimeSeries, row: usize, col: usize) -> f64 {
        ts.rows[row].get(col).copied().unwrap_or(f64::NAN)
    }

    fn full_x(ts: &TimeSeries) -> impl Iterator<Item = f64> + '_ {
        ts.rows
            .iter()
            .map(|r| r.first().copied().unwrap_or(f64::NAN))
    }

    fn x_int(&self) -> bool {
        match self {
            ChartRows::Full(ts) => Self::full_x(ts).all(|v| !v.is_finite() || v.fract() == 0.0),
            ChartRows::Reduced(r) => r.x_int,
        }
    }

    fn busyness(&self, col: usize) -> f64 {
        match self {
            ChartRows::Full(ts) => {
                let mut b = Busyness::default();
                (0..ts.rows.len()).for_each(|r| b.add(Self::full_value(ts, r, col)));
                b.value()
            }
            ChartRows::Reduced(r) => r.busy[col],
        }
    }

    /// The x values drawn (see [`Reduced`]).
    fn drawn_x(&self) -> Vec<f64> {
        match self {
            ChartRows::Full(ts) => {
                let x: Vec<f64> = Self::full_x(ts).collect();
                let n = x.len();
                match (n > MAX_POINTS).then_some(MAX_POINTS / 2) {
                    None => x,
                    Some(b) => (0..b)
                        .flat_map(|k| [x[k * n / b], x[(k + 1) * n / b - 1]])
                        .collect(),
                }
            }
            ChartRows::Reduced(r) => r.x.clone(),
        }
    }

    /// Column `c`'s values drawn (see [`Reduced`]).
    fn drawn(&self, c: usize) -> Vec<f64> {
        let ts = match self {
            ChartRows::Full(ts) => ts,
            ChartRows::Reduced(r) => return r.data[c].clone(),
        };
        let n = ts.rows.len();
        let value = |row: usize| Self::full_value(ts, row, c);
        let Some(b) = (n > MAX_POINTS).then_some(MAX_POINTS / 2) else {
            return (0..n).map(value).collect();
        };
        (0..b)
            .flat_map(|k| {
                let (lo, hi) = (k * n / b, (k + 1) * n / b);
                let mut run: Option<(usize, usize)> = None;
                for r in lo..hi {
                    let v = value(r);
                    if v.is_finite() {
                        run = Some(match run {
                            None => (r, r),
                            Some((a, z)) => (
                                if v < value(a) { r } else { a },
                                if v > value(z) { r } else { z },
                            ),
                        });
                    }
                }
                match run {
                    None => [f64::NAN, f64::NAN],
                    Some((a, z)) => [value(a.min(z)), value(a.max(z))],
                }
            })
            .collect()
    }
}

/// The JSON of one chart (see [`chart_figure`]).
fn chart_json(rows: ChartRows<'_>, spec: &ChartSpec) -> String {
    let n = rows.n();
    // Column 0 is x; a series is looked up among the others.
    let col_of = |name: &str| {
        rows.columns()
            .iter()
            .skip(1)
            .position(|c| c == name)
            .map(|p| p + 1)
    };

    let cols: Vec<Option<usize>> = spec.series.iter().map(|s| col_of(s)).collect();
    let ranking = rank_objects(spec, |i| cols[i].map(|c| rows.busyness(c)));
    let Ranking {
        objects,
        order,
        ranked,
        embedded_objects,
    } = ranking;
    let mut series: Vec<Series> = Vec::new();
    for (rank, &o) in order.iter().take(embedded_objects).enumerate() {
        for &i in &objects[o].1 {
            series.push(Series {
                name: spec.series[i].clone(),
                col: cols[i],
                show: rank < SHOWN_OBJECTS,
            });
        }
    }
    let omitted_objects = objects.len() - embedded_objects;
    let omitted_series: usize = order
        .iter()
        .skip(embedded_objects)
        .map(|&o| objects[o].1.len())
        .sum();

    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(b"{\"title\":");
    push_str(&mut out, &spec.title);
    out.extend_from_slice(b",\"unit\":");
    push_str(&mut out, &spec.y_label);
    let _ = write_bytes(
        &mut out,
        format_args!(",\"int\":{}", is_count_unit(&spec.y_label)),
    );
    out.extend_from_slice(b",\"xlabel\":");
    match rows.x_label() {
        Some(l) => push_str(&mut out, l),
        None => out.extend_from_slice(b"null"),
    }
    let x_int = rows.x_int();
    let _ = write_bytes(
        &mut out,
        format_args!(
            ",\"xint\":{x_int},\"rows\":{n},\"objects\":{},\"ranked\":{ranked},\
             \"omittedObjects\":{omitted_objects},\"omittedSeries\":{omitted_series},\"guides\":[",
            objects.len()
        ),
    );
    for (i, g) in spec.guides.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"label\":");
        push_str(&mut out, &g.label);
        out.extend_from_slice(b",\"value\":");
        push_number(&mut out, g.value);
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"x\":[");
    push_numbers(&mut out, rows.drawn_x().into_iter());
    out.extend_from_slice(b"],\"series\":[");
    for (i, s) in series.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"name\":");
        push_str(&mut out, &s.name);
        let _ = write_bytes(
            &mut out,
            format_args!(
                ",\"show\":{},\"missing\":{},\"data\":[",
                s.show,
                s.col.is_none()
            ),
        );
        if let Some(c) = s.col {
            push_numbers(&mut out, rows.drawn(c).into_iter());
        }
        out.extend_from_slice(b"]}");
    }
    out.extend_from_slice(b"]}");
    // Only `&str` pieces and ASCII numbers were written.
    let json = String::from_utf8(out).unwrap_or_default();
    script_safe(&json)
}

/// How much a series does: its largest magnitude plus the sum of its changes (non-finite
/// values skipped), taken one value at a time.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Busyness {
    peak: f64,
    moved: f64,
    last: Option<f64>,
}

impl Busyness {
    /// The series' next value.
    pub(crate) fn add(&mut self, v: f64) {
        if !v.is_finite() {
            return;
        }
        self.peak = self.peak.max(v.abs());
        if let Some(l) = self.last {
            self.moved += (v - l).abs();
        }
        self.last = Some(v);
    }

    /// The busyness of the values so far.
    pub(crate) fn value(&self) -> f64 {
        self.peak + self.moved
    }
}

/// A chart's objects (its series up to the last `/`, in first-appearance order, each with
/// its series' indices) and which of them the page embeds.
pub(crate) struct Ranking {
    pub(crate) objects: Vec<(String, Vec<usize>)>,
    /// Objects in the order shown: the busiest first when `ranked`, else as they appear.
    pub(crate) order: Vec<usize>,
    /// More objects than are shown at first: ordered by busyness.
    pub(crate) ranked: bool,
    /// The first this many of `order` are embedded.
    pub(crate) embedded_objects: usize,
}

/// Ranks `spec`'s objects by the sum of their series' busyness (`busyness(i)` of series `i`;
/// `None` for a series the time series lacks), equal ones in first-appearance order. The
/// busyness is only asked for when there are more than [`SHOWN_OBJECTS`] objects.
pub(crate) fn rank_objects(spec: &ChartSpec, busyness: impl Fn(usize) -> Option<f64>) -> Ranking {
    let object = |s: &str| s.rsplit_once('/').map_or(s, |(o, _)| o).to_owned();
    let mut objects: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, s) in spec.series.iter().enumerate() {
        let o = object(s);
        match objects.iter_mut().find(|(name, _)| *name == o) {
            Some((_, members)) => members.push(i),
            None => objects.push((o, vec![i])),
        }
    }
    let mut order: Vec<usize> = (0..objects.len()).collect();
    let ranked = objects.len() > SHOWN_OBJECTS;
    if ranked {
        let score: Vec<f64> = objects
            .iter()
            .map(|(_, members)| members.iter().filter_map(|&i| busyness(i)).sum())
            .collect();
        // Busiest first; equal ones in name order (a stable sort).
        order.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    }
    let embedded_objects = order.len().min(MAX_CHART_OBJECTS);
    Ranking {
        objects,
        order,
        ranked,
        embedded_objects,
    }
}

/// The series of `spec` the page embeds (see [`rank_objects`]), by index.
pub(crate) fn embedded_series(ranking: &Ranking) -> impl Iterator<Item = usize> + '_ {
    ranking
        .order
        .iter()
        .take(ranking.embedded_objects)
        .flat_map(|&o| ranking.objects[o].1.iter().copied())
}

fn write_bytes(out: &mut Vec<u8>, args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    std::io::Write::write_fmt(out, args)
}

/// A JSON number ([`crate::format_number`]'s text), `null` when not finite.
pub(crate) fn push_number(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        write_number(out, v);
    } else {
        out.extend_from_slice(b"null");
    }
}

fn push_numbers(out: &mut Vec<u8>, values: impl Iterator<Item = f64>) {
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_number(out, v);
    }
}

/// A JSON string (serde_json's escaping).
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    // Serializing a `&str` into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// JSON text made safe inside `<script>`: `<`, `>` and `&` (which occur only in strings) as
/// `\u` escapes, so no `</script>` or `<!--` can appear; U+2028 and U+2029 likewise.
pub(crate) fn script_safe(json: &str) -> String {
    if !json.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return json.to_owned();
    }
    let mut s = String::with_capacity(json.len() + 64);
    for c in json.chars() {
        match c {
            '<' => s.push_str("\\u003c"),
            '>' => s.push_str("\\u003e"),
            '&' => s.push_str("\\u0026"),
            '\u{2028}' => s.push_str("\\u2028"),
            '\u{2029}' => s.push_str("\\u2029"),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(rows: usize) -> TimeSeries {
        TimeSeries {
            columns: vec!["time_s".into(), "a/x/v".into(), "b/y/v".into()],
            rows: (0..rows)
                .map(|i| {
                    vec![
                        i as f64 * 10.0,
                        (i % 5) as f64,
                        if i == 777 { 99.0 } else { 1.0 },
                    ]
                })
                .collect(),
            x_label: None,
        }
    }

    #[test]
    fn json_is_script_safe_and_downsampled() {
        let spec = ChartSpec {
            title: "</script><b>".into(),
            y_label: "pods".into(),
            series: vec!["a/x/v".into(), "b/y/v".into(), "gone".into()],
            guides: vec![],
        };
        let json = chart_json(ChartRows::Full(&ts(10_000)), &spec);
        assert!(!json.contains('<') && json.contains("\\u003c/script\\u003e"));
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["int"], true);
        assert_eq!(v["x"].as_array().unwrap().len(), MAX_POINTS);
        let s = v["series"].as_array().unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[1]["data"].as_array().unwrap().len(), MAX_POINTS);
        assert!(
            s[1]["data"].as_array().unwrap().contains(&99.into()),
            "spike kept"
        );
        assert_eq!(s[2]["missing"], true);
        let x = v["x"].as_array().unwrap();
        assert!(x.windows(2).all(|w| w[0].as_f64() < w[1].as_f64()));
    }

    #[test]
    fn busiest_objects_first_and_capped() {
        let mut t = TimeSeries {
            columns: vec!["time_s".into()],
            rows: vec![vec![0.0], vec![1.0]],
            x_label: Some("n".into()),
        };
        let mut series = vec![];
        for i in 0..50 {
            t.columns.push(format!("deploy/d{i:02}/ready"));
            t.rows[0].push(0.0);
            t.rows[1].push(i as f64);
            series.push(format!("deploy/d{i:02}/ready"));
        }
        let spec = ChartSpec {
            title: "D".into(),
            y_label: "replicas".into(),
            series,
            guides: vec![],
        };
        let v: serde_json::Value =
            serde_json::from_str(&chart_json(ChartRows::Full(&t), &spec)).unwrap();
        let s = v["series"].as_array().unwrap();
        assert_eq!(s.len(), MAX_CHART_OBJECTS);
        assert_eq!(s[0]["name"], "deploy/d49/ready");
        assert_eq!(s[0]["show"], true);
        assert_eq!(s[SHOWN_OBJECTS]["show"], false);
        assert_eq!(v["omittedObjects"], 10);
        assert_eq!(v["xint"], true);
    }
}
