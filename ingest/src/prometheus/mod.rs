//! The Prometheus collector: wait-time histograms a provider's Prometheus already
//! holds (Kueue's admission wait per ClusterQueue, or any `_bucket`/`_count`/`_sum`
//! histogram with a queue label) to `queue_time` records, one per mapped queue and
//! closed period.
//!
//! For each period the collector asks Prometheus, at the period's end, for
//! `increase(<metric>_bucket[<period>])` summed by `le` and queue: the observations
//! of exactly that period, counter resets handled by `increase` as Prometheus does.
//! Percentiles are then interpolated linearly within the bucket holding the rank
//! (as `histogram_quantile` does), so they are estimates at bucket resolution; a
//! percentile whose rank falls in the open `+Inf` bucket is refused rather than
//! reported as the largest finite bound.

pub mod openmetrics;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::sacct::{Period, Target};

/// One histogram to read.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Series {
    /// The histogram's name without `_bucket`, e.g. `kueue_admission_wait_time_seconds`.
    pub metric: String,
    /// The label that names the queue, e.g. `cluster_queue`.
    pub queue_label: String,
    /// Queue → target.
    pub queues: BTreeMap<String, Target>,
}

/// The config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Prometheus' base URL, e.g. `http://prometheus:9090`.
    pub url: String,
    /// The first period to report (its first day).
    pub from: NaiveDate,
    /// `month` (default) or `quarter`.
    #[serde(default)]
    pub period: Option<String>,
    /// Where the periods already pushed are remembered, so a later run does not ask
    /// Prometheus for them again. Without it every closed period is asked each run
    /// (the ledger still deduplicates what is sent).
    #[serde(default)]
    pub state: Option<PathBuf>,
    /// The histograms.
    pub series: Vec<Series>,
}

/// The key of one series' period in the state file: `metric@YYYY-MM-DD`.
fn done_key(metric: &str, start: NaiveDate) -> String {
    format!("{metric}@{start}")
}

/// The periods already pushed (empty when the state file does not exist yet).
pub fn load_state(path: &Path) -> Result<BTreeSet<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Writes the state file whole and durably (a crash leaves the old one or the new one).
pub fn save_state(path: &Path, done: &BTreeSet<String>) -> Result<(), String> {
    let text = serde_json::to_string_pretty(done).map_err(|e| e.to_string())?;
    gatelog_core::fsutil::write_atomically(path, text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
}

impl Config {
    /// Reads and checks a config: every target must be a record the server would take.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let config: Self = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        config.period()?;
        if config.series.is_empty() {
            return Err(format!("{}: no [[series]]", path.display()));
        }
        for series in &config.series {
            if !valid_name(&series.metric) || !valid_name(&series.queue_label) {
                return Err(format!(
                    "{}: {:?}/{:?} is not a metric and label name",
                    path.display(),
                    series.metric,
                    series.queue_label
                ));
            }
            for (name, target) in &series.queues {
                target.check().map_err(|reasons| format!("{}: queue {name}: {reasons}", path.display()))?;
            }
        }
        Ok(config)
    }

    /// The period length.
    pub fn period(&self) -> Result<Period, String> {
        match self.period.as_deref() {
            None | Some("month") => Ok(Period::Month),
            Some("quarter") => Ok(Period::Quarter),
            Some(other) => Err(format!("period {other:?}: month or quarter")),
        }
    }
}

/// Prometheus metric and label names: `[a-zA-Z_][a-zA-Z0-9_]*` (they are put in a query).
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Closed periods from `from` whose end is at or before `now` (epoch seconds).
pub fn closed_periods(from: NaiveDate, period: Period, now: i64) -> Vec<(NaiveDate, NaiveDate)> {
    let mut periods = Vec::new();
    let mut start = period.start_of(from);
    loop {
        let end = period.end_of(start);
        if epoch(end) > now {
            return periods;
        }
        periods.push((start, end));
        start = end;
    }
}

fn epoch(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp())
}

/// Why a percentile or a record is not reported.
#[derive(Debug, Clone, PartialEq)]
pub enum Refused {
    /// The rank falls in the open `+Inf` bucket: above the largest finite bound.
    OpenBucket {
        /// The percentile (0.5, 0.9, 0.99).
        quantile: f64,
        /// The largest finite bound.
        above: f64,
    },
}

/// The `q` quantile of cumulative buckets `(upper bound, count)` sorted by bound, the
/// last `+Inf`: linear within the bucket holding rank `q × total`, from the previous
/// bound (0 for the first bucket) to its own.
pub fn bucket_quantile(buckets: &[(f64, f64)], q: f64) -> Result<f64, Refused> {
    let total = buckets.last().map_or(0.0, |b| b.1);
    let rank = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for &(upper, count) in buckets {
        if count >= rank && count > below {
            if upper.is_infinite() {
                return Err(Refused::OpenBucket { quantile: q, above: lower });
            }
            return Ok(lower + (upper - lower) * (rank - below) / (count - below));
        }
        lower = upper;
        below = count;
    }
    Err(Refused::OpenBucket { quantile: q, above: lower })
}

/// An instant vector: each sample's labels and value.
pub type Vector = Vec<(BTreeMap<String, String>, f64)>;

/// A minimal Prometheus HTTP API client: instant queries with retries and a bounded body.
pub struct Prometheus {
    base: String,
    agent: ureq::Agent,
    /// Attempts per query.
    pub attempts: u32,
    /// First backoff; doubles per retry.
    pub backoff: Duration,
}

/// The largest answer read (a month of one histogram by queue is a few kilobytes).
const MAX_ANSWER_BYTES: u64 = 16 << 20;

impl Prometheus {
    /// A client for the Prometheus at `base`.
    pub fn new(base: &str) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build();
        Self {
            base: base.trim_end_matches('/').to_owned(),
            agent: ureq::Agent::new_with_config(config),
            attempts: 4,
            backoff: Duration::from_millis(500),
        }
    }

    /// `/api/v1/query` at `time`: the vector's (labels, value) pairs.
    pub fn query(&self, query: &str, time: i64) -> Result<Vector, String> {
        let mut wait = self.backoff;
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            match self.query_once(query, time) {
                Ok(answer) => return Ok(answer),
                Err((message, retry)) if retry => last = message,
                Err((message, _)) => return Err(message),
            }
            if attempt < self.attempts {
                std::thread::sleep(wait);
                wait = wait.saturating_mul(2);
            }
        }
        Err(format!("gave up after {} attempts: {last}", self.attempts))
    }

    /// One attempt; the error says whether to retry.
    fn query_once(&self, query: &str, time: i64) -> Result<Vector, (String, bool)> {
        use std::io::Read;
        let url = format!("{}/api/v1/query", self.base);
        let mut response = self
            .agent
            .get(&url)
            .query("query", query)
            .query("time", time.to_string())
            .call()
            .map_err(|e| (format!("{url}: {e}"), true))?;
        let status = response.status().as_u16();
        let mut bytes = Vec::new();
        response
            .body_mut()
            .as_reader()
            .take(MAX_ANSWER_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| (format!("{url}: {e}"), true))?;
        if bytes.len() as u64 > MAX_ANSWER_BYTES {
            return Err((format!("{url}: the answer is larger than {MAX_ANSWER_BYTES} bytes"), false));
        }
        if status == 429 || status >= 500 {
            return Err((format!("{url}: {status}"), true));
        }
        #[derive(Deserialize)]
        struct Answer {
            status: String,
            #[serde(default)]
            error: Option<String>,
            #[serde(default)]
            data: Option<Data>,
        }
        #[derive(Deserialize)]
        struct Data {
            #[serde(rename = "resultType")]
            kind: String,
            result: Vec<Sample>,
        }
        #[derive(Deserialize)]
        struct Sample {
            metric: BTreeMap<String, String>,
            value: (f64, String),
        }
        let answer: Answer = serde_json::from_slice(&bytes)
            .map_err(|e| (format!("{url}: not a Prometheus answer ({status}): {e}"), false))?;
        if answer.status != "success" {
            return Err((format!("{url}: {status}: {}", answer.error.unwrap_or_default()), false));
        }
        let data = answer.data.ok_or_else(|| (format!("{url}: no data"), false))?;
        if data.kind != "vector" {
            return Err((format!("{url}: a {} where a vector was expected", data.kind), false));
        }
        data.result
            .into_iter()
            .map(|s| {
                let value = match s.value.1.as_str() {
                    "+Inf" => f64::INFINITY,
                    text => text.parse().map_err(|_| (format!("{url}: value {text:?}"), false))?,
                };
                Ok((s.metric, value))
            })
            .collect()
    }
}

/// What a run found.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Queries asked.
    pub queries: u64,
    /// The periods asked for this run, as state keys (to remember once pushed).
    pub asked: BTreeSet<String>,
    /// (series, queue, period start, why) for every record not reported.
    pub refused: Vec<(String, String, NaiveDate, String)>,
    /// Queues seen in Prometheus that are not in the map, with the periods seen.
    pub unmapped: BTreeMap<String, u64>,
}

impl Summary {
    /// For the JSON report (docs/COLLECTORS.md).
    pub fn to_json(&self) -> serde_json::Value {
        let refused: Vec<serde_json::Value> = self
            .refused
            .iter()
            .map(|(m, q, s, why)| serde_json::json!({"metric": m, "queue": q, "period_start": s.to_string(), "why": why}))
            .collect();
        serde_json::json!({"queries": self.queries, "not_reported": refused, "unmapped_queues": self.unmapped})
    }
}

/// Asks Prometheus for every closed period since `config.from` not in `done` and
/// returns the records.
pub fn collect(
    config: &Config,
    prometheus: &Prometheus,
    now: i64,
    done: &BTreeSet<String>,
) -> Result<(Vec<serde_json::Value>, Summary), String> {
    let period = config.period()?;
    let mut summary = Summary::default();
    let mut records = Vec::new();
    for series in &config.series {
        let (metric, label) = (&series.metric, &series.queue_label);
        for (start, end) in closed_periods(config.from, period, now) {
            let key = done_key(metric, start);
            if done.contains(&key) {
                continue;
            }
            summary.asked.insert(key);
            let seconds = epoch(end) - epoch(start);
            let at = epoch(end);
            let increase = |name: &str, by: &str| format!("sum by ({by}) (increase({metric}_{name}[{seconds}s]))");
            summary.queries += 2;
            let buckets = prometheus.query(&increase("bucket", &format!("le, {label}")), at)?;
            let sums = prometheus.query(&increase("sum", label), at)?;
            records.extend(period_records(series, start, period, buckets, &sums, &mut summary)?);
        }
    }
    Ok((records, summary))
}

/// The records of one series for one period from the answers of its two queries (the
/// buckets' and the sums' increases by queue). Queues mapped to the same target are
/// pooled: their buckets added bound by bound, which is exact for histograms of the
/// same bounds (pooling is refused when the bounds differ), as sacct pools partitions.
pub fn period_records(
    series: &Series,
    start: NaiveDate,
    period: Period,
    buckets: Vector,
    sums: &Vector,
    summary: &mut Summary,
) -> Result<Vec<serde_json::Value>, String> {
    let label = series.queue_label.as_str();
    // Target → (its queues seen, bound text → (bound, increase)).
    type Pool = (BTreeSet<String>, BTreeMap<String, (f64, f64)>);
    let mut pools: BTreeMap<&Target, Pool> = BTreeMap::new();
    let mut bounds: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (labels, value) in buckets {
        let (Some(queue), Some(le)) = (labels.get(label), labels.get("le")) else { continue };
        let Some(target) = series.queues.get(queue) else {
            // Each queue has one `+Inf` bucket a period.
            if le == "+Inf" {
                *summary.unmapped.entry(queue.clone()).or_default() += 1;
            }
            continue;
        };
        let bound = if le == "+Inf" { f64::INFINITY } else { le.parse().map_err(|_| format!("le {le:?}"))? };
        bounds.entry(queue.clone()).or_default().insert(le.clone());
        let pool = pools.entry(target).or_default();
        pool.0.insert(queue.clone());
        pool.1.entry(le.clone()).or_insert((bound, 0.0)).1 += value;
    }
    let mut records = Vec::new();
    for (target, (queues, pooled)) in pools {
        let name = queues.iter().cloned().collect::<Vec<_>>().join("+");
        let mut layouts = queues.iter().filter_map(|q| bounds.get(q));
        if let Some(first) = layouts.next()
            && layouts.any(|other| other != first)
        {
            let why = "the pooled queues' histograms have different bucket bounds".to_owned();
            summary.refused.push((series.metric.clone(), name, start, why));
            continue;
        }
        let mut buckets: Vec<(f64, f64)> = pooled.into_values().collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Sums of increases can dip a hair below the bucket before them; keep them cumulative.
        for i in 1..buckets.len() {
            buckets[i].1 = buckets[i].1.max(buckets[i - 1].1);
        }
        let total = buckets.last().map_or(0.0, |b| b.1);
        if !buckets.last().is_some_and(|b| b.0.is_infinite()) || total.round() < 1.0 {
            continue;
        }
        let percentiles: Result<Vec<f64>, Refused> =
            [0.5, 0.9, 0.99].iter().map(|q| bucket_quantile(&buckets, *q)).collect();
        let percentiles = match percentiles {
            Ok(p) => p,
            Err(Refused::OpenBucket { quantile, above }) => {
                let why = format!("p{} is above the largest bucket bound ({above} s)", (quantile * 100.0).round());
                summary.refused.push((series.metric.clone(), name, start, why));
                continue;
            }
        };
        let sums: Vec<f64> =
            sums.iter().filter(|(l, _)| l.get(label).is_some_and(|q| queues.contains(q))).map(|(_, v)| *v).collect();
        let sum = (sums.len() == queues.len()).then(|| sums.iter().sum::<f64>());
        let whole = |x: f64| x.round().max(0.0) as u64;
        let mut record = target.record(
            start,
            period,
            whole(total),
            [whole(percentiles[0]), whole(percentiles[1]), whole(percentiles[2]), 0, 0],
        );
        // The histogram holds no maximum; the mean only when every queue's `_sum` is there.
        if let Some(object) = record.as_object_mut() {
            object.remove("max_seconds");
            match sum {
                Some(sum) => object.insert("mean_seconds".into(), whole(sum / total).into()),
                None => object.remove("mean_seconds"),
            };
        }
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_within_their_bucket_and_refuse_the_open_one() {
        // 10 observations: 4 up to 1 s, 4 more up to 2 s, 1 up to 4 s, 1 above 4 s.
        let buckets = [(1.0, 4.0), (2.0, 8.0), (4.0, 9.0), (f64::INFINITY, 10.0)];
        assert_eq!(bucket_quantile(&buckets, 0.5), Ok(1.25)); // rank 5: 1 of 4 into (1, 2]
        assert_eq!(bucket_quantile(&buckets, 0.9), Ok(4.0)); // rank 9: the top of (2, 4]
        assert_eq!(bucket_quantile(&buckets, 0.99), Err(Refused::OpenBucket { quantile: 0.99, above: 4.0 }));
        assert_eq!(bucket_quantile(&[(1.0, 0.0), (2.0, 2.0), (f64::INFINITY, 2.0)], 0.5), Ok(1.5));
    }

    fn answer(label: &str, rows: &[(&str, &str, f64)]) -> Vector {
        rows.iter()
            .map(|(queue, le, value)| {
                let mut labels = BTreeMap::from([(label.to_owned(), (*queue).to_owned())]);
                if !le.is_empty() {
                    labels.insert("le".into(), (*le).to_owned());
                }
                (labels, *value)
            })
            .collect()
    }

    fn series(queues: &[(&str, &str)]) -> Series {
        let queues = queues
            .iter()
            .map(|(q, tier)| {
                let target =
                    Target { resource: "nvidia-h100-80gb".into(), region: "eu-de".into(), tier: (*tier).into() };
                ((*q).to_owned(), target)
            })
            .collect();
        Series { metric: "m".into(), queue_label: "cq".into(), queues }
    }

    /// Two queues with one target make one record from their added buckets (as sacct pools
    /// partitions), not two records with the same natural key; an unmapped queue is counted.
    #[test]
    fn queues_with_one_target_are_pooled_bucket_by_bucket() {
        let series = series(&[("a", "allocation"), ("b", "allocation"), ("c", "spot")]);
        let buckets = answer(
            "cq",
            &[
                ("a", "1.0", 4.0),
                ("a", "2.0", 4.0),
                ("a", "+Inf", 4.0),
                ("b", "1.0", 0.0),
                ("b", "2.0", 4.0),
                ("b", "+Inf", 4.0),
                ("c", "1.0", 0.0),
                ("c", "2.0", 1.0),
                ("c", "+Inf", 2.0),
                ("x", "1.0", 1.0),
                ("x", "+Inf", 1.0),
            ],
        );
        let sums = answer("cq", &[("a", "", 2.0), ("b", "", 6.0), ("c", "", 50.0)]);
        let start = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
        let mut summary = Summary::default();
        let records = period_records(&series, start, Period::Month, buckets, &sums, &mut summary).expect("records");
        assert_eq!(records.len(), 1, "{records:?}");
        let pooled = &records[0];
        assert_eq!((pooled["tier"].as_str(), pooled["jobs"].as_u64()), (Some("allocation"), Some(8)));
        // Rank 4 of 8 is the top of (0, 1]; rank 7.2 is 0.8 into (1, 2].
        assert_eq!((pooled["p50_seconds"].as_u64(), pooled["p90_seconds"].as_u64()), (Some(1), Some(2)));
        assert_eq!(pooled["mean_seconds"].as_u64(), Some(1), "(2 + 6) / 8");
        assert!(pooled.get("max_seconds").is_none());
        assert_eq!(summary.refused.len(), 1, "c's p99 is in +Inf: {:?}", summary.refused);
        assert_eq!(summary.unmapped, BTreeMap::from([("x".to_owned(), 1)]));

        // Different bounds cannot be added: refused, with both queues named.
        let uneven = answer("cq", &[("a", "1.0", 1.0), ("a", "+Inf", 1.0), ("b", "2.0", 1.0), ("b", "+Inf", 1.0)]);
        let mut summary = Summary::default();
        let records =
            period_records(&series, start, Period::Month, uneven, &Vec::new(), &mut summary).expect("records");
        assert!(records.is_empty());
        assert_eq!(summary.refused[0].1, "a+b");
        assert!(summary.refused[0].3.contains("different bucket bounds"));
    }

    #[test]
    fn only_closed_periods_are_asked_for() {
        let from = NaiveDate::from_ymd_opt(2026, 1, 15).expect("date");
        let now = epoch(NaiveDate::from_ymd_opt(2026, 4, 10).expect("date"));
        let months = closed_periods(from, Period::Month, now);
        assert_eq!(months.len(), 3);
        assert_eq!(months[0].0.to_string(), "2026-01-01");
        assert_eq!(months[2].1.to_string(), "2026-04-01");
        assert_eq!(closed_periods(from, Period::Quarter, now).len(), 1);
    }

    /// Periods in the state file are not asked for: with all of them done, a run makes
    /// no query at all (the URL answers nothing).
    #[test]
    fn periods_already_pushed_are_not_asked_again() {
        let dir = tempfile::tempdir().expect("dir");
        let state = dir.path().join("state.json");
        let config: Config = toml::from_str(
            "url = \"http://127.0.0.1:9\"\nfrom = \"2026-01-01\"\n[[series]]\nmetric = \"m\"\nqueue_label = \"q\"\n\
             [series.queues.a]\nresource = \"h100\"\nregion = \"eu\"\ntier = \"allocation\"\n",
        )
        .expect("config");
        let now = epoch(NaiveDate::from_ymd_opt(2026, 4, 10).expect("date"));
        let done: BTreeSet<String> = ["m@2026-01-01", "m@2026-02-01", "m@2026-03-01"].map(String::from).into();
        save_state(&state, &done).expect("save");
        assert_eq!(load_state(&state).expect("load"), done);
        let mut prometheus = Prometheus::new(&config.url);
        prometheus.attempts = 1;
        let (records, summary) =
            collect(&config, &prometheus, now, &load_state(&state).expect("load")).expect("collect");
        assert_eq!((records.len(), summary.queries), (0, 0));
        let fewer: BTreeSet<String> = ["m@2026-01-01".to_owned()].into();
        let error = collect(&config, &prometheus, now, &fewer).expect_err("February is asked, and nothing answers");
        assert!(error.contains("127.0.0.1:9"), "{error}");
        assert_eq!(load_state(&dir.path().join("none.json")).expect("missing is empty"), BTreeSet::new());
    }

    #[test]
    fn names_that_would_change_the_query_are_refused() {
        assert!(valid_name("kueue_admission_wait_time_seconds") && valid_name("cluster_queue"));
        for bad in ["", "1x", "a-b", "x{y=\"1\"}", "a b"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
