//! `/ledger` (the latest checkpoint, how to verify it, the newest entries) and
//! `/ledger/entries/{index}` (one entry: its exact JSON, hashes, inclusion proof,
//! what it amends or was amended by, and whether the provider signed it).

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use super::cite::Citation;
use crate::AppState;
use crate::api::extract::Path;
use crate::db::ledger as store;
use crate::error::{AppError, PageError};
use crate::ledger::entry::Entry;
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
    pub recent: Vec<super::disclosure_words::Described>,
    /// Latest versions whose record no longer decodes, and the checkpoint of the page
    /// figures that found them (`None`: the figures are still being computed).
    pub unreadable: Option<(u64, Vec<super::page_data::UnreadableEntry>)>,
    /// What the witnesses vouched for.
    pub witnessing: Witnessing,
    /// The citation line.
    pub cite: Citation,
}

/// The witnesses' view: the newest checkpoint they cosigned, and each witness's row.
pub struct Witnessing {
    /// Size of the newest cosigned checkpoint (`None`: none yet).
    pub size: Option<u64>,
    /// Cosignatures on it (k of "k of n").
    pub cosigned: usize,
    /// One row per configured witness.
    pub rows: Vec<WitnessRow>,
}

/// One configured witness on `/ledger`.
pub struct WitnessRow {
    pub name: String,
    /// Its verifier key.
    pub vkey: String,
    /// When it cosigned the newest witnessed checkpoint ("—" if it did not).
    pub cosigned_at: String,
    /// Its last answer, if it failed.
    pub problem: Option<String>,
}

async fn witnessing(state: &AppState, conn: &mut sqlx::PgConnection) -> Result<Witnessing, sqlx::Error> {
    let id = crate::db::cosignatures::latest_witnessed_checkpoint(conn).await?;
    let (size, cosignatures) = match id {
        Some(id) => {
            let cosignatures = crate::db::cosignatures::of_checkpoint(conn, id).await?;
            (cosignatures.first().map(|c| c.tree_size), cosignatures)
        }
        None => (None, Vec::new()),
    };
    let rows: Vec<WitnessRow> = state
        .witnesses
        .configured
        .iter()
        .map(|w| {
            let vkey = w.verifier.to_string();
            let mine = cosignatures.iter().find(|c| c.witness == vkey);
            WitnessRow {
                name: w.verifier.name().to_owned(),
                cosigned_at: mine.map_or("—".into(), |c| c.cosigned_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
                problem: state.witnesses.last_attempt(&vkey).and_then(|a| a.problem),
                vkey,
            }
        })
        .collect();
    let cosigned = rows.iter().filter(|r| r.cosigned_at != "—").count();
    Ok(Witnessing { size, cosigned, rows })
}

/// `/ledger`.
pub async fn index(State(state): State<AppState>) -> Result<Response, PageError> {
    let mut conn = state.pool.acquire().await?;
    let checkpoint =
        store::latest_checkpoint(&mut conn).await?.ok_or_else(|| AppError::Unavailable("no checkpoint yet".into()))?;
    let newest = store::recent_entries(&mut conn, 25, None).await?;
    let recent = super::disclosure_words::described(&mut conn, &newest).await?;
    let witnessing = witnessing(&state, &mut conn).await?;
    let root_hex = hex::encode(checkpoint.root);
    let cite = Citation::at(&state, "ledger checkpoint", "/ledger", checkpoint.size, &root_hex, checkpoint.signed_at);
    // The ledger page answers without waiting for the figures: it shows what the held ones found.
    let unreadable =
        state.snapshots.latest().map(|held| (held.tree_size, held.unreadable_of(None).into_iter().cloned().collect()));
    Ok(super::render(&LedgerPage {
        unreadable,
        cite,
        origin: state.ledger.origin().to_owned(),
        vkey: state.ledger.verifier().to_string(),
        root_hex,
        checkpoint,
        recent,
        witnessing,
    }))
}

/// One entry's page.
#[derive(Template)]
#[template(path = "ledger/entry.html")]
pub struct EntryPage {
    pub entry: store::EntryRow,
    /// Its JSON, pretty-printed for reading (the hashed bytes are `raw`).
    pub pretty: String,
    /// The exact bytes as text.
    pub raw: String,
    /// Leaf hash, hex.
    pub leaf_hex: String,
    /// The entry that amends this one.
    pub superseded_by: Option<u64>,
    /// The key (`<slug>+<hex id>`) whose signature over the record verifies, if the provider signed it.
    pub signed_by: Option<String>,
    /// Why a signature the entry carries does not verify (`verify` reports it too).
    pub signature_problem: Option<String>,
    /// Why its record no longer decodes under today's rules, if it does not.
    pub unreadable: Option<String>,
    /// Checkpoint size the proof leads to.
    pub tree_size: u64,
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
    let signature = Entry::from_canonical_bytes(&entry.bytes).map_err(|e| e.to_string()).and_then(|e| {
        e.check_signature().map(|key| key.map(|k| k.label())).map_err(|e| format!("its provider signature {e}"))
    });
    let unreadable =
        crate::records::reports::check_entry(&entry.kind, parsed["record"].clone()).err().map(|e| e.reason);
    let (signed_by, signature_problem) = match signature {
        Ok(signed_by) => (signed_by, None),
        Err(problem) => (None, Some(problem)),
    };
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
        signed_by,
        signature_problem,
        unreadable,
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
        assert!(html.text_of("#verify").contains("gatelog verify log --from-url"));
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
