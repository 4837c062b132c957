//! The latest version of each natural key a batch names, read from the projection's
//! `projection_latest` table, so the `supersedes` a new entry carries follows the
//! projection's rule by construction.

use sqlx::PgConnection;

/// One latest version: its entry index and the entry's stored bytes.
#[derive(Debug, sqlx::FromRow)]
pub struct LatestVersion {
    /// Record kind.
    pub kind: String,
    /// Natural key within the provider and kind.
    pub natural_key: String,
    /// The entry holding the latest version.
    pub idx: i64,
    /// That entry's bytes (its JSON).
    pub entry: Vec<u8>,
}

/// The latest versions of `provider`'s `(kind, natural key)` pairs that have one. The
/// caller's transaction must see a current projection.
pub async fn of_keys(
    conn: &mut PgConnection,
    provider: &str,
    keys: &[(String, String)],
) -> Result<Vec<LatestVersion>, sqlx::Error> {
    let kinds: Vec<&str> = keys.iter().map(|(kind, _)| kind.as_str()).collect();
    let natural: Vec<&str> = keys.iter().map(|(_, key)| key.as_str()).collect();
    sqlx::query_as(
        // A LATERAL subquery with LIMIT and a correlated subquery cannot be flattened into
        // joins: one primary-key probe per record, whatever a generic plan would estimate
        // (a hash join would read every entry of the ledger).
        "SELECT l.kind, l.natural_key, l.idx, (SELECT e.entry FROM ledger_entries e WHERE e.idx = l.idx) AS entry
         FROM (SELECT DISTINCT * FROM UNNEST($2::text[], $3::text[])) AS wanted (kind, natural_key)
         CROSS JOIN LATERAL (
             SELECT kind, natural_key, idx FROM projection_latest l
             WHERE l.provider = $1 AND l.kind = wanted.kind AND l.natural_key = wanted.natural_key
             LIMIT 1
         ) l",
    )
    .bind(provider)
    .bind(&kinds)
    .bind(&natural)
    .fetch_all(conn)
    .await
}
