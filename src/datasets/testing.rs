//! Helpers the datasets' tests share: a sink that collects rows, the ledger folded directly,
//! an amendment that no longer decodes, and the filters a derived export may take.

use sqlx::PgPool;

use super::Dataset;
use super::cell::Cell;
use super::filter::{ExportFilter, ExportQuery};
use super::source::{ExportError, RowSink};
use crate::projection::fold::{Fold, TypedEntry};
use crate::testing::TestApp;

/// Rows and left-out entries, as a sink receives them.
#[derive(Default)]
pub(crate) struct Collect {
    pub rows: Vec<Vec<Cell>>,
    pub unreadable: Vec<u64>,
}

impl RowSink for Collect {
    async fn push(&mut self, row: Vec<Cell>) -> Result<(), ExportError> {
        self.rows.push(row);
        Ok(())
    }

    fn unreadable(&mut self, index: u64, _reason: &str) {
        self.unreadable.push(index);
    }
}

/// The ledger's first `size` entries folded by the projection's rule, read directly.
pub(crate) async fn fold_of(pool: &PgPool, size: u64) -> Fold {
    let mut conn = pool.acquire().await.expect("conn");
    let bytes = crate::db::ledger::entry_bytes_range(&mut conn, 0, size).await.expect("entries");
    let mut fold = Fold::default();
    for entry in &bytes {
        fold.apply(TypedEntry::decode(entry).expect("an entry")).expect("follows the rule");
    }
    fold
}

/// Appends an amendment of a latest queue-time version whose record no longer decodes
/// (its jobs out of today's domain), as an older version could have written it; returns
/// its index.
pub(crate) async fn amend_unreadably(app: &TestApp) -> u64 {
    let fold = fold_of(&app.db.pool, app.tree_size().await).await;
    let version = fold
        .latest()
        .into_iter()
        .find(|v| v.entry.kind == "queue_time" && v.entry.record.is_ok())
        .cloned()
        .expect("a queue time");
    let mut record = version.entry.record.as_ref().expect("readable").to_json();
    record["jobs"] = serde_json::json!(9_007_199_254_740_991_u64);
    let pending = crate::ledger::entry::PendingEntry {
        provider: crate::records::Slug::parse(&version.entry.provider).expect("slug"),
        kind: "queue_time".into(),
        natural_key: version.key.clone(),
        record,
        supersedes: Some(version.entry.index),
        signature: None,
    };
    let appended = app.ledger().append(&app.db.pool, &[pending]).await.expect("append");
    appended.entries[0].index
}

/// Filters a derived export may take (each as `/data` would accept it).
pub(crate) fn filters_for(dataset: &Dataset) -> Vec<ExportFilter> {
    let queries = [
        vec![],
        vec![("resource", "nvidia-h100-80gb"), ("from", "2025-06-01")],
        vec![("region", "eu-de")],
        vec![("provider", "corvid-gpu"), ("to", "2025-03-31")],
        vec![("from", "2025-01-01"), ("to", "2025-12-31")],
    ];
    queries
        .iter()
        .filter_map(|pairs| {
            let text = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
            let query: ExportQuery = serde_urlencoded::from_str(&text).expect("query");
            ExportFilter::parse(&query, dataset).ok()
        })
        .collect()
}
