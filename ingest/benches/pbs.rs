//! The PBS collector on 10 million job records: a year of generated day files (E
//! records of ~550 bytes with every odd form: arrays, reruns, deletions, repeated
//! ends), read by the release binary under GNU time (wall time and peak RSS); the
//! job count of every record is checked against the generator's own tally.
//!
//! Run: `cargo bench -p gatelog-collect --bench pbs` (GATELOG_BENCH_PBS_RECORDS
//! changes the size).

use std::collections::BTreeMap;
use std::time::Instant;

use gatelog_collect::pbs::generate::{Options, write_days};

mod measure;
use measure::measured;

const MAP: &str = "[queues.workq]\nresource = \"nvidia-h100-80gb\"\nregion = \"eu-fi\"\ntier = \"allocation\"\n\
[queues.gpu_large]\nresource = \"nvidia-h100-80gb\"\nregion = \"eu-fi\"\ntier = \"reserved\"\n\
[queues.debug]\nresource = \"nvidia-h100-80gb\"\nregion = \"eu-fi\"\ntier = \"on_demand\"\n";

fn main() {
    let collect = env!("CARGO_BIN_EXE_gatelog-collect");
    let records: u64 =
        std::env::var("GATELOG_BENCH_PBS_RECORDS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let dir = tempfile::Builder::new().prefix("gl-pbs-bench-").tempdir_in("/tmp").expect("dir");
    let logs = dir.path().join("accounting");
    std::fs::create_dir(&logs).expect("dir");
    let map = dir.path().join("queues.toml");
    std::fs::write(&map, MAP).expect("map");

    let started = Instant::now();
    let options = Options {
        end_records: records,
        first: 1_735_689_600, // 2025-01-01
        last: 1_767_225_600,  // 2026-01-01
        seed: 1,
        gzip: false,
        queued_and_started: false,
    };
    // Jobs per (tier, month) as the generator made them.
    let mut expected: BTreeMap<(String, String), u64> = BTreeMap::new();
    let written = write_days(&logs, &options, |job| {
        let tier = match job.queue {
            "workq" => "allocation",
            "gpu_large" => "reserved",
            "debug" => "on_demand",
            _ => return,
        };
        let date = chrono::DateTime::from_timestamp(job.start, 0).expect("time").format("%Y-%m-01").to_string();
        *expected.entry((tier.to_owned(), date)).or_default() += 1;
    })
    .expect("generate");
    let size: u64 = written.files.iter().map(|f| std::fs::metadata(f).map_or(0, |m| m.len())).sum();
    println!(
        "## pbs: {} E/R records ({} lines) in {} day files, {:.2} GB, generated in {:.0} s\n",
        written.end_records,
        written.lines,
        written.files.len(),
        size as f64 / 1e9,
        started.elapsed().as_secs_f64()
    );

    let mut args: Vec<String> = vec!["pbs".into()];
    args.extend(written.files.iter().map(|f| f.to_string_lossy().into_owned()));
    args.extend(["--queues".into(), map.to_string_lossy().into_owned(), "--dry-run".into()]);
    let (mut times, mut rss, mut out, mut report) = (Vec::new(), 0.0f64, String::new(), String::new());
    for _ in 0..3 {
        let (t, peak, stdout, stderr) = measured(collect, &args);
        times.push(t);
        rss = rss.max(peak);
        (out, report) = (stdout, stderr);
    }
    times.sort();
    let median = times[1];
    let produced: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let got: BTreeMap<(String, String), u64> = produced
        .iter()
        .map(|r| {
            let key =
                (r["tier"].as_str().unwrap_or("").to_owned(), r["period_start"].as_str().unwrap_or("").to_owned());
            (key, r["jobs"].as_u64().unwrap_or(0))
        })
        .collect();
    let jobs: u64 = expected.values().sum();
    assert_eq!(got, expected, "every group's job count is the generator's");
    println!("| command | seconds (median of 3) | peak RSS (MB) | jobs counted | groups |\n|---|---:|---:|---:|---:|");
    println!(
        "| gatelog-collect pbs DAYFILES --queues MAP --dry-run | {:.2} | {rss:.0} | {jobs} | {} |",
        median.as_secs_f64(),
        produced.len()
    );
    println!("\nruns: {}", times.iter().map(|t| format!("{:.2} s", t.as_secs_f64())).collect::<Vec<_>>().join(", "));
    println!("{}", report.lines().filter(|l| l.starts_with("pbs:")).collect::<Vec<_>>().join("\n"));
}
