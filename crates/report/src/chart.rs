//! Inline SVG line charts drawn with plotters.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::format::axis_label;
use crate::{ChartSpec, RenderError, TimeSeries};

/// Above this many samples per series, lines are downsampled for drawing (min/max per bucket).
pub(crate) const MAX_POINTS: usize = 4000;

const WIDTH: u32 = 1100;
const PLOT_HEIGHT: u32 = 420;
const LEGEND_ROW: u32 = 26;
const LEGEND_LEFT: i32 = 76;
const FONT: &str = "sans-serif";
/// Estimated width of one legend character at the legend font size.
const LEGEND_CHAR_WIDTH: i32 = 8;

/// Matplotlib's `tab10`: distinct on white and for most colour-vision deficiencies.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
];
const TEXT: RGBColor = RGBColor(0x1f, 0x23, 0x28);
const MUTED: RGBColor = RGBColor(0x8c, 0x95, 0x9f);

/// One series to draw.
struct Line {
    label: String,
    color: RGBColor,
    /// Runs of finite points (x in axis units); a NaN sample breaks the line.
    segments: Vec<Vec<(f64, f64)>>,
    /// The column is not in the time series.
    missing: bool,
}

/// Draws one chart as a standalone `<svg>` element.
pub(crate) fn render_chart(ts: &TimeSeries, spec: &ChartSpec) -> Result<String, RenderError> {
    let time: Vec<f64> = ts
        .rows
        .iter()
        .map(|r| r.first().copied().unwrap_or(f64::NAN))
        .collect();
    let (t_min, t_max) = finite_range(time.iter().copied()).unwrap_or((0.0, 0.0));
    let (div, x_desc) = if let Some(label) = &ts.x_label {
        (1.0, label.as_str())
    } else if t_max - t_min > 3.0 * 3600.0 {
        (3600.0, "time (h)")
    } else {
        (60.0, "time (min)")
    };

    let lines: Vec<Line> = spec
        .series
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let color = PALETTE[i % PALETTE.len()];
            // Column 0 is time; a series is looked up among the others first.
            let col = ts
                .columns
                .iter()
                .skip(1)
                .position(|c| c == name)
                .map(|p| p + 1);
            match col {
                None => Line {
                    label: format!("{name} (not recorded)"),
                    color,
                    segments: Vec::new(),
                    missing: true,
                },
                Some(c) => {
                    let points: Vec<(f64, f64)> = ts
                        .rows
                        .iter()
                        .zip(&time)
                        .map(|(r, t)| (t / div, r.get(c).copied().unwrap_or(f64::NAN)))
                        .collect();
                    Line {
                        label: name.clone(),
                        color,
                        segments: downsample(&points, MAX_POINTS),
                        missing: false,
                    }
                }
            }
        })
        .collect();

    let has_data = lines.iter().any(|l| !l.segments.is_empty());
    let x_range = widen(t_min / div, t_max / div);
    let (y_lo, y_hi) = finite_range(
        lines
            .iter()
            .flat_map(|l| l.segments.iter().flatten().map(|p| p.1)),
    )
    .unwrap_or((0.0, 1.0));
    let (y_lo, y_hi) = widen(y_lo.min(0.0), y_hi.max(0.0));
    let pad = (y_hi - y_lo) * 0.05;
    let y_range = (if y_lo < 0.0 { y_lo - pad } else { y_lo }, y_hi + pad);

    let (positions, legend_rows) = legend_layout(&lines);
    let height = PLOT_HEIGHT + legend_rows * LEGEND_ROW + 8;

    let err = |e: &dyn std::fmt::Display| RenderError::Chart {
        title: spec.title.clone(),
        reason: e.to_string(),
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let (plot, legend) = root.split_vertically(PLOT_HEIGHT);

        let mut chart = ChartBuilder::on(&plot)
            .caption(
                &spec.title,
                (FONT, 22).into_font().style(FontStyle::Bold).color(&TEXT),
            )
            .margin(12)
            .margin_right(28)
            .x_label_area_size(48)
            .y_label_area_size(LEGEND_LEFT as u32)
            .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
            .map_err(|e| err(&e))?;
        let x_fmt = |v: &f64| axis_label(*v);
        let y_fmt = |v: &f64| axis_label(*v);
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(&spec.y_label)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .x_labels(12)
            .y_labels(8)
            .label_style((FONT, 16).into_font().color(&TEXT))
            .axis_desc_style((FONT, 18).into_font().color(&TEXT))
            .bold_line_style(RGBColor(0xdd, 0xe1, 0xe6))
            .light_line_style(RGBColor(0xf3, 0xf4, 0xf6))
            .axis_style(RGBColor(0x6e, 0x77, 0x81))
            .draw()
            .map_err(|e| err(&e))?;

        for line in &lines {
            let style = line.color.stroke_width(2);
            for seg in &line.segments {
                if seg.len() == 1 {
                    chart
                        .draw_series(std::iter::once(Circle::new(seg[0], 2, style.filled())))
                        .map_err(|e| err(&e))?;
                } else {
                    chart
                        .draw_series(LineSeries::new(seg.iter().copied(), style))
                        .map_err(|e| err(&e))?;
                }
            }
        }
        if !has_data {
            let centre = ((x_range.0 + x_range.1) / 2.0, (y_range.0 + y_range.1) / 2.0);
            let style = (FONT, 20)
                .into_font()
                .color(&MUTED)
                .pos(Pos::new(HPos::Center, VPos::Center));
            chart
                .draw_series(std::iter::once(Text::new("no data", centre, style)))
                .map_err(|e| err(&e))?;
        }

        let label_style = (FONT, 17)
            .into_font()
            .color(&TEXT)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (line, &(x, y)) in lines.iter().zip(&positions) {
            let (color, width) = if line.missing {
                (MUTED, 1)
            } else {
                (line.color, 3)
            };
            legend
                .draw(&PathElement::new(
                    vec![(x, y), (x + 24, y)],
                    color.stroke_width(width),
                ))
                .map_err(|e| err(&e))?;
            let text_style = if line.missing {
                label_style.color(&MUTED)
            } else {
                label_style.clone()
            };
            legend
                .draw(&Text::new(line.label.as_str(), (x + 30, y), text_style))
                .map_err(|e| err(&e))?;
        }
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

/// Places legend entries left to right, wrapping; returns their positions and the row count.
fn legend_layout(lines: &[Line]) -> (Vec<(i32, i32)>, u32) {
    let right = WIDTH as i32 - 20;
    let mut positions = Vec::with_capacity(lines.len());
    let (mut x, mut row) = (LEGEND_LEFT, 0u32);
    for line in lines {
        let width = 30 + LEGEND_CHAR_WIDTH * line.label.chars().count() as i32 + 24;
        if x > LEGEND_LEFT && x + width > right {
            x = LEGEND_LEFT;
            row += 1;
        }
        positions.push((x, (row * LEGEND_ROW + LEGEND_ROW / 2) as i32));
        x += width;
    }
    (positions, if lines.is_empty() { 0 } else { row + 1 })
}

/// Smallest and largest finite value.
fn finite_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// An axis range of non-zero width.
fn widen(lo: f64, hi: f64) -> (f64, f64) {
    if hi > lo { (lo, hi) } else { (lo, lo + 1.0) }
}

/// Splits points into runs of finite points; above `max_points` points keeps, per bucket of
/// consecutive samples, only the minimum and maximum (in sample order) so spikes survive.
pub(crate) fn downsample(points: &[(f64, f64)], max_points: usize) -> Vec<Vec<(f64, f64)>> {
    let finite = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let mut segments = Vec::new();
    let mut current = Vec::new();
    let n = points.len();
    if n <= max_points {
        for p in points {
            if finite(p) {
                current.push(*p);
            } else if !current.is_empty() {
                segments.push(std::mem::take(&mut current));
            }
        }
    } else {
        let buckets = (max_points / 2).max(1);
        // Indices of the minimum and maximum of the current run within the bucket.
        let flush = |run: Option<(usize, usize)>, current: &mut Vec<(f64, f64)>| {
            if let Some((lo, hi)) = run {
                current.push(points[lo.min(hi)]);
                if lo != hi {
                    current.push(points[lo.max(hi)]);
                }
            }
        };
        for b in 0..buckets {
            let mut run: Option<(usize, usize)> = None;
            for i in b * n / buckets..(b + 1) * n / buckets {
                let p = points[i];
                if finite(&p) {
                    run = Some(match run {
                        None => (i, i),
                        Some((lo, hi)) => (
                            if p.1 < points[lo].1 { i } else { lo },
                            if p.1 > points[hi].1 { i } else { hi },
                        ),
                    });
                } else {
                    flush(run.take(), &mut current);
                    if !current.is_empty() {
                        segments.push(std::mem::take(&mut current));
                    }
                }
            }
            flush(run, &mut current);
        }
    }
    if !current.is_empty() {
        segments.push(current);
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_series_split_at_nan() {
        let pts = [(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0), (3.0, 4.0)];
        assert_eq!(
            downsample(&pts, 4000),
            vec![vec![(0.0, 1.0)], vec![(2.0, 3.0), (3.0, 4.0)]]
        );
    }

    #[test]
    fn large_series_keep_spikes_and_gaps() {
        let mut pts: Vec<(f64, f64)> = (0..100_000).map(|i| (i as f64, (i % 7) as f64)).collect();
        pts[54_321].1 = 1000.0;
        pts[77_777].1 = -50.0;
        pts[90_000].1 = f64::NAN;
        let segs = downsample(&pts, 4000);
        let total: usize = segs.iter().map(Vec::len).sum();
        assert!(total <= 4002, "{total}");
        assert_eq!(segs.len(), 2);
        let all: Vec<_> = segs.iter().flatten().collect();
        assert!(all.contains(&&(54_321.0, 1000.0)));
        assert!(all.contains(&&(77_777.0, -50.0)));
        assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "x stays in order");
    }

    #[test]
    fn legend_wraps() {
        let line = |n: usize| Line {
            label: "x".repeat(n),
            color: PALETTE[0],
            segments: vec![],
            missing: false,
        };
        let (pos, rows) = legend_layout(&[line(10), line(10)]);
        assert_eq!(rows, 1);
        assert_eq!(pos[0].1, pos[1].1);
        let (pos, rows) = legend_layout(&[line(80), line(80), line(80)]);
        assert_eq!(rows, 3);
        assert!(pos[2].1 > pos[1].1);
    }
}
