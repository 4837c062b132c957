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

/// `GET /checkpoint`: the latest signed checkpoint note (C2SP tlog-checkpoint in a
/// signed-note), with every witness cosignature collected on it so far.
#[utoipa::path(get, path = "/checkpoint",
    summary = "The latest signed checkpoint",
    description = "The latest checkpoint as a C2SP tlog-checkpoint signed note, with every witness cosignature collected on it so far.",
    tag = "ledger",
    responses((status = 200, description = "The signed checkpoint note", content_type = "text/plain", body = String)))]
pub async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    let latest = latest(&state).await?;
    let mut conn = state.pool.acquire().await?;
    let cosignatures = crate::db::cosignatures::of_checkpoint(&mut conn, latest.id).await?;
    let note = crate::witness::collector::with_cosignatures(&latest.note, &cosignatures);
    let response = ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response();
    Ok(with_cache(response, SHORT))
}

/// `GET /checkpoint/witnessed`: the newest checkpoint that witnesses have cosigned,
/// with their cosignatures (404 until one has). Lags `/checkpoint` by a witness round.
#[utoipa::path(get, path = "/checkpoint/witnessed",
    summary = "The newest witnessed checkpoint",
    description = "The newest checkpoint that witnesses have cosigned, with their cosignatures (404 until one has). Lags `/checkpoint` by a witness round.",
    tag = "ledger",
    responses(
        (status = 200, description = "The newest cosigned checkpoint note", content_type = "text/plain", body = String),
        (status = 404, description = "No witness has cosigned a checkpoint yet", body = crate::error::Envelope),
    ))]
pub async fn witnessed_checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let missing = || AppError::Missing("no checkpoint has been cosigned by a witness yet".into());
    let id = crate::db::cosignatures::latest_witnessed_checkpoint(&mut conn).await?.ok_or_else(missing)?;
    let stored = store::checkpoint_by_id(&mut conn, id).await?.ok_or_else(missing)?;
    let cosignatures = crate::db::cosignatures::of_checkpoint(&mut conn, id).await?;
    let note = crate::witness::collector::with_cosignatures(&stored.note, &cosignatures);
    let response = ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response();
    Ok(with_cache(response, SHORT))
}

/// `GET /tile/{*path}`: hash tiles and entry bundles (C2SP tlog-tiles).
#[utoipa::path(get, path = "/tile/{path}",
    summary = "A hash tile or entry bundle",
    description = "Hash tiles and entry bundles as C2SP tlog-tiles lays them out. Full tiles never change and are cached for good.",
    tag = "ledger",
    params(("path" = String, Path, pattern = r"^([0-7]|entries)/(x(00[1-9]|0[1-9][0-9]|[1-9][0-9]{2})(/x[0-9]{3}){0,4}/)?[0-9]{3}(\.p/([1-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5]))?$",
        description = "`<L>/<N>[.p/<W>]` (a hash tile, L 0-7) or `entries/<N>[.p/<W>]` (an entry bundle); N in groups of three digits, e.g. `0/x001/234`, `entries/005.p/17`")),
    responses(
        (status = 200, description = "The tile's hashes, or the bundle's entries", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, description = "Not a tile path", body = crate::error::Envelope),
        (status = 404, description = "Not (yet) in the tree", body = crate::error::Envelope),
    ))]
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
#[derive(Debug, Serialize, utoipa::ToSchema)]
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
#[utoipa::path(get, path = "/api/v1/ledger/checkpoint",
    summary = "The latest checkpoint in JSON",
    description = "The latest checkpoint in JSON, with the key that verifies it.",
    tag = "ledger",
    responses((status = 200, description = "The latest checkpoint", body = CheckpointJson)))]
pub async fn checkpoint_json_handler(State(state): State<AppState>) -> Result<Response, ApiError> {
    let latest = latest(&state).await?;
    Ok(with_cache(Json(checkpoint_json(&state, &latest)).into_response(), SHORT))
}

/// An entry with everything needed to check it against the checkpoint.
#[derive(Debug, Serialize, utoipa::ToSchema)]
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
#[utoipa::path(get, path = "/api/v1/ledger/entries/{index}",
    summary = "One entry with its inclusion proof",
    description = "One entry, its exact bytes and its inclusion proof against the latest checkpoint.",
    tag = "ledger",
    params(("index" = u64, Path, description = "Entry index")),
    responses(
        (status = 200, description = "The entry and its inclusion proof", body = EntryJson),
        (status = 400, description = "The index is not a whole number from 0", body = crate::error::Envelope),
        (status = 404, description = "Past the tree size", body = crate::error::Envelope),
    ))]
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
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsistencyJson {
    /// Older size.
    pub from: u64,
    /// Newer size.
    pub to: u64,
    /// Proof hashes (RFC 9162 §2.1.4), hex.
    pub proof: Vec<String>,
}

/// `GET /api/v1/ledger/proof/consistency?from=&to=`.
#[utoipa::path(get, path = "/api/v1/ledger/proof/consistency",
    summary = "A consistency proof",
    description = "A consistency proof (RFC 9162) between two tree sizes.",
    tag = "ledger",
    params(
        ("from" = u64, Query, description = "Older tree size, at most `to`"),
        ("to" = u64, Query, description = "Newer tree size, at most the current size"),
    ),
    responses(
        (status = 200, description = "The proof", body = ConsistencyJson),
        (status = 400, description = "A size is missing or not a whole number, or `from` is greater than `to`", body = crate::error::Envelope),
        (status = 404, description = "`to` is past the tree size", body = crate::error::Envelope),
    ))]
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

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as BASE64;

    use crate::ledger::checkpoint::Checkpoint;
    use crate::ledger::merkle::{self, Hash};
    use crate::ledger::note::NoteVerifier;
    use crate::ledger::tiles;
    use crate::testing::{TestApp, sample_batch};

    /// An app whose ledger holds `count` entries, appended in uneven batches.
    async fn app_with_entries(count: u64) -> TestApp {
        let app = TestApp::new().await;
        let ledger = app.ledger();
        let mut next = 0;
        while next < count {
            let batch = (count - next).min(97 + next % 300);
            ledger.append(&app.db.pool, &sample_batch(next, batch)).await.expect("append");
            next += batch;
        }
        app
    }

    fn hex32(text: &str) -> Hash {
        hex::decode(text).expect("hex").try_into().expect("32 bytes")
    }

    #[tokio::test]
    async fn the_checkpoint_is_a_signed_note_of_the_current_tree() {
        let app = app_with_entries(300).await;
        let response = app.get("/checkpoint").await;
        response.assert_status(StatusCode::OK);
        assert_eq!(response.header("content-type"), "text/plain; charset=utf-8");
        assert_eq!(response.header("cache-control"), "public, max-age=5");
        let json = app.get("/api/v1/ledger/checkpoint").await.json();
        let verifier = NoteVerifier::parse(json["vkey"].as_str().expect("vkey")).expect("vkey parses");
        let note = response.text();
        let body = verifier.open(&note).expect("signature verifies");
        let checkpoint = Checkpoint::parse(body).expect("checkpoint body");
        assert_eq!(checkpoint.size, 300);
        assert_eq!(checkpoint.origin, "test.gatelog.invalid/log");
        assert_eq!(hex::encode(checkpoint.root), json["root_hash"]);
    }

    #[tokio::test]
    async fn an_entry_comes_with_a_proof_that_verifies() {
        let app = app_with_entries(300).await;
        for index in [0u64, 17, 256, 299] {
            let json = app.get(&format!("/api/v1/ledger/entries/{index}")).await.json();
            let bytes = BASE64.decode(json["entry_base64"].as_str().expect("bytes")).expect("base64");
            let leaf = merkle::leaf_hash(&bytes);
            assert_eq!(hex::encode(leaf), json["leaf_hash"]);
            assert_eq!(json["entry"]["index"], index);
            let proof: Vec<Hash> = json["inclusion_proof"]
                .as_array()
                .expect("proof")
                .iter()
                .map(|h| hex32(h.as_str().expect("hex")))
                .collect();
            let root = hex32(json["checkpoint"]["root_hash"].as_str().expect("root"));
            merkle::verify_inclusion(index, 300, &leaf, &proof, &root).expect("inclusion proof verifies");
        }
    }

    #[tokio::test]
    async fn tiles_are_served_per_c2sp_with_the_right_caching() {
        let app = app_with_entries(300).await;
        let full = app.get("/tile/0/000").await;
        full.assert_status(StatusCode::OK);
        assert_eq!(full.body.len(), 256 * 32);
        assert_eq!(full.header("cache-control"), "public, max-age=31536000, immutable");
        let mut conn = app.db.pool.acquire().await.expect("conn");
        let leaf_5 = crate::db::ledger::entry(&mut conn, 5).await.expect("query").expect("entry").leaf_hash;
        assert_eq!(&full.body[5 * 32..6 * 32], leaf_5.as_slice());

        let partial = app.get("/tile/0/001.p/44").await;
        partial.assert_status(StatusCode::OK);
        assert_eq!(partial.body.len(), 44 * 32);
        assert_eq!(partial.header("cache-control"), "public, max-age=5");

        let bundle = app.get("/tile/entries/001.p/44").await;
        bundle.assert_status(StatusCode::OK);
        let entries = tiles::split_bundle(&bundle.body).expect("well-formed bundle");
        assert_eq!(entries.len(), 44);
        let first: serde_json::Value = serde_json::from_slice(entries[0]).expect("json");
        assert_eq!(first["index"], 256);
        // Level-1 tile: hashes of level-8 subtrees; only one complete subtree of 256 exists.
        assert_eq!(app.get("/tile/1/000.p/1").await.body.len(), 32);
    }

    #[tokio::test]
    async fn bad_requests_get_the_json_envelope() {
        let app = app_with_entries(10).await;
        for (uri, status) in [
            ("/tile/0/abc", StatusCode::BAD_REQUEST),
            ("/tile/9/000", StatusCode::BAD_REQUEST),
            ("/tile/0/000.p/0", StatusCode::BAD_REQUEST),
            ("/tile/0/000", StatusCode::NOT_FOUND),
            ("/tile/0/000.p/11", StatusCode::NOT_FOUND),
            ("/tile/entries/x999/x999/x999/x999/x999/x999/x999/999", StatusCode::BAD_REQUEST),
            ("/tile/entries/x018/x446/x744/x073/x709/x551/615", StatusCode::NOT_FOUND),
            ("/api/v1/ledger/entries/10", StatusCode::NOT_FOUND),
            ("/api/v1/ledger/entries/minus-one", StatusCode::BAD_REQUEST),
            ("/api/v1/ledger/proof/consistency?from=5&to=3", StatusCode::BAD_REQUEST),
            ("/api/v1/ledger/proof/consistency?from=3&to=11", StatusCode::NOT_FOUND),
            ("/api/v1/ledger/proof/consistency?from=x&to=3", StatusCode::BAD_REQUEST),
        ] {
            let response = app.get(uri).await;
            response.assert_status(status);
            let json = response.json();
            assert!(json["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{uri}: {json}");
        }
        assert!(
            app.get("/api/v1/ledger/entries/10").await.json()["error"]["message"]
                .as_str()
                .expect("message")
                .contains("past the tree size")
        );
    }

    #[tokio::test]
    async fn consistency_proofs_link_old_and_new_checkpoints() {
        let app = app_with_entries(50).await;
        let old = hex32(app.get("/api/v1/ledger/checkpoint").await.json()["root_hash"].as_str().expect("root"));
        app.ledger().append(&app.db.pool, &sample_batch(50, 23)).await.expect("append");
        let new = hex32(app.get("/api/v1/ledger/checkpoint").await.json()["root_hash"].as_str().expect("root"));
        let json = app.get("/api/v1/ledger/proof/consistency?from=50&to=73").await.json();
        let proof: Vec<Hash> =
            json["proof"].as_array().expect("proof").iter().map(|h| hex32(h.as_str().expect("hex"))).collect();
        merkle::verify_consistency(50, 73, &old, &new, &proof).expect("consistent");
    }

    /// An outside implementation (tlog_tiles, a port of Go's sumdb/tlog) authenticates
    /// our served tiles against the signed checkpoint and proves an entry with them,
    /// and `gatelog verify log --from-url` passes, then catches a tampered tile.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn outside_tools_verify_from_the_public_endpoints_alone() {
        let app = app_with_entries(700).await;
        let verifier = app.ledger().verifier();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let router = app.router.clone();
        tokio::spawn(async move { axum::serve(listener, router).await });

        let (url, keys) = (base.clone(), vec![verifier.clone()]);
        tokio::task::spawn_blocking(move || {
            struct HttpTiles(String);
            impl tlog_tiles::TileReader for HttpTiles {
                fn height(&self) -> u8 {
                    8
                }
                fn read_tiles(&self, tiles: &[tlog_tiles::Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
                    tiles
                        .iter()
                        .map(|tile| {
                            let path = tile.path().replacen("tile/8/", "tile/", 1);
                            let mut response = ureq::get(format!("{}/{path}", self.0))
                                .call()
                                .map_err(|e| tlog_tiles::Error::InvalidInput(e.to_string()))?;
                            response
                                .body_mut()
                                .read_to_vec()
                                .map_err(|e| tlog_tiles::Error::InvalidInput(e.to_string()))
                        })
                        .collect()
                }
                fn save_tiles(&self, _: &[tlog_tiles::Tile], _: &[Vec<u8>]) {}
            }
            let note = ureq::get(format!("{url}/checkpoint"))
                .call()
                .expect("checkpoint")
                .body_mut()
                .read_to_string()
                .expect("text");
            let checkpoint = Checkpoint::parse(keys[0].open(&note).expect("signed")).expect("parse");
            let tiles = HttpTiles(url.clone());
            let reader = tlog_tiles::TileHashReader::new(checkpoint.size, tlog_tiles::Hash(checkpoint.root), &tiles);
            let bundle = ureq::get(format!("{url}/tile/entries/001"))
                .call()
                .expect("bundle")
                .body_mut()
                .read_to_vec()
                .expect("bytes");
            let entry_300 = crate::ledger::tiles::split_bundle(&bundle).expect("bundle")[300 - 256].to_vec();
            let proof = tlog_tiles::prove_record(checkpoint.size, 300, &reader).expect("proof from served tiles");
            tlog_tiles::check_record(
                &proof,
                checkpoint.size,
                tlog_tiles::Hash(checkpoint.root),
                300,
                tlog_tiles::record_hash(&entry_300),
            )
            .expect("an outside implementation verifies entry 300");

            let report = crate::ledger::verify::verify_remote(&url, &keys).expect("fetch");
            assert!(report.ok(), "{report}");
            assert_eq!(report.entries, 700);
        })
        .await
        .expect("outside checks");

        sqlx::query("ALTER TABLE ledger_nodes DISABLE TRIGGER ledger_nodes_append_only")
            .execute(&app.db.pool)
            .await
            .expect("disable");
        sqlx::query("UPDATE ledger_nodes SET hash = sha256('forged'::bytea) WHERE level = 0 AND idx = 600")
            .execute(&app.db.pool)
            .await
            .expect("tamper");
        let keys = vec![verifier];
        let report =
            tokio::task::spawn_blocking(move || crate::ledger::verify::verify_remote(&base, &keys).expect("fetch"))
                .await
                .expect("join");
        assert!(report.to_string().contains("tile/0/002.p/188: served hashes differ"), "{report}");
    }

    /// The worked example in docs/LEDGER.md, run for real: docs/verify-entry.sh checks a
    /// served entry with curl, jq, xxd, sha256sum and openssl, and rejects a wrong key.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_documented_shell_verification_works() {
        let app = app_with_entries(1000).await;
        let vkey = app.ledger().verifier().to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let router = app.router.clone();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/verify-entry.sh");
        for index in ["0", "613", "999"] {
            let output = tokio::process::Command::new("bash")
                .arg(&script)
                .args([&base, index, &vkey])
                .output()
                .await
                .expect("run script");
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
            assert!(stdout.contains("inclusion proof: OK"), "{stdout}");
            println!("{stdout}");
        }
        let other = crate::testing::test_ledger().verifier().to_string();
        let output = tokio::process::Command::new("bash")
            .arg(&script)
            .args([&base, "5", &other])
            .output()
            .await
            .expect("run script");
        assert!(!output.status.success(), "a checkpoint must not verify under another key");
    }

    /// Issue 15: docs/verify-entry.sh believes only signed values. A server lying in the unsigned
    /// JSON (a tree size beside the signed checkpoint, another entry passed off as the one asked
    /// for) gets no lie repeated as verified.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_documented_shell_verification_believes_only_signed_values() {
        use axum::http::{Uri, header};
        use axum::response::IntoResponse;

        let app = app_with_entries(1000).await;
        let vkey = app.ledger().verifier().to_string();
        let honest = app.get("/api/v1/ledger/entries/0").await.json();
        // Entry 0's proof walks the same for every size from 513 to 1024: only the signed size tells.
        let mut bigger = honest.clone();
        bigger["checkpoint"]["size"] = 1023.into();
        let lies = std::collections::HashMap::from([
            ("/api/v1/ledger/entries/0".to_owned(), bigger.to_string()),
            // Entry 1024 does not exist (the tree holds 1000); entry 0 and its true proof stand in.
            ("/api/v1/ledger/entries/1024".to_owned(), honest.to_string()),
        ]);
        let lying = axum::Router::new().fallback(move |uri: Uri| {
            let body = lies.get(uri.path()).cloned();
            async move {
                match body {
                    Some(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, lying).await });
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/verify-entry.sh");
        let run = |index: &'static str| {
            tokio::process::Command::new("bash").arg(&script).args([&base, index, &vkey]).output()
        };

        let output = run("0").await.expect("run script");
        let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "{stdout}{stderr}");
        assert!(stdout.contains("inclusion proof: OK (entry 0 is in the signed tree of size 1000)"), "{stdout}");
        assert!(!stdout.contains("1023"), "the unsigned size was believed:\n{stdout}");

        let output = run("1024").await.expect("run script");
        let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(!output.status.success(), "entry 0 passed off as entry 1024:\n{stdout}");
        assert!(stderr.contains("asked for entry 1024, the entry bytes say index 0"), "{stdout}{stderr}");
    }
}
