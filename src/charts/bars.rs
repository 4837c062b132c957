//! Horizontal bar charts: one bar per row, coloured by group, the figure written at
//! each bar's end; acceptance per applicant category is one of them.

use plotters::prelude::*;

use super::{Area, Frame, PALETTE, render};
use crate::analytics::grades::NEWCOMER_CATEGORIES;
use crate::analytics::metrics::AcceptanceRate;

/// One bar of a horizontal bar chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// The label beside the bar (the category axis).
    pub label: String,
    /// Length in the axis' unit; `None` draws no bar, only `text`.
    pub value: Option<f64>,
    /// Index into the chart's `groups`: the bar's colour and legend entry.
    pub group: usize,
    /// The figure written at the bar's end, so the chart reads without the axis.
    pub text: String,
}

/// The value axis of a bar chart.
#[derive(Debug, Clone, Copy)]
pub struct BarAxis<'a> {
    /// Axis title, with the unit.
    pub title: &'a str,
    /// The axis' full scale (100 for percentages); longer bars stretch it.
    pub full: f64,
}

fn plot_bars(area: &Area<'_>, axis: &BarAxis<'_>, groups: &[&str], bars: &[Bar]) -> Option<()> {
    // A segmented range over 0..=last has one segment per bar.
    let last = bars.len() as i32 - 1;
    // The legend sits lower right; long bars get room beyond full scale so they never run under it.
    let longest = bars.iter().filter_map(|b| b.value).fold(0.0, f64::max);
    let full = axis.full.max(longest);
    let right = if longest > 0.6 * full { full * 1.4 } else { full };
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .margin_right(48)
        .x_label_area_size(36)
        .y_label_area_size(150)
        .build_cartesian_2d(0.0..right, (0..last).into_segmented())
        .ok()?;
    let names: Vec<&str> = bars.iter().map(|b| b.label.as_str()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .x_desc(axis.title)
        .y_labels(bars.len())
        .y_label_formatter(&|v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) => names.get(*i as usize).map_or(String::new(), |n| (*n).to_owned()),
            _ => String::new(),
        })
        .x_label_formatter(&|v: &f64| if *v <= full { format!("{v:.0}") } else { String::new() })
        .bold_line_style(RGBColor(225, 228, 232))
        .light_line_style(TRANSPARENT)
        .draw()
        .ok()?;
    let rect = |i: usize, value: f64, colour: RGBColor| {
        let mut rect = Rectangle::new(
            [(0.0, SegmentValue::Exact(i as i32)), (value, SegmentValue::Exact(i as i32 + 1))],
            colour.filled(),
        );
        rect.set_margin(5, 5, 0, 0);
        rect
    };
    for (group, name) in groups.iter().enumerate() {
        let colour = PALETTE[group % PALETTE.len()];
        let drawn: Vec<_> = bars
            .iter()
            .enumerate()
            .filter(|(_, b)| b.group == group)
            .filter_map(|(i, b)| Some(rect(i, b.value?, colour)))
            .collect();
        chart
            .draw_series(drawn)
            .ok()?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled()));
    }
    let style = ("sans-serif", 13).into_font();
    let labels = bars.iter().enumerate().map(|(i, b)| {
        EmptyElement::at((b.value.unwrap_or(0.0), SegmentValue::CenterOf(i as i32)))
            + Text::new(b.text.clone(), (6, -7), style.clone())
    });
    chart.draw_series(labels).ok()?;
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .ok()
}

/// Any horizontal bar chart: one bar per row, coloured by group (in `groups` order, which
/// is also the legend). `None` when no bar has a value.
pub fn bars(frame: &Frame<'_>, description: &str, axis: &BarAxis<'_>, groups: &[&str], bars: &[Bar]) -> Option<String> {
    if bars.iter().all(|b| b.value.is_none()) {
        return None;
    }
    render(frame, description, |area| plot_bars(area, axis, groups, bars))
}

/// Acceptance rate per applicant category. `None` when no category has any decision.
pub fn acceptance(rates: &[AcceptanceRate], frame: &Frame<'_>) -> Option<String> {
    let parts: Vec<String> = rates
        .iter()
        .map(|r| match r.rate() {
            Some(rate) => format!("{} {:.1} % of {}", r.category, rate * 100.0, r.accepted + r.rejected),
            None => format!("{} no decisions", r.category),
        })
        .collect();
    let description = format!("Acceptance rate per applicant category (accepted of decided): {}.", parts.join("; "));
    // Newcomer categories in their own colour (the second group) so the gap shows.
    let is_newcomer = |r: &AcceptanceRate| NEWCOMER_CATEGORIES.contains(&r.category.as_str());
    let rows: Vec<Bar> = rates
        .iter()
        .map(|r| Bar {
            label: r.category.clone(),
            value: r.rate().map(|rate| rate * 100.0),
            group: if is_newcomer(r) { 1 } else { 0 },
            text: r.rate().map_or("no decisions".to_owned(), |rate| format!("{:.0} %", rate * 100.0)),
        })
        .collect();
    let axis = BarAxis { title: "accepted of decided applications (%)", full: 100.0 };
    bars(frame, &description, &axis, &["other applicants", "newcomer categories"], &rows)
}

#[cfg(test)]
mod tests {
    use super::super::texts;
    use super::*;

    fn rate(category: &str, accepted: u64, rejected: u64) -> AcceptanceRate {
        AcceptanceRate { category: category.into(), received: accepted + rejected, accepted, rejected }
    }

    #[test]
    fn bars_are_labelled_by_category_with_their_rate() {
        let rates = [rate("enterprise", 9, 1), rate("student", 1, 3), rate("civic", 0, 0)];
        let svg = acceptance(&rates, &Frame::inline("acc", "Acceptance")).expect("chart");
        let texts = texts(&svg);
        for expected in ["enterprise", "student", "civic", "90 %", "25 %", "no decisions", "newcomer categories"] {
            assert!(texts.iter().any(|t| t == expected), "{expected} missing from {texts:?}");
        }
        assert!(svg.contains("student 25.0 % of 4; civic no decisions"), "{svg}");
        // One bar each for enterprise (blue) and student (orange), plus one legend swatch each;
        // civic has nothing to draw.
        assert_eq!(svg.matches("fill=\"#0072B2\"").count(), 2, "{svg}");
        assert_eq!(svg.matches("fill=\"#D55E00\"").count(), 2, "{svg}");
    }

    #[test]
    fn no_decisions_anywhere_gives_no_chart() {
        assert_eq!(acceptance(&[rate("civic", 0, 0)], &Frame::inline("a", "t")), None);
        assert_eq!(acceptance(&[], &Frame::inline("a", "t")), None);
    }
}
