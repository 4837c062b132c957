//! What the public pages are computed from: the latest version of every record,
//! graded, at one checkpoint. Computed once per checkpoint and shared, so repeat
//! views cost one small query until the ledger grows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};

use crate::AppState;
use crate::analytics::Disclosures;
use crate::analytics::grades::{self, Grade};
use crate::analytics::metrics::{self, AcceptanceRate, QueuePoint};
use crate::db;
use crate::error::AppError;
use crate::providers::Provider;
use crate::records::RecordKind;

/// Everything the pages show, at one checkpoint.
#[derive(Debug)]
pub struct Snapshot {
    /// Checkpoint size.
    pub tree_size: u64,
    /// Checkpoint root, hex.
    pub root_hex: String,
    /// Registered providers when computed (providers are registered outside the ledger).
    providers_version: (i64, i64),
    /// When that checkpoint was signed.
    pub signed_at: DateTime<Utc>,
    /// Registered providers, by name.
    pub providers: Vec<Provider>,
    /// Latest version of every record.
    pub disclosures: Disclosures,
    /// Amended records per provider.
    pub amendments: HashMap<String, u64>,
    /// First and last month any disclosure covers.
    pub window: Option<(NaiveDate, NaiveDate)>,
    /// Grade per provider slug.
    pub grades: HashMap<String, Grade>,
    /// Scorecard figures per provider slug.
    pub figures: HashMap<String, ProviderFigures>,
}

/// A provider's scorecard figures.
#[derive(Debug, Clone, Default)]
pub struct ProviderFigures {
    /// Queue-time series per tier and month.
    pub queue: Vec<QueuePoint>,
    /// Acceptance per applicant category.
    pub acceptance: Vec<AcceptanceRate>,
}

impl Snapshot {
    /// The ETag of every page computed from this snapshot: it changes when the
    /// ledger, the registered providers or the software change, and only then.
    pub fn etag(&self) -> String {
        format!(
            "\"{}-{}-{}-{}\"",
            &self.root_hex[..16],
            self.providers_version.0,
            self.providers_version.1,
            env!("CARGO_PKG_VERSION")
        )
    }
}

/// The cache: the last snapshot, replaced when the checkpoint changes.
#[derive(Debug, Clone, Default)]
pub struct SnapshotCache(Arc<Mutex<Option<Arc<Snapshot>>>>);

fn window(d: &Disclosures) -> Option<(NaiveDate, NaiveDate)> {
    let dates = d
        .queue_times
        .iter()
        .map(|(_, r)| r.period_start)
        .chain(d.acceptance.iter().map(|(_, r)| r.period_start))
        .chain(d.prices.iter().map(|(_, r)| r.effective_date))
        .chain(d.capacity.iter().map(|(_, r)| r.as_of));
    dates.fold(None, |acc, date| match acc {
        None => Some((date, date)),
        Some((first, last)) => Some((first.min(date), last.max(date))),
    })
}

/// The snapshot for the current checkpoint, computing it if the ledger moved.
pub async fn current(state: &AppState) -> Result<Arc<Snapshot>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let checkpoint = db::ledger::latest_checkpoint(&mut conn)
        .await?
        .ok_or_else(|| AppError::Unavailable("no checkpoint yet".into()))?;
    let root_hex = hex::encode(checkpoint.root);
    // Registering a provider does not touch the ledger, so it is part of the cache key.
    let providers_version: (i64, i64) =
        sqlx::query_as("SELECT count(*), coalesce(max(id), 0) FROM providers").fetch_one(&mut *conn).await?;
    if let Ok(guard) = state.snapshots.0.lock()
        && let Some(cached) = guard.as_ref()
        && cached.root_hex == root_hex
        && cached.providers_version == providers_version
    {
        return Ok(cached.clone());
    }
    let providers = db::providers::list(&mut conn).await?;
    let latest = db::records::latest(&mut conn, None).await?;
    let mut amendments: HashMap<String, u64> = HashMap::new();
    for record in &latest {
        if record.amendments > 0 {
            *amendments.entry(record.provider.clone()).or_default() += 1;
        }
    }
    let parsed = latest.into_iter().filter_map(|r| {
        let kind = RecordKind::OPTIONS.iter().find(|(name, _)| *name == r.kind).map(|(_, k)| *k)?;
        Some((r.provider, kind, r.record))
    });
    let (disclosures, skipped) = Disclosures::from_records(parsed);
    if skipped > 0 {
        tracing::warn!(skipped, "records that no longer parse were left out of the analytics");
    }
    // The analytics are CPU work (and polars blocks): keep them off the async workers.
    let slugs: Vec<String> = providers.iter().map(|p| p.slug.to_string()).collect();
    let (disclosures, window, grades, figures) = tokio::task::spawn_blocking(move || {
        let window = window(&disclosures);
        let mut grades = HashMap::new();
        let mut figures = HashMap::new();
        for slug in slugs {
            let mine = disclosures.of(&slug);
            if let Some(w) = window {
                grades.insert(slug.clone(), grades::grade(&mine, w));
            }
            let queue = metrics::queue_series(&mine).unwrap_or_default();
            let acceptance = metrics::acceptance_by_category(&mine).unwrap_or_default();
            figures.insert(slug, ProviderFigures { queue, acceptance });
        }
        (disclosures, window, grades, figures)
    })
    .await
    .map_err(|e| AppError::Unavailable(format!("analytics failed: {e}")))?;
    let snapshot = Arc::new(Snapshot {
        tree_size: checkpoint.size,
        root_hex,
        providers_version,
        signed_at: checkpoint.signed_at,
        providers,
        disclosures,
        amendments,
        window,
        grades,
        figures,
    });
    if let Ok(mut guard) = state.snapshots.0.lock() {
        *guard = Some(snapshot.clone());
    }
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::current;
    use crate::testing::TestApp;

    #[tokio::test]
    async fn the_snapshot_is_reused_until_the_ledger_or_the_providers_change() {
        let app = TestApp::new().await;
        let first = current(&app.state).await.expect("snapshot");
        let again = current(&app.state).await.expect("snapshot");
        assert!(Arc::ptr_eq(&first, &again), "same checkpoint, same snapshot");
        app.provider_token("new-provider").await;
        let after_registration = current(&app.state).await.expect("snapshot");
        assert!(!Arc::ptr_eq(&first, &after_registration));
        assert_eq!(after_registration.providers.len(), 1);
        app.ledger().append(&app.db.pool, &crate::testing::sample_batch(0, 3)).await.expect("append");
        let after_append = current(&app.state).await.expect("snapshot");
        assert_eq!(after_append.tree_size, 3);
    }
}
