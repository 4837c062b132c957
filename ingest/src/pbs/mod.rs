//! The PBS collector: PBS Professional / OpenPBS accounting logs (one file per day,
//! plain or gzip) to `queue_time` records — one per mapped (resource, region, tier)
//! and period, with the job count and the p50/p90/p99/mean/max wait, by the same
//! rules as the Slurm collector ([`crate::sacct`]).
//!
//! A job's runs come from its E (end) and R (rerun) records; each job counts once,
//! with its earliest start (see [`collect`] for why). The files are read on every
//! core; 24 bytes per run are kept, then sorted twice in place: once to find each
//! job's runs, once to put the waits of each (target, period) in order.

pub mod generate;
pub mod parse;

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

pub use parse::{Location, Skip, Skipped};

use crate::sacct::{EPOCH_DAYS_CE, Period, Target};

/// The queue map file: `[queues.<name>]` tables of resource, region and tier.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueMap {
    /// Queue name → target.
    pub queues: BTreeMap<String, Target>,
}

impl QueueMap {
    /// Reads and checks a map file: every target must be a record the server would take.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let map: Self = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if map.queues.is_empty() {
            return Err(format!("{}: no [queues.<name>] tables", path.display()));
        }
        if map.queues.len() >= usize::from(FROM_QTIME) {
            return Err(format!("{}: more than {} queues", path.display(), FROM_QTIME - 1));
        }
        for (name, target) in &map.queues {
            target.check().map_err(|reasons| format!("{}: queue {name}: {reasons}", path.display()))?;
        }
        Ok(map)
    }
}

/// Why the input is not usable at all (nothing is sent).
#[derive(Debug, thiserror::Error)]
pub enum PbsError {
    /// Opening or reading failed (a truncated gzip lands here).
    #[error("{path}: reading line {line}: {source}")]
    Read {
        path: String,
        /// 1-based line (0 when opening).
        line: u64,
        source: std::io::Error,
    },
    /// No line of a non-empty file is a PBS record.
    #[error(
        "{path}: not a PBS accounting log: no line reads as MM/DD/YYYY HH:MM:SS;TYPE;JOBID;ATTRIBUTES \
         (first line: {first:?}); pass the files under server_priv/accounting"
    )]
    NotPbs {
        path: String,
        /// Its first line, shortened.
        first: String,
    },
    /// More files than a location can name.
    #[error("{0} files in one run: at most 65535 (one run per year or month is plenty)")]
    TooManyFiles(usize),
    /// Nothing to read.
    #[error("no files given")]
    NoFiles,
}

/// What a run found.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// The files read, in the order given (a [`Location`]'s `file` indexes this).
    pub files: Vec<String>,
    /// Non-empty lines read.
    pub lines: u64,
    /// Jobs counted (each once).
    pub jobs: u64,
    /// Of those, jobs whose wait is from `qtime` because their record has no `etime`.
    pub from_qtime: u64,
    /// Skipped lines by reason.
    pub skipped: Skipped,
    /// Records per unmapped queue.
    pub unmapped: BTreeMap<String, u64>,
}

impl Summary {
    /// `file:line` of a location.
    pub fn place(&self, at: Location) -> String {
        let file = self.files.get(usize::from(at.file)).map_or("?", String::as_str);
        format!("{file}:{}", at.line)
    }

    /// The summary as JSON, for the report.
    pub fn to_json(&self) -> serde_json::Value {
        let skipped: serde_json::Map<String, serde_json::Value> = self
            .skipped
            .0
            .iter()
            .map(|(skip, (count, first))| {
                (
                    skip.name().to_owned(),
                    serde_json::json!({"count": count, "first": self.place(*first), "reason": skip.reason()}),
                )
            })
            .collect();
        serde_json::json!({
            "files": self.files.len(),
            "lines": self.lines,
            "jobs": self.jobs,
            "waits_from_qtime": self.from_qtime,
            "skipped": skipped,
            "unmapped_queues": self.unmapped,
        })
    }
}

/// One run as kept until the end: 24 bytes.
#[derive(Debug, Clone, Copy)]
struct Entry {
    job: u64,
    start: u32,
    wait: u32,
    /// Target index; the top bit marks a wait measured from qtime.
    target: u16,
    file: u16,
    line: u32,
}

const FROM_QTIME: u16 = 0x8000;

/// One file's counts.
#[derive(Default)]
struct Part {
    lines: u64,
    malformed: u64,
    first: Option<String>,
    skipped: Skipped,
    unmapped: HashMap<String, u64>,
}

fn read_file(
    path: &str,
    file: u16,
    index: &HashMap<&str, u32>,
    now: i64,
    out: &mut Vec<Entry>,
) -> Result<Part, PbsError> {
    let io = |line: u64| move |source: std::io::Error| PbsError::Read { path: path.to_owned(), line, source };
    let mut input = crate::sacct::open(path).map_err(|message| PbsError::Read {
        path: path.to_owned(),
        line: 0,
        source: std::io::Error::other(message),
    })?;
    let mut part = Part::default();
    let mut buffer = Vec::with_capacity(1024);
    let mut number = 0u32;
    loop {
        buffer.clear();
        number = number.saturating_add(1);
        if input.read_until(b'\n', &mut buffer).map_err(io(u64::from(number)))? == 0 {
            break;
        }
        let at = Location { file, line: number };
        let Ok(line) = std::str::from_utf8(&buffer) else {
            part.lines += 1;
            part.malformed += 1;
            part.skipped.add(Skip::Malformed, at);
            continue;
        };
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            continue;
        }
        part.lines += 1;
        if part.first.is_none() {
            part.first = Some(line.chars().take(80).collect());
        }
        let run = parse::run(line, now).and_then(|run| match index.get(run.queue) {
            Some(&target) => Ok((run, target as u16)),
            None => {
                *part.unmapped.entry(run.queue.to_owned()).or_default() += 1;
                Err(Skip::UnmappedQueue)
            }
        });
        match run {
            Ok((run, target)) => out.push(Entry {
                job: run.job,
                start: run.start,
                wait: run.wait,
                target: target | if run.from_qtime { FROM_QTIME } else { 0 },
                file,
                line: number,
            }),
            Err(skip) => {
                if skip == Skip::Malformed {
                    part.malformed += 1;
                }
                part.skipped.add(skip, at);
            }
        }
    }
    if part.lines > 0 && part.malformed == part.lines {
        return Err(PbsError::NotPbs { path: path.to_owned(), first: part.first.unwrap_or_default() });
    }
    Ok(part)
}

/// Reads accounting logs and aggregates them into `queue_time` records, ordered by
/// resource, region, tier and period. `now` (epoch seconds) bounds start times.
///
/// **Which run counts.** A job rerun (qrerun, node failure, preemption with requeue)
/// has an R record for each ended run and an E record for the last; a server may also
/// write a job's E record twice. The job counts once, with the run that started
/// first, and the wait is that run's start minus the record's `etime` (or `qtime`).
/// The first run because it is the wait a submission saw before getting resources; a
/// later run's record keeps the job's original `qtime` (and, depending on the
/// version, its `etime`), so its start minus those would count the earlier runs'
/// running time as waiting. Runs are the same job when their id and `ctime` agree.
///
/// **Periods.** The month (or quarter) of the counted run's start, in UTC (the epoch
/// times in the attributes are UTC; the date at the head of a line is local time and
/// is not used). A job is counted when its E (or R) record is among the files, so a
/// job started on the 31st and ending on the 2nd needs the next month's first files.
pub fn collect(
    files: &[PathBuf],
    map: &QueueMap,
    period: Period,
    now: i64,
) -> Result<(Vec<serde_json::Value>, Summary), PbsError> {
    if files.is_empty() {
        return Err(PbsError::NoFiles);
    }
    if files.len() > usize::from(u16::MAX) {
        return Err(PbsError::TooManyFiles(files.len()));
    }
    let names: Vec<String> = files.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let (targets, index) = crate::sacct::targets(&map.queues);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(files.len());
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let entries = Mutex::new(Vec::<Entry>::new());
    let parts: Vec<Vec<(usize, Result<Part, PbsError>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    let mut local = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= names.len() || failed.load(Ordering::Relaxed) {
                            return done;
                        }
                        local.clear();
                        let part = read_file(&names[i], i as u16, &index, now, &mut local);
                        if part.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(&local);
                        done.push((i, part));
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    let mut parts: Vec<(usize, Result<Part, PbsError>)> = parts.into_iter().flatten().collect();
    parts.sort_by_key(|(i, _)| *i);
    let mut summary = Summary { files: names, ..Summary::default() };
    let mut unmapped: HashMap<String, u64> = HashMap::new();
    for (_, part) in parts {
        let part = part?;
        summary.lines += part.lines;
        summary.skipped.merge(part.skipped);
        for (queue, count) in part.unmapped {
            *unmapped.entry(queue).or_default() += count;
        }
    }
    summary.unmapped = unmapped.into_iter().collect();
    let entries = entries.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    let keys = count_each_job_once(entries, period, &mut summary);
    Ok((aggregate(&keys, &targets, period), summary))
}

/// Keeps each job's earliest run (counting the others as [`Skip::LaterRun`]) and
/// returns one sort key per job: target (16 bits), period's first day since the
/// epoch (16 bits), wait (32 bits), sorted.
fn count_each_job_once(mut entries: Vec<Entry>, period: Period, summary: &mut Summary) -> Vec<u64> {
    entries.sort_unstable_by_key(|e| (e.job, e.start, e.file, e.line));
    let mut keys = Vec::with_capacity(entries.len());
    // Seconds range of the last period seen and its first day.
    let mut cache = (i64::MAX, i64::MIN, 0u64);
    for (i, e) in entries.iter().enumerate() {
        if i > 0 && entries[i - 1].job == e.job {
            summary.skipped.add(Skip::LaterRun, Location { file: e.file, line: e.line });
            continue;
        }
        if e.target & FROM_QTIME != 0 {
            summary.from_qtime += 1;
        }
        let start = i64::from(e.start);
        if !(cache.0..cache.1).contains(&start) {
            let day = start.div_euclid(86_400) as i32;
            let date = NaiveDate::from_num_days_from_ce_opt(day + EPOCH_DAYS_CE).unwrap_or_default();
            let first = period.start_of(date);
            let seconds = |d: NaiveDate| i64::from(d.num_days_from_ce() - EPOCH_DAYS_CE) * 86_400;
            cache = (seconds(first), seconds(period.end_of(first)), (first.num_days_from_ce() - EPOCH_DAYS_CE) as u64);
        }
        keys.push(u64::from(e.target & !FROM_QTIME) << 48 | cache.2 << 32 | u64::from(e.wait));
    }
    drop(entries);
    summary.jobs = keys.len() as u64;
    keys.sort_unstable();
    keys
}

/// Linear interpolation between the two nearest ranks (DuckDB's `quantile_cont`,
/// polars' `QuantileMethod::Linear`: what the sacct collector uses).
fn quantile(sorted: &[u64], q: f64) -> f64 {
    let wait = |k: usize| f64::from(sorted[k] as u32);
    let position = q * (sorted.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = (low + 1).min(sorted.len() - 1);
    wait(low) + (wait(high) - wait(low)) * (position - low as f64)
}

fn aggregate(keys: &[u64], targets: &[&Target], period: Period) -> Vec<serde_json::Value> {
    let mut records = Vec::new();
    let mut rest = keys;
    while let Some(&first) = rest.first() {
        let group = first >> 32;
        let n = rest.partition_point(|k| k >> 32 == group);
        let (waits, tail) = rest.split_at(n);
        rest = tail;
        let target = targets[(group >> 16) as usize];
        let begin = NaiveDate::from_num_days_from_ce_opt((group & 0xffff) as i32 + EPOCH_DAYS_CE).unwrap_or_default();
        let sum: u128 = waits.iter().map(|k| u128::from(*k as u32)).sum();
        let whole = |x: f64| x.round().max(0.0) as u64;
        let stats = [
            whole(quantile(waits, 0.5)),
            whole(quantile(waits, 0.9)),
            whole(quantile(waits, 0.99)),
            whole(sum as f64 / n as f64),
            u64::from(waits[n - 1] as u32),
        ];
        records.push(target.record(begin, period, n as u64, stats));
    }
    records
}

#[cfg(test)]
mod tests;
