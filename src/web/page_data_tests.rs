//! The pages' state at a checkpoint, read from the projection: shared by web processes,
//! never rebuilt, never a 404 for a registered provider, and keyed by everything shown.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::json;

use super::current;
use crate::testing::TestApp;

#[tokio::test]
async fn the_snapshot_is_reused_until_the_ledger_or_the_registry_changes() {
    let app = TestApp::new().await;
    let first = current(&app.state).await.expect("snapshot");
    let again = current(&app.state).await.expect("snapshot");
    assert!(Arc::ptr_eq(&first, &again), "same checkpoint, same snapshot");
    app.provider_token("new-provider").await;
    let after_registration = current(&app.state).await.expect("snapshot");
    assert!(!Arc::ptr_eq(&first, &after_registration));
    assert_eq!(after_registration.providers.len(), 1);
    app.ledger().append(&app.db.pool, &crate::testing::sample_batch(0, 3)).await.expect("append");
    let after_append = current(&app.state).await.expect("snapshot");
    assert_eq!(after_append.tree_size, 3);
}

/// Two web processes on one database (two states, each with its own cache) show the same
/// figures for the same checkpoint, byte for byte, and a restarted one needs no warm-up.
#[tokio::test]
async fn two_web_processes_on_one_database_show_the_same_pages() {
    let app = TestApp::with_demo().await;
    let other_state = crate::AppState::new(app.db.pool.clone(), app.ledger());
    let other = crate::app(other_state, &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static"));
    let get = |router: axum::Router, uri: &'static str| async move {
        use tower::ServiceExt;
        let request = axum::http::Request::get(uri).body(axum::body::Body::empty()).expect("request");
        let response = router.oneshot(request).await.expect("response");
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body")
    };
    let token = app.provider_token("corvid-gpu").await;
    for pass in 0..2_u64 {
        let wait = 999_999 + pass;
        let amended = json!({"kind": "queue_time", "period_start": "2024-11-01", "period_end": "2024-12-01",
            "resource": "nvidia-h100-80gb", "region": "us-central", "tier": "newcomer", "jobs": 5,
            "p50_seconds": wait, "p90_seconds": wait, "p99_seconds": wait});
        for uri in ["/", "/providers", "/providers/corvid-gpu", "/metrics/queue-times?region=us-central", "/compare"] {
            let mine = get(app.router.clone(), uri).await;
            let theirs = get(other.clone(), uri).await;
            assert!(mine == theirs, "{uri} differs between the two processes (pass {pass})");
        }
        // An amendment through one process shows on both.
        app.post("/api/v1/records", "application/json", format!("[{amended}]"), Some(&token), &[])
            .await
            .assert_status(StatusCode::CREATED);
    }
    let page = app.get("/providers/corvid-gpu").await.text();
    assert!(page.contains(&format!("checkpoint {}", app.tree_size().await)), "the page names the new checkpoint");
}

/// A registered provider that has filed nothing yet has a scorecard (graded F: disclosure is
/// the duty graded), never a 404 while figures are being computed.
#[tokio::test]
async fn a_registered_provider_with_no_filings_has_a_scorecard() {
    let app = TestApp::with_demo().await;
    app.provider_token("brand-new-cloud").await;
    let page = app.get("/providers/brand-new-cloud").await;
    page.assert_status(StatusCode::OK);
    assert!(page.text().contains("brand-new-cloud"));
    app.get("/providers/brand-new-cloud/charts/queue-times.svg").await.assert_status(StatusCode::NOT_FOUND);
    app.get("/providers/no-such-provider").await.assert_status(StatusCode::NOT_FOUND);
}

/// The ETag covers what the page shows: a provider key registered changes the scorecard's
/// key list, so it changes the ETag (a 304 would show the old list).
#[tokio::test]
async fn the_etag_changes_when_a_provider_key_is_added() {
    let app = TestApp::with_demo().await;
    let before = app.get("/providers/corvid-gpu").await;
    let etag = before.header("etag").to_owned();
    assert!(!etag.is_empty());
    let signer = crate::records::signature::RecordSigner::new(
        &crate::ledger::note::NoteSigner::generate("corvid-gpu").expect("key"),
    )
    .expect("signer");
    let slug = crate::records::Slug::parse("corvid-gpu").expect("slug");
    let key =
        crate::records::signature::ProviderKey::for_provider(&signer.public_key().to_string(), &slug).expect("key");
    let mut conn = app.db.pool.acquire().await.expect("conn");
    crate::db::provider_keys::add(&mut conn, &slug, &key).await.expect("add key");
    drop(conn);
    let request = axum::http::Request::get("/providers/corvid-gpu")
        .header("if-none-match", &etag)
        .body(axum::body::Body::empty())
        .expect("request");
    let after = app.send(request).await;
    after.assert_status(StatusCode::OK);
    assert_ne!(after.header("etag"), etag);
}

/// The figures after an append equal those of a state loaded from nothing (a restart).
#[tokio::test]
async fn incremental_loads_match_a_fresh_load() {
    let app = TestApp::with_demo().await;
    let before = current(&app.state).await.expect("snapshot");
    let token = app.provider_token("corvid-gpu").await;
    let amended = json!({"kind": "queue_time", "period_start": "2024-11-01", "period_end": "2024-12-01",
        "resource": "nvidia-h100-80gb", "region": "us-central", "tier": "newcomer", "jobs": 5,
        "p50_seconds": 999999, "p90_seconds": 999999, "p99_seconds": 999999});
    app.post("/api/v1/records", "application/json", format!("[{amended}]"), Some(&token), &[])
        .await
        .assert_status(StatusCode::CREATED);
    let incremental = current(&app.state).await.expect("snapshot");
    assert_eq!(incremental.tree_size, before.tree_size + 1);
    app.state.snapshots.clear();
    let fresh = current(&app.state).await.expect("snapshot");
    assert_eq!(incremental.window, fresh.window);
    assert_eq!(incremental.headline, fresh.headline);
    for provider in &fresh.providers {
        let slug = provider.slug.as_str();
        assert_eq!(incremental.grade(slug), fresh.grade(slug), "{slug}");
        assert_eq!(incremental.amendments(slug), fresh.amendments(slug), "{slug}");
        assert_eq!(incremental.digest(slug), fresh.digest(slug), "{slug}");
    }
    assert!(incremental.amendments("corvid-gpu") > before.amendments("corvid-gpu"));
    assert_ne!(incremental.grade("corvid-gpu"), before.grade("corvid-gpu"), "the amendment moved the grade");
}

/// While a new checkpoint's state is being loaded, a view waits at most its budget and then
/// gets the previous checkpoint's; once loaded, views get the new one.
#[tokio::test]
async fn a_view_does_not_wait_past_its_budget_for_new_figures() {
    let app = TestApp::with_demo().await;
    let budget = std::time::Duration::from_millis(100);
    let state = app.state.clone().with_fresh_wait(budget);
    let before = current(&state).await.expect("first snapshot: waited for, whatever the budget");
    app.ledger().append(&app.db.pool, &crate::testing::sample_batch(0, 3)).await.expect("append");
    // A long load is under way (we hold its lock, so none can start or finish).
    let loading = state.snapshots.loading.clone().lock_owned().await;
    let started = std::time::Instant::now();
    let served = current(&state).await.expect("snapshot");
    let waited = started.elapsed();
    assert!(Arc::ptr_eq(&served, &before), "the previous checkpoint's figures");
    assert!(waited >= budget && waited < budget * 10, "waited {waited:?} for a budget of {budget:?}");
    drop(loading);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let now = current(&state).await.expect("snapshot");
        if now.tree_size == before.tree_size + 3 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the new figures were never loaded");
    }
}

/// A repeated view of one checkpoint is a lookup: the rendered page is kept with the
/// snapshot, and a new checkpoint starts with none.
#[tokio::test]
async fn rendered_pages_are_kept_per_checkpoint() {
    let app = TestApp::with_demo().await;
    let first = app.get("/providers/corvid-gpu").await;
    first.assert_status(StatusCode::OK);
    let snapshot = current(&app.state).await.expect("snapshot");
    let kept = snapshot.memo.get::<crate::web::KeptPage>("page:/providers/corvid-gpu").expect("kept");
    assert_eq!(kept.identity.as_ref(), first.body.as_slice());
    let again = app.get("/providers/corvid-gpu").await;
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("etag"), first.header("etag"));
    app.ledger().append(&app.db.pool, &crate::testing::sample_batch(0, 1)).await.expect("append");
    let after = app.get("/providers/corvid-gpu").await;
    assert_ne!(after.header("etag"), first.header("etag"));
    let fresh = current(&app.state).await.expect("snapshot");
    assert!(!Arc::ptr_eq(&fresh, &snapshot));
}

/// A new checkpoint reads what its entries concern: the digest and acceptance buckets of
/// the one provider that filed, the providers named by the new entries (one), and the
/// unreadable listing only while a provider counts one (its total comes from the counts).
#[tokio::test]
async fn a_new_checkpoint_reads_only_what_its_entries_concern() {
    let app = TestApp::with_demo().await;
    let token = app.provider_token("corvid-gpu").await;
    let first = current(&app.state).await.expect("snapshot");
    assert!(first.work.digests > 1, "the first load reads every digest");
    let record = json!({"kind": "capacity", "as_of": "2026-11-02", "resource": "nvidia-h100-80gb",
        "region": "us-central", "total_accelerators": 640, "newcomer_set_aside": 40});
    app.post("/api/v1/records", "application/json", format!("[{record}]"), Some(&token), &[])
        .await
        .assert_status(StatusCode::CREATED);
    let after = current(&app.state).await.expect("snapshot");
    let corvid_months = first.parts["corvid-gpu"].acceptance.len() as u64;
    assert_eq!(
        after.work,
        super::LoadWork {
            digests: 1,
            acceptance_buckets: corvid_months,
            appended_providers: 1,
            unreadable_listed: false
        }
    );
    assert!(corvid_months < first.work.acceptance_buckets, "one provider's buckets, not everyone's");

    // An entry that no longer decodes: listed (through its index), counted from the counts.
    let marker = crate::testing::raw_entry("corvid-gpu", "bench_marker", "m-1", json!({"round": 1}), None);
    app.ledger().append(&app.db.pool, &[marker]).await.expect("append");
    let with_marker = current(&app.state).await.expect("snapshot");
    assert!(with_marker.work.unreadable_listed);
    assert_eq!(with_marker.unreadable.0, 1);
    assert_eq!(with_marker.unreadable.1.len(), 1);
    // Another provider files: the listing is carried over, not read again.
    let token = app.provider_token("nordic-hpc").await;
    let record = json!({"kind": "capacity", "as_of": "2026-11-03", "resource": "nvidia-h100-80gb",
        "region": "eu-north", "total_accelerators": 64, "newcomer_set_aside": 4});
    app.post("/api/v1/records", "application/json", format!("[{record}]"), Some(&token), &[])
        .await
        .assert_status(StatusCode::CREATED);
    let later = current(&app.state).await.expect("snapshot");
    assert!(!later.work.unreadable_listed);
    assert_eq!(later.unreadable, with_marker.unreadable);
    app.state.snapshots.clear();
    let fresh = current(&app.state).await.expect("snapshot");
    assert_eq!(fresh.unreadable, later.unreadable, "what a load from nothing lists and counts");
}
