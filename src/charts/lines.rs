//! Line charts over time: queue times per tier, prices per resource and
//! pricing model, and lock-ups against the newcomer set-aside.

use chrono::NaiveDate;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::layout::{
    AXIS, Drawing, FONT, GRID, Legend, PAD, ROW, Swatch, draw_text_lines, nudge, plain, text, text_width, tick_step,
    wrap,
};
use super::{Area, Frame, PALETTE, render};
use crate::analytics::capacity::CapacityPoint;
use crate::analytics::prices::PricePoint;
use crate::analytics::tables::QueuePoint;

/// One line: its legend label and its points (any order; drawn in date order).
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The legend label.
    pub label: String,
    /// Dates and values in the axis' unit.
    pub points: Vec<(NaiveDate, f64)>,
}

/// How the value axis reads.
#[derive(Debug, Clone, Copy)]
pub struct ValueAxis<'a> {
    /// Axis title, with the unit in its last parentheses, e.g. "median wait (hours)":
    /// the label at each line's end repeats the unit ("2.4 h").
    pub title: &'a str,
    /// Decimals of the tick labels and end labels.
    pub decimals: usize,
}

impl ValueAxis<'_> {
    /// The unit named in the title's last parentheses, short: "hours" reads "h".
    fn unit(&self) -> &str {
        let Some((_, inside)) = self.title.trim_end().strip_suffix(')').and_then(|t| t.rsplit_once('(')) else {
            return "";
        };
        match inside.trim() {
            "hours" => "h",
            "days" => "d",
            "percent" => "%",
            unit => unit,
        }
    }

    /// The label at a line's end: its newest value with the unit (the compact drawing
    /// keeps only units of up to two characters; the axis title names the rest).
    fn end_label(&self, value: f64, drawing: &Drawing) -> String {
        let decimals = self.decimals;
        match self.unit() {
            "" => format!("{value:.decimals$}"),
            unit if drawing.compact && unit.chars().count() > 2 => format!("{value:.decimals$}"),
            unit => format!("{value:.decimals$} {unit}"),
        }
    }

    fn title_lines(&self, drawing: &Drawing) -> Vec<String> {
        wrap(self.title, drawing.width - 2 * PAD as u32)
    }
}

/// Any line chart over time: `description` is the screen-reader text (say what the
/// lines show and the latest values). `None` when no line has a point.
pub fn lines(frame: &Frame<'_>, description: &str, axis: &ValueAxis<'_>, lines: &[Line]) -> Option<String> {
    let mut lines = lines.to_vec();
    lines.retain(|l| !l.points.is_empty());
    for line in &mut lines {
        line.points.sort_by_key(|(date, _)| *date);
    }
    if lines.is_empty() {
        return None;
    }
    let labels: Vec<&str> = lines.iter().map(|l| l.label.as_str()).collect();
    render(
        frame,
        description,
        |drawing| {
            let legend = Legend::new(&labels, drawing.width, PAD);
            let title = axis.title_lines(drawing).len() as u32 * ROW;
            PAD as u32 + legend.height() + TITLE_GAP + title + drawing.plot_height
        },
        |area, drawing| plot_lines(area, drawing, axis, &lines),
    )
}

/// Fewer points than this get a marker on each, so a short series is not a bare segment.
const MARKERS_BELOW: usize = 40;

/// Top to bottom: the legend strip, the axis title, then the plot with the newest
/// value of each line written beside its end.
fn plot_lines(area: &Area<'_>, drawing: &Drawing, axis: &ValueAxis<'_>, lines: &[Line]) -> Option<()> {
    let dates = lines.iter().flat_map(|l| l.points.iter().map(|(d, _)| *d));
    let first = dates.clone().min()?;
    let last = dates.max()?;
    let last = if last == first { last + chrono::Days::new(31) } else { last };
    let highest = lines.iter().flat_map(|l| l.points.iter().map(|(_, v)| *v)).fold(0.0, f64::max);
    // The axis ends on a round number just above the highest point.
    let step = tick_step(highest.max(f64::MIN_POSITIVE), 2 * drawing.y_ticks);
    let top = if highest > 0.0 { (highest * 1.04 / step).ceil() * step } else { 1.0 };

    let labels: Vec<&str> = lines.iter().map(|l| l.label.as_str()).collect();
    let legend = Legend::new(&labels, drawing.width, PAD);
    legend.draw(area, Swatch::Line)?;
    let title_top = PAD + legend.height() as i32 + TITLE_GAP as i32;
    let title_height = draw_text_lines(area, &axis.title_lines(drawing), (PAD, title_top))?;
    let (_, plot_area) = area.split_vertically(title_top + title_height as i32);

    let ends: Vec<String> =
        lines.iter().map(|l| l.points.last().map_or(String::new(), |(_, v)| axis.end_label(*v, drawing))).collect();
    let end_width = ends.iter().map(|e| text_width(e)).max().unwrap_or(0);
    let decimals = axis.decimals;
    let tick_width = text_width(&format!("{top:.decimals$}"));
    let mut chart = ChartBuilder::on(&plot_area)
        .margin_top(10)
        .margin_bottom(4)
        .margin_left(PAD as u32)
        .margin_right(end_width + LEADER as u32 + 8)
        .x_label_area_size(ROW + 10)
        .y_label_area_size(tick_width + 12)
        .build_cartesian_2d((first..last).monthly(), 0.0..top)
        .ok()?;
    // Short month names on the phone drawing: "Mar 26" beside the wide "2026-03".
    let date_format = if drawing.compact { "%b %y" } else { "%Y-%m" };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .max_light_lines(0)
        .bold_line_style(GRID)
        .axis_style(AXIS)
        .label_style(plain())
        .x_labels(drawing.x_ticks)
        .y_labels(drawing.y_ticks)
        .x_label_formatter(&|d: &NaiveDate| d.format(date_format).to_string())
        .y_label_formatter(&|v: &f64| format!("{v:.decimals$}"))
        .draw()
        .ok()?;
    for (i, line) in lines.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        chart.draw_series(LineSeries::new(line.points.iter().copied(), colour.stroke_width(2))).ok()?;
        let marked =
            if line.points.len() < MARKERS_BELOW { &line.points[..] } else { &line.points[line.points.len() - 1..] };
        chart.draw_series(marked.iter().map(|p| Circle::new(*p, 3, colour.filled()))).ok()?;
    }
    let points: Vec<(i32, i32)> =
        lines.iter().filter_map(|l| l.points.last().map(|p| chart.backend_coord(p))).collect();
    let (_, rows) = chart.plotting_area().get_pixel_range();
    let wanted: Vec<i32> = points.iter().map(|(_, y)| *y).collect();
    let placed = nudge(&wanted, END_LABEL_GAP, rows.start, rows.end);
    for (i, (((x, y), label_y), end)) in points.iter().zip(placed).zip(&ends).enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let leader = vec![(x + 5, *y), (x + LEADER - 4, label_y)];
        area.draw(&PathElement::new(leader, colour.stroke_width(2))).ok()?;
        area.draw(&Text::new(end.as_str(), (x + LEADER, label_y), text(HPos::Left, VPos::Center))).ok()?;
    }
    Some(())
}

/// Space between the legend strip and the axis title.
const TITLE_GAP: u32 = 6;

/// Room between a line's last point and its end label, for the leader that joins them.
const LEADER: i32 = 16;

/// Least distance between the baselines of two end labels: a text's height (`FONT`) and a
/// little air, so labels of lines ending close together never touch (issue 18).
const END_LABEL_GAP: i32 = FONT as i32 + 4;

fn span(lines: &[Line]) -> String {
    let dates = || lines.iter().flat_map(|l| l.points.iter().map(|(d, _)| *d));
    match (dates().min(), dates().max()) {
        (Some(first), Some(last)) => format!("from {} to {}", first.format("%Y-%m"), last.format("%Y-%m")),
        _ => String::new(),
    }
}

/// Groups points into lines by a label, keeping first-seen order of labels.
fn lines_by<T>(items: &[T], label: impl Fn(&T) -> String, point: impl Fn(&T) -> (NaiveDate, f64)) -> Vec<Line> {
    let mut lines: Vec<Line> = Vec::new();
    for item in items {
        let name = label(item);
        match lines.iter_mut().find(|l| l.label == name) {
            Some(line) => line.points.push(point(item)),
            None => lines.push(Line { label: name, points: vec![point(item)] }),
        }
    }
    for line in &mut lines {
        line.points.sort_by_key(|(date, _)| *date);
    }
    lines
}

/// Median wait (hours) per tier over time. `None` when there is nothing to draw.
pub fn queue_times(series: &[QueuePoint], frame: &Frame<'_>) -> Option<String> {
    let mut lines = lines_by(series, |p| p.tier.clone(), |p| (p.period_start, p.p50_seconds / 3600.0));
    lines.sort_by(|a, b| a.label.cmp(&b.label));
    let tiers: Vec<&str> = lines.iter().map(|l| l.label.as_str()).collect();
    let description = format!("Median wait in hours per access tier ({}), monthly {}.", tiers.join(", "), span(&lines));
    self::lines(frame, &description, &ValueAxis { title: "median wait (hours)", decimals: 1 }, &lines)
}

/// Monthly median price per accelerator-hour per resource and pricing model, in the
/// currency most of the points use (the description says if others were left out).
pub fn prices(points: &[PricePoint], frame: &Frame<'_>) -> Option<String> {
    let mut currencies: Vec<(&str, usize)> = Vec::new();
    for p in points {
        match currencies.iter_mut().find(|(c, _)| *c == p.currency) {
            Some((_, n)) => *n += 1,
            None => currencies.push((p.currency.as_str(), 1)),
        }
    }
    let currency = currencies.iter().max_by_key(|(_, n)| *n).map(|(c, _)| *c)?;
    let shown: Vec<&PricePoint> = points.iter().filter(|p| p.currency == currency).collect();
    let lines = lines_by(&shown, |p| p.series.clone(), |p| (p.month, p.price));
    let mut description = format!(
        "Median price per accelerator-hour in {currency} for {}, monthly {}.",
        lines.iter().map(|l| l.label.as_str()).collect::<Vec<_>>().join(", "),
        span(&lines)
    );
    if currencies.len() > 1 {
        description.push_str(" Prices in other currencies are in the table only.");
    }
    let title = format!("price per accelerator-hour ({currency})");
    self::lines(frame, &description, &ValueAxis { title: &title, decimals: 2 }, &lines)
}

/// Share of capacity locked up by deals in force against the share set aside for
/// newcomers, at each capacity filing.
pub fn capacity_shares(points: &[CapacityPoint], frame: &Frame<'_>) -> Option<String> {
    let locked: Vec<(NaiveDate, f64)> =
        points.iter().filter_map(|p| Some((p.as_of, p.locked_share()? * 100.0))).collect();
    let set_aside: Vec<(NaiveDate, f64)> =
        points.iter().filter_map(|p| Some((p.as_of, p.set_aside_share()? * 100.0))).collect();
    if locked.is_empty() {
        return None;
    }
    let lines = [
        Line { label: "locked up by deals in force".into(), points: locked },
        Line { label: "set aside for newcomers".into(), points: set_aside },
    ];
    let last = points.last()?;
    let description = format!(
        "Percent of disclosed capacity locked up by deals in force and percent set aside for newcomers, at each capacity filing {}; latest ({}): {:.1} % locked, {:.1} % set aside.",
        span(&lines),
        last.as_of,
        last.locked_share().unwrap_or(0.0) * 100.0,
        last.set_aside_share().unwrap_or(0.0) * 100.0
    );
    self::lines(frame, &description, &ValueAxis { title: "share of capacity (%)", decimals: 0 }, &lines)
}

#[cfg(test)]
mod tests {
    use super::super::layout::{COMPACT, WIDE};
    use super::super::{assert_legible_pair, attributes, drawings, texts};
    use super::*;

    fn date(month: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, month, 1).expect("date")
    }

    fn point(tier: &str, month: u32, hours: f64) -> QueuePoint {
        QueuePoint {
            tier: tier.into(),
            period_start: date(month),
            p50_seconds: hours * 3600.0,
            p90_seconds: hours * 7200.0,
            jobs: 10,
        }
    }

    /// The `y` of each `<text>` whose string is `wanted`, in order.
    fn text_ys(svg: &str, wanted: &str) -> Vec<i32> {
        let ys = attributes(svg, "text", "y");
        texts(svg).iter().zip(ys).filter(|(t, _)| *t == wanted).map(|(_, y)| y.parse().expect("y")).collect()
    }

    /// The highest (smallest) `y` of any data point or grid line.
    fn plot_top(svg: &str) -> i32 {
        let points = attributes(svg, "circle", "cy");
        points.iter().chain(&attributes(svg, "line", "y1")).map(|y| y.parse().expect("y")).min().expect("plot")
    }

    #[test]
    fn a_queue_chart_is_two_accessible_drawings_with_a_legend_above_the_plot() {
        let series = [
            point("on_demand", 1, 0.5),
            point("on_demand", 2, 0.7),
            point("newcomer", 1, 6.0),
            point("newcomer", 2, 4.0),
        ];
        let markup = queue_times(&series, &Frame::inline("queue", "Corvid <GPU> waits")).expect("chart");
        assert_legible_pair(&markup);
        assert!(markup.contains("<title id=\"queue-title\">Corvid &lt;GPU&gt; waits</title>"));
        assert!(markup.contains("<title id=\"queue-compact-title\">Corvid &lt;GPU&gt; waits</title>"));
        assert!(markup.contains("<desc id=\"queue-desc\">Median wait in hours per access tier (newcomer, on_demand), monthly from 2026-01 to 2026-02.</desc>"));
        for svg in drawings(&markup) {
            let texts = texts(svg);
            assert!(texts.iter().any(|t| t == "median wait (hours)"), "{texts:?}");
            // The legend: above every data point and grid line, never on them.
            let top = plot_top(svg);
            for label in ["newcomer", "on_demand"] {
                let ys = text_ys(svg, label);
                assert_eq!(ys.len(), 1, "one legend entry for {label}: {texts:?}");
                assert!(ys[0] + ROW as i32 / 2 <= top, "{label} legend at {} overlaps the plot from {top}", ys[0]);
            }
            // The newest value at each line's end, to the right of the plot.
            assert!(texts.iter().any(|t| t == "4.0 h") && texts.iter().any(|t| t == "0.7 h"), "{texts:?}");
            // A few light grid lines, no minor ones.
            let grid = attributes(svg, "line", "stroke");
            assert!((2..=6).contains(&grid.len()) && grid.iter().all(|s| *s == "#E2E6EA"), "{grid:?}");
        }
        let [wide, compact] = drawings(&markup)[..] else { panic!("two drawings") };
        // Month ticks, each once: short month names on the compact drawing.
        for (svg, months) in [(wide, ["2026-01", "2026-02"]), (compact, ["Jan 26", "Feb 26"])] {
            let texts = texts(svg);
            assert!(months.iter().all(|m| texts.iter().filter(|t| t == m).count() == 1), "{texts:?}");
        }
    }

    #[test]
    fn end_labels_of_lines_ending_together_are_nudged_apart() {
        let line =
            |label: &str, last: f64| Line { label: label.into(), points: vec![(date(1), 10.0), (date(3), last)] };
        let axis = ValueAxis { title: "share of capacity (%)", decimals: 0 };
        let markup = lines(&Frame::inline("l", "t"), "d", &axis, &[line("a", 40.0), line("b", 41.0), line("c", 39.0)])
            .expect("chart");
        for svg in drawings(&markup) {
            let mut ys: Vec<i32> = ["40 %", "41 %", "39 %"].iter().flat_map(|t| text_ys(svg, t)).collect();
            assert_eq!(ys.len(), 3, "{:?}", texts(svg));
            assert!(ys[1] < ys[0] && ys[0] < ys[2], "higher value, higher label: {ys:?}");
            ys.sort();
            assert!(ys.windows(2).all(|w| w[1] - w[0] >= ROW as i32 - 3), "{ys:?}");
        }
    }

    #[test]
    fn end_labels_of_lines_ending_near_zero_stay_a_text_height_apart_inside_the_plot() {
        // Seen on a phone: three queue tiers ending at 0.1, 0.0 and 0.0 hours.
        let line =
            |label: &str, last: f64| Line { label: label.into(), points: vec![(date(1), 0.05), (date(3), last)] };
        let axis = ValueAxis { title: "median wait (hours)", decimals: 1 };
        let markup = lines(&Frame::inline("q", "t"), "d", &axis, &[line("a", 0.1), line("b", 0.0), line("c", 0.0)])
            .expect("chart");
        for svg in drawings(&markup) {
            let high = text_ys(svg, "0.1 h");
            let mut ys: Vec<i32> = high.iter().copied().chain(text_ys(svg, "0.0 h")).collect();
            assert_eq!(ys.len(), 3, "{:?}", texts(svg));
            assert!(ys[1..].iter().all(|y| *y > high[0]), "0.1 h above the zeros: {ys:?}");
            ys.sort();
            assert!(ys.windows(2).all(|w| f64::from(w[1] - w[0]) >= FONT), "{ys:?} closer than {FONT} px");
            // Within the plot: centred on its `y`, each ends above the month ticks hung under it.
            let ticks: Vec<i32> = ["2026-01", "Jan 26"].iter().flat_map(|m| text_ys(svg, m)).collect();
            assert!(ys.iter().all(|y| f64::from(ticks[0] - y) >= FONT / 2.0), "{ys:?} on the month ticks at {ticks:?}");
        }
    }

    #[test]
    fn end_labels_carry_the_unit_from_the_axis_title() {
        let axis = |title| ValueAxis { title, decimals: 2 };
        assert_eq!(axis("median wait (hours)").end_label(2.4, &WIDE), "2.40 h");
        assert_eq!(axis("price (EUR)").end_label(2.4, &WIDE), "2.40 EUR");
        assert_eq!(axis("price (EUR)").end_label(2.4, &COMPACT), "2.40", "the compact drawing drops long units");
        assert_eq!(axis("share (%)").end_label(2.4, &COMPACT), "2.40 %");
        assert_eq!(axis("jobs").end_label(3.0, &WIDE), "3.00");
    }

    #[test]
    fn nothing_to_draw_gives_no_chart() {
        assert_eq!(queue_times(&[], &Frame::inline("q", "empty")), None);
        assert_eq!(prices(&[], &Frame::inline("p", "empty")), None);
        assert_eq!(capacity_shares(&[], &Frame::inline("c", "empty")), None);
    }

    #[test]
    fn prices_draw_the_main_currency_and_say_what_was_left_out() {
        let price = |series: &str, currency: &str, month: u32, price: f64| PricePoint {
            series: series.into(),
            currency: currency.into(),
            month: date(month),
            price,
            cost_basis: None,
        };
        let points = [
            price("h100 · on_demand", "EUR", 1, 2.5),
            price("h100 · on_demand", "EUR", 2, 2.4),
            price("a100 · spot", "EUR", 1, 1.1),
            price("h100 · on_demand", "CHF", 1, 2.6),
        ];
        let svg = prices(&points, &Frame::inline("prices", "Prices")).expect("chart");
        assert_legible_pair(&svg);
        let texts = texts(&svg);
        assert!(texts.iter().any(|t| t == "price per accelerator-hour (EUR)"), "{texts:?}");
        assert!(texts.iter().any(|t| t == "h100 · on_demand") && texts.iter().any(|t| t == "a100 · spot"));
        assert!(svg.contains("Prices in other currencies are in the table only."));
    }

    #[test]
    fn capacity_shares_plot_both_lines_in_percent() {
        let points = [
            CapacityPoint { as_of: date(1), total: 500, set_aside: 10, locked: 350 },
            CapacityPoint { as_of: date(2), total: 1000, set_aside: 50, locked: 250 },
        ];
        let svg = capacity_shares(&points, &Frame::inline("cap", "Lock-ups")).expect("chart");
        assert_legible_pair(&svg);
        assert!(svg.contains("latest (2026-02-01): 25.0 % locked, 5.0 % set aside"), "{svg}");
        let texts = texts(&svg);
        assert!(
            texts.iter().any(|t| t == "set aside for newcomers") && texts.iter().any(|t| t == "share of capacity (%)")
        );
    }
}
