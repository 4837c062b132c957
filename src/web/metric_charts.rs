//! The dashboards' charts: each metric's figures per month (queue times, prices) or per
//! category or provider (acceptance, lock-ups, capacity), for the filter in force.
//!
//! Monthly values are gathered in the same pass that reads the table's inputs
//! ([`super::metric_rows`]), from the same projection points or records, so a chart adds
//! no read of its own; the chart is drawn once per checkpoint and filter, with the table.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};

use super::format;
use super::metric_rows::{Monthly, Rows, SeriesMonths, capacity_rows, median};
use crate::analytics::Filter;
use crate::analytics::grades::NEWCOMER_CATEGORIES;
use crate::analytics::tables;
use crate::charts::{self, Bar, BarAxis, Frame, Line, ValueAxis};

/// A chart as a page shows it: the SVG, a caption saying what is drawn and for which
/// filter, and the figures drawn as a table (the chart's text alternative).
pub struct PageChart {
    /// The SVG markup (with its own title and description).
    pub svg: String,
    /// What the chart draws, with the filter.
    pub caption: String,
    /// The figures drawn.
    pub figures: Figures,
}

/// A chart's figures as a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figures {
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows of text.
    pub rows: Vec<Vec<String>>,
}

impl Figures {
    /// One row per month, one column per line (`—` where a line has no point).
    pub fn of_lines(lines: &[Line], decimals: usize) -> Self {
        let mut months: BTreeMap<NaiveDate, Vec<String>> = BTreeMap::new();
        for (i, line) in lines.iter().enumerate() {
            for (date, value) in &line.points {
                let row = months.entry(*date).or_insert_with(|| vec!["—".to_owned(); lines.len()]);
                row[i] = format!("{value:.decimals$}");
            }
        }
        // Monthly series read by month; filings on other days keep their date.
        let monthly = months.keys().all(|d| d.day() == 1);
        let (first, format) = if monthly { ("month", "%Y-%m") } else { ("date", "%Y-%m-%d") };
        let headers = std::iter::once(first.to_owned()).chain(lines.iter().map(|l| l.label.clone())).collect();
        let rows = months
            .into_iter()
            .map(|(date, cells)| std::iter::once(date.format(format).to_string()).chain(cells).collect())
            .collect();
        Self { headers, rows }
    }
}

/// Lines of monthly medians, one per series.
fn median_lines(series: &SeriesMonths) -> Vec<Line> {
    series
        .iter()
        .map(|(name, months)| Line {
            label: name.clone(),
            points: months
                .iter()
                .map(|(month, values)| {
                    let mut values = values.clone();
                    (*month, median(&mut values))
                })
                .collect(),
        })
        .collect()
}

/// The filter in words: "resource h100, region eu-fi, from 2026-01-01 to 2026-06-30".
pub fn filter_phrase(filter: &Filter) -> String {
    let mut parts = Vec::new();
    if let Some(resource) = &filter.resource {
        parts.push(format!("resource {resource}"));
    }
    if let Some(region) = &filter.region {
        parts.push(format!("region {region}"));
    }
    match (filter.from, filter.to) {
        (Some(from), Some(to)) => parts.push(format!("dates from {from} to {to}")),
        (Some(from), None) => parts.push(format!("dates from {from}")),
        (None, Some(to)) => parts.push(format!("dates up to {to}")),
        (None, None) => {}
    }
    if parts.is_empty() { "every resource, region and date".to_owned() } else { parts.join(", ") }
}

/// Lines drawn at most: more than this is a tangle on a phone; the rest stay in the table.
const MAX_LINES: usize = 6;
/// Bars drawn at most (the highest); the rest stay in the table.
const MAX_BARS: usize = 12;

/// The newest point of each line, in words.
fn latest_words(lines: &[Line], unit: &str, decimals: usize) -> String {
    lines
        .iter()
        .filter_map(|l| {
            let (date, value) = l.points.iter().max_by_key(|(d, _)| *d)?;
            Some(format!("{} {value:.decimals$}{unit} ({})", l.label, date.format("%Y-%m")))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The chart of dashboard `metric` for `filter`, or the sentence the page shows instead.
/// `names` maps provider slugs to display names.
pub fn dashboard_chart(
    metric: &str,
    filter: &Filter,
    rows: &Rows,
    names: &HashMap<&str, &str>,
) -> Result<PageChart, String> {
    let phrase = filter_phrase(filter);
    let id = format!("{metric}-chart");
    match metric {
        "queue-times" => queue_chart(&id, &phrase, &rows.monthly),
        "acceptance" => acceptance_chart(&id, &phrase, rows),
        "prices" => prices_chart(&id, &phrase, &rows.monthly),
        "lockups" => lockups_chart(&id, &phrase, rows, filter.to, names),
        "energy" => energy_chart(&id, &phrase, rows, names),
        _ => capacity_chart(&id, &phrase, &capacity_rows(rows), names),
    }
}

/// Per provider and period start, the grid intensity its energy was used at: location-based
/// intensity weighted by the energy of each site (Σ MWh × g/kWh ÷ Σ MWh).
fn energy_chart(id: &str, phrase: &str, rows: &Rows, names: &HashMap<&str, &str>) -> Result<PageChart, String> {
    use rust_decimal::prelude::ToPrimitive;
    let mut sums: BTreeMap<&str, BTreeMap<chrono::NaiveDate, (f64, f64)>> = BTreeMap::new();
    for (provider, e) in &rows.disclosures.energy {
        let mwh = e.energy_mwh.to_f64().unwrap_or(0.0);
        let intensity = e.grid_intensity_location_gco2e_per_kwh.to_f64().unwrap_or(0.0);
        let sum = sums.entry(provider.as_str()).or_default().entry(e.period_start).or_default();
        sum.0 += mwh * intensity;
        sum.1 += mwh;
    }
    let lines: Vec<Line> = sums
        .into_iter()
        .map(|(slug, points)| Line {
            label: names.get(slug).copied().unwrap_or(slug).to_owned(),
            points: points.into_iter().filter(|(_, (_, mwh))| *mwh > 0.0).map(|(d, (g, mwh))| (d, g / mwh)).collect(),
        })
        .collect();
    let description = format!(
        "Lines: per provider, the location-based grid carbon intensity its energy was used at, in gCO2e/kWh, weighted by each site's energy, per period, for {phrase}. Latest: {}.",
        latest_words(&lines, " gCO2e/kWh", 0)
    );
    let axis = ValueAxis { title: "grid intensity (gCO2e/kWh)", decimals: 0 };
    let svg = charts::lines(
        &Frame::inline(id, "Grid carbon intensity of the energy used, per provider"),
        &description,
        &axis,
        &lines,
    )
    .ok_or_else(|| nothing("energy filing", phrase))?;
    Ok(PageChart {
        svg,
        caption: format!(
            "Location-based grid intensity per provider and period, weighted by each site's energy, for {phrase}. The table below gives every filing with its emissions and carbon per accelerator-hour."
        ),
        figures: Figures::of_lines(&lines, 0),
    })
}

fn nothing(what: &str, phrase: &str) -> String {
    format!("No chart: no {what} matches this filter ({phrase}).")
}

fn queue_chart(id: &str, phrase: &str, monthly: &Monthly) -> Result<PageChart, String> {
    let lines = median_lines(&monthly.queue);
    let title = "Median wait per access tier, monthly, across providers";
    let description = format!(
        "Lines: monthly median of the reported median waits, in hours, per access tier ({}), across every provider's queue-time records for {phrase}. Latest: {}.",
        lines.iter().map(|l| l.label.as_str()).collect::<Vec<_>>().join(", "),
        latest_words(&lines, " h", 2)
    );
    let axis = ValueAxis { title: "median wait (hours)", decimals: 1 };
    let svg = charts::lines(&Frame::inline(id, title), &description, &axis, &lines)
        .ok_or_else(|| nothing("queue time", phrase))?;
    Ok(PageChart {
        svg,
        caption: format!(
            "Monthly median of the reported median waits per access tier, across every provider, for {phrase}. The table below gives each provider's median over the whole window."
        ),
        figures: Figures::of_lines(&lines, 2),
    })
}

fn prices_chart(id: &str, phrase: &str, monthly: &Monthly) -> Result<PageChart, String> {
    // One currency per axis: the one most prices use.
    let count = |series: &SeriesMonths| series.values().flat_map(|m| m.values()).map(Vec::len).sum::<usize>();
    let Some((currency, series)) = monthly.prices.iter().max_by_key(|(_, s)| count(s)) else {
        return Err(nothing("price", phrase));
    };
    let mut lines = median_lines(series);
    // The series with the most prices (the most common resource and model), in name order.
    let all = lines.len();
    if all > MAX_LINES {
        let size = |label: &str| series.get(label).map_or(0, |months| months.values().map(Vec::len).sum::<usize>());
        let mut ranked: Vec<(usize, String)> = lines.iter().map(|l| (size(&l.label), l.label.clone())).collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let keep: Vec<String> = ranked.into_iter().take(MAX_LINES).map(|(_, l)| l).collect();
        lines.retain(|l| keep.contains(&l.label));
    }
    let mut left_out = String::new();
    if all > lines.len() {
        left_out.push_str(&format!(
            " The {} series with the most prices are drawn; {} more are not (choose a resource to see its own).",
            lines.len(),
            all - lines.len()
        ));
    }
    if monthly.prices.len() > 1 {
        left_out.push_str(" Prices in other currencies are in the table only.");
    }
    let title = format!("Median price per accelerator-hour ({currency}), monthly, across providers");
    let description = format!(
        "Lines: monthly median price per accelerator-hour in {currency} per resource and pricing model, across every provider's prices for {phrase}. Latest: {}.{left_out}",
        latest_words(&lines, &format!(" {currency}"), 2)
    );
    let axis_title = format!("price per accelerator-hour ({currency})");
    let axis = ValueAxis { title: &axis_title, decimals: 2 };
    let svg = charts::lines(&Frame::inline(id, &title), &description, &axis, &lines)
        .ok_or_else(|| nothing("price", phrase))?;
    Ok(PageChart {
        svg,
        caption: format!(
            "Monthly median price per accelerator-hour in {currency} per resource and pricing model (by the month a price took effect), across every provider and region, for {phrase}.{left_out}"
        ),
        figures: Figures::of_lines(&lines, 2),
    })
}

fn acceptance_chart(id: &str, phrase: &str, rows: &Rows) -> Result<PageChart, String> {
    let rates = tables::acceptance_by_category(&rows.disclosures);
    let is_newcomer = |category: &str| NEWCOMER_CATEGORIES.contains(&category);
    // Newcomer categories first, so the gap reads top to bottom.
    let mut rates = rates;
    rates.sort_by_key(|r| !is_newcomer(&r.category));
    let bars: Vec<Bar> = rates
        .iter()
        .map(|r| Bar {
            label: r.category.clone(),
            value: r.rate().map(|rate| rate * 100.0),
            group: usize::from(is_newcomer(&r.category)),
            text: r.rate().map_or("no decisions".to_owned(), format::percent_from_share),
        })
        .collect();
    let words: Vec<String> = rates
        .iter()
        .map(|r| match r.rate() {
            Some(rate) => format!("{} {} of {}", r.category, format::percent_from_share(rate), r.accepted + r.rejected),
            None => format!("{} no decisions", r.category),
        })
        .collect();
    let title = "Acceptance per applicant category, across providers";
    let description = format!(
        "Bars: accepted share of decided applications per applicant category, summed over every provider, for {phrase}; newcomer categories in their own colour: {}.",
        words.join("; ")
    );
    let axis = BarAxis { title: "accepted of decided applications (%)", full: 100.0 };
    let svg = charts::bars(
        &Frame::inline(id, title),
        &description,
        &axis,
        &["other applicants", "newcomer categories"],
        &bars,
    )
    .ok_or_else(|| nothing("decided application", phrase))?;
    let figures = Figures {
        headers: ["applicant category", "group", "accepted", "decided", "acceptance rate"].map(str::to_owned).into(),
        rows: rates
            .iter()
            .zip(&bars)
            .map(|(r, bar)| {
                let group = if is_newcomer(&r.category) { "newcomer" } else { "other" };
                let decided = crate::analytics::add(r.accepted, r.rejected);
                vec![
                    r.category.clone(),
                    group.to_owned(),
                    r.accepted.to_string(),
                    decided.to_string(),
                    bar.text.clone(),
                ]
            })
            .collect(),
    };
    Ok(PageChart {
        svg,
        caption: format!(
            "Accepted ÷ (accepted + rejected) per applicant category, summed over every provider, for {phrase}; newcomer categories (student, first-time founder, civic) in orange."
        ),
        figures,
    })
}

/// Bars per provider, highest first, at most [`MAX_BARS`]: (provider, value, figures row).
fn top_providers(mut items: Vec<(String, f64, Vec<String>)>) -> (Vec<(String, f64, Vec<String>)>, usize) {
    items.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let all = items.len();
    items.truncate(MAX_BARS);
    (items, all)
}

/// Per provider: its name, its percentage and its table row.
type PercentItems = Vec<(String, f64, Vec<String>)>;

/// The providers with the highest percentages ([`top_providers`]), the words naming those
/// left out, and their bars.
fn percent_bars(items: PercentItems) -> (PercentItems, String, Vec<Bar>) {
    let (items, all) = top_providers(items);
    let left_out = left_out_words(all, items.len());
    let bars = items
        .iter()
        .map(|(name, value, _)| Bar {
            label: name.clone(),
            value: Some(*value),
            group: 0,
            text: format::percent(*value),
        })
        .collect();
    (items, left_out, bars)
}

fn left_out_words(all: usize, shown: usize) -> String {
    if all > shown {
        format!(" The {shown} highest of {all} providers are drawn; the table lists all.")
    } else {
        String::new()
    }
}

/// One provider's lock-ups in force at its latest capacity filing on or before the window's end.
#[derive(Debug, Clone, PartialEq)]
struct InForce {
    /// The filing date the deals are counted at.
    at: NaiveDate,
    /// Deals in force then (start ≤ `at` < end) and their accelerators.
    deals: usize,
    locked: u64,
    /// The provider's capacity filed on `at`.
    capacity: u64,
}

impl InForce {
    /// Locked ÷ capacity, in percent (`None` for zero capacity).
    fn percent(&self) -> Option<f64> {
        (self.capacity > 0).then(|| self.locked as f64 * 100.0 / self.capacity as f64)
    }
}

/// Per provider with deals in the table: what its deals hold at its latest capacity filing on
/// or before `end` (any, when `end` is `None`). Summing shares at each deal's start instead
/// would count deals that never overlapped and pass 100 %. Capacity on a date is the sum of
/// the filings of that date, as for each deal's share in the table. Providers with no
/// filing by then are left out (the table shows their deals without a share).
fn in_force_at_window_end(rows: &Rows, end: Option<NaiveDate>) -> BTreeMap<&str, InForce> {
    let mut deals: BTreeMap<&str, Vec<&crate::records::kinds::Lockup>> = BTreeMap::new();
    for (provider, lockup) in &rows.disclosures.lockups {
        deals.entry(provider.as_str()).or_default().push(lockup);
    }
    deals
        .into_iter()
        .filter_map(|(provider, lockups)| {
            let filings = rows.capacity.get(provider)?;
            let at = filings.iter().map(|(as_of, _)| *as_of).filter(|d| end.is_none_or(|end| *d <= end)).max()?;
            let capacity =
                crate::analytics::sum(filings.iter().filter(|(as_of, _)| *as_of == at).map(|(_, total)| *total));
            let in_force: Vec<_> =
                lockups.iter().filter(|l| l.start_date <= at && l.end_date.is_none_or(|e| at < e)).collect();
            let locked = crate::analytics::sum(in_force.iter().map(|l| l.accelerators));
            Some((provider, InForce { at, deals: in_force.len(), locked, capacity }))
        })
        .collect()
}

fn lockups_chart(
    id: &str,
    phrase: &str,
    rows: &Rows,
    end: Option<NaiveDate>,
    names: &HashMap<&str, &str>,
) -> Result<PageChart, String> {
    let mut over = Vec::new();
    let items = in_force_at_window_end(rows, end)
        .into_iter()
        .filter_map(|(slug, held)| {
            let percent = held.percent()?;
            let name = names.get(slug).copied().unwrap_or(slug).to_owned();
            if percent > 100.0 {
                over.push(name.clone());
            }
            let row = vec![
                name.clone(),
                held.at.to_string(),
                held.deals.to_string(),
                held.locked.to_string(),
                held.capacity.to_string(),
                format::percent(percent),
            ];
            Some((name, percent, row))
        })
        .collect();
    let (items, left_out, bars) = percent_bars(items);
    let words: Vec<String> =
        items.iter().map(|(name, value, row)| format!("{name} {} on {}", format::percent(*value), row[1])).collect();
    let over = if over.is_empty() {
        String::new()
    } else {
        format!(
            " Above 100 %: {} disclosed more accelerators in deals in force than capacity on that date.",
            over.join(", ")
        )
    };
    let when = end.map_or(String::new(), |end| format!(" on or before {end}"));
    let what = format!(
        "the accelerators of the deals in the table in force at its latest capacity filing{when} (started on or before it, not yet ended) ÷ its capacity filed that day"
    );
    let title = "Capacity held by deals in force, per provider";
    let description = format!("Bars: per provider, {what}, for {phrase}: {}.{over}{left_out}", words.join("; "));
    let axis = BarAxis { title: "held by deals in force (% of capacity)", full: 100.0 };
    let svg = charts::bars(&Frame::inline(id, title), &description, &axis, &["deals in force"], &bars)
        .ok_or_else(|| nothing("deal of a provider with a capacity filing", phrase))?;
    Ok(PageChart {
        svg,
        caption: format!("Per provider: {what}, for {phrase}.{over}{left_out}"),
        figures: Figures {
            headers: ["provider", "capacity filing", "deals in force", "accelerators held", "capacity", "share held"]
                .map(str::to_owned)
                .into(),
            rows: items.into_iter().map(|(_, _, row)| row).collect(),
        },
    })
}

fn capacity_chart(
    id: &str,
    phrase: &str,
    rows: &[(String, Vec<String>)],
    names: &HashMap<&str, &str>,
) -> Result<PageChart, String> {
    // From the table's own cells (accelerators, set-aside): points keep capacity as the
    // cells its row shows, so the chart sums exactly what the table lists.
    let mut by_provider: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (provider, cells) in rows {
        let number = |i: usize| cells.get(i).and_then(|c| c.parse::<u64>().ok()).unwrap_or(0);
        let entry = by_provider.entry(provider.as_str()).or_default();
        entry.0 = crate::analytics::add(entry.0, number(3));
        entry.1 = crate::analytics::add(entry.1, number(4));
    }
    let items = by_provider
        .into_iter()
        .filter(|(_, (total, _))| *total > 0)
        .map(|(slug, (total, set_aside))| {
            let name = names.get(slug).copied().unwrap_or(slug).to_owned();
            let share = set_aside as f64 * 100.0 / total as f64;
            (name.clone(), share, vec![name, total.to_string(), set_aside.to_string(), format::percent(share)])
        })
        .collect();
    let (items, left_out, bars) = percent_bars(items);
    let words: Vec<String> =
        items.iter().map(|(name, value, _)| format!("{name} {}", format::percent(*value))).collect();
    let title = "Capacity set aside for newcomers, per provider";
    let description = format!(
        "Bars: per provider, accelerators set aside for newcomers as a share of its accelerators, over the latest filing per resource and region, for {phrase}: {}.{left_out}",
        words.join("; ")
    );
    let axis = BarAxis { title: "newcomer set-aside (% of accelerators)", full: 100.0 };
    let svg = charts::bars(&Frame::inline(id, title), &description, &axis, &["latest filings"], &bars)
        .ok_or_else(|| nothing("capacity filing", phrase))?;
    Ok(PageChart {
        svg,
        caption: format!(
            "Per provider: newcomer set-aside ÷ accelerators, summed over the latest filing per resource and region in the table, for {phrase}.{left_out}"
        ),
        figures: Figures {
            headers: ["provider", "accelerators", "newcomer set-aside", "set-aside share"].map(str::to_owned).into(),
            rows: items.into_iter().map(|(_, _, row)| row).collect(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(month: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, month, 1).expect("date")
    }

    #[test]
    fn the_filter_is_said_in_words() {
        assert_eq!(filter_phrase(&Filter::default()), "every resource, region and date");
        let filter = Filter {
            resource: Some("h100".into()),
            region: None,
            from: NaiveDate::from_ymd_opt(2026, 1, 1),
            to: NaiveDate::from_ymd_opt(2026, 6, 30),
        };
        assert_eq!(filter_phrase(&filter), "resource h100, dates from 2026-01-01 to 2026-06-30");
    }

    #[test]
    fn monthly_medians_group_by_month_and_series() {
        let mut monthly = Monthly::default();
        let day = |m: u32, d: u32| NaiveDate::from_ymd_opt(2026, m, d).expect("date");
        monthly.queue("newcomer", day(3, 1), 3600);
        monthly.queue("newcomer", day(3, 15), 3 * 3600);
        monthly.queue("newcomer", day(4, 1), 7200);
        let lines = median_lines(&monthly.queue);
        assert_eq!(lines, [Line { label: "newcomer".into(), points: vec![(date(3), 2.0), (date(4), 2.0)] }]);
        monthly.price("h100\u{1f}eu-de\u{1f}spot", day(3, 2), "2.5 EUR");
        monthly.price("h100\u{1f}eu-fi\u{1f}spot", day(3, 9), "3.5 EUR");
        monthly.price("h100\u{1f}eu-fi\u{1f}spot", day(3, 9), "9 CHF");
        let eur = median_lines(&monthly.prices["EUR"]);
        assert_eq!(eur, [Line { label: "h100 · spot".into(), points: vec![(date(3), 3.0)] }]);
        assert_eq!(monthly.prices.len(), 2);
    }

    fn deal(accelerators: u64, start: &str, end: Option<&str>) -> crate::records::kinds::Lockup {
        let mut value = serde_json::json!({"kind": "lockup", "counterparty": "Buyer", "resource": "nvidia-h100-80gb",
            "region": "eu-de", "accelerators": accelerators, "start_date": start, "exclusivity": "exclusive",
            "disclosure_date": start});
        if let Some(end) = end {
            value["end_date"] = serde_json::json!(end);
        }
        match crate::records::Record::parse(value).expect("valid lock-up") {
            crate::records::Record::Lockup(l) => l,
            other => panic!("not a lock-up: {other:?}"),
        }
    }

    #[test]
    fn lockups_chart_draws_the_share_held_by_deals_in_force_at_the_window_end() {
        let day = |s: &str| s.parse::<NaiveDate>().expect("date");
        let mut rows = Rows::default();
        // Alpine: deals that never overlap; their shares at start (50 %, 60 %, 30 %) would sum past 100 %.
        for (start, end, n) in [
            ("2026-01-10", Some("2026-03-01"), 500),
            ("2026-04-01", None, 600),
            ("2026-05-01", Some("2026-06-01"), 300),
            ("2026-07-01", None, 100),
        ] {
            rows.disclosures.lockups.push(("alpine".into(), deal(n, start, end)));
        }
        rows.capacity.insert(
            "alpine".into(),
            vec![(day("2026-01-01"), 600), (day("2026-01-01"), 400), (day("2026-06-01"), 800)],
        );
        // Corvid disclosed more in deals than its capacity; Rhine filed no capacity at all.
        rows.disclosures.lockups.push(("corvid".into(), deal(150, "2026-01-15", None)));
        rows.capacity.insert("corvid".into(), vec![(day("2026-02-01"), 100), (day("2026-08-01"), 1000)]);
        rows.disclosures.lockups.push(("rhine".into(), deal(40, "2026-02-01", None)));
        let names = HashMap::from([("alpine", "Alpine (demo)"), ("corvid", "Corvid (demo)")]);
        let filter = Filter { to: Some(day("2026-06-30")), ..Filter::default() };
        let chart = dashboard_chart("lockups", &filter, &rows, &names).expect("chart");

        // The same figure, computed from the records: at the latest filing on or before the
        // window's end, deals with start ≤ date < end, over the capacity filed that day.
        let expected = |provider: &str| {
            let filings = &rows.capacity[provider];
            let at = filings.iter().map(|(d, _)| *d).filter(|d| *d <= day("2026-06-30")).max().expect("filing");
            let capacity: u64 = filings.iter().filter(|(d, _)| *d == at).map(|(_, n)| n).sum();
            let locked: u64 = rows
                .disclosures
                .lockups
                .iter()
                .filter(|(p, l)| p == provider && l.start_date <= at && l.end_date.is_none_or(|e| at < e))
                .map(|(_, l)| l.accelerators)
                .sum();
            (at, locked as f64 * 100.0 / capacity as f64)
        };
        let (alpine_at, alpine) = expected("alpine");
        let (corvid_at, corvid) = expected("corvid");
        assert_eq!((alpine_at, alpine), (day("2026-06-01"), 75.0), "only the open deal from April is in force");
        assert_eq!(corvid, 150.0);
        assert_eq!(
            chart.figures.rows,
            [
                vec!["Corvid (demo)", &corvid_at.to_string(), "1", "150", "100", "150.0 %"],
                vec!["Alpine (demo)", &alpine_at.to_string(), "1", "600", "800", "75.0 %"],
            ],
            "Rhine, with no capacity filing, has no share"
        );
        let desc = chart.svg.split("<desc").nth(1).expect("desc");
        assert!(desc.contains("in force at its latest capacity filing on or before 2026-06-30"), "{desc}");
        assert!(desc.contains(": Corvid (demo) 150.0 % on 2026-02-01; Alpine (demo) 75.0 % on 2026-06-01."), "{desc}");
        assert!(desc.contains("Above 100 %: Corvid (demo) disclosed more"), "{desc}");
        assert!(chart.caption.contains("÷ its capacity filed that day") && chart.caption.contains("Above 100 %"));
        assert!(!chart.caption.contains("summed"));
    }

    #[test]
    fn figures_of_lines_are_one_row_per_month() {
        let lines = [
            Line { label: "a".into(), points: vec![(date(1), 1.0), (date(2), 2.0)] },
            Line { label: "b".into(), points: vec![(date(2), 0.5)] },
        ];
        let figures = Figures::of_lines(&lines, 1);
        assert_eq!(figures.headers, ["month", "a", "b"]);
        assert_eq!(figures.rows, [vec!["2026-01", "1.0", "—"], vec!["2026-02", "2.0", "0.5"]]);
    }
}
