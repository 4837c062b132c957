//! Charts as SVG strings (plotters' SVG backend), pure: figures in, markup out.
//! Every chart has a `<title>` and `<desc>` for screen readers, labelled axes
//! with units, a legend, and the Okabe–Ito colour-blind-safe palette; the page
//! shows the same numbers as a table beside it.

use chrono::NaiveDate;
use plotters::prelude::*;

use crate::analytics::metrics::QueuePoint;

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

/// Chart size in CSS pixels (the SVG scales to its container).
const SIZE: (u32, u32) = (720, 360);

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Adds `<title>`, `<desc>`, a role and a scalable viewBox to plotters' `<svg>` element.
fn accessible(svg: String, title: &str, description: &str) -> String {
    let Some(open_end) = svg.find('>') else { return svg };
    let (open, rest) = svg.split_at(open_end);
    // plotters writes a viewBox; dropping its fixed width and height lets CSS scale the chart.
    let open =
        open.replacen(&format!(" width=\"{}\"", SIZE.0), "", 1).replacen(&format!(" height=\"{}\"", SIZE.1), "", 1);
    format!(
        "{open} role=\"img\" aria-labelledby=\"chart-title chart-desc\"><title id=\"chart-title\">{}</title><desc id=\"chart-desc\">{}</desc>{}",
        escape(title),
        escape(description),
        &rest[1..]
    )
}

/// Median wait (hours) per tier over time. `None` when there is nothing to draw.
pub fn queue_times(series: &[QueuePoint], title: &str) -> Option<String> {
    let first = series.iter().map(|p| p.period_start).min()?;
    let last = series.iter().map(|p| p.period_start).max()?;
    let last = if last == first { last + chrono::Days::new(31) } else { last };
    // Headroom above the highest line keeps the legend (upper left) off the data.
    let top = series.iter().map(|p| p.p50_seconds / 3600.0).fold(0.0, f64::max).max(0.1) * 1.45;
    let mut tiers: Vec<&str> = series.iter().map(|p| p.tier.as_str()).collect();
    tiers.sort_unstable();
    tiers.dedup();

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(first..last, 0.0..top)
            .ok()?;
        chart
            .configure_mesh()
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 15))
            .x_desc("period start")
            .y_desc("median wait (hours)")
            .x_labels(6)
            .x_label_formatter(&|d: &NaiveDate| d.format("%Y-%m").to_string())
            .y_label_formatter(&|h: &f64| format!("{h:.1}"))
            .light_line_style(RGBColor(235, 238, 241))
            .draw()
            .ok()?;
        for (i, tier) in tiers.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let points: Vec<(NaiveDate, f64)> =
                series.iter().filter(|p| p.tier == *tier).map(|p| (p.period_start, p.p50_seconds / 3600.0)).collect();
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .ok()?
                .label(tier.to_string())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3)));
        }
        chart
            .configure_series_labels()
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .ok()?;
        root.present().ok()?;
    }
    let description = format!(
        "Median wait in hours per access tier ({}), monthly from {} to {}.",
        tiers.join(", "),
        first.format("%Y-%m"),
        series.iter().map(|p| p.period_start).max().unwrap_or(first).format("%Y-%m")
    );
    Some(accessible(svg, title, &description))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(tier: &str, month: u32, hours: f64) -> QueuePoint {
        QueuePoint {
            tier: tier.into(),
            period_start: NaiveDate::from_ymd_opt(2026, month, 1).expect("date"),
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
        let svg = queue_times(&series, "Corvid <GPU> waits").expect("chart");
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        assert_eq!(svg.matches("viewBox=\"0 0 720 360\"").count(), 1);
        assert!(!svg[..svg.find('>').expect("tag")].contains("width="), "no fixed width: CSS scales the chart");
        assert!(svg.contains("<title id=\"chart-title\">Corvid &lt;GPU&gt; waits</title>"));
        assert!(svg.contains("<desc id=\"chart-desc\">Median wait in hours per access tier (newcomer, on_demand), monthly from 2026-01 to 2026-02.</desc>"));
        let texts: Vec<String> = svg
            .split("<text")
            .skip(1)
            .filter_map(|t| t.split_once('>').map(|(_, rest)| rest.split('<').next().unwrap_or("").trim().to_owned()))
            .collect();
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
        assert_eq!(queue_times(&[], "empty"), None);
    }
}
