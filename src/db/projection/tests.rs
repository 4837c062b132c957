//! The database projection is the fold: after any appends (amendments, duplicates, entries
//! that no longer decode), its tables hold exactly what `projection::fold::Fold` computes
//! in memory from the same entries; a catch-up from nothing gives the same tables as the
//! appends did; and the work of a batch does not grow with the provider's history.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use chrono::{Months, NaiveDate};
use serde_json::{Value, json};
use sqlx::{PgPool, Row};

use super::*;
use crate::ledger::entry::PendingEntry;
use crate::projection::fold::Fold;
use crate::records::Slug;
use crate::testing::{TestApp, outcomes};

/// A queue-time record for the month starting `start`.
fn queue(start: NaiveDate, resource: &str, tier: &str, p50: u64) -> Value {
    let end = start + Months::new(1);
    json!({"kind": "queue_time", "period_start": start.to_string(), "period_end": end.to_string(),
        "resource": resource, "region": "eu-fi", "tier": tier, "jobs": 10, "p50_seconds": p50,
        "p90_seconds": p50 * 2, "p99_seconds": p50 * 3})
}

fn month(offset: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, 1).expect("date") + Months::new(offset)
}

/// An entry as ingest would write it (or, with any `supersedes`, as a raw append could).
fn pending(provider: &str, record: Value, supersedes: Option<u64>) -> PendingEntry {
    let parsed = Record::parse(record).expect("valid");
    PendingEntry {
        provider: Slug::parse(provider).expect("slug"),
        kind: parsed.kind().as_str().to_owned(),
        natural_key: parsed.natural_key(),
        record: parsed.to_json(),
        supersedes,
        signature: None,
    }
}

use crate::testing::raw_entry as raw;

async fn post(app: &TestApp, token: &str, records: &[Value]) -> Value {
    let body = Value::Array(records.to_vec()).to_string();
    let response = app.post("/api/v1/records", "application/json", body, Some(token), &[]).await;
    assert!(matches!(response.status, StatusCode::OK | StatusCode::CREATED), "{}", response.text());
    response.json()
}

/// The fold over every entry in the ledger, in memory (entries that break the rule left out).
async fn fold_of(pool: &PgPool) -> Fold {
    let mut conn = pool.acquire().await.expect("conn");
    let size = store::head(&mut conn).await.expect("head").size;
    let mut fold = Fold::default();
    for bytes in store::entry_bytes_range(&mut conn, 0, size).await.expect("entries") {
        fold.push(TypedEntry::decode(&bytes).expect("an entry")).expect("in order");
    }
    fold
}

/// Asserts that the tables hold what the fold computes: the same latest versions (index,
/// key, versions, unreadable reason), byte-identical bucket summaries, equal digests and counts.
async fn assert_equals_fold(pool: &PgPool) {
    let fold = fold_of(pool).await;
    let mut conn = pool.acquire().await.expect("conn");
    assert_eq!(head(&mut conn).await.expect("head"), fold.size(), "the projection has folded every entry");

    let stored: Vec<(u64, String, String, String, u64, Option<String>)> = sqlx::query(
        "SELECT idx, provider, kind, natural_key, versions, unreadable FROM projection_latest ORDER BY idx",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("latest")
    .iter()
    .map(|r| (to_u64(r.get(0)), r.get(1), r.get(2), r.get(3), to_u64(r.get(4)), r.get(5)))
    .collect();
    let expected: Vec<_> = fold
        .latest()
        .iter()
        .map(|v| {
            let reason = v.entry.record.as_ref().err().map(|u| u.reason.clone());
            (v.entry.index, v.entry.provider.clone(), v.entry.kind.clone(), v.key.clone(), v.versions, reason)
        })
        .collect();
    assert_eq!(stored, expected);

    let buckets: Vec<(String, String, NaiveDate, Vec<u8>)> =
        sqlx::query("SELECT provider, kind, month, summary FROM projection_buckets ORDER BY provider, kind, month")
            .fetch_all(&mut *conn)
            .await
            .expect("buckets")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
    let mut expected: Vec<_> = fold
        .buckets()
        .expect("buckets")
        .iter()
        .map(|(key, summary)| {
            (key.provider.clone(), key.kind.as_str().to_owned(), key.month, summary.to_bytes().expect("summary"))
        })
        .collect();
    expected.sort_by(|a, b| (&a.0, &a.1, a.2).cmp(&(&b.0, &b.1, b.2)));
    assert_eq!(buckets.len(), expected.len());
    for (stored, folded) in buckets.iter().zip(&expected) {
        assert_eq!(stored, folded, "bucket {}/{}/{}", folded.0, folded.1, folded.2);
    }

    let summaries = fold.summaries().expect("summaries");
    let mut counts: BTreeMap<String, ProviderCounts> = BTreeMap::new();
    for version in fold.latest() {
        let c = counts.entry(version.entry.provider.clone()).or_default();
        c.records += 1;
        c.amended += u64::from(version.versions > 1);
        c.unreadable += u64::from(version.entry.record.is_err());
    }
    let digests = digests_changed_since(&mut conn, None).await.expect("digests");
    assert_eq!(digests.iter().map(|d| d.0.clone()).collect::<Vec<_>>(), counts.keys().cloned().collect::<Vec<_>>());
    for (provider, _, digest, stored_counts) in &digests {
        let expected = summaries
            .get(provider)
            .map(ProviderSummary::digest)
            .unwrap_or_else(|| ProviderSummary::merge(provider, std::iter::empty()).digest());
        assert_eq!(digest, &expected, "digest of {provider}");
        assert_eq!(
            digest.to_bytes().expect("digest"),
            expected.to_bytes().expect("digest"),
            "digest of {provider}, stored form"
        );
        assert_eq!(stored_counts, &counts[provider], "counts of {provider}");
    }
}

/// Every table's content, changed_at aside (it depends on how entries were batched).
async fn tables(pool: &PgPool) -> Vec<String> {
    let mut out = Vec::new();
    for query in [
        "SELECT (l.*)::text FROM projection_latest l ORDER BY idx",
        "SELECT (b.*)::text FROM projection_buckets b ORDER BY provider, kind, month",
        "SELECT (b.*)::text FROM projection_buyers b ORDER BY provider, month, buyer",
        "SELECT (provider, records, amended, unreadable, digest)::text FROM projection_providers ORDER BY provider",
        "SELECT (h.*)::text FROM projection_head h",
    ] {
        let rows: Vec<String> = sqlx::query_scalar(query).fetch_all(pool).await.expect(query);
        out.extend(rows);
    }
    out
}

/// Two providers' filings through the API (creations, amendments, duplicates, an amendment
/// inside its own batch), entries that no longer decode appended past the parser (an
/// amendment, a new entry, an unknown kind), and a readable amendment of the unreadable one.
async fn filed_world() -> TestApp {
    let app = TestApp::new().await;
    let nordic = app.provider_token("nordic-hpc").await;
    let rhine = app.provider_token("rhine-ai").await;
    let examples = crate::records::kinds::examples();
    assert_eq!(outcomes(&post(&app, &nordic, &examples).await), ["created"; 6]);
    let mut queues = Vec::new();
    for m in 0..3 {
        for resource in ["a100", "h100"] {
            for tier in ["newcomer", "spot"] {
                queues.push(queue(month(m), resource, tier, 100 + u64::from(m)));
            }
        }
    }
    post(&app, &nordic, &queues).await;
    let mut changed = queues[..4].to_vec();
    for record in &mut changed {
        record["p50_seconds"] = json!(50);
    }
    changed.push(queues[5].clone());
    let mut capacity = examples[4].clone();
    capacity["total_accelerators"] = json!(8192);
    changed.push(capacity);
    let answer = post(&app, &nordic, &changed).await;
    assert_eq!(outcomes(&answer), ["amended", "amended", "amended", "amended", "duplicate", "amended"]);
    let rhine_records = vec![queue(month(1), "h100", "newcomer", 7), examples[2].clone(), examples[1].clone()];
    post(&app, &rhine, &rhine_records).await;
    // A record and its correction in one batch: the second amends the first.
    let mut corrected = queue(month(4), "h100", "spot", 30);
    let original = corrected.clone();
    corrected["p50_seconds"] = json!(31);
    assert_eq!(outcomes(&post(&app, &rhine, &[original, corrected]).await), ["created", "amended"]);

    let queue_example = Record::parse(examples[0].clone()).expect("valid");
    let mut out_of_domain = queue_example.to_json();
    out_of_domain["jobs"] = json!(9_007_199_254_740_991_u64);
    let bad = vec![
        raw("nordic-hpc", "queue_time", &queue_example.natural_key(), out_of_domain, Some(0)),
        raw("nordic-hpc", "capacity", "2026-12-01|x|y", json!({"as_of": "2026-12-01", "total": 5}), None),
        raw("rhine-ai", "energy", "2026-11|site-1", json!({"kwh": 12}), None),
        raw("rhine-ai", "energy", "2026-11|site-1", json!({"kwh": 13}), None),
    ];
    let appended = app.ledger().append(&app.db.pool, &bad).await.expect("the ledger takes any JSON");
    assert_eq!(appended.projection.conflicts, 0);
    // Filed again as it was first: it amends the unreadable version, the latest of its key.
    let answer = post(&app, &nordic, &examples[..1]).await;
    assert_eq!(outcomes(&answer), ["amended"]);
    assert_eq!(answer["records"][0]["supersedes"], json!(appended.entries[0].index));
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tables_equal_the_fold_after_amendments_duplicates_and_unreadable_entries() {
    let app = filed_world().await;
    assert_equals_fold(&app.db.pool).await;

    // The reads the pages use.
    let mut conn = app.db.pool.acquire().await.expect("conn");
    let size = app.tree_size().await;
    let (count, listed) = unreadable(&mut conn, None, 10).await.expect("unreadable");
    assert_eq!(count, 3);
    let kinds: Vec<&str> = listed.iter().map(|(_, _, kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["capacity", "energy", "energy"], "in entry order; the amended one was amended again");
    assert!(listed[0].3.contains("total_accelerators"), "{}", listed[0].3);
    assert_eq!(unreadable(&mut conn, Some("energy"), 1).await.expect("energy").0, 2);
    assert_eq!(unreadable(&mut conn, Some("energy"), 1).await.expect("energy").1.len(), 1);

    let everything = latest_records(&mut conn, &LatestQuery::default()).await.expect("all");
    let fold = fold_of(&app.db.pool).await;
    let readable: Vec<u64> = fold.latest().iter().filter(|v| v.entry.record.is_ok()).map(|v| v.entry.index).collect();
    assert_eq!(everything.iter().map(|(_, index, _)| *index).collect::<Vec<_>>(), readable);
    let filtered = LatestQuery {
        provider: Some("nordic-hpc".into()),
        kind: Some(RecordKind::QueueTime),
        resource: Some("h100".into()),
        region: Some("eu-fi".into()),
        from: Some(month(1)),
        to: Some(month(2)),
    };
    let found = latest_records(&mut conn, &filtered).await.expect("filtered");
    assert_eq!(found.len(), 4, "two months, two tiers");
    assert!(found.iter().all(|(provider, _, record)| provider == "nordic-hpc"
        && matches!(record, Record::QueueTime(q) if q.resource.as_str() == "h100" && q.period_start >= month(1))));
    let (resources, regions) = places(&mut conn).await.expect("places");
    assert_eq!(resources, ["a100", "h100", "nvidia-b200", "nvidia-h100-80gb"]);
    assert_eq!(regions, ["eu-de", "eu-fi", "us-east"]);

    let buckets = buckets_of(&mut conn, "nordic-hpc").await.expect("buckets");
    assert!(buckets.iter().any(|(kind, m, b)| *kind == RecordKind::QueueTime && *m == month(0) && b.records == 4));
    let all = digests_changed_since(&mut conn, None).await.expect("all");
    assert_eq!(all.len(), 2);
    let changed_at: BTreeMap<String, u64> = all.iter().map(|d| (d.0.clone(), d.1)).collect();
    assert_eq!(changed_at["nordic-hpc"], size, "the last batch was nordic-hpc's");
    let since = digests_changed_since(&mut conn, Some(changed_at["rhine-ai"])).await.expect("since");
    assert_eq!(since.iter().map(|d| d.0.as_str()).collect::<Vec<_>>(), ["nordic-hpc"]);
    assert!(digests_changed_since(&mut conn, Some(size)).await.expect("none").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catching_up_from_nothing_gives_the_tables_the_appends_kept() {
    let app = filed_world().await;
    let pool = &app.db.pool;
    let kept = tables(pool).await;
    let size = app.tree_size().await;
    assert_eq!(catch_up(pool).await.expect("current"), 0, "nothing to do when current");

    // A ledger from before the projection: empty tables, nothing folded (chunks small
    // enough that amendments and buckets span them).
    sqlx::query("TRUNCATE projection_latest, projection_buckets, projection_providers, projection_buyers")
        .execute(pool)
        .await
        .expect("empty");
    sqlx::query("UPDATE projection_head SET tree_size = 0").execute(pool).await.expect("head");
    assert_eq!(catch_up_in_chunks(pool, 7).await.expect("catch up"), size);
    assert_eq!(tables(pool).await, kept);

    // Other rules folded it (here: a damaged copy): everything is folded again.
    sqlx::query("DELETE FROM projection_buckets WHERE kind = 'queue_time'").execute(pool).await.expect("damage");
    sqlx::query("UPDATE projection_head SET version = $1").bind(PROJECTION_VERSION + 1).execute(pool).await.expect("v");
    assert_eq!(catch_up(pool).await.expect("rebuild"), size);
    assert_eq!(tables(pool).await, kept);
    assert_equals_fold(pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_to_a_projection_left_behind_folds_the_rest_first() {
    let app = filed_world().await;
    let pool = &app.db.pool;
    sqlx::query("UPDATE projection_head SET version = 0").execute(pool).await.expect("old rules");
    // Ingest reads the latest versions from the projection: it must be current first.
    let token = app.provider_token("nordic-hpc").await;
    let examples = crate::records::kinds::examples();
    assert_eq!(outcomes(&post(&app, &token, &examples[1..4]).await), ["duplicate"; 3]);
    let mut changed = examples[1].clone();
    changed["received"] = json!(121);
    assert_eq!(outcomes(&post(&app, &token, &[changed]).await), ["amended"]);
    sqlx::query("UPDATE projection_head SET version = 0").execute(pool).await.expect("old rules");
    app.ledger().append(pool, &crate::testing::sample_batch(0, 3)).await.expect("raw append");
    assert_equals_fold(pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_that_disagree_with_the_rule_are_left_out_and_counted_as_by_the_fold() {
    let app = TestApp::new().await;
    let ledger = app.ledger();
    let record = queue(month(0), "h100", "spot", 10);
    let mut other = record.clone();
    other["p50_seconds"] = json!(11);
    let first = ledger.append(&app.db.pool, &[pending("p", record.clone(), None)]).await.expect("append");
    assert_eq!(first.projection.conflicts, 0);
    // Filed as new although the key has a latest version; amending that entry (left out, so
    // not a latest version);
    // amending entry 0 with a record about something else.
    let batch = [
        pending("p", other.clone(), None),
        pending("p", other.clone(), Some(1)),
        pending("p", queue(month(1), "h100", "spot", 10), Some(0)),
    ];
    let appended = ledger.append(&app.db.pool, &batch).await.expect("the ledger takes them");
    assert_eq!(appended.projection.conflicts, 3);
    assert_eq!(appended.projection.rows_written, 0);
    let mut conn = app.db.pool.acquire().await.expect("conn");
    assert_eq!(head(&mut conn).await.expect("head"), 4);
    let latest = latest_records(&mut conn, &LatestQuery::default()).await.expect("latest");
    assert_eq!(latest.iter().map(|(_, index, _)| *index).collect::<Vec<_>>(), [0]);
    // The fold leaves out the same entries.
    assert_eq!(fold_of(&app.db.pool).await.left_out().len(), 3);
    assert_equals_fold(&app.db.pool).await;
}

/// `records` queue-time records per month for `months` months: `records / 5` resources × 5 tiers.
fn history(provider: &str, months: u32, records: usize) -> Vec<PendingEntry> {
    let tiers = ["on_demand", "spot", "reserved", "allocation", "newcomer"];
    (0..months)
        .flat_map(|m| {
            (0..records)
                .map(move |i| pending(provider, queue(month(m), &format!("r{}", i / 5), tiers[i % 5], 100), None))
        })
        .collect()
}

/// The CI test: a batch of k records into a provider with a long history touches
/// work bounded by the batch and the buckets it touches, the same as with a short history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batchs_work_does_not_grow_with_the_providers_history() {
    let app = TestApp::new().await;
    let ledger = app.ledger();
    let mut work = Vec::new();
    for (provider, months) in [("short", 4), ("long", 40)] {
        let appended = ledger.append(&app.db.pool, &history(provider, months, 50)).await.expect("history");
        let base = appended.entries[0].index;
        // Month 2: five records amended (their entries are 100..105 of the history), five new.
        let mut batch: Vec<PendingEntry> = (0..5)
            .map(|i| {
                let tier = ["on_demand", "spot", "reserved", "allocation", "newcomer"][i];
                pending(provider, queue(month(2), "r0", tier, 200), Some(base + 100 + i as u64))
            })
            .collect();
        batch.extend((0..5).map(|i| pending(provider, queue(month(2), &format!("new{i}"), "spot", 300), None)));
        work.push(ledger.append(&app.db.pool, &batch).await.expect("batch").projection);
    }
    assert_eq!(work[0], work[1], "the same batch, ten times the history");
    assert_eq!(
        work[0],
        Work {
            entries: 10,
            rows_written: 15,
            buckets_recomputed: 1,
            records_decoded: 45,
            providers_merged: 1,
            buyers_written: 0,
            conflicts: 0,
        },
        "5 superseded rows out, 10 in; the month's 45 other records decoded once"
    );
    assert_equals_fold(&app.db.pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_ledger_has_an_empty_projection() {
    let app = TestApp::new().await;
    let mut conn = app.db.pool.acquire().await.expect("conn");
    assert_eq!(head(&mut conn).await.expect("head"), 0);
    assert!(digests_changed_since(&mut conn, None).await.expect("digests").is_empty());
    assert_eq!(places(&mut conn).await.expect("places"), (vec![], vec![]));
    assert_eq!(unreadable(&mut conn, None, 10).await.expect("unreadable"), (0, vec![]));
    drop(conn);
    assert_eq!(catch_up(&app.db.pool).await.expect("catch up"), 0);
}

/// `count` lock-ups of `buyer` (spelt `spelling`) starting in the month `start`, distinct deals.
fn deals(provider: &str, start: NaiveDate, buyer: &str, count: u32) -> Vec<PendingEntry> {
    (0..count)
        .map(|i| {
            let day = start + chrono::Days::new(u64::from(i % 28));
            let deal = json!({"kind": "lockup", "counterparty": buyer, "resource": format!("r{i}"), "region": "eu-fi",
                "accelerators": 10 + i, "start_date": day.to_string(), "exclusivity": "priority",
                "disclosure_date": day.to_string()});
            pending(provider, deal, None)
        })
        .collect()
}

/// The market reads buyer totals, one row per provider, month and buyer, however many deals
/// they sum; they are what the market function computes from the deals themselves; and a
/// new deal rewrites its month's totals only, however long the history of deals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buyer_totals_are_a_row_per_month_and_buyer_and_a_deal_rewrites_one_month() {
    let app = TestApp::new().await;
    let ledger = app.ledger();
    let mut history = Vec::new();
    for m in 0..24 {
        history.extend(deals("p", month(m), "Mistral AI", 30));
        history.extend(deals("p", month(m), "MISTRAL AI SAS", 5));
        history.extend(deals("p", month(m), "Big Lab Inc.", 10));
    }
    ledger.append(&app.db.pool, &history).await.expect("history");
    let mut conn = app.db.pool.acquire().await.expect("conn");
    let totals = buyer_totals(&mut conn).await.expect("totals");
    assert_eq!(totals.len(), 24 * 2, "one row per month and buyer for {} deals", history.len());
    let lockups: Vec<crate::records::kinds::Lockup> = latest_records(&mut conn, &LatestQuery::default())
        .await
        .expect("latest")
        .into_iter()
        .filter_map(|(_, _, r)| match r {
            Record::Lockup(l) => Some(l),
            _ => None,
        })
        .collect();
    let mut from_deals = concentration::ProviderMarket::of_deals("p", vec![(month(0), 10_000)], &lockups);
    let mut stored =
        concentration::ProviderMarket { buyers: totals.into_iter().map(|(_, t)| t).collect(), ..from_deals.clone() };
    from_deals.buyers.sort_by(|a, b| (a.month, &a.key).cmp(&(b.month, &b.key)));
    stored.buyers.sort_by(|a, b| (a.month, &a.key).cmp(&(b.month, &b.key)));
    assert_eq!(stored.buyers, from_deals.buyers);
    let market = concentration::market(&[stored]);
    let mistral = market.buyer("mistral-ai").expect("one buyer for both spellings");
    assert_eq!((mistral.deals, mistral.name.as_str()), (24 * 35, "Mistral AI"));
    drop(conn);

    // One more deal in month 3: its month's two buyers rewritten, nothing else; the month's
    // other deals decoded once, not the history's.
    let mut record = deals("p", month(3), "Mistral AI", 1)[0].record.clone();
    record["resource"] = json!("brand-new");
    record["kind"] = json!("lockup");
    let fresh = [pending("p", record, None)];
    let work = ledger.append(&app.db.pool, &fresh).await.expect("one deal").projection;
    assert_eq!((work.buckets_recomputed, work.buyers_written, work.records_decoded), (1, 2, 45));
    assert_equals_fold(&app.db.pool).await;
}

/// The stored forms (digests, bucket summaries, bucket points) at [`PROJECTION_VERSION`].
/// Adding the `energy` kind made a digest's per-kind counts six long while upgraded sites
/// still held version 2's rows of five: every page answered 500 until the tables were
/// rebuilt. A change to these shapes must come with a version bump (which rebuilds them);
/// update the fingerprint here in the same change.
#[test]
fn a_change_to_the_stored_forms_comes_with_a_projection_version_bump() {
    use sha2::{Digest as _, Sha256};
    let shapes = [
        Digest::default().to_bytes().expect("digest"),
        BucketSummary::default().to_bytes().expect("summary"),
        BucketPoints::default().to_bytes(),
        serde_json::to_vec(&BuyerMonth::default()).expect("buyer totals"),
        format!("{:?}", RecordKind::OPTIONS).into_bytes(),
    ];
    let mut hasher = Sha256::new();
    for shape in &shapes {
        hasher.update((shape.len() as u64).to_be_bytes());
        hasher.update(shape);
    }
    let fingerprint = hex::encode(&hasher.finalize()[..8]);
    assert_eq!(
        (PROJECTION_VERSION, fingerprint.as_str()),
        (4, "3a24e78bfe300a82"),
        "the projection's stored forms changed: bump PROJECTION_VERSION and record the new fingerprint"
    );
}
