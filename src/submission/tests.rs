//! Duplicates are exact: a record is a duplicate of the latest entry for its natural
//! key if and only if it is the same record, over the whole domain of every field.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use chrono::Utc;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Value, json};

use crate::ledger::entry::{Entry, PendingEntry};
use crate::records::{Record, Slug, arbitrary};
use crate::testing::{TestApp, outcomes};

fn pending(record: &Record) -> PendingEntry {
    PendingEntry {
        provider: Slug::parse("nordic-hpc").expect("slug"),
        kind: record.kind().as_str().to_owned(),
        natural_key: record.natural_key(),
        record: record.to_json(),
        supersedes: None,
        signature: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The duplicate check compares a new record with the stored entry decoded again:
    /// for that to be exact, every valid record must come back from its entry bytes as
    /// the very same record (and the same JSON), whatever its values.
    #[test]
    fn every_valid_record_comes_back_from_the_ledger_unchanged(value in arbitrary::record(), index in 0u64..(1 << 40)) {
        let record = Record::parse(value.clone()).map_err(|e| TestCaseError::fail(format!("{value}: {e:?}")))?;
        let bytes = Entry::new(&pending(&record), index, Utc::now()).to_new_bytes().expect("a valid record fits");
        let entry = Entry::from_canonical_bytes(&bytes).expect("reads back");
        let back = Record::from_entry(record.kind().as_str(), entry.record).expect("decodes");
        prop_assert_eq!(back.to_json(), record.to_json());
        prop_assert_eq!(back, record);
    }
}

/// Distinct-keyed valid records drawn from the whole domain (a fixed seed: the same
/// records every run, so a failure can be replayed).
fn sample_records(count: usize) -> Vec<Value> {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut keys = BTreeSet::new();
    let mut out = Vec::new();
    while out.len() < count {
        let value = arbitrary::record().new_tree(&mut runner).expect("value").current();
        let record = Record::parse(value.clone()).expect("the generator makes valid records");
        if keys.insert((record.kind(), record.natural_key())) {
            out.push(value);
        }
    }
    out
}

/// Issue 15: `"jobs": 9007199254740993` was stored as ...992, and every resend was an
/// "amendment". Now the value is refused; and every valid record, posted twice through
/// the real API and database, is created once and then a duplicate.
#[tokio::test]
async fn any_valid_record_posted_twice_is_created_then_a_duplicate() {
    let app = TestApp::new().await;
    let token = app.provider_token("nordic-hpc").await;
    let records = sample_records(150);
    let body = Value::Array(records.clone()).to_string();
    let first = app.post("/api/v1/records", "application/json", body.clone(), Some(&token), &[]).await;
    first.assert_status(StatusCode::CREATED);
    assert!(outcomes(&first.json()).iter().all(|o| o == "created"), "{}", first.text());
    let size = app.tree_size().await;
    let again = app.post("/api/v1/records", "application/json", body, Some(&token), &[]).await;
    again.assert_status(StatusCode::OK);
    assert!(outcomes(&again.json()).iter().all(|o| o == "duplicate"), "{}", again.text());
    assert_eq!(app.tree_size().await, size, "a resend appends nothing");
    // One at a time too (a record alone in its batch), at the extremes.
    for value in records.iter().take(10) {
        let single = app.post("/api/v1/records", "application/json", value.to_string(), Some(&token), &[]).await;
        assert_eq!(outcomes(&single.json()), ["duplicate"], "{value}");
    }

    let mut unsafe_jobs = crate::records::kinds::examples()[0].clone();
    unsafe_jobs["jobs"] = json!(9_007_199_254_740_993_u64);
    let refused = app.post("/api/v1/records", "application/json", unsafe_jobs.to_string(), Some(&token), &[]).await;
    refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let detail = &refused.json()["error"]["details"][0];
    assert_eq!((detail["index"].as_u64(), detail["field"].as_str()), (Some(0), Some("jobs")), "{}", refused.text());
    assert_eq!(app.tree_size().await, size);
}

/// A record that differs in any one field from the latest is an amendment, never a duplicate.
#[tokio::test]
async fn a_record_differing_in_one_field_is_an_amendment() {
    let app = TestApp::new().await;
    let token = app.provider_token("nordic-hpc").await;
    let base = crate::records::kinds::examples()[0].clone();
    app.post("/api/v1/records", "application/json", base.to_string(), Some(&token), &[])
        .await
        .assert_status(StatusCode::CREATED);
    let mut changed = base.clone();
    changed["jobs"] = json!(crate::records::domain::JOBS.max);
    let response = app.post("/api/v1/records", "application/json", changed.to_string(), Some(&token), &[]).await;
    assert_eq!(outcomes(&response.json()), ["amended"]);
    let mut back = changed.clone();
    back["jobs"] = json!(crate::records::domain::JOBS.max - 1);
    let response = app.post("/api/v1/records", "application/json", back.to_string(), Some(&token), &[]).await;
    assert_eq!(outcomes(&response.json()), ["amended"], "a difference of one at the top of the range counts");
}
