//! Witness cosignatures on stored checkpoints.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCosignature {
    /// The checkpoint row it signs.
    pub checkpoint_id: i64,
    /// The witness's verifier key.
    pub witness: String,
    /// The witness's name.
    pub witness_name: String,
    /// The cosigned tree size.
    pub tree_size: u64,
    /// The signature line.
    pub line: String,
    /// The time inside the cosignature.
    pub cosigned_at: DateTime<Utc>,
}

fn from_row(row: &sqlx::postgres::PgRow) -> Result<StoredCosignature, sqlx::Error> {
    let size: i64 = row.try_get("tree_size")?;
    Ok(StoredCosignature {
        checkpoint_id: row.try_get("checkpoint_id")?,
        witness: row.try_get("witness")?,
        witness_name: row.try_get("witness_name")?,
        tree_size: u64::try_from(size).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        line: row.try_get("line")?,
        cosigned_at: row.try_get("cosigned_at")?,
    })
}

const COLUMNS: &str = "checkpoint_id, witness, witness_name, tree_size, line, cosigned_at";

/// Stores a cosignature (a repeat for the same checkpoint and witness is ignored).
pub async fn insert(conn: &mut PgConnection, cosignature: &StoredCosignature) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO witness_cosignatures (checkpoint_id, witness, witness_name, tree_size, line, cosigned_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(cosignature.checkpoint_id)
    .bind(&cosignature.witness)
    .bind(&cosignature.witness_name)
    .bind(i64::try_from(cosignature.tree_size).unwrap_or(i64::MAX))
    .bind(&cosignature.line)
    .bind(cosignature.cosigned_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Every cosignature on one checkpoint, by witness name.
pub async fn of_checkpoint(conn: &mut PgConnection, checkpoint_id: i64) -> Result<Vec<StoredCosignature>, sqlx::Error> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM witness_cosignatures WHERE checkpoint_id = $1 ORDER BY witness_name, witness"
    )))
    .bind(checkpoint_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// The largest tree size `witness` has cosigned for us, if any.
pub async fn latest_size(conn: &mut PgConnection, witness: &str) -> Result<Option<u64>, sqlx::Error> {
    let size: Option<i64> = sqlx::query_scalar("SELECT max(tree_size) FROM witness_cosignatures WHERE witness = $1")
        .bind(witness)
        .fetch_one(conn)
        .await?;
    Ok(size.and_then(|s| u64::try_from(s).ok()))
}

/// The newest checkpoint that carries at least one cosignature: its id.
pub async fn latest_witnessed_checkpoint(conn: &mut PgConnection) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT max(checkpoint_id) FROM witness_cosignatures").fetch_one(conn).await
}
