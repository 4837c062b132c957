//! Horizontal bar chart: acceptance rate per applicant category, newcomer
//! categories in their own colour so the gap between them and the rest shows.

use plotters::prelude::*;

use super::{Area, Frame, PALETTE, render};
use crate::analytics::grades::NEWCOMER_CATEGORIES;
use crate::analytics::metrics::AcceptanceRate;

fn plot_bars(area: &Area<'_>, rates: &[AcceptanceRate]) -> Option<()> {
    // A segmented range over 0..=last has one segment per category.
    let last = rates.len() as i32 - 1;
    // The legend sits lower right; long bars get room beyond 100 % so they never run under it.
    let longest = rates.iter().filter_map(AcceptanceRate::rate).fold(0.0, f64::max);
    let right = if longest > 0.6 { 140.0 } else { 100.0 };
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .margin_right(48)
        .x_label_area_size(36)
        .y_label_area_size(150)
        .build_cartesian_2d(0.0..right, (0..last).into_segmented())
        .ok()?;
    let names: Vec<&str> = rates.iter().map(|r| r.category.as_str()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .x_desc("accepted of decided applications (%)")
        .y_labels(rates.len())
        .y_label_formatter(&|v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) => names.get(*i as usize).map_or(String::new(), |n| (*n).to_owned()),
            _ => String::new(),
        })
        .x_label_formatter(&|v: &f64| if *v <= 100.0 { format!("{v:.0}") } else { String::new() })
        .bold_line_style(RGBColor(225, 228, 232))
        .light_line_style(TRANSPARENT)
        .draw()
        .ok()?;
    let (newcomer, other) = (PALETTE[1], PALETTE[0]);
    let bar = |i: usize, rate: f64, colour: RGBColor| {
        let mut rect = Rectangle::new(
            [(0.0, SegmentValue::Exact(i as i32)), (rate * 100.0, SegmentValue::Exact(i as i32 + 1))],
            colour.filled(),
        );
        rect.set_margin(5, 5, 0, 0);
        rect
    };
    let is_newcomer = |r: &AcceptanceRate| NEWCOMER_CATEGORIES.contains(&r.category.as_str());
    for (label, colour, wanted) in [("newcomer categories", newcomer, true), ("other applicants", other, false)] {
        let bars: Vec<_> = rates
            .iter()
            .enumerate()
            .filter(|(_, r)| is_newcomer(r) == wanted)
            .filter_map(|(i, r)| Some(bar(i, r.rate()?, colour)))
            .collect();
        chart
            .draw_series(bars)
            .ok()?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled()));
    }
    // The figure at the end of each bar, so the chart reads without the axis.
    let style = ("sans-serif", 13).into_font();
    let labels = rates.iter().enumerate().map(|(i, r)| {
        let text = r.rate().map_or("no decisions".to_owned(), |rate| format!("{:.0} %", rate * 100.0));
        let x = r.rate().unwrap_or(0.0) * 100.0;
        EmptyElement::at((x, SegmentValue::CenterOf(i as i32))) + Text::new(text, (6, -7), style.clone())
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

/// Acceptance rate per applicant category. `None` when no category has any decision.
pub fn acceptance(rates: &[AcceptanceRate], frame: &Frame<'_>) -> Option<String> {
    if rates.iter().all(|r| r.rate().is_none()) {
        return None;
    }
    let parts: Vec<String> = rates
        .iter()
        .map(|r| match r.rate() {
            Some(rate) => format!("{} {:.1} % of {}", r.category, rate * 100.0, r.accepted + r.rejected),
            None => format!("{} no decisions", r.category),
        })
        .collect();
    let description = format!("Acceptance rate per applicant category (accepted of decided): {}.", parts.join("; "));
    render(frame, &description, |area| plot_bars(area, rates))
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
