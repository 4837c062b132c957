//! Line charts over time: queue times per tier, prices per resource and
//! pricing model, and lock-ups against the newcomer set-aside.

use chrono::NaiveDate;
use plotters::prelude::*;

use super::{Area, Frame, PALETTE, render};
use crate::analytics::capacity::CapacityPoint;
use crate::analytics::metrics::QueuePoint;
use crate::analytics::prices::PricePoint;

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
    /// Axis title, with the unit.
    pub title: &'a str,
    /// Decimals of the tick labels.
    pub decimals: usize,
}

/// Any line chart over time: `description` is the screen-reader text (say what the
/// lines show and the latest values). `None` when no line has a point.
pub fn lines(frame: &Frame<'_>, description: &str, axis: &ValueAxis<'_>, lines: &[Line]) -> Option<String> {
    let mut lines = lines.to_vec();
    lines.retain(|l| !l.points.is_empty());
    for line in &mut lines {
        line.points.sort_by_key(|(date, _)| *date);
    }
    render(frame, description, |area| plot_lines(area, axis, &lines))
}

/// Fewer points than this get a marker on each, so a short series is not a bare segment.
const MARKERS_BELOW: usize = 40;

fn plot_lines(area: &Area<'_>, axis: &ValueAxis<'_>, lines: &[Line]) -> Option<()> {
    let dates = lines.iter().flat_map(|l| l.points.iter().map(|(d, _)| *d));
    let first = dates.clone().min()?;
    let last = dates.max()?;
    let last = if last == first { last + chrono::Days::new(31) } else { last };
    // Headroom above the highest line keeps the legend (upper left) off the data.
    let highest = lines.iter().flat_map(|l| l.points.iter().map(|(_, v)| *v)).fold(0.0, f64::max);
    let top = if highest > 0.0 { highest * 1.45 } else { 1.0 };
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(first..last, 0.0..top)
        .ok()?;
    let decimals = axis.decimals;
    chart
        .configure_mesh()
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .x_desc("date")
        .y_desc(axis.title)
        .x_labels(6)
        .x_label_formatter(&|d: &NaiveDate| d.format("%Y-%m").to_string())
        .y_label_formatter(&|v: &f64| format!("{v:.decimals$}"))
        .light_line_style(RGBColor(235, 238, 241))
        .draw()
        .ok()?;
    for (i, line) in lines.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(line.points.iter().copied(), colour.stroke_width(2)))
            .ok()?
            .label(line.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3)));
        if line.points.len() < MARKERS_BELOW {
            chart.draw_series(line.points.iter().map(|p| Circle::new(*p, 3, colour.filled()))).ok()?;
        }
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .ok()
}

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
    let axis = ValueAxis { title: "median wait (hours)", decimals: 1 };
    render(frame, &description, |area| plot_lines(area, &axis, &lines))
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
    let axis = ValueAxis { title: &title, decimals: 2 };
    render(frame, &description, |area| plot_lines(area, &axis, &lines))
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
    let axis = ValueAxis { title: "share of capacity (%)", decimals: 0 };
    render(frame, &description, |area| plot_lines(area, &axis, &lines))
}

#[cfg(test)]
mod tests {
    use super::super::texts;
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

    #[test]
    fn a_queue_chart_is_accessible_scalable_svg_with_a_legend() {
        let series = [
            point("on_demand", 1, 0.5),
            point("on_demand", 2, 0.7),
            point("newcomer", 1, 6.0),
            point("newcomer", 2, 4.0),
        ];
        let svg = queue_times(&series, &Frame::inline("queue", "Corvid <GPU> waits")).expect("chart");
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        assert_eq!(svg.matches("viewBox=\"0 0 720 360\"").count(), 1);
        assert!(!svg[..svg.find('>').expect("tag")].contains("width="), "no fixed width: CSS scales the chart");
        assert!(svg.contains("<title id=\"queue-title\">Corvid &lt;GPU&gt; waits</title>"));
        assert!(svg.contains("<desc id=\"queue-desc\">Median wait in hours per access tier (newcomer, on_demand), monthly from 2026-01 to 2026-02.</desc>"));
        let texts = texts(&svg);
        assert!(
            texts.iter().any(|t| t == "newcomer") && texts.iter().any(|t| t == "on_demand"),
            "legend entries: {texts:?}"
        );
        assert!(texts.iter().any(|t| t == "median wait (hours)"), "{texts:?}");
        assert!(texts.iter().any(|t| t == "2026-01"), "{texts:?}");
        assert_eq!(svg.matches("<svg").count(), 1);
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
        assert!(svg.contains("latest (2026-02-01): 25.0 % locked, 5.0 % set aside"), "{svg}");
        let texts = texts(&svg);
        assert!(
            texts.iter().any(|t| t == "set aside for newcomers") && texts.iter().any(|t| t == "share of capacity (%)")
        );
    }
}
