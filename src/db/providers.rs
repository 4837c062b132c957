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

/// Every provider (not reporters), by display name.
pub async fn list(conn: &mut PgConnection) -> Result<Vec<Provider>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, slug, display_name, provider_kind, country, website, created_at
         FROM providers WHERE role = 'provider' ORDER BY lower(display_name), slug",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(provider_from_row).collect()
}

/// How many providers are registered.
pub async fn count(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM providers WHERE role = 'provider'").fetch_one(conn).await
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

pub async fn get(conn: &mut PgConnection, slug: &Slug) -> Result<Option<Provider>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, slug, display_name, provider_kind, country, website, created_at FROM providers WHERE slug = $1 AND role = 'provider'",
    )
    .bind(slug.as_str())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(provider_from_row).transpose()
}

/// A registered reporter: a journalist, researcher or civic group that files reports about
/// providers (issue 19). Reporters share the providers table and its slug namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reporter {
    /// Slug: the `provider` field of the entries it files.
    pub slug: String,
    /// Name shown on the site.
    pub display_name: String,
    /// Public website.
    pub website: Option<String>,
    /// Why the operator distrusts it, if it does: its reports filed since are hidden from figures.
    pub distrust_reason: Option<String>,
    /// Since when.
    pub distrusted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Registers a reporter; false if the slug is taken (by a provider or a reporter).
pub async fn insert_reporter(
    conn: &mut PgConnection,
    slug: &Slug,
    display_name: &str,
    website: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "INSERT INTO providers (slug, display_name, provider_kind, website, role)
         VALUES ($1, $2, 'other', $3, 'reporter') ON CONFLICT (slug) DO NOTHING",
    )
    .bind(slug.as_str())
    .bind(display_name)
    .bind(website)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Every reporter, by slug.
pub async fn reporters(conn: &mut PgConnection) -> Result<Vec<Reporter>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT slug, display_name, website, distrust_reason, distrusted_at FROM providers
         WHERE role = 'reporter' ORDER BY slug",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Reporter {
                slug: row.try_get("slug")?,
                display_name: row.try_get("display_name")?,
                website: row.try_get("website")?,
                distrust_reason: row.try_get("distrust_reason")?,
                distrusted_at: row.try_get("distrusted_at")?,
            })
        })
        .collect()
}

/// Marks a reporter untrusted (`Some(reason)`) or trusted again (`None`); false if no such reporter.
pub async fn set_distrust(conn: &mut PgConnection, slug: &Slug, reason: Option<&str>) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE providers SET distrust_reason = $2, distrusted_at = CASE WHEN $2::text IS NULL THEN NULL ELSE now() END
         WHERE slug = $1 AND role = 'reporter'",
    )
    .bind(slug.as_str())
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// The role of a slug: `Some("provider")`, `Some("reporter")`, or `None` if unregistered.
pub async fn role_of(conn: &mut PgConnection, slug: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT role FROM providers WHERE slug = $1").bind(slug).fetch_optional(conn).await
}

/// The registry's version: it moves with every change to the providers (a trigger), so a
/// cached list of providers is current while it has not moved.
pub async fn registry_version(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT version FROM registry_version").fetch_one(conn).await
}

/// Display names of the given providers, by slug.
pub async fn display_names(
    conn: &mut PgConnection,
    slugs: &[&str],
) -> Result<std::collections::HashMap<String, String>, sqlx::Error> {
    let rows = sqlx::query("SELECT slug, display_name FROM providers WHERE slug = ANY($1)")
        .bind(slugs)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|row| Ok((row.try_get("slug")?, row.try_get("display_name")?))).collect()
}

/// Rows of the registry, providers and reporters alike.
pub async fn count_all(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM providers").fetch_one(conn).await?;
    Ok(count.max(0) as u64)
}
