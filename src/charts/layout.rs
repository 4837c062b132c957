//! Sizes that keep chart text legible (issue 18): the two drawings an inline chart
//! carries, the CSS breakpoint between them, and the pieces every chart lays out
//! the same way (text width, wrapped titles, the legend strip, end-of-line labels).

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Area, PALETTE};

/// Every chart text, in CSS px at the drawing's own scale (1 viewBox unit = 1 px).
pub const FONT: f64 = 14.0;

// The stylesheet's side of the bargain (static/css/gatelog.css, `.chart-drawings`):
// which drawing it shows at which container width, and how wide. Only the tests read
// these, checking them against the drawings here and against the CSS text.

/// The smallest text a reader should meet, in CSS px, at any page width.
#[cfg(test)]
pub const LEGIBLE: f64 = 11.0;
/// Container width (CSS px) from which the wide drawing is shown instead of the
/// compact one: `FONT × BREAKPOINT / WIDE.width` is still legible there.
#[cfg(test)]
pub const BREAKPOINT: u32 = 576;
/// The narrowest container a chart meets: a 320 px viewport less the page's
/// padding (2 × 16 px) and a panel's padding and border (2 × 17 px).
#[cfg(test)]
pub const NARROWEST: u32 = 320 - 32 - 34;
/// Widest the compact drawing is shown (CSS `max-width`), so its text stays modest
/// between the narrowest phone and the breakpoint.
#[cfg(test)]
pub const COMPACT_MAX: u32 = 400;
/// Widest the wide drawing is shown, for the same reason on large screens.
#[cfg(test)]
pub const WIDE_MAX: u32 = 880;

/// plotters' SVG backend writes `font-size` as the requested size / 1.24.
const SVG_FONT_SCALE: f64 = 1.24;
/// Height of one row of text (legend row, title line).
pub const ROW: u32 = 20;
/// Space around the drawing's content.
pub const PAD: i32 = 8;

/// Text colour: near-black, well above WCAG AA contrast on white.
pub const INK: RGBColor = RGBColor(40, 44, 50);
/// Light major grid lines.
pub const GRID: RGBColor = RGBColor(226, 230, 234);
/// Axis lines.
pub const AXIS: RGBColor = RGBColor(140, 146, 152);

/// One drawing of a chart, made for the width it is shown at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drawing {
    /// viewBox width, in CSS px at 1:1.
    pub width: u32,
    /// Height of a line chart's plot (axes included), below its legend and title.
    pub plot_height: u32,
    /// Roughly how many date ticks and value ticks to label.
    pub x_ticks: usize,
    pub y_ticks: usize,
    /// Class on the `<svg>` (the CSS shows one of the two) and suffix of its ids.
    pub class: &'static str,
    pub id_suffix: &'static str,
    /// Short tick labels, labels above bars, end labels without long units.
    pub compact: bool,
}

/// For containers of `BREAKPOINT` px and wider: tablets and desktops.
pub const WIDE: Drawing = Drawing {
    width: 720,
    plot_height: 300,
    x_ticks: 6,
    y_ticks: 5,
    class: "chart-wide",
    id_suffix: "",
    compact: false,
};
/// For phones: narrower viewBox, taller aspect, fewer and shorter ticks.
pub const COMPACT: Drawing = Drawing {
    width: 320,
    plot_height: 240,
    x_ticks: 3,
    y_ticks: 4,
    class: "chart-compact",
    id_suffix: "-compact",
    compact: true,
};

/// A text style of `FONT` px as the SVG will say it, anchored at `h`/`v`.
pub fn text(h: HPos, v: VPos) -> TextStyle<'static> {
    ("sans-serif", FONT * SVG_FONT_SCALE).into_font().color(&INK).pos(Pos::new(h, v))
}

/// The same text style, unanchored, for axis tick labels (plotters anchors them).
pub fn plain() -> TextStyle<'static> {
    ("sans-serif", FONT * SVG_FONT_SCALE).into_font().color(&INK)
}

/// Estimated width of `text` at `FONT` px: generous, so laid-out text does not collide.
pub fn text_width(text: &str) -> u32 {
    (text.chars().count() as f64 * FONT * 0.6).ceil() as u32
}

/// `text` broken at spaces into lines of at most `width` px.
pub fn wrap(text: &str, width: u32) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if text_width(&format!("{line} {word}")) <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    lines
}

/// Draws wrapped lines of text from the top-left corner `(x, y)`; returns the height used.
pub fn draw_text_lines(area: &Area<'_>, lines: &[String], (x, y): (i32, i32)) -> Option<u32> {
    for (i, line) in lines.iter().enumerate() {
        let y = y + i as i32 * ROW as i32 + ROW as i32 / 2;
        area.draw(&Text::new(line.as_str(), (x, y), text(HPos::Left, VPos::Center))).ok()?;
    }
    Some(lines.len() as u32 * ROW)
}

/// A round step (1, 2, 2.5 or 5 times a power of ten) that cuts `0..=full` into about `parts` pieces.
pub fn tick_step(full: f64, parts: usize) -> f64 {
    let raw = full / parts as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|step| *step >= raw).unwrap_or(raw)
}

/// How a legend entry's swatch looks: a line for line charts, a block for bars.
#[derive(Debug, Clone, Copy)]
pub enum Swatch {
    Line,
    Block,
}

const SWATCH: i32 = 18;

/// The legend strip above a chart: entries left to right, wrapping to new rows; a label
/// too long for the drawing's width wraps onto lines of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Legend {
    /// Each entry's label lines and top-left corner.
    pub entries: Vec<(Vec<String>, (i32, i32))>,
    height: u32,
}

impl Legend {
    /// Lays `labels` out in rows no wider than `width`, starting at `top`.
    pub fn new(labels: &[&str], width: u32, top: i32) -> Self {
        let right = width as i32 - PAD;
        let room = (right - PAD - SWATCH - 6).max(1) as u32;
        let (mut x, mut y, mut row_height) = (PAD, top, 0);
        let mut entries = Vec::new();
        for label in labels {
            let lines = wrap(label, room);
            let entry = SWATCH + 6 + lines.iter().map(|l| text_width(l)).max().unwrap_or(0) as i32;
            if x > PAD && x + entry > right {
                x = PAD;
                y += row_height;
                row_height = 0;
            }
            row_height = row_height.max(lines.len() as i32 * ROW as i32);
            entries.push((lines, (x, y)));
            x += entry + 16;
        }
        Self { entries, height: (y + row_height - top) as u32 }
    }

    /// Height of the strip.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Draws the entries in palette order.
    pub fn draw(&self, area: &Area<'_>, swatch: Swatch) -> Option<()> {
        for (i, (lines, (x, y))) in self.entries.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let middle = y + ROW as i32 / 2;
            match swatch {
                Swatch::Line => area
                    .draw(&PathElement::new(vec![(*x, middle), (x + SWATCH, middle)], colour.stroke_width(3)))
                    .ok()?,
                Swatch::Block => {
                    area.draw(&Rectangle::new([(*x + 2, middle - 6), (x + 14, middle + 6)], colour.filled())).ok()?
                }
            }
            draw_text_lines(area, lines, (x + SWATCH + 6, *y))?;
        }
        Some(())
    }
}

/// Moves labels wanted at heights `wanted` (pixels, any order) apart by at least `gap`,
/// keeping their order and staying within `top..=bottom` when there is room.
pub fn nudge(wanted: &[i32], gap: i32, top: i32, bottom: i32) -> Vec<i32> {
    let mut order: Vec<usize> = (0..wanted.len()).collect();
    order.sort_by_key(|&i| wanted[i]);
    let mut placed: Vec<i32> = order.iter().map(|&i| wanted[i].clamp(top, bottom)).collect();
    for k in 1..placed.len() {
        placed[k] = placed[k].max(placed[k - 1] + gap);
    }
    if let Some(last) = placed.last_mut() {
        *last = (*last).min(bottom);
    }
    for k in (0..placed.len().saturating_sub(1)).rev() {
        placed[k] = placed[k].min(placed[k + 1] - gap);
    }
    if let Some(first) = placed.first_mut() {
        *first = (*first).max(top);
    }
    for k in 1..placed.len() {
        placed[k] = placed[k].max(placed[k - 1] + gap);
    }
    let mut result = vec![0; wanted.len()];
    for (k, &i) in order.iter().enumerate() {
        result[i] = placed[k];
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rendered text size of a drawing shown `shown` px wide.
    fn rendered(drawing: &Drawing, shown: u32) -> f64 {
        FONT * f64::from(shown) / f64::from(drawing.width)
    }

    #[test]
    fn text_is_legible_at_every_container_width_and_never_oversized() {
        // CSS shows COMPACT below BREAKPOINT (at most COMPACT_MAX wide) and WIDE from it (at most WIDE_MAX).
        for container in NARROWEST..=1920 {
            let (drawing, max) = if container < BREAKPOINT { (&COMPACT, COMPACT_MAX) } else { (&WIDE, WIDE_MAX) };
            let size = rendered(drawing, container.min(max));
            assert!(size >= LEGIBLE, "{size:.2} px at a {container} px container");
            assert!(size <= 20.0, "{size:.2} px at a {container} px container is oversized");
        }
        assert!(rendered(&COMPACT, NARROWEST) >= LEGIBLE && rendered(&WIDE, BREAKPOINT) >= LEGIBLE);
        // A 360 px phone: content 294 px wide.
        assert!((rendered(&COMPACT, 294) - 12.86).abs() < 0.01);
    }

    #[test]
    fn the_stylesheet_uses_the_same_breakpoint_and_caps() {
        let css = include_str!("../../static/css/gatelog.css");
        for rule in [
            format!("@container chart-drawings (min-width: {BREAKPOINT}px)"),
            format!(".chart-drawings > .chart-wide {{ display: none; max-width: {WIDE_MAX}px; }}"),
            format!(".chart-drawings > .chart-compact {{ max-width: {COMPACT_MAX}px; }}"),
            "container: chart-drawings / inline-size".to_owned(),
        ] {
            assert!(css.contains(&rule), "gatelog.css lacks `{rule}`");
        }
    }

    #[test]
    fn ticks_are_round_and_few() {
        assert_eq!(tick_step(100.0, 4), 25.0);
        assert_eq!(tick_step(100.0, 2), 50.0);
        assert_eq!(tick_step(7.0, 4), 2.0);
        assert_eq!(tick_step(2.7, 4), 1.0);
    }

    #[test]
    fn legends_wrap_within_the_drawing() {
        let labels =
            ["h100 · on_demand", "a100 · spot", "h100 · reserved", "Corvid GPU (demo) · nvidia-h100-80gb · on_demand"];
        let wide = Legend::new(&labels, WIDE.width, 8);
        let compact = Legend::new(&labels, COMPACT.width, 8);
        assert_eq!(wide.height(), 2 * ROW, "{wide:?}");
        assert!(compact.height() >= 4 * ROW, "{compact:?}");
        for legend in [&wide, &compact] {
            let width = if legend == &wide { WIDE.width } else { COMPACT.width };
            for (lines, (x, y)) in &legend.entries {
                for line in lines {
                    assert!(x + SWATCH + 6 + text_width(line) as i32 <= width as i32 - PAD, "{line}");
                }
                assert!(y + lines.len() as i32 * ROW as i32 <= 8 + legend.height() as i32);
            }
        }
        let (long, _) = &compact.entries[3];
        assert_eq!(long.join(" "), labels[3], "a long label wraps, whole");
    }

    #[test]
    fn nudged_labels_keep_their_order_and_do_not_overlap() {
        let placed = nudge(&[100, 102, 50, 101], 17, 0, 300);
        assert_eq!(placed[2], 50);
        let mut sorted = placed.clone();
        sorted.sort();
        assert!(sorted.windows(2).all(|w| w[1] - w[0] >= 17), "{placed:?}");
        assert!(placed[0] < placed[3] && placed[3] < placed[1], "order kept: {placed:?}");
        // Crowded at the bottom: pushed up, not out.
        let placed = nudge(&[298, 299, 300], 17, 0, 300);
        assert!(placed.iter().all(|y| (0..=300).contains(y)) && placed.contains(&300), "{placed:?}");
        assert_eq!(wrap("accepted of decided applications (%)", 200), ["accepted of decided", "applications (%)"]);
    }
}
