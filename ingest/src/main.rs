//! `gatelog-collect`: the collectors' command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gatelog_collect::client::{Client, MAX_BATCH};
use gatelog_collect::pbs::{self, QueueMap};
use gatelog_collect::sacct::{self, PartitionMap, Period, WaitFrom};
use gatelog_collect::{feeds, generate, import, prometheus, report};

/// Collectors for Gatelog: published feeds, Slurm accounting data, bulk CSV import.
/// Every record goes through the site's push API with a provider token.
#[derive(Debug, Parser)]
#[command(name = "gatelog-collect", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where records are sent.
#[derive(Debug, Clone, clap::Args)]
struct Target {
    /// The Gatelog site, e.g. https://gatelog.example.org
    #[arg(long, env = "GATELOG_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The provider's API token (gl_…)
    #[arg(long, env = "GATELOG_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

impl Target {
    fn client(&self) -> Result<Client, String> {
        let token = self.token.as_deref().ok_or("no token: pass --token or set GATELOG_TOKEN")?;
        Ok(Client::new(&self.url, token))
    }
}

/// What a collector does with its records, and how it reports.
#[derive(Debug, Clone, clap::Args)]
struct Output {
    /// Print the records as NDJSON on stdout (exactly the bodies it would post) and send nothing
    #[arg(long, conflicts_with = "json")]
    dry_run: bool,
    /// Also print the report as one JSON object on stdout
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

impl Output {
    /// Prints the records as NDJSON on stdout (a dry run: `None`) or sends them (nothing
    /// to send needs no token).
    fn deliver(&self, records: &[serde_json::Value]) -> Result<Option<report::Pushed>, String> {
        if self.dry_run {
            let mut out = std::io::stdout().lock();
            for record in records {
                writeln!(out, "{record}").map_err(|e| e.to_string())?;
            }
            return Ok(None);
        }
        if records.is_empty() {
            return Ok(Some(report::Pushed::default()));
        }
        report::push(&self.target.client()?, records).map(Some).map_err(|e| e.to_string())
    }

    /// With `--json`, the report as one JSON object on stdout (docs/COLLECTORS.md): the
    /// same for every collector but its `summary`; `pushed` is null on a dry run.
    fn report(
        &self,
        collector: &str,
        summary: serde_json::Value,
        records: usize,
        pushed: Option<report::Pushed>,
        started: std::time::Instant,
    ) {
        if !self.json {
            return;
        }
        let report = serde_json::json!({
            "collector": collector,
            "summary": summary,
            "records": records,
            "pushed": pushed.map(|p| p.to_json()),
            "seconds": started.elapsed().as_secs_f64(),
        });
        println!("{report}");
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Poll the feeds of a TOML config on their schedules and push what they publish
    Run {
        /// The feeds config
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Poll every feed once and exit (non-zero if any failed)
        #[arg(long)]
        once: bool,
        /// Largest feed body read, in bytes, for feeds without their own max_bytes
        #[arg(long, value_name = "BYTES", default_value_t = feeds::DEFAULT_MAX_BYTES,
              value_parser = clap::value_parser!(u64).range(1..))]
        max_feed_bytes: u64,
    },
    /// Turn `sacct --parsable2` output (plain or gzip; - for stdin) into queue_time records and push them
    Sacct {
        /// The sacct output
        file: String,
        /// Partition map: [partitions.<name>] with resource, region and tier
        #[arg(long, value_name = "FILE")]
        partitions: PathBuf,
        /// Measure waits from Eligible (default: time waiting for the scheduler) or Submit
        #[arg(long, default_value = "eligible", value_parser = ["eligible", "submit"])]
        wait_from: String,
        /// Group jobs by month (default) or quarter of their start
        #[arg(long, default_value = "month", value_parser = ["month", "quarter"])]
        period: String,
        #[command(flatten)]
        output: Output,
    },
    /// Turn PBS Pro / OpenPBS accounting logs (day files, plain or gzip) into queue_time records and push them
    ///
    /// Exit codes: 0 records sent (or printed with --dry-run); 1 the run failed (unreadable or
    /// non-PBS input, bad queue map, the site refused or was unreachable); 2 wrong command line;
    /// 3 no job counted, so nothing was sent (wrong files or queue map?).
    Pbs {
        /// The accounting files, e.g. /var/spool/pbs/server_priv/accounting/202610*
        #[arg(required = true, value_name = "FILES")]
        files: Vec<PathBuf>,
        /// Queue map: [queues.<name>] with resource, region and tier
        #[arg(long, value_name = "FILE")]
        queues: PathBuf,
        /// Group jobs by month (default) or quarter of their start (UTC)
        #[arg(long, default_value = "month", value_parser = ["month", "quarter"])]
        period: String,
        #[command(flatten)]
        output: Output,
    },
    /// Ask a Prometheus for wait-time histograms (e.g. Kueue's) per closed period and push queue_time records
    ///
    /// Exit codes as `pbs`: 0 sent (or printed); 1 failed; 2 wrong command line; 3 no record to send.
    Prometheus {
        /// The config: url, from, period and [[series]] with metric, queue_label and [series.queues.<name>]
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        #[command(flatten)]
        output: Output,
    },
    /// Import a historical CSV (one record kind) in batches; resumable after interruption
    Import {
        /// The CSV file (header row, one record per row)
        file: PathBuf,
        /// Record kind of every row
        #[arg(long)]
        kind: String,
        /// Rows per request (at most 10000)
        #[arg(long, default_value_t = 5000)]
        batch: usize,
        #[command(flatten)]
        target: Target,
    },
    /// Write synthetic sacct --parsable2 output (for tests and benchmarks)
    GenSacct {
        /// Lines to write (jobs and their steps)
        #[arg(long, default_value_t = 100_000)]
        rows: u64,
        /// Output file (.gz to compress); default stdout
        #[arg(long)]
        out: Option<PathBuf>,
        /// Seed (same seed, same file)
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Months of history, ending with the last full month
        #[arg(long, default_value_t = 12)]
        months: u32,
    },
    /// Write synthetic PBS accounting logs, one file per day, with every odd form (for tests and benchmarks)
    GenPbs {
        /// E and R records to write
        #[arg(long, default_value_t = 100_000)]
        records: u64,
        /// Directory for the day files (created if missing)
        #[arg(long)]
        dir: PathBuf,
        /// Seed (same seed, same files)
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Months of history, ending with the last full month
        #[arg(long, default_value_t = 12)]
        months: u32,
        /// Gzip every other day's file
        #[arg(long)]
        gzip: bool,
        /// Also write each job's Q and S records
        #[arg(long)]
        queued_and_started: bool,
    },
}

/// Epoch seconds of the first day `months` before the start of this month, and of three
/// days before the start of this month: the submissions of a generated history.
fn history(months: u32) -> (i64, i64) {
    let today = chrono::Utc::now().date_naive();
    let end = chrono::NaiveDate::from_ymd_opt(chrono::Datelike::year(&today), chrono::Datelike::month(&today), 1)
        .unwrap_or(today);
    let start = end - chrono::Months::new(months.max(1));
    let seconds = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp());
    (seconds(start), seconds(end) - 86_400 * 3)
}

/// Exit code of a collector that read its input but counted no job (docs/COLLECTORS.md).
const NOTHING_COUNTED: u8 = 3;

/// What was done with the records, for the human line.
fn outcome(records: usize, pushed: Option<report::Pushed>) -> String {
    pushed.map_or_else(|| format!("{records} records printed, none sent (dry run)"), |p| p.human())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Run { config, once, max_feed_bytes } => {
            let mut config = feeds::Config::load(&config)?;
            config.default_max_bytes(max_feed_bytes);
            let failures = feeds::run(&config, once, feeds::Retry::default());
            Ok(if failures > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
        Command::Sacct { file, partitions, wait_from, period, output } => {
            let map = PartitionMap::load(&partitions)?;
            let from = if wait_from == "submit" { WaitFrom::Submit } else { WaitFrom::Eligible };
            let period = if period == "quarter" { Period::Quarter } else { Period::Month };
            let now = chrono::Utc::now().timestamp();
            let started = std::time::Instant::now();
            let (records, summary) = sacct::collect_path(&file, &map, from, period, now)?;
            for (skip, (count, first)) in &summary.skipped.0 {
                eprintln!("  skipped {count}: {} (first on line {first})", skip.reason());
            }
            for (partition, count) in &summary.unmapped {
                eprintln!("  partition {partition:?} is not in {}: {count} jobs", partitions.display());
            }
            let pushed = output.deliver(&records)?;
            eprintln!(
                "sacct: {file}: {} lines, {} jobs counted, {} skipped; {}; {:.1} s",
                summary.jobs,
                summary.jobs - summary.skipped.total(),
                summary.skipped.total(),
                outcome(records.len(), pushed),
                started.elapsed().as_secs_f64()
            );
            output.report("sacct", summary.to_json(), records.len(), pushed, started);
            Ok(ExitCode::SUCCESS)
        }
        Command::Pbs { files, queues, period, output } => {
            let map = QueueMap::load(&queues)?;
            let period = if period == "quarter" { Period::Quarter } else { Period::Month };
            let started = std::time::Instant::now();
            let (records, summary) =
                pbs::collect(&files, &map, period, chrono::Utc::now().timestamp()).map_err(|e| e.to_string())?;
            for (skip, (count, first)) in &summary.skipped.0 {
                eprintln!("  skipped {count}: {} (first at {})", skip.reason(), summary.place(*first));
            }
            for (queue, count) in &summary.unmapped {
                eprintln!("  queue {queue:?} is not in {}: {count} records", queues.display());
            }
            let pushed = output.deliver(&records)?;
            eprintln!(
                "pbs: {} files, {} lines, {} jobs counted ({} waits from qtime: no etime), {} lines skipped; {}; {:.1} s",
                summary.files.len(),
                summary.lines,
                summary.jobs,
                summary.from_qtime,
                summary.skipped.total(),
                outcome(records.len(), pushed),
                started.elapsed().as_secs_f64()
            );
            output.report("pbs", summary.to_json(), records.len(), pushed, started);
            Ok(if summary.jobs == 0 { ExitCode::from(NOTHING_COUNTED) } else { ExitCode::SUCCESS })
        }
        Command::Prometheus { config, output } => {
            let config = prometheus::Config::load(&config)?;
            let started = std::time::Instant::now();
            let source = prometheus::Prometheus::new(&config.url);
            let done = match &config.state {
                Some(path) => prometheus::load_state(path)?,
                None => Default::default(),
            };
            let (records, summary) = prometheus::collect(&config, &source, chrono::Utc::now().timestamp(), &done)?;
            for (metric, queue, start, why) in &summary.refused {
                eprintln!("  not reported: {metric} {queue} from {start}: {why}");
            }
            for (queue, periods) in &summary.unmapped {
                eprintln!("  queue {queue:?} is not in the config: {periods} periods");
            }
            let pushed = output.deliver(&records)?;
            // Remembered only once sent: a dry run or a failed push asks again next time.
            if let (Some(path), Some(_)) = (&config.state, pushed) {
                prometheus::save_state(path, &done.union(&summary.asked).cloned().collect())?;
            }
            eprintln!(
                "prometheus: {} queries, {} records, {} not reported (percentile in +Inf); {}; {:.1} s",
                summary.queries,
                records.len(),
                summary.refused.len(),
                outcome(records.len(), pushed),
                started.elapsed().as_secs_f64()
            );
            output.report("prometheus", summary.to_json(), records.len(), pushed, started);
            Ok(if records.is_empty() { ExitCode::from(NOTHING_COUNTED) } else { ExitCode::SUCCESS })
        }
        Command::Import { file, kind, batch, target } => {
            let kind = gatelog_core::records::RecordKind::OPTIONS
                .iter()
                .find(|(name, _)| *name == kind)
                .map(|(_, k)| *k)
                .ok_or_else(|| format!("--kind {kind:?}: use queue_time, acceptance, price, lockup or capacity"))?;
            if batch == 0 || batch > MAX_BATCH {
                return Err(format!("--batch {batch}: between 1 and {MAX_BATCH}"));
            }
            let client = target.client()?;
            let started = std::time::Instant::now();
            let summary = import::run(&client, &file, kind, batch, true).map_err(|e| e.to_string())?;
            eprintln!(
                "{}: {} created, {} amended, {} duplicate, {} rejected in {:.1} s",
                file.display(),
                summary.created,
                summary.amended,
                summary.duplicate,
                summary.rejected,
                started.elapsed().as_secs_f64()
            );
            if summary.rejected > 0 {
                eprintln!("rejected rows and why: {}", import::side_files(&file).1.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::GenSacct { rows, out, seed, months } => {
            let (first, last) = history(months);
            match out {
                None => {
                    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
                    generate::write(&mut stdout, rows, first, last, seed).map_err(|e| e.to_string())?;
                }
                Some(path) => {
                    let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                    let buffered = std::io::BufWriter::with_capacity(1 << 20, file);
                    if path.extension().is_some_and(|e| e == "gz") {
                        let mut encoder = flate2::write::GzEncoder::new(buffered, flate2::Compression::fast());
                        generate::write(&mut encoder, rows, first, last, seed).map_err(|e| e.to_string())?;
                        encoder.finish().map_err(|e| e.to_string())?;
                    } else {
                        let mut buffered = buffered;
                        generate::write(&mut buffered, rows, first, last, seed).map_err(|e| e.to_string())?;
                        buffered.flush().map_err(|e| e.to_string())?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::GenPbs { records, dir, seed, months, gzip, queued_and_started } => {
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let (first, last) = history(months);
            let options = pbs::generate::Options { end_records: records, first, last, seed, gzip, queued_and_started };
            let written = pbs::generate::write_days(&dir, &options, |_| {}).map_err(|e| e.to_string())?;
            eprintln!("{}: {} files, {} lines", dir.display(), written.files.len(), written.lines);
            Ok(ExitCode::SUCCESS)
        }
    }
}
