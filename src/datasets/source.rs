//! Rows of the ledger-backed datasets, read from PostgreSQL in entry order and
//! pinned to a tree size, a page at a time: each page is read on a pooled
//! connection that goes back to the pool before its rows are built and handed
//! to the caller, so memory stays flat whatever the size, and a client that
//! reads slowly (or not at all) holds no database connection (issue 15).
//! Pages follow each other by entry index (`idx > last ORDER BY idx LIMIT n`),
//! so every page is one short indexed query, whatever the ledger's size.

use std::collections::HashMap;

use chrono::{DateTime, Days, Utc};
use sqlx::PgPool;

use super::cell::{self, Cell, CellError};
use super::filter::ExportFilter;
use super::record_fields;
use super::schema::Field;
use crate::analytics::compliance::Filing;
use crate::db;
use crate::ledger::entry::Entry;
use crate::ledger::merkle;
use crate::projection::fold::TypedEntry;
use crate::records::{Record, RecordKind};

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored entry does not fit its dataset's columns.
    #[error("entry {index}: {source}")]
    Stored {
        /// The entry.
        index: u64,
        /// What does not fit.
        source: CellError,
    },
    /// A stored entry is not JSON.
    #[error("entry {index} is not JSON: {reason}")]
    NotJson {
        /// The entry.
        index: u64,
        /// The parser's message.
        reason: String,
    },
    /// An entry's `supersedes` disagrees with the rule for the latest version
    /// ([`crate::projection::fold`]): the figures cannot be derived from these entries.
    #[error("the entries break the rule for the latest version: {0}")]
    Conflict(#[from] crate::projection::fold::Conflict),
    /// A figure could not be computed: the export fails rather than publish a default.
    #[error("analytics: {0}")]
    Analytics(#[from] polars::prelude::PolarsError),
    /// Writing the format failed.
    #[error("encoding: {0}")]
    Encode(String),
    /// The client went away.
    #[error("the client disconnected")]
    Disconnected,
    /// The client read nothing for this long, so the export gave up on it.
    #[error("the client read nothing for {0:?}")]
    Stalled(std::time::Duration),
}

/// Entries per page: a page is a range of this many entry indices (fewer rows once filtered),
/// a few hundred kilobytes at most; the connection is held only while PostgreSQL produces it.
pub const PAGE_ROWS: u64 = 2000;

/// The pages of the first `tree_size` entries, as index ranges, in order. A page is a range of
/// indices rather than "the next n rows", so that each query reads at most [`PAGE_ROWS`]
/// entries through the primary key whatever the planner believes: with `idx > last LIMIT n`
/// and statistics made when the table was small, PostgreSQL chose to read and sort the rest
/// of the table on every page (47 s a page under `cargo bench --bench load`).
pub(super) fn pages(tree_size: u64) -> impl Iterator<Item = (i64, i64)> {
    let end = i64::try_from(tree_size).unwrap_or(i64::MAX);
    (0..tree_size.div_ceil(PAGE_ROWS)).map(move |page| {
        let start = i64::try_from(page * PAGE_ROWS).unwrap_or(i64::MAX);
        (start, start.saturating_add(PAGE_ROWS as i64).min(end))
    })
}

/// Where exported rows go, one at a time (an encoder sending chunks to a client, a file).
pub trait RowSink: Send {
    /// Takes one row; an error stops the export.
    fn push(&mut self, row: Vec<Cell>) -> impl std::future::Future<Output = Result<(), ExportError>> + Send;

    /// Called once, when the source has read its first page (or found there is none), before
    /// any row is pushed: from then on the source is known to work. The HTTP export sends its
    /// headers only then, so what fails earlier (no connection to be had, a failing query) is
    /// answered with an error status, not with a broken download.
    fn page_read(&mut self) {}

    /// Told of each version left out because its record no longer decodes under today's
    /// rules (see [`crate::records::Record::from_entry`]); a snapshot lists them in its notes.
    fn unreadable(&mut self, _index: u64, _reason: &str) {}
}

/// What one stored version becomes in a record dataset.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordRow {
    /// Its row: the five ledger columns, then the record's fields.
    Row(Vec<Cell>),
    /// The filter leaves it out.
    Filtered,
    /// Its record no longer decodes: left out and reported, never fatal to the export.
    Unreadable(String),
}

fn optional_index(value: Option<i64>) -> Cell {
    value.map_or(Cell::Null, Cell::Int)
}

/// One stored version of a record, as read from `ledger_entries`, before it becomes a row.
pub struct StoredRecord {
    /// The entry's index.
    pub index: u64,
    /// The provider's slug.
    pub provider: String,
    /// When the ledger received it.
    pub received_at: DateTime<Utc>,
    /// The entry it amends, if any.
    pub supersedes: Option<i64>,
    /// The first entry inside the pinned tree that amends it, if any.
    pub superseded_by: Option<i64>,
    /// The entry's canonical JSON.
    pub entry: Vec<u8>,
}

/// The versions of `kind` among entries `start..end` of the first `tree_size` (the latest only
/// unless `include_superseded`), each with the first amendment inside the pinned tree; the
/// connection goes back to the pool before this returns.
async fn record_page(
    pool: &PgPool,
    kind: RecordKind,
    filter: &ExportFilter,
    tree_size: u64,
    (start, end): (i64, i64),
) -> Result<Vec<StoredRecord>, ExportError> {
    let mut conn = pool.acquire().await?;
    // Two plain index-range reads, rather than an anti-join whose plan depends on statistics:
    // one correlated on the pinned tree size made the planner intersect each row's amendment
    // lookup with the whole primary key (O(n²), measured at 47 s for 14,000 entries). The
    // statements are planned per page with their real parameters (not cached), for the same
    // reason (docs/RELIABILITY.md, "Record exports planned per request").
    let rows = db::ledger::versions_between(&mut conn, kind.as_str(), filter.provider.as_deref(), (start, end)).await?;
    // Amendments of this page's entries, wherever they are; only those inside the tree count.
    let amendments = db::ledger::amendments_between(&mut conn, (start, end)).await?;
    drop(conn);
    let pinned = i64::try_from(tree_size).unwrap_or(i64::MAX);
    let mut first_amendment = std::collections::HashMap::new();
    for (amended, by) in amendments.into_iter().filter(|(_, by)| *by < pinned) {
        first_amendment.entry(amended).and_modify(|first: &mut i64| *first = (*first).min(by)).or_insert(by);
    }
    let mut page = Vec::with_capacity(rows.len());
    for row in rows {
        let superseded_by = first_amendment.get(&(row.index as i64)).copied();
        if superseded_by.is_some() && !filter.include_superseded {
            continue;
        }
        page.push(StoredRecord {
            index: row.index,
            provider: row.provider,
            received_at: row.received_at,
            supersedes: row.supersedes,
            superseded_by,
            entry: row.entry,
        });
    }
    Ok(page)
}

/// What one stored version becomes: its row, nothing (filtered out), or a note that it
/// no longer decodes. Cells are taken from the stored JSON, exactly as filed, once the
/// record is known to decode (so every value is within its column's domain).
pub fn record_row(
    stored: StoredRecord,
    fields: &[Field],
    place: &crate::analytics::Filter,
) -> Result<RecordRow, ExportError> {
    let index = stored.index;
    let Ok(mut entry) = serde_json::from_slice::<serde_json::Value>(&stored.entry) else {
        return Ok(RecordRow::Unreadable("the entry is not JSON".into()));
    };
    let record = entry["record"].take();
    let decoded = match crate::records::Record::from_entry(entry["kind"].as_str().unwrap_or(""), record.clone()) {
        Ok(decoded) => decoded,
        Err(unreadable) => return Ok(RecordRow::Unreadable(unreadable.reason)),
    };
    if !super::filter::keeps(place, &decoded) {
        return Ok(RecordRow::Filtered);
    }
    let mut cells = Vec::with_capacity(5 + fields.len());
    cells.push(Cell::Int(index as i64));
    cells.push(Cell::Text(stored.provider));
    cells.push(Cell::DateTime(stored.received_at));
    cells.push(optional_index(stored.supersedes));
    cells.push(optional_index(stored.superseded_by));
    for field in fields {
        cells.push(
            cell::from_json(field, record.get(field.name)).map_err(|source| ExportError::Stored { index, source })?,
        );
    }
    Ok(RecordRow::Row(cells))
}

/// Streams the records of `kind` in the first `tree_size` entries: the latest version of each,
/// or (with `include_superseded`) every version with its amendment links. Pushes each row into
/// `sink` in entry order, a page at a time, and returns how many rows it produced.
pub async fn records(
    pool: &PgPool,
    kind: RecordKind,
    filter: &ExportFilter,
    tree_size: u64,
    sink: &mut impl RowSink,
) -> Result<u64, ExportError> {
    let fields = record_fields(kind);
    let place = &filter.place_and_time;
    let mut count = 0;
    let mut first = true;
    let read = |range| {
        let (pool, filter) = (pool.clone(), filter.clone());
        Ahead::spawn(async move { record_page(&pool, kind, &filter, tree_size, range).await })
    };
    let mut ranges = pages(tree_size);
    let mut next = ranges.next().map(read);
    while let Some(reading) = next.take() {
        let page = reading.join().await?;
        next = ranges.next().map(read);
        if std::mem::take(&mut first) {
            sink.page_read();
        }
        for stored in page {
            count += push_record(stored, &fields, place, sink).await?;
        }
    }
    if first {
        sink.page_read();
    }
    Ok(count)
}

/// The latest readable versions of `kind` among the first `tree_size` entries (of one provider,
/// if given) that `place` keeps, by provider, each provider's in entry order: the versions no
/// entry inside the tree amends, read a page at a time like [`records`].
pub(super) async fn latest_at(
    pool: &PgPool,
    provider: Option<&str>,
    kind: RecordKind,
    place: &crate::analytics::Filter,
    tree_size: u64,
) -> Result<std::collections::BTreeMap<String, Vec<Record>>, ExportError> {
    let filter = ExportFilter { provider: provider.map(str::to_owned), ..ExportFilter::default() };
    let mut out: std::collections::BTreeMap<String, Vec<Record>> = std::collections::BTreeMap::new();
    for range in pages(tree_size) {
        for stored in record_page(pool, kind, &filter, tree_size, range).await? {
            let Ok(mut entry) = serde_json::from_slice::<serde_json::Value>(&stored.entry) else { continue };
            if let Ok(record) = Record::from_entry(kind.as_str(), entry["record"].take())
                && super::filter::keeps(place, &record)
            {
                out.entry(stored.provider).or_default().push(record);
            }
        }
    }
    Ok(out)
}

/// Pushes one stored version's row into `sink`, or tells it the version no longer decodes
/// (the one place both happen, whether the entries come from PostgreSQL or from memory);
/// returns the rows pushed (0 or 1).
async fn push_record(
    stored: StoredRecord,
    fields: &[Field],
    place: &crate::analytics::Filter,
    sink: &mut impl RowSink,
) -> Result<u64, ExportError> {
    let index = stored.index;
    match record_row(stored, fields, place)? {
        RecordRow::Row(cells) => {
            sink.push(cells).await?;
            Ok(1)
        }
        RecordRow::Filtered => Ok(0),
        RecordRow::Unreadable(reason) => {
            sink.unreadable(index, &reason);
            Ok(0)
        }
    }
}

/// Whether entry bytes carry a provider signature. Reads only the top-level keys
/// (the record's fields are skipped), because an export reads every entry.
fn provider_signed(bytes: &[u8]) -> Result<bool, String> {
    #[derive(serde::Deserialize)]
    struct Signature {
        signature: Option<serde::de::IgnoredAny>,
    }
    let parsed: Signature = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    Ok(parsed.signature.is_some())
}

/// Streams the first `tree_size` entries (of one provider or kind, received in the date range),
/// a page at a time.
pub async fn entries(
    pool: &PgPool,
    filter: &ExportFilter,
    tree_size: u64,
    sink: &mut impl RowSink,
) -> Result<u64, ExportError> {
    let (start, end) = received_range(filter);
    let mut count = 0;
    let mut first = true;
    let read = |range| {
        let (pool, filter) = (pool.clone(), filter.clone());
        Ahead::spawn(async move { entry_page(&pool, &filter, (start, end), range).await })
    };
    let mut ranges = pages(tree_size);
    let mut next = ranges.next().map(read);
    while let Some(reading) = next.take() {
        let rows = reading.join().await?;
        next = ranges.next().map(read);
        if std::mem::take(&mut first) {
            sink.page_read();
        }
        for row in rows {
            let stored = (row.provider, row.kind, row.received_at, row.supersedes);
            sink.push(entry_row(row.index, stored, &row.leaf_hash, row.entry)?).await?;
            count += 1;
        }
    }
    if first {
        sink.page_read();
    }
    Ok(count)
}

/// Entries `start..end` that pass the filter (`received` is its time range); the connection
/// goes back to the pool before this returns.
async fn entry_page(
    pool: &PgPool,
    filter: &ExportFilter,
    received: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    (start, end): (i64, i64),
) -> Result<Vec<db::ledger::ExportedEntry>, ExportError> {
    let mut conn = pool.acquire().await?;
    let filter = db::ledger::EntryFilter {
        provider: filter.provider.as_deref(),
        kind: filter.kind.map(RecordKind::as_str),
        from: received.0,
        to: received.1,
    };
    Ok(db::ledger::entries_between(&mut conn, filter, (start, end)).await?)
}

/// A page being read ahead, on its own task and pooled connection, while the rows of the one
/// before are sent: PostgreSQL and the client work at the same time (`gatelog export dataset
/// entries`, 1,000,000 rows: 3.60 s reading each page after sending the one before, 3.17 s
/// reading ahead), and the connection is still never held while waiting for the client, since
/// the task ends once its page is read. Dropped unfinished (the export stopped), the read is
/// cancelled.
struct Ahead<T>(tokio::task::JoinHandle<Result<T, ExportError>>);

impl<T: Send + 'static> Ahead<T> {
    fn spawn(read: impl std::future::Future<Output = Result<T, ExportError>> + Send + 'static) -> Self {
        Self(tokio::spawn(read))
    }

    async fn join(mut self) -> Result<T, ExportError> {
        (&mut self.0).await.map_err(|e| ExportError::Encode(format!("reading a page failed: {e}")))?
    }
}

impl<T> Drop for Ahead<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One entry's row: its index, (provider, kind, received_at, supersedes), leaf hash and exact
/// bytes, and whether a provider signed it.
fn entry_row(
    index: u64,
    (provider, kind, received_at, supersedes): (String, String, DateTime<Utc>, Option<i64>),
    leaf: &[u8],
    bytes: Vec<u8>,
) -> Result<Vec<Cell>, ExportError> {
    let signed = provider_signed(&bytes).map_err(|reason| ExportError::NotJson { index, reason })?;
    let entry = String::from_utf8(bytes).map_err(|e| ExportError::NotJson { index, reason: e.to_string() })?;
    Ok(vec![
        Cell::Int(index as i64),
        Cell::Text(provider),
        Cell::Text(kind),
        Cell::DateTime(received_at),
        optional_index(supersedes),
        Cell::Text(hex::encode(leaf)),
        Cell::Text(entry),
        Cell::Bool(signed),
    ])
}

/// The received-at range an entries export keeps, from its date filter: `[start, end)`.
fn received_range(filter: &ExportFilter) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let start = filter.place_and_time.from.and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc());
    let end = filter
        .place_and_time
        .to
        .and_then(|d| d.checked_add_days(Days::new(1)))
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc());
    (start, end)
}

/// What the datasets read of one entry held in memory.
#[derive(Debug, Clone)]
struct Held {
    provider: String,
    kind: String,
    received_at: DateTime<Utc>,
    supersedes: Option<u64>,
    /// The date the compliance report places it at (see [`Filing::date_of`]), if any.
    filing_date: Option<String>,
}

/// Entries held in memory, in log order: those `gatelog verify figures` fetched from the
/// tiles and checked against a signed checkpoint. The ledger-backed datasets (records,
/// entries, the compliance report's filings) read them here exactly as they read
/// `ledger_entries` from PostgreSQL, row for row, through the same row functions.
#[derive(Debug, Default)]
pub struct HeldEntries {
    bytes: Vec<Vec<u8>>,
    held: Vec<Held>,
    /// The first entry that amends each amended entry.
    first_amendment: HashMap<u64, u64>,
}

impl HeldEntries {
    /// Decodes entries `0..bytes.len()` (their position is their index), handing each, typed,
    /// to `fold` in log order. An entry that is not a Gatelog entry, or whose `received_at`
    /// is not a time, is an error naming it (the site could not have stored it).
    pub fn decode(
        bytes: Vec<Vec<u8>>,
        mut fold: impl FnMut(TypedEntry) -> Result<(), ExportError>,
    ) -> Result<Self, ExportError> {
        let mut held = Vec::with_capacity(bytes.len());
        let mut first_amendment = HashMap::new();
        for (index, entry) in bytes.iter().enumerate() {
            let index = index as u64;
            let not_entry = |reason: String| ExportError::NotJson { index, reason };
            let entry: Entry =
                serde_json::from_slice(entry).map_err(|e| not_entry(format!("not a Gatelog entry: {e}")))?;
            let received_at = DateTime::parse_from_rfc3339(&entry.received_at)
                .map_err(|e| not_entry(format!("received_at: {e}")))?
                .with_timezone(&Utc);
            if let Some(amended) = entry.supersedes {
                first_amendment.entry(amended).or_insert(index);
            }
            held.push(Held {
                provider: entry.provider.to_string(),
                kind: entry.kind.clone(),
                received_at,
                supersedes: entry.supersedes,
                filing_date: Filing::date_of(&entry.record).map(str::to_owned),
            });
            fold(TypedEntry::from_entry(entry))?;
        }
        Ok(Self { bytes, held, first_amendment })
    }

    /// The report and answer entries held, in log order.
    pub fn third_party(&self) -> Vec<super::reports::ThirdPartyEntry> {
        self.held
            .iter()
            .enumerate()
            .filter(|(_, h)| crate::records::reports::is_third_party(&h.kind))
            .map(|(index, h)| {
                let value: serde_json::Value =
                    serde_json::from_slice(&self.bytes[index]).unwrap_or(serde_json::Value::Null);
                super::reports::ThirdPartyEntry {
                    index: index as u64,
                    filer: h.provider.clone(),
                    kind: h.kind.clone(),
                    received_at: h.received_at,
                    supersedes: h.supersedes,
                    record: value["record"].clone(),
                }
            })
            .collect()
    }

    /// How many entries are held (the tree size).
    pub fn len(&self) -> u64 {
        self.held.len() as u64
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// The filings of the kinds with a cadence, in log order (as
    /// [`crate::db::obligations::filings`] reads them from PostgreSQL).
    pub fn filings(&self) -> impl Iterator<Item = Filing> + '_ {
        self.held.iter().filter_map(|h| {
            Filing::of_entry(&h.provider, &h.kind, h.filing_date.as_deref(), h.received_at, h.supersedes.is_some())
        })
    }
}

/// [`records`] over entries held in memory.
pub async fn held_records(
    held: &HeldEntries,
    kind: RecordKind,
    filter: &ExportFilter,
    sink: &mut impl RowSink,
) -> Result<u64, ExportError> {
    let fields = record_fields(kind);
    sink.page_read();
    let mut count = 0;
    for (index, h) in held.held.iter().enumerate() {
        let index = index as u64;
        if h.kind != kind.as_str() || filter.provider.as_deref().is_some_and(|only| only != h.provider) {
            continue;
        }
        let superseded_by = held.first_amendment.get(&index).map(|by| *by as i64);
        if superseded_by.is_some() && !filter.include_superseded {
            continue;
        }
        let stored = StoredRecord {
            index,
            provider: h.provider.clone(),
            received_at: h.received_at,
            supersedes: h.supersedes.map(|s| s as i64),
            superseded_by,
            entry: held.bytes[index as usize].clone(),
        };
        count += push_record(stored, &fields, &filter.place_and_time, sink).await?;
    }
    Ok(count)
}

/// [`entries`] over entries held in memory.
pub async fn held_entries(
    held: &HeldEntries,
    filter: &ExportFilter,
    sink: &mut impl RowSink,
) -> Result<u64, ExportError> {
    let (start, end) = received_range(filter);
    sink.page_read();
    let mut count = 0;
    for (index, (h, bytes)) in held.held.iter().zip(&held.bytes).enumerate() {
        let wanted = filter.provider.as_deref().is_none_or(|only| only == h.provider)
            && filter.kind.is_none_or(|kind| kind.as_str() == h.kind)
            && start.is_none_or(|start| h.received_at >= start)
            && end.is_none_or(|end| h.received_at < end);
        if !wanted {
            continue;
        }
        let stored = (h.provider.clone(), h.kind.clone(), h.received_at, h.supersedes.map(|s| s as i64));
        sink.push(entry_row(index as u64, stored, &merkle::leaf_hash(bytes), bytes.clone())?).await?;
        count += 1;
    }
    Ok(count)
}
