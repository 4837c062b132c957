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

use std::collections::BTreeSet;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::auth::ProviderToken;
use super::extract::{Path, Query};
use crate::AppState;
use crate::error::{ApiError, AppError, ErrorDetail};
use crate::ingest::formats::{self, BodyError, Format, Located};
use crate::ingest::{self, Outcome, Receipt};
use crate::ledger::entry::EntrySignature;
use crate::records::signature::ProviderKey;
use crate::records::{Record, RecordKind};

/// Most records in one request.
pub const MAX_RECORDS: usize = 10_000;
/// Largest request body, in bytes (8 MiB).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
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

/// One record's result in the response.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordJson {
    /// Where it was: array index (JSON) or line number (NDJSON, CSV).
    pub position: usize,
    /// Its kind.
    pub kind: String,
    /// What it is about (its natural key).
    pub natural_key: String,
    /// `created`, `amended` or `duplicate`.
    pub outcome: String,
    /// The entry holding it (for a dry run: the index it would get).
    pub entry_index: u64,
    /// The entry it amends.
    pub supersedes: Option<u64>,
    /// Leaf hash, hex (absent in a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaf_hash: Option<String>,
    /// Inclusion proof against `checkpoint`, hex (absent in a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inclusion_proof: Option<Vec<String>>,
}

/// Counts of outcomes.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Summary {
    /// New records.
    pub created: usize,
    /// Amendments.
    pub amended: usize,
    /// Duplicates (nothing written).
    pub duplicate: usize,
}

/// The response to a batch.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchJson {
    /// Whether this was a dry run (nothing written).
    pub dry_run: bool,
    /// The provider the records were filed for.
    pub provider: String,
    /// Outcome counts.
    pub summary: Summary,
    /// Tree size after the batch.
    pub tree_size: u64,
    /// The signed checkpoint every proof leads to (absent in a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// Per record, in order.
    pub records: Vec<RecordJson>,
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
        AppError::TooLarge(format!(
            "the request body exceeds the limit of {MAX_BODY_BYTES} bytes (8 MiB); split the batch"
        ))
    })?;

    let request_hash: [u8; 32] = {
        let mut hasher = Sha256::new();
        hasher.update(format!("{format:?}|{}|", query.dry_run));
        hasher.update(&bytes);
        hasher.finalize().into()
    };
    if let Some(key) = &key
        && let Some(replay) = replay(&state, token.provider_id, key, &request_hash).await?
    {
        return Ok(replay);
    }

    let located = formats::parse(format, &bytes).inspect_err(|_| state.metrics.ingested("rejected_batch", 1));
    let located = located.map_err(|error| match error {
        BodyError::Malformed(message) => AppError::BadRequest { message, details: Vec::new() },
        BodyError::Invalid(details) => AppError::Unprocessable {
            message: format!("{} problem(s) found; nothing was written", details.len()),
            details,
        },
    })?;
    if located.len() > MAX_RECORDS {
        return Err(AppError::TooLarge(format!(
            "a batch holds at most {MAX_RECORDS} records, got {}; split it",
            located.len()
        ))
        .into());
    }
    if let Some(other) =
        located.iter().find(|r| r.claimed_provider.as_deref().is_some_and(|p| p != token.provider.as_str()))
    {
        return Err(AppError::Forbidden(format!(
            "this token writes for {}; the record at position {} names provider {:?}",
            token.provider,
            other.position,
            other.claimed_provider.as_deref().unwrap_or_default()
        ))
        .into());
    }

    let signatures = check_signatures(&state, &token, &located)
        .await
        .inspect_err(|_| state.metrics.ingested("rejected_batch", 1))?;

    let records: Vec<Record> = located.iter().map(|r| r.record.clone()).collect();
    let result =
        ingest::submit_signed(&state.pool, &state.ledger, &token.provider, &records, &signatures, query.dry_run)
            .await
            .map_err(AppError::from)?;

    let (checkpoint, receipts) = if query.dry_run {
        (None, Vec::new())
    } else {
        let indexes: Vec<u64> =
            result.records.iter().map(|r| r.entry_index).collect::<BTreeSet<_>>().into_iter().collect();
        let mut conn = state.pool.acquire().await.map_err(AppError::from)?;
        let (checkpoint, receipts) = ingest::receipts(&mut conn, &indexes).await.map_err(AppError::from)?;
        (Some(checkpoint.note), receipts)
    };
    let receipt_of = |index: u64| receipts.iter().find(|r| r.entry_index == index);

    let mut summary = Summary::default();
    let mut out = Vec::with_capacity(located.len());
    for (place, outcome) in located.iter().zip(&result.records) {
        match outcome.outcome {
            Outcome::Created => summary.created += 1,
            Outcome::Amended => summary.amended += 1,
            Outcome::Duplicate => summary.duplicate += 1,
        }
        let receipt = receipt_of(outcome.entry_index);
        out.push(RecordJson {
            position: place.position,
            kind: place.record.kind().as_str().to_owned(),
            natural_key: place.record.natural_key(),
            outcome: serde_json::to_value(outcome.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            entry_index: outcome.entry_index,
            supersedes: outcome.supersedes,
            leaf_hash: receipt.map(|r| r.leaf_hash.clone()),
            inclusion_proof: receipt.map(|r| r.inclusion_proof.clone()),
        });
    }
    if !query.dry_run {
        state.metrics.ingested("created", summary.created as u64);
        state.metrics.ingested("amended", summary.amended as u64);
        state.metrics.ingested("duplicate", summary.duplicate as u64);
    }
    let wrote = summary.created + summary.amended > 0;
    let status = if wrote && !query.dry_run { StatusCode::CREATED } else { StatusCode::OK };
    let body = BatchJson {
        dry_run: query.dry_run,
        provider: token.provider.to_string(),
        summary,
        tree_size: result.tree_size,
        checkpoint,
        records: out,
    };
    let json = serde_json::to_value(&body).map_err(|e| AppError::Unavailable(e.to_string()))?;
    if let Some(key) = &key {
        remember(&state, token.provider_id, key, &request_hash, status, &json).await?;
    }
    Ok((status, Json(json)).into_response())
}

/// Checks every signed record against the provider's registered, unrevoked keys and
/// returns what each entry will store; any failure refuses the whole batch (422).
async fn check_signatures(
    state: &AppState,
    token: &ProviderToken,
    located: &[Located],
) -> Result<Vec<Option<EntrySignature>>, ApiError> {
    if located.iter().all(|r| r.signature.is_none()) {
        return Ok(Vec::new());
    }
    let mut conn = state.pool.acquire().await.map_err(AppError::from)?;
    let registered = crate::db::provider_keys::active(&mut conn, token.provider_id).await.map_err(AppError::from)?;
    drop(conn);
    // Registration checks the key's name, so a key that does not parse or is named otherwise is never used.
    let keys: Vec<ProviderKey> =
        registered.iter().filter_map(|vkey| ProviderKey::for_provider(vkey, &token.provider).ok()).collect();
    let mut stored = Vec::with_capacity(located.len());
    let mut details = Vec::new();
    for place in located {
        let Some(signature) = &place.signature else {
            stored.push(None);
            continue;
        };
        let (kind, json) = (place.record.kind().as_str(), place.record.to_json());
        match keys.iter().find(|key| key.verify(&token.provider, kind, &json, signature).is_ok()) {
            Some(key) => stored.push(Some(EntrySignature::new(signature, key))),
            None => {
                stored.push(None);
                let reason = if keys.is_empty() {
                    format!(
                        "{} has no registered signing key (or only revoked ones); register one with \
                         `gatelog provider key add`, or send the record unsigned",
                        token.provider
                    )
                } else {
                    let labels: Vec<String> = keys.iter().map(ProviderKey::label).collect();
                    format!(
                        "does not verify against any active key of {} ({}); sign the record as validated, \
                         with its kind and provider (`gatelog sign-records`)",
                        token.provider,
                        labels.join(", ")
                    )
                };
                if details.len() < formats::MAX_DETAILS {
                    details.push(ErrorDetail { index: Some(place.position), field: Some("signature".into()), reason });
                }
            }
        }
    }
    if details.is_empty() {
        return Ok(stored);
    }
    Err(AppError::Unprocessable {
        message: format!("{} signature(s) do not verify; nothing was written", details.len()),
        details,
    }
    .into())
}

/// A stored response for this key, if the same request was made before.
async fn replay(
    state: &AppState,
    provider_id: i64,
    key: &str,
    request_hash: &[u8; 32],
) -> Result<Option<Response>, ApiError> {
    let row =
        sqlx::query("SELECT request_hash, status, response FROM idempotency_keys WHERE provider_id = $1 AND key = $2")
            .bind(provider_id)
            .bind(key)
            .fetch_optional(&state.pool)
            .await
            .map_err(AppError::from)?;
    let Some(row) = row else { return Ok(None) };
    let stored_hash: Vec<u8> = row.try_get("request_hash").map_err(AppError::from)?;
    if stored_hash != request_hash {
        return Err(AppError::Unprocessable {
            message: "this Idempotency-Key was used for a different request".into(),
            details: Vec::new(),
        }
        .into());
    }
    let status: i16 = row.try_get("status").map_err(AppError::from)?;
    let response: serde_json::Value = row.try_get("response").map_err(AppError::from)?;
    let mut replayed = (StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK), Json(response)).into_response();
    replayed.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(Some(replayed))
}

async fn remember(
    state: &AppState,
    provider_id: i64,
    key: &str,
    request_hash: &[u8; 32],
    status: StatusCode,
    json: &serde_json::Value,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO idempotency_keys (provider_id, key, request_hash, status, response) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (provider_id, key) DO NOTHING",
    )
    .bind(provider_id)
    .bind(key)
    .bind(request_hash.as_slice())
    .bind(status.as_u16() as i16)
    .bind(json)
    .execute(&state.pool)
    .await
    .map_err(AppError::from)?;
    Ok(())
}

/// `GET /api/v1/receipts/{index}`: a self-contained receipt against the latest checkpoint.
pub async fn receipt(State(state): State<AppState>, Path(index): Path<u64>) -> Result<Json<Receipt>, ApiError> {
    let mut conn = state.pool.acquire().await.map_err(AppError::from)?;
    let head = crate::db::ledger::head(&mut conn).await.map_err(AppError::from)?;
    if index >= head.size {
        return Err(AppError::Missing(format!("entry {index} is past the tree size ({})", head.size)).into());
    }
    let (_, mut receipts) = ingest::receipts(&mut conn, &[index]).await.map_err(AppError::from)?;
    receipts.pop().map(Json).ok_or_else(|| AppError::NotFound.into())
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use axum::http::StatusCode;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use crate::ingest::{Receipt, verify_receipt};
    use crate::ledger::entry::Entry;
    use crate::ledger::note::NoteSigner;
    use crate::records::signature::RecordSigner;
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

    fn outcomes(json: &Value) -> Vec<String> {
        json["records"]
            .as_array()
            .expect("records")
            .iter()
            .map(|r| r["outcome"].as_str().expect("outcome").to_owned())
            .collect()
    }

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
            ("unknown kind", json!({"kind": "energy"}).to_string(), "kind"),
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
        let args = crate::cli::SignRecordsArgs { key: path.clone(), provider: None };
        let mut output = Vec::new();
        crate::cli::sign_records(&args, input.as_bytes(), &mut output).expect("signed");
        let signed = String::from_utf8(output).expect("utf8");
        assert_eq!(signed.lines().count(), 2);
        let response = app.post("/api/v1/records", "application/x-ndjson", signed, Some(&token), &[]).await;
        response.assert_status(StatusCode::CREATED);
        let page = app.get("/ledger/entries/1").await.html();
        assert!(page.text_of("#submitted").starts_with("Signed by the provider"));

        let for_other = crate::cli::SignRecordsArgs { key: path, provider: Some("nimbus-gpu".into()) };
        let refused = crate::cli::sign_records(&for_other, input.as_bytes(), &mut Vec::new());
        assert!(refused.expect_err("another provider").to_string().contains("must be named by its slug"));
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
