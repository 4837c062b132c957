//! Ledger benchmark: append throughput through the real PostgreSQL path,
//! inclusion-proof latency at size, and `verify` speed.
//!
//! Run: `cargo bench --bench ledger` (1,000,000 entries; set GATELOG_BENCH_ENTRIES
//! for another size). Uses the embedded cluster in a temporary directory, or a
//! fresh database on the server in DATABASE_URL. Prints medians and a table for
//! docs/PERFORMANCE.md.

use std::time::{Duration, Instant};

mod common;

use axum::body::Body;
use axum::http::Request;
use common::BenchDatabase;
use gatelog::ledger::entry::PendingEntry;
use gatelog::ledger::note::NoteSigner;
use gatelog::ledger::{Ledger, log, verify};
use gatelog::records::Slug;
use serde_json::json;
use tower::ServiceExt;

const BATCH: usize = 1_000;
const PROOF_SAMPLES: usize = 2_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// A queue-time-like record of realistic size (~330 bytes of entry).
fn record(i: u64) -> PendingEntry {
    let providers = ["nimbus-gpu", "rhine-ai-factory", "nordic-hpc", "lakeside-campus"];
    let provider = Slug::parse(providers[(i % 4) as usize]).expect("slug");
    let month = 1 + (i / 4) % 12;
    let tier = ["on_demand", "spot", "reserved", "allocation", "newcomer"][(i % 5) as usize];
    PendingEntry {
        provider,
        kind: "queue_time".into(),
        natural_key: format!("2026-{month:02}-01|nvidia-h100-80gb|eu-de|{i}"),
        // A record that decodes under today's rules, as `verify` now decodes each one.
        record: json!({
            "period_start": format!("2026-{month:02}-01"),
            "period_end": format!("2026-{month:02}-28"),
            "resource": "nvidia-h100-80gb",
            "region": "eu-de",
            "tier": tier,
            "jobs": 1000 + i % 977,
            "p50_seconds": 60 + i % 600,
            "p90_seconds": 900 + i % 3600,
            "p99_seconds": 7200 + i % 7200,
            "mean_seconds": i % 10_000,
        }),
        supersedes: None,
        signature: None,
    }
}

fn main() {
    let total: u64 = std::env::var("GATELOG_BENCH_ENTRIES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");

    let database = BenchDatabase::create(&runtime, "ledger");
    let pool = database.pool.clone();

    runtime.block_on(async {
        let ledger = Ledger::new(NoteSigner::generate("bench.gatelog.invalid/log").expect("key"));
        ledger.ensure_checkpoint(&pool).await.expect("checkpoint");

        println!("## append: {total} entries in batches of {BATCH}");
        println!("| entries | window rate (entries/s) | cumulative rate (entries/s) | median batch (ms) |");
        println!("|---:|---:|---:|---:|");
        let marks = [10_000u64, 100_000, 1_000_000, total];
        let started = Instant::now();
        let mut window_start = (Instant::now(), 0u64);
        let mut batch_times = Vec::new();
        let mut appended = 0u64;
        while appended < total {
            let count = BATCH.min((total - appended) as usize) as u64;
            let batch: Vec<PendingEntry> = (appended..appended + count).map(record).collect();
            let t = Instant::now();
            ledger.append(&pool, &batch).await.expect("append");
            batch_times.push(t.elapsed());
            appended += count;
            if marks.contains(&appended) {
                let window = appended - window_start.1;
                let window_rate = window as f64 / window_start.0.elapsed().as_secs_f64();
                let cumulative = appended as f64 / started.elapsed().as_secs_f64();
                batch_times.sort();
                let median = percentile(&batch_times, 0.5);
                println!("| {appended} | {window_rate:.0} | {cumulative:.0} | {:.1} |", median.as_secs_f64() * 1000.0);
                batch_times.clear();
                window_start = (Instant::now(), appended);
            }
        }

        // Inclusion proofs for random entries: the database part, then the whole handler.
        let mut conn = pool.acquire().await.expect("conn");
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % total
        };
        let mut proof_times = Vec::with_capacity(PROOF_SAMPLES);
        for _ in 0..PROOF_SAMPLES {
            let index = next();
            let t = Instant::now();
            log::inclusion_proof(&mut conn, index, total).await.expect("proof");
            proof_times.push(t.elapsed());
        }
        proof_times.sort();
        let app = gatelog::app(gatelog::AppState::new(pool.clone(), ledger.clone()), std::path::Path::new("static"));
        let mut handler_times = Vec::with_capacity(PROOF_SAMPLES);
        for _ in 0..PROOF_SAMPLES {
            let request =
                Request::get(format!("/api/v1/ledger/entries/{}", next())).body(Body::empty()).expect("request");
            let t = Instant::now();
            let response = app.clone().oneshot(request).await.expect("response");
            let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
            handler_times.push(t.elapsed());
        }
        handler_times.sort();
        println!();
        println!("## inclusion proof at {total} entries ({PROOF_SAMPLES} random entries)");
        println!("| measured | p50 (ms) | p99 (ms) |");
        println!("|---|---:|---:|");
        for (label, times) in [
            ("proof from stored hashes (one query)", &proof_times),
            ("GET /api/v1/ledger/entries/{i} through the router", &handler_times),
        ] {
            println!(
                "| {label} | {:.3} | {:.3} |",
                percentile(times, 0.5).as_secs_f64() * 1000.0,
                percentile(times, 0.99).as_secs_f64() * 1000.0
            );
        }

        let t = Instant::now();
        let report = verify::verify_database(&mut conn, &[ledger.verifier()]).await.expect("verify");
        let elapsed = t.elapsed();
        assert!(report.ok(), "{report}");
        println!();
        println!("## verify");
        println!("| entries | seconds | entries/s |");
        println!("|---:|---:|---:|");
        println!(
            "| {} | {:.1} | {:.0} |",
            report.entries,
            elapsed.as_secs_f64(),
            report.entries as f64 / elapsed.as_secs_f64()
        );
        drop(conn);
    });
    database.finish(&runtime);
}
