//! Analytics: the latest disclosures turned into the figures the site shows.
//! Pure functions (polars for the grouping), no database or HTTP: the caller
//! passes the latest version of every record, so amended values replace the
//! originals and everything can be recomputed from the public entries.

pub mod capacity;
pub mod completeness;
pub mod compliance;
pub mod concentration;
pub mod energy;
pub mod grades;
pub mod headline;
pub mod methodology;
pub mod prices;
pub mod tables;

use crate::records::kinds::{Acceptance, Capacity, Energy, Lockup, Price, QueueTime};

/// Every date the disclosures are about.
fn dates(d: &Disclosures) -> impl Iterator<Item = chrono::NaiveDate> + '_ {
    d.queue_times
        .iter()
        .map(|(_, r)| r.period_start)
        .chain(d.acceptance.iter().map(|(_, r)| r.period_start))
        .chain(d.prices.iter().map(|(_, r)| r.effective_date))
        .chain(d.capacity.iter().map(|(_, r)| r.as_of))
}

/// First and last date any of the disclosures covers: the reporting window grades and
/// completeness are computed over.
pub fn reporting_window<'a>(
    all: impl Iterator<Item = &'a Disclosures>,
) -> Option<(chrono::NaiveDate, chrono::NaiveDate)> {
    all.flat_map(dates).fold(None, |acc, date| match acc {
        None => Some((date, date)),
        Some((first, last)) => Some((first.min(date), last.max(date))),
    })
}

/// Adds two counts without wrapping. Every reported count is bounded
/// ([`crate::records::domain`], at most 10^15), so a sum reaches `u64::MAX` only past
/// eighteen thousand maximal records in one group; if it ever did, the figure would stay
/// at the maximum instead of wrapping to a small, plausible-looking number, or panicking.
pub fn add(a: u64, b: u64) -> u64 {
    a.saturating_add(b)
}

/// The sum of `counts`, as [`add`] adds them. (Polars' integer sums wrap, so sums of
/// reported counts are taken here, not in a frame.)
pub fn sum(counts: impl IntoIterator<Item = u64>) -> u64 {
    counts.into_iter().fold(0, add)
}

/// The value of row `row` of `column` in a polars result. A null there is an error, never a
/// default: a figure of 0 would be published as if disclosed (issue 20).
pub(crate) fn cell<T>(value: Option<T>, column: &str, row: usize) -> polars::prelude::PolarsResult<T> {
    value.ok_or_else(|| {
        polars::prelude::PolarsError::ComputeError(format!("column {column} is null at row {row}").into())
    })
}

/// Where a test makes the polars computations on its thread fail, to show that a failure
/// reaches pages and exports as an error, never as a figure of 0. Outside tests, nothing fails.
pub(crate) mod failure {
    use polars::prelude::PolarsResult;

    #[cfg(test)]
    thread_local! {
        static INJECTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Makes every later polars computation on this thread fail (`true`) or not.
    #[cfg(test)]
    pub(crate) fn inject(fail: bool) {
        INJECTED.set(fail);
    }

    /// An error if a test injected one.
    #[allow(clippy::unnecessary_wraps)]
    pub(crate) fn check() -> PolarsResult<()> {
        #[cfg(test)]
        if INJECTED.get() {
            return Err(polars::prelude::PolarsError::ComputeError("injected by a test".into()));
        }
        Ok(())
    }
}

/// The median of `values` (the mean of the middle two for an even count); `None` if empty.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] })
}

/// What the dashboards (and datasets) narrow disclosures by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Resource slug.
    pub resource: Option<String>,
    /// Region slug.
    pub region: Option<String>,
    /// First date included.
    pub from: Option<chrono::NaiveDate>,
    /// Last date included.
    pub to: Option<chrono::NaiveDate>,
}

/// The latest version of every disclosure, by kind, each with its provider.
#[derive(Debug, Clone, Default)]
pub struct Disclosures {
    pub queue_times: Vec<(String, QueueTime)>,
    /// Acceptance counts.
    pub acceptance: Vec<(String, Acceptance)>,
    pub prices: Vec<(String, Price)>,
    /// Lock-ups.
    pub lockups: Vec<(String, Lockup)>,
    pub capacity: Vec<(String, Capacity)>,
    /// Energy and grid carbon intensity.
    pub energy: Vec<(String, Energy)>,
}

impl Disclosures {
    /// Only the disclosures about `resource` and `region` (when given) whose dates fall
    /// in `[from, to]` (periods by their start, prices by effective date, capacity by
    /// `as_of`, lock-ups by start). Shared by the dashboards and, later, the datasets.
    pub fn filtered(&self, filter: &Filter) -> Self {
        let date_ok =
            |date: chrono::NaiveDate| filter.from.is_none_or(|f| date >= f) && filter.to.is_none_or(|t| date <= t);
        let place_ok = |resource: &str, region: &str| {
            filter.resource.as_deref().is_none_or(|r| r == resource)
                && filter.region.as_deref().is_none_or(|r| r == region)
        };
        Self {
            queue_times: self
                .queue_times
                .iter()
                .filter(|(_, r)| place_ok(r.resource.as_str(), r.region.as_str()) && date_ok(r.period_start))
                .cloned()
                .collect(),
            // Acceptance is per provider programme, not per resource or region.
            acceptance: self.acceptance.iter().filter(|(_, r)| date_ok(r.period_start)).cloned().collect(),
            prices: self
                .prices
                .iter()
                .filter(|(_, r)| place_ok(r.resource.as_str(), r.region.as_str()) && date_ok(r.effective_date))
                .cloned()
                .collect(),
            lockups: self
                .lockups
                .iter()
                .filter(|(_, r)| place_ok(r.resource.as_str(), r.region.as_str()) && date_ok(r.start_date))
                .cloned()
                .collect(),
            capacity: self
                .capacity
                .iter()
                .filter(|(_, r)| place_ok(r.resource.as_str(), r.region.as_str()) && date_ok(r.as_of))
                .cloned()
                .collect(),
            // Energy is per site and region, never per resource: like acceptance, only dates narrow it.
            energy: self.energy.iter().filter(|(_, r)| date_ok(r.period_start)).cloned().collect(),
        }
    }

    /// Every resource and region named in the disclosures, sorted.
    pub fn resources_and_regions(&self) -> (Vec<String>, Vec<String>) {
        let mut resources = std::collections::BTreeSet::new();
        let mut regions = std::collections::BTreeSet::new();
        let places = self
            .queue_times
            .iter()
            .map(|(_, r)| (&r.resource, &r.region))
            .chain(self.prices.iter().map(|(_, r)| (&r.resource, &r.region)))
            .chain(self.lockups.iter().map(|(_, r)| (&r.resource, &r.region)))
            .chain(self.capacity.iter().map(|(_, r)| (&r.resource, &r.region)));
        for (resource, region) in places {
            resources.insert(resource.to_string());
            regions.insert(region.to_string());
        }
        (resources.into_iter().collect(), regions.into_iter().collect())
    }

    /// Only one provider's disclosures.
    pub fn of(&self, provider: &str) -> Self {
        let keep = |p: &String| p == provider;
        Self {
            queue_times: self.queue_times.iter().filter(|(p, _)| keep(p)).cloned().collect(),
            acceptance: self.acceptance.iter().filter(|(p, _)| keep(p)).cloned().collect(),
            prices: self.prices.iter().filter(|(p, _)| keep(p)).cloned().collect(),
            lockups: self.lockups.iter().filter(|(p, _)| keep(p)).cloned().collect(),
            capacity: self.capacity.iter().filter(|(p, _)| keep(p)).cloned().collect(),
            energy: self.energy.iter().filter(|(p, _)| keep(p)).cloned().collect(),
        }
    }
}
