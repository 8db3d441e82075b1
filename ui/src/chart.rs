//! The charts' geometry, as pure functions: value and time axis ticks, scales, the
//! down-sampling of long series, file-size bins and per-hour counts, and the two chart
//! shapes the pages draw (lines over time, bars), laid out in pixels for the SVG
//! template (`templates/chart.html`). Nothing here reads a table.

use crate::format;

/// The size of every chart, in pixels.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 260.0;
/// The margins around the plot: room for tick labels and axis titles.
const LEFT: f64 = 72.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 52.0;
/// About how many ticks an axis gets.
const TICKS: usize = 6;
/// The most points a line keeps (down-sampled above), and the most labels under bars.
pub(crate) const MAX_POINTS: usize = 400;
const MAX_BAR_LABELS: usize = 10;
/// The widest a bar gets, in pixels (a lone bar stays a bar).
const MAX_BAR_WIDTH: f64 = 56.0;

const SECOND_MS: i64 = 1000;
const HOUR_MS: i64 = 3600 * SECOND_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// A tick on an axis: where (pixels) and what it says.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Tick {
    /// The pixel position along the axis.
    pub pos: f64,
    /// The label.
    pub label: String,
}

/// One line of a chart, its points in pixels.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Line {
    /// Its CSS class (its colour).
    pub class: &'static str,
    /// What it shows, for the legend.
    pub name: String,
    /// `x,y x,y ...`, for the polyline.
    pub points: String,
    /// How many points it has.
    pub count: usize,
    /// Where its legend entry goes (pixels from the left).
    pub legend_x: f64,
}

/// One bar of a chart, in pixels.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Bar {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
    /// The value it stands for.
    pub count: u64,
    /// The tooltip.
    pub title: String,
}

/// A chart laid out for the SVG template.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Chart {
    /// The element id.
    pub id: &'static str,
    /// The title above it.
    pub title: &'static str,
    /// A line under the title: what the chart counts, and how.
    pub note: String,
    /// The canvas.
    pub width: f64,
    /// The canvas.
    pub height: f64,
    /// The plot's left edge.
    pub left: f64,
    /// The plot's right edge.
    pub right: f64,
    /// The plot's top edge.
    pub top: f64,
    /// The plot's bottom edge.
    pub bottom: f64,
    /// The middle of the plot, across and down (where the axis titles go).
    pub mid_x: f64,
    /// See `mid_x`.
    pub mid_y: f64,
    /// The horizontal axis's title, with its unit.
    pub x_label: String,
    /// The vertical axis's title, with its unit.
    pub y_label: String,
    /// The horizontal axis's ticks.
    pub x_ticks: Vec<Tick>,
    /// The vertical axis's ticks.
    pub y_ticks: Vec<Tick>,
    /// The lines.
    pub lines: Vec<Line>,
    /// The bars.
    pub bars: Vec<Bar>,
    /// Said instead of the plot when there is nothing to draw.
    pub empty: Option<&'static str>,
}

/// What every chart has: its id, title and note, and what it says without data.
pub(crate) struct Head {
    /// The element id.
    pub id: &'static str,
    /// The title.
    pub title: &'static str,
    /// The line under the title.
    pub note: String,
    /// Said when there is nothing to draw.
    pub empty: &'static str,
}

/// A series of a line chart: values at instants (epoch milliseconds), oldest first.
pub(crate) struct Series {
    /// What it shows.
    pub name: String,
    /// Its CSS class.
    pub class: &'static str,
    /// Its points.
    pub points: Vec<(i64, f64)>,
}

/// The vertical axis of a line chart: its title, the values' unit (values are divided
/// by it), and whether the values are whole numbers (no tick between two integers).
pub(crate) struct ValueAxis {
    /// The title, with the unit.
    pub label: String,
    /// What one unit of the axis is, in the values' own unit.
    pub unit: f64,
    /// Whole numbers only.
    pub integer: bool,
}

/// `v` in the domain `d` mapped onto the range `r` (the middle of `r` for an empty `d`).
pub(crate) fn scale(v: f64, d: (f64, f64), r: (f64, f64)) -> f64 {
    if d.1 == d.0 {
        return (r.0 + r.1) / 2.0;
    }
    r.0 + (v - d.0) / (d.1 - d.0) * (r.1 - r.0)
}

/// A pixel coordinate to a tenth of a pixel.
fn px(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// The step of about `target` ticks over `span`: 1, 2 or 5 times a power of ten.
pub(crate) fn nice_step(span: f64, target: usize) -> f64 {
    if span.is_nan() || span <= 0.0 || span.is_infinite() {
        return 1.0;
    }
    let raw = span / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

/// The ticks of a value axis from 0 up to at least `max` (at least 1), about `target`
/// of them; steps of at least 1 for whole numbers.
pub(crate) fn value_ticks(max: f64, target: usize, integer: bool) -> Vec<f64> {
    let max = if max > 0.0 && max.is_finite() {
        max
    } else {
        1.0
    };
    let mut step = nice_step(max, target);
    if integer {
        step = step.max(1.0);
    }
    let n = (max / step - 1e-9).ceil().max(1.0) as usize;
    (0..=n).map(|i| i as f64 * step).collect()
}

/// A tick value as a label: no decimals for whole numbers, up to two otherwise.
fn value_label(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format::count(v.abs() as u64)
    } else {
        format!("{v:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

/// The steps a time axis may take, in seconds.
const TIME_STEPS_S: &[i64] = &[
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
    172_800, 604_800, 1_209_600, 2_592_000, 7_776_000, 31_536_000,
];

/// The step of a time axis over `[min_ms, max_ms]`: the smallest of `TIME_STEPS_S` that
/// gives at most `target` ticks.
pub(crate) fn time_step_ms(min_ms: i64, max_ms: i64, target: usize) -> i64 {
    let span = (max_ms - min_ms).max(1);
    TIME_STEPS_S
        .iter()
        .map(|s| s * SECOND_MS)
        .find(|step| span / step <= target as i64)
        .unwrap_or(TIME_STEPS_S[TIME_STEPS_S.len() - 1] * SECOND_MS)
}

/// The instants of a time axis's ticks: the multiples of its step in `[min_ms, max_ms]`
/// (UTC-aligned), and the step.
pub(crate) fn time_ticks(min_ms: i64, max_ms: i64, target: usize) -> (Vec<i64>, i64) {
    let step = time_step_ms(min_ms, max_ms, target);
    let first = (min_ms + step - 1).div_euclid(step) * step;
    let ticks = (0..)
        .map(|i| first + i * step)
        .take_while(|t| *t <= max_ms)
        .collect();
    (ticks, step)
}

/// A time tick's label: to the second under a minute's step, to the minute under a day's,
/// the day otherwise.
pub(crate) fn time_label(ms: i64, step_ms: i64) -> String {
    let pattern = match step_ms {
        s if s < 60 * SECOND_MS => "%H:%M:%S",
        s if s < DAY_MS => "%H:%M",
        _ => "%m-%d",
    };
    format::utc(ms, pattern)
}

/// At most `max` of `points` (sorted by x): the lowest and the highest of each of
/// `max / 2` runs of neighbours, in order, so a spike survives. Fewer than `max` points
/// are kept as they are.
pub(crate) fn downsample(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max || max < 2 {
        return points.to_vec();
    }
    let runs = max / 2;
    let size = points.len().div_ceil(runs);
    let mut out = Vec::with_capacity(max);
    for run in points.chunks(size) {
        let by_y = |a: &&(f64, f64), b: &&(f64, f64)| a.1.total_cmp(&b.1);
        let low = run.iter().enumerate().min_by(|a, b| by_y(&a.1, &b.1));
        let high = run.iter().enumerate().max_by(|a, b| by_y(&a.1, &b.1));
        if let (Some((i, low)), Some((j, high))) = (low, high) {
            match i.cmp(&j) {
                std::cmp::Ordering::Less => out.extend([*low, *high]),
                std::cmp::Ordering::Greater => out.extend([*high, *low]),
                std::cmp::Ordering::Equal => out.push(*low),
            }
        }
    }
    out
}

/// A bin of a file-size histogram: sizes in `[low, high)` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bin {
    /// The smallest size in the bin.
    pub low: u64,
    /// The first size above it.
    pub high: u64,
    /// How many sizes fell in it.
    pub count: u64,
}

/// Power-of-two bins from the smallest to the largest of `sizes`, every bin between
/// them kept (empty ones too); none without sizes. A zero size counts in `[1, 2)`.
pub(crate) fn size_bins(sizes: &[u64]) -> Vec<Bin> {
    let exponent = |s: u64| 63 - s.max(1).leading_zeros();
    let (Some(low), Some(high)) = (sizes.iter().min(), sizes.iter().max()) else {
        return Vec::new();
    };
    let (first, last) = (exponent(*low), exponent(*high));
    let mut bins: Vec<Bin> = (first..=last)
        .map(|e| Bin {
            low: 1u64 << e,
            high: 1u64.checked_shl(e + 1).unwrap_or(u64::MAX),
            count: 0,
        })
        .collect();
    for s in sizes {
        bins[(exponent(*s) - first) as usize].count += 1;
    }
    bins
}

/// Commits per hour: the UTC hour (epoch milliseconds) the counts start at, and one
/// count per hour up to the hour of the newest timestamp, at most `max_hours` of them
/// (older timestamps are left out); `(0, [])` without timestamps.
pub(crate) fn per_hour(timestamps_ms: &[i64], max_hours: usize) -> (i64, Vec<u64>) {
    let (Some(min), Some(max)) = (timestamps_ms.iter().min(), timestamps_ms.iter().max()) else {
        return (0, Vec::new());
    };
    let last = max.div_euclid(HOUR_MS);
    let first = min
        .div_euclid(HOUR_MS)
        .max(last - max_hours.max(1) as i64 + 1);
    let mut counts = vec![0u64; (last - first + 1) as usize];
    for t in timestamps_ms {
        let hour = t.div_euclid(HOUR_MS);
        if hour >= first {
            counts[(hour - first) as usize] += 1;
        }
    }
    (first * HOUR_MS, counts)
}

/// An empty chart with `head`'s title and axes titled `x_label` and `y_label`.
fn frame(head: &Head, x_label: String, y_label: String) -> Chart {
    Chart {
        id: head.id,
        title: head.title,
        note: head.note.clone(),
        width: WIDTH,
        height: HEIGHT,
        left: LEFT,
        right: WIDTH - RIGHT,
        top: TOP,
        bottom: HEIGHT - BOTTOM,
        mid_x: px((LEFT + WIDTH - RIGHT) / 2.0),
        mid_y: px((TOP + HEIGHT - BOTTOM) / 2.0),
        x_label,
        y_label,
        x_ticks: Vec::new(),
        y_ticks: Vec::new(),
        lines: Vec::new(),
        bars: Vec::new(),
        empty: None,
    }
}

impl Chart {
    /// The vertical axis's ticks, from 0 to the returned top.
    fn value_axis(&mut self, max: f64, integer: bool) -> f64 {
        let values = value_ticks(max, TICKS, integer);
        let top = values.last().copied().unwrap_or(1.0);
        self.y_ticks = values
            .iter()
            .map(|v| Tick {
                pos: px(self.y(*v, top)),
                label: value_label(*v),
            })
            .collect();
        top
    }

    /// The pixel row of value `v` on an axis from 0 to `top`.
    fn y(&self, v: f64, top: f64) -> f64 {
        scale(v, (0.0, top), (self.bottom, self.top))
    }
}

/// Lines over time: `series` on a shared time axis (UTC) and the value axis `axis`.
/// Each series keeps at most `MAX_POINTS` points (down-sampled); a series without points
/// is left out, and without any, the chart says `head.empty`.
pub(crate) fn time_lines(head: Head, axis: ValueAxis, series: Vec<Series>) -> Chart {
    let mut chart = frame(&head, "time (UTC)".into(), axis.label);
    let times = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (Some(min), Some(max)) = (times.clone().min(), times.max()) else {
        chart.empty = Some(head.empty);
        return chart;
    };
    // One instant alone sits in the middle of an hour.
    let (min, max) = if min == max {
        (min - HOUR_MS / 2, max + HOUR_MS / 2)
    } else {
        (min, max)
    };
    let x = |t: f64| scale(t, (min as f64, max as f64), (LEFT, WIDTH - RIGHT));
    let (instants, step) = time_ticks(min, max, TICKS);
    chart.x_ticks = instants
        .into_iter()
        .map(|t| Tick {
            pos: px(x(t as f64)),
            label: time_label(t, step),
        })
        .collect();
    let highest = (series.iter().flat_map(|s| s.points.iter()))
        .map(|p| p.1 / axis.unit)
        .fold(0.0, f64::max);
    let top = chart.value_axis(highest, axis.integer);
    let drawn = series.into_iter().filter(|s| !s.points.is_empty());
    for (i, s) in drawn.enumerate() {
        let scaled: Vec<(f64, f64)> = (s.points.iter())
            .map(|(t, v)| (*t as f64, v / axis.unit))
            .collect();
        let kept = downsample(&scaled, MAX_POINTS);
        let points: Vec<String> = (kept.iter())
            .map(|(t, v)| format!("{},{}", px(x(*t)), px(chart.y(*v, top))))
            .collect();
        chart.lines.push(Line {
            class: s.class,
            name: s.name,
            count: points.len(),
            points: points.join(" "),
            legend_x: LEFT + 160.0 * i as f64,
        });
    }
    chart
}

/// One bar of a bar chart: its label under the axis, its value, its tooltip.
pub(crate) struct BarValue {
    /// The label under it.
    pub label: String,
    /// Its value.
    pub count: u64,
    /// The tooltip.
    pub title: String,
}

/// Bars side by side, each labelled under the axis (every few when there are many),
/// heights on a whole-number axis titled `y_label`; without bars, or with every bar at
/// zero, the chart says `head.empty`.
pub(crate) fn bars(head: Head, x_label: String, y_label: String, values: Vec<BarValue>) -> Chart {
    let mut chart = frame(&head, x_label, y_label);
    if values.iter().all(|b| b.count == 0) {
        chart.empty = Some(head.empty);
        return chart;
    }
    let highest = values.iter().map(|b| b.count).max().unwrap_or(0);
    let top = chart.value_axis(highest as f64, true);
    let slot = (chart.right - chart.left) / values.len() as f64;
    let every = values.len().div_ceil(MAX_BAR_LABELS);
    for (i, b) in values.into_iter().enumerate() {
        let x = chart.left + slot * i as f64;
        if i % every == 0 {
            chart.x_ticks.push(Tick {
                pos: px(x + slot / 2.0),
                label: b.label,
            });
        }
        let y = chart.y(b.count as f64, top);
        let width = (slot * 0.8).min(MAX_BAR_WIDTH);
        chart.bars.push(Bar {
            x: px(x + (slot - width) / 2.0),
            y: px(y),
            width: px(width),
            height: px(chart.bottom - y),
            count: b.count,
            title: b.title,
        });
    }
    chart
}

#[cfg(test)]
#[path = "chart_tests.rs"]
mod tests;
