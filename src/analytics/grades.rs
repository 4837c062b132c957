//! The grade: a documented, reproducible score from a provider's own disclosures.
//!
//! Six components, each a value in 0..=1, weighted and summed to 0..=100:
//!
//! | component | weight | value |
//! |---|---:|---|
//! | newcomer acceptance | 15 | accepted ÷ (accepted + rejected) for students, first-time founders and civic applicants |
//! | newcomer set-aside | 10 | set-aside share of the latest capacity ÷ 20 %, capped at 1 |
//! | queue fairness | 20 | median wait of the fastest tier ÷ that of the slowest (1 with a single queue) |
//! | lock-up concentration | 25 | 1 − share of the latest capacity held by deals in force |
//! | price transparency | 10 | share of price disclosures that state a cost basis |
//! | reporting completeness | 20 | months filed ÷ months in the window, averaged over queue times, acceptance, prices, capacity |
//!
//! What is not disclosed scores 0: disclosure is the duty being graded. Letters:
//! A ≥ 80, B ≥ 65, C ≥ 50, D ≥ 35, F below.
//!
//! Those are the weights and bands of methodology version 1; the weights, components,
//! parameters and bands a grade uses come from a [`Methodology`] version, which the grade
//! names ([`super::methodology`]).

use std::collections::BTreeSet;

use chrono::NaiveDate;
use polars::prelude::PolarsResult;

use super::Disclosures;
use super::completeness::{KindCompleteness, completeness};
pub use super::methodology::Component;
use super::methodology::{CURRENT, Methodology};
use super::tables::{AcceptanceRate, QueuePoint, acceptance_by_category, latest_capacity, locked_on, queue_series};

/// Applicant categories counted as newcomers (by the current methodology).
pub const NEWCOMER_CATEGORIES: &[&str] = CURRENT.newcomer_categories;
/// Set-aside share that earns full marks (by the current methodology).
pub const FULL_SET_ASIDE: f64 = CURRENT.full_set_aside;

/// One component's result and how it was computed.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentScore {
    /// Which.
    pub component: Component,
    pub weight: f64,
    /// Its value, 0..=1.
    pub value: f64,
    /// The numbers behind it, for the scorecard.
    pub detail: String,
}

/// A provider's grade.
#[derive(Debug, Clone, PartialEq)]
pub struct Grade {
    /// 0..=100.
    pub score: f64,
    /// A–F.
    pub letter: char,
    /// The components, as the methodology lists them.
    pub components: Vec<ComponentScore>,
    /// The methodology version it was computed with.
    pub methodology: u32,
}

/// The letter for a score, by the current methodology.
pub fn letter(score: f64) -> char {
    CURRENT.letter(score)
}

/// What a grade is computed from: a provider's figures, however they were obtained (from
/// its disclosures directly, or from the projection's summaries of them).
#[derive(Debug, Clone)]
pub struct GradeInputs<'a> {
    /// Acceptance per applicant category.
    pub acceptance: &'a [AcceptanceRate],
    /// Capacity at the latest filing date: (date, total, newcomer set-aside).
    pub capacity: Option<(NaiveDate, u64, u64)>,
    /// Accelerators held by deals in force on that date.
    pub locked_at_capacity: u64,
    /// Each tier's median wait over its series (see [`tier_medians`]).
    pub tier_medians: &'a [(String, f64)],
    /// Prices disclosed, and how many of them state a cost basis.
    pub prices: (u64, u64),
    /// Months filed per duty over the window.
    pub completeness: Vec<KindCompleteness>,
}

/// Grades one provider's disclosures over the reporting window `[first, last]` (by month),
/// with the current methodology. A failed computation is an error, never a component of 0.
pub fn grade(d: &Disclosures, window: (NaiveDate, NaiveDate)) -> PolarsResult<Grade> {
    grade_disclosures(d, window, CURRENT)
}

/// Grades one provider's disclosures over the reporting window with `methodology`.
pub fn grade_disclosures(
    d: &Disclosures,
    window: (NaiveDate, NaiveDate),
    methodology: &Methodology,
) -> PolarsResult<Grade> {
    let acceptance = acceptance_by_category(d);
    let queue = queue_series(d)?;
    let capacity = latest_capacity(d);
    let with_cost = d.prices.iter().filter(|(_, p)| p.cost_basis_per_accelerator_hour.is_some()).count();
    let inputs = GradeInputs {
        acceptance: &acceptance,
        capacity,
        locked_at_capacity: capacity.map_or(0, |(date, ..)| locked_on(d, date)),
        tier_medians: &tier_medians(&queue),
        prices: (d.prices.len() as u64, with_cost as u64),
        completeness: completeness(d, window),
    };
    Ok(grade_with(inputs, methodology))
}

/// Each tier's median of the monthly median waits in `series`, by tier name.
pub fn tier_medians(series: &[QueuePoint]) -> Vec<(String, f64)> {
    let tiers: BTreeSet<&str> = series.iter().map(|p| p.tier.as_str()).collect();
    tiers
        .into_iter()
        .filter_map(|tier| {
            // Every tier listed has at least one point, so it has a median.
            let mut waits: Vec<f64> = series.iter().filter(|p| p.tier == tier).map(|p| p.p50_seconds).collect();
            Some((tier.to_owned(), super::median(&mut waits)?))
        })
        .collect()
}

/// The grade of a provider's figures, with the current methodology.
pub fn grade_from(inputs: GradeInputs<'_>) -> Grade {
    grade_with(inputs, CURRENT)
}

/// The grade of a provider's figures with `methodology`: only the components it lists, with
/// its weights, parameters and letter bands, in its order.
pub fn grade_with(inputs: GradeInputs<'_>, methodology: &Methodology) -> Grade {
    let mut components = Vec::new();
    let mut push = |component: Component, value: f64, detail: String| {
        if let Some(weight) = methodology.weight(component) {
            components.push(ComponentScore { component, weight, value: value.clamp(0.0, 1.0), detail });
        }
    };
    let full_set_aside = methodology.full_set_aside;

    let rates = inputs.acceptance;
    let (accepted, rejected) = rates
        .iter()
        .filter(|r| methodology.newcomer_categories.contains(&r.category.as_str()))
        .fold((0, 0), |(a, r), rate| (super::add(a, rate.accepted), super::add(r, rate.rejected)));
    match super::add(accepted, rejected) {
        0 => push(Component::NewcomerAcceptance, 0.0, "no decided newcomer applications disclosed".into()),
        decided => push(
            Component::NewcomerAcceptance,
            accepted as f64 / decided as f64,
            format!("{accepted} accepted of {decided} decided newcomer applications"),
        ),
    }

    let capacity = inputs.capacity;
    match capacity {
        Some((date, total, set_aside)) if total > 0 => {
            let share = set_aside as f64 / total as f64;
            push(
                Component::SetAside,
                share / full_set_aside,
                format!(
                    "{set_aside} of {total} accelerators ({:.1} %) set aside on {date}; full marks at {:.0} %",
                    share * 100.0,
                    full_set_aside * 100.0
                ),
            );
        }
        _ => push(Component::SetAside, 0.0, "no capacity disclosed".into()),
    }

    let tier_medians = inputs.tier_medians;
    match (
        tier_medians.iter().min_by(|a, b| a.1.total_cmp(&b.1)),
        tier_medians.iter().max_by(|a, b| a.1.total_cmp(&b.1)),
    ) {
        (Some(fast), Some(slow)) if slow.1 > 0.0 => push(
            Component::QueueFairness,
            fast.1 / slow.1,
            if tier_medians.len() == 1 {
                format!("one queue ({}), median wait {:.0} s", fast.0, fast.1)
            } else {
                format!("fastest tier {} waits {:.0} s (median), slowest {} {:.0} s", fast.0, fast.1, slow.0, slow.1)
            },
        ),
        (Some(_), Some(_)) => push(Component::QueueFairness, 1.0, "every tier starts at once".into()),
        _ => push(Component::QueueFairness, 0.0, "no queue times disclosed".into()),
    }

    match capacity {
        Some((date, total, _)) if total > 0 => {
            let locked = inputs.locked_at_capacity;
            let share = (locked as f64 / total as f64).min(1.0);
            push(
                Component::LockupConcentration,
                1.0 - share,
                format!(
                    "{locked} of {total} accelerators ({:.1} %) locked up by deals in force on {date}",
                    share * 100.0
                ),
            );
        }
        _ => push(Component::LockupConcentration, 0.0, "no capacity disclosed, so lock-up shares are unknown".into()),
    }

    match inputs.prices {
        (0, _) => push(Component::PriceTransparency, 0.0, "no prices disclosed".into()),
        (count, with_cost) => push(
            Component::PriceTransparency,
            with_cost as f64 / count as f64,
            format!("{with_cost} of {count} prices state a cost basis"),
        ),
    }

    let duties = inputs.completeness;
    let months = duties.first().map_or(1, |k| k.months);
    let value = duties.iter().map(KindCompleteness::share).sum::<f64>() / duties.len() as f64;
    let detail =
        duties.iter().map(|k| format!("{} {}/{months}", k.kind, k.months_filed)).collect::<Vec<_>>().join(", ");
    push(Component::Completeness, value, format!("months filed of {months}: {detail}"));

    let order = |c: &ComponentScore| methodology.weights.iter().position(|(w, _)| *w == c.component);
    components.sort_by_key(order);
    let total_weight: f64 = components.iter().map(|c| c.weight).sum();
    let score = 100.0 * components.iter().map(|c| c.weight * c.value).sum::<f64>() / total_weight;
    Grade { score, letter: methodology.letter(score), components, methodology: methodology.version }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::tables::tests::sample;

    fn date(text: &str) -> NaiveDate {
        text.parse().expect("date")
    }

    #[test]
    fn the_sample_provider_grades_as_computed_by_hand() {
        let grade = grade(&sample(), (date("2026-01-01"), date("2026-02-01"))).expect("grade");
        let value = |c: Component| grade.components.iter().find(|s| s.component == c).expect("component").value;
        // Students 6 of 16 decided; civic 0 of 0: 6/16.
        assert_eq!(value(Component::NewcomerAcceptance), 6.0 / 16.0);
        // 50 of 1000 set aside = 5 %, a quarter of the 20 % that earns full marks.
        assert!((value(Component::SetAside) - 0.25).abs() < 1e-12);
        // on_demand medians: January 200, February 50 -> median 125; newcomer 1000.
        assert_eq!(value(Component::QueueFairness), 125.0 / 1000.0);
        // 250 of 1000 locked on 2026-02-01.
        assert_eq!(value(Component::LockupConcentration), 0.75);
        // No prices.
        assert_eq!(value(Component::PriceTransparency), 0.0);
        // 2 months: queue times 2, acceptance 1, prices 0, capacity 2 -> (1 + 0.5 + 0 + 1) / 4.
        assert_eq!(value(Component::Completeness), 0.625);
        let expected =
            (15.0 * 6.0 / 16.0 + 10.0 * 0.25 + 20.0 * 0.125 + 25.0 * 0.75 + 10.0 * 0.0 + 20.0 * 0.625) / 100.0 * 100.0;
        assert!((grade.score - expected).abs() < 1e-9, "{} vs {expected}", grade.score);
        assert_eq!(grade.letter, letter(expected));
        assert_eq!(grade.letter, 'D');
    }

    #[test]
    fn a_provider_that_discloses_nothing_scores_zero() {
        let grade = grade(&Disclosures::default(), (date("2026-01-01"), date("2026-12-01"))).expect("grade");
        assert_eq!((grade.score, grade.letter), (0.0, 'F'));
        assert!(grade.components.iter().all(|c| c.value == 0.0 && !c.detail.is_empty()));
    }

    #[test]
    fn weights_sum_to_one_hundred() {
        assert_eq!(Component::ALL.iter().map(|(_, w)| w).sum::<f64>(), 100.0);
    }

    /// A later version with other weights, fewer components, another set-aside mark and
    /// other bands (hypothetical: only version 1 is published) grades differently, and
    /// grading with version 1 still gives exactly version 1's figures.
    #[test]
    fn an_earlier_version_reproduces_its_figures() {
        static LATER: Methodology = Methodology {
            version: 2,
            introduced: "2027-01-01",
            weights: &[
                (Component::LockupConcentration, 50.0),
                (Component::NewcomerAcceptance, 30.0),
                (Component::Completeness, 20.0),
            ],
            newcomer_categories: &["student"],
            full_set_aside: 0.10,
            letters: &[(90.0, 'A')],
            what_changed: "test",
        };
        let window = (date("2026-01-01"), date("2026-02-01"));
        let published = grade(&sample(), window).expect("grade");
        assert_eq!(published.methodology, 1);

        let later = grade_disclosures(&sample(), window, &LATER).expect("grade");
        assert_eq!(later.methodology, 2);
        let listed: Vec<(Component, f64)> = later.components.iter().map(|c| (c.component, c.weight)).collect();
        assert_eq!(listed, LATER.weights, "its components, weights and order");
        // Lock-ups 0.75, students 6 of 16, completeness 0.625.
        let expected = 50.0 * 0.75 + 30.0 * 6.0 / 16.0 + 20.0 * 0.625;
        assert!((later.score - expected).abs() < 1e-9, "{} vs {expected}", later.score);
        assert_eq!(later.letter, 'F', "its own bands");

        let again =
            grade_disclosures(&sample(), window, crate::analytics::methodology::find(1).expect("v1")).expect("grade");
        assert_eq!(again, published, "version 1 reproduces the version 1 grade, bit for bit");
    }

    /// A failed computation is an error, not a grade: the queue component would otherwise
    /// read 0, "no queue times disclosed", for a provider that disclosed them (issue 20).
    #[test]
    fn a_failed_computation_is_an_error_not_a_score_of_zero() {
        let window = (date("2026-01-01"), date("2026-02-01"));
        let fair = grade(&sample(), window).expect("grade");
        assert!(fair.components.iter().any(|c| c.component == Component::QueueFairness && c.value > 0.0));
        crate::analytics::failure::inject(true);
        let failed = grade(&sample(), window);
        crate::analytics::failure::inject(false);
        assert!(failed.is_err(), "a failure became a grade: {failed:?}");
    }
}
