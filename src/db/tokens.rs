//! Queries on `api_tokens`.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};

use crate::records::Slug;
use crate::tokens::IssuedToken;

/// A token as listed (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// `gl_<id>`.
    pub public_id: String,
    /// Owner.
    pub provider: String,
    /// Operator's label.
    pub label: String,
    /// Issue time.
    pub created_at: DateTime<Utc>,
    /// Revocation time.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What a valid token authenticates as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub provider_id: i64,
    pub provider: Slug,
    /// Stored hash, for the constant-time comparison.
    pub secret_hash: Vec<u8>,
    /// Whether it was revoked.
    pub revoked: bool,
    /// Whether the owner is a reporter (files reports only) rather than a provider.
    pub reporter: bool,
}

/// Stores a new token for a provider; false if the provider does not exist.
pub async fn insert(
    conn: &mut PgConnection,
    provider: &Slug,
    token: &IssuedToken,
    label: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "INSERT INTO api_tokens (provider_id, public_id, secret_hash, label)
         SELECT id, $2, $3, $4 FROM providers WHERE slug = $1",
    )
    .bind(provider.as_str())
    .bind(&token.public_id)
    .bind(token.secret_hash.as_slice())
    .bind(label)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Looks a token up by its public id.
pub async fn owner(conn: &mut PgConnection, public_id: &str) -> Result<Option<TokenOwner>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT t.provider_id, p.slug, t.secret_hash, t.revoked_at IS NOT NULL AS revoked,
                p.role = 'reporter' AS reporter
         FROM api_tokens t JOIN providers p ON p.id = t.provider_id WHERE t.public_id = $1",
    )
    .bind(public_id)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let slug: String = row.try_get("slug")?;
    Ok(Some(TokenOwner {
        provider_id: row.try_get("provider_id")?,
        provider: Slug::parse(&slug)
            .map_err(|e| sqlx::Error::ColumnDecode { index: "slug".into(), source: e.into() })?,
        secret_hash: row.try_get("secret_hash")?,
        revoked: row.try_get("revoked")?,
        reporter: row.try_get("reporter")?,
    }))
}

/// Revokes a token; false if no such active token.
pub async fn revoke(conn: &mut PgConnection, public_id: &str) -> Result<bool, sqlx::Error> {
    let result = sqlx::query("UPDATE api_tokens SET revoked_at = now() WHERE public_id = $1 AND revoked_at IS NULL")
        .bind(public_id)
        .execute(conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Tokens, optionally of one provider, newest first.
pub async fn list(conn: &mut PgConnection, provider: Option<&Slug>) -> Result<Vec<TokenInfo>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT t.public_id, p.slug, t.label, t.created_at, t.revoked_at
         FROM api_tokens t JOIN providers p ON p.id = t.provider_id
         WHERE $1::text IS NULL OR p.slug = $1 ORDER BY t.created_at DESC, t.id DESC",
    )
    .bind(provider.map(Slug::as_str))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(TokenInfo {
                public_id: row.try_get("public_id")?,
                provider: row.try_get("slug")?,
                label: row.try_get("label")?,
                created_at: row.try_get("created_at")?,
                revoked_at: row.try_get("revoked_at")?,
            })
        })
        .collect()
}
