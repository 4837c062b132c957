//! Queries on the `providers` table.

use sqlx::{PgConnection, Row};

use crate::providers::{NewProvider, Provider};
use crate::records::Slug;

/// Inserts a provider, or leaves an existing one with the same slug untouched.
/// Returns true if it was new.
pub async fn insert_if_missing(conn: &mut PgConnection, provider: &NewProvider) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "INSERT INTO providers (slug, display_name, provider_kind, country, website)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (slug) DO NOTHING",
    )
    .bind(provider.slug.as_str())
    .bind(&provider.display_name)
    .bind(provider.kind.as_str())
    .bind(provider.country.as_deref())
    .bind(provider.website.as_deref())
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Every provider, by display name.
pub async fn list(conn: &mut PgConnection) -> Result<Vec<Provider>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, slug, display_name, provider_kind, country, website, created_at
         FROM providers ORDER BY lower(display_name), slug",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(provider_from_row).collect()
}

/// How many providers are registered.
pub async fn count(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM providers").fetch_one(conn).await
}

fn provider_from_row(row: &sqlx::postgres::PgRow) -> Result<Provider, sqlx::Error> {
    let slug: String = row.try_get("slug")?;
    let kind: String = row.try_get("provider_kind")?;
    // The table's CHECK constraints enforce both rules, so a failure here is corruption.
    let decode =
        |column: &str, reason: String| sqlx::Error::ColumnDecode { index: column.into(), source: reason.into() };
    Ok(Provider {
        id: row.try_get("id")?,
        slug: Slug::parse(&slug).map_err(|e| decode("slug", e.to_string()))?,
        display_name: row.try_get("display_name")?,
        kind: kind.parse().map_err(|e| decode("provider_kind", e))?,
        country: row.try_get("country")?,
        website: row.try_get("website")?,
        created_at: row.try_get("created_at")?,
    })
}

/// One provider by slug.
pub async fn get(conn: &mut PgConnection, slug: &Slug) -> Result<Option<Provider>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, slug, display_name, provider_kind, country, website, created_at FROM providers WHERE slug = $1",
    )
    .bind(slug.as_str())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(provider_from_row).transpose()
}
