//! Load test on loopback: the demo world served by the real router over TCP, closed-loop
//! clients sending a mix of 80% page views, 15% exports and 5% ingest batches for a fixed
//! time. Reports throughput, p50/p99 latency per class, status counts (no 5xx other than
//! load-shedding 503s may appear) and the process's memory.
//!
//! Run: `cargo bench --bench load` (GATELOG_LOAD_SECONDS=120 and GATELOG_LOAD_CLIENTS=16 by
//! default; GATELOG_LOAD_LIMIT sets the server's concurrency limit).
//!
//! Hostile readers (issue 15): `GATELOG_LOAD_STALLED=50 cargo bench --bench load` adds fifty
//! clients that each ask for the largest export (`/data/entries.ndjson`) and never read a byte,
//! for the whole run; the bench then fails unless page views and ingest batches keep a p99
//! under one second.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::BenchDatabase;
use gatelog::ledger::Ledger;
use gatelog::ledger::note::NoteSigner;

const PAGES: [&str; 8] = [
    "/",
    "/providers",
    "/providers/corvid-gpu",
    "/providers/rhine-ai-factory",
    "/metrics/queue-times?region=eu-de",
    "/lockups",
    "/compare?a=corvid-gpu&b=nordic-hpc",
    "/ledger",
];
const EXPORTS: [&str; 4] = [
    "/data/lockups.csv",
    "/data/prices.csv?provider=stratus-compute",
    "/data/grades.parquet",
    "/data/capacity.ndjson?region=eu-fi",
];

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> f64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    field("VmRSS:")
}

/// A client that asks for the largest export and never reads a byte (a small receive window, so
/// the server's buffers fill at once). It hangs up and asks again every 50 s, before the server's
/// 60 s stall limit would drop it, so that the stall lasts the whole run.
async fn stalled_reader(address: std::net::SocketAddr, stop: Arc<AtomicBool>) {
    use tokio::io::AsyncWriteExt;
    while !stop.load(Ordering::Relaxed) {
        let Ok(socket) = tokio::net::TcpSocket::new_v4() else { return };
        let _ = socket.set_recv_buffer_size(4096);
        if let Ok(mut stream) = socket.connect(address).await {
            let _ = stream.write_all(b"GET /data/entries.ndjson HTTP/1.1\r\nHost: bench\r\n\r\n").await;
            let until = Instant::now() + Duration::from_secs(50);
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0
}

fn main() {
    let seconds: u64 = std::env::var("GATELOG_LOAD_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(120);
    let clients: usize = std::env::var("GATELOG_LOAD_CLIENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(16);
    let limit: usize = std::env::var("GATELOG_LOAD_LIMIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(gatelog::DEFAULT_MAX_CONCURRENT);
    let stalled: usize = std::env::var("GATELOG_LOAD_STALLED").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let database = BenchDatabase::create(&runtime, "load");
    let pool = database.pool.clone();
    let (url, token, exports) = runtime.block_on(async {
        let ledger = Ledger::new(NoteSigner::generate("bench.gatelog.invalid/log").expect("key"));
        ledger.ensure_checkpoint(&pool).await.expect("checkpoint");
        gatelog::demo::load(&pool, &ledger, gatelog::demo::DEFAULT_SEED).await.expect("demo");
        let mut conn = pool.acquire().await.expect("conn");
        let issued = gatelog::tokens::issue().expect("token");
        let slug = gatelog::records::Slug::parse("nordic-hpc").expect("slug");
        gatelog::db::tokens::insert(&mut conn, &slug, &issued, "load").await.expect("token");
        let state = gatelog::AppState::with_ingest_rate(
            pool.clone(),
            ledger,
            gatelog::api::auth::IngestRate {
                per_second: std::num::NonZeroU32::new(100_000).expect("rate"),
                burst: std::num::NonZeroU32::new(100_000).expect("burst"),
            },
        )
        .with_max_concurrent(limit);
        let exports = state.exports.clone();
        let app = gatelog::app(state, std::path::Path::new("static"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let listener = gatelog::net::NoDelayListener(listener);
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        (url, issued.token, exports)
    });
    // The address, for probing the server by hand while the load runs.
    eprintln!("load: serving on {url}");
    let baseline = rss_mb();
    let stop = Arc::new(AtomicBool::new(false));
    let export_slots = exports.available();
    if stalled > 0 {
        let address: std::net::SocketAddr = url.trim_start_matches("http://").parse().expect("address");
        for _ in 0..stalled {
            runtime.spawn(stalled_reader(address, stop.clone()));
        }
        // Let them take every export slot they can before the load starts.
        std::thread::sleep(Duration::from_secs(2));
    }
    let mut slots_held: Vec<usize> = Vec::new();
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|worker| {
            let (url, token, stop) = (url.clone(), token.clone(), stop.clone());
            std::thread::spawn(move || {
                let config = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(30)))
                    .build();
                let agent = ureq::Agent::new_with_config(config);
                let mut seen: Vec<(&'static str, &'static str, Duration, u16)> = Vec::new();
                let mut i: u64 = worker as u64 * 7919;
                let mut batch = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i = i.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let roll = (i >> 33) % 100;
                    let began = Instant::now();
                    let (class, path, status) = if roll < 80 {
                        let page = PAGES[((i >> 20) % PAGES.len() as u64) as usize];
                        ("page", page, agent.get(&format!("{url}{page}")).call().map(|mut r| {
                            let _ = r.body_mut().read_to_vec();
                            r.status().as_u16()
                        }))
                    } else if roll < 95 {
                        let export = EXPORTS[((i >> 20) % EXPORTS.len() as u64) as usize];
                        ("export", export, agent.get(&format!("{url}{export}")).call().map(|mut r| {
                            let _ = r.body_mut().with_config().limit(1 << 30).read_to_vec();
                            r.status().as_u16()
                        }))
                    } else {
                        batch += 1;
                        // Filings inside the demo's reporting window, for one resource and region: the
                        // first time a date is filed it is new, later filings of it are amendments. (Each
                        // record in a new region, or dated beyond the window, would make every checkpoint
                        // regrade every provider: not what providers do.)
                        let records: Vec<serde_json::Value> = (0..20u64)
                            .map(|k| {
                                let day = (worker as u64 * 131 + batch * 20 + k) % 600;
                                let as_of = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("date") + chrono::Days::new(day);
                                serde_json::json!({"kind": "capacity", "as_of": as_of.to_string(), "resource": "nvidia-h100-80gb",
                                    "region": "eu-fi", "total_accelerators": 64 + batch % 7, "newcomer_set_aside": 4})
                            })
                            .collect();
                        let body = serde_json::to_vec(&records).expect("json");
                        ("ingest", "POST /api/v1/records", agent
                            .post(&format!("{url}/api/v1/records"))
                            .header("Authorization", format!("Bearer {token}"))
                            .header("Content-Type", "application/json")
                            .send(&body[..])
                            .map(|mut r| {
                                let _ = r.body_mut().read_to_vec();
                                r.status().as_u16()
                            }))
                    };
                    seen.push((class, path, began.elapsed(), status.unwrap_or(0)));
                }
                seen
            })
        })
        .collect();
    let mut peak = baseline;
    while started.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_millis(500));
        peak = peak.max(rss_mb());
        slots_held.push(export_slots - exports.available());
    }
    stop.store(true, Ordering::Relaxed);
    let mut by_class: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut by_path: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    for worker in workers {
        for (class, path, took, status) in worker.join().expect("worker") {
            by_class.entry(class).or_default().push(took);
            by_path.entry(path).or_default().push(took);
            *statuses.entry(status).or_default() += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total: usize = by_class.values().map(Vec::len).sum();
    println!(
        "## load: {clients} closed-loop clients for {seconds} s, concurrency limit {limit}, demo world, \
         {stalled} stalled readers"
    );
    println!("| class | requests | requests/s | p50 (ms) | p99 (ms) |\n|---|---:|---:|---:|---:|");
    for (class, times) in &mut by_class {
        times.sort();
        println!(
            "| {class} | {} | {:.0} | {:.1} | {:.1} |",
            times.len(),
            times.len() as f64 / elapsed,
            pct(times, 0.5),
            pct(times, 0.99)
        );
    }
    println!("| all | {total} | {:.0} | | |", total as f64 / elapsed);
    println!("\n| path | requests | p50 (ms) | p99 (ms) | max (ms) |\n|---|---:|---:|---:|---:|");
    for (path, times) in &mut by_path {
        times.sort();
        println!(
            "| `{path}` | {} | {:.1} | {:.1} | {:.1} |",
            times.len(),
            pct(times, 0.5),
            pct(times, 0.99),
            pct(times, 1.0)
        );
    }
    println!("\nstatus counts: {statuses:?} (0 = connection error)");
    slots_held.sort_unstable();
    println!(
        "export slots in use (of {export_slots}), sampled every 0.5 s: median {}, min {}",
        slots_held.get(slots_held.len() / 2).copied().unwrap_or(0),
        slots_held.first().copied().unwrap_or(0)
    );
    println!("process RSS (server and clients): {baseline:.0} MB after loading, peak {peak:.0} MB during the run");
    let server_errors: u64 = statuses.iter().filter(|(s, _)| **s >= 500 && **s != 503).map(|(_, n)| n).sum();
    assert_eq!(server_errors, 0, "5xx under load");
    assert_eq!(statuses.get(&0).copied().unwrap_or(0), 0, "connection errors under load");
    if stalled > 0 {
        for class in ["page", "ingest"] {
            let p99 = by_class.get(class).map_or(0.0, |times| pct(times, 0.99));
            assert!(p99 < 1000.0, "{class} p99 {p99:.0} ms with {stalled} stalled readers");
        }
    }
    database.finish(&runtime);
}
