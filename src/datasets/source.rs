//! Rows of the ledger-backed datasets, streamed from PostgreSQL in entry order
//! and pinned to a tree size: each row is built as it arrives and handed to the
//! caller, so memory stays flat whatever the size. When the caller stops (the
//! client went away), the query is dropped with the stream.

use chrono::{DateTime, Days, Utc};
use futures_util::TryStreamExt;
use sqlx::{PgConnection, Row};

use super::cell::{self, Cell, CellError};
use super::filter::ExportFilter;
use super::record_fields;
use crate::records::RecordKind;

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
    /// Writing the format failed.
    #[error("encoding: {0}")]
    Encode(String),
    /// The client went away.
    #[error("the client disconnected")]
    Disconnected,
}

/// Where exported rows go, one at a time (an encoder sending chunks to a client, a file).
pub trait RowSink: Send {
    /// Takes one row; an error stops the export.
    fn push(&mut self, row: Vec<Cell>) -> impl std::future::Future<Output = Result<(), ExportError>> + Send;
}

/// The date a record is filtered by: its period start, effective date, as-of date or start.
pub fn date_field(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::QueueTime | RecordKind::Acceptance => "period_start",
        RecordKind::Price => "effective_date",
        RecordKind::Lockup => "start_date",
        RecordKind::Capacity => "as_of",
    }
}

/// Whether a record passes the resource, region and date filter.
fn wanted(record: &serde_json::Value, place: &crate::analytics::Filter, date_key: &str) -> bool {
    let text = |key: &str| record.get(key).and_then(|v| v.as_str());
    if place.resource.as_deref().is_some_and(|r| text("resource") != Some(r))
        || place.region.as_deref().is_some_and(|r| text("region") != Some(r))
    {
        return false;
    }
    let date = text(date_key).and_then(|d| d.parse::<chrono::NaiveDate>().ok());
    !(place.from.is_some_and(|f| date.is_none_or(|d| d < f)) || place.to.is_some_and(|t| date.is_none_or(|d| d > t)))
}

fn index_of(row: &sqlx::postgres::PgRow) -> Result<u64, sqlx::Error> {
    Ok(row.try_get::<i64, _>(0)?.max(0) as u64)
}

fn optional_index(value: Option<i64>) -> Cell {
    value.map_or(Cell::Null, Cell::Int)
}

/// Streams the records of `kind` in the first `tree_size` entries: the latest version of each,
/// or (with `include_superseded`) every version with its amendment links. Calls `on_row` per
/// row in entry order and returns how many rows it produced.
pub async fn records(
    conn: &mut PgConnection,
    kind: RecordKind,
    filter: &ExportFilter,
    tree_size: u64,
    sink: &mut impl RowSink,
) -> Result<u64, ExportError> {
    // Amendments count only if they are inside the pinned tree. The statement is planned
    // per export with its real parameters (not cached): the ledger grows between
    // autovacuum's ANALYZE runs, and a cached generic plan, made when the table was small,
    // took 3-5 s per capacity export under steady ingest (`cargo bench --bench load`,
    // docs/RELIABILITY.md). Planning costs well under a millisecond; an export, more.
    let sql = if filter.include_superseded {
        "SELECT e.idx, e.provider, e.received_at, e.supersedes,
                (SELECT min(n.idx) FROM ledger_entries n WHERE n.supersedes = e.idx AND n.idx < $2), e.entry
         FROM ledger_entries e
         WHERE e.kind = $1 AND e.idx < $2 AND ($3::text IS NULL OR e.provider = $3)
         ORDER BY e.idx"
    } else {
        "SELECT e.idx, e.provider, e.received_at, e.supersedes, NULL::bigint, e.entry
         FROM ledger_entries e
         WHERE e.kind = $1 AND e.idx < $2 AND ($3::text IS NULL OR e.provider = $3)
           AND NOT EXISTS (SELECT 1 FROM ledger_entries n WHERE n.supersedes = e.idx AND n.idx < $2)
         ORDER BY e.idx"
    };
    let fields = record_fields(kind);
    let place = &filter.place_and_time;
    let date_key = date_field(kind);
    let mut rows = sqlx::query(sql)
        .persistent(false)
        .bind(kind.as_str())
        .bind(i64::try_from(tree_size).unwrap_or(i64::MAX))
        .bind(filter.provider.as_deref())
        .fetch(&mut *conn);
    let mut count = 0;
    while let Some(row) = rows.try_next().await? {
        let index = index_of(&row)?;
        let bytes: Vec<u8> = row.try_get(5)?;
        let mut entry: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| ExportError::NotJson { index, reason: e.to_string() })?;
        let record = entry["record"].take();
        if !wanted(&record, place, date_key) {
            continue;
        }
        let mut cells = Vec::with_capacity(5 + fields.len());
        cells.push(Cell::Int(index as i64));
        cells.push(Cell::Text(row.try_get(1)?));
        cells.push(Cell::DateTime(row.try_get::<DateTime<Utc>, _>(2)?));
        cells.push(optional_index(row.try_get(3)?));
        cells.push(optional_index(row.try_get(4)?));
        for field in &fields {
            cells.push(
                cell::from_json(field, record.get(field.name))
                    .map_err(|source| ExportError::Stored { index, source })?,
            );
        }
        drop(record);
        sink.push(cells).await?;
        count += 1;
    }
    Ok(count)
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

/// Streams the first `tree_size` entries (of one provider or kind, received in the date range).
pub async fn entries(
    conn: &mut PgConnection,
    filter: &ExportFilter,
    tree_size: u64,
    sink: &mut impl RowSink,
) -> Result<u64, ExportError> {
    let start = filter.place_and_time.from.and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc());
    let end = filter
        .place_and_time
        .to
        .and_then(|d| d.checked_add_days(Days::new(1)))
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc());
    let mut rows = sqlx::query(
        "SELECT idx, provider, kind, received_at, supersedes, leaf_hash, entry FROM ledger_entries
         WHERE idx < $1 AND ($2::text IS NULL OR provider = $2) AND ($3::text IS NULL OR kind = $3)
           AND ($4::timestamptz IS NULL OR received_at >= $4) AND ($5::timestamptz IS NULL OR received_at < $5)
         ORDER BY idx",
    )
    .bind(i64::try_from(tree_size).unwrap_or(i64::MAX))
    .bind(filter.provider.as_deref())
    .bind(filter.kind.map(RecordKind::as_str))
    .bind(start)
    .bind(end)
    .fetch(&mut *conn);
    let mut count = 0;
    while let Some(row) = rows.try_next().await? {
        let index = index_of(&row)?;
        let leaf: Vec<u8> = row.try_get(5)?;
        let bytes: Vec<u8> = row.try_get(6)?;
        let signed = provider_signed(&bytes).map_err(|reason| ExportError::NotJson { index, reason })?;
        let entry = String::from_utf8(bytes).map_err(|e| ExportError::NotJson { index, reason: e.to_string() })?;
        sink.push(vec![
            Cell::Int(index as i64),
            Cell::Text(row.try_get(1)?),
            Cell::Text(row.try_get(2)?),
            Cell::DateTime(row.try_get::<DateTime<Utc>, _>(3)?),
            optional_index(row.try_get(4)?),
            Cell::Text(hex::encode(leaf)),
            Cell::Text(entry),
            Cell::Bool(signed),
        ])
        .await?;
        count += 1;
    }
    Ok(count)
}
