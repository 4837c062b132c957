//! Buckets: the unit the projection summarises. A bucket is one provider's records of
//! one kind whose date falls in one calendar month. Every figure the site shows groups
//! records within a month (queue percentiles per tier and period, monthly median prices,
//! capacity per filing date) or adds up across months (acceptance, counts), so a
//! provider's figures are a merge of its bucket summaries, and a new record changes
//! exactly one bucket: the work per append is bounded by the buckets it touches, never
//! by the provider's history.

use chrono::{Datelike, NaiveDate};
use polars::prelude::PolarsResult;
use serde::{Deserialize, Serialize};

use crate::analytics::prices::{self, PricePoint};
use crate::analytics::tables::{self, AcceptanceRate, QueuePoint};
use crate::analytics::{Disclosures, add};
use crate::records::{Record, RecordKind};

/// The date a record is about: a period's start, a price's effective date, a deal's
/// start, a capacity filing's date. Filters and buckets both go by it.
pub fn date_of(record: &Record) -> NaiveDate {
    match record {
        Record::QueueTime(r) => r.period_start,
        Record::Acceptance(r) => r.period_start,
        Record::Price(r) => r.effective_date,
        Record::Lockup(r) => r.start_date,
        Record::Capacity(r) => r.as_of,
        Record::Energy(r) => r.period_start,
    }
}

/// The first day of `date`'s month.
pub fn month_of(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

/// Which bucket a record belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BucketKey {
    /// Provider slug.
    pub provider: String,
    pub kind: RecordKind,
    /// First day of the month.
    pub month: NaiveDate,
}

impl BucketKey {
    /// The bucket of `provider`'s `record`.
    pub fn of(provider: &str, record: &Record) -> Self {
        Self { provider: provider.to_owned(), kind: record.kind(), month: month_of(date_of(record)) }
    }
}

/// What the figures need from one bucket: computed from the latest versions of its
/// records by [`BucketSummary::of`], stored, and merged per provider by
/// [`super::summary::ProviderSummary::merge`]. Only the fields of the bucket's kind are set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BucketSummary {
    /// Latest versions in the bucket.
    pub records: u64,
    /// Earliest and latest record date (the reporting window is spanned by these).
    pub dates: Option<(NaiveDate, NaiveDate)>,
    /// Queue percentiles per tier and period.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queue: Vec<QueuePoint>,
    /// Acceptance summed per applicant category.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acceptance: Vec<AcceptanceRate>,
    /// Monthly median prices per series.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prices: Vec<PricePoint>,
    /// The newest price per resource, region and pricing model within the month (record JSON).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latest_prices: Vec<serde_json::Value>,
    /// Prices that state a cost basis.
    #[serde(default)]
    pub priced_with_cost: u64,
    /// Capacity per filing date: (as_of, total, newcomer set-aside), summed over resources and regions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity: Vec<(NaiveDate, u64, u64)>,
    /// The deals themselves (record JSON): few per provider, and shares need each one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lockups: Vec<serde_json::Value>,
}

impl BucketSummary {
    /// The summary of one bucket's latest records (all of one provider, kind and month).
    /// A failed computation is an error: an empty series in its place would be published
    /// as "not disclosed" and graded 0 (issue 20).
    pub fn of<'a>(records: impl IntoIterator<Item = &'a Record>) -> PolarsResult<Self> {
        let mut d = Disclosures::default();
        let mut out = Self::default();
        for record in records {
            out.records += 1;
            let date = date_of(record);
            out.dates = Some(out.dates.map_or((date, date), |(first, last)| (first.min(date), last.max(date))));
            // The provider is the same for the whole bucket; the summary does not name it.
            let provider = String::new();
            match record.clone() {
                Record::QueueTime(r) => d.queue_times.push((provider, r)),
                Record::Acceptance(r) => d.acceptance.push((provider, r)),
                Record::Price(r) => d.prices.push((provider, r)),
                Record::Lockup(r) => d.lockups.push((provider, r)),
                Record::Capacity(r) => d.capacity.push((provider, r)),
                Record::Energy(r) => d.energy.push((provider, r)),
            }
        }
        // Deals do not count towards the reporting window (they are filed per deal), nor
        // does energy, which no grade or obligation covers: the window stays as it was.
        if !d.lockups.is_empty() || !d.energy.is_empty() {
            out.dates = None;
        }
        out.queue = tables::queue_series(&d)?;
        out.acceptance = tables::acceptance_by_category(&d);
        out.prices = prices::price_series(&d);
        out.latest_prices =
            prices::latest_prices(&d).iter().map(|l| Record::Price(l.price.clone()).to_json()).collect();
        out.priced_with_cost =
            d.prices.iter().filter(|(_, p)| p.cost_basis_per_accelerator_hour.is_some()).count() as u64;
        let mut capacity: std::collections::BTreeMap<NaiveDate, (u64, u64)> = std::collections::BTreeMap::new();
        for (_, c) in &d.capacity {
            let (total, set_aside) = capacity.entry(c.as_of).or_default();
            *total = add(*total, c.total_accelerators);
            *set_aside = add(*set_aside, c.newcomer_set_aside);
        }
        out.capacity = capacity.into_iter().map(|(date, (total, set_aside))| (date, total, set_aside)).collect();
        out.lockups = d.lockups.iter().map(|(_, l)| Record::Lockup(l.clone()).to_json()).collect();
        Ok(out)
    }

    /// The stored form.
    pub fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    /// Reads the stored form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}
