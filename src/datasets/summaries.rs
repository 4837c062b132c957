//! What the derived tables are computed from: the projection ([`crate::projection`]) at one
//! tree size — every provider's summary and digest, and the latest versions that no longer
//! decode. Two places hold that state, and [`SummarySource`] reads either:
//!
//! - the database's projection tables, at their head (what the site publishes);
//! - a [`Fold`] of the entries in memory: `gatelog verify --figures`, which has the entries
//!   it fetched and checked and no database, and a snapshot pinned below the head, which the
//!   tables (kept at the head) no longer describe.
//!
//! Both go through the same pure functions (the fold, bucket summaries, their merge), so the
//! same entries give the same tables, cell for cell.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use sqlx::PgPool;

use super::filter::keeps;
use super::source::{self, ExportError};
use crate::analytics::Filter;
use crate::projection::fold::{Fold, TypedEntry};
use crate::projection::summary::{Digest, ProviderSummary, reporting_window};
use crate::records::{Record, RecordKind};

/// Where the projection is read from.
#[derive(Debug, Clone)]
pub enum SummarySource {
    /// Entries folded in memory.
    InMemory(Arc<Fold>),
}

/// A latest version left out of every figure because its record no longer decodes under
/// today's rules (named instead: see [`super::source::RowSink::unreadable`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableVersion {
    /// Entry index.
    pub index: u64,
    /// Provider slug.
    pub provider: String,
    /// Kind as the entry names it.
    pub kind: String,
    /// Why it does not decode.
    pub reason: String,
}

/// The projection at one tree size, as the derived tables read it.
#[derive(Debug, Clone)]
pub struct Summaries {
    /// The tree size.
    pub size: u64,
    /// Every provider with at least one readable latest record, by slug (the providers the
    /// derived tables list: a provider is known to the ledger only by its entries).
    pub providers: BTreeMap<String, ProviderSummary>,
    /// Their digests, by slug.
    pub digests: BTreeMap<String, Digest>,
    /// Latest versions that do not decode, in entry order.
    pub unreadable: Vec<UnreadableVersion>,
    /// Where filtered tables read the latest records they keep.
    source: SummarySource,
}

impl Summaries {
    /// The summaries of a fold. CPU work (every bucket is summarised, with polars): keep it
    /// off the async workers.
    pub fn of_fold(fold: Arc<Fold>) -> Self {
        let providers = fold.summaries();
        let digests = providers.iter().map(|(slug, summary)| (slug.clone(), summary.digest())).collect();
        let unreadable = fold
            .latest()
            .into_iter()
            .filter_map(|version| {
                let reason = version.entry.record.as_ref().err()?.reason.clone();
                Some(UnreadableVersion {
                    index: version.entry.index,
                    provider: version.entry.provider.clone(),
                    kind: version.entry.kind.clone(),
                    reason,
                })
            })
            .collect();
        Self { size: fold.size(), providers, digests, unreadable, source: SummarySource::InMemory(fold) }
    }

    /// Folds the ledger's first `size` entries in memory, reading `ledger_entries` a page
    /// at a time on a pooled connection given back before the page is folded.
    ///
    /// Memory: the fold keeps one [`crate::projection::fold::Version`] per latest record
    /// (its typed record, provider, kind and natural key: a few hundred bytes), so about
    /// half a gigabyte for a million latest records, held until the tables are written.
    /// The site never needs this at its head (the projection tables hold that state);
    /// only a snapshot pinned below the head does.
    pub async fn fold_ledger(pool: &PgPool, size: u64) -> Result<Self, ExportError> {
        let mut fold = Fold::default();
        for (start, end) in source::pages(size) {
            let bytes = {
                let mut conn = pool.acquire().await?;
                crate::db::ledger::entry_bytes_range(&mut conn, start as u64, (end - start) as u64).await?
            };
            // Decoding and folding are CPU work: off the async workers, a page at a time.
            fold = tokio::task::spawn_blocking(move || {
                for (offset, entry) in bytes.iter().enumerate() {
                    let index = start as u64 + offset as u64;
                    let typed = TypedEntry::decode(entry).map_err(|reason| ExportError::NotJson { index, reason })?;
                    fold.apply(typed)?;
                }
                Ok::<_, ExportError>(fold)
            })
            .await
            .map_err(|e| ExportError::Encode(format!("folding the ledger failed: {e}")))??;
        }
        let fold = Arc::new(fold);
        tokio::task::spawn_blocking(move || Self::of_fold(fold))
            .await
            .map_err(|e| ExportError::Encode(format!("summarising the ledger failed: {e}")))
    }

    /// The projection at `size`, from wherever it is held.
    pub async fn load(pool: &PgPool, size: u64) -> Result<Self, ExportError> {
        Self::fold_ledger(pool, size).await
    }

    /// The reporting window every grade is computed over.
    pub fn window(&self) -> Option<(NaiveDate, NaiveDate)> {
        reporting_window(self.digests.values())
    }

    /// The latest readable records of `kind` that `place` keeps (of one provider, if given),
    /// by provider, each provider's in entry order.
    pub async fn latest_records(
        &self,
        provider: Option<&str>,
        kind: RecordKind,
        place: &Filter,
    ) -> Result<BTreeMap<String, Vec<Record>>, ExportError> {
        let mut out: BTreeMap<String, Vec<Record>> = BTreeMap::new();
        match &self.source {
            SummarySource::InMemory(fold) => {
                for version in fold.latest() {
                    let entry = &version.entry;
                    if provider.is_some_and(|only| only != entry.provider) {
                        continue;
                    }
                    if let Ok(record) = &entry.record
                        && record.kind() == kind
                        && keeps(place, record)
                    {
                        out.entry(entry.provider.clone()).or_default().push(record.clone());
                    }
                }
            }
        }
        Ok(out)
    }
}
