//! Collector benchmarks: sacct to percentile records on a generated 10M-line file
//! against DuckDB's `quantile_cont` over the same file in the same run (the figures
//! are compared, not only the times); and a 1M-row bulk import into a real site.
//!
//! Run: `cargo bench -p gatelog-collect --bench collect` (needs `pip install duckdb`;
//! GATELOG_BENCH_SACCT_ROWS and GATELOG_BENCH_IMPORT_ROWS change the sizes).

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Runs a command under GNU time; returns (wall time, peak RSS MB, stdout).
fn measured(program: &str, args: &[&str]) -> (Duration, f64, String) {
    let started = Instant::now();
    let out = Command::new("/usr/bin/time").arg("-f").arg("%M").arg(program).args(args).output().expect("run");
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{program} {args:?}: {stderr}");
    let kb: f64 = stderr.lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or(f64::NAN);
    (elapsed, kb / 1024.0, String::from_utf8_lossy(&out.stdout).into_owned())
}

const DUCKDB: &str = r#"
import duckdb, json, sys
con = duckdb.connect()
con.execute("SET threads TO 2")
rows = con.execute(f"""
  WITH jobs AS (
    SELECT Partition AS partition, TRY_CAST(Start AS TIMESTAMP) AS s, TRY_CAST(Eligible AS TIMESTAMP) AS e, JobID
    FROM read_csv('{sys.argv[1]}', delim='|', header=true, all_varchar=true))
  SELECT partition, date_trunc('month', s) AS month, count(*) AS jobs,
         quantile_cont(epoch(s) - epoch(e), [0.5, 0.9, 0.99]) AS q
  FROM jobs
  WHERE JobID NOT LIKE '%.%' AND (JobID NOT LIKE '%+%' OR JobID LIKE '%+0')
    AND s IS NOT NULL AND e IS NOT NULL AND s >= e AND partition IN ('gpu', 'gpu-large', 'debug')
  GROUP BY ALL ORDER BY ALL""").fetchall()
print(json.dumps([[r[0], str(r[1])[:10], r[2], [round(x) for x in r[3]]] for r in rows]))
"#;

const MAP: &str = "[partitions.gpu]\nresource = \"nvidia-h100-80gb\"\nregion = \"eu-fi\"\ntier = \"allocation\"\n\
[partitions.gpu-large]\nresource = \"nvidia-h100-80gb\"\nregion = \"eu-fi\"\ntier = \"reserved\"\n\
[partitions.debug]\nresource = \"nvidia-h100-80gb\"\nregion = \"eu-fi\"\ntier = \"on_demand\"\n";

fn main() {
    let collect = env!("CARGO_BIN_EXE_gatelog-collect");
    let sacct_rows: u64 =
        std::env::var("GATELOG_BENCH_SACCT_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let import_rows: usize =
        std::env::var("GATELOG_BENCH_IMPORT_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::Builder::new().prefix("gl-collect-bench-").tempdir_in("/tmp").expect("dir");
    let file = dir.path().join("sacct.txt");
    let map = dir.path().join("partitions.toml");
    std::fs::write(&map, MAP).expect("map");
    let started = Instant::now();
    let (_, _, _) =
        measured(collect, &["gen-sacct", "--rows", &sacct_rows.to_string(), "--out", file.to_str().expect("path")]);
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    println!(
        "## sacct: {sacct_rows} lines, {:.2} GB, generated in {:.0} s\n",
        size as f64 / 1e9,
        started.elapsed().as_secs_f64()
    );

    let (mut ours, mut theirs, mut our_rss, mut their_rss) = (Vec::new(), Vec::new(), 0.0f64, 0.0f64);
    let (mut our_out, mut their_out) = (String::new(), String::new());
    for _ in 0..3 {
        let (t, rss, out) = measured(
            collect,
            &["sacct", file.to_str().expect("path"), "--partitions", map.to_str().expect("path"), "--dry-run"],
        );
        ours.push(t);
        our_rss = our_rss.max(rss);
        our_out = out;
        let (t, rss, out) = measured("python3", &["-c", DUCKDB, file.to_str().expect("path")]);
        theirs.push(t);
        their_rss = their_rss.max(rss);
        their_out = out;
    }
    // Same figures: jobs and p50/p90/p99 per partition and month.
    let records: Vec<serde_json::Value> = our_out.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let duck: Vec<serde_json::Value> = serde_json::from_str(their_out.trim()).expect("duckdb json");
    let tier_of = |partition: &str| match partition {
        "gpu" => "allocation",
        "gpu-large" => "reserved",
        _ => "on_demand",
    };
    let mut mismatches = 0;
    for row in &duck {
        let (partition, month, jobs) = (row[0].as_str().unwrap_or(""), row[1].as_str().unwrap_or(""), row[2].as_u64());
        let ours = records.iter().find(|r| r["tier"] == tier_of(partition) && r["period_start"] == month);
        let agree = ours.is_some_and(|r| {
            r["jobs"].as_u64() == jobs
                && [("p50_seconds", 0), ("p90_seconds", 1), ("p99_seconds", 2)]
                    .iter()
                    .all(|(f, i)| r[*f].as_i64().zip(row[3][*i].as_i64()).is_some_and(|(a, b)| (a - b).abs() <= 1))
        });
        if !agree {
            mismatches += 1;
            eprintln!("differs: {row} vs {ours:?}");
        }
    }
    let (ours, theirs) = (median(ours), median(theirs));
    println!("| tool | seconds (median of 3) | peak RSS (MB) | groups |\n|---|---:|---:|---:|");
    println!("| gatelog-collect sacct --dry-run | {:.2} | {our_rss:.0} | {} |", ours.as_secs_f64(), records.len());
    println!("| DuckDB quantile_cont (2 threads) | {:.2} | {their_rss:.0} | {} |", theirs.as_secs_f64(), duck.len());
    println!(
        "\nours ÷ DuckDB time: {:.2}; figures that differ by more than 1 s: {mismatches}\n",
        ours.as_secs_f64() / theirs.as_secs_f64()
    );

    // Bulk import into a real site.
    let site = support::Site::start();
    let token = site.token("nordic-hpc");
    let csv = dir.path().join("capacity.csv");
    let mut text = String::from("as_of,resource,region,total_accelerators,newcomer_set_aside\n");
    for i in 0..import_rows {
        let day = chrono::NaiveDate::from_ymd_opt(1990, 1, 1).expect("date") + chrono::Days::new((i / 100) as u64);
        text.push_str(&format!("{day},nvidia-h100-80gb,eu-r{},{},{}\n", i % 100, 100 + i % 50, i % 7));
    }
    std::fs::write(&csv, text).expect("csv");
    let (t, rss, _) = measured(
        collect,
        &[
            "import",
            csv.to_str().expect("path"),
            "--kind",
            "capacity",
            "--batch",
            "10000",
            "--url",
            &site.url,
            "--token",
            &token,
        ],
    );
    assert_eq!(site.entries(), import_rows as i64);
    println!("## bulk import: {import_rows} CSV rows into a real site (in-process server, embedded cluster)");
    println!("| seconds | rows/s | collector peak RSS (MB) |\n|---:|---:|---:|");
    println!("| {:.1} | {:.0} | {rss:.0} |", t.as_secs_f64(), import_rows as f64 / t.as_secs_f64());
}
