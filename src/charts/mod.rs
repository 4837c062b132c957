//! Charts as SVG strings (plotters' SVG backend), pure: figures in, markup out.
//! An inline chart is drawn twice, wide and compact, and the stylesheet shows the one
//! whose text stays legible at the container's width (see `layout`).
//! Every chart has a `<title>` and `<desc>` for screen readers (with ids unique
//! on the page), labelled axes with units, a legend, and the Okabe–Ito
//! colour-blind-safe palette; the page shows the same numbers as a table beside
//! it. A standalone (embeddable) chart carries its caption, source and
//! checkpoint inside the SVG, since it travels without the page.

mod bars;
mod layout;
mod lines;

pub use bars::{Bar, BarAxis, acceptance, bars};
pub use lines::{Line, ValueAxis, capacity_shares, lines, prices, queue_times};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use layout::{COMPACT, Drawing, WIDE};

/// Okabe–Ito: distinguishable with the common colour-vision deficiencies.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(230, 159, 0),
    RGBColor(0, 0, 0),
];

/// Height of one caption line of a standalone chart.
const CAPTION_LINE: u32 = 20;

/// What frames a chart: its id on the page, its title, and (standalone only) caption lines.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Prefix of the `<title>`/`<desc>` ids, unique on the page.
    pub id: &'a str,
    /// The chart's title (read by screen readers, shown by browsers on hover).
    pub title: &'a str,
    /// Lines drawn under a standalone chart: source, checkpoint, link.
    pub caption: &'a [String],
}

impl<'a> Frame<'a> {
    /// A chart shown inline, whose page carries the caption.
    pub fn inline(id: &'a str, title: &'a str) -> Self {
        Self { id, title, caption: &[] }
    }

    fn caption_height(&self) -> u32 {
        let caption = self.caption.len() as u32;
        if caption == 0 { 0 } else { caption * CAPTION_LINE + 8 }
    }
}

/// The drawing area of a chart.
type Area<'b> = DrawingArea<SVGBackend<'b>, Shift>;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Draws a chart. Inline, it is two drawings in one container, a wide one and a compact
/// one, of which the stylesheet shows one by the container's width, so text is never
/// scaled below `layout::LEGIBLE` (issue 18). Standalone (with a caption), it is the wide
/// drawing alone with its caption lines below. `height` says how tall the chart is in
/// a drawing, `plot` draws it. `None` if plotters fails or `plot` has nothing to draw.
fn render(
    frame: &Frame<'_>,
    description: &str,
    height: impl Fn(&Drawing) -> u32,
    plot: impl Fn(&Area<'_>, &Drawing) -> Option<()>,
) -> Option<String> {
    if !frame.caption.is_empty() {
        return draw(frame, None, description, &height, &plot);
    }
    let wide = draw(frame, Some(&WIDE), description, &height, &plot)?;
    let compact = draw(frame, Some(&COMPACT), description, &height, &plot)?;
    Some(format!("<div class=\"chart-drawings\">{wide}{compact}</div>"))
}

/// One `<svg>`: `variant` is an inline drawing, `None` the standalone one.
fn draw(
    frame: &Frame<'_>,
    variant: Option<&Drawing>,
    description: &str,
    height: &impl Fn(&Drawing) -> u32,
    plot: &impl Fn(&Area<'_>, &Drawing) -> Option<()>,
) -> Option<String> {
    let drawing = variant.unwrap_or(&WIDE);
    let chart_height = height(drawing);
    let size = (drawing.width, chart_height + frame.caption_height());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let (chart_area, caption_area) = root.split_vertically(chart_height);
        plot(&chart_area, drawing)?;
        for (i, line) in frame.caption.iter().enumerate() {
            let y = 4 + i as i32 * CAPTION_LINE as i32 + CAPTION_LINE as i32 / 2;
            caption_area.draw(&Text::new(line.as_str(), (12, y), layout::text(HPos::Left, VPos::Center))).ok()?;
        }
        root.present().ok()?;
    }
    let id = format!("{}{}", frame.id, variant.map_or("", |d| d.id_suffix));
    Some(accessible(svg, &id, variant.map(|d| d.class), frame.title, size, description))
}

/// Adds `<title>`, `<desc>`, a role, a class and a scalable viewBox to plotters' `<svg>` element.
fn accessible(svg: String, id: &str, class: Option<&str>, title: &str, size: (u32, u32), description: &str) -> String {
    let Some(open_end) = svg.find('>') else { return svg };
    let (open, rest) = svg.split_at(open_end);
    // plotters writes a viewBox; dropping its fixed width and height lets CSS scale the chart.
    let open =
        open.replacen(&format!(" width=\"{}\"", size.0), "", 1).replacen(&format!(" height=\"{}\"", size.1), "", 1);
    let class = class.map_or(String::new(), |c| format!(" class=\"{c}\""));
    let id = escape(id);
    format!(
        "{open}{class} role=\"img\" aria-labelledby=\"{id}-title {id}-desc\"><title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>{}",
        escape(title),
        escape(description),
        &rest[1..]
    )
}

/// The visible strings of an SVG's `<text>` elements (for tests).
#[cfg(test)]
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| t.split_once('>').map(|(_, rest)| rest.split('<').next().unwrap_or("").trim().to_owned()))
        .collect()
}

/// The `<svg>` elements of a chart's markup, each whole (for tests).
#[cfg(test)]
fn drawings(markup: &str) -> Vec<&str> {
    markup
        .match_indices("<svg")
        .map(|(at, _)| &markup[at..at + markup[at..].find("</svg>").expect("closed") + 6])
        .collect()
}

/// The values of attribute `name` on elements whose tag starts `<tag`, in order (for tests).
#[cfg(test)]
fn attributes<'s>(svg: &'s str, tag: &str, name: &str) -> Vec<&'s str> {
    let needle = format!(" {name}=\"");
    svg.split(&format!("<{tag}"))
        .skip(1)
        .filter_map(|t| {
            let element = &t[..t.find('>')?];
            let start = element.find(&needle)? + needle.len();
            Some(&element[start..start + element[start..].find('"')?])
        })
        .collect()
}

/// Checks what every inline chart must be: a wide and a compact drawing of the sizes CSS
/// expects, every text legible at the scale each is shown at, and ids unique.
#[cfg(test)]
fn assert_legible_pair(markup: &str) {
    use layout::{BREAKPOINT, FONT, LEGIBLE, NARROWEST};
    assert!(markup.starts_with("<div class=\"chart-drawings\"><svg"), "{}", &markup[..80]);
    let svgs = drawings(markup);
    assert_eq!(svgs.len(), 2);
    for (svg, drawing, narrowest) in [(svgs[0], WIDE, BREAKPOINT), (svgs[1], COMPACT, NARROWEST)] {
        let open = &svg[..svg.find('>').expect("tag")];
        assert!(open.contains(&format!("viewBox=\"0 0 {} ", drawing.width)), "{open}");
        assert!(open.contains(&format!("class=\"{}\"", drawing.class)), "{open}");
        assert!(!open.contains(" width="), "no fixed width: CSS scales the chart");
        let sizes: Vec<f64> = attributes(svg, "text", "font-size").iter().map(|s| s.parse().expect("number")).collect();
        assert!(!sizes.is_empty());
        for size in sizes {
            // Shown no narrower than `narrowest` px, so scaled by at least narrowest / width.
            let rendered = size * f64::from(narrowest) / f64::from(drawing.width);
            assert!(rendered >= LEGIBLE, "{size} px text in the {} drawing renders at {rendered:.2} px", drawing.class);
            assert!((size - FONT).abs() < 0.01, "one text size: {size}");
        }
    }
    let mut ids = attributes(markup, "title", "id");
    ids.extend(attributes(markup, "desc", "id"));
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!((ids.len(), count), (4, 4), "unique ids: {ids:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standalone_chart_is_one_drawing_that_carries_its_caption_and_grows_to_fit_it() {
        let caption = ["Source: Gatelog".to_owned(), "Checkpoint 42 & more".to_owned()];
        let frame = Frame { id: "c", title: "T", caption: &caption };
        let svg = render(&frame, "d", |_| 360, |area, _| area.fill(&WHITE).ok()).expect("svg");
        assert!(svg.starts_with("<svg") && svg.contains("viewBox=\"0 0 720 408\""), "{}", &svg[..120]);
        assert_eq!(drawings(&svg).len(), 1);
        let texts = texts(&svg);
        assert!(
            texts.contains(&"Source: Gatelog".to_owned()) && texts.contains(&"Checkpoint 42 &amp; more".to_owned())
        );
        assert!(svg.contains("aria-labelledby=\"c-title c-desc\""));
    }

    #[test]
    fn an_inline_chart_carries_a_wide_and_a_compact_drawing_with_their_own_ids() {
        let markup = render(
            &Frame::inline("x", "T"),
            "d",
            |d| d.width / 2,
            |area, _| area.draw(&Text::new("label", (10, 10), layout::text(HPos::Left, VPos::Center))).ok(),
        )
        .expect("chart");
        assert_legible_pair(&markup);
        let svgs = drawings(&markup);
        assert!(svgs[0].contains("viewBox=\"0 0 720 360\"") && svgs[1].contains("viewBox=\"0 0 320 160\""));
        assert!(svgs[0].contains("aria-labelledby=\"x-title x-desc\""));
        assert!(svgs[1].contains("aria-labelledby=\"x-compact-title x-compact-desc\""));
    }

    #[test]
    fn nothing_drawn_means_no_chart() {
        assert_eq!(render(&Frame::inline("x", "t"), "d", |_| 100, |_, _| None), None);
    }
}
