//! The push API client and the bulk import against a real Gatelog site: batches the
//! server finds too large are split, and an import interrupted by a refused batch
//! resumes without writing its rejects twice.

mod support;

use gatelog::api::records::MAX_BODY_BYTES;
use gatelog::records::RecordKind;
use gatelog_collect::client::{Client, ClientError};
use gatelog_collect::import::{self, ImportError};
use support::{Answer, FeedServer, Site, capacity_csv};

/// A lock-up with the longest notes the server takes, so that few records fill a body.
fn long_lockup(i: usize) -> serde_json::Value {
    serde_json::json!({
        "kind": "lockup", "counterparty": format!("Lab {i}"), "resource": "nvidia-b200", "region": "us-east",
        "accelerators": 16, "start_date": "2026-01-01", "end_date": "2027-01-01", "exclusivity": "exclusive",
        "notes": "n".repeat(2_000), "disclosure_date": "2026-02-15"
    })
}

#[test]
fn a_batch_over_the_servers_byte_limit_is_split_and_every_record_lands_once() {
    let site = Site::start();
    let token = site.token("frontier-cloud");
    let per_record = serde_json::to_vec(&long_lockup(0)).expect("json").len();
    let count = MAX_BODY_BYTES / per_record + 200;
    let records: Vec<serde_json::Value> = (0..count).map(long_lockup).collect();
    let bytes = serde_json::to_vec(&records).expect("json").len();
    assert!(count <= gatelog_collect::client::MAX_BATCH && bytes > MAX_BODY_BYTES, "{count} records, {bytes} bytes");

    let posted = Client::new(&site.url, &token).post(&records).expect("split and sent");
    assert_eq!(posted.parts.len(), 2, "one 413, then two halves under the limit");
    assert_eq!(posted.parts[1].0, count / 2, "the second half starts where the first ends");
    assert_eq!(posted.summary().created, count);
    assert_eq!(site.entries(), count as i64);
    assert_eq!(posted.tree_size(), count as u64);
}

#[test]
fn a_single_record_refused_as_too_large_is_an_error_not_an_endless_split() {
    // A push API (or a proxy in front of it) that refuses every body as too large.
    let refusing = FeedServer::start(vec![Answer::status(413)]);
    let mut client = Client::new(refusing.url.trim_end_matches("/feed"), "gl_test");
    client.attempts = 1;
    let records: Vec<serde_json::Value> = (0..8).map(long_lockup).collect();
    match client.post(&records) {
        Err(ClientError::RecordTooLarge { index: 0, .. }) => {}
        other => panic!("expected record 0 to be too large, got {other:?}"),
    }
    assert_eq!(refusing.served(), 4, "8, 4, 2, then 1 record: halved down to one and no further");
}

/// Data lines of a rejects file, by their CSV line number.
fn rejected_lines(text: &str) -> Vec<String> {
    text.lines().skip(1).map(|l| l.split(',').next().unwrap_or("").to_owned()).collect()
}

#[test]
fn a_resumed_import_writes_each_rejected_row_once() {
    let site = Site::start();
    let token = site.token("nordic-hpc");
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("capacity.csv");
    std::fs::write(&file, capacity_csv(1_000, &[5, 300, 310])).expect("csv");
    let rejects = dir.path().join("capacity.csv.rejected.csv");
    let mut client = Client::new(&site.url, &token);
    client.attempts = 1;

    // The first batch goes in; the second (rows 251-500, two of them bad) is refused.
    site.pushes_left.store(1, std::sync::atomic::Ordering::SeqCst);
    match import::run(&client, &file, RecordKind::Capacity, 250, false) {
        Err(ImportError::Batch { .. }) => {}
        other => panic!("expected the second batch to fail, got {other:?}"),
    }
    let before = std::fs::read_to_string(&rejects).expect("rejects");
    assert_eq!(rejected_lines(&before), ["7", "302", "312"], "written as the rows were read");

    site.pushes_left.store(usize::MAX, std::sync::atomic::Ordering::SeqCst);
    let summary = import::run(&client, &file, RecordKind::Capacity, 250, false).expect("resumed");
    assert_eq!((summary.created, summary.rejected), (997, 3), "{summary:?}");
    assert_eq!(site.entries(), 997);
    let after = std::fs::read_to_string(&rejects).expect("rejects");
    assert_eq!(after.lines().next(), Some("line,field,reason"));
    assert_eq!(rejected_lines(&after), ["7", "302", "312"], "each rejected row once:\n{after}");

    // A new import of the same file (a later run: new idempotency keys) starts its rejects afresh.
    let again = import::run(&Client::new(&site.url, &token), &file, RecordKind::Capacity, 250, false).expect("again");
    assert_eq!((again.duplicate, again.rejected), (997, 3));
    let again = std::fs::read_to_string(&rejects).expect("rejects");
    assert_eq!(rejected_lines(&again), ["7", "302", "312"], "{again}");
}
