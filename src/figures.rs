//! Re-derivation of every published figure from public entries alone
//! (`gatelog verify figures`).
//!
//! An auditor who trusts neither the providers nor the operator fetches the entries
//! up to a published snapshot's checkpoint from the tiles, checks them against that
//! signed checkpoint, replays the site's own pure fold over them in memory (the one rule
//! for the latest version, bucket summaries merged into each provider's figures:
//! [`crate::projection`]; no database, and nothing else but the obligations the snapshot
//! published), renders every dataset with the site's own dataset code, and compares the
//! result cell by cell with what the site published — the snapshot's files and, when the
//! site is still at that checkpoint, its live exports. Every difference is reported by
//! dataset, row and column.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::analytics::compliance::Obligation;
use crate::analytics::methodology::Methodology;
use crate::datasets::snapshot::{CHECKPOINT_FILE, OBLIGATIONS_FILE, Pinned, WriteSink, parse_obligations};
use crate::datasets::versions::{VersionError, Versions, bytes_comparable};
use crate::datasets::{CATALOG, Dataset, Format};
use crate::db::ledger::StoredCheckpoint;
use crate::ledger::checkpoint::Checkpoint;
use crate::ledger::merkle::{self, Frontier};
use crate::ledger::note::NoteVerifier;
use crate::ledger::tiles::{self, TILE_WIDTH, TileKind, TilePath};
use crate::ledger::verify::{RemoteError, fetch};

/// Why the figures could not be checked at all (as opposed to checked and found different).
#[derive(Debug, thiserror::Error)]
pub enum FiguresError {
    /// A download failed.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// The site publishes no snapshot to compare with.
    #[error("{0}")]
    NoSnapshot(String),
    /// What was published is malformed.
    #[error("{0}")]
    Malformed(String),
    /// The snapshot names a format or methodology this build cannot check.
    #[error("{0}")]
    Version(#[from] VersionError),
    /// The entries do not lead to the signed checkpoint: nothing derived from them can be trusted.
    #[error("the entries do not match the signed checkpoint: {0}")]
    Untrusted(String),
    /// Recomputing a dataset failed.
    #[error("recomputing {dataset}: {reason}")]
    Recompute {
        /// The file.
        dataset: String,
        /// Why.
        reason: String,
    },
}

/// What a site published at one checkpoint.
#[derive(Debug, Clone)]
pub struct Published {
    /// The checkpoint's tree size.
    pub size: u64,
    /// The signed checkpoint note.
    pub note: String,
    /// When the checkpoint was signed (the snapshot's `created`), for the compliance report.
    pub signed_at: DateTime<Utc>,
    /// The obligations the compliance report was computed against.
    pub obligations: Vec<Obligation>,
    /// Its format and methodology versions.
    pub versions: Versions,
    /// The methodology its grades are recomputed with: the one it names.
    pub methodology: &'static Methodology,
    /// The datasets it lists (in catalogue order): the ones checked.
    pub datasets: Vec<Dataset>,
    /// Files it lists that are no dataset this build knows (written by a newer one): not checked.
    pub unknown: Vec<String>,
    /// Every listed dataset's CSV, by file name.
    pub files: BTreeMap<String, Vec<u8>>,
}

/// One published cell (or row) that the entries do not give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Where it was published: a file name, or `live /data/...` for the site's current export.
    pub source: String,
    /// The data row (1 = the first row after the header), if the difference is in a row.
    pub row: Option<usize>,
    /// The row's identifying cells (its first columns), to find it again.
    pub row_label: String,
    /// The column, if the difference is in one cell.
    pub column: Option<String>,
    /// What was published.
    pub published: String,
    /// What the entries give.
    pub recomputed: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(row) = self.row {
            write!(f, " row {row}")?;
            if !self.row_label.is_empty() {
                write!(f, " ({})", self.row_label)?;
            }
        }
        if let Some(column) = &self.column {
            write!(f, " column {column}")?;
        }
        write!(f, ": published {:?}, the entries give {:?}", self.published, self.recomputed)
    }
}

/// The tree sizes of the snapshots a site offers, newest first (`/data/snapshots.json`).
pub fn snapshot_sizes(base: &str) -> Result<Vec<u64>, FiguresError> {
    sizes_of(&fetch(base, "data/snapshots.json")?)
}

/// The tree sizes listed in a `/data/snapshots.json` document.
fn sizes_of(bytes: &[u8]) -> Result<Vec<u64>, FiguresError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| FiguresError::Malformed(format!("data/snapshots.json: {e}")))?;
    // A list that is missing or holds something other than sizes is malformed, not "no snapshots".
    let malformed = || FiguresError::Malformed("data/snapshots.json: \"sizes\" is not a list of tree sizes".into());
    let sizes = value["sizes"].as_array().ok_or_else(malformed)?;
    sizes.iter().map(|v| v.as_u64().ok_or_else(malformed)).collect()
}

/// Downloads the snapshot of `size` entries (the newest the site offers if `None`).
pub fn fetch_published(base: &str, size: Option<u64>) -> Result<Published, FiguresError> {
    let size = match size {
        Some(size) => size,
        None => *snapshot_sizes(base)?.first().ok_or_else(|| {
            FiguresError::NoSnapshot(format!("{base} publishes no snapshot under /data/snapshots/ to compare with"))
        })?,
    };
    let dir = format!("data/snapshots/{size}");
    published(&dir, |name| Ok(fetch(base, &format!("{dir}/{name}"))?))
}

/// Reads a snapshot directory as `gatelog export snapshot` (or `serve`) wrote it.
pub fn read_published(dir: &std::path::Path) -> Result<Published, FiguresError> {
    published(&dir.display().to_string(), |name| {
        std::fs::read(dir.join(name))
            .map_err(|e| FiguresError::NoSnapshot(format!("{}: {e}", dir.join(name).display())))
    })
}

/// A snapshot's checkpoint, obligations, signing time, versions and the CSV files of the
/// datasets its SHA256SUMS lists, each read by `read` (from a site or a directory); `place`
/// names where, in errors. A format or methodology this build does not know is refused here,
/// before any entry is fetched.
fn published(place: &str, read: impl Fn(&str) -> Result<Vec<u8>, FiguresError>) -> Result<Published, FiguresError> {
    let malformed = |what: String| FiguresError::Malformed(format!("{place}/{what}"));
    let note = String::from_utf8_lossy(&read(CHECKPOINT_FILE)?).into_owned();
    let size = note
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| malformed(format!("{CHECKPOINT_FILE} has no tree size on its second line")))?;
    let obligations = parse_obligations(&read(OBLIGATIONS_FILE)?)
        .ok_or_else(|| malformed(format!("{OBLIGATIONS_FILE} is malformed")))?;
    let package_file = crate::datasets::datapackage::FILE;
    let package: serde_json::Value =
        serde_json::from_slice(&read(package_file)?).map_err(|e| malformed(format!("{package_file}: {e}")))?;
    let signed_at = package["created"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| malformed(format!("{package_file} has no 'created' time")))?;
    let versions = Versions::of_package(&package)?;
    let methodology = versions.methodology()?;
    let sums = String::from_utf8_lossy(&read("SHA256SUMS")?).into_owned();
    let listed: Vec<&str> = sums.lines().filter_map(|l| l.split_once("  ").map(|(_, name)| name)).collect();
    let datasets: Vec<Dataset> =
        CATALOG.iter().filter(|d| listed.contains(&d.file_name(size, Format::Csv).as_str())).copied().collect();
    let known = |name: &str| {
        [CHECKPOINT_FILE, OBLIGATIONS_FILE, package_file].contains(&name)
            || CATALOG.iter().any(|d| Format::ALL.iter().any(|f| d.file_name(size, *f) == name))
    };
    let unknown = listed.iter().filter(|n| !known(n)).map(|n| (*n).to_owned()).collect();
    let mut files = BTreeMap::new();
    for dataset in &datasets {
        let name = dataset.file_name(size, Format::Csv);
        files.insert(name.clone(), read(&name)?);
    }
    Ok(Published { size, note, signed_at, obligations, versions, methodology, datasets, unknown, files })
}

/// Downloads entries `0..size` from the entry bundles.
pub fn fetch_entries(base: &str, size: u64) -> Result<Vec<Vec<u8>>, FiguresError> {
    let mut entries = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    for tile_index in 0..size.div_ceil(TILE_WIDTH) {
        let width = (size - tile_index * TILE_WIDTH).min(TILE_WIDTH);
        let tile = TilePath {
            kind: TileKind::Entries,
            index: tile_index,
            partial: (width < TILE_WIDTH).then_some(width as u16),
        };
        let bundle = fetch(base, &tile.to_string())?;
        let parts = tiles::split_bundle(&bundle)
            .ok_or_else(|| FiguresError::Untrusted(format!("{tile}: truncated entry bundle")))?;
        if parts.len() as u64 != width {
            return Err(FiguresError::Untrusted(format!("{tile}: {} entries, expected {width}", parts.len())));
        }
        entries.extend(parts.into_iter().map(<[u8]>::to_vec));
    }
    Ok(entries)
}

/// Checks that `entries` are exactly the tree the signed `note` commits to.
pub fn check_entries(entries: &[Vec<u8>], note: &str, keys: &[NoteVerifier]) -> Result<Checkpoint, FiguresError> {
    let body = keys
        .iter()
        .find_map(|key| key.open(note).ok())
        .ok_or_else(|| FiguresError::Untrusted("the snapshot's checkpoint is not signed by a trusted key".into()))?;
    let checkpoint = Checkpoint::parse(body).map_err(|e| FiguresError::Untrusted(e.to_string()))?;
    let mut frontier = Frontier::empty();
    for entry in entries {
        frontier.push(merkle::leaf_hash(entry));
    }
    if frontier.size() != checkpoint.size || frontier.root() != checkpoint.root {
        return Err(FiguresError::Untrusted(format!(
            "{} entries hash to {}, the checkpoint says {} entries with root {}",
            frontier.size(),
            hex::encode(frontier.root()),
            checkpoint.size,
            hex::encode(checkpoint.root)
        )));
    }
    Ok(checkpoint)
}

/// The datasets of a snapshot, re-derived from its entries held in memory with the site's
/// own code: the entries are folded into the projection once ([`Pinned::held`]), then each
/// dataset is rendered when asked for, so only one recomputed file is held at a time.
pub struct Rederived {
    pinned: Pinned,
}

impl Rederived {
    /// Folds `entries` (checked against `checkpoint`, the snapshot's), with the obligations
    /// and signing time the snapshot published.
    pub async fn new(
        entries: Vec<Vec<u8>>,
        checkpoint: &Checkpoint,
        published: &Published,
    ) -> Result<Self, FiguresError> {
        let stored = StoredCheckpoint {
            id: 0,
            size: checkpoint.size,
            root: checkpoint.root,
            note: published.note.clone(),
            signed_at: published.signed_at,
        };
        let pinned = Pinned::held(entries, stored, published.obligations.clone(), published.methodology)
            .await
            .map_err(|e| FiguresError::Recompute { dataset: "every dataset".into(), reason: e.to_string() })?;
        Ok(Self { pinned })
    }

    /// One dataset's CSV, with its file name at the snapshot's size.
    pub async fn csv(&self, dataset: &Dataset) -> Result<(String, Vec<u8>), FiguresError> {
        let name = dataset.file_name(self.pinned.checkpoint.size, Format::Csv);
        let failed = |reason: String| FiguresError::Recompute { dataset: name.clone(), reason };
        let mut sink = WriteSink::new(dataset, Format::Csv, Vec::new()).map_err(|e| failed(e.to_string()))?;
        self.pinned.render(dataset, &mut sink).await.map_err(|e| failed(e.to_string()))?;
        let bytes = sink.finish().map_err(|e| failed(e.to_string()))?;
        Ok((name, bytes))
    }
}

/// The CSV of every dataset the snapshot lists, re-derived from `entries` (see
/// [`Rederived`]), by file name.
pub async fn recompute(
    entries: Vec<Vec<u8>>,
    checkpoint: &Checkpoint,
    published: &Published,
) -> Result<BTreeMap<String, Vec<u8>>, FiguresError> {
    let rederived = Rederived::new(entries, checkpoint, published).await?;
    let mut out = BTreeMap::new();
    for dataset in &published.datasets {
        let (name, bytes) = rederived.csv(dataset).await?;
        out.insert(name, bytes);
    }
    Ok(out)
}

/// How many leading cells name a row in reports.
const LABEL_CELLS: usize = 3;
/// Most differences listed per file; the rest are counted.
const MAX_PER_FILE: usize = 50;

/// The rows of a CSV file (a UTF-8 byte-order mark skipped), read one at a time.
fn csv_rows(bytes: &[u8]) -> csv::StringRecordsIntoIter<&[u8]> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes).into_records()
}

/// How a published CSV's columns are matched with the recomputed ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    /// The same columns in the same order (a snapshot of the current format).
    Same,
    /// Each published column by name; columns added by a later format are not compared.
    Published,
}

impl Columns {
    /// How a CSV of a snapshot of `versions` is compared.
    pub fn of(versions: Versions) -> Self {
        if bytes_comparable(versions.format, Format::Csv) { Self::Same } else { Self::Published }
    }
}

/// Compares one published CSV with the recomputed one, cell by cell. Both are read a row
/// at a time (a million-row file is never held parsed); a file that stops being CSV is one
/// difference, at the row where it does.
pub fn diff_csv(source: &str, published: &[u8], recomputed: &[u8]) -> Vec<Difference> {
    diff_csv_columns(source, published, recomputed, Columns::Same)
}

/// [`diff_csv`], the columns matched as `columns` says.
pub fn diff_csv_columns(source: &str, published: &[u8], recomputed: &[u8], columns: Columns) -> Vec<Difference> {
    let difference = |row, label: String, column, published: String, recomputed: String| Difference {
        source: source.to_owned(),
        row,
        row_label: label,
        column,
        published,
        recomputed,
    };
    let joined = |row: &csv::StringRecord| row.iter().collect::<Vec<_>>().join(",");
    let label_of = |row: &csv::StringRecord| row.iter().take(LABEL_CELLS).collect::<Vec<_>>().join(", ");
    let (mut theirs, mut ours) = (csv_rows(published), csv_rows(recomputed));
    let mut out = Vec::new();
    let mut hidden = 0usize;
    let mut header = csv::StringRecord::new();
    // Per published column, its recomputed column.
    let mut at: Vec<usize> = Vec::new();
    for i in 0.. {
        let (t, o) = match (theirs.next().transpose(), ours.next().transpose()) {
            (Err(e), _) => {
                out.push(difference((i > 0).then_some(i), String::new(), None, format!("not CSV: {e}"), String::new()));
                break;
            }
            (_, Err(e)) => {
                out.push(difference((i > 0).then_some(i), String::new(), None, String::new(), format!("not CSV: {e}")));
                break;
            }
            (Ok(None), Ok(None)) => break,
            (Ok(t), Ok(o)) => (t, o),
        };
        if i == 0 {
            // The header: if it differs, no column can be compared.
            let by_name = t.as_ref().zip(o.as_ref()).and_then(|(t, o)| {
                t.iter().map(|name| o.iter().position(|c| c == name)).collect::<Option<Vec<usize>>>()
            });
            if columns == Columns::Published
                && let (Some(positions), Some(t)) = (by_name, &t)
            {
                at = positions;
                header = t.clone();
                continue;
            }
            if t.as_ref().map(|t| t.iter().collect::<Vec<_>>()) != o.as_ref().map(|o| o.iter().collect::<Vec<_>>()) {
                out.push(difference(
                    None,
                    String::new(),
                    Some("(header)".into()),
                    t.as_ref().map(joined).unwrap_or_default(),
                    o.as_ref().map(joined).unwrap_or_default(),
                ));
                return out;
            }
            header = o.unwrap_or_default();
            at = (0..header.len()).collect();
            continue;
        }
        let found = match (t, o) {
            (Some(t), Some(o)) if t.iter().eq(o.iter()) => Vec::new(),
            (Some(t), Some(o)) => header
                .iter()
                .enumerate()
                .filter(|(c, _)| t.get(*c) != o.get(at[*c]))
                .map(|(c, name)| {
                    let (theirs, ours) = (t.get(c).unwrap_or_default(), o.get(at[c]).unwrap_or_default());
                    difference(Some(i), label_of(&o), Some(name.to_owned()), theirs.to_owned(), ours.to_owned())
                })
                .collect(),
            (Some(t), None) => vec![difference(Some(i), label_of(&t), None, joined(&t), "(no such row)".into())],
            (None, Some(o)) => vec![difference(Some(i), label_of(&o), None, "(no such row)".into(), joined(&o))],
            (None, None) => Vec::new(),
        };
        for d in found {
            if out.len() < MAX_PER_FILE {
                out.push(d);
            } else {
                hidden += 1;
            }
        }
    }
    if hidden > 0 {
        out.push(difference(None, String::new(), None, format!("{hidden} more differences"), String::new()));
    }
    out
}

/// Compares one published file (`None`: not published) with its recomputation.
pub fn compare_file(name: &str, published: Option<&[u8]>, recomputed: &[u8], columns: Columns) -> Vec<Difference> {
    match published {
        Some(theirs) => diff_csv_columns(name, theirs, recomputed, columns),
        None => vec![Difference {
            source: name.to_owned(),
            row: None,
            row_label: String::new(),
            column: None,
            published: "(not published)".into(),
            recomputed: format!("{} bytes", recomputed.len()),
        }],
    }
}

/// Compares every published file with its recomputation.
pub fn compare(published: &Published, recomputed: &BTreeMap<String, Vec<u8>>) -> Vec<Difference> {
    recomputed
        .iter()
        .flat_map(|(name, ours)| {
            compare_file(name, published.files.get(name).map(Vec::as_slice), ours, Columns::of(published.versions))
        })
        .collect()
}

/// Whether the site is still at the snapshot's checkpoint, so that its live exports are
/// of the same entries.
pub fn live_at(base: &str, size: u64) -> Result<bool, FiguresError> {
    let current = fetch(base, "checkpoint")?;
    Ok(String::from_utf8_lossy(&current).lines().nth(1).and_then(|l| l.parse::<u64>().ok()) == Some(size))
}

/// The site's live CSV export of `dataset` (`/data/{name}.csv`).
pub fn fetch_live_file(base: &str, dataset: &Dataset) -> Result<Vec<u8>, FiguresError> {
    Ok(fetch(base, &format!("data/{}.csv", dataset.name))?)
}

/// The site's live CSV exports, if the site is still at the snapshot's checkpoint
/// (each export names its tree size in its file name); `None` if it has moved on.
pub fn fetch_live(base: &str, published: &Published) -> Result<Option<BTreeMap<String, Vec<u8>>>, FiguresError> {
    if !live_at(base, published.size)? {
        return Ok(None);
    }
    let mut out = BTreeMap::new();
    for dataset in &published.datasets {
        out.insert(dataset.file_name(published.size, Format::Csv), fetch_live_file(base, dataset)?);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot list that is not a list of sizes is an error, not "no snapshots" (issue 20).
    #[test]
    fn a_malformed_snapshot_list_is_an_error() {
        assert_eq!(sizes_of(br#"{"sizes": [30, 20]}"#).expect("sizes"), [30, 20]);
        assert_eq!(sizes_of(br#"{"sizes": []}"#).expect("none"), Vec::<u64>::new());
        for bad in [&br#"{}"#[..], br#"{"sizes": "30"}"#, br#"{"sizes": [30, "20"]}"#] {
            assert!(matches!(sizes_of(bad), Err(FiguresError::Malformed(_))), "{}", String::from_utf8_lossy(bad));
        }
    }
    use crate::testing::TestApp;

    /// Serves `app` on a loopback port for the rest of the test.
    async fn serve(app: &TestApp) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let router = app.router.clone();
        tokio::spawn(async move { axum::serve(listener, router).await });
        url
    }

    async fn rederive(url: &str, keys: Vec<NoteVerifier>) -> (Published, BTreeMap<String, Vec<u8>>) {
        let base = url.to_owned();
        let (published, entries) = tokio::task::spawn_blocking(move || {
            let published = fetch_published(&base, None).expect("published snapshot");
            let entries = fetch_entries(&base, published.size).expect("entries");
            (published, entries)
        })
        .await
        .expect("join");
        let checkpoint = check_entries(&entries, &published.note, &keys).expect("entries match the checkpoint");
        let recomputed = recompute(entries, &checkpoint, &published).await.expect("recompute");
        (published, recomputed)
    }

    /// The demo world (amendments included) and one amendment that no longer decodes: the
    /// verifier, holding only the fetched entries (no database), gives every published cell,
    /// and names the one the operator changed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_published_figure_is_re_derived_and_a_changed_one_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = TestApp::with_demo().await.with_snapshots_dir(dir.path());
        let unreadable = crate::datasets::testing::amend_unreadably(&app).await;
        let size = app.tree_size().await;
        crate::datasets::snapshot::write(&app.db.pool, &dir.path().join(size.to_string()), Some(size))
            .await
            .expect("snapshot");
        let url = serve(&app).await;
        let keys = vec![app.state.ledger.verifier()];

        // Untouched: every cell of every dataset, snapshot and live, comes back the same.
        let (published, recomputed) = rederive(&url, keys.clone()).await;
        assert_eq!(recomputed.len(), CATALOG.len());
        assert!(recomputed.values().all(|csv| csv.len() > 100), "every dataset has rows");
        assert_eq!(compare(&published, &recomputed), Vec::new());
        let queue_times = crate::datasets::find("queue_times").expect("dataset").file_name(size, Format::Csv);
        let rows = csv_rows(&recomputed[&queue_times]).collect::<Result<Vec<_>, _>>().expect("csv");
        assert!(rows.iter().all(|row| row[0] != unreadable.to_string()), "the unreadable amendment is left out");
        let base = url.clone();
        let snapshot = published.clone();
        let live = tokio::task::spawn_blocking(move || fetch_live(&base, &snapshot))
            .await
            .expect("join")
            .expect("live exports")
            .expect("the site is still at the snapshot's size");
        assert_eq!(compare(&Published { files: live, ..published.clone() }, &recomputed), Vec::new());

        // The operator changes one grade in the published snapshot (and fixes up nothing
        // else: even with SHA256SUMS rewritten, the entries give the true figure).
        let name = crate::datasets::find("grades").expect("grades").file_name(size, Format::Csv);
        let path = dir.path().join(size.to_string()).join(&name);
        let text = std::fs::read_to_string(&path).expect("read");
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let header: Vec<String> = lines[0].split(',').map(str::to_owned).collect();
        let column = header.iter().position(|h| h == "score").expect("a score column");
        let mut cells: Vec<String> = lines[2].split(',').map(str::to_owned).collect();
        let original = cells[column].clone();
        cells[column] = "99.9".into();
        lines[2] = cells.join(",");
        std::fs::write(&path, lines.join("\n") + "\n").expect("tamper");

        let (published, recomputed) = rederive(&url, keys).await;
        let differences = compare(&published, &recomputed);
        assert_eq!(differences.len(), 1, "{differences:?}");
        let difference = &differences[0];
        assert_eq!(difference.source, name);
        assert_eq!(difference.row, Some(2));
        assert_eq!(difference.column.as_deref(), Some("score"));
        assert_eq!((difference.published.as_str(), difference.recomputed.as_str()), ("99.9", original.as_str()));
        let line = difference.to_string();
        assert!(line.contains("row 2") && line.contains("column score"), "{line}");
    }

    /// Entries that no longer decode are re-derived by the same policy as the site's:
    /// an unreadable amendment hides the version it amends, the rest is left out, and
    /// every figure still matches.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unreadable_entries_re_derive_to_the_same_figures() {
        use crate::ledger::entry::PendingEntry;
        let dir = tempfile::tempdir().expect("tempdir");
        let app = TestApp::new().await.with_snapshots_dir(dir.path());
        let token = app.provider_token("old-cloud").await;
        let examples = serde_json::Value::Array(crate::records::kinds::examples()).to_string();
        app.post("/api/v1/records", "application/json", examples, Some(&token), &[]).await;
        let queue = crate::records::Record::parse(crate::records::kinds::examples()[0].clone()).expect("valid");
        let mut out_of_domain = queue.to_json();
        out_of_domain["jobs"] = serde_json::json!(9_007_199_254_740_991_u64);
        let provider = crate::records::Slug::parse("old-cloud").expect("slug");
        let raw = |kind: &str, key: String, record: serde_json::Value, supersedes| PendingEntry {
            provider: provider.clone(),
            kind: kind.into(),
            natural_key: key,
            record,
            supersedes,
            signature: None,
        };
        let bad = [
            raw("queue_time", queue.natural_key(), out_of_domain, Some(0)),
            raw("capacity", "x".into(), serde_json::json!({"total": 1}), None),
            raw("energy", "y".into(), serde_json::json!({"kwh": 1}), None),
        ];
        app.ledger().append(&app.db.pool, &bad).await.expect("append");
        let size = app.tree_size().await;
        crate::datasets::snapshot::write(&app.db.pool, &dir.path().join(size.to_string()), Some(size))
            .await
            .expect("snapshot");
        let url = serve(&app).await;
        let (published, recomputed) = rederive(&url, vec![app.state.ledger.verifier()]).await;
        assert_eq!(compare(&published, &recomputed), Vec::new());
    }

    /// Grades are re-derived with the methodology the snapshot names: a snapshot naming
    /// version 1 gets version 1 grades, and the same entries re-derived under another version
    /// (hypothetical here: only version 1 is published) give that version's grades, which
    /// then differ from the published ones, grades alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn grades_are_re_derived_with_the_methodology_the_snapshot_names() {
        use crate::analytics::grades::Component;
        static LATER: Methodology = Methodology {
            version: 2,
            introduced: "2027-01-01",
            weights: &[(Component::LockupConcentration, 60.0), (Component::Completeness, 40.0)],
            newcomer_categories: &["student"],
            full_set_aside: 0.10,
            letters: &[(90.0, 'A')],
            what_changed: "test",
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let app = TestApp::new().await;
        let token = app.provider_token("old-cloud").await;
        let examples = serde_json::Value::Array(crate::records::kinds::examples()).to_string();
        app.post("/api/v1/records", "application/json", examples, Some(&token), &[]).await;
        let size = app.tree_size().await;
        crate::datasets::snapshot::write(&app.db.pool, dir.path(), Some(size)).await.expect("snapshot");
        let published = read_published(dir.path()).expect("published");
        assert_eq!((published.versions, published.methodology.version), (Versions::CURRENT, 1));
        let entries = {
            let mut conn = app.db.pool.acquire().await.expect("conn");
            crate::db::ledger::entry_bytes_range(&mut conn, 0, size).await.expect("entries")
        };
        let checkpoint = check_entries(&entries, &published.note, &[app.state.ledger.verifier()]).expect("checked");
        let recomputed = recompute(entries.clone(), &checkpoint, &published).await.expect("recompute");
        assert_eq!(compare(&published, &recomputed), Vec::new());

        let later = Published { methodology: &LATER, ..published.clone() };
        let recomputed = recompute(entries, &checkpoint, &later).await.expect("recompute");
        let grades = crate::datasets::find("grades").expect("grades").file_name(size, Format::Csv);
        let rows = csv_rows(&recomputed[&grades]).collect::<Result<Vec<_>, _>>().expect("csv");
        let header: Vec<&str> = rows[0].iter().collect();
        let at = |name: &str| header.iter().position(|h| *h == name).expect("column");
        let components: Vec<(&str, &str, &str)> =
            rows[1..].iter().map(|r| (&r[at("component")], &r[at("weight")], &r[at("methodology")])).collect();
        assert_eq!(components, [("Lock-up concentration", "60", "2"), ("Reporting completeness", "40", "2")]);
        let differences = compare(&published, &recomputed);
        assert!(!differences.is_empty());
        assert!(differences.iter().all(|d| d.source == grades), "{differences:?}");
    }

    #[tokio::test]
    async fn entries_that_do_not_match_the_checkpoint_are_refused() {
        let app = TestApp::new().await;
        let ledger = app.ledger();
        let appended = ledger.append(&app.db.pool, &crate::testing::sample_batch(0, 3)).await.expect("append");
        let mut conn = app.db.pool.acquire().await.expect("conn");
        let mut entries = crate::db::ledger::entry_bytes_range(&mut conn, 0, 3).await.expect("entries");
        let keys = vec![ledger.verifier()];
        assert!(check_entries(&entries, &appended.checkpoint.note, &keys).is_ok());
        entries[1][5] ^= 1;
        let error = check_entries(&entries, &appended.checkpoint.note, &keys).expect_err("changed entry");
        assert!(error.to_string().contains("do not match the signed checkpoint"), "{error}");
        let stranger = crate::ledger::note::NoteSigner::generate("x.invalid/log").expect("key").verifier();
        assert!(check_entries(&entries, &appended.checkpoint.note, &[stranger]).is_err());
    }

    #[test]
    fn an_old_format_csv_is_compared_by_the_columns_it_has() {
        let old = b"provider,score\r\nacme,70\r\n";
        let ours = b"provider,score,methodology\r\nacme,70,1\r\n";
        assert_eq!(diff_csv("x", old, ours)[0].column.as_deref(), Some("(header)"), "same format: same columns");
        assert!(diff_csv_columns("x", old, ours, Columns::Published).is_empty());
        let changed = diff_csv_columns("x", b"provider,score\r\nacme,71\r\n", ours, Columns::Published);
        assert_eq!(
            (changed[0].row, changed[0].column.as_deref(), changed[0].published.as_str()),
            (Some(1), Some("score"), "71")
        );
        let unknown = diff_csv_columns("x", b"provider,rank\r\nacme,1\r\n", ours, Columns::Published);
        assert_eq!(unknown[0].column.as_deref(), Some("(header)"), "a published column the ledger does not give");
        assert_eq!(Columns::of(Versions { format: 1, methodology: 1 }), Columns::Published);
        assert_eq!(Columns::of(Versions::CURRENT), Columns::Same);
    }

    #[test]
    fn csv_differences_name_rows_columns_and_missing_rows() {
        let published = b"provider,month,score\r\nacme,2026-01,70\r\nbeta,2026-01,60\r\n";
        let ours = b"provider,month,score\r\nacme,2026-01,71\r\nbeta,2026-01,60\r\ngamma,2026-01,50\r\n";
        let found = diff_csv("grades_9.csv", published, ours);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!((found[0].row, found[0].column.as_deref()), (Some(1), Some("score")));
        assert_eq!(found[0].row_label, "acme, 2026-01, 71");
        assert_eq!((found[1].row, found[1].published.as_str()), (Some(3), "(no such row)"));
        assert!(diff_csv("x", b"a,b\r\n", b"a,c\r\n")[0].column.as_deref() == Some("(header)"));
        assert!(diff_csv("x", published, published).is_empty());
    }
}
