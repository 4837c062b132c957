//! Ingest benchmark, end to end over HTTP on loopback: the real router, the real
//! PostgreSQL path, receipts included.
//!
//! Run: `cargo bench --bench ingest`. Measures
//! 1. one 10,000-record NDJSON batch (parse, validate, dedup, append, checkpoint,
//!    receipts), median of 5;
//! 2. sustained throughput with 8 concurrent clients posting 1,000-record batches;
//! 3. `gatelog demo load` (the whole synthetic world through the ingest path).
//!
//! Uses the embedded cluster in a temporary directory, or a fresh database on the
//! server in DATABASE_URL.

mod common;

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use common::BenchDatabase;
use gatelog::api::auth::IngestRate;
use gatelog::db;
use gatelog::ledger::Ledger;
use gatelog::ledger::note::NoteSigner;
use gatelog::providers::{NewProvider, ProviderKind};
use gatelog::records::Slug;
use serde_json::json;

const CLIENTS: usize = 8;
const SUSTAINED_RECORDS_PER_CLIENT: usize = 25_000;
const BATCH: usize = 1_000;

/// The `i`-th distinct queue-time record of a client (a one-day period per `i`, so
/// every natural key is new and nothing is a duplicate). Records may name dates from 1970
/// to 2099 only: past 30,000 days the resource changes instead.
fn record(client: usize, i: usize) -> String {
    let start = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("date") + chrono::Days::new((i % 30_000) as u64);
    let end = start + chrono::Days::new(1);
    json!({"kind": "queue_time", "period_start": start.to_string(), "period_end": end.to_string(),
        "resource": format!("gpu-{client}-{}", i / 30_000), "region": "eu-de", "tier": "on_demand", "jobs": 100 + i,
        "p50_seconds": 60, "p90_seconds": 600, "p99_seconds": 3600})
    .to_string()
}

fn ndjson(client: usize, range: std::ops::Range<usize>) -> String {
    range.map(|i| record(client, i) + "\n").collect()
}

fn post(url: &str, token: &str, body: String) -> Duration {
    let started = Instant::now();
    let mut response = ureq::post(url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/x-ndjson")
        .send(body)
        .expect("post");
    let text = response.body_mut().with_config().limit(256 * 1024 * 1024).read_to_string().expect("body");
    assert!(response.status().as_u16() == 201, "{}: {}", response.status(), &text[..text.len().min(500)]);
    started.elapsed()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let database = BenchDatabase::create(&runtime, "ingest");
    let pool = database.pool.clone();

    let (base, tokens, pool, ledger) = runtime.block_on(async {
        let ledger = Ledger::new(NoteSigner::generate("bench.gatelog.invalid/log").expect("key"));
        ledger.ensure_checkpoint(&pool).await.expect("checkpoint");
        let mut tokens = Vec::new();
        let mut conn = pool.acquire().await.expect("conn");
        for client in 0..CLIENTS {
            let slug = Slug::parse(&format!("bench-provider-{client}")).expect("slug");
            let provider = NewProvider {
                slug: slug.clone(),
                display_name: slug.to_string(),
                kind: ProviderKind::Neocloud,
                country: None,
                website: None,
            };
            db::providers::insert_if_missing(&mut conn, &provider).await.expect("provider");
            let issued = gatelog::tokens::issue().expect("token");
            db::tokens::insert(&mut conn, &slug, &issued, "bench").await.expect("token");
            tokens.push(issued.token);
        }
        drop(conn);
        // No rate limit in the way of the measurement.
        let unlimited = IngestRate {
            per_second: NonZeroU32::new(100_000).expect("nz"),
            burst: NonZeroU32::new(100_000).expect("nz"),
        };
        let state = gatelog::AppState::with_ingest_rate(pool.clone(), ledger.clone(), unlimited);
        let app = gatelog::app(state, std::path::Path::new("static"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}/api/v1/records", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (base, tokens, pool, ledger)
    });

    // 1. One 10,000-record NDJSON batch, five times (fresh records each time).
    let mut single = Vec::new();
    for run in 0..5 {
        let body = ndjson(0, run * 10_000..(run + 1) * 10_000);
        single.push(post(&base, &tokens[0], body));
    }
    single.sort();
    println!("## one 10,000-record NDJSON batch, end to end over HTTP (5 runs)");
    println!("| min (s) | median (s) | max (s) |");
    println!("|---:|---:|---:|");
    println!("| {:.2} | {:.2} | {:.2} |", single[0].as_secs_f64(), single[2].as_secs_f64(), single[4].as_secs_f64());

    // 2. Eight clients, each posting 1,000-record batches.
    let started = Instant::now();
    let handles: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (base, token) = (base.clone(), tokens[client].clone());
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                for batch in 0..SUSTAINED_RECORDS_PER_CLIENT / BATCH {
                    let offset = 100_000 + batch * BATCH;
                    latencies.push(post(&base, &token, ndjson(client + 1, offset..offset + BATCH)));
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = handles.into_iter().flat_map(|h| h.join().expect("client")).collect();
    let elapsed = started.elapsed();
    latencies.sort();
    let total = CLIENTS * SUSTAINED_RECORDS_PER_CLIENT;
    println!();
    println!("## {CLIENTS} concurrent clients, {BATCH}-record NDJSON batches, {total} records");
    println!("| records/s | batch p50 (ms) | batch p99 (ms) |");
    println!("|---:|---:|---:|");
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0;
    println!("| {:.0} | {:.0} | {:.0} |", total as f64 / elapsed.as_secs_f64(), pct(0.5), pct(0.99));

    // 3. The demo world through the ingest path, into the same (already busy) ledger.
    let demo = runtime.block_on(async {
        let started = Instant::now();
        let summary = gatelog::demo::load(&pool, &ledger, gatelog::demo::DEFAULT_SEED).await.expect("demo");
        (summary, started.elapsed())
    });
    println!();
    println!("## demo load ({} records, {} entries appended)", demo.0.records, demo.0.appended);
    println!("| seconds |");
    println!("|---:|");
    println!("| {:.1} |", demo.1.as_secs_f64());

    database.finish(&runtime);
}
