//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the API, generated
//! by utoipa from the handlers' annotations and the record types themselves, so it
//! cannot drift from the code.

use axum::Json;
use serde::Serialize;
use utoipa::OpenApi;

use super::ledger::{CheckpointJson, ConsistencyJson, EntryJson};
use super::records::{BatchJson, MAX_BODY_BYTES, MAX_RECORDS, RecordJson, Summary};
use crate::ingest::Receipt;
use crate::records::kinds::{
    Acceptance, ApplicantCategory, Capacity, Exclusivity, Lockup, Price, PricingModel, QueueTime, Tier, Track,
};

/// A record as submitted: the kind's fields plus `kind` (and optionally `provider`, which
/// must be the token's own). Documentation only; parsing is field by field.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[allow(dead_code)]
pub enum RecordInput {
    /// `queue_time`
    QueueTime(QueueTime),
    /// `acceptance`
    Acceptance(Acceptance),
    /// `price`
    Price(Price),
    /// `lockup`
    Lockup(Lockup),
    /// `capacity`
    Capacity(Capacity),
}

/// The error envelope every API error uses.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// Inside the envelope.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `invalid_records`.
    pub code: String,
    /// For people.
    pub message: String,
    /// Where exactly: record index (JSON) or line (NDJSON/CSV), field, reason.
    pub details: Vec<ErrorDetailDoc>,
}

/// One precise complaint.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetailDoc {
    /// Record index (JSON array) or line number (NDJSON, CSV).
    pub index: Option<usize>,
    /// Field name.
    pub field: Option<String>,
    /// What is wrong.
    pub reason: String,
}

/// Push records.
///
/// Accepts `application/json` (one record or an array), `application/x-ndjson` (one record per
/// line) or `text/csv` (header row; one kind per file, given by `?kind=`). The batch is accepted
/// whole or not at all. Each record's outcome is `created`, `amended` (same natural key, new
/// content: appended, superseding the latest) or `duplicate` (identical to the latest: nothing
/// written, the existing entry's receipt returned), so retrying is always safe.
#[utoipa::path(
    post,
    path = "/api/v1/records",
    tag = "ingest",
    params(
        ("kind" = Option<String>, Query, description = "Record kind of a CSV body"),
        ("dry_run" = Option<bool>, Query, description = "Validate, deduplicate and classify, but write nothing"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for a retried request with the same key and body (header Idempotent-Replayed: true); a key is remembered for GATELOG_IDEMPOTENCY_DAYS (30 by default)"),
    ),
    request_body(content(
        (Vec<RecordInput> = "application/json"),
        (String = "application/x-ndjson"),
        (String = "text/csv"),
    )),
    responses(
        (status = 201, description = "At least one record appended; receipts included", body = BatchJson),
        (status = 200, description = "Nothing new (all duplicates), or a dry run", body = BatchJson),
        (status = 400, description = "Malformed body, or a CSV without ?kind=", body = ErrorEnvelope),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorEnvelope),
        (status = 403, description = "A record names another provider", body = ErrorEnvelope),
        (status = 413, description = "Over the record or byte limit", body = ErrorEnvelope),
        (status = 415, description = "Unsupported Content-Type", body = ErrorEnvelope),
        (status = 422, description = "Invalid records (nothing written), or an Idempotency-Key reused for another body", body = ErrorEnvelope),
        (status = 409, description = "A request with this Idempotency-Key is still being processed; retry for its answer", body = ErrorEnvelope),
        (status = 429, description = "Per-token rate limit; see Retry-After", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
fn post_records() {}

/// A receipt for one entry, against the latest checkpoint: verifiable offline.
#[utoipa::path(get, path = "/api/v1/receipts/{index}", tag = "ingest",
    params(("index" = u64, Path, description = "Entry index")),
    responses((status = 200, body = Receipt), (status = 404, body = ErrorEnvelope)))]
#[allow(dead_code)]
fn receipt() {}

/// The latest signed checkpoint (C2SP tlog-checkpoint in a signed note), as text.
#[utoipa::path(get, path = "/checkpoint", tag = "ledger", responses((status = 200, content_type = "text/plain", body = String)))]
#[allow(dead_code)]
fn checkpoint() {}

/// Hash tiles and entry bundles (C2SP tlog-tiles): `tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`.
#[utoipa::path(get, path = "/tile/{path}", tag = "ledger",
    params(("path" = String, Path, description = "e.g. 0/x001/234 or entries/005.p/17")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
#[allow(dead_code)]
fn tile() {}

/// The latest checkpoint in JSON, with the verifier key.
#[utoipa::path(get, path = "/api/v1/ledger/checkpoint", tag = "ledger", responses((status = 200, body = CheckpointJson)))]
#[allow(dead_code)]
fn ledger_checkpoint() {}

/// One entry with its inclusion proof against the latest checkpoint.
#[utoipa::path(get, path = "/api/v1/ledger/entries/{index}", tag = "ledger",
    params(("index" = u64, Path, description = "Entry index")),
    responses((status = 200, body = EntryJson), (status = 404, body = ErrorEnvelope)))]
#[allow(dead_code)]
fn ledger_entry() {}

/// A consistency proof between two tree sizes.
#[utoipa::path(get, path = "/api/v1/ledger/proof/consistency", tag = "ledger",
    params(("from" = u64, Query, description = "Older size"), ("to" = u64, Query, description = "Newer size, at most the current size")),
    responses((status = 200, body = ConsistencyJson), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
#[allow(dead_code)]
fn ledger_consistency() {}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A provider token, gl_<id>_<secret>"))
                    .build(),
            ),
        );
        openapi.info.description = Some(format!(
            "Gatelog's API. Limits per request: {MAX_RECORDS} records, {MAX_BODY_BYTES} bytes. Human guide with curl examples: /docs/api"
        ));
    }
}

/// The value domains of [`crate::records::domain`] on the record schemas: the same
/// table the parser enforces and the data dictionary prints (through the dataset
/// schema, `crate::datasets::record_fields`), so the three cannot disagree.
struct RecordDomains;

impl utoipa::Modify for RecordDomains {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use crate::records::RecordKind;
        use utoipa::openapi::{RefOr, Schema};
        let Some(components) = openapi.components.as_mut() else { return };
        let kinds = [
            ("QueueTime", RecordKind::QueueTime),
            ("Acceptance", RecordKind::Acceptance),
            ("Price", RecordKind::Price),
            ("Lockup", RecordKind::Lockup),
            ("Capacity", RecordKind::Capacity),
        ];
        for (name, kind) in kinds {
            let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name) else { continue };
            for field in crate::datasets::record_fields(kind) {
                let (Some(domain), Some(RefOr::T(schema))) = (field.domain, object.properties.get_mut(field.name))
                else {
                    continue;
                };
                constrain(schema, domain);
            }
        }
    }
}

/// Puts `domain` on a property's schema (on each branch of an optional field's `oneOf`).
fn constrain(schema: &mut utoipa::openapi::Schema, domain: crate::datasets::schema::Domain) {
    use crate::datasets::schema::Domain;
    use utoipa::openapi::{RefOr, Schema};
    let object = match schema {
        Schema::Object(object) => object,
        Schema::OneOf(one_of) => {
            for item in &mut one_of.items {
                if let RefOr::T(inner) = item {
                    constrain(inner, domain);
                }
            }
            return;
        }
        _ => return,
    };
    let describe = |object: &mut utoipa::openapi::schema::Object| {
        let rule = domain.describe();
        object.description = Some(match object.description.take() {
            Some(text) if !text.is_empty() => format!("{text} {rule}"),
            _ => rule,
        });
    };
    let uint = |n: u64| utoipa::Number::UInt(usize::try_from(n).unwrap_or(usize::MAX));
    match domain {
        Domain::Count(count) => {
            object.minimum = Some(uint(count.min));
            object.maximum = Some(uint(count.max));
        }
        Domain::Amount(_) => {
            // A decimal is a string (JSON numbers are doubles); its range is in the description.
            object.pattern = Some("^-?[0-9]+(\\.[0-9]+)?$".into());
            object.max_length = Some(crate::records::domain::MAX_DECIMAL_TEXT);
            describe(object);
        }
        Domain::Date => describe(object),
        Domain::Text(max, _) => {
            object.min_length = Some(1);
            object.max_length = Some(max);
            describe(object);
        }
    }
}

/// The whole API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Gatelog API", license(name = "Apache-2.0")),
    paths(post_records, receipt, checkpoint, tile, ledger_checkpoint, ledger_entry, ledger_consistency),
    components(schemas(
        RecordInput, QueueTime, Acceptance, Price, Lockup, Capacity, Tier, Track, ApplicantCategory, PricingModel, Exclusivity,
        BatchJson, RecordJson, Summary, Receipt, CheckpointJson, EntryJson, ConsistencyJson, ErrorEnvelope, ErrorBody, ErrorDetailDoc
    )),
    modifiers(&BearerAuth, &RecordDomains),
    tags((name = "ingest", description = "Providers push disclosures"), (name = "ledger", description = "The verifiable log"))
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`.
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
