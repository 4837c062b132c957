//! Horizontal bar charts: one bar per row, coloured by group, the figure written at
//! each bar's end; acceptance per applicant category is one of them.

use plotters::prelude::*;

use plotters::style::text_anchor::{HPos, VPos};

use super::layout::{
    AXIS, Drawing, GRID, Legend, PAD, ROW, Swatch, draw_text_lines, text, text_width, tick_step, wrap,
};
use super::{Area, Frame, PALETTE, render};
use crate::analytics::grades::NEWCOMER_CATEGORIES;
use crate::analytics::tables::AcceptanceRate;

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

/// Height of one bar's band: beside its label (wide), or under its run's label (compact).
fn band_height(drawing: &Drawing) -> i32 {
    if drawing.compact { 24 } else { 30 }
}

/// Where a bar chart's rows go. Consecutive bars with the same label (one category, one
/// bar per provider) are a run that shows the label once: beside the run when wide, in
/// a row of its own above the run's bars when compact.
#[derive(Debug)]
struct Layout {
    /// Each run's label (shortened to fit) and the `y` of its middle.
    labels: Vec<(String, i32)>,
    /// Each bar's band, top and bottom.
    bands: Vec<(i32, i32)>,
    /// Where the bars start (the value axis' zero).
    left: i32,
    /// Below the last band.
    bottom: i32,
}

impl Layout {
    fn new(drawing: &Drawing, bars: &[Bar], top: i32) -> Self {
        let band = band_height(drawing);
        let room = label_room(drawing, bars);
        let (mut labels, mut bands, mut y) = (Vec::new(), Vec::new(), top);
        // Wide runs of several bars are set apart, so each label reads as its run's.
        let grouped = !drawing.compact && bars.chunk_by(|a, b| a.label == b.label).any(|run| run.len() > 1);
        for (i, run) in bars.chunk_by(|a, b| a.label == b.label).enumerate() {
            if grouped && i > 0 {
                y += RUN_GAP;
            }
            let label = shorten(&run[0].label, room);
            if drawing.compact {
                labels.push((label, y + ROW as i32 / 2));
                y += ROW as i32;
            } else {
                labels.push((label, y + band * run.len() as i32 / 2));
            }
            for _ in run {
                bands.push((y, y + band));
                y += band;
            }
        }
        let left = if drawing.compact { PAD } else { PAD + room as i32 + LABEL_GAP };
        Self { labels, bands, left, bottom: y }
    }

    /// Height of the rows alone, from their top.
    fn height(drawing: &Drawing, bars: &[Bar]) -> u32 {
        let layout = Self::new(drawing, bars, 0);
        layout.bottom as u32
    }
}

/// Between a wide drawing's labels and the bars' start.
const LABEL_GAP: i32 = 10;
/// Between runs of bars sharing a label, in the wide drawing.
const RUN_GAP: i32 = 10;

/// Width a label may take: in the wide drawing, the longest label's but at most
/// `WIDE_LABEL_SHARE` of the drawing (the bars need the rest); the full width when compact,
/// where labels sit above their bars.
fn label_room(drawing: &Drawing, bars: &[Bar]) -> u32 {
    if drawing.compact {
        return drawing.width - 2 * PAD as u32;
    }
    let widest = bars.iter().map(|b| text_width(&b.label)).max().unwrap_or(0);
    widest.min(drawing.width * WIDE_LABEL_SHARE / 100)
}

/// Percent of a wide drawing the category labels may take.
const WIDE_LABEL_SHARE: u32 = 45;

/// `label` cut to fit `room` px, with an ellipsis when cut (the page's table and the
/// chart's description keep it whole).
fn shorten(label: &str, room: u32) -> String {
    if text_width(label) <= room {
        return label.to_owned();
    }
    let mut short: String = label.to_owned();
    while !short.is_empty() && text_width(&format!("{short}…")) > room {
        short.pop();
    }
    format!("{}…", short.trim_end())
}

/// Top to bottom: the legend strip, the rows (label, bar, figure at the bar's end), the
/// value ticks under a few light grid lines, and the axis title.
fn plot_bars(area: &Area<'_>, drawing: &Drawing, axis: &BarAxis<'_>, groups: &[&str], bars: &[Bar]) -> Option<()> {
    let legend = Legend::new(groups, drawing.width, PAD);
    legend.draw(area, Swatch::Block)?;
    let layout = Layout::new(drawing, bars, PAD + legend.height() as i32 + 6);
    let left = layout.left;
    let widest_text = bars.iter().map(|b| text_width(&b.text)).max().unwrap_or(0) as i32;
    let right = drawing.width as i32 - PAD - widest_text - 6;
    let longest = bars.iter().filter_map(|b| b.value).fold(0.0, f64::max);
    let full = axis.full.max(longest);
    let x = |value: f64| left + ((value / full) * f64::from(right - left)).round() as i32;
    let bottom = layout.bottom;

    let step = tick_step(full, if drawing.compact { 2 } else { 4 });
    let decimals = if step.fract() == 0.0 { 0 } else { 1 };
    let ticks = (0..).map(|i| f64::from(i) * step).take_while(|v| *v <= full * 1.000_001);
    for tick in ticks {
        let at = x(tick);
        let colour = if tick == 0.0 { AXIS } else { GRID };
        // Grid lines run beside the bars only, clear of labels above them (compact).
        for (band_top, band_bottom) in &layout.bands {
            area.draw(&PathElement::new(vec![(at, *band_top), (at, *band_bottom)], colour.stroke_width(1))).ok()?;
        }
        let label = format!("{tick:.decimals$}");
        area.draw(&Text::new(label, (at, bottom + 4), text(HPos::Center, VPos::Top))).ok()?;
    }
    draw_text_lines(area, &wrap(axis.title, drawing.width - 2 * PAD as u32), (PAD, bottom + ROW as i32 + 8))?;

    for (label, middle) in &layout.labels {
        let (at, anchor) = if drawing.compact { (PAD, HPos::Left) } else { (left - LABEL_GAP, HPos::Right) };
        area.draw(&Text::new(label.as_str(), (at, *middle), text(anchor, VPos::Center))).ok()?;
    }
    for (bar, (band_top, band_bottom)) in bars.iter().zip(&layout.bands) {
        let (bar_top, bar_bottom) =
            if drawing.compact { (band_top + 2, band_bottom - 6) } else { (band_top + 6, band_bottom - 6) };
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
/// is also the legend). Consecutive bars with the same label share it. A label too long
/// for the wide drawing is shortened with an ellipsis, so `description` (and the page's
/// table) should name each whole. `None` when no bar has a value.
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
            PAD as u32 + legend + 6 + Layout::height(drawing, bars) + ROW + 8 + title + PAD as u32
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
    use super::super::layout::COMPACT;
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

    /// The `x` and estimated width of each `<text>` anchored `anchor`, with its string.
    fn anchored(svg: &str, anchor: &str) -> Vec<(String, i32)> {
        let anchors = attributes(svg, "text", "text-anchor");
        let xs = attributes(svg, "text", "x");
        texts(svg)
            .into_iter()
            .zip(anchors.into_iter().zip(xs))
            .filter(|(_, (a, _))| *a == anchor)
            .map(|(t, (_, x))| (t, x.parse().expect("x")))
            .collect()
    }

    fn share(label: &str, value: f64) -> Bar {
        Bar { label: label.into(), value: Some(value), group: 0, text: format!("{value:.1} %") }
    }

    #[test]
    fn long_category_labels_fit_inside_both_drawings() {
        let long = "Alpine Supercomputing Centre (demo)";
        let longer = "Consortium for Very Large Shared Research Infrastructure (demo)";
        let rows = [share(long, 40.0), share("Corvid GPU (demo)", 12.5), share(longer, 3.0)];
        let axis = BarAxis { title: "share of capacity (%)", full: 100.0 };
        let markup = bars(&Frame::inline("b", "t"), "d", &axis, &["deals"], &rows).expect("chart");
        assert_legible_pair(&markup);
        let [wide, compact] = drawings(&markup)[..] else { panic!("two drawings") };
        // Wide: labels end at the bars, so each starts at x − its width, which must be ≥ 0.
        let labels = anchored(wide, "end");
        assert_eq!(labels.len(), 3, "{labels:?}");
        assert!(labels.iter().any(|(t, _)| t == long), "the Alpine label is whole: {labels:?}");
        for (label, x) in &labels {
            assert!(*x - text_width(label) as i32 >= 0, "{label} starts left of the drawing (ends at {x})");
        }
        assert!(labels.iter().any(|(t, _)| t.ends_with('…') && longer.starts_with(t.trim_end_matches('…'))));
        // Compact: labels start at the left, so each must end within the width.
        for (label, x) in anchored(compact, "start").iter().filter(|(t, _)| t.contains("(demo)")) {
            assert!(*x >= 0 && *x + text_width(label) as i32 <= COMPACT.width as i32, "{label} at {x}");
        }
    }

    #[test]
    fn bars_sharing_a_label_show_it_once_above_their_bars() {
        let pair = |category: &str, a: f64, b: f64| [share(category, a), Bar { group: 1, ..share(category, b) }];
        let rows: Vec<Bar> = pair("student", 20.0, 30.0).into_iter().chain(pair("enterprise", 80.0, 70.0)).collect();
        let axis = BarAxis { title: "accepted (%)", full: 100.0 };
        let markup = bars(&Frame::inline("g", "t"), "d", &axis, &["Corvid", "Rhine"], &rows).expect("chart");
        for svg in drawings(&markup) {
            let texts = texts(svg);
            for category in ["student", "enterprise"] {
                assert_eq!(texts.iter().filter(|t| *t == category).count(), 1, "{category} once: {texts:?}");
            }
            // Four bars, two per colour (plus a legend swatch each).
            let fills = attributes(svg, "rect", "fill");
            assert_eq!(fills.iter().filter(|f| **f == "#0072B2" || **f == "#D55E00").count(), 6, "{fills:?}");
        }
    }

    #[test]
    fn no_decisions_anywhere_gives_no_chart() {
        assert_eq!(acceptance(&[rate("civic", 0, 0)], &Frame::inline("a", "t")), None);
        assert_eq!(acceptance(&[], &Frame::inline("a", "t")), None);
    }
}
