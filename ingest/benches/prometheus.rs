//! The Prometheus collector on five years of monthly periods for 50 queues (issue
//! 21: under 30 s against the local server). Generates Kueue-shaped histograms (14
//! finite buckets, `_sum`, `_count`: 850 series) from the first day 60 months
//! before this month to this month's first day, turns them into TSDB blocks with
//! `promtool tsdb create-blocks-from openmetrics --max-block-duration=8760h` (its
//! default two-hour blocks would make 21,900 of them), starts Debian's `prometheus`
//! on them, and runs the release binary (`prometheus --dry-run`) three times under
//! GNU time (wall time, peak RSS). Every record's job count is checked against the
//! generator's own tally, and every (queue, month) is either a record or refused.
//!
//! One sample a day per series (GATELOG_BENCH_PROM_STEP seconds changes it): the
//! collector's answers depend only on each counter's values at the period bounds
//! (`increase` over exactly the month, samples on the bounds, so no extrapolation),
//! and a daily series keeps the generated file at ~70 MB. A real Prometheus scraped
//! every 30 s holds 2,880 times more samples; each query then reads more of them
//! (see docs/COLLECTORS.md on `--query.max-samples`).
//!
//! Run: `cargo bench -p gatelog-collect --bench prometheus` (needs `prometheus`).

use std::collections::BTreeMap;
use std::time::Instant;

use gatelog_collect::prometheus::openmetrics;

mod measure;
#[path = "../tests/support/mod.rs"]
mod support;
use measure::measured;

const METRIC: &str = "kueue_admission_wait_time_seconds";
const TIERS: [&str; 5] = ["on_demand", "spot", "reserved", "allocation", "newcomer"];

fn main() {
    let collect = env!("CARGO_BIN_EXE_gatelog-collect");
    let step: i64 = std::env::var("GATELOG_BENCH_PROM_STEP").ok().and_then(|v| v.parse().ok()).unwrap_or(86_400);
    let dir = tempfile::Builder::new().prefix("gl-prom-bench-").tempdir_in("/tmp").expect("dir");
    let today = chrono::Utc::now().date_naive();
    let this_month =
        chrono::NaiveDate::from_ymd_opt(chrono::Datelike::year(&today), chrono::Datelike::month(&today), 1)
            .expect("month");
    let from = this_month - chrono::Months::new(60);
    let epoch = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp());
    let queues: Vec<(String, f64)> = (0..50).map(|i| (format!("q{i:02}"), 20.0 + 30.0 * f64::from(i))).collect();
    let options = openmetrics::Options {
        metric: METRIC.into(),
        queue_label: "cluster_queue".into(),
        queues: queues.clone(),
        first: epoch(from),
        last: epoch(this_month),
        step,
        per_scrape: 200 * step.max(1) as u64 / 86_400 + 1,
        // A restarted exporter in the middle.
        reset_at: Some(epoch(from) + (epoch(this_month) - epoch(from)) / 2 / step * step),
        seed: 7,
    };

    let started = Instant::now();
    let file = dir.path().join("kueue.om");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).expect("file"));
    let mut expected: BTreeMap<(usize, String), u64> = BTreeMap::new();
    openmetrics::write(&mut out, &options, |queue, at, _| {
        // A scrape on a month's first second counts for the month before (range [start, end]).
        let month = chrono::DateTime::from_timestamp(at - 1, 0).expect("time").format("%Y-%m-01").to_string();
        *expected.entry((queue, month)).or_default() += 1;
    })
    .expect("openmetrics");
    drop(out);
    expected.retain(|(_, month), _| month.as_str() >= from.to_string().as_str());
    let generated = started.elapsed();
    let started = Instant::now();
    let data = dir.path().join("data");
    support::prometheus::blocks(&file, &data);
    let blocks = std::fs::read_dir(&data).expect("data").count();
    println!(
        "## prometheus: 50 queues, 60 months ({from} to {this_month}), one sample every {step} s: {:.0} MB of \
         OpenMetrics in {:.1} s, {blocks} TSDB blocks in {:.1} s\n",
        std::fs::metadata(&file).map_or(0, |m| m.len()) as f64 / 1e6,
        generated.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );

    let server = support::prometheus::Server::start(&data, &[]);
    let url = &server.url;
    let mut toml = format!(
        "url = \"{url}\"\nfrom = \"{from}\"\n[[series]]\nmetric = \"{METRIC}\"\nqueue_label = \"cluster_queue\"\n"
    );
    for (i, (queue, _)) in queues.iter().enumerate() {
        toml.push_str(&format!(
            "[series.queues.{queue}]\nresource = \"nvidia-h100-80gb\"\nregion = \"eu-r{}\"\ntier = \"{}\"\n",
            i / 5,
            TIERS[i % 5]
        ));
    }
    let config = dir.path().join("collector.toml");
    std::fs::write(&config, toml).expect("config");
    let args: Vec<String> =
        vec!["prometheus".into(), "--config".into(), config.to_string_lossy().into_owned(), "--dry-run".into()];
    let (mut times, mut rss, mut out, mut report) = (Vec::new(), 0.0f64, String::new(), String::new());
    for _ in 0..3 {
        let (t, peak, stdout, stderr) = measured(collect, &args);
        times.push(t);
        rss = rss.max(peak);
        (out, report) = (stdout, stderr);
    }
    drop(server);
    times.sort();

    let records: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let refused = report.lines().filter(|l| l.trim_start().starts_with("not reported:")).count();
    let mut jobs = 0;
    for record in &records {
        let region: usize = record["region"]
            .as_str()
            .and_then(|r| r.strip_prefix("eu-r"))
            .and_then(|r| r.parse().ok())
            .expect("region");
        let tier = TIERS.iter().position(|t| record["tier"] == *t).expect("tier");
        let key = (region * 5 + tier, record["period_start"].as_str().expect("start").to_owned());
        assert_eq!(record["jobs"].as_u64(), expected.get(&key).copied(), "{record}");
        jobs += record["jobs"].as_u64().unwrap_or(0);
    }
    assert_eq!(records.len() + refused, expected.len(), "each queue and month is a record or refused");
    assert_eq!(expected.len(), 50 * 60);
    println!(
        "| command | seconds (median of 3) | fastest | peak RSS (MB) | queries | records | refused (+Inf) | jobs |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|"
    );
    println!(
        "| gatelog-collect prometheus --config FILE --dry-run | {:.2} | {:.2} | {rss:.0} | {} | {} | {refused} | {jobs} |",
        times[1].as_secs_f64(),
        times[0].as_secs_f64(),
        2 * 60,
        records.len()
    );
    println!("\nruns: {}", times.iter().map(|t| format!("{:.2} s", t.as_secs_f64())).collect::<Vec<_>>().join(", "));
    println!("{}", report.lines().filter(|l| l.starts_with("prometheus:")).collect::<Vec<_>>().join("\n"));
}
