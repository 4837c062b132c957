//! Checkpoint-pinned snapshots: every dataset in every format computed from the
//! ledger at one tree size, with a `SHA256SUMS`, the signed checkpoint note, the
//! obligations the compliance report was computed from, and a Frictionless
//! `datapackage.json`. Written once, never overwritten; `gatelog verify
//! snapshot DIR` recomputes every file and checks it.
//!
//! A snapshot names its format version and the methodology version of its grades
//! (`datapackage.json`, property `gatelog`; absent: format 1, methodology 1), so that it
//! still verifies after the software moves on: only the datasets it lists are checked, its
//! grades are recomputed with its methodology, and a file whose encoding changed after its
//! format is compared by decoded rows instead of bytes ([`FORMATS`](super::versions::FORMATS),
//! docs/SNAPSHOTS.md).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::cell::Cell;
use super::datapackage::FileSum;
use super::encode::{self, CHUNK, Encoder};
use super::filter::ExportFilter;
use super::rows;
use super::source::{self, ExportError, HeldEntries, RowSink};
use super::summaries::Summaries;
use super::versions::{VersionError, Versions, bytes_comparable};
use super::{CATALOG, Dataset, Format, Source, derived};
use crate::analytics::compliance::{self, Filings, Obligation};
use crate::analytics::methodology::{self, Methodology};
use crate::db;
use crate::db::ledger::StoredCheckpoint;
use crate::projection::fold::Fold;

/// Why a snapshot could not be written or verified.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Producing a dataset failed.
    #[error("{dataset}: {source}")]
    Export { dataset: String, source: ExportError },
    /// Reading or writing files failed.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// No checkpoint of that size was ever signed.
    #[error("no checkpoint of {0} entries was signed; pick a size listed by the ledger's checkpoints")]
    NoCheckpoint(u64),
    /// The log is empty.
    #[error("the ledger has no checkpoint yet")]
    EmptyLedger,
    /// The directory holds something else.
    #[error("{0} already exists and holds a different snapshot; refusing to overwrite it")]
    Differs(PathBuf),
    /// The snapshot names a format or methodology version this build cannot check.
    #[error("{0}")]
    Version(#[from] VersionError),
    /// The directory is not a snapshot.
    #[error("{path} is not a Gatelog snapshot: {reason}")]
    NotASnapshot {
        /// The directory.
        path: PathBuf,
        /// What is missing or malformed.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io { path: path.to_owned(), source }
}

/// Where a pinned export reads the ledger's entries.
#[derive(Debug, Clone)]
enum EntrySource {
    /// `ledger_entries`, a page at a time (pinned by tree size: entries are never changed).
    Database(PgPool),
    /// Entries held in memory (fetched and checked by `gatelog verify figures`).
    Held(Arc<HeldEntries>),
}

/// Everything a snapshot is computed from.
pub struct Pinned {
    pub checkpoint: StoredCheckpoint,
    /// The obligations the compliance report weighs filings against.
    pub obligations: Vec<Obligation>,
    /// Where the record datasets, the entries and the compliance report's filings are read.
    entries: EntrySource,
    /// The projection at the checkpoint, for the derived tables (if loaded).
    summaries: Option<Arc<Summaries>>,
}

impl Pinned {
    /// Reads the ledger at `tree_size` (the latest checkpoint if `None`); `obligations`
    /// replaces the configured ones (verification uses those recorded in the snapshot).
    /// The projection is loaded only if `derived` (the derived tables need it).
    pub async fn load(
        pool: &PgPool,
        tree_size: Option<u64>,
        obligations: Option<Vec<Obligation>>,
        derived: bool,
    ) -> Result<Self, SnapshotError> {
        Self::load_with(pool, tree_size, obligations, derived, methodology::CURRENT).await
    }

    /// [`Pinned::load`], its grades computed with `methodology` (a snapshot's, to verify it).
    pub async fn load_with(
        pool: &PgPool,
        tree_size: Option<u64>,
        obligations: Option<Vec<Obligation>>,
        derived: bool,
        methodology: &'static Methodology,
    ) -> Result<Self, SnapshotError> {
        let mut conn = pool.acquire().await?;
        let obligations = match obligations {
            Some(given) => given,
            None => db::obligations::list(&mut conn, None).await?,
        };
        let Some(size) = tree_size else {
            drop(conn);
            // Only ever the site's own snapshots and exports: graded as the site grades now.
            return Self::latest(pool, obligations, derived, None).await;
        };
        let checkpoint = db::ledger::checkpoint_at(&mut conn, size).await?.ok_or(SnapshotError::NoCheckpoint(size))?;
        drop(conn);
        // Pinned on purpose: below the head this folds the ledger's first `size` entries.
        let summaries = match derived {
            true => {
                let mut summaries = Summaries::load(pool, size)
                    .await
                    .map_err(|source| SnapshotError::Export { dataset: "the derived tables".into(), source })?;
                summaries.methodology = methodology;
                Some(Arc::new(summaries))
            }
            false => None,
        };
        Ok(Self { checkpoint, obligations, entries: EntrySource::Database(pool.clone()), summaries })
    }

    /// Pinned at the latest checkpoint (`stale`: one read earlier, as a racing append leaves
    /// it; tests pass it to play the race). Appends landing between reading the checkpoint
    /// and reading the projection leave the projection ahead of it, and loading the
    /// projection at the older size means folding the whole ledger in memory. Pin to the
    /// newer latest checkpoint instead, as many times as appends keep landing.
    async fn latest(
        pool: &PgPool,
        obligations: Vec<Obligation>,
        derived: bool,
        mut stale: Option<StoredCheckpoint>,
    ) -> Result<Self, SnapshotError> {
        const TRIES: usize = 20;
        let export = |source| SnapshotError::Export { dataset: "the derived tables".into(), source };
        let pinned_at = |checkpoint, summaries| Self {
            checkpoint,
            obligations: obligations.clone(),
            entries: EntrySource::Database(pool.clone()),
            summaries,
        };
        let mut conn = pool.acquire().await?;
        for _ in 0..TRIES {
            let checkpoint = match stale.take() {
                Some(checkpoint) => checkpoint,
                None => db::ledger::latest_checkpoint(&mut conn).await?.ok_or(SnapshotError::EmptyLedger)?,
            };
            if !derived {
                return Ok(pinned_at(checkpoint, None));
            }
            if let Some(summaries) = Summaries::from_tables(pool, checkpoint.size).await.map_err(export)? {
                return Ok(pinned_at(checkpoint, Some(Arc::new(summaries))));
            }
            let head = db::projection::head(&mut conn).await?;
            let ahead = head > checkpoint.size && db::projection::is_current(&mut conn, head).await?;
            if !ahead {
                break; // behind the checkpoint or folded under other rules: only a fold can say
            }
            tracing::debug!(checkpoint = checkpoint.size, head, "appends landed while pinning; pinning again");
        }
        let checkpoint = db::ledger::latest_checkpoint(&mut conn).await?.ok_or(SnapshotError::EmptyLedger)?;
        drop(conn);
        tracing::warn!(size = checkpoint.size, "the projection is not at the latest checkpoint; folding the ledger");
        let summaries = Summaries::load(pool, checkpoint.size).await.map_err(export)?;
        Ok(pinned_at(checkpoint, Some(Arc::new(summaries))))
    }

    /// Entries `0..entries.len()` held in memory, at `checkpoint` (whose size must be their
    /// number): folded into the projection once, then every dataset is read from them, with
    /// no database at all (`gatelog verify figures`), grades with `methodology`. CPU work:
    /// off the async workers.
    pub async fn held(
        entries: Vec<Vec<u8>>,
        checkpoint: StoredCheckpoint,
        obligations: Vec<Obligation>,
        methodology: &'static Methodology,
    ) -> Result<Self, ExportError> {
        let (held, summaries) = tokio::task::spawn_blocking(move || {
            let mut fold = Fold::default();
            let held = HeldEntries::decode(entries, |entry| Ok(fold.push(entry)?))?;
            let mut summaries = Summaries::of_fold(Arc::new(fold))?;
            summaries.methodology = methodology;
            Ok::<_, ExportError>((held, summaries))
        })
        .await
        .map_err(|e| ExportError::Encode(format!("folding the entries failed: {e}")))??;
        if held.len() != checkpoint.size {
            return Err(ExportError::Encode(format!(
                "{} entries held for a checkpoint of {} entries",
                held.len(),
                checkpoint.size
            )));
        }
        Ok(Self {
            checkpoint,
            obligations,
            entries: EntrySource::Held(Arc::new(held)),
            summaries: Some(Arc::new(summaries)),
        })
    }

    /// Writes one dataset (every row) into `sink`.
    pub async fn render(&self, dataset: &Dataset, sink: &mut impl RowSink) -> Result<u64, ExportError> {
        self.render_filtered(dataset, &ExportFilter::default(), sink).await
    }

    /// Writes the rows of one dataset that pass `filter` into `sink`.
    pub async fn render_filtered(
        &self,
        dataset: &Dataset,
        all: &ExportFilter,
        sink: &mut impl RowSink,
    ) -> Result<u64, ExportError> {
        let size = self.checkpoint.size;
        let rows = match (dataset.source, &self.entries) {
            (Source::Records(kind), EntrySource::Database(pool)) => {
                return source::records(pool, kind, all, size, sink).await;
            }
            (Source::Records(kind), EntrySource::Held(held)) => {
                return source::held_records(held, kind, all, sink).await;
            }
            (Source::Entries, EntrySource::Database(pool)) => return source::entries(pool, all, size, sink).await,
            (Source::Entries, EntrySource::Held(held)) => return source::held_entries(held, all, sink).await,
            (Source::Derived(table), _) => {
                let summaries = self.summaries.as_ref().ok_or_else(|| {
                    ExportError::Encode("the projection was not loaded for the derived tables".into())
                })?;
                return derived::render(table, summaries, all, sink).await;
            }
            (Source::Compliance, entries) => {
                let filings: Filings = match entries {
                    // The sums kept with the ledger at its head; further back, the ledger's summed up.
                    EntrySource::Database(pool) => db::filings::at(&mut *pool.acquire().await?, size, None).await?,
                    EntrySource::Held(held) => held.filings().collect(),
                };
                let periods = compliance::report(&self.obligations, &filings, self.checkpoint.signed_at);
                derived::compliance_rows(&periods, all)
            }
            (Source::Reports | Source::ReportAnswers, entries) => {
                let third_party = match entries {
                    EntrySource::Database(pool) => {
                        db::report_export::third_party_entries(&mut *pool.acquire().await?, size).await?
                    }
                    EntrySource::Held(held) => held.third_party(),
                };
                if dataset.source == Source::Reports {
                    super::reports::report_rows(&third_party, self.checkpoint.signed_at)
                } else {
                    super::reports::answer_rows(&third_party)
                }
            }
        };
        sink.page_read();
        let count = rows.len() as u64;
        for row in rows {
            sink.push(row).await?;
        }
        Ok(count)
    }
}

/// An encoder writing into any `Write` (a file, a hasher).
pub struct WriteSink<W: Write + Send> {
    encoder: Box<dyn Encoder>,
    out: W,
    /// Entries left out because their record no longer decodes, in entry order.
    pub unreadable: Vec<u64>,
}

impl<W: Write + Send> WriteSink<W> {
    /// Encodes `format` for `dataset` into `out`.
    pub fn new(dataset: &Dataset, format: Format, out: W) -> Result<Self, ExportError> {
        Ok(Self { encoder: encode::encoder(format, dataset.fields(), false)?, out, unreadable: Vec::new() })
    }

    fn drain(&mut self) -> Result<(), ExportError> {
        let bytes = self.encoder.take();
        self.out.write_all(&bytes).map_err(|e| ExportError::Encode(e.to_string()))
    }

    /// Ends the output; returns the writer.
    pub fn finish(mut self) -> Result<W, ExportError> {
        self.encoder.finish()?;
        self.drain()?;
        self.out.flush().map_err(|e| ExportError::Encode(e.to_string()))?;
        Ok(self.out)
    }
}

impl<W: Write + Send> RowSink for WriteSink<W> {
    async fn push(&mut self, row: Vec<Cell>) -> Result<(), ExportError> {
        self.encoder.row(&row)?;
        if self.encoder.pending() >= CHUNK {
            self.drain()?;
        }
        Ok(())
    }

    fn unreadable(&mut self, index: u64, _reason: &str) {
        self.unreadable.push(index);
    }
}

/// A `Write` that hashes and counts what passes through it.
#[derive(Default)]
pub struct HashWriter {
    hasher: Sha256,
    bytes: u64,
}

impl HashWriter {
    /// Hex SHA-256 and byte count.
    pub fn result(self) -> (String, u64) {
        (hex::encode(self.hasher.finalize()), self.bytes)
    }
}

impl Write for HashWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.hasher.update(data);
        self.bytes += data.len() as u64;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The name of the file holding the signed checkpoint note.
pub const CHECKPOINT_FILE: &str = "checkpoint.txt";
/// The name of the file holding the obligations.
pub const OBLIGATIONS_FILE: &str = "obligations.json";

fn obligations_json(obligations: &[Obligation]) -> Vec<u8> {
    let list: Vec<serde_json::Value> = obligations
        .iter()
        .map(|o| {
            serde_json::json!({"provider": o.provider, "kind": o.kind.as_str(), "cadence": o.cadence.as_str(),
                "deadline_days": o.deadline_days, "since": o.since.to_string()})
        })
        .collect();
    // A JSON value's pretty text, as `serde_json::to_vec_pretty` writes it, which cannot fail.
    format!("{:#}\n", serde_json::Value::Array(list)).into_bytes()
}

/// Reads obligations as [`obligations_json`] wrote them.
pub(crate) fn parse_obligations(bytes: &[u8]) -> Option<Vec<Obligation>> {
    let list: Vec<serde_json::Value> = serde_json::from_slice(bytes).ok()?;
    list.iter()
        .map(|o| {
            let kind = o["kind"].as_str()?;
            Some(Obligation {
                provider: o["provider"].as_str()?.to_owned(),
                kind: crate::records::RecordKind::OPTIONS.iter().find(|(n, _)| *n == kind).map(|(_, k)| *k)?,
                cadence: compliance::Cadence::parse(o["cadence"].as_str()?)?,
                deadline_days: u32::try_from(o["deadline_days"].as_u64()?).ok()?,
                since: o["since"].as_str()?.parse().ok()?,
            })
        })
        .collect()
}

/// What a snapshot holds besides the datasets, and its manifest.
fn sums_text(sums: &[FileSum]) -> String {
    let mut sorted = sums.to_vec();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    sorted.iter().map(|s| format!("{}  {}\n", s.sha256, s.name)).collect()
}

/// What writing a snapshot did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// A new snapshot of this many files at this tree size.
    Created {
        tree_size: u64,
        /// Files written.
        files: usize,
    },
    /// The directory already held this very snapshot.
    AlreadyPresent { tree_size: u64 },
}

/// Writes a snapshot at `tree_size` (the latest checkpoint if `None`) into `out`. An
/// existing non-empty `out` is left alone: identical is fine, different is refused.
pub async fn write(pool: &PgPool, out: &Path, tree_size: Option<u64>) -> Result<Written, SnapshotError> {
    let pinned = Pinned::load(pool, tree_size, None, true).await?;
    let size = pinned.checkpoint.size;
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let staging = parent.join(format!(
        ".{}.partial-{}",
        out.file_name().and_then(|n| n.to_str()).unwrap_or("snapshot"),
        std::process::id()
    ));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    let result = write_into(&pinned, &staging).await;
    let sums = match result {
        Ok(sums) => sums,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(error);
        }
    };
    let files = sums.len();
    let is_empty_dir = |dir: &Path| std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(true);
    if out.exists() && !is_empty_dir(out) {
        let existing = std::fs::read(out.join("SHA256SUMS")).unwrap_or_default();
        let ours = std::fs::read(staging.join("SHA256SUMS")).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&staging);
        return if existing == ours {
            Ok(Written::AlreadyPresent { tree_size: size })
        } else {
            Err(SnapshotError::Differs(out.to_owned()))
        };
    }
    if out.exists() {
        std::fs::remove_dir(out).map_err(io(out))?;
    }
    // Every file synced before the directory appears under its name, and the rename synced too.
    crate::fsutil::rename_durably(&staging, out).map_err(io(out))?;
    Ok(Written::Created { tree_size: size, files: files + 1 })
}

/// Every dataset file name at a size, in catalog order.
fn dataset_files(size: u64) -> Vec<(Dataset, Format, String)> {
    CATALOG.iter().flat_map(|d| Format::ALL.into_iter().map(move |f| (*d, f, d.file_name(size, f)))).collect()
}

async fn write_into(pinned: &Pinned, dir: &Path) -> Result<Vec<FileSum>, SnapshotError> {
    let size = pinned.checkpoint.size;
    let mut sums = Vec::new();
    for (dataset, format, name) in dataset_files(size) {
        let path = dir.join(&name);
        let file = std::fs::File::create(&path).map_err(io(&path))?;
        let hashed = Tee { file: std::io::BufWriter::new(file), hash: HashWriter::default() };
        let export = |source| SnapshotError::Export { dataset: name.clone(), source };
        let mut sink = WriteSink::new(&dataset, format, hashed).map_err(export)?;
        pinned.render(&dataset, &mut sink).await.map_err(export)?;
        let unreadable = sink.unreadable.clone();
        let tee = sink.finish().map_err(export)?;
        let (sha256, bytes) = tee.hash.result();
        sums.push(FileSum { name, sha256, bytes, unreadable });
    }
    let extra = [
        (CHECKPOINT_FILE.to_owned(), pinned.checkpoint.note.clone().into_bytes()),
        (OBLIGATIONS_FILE.to_owned(), obligations_json(&pinned.obligations)),
    ];
    for (name, bytes) in extra {
        let path = dir.join(&name);
        std::fs::write(&path, &bytes).map_err(io(&path))?;
        sums.push(sum_of(&name, &bytes));
    }
    let package = super::datapackage::describe(&pinned.checkpoint, &sums, Versions::CURRENT);
    let path = dir.join(super::datapackage::FILE);
    std::fs::write(&path, &package).map_err(io(&path))?;
    sums.push(sum_of(super::datapackage::FILE, &package));
    let path = dir.join("SHA256SUMS");
    std::fs::write(&path, sums_text(&sums)).map_err(io(&path))?;
    Ok(sums)
}

fn sum_of(name: &str, bytes: &[u8]) -> FileSum {
    FileSum {
        name: name.to_owned(),
        sha256: hex::encode(Sha256::digest(bytes)),
        bytes: bytes.len() as u64,
        unreadable: Vec::new(),
    }
}

/// Writes to a file and hashes on the way.
struct Tee {
    file: std::io::BufWriter<std::fs::File>,
    hash: HashWriter,
}

impl Write for Tee {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.file.write_all(data)?;
        self.hash.write_all(data)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// One file's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheck {
    /// File name.
    pub name: String,
    /// Whether the file on disk, the recomputed bytes and SHA256SUMS all agree.
    pub ok: bool,
    /// What disagreed.
    pub problem: Option<String>,
    /// How it was checked, when not byte for byte (by rows, or by content).
    pub note: Option<String>,
}

impl FileCheck {
    fn new(name: &str, problem: Option<String>, note: Option<String>) -> Self {
        Self { name: name.to_owned(), ok: problem.is_none(), problem, note }
    }
}

/// What verifying a snapshot found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The checkpoint's tree size.
    pub size: u64,
    /// The snapshot's format and methodology versions.
    pub versions: Versions,
    /// Every file's verdict.
    pub checks: Vec<FileCheck>,
    /// Datasets this build has that the snapshot does not list (newer than it): not checked.
    pub not_listed: Vec<&'static str>,
}

/// The names and hashes SHA256SUMS lists.
fn listed_sums(text: &str) -> Vec<(String, String)> {
    text.lines().filter_map(|l| l.split_once("  ").map(|(h, n)| (n.to_owned(), h.to_owned()))).collect()
}

/// A file on disk: its bytes' hash and size, or why it cannot be read.
fn on_disk(dir: &Path, name: &str) -> Result<(String, u64), String> {
    std::fs::read(dir.join(name))
        .map(|b| (hex::encode(Sha256::digest(&b)), b.len() as u64))
        .map_err(|e| format!("cannot read the file: {e}"))
}

/// Checks a dataset file of a snapshot of format `versions.format` against the ledger.
async fn check_dataset(
    pinned: &Pinned,
    dir: &Path,
    (dataset, format, name): &(Dataset, Format, String),
    listed: Option<&str>,
    versions: Versions,
) -> Result<(FileCheck, FileSum), SnapshotError> {
    let export = |source| SnapshotError::Export { dataset: name.clone(), source };
    let mut sink = WriteSink::new(dataset, *format, HashWriter::default()).map_err(export)?;
    pinned.render(dataset, &mut sink).await.map_err(export)?;
    let unreadable = sink.unreadable.clone();
    let (sha256, bytes) = sink.finish().map_err(export)?.result();
    let recomputed = FileSum { name: name.clone(), sha256, bytes, unreadable };
    let disk = match on_disk(dir, name) {
        Ok(disk) => disk,
        Err(problem) => return Ok((FileCheck::new(name, Some(problem), None), recomputed)),
    };
    // What the package should give for the file: the ledger's bytes, or, where those are
    // encoded otherwise today, the file's own (its rows are checked instead).
    let described = match bytes_comparable(versions.format, *format) {
        true => recomputed.clone(),
        false => FileSum { sha256: disk.0.clone(), bytes: disk.1, ..recomputed.clone() },
    };
    let verdict = if listed != Some(disk.0.as_str()) {
        FileCheck::new(name, Some("the file does not match SHA256SUMS".into()), None)
    } else if disk.0 == recomputed.sha256 {
        FileCheck::new(name, None, None)
    } else if bytes_comparable(versions.format, *format) {
        FileCheck::new(name, Some("the file differs from what the ledger gives at this checkpoint".into()), None)
    } else {
        // Encoded under an earlier format: the same rows have other bytes today.
        let mut sink = WriteSink::new(dataset, *format, Vec::new()).map_err(export)?;
        pinned.render(dataset, &mut sink).await.map_err(export)?;
        let ours = sink.finish().map_err(export)?;
        let theirs = std::fs::read(dir.join(name)).map_err(io(&dir.join(name)))?;
        let how = format!(
            "compared by decoded rows: the {} encoding changed after snapshot format {}",
            format.extension(),
            versions.format
        );
        match (rows::decode(*format, &theirs), rows::decode(*format, &ours)) {
            (Err(e), _) => FileCheck::new(name, Some(format!("does not decode as {}: {e}", format.extension())), None),
            (_, Err(e)) => return Err(export(ExportError::Encode(e))),
            (Ok(theirs), Ok(ours)) => match rows::compare(&theirs, &ours) {
                Ok(added) if added.is_empty() => FileCheck::new(name, None, Some(how)),
                Ok(added) => FileCheck::new(
                    name,
                    None,
                    Some(format!("{how}; columns added since, not in the file: {}", added.join(", "))),
                ),
                Err(difference) => FileCheck::new(name, Some(format!("{difference} ({how})")), None),
            },
        }
    };
    Ok((verdict, described))
}

/// Checks a `datapackage.json` that is not byte for byte what this build writes (its
/// descriptions and layout differ between formats and builds; they are not figures): its
/// creation time is the checkpoint's, and every resource's hash and size are its file's.
fn check_package_content(
    package: &serde_json::Value,
    checkpoint: &StoredCheckpoint,
    described: &[FileSum],
) -> Result<(), String> {
    let created = checkpoint.signed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if package["created"].as_str() != Some(created.as_str()) {
        return Err(format!("created {}, but the checkpoint was signed at {created}", package["created"]));
    }
    let resources = package["resources"].as_array().ok_or("no resources")?;
    for resource in resources {
        let path = resource["path"].as_str().ok_or("a resource without a path")?;
        let file = described.iter().find(|f| f.name == path).ok_or_else(|| format!("{path} is not in the snapshot"))?;
        let hash = resource["hash"].as_str().map(|h| h.strip_prefix("sha256:").unwrap_or(h));
        if hash != Some(file.sha256.as_str()) {
            return Err(format!("{path}: hash {} but the file's is {}", resource["hash"], file.sha256));
        }
        if let Some(bytes) = resource.get("bytes")
            && bytes.as_u64() != Some(file.bytes)
        {
            return Err(format!("{path}: {bytes} bytes, but the file has {}", file.bytes));
        }
    }
    for file in described.iter().filter(|f| f.name.ends_with(".csv")) {
        if !resources.iter().any(|r| r["path"].as_str() == Some(file.name.as_str())) {
            return Err(format!("{} has no resource", file.name));
        }
    }
    Ok(())
}

/// Recomputes every dataset file the snapshot in `dir` lists from the ledger at its tree
/// size, grades with the methodology it names, and checks each against the file on disk and
/// `SHA256SUMS`: byte for byte, or by decoded rows where the encoding changed after the
/// snapshot's format. Also checks that the checkpoint note is the one the ledger signed at
/// that size.
pub async fn verify(pool: &PgPool, dir: &Path) -> Result<Verified, SnapshotError> {
    let not_snapshot = |reason: String| SnapshotError::NotASnapshot { path: dir.to_owned(), reason };
    let sums_path = dir.join("SHA256SUMS");
    let sums = std::fs::read_to_string(&sums_path).map_err(|e| not_snapshot(format!("SHA256SUMS: {e}")))?;
    let listed = listed_sums(&sums);
    let note = std::fs::read_to_string(dir.join(CHECKPOINT_FILE))
        .map_err(|e| not_snapshot(format!("{CHECKPOINT_FILE}: {e}")))?;
    let size: u64 = note
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| not_snapshot(format!("{CHECKPOINT_FILE} has no tree size on its second line")))?;
    let obligations = std::fs::read(dir.join(OBLIGATIONS_FILE))
        .ok()
        .and_then(|b| parse_obligations(&b))
        .ok_or_else(|| not_snapshot(format!("{OBLIGATIONS_FILE} is missing or malformed")))?;
    let package_file = super::datapackage::FILE;
    let package_bytes =
        std::fs::read(dir.join(package_file)).map_err(|e| not_snapshot(format!("{package_file}: {e}")))?;
    let package: serde_json::Value =
        serde_json::from_slice(&package_bytes).map_err(|e| not_snapshot(format!("{package_file}: {e}")))?;
    let versions = Versions::of_package(&package)?;
    let methodology = versions.methodology()?;
    let pinned = Pinned::load_with(pool, Some(size), Some(obligations), true, methodology).await?;
    let in_sums = |name: &str| listed.iter().find(|(n, _)| n == name).map(|(_, h)| h.as_str());
    let all = dataset_files(size);
    let not_listed = CATALOG
        .iter()
        .filter(|d| !all.iter().any(|(of, _, name)| of.name == d.name && in_sums(name).is_some()))
        .map(|d| d.name)
        .collect();
    let mut checks = Vec::new();
    let mut described = Vec::new();
    for file in all.iter().filter(|(_, _, name)| in_sums(name).is_some()) {
        let (check, sum) = check_dataset(&pinned, dir, file, in_sums(&file.2), versions).await?;
        checks.push(check);
        described.push(sum);
    }
    let plain = |name: &str, expected: &[u8]| {
        let problem = match (on_disk(dir, name), in_sums(name)) {
            (Err(e), _) => Some(e),
            (_, None) => Some("not listed in SHA256SUMS".to_owned()),
            (Ok((disk, _)), Some(listed)) if disk != listed => Some("the file does not match SHA256SUMS".to_owned()),
            (Ok((disk, _)), _) if disk != hex::encode(Sha256::digest(expected)) => {
                Some("the file differs from what the ledger gives at this checkpoint".to_owned())
            }
            _ => None,
        };
        FileCheck::new(name, problem, None)
    };
    let checkpoint_problem =
        (note != pinned.checkpoint.note).then(|| "not the note the ledger signed at this size".into());
    let mut check = plain(CHECKPOINT_FILE, pinned.checkpoint.note.as_bytes());
    if check.ok && checkpoint_problem.is_some() {
        check = FileCheck::new(CHECKPOINT_FILE, checkpoint_problem, None);
    }
    checks.push(check);
    described.push(sum_of(CHECKPOINT_FILE, note.as_bytes()));
    checks.push(plain(OBLIGATIONS_FILE, &obligations_json(&pinned.obligations)));
    described.push(sum_of(OBLIGATIONS_FILE, &std::fs::read(dir.join(OBLIGATIONS_FILE)).unwrap_or_default()));
    let ours = super::datapackage::describe(&pinned.checkpoint, &described, versions);
    let mut check = plain(package_file, &ours);
    if check.problem.as_deref() == Some("the file differs from what the ledger gives at this checkpoint") {
        check = match check_package_content(&package, &pinned.checkpoint, &described) {
            Ok(()) => FileCheck::new(
                package_file,
                None,
                Some(format!(
                    "checked by content: its descriptions differ from what this gatelog writes for format {}, \
                     and every resource's hash and size are its file's",
                    versions.format
                )),
            ),
            Err(problem) => FileCheck::new(package_file, Some(problem), None),
        };
    }
    checks.push(check);
    for (name, _) in &listed {
        if !checks.iter().any(|c| &c.name == name) {
            checks.push(FileCheck::new(
                name,
                Some("listed but not part of a snapshot this gatelog knows".into()),
                None,
            ));
        }
    }
    Ok(Verified { size, versions, checks, not_listed })
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;
    use crate::datasets::versions::CURRENT_FORMAT;
    use crate::testing::TestApp;

    /// The periodic snapshot pins the latest checkpoint; an append landing after it read the
    /// checkpoint used to make it fold the whole ledger in memory (the projection had moved
    /// past that size). It pins the newer checkpoint instead.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pinning_the_latest_checkpoint_while_appends_land_reads_the_projection_not_a_fold() {
        let app = TestApp::with_demo().await;
        let mut conn = app.db.pool.acquire().await.expect("conn");
        let stale = db::ledger::latest_checkpoint(&mut conn).await.expect("read").expect("a checkpoint");
        drop(conn);
        app.ledger().append(&app.db.pool, &crate::testing::sample_batch(stale.size, 3)).await.expect("append");
        let pinned = Pinned::latest(&app.db.pool, Vec::new(), true, Some(stale.clone())).await.expect("pinned");
        assert_eq!(pinned.checkpoint.size, stale.size + 3, "pinned to the newer checkpoint");
        let summaries = pinned.summaries.as_ref().expect("derived tables loaded");
        assert!(!summaries.folded_in_memory(), "read from the projection's tables");
        assert_eq!(summaries.size, stale.size + 3);
        // Pinned on purpose below the head, the fold is still what answers (and agrees).
        let below = Pinned::load(&app.db.pool, Some(stale.size), None, true).await.expect("below");
        assert!(below.summaries.as_ref().expect("loaded").folded_in_memory());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_snapshot_is_complete_verifiable_served_immutably_and_never_overwritten() {
        let root = tempfile::tempdir().expect("tempdir");
        let app = TestApp::with_demo().await.with_snapshots_dir(root.path());
        let size = app.tree_size().await;
        let dir = root.path().join(size.to_string());
        let written = write(&app.db.pool, &dir, None).await.expect("snapshot");
        assert_eq!(written, Written::Created { tree_size: size, files: CATALOG.len() * 3 + 4 });
        let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).expect("sums");
        assert_eq!(sums.lines().count(), CATALOG.len() * 3 + 3, "every file but SHA256SUMS itself");
        for line in sums.lines() {
            let (hash, name) = line.split_once("  ").expect("sha256sum format");
            let bytes = std::fs::read(dir.join(name)).expect("listed file exists");
            assert_eq!(hex::encode(Sha256::digest(&bytes)), hash, "{name}");
        }
        // The same export over HTTP at the same checkpoint has the same bytes.
        let served = app.get("/data/prices.csv").await;
        assert_eq!(served.body, std::fs::read(dir.join(format!("gatelog_prices_{size}.csv"))).expect("file"));

        let verified = verify(&app.db.pool, &dir).await.expect("verify");
        assert_eq!(verified.size, size);
        assert_eq!(verified.versions, Versions::CURRENT);
        assert!(verified.not_listed.is_empty());
        assert!(verified.checks.iter().all(|c| c.ok && c.note.is_none()), "byte for byte: {:?}", verified.checks);

        // Served under /data/snapshots/{size}/ for good, and listed on /data.
        let file = app.get(&format!("/data/snapshots/{size}/SHA256SUMS")).await;
        file.assert_status(StatusCode::OK);
        assert!(file.header("cache-control").contains("immutable"));
        assert_eq!(file.text(), sums);
        let listed = app.get("/data").await.html().attrs_of("#snapshots a", "href");
        assert!(listed.contains(&format!("/data/snapshots/{size}/datapackage.json")), "{listed:?}");

        // Writing the same snapshot again changes nothing.
        assert_eq!(
            write(&app.db.pool, &dir, Some(size)).await.expect("again"),
            Written::AlreadyPresent { tree_size: size }
        );
        // A newer checkpoint into the same directory is refused, and nothing is touched.
        app.ledger().append(&app.db.pool, &crate::testing::sample_batch(0, 1)).await.expect("append");
        let refused = write(&app.db.pool, &dir, None).await.expect_err("differs");
        assert!(matches!(refused, SnapshotError::Differs(_)), "{refused}");
        assert_eq!(std::fs::read_to_string(dir.join("SHA256SUMS")).expect("sums"), sums);
        // The old snapshot still verifies against the grown ledger: it is pinned.
        assert!(verify(&app.db.pool, &dir).await.expect("verify").checks.iter().all(|c| c.ok));

        // Tampering is caught, file by file.
        let grades = dir.join(format!("gatelog_grades_{size}.csv"));
        let mut text = std::fs::read_to_string(&grades).expect("grades");
        text = text.replacen(",A,", ",B,", 1);
        std::fs::write(&grades, text).expect("tamper");
        let failed: Vec<String> = verify(&app.db.pool, &dir)
            .await
            .expect("verify")
            .checks
            .into_iter()
            .filter(|c| !c.ok)
            .map(|c| c.name)
            .collect();
        assert_eq!(failed, [format!("gatelog_grades_{size}.csv")]);
    }

    /// Collects rows.
    #[derive(Default)]
    struct Collect(Vec<Vec<Cell>>);

    impl RowSink for Collect {
        async fn push(&mut self, row: Vec<Cell>) -> Result<(), ExportError> {
            self.0.push(row);
            Ok(())
        }
    }

    fn rewrite_sums(dir: &Path) {
        let mut sums = Vec::new();
        for entry in std::fs::read_dir(dir).expect("dir") {
            let name = entry.expect("entry").file_name().into_string().expect("utf-8");
            if name != "SHA256SUMS" {
                sums.push(sum_of(&name, &std::fs::read(dir.join(&name)).expect("read")));
            }
        }
        std::fs::write(dir.join("SHA256SUMS"), sums_text(&sums)).expect("sums");
    }

    /// Turns the current-format snapshot in `dir` into one written by the code of 25 November
    /// to 1 December 2026 (format 1), by that code's rules: no energy, buyer_shares or
    /// market_concentration datasets; grades without the methodology column; Parquet written
    /// by polars without pandas' metadata; a Data Package listing the CSV files alone, with
    /// no `gatelog` property.
    pub(crate) async fn make_format_1(pool: &PgPool, dir: &Path, size: u64) {
        use polars::prelude::{ParquetCompression, ParquetReader, ParquetWriter, SerReader};
        for name in ["energy", "buyer_shares", "market_concentration"] {
            for format in Format::ALL {
                let dataset = super::super::find(name).expect("dataset");
                std::fs::remove_file(dir.join(dataset.file_name(size, format))).expect("remove");
            }
        }
        let grades = super::super::find("grades").expect("grades");
        let pinned = Pinned::load(pool, Some(size), None, true).await.expect("pinned");
        let mut rows = Collect::default();
        pinned.render(&grades, &mut rows).await.expect("grades");
        let mut fields = grades.fields();
        assert_eq!(fields.pop().map(|f| f.name), Some("methodology"), "the column format 2 added is the last");
        for format in Format::ALL {
            let mut encoder = encode::encoder(format, fields.clone(), false).expect("encoder");
            for row in &rows.0 {
                encoder.row(&row[..fields.len()]).expect("row");
            }
            encoder.finish().expect("finish");
            std::fs::write(dir.join(grades.file_name(size, format)), encoder.take()).expect("write");
        }
        for dataset in CATALOG.iter() {
            let path = dir.join(dataset.file_name(size, Format::Parquet));
            let Ok(bytes) = std::fs::read(&path) else { continue };
            let mut frame = ParquetReader::new(std::io::Cursor::new(bytes)).finish().expect("parquet");
            let mut old = Vec::new();
            ParquetWriter::new(&mut old)
                .with_compression(ParquetCompression::Zstd(None))
                .finish(&mut frame)
                .expect("old parquet");
            std::fs::write(&path, old).expect("write");
        }
        let package: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(super::super::datapackage::FILE)).expect("package"))
                .expect("json");
        let resources: Vec<serde_json::Value> = CATALOG
            .iter()
            .filter_map(|d| {
                let path = d.file_name(size, Format::Csv);
                let bytes = std::fs::read(dir.join(&path)).ok()?;
                Some(serde_json::json!({"name": d.name, "path": path, "type": "table", "format": "csv",
                    "bytes": bytes.len(), "hash": format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))}))
            })
            .collect();
        let old = serde_json::json!({"$schema": package["$schema"], "name": package["name"], "created": package["created"],
            "resources": resources});
        std::fs::write(dir.join(super::super::datapackage::FILE), serde_json::to_vec_pretty(&old).expect("json"))
            .expect("write");
        rewrite_sums(dir);
    }

    /// A snapshot pinned by the software of before format versions still verifies, from the
    /// database and by re-derivation from the entries: only the datasets it lists, its files
    /// in changed encodings compared by rows (and said so), and a changed row still fails.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_old_format_snapshot_still_verifies_and_a_tampered_row_still_fails() {
        let root = tempfile::tempdir().expect("tempdir");
        let app = TestApp::with_demo().await;
        let size = app.tree_size().await;
        let dir = root.path().join(size.to_string());
        write(&app.db.pool, &dir, None).await.expect("snapshot");
        make_format_1(&app.db.pool, &dir, size).await;

        let verified = verify(&app.db.pool, &dir).await.expect("verify");
        assert_eq!(verified.versions, Versions { format: 1, methodology: 1 });
        assert_eq!(verified.not_listed, ["energy", "buyer_shares", "market_concentration"]);
        assert!(
            verified.checks.iter().all(|c| c.ok),
            "{:?}",
            verified.checks.iter().filter(|c| !c.ok).collect::<Vec<_>>()
        );
        let note = |name: &str| verified.checks.iter().find(|c| c.name == name).and_then(|c| c.note.clone());
        let grades_csv = format!("gatelog_grades_{size}.csv");
        let grades_note = note(&grades_csv).expect("grades compared by rows");
        assert!(
            grades_note.contains("compared by decoded rows") && grades_note.contains("methodology"),
            "{grades_note}"
        );
        let parquet = note(&format!("gatelog_prices_{size}.parquet")).expect("parquet compared by rows");
        assert!(parquet.contains("parquet encoding changed after snapshot format 1"), "{parquet}");
        assert_eq!(note(&format!("gatelog_prices_{size}.csv")), None, "same bytes: compared as bytes");
        assert!(note("datapackage.json").expect("package by content").contains("checked by content"));

        // Re-derived from the entries alone (`verify figures --snapshot`), too.
        let published = crate::figures::read_published(&dir).expect("published");
        assert_eq!(published.datasets.len(), CATALOG.len() - 3);
        assert_eq!(published.methodology.version, 1);
        let entries = {
            let mut conn = app.db.pool.acquire().await.expect("conn");
            db::ledger::entry_bytes_range(&mut conn, 0, size).await.expect("entries")
        };
        let checkpoint =
            crate::figures::check_entries(&entries, &published.note, &[app.state.ledger.verifier()]).expect("entries");
        let recomputed = crate::figures::recompute(entries.clone(), &checkpoint, &published).await.expect("recompute");
        assert_eq!(crate::figures::compare(&published, &recomputed), Vec::new());

        // A changed score (SHA256SUMS fixed up to match) still fails, named by row and column.
        let path = dir.join(&grades_csv);
        let text = std::fs::read_to_string(&path).expect("grades");
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let column = lines[0].split(',').position(|h| h == "score").expect("score");
        let mut cells: Vec<String> = lines[1].split(',').map(str::to_owned).collect();
        cells[column] = "99.9".into();
        lines[1] = cells.join(",");
        std::fs::write(&path, lines.join("\r\n") + "\r\n").expect("tamper");
        rewrite_sums(&dir);
        let verified = verify(&app.db.pool, &dir).await.expect("verify");
        let failed: Vec<&FileCheck> = verified.checks.iter().filter(|c| !c.ok).collect();
        // The file, and the package that still gives its old hash.
        let names: Vec<&str> = failed.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, [grades_csv.as_str(), "datapackage.json"], "{failed:?}");
        let problem = failed[0].problem.as_deref().unwrap_or_default();
        assert!(problem.contains("row 1") && problem.contains("column score") && problem.contains("99.9"), "{problem}");
        let published = crate::figures::read_published(&dir).expect("published");
        let differences = crate::figures::compare(&published, &recomputed);
        assert_eq!(differences.len(), 1, "{differences:?}");
        assert_eq!((differences[0].row, differences[0].column.as_deref()), (Some(1), Some("score")));
    }

    /// A snapshot naming a methodology this build does not have, or a newer format, is refused
    /// with the reason, by both checks.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unknown_methodology_or_a_newer_format_is_refused_clearly() {
        let root = tempfile::tempdir().expect("tempdir");
        let app = TestApp::new().await;
        let token = app.provider_token("old-cloud").await;
        let examples = serde_json::Value::Array(crate::records::kinds::examples()).to_string();
        app.post("/api/v1/records", "application/json", examples, Some(&token), &[]).await;
        let dir = root.path().join("snapshot");
        write(&app.db.pool, &dir, None).await.expect("snapshot");
        let package_path = dir.join(super::super::datapackage::FILE);
        let package: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&package_path).expect("read")).expect("json");
        for (key, value, expected) in [
            ("methodology_version", 7, "unknown methodology version 7 (this gatelog knows 1)"),
            ("snapshot_format", 9, "snapshot format 9 is newer than this gatelog knows"),
            ("snapshot_format", 0, "malformed `gatelog` property"),
        ] {
            let mut named = package.clone();
            named["gatelog"][key] = serde_json::json!(value);
            std::fs::write(&package_path, serde_json::to_vec_pretty(&named).expect("json")).expect("write");
            let error = verify(&app.db.pool, &dir).await.expect_err("refused");
            assert!(matches!(error, SnapshotError::Version(_)), "{error}");
            assert!(error.to_string().contains(expected), "{error}");
            let error = crate::figures::read_published(&dir).expect_err("refused");
            assert!(error.to_string().contains(expected), "{error}");
        }
    }

    /// The columns (names and types) of every dataset format 2 has, digested. A change to them
    /// changes the files for the same entries, so snapshots already written would stop
    /// verifying byte for byte: it is a new format (append to
    /// [`FORMATS`](crate::datasets::versions::FORMATS), naming the encodings it changes), and
    /// then the new digests go here. Datasets added later are not
    /// listed (a snapshot lists the datasets it holds, and is checked on those alone).
    #[test]
    fn the_columns_of_a_format_change_only_with_a_new_format() {
        const FORMAT_2: &[(&str, &str)] = &[
            ("queue_times", "924a22b8f462d442"),
            ("acceptance", "c07b3649e939e8c2"),
            ("prices", "71cfc2f0ffc69444"),
            ("lockups", "8f31540b6ee3ab61"),
            ("capacity", "8a6948946bf65ed9"),
            ("energy", "50393b7ee0e44bd1"),
            ("entries", "c8aee77deef7cc85"),
            ("queue_time_percentiles", "e1027f972229419f"),
            ("acceptance_rates", "87035d68a6e93f13"),
            ("price_series", "8c8f3eb150d85573"),
            ("lockup_shares", "4bc0aeb6ad6c38b9"),
            ("buyer_shares", "a75bc776235e5f28"),
            ("market_concentration", "d2641b8531bedf40"),
            ("grades", "f38777addcc29923"),
            ("compliance", "65291a4c56b80332"),
        ];
        let digest = |d: &Dataset| {
            let columns: String = d.fields().iter().map(|f| format!("{}:{:?};", f.name, f.kind)).collect();
            hex::encode(Sha256::digest(columns.as_bytes()))[..16].to_owned()
        };
        let actual: Vec<(&str, String)> = FORMAT_2
            .iter()
            .map(|(name, _)| (*name, super::super::find(name).map_or_else(|| "removed".to_owned(), |d| digest(&d))))
            .collect();
        let recorded: Vec<(&str, String)> = FORMAT_2.iter().map(|(name, d)| (*name, (*d).to_owned())).collect();
        assert_eq!(CURRENT_FORMAT, 2, "a new format: record its columns here");
        assert_eq!(actual, recorded, "columns changed without a new snapshot format (see FORMATS)");
    }

    /// A snapshot written before the reports datasets (issue 19) lists neither: it still
    /// verifies, from the database and from the entries alone, and says they were not checked.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_snapshot_from_before_the_reports_datasets_still_verifies() {
        let root = tempfile::tempdir().expect("tempdir");
        let app = TestApp::with_demo().await;
        let size = app.tree_size().await;
        let dir = root.path().join(size.to_string());
        write(&app.db.pool, &dir, None).await.expect("snapshot");
        let newer = ["reports", "report_answers"];
        for name in newer {
            let dataset = super::super::find(name).expect("dataset");
            for format in Format::ALL {
                std::fs::remove_file(dir.join(dataset.file_name(size, format))).expect("remove");
            }
        }
        let package_path = dir.join(super::super::datapackage::FILE);
        let mut package: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&package_path).expect("package")).expect("json");
        let resources = package["resources"].as_array_mut().expect("resources");
        resources.retain(|r| {
            !newer.iter().any(|n| r["path"].as_str().is_some_and(|p| p.starts_with(&format!("gatelog_{n}_"))))
        });
        std::fs::write(&package_path, serde_json::to_vec_pretty(&package).expect("json")).expect("write");
        rewrite_sums(&dir);

        let verified = verify(&app.db.pool, &dir).await.expect("verify");
        assert_eq!(verified.not_listed, newer);
        assert!(
            verified.checks.iter().all(|c| c.ok),
            "{:?}",
            verified.checks.iter().filter(|c| !c.ok).collect::<Vec<_>>()
        );
        let published = crate::figures::read_published(&dir).expect("published");
        assert_eq!(published.datasets.len(), CATALOG.len() - 2);
        let entries = {
            let mut conn = app.db.pool.acquire().await.expect("conn");
            db::ledger::entry_bytes_range(&mut conn, 0, size).await.expect("entries")
        };
        let checkpoint =
            crate::figures::check_entries(&entries, &published.note, &[app.state.ledger.verifier()]).expect("entries");
        let recomputed = crate::figures::recompute(entries, &checkpoint, &published).await.expect("recompute");
        assert_eq!(crate::figures::compare(&published, &recomputed), Vec::new());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unknown_sizes_and_empty_directories_are_explained() {
        let app = TestApp::with_demo().await;
        let root = tempfile::tempdir().expect("tempdir");
        let error = write(&app.db.pool, &root.path().join("x"), Some(3)).await.expect_err("no such checkpoint");
        assert!(error.to_string().contains("no checkpoint of 3 entries"), "{error}");
        let error = verify(&app.db.pool, root.path()).await.expect_err("not a snapshot");
        assert!(error.to_string().contains("SHA256SUMS"), "{error}");
    }
}
