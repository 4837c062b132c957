//! Page benchmark: the public site over a demo world scaled to ~100 providers ×
//! 5 years. Server time through the real router, cold for a checkpoint (the first
//! view after the ledger grew) and from the per-checkpoint cache, throughput over
//! HTTP on loopback, and page sizes.
//!
//! Run: `cargo bench --bench pages` (GATELOG_BENCH_COPIES=8 copies of the 12 demo
//! providers, 60 months; set another number for a smaller or larger world).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use common::BenchDatabase;
use gatelog::ledger::Ledger;
use gatelog::ledger::entry::PendingEntry;
use gatelog::ledger::note::NoteSigner;
use gatelog::records::{Record, Slug};
use tower::ServiceExt;

const MONTHS: u32 = 60;
const COLD_ROUNDS: usize = 15;
const WARM_REQUESTS: usize = 400;
const PAGES: [&str; 6] = [
    "/",
    "/providers",
    "/providers/corvid-gpu",
    "/providers/corvid-gpu/charts/queue-times.svg",
    "/metrics/queue-times",
    "/metrics/prices?from=2025-01-01",
];

fn pct(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0
}

async fn get(app: &axum::Router, path: &str) -> (Duration, usize) {
    let started = Instant::now();
    let response =
        app.clone().oneshot(Request::get(path).body(Body::empty()).expect("request")).await.expect("response");
    assert!(response.status().is_success(), "{path}: {}", response.status());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    (started.elapsed(), bytes.len())
}

fn main() {
    let copies: usize = std::env::var("GATELOG_BENCH_COPIES").ok().and_then(|v| v.parse().ok()).unwrap_or(8);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let database = BenchDatabase::create(&runtime, "pages");
    let pool = database.pool.clone();
    runtime.block_on(async {
        let ledger = Ledger::new(NoteSigner::generate("bench.gatelog.invalid/log").expect("key"));
        ledger.ensure_checkpoint(&pool).await.expect("checkpoint");
        let mut conn = pool.acquire().await.expect("conn");
        let providers = gatelog::demo::providers_scaled(copies);
        for p in &providers {
            gatelog::db::providers::insert_if_missing(&mut conn, p).await.expect("provider");
        }
        drop(conn);
        // One submission per provider (all its months), through the real ingest path.
        let started = Instant::now();
        let mut by_provider: BTreeMap<String, Vec<Record>> = BTreeMap::new();
        for batch in gatelog::demo::world_scaled(gatelog::demo::DEFAULT_SEED, copies, MONTHS) {
            let records = by_provider.entry(batch.provider.to_string()).or_default();
            records.extend(batch.records.into_iter().map(|v| Record::parse(v).expect("valid demo record")));
        }
        let mut total = 0;
        for (slug, records) in &by_provider {
            for chunk in records.chunks(5_000) {
                gatelog::submission::submit(&pool, &ledger, &Slug::parse(slug).expect("slug"), chunk, false)
                    .await
                    .expect("submit");
                total += chunk.len();
            }
        }
        println!(
            "## world: {} providers × {MONTHS} months = {total} records, loaded in {:.1} s",
            providers.len(),
            started.elapsed().as_secs_f64()
        );

        let app = gatelog::app(gatelog::AppState::new(pool.clone(), ledger.clone()), std::path::Path::new("static"));
        let mut cold: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
        for round in 0..COLD_ROUNDS {
            for page in PAGES {
                // A new entry makes a new checkpoint: the next view recomputes the snapshot.
                let marker = PendingEntry {
                    provider: Slug::parse("stratus-compute").expect("slug"),
                    kind: "bench_marker".into(),
                    natural_key: format!("{round}-{page}"),
                    record: serde_json::json!({"round": round}),
                    supersedes: None,
                    signature: None,
                };
                ledger.append(&pool, &[marker]).await.expect("append");
                cold.entry(page).or_default().push(get(&app, page).await.0);
            }
        }
        let mut warm: BTreeMap<&str, (Vec<Duration>, usize)> = BTreeMap::new();
        for page in PAGES {
            for _ in 0..WARM_REQUESTS {
                let (took, size) = get(&app, page).await;
                let slot = warm.entry(page).or_default();
                slot.0.push(took);
                slot.1 = size;
            }
        }
        println!();
        println!("## server time through the router ({COLD_ROUNDS} cold views per page, {WARM_REQUESTS} cached)");
        println!("| page | cold p50 (ms) | cold p99 (ms) | cached p50 (ms) | cached p99 (ms) | size (KB) |");
        println!("|---|---:|---:|---:|---:|---:|");
        for page in PAGES {
            let c = cold.get_mut(page).expect("cold");
            c.sort();
            let (w, size) = warm.get_mut(page).expect("warm");
            w.sort();
            println!(
                "| {page} | {:.1} | {:.1} | {:.2} | {:.2} | {:.0} |",
                pct(c, 0.5),
                pct(c, 0.99),
                pct(w, 0.5),
                pct(w, 0.99),
                *size as f64 / 1024.0
            );
        }

        // Throughput from the cache over HTTP on loopback: 8 client threads, 8 seconds.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let deadline = Instant::now() + Duration::from_secs(8);
        let clients: Vec<_> = (0..8)
            .map(|i| {
                let url = format!("{base}{}", PAGES[i % 2 + 1]);
                std::thread::spawn(move || {
                    let agent = ureq::Agent::new_with_defaults();
                    let mut done = 0u64;
                    while Instant::now() < deadline {
                        let mut response = agent.get(&url).call().expect("get");
                        let _ = response.body_mut().read_to_vec().expect("body");
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        let requests: u64 =
            tokio::task::spawn_blocking(move || clients.into_iter().map(|c| c.join().expect("client")).sum())
                .await
                .expect("join");
        println!();
        println!("## throughput from the cache, 8 clients on loopback for 8 s (/providers and a scorecard)");
        println!("| requests/s |");
        println!("|---:|");
        println!("| {:.0} |", requests as f64 / 8.0);
    });
    database.finish(&runtime);
}
