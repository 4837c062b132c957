//! The compare page's charts: per metric, both providers on the same axes, from the same
//! per-provider figures their scorecards draw ([`ProviderFigures`]).

use std::collections::BTreeMap;

use super::format;
use super::metric_charts::{Figures, PageChart};
use crate::analytics::grades::NEWCOMER_CATEGORIES;
use crate::charts::{self, Bar, BarAxis, Frame, Line, ValueAxis};
use crate::projection::summary::ProviderFigures;

/// One provider of the comparison: its display name and figures.
pub type Party<'a> = (&'a str, &'a ProviderFigures);

/// One metric compared: its heading and chart, or why there is none.
pub struct ComparedChart {
    /// The section heading.
    pub heading: &'static str,
    /// The chart, or the sentence shown instead.
    pub chart: Result<PageChart, String>,
}

/// Every metric compared, in page order.
pub fn compare_charts(a: Party<'_>, b: Party<'_>) -> Vec<ComparedChart> {
    let both = format!("{} and {}", a.0, b.0);
    let none = |what: &str| format!("Neither {both} has disclosed {what}, so there is nothing to draw.");
    vec![
        ComparedChart { heading: "Queue waits", chart: waits(a, b, &both).ok_or_else(|| none("queue times")) },
        ComparedChart {
            heading: "Acceptance",
            chart: acceptance(a, b, &both).ok_or_else(|| none("decided applications")),
        },
        ComparedChart { heading: "Prices", chart: prices(a, b, &both).ok_or_else(|| none("prices")) },
        ComparedChart { heading: "Lock-ups", chart: lockups(a, b, &both).ok_or_else(|| none("capacity filings")) },
    ]
}

/// The tiers the waits chart draws: a newcomer's wait against everyone's on demand is the
/// comparison that matters, and ten lines (five tiers each) would reuse colours.
const WAIT_TIERS: [&str; 2] = ["newcomer", "on_demand"];

fn waits(a: Party<'_>, b: Party<'_>, both: &str) -> Option<PageChart> {
    let mut lines = Vec::new();
    let mut others = std::collections::BTreeSet::new();
    for (name, figures) in [a, b] {
        let mut tiers: BTreeMap<&str, Vec<_>> = BTreeMap::new();
        for p in &figures.queue {
            if WAIT_TIERS.contains(&p.tier.as_str()) {
                tiers.entry(p.tier.as_str()).or_default().push((p.period_start, p.p50_seconds / 3600.0));
            } else {
                others.insert(p.tier.as_str());
            }
        }
        lines.extend(tiers.into_iter().map(|(tier, points)| Line { label: format!("{name} · {tier}"), points }));
    }
    let mut more = String::new();
    if !others.is_empty() {
        let others: Vec<&str> = others.into_iter().collect();
        more = format!(" Other tiers ({}) are on the scorecards.", others.join(", "));
    }
    let title = format!("Median wait, newcomer and on-demand tiers: {both}");
    let description = format!(
        "Lines: median wait in hours per month for the newcomer and on-demand tiers, {both} on the same axes ({}).{more}",
        labels(&lines)
    );
    let caption = format!(
        "Median wait of the newcomer and on-demand tiers, monthly (median across each provider's resources and regions), {both}.{more}"
    );
    let axis = ValueAxis { title: "median wait (hours)", decimals: 1 };
    line_chart(Frame::inline("compare-waits", &title), &description, &axis, &lines, caption, 2)
}

fn acceptance(a: Party<'_>, b: Party<'_>, both: &str) -> Option<PageChart> {
    let mut categories: Vec<&str> = a.1.acceptance.iter().chain(&b.1.acceptance).map(|r| r.category.as_str()).collect();
    categories.sort_by_key(|c| (!NEWCOMER_CATEGORIES.contains(c), *c));
    categories.dedup();
    let mut bars = Vec::new();
    let mut rows = Vec::new();
    for category in categories {
        for (group, (name, figures)) in [a, b].into_iter().enumerate() {
            let reported = figures.acceptance.iter().find(|r| r.category == category);
            let rate = reported.and_then(|r| r.rate());
            let text = match (reported, rate) {
                (_, Some(rate)) => format::percent_from_share(rate),
                (Some(_), None) => "no decisions".to_owned(),
                (None, None) => "not disclosed".to_owned(),
            };
            rows.push(vec![category.to_owned(), name.to_owned(), text.clone()]);
            bars.push(Bar { label: category.to_owned(), value: rate.map(|r| r * 100.0), group, text });
        }
    }
    let words: Vec<String> = rows.iter().map(|r| format!("{} {} {}", r[1], r[0], r[2])).collect();
    let title = format!("Acceptance per applicant category: {both}");
    let description = format!(
        "Bars: accepted share of decided applications per applicant category, newcomer categories first, {both} side by side: {}.",
        words.join("; ")
    );
    let axis = BarAxis { title: "accepted of decided applications (%)", full: 100.0 };
    let svg = charts::bars(&Frame::inline("compare-acceptance", &title), &description, &axis, &[a.0, b.0], &bars)?;
    Some(PageChart {
        svg,
        caption: format!(
            "Accepted ÷ (accepted + rejected) per applicant category over all tracks and periods, {both}; newcomer categories (student, first-time founder, civic) first."
        ),
        figures: Figures {
            headers: ["applicant category", "provider", "acceptance rate"].map(str::to_owned).into(),
            rows,
        },
    })
}

/// Price series drawn per provider at most: both providers' lines on one axis stay legible.
const PRICE_SERIES: usize = 2;

fn prices(a: Party<'_>, b: Party<'_>, both: &str) -> Option<PageChart> {
    // One currency per axis: the one most of both providers' prices use.
    let mut currencies: BTreeMap<&str, usize> = BTreeMap::new();
    for p in a.1.prices.iter().chain(&b.1.prices) {
        *currencies.entry(p.currency.as_str()).or_default() += 1;
    }
    let currency = currencies.iter().max_by_key(|(_, n)| **n).map(|(c, _)| *c)?;
    // The series both disclose come first (they compare like with like), then the longest.
    let series_of = |f: &ProviderFigures| -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for p in f.prices.iter().filter(|p| p.currency == currency) {
            *out.entry(p.series.clone()).or_insert(0) += 1;
        }
        out
    };
    let (sa, sb) = (series_of(a.1), series_of(b.1));
    let mut lines = Vec::new();
    let mut left_out = 0;
    for ((name, figures), mine, theirs) in [(a, &sa, &sb), (b, &sb, &sa)] {
        let mut ranked: Vec<(&String, &usize)> = mine.iter().collect();
        ranked.sort_by_key(|(s, n)| (!theirs.contains_key(*s), std::cmp::Reverse(**n), (*s).clone()));
        left_out += ranked.len().saturating_sub(PRICE_SERIES);
        for (series, _) in ranked.into_iter().take(PRICE_SERIES) {
            let points = figures
                .prices
                .iter()
                .filter(|p| p.currency == currency && &p.series == series)
                .map(|p| (p.month, p.price))
                .collect();
            lines.push(Line { label: format!("{name} · {series}"), points });
        }
    }
    let mut more = String::new();
    if left_out > 0 {
        more.push_str(&format!(" {left_out} more series are on the scorecards."));
    }
    // Two currencies cannot share an axis: a provider with no price in this one is named.
    for ((name, figures), mine) in [(a, &sa), (b, &sb)] {
        if mine.is_empty() && !figures.prices.is_empty() {
            let theirs: std::collections::BTreeSet<&str> = figures.prices.iter().map(|p| p.currency.as_str()).collect();
            let theirs: Vec<&str> = theirs.into_iter().collect();
            more.push_str(&format!(
                " {name} discloses prices in {} only, not drawn on this {currency} axis; see its scorecard.",
                theirs.join(", ")
            ));
        }
    }
    if currencies.len() > 1 && !sa.is_empty() && !sb.is_empty() {
        more.push_str(" Prices in other currencies are on the scorecards.");
    }
    let title = format!("Price per accelerator-hour ({currency}): {both}");
    let description = format!(
        "Lines: monthly median price per accelerator-hour in {currency} per resource and pricing model, {both} on the same axes ({}).{more}",
        labels(&lines)
    );
    let axis_title = format!("price per accelerator-hour ({currency})");
    let axis = ValueAxis { title: &axis_title, decimals: 2 };
    let caption = format!(
        "Monthly median price per accelerator-hour in {currency} across regions, per resource and pricing model (series both disclose first), {both}.{more}"
    );
    line_chart(Frame::inline("compare-prices", &title), &description, &axis, &lines, caption, 2)
}

fn lockups(a: Party<'_>, b: Party<'_>, both: &str) -> Option<PageChart> {
    // The locked-up share only: the set-aside is in the table above, and four lines would
    // put one provider's flat zero on top of the other's.
    let lines: Vec<Line> = [a, b]
        .into_iter()
        .map(|(name, figures)| Line {
            label: format!("{name} · locked up"),
            points: figures.capacity.iter().filter_map(|p| Some((p.as_of, p.locked_share()? * 100.0))).collect(),
        })
        .collect();
    let title = format!("Capacity locked up by deals: {both}");
    let description = format!(
        "Lines: percent of disclosed capacity locked up by deals in force, at each capacity filing, {both} on the same axes ({}).",
        labels(&lines)
    );
    let axis = ValueAxis { title: "locked up (% of capacity)", decimals: 0 };
    let caption = format!(
        "At each capacity filing: the share of capacity held by deals in force, {both}. The newcomer set-aside is in the table above."
    );
    line_chart(Frame::inline("compare-lockups", &title), &description, &axis, &lines, caption, 1)
}

/// `lines` drawn in `frame` with their caption, and tabled with `decimals` decimals; none
/// when no line has a point.
fn line_chart(
    frame: Frame<'_>,
    description: &str,
    axis: &ValueAxis<'_>,
    lines: &[Line],
    caption: String,
    decimals: usize,
) -> Option<PageChart> {
    let svg = charts::lines(&frame, description, axis, lines)?;
    Some(PageChart { svg, caption, figures: Figures::of_lines(lines, decimals) })
}

fn labels(lines: &[Line]) -> String {
    lines.iter().filter(|l| !l.points.is_empty()).map(|l| l.label.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::tables::AcceptanceRate;

    fn figures(rates: &[(&str, u64, u64)]) -> ProviderFigures {
        let acceptance = rates
            .iter()
            .map(|(category, accepted, rejected)| AcceptanceRate {
                category: (*category).into(),
                received: accepted + rejected,
                accepted: *accepted,
                rejected: *rejected,
            })
            .collect();
        ProviderFigures { acceptance, ..ProviderFigures::default() }
    }

    /// The strings of an SVG's `<text>` elements.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| t.split_once('>').map(|(_, rest)| rest.split('<').next().unwrap_or("").trim().to_owned()))
            .collect()
    }

    #[test]
    fn acceptance_names_each_category_once_in_both_drawings() {
        let corvid = figures(&[("student", 2, 6), ("enterprise", 9, 1), ("civic", 1, 1)]);
        let rhine = figures(&[("student", 5, 5), ("enterprise", 3, 1)]);
        let chart = acceptance(("Corvid", &corvid), ("Rhine", &rhine), "Corvid and Rhine").expect("chart");
        let compact = &chart.svg[chart.svg.find("class=\"chart-compact\"").expect("compact drawing")..];
        for svg in [&chart.svg[..chart.svg.find("class=\"chart-compact\"").expect("compact")], compact] {
            let texts = texts(svg);
            // Labels, figures and legend: none repeated except the figures themselves.
            let labels: Vec<&String> = texts
                .iter()
                .filter(|t| ["student", "enterprise", "civic", "Corvid", "Rhine"].contains(&t.as_str()))
                .collect();
            let mut unique = labels.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(labels.len(), unique.len(), "repeated labels: {texts:?}");
            assert_eq!(labels.len(), 5, "{texts:?}");
        }
        // Both providers' figures are still drawn under each category, and the table keeps one row per pair.
        assert!(texts(compact).iter().any(|t| t == "25.0 %") && texts(compact).iter().any(|t| t == "50.0 %"));
        assert_eq!(chart.figures.rows.len(), 6);
    }
}
