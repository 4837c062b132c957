//! What every batch sent to `POST /api/v1/records` shares, whichever way it goes (a
//! provider's own records in [`super::records`], reports and answers in
//! [`super::reports`]): the limits, the signature check, and the response with each
//! entry's receipt.

use std::collections::BTreeSet;

use super::auth::ProviderToken;
use crate::AppState;
use crate::db::ledger::StoredCheckpoint;
use crate::error::{ApiError, AppError, ErrorDetail};
use crate::ledger::entry::EntrySignature;
use crate::ledger::tlog_proof;
use crate::records::signature::ProviderKey;
use crate::submission::formats::{self, Located};
use crate::submission::{Outcome, RecordResult};
use crate::telemetry::BatchRejection;

pub use gatelog_core::api::{BatchJson, MAX_BODY_BYTES, RecordJson, Summary};

/// Most records in one request.
pub const MAX_RECORDS: usize = 10_000;
/// The JSON body of `POST /api/v1/records`: the `RecordsBody` component that [`super::openapi`] builds from the kinds' schemas.
pub struct RecordsBody;

impl utoipa::PartialSchema for RecordsBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        utoipa::openapi::Ref::from_schema_name("RecordsBody").into()
    }
}

impl utoipa::ToSchema for RecordsBody {
    fn name() -> std::borrow::Cow<'static, str> {
        "RecordsBody".into()
    }
}

/// Refuses a batch of more than [`MAX_RECORDS`] items (413), whichever way it goes.
pub fn check_size(state: &AppState, items: usize) -> Result<(), ApiError> {
    if items <= MAX_RECORDS {
        return Ok(());
    }
    state.metrics.rejected_batch(BatchRejection::TooLarge);
    Err(AppError::TooLarge(format!("a batch holds at most {MAX_RECORDS} records, got {items}; split it")).into())
}

/// Refuses a batch in which a record names a provider other than the token's (403).
pub fn check_own(state: &AppState, token: &ProviderToken, located: &[Located]) -> Result<(), ApiError> {
    let Some(other) =
        located.iter().find(|r| r.claimed_provider.as_deref().is_some_and(|p| p != token.provider.as_str()))
    else {
        return Ok(());
    };
    state.metrics.rejected_batch(BatchRejection::OtherProvider);
    Err(AppError::Forbidden(format!(
        "this token writes for {}; the record at position {} names provider {:?}",
        token.provider,
        other.position,
        other.claimed_provider.as_deref().unwrap_or_default()
    ))
    .into())
}

/// The response to a classified batch: each record (given as position, kind, natural key)
/// where it was, its outcome and entry, and (unless a dry run) its leaf hash and inclusion
/// proof against `checkpoint`.
pub async fn batch_json_of(
    state: &AppState,
    token: &ProviderToken,
    located: &[(usize, String, String)],
    results: &[RecordResult],
    tree_size: u64,
    checkpoint: Option<&StoredCheckpoint>,
    dry_run: bool,
) -> Result<BatchJson, ApiError> {
    let receipts = match checkpoint {
        None => Vec::new(),
        Some(checkpoint) => {
            let indexes: Vec<u64> =
                results.iter().map(|r| r.entry_index).collect::<BTreeSet<_>>().into_iter().collect();
            let mut conn = state.pool.acquire().await.map_err(AppError::from)?;
            receipts_against(&mut conn, checkpoint, &indexes).await.map_err(AppError::from)?
        }
    };
    // In index order (from a set): found by binary search, not a scan per record (which
    // was 10,000 × 10,000 comparisons for a full batch).
    let receipt_of = |index: u64| receipts.binary_search_by_key(&index, |r| r.0).ok().map(|at| &receipts[at]);

    let mut summary = Summary::default();
    let mut out = Vec::with_capacity(located.len());
    for (place, outcome) in located.iter().zip(results) {
        match outcome.outcome {
            Outcome::Created => summary.created += 1,
            Outcome::Amended => summary.amended += 1,
            Outcome::Duplicate => summary.duplicate += 1,
        }
        let receipt = receipt_of(outcome.entry_index);
        out.push(RecordJson {
            position: place.0,
            kind: place.1.clone(),
            natural_key: place.2.clone(),
            outcome: serde_json::to_value(outcome.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            entry_index: outcome.entry_index,
            supersedes: outcome.supersedes,
            leaf_hash: receipt.map(|r| r.1.clone()),
            inclusion_proof: receipt.map(|r| r.2.clone()),
            tlog_proof: receipt
                .map(|r| format!("{}/api/v1/receipts/{}.{}", state.public_url, r.0, tlog_proof::EXTENSION)),
        });
    }
    Ok(BatchJson {
        dry_run,
        provider: token.provider.to_string(),
        summary,
        tree_size,
        checkpoint: checkpoint.map(|c| c.note.clone()),
        records: out,
    })
}

/// (index, leaf hash, inclusion proof), hex, for `indexes` against `checkpoint`: the one
/// the first answer used, so a replay's proofs are the same even after the log has grown.
async fn receipts_against(
    conn: &mut sqlx::PgConnection,
    checkpoint: &StoredCheckpoint,
    indexes: &[u64],
) -> Result<Vec<(u64, String, Vec<String>)>, crate::ledger::LedgerError> {
    let proofs = crate::ledger::log::inclusion_proofs(conn, indexes, checkpoint.size).await?;
    let rows = crate::db::ledger::entries_by_index(conn, indexes).await?;
    indexes
        .iter()
        .zip(proofs)
        .map(|(index, proof)| {
            let row = rows
                .iter()
                .find(|row| row.index == *index)
                .ok_or_else(|| crate::ledger::LedgerError::Inconsistent(format!("entry {index} is missing")))?;
            Ok((*index, hex::encode(row.leaf_hash), proof.iter().map(hex::encode).collect()))
        })
        .collect()
}

/// Checks every signed record against the provider's registered, unrevoked keys and
/// returns what each entry will store; any failure refuses the whole batch (422).
pub async fn check_signatures(
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
    state.metrics.rejected_batch(BatchRejection::Signature);
    Err(AppError::Unprocessable {
        message: format!("{} signature(s) do not verify; nothing was written", details.len()),
        details,
    }
    .into())
}
