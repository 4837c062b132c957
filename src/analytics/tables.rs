//! Metric tables: queue-time percentiles per tier and month, acceptance rates
//! per applicant category, capacity and lock-up shares. Grouping runs in polars.

use std::collections::HashMap;

use chrono::NaiveDate;
use polars::prelude::*;

use super::{Disclosures, cell};

/// Median waits of one provider, tier and month (across its resources and regions).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QueuePoint {
    /// Tier name.
    pub tier: String,
    /// First day of the period.
    pub period_start: NaiveDate,
    /// Median of the reported p50s, seconds.
    #[serde(with = "crate::projection::exact")]
    pub p50_seconds: f64,
    /// Median of the reported p90s, seconds.
    #[serde(with = "crate::projection::exact")]
    pub p90_seconds: f64,
    /// Jobs, summed.
    pub jobs: u64,
}

/// Acceptance of one applicant category, all tracks and periods together.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AcceptanceRate {
    /// Applicant category.
    pub category: String,
    /// Applications received.
    pub received: u64,
    pub accepted: u64,
    pub rejected: u64,
}

impl AcceptanceRate {
    /// Accepted out of decided (accepted + rejected); `None` when nothing was decided.
    /// Derived here, never reported.
    pub fn rate(&self) -> Option<f64> {
        let decided = super::add(self.accepted, self.rejected);
        (decided > 0).then(|| self.accepted as f64 / decided as f64)
    }
}

fn days(date: NaiveDate) -> i32 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

fn from_days(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Days::new(days.max(0) as u64)
}

/// Queue-time series of one provider's disclosures: one point per tier and period.
pub fn queue_series(disclosures: &Disclosures) -> PolarsResult<Vec<QueuePoint>> {
    super::failure::check()?;
    if disclosures.queue_times.is_empty() {
        return Ok(Vec::new());
    }
    let rows = &disclosures.queue_times;
    let frame = df!(
        "tier" => rows.iter().map(|(_, r)| r.tier.as_str()).collect::<Vec<_>>(),
        "start" => rows.iter().map(|(_, r)| days(r.period_start)).collect::<Vec<_>>(),
        "p50" => rows.iter().map(|(_, r)| r.p50_seconds as f64).collect::<Vec<_>>(),
        "p90" => rows.iter().map(|(_, r)| r.p90_seconds as f64).collect::<Vec<_>>(),
    )?;
    let mut jobs: HashMap<(&str, i32), u64> = HashMap::new();
    for (_, r) in rows {
        let total = jobs.entry((r.tier.as_str(), days(r.period_start))).or_default();
        *total = super::add(*total, r.jobs);
    }
    let out = frame
        .lazy()
        .group_by([col("tier"), col("start")])
        .agg([col("p50").median(), col("p90").median()])
        .sort(["tier", "start"], SortMultipleOptions::default())
        .collect()?;
    let tiers = out.column("tier")?.str()?;
    let starts = out.column("start")?.i32()?;
    let p50 = out.column("p50")?.f64()?;
    let p90 = out.column("p90")?.f64()?;
    (0..out.height())
        .map(|i| {
            let (tier, start) = (cell(tiers.get(i), "tier", i)?, cell(starts.get(i), "start", i)?);
            Ok(QueuePoint {
                tier: tier.to_owned(),
                period_start: from_days(start),
                p50_seconds: cell(p50.get(i), "p50", i)?,
                p90_seconds: cell(p90.get(i), "p90", i)?,
                jobs: cell(jobs.get(&(tier, start)).copied(), "jobs", i)?,
            })
        })
        .collect()
}

/// Acceptance per applicant category, summed over tracks and periods, by category name.
/// Sums only, without polars: nothing here can fail.
pub fn acceptance_by_category(disclosures: &Disclosures) -> Vec<AcceptanceRate> {
    // Only sums, by category name: summed here with checked arithmetic (polars' integer sums wrap).
    let mut by_category: std::collections::BTreeMap<&str, AcceptanceRate> = std::collections::BTreeMap::new();
    for (_, r) in &disclosures.acceptance {
        let name = r.applicant_category.as_str();
        let total = by_category.entry(name).or_insert_with(|| AcceptanceRate {
            category: name.to_owned(),
            received: 0,
            accepted: 0,
            rejected: 0,
        });
        total.received = super::add(total.received, r.received);
        total.accepted = super::add(total.accepted, r.accepted);
        total.rejected = super::add(total.rejected, r.rejected);
    }
    by_category.into_values().collect()
}

/// Capacity at the latest `as_of` a provider reported: (date, total, newcomer set-aside).
pub fn latest_capacity(disclosures: &Disclosures) -> Option<(NaiveDate, u64, u64)> {
    let latest = disclosures.capacity.iter().map(|(_, c)| c.as_of).max()?;
    let (total, set_aside) = disclosures
        .capacity
        .iter()
        .filter(|(_, c)| c.as_of == latest)
        .fold((0, 0), |(t, s), (_, c)| (super::add(t, c.total_accelerators), super::add(s, c.newcomer_set_aside)));
    Some((latest, total, set_aside))
}

/// Accelerators locked up by deals in force on `date` (started, not ended).
pub fn locked_on(disclosures: &Disclosures, date: NaiveDate) -> u64 {
    locked_by(disclosures.lockups.iter().map(|(_, l)| l), date)
}

/// Accelerators that `lockups` in force on `date` (started, not ended) hold.
pub fn locked_by<'a>(lockups: impl Iterator<Item = &'a crate::records::kinds::Lockup>, date: NaiveDate) -> u64 {
    lockups
        .filter(|l| l.start_date <= date && l.end_date.is_none_or(|end| date < end))
        .map(|l| l.accelerators)
        .fold(0, super::add)
}

/// Waits of one provider and tier over a whole (filtered) window.
#[derive(Debug, Clone, PartialEq)]
pub struct TierSummary {
    /// Provider slug.
    pub provider: String,
    pub tier: String,
    /// Records behind it.
    pub records: u64,
    /// Median of the reported p50s, seconds.
    pub p50_seconds: f64,
    /// Median of the reported p90s, seconds.
    pub p90_seconds: f64,
    /// Jobs, summed.
    pub jobs: u64,
}

/// Median waits per provider and tier, across resources, regions and periods.
pub fn queue_by_provider_and_tier(disclosures: &Disclosures) -> PolarsResult<Vec<TierSummary>> {
    super::failure::check()?;
    if disclosures.queue_times.is_empty() {
        return Ok(Vec::new());
    }
    let rows = &disclosures.queue_times;
    let frame = df!(
        "provider" => rows.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
        "tier" => rows.iter().map(|(_, r)| r.tier.as_str()).collect::<Vec<_>>(),
        "p50" => rows.iter().map(|(_, r)| r.p50_seconds as f64).collect::<Vec<_>>(),
        "p90" => rows.iter().map(|(_, r)| r.p90_seconds as f64).collect::<Vec<_>>(),
    )?;
    let mut jobs: HashMap<(&str, &str), u64> = HashMap::new();
    for (provider, r) in rows {
        let total = jobs.entry((provider.as_str(), r.tier.as_str())).or_default();
        *total = super::add(*total, r.jobs);
    }
    let out = frame
        .lazy()
        .group_by([col("provider"), col("tier")])
        .agg([col("p50").median(), col("p90").median(), col("p50").count().alias("records")])
        .sort(["provider", "tier"], SortMultipleOptions::default())
        .collect()?;
    let providers = out.column("provider")?.str()?;
    let tiers = out.column("tier")?.str()?;
    let p50 = out.column("p50")?.f64()?;
    let p90 = out.column("p90")?.f64()?;
    let records = out.column("records")?.cast(&DataType::UInt64)?;
    let records = records.u64()?;
    (0..out.height())
        .map(|i| {
            let (provider, tier) = (cell(providers.get(i), "provider", i)?, cell(tiers.get(i), "tier", i)?);
            Ok(TierSummary {
                provider: provider.to_owned(),
                tier: tier.to_owned(),
                records: cell(records.get(i), "records", i)?,
                p50_seconds: cell(p50.get(i), "p50", i)?,
                p90_seconds: cell(p90.get(i), "p90", i)?,
                jobs: cell(jobs.get(&(provider, tier)).copied(), "jobs", i)?,
            })
        })
        .collect()
}

/// A lock-up with the share of its provider's capacity it takes at its start.
#[derive(Debug, Clone, PartialEq)]
pub struct LockupShare {
    /// Provider slug.
    pub provider: String,
    /// The deal.
    pub lockup: crate::records::kinds::Lockup,
    /// Accelerators ÷ the provider's total capacity at the latest filing on or before the
    /// deal's start; `None` when no capacity was filed by then.
    pub share: Option<f64>,
}

/// Every lock-up with its capacity share, newest deal first.
pub fn lockup_shares(disclosures: &Disclosures) -> Vec<LockupShare> {
    /// A provider's deals and its capacity filings as (as_of, total).
    type Deals<'a> = (Vec<&'a crate::records::kinds::Lockup>, Vec<(NaiveDate, u64)>);
    let mut providers: std::collections::BTreeMap<&str, Deals<'_>> = std::collections::BTreeMap::new();
    for (provider, lockup) in &disclosures.lockups {
        providers.entry(provider.as_str()).or_default().0.push(lockup);
    }
    for (provider, c) in &disclosures.capacity {
        if let Some((_, totals)) = providers.get_mut(provider.as_str()) {
            totals.push((c.as_of, c.total_accelerators));
        }
    }
    let mut out: Vec<LockupShare> = providers
        .into_iter()
        .flat_map(|(provider, (lockups, totals))| lockup_shares_of(provider, lockups.into_iter(), &totals))
        .collect();
    sort_lockup_shares(&mut out);
    out
}

/// One provider's lock-ups with their capacity shares, given its capacity filings as
/// (as_of, total accelerators) pairs (several per date are summed), in no particular order.
pub fn lockup_shares_of<'a>(
    provider: &str,
    lockups: impl Iterator<Item = &'a crate::records::kinds::Lockup>,
    capacity: &[(NaiveDate, u64)],
) -> Vec<LockupShare> {
    lockups
        .map(|lockup| {
            let filings = capacity.iter().filter(|(as_of, _)| *as_of <= lockup.start_date);
            let at = filings.clone().map(|(as_of, _)| *as_of).max();
            let total: u64 =
                at.map_or(0, |date| super::sum(filings.filter(|(as_of, _)| *as_of == date).map(|(_, total)| *total)));
            LockupShare {
                provider: provider.to_owned(),
                lockup: lockup.clone(),
                share: (total > 0).then(|| lockup.accelerators as f64 / total as f64),
            }
        })
        .collect()
}

/// Newest deal first, then by provider, then by what the deal is (the order every lock-up
/// list is shown in, whatever order the deals were filed in).
pub fn sort_lockup_shares(shares: &mut [LockupShare]) {
    let key = |s: &LockupShare| crate::records::Record::Lockup(s.lockup.clone()).natural_key();
    shares.sort_by(|a, b| {
        b.lockup
            .start_date
            .cmp(&a.lockup.start_date)
            .then_with(|| a.provider.cmp(&b.provider))
            .then_with(|| key(a).cmp(&key(b)))
    });
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::records::Record;
    use serde_json::json;

    fn parse(value: serde_json::Value) -> Record {
        Record::parse(value).expect("valid test record")
    }

    /// A small hand-checkable world for one provider.
    pub(crate) fn sample() -> Disclosures {
        let mut d = Disclosures::default();
        let qt = |start: &str, end: &str, tier: &str, region: &str, p50: u64, p90: u64, jobs: u64| match parse(
            json!({"kind": "queue_time", "period_start": start, "period_end": end, "resource": "h100", "region": region,
                "tier": tier, "jobs": jobs, "p50_seconds": p50, "p90_seconds": p90, "p99_seconds": p90 * 2}),
        ) {
            Record::QueueTime(r) => r,
            _ => unreachable!(),
        };
        for (tier, region, p50, p90, jobs) in [
            ("on_demand", "eu-de", 100, 400, 10),
            ("on_demand", "eu-fr", 300, 900, 30),
            ("newcomer", "eu-de", 1000, 5000, 5),
        ] {
            d.queue_times.push(("p".into(), qt("2026-01-01", "2026-02-01", tier, region, p50, p90, jobs)));
        }
        d.queue_times.push(("p".into(), qt("2026-02-01", "2026-03-01", "on_demand", "eu-de", 50, 200, 7)));
        let acc = |category: &str, track: &str, received: u64, accepted: u64, rejected: u64| match parse(
            json!({"kind": "acceptance",
            "period_start": "2026-01-01", "period_end": "2026-02-01", "track": track, "applicant_category": category,
            "received": received, "accepted": accepted, "rejected": rejected}),
        ) {
            Record::Acceptance(r) => r,
            _ => unreachable!(),
        };
        d.acceptance.push(("p".into(), acc("student", "general", 10, 2, 6)));
        d.acceptance.push(("p".into(), acc("student", "research", 10, 4, 4)));
        d.acceptance.push(("p".into(), acc("enterprise", "general", 20, 18, 2)));
        d.acceptance.push(("p".into(), acc("civic", "general", 5, 0, 0)));
        let cap = |as_of: &str, region: &str, total: u64, set_aside: u64| match parse(
            json!({"kind": "capacity", "as_of": as_of,
            "resource": "h100", "region": region, "total_accelerators": total, "newcomer_set_aside": set_aside}),
        ) {
            Record::Capacity(r) => r,
            _ => unreachable!(),
        };
        d.capacity.push(("p".into(), cap("2026-01-01", "eu-de", 500, 10)));
        d.capacity.push(("p".into(), cap("2026-02-01", "eu-de", 600, 30)));
        d.capacity.push(("p".into(), cap("2026-02-01", "eu-fr", 400, 20)));
        let lockup = |start: &str, end: Option<&str>, accelerators: u64| {
            let mut v = json!({"kind": "lockup", "counterparty": "Lab", "resource": "h100", "region": "eu-de", "accelerators": accelerators,
                "start_date": start, "exclusivity": "exclusive", "disclosure_date": start});
            if let Some(end) = end {
                v["end_date"] = json!(end);
            }
            match parse(v) {
                Record::Lockup(r) => r,
                _ => unreachable!(),
            }
        };
        d.lockups.push(("p".into(), lockup("2025-06-01", Some("2026-06-01"), 250)));
        d.lockups.push(("p".into(), lockup("2025-01-01", Some("2026-01-15"), 100)));
        d.lockups.push(("p".into(), lockup("2026-03-01", None, 50)));
        d
    }

    #[test]
    fn queue_series_takes_medians_across_regions_per_tier_and_month() {
        let series = queue_series(&sample()).expect("polars");
        let january_on_demand =
            series.iter().find(|p| p.tier == "on_demand" && p.period_start.to_string() == "2026-01-01").expect("point");
        // Median of 100 and 300 is 200; of 400 and 900, 650; jobs 10 + 30.
        assert_eq!(
            (january_on_demand.p50_seconds, january_on_demand.p90_seconds, january_on_demand.jobs),
            (200.0, 650.0, 40)
        );
        assert_eq!(series.iter().filter(|p| p.tier == "on_demand").count(), 2);
        assert_eq!(series.iter().find(|p| p.tier == "newcomer").map(|p| p.p50_seconds), Some(1000.0));
    }

    #[test]
    fn acceptance_rates_are_accepted_over_decided() {
        let rates = acceptance_by_category(&sample());
        let student = rates.iter().find(|r| r.category == "student").expect("student");
        assert_eq!((student.received, student.accepted, student.rejected), (20, 6, 10));
        assert_eq!(student.rate(), Some(6.0 / 16.0));
        assert_eq!(rates.iter().find(|r| r.category == "enterprise").and_then(AcceptanceRate::rate), Some(0.9));
        // Nothing decided yet: no rate, rather than 0 %.
        assert_eq!(rates.iter().find(|r| r.category == "civic").and_then(AcceptanceRate::rate), None);
    }

    #[test]
    fn tier_summaries_take_medians_over_every_record() {
        let summaries = queue_by_provider_and_tier(&sample()).expect("polars");
        let on_demand = summaries.iter().find(|s| s.tier == "on_demand").expect("tier");
        // p50s 100, 300, 50 -> 100; p90s 400, 900, 200 -> 400; jobs 10 + 30 + 7.
        assert_eq!(
            (on_demand.records, on_demand.p50_seconds, on_demand.p90_seconds, on_demand.jobs),
            (3, 100.0, 400.0, 47)
        );
    }

    #[test]
    fn lockup_shares_use_the_capacity_filed_before_each_deal() {
        let shares = lockup_shares(&sample());
        // Newest first: the 2026-03 deal (50 of the 1000 filed on 2026-02-01), then the
        // 2025 deals, filed before any capacity: unknown.
        assert_eq!(shares.iter().map(|s| s.share).collect::<Vec<_>>(), [Some(0.05), None, None]);
    }

    #[test]
    fn capacity_and_lockups_at_the_latest_date() {
        let d = sample();
        let (date, total, set_aside) = latest_capacity(&d).expect("capacity");
        assert_eq!((date.to_string(), total, set_aside), ("2026-02-01".into(), 1000, 50));
        // On 2026-02-01 only the 250-accelerator deal is in force (one ended, one not started).
        assert_eq!(locked_on(&d, date), 250);
    }
}
