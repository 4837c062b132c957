//! The Prometheus collector against Debian's real `prometheus` server: a generated
//! OpenMetrics file of Kueue-shaped histograms over four months, with a counter
//! reset in the middle, is turned into TSDB blocks by `promtool tsdb
//! create-blocks-from openmetrics`, served by `prometheus`, and the collector's
//! figures are checked against the exact percentiles of the same observations
//! (each within the bucket that holds the exact value).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use gatelog_collect::prometheus::openmetrics::{self, BUCKETS};
use gatelog_collect::prometheus::{self, Config, Prometheus};

/// A `prometheus` server on TSDB blocks, stopped when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(data: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let config = data.join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1h\n").expect("config");
        let child = Command::new("/usr/bin/prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--storage.tsdb.retention.time=100y")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start /usr/bin/prometheus (apt-get install prometheus)");
        let url = format!("http://127.0.0.1:{port}");
        let agent = ureq::Agent::new_with_defaults();
        let started = Instant::now();
        while agent.get(format!("{url}/-/ready")).call().map(|r| r.status().as_u16()).ok() != Some(200) {
            assert!(started.elapsed() < Duration::from_secs(60), "prometheus did not become ready");
            std::thread::sleep(Duration::from_millis(200));
        }
        Self { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn epoch(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp())
}

const QUEUES: [(&str, f64, &str); 3] =
    [("h100-eu", 300.0, "allocation"), ("h100-spot", 40.0, "on_demand"), ("a100-batch", 900.0, "reserved")];

#[test]
fn figures_from_a_real_prometheus_match_the_observations_within_a_bucket() {
    let dir = tempfile::tempdir().expect("dir");
    let (jan, may) =
        (NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"), NaiveDate::from_ymd_opt(2026, 5, 1).expect("date"));
    let step = 1800;
    let options = openmetrics::Options {
        metric: "kueue_admission_wait_time_seconds".into(),
        queue_label: "cluster_queue".into(),
        queues: QUEUES.iter().map(|(q, median, _)| ((*q).to_owned(), *median)).collect(),
        first: epoch(jan),
        last: epoch(may),
        step,
        per_scrape: 6,
        // The exporter restarts in the middle of February.
        reset_at: Some(epoch(NaiveDate::from_ymd_opt(2026, 2, 14).expect("date")) + 7 * step),
        seed: 3,
    };
    // Observations by (queue, month), a scrape at exactly a month's start counting for
    // the month before (Prometheus' range [start, end] sees it as the first value).
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
    let made = Command::new("/usr/bin/promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics", "-q"])
        .arg(&file)
        .arg(&data)
        .output()
        .expect("promtool");
    assert!(made.status.success(), "promtool: {}", String::from_utf8_lossy(&made.stderr));
    let server = Server::start(&data);

    let mut queues = String::new();
    for (queue, _, tier) in QUEUES {
        queues.push_str(&format!(
            "[series.queues.{queue}]\nresource = \"nvidia-h100-80gb\"\nregion = \"eu-de\"\ntier = \"{tier}\"\n"
        ));
    }
    let config_path = dir.path().join("prometheus.toml");
    std::fs::write(
        &config_path,
        format!(
            "url = \"{}\"\nfrom = \"2026-01-01\"\n[[series]]\nmetric = \"kueue_admission_wait_time_seconds\"\n\
             queue_label = \"cluster_queue\"\n{queues}",
            server.url
        ),
    )
    .expect("config");
    let config = Config::load(&config_path).expect("config");
    let (records, summary) =
        prometheus::collect(&config, &Prometheus::new(&config.url), epoch(may), &Default::default()).expect("collect");
    assert_eq!(summary.queries, 8, "two queries for each of four closed months");

    let bucket_of = |x: f64| {
        let upper = BUCKETS.iter().position(|b| x <= *b).map_or(f64::INFINITY, |i| BUCKETS[i]);
        let lower = BUCKETS.iter().rev().find(|b| **b < x).copied().unwrap_or(0.0);
        (lower, upper)
    };
    let mut checked = 0;
    for ((queue, month), mut waits) in observed {
        if month.as_str() < "2026-01-01" || month.as_str() >= "2026-05-01" {
            continue;
        }
        let (name, _, tier) = QUEUES[queue];
        waits.sort_by(f64::total_cmp);
        let record = records.iter().find(|r| r["tier"] == tier && r["period_start"] == month);
        // The exact percentile by the nearest-rank definition, and the bucket it is in.
        let exact = |q: f64| waits[((q * waits.len() as f64).ceil() as usize).clamp(1, waits.len()) - 1];
        if bucket_of(exact(0.99)).1.is_infinite() {
            assert!(record.is_none(), "{name} {month}: p99 is in +Inf, so no record");
            assert!(summary.refused.iter().any(|(_, q, _, why)| q == name && why.contains("above the largest")));
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
    assert!(checked >= 8, "records checked: {checked}");
}
