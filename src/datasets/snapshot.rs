//! Checkpoint-pinned snapshots: every dataset in every format computed from the
//! ledger at one tree size, with a `SHA256SUMS`, the signed checkpoint note, the
//! obligations the compliance report was computed from, and a Frictionless
//! `datapackage.json`. Written once, never overwritten; `gatelog verify
//! --snapshot DIR` recomputes every file and checks it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::cell::Cell;
use super::encode::{self, CHUNK, Encoder};
use super::filter::ExportFilter;
use super::source::{self, ExportError, HeldEntries, RowSink};
use super::summaries::Summaries;
use super::{CATALOG, Dataset, Format, Source, derived};
use crate::analytics::compliance::{self, Filings, Obligation};
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
    Export {
        /// The file.
        dataset: String,
        /// Why.
        source: ExportError,
    },
    /// Reading or writing files failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No checkpoint of that size was ever signed.
    #[error("no checkpoint of {0} entries was signed; pick a size listed by the ledger's checkpoints")]
    NoCheckpoint(u64),
    /// The log is empty.
    #[error("the ledger has no checkpoint yet")]
    EmptyLedger,
    /// The directory holds something else.
    #[error("{0} already exists and holds a different snapshot; refusing to overwrite it")]
    Differs(PathBuf),
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
    /// Entries held in memory (fetched and checked by `gatelog verify --figures`).
    Held(Arc<HeldEntries>),
}

/// Everything a snapshot is computed from.
pub struct Pinned {
    /// The checkpoint.
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
        let mut conn = pool.acquire().await?;
        let obligations = match obligations {
            Some(given) => given,
            None => db::obligations::list(&mut conn, None).await?,
        };
        let Some(size) = tree_size else {
            drop(conn);
            return Self::latest(pool, obligations, derived, None).await;
        };
        let checkpoint = db::ledger::checkpoint_at(&mut conn, size).await?.ok_or(SnapshotError::NoCheckpoint(size))?;
        drop(conn);
        // Pinned on purpose: below the head this folds the ledger's first `size` entries.
        let summaries = match derived {
            true => Some(Arc::new(
                Summaries::load(pool, size)
                    .await
                    .map_err(|source| SnapshotError::Export { dataset: "the derived tables".into(), source })?,
            )),
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
    /// no database at all (`gatelog verify --figures`). CPU work: off the async workers.
    pub async fn held(
        entries: Vec<Vec<u8>>,
        checkpoint: StoredCheckpoint,
        obligations: Vec<Obligation>,
    ) -> Result<Self, ExportError> {
        let (held, summaries) = tokio::task::spawn_blocking(move || {
            let mut fold = Fold::default();
            let held = HeldEntries::decode(entries, |entry| Ok(fold.push(entry)?))?;
            Ok::<_, ExportError>((held, Summaries::of_fold(Arc::new(fold))))
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

/// A file's name, SHA-256 and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSum {
    /// File name.
    pub name: String,
    /// Hex SHA-256.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Entries left out of the file because their record no longer decodes.
    pub unreadable: Vec<u64>,
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
    let mut out = serde_json::to_vec_pretty(&list).unwrap_or_default();
    out.push(b'\n');
    out
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
        /// Tree size.
        tree_size: u64,
        /// Files written.
        files: usize,
    },
    /// The directory already held this very snapshot.
    AlreadyPresent {
        /// Tree size.
        tree_size: u64,
    },
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
    let package = super::datapackage::describe(&pinned.checkpoint, &sums);
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
}

/// Recomputes every file of the snapshot in `dir` from the ledger at its tree size and
/// checks it against the file on disk and against `SHA256SUMS`. Also checks that the
/// checkpoint note is the one the ledger signed at that size.
pub async fn verify(pool: &PgPool, dir: &Path) -> Result<(u64, Vec<FileCheck>), SnapshotError> {
    let not_snapshot = |reason: String| SnapshotError::NotASnapshot { path: dir.to_owned(), reason };
    let sums_path = dir.join("SHA256SUMS");
    let sums = std::fs::read_to_string(&sums_path).map_err(|e| not_snapshot(format!("SHA256SUMS: {e}")))?;
    let listed: Vec<(String, String)> =
        sums.lines().filter_map(|l| l.split_once("  ").map(|(h, n)| (n.to_owned(), h.to_owned()))).collect();
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
    let pinned = Pinned::load(pool, Some(size), Some(obligations), true).await?;
    let mut checks = Vec::new();
    let mut recomputed = Vec::new();
    for (dataset, format, name) in dataset_files(size) {
        let export = |source| SnapshotError::Export { dataset: name.clone(), source };
        let mut sink = WriteSink::new(&dataset, format, HashWriter::default()).map_err(export)?;
        pinned.render(&dataset, &mut sink).await.map_err(export)?;
        let unreadable = sink.unreadable.clone();
        let (sha256, bytes) = sink.finish().map_err(export)?.result();
        recomputed.push(FileSum { name, sha256, bytes, unreadable });
    }
    let checkpoint_ok = note == pinned.checkpoint.note;
    recomputed.push(sum_of(CHECKPOINT_FILE, pinned.checkpoint.note.as_bytes()));
    recomputed.push(sum_of(OBLIGATIONS_FILE, &obligations_json(&pinned.obligations)));
    let package = super::datapackage::describe(&pinned.checkpoint, &recomputed);
    recomputed.push(sum_of(super::datapackage::FILE, &package));
    for expected in &recomputed {
        let on_disk = std::fs::read(dir.join(&expected.name)).map(|b| hex::encode(Sha256::digest(&b)));
        let in_sums = listed.iter().find(|(n, _)| *n == expected.name).map(|(_, h)| h.as_str());
        let problem = match (&on_disk, in_sums) {
            (Err(e), _) => Some(format!("cannot read the file: {e}")),
            (_, None) => Some("not listed in SHA256SUMS".to_owned()),
            (Ok(disk), Some(listed)) if disk != listed => Some("the file does not match SHA256SUMS".to_owned()),
            (Ok(disk), _) if *disk != expected.sha256 => {
                Some("the file differs from what the ledger gives at this checkpoint".to_owned())
            }
            _ if expected.name == CHECKPOINT_FILE && !checkpoint_ok => {
                Some("not the note the ledger signed at this size".to_owned())
            }
            _ => None,
        };
        checks.push(FileCheck { name: expected.name.clone(), ok: problem.is_none(), problem });
    }
    for (name, _) in &listed {
        if !recomputed.iter().any(|r| &r.name == name) {
            checks.push(FileCheck {
                name: name.clone(),
                ok: false,
                problem: Some("listed but not part of a snapshot".into()),
            });
        }
    }
    Ok((size, checks))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;
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

        let (verified_size, checks) = verify(&app.db.pool, &dir).await.expect("verify");
        assert_eq!(verified_size, size);
        assert!(checks.iter().all(|c| c.ok), "{checks:?}");

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
        assert!(verify(&app.db.pool, &dir).await.expect("verify").1.iter().all(|c| c.ok));

        // Tampering is caught, file by file.
        let grades = dir.join(format!("gatelog_grades_{size}.csv"));
        let mut text = std::fs::read_to_string(&grades).expect("grades");
        text = text.replacen(",A,", ",B,", 1);
        std::fs::write(&grades, text).expect("tamper");
        let failed: Vec<String> =
            verify(&app.db.pool, &dir).await.expect("verify").1.into_iter().filter(|c| !c.ok).map(|c| c.name).collect();
        assert_eq!(failed, [format!("gatelog_grades_{size}.csv")]);
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
