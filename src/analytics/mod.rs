//! Analytics: the latest disclosures turned into the figures the site shows.
//! Pure functions (polars for the grouping), no database or HTTP: the caller
//! passes the latest version of every record, so amended values replace the
//! originals and everything can be recomputed from the public entries.

pub mod grades;
pub mod metrics;

use crate::records::kinds::{Acceptance, Capacity, Lockup, Price, QueueTime};
use crate::records::{Record, RecordKind};

/// The latest version of every disclosure, by kind, each with its provider.
#[derive(Debug, Clone, Default)]
pub struct Disclosures {
    /// Queue times.
    pub queue_times: Vec<(String, QueueTime)>,
    /// Acceptance counts.
    pub acceptance: Vec<(String, Acceptance)>,
    /// Prices.
    pub prices: Vec<(String, Price)>,
    /// Lock-ups.
    pub lockups: Vec<(String, Lockup)>,
    /// Capacity.
    pub capacity: Vec<(String, Capacity)>,
}

impl Disclosures {
    /// Sorts parsed records into their kinds. Records that no longer parse (an
    /// older format, say) are skipped and counted, never guessed at.
    pub fn from_records(records: impl IntoIterator<Item = (String, RecordKind, serde_json::Value)>) -> (Self, usize) {
        let mut out = Self::default();
        let mut skipped = 0;
        for (provider, kind, value) in records {
            let Some(map) = value.as_object().cloned() else {
                skipped += 1;
                continue;
            };
            match Record::parse_kind(kind, map) {
                Ok(Record::QueueTime(r)) => out.queue_times.push((provider, r)),
                Ok(Record::Acceptance(r)) => out.acceptance.push((provider, r)),
                Ok(Record::Price(r)) => out.prices.push((provider, r)),
                Ok(Record::Lockup(r)) => out.lockups.push((provider, r)),
                Ok(Record::Capacity(r)) => out.capacity.push((provider, r)),
                Err(_) => skipped += 1,
            }
        }
        (out, skipped)
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
        }
    }
}
