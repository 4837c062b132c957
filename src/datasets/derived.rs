//! The derived tables: the same analytics the pages show, as rows. Computed
//! from the latest disclosures of each provider (narrowed by the export's
//! filter where the table allows it), so a download matches the page it came from.

use chrono::NaiveDate;

use super::cell::Cell;
use super::filter::ExportFilter;
use super::schema::{self, Field};
use crate::analytics::compliance::PeriodStatus;
use crate::analytics::{Disclosures, Filter, grades, metrics, prices};

/// A derived table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Queue-time percentiles per provider, tier and month.
    QueuePercentiles,
    /// Acceptance per provider and applicant category.
    AcceptanceRates,
    /// Monthly median prices.
    PriceSeries,
    /// Deals with their capacity share.
    LockupShares,
    /// Grades with their components.
    Grades,
}

impl Table {
    /// Its columns.
    pub fn fields(self) -> Vec<Field> {
        match self {
            Self::QueuePercentiles => schema::queue_percentile_fields(),
            Self::AcceptanceRates => schema::acceptance_rate_fields(),
            Self::PriceSeries => schema::price_series_fields(),
            Self::LockupShares => schema::lockup_share_fields(),
            Self::Grades => schema::grade_fields(),
        }
    }

    /// Whether resource, region and date filters apply (grades always cover everything).
    pub fn filters_by_place_and_time(self) -> bool {
        self != Self::Grades
    }

    /// The rows for `providers` (slug and latest disclosures, in order), narrowed by `filter`;
    /// `window` is the reporting window grades are computed over.
    pub fn rows<'a>(
        self,
        providers: impl IntoIterator<Item = (&'a str, &'a Disclosures)>,
        filter: &Filter,
        window: Option<(NaiveDate, NaiveDate)>,
    ) -> Vec<Vec<Cell>> {
        let text = |s: &str| Cell::Text(s.to_owned());
        let mut rows = Vec::new();
        for (slug, all) in providers {
            let narrowed;
            let d = if *filter == Filter::default() {
                all
            } else {
                narrowed = all.filtered(filter);
                &narrowed
            };
            match self {
                Self::QueuePercentiles => {
                    for p in metrics::queue_series(d).unwrap_or_default() {
                        rows.push(vec![
                            text(slug),
                            Cell::Text(p.tier),
                            Cell::Date(p.period_start),
                            Cell::Number(p.p50_seconds),
                            Cell::Number(p.p90_seconds),
                            Cell::Int(p.jobs as i64),
                        ]);
                    }
                }
                Self::AcceptanceRates => {
                    for r in metrics::acceptance_by_category(d).unwrap_or_default() {
                        let rate = r.rate().map_or(Cell::Null, Cell::Number);
                        rows.push(vec![
                            text(slug),
                            Cell::Text(r.category),
                            Cell::Int(r.received as i64),
                            Cell::Int(r.accepted as i64),
                            Cell::Int(r.rejected as i64),
                            rate,
                        ]);
                    }
                }
                Self::PriceSeries => {
                    for p in prices::price_series(d) {
                        rows.push(vec![
                            text(slug),
                            Cell::Text(p.series),
                            Cell::Text(p.currency),
                            Cell::Date(p.month),
                            Cell::Number(p.price),
                            p.cost_basis.map_or(Cell::Null, Cell::Number),
                        ]);
                    }
                }
                Self::LockupShares => {
                    // Shares need every capacity filing before the deal, not only those in the filter.
                    let shares = metrics::lockup_shares(all);
                    for s in shares.into_iter().filter(|s| d.lockups.iter().any(|(_, l)| *l == s.lockup)) {
                        let l = s.lockup;
                        rows.push(vec![
                            text(slug),
                            Cell::Text(l.counterparty),
                            Cell::Text(l.resource.to_string()),
                            Cell::Text(l.region.to_string()),
                            Cell::Int(l.accelerators as i64),
                            Cell::Date(l.start_date),
                            l.end_date.map_or(Cell::Null, Cell::Date),
                            Cell::Text(l.exclusivity.as_str().to_owned()),
                            s.share.map_or(Cell::Null, Cell::Number),
                        ]);
                    }
                }
                Self::Grades => {
                    let Some(window) = window else { continue };
                    let grade = grades::grade(d, window);
                    for c in &grade.components {
                        rows.push(vec![
                            text(slug),
                            Cell::Text(grade.letter.to_string()),
                            Cell::Number(grade.score),
                            Cell::Text(c.component.label().to_owned()),
                            Cell::Number(c.weight),
                            Cell::Number(c.value),
                            Cell::Text(c.detail.clone()),
                        ]);
                    }
                }
            }
        }
        rows
    }
}

/// The compliance report as rows, narrowed by provider, kind and period start.
pub fn compliance_rows(periods: &[PeriodStatus], filter: &ExportFilter) -> Vec<Vec<Cell>> {
    let place = &filter.place_and_time;
    periods
        .iter()
        .filter(|p| filter.provider.as_deref().is_none_or(|only| p.provider == only))
        .filter(|p| filter.kind.is_none_or(|k| p.kind == k))
        .filter(|p| place.from.is_none_or(|f| p.period_start >= f) && place.to.is_none_or(|t| p.period_start <= t))
        .map(|p| {
            vec![
                Cell::Text(p.provider.clone()),
                Cell::Text(p.kind.as_str().to_owned()),
                Cell::Text(p.cadence.as_str().to_owned()),
                Cell::Date(p.period_start),
                Cell::Date(p.period_last_day),
                Cell::Date(p.deadline),
                Cell::Text(p.status.as_str().to_owned()),
                p.status.days_late().map_or(Cell::Null, Cell::Int),
                p.first_filed.map_or(Cell::Null, Cell::DateTime),
                Cell::Int(i64::from(p.filings)),
                Cell::Int(i64::from(p.amendments)),
                p.last_amended.map_or(Cell::Null, Cell::DateTime),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::metrics::tests::sample;

    #[test]
    fn rows_match_their_columns_and_the_hand_computed_figures() {
        let d = sample();
        for table in
            [Table::QueuePercentiles, Table::AcceptanceRates, Table::PriceSeries, Table::LockupShares, Table::Grades]
        {
            let window = Some(("2026-01-01".parse().expect("date"), "2026-02-01".parse().expect("date")));
            let rows = table.rows([("p", &d)], &Filter::default(), window);
            for row in &rows {
                assert_eq!(row.len(), table.fields().len(), "{table:?}");
            }
        }
        let rates = Table::AcceptanceRates.rows([("p", &d)], &Filter::default(), None);
        let student = rates.iter().find(|r| r[1] == Cell::Text("student".into())).expect("student");
        assert_eq!(student[5], Cell::Number(6.0 / 16.0));
        let civic = rates.iter().find(|r| r[1] == Cell::Text("civic".into())).expect("civic");
        assert_eq!(civic[5], Cell::Null, "nothing decided: no rate");
        let grades = Table::Grades.rows(
            [("p", &d)],
            &Filter::default(),
            Some(("2026-01-01".parse().expect("d"), "2026-02-01".parse().expect("d"))),
        );
        assert_eq!(grades.len(), 6);
        assert_eq!(grades[0][1], Cell::Text("D".into()));
    }

    #[test]
    fn a_filter_narrows_the_derived_rows() {
        let d = sample();
        let all = Table::QueuePercentiles.rows([("p", &d)], &Filter::default(), None).len();
        let february = Filter { from: Some("2026-02-01".parse().expect("date")), ..Filter::default() };
        let narrowed = Table::QueuePercentiles.rows([("p", &d)], &february, None);
        assert!(narrowed.len() < all && !narrowed.is_empty());
        assert!(narrowed.iter().all(|r| r[2] == Cell::Date("2026-02-01".parse().expect("date"))));
    }
}
