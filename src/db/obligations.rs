//! Reporting obligations, and the filings the compliance report weighs against them.

use sqlx::{PgConnection, Row};

use crate::analytics::compliance::{Cadence, Filing, Obligation};
use crate::records::RecordKind;

fn kind_of(name: &str) -> Option<RecordKind> {
    RecordKind::OPTIONS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
}

/// Sets (or replaces) one provider's obligation for one kind. False if there is no such provider.
pub async fn set(conn: &mut PgConnection, obligation: &Obligation) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO reporting_obligations (provider_id, kind, cadence, deadline_days, since)
         SELECT id, $2, $3, $4, $5 FROM providers WHERE slug = $1
         ON CONFLICT (provider_id, kind) DO UPDATE
         SET cadence = EXCLUDED.cadence, deadline_days = EXCLUDED.deadline_days, since = EXCLUDED.since",
    )
    .bind(&obligation.provider)
    .bind(obligation.kind.as_str())
    .bind(obligation.cadence.as_str())
    .bind(i32::try_from(obligation.deadline_days).unwrap_or(i32::MAX))
    .bind(obligation.since)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Every obligation (of one provider, if given), by provider and kind.
pub async fn list(conn: &mut PgConnection, provider: Option<&str>) -> Result<Vec<Obligation>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT p.slug, o.kind, o.cadence, o.deadline_days, o.since
         FROM reporting_obligations o JOIN providers p ON p.id = o.provider_id
         WHERE $1::text IS NULL OR p.slug = $1 ORDER BY p.slug, o.kind",
    )
    .bind(provider)
    .fetch_all(conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let kind: String = row.try_get("kind")?;
        let cadence: String = row.try_get("cadence")?;
        let deadline: i32 = row.try_get("deadline_days")?;
        // The table's CHECKs allow only these; one that does not parse is an error, never an
        // obligation left out of the compliance report without a word.
        let (Some(kind), Some(cadence)) = (kind_of(&kind), Cadence::parse(&cadence)) else {
            return Err(sqlx::Error::Decode(format!("obligation of kind {kind:?} with cadence {cadence:?}").into()));
        };
        out.push(Obligation {
            provider: row.try_get("slug")?,
            kind,
            cadence,
            deadline_days: deadline.max(0) as u32,
            since: row.try_get("since")?,
        });
    }
    Ok(out)
}

/// The filings of the kinds with a cadence among the first `tree_size` entries, in ledger
/// order: the date that places each in a period, when it was accepted, and whether it amends.
/// Every one of them at once: the compliance report reads their sums instead
/// ([`crate::db::filings`]).
pub async fn filings(conn: &mut PgConnection, tree_size: u64) -> Result<Vec<Filing>, sqlx::Error> {
    let mut out = Vec::new();
    crate::db::filings::each(conn, 0..tree_size, None, |filing| out.push(filing)).await?;
    Ok(out)
}
