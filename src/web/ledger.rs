//! `/ledger` (the latest checkpoint, how to verify it, the newest entries) and
//! `/ledger/entries/{index}` (one entry: its exact JSON, hashes, inclusion proof,
//! and what it amends or was amended by).

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use super::cite::Citation;
use crate::AppState;
use crate::api::extract::Path;
use crate::db::ledger as store;
use crate::error::{AppError, PageError};
use crate::ledger::log;

/// The ledger overview.
#[derive(Template)]
#[template(path = "ledger/index.html")]
pub struct LedgerPage {
    /// Log origin.
    pub origin: String,
    /// Verifier key.
    pub vkey: String,
    /// Latest checkpoint.
    pub checkpoint: store::StoredCheckpoint,
    /// Root hash, hex.
    pub root_hex: String,
    /// Newest entries.
    pub recent: Vec<store::EntrySummary>,
    /// The citation line.
    pub cite: Citation,
}

/// `/ledger`.
pub async fn index(State(state): State<AppState>) -> Result<Response, PageError> {
    let mut conn = state.pool.acquire().await?;
    let checkpoint =
        store::latest_checkpoint(&mut conn).await?.ok_or_else(|| AppError::Unavailable("no checkpoint yet".into()))?;
    let recent = store::recent_entries(&mut conn, 25, None).await?;
    let root_hex = hex::encode(checkpoint.root);
    let cite = Citation::at(&state, "ledger checkpoint", "/ledger", checkpoint.size, &root_hex, checkpoint.signed_at);
    Ok(super::render(&LedgerPage {
        cite,
        origin: state.ledger.origin().to_owned(),
        vkey: state.ledger.verifier().to_string(),
        root_hex,
        checkpoint,
        recent,
    }))
}

/// One entry's page.
#[derive(Template)]
#[template(path = "ledger/entry.html")]
pub struct EntryPage {
    /// The entry row.
    pub entry: store::EntryRow,
    /// Its JSON, pretty-printed for reading (the hashed bytes are `raw`).
    pub pretty: String,
    /// The exact bytes as text.
    pub raw: String,
    /// Leaf hash, hex.
    pub leaf_hex: String,
    /// The entry that amends this one.
    pub superseded_by: Option<u64>,
    /// Checkpoint size the proof leads to.
    pub tree_size: u64,
    /// Its root, hex.
    pub root_hex: String,
    /// Inclusion proof, hex.
    pub proof: Vec<String>,
    /// The citation line.
    pub cite: Citation,
}

/// `/ledger/entries/{index}`.
pub async fn entry(State(state): State<AppState>, Path(index): Path<String>) -> Result<Response, PageError> {
    let index: u64 = index.parse().map_err(|_| AppError::NotFound)?;
    let mut conn = state.pool.acquire().await?;
    let checkpoint = store::latest_checkpoint(&mut conn).await?.ok_or(AppError::NotFound)?;
    if index >= checkpoint.size {
        return Err(AppError::NotFound.into());
    }
    let entry = store::entry(&mut conn, index).await?.ok_or(AppError::NotFound)?;
    let proof = log::inclusion_proof(&mut conn, index, checkpoint.size).await.map_err(AppError::from)?;
    let superseded_by = store::superseded_by(&mut conn, index).await?;
    let parsed: serde_json::Value = serde_json::from_slice(&entry.bytes).unwrap_or(serde_json::Value::Null);
    let cite = Citation::at(
        &state,
        format!("ledger entry {index} ({} from {})", entry.kind, entry.provider),
        &format!("/ledger/entries/{index}"),
        checkpoint.size,
        &hex::encode(checkpoint.root),
        checkpoint.signed_at,
    );
    Ok(super::render(&EntryPage {
        cite,
        pretty: serde_json::to_string_pretty(&parsed).unwrap_or_default(),
        raw: String::from_utf8_lossy(&entry.bytes).into_owned(),
        leaf_hex: hex::encode(entry.leaf_hash),
        superseded_by,
        tree_size: checkpoint.size,
        root_hex: hex::encode(checkpoint.root),
        proof: proof.iter().map(hex::encode).collect(),
        entry,
    }))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use serde_json::json;

    use crate::testing::TestApp;

    #[tokio::test]
    async fn the_ledger_page_shows_the_signed_checkpoint_and_recent_entries() {
        let app = TestApp::new().await;
        let token = app.provider_token("nordic-hpc").await;
        let record = json!({"kind": "capacity", "as_of": "2026-11-01", "resource": "a100", "region": "eu-fi", "total_accelerators": 64, "newcomer_set_aside": 8});
        app.post("/api/v1/records", "application/json", record.to_string(), Some(&token), &[])
            .await
            .assert_status(StatusCode::CREATED);
        let response = app.get("/ledger").await;
        response.assert_status(StatusCode::OK);
        let html = response.html();
        assert_eq!(html.text_of("#tree-size"), "1");
        let note = html.text_of("#checkpoint-note");
        assert!(note.starts_with("test.gatelog.invalid/log 1 "), "{note}");
        assert_eq!(html.attr_of("#recent a", "href"), "/ledger/entries/0");
        assert!(html.text_of("#verify").contains("gatelog verify --from-url"));
    }

    #[tokio::test]
    async fn an_entry_page_links_its_amendments_both_ways() {
        let app = TestApp::new().await;
        let token = app.provider_token("nordic-hpc").await;
        let record = |total: u64| {
            json!({"kind": "capacity", "as_of": "2026-11-01", "resource": "a100", "region": "eu-fi", "total_accelerators": total, "newcomer_set_aside": 8}).to_string()
        };
        app.post("/api/v1/records", "application/json", record(64), Some(&token), &[])
            .await
            .assert_status(StatusCode::CREATED);
        app.post("/api/v1/records", "application/json", record(80), Some(&token), &[])
            .await
            .assert_status(StatusCode::CREATED);
        let first = app.get("/ledger/entries/0").await.html();
        assert_eq!(first.attr_of("#superseded-by a", "href"), "/ledger/entries/1");
        assert!(first.text_of("#entry-json").contains("\"total_accelerators\": 64"));
        let second = app.get("/ledger/entries/1").await.html();
        assert_eq!(second.attr_of("#supersedes a", "href"), "/ledger/entries/0");
        assert_eq!(second.texts_of("#proof li").len(), 1);
        for missing in ["/ledger/entries/2", "/ledger/entries/abc", "/ledger/entries/-1"] {
            app.get(missing).await.assert_status(StatusCode::NOT_FOUND);
        }
    }
}
