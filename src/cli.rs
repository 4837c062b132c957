//! The `gatelog` command line: one binary, one subcommand per job.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::admin::{self, AdminError, ProviderCommand, ReporterCommand, TokenCommand};
use crate::config::{self, ConfigError, ServeConfig};
use crate::db::{Database, DbError};
use crate::ledger::keys::{self, KeyFileError};
use crate::ledger::note::{NoteError, NoteVerifier};
use crate::ledger::verify::{self, RemoteError};
use crate::monitor::{MonitorError, MonitorOptions};
use crate::server::{self, ServeError};

/// Gatelog: a public, verifiable ledger of who gets access to compute, and on what terms.
///
/// Without DATABASE_URL, Gatelog runs its own private PostgreSQL cluster in the
/// data directory (PostgreSQL's server binaries must be installed).
#[derive(Debug, Parser)]
#[command(name = "gatelog", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Settings shared by every subcommand.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Settings shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Use this PostgreSQL server instead of the embedded cluster
    /// (postgres://user:password@host:port/database)
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// Gatelog's data directory, holding the embedded cluster
    /// [default: ~/.local/share/gatelog; /var/lib/gatelog when run as root]
    #[arg(long, env = "GATELOG_DATA_DIR", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Directory with PostgreSQL's initdb, pg_ctl and postgres
    /// [default: searched in PATH, `pg_config --bindir`, /usr/lib/postgresql/*/bin]
    #[arg(long, env = "GATELOG_PG_BINDIR", global = true, value_name = "DIR")]
    pub pg_bindir: Option<PathBuf>,

    /// The log's signing key file (created on first `serve` if this is left at its default)
    /// [default: <data-dir>/signing.key]
    #[arg(long, env = "GATELOG_SIGNING_KEY", global = true, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,

    /// The log's origin line (the signing key's name), used when a key is created
    #[arg(long, env = "GATELOG_ORIGIN", global = true, default_value = "localhost/gatelog", value_name = "ORIGIN")]
    pub origin: String,

    /// Log filter, e.g. `info` or `gatelog=debug,tower_http=debug`
    #[arg(long, env = "GATELOG_LOG", global = true, default_value = "info", value_name = "FILTER")]
    pub log: String,

    /// Log lines as `text` (for people) or `json` (one object per line, for log collectors)
    #[arg(long, env = "GATELOG_LOG_FORMAT", global = true, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

/// The subcommands. Later issues add `export` and `collect` here.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the public site and the API (applies pending migrations first)
    Serve(ServeArgs),
    /// Apply pending database migrations, then exit
    Migrate,
    /// Register and inspect providers
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Issue, list and revoke providers' and reporters' API tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// Register reporters (who file sourced reports about providers), and distrust or trust them
    #[command(subcommand)]
    Reporter(ReporterCommand),
    /// Load the synthetic demo world through the ingest path (idempotent)
    #[command(subcommand)]
    Demo(DemoCommand),
    /// Check a receipt offline: signature, leaf hash and inclusion proof
    VerifyReceipt(VerifyReceiptArgs),
    /// Write a new Ed25519 checkpoint signing key (mode 0600) and print its verifier key
    Keygen(KeygenArgs),
    /// For provider engineers: sign NDJSON records (stdin) with a record-signing key, writing each
    /// with its `signature` added (stdout), ready for POST /api/v1/records
    SignRecords(SignRecordsArgs),
    /// Recompute every hash from the entries and check every checkpoint; exit 0 only if all holds
    Verify(VerifyArgs),
    /// Follow a remote Gatelog's checkpoints and alert on a fork or rollback
    /// (exit 0: consistent; 1: alert; 2: could not check)
    Monitor(MonitorArgs),
    /// Export datasets
    #[command(subcommand)]
    Export(ExportCommand),
    /// Run a C2SP tlog-witness for Gatelog logs, or make its key
    #[command(subcommand)]
    Witness(WitnessCommand),
    /// Dump the database (one consistent pg_dump) with the verifier key and latest checkpoint beside it
    Backup {
        /// The dump file to write (FILE.vkey and FILE.checkpoint are written beside it)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Restore a backup into an empty database (one transaction), then check it with `gatelog verify --vkey`
    Restore {
        /// The dump written by `gatelog backup`
        file: PathBuf,
    },
}

/// `gatelog export ...`
#[derive(Debug, Clone, Subcommand)]
pub enum ExportCommand {
    /// Write every dataset in every format, pinned to one checkpoint, with SHA256SUMS,
    /// the signed checkpoint and a Frictionless datapackage.json; never overwrites
    Snapshot {
        /// Directory to create (an existing one must be empty or hold this very snapshot)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Pin to the checkpoint of this many entries [default: the latest]
        #[arg(long, value_name = "N")]
        tree_size: Option<u64>,
    },
    /// Stream one dataset (as /data/{dataset}.{format} serves it) to a file or stdout
    Dataset(ExportDatasetArgs),
}

/// Flags of `gatelog export dataset`.
#[derive(Debug, Clone, Args)]
pub struct ExportDatasetArgs {
    /// The dataset (as listed on /data), e.g. prices
    pub name: String,
    /// csv, ndjson or parquet
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// Output file [default: stdout]
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Only this provider
    #[arg(long)]
    pub provider: Option<String>,
    /// Only this resource
    #[arg(long)]
    pub resource: Option<String>,
    /// Only this region
    #[arg(long)]
    pub region: Option<String>,
    /// Only this record kind (entries, compliance)
    #[arg(long)]
    pub kind: Option<String>,
    /// From this date (YYYY-MM-DD)
    #[arg(long)]
    pub from: Option<String>,
    /// Up to this date (YYYY-MM-DD)
    #[arg(long)]
    pub to: Option<String>,
    /// Every version of each record, with the amendment chain
    #[arg(long)]
    pub include_superseded: bool,
}

/// `gatelog demo ...`
#[derive(Debug, Clone, Subcommand)]
pub enum DemoCommand {
    /// Register the demo providers and submit two years of their disclosures
    Load {
        /// Seed of the generator (same seed, same world)
        #[arg(long, default_value_t = crate::demo::DEFAULT_SEED)]
        seed: u64,
    },
}

/// Flags of `gatelog verify-receipt`.
#[derive(Debug, Clone, Args)]
pub struct VerifyReceiptArgs {
    /// The receipt: JSON (as served at /api/v1/receipts/{index}) or a C2SP tlog-proof
    /// file (as served at /api/v1/receipts/{index}.tlog-proof), told apart by its first line
    pub file: PathBuf,
    /// The log's verifier key (C2SP vkey), obtained out of band; repeatable
    #[arg(long = "vkey", value_name = "VKEY", required = true)]
    pub vkeys: Vec<String>,
    /// tlog-proof only: the entry's bytes; by default the proof's extra data, which Gatelog
    /// fills with them (trusted only because their leaf hash is then proven)
    #[arg(long, value_name = "FILE")]
    pub entry: Option<PathBuf>,
    /// tlog-proof only: a trusted witness's verifier key (C2SP vkey of type 0x04); repeatable
    #[arg(long = "witness", value_name = "VKEY")]
    pub witnesses: Vec<String>,
    /// tlog-proof only: how many of the --witness keys must have cosigned [default: all]
    #[arg(long, value_name = "N")]
    pub min_witnesses: Option<usize>,
}

/// `gatelog witness ...`
#[derive(Debug, Clone, Subcommand)]
pub enum WitnessCommand {
    /// Write a new witness (cosigner, type 0x04) key, mode 0600, and print its vkey
    Keygen {
        /// The witness's name, a schema-less URL such as witness.example.org/w1
        name: String,
        /// Where to write the key (never overwritten)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Serve POST /add-checkpoint: cosign each log's checkpoints only if they extend the last one cosigned
    Serve {
        /// The witness's private key (from `gatelog witness keygen`)
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// A log to witness, by its checkpoint verifier key (repeatable)
        #[arg(long = "log-vkey", value_name = "VKEY", required = true)]
        logs: Vec<String>,
        /// Where to keep the latest cosigned checkpoint of each log (survives restarts; required)
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
        /// Address to listen on
        #[arg(long, default_value = "127.0.0.1:8090", value_name = "IP:PORT")]
        listen: String,
    },
}

/// Flags of `gatelog keygen`.
#[derive(Debug, Clone, Args)]
pub struct KeygenArgs {
    /// Where to write the key (never overwritten)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Flags of `gatelog sign-records`.
#[derive(Debug, Clone, Args)]
pub struct SignRecordsArgs {
    /// The provider's private key file (as `gatelog provider keygen` writes it; mode 0600)
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The provider the records are filed for [default: the key's name, which must be it]
    #[arg(long, value_name = "SLUG")]
    pub provider: Option<String>,
}

/// Flags of `gatelog verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Verify a remote Gatelog from its public checkpoint and tiles alone, like an outside monitor
    #[arg(long, value_name = "URL")]
    pub from_url: Option<String>,

    /// Check a snapshot directory instead: recompute every file from the ledger at its checkpoint
    #[arg(long, value_name = "DIR", conflicts_with = "from_url")]
    pub snapshot: Option<PathBuf>,

    /// Trusted verifier key(s) for checkpoints (C2SP vkey: name+id+key); repeatable
    /// [default: the local signing key's; with --from-url, the key the log serves, with a warning]
    #[arg(long = "vkey", value_name = "VKEY")]
    pub vkeys: Vec<String>,

    /// Re-derive every published dataset from the entries and compare it, cell by cell, with a
    /// snapshot: the site's (--from-url; also its live exports if still at that checkpoint) or a
    /// directory (--snapshot, entries from the local database)
    #[arg(long)]
    pub figures: bool,

    /// With --figures: the snapshot to check, by tree size [default: the newest the site offers]
    #[arg(long, value_name = "N", requires = "figures")]
    pub tree_size: Option<u64>,
}

/// Flags of `gatelog monitor`.
#[derive(Debug, Clone, Args)]
pub struct MonitorArgs {
    /// The log's public address, e.g. https://gatelog.example
    #[arg(long, value_name = "URL")]
    pub url: String,

    /// JSON file holding every checkpoint accepted so far (created on the first run)
    #[arg(long, value_name = "FILE")]
    pub state: PathBuf,

    /// The log's verifier key (C2SP vkey), obtained out of band; required on the first run,
    /// then read from the state file (a different one is refused)
    #[arg(long, value_name = "VKEY")]
    pub vkey: Option<String>,

    /// Check again every SECONDS until an alert or an error [default: check once]
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub every: Option<u64>,

    /// A witness whose cosignature counts (its cosigner vkey; repeatable): the log's
    /// /checkpoint/witnessed must carry --quorum of them and extend what was accepted
    #[arg(long = "witness", value_name = "VKEY")]
    pub witnesses: Vec<String>,

    /// How many of the --witness keys must have cosigned [default: all of them]
    #[arg(long, value_name = "K", requires = "witnesses")]
    pub quorum: Option<usize>,
}

/// Flags of `gatelog serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, env = "GATELOG_ADDR", default_value = "127.0.0.1:8080", value_name = "IP:PORT")]
    pub addr: String,

    /// Load the demo data set (idempotent) before serving
    #[arg(long, env = "GATELOG_DEMO")]
    pub demo: bool,

    /// Directory served under /static [default: the static/ folder of the source tree]
    #[arg(long, env = "GATELOG_STATIC_DIR", value_name = "DIR", hide = true)]
    pub static_dir: Option<PathBuf>,

    /// Write-API requests per second each token may sustain (429 with Retry-After beyond)
    #[arg(long, env = "GATELOG_INGEST_RATE", default_value = "10", value_name = "N")]
    pub ingest_rate: String,

    /// Write-API requests a token may send at once before the rate applies
    #[arg(long, env = "GATELOG_INGEST_BURST", default_value = "30", value_name = "N")]
    pub ingest_burst: String,

    /// The site's public address, used in permalinks and citations [default: http://ADDR]
    #[arg(long, env = "GATELOG_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// Requests per second each client address may sustain, every route (0: no per-address limit,
    /// e.g. behind a reverse proxy, where every request comes from the proxy)
    #[arg(long, env = "GATELOG_PER_IP_RATE", default_value_t = 50, value_name = "N")]
    pub per_ip_rate: u32,

    /// Requests a client address may send at once before its rate applies
    #[arg(long, env = "GATELOG_PER_IP_BURST", default_value_t = 200, value_name = "N")]
    pub per_ip_burst: u32,

    /// Requests served at once; beyond it the server answers 503 with Retry-After at once
    #[arg(long, env = "GATELOG_MAX_CONCURRENT", default_value_t = crate::DEFAULT_MAX_CONCURRENT, value_name = "N")]
    pub max_concurrent: usize,

    /// Hours between checkpoint-pinned snapshots of every dataset, served under /data/snapshots/ (0: off)
    #[arg(long, env = "GATELOG_SNAPSHOT_EVERY", default_value = "24", value_name = "HOURS")]
    pub snapshot_every: String,

    /// A witness to ask for cosignatures: '<vkey> <url>' (repeat the flag; in the variable, one per line)
    #[arg(long = "witness", env = "GATELOG_WITNESSES", value_delimiter = '\n', value_name = "VKEY URL")]
    pub witnesses: Vec<String>,

    /// Milliseconds a page view waits for a new checkpoint's figures before it is served the
    /// previous checkpoint's (each page names its checkpoint)
    #[arg(long, env = "GATELOG_FRESH_WAIT_MS", default_value_t = 250, value_name = "MS")]
    pub fresh_wait_ms: u64,

    /// Seconds between rounds of asking the witnesses to cosign the newest checkpoint
    #[arg(long, env = "GATELOG_WITNESS_EVERY", default_value_t = 10, value_name = "SECONDS")]
    pub witness_every: u64,

    /// Days an Idempotency-Key of the write API is remembered; after that it counts as unused
    /// and is deleted
    #[arg(long, env = "GATELOG_IDEMPOTENCY_DAYS", default_value = "30", value_name = "DAYS")]
    pub idempotency_days: String,

    /// Write-API requests per second each reporter token may sustain (reporters have their own,
    /// lower limit than providers)
    #[arg(long, env = "GATELOG_REPORT_RATE", default_value = "1", value_name = "N")]
    pub report_rate: String,

    /// Write-API requests a reporter token may send at once before its rate applies
    #[arg(long, env = "GATELOG_REPORT_BURST", default_value = "5", value_name = "N")]
    pub report_burst: String,

    /// Days after which a report without the provider's answer is shown as unanswered and
    /// counted in the compliance report
    #[arg(long, env = "GATELOG_UNANSWERED_DAYS", default_value = "30", value_name = "DAYS")]
    pub unanswered_days: String,
}

/// Why a command failed; printed as one line by `main`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad flag or variable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Database could not be opened or migrated.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The server failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// The signing key could not be read or written.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// An operator command failed.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// A `--vkey` is malformed.
    #[error("invalid --vkey: {0}")]
    Vkey(NoteError),
    /// A remote log could not be fetched.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// The demo could not be loaded.
    #[error(transparent)]
    Demo(#[from] crate::demo::DemoError),
    /// A receipt did not verify or could not be read.
    #[error("receipt {path}: {reason}")]
    Receipt {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Verification found differences (already printed).
    #[error("verification failed: {0} differences (listed above)")]
    VerifyFailed(u64),
    /// An export could not be produced.
    #[error("{0}")]
    Export(String),
    /// A backup or restore failed.
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
    /// A snapshot could not be written or read.
    #[error(transparent)]
    Snapshot(#[from] crate::datasets::snapshot::SnapshotError),
    /// Records could not be signed.
    #[error("sign-records: {0}")]
    Sign(String),
    /// The monitor raised an alert (evidence already printed) or could not check the log.
    #[error(transparent)]
    Monitor(#[from] MonitorError),
    /// Published figures could not be re-derived.
    #[error(transparent)]
    Figures(#[from] crate::figures::FiguresError),
    /// The witness could not start.
    #[error("witness: {0}")]
    Witness(String),
}

/// `gatelog verify-receipt`: checks a JSON receipt or a C2SP tlog-proof offline and
/// returns the line to print. A tlog-proof is checked against the policy of the flags:
/// the log's signature by a `--vkey`, the inclusion proof of the entry's leaf hash up to
/// the signed root, and cosignatures by at least `--min-witnesses` of the `--witness` keys
/// (see [`crate::ledger::tlog_proof`]); then the entry bytes must be a Gatelog entry
/// whose own index is the proof's.
pub fn verify_receipt(args: &VerifyReceiptArgs) -> Result<String, CliError> {
    use crate::ledger::tlog_proof::{HEADER, Policy, TlogProof};
    use crate::witness::cosignature::CosignerVerifier;

    let fail = |reason: String| CliError::Receipt { path: args.file.display().to_string(), reason };
    let keys: Vec<NoteVerifier> =
        args.vkeys.iter().map(|v| NoteVerifier::parse(v)).collect::<Result<_, _>>().map_err(CliError::Vkey)?;
    let text = std::fs::read_to_string(&args.file).map_err(|e| fail(e.to_string()))?;
    if !text.starts_with(&format!("{HEADER}\n")) {
        if args.entry.is_some() || !args.witnesses.is_empty() || args.min_witnesses.is_some() {
            return Err(fail("--entry, --witness and --min-witnesses apply to tlog-proof receipts only".into()));
        }
        let receipt: crate::ingest::Receipt =
            serde_json::from_str(&text).map_err(|e| fail(format!("neither a tlog-proof nor a JSON receipt: {e}")))?;
        let verified = crate::ingest::verify_receipt(&receipt, &keys).map_err(fail)?;
        return Ok(format!(
            "receipt OK: entry {} ({} {} received {}) is in {} at tree size {}",
            verified.entry_index,
            verified.provider,
            verified.kind,
            verified.received_at,
            verified.origin,
            verified.tree_size
        ));
    }

    let proof = TlogProof::parse(&text).map_err(|e| fail(format!("malformed tlog-proof: {e}")))?;
    let witnesses: Vec<CosignerVerifier> = args
        .witnesses
        .iter()
        .map(|w| CosignerVerifier::parse(w).map_err(|e| fail(format!("invalid --witness: {e}"))))
        .collect::<Result<_, _>>()?;
    let quorum = args.min_witnesses.unwrap_or(witnesses.len());
    let policy = Policy::new(keys, witnesses, quorum).map_err(|e| fail(e.to_string()))?;
    let entry = match &args.entry {
        Some(path) => std::fs::read(path).map_err(|e| fail(format!("--entry {}: {e}", path.display())))?,
        None => proof
            .extra()
            .ok_or_else(|| fail("the proof carries no entry bytes: pass them with --entry FILE".into()))?
            .to_vec(),
    };
    let verified = proof.verify(&entry, &policy).map_err(|e| fail(e.to_string()))?;
    let decoded = crate::ledger::entry::Entry::from_canonical_bytes(&entry)
        .map_err(|e| fail(format!("the entry bytes are not a Gatelog entry: {e}")))?;
    if decoded.index != verified.index {
        return Err(fail(format!("the entry bytes say index {}, the proof {}", decoded.index, verified.index)));
    }
    let witnessed = if verified.cosigned_by.is_empty() {
        String::from("no witness cosignature required")
    } else {
        let each: Vec<String> = verified
            .cosigned_by
            .iter()
            .map(|c| format!("{} at {}", c.witness, c.time.format("%Y-%m-%d %H:%M:%S UTC")))
            .collect();
        format!("cosigned by {} trusted witnesses, {quorum} required ({})", each.len(), each.join(", "))
    };
    Ok(format!(
        "receipt OK: entry {} ({} {} received {}) is in {} at tree size {}; {}",
        verified.index,
        decoded.provider,
        decoded.kind,
        decoded.received_at,
        verified.origin,
        verified.tree_size,
        witnessed
    ))
}

/// Runs the chosen subcommand.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(args) => {
            let config = ServeConfig::from_args(&cli.global, &args)?;
            server::serve(config).await?;
        }
        Command::Migrate => {
            let database = Database::open_for_command(config::database_config(&cli.global)?).await?;
            // An upgraded ledger's projection is folded here rather than by the first `serve`.
            let result = match database.migrate().await {
                Ok(()) => crate::db::projection::catch_up(&database.pool).await.map_err(DbError::from),
                Err(error) => Err(error),
            };
            database.close().await?;
            let folded = result?;
            let applied = crate::db::MIGRATOR.iter().filter(|m| m.migration_type.is_up_migration()).count();
            println!("database is up to date ({applied} migrations, {folded} entries folded into the projection)");
        }
        Command::Keygen(args) => {
            let origin = config::origin(&cli.global)?;
            let signer = keys::create(&args.out, &origin)?;
            println!("wrote {} (mode 0600)", args.out.display());
            println!("vkey: {}", signer.verifier());
        }
        Command::Provider(ProviderCommand::Keygen { slug, out }) => {
            // Run by the provider, wherever it signs records: no database needed.
            let slug = crate::records::Slug::parse(&slug)
                .map_err(|e| AdminError::Invalid { flag: "slug", reason: format!("{slug:?} {e}") })?;
            let signer = keys::create(&out, slug.as_str())?;
            println!("wrote {} (mode 0600); keep it with the systems that sign {slug}'s records", out.display());
            println!("vkey: {}", signer.verifier());
            println!("register it: gatelog provider key add {slug} --vkey {}", signer.verifier());
        }
        Command::SignRecords(args) => sign_records(&args, std::io::stdin().lock(), std::io::stdout().lock())?,
        Command::Verify(args) if args.figures => verify_figures(&cli.global, &args).await?,
        Command::Verify(args) if args.snapshot.is_some() => verify_snapshot(&cli.global, &args).await?,
        Command::Verify(args) => verify_command(&cli.global, &args).await?,
        Command::Monitor(args) => monitor_command(args).await?,
        Command::Witness(command) => witness_command(command).await?,
        Command::Export(ExportCommand::Dataset(args)) => export_dataset(&cli.global, &args).await?,
        Command::Backup { out } => {
            // Never create a key here: the backup names the key that signed the log.
            let key = config::signing_key_config(&cli.global)?;
            let vkey = keys::load(&key.path)?.verifier().to_string();
            let bindir = crate::db::embedded::find_bindir(cli.global.pg_bindir.as_deref())
                .map_err(|e| CliError::Export(e.to_string()))?;
            let database = Database::open_for_command(config::database_config(&cli.global)?).await?;
            let conninfo = crate::backup::conninfo(&database.pool, cli.global.database_url.as_deref());
            let result = crate::backup::backup(&database.pool, &conninfo, &bindir, &out, &vkey).await;
            database.close().await?;
            let size = result?;
            let (vkey_file, checkpoint_file) = crate::backup::side_files(&out);
            println!(
                "backed up the ledger at tree size {size} to {}; verifier key in {}, checkpoint in {}",
                out.display(),
                vkey_file.display(),
                checkpoint_file.display()
            );
        }
        Command::Restore { file } => {
            let bindir = crate::db::embedded::find_bindir(cli.global.pg_bindir.as_deref())
                .map_err(|e| CliError::Export(e.to_string()))?;
            let database = Database::open_for_command(config::database_config(&cli.global)?).await?;
            let result = async {
                database.migrate().await?;
                let conninfo = crate::backup::conninfo(&database.pool, cli.global.database_url.as_deref());
                Ok::<_, CliError>(crate::backup::restore(&database.pool, &conninfo, &bindir, &file).await?)
            }
            .await;
            database.close().await?;
            let size = result?;
            println!(
                "restored {size} entries from {}; check them: gatelog verify --vkey \"$(cat {})\"",
                file.display(),
                crate::backup::side_files(&file).0.display()
            );
        }
        Command::Export(ExportCommand::Snapshot { out, tree_size }) => {
            let database = Database::open_for_command(config::database_config(&cli.global)?).await?;
            let started = std::time::Instant::now();
            let result = match database.migrate().await {
                Ok(()) => {
                    crate::datasets::snapshot::write(&database.pool, &out, tree_size).await.map_err(CliError::from)
                }
                Err(error) => Err(error.into()),
            };
            database.close().await?;
            match result? {
                crate::datasets::snapshot::Written::Created { tree_size, files } => println!(
                    "wrote {files} files to {} (checkpoint {tree_size}) in {:.1} s",
                    out.display(),
                    started.elapsed().as_secs_f64()
                ),
                crate::datasets::snapshot::Written::AlreadyPresent { tree_size } => {
                    println!("{} already holds this snapshot (checkpoint {tree_size}); nothing written", out.display())
                }
            }
        }
        Command::Demo(DemoCommand::Load { seed }) => {
            let key = config::signing_key_config(&cli.global)?;
            let ledger = crate::ledger::Ledger::new(server::load_signer(&key)?);
            let database = Database::open_for_command(config::database_config(&cli.global)?).await?;
            let result = async {
                database.migrate().await?;
                ledger.ensure_checkpoint(&database.pool).await.map_err(ServeError::from)?;
                Ok::<_, CliError>(crate::demo::load(&database.pool, &ledger, seed).await?)
            }
            .await;
            database.close().await?;
            let summary = result?;
            if summary.already_loaded {
                println!("the demo data is already loaded; nothing changed");
            } else {
                println!(
                    "loaded the demo: {} providers, {} records, {} entries appended",
                    summary.new_providers, summary.records, summary.appended
                );
            }
        }
        Command::VerifyReceipt(args) => println!("{}", verify_receipt(&args)?),
        Command::Provider(command) => {
            with_database(&cli.global, |pool| async move { admin::provider(&pool, &command).await }).await?
        }
        Command::Token(command) => {
            with_database(&cli.global, |pool| async move { admin::token(&pool, &command).await }).await?
        }
        Command::Reporter(command) => {
            with_database(&cli.global, |pool| async move { admin::reporter(&pool, &command).await }).await?
        }
    }
    Ok(())
}

/// `gatelog sign-records`: NDJSON records in, the same records validated and signed out,
/// one per line, each with `provider` and `signature` set. Stops at the first bad line.
pub fn sign_records(
    args: &SignRecordsArgs,
    input: impl std::io::BufRead,
    mut output: impl std::io::Write,
) -> Result<(), CliError> {
    use crate::records::signature::RecordSigner;
    use crate::records::{Record, Slug};
    use serde_json::Value;
    let signer = RecordSigner::new(&keys::load(&args.key)?).map_err(|e| CliError::Sign(e.to_string()))?;
    let provider = match &args.provider {
        Some(text) => Slug::parse(text).map_err(|e| CliError::Sign(format!("--provider {text:?} {e}")))?,
        None => signer.provider().clone(),
    };
    let fail = |number: usize, reason: String| CliError::Sign(format!("line {number}: {reason}"));
    for (number, line) in input.lines().enumerate().map(|(i, line)| (i + 1, line)) {
        let line = line.map_err(|e| CliError::Sign(format!("reading stdin: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let Value::Object(mut map) = serde_json::from_str(&line).map_err(|e| fail(number, format!("not JSON: {e}")))?
        else {
            return Err(fail(number, "a record is a JSON object".into()));
        };
        match map.remove("provider") {
            Some(Value::String(named)) if named != provider.as_str() => {
                return Err(fail(number, format!("the record names provider {named:?}, not {provider}")));
            }
            _ => {}
        }
        map.remove("signature");
        let record = Record::parse(Value::Object(map)).map_err(|errors| {
            let reasons: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.field, e.reason)).collect();
            fail(number, reasons.join("; "))
        })?;
        let signature = signer.sign(&provider, &record).map_err(|e| fail(number, e.to_string()))?;
        let mut signed = record.to_submission();
        if let Value::Object(fields) = &mut signed {
            fields.insert("provider".into(), Value::String(provider.to_string()));
            fields.insert("signature".into(), Value::String(signature.to_base64()));
        }
        writeln!(output, "{signed}").map_err(|e| CliError::Sign(format!("writing stdout: {e}")))?;
    }
    output.flush().map_err(|e| CliError::Sign(format!("writing stdout: {e}")))
}

/// Opens and migrates the database, runs `job`, and closes it (stopping an embedded cluster) whatever happens.
async fn with_database<F, Fut>(global: &GlobalArgs, job: F) -> Result<(), CliError>
where
    F: FnOnce(sqlx::PgPool) -> Fut,
    Fut: std::future::Future<Output = Result<(), AdminError>>,
{
    let database = Database::open_for_command(config::database_config(global)?).await?;
    let result = match database.migrate().await {
        Ok(()) => job(database.pool.clone()).await.map_err(CliError::from),
        Err(error) => Err(error.into()),
    };
    database.close().await?;
    result
}

async fn export_dataset(global: &GlobalArgs, args: &ExportDatasetArgs) -> Result<(), CliError> {
    use crate::datasets::{self, Format, Source};
    let names: Vec<&str> = datasets::CATALOG.iter().map(|d| d.name).collect();
    let dataset = datasets::find(&args.name)
        .ok_or_else(|| CliError::Export(format!("no dataset {:?}; datasets: {}", args.name, names.join(", "))))?;
    let format = Format::from_extension(&args.format)
        .ok_or_else(|| CliError::Export(format!("--format {:?}: use csv, ndjson or parquet", args.format)))?;
    let query = datasets::filter::ExportQuery {
        provider: args.provider.clone(),
        resource: args.resource.clone(),
        region: args.region.clone(),
        kind: args.kind.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
        include_superseded: args.include_superseded.then(|| "true".to_owned()),
        bom: None,
    };
    let filter = datasets::filter::ExportFilter::parse(&query, &dataset)
        .map_err(|e| CliError::Export(format!("--{}: {}", e.parameter.replace('_', "-"), e.reason)))?;
    let database = Database::open_for_command(config::database_config(global)?).await?;
    let result = async {
        let derived = matches!(dataset.source, Source::Derived(_));
        let pinned = datasets::snapshot::Pinned::load(&database.pool, None, None, derived).await?;
        let out: Box<dyn std::io::Write + Send> = match &args.out {
            Some(path) => Box::new(std::io::BufWriter::new(
                std::fs::File::create(path).map_err(|e| CliError::Export(format!("{}: {e}", path.display())))?,
            )),
            None => Box::new(std::io::BufWriter::new(std::io::stdout())),
        };
        let export = |e: crate::datasets::source::ExportError| CliError::Export(e.to_string());
        let mut sink = datasets::snapshot::WriteSink::new(&dataset, format, out).map_err(export)?;
        let rows = pinned.render_filtered(&dataset, &filter, &mut sink).await.map_err(export)?;
        sink.finish().map_err(export)?;
        Ok::<_, CliError>((rows, pinned.checkpoint.size))
    }
    .await;
    database.close().await?;
    let (rows, size) = result?;
    tracing::info!(rows, tree_size = size, dataset = dataset.name, "exported");
    Ok(())
}

async fn verify_snapshot(global: &GlobalArgs, args: &VerifyArgs) -> Result<(), CliError> {
    let dir = args.snapshot.clone().unwrap_or_default();
    let database = Database::open_for_command(config::database_config(global)?).await?;
    let result = crate::datasets::snapshot::verify(&database.pool, &dir).await;
    database.close().await?;
    let verified = result?;
    println!(
        "snapshot format {}, methodology version {} (grades recomputed with it)",
        verified.versions.format, verified.versions.methodology
    );
    if !verified.not_listed.is_empty() {
        println!("not in this snapshot (added later), not checked: {}", verified.not_listed.join(", "));
    }
    for check in &verified.checks {
        match (&check.problem, &check.note) {
            (None, None) => println!("ok    {}", check.name),
            (None, Some(note)) => println!("ok    {} ({note})", check.name),
            (Some(problem), _) => println!("FAIL  {}: {problem}", check.name),
        }
    }
    let failed = verified.checks.iter().filter(|c| !c.ok).count() as u64;
    if failed > 0 {
        return Err(CliError::VerifyFailed(failed));
    }
    println!("snapshot OK: {} files recomputed from the ledger at checkpoint {}", verified.checks.len(), verified.size);
    Ok(())
}

async fn verify_command(global: &GlobalArgs, args: &VerifyArgs) -> Result<(), CliError> {
    let mut trusted: Vec<NoteVerifier> =
        args.vkeys.iter().map(|v| NoteVerifier::parse(v)).collect::<Result<_, _>>().map_err(CliError::Vkey)?;
    let report = if let Some(url) = args.from_url.clone() {
        if trusted.is_empty() {
            trusted.push(served_vkey(&url).await?);
        }
        tokio::task::spawn_blocking(move || verify::verify_remote(&url, &trusted))
            .await
            .map_err(|join| RemoteError::Fetch { url: String::new(), reason: join.to_string() })??
    } else {
        if trusted.is_empty() {
            trusted.push(keys::load(&config::signing_key_path(global)?)?.verifier());
        }
        let database = Database::open_for_command(config::database_config(global)?).await?;
        let result = match database.pool.acquire().await {
            Ok(mut conn) => verify::verify_database(&mut conn, &trusted).await,
            Err(error) => Err(error),
        };
        database.close().await?;
        result.map_err(DbError::Query)?
    };
    println!("{report}");
    if report.ok() { Ok(()) } else { Err(CliError::VerifyFailed(report.findings.len() as u64 + report.more_findings)) }
}

/// `gatelog verify --figures --from-url URL`: re-derives every dataset of a published
/// snapshot from the entries alone and lists every cell that differs.
async fn verify_figures(global: &GlobalArgs, args: &VerifyArgs) -> Result<(), CliError> {
    use crate::figures;
    let mut trusted: Vec<NoteVerifier> =
        args.vkeys.iter().map(|v| NoteVerifier::parse(v)).collect::<Result<_, _>>().map_err(CliError::Vkey)?;
    let (mut published, entries, from) = match (&args.from_url, &args.snapshot) {
        (Some(url), _) => {
            if trusted.is_empty() {
                trusted.push(served_vkey(url).await?);
            }
            let (base, size) = (url.clone(), args.tree_size);
            let (published, entries) = tokio::task::spawn_blocking(move || -> Result<_, figures::FiguresError> {
                let published = figures::fetch_published(&base, size)?;
                let entries = figures::fetch_entries(&base, published.size)?;
                Ok((published, entries))
            })
            .await
            .map_err(|join| RemoteError::Fetch { url: url.clone(), reason: join.to_string() })??;
            (published, entries, format!("fetched from {url}"))
        }
        (None, Some(dir)) => {
            if trusted.is_empty() {
                trusted.push(keys::load(&config::signing_key_path(global)?)?.verifier());
            }
            let published = figures::read_published(dir)?;
            let database = Database::open_for_command(config::database_config(global)?).await?;
            let entries = match database.pool.acquire().await {
                Ok(mut conn) => crate::db::ledger::entry_bytes_range(&mut conn, 0, published.size).await,
                Err(error) => Err(error),
            };
            database.close().await?;
            (published, entries.map_err(DbError::Query)?, "read from the local database".to_owned())
        }
        (None, None) => {
            return Err(CliError::Figures(figures::FiguresError::NoSnapshot(
                "--figures compares with a published snapshot: give --from-url URL or --snapshot DIR".into(),
            )));
        }
    };
    let url = args.from_url.clone().unwrap_or_default();
    let checkpoint = figures::check_entries(&entries, &published.note, &trusted)?;
    println!("{} entries {from} match the signed checkpoint of the snapshot at size {}", entries.len(), published.size);
    println!(
        "snapshot format {}, methodology version {}: grades recomputed with version {}",
        published.versions.format, published.versions.methodology, published.methodology.version
    );
    let not_listed: Vec<&str> =
        crate::datasets::CATALOG.iter().filter(|d| !published.datasets.contains(d)).map(|d| d.name).collect();
    if !not_listed.is_empty() {
        println!("not in this snapshot (added later), not checked: {}", not_listed.join(", "));
    }
    for name in &published.unknown {
        println!("NOT CHECKED {name}: not a dataset this gatelog knows (a newer gatelog wrote it)");
    }
    let columns = figures::Columns::of(published.versions);
    if columns == figures::Columns::Published {
        println!(
            "CSV files compared column by column by name: the CSV encoding changed after format {}",
            published.versions.format
        );
    }
    // Folded in memory: no database is needed from here on. Each dataset is rendered, compared
    // with the snapshot's file and the live export, and dropped before the next.
    let rederived = figures::Rederived::new(entries, &checkpoint, &published).await?;
    let live = match &args.from_url {
        Some(url) => {
            let (base, size) = (url.clone(), published.size);
            tokio::task::spawn_blocking(move || figures::live_at(&base, size))
                .await
                .map_err(|join| RemoteError::Fetch { url: url.clone(), reason: join.to_string() })??
        }
        None => false,
    };
    let mut differences = Vec::new();
    for dataset in published.datasets.clone() {
        let (name, ours) = rederived.csv(&dataset).await?;
        differences.extend(figures::compare_file(&name, published.files.remove(&name).as_deref(), &ours, columns));
        if live {
            let base = url.clone();
            let theirs = tokio::task::spawn_blocking(move || figures::fetch_live_file(&base, &dataset))
                .await
                .map_err(|join| RemoteError::Fetch { url: url.clone(), reason: join.to_string() })??;
            for mut difference in figures::compare_file(&name, Some(&theirs), &ours, figures::Columns::Same) {
                difference.source = format!("live /data/ export ({})", difference.source);
                differences.push(difference);
            }
        }
    }
    if args.from_url.is_some() && !live {
        println!("the site has moved past size {}: its live exports were not compared", published.size);
    }
    for difference in &differences {
        println!("DIFFERENCE {difference}");
    }
    let files = published.datasets.len() * if live { 2 } else { 1 };
    if differences.is_empty() {
        println!("figures at size {}: {files} published files re-derived from the entries: OK", published.size);
        Ok(())
    } else {
        Err(CliError::VerifyFailed(differences.len() as u64))
    }
}

/// `gatelog monitor`: alerts exit 1 through `main`; anything that kept the log from
/// being checked exits 2 here, so scripts can tell "the log lied" from "try again".
async fn monitor_command(args: MonitorArgs) -> Result<(), CliError> {
    let vkey = args.vkey.as_deref().map(NoteVerifier::parse).transpose().map_err(CliError::Vkey);
    let vkey = match vkey {
        Ok(vkey) => vkey,
        Err(error) => could_not_check(&error),
    };
    let witnesses = args
        .witnesses
        .iter()
        .map(|w| crate::witness::cosignature::CosignerVerifier::parse(w))
        .collect::<Result<Vec<_>, _>>();
    let witnesses = match witnesses {
        Ok(witnesses) => witnesses,
        Err(error) => could_not_check(&format!("invalid --witness: {error}")),
    };
    let quorum = args.quorum.unwrap_or(witnesses.len());
    if quorum > witnesses.len() {
        could_not_check(&format!("--quorum {quorum} is more than the {} --witness keys given", witnesses.len()));
    }
    let options = MonitorOptions {
        url: args.url,
        state: args.state,
        vkey,
        every: args.every.map(std::time::Duration::from_secs),
        witnesses,
        quorum,
    };
    let result = tokio::task::spawn_blocking(move || {
        crate::monitor::run(&options, |line| {
            println!("{line}");
        })
    })
    .await;
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(MonitorError::Alert(evidence))) => {
            println!("{evidence}");
            Err(MonitorError::Alert(evidence).into())
        }
        Ok(Err(error)) => could_not_check(&error),
        Err(join) => could_not_check(&join),
    }
}

/// Prints the error as `main` would and exits 2 (`main` maps every error to 1).
fn could_not_check(error: &dyn std::fmt::Display) -> ! {
    eprintln!("error: {error}");
    std::process::exit(2)
}

/// The key a remote log says it signs with: trusted only for lack of a better one.
async fn served_vkey(url: &str) -> Result<NoteVerifier, CliError> {
    let endpoint = format!("{}/api/v1/ledger/checkpoint", url.trim_end_matches('/'));
    let fetched = tokio::task::spawn_blocking(move || -> Result<String, RemoteError> {
        let fail = |reason: String| RemoteError::Fetch { url: endpoint.clone(), reason };
        let mut response = ureq::get(&endpoint).call().map_err(|e| fail(e.to_string()))?;
        let text = response.body_mut().read_to_string().map_err(|e| fail(e.to_string()))?;
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
        json["vkey"].as_str().map(str::to_owned).ok_or_else(|| fail("no vkey in the response".into()))
    })
    .await
    .map_err(|join| RemoteError::Fetch { url: url.to_owned(), reason: join.to_string() })??;
    eprintln!("warning: no --vkey given; trusting the key the log itself serves ({fetched})");
    NoteVerifier::parse(&fetched).map_err(CliError::Vkey)
}

async fn witness_command(command: WitnessCommand) -> Result<(), CliError> {
    use crate::witness::cosignature::CosignerKey;
    let failed = |e: &dyn std::fmt::Display| CliError::Witness(e.to_string());
    match command {
        WitnessCommand::Keygen { name, out } => {
            let key = CosignerKey::generate(&name).map_err(|e| failed(&e))?;
            keys::write_private(&out, &key.to_private_text())?;
            println!("wrote {} (mode 0600)", out.display());
            println!("vkey: {}", key.verifier());
        }
        WitnessCommand::Serve { key, logs, state, listen } => {
            let key = CosignerKey::parse(&keys::read_private(&key)?).map_err(|e| failed(&e))?;
            let logs = logs
                .iter()
                .map(|l| NoteVerifier::parse(l).map_err(|e| failed(&format!("--log {l:?}: {e}"))))
                .collect::<Result<Vec<_>, _>>()?;
            let witness =
                crate::witness::server::Witness::new(key.clone(), logs, Some(state)).map_err(|e| failed(&e))?;
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .map_err(|e| failed(&format!("cannot listen on {listen}: {e}")))?;
            let local = listener.local_addr().map_err(|e| failed(&e))?;
            println!("witness {} is serving on http://{local}/add-checkpoint", key.verifier());
            let app = crate::witness::server::router(std::sync::Arc::new(witness));
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await
                .map_err(|e| failed(&e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn every_command_and_flag_is_well_formed() {
        // clap checks names only when a command is parsed: catch clashes (a subcommand
        // flag named like a global one, say) here rather than at an operator's prompt.
        super::Cli::command().debug_assert();
    }
}
