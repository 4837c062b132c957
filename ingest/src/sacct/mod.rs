//! The Slurm collector: `sacct --parsable2` output (plain or gzip, file or stdin)
//! to `queue_time` records — one per mapped (resource, region, tier) and period,
//! with the job count and the p50/p90/p99/mean/max wait. The parser streams; only
//! (target, period, wait) triples are kept, and polars computes the percentiles.

pub mod parse;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use chrono::{Datelike, Months, NaiveDate};
use polars::prelude::*;
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
            let probe = serde_json::json!({"kind": "queue_time", "period_start": "2026-01-01", "period_end": "2026-02-01",
                "resource": target.resource, "region": target.region, "tier": target.tier,
                "jobs": 1, "p50_seconds": 0, "p90_seconds": 0, "p99_seconds": 0});
            if let Err(errors) = gatelog::records::Record::parse(probe) {
                let reasons: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.field, e.reason)).collect();
                return Err(format!("{}: partition {name}: {}", path.display(), reasons.join("; ")));
            }
        }
        Ok(map)
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
    fn start_of(self, date: NaiveDate) -> NaiveDate {
        let month = match self {
            Self::Month => date.month(),
            Self::Quarter => (date.month() - 1) / 3 * 3 + 1,
        };
        NaiveDate::from_ymd_opt(date.year(), month, 1).unwrap_or(date)
    }

    fn end_of(self, start: NaiveDate) -> NaiveDate {
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

const EPOCH_DAYS_CE: i32 = 719_163;

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

/// Reads sacct output and aggregates it into `queue_time` records, ordered by
/// resource, region, tier and period.
pub fn collect(
    input: impl BufRead,
    map: &PartitionMap,
    from: WaitFrom,
    period: Period,
    now: i64,
) -> Result<(Vec<serde_json::Value>, Summary), SacctError> {
    // Targets by index; partitions mapped to the same target are reported together.
    let mut targets: Vec<&Target> = map.partitions.values().collect();
    targets.sort();
    targets.dedup();
    let index: HashMap<&str, u32> = map
        .partitions
        .iter()
        .map(|(name, t)| (name.as_str(), targets.iter().position(|x| *x == t).unwrap_or(0) as u32))
        .collect();
    let (mut group, mut periods, mut waits) = (Vec::new(), Vec::new(), Vec::new());
    let mut summary = Summary::default();
    let mut unmapped: HashMap<String, u64> = HashMap::new();
    // Period of the last start seen, reused while jobs stay in the same day range.
    let mut cache: (i64, i64, i32) = (i64::MAX, i64::MIN, 0);
    let taken = parse::read(
        input,
        from,
        now,
        |job| {
            let Some(&target) = index.get(job.partition) else {
                *unmapped.entry(job.partition.to_owned()).or_default() += 1;
                return Err(Skip::UnmappedPartition);
            };
            if !(cache.0..cache.1).contains(&job.start) {
                let day = job.start.div_euclid(86_400);
                let date = NaiveDate::from_num_days_from_ce_opt(day as i32 + EPOCH_DAYS_CE).unwrap_or_default();
                let start = period.start_of(date);
                let end = period.end_of(start);
                let seconds = |d: NaiveDate| i64::from(d.num_days_from_ce() - EPOCH_DAYS_CE) * 86_400;
                cache = (seconds(start), seconds(end), start.num_days_from_ce() - EPOCH_DAYS_CE);
            }
            group.push(target);
            periods.push(cache.2);
            waits.push(job.wait as f64);
            Ok(())
        },
        &mut summary.skipped,
    )?;
    summary.jobs = taken + summary.skipped.total();
    summary.unmapped = unmapped.into_iter().collect();
    let records = aggregate(group, periods, waits, &targets, period)
        .map_err(|e| SacctError::Read { line: 0, source: std::io::Error::other(format!("aggregating: {e}")) })?;
    Ok((records, summary))
}

fn aggregate(
    group: Vec<u32>,
    periods: Vec<i32>,
    waits: Vec<f64>,
    targets: &[&Target],
    period: Period,
) -> PolarsResult<Vec<serde_json::Value>> {
    if waits.is_empty() {
        return Ok(Vec::new());
    }
    let frame = DataFrame::new_infer_height(vec![
        Column::new("target".into(), group),
        Column::new("period".into(), periods),
        Column::new("wait".into(), waits),
    ])?;
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
        .collect()?;
    let target = out.column("target")?.u32()?;
    let start = out.column("period")?.i32()?;
    let jobs = out.column("jobs")?.cast(&DataType::UInt64)?;
    let jobs = jobs.u64()?;
    let stat = |name: &str| -> PolarsResult<Vec<u64>> {
        let values = out.column(name)?.f64()?;
        Ok((0..out.height()).map(|i| values.get(i).unwrap_or(0.0).round().max(0.0) as u64).collect())
    };
    let (p50, p90, p99, mean, max) = (stat("p50")?, stat("p90")?, stat("p99")?, stat("mean")?, stat("max")?);
    let mut records = Vec::with_capacity(out.height());
    for i in 0..out.height() {
        let t = targets[target.get(i).unwrap_or(0) as usize];
        let begin = NaiveDate::from_num_days_from_ce_opt(start.get(i).unwrap_or(0) + EPOCH_DAYS_CE).unwrap_or_default();
        records.push(serde_json::json!({
            "kind": "queue_time",
            "period_start": begin.to_string(),
            "period_end": period.end_of(begin).to_string(),
            "resource": t.resource, "region": t.region, "tier": t.tier,
            "jobs": jobs.get(i).unwrap_or(0),
            "p50_seconds": p50[i], "p90_seconds": p90[i], "p99_seconds": p99[i],
            "mean_seconds": mean[i], "max_seconds": max[i],
        }));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            gatelog::records::Record::parse(record.clone()).expect("the server would take it");
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
