//! Queries on `provider_keys`: providers' Ed25519 public keys for signed records.
//! Keys are only ever added and revoked (the table's trigger refuses anything else).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};

use crate::records::Slug;
use crate::records::signature::ProviderKey;

/// A registered key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The verifier key text, `<slug>+<hex id>+<base64 key>`.
    pub vkey: String,
    /// When it was registered.
    pub added_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl KeyInfo {
    /// `<slug>+<hex id>`, the short form shown on pages (the whole vkey if it does not parse).
    pub fn label(&self) -> String {
        ProviderKey::parse(&self.vkey).map_or_else(|_| self.vkey.clone(), |key| key.label())
    }
}

/// What [`add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// Registered.
    New,
    /// The key is already registered (to this provider: keys are named by their provider).
    AlreadyRegistered,
    /// No such provider.
    NoProvider,
}

/// Registers `key` for `provider`. The caller has checked the key is named `provider`.
pub async fn add(conn: &mut PgConnection, provider: &Slug, key: &ProviderKey) -> Result<Added, sqlx::Error> {
    let result = sqlx::query(
        "INSERT INTO provider_keys (provider_id, vkey) SELECT id, $2 FROM providers WHERE slug = $1
         ON CONFLICT (vkey) DO NOTHING",
    )
    .bind(provider.as_str())
    .bind(key.to_string())
    .execute(&mut *conn)
    .await?;
    if result.rows_affected() == 1 {
        return Ok(Added::New);
    }
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM providers WHERE slug = $1)")
        .bind(provider.as_str())
        .fetch_one(conn)
        .await?;
    Ok(if exists { Added::AlreadyRegistered } else { Added::NoProvider })
}

/// Every key of a provider, revoked ones too, oldest first.
pub async fn list(conn: &mut PgConnection, provider: &Slug) -> Result<Vec<KeyInfo>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT k.vkey, k.added_at, k.revoked_at FROM provider_keys k JOIN providers p ON p.id = k.provider_id
         WHERE p.slug = $1 ORDER BY k.added_at, k.id",
    )
    .bind(provider.as_str())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(KeyInfo {
                vkey: row.try_get("vkey")?,
                added_at: row.try_get("added_at")?,
                revoked_at: row.try_get("revoked_at")?,
            })
        })
        .collect()
}

/// Revokes one of `provider`'s keys; false if it has no such active key.
pub async fn revoke(conn: &mut PgConnection, provider: &Slug, vkey: &str) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE provider_keys k SET revoked_at = now() FROM providers p
         WHERE p.id = k.provider_id AND p.slug = $1 AND k.vkey = $2 AND k.revoked_at IS NULL",
    )
    .bind(provider.as_str())
    .bind(vkey)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// The keys a provider may sign new records with now (registered, not revoked).
pub async fn active(conn: &mut PgConnection, provider_id: i64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT vkey FROM provider_keys WHERE provider_id = $1 AND revoked_at IS NULL ORDER BY id")
        .bind(provider_id)
        .fetch_all(conn)
        .await
}

/// Every key ever registered, as (provider slug, vkey): what `verify` checks entries' keys against.
pub async fn all(conn: &mut PgConnection) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query("SELECT p.slug, k.vkey FROM provider_keys k JOIN providers p ON p.id = k.provider_id")
        .fetch_all(conn)
        .await?;
    rows.iter().map(|row| Ok((row.try_get("slug")?, row.try_get("vkey")?))).collect()
}
