//! The Slurm collector: `sacct --parsable2` output (plain or gzip, file or stdin)
//! to `queue_time` records — one per mapped (resource, region, tier) and period,
//! with the job count and the p50/p90/p99/mean/max wait. The parser streams; only
//! (target, period, wait) triples are kept, sorted once and cut into groups for the percentiles.

pub mod parse;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};

use std::path::Path;

use chrono::{Datelike, Months, NaiveDate};
use serde::Deserialize;

pub use parse::{SacctError, Skip, Skipped, WaitFrom};

/// Where one partition's jobs are reported.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Resource slug, e.g. nvidia-h100-80gb.
    pub resource: String,
    /// Region slug.
    pub region: String,
    /// Access tier.
    pub tier: String,
}

/// The partition map file: `[partitions.<name>]` tables of resource, region and tier.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionMap {
    /// Partition name → target.
    pub partitions: BTreeMap<String, Target>,
}

impl PartitionMap {
    /// Reads and checks a map file: every target must be a record the server would take.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let map: Self = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if map.partitions.is_empty() {
            return Err(format!("{}: no [partitions.<name>] tables", path.display()));
        }
        for (name, target) in &map.partitions {
            target.check().map_err(|reasons| format!("{}: partition {name}: {reasons}", path.display()))?;
        }
        Ok(map)
    }
}

impl Target {
    /// Whether a queue_time record for this target is one the server would take (the
    /// reasons if not), so a bad map fails before any input is read.
    pub fn check(&self) -> Result<(), String> {
        let probe = serde_json::json!({"kind": "queue_time", "period_start": "2026-01-01", "period_end": "2026-02-01",
            "resource": self.resource, "region": self.region, "tier": self.tier,
            "jobs": 1, "p50_seconds": 0, "p90_seconds": 0, "p99_seconds": 0});
        gatelog_core::records::Record::parse(probe).map(|_| ()).map_err(|errors| {
            errors.iter().map(|e| format!("{}: {}", e.field, e.reason)).collect::<Vec<_>>().join("; ")
        })
    }

    /// The queue_time record of this target for one period: `stats` are whole seconds
    /// (p50, p90, p99, mean, max).
    pub(crate) fn record(&self, begin: NaiveDate, period: Period, jobs: u64, stats: [u64; 5]) -> serde_json::Value {
        let [p50, p90, p99, mean, max] = stats;
        serde_json::json!({
            "kind": "queue_time",
            "period_start": begin.to_string(),
            "period_end": period.end_of(begin).to_string(),
            "resource": self.resource, "region": self.region, "tier": self.tier,
            "jobs": jobs,
            "p50_seconds": p50, "p90_seconds": p90, "p99_seconds": p99,
            "mean_seconds": mean, "max_seconds": max,
        })
    }
}

/// How jobs are grouped in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Period {
    /// Calendar months (the default).
    #[default]
    Month,
    /// Calendar quarters.
    Quarter,
}

impl Period {
    pub(crate) fn start_of(self, date: NaiveDate) -> NaiveDate {
        let month = match self {
            Self::Month => date.month(),
            Self::Quarter => (date.month() - 1) / 3 * 3 + 1,
        };
        NaiveDate::from_ymd_opt(date.year(), month, 1).unwrap_or(date)
    }

    pub(crate) fn end_of(self, start: NaiveDate) -> NaiveDate {
        start + Months::new(if self == Self::Month { 1 } else { 3 })
    }
}

/// What a run found.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Lines read (not counting the header).
    pub jobs: u64,
    /// Skipped lines by reason.
    pub skipped: Skipped,
    /// Jobs per unmapped partition.
    pub unmapped: BTreeMap<String, u64>,
}

impl Summary {
    /// For the JSON report (docs/COLLECTORS.md).
    pub fn to_json(&self) -> serde_json::Value {
        let skipped: serde_json::Map<String, serde_json::Value> = self
            .skipped
            .0
            .iter()
            .map(|(skip, (count, first))| {
                let detail = serde_json::json!({"count": count, "first_line": first, "reason": skip.reason()});
                (skip.name().to_owned(), detail)
            })
            .collect();
        serde_json::json!({"lines": self.jobs, "jobs": self.jobs - self.skipped.total(), "skipped": skipped,
            "unmapped_partitions": self.unmapped})
    }
}

/// Days from 0001-01-01 (chrono's day 1) to 1970-01-01.
pub(crate) const EPOCH_DAYS_CE: i32 = 719_163;

/// Opens `path` (`-` for stdin), decompressing gzip when it starts with the gzip magic bytes.
pub fn open(path: &str) -> Result<Box<dyn BufRead>, String> {
    let raw: Box<dyn Read> = if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?)
    };
    let mut reader = BufReader::with_capacity(1 << 20, raw);
    let magic = reader.fill_buf().map_err(|e| format!("{path}: {e}"))?;
    if magic.starts_with(&[0x1f, 0x8b]) {
        let decoder = flate2::bufread::MultiGzDecoder::new(reader);
        Ok(Box::new(BufReader::with_capacity(1 << 20, decoder)))
    } else {
        Ok(Box::new(reader))
    }
}

/// The jobs gathered so far: (target, period, wait) per counted job.
struct Gatherer<'m> {
    index: &'m HashMap<&'m str, u32>,
    period: Period,
    group: Vec<u32>,
    periods: Vec<i32>,
    waits: Vec<f64>,
    unmapped: HashMap<String, u64>,
    /// Seconds range of the last period seen and its first day (days since the epoch).
    cache: (i64, i64, i32),
}

impl<'m> Gatherer<'m> {
    fn new(index: &'m HashMap<&'m str, u32>, period: Period) -> Self {
        Self {
            index,
            period,
            group: Vec::new(),
            periods: Vec::new(),
            waits: Vec::new(),
            unmapped: HashMap::new(),
            cache: (i64::MAX, i64::MIN, 0),
        }
    }

    fn take(&mut self, job: parse::Job<'_>) -> Result<(), Skip> {
        let Some(&target) = self.index.get(job.partition) else {
            *self.unmapped.entry(job.partition.to_owned()).or_default() += 1;
            return Err(Skip::UnmappedPartition);
        };
        if !(self.cache.0..self.cache.1).contains(&job.start) {
            let day = job.start.div_euclid(86_400);
            let date = NaiveDate::from_num_days_from_ce_opt(day as i32 + EPOCH_DAYS_CE).unwrap_or_default();
            let start = self.period.start_of(date);
            let end = self.period.end_of(start);
            let seconds = |d: NaiveDate| i64::from(d.num_days_from_ce() - EPOCH_DAYS_CE) * 86_400;
            self.cache = (seconds(start), seconds(end), start.num_days_from_ce() - EPOCH_DAYS_CE);
        }
        self.group.push(target);
        self.periods.push(self.cache.2);
        self.waits.push(job.wait as f64);
        Ok(())
    }

    fn absorb(&mut self, other: Gatherer<'_>) {
        self.group.extend(other.group);
        self.periods.extend(other.periods);
        self.waits.extend(other.waits);
        for (partition, count) in other.unmapped {
            *self.unmapped.entry(partition).or_default() += count;
        }
    }
}

/// Targets by index (partitions mapped to the same target are reported together) and
/// each partition's target index.
pub(crate) fn targets(names: &BTreeMap<String, Target>) -> (Vec<&Target>, HashMap<&str, u32>) {
    let mut targets: Vec<&Target> = names.values().collect();
    targets.sort();
    targets.dedup();
    let index = names
        .iter()
        .map(|(name, t)| (name.as_str(), targets.iter().position(|x| *x == t).unwrap_or(0) as u32))
        .collect();
    (targets, index)
}

fn finish(
    gathered: Gatherer<'_>,
    mut summary: Summary,
    taken: u64,
    targets: &[&Target],
    period: Period,
) -> Result<(Vec<serde_json::Value>, Summary), SacctError> {
    summary.jobs = taken + summary.skipped.total();
    summary.unmapped = gathered.unmapped.into_iter().collect();
    let records = aggregate(gathered.group, gathered.periods, gathered.waits, targets, period);
    Ok((records, summary))
}

/// Reads sacct output and aggregates it into `queue_time` records, ordered by
/// resource, region, tier and period.
pub fn collect(
    input: impl BufRead,
    map: &PartitionMap,
    from: WaitFrom,
    period: Period,
    now: i64,
) -> Result<(Vec<serde_json::Value>, Summary), SacctError> {
    let (targets, index) = targets(&map.partitions);
    let mut gathered = Gatherer::new(&index, period);
    let mut summary = Summary::default();
    let taken = parse::read(input, from, now, |job| gathered.take(job), &mut summary.skipped)?;
    finish(gathered, summary, taken, &targets, period)
}

/// Files smaller than this are read on one thread.
const PARALLEL_FROM_BYTES: u64 = 32 << 20;

/// Like [`collect`], for a path (`-` for stdin). A large uncompressed file is split at
/// line boundaries and its parts are read on every core; anything else is read as a stream.
pub fn collect_path(
    path: &str,
    map: &PartitionMap,
    from: WaitFrom,
    period: Period,
    now: i64,
) -> Result<(Vec<serde_json::Value>, Summary), String> {
    let size = if path == "-" { 0 } else { std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let compressed = path != "-" && {
        let mut magic = [0u8; 2];
        std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == [0x1f, 0x8b]
    };
    if size < PARALLEL_FROM_BYTES || threads < 2 || compressed {
        return collect(open(path)?, map, from, period, now).map_err(|e| format!("{path}: {e}"));
    }
    collect_parallel(path, size, threads, map, from, period, now).map_err(|e| format!("{path}: {e}"))
}

fn collect_parallel(
    path: &str,
    size: u64,
    threads: u64,
    map: &PartitionMap,
    from: WaitFrom,
    period: Period,
    now: i64,
) -> Result<(Vec<serde_json::Value>, Summary), SacctError> {
    use std::io::{Seek, SeekFrom};
    let io = |line: u64| move |source: std::io::Error| SacctError::Read { line, source };
    let mut file = BufReader::new(std::fs::File::open(path).map_err(io(0))?);
    let mut header = Vec::new();
    if file.read_until(b'\n', &mut header).map_err(io(1))? == 0 {
        return Err(SacctError::Empty);
    }
    let columns = parse::Columns::from_header(&String::from_utf8_lossy(&header), from)?;
    // Part boundaries: just after a newline at or past each even split.
    let mut bounds = vec![header.len() as u64];
    for k in 1..threads {
        let mut at = BufReader::new(std::fs::File::open(path).map_err(io(0))?);
        at.seek(SeekFrom::Start(size * k / threads)).map_err(io(0))?;
        let mut skip = Vec::new();
        let n = at.read_until(b'\n', &mut skip).map_err(io(0))?;
        bounds.push((size * k / threads + n as u64).max(*bounds.last().unwrap_or(&0)));
    }
    bounds.push(size);
    let (targets, index) = targets(&map.partitions);
    let parts: Vec<Result<(Gatherer<'_>, Skipped, u64, u64), SacctError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = bounds
            .windows(2)
            .map(|w| {
                let (start, end) = (w[0], w[1]);
                let index = &index;
                scope.spawn(move || {
                    let mut file = std::fs::File::open(path).map_err(io(0))?;
                    file.seek(SeekFrom::Start(start)).map_err(io(0))?;
                    let reader = BufReader::with_capacity(1 << 20, file.take(end - start));
                    let mut gathered = Gatherer::new(index, period);
                    let mut skipped = Skipped::default();
                    let (taken, lines) =
                        parse::read_body(reader, columns, now, 1, |job| gathered.take(job), &mut skipped)?;
                    Ok((gathered, skipped, taken, lines))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(SacctError::Read { line: 0, source: std::io::Error::other("a reader thread panicked") })
                })
            })
            .collect()
    });
    let mut gathered = Gatherer::new(&index, period);
    let mut summary = Summary::default();
    let (mut taken, mut line) = (0, 1u64);
    for part in parts {
        let (part, skipped, part_taken, lines) = part?;
        gathered.absorb(part);
        summary.skipped.merge(skipped, line);
        taken += part_taken;
        line += lines;
    }
    finish(gathered, summary, taken, &targets, period)
}

/// One record per (target, period) present, in target then period order: the job count and
/// the p50/p90/p99 (linear interpolation between the nearest ranks, as DuckDB's
/// `quantile_cont` and polars' `QuantileMethod::Linear` compute them), mean and max wait,
/// rounded to whole seconds. Sorting the triples once groups them and orders each group's
/// waits, which is all the percentiles need.
fn aggregate(
    group: Vec<u32>,
    periods: Vec<i32>,
    waits: Vec<f64>,
    targets: &[&Target],
    period: Period,
) -> Vec<serde_json::Value> {
    let mut rows: Vec<(u32, i32, f64)> =
        group.into_iter().zip(periods).zip(waits).map(|((target, start), wait)| (target, start, wait)).collect();
    rows.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then(a.2.total_cmp(&b.2)));
    let whole = |x: f64| x.round().max(0.0) as u64;
    let mut records = Vec::new();
    let mut sorted = Vec::new();
    let mut rest = rows.as_slice();
    while let Some(&(target, start, _)) = rest.first() {
        let n = rest.partition_point(|r| (r.0, r.1) == (target, start));
        let (same, tail) = rest.split_at(n);
        rest = tail;
        sorted.clear();
        sorted.extend(same.iter().map(|r| r.2));
        // Waits are whole seconds, so the sum is exact (below 2^53) and so is the mean's division.
        let mean = sorted.iter().sum::<f64>() / n as f64;
        let max = sorted[n - 1];
        let stats = [quantile(&sorted, 0.5), quantile(&sorted, 0.9), quantile(&sorted, 0.99), mean, max].map(whole);
        // Period starts are day numbers of real dates (Gatherer::take), so this always holds.
        let Some(begin) = NaiveDate::from_num_days_from_ce_opt(start + EPOCH_DAYS_CE) else { continue };
        records.push(targets[target as usize].record(begin, period, n as u64, stats));
    }
    records
}

/// The linear-interpolated quantile `q` of ascending `sorted` (not empty).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = (low + 1).min(sorted.len() - 1);
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The aggregation polars computed before it was replaced (polars stays a dev-dependency
    /// for this check): group by target and period, linear quantiles, mean, max.
    fn with_polars(group: Vec<u32>, periods: Vec<i32>, waits: Vec<f64>) -> Vec<(u32, i32, u64, [u64; 5])> {
        use polars::prelude::*;
        let frame = DataFrame::new_infer_height(vec![
            Column::new("target".into(), group),
            Column::new("period".into(), periods),
            Column::new("wait".into(), waits),
        ])
        .expect("frame");
        let quantile = |q: f64, name: &str| col("wait").quantile(lit(q), QuantileMethod::Linear).alias(name);
        let out = frame
            .lazy()
            .group_by([col("target"), col("period")])
            .agg([
                col("wait").count().alias("jobs"),
                quantile(0.5, "p50"),
                quantile(0.9, "p90"),
                quantile(0.99, "p99"),
                col("wait").mean().alias("mean"),
                col("wait").max().alias("max"),
            ])
            .sort(["target", "period"], SortMultipleOptions::default())
            .collect()
            .expect("aggregated");
        let target = out.column("target").expect("target").u32().expect("u32").clone();
        let start = out.column("period").expect("period").i32().expect("i32").clone();
        let jobs = out.column("jobs").expect("jobs").cast(&DataType::UInt64).expect("cast");
        let stat = |name: &str, i: usize| {
            out.column(name).expect("stat").f64().expect("f64").get(i).expect("value").round().max(0.0) as u64
        };
        (0..out.height())
            .map(|i| {
                let stats = ["p50", "p90", "p99", "mean", "max"].map(|name| stat(name, i));
                let n = jobs.u64().expect("u64").get(i).expect("jobs");
                (target.get(i).expect("t"), start.get(i).expect("p"), n, stats)
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn the_aggregation_agrees_with_polars(
            rows in proptest::collection::vec((0u32..3, 0i32..4, 0u32..2_000_000), 1..400)
        ) {
            let target = Target { resource: "nvidia-h100-80gb".into(), region: "eu-de".into(), tier: "allocation".into() };
            let targets = [&target, &target, &target];
            let group: Vec<u32> = rows.iter().map(|r| r.0).collect();
            // Period starts as day numbers since 1970 of the first of a month.
            let periods: Vec<i32> = rows.iter().map(|r| 20_454 + 31 * r.1).collect();
            let waits: Vec<f64> = rows.iter().map(|r| f64::from(r.2)).collect();
            let expected = with_polars(group.clone(), periods.clone(), waits.clone());
            let records = aggregate(group, periods, waits, &targets, Period::Month);
            proptest::prop_assert_eq!(records.len(), expected.len());
            for (record, (_, _, jobs, [p50, p90, p99, mean, max])) in records.iter().zip(&expected) {
                proptest::prop_assert_eq!(&record["jobs"], jobs);
                let got: Vec<&serde_json::Value> = ["p50_seconds", "p90_seconds", "p99_seconds", "mean_seconds", "max_seconds"]
                    .iter()
                    .map(|f| &record[*f])
                    .collect();
                proptest::prop_assert_eq!(got, vec![p50, p90, p99, mean, max]);
            }
        }
    }

    fn map() -> PartitionMap {
        toml::from_str(
            r#"
            [partitions.gpu]
            resource = "nvidia-h100-80gb"
            region = "eu-de"
            tier = "allocation"
            [partitions.gpu-small]
            resource = "nvidia-h100-80gb"
            region = "eu-de"
            tier = "allocation"
            [partitions.debug]
            resource = "nvidia-h100-80gb"
            region = "eu-de"
            tier = "on_demand"
            "#,
        )
        .expect("map")
    }

    /// Waits 0, 10, 20, …, 90 s in January on gpu (and gpu-small, the same target), one in
    /// February; linear-interpolated percentiles as DuckDB's quantile_cont computes them.
    #[test]
    fn percentiles_per_target_and_month_as_computed_by_hand() {
        let mut text = String::from("JobID|Partition|Eligible|Start\n");
        for (i, wait) in (0..10).map(|i| i * 10).enumerate() {
            let partition = if i % 2 == 0 { "gpu" } else { "gpu-small" };
            text.push_str(&format!(
                "{i}|{partition}|2026-01-10T10:00:00|2026-01-10T10:{:02}:{:02}\n",
                wait / 60,
                wait % 60
            ));
        }
        text.push_str("50|gpu|2026-02-01T00:00:00|2026-02-01T01:00:00\n");
        text.push_str("51|debug|2026-01-31T23:00:00|2026-01-31T23:00:05\n");
        text.push_str("52|cpu|2026-01-31T23:00:00|2026-01-31T23:00:05\n");
        let now = parse::parse_time("2026-06-01T00:00:00").expect("time");
        let (records, summary) =
            collect(text.as_bytes(), &map(), WaitFrom::Eligible, Period::Month, now).expect("collect");
        let summary_line = |r: &serde_json::Value| {
            (
                r["tier"].as_str().unwrap_or_default().to_owned(),
                r["period_start"].as_str().unwrap_or_default().to_owned(),
                r["jobs"].as_u64().unwrap_or(0),
                [
                    r["p50_seconds"].as_u64(),
                    r["p90_seconds"].as_u64(),
                    r["p99_seconds"].as_u64(),
                    r["mean_seconds"].as_u64(),
                    r["max_seconds"].as_u64(),
                ],
            )
        };
        let lines: Vec<_> = records.iter().map(summary_line).collect();
        // p50 of 0..90 step 10 = 45; p90 = 81; p99 = 89.1 -> 89; mean 45; max 90.
        assert_eq!(
            lines,
            vec![
                ("allocation".into(), "2026-01-01".into(), 10, [Some(45), Some(81), Some(89), Some(45), Some(90)]),
                ("allocation".into(), "2026-02-01".into(), 1, [Some(3600); 5]),
                ("on_demand".into(), "2026-01-01".into(), 1, [Some(5); 5]),
            ]
        );
        assert_eq!(records[0]["period_end"], "2026-02-01");
        assert_eq!(summary.jobs, 13);
        assert_eq!(summary.skipped.0.get(&Skip::UnmappedPartition).map(|s| s.0), Some(1));
        assert_eq!(summary.unmapped.get("cpu"), Some(&1));
        for record in &records {
            gatelog_core::records::Record::parse(record.clone()).expect("the server would take it");
        }
    }

    /// Split across threads, the same file gives the same records and the same summary.
    #[test]
    fn reading_in_parallel_parts_changes_nothing() {
        let mut text = Vec::new();
        crate::generate::write(&mut text, 30_000, 1_767_225_600, 1_772_323_200, 3).expect("generate");
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("sacct.txt");
        std::fs::write(&path, &text).expect("write");
        let map: PartitionMap = toml::from_str(
            "[partitions.gpu]\nresource = \"h100\"\nregion = \"eu-de\"\ntier = \"allocation\"\n\
             [partitions.debug]\nresource = \"h100\"\nregion = \"eu-de\"\ntier = \"on_demand\"\n",
        )
        .expect("map");
        let now = i64::MAX;
        let (one, one_summary) = collect(text.as_slice(), &map, WaitFrom::Eligible, Period::Month, now).expect("one");
        let size = text.len() as u64;
        for threads in [2, 3, 7] {
            let path = path.to_str().expect("path");
            let (many, summary) =
                collect_parallel(path, size, threads, &map, WaitFrom::Eligible, Period::Month, now).expect("parallel");
            assert_eq!(many, one, "{threads} threads");
            assert_eq!(summary.skipped, one_summary.skipped, "{threads} threads");
            assert_eq!((summary.jobs, &summary.unmapped), (one_summary.jobs, &one_summary.unmapped));
        }
    }

    #[test]
    fn quarters_group_three_months() {
        let text = "JobID|Partition|Eligible|Start\n1|gpu|2026-01-10T10:00:00|2026-01-10T10:00:10\n2|gpu|2026-03-10T10:00:00|2026-03-10T10:00:30\n";
        let now = parse::parse_time("2026-06-01T00:00:00").expect("time");
        let (records, _) = collect(text.as_bytes(), &map(), WaitFrom::Eligible, Period::Quarter, now).expect("collect");
        assert_eq!(records.len(), 1);
        assert_eq!(
            (records[0]["period_start"].as_str(), records[0]["period_end"].as_str()),
            (Some("2026-01-01"), Some("2026-04-01"))
        );
        assert_eq!(records[0]["jobs"], 2);
    }

    #[test]
    fn gzip_is_read_and_a_truncated_one_is_an_error() {
        use std::io::Write;
        let text = "JobID|Partition|Eligible|Start\n1|gpu|2026-01-10T10:00:00|2026-01-10T10:00:10\n".to_owned();
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(text.as_bytes()).expect("gzip");
        let bytes = encoder.finish().expect("gzip");
        let dir = tempfile::tempdir().expect("dir");
        let good = dir.path().join("sacct.gz");
        std::fs::write(&good, &bytes).expect("write");
        let now = parse::parse_time("2026-06-01T00:00:00").expect("time");
        let input = open(good.to_str().expect("path")).expect("open");
        let (records, _) = collect(input, &map(), WaitFrom::Eligible, Period::Month, now).expect("collect");
        assert_eq!(records.len(), 1);
        let cut = dir.path().join("cut.gz");
        std::fs::write(&cut, &bytes[..bytes.len() - 12]).expect("write");
        let input = open(cut.to_str().expect("path")).expect("open");
        let error = collect(input, &map(), WaitFrom::Eligible, Period::Month, now).expect_err("truncated");
        assert!(error.to_string().contains("reading line"), "{error}");
    }

    #[test]
    fn a_map_with_an_invalid_tier_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("map.toml");
        std::fs::write(&path, "[partitions.gpu]\nresource = \"h100\"\nregion = \"eu-de\"\ntier = \"vip\"\n")
            .expect("write");
        let error = PartitionMap::load(&path).expect_err("bad tier");
        assert!(error.contains("partition gpu") && error.contains("tier"), "{error}");
    }
}
