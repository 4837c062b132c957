//! Reading disclosures back out of the ledger for the public pages: the latest
//! version of every natural key, and amendment counts.

use sqlx::{PgConnection, Row};

/// The latest entry of one natural key.
#[derive(Debug, Clone)]
pub struct LatestRecord {
    /// Entry index.
    pub index: u64,
    /// Provider slug.
    pub provider: String,
    /// Record kind.
    pub kind: String,
    /// What the record is about, as computed when it was appended.
    pub natural_key: String,
    /// The record JSON (the entry's `record`).
    pub record: serde_json::Value,
    /// How many earlier versions it superseded.
    pub amendments: u64,
    /// When the ledger accepted this version.
    pub received_at: chrono::DateTime<chrono::Utc>,
}

/// The latest version of every (provider, kind, natural key), optionally for one provider.
pub async fn latest(conn: &mut PgConnection, provider: Option<&str>) -> Result<Vec<LatestRecord>, sqlx::Error> {
    latest_at(conn, provider, u64::MAX).await
}

/// The latest version of every (provider, kind, natural key) among the first `tree_size` entries.
pub async fn latest_at(
    conn: &mut PgConnection,
    provider: Option<&str>,
    tree_size: u64,
) -> Result<Vec<LatestRecord>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT DISTINCT ON (provider, kind, natural_key) idx, provider, kind, entry,
                count(*) OVER (PARTITION BY provider, kind, natural_key) - 1 AS amendments, received_at, natural_key
         FROM ledger_entries WHERE ($1::text IS NULL OR provider = $1) AND idx < $2
         ORDER BY provider, kind, natural_key, idx DESC",
    )
    .bind(provider)
    .bind(i64::try_from(tree_size).unwrap_or(i64::MAX))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let bytes: Vec<u8> = row.try_get(3)?;
            let mut entry: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(|e| sqlx::Error::Decode(e.into()))?;
            let index: i64 = row.try_get(0)?;
            let amendments: i64 = row.try_get(4)?;
            Ok(LatestRecord {
                index: index as u64,
                provider: row.try_get(1)?,
                kind: row.try_get(2)?,
                natural_key: row.try_get(6)?,
                record: entry["record"].take(),
                amendments: amendments as u64,
                received_at: row.try_get(5)?,
            })
        })
        .collect()
}

/// An entry appended after a snapshot was computed.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// Entry index.
    pub index: u64,
    /// Provider slug.
    pub provider: String,
    /// Record kind.
    pub kind: String,
    /// What the record is about, as computed when it was appended.
    pub natural_key: String,
    /// The record JSON.
    pub record: serde_json::Value,
    /// Whether it amends an earlier entry.
    pub amends: bool,
    /// When the ledger accepted it.
    pub received_at: chrono::DateTime<chrono::Utc>,
}

/// Entries with index in `[from, to)`, in order: what changed between two checkpoints.
pub async fn appended(conn: &mut PgConnection, from: u64, to: u64) -> Result<Vec<NewRecord>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT provider, kind, entry, supersedes IS NOT NULL, received_at, idx, natural_key FROM ledger_entries
         WHERE idx >= $1 AND idx < $2 ORDER BY idx",
    )
    .bind(i64::try_from(from).unwrap_or(i64::MAX))
    .bind(i64::try_from(to).unwrap_or(i64::MAX))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let bytes: Vec<u8> = row.try_get(2)?;
            let mut entry: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(|e| sqlx::Error::Decode(e.into()))?;
            let index: i64 = row.try_get(5)?;
            Ok(NewRecord {
                index: index.max(0) as u64,
                provider: row.try_get(0)?,
                kind: row.try_get(1)?,
                natural_key: row.try_get(6)?,
                record: entry["record"].take(),
                amends: row.try_get(3)?,
                received_at: row.try_get(4)?,
            })
        })
        .collect()
}
