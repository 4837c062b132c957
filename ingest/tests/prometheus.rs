//! The Prometheus collector against Debian's real `prometheus` server: a generated
//! OpenMetrics file of Kueue-shaped histograms over four months, with a counter
//! reset in the middle, is turned into TSDB blocks by `promtool tsdb
//! create-blocks-from openmetrics`, served by `prometheus`, and the collector's
//! figures are checked against the exact percentiles of the same observations
//! (each within the bucket that holds the exact value); then the binary pushes
//! them to a real Gatelog site, which publishes them, and later runs neither ask
//! twice nor file twice. The client's retries and answer limit are tested on a
//! scripted server.
//!
//! Kept cheap (CI runs this file twice, once per database): one sample an hour is
//! enough for monthly increases (the collector reads counters at period bounds),
//! promtool writes few large blocks (`--max-block-duration`, a hidden flag in 2.42;
//! its default two-hour blocks made four months 1,441 blocks and the test minutes
//! long), and one server serves every check of a test.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use chrono::NaiveDate;
use gatelog_collect::prometheus::openmetrics::{self, BUCKETS};
use gatelog_collect::prometheus::{self, Config, Prometheus};
use support::Site;
use support::prometheus::Server;

fn epoch(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp())
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

/// Queue, median wait (s), tier. The last queue's waits are mostly above the largest
/// finite bound (8192 s) at p90 and p99, so its records are refused every month.
const QUEUES: [(&str, f64, &str); 4] = [
    ("h100-eu", 300.0, "allocation"),
    ("h100-spot", 40.0, "on_demand"),
    ("a100-batch", 900.0, "reserved"),
    ("h100-backfill", 3000.0, "spot"),
];
const METRIC: &str = "kueue_admission_wait_time_seconds";

/// TSDB blocks of January to April 2026 and the observations in them by (queue, month).
struct Tsdb {
    dir: tempfile::TempDir,
    data: PathBuf,
    observed: BTreeMap<(usize, String), Vec<f64>>,
}

fn tsdb() -> Tsdb {
    let dir = tempfile::tempdir().expect("dir");
    let step = 3600;
    let options = openmetrics::Options {
        metric: METRIC.into(),
        queue_label: "cluster_queue".into(),
        queues: QUEUES.iter().map(|(q, median, _)| ((*q).to_owned(), *median)).collect(),
        first: epoch(date(2026, 1, 1)),
        last: epoch(date(2026, 5, 1)),
        step,
        per_scrape: 6,
        // The exporter restarts in the middle of February.
        reset_at: Some(epoch(date(2026, 2, 14)) + 7 * step),
        seed: 3,
    };
    // Observations by (queue, month), a scrape at exactly a month's start counting for
    // the month before (Prometheus 2's range [start, end] sees it as the last value).
    let mut observed: BTreeMap<(usize, String), Vec<f64>> = BTreeMap::new();
    let file = dir.path().join("kueue.om");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).expect("file"));
    openmetrics::write(&mut out, &options, |queue, at, wait| {
        let month = chrono::DateTime::from_timestamp(at - 1, 0).expect("time").format("%Y-%m-01").to_string();
        observed.entry((queue, month)).or_default().push(wait);
    })
    .expect("openmetrics");
    drop(out);
    let data = dir.path().join("data");
    support::prometheus::blocks(&file, &data);
    Tsdb { dir, data, observed }
}

/// The collector's config for `url`, remembering what it sent in `state`.
fn config_file(dir: &Path, url: &str, state: &Path) -> PathBuf {
    let mut queues = String::new();
    for (queue, _, tier) in QUEUES {
        queues.push_str(&format!(
            "[series.queues.{queue}]\nresource = \"nvidia-h100-80gb\"\nregion = \"eu-de\"\ntier = \"{tier}\"\n"
        ));
    }
    let path = dir.join("prometheus.toml");
    std::fs::write(
        &path,
        format!(
            "url = \"{url}\"\nfrom = \"2026-01-01\"\nstate = \"{}\"\n[[series]]\nmetric = \"{METRIC}\"\n\
             queue_label = \"cluster_queue\"\n{queues}",
            state.display()
        ),
    )
    .expect("config");
    path
}

/// Checks every record against the observations; returns how many records were checked.
fn check_figures(
    observed: &BTreeMap<(usize, String), Vec<f64>>,
    records: &[serde_json::Value],
    summary: &prometheus::Summary,
) -> usize {
    let bucket_of = |x: f64| {
        let upper = BUCKETS.iter().position(|b| x <= *b).map_or(f64::INFINITY, |i| BUCKETS[i]);
        let lower = BUCKETS.iter().rev().find(|b| **b < x).copied().unwrap_or(0.0);
        (lower, upper)
    };
    let mut checked = 0;
    for ((queue, month), waits) in observed {
        if month.as_str() < "2026-01-01" || month.as_str() >= "2026-05-01" {
            continue;
        }
        let (name, _, tier) = QUEUES[*queue];
        let mut waits = waits.clone();
        waits.sort_by(f64::total_cmp);
        let record = records.iter().find(|r| r["tier"] == tier && r["period_start"] == month.as_str());
        // The exact percentile by the nearest-rank definition, and the bucket it is in.
        let exact = |q: f64| waits[((q * waits.len() as f64).ceil() as usize).clamp(1, waits.len()) - 1];
        if bucket_of(exact(0.99)).1.is_infinite() {
            assert!(record.is_none(), "{name} {month}: p99 is in +Inf, so no record");
            let start = NaiveDate::parse_from_str(month, "%Y-%m-%d").expect("month");
            assert!(
                summary
                    .refused
                    .iter()
                    .any(|(_, q, s, why)| q == name && *s == start && why.contains("above the largest")),
                "{name} {month}: refused and said why: {:?}",
                summary.refused
            );
            continue;
        }
        let record = record.unwrap_or_else(|| panic!("{name} {month}: a record"));
        assert_eq!(record["jobs"].as_u64(), Some(waits.len() as u64), "{name} {month}: jobs");
        for (field, q) in [("p50_seconds", 0.5), ("p90_seconds", 0.9), ("p99_seconds", 0.99)] {
            let (lower, upper) = bucket_of(exact(q));
            let got = record[field].as_f64().expect(field);
            assert!(
                got >= lower.floor() && got <= upper.ceil(),
                "{name} {month} {field}: {got} outside the bucket ({lower}, {upper}] of the exact {}",
                exact(q)
            );
        }
        let mean = waits.iter().sum::<f64>() / waits.len() as f64;
        assert!((record["mean_seconds"].as_f64().expect("mean") - mean).abs() <= 1.0, "{name} {month}: mean");
        gatelog::records::Record::parse(record.clone()).expect("the server would take it");
        checked += 1;
    }
    checked
}

fn run_cli(config: &Path, site: &Site, token: &str) -> (Output, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_gatelog-collect"))
        .env_remove("GATELOG_URL")
        .env("GATELOG_TOKEN", token)
        .args(["prometheus", "--json", "--url", &site.url, "--config"])
        .arg(config)
        .output()
        .expect("gatelog-collect prometheus");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("one JSON report ({e}): {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out, report)
}

#[test]
fn figures_from_a_real_prometheus_match_the_observations_and_the_site_publishes_them_once() {
    let tsdb = tsdb();
    let server = Server::start(&tsdb.data, &[]);
    let state = tsdb.dir.path().join("state.json");
    let config_path = config_file(tsdb.dir.path(), &server.url, &state);

    // The figures, from the library at the start of May: four closed months.
    let config = Config::load(&config_path).expect("config");
    let (records, summary) =
        prometheus::collect(&config, &Prometheus::new(&config.url), epoch(date(2026, 5, 1)), &Default::default())
            .expect("collect");
    assert_eq!(summary.queries, 8, "two queries for each of four closed months");
    let checked = check_figures(&tsdb.observed, &records, &summary);
    assert!(checked >= 12, "records checked: {checked}");
    assert_eq!(
        summary.refused.iter().filter(|(_, q, _, _)| q == "h100-backfill").count(),
        4,
        "the backfill queue's upper percentiles are above 8192 s each month"
    );

    // The binary pushes the same records to a real site, which publishes them.
    let site = Site::start();
    let token = site.token("frontier-cloud");
    let (out, first) = run_cli(&config_path, &site, &token);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(first["records"].as_u64(), Some(records.len() as u64), "{first}");
    assert_eq!(first["pushed"]["created"].as_u64(), Some(records.len() as u64), "{first}");
    assert_eq!(first["summary"]["not_reported"].as_array().map(Vec::len), Some(4), "{first}");
    assert!(
        stderr.contains(&format!("{n} records sent: {n} created, 0 amended, 0 unchanged", n = records.len())),
        "{stderr}"
    );
    assert!(stderr.contains("not reported: kueue_admission_wait_time_seconds h100-backfill from 2026-01-01"));
    assert_eq!(site.entries(), records.len() as i64);
    site.assert_publishes("frontier-cloud", &records);
    assert!(records.iter().all(|r| r.get("max_seconds").is_none()), "a histogram keeps no maximum");

    // The state file remembers the months sent: the next run asks nothing and files nothing.
    let (out, second) = run_cli(&config_path, &site, &token);
    assert_eq!(out.status.code(), Some(3), "nothing to send: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!((second["summary"]["queries"].as_u64(), second["records"].as_u64()), (Some(0), Some(0)), "{second}");
    // Without it every month is asked again, and the ledger already has every record.
    std::fs::remove_file(&state).expect("state");
    let (out, third) = run_cli(&config_path, &site, &token);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        (third["pushed"]["created"].as_u64(), third["pushed"]["unchanged"].as_u64()),
        (Some(0), Some(records.len() as u64)),
        "{third}"
    );
    assert_eq!(site.entries(), records.len() as i64);
}

/// The client on its own, against a scripted server: server errors and rate limits are
/// retried, a refused query is not, and an answer without end is cut off at the limit.
#[test]
fn queries_are_retried_on_server_errors_and_answers_are_bounded() {
    use support::{Answer, FeedServer, endless_feed};
    let vector = r#"{"status":"success","data":{"resultType":"vector","result":[
        {"metric":{"cluster_queue":"a","le":"+Inf"},"value":[1767225600,"12"]}]}}"#;
    let flaky = FeedServer::start(vec![Answer::status(503), Answer::status(429), Answer::ok(vector, &[])]);
    let mut client = Prometheus::new(flaky.url.trim_end_matches("/feed"));
    client.backoff = Duration::from_millis(10);
    let answer = client.query("up", 0).expect("answered on the third attempt");
    assert_eq!((answer.len(), answer[0].1, flaky.served()), (1, 12.0, 3));

    let refused = FeedServer::start(vec![Answer {
        status: 400,
        headers: Vec::new(),
        body: r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#.into(),
        delay: Duration::ZERO,
    }]);
    let mut client = Prometheus::new(refused.url.trim_end_matches("/feed"));
    client.backoff = Duration::from_millis(10);
    let error = client.query("up", 0).expect_err("a bad query");
    assert!(error.contains("parse error"), "{error}");
    assert_eq!(refused.served(), 1, "not retried");

    let down = FeedServer::start(vec![Answer::status(502)]);
    let mut client = Prometheus::new(down.url.trim_end_matches("/feed"));
    client.backoff = Duration::from_millis(10);
    let error = client.query("up", 0).expect_err("never answers");
    assert!(error.contains("gave up after 4 attempts"), "{error}");
    assert_eq!(down.served(), 4);

    let (url, sent) = endless_feed();
    let error = Prometheus::new(url.trim_end_matches("/feed")).query("up", 0).expect_err("too large");
    assert!(error.contains("larger than 16777216 bytes"), "{error}");
    std::thread::sleep(Duration::from_millis(300));
    let sent = sent.load(std::sync::atomic::Ordering::SeqCst);
    assert!(sent < 64 << 20, "the client stopped reading: {sent} bytes sent");
}
