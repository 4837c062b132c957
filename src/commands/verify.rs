//! `gatelog verify log|snapshot|figures`: the three checks anyone can run.
//!
//! - `log`: every hash recomputed from the entry bytes and every checkpoint checked, in the
//!   local database or from a remote log's public checkpoint and tiles alone.
//! - `snapshot DIR`: every file of a snapshot directory recomputed from the local ledger at
//!   the snapshot's checkpoint.
//! - `figures`: every published dataset re-derived from the entries alone (the projection
//!   folded in memory, [`crate::figures`]) and compared cell by cell with a snapshot.
//!
//! Each exits 0 only if everything holds; what differs is printed before the error.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{DatabaseError, InvalidFlag, Schema, with_database};
use crate::config::{self, ConfigError, GlobalArgs};
use crate::datasets::snapshot::SnapshotError;
use crate::figures::{self, FiguresError};
use crate::ledger::keys::{self, KeyFileError};
use crate::ledger::note::NoteVerifier;
use crate::ledger::verify::{self, RemoteError};

/// `gatelog verify ...`
#[derive(Debug, Clone, Subcommand)]
pub enum VerifyCommand {
    /// Recompute every hash from the entries and check every checkpoint, in the local database
    /// or (--from-url) a remote Gatelog's public checkpoint and tiles, like an outside monitor
    Log(LogArgs),
    /// Recompute every file of a snapshot directory from the local ledger at its checkpoint
    Snapshot(SnapshotArgs),
    /// Re-derive every published dataset from the entries alone and compare it, cell by cell,
    /// with a snapshot: a site's (--from-url; also its live exports if still at that checkpoint)
    /// or a directory (--snapshot, entries from the local database)
    Figures(FiguresArgs),
}

/// Flags of `gatelog verify log`.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Verify a remote Gatelog from its public checkpoint and tiles alone [default: the local database]
    #[arg(long, value_name = "URL")]
    pub from_url: Option<String>,

    /// Trusted verifier key(s) for checkpoints (C2SP vkey: name+id+key); repeatable
    /// [default: the local signing key's; with --from-url, the key the log serves, with a warning]
    #[arg(long = "vkey", value_name = "VKEY")]
    pub vkeys: Vec<String>,
}

/// Flags of `gatelog verify snapshot`.
#[derive(Debug, Clone, Args)]
pub struct SnapshotArgs {
    /// The snapshot directory (as `gatelog export snapshot` writes it or /data/snapshots/ serves it)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Flags of `gatelog verify figures`.
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("published").required(true).args(["from_url", "snapshot"])))]
pub struct FiguresArgs {
    /// Compare with the snapshot a remote Gatelog publishes, whose entries are fetched too
    #[arg(long, value_name = "URL")]
    pub from_url: Option<String>,

    /// Compare with a snapshot directory, the entries read from the local database
    #[arg(long, value_name = "DIR")]
    pub snapshot: Option<PathBuf>,

    /// Trusted verifier key(s) for checkpoints (C2SP vkey: name+id+key); repeatable
    /// [default: the local signing key's; with --from-url, the key the log serves, with a warning]
    #[arg(long = "vkey", value_name = "VKEY")]
    pub vkeys: Vec<String>,

    /// With --from-url: the snapshot to check, by tree size [default: the newest the site offers]
    #[arg(long, value_name = "N", requires = "from_url")]
    pub tree_size: Option<u64>,
}

/// Why a verification failed or could not be done.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `--vkey` is malformed.
    #[error(transparent)]
    Vkey(#[from] InvalidFlag),
    /// The local signing key's settings are wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The local signing key could not be read.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// The database could not be opened or closed.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// Reading the ledger failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// A remote log could not be fetched.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// The snapshot directory could not be read or its ledger loaded.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The published figures could not be re-derived.
    #[error(transparent)]
    Figures(#[from] FiguresError),
    /// Verification found differences (already printed).
    #[error("verification failed: {0} differences (listed above)")]
    Failed(u64),
}

pub async fn run(global: &GlobalArgs, command: &VerifyCommand) -> Result<(), Error> {
    match command {
        VerifyCommand::Log(args) => log(global, args).await,
        VerifyCommand::Snapshot(args) => snapshot(global, args).await,
        VerifyCommand::Figures(args) => figures(global, args).await,
    }
}

/// The keys checkpoints must be signed with: `--vkey`, else the remote log's own (with a
/// warning) or the local signing key's.
async fn trusted_keys(global: &GlobalArgs, vkeys: &[String], url: Option<&str>) -> Result<Vec<NoteVerifier>, Error> {
    let mut trusted = super::vkeys(vkeys)?;
    if trusted.is_empty() {
        trusted.push(match url {
            Some(url) => served_vkey(url).await?,
            None => keys::load(&config::signing_key_path(global)?)?.verifier(),
        });
    }
    Ok(trusted)
}

/// `gatelog verify log`: the local database, or a remote log from its tiles.
async fn log(global: &GlobalArgs, args: &LogArgs) -> Result<(), Error> {
    let trusted = trusted_keys(global, &args.vkeys, args.from_url.as_deref()).await?;
    let report = if let Some(url) = args.from_url.clone() {
        tokio::task::spawn_blocking(move || verify::verify_remote(&url, &trusted))
            .await
            .map_err(|join| RemoteError::Fetch { url: String::new(), reason: join.to_string() })??
    } else {
        let trusted = &trusted;
        with_database(global, Schema::AsIs, |pool| async move {
            let mut conn = pool.acquire().await?;
            Ok::<_, Error>(verify::verify_database(&mut conn, trusted).await?)
        })
        .await?
    };
    println!("{report}");
    if report.ok() { Ok(()) } else { Err(Error::Failed(report.findings.len() as u64 + report.more_findings)) }
}

/// `gatelog verify snapshot DIR`: every file recomputed from the local ledger.
async fn snapshot(global: &GlobalArgs, args: &SnapshotArgs) -> Result<(), Error> {
    let dir = &args.dir;
    let verified = with_database(global, Schema::AsIs, |pool| async move {
        Ok::<_, Error>(crate::datasets::snapshot::verify(&pool, dir).await?)
    })
    .await?;
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
        return Err(Error::Failed(failed));
    }
    println!("snapshot OK: {} files recomputed from the ledger at checkpoint {}", verified.checks.len(), verified.size);
    Ok(())
}

/// `gatelog verify figures`: re-derives every dataset of a published snapshot from the
/// entries alone and lists every cell that differs.
async fn figures(global: &GlobalArgs, args: &FiguresArgs) -> Result<(), Error> {
    let trusted = trusted_keys(global, &args.vkeys, args.from_url.as_deref()).await?;
    let (mut published, entries, from) = match (&args.from_url, &args.snapshot) {
        (Some(url), _) => {
            let (base, size) = (url.clone(), args.tree_size);
            let (published, entries) = tokio::task::spawn_blocking(move || -> Result<_, FiguresError> {
                let published = figures::fetch_published(&base, size)?;
                let entries = figures::fetch_entries(&base, published.size)?;
                Ok((published, entries))
            })
            .await
            .map_err(|join| RemoteError::Fetch { url: url.clone(), reason: join.to_string() })??;
            (published, entries, format!("fetched from {url}"))
        }
        (None, Some(dir)) => {
            let published = figures::read_published(dir)?;
            let size = published.size;
            let entries = with_database(global, Schema::AsIs, |pool| async move {
                let mut conn = pool.acquire().await?;
                Ok::<_, Error>(crate::db::ledger::entry_bytes_range(&mut conn, 0, size).await?)
            })
            .await?;
            (published, entries, "read from the local database".to_owned())
        }
        (None, None) => {
            // clap requires one of the two (the `published` group).
            return Err(Error::Figures(FiguresError::NoSnapshot(
                "verify figures compares with a published snapshot: give --from-url URL or --snapshot DIR".into(),
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
        Err(Error::Failed(differences.len() as u64))
    }
}

/// The key a remote log says it signs with: trusted only for lack of a better one.
async fn served_vkey(url: &str) -> Result<NoteVerifier, Error> {
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
    Ok(super::vkeys(&[fetched])?.remove(0))
}
