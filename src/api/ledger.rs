//! The ledger's read API. C2SP `tlog-tiles` endpoints (`/checkpoint`, `/tile/...`)
//! for standard tooling, and JSON conveniences under `/api/v1/ledger/` for
//! people scripting against a single entry or proof. Hashes in JSON are hex.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::extract::{Path, Query};
use crate::AppState;
use crate::db::ledger as store;
use crate::error::{ApiError, AppError};
use crate::ledger::log::{self, LedgerError};
use crate::ledger::tiles::{self, TILE_HEIGHT, TILE_WIDTH, TileKind, TilePath};

/// Full tiles never change: cache them forever.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The checkpoint and partial tiles change as the log grows.
const SHORT: &str = "public, max-age=5";

impl From<LedgerError> for AppError {
    fn from(error: LedgerError) -> Self {
        match error {
            LedgerError::Proof(proof) => AppError::BadRequest { message: proof.to_string(), details: Vec::new() },
            LedgerError::Db(db) => AppError::Database(db),
            other => {
                tracing::error!(error = %other, "ledger error");
                AppError::Unavailable("the ledger cannot serve this right now".into())
            }
        }
    }
}

fn with_cache(mut response: Response, policy: &'static str) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    response
}

async fn latest(state: &AppState) -> Result<store::StoredCheckpoint, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(store::latest_checkpoint(&mut conn)
        .await?
        .ok_or_else(|| AppError::Unavailable("no checkpoint has been signed yet".into()))?)
}

/// `GET /checkpoint`: the latest signed checkpoint note (C2SP tlog-checkpoint in a signed-note).
pub async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    let latest = latest(&state).await?;
    let response = ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], latest.note).into_response();
    Ok(with_cache(response, SHORT))
}

/// `GET /tile/{*path}`: hash tiles and entry bundles (C2SP tlog-tiles).
pub async fn tile(State(state): State<AppState>, Path(path): Path<String>) -> Result<Response, ApiError> {
    let tile = TilePath::parse(&path)
        .map_err(|error| AppError::BadRequest { message: error.to_string(), details: Vec::new() })?;
    let latest = latest(&state).await?;
    let (tree_level, available) = match tile.kind {
        TileKind::Hashes { level } => (level * TILE_HEIGHT, latest.size >> (level * TILE_HEIGHT)),
        TileKind::Entries => (0, latest.size),
    };
    let start = tile.index.checked_mul(TILE_WIDTH).ok_or(AppError::NotFound)?;
    if start.checked_add(tile.width()).is_none_or(|end| end > available) {
        return Err(AppError::Missing(format!("{tile} is not in the tree of size {}", latest.size)).into());
    }
    let mut conn = state.pool.acquire().await?;
    let body = match tile.kind {
        TileKind::Hashes { .. } => store::node_range(&mut conn, tree_level, start, tile.width()).await?.concat(),
        TileKind::Entries => {
            let mut bundle = Vec::new();
            for entry in store::entry_bytes_range(&mut conn, start, tile.width()).await? {
                tiles::push_bundle_entry(&mut bundle, &entry);
            }
            bundle
        }
    };
    let response = ([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response();
    Ok(with_cache(response, if tile.partial.is_some() { SHORT } else { IMMUTABLE }))
}

/// A checkpoint in JSON.
#[derive(Debug, Serialize)]
pub struct CheckpointJson {
    /// The log's origin line.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash, hex.
    pub root_hash: String,
    /// The signed note, exactly as at `/checkpoint`.
    pub note: String,
    /// The key that signs checkpoints, in C2SP vkey form.
    pub vkey: String,
}

fn checkpoint_json(state: &AppState, stored: &store::StoredCheckpoint) -> CheckpointJson {
    CheckpointJson {
        origin: state.ledger.origin().to_owned(),
        size: stored.size,
        root_hash: hex::encode(stored.root),
        note: stored.note.clone(),
        vkey: state.ledger.verifier().to_string(),
    }
}

/// `GET /api/v1/ledger/checkpoint`: the latest checkpoint and the verifier key.
pub async fn checkpoint_json_handler(State(state): State<AppState>) -> Result<Response, ApiError> {
    let latest = latest(&state).await?;
    Ok(with_cache(Json(checkpoint_json(&state, &latest)).into_response(), SHORT))
}

/// An entry with everything needed to check it against the checkpoint.
#[derive(Debug, Serialize)]
pub struct EntryJson {
    /// Index in the log.
    pub index: u64,
    /// Submitting provider.
    pub provider: String,
    /// Record kind.
    pub kind: String,
    /// When it was received.
    pub received_at: String,
    /// Entry it amends.
    pub supersedes: Option<u64>,
    /// SHA-256(0x00 ‖ entry bytes), hex.
    pub leaf_hash: String,
    /// The exact entry bytes, base64 (hash these, not a re-serialisation).
    pub entry_base64: String,
    /// The entry, parsed, for reading.
    pub entry: serde_json::Value,
    /// The checkpoint the proof leads to.
    pub checkpoint: CheckpointJson,
    /// Inclusion proof (RFC 9162 §2.1.3), leaf upwards, hex.
    pub inclusion_proof: Vec<String>,
}

/// `GET /api/v1/ledger/entries/{index}`: one entry with its inclusion proof against the latest checkpoint.
pub async fn entry(State(state): State<AppState>, Path(index): Path<u64>) -> Result<Response, ApiError> {
    let latest = latest(&state).await?;
    if index >= latest.size {
        return Err(AppError::Missing(format!("entry {index} is past the tree size ({})", latest.size)).into());
    }
    let mut conn = state.pool.acquire().await?;
    let row = store::entry(&mut conn, index).await?.ok_or(AppError::NotFound)?;
    let proof = log::inclusion_proof(&mut conn, index, latest.size).await.map_err(AppError::from)?;
    let body = EntryJson {
        index,
        provider: row.provider,
        kind: row.kind,
        received_at: crate::ledger::entry::format_received_at(row.received_at),
        supersedes: row.supersedes,
        leaf_hash: hex::encode(row.leaf_hash),
        entry_base64: BASE64.encode(&row.bytes),
        entry: serde_json::from_slice(&row.bytes).unwrap_or(serde_json::Value::Null),
        checkpoint: checkpoint_json(&state, &latest),
        inclusion_proof: proof.iter().map(hex::encode).collect(),
    };
    Ok(with_cache(Json(body).into_response(), SHORT))
}

/// Query of the consistency proof endpoint.
#[derive(Debug, Deserialize)]
pub struct ConsistencyQuery {
    /// Older tree size.
    pub from: u64,
    /// Newer tree size (at most the current size).
    pub to: u64,
}

/// A consistency proof.
#[derive(Debug, Serialize)]
pub struct ConsistencyJson {
    /// Older size.
    pub from: u64,
    /// Newer size.
    pub to: u64,
    /// Proof hashes (RFC 9162 §2.1.4), hex.
    pub proof: Vec<String>,
}

/// `GET /api/v1/ledger/proof/consistency?from=&to=`.
pub async fn consistency(
    State(state): State<AppState>,
    Query(query): Query<ConsistencyQuery>,
) -> Result<Response, ApiError> {
    if query.from > query.to {
        return Err(AppError::BadRequest {
            message: format!("from ({}) must not be greater than to ({})", query.from, query.to),
            details: Vec::new(),
        }
        .into());
    }
    let latest = latest(&state).await?;
    if query.to > latest.size {
        return Err(AppError::Missing(format!("to ({}) is past the tree size ({})", query.to, latest.size)).into());
    }
    let mut conn = state.pool.acquire().await?;
    let proof = log::consistency_proof(&mut conn, query.from, query.to).await.map_err(AppError::from)?;
    let body = ConsistencyJson { from: query.from, to: query.to, proof: proof.iter().map(hex::encode).collect() };
    let policy = if query.to == latest.size { SHORT } else { IMMUTABLE };
    Ok(with_cache((StatusCode::OK, Json(body)).into_response(), policy))
}
