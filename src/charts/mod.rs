//! Charts as SVG strings (plotters' SVG backend), pure: figures in, markup out.
//! Every chart has a `<title>` and `<desc>` for screen readers (with ids unique
//! on the page), labelled axes with units, a legend, and the Okabe–Ito
//! colour-blind-safe palette; the page shows the same numbers as a table beside
//! it. A standalone (embeddable) chart carries its caption, source and
//! checkpoint inside the SVG, since it travels without the page.

mod bars;
mod lines;

pub use bars::{Bar, BarAxis, acceptance, bars};
pub use lines::{Line, ValueAxis, capacity_shares, lines, prices, queue_times};

use plotters::coord::Shift;
use plotters::prelude::*;

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

/// Plot size in CSS pixels (the SVG scales to its container).
const SIZE: (u32, u32) = (720, 360);
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

    fn height(&self) -> u32 {
        let caption = self.caption.len() as u32;
        SIZE.1 + if caption == 0 { 0 } else { caption * CAPTION_LINE + 8 }
    }
}

/// The drawing area of a chart.
type Area<'b> = DrawingArea<SVGBackend<'b>, Shift>;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Draws a chart: `plot` fills the plot area; caption lines go below it.
/// `None` if plotters fails or `plot` has nothing to draw.
fn render(frame: &Frame<'_>, description: &str, plot: impl FnOnce(&Area<'_>) -> Option<()>) -> Option<String> {
    let size = (SIZE.0, frame.height());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let (chart_area, caption_area) = root.split_vertically(SIZE.1);
        plot(&chart_area)?;
        let style = ("sans-serif", 13).into_font().color(&RGBColor(60, 60, 60));
        for (i, line) in frame.caption.iter().enumerate() {
            let y = 4 + i as i32 * CAPTION_LINE as i32;
            caption_area.draw(&Text::new(line.as_str(), (12, y), style.clone())).ok()?;
        }
        root.present().ok()?;
    }
    Some(accessible(svg, frame, size, description))
}

/// Adds `<title>`, `<desc>`, a role and a scalable viewBox to plotters' `<svg>` element.
fn accessible(svg: String, frame: &Frame<'_>, size: (u32, u32), description: &str) -> String {
    let Some(open_end) = svg.find('>') else { return svg };
    let (open, rest) = svg.split_at(open_end);
    // plotters writes a viewBox; dropping its fixed width and height lets CSS scale the chart.
    let open =
        open.replacen(&format!(" width=\"{}\"", size.0), "", 1).replacen(&format!(" height=\"{}\"", size.1), "", 1);
    let id = escape(frame.id);
    format!(
        "{open} role=\"img\" aria-labelledby=\"{id}-title {id}-desc\"><title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>{}",
        escape(frame.title),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standalone_chart_carries_its_caption_and_grows_to_fit_it() {
        let caption = ["Source: Gatelog".to_owned(), "Checkpoint 42 & more".to_owned()];
        let frame = Frame { id: "c", title: "T", caption: &caption };
        let svg = render(&frame, "d", |area| area.fill(&WHITE).ok()).expect("svg");
        assert!(svg.contains("viewBox=\"0 0 720 408\""), "{}", &svg[..120]);
        let texts = texts(&svg);
        assert!(
            texts.contains(&"Source: Gatelog".to_owned()) && texts.contains(&"Checkpoint 42 &amp; more".to_owned())
        );
        assert!(svg.contains("aria-labelledby=\"c-title c-desc\""));
    }

    #[test]
    fn nothing_drawn_means_no_chart() {
        assert_eq!(render(&Frame::inline("x", "t"), "d", |_| None), None);
    }
}
