//! Horizontal bar charts: one bar per row, coloured by group, the figure written at
//! each bar's end; acceptance per applicant category is one of them.

use plotters::prelude::*;

use plotters::style::text_anchor::{HPos, VPos};

use super::layout::{
    AXIS, Drawing, GRID, Legend, PAD, ROW, Swatch, draw_text_lines, text, text_width, tick_step, wrap,
};
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

/// Height of one bar's row: beside its label (wide), or under it (compact).
fn row_height(drawing: &Drawing) -> u32 {
    if drawing.compact { 44 } else { 30 }
}

/// Top to bottom: the legend strip, one row per bar (label, bar, figure), the value
/// ticks under a few light grid lines, and the axis title.
fn plot_bars(area: &Area<'_>, drawing: &Drawing, axis: &BarAxis<'_>, groups: &[&str], bars: &[Bar]) -> Option<()> {
    let legend = Legend::new(groups, drawing.width, PAD);
    legend.draw(area, Swatch::Block)?;
    let top = PAD + legend.height() as i32 + 6;
    let row = row_height(drawing) as i32;
    let widest_label = bars.iter().map(|b| text_width(&b.label)).max().unwrap_or(0).min(drawing.width * 35 / 100);
    // Labels sit left of the bars when wide, above them when compact.
    let left = if drawing.compact { PAD } else { PAD + widest_label as i32 + 10 };
    let widest_text = bars.iter().map(|b| text_width(&b.text)).max().unwrap_or(0) as i32;
    let right = drawing.width as i32 - PAD - widest_text - 6;
    let longest = bars.iter().filter_map(|b| b.value).fold(0.0, f64::max);
    let full = axis.full.max(longest);
    let x = |value: f64| left + ((value / full) * f64::from(right - left)).round() as i32;
    let bottom = top + row * bars.len() as i32;

    let step = tick_step(full, if drawing.compact { 2 } else { 4 });
    let decimals = if step.fract() == 0.0 { 0 } else { 1 };
    let ticks = (0..).map(|i| f64::from(i) * step).take_while(|v| *v <= full * 1.000_001);
    for tick in ticks {
        let at = x(tick);
        let colour = if tick == 0.0 { AXIS } else { GRID };
        // Grid lines run beside the bars only, clear of labels above them (compact).
        for i in 0..bars.len() as i32 {
            let row_top = top + i * row;
            let from = if drawing.compact { row_top + ROW as i32 } else { row_top };
            area.draw(&PathElement::new(vec![(at, from), (at, row_top + row)], colour.stroke_width(1))).ok()?;
        }
        let label = format!("{tick:.decimals$}");
        area.draw(&Text::new(label, (at, bottom + 4), text(HPos::Center, VPos::Top))).ok()?;
    }
    draw_text_lines(area, &wrap(axis.title, drawing.width - 2 * PAD as u32), (PAD, bottom + ROW as i32 + 8))?;

    for (i, bar) in bars.iter().enumerate() {
        let row_top = top + i as i32 * row;
        let (label_at, bar_top) = if drawing.compact {
            ((PAD, row_top + ROW as i32 / 2), row_top + ROW as i32 + 2)
        } else {
            ((left - 10, row_top + row / 2), row_top + 6)
        };
        let anchor = if drawing.compact { HPos::Left } else { HPos::Right };
        area.draw(&Text::new(bar.label.as_str(), label_at, text(anchor, VPos::Center))).ok()?;
        let bar_bottom = row_top + row - 6;
        let end = match bar.value {
            Some(value) => {
                let colour = PALETTE[bar.group % PALETTE.len()];
                area.draw(&Rectangle::new([(left, bar_top), (x(value).max(left + 1), bar_bottom)], colour.filled()))
                    .ok()?;
                x(value)
            }
            None => left,
        };
        let middle = (bar_top + bar_bottom) / 2;
        area.draw(&Text::new(bar.text.as_str(), (end + 6, middle), text(HPos::Left, VPos::Center))).ok()?;
    }
    Some(())
}

/// Any horizontal bar chart: one bar per row, coloured by group (in `groups` order, which
/// is also the legend). `None` when no bar has a value.
pub fn bars(frame: &Frame<'_>, description: &str, axis: &BarAxis<'_>, groups: &[&str], bars: &[Bar]) -> Option<String> {
    if bars.iter().all(|b| b.value.is_none()) {
        return None;
    }
    render(
        frame,
        description,
        |drawing| {
            let legend = Legend::new(groups, drawing.width, PAD).height();
            let title = wrap(axis.title, drawing.width - 2 * PAD as u32).len() as u32 * ROW;
            PAD as u32 + legend + 6 + row_height(drawing) * bars.len() as u32 + ROW + 8 + title + PAD as u32
        },
        |area, drawing| plot_bars(area, drawing, axis, groups, bars),
    )
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
    use super::super::{assert_legible_pair, attributes, drawings, texts};
    use super::*;

    fn rate(category: &str, accepted: u64, rejected: u64) -> AcceptanceRate {
        AcceptanceRate { category: category.into(), received: accepted + rejected, accepted, rejected }
    }

    #[test]
    fn bars_are_labelled_by_category_with_their_rate_under_a_legend() {
        let rates = [rate("enterprise", 9, 1), rate("student", 1, 3), rate("civic", 0, 0)];
        let markup = acceptance(&rates, &Frame::inline("acc", "Acceptance")).expect("chart");
        assert_legible_pair(&markup);
        assert!(markup.contains("student 25.0 % of 4; civic no decisions"), "{markup}");
        for svg in drawings(&markup) {
            let texts = texts(svg);
            for expected in ["enterprise", "student", "civic", "90 %", "25 %", "no decisions", "newcomer categories"] {
                assert!(texts.iter().any(|t| t == expected), "{expected} missing from {texts:?}");
            }
            // One bar each for enterprise (blue) and student (orange), plus one legend swatch each;
            // civic has nothing to draw.
            let fills = attributes(svg, "rect", "fill");
            assert_eq!(fills.iter().filter(|f| **f == "#0072B2").count(), 2, "{svg}");
            assert_eq!(fills.iter().filter(|f| **f == "#D55E00").count(), 2, "{svg}");
            // The legend swatches (first of each colour) sit above every bar.
            let ys: Vec<i32> = attributes(svg, "rect", "y").iter().map(|y| y.parse().expect("y")).collect();
            let coloured: Vec<(i32, &str)> =
                ys.into_iter().zip(fills).filter(|(_, f)| f.starts_with("#0") || f.starts_with("#D")).collect();
            let legend_bottom = coloured[..2].iter().map(|(y, _)| y + 12).max().expect("legend");
            assert!(coloured[2..].iter().all(|(y, _)| *y > legend_bottom), "{coloured:?}");
        }
    }

    #[test]
    fn no_decisions_anywhere_gives_no_chart() {
        assert_eq!(acceptance(&[rate("civic", 0, 0)], &Frame::inline("a", "t")), None);
        assert_eq!(acceptance(&[], &Frame::inline("a", "t")), None);
    }
}
