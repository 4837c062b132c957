use std::io::Write;

use polars::prelude::*;

use super::generate::{Counted, Options, write_days};
use super::*;

const NOW: i64 = 1_800_000_000;

fn map() -> QueueMap {
    toml::from_str(
        r#"
        [queues.workq]
        resource = "nvidia-h100-80gb"
        region = "eu-de"
        tier = "allocation"
        [queues.gpu_large]
        resource = "nvidia-h100-80gb"
        region = "eu-de"
        tier = "reserved"
        [queues.gpu_small]
        resource = "nvidia-h100-80gb"
        region = "eu-de"
        tier = "allocation"
        [queues.debug]
        resource = "nvidia-h100-80gb"
        region = "eu-de"
        tier = "on_demand"
        "#,
    )
    .expect("map")
}

fn tier_of(queue: &str) -> Option<&'static str> {
    match queue {
        "workq" | "gpu_small" => Some("allocation"),
        "gpu_large" => Some("reserved"),
        "debug" => Some("on_demand"),
        _ => None,
    }
}

fn files(dir: &Path, days: &[(&str, String)]) -> Vec<PathBuf> {
    days.iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write");
            path
        })
        .collect()
}

fn line(kind: &str, id: &str, attributes: &str) -> String {
    format!("01/10/2026 10:00:00;{kind};{id};user=ana jobname=x {attributes}\n")
}

/// (tier, period_start, jobs, [p50, p90, p99, mean, max]) per record.
fn figures(records: &[serde_json::Value]) -> Vec<(String, String, u64, [u64; 5])> {
    records
        .iter()
        .map(|r| {
            let n = |f: &str| r[f].as_u64().unwrap_or(u64::MAX);
            (
                r["tier"].as_str().unwrap_or_default().to_owned(),
                r["period_start"].as_str().unwrap_or_default().to_owned(),
                n("jobs"),
                [n("p50_seconds"), n("p90_seconds"), n("p99_seconds"), n("mean_seconds"), n("max_seconds")],
            )
        })
        .collect()
}

/// Waits 0, 10, …, 90 s in January on workq and gpu_small (one target); the
/// percentiles worked out by hand as DuckDB's quantile_cont gives them.
#[test]
fn percentiles_per_target_and_month_as_computed_by_hand() {
    let mut day = String::new();
    for (i, wait) in (0..10).map(|i| i * 10).enumerate() {
        let queue = if i % 2 == 0 { "workq" } else { "gpu_small" };
        let etime = 1_768_039_200; // 2026-01-10T10:00:00Z
        let attributes = format!("queue={queue} ctime={etime} qtime={etime} etime={etime} start={}", etime + wait);
        day.push_str(&line("E", &format!("{i}.s"), &attributes));
    }
    // February 1st 00:00:00 UTC, one hour's wait.
    day.push_str(&line("E", "50.s", "queue=workq qtime=1769904000 etime=1769904000 start=1769907600"));
    day.push_str(&line("E", "51.s", "queue=debug qtime=1769896795 etime=1769896795 start=1769896800"));
    day.push_str(&line("E", "52.s", "queue=cpu qtime=1769896795 etime=1769896795 start=1769896800"));
    let dir = tempfile::tempdir().expect("dir");
    let paths = files(dir.path(), &[("20260110", day)]);
    let (records, summary) = collect(&paths, &map(), Period::Month, NOW).expect("collect");
    // p50 of 0..90 step 10 = 45; p90 = 81; p99 = 89.1 -> 89; mean 45; max 90.
    assert_eq!(
        figures(&records),
        vec![
            ("allocation".into(), "2026-01-01".into(), 10, [45, 81, 89, 45, 90]),
            ("allocation".into(), "2026-02-01".into(), 1, [3600; 5]),
            ("on_demand".into(), "2026-01-01".into(), 1, [5; 5]),
        ]
    );
    assert_eq!(records[0]["period_end"], "2026-02-01");
    assert_eq!((summary.lines, summary.jobs), (13, 12));
    assert_eq!(summary.unmapped.get("cpu"), Some(&1));
    for record in &records {
        gatelog_core::records::Record::parse(record.clone()).expect("the server would take it");
    }
}

/// A job rerun across midnight: its R record in one day's file, its E record (with
/// the original etime) in the next. It counts once, from its first run; an array's
/// parent does not count and its subjobs do; a job deleted in the queue does not.
#[test]
fn odd_forms_across_two_day_files_count_each_job_once() {
    let day1 = [
        line("Q", "7.s", "queue=workq"),
        line("S", "7.s", "queue=workq ctime=1000 qtime=1000 etime=1000 start=1100"),
        line("R", "7.s", "queue=workq ctime=1000 qtime=1000 etime=1000 start=1100 end=5000 run_count=1"),
        line("Q", "8.s", "queue=workq"),
        line("D", "8.s", "requestor=ana@login1"),
        line("E", "8.s", "queue=workq ctime=1000 qtime=1000 etime=1000 Exit_status=-4"),
        line("E", "9[1].s", "queue=workq ctime=2000 qtime=2000 etime=2000 start=2030"),
    ]
    .concat();
    let day2 = [
        line("E", "7.s", "queue=workq ctime=1000 qtime=1000 etime=1000 start=6000 end=9000 run_count=2"),
        line("E", "9[2].s", "queue=workq ctime=2000 qtime=2000 etime=2000 start=2060"),
        line("E", "9[].s", "queue=workq ctime=2000 qtime=2000 etime=2000 start=2030"),
        // The id 7 again after the sequence wrapped: another job (another ctime).
        line("E", "7.s", "queue=workq ctime=80000 qtime=80000 start=80010"),
    ]
    .concat();
    let dir = tempfile::tempdir().expect("dir");
    let paths = files(dir.path(), &[("19700101", day1), ("19700102", day2)]);
    let (records, summary) = collect(&paths, &map(), Period::Month, NOW).expect("collect");
    // Waits: job 7 run 1 = 100 (not 5000 from its E record), 9[1] = 30, 9[2] = 60, new 7 = 10.
    let p = |q: f64| {
        let w = [10.0, 30.0, 60.0, 100.0];
        let x = q * 3.0;
        let (lo, frac) = (x.floor() as usize, x - x.floor());
        (w[lo] + (w[(lo + 1).min(3)] - w[lo]) * frac).round() as u64
    };
    assert_eq!(
        figures(&records),
        vec![("allocation".into(), "1970-01-01".into(), 4, [p(0.5), p(0.9), p(0.99), 50, 100])]
    );
    assert_eq!(summary.from_qtime, 1, "the reused id's record has no etime");
    let counts: BTreeMap<Skip, u64> = summary.skipped.0.iter().map(|(k, (n, _))| (*k, *n)).collect();
    assert_eq!(
        counts,
        BTreeMap::from([
            (Skip::OtherRecord, 3),
            (Skip::Deleted, 1),
            (Skip::ArrayParent, 1),
            (Skip::NeverStarted, 1),
            (Skip::LaterRun, 1),
        ])
    );
    assert_eq!(summary.place(summary.skipped.0[&Skip::LaterRun].1), format!("{}:1", paths[1].display()));
    assert_eq!(summary.place(summary.skipped.0[&Skip::OtherRecord].1), format!("{}:1", paths[0].display()));
}

/// Generated logs with every odd form, half of them gzip, against percentiles that
/// polars computes from the generator's own list of jobs and waits.
#[test]
fn generated_logs_match_an_independent_computation() {
    let dir = tempfile::tempdir().expect("dir");
    let options = Options {
        end_records: 30_000,
        first: 1_767_225_600, // 2026-01-01
        last: 1_774_915_200,  // 2026-03-31
        seed: 11,
        gzip: true,
        queued_and_started: true,
    };
    let mut truth: Vec<Counted> = Vec::new();
    let written = write_days(dir.path(), &options, |job| truth.push(job)).expect("generate");
    assert!(written.files.iter().any(|f| f.extension().is_some_and(|e| e == "gz")));
    assert!(written.files.iter().any(|f| f.extension().is_none()));
    for form in [written.reruns, written.arrays, written.deleted, written.repeated_ends, written.reused_ids] {
        assert!(form > 0, "{written:?}");
    }
    assert!(written.across_days > 1000, "jobs ending in a later day's file: {}", written.across_days);

    let (records, summary) = collect(&written.files, &map(), Period::Month, NOW).expect("collect");

    // The expectation, from the generator's jobs: polars' linear quantile per tier and month.
    let mapped: Vec<&Counted> = truth.iter().filter(|j| tier_of(j.queue).is_some()).collect();
    let month = |start: i64| {
        let date = chrono::DateTime::from_timestamp(start, 0).expect("time").date_naive();
        format!("{}-{:02}-01", date.year(), date.month())
    };
    let frame = DataFrame::new_infer_height(vec![
        Column::new("tier".into(), mapped.iter().map(|j| tier_of(j.queue).unwrap_or("")).collect::<Vec<_>>()),
        Column::new("month".into(), mapped.iter().map(|j| month(j.start)).collect::<Vec<_>>()),
        Column::new("wait".into(), mapped.iter().map(|j| f64::from(j.wait)).collect::<Vec<_>>()),
    ])
    .expect("frame");
    let q = |p: f64, name: &str| col("wait").quantile(lit(p), QuantileMethod::Linear).alias(name);
    let expected = frame
        .lazy()
        .group_by([col("tier"), col("month")])
        .agg([
            col("wait").count().cast(DataType::UInt64).alias("jobs"),
            q(0.5, "p50"),
            q(0.9, "p90"),
            q(0.99, "p99"),
            col("wait").mean().alias("mean"),
            col("wait").max().alias("max"),
        ])
        .sort(["tier", "month"], SortMultipleOptions::default())
        .collect()
        .expect("polars");
    let text = |name: &str| expected.column(name).expect(name).str().expect(name).clone();
    let number = |name: &str| expected.column(name).expect(name).cast(&DataType::Float64).expect(name);
    let (tiers, months) = (text("tier"), text("month"));
    let stats: Vec<Series> = ["jobs", "p50", "p90", "p99", "mean", "max"]
        .iter()
        .map(|n| number(n).as_materialized_series().clone())
        .collect();
    let mut want = Vec::new();
    for i in 0..expected.height() {
        let at = |k: usize| stats[k].f64().expect("f64").get(i).unwrap_or(f64::NAN).round() as u64;
        let tier = tiers.get(i).unwrap_or_default().to_owned();
        want.push((tier, months.get(i).unwrap_or_default().to_owned(), at(0), [at(1), at(2), at(3), at(4), at(5)]));
    }
    let mut got = figures(&records);
    got.sort();
    want.sort();
    assert!(want.len() >= 9, "3 tiers × 3-4 months: {}", want.len());
    assert_eq!(got, want);

    assert_eq!(summary.jobs, truth.len() as u64 - truth.iter().filter(|j| j.queue == "cpu").count() as u64);
    assert_eq!(summary.from_qtime, mapped.iter().filter(|j| j.from_qtime).count() as u64);
    let count = |skip: Skip| summary.skipped.0.get(&skip).map_or(0, |s| s.0);
    assert_eq!(count(Skip::ArrayParent), written.arrays);
    assert_eq!(count(Skip::Deleted), written.deleted);
    assert_eq!(count(Skip::NeverStarted), written.deleted);
    assert!(count(Skip::LaterRun) > 0, "reruns and repeated E records");
    assert_eq!(summary.lines, written.lines);
    assert_eq!(summary.lines, summary.jobs + summary.skipped.total(), "every line is a job or a counted skip");
}

#[test]
fn the_order_of_the_files_changes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let options = Options {
        end_records: 5_000,
        first: 1_767_225_600,
        last: 1_769_904_000,
        seed: 5,
        gzip: false,
        queued_and_started: false,
    };
    let written = write_days(dir.path(), &options, |_| {}).expect("generate");
    let (forward, a) = collect(&written.files, &map(), Period::Quarter, NOW).expect("forward");
    let reversed: Vec<PathBuf> = written.files.iter().rev().cloned().collect();
    let (backward, b) = collect(&reversed, &map(), Period::Quarter, NOW).expect("backward");
    assert_eq!(forward, backward);
    assert_eq!((a.jobs, a.from_qtime, a.skipped.total()), (b.jobs, b.from_qtime, b.skipped.total()));
    assert!(forward.iter().all(|r| r["period_start"] == "2026-01-01" && r["period_end"] == "2026-04-01"));
}

#[test]
fn unusable_inputs_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().expect("dir");
    let not_pbs = files(dir.path(), &[("sacct.txt", "JobID|Partition|Start\n1|gpu|2026-01-01T00:00:00\n".into())]);
    let error = collect(&not_pbs, &map(), Period::Month, NOW).expect_err("not PBS").to_string();
    assert!(error.contains("not a PBS accounting log") && error.contains("JobID|Partition"), "{error}");

    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(line("E", "1.s", "queue=workq etime=1 start=5").repeat(50).as_bytes()).expect("gzip");
    let bytes = encoder.finish().expect("gzip");
    let cut = dir.path().join("20260101.gz");
    std::fs::write(&cut, &bytes[..bytes.len() - 12]).expect("write");
    let error = collect(&[cut], &map(), Period::Month, NOW).expect_err("truncated").to_string();
    assert!(error.contains("20260101.gz: reading line"), "{error}");

    let missing = collect(&[dir.path().join("nope")], &map(), Period::Month, NOW).expect_err("missing").to_string();
    assert!(missing.contains("nope"), "{missing}");
    assert!(matches!(collect(&[], &map(), Period::Month, NOW), Err(PbsError::NoFiles)));
}

#[test]
fn a_map_with_an_invalid_tier_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("queues.toml");
    std::fs::write(&path, "[queues.workq]\nresource = \"h100\"\nregion = \"eu-de\"\ntier = \"vip\"\n").expect("write");
    let error = QueueMap::load(&path).expect_err("bad tier");
    assert!(error.contains("queue workq") && error.contains("tier"), "{error}");
}
