//! The one definition of "the latest version", as a pure fold over entries in log order.
//!
//! An entry is the latest version of its record until an entry that `supersedes` it is
//! appended. Ingest sets `supersedes` to the current latest version with the same
//! (provider, kind, natural key), read from the projection this rule maintains, so the
//! field and the projection agree by construction; this fold checks that they do (an
//! amendment of something that is not the latest, or a second "first" version of a key,
//! is a [`Conflict`]). The database keeps the same state in `projection_latest`
//! (`crate::db::projection`); `gatelog verify figures` and tests run this fold in memory.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use polars::prelude::PolarsResult;

use super::bucket::{BucketKey, BucketSummary};
use super::summary::ProviderSummary;
use crate::ledger::entry::Entry;
use crate::records::Record;
use crate::records::kinds::Unreadable;

/// An entry decoded once: its ledger fields and its record, typed, or why it no longer decodes.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedEntry {
    /// Position in the log.
    pub index: u64,
    /// Provider slug.
    pub provider: String,
    /// Record kind as the entry names it.
    pub kind: String,
    /// When the log accepted it.
    pub received_at: DateTime<Utc>,
    /// The entry it amends.
    pub supersedes: Option<u64>,
    /// The record under today's rules.
    pub record: Result<Record, Unreadable>,
}

impl TypedEntry {
    /// Decodes a parsed entry.
    pub fn from_entry(entry: Entry) -> Self {
        let received_at = DateTime::parse_from_rfc3339(&entry.received_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        Self {
            index: entry.index,
            provider: entry.provider.to_string(),
            record: Record::from_entry(&entry.kind, entry.record),
            kind: entry.kind,
            received_at,
            supersedes: entry.supersedes,
        }
    }

    /// Decodes entry bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice::<Entry>(bytes).map(Self::from_entry).map_err(|e| e.to_string())
    }

    /// What the entry is about within its provider and kind: the record's natural key, or
    /// for a record that no longer decodes, the key of the version it amends (so it takes
    /// that version's place), else a key of its own.
    fn key(&self, superseded: Option<&Version>) -> String {
        match (&self.record, superseded) {
            (Ok(record), _) => record.natural_key(),
            (Err(_), Some(version)) => version.key.clone(),
            (Err(_), None) => format!("unreadable entry {}", self.index),
        }
    }
}

/// The latest version of one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub entry: TypedEntry,
    /// Its natural key.
    pub key: String,
    /// How many entries carry this record (1 + amendments).
    pub versions: u64,
}

/// An entry whose `supersedes` disagrees with the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// It amends an entry that is not the latest version of anything (already amended, or absent).
    #[error("entry {index} amends entry {supersedes}, which is not a latest version")]
    NotLatest {
        /// The amendment.
        index: u64,
        /// What it names.
        supersedes: u64,
    },
    /// It amends a version of another provider, kind or natural key.
    #[error("entry {index} amends entry {supersedes}, which is about something else ({reason})")]
    OtherRecord {
        /// The amendment.
        index: u64,
        /// What it names.
        supersedes: u64,
        /// What differs.
        reason: String,
    },
    /// It is filed as new, but its provider, kind and natural key already have a latest version.
    #[error("entry {index} is filed as new, but entry {latest} is already the latest version of the same record")]
    Duplicate {
        /// The entry.
        index: u64,
        /// The version it should have amended.
        latest: u64,
    },
    /// Entries must come in log order.
    #[error("entry {index} arrived after entry {previous}")]
    OutOfOrder {
        /// The entry.
        index: u64,
        /// The one before it.
        previous: u64,
    },
}

/// The latest version of every record, folded from entries in log order.
#[derive(Debug, Default)]
pub struct Fold {
    latest: HashMap<u64, Version>,
    by_key: HashMap<(String, String, String), u64>,
    next: u64,
    left_out: Vec<Conflict>,
}

impl Fold {
    /// Applies the next entry. An entry whose `supersedes` breaks the rule is left out (the
    /// fold moves past it and nothing else changes) and returned as the error; an entry out
    /// of order is refused and the fold does not move.
    pub fn apply(&mut self, entry: TypedEntry) -> Result<Option<Version>, Conflict> {
        if entry.index != self.next {
            return Err(Conflict::OutOfOrder { index: entry.index, previous: self.next.wrapping_sub(1) });
        }
        // The ledger holds every entry; what breaks the rule is left out of the projection, as
        // the database's projection leaves it out (`crate::db::projection`), and the fold goes on.
        self.next = entry.index + 1;
        // Reports by others and providers' answers are shown apart, never folded into figures (issue 19).
        if crate::records::reports::is_third_party(&entry.kind) {
            return Ok(None);
        }
        let superseded = match entry.supersedes {
            Some(s) => Some(self.latest.get(&s).ok_or(Conflict::NotLatest { index: entry.index, supersedes: s })?),
            None => None,
        };
        let key = entry.key(superseded);
        if let Some(old) = superseded {
            let same = old.entry.provider == entry.provider && old.entry.kind == entry.kind && old.key == key;
            if !same {
                return Err(Conflict::OtherRecord {
                    index: entry.index,
                    supersedes: old.entry.index,
                    reason: format!(
                        "{}/{}/{} against {}/{}/{}",
                        old.entry.provider, old.entry.kind, old.key, entry.provider, entry.kind, key
                    ),
                });
            }
        }
        let slot = (entry.provider.clone(), entry.kind.clone(), key.clone());
        if superseded.is_none()
            && let Some(latest) = self.by_key.get(&slot)
        {
            return Err(Conflict::Duplicate { index: entry.index, latest: *latest });
        }
        let versions = superseded.map_or(1, |old| old.versions + 1);
        let replaced = entry.supersedes.and_then(|s| self.latest.remove(&s));
        self.by_key.insert(slot, entry.index);
        self.latest.insert(entry.index, Version { entry, key, versions });
        Ok(replaced)
    }

    /// Applies the next entry, leaving out (and remembering) one that breaks the rule: what
    /// the site's projection does. Only an entry out of order is an error.
    pub fn push(&mut self, entry: TypedEntry) -> Result<(), Conflict> {
        match self.apply(entry) {
            Ok(_) => Ok(()),
            Err(out_of_order @ Conflict::OutOfOrder { .. }) => Err(out_of_order),
            Err(conflict) => {
                self.left_out.push(conflict);
                Ok(())
            }
        }
    }

    /// The entries left out because their `supersedes` breaks the rule, in log order.
    pub fn left_out(&self) -> &[Conflict] {
        &self.left_out
    }

    /// Entries folded so far (the tree size).
    pub fn size(&self) -> u64 {
        self.next
    }

    /// The latest versions, in entry order.
    pub fn latest(&self) -> Vec<&Version> {
        let mut all: Vec<&Version> = self.latest.values().collect();
        all.sort_by_key(|v| v.entry.index);
        all
    }

    /// The bucket summaries of every provider's latest readable records.
    pub fn buckets(&self) -> PolarsResult<BTreeMap<BucketKey, BucketSummary>> {
        let mut members: BTreeMap<BucketKey, Vec<&Record>> = BTreeMap::new();
        for version in self.latest() {
            if let Ok(record) = &version.entry.record {
                members.entry(BucketKey::of(&version.entry.provider, record)).or_default().push(record);
            }
        }
        members.into_iter().map(|(key, records)| Ok((key, BucketSummary::of(records)?))).collect()
    }

    /// Every provider's summary, by slug (providers with no readable record are absent).
    pub fn summaries(&self) -> PolarsResult<BTreeMap<String, ProviderSummary>> {
        Ok(summaries_of(&self.buckets()?))
    }
}

/// Merges bucket summaries into provider summaries, by slug.
pub fn summaries_of(buckets: &BTreeMap<BucketKey, BucketSummary>) -> BTreeMap<String, ProviderSummary> {
    let mut by_provider: BTreeMap<&str, Vec<(crate::records::RecordKind, chrono::NaiveDate, &BucketSummary)>> =
        BTreeMap::new();
    for (key, summary) in buckets {
        by_provider.entry(key.provider.as_str()).or_default().push((key.kind, key.month, summary));
    }
    by_provider
        .into_iter()
        .map(|(provider, buckets)| (provider.to_owned(), ProviderSummary::merge(provider, buckets)))
        .collect()
}
