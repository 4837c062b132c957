//! `POST /api/v1/records`: providers push records as JSON, NDJSON or CSV; the
//! batch is accepted whole or not at all, and every record gets its outcome and
//! receipt. `GET /api/v1/receipts/{index}` re-issues a receipt.
//!
//! A record may carry its provider's Ed25519 `signature` (see [`crate::records::signature`]):
//! it must verify against one of the provider's registered, unrevoked keys, or the
//! batch is refused (422, naming the record and the field `signature`). The entry
//! stores the signature with the key, so anyone can check it from the entry alone.
//!
//! Limits: at most [`MAX_RECORDS`] records and [`MAX_BODY_BYTES`] bytes per request
//! (413 beyond either); per token, the rate of [`super::auth::IngestRate`] (429).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::auth::ProviderToken;
use super::extract::{Path, Query};
use crate::AppState;
use crate::db::idempotency_keys::{self, Answer, Claim};
use crate::error::{ApiError, AppError};
use crate::ledger::tlog_proof;
use crate::records::{Record, RecordKind};
use crate::submission;
use crate::submission::formats::{self, BodyError, Format, Located};
use crate::telemetry::BatchRejection;

pub use super::batch::{BatchJson, MAX_BODY_BYTES, MAX_RECORDS, RecordJson, Summary};
use super::batch::{batch_json_of, check_own, check_signatures, check_size};

/// Longest `Idempotency-Key`.
const MAX_IDEMPOTENCY_KEY: usize = 200;

/// Query of `POST /api/v1/records`.
#[derive(Debug, Default, Deserialize)]
pub struct RecordsQuery {
    /// Record kind of a CSV body.
    pub kind: Option<String>,
    /// Validate, deduplicate and classify, but write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

fn format_of(headers: &HeaderMap, kind: Option<&str>) -> Result<Format, AppError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match media.as_str() {
        "application/json" => Ok(Format::Json),
        "application/x-ndjson" | "application/jsonl" => Ok(Format::Ndjson),
        "text/csv" => {
            let names: Vec<&str> = RecordKind::OPTIONS.iter().map(|(name, _)| *name).collect();
            let kind = kind.ok_or_else(|| AppError::BadRequest {
                message: format!("a CSV body needs ?kind= (one of {})", names.join(", ")),
                details: Vec::new(),
            })?;
            let kind =
                RecordKind::OPTIONS.iter().find(|(name, _)| *name == kind).map(|(_, k)| *k).ok_or_else(|| {
                    AppError::BadRequest {
                        message: format!("unknown kind {kind:?}; expected one of {}", names.join(", ")),
                        details: Vec::new(),
                    }
                })?;
            Ok(Format::Csv(kind))
        }
        _ => Err(AppError::UnsupportedMediaType(format!(
            "Content-Type must be application/json, application/x-ndjson or text/csv, got {:?}",
            if content_type.is_empty() { "(none)" } else { content_type }
        ))),
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key = value.to_str().map(str::trim).unwrap_or("");
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY {
        return Err(AppError::BadRequest {
            message: format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible characters"),
            details: Vec::new(),
        });
    }
    Ok(Some(key.to_owned()))
}

/// `POST /api/v1/records`.
///
/// With an `Idempotency-Key`, the key is claimed before any work: of two requests with
/// one key, one applies the batch and the other is answered 409 while it runs, or the
/// first answer once it has finished. The same key with another body is refused (422).
#[utoipa::path(
    post,
    path = "/api/v1/records",
    summary = "Push records",
    description = "JSON (one record or an array), NDJSON (one record per line) or CSV (a header row, one kind per file given by `?kind=`). The batch is accepted whole or not at all. Each record's outcome is `created`, `amended` (same natural key, new content) or `duplicate` (nothing written, the existing receipt returned), so retrying is safe; with an `Idempotency-Key` a retry gets the first answer.",
    tag = "ingest",
    params(
        ("kind" = Option<crate::records::RecordKind>, Query, description = "Record kind of a CSV body (required for text/csv)"),
        ("dry_run" = Option<bool>, Query, description = "Validate, deduplicate and classify, but write nothing"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 200, description = "Replays the first answer for a retried request with the same key and body (header Idempotent-Replayed: true); a key is remembered for GATELOG_IDEMPOTENCY_DAYS (30 by default)"),
    ),
    request_body(
        description = "JSON: one record or an array; NDJSON: one record per line; CSV: a header row and one kind per file, given by `?kind=`",
        content(
            (super::batch::RecordsBody = "application/json"),
            (String = "application/x-ndjson"),
            (String = "text/csv"),
        )
    ),
    responses(
        (status = 201, description = "At least one record appended; receipts included", body = BatchJson),
        (status = 200, description = "Nothing new (all duplicates), or a dry run", body = BatchJson),
        (status = 400, description = "Malformed body or query, a bad Idempotency-Key, or a CSV without ?kind=", body = crate::error::Envelope),
        (status = 401, description = "Missing, unknown or revoked token", body = crate::error::Envelope),
        (status = 403, description = "A record names another provider; a provider's token files a report, or a reporter's token anything but reports", body = crate::error::Envelope),
        (status = 409, description = "A request with this Idempotency-Key is still being processed; retry for its answer", body = crate::error::Envelope),
        (status = 413, description = "Over the record or byte limit", body = crate::error::Envelope),
        (status = 415, description = "Unsupported Content-Type (reports are JSON or NDJSON, never CSV)", body = crate::error::Envelope),
        (status = 422, description = "Invalid records (nothing written), or an Idempotency-Key reused for another body", body = crate::error::Envelope),
        (status = 429, description = "Per-token rate limit; see Retry-After", body = crate::error::Envelope),
    ),
    security(("bearer" = []))
)]
pub async fn post(
    State(state): State<AppState>,
    token: ProviderToken,
    Query(query): Query<RecordsQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let format = format_of(&headers, query.kind.as_deref())?;
    let key = idempotency_key(&headers)?;
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        state.metrics.rejected_batch(BatchRejection::TooLarge);
        AppError::TooLarge(format!(
            "the request body exceeds the limit of {MAX_BODY_BYTES} bytes (8 MiB); split the batch"
        ))
    })?;
    // Reports (by reporters) and answers (by the provider a report is about, with any of
    // its own records beside them) go their own way.
    let batch = match super::reports::third_party(&state, &token, format, &bytes)? {
        Some(third_party) => Parsed::ThirdParty(third_party),
        None => Parsed::Own(own_records(&state, &token, format, &bytes)?),
    };
    let listed = batch.listed();

    let claim = match &key {
        None => None,
        Some(key) => {
            let request_hash: [u8; 32] = {
                let mut hasher = Sha256::new();
                hasher.update(format!("{format:?}|{}|", query.dry_run));
                hasher.update(&bytes);
                hasher.finalize().into()
            };
            let mut conn = state.pool.acquire().await.map_err(AppError::from)?;
            let claim = idempotency_keys::claim(
                &mut conn,
                token.provider_id,
                key,
                &request_hash,
                state.idempotency_days.get(),
                CLAIM_LEASE,
            )
            .await
            .map_err(AppError::from)?;
            // A replay takes connections of its own.
            drop(conn);
            match claim {
                Claim::Claimed(claimed_at) => Some(KeyClaim::new(&state, token.provider_id, key, claimed_at)),
                Claim::InFlight => {
                    return Err(AppError::Conflict(
                        "a request with this Idempotency-Key is still being processed; retry it shortly to get its answer"
                            .into(),
                    )
                    .into());
                }
                Claim::OtherRequest => {
                    return Err(AppError::Unprocessable {
                        message: "this Idempotency-Key was used for a different request".into(),
                        details: Vec::new(),
                    }
                    .into());
                }
                Claim::Finished(answer) => return replay(&state, &token, &listed, query.dry_run, &answer).await,
            }
        }
    };

    let applied = match batch {
        Parsed::Own(located) => apply(&state, &token, &located, &listed, query.dry_run).await,
        Parsed::ThirdParty(third_party) => super::reports::apply(&state, &token, third_party, query.dry_run).await,
    };
    match (applied, claim) {
        (Ok((status, body, _)), None) => Ok((status, Json(body)).into_response()),
        (Ok((status, body, answer)), Some(claim)) => {
            claim.finish(&answer).await;
            Ok((status, Json(body)).into_response())
        }
        (Err(error), claim) => {
            if let Some(claim) = claim {
                claim.release().await;
            }
            Err(error)
        }
    }
}

/// A request body, parsed: a provider's own records, or reports and answers.
enum Parsed {
    Own(Vec<Located>),
    ThirdParty(super::reports::ThirdParty),
}

impl Parsed {
    /// Every item's (position, kind, natural key), in body order.
    fn listed(&self) -> Vec<(usize, String, String)> {
        match self {
            Self::Own(located) => located
                .iter()
                .map(|place| (place.position, place.record.kind().as_str().to_owned(), place.record.natural_key()))
                .collect(),
            Self::ThirdParty(third_party) => third_party.listed(),
        }
    }
}

/// A provider's own records from the body, all valid and all its own, or why not.
fn own_records(
    state: &AppState,
    token: &ProviderToken,
    format: Format,
    bytes: &[u8],
) -> Result<Vec<Located>, ApiError> {
    let located = formats::parse(format, bytes).map_err(|error| match error {
        BodyError::Malformed(message) => {
            state.metrics.rejected_batch(BatchRejection::Malformed);
            AppError::BadRequest { message, details: Vec::new() }
        }
        BodyError::Invalid(details) => {
            state.metrics.rejected_batch(BatchRejection::Invalid);
            AppError::Unprocessable {
                message: format!("{} problem(s) found; nothing was written", details.len()),
                details,
            }
        }
    })?;
    check_size(state, located.len())?;
    check_own(state, token, &located)?;
    Ok(located)
}

/// Checks signatures, classifies and (unless a dry run) appends the batch; the response,
/// and the compact answer an idempotency key remembers.
async fn apply(
    state: &AppState,
    token: &ProviderToken,
    located: &[Located],
    listed: &[(usize, String, String)],
    dry_run: bool,
) -> Result<(StatusCode, BatchJson, Answer), ApiError> {
    let signatures = check_signatures(state, token, located).await?;

    let records: Vec<Record> = located.iter().map(|r| r.record.clone()).collect();
    let result = submission::submit_signed(&state.pool, &state.ledger, &token.provider, &records, &signatures, dry_run)
        .await
        .map_err(AppError::from)?;
    let checkpoint = if dry_run {
        None
    } else {
        let mut conn = state.pool.acquire().await.map_err(AppError::from)?;
        let latest = crate::db::ledger::latest_checkpoint(&mut conn).await.map_err(AppError::from)?;
        Some(latest.ok_or_else(|| AppError::Unavailable("the ledger has no checkpoint".into()))?)
    };
    let body =
        batch_json_of(state, token, listed, &result.records, result.tree_size, checkpoint.as_ref(), dry_run).await?;
    if !dry_run {
        state.metrics.ingested("created", body.summary.created as u64);
        state.metrics.ingested("amended", body.summary.amended as u64);
        state.metrics.ingested("duplicate", body.summary.duplicate as u64);
    }
    let wrote = body.summary.created + body.summary.amended > 0;
    let status = if wrote && !dry_run { StatusCode::CREATED } else { StatusCode::OK };
    let answer = Answer::new(status.as_u16(), result.tree_size, checkpoint.map(|c| c.id), &result.records);
    Ok((status, body, answer))
}

/// How long a claim may stay unfinished before another request may take the key over:
/// well past the request timeout (30 s, `routes`), after which the claiming request is
/// gone, so this only frees keys of requests cut off without releasing (a crash).
const CLAIM_LEASE: std::time::Duration = std::time::Duration::from_secs(300);

/// The first answer again, rebuilt from its compact summary and the same request body.
async fn replay(
    state: &AppState,
    token: &ProviderToken,
    listed: &[(usize, String, String)],
    dry_run: bool,
    answer: &Answer,
) -> Result<Response, ApiError> {
    let inconsistent =
        || AppError::Unavailable("a remembered Idempotency-Key answer does not match its request".into());
    let results = answer.results(dry_run).filter(|r| r.len() == listed.len()).ok_or_else(inconsistent)?;
    let checkpoint = match answer.checkpoint_id {
        None => None,
        Some(id) => {
            let mut conn = state.pool.acquire().await.map_err(AppError::from)?;
            let checkpoint = crate::db::ledger::checkpoint_by_id(&mut conn, id).await.map_err(AppError::from)?;
            Some(checkpoint.ok_or_else(inconsistent)?)
        }
    };
    let body = batch_json_of(state, token, listed, &results, answer.tree_size, checkpoint.as_ref(), dry_run).await?;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut replayed = (status, Json(body)).into_response();
    replayed.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(replayed)
}

/// This request's claim on an idempotency key: finished with the answer, or released so
/// the key can be used again. A request cut off before either (its future dropped, e.g.
/// by the timeout or a disconnect) releases it in the background.
struct KeyClaim {
    pool: sqlx::PgPool,
    provider_id: i64,
    key: String,
    claimed_at: DateTime<Utc>,
    settled: bool,
}

impl KeyClaim {
    fn new(state: &AppState, provider_id: i64, key: &str, claimed_at: DateTime<Utc>) -> Self {
        Self { pool: state.pool.clone(), provider_id, key: key.to_owned(), claimed_at, settled: false }
    }

    /// Remembers the answer. The batch is applied by now, so a failure here is logged and
    /// the claim released: the client still gets its answer, and a retry is classified
    /// again (duplicates, nothing appended twice).
    async fn finish(mut self, answer: &Answer) {
        let stored = match self.pool.acquire().await {
            Ok(mut conn) => {
                idempotency_keys::finish(&mut conn, self.provider_id, &self.key, self.claimed_at, answer).await
            }
            Err(error) => Err(error),
        };
        match stored {
            Ok(true) => self.settled = true,
            Ok(false) => {
                self.settled = true;
                tracing::warn!(
                    provider_id = self.provider_id,
                    "an idempotency claim was taken over before it finished"
                );
            }
            Err(error) => {
                tracing::error!(%error, provider_id = self.provider_id, "idempotency answer not stored");
                self.release().await;
            }
        }
    }

    /// Gives the key up (the request failed, so there is no answer to remember).
    async fn release(mut self) {
        self.settled = true;
        let released = match self.pool.acquire().await {
            Ok(mut conn) => idempotency_keys::release(&mut conn, self.provider_id, &self.key, self.claimed_at).await,
            Err(error) => Err(error),
        };
        if let Err(error) = released {
            // The lease frees it later.
            tracing::warn!(%error, provider_id = self.provider_id, "idempotency claim not released");
        }
    }
}

impl Drop for KeyClaim {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let (pool, provider_id, key, claimed_at) =
            (self.pool.clone(), self.provider_id, self.key.clone(), self.claimed_at);
        runtime.spawn(async move {
            if let Ok(mut conn) = pool.acquire().await {
                let _ = idempotency_keys::release(&mut conn, provider_id, &key, claimed_at).await;
            }
        });
    }
}

/// `GET /api/v1/receipts/{index}`: a self-contained receipt against the latest checkpoint,
/// as JSON by default. `GET /api/v1/receipts/{index}.tlog-proof`, or `Accept:
/// application/tlog-proof`, answers it as a C2SP `tlog-proof@v1` file instead (see
/// [`crate::ledger::tlog_proof`]). axum cannot match a parameter and a literal suffix
/// in one segment, so the handler splits the suffix off itself.
#[utoipa::path(get, path = "/api/v1/receipts/{index}",
    summary = "A receipt for one entry",
    description = "A self-contained receipt against the latest checkpoint, verifiable offline: JSON by default; with `Accept: application/tlog-proof`, or at `/api/v1/receipts/{index}.tlog-proof`, a C2SP tlog-proof@v1 file carrying the witnesses' cosignatures.",
    tag = "ingest",
    params(("index" = u64, Path, description = "Entry index (append `.tlog-proof` for the C2SP file)")),
    responses(
        (status = 200, description = "The receipt: JSON, or with `Accept: application/tlog-proof` a C2SP tlog-proof@v1 file",
            content((crate::submission::Receipt = "application/json"), (String = "application/tlog-proof"))),
        (status = 400, description = "The index is not a whole number from 0", body = crate::error::Envelope),
        (status = 404, description = "Past the tree size", body = crate::error::Envelope),
    ))]
pub async fn receipt(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(segment): Path<String>,
) -> Result<Response, ApiError> {
    let suffix = format!(".{}", tlog_proof::EXTENSION);
    let (index, by_url) = match segment.strip_suffix(&suffix) {
        Some(index) => (index, true),
        None => (segment.as_str(), false),
    };
    // Same refusal as the typed `Path<u64>` this route had, so clients see no change.
    let index: u64 = index.parse().map_err(|_| AppError::BadRequest {
        message: format!("Invalid URL: Cannot parse `{index}` to a `u64`"),
        details: Vec::new(),
    })?;
    let mut conn = state.pool.acquire().await.map_err(AppError::from)?;
    let head = crate::db::ledger::head(&mut conn).await.map_err(AppError::from)?;
    if index >= head.size {
        return Err(AppError::Missing(format!("entry {index} is past the tree size ({})", head.size)).into());
    }
    let vary = (header::VARY, HeaderValue::from_static("accept"));
    if by_url || accepts_tlog_proof(&headers) {
        let proof = tlog_proof_of(&mut conn, index).await.map_err(AppError::from)?;
        let disposition = format!("attachment; filename=\"gatelog-entry-{index}.{}\"", tlog_proof::EXTENSION);
        let headers = [
            (header::CONTENT_TYPE, HeaderValue::from_static(tlog_proof::MEDIA_TYPE)),
            (header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).map_err(|_| AppError::NotFound)?),
            vary,
        ];
        return Ok((headers, proof.to_text()).into_response());
    }
    let (_, mut receipts) = submission::receipts(&mut conn, &[index]).await.map_err(AppError::from)?;
    let receipt = receipts.pop().ok_or(AppError::NotFound)?;
    Ok(([vary], Json(receipt)).into_response())
}

/// Whether `Accept` names the tlog-proof media type (with a non-zero quality).
fn accepts_tlog_proof(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("");
        let refused = parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0)));
        media.eq_ignore_ascii_case(tlog_proof::MEDIA_TYPE) && !refused
    })
}

/// The tlog-proof of entry `index` (which must be below the tree size), carrying the
/// entry bytes as its extra data. It is proven against the newest checkpoint witnesses
/// have cosigned, with their cosignatures, when that checkpoint already covers the
/// entry; otherwise against the latest checkpoint (cosigned as far as it is so far),
/// and a later fetch picks up the cosignatures.
async fn tlog_proof_of(
    conn: &mut sqlx::PgConnection,
    index: u64,
) -> Result<tlog_proof::TlogProof, crate::ledger::LedgerError> {
    use crate::ledger::LedgerError;
    let witnessed = match crate::db::cosignatures::latest_witnessed_checkpoint(conn).await? {
        Some(id) => crate::db::ledger::checkpoint_by_id(conn, id).await?.filter(|c| c.size > index),
        None => None,
    };
    let checkpoint = match witnessed {
        Some(checkpoint) => checkpoint,
        None => crate::db::ledger::latest_checkpoint(conn)
            .await?
            .filter(|c| c.size > index)
            .ok_or_else(|| LedgerError::Inconsistent(format!("no checkpoint covers entry {index}")))?,
    };
    let cosignatures = crate::db::cosignatures::of_checkpoint(conn, checkpoint.id).await?;
    let note = crate::witness::collector::with_cosignatures(&checkpoint.note, &cosignatures);
    let proof = crate::ledger::log::inclusion_proofs(conn, &[index], checkpoint.size).await?.pop();
    let entry = crate::db::ledger::entries_by_index(conn, &[index]).await?.pop();
    let (Some(proof), Some(entry)) = (proof, entry) else {
        return Err(LedgerError::Inconsistent(format!("entry {index} or its proof is missing")));
    };
    let inconsistent = |e: tlog_proof::ParseError| LedgerError::Inconsistent(format!("stored checkpoint: {e}"));
    tlog_proof::TlogProof::new(index, proof, &note).and_then(|p| p.with_extra(entry.bytes)).map_err(inconsistent)
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use axum::http::StatusCode;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use crate::ledger::entry::Entry;
    use crate::ledger::note::NoteSigner;
    use crate::records::signature::RecordSigner;
    use crate::submission::{Receipt, verify_receipt};
    use crate::testing::TestApp;

    fn queue_time(p50: u64, tier: &str) -> Value {
        json!({"kind": "queue_time", "period_start": "2026-10-01", "period_end": "2026-11-01", "resource": "nvidia-h100-80gb",
               "region": "eu-de", "tier": tier, "jobs": 40, "p50_seconds": p50, "p90_seconds": 5000, "p99_seconds": 9000})
    }

    fn capacity(total: u64) -> Value {
        json!({"kind": "capacity", "as_of": "2026-11-01", "resource": "nvidia-h100-80gb", "region": "eu-de",
               "total_accelerators": total, "newcomer_set_aside": total.min(16)})
    }

    async fn post_json(app: &TestApp, token: &str, body: &Value) -> crate::testing::TestResponse {
        app.post("/api/v1/records", "application/json", body.to_string(), Some(token), &[]).await
    }

    use crate::testing::outcomes;

    #[tokio::test]
    async fn a_batch_is_appended_with_receipts_that_verify_offline() {
        let app = TestApp::new().await;
        let token = app.provider_token("nordic-hpc").await;
        let response =
            post_json(&app, &token, &json!([queue_time(60, "spot"), queue_time(90, "newcomer"), capacity(512)])).await;
        response.assert_status(StatusCode::CREATED);
        let json = response.json();
        assert_eq!(outcomes(&json), ["created", "created", "created"]);
        assert_eq!(json["provider"], "nordic-hpc");
        assert_eq!(json["tree_size"], 3);
        assert_eq!(app.tree_size().await, 3);

        let receipt: Receipt = serde_json::from_value(app.get("/api/v1/receipts/1").await.json()).expect("receipt");
        let verified = verify_receipt(&receipt, &[app.ledger().verifier()]).expect("the receipt verifies offline");
        assert_eq!(
            (verified.provider.as_str(), verified.kind.as_str(), verified.entry_index),
            ("nordic-hpc", "queue_time", 1)
        );
        let mut forged = receipt.clone();
        forged.entry_base64 = receipt.entry_base64.replacen('A', "B", 1);
        assert!(verify_receipt(&forged, &[app.ledger().verifier()]).is_err());
        assert!(verify_receipt(&receipt, &[crate::testing::test_ledger().verifier()]).is_err());
        // The batch response's own proofs lead to its checkpoint.
        let first = &json["records"][0];
        assert_eq!(first["entry_index"], 0);
        assert!(first["inclusion_proof"].as_array().is_some_and(|p| p.len() == 2));
    }

    #[tokio::test]
    async fn resubmission_is_a_duplicate_and_changes_are_amendments() {
        let app = TestApp::new().await;
        let token = app.provider_token("nordic-hpc").await;
        let batch = json!([queue_time(60, "spot"), capacity(512)]);
        post_json(&app, &token, &batch).await.assert_status(StatusCode::CREATED);
        let again = post_json(&app, &token, &batch).await;
        again.assert_status(StatusCode::OK);
        let json = again.json();
        assert_eq!(outcomes(&json), ["duplicate", "duplicate"]);
        assert_eq!(
            (json["records"][0]["entry_index"].clone(), json["records"][1]["entry_index"].clone()),
            (json!(0), json!(1))
        );
        assert_eq!(app.tree_size().await, 2, "a retried batch writes nothing");

        let mixed =
            post_json(&app, &token, &json!([capacity(600), queue_time(60, "spot"), queue_time(60, "reserved")])).await;
        mixed.assert_status(StatusCode::CREATED);
        let json = mixed.json();
        assert_eq!(outcomes(&json), ["amended", "duplicate", "created"]);
        assert_eq!(json["records"][0]["supersedes"], 1);
        assert_eq!(json["records"][0]["entry_index"], 2);
        assert_eq!(json["records"][2]["entry_index"], 3);
        // Other providers' identical records are their own.
        let other = app.provider_token("nimbus-gpu").await;
        assert_eq!(outcomes(&post_json(&app, &other, &batch).await.json()), ["created", "created"]);
    }

    #[tokio::test]
    async fn ndjson_and_csv_are_accepted() {
        let app = TestApp::new().await;
        let token = app.provider_token("rhine-ai-factory").await;
        let ndjson = format!("{}\n{}\n", queue_time(1, "spot"), queue_time(2, "on_demand"));
        let response = app.post("/api/v1/records", "application/x-ndjson", ndjson, Some(&token), &[]).await;
        response.assert_status(StatusCode::CREATED);
        assert_eq!(response.json()["records"][1]["position"], 2);
        let csv = "effective_date,resource,region,pricing_model,price_per_accelerator_hour,currency,cost_basis_per_accelerator_hour\n\
                   2026-11-01,nvidia-h100-80gb,eu-de,on_demand,2.49,EUR,1.10\n2026-11-01,nvidia-h100-80gb,eu-de,spot,1.20,EUR,\n";
        let response = app.post("/api/v1/records?kind=price", "text/csv; charset=utf-8", csv, Some(&token), &[]).await;
        response.assert_status(StatusCode::CREATED);
        assert_eq!(response.json()["summary"]["created"], 2);
        assert_eq!(app.tree_size().await, 4);
    }

    #[tokio::test]
    async fn every_write_needs_a_valid_unrevoked_token_of_the_right_provider() {
        let app = TestApp::new().await;
        let token = app.provider_token("nordic-hpc").await;
        let body = json!([queue_time(60, "spot")]).to_string();
        let no_token = app.post("/api/v1/records", "application/json", body.clone(), None, &[]).await;
        no_token.assert_status(StatusCode::UNAUTHORIZED);
        assert!(no_token.header("www-authenticate").starts_with("Bearer"));
        // The real token with its last character changed (always a change, unlike replacing a letter it may lack).
        let mut tampered = token.clone();
        let last = tampered.pop().expect("non-empty");
        tampered.push(if last == '0' { '1' } else { '0' });
        for bad in ["not-a-token", "gl_000000000000_0000000000000000000000000000000000000000", &tampered] {
            app.post("/api/v1/records", "application/json", body.clone(), Some(bad), &[])
                .await
                .assert_status(StatusCode::UNAUTHORIZED);
        }
        let claims_other = json!([{"provider": "nimbus-gpu", "kind": "capacity", "as_of": "2026-11-01", "resource": "a", "region": "b", "total_accelerators": 1, "newcomer_set_aside": 0}]);
        let forbidden = post_json(&app, &token, &claims_other).await;
        forbidden.assert_status(StatusCode::FORBIDDEN);
        assert!(forbidden.json()["error"]["message"].as_str().expect("message").contains("writes for nordic-hpc"));

        let mut conn = app.db.pool.acquire().await.expect("conn");
        let public = crate::tokens::public_id(&token).expect("shape").to_owned();
        assert!(crate::db::tokens::revoke(&mut conn, &public).await.expect("revoke"));
        let revoked = app.post("/api/v1/records", "application/json", body, Some(&token), &[]).await;
        revoked.assert_status(StatusCode::UNAUTHORIZED);
        assert!(revoked.json()["error"]["message"].as_str().expect("message").contains("revoked"));
        assert_eq!(app.tree_size().await, 0);
    }

    #[tokio::test]
    async fn bad_input_is_refused_with_where_and_why_and_nothing_is_written() {
        let app = TestApp::new().await;
        let token = app.provider_token("nordic-hpc").await;
        let post = |content_type: &'static str, body: String, uri: &'static str| {
            let (app, token) = (&app, token.clone());
            async move { app.post(uri, content_type, body, Some(&token), &[]).await }
        };
        let r = post("text/plain", "x".into(), "/api/v1/records").await;
        r.assert_status(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        post("text/csv", "a,b\n".into(), "/api/v1/records").await.assert_status(StatusCode::BAD_REQUEST);
        let r = post("application/json", "[{\"kind\": ".into(), "/api/v1/records").await;
        r.assert_status(StatusCode::BAD_REQUEST);
        assert!(r.json()["error"]["message"].as_str().expect("message").contains("line 1 column"));

        let mut batch: Vec<Value> = (0..999).map(|i| capacity(1000 + i)).collect();
        for (i, record) in batch.iter_mut().enumerate() {
            record["as_of"] = json!(format!("2026-{:02}-{:02}", 1 + i % 12, 1 + i % 28));
            record["region"] = json!(format!("r{i}"));
        }
        batch.push(queue_time(9999, "spot"));
        let r = post_json(&app, &token, &Value::Array(batch)).await;
        r.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        let detail = &r.json()["error"]["details"][0];
        assert_eq!((detail["index"].clone(), detail["field"].clone()), (json!(999), json!("p90_seconds")));

        let r = post("application/json", format!("[{}]", "0,".repeat(5_500_000) + "0"), "/api/v1/records").await;
        r.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
        assert!(r.json()["error"]["message"].as_str().expect("message").contains("8388608"));
        let many: Vec<Value> = (0..10_001).map(|_| capacity(1)).collect();
        post_json(&app, &token, &Value::Array(many)).await.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(app.tree_size().await, 0, "nothing was written by any bad request");
    }

    /// Each bad input of the list, through HTTP: a 4xx naming the problem, nothing written.
    #[tokio::test]
    async fn every_kind_of_bad_record_is_refused_through_http() {
        let app = TestApp::new().await;
        let token = app.provider_token("nordic-hpc").await;
        let with = |mut value: Value, field: &str, new: Value| {
            value[field] = new;
            value
        };
        let price = || crate::records::kinds::examples()[2].clone();
        let acceptance = || crate::records::kinds::examples()[1].clone();
        let cases: Vec<(&str, String, &str)> = vec![
            ("unknown kind", json!({"kind": "water"}).to_string(), "kind"),
            ("unknown field", with(capacity(10), "colour", json!("red")).to_string(), "colour"),
            ("p90 < p50", queue_time(6000, "spot").to_string(), "p90_seconds"),
            ("negative count", with(capacity(10), "total_accelerators", json!(-5)).to_string(), "total_accelerators"),
            ("0-day period", with(queue_time(1, "spot"), "period_end", json!("2026-10-01")).to_string(), "period_end"),
            ("93-day period", with(queue_time(1, "spot"), "period_end", json!("2027-01-02")).to_string(), "period_end"),
            (
                "end before start",
                with(queue_time(1, "spot"), "period_end", json!("2026-09-01")).to_string(),
                "period_end",
            ),
            ("accepted > received", with(acceptance(), "accepted", json!(500)).to_string(), "accepted"),
            ("bad currency", with(price(), "currency", json!("XYZ")).to_string(), "currency"),
            (
                "1e309",
                with(price(), "price_per_accelerator_hour", json!("1e309")).to_string(),
                "price_per_accelerator_hour",
            ),
            (
                "NaN",
                with(price(), "price_per_accelerator_hour", json!("NaN")).to_string(),
                "price_per_accelerator_hour",
            ),
        ];
        for (label, body, field) in cases {
            let response = app.post("/api/v1/records", "application/json", body, Some(&token), &[]).await;
            response.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
            let details = response.json()["error"]["details"].clone();
            assert!(
                details.as_array().is_some_and(|d| d.iter().any(|x| x["field"] == field && x["index"] == 0)),
                "{label}: {details}"
            );
        }
        let missing_column = "as_of,resource,region,total_accelerators\n2026-11-01,a100,eu-fi,10\n";
        let response = app.post("/api/v1/records?kind=capacity", "text/csv", missing_column, Some(&token), &[]).await;
        response.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(response.json()["error"]["details"][0]["index"], 2, "CSV problems give the line number");
        let stray_quote = "as_of,resource,region,total_accelerators,newcomer_set_aside\n2026-11-01,\"a100,eu-fi,10,1\n";
        app.post("/api/v1/records?kind=capacity", "text/csv", stray_quote, Some(&token), &[])
            .await
            .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.tree_size().await, 0);
    }

    #[tokio::test]
    async fn a_dry_run_classifies_but_writes_nothing() {
        let app = TestApp::new().await;
        let token = app.provider_token("nordic-hpc").await;
        post_json(&app, &token, &json!([capacity(10)])).await.assert_status(StatusCode::CREATED);
        let r = app
            .post(
                "/api/v1/records?dry_run=true",
                "application/json",
                json!([capacity(11), queue_time(5, "spot")]).to_string(),
                Some(&token),
                &[],
            )
            .await;
        r.assert_status(StatusCode::OK);
        let json = r.json();
        assert_eq!(json["dry_run"], true);
        assert_eq!(outcomes(&json), ["amended", "created"]);
        assert_eq!(json["records"][0]["supersedes"], 0);
        assert_eq!(app.tree_size().await, 1);
    }

    #[tokio::test]
    async fn an_idempotency_key_replays_the_first_answer() {
        let app = TestApp::new().await;
        let token = app.provider_token("nordic-hpc").await;
        let body = json!([capacity(10)]).to_string();
        let first = app
            .post(
                "/api/v1/records",
                "application/json",
                body.clone(),
                Some(&token),
                &[("idempotency-key", "batch-2026-11")],
            )
            .await;
        first.assert_status(StatusCode::CREATED);
        let second = app
            .post("/api/v1/records", "application/json", body, Some(&token), &[("idempotency-key", "batch-2026-11")])
            .await;
        second.assert_status(StatusCode::CREATED);
        assert_eq!(second.header("idempotent-replayed"), "true");
        assert_eq!(first.json(), second.json());
        let other = json!([capacity(99)]).to_string();
        app.post("/api/v1/records", "application/json", other, Some(&token), &[("idempotency-key", "batch-2026-11")])
            .await
            .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.tree_size().await, 1);
    }

    /// Posts `body` as JSON with an `Idempotency-Key`.
    async fn post_keyed(app: &TestApp, token: &str, key: &str, body: &Value) -> crate::testing::TestResponse {
        app.post("/api/v1/records", "application/json", body.to_string(), Some(token), &[("idempotency-key", key)])
            .await
    }

    /// Claims not finished yet.
    async fn claims_in_flight(app: &TestApp) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM idempotency_keys WHERE status IS NULL")
            .fetch_one(&app.db.pool)
            .await
            .expect("count")
    }

    /// Moves every remembered key's claim time back by `days`.
    async fn age_keys(app: &TestApp, days: i32) {
        sqlx::query("UPDATE idempotency_keys SET created_at = created_at - make_interval(days => $1)")
            .bind(days)
            .execute(&app.db.pool)
            .await
            .expect("age");
    }

    #[tokio::test]
    async fn a_key_in_flight_is_answered_409_and_its_batch_is_applied_once() {
        let app = TestApp::new().await;
        let token = app.provider_token("nordic-hpc").await;
        let batch = json!([capacity(10), queue_time(60, "spot")]);
        // Hold the ledger's sequencer: the first request claims the key, then waits inside its batch.
        let mut sequencer = app.db.pool.begin().await.expect("begin");
        sqlx::query("SELECT tree_size FROM ledger_head FOR UPDATE").execute(&mut *sequencer).await.expect("lock");
        let first = post_keyed(&app, &token, "held", &batch);
        tokio::pin!(first);
        let claimed = async {
            while claims_in_flight(&app).await == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        };
        let claimed = tokio::time::timeout(std::time::Duration::from_secs(10), claimed);
        tokio::select! {
            response = &mut first => panic!("answered while the sequencer was held: {}", response.text()),
            waited = claimed => waited.expect("the key is claimed before the batch runs"),
        }

        let second = post_keyed(&app, &token, "held", &batch).await;
        second.assert_status(StatusCode::CONFLICT);
        assert_eq!(second.json()["error"]["code"], "conflict");
        assert!(second.json()["error"]["message"].as_str().is_some_and(|m| m.contains("Idempotency-Key")));
        let other = post_keyed(&app, &token, "held", &json!([capacity(11)])).await;
        other.assert_status(StatusCode::UNPROCESSABLE_ENTITY);

        sequencer.rollback().await.expect("release the sequencer");
        let first = first.await;
        first.assert_status(StatusCode::CREATED);
        assert_eq!(first.header("idempotent-replayed"), "");
        let third = post_keyed(&app, &token, "held", &batch).await;
        third.assert_status(StatusCode::CREATED);
        assert_eq!(third.header("idempotent-replayed"), "true");
        assert_eq!(third.json(), first.json());
        assert_eq!(app.tree_size().await, 2, "one batch of two entries, appended once");
        // Another provider's key of the same name is its own.
        let other_token = app.provider_token("nimbus-gpu").await;
        post_keyed(&app, &other_token, "held", &batch).await.assert_status(StatusCode::CREATED);
    }

    #[tokio::test]
    async fn two_requests_at_once_with_one_key_apply_the_batch_once() {
        let app = TestApp::new().await;
        let token = app.provider_token("nordic-hpc").await;
        for round in 0..6u64 {
            let key = format!("race-{round}");
            let batch = json!([capacity(100 + round)]);
            let (a, b) = tokio::join!(post_keyed(&app, &token, &key, &batch), post_keyed(&app, &token, &key, &batch));
            let fresh = |r: &crate::testing::TestResponse| {
                r.status == StatusCode::CREATED && r.header("idempotent-replayed").is_empty()
            };
            assert!(fresh(&a) != fresh(&b), "round {round}: exactly one applies ({} and {})", a.status, b.status);
            let (applied, other) = if fresh(&a) { (&a, &b) } else { (&b, &a) };
            match other.status {
                StatusCode::CONFLICT => assert_eq!(other.json()["error"]["code"], "conflict"),
                StatusCode::CREATED => {
                    assert_eq!(other.header("idempotent-replayed"), "true");
                    assert_eq!(other.json(), applied.json());
                }
                status => panic!("round {round}: the other request got {status}: {}", other.text()),
            }
        }
        assert_eq!(app.tree_size().await, 6, "one entry per round");
        assert_eq!(claims_in_flight(&app).await, 0);
    }

    #[tokio::test]
    async fn the_answer_is_stored_compactly_and_replayed_exactly_after_the_log_has_grown() {
        let app = TestApp::new().await;
        let token = app.provider_token("nordic-hpc").await;
        post_json(&app, &token, &json!([capacity(10), queue_time(60, "spot")]))
            .await
            .assert_status(StatusCode::CREATED);
        let mut batch = vec![capacity(11), queue_time(60, "spot"), queue_time(70, "newcomer")];
        for i in 0..40 {
            let mut record = capacity(i);
            record["region"] = json!(format!("r{i}"));
            batch.push(record);
        }
        // NDJSON with a blank line: positions are line numbers, so they must come back the same.
        let ndjson =
            format!("{}\n\n{}\n", batch[0], batch[1..].iter().map(Value::to_string).collect::<Vec<_>>().join("\n"));
        let send = || async {
            app.post(
                "/api/v1/records",
                "application/x-ndjson",
                ndjson.clone(),
                Some(&token),
                &[("idempotency-key", "k1")],
            )
            .await
        };
        let first = send().await;
        first.assert_status(StatusCode::CREATED);
        let original = first.json();
        assert_eq!(original["records"][1]["position"], 3);

        let (outcomes, refs, stored_bytes): (String, Vec<i64>, i32) = sqlx::query_as(
            "SELECT outcomes, refs, pg_column_size(k.*) FROM idempotency_keys k WHERE key = 'k1' AND status = 201",
        )
        .fetch_one(&app.db.pool)
        .await
        .expect("the finished key");
        assert_eq!(outcomes, format!("adc{}", "c".repeat(40)));
        assert_eq!(refs, [0, 1], "what the amendment supersedes, where the duplicate is; new entries are derived");
        assert!(stored_bytes * 50 < first.body.len() as i32, "{stored_bytes} bytes stored for {}", first.body.len());
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns WHERE table_name = 'idempotency_keys'",
        )
        .fetch_all(&app.db.pool)
        .await
        .expect("columns");
        assert!(!columns.iter().any(|c| c == "response"), "no response body is kept: {columns:?}");

        // The log grows: the latest checkpoint is no longer the one the first answer proved against.
        post_json(&app, &token, &json!([capacity(12)])).await.assert_status(StatusCode::CREATED);
        let replay = send().await;
        replay.assert_status(StatusCode::CREATED);
        assert_eq!(replay.header("idempotent-replayed"), "true");
        assert_eq!(replay.json(), original);
        assert_eq!(replay.header("content-type"), first.header("content-type"));
        let latest = app.get("/api/v1/receipts/0").await.json();
        assert_ne!(latest["checkpoint"], original["checkpoint"]);
        let receipt: Receipt = serde_json::from_value(json!({
            "entry_index": original["records"][2]["entry_index"],
            "leaf_hash": replay.json()["records"][2]["leaf_hash"],
            "entry_base64": app.get(&format!("/api/v1/receipts/{}", original["records"][2]["entry_index"])).await.json()["entry_base64"],
            "checkpoint": replay.json()["checkpoint"],
            "inclusion_proof": replay.json()["records"][2]["inclusion_proof"],
        }))
        .expect("receipt");
        verify_receipt(&receipt, &[app.ledger().verifier()]).expect("the replayed proof verifies");

        // A dry run's answer too (no checkpoint, indexes it would get).
        let dry = json!([capacity(13), queue_time(80, "reserved")]).to_string();
        let post_dry = || async {
            app.post(
                "/api/v1/records?dry_run=true",
                "application/json",
                dry.clone(),
                Some(&token),
                &[("idempotency-key", "dry")],
            )
            .await
        };
        let first_dry = post_dry().await;
        first_dry.assert_status(StatusCode::OK);
        post_json(&app, &token, &json!([capacity(14)])).await.assert_status(StatusCode::CREATED);
        let replayed_dry = post_dry().await;
        assert_eq!(replayed_dry.header("idempotent-replayed"), "true");
        assert_eq!(replayed_dry.json(), first_dry.json());
    }

    #[tokio::test]
    async fn an_expired_key_is_unused_again_and_expired_keys_are_pruned() {
        let mut app = TestApp::new().await;
        let token = app.provider_token("nordic-hpc").await;
        post_keyed(&app, &token, "monthly", &json!([capacity(1)])).await.assert_status(StatusCode::CREATED);
        age_keys(&app, 29).await;
        let reused = post_keyed(&app, &token, "monthly", &json!([capacity(2)])).await;
        reused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        age_keys(&app, 2).await;
        let reused = post_keyed(&app, &token, "monthly", &json!([capacity(2)])).await;
        reused.assert_status(StatusCode::CREATED);
        assert_eq!(reused.header("idempotent-replayed"), "", "after 30 days the key counts as unused");
        assert_eq!(app.tree_size().await, 2);

        // GATELOG_IDEMPOTENCY_DAYS sets the time.
        let one_day = NonZeroU32::new(1).expect("non-zero");
        app.state = app.state.clone().with_idempotency_days(one_day);
        app.router = crate::app(app.state.clone(), &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static"));
        age_keys(&app, 1).await;
        post_keyed(&app, &token, "monthly", &json!([capacity(3)])).await.assert_status(StatusCode::CREATED);
        assert_eq!(app.tree_size().await, 3);

        for key in ["a", "b", "c"] {
            post_keyed(&app, &token, key, &json!([capacity(3)])).await.assert_status(StatusCode::OK);
        }
        age_keys(&app, 20).await;
        post_keyed(&app, &token, "fresh", &json!([capacity(4)])).await.assert_status(StatusCode::CREATED);
        let keys = || async {
            let keys = sqlx::query_scalar::<_, String>("SELECT key FROM idempotency_keys ORDER BY key");
            keys.fetch_all(&app.db.pool).await.expect("keys")
        };
        assert_eq!(keys().await, ["a", "b", "c", "fresh", "monthly"]);
        let mut conn = app.db.pool.acquire().await.expect("conn");
        assert_eq!(crate::db::idempotency_keys::prune(&mut conn, 30).await.expect("prune"), 0);
        assert_eq!(crate::db::idempotency_keys::prune(&mut conn, 19).await.expect("prune"), 4);
        assert_eq!(keys().await, ["fresh"]);
    }

    #[tokio::test]
    async fn a_failed_request_releases_its_key_and_an_abandoned_claim_is_taken_over() {
        let app = TestApp::new().await;
        let token = app.provider_token("nordic-hpc").await;
        // Refused after the claim (the signature check needs the database): the key is free again.
        let stranger = RecordSigner::new(&NoteSigner::generate("nordic-hpc").expect("key")).expect("signer");
        let refused = post_keyed(&app, &token, "retry-me", &json!([signed(&stranger, capacity(1))])).await;
        refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        post_keyed(&app, &token, "retry-me", &json!([capacity(1)])).await.assert_status(StatusCode::CREATED);

        // A claim whose request died without a word (a crash) blocks its key only for the lease.
        let abandon = |minutes: i32| {
            sqlx::query(
                "INSERT INTO idempotency_keys (provider_id, key, request_hash, created_at)
                 SELECT id, 'abandoned-' || $1, decode(repeat('ab', 32), 'hex'), now() - make_interval(mins => $1)
                 FROM providers WHERE slug = 'nordic-hpc'",
            )
            .bind(minutes)
            .execute(&app.db.pool)
        };
        abandon(1).await.expect("insert");
        abandon(10).await.expect("insert");
        post_keyed(&app, &token, "abandoned-1", &json!([capacity(2)]))
            .await
            .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        post_keyed(&app, &token, "abandoned-10", &json!([capacity(2)])).await.assert_status(StatusCode::CREATED);
        assert_eq!(app.tree_size().await, 2);
    }

    #[tokio::test]
    async fn answers_remembered_before_the_claims_migration_are_converted_and_replayed() {
        let app = TestApp::new().await;
        let token = app.provider_token("nordic-hpc").await;
        post_json(&app, &token, &json!([capacity(10), queue_time(60, "spot")]))
            .await
            .assert_status(StatusCode::CREATED);
        let batch = json!([capacity(11), queue_time(60, "spot"), queue_time(70, "newcomer")]);
        let first = post_keyed(&app, &token, "before", &batch).await;
        first.assert_status(StatusCode::CREATED);
        let dry_body = json!([capacity(12)]).to_string();
        let dry = || async {
            let headers = [("idempotency-key", "dry-before")];
            app.post("/api/v1/records?dry_run=true", "application/json", dry_body.clone(), Some(&token), &headers).await
        };
        let first_dry = dry().await;
        let hashes: Vec<(String, Vec<u8>)> =
            sqlx::query_as("SELECT key, request_hash FROM idempotency_keys ORDER BY key")
                .fetch_all(&app.db.pool)
                .await
                .expect("hashes");

        // Back to the old shape, holding what the old code stored: the whole response body.
        let migrator = &crate::db::MIGRATOR;
        migrator.undo(&app.db.pool, 20261125000009).await.expect("down");
        for ((key, hash), response) in hashes.iter().zip([&first, &first_dry]) {
            sqlx::query(
                "INSERT INTO idempotency_keys (provider_id, key, request_hash, status, response)
                 SELECT id, $1, $2, $3, $4 FROM providers WHERE slug = 'nordic-hpc'",
            )
            .bind(key)
            .bind(hash)
            .bind(response.status.as_u16() as i16)
            .bind(response.json())
            .execute(&app.db.pool)
            .await
            .expect("old row");
        }
        migrator.run(&app.db.pool).await.expect("up");

        let replay = post_keyed(&app, &token, "before", &batch).await;
        assert_eq!(replay.header("idempotent-replayed"), "true");
        assert_eq!((replay.status, replay.json()), (first.status, first.json()));
        let replay_dry = dry().await;
        assert_eq!(replay_dry.header("idempotent-replayed"), "true");
        assert_eq!(replay_dry.json(), first_dry.json());
        assert_eq!(app.tree_size().await, 4);
    }

    #[tokio::test]
    async fn each_token_is_rate_limited_with_retry_after() {
        let mut app = TestApp::new().await;
        let one = NonZeroU32::new(1).expect("non-zero");
        let state = crate::AppState::with_ingest_rate(
            app.db.pool.clone(),
            app.ledger(),
            crate::api::auth::IngestRate { per_second: one, burst: one },
        );
        app.router = crate::app(state, &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static"));
        let token = app.provider_token("nordic-hpc").await;
        post_json(&app, &token, &json!([capacity(1)])).await.assert_status(StatusCode::CREATED);
        let limited = post_json(&app, &token, &json!([capacity(2)])).await;
        limited.assert_status(StatusCode::TOO_MANY_REQUESTS);
        assert!(limited.header("retry-after").parse::<u64>().is_ok_and(|s| s >= 1));
        // Another token has its own budget.
        let other = app.provider_token("nimbus-gpu").await;
        post_json(&app, &other, &json!([capacity(1)])).await.assert_status(StatusCode::CREATED);
    }

    /// Registers a fresh record-signing key for `slug` (which must already be a provider).
    async fn register_key(app: &TestApp, slug: &str) -> RecordSigner {
        let signer = RecordSigner::new(&NoteSigner::generate(slug).expect("key")).expect("signer");
        let mut conn = app.db.pool.acquire().await.expect("conn");
        let added = crate::db::provider_keys::add(&mut conn, signer.provider(), signer.public_key()).await;
        assert_eq!(added.expect("add"), crate::db::provider_keys::Added::New);
        signer
    }

    /// `record` with `signer`'s signature over it, as `gatelog sign-records` writes it.
    fn signed(signer: &RecordSigner, mut record: Value) -> Value {
        let parsed = crate::records::Record::parse(record.clone()).expect("valid record");
        let signature = signer.sign(signer.provider(), &parsed).expect("sign");
        record["signature"] = json!(signature.to_base64());
        record
    }

    fn signature_detail(response: &crate::testing::TestResponse) -> (Value, Value, String) {
        response.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        let detail = response.json()["error"]["details"][0].clone();
        (detail["index"].clone(), detail["field"].clone(), detail["reason"].as_str().unwrap_or_default().to_owned())
    }

    #[tokio::test]
    async fn a_signed_batch_is_stored_with_its_key_and_shown_as_signed() {
        let app = TestApp::new().await;
        let token = app.provider_token("nordic-hpc").await;
        let signer = register_key(&app, "nordic-hpc").await;
        let batch = json!([signed(&signer, capacity(512)), queue_time(60, "spot")]);
        post_json(&app, &token, &batch).await.assert_status(StatusCode::CREATED);

        let mut conn = app.db.pool.acquire().await.expect("conn");
        let stored = crate::db::ledger::entry(&mut conn, 0).await.expect("query").expect("entry 0");
        let entry = Entry::from_canonical_bytes(&stored.bytes).expect("canonical");
        let signature = entry.signature.clone().expect("the entry carries the signature");
        assert_eq!(signature.vkey, signer.public_key().to_string());
        assert_eq!(entry.check_signature().expect("verifies from the entry alone"), Some(signer.public_key().clone()));
        assert!(!entry.record.as_object().expect("object").contains_key("signature"));
        let unsigned = crate::db::ledger::entry(&mut conn, 1).await.expect("query").expect("entry 1");
        assert!(!String::from_utf8_lossy(&unsigned.bytes).contains("signature"), "unsigned entries are unchanged");

        let page = app.get("/ledger/entries/0").await.html();
        assert_eq!(page.text_of("#submitted"), format!("Signed by the provider (key {})", signer.public_key().label()));
        let page = app.get("/ledger/entries/1").await.html();
        assert_eq!(page.text_of("#submitted"), "Submitted with a provider token");
        let scorecard = app.get("/providers/nordic-hpc").await.html();
        assert_eq!(scorecard.texts_of("#filings td.submitted"), ["with a token", "signed by the provider"]);
        assert!(scorecard.text_of("#keys li").starts_with(&signer.public_key().to_string()));

        let csv = app.get("/data/entries.csv").await.text();
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let headers = reader.headers().expect("header").clone();
        let column = headers.iter().position(|h| h == "provider_signed").expect("provider_signed column");
        let flags: Vec<String> = reader.records().map(|r| r.expect("row")[column].to_owned()).collect();
        assert_eq!(flags, ["true", "false"]);

        let report =
            crate::ledger::verify::verify_database(&mut conn, &[app.ledger().verifier()]).await.expect("verify");
        assert!(report.ok(), "{report}");
        assert_eq!(report.signed, 1);
    }

    #[tokio::test]
    async fn a_tampered_signature_is_refused_naming_the_record_and_nothing_is_written() {
        let app = TestApp::new().await;
        let token = app.provider_token("nordic-hpc").await;
        let signer = register_key(&app, "nordic-hpc").await;
        let mut tampered = signed(&signer, capacity(512));
        tampered["total_accelerators"] = json!(513);
        let response = post_json(&app, &token, &json!([signed(&signer, queue_time(60, "spot")), tampered])).await;
        let (index, field, reason) = signature_detail(&response);
        assert_eq!((index, field), (json!(1), json!("signature")));
        assert!(reason.contains("does not verify") && reason.contains(&signer.public_key().label()), "{reason}");
        let garbled = json!([{"signature": "bm90IGEgc2lnbmF0dXJl", "kind": "capacity", "as_of": "2026-11-01",
            "resource": "a100", "region": "eu-fi", "total_accelerators": 1, "newcomer_set_aside": 0}]);
        let (index, field, _) = signature_detail(&post_json(&app, &token, &garbled).await);
        assert_eq!((index, field), (json!(0), json!("signature")));
        // A CSV body carries it as a column, refused the same way (line numbers for CSV).
        let other = RecordSigner::new(&NoteSigner::generate("nordic-hpc").expect("key")).expect("signer");
        let stray = signed(&other, capacity(7))["signature"].as_str().expect("sig").to_owned();
        let csv = format!(
            "as_of,resource,region,total_accelerators,newcomer_set_aside,signature\n2026-11-01,nvidia-h100-80gb,eu-de,7,7,{stray}\n"
        );
        let response = app.post("/api/v1/records?kind=capacity", "text/csv", csv, Some(&token), &[]).await;
        assert_eq!(signature_detail(&response).0, json!(2));
        assert_eq!(app.tree_size().await, 0);
    }

    #[tokio::test]
    async fn signatures_need_a_registered_unrevoked_key_and_unsigned_records_stay_accepted() {
        let app = TestApp::new().await;
        let token = app.provider_token("nordic-hpc").await;
        // A well-formed signature, but the provider never registered the key.
        let unregistered = RecordSigner::new(&NoteSigner::generate("nordic-hpc").expect("key")).expect("signer");
        let (index, field, reason) =
            signature_detail(&post_json(&app, &token, &json!([signed(&unregistered, capacity(1))])).await);
        assert_eq!((index, field), (json!(0), json!("signature")));
        assert!(reason.contains("no registered signing key"), "{reason}");

        let signer = register_key(&app, "nordic-hpc").await;
        post_json(&app, &token, &json!([signed(&signer, capacity(2))])).await.assert_status(StatusCode::CREATED);
        let mut conn = app.db.pool.acquire().await.expect("conn");
        let vkey = signer.public_key().to_string();
        assert!(crate::db::provider_keys::revoke(&mut conn, signer.provider(), &vkey).await.expect("revoke"));
        let (_, field, _) = signature_detail(&post_json(&app, &token, &json!([signed(&signer, capacity(3))])).await);
        assert_eq!(field, json!("signature"), "a revoked key signs nothing new");
        // Revocation only sets revoked_at: the row can be neither changed nor deleted.
        assert!(sqlx::query("DELETE FROM provider_keys").execute(&mut *conn).await.is_err());
        assert!(sqlx::query("UPDATE provider_keys SET revoked_at = NULL").execute(&mut *conn).await.is_err());
        assert_eq!(app.tree_size().await, 1);

        post_json(&app, &token, &json!([capacity(4)])).await.assert_status(StatusCode::CREATED);
        assert_eq!(app.tree_size().await, 2, "signing is optional: unsigned records are accepted");
    }

    /// The provider engineer's path: `gatelog provider keygen`'s key file, `gatelog sign-records`, then NDJSON.
    #[tokio::test]
    async fn records_signed_with_the_sign_records_helper_are_accepted() {
        let app = TestApp::new().await;
        let token = app.provider_token("nordic-hpc").await;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nordic-hpc.key");
        let key = crate::ledger::keys::create(&path, "nordic-hpc").expect("key file");
        let public = crate::records::signature::ProviderKey::parse(&key.verifier().to_string()).expect("vkey");
        let mut conn = app.db.pool.acquire().await.expect("conn");
        let provider = crate::records::Slug::parse("nordic-hpc").expect("slug");
        crate::db::provider_keys::add(&mut conn, &provider, &public).await.expect("add");

        // Decimals as the provider writes them ("2.50"); the helper signs them as Gatelog validates them ("2.5").
        let mut price = crate::records::kinds::examples()[2].clone();
        price["price_per_accelerator_hour"] = json!("2.50");
        let input = format!("{}\n\n{price}\n", capacity(64));
        let args = crate::commands::sign_records::SignRecordsArgs { key: path.clone(), provider: None };
        let mut output = Vec::new();
        crate::commands::sign_records::sign_records(&args, input.as_bytes(), &mut output).expect("signed");
        let signed = String::from_utf8(output).expect("utf8");
        assert_eq!(signed.lines().count(), 2);
        let response = app.post("/api/v1/records", "application/x-ndjson", signed, Some(&token), &[]).await;
        response.assert_status(StatusCode::CREATED);
        let page = app.get("/ledger/entries/1").await.html();
        assert!(page.text_of("#submitted").starts_with("Signed by the provider"));

        let for_other =
            crate::commands::sign_records::SignRecordsArgs { key: path, provider: Some("nimbus-gpu".into()) };
        let refused = crate::commands::sign_records::sign_records(&for_other, input.as_bytes(), &mut Vec::new());
        assert!(refused.expect_err("another provider").to_string().contains("must be named by its slug"));
    }

    /// Runs `gatelog verify-receipt` (the CLI's function) on `text` written to a file.
    fn verify_with_cli(
        app: &TestApp,
        text: &str,
        witnesses: &[String],
        min_witnesses: Option<usize>,
    ) -> Result<String, crate::commands::verify_receipt::Error> {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("entry.tlog-proof");
        std::fs::write(&file, text).expect("write");
        crate::commands::verify_receipt::verify_receipt(&crate::commands::verify_receipt::VerifyReceiptArgs {
            file,
            vkeys: vec![app.ledger().verifier().to_string()],
            entry: None,
            witnesses: witnesses.to_vec(),
            min_witnesses,
        })
    }

    #[tokio::test]
    async fn demo_receipts_are_served_as_tlog_proofs_that_the_cli_and_tlog_tiles_verify() {
        use crate::ledger::tlog_proof::{MEDIA_TYPE, TlogProof};
        use base64::Engine;
        let app = TestApp::with_demo().await;
        let size = app.tree_size().await;
        for index in [0, size / 2, size - 1] {
            let response = app.get(&format!("/api/v1/receipts/{index}.tlog-proof")).await;
            response.assert_status(StatusCode::OK);
            assert_eq!(response.header("content-type"), MEDIA_TYPE);
            assert!(response.header("content-disposition").contains(&format!("gatelog-entry-{index}.tlog-proof")));
            let text = response.text();
            let proof = TlogProof::parse(&text).expect("a well-formed tlog-proof");
            assert_eq!(proof.to_text(), text, "served in the one canonical spelling");
            assert_eq!(proof.index(), index);

            // Its extra data is the entry the JSON receipt carries.
            let json = app.get(&format!("/api/v1/receipts/{index}")).await.json();
            let entry = base64::engine::general_purpose::STANDARD
                .decode(json["entry_base64"].as_str().expect("entry"))
                .expect("base64");
            assert_eq!(proof.extra(), Some(entry.as_slice()));

            let line = verify_with_cli(&app, &text, &[], None).expect("the CLI verifies the served proof");
            assert!(line.starts_with(&format!("receipt OK: entry {index} (")), "{line}");
            assert!(line.contains(&format!("at tree size {size}")), "{line}");

            // The inclusion proof, independently: tlog_tiles (Go's sumdb/tlog in Rust).
            let body = &proof.note()[..=proof.note().find("\n\n").expect("blank line")];
            let checkpoint = tlog_tiles::Checkpoint::from_bytes(body.as_bytes()).expect("tlog_tiles parses it");
            let hashes: Vec<tlog_tiles::Hash> = proof.proof().iter().map(|h| tlog_tiles::Hash(*h)).collect();
            tlog_tiles::check_record(
                &hashes,
                checkpoint.size(),
                *checkpoint.hash(),
                index,
                tlog_tiles::record_hash(&entry),
            )
            .expect("tlog_tiles accepts the inclusion proof");

            // Asked by Accept, the same file; by default, JSON as before.
            let request = axum::http::Request::get(format!("/api/v1/receipts/{index}"))
                .header("accept", "application/json;q=0.5, application/tlog-proof")
                .body(axum::body::Body::empty())
                .expect("request");
            let negotiated = app.send(request).await;
            assert_eq!((negotiated.header("content-type"), negotiated.text()), (MEDIA_TYPE, text.clone()));
            assert_eq!(negotiated.header("vary"), "accept");
            let refused = axum::http::Request::get(format!("/api/v1/receipts/{index}"))
                .header("accept", "application/tlog-proof;q=0, application/json")
                .body(axum::body::Body::empty())
                .expect("request");
            assert!(app.send(refused).await.header("content-type").starts_with("application/json"));
            assert_eq!(json["entry_index"], index);
        }

        // A tampered entry or another log's key fails in the CLI.
        let text = app.get("/api/v1/receipts/1.tlog-proof").await.text();
        let proof = TlogProof::parse(&text).expect("parses");
        let mut entry = proof.extra().expect("entry").to_vec();
        entry[10] ^= 1;
        let forged = proof.clone().with_extra(entry).expect("extra").to_text();
        let error = verify_with_cli(&app, &forged, &[], None).expect_err("a changed entry is refused");
        assert!(error.to_string().contains("inclusion proof"), "{error}");
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("1.tlog-proof");
        std::fs::write(&file, &text).expect("write");
        let stranger = crate::testing::test_ledger().verifier().to_string();
        let args = crate::commands::verify_receipt::VerifyReceiptArgs {
            file,
            vkeys: vec![stranger],
            entry: None,
            witnesses: Vec::new(),
            min_witnesses: None,
        };
        assert!(
            crate::commands::verify_receipt::verify_receipt(&args)
                .expect_err("untrusted log")
                .to_string()
                .contains("trusted log key")
        );
        // A malformed file is refused as such.
        let error = verify_with_cli(&app, &text.replacen("index 1", "index 01", 1), &[], None).expect_err("malformed");
        assert!(error.to_string().contains("malformed tlog-proof: line 3"), "{error}");

        // Paths that name no entry.
        app.get("/api/v1/receipts/-1.tlog-proof").await.assert_status(StatusCode::BAD_REQUEST);
        app.get("/api/v1/receipts/1.tlog").await.assert_status(StatusCode::BAD_REQUEST);
        app.get(&format!("/api/v1/receipts/{size}.tlog-proof")).await.assert_status(StatusCode::NOT_FOUND);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tlog_proofs_carry_the_witnesses_cosignatures_and_the_ingest_answer_links_them() {
        use crate::witness::client::WitnessConfig;
        use crate::witness::cosignature::CosignerKey;
        use crate::witness::server::{Witness, router};
        let app = TestApp::new().await;
        let key = CosignerKey::generate("witness.test/receipts").expect("witness key");
        let witness =
            std::sync::Arc::new(Witness::new(key.clone(), vec![app.ledger().verifier()], None).expect("witness"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, router(witness)).await });
        let app = app.with_witnesses(vec![WitnessConfig { verifier: key.verifier(), url }]);
        let witness_vkey = key.verifier().to_string();
        let token = app.provider_token("nordic-hpc").await;

        let batch = post_json(&app, &token, &json!([queue_time(60, "spot"), capacity(512)])).await;
        batch.assert_status(StatusCode::CREATED);
        let batch = batch.json();
        let link = batch["records"][1]["tlog_proof"].as_str().expect("a tlog_proof link per record");
        assert_eq!(link, format!("{}/api/v1/receipts/1.tlog-proof", app.state.public_url));
        let dry = app
            .post(
                "/api/v1/records?dry_run=true",
                "application/json",
                json!([capacity(600)]).to_string(),
                Some(&token),
                &[],
            )
            .await;
        assert!(dry.json()["records"][0].get("tlog_proof").is_none(), "a dry run writes nothing to prove");

        // Before any witness round: the latest checkpoint, without cosignatures.
        let path = link.strip_prefix(&*app.state.public_url).expect("absolute link");
        let unwitnessed = app.get(path).await.text();
        assert!(verify_with_cli(&app, &unwitnessed, &[], None).is_ok());
        let error = verify_with_cli(&app, &unwitnessed, std::slice::from_ref(&witness_vkey), None)
            .expect_err("no cosignature yet");
        assert!(error.to_string().contains("0 trusted witness cosignatures, 1 required"), "{error}");

        // After a round the proof carries the cosignature line, and the policy is met.
        app.state.witnesses.collect(&app.db.pool).await.expect("witness round");
        let witnessed = app.get(path).await.text();
        assert!(witnessed.lines().any(|l| l.starts_with("\u{2014} witness.test/receipts ")), "{witnessed}");
        let line = verify_with_cli(&app, &witnessed, std::slice::from_ref(&witness_vkey), Some(1)).expect("verifies");
        assert!(line.contains("cosigned by 1 trusted witnesses, 1 required (witness.test/receipts at "), "{line}");

        // A later append: old entries stay proven against the witnessed checkpoint;
        // the new one, not yet cosigned, against the latest.
        post_json(&app, &token, &json!([capacity(640)])).await.assert_status(StatusCode::CREATED);
        let old = crate::ledger::tlog_proof::TlogProof::parse(&app.get(path).await.text()).expect("parses");
        assert_eq!(old.checkpoint().size, 2);
        let new = app.get("/api/v1/receipts/2.tlog-proof").await.text();
        let new_proof = crate::ledger::tlog_proof::TlogProof::parse(&new).expect("parses");
        assert_eq!(new_proof.checkpoint().size, 3);
        assert!(verify_with_cli(&app, &new, std::slice::from_ref(&witness_vkey), None).is_err());
        assert!(verify_with_cli(&app, &new, std::slice::from_ref(&witness_vkey), Some(0)).is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        /// Whatever bytes are posted, in whatever declared format, the answer is a 4xx in our envelope.
        #[test]
        fn any_bytes_get_a_4xx_envelope_never_a_500(bytes in proptest::collection::vec(any::<u8>(), 0..300), which in 0usize..4) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                let app = TestApp::new().await;
                let token = app.provider_token("fuzz").await;
                let (content_type, uri) = [("application/json", "/api/v1/records"), ("application/x-ndjson", "/api/v1/records"),
                    ("text/csv", "/api/v1/records?kind=lockup"), ("application/octet-stream", "/api/v1/records")][which];
                let response = app.post(uri, content_type, bytes.clone(), Some(&token), &[]).await;
                assert!(response.status.is_client_error(), "{} for {bytes:?}: {}", response.status, response.text());
                assert!(response.json()["error"]["code"].is_string());
            });
        }
    }
}
