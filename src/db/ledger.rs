//! Queries on the ledger tables (`ledger_entries`, `ledger_nodes`,
//! `ledger_checkpoints`, `ledger_head`). Only inserts and the head's
//! compare-and-swap write anything; the schema's triggers refuse the rest.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::{PgConnection, Row};

use crate::ledger::merkle::{Hash, NodeId};

/// The current head, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Entries in the log.
    pub size: u64,
    /// Root hash at that size.
    pub root: Hash,
    /// The latest signed checkpoint, once one exists.
    pub checkpoint_id: Option<i64>,
}

/// A signed checkpoint, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Row id, increasing.
    pub id: i64,
    /// Tree size.
    pub size: u64,
    pub root: Hash,
    /// The signed note text.
    pub note: String,
    /// When it was signed.
    pub signed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRow {
    pub index: u64,
    /// Stored leaf hash.
    pub leaf_hash: Hash,
    /// Canonical entry bytes.
    pub bytes: Vec<u8>,
    /// Provider slug.
    pub provider: String,
    /// Record kind.
    pub kind: String,
    pub natural_key: String,
    /// Acceptance time.
    pub received_at: DateTime<Utc>,
    /// Amended entry, if any.
    pub supersedes: Option<u64>,
}

fn hash_from(bytes: Vec<u8>, column: &str) -> Result<Hash, sqlx::Error> {
    bytes
        .try_into()
        .map_err(|_| sqlx::Error::ColumnDecode { index: column.into(), source: "hash is not 32 bytes".into() })
}

fn to_u64(value: i64, column: &str) -> Result<u64, sqlx::Error> {
    u64::try_from(value).map_err(|_| sqlx::Error::ColumnDecode { index: column.into(), source: "negative".into() })
}

fn to_i64(value: u64) -> i64 {
    // Indexes are bounded by the number of rows PostgreSQL can hold, far below 2^63.
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn head_from_row(row: &sqlx::postgres::PgRow) -> Result<Head, sqlx::Error> {
    Ok(Head {
        size: to_u64(row.try_get("tree_size")?, "tree_size")?,
        root: hash_from(row.try_get("root_hash")?, "root_hash")?,
        checkpoint_id: row.try_get("checkpoint_id")?,
    })
}

/// Reads the head without locking it.
pub async fn head(conn: &mut PgConnection) -> Result<Head, sqlx::Error> {
    let row = sqlx::query("SELECT tree_size, root_hash, checkpoint_id FROM ledger_head").fetch_one(conn).await?;
    head_from_row(&row)
}

/// Locks the head row until the transaction ends: this is the log's sequencer,
/// so appends happen one batch at a time, in order.
pub async fn lock_head(conn: &mut PgConnection) -> Result<Head, sqlx::Error> {
    let row =
        sqlx::query("SELECT tree_size, root_hash, checkpoint_id FROM ledger_head FOR UPDATE").fetch_one(conn).await?;
    head_from_row(&row)
}

/// Moves the head forward from `old_size` (compare-and-swap); false if it had moved.
pub async fn advance_head(conn: &mut PgConnection, old_size: u64, new: &Head) -> Result<bool, sqlx::Error> {
    let result =
        sqlx::query("UPDATE ledger_head SET tree_size = $2, root_hash = $3, checkpoint_id = $4 WHERE tree_size = $1")
            .bind(to_i64(old_size))
            .bind(to_i64(new.size))
            .bind(new.root.as_slice())
            .bind(new.checkpoint_id)
            .execute(conn)
            .await?;
    Ok(result.rows_affected() == 1)
}

/// Reads stored subtree hashes; nodes that are not stored are absent from the map.
pub async fn read_nodes(conn: &mut PgConnection, nodes: &[NodeId]) -> Result<HashMap<NodeId, Hash>, sqlx::Error> {
    if nodes.is_empty() {
        return Ok(HashMap::new());
    }
    let levels: Vec<i16> = nodes.iter().map(|n| i16::from(n.level)).collect();
    let indexes: Vec<i64> = nodes.iter().map(|n| to_i64(n.index)).collect();
    let rows = sqlx::query(
        "SELECT n.level, n.idx, n.hash FROM ledger_nodes n
         JOIN UNNEST($1::int2[], $2::int8[]) AS wanted(level, idx) USING (level, idx)",
    )
    .bind(&levels)
    .bind(&indexes)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let level: i16 = row.try_get("level")?;
            let index: i64 = row.try_get("idx")?;
            let id = NodeId::new(level as u8, to_u64(index, "idx")?);
            Ok((id, hash_from(row.try_get("hash")?, "hash")?))
        })
        .collect()
}

/// Hashes of `count` consecutive nodes of one level, from `start`; stops early at the first gap.
pub async fn node_range(conn: &mut PgConnection, level: u8, start: u64, count: u64) -> Result<Vec<Hash>, sqlx::Error> {
    let rows = sqlx::query("SELECT hash FROM ledger_nodes WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx")
        .bind(i16::from(level))
        .bind(to_i64(start))
        .bind(to_i64(start.saturating_add(count)))
        .fetch_all(conn)
        .await?;
    rows.into_iter().map(|row| hash_from(row.try_get("hash")?, "hash")).collect()
}

/// Inserts entry rows in one statement.
pub async fn insert_entries(conn: &mut PgConnection, rows: &[EntryRow]) -> Result<(), sqlx::Error> {
    let indexes: Vec<i64> = rows.iter().map(|r| to_i64(r.index)).collect();
    let leaves: Vec<Vec<u8>> = rows.iter().map(|r| r.leaf_hash.to_vec()).collect();
    let bytes: Vec<&[u8]> = rows.iter().map(|r| r.bytes.as_slice()).collect();
    let providers: Vec<&str> = rows.iter().map(|r| r.provider.as_str()).collect();
    let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    let keys: Vec<&str> = rows.iter().map(|r| r.natural_key.as_str()).collect();
    let times: Vec<DateTime<Utc>> = rows.iter().map(|r| r.received_at).collect();
    let supersedes: Vec<Option<i64>> = rows.iter().map(|r| r.supersedes.map(to_i64)).collect();
    sqlx::query(
        "INSERT INTO ledger_entries (idx, leaf_hash, entry, provider, kind, natural_key, received_at, supersedes)
         SELECT * FROM UNNEST($1::int8[], $2::bytea[], $3::bytea[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::int8[])",
    )
    .bind(&indexes)
    .bind(&leaves)
    .bind(&bytes)
    .bind(&providers)
    .bind(&kinds)
    .bind(&keys)
    .bind(&times)
    .bind(&supersedes)
    .execute(conn)
    .await?;
    Ok(())
}

/// Inserts subtree hashes in one statement.
pub async fn insert_nodes(conn: &mut PgConnection, nodes: &[(NodeId, Hash)]) -> Result<(), sqlx::Error> {
    let levels: Vec<i16> = nodes.iter().map(|(id, _)| i16::from(id.level)).collect();
    let indexes: Vec<i64> = nodes.iter().map(|(id, _)| to_i64(id.index)).collect();
    let hashes: Vec<Vec<u8>> = nodes.iter().map(|(_, hash)| hash.to_vec()).collect();
    sqlx::query(
        "INSERT INTO ledger_nodes (level, idx, hash) SELECT * FROM UNNEST($1::int2[], $2::int8[], $3::bytea[])",
    )
    .bind(&levels)
    .bind(&indexes)
    .bind(&hashes)
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores a signed checkpoint; returns its id.
pub async fn insert_checkpoint(
    conn: &mut PgConnection,
    size: u64,
    root: &Hash,
    note: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO ledger_checkpoints (tree_size, root_hash, note) VALUES ($1, $2, $3) RETURNING id")
        .bind(to_i64(size))
        .bind(root.as_slice())
        .bind(note)
        .fetch_one(conn)
        .await
}

fn checkpoint_from_row(row: &sqlx::postgres::PgRow) -> Result<StoredCheckpoint, sqlx::Error> {
    Ok(StoredCheckpoint {
        id: row.try_get("id")?,
        size: to_u64(row.try_get("tree_size")?, "tree_size")?,
        root: hash_from(row.try_get("root_hash")?, "root_hash")?,
        note: row.try_get("note")?,
        signed_at: row.try_get("signed_at")?,
    })
}

/// The checkpoint the head points at.
pub async fn latest_checkpoint(conn: &mut PgConnection) -> Result<Option<StoredCheckpoint>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT c.id, c.tree_size, c.root_hash, c.note, c.signed_at
         FROM ledger_head h JOIN ledger_checkpoints c ON c.id = h.checkpoint_id",
    )
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(checkpoint_from_row).transpose()
}

/// The checkpoint of exactly `size` entries (the first signed, if several were).
pub async fn checkpoint_at(conn: &mut PgConnection, size: u64) -> Result<Option<StoredCheckpoint>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, tree_size, root_hash, note, signed_at FROM ledger_checkpoints WHERE tree_size = $1 ORDER BY id LIMIT 1",
    )
    .bind(to_i64(size))
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(checkpoint_from_row).transpose()
}

/// The checkpoint stored under row `id`.
pub async fn checkpoint_by_id(conn: &mut PgConnection, id: i64) -> Result<Option<StoredCheckpoint>, sqlx::Error> {
    let row = sqlx::query("SELECT id, tree_size, root_hash, note, signed_at FROM ledger_checkpoints WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(checkpoint_from_row).transpose()
}

/// Every checkpoint ever signed, oldest first.
pub async fn all_checkpoints(conn: &mut PgConnection) -> Result<Vec<StoredCheckpoint>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, tree_size, root_hash, note, signed_at FROM ledger_checkpoints ORDER BY id")
        .fetch_all(conn)
        .await?;
    rows.iter().map(checkpoint_from_row).collect()
}

fn entry_from_row(row: &sqlx::postgres::PgRow) -> Result<EntryRow, sqlx::Error> {
    Ok(EntryRow {
        index: to_u64(row.try_get("idx")?, "idx")?,
        leaf_hash: hash_from(row.try_get("leaf_hash")?, "leaf_hash")?,
        bytes: row.try_get("entry")?,
        provider: row.try_get("provider")?,
        kind: row.try_get("kind")?,
        natural_key: row.try_get("natural_key")?,
        received_at: row.try_get("received_at")?,
        supersedes: row.try_get::<Option<i64>, _>("supersedes")?.map(|s| to_u64(s, "supersedes")).transpose()?,
    })
}

const ENTRY_COLUMNS: &str = "idx, leaf_hash, entry, provider, kind, natural_key, received_at, supersedes";

pub async fn entry(conn: &mut PgConnection, index: u64) -> Result<Option<EntryRow>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE idx = $1")))
        .bind(to_i64(index))
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(entry_from_row).transpose()
}

/// Entry bytes for `count` consecutive indexes from `start`.
pub async fn entry_bytes_range(conn: &mut PgConnection, start: u64, count: u64) -> Result<Vec<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("SELECT entry FROM ledger_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx")
        .bind(to_i64(start))
        .bind(to_i64(start.saturating_add(count)))
        .fetch_all(conn)
        .await
}

/// Entry rows for the given indexes (any order; missing ones are absent).
pub async fn entries_by_index(conn: &mut PgConnection, indexes: &[u64]) -> Result<Vec<EntryRow>, sqlx::Error> {
    let wanted: Vec<i64> = indexes.iter().map(|i| to_i64(*i)).collect();
    let rows =
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE idx = ANY($1)")))
            .bind(&wanted)
            .fetch_all(conn)
            .await?;
    rows.iter().map(entry_from_row).collect()
}

/// What `verify` reads of each entry: its bytes, its stored leaf hash, and the
/// stored level-0 subtree hash (the same value, kept in `ledger_nodes` for tiles).
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub index: u64,
    /// Entry bytes.
    pub bytes: Vec<u8>,
    /// `ledger_entries.leaf_hash`.
    pub leaf_hash: Hash,
    /// `ledger_nodes` at (0, index), if present.
    pub level0: Option<Hash>,
}

/// Streams [`AuditRow`]s in index order, with the level-0 hashes joined in, because
/// `verify` reads every row and this is its hot loop.
pub async fn for_each_audit_row<F>(conn: &mut PgConnection, mut visit: F) -> Result<(), sqlx::Error>
where
    F: FnMut(AuditRow),
{
    let mut rows = sqlx::query(
        "SELECT e.idx, e.entry, e.leaf_hash, n.hash AS level0 FROM ledger_entries e
         LEFT JOIN ledger_nodes n ON n.level = 0 AND n.idx = e.idx ORDER BY e.idx",
    )
    .fetch(conn);
    while let Some(row) = rows.try_next().await? {
        let index: i64 = row.try_get("idx")?;
        let level0: Option<Vec<u8>> = row.try_get("level0")?;
        visit(AuditRow {
            index: to_u64(index, "idx")?,
            bytes: row.try_get("entry")?,
            leaf_hash: hash_from(row.try_get("leaf_hash")?, "leaf_hash")?,
            level0: level0.map(|h| hash_from(h, "hash")).transpose()?,
        });
    }
    Ok(())
}

/// Streams stored subtree hashes above the leaves, by level then index.
pub async fn for_each_inner_node<F>(conn: &mut PgConnection, mut visit: F) -> Result<(), sqlx::Error>
where
    F: FnMut(NodeId, Hash),
{
    let mut rows =
        sqlx::query("SELECT level, idx, hash FROM ledger_nodes WHERE level > 0 ORDER BY level, idx").fetch(conn);
    while let Some(row) = rows.try_next().await? {
        let level: i16 = row.try_get("level")?;
        let index: i64 = row.try_get("idx")?;
        visit(NodeId::new(level as u8, to_u64(index, "idx")?), hash_from(row.try_get("hash")?, "hash")?);
    }
    Ok(())
}

/// A line of the public list of entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrySummary {
    pub index: u64,
    /// Provider slug.
    pub provider: String,
    /// Record kind.
    pub kind: String,
    /// Acceptance time.
    pub received_at: DateTime<Utc>,
    /// The entry it amends.
    pub supersedes: Option<u64>,
    /// Whether the provider signed the record (the entry carries its `signature`).
    pub signed: bool,
}

/// An [`EntrySummary`] from a row of `idx, provider, kind, received_at, supersedes` and [`SIGNED`].
fn summary_from_row(row: &sqlx::postgres::PgRow) -> Result<EntrySummary, sqlx::Error> {
    Ok(EntrySummary {
        index: to_u64(row.try_get("idx")?, "idx")?,
        provider: row.try_get("provider")?,
        kind: row.try_get("kind")?,
        received_at: row.try_get("received_at")?,
        supersedes: row.try_get::<Option<i64>, _>("supersedes")?.map(|s| to_u64(s, "supersedes")).transpose()?,
        signed: row.try_get("signed")?,
    })
}

/// Whether an entry carries a provider signature: a top-level `signature` key. Parsed
/// as JSON, not searched as text, so nothing inside the record can look like one.
/// Used for short lists only (a parse per row).
const SIGNED: &str = "convert_from(entry, 'UTF8')::jsonb ? 'signature' AS signed";

/// The newest `limit` entries (of one provider, if given), newest first.
pub async fn recent_entries(
    conn: &mut PgConnection,
    limit: i64,
    provider: Option<&str>,
) -> Result<Vec<EntrySummary>, sqlx::Error> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT idx, provider, kind, received_at, supersedes, {SIGNED} FROM ledger_entries
         WHERE $2::text IS NULL OR provider = $2 ORDER BY idx DESC LIMIT $1"
    )))
    .bind(limit)
    .bind(provider)
    .fetch_all(conn)
    .await?;
    rows.iter().map(summary_from_row).collect()
}

/// The newest `limit` amendments of one provider (entries that supersede an earlier
/// version of the same record), newest first.
pub async fn amendments_of(
    conn: &mut PgConnection,
    provider: &str,
    limit: i64,
) -> Result<Vec<EntrySummary>, sqlx::Error> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT idx, provider, kind, received_at, supersedes, {SIGNED} FROM ledger_entries
         WHERE provider = $1 AND supersedes IS NOT NULL ORDER BY idx DESC LIMIT $2"
    )))
    .bind(provider)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(summary_from_row).collect()
}

/// The entry that amends `index`, if any.
pub async fn superseded_by(conn: &mut PgConnection, index: u64) -> Result<Option<u64>, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar("SELECT min(idx) FROM ledger_entries WHERE supersedes = $1")
        .bind(to_i64(index))
        .fetch_one(conn)
        .await?;
    found.map(|i| to_u64(i, "idx")).transpose()
}

/// Whether `provider` has filed any entry.
pub async fn provider_has_entries(conn: &mut PgConnection, provider: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM ledger_entries WHERE provider = $1)")
        .bind(provider)
        .fetch_one(conn)
        .await
}

/// The first entry of `kind` that `provider` filed, if any.
pub async fn first_of_kind(conn: &mut PgConnection, provider: &str, kind: &str) -> Result<Option<u64>, sqlx::Error> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT min(idx) FROM ledger_entries WHERE provider = $1 AND kind = $2")
            .bind(provider)
            .bind(kind)
            .fetch_one(conn)
            .await?;
    found.map(|i| to_u64(i, "idx")).transpose()
}

/// Indexes of the newest `limit` entries of `kind`, newest first (index `ledger_entries_by_kind`).
pub async fn newest_of_kind(conn: &mut PgConnection, kind: &str, limit: i64) -> Result<Vec<u64>, sqlx::Error> {
    let found: Vec<i64> =
        sqlx::query_scalar("SELECT idx FROM ledger_entries WHERE kind = $1 ORDER BY idx DESC LIMIT $2")
            .bind(kind)
            .bind(limit)
            .fetch_all(conn)
            .await?;
    found.into_iter().map(|i| to_u64(i, "idx")).collect()
}

/// The providers named by entries `start..end` (a range of the primary key: as many rows as
/// entries in the range, whatever the ledger's size).
pub async fn providers_between(conn: &mut PgConnection, start: u64, end: u64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT DISTINCT provider FROM ledger_entries WHERE idx >= $1 AND idx < $2")
        .bind(to_i64(start))
        .bind(to_i64(end))
        .fetch_all(conn)
        .await
}

/// Entries in the log, counted.
pub async fn count_entries(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger_entries").fetch_one(conn).await?;
    to_u64(count, "count")
}

/// The signed head's root hash and the providers' registry version, read in one statement
/// (a page request's freshness key); `None` before the first checkpoint.
pub async fn head_root_and_registry(conn: &mut PgConnection) -> Result<Option<(Hash, i64)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT c.root_hash, (SELECT version FROM registry_version) AS registry
         FROM ledger_head h JOIN ledger_checkpoints c ON c.id = h.checkpoint_id",
    )
    .fetch_optional(conn)
    .await?;
    row.map(|row| Ok((hash_from(row.try_get("root_hash")?, "root_hash")?, row.try_get("registry")?))).transpose()
}

/// One stored version of a record, as an export reads it.
#[derive(Debug, Clone)]
pub struct VersionRow {
    pub index: u64,
    /// Provider slug.
    pub provider: String,
    /// Acceptance time.
    pub received_at: DateTime<Utc>,
    /// The entry it amends, if any.
    pub supersedes: Option<i64>,
    /// Canonical entry bytes.
    pub entry: Vec<u8>,
}

/// The entries of `kind` (of one provider, if given) among indexes `start..end`, in order.
/// Planned per call with its real parameters, not cached (docs/RELIABILITY.md, "Record
/// exports planned per request").
pub async fn versions_between(
    conn: &mut PgConnection,
    kind: &str,
    provider: Option<&str>,
    (start, end): (i64, i64),
) -> Result<Vec<VersionRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT idx, provider, received_at, supersedes, entry FROM ledger_entries
         WHERE idx >= $1 AND idx < $2 AND kind = $3 AND ($4::text IS NULL OR provider = $4)
         ORDER BY idx",
    )
    .persistent(false)
    .bind(start)
    .bind(end)
    .bind(kind)
    .bind(provider)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(VersionRow {
                index: to_u64(row.try_get("idx")?, "idx")?,
                provider: row.try_get("provider")?,
                received_at: row.try_get("received_at")?,
                supersedes: row.try_get("supersedes")?,
                entry: row.try_get("entry")?,
            })
        })
        .collect()
}

/// The amendments of entries `start..end`, wherever they are in the log, as
/// (amended, amending) index pairs.
pub async fn amendments_between(
    conn: &mut PgConnection,
    (start, end): (i64, i64),
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    let rows = sqlx::query("SELECT supersedes, idx FROM ledger_entries WHERE supersedes >= $1 AND supersedes < $2")
        .persistent(false)
        .bind(start)
        .bind(end)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|row| Ok((row.try_get("supersedes")?, row.try_get("idx")?))).collect()
}

/// One entry, as the entries export reads it.
#[derive(Debug, Clone)]
pub struct ExportedEntry {
    pub index: u64,
    /// Provider slug.
    pub provider: String,
    /// Record kind.
    pub kind: String,
    /// Acceptance time.
    pub received_at: DateTime<Utc>,
    /// The entry it amends, if any.
    pub supersedes: Option<i64>,
    /// Stored leaf hash.
    pub leaf_hash: Vec<u8>,
    /// Canonical entry bytes.
    pub entry: Vec<u8>,
}

/// Which entries an entries export keeps: one provider, one kind, received in `[from, to)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct EntryFilter<'a> {
    /// Only this provider's entries.
    pub provider: Option<&'a str>,
    /// Only entries of this kind.
    pub kind: Option<&'a str>,
    /// Received at or after.
    pub from: Option<DateTime<Utc>>,
    /// Received before.
    pub to: Option<DateTime<Utc>>,
}

/// Entries `start..end` that `filter` keeps, in order.
pub async fn entries_between(
    conn: &mut PgConnection,
    filter: EntryFilter<'_>,
    (start, end): (i64, i64),
) -> Result<Vec<ExportedEntry>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT idx, provider, kind, received_at, supersedes, leaf_hash, entry FROM ledger_entries
         WHERE idx >= $6 AND idx < $1 AND ($2::text IS NULL OR provider = $2) AND ($3::text IS NULL OR kind = $3)
           AND ($4::timestamptz IS NULL OR received_at >= $4) AND ($5::timestamptz IS NULL OR received_at < $5)
         ORDER BY idx",
    )
    .bind(end)
    .bind(filter.provider)
    .bind(filter.kind)
    .bind(filter.from)
    .bind(filter.to)
    .bind(start)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ExportedEntry {
                index: to_u64(row.try_get("idx")?, "idx")?,
                provider: row.try_get("provider")?,
                kind: row.try_get("kind")?,
                received_at: row.try_get("received_at")?,
                supersedes: row.try_get("supersedes")?,
                leaf_hash: row.try_get("leaf_hash")?,
                entry: row.try_get("entry")?,
            })
        })
        .collect()
}
