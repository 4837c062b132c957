//! A provider's figures, merged from its bucket summaries. Everything here is a pure
//! function of the summaries, and the summaries of the latest records, so the site and
//! `gatelog verify figures` compute the same figures from the same entries.

use chrono::{Months, NaiveDate};
use polars::prelude::PolarsResult;
use serde::{Deserialize, Serialize};

use super::bucket::{BucketKey, BucketSummary};
use crate::analytics::add;
use crate::analytics::capacity::CapacityPoint;
use crate::analytics::completeness::{KindCompleteness, completeness_of};
use crate::analytics::grades::{self, Grade, GradeInputs};
use crate::analytics::headline::ProviderInputs;
use crate::analytics::methodology::Methodology;
use crate::analytics::prices::{LatestPrice, PricePoint};
use crate::analytics::tables::{self, AcceptanceRate, LockupShare, QueuePoint};
use crate::records::kinds::{Lockup, Price};
use crate::records::{Record, RecordKind};

/// A provider's scorecard figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProviderFigures {
    /// Queue-time series per tier and month.
    pub queue: Vec<QueuePoint>,
    /// Acceptance per applicant category.
    pub acceptance: Vec<AcceptanceRate>,
    /// Monthly median prices per resource and pricing model.
    pub prices: Vec<PricePoint>,
    /// Newest price per resource, region and pricing model.
    pub latest_prices: Vec<LatestPrice>,
    /// Capacity, set-aside and locked at each capacity filing.
    pub capacity: Vec<CapacityPoint>,
    /// Lock-ups with their capacity share, newest first.
    pub lockups: Vec<LockupShare>,
    /// Months filed per monthly duty over the reporting window.
    pub completeness: Vec<KindCompleteness>,
}

/// Everything the pages show of one provider that does not depend on the other
/// providers: its bucket summaries merged. (The grade and completeness also need the
/// reporting window, which spans every provider: see [`ProviderSummary::figures`].)
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProviderSummary {
    /// Provider slug.
    pub provider: String,
    /// Latest versions of its records (every kind).
    pub records: u64,
    /// Earliest and latest date its records are about (lock-ups aside).
    pub dates: Option<(NaiveDate, NaiveDate)>,
    /// Queue percentiles per tier and period.
    pub queue: Vec<QueuePoint>,
    /// Acceptance per applicant category.
    pub acceptance: Vec<AcceptanceRate>,
    /// Monthly median prices.
    pub prices: Vec<PricePoint>,
    /// Newest price per resource, region and pricing model.
    pub latest_prices: Vec<Price>,
    /// Prices disclosed, and how many state a cost basis.
    pub priced: (u64, u64),
    /// Capacity per filing date: (as_of, total, set-aside).
    pub capacity: Vec<(NaiveDate, u64, u64)>,
    /// Its deals.
    pub lockups: Vec<Lockup>,
    /// The months each monthly duty was filed in ([`crate::analytics::completeness::DUTIES`] order).
    pub months: [Vec<NaiveDate>; 4],
    /// Latest versions per kind, in [`RecordKind::OPTIONS`] order.
    pub by_kind: [u64; RecordKind::OPTIONS.len()],
}

/// A kind's position in [`RecordKind::OPTIONS`].
fn position(kind: RecordKind) -> usize {
    RecordKind::OPTIONS.iter().position(|(_, k)| *k == kind).unwrap_or(0)
}

fn duty(kind: RecordKind) -> Option<usize> {
    match kind {
        RecordKind::QueueTime => Some(0),
        RecordKind::Acceptance => Some(1),
        RecordKind::Price => Some(2),
        RecordKind::Capacity => Some(3),
        RecordKind::Lockup | RecordKind::Energy => None,
    }
}

impl ProviderSummary {
    /// Merges a provider's bucket summaries (any order) into its summary.
    pub fn merge<'a>(
        provider: &str,
        buckets: impl IntoIterator<Item = (RecordKind, NaiveDate, &'a BucketSummary)>,
    ) -> Self {
        let mut out = Self { provider: provider.to_owned(), ..Self::default() };
        let mut acceptance: std::collections::BTreeMap<String, AcceptanceRate> = std::collections::BTreeMap::new();
        let mut latest: std::collections::BTreeMap<(String, String, String), Price> = std::collections::BTreeMap::new();
        for (kind, month, bucket) in buckets {
            if bucket.records == 0 {
                continue;
            }
            out.records += bucket.records;
            out.by_kind[position(kind)] += bucket.records;
            if let Some((first, last)) = bucket.dates {
                out.dates = Some(out.dates.map_or((first, last), |(f, l)| (f.min(first), l.max(last))));
            }
            if let Some(duty) = duty(kind) {
                out.months[duty].push(month);
            }
            out.queue.extend(bucket.queue.iter().cloned());
            for rate in &bucket.acceptance {
                let total = acceptance.entry(rate.category.clone()).or_insert_with(|| AcceptanceRate {
                    category: rate.category.clone(),
                    received: 0,
                    accepted: 0,
                    rejected: 0,
                });
                total.received = add(total.received, rate.received);
                total.accepted = add(total.accepted, rate.accepted);
                total.rejected = add(total.rejected, rate.rejected);
            }
            out.prices.extend(bucket.prices.iter().cloned());
            if kind == RecordKind::Price {
                out.priced = (add(out.priced.0, bucket.records), add(out.priced.1, bucket.priced_with_cost));
            }
            for json in &bucket.latest_prices {
                if let Ok(Record::Price(price)) = Record::from_entry("price", json.clone()) {
                    let key =
                        (price.resource.to_string(), price.region.to_string(), price.pricing_model.as_str().to_owned());
                    if latest.get(&key).is_none_or(|held| held.effective_date < price.effective_date) {
                        latest.insert(key, price);
                    }
                }
            }
            out.capacity.extend(bucket.capacity.iter().copied());
            for json in &bucket.lockups {
                if let Ok(Record::Lockup(lockup)) = Record::from_entry("lockup", json.clone()) {
                    out.lockups.push(lockup);
                }
            }
        }
        out.queue.sort_by(|a, b| a.tier.cmp(&b.tier).then(a.period_start.cmp(&b.period_start)));
        out.acceptance = acceptance.into_values().collect();
        out.prices.sort_by(|a, b| (&a.series, &a.currency, a.month).cmp(&(&b.series, &b.currency, b.month)));
        out.latest_prices = latest.into_values().collect();
        out.capacity.sort_by_key(|(date, ..)| *date);
        // Deals in a fixed order (the entries' order is not known here): by start, then natural key.
        out.lockups.sort_by(|a, b| {
            a.start_date
                .cmp(&b.start_date)
                .then_with(|| Record::Lockup(a.clone()).natural_key().cmp(&Record::Lockup(b.clone()).natural_key()))
        });
        for months in &mut out.months {
            months.sort();
        }
        out
    }

    /// The summary of `provider`'s latest `records` (in entry order), through the same
    /// buckets the projection keeps: grouped by [`BucketKey::of`], each summarised by
    /// [`BucketSummary::of`], merged by [`Self::merge`]. A filtered export builds its
    /// figures this way from the records its filter keeps, so filtered and unfiltered
    /// figures come from one code path.
    pub fn of_records<'a>(provider: &str, records: impl IntoIterator<Item = &'a Record>) -> PolarsResult<Self> {
        let mut members: std::collections::BTreeMap<BucketKey, Vec<&Record>> = std::collections::BTreeMap::new();
        for record in records {
            members.entry(BucketKey::of(provider, record)).or_default().push(record);
        }
        let buckets: Vec<(BucketKey, BucketSummary)> = members
            .into_iter()
            .map(|(key, records)| Ok((key, BucketSummary::of(records)?)))
            .collect::<PolarsResult<_>>()?;
        Ok(Self::merge(provider, buckets.iter().map(|(key, summary)| (key.kind, key.month, summary))))
    }

    /// Capacity at the latest filing date: (date, total, set-aside).
    pub fn latest_capacity(&self) -> Option<(NaiveDate, u64, u64)> {
        self.capacity.last().copied()
    }

    /// Accelerators held by deals in force on `date`.
    pub fn locked_on(&self, date: NaiveDate) -> u64 {
        tables::locked_by(self.lockups.iter(), date)
    }

    /// The scorecard figures; completeness over `window` when there is one.
    pub fn figures(&self, window: Option<(NaiveDate, NaiveDate)>) -> ProviderFigures {
        let totals: Vec<(NaiveDate, u64)> = self.capacity.iter().map(|(date, total, _)| (*date, *total)).collect();
        let mut lockups = tables::lockup_shares_of(&self.provider, self.lockups.iter(), &totals);
        tables::sort_lockup_shares(&mut lockups);
        ProviderFigures {
            queue: self.queue.clone(),
            acceptance: self.acceptance.clone(),
            prices: self.prices.clone(),
            latest_prices: self
                .latest_prices
                .iter()
                .map(|price| LatestPrice { provider: self.provider.clone(), price: price.clone() })
                .collect(),
            capacity: self
                .capacity
                .iter()
                .map(|(as_of, total, set_aside)| CapacityPoint {
                    as_of: *as_of,
                    total: *total,
                    set_aside: *set_aside,
                    locked: self.locked_on(*as_of),
                })
                .collect(),
            lockups,
            completeness: window.map(|w| completeness_of(self.months.clone(), w)).unwrap_or_default(),
        }
    }

    /// The compact part the cross-provider pages need (grades, the headline, lists).
    pub fn digest(&self) -> Digest {
        let latest_queue = self.queue.iter().map(|q| q.period_start).max();
        let since = latest_queue.and_then(|l| l.checked_sub_months(Months::new(11)));
        let capacity =
            self.latest_capacity().map(|(date, total, set_aside)| (date, total, set_aside, self.locked_on(date)));
        Digest {
            provider: self.provider.clone(),
            records: self.records,
            dates: self.dates,
            acceptance: self.acceptance.clone(),
            capacity,
            tier_medians: grades::tier_medians(&self.queue),
            recent_queue: self.queue.iter().filter(|q| since.is_some_and(|s| q.period_start >= s)).cloned().collect(),
            priced: self.priced,
            months: self.months.clone(),
            lockups: self.lockups.len() as u64,
            by_kind: self.by_kind,
            queue_points: self.queue.len() as u64,
            price_points: self.prices.len() as u64,
        }
    }
}

/// What the pages that span providers need of each one: enough to grade it over any
/// window and to compute the headline, a few kilobytes whatever the provider's history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    /// Provider slug.
    pub provider: String,
    /// Latest versions of its records.
    pub records: u64,
    /// Earliest and latest date its records are about (lock-ups aside).
    pub dates: Option<(NaiveDate, NaiveDate)>,
    /// Acceptance per applicant category.
    pub acceptance: Vec<AcceptanceRate>,
    /// Latest capacity: (date, total, set-aside, locked by deals in force then).
    pub capacity: Option<(NaiveDate, u64, u64, u64)>,
    /// Each tier's median wait (for the queue-fairness grade).
    #[serde(with = "super::exact::pairs")]
    pub tier_medians: Vec<(String, f64)>,
    /// Queue points of its last twelve months (the headline looks at most that far back).
    pub recent_queue: Vec<QueuePoint>,
    /// Prices disclosed, and how many state a cost basis.
    pub priced: (u64, u64),
    /// Months each monthly duty was filed in.
    pub months: [Vec<NaiveDate>; 4],
    /// Deals disclosed.
    pub lockups: u64,
    /// Latest readable versions per kind, in [`RecordKind::OPTIONS`] order.
    pub by_kind: [u64; RecordKind::OPTIONS.len()],
    /// Points of its queue series (per tier and period).
    pub queue_points: u64,
    /// Points of its price series (per series and month).
    pub price_points: u64,
}

impl Digest {
    /// Latest readable versions of `kind`.
    pub fn records_of(&self, kind: RecordKind) -> u64 {
        self.by_kind[position(kind)]
    }

    /// The grade over the reporting window.
    pub fn grade(&self, window: (NaiveDate, NaiveDate)) -> Grade {
        self.grade_with(window, crate::analytics::methodology::CURRENT)
    }

    /// The grade over the reporting window with `methodology` (a snapshot's, to re-derive it).
    pub fn grade_with(&self, window: (NaiveDate, NaiveDate), methodology: &Methodology) -> Grade {
        grades::grade_with(
            GradeInputs {
                acceptance: &self.acceptance,
                capacity: self.capacity.map(|(date, total, set_aside, _)| (date, total, set_aside)),
                locked_at_capacity: self.capacity.map_or(0, |(.., locked)| locked),
                tier_medians: &self.tier_medians,
                prices: self.priced,
                completeness: completeness_of(self.months.clone(), window),
            },
            methodology,
        )
    }

    /// Its inputs to the home page's headline.
    pub fn headline_inputs(&self) -> ProviderInputs<'_> {
        ProviderInputs { queue: &self.recent_queue, acceptance: &self.acceptance, capacity: self.capacity }
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

/// The reporting window every grade is computed over: the first and last date any
/// provider's records are about.
pub fn reporting_window<'a>(digests: impl IntoIterator<Item = &'a Digest>) -> Option<(NaiveDate, NaiveDate)> {
    digests.into_iter().filter_map(|d| d.dates).fold(None, |acc, (first, last)| match acc {
        None => Some((first, last)),
        Some((f, l)) => Some((f.min(first), l.max(last))),
    })
}
