//! What the derived tables are computed from: the projection ([`crate::projection`]) at one
//! tree size — every provider's summary and digest, and the latest versions that no longer
//! decode. Two places hold that state, and [`SummarySource`] reads either:
//!
//! - the database's projection tables, at their head (what the site publishes);
//! - a [`Fold`] of the entries in memory: `gatelog verify figures`, which has the entries
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
use crate::db::projection::{self, LatestQuery};
use crate::projection::fold::{Fold, TypedEntry};
use crate::projection::summary::{Digest, ProviderSummary, reporting_window};
use crate::records::{Record, RecordKind};

/// Where the projection is read from.
#[derive(Debug, Clone)]
pub enum SummarySource {
    /// Entries folded in memory.
    InMemory(Arc<Fold>),
    /// The database's projection tables (`crate::db::projection`), read when they were at
    /// the summaries' tree size.
    Database(PgPool),
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
    /// The methodology the grades table is computed with (the current one, unless a
    /// snapshot being verified names another).
    pub methodology: &'static crate::analytics::methodology::Methodology,
    /// Where filtered tables read the latest records they keep.
    source: SummarySource,
}

impl Summaries {
    /// Whether these were folded from entries in memory (memory and time proportional to
    /// the ledger) rather than read from the projection's tables.
    pub fn folded_in_memory(&self) -> bool {
        matches!(self.source, SummarySource::InMemory(_))
    }

    /// The summaries of a fold. CPU work (every bucket is summarised, with polars): keep it
    /// off the async workers. A failed computation is an error, never an empty summary.
    pub fn of_fold(fold: Arc<Fold>) -> Result<Self, ExportError> {
        let providers = fold.summaries()?;
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
        Ok(Self {
            size: fold.size(),
            providers,
            digests,
            unreadable,
            methodology: crate::analytics::methodology::CURRENT,
            source: SummarySource::InMemory(fold),
        })
    }

    /// Folds the ledger's first `size` entries in memory, reading `ledger_entries` a page
    /// at a time on a pooled connection given back before the page is folded.
    ///
    /// Memory: the fold keeps one [`crate::projection::fold::Version`] per latest record
    /// (its typed record, provider, kind and natural key, and the indexes over them): about
    /// 0.8 KB each, measured (a snapshot of 50,000 queue times below the head peaked 40 MB
    /// above one at the head), so most of a gigabyte for a million latest records, held while
    /// the summaries are computed. The site never needs this at its head (the projection
    /// tables hold that state); only a snapshot pinned below the head does, and a request
    /// must not: see [`Self::from_tables`].
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
                    fold.push(typed)?;
                }
                Ok::<_, ExportError>(fold)
            })
            .await
            .map_err(|e| ExportError::Encode(format!("folding the ledger failed: {e}")))??;
        }
        let fold = Arc::new(fold);
        tokio::task::spawn_blocking(move || Self::of_fold(fold))
            .await
            .map_err(|e| ExportError::Encode(format!("summarising the ledger failed: {e}")))?
    }

    /// The projection at `size`: the database's tables when they are at `size` (the site's
    /// checkpoint), else the ledger's first `size` entries folded in memory (a snapshot
    /// pinned below the head: see [`Self::fold_ledger`] for what that costs, in time and
    /// memory proportional to the ledger; a page or export answering a request should read
    /// [`Self::from_tables`] and, when the head has moved, re-pin to it rather than fold).
    pub async fn load(pool: &PgPool, size: u64) -> Result<Self, ExportError> {
        match Self::from_tables(pool, size).await? {
            Some(summaries) => Ok(summaries),
            None => Self::fold_ledger(pool, size).await,
        }
    }

    /// The projection tables, if they hold the state at `size` (folded under this code's
    /// rules). The head and every table are read in one REPEATABLE READ transaction, so
    /// they agree whatever is appended meanwhile. A provider's summary is its buckets merged,
    /// one provider at a time; the digests are the stored ones.
    pub async fn from_tables(pool: &PgPool, size: u64) -> Result<Option<Self>, ExportError> {
        let mut tx = crate::db::begin_consistent_read(pool).await?;
        if !projection::is_current(&mut tx, size).await? {
            return Ok(None);
        }
        let mut providers = BTreeMap::new();
        let mut digests = BTreeMap::new();
        for (slug, _, digest, _) in projection::digests_changed_since(&mut tx, None).await? {
            // Only providers with a readable latest record are listed (as in a fold's summaries).
            if digest.records == 0 {
                continue;
            }
            let buckets = projection::buckets_of(&mut tx, &slug).await?;
            let merged = tokio::task::spawn_blocking(move || {
                let merged = ProviderSummary::merge(&slug, buckets.iter().map(|(kind, month, b)| (*kind, *month, b)));
                (slug, merged)
            })
            .await
            .map_err(|e| ExportError::Encode(format!("merging bucket summaries failed: {e}")))?;
            digests.insert(merged.0.clone(), digest);
            providers.insert(merged.0, merged.1);
        }
        let (_, listed) = projection::unreadable(&mut tx, None, i64::MAX).await?;
        tx.commit().await?;
        let unreadable = listed
            .into_iter()
            .map(|(index, provider, kind, reason)| UnreadableVersion { index, provider, kind, reason })
            .collect();
        Ok(Some(Self {
            size,
            providers,
            digests,
            unreadable,
            methodology: crate::analytics::methodology::CURRENT,
            source: SummarySource::Database(pool.clone()),
        }))
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
            SummarySource::Database(pool) => {
                let mut tx = crate::db::begin_consistent_read(pool).await?;
                if !projection::is_current(&mut tx, self.size).await? {
                    // Appended to since the summaries were read: the latest versions at their
                    // size, by the supersedes chain, from the ledger itself.
                    drop(tx);
                    return source::latest_at(pool, provider, kind, place, self.size).await;
                }
                let query = LatestQuery {
                    provider: provider.map(str::to_owned),
                    kind: Some(kind),
                    resource: place.resource.clone(),
                    region: place.region.clone(),
                    from: place.from,
                    to: place.to,
                };
                let found = projection::latest_records(&mut tx, &query).await?;
                tx.commit().await?;
                for (slug, _, record) in found {
                    // The query narrows by the same fields; `keeps` is the definition.
                    if keeps(place, &record) {
                        out.entry(slug).or_default().push(record);
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::filter::ExportFilter;
    use crate::datasets::snapshot::WriteSink;
    use crate::datasets::table::Table;
    use crate::datasets::testing::{amend_unreadably, filters_for};
    use crate::datasets::{CATALOG, Dataset, Format, Source, derived};
    use crate::testing::TestApp;

    async fn csv(table: Table, dataset: &Dataset, summaries: &Summaries, filter: &ExportFilter) -> (Vec<u8>, Vec<u64>) {
        let mut sink = WriteSink::new(dataset, Format::Csv, Vec::new()).expect("sink");
        derived::render(table, summaries, filter, &mut sink).await.expect("render");
        let unreadable = sink.unreadable.clone();
        (sink.finish().expect("finish"), unreadable)
    }

    /// The projection tables at the head and a fold of the same entries in memory give the
    /// same summaries and the same derived datasets, byte for byte, filtered or not; once the
    /// head has moved on, the tables are not read for the older size, and a filtered table of
    /// summaries read from them falls back to the ledger, with the same bytes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_tables_and_an_in_memory_fold_give_the_same_derived_datasets() {
        let app = TestApp::with_demo().await;
        let unreadable = amend_unreadably(&app).await;
        let pool = &app.db.pool;
        let size = app.tree_size().await;
        let tables = Summaries::from_tables(pool, size).await.expect("read").expect("the tables are at the head");
        let folded = Summaries::fold_ledger(pool, size).await.expect("fold");
        assert!(matches!(tables.source, SummarySource::Database(_)));
        assert!(matches!(folded.source, SummarySource::InMemory(_)));
        assert_eq!(tables.providers.len(), 12);
        assert_eq!(tables.providers, folded.providers);
        assert_eq!(tables.digests, folded.digests);
        assert_eq!(tables.unreadable, folded.unreadable);
        assert_eq!(tables.unreadable.iter().map(|u| u.index).collect::<Vec<_>>(), [unreadable]);

        let mut compared = 0;
        for dataset in CATALOG.iter() {
            let Source::Derived(table) = dataset.source else { continue };
            for filter in filters_for(dataset) {
                let (ours, left_out) = csv(table, dataset, &tables, &filter).await;
                assert_eq!(
                    (ours.clone(), left_out.clone()),
                    csv(table, dataset, &folded, &filter).await,
                    "{} {filter:?}",
                    dataset.name
                );
                if filter == ExportFilter::default() {
                    assert!(ours.split(|b| *b == b'\n').count() > 3, "{} has rows", dataset.name);
                    let named = table.kinds().contains(&RecordKind::QueueTime);
                    assert_eq!(left_out, if named { vec![unreadable] } else { vec![] }, "{}", dataset.name);
                }
                compared += 1;
            }
        }
        assert!(compared >= 15, "{compared} exports compared");

        // The head moves on: the tables no longer describe `size`.
        app.ledger().append(pool, &crate::testing::sample_batch(0, 3)).await.expect("append");
        assert!(Summaries::from_tables(pool, size).await.expect("read").is_none());
        let dataset = crate::datasets::find("queue_time_percentiles").expect("dataset");
        for filter in filters_for(&dataset) {
            let table = Table::QueuePercentiles;
            assert_eq!(csv(table, &dataset, &tables, &filter).await, csv(table, &dataset, &folded, &filter).await);
        }
    }
}
