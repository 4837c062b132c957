//! Issue 15: entries already in a ledger whose record no longer decodes (written under
//! older rules, out of today's domains, of a kind this version does not know) never
//! break a page, an export or a snapshot. One policy everywhere: each is counted and
//! named (on `/ledger`, its entry page, `/data`, the snapshot's `datapackage.json`),
//! left out of every figure, and everything else is published.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::datasets::{CATALOG, Format};
use crate::records::Record;
use crate::testing::TestApp;

use crate::testing::raw_entry as raw;

/// Every page a visitor can reach for this world.
const PAGES: &[&str] = &[
    "/",
    "/providers",
    "/providers/old-cloud",
    "/providers/old-cloud/charts/acceptance.svg",
    "/providers/old-cloud/charts/prices.svg",
    "/providers/old-cloud/charts/lockups.svg",
    "/metrics/queue-times",
    "/metrics/acceptance",
    "/metrics/prices",
    "/metrics/lockups",
    "/metrics/capacity",
    "/compare?a=old-cloud&b=old-cloud",
    "/lockups",
    "/compliance",
    "/methodology",
    "/feed.atom",
    "/providers/old-cloud/feed.atom",
    "/data",
    "/data/dictionary",
    "/ledger",
];

#[tokio::test]
async fn entries_that_no_longer_decode_break_nothing_and_are_named_everywhere() {
    let app = TestApp::new().await;
    let token = app.provider_token("old-cloud").await;
    let examples = crate::records::kinds::examples();
    let filed = app
        .post("/api/v1/records", "application/json", Value::Array(examples.clone()).to_string(), Some(&token), &[])
        .await;
    filed.assert_status(StatusCode::CREATED);
    let queue = Record::parse(examples[0].clone()).expect("valid");

    // Appended past the parser, as an older version (or a bug) could have: an amendment
    // of the queue time whose jobs are out of today's domain; a capacity without its
    // fields; a record that is not an object; a kind this version does not know.
    let ledger = app.ledger();
    let bad = vec![
        raw(
            "old-cloud",
            "queue_time",
            &queue.natural_key(),
            {
                let mut r = queue.to_json();
                r["jobs"] = json!(9_007_199_254_740_991_u64);
                r
            },
            Some(0),
        ),
        raw("old-cloud", "capacity", "2026-12-01|x|y", json!({"as_of": "2026-12-01", "total": 5}), None),
        raw("old-cloud", "price", "garbage", json!("not an object"), None),
        raw("old-cloud", "water", "2026-11|site-1", json!({"litres": 12}), None),
    ];
    let appended = ledger.append(&app.db.pool, &bad).await.expect("the ledger takes any JSON");
    let bad_indexes: Vec<u64> = appended.entries.iter().map(|e| e.index).collect();
    assert_eq!(bad_indexes, [6, 7, 8, 9]);

    for page in PAGES {
        let response = app.get(page).await;
        assert_eq!(response.status, StatusCode::OK, "{page}: {}", response.text());
    }
    for index in &bad_indexes {
        let page = app.get(&format!("/ledger/entries/{index}")).await;
        page.assert_status(StatusCode::OK);
        assert!(page.html().text_of("#unreadable").contains("today's rules"), "entry {index}");
    }
    let readable = app.get("/ledger/entries/1").await.html();
    assert!(!readable.exists("#unreadable"), "a readable entry is not flagged");

    // /ledger names each of them, with why.
    let ledger_page = app.get("/ledger").await.html();
    let listed: Vec<String> = ledger_page.texts_of("#unreadable-table tbody tr td:first-child");
    assert_eq!(listed, ["6", "7", "8", "9"], "{}", ledger_page.text_of("#unreadable"));
    assert!(ledger_page.text_of("#unreadable-table").contains("jobs: must be at most"));
    assert!(ledger_page.text_of("#unreadable-table").contains("unknown kind"));

    // /data says which datasets leave what out.
    let data = app.get("/data").await.html();
    assert!(data.text_of("#dataset-queue_times .unreadable").contains("Left out: 1 latest version"));
    assert!(data.exists("#dataset-queue_times .unreadable a[href='/ledger/entries/6']"));
    assert!(!data.exists("#dataset-acceptance .unreadable"));

    // Every export, in every format, is whole; the unreadable amendment hides the version
    // it amends (the latest version of that record is unreadable), and nothing else.
    for dataset in CATALOG.iter() {
        for format in Format::ALL {
            let url = format!("/data/{}.{}", dataset.name, format.extension());
            let response = app.get(&url).await;
            assert_eq!(response.status, StatusCode::OK, "{url}: {}", response.text());
            match format {
                Format::Csv => {
                    let mut reader = csv::Reader::from_reader(response.body.as_slice());
                    let rows = reader.records().collect::<Result<Vec<_>, _>>().expect("whole CSV");
                    let expected = match dataset.name {
                        "queue_times" => 0,
                        "acceptance" | "prices" | "lockups" | "capacity" | "energy" => 1,
                        "entries" => 10,
                        _ => rows.len(),
                    };
                    assert_eq!(rows.len(), expected, "{url}");
                }
                Format::Ndjson => {
                    for line in response.text().lines() {
                        serde_json::from_str::<Value>(line).expect("whole NDJSON lines");
                    }
                }
                Format::Parquet => assert!(response.body.ends_with(b"PAR1"), "{url} is a whole Parquet file"),
            }
        }
    }
    let history = app.get("/data/queue_times.csv?include_superseded=true").await;
    let mut reader = csv::Reader::from_reader(history.body.as_slice());
    let versions: Vec<String> = reader.records().map(|r| r.expect("row")[0].to_owned()).collect();
    assert_eq!(versions, ["0"], "the readable version is in the history; the unreadable one is left out");

    // A snapshot writes every file, says what it left out, and verifies.
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("snapshot");
    crate::datasets::snapshot::write(&app.db.pool, &out, None).await.expect("snapshot");
    let package: Value =
        serde_json::from_slice(&std::fs::read(out.join("datapackage.json")).expect("package")).expect("json");
    let queue_resource = package["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["name"] == "queue_times")
        .expect("queue times")
        .clone();
    assert!(queue_resource["description"].as_str().expect("text").contains("Left out: 1 entry"), "{queue_resource}");
    let checks = crate::datasets::snapshot::verify(&app.db.pool, &out).await.expect("verify").checks;
    assert!(checks.iter().all(|c| c.problem.is_none()), "{checks:?}");

    // `verify` passes the ledger (every hash is right) and names the same entries.
    let mut conn = app.db.pool.acquire().await.expect("conn");
    let report = crate::ledger::verify::verify_database(&mut conn, &[ledger.verifier()]).await.expect("verify");
    assert!(report.ok(), "{report}");
    assert_eq!(report.unreadable.iter().map(|(i, _)| *i).collect::<Vec<_>>(), bad_indexes);
    assert!(report.to_string().contains("4 entries hold a record that does not decode"), "{report}");
}
