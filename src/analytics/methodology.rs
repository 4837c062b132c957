//! Methodology versions: which components a grade has, their weights and parameters, and
//! the letter bands, under a number that every grade, grades dataset and snapshot names.
//!
//! A change of weights, components, parameters or bands is a new version appended to
//! [`VERSIONS`] (never an edit of a published one), with what changed: `/methodology` lists
//! them all, and `gatelog verify figures` recomputes a snapshot's grades with the version
//! the snapshot names, so figures published under an earlier version stay reproducible
//! from the ledger (issue 19, "Methodology versions").

/// A graded aspect of access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// Acceptance rate of newcomer categories.
    NewcomerAcceptance,
    /// Capacity set aside for newcomers.
    SetAside,
    /// How much longer the slowest tier waits than the fastest.
    QueueFairness,
    /// Capacity locked up by deals.
    LockupConcentration,
    /// Cost basis disclosed with prices.
    PriceTransparency,
    /// Filings made, month by month.
    Completeness,
}

impl Component {
    /// Every component the current methodology grades, with its weight, in display order.
    pub const ALL: &[(Component, f64)] = CURRENT.weights;

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::NewcomerAcceptance => "Newcomer acceptance",
            Self::SetAside => "Newcomer set-aside",
            Self::QueueFairness => "Queue fairness",
            Self::LockupConcentration => "Lock-up concentration",
            Self::PriceTransparency => "Price transparency",
            Self::Completeness => "Reporting completeness",
        }
    }
}

/// One version of the grading rules.
#[derive(Debug, PartialEq)]
pub struct Methodology {
    /// Its number: 1, 2, … in order of introduction.
    pub version: u32,
    /// The day it took effect (ISO 8601).
    pub introduced: &'static str,
    /// Every component graded, with its weight, in display order.
    pub weights: &'static [(Component, f64)],
    /// Applicant categories counted as newcomers.
    pub newcomer_categories: &'static [&'static str],
    /// Set-aside share that earns full marks.
    pub full_set_aside: f64,
    /// Lowest score of each letter but F, best first.
    pub letters: &'static [(f64, char)],
    /// What changed from the version before (the first says where it comes from).
    pub what_changed: &'static str,
}

impl Methodology {
    /// The weight of `component`, if this version grades it.
    pub fn weight(&self, component: Component) -> Option<f64> {
        self.weights.iter().find(|(c, _)| *c == component).map(|(_, w)| *w)
    }

    pub fn letter(&self, score: f64) -> char {
        self.letters.iter().find(|(from, _)| score >= *from).map_or('F', |(_, letter)| *letter)
    }
}

/// Version 1: the weights the grading code has used since it was written. The git history of
/// `src/analytics/grades.rs` (25 November to 1 December 2026) shows no change of weights,
/// components, parameters or bands before versions were recorded, so every grade published
/// so far is a version 1 grade.
pub const V1: Methodology = Methodology {
    version: 1,
    introduced: "2026-11-25",
    weights: &[
        (Component::NewcomerAcceptance, 15.0),
        (Component::SetAside, 10.0),
        (Component::QueueFairness, 20.0),
        (Component::LockupConcentration, 25.0),
        (Component::PriceTransparency, 10.0),
        (Component::Completeness, 20.0),
    ],
    newcomer_categories: &["student", "first_time_founder", "civic"],
    full_set_aside: 0.20,
    letters: &[(80.0, 'A'), (65.0, 'B'), (50.0, 'C'), (35.0, 'D')],
    what_changed: "The first published methodology: six components weighted 15, 10, 20, 25, 10 and 20. \
                   Grades published before versions were recorded were computed with it.",
};

/// Every version ever published, oldest first. Append; never edit or remove one.
pub const VERSIONS: &[Methodology] = &[V1];

/// The version the site grades with now: the newest.
pub const CURRENT: &Methodology = &VERSIONS[VERSIONS.len() - 1];

/// A version this build does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown methodology version {0} (this gatelog knows {known})", known = known())]
pub struct UnknownMethodology(pub u32);

fn known() -> String {
    VERSIONS.iter().map(|m| m.version.to_string()).collect::<Vec<_>>().join(", ")
}

/// The version numbered `version`.
pub fn find(version: u32) -> Result<&'static Methodology, UnknownMethodology> {
    VERSIONS.iter().find(|m| m.version == version).ok_or(UnknownMethodology(version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_numbered_in_order_with_weights_summing_to_one_hundred() {
        for (i, m) in VERSIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "versions are 1, 2, … without gaps");
            assert_eq!(m.weights.iter().map(|(_, w)| w).sum::<f64>(), 100.0, "version {}", m.version);
            assert!(!m.what_changed.is_empty());
            assert!(m.introduced.parse::<chrono::NaiveDate>().is_ok(), "{}", m.introduced);
        }
        assert!(VERSIONS.windows(2).all(|w| w[0].introduced <= w[1].introduced));
        assert_eq!(CURRENT.version as usize, VERSIONS.len());
    }

    #[test]
    fn an_unknown_version_is_refused_by_number() {
        assert_eq!(find(1), Ok(&V1));
        let error = find(7).expect_err("unknown");
        assert_eq!(error, UnknownMethodology(7));
        assert_eq!(error.to_string(), "unknown methodology version 7 (this gatelog knows 1)");
    }
}
