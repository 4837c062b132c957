//! Disclosures in words: the figure a record states, its period, and whether it amends an
//! earlier entry. One wording for every place that lists disclosures (the Atom feeds, the
//! home page, the ledger's newest entries, a scorecard's filings), so a reader meets the
//! same sentence wherever the entry appears.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use super::format;
use crate::db;
use crate::db::ledger::EntrySummary;
use crate::records::Record;
use crate::records::kinds::{ApplicantCategory, Exclusivity, PricingModel, Tier, Track};

/// A ledger entry as a list shows it: what the entry is, and what it states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    /// Entry index.
    pub index: u64,
    /// Provider slug.
    pub provider: String,
    /// The provider's display name (its slug if it is not registered).
    pub name: String,
    /// Record kind as the entry names it.
    pub kind: String,
    /// When the ledger accepted it.
    pub received_at: DateTime<Utc>,
    /// The entry it amends.
    pub supersedes: Option<u64>,
    /// Whether the provider signed the record.
    pub signed: bool,
    /// The figure and period it states, without the provider's name ([`figure_and_detail`]).
    pub figure: String,
}

/// The given entries (newest first, say) with the figure each states: their records are
/// read by index (one statement for all of them) and decoded the one way every reader
/// decodes them ([`Record::from_entry`]). Meant for short lists: it reads each entry.
pub async fn described(conn: &mut PgConnection, entries: &[EntrySummary]) -> Result<Vec<Described>, sqlx::Error> {
    let indexes: Vec<u64> = entries.iter().map(|e| e.index).collect();
    let rows = db::ledger::entries_by_index(conn, &indexes).await?;
    let values: Vec<serde_json::Value> =
        rows.iter().map(|row| serde_json::from_slice(&row.bytes).unwrap_or(serde_json::Value::Null)).collect();
    // Filers, and the providers that reports are about, named in one statement.
    let mut slugs: Vec<&str> = entries.iter().map(|e| e.provider.as_str()).collect();
    slugs.extend(values.iter().filter_map(|value| value["record"]["about"].as_str()));
    slugs.sort_unstable();
    slugs.dedup();
    let names = db::providers::display_names(conn, &slugs).await?;
    let figures: HashMap<u64, String> = rows
        .iter()
        .zip(&values)
        .map(|(row, value)| {
            let filer = names.get(&row.provider).map_or(row.provider.as_str(), String::as_str);
            let figure = match third_party_words(&row.kind, filer, &value["record"], &names) {
                Some((title, _)) => title,
                None => match Record::from_entry(&row.kind, value["record"].clone()) {
                    Ok(record) => figure_and_detail(&row.provider, &record).0,
                    Err(_) => unreadable_figure(&row.kind),
                },
            };
            (row.index, figure)
        })
        .collect();
    Ok(entries
        .iter()
        .map(|e| Described {
            index: e.index,
            provider: e.provider.clone(),
            name: names.get(&e.provider).cloned().unwrap_or_else(|| e.provider.clone()),
            kind: e.kind.clone(),
            received_at: e.received_at,
            supersedes: e.supersedes,
            signed: e.signed,
            figure: figures.get(&e.index).cloned().unwrap_or_else(|| unreadable_figure(&e.kind)),
        })
        .collect())
}

/// What an entry whose record no longer decodes states: that it does not, never a guess.
pub fn unreadable_figure(kind: &str) -> String {
    format!("an entry ({kind}) that no longer decodes under today's rules")
}

/// The title and summary of a third-party entry (a report, or a provider's answer to one),
/// or `None` for any other kind. `filer` is the display name of the entry's filer (the
/// reporter of a report, the provider of an answer); `names` gives providers' display names
/// by slug, for the provider a report is about. A report or answer that no longer decodes
/// says so, like any other entry.
pub fn third_party_words(
    kind: &str,
    filer: &str,
    record: &serde_json::Value,
    names: &HashMap<String, String>,
) -> Option<(String, String)> {
    use crate::records::reports::{ANSWER, Answer, REPORT, Report, ReportedKind, Response};
    let text = |fields: &serde_json::Map<String, serde_json::Value>, key: &str| {
        fields.get(key).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
    };
    match kind {
        REPORT => Some(match Report::from_entry(record.clone()) {
            Ok(report) => {
                let about = names.get(report.about.as_str()).map_or(report.about.as_str(), String::as_str);
                let what = match report.reported_kind {
                    ReportedKind::Lockup => match text(&report.fields, "counterparty") {
                        Some(counterparty) => format!("{about}'s lock-up with {counterparty}"),
                        None => format!("a lock-up by {about}"),
                    },
                    ReportedKind::Price => {
                        match (text(&report.fields, "price_per_accelerator_hour"), text(&report.fields, "currency")) {
                            (Some(price), Some(currency)) => {
                                format!("{about}'s price of {price} {currency} per accelerator-hour")
                            }
                            _ => format!("{about}'s prices"),
                        }
                    }
                };
                let first = report.sources.first().map_or("", String::as_str);
                let more = match report.sources.len() {
                    0 | 1 => String::new(),
                    2 => " and 1 other source".to_owned(),
                    n => format!(" and {} other sources", n - 1),
                };
                (
                    format!("Report by {filer} on {what}"),
                    format!(
                        "{filer} reports {what}, citing {first}{more} (published {}): \u{201c}{}\u{201d} \
                         A report is not a disclosure: {about} may confirm, dispute or correct it.",
                        date_words(report.published_date),
                        report.quotation
                    ),
                )
            }
            Err(unreadable) => (
                unreadable_figure(kind),
                format!("The report cannot be read under today's rules ({}).", unreadable.reason),
            ),
        }),
        ANSWER => Some(match Answer::from_entry(record.clone()) {
            Ok(answer) => {
                let report = answer.report;
                let statement = answer.statement.as_deref().map_or(String::new(), |s| format!(" \u{201c}{s}\u{201d}"));
                match answer.response {
                    Response::Confirm => (
                        format!("{filer} confirms report #{report}"),
                        match answer.disclosure_entry {
                            Some(entry) => format!(
                                "{filer} confirms report #{report} and points to its own disclosure, ledger entry {entry}.{statement}"
                            ),
                            None => format!("{filer} confirms report #{report}.{statement}"),
                        },
                    ),
                    Response::Dispute => (
                        format!("{filer} disputes report #{report}"),
                        format!("{filer} disputes report #{report}.{statement}"),
                    ),
                    Response::Correct => {
                        let corrected: Vec<String> = answer
                            .corrections
                            .iter()
                            .flatten()
                            .map(|(k, v)| format!("{k} {}", v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                            .collect();
                        (
                            format!("{filer} corrects report #{report}"),
                            format!(
                                "{filer} corrects report #{report}: {}.{statement}",
                                if corrected.is_empty() { "no fields named".to_owned() } else { corrected.join(", ") }
                            ),
                        )
                    }
                }
            }
            Err(unreadable) => (
                unreadable_figure(kind),
                format!("The answer cannot be read under today's rules ({}).", unreadable.reason),
            ),
        }),
        _ => None,
    }
}

/// The slug of the provider a report entry is about, for looking up its display name.
pub fn report_about<'a>(kind: &str, record: &'a serde_json::Value) -> Option<&'a str> {
    (kind == crate::records::reports::REPORT).then(|| record["about"].as_str()).flatten()
}

/// The title and summary of a record of provider `name`: the figure it states, in words.
pub fn describe(name: &str, record: &Record, supersedes: Option<u64>) -> (String, String) {
    let amended = if supersedes.is_some() { ", amended" } else { "" };
    let amends = supersedes.map_or(String::new(), |previous| format!(" It amends ledger entry {previous}."));
    let (figure, detail) = figure_and_detail(name, record);
    (format!("{name}: {figure}{amended}"), format!("{detail}{amends}"))
}

/// What a record states: its figure and period without the provider's name (a list under
/// the provider's own heading, or one that names it beside), and the same at length.
pub fn figure_and_detail(name: &str, record: &Record) -> (String, String) {
    match record {
        Record::QueueTime(r) => {
            let period = period_words(r.period_start, r.period_end);
            (
                format!(
                    "{} tier median wait {} for {} in {}, {period}",
                    tier_words(r.tier),
                    format::wait_from_seconds(r.p50_seconds),
                    r.resource,
                    r.region
                ),
                format!(
                    "{name} reports that {} jobs on its {} tier for {} in {} waited a median of {} \
                     (90th percentile {}, 99th percentile {}) in {period}.",
                    r.jobs,
                    tier_words(r.tier),
                    r.resource,
                    r.region,
                    format::wait_from_seconds(r.p50_seconds),
                    format::wait_from_seconds(r.p90_seconds),
                    format::wait_from_seconds(r.p99_seconds)
                ),
            )
        }
        Record::Acceptance(r) => {
            let period = period_words(r.period_start, r.period_end);
            // The one definition of the rate: accepted out of decided.
            let rate = crate::analytics::tables::AcceptanceRate {
                category: r.applicant_category.as_str().to_owned(),
                received: r.received,
                accepted: r.accepted,
                rejected: r.rejected,
            }
            .rate()
            .map_or_else(|| "none decided".to_owned(), format::percent_from_share);
            let (track, category) = (track_words(r.track), category_words(r.applicant_category));
            (
                format!("{track} acceptance of {category} {rate} in {period}"),
                format!(
                    "{name} received {} applications from {category} to its {track} track in {period}, \
                     accepted {} and rejected {} (acceptance {rate} of those decided).",
                    r.received, r.accepted, r.rejected
                ),
            )
        }
        Record::Price(r) => {
            let price = money(r.price_per_accelerator_hour);
            let date = date_words(r.effective_date);
            let basis = r.cost_basis_per_accelerator_hour.map_or(String::new(), |basis| {
                format!(" Its disclosed cost basis is {} {} per accelerator-hour.", money(basis), r.currency)
            });
            (
                format!(
                    "{} in {} {} at {price} {} per accelerator-hour from {date}",
                    r.resource,
                    r.region,
                    pricing_words(r.pricing_model),
                    r.currency
                ),
                format!(
                    "{name} charges {price} {} per accelerator-hour for {} in {} {} from {date}.{basis}",
                    r.currency,
                    r.resource,
                    r.region,
                    pricing_words(r.pricing_model)
                ),
            )
        }
        Record::Lockup(r) => {
            let start = date_words(r.start_date);
            let until = r.end_date.map_or_else(
                || "with no end date".to_owned(),
                |end| format!("until {}", date_words(end.pred_opt().unwrap_or(end))),
            );
            let value = match (r.contract_value, &r.contract_currency) {
                (Some(value), Some(currency)) => format!(" The contract is worth {} {currency}.", money(value)),
                (Some(value), None) => format!(" The contract is worth {}.", money(value)),
                _ => String::new(),
            };
            (
                format!(
                    "{} {} in {} locked up for {} ({}) from {start}",
                    r.accelerators,
                    r.resource,
                    r.region,
                    r.counterparty,
                    exclusivity_words(r.exclusivity)
                ),
                format!(
                    "{name} disclosed on {} that {} {} accelerators in {} go to {} ({}) from {start} {until}.{value}",
                    date_words(r.disclosure_date),
                    r.accelerators,
                    r.resource,
                    r.region,
                    r.counterparty,
                    exclusivity_words(r.exclusivity)
                ),
            )
        }
        Record::Capacity(r) => {
            let date = date_words(r.as_of);
            let utilisation = r.utilisation.map_or(String::new(), |u| {
                format!(", {} % utilised", (u * Decimal::ONE_HUNDRED).round_dp(1).normalize())
            });
            (
                format!(
                    "{} {} in {}, {} set aside for newcomers, as of {date}",
                    r.total_accelerators, r.resource, r.region, r.newcomer_set_aside
                ),
                format!(
                    "{name} had {} {} accelerators in {} on {date}, {} of them set aside for newcomers{utilisation}.",
                    r.total_accelerators, r.resource, r.region, r.newcomer_set_aside
                ),
            )
        }
        Record::Energy(r) => {
            let period = period_words(r.period_start, r.period_end);
            let place = match &r.site {
                Some(site) => format!("{site} ({})", r.region),
                None => r.region.to_string(),
            };
            let renewable = (r.renewable_share * Decimal::ONE_HUNDRED).round_dp(1).normalize();
            let market = r
                .grid_intensity_market_gco2e_per_kwh
                .map_or(String::new(), |m| format!(", {} gCO2e/kWh market-based", grouped(m)));
            let pue = r.pue.map_or(String::new(), |p| format!(", PUE {}", p.normalize()));
            (
                format!(
                    "{} MWh in {period} at {} gCO2e/kWh, {renewable} % renewable",
                    grouped(r.energy_mwh),
                    grouped(r.grid_intensity_location_gco2e_per_kwh)
                ),
                format!(
                    "{name} used {} MWh at {place} in {period}, on a grid of {} gCO2e/kWh location-based{market}; {renewable} % renewable{pue}.",
                    grouped(r.energy_mwh),
                    grouped(r.grid_intensity_location_gco2e_per_kwh)
                ),
            )
        }
    }
}

/// A decimal as written, without trailing zeros, its whole part grouped by thousands ("1,240.5").
fn grouped(amount: Decimal) -> String {
    let text = amount.normalize().to_string();
    let (whole, fraction) = text.split_once('.').map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let digits: Vec<char> = whole.chars().collect();
    let mut out = String::new();
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(*c);
    }
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

/// "October 2026" for a calendar month, "October to December 2026" for whole months,
/// otherwise the first and last day (periods are `[start, end)`).
fn period_words(start: NaiveDate, end: NaiveDate) -> String {
    let last = end.pred_opt().unwrap_or(end);
    if start.day() == 1 && end.day() == 1 {
        if (start.year(), start.month()) == (last.year(), last.month()) {
            return start.format("%B %Y").to_string();
        }
        if start.year() == last.year() {
            return format!("{} to {}", start.format("%B"), last.format("%B %Y"));
        }
        return format!("{} to {}", start.format("%B %Y"), last.format("%B %Y"));
    }
    format!("{} to {}", date_words(start), date_words(last))
}

/// "1 November 2026".
fn date_words(date: NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
}

/// An amount as written, without trailing zeros but with at least two decimals ("2.10").
fn money(amount: Decimal) -> String {
    let mut amount = amount.normalize();
    if amount.scale() < 2 {
        amount.rescale(2);
    }
    amount.to_string()
}

fn tier_words(tier: Tier) -> &'static str {
    match tier {
        Tier::OnDemand => "on-demand",
        Tier::Spot => "spot",
        Tier::Reserved => "reserved",
        Tier::Allocation => "allocation",
        Tier::Newcomer => "newcomer",
    }
}

fn track_words(track: Track) -> &'static str {
    match track {
        Track::General => "general",
        Track::NewcomerSetAside => "newcomer set-aside",
        Track::Research => "research",
        Track::Startup => "startup",
        Track::Civic => "civic",
    }
}

fn category_words(category: ApplicantCategory) -> &'static str {
    match category {
        ApplicantCategory::Student => "students",
        ApplicantCategory::Academic => "academics",
        ApplicantCategory::Civic => "civic applicants",
        ApplicantCategory::FirstTimeFounder => "first-time founders",
        ApplicantCategory::Startup => "startups",
        ApplicantCategory::Enterprise => "enterprises",
        ApplicantCategory::Other => "other applicants",
    }
}

fn pricing_words(model: PricingModel) -> &'static str {
    match model {
        PricingModel::OnDemand => "on demand",
        PricingModel::Spot => "on spot",
        PricingModel::Reserved1y => "reserved for 1 year",
        PricingModel::Reserved3y => "reserved for 3 years",
        PricingModel::Newcomer => "for newcomers",
    }
}

fn exclusivity_words(exclusivity: Exclusivity) -> &'static str {
    match exclusivity {
        Exclusivity::Exclusive => "exclusive",
        Exclusivity::Priority => "priority",
        Exclusivity::RightOfFirstRefusal => "right of first refusal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::kinds::examples;

    #[test]
    fn each_kind_is_described_with_its_figure() {
        let titles: Vec<(String, String)> = examples()
            .into_iter()
            .map(|value| describe("Corvid GPU", &Record::parse(value).expect("valid"), None))
            .collect();
        let expected = [
            "Corvid GPU: newcomer tier median wait 0.50 h for nvidia-h100-80gb in eu-de, October 2026",
            "Corvid GPU: newcomer set-aside acceptance of first-time founders 27.9 % in July to September 2026",
            "Corvid GPU: nvidia-h100-80gb in us-east on demand at 2.49 USD per accelerator-hour from 1 November 2026",
            "Corvid GPU: 16384 nvidia-b200 in us-east locked up for Frontier Model Lab Inc. (exclusive) from 1 January 2026",
            "Corvid GPU: 4096 nvidia-h100-80gb in eu-de, 256 set aside for newcomers, as of 1 November 2026",
            "Corvid GPU: 2,950.5 MWh in October 2026 at 350 gCO2e/kWh, 62 % renewable",
        ];
        for ((title, _), expected) in titles.iter().zip(expected) {
            assert_eq!(title, expected);
        }
        assert_eq!(
            titles[0].1,
            "Corvid GPU reports that 412 jobs on its newcomer tier for nvidia-h100-80gb in eu-de waited a median of \
             0.50 h (90th percentile 4.0 h, 99th percentile 24.0 h) in October 2026."
        );
        assert!(titles[2].1.ends_with("Its disclosed cost basis is 1.12 USD per accelerator-hour."), "{}", titles[2].1);
        assert!(
            titles[3].1.contains("until 31 December 2028. The contract is worth 2400000000.00 USD."),
            "{}",
            titles[3].1
        );
        assert!(titles[4].1.ends_with("256 of them set aside for newcomers, 87 % utilised."), "{}", titles[4].1);
        let (title, summary) = describe("Corvid GPU", &Record::parse(examples()[4].clone()).expect("valid"), Some(7));
        assert!(title.ends_with(", amended") && summary.ends_with("It amends ledger entry 7."), "{title} / {summary}");
    }

    #[test]
    fn periods_dates_and_amounts_read_as_words() {
        let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        assert_eq!(period_words(date("2026-10-01"), date("2026-11-01")), "October 2026");
        assert_eq!(period_words(date("2026-11-01"), date("2027-02-01")), "November 2026 to January 2027");
        assert_eq!(period_words(date("2026-10-01"), date("2026-10-15")), "1 October 2026 to 14 October 2026");
        assert_eq!(super::format::wait_from_seconds(51_120), "14.2 h");
        assert_eq!(money(Decimal::new(2100, 3)), "2.10");
        assert_eq!(money(Decimal::new(123_456, 5)), "1.23456");
        assert_eq!(grouped(Decimal::new(1_240, 0)), "1,240");
        assert_eq!(grouped(Decimal::new(1_234_567_500, 3)), "1,234,567.5");
        assert_eq!(grouped(Decimal::new(310, 0)), "310");
    }
}
