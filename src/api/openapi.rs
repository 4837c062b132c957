//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the API, generated
//! by utoipa from the handlers' annotations and the record types themselves, so it
//! cannot drift from the code.

use axum::Json;
use utoipa::OpenApi;

use super::batch::{BatchJson, MAX_BODY_BYTES, MAX_RECORDS, RecordJson, Summary};
use super::ledger::{self, CheckpointJson, ConsistencyJson, EntryJson};
use super::records;
use crate::error::ErrorDetail;
use crate::records::kinds::{
    Acceptance, ApplicantCategory, Capacity, Energy, Exclusivity, Lockup, Price, PricingModel, QueueTime, RecordKind,
    Tier, Track,
};
use crate::submission::Receipt;

use crate::error::{Envelope as ErrorEnvelope, EnvelopeBody as ErrorBody};

/// Responses every route can give besides its own: the per-address rate limit (when
/// configured) and load shedding or the request timeout (see `crate::routes`).
struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let envelope = || ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorEnvelope"))).build();
        let binary = || {
            ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
        };
        // The per-address limiter, the load shedder and the timeout answer before any handler,
        // in the same envelope as a handler's own 429 (per token) or 503 (ledger not ready).
        let common = [
            ("429", "Too many requests from this address or for this token; see Retry-After"),
            ("503", "At capacity (see Retry-After), timed out, or the ledger is not ready"),
        ];
        for item in openapi.paths.paths.values_mut() {
            for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                for (status, description) in common {
                    let response = responses
                        .entry(status.into())
                        .or_insert_with(|| RefOr::T(ResponseBuilder::new().description(description).build()));
                    if let RefOr::T(response) = response {
                        response.description = description.into();
                        response.content.entry("application/json".into()).or_insert_with(|| RefOr::T(envelope()));
                    }
                }
                // Tiles and bundles are bytes, not the array of numbers `Vec<u8>` describes.
                for response in responses.values_mut() {
                    if let RefOr::T(response) = response
                        && let Some(RefOr::T(content)) = response.content.get_mut("application/octet-stream")
                    {
                        content.schema = Some(binary().into());
                    }
                }
            }
        }
    }
}

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
        use utoipa::openapi::{RefOr, Schema};
        let Some(components) = openapi.components.as_mut() else { return };
        // The names records use (`on_demand`), which the derive on the `choices!` enums
        // does not see through the macro (it would print `OnDemand`).
        let choices = [
            ("RecordKind", names(RecordKind::OPTIONS)),
            ("Tier", names(Tier::OPTIONS)),
            ("Track", names(Track::OPTIONS)),
            ("ApplicantCategory", names(ApplicantCategory::OPTIONS)),
            ("PricingModel", names(PricingModel::OPTIONS)),
            ("Exclusivity", names(Exclusivity::OPTIONS)),
        ];
        for (name, values) in choices {
            if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name) {
                object.enum_values = Some(values);
            }
        }
        for (_, kind) in RecordKind::OPTIONS {
            let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(kind_component(*kind)) else {
                continue;
            };
            for field in crate::datasets::record_fields(*kind) {
                let Some(RefOr::T(schema)) = object.properties.get_mut(field.name) else { continue };
                if let Some(domain) = field.domain {
                    constrain(schema, domain);
                }
                match field.name {
                    "resource" | "region" | "site" => {
                        text_rule(schema, SLUG_PATTERN, crate::records::slug::MAX_SLUG_LEN)
                    }
                    "currency" | "contract_currency" => text_rule(schema, "^[A-Z]{3}$", 3),
                    _ => {}
                }
            }
        }
    }
}

/// An example body per record kind in each format `POST /api/v1/records` takes, from
/// [`crate::records::kinds::examples`] (the ones `/docs/api` shows).
struct RecordExamples;

impl utoipa::Modify for RecordExamples {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::example::ExampleBuilder;
        let Some(body) = openapi
            .paths
            .paths
            .get_mut("/api/v1/records")
            .and_then(|item| item.post.as_mut())
            .and_then(|operation| operation.request_body.as_mut())
            .and_then(|body| match body {
                RefOr::T(body) => Some(body),
                RefOr::Ref(_) => None,
            })
        else {
            return;
        };
        for example in crate::records::kinds::examples() {
            let kind = example["kind"].as_str().unwrap_or_default().to_owned();
            let fields: Vec<(&String, &serde_json::Value)> =
                example.as_object().into_iter().flatten().filter(|(name, _)| *name != "kind").collect();
            let mut csv = csv::Writer::from_writer(Vec::new());
            let cell = |value: &serde_json::Value| value.as_str().map_or_else(|| value.to_string(), str::to_owned);
            let _ = csv.write_record(fields.iter().map(|(name, _)| name.as_str()));
            let _ = csv.write_record(fields.iter().map(|(_, value)| cell(value)));
            let csv = csv.into_inner().map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default();
            for (media, value) in [
                ("application/json", serde_json::json!([example])),
                ("application/x-ndjson", serde_json::Value::from(format!("{example}\n"))),
                ("text/csv", serde_json::Value::from(csv)),
            ] {
                let summary = if media == "text/csv" { format!("{kind} (with ?kind={kind})") } else { kind.clone() };
                if let Some(RefOr::T(content)) = body.content.get_mut(media) {
                    let example = ExampleBuilder::new().summary(summary).value(Some(value)).build();
                    content.examples.insert(kind.clone(), RefOr::T(example));
                }
            }
        }
    }
}

/// The body of `POST /api/v1/records` in JSON: one record or an array of them, each one
/// kind's fields plus `kind` (the discriminator), optionally `provider` (must be the
/// token's own) and `signature`. Built from the kinds' schemas once [`RecordDomains`]
/// has put the domains on them; the parser refuses any other field, so none is allowed.
struct RecordInputs;

impl utoipa::Modify for RecordInputs {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{
            AdditionalProperties, ArrayBuilder, Discriminator, ObjectBuilder, OneOfBuilder, Type,
        };
        use utoipa::openapi::{Ref, RefOr, Schema};
        let Some(components) = openapi.components.as_mut() else { return };
        let mut one_of = OneOfBuilder::new();
        let mut discriminator = Discriminator::new("kind");
        for (name, kind) in crate::records::RecordKind::OPTIONS {
            let component = kind_component(*kind);
            let Some(RefOr::T(Schema::Object(fields))) = components.schemas.get(component) else { continue };
            let mut object = fields.clone();
            object.properties.insert(
                "kind".into(),
                ObjectBuilder::new().schema_type(Type::String).enum_values(Some([*name])).into(),
            );
            object.properties.insert(
                "provider".into(),
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("Your provider's slug; optional, and refused if it is another's"))
                    .pattern(Some(SLUG_PATTERN))
                    .max_length(Some(crate::records::slug::MAX_SLUG_LEN))
                    .into(),
            );
            object.properties.insert(
                "signature".into(),
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some(
                        "The provider's Ed25519 signature over the record (base64 of 64 bytes); see docs/LEDGER.md",
                    ))
                    .pattern(Some("^[A-Za-z0-9+/]{86}==$"))
                    .into(),
            );
            object.required.insert(0, "kind".into());
            object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
            let input = format!("{component}Input");
            components.schemas.insert(input.clone(), RefOr::T(Schema::Object(object)));
            one_of = one_of.item(Ref::from_schema_name(&input));
            discriminator.mapping.insert((*name).to_owned(), format!("#/components/schemas/{input}"));
        }
        // Reports (reporters' tokens only) and answers (providers', alone or with their own records): issue 19.
        for (name, input, object) in third_party_inputs(components) {
            components.schemas.insert(input.to_owned(), RefOr::T(Schema::Object(object)));
            one_of = one_of.item(Ref::from_schema_name(input));
            discriminator.mapping.insert(name.to_owned(), format!("#/components/schemas/{input}"));
        }
        let record: Schema = one_of
            .discriminator(Some(discriminator))
            .description(Some("One record: a kind's fields plus `kind`"))
            .into();
        components.schemas.insert("RecordInput".into(), RefOr::T(record));
        let body = OneOfBuilder::new()
            .item(Ref::from_schema_name("RecordInput"))
            .item(
                ArrayBuilder::new()
                    .items(Ref::from_schema_name("RecordInput"))
                    .min_items(Some(1))
                    .max_items(Some(MAX_RECORDS)),
            )
            .description(Some("One record, or an array of records (accepted whole or not at all)"));
        components.schemas.insert("RecordsBody".into(), RefOr::T(body.into()));
    }
}

/// The input schemas of `report` and `answer` (issue 19), the fields a report may carry
/// taken from the lock-up and price schemas, whose domains are already on them.
fn third_party_inputs(
    components: &utoipa::openapi::Components,
) -> Vec<(&'static str, &'static str, utoipa::openapi::schema::Object)> {
    use crate::records::reports::{self, ReportedKind};
    use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    use utoipa::openapi::{RefOr, Schema};
    let text = |description: &str, max: usize| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
            .min_length(Some(1))
            .max_length(Some(max))
    };
    let index = |description: &str| {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .description(Some(description))
            .minimum(Some(0))
            .maximum(Some(crate::records::domain::MAX_SAFE_COUNT as f64))
    };
    let kind = |name: &str| ObjectBuilder::new().schema_type(Type::String).enum_values(Some([name]));
    let mut report = ObjectBuilder::new()
        .description(Some(
            "A sourced report about a provider, filed with a reporter's token (the entry's provider field names the reporter). \
             The fields of the reported kind it knows are given beside these (a lock-up report needs counterparty, a price \
             report price_per_accelerator_hour and currency).",
        ))
        .property("kind", kind(reports::REPORT))
        .required("kind")
        .property(
            "about",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("The registered provider the report is about"))
                .pattern(Some(SLUG_PATTERN))
                .max_length(Some(crate::records::slug::MAX_SLUG_LEN)),
        )
        .required("about")
        .property("reported_kind", ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["lockup", "price"])))
        .required("reported_kind")
        .property(
            "sources",
            ArrayBuilder::new()
                .items(
                    text("An http(s) URL: printable ASCII, a dotted host name, no user name or password", reports::MAX_SOURCE_URL)
                        .pattern(Some("^https?://[!-~]+$")),
                )
                .min_items(Some(1))
                .max_items(Some(reports::MAX_SOURCES))
                .unique_items(true)
                .description(Some("Where the report was published")),
        )
        .required("sources")
        .property(
            "published_date",
            ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))),
        )
        .required("published_date")
        .property("quotation", text("A short quotation from the source, or a note on it", reports::MAX_QUOTATION))
        .required("quotation")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .build();
    for (reported, component) in [(ReportedKind::Lockup, "Lockup"), (ReportedKind::Price, "Price")] {
        if let Some(RefOr::T(Schema::Object(fields))) = components.schemas.get(component) {
            for name in reported.fields() {
                if let Some(field) = fields.properties.get(*name) {
                    report.properties.insert((*name).to_owned(), field.clone());
                }
            }
        }
    }
    let answer = ObjectBuilder::new()
        .description(Some(
            "A provider's answer to a report about it, filed with its own token, alone or with records of its own in \
             the same request: confirm (disclosure_entry: an entry of its own of the reported kind, or \
             disclosure_position: the position of such a record earlier in this request; the stored answer then \
             carries the entry index it got), dispute (statement) or correct (corrections). A later answer to the \
             same report supersedes the earlier one.",
        ))
        .property("kind", kind(reports::ANSWER))
        .required("kind")
        .property("report", index("The report's entry index"))
        .required("report")
        .property(
            "response",
            ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["confirm", "dispute", "correct"])),
        )
        .required("response")
        .property("disclosure_entry", index("For confirm: the entry of your own that discloses it"))
        .property(
            "disclosure_position",
            index(
                "For confirm, instead of disclosure_entry: the position (array index, or NDJSON line number) of \
                   your disclosure earlier in this same request",
            ),
        )
        .property("statement", text("The provider's statement (required to dispute)", reports::MAX_STATEMENT))
        .property(
            "corrections",
            ObjectBuilder::new()
                .description(Some("For correct: the corrected fields, of the report's kind"))
                .additional_properties(Some(AdditionalProperties::FreeForm(true))),
        )
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .build();
    vec![("report", "ReportInput", report), ("answer", "AnswerInput", answer)]
}

/// The component schema of a record kind's fields.
fn kind_component(kind: crate::records::RecordKind) -> &'static str {
    use crate::records::RecordKind;
    match kind {
        RecordKind::QueueTime => "QueueTime",
        RecordKind::Acceptance => "Acceptance",
        RecordKind::Price => "Price",
        RecordKind::Lockup => "Lockup",
        RecordKind::Capacity => "Capacity",
        RecordKind::Energy => "Energy",
    }
}

/// The years of [`crate::records::domain::DATES`] (1970 to 2099; `format: date` does the rest).
const DATE_PATTERN: &str = "^(19[7-9][0-9]|20[0-9]{2})-[0-9]{2}-[0-9]{2}$";

/// What [`crate::records::Slug::parse`] accepts.
const SLUG_PATTERN: &str = "^[a-z0-9]+(-[a-z0-9]+)*$";

/// The names of a `choices!` enum's values, as records write them.
fn names<T>(options: &[(&'static str, T)]) -> Vec<serde_json::Value> {
    options.iter().map(|(name, _)| serde_json::Value::from(*name)).collect()
}

/// Puts a pattern and a length limit on a text property (on each branch of an optional one).
fn text_rule(schema: &mut utoipa::openapi::Schema, pattern: &str, max: usize) {
    use utoipa::openapi::{RefOr, Schema};
    match schema {
        // A string, or (an optional field) a string or null.
        Schema::Object(object)
            if object.schema_type == utoipa::openapi::schema::Type::String.into()
                || matches!(&object.schema_type, utoipa::openapi::schema::SchemaType::Array(types)
                    if types.contains(&utoipa::openapi::schema::Type::String)) =>
        {
            object.pattern = Some(pattern.into());
            object.min_length = Some(1);
            object.max_length = Some(max);
        }
        Schema::OneOf(one_of) => {
            for item in &mut one_of.items {
                if let RefOr::T(inner) = item {
                    text_rule(inner, pattern, max);
                }
            }
        }
        _ => {}
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
        Domain::Date => {
            object.pattern = Some(DATE_PATTERN.into());
            describe(object);
        }
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
    paths(
        records::post, records::receipt, ledger::checkpoint, ledger::witnessed_checkpoint, ledger::tile,
        ledger::checkpoint_json_handler, ledger::entry, ledger::consistency, openapi_json
    ),
    components(schemas(
        QueueTime, Acceptance, Price, Lockup, Capacity, Energy, RecordKind, Tier, Track, ApplicantCategory, PricingModel, Exclusivity,
        BatchJson, RecordJson, Summary, Receipt, CheckpointJson, EntryJson, ConsistencyJson, ErrorEnvelope, ErrorBody,
        ErrorDetail
    )),
    modifiers(&BearerAuth, &RecordDomains, &RecordInputs, &RecordExamples, &CommonResponses),
    tags((name = "ingest", description = "Providers push disclosures"), (name = "ledger", description = "The verifiable log"))
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "ledger",
    responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json", body = Object)))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    use super::ApiDoc;

    /// Every machine-readable route the router serves is in the document, with the
    /// methods it answers, so the document cannot silently lose a route.
    #[test]
    fn every_api_route_in_the_router_is_documented() {
        let doc = ApiDoc::openapi();
        for (path, method) in crate::routes::API_ROUTES {
            let documented = path.replace("{*", "{");
            let item =
                doc.paths.paths.get(&documented).unwrap_or_else(|| panic!("{path} is not in the OpenAPI document"));
            let operation = match *method {
                "get" => item.get.as_ref(),
                "post" => item.post.as_ref(),
                other => panic!("unexpected method {other}"),
            };
            assert!(operation.is_some(), "{method} {path} is not in the OpenAPI document");
        }
        assert_eq!(
            doc.paths.paths.len(),
            crate::routes::API_ROUTES.len(),
            "the document lists a route the router lacks"
        );
        // A machine-readable route added to the router beside the list would escape the check above.
        let source = include_str!("../routes.rs");
        for prefix in ["\"/api/", "\"/checkpoint", "\"/tile/"] {
            assert!(
                !source.lines().any(|line| line.contains(&format!(".route({prefix}"))),
                "routes.rs adds a {prefix}... route outside API_ROUTES"
            );
        }
    }

    /// What schemathesis found (issue 17): statuses the handlers answer, and
    /// domains the parser enforces, are in the schema.
    #[test]
    fn refusals_and_domains_are_documented() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("json");
        for path in [
            "/api/v1/ledger/entries/{index}",
            "/api/v1/receipts/{index}",
            "/tile/{path}",
            "/api/v1/ledger/proof/consistency",
        ] {
            let responses = &doc["paths"][path]["get"]["responses"];
            for status in ["400", "404", "429", "503"] {
                assert!(responses.get(status).is_some(), "{path} lacks {status}: {responses}");
            }
        }
        let post = &doc["paths"]["/api/v1/records"]["post"]["responses"];
        for status in ["200", "201", "400", "401", "403", "409", "413", "415", "422", "429", "503"] {
            assert!(post.get(status).is_some(), "POST /api/v1/records lacks {status}");
        }
        let lockup = &doc["components"]["schemas"]["LockupInput"];
        assert_eq!(lockup["properties"]["counterparty"]["minLength"], 1, "{lockup}");
        assert_eq!(lockup["properties"]["accelerators"]["minimum"], 1, "{lockup}");
        assert_eq!(lockup["properties"]["kind"]["enum"][0], "lockup");
        assert_eq!(lockup["additionalProperties"], false);
        assert!(lockup["required"].as_array().expect("required").contains(&"counterparty".into()));
        assert_eq!(doc["components"]["schemas"]["Tier"]["enum"][0], "on_demand", "the names records use");
        assert_eq!(doc["components"]["schemas"]["RecordKind"]["enum"][0], "queue_time");
        let dates = crate::records::domain::DATES;
        assert_eq!((dates.start().to_string(), dates.end().to_string()), ("1970-01-01".into(), "2099-12-31".into()));
        let content = &doc["paths"]["/api/v1/records"]["post"]["requestBody"]["content"];
        for media in ["application/json", "application/x-ndjson", "text/csv"] {
            for kind in ["queue_time", "acceptance", "price", "lockup", "capacity", "energy"] {
                assert!(
                    content[media]["examples"][kind]["value"].is_string()
                        || content[media]["examples"][kind]["value"].is_array(),
                    "{media} {kind}"
                );
            }
        }
        let record = &doc["components"]["schemas"]["RecordInput"];
        assert_eq!(record["discriminator"]["propertyName"], "kind");
        assert_eq!(record["oneOf"].as_array().map(Vec::len), Some(8), "six kinds, reports and answers");
        let report = &doc["components"]["schemas"]["ReportInput"];
        assert_eq!(report["properties"]["sources"]["maxItems"], 5, "{report}");
        assert_eq!(report["properties"]["sources"]["items"]["maxLength"], 1000, "{report}");
        assert_eq!(report["properties"]["accelerators"]["minimum"], 1, "lock-up fields keep their domains: {report}");
        assert!(report["properties"]["price_per_accelerator_hour"].is_object(), "{report}");
        assert_eq!(report["additionalProperties"], false);
        let answer = &doc["components"]["schemas"]["AnswerInput"];
        assert_eq!(answer["properties"]["response"]["enum"], serde_json::json!(["confirm", "dispute", "correct"]));
        assert_eq!(record["discriminator"]["mapping"]["answer"], "#/components/schemas/AnswerInput");
        let energy = &doc["components"]["schemas"]["Energy"];
        for field in crate::datasets::record_fields(crate::records::RecordKind::Energy) {
            assert!(energy["properties"][field.name].is_object(), "{} missing from {energy}", field.name);
        }
        assert!(energy["properties"]["pue"].to_string().contains("from 1 to 3"), "{energy}");
        let location = energy["properties"]["grid_intensity_location_gco2e_per_kwh"].to_string();
        assert!(location.contains("from 0 to 2000") && location.contains("gCO2e/kWh"), "{location}");
        assert!(energy["properties"]["site"].to_string().contains("pattern"), "{energy}");
        let required = energy["required"].as_array().expect("required");
        assert!(required.contains(&"grid_intensity_location_gco2e_per_kwh".into()));
        assert!(!required.contains(&"grid_intensity_market_gco2e_per_kwh".into()));
        let records_429 = &post["429"]["content"];
        // Every 429, the per-address limiter's included, is the envelope since issue 20.
        assert!(records_429["application/json"].is_object() && records_429["text/plain"].is_null(), "{records_429}");
        let bytes = &doc["paths"]["/tile/{path}"]["get"]["responses"]["200"]["content"]["application/octet-stream"];
        assert_eq!(bytes["schema"]["format"], "binary", "{bytes}");
        let tile = &doc["paths"]["/tile/{path}"]["get"]["parameters"][0]["schema"];
        assert!(tile["pattern"].as_str().is_some(), "{tile}");
    }
}
