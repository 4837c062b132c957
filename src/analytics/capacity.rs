//! Capacity over time: on each date a provider filed capacity, how much of it
//! was set aside for newcomers and how much was locked up by deals in force.
//! The chart of lock-ups against the set-aside is drawn from this.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::Disclosures;
use super::tables::locked_on;

/// Capacity filed on one date, summed over resources and regions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapacityPoint {
    /// The filing date.
    pub as_of: NaiveDate,
    /// Accelerators in total.
    pub total: u64,
    /// Set aside for newcomers.
    pub set_aside: u64,
    /// Held by lock-ups in force on that date.
    pub locked: u64,
}

impl CapacityPoint {
    /// Set-aside ÷ total (`None` for zero capacity).
    pub fn set_aside_share(&self) -> Option<f64> {
        (self.total > 0).then(|| self.set_aside as f64 / self.total as f64)
    }

    /// Locked ÷ total (`None` for zero capacity). May exceed 1 when deals outgrow filings,
    /// which is shown as it is rather than clipped.
    pub fn locked_share(&self) -> Option<f64> {
        (self.total > 0).then(|| self.locked as f64 / self.total as f64)
    }
}

/// One point per capacity filing date, oldest first.
pub fn capacity_over_time(disclosures: &Disclosures) -> Vec<CapacityPoint> {
    let mut by_date: BTreeMap<NaiveDate, (u64, u64)> = BTreeMap::new();
    for (_, c) in &disclosures.capacity {
        let (total, set_aside) = by_date.entry(c.as_of).or_default();
        *total = super::add(*total, c.total_accelerators);
        *set_aside = super::add(*set_aside, c.newcomer_set_aside);
    }
    by_date
        .into_iter()
        .map(|(as_of, (total, set_aside))| CapacityPoint {
            as_of,
            total,
            set_aside,
            locked: locked_on(disclosures, as_of),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::tables::tests::sample;

    #[test]
    fn each_filing_date_sums_regions_and_counts_deals_in_force() {
        let points = capacity_over_time(&sample());
        let summary: Vec<(String, u64, u64, u64)> =
            points.iter().map(|p| (p.as_of.to_string(), p.total, p.set_aside, p.locked)).collect();
        // The sample: 500 (10 set aside) in January; 600 + 400 (30 + 20) in February;
        // deals of 250 (2025-06 to 2026-06) and 100 (2025-01 to 2026-01-15) in force in January,
        // only the 250 in February; the 50 starts in March.
        assert_eq!(summary, vec![("2026-01-01".into(), 500, 10, 350), ("2026-02-01".into(), 1000, 50, 250)]);
        assert_eq!(points[0].locked_share(), Some(0.7));
        assert_eq!(points[1].set_aside_share(), Some(0.05));
    }

    #[test]
    fn no_capacity_means_no_points() {
        assert!(capacity_over_time(&Disclosures::default()).is_empty());
    }
}
