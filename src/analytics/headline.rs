//! The home page's headline figures, across every provider: how long newcomers
//! wait against on-demand customers, how often newcomers are accepted, and how
//! much disclosed capacity is locked up against how much is set aside.

use chrono::{Months, NaiveDate};

use super::grades::NEWCOMER_CATEGORIES;
use super::metrics::{AcceptanceRate, QueuePoint};
use super::{add, median};

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
    /// Newcomer applications: (accepted, decided).
    pub newcomer_decisions: (u64, u64),
    /// Latest capacity of every provider, summed: (total, set aside, locked by deals in force).
    pub capacity: (u64, u64, u64),
}

impl Headline {
    /// Accepted ÷ decided newcomer applications.
    pub fn newcomer_acceptance(&self) -> Option<f64> {
        let (accepted, decided) = self.newcomer_decisions;
        (decided > 0).then(|| accepted as f64 / decided as f64)
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
    let mut out = Headline {
        wait_window: first.zip(latest),
        newcomer_wait_hours: waits("newcomer"),
        on_demand_wait_hours: waits("on_demand"),
        ..Headline::default()
    };
    for p in providers {
        for rate in p.acceptance.iter().filter(|r| NEWCOMER_CATEGORIES.contains(&r.category.as_str())) {
            out.newcomer_decisions.0 = add(out.newcomer_decisions.0, rate.accepted);
            out.newcomer_decisions.1 = add(out.newcomer_decisions.1, add(rate.accepted, rate.rejected));
        }
        if let Some((_, total, set_aside, locked)) = p.capacity {
            out.capacity.0 = add(out.capacity.0, total);
            out.capacity.1 = add(out.capacity.1, set_aside);
            out.capacity.2 = add(out.capacity.2, locked.min(total));
        }
    }
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
}
