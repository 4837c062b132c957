//! Export benchmark: our streamed CSV export of a million-row dataset against
//! `psql \copy` of the same rows and columns, in the same run; Parquet of the
//! same rows; the server's peak memory while exporting (flat, whatever the size);
//! and a snapshot of the whole demo world.
//!
//! Run: `cargo bench --bench export` (GATELOG_BENCH_ROWS=1000000 by default). To check
//! that memory stays flat at 5M rows without the HTTP comparisons (whose in-process
//! server holds the page snapshot of every record):
//! `GATELOG_BENCH_ROWS=5000000 GATELOG_BENCH_HTTP=0 cargo bench --bench export`.
//! Needs the embedded cluster (psql and the binary use its socket): leave DATABASE_URL unset.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::BenchDatabase;
use gatelog::ledger::Ledger;
use gatelog::ledger::entry::PendingEntry;
use gatelog::ledger::note::NoteSigner;
use gatelog::records::Slug;
use serde_json::json;

const BATCH: u64 = 10_000;
const RUNS: usize = 3;

/// A valid queue-time record (as the ingest path stores it: no `kind` inside, a period that
/// ends after it starts); every one a distinct natural key (no amendments). An entry whose
/// record does not decode is left out of the exports, so an invalid one would be measured as
/// nothing.
fn record(i: u64) -> PendingEntry {
    let providers = ["nimbus-gpu", "rhine-ai-factory", "nordic-hpc", "lakeside-campus"];
    let month = 1 + (i / 4) % 12;
    let tier = ["on_demand", "spot", "reserved", "allocation", "newcomer"][(i % 5) as usize];
    let region = format!("eu-r{}", i / 48);
    PendingEntry {
        provider: Slug::parse(providers[(i % 4) as usize]).expect("slug"),
        kind: "queue_time".into(),
        natural_key: format!("2026-{month:02}-01|nvidia-h100-80gb|{region}|{tier}|{i}"),
        record: json!({
            "period_start": format!("2026-{month:02}-01"), "period_end": if month == 12 { "2027-01-01".to_owned() } else { format!("2026-{:02}-01", month + 1) },
            "resource": "nvidia-h100-80gb", "region": region, "tier": tier, "jobs": 1000 + i % 977,
            "p50_seconds": 60 + i % 600, "p90_seconds": 900 + i % 3600, "p99_seconds": 7200 + i % 7200,
        }),
        supersedes: None,
        signature: None,
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Peak resident memory of this process since the last reset, in MB.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// Resets the peak-memory mark (Linux: writing 5 to clear_refs).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn timed(mut command: Command) -> Duration {
    let started = Instant::now();
    let status = command.stdout(Stdio::null()).status().expect("run");
    assert!(status.success(), "{command:?} failed");
    started.elapsed()
}

fn main() {
    let rows: u64 = std::env::var("GATELOG_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let http = std::env::var("GATELOG_BENCH_HTTP").map_or(true, |v| v != "0");
    assert!(std::env::var("DATABASE_URL").is_err(), "run this benchmark on the embedded cluster (unset DATABASE_URL)");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");

    // 1. A snapshot of the whole demo world.
    let demo = BenchDatabase::create(&runtime, "export_demo");
    runtime.block_on(async {
        let ledger = Ledger::new(NoteSigner::generate("bench.gatelog.invalid/log").expect("key"));
        ledger.ensure_checkpoint(&demo.pool).await.expect("checkpoint");
        gatelog::demo::load(&demo.pool, &ledger, gatelog::demo::DEFAULT_SEED).await.expect("demo");
        let dir = tempfile::tempdir().expect("tempdir");
        let started = Instant::now();
        gatelog::datasets::snapshot::write(&demo.pool, &dir.path().join("snapshot"), None).await.expect("snapshot");
        let written = started.elapsed();
        let started = Instant::now();
        let checks =
            gatelog::datasets::snapshot::verify(&demo.pool, &dir.path().join("snapshot")).await.expect("verify").checks;
        assert!(checks.iter().all(|c| c.ok));
        println!("## snapshot of the demo world (12 datasets × 3 formats)");
        println!("| write (s) | verify (s) |\n|---:|---:|");
        println!("| {:.2} | {:.2} |\n", written.as_secs_f64(), started.elapsed().as_secs_f64());
    });
    demo.finish(&runtime);

    // 2. A million (or GATELOG_BENCH_ROWS) queue-time records.
    let database = BenchDatabase::create(&runtime, "export");
    let pool = database.pool.clone();
    let psql_args = database.psql_args();
    let (url, server) = runtime.block_on(async {
        let ledger = Ledger::new(NoteSigner::generate("bench.gatelog.invalid/log").expect("key"));
        ledger.ensure_checkpoint(&pool).await.expect("checkpoint");
        let started = Instant::now();
        let mut done = 0;
        while done < rows {
            let count = BATCH.min(rows - done);
            let batch: Vec<PendingEntry> = (done..done + count).map(record).collect();
            ledger.append(&pool, &batch).await.expect("append");
            done += count;
        }
        println!("## data: {rows} queue-time records appended in {:.0} s\n", started.elapsed().as_secs_f64());
        let app = gatelog::app(gatelog::AppState::new(pool.clone(), ledger), std::path::Path::new("static"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        // The first request computes the page snapshot; keep that out of the timings.
        // At a million records that takes longer than the request timeout: the computation goes on
        // in its own task, so ask again until it is there.
        if http {
            let warm =
                || Command::new("curl").args(["-sf", "-o", "/dev/null", &format!("{url}/data/grades.csv")]).status();
            let deadline = Instant::now() + Duration::from_secs(900);
            while !warm().expect("curl").success() {
                assert!(Instant::now() < deadline, "the page snapshot is still not computed");
                std::thread::sleep(Duration::from_secs(5));
            }
        }
        (url, server)
    });

    // Peak memory of an export on its own: the `gatelog export dataset` command streams through
    // the same source and encoder as the HTTP handler, in a process that does nothing else.
    let database_url = database.database_url().expect("embedded cluster");
    println!("\n## peak resident memory of `gatelog export dataset` ({rows} rows, GNU time's maximum RSS)");
    println!("| dataset and format | seconds | peak RSS (MB) |\n|---|---:|---:|");
    for (dataset, format) in [("queue_times", "csv"), ("entries", "csv"), ("queue_times", "parquet")] {
        let started = Instant::now();
        let output = Command::new("/usr/bin/time")
            .args(["-f", "%M", env!("CARGO_BIN_EXE_gatelog"), "export", "dataset", dataset, "--format", format])
            .args(["--out", "/dev/null"])
            .env("DATABASE_URL", &database_url)
            .env("GATELOG_LOG", "warn")
            .output()
            .expect("run /usr/bin/time (GNU time)");
        let elapsed = started.elapsed();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        let kb: f64 = stderr.lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or(f64::NAN);
        println!("| {dataset}.{format} | {:.2} | {:.0} |", elapsed.as_secs_f64(), kb / 1024.0);
    }

    if http {
        let psql = |sql: &str| {
            let mut command = Command::new("psql");
            command
                .args(["-X", "-q"])
                .args(&psql_args)
                .args(["-c", &format!("\\copy ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)")]);
            command
        };
        let curl = |path: &str, out: &str| {
            let mut command = Command::new("curl");
            command.args(["-sf", "-o", out, &format!("{url}{path}")]);
            command
        };
        // The same rows and columns as /data/queue_times.csv: latest versions, fields out of the JSON.
        let same_rows = "SELECT e.idx AS entry_index, e.provider, e.received_at, e.supersedes, NULL::bigint AS superseded_by, \
            r->>'period_start' AS period_start, r->>'period_end' AS period_end, r->>'resource' AS resource, r->>'region' AS region, \
            r->>'tier' AS tier, r->>'jobs' AS jobs, r->>'p50_seconds' AS p50_seconds, r->>'p90_seconds' AS p90_seconds, \
            r->>'p99_seconds' AS p99_seconds, r->>'mean_seconds' AS mean_seconds, r->>'max_seconds' AS max_seconds \
            FROM (SELECT *, convert_from(entry, 'UTF8')::jsonb -> 'record' AS r FROM ledger_entries WHERE kind = 'queue_time') e \
            WHERE NOT EXISTS (SELECT 1 FROM ledger_entries n WHERE n.supersedes = e.idx) ORDER BY e.idx";
        let raw_entries = "SELECT idx, provider, kind, received_at, supersedes, encode(leaf_hash, 'hex'), convert_from(entry, 'UTF8') \
            FROM ledger_entries ORDER BY idx";

        let mut results = Vec::new();
        for (label, ours, theirs) in [
            ("queue_times.csv (fields out of each entry's JSON)", "/data/queue_times.csv", same_rows),
            ("entries.csv (the entries as stored)", "/data/entries.csv", raw_entries),
        ] {
            let (mut us, mut them) = (Vec::new(), Vec::new());
            reset_peak_rss();
            let before = peak_rss_mb();
            for _ in 0..RUNS {
                us.push(timed(curl(ours, "/dev/null")));
                them.push(timed(psql(theirs)));
            }
            let peak = peak_rss_mb();
            let (us, them) = (median(us), median(them));
            results.push((label, us, them, before, peak));
        }
        println!(
            "## CSV export of {rows} rows: ours over HTTP (curl) against psql \\copy of the same rows, medians of {RUNS}"
        );
        println!(
            "| dataset | ours (s) | psql \\copy (s) | ours ÷ psql throughput | rows/s | bench process RSS before → peak (MB) |"
        );
        println!("|---|---:|---:|---:|---:|---:|");
        for (label, us, them, before, peak) in &results {
            println!(
                "| {label} | {:.2} | {:.2} | {:.2} | {:.0} | {before:.0} → {peak:.0} |",
                us.as_secs_f64(),
                them.as_secs_f64(),
                them.as_secs_f64() / us.as_secs_f64(),
                rows as f64 / us.as_secs_f64(),
            );
        }

        let file = tempfile::NamedTempFile::new().expect("temp file");
        let path = file.path().to_str().expect("path").to_owned();
        reset_peak_rss();
        let parquet = median((0..RUNS).map(|_| timed(curl("/data/queue_times.parquet", &path))).collect());
        let peak = peak_rss_mb();
        use polars::prelude::SerReader;
        let frame =
            polars::prelude::ParquetReader::new(std::fs::File::open(&path).expect("open")).finish().expect("read");
        assert_eq!(frame.height() as u64, rows);
        println!("\n## Parquet export of {rows} rows (zstd, row groups of 65,536), median of {RUNS}");
        println!("| seconds | size (MB) | bench process peak RSS (MB) | read back |\n|---:|---:|---:|---|");
        println!(
            "| {:.2} | {:.1} | {peak:.0} | {} rows, period_start {:?} |",
            parquet.as_secs_f64(),
            std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6,
            frame.height(),
            frame.column("period_start").expect("column").dtype()
        );
    }
    server.abort();
    database.finish(&runtime);
}
