//! `/docs/api`: the API guide for a provider's engineer, with a curl example of
//! every record kind in all three formats. The examples are the same records the
//! tests submit, and the limits come from the code, so the page cannot drift.

use askama::Template;
use axum::response::Response;
use serde_json::Value;

use crate::api::records::{MAX_BODY_BYTES, MAX_RECORDS};
use crate::records::kinds::examples;

/// One kind's section.
pub struct KindDoc {
    /// Kind name.
    pub kind: String,
    /// The fields of its natural key.
    pub natural_key: &'static str,
    /// Field names and example values.
    pub fields: Vec<(String, String)>,
    /// curl with a JSON body.
    pub json: String,
    /// curl with an NDJSON body.
    pub ndjson: String,
    /// curl with a CSV body.
    pub csv: String,
}

#[derive(Template)]
#[template(path = "docs/api.html")]
pub struct ApiDocsPage {
    /// One section per kind.
    pub kinds: Vec<KindDoc>,
    /// Records per request.
    pub max_records: usize,
    /// Bytes per request.
    pub max_bytes: usize,
}

fn natural_key(kind: &str) -> &'static str {
    match kind {
        "queue_time" => "period_start, period_end, resource, region, tier",
        "acceptance" => "period_start, period_end, track, applicant_category",
        "price" => "effective_date, resource, region, pricing_model",
        "lockup" => "counterparty, resource, region, start_date",
        _ => "as_of, resource, region",
    }
}

fn cell(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn kind_doc(example: Value) -> KindDoc {
    let kind = example["kind"].as_str().unwrap_or_default().to_owned();
    let object = example.as_object().cloned().unwrap_or_default();
    let fields: Vec<(String, String)> =
        object.iter().filter(|(k, _)| *k != "kind").map(|(k, v)| (k.clone(), cell(v))).collect();
    let pretty = serde_json::to_string_pretty(&example).unwrap_or_default();
    let curl = |content_type: &str, query: &str| {
        format!(
            "curl -sS \"$GATELOG/api/v1/records{query}\" \\\n  -H \"Authorization: Bearer $GATELOG_TOKEN\" \\\n  -H \"Content-Type: {content_type}\" \\\n  --data-binary @-"
        )
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(fields.iter().map(|(k, _)| k.as_str()));
    let _ = writer.write_record(fields.iter().map(|(_, v)| v.as_str()));
    let csv_text = writer.into_inner().map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default();
    KindDoc {
        natural_key: natural_key(&kind),
        json: format!("{} <<'EOF'\n[{pretty}]\nEOF", curl("application/json", "")),
        ndjson: format!("{} <<'EOF'\n{example}\nEOF", curl("application/x-ndjson", "")),
        csv: format!("{} <<'EOF'\n{}EOF", curl("text/csv", &format!("?kind={kind}")), csv_text),
        kind,
        fields,
    }
}

/// Handler for `/docs/api`.
pub async fn show() -> Response {
    let page = ApiDocsPage {
        kinds: examples().into_iter().map(kind_doc).collect(),
        max_records: MAX_RECORDS,
        max_bytes: MAX_BODY_BYTES,
    };
    super::render(&page)
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::testing::TestApp;

    #[tokio::test]
    async fn every_kind_has_examples_in_all_three_formats() {
        let app = TestApp::new().await;
        let response = app.get("/docs/api").await;
        response.assert_status(StatusCode::OK);
        let html = response.html();
        let sections = html.texts_of("section.kind h2");
        assert_eq!(sections, ["queue_time", "acceptance", "price", "lockup", "capacity", "energy"]);
        assert_eq!(html.texts_of("section.kind pre.curl-json").len(), 6);
        assert_eq!(html.texts_of("section.kind pre.curl-ndjson").len(), 6);
        assert_eq!(html.texts_of("section.kind pre.curl-csv").len(), 6);
        assert!(html.text_of("#limits").contains("10000 records"));
    }

    /// The documented examples are accepted by the real API, in every format.
    #[tokio::test]
    async fn the_documented_examples_work() {
        let app = TestApp::new().await;
        let token = app.provider_token("docs-example").await;
        for example in crate::records::kinds::examples() {
            let doc = super::kind_doc(example.clone());
            let csv_body = doc
                .csv
                .split("<<'EOF'\n")
                .nth(1)
                .and_then(|rest| rest.strip_suffix("EOF"))
                .expect("csv body")
                .to_owned();
            let uri = format!("/api/v1/records?kind={}", doc.kind);
            let response = app.post(&uri, "text/csv", csv_body, Some(&token), &[]).await;
            response.assert_status(StatusCode::CREATED);
            let response =
                app.post("/api/v1/records", "application/x-ndjson", format!("{example}\n"), Some(&token), &[]).await;
            response.assert_status(StatusCode::OK);
            assert_eq!(response.json()["summary"]["duplicate"], 1, "the same record in another format is a duplicate");
        }
    }

    #[tokio::test]
    async fn the_openapi_document_describes_the_api() {
        let app = TestApp::new().await;
        let json = app.get("/api/v1/openapi.json").await.json();
        assert!(json["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
        assert!(json["paths"]["/api/v1/records"]["post"]["responses"]["422"].is_object());
        let schemas = &json["components"]["schemas"];
        for kind in ["QueueTime", "Acceptance", "Price", "Lockup", "Capacity", "BatchJson", "Receipt"] {
            assert!(schemas[kind].is_object(), "{kind} missing from the schemas");
        }
        assert!(schemas["QueueTime"]["properties"]["p90_seconds"].is_object());
        assert_eq!(json["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    }

    /// Issue 15: every value rule the record types enforce is in the schema.
    #[tokio::test]
    async fn the_openapi_schema_carries_every_value_domain() {
        use crate::records::domain;
        let app = TestApp::new().await;
        let json = app.get("/api/v1/openapi.json").await.json();
        let schemas = &json["components"]["schemas"];
        let property = |kind: &str, field: &str| schemas[kind]["properties"][field].to_string();
        let jobs = &schemas["QueueTime"]["properties"]["jobs"];
        assert_eq!((jobs["minimum"].as_u64(), jobs["maximum"].as_u64()), (Some(1), Some(domain::JOBS.max)), "{jobs}");
        // Optional fields carry it too, whatever shape utoipa gives them.
        for (kind, field, max) in [
            ("QueueTime", "max_seconds", domain::WAIT_SECONDS.max),
            ("Acceptance", "accelerator_hours_granted", domain::ACCELERATOR_HOURS.max),
            ("Capacity", "total_accelerators", domain::ACCELERATORS.max),
            ("Lockup", "accelerators", domain::LOCKED_ACCELERATORS.max),
        ] {
            assert!(
                property(kind, field).contains(&format!("\"maximum\":{max}")),
                "{kind}.{field}: {}",
                property(kind, field)
            );
        }
        assert!(
            property("Lockup", "counterparty").contains("\"maxLength\":200"),
            "{}",
            property("Lockup", "counterparty")
        );
        assert!(property("Lockup", "notes").contains("\"maxLength\":2000"));
        let price = property("Price", "price_per_accelerator_hour");
        assert!(price.contains("at most 12 digits after the point") && price.contains("pattern"), "{price}");
        assert!(property("QueueTime", "period_start").contains("1970-01-01 to 2099-12-31"));
    }

    /// The dictionary prints the same rules.
    #[tokio::test]
    async fn the_dictionary_prints_every_value_domain() {
        let app = TestApp::new().await;
        let page = app.get("/data/dictionary").await.html();
        let rows = page.texts_of("section:has(h2#queue_times) .field");
        let jobs = rows.iter().find(|r| r.starts_with("jobs")).expect("jobs row");
        assert!(jobs.contains("A whole number from 1 to 1000000000000."), "{jobs}");
        let lockups = page.texts_of("section:has(h2#lockups) .field");
        let counterparty = lockups.iter().find(|r| r.starts_with("counterparty")).expect("row");
        assert!(counterparty.contains("At most 200 characters on one line"), "{counterparty}");
    }
}
