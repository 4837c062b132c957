//! The home page's headline figures, across every provider: how long newcomers
//! wait against on-demand customers (and month by month), how often newcomers are
//! accepted against everyone else, how much disclosed capacity is locked up against
//! how much is set aside, which providers lock up the largest shares, and which are
//! most overdue on their filings.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};

use super::capacity::CapacityPoint;
use super::compliance::{PeriodStatus, Status};
use super::grades::NEWCOMER_CATEGORIES;
use super::tables::{AcceptanceRate, QueuePoint};
use super::{add, median};
use crate::records::RecordKind;

/// One provider's inputs to the headline.
#[derive(Debug, Clone, Copy)]
pub struct ProviderInputs<'a> {
    /// Its queue series (per tier and month).
    pub queue: &'a [QueuePoint],
    /// Its acceptance per applicant category.
    pub acceptance: &'a [AcceptanceRate],
    /// Its latest capacity (date, total, set-aside) and what deals in force held then.
    pub capacity: Option<(NaiveDate, u64, u64, u64)>,
}

/// The headline figures. Each is `None` when nothing disclosed supports it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Headline {
    /// Months the wait figures cover: (first, last).
    pub wait_window: Option<(NaiveDate, NaiveDate)>,
    /// Median of the monthly median waits of the newcomer tier, hours.
    pub newcomer_wait_hours: Option<f64>,
    /// Same for the on-demand tier.
    pub on_demand_wait_hours: Option<f64>,
    /// Month by month over the same window: the median across providers of each tier's
    /// monthly median waits, hours (the headline's wait figures, one month at a time).
    pub monthly_waits: Vec<MonthlyWait>,
    /// Newcomer applications: (accepted, decided).
    pub newcomer_decisions: (u64, u64),
    /// Applications of every other category: (accepted, decided).
    pub other_decisions: (u64, u64),
    /// Latest capacity of every provider, summed: (total, set aside, locked by deals in force).
    pub capacity: (u64, u64, u64),
}

impl Headline {
    /// Accepted ÷ decided newcomer applications.
    pub fn newcomer_acceptance(&self) -> Option<f64> {
        rate(self.newcomer_decisions)
    }

    /// Accepted ÷ decided applications of every other category.
    pub fn other_acceptance(&self) -> Option<f64> {
        rate(self.other_decisions)
    }

    /// Locked ÷ total disclosed capacity.
    pub fn locked_share(&self) -> Option<f64> {
        (self.capacity.0 > 0).then(|| self.capacity.2 as f64 / self.capacity.0 as f64)
    }

    /// Set aside ÷ total disclosed capacity.
    pub fn set_aside_share(&self) -> Option<f64> {
        (self.capacity.0 > 0).then(|| self.capacity.1 as f64 / self.capacity.0 as f64)
    }
}

/// Accepted ÷ decided, when anything was decided.
fn rate((accepted, decided): (u64, u64)) -> Option<f64> {
    (decided > 0).then(|| accepted as f64 / decided as f64)
}

/// One month of the market-wide waits.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthlyWait {
    /// First day of the month.
    pub month: NaiveDate,
    /// Median of the newcomer tier's monthly median waits that month, hours.
    pub newcomer_hours: Option<f64>,
    /// Same for the on-demand tier.
    pub on_demand_hours: Option<f64>,
}

/// Headline over the twelve months ending with the latest month any queue time covers.
pub fn headline<'a>(providers: impl IntoIterator<Item = ProviderInputs<'a>> + Clone) -> Headline {
    let latest = providers.clone().into_iter().flat_map(|p| p.queue.iter().map(|q| q.period_start)).max();
    let first = latest.and_then(|l| l.checked_sub_months(Months::new(11)));
    let waits = |tier: &str| {
        let mut values: Vec<f64> = providers
            .clone()
            .into_iter()
            .flat_map(|p| p.queue.iter())
            .filter(|q| q.tier == tier && first.is_some_and(|f| q.period_start >= f))
            .map(|q| q.p50_seconds / 3600.0)
            .collect();
        median(&mut values)
    };
    // Each tier's monthly values, every provider's, in the window: (newcomer, on-demand).
    let mut by_month: BTreeMap<NaiveDate, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for q in providers.clone().into_iter().flat_map(|p| p.queue.iter()) {
        if first.is_none_or(|f| q.period_start < f) {
            continue;
        }
        let month = q.period_start.with_day(1).unwrap_or(q.period_start);
        let held = by_month.entry(month).or_default();
        match q.tier.as_str() {
            "newcomer" => held.0.push(q.p50_seconds / 3600.0),
            "on_demand" => held.1.push(q.p50_seconds / 3600.0),
            _ => {}
        }
    }
    let monthly_waits = by_month
        .into_iter()
        .map(|(month, (mut newcomer, mut on_demand))| MonthlyWait {
            month,
            newcomer_hours: median(&mut newcomer),
            on_demand_hours: median(&mut on_demand),
        })
        .filter(|m| m.newcomer_hours.is_some() || m.on_demand_hours.is_some())
        .collect();
    let mut out = Headline {
        wait_window: first.zip(latest),
        newcomer_wait_hours: waits("newcomer"),
        on_demand_wait_hours: waits("on_demand"),
        monthly_waits,
        ..Headline::default()
    };
    for p in providers {
        for rate in p.acceptance {
            let sums = if NEWCOMER_CATEGORIES.contains(&rate.category.as_str()) {
                &mut out.newcomer_decisions
            } else {
                &mut out.other_decisions
            };
            sums.0 = add(sums.0, rate.accepted);
            sums.1 = add(sums.1, add(rate.accepted, rate.rejected));
        }
        if let Some((_, total, set_aside, locked)) = p.capacity {
            out.capacity.0 = add(out.capacity.0, total);
            out.capacity.1 = add(out.capacity.1, set_aside);
            out.capacity.2 = add(out.capacity.2, locked.min(total));
        }
    }
    out
}

/// One period's acceptance across providers: newcomer categories against everyone else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodAcceptance {
    /// First day of the month the periods start in.
    pub month: NaiveDate,
    /// Newcomer categories' applications: (accepted, decided).
    pub newcomers: (u64, u64),
    /// Every other category's: (accepted, decided).
    pub others: (u64, u64),
}

impl PeriodAcceptance {
    /// Accepted ÷ decided newcomer applications.
    pub fn newcomer_rate(&self) -> Option<f64> {
        rate(self.newcomers)
    }

    /// Accepted ÷ decided applications of everyone else.
    pub fn other_rate(&self) -> Option<f64> {
        rate(self.others)
    }
}

/// Acceptance month by month across providers, from the projection's acceptance buckets as
/// (month, the bucket's sums per category): one bucket per provider and month, so this is
/// as many rows as providers times months, whatever the ledger's size.
pub fn acceptance_by_month<'a>(
    buckets: impl IntoIterator<Item = (NaiveDate, &'a [AcceptanceRate])>,
) -> Vec<PeriodAcceptance> {
    let mut months: BTreeMap<NaiveDate, PeriodAcceptance> = BTreeMap::new();
    for (month, rates) in buckets {
        let month = month.with_day(1).unwrap_or(month);
        let held = months.entry(month).or_insert(PeriodAcceptance { month, newcomers: (0, 0), others: (0, 0) });
        for r in rates {
            let sums =
                if NEWCOMER_CATEGORIES.contains(&r.category.as_str()) { &mut held.newcomers } else { &mut held.others };
            sums.0 = add(sums.0, r.accepted);
            sums.1 = add(sums.1, add(r.accepted, r.rejected));
        }
    }
    months.into_values().filter(|m| m.newcomers.1 > 0 || m.others.1 > 0).collect()
}

/// The `n` providers locking up the largest shares of their latest disclosed capacity, as
/// (provider, its latest capacity point), largest first; providers with nothing locked are
/// left out. The share is the scorecard's ([`CapacityPoint::locked_share`]).
pub fn largest_lockups<'a>(
    providers: impl IntoIterator<Item = (&'a str, Option<(NaiveDate, u64, u64, u64)>)>,
    n: usize,
) -> Vec<(String, CapacityPoint)> {
    let mut shares: Vec<(String, CapacityPoint)> = providers
        .into_iter()
        .filter_map(|(provider, capacity)| {
            let (as_of, total, set_aside, locked) = capacity?;
            let point = CapacityPoint { as_of, total, set_aside, locked };
            point.locked_share().filter(|s| *s > 0.0).map(|_| (provider.to_owned(), point))
        })
        .collect();
    let share = |p: &CapacityPoint| p.locked_share().unwrap_or(0.0);
    shares.sort_by(|a, b| share(&b.1).total_cmp(&share(&a.1)).then_with(|| a.0.cmp(&b.0)));
    shares.truncate(n);
    shares
}

/// A provider's filings past their deadline and still missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overdue {
    /// Provider slug.
    pub provider: String,
    /// Periods missing past their deadline.
    pub missing: u32,
    /// The oldest of them: its kind, period start and deadline.
    pub oldest: (RecordKind, NaiveDate, NaiveDate),
    /// Days from that deadline to `today`.
    pub days: i64,
}

/// The `n` providers most overdue on their filings as of `today`: ranked by how long the
/// oldest missing filing is past its deadline, then by how many are missing. Late filings
/// that did arrive are not overdue (the compliance report counts them as late).
pub fn most_overdue(periods: &[PeriodStatus], today: NaiveDate, n: usize) -> Vec<Overdue> {
    let mut by_provider: BTreeMap<&str, Overdue> = BTreeMap::new();
    for p in periods.iter().filter(|p| p.status == Status::Missing) {
        let days = (today - p.deadline).num_days();
        let held = by_provider.entry(p.provider.as_str()).or_insert_with(|| Overdue {
            provider: p.provider.clone(),
            missing: 0,
            oldest: (p.kind, p.period_start, p.deadline),
            days,
        });
        held.missing += 1;
        if p.deadline < held.oldest.2 {
            held.oldest = (p.kind, p.period_start, p.deadline);
            held.days = days;
        }
    }
    let mut out: Vec<Overdue> = by_provider.into_values().collect();
    out.sort_by(|a, b| b.days.cmp(&a.days).then(b.missing.cmp(&a.missing)).then_with(|| a.provider.cmp(&b.provider)));
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(tier: &str, year: i32, month: u32, hours: f64) -> QueuePoint {
        QueuePoint {
            tier: tier.into(),
            period_start: NaiveDate::from_ymd_opt(year, month, 1).expect("date"),
            p50_seconds: hours * 3600.0,
            p90_seconds: 0.0,
            jobs: 1,
        }
    }

    fn rate(category: &str, accepted: u64, rejected: u64) -> AcceptanceRate {
        AcceptanceRate { category: category.into(), received: accepted + rejected, accepted, rejected }
    }

    #[test]
    fn headline_figures_as_computed_by_hand() {
        let a_queue =
            [wait("newcomer", 2026, 3, 10.0), wait("newcomer", 2025, 1, 99.0), wait("on_demand", 2026, 3, 1.0)];
        let b_queue = [wait("newcomer", 2025, 6, 4.0), wait("newcomer", 2025, 4, 7.0), wait("on_demand", 2025, 6, 3.0)];
        let a_acceptance = [rate("student", 3, 7), rate("enterprise", 50, 0)];
        let b_acceptance = [rate("civic", 5, 5)];
        let inputs = [
            ProviderInputs {
                queue: &a_queue,
                acceptance: &a_acceptance,
                capacity: Some((NaiveDate::MIN, 1000, 50, 600)),
            },
            ProviderInputs {
                queue: &b_queue,
                acceptance: &b_acceptance,
                capacity: Some((NaiveDate::MIN, 200, 40, 500)),
            },
        ];
        let h = headline(inputs);
        // Window: 2025-04 .. 2026-03, so the 2025-01 wait of 99 h is out; newcomer waits 10, 4, 7 -> 7.
        assert_eq!(
            h.wait_window.map(|(f, l)| (f.to_string(), l.to_string())),
            Some(("2025-04-01".into(), "2026-03-01".into()))
        );
        assert_eq!(h.newcomer_wait_hours, Some(7.0));
        assert_eq!(h.on_demand_wait_hours, Some(2.0));
        // Students 3 of 10 and civic 5 of 10; enterprise is not a newcomer category.
        assert_eq!(h.newcomer_decisions, (8, 20));
        assert_eq!(h.other_decisions, (50, 50));
        assert_eq!(h.other_acceptance(), Some(1.0));
        // Month by month, in the same window: the two providers' points per tier.
        let months: Vec<(String, Option<f64>, Option<f64>)> =
            h.monthly_waits.iter().map(|m| (m.month.to_string(), m.newcomer_hours, m.on_demand_hours)).collect();
        assert_eq!(
            months,
            [
                ("2025-04-01".into(), Some(7.0), None),
                ("2025-06-01".into(), Some(4.0), Some(3.0)),
                ("2026-03-01".into(), Some(10.0), Some(1.0)),
            ]
        );
        assert_eq!(h.newcomer_acceptance(), Some(0.4));
        // Locked capped at each provider's total: 600 + 200 of 1200.
        assert_eq!(h.capacity, (1200, 90, 800));
        assert_eq!(h.set_aside_share(), Some(0.075));
    }

    #[test]
    fn nothing_disclosed_gives_no_figures() {
        let h = headline(std::iter::empty());
        assert_eq!(h, Headline::default());
        assert_eq!((h.newcomer_acceptance(), h.locked_share()), (None, None));
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("date")
    }

    #[test]
    fn acceptance_by_month_sums_every_providers_buckets_per_group() {
        let a = [rate("student", 1, 3), rate("enterprise", 8, 2)];
        let b = [rate("civic", 2, 0), rate("startup", 0, 0)];
        let later = [rate("first_time_founder", 0, 0)];
        let months = acceptance_by_month([
            (day("2026-02-01"), &a[..]),
            (day("2026-02-01"), &b[..]),
            (day("2026-01-01"), &b[..1]),
            // Nothing decided: no point.
            (day("2026-03-01"), &later[..]),
        ]);
        assert_eq!(
            months,
            [
                PeriodAcceptance { month: day("2026-01-01"), newcomers: (2, 2), others: (0, 0) },
                PeriodAcceptance { month: day("2026-02-01"), newcomers: (3, 6), others: (8, 10) },
            ]
        );
        assert_eq!((months[1].newcomer_rate(), months[1].other_rate()), (Some(0.5), Some(0.8)));
        assert_eq!(months[0].other_rate(), None);
    }

    #[test]
    fn the_largest_lockups_are_ranked_by_share_of_latest_capacity() {
        let at = day("2026-10-01");
        let ranked = largest_lockups(
            [
                ("small", Some((at, 1000, 0, 100))),
                ("none", Some((at, 1000, 0, 0))),
                ("big", Some((at, 200, 10, 150))),
                ("silent", None),
                ("empty", Some((at, 0, 0, 5))),
                ("middle", Some((at, 100, 0, 50))),
            ],
            2,
        );
        let shares: Vec<(&str, Option<f64>)> = ranked.iter().map(|(p, c)| (p.as_str(), c.locked_share())).collect();
        assert_eq!(shares, [("big", Some(0.75)), ("middle", Some(0.5))]);
    }

    fn period(provider: &str, kind: RecordKind, start: &str, deadline: &str, status: Status) -> PeriodStatus {
        PeriodStatus {
            provider: provider.into(),
            kind,
            cadence: super::super::compliance::Cadence::Monthly,
            period_start: day(start),
            period_last_day: day(start),
            deadline: day(deadline),
            status,
            first_filed: None,
            filings: 0,
            amendments: 0,
            last_amended: None,
        }
    }

    #[test]
    fn the_most_overdue_are_ranked_by_their_oldest_missing_filing() {
        let periods = [
            period("a", RecordKind::Price, "2026-08-01", "2026-09-15", Status::Missing),
            period("a", RecordKind::QueueTime, "2026-07-01", "2026-08-15", Status::Missing),
            period("b", RecordKind::Acceptance, "2026-06-01", "2026-07-30", Status::Late(40)),
            period("b", RecordKind::Capacity, "2026-09-01", "2026-10-15", Status::Missing),
            period("c", RecordKind::Capacity, "2026-07-01", "2026-08-15", Status::Missing),
            period("d", RecordKind::Capacity, "2026-11-01", "2026-12-15", Status::NotYetDue),
        ];
        let ranked = most_overdue(&periods, day("2026-11-14"), 5);
        let seen: Vec<(&str, u32, i64)> = ranked.iter().map(|o| (o.provider.as_str(), o.missing, o.days)).collect();
        // a and c are both 91 days past 15 August; a has two missing, so it comes first.
        assert_eq!(seen, [("a", 2, 91), ("c", 1, 91), ("b", 1, 30)]);
        assert_eq!(ranked[0].oldest, (RecordKind::QueueTime, day("2026-07-01"), day("2026-08-15")));
        assert_eq!(most_overdue(&periods, day("2026-11-14"), 1).len(), 1);
    }
}
