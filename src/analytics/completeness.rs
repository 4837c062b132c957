//! Reporting completeness: for each monthly duty, in how many months of the
//! reporting window a provider filed at least one disclosure. The grade's
//! completeness component and the scorecard's completeness table both read this.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};

use super::Disclosures;

/// How many months of the window one kind of disclosure was filed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindCompleteness {
    /// What was filed ("queue times", "acceptance", "prices", "capacity").
    pub kind: &'static str,
    /// Months with at least one filing.
    pub months_filed: u32,
    /// Months in the window.
    pub months: u32,
    /// The latest month filed, if any.
    pub latest: Option<NaiveDate>,
}

impl KindCompleteness {
    /// Months filed ÷ months in the window.
    pub fn share(&self) -> f64 {
        f64::from(self.months_filed) / f64::from(self.months.max(1))
    }
}

fn month(date: NaiveDate) -> (i32, u32) {
    (date.year(), date.month())
}

/// Months from `first` to `last` inclusive (at least one).
pub fn months_between(first: NaiveDate, last: NaiveDate) -> u32 {
    let span = (last.year() - first.year()) * 12 + last.month() as i32 - first.month() as i32 + 1;
    span.max(1) as u32
}

/// Completeness of the four monthly duties over `[window.0, window.1]` (by month).
/// Lock-ups are filed per deal, not per month, so they are not counted here.
pub fn completeness(d: &Disclosures, window: (NaiveDate, NaiveDate)) -> Vec<KindCompleteness> {
    completeness_of(
        [
            d.queue_times.iter().map(|(_, r)| r.period_start).collect(),
            d.acceptance.iter().map(|(_, r)| r.period_start).collect(),
            d.prices.iter().map(|(_, r)| r.effective_date).collect(),
            d.capacity.iter().map(|(_, r)| r.as_of).collect(),
        ],
        window,
    )
}

/// The names of the four monthly duties, in the order [`completeness_of`] takes their dates.
pub const DUTIES: [&str; 4] = ["queue times", "acceptance", "prices", "capacity"];

/// Completeness from the dates filed for each duty (in [`DUTIES`] order). Only the month of
/// each date matters, so a summary that keeps one date per month gives the same result.
pub fn completeness_of(dates: [Vec<NaiveDate>; 4], window: (NaiveDate, NaiveDate)) -> Vec<KindCompleteness> {
    let months = months_between(window.0, window.1);
    let in_window = |date: &NaiveDate| month(*date) >= month(window.0) && month(*date) <= month(window.1);
    DUTIES
        .into_iter()
        .zip(dates)
        .map(|(kind, dates)| {
            let filed: BTreeSet<(i32, u32)> = dates.iter().filter(|d| in_window(d)).map(|d| month(*d)).collect();
            KindCompleteness {
                kind,
                months_filed: filed.len() as u32,
                months,
                latest: dates.iter().filter(|d| in_window(d)).max().and_then(|d| d.with_day(1)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::tables::tests::sample;

    fn date(text: &str) -> NaiveDate {
        text.parse().expect("date")
    }

    #[test]
    fn months_filed_per_duty_in_the_window() {
        let rows = completeness(&sample(), (date("2026-01-01"), date("2026-03-31")));
        let summary: Vec<(&str, u32, u32)> = rows.iter().map(|r| (r.kind, r.months_filed, r.months)).collect();
        assert_eq!(summary, vec![("queue times", 2, 3), ("acceptance", 1, 3), ("prices", 0, 3), ("capacity", 2, 3)]);
        assert_eq!(rows[0].latest, Some(date("2026-02-01")));
        assert_eq!(rows[2].latest, None);
        assert!((rows[3].share() - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn filings_outside_the_window_do_not_count() {
        let rows = completeness(&sample(), (date("2026-02-01"), date("2026-02-28")));
        assert_eq!(rows.iter().map(|r| r.months_filed).collect::<Vec<_>>(), [1, 0, 0, 1]);
        assert_eq!(months_between(date("2025-11-30"), date("2026-02-01")), 4);
    }
}
