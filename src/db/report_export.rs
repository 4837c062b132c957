//! Reads report and answer entries for the `reports` and `report_answers` datasets.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};

use crate::datasets::reports::ThirdPartyEntry;

/// The report and answer entries among the first `tree_size`, in log order.
pub async fn third_party_entries(conn: &mut PgConnection, tree_size: u64) -> Result<Vec<ThirdPartyEntry>, sqlx::Error> {
    let size = i64::try_from(tree_size).unwrap_or(i64::MAX);
    let rows = sqlx::query(
        "SELECT idx, provider, kind, received_at, entry FROM ledger_entries
         WHERE kind IN ('report', 'answer') AND idx < $1 ORDER BY idx",
    )
    .bind(size)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let bytes: Vec<u8> = row.try_get("entry")?;
            let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
            let received_at: DateTime<Utc> = row.try_get("received_at")?;
            Ok(ThirdPartyEntry {
                index: row.try_get::<i64, _>("idx")? as u64,
                filer: row.try_get("provider")?,
                kind: row.try_get("kind")?,
                received_at,
                supersedes: value["supersedes"].as_u64(),
                record: value["record"].clone(),
            })
        })
        .collect()
}

/// How many reports and answers the first `tree_size` entries hold.
pub async fn counts(conn: &mut PgConnection, tree_size: u64) -> Result<(u64, u64), sqlx::Error> {
    let size = i64::try_from(tree_size).unwrap_or(i64::MAX);
    let row = sqlx::query(
        "SELECT (SELECT count(*) FROM reports WHERE idx < $1) AS reports,
                (SELECT count(*) FROM report_answers WHERE idx < $1) AS answers",
    )
    .bind(size)
    .fetch_one(conn)
    .await?;
    let (reports, answers): (i64, i64) = (row.try_get("reports")?, row.try_get("answers")?);
    Ok((reports as u64, answers as u64))
}
