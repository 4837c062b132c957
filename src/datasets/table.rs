//! What each derived table is: its columns, which filters apply to it and the kinds of
//! record it is computed from. Its rows are computed in [`super::derived`].

use super::schema::{self, Field};
use crate::records::RecordKind;

/// A derived table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Queue-time percentiles per provider, tier and month.
    QueuePercentiles,
    /// Acceptance per provider and applicant category.
    AcceptanceRates,
    /// Monthly median prices.
    PriceSeries,
    /// Deals with their capacity share.
    LockupShares,
    /// Each buyer's accelerators in force and share of all disclosed capacity, per month.
    BuyerShares,
    /// Disclosed capacity, deals in force and the buyers' HHI, per month.
    MarketConcentration,
    /// Grades with their components.
    Grades,
}

impl Table {
    /// Its columns.
    pub fn fields(self) -> Vec<Field> {
        match self {
            Self::QueuePercentiles => schema::queue_percentile_fields(),
            Self::AcceptanceRates => schema::acceptance_rate_fields(),
            Self::PriceSeries => schema::price_series_fields(),
            Self::LockupShares => schema::lockup_share_fields(),
            Self::BuyerShares => schema::buyer_share_fields(),
            Self::MarketConcentration => schema::market_concentration_fields(),
            Self::Grades => schema::grade_fields(),
        }
    }

    /// Whether resource, region and date filters apply (grades and the market's tables
    /// always cover everything).
    pub fn filters_by_place_and_time(self) -> bool {
        !matches!(self, Self::Grades | Self::BuyerShares | Self::MarketConcentration)
    }

    /// Whether the table is the market across every provider (no provider filter).
    pub fn spans_providers(self) -> bool {
        matches!(self, Self::BuyerShares | Self::MarketConcentration)
    }

    /// The kinds of record the table is computed from: a latest version of one of these
    /// that no longer decodes is left out of its figures (and named).
    pub fn kinds(self) -> &'static [RecordKind] {
        match self {
            Self::QueuePercentiles => &[RecordKind::QueueTime],
            Self::AcceptanceRates => &[RecordKind::Acceptance],
            Self::PriceSeries => &[RecordKind::Price],
            Self::LockupShares | Self::BuyerShares | Self::MarketConcentration => {
                &[RecordKind::Lockup, RecordKind::Capacity]
            }
            Self::Grades => &[
                RecordKind::QueueTime,
                RecordKind::Acceptance,
                RecordKind::Price,
                RecordKind::Lockup,
                RecordKind::Capacity,
            ],
        }
    }

    /// The kind a resource, region or date filter narrows (lock-up shares are still taken of
    /// every capacity filing, whatever the filter).
    pub(super) fn filtered_kind(self) -> Option<RecordKind> {
        match self {
            Self::QueuePercentiles => Some(RecordKind::QueueTime),
            Self::AcceptanceRates => Some(RecordKind::Acceptance),
            Self::PriceSeries => Some(RecordKind::Price),
            Self::LockupShares => Some(RecordKind::Lockup),
            Self::Grades | Self::BuyerShares | Self::MarketConcentration => None,
        }
    }
}
