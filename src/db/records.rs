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
    /// The record JSON (the entry's `record`).
    pub record: serde_json::Value,
    /// How many earlier versions it superseded.
    pub amendments: u64,
}

/// The latest version of every (provider, kind, natural key), optionally for one provider.
pub async fn latest(conn: &mut PgConnection, provider: Option<&str>) -> Result<Vec<LatestRecord>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT DISTINCT ON (provider, kind, natural_key) idx, provider, kind, entry,
                count(*) OVER (PARTITION BY provider, kind, natural_key) - 1 AS amendments
         FROM ledger_entries WHERE $1::text IS NULL OR provider = $1
         ORDER BY provider, kind, natural_key, idx DESC",
    )
    .bind(provider)
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
                record: entry["record"].take(),
                amendments: amendments as u64,
            })
        })
        .collect()
}
